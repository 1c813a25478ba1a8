"""Issue 14: notes read as people write them.  Symbols are declared in any prose sentence, sizes
and labels are read from how the display math uses them, every inference is shown (``--explain``,
the JSON ``reading``, the ``read:`` line), and a relation in prose that is no declaration is a
remark: listed, never checked, never used.

Each document is checked as a user would write it; an error is a ``DocumentError`` at the
``line:column`` of the text it names (``at`` is the text the caret stands on).
"""

import json
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from derive.document import check_document
from derive.document.ast import Name, Num
from derive.document.declare import Interval
from derive.report.document import document_text
from test_cli import call
from test_reading_round2 import refused

FORMAT = Path(__file__).resolve().parent.parent / "derive" / "document" / "format.md"

WEIGHTED = r"""# Weighted cross-entropy

For $K$ classes with scores $s_1, \dots, s_K$, class weights $c_1, \dots, c_K > 0$ and a
sample of class $t \in \{1, \dots, K\}$, the softmax and the loss are

$$ q_k = \frac{\exp(s_k)}{\sum_{j=1}^{K} \exp(s_j)} $$

$$ \ell = -c_t \log q_t $$

Since $\partial q_t / \partial s_k = q_t([t = k] - q_k)$,

$$ \frac{\partial \ell}{\partial s_k} = -\frac{c_t}{q_t} \frac{\partial q_t}{\partial s_k} = c_t (q_k - [k = t]) $$
"""

WEIGHTED_READ = "  read: K size; s_k real (k = 1..K); c_k > 0 (k = 1..K); t label in 1..K; 1 remark in prose not checked"


def kinds(result, *wanted) -> list[tuple[str, str]]:
    return [(r.kind, r.latex) for r in result.reading if r.kind in wanted]


# --- the acceptance note ------------------------------------------------------------------


def test_the_weighted_cross_entropy_note_is_read_and_proven_as_it_stands():
    result = check_document(WEIGHTED, path="wce.md")
    assert result.status == "proven" and [s.status for s in result.steps] == ["proven", "proven"]
    assert document_text(result).splitlines()[1] == WEIGHTED_READ
    assert kinds(result, "remark") == [
        ("remark", "\\frac{\\partial q_{t}}{\\partial s_{k}} = q_{t} \\left(\\mathbb{1}[t = k] - q_{k}\\right)")]


def test_the_weighted_cross_entropy_note_with_the_wrong_weight_is_refuted_on_its_line():
    result = check_document(WEIGHTED.replace("= c_t (q_k - [k = t])", "= c_k (q_k - [k = t])"), path="wce.md")
    assert result.status == "refuted"
    assert (result.first_wrong.line, result.first_wrong.source.count("c_k")) == (12, 1)


# --- declarations in any sentence -------------------------------------------------------------------


def test_a_declaration_and_a_definition_in_an_ordinary_sentence_are_read():
    text = ("The input is $x \\in \\mathbb{R}^D$ with weights $w \\in \\mathbb{R}^D$. The logit is $z = w^T x$.\n\n"
            "$$ \\frac{\\partial z}{\\partial w} = x $$\n")
    result = check_document(text)
    assert result.status == "proven"
    assert kinds(result, "variable", "definition") == [
        ("variable", "x \\in \\mathbb{R}^{D}"), ("variable", "w \\in \\mathbb{R}^{D}"), ("definition", "z = w^{T} x")]
    wrong = check_document(text.replace("= x $$", "= 2 x $$"))
    assert wrong.status == "refuted" and wrong.first_wrong.line == 3


def test_a_family_named_in_prose_is_real_until_declared_otherwise():
    mention = "The scores $f_1, \\dots, f_K$ and $W \\in \\mathbb{R}^{K \\times D}$.\n\n$$ g = f_1 $$\n"
    result = check_document(mention)
    assert [(r.kind, r.name, r.meaning) for r in result.reading if r.name == "f"] == [
        ("variable", "f", "a real scalar, named in prose, one for each index in 1..K")]
    vectors = "The scores $f_1, \\dots, f_K$.\n\nLet $f_1, \\dots, f_K \\in \\mathbb{R}^D$.\n\n$$ g = f_1^T f_1 $$\n"
    assert "f_k in R^D (k = 1..K)" in document_text(check_document(vectors))


def test_declaring_a_symbol_again_the_same_way_is_fine_and_differently_an_error():
    same = "Let $x \\in \\mathbb{R}^D$.\n\nThe input $x \\in \\mathbb{R}^D$.\n\n$$ f = x^T x $$\n"
    assert [r.name for r in check_document(same).reading if r.kind == "variable"] == ["x"]
    refused("Let $x \\in \\mathbb{R}^D$.\n\nThe input $x \\in \\mathbb{R}^K$.\n\n$$ f = x^T x $$\n",
            "`x` is declared on line 1 differently", 3, "x \\in")
    refused("Let $s_1, \\dots, s_N \\in \\mathbb{R}$.\n\nThe scores $s_1, \\dots, s_K$.\n\n$$ f = s_1 $$\n",
            "`s` is declared on line 1 differently", 3, "s_1")


