"""Regenerate (or, with --check, verify) the README's example outputs.

Each block between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers in README.md is the
real output of its command (:data:`EXAMPLES`), the text of an example file the commands judge
(:data:`SOURCES`), or a part of a real output that a block names (:data:`EXCERPTS`: the end of a
pytest run, a SARIF log's result, the files ``derive docs`` writes); CI runs this script with
``--check`` and fails when the README is stale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: Marker name -> the command whose output the block shows (run from the repository root).
EXAMPLES = {
    "example": ["derive", "--classes", "3"],
    "check-example": ["derive", "check", "examples/softmax-homework.md"],
    "check-impl-example": ["derive", "check-impl", "examples/impl/softmax_mistakes.py:missing_mean"],
    "check-impl-lm-example": ["derive", "check-impl", "examples/llm/plain.py:cross_entropy",
                              "--loss", "lm-cross-entropy", "--reduction", "none"],
    "check-dir-example": ["derive", "check", "examples/derivations"],
}
#: Marker name -> the example file (from the repository root) whose code the block shows.
SOURCES = {"check-impl-lm-source": "examples/llm/plain.py"}
NOTES = "examples/derivations"


def _derive(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout


def pytest_summary() -> str:
    """The end of ``pytest --derive examples/derivations``: its short summary, without the time."""
    output = subprocess.run(
        [sys.executable, "-m", "pytest", "--derive", NOTES, "-p", "no:cacheprovider", "-rfs"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "1"},  # no line cut
    ).stdout
    summary = output[output.index("= short test summary info ="):]
    summary = re.sub(r" in [0-9.]+s( \([0-9:]+\))?", "", summary.split("\n", 1)[1])
    return f"$ pytest --derive {NOTES}\n...\n{summary}"


def sarif_result() -> str:
    """The result of the wrong step in ``derive check examples/derivations --format sarif``."""
    log = json.loads(_derive("check", NOTES, "--format", "sarif"))
    result = json.dumps(log["runs"][0]["results"][0], indent=2, ensure_ascii=False)
    return f"$ derive check {NOTES} --format sarif   # its one result:\n{result}\n"


def published_files() -> str:
    """What ``derive docs examples/derivations --out site`` writes (run in a scratch folder)."""
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copytree(ROOT / NOTES, Path(scratch) / NOTES)
        written = _derive("docs", NOTES, "--out", "site", cwd=Path(scratch))
    return f"$ derive docs {NOTES} --out site\n{written}"


#: Marker name -> the function that writes the block's console text.
EXCERPTS = {"pytest-example": pytest_summary, "sarif-example": sarif_result,
            "docs-notes-example": published_files}


def generated_block(name: str) -> str:
    if name in SOURCES:
        code = (ROOT / SOURCES[name]).read_text()
        # ```py: the README's one ```python block is the library snippet tests/test_readme.py runs
        return f"<!-- {name}:start -->\n```py\n{code}```\n<!-- {name}:end -->"
    if name in EXCERPTS:
        return f"<!-- {name}:start -->\n```console\n{EXCERPTS[name]()}```\n<!-- {name}:end -->"
    command = EXAMPLES[name]
    output = subprocess.run(
        [sys.executable, "-m", "derive", *command[1:]], capture_output=True, text=True, cwd=ROOT
    ).stdout
    return f"<!-- {name}:start -->\n```console\n$ {' '.join(command)}\n{output}```\n<!-- {name}:end -->"


def regenerated(text: str) -> str:
    for name in [*EXAMPLES, *SOURCES, *EXCERPTS]:
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + generated_block(name) + tail
    return text


def main(argv: list[str]) -> int:
    text = README.read_text()
    fresh = regenerated(text)
    if "--check" in argv:
        if fresh != text:
            print("README.md examples are stale: run python tools/readme_example.py", file=sys.stderr)
            return 1
        print("README.md examples are up to date")
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
