"""Spot-check the float64 oracle against an mpmath evaluation at 50 digits.

The oracle's closed form is proven for every size (``derive.oracle.proof``); what remains to
trust is its float64 evaluation at the user's sizes.  A few samples are checked whole: their
per-sample loss and every class's ``G = dl/dS``, evaluated in mpmath at 50 digits by the formulas
as the definitions write them (no max-shift, no log-sum-exp: mpmath's exponent range means
nothing overflows; the one subtraction that would cancel all 50 digits, ``1 - sigma(s)`` at
``s ~ 1e3``, is written ``sigma(-s)``) at the scores the oracle computed, taken exactly.  A few
entries of ``dL/dW`` are then re-summed at 50 digits from those pieces.  Together that covers every stage of the evaluation: the max-shifted softmax, the
log-sum-exp, the contraction ``X^T G / N`` and the penalty.  The cost does not grow with N or D
beyond one pass over a column, so it stays well under a second at K = 1000.

The errors are normwise per sample (``p_y - 1`` is ``-sum_{j != y} p_j`` exactly, but in float64
it cancels, so single entries near 0 carry only absolute accuracy), and entrywise for ``dL/dW``
against the entry's own size ``(|X|^T |G| / N + 2 reg |W|)``, the scale its rounding is relative to.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath
import numpy as np

from checks.tolerances import IMPLEMENTATION, REFERENCE_DIGITS
from derive.oracle.batch import BatchLoss, Exact, Problem

#: Samples checked whole, and entries of dL/dW re-summed, per spot check.
SPOT_SAMPLES = 3
SPOT_ENTRIES = 4


@dataclass(frozen=True)
class SpotCheck:
    """How far the float64 oracle was from the 50-digit evaluation: the worst error over the
    samples and entries checked, in units of float64's unit roundoff times the quantity's scale."""

    samples: tuple[int, ...]
    entries: tuple[tuple[int, ...], ...]
    worst_error: float  # relative to each quantity's scale
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(self.worst_error <= self.tolerance)


def spot_check(loss: BatchLoss, problem: Problem, exact: Exact, seed: int = 0) -> SpotCheck:
    """Compare ``exact`` (the float64 oracle at ``problem``) with 50-digit SymPy/mpmath values.

    Examples
    --------
    >>> from derive.oracle.batch import BATCH_LOSSES
    >>> rng = np.random.default_rng(0)
    >>> problem = Problem(rng.normal(size=(4, 3)), None, rng.normal(size=(5, 4)),
    ...                   np.array([0, 1, 2, 0, 1]), reg=0.1)
    >>> softmax = BATCH_LOSSES["softmax-cross-entropy"]
    >>> check = spot_check(softmax, problem, softmax.evaluate(problem))
    >>> check.ok, check.worst_error < 1e-14
    (True, True)
    """
    rng = random.Random(seed)
    n = len(problem.X)
    samples = _chosen_samples(exact, problem, rng)
    worst = 0.0
    for i in samples:
        worst = max(worst, _sample_error(loss, problem, exact, i))
    entries = _chosen_entries(exact, rng)
    scores_gradient = exact.score_gradient
    for entry in entries:
        a, k = entry if len(entry) == 2 else (entry[0], None)
        column = scores_gradient[:, k] if k is not None else scores_gradient
        weight = problem.weights[a, k] if k is not None else problem.weights[a]
        with mpmath.workdps(REFERENCE_DIGITS):
            total = exact_dot(problem.X[:, a], column)
            value = total / n + 2 * mpmath.mpf(problem.reg) * mpmath.mpf(float(weight))
            scale = (np.abs(problem.X[:, a]) @ np.abs(column)) / n + 2 * problem.reg * abs(weight)
            error = abs(mpmath.mpf(float(exact.weights[entry])) - value)
        worst = max(worst, _no_nan(float(error) / max(float(scale), np.finfo(np.float64).tiny)))
    return SpotCheck(tuple(samples), tuple(entries), worst, IMPLEMENTATION["oracle spot check"].value)


def exact_dot(a, b) -> mpmath.mpf:
    """``sum(a_i b_i)`` of two float64 vectors, exactly: each float is an integer times a power
    of two, so each product is one too; the products are summed as Python integers at the
    smallest exponent and the sum made an mpf by a shift (exact at any precision, and some 20
    times faster than ``mpmath.fsum`` of mpf products).

    Examples
    --------
    >>> exact_dot([1e16, 1.0, -1e16], [1.0, 0.5, 1.0]) == mpmath.mpf(0.5)
    True
    >>> mpmath.isnan(exact_dot([1.0, float("inf")], [1.0, 0.0]))
    True
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return mpmath.mpf("nan")  # never agreement (the caller's _no_nan)
    fractions_a, exponents_a = np.frexp(a)
    fractions_b, exponents_b = np.frexp(b)
    mantissas_a = (fractions_a * 2.0**53).astype(np.int64).tolist()  # exact: 53-bit integers
    mantissas_b = (fractions_b * 2.0**53).astype(np.int64).tolist()
    exponents = (exponents_a.astype(np.int64) + exponents_b.astype(np.int64)).tolist()
    if not exponents:
        return mpmath.mpf(0)
    lowest = min(exponents)
    total = sum((x * y) << (e - lowest)
                for x, y, e in zip(mantissas_a, mantissas_b, exponents))
    return mpmath.ldexp(mpmath.mpf(total), lowest - 106)


