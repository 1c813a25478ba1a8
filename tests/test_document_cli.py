"""``derive check``, ``derive list``, ``derive --loss`` and ``assert_derivation``: verdicts,
exit statuses, bad documents, JSON, and the examples of the format page."""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import derive
from derive.catalog import entry, names
from derive.cli import run
from derive.testing import assert_derivation
from test_cli import call

ROOT = Path(__file__).resolve().parent.parent
FORMAT = ROOT / "derive" / "document" / "format.md"

RIGHT = r"""Let $a \in \mathbb{R}$.

$$ f = a^3 $$

$$ \frac{\partial f}{\partial a} = 3 a^2 $$
"""
WRONG = RIGHT.replace("3 a^2", "6 a^2")
BAD = RIGHT.replace(r"\frac{\partial f}", r"\frac{\partial f")


@pytest.fixture
def files(tmp_path):
    for name, text in (("right.md", RIGHT), ("wrong.md", WRONG), ("bad.md", BAD)):
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_proven_document_exits_0(files):
    status, out, err = call(["check", str(files / "right.md")])
    assert (status, err) == (0, "")
    assert "right.md: proven, 1 step: 1 proven" in out  # no sizes: no "at"


def test_a_wrong_step_exits_1_and_is_located(files):
    status, out, err = call(["check", str(files / "wrong.md")])
    assert (status, err) == (1, "")
    column = WRONG.splitlines()[4].index("=") + 1
    assert f"first wrong step: {files / 'wrong.md'}:5:{column}" in out
    assert "true value:" in out and "claimed value:" in out
    assert "this step would hold with" in out and "factor of 1/2" in out


def test_a_bad_document_exits_2_with_location_line_and_caret(files):
    status, out, err = call(["check", str(files / "bad.md")])
    assert status == 2 and out == ""
    first, shown, caret = err.splitlines()
    assert re.match(rf"derive check: error: {re.escape(str(files / 'bad.md'))}:5:\d+: ", first)
    assert shown.strip().startswith("$$ \\frac{\\partial f{")
    assert caret.strip() == "^"
    assert "Traceback" not in err


@pytest.mark.parametrize("missing, reason", [("nope.md", "no such file"), ("folder", "is a directory")])
def test_an_unreadable_file_exits_2_in_one_line(tmp_path, missing, reason):
    (tmp_path / "folder").mkdir()
    status, _, err = call(["check", str(tmp_path / missing)])
    assert status == 2 and len(err.splitlines()) == 1 and f"{missing}: {reason}" in err


def test_standard_input(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(WRONG))
    status, out, _ = call(["check", "-"])
    assert status == 1 and out.startswith("-: refuted")


def test_json_has_the_documented_schema(files):
    status, out, _ = call(["check", str(files / "wrong.md"), "--format", "json"])
    data = json.loads(out)
    assert status == 1 and data["schema"] == "derive.check/1"
    assert set(data) == {"schema", "path", "title", "status", "sizes", "definitions", "steps",
                         "first_wrong", "result", "results", "reading"}
    (step,) = data["steps"]
    assert set(step) == {"line", "column", "source", "latex", "status", "checked", "scope", "every_size",
                         "reason", "except_where", "after_first_wrong", "mistake", "failure"}
    assert data["first_wrong"] == {"line": 5, "column": WRONG.splitlines()[4].index("=") + 1}
    assert set(step["failure"]) == {"instance", "point", "true_value", "claimed_value"}
    for field in ("schema", "path", "title", "status", "first_wrong", "mistake", "failure"):
        assert f"`{field}`" in FORMAT.read_text()


def test_several_files_give_a_json_list_and_the_worst_status(files):
    status, out, _ = call(["check", str(files / "right.md"), str(files / "wrong.md"), "--format", "json"])
    assert status == 1 and [d["status"] for d in json.loads(out)] == ["proven", "refuted"]


def test_list_names_the_catalog():
    status, out, _ = call(["list"])
    assert status == 0
    listed = [line.split()[0] for line in out.splitlines() if not line.startswith(" ")]
    assert listed == names() and listed[0] == "softmax-cross-entropy" and len(listed) >= 8


def test_loss_prints_a_catalog_closed_form():
    status, out, _ = call(["--loss", "logistic-regression", "--features", "2"])
    assert status == 0
    # every step is proven for every D (and cross-checked at D = 2), so the verdict says so
    assert out.startswith("% derive: ") and "% verdict: proven (14 proven, for every size)" in out
    assert r"\begin{align*}" in out and "% result, line" in out


@pytest.mark.parametrize("args, message", [
    (["--loss", "nope"], "no loss named 'nope'"),
    (["--loss", "logistic-regression", "--classes", "3"], "has no size K"),
    (["--loss", "softmax-cross-entropy-batch", "--label", "1"], "--label applies to the seed"),
    (["--classes", "3", "--samples", "2"], "--samples applies to a catalog loss"),
    (["--features", "2"], "required: --classes"),
    (["check"], "the following arguments are required"),
    (["check", "x.md", "--time-limit", "0"], "expected seconds"),
])
def test_bad_arguments_exit_2_in_one_line(args, message):
    status, out, err = call(args)
    assert (status, out) == (2, "")
    assert message in err and len(err.splitlines()) == 1


