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
from lark import Token, Transformer

from derive.document.ast import (
    Abs, Add, BigOp, Boxed, Call, Cases, Const, Derivative, Div, Equation, Indicator, Mul, Name,
    Neg, Node, Norm, Num, Pow, Rel, Transpose,
)
from derive.document.source import DocumentError, Source

#: Longest piece of math (one display block or one inline formula), in characters.
MAX_MATH_CHARS = 4000
#: Deepest nesting of brackets, and of the tree built from them.
MAX_DEPTH = 40
#: Longest number literal, in digits.
MAX_NUMBER_DIGITS = 12

_GRAMMAR = (Path(__file__).with_name("grammar.lark")).read_text()
_RELATIONS = {"=": "=", "<": "<", ">": ">", r"\neq": "!=", r"\ne": "!=", r"\le": "<=",
              r"\leq": "<=", r"\ge": ">=", r"\geq": ">="}


@lru_cache(maxsize=None)
def _parser(start: str) -> lark.Lark:
    return lark.Lark(_GRAMMAR, parser="lalr", lexer="contextual", start=start,
                     propagate_positions=False, maybe_placeholders=False)


# --- decoration, blanked without moving any character -----------------------------------

_COMMAND = re.compile(r"\\([a-zA-Z]+|.)", re.DOTALL)
_SIZERS = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
           "big", "Big", "bigg", "Bigg", "middle"}
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "limits",
            "nolimits", "nonumber", "notag", "enspace", "thinspace", "medspace", "thickspace"}
_TEXT = {"text", "textrm", "textit", "textbf", "mbox", "label", "tag", "mathrm" + "text"}
_FONTS = {"mathbf", "boldsymbol", "bm", "mathit", "vec", "mathrm", "mathsf", "mathnormal"}
_KEEP_FONT = re.compile(r"\s*\{\s*[1I]\s*\}")
_OPENERS, _CLOSERS = "([{", ")]}"


def _matching_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start`` (or -1)."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "\\":
            continue
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return i
    return -1


def clean(text: str, where=lambda offset, message: DocumentError(message)) -> str:
    """``text`` with decoration blanked and bars paired, every character where it was.

    ``where(offset, message)`` makes the error for a problem at ``offset``.

    >>> clean(r"\\left( a \\right)^{2} \\quad \\text{if } |x|")
    '     ( a       )^{2}            \\x01x\\x02'
    """
    out = list(text)
    depth: list[str] = []
    bars: list[tuple[str, int]] = []  # open bars: kind and bracket depth
    i = 0

    def blank(start: int, end: int) -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    def bar(kind: str, at: int, width: int) -> None:
        if bars and bars[-1] == (kind, len(depth)):
            bars.pop()
            mark = "\x02" if kind == "abs" else "\x04"
        else:
            bars.append((kind, len(depth)))
            mark = "\x01" if kind == "abs" else "\x03"
        out[at] = mark
        blank(at + 1, at + width)

    def push(char: str, at: int) -> None:
        depth.append(char)
        if len(depth) > MAX_DEPTH:
            raise where(at, f"brackets nested more than {MAX_DEPTH} deep")

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
            name, end = match.group(1), match.end()
            if name in _SIZERS:
                blank(i, end)
                rest = re.match(r"\s*\.", text[end:])
                if rest:
                    blank(end, end + rest.end())
                    end += rest.end()
            elif name in _SPACING:
                blank(i, end)
            elif name in _TEXT:
                opening = re.match(r"\s*\{", text[end:])
                close = _matching_brace(text, end + opening.end() - 1) if opening else -1
                if close < 0:
                    raise where(i, f"`\\{name}` needs a braced argument")
                blank(i, close + 1)
                end = close + 1
            elif name in _FONTS and not _KEEP_FONT.match(text, end):
                opening = re.match(r"\s*\{", text[end:])
                if opening:
                    close = _matching_brace(text, end + opening.end() - 1)
                    if close < 0:
                        raise where(i, f"`\\{name}{{` is never closed")
                    out[close] = " "
                    end += opening.end()
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
                if depth:
                    depth.pop()
            i = end
        elif char in _OPENERS:
            push(char, i)
            i += 1
        elif char in _CLOSERS:
            if depth:
                depth.pop()
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
        elif char in "\x01\x02\x03\x04":
            raise where(i, "control character in the math")
        else:
            i += 1
    if bars:
        kind, _ = bars[-1]
        raise where(len(text) - 1, f"unpaired {'|' if kind == 'abs' else '||'} (an evaluation bar "
                    "like \\Big|_{\\eta=0} is not supported)")
    return "".join(out)


# --- the tree to our nodes --------------------------------------------------------------


class _Paren(Node):
    """A bracketed expression while building: a function call's argument list or a group."""

    def __init__(self, inner):
        self.inner = inner


class _Marker(Node):
    def __init__(self, kind: str):
        self.kind = kind


_ONE, _TOP = _Marker("one"), _Marker("top")


class _BoxedEquation(Node):
    def __init__(self, parts):
        self.parts = parts


class _Rows(list):
    """The equations of a block before positions are attached."""


