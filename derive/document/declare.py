"""What the symbols of a document are: sizes, variables, labels, constraints and definitions.

A document is read into one :class:`Document`: its declarations (from *Let* / *where*
paragraphs), its definitions (``f_j = w_j^T x``: a new name on the left) and its steps (every
other relation, in order).  Nothing here is concrete yet; :mod:`derive.document.instantiate`
gives the sizes and labels values.

>>> doc = read_document(Source("Let $x \\\\in \\\\mathbb{R}^D$, $a \\\\in \\\\mathbb{R}$.\\n\\n$$ f = a x^T x $$\\n"
...                            "$$ \\\\frac{\\\\partial f}{\\\\partial a} = \\\\lVert x \\\\rVert^2 $$\\n"))
>>> sorted(doc.variables), sorted(doc.sizes), [d.base for d in doc.definitions], len(doc.steps)
(['a', 'x'], ['D'], ['f'], 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from derive.document.ast import Equation, Name, Node, Num, walk
from derive.document.markdown import RELATION_FIRST, Declarations, Display, Prose, split_document
from derive.document.parse import parse_declaration, parse_equations
from derive.document.source import Source


@dataclass(frozen=True)
class Range:
    """Integers ``lower .. upper`` (inclusive), the bounds expressions in the sizes."""

    lower: Node | None  # None: ``upper`` members numbered from where the document numbers (0 or 1)
    upper: Node


@dataclass
class Variable:
    """A declared real quantity: a scalar, a vector in ``R^D``, a matrix in ``R^{K x D}``, or a
    family of them (``w_1, ..., w_K``: ``members`` is that range).  ``sign`` is ``positive`` or
    ``nonnegative`` when declared so.  A matrix's rows are also the family named by its lowercase
    letter (``W`` gives ``w_j``), unless that letter is declared itself."""

    base: str
    members: tuple[Range, ...]
    dims: tuple[Node, ...]
    sign: str | None = None
    row_of: str | None = None


@dataclass
class Label:
    """A declared integer: the label ``y`` in ``{1, ..., K}`` (or a family ``y_1, ..., y_N``);
    ``values`` is a Range or an explicit tuple of numbers like ``(0, 1)``."""

    base: str
    members: tuple[Range, ...]
    values: Range | tuple[int, ...]


@dataclass
class Definition:
    """``base_{indices} = value``, where it is written."""

    base: str
    indices: tuple[str, ...]
    value: Node
    equation: Equation


@dataclass
class Step:
    """A claimed relation, the prose before it, and the definition it follows (if any)."""

    equation: Equation
    prose: str = ""


@dataclass
class Document:
    source: Source
    front: dict[str, str]
    sizes: dict[str, list[int]] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    constraints: list[Equation] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    #: The document in order, for pages: ("prose", text) and ("display", [Definition | Step]).
    outline: list[tuple[str, object]] = field(default_factory=list)
    zero_based: bool = False

    @property
    def title(self) -> str:
        return self.front.get("title", "")

    def definition(self, base: str) -> Definition | None:
        return self._by_base.get(base)

    @property
    def _by_base(self) -> dict[str, Definition]:
        """The definitions by name, rebuilt when one was added (names are defined once)."""
        cached = self.__dict__.get("_definitions_by_base")
        if cached is None or len(cached) != len(self.definitions):
            cached = {d.base: d for d in self.definitions}
            self.__dict__["_definitions_by_base"] = cached
        return cached

    def known(self, base: str) -> bool:
        return (base in self.sizes or base in self.variables or base in self.labels
                or self.definition(base) is not None)


def read_document(source: Source) -> Document:
    """Split, parse and sort a document's math into a :class:`Document`."""
    parts = split_document(source)
    document = Document(source, parts.front)
    for piece in parts.pieces:
        if isinstance(piece, Declarations):
            for inline in piece.math:
                _declare(document, inline.text, inline.offset)
        elif isinstance(piece, Display):
            document.outline.append(("display", []))
            _display(document, piece)
        elif isinstance(piece, Prose):
            document.outline.append(("prose", piece.text))
    _check_sizes(document)
    return document


