"""What the symbols of a document are: sizes, variables, labels, constraints and definitions.

A document is read into one :class:`Document`: its declarations (from *Let* / *where*
paragraphs), its definitions (``f_j = w_j^T x``: a new name on the left) and its steps (every
other relation, in order).  In a declaration paragraph a relation is read only where a sentence
states it (a constraint after *Assume* or *Given*, never in parentheses); anything else there is
an error.  Notation is never a name (``e``, ``\\pi``, ``\\sigma``), and a declared ``T`` or
``\\delta`` makes ``^T`` and ``\\delta_{jk}`` errors.  Everything read is also listed in
:attr:`Document.reading` (``derive check --explain``).  Nothing here is concrete yet;
:mod:`derive.document.instantiate` gives the sizes and labels values.

>>> doc = read_document(Source("Let $x \\\\in \\\\mathbb{R}^D$, $a \\\\in \\\\mathbb{R}$.\\n\\n$$ f = a x^T x $$\\n"
...                            "$$ \\\\frac{\\\\partial f}{\\\\partial a} = \\\\lVert x \\\\rVert^2 $$\\n"))
>>> sorted(doc.variables), sorted(doc.sizes), [d.base for d in doc.definitions], len(doc.steps)
(['a', 'x'], ['D'], ['f'], 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from derive.document.ast import Const, Equation, Indicator, Name, Node, Num, equation_latex, to_latex, walk
from derive.document.markdown import RELATION_FIRST, Declarations, Display, Inline, Prose, split_document
from derive.document.parse import clean, parse_declaration, parse_equations
from derive.document.source import DocumentError, Source


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


@dataclass(frozen=True)
class Reading:
    """One thing ``derive`` read from a document, as ``derive check --explain`` shows it.

    ``kind`` is ``size``, ``variable``, ``label``, ``assumption`` (a sign), ``constraint``,
    ``definition``, ``numbering`` or ``front matter``; ``name`` the symbol (``""`` for a
    constraint); ``latex`` what was read, in LaTeX; ``meaning`` what it means, in words;
    ``line`` and ``column`` (1-based) where it is written.
    """

    kind: str
    name: str
    latex: str
    meaning: str
    line: int
    column: int

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "latex": self.latex, "meaning": self.meaning,
                "line": self.line, "column": self.column}


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
    #: Where each symbol was first declared (or first met as a size), as offsets; signs apart.
    declared_at: dict[str, int] = field(default_factory=dict)
    signed_at: dict[str, int] = field(default_factory=dict)
    sizes_declared: set[str] = field(default_factory=set)
    #: Everything read, in document order (:class:`Reading`), filled in at the end of the read.
    reading: list[Reading] = field(default_factory=list)

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
    math: list[tuple[str, int]] = []  # every formula read, for the notation check at the end
    for piece in parts.pieces:
        if isinstance(piece, Declarations):
            for inline in piece.math:
                _declare(document, inline)
                math.append((inline.text, inline.offset))
        elif isinstance(piece, Display):
            document.outline.append(("display", []))
            _display(document, piece)
            math.extend((row.text, row.offset) for row in piece.rows)
        elif isinstance(piece, Prose):
            document.outline.append(("prose", piece.text))
    _check_sizes(document)
    _refuse_notation_clashes(document, math)
    document.reading = reading_of(document, parts.front_at)
    return document


# --- declarations ------------------------------------------------------------------------

#: The first words of a sentence that may define (``Let $g = ...$``) and that may constrain.
DEFINING_WORDS = ("let", "where", "given", "assume")
CONSTRAINING_WORDS = ("assume", "given")
#: Notation that is never a name: what each is, for messages.
RESERVED = {"e": "Euler's number (e^{x} is the exponential)", "pi": "the number \\pi"}
_FUNCTION_WORDS = re.compile(r"\s*\\(sigma|log|ln|exp|tanh|max|min|sum|prod)(?![a-zA-Z])")
_FUNCTIONS = {"sigma": "the logistic sigmoid", "log": "the logarithm", "ln": "the logarithm",
              "exp": "the exponential", "tanh": "tanh", "max": "the maximum", "min": "the minimum",
              "sum": "a sum", "prod": "a product"}


def reserved_message(node: Node) -> str | None:
    """Why ``node`` (``e`` or ``\\pi``) cannot be a symbol of the document, or None.

    >>> reserved_message(Const("e"))
    "`e` is Euler's number (e^{x} is the exponential) in derive, not a name: call this quantity by another letter"
    """
    if isinstance(node, Const):
        shown = "e" if node.name == "e" else "\\pi"
        return f"`{shown}` is {RESERVED[node.name]} in derive, not a name: call this quantity by another letter"
    return None


def _declare(document: Document, inline: Inline) -> None:
    source, text, offset = document.source, inline.text, inline.offset
    function = _FUNCTION_WORDS.match(text)
    if re.search(r"\\in(?![a-zA-Z])", text):
        try:
            _, names, kind = parse_declaration(text, source, offset)
        except DocumentError:
            if function:  # \sigma \in \mathbb{R}: a function's name declared as a quantity
                raise source.error(offset + function.start(1) - 1, _function_message(function.group(1))) from None
            raise
        if kind[0] == "reals" and kind[1] is not None:  # \mathbb{R}_{>0}: an assumption too
            _stated(document, inline, offset, DEFINING_WORDS, "an assumption", text.strip())
        _declare_names(document, names, kind, offset)
        return
    try:
        equations = parse_equations(text, source, offset)
    except DocumentError:
        if function and re.match(r"\s*(>|<|=|\\g|\\l)", text[function.end():]):
            raise source.error(offset + function.start(1) - 1, _function_message(function.group(1))) from None
        raise
    for equation in equations:
        left, right, op = equation.left, equation.right, equation.op
        at = _offset(document, equation)
        reserved = reserved_message(left) or (reserved_message(right) if op != "=" else None)
        if reserved:
            raise source.error(offset, reserved)
        if op in (">", ">=") and isinstance(left, Name) and right == Num(Fraction(0)):
            _stated(document, inline, at, DEFINING_WORDS, "an assumption", equation_latex(equation))
            _sign(document, left, "positive" if op == ">" else "nonnegative", offset)
        elif op in ("<", "<=") and isinstance(right, Name) and left == Num(Fraction(0)):
            _stated(document, inline, at, DEFINING_WORDS, "an assumption", equation_latex(equation))
            _sign(document, right, "positive" if op == "<" else "nonnegative", offset)
        elif op == "=" and _definable(document, left):
            _stated(document, inline, at, DEFINING_WORDS, "a definition", equation_latex(equation))
            _define(document, equation)
        elif op == "=" and isinstance(left, Name) and document.definition(left.base) is not None:
            line = document.definition(left.base).equation.line
            raise source.error(offset, f"`{left.base}` is already defined (line {line}); choose another name")
        elif op == "=":
            _stated(document, inline, at, CONSTRAINING_WORDS, "a constraint", equation_latex(equation),
                    equation.left)
            document.constraints.append(equation)
        else:
            raise source.error(offset, "a declared inequality is `name > 0` or `name \\ge 0`")


def _function_message(word: str) -> str:
    return (f"`\\{word}` is {_FUNCTIONS[word]} in derive (a function), not a name: "
            "call this quantity by another letter")


def _stated(document: Document, inline: Inline, at: int, words: tuple[str, ...], what: str,
            shown: str, left: Node | None = None) -> None:
    """A relation (``shown``) in a declaration paragraph is read as ``what`` (an assumption, a
    definition, a constraint) only where a sentence states one: not in parentheses (an aside),
    and in a sentence whose first word is one of ``words``."""
    source = document.source
    if inline.aside:
        raise source.error(at, f"`{shown}` stands in parentheses, an aside: derive would not read it as "
                           f"{what}. Take {what} out of the parentheses, or the remark out of the "
                           "Let/where paragraph")
    if inline.sentence in words:
        return
    if what == "a constraint":
        name = left.base if isinstance(left, Name) else None
        known = f" (`{name}` is declared, so this is no definition)" if name and document.known(name) else ""
        raise source.error(at, f"`{shown}` is not a declaration or a definition{known}: "
                           "derive takes a constraint only from a sentence that starts with *Assume* or "
                           "*Given*, and checks a claim only in display math")
    raise source.error(at, f"`{shown}` is not in a sentence that starts with *Let*, *Where*, *Given* or "
                       f"*Assume*: derive would not read it as {what}; start its sentence with one of "
                       "them, or write it in display math")


def _sign(document: Document, name: Name, sign: str, offset: int) -> None:
    document.signed_at.setdefault(name.base, offset)
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
            raise source.error(offset, reserved_message(name) or "declare names, as in x \\in \\mathbb{R}^D")
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
        document.declared_at.setdefault(base, offset)
        for member in members:
            _note_sizes(document, member.lower, offset)
            _note_sizes(document, member.upper, offset)
        if kind[0] == "naturals":
            if members:
                raise source.error(offset, "a size is one name, as in K \\in \\mathbb{N}")
            document.sizes.setdefault(base, [])
            document.sizes_declared.add(base)
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
            document.declared_at.setdefault("\\zero-based", offset)
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
            document.declared_at.setdefault(current.base, offset)


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
            if is_start and equation.op == "=" and isinstance(equation.left, Indicator) \
                    and re.match(r"\s*\\delta(?![a-zA-Z])", text):
                raise source.error(row.offset + len(text) - len(text.lstrip()),
                                   "`\\delta_{jk}` is the Kronecker delta (the indicator of j = k) in derive, "
                                   "so it cannot be defined: call this quantity by another letter")
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


# --- notation a declared name would clash with ------------------------------------------------

_TRANSPOSE_T = re.compile(r"\^\s*(?:\{\s*T\s*\}|T)")
_BIGOP_BEFORE = re.compile(r"\\(?:sum|prod)\s*(?:_\s*(?:\{[^{}]*\}|\\?[a-zA-Z]+|\S))?\s*$"
                           r"|\\(?:mathbb\s*\{\s*R\s*\}|mathbb\s*R|R)\s*$")
_DELTA_PAIR = re.compile(r"\\delta\s*_\s*\{\s*(?:\\?[a-zA-Z]+\s*,?\s*\\?[a-zA-Z]+|[^{}]*,[^{}]*)\s*\}")


def _refuse_notation_clashes(document: Document, math: list[tuple[str, int]]) -> None:
    """``^T`` reads as a transpose and ``\\delta_{jk}`` as the Kronecker delta; when ``T`` or
    ``\\delta`` is also a declared (or defined) symbol, either could mean the other, so each such
    use is an error that says how to write each meaning."""
    clashes = []
    if document.known("T"):
        clashes.append((_TRANSPOSE_T, _clash_message(document, "T", "`^T` could be the power T or a transpose: "
                        "write `^\\top` for a transpose, or `^{(T)}` for the power")))
    if document.known("\\delta"):
        clashes.append((_DELTA_PAIR, _clash_message(document, "\\delta", "`\\delta_{jk}` could be its member or "
                        "the Kronecker delta: write \\mathbb{1}[j = k] for the indicator, or call the "
                        "quantity by another letter")))
    for pattern, message in clashes:
        for text, offset in math:
            shown = clean(text)  # \text{...} and comments blanked; every character in place
            for match in pattern.finditer(text):
                if shown[match.end() - 1] != text[match.end() - 1]:
                    continue
                if pattern is _TRANSPOSE_T and _BIGOP_BEFORE.search(shown[:match.start()]):
                    continue  # \sum_{t=1}^T, \mathbb{R}^T: a limit or a dimension, not an exponent
                raise document.source.error(offset + match.start(), message)


def _clash_message(document: Document, name: str, rest: str) -> str:
    at = document.declared_at.get(name)
    if at is None and document.definition(name) is not None:
        where = f"defined on line {document.definition(name).equation.line}"
    else:
        where = f"declared on line {document.source.location(at or 0)[0]}"
    return f"`{name}` is {where}, so {rest}"


# --- the reading: everything read, for a person to see ------------------------------------------

def _range_latex(member: Range, zero_based: bool) -> str:
    lower = to_latex(member.lower) if member.lower is not None else ("0" if zero_based else "1")
    upper = to_latex(member.upper)
    return f"{lower}..{upper}" if member.lower is not None or not zero_based else f"0..{upper} - 1"


def _shape_words(dims: tuple[Node, ...]) -> tuple[str, str]:
    """The set in LaTeX and the shape in words."""
    if not dims:
        return "\\mathbb{R}", "a real scalar"
    shown = [to_latex(d) for d in dims]
    if len(dims) == 1:
        return f"\\mathbb{{R}}^{{{shown[0]}}}", f"a vector of {shown[0]} real entries"
    return (f"\\mathbb{{R}}^{{{shown[0]} \\times {shown[1]}}}",
            f"a {shown[0]} by {shown[1]} real matrix")


def _members_latex(base: str, members: tuple[Range, ...]) -> str:
    """``w`` for one symbol, ``w_{1}, \\dots, w_{K}`` for a family (as its declaration wrote it)."""
    if not members or any(m.lower is None for m in members):
        return base
    first = ", ".join(to_latex(m.lower) for m in members)
    last = ", ".join(to_latex(m.upper) for m in members)
    return f"{base}_{{{first}}}, \\dots, {base}_{{{last}}}"


def _family(members: tuple[Range, ...], zero_based: bool) -> str:
    """`` for each index in 1..K`` for a family, ``""`` for one symbol."""
    if not members:
        return ""
    return ", one for each index in " + ", ".join(_range_latex(m, zero_based) for m in members)


def reading_of(document: Document, front_at: dict[str, int] | None = None) -> list[Reading]:
    """Everything ``document`` declares, assumes, constrains and defines, in document order.

    >>> doc = read_document(Source("Let $x \\\\in \\\\mathbb{R}^D$ and $a > 0$.\\n\\n$$ f = a x $$\\n"))
    >>> [(r.kind, r.name, r.meaning, r.line) for r in doc.reading]  # doctest: +NORMALIZE_WHITESPACE
    [('size', 'D', 'a size, read from a dimension or a range', 1),
     ('variable', 'x', 'a vector of D real entries', 1),
     ('assumption', 'a', 'positive, a real scalar', 1),
     ('definition', 'f', 'a definition', 3)]
    """
    source, out = document.source, []

    def add(kind: str, name: str, latex: str, meaning: str, offset: int | None, order: int) -> None:
        line, column = source.location(offset) if offset is not None else (0, 0)
        out.append((line, column, order, Reading(kind, name, latex, meaning, line, column)))

    for key, value in document.front.items():
        known = {"title": "the title", "check": "the sizes to check"}.get(key, "kept, not read by derive")
        add("front matter", key, value, known, (front_at or {}).get(key), 0)
    for name in document.sizes:
        how = "a size" if name in document.sizes_declared else "a size, read from a dimension or a range"
        add("size", name, f"{name} \\in \\mathbb{{N}}", how, document.declared_at.get(name), 1)
    for name, variable in document.variables.items():
        latex, words = _shape_words(variable.dims)
        family = _family(variable.members, document.zero_based)
        if variable.row_of:
            add("variable", name, f"{name}_j", f"the rows of {variable.row_of}, each {words}{family}",
                document.declared_at.get(variable.row_of), 2)
            continue
        if name in document.declared_at:
            add("variable", name, f"{_members_latex(name, variable.members)} \\in {latex}", words + family,
                document.declared_at[name], 2)
        if variable.sign:
            relation = ">" if variable.sign == "positive" else "\\ge"
            add("assumption", name, f"{name} {relation} 0",
                f"{variable.sign}, {words}", document.signed_at.get(name, document.declared_at.get(name)), 3)
    for name, label in document.labels.items():
        values = label.values
        shown = (f"\\{{{', '.join(map(str, values))}\\}}" if isinstance(values, tuple) else
                 f"\\{{{to_latex(values.lower) if values.lower is not None else 1}, \\dots, {to_latex(values.upper)}\\}}")
        add("label", name, f"{_members_latex(name, label.members)} \\in {shown}", "a whole number, checked at every value"
            + _family(label.members, document.zero_based), document.declared_at.get(name), 2)
    if document.zero_based:
        add("numbering", "", "\\{0, \\dots\\}", "every index, row and entry starts at 0",
            document.declared_at.get("\\zero-based"), 4)
    for equation in document.constraints:
        add("constraint", "", equation_latex(equation), "assumed by every check", _offset(document, equation), 5)
    for definition in document.definitions:
        indices = f", a family over {', '.join(definition.indices)}" if definition.indices else ""
        add("definition", definition.base, equation_latex(definition.equation), "a definition" + indices,
            _offset(document, definition.equation), 6)
    return [reading for *_, reading in sorted(out, key=lambda item: item[:3])]

