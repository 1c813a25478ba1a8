"""Derivative notation as notes write it: Leibniz ``d``, the slash form, second derivatives,
Hessians and Jacobians as matrices; and ``L`` beside ``L_i`` as two quantities.

Each notation has a right example (proven), a wrong one (refuted on its line) and bad input (an
error at the ``line:column`` of the text it names).
"""

import re
from pathlib import Path

import pytest

from derive.document import check_document
from derive.document.check import symbol_column
from derive.document.ast import Derivative, Name, Transpose, to_latex
from derive.document.parse import leibniz_fractions, parse_equations
from test_reading_round2 import refused

CUBE = "Let $x \\in \\mathbb{R}$.\n\n$$ f = x^3 $$\n\n"


def verdicts(text: str) -> list[tuple[int, str]]:
    return [(step.line, step.status) for step in check_document(text, path="doc.md").steps]


# --- 1. Leibniz notation and the slash form ---------------------------------------------------

FIRST_DERIVATIVES = [
    r"\frac{df}{dx}",
    r"\frac{d f}{d x}",
    r"\frac{\mathrm{d}f}{\mathrm{d}x}",
    r"\dfrac{df}{dx}",
    r"\frac{d}{dx} f",
    r"\frac{\mathrm{d}}{\mathrm{d}x} f",
    r"\frac{d}{dx}\left(f\right)",
    r"\partial f / \partial x",
]


@pytest.mark.parametrize("written", FIRST_DERIVATIVES)
def test_a_first_derivative_written_in_each_notation_is_checked(written):
    text = CUBE + f"$$ {written} = 3 x^2 $$\n\n$$ {written} = 3 x $$\n"
    assert verdicts(text) == [(5, "proven"), (7, "refuted")]


def test_the_leibniz_operator_runs_over_the_product_after_it():
    text = CUBE + r"$$ \frac{d}{dx} x f + 1 = 4 x^3 + 1 $$" + "\n\n" + r"$$ \frac{d}{dx} x f + 1 = 4 x^3 $$" + "\n"
    assert verdicts(text) == [(5, "proven"), (7, "refuted")]


def test_leibniz_fractions_are_read_as_derivatives():
    (equation,) = parse_equations(r"\frac{\mathrm{d}}{\mathrm{d}t} (a t) = \frac{d y}{d t}")
    assert equation.left == Derivative(parse_equations("u = a t")[0].right, Name("t"))
    assert equation.right == Derivative(Name("y"), Name("t"))


def test_a_fraction_of_d_that_is_no_derivative_stays_a_quotient():
    text = ("Let $d, x \\in \\mathbb{R}$.\n\n$$ f = \\frac{d}{2} + \\frac{x d}{x} + \\frac{d}{d^2} $$\n\n"
            "$$ \\frac{\\partial f}{\\partial d} = \\frac{3}{2} - \\frac{1}{d^2} $$\n")
    assert verdicts(text) == [(5, "proven")]
    assert leibniz_fractions(r"\frac{d}{2} + \frac{x d}{x} + \frac{d}{d^2} + \frac{d_1 x}{d y}") == []


@pytest.mark.parametrize("written", [r"\frac{dx}{dx}", r"\frac{d}{dx} x", r"\frac{\mathrm{d} x}{\mathrm{d} x}"])
def test_leibniz_notation_is_an_error_when_d_is_a_quantity(written):
    error = refused("Let $d, x \\in \\mathbb{R}$.\n\n$$ f = d x $$\n\n" + f"$$ {written} = 1 $$\n",
                    "`d` is declared on line 1, so a fraction whose numerator and denominator start with `d` "
                    "could be a derivative or a quotient", 5, r"\frac")
    assert r"write \frac{\partial L}{\partial x} for the derivative, or call the quantity by another letter" \
        in error.message


def test_leibniz_notation_is_an_error_when_d_is_defined():
    refused(CUBE + "$$ d = 2 x $$\n\n$$ \\frac{df}{dx} = 3 x^2 $$\n", "`d` is defined on line 5", 7, r"\frac{df}")


