"""Kinks: split a difference on the signs of the expressions where the loss switches.

``Max(0, s)``, ``Abs(s)``, ``Heaviside(s)``, ``sign(s)`` and ``Piecewise`` conditions switch
where an expression ``s`` (the *kink*) changes sign; the loss is not differentiable on the
lower-dimensional set ``s = 0``.  On each open region where every kink has a fixed sign, each
switch is an ordinary expression (``Max(0, s) -> s`` where ``s > 0``, ``Heaviside(s) -> 0``
where ``s < 0``, ``DiracDelta(s) -> 0``), so a difference that is zero on every region is zero
everywhere except on the kinks.  That is the verdict "proven except where s = 0".

Only the kinks of the true side (SymPy's derivative, hence the loss) are split on; a switch of
the claim must be decided by them (``1[s > 0]`` is, ``1[s > 1]`` is not, and then the claim is
left to the counterexample search).  A kink ``c * s`` for a rational ``c`` is the kink ``s``.
Only expressions that SymPy knows to be real are kinks: ``Abs(c)`` of a complex ``c`` is not
``+-c`` anywhere.

"Except where s = 0" is only an honest exception if that set is *null* (of measure zero): the
zero set of ``floor(x)`` is all of ``[0, 1)``, of ``sign(x)**2 - 1`` all of ``x != 0``, and of
``sin(x)**2 + cos(x)**2 - 1`` everything.  :func:`is_null_kink` certifies it: the kink must be
analytic (built by :func:`analytic_classes`' rules from continuous real symbols) and certifiably
nonzero at one point.  An analytic function that is not identically zero on a connected domain
vanishes only on a null set.  A kink that cannot be certified so is never named as an exception:
the kinks strategy then proves nothing, and the claim goes to the counterexample search.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import sympy
from sympy import Expr

from derive.core.inputs import expanded_terms, subexpressions

#: Most kinks split on: 2**MAX_KINKS sign cases are proven one by one.
MAX_KINKS = 10
#: Points at which a kink is tried for a certified nonzero value (see :func:`is_null_kink`).
NULL_CERTIFICATE_POINTS = 4
#: A polynomial kink whose expansion has at most this many terms (bounded before expanding) is
#: certified null by expanding it, cheaply enough to do in the caller's process.
POLYNOMIAL_KINK_TERMS = 1000

#: Functions analytic on the whole real line and entire or meromorphic on the complex plane.
_ENTIRE = (sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh, sympy.erf, sympy.erfc)
_REAL_ANALYTIC_MEROMORPHIC = (sympy.tanh, sympy.sech)
_MEROMORPHIC = (sympy.tan, sympy.cot, sympy.sec, sympy.csc, sympy.coth, sympy.csch)
#: Analytic on the real line, but with branch points off it.
_REAL_ANALYTIC = (sympy.atan, sympy.asinh)
#: Assumptions that make a symbol's values a discrete or otherwise non-open set.
_DISCRETE_FACTS = ("integer", "rational", "algebraic", "zero")

_SWITCHES = (sympy.Heaviside, sympy.DiracDelta, sympy.sign, sympy.Abs)


def canonical(kink: Expr) -> tuple[Expr, sympy.Rational]:
    """``(s, c)`` with ``kink = c * s``, ``s`` the same for every rational multiple of the kink.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b", real=True)
    >>> canonical(2 * b - 2 * a) == canonical(a - b)[:1] + (-2 * canonical(a - b)[1],)
    True
    """
    content, primitive = sympy.expand(kink).as_content_primitive()
    if primitive.could_extract_minus_sign():
        content, primitive = -content, -primitive
    return primitive, content


def kinks_of(expr: Expr) -> dict[Expr, Expr]:
    """The kinks of ``expr``: canonical form (sorted) -> the kink as it first appears.

    Examples
    --------
    >>> from sympy import Max, Heaviside, symbols
    >>> w, x, b = symbols("w x b", real=True)
    >>> list(kinks_of(x * Heaviside(w * x + b) + Max(0, 1 - w).diff(w)))
    [b + w*x, w - 1]
    """
    found: dict[Expr, Expr] = {}

    def add(kink: Expr) -> None:
        # Only a real expression has a sign to split on: |c| for a complex c is no kink.
        if kink.free_symbols and kink.is_extended_real:
            found.setdefault(canonical(kink)[0], kink)

    for kink in _candidates(expr):
        add(kink)
    return dict(sorted(found.items(), key=lambda item: sympy.default_sort_key(item[0])))


def _candidates(expr: Expr) -> list[Expr]:
    """The expressions whose sign a switch in ``expr`` depends on, each subexpression seen once."""
    found: list[Expr] = []
    for node in subexpressions([expr]):
        if isinstance(node, _SWITCHES):
            found.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            found.extend(left - right for left, right in itertools.combinations(node.args, 2))
        elif isinstance(node, sympy.Piecewise):
            for _, condition in node.args:
                found.extend(r.lhs - r.rhs for r in _relations(condition))
    return found


def polynomial_null_kinks(expr: Expr) -> list[Expr] | None:
    """The kinks of ``expr``, all certified null, when every kink is a small polynomial; else None.

    Cheap enough for the caller's process: each candidate's expansion is bounded by
    :data:`POLYNOMIAL_KINK_TERMS` before it is expanded.  A nonzero polynomial vanishes on a null
    set.

    Examples
    --------
    >>> from sympy import Max, Heaviside, floor, symbols
    >>> w, x, b = symbols("w x b", real=True)
    >>> polynomial_null_kinks(x * Heaviside(w * x + b) + Max(0, 1 - w))
    [b + w*x, w - 1]
    >>> polynomial_null_kinks(Heaviside(floor(x))) is None
    True
    """
    kinks: dict[Expr, None] = {}
    for candidate in _candidates(expr):
        if not candidate.free_symbols:
            continue
        if not _small_polynomial(candidate) or not candidate.is_extended_real:
            return None
        primitive = canonical(candidate)[0]
        if primitive == 0:
            return None
        kinks[primitive] = None
    return sorted(kinks, key=sympy.default_sort_key)


def _small_polynomial(expr: Expr) -> bool:
    """A polynomial in continuous real symbols whose expansion has few terms (bounded first)."""
    if not all(analytic_classes(s, {})[1] for s in expr.free_symbols):
        return False
    return expanded_terms(expr, POLYNOMIAL_KINK_TERMS, polynomial=True) <= POLYNOMIAL_KINK_TERMS


def is_null_kink(kink: Expr) -> bool:
    """True when the set where the real expression ``kink`` is 0 is certifiably of measure zero.

    The kink must be analytic on a connected domain (:func:`analytic_classes`) and certifiably
    nonzero (by :func:`derive.core.certify.value_at`) at one of
    :data:`NULL_CERTIFICATE_POINTS` points drawn deterministically from its symbols' domains.

    Examples
    --------
    >>> from sympy import floor, sign, sin, cos, symbols, exp
    >>> x, y = symbols("x y", real=True)
    >>> is_null_kink(x * y + exp(x) - 1), is_null_kink(floor(x)), is_null_kink(sign(x)**2 - 1)
    (True, False, False)
    >>> is_null_kink(sin(x)**2 + cos(x)**2 - 1)
    False
    """
    from derive.core.certify import value_at
    from derive.core.domain import Domain

    if not kink.free_symbols:
        return False
    if _small_polynomial(kink):
        return canonical(kink)[0] != 0
    if not any(analytic_classes(kink, {})):
        return False
    rng = random.Random(f"null kink:{sympy.srepr(kink)}")
    domain = Domain()
    for _ in range(NULL_CERTIFICATE_POINTS):
        point = domain.point(kink.free_symbols, rng)
        if point is None:
            return False
        value = value_at(kink, point)
        if value is not None and value != 0:
            return True
    return False


def analytic_classes(expr: Expr, memo: dict) -> tuple[bool, bool]:
    """``(real, meromorphic)``: whether ``expr`` is certainly analytic on its symbols' domain.

    ``real``: real-analytic on the whole domain, which is connected: every symbol is real and
    continuous, and ranges over the real line or a half-line (a ``nonzero`` symbol's domain has
    two parts, on one of which ``exp(log(x**2)/2) - x`` vanishes and on the other not).
    Logarithms and fractional powers need a base SymPy knows positive there, divisions a
    denominator it knows nonzero.

    ``meromorphic``: built from continuous real symbols with ``+``, ``*``, integer powers and
    entire or meromorphic functions, so it extends to a function holomorphic off a set that
    cannot disconnect the complex domain (no branch cuts: no logarithms or fractional powers).

    In either case the expression vanishes on a set of positive measure only if it vanishes
    everywhere.

    Examples
    --------
    >>> from sympy import log, symbols, Abs, tan
    >>> x = symbols("x", real=True)
    >>> p = symbols("p", positive=True)
    >>> analytic_classes(log(p) + x**2, {}), analytic_classes(tan(x) / x, {})
    ((True, False), (False, True))
    >>> analytic_classes(Abs(x) - x, {})
    (False, False)
    """
    if expr in memo:
        return memo[expr]
    memo[expr] = result = _analytic_classes(expr, memo)
    return result


def _analytic_classes(expr: Expr, memo: dict) -> tuple[bool, bool]:
    if expr.is_Symbol:
        continuous = bool(expr.is_extended_real) and not any(
            getattr(expr, f"is_{fact}") for fact in _DISCRETE_FACTS
        )
        connected = not (expr.is_nonzero and expr.is_positive is not True and expr.is_negative is not True)
        return continuous and connected, continuous
    if expr.is_Number or expr.is_NumberSymbol:
        real = bool(expr.is_extended_real and expr.is_finite)
        return real, real
    args = [analytic_classes(arg, memo) for arg in expr.args] if isinstance(expr, Expr) else []
    real = bool(args) and all(r for r, _ in args)
    meromorphic = bool(args) and all(m for _, m in args)
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        return real, meromorphic
    if isinstance(expr, sympy.Pow):
        base, exponent = expr.args
        if exponent.is_Integer:
            if exponent >= 0:
                return real, meromorphic
            return real and bool(base.is_nonzero), meromorphic
        return real and bool(base.is_positive) and bool(exponent.is_real), False
    if isinstance(expr, _ENTIRE) or isinstance(expr, _REAL_ANALYTIC_MEROMORPHIC):
        return real, meromorphic
    if isinstance(expr, _MEROMORPHIC):
        return False, meromorphic
    if isinstance(expr, _REAL_ANALYTIC):
        return real, False
    if isinstance(expr, sympy.log):
        return real and bool(expr.args[0].is_positive), False
    return False, False


def _relations(condition) -> list:
    if isinstance(condition, sympy.core.relational.Relational):
        return [] if isinstance(condition, (sympy.Eq, sympy.Ne)) else [condition]
    return [r for arg in getattr(condition, "args", ()) for r in _relations(arg)]


def sign_cases(kinks: list[Expr]) -> Iterator[dict[Expr, int]]:
    """Every assignment of a sign (+1 or -1) to each canonical kink."""
    for signs in itertools.product((1, -1), repeat=len(kinks)):
        yield dict(zip(kinks, signs))


class OnRegion:
    """Rewrites expressions on the open region where each kink has the given sign."""

    def __init__(self, signs: dict[Expr, int]):
        self.signs = signs
        self._memo: dict = {}

    def sign_of(self, value: Expr) -> int | None:
        if value.is_positive:
            return 1
        if value.is_negative:
            return -1
        primitive, content = canonical(value)
        if primitive in self.signs and content != 0:
            return self.signs[primitive] * (1 if content > 0 else -1)
        return None

    def rewrite(self, expr):
        if expr in self._memo:
            return self._memo[expr]
        if expr.is_Atom:
            return expr
        args = [self.rewrite(arg) for arg in expr.args]
        node = expr.func(*args) if args != list(expr.args) else expr
        result = self._switch(node)
        self._memo[expr] = result
        return result

    def _switch(self, node):
        if isinstance(node, _SWITCHES):
            sign = self.sign_of(node.args[0])
            if sign is None:
                return node
            if isinstance(node, sympy.Heaviside):
                return sympy.Integer(1 if sign > 0 else 0)
            if isinstance(node, sympy.DiracDelta):
                return sympy.Integer(0)
            if isinstance(node, sympy.sign):
                return sympy.Integer(sign)
            return node.args[0] if sign > 0 else -node.args[0]
        if isinstance(node, (sympy.Max, sympy.Min)):
            return self._extremum(node)
        if isinstance(node, sympy.Piecewise):
            for value, condition in node.args:
                decided = self._decide(condition)
                if decided is None:
                    return node
                if decided:
                    return value
            return node
        return node

    def _extremum(self, node):
        larger = 1 if isinstance(node, sympy.Max) else -1
        for candidate in node.args:
            if all(
                other is candidate or self.sign_of(candidate - other) == larger
                for other in node.args
            ):
                return candidate
        return node

    def _decide(self, condition) -> bool | None:
        if condition in (sympy.true, True):
            return True
        if condition in (sympy.false, False):
            return False
        if isinstance(condition, (sympy.And, sympy.Or)):
            parts = [self._decide(arg) for arg in condition.args]
            if isinstance(condition, sympy.And):
                return False if False in parts else (None if None in parts else True)
            return True if True in parts else (None if None in parts else False)
        if isinstance(condition, sympy.Not):
            inner = self._decide(condition.args[0])
            return None if inner is None else not inner
        if isinstance(condition, sympy.core.relational.Relational):
            difference = self.rewrite(condition.lhs - condition.rhs)
            if difference == 0:
                return condition.rel_op in ("==", ">=", "<=")
            sign = self.sign_of(difference)
            if sign is None:
                return None
            if condition.rel_op == "==":
                return False
            if condition.rel_op == "!=":
                return True
            return sign > 0 if condition.rel_op in (">", ">=") else sign < 0
        return None
