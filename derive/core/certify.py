"""Certified numbers: values whose every printed digit SymPy's ``evalf`` guarantees.

A refutation must not rest on rounding: ``1 - tanh(500)`` is 0 at 50 and at 100 digits, yet not
0.  ``evalf(strict=True)`` tracks the accuracy of every operation and raises the working
precision (here up to :data:`MAX_DIGITS`) until the result is certain, or gives up; giving up is
never taken as an answer.  The same tool decides that an expression is *defined somewhere*:
its denominators and logarithm arguments are certified nonzero, and its other functions finite,
at one point.  An expression that is 0/0 everywhere (``1/(sin(x)**2 + cos(x)**2 - 1)``) never
gets that certificate, so no proof of it is accepted, not even of the expression against itself.
The same holds for the other ways to be undefined everywhere: a ``Piecewise`` none of whose
conditions can hold, ``DiracDelta`` of a zero in disguise, ``tanh`` or ``atan`` at a pole in
disguise (``tanh(I*pi/2)``), a ``Subs`` at a pole, a ``Limit`` that does not exist, a divergent
``Integral`` or ``Sum``: each is something to certify at a point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import sympy
from sympy import Expr
from sympy.core.evalf import PrecisionExhausted
from sympy.core.function import AppliedUndef

from derive.core.inputs import traits

#: Digits a certified value carries, and the largest working precision evalf may raise to.
CERTIFIED_DIGITS = 30
MAX_DIGITS = 2000
#: Digits on which a value at CERTIFIED_DIGITS and at twice as many must agree to count as finite.
STABLE_DIGITS = 20

#: Functions that are finite wherever their (finite) arguments are: nothing to certify about them.
_FINITE = (
    sympy.exp, sympy.sin, sympy.cos, sympy.sinh, sympy.cosh, sympy.erf, sympy.erfc, sympy.Abs,
    sympy.sign, sympy.KroneckerDelta, sympy.re, sympy.im, sympy.conjugate, AppliedUndef,
)
#: Functions finite wherever their arguments are finite and real (poles or no value off the line).
_FINITE_WHEN_REAL = (sympy.tanh, sympy.atan, sympy.Heaviside, sympy.Max, sympy.Min)
#: Expressions that are neither functions nor arithmetic but whose value needs no certificate.
_NOT_CERTIFIED = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Tuple)


def has_undefined_atoms(expr: Expr, memo: dict | None = None) -> bool:
    """True when ``expr`` contains ``nan``, ``zoo`` or an infinity: undefined, never agreement."""
    return "undefined" in traits(expr, {} if memo is None else memo)


def value_at(expr: Expr, point: Mapping, digits: int = CERTIFIED_DIGITS, strict: bool = True):
    """``expr`` at an exact point, to ``digits`` certified digits, or None when not certain.

    With ``strict`` a value that may be 0 is not certain (evalf cannot prove a zero).

    Examples
    --------
    >>> from sympy import Rational, tanh, symbols, sin, cos
    >>> x = symbols("x", real=True)
    >>> value_at(1 - tanh(x), {x: Rational(500)}, digits=5)
    1.0152e-434
    >>> value_at(sin(x)**2 + cos(x)**2 - 1, {x: Rational(1, 2)}) is None
    True
    """
    try:
        exact = expr.xreplace(dict(point))  # may raise: Heaviside(1 + I), Derivative wrt 1/2, ...
        value = exact.evalf(digits, strict=strict, maxn=MAX_DIGITS)
    except (PrecisionExhausted, Exception):  # SymPy raises many kinds; any is "not certain"
        return None
    if not value.is_number or has_undefined_atoms(value):
        return None
    real, imaginary = value.as_real_imag()
    if not (real.is_Number and imaginary.is_Number):
        return None
    return value


def finite_at(expr: Expr, point: Mapping) -> bool:
    """Whether ``expr`` has a finite value at ``point``, with the same value at two precisions.

    evalf does not track the accuracy of every function: at a pole in disguise
    (``tan(pi*(sin(x)**2 + cos(x)**2)/2)``) it returns a large "value" that grows with the working
    precision.  A value that does not stay put when the precision doubles is not finite.

    Examples
    --------
    >>> from sympy import Rational, tan, pi, sin, cos, symbols
    >>> x = symbols("x", real=True)
    >>> finite_at(tan(x), {x: Rational(1, 3)}), finite_at(tan(pi * (sin(x)**2 + cos(x)**2) / 2), {x: Rational(1, 3)})
    (True, False)
    """
    low = value_at(expr, point, CERTIFIED_DIGITS)
    high = value_at(expr, point, 2 * CERTIFIED_DIGITS)
    if low is None or high is None:
        return False
    tolerance = sympy.Integer(10) ** -STABLE_DIGITS * (1 + abs(high))
    return bool(abs(low - high) <= tolerance)


def singular_parts(expr: sympy.Basic, memo: dict) -> frozenset:
    """What must be certified for ``expr`` to be defined: ``("nonzero", e)`` and ``("finite", e)``.

    Denominators, logarithm arguments, bases raised to a power not known nonnegative and
    ``DiracDelta`` arguments must be nonzero; applications of functions that have poles (``tan``,
    ``gamma``, ``tanh`` of a complex argument, ...), a ``Piecewise`` without a ``True`` case, and
    whatever is not arithmetic (``Integral``, ``Limit``, a ``Subs`` or ``Derivative`` of anything but
    an undefined function) must be finite.  ``memo`` shares the work across entries.

    Examples
    --------
    >>> from sympy import log, symbols, tan
    >>> x = symbols("x")
    >>> sorted(singular_parts(log(x) / (x + 1) + tan(x), {}), key=lambda part: (part[0], str(part[1])))
    [('finite', tan(x)), ('nonzero', x), ('nonzero', x + 1)]
    """
    if expr in memo:
        return memo[expr]
    parts = frozenset()
    for argument in expr.args:  # Piecewise conditions and pairs are walked too
        if isinstance(argument, sympy.Basic):
            parts |= singular_parts(argument, memo)
    if isinstance(expr, sympy.Pow) and not expr.exp.is_nonnegative:
        parts |= {("nonzero", expr.base)}
    elif isinstance(expr, (sympy.log, sympy.DiracDelta)):
        parts |= {("nonzero", expr.args[0])}
    elif _needs_finite_certificate(expr):
        parts |= {("finite", expr)}
    memo[expr] = parts
    return parts


def _needs_finite_certificate(expr: sympy.Basic) -> bool:
    if not isinstance(expr, Expr) or expr.is_Atom or isinstance(expr, _NOT_CERTIFIED):
        return False
    if isinstance(expr, sympy.Piecewise):
        return expr.args[-1].cond is not sympy.true
    if isinstance(expr, _FINITE):
        return False
    if isinstance(expr, _FINITE_WHEN_REAL):
        return not all(arg.is_extended_real for arg in expr.args)
    if isinstance(expr, (sympy.Derivative, sympy.Subs)):
        return not _of_undefined_function(expr)
    return True  # any other function, and Integral, Sum, Limit, Product, ...


def _of_undefined_function(expr: Expr) -> bool:
    """A derivative or substitution of an undefined function: opaque, finite by assumption."""
    while isinstance(expr, (sympy.Derivative, sympy.Subs)):
        expr = expr.expr
    return isinstance(expr, AppliedUndef)


def obviously_positive(expr: Expr, memo: dict) -> bool:
    """A cheap sufficient test: sums and products of positive things, ``exp`` of real things.

    Examples
    --------
    >>> from sympy import exp, symbols
    >>> f = symbols("f0:3", real=True)
    >>> obviously_positive(exp(f[0]) + exp(f[1]) + 2 * exp(f[2]), {})
    True
    >>> obviously_positive(exp(f[0]) - 1, {})
    False
    """
    if expr in memo:
        return memo[expr]
    if expr.is_Number:
        result = bool(expr.is_positive)
    elif expr.is_Symbol:
        result = bool(expr.is_positive)
    elif isinstance(expr, sympy.exp):
        result = bool(expr.args[0].is_extended_real)
    elif isinstance(expr, (sympy.Add, sympy.Mul)):
        result = all(obviously_positive(arg, memo) for arg in expr.args)
    elif isinstance(expr, sympy.Pow):
        result = obviously_positive(expr.base, memo) and bool(expr.exp.is_extended_real)
    else:
        result = False
    memo[expr] = result
    return result


class Definedness:
    """Decides, with certificates, whether expressions are defined at some common point.

    ``make_points`` is called once, when a certificate first needs evaluation, and returns the
    exact points to try; work is shared across all the expressions of one call.
    """

    def __init__(self, make_points: Callable[[], list]):
        self._make_points = make_points
        self._points: list | None = None
        self._parts: dict = {}
        self._positive: dict = {}
        self._certified: dict = {}
        self._traits: dict = {}

    def has_undefined_atoms(self, *exprs: Expr) -> bool:
        return any(has_undefined_atoms(e, self._traits) for e in exprs)

    def traits(self, expr: Expr) -> frozenset:
        """:func:`derive.core.inputs.traits`, sharing the walk with the checks here."""
        return traits(expr, self._traits)

    def trivially_defined(self, *exprs: Expr) -> bool:
        """True when nothing needs evaluating: no denominators or logarithms that might vanish."""
        return not self.has_undefined_atoms(*exprs) and not self._open_parts(exprs)

    def defined_somewhere(self, *exprs: Expr) -> bool:
        """True when some point makes every expression certifiably defined."""
        if self.has_undefined_atoms(*exprs):
            return False
        parts = self._open_parts(exprs)
        if not parts:
            return True
        if self._points is None:
            self._points = self._make_points()
        return any(all(self._holds(part, i) for part in parts) for i in range(len(self._points)))

    def _open_parts(self, exprs) -> list:
        parts = frozenset().union(*(singular_parts(e, self._parts) for e in exprs))
        return [p for p in parts if not (p[0] == "nonzero" and obviously_positive(p[1], self._positive))]

    def _holds(self, part, index: int) -> bool:
        key = (part, index)
        if key not in self._certified:
            kind, expr = part
            if kind == "nonzero":
                value = value_at(expr, self._points[index])
                self._certified[key] = value is not None and value != 0
            else:
                self._certified[key] = finite_at(expr, self._points[index])
        return self._certified[key]