BAD = [
    # (the step, fragment, the caret's text)
    (r"\frac{d^2 f}{dx\, dz} = 0", "a Leibniz derivative is \\frac{dL}{dx}", r"\frac{d^2"),
    (r"\frac{\partial f}{\partial x^2} = 0", "a derivative of order 1 needs 1 variable(s) below it, and 2 are",
     r"\frac"),
    (r"\frac{\partial^2 f}{\partial x} = 0", "a derivative of order 2 needs 2 variable(s) below it, and 1 is",
     r"\frac"),
    (r"\frac{\partial^5 f}{\partial x^5} = 0", "the order of a derivative is a whole number from 1 to 4", "^5"),
    (r"\frac{d^{1/2} f}{dx} = 0", "the order of a derivative is a whole number from 1 to 4", r"\frac"),
    (r"\partial_x f = 3 x^2", r"`\partial_x L` is not supported", r"\partial_x"),
    (r"\frac{d}{dx} = 3 x^2", "unexpected `=` here", "="),
    (r"3 \partial f / \partial x = 9 x^2", "stands only as a term of its own", r"\partial f"),
]


@pytest.mark.parametrize("step, fragment, at", BAD, ids=[b[1][:40] for b in BAD])
def test_bad_derivative_notation_is_an_error_at_it(step, fragment, at):
    refused(CUBE + f"$$ {step} $$\n", fragment, 5, at)


# --- 2. second derivatives and Hessians -------------------------------------------------------

MIXED = "Let $a, b \\in \\mathbb{R}$.\n\n$$ g = a^2 b^3 $$\n\n"


@pytest.mark.parametrize("written, right, wrong", [
    (r"\frac{\partial^2 g}{\partial a \partial b}", "6 a b^2", "6 a^2 b"),
    (r"\frac{\partial^{2} g}{\partial a^2}", "2 b^3", "2 a b^3"),
    (r"\frac{\partial^2}{\partial a \partial b} g", "6 a b^2", "3 a b^2"),
    (r"\frac{d^2 g}{db^2}", "6 a^2 b", "6 a b"),
    (r"\frac{d^2}{db^2} (g + a b)", "6 a^2 b", "6 a^2 b + a"),
])
def test_second_derivatives(written, right, wrong):
    text = MIXED + f"$$ {written} = {right} $$\n\n$$ {written} = {wrong} $$\n"
    assert verdicts(text) == [(5, "proven"), (7, "refuted")]


SOFTMAX = ("Let $f_1, \\dots, f_K \\in \\mathbb{R}$ and $y \\in \\{1, \\dots, K\\}$.\n\n"
           "$$ p_k = \\frac{e^{f_k}}{\\sum_{j=1}^K e^{f_j}} $$\n\n$$ L = -\\log p_y $$\n\n")


def test_the_softmax_cross_entropy_hessian_by_entries():
    step = r"\frac{\partial^2 L}{\partial f_j \partial f_m}"
    text = SOFTMAX + f"$$ {step} = p_j([j = m] - p_m) $$\n\n$$ {step} = p_j([j = m] + p_m) $$\n"
    assert verdicts(text) == [(7, "proven"), (9, "refuted")]


@pytest.mark.parametrize("written", [r"\frac{\partial^2 L}{\partial p_y \partial f_m}",
                                     r"\frac{\partial}{\partial p_y} \left(\frac{\partial L}{\partial f_m} + 1\right)"])
def test_a_second_derivative_by_a_defined_quantity_is_an_error(written):
    """Its inner derivative substitutes ``p``, so by ``p_y`` it would be 0: refused, not read so."""
    refused(SOFTMAX + f"$$ {written} = 0 $$\n", "a second derivative is taken by declared variables, not by "
            "the defined p_{y}", 7, "p_y")


def test_a_second_derivative_after_one_by_a_defined_quantity_is_checked():
    step = r"\frac{\partial^2 L}{\partial f_m \partial p_y}"
    text = SOFTMAX + f"$$ {step} = \\frac{{[m = y] - p_m}}{{p_y}} $$\n\n$$ {step} = \\frac{{[m = y]}}{{p_y}} $$\n"
    assert verdicts(text) == [(7, "proven"), (9, "refuted")]


CUBIC = "Let $w, x \\in \\mathbb{R}^D$.\n\n$$ L = \\frac{1}{3} (w^T x)^3 $$\n\n"


