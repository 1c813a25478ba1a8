"""The ``derive-check`` pre-commit hook (``.pre-commit-hooks.yaml``): its fields, which files it
is given by default, its entry on each kind of file, and, where ``pre-commit`` is installed, the
hook itself through ``pre-commit try-repo``.

The try-repo test is skipped where ``pre-commit`` is not on PATH (CI does not install it): it
builds the hook's own environment, pip-installing derive and its dependencies (network, about
15 s the first time)."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from test_check_dir import PROVEN, README, REFUTED
from test_cli import call

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / ".pre-commit-hooks.yaml"


def hooks() -> list[dict[str, str]]:
    """The hooks of ``.pre-commit-hooks.yaml``, read as the flat YAML it is: a list of mappings
    of scalars (``[a, b]`` flow lists kept as text); comments skipped."""
    found: list[dict[str, str]] = []
    for line in HOOKS.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = re.fullmatch(r"(- |  )([a-z_]+): (.+)", line)
        assert item, f"not a flat `key: value` line of a list item: {line!r}"
        if item.group(1) == "- ":
            found.append({})
        found[-1][item.group(2)] = item.group(3)
    return found


def test_the_hook_file_declares_derive_check():
    (hook,) = hooks()
    assert hook["id"] == "derive-check" and hook["language"] == "python"
    assert hook["entry"] == "derive check" and hook["types"] == "[markdown]"
    assert set(hook) == {"id", "name", "description", "entry", "language", "types", "files"}


@pytest.mark.parametrize("path, given", [
    ("derivations/softmax.md", True),
    ("notes/derivation/softmax.md", True),
    ("derivations/week 2/softmax.md", True),
    ("README.md", False),  # a repository's other Markdown is not in derive's format
    ("derivations.md", False),
    ("notes/softmax.md", False),
    ("derivations/softmax.txt", False),
    ("myderivations/softmax.md", False),
])
def test_by_default_the_hook_is_given_markdown_in_derivation_folders(path, given):
    (hook,) = hooks()
    assert bool(re.search(hook["files"], path)) is given  # pre-commit matches with re.search


@pytest.mark.parametrize("texts, status", [
    ((PROVEN,), 0),
    ((REFUTED,), 1),
    ((README,), 0),  # no display math: skipped, fails no commit
    ((PROVEN, README), 0),
    ((PROVEN, REFUTED, README), 1),
])
def test_the_entry_passes_proven_and_non_derivation_files_and_fails_a_refuted_one(tmp_path, texts, status):
    (hook,) = hooks()
    names = []
    for number, text in enumerate(texts):
        (tmp_path / f"{number}.md").write_text(text)
        names.append(str(tmp_path / f"{number}.md"))
    command = shlex.split(hook["entry"])
    assert command[0] == "derive"
    assert call([*command[1:], *names])[0] == status


def _committed_copy(source: Path, target: Path, ignore=None) -> Path:
    """``source`` copied to a new git repository at ``target``, everything committed."""
    shutil.copytree(source, target, ignore=ignore)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"]):
        subprocess.run([*git, *command], cwd=target, check=True, capture_output=True)
    return target


def _not_installed(folder: str, names: list[str]) -> set[str]:
    """What the copy of this tree leaves out: caches anywhere, and at the top what pip does
    not install (``derive/report/docs`` is kept: only the top ``docs`` is left out)."""
    top = {".git", ".venv", "docs", "tests", "benchmarks", "build", "dist"} if Path(folder) == ROOT else set()
    return {name for name in names if name in top or name == "__pycache__" or name.endswith(".egg-info")}


@pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None,
                    reason="pre-commit is not installed (pip install pre-commit)")
def test_pre_commit_try_repo_runs_the_hook(tmp_path):
    # try-repo installs the hook from a git repository's committed files: a copy of this tree
    repo = _committed_copy(ROOT, tmp_path / "derive", _not_installed)
    user = tmp_path / "user"
    (user / "derivations").mkdir(parents=True)
    (user / "README.md").write_text("# A project\n\nIt costs $5; `$$` too.\n")
    (user / "derivations" / "README.md").write_text(README)
    (user / "derivations" / "cube.md").write_text(PROVEN)
    _committed_copy(user, tmp_path / "user-repo")
    run = ["pre-commit", "try-repo", str(repo), "derive-check", "--all-files"]
    passed = subprocess.run(run, cwd=tmp_path / "user-repo", capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PRE_COMMIT_COLOR": "never"})
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "derive check (Markdown derivations)" in passed.stdout and "Passed" in passed.stdout

    (tmp_path / "user-repo" / "derivations" / "wrong.md").write_text(REFUTED)
    subprocess.run(["git", "add", "-A"], cwd=tmp_path / "user-repo", check=True)
    failed = subprocess.run(run, cwd=tmp_path / "user-repo", capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PRE_COMMIT_COLOR": "never"})
    assert failed.returncode == 1 and "Failed" in failed.stdout
    assert "derivations/wrong.md:5:" in failed.stdout and "(a factor of 1/2 is missing)" in failed.stdout
    assert "derivations/README.md: skipped: no derivation (no display equations)" in failed.stdout
    assert "\nREADME.md" not in failed.stdout  # the top README is not given to the hook
