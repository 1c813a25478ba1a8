"""LaTeX math to :mod:`derive.document.ast` trees, through a whitelist grammar.

The grammar (``grammar.lark`` beside this file) is parsed LALR(1) by lark; its tree becomes our
nodes here.  Nothing is evaluated: an unknown command, an unbalanced brace or a construct the
grammar does not name is a :class:`~derive.document.source.DocumentError` at its position.
Inputs are bounded (:data:`MAX_MATH_CHARS`, :data:`MAX_DEPTH`, :data:`MAX_NUMBER_DIGITS`), so no
input makes the parser hang or recurse without end.

>>> from derive.document.ast import to_latex
>>> [to_latex(e.right) for e in parse_equations(r"L = -\\log \\frac{e^{f_y}}{\\sum_k e^{f_k}}")]
['-\\\\log\\\\left(\\\\frac{e^{f_{y}}}{\\\\sum_{k} e^{f_{k}}}\\\\right)']
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import lark
from lark import Token

from derive.document.ast import (
    Abs, Add, BigOp, Boxed, Call, Cases, Const, Derivative, Div, Equation, Indicator, MatrixLiteral, Mul, Name,
    Neg, Node, Norm, Num, Pow, Rel, Transpose,
)
from derive.document.grammar_tables import grammar_parser
from derive.document.source import DocumentError, Source

#: Longest piece of math (one display block or one inline formula), in characters.
MAX_MATH_CHARS = 4000
#: Deepest nesting of brackets, and of the tree built from them.
MAX_DEPTH = 40
#: Longest number literal, in digits.
MAX_NUMBER_DIGITS = 12
#: Highest order of a derivative (``\\partial^2``, ``d^3``).
MAX_ORDER = 4

_GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()
_RELATIONS = {"=": "=", "<": "<", ">": ">", r"\neq": "!=", r"\ne": "!=", r"\le": "<=",
              r"\leq": "<=", r"\ge": ">=", r"\geq": ">="}


#: Function names written as Greek letters: a document that declares one (``\\sigma > 0``) makes it
#: its own quantity, a Greek letter, in every formula (:func:`shadowing_grammar`).
SHADOWABLE = ("sigma",)


def shadowing_grammar(shadowed: frozenset) -> str:
    """The grammar with each name in ``shadowed`` moved from the ``FUNC`` token to ``GREEK``.

    >>> "|sigma|" in shadowing_grammar(frozenset({"sigma"})).split("FUNC.2:")[1].splitlines()[0]
    False
    """
    grammar = _GRAMMAR
    for name in sorted(shadowed):
        grammar = re.sub(r"^(FUNC\.2: /.*?)\b" + name + r"\|?", r"\1", grammar, count=1, flags=re.MULTILINE)
        grammar = re.sub(r"^(GREEK\.2: /\\\\\()", r"\g<1>" + name + "|", grammar, count=1, flags=re.MULTILINE)
    return grammar


#: The grammar's entry rules: a display equation's text, and a declaration's.
STARTS = ("equations", "declaration")


@lru_cache(maxsize=None)
def _parser(positions: bool = False, shadowed: frozenset = frozenset()) -> lark.Lark:
    """The parser of every rule in :data:`STARTS`, made once (its LALR tables, most of a short
    document's reading time, come stored: :mod:`derive.document.grammar_tables`); with
    ``positions``, every tree knows where it starts (its dropped ``-`` or ``(`` too), which
    doubles the time of a read: :func:`_parse` reads again so only for an error.  ``shadowed``:
    the function names the document made its own quantities (:data:`SHADOWABLE`)."""
    return grammar_parser(shadowing_grammar(shadowed) if shadowed else _GRAMMAR, STARTS, positions)


# --- decoration, blanked without moving any character -----------------------------------

_COMMAND = re.compile(r"\\([a-zA-Z]+|.)", re.DOTALL)
_SIZERS = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
           "big", "Big", "bigg", "Bigg", "middle"}
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits",
            "nolimits", "nonumber", "notag", "enspace", "thinspace", "medspace", "thickspace"}
_TEXT = {"text", "textrm", "textit", "textbf", "mbox", "label", "tag"}
_FONTS = {"mathbf", "boldsymbol", "bm", "mathit", "vec", "mathrm", "mathsf", "mathnormal"}
_KEEP_FONT = re.compile(r"\s*\{\s*[1I]\s*\}")
#: Upright or italic words that name a function (``\mathrm{sign}``); ``\mathbf{Wx}`` stays letters.
_WORD_FONTS = {"operatorname", "mathrm", "mathit", "mathsf", "mathnormal"}
_FONT_WORD = re.compile(r"\*?\s*\{\s*([a-zA-Z]+)\s*\}")
#: The functions a word names in ``\operatorname{...}`` or ``\mathrm{...}`` (any case): the word
#: to the function.  ``max`` and ``min`` take several arguments, the others one.
NAMED_FUNCTIONS = {"sign": "sign", "sgn": "sign", "exp": "exp", "log": "log", "ln": "log",
                   "tanh": "tanh", "sigmoid": "sigma", "det": "det", "tr": "tr", "trace": "tr",
                   "diag": "diag", "softmax": "softmax", "max": "max", "min": "min"}
#: Private marks that ``clean`` writes for a named function: the grammar's FUNC and MAXMIN.
_FUNCTION_MARK, _MAXMIN_MARK = "\x05", "\x06"
_DOT, _BRACE = re.compile(r"\s*\."), re.compile(r"\s*\{")
_OPENERS, _CLOSERS = "([{", ")]}"


def _matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start`` (or -1); ``\\{`` and ``\\}`` do not count."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _is_control(char: str) -> bool:
    return (char < " " and char not in "\t\n\r") or "\x7f" <= char < "\xa0"


def _shown(char: str) -> str:
    """A character as an error message quotes it: control and invisible ones as ``U+XXXX``."""
    return char if char.isprintable() and not char.isspace() else f"U+{ord(char):04X}"


_PAIRS = {")": "(", "]": "[", "}": "{", "\\}": "\\{"}


def clean(text: str, where=lambda offset, message: DocumentError(message)) -> str:
    """``text`` with decoration blanked and bars paired, every character where it was.

    ``where(offset, message)`` makes the error for a problem at ``offset``: an unbalanced or
    mismatched bracket, an unpaired bar, nesting deeper than :data:`MAX_DEPTH`, a control
    character.

    >>> clean(r"\\left( a \\right)^{2} \\quad \\text{if } |x|")
    '     ( a       )^{2}                  \\x01x\\x02'
    """
    out = list(text)
    opened: list[tuple[str, int]] = []  # open brackets, innermost last: "(", "[", "{", "\\{" or
    # "font" (the brace of \mathbf{...}, blanked with its closing brace), and where each is
    bars: list[tuple[str, int, int]] = []  # open bars: kind, bracket depth, where
    i = 0

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    def unpaired(kind: str, at: int) -> DocumentError:
        return where(at, f"unpaired {'|' if kind == 'abs' else '||'} (an evaluation bar like "
                     "\\Big|_{\\eta=0} is not supported)")

    def bar(kind: str, at: int, width: int) -> None:
        if bars and bars[-1][:2] == (kind, len(opened)):
            bars.pop()
            mark = "\x02" if kind == "abs" else "\x04"
        else:
            bars.append((kind, len(opened), at))
            mark = "\x01" if kind == "abs" else "\x03"
        out[at] = mark
        blank(at + 1, at + width)

    def push(kind: str, at: int) -> None:
        opened.append((kind, at))
        if len(opened) > MAX_DEPTH:
            raise where(at, f"brackets nested more than {MAX_DEPTH} deep")

    def pop(closer: str, at: int) -> None:
        if bars and bars[-1][1] == len(opened):
            raise unpaired(bars[-1][0], bars[-1][2])
        if not opened:
            raise where(at, f"`{closer}` closes nothing (no `{_PAIRS[closer]}` before it)")
        kind, _ = opened.pop()
        if kind == "font":
            kind = "{"
            out[at] = " "
        if kind != _PAIRS[closer]:
            raise where(at, f"`{closer}` does not match the open `{kind}`")

    while i < len(text):
        char = text[i]
        if text.startswith("\\\\", i):
            i += 2
        elif char == "%":
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
            blank(i, end)
            i = end
        elif char == "\\":
            match = _COMMAND.match(text, i)
            if match is None:
                raise where(i, "a lone `\\` at the end of the math")
            name, end = match.group(1), match.end()
            if name in _SIZERS:
                blank(i, end)
                rest = _DOT.match(text, end)
                if rest:
                    blank(end, rest.end())
                    end = rest.end()
            elif name in _SPACING:
                blank(i, end)
            elif name in _TEXT:
                opening = _BRACE.match(text, end)
                if not opening:
                    raise where(i, f"`\\{name}` needs a braced argument")
                close = _matching_brace(text, opening.end() - 1)
                if close < 0:
                    raise where(opening.end() - 1, f"`\\{name}{{` is never closed")
                blank(i, close + 1)
                end = close + 1
            elif name in _WORD_FONTS and (word := _function_word(text, end, name)):
                end = _name_function(text, i, word, out)
            elif name in _FONTS and not _KEEP_FONT.match(text, end):
                opening = _BRACE.match(text, end)
                if opening:
                    end = opening.end()
                    push("font", end - 1)
                blank(i, end)
            elif name in ("lVert", "rVert"):
                out[i] = "\x03" if name == "lVert" else "\x04"
                blank(i + 1, end)
            elif name in ("lvert", "rvert"):
                out[i] = "\x01" if name == "lvert" else "\x02"
                blank(i + 1, end)
            elif name in ("|", "Vert"):
                bar("norm", i, end - i)
            elif name == "{":
                push("\\{", i)
            elif name == "}":
                pop("\\}", i)
            elif _is_control(name):
                raise where(i + 1, f"control character {_shown(name)} in the math")
            i = end
        elif char in _OPENERS:
            push(char, i)
            i += 1
        elif char in _CLOSERS:
            pop(char, i)
            i += 1
        elif char == "|":
            bar("abs", i, 1)
            i += 1
        elif char == "\u2016":
            bar("norm", i, 1)
            i += 1
        elif char == "~":
            out[i] = " "
            i += 1
        elif _is_control(char):
            raise where(i, f"control character {_shown(char)} in the math")
        else:
            i += 1
    if bars:
        raise unpaired(bars[-1][0], bars[-1][2])
    if opened:
        kind, at = opened[-1]
        raise where(at, f"`{'{' if kind == 'font' else kind}` is never closed")
    return "".join(out)


def _function_word(text: str, end: int, font: str):
    """The braced word after ``\\operatorname`` (any word) or a word font (two letters or more:
    ``\\mathrm{d}`` stays the letter d), or None."""
    match = _FONT_WORD.match(text, end)
    if match is None or (font != "operatorname" and (len(match.group(1)) < 2 or text[end] == "*")):
        return None
    return match


def _name_function(text: str, at: int, word: re.Match, out: list) -> int:
    """Write a private mark and ``word`` over ``\\mathrm{word}`` at ``at``, then blanks (the
    parser names the function, or refuses an unknown word); the end of the command.

    >>> clean(r"\\operatorname{Tr} A + \\mathrm{d}x")
    '\\x05Tr               A +         d x'
    """
    written = word.group(1)
    function = NAMED_FUNCTIONS.get(written.lower())
    mark = _MAXMIN_MARK + function if function in ("max", "min") else _FUNCTION_MARK + written
    for k in range(at, word.end()):
        if out[k] != "\n":
            out[k] = " "
    out[at:at + len(mark)] = mark
    return word.end()


def _function_named(token: Token) -> str:
    """The function a FUNC or OPERATOR token names (``\\ln`` is ``log``), or an error for a word
    in ``\\operatorname`` that names none."""
    if token.startswith(_FUNCTION_MARK):
        function = NAMED_FUNCTIONS.get(token[1:].lower())
        if function is None:
            raise _Misplaced(f"unknown function `{token[1:]}`: a word in \\operatorname{{...}} or "
                             f"\\mathrm{{...}} names a function: {', '.join(sorted(NAMED_FUNCTIONS))}")
        return function
    return {r"\ln": "log"}.get(str(token), str(token)[1:])


# --- the tree to our nodes --------------------------------------------------------------


class _Paren(Node):
    """A bracketed expression while building: a function call's argument list or a group."""

    def __init__(self, inner):
        self.inner = inner


class _Powered(Node):
    """``(x)^2`` or ``(x)^T`` while building: ``node`` is the power; a function written before it
    applies to ``inner`` first, so ``\\sigma(z)^2`` is ``(\\sigma(z))^2``."""

    def __init__(self, inner, exponent):
        self.inner, self.exponent = inner, exponent

    def around(self, base: Node) -> Node:
        if self.exponent is _INVERSE_TOP:
            return Transpose(Pow(base, Neg(Num(Fraction(1)))))
        return Transpose(base) if self.exponent is _TOP else Pow(base, self.exponent)

    @property
    def node(self) -> Node:
        return self.around(_plain(self.inner))


class _Marker(Node):
    def __init__(self, kind: str):
        self.kind = kind


_ONE, _TOP, _INVERSE_TOP = _Marker("one"), _Marker("top"), _Marker("inverse top")


class _BoxedEquation(Node):
    def __init__(self, parts):
        self.parts = parts


def _plain(node):
    """The node without a grouping wrapper; markers are refused here."""
    while isinstance(node, (_Paren, _Powered)):
        node = node.inner if isinstance(node, _Paren) else node.node
    if isinstance(node, _Chain):
        return node.kind(tuple(node.items))
    if isinstance(node, _Marker):
        raise _Misplaced("`\\mathbb{1}` needs a condition, as in \\mathbb{1}[m = y]"
                         if node is _ONE else f"`^{'{-T}' if node is _INVERSE_TOP else 'T'}` stands only as an exponent")
    if isinstance(node, _BoxedEquation):
        raise _Misplaced("\\boxed{...} around an equation must be the whole equation")
    if isinstance(node, Rel):
        raise _Misplaced(f"a comparison `{node.op}` stands only in an indicator or a case")
    return node


class _Misplaced(Exception):
    """A construct the grammar reads but the format refuses; :func:`_transform` places it at the
    rule being built (or at that rule's child number ``child``)."""

    def __init__(self, message: str, child: int | None = None):
        super().__init__(message)
        self.child, self.node = child, None


class _Chain(Node):
    """A sum or a product while building: ``a + b - c`` and ``a b c`` grow one flat list (in
    place, so a chain of n terms costs n, not n squared) and become one Add or Mul node."""

    def __init__(self, kind, items: list):
        self.kind, self.items = kind, items


def _chain(kind, left, right) -> _Chain:
    if isinstance(left, _Chain) and left.kind is kind:
        chain = left
    else:
        chain = _Chain(kind, _flat_items(kind, _plain(left)))
    chain.items.extend(_flat_items(kind, right))
    return chain


def _flat_items(kind, node) -> list:
    node = _plain(node)
    if isinstance(node, kind):
        return list(node.terms if kind is Add else node.factors)
    return [node]


def _exponent(node):
    """An exponent as :class:`_Powered` takes it: ``T`` (or ``\\top``) is the transpose, ``-T``
    (or ``-\\top``) the inverse's transpose."""
    if node is _INVERSE_TOP or node == Neg(Name("T")):
        return _INVERSE_TOP
    return _TOP if node is _TOP or node == Name("T") else _plain(node)


def _unwrapped(node):
    """The node inside any grouping brackets (cheap: a chain stays a chain)."""
    while isinstance(node, _Paren):
        node = node.inner
    return node


def _index_list(items) -> tuple[Node, ...]:
    """Subscript items: ``{m,k}`` is two, and so is ``{my}`` (single letters side by side)."""
    out = []
    for item in items:
        item = _plain(item)
        if isinstance(item, Mul) and all(isinstance(f, Name) and not f.indices for f in item.factors):
            out.extend(item.factors)
        else:
            out.append(item)
    return tuple(out)


class _Build:
    """lark's tree to our nodes: one method per rule, given its children already built
    (:func:`_transform` calls them bottom-up, without recursion)."""

    def letter(self, children):
        (token,) = children
        return Const("e") if token == "e" else Name(str(token))

    def number(self, children):
        (token,) = children
        if len(token) > MAX_NUMBER_DIGITS:
            raise _Misplaced(f"number longer than {MAX_NUMBER_DIGITS} digits")
        return Num(Fraction(str(token)))

    def greek(self, children):
        (token,) = children
        return Const("pi") if token == r"\pi" else Name(str(token))

    def accent(self, children):
        token, letter = children
        return Name(f"{token}{{{letter.children[0]}}}")

    def top(self, _children):
        return _TOP

    def one(self, _children):
        return _ONE

    def one_of(self, children):
        (condition,) = [c for c in children if not isinstance(c, Token)]
        while isinstance(condition, _Paren):
            condition = condition.inner
        if isinstance(condition, Indicator):
            return condition
        if not isinstance(condition, Rel):
            raise _Misplaced("`\\mathbb{1}[...]` needs a condition, as in \\mathbb{1}[m = y]")
        return Indicator(condition)

    def paren(self, children):
        (inner,) = [c for c in children if not isinstance(c, Token)]
        return inner if isinstance(inner, _Paren) else _Paren(inner)

    def bracket(self, children):
        (inner,) = [c for c in children if not isinstance(c, Token)]
        if isinstance(inner, Rel):
            return Indicator(inner)
        return inner if isinstance(inner, _Paren) else _Paren(inner)

    def rel(self, children):
        left, op, right = children
        return Rel(_RELATIONS[str(op)], _plain(left), _plain(right))

    def add(self, children):
        left, right = children
        return _chain(Add, left, right)

    def sub(self, children):
        left, right = children
        return _chain(Add, left, Neg(_plain(right)))

    def neg(self, children):
        if children[-1] is _TOP:  # W^{-\top}
            return _INVERSE_TOP
        return Neg(_plain(children[-1]))

    def div(self, children):
        left, right = children
        return Div(_plain(left), _plain(right))

    def mul(self, children):
        left, right = [c for c in children if not isinstance(c, Token)]
        if left is _ONE or _unwrapped(left) == Num(Fraction(1)):  # 1\{m = y\}
            condition = _unwrapped(right)
            if isinstance(condition, Indicator):
                return condition
            if isinstance(condition, Rel):
                return Indicator(condition)
        return _chain(Mul, left, right)

    def braced_arg(self, children):
        return ("braced", tuple(children))

    def single_arg(self, children):
        (token,) = children
        if token.type == "LETTER":
            return ("single", (self.letter([token]),))
        if token.type == "NUMBER":
            if len(token) > 1:
                raise _Misplaced(f"an argument without braces is one character (TeX shows `{token}` "
                                 f"as `{token[0]}` then `{token[1:]}`): write {{{token}}}")
            return ("single", (self.number([token]),))
        if token.type == "TOP":
            return ("single", (_TOP,))
        return ("single", (self.greek([token]),))

    def sub_script(self, children):
        return ("sub", children[0][1])

    def sup_script(self, children):
        return ("sup", children[0][1])

    def scripted(self, children):
        base, scripts = children[0], children[1:]
        subs = [items for kind, items in scripts if kind == "sub"]
        sups = [items for kind, items in scripts if kind == "sup"]
        if len(subs) > 1 or len(sups) > 1:
            raise _Misplaced("two subscripts (or two superscripts) on one symbol")
        node = base
        if subs:
            items = subs[0]
            if base is _ONE:
                if len(items) != 1 or not isinstance(items[0], Rel):
                    raise _Misplaced("`\\mathbb{1}_{...}` needs a condition, as in \\mathbb{1}_{m = y}")
                node = Indicator(items[0])
            elif isinstance(base, Name) and not base.indices:
                indices = _index_list(items)
                _refuse_constant_index(indices)
                if base.base == r"\delta" and len(indices) == 2:
                    node = Indicator(Rel("=", indices[0], indices[1]))
                else:
                    node = Name(base.base, indices)
            elif isinstance(base, Norm) and [_plain(i) for i in items] == [Num(Fraction(2))]:
                node = base
            elif isinstance(base, Const):
                shown = "e" if base.name == "e" else "\\pi"
                what = "Euler's number" if base.name == "e" else "the number \\pi"
                example = ("a basis vector e_y, say, as u_y, or an indicator as \\mathbb{1}[m = y]"
                           if base.name == "e" else "mixture weights \\pi_k, say, as \\rho_k")
                raise _Misplaced(f"`{shown}` is {what} in derive, so `{shown}_...` has no index: call this "
                                 f"quantity by another letter ({example})")
            else:
                raise _Misplaced("a subscript here is not an index of a symbol: only a name "
                                 "(x_j, w_{jk}) takes one")
        if sups:
            (exponent,) = sups[0] if len(sups[0]) == 1 else (None,)
            if exponent is None:
                raise _Misplaced("an exponent is one expression")
            powered = _Powered(node, _exponent(exponent))
            return powered if isinstance(node, _Paren) else powered.node
        return node

    def bigop(self, children):
        token, scripts, body = children[0], children[1:-1], children[-1]
        kind = "sum" if token == r"\sum" else "prod"
        index = lower = upper = excluded = None
        for script_kind, items in scripts:
            if len(items) != 1:
                raise _Misplaced(f"\\{kind}'s limits are one expression each")
            (item,) = items
            item = item.inner if isinstance(item, _Paren) else item
            if script_kind == "sup":
                upper = _plain(item)
            elif isinstance(item, Rel) and item.op in ("=", "!="):
                index = item.left
                lower, excluded = (item.right, None) if item.op == "=" else (None, item.right)
            else:
                index = item
        _refuse_constant_index((index,))
        if not (isinstance(index, Name) and not index.indices and len(index.base) == 1):
            raise _Misplaced(f"\\{kind} needs its index below it, as in \\{kind}_{{k}} or \\{kind}_{{k=1}}^{{K}}")
        if (lower is None) != (upper is None):
            raise _Misplaced(f"\\{kind} needs both limits, as in \\{kind}_{{k=1}}^{{K}}, or neither")
        return BigOp(kind, index.base, lower, upper, excluded, _plain(body))

    def func(self, children):
        token, rest = children[0], children[1:]
        name = _function_named(token)
        script, argument = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
        if isinstance(argument, _Powered):  # f(x)^2 is (f(x))^2
            call = argument.around(Call(name, (_plain(argument.inner),)))
        else:
            call = Call(name, (_plain(argument),))
        if script is None:
            return call
        kind, items = script
        if kind == "sub":
            shown = token if token.startswith("\\") else f"\\operatorname{{{name}}}"
            raise _Misplaced(f"`{shown}` takes no subscript")
        if len(items) != 1:
            raise _Misplaced("an exponent is one expression")
        return _Powered(call, _exponent(items[0])).node

    def frac_digits(self, children):
        (token,) = children
        numerator, denominator = [c for c in str(token) if c.isdigit()]
        return Div(Num(Fraction(numerator)), Num(Fraction(denominator)))

    def sqrt(self, children):
        _, argument = children
        return Pow(_arg(argument), Num(Fraction(1, 2)))

    def frac(self, children):
        _, numerator, denominator = children
        numerator, denominator = _arg(numerator), _arg(denominator)
        if _starts_with_d(numerator) and isinstance(denominator, Mul) and denominator.factors[0] == Name("d"):
            return _leibniz(numerator, denominator)
        return Div(numerator, denominator)

    def order(self, children):
        (arg,) = children
        return ("order", _order_number(_arg(arg)))

    def by_list(self, children):
        return ("by", tuple(_plain(c) for c in children if not isinstance(c, Token)))

    def derivative(self, children):
        """``\\frac{\\partial f}{\\partial x}``, ``\\frac{\\partial^2 L}{\\partial a \\partial b}``."""
        order, (of, (_, bys)) = _order_and_rest(children)
        return _derivative(_plain(of), order, bys)

    def derivative_operator(self, children):
        """``\\frac{\\partial}{\\partial x} f``, or ``\\frac{d}{dx} f`` (one variable after the ``d``)."""
        order, (below, of) = _order_and_rest(children)
        bys = below[1] if isinstance(below, tuple) else (_plain(below),)
        return _derivative(_plain(of), order, bys)

    def slash_derivative(self, children):
        """``\\partial q_t / \\partial s_k``, as written in a sentence."""
        _, of, _, by = children
        return _derivative(_plain(of), 1, (_plain(by),))

    def nabla(self, children):
        """``\\nabla_w L`` (the gradient) or ``\\nabla^2_w L`` (the Hessian)."""
        order, (by, of) = _order_and_rest(children)
        return _derivative(_plain(of), order, (_arg(by),) * order)

    def hadamard(self, children):
        left, _, right = children
        return Call("hadamard", (_plain(left), _plain(right)))

    def maxmin(self, children):
        token = children[0]
        arguments = tuple(_plain(c) for c in children[1:] if not isinstance(c, Token))
        return Call(str(token)[1:], arguments)

    def norm(self, children):
        return Norm(_plain([c for c in children if not isinstance(c, Token)][0]))

    def abs(self, children):
        return Abs(_plain([c for c in children if not isinstance(c, Token)][0]))

    def case_row(self, children):
        values = [c for c in children if not isinstance(c, Token)]
        value = _plain(values[0])
        if len(values) == 1:
            return (value, None)
        condition = values[1].inner if isinstance(values[1], _Paren) else values[1]
        if not isinstance(condition, Rel):
            raise _Misplaced("a case's condition is a comparison, as in m = y")
        return (value, condition)

    def cases(self, children):
        return Cases(tuple(c for c in children if isinstance(c, tuple)))

    def matrix_row(self, children):
        return ("row", tuple(_plain(c) for c in children if not isinstance(c, Token)))

    def matrix(self, children):
        """``\\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}``, or ``bmatrix``: rows of one length."""
        begin, end = (re.search(r"[pb]matrix", str(token)).group() for token in (children[0], children[-1]))
        if begin != end:
            raise _Misplaced(f"`\\begin{{{begin}}}` ends with `\\end{{{begin}}}`, not `\\end{{{end}}}`")
        rows = tuple(c[1] for c in children if isinstance(c, tuple))
        if len({len(row) for row in rows}) != 1:
            raise _Misplaced("every row of a matrix has the same number of entries")
        return MatrixLiteral(rows)

    def boxed(self, children):
        (equation,) = [c for c in children if not isinstance(c, Token)]
        if len(equation) == 1:
            return Boxed(_plain(equation[0]))
        return _BoxedEquation(equation)

    def equation(self, children):
        """Its parts and relation signs, in order (or one whole boxed equation)."""
        if len(children) == 1 and isinstance(children[0], _BoxedEquation):
            return tuple(children)
        for k, child in enumerate(children):
            if not isinstance(child, Token):
                try:
                    children[k] = _plain(child)
                except _Misplaced as error:
                    raise _Misplaced(str(error), child=k) from None
        return tuple(children)

    def equations(self, children):
        return tuple(children)

    # declarations: plain tuples for declare.py
    def declaration(self, children):
        names = [c for c in children if isinstance(c, tuple) and c[0] == "name"]
        (kind,) = [c for c in children if isinstance(c, tuple) and c[0] == "set"]
        return ("declaration", tuple(n[1] for n in names), kind[1])

    def decl_name(self, children):
        (child,) = children
        return ("name", "dots" if isinstance(child, Token) else _plain(child))

    def reals(self, children):
        sign = next((c[1] for c in children if isinstance(c, tuple) and c[0] == "sign"), None)
        dims = next((c[1] for c in children if isinstance(c, tuple) and c[0] == "dims"), ())
        return ("set", ("reals", sign, dims))

    def real_sign(self, children):
        op, bound = children
        return ("sign", (_RELATIONS[str(op)], _plain(bound)))

    def real_dims(self, children):
        (arg,) = children
        items = _arg_items(arg)
        if len(items) == 1 and isinstance(items[0], Mul):
            items = items[0].factors
        return ("dims", tuple(items))

    def naturals(self, _children):
        return ("set", ("naturals",))

    def finite_set(self, children):
        items = tuple("dots" if isinstance(c, Token) and c.type == "DOTS" else _plain(c)
                      for c in children if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE")))
        return ("set", ("finite", items))


def _refuse_constant_index(indices) -> None:
    """``f_e`` or ``\\sum_e``: ``e`` (or ``\\pi``) is a number in derive, never an index letter."""
    for index in indices:
        if isinstance(index, Const):
            shown = "e" if index.name == "e" else "\\pi"
            what = "Euler's number" if index.name == "e" else "the number \\pi"
            raise _Misplaced(f"`{shown}` is {what} in derive, so it cannot be an index: use another "
                             "letter (m, k, j, ...)")


def _starts_with_d(node: Node) -> bool:
    """``d``, ``d f`` or ``d^2 f``: the numerator of a Leibniz ``\\frac{d f}{d x}``."""
    first = node.factors[0] if isinstance(node, Mul) else node
    return first == Name("d") or (isinstance(first, Pow) and first.base == Name("d"))


_LEIBNIZ_ABOVE = re.compile(r"\\[dt]?frac\s*(\{)\s*d(?!\s*_)")
_LEIBNIZ_BELOW = re.compile(r"\s*\{\s*d\s*[^\s}_^]")


def leibniz_fractions(text: str) -> list[int]:
    """Where ``text`` writes a fraction read as a Leibniz derivative (``\\frac{dL}{dx}``,
    ``\\frac{\\mathrm{d}}{\\mathrm{d}x}``): its numerator starts with ``d`` and its denominator
    with ``d`` and more.  A document whose ``d`` is a quantity is refused at each (declare.py).

    >>> leibniz_fractions(r"\\frac{d^{2} y}{dx^2} + \\frac{d}{2} + \\frac{\\mathrm{d}}{\\mathrm{d} t} y")
    [0, 37]
    """
    shown = clean(text)
    closing = _closing_braces(shown)
    return [match.start() for match in _LEIBNIZ_ABOVE.finditer(shown)
            if match.start(1) in closing and _LEIBNIZ_BELOW.match(shown, closing[match.start(1)] + 1)]


def _closing_braces(text: str) -> dict[int, int]:
    """Where the ``}`` closing each ``{`` is, in one pass (``\\{`` and ``\\}`` do not count).

    >>> _closing_braces(r"{a{b}\\{}")
    {2: 4, 0: 7}
    """
    found, opened, i = {}, [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 1
        elif text[i] == "{":
            opened.append(i)
        elif text[i] == "}" and opened:
            found[opened.pop()] = i
        i += 1
    return found


def _order_and_rest(children) -> tuple[int, list]:
    """A derivative rule's order (1 unless written, as in ``\\partial^2``) and its other values."""
    values = [c for c in children if not isinstance(c, Token)]
    orders = [v[1] for v in values if isinstance(v, tuple) and v[0] == "order"]
    return (orders[0] if orders else 1), [v for v in values if not (isinstance(v, tuple) and v[0] == "order")]


def _leibniz(numerator: Node, denominator: Mul) -> Node:
    """``\\frac{dL}{dx}`` or ``\\frac{d^2 y}{dx^2}``: a fraction of products that both start with
    ``d`` (a document whose ``d`` is a quantity is refused where it writes one, in declare.py)."""
    factors = numerator.factors if isinstance(numerator, Mul) else (numerator,)
    first, rest = factors[0], factors[1:]
    order = 1 if first == Name("d") else _order_number(first.exponent)
    if not rest or len(denominator.factors) != 2:
        raise _Misplaced("a Leibniz derivative is \\frac{dL}{dx} or \\frac{d}{dx} (L): one quantity above "
                         "and one variable below; for more, write \\frac{\\partial^2 L}{\\partial x \\partial y}")
    return _derivative(rest[0] if len(rest) == 1 else Mul(rest), order, denominator.factors[1:])


def _order_number(node: Node) -> int:
    """The order of a derivative, as written in ``\\partial^2`` or ``d^2``."""
    if not (isinstance(node, Num) and node.value.denominator == 1 and 1 <= node.value <= MAX_ORDER):
        raise _Misplaced(f"the order of a derivative is a whole number from 1 to {MAX_ORDER}, as in \\partial^2")
    return int(node.value)


def _derivative(of: Node, order: int, bys) -> Node:
    """``of`` differentiated by each of ``bys``, the last first (``\\partial a \\partial b`` is the
    derivative by ``a`` of the one by ``b``); ``\\partial x^2`` is ``x`` twice.  The numerator's
    order must be the count below.

    >>> from derive.document.ast import to_latex
    >>> to_latex(_derivative(Name("L"), 2, (Name("a"), Name("b"))))
    '\\\\frac{\\\\partial^{2} L}{\\\\partial a \\\\partial b}'
    """
    variables = []
    for by in bys:
        power = by.exponent if isinstance(by, Pow) else None
        if isinstance(power, Num) and power.value.denominator == 1 and 1 < power.value <= MAX_ORDER:
            variables.extend([by.base] * int(power.value))
        else:
            variables.append(by)
    if len(variables) != order:
        raise _Misplaced(f"a derivative of order {order} needs {order} variable(s) below it, "
                         f"and {len(variables)} {'is' if len(variables) == 1 else 'are'} written "
                         "(\\partial x^2 counts twice: \\frac{\\partial^2 L}{\\partial x^2})")
    for by in reversed(variables):
        of = Derivative(of, by)
    return of


def _arg_items(arg) -> tuple:
    kind, items = arg
    return tuple(_plain(i) for i in items)


def _arg(arg) -> Node:
    items = _arg_items(arg)
    if len(items) != 1:
        raise _Misplaced("one expression expected between the braces")
    return items[0]


def _depth(node, limit: int) -> int:
    """The depth of a tree, without recursion; stops counting past ``limit``."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(current, (list, tuple)):
            stack.extend((c, level) for c in current)
        elif isinstance(current, Node) and hasattr(current, "__dataclass_fields__"):
            for name in current.__dataclass_fields__:
                child = getattr(current, name)
                if isinstance(child, (Node, tuple)):
                    stack.append((child, level + 1))
    return deepest


def _parse(text: str, start: str, source: Source | None, offset: int, shadowed: frozenset = frozenset()):
    """``text`` read from rule ``start``: the result and each equation's relation positions, or a
    DocumentError placed in ``source`` (``text`` starts at ``offset`` there)."""
    source = source or Source(text)
    try:
        return _read(text, start, shadowed)
    except _Refused as refused:
        raise source.error(offset + refused.at, refused.message) from None


class _Refused(Exception):
    """A math text that cannot be read, ``at`` an offset in it."""

    def __init__(self, at: int, message: str):
        super().__init__(message)
        self.at, self.message = at, message


@lru_cache(maxsize=2048)
def _read(text: str, start: str, shadowed: frozenset = frozenset()):
    """:func:`_parse` wherever ``text`` is: a result depends on the text alone, so a formula
    written again (or a document read again) is read once.  Results are never changed."""
    if len(text) > MAX_MATH_CHARS:
        raise _Refused(0, f"math longer than {MAX_MATH_CHARS} characters")
    cleaned = clean(text, _Refused)
    try:
        tree = _parser(False, shadowed).parse(cleaned, start=start)
    except lark.exceptions.UnexpectedCharacters as error:
        raise _Refused(error.pos_in_stream, _unexpected_text(text, error.pos_in_stream)) from None
    except lark.exceptions.UnexpectedToken as error:
        token = error.token
        if token.type == "$END":
            end = len(cleaned.rstrip())
            raise _Refused(max(end - 1, 0), "the math ends too early (a missing operand?)"
                           if end else "empty math") from None
        before = cleaned[:token.start_pos].rstrip()
        if str(token) == "_" and before.endswith("\\partial"):
            raise _Refused(len(before) - len("\\partial"), "`\\partial_x L` is not supported: write "
                           "\\frac{\\partial L}{\\partial x} or \\partial L / \\partial x") from None
        if token.type == "PARTIAL":
            raise _Refused(token.start_pos, "`\\partial L / \\partial x` stands only as a term of its own "
                           "(a side, or added to others): in a product write \\frac{\\partial L}{\\partial x}") from None
        raise _Refused(token.start_pos, f"unexpected `{_token_text(text, token)}` here") from None
    except lark.exceptions.LarkError:
        raise _Refused(0, "cannot read this math") from None
    try:
        result = _build(tree)
    except _Misplaced:
        try:  # the same error again, from a tree that knows where each rule starts
            _build(_parser(True, shadowed).parse(cleaned, start=start))
        except _Misplaced as error:
            raise _Refused(_position_of(error.node), str(error)) from None
        raise
    if _depth(result, MAX_DEPTH) > MAX_DEPTH:
        raise _Refused(0, f"expression nested more than {MAX_DEPTH} deep")
    return result, (_positions(tree) if start == "equations" else [])


def _build(tree: lark.Tree):
    """Our nodes from lark's tree, or a :class:`_Misplaced` naming its lark node."""
    deep = _too_deep(tree)
    if deep is not None:
        error = _Misplaced(f"expression nested more than {MAX_DEPTH} deep")
        error.node = deep
        raise error
    return _transform(tree)


class _Reduce:
    """On :func:`_transform`'s stack: build ``tree`` from its last ``len(tree.children)`` values."""

    def __init__(self, tree: lark.Tree):
        self.tree = tree


def _transform(tree: lark.Tree):
    """The tree built bottom-up by :class:`_Build`, with an explicit stack (no recursion, so no
    input can exhaust Python's stack)."""
    build, values, todo = _Build(), [], [tree]
    while todo:
        item = todo.pop()
        if isinstance(item, _Reduce):
            count = len(item.tree.children)
            children = values[len(values) - count:]
            del values[len(values) - count:]
            method = getattr(build, str(item.tree.data), None)
            try:
                values.append(method(children) if method else lark.Tree(item.tree.data, children))
            except _Misplaced as error:
                error.node = item.tree if error.child is None else item.tree.children[error.child]
                raise
        elif isinstance(item, lark.Tree):
            todo.append(_Reduce(item))
            todo.extend(reversed(item.children))
        else:
            values.append(item)
    (result,) = values
    return result


# Rules that become no node of their own (or a node flattened into its parent's).
_GROUPING = {"equations", "equation", "paren", "bracket", "sub_script", "sup_script", "braced_arg",
             "single_arg", "case_row", "matrix_row", "accent_arg", "decl_name", "declaration", "real_sign",
             "real_dims"}
_CHAINS = {"add": "sum", "sub": "sum", "mul": "product"}


def _too_deep(tree: lark.Tree) -> lark.Tree | None:
    """The leftmost node nested more than :data:`MAX_DEPTH` nodes deep, or None.

    Counts roughly as the built tree will: grouping rules count nothing, and a chain
    ``a + b - c`` or ``a b c`` is one flat node however long it is.
    """
    stack = [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            return node
        for child in reversed(node.children):  # the leftmost deepest node is reported
            if isinstance(child, lark.Tree):
                chain = _CHAINS.get(str(child.data))
                flat = child.data in _GROUPING or (chain is not None and chain == _CHAINS.get(str(node.data)))
                stack.append((child, level + (0 if flat else 1)))
    return None


def _position_of(obj) -> int:
    """Where a lark tree (or token) starts: its first token, counting the ones the tree dropped
    (a rule's ``-`` or ``(``), or 0."""
    if isinstance(obj, Token):
        return obj.start_pos or 0
    if isinstance(obj, lark.Tree) and not obj.meta.empty:
        return obj.meta.start_pos
    return 0


def _positions(tree) -> list[list[int]]:
    """For each equation, where its relation signs are (inside ``\\boxed{...}`` for a boxed one)."""
    found = []
    for equation in tree.children:
        children = equation.children
        if len(children) == 1 and isinstance(children[0], lark.Tree) and children[0].data == "boxed":
            children = children[0].children[-1].children
        found.append([c.start_pos for c in children if isinstance(c, Token) and c.type == "REL"])
    return found


_FORBIDDEN = {r"\input", r"\include", r"\def", r"\edef", r"\gdef", r"\let", r"\newcommand",
              r"\renewcommand", r"\providecommand", r"\DeclareMathOperator", r"\write", r"\openin",
              r"\openout", r"\read", r"\immediate", r"\csname", r"\catcode", r"\usepackage",
              r"\documentclass", r"\special", r"\directlua", r"\href", r"\url", r"\require"}


def _unexpected_text(text: str, at: int) -> str:
    command = _COMMAND.match(text, at)
    if text[at] == "\\" and command:
        name = command.group(0)
        if name in _FORBIDDEN:
            return f"`{name}` is not allowed in a derivation (no macros, no files)"
        if name in (r"\begin", r"\end"):
            environment = re.compile(r"\s*\{([a-zA-Z*]*)\}").match(text, command.end())
            if environment:
                return f"environment `{environment.group(1)}` is not supported here"
        return f"unknown command `{_shown_text(name)}`"
    if text[at] == "'":
        return "primes (g') are not supported: name the derivative, or write \\frac{\\partial g}{\\partial x}"
    return f"unexpected `{_shown(text[at])}`"


def _shown_text(text: str) -> str:
    return "".join(_shown(c) if not c.isprintable() else c for c in text)


def _token_text(text: str, token: Token) -> str:
    """What a token was in the written math (a bar, say, rather than its private mark)."""
    if token.type in ("ABS_OPEN", "ABS_CLOSE", "NORM_OPEN", "NORM_CLOSE") and text[token.start_pos] == "\\":
        return _COMMAND.match(text, token.start_pos).group(0)
    shown = text[token.start_pos:token.end_pos].strip() or str(token)
    return _shown_text(shown)


def parse_equations(text: str, source: Source | None = None, offset: int = 0,
                    shadowed: frozenset = frozenset()) -> list[Equation]:
    """The relations in a piece of math: ``a = b = c, d = e`` gives three.

    ``source`` and ``offset`` place ``text`` in its document, for positions and errors.
    A chain's steps are its consecutive pairs.  A lone expression (no relation) gives none.
    """
    source = source or Source(text)
    rows, positions = _parse(text, "equations", source, offset, shadowed)
    equations = []
    for row, signs in zip(rows, positions):
        boxed = len(row) == 1 and isinstance(row[0], _BoxedEquation)
        if boxed:
            row = row[0].parts
        parts = row[0::2]
        ops = [_RELATIONS[str(t)] for t in row[1::2]]
        for k, op in enumerate(ops):
            line, column = source.location(offset + signs[k])
            equations.append(Equation(op, parts[k], parts[k + 1], line, column,
                                      source=source.line_text(line), boxed=boxed))
    return equations


def parse_expression(text: str, source: Source | None = None, offset: int = 0,
                     shadowed: frozenset = frozenset()) -> Node:
    """One expression (no relation)."""
    source = source or Source(text)
    rows, _ = _parse(text, "equations", source, offset, shadowed)
    if len(rows) != 1 or len(rows[0]) != 1 or isinstance(rows[0][0], _BoxedEquation):
        raise source.error(offset, "expected one expression")
    return rows[0][0]


def parse_declaration(text: str, source: Source | None = None, offset: int = 0, shadowed: frozenset = frozenset()):
    """``("declaration", names, set)`` for ``a, b \\in S``; names may include ``"dots"``."""
    source = source or Source(text)
    result, _ = _parse(text, "declaration", source, offset, shadowed)
    return result