def _chosen_samples(exact: Exact, problem: Problem, rng: random.Random) -> list[int]:
    """The sample with the widest spread of scores (the hardest for the softmax), then random."""
    n = len(problem.X)
    spread = exact.scores if exact.scores.ndim == 1 else np.ptp(exact.scores, axis=1)
    chosen = [int(np.argmax(np.abs(spread)))]
    others = [i for i in range(n) if i != chosen[0]]
    chosen += sorted(rng.sample(others, min(SPOT_SAMPLES - 1, len(others))))
    return chosen


def _chosen_entries(exact: Exact, rng: random.Random) -> list[tuple[int, ...]]:
    shape = exact.weights.shape
    largest = np.unravel_index(int(np.argmax(np.abs(exact.weights))), shape)
    chosen = [tuple(int(i) for i in largest)]
    for _ in range(SPOT_ENTRIES - 1):
        chosen.append(tuple(rng.randrange(size) for size in shape))
    return chosen


def _sample_error(loss: BatchLoss, problem: Problem, exact: Exact, i: int) -> float:
    """Normwise error of sample ``i``'s loss and G against the naive formulas at 50 digits."""
    row = np.atleast_1d(exact.scores[i])
    gradient_row = np.atleast_1d(exact.score_gradient[i])
    label = float(problem.y[i]) if loss.one_score else int(problem.y[i])
    with mpmath.workdps(REFERENCE_DIGITS):
        scores = [mpmath.mpf(float(value)) for value in row]  # the oracle's scores, exactly
        reference_loss, reference_gradient = loss.naive_sample(scores, label)
        if not all(mpmath.isfinite(value) for value in [reference_loss, *reference_gradient]):
            return float("inf")  # NaN or inf is never agreement, not even in the reference
        loss_scale = max(abs(reference_loss), mpmath.mpf(float(np.abs(row).max())), 1)
        worst = abs(mpmath.mpf(float(exact.sample_losses[i])) - reference_loss) / loss_scale
        gradient_scale = max(float(np.abs(gradient_row).max()), 1.0)
        for value, reference in zip(gradient_row, reference_gradient):
            worst = max(worst, abs(mpmath.mpf(float(value)) - reference) / gradient_scale)
    return _no_nan(float(worst))


def _no_nan(error: float) -> float:
    """An error that is NaN (from a NaN or inf anywhere) is infinite: never agreement."""
    return error if error == error else float("inf")
