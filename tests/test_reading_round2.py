"""Never lie, round 2: every display formula is checked or refused, notation a declared name
would clash with is refused, a remark is never read as a fact, what was read is printed, and no
input makes ``derive check`` read without end or print a traceback.

Each document here is checked as a user would write it; an error is a ``DocumentError`` at the
``line:column`` of the text it names (``at`` is the text the caret stands on).
"""

import io
import json
import os
import re
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from derive.document import DocumentError, check_document
import derive.document.source as source_module
from test_cli import call

ROOT = Path(__file__).resolve().parent.parent
FORMAT = ROOT / "derive" / "document" / "format.md"

LET = "Let $a \\in \\mathbb{R}$.\n\n$$ f = a^2 $$\n\n"
RIGHT_STEP = "$$ \\frac{\\partial f}{\\partial a} = 2 a $$\n"
WRONG_STEP = "\\frac{\\partial f}{\\partial a} = 3 a"


def refused(text: str, fragment: str, line: int, at: str) -> DocumentError:
    """The document is refused with ``fragment`` in the message, the caret on ``at`` in ``line``."""
    with pytest.raises(DocumentError) as caught:
        check_document(text, path="doc.md")
    error = caught.value
    assert fragment in error.message, error.message
    assert error.line == line, str(error)
    assert error.text[error.column - 1:].startswith(at), str(error)
    assert str(error).splitlines()[0] == f"doc.md:{line}:{error.column}: {error.message}"
    return error


# --- 1. every display formula is checked, or an error that points at it -----------------------

HIDDEN = {
    "blockquote": f"> $$ {WRONG_STEP} $$\n",
    "blockquote over lines": f"> $$\n> {WRONG_STEP}\n> $$\n",
    "ordered list item": f"1. $$ {WRONG_STEP} $$\n",
    "bullet list item": f"- $$ {WRONG_STEP} $$\n",
    "quote inside a list": f"- > $$ {WRONG_STEP} $$\n",
    "list inside a quote": f"> * $$ {WRONG_STEP} $$\n",
    "bracket display in a quote": f"> \\[ {WRONG_STEP} \\]\n",
    "after a fence in a quote": f"> ```\n> $$ a = 2 $$\n> ```\n\n> $$ {WRONG_STEP} $$\n",
    "a math fence, as GitHub renders it": f"```math\n{WRONG_STEP}\n```\n",
    "a math fence of tildes over lines": f"~~~ math\n\\begin{{aligned}}\n{WRONG_STEP}\n\\end{{aligned}}\n~~~\n",
    "a math fence in a quote": f"> ```math\n> {WRONG_STEP}\n> ```\n",
}

#: Display math that was checked before and must stay so (the choices format.md documents).
STILL_CHECKED = {
    "indented list continuation": f"- the gradient:\n\n  $$\n  {WRONG_STEP}\n  $$\n",
    "indented four spaces": f"    $$ {WRONG_STEP} $$\n",
    "indented with a tab": f"\t$$ {WRONG_STEP} $$\n",
    "HTML comment over lines": f"<!--\n$$ {WRONG_STEP} $$\n-->\n",
}


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=list(HIDDEN))
def test_a_wrong_step_in_a_quote_or_a_list_is_checked(hidden):
    assert_wrong_step_found(LET + RIGHT_STEP + "\n" + hidden)


@pytest.mark.parametrize("shown", STILL_CHECKED.values(), ids=list(STILL_CHECKED))
def test_indented_and_commented_display_math_stays_checked(shown):
    assert_wrong_step_found(LET + RIGHT_STEP + "\n" + shown)


def assert_wrong_step_found(text: str) -> None:
    result = check_document(text, path="doc.md")
    wrong_line = next(n for n, line in enumerate(text.split("\n"), 1) if "= 3 a" in line)
    assert result.status == "refuted" and result.first_wrong.line == wrong_line
    assert [s.status for s in result.steps] == ["proven", "refuted"]

