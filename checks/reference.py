"""The mpmath reference: loss, probabilities and gradient at 50 digits, independent of any claim.

The gradient is mpmath's own high-precision numerical derivative (``mp.diff``) of the loss, one
weight at a time, so it assumes no calculus at all: neither SymPy's ``diff`` nor the closed form
``(p_m - 1[m = y]) x`` that the cross-check is testing.  The loss is written max-shifted,
``(f_max - f_y) + log1p(sum_{j != max} e^(f_j - f_max))``, so that it keeps 50 significant digits
even when it is as small as ``e^-10000``; mpmath's exponent range means nothing overflows.
Inputs are float64 arrays, converted exactly.
"""

from __future__ import annotations

import numpy as np
from mpmath import mp, mpf

from checks.tolerances import REFERENCE_DIGITS

Grid = list[list[mpf]]


def _exact(array: np.ndarray) -> list:
    """A float64 vector or matrix as (nested) lists of mpf, exactly: every float64 is an mpf."""
    if np.ndim(array) > 1:
        return [_exact(row) for row in array]
    return [mpf(float(number)) for number in array]


def _loss(weights: Grid, x: list[mpf], label: int) -> mpf:
    scores = [mp.fsum(w * v for w, v in zip(row, x)) for row in weights]
    top = max(range(len(scores)), key=scores.__getitem__)
    rest = mp.fsum(mp.exp(score - scores[top]) for j, score in enumerate(scores) if j != top)
    return (scores[top] - scores[label]) + mp.log1p(rest)


def reference_loss(weights: np.ndarray, x: np.ndarray, label: int) -> mpf:
    """``L = -log p_y`` at 50 digits.

    Examples
    --------
    >>> from mpmath import nstr
    >>> nstr(reference_loss(np.array([[1e4], [0.0]]), np.array([1.0]), label=0), 5)  # e^-10000
    '1.1355e-4343'
    >>> nstr(reference_loss(np.array([[1e4], [0.0]]), np.array([1.0]), label=1), 5)
    '10000.0'
    """
    with mp.workdps(REFERENCE_DIGITS):
        return _loss(_exact(weights), _exact(x), label)


def reference_probabilities(weights: np.ndarray, x: np.ndarray) -> list[mpf]:
    """Softmax probabilities ``p_j`` at 50 digits.

    Examples
    --------
    >>> from mpmath import nstr
    >>> [nstr(p, 5) for p in reference_probabilities(np.array([[1e4], [0.0]]), np.array([1.0]))]
    ['1.0', '1.1355e-4343']
    """
    with mp.workdps(REFERENCE_DIGITS):
        scores = [mp.fsum(w * v for w, v in zip(row, _exact(x))) for row in _exact(weights)]
        top = max(scores)
        exponentials = [mp.exp(score - top) for score in scores]
        total = mp.fsum(exponentials)
        return [e / total for e in exponentials]


def reference_gradient(weights: np.ndarray, x: np.ndarray, label: int) -> Grid:
    """``dL/dW`` (K x D nested lists) at 50 digits, by ``mp.diff`` of the loss in each weight.

    Examples
    --------
    >>> from mpmath import nstr
    >>> gradient = reference_gradient(np.array([[1e4], [0.0]]), np.array([1.0]), label=0)
    >>> [[nstr(g, 5) for g in row] for row in gradient]  # (p - e_y) x^T = (-e^-10000, e^-10000)
    [['-1.1355e-4343'], ['1.1355e-4343']]
    """
    with mp.workdps(REFERENCE_DIGITS):
        at, sample = _exact(weights), _exact(x)

        def moved(m: int, k: int, t: mpf) -> Grid:
            shifted = [list(row) for row in at]
            shifted[m][k] += t
            return shifted

        return [
            [mp.diff(lambda t: _loss(moved(m, k, t), sample, label), 0) for k in range(len(row))]
            for m, row in enumerate(at)
        ]
