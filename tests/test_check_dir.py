"""``derive check DIR``: the documents under a folder, one line each and a total, each outcome
(proven, refuted, unproven, unreadable, skipped), the exit status's precedence, JSON and
progress."""

import io
import json
import os
import re
import sys
from pathlib import Path

import pytest

from derive.cli import build_check_parser, run
from derive.document.collect import NoDocumentsError, check_one, documents_under
from test_cli import call

PROVEN = r"""Let $a \in \mathbb{R}$.

$$ f = a^3 $$

$$ \frac{\partial f}{\partial a} = 3 a^2 $$
"""
REFUTED = PROVEN.replace("3 a^2", "6 a^2")
UNPROVEN = PROVEN.replace(r"\frac{\partial f}{\partial a} = 3 a^2", r"f \leq a^3 + 1")
NO_STEPS = PROVEN.split("$$ \\frac")[0]
UNREADABLE = PROVEN.replace(r"\frac{\partial f}", r"\frac{\partial f")
README = "# Notes\n\nMy derivations; the cheap one costs $5 and `$$` is code.\n"


@pytest.fixture
def notes(tmp_path, monkeypatch):
    """A folder of each kind of document, and the working directory above it."""
    folder = tmp_path / "notes"
    (folder / "sub").mkdir(parents=True)
    for name, text in (("README.md", README), ("a-proven.md", PROVEN), ("b-refuted.md", REFUTED),
                       ("sub/c-unproven.md", UNPROVEN), ("sub/d-unreadable.md", UNREADABLE)):
        (folder / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return folder


def test_a_folder_is_searched_recursively_sorted_skipping_hidden_and_tool_folders(tmp_path):
    for folder in (".git", ".venv", "node_modules", "__pycache__", "env", "lib/site-packages", "b", "a"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "x.md").write_text(PROVEN)
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")  # a virtual environment, any name
    (tmp_path / "b" / "notes.txt").write_text(PROVEN)
    (tmp_path / ".hidden.md").write_text(PROVEN)
    (tmp_path / "top.md").write_text(PROVEN)
    found = [os.path.relpath(path, tmp_path) for path in documents_under([str(tmp_path)])]
    assert found == [os.path.join("a", "x.md"), os.path.join("b", "x.md"), "top.md"]  # by path


def test_a_link_to_a_folder_is_not_followed_so_a_cycle_ends(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text(PROVEN)
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a", target_is_directory=True)
    assert documents_under([str(tmp_path)]) == [str(tmp_path / "a" / "x.md")]


def test_files_and_folders_mix_in_order_each_document_once(notes):
    found = documents_under(["notes/b-refuted.md", "notes/sub", "-", "notes/b-refuted.md", "notes/sub"])
    assert found == ["notes/b-refuted.md", "notes/sub/c-unproven.md", "notes/sub/d-unreadable.md", "-"]


def test_a_file_is_taken_as_given_whatever_its_suffix(tmp_path):
    (tmp_path / "notes.txt").write_text(PROVEN)
    assert documents_under([str(tmp_path / "notes.txt")]) == [str(tmp_path / "notes.txt")]


def test_a_folder_without_documents_is_bad_input(tmp_path):
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    (tmp_path / "empty" / ".git" / "x.md").write_text(PROVEN)
    with pytest.raises(NoDocumentsError, match="has no Markdown document"):
        documents_under([str(tmp_path / "empty")])
    status, out, err = call(["check", str(tmp_path / "empty")])
    assert (status, out) == (2, "") and len(err.splitlines()) == 1
    assert f"{tmp_path / 'empty'}: is a directory, not a document, and has no Markdown document (*.md) under it" in err


def test_a_folder_lists_every_outcome_and_the_total_and_exits_2_for_an_unreadable_one(notes):
    status, out, err = call(["check", "notes"])
    assert (status, err) == (2, "")
    lines = out.splitlines()
    column = REFUTED.splitlines()[4].index("=") + 1
    assert lines[0] == "notes/README.md: skipped: no derivation (no display equations)"
    assert lines[1] == "notes/a-proven.md: proven (1 step)"
    assert lines[2].startswith(rf"notes/b-refuted.md:5:{column}: refuted: step 1 of 1, "
                               r"\frac{\partial f}{\partial a} = 6 a^{2}: where a = ")
    assert "true value " in lines[2] and ", claimed " in lines[2]
    assert lines[2].endswith("(a factor of 1/2 is missing)")  # the named mistake
    assert lines[3] == "notes/sub/c-unproven.md:5:6: unproven: step 1 of 1, f \\le a^{3} + 1: only equalities are checked"
    assert lines[4].startswith("notes/sub/d-unreadable.md:5:") and ": unreadable: " in lines[4]
    assert lines[5] == "5 documents: 1 proven, 1 refuted, 1 unproven, 1 unreadable, 1 skipped"
    assert len(lines) == 6


@pytest.mark.parametrize("names, status", [
    (["README.md", "a-proven.md"], 0),  # a skipped file fails nothing
    (["a-proven.md", "b-refuted.md"], 1),
    (["a-proven.md", "sub/c-unproven.md"], 1),
    (["b-refuted.md", "sub/d-unreadable.md"], 2),  # 2 unreadable > 1 not proven > 0
])
def test_the_exit_status_is_the_highest_that_applies(notes, names, status):
    assert call(["check", *(f"notes/{name}" for name in names)])[0] == status


def test_a_document_with_display_math_but_no_step_is_unproven_not_skipped(tmp_path):
    (tmp_path / "definitions.md").write_text(NO_STEPS)
    (tmp_path / "other.md").write_text(PROVEN)
    status, out, _ = call(["check", str(tmp_path)])
    assert status == 1 and f"{tmp_path / 'definitions.md'}: unproven: no steps" in out


def test_one_file_without_display_math_is_skipped_with_exit_0(notes):
    status, out, err = call(["check", "notes/README.md"])
    assert (status, out, err) == (0, "notes/README.md: skipped: no derivation (no display equations)\n", "")
    status, out, _ = call(["check", "notes/README.md", "--format", "json"])
    assert status == 0 and json.loads(out) == {"schema": "derive.check/1", "path": "notes/README.md",
                                               "status": "skipped", "reason": "no derivation (no display equations)"}


INLINE_CLAIM = "Let $a \\in \\mathbb{R}$ and $f = a^3$, so $\\frac{\\partial f}{\\partial a} = 6 a^2$.\n"


def test_a_claim_in_inline_math_of_a_named_file_is_an_error_but_skipped_in_a_folder(tmp_path):
    """A file named one by one is read in full: derive checks claims only in display math, and
    says so where a claim stands in inline math; a folder's notes without display math are
    skipped (a README's prose may well hold an equation)."""
    (tmp_path / "inline.md").write_text(INLINE_CLAIM)
    status, _, err = call(["check", str(tmp_path / "inline.md")])
    assert status == 2 and "checks a claim only in display math" in err
    (tmp_path / "proven.md").write_text(PROVEN)
    status, out, _ = call(["check", str(tmp_path / "inline.md"), str(tmp_path / "proven.md")])
    assert status == 2 and "inline.md:1:" in out and "unreadable" in out
    status, out, _ = call(["check", str(tmp_path)])
    assert status == 0 and "inline.md: skipped: no derivation" in out


def test_one_unreadable_file_is_still_a_one_line_error_with_its_caret(notes):
    status, out, err = call(["check", "notes/sub/d-unreadable.md"])
    assert (status, out) == (2, "")
    first, shown, caret = err.splitlines()
    assert first.startswith("derive check: error: notes/sub/d-unreadable.md:5:") and caret.strip() == "^"


def test_one_document_in_a_folder_is_still_listed_with_the_total(tmp_path):
    (tmp_path / "only.md").write_text(PROVEN)
    status, out, _ = call(["check", str(tmp_path)])
    assert status == 0 and out == f"{tmp_path / 'only.md'}: proven (1 step)\n1 document: 1 proven\n"


def test_json_of_a_folder_lists_each_outcome(notes):
    status, out, _ = call(["check", "notes", "--format", "json"])
    data = json.loads(out)
    assert status == 2
    assert [d["status"] for d in data] == ["skipped", "proven", "refuted", "unproven", "unreadable"]
    assert data[1]["steps"][0]["status"] == "proven"  # a checked document: the whole report
    error = data[4]["error"]
    assert set(data[4]) == {"schema", "path", "status", "error"} and error["line"] == 5 and error["column"] > 1
    assert error["message"]


def test_explain_shows_each_readings_before_the_summary(notes):
    status, out, _ = call(["check", "notes/a-proven.md", "notes/b-refuted.md", "--explain"])
    assert status == 1
    assert out.index("notes/a-proven.md: read 2 items") < out.index("notes/b-refuted.md: read 2 items")
    assert out.rstrip().endswith("2 documents: 1 proven, 1 refuted")


def test_standard_input_among_files(notes, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PROVEN))
    status, out, _ = call(["check", "-", "notes/a-proven.md"])
    assert status == 0 and out.startswith("-: proven (1 step)\n")


def test_progress_names_the_document_and_its_number_on_a_terminal(notes, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(["check", "notes/a-proven.md", "notes/README.md"]) == 0
    assert "a-proven.md (1 of 2): step 1 of 1" in terminal.getvalue()


def test_not_utf8_standard_input_is_unreadable_not_a_traceback():
    stream = io.TextIOWrapper(io.BytesIO(b"\xff\xfe$$ a $$\n"), encoding="utf-8")
    outcome = check_one("-", stdin=stream)
    assert outcome.status == "unreadable" and "not UTF-8" in outcome.error.message


def test_the_help_says_what_a_folder_is_and_the_exit_precedence():
    text = " ".join(build_check_parser().format_help().split())
    assert "A folder is searched for *.md files" in text and "skipped" in text
    assert "Exit status (the highest that applies): 2" in text


def test_the_format_page_shows_a_folders_real_output(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parent.parent
    page = (root / "derive" / "document" / "format.md").read_text()
    (block,) = re.findall(r"```console\n\$ derive check notes/\n(.*?)```", page, re.DOTALL)
    (tmp_path / "notes").mkdir()
    for name, text in (("README.md", README), ("broken.md", UNREADABLE), ("cube.md", PROVEN),
                       ("homework.md", (root / "examples" / "softmax-homework.md").read_text())):
        (tmp_path / "notes" / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    assert call(["check", "notes/"])[1] == block