@pytest.mark.parametrize("written", [r"\frac{\partial^2 L}{\partial w \partial w^T}", r"\nabla^2_w L",
                                     r"\nabla_w^2 L", r"\frac{\partial^2 L}{\partial w^2}"])
def test_a_hessian_is_a_matrix(written):
    text = CUBIC + f"$$ {written} = 2 (w^T x) x x^T $$\n\n$$ {written} = (w^T x) x x^T $$\n"
    assert verdicts(text) == [(5, "proven"), (7, "refuted")]


def test_a_hessian_compared_with_a_vector_is_refuted_where_their_shapes_differ():
    text = "---\ncheck: D = 2\n---\n" + CUBIC + "$$ \\nabla^2_w L = 2 (w^T x) x $$\n"
    result = check_document(text, path="doc.md")
    assert result.status == "refuted" and "shapes" in result.steps[0].reason, result.steps[0].reason


def test_a_hessian_and_a_jacobian_compared_with_diag():
    text = SOFTMAX + ("$$ \\frac{\\partial^2 L}{\\partial f \\partial f^T} = \\operatorname{diag}(p) - p p^T $$\n\n"
                      "$$ \\frac{\\partial p}{\\partial f} = \\operatorname{diag}(p) - p p^T $$\n\n"
                      "$$ \\nabla^2_f L = \\operatorname{diag}(p) + p p^T $$\n")
    result = check_document(text, path="doc.md")
    assert [(s.line, s.status) for s in result.steps] == [(7, "proven"), (9, "proven"), (11, "refuted")]
    assert "a term's sign is flipped" in result.steps[2].mistake


# --- 3. Jacobians -------------------------------------------------------------------------

LINEAR = "Let $W \\in \\mathbb{R}^{K \\times D}$, $x \\in \\mathbb{R}^D$.\n\n$$ z = W x $$\n\n"


def test_a_jacobian_is_in_numerator_layout_and_a_transposed_claim_is_named():
    result = check_document(LINEAR + "$$ \\frac{\\partial z}{\\partial x} = W $$\n\n"
                            "$$ \\frac{\\partial z}{\\partial x} = W^T $$\n", path="doc.md")
    assert [(s.line, s.status) for s in result.steps] == [(5, "proven"), (7, "refuted")]
    assert "a transpose too many" in result.steps[1].mistake


def test_a_row_by_a_column_is_in_denominator_layout():
    step = "\\frac{\\partial z^T}{\\partial x}"
    text = "---\ncheck: K = 2, D = 3\n---\n" + LINEAR + f"$$ {step} = W^T $$\n\n$$ {step} = W $$\n"
    assert verdicts(text) == [(8, "proven"), (10, "refuted")]


def test_the_jacobian_of_a_family_written_without_its_index():
    text = ("Let $A \\in \\mathbb{R}^{K \\times K}$, $s_1, \\dots, s_K \\in \\mathbb{R}$.\n\n"
            "$$ q_k = \\sum_{j=1}^K A_{k,j} s_j^2 $$\n\n"
            "$$ \\frac{\\partial q_k}{\\partial s_j} = 2 A_{k,j} s_j $$\n\n"
            "$$ \\frac{\\partial q}{\\partial s} = \\frac{\\partial q}{\\partial s} $$\n\n"
            "$$ \\frac{\\partial q}{\\partial s} = 2 A $$\n")
    assert verdicts(text) == [(5, "proven"), (7, "proven"), (9, "refuted")]


def test_a_derivative_of_a_vector_by_a_matrix_is_an_error():
    refused(LINEAR + "$$ \\frac{\\partial z}{\\partial W} = x $$\n",
            "a derivative of a vector by a matrix, or of a matrix by a vector, is not supported", 5, "=")


# --- matrices written out ------------------------------------------------------------------------

PLANE = "Let $u \\in \\mathbb{R}^2$.\n\n$$ g = u_1^3 u_2^2 $$\n\n"


