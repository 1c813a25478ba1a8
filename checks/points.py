"""Random points (weights W and a sample x) at which the cross-checks evaluate a gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Point:
    """One point: float64 weights ``W`` (K x D) and one sample ``x`` (D)."""

    weights: np.ndarray
    x: np.ndarray


def random_points(
    classes: int, features: int, count: int, seed: int, logit_scale: float
) -> tuple[Point, ...]:
    """Draw ``count`` points whose scores ``f = W x`` have entries of size about ``logit_scale``.

    ``x`` is a standard normal vector rescaled so that its largest entry has size 1: every entry
    of the gradient ``(p - e_y) x^T`` is then at most 1, and the float64 rounding of the loss
    (about ``eps nu``) is measured against a gradient of order one.  (With a tiny ``x`` the loss is
    of order one while its gradient is of order ``|x|``, and finite differences lose digits for
    reasons of scale, not of correctness.)  ``W`` has normal entries of standard deviation
    ``logit_scale / sqrt(D)``, so each score is normal with standard deviation
    ``logit_scale |x| / sqrt(D)``, between ``logit_scale / sqrt(D)`` and ``logit_scale``.

    Examples
    --------
    >>> points = random_points(classes=3, features=2, count=4, seed=0, logit_scale=1e4)
    >>> len(points), points[0].weights.shape, points[0].x.shape
    (4, (3, 2), (2,))
    >>> float(np.abs(points[0].x).max())
    1.0
    >>> bool(np.abs(points[0].weights @ points[0].x).max() > 1000)
    True
    """
    generator = np.random.default_rng(seed)
    spread = logit_scale / np.sqrt(features)
    drawn = []
    for _ in range(count):
        weights = generator.standard_normal((classes, features)) * spread
        x = generator.standard_normal(features)
        drawn.append(Point(weights=weights, x=x / np.abs(x).max()))
    return tuple(drawn)


def score_magnitude(points: tuple[Point, ...]) -> float:
    """``nu = 1 + max_j sum_k |w_jk x_k|`` over all points: the size float64 rounding acts on.

    Computing ``f_j = sum_k w_jk x_k`` in float64 rounds it by about ``eps`` times this sum, so
    float64 steps and tolerances scale with it (see ``checks.tolerances``).

    Examples
    --------
    >>> point = Point(weights=np.array([[3.0, -4.0], [1.0, 1.0]]), x=np.array([1.0, 1.0]))
    >>> score_magnitude((point,))
    8.0
    """
    return 1 + max(float((np.abs(point.weights) @ np.abs(point.x)).max()) for point in points)
