"""Functions and matrix calculus as notes write them (issue 14): ``\\mathrm{sign}``,
``\\operatorname{tr}``, ``\\det``, ``\\log\\det``, the inverse ``W^{-1}`` and ``W^{-T}``, bars in a
case's condition (the Huber loss), vector definitions applied entrywise, ``\\odot``, and the
indicators ``[k = m]``, ``1\\{\\cdot\\}``, ``\\mathbb{1}\\{\\cdot\\}``, ``\\delta_{jm}``.

Each notation has a right example (proven), a wrong one (refuted on its line) and, where it can
be misused, bad input (an error at its line and column)."""

import re
from pathlib import Path

import pytest

from derive.document import DocumentError, check_document
from derive.document.ast import Call, Name, to_latex
from derive.document.parse import clean, parse_expression

FORMAT = Path(__file__).resolve().parent.parent / "derive" / "document" / "format.md"


def verdicts(text: str) -> list[tuple[int, str]]:
    """(line, status) of each step."""
    return [(step.line, step.status) for step in check_document(text, path="doc.md").steps]


def first_wrong_line(text: str) -> int:
    result = check_document(text, path="doc.md")
    assert result.status == "refuted"
    return result.first_wrong.line


def refused(text: str, fragment: str, line: int, at: str) -> DocumentError:
    """The document is refused with ``fragment`` in the message, the caret on ``at`` in ``line``."""
    with pytest.raises(DocumentError) as caught:
        check_document(text, path="doc.md")
    error = caught.value
    assert fragment in error.message, error.message
    assert (error.line, error.text[error.column - 1:][:len(at)]) == (line, at), str(error)
    return error


# --- 1. a word in \mathrm or \operatorname names a function ------------------------------------

@pytest.mark.parametrize("written, function", [
    (r"\mathrm{sign}(r)", "sign"), (r"\operatorname{sign}(r)", "sign"), (r"\operatorname*{sgn}(r)", "sign"),
    (r"\mathrm{exp}(r)", "exp"), (r"\mathrm{ln}(r)", "log"), (r"\operatorname{Tr}(r)", "tr"),
    (r"\operatorname{trace}(r)", "tr"), (r"\mathit{sigmoid}(r)", "sigma"), (r"\det r", "det"),
    (r"\operatorname{diag}(r)", "diag"), (r"\mathrm{softmax}(r)", "softmax"),
])
def test_a_function_word_is_one_function_not_a_product_of_letters(written, function):
    assert parse_expression(written) == Call(function, (Name("r"),))


def test_max_and_min_as_words_take_several_arguments():
    assert parse_expression(r"\operatorname{max}(0, r)") == parse_expression(r"\max(0, r)")


@pytest.mark.parametrize("written, letters", [(r"\mathrm{d}x", "d x"), (r"\mathbf{x}", "x"),
                                              (r"\mathbf{Wx}", "W x"), (r"\mathrm{T}", "T")])
def test_a_single_letter_or_a_bold_word_stays_letters(written, letters):
    assert to_latex(parse_expression(written)) == letters


@pytest.mark.parametrize("math, word", [(r"\mathrm{ReLU}(z)", "ReLU"), (r"\operatorname{foo}(z)", "foo"),
                                        (r"\operatorname{x}(z)", "x")])
def test_an_unknown_function_word_is_an_error_at_it(math, word):
    text = f"Let $z \\in \\mathbb{{R}}$.\n\n$$ y = 2 + {math} $$\n"
    refused(text, f"unknown function `{word}`: a word in \\operatorname", 3, math[:5])


def test_cleaning_never_refuses_a_word():
    """Text is blanked (for prose, say) without reading it: only the parser names a function."""
    assert clean(r"\mathrm{onehot}(y)") == "\x05onehot" + " " * 8 + "(y)"


def test_a_named_function_takes_no_subscript():
    refused("Let $z \\in \\mathbb{R}$.\n\n$$ y = \\operatorname{sign}_2(z) $$\n",
            r"`\operatorname{sign}` takes no subscript", 3, r"\operatorname{sign}")


# --- 2. the Huber loss: bars in a case's condition, sign ---------------------------------------

