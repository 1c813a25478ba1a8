"""What the verifier accepts, and how it makes it exact before anything is subtracted.

Every check here exists because an input once made the verifier say something false:

* An unordered container (a ``set`` such as ``loss.free_symbols``, a ``dict``) has no order to
  pair variables with claims in, so the pairing would depend on the hash seed: rejected.
* Noncommutative symbols: the proof strategies are commutative algebra: rejected.
* Floats: SymPy subtracts at a float's precision (``1.0*x - x*(1 + 10**-20)`` is 0), so every
  float is replaced by its exact binary value as a Rational first.
* Matrix symbols, strings, booleans and other non-expressions: a precise error.
* Two different symbols with one name (``Symbol('x')`` and ``Symbol('x', positive=True)``): a
  counterexample would print both as ``x``, so it could not be read: rejected, naming both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass

import sympy
from sympy import Expr, Float, Rational, Symbol

from derive.core.verdict import VerificationInputError

_UNORDERED = (Set, Mapping, type({}.keys()), type({}.values()), type({}.items()))


@dataclass(frozen=True)
class Shaped:
    """Entries in row-major order, and the shape they came in (``(n,)`` for a flat sequence)."""

    entries: tuple
    shape: tuple[int, ...]


def shaped(values, what: str) -> Shaped:
    """The entries of a scalar, sequence, nested sequence or Matrix, with their shape.

    Examples
    --------
    >>> from sympy import Matrix, symbols
    >>> a, b = symbols("a b")
    >>> shaped(Matrix([[a, b]]), "wrt").shape
    (1, 2)
    >>> shaped([[a], [b]], "claim").entries
    (a, b)
    >>> shaped({a, b}, "wrt")
    Traceback (most recent call last):
    ...
    derive.core.verdict.VerificationInputError: wrt is a set, which has no order: pass a list, tuple or Matrix so that entries pair up the same way every run
    """
    if isinstance(values, (str, bytes)):
        raise VerificationInputError(
            f"{what} is a string; derive never parses strings with eval: build it with sympy objects"
        )
    if isinstance(values, _UNORDERED):
        kind = "dict" if isinstance(values, Mapping) else type(values).__name__
        raise VerificationInputError(
            f"{what} is a {kind}, which has no order: pass a list, tuple or Matrix "
            "so that entries pair up the same way every run"
        )
    if isinstance(values, sympy.MatrixExpr) and not isinstance(values, sympy.MatrixBase):
        raise VerificationInputError(
            f"{what} is a matrix expression ({type(values).__name__}): write its entries "
            "explicitly, e.g. Matrix(3, 2, lambda i, j: Symbol(f'w_{i}{j}'))"
        )
    if isinstance(values, sympy.MatrixBase):
        return Shaped(tuple(values), tuple(values.shape))
    if isinstance(values, (sympy.Basic, int, float)):
        return Shaped((values,), ())
    try:
        items = list(values)
    except TypeError:
        raise VerificationInputError(
            f"{what} must be a sequence or Matrix, got {type(values).__name__}"
        ) from None
    if items and all(_is_nested(item) for item in items):
        rows = [shaped(item, what) for item in items]
        inner = {row.shape for row in rows}
        if len(inner) != 1:
            raise VerificationInputError(f"{what} is ragged: its rows have shapes {sorted(inner)}")
        return Shaped(tuple(e for row in rows for e in row.entries), (len(rows), *inner.pop()))
    flat = []
    for item in items:
        flat.extend(shaped(item, what).entries if _is_nested(item) else [item])
    return Shaped(tuple(flat), (len(flat),))


def _is_nested(value) -> bool:
    return isinstance(value, (list, tuple, sympy.MatrixBase)) or isinstance(value, _UNORDERED)


def same_shape(wrt: tuple[int, ...], claim: tuple[int, ...]) -> bool:
    """Whether a claim of shape ``claim`` pairs entry by entry with variables of shape ``wrt``.

    Vectors pair with vectors of the same length whatever their orientation (a row of a 1 x n
    Matrix and a flat list of n hold the same entries in the same order); anything with two
    dimensions larger than 1 must have exactly the shape of ``wrt``.

    Examples
    --------
    >>> same_shape((3,), (3, 1)), same_shape((1, 3), (3, 1)), same_shape((2, 3), (3, 2))
    (True, True, False)
    """
    if wrt == claim:
        return True
    return _vector_length(wrt) is not None and _vector_length(wrt) == _vector_length(claim)


def _vector_length(shape: tuple[int, ...]) -> int | None:
    large = [n for n in shape if n != 1]
    if len(large) > 1:
        return None
    return large[0] if large else 1


def expression(value, what: str, memo: dict | None = None) -> Expr:
    """``value`` as an exact SymPy expression, or a precise VerificationInputError.

    ``memo`` shares the scan of common subexpressions among the entries of one call.
    """
    if isinstance(value, (str, bytes)):
        raise VerificationInputError(
            f"the {what} is a string ({value!r}); derive never parses strings with eval: "
            "build it with sympy objects"
        )
    if isinstance(value, sympy.MatrixExpr) or isinstance(value, sympy.MatrixBase):
        raise VerificationInputError(
            f"the {what} is a matrix ({type(value).__name__}); give its entries one by one"
        )
    if isinstance(value, bool) or not isinstance(value, (sympy.Basic, int, float)):
        raise VerificationInputError(
            f"the {what} must be a SymPy expression or a number, got {type(value).__name__}"
        )
    expr = sympy.sympify(value)  # safe: a number or a Basic, never a string
    if not isinstance(expr, Expr) or isinstance(expr, sympy.MatrixExpr):
        raise VerificationInputError(f"the {what} must be an expression, got {type(expr).__name__}")
    found = traits(expr, {} if memo is None else memo)
    if "matrix" in found:
        raise VerificationInputError(
            f"the {what} contains a MatrixSymbol; write the matrix's entries as Symbols"
        )
    if "noncommutative" in found:
        noncommutative = sorted(str(s) for s in expr.free_symbols if s.is_commutative is False)
        raise VerificationInputError(
            f"the {what} has noncommutative symbols ({', '.join(noncommutative) or expr}); "
            "derive's proofs are commutative algebra: use commutative symbols for the entries"
        )
    return exact(expr) if "float" in found else expr


_UNDEFINED_ATOMS = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)


_SWITCHES = (sympy.Heaviside, sympy.DiracDelta, sympy.sign, sympy.Abs, sympy.Max, sympy.Min,
             sympy.Piecewise)


def traits(expr: sympy.Basic, memo: dict) -> frozenset:
    """What an expression contains, in one pass shared through ``memo``: any of ``"float"``,
    ``"matrix"``, ``"noncommutative"``, ``"undefined"`` (nan, zoo, an infinity) and ``"switch"``
    (``Max``, ``Abs``, ``Heaviside``, ``Piecewise``, ...: a possible kink).

    Examples
    --------
    >>> from sympy import Symbol, log, zoo, Max
    >>> sorted(traits(0.5 * Symbol("A", commutative=False) + log(zoo * Symbol("x")), {}))
    ['float', 'noncommutative', 'undefined']
    >>> sorted(traits(Max(0, Symbol("x")), {}))
    ['switch']
    """
    if expr in memo:
        return memo[expr]
    if expr.args:
        found = frozenset().union(*(traits(arg, memo) for arg in expr.args))
        if isinstance(expr, sympy.MatrixSymbol):
            found |= {"matrix"}
        elif isinstance(expr, _SWITCHES):
            found |= {"switch"}
    elif isinstance(expr, Float):
        found = frozenset({"float"} if expr.is_finite else {"float", "undefined"})
    elif expr in _UNDEFINED_ATOMS:
        found = frozenset({"undefined"})
    elif isinstance(expr, Symbol) and expr.is_commutative is False:
        found = frozenset({"noncommutative"})
    else:
        found = frozenset()
    memo[expr] = found
    return found


def exact(expr: Expr) -> Expr:
    """``expr`` with every Float replaced by its exact binary value, a Rational.

    Examples
    --------
    >>> from sympy import Float, symbols
    >>> x = symbols("x")
    >>> exact(0.5 * x**2)
    x**2/2
    >>> exact(Float(0.1) * x)
    3602879701896397*x/36028797018963968
    """
    floats = expr.atoms(Float)
    if not floats:
        return expr
    return expr.xreplace({number: _exact_float(number) for number in floats})


def _exact_float(number: Float) -> Expr:
    if not number.is_finite:
        return number  # Float('inf') / Float('nan') stay, and make the entry undefined
    return Rational(number)


def variable(value) -> Symbol:
    """A ``wrt`` entry: a commutative Symbol, or a precise VerificationInputError."""
    if not isinstance(value, Symbol):
        raise VerificationInputError(
            f"every variable in wrt must be a sympy Symbol, got {value!r} ({type(value).__name__})"
        )
    if value.is_commutative is False:
        raise VerificationInputError(
            f"wrt has a noncommutative symbol {value}; derive's proofs are commutative algebra"
        )
    return value


def distinct_names(exprs) -> None:
    """Raise a VerificationInputError if two different symbols in ``exprs`` print alike.

    Examples
    --------
    >>> from sympy import Symbol
    >>> distinct_names([Symbol("x") + 1, Symbol("y")])
    >>> distinct_names([Symbol("x") + 1, Symbol("x", positive=True)])
    Traceback (most recent call last):
    ...
    derive.core.verdict.VerificationInputError: two different symbols are both named x (one with no assumptions, one with positive=True); a verdict could not tell them apart: give them different names or the same assumptions
    """
    by_name: dict[str, Symbol] = {}
    for node in subexpressions(e for e in exprs if isinstance(e, sympy.Basic)):
        if isinstance(node, Symbol):
            printed = "_" + node.name if isinstance(node, sympy.Dummy) else node.name  # str(), without the printer
            other = by_name.setdefault(printed, node)
            if other != node:
                first, second = sorted((_facts(other), _facts(node)))
                raise VerificationInputError(
                    f"two different symbols are both named {node} (one with {first}, one with "
                    f"{second}); a verdict could not tell them apart: give them different names "
                    "or the same assumptions"
                )


def subexpressions(exprs: Iterable[sympy.Basic]) -> Iterator[sympy.Basic]:
    """Every distinct subexpression of ``exprs``, each once, in preorder: a subexpression that
    stands in many places (a sum shared by every entry) is walked once.

    Examples
    --------
    >>> from sympy import symbols, exp
    >>> x, y = symbols("x y")
    >>> [str(e) for e in subexpressions([exp(x) + exp(x) * y])]
    ['y*exp(x) + exp(x)', 'y*exp(x)', 'y', 'exp(x)', 'x']
    """
    seen: set = set()
    stack = list(reversed(list(exprs)))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(reversed(node.args))


def expanded_terms(expr: Expr, cap: int, *, polynomial: bool = False, memo: dict | None = None) -> int:
    """An upper bound on the terms of ``sympy.expand(expr)``, found without expanding: at most
    ``cap + 1`` (meaning "more than ``cap``").  A function application counts as one term plus
    its arguments' extra ones; with ``polynomial=True`` anything that is not a polynomial with
    rational coefficients counts as ``cap + 1``.

    Examples
    --------
    >>> from sympy import symbols, exp
    >>> a, b, c = symbols("a b c")
    >>> expanded_terms((a + b) * (a + c), 100), expanded_terms((a + b + c) ** 20, 100)
    (4, 101)
    >>> expanded_terms(exp(a) + b, 100), expanded_terms(exp(a) + b, 100, polynomial=True)
    (2, 101)
    """
    memo = {} if memo is None else memo
    if expr in memo:
        return memo[expr]
    over = cap + 1
    if isinstance(expr, sympy.Add):
        result = sum(expanded_terms(arg, cap, polynomial=polynomial, memo=memo) for arg in expr.args)
    elif isinstance(expr, sympy.Mul):
        result = 1
        for arg in expr.args:
            result = min(result * expanded_terms(arg, cap, polynomial=polynomial, memo=memo), over)
    elif isinstance(expr, sympy.Pow) and expr.exp.is_Integer and not (polynomial and expr.exp < 0):
        base = expanded_terms(expr.base, cap, polynomial=polynomial, memo=memo)
        exponent = abs(int(expr.exp))
        # base >= 2 and 2**exponent > cap: over the cap without computing base**exponent
        result = 1 if base == 1 else (over if exponent >= cap.bit_length() else base**exponent)
    elif polynomial:
        result = 1 if expr.is_Symbol or expr.is_Rational else over
    else:
        result = 1 + sum(expanded_terms(arg, cap, memo=memo) - 1 for arg in expr.args if isinstance(arg, Expr))
    memo[expr] = result = min(result, over)
    return result


def _facts(symbol: Symbol) -> str:
    facts = [f"{k}={v}" for k, v in sorted(symbol._assumptions_orig.items())] if hasattr(
        symbol, "_assumptions_orig") else []
    kind = "" if type(symbol) is Symbol else f"a {type(symbol).__name__}, "
    return kind + (", ".join(facts) or "no assumptions")


def nesting_depth(values) -> int:
    """The deepest nesting of any expression in ``values`` (lists, tuples, matrices of them),
    computed without recursion, so that it works on inputs too deep for SymPy.

    Examples
    --------
    >>> from sympy import Function, Symbol
    >>> e = Symbol("x")
    >>> for _ in range(3000):
    ...     e = Function("f")(e)
    >>> nesting_depth([e, 1])
    3001
    """
    depth: dict = {}
    roots = []
    pending = list(values) if isinstance(values, (list, tuple)) else [values]
    while pending:
        value = pending.pop()
        if isinstance(value, (list, tuple, sympy.MatrixBase)):
            pending.extend(value)
        elif isinstance(value, sympy.Basic):
            roots.append(value)
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node in depth:
                continue
            if expanded:
                depth[node] = 1 + max((depth[a] for a in node.args), default=0)
            else:
                stack.append((node, True))
                stack.extend((a, False) for a in node.args if a not in depth)
    return max((depth[r] for r in roots), default=0)
