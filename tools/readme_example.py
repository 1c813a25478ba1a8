"""Regenerate (or, with --check, verify) the README's example outputs.

Each block between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers in README.md is the
real output of its command (:data:`EXAMPLES`), or the text of an example file the commands
judge (:data:`SOURCES`); CI runs this script with ``--check`` and fails when the README is stale.
"""

from __future__ import annotations

import subprocess
import sys
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
}
#: Marker name -> the example file (from the repository root) whose code the block shows.
SOURCES = {"check-impl-lm-source": "examples/llm/plain.py"}


def generated_block(name: str) -> str:
    if name in SOURCES:
        code = (ROOT / SOURCES[name]).read_text()
        # ```py: the README's one ```python block is the library snippet tests/test_readme.py runs
        return f"<!-- {name}:start -->\n```py\n{code}```\n<!-- {name}:end -->"
    command = EXAMPLES[name]
    output = subprocess.run(
        [sys.executable, "-m", "derive", *command[1:]], capture_output=True, text=True, cwd=ROOT
    ).stdout
    return f"<!-- {name}:start -->\n```console\n$ {' '.join(command)}\n{output}```\n<!-- {name}:end -->"


def regenerated(text: str) -> str:
    for name in [*EXAMPLES, *SOURCES]:
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