UNCHECKED = [
    # (the text after LET, fragment, line, the caret's text)
    (f"So $$ {WRONG_STEP} $$ holds.\n", "display math `$$` must start its own line", 5, "$$"),
    (f"<!-- $$ {WRONG_STEP} $$ -->\n", "display math `$$` must start its own line", 5, "$$"),
    (f"> So $$ {WRONG_STEP} $$.\n", "display math `$$` must start its own line", 5, "$$"),
    (f"Hence \\[ {WRONG_STEP} \\]\n", "display math `\\[` must start its own line", 5, "\\["),
    (f"\\begin{{aligned}} {WRONG_STEP} \\end{{aligned}}\n", "put the environment between `$$` lines", 5,
     "\\begin"),
    (f"So \\begin{{aligned}} {WRONG_STEP} \\end{{aligned}}\n", "`\\begin{...}` outside math", 5, "\\begin"),
    (f"| step | $$ {WRONG_STEP} $$ |\n", "display math `$$` must start its own line", 5, "$$"),
    (f"Let $b \\in \\mathbb{{R}}$, and $$ {WRONG_STEP} $$\n", "display math `$$`", 5, "$$"),
    (f"```\n$$ {WRONG_STEP} $$\n", "code fence ``` is never closed", 5, "```"),
    (f"~~~~ python\n$$ {WRONG_STEP} $$\n~~~\n", "code fence ~~~~ is never closed", 5, "~~~~"),
    (f"> ```\n> $$ {WRONG_STEP} $$\n", "code fence ``` is never closed", 5, "```"),
    (f"> $$ {WRONG_STEP}\n", "display math opened with `$$` is never closed", 5, "$$"),
]


@pytest.mark.parametrize("tail, fragment, line, at", UNCHECKED, ids=[u[0][:30] for u in UNCHECKED])
def test_display_math_that_would_not_be_checked_is_an_error(tail, fragment, line, at):
    refused(LET + tail, fragment, line, at)


def test_code_is_the_only_thing_skipped():
    text = (LET + "Write `$$` around display math; a code span is code.\n\n"
            "Let $b \\in \\mathbb{R}$ (written `$$b$$` in some notes).\n\n"
            "~~~\n$$ a = 2 $$\n~~~\n\n```\n$$ a = 3 $$\n````\n\n" + RIGHT_STEP)
    result = check_document(text, path="doc.md")
    assert result.status == "proven" and len(result.steps) == 1


def test_front_matter_with_crlf_line_ends_is_read():
    text = ("---\r\ntitle: Labels\r\ncheck: K = 2..3\r\n---\r\n"
            "Let $y \\in \\{1, \\dots, K\\}$.\r\n\r\n$$ y = y $$\r\n")
    result = check_document(text, path="doc.md")
    assert result.title == "Labels" and [s["K"] for s in result.sizes] == [2, 3]


def test_a_front_matter_key_given_twice_is_an_error():
    refused("---\ncheck: K = 2..3\ncheck: K = 4..5\n---\n" + LET, "`check` is given twice", 3, "check")


def test_a_declaration_in_a_list_item_is_read():
    result = check_document("- Let $a \\in \\mathbb{R}$.\n\n$$ f = a^2 $$\n\n" + RIGHT_STEP, path="doc.md")
    assert result.status == "proven"
    assert [(r.kind, r.name) for r in result.reading] == [("variable", "a"), ("definition", "f")]


# --- 2. a declared name that collides with notation ------------------------------------------

TRANSPOSE = "`T` is declared on line 1, so `^T` could be the power T or a transpose"


def test_a_declared_T_is_not_silently_a_transpose():
    error = refused("Let $T \\in \\mathbb{R}$.\n\n$$ \\frac{\\partial}{\\partial T} e^T = 0 $$\n",
                    TRANSPOSE, 3, "^T")
    assert "write `^\\top` for a transpose, or `^{(T)}` for the power" in error.message


def test_the_power_rule_with_a_declared_exponent_T():
    refused("Let $T \\in \\mathbb{R}$ and $a > 0$.\n\n$$ g = a^T $$\n\n"
            "$$ \\frac{\\partial g}{\\partial a} = T a^{T-1} $$\n", TRANSPOSE, 3, "^T")
    written = ("Let $T \\in \\mathbb{R}$ and $a > 0$.\n\n$$ g = a^{(T)} $$\n\n"
               "$$ \\frac{\\partial g}{\\partial a} = T a^{T-1} $$\n")
    assert check_document(written).status == "proven"


