"""The derivation-document parser: what it reads, how things bind, and how it refuses.

Three tables: ``GOLDEN`` (LaTeX in, the tree printed back by ``to_latex`` out), ``BINDING``
(precedence facts as trees), and ``BAD`` (a document, the message and the exact line:column,
with the text the caret must stand on).  Every refusal is a ``DocumentError`` whose ``str()``
is ``path:line:col: message``, the offending line and a caret under the column; nothing the
parser reads is ever evaluated.
"""

import builtins
import importlib
import re
from fractions import Fraction
from pathlib import Path

import pytest
import sympy

import derive.document
from derive.document.ast import (
    Add, BigOp, Call, Const, Derivative, Div, Indicator, Mul, Name, Neg, Num, Pow, Rel, Transpose,
    equation_latex, to_latex,
)
from derive.document.check import check_document
from derive.document.declare import read_document
from derive.document.markdown import MAX_DOCUMENT_CHARS
import derive.document.parse as parse_module
from derive.document.parse import MAX_DEPTH, MAX_MATH_CHARS, parse_equations
from derive.document.source import SHOWN_WIDTH, DocumentError, Source, shown_line

DOCUMENT_DIR = Path(derive.document.__file__).parent
CATALOG = DOCUMENT_DIR.parent / "catalog"


def equations(latex: str) -> list[str]:
    return [equation_latex(e) for e in parse_equations(latex)]


def expr(latex: str):
    """The right side of ``y = latex``."""
    (equation,) = parse_equations("y = " + latex)
    return equation.right


# --- golden: the notation the format accepts ------------------------------------------------

