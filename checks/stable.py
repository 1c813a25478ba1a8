"""Softmax cross-entropy in float64, evaluated so that nothing overflows or cancels.

This is the float64 code that finite differences are taken of; it is checked against the mpmath
reference, never used as one.  Scores are shifted by their maximum before ``exp`` (so the largest
exponential is exactly 1), the loss is ``(f_max - f_y) + log1p(sum_{j != max} e^(f_j - f_max))``
(exactly 0 plus a tiny, accurately rounded term when the label wins by far), and the gradient's
``p_y - 1`` is computed as ``-sum_{j != y} p_j`` instead of by cancellation.

Everything is evaluated one number at a time with ``math`` (each score a correctly rounded sum
of rounded products, then the C library's ``exp`` and ``log1p``), not with NumPy's vectorised
kernels or BLAS: the loss's rounding noise is what the finite-difference plot of ``derive docs``
shows, and NumPy's last bits depend on the processor (its SIMD kernels, FMA in the BLAS dot
product), which made the committed plot differ from machine to machine.
"""

from __future__ import annotations

import math

import numpy as np


def probabilities(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Softmax of the scores ``f = W x``, shifted by ``max f`` so that ``exp`` cannot overflow.

    Examples
    --------
    >>> probabilities(np.array([[1000.0], [0.0]]), np.array([1.0]))
    array([1., 0.])
    """
    scores = _scores(weights, x)
    top = max(scores)
    exponentials = [math.exp(f - top) for f in scores]
    total = math.fsum(exponentials)
    return np.array([e / total for e in exponentials])


def loss(weights: np.ndarray, x: np.ndarray, label: int) -> float:
    """``L = -log p_y = (f_max - f_y) + log1p(sum_{j != max} e^(f_j - f_max))``.

    Examples
    --------
    >>> loss(np.array([[1000.0], [0.0]]), np.array([1.0]), label=1)
    1000.0
    >>> loss(np.array([[40.0], [0.0]]), np.array([1.0]), label=0)  # e^-40, not 0
    4.248354255291589e-18
    """
    scores = _scores(weights, x)
    top = max(range(len(scores)), key=scores.__getitem__)
    others = math.fsum(math.exp(f - scores[top]) for j, f in enumerate(scores) if j != top)
    return (scores[top] - scores[label]) + math.log1p(others)


def gradient(weights: np.ndarray, x: np.ndarray, label: int) -> np.ndarray:
    """``dL/dW = (p - e_y) x^T`` (K x D), with ``p_y - 1`` summed as ``-sum_{j != y} p_j``.

    Examples
    --------
    >>> gradient(np.array([[1000.0], [0.0]]), np.array([2.0]), label=1)
    array([[ 2.],
           [-2.]])
    """
    p = probabilities(weights, x)
    coefficients = p.copy()
    coefficients[label] = -math.fsum(np.delete(p, label).tolist())
    return np.outer(coefficients, x)


def _scores(weights: np.ndarray, x: np.ndarray) -> list[float]:
    """``f = W x``, each score the correctly rounded sum of its rounded products (``math.fsum``),
    the same on every processor."""
    features = np.asarray(x, dtype=float).tolist()
    return [math.fsum(w * v for w, v in zip(row, features)) for row in np.asarray(weights).tolist()]