def test_a_positive_family_and_a_sign_on_a_member():
    text = ("The weights $c_1, \\dots, c_K$ with $c_k > 0$.\n\n$$ f = \\sum_k \\sqrt{c_k^2} $$\n\n"
            "$$ f = \\sum_k c_k $$\n")
    result = check_document(text)
    assert result.status == "proven"
    assert kinds(result, "assumption") == [("assumption", "c_{1}, \\dots, c_{K} > 0")]
    refused("Note $c_k > 0$.\n\n$$ f = c_1 $$\n", "`c` is no declared family", 1, "c_k")


def test_a_sign_after_for_or_when_is_a_case_not_an_assumption():
    text = "Let $s \\in \\mathbb{R}$. It is $0$ for $s < 0$ and $s$ when $s > 0$.\n\n$$ f = \\sqrt{s^2} $$\n\n$$ f = s $$\n"
    result = check_document(text)
    assert result.status == "refuted"
    assert kinds(result, "remark", "assumption") == [("remark", "s < 0"), ("remark", "s > 0")]


# --- intervals --------------------------------------------------------------------------------------


def test_an_interval_is_a_real_scalar_and_a_proof_for_every_real_still_holds():
    text = "Let $\\epsilon \\in [0, 1)$ and $a \\in \\mathbb{R}$.\n\n$$ f = \\epsilon a $$\n\n$$ \\frac{\\partial f}{\\partial a} = \\epsilon $$\n"
    result = check_document(text)
    assert result.status == "proven"
    assert "\\epsilon in [0, 1); a real" in document_text(result)


def test_a_counterexample_outside_the_interval_is_no_refutation():
    # (1 - eps)^2 = 1 - 2 eps + eps^2 holds everywhere; |1 - eps| = 1 - eps only where eps <= 1
    text = ("Let $\\epsilon \\in [0, 1]$, $a \\in \\mathbb{R}$.\n\n$$ f = a |1 - \\epsilon| $$\n\n"
            "$$ \\frac{\\partial f}{\\partial a} = 1 - \\epsilon $$\n")
    (step,) = check_document(text).steps
    assert step.status == "unproven"
    assert "but \\epsilon is declared in [0, 1]: not refuted, not proven" in step.reason


def test_an_interval_from_zero_makes_its_symbol_nonnegative_or_positive():
    result = check_document("Let $\\epsilon \\in [0, 1)$ and $\\gamma \\in (0, 2]$.\n\n$$ f = \\epsilon \\gamma $$\n")
    assert [(r.name, r.latex) for r in result.reading if r.kind == "assumption"] == [
        ("\\epsilon", "\\epsilon \\ge 0"), ("\\gamma", "\\gamma > 0")]


@pytest.mark.parametrize("interval, inside, outside", [
    (Interval(Num(Fraction(0)), Num(Fraction(1)), False, True), [Fraction(0), Fraction(1, 2)], [Fraction(1), Fraction(-1, 9)]),
    (Interval(Num(Fraction(-1)), Num(Fraction(2)), True, False), [Fraction(2), Fraction(0)], [Fraction(-1), Fraction(3)]),
])
def test_an_interval_knows_its_members(interval, inside, outside):
    assert all(interval.contains(value) for value in inside)
    assert not any(interval.contains(value) for value in outside)


def test_an_interval_bounded_by_a_size_cannot_place_a_point():
    assert Interval(Num(Fraction(0)), Name("K"), False, False).contains(Fraction(1)) is None


def test_a_wrong_step_that_does_not_involve_the_interval_is_still_refuted():
    text = "Let $\\epsilon \\in [0, 1]$, $a \\in \\mathbb{R}$.\n\n$$ f = a^2 $$\n\n$$ \\frac{\\partial f}{\\partial a} = a $$\n"
    assert check_document(text).status == "refuted"


def test_a_broken_interval_is_an_error_at_it():
    refused("Let $\\epsilon \\in [0, )$.\n\n$$ f = \\epsilon $$\n", "empty math", 1, " )")


# --- remarks and mentions ---------------------------------------------------------------------------


def test_a_remark_in_prose_is_listed_not_used():
    text = ("Let $\\gamma \\in \\mathbb{R}$, $z \\in \\mathbb{R}$.\n\n$$ f = \\gamma z^2 $$\n\n"
            "So the plain loss is reached ($\\gamma = 0$ gives it).\n\n$$ \\frac{\\partial f}{\\partial z} = 0 $$\n")
    result = check_document(text)
    assert result.status == "refuted"
    assert kinds(result, "remark") == [("remark", "\\gamma = 0")]
    assert document_text(result).splitlines()[1] == "  read: \\gamma real; z real; 1 remark in prose not checked"