GOLDEN = [
    # fractions and derivatives
    (r"y = \frac{a}{b}", r"y = \frac{a}{b}"),
    (r"y = \dfrac{a}{b} - \tfrac{1}{2}", r"y = \frac{a}{b} - \frac{1}{2}"),
    (r"y = \tfrac12 a", r"y = \frac{1}{2} a"),
    (r"y = \frac 1 2 + \frac1x", r"y = \frac{1}{2} + \frac{1}{x}"),
    (r"y = \frac{\partial L}{\partial w_m}", r"y = \frac{\partial L}{\partial w_{m}}"),
    (r"y = \frac{\partial}{\partial a} (a b)", r"y = \frac{\partial \left(a b\right)}{\partial a}"),
    (r"\nabla_W L = x", r"\frac{\partial L}{\partial W} = x"),
    (r"\nabla_{w_m} L = x", r"\frac{\partial L}{\partial w_{m}} = x"),
    # sums and products
    (r"y = \sum_{k} e^{f_k}", r"y = \sum_{k} e^{f_{k}}"),
    (r"y = \sum_k e^{f_k}", r"y = \sum_{k} e^{f_{k}}"),
    (r"y = \sum_{k=1}^{K} a_k", r"y = \sum_{k=1}^{K} a_{k}"),
    (r"y = \sum_{k \neq y} p_k", r"y = \sum_{k \neq y} p_{k}"),
    (r"y = \prod_{i=1}^{N} p_i", r"y = \prod_{i=1}^{N} p_{i}"),
    (r"y = \frac{1}{N}\sum_{i=1}^{N} a_i", r"y = \frac{1}{N} \left(\sum_{i=1}^{N} a_{i}\right)"),
    # functions
    (r"y = \log p_y", r"y = \log\left(p_{y}\right)"),
    (r"y = \ln x", r"y = \log\left(x\right)"),
    (r"y = \exp(f_j)", r"y = \exp\left(f_{j}\right)"),
    (r"y = e^{f_j - 1}", r"y = e^{f_{j} - 1}"),
    (r"y = \sigma(z)", r"y = \sigma\left(z\right)"),
    (r"y = \tanh z", r"y = \tanh\left(z\right)"),
    (r"y = \tanh^2(z)", r"y = \tanh\left(z\right)^{2}"),
    (r"y = \max(0, s)", r"y = \max\left(0, s\right)"),
    (r"y = \min(a, b)", r"y = \min\left(a, b\right)"),
    # products
    (r"y = a \cdot b", r"y = a b"),
    (r"y = a \times b", r"y = a b"),
    (r"y = 2 a b", r"y = 2 a b"),
    (r"y = x^2 3", r"y = x^{2} \cdot 3"),
    # transposes and subscripts
    (r"y = w_j^T x", r"y = w_{j}^{T} x"),
    (r"y = w^\top x", r"y = w^{T} x"),
    (r"y = x^{T} + x^\intercal", r"y = x^{T} + x^{T}"),
    (r"y = w_m + w_{m,k} + W_{jk}", r"y = w_{m} + w_{m,k} + W_{j,k}"),
    (r"y = p_{y_i}", r"y = p_{y_{i}}"),
    (r"y = x_i^2 + x^2_i", r"y = x_{i}^{2} + x_{i}^{2}"),
    # brackets and indicators
    (r"y = \left( a + b \right) c", r"y = \left(a + b\right) c"),
    (r"y = \bigl( a \bigr) \Big[ m = y \Big]", r"y = a \mathbb{1}[m = y]"),
    (r"y = \left\{ a \right\} + ((b))", r"y = a + b"),
    (r"y = \mathbb{1}[m = y]", r"y = \mathbb{1}[m = y]"),
    (r"y = 1\{m = y\}", r"y = \mathbb{1}[m = y]"),
    (r"y = \mathbb{1}_{m=y}", r"y = \mathbb{1}[m = y]"),
    (r"y = \delta_{my}", r"y = \mathbb{1}[m = y]"),
    (r"y = [m = y]", r"y = \mathbb{1}[m = y]"),
    (r"y = \mathbb{1}[z > 0]", r"y = \mathbb{1}[z > 0]"),
    (r"y = \mathbb{1}[m \neq y] x", r"y = \mathbb{1}[m \neq y] x"),
    # norms and absolute values
    (r"y = \lVert x \rVert^2", r"y = \lVert x \rVert^{2}"),
    (r"y = \|x\|^2", r"y = \lVert x \rVert^{2}"),
    (r"y = \lVert x \rVert_2", r"y = \lVert x \rVert"),
    (r"y = |u| + \lvert v \rvert", r"y = \lvert u \rvert + \lvert v \rvert"),
    (r"y = (|\mathbf{x}|)", r"y = \lvert x \rvert"),
    # names
    (r"y = \alpha + \lambda \beta_k - \Omega", r"y = \alpha + \lambda \beta_{k} - \Omega"),
    (r"y = \pi r^2", r"y = \pi r^{2}"),
    (r"y = \hat{y} - \bar x", r"y = \hat{y} - \bar{x}"),
    (r"y = \mathbf{x} + \boldsymbol{w} + \mathbf x", r"y = x + w + x"),
    # decoration ignored
    (r"y = a \text{ for all } b", r"y = a b"),
    (r"y = a\,b\;c\quad d\qquad f\!g", r"y = a b c d f g"),
    (r"y = a % a comment: $ \input{x} }", r"y = a"),
    (r"y = a \nonumber", r"y = a"),
    # cases and boxes
    (r"y = \begin{cases} p_y (1 - p_y) & \text{if } m = y \\ -p_y p_m & \text{if } m \neq y \end{cases}",
     r"y = \begin{cases} p_{y} \left(1 - p_{y}\right) & m = y \\ -p_{y} p_{m} & m \neq y \end{cases}"),
    (r"y = \begin{cases} 1 & z > 0 \\ 0 & \text{otherwise} \end{cases}",
     r"y = \begin{cases} 1 & z > 0 \\ 0 & \text{otherwise} \end{cases}"),
    (r"\boxed{\frac{\partial L}{\partial w_m} = x}", r"\frac{\partial L}{\partial w_{m}} = x"),
    (r"y = \boxed{a}", r"y = \boxed{a}"),
    # numbers
    (r"y = a^{-1} + 0.5 a", r"y = a^{-1} + \frac{1}{2} a"),
]