def _plain(node):
    """The node without a grouping wrapper; markers are refused here."""
    if isinstance(node, _Paren):
        node = node.inner
    if isinstance(node, _Marker):
        raise _Misplaced("`\\mathbb{1}` needs a condition, as in \\mathbb{1}[m = y]"
                         if node is _ONE else "`^T` stands only as an exponent")
    if isinstance(node, _BoxedEquation):
        raise _Misplaced("\\boxed{...} around an equation must be the whole equation")
    if isinstance(node, Rel):
        raise _Misplaced(f"a comparison `{node.op}` stands only in an indicator or a case")
    return node


class _Misplaced(Exception):
    pass


def _flat(kind, items):
    out = []
    for item in items:
        out.extend(item.terms if kind is Add and isinstance(item, Add) else
                   item.factors if kind is Mul and isinstance(item, Mul) else [item])
    return kind(tuple(out))


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


class _Build(Transformer):
    """lark's tree to our nodes (bottom-up; lark's Transformer is recursive, so depth is bounded
    before this runs)."""

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

    def paren(self, children):
        return _Paren(children[-1]) if not isinstance(children[-1], Token) else _Paren(children[-2])

    def bracket(self, children):
        (inner,) = [c for c in children if not isinstance(c, Token)]
        return Indicator(inner) if isinstance(inner, Rel) else _Paren(inner)

    def rel(self, children):
        left, op, right = children
        return Rel(_RELATIONS[str(op)], _plain(left), _plain(right))

    def add(self, children):
        return _flat(Add, [_plain(c) for c in children])

    def sub(self, children):
        left, right = children
        return _flat(Add, [_plain(left), Neg(_plain(right))])

    def neg(self, children):
        return Neg(_plain(children[-1]))

    def div(self, children):
        left, right = children
        return Div(_plain(left), _plain(right))

    def mul(self, children):
        factors = [c for c in children if not isinstance(c, Token)]
        left, right = factors
        if left is _ONE or (isinstance(left, Num) and left.value == 1):
            condition = right.inner if isinstance(right, _Paren) else right
            if isinstance(condition, Indicator):
                return condition
            if isinstance(condition, Rel):
                return Indicator(condition)
        return _flat(Mul, [_plain(left), _plain(right)])

    def braced_arg(self, children):
        return ("braced", tuple(children))

    def single_arg(self, children):
        (token,) = children
        if token.type == "LETTER":
            return ("single", (self.letter([token]),))
        if token.type == "NUMBER":
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
                if base.base == r"\delta" and len(indices) == 2:
                    node = Indicator(Rel("=", indices[0], indices[1]))
                else:
                    node = Name(base.base, indices)
            elif isinstance(base, Norm) and [_plain(i) for i in items] == [Num(Fraction(2))]:
                node = base
            else:
                raise _Misplaced("a subscript here is not an index of a symbol")
        if sups:
            (exponent,) = sups[0] if len(sups[0]) == 1 else (None,)
            if exponent is None:
                raise _Misplaced("an exponent is one expression")
            if exponent is _TOP or exponent == Name("T"):
                return Transpose(_plain(node))
            return Pow(_plain(node), _plain(exponent))
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
        if not (isinstance(index, Name) and not index.indices and len(index.base) == 1):
            raise _Misplaced(f"\\{kind} needs its index below it, as in \\{kind}_{{k}} or \\{kind}_{{k=1}}^{{K}}")
        if (lower is None) != (upper is None):
            raise _Misplaced(f"\\{kind} needs both limits, as in \\{kind}_{{k=1}}^{{K}}, or neither")
        return BigOp(kind, index.base, lower, upper, excluded, _plain(body))

    def func(self, children):
        token, rest = children[0], children[1:]
        name = {r"\ln": "log"}.get(str(token), str(token)[1:])
        script, argument = (rest[0], rest[1]) if len(rest) == 2 else (None, rest[0])
        if isinstance(argument, _Paren):
            call = Call(name, (_plain(argument),))
        elif isinstance(argument, (Pow, Transpose)) and isinstance(getattr(argument, "base", None) or
                                                                   getattr(argument, "operand", None), _Paren):
            call = None  # handled below: f(x)^2 is (f(x))^2
            inner = argument.base if isinstance(argument, Pow) else argument.operand
            call = Call(name, (_plain(inner),))
            call = Pow(call, argument.exponent) if isinstance(argument, Pow) else Transpose(call)
        else:
            call = Call(name, (_plain(argument),))
        if script is None:
            return call
        kind, items = script
        if kind == "sub" or len(items) != 1:
            raise _Misplaced(f"`{token}` takes no subscript")
        return Pow(call, _plain(items[0]))

    def frac(self, children):
        _, numerator, denominator = children
        return Div(_arg(numerator), _arg(denominator))

    def derivative(self, children):
        values = [c for c in children if not isinstance(c, Token)]
        return Derivative(_plain(values[0]), _plain(values[1]))

    def derivative_operator(self, children):
        values = [c for c in children if not isinstance(c, Token)]
        return Derivative(_plain(values[1]), _plain(values[0]))

    def nabla(self, children):
        _, by, of = children
        return Derivative(_plain(of), _arg(by))

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

    def boxed(self, children):
        (equation,) = [c for c in children if not isinstance(c, Token)]
        if len(equation) == 1:
            return Boxed(_plain(equation[0]))
        return _BoxedEquation(equation)

    def equation(self, children):
        return list(children)

    def equations(self, children):
        return _Rows(children)

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


