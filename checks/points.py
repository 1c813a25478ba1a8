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

    ``x`` has standard normal entries, so the gradient, of size up to ``max |x_k|``, is of order
    one; ``W`` has normal entries of standard deviation ``logit_scale / sqrt(D)``, so each score is
    normal with standard deviation ``logit_scale |x| / sqrt(D)``, about ``logit_scale``.

    Examples
    --------
    >>> points = random_points(classes=3, features=2, count=4, seed=0, logit_scale=1e4)
    >>> len(points), points[0].weights.shape, points[0].x.shape
    (4, (3, 2), (2,))
    >>> bool(np.abs(points[0].weights @ points[0].x).max() > 1000)
    True
    """
    generator = np.random.default_rng(seed)
    spread = logit_scale / np.sqrt(features)
    return tuple(
        Point(
            weights=generator.standard_normal((classes, features)) * spread,
            x=generator.standard_normal(features),
        )
        for _ in range(count)
    )


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