# --- declarations ------------------------------------------------------------------------

def _declare(document: Document, text: str, offset: int) -> None:
    source = document.source
    if re.search(r"\\in(?![a-zA-Z])", text):
        _, names, kind = parse_declaration(text, source, offset)
        _declare_names(document, names, kind, offset)
        return
    for equation in parse_equations(text, source, offset):
        left, right, op = equation.left, equation.right, equation.op
        if op in (">", ">=") and isinstance(left, Name) and right == Num(Fraction(0)):
            _sign(document, left, "positive" if op == ">" else "nonnegative", offset)
        elif op in ("<", "<=") and isinstance(right, Name) and left == Num(Fraction(0)):
            _sign(document, right, "positive" if op == "<" else "nonnegative", offset)
        elif op == "=" and _definable(document, left):
            _define(document, equation)
        elif op == "=" and isinstance(left, Name) and document.definition(left.base) is not None:
            line = document.definition(left.base).equation.line
            raise source.error(offset, f"`{left.base}` is already defined (line {line}); choose another name")
        elif op == "=":
            document.constraints.append(equation)
        else:
            raise source.error(offset, "a declared inequality is `name > 0` or `name \\ge 0`")


def _sign(document: Document, name: Name, sign: str, offset: int) -> None:
    variable = document.variables.get(name.base)
    if variable is None:
        document.variables[name.base] = variable = Variable(name.base, (), ())
    variable.sign = sign


def _members(document: Document, names, offset: int) -> list[tuple[str, tuple[Range, ...]]]:
    """``a, b`` are two names; ``w_1, \\dots, w_K`` is one family over ``1..K``."""
    source, out, i = document.source, [], 0
    names = list(names)
    while i < len(names):
        name = names[i]
        if name == "dots":
            raise source.error(offset, "`\\dots` stands between two members, as in w_1, \\dots, w_K")
        if not isinstance(name, Name):
            raise source.error(offset, "declare names, as in x \\in \\mathbb{R}^D")
        if i + 2 < len(names) and names[i + 1] == "dots":
            last = names[i + 2]
            if not (isinstance(last, Name) and last.base == name.base and len(name.indices) == len(last.indices)):
                raise source.error(offset, f"`{name.base}_..., \\dots, ...` must end with the same name")
            out.append((name.base, tuple(Range(a, b) for a, b in zip(name.indices, last.indices))))
            i += 3
            continue
        if name.indices:
            raise source.error(offset, f"declare the family `{name.base}` with its range, "
                               f"as in {name.base}_1, \\dots, {name.base}_K")
        out.append((name.base, ()))
        i += 1
    return out


def _declare_names(document: Document, names, kind, offset: int) -> None:
    source = document.source
    for base, members in _members(document, names, offset):
        if document.known(base) and base not in document.variables:
            raise source.error(offset, f"`{base}` is declared twice")
        for member in members:
            _note_sizes(document, member.lower, offset)
            _note_sizes(document, member.upper, offset)
        if kind[0] == "naturals":
            if members:
                raise source.error(offset, "a size is one name, as in K \\in \\mathbb{N}")
            document.sizes.setdefault(base, [])
        elif kind[0] == "reals":
            _, sign, dims = kind
            for dim in dims:
                _note_sizes(document, dim, offset)
            if len(dims) > 2:
                raise source.error(offset, "at most two dimensions, as in \\mathbb{R}^{K \\times D}")
            previous = document.variables.get(base)
            sign_name = None
            if sign is not None:
                op, bound = sign
                if bound != Num(Fraction(0)) or op not in (">", ">="):
                    raise source.error(offset, "only \\mathbb{R}_{>0} and \\mathbb{R}_{\\ge 0} are supported")
                sign_name = "positive" if op == ">" else "nonnegative"
            document.variables[base] = Variable(base, members, tuple(dims),
                                                sign_name or (previous.sign if previous else None))
            if len(dims) == 2 and not members and base.isalpha() and base.isupper():
                row = base.lower()
                if row not in document.variables:
                    document.variables[row] = Variable(row, (Range(None, dims[0]),),
                                                       (dims[1],), row_of=base)
        else:
            values = _finite_set(document, kind[1], offset)
            if base in document.variables:
                raise source.error(offset, f"`{base}` is declared twice")
            document.labels[base] = Label(base, members, values)


