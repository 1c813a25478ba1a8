"""Cross-check a derivation's gradient numerically, at random points, by several methods.

The claims are the derivation's own SymPy expressions: its loss, SymPy's derivative of it
(``gradient(m)``) and the closed form ``(p_m - 1[m = y]) x^T`` (``closed_form(m)``).  They are
lambdified for mpmath and evaluated at 50 digits, which cannot overflow, so the check means the
same at ``logit_scale=1e4`` as at 1.  Naive float64 evaluation of the same expressions would
overflow to ``nan`` there; that is a property of float64, not of the derivation, so it is not a
method here (``checks.compare.relative_error`` flags such a ``nan`` as a failure, never agreement).

Each claim is compared, with the steps and tolerances of ``checks.tolerances``, against

* the mpmath reference: the loss and ``mp.diff`` of it at 50 digits (``checks.reference``);
* central and forward differences of the max-shifted float64 loss (``checks.stable``);

and the float64 gradient written stably is compared against the reference too.  A last row takes a
small gradient-descent step along the closed form at each point and checks that ``f_y`` rises and
the loss falls by the first-order amount (``checks.descent``).

``logit_scale`` must lie in ``0 < logit_scale <= 1e15`` (``checks.tolerances.MAX_LOGIT_SCALE``
says why); anything else is a ``ValueError``.  Inside that range the float64 rows' tolerances grow
with the scores, and a row whose tolerance could no longer fail (``TOLERANCE_CAP``) is reported
"not applicable at this scale" instead of passing; so is the descent row when no point could be
stepped.  The 50-digit rows apply across the whole range.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import sympy
from mpmath import nstr

from checks import stable
from checks.compare import Comparison, relative_error
from checks.descent import descent_step
from checks.finite_diff import central_difference, forward_difference
from checks.points import Point, random_points, score_magnitude
from checks.reference import reference_gradient, reference_loss
from checks.report import CrossCheck, MethodRow
from checks.symbolic import Derivation, mpmath_function, stacked
from checks.tolerances import (
    DEFAULT_POINTS,
    MAX_LOGIT_SCALE,
    SHOWN_DIGITS,
    TOLERANCE_CAP,
    TOLERANCES,
)


def cross_check(
    derivation: Derivation,
    points: int = DEFAULT_POINTS,
    seed: int = 0,
    logit_scale: float = 1.0,
) -> CrossCheck:
    """Compare the derivation's gradient with numeric references at ``points`` random points.

    Scores ``f = W x`` are drawn with entries of size about ``logit_scale`` from
    ``numpy.random.default_rng(seed)``; ``logit_scale`` must be a real number with
    ``0 < logit_scale <= 1e15``, else ``ValueError``.  ``r.ok`` is True when every applicable
    method is within its tolerance and nothing was NaN or infinite; a method not applicable at
    this scale (its tolerance could not fail) is shown as ``n/a`` and never counted as a pass.
    ``print(r)`` shows the table.

    Examples
    --------
    >>> import derive
    >>> d = derive.softmax_cross_entropy(classes=3, features=2, label=0)
    >>> r = cross_check(d, points=4, seed=0)
    >>> r.ok, r.max_relative_error < 1e-6
    (True, True)
    >>> cross_check(d, points=4, seed=0, logit_scale=1e4).ok  # exp(1e4) overflows float64
    True
    >>> [row.name for row in r.methods][:2]
    ['loss: SymPy vs mpmath reference', 'SymPy diff vs mpmath reference']
    >>> top = cross_check(d, points=4, seed=0, logit_scale=1e15)  # float64 rounds scores by ~0.4
    >>> top.ok, [row.status for row in top.methods]
    (True, ['yes', 'yes', 'yes', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'yes'])
    >>> cross_check(d, logit_scale=1e30)
    Traceback (most recent call last):
    ...
    ValueError: logit_scale must be a real number with 0 < logit_scale <= 1e+15, got 1e+30
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be a positive integer, got {points!r}")
    logit_scale = _checked_scale(logit_scale)
    label = derivation.label
    at = random_points(derivation.classes, derivation.features, points, seed, logit_scale)
    nu = score_magnitude(at)
    gradient_scales = [float(np.abs(point.x).max()) for point in at]
    loss_scales = [nu] * points

    references = [reference_gradient(point.weights, point.x, label) for point in at]
    reference_losses = [reference_loss(point.weights, point.x, label) for point in at]
    loss = mpmath_function(derivation, sympy.Matrix([[derivation.loss]]), "loss")
    claims = {
        "SymPy diff": _evaluate(derivation, derivation.gradient, "gradient", at),
        "closed form": _evaluate(derivation, derivation.closed_form, "closed_form", at),
    }
    against = [
        ("mpmath reference", "symbolic", references),
        ("central differences", "central difference",
         _differences(central_difference, "central difference", at, label, nu)),
        ("forward differences", "forward difference",
         _differences(forward_difference, "forward difference", at, label, nu)),
    ]

    rows = [
        _compare_row(
            "loss: SymPy vs mpmath reference", "symbolic", ("SymPy", "reference"),
            [loss(point) for point in at], reference_losses, loss_scales, nu, _loss_entry,
        )
    ]
    for numbers_name, key, reference_values in against:
        for claim, values in claims.items():
            rows.append(
                _compare_row(
                    f"{claim} vs {numbers_name}", key, (claim, numbers_name),
                    values, reference_values, gradient_scales, nu, _gradient_entry,
                )
            )
    rows.append(
        _compare_row(
            "stable float64 gradient vs mpmath reference", "stable float64",
            ("stable float64", "reference"),
            [stable.gradient(point.weights, point.x, label) for point in at],
            references, gradient_scales, nu, _gradient_entry,
        )
    )
    rows.append(_descent_row(claims["closed form"], references, gradient_scales, at, label))

    heading = (
        f"K={derivation.classes}, D={derivation.features}, label {label}; {points} points, "
        f"seed {seed}, logit scale {logit_scale:g}, score magnitude nu {nu:.3g}"
    )
    return CrossCheck(heading, tuple(rows))