@pytest.mark.parametrize("step, at", [
    ("f = x^T x", "^T"), ("f = x^{T} x", "^{T}"), ("f = x^{ T } x", "^{ T }"), ("f = x^Tx", "^Tx"),
    ("f = \\sigma(x^T x)", "^T"), ("f = x^\\top x + x^T x", "^T"),
])
def test_a_size_named_T_refuses_every_transpose_written_T(step, at):
    text = f"Let $T \\in \\mathbb{{N}}$ and $x \\in \\mathbb{{R}}^T$.\n\n$$ {step} $$\n"
    refused(text, "`T` is declared on line 1, so `^T`", 3, at)


def test_a_size_named_T_keeps_its_limits_dimensions_and_top():
    text = ("Let $x_1, \\dots, x_T \\in \\mathbb{R}^{T}$ and $v \\in \\mathbb{R}^T$.\n\n"
            "$$ f = \\sum_{t=1}^T v^\\top x_t + \\sum^{T}_{t=1} x_t^\\mathsf{T} v $$\n\n"
            "$$ \\frac{\\partial f}{\\partial v} = 2 \\sum_{t=1}^{T} x_t $$\n")
    assert check_document(text).status == "proven"


def test_a_defined_T_is_refused_too():
    refused("Let $x \\in \\mathbb{R}^D$.\n\n$$ T = 2 $$\n\n$$ f = x^T x $$\n",
            "`T` is defined on line 3, so `^T`", 5, "^T")


@pytest.mark.parametrize("declaration, message", [
    ("$e \\in \\mathbb{R}^K$", "`e` is Euler's number"),
    ("$e > 0$", "`e` is Euler's number"),
    ("$a, e \\in \\mathbb{R}$", "`e` is Euler's number"),
    ("$\\pi \\in \\mathbb{R}$", "`\\pi` is the number \\pi"),
    # issue 14: a declared \\sigma is the document's own quantity (tests/test_prose_declarations.py)
    ("$\\log \\in \\mathbb{R}$", "`\\log` is the logarithm"),
    ("$\\max \\in \\mathbb{R}$", "`\\max` is the maximum"),
])
def test_notation_cannot_be_declared(declaration, message):
    error = refused(f"Let {declaration}.\n\n$$ f = 1 $$\n", message, 1, "")
    assert "call this quantity by another letter" in error.message


def test_the_kronecker_delta_and_a_declared_delta():
    refused("Let $\\delta \\in \\mathbb{R}^{K \\times K}$.\n\n$$ f = \\delta_{jk} $$\n",
            "`\\delta` is declared on line 1, so `\\delta_{jk}` could be its member", 3, "\\delta_{jk}")
    refused("Let $a \\in \\mathbb{R}$.\n\n$$ \\delta_{jk} = a $$\n",
            "`\\delta_{jk}` is the Kronecker delta", 3, "\\delta_{jk}")
    refused("Let $a \\in \\mathbb{R}$.\n\n$$ \\delta_j = a $$\n\n$$ f = \\delta_{m,y} $$\n",
            "`\\delta` is defined on line 3", 5, "\\delta_{m,y}")


# --- 3. a remark in a declaration paragraph is never read as a fact ----------------------------


def test_a_parenthetical_is_not_a_constraint():
    text = ("Let $z \\in \\mathbb{R}$ and $\\gamma \\ge 0$, where $f = \\gamma z^2$ "
            "($\\gamma = 0$ gives the plain loss).\n\n"
            "$$ \\frac{\\partial f}{\\partial z} = 0 $$\n")
    error = refused(text, "stands in parentheses, an aside: derive would not read it as a constraint", 1, "= 0")
    assert "`\\gamma = 0`" in error.message


def test_an_explanatory_relation_in_a_let_paragraph_is_not_read():
    text = ("Let $a \\in \\mathbb{R}$ and $f = a^2$, so that $\\frac{\\partial f}{\\partial a} = 3 a$.\n\n"
            "$$ g = f $$\n")
    refused(text, "is not a declaration or a definition: derive takes a constraint only from a "
            "sentence that starts with *Assume* or *Given*", 1, "= 3 a")


