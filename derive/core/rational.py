"""Decide whether a rational function of symbols is identically zero.

The expression (built from symbols, rational numbers, ``+``, ``*`` and integer
powers, as :func:`derive.atoms.freeze_atoms` leaves it) is brought over one
common denominator in SymPy's sparse polynomial ring ``QQ[symbols]``.
Denominators are kept factored, as powers of the polynomials that appear as
bases, so the common denominator is a least common multiple by exponents and
no polynomial gcd is ever computed (``sympy.cancel`` computes many, which is
slow for sums over many classes).  The expression is zero exactly when the
numerator is the zero polynomial.
"""

from __future__ import annotations

from collections import Counter

import sympy
from sympy import Add, Expr, Mul, Pow
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, PolyRing

# A rational function as (numerator, {denominator factor: exponent}).
Fraction = tuple[PolyElement, Counter]


class NotRational(ValueError):
    """The expression has a part that is not a rational function of symbols."""


def is_zero_rational(expr: Expr) -> bool:
    """True when ``expr`` is the zero rational function.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> is_zero_rational(a / (a + b) + b / (a + b) - 1)
    True
    >>> is_zero_rational(a / (a + b))
    False
    """
    symbols = sorted(expr.free_symbols, key=sympy.default_sort_key)
    if not symbols:
        return expr == 0
    ring = PolyRing(symbols, QQ)
    numerator, _ = _fraction(expr, ring, {})
    return not numerator


def _fraction(expr: Expr, ring: PolyRing, memo: dict) -> Fraction:
    if expr in memo:
        return memo[expr]
    if expr.is_Symbol:
        result = (ring.gens[ring.symbols.index(expr)], Counter())
    elif expr.is_Rational:
        result = (ring(QQ(int(expr.p), int(expr.q))), Counter())
    elif isinstance(expr, Add):
        result = _add([_fraction(arg, ring, memo) for arg in expr.args])
    elif isinstance(expr, Mul):
        result = _multiply([_fraction(arg, ring, memo) for arg in expr.args], ring)
    elif isinstance(expr, Pow) and expr.exp.is_Integer:
        result = _power(_fraction(expr.base, ring, memo), int(expr.exp), ring)
    else:
        raise NotRational(f"not a rational function of symbols: {expr}")
    memo[expr] = result
    return result


def _add(terms: list[Fraction]) -> Fraction:
    common = Counter()
    for _, denominator in terms:
        for factor, exponent in denominator.items():
            common[factor] = max(common[factor], exponent)
    total = None
    for numerator, denominator in terms:
        scaled = numerator
        for factor, exponent in common.items():
            missing = exponent - denominator.get(factor, 0)
            if missing:
                scaled = scaled * factor**missing
        total = scaled if total is None else total + scaled
    return total, common


def _multiply(factors: list[Fraction], ring: PolyRing) -> Fraction:
    numerator, denominator = ring.one, Counter()
    for factor_numerator, factor_denominator in factors:
        numerator = numerator * factor_numerator
        denominator.update(factor_denominator)
    return numerator, denominator


def _power(base: Fraction, exponent: int, ring: PolyRing) -> Fraction:
    numerator, denominator = base
    if exponent >= 0:
        return numerator**exponent, Counter({f: e * exponent for f, e in denominator.items()})
    if not numerator:
        raise ZeroDivisionError("division by the zero polynomial")
    flipped = ring.one
    for factor, power in denominator.items():
        flipped = flipped * factor ** (power * -exponent)
    return flipped, Counter({numerator: -exponent})