HUBER = r"""Let $r \in \mathbb{R}$ and $\delta > 0$.

$$ L = \begin{cases} \frac{1}{2} r^2 & |r| \le \delta \\ \delta (|r| - \frac{\delta}{2}) & \text{otherwise} \end{cases} $$

$$ \frac{\partial L}{\partial r} = \begin{cases} r & |r| \le \delta \\ \delta \, \mathrm{sign}(r) & \text{otherwise} \end{cases} $$
"""


def test_the_huber_gradient_is_proven_except_where_a_piece_switches():
    (step,) = check_document(HUBER, path="doc.md").steps
    assert step.status == "proven"
    assert {str(kink) for kink in step.except_where} == {"Eq(r, 0)", "Eq(\\delta - r, 0)", "Eq(\\delta + r, 0)"}


@pytest.mark.parametrize("wrong", [r"\delta \, \mathrm{sign}(r) & \text{otherwise}",
                                   r"\delta & \text{otherwise}", r"r & \text{otherwise}"])
def test_a_wrong_huber_gradient_is_refuted(wrong):
    text = HUBER.replace(r"\delta \, \mathrm{sign}(r) & \text{otherwise}", wrong)
    if wrong.startswith(r"\delta \,"):
        text = text.replace(r"r & |r| \le \delta \\", r"-r & |r| \le \delta \\")
    assert first_wrong_line(text) == 5


@pytest.mark.parametrize("condition", [r"\lVert x \rVert \le 1", r"1 \ge \|x\|", r"\lvert x_1 \rvert < 1"])
def test_a_norm_or_an_absolute_value_in_a_condition_is_split_on(condition):
    text = (f"Let $x \\in \\mathbb{{R}}^2$.\n\n$$ L = \\begin{{cases}} x^T x & {condition} \\\\ 1 & "
            "\\text{otherwise} \\end{cases} $$\n\n$$ \\frac{\\partial L}{\\partial x_1} = \\begin{cases} "
            f"2 x_1 & {condition} \\\\ 0 & \\text{{otherwise}} \\end{{cases}} $$\n")
    assert verdicts(text) == [(5, "proven")]
    assert first_wrong_line(text.replace("2 x_1 &", "x_1 &")) == 5


# --- 3. matrix calculus: det, log det, trace, the inverse --------------------------------------

MATRICES = "Let $W, A \\in \\mathbb{R}^{D \\times D}$ and $x \\in \\mathbb{R}^D$.\n\n"


@pytest.mark.parametrize("right, wrong", [
    (r"\frac{\partial}{\partial W} \log\det W = W^{-T}", r"\frac{\partial}{\partial W} \log\det W = W^{-1}"),
    (r"\frac{\partial}{\partial W} \log \det(W) = (W^{-1})^\top", r"\frac{\partial}{\partial W} \log \det(W) = W"),
    (r"\frac{\partial}{\partial W} \det W = \det(W) W^{-\top}", r"\frac{\partial}{\partial W} \det W = W^{-T}"),
    (r"\frac{\partial}{\partial W} \operatorname{tr}(A W) = A^T", r"\frac{\partial}{\partial W} \operatorname{tr}(A W) = A"),
    (r"\frac{\partial}{\partial x} x^T A x = (A + A^T) x", r"\frac{\partial}{\partial x} x^T A x = 2 A x"),
    (r"W W^{-1} x = x", r"W^{-1} W x = W x"),
    (r"\operatorname{tr}(A W) = \operatorname{tr}(W A)", r"\operatorname{tr}(A W) = \operatorname{tr}(A) \operatorname{tr}(W)"),
])
def test_matrix_calculus_at_small_sizes(right, wrong):
    assert verdicts(MATRICES + f"$$ {right} $$\n") == [(3, "proven")]
    assert first_wrong_line(MATRICES + f"$$ {wrong} $$\n") == 3


def test_a_transposed_log_det_gradient_is_named():
    result = check_document(MATRICES + "$$ \\frac{\\partial}{\\partial W} \\log\\det W = W^{-1} $$\n")
    assert "W^{-T}" in result.first_wrong.mistake


def test_a_scalar_inverse_is_one_over_it():
    text = "Let $a > 0$.\n\n$$ f = a^{-1} $$\n\n$$ \\frac{\\partial f}{\\partial a} = -\\frac{1}{a^2} $$\n"
    assert verdicts(text) == [(5, "proven")]
    assert first_wrong_line(text.replace("-\\frac", "\\frac")) == 5


