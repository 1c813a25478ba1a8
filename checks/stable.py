"""Softmax cross-entropy in float64, evaluated so that nothing overflows or cancels.

This is the float64 code that finite differences are taken of; it is checked against the mpmath
reference, never used as one.  Scores are shifted by their maximum before ``exp`` (so the largest
exponential is exactly 1), the loss is ``(f_max - f_y) + log1p(sum_{j != max} e^(f_j - f_max))``
(exactly 0 plus a tiny, accurately rounded term when the label wins by far), and the gradient's
``p_y - 1`` is computed as ``-sum_{j != y} p_j`` instead of by cancellation.
"""

from __future__ import annotations

import numpy as np


def probabilities(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Softmax of the scores ``f = W x``, shifted by ``max f`` so that ``exp`` cannot overflow.

    Examples
    --------
    >>> probabilities(np.array([[1000.0], [0.0]]), np.array([1.0]))
    array([1., 0.])
    """
    scores = weights @ x
    exponentials = np.exp(scores - scores.max())
    return exponentials / exponentials.sum()


def loss(weights: np.ndarray, x: np.ndarray, label: int) -> float:
    """``L = -log p_y = (f_max - f_y) + log1p(sum_{j != max} e^(f_j - f_max))``.

    Examples
    --------
    >>> loss(np.array([[1000.0], [0.0]]), np.array([1.0]), label=1)
    1000.0
    >>> loss(np.array([[40.0], [0.0]]), np.array([1.0]), label=0)  # e^-40, not 0
    4.248354255291589e-18
    """
    scores = weights @ x
    top = int(np.argmax(scores))
    others = np.delete(scores - scores[top], top)
    return float((scores[top] - scores[label]) + np.log1p(np.exp(others).sum()))


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
    coefficients[label] = -np.delete(p, label).sum()
    return np.outer(coefficients, x)
