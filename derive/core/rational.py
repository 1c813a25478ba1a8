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

import math
from collections import Counter

import sympy
from sympy import Add, Expr, Mul, Pow
from sympy.polys.domains import QQ
from sympy.polys.rings import PolyElement, PolyRing

# A rational function as (numerator, {denominator factor: exponent}).
Fraction = tuple[PolyElement, Counter]


class NotRational(ValueError):
    """The expression has a part that is not a rational function of symbols."""


class TooLarge(ValueError):
    """A polynomial would exceed the term budget: the test gives up instead of blowing up."""


def is_zero_rational(expr: Expr, max_terms: int | None = None) -> bool:
    """True when ``expr`` is the zero rational function.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> is_zero_rational(a / (a + b) + b / (a + b) - 1)
    True
    >>> is_zero_rational(a / (a + b))
    False
    >>> is_zero_rational((a + b + 1) ** 200 - a, max_terms=10**4)
    Traceback (most recent call last):
    ...
    derive.core.rational.TooLarge: a power would have about 20301 terms, over the budget of 10000

    ``max_terms`` bounds every intermediate polynomial (estimated before it is computed).
    """
    symbols = sorted(expr.free_symbols, key=sympy.default_sort_key)
    if not symbols:
        return expr == 0
    ring = PolyRing(symbols, QQ)
    memo = {symbol: (generator, Counter()) for symbol, generator in zip(symbols, ring.gens)}
    numerator, _ = _fraction(expr, ring, memo, max_terms)
    return not numerator


def _fraction(expr: Expr, ring: PolyRing, memo: dict, max_terms: int | None) -> Fraction:
    if expr in memo:
        return memo[expr]
    if expr.is_Rational:
        result = (ring(QQ(int(expr.p), int(expr.q))), Counter())
    elif isinstance(expr, Add):
        result = _add(max_terms, [_fraction(arg, ring, memo, max_terms) for arg in expr.args])
    elif isinstance(expr, Mul):
        result = _multiply(max_terms, [_fraction(arg, ring, memo, max_terms) for arg in expr.args], ring)
    elif isinstance(expr, Pow) and expr.exp.is_Integer:
        result = _power(_fraction(expr.base, ring, memo, max_terms), int(expr.exp), ring, max_terms)
    else:
        raise NotRational(f"not a rational function of symbols: {expr}")
    memo[expr] = result
    return result


def _check(estimate: int, max_terms: int | None, what: str) -> None:
    if max_terms is not None and estimate > max_terms:
        raise TooLarge(f"{what} would have about {estimate} terms, over the budget of {max_terms}")


def _add(max_terms: int | None, terms: list[Fraction]) -> Fraction:
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
                _check(len(scaled) * len(factor) ** missing, max_terms, "a scaled numerator")
                scaled = scaled * factor**missing
        total = scaled if total is None else total + scaled
    return total, common


def _multiply(max_terms: int | None, factors: list[Fraction], ring: PolyRing) -> Fraction:
    numerator, denominator = ring.one, Counter()
    for factor_numerator, factor_denominator in factors:
        _check(len(numerator) * len(factor_numerator), max_terms, "a product")
        numerator = numerator * factor_numerator
        denominator.update(factor_denominator)
    return numerator, denominator


def _power(base: Fraction, exponent: int, ring: PolyRing, max_terms: int | None) -> Fraction:
    numerator, denominator = base
    if len(numerator) > 1:
        _check(_power_terms(numerator, abs(exponent)), max_terms, "a power")
    if exponent >= 0:
        return numerator**exponent, Counter({f: e * exponent for f, e in denominator.items()})
    if not numerator:
        raise ZeroDivisionError("division by the zero polynomial")
    flipped = ring.one
    for factor, power in denominator.items():
        flipped = flipped * factor ** (power * -exponent)
    return flipped, Counter({numerator: -exponent})


def _power_terms(polynomial: PolyElement, exponent: int) -> int:
    """An upper bound on the terms of ``polynomial ** exponent``: monomials of its degree."""
    variables = sum(1 for degree in polynomial.degrees() if degree > 0)
    total_degree = max(sum(monomial) for monomial in polynomial.monoms()) * exponent
    return min(math.comb(total_degree + variables, variables), len(polynomial) ** exponent)
