"""What the symbols of a document are: sizes, variables, labels, constraints and definitions.

A document is read into one :class:`Document`: its declarations (from any sentence of its
prose), its definitions (``f_j = w_j^T x``: a new name on the left) and its steps (every other
relation of display math, in order).  A relation in prose is read only where a sentence states
it (a constraint after *Assume* or *Given*, never in parentheses); another one is a remark,
listed and never used (in a *Let* sentence, an error).  What no sentence declares is inferred
from its use (:func:`infer_symbols`).  Notation is never a name (``e``, ``\\pi``), except
``\\sigma``, which a declaration makes the document's own quantity; a declared ``T`` or a
``\\delta`` with members makes ``^T`` and ``\\delta_{jk}`` errors.  Everything read is also
listed in :attr:`Document.reading` (``derive check --explain``, the ``read:`` line).  Nothing here is concrete yet;
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

from derive.document.ast import (
    BigOp, Const, Equation, Indicator, Name, Node, Num, Rel, children, equation_latex, to_latex, walk,
)
from derive.document.markdown import RELATION_FIRST, Declarations, Display, Inline, Prose, split_document
from derive.document.parse import (
    MAX_MATH_CHARS, SHADOWABLE, clean, leibniz_fractions, parse_declaration, parse_equations, parse_expression,
)
from derive.document.source import DocumentError, Source


@dataclass(frozen=True)
class Range:
    """Integers ``lower .. upper`` (inclusive), the bounds expressions in the sizes."""

    lower: Node | None  # None: ``upper`` members numbered from where the document numbers (0 or 1)
    upper: Node


@dataclass(frozen=True)
class Interval:
    """An interval of the reals a scalar is declared in (``\\epsilon \\in [0, 1)``): its bounds
    (numbers, or expressions in the sizes) and whether each end is open.

    >>> half_open = Interval(Num(Fraction(0)), Num(Fraction(1)), False, True)
    >>> str(half_open), half_open.contains(Fraction(0)), half_open.contains(Fraction(1))
    ('[0, 1)', True, False)
    """

    lower: Node
    upper: Node
    lower_open: bool
    upper_open: bool

    def __str__(self) -> str:
        return (f"{'(' if self.lower_open else '['}{to_latex(self.lower)}, "
                f"{to_latex(self.upper)}{')' if self.upper_open else ']'}")

    def contains(self, value: Fraction) -> bool | None:
        """Whether the exact number ``value`` lies in the interval; None when a bound is not a
        number (it depends on a size)."""
        if not (isinstance(self.lower, Num) and isinstance(self.upper, Num)):
            return None
        low, high = self.lower.value, self.upper.value
        above = low < value if self.lower_open else low <= value
        below = value < high if self.upper_open else value <= high
        return above and below

    @property
    def sign(self) -> str | None:
        """``positive`` or ``nonnegative`` when the lower bound says so (a number ``>= 0``)."""
        if not isinstance(self.lower, Num) or self.lower.value < 0:
            return None
        return "nonnegative" if self.lower.value == 0 and not self.lower_open else "positive"


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

    ``kind`` is ``size``, ``variable``, ``label``, ``index``, ``assumption`` (a sign),
    ``constraint``, ``definition``, ``remark`` (a relation in prose, not used), ``numbering`` or
    ``front matter``; ``name`` the symbol (``""`` for a constraint or a remark); ``latex`` what
    was read, in LaTeX; ``meaning`` what it means, in words; ``line`` and ``column`` (1-based)
    where it is written (for an inferred symbol, its first formula); ``inferred`` whether no
    sentence declares it; ``short`` its part of the ``read:`` line (``""``: not shown there).
    """

    kind: str
    name: str
    latex: str
    meaning: str
    line: int
    column: int
    inferred: bool = False
    short: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "latex": self.latex, "meaning": self.meaning,
                "line": self.line, "column": self.column, "inferred": self.inferred}


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
    #: Relations in prose, read but neither checked nor used: (LaTeX, offset).
    remarks: list[tuple[str, int]] = field(default_factory=list)
    #: Index letters given a range in prose (``for $j = 1, \\dots, K$``).
    index_ranges: dict[str, Range] = field(default_factory=dict)
    #: Real scalars declared in an interval (``\\epsilon \\in [0, 1)``).
    intervals: dict[str, Interval] = field(default_factory=dict)
    #: Families only named in prose (``the scores $s_1, \\dots, s_K$``), real until declared otherwise.
    mentioned: set[str] = field(default_factory=set)
    #: Function names the document makes its own quantities (``\\sigma > 0``): parsed as letters.
    shadowed: frozenset = frozenset()
    #: Symbols no sentence declares, read from how the display math uses them: name to why.
    inferred: dict[str, str] = field(default_factory=dict)
    #: The index letters each family is first written with in display math (``s_k``: ``("k",)``).
    index_letters: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.front.get("title", "")

    def definition(self, base: str, count: int | None = None) -> Definition | None:
        """The definition ``base`` written with ``count`` indices means: where ``base`` names two
        quantities (``L`` and ``L_i``), the one defined with that many (None if neither), else its
        only one; without ``count``, the one with the most indices (the family)."""
        found = self.definitions_of(base)
        if count is not None and len(found) > 1:
            return next((d for d in found if len(d.indices) == count), None)
        return max(found, key=lambda d: len(d.indices), default=None)

    def definitions_of(self, base: str) -> list[Definition]:
        """Every definition of ``base``: one, or two or more forms (``L`` and ``L_i``)."""
        return self._by_base.get(base, [])

    @property
    def _by_base(self) -> dict[str, list[Definition]]:
        """The definitions by name, rebuilt when one was added."""
        count, cached = self.__dict__.get("_definitions_by_base", (-1, {}))
        if count != len(self.definitions):
            cached = {}
            for definition in self.definitions:
                cached.setdefault(definition.base, []).append(definition)
            self.__dict__["_definitions_by_base"] = (len(self.definitions), cached)
        return cached

    def known(self, base: str) -> bool:
        return (base in self.sizes or base in self.variables or base in self.labels
                or self.definition(base) is not None)