def _checked_scale(logit_scale: object) -> float:
    """``logit_scale`` as a float, or ``ValueError`` if it is outside the supported range.

    Compared exactly before converting, so ``10**400`` is out of range, not an ``OverflowError``.
    """
    top = MAX_LOGIT_SCALE.value
    real = isinstance(logit_scale, numbers.Real) and not isinstance(logit_scale, (bool, np.bool_))
    if real and 0 < logit_scale <= top and 0 < float(logit_scale) <= top:
        return float(logit_scale)
    raise ValueError(
        f"logit_scale must be a real number with 0 < logit_scale <= {top:g}, "
        f"got {reprlib.repr(logit_scale)}"
    )


def _evaluate(
    derivation: Derivation, row: Callable[[int], sympy.Matrix], name: str, at: Sequence[Point]
) -> list:
    function = mpmath_function(derivation, stacked(derivation, row, name), name)
    return [function(point) for point in at]


def _differences(
    difference: Callable, key: str, at: Sequence[Point], label: int, nu: float
) -> list[np.ndarray]:
    step = TOLERANCES[key].step_at(nu)
    return [
        difference(lambda weights, x=point.x: stable.loss(weights, x, label), point.weights, step)
        for point in at
    ]


def _compare_row(
    name: str,
    key: str,
    labels: tuple[str, str],
    values: Sequence,
    references: Sequence,
    scales: Sequence[float],
    nu: float,
    entry_name: Callable[[tuple[int, int]], str],
) -> MethodRow:
    rule = TOLERANCES[key]
    tolerance = rule.tolerance_at(nu)
    comparisons = [
        relative_error(value, reference, rule.floor * scale)
        for value, reference, scale in zip(values, references, scales)
    ]
    errors = [comparison.error for comparison in comparisons]
    failing = [i for i, error in enumerate(errors) if not error <= tolerance]
    worst = max(range(len(errors)), key=errors.__getitem__)
    failure = ""
    if failing:
        failure = (
            f"{len(failing)} of {len(errors)} points fail; worst at point {worst}, "
            + _describe(comparisons[worst], labels, entry_name, tolerance)
        )
    row = MethodRow(name, len(errors), errors[worst], tolerance, not failing, failure)
    if rule.applies_at(nu):
        return row
    return replace(
        row,
        ok=False,
        failure="",
        applicable=False,
        note=(
            f"not applicable at this scale: its tolerance at nu {nu:.3g}, {tolerance:.1e}, is "
            f"at least {TOLERANCE_CAP.value:.0e} (checks.tolerances.TOLERANCE_CAP), so it could "
            "pass a wrong gradient; not counted as a pass"
        ),
    )


def _describe(
    comparison: Comparison,
    labels: tuple[str, str],
    entry_name: Callable[[tuple[int, int]], str],
    tolerance: float,
) -> str:
    claim, against = labels
    verdict = (
        f"relative error {comparison.error:.2e} > tolerance {tolerance:.1e}"
        if comparison.finite
        else "not a finite real number"
    )
    return (
        f"{entry_name(comparison.entry)}: {against} {nstr(comparison.reference, SHOWN_DIGITS)}, "
        f"{claim} {nstr(comparison.value, SHOWN_DIGITS)} ({verdict})"
    )


def _descent_row(
    claims: Sequence, references: Sequence, scales: Sequence[float], at: Sequence[Point], label: int
) -> MethodRow:
    name = "descent step along closed form"
    rule = TOLERANCES["descent step"]
    stepped = [
        (i, descent_step(claims[i], at[i], label, rule.step))
        for i in range(len(at))
        if max(abs(g) for row in references[i] for g in row) >= rule.floor * scales[i]
    ]
    skipped = len(at) - len(stepped)
    note = ""
    if skipped:
        note = (
            f"{skipped} of {len(at)} points not stepped: |dL/dW| < {rule.floor:.0e} max|x_k| "
            f"there, below the claim's resolution (the loss change would be below its rounding)"
        )
    if not stepped:
        note += "; not applicable at these points: there is nothing to step, so no verdict"
        return MethodRow(name, 0, math.inf, rule.tolerance, False, note=note, applicable=False)
    bad = [
        (i, step) for i, step in stepped if not (step.helps and step.deviation <= rule.tolerance)
    ]
    worst = max(step.deviation for _, step in stepped)
    failure = ""
    if bad:
        i, step = max(bad, key=lambda pair: pair[1].deviation)
        failure = f"{len(bad)} of {len(stepped)} points fail; worst at point {i}: " + (
            "the claimed gradient is not a finite real number"
            if not math.isfinite(step.deviation)
            else f"f_y moved by {nstr(step.score_change, SHOWN_DIGITS)}, loss by "
            f"{nstr(step.loss_change, SHOWN_DIGITS)}, {step.deviation:.2e} away from the "
            f"first-order prediction -eta |G|^2 (tolerance {rule.tolerance:.1e}; f_y must rise "
            "and the loss fall)"
        )
    return MethodRow(name, len(stepped), worst, rule.tolerance, not bad, failure, note)


def _gradient_entry(entry: tuple[int, int]) -> str:
    m, k = entry
    return f"dL/dw[{m},{k}]"


def _loss_entry(entry: tuple[int, int]) -> str:
    return "loss"
