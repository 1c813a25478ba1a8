"""The README's promises: two commands, a current example, runnable API lines."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def command_after(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```sh\n(.+)\n```", README)
    assert match, f"README.md has no {marker} block"
    return match.group(1)


def test_two_commands_install_and_run():
    assert command_after("run-command").endswith("pip install . && derive --classes 3")
    assert command_after("test-command").endswith(
        "pip install -c constraints.txt -e '.[test]' && python -m pytest"
    )


def test_ci_runs_the_readme_commands():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_command test-command" in ci and "readme_command run-command" in ci


def test_example_output_is_current():
    process = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "readme_example.py"), "--check"],
        capture_output=True, text=True,
    )
    assert process.returncode == 0, process.stderr


def test_library_snippet_runs():
    (snippet,) = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # our own README, not user input