def read_document(source: Source) -> Document:
    """Split, parse and sort a document's math into a :class:`Document`."""
    parts = split_document(source)
    document = Document(source, parts.front, shadowed=_shadowed(parts))
    math: list[tuple[str, int]] = []  # every formula read, for the notation check at the end
    for piece in parts.pieces:
        if isinstance(piece, Declarations):
            for inline in piece.math:
                if _declare(document, inline):
                    math.append((inline.text, inline.offset))
        elif isinstance(piece, Display):
            document.outline.append(("display", []))
            _display(document, piece)
            math.extend((row.text, row.offset) for row in piece.rows)
        elif isinstance(piece, Prose):
            document.outline.append(("prose", piece.text))
    infer_symbols(document)
    if document.inferred:
        _refuse_words(document, math)
    _check_sizes(document)
    _refuse_notation_clashes(document, math)
    document.reading = reading_of(document, parts.front_at)
    return document


# --- declarations ------------------------------------------------------------------------

#: A formula that declares or defines a function's name (``\\sigma > 0``, ``\\sigma_k = ...``,
#: ``a, \\sigma \\in \\mathbb{R}``), which then names the document's own quantity.
_SHADOWING = {name: re.compile(r"^\s*\\" + name + r"(?![a-zA-Z])\s*(?:_\s*(?:\{[^{}]*\}|\w)\s*)?"
                               r"(?:\\in(?![a-zA-Z])|>|\\geq?(?![a-zA-Z])|=|,)"
                               r"|\\" + name + r"(?![a-zA-Z])[^$]*\\in(?![a-zA-Z])")
              for name in SHADOWABLE}


def _shadowed(parts) -> frozenset:
    """The function names (:data:`~derive.document.parse.SHADOWABLE`) the document declares or
    defines as its own quantities: in prose outside parentheses, or on the left of a display row.

    >>> sorted(_shadowed(split_document(Source("Let $\\\\sigma > 0$.\\n"))))
    ['sigma']
    """
    found = set()
    for piece in parts.pieces:
        texts = ([m.text for m in piece.math if not m.aside] if isinstance(piece, Declarations)
                 else [row.text for row in piece.rows if not row.continues] if isinstance(piece, Display) else [])
        for text in (text for text in texts if len(text) <= MAX_MATH_CHARS):  # a longer one is refused
            found.update(name for name, pattern in _SHADOWING.items()
                         if pattern.search(text) and (isinstance(piece, Declarations) or "\\in" not in text))
    return frozenset(found)