@pytest.mark.parametrize("math, fragment", [
    (r"(x x^T x)^{-1}", "the inverse of a 2x1 array: it needs a square matrix"),
    (r"\det(x)", r"\det of a 2x1 array"),
    (r"\operatorname{tr}(B)", r"\operatorname{tr} of a 2x3 array"),
    (r"\operatorname{diag}(B)", r"\operatorname{diag} of a 2x3 matrix"),
    (r"(x x^T)^{-1}", "determinant is 0 everywhere"),
    (r"B^{2}", "a matrix's only power is ^{-1}"),
])
def test_a_function_of_the_wrong_shape_is_an_error_at_the_formula(math, fragment):
    text = (f"Let $x \\in \\mathbb{{R}}^2$ and $B \\in \\mathbb{{R}}^{{2 \\times 3}}$.\n\n$$ y = {math} $$\n\n"
            "$$ y = y $$\n")
    refused(text, fragment, 3, "=")


def test_the_inverse_transpose_prints_as_written():
    assert to_latex(parse_expression(r"W^{-\top} + W^{-T} + (W^{-1})^T")) == r"W^{-T} + W^{-T} + W^{-T}"


def test_diag_and_softmax_give_the_softmax_jacobian():
    text = ("Let $f \\in \\mathbb{R}^K$.\n\n$$ p = \\operatorname{softmax}(f) $$\n\n"
            "$$ \\frac{\\partial p_j}{\\partial f_m} = p_j ([j = m] - p_m) $$\n\n"
            "$$ \\operatorname{diag}(p) f = p \\odot f $$\n")
    assert verdicts(text) == [(5, "proven"), (7, "proven")]
    assert first_wrong_line(text.replace("([j = m] - p_m)", "(1 - p_m)")) == 5


# --- 4. vector definitions apply entrywise; the Hadamard product -------------------------------

NETWORK = r"""Let $V \in \mathbb{R}^{H \times D}$, $x \in \mathbb{R}^D$ and $g \in \mathbb{R}^H$.

$$ a = V x $$

$$ h = \tanh(a) $$

$$ s = \sigma(a) $$

$$ q = \exp(a) $$
"""


@pytest.mark.parametrize("right, wrong", [
    (r"\frac{\partial h_j}{\partial a_j} = 1 - h_j^2", r"\frac{\partial h_j}{\partial a_j} = 1 - h_j"),
    (r"\frac{\partial s_j}{\partial a_j} = s_j (1 - s_j)", r"\frac{\partial s_j}{\partial a_j} = s_j"),
    (r"\frac{\partial q_j}{\partial a_j} = q_j", r"\frac{\partial q_j}{\partial a_j} = a_j q_j"),
    (r"\frac{\partial}{\partial a} g^T h = g - g \odot h \odot h", r"\frac{\partial}{\partial a} g^T h = g \odot h"),
    (r"g \odot V x = g \circ a", r"g \odot V x = g^T a"),
])
def test_an_entry_of_a_vector_definition_runs_over_its_length(right, wrong):
    assert verdicts(NETWORK + f"\n$$ {right} $$\n") == [(11, "proven")]
    assert first_wrong_line(NETWORK + f"\n$$ {wrong} $$\n") == 11


def test_an_entry_of_a_scalar_definition_is_still_an_error():
    refused(NETWORK + "\n$$ c = g^T h $$\n\n$$ \\frac{\\partial c_j}{\\partial x_1} = 1 $$\n",
            "cannot tell which values the index j takes", 13, "=")


def test_a_hadamard_product_of_two_shapes_is_refuted_with_the_reason():
    result = check_document("Let $x \\in \\mathbb{R}^2$ and $z \\in \\mathbb{R}^3$.\n\n$$ x \\odot z = x $$\n")
    assert result.status == "refuted" and "entrywise" in result.first_wrong.failure.missing


# --- 5. indicators: [k = m], 1\{\}, \mathbb{1}\{\}, \delta_{jm} --------------------------------

