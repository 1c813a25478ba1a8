"""The math of a derivation document, as a small tree of plain data.

The parser (:mod:`derive.document.parse`) builds these nodes from LaTeX; nothing here knows
SymPy.  :mod:`derive.document.instantiate` turns a tree into SymPy at one concrete instance
(sizes, label, indices), and :func:`to_latex` prints a tree back, which is how a named mistake
shows the edited formula.  Nodes are frozen and compare by value (positions excluded), so a
mistake's edit can be tested for "did this change anything".

>>> to_latex(Add((Name("p", (Name("m"),)), Neg(Indicator(Rel("=", Name("m"), Name("y")))))))
'p_{m} - \\\\mathbb{1}[m = y]'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Node:
    """Base of every node."""


@dataclass(frozen=True)
class Num(Node):
    """An exact number: ``2``, ``0.5`` (kept as the fraction 1/2)."""

    value: Fraction


@dataclass(frozen=True)
class Name(Node):
    """A symbol as written: ``base`` is its LaTeX (``w``, ``\\lambda``, ``\\hat{y}``) and ``indices``
    its subscripts (``w_{m,k}`` has two).  ``e`` and ``\\pi`` are :class:`Const`, not names."""

    base: str
    indices: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Const(Node):
    """Euler's ``e`` or ``\\pi``."""

    name: str


@dataclass(frozen=True)
class Add(Node):
    terms: tuple[Node, ...]


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Mul(Node):
    """A product: juxtaposition, ``\\cdot`` or ``\\times``; vectors multiply as matrices."""

    factors: tuple[Node, ...]


@dataclass(frozen=True)
class Div(Node):
    numerator: Node
    denominator: Node


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Transpose(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    """A known function: ``log exp sigma tanh sign max min`` (entrywise on a vector, and so is
    ``hadamard``, the product ``\\odot`` of two arrays of one shape), ``det tr`` (of a square
    matrix), ``diag`` (of a vector: the diagonal matrix) and ``softmax`` (of a vector)."""

    function: str
    arguments: tuple[Node, ...]


@dataclass(frozen=True)
class Norm(Node):
    """``\\lVert v \\rVert``: the Euclidean norm of a vector (Frobenius for a matrix)."""

    operand: Node


@dataclass(frozen=True)
class Abs(Node):
    operand: Node


@dataclass(frozen=True)
class BigOp(Node):
    """``\\sum`` or ``\\prod`` over ``index``: from ``lower`` to ``upper`` when given, else over the
    range of the families the index subscripts; ``excluded`` is ``y`` in ``\\sum_{k \\neq y}``."""

    kind: str  # "sum" or "prod"
    index: str
    lower: Node | None
    upper: Node | None
    excluded: Node | None
    body: Node


@dataclass(frozen=True)
class Rel(Node):
    """A comparison: ``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Indicator(Node):
    """``\\mathbb{1}[m = y]``, ``[m = y]``, ``1\\{m = y\\}`` or ``\\delta_{my}``: 1 where the
    condition holds, else 0."""

    condition: Rel


@dataclass(frozen=True)
class Cases(Node):
    """``\\begin{cases}``: (value, condition) rows; a row without condition is "otherwise"."""

    rows: tuple[tuple[Node, Rel | None], ...]


@dataclass(frozen=True)
class Derivative(Node):
    """``\\frac{\\partial f}{\\partial v}``: the derivative of ``of`` with respect to ``by``.  A
    second derivative is one inside another: ``\\frac{\\partial^2 L}{\\partial a \\partial b}`` is
    ``Derivative(Derivative(L, b), a)``."""

    of: Node
    by: Node


@dataclass(frozen=True)
class MatrixLiteral(Node):
    """``\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}`` (or ``bmatrix``): rows of scalar entries."""

    rows: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True)
class Boxed(Node):
    """``\\boxed{...}``: the document's result."""

    operand: Node


@dataclass(frozen=True)
class Equation:
    """One relation ``left op right`` of a display block, where it starts in the file."""

    op: str
    left: Node
    right: Node
    line: int
    column: int
    source: str = field(default="", compare=False)
    boxed: bool = field(default=False, compare=False)