#: The first words of a sentence that may define (``Let $g = ...$``) and that may constrain.
DEFINING_WORDS = ("let", "where", "given", "assume")
CONSTRAINING_WORDS = ("assume", "given")
#: Notation that is never a name: what each is, for messages.
RESERVED = {"e": "Euler's number (e^{x} is the exponential)", "pi": "the number \\pi"}
_FUNCTION_WORDS = re.compile(r"\s*\\(log|ln|exp|tanh|max|min|sum|prod)(?![a-zA-Z])")
_FUNCTIONS = {"log": "the logarithm", "ln": "the logarithm",
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


def _declare(document: Document, inline: Inline) -> bool:
    """One inline formula of prose: a declaration, an index's range, a sign, a definition, a
    constraint, a remark (a relation read but not used) or a mention (nothing).  In a sentence
    that starts with *Let*, *Where*, *Given* or *Assume* every formula must be read; elsewhere
    math that cannot be read is a mention, unless it looks like a declaration.  False when the
    formula was not read (a mention, or a remark the grammar cannot read)."""
    source, text, offset = document.source, inline.text, inline.offset
    if len(text) > MAX_MATH_CHARS:  # refused before any pattern looks at it
        parse_equations(text, source, offset)
    strict = inline.sentence in DEFINING_WORDS
    function = _FUNCTION_WORDS.match(text)
    if _INDEX_RANGE.match(text):
        _index_range(document, inline)
        return True
    if _IN.search(text):
        if _INTERVAL.match(text):
            _declare_interval(document, inline)
            return True
        try:
            _, names, kind = parse_declaration(text, source, offset, document.shadowed)
        except DocumentError:
            if function:  # \sigma \in \mathbb{R}: a function's name declared as a quantity
                raise source.error(offset + function.start(1) - 1, _function_message(function.group(1))) from None
            raise
        if kind[0] == "reals" and kind[1] is not None:  # \mathbb{R}_{>0}: an assumption too
            _stated(document, inline, offset, "an assumption", text.strip())
        _declare_names(document, names, kind, offset)
        return True
    if _DOTS.search(text) and _family_mention(document, inline):
        return True
    try:
        equations = parse_equations(text, source, offset, document.shadowed)
    except DocumentError:
        if function and re.match(r"\s*(>|<|=|\\g|\\l)", text[function.end():]):
            raise source.error(offset + function.start(1) - 1, _function_message(function.group(1))) from None
        if strict or _SIGN_LIKE.search(text):
            raise
        if _RELATION.search(text):  # a relation the grammar cannot read: a remark, shown as written
            document.remarks.append((" ".join(text.split()), offset))
        return False
    for equation in equations:
        _relation_in_prose(document, inline, equation, strict)
    return bool(equations) or strict


def _relation_in_prose(document: Document, inline: Inline, equation: Equation, strict: bool) -> None:
    """A relation in prose: a sign, a definition, a constraint (after *Assume* or *Given*), or
    (outside a *Let* sentence) a remark; anything else is an error."""
    source, offset = document.source, inline.offset
    left, right, op = equation.left, equation.right, equation.op
    at = _offset(document, equation)
    shown = equation_latex(equation)
    reserved = reserved_message(left) or (reserved_message(right) if op != "=" else None)
    if reserved:
        raise source.error(offset, reserved)
    if not strict and op != "=" and inline.before in _CONDITIONAL:  # "for $s > 0$": a case, no assumption
        document.remarks.append((shown, at))
    elif op in (">", ">=") and isinstance(left, Name) and right == Num(Fraction(0)):
        _stated(document, inline, at, "an assumption", shown)
        _sign(document, left, "positive" if op == ">" else "nonnegative", offset)
    elif op in ("<", "<=") and isinstance(right, Name) and left == Num(Fraction(0)):
        _stated(document, inline, at, "an assumption", shown)
        _sign(document, right, "positive" if op == "<" else "nonnegative", offset)
    elif op == "=" and _definable(document, left) and (strict or inline.aside or _defines(right)):
        _stated(document, inline, at, "a definition", shown)
        _define(document, equation)
    elif not strict:
        document.remarks.append((shown, at))
    elif op == "=" and isinstance(left, Name) and document.definition(left.base) is not None:
        line = document.definition(left.base).equation.line
        raise source.error(offset, f"`{left.base}` is already defined (line {line}); choose another name")
    elif op == "=":
        _stated(document, inline, at, "a constraint", shown, equation.left)
        document.constraints.append(equation)
    else:
        raise source.error(offset, "a declared inequality is `name > 0` or `name \\ge 0`")


def _defines(value: Node) -> bool:
    """Whether ``name = value`` in a prose sentence reads as a definition: not when ``value`` is a
    number or one bare letter (``$m = y$``, ``$\\gamma = 0$``: a condition, a remark)."""
    return not (isinstance(value, Num) or (isinstance(value, Name) and not value.indices))


def _function_message(word: str) -> str:
    return (f"`\\{word}` is {_FUNCTIONS[word]} in derive (a function), not a name: "
            "call this quantity by another letter")


def _stated(document: Document, inline: Inline, at: int, what: str, shown: str,
            left: Node | None = None) -> None:
    """A relation (``shown``) in prose is read as ``what`` (an assumption, a definition, a
    constraint) only where a sentence states one: not in parentheses (an aside), and a
    constraint only in a sentence whose first word is *Assume* or *Given*."""
    source = document.source
    if inline.aside:
        raise source.error(at, f"`{shown}` stands in parentheses, an aside: derive would not read it as "
                           f"{what}. Take {what} out of the parentheses, or write the remark without "
                           "parentheses")
    if what != "a constraint" or inline.sentence in CONSTRAINING_WORDS:
        return
    name = left.base if isinstance(left, Name) else None
    known = f" (`{name}` is declared, so this is no definition)" if name and document.known(name) else ""
    raise source.error(at, f"`{shown}` is not a declaration or a definition{known}: "
                       "derive takes a constraint only from a sentence that starts with *Assume* or "
                       "*Given*, and checks a claim only in display math")


#: Prose math: ``\in``; ``\dots``; a relation sign; a relation to 0 (a sign, which must be read).
_IN = re.compile(r"\\in(?![a-zA-Z])")
_DOTS = re.compile(r"\\[lc]?dots(?![a-zA-Z])")
_RELATION = re.compile(r"[=<>]|\\(?:neq|ne|leq|le|geq|ge)(?![a-zA-Z])")
_SIGN_LIKE = re.compile(r"(?:>|\\geq?(?![a-zA-Z]))\s*0\s*[.,]?\s*$|^\s*0\s*(?:<|\\leq?(?![a-zA-Z]))")
#: Words before a relation that make it a case, not a fact (``for $s > 0$``).
_CONDITIONAL = frozenset({"for", "when", "if", "whenever", "unless", "at", "while", "once", "until", "as"})
#: ``j = 1, \dots, K``: the range of an index letter.
_INDEX_RANGE = re.compile(r"\s*([a-zA-Z])\s*=\s*([^,=]+?)\s*,\s*\\[lc]?dots\s*,\s*([^,=]+?)\s*[,.]?\s*$")
#: ``\epsilon \in [0, 1)``: an interval of the reals.
_INTERVAL = re.compile(r"(?P<names>[^$]*?)\\in\s*(?P<open>[\[(])(?P<lower>[^,\[\]()]+),(?P<upper>[^,\[\]()]+)"
                       r"(?P<close>[\])])\s*[,.]?\s*$")


def _family_mention(document: Document, inline: Inline) -> bool:
    """``s_1, \\dots, s_K`` (a family of real scalars, unless declared otherwise) or
    ``c_1, \\dots, c_K > 0`` (a positive family); False when the math is neither."""
    text, offset = inline.text, inline.offset
    sign = re.search(r"(>|\\geq?(?![a-zA-Z]))\s*0\s*[.,]?\s*$", text)
    names_text = text[:sign.start()] if sign else text
    if _RELATION.search(names_text):
        return False
    try:
        _, names, _ = parse_declaration(names_text + " \\in \\mathbb{R}", document.source, offset, document.shadowed)
        members = _members(document, names, offset)
    except DocumentError:
        if sign:
            raise
        return False  # a mention the grammar cannot read as names: nothing declared
    if sign:
        _stated(document, inline, offset, "an assumption", " ".join(text.split()))
        op = ">" if sign.group(1) == ">" else ">="
        _declare_names(document, names, ("reals", (op, Num(Fraction(0))), ()), offset, mention=True)
    elif any(family for _, family in members):
        _declare_names(document, names, ("reals", None, ()), offset, mention=True)
    return True


def _index_range(document: Document, inline: Inline) -> None:
    """``j = 1, \\dots, K``: the values of the index letter ``j`` wherever it is free."""
    match = _INDEX_RANGE.match(inline.text)
    letter = match.group(1)
    lower = parse_expression(match.group(2), document.source, inline.offset + match.start(2), document.shadowed)
    upper = parse_expression(match.group(3), document.source, inline.offset + match.start(3), document.shadowed)
    if document.known(letter):
        raise document.source.error(inline.offset + match.start(1), f"`{letter}` is declared, so it cannot "
                                    f"also be an index running over {to_latex(lower)}..{to_latex(upper)}")
    found = Range(lower, upper)
    previous = document.index_ranges.get(letter)
    if previous is not None and previous != found:
        line = document.source.location(document.declared_at[letter])[0]
        raise document.source.error(inline.offset, f"the index `{letter}` already runs over "
                                    f"{_range_latex(previous, False)} (line {line})")
    _note_sizes(document, upper, inline.offset)
    document.index_ranges[letter] = found
    document.declared_at.setdefault(letter, inline.offset)


def _declare_interval(document: Document, inline: Inline) -> None:
    """``\\epsilon \\in [0, 1)``: a real scalar in an interval, positive or nonnegative when the
    lower bound says so (derive samples beyond the upper bound too, so a counterexample outside
    the interval is no refutation: :func:`derive.document.check.check_step`)."""
    match = _INTERVAL.match(inline.text)
    source, offset = document.source, inline.offset
    _, names, _ = parse_declaration(match.group("names") + "\\in \\mathbb{R}", source, offset, document.shadowed)
    lower = parse_expression(match.group("lower"), source, offset + match.start("lower"), document.shadowed)
    upper = parse_expression(match.group("upper"), source, offset + match.start("upper"), document.shadowed)
    interval = Interval(lower, upper, match.group("open") == "(", match.group("close") == ")")
    sign = (">" if interval.sign == "positive" else ">=", Num(Fraction(0))) if interval.sign else None
    _declare_names(document, names, ("reals", sign, ()), offset)
    for base, _ in _members(document, names, offset):
        document.intervals[base] = interval


def _sign(document: Document, name: Name, sign: str, offset: int) -> None:
    """``name > 0``: ``name`` (a scalar, or ``c_k`` for a declared family ``c``) is positive."""
    variable = document.variables.get(name.base)
    if name.indices and (variable is None or not variable.members):
        raise document.source.error(offset, f"`{name.base}` is no declared family: write its range, as in "
                                    f"{name.base}_1, \\dots, {name.base}_K > 0")
    document.signed_at.setdefault(name.base, offset)
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


def _declare_names(document: Document, names, kind, offset: int, mention: bool = False) -> None:
    """Declare each name as ``kind`` says.  A family named in prose (``mention``: the scores
    ``s_1, \\dots, s_K``) is real scalars unless declared otherwise, before or after; declaring a
    name again the same way is fine, differently an error naming both places."""
    source = document.source
    for base, members in _members(document, names, offset):
        if mention and base in document.declared_at and base not in document.mentioned:
            previous = document.variables.get(base)
            _refuse_redeclaration(document, base, members, ("reals", None, previous.dims if previous else ()), offset)
            if kind[1] is not None:  # c_1, \dots, c_K > 0 of a declared family: its sign
                _sign(document, Name(base), "positive" if kind[1][0] == ">" else "nonnegative", offset)
            continue
        was_mentioned = base in document.mentioned
        if was_mentioned:  # named in prose before: this declaration says what it is (a sign stays)
            document.mentioned.discard(base)
            document.declared_at.pop(base, None)
        elif document.known(base) and base not in document.variables:
            raise source.error(offset, f"`{base}` is declared twice")
        if mention:
            document.mentioned.add(base)
        _refuse_redeclaration(document, base, members, kind, offset)
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
            if was_mentioned:
                document.variables.pop(base)
            if base in document.variables:
                raise source.error(offset, f"`{base}` is declared twice")
            document.labels[base] = Label(base, members, values)


def _refuse_redeclaration(document: Document, base: str, members, kind, offset: int) -> None:
    """A variable declared again with other members or another shape is an error naming both."""
    previous = document.variables.get(base)
    if previous is None or base not in document.declared_at or kind[0] != "reals":
        return
    if (previous.members, previous.dims) != (tuple(members), tuple(kind[2])):
        line = document.source.location(document.declared_at[base])[0]
        raise document.source.error(offset, f"`{base}` is declared on line {line} differently: "
                                    "declare each symbol one way")


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
            equations = parse_equations(stand_in, source, row.offset - (start == 0), document.shadowed)
            if not equations:
                raise source.error(row.offset, "expected a relation")
            first = equations[0]
            equations[0] = Equation(first.op, previous, first.right, first.line, first.column,
                                    source=first.source)
        else:
            equations = parse_equations(text, source, row.offset, document.shadowed)
        for k, equation in enumerate(equations):
            # A relation starts afresh unless it continues a chain (its left side is the right
            # side of the relation before it) or the row before: `a = b, c = d` defines `c` too.
            is_start = (not row.continues) if k == 0 else equation.left is not equations[k - 1].right
            if is_start and equation.op == "=" and isinstance(equation.left, Indicator) \
                    and re.match(r"\s*\\delta(?![a-zA-Z])", text):
                raise source.error(row.offset + len(text) - len(text.lstrip()),
                                   "`\\delta_{jk}` is the Kronecker delta (the indicator of j = k) in derive, "
                                   "so it cannot be defined: call this quantity by another letter")
            if is_start and equation.op == "=" and _definable(document, equation.left, equation.right):
                _define(document, equation)
                document.outline[-1][1].append(document.definitions[-1])
            else:
                document.steps.append(Step(equation, display.prose))
                document.outline[-1][1].append(document.steps[-1])
        if equations:
            previous = equations[-1].right


def _definable(document: Document, left: Node, value: Node | None = None) -> bool:
    """A name not declared or defined yet, its subscripts plain index letters; or, defined as
    ``value``, another form of a defined name written with the other (``L = \\frac{1}{N} \\sum_i L_i``
    beside ``L_i``: a different quantity)."""
    return (isinstance(left, Name)
            and (not document.known(left.base) or (value is not None and _another_form(document, left, value)))
            and all(isinstance(i, Name) and not i.indices and len(i.base) == 1 and not document.known(i.base)
                    for i in left.indices))


def _another_form(document: Document, left: Name, value: Node) -> bool:
    """Whether ``left = value`` defines ``left.base`` with a new number of indices, beside its
    definitions, one of them written with the other (``L`` as the mean of ``L_i``, or ``L_i``
    after ``L = \\frac{1}{N} \\sum_i L_i``): then ``L`` and ``L_i`` are two quantities."""
    base, count = left.base, len(left.indices)
    others = document.definitions_of(base)
    if not others or base in document.sizes or base in document.variables or base in document.labels:
        return False
    counts = {len(d.indices) for d in others}
    if count in counts:
        return False

    def mentions(node: Node, wanted: set[int]) -> bool:
        return any(isinstance(n, Name) and n.base == base and len(n.indices) in wanted for n in walk(node))

    return mentions(value, counts) or any(mentions(d.value, {count}) for d in others)


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


# --- symbols no sentence declares: read from how the display math uses them -------------------

def infer_symbols(document: Document) -> None:
    """Give every undeclared symbol of the display math the one meaning its use allows, and say
    why in :attr:`Document.inferred`: a name in a sum's upper limit is a size; a letter that
    subscripts a family in a definition (not one of the definition's own indices) is a label over
    that family's range (``L = -\\log p_y``); a plain symbol (a letter, a Greek letter, an
    accented letter) used outside subscripts is a real scalar.  A letter used both as an index and
    as a scalar is an error showing both readings.

    >>> doc = read_document(Source("$$ f = \\\\sum_{k=1}^{K} a x_k $$\\n"))
    >>> doc.inferred
    {'K': 'inferred: it bounds a sum', 'a': 'inferred: it is used as a number'}
    """
    uses = _Uses(document)
    for definition in document.definitions:
        uses.visit((definition.value,), frozenset(definition.indices), _offset(document, definition.equation), True)
    for step in document.steps:
        uses.visit((step.equation.left, step.equation.right), frozenset(), _offset(document, step.equation), False)
    for name, at in uses.limits.items():
        document.sizes[name] = []
        document.declared_at.setdefault(name, at)
        document.inferred[name] = "inferred: it bounds a sum"
    for name, at in uses.scalars.items():
        index = uses.labels.get(name, (uses.indices.get(name, document.declared_at.get(name)
                                                         if name in document.index_ranges else None),))[0]
        if index is not None:
            _both_readings(document, name, index, at)
    for name, (at, family, position) in uses.labels.items():
        values = _family_range(document, family, position, set())
        if values is not None and not document.known(name) and name not in document.index_ranges:
            document.labels[name] = Label(name, (), values)
            document.declared_at.setdefault(name, at)
            document.inferred[name] = f"inferred: it indexes {family}"
    for name, at in uses.scalars.items():
        if not document.known(name):
            document.variables[name] = Variable(name, (), ())
            document.declared_at.setdefault(name, at)
            document.inferred[name] = "inferred: it is used as a number"


_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")


def _refuse_words(document: Document, math: list[tuple[str, int]]) -> None:
    """A word of three or more letters (``soft(x)``) with a letter read as an inferred scalar is
    no product of symbols a person meant: an error at the word."""
    for text, offset in math:
        for word in _WORD.finditer(clean(text)):
            inferred = [letter for letter in word.group(0) if letter in document.inferred]
            if inferred:
                raise document.source.error(offset + word.start(), f"`{word.group(0)}` would read as a product of "
                                            f"the letters {' '.join(word.group(0))}, and no sentence declares "
                                            f"`{inferred[0]}`: write a known function (\\log, \\exp, ...), or "
                                            "declare each letter and put spaces between them")


def _both_readings(document: Document, name: str, as_index: int, as_scalar: int) -> None:
    """``name`` is used as an index (at ``as_index``) and as a number: an error showing both."""
    line = document.source.location(as_index)[0]
    raise document.source.error(as_scalar, f"`{name}` is used here as a number and on line {line} as an "
                                f"index: declare which it is, as ${name} \\in \\mathbb{{R}}$ (a number; "
                                f"then use another index letter) or ${name} \\in \\{{1, \\dots, K\\}}$ (a label)")


def _symbol_offset(document: Document, at: int, name: str) -> int:
    """Where ``name`` is first written in the formula whose relation is at ``at`` (its line on), or
    ``at`` itself: an error or a reading points at the symbol."""
    text = document.source.text
    start = text.rfind("\n", 0, at) + 1
    pattern = re.compile(r"(?<![\\a-zA-Z])" + re.escape(name) + r"(?![a-zA-Z])")
    found = pattern.search(text, start, min(len(text), at + 4000))
    return found.start() if found else at


def _plain_symbol(name: str) -> bool:
    """A letter, a Greek letter or ``\\ell``, or an accented letter: a name a scalar may have."""
    return len(name) == 1 or name.startswith("\\")


class _Uses:
    """Where the display math uses each undeclared symbol (the first offset of each): in a sum's
    upper limit, as a label of a family in a definition (the family and the position), as an
    index, as a scalar."""

    def __init__(self, document: Document):
        self.document = document
        self.limits: dict[str, int] = {}
        self.labels: dict[str, tuple[int, str, int]] = {}
        self.indices: dict[str, int] = {}
        self.scalars: dict[str, int] = {}

    def _note(self, found: dict, name: str, at: int, value=None) -> None:
        """The first use of ``name`` (in the formula whose relation is at ``at``), at the symbol."""
        if name not in found:
            found[name] = (_symbol_offset(self.document, at, name),) + value if value else \
                _symbol_offset(self.document, at, name)

    def _unknown(self, name: Node, bound: frozenset) -> bool:
        return (isinstance(name, Name) and not name.indices and name.base not in bound
                and not self.document.known(name.base))

    def visit(self, nodes: tuple[Node, ...], bound: frozenset, at: int, defining: bool) -> None:
        """Note the uses in one formula's ``nodes`` (written at ``at``; ``defining``: a definition's
        value).  A letter that is an index in the formula is one wherever it stands there: its
        value is a number (``g_j = j x``)."""
        stack = [(node, bound, False) for node in nodes]
        indexed: set[str] = set()
        scalars: set[str] = set()
        while stack:
            current, inner, in_index = stack.pop()
            if isinstance(current, Name):
                if current.indices and all(isinstance(i, Name) and len(i.base) == 1 and not (inner - bound) & {i.base}
                                           and not self.document.known(i.base) for i in current.indices):
                    self.document.index_letters.setdefault(current.base, tuple(i.base for i in current.indices))
                for position, index in enumerate(current.indices):
                    if defining and self._unknown(index, inner) and len(index.base) == 1:
                        self._note(self.labels, index.base, at, (current.base, position))
                stack.extend((index, inner, True) for index in current.indices)
                if self._unknown(current, inner) and _plain_symbol(current.base):
                    (indexed if in_index else scalars).add(current.base)
            elif isinstance(current, BigOp):
                for limit in walk(current.upper) if current.upper is not None else ():
                    if self._unknown(limit, inner):
                        self._note(self.limits, limit.base, at)
                stack.extend((limit, inner, True) for limit in (current.lower, current.excluded) if limit is not None)
                stack.append((current.body, inner | {current.index}, in_index))
            elif isinstance(current, Rel):
                stack.extend(((current.left, inner, True), (current.right, inner, True)))
            else:
                stack.extend((child, inner, in_index) for child in children(current))
        for name in indexed:
            self._note(self.indices, name, at)
        for name in scalars - indexed:
            self._note(self.scalars, name, at)


def _family_range(document: Document, base: str, position: int, seen: set) -> Range | None:
    """The values of subscript ``position`` of family ``base``: a declared family's range, a
    vector's entries, or a defined family's index read off the families it subscripts."""
    variable = document.variables.get(base)
    if variable is not None:
        if position < len(variable.members):
            return variable.members[position]
        k = position - len(variable.members)
        return Range(None, variable.dims[k]) if k < len(variable.dims) else None
    label = document.labels.get(base)
    if label is not None:
        return label.members[position] if position < len(label.members) else None
    definition = document.definition(base)
    if definition is None or position >= len(definition.indices) or (base, position) in seen:
        return None
    seen.add((base, position))
    letter = Name(definition.indices[position])
    for node in walk(definition.value):
        if isinstance(node, Name) and letter in node.indices:
            found = _family_range(document, node.base, node.indices.index(letter), seen)
            if found is not None:
                return found
    return None


# --- notation a declared name would clash with ------------------------------------------------

_TRANSPOSE_T = re.compile(r"\^\s*(?:\{\s*-?\s*T\s*\}|T)")  # ^{-T}: the inverse's transpose
_BIGOP_BEFORE = re.compile(r"\\(?:sum|prod)\s*(?:_\s*(?:\{[^{}]*\}|\\?[a-zA-Z]+|\S))?\s*$"
                           r"|\\(?:mathbb\s*\{\s*R\s*\}|mathbb\s*R|R)\s*$")
_DELTA_PAIR = re.compile(r"\\delta\s*_\s*\{\s*(?:\\?[a-zA-Z]+\s*,?\s*\\?[a-zA-Z]+|[^{}]*,[^{}]*)\s*\}")


#: ``\\sigma(z)``, ``\\sigma^2(z)``: the sigmoid (squared), or a product once ``\\sigma`` is declared.
_SIGMA_CALL = re.compile(r"\\sigma(?![a-zA-Z])\s*(?:\^\s*(?:\{[^{}]*\}|[^\s{])\s*)?"
                         r"(?:\\(?:left|bigl?|Bigl?|biggl?|Biggl?)(?![a-zA-Z])\s*)?\(")


def _scalar(document: Document, name: str) -> bool:
    """Whether ``name`` is a declared real scalar (no members, no entries): ``\\delta_{jk}`` then
    has one reading, the Kronecker delta."""
    variable = document.variables.get(name)
    return variable is not None and not variable.members and not variable.dims


def _refuse_notation_clashes(document: Document, math: list[tuple[str, int]]) -> None:
    """``^T`` reads as a transpose and ``\\delta_{jk}`` as the Kronecker delta; when ``T`` or
    ``\\delta`` is also a declared (or defined) symbol, either could mean the other, so each such
    use is an error that says how to write each meaning (a scalar ``\\delta`` has no members:
    ``\\delta_{jk}`` stays the Kronecker delta).  So is ``\\sigma(z)`` once ``\\sigma`` is the
    document's own quantity: the sigmoid, or a product."""
    clashes = []
    if document.known("T"):
        clashes.append((_TRANSPOSE_T, _clash_message(document, "T", "`^T` could be the power T or a transpose: "
                        "write `^\\top` for a transpose, or `^{(T)}` for the power")))
    if "sigma" in document.shadowed:
        clashes.append((_SIGMA_CALL, _clash_message(document, "\\sigma", "`\\sigma(z)` could be the sigmoid of z or "
                        "\\sigma times (z): write \\sigma \\cdot (z) for the product, or call the quantity by "
                        "another letter to keep \\sigma(z) the sigmoid (\\mathrm{sigmoid}(z) is the sigmoid too)")))
    if document.known("\\delta") and not _scalar(document, "\\delta"):
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
    if document.known("d"):
        message = _clash_message(document, "d", "a fraction whose numerator and denominator start with `d` could "
                                 "be a derivative or a quotient: write \\frac{\\partial L}{\\partial x} for the "
                                 "derivative, or call the quantity by another letter")
        for text, offset in math:
            for at in leibniz_fractions(text):
                raise document.source.error(offset + at, message)


def _clash_message(document: Document, name: str, rest: str) -> str:
    at = document.declared_at.get(name, document.signed_at.get(name))
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


def _other_forms(document: Document, definition: Definition) -> str:
    """``; not the same quantity as L_{i} (line 5)`` for ``L`` beside ``L_i``, else ``""``."""
    others = [d for d in document.definitions_of(definition.base) if d is not definition]
    return "".join(f"; not the same quantity as {to_latex(d.equation.left)} (line {d.equation.line})"
                   for d in others)


def _letters(document: Document, base: str, count: int) -> str:
    """The index letters a family is written with (``k`` in ``s_k``), for the ``read:`` line."""
    letters = document.index_letters.get(base)
    if letters is None or len(letters) != count:
        letters = ("k", "j", "l", "m")[:count]
    return ", ".join(letters)


def _short_variable(document: Document, name: str, variable: Variable) -> str:
    """``s_k real (k = 1..K)``, ``x in R^D``, ``c_k > 0 (k = 1..K)``: a variable in the ``read:`` line."""
    if variable.row_of:
        return ""
    letters = _letters(document, name, len(variable.members))
    written = f"{name}_{letters}" if variable.members else name
    if document.intervals.get(name):
        what = f"in {document.intervals[name]}"  # its sign too
    elif variable.dims:
        what = "in R^" + (to_latex(variable.dims[0]) if len(variable.dims) == 1
                          else "{" + " x ".join(to_latex(d) for d in variable.dims) + "}")
        what += {"positive": ", > 0", "nonnegative": ", >= 0"}.get(variable.sign, "")
    else:
        what = {"positive": "> 0", "nonnegative": ">= 0"}.get(variable.sign, "real")
    ranges = ", ".join(f"{letter} = {_range_latex(r, document.zero_based)}"
                       for letter, r in zip(letters.split(", "), variable.members))
    return f"{written} {what}" + (f" ({ranges})" if ranges else "")


def _short_label(document: Document, name: str, label: Label) -> str:
    """``t label in 1..K``, ``y label in {0, 1}``: a label in the ``read:`` line."""
    values = label.values
    shown = ("{" + ", ".join(map(str, values)) + "}" if isinstance(values, tuple)
             else _range_latex(values, document.zero_based))
    if not label.members:
        return f"{name} label in {shown}"
    letters = _letters(document, name, len(label.members))
    ranges = ", ".join(f"{letter} = {_range_latex(r, document.zero_based)}"
                       for letter, r in zip(letters.split(", "), label.members))
    return f"{name}_{letters} label in {shown} ({ranges})"


#: What the reading of a built-in name the document made its own adds (only when it did): to
#: the meaning, and to the ``read:`` line.
_SHADOW_NOTES = {
    "\\sigma": lambda document: ((", your quantity, not the sigmoid", " (not the sigmoid)")
                                  if "sigma" in document.shadowed else ("", "")),
    "\\delta": lambda document: ((", your quantity; \\delta_{jk} stays the Kronecker delta", "")
                                  if _scalar(document, "\\delta") else ("", "")),
}


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

    def add(kind: str, name: str, latex: str, meaning: str, offset: int | None, order: int, short: str = "") -> None:
        line, column = source.location(offset) if offset is not None else (0, 0)
        why = document.inferred.get(name, "") if kind in ("size", "variable", "label") else ""
        if kind in ("variable", "assumption", "definition") and name in _SHADOW_NOTES:
            note, brief = _SHADOW_NOTES[name](document)
            meaning, short = meaning + note, short and short + brief
        if why:
            meaning, short = f"{meaning} ({why})", f"{short} (inferred)"
        out.append((line, column, order, Reading(kind, name, latex, meaning, line, column, bool(why), short)))

    for key, value in document.front.items():
        known = {"title": "the title", "check": "the sizes to check"}.get(key, "kept, not read by derive")
        add("front matter", key, value, known, (front_at or {}).get(key), 0)
    for name in document.sizes:
        how = ("a size" if name in document.sizes_declared or name in document.inferred
               else "a size, read from a dimension or a range")
        add("size", name, f"{name} \\in \\mathbb{{N}}", how, document.declared_at.get(name), 1, f"{name} size")
    for name, variable in document.variables.items():
        latex, words = _shape_words(variable.dims)
        family = _family(variable.members, document.zero_based)
        if variable.row_of:
            add("variable", name, f"{name}_j", f"the rows of {variable.row_of}, each {words}{family}",
                document.declared_at.get(variable.row_of), 2)
            continue
        interval = document.intervals.get(name)
        if interval:
            latex, words = f"{interval}", f"a real scalar in {interval} (a counterexample outside it is "
            words += "reported as unproven, not refuted)"
        elif name in document.mentioned:
            words += ", named in prose"
        short = _short_variable(document, name, variable)
        if name in document.declared_at:
            add("variable", name, f"{_members_latex(name, variable.members)} \\in {latex}", words + family,
                document.declared_at[name], 2, short)
            short = ""
        if variable.sign:
            relation = ">" if variable.sign == "positive" else "\\ge"
            add("assumption", name, f"{_members_latex(name, variable.members)} {relation} 0",
                f"{variable.sign}, {words}{family}", document.signed_at.get(name, document.declared_at.get(name)),
                3, short)
    for name, label in document.labels.items():
        values = label.values
        shown = (f"\\{{{', '.join(map(str, values))}\\}}" if isinstance(values, tuple) else
                 f"\\{{{to_latex(values.lower) if values.lower is not None else 1}, \\dots, {to_latex(values.upper)}\\}}")
        add("label", name, f"{_members_latex(name, label.members)} \\in {shown}", "a whole number, checked at every value"
            + _family(label.members, document.zero_based), document.declared_at.get(name), 2,
            _short_label(document, name, label))
    for letter, values in document.index_ranges.items():
        shown = _range_latex(values, document.zero_based)
        add("index", letter, f"{letter} = {to_latex(values.lower)}, \\dots, {to_latex(values.upper)}",
            f"an index running over {shown} wherever it is free", document.declared_at.get(letter), 2,
            f"{letter} index in {shown}")
    for latex, offset in document.remarks:
        add("remark", "", latex, "a relation in prose: not checked, not used", offset, 5)
    if document.zero_based:
        add("numbering", "", "\\{0, \\dots\\}", "every index, row and entry starts at 0",
            document.declared_at.get("\\zero-based"), 4)
    for equation in document.constraints:
        add("constraint", "", equation_latex(equation), "assumed by every check", _offset(document, equation), 5)
    for definition in document.definitions:
        indices = f", a family over {', '.join(definition.indices)}" if definition.indices else ""
        add("definition", definition.base, equation_latex(definition.equation),
            "a definition" + indices + _other_forms(document, definition), _offset(document, definition.equation), 6)
    return [reading for *_, reading in sorted(out, key=lambda item: item[:3])]


def read_line(reading: list[Reading]) -> str:
    """The ``read:`` line of ``derive check``: the sizes, variables, labels, indices and signs read
    (not the definitions), and how many remarks in prose were not checked; ``""`` for none.

    >>> read_line(read_document(Source("For $K$ classes, the scores $s_1, \\\\dots, s_K$ (so $s_1 < 2$).\\n")).reading)
    'read: K size; s_k real (k = 1..K); 1 remark in prose not checked'
    """
    parts = [r.short for r in reading if r.short]
    remarks = sum(r.kind == "remark" for r in reading)
    if remarks:
        parts.append(f"{remarks} remark{'' if remarks == 1 else 's'} in prose not checked")
    return "read: " + "; ".join(parts) if parts else ""