SOFTMAX = r"""Let $f_1, \dots, f_K \in \mathbb{R}$.

$$ p_j = \frac{e^{f_j}}{\sum_k e^{f_k}} $$

$$ \frac{\partial p_j}{\partial f_m} = p_j (INDICATOR - p_m) $$
"""


@pytest.mark.parametrize("indicator", [r"[j = m]", r"1\{j = m\}", r"\mathbb{1}\{j = m\}", r"\mathbb{1}[m = j]",
                                       r"\delta_{jm}"])
def test_each_indicator_notation(indicator):
    assert verdicts(SOFTMAX.replace("INDICATOR", indicator)) == [(5, "proven")]
    wrong = indicator.replace("j = m", "j \\neq m").replace("m = j", "m \\neq j").replace(r"\delta_{jm}", "1")
    assert first_wrong_line(SOFTMAX.replace("INDICATOR", wrong)) == 5


# --- 6. the format page's examples of these notations --------------------------------------------

def format_example(marker: str) -> str:
    blocks = re.findall(r"````markdown\n(.*?)````", FORMAT.read_text(), re.DOTALL)
    return next(block for block in blocks if marker in block)


def test_the_format_pages_matrix_example_is_proven():
    example = format_example(r"\log\det W = W^{-T}")
    assert {status for _, status in verdicts(example)} == {"proven"}
    assert first_wrong_line(example.replace("W^{-T}", "W^{-1}")) == 9


def test_the_format_pages_huber_example_is_proven_except_where_it_says():
    example = format_example(r"\mathrm{sign}(r)")
    (step,) = check_document(example).steps
    assert step.status == "proven" and len(step.except_where) == 3
    assert "is *proven except where r = 0 or δ - r = 0 or δ + r = 0*" in FORMAT.read_text()
    assert first_wrong_line(example.replace(r"\delta \, \mathrm{sign}(r)", r"\delta")) == 5


@pytest.mark.parametrize("bars", [r"|W|", r"\lvert W \rvert", r"|W W|"])
def test_bars_around_a_matrix_are_an_error_that_asks_for_det(bars):
    refused(MATRICES + f"$$ y = \\log {bars} $$\n\n$$ y = y $$\n", r"write \det A, or |A_{ij}|", 3, "=")


def test_bars_around_a_vector_are_its_entries_absolute_values():
    text = "Let $x \\in \\mathbb{R}^3$.\n\n$$ |x| \\odot |x| = x \\odot x $$\n"
    assert verdicts(text) == [(3, "proven")]
    assert first_wrong_line(text.replace("= x \\odot x", "= x")) == 3


@pytest.mark.parametrize("math, fragment", [(r"\det W", r"\det of a 8x8 matrix would build too many nodes"),
                                            (r"W^{-1}", "the inverse of a 7x7 matrix would build too many")])
def test_a_determinant_or_an_inverse_too_large_to_build_is_refused_at_once(math, fragment):
    size = 8 if "det" in math else 7
    text = f"---\ncheck: D = {size}\n---\n\n" + MATRICES + f"$$ y = {math} $$\n\n$$ y = y $$\n"
    refused(text, fragment, 7, "=")


def test_the_softmax_jacobian_as_a_matrix_with_diag():
    text = ("Let $f \\in \\mathbb{R}^K$.\n\n$$ p = \\operatorname{softmax}(f) $$\n\n"
            "$$ \\frac{\\partial p}{\\partial f} = \\operatorname{diag}(p) - p p^\\top $$\n")
    assert verdicts(text) == [(5, "proven")]
    assert first_wrong_line(text.replace(" - p p^\\top", "")) == 5


def test_minus_T_with_a_declared_T_is_an_error_and_the_power_is_written_in_parentheses():
    text = ("Let $T \\in \\mathbb{N}$ and $a > 0$.\n\n$$ f = a^{-T} $$\n\n"
            "$$ \\frac{\\partial f}{\\partial a} = -T a^{(-T-1)} $$\n")
    refused(text, "`T` is declared on line 1, so `^T` could be the power T or a transpose", 3, "^{-T}")
    power = text.replace("a^{-T}", "a^{(-T)}")
    assert verdicts(power) == [(5, "proven")]
    assert first_wrong_line(power.replace("-T a^{(-T-1)}", "-T a^{(-T)}")) == 5