@pytest.mark.parametrize("paragraph, fragment, at", [
    ("Let $t \\in \\mathbb{R}^K$ with $\\sum_j t_j = 1$.", "takes a constraint only from a sentence", "= 1"),
    ("Let $t \\in \\mathbb{R}^K$ (and $b = 1$).", "stands in parentheses", "= 1"),
    ("Given $t \\in \\mathbb{R}^K$ ($\\sum_j t_j = 1$).", "stands in parentheses", "= 1"),
    ("Where $t \\in \\mathbb{R}^K$: (so\n$t_1 = 1$) holds.", "stands in parentheses", "= 1"),
])
def test_a_relation_is_read_only_where_a_sentence_states_it(paragraph, fragment, at):
    refused(paragraph + "\n\n$$ f = \\sum_j t_j $$\n", fragment, paragraph[:paragraph.index(at)].count("\n") + 1, at)


@pytest.mark.parametrize("paragraph", [  # issue 14: a relation in another sentence is a remark, shown
    "Let $t \\in \\mathbb{R}^K$. Then $t_1 = 1$.",
    "Let $t \\in \\mathbb{R}^K$. Then $b = 1$.",
    "Let $t \\in \\mathbb{R}^K$, e.g. $t_1 = 1$.",
    "Let $t \\in \\mathbb{R}^K$! $t_1 = 1$ is a case.",
])
def test_a_relation_in_another_sentence_is_a_remark_not_a_fact(paragraph):
    result = check_document(paragraph + "\n\n$$ f = \\sum_j t_j $$\n\n$$ f = 1 $$\n")
    assert result.status == "refuted"
    assert [r.kind for r in result.reading if r.kind in ("remark", "constraint", "definition")] == [
        "remark", "definition"]


def test_a_constraint_stated_by_assume_or_given_is_used():
    for sentence in ("Assume $\\sum_j t_j = 1$.", "**Given** $\\sum_j t_j = 1$,", "Given that $\\sum_j t_j = 1$."):
        text = f"Let $t \\in \\mathbb{{R}}^K$. {sentence}\n\n$$ f = \\sum_j t_j $$\n\n$$ f = 1 $$\n"
        result = check_document(text)
        assert result.status == "proven", sentence
        assert [(r.kind, r.latex) for r in result.reading if r.kind == "constraint"] == [
            ("constraint", "\\sum_{j} t_{j} = 1")]


@pytest.mark.parametrize("paragraph, fragment, at", [
    ("Let $\\gamma \\in \\mathbb{R}$ (for $\\gamma > 0$ it is convex).", "stands in parentheses, an aside: "
     "derive would not read it as an assumption", "> 0"),
    ("Let $a \\in \\mathbb{R}$ (and $\\gamma \\in \\mathbb{R}_{>0}$).", "would not read it as an assumption", "\\gamma"),
])
def test_a_sign_is_an_assumption_only_where_a_sentence_states_it(paragraph, fragment, at):
    refused(paragraph + "\n\n$$ f = \\sqrt{\\gamma^2} $$\n\n$$ f = \\gamma $$\n", fragment, 1, at)


def test_a_sign_after_for_is_a_case_not_an_assumption():  # issue 14: a remark, shown
    result = check_document("Let $\\gamma \\in \\mathbb{R}$. For $\\gamma \\ge 0$ it is convex.\n\n"
                            "$$ f = \\sqrt{\\gamma^2} $$\n\n$$ f = \\gamma $$\n")
    assert result.status == "refuted"
    assert [(r.kind, r.latex) for r in result.reading if r.kind in ("remark", "assumption")] == [
        ("remark", "\\gamma \\ge 0")]


def test_a_declaration_in_parentheses_is_still_read():
    result = check_document("Let $a \\in \\mathbb{R}$ (with $b \\in \\mathbb{R}$).\n\n$$ f = a b $$\n")
    assert [(r.kind, r.name, r.meaning) for r in result.reading][:2] == [
        ("variable", "a", "a real scalar"), ("variable", "b", "a real scalar")]


# --- 4. what was read is printed ----------------------------------------------------------------

READ = r"""---
title: Soft targets
summary: kept
---
Let $K \in \mathbb{N}$ and $t_0, \dots, t_{K-1} \in \mathbb{R}$, $W \in \mathbb{R}^{K \times D}$,
$y \in \{0, \dots, K-1\}$ and $\lambda > 0$. Assume $\sum_j t_j = 1$.

$$ f_j = \lambda t_j $$

$$ \sum_j f_j = \lambda $$
"""