# --- walking and rebuilding trees ------------------------------------------------------


def _parts(value) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):  # indices, terms, factors, and a case's (value, condition)
        for item in value:
            yield from _parts(item)


def children(node: Node) -> Iterator[Node]:
    """The nodes directly inside ``node``, in field order."""
    for each in dataclasses.fields(node):
        yield from _parts(getattr(node, each.name))


def walk(node: Node) -> Iterator[Node]:
    """``node`` and every node inside it (no recursion, so any depth is fine).

    >>> [type(n).__name__ for n in walk(Neg(Name("x", (Name("m"),))))]
    ['Neg', 'Name', 'Name']
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def rebuild(node: Node, change: Callable[[Node], Node]) -> Node:
    """``node`` with ``change`` applied to each node directly inside it."""

    def mapped(value):
        if isinstance(value, Node):
            return change(value)
        if isinstance(value, tuple):
            return tuple(mapped(item) for item in value)
        return value

    return dataclasses.replace(node, **{each.name: mapped(getattr(node, each.name))
                                        for each in dataclasses.fields(node)})


# --- printing back to LaTeX -------------------------------------------------------------

_OPS = {"=": "=", "!=": r"\neq", "<": "<", ">": ">", "<=": r"\le", ">=": r"\ge"}
_FUNCTIONS = {"log": r"\log", "exp": r"\exp", "sigma": r"\sigma", "tanh": r"\tanh",
              "max": r"\max", "min": r"\min", "det": r"\det", "sign": r"\operatorname{sign}",
              "tr": r"\operatorname{tr}", "diag": r"\operatorname{diag}",
              "softmax": r"\operatorname{softmax}"}
_INVERSE = Neg(Num(Fraction(1)))

# Binding strength, loosest first: a child looser than its place is parenthesised.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)


def _strength(node: Node) -> int:
    if isinstance(node, Add) or (isinstance(node, Call) and node.function == "hadamard"):
        return _SUM
    if isinstance(node, (Mul, Div, BigOp)):
        return _PRODUCT if not isinstance(node, Div) else _ATOM
    if isinstance(node, Neg):
        return _UNARY
    if isinstance(node, Num):
        return _ATOM if node.value >= 0 else _PRODUCT  # 1/2 prints as \frac{1}{2}, an atom
    if isinstance(node, (Pow, Transpose)):
        return _POWER
    return _ATOM


def _wrapped(node: Node, strength: int) -> str:
    text = to_latex(node)
    return rf"\left({text}\right)" if _strength(node) < strength else text


def _negated(operand: Node) -> str:
    r"""``operand`` after a minus sign: parenthesised where it starts with a sign of its own.

    >>> print(_negated(Neg(Name("a"))))
    \left(-a\right)
    """
    text = _wrapped(operand, _PRODUCT)
    return rf"\left({text}\right)" if text.startswith("-") else text


def to_latex(node: Node) -> str:
    """The LaTeX of a tree, parenthesised where binding requires it.

    >>> to_latex(Mul((Add((Num(Fraction(1)), Neg(Name("p")))), Name("x"))))
    '\\\\left(1 - p\\\\right) x'
    """
    if isinstance(node, Num):
        value = node.value
        if value.denominator == 1:
            return str(value.numerator)
        return rf"\frac{{{value.numerator}}}{{{value.denominator}}}"
    if isinstance(node, Name):
        if not node.indices:
            return node.base
        return node.base + "_{" + ",".join(to_latex(i) for i in node.indices) + "}"
    if isinstance(node, Const):
        return "e" if node.name == "e" else r"\pi"
    if isinstance(node, Add):
        text = to_latex(node.terms[0])
        for term in node.terms[1:]:
            if isinstance(term, Neg):
                text += " - " + _negated(term.operand)
            else:
                text += " + " + to_latex(term)
        return text
    if isinstance(node, Neg):
        return "-" + _negated(node.operand)
    if isinstance(node, Mul):
        text = _wrapped(node.factors[0], _UNARY + 1)
        for factor in node.factors[1:]:
            text += (r" \cdot " if isinstance(factor, Num) else " ") + _wrapped(factor, _POWER)
        return text
    if isinstance(node, Div):
        return rf"\frac{{{to_latex(node.numerator)}}}{{{to_latex(node.denominator)}}}"
    if isinstance(node, Pow):
        if node.exponent == Num(Fraction(1, 2)):
            return r"\sqrt{" + to_latex(node.base) + "}"
        if isinstance(node.base, Const) and node.base.name == "e":
            return "e^{" + to_latex(node.exponent) + "}"
        return _wrapped(node.base, _ATOM) + "^{" + to_latex(node.exponent) + "}"
    if isinstance(node, Transpose):
        if isinstance(node.operand, Pow) and node.operand.exponent == _INVERSE:
            return _wrapped(node.operand.base, _ATOM) + "^{-T}"
        return _wrapped(node.operand, _ATOM) + "^{T}"
    if isinstance(node, Call) and node.function == "hadamard":
        return r" \odot ".join(_wrapped(a, _PRODUCT) for a in node.arguments)
    if isinstance(node, Call):
        name = _FUNCTIONS[node.function]
        arguments = ", ".join(to_latex(a) for a in node.arguments)
        return rf"{name}\left({arguments}\right)"
    if isinstance(node, Norm):
        return rf"\lVert {to_latex(node.operand)} \rVert"
    if isinstance(node, Abs):
        return rf"\lvert {to_latex(node.operand)} \rvert"
    if isinstance(node, BigOp):
        command = r"\sum" if node.kind == "sum" else r"\prod"
        if node.excluded is not None:
            limits = "_{" + node.index + r" \neq " + to_latex(node.excluded) + "}"
        elif node.lower is not None:
            limits = "_{" + node.index + "=" + to_latex(node.lower) + "}^{" + to_latex(node.upper) + "}"
        else:
            limits = "_{" + node.index + "}"
        return command + limits + " " + _wrapped(node.body, _PRODUCT)
    if isinstance(node, Rel):
        return f"{to_latex(node.left)} {_OPS[node.op]} {to_latex(node.right)}"
    if isinstance(node, Indicator):
        return r"\mathbb{1}[" + to_latex(node.condition) + "]"
    if isinstance(node, Cases):
        rows = [to_latex(v) + (" & " + to_latex(c) if c is not None else r" & \text{otherwise}")
                for v, c in node.rows]
        return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"
    if isinstance(node, Derivative):
        return _derivative_latex(node)
    if isinstance(node, Boxed):
        return r"\boxed{" + to_latex(node.operand) + "}"
    if isinstance(node, MatrixLiteral):
        rows = [" & ".join(to_latex(entry) for entry in row) for row in node.rows]
        return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"
    raise TypeError(f"not a math node: {node!r}")


def _derivative_latex(node: Derivative) -> str:
    """One fraction for derivatives one inside another, a repeated variable as a power.

    >>> x, w = Name("x"), Name("w")
    >>> _derivative_latex(Derivative(Derivative(Name("L"), x), x))
    '\\\\frac{\\\\partial^{2} L}{\\\\partial x^{2}}'
    >>> _derivative_latex(Derivative(Derivative(Name("L"), Transpose(w)), w))
    '\\\\frac{\\\\partial^{2} L}{\\\\partial w \\\\partial w^{T}}'
    """
    variables, of = [], node
    while isinstance(of, Derivative):
        variables.append(of.by)
        of = of.of
    runs: list[list] = []  # (variable, times), in the order written
    for by in variables:
        if runs and runs[-1][0] == by:
            runs[-1][1] += 1
        else:
            runs.append([by, 1])
    below = " ".join(rf"\partial {to_latex(by)}" if times == 1 else rf"\partial {_wrapped(by, _ATOM)}^{{{times}}}"
                     for by, times in runs)
    order = "" if len(variables) == 1 else f"^{{{len(variables)}}}"
    return rf"\frac{{\partial{order} {_wrapped(of, _ATOM)}}}{{{below}}}"


def equation_latex(equation: Equation) -> str:
    return f"{to_latex(equation.left)} {_OPS[equation.op]} {to_latex(equation.right)}"
