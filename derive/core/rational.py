"""Decide whether a rational function of symbols is identically zero.

The expression (built from symbols, rational numbers, ``+``, ``*`` and integer
powers, as :func:`derive.atoms.freeze_atoms` leaves it) is brought over one
common denominator in SymPy's sparse polynomial ring ``QQ[symbols]``.
Denominators are kept factored, as powers of the polynomials that appear as
bases, so the common denominator is a least common multiple by exponents and
no polynomial gcd is ever computed (``sympy.cancel`` computes many, which is
slow for sums over many classes).  The expression is zero exactly when the
numerator is the zero polynomial.

Two budgets bound the work, each estimated *before* an operation runs: ``max_terms`` bounds the
size of every polynomial, and ``max_work`` the total work, in units of one product of two
coefficients of at most :data:`WORK_UNIT_BITS` bits (a product of larger coefficients counts as
several units, in proportion to the product of their sizes).  A sum of 200 fractions ``1/(x + k)``
builds only 200-term polynomials, yet scaling each numerator to the common denominator costs
some 8 million such products with 1000-bit coefficients: the term budget alone let it run for
minutes.
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
    """A polynomial would exceed the term budget, or the work the work budget: the test gives up
    instead of blowing up."""


#: Coefficient size, in bits, up to which one product of two coefficients is one unit of work.
WORK_UNIT_BITS = 512


class _Budget:
    """What one test may still spend: terms per polynomial and units of work in all."""

    def __init__(self, max_terms: int | None, max_work: int | None):
        self.max_terms = max_terms
        self.work_left = max_work

    def terms(self, estimate: int, what: str) -> None:
        if self.max_terms is not None and estimate > self.max_terms:
            raise TooLarge(f"{what} would have about {estimate} terms, over the budget of {self.max_terms}")

    def spend(self, pairs: int, bits: int, what: str) -> None:
        """Charge ``pairs`` products of coefficients of about ``bits`` bits each (the two sizes
        multiplied, over WORK_UNIT_BITS squared)."""
        if self.work_left is None:
            return
        cost = pairs * (1 + bits // WORK_UNIT_BITS**2)
        if cost > self.work_left:
            raise TooLarge(f"{what} would cost about {cost} units of work, over the {self.work_left} left")
        self.work_left -= cost


def _bits(polynomial: PolyElement) -> int:
    """The size in bits of the largest coefficient of ``polynomial`` (numerator and denominator)."""
    largest = 1
    for c in polynomial.values():  # a plain loop: this runs for every product the test makes
        size = int(c.numerator).bit_length() + int(c.denominator).bit_length()
        if size > largest:
            largest = size
    return largest


def is_zero_rational(expr: Expr, max_terms: int | None = None, max_work: int | None = None) -> bool:
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

    ``max_terms`` bounds every intermediate polynomial and ``max_work`` the total work (see the
    module doc), each estimated before it is spent.

    >>> from sympy import Add
    >>> fractions = Add(*[1 / (a + k) for k in range(60)])
    >>> is_zero_rational(fractions - sympy.together(fractions), max_work=10**4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    derive.core.rational.TooLarge: a ... would cost about ... units of work, over the ... left
    """
    symbols = sorted(expr.free_symbols, key=sympy.default_sort_key)
    if not symbols:
        return expr == 0
    ring = PolyRing(symbols, QQ)
    memo = {symbol: (generator, Counter()) for symbol, generator in zip(symbols, ring.gens)}
    numerator, _ = _fraction(expr, ring, memo, _Budget(max_terms, max_work))
    return not numerator


def _fraction(expr: Expr, ring: PolyRing, memo: dict, budget: _Budget) -> Fraction:
    if expr in memo:
        return memo[expr]
    if expr.is_Rational:
        result = (ring(QQ(int(expr.p), int(expr.q))), Counter())
    elif isinstance(expr, Add):
        result = _add(budget, [_fraction(arg, ring, memo, budget) for arg in expr.args])
    elif isinstance(expr, Mul):
        result = _multiply(budget, [_fraction(arg, ring, memo, budget) for arg in expr.args], ring)
    elif isinstance(expr, Pow) and expr.exp.is_Integer:
        result = _power(_fraction(expr.base, ring, memo, budget), int(expr.exp), ring, budget)
    else:
        raise NotRational(f"not a rational function of symbols: {expr}")
    memo[expr] = result
    return result


def _product(left: PolyElement, right: PolyElement, budget: _Budget, what: str) -> PolyElement:
    budget.terms(len(left) * len(right), what)
    budget.spend(len(left) * len(right), _bits(left) * _bits(right), what)
    return left * right


def _raise(polynomial: PolyElement, exponent: int, budget: _Budget, what: str) -> PolyElement:
    """``polynomial ** exponent``, charged as ``exponent`` products of the base and the result."""
    if len(polynomial) > 1 or exponent > 1:
        terms = _power_terms(polynomial, exponent) if len(polynomial) > 1 else 1
        budget.terms(terms, what)
        bits = _bits(polynomial)
        budget.spend(exponent * terms * len(polynomial), exponent * bits * bits, what)
    return polynomial**exponent


def _add(budget: _Budget, terms: list[Fraction]) -> Fraction:
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
                power = _raise(factor, missing, budget, "a scaled numerator")
                scaled = _product(scaled, power, budget, "a scaled numerator")
        if total is not None:
            budget.spend(len(total) + len(scaled), _bits(scaled), "a sum")
        total = scaled if total is None else total + scaled
    return total, common


def _multiply(budget: _Budget, factors: list[Fraction], ring: PolyRing) -> Fraction:
    numerator, denominator = ring.one, Counter()
    for factor_numerator, factor_denominator in factors:
        numerator = _product(numerator, factor_numerator, budget, "a product")
        denominator.update(factor_denominator)
    return numerator, denominator


def _power(base: Fraction, exponent: int, ring: PolyRing, budget: _Budget) -> Fraction:
    numerator, denominator = base
    if exponent >= 0:
        return _raise(numerator, exponent, budget, "a power"), Counter({f: e * exponent for f, e in denominator.items()})
    if not numerator:
        raise ZeroDivisionError("division by the zero polynomial")
    flipped = ring.one
    for factor, power in denominator.items():
        flipped = _product(flipped, _raise(factor, power * -exponent, budget, "a power"), budget, "a power")
    return flipped, Counter({numerator: -exponent})


def _power_terms(polynomial: PolyElement, exponent: int) -> int:
    """An upper bound on the terms of ``polynomial ** exponent``: monomials of its degree."""
    variables = sum(1 for degree in polynomial.degrees() if degree > 0)
    total_degree = max(sum(monomial) for monomial in polynomial.monoms()) * exponent
    return min(math.comb(total_degree + variables, variables), len(polynomial) ** exponent)