READ_TEXT = r"""doc.md: read 12 items
     2:1   front matter  Soft targets: the title
     3:1   front matter  kept: kept, not read by derive
     5:6   size          K \in \mathbb{N}: a size
     5:29  variable      t_{0}, \dots, t_{K - 1} \in \mathbb{R}: a real scalar, one for each index in 0..K - 1
     5:67  size          D \in \mathbb{N}: a size, read from a dimension or a range
     5:67  variable      W \in \mathbb{R}^{K \times D}: a K by D real matrix
     5:67  variable      w_j: the rows of W, each a vector of D real entries, one for each index in 0..K - 1
     6:2   label         y \in \{0, \dots, K - 1\}: a whole number, checked at every value
     6:2   numbering     \{0, \dots\}: every index, row and entry starts at 0
     6:32  assumption    \lambda > 0: positive, a real scalar
     6:65  constraint    \sum_{j} t_{j} = 1: assumed by every check
     8:8   definition    f_{j} = \lambda t_{j}: a definition, a family over j
"""


def test_explain_lists_everything_read_with_its_line(tmp_path, monkeypatch):
    (tmp_path / "doc.md").write_text(READ)
    monkeypatch.chdir(tmp_path)
    status, out, err = call(["check", "--explain", "doc.md"])
    assert (status, err) == (0, "")
    assert out.startswith(READ_TEXT + "\ndoc.md (Soft targets): proven")


def test_the_json_has_the_reading(tmp_path):
    (tmp_path / "doc.md").write_text(READ)
    status, out, _ = call(["check", "--format", "json", str(tmp_path / "doc.md")])
    reading = json.loads(out)["reading"]
    assert status == 0 and len(reading) == 12
    assert reading[-2] == {"kind": "constraint", "name": "", "latex": "\\sum_{j} t_{j} = 1",
                           "meaning": "assumed by every check", "line": 6, "column": 65, "inferred": False}
    assert {"kind", "name", "latex", "meaning", "line", "column", "inferred"} == set(reading[0])
    assert "| `reading` |" in FORMAT.read_text()


def test_the_format_pages_explain_example_is_what_derive_prints(tmp_path, monkeypatch):
    page = FORMAT.read_text()
    first = re.findall(r"````markdown\n(.*?)````", page, re.DOTALL)[0]
    shown = re.search(r"For the first\ndocument above:\n\n```\n(.*?)```", page, re.DOTALL).group(1)
    (tmp_path / "squared-error.md").write_text(first)
    monkeypatch.chdir(tmp_path)
    status, out, _ = call(["check", "--explain", "squared-error.md"])
    assert status == 0 and out.startswith(shown)


# --- 5. reading input: bounded, regular files, UTF-8 everywhere -------------------------------