def _finite_set(document: Document, items, offset: int):
    source = document.source
    if len(items) == 3 and items[1] == "dots":
        lower, upper = items[0], items[2]
        _note_sizes(document, upper, offset)
        if lower == Num(Fraction(0)):
            document.zero_based = True
        return Range(lower, upper)
    values = []
    for item in items:
        if not (isinstance(item, Num) and item.value.denominator == 1):
            raise source.error(offset, "a label set is {1, \\dots, K} or a list of whole numbers like {0, 1}")
        values.append(int(item.value))
    return tuple(values)


def _note_sizes(document: Document, node: Node, offset: int) -> None:
    """Names inside a dimension or a range bound are sizes."""
    for current in walk(node):
        if isinstance(current, Name) and not current.indices:
            if current.base in document.variables or current.base in document.labels:
                raise document.source.error(offset, f"`{current.base}` is used as a size but declared otherwise")
            document.sizes.setdefault(current.base, [])


# --- display math ------------------------------------------------------------------------

def _display(document: Document, display: Display) -> None:
    source = document.source
    previous: Node | None = None
    for row in display.rows:
        text = row.text
        if row.continues:
            if previous is None:
                raise source.error(row.offset, "a row starting with a relation needs a row before it")
            # The row reads "= rest": parse "0 = rest" in place (the 0 over the blank before the
            # sign, or just before the row), then put the previous row's last side on the left.
            start = RELATION_FIRST.match(text).start(1)
            stand_in = "0" + text if start == 0 else text[:start - 1] + "0" + text[start:]
            equations = parse_equations(stand_in, source, row.offset - (start == 0))
            if not equations:
                raise source.error(row.offset, "expected a relation")
            first = equations[0]
            equations[0] = Equation(first.op, previous, first.right, first.line, first.column,
                                    source=first.source)
        else:
            equations = parse_equations(text, source, row.offset)
        for k, equation in enumerate(equations):
            # A relation starts afresh unless it continues a chain (its left side is the right
            # side of the relation before it) or the row before: `a = b, c = d` defines `c` too.
            is_start = (not row.continues) if k == 0 else equation.left is not equations[k - 1].right
            if is_start and equation.op == "=" and _definable(document, equation.left):
                _define(document, equation)
                document.outline[-1][1].append(document.definitions[-1])
            else:
                document.steps.append(Step(equation, display.prose))
                document.outline[-1][1].append(document.steps[-1])
        if equations:
            previous = equations[-1].right


def _definable(document: Document, left: Node) -> bool:
    """A name not declared or defined yet, its subscripts plain index letters."""
    return (isinstance(left, Name) and not document.known(left.base)
            and all(isinstance(i, Name) and not i.indices and len(i.base) == 1 and not document.known(i.base)
                    for i in left.indices))


def _define(document: Document, equation: Equation) -> None:
    left = equation.left
    indices = tuple(i.base for i in left.indices)
    if len(set(indices)) != len(indices):
        raise document.source.error(_offset(document, equation), "a definition's indices must differ")
    document.definitions.append(Definition(left.base, indices, equation.right, equation))


def _offset(document: Document, equation: Equation) -> int:
    starts = document.source._line_starts
    return starts[equation.line - 1] + equation.column - 1


def _check_sizes(document: Document) -> None:
    for name in document.sizes:
        if len(name) != 1 and not name.startswith("\\"):
            raise document.source.error(0, f"size `{name}` must be one letter")