def test_check_shows_progress_only_on_a_terminal(files, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(["check", str(files / "right.md")]) == 0
    assert "\rderive check: " in terminal.getvalue() and "step 1 of 1" in terminal.getvalue()
    monkeypatch.undo()
    assert run(["check", str(files / "right.md")]) == 0
    assert capsys.readouterr().err == ""


def test_a_real_process_reports_a_bad_document_without_traceback(files):
    done = subprocess.run([sys.executable, "-m", "derive", "check", str(files / "bad.md")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 3


def test_assert_derivation(files):
    assert_derivation(str(files / "right.md"))
    assert_derivation(RIGHT)
    with pytest.raises(AssertionError, match="first wrong step"):
        assert_derivation(files / "wrong.md")
    with pytest.raises(derive.DocumentError):
        assert_derivation(BAD)


def test_check_document_from_python(files):
    result = derive.check_document(files / "wrong.md")
    assert result.status == "refuted" and not result
    assert result.first_wrong.line == 5 and result.first_wrong.failure.counterexample is not None


# --- the format page's examples are real -------------------------------------------------------


def _examples() -> list[str]:
    """The page's first document, its wrong one and its softmax one (the examples of a notation's
    section are checked by that notation's tests)."""
    blocks = re.findall(r"````markdown\n(.*?)````", FORMAT.read_text(), re.DOTALL)
    markers = ("title: Squared error", "$$ f = a^3 $$", "the number of classes")
    return [next(block for block in blocks if marker in block) for marker in markers]


def test_the_format_pages_examples_check_as_it_says(tmp_path):
    first, wrong, softmax = _examples()
    assert derive.check_document(first).status == "proven"
    result = derive.check_document(wrong)
    assert result.status == "refuted" and result.first_wrong.line == 5
    assert derive.check_document(softmax).status == "proven"


def test_the_format_page_shows_real_output(tmp_path):
    first, wrong, _ = _examples()
    (tmp_path / "squared-error.md").write_text(first)
    (tmp_path / "wrong.md").write_text(wrong)
    text = FORMAT.read_text()
    for name in ("squared-error.md", "wrong.md"):
        done = subprocess.run([sys.executable, "-m", "derive", "check", name], cwd=tmp_path,
                              capture_output=True, text=True)
        shown = done.stdout.splitlines()
        assert shown[0] in text, shown[0]


def test_the_readme_document_is_the_example_file():
    readme = (ROOT / "README.md").read_text()
    (block,) = re.findall(r"```markdown\n(.*?)```", readme, re.DOTALL)
    example = (ROOT / "examples" / "softmax-homework.md").read_text()
    assert block in example


def test_every_catalog_entry_has_a_title_and_summary():
    for name in names():
        found = entry(name)
        assert found.title != name and found.summary, name


def test_a_member_that_does_not_exist_refutes_the_step(tmp_path):
    text = r"""Let $x \in \mathbb{R}^D$, $y \in \{1, \dots, K\}$, $W \in \mathbb{R}^{K \times D}$.

$$ f_j = w_j^T x $$

$$ \frac{\partial f_y}{\partial w_y} = x + 0 f_{y-1} x $$
"""
    result = derive.check_document(text)
    wrong = result.first_wrong
    assert result.status == "refuted" and wrong.line == 5
    assert wrong.failure.instance["y"] == 1 and "f has no member 0" in wrong.failure.missing
    assert "off by one" in wrong.mistake
    (tmp_path / "oob.md").write_text(text)
    status, out, _ = call(["check", str(tmp_path / "oob.md"), "--format", "json"])
    assert status == 1 and "missing" in json.loads(out)["steps"][0]["failure"]


def test_kinks_are_reported_in_the_documents_symbols():
    status, out, _ = call(["check", str(entry("multiclass-svm").path)])
    assert status == 0 and "except where s_{" in out


def test_a_family_is_a_vector_and_a_missing_transpose_is_named():
    text = r"""Let $x \in \mathbb{R}^D$, $y \in \{1, \dots, K\}$ and $W \in \mathbb{R}^{K \times D}$ with rows $w_j$.

$$ f_j = w_j^T x, \quad p_j = \frac{e^{f_j}}{\sum_k e^{f_k}}, \quad L = -\log p_y $$

Where $g_j = p_j - \mathbb{1}[j = y]$.

$$ \frac{\partial L}{\partial x} = W^T g $$
"""
    assert derive.check_document(text).status == "proven"
    result = derive.check_document(text.replace("W^T g", "W g"))
    wrong = result.first_wrong
    assert result.status == "refuted" and "cannot multiply" in wrong.failure.missing
    assert "W^{T}" in wrong.mistake and "transpose is missing" in wrong.mistake


def test_a_catalog_result_proven_off_its_kinks_says_where():
    status, out, _ = call(["--loss", "multiclass-svm", "--classes", "2", "--features", "1"])
    assert status == 0 and "% result, line" in out and "proven except where s_{" in out


@pytest.mark.parametrize("definitions, message", [
    (r"$$ a_j = a_j + x_j $$", "a is defined in terms of itself"),
    (r"$$ a_j = a_j $$", "cannot tell which values the index j takes in a"),
    (r"$$ a = b + x_1 $$" "\n\n" r"$$ b = a $$", "defined in terms of itself"),
])
def test_a_definition_in_terms_of_itself_is_a_clear_error(definitions, message):
    text = "Let $x \\in \\mathbb{R}^D$.\n\n" + definitions + "\n\n$$ \\frac{\\partial a_1}{\\partial x} = 0 $$\n"
    with pytest.raises(derive.DocumentError, match=message) as raised:
        derive.check_document(text)
    assert raised.value.line == 3
