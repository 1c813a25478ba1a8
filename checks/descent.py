"""The seed's closing remark as a check: a small step along the claimed gradient helps.

A step ``W <- W - eta G`` along the claimed gradient ``G`` must raise the true class's score
``f_y`` and lower the loss, by the first-order amount ``eta |G|^2`` to within ``eta |x|^2 / 4``
relatively (the bound and its proof are in ``checks.tolerances``).  Everything is computed at 50
digits without cancellation: the scores move by ``Delta f_j = -eta G_j . x`` exactly (f is linear),
and, since ``sum_j p_j = 1``, the loss moves by

    Delta L = log1p(sum_{j != y} p_j expm1(Delta f_j - Delta f_y)),

a sum of same-signed terms for any plausible ``G``, so even a change of ``e^-20000`` is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mpmath import mp, mpf

from checks.points import Point
from checks.reference import reference_probabilities
from checks.tolerances import REFERENCE_DIGITS


@dataclass(frozen=True)
class DescentStep:
    """What one step did: the relative deviation of Delta L from ``-eta |G|^2``, and the signs."""

    deviation: float
    score_change: mpf
    loss_change: mpf

    @property
    def helps(self) -> bool:
        """True when ``f_y`` rose and the loss fell."""
        return self.score_change > 0 and self.loss_change < 0


def descent_step(claimed: list[list[mpf]], point: Point, label: int, step: float) -> DescentStep:
    """Step along ``claimed`` (K x D) with ``eta = step / |x|^2``; measure what happened.

    Examples
    --------
    >>> import numpy as np
    >>> point = Point(weights=np.array([[0.0], [0.0]]), x=np.array([1.0]))
    >>> true_gradient = [[-0.5], [0.5]]  # p = (1/2, 1/2), label 0: (p - e_0) x^T
    >>> result = descent_step(true_gradient, point, label=0, step=1e-12)
    >>> result.helps, result.deviation <= 1e-12 / 4
    (True, True)
    >>> descent_step([[0.5], [-0.5]], point, label=0, step=1e-12).helps  # wrong sign
    False
    """
    with mp.workdps(REFERENCE_DIGITS):
        x = [mpf(float(v)) for v in point.x]
        gradient = [[_real(g) for g in row] for row in claimed]
        if not all(mp.isfinite(g) for row in gradient for g in row):
            return DescentStep(math.inf, mp.nan, mp.nan)
        eta = mpf(step) / mp.fsum(v * v for v in x)
        moves = [-eta * mp.fsum(g * v for g, v in zip(row, x)) for row in gradient]
        p = reference_probabilities(point.weights, point.x)
        loss_change = mp.log1p(
            mp.fsum(p[j] * mp.expm1(moves[j] - moves[label]) for j in range(len(p)) if j != label)
        )
        predicted = -eta * mp.fsum(g * g for row in gradient for g in row)
        deviation = math.inf if predicted == 0 else float(abs(loss_change / predicted - 1))
        return DescentStep(deviation, moves[label], loss_change)


def _real(number: object) -> mpf:
    """A claimed entry as an mpf; NaN when it is complex (no real gradient is)."""
    try:
        return mp.mpf(number)
    except TypeError:
        return mp.nan