@pytest.mark.parametrize("written", [
    r"\frac{\partial^2 g}{\partial u \partial u^T} = \begin{bmatrix} 6 u_1 u_2^2 & 6 u_1^2 u_2 \\ "
    r"6 u_1^2 u_2 & 2 u_1^3 \end{bmatrix}",
    r"\nabla_u g = \begin{pmatrix} 3 u_1^2 u_2^2 \\ 2 u_1^3 u_2 \end{pmatrix}",
    r"\nabla_u g = \begin{pmatrix} 3 u_1^2 u_2^2 & 2 u_1^3 u_2 \end{pmatrix}^T",
])
def test_a_matrix_written_out_is_compared_entry_by_entry(written):
    wrong = written.replace("u_1^3", "u_1^4", 1)
    assert verdicts(PLANE + f"$$ {written} $$\n\n$$ {wrong} $$\n") == [(5, "proven"), (7, "refuted")]


@pytest.mark.parametrize("claim, fragment, at", [
    (r"\begin{pmatrix} 1 & 2 \\ 3 \end{pmatrix}", "every row of a matrix has the same number of entries",
     r"\begin"),
    (r"\begin{pmatrix} 1 \\ 2 \end{bmatrix}", "`\\begin{pmatrix}` ends with `\\end{pmatrix}`, not", r"\begin"),
    (r"\begin{pmatrix} u & u \end{pmatrix}", "a matrix's entry must be a scalar, got a 2x1 array", "="),
])
def test_a_bad_matrix_is_an_error_at_it(claim, fragment, at):
    refused(PLANE + f"$$ \\nabla_u g = {claim} $$\n", fragment, 5, at)


def test_a_matrix_prints_back_to_itself():
    (equation,) = parse_equations(r"A = \begin{bmatrix} a & -b \\ \frac{c}{2} & d^2 \end{bmatrix}^T")
    assert to_latex(equation.right) == \
        r"\begin{pmatrix} a & -b \\ \frac{c}{2} & d^{2} \end{pmatrix}^{T}"
    assert parse_equations("A = " + to_latex(equation.right))[0].right == equation.right


# --- 4. L and L_i are two quantities ------------------------------------------------------------

MEAN = "Let $w \\in \\mathbb{R}$, $x_1, \\dots, x_N \\in \\mathbb{R}$.\n\n"
PER_SAMPLE = "$$ L_i = (w x_i)^2 $$\n\n"
AVERAGE = "$$ L = \\frac{1}{N} \\sum_{i=1}^N L_i $$\n\n"
STEPS = ("$$ \\frac{\\partial L}{\\partial w} = \\frac{2 w}{N} \\sum_{i=1}^N x_i^2 $$\n\n"
         "$$ \\frac{\\partial L_i}{\\partial w} = 2 w x_i^2 $$\n\n"
         "$$ \\frac{\\partial L}{\\partial w} = 2 w \\sum_{i=1}^N x_i^2 $$\n")


@pytest.mark.parametrize("definitions", [PER_SAMPLE + AVERAGE, AVERAGE + PER_SAMPLE], ids=["L_i first", "L first"])
def test_a_loss_and_its_per_sample_family_are_two_definitions(definitions):
    result = check_document(MEAN + definitions + STEPS, path="doc.md")
    assert [(s.line, s.status) for s in result.steps] == [(7, "proven"), (9, "proven"), (11, "refuted")]
    meanings = {r.latex.split(" =")[0]: r.meaning for r in result.reading if r.kind == "definition"}
    first, second = (3, 5) if definitions.startswith(PER_SAMPLE) else (5, 3)
    assert meanings == {"L_{i}": f"a definition, a family over i; not the same quantity as L (line {second})",
                        "L": f"a definition; not the same quantity as L_{{i}} (line {first})"}


def test_a_name_with_neither_count_of_indices_is_an_error():
    refused(MEAN + PER_SAMPLE + AVERAGE + "$$ L_{1,1} = 0 $$\n",
            "`L` with 2 index(es) is neither of its definitions, L_{i} (line 3) and L (line 5)", 7, "L_{1,1}")


def test_two_forms_of_a_name_must_be_scalars():
    text = ("Let $w \\in \\mathbb{R}^D$, $x_1, \\dots, x_N \\in \\mathbb{R}^D$.\n\n$$ g_i = (w^T x_i) w $$\n\n"
            "$$ g = \\sum_{i=1}^N g_i $$\n\n$$ \\frac{\\partial (w^T g)}{\\partial w} = w $$\n")
    refused(text, "`g` names two quantities, so each must be a scalar", 3, "=")