def _parse(text: str, start: str, source: Source | None, offset: int):
    source = source or Source(text)
    base = offset

    def where(at: int, message: str) -> DocumentError:
        return source.error(base + at, message)

    if len(text) > MAX_MATH_CHARS:
        raise where(0, f"math longer than {MAX_MATH_CHARS} characters")
    cleaned = clean(text, where)
    try:
        tree = _parser(start).parse(cleaned)
    except lark.exceptions.UnexpectedCharacters as error:
        raise where(error.pos_in_stream, _unexpected_text(text, error.pos_in_stream)) from None
    except lark.exceptions.UnexpectedToken as error:
        token = error.token
        if token.type == "$END":
            raise where(len(text.rstrip()) - 1 if text.strip() else 0,
                        "the math ends too early (an unclosed brace or a missing operand?)") from None
        shown = text[token.start_pos:token.end_pos] or str(token)
        raise where(token.start_pos, f"unexpected `{shown.strip()}` here") from None
    except lark.exceptions.UnexpectedEOF:
        raise where(len(text) - 1, "the math ends too early") from None
    if _depth_of_tree(tree) > 4 * MAX_DEPTH:
        raise where(0, f"expression nested more than {MAX_DEPTH} deep")
    try:
        result = _Build().transform(tree)
    except lark.exceptions.VisitError as error:
        if isinstance(error.orig_exc, _Misplaced):
            position = _position_of(error.obj)
            raise where(position, str(error.orig_exc)) from None
        raise
    if _depth(result, MAX_DEPTH) > MAX_DEPTH:
        raise where(0, f"expression nested more than {MAX_DEPTH} deep")
    return result, _positions(tree)


def _depth_of_tree(tree) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > 4 * MAX_DEPTH:
            break
        if isinstance(node, lark.Tree):
            stack.extend((c, level + 1) for c in node.children)
    return deepest


def _position_of(obj) -> int:
    """The first token's position inside a lark tree (or 0)."""
    stack = [obj]
    while stack:
        node = stack.pop(0)
        if isinstance(node, Token):
            return node.start_pos or 0
        if isinstance(node, lark.Tree):
            stack[:0] = node.children
    return 0


def _positions(tree) -> list[list[int]]:
    """For each equation, the position of each of its relation signs."""
    found = []
    for equation in tree.find_data("equation"):
        found.append([c.start_pos for c in equation.children if isinstance(c, Token) and c.type == "REL"])
    return found


def _unexpected_text(text: str, at: int) -> str:
    command = _COMMAND.match(text, at)
    if text[at] == "\\" and command:
        name = command.group(0)
        if name in (r"\input", r"\include", r"\def", r"\newcommand", r"\renewcommand", r"\write",
                    r"\csname", r"\catcode", r"\usepackage"):
            return f"`{name}` is not allowed in a derivation (no macros, no files)"
        return f"unknown command `{name}`"
    return f"unexpected `{text[at]}`"


def parse_equations(text: str, source: Source | None = None, offset: int = 0) -> list[Equation]:
    """The relations in a piece of math: ``a = b = c, d = e`` gives three.

    ``source`` and ``offset`` place ``text`` in its document, for positions and errors.
    A chain's steps are its consecutive pairs.  A lone expression (no relation) gives none.
    """
    source = source or Source(text)
    rows, positions = _parse(text, "equations", source, offset)
    equations = []
    for row, signs in zip(rows, positions):
        boxed = len(row) == 1 and isinstance(row[0], _BoxedEquation)
        if boxed:
            row = row[0].parts
        parts = [_plain_at(p, source, offset) for p in row[0::2]]
        ops = [_RELATIONS[str(t)] for t in row[1::2]]
        for k, op in enumerate(ops):
            at = offset + (signs[k] if k < len(signs) and not boxed else 0)
            line, column = source.location(at)
            equations.append(Equation(op, parts[k], parts[k + 1], line, column,
                                      source=source.line_text(line), boxed=boxed))
    return equations


def _plain_at(node, source: Source, offset: int) -> Node:
    try:
        return _plain(node)
    except _Misplaced as error:
        raise source.error(offset, str(error)) from None


def parse_expression(text: str, source: Source | None = None, offset: int = 0) -> Node:
    """One expression (no relation)."""
    source = source or Source(text)
    rows, _ = _parse(text, "equations", source, offset)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise source.error(offset, "expected one expression")
    return _plain_at(rows[0][0], source, offset)


def parse_declaration(text: str, source: Source | None = None, offset: int = 0):
    """``("declaration", names, set)`` for ``a, b \\in S``; names may include ``"dots"``."""
    source = source or Source(text)
    result, _ = _parse(text, "declaration", source, offset)
    return result