def test_a_definition_in_an_aside_stays_an_error():
    refused("Let $z \\in \\mathbb{R}$.\n\nThe loss ($f = z^2$, say).\n\n$$ f = 1 $$\n",
            "stands in parentheses, an aside: derive would not read it as a definition", 3, "= z^2")


def test_prose_math_that_cannot_be_read():
    mention = "Let $a \\in \\mathbb{R}$.\n\nThe map $a \\mapsto a^2$ is smooth.\n\n$$ f = a^2 $$\n"
    assert check_document(mention).reading[-1].kind == "definition"
    refused("Let $a \\in \\mathbb{R}$.\n\nThe set $b \\in \\mathbb{Q}$.\n\n$$ f = a $$\n", "unknown command", 3, "\\mathbb{Q}")
    refused("Let $a \\in \\mathbb{R}$.\n\nClearly $a \\mapsto b > 0$.\n\n$$ f = a $$\n", "unknown command", 3, "\\mapsto")


# --- sizes, labels, indices and scalars read from use ---------------------------------------------


def test_a_sum_limit_makes_a_size_and_an_undeclared_letter_a_scalar():
    result = check_document("$$ f = \\sum_{j=1}^{N} a x^j $$\n\n$$ \\frac{\\partial f}{\\partial a} = \\sum_{j=1}^{N} x^j $$\n")
    assert result.status == "proven"
    assert document_text(result).splitlines()[1] == "  read: N size (inferred); a real (inferred); x real (inferred)"
    assert [(r.name, r.meaning) for r in result.reading if r.inferred][:2] == [
        ("N", "a size (inferred: it bounds a sum)"), ("a", "a real scalar (inferred: it is used as a number)")]


def test_a_letter_subscripting_a_family_in_a_definition_is_a_label():
    text = ("Let $f_1, \\dots, f_K \\in \\mathbb{R}$.\n\n$$ p_j = \\frac{e^{f_j}}{\\sum_k e^{f_k}} $$\n\n"
            "$$ L = -\\log p_y $$\n\n$$ \\frac{\\partial L}{\\partial f_m} = p_m - [m = y] $$\n")
    result = check_document(text)
    assert result.status == "proven"
    assert [(r.kind, r.meaning, r.line, r.column) for r in result.reading if r.inferred] == [
        ("label", "a whole number, checked at every value (inferred: it indexes p)", 5, 16)]
    wrong = check_document(text.replace("p_m - [m = y]", "p_m - [m = 1]"))
    assert wrong.status == "refuted" and wrong.first_wrong.line == 7


def test_an_index_range_from_a_sentence():
    text = ("For $K$ classes and $j = 1, \\dots, K$, let the scores be\n\n$$ g_j = j^2 $$\n\n"
            "$$ g_j = j \\cdot j $$\n")
    result = check_document(text)
    assert result.status == "proven"
    assert kinds(result, "index") == [("index", "j = 1, \\dots, K")]
    refused("Let $j \\in \\mathbb{R}$. For $j = 1, \\dots, K$ it holds.\n\n$$ f = j $$\n", "`j` is declared", 1, "j = 1")


def test_a_letter_used_as_an_index_and_as_a_number_is_an_error_at_the_number():
    refused("Let $x \\in \\mathbb{R}^D$.\n\n$$ g = m x_1 $$\n\n$$ g = x_m $$\n",
            "`m` is used here as a number and on line 5 as an index", 3, "m x_1")


def test_a_word_of_letters_is_no_product():
    refused("Let $x \\in \\mathbb{R}$.\n\n$$ f = relu(x) $$\n", "`relu` would read as a product of the letters r e l u", 3,
            "relu")


def test_the_json_tells_inferred_from_declared(tmp_path):
    (tmp_path / "doc.md").write_text("Let $a \\in \\mathbb{R}$.\n\n$$ f = a b $$\n\n$$ \\frac{\\partial f}{\\partial a} = b $$\n")
    status, out, _ = call(["check", "--format", "json", str(tmp_path / "doc.md")])
    reading = json.loads(out)["reading"]
    assert status == 0
    assert [(r["name"], r["inferred"]) for r in reading if r["kind"] == "variable"] == [("a", False), ("b", True)]


def test_a_document_with_nothing_to_read_prints_no_read_line():
    result = check_document("$$ 2 + 2 = 4 $$\n")
    assert not document_text(result).splitlines()[1].lstrip().startswith("read:")