@pytest.mark.parametrize("latex, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden(latex, expected):
    assert "; ".join(equations(latex)) == expected


@pytest.mark.parametrize("latex, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_printing_back_reads_the_same_tree(latex, expected):
    for equation in parse_equations(latex):
        for side in (equation.left, equation.right):
            assert _decimals_as_fractions(expr(to_latex(side))) == _decimals_as_fractions(side)


def _decimals_as_fractions(node):
    """``Num(1/2)`` as ``Div(1, 2)``: how ``\\frac{1}{2}``, its printed form, reads back."""
    if isinstance(node, Num) and node.value.denominator != 1:
        return Div(Num(Fraction(node.value.numerator)), Num(Fraction(node.value.denominator)))
    if isinstance(node, tuple):
        return tuple(_decimals_as_fractions(c) for c in node)
    if hasattr(node, "__dataclass_fields__"):
        return type(node)(*(_decimals_as_fractions(getattr(node, f)) for f in node.__dataclass_fields__))
    return node


def test_relations_chains_and_commas():
    assert equations(r"a = b = c") == ["a = b", "b = c"]
    assert equations(r"a = b, c \neq d, e \le f, g < h, i \geq j.") == [
        "a = b", r"c \neq d", r"e \le f", "g < h", r"i \ge j"]
    assert equations(r"y = a") == ["y = a"]
    assert equations(r"\frac{a}{b}") == []  # a lone expression states nothing


def test_equation_positions_are_their_relation_signs():
    text = r"a = b, \boxed{c = d}, e = f"
    assert [(e.line, e.column, e.boxed) for e in parse_equations(text)] == [
        (1, 3, False), (1, 17, True), (1, 25, False)]


# --- binding ----------------------------------------------------------------------------------

a, b, c, x, z = (Name(n) for n in "abcxz")
two = Num(Fraction(2))


def sub(base, index):
    return Name(base, (Name(index),))


BINDING = [
    (r"\log a b", Mul((Call("log", (a,)), b))),
    (r"\log \frac{a}{b}", Call("log", (Div(a, b),))),
    (r"\log \sum_k a_k", Call("log", (BigOp("sum", "k", None, None, None, sub("a", "k")),))),
    (r"\sum_k a_k b_k + c", Add((BigOp("sum", "k", None, None, None, Mul((sub("a", "k"), sub("b", "k")))), c))),
    (r"\sum_k (a_k + b_k)", BigOp("sum", "k", None, None, None, Add((sub("a", "k"), sub("b", "k"))))),
    (r"-a b", Neg(Mul((a, b)))),
    (r"-\log a", Neg(Call("log", (a,)))),
    (r"\sigma(z)^2", Pow(Call("sigma", (z,)), two)),
    (r"\sigma(z)^T", Transpose(Call("sigma", (z,)))),
    (r"\exp(x)^2", Pow(Call("exp", (x,)), two)),
    (r"\exp x^2", Call("exp", (Pow(x, two),))),
    (r"\tanh^2(z)", Pow(Call("tanh", (z,)), two)),
    (r"a/b c", Mul((Div(a, b), c))),
    (r"a - b - c", Add((a, Neg(b), Neg(c)))),
    (r"a - (b - c)", Add((a, Neg(Add((b, Neg(c))))))),
    (r"a^{b^c}", Pow(a, Pow(b, c))),
    (r"(a b)^2", Pow(Mul((a, b)), two)),
    (r"e^{x}", Pow(Const("e"), x)),
    (r"\frac12 x", Mul((Div(Num(Fraction(1)), two), x))),
    (r"\frac123", Mul((Div(Num(Fraction(1)), two), Num(Fraction(3))))),
    (r"\frac{\partial}{\partial a} a b + c", Add((Derivative(Mul((a, b)), a), c))),  # runs like a sum
    (r"\frac{\partial}{\partial a} (a + b) c", Derivative(Mul((Add((a, b)), c)), a)),
    (r"1\{a = b\} c", Mul((Indicator(Rel("=", a, b)), c))),
    (r"c \mathbb{1}[a = b]", Mul((c, Indicator(Rel("=", a, b))))),
    (r"\mathbf{x} + \boldsymbol{x}", Add((x, x))),
]


@pytest.mark.parametrize("latex, tree", BINDING, ids=[b[0] for b in BINDING])
def test_binding(latex, tree):
    assert expr(latex) == tree


# --- documents --------------------------------------------------------------------------------

def test_aligned_chain_rows_and_their_positions():
    text = (
        "Let $a, x \\in \\mathbb{R}$.\n"
        "\n"
        "$$\n"
        "\\begin{aligned}\n"
        "f &= \\left(x + a\\right)^2 % the definition\n"
        "\\\\\n"
        "  &= x^2 + 2 a x + a^2 \\\\\n"
        "\\left(x + a\\right)^2 &\\le 2 x^2 + 2 a^2\n"
        "\\end{aligned}\n"
        "$$\n"
    )
    document = read_document(Source(text, "aligned.md"))
    assert [d.base for d in document.definitions] == ["f"]
    assert [(s.equation.line, s.equation.column, s.equation.op) for s in document.steps] == [
        (7, 4, "="), (8, 23, "<=")]
    assert to_latex(document.steps[0].equation.left) == r"\left(x + a\right)^{2}"


def test_bracket_display_and_comments_in_a_document():
    text = "Let $a \\in \\mathbb{R}$. % a comment\n\n\\[ f = a^2 \\]\n\n$$ g = a % no } here\n + 1 $$\n"
    document = read_document(Source(text, "d.md"))
    assert [equation_latex(d.equation) for d in document.definitions] == ["f = a^{2}", "g = a + 1"]


def test_the_catalog_reads():
    documents = sorted(CATALOG.glob("*.md"))
    assert documents
    for path in documents:
        document = read_document(Source(path.read_text(encoding="utf-8"), str(path)))
        assert document.steps, path


def test_the_seed_document_reads_as_written():
    path = CATALOG / "softmax-cross-entropy.md"
    document = read_document(Source(path.read_text(encoding="utf-8"), str(path)))
    assert sorted(document.sizes) == ["D", "K"]
    assert sorted(document.labels) == ["y"]
    assert [d.base for d in document.definitions][:5] == ["f", "p", "L", "g", "h"]
    assert equation_latex(document.definitions[1].equation) == r"p_{j} = \frac{e^{f_{j}}}{\sum_{k} e^{f_{k}}}"
    boxed = [s.equation for s in document.steps if s.equation.boxed]
    assert [equation_latex(e) for e in boxed] == [
        r"\frac{\partial L}{\partial w_{m}} = \left(p_{m} - \mathbb{1}[m = y]\right) x"]


# --- bad input ------------------------------------------------------------------------------

LET = "Let $a, b, x, z \\in \\mathbb{R}$.\n\n"


def display(math: str) -> str:
    """A document whose line 3 is ``$$ y = math $$``: math's first character is column 8."""
    return LET + "$$ y = " + math + " $$\n"


DEEP = 100
BAD = [
    # (document, message fragment, line, column, the text the caret stands on)
    (display(r"\frac{a}{b"), "`{` is never closed", 3, 16, "{b"),
    (display(r"{a + b"), "`{` is never closed", 3, 8, "{a + b"),
    (display(r"a + b}"), "`}` closes nothing", 3, 13, "}"),
    (display(r"(a + b]"), "`]` does not match the open `(`", 3, 14, "]"),
    (display(r"\mathbf{x"), "`{` is never closed", 3, 15, "{x"),
    (display(r"\text{abc"), r"`\text{` is never closed", 3, 13, "{abc"),
    (display(r"\} a"), r"`\}` closes nothing", 3, 8, r"\}"),
    (display(r"\foo"), r"unknown command `\foo`", 3, 8, r"\foo"),
    (display(r"\operatorname{foo}(z)"), r"unknown function `foo`", 3, 8, r"\operatorname"),
    (display(r"\frac{d^2 a}{dx\, dz}"), "a Leibniz derivative is", 3, 8, r"\frac{d^2"),
    (LET + "$$ \\input{/etc/passwd} $$\n", r"`\input` is not allowed", 3, 4, r"\input"),
    (display(r"\include{notes}"), r"`\include` is not allowed", 3, 8, r"\include"),
    (LET + "$$ \\def\\x{1} $$\n", r"`\def` is not allowed", 3, 4, r"\def"),
    (LET + "$$ \\newcommand{\\x}{1} $$\n", r"`\newcommand` is not allowed", 3, 4, r"\newcommand"),
    (display(r"\immediate\write18{rm -rf /}"), r"`\immediate` is not allowed", 3, 8, r"\immediate"),
    (display("__import__('os').system('ls')"), "unexpected `_` here", 3, 8, "__import__"),
    (LET + "Let $f = __import__('os')$.\n", "unexpected `_` here", 3, 10, "__import__"),
    (display("a'"), "primes (g') are not supported", 3, 9, "'"),
    (display("x^{99999999999999}"), "number longer than 12 digits", 3, 11, "99999999999999"),
    (display("a^12"), "write {12}", 3, 10, "12"),
    (display("x_12"), "write {12}", 3, 10, "12"),
    # nesting: an error at the first place too deep, never a RecursionError
    (display("(" * DEEP + "a" + ")" * DEEP), f"brackets nested more than {MAX_DEPTH} deep", 3, 8 + MAX_DEPTH, "((("),
    (display(r"\frac{" * DEEP + "a" + "}{b}" * DEEP), f"brackets nested more than {MAX_DEPTH} deep",
     3, 8 + 6 * MAX_DEPTH + 5, "{" + "\\frac{"),
    (display("- " * 1500 + "a"), f"expression nested more than {MAX_DEPTH} deep", 3, 8 + 2 * MAX_DEPTH, "- - "),
    (display("a/" * 300 + "a"), f"expression nested more than {MAX_DEPTH} deep", 3, 8, "a/a/"),
    (display("- " * 5000 + "a"), f"math longer than {MAX_MATH_CHARS} characters", 3, 3, " y = - -"),
    (display(" ".join("a" * 3000)), f"math longer than {MAX_MATH_CHARS} characters", 3, 3, " y = a a"),
    # bars
    (display("|a + b"), "unpaired |", 3, 8, "|a"),
    (display("a + b|"), "unpaired |", 3, 13, "|"),
    (display(r"(|a) + b|"), "unpaired |", 3, 9, "|a)"),
    (display(r"\frac{\partial L}{\partial \eta} \Big|_{\eta=0}"), r"evaluation bar like \Big|_{\eta=0} is not supported",
     3, 45, "|_{"),
    (display(r"\lVert x"), "the math ends too early", 3, 15, "x"),
    # control characters
    (display("a + \x00 b"), "control character U+0000 in the math", 3, 12, "\x00"),
    (display("a \x1b[31m b"), "control character U+001B in the math", 3, 10, "\x1b"),
    (display("a \\\x07"), "control character U+0007 in the math", 3, 11, "\x07"),
    (display("a \x03 b"), "control character U+0003 in the math", 3, 10, "\x03"),
    # misplaced constructs
    (display(r"\sum_{k}^{K} a_k"), "needs both limits", 3, 8, r"\sum"),
    (display(r"\sum x"), "needs its index below it", 3, 8, r"\sum"),
    (display(r"\log_2 x"), r"`\log` takes no subscript", 3, 8, r"\log"),
    (display(r"\mathbb{1}"), r"`\mathbb{1}` needs a condition", 3, 8, r"\mathbb{1}"),
    (display(r"\boxed{a = b}"), r"\boxed{...} around an equation must be the whole equation", 3, 8, r"\boxed"),
    (display(r"\begin{cases} a & b \end{cases}"), "a case's condition is a comparison", 3, 22, "a & b"),
    (display(r"(m = z)"), "a comparison `=` stands only in an indicator or a case", 3, 8, "(m = z)"),
    (display(r"a +"), "the math ends too early", 3, 10, "+"),
    (display(r"a & b"), "unexpected `&` here", 3, 10, "&"),
    (display(r"a^2^3"), "two subscripts (or two superscripts)", 3, 8, "a^2^3"),
    # environments
    (display(r"\begin{matrix} a \end{matrix}"), "unknown environment `matrix`", 3, 8, r"\begin{matrix}"),
    (display(r"\begin{cases} a & m = z \end{matrix}"), "environment `matrix` is not supported here", 3, 32,
     r"\end{matrix}"),
    (LET + "$$\n\\begin{aligned}\nf &= a\n$$\n", r"`\begin{aligned}` is never ended", 4, 1, r"\begin"),
    # the document around the math
    (LET + "$$ f = a\n\nmore text\n", "display math opened with `$$` is never closed", 3, 1, "$$ f"),
    (LET + "$$ f = a $$ and more\n", "text after the closing `$$`", 3, 12, " and more"),
    (LET + "Let $b > 0$ and $f = a.\n", "this inline `$` is not closed", 3, 17, "$f = a."),
    (LET + "$$ " + "a + " * (MAX_MATH_CHARS // 4) + "a = b $$\n", f"math longer than {MAX_MATH_CHARS}", 3, 3, " a + a"),
    ("---\ntitle x\n---\n\n" + LET, "front matter lines are `key: value`", 2, 1, "title x"),
    ("---\ntitle: x\n\n" + LET, "front matter opened with `---` is never closed", 1, 1, "---"),
    ("x" * (MAX_DOCUMENT_CHARS + 10), f"document longer than {MAX_DOCUMENT_CHARS} characters",
     1, MAX_DOCUMENT_CHARS + 1, "xxxxxxxxxx"),
]


@pytest.mark.parametrize("text, fragment, line, column, at", BAD, ids=[f"{i}:{b[1][:40]}" for i, b in enumerate(BAD)])
def test_bad_input(text, fragment, line, column, at):
    with pytest.raises(DocumentError) as caught:
        read_document(Source(text, "bad.md"))
    assert_error(caught.value, text, "bad.md", fragment, line, column, at)


def assert_error(error: DocumentError, text: str, path: str, fragment: str, line: int, column: int, at: str):
    """The error says ``fragment`` at ``line:column``, which stands on ``at``; ``str()`` shows the
    line (made visible) with a caret under that column and never a raw control character."""
    assert fragment in error.message, error.message
    assert (error.line, error.column) == (line, column), str(error)
    source_line = text.split("\n")[line - 1]
    assert source_line[column - 1:].startswith(at), (source_line, column, at)
    if len(text) <= MAX_DOCUMENT_CHARS:
        assert error.text == source_line
    else:  # the line as far as the limit: a huge document is never scanned
        assert source_line.startswith(error.text) and len(error.text) >= column
    head, shown, caret = str(error).split("\n")
    assert head == f"{path}:{line}:{column}: {error.message}"
    expected_shown, expected_caret = shown_line(error.text, column)
    assert shown == "    " + expected_shown
    assert caret == "    " + " " * expected_caret + "^"
    if len(source_line) <= SHOWN_WIDTH:
        assert expected_caret == column - 1
    else:
        assert len(shown) <= 4 + SHOWN_WIDTH + 2
    assert expected_shown[expected_caret] == shown_line(at, 1)[0][0]
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f]", str(error))


def test_every_bad_math_is_refused_inline_too():
    """The same refusals in a declaration paragraph's inline math, at the same place in the math."""
    for text, fragment, line, column, at in BAD:
        if not text.startswith(LET + "$$ y = ") or "math longer" in fragment or "environment" in fragment:
            continue
        math = text[len(LET + "$$ y = "):-len(" $$\n")]
        inline = LET + "Let $y = " + math + "$ be it.\n"
        with pytest.raises(DocumentError) as caught:
            read_document(Source(inline, "inline.md"))
        assert_error(caught.value, inline, "inline.md", fragment, line, column + 2, at)


@pytest.mark.parametrize("math", [
    "a " * 1990 + "a",                 # 1991 factors side by side
    "a" * 3990,                        # the same without spaces
    "a + " * 990 + "a",                # a long flat sum
    "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH,
    "- " * (MAX_DEPTH - 2) + "a",
])
def test_long_flat_or_just_deep_enough_math_reads(math):
    read_document(Source(display(math), "fine.md"))


def test_the_shown_line_is_cut_around_the_column():
    error = Source("a" * 500 + "$" + "b" * 500).error(500, "here")
    _, shown, caret = str(error).split("\n")
    assert len(shown) <= 4 + SHOWN_WIDTH + 2
    assert shown[caret.index("^")] == "$"


# --- checked documents: the errors that need the symbols --------------------------------------

CHECKED_BAD = [
    ("Let $x \\in \\mathbb{R}$.\n\n$$ f = x^{1000} $$\n", "exponent 1000 is larger than 64", 3, 6, "= x^{1000}"),
    # issue 14: an undeclared `z` in `x + z` is a real scalar, inferred and shown (tests/test_prose_declarations.py)
    ("Let $x \\in \\mathbb{R}$.\n\n$$ f = eval(x) $$\n", "`eval` would read as a product of the letters e v a l",
     3, 8, "eval(x)"),
]


@pytest.mark.parametrize("text, fragment, line, column, at", CHECKED_BAD, ids=[c[1] for c in CHECKED_BAD])
def test_checked_bad_input(text, fragment, line, column, at):
    with pytest.raises(DocumentError) as caught:
        check_document(text)
    assert_error(caught.value, text, "<document>", fragment, line, column, at)


# --- no code execution ------------------------------------------------------------------------

def forbid(monkeypatch, strings_only_sympify: bool = False) -> list[str]:
    """Make eval, exec, sympify (of a string, or of anything), SymPy's string parser and lambdify
    raise; returns the list of the names that were called.  The parser's cache is emptied, so
    every formula is read again under guard."""
    called: list[str] = []
    parse_module._read.cache_clear()

    def refuse(name):
        def refused(*args, **kwargs):
            called.append(name)
            raise AssertionError(f"{name} was called")
        return refused

    sympify_module = importlib.import_module("sympy.core.sympify")
    parser_module = importlib.import_module("sympy.parsing.sympy_parser")
    lambdify_module = importlib.import_module("sympy.utilities.lambdify")
    original = sympify_module.sympify

    def guarded_sympify(value, *args, **kwargs):
        if isinstance(value, str) or not strings_only_sympify:
            called.append("sympify")
            raise AssertionError(f"sympify was called on {value!r}")
        return original(value, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", refuse("eval"))
    monkeypatch.setattr(builtins, "exec", refuse("exec"))
    monkeypatch.setattr(sympy, "sympify", guarded_sympify)
    monkeypatch.setattr(sympy.core, "sympify", guarded_sympify)
    monkeypatch.setattr(sympify_module, "sympify", guarded_sympify)
    monkeypatch.setattr(parser_module, "parse_expr", refuse("parse_expr"))
    monkeypatch.setattr(sympy, "parse_expr", refuse("parse_expr"), raising=False)
    monkeypatch.setattr(sympy, "lambdify", refuse("lambdify"))
    monkeypatch.setattr(lambdify_module, "lambdify", refuse("lambdify"))
    return called


def test_checking_the_catalog_document_evaluates_no_text(monkeypatch):
    """The whole check, parse to verdict, with eval and exec refusing every call.

    A first check runs unguarded: SymPy imports modules lazily (the import system runs their code
    with exec) and on first use writes its monomial arithmetic as Python source for exec.  Both are
    SymPy's own code, never the document's text; once they are done, the check of the same
    document must call neither again, nor sympify a string, nor lambdify.
    """
    path = CATALOG / "softmax-cross-entropy.md"
    assert check_document(path).status == "proven"
    called = forbid(monkeypatch, strings_only_sympify=True)
    result = check_document(path)
    assert result.status == "proven"
    assert called == []


def test_reading_hostile_math_evaluates_nothing(monkeypatch):
    called = forbid(monkeypatch)
    for text, *_ in BAD:
        with pytest.raises(DocumentError):
            read_document(Source(text, "bad.md"))
    for latex, _ in GOLDEN:
        parse_equations(latex)
    assert called == []


FORBIDDEN_IN_SOURCE = re.compile(
    r"(?<![\w.])(eval|exec|compile|__import__)\s*\(|sympify|lambdify|\bparse_expr\b|sympy\.parsing|"
    r"importlib|pickle|marshal|subprocess|os\.system")


def test_the_document_package_has_no_evaluation_in_its_source():
    sources = sorted(DOCUMENT_DIR.glob("*.py"))
    assert len(sources) >= 8
    for path in sources:
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            assert not FORBIDDEN_IN_SOURCE.search(line), f"{path.name}:{number}: {line.strip()}"
