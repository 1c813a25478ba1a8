"""Compare a user's loss and gradient with the oracle's, each entry against its own tolerance.

Each entry's tolerance is a rounding bound made of the dtype's unit roundoff and the problem's
conditioning (the size of the terms every score sums, the loss's sensitivity to its scores, the
number of samples summed): the derivation and the constants, each with its reason, are the
implementation section of ``checks.tolerances``.  The error is also reported in the two units an
engineer reads: normwise relative (``max |user - oracle| / max |oracle|``) and in ulps of the
user's dtype at the worst entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from checks.tolerances import IMPLEMENTATION
from derive.oracle.batch import BatchLoss, Exact, Problem

_SAFETY = IMPLEMENTATION["safety"].value
_ULPS = IMPLEMENTATION["ulps"].value
_FUNCTION_ULPS = IMPLEMENTATION["function ulps"].value
_FLOAT64_ROUNDOFF = 2.0**-53


def unit_roundoff(dtype) -> float:
    """Half the machine epsilon: 2^-53 for float64, 2^-24 for float32.

    Examples
    --------
    >>> unit_roundoff(np.float32) == 2.0**-24
    True
    """
    return float(np.finfo(dtype).eps) / 2


@dataclass(frozen=True)
class Tolerances:
    """Per-entry tolerances of the loss and of each gradient, at one problem, for one dtype."""

    loss: float
    weights: np.ndarray
    bias: np.ndarray | None


def score_errors(problem: Problem, roundoff: float) -> np.ndarray:
    """Per sample, the largest rounding error any of its scores can have at unit roundoff
    ``roundoff``: ``(D + 1) u (|X| |W| + |b|)``, maximised over the sample's scores."""
    bound = (problem.X.shape[1] + 1) * roundoff * problem.score_magnitudes()
    return bound if bound.ndim == 1 else bound.max(axis=1)


def tolerances(loss: BatchLoss, problem: Problem, exact: Exact, dtype) -> Tolerances:
    """The tolerance of every entry: ``SAFETY`` times the rounding bound at the user's dtype plus
    the oracle's own (float64), plus ``ULPS`` ulps of the entry in the user's dtype.

    Every term of the bound is linear in the unit roundoff, so the two bounds are one, at the
    sum of the two roundoffs."""
    roundoff = unit_roundoff(dtype) + _FLOAT64_ROUNDOFF
    loss_bound, weight_bound, bias_bound = _bounds(loss, problem, exact, roundoff)
    return Tolerances(
        loss=_SAFETY * loss_bound + _ULPS * _ulp(exact.loss, dtype),
        weights=_SAFETY * weight_bound + _ULPS * _ulp(exact.weights, dtype),
        bias=None if exact.bias is None else _SAFETY * bias_bound + _ULPS * _ulp(exact.bias, dtype),
    )


def _bounds(loss: BatchLoss, problem: Problem, exact: Exact, roundoff: float):
    n = len(problem.X)
    per_sample = score_errors(problem, roundoff)
    gradient = exact.score_gradient
    spread = per_sample if gradient.ndim == 1 else per_sample[:, None]
    sensitivity = loss.sensitivity(exact.scores, problem.y, gradient)
    gradient_error = sensitivity * spread + _FUNCTION_ULPS * roundoff * (np.abs(gradient) + 1)
    summed = gradient_error + (n + 1) * roundoff * np.abs(gradient)
    weights = np.abs(problem.X).T @ summed / n + 4 * roundoff * problem.reg * np.abs(problem.weights)
    bias = None if exact.bias is None else summed.sum(axis=0) / n
    sample_losses = np.abs(exact.sample_losses)
    loss_error = (loss.loss_sensitivity(exact.scores, problem.y) * per_sample
                  + _FUNCTION_ULPS * roundoff * sample_losses).mean()
    penalty = problem.reg * float(np.sum(problem.weights**2))
    loss_error += (n + 1) * roundoff * sample_losses.mean() + (problem.weights.size + 2) * roundoff * penalty
    return loss_error, weights, bias


def _ulp(value, dtype) -> np.ndarray | float:
    """The spacing of ``dtype``'s numbers at ``|value|`` (at 0, the smallest normal number's)."""
    magnitude = np.maximum(np.abs(np.asarray(value, dtype=np.float64)), np.finfo(dtype).tiny)
    spacing = np.spacing(magnitude.astype(dtype)).astype(np.float64)
    return float(spacing) if np.ndim(spacing) == 0 else spacing


@dataclass(frozen=True)
class Comparison:
    """One output of the user (the loss, ``dW`` or ``db``) against the oracle.

    ``worst_ratio`` is ``max |user - oracle| / tolerance`` over the entries: at most 1 passes;
    ``inf`` when the user's value is NaN or infinite where the oracle's is finite.
    """

    name: str
    relative_error: float
    ulps: float
    worst_ratio: float
    worst_index: tuple[int, ...]
    user_value: float
    oracle_value: float
    tolerance: float
    resolution: float  # the largest tolerance over the largest |oracle| entry: what can show

    @property
    def ok(self) -> bool:
        return bool(self.worst_ratio <= 1.0)

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.user_value))


class Compared:
    """A trial's verdict from its ``comparisons`` (each a :class:`Comparison`): every output
    within tolerance, every output finite.  Mixed into each check's trial."""

    comparisons: tuple[Comparison, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def finite(self) -> bool:
        return all(c.finite for c in self.comparisons)


def compare(name: str, user, oracle, tolerance, dtype) -> Comparison:
    """Compare ``user`` with ``oracle`` entry by entry under ``tolerance``.

    Examples
    --------
    >>> oracle = np.array([1.0, -2.0])
    >>> compare("dW", oracle * (1 + 1e-6), oracle, np.full(2, 1e-12), np.float64).ok
    False
    >>> compare("dW", oracle + 1e-13, oracle, np.full(2, 1e-12), np.float64).ok
    True
    >>> compare("dW", np.array([np.nan, -2.0]), oracle, np.full(2, 1e-12), np.float64).worst_ratio
    inf
    """
    user = np.asarray(user, dtype=np.float64)
    oracle = np.asarray(oracle, dtype=np.float64)
    tolerance = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), oracle.shape)
    with np.errstate(all="ignore"):
        difference = np.abs(user - oracle)
        difference = np.where(np.isfinite(user), difference, np.inf)
        ratio = np.where(difference == 0, 0.0, difference / tolerance)  # an exact 0 needs no tolerance
    flat = int(np.argmax(ratio)) if ratio.size else 0
    index = tuple(int(i) for i in np.unravel_index(flat, oracle.shape)) if oracle.ndim else ()
    scale = float(np.abs(oracle).max()) if oracle.size else 0.0
    largest = float(difference.max()) if difference.size else 0.0
    with np.errstate(all="ignore"):
        relative = largest / scale if scale > 0 else (0.0 if largest == 0 else np.inf)
        ulps = float(difference[index] / _ulp(oracle[index], dtype))
        resolution = float(tolerance.max() / scale) if scale > 0 else float("inf")
    return Comparison(
        name=name,
        relative_error=float(relative),
        ulps=ulps,
        worst_ratio=float(ratio[index]) if ratio.size else 0.0,
        worst_index=index,
        user_value=float(user[index]),
        oracle_value=float(oracle[index]),
        tolerance=float(tolerance[index]),
        resolution=resolution,
    )
