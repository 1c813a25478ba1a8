"""The counterexample search: random exact points, a fast 50-digit look, a certified confirmation.

At each point (drawn by :class:`~derive.core.domain.Domain`, so it respects every assumption and
constraint) both sides are evaluated in mpmath at :data:`SEARCH_DIGITS` digits.  Points where
either side is undefined are counted apart, never as agreement.  Where the two sides differ, the
difference is re-evaluated exactly by SymPy's ``evalf`` with tracked precision
(:func:`~derive.core.certify.value_at`); only a difference certified nonzero, between two values
certified finite, makes a counterexample.  Rounding can therefore never refute a right claim.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath
import sympy
from sympy import Expr, Symbol

from derive.core.certify import CERTIFIED_DIGITS, MAX_DIGITS, value_at
from derive.core.domain import Domain
from derive.core.numeric import Evaluator, Undefined
from derive.core.verdict import AGREEMENT_DIGITS, Counterexample

#: Working precision of the fast look at each point.
SEARCH_DIGITS = AGREEMENT_DIGITS + 10
#: Below this relative size a difference at SEARCH_DIGITS counts as agreement.
AGREEMENT_THRESHOLD = mpmath.mpf(10) ** -AGREEMENT_DIGITS


@dataclass(frozen=True)
class SearchResult:
    counterexample: Counterexample | None
    agreeing: int
    undefined: int
    unsamplable: tuple[Symbol, ...] = ()


def search(
    index: int,
    variable: Symbol | None,
    truth: Expr,
    claim: Expr,
    domain: Domain,
    shown_symbols: set,
    points: int,
    rng: random.Random,
) -> SearchResult:
    """Look for a certified counterexample to ``truth == claim`` at ``points`` random points."""
    symbols = truth.free_symbols | claim.free_symbols
    unsamplable = tuple(domain.unsamplable(symbols))
    if unsamplable:
        return SearchResult(None, 0, 0, unsamplable)
    agreeing = undefined = 0
    for _ in range(points):
        point = domain.point(symbols, rng)
        if point is None:
            return SearchResult(None, agreeing, undefined + 1, ())
        evaluator = Evaluator(point, SEARCH_DIGITS, rng)
        try:
            true_value = evaluator.value(truth)
            claimed_value = evaluator.value(claim)
        except Undefined:
            undefined += 1
            continue
        with mpmath.workdps(SEARCH_DIGITS):
            # Relative, not absolute: two tiny values (e^-456) may still differ in their
            # leading digits.  Candidates are cheap to confirm or dismiss rigorously.
            scale = max(abs(true_value), abs(claimed_value))
            if abs(true_value - claimed_value) <= AGREEMENT_THRESHOLD * scale:
                agreeing += 1
                continue
        counterexample = _confirm(index, variable, truth, claim, point, evaluator, shown_symbols)
        if counterexample is None:
            undefined += 1  # not certain at this point: neither agreement nor refutation
            continue
        return SearchResult(counterexample, agreeing, undefined)
    return SearchResult(None, agreeing, undefined)


def _confirm(index, variable, truth, claim, point, evaluator, shown_symbols) -> Counterexample | None:
    """A Counterexample if evalf certifies the difference nonzero and both sides finite."""
    exact = {**evaluator.opaque_subexpressions, **point}
    difference = value_at(truth - claim, exact)
    if difference is None or difference == 0:
        return None
    expected = value_at(truth, exact, AGREEMENT_DIGITS, strict=False)
    claimed = value_at(claim, exact, AGREEMENT_DIGITS, strict=False)
    if expected is None or claimed is None:
        return None
    digits = _digits_to_show(difference, expected, claimed)
    if digits > AGREEMENT_DIGITS:  # a difference too small to show at 50 digits
        expected = value_at(truth, exact, digits, strict=False)
        claimed = value_at(claim, exact, digits, strict=False)
        if expected is None or claimed is None:
            return None
    shown = {s: v for s, v in sorted(point.items(), key=lambda item: item[0].name) if s in shown_symbols}
    return Counterexample(
        index=index,
        variable=variable,
        point=shown,
        expected=expected,
        claimed=claimed,
        opaque=dict(evaluator.opaque_subexpressions),
        shown_digits=digits,
    )


def _digits_to_show(difference, *values) -> int:
    """Enough significant digits for the two printed values to differ visibly (at least 17)."""
    size = max(abs(v) for v in values)
    if not size:
        return CERTIFIED_DIGITS
    ratio = sympy.Float(abs(difference) / size, 30)
    exponent = int(mpmath.floor(mpmath.log10(ratio._to_mpmath(100))))
    return min(MAX_DIGITS, max(17, 6 - exponent))