def test_the_format_pages_note_is_what_derive_prints(tmp_path):
    page = FORMAT.read_text()
    note = re.search(r"````markdown\n(# Weighted cross-entropy\n.*?)````", page, re.DOTALL).group(1)
    assert note == WEIGHTED
    shown = re.search(r"the sentence after \*Since\* is a remark:\n\n```\n(.*?)```", page, re.DOTALL).group(1)
    (tmp_path / "weighted.md").write_text(note)
    done = subprocess.run([sys.executable, "-m", "derive", "check", "weighted.md"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, shown)


# --- built-in names a document makes its own ------------------------------------------------------

SIGMA = "Let $\\sigma > 0$ and $x \\in \\mathbb{R}$.\n\n$$ f = \\frac{x^2}{2 \\sigma^2} + 2 \\sigma $$\n\n"


def test_a_declared_sigma_is_the_documents_quantity():
    result = check_document(SIGMA + "$$ \\frac{\\partial f}{\\partial x} = \\frac{x}{\\sigma^2} $$\n")
    assert result.status == "proven"
    assert result.reading[0].meaning == "positive, a real scalar, your quantity, not the sigmoid"
    assert document_text(result).splitlines()[1] == "  read: \\sigma > 0 (not the sigmoid); x real"
    wrong = check_document(SIGMA + "$$ \\frac{\\partial f}{\\partial x} = \\frac{x}{\\sigma} $$\n")
    assert wrong.status == "refuted" and wrong.first_wrong.line == 5


def test_a_declared_sigma_before_a_paren_is_an_error_showing_both_readings():
    error = refused("Let $\\sigma \\in \\mathbb{R}$, $z \\in \\mathbb{R}$.\n\n$$ f = \\sigma(z) $$\n",
                    "`\\sigma(z)` could be the sigmoid of z or \\sigma times (z)", 3, "\\sigma(z)")
    assert "\\sigma \\cdot (z)" in error.message
    product = check_document("Let $\\sigma \\in \\mathbb{R}$, $z \\in \\mathbb{R}$.\n\n$$ f = \\sigma \\cdot (z) $$\n\n"
                             "$$ \\frac{\\partial f}{\\partial z} = \\sigma $$\n")
    assert product.status == "proven"


def test_sigma_stays_the_sigmoid_unless_declared():
    text = "Let $z \\in \\mathbb{R}$.\n\n$$ f = \\sigma(z) $$\n\n$$ \\frac{\\partial f}{\\partial z} = \\sigma(z) (1 - \\sigma(z)) $$\n"
    assert check_document(text).status == "proven"


def test_a_scalar_delta_keeps_the_kronecker_delta_and_a_family_delta_is_an_error():
    body = ("$r \\in \\mathbb{R}$, $a_1, \\dots, a_K \\in \\mathbb{R}$.\n\n$$ f = \\delta r + \\sum_k a_k \\delta_{k,1} $$\n\n"
            "$$ \\frac{\\partial f}{\\partial a_m} = [m = 1] $$\n")
    result = check_document("Let $\\delta > 0$, " + body)
    assert result.status == "proven"
    assert result.reading[0].meaning.endswith("your quantity; \\delta_{jk} stays the Kronecker delta")
    assert check_document("Let $\\delta > 0$, " + body.replace("= [m = 1]", "= [m = 2]")).status == "refuted"
    refused("Let $\\delta_1, \\dots, \\delta_K \\in \\mathbb{R}$, " + body,
            "`\\delta_{jk}` could be its member or the Kronecker delta", 3, "\\delta_{k,1}")


def test_a_family_in_an_interval_is_no_refutation_either():
    text = ("Let $c_1, \\dots, c_K \\in [0, 1]$.\n\n$$ f = \\sum_k c_k |1 - c_k| $$\n\n"
            "$$ \\frac{\\partial f}{\\partial c_m} = 1 - 2 c_m $$\n")
    (step,) = check_document(text).steps
    assert step.status == "unproven" and "declared in [0, 1]" in step.reason


def test_a_mention_declares_nothing_by_itself():
    text = "The loss is a square, where $z$ is the logit.\n\n$$ L = z^2 $$\n\n$$ \\frac{\\partial L}{\\partial z} = 2 z $$\n"
    result = check_document(text)
    assert result.status == "proven"
    assert [(r.kind, r.name, r.inferred, r.line) for r in result.reading if r.name == "z"] == [("variable", "z", True, 3)]


@pytest.mark.parametrize("written", ["\\sigma(z)", "\\sigma^2 (z)", "\\sigma \\left( z \\right)"])
def test_every_way_a_declared_sigma_could_be_the_sigmoid_is_an_error(written):
    refused(f"Let $\\sigma > 0$, $z \\in \\mathbb{{R}}$.\n\n$$ f = {written} $$\n", "could be the sigmoid of z", 3,
            "\\sigma")
