"""Regenerate (or, with --check, verify) the README's example output.

The block between the ``example`` markers in README.md is the real output of
``derive --classes 3``; CI runs this script with ``--check`` and fails when
the README is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
COMMAND = ["derive", "--classes", "3"]
START, END = "<!-- example:start -->", "<!-- example:end -->"


def generated_block() -> str:
    output = subprocess.run(
        [sys.executable, "-m", "derive", *COMMAND[1:]], capture_output=True, text=True, check=True
    ).stdout
    return f"{START}\n```console\n$ {' '.join(COMMAND)}\n{output}```\n{END}"


def main(argv: list[str]) -> int:
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    fresh = head + generated_block() + tail
    if "--check" in argv:
        if fresh != text:
            print("README.md example is stale: run python tools/readme_example.py", file=sys.stderr)
            return 1
        print("README.md example is up to date")
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