def _derive_check(*args, stdin=None, env=None):
    """``derive check`` in a fresh process with at most 2 GiB of memory and 30 seconds."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "derive", "check", *args], stdin=stdin, capture_output=True,
                          timeout=30, preexec_fn=limit, env=environment, cwd=ROOT)


def _one_line(done, fragment: str) -> None:
    err = done.stderr.decode()
    assert done.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert fragment in err, err


def test_dev_zero_as_a_file_is_refused_at_once():
    _one_line(_derive_check("/dev/zero"), "/dev/zero: not a regular file")


def test_dev_zero_on_standard_input_is_read_only_up_to_the_limit():
    with open("/dev/zero", "rb") as zero:
        _one_line(_derive_check("-", stdin=zero), f"-: document longer than {source_module.MAX_DOCUMENT_BYTES} bytes")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    _one_line(_derive_check(str(tmp_path / "pipe.md")), "not a regular file (a device, a pipe or a socket)")


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_bytes_that_are_not_utf8_on_standard_input_exit_2_at_their_place(tmp_path, locale):
    (tmp_path / "bad.md").write_bytes(b"Let $a \\in \\mathbb{R}$.\n\n$$ f = a \xe9 $$\n")
    with open(tmp_path / "bad.md", "rb") as stdin:
        done = _derive_check("-", stdin=stdin, env={"LC_ALL": locale, "PYTHONIOENCODING": ""})
    assert done.returncode == 2
    assert done.stderr.decode().startswith("derive check: error: -:3:10: not UTF-8 text (byte 0xe9 cannot continue")


def test_bytes_that_are_not_utf8_in_a_file_are_located(tmp_path):
    (tmp_path / "bad.md").write_bytes(b"Let $a \\in \\mathbb{R}$.\n\n$$ f = \xff $$\n")
    status, _, err = call(["check", str(tmp_path / "bad.md")])
    assert status == 2 and f"{tmp_path / 'bad.md'}:3:8: not UTF-8 text (byte 0xff cannot start a character)" in err
    assert err.splitlines()[2].strip() == "^"


def test_a_file_too_long_in_bytes_is_refused_without_reading_it_all(tmp_path):
    (tmp_path / "long.md").write_bytes(b"\xc3\xa9" * (source_module.MAX_DOCUMENT_BYTES // 2 + 10))
    with pytest.raises(DocumentError, match=f"longer than {source_module.MAX_DOCUMENT_BYTES} bytes"):
        source_module.read_source(tmp_path / "long.md")


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "nope.md: no such file"),
    (lambda p: p.mkdir(), "nope.md: is a directory, not a document"),
])
def test_a_missing_path_or_a_directory_is_one_line(tmp_path, make, fragment):
    make(tmp_path / "nope.md")
    status, _, err = call(["check", str(tmp_path / "nope.md")])
    assert status == 2 and len(err.splitlines()) == 1 and fragment in err


def test_permission_denied_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "secret.md").write_text(LET)

    def denied(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    status, _, err = call(["check", str(tmp_path / "secret.md")])
    assert status == 2 and err.strip().endswith("secret.md: permission denied")


def test_check_document_of_a_path_is_bounded_too(tmp_path):
    os.mkfifo(tmp_path / "pipe.md")
    # Should the reader wait for a writer, one comes after a while and writes nothing.
    writer = threading.Timer(5, lambda: open(tmp_path / "pipe.md", "w").close())
    writer.start()
    try:
        with pytest.raises(DocumentError, match="not a regular file"):
            check_document(tmp_path / "pipe.md")
    finally:
        writer.cancel()


def test_a_byte_order_mark_is_dropped():
    source = source_module.read_source("-", io.BytesIO("\ufeff---\ntitle: B\n---\n".encode() + LET.encode()))
    assert source.text.startswith("---\ntitle: B")


# --- 6. messages that say what happened --------------------------------------------------------


@pytest.mark.parametrize("step, fragment, at", [
    ("v = e_y", "`e` is Euler's number in derive, so `e_...` has no index", "e_y"),
    ("v = \\pi_k", "`\\pi` is the number \\pi in derive, so `\\pi_...` has no index", "\\pi_k"),
    ("v = (a + a)_y", "a subscript here is not an index of a symbol: only a name", "(a + a)_y"),
])
def test_a_subscript_on_notation_says_what_happened(step, fragment, at):
    refused(f"Let $a \\in \\mathbb{{R}}$ and $y \\in \\{{1, \\dots, K\\}}$.\n\n$$ {step} $$\n", fragment, 3, at)


@pytest.mark.parametrize("step, at", [("g = f_e", "f_e"), ("g = \\sum_e f_e", "f_e"), ("g = f_{\\pi}", "f_{\\pi}")])
def test_e_or_pi_as_an_index_says_it_is_a_number(step, at):
    refused(f"Let $f \\in \\mathbb{{R}}^K$.\n\n$$ {step} $$\n", "in derive, so it cannot be an index", 3, at)


def test_a_leibniz_fraction_says_how_to_write_a_quantity_named_d():
    error = refused("Let $d, a, b \\in \\mathbb{R}$.\n\n$$ g = \\frac{d a}{d b} $$\n",
                    "`d` is declared on line 1, so a fraction whose numerator and denominator start with `d` "
                    "could be a derivative or a quotient", 3, "\\frac")
    assert "or call the quantity by another letter" in error.message


def test_a_declaration_paragraph_may_start_in_bold():
    result = check_document("**Let** $a \\in \\mathbb{R}$ and $g = 2 a$.\n\n$$ g = 2 a $$\n")
    assert result.status == "proven" and [r.kind for r in result.reading] == ["variable", "definition"]