def test_a_vector_claim_after_its_family_stays_a_claim():
    """``p = f`` does not mention ``p_k`` (nor ``p_k`` it): a claim about the family, refuted."""
    text = "Let $f_1, \\dots, f_K \\in \\mathbb{R}$.\n\n$$ p_k = 2 f_k $$\n\n$$ p = f $$\n\n$$ p = 2 f $$\n"
    assert verdicts(text) == [(5, "refuted"), (7, "proven")]


# --- 5. an error about a symbol points at the symbol ---------------------------------------------

@pytest.mark.parametrize("claim, fragment, at", [
    (r"2 x + f_1", "f is a scalar here and has no entry [1]", "f_1"),
    (r"2 x + K_1", "the size K takes no index", "K_1"),
    (r"2 x \sum_{k=1}^{K} \sigma_k", "\\sigma takes 0 index(es)", "\\sigma_k"),
])
def test_an_error_about_a_symbol_is_shown_at_it(claim, fragment, at):
    text = "Let $x \\in \\mathbb{R}$, $K \\in \\mathbb{N}$ and $\\sigma \\in \\{1, 2\\}$.\n\n" \
           "$$ f = x^2 $$\n\n" + f"$$ \\frac{{\\partial f}}{{\\partial x}} = {claim} $$\n"
    refused(text, fragment, 5, at)


def test_an_error_about_a_symbol_not_on_the_steps_line_stays_at_the_relation():
    text = "Let $x \\in \\mathbb{R}$.\n\n$$ f = x^2 $$\n\n$$\n\\frac{\\partial f}{\\partial x} + f_1\n= 2 x\n$$\n"
    error = refused(text, "f is a scalar here and has no entry [1]", 7, "=")
    assert error.column == 1


def test_a_symbol_is_found_as_a_whole_token():
    assert symbol_column(r"\sum_k s_k + \sigma_{s} = 2", "s", 17) == 22
    assert symbol_column(r"\sigmax = \sigma", r"\sigma", 1) == 11
    assert symbol_column(r"\hat{y} = y", r"\hat{y}", 9) == 1
    assert symbol_column(r"\sum_k x_k = 1", "s", 11) is None


# --- printing -----------------------------------------------------------------------------------

def test_derivatives_print_as_one_fraction():
    x, w, loss = Name("x"), Name("w"), Name("L")
    assert to_latex(Derivative(loss, x)) == r"\frac{\partial L}{\partial x}"
    assert to_latex(Derivative(Derivative(loss, x), x)) == r"\frac{\partial^{2} L}{\partial x^{2}}"
    assert to_latex(Derivative(Derivative(loss, Transpose(w)), w)) == \
        r"\frac{\partial^{2} L}{\partial w \partial w^{T}}"
    mixed = Derivative(Derivative(loss, Name("f", (Name("m"),))), Name("f", (Name("j"),)))
    assert to_latex(mixed) == r"\frac{\partial^{2} L}{\partial f_{j} \partial f_{m}}"
    (equation,) = parse_equations(to_latex(mixed) + " = 0")
    assert equation.left == mixed


# --- format.md's examples of this part --------------------------------------------------------

def _section_examples(heading: str) -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "derive" / "document" / "format.md").read_text()
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return re.findall(r"````markdown\n(.*?)````", section, re.DOTALL)


def test_the_format_pages_derivative_examples_are_proven_and_their_slips_refuted():
    hessian, literal, mean = _section_examples("## What a derivative means")
    assert verdicts(literal) == [(5, "proven")]
    assert verdicts(literal.replace("& 2 u_1^3", "& 3 u_1^3")) == [(5, "refuted")]
    assert verdicts(hessian) == [(5, "proven"), (7, "proven"), (7, "proven")]
    assert verdicts(hessian.replace("= 2 (w^T x)", "= (w^T x)"))[-1] == (7, "refuted")
    assert verdicts(mean) == [(7, "proven"), (7, "proven")]
    assert verdicts(mean.replace(r"= \frac{w}{N}", "= w"))[-1] == (7, "refuted")
