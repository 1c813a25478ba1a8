"""A batch loss's value and gradient in float64 NumPy, evaluated stably at any size.

Every loss here is one model: a linear layer scores each sample, ``S = X W + b`` (``X`` is
N x D, ``W`` is D x K, ``b`` has K entries), and the batch loss averages a per-sample loss of the
scores and adds an L2 penalty on the weights::

    L = (1/N) sum_i l(S_i, y_i) + reg * sum(W**2)
    dL/dW = X^T G / N + 2 reg W,   dL/db = sum_i G_i / N,   where G_i = dl/dS_i

That closed form is what ``derive.oracle.proof`` proves for every N, D and K; this module only
evaluates it, in float64 and without overflow or cancellation: the softmax is max-shifted and its
log is a log-sum-exp, the logistic loss is ``logaddexp(0, s) - y s`` with a sigmoid that never
exponentiates a positive number.  Each loss also bounds how far rounding its scores by ``dS``
can move its gradient (its *sensitivity*), which is what the judge's tolerances are made of, and
gives one sample's loss and gradient as the definitions write them, with no stabilising trick,
for the 50-digit spot check (``derive.oracle.reference``): in mpmath nothing overflows, so the
naive formula is the reference the stabilised one must agree with.

The losses of one score per sample (logistic regression, mean squared error) take a weight
vector ``w`` of D entries and a scalar bias; here they are the case K = 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mpmath
import numpy as np

from derive.catalog import UnknownLossError, entry

#: What a loss's ``y`` holds: a class per sample, a 0/1 label, or a real target.
CLASS_LABELS, BINARY_LABELS, REAL_TARGETS = "class", "binary", "target"


@dataclass(frozen=True)
class Problem:
    """One input of a batch loss, in float64 (any user dtype's values, exactly).

    ``weights`` is D x K (D for a one-score loss), ``bias`` K entries (a 0-d array for a one-score
    loss) or None, ``X`` N x D, ``y`` N labels or targets.
    """

    weights: np.ndarray
    bias: np.ndarray | None
    X: np.ndarray
    y: np.ndarray
    reg: float

    def scores(self) -> np.ndarray:
        """``S = X W + b``: N x K (N for a one-score loss)."""
        scores = self.X @ self.weights
        return scores if self.bias is None else scores + self.bias

    def score_magnitudes(self) -> np.ndarray:
        """``|X| |W| + |b|``, entry by entry the size of the terms each score sums, which bounds
        its rounding error: ``|fl(S) - S| <= (D + 1) u (|X| |W| + |b|)`` in any summation order."""
        magnitudes = np.abs(self.X) @ np.abs(self.weights)
        return magnitudes if self.bias is None else magnitudes + np.abs(self.bias)


@dataclass(frozen=True)
class Exact:
    """The oracle's values at one :class:`Problem`: the loss, the gradients, and the pieces
    (scores ``S``, per-sample losses and ``G = dl/dS``) that the judge and the spot check use."""

    loss: float
    weights: np.ndarray
    bias: np.ndarray | None
    scores: np.ndarray
    sample_losses: np.ndarray
    score_gradient: np.ndarray


@dataclass(frozen=True)
class BatchLoss:
    """One catalog loss as the oracle evaluates it.

    ``per_sample(S, y)`` gives every sample's loss and ``G = dl/dS`` in float64;
    ``sensitivity(S, y, G)`` a bound ``c`` with ``|G(S + dS) - G(S)| <= c * max|dS|`` (entry by
    entry, per sample, for small ``dS``), and ``loss_sensitivity`` the same for the per-sample
    loss; ``naive_sample(scores, y)`` one sample's loss and G from the definitions, as written
    (``p = e^s / sum e^s``, ``-log p_y``), for mpmath at 50 digits, where nothing overflows.
    """

    name: str
    labels: str
    one_score: bool
    per_sample: Callable
    sensitivity: Callable
    loss_sensitivity: Callable
    naive_sample: Callable
    kink_distance: Callable | None = None

    def evaluate(self, problem: Problem) -> Exact:
        """The loss and its gradients at ``problem``.

        Examples
        --------
        >>> problem = Problem(np.zeros((2, 3)), None, np.ones((1, 2)), np.array([0]), reg=0.0)
        >>> exact = BATCH_LOSSES["softmax-cross-entropy"].evaluate(problem)
        >>> round(exact.loss, 12) == round(float(np.log(3)), 12)
        True
        >>> exact.weights.round(6).tolist()
        [[-0.666667, 0.333333, 0.333333], [-0.666667, 0.333333, 0.333333]]
        """
        scores = problem.scores()
        sample_losses, score_gradient = self.per_sample(scores, problem.y)
        n = len(problem.X)
        weights = problem.X.T @ score_gradient / n + 2 * problem.reg * problem.weights
        bias = None if problem.bias is None else score_gradient.sum(axis=0) / n
        loss = float(sample_losses.mean() + problem.reg * np.sum(problem.weights**2))
        return Exact(loss, weights, bias, scores, sample_losses, score_gradient)


def _rows(n: int) -> np.ndarray:
    return np.arange(n)


def _softmax_cross_entropy(scores: np.ndarray, labels: np.ndarray):
    shifted = scores - scores.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    totals = exponentials.sum(axis=1, keepdims=True)
    rows = _rows(len(scores))
    losses = np.log(totals[:, 0]) - shifted[rows, labels]  # log-sum-exp minus the label's score
    gradient = exponentials / totals
    gradient[rows, labels] -= 1.0
    return losses, gradient


def _softmax_sensitivity(scores, labels, gradient):
    # p_k(S + dS) = p_k(S) e^(dS_k - dlse) moves by at most p_k (e^(2 max|dS|) - 1) ~ 2 p_k |dS|;
    # the 1 subtracted at the label stays, so |dG| <= 2 p (|p - onehot| + onehot) is 2 p.
    probabilities = gradient.copy()
    probabilities[_rows(len(scores)), labels] += 1.0
    return 2.0 * probabilities


def _svm(scores: np.ndarray, labels: np.ndarray):
    rows = _rows(len(scores))
    margins = scores - scores[rows, labels][:, None] + 1.0
    margins[rows, labels] = 0.0
    positive = margins > 0
    losses = np.where(positive, margins, 0.0).sum(axis=1)
    gradient = positive.astype(np.float64)
    gradient[rows, labels] = -positive.sum(axis=1)
    return losses, gradient


def _svm_kink_distance(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """How far each sample's margins are from the kink 0 (the label's own entry excluded)."""
    rows = _rows(len(scores))
    margins = np.abs(scores - scores[rows, labels][:, None] + 1.0)
    margins[rows, labels] = np.inf
    return margins.min(axis=1)


def _logistic(scores: np.ndarray, labels: np.ndarray):
    # log(1 + e^s) - y s, and a sigmoid that exponentiates only -|s|.
    losses = np.logaddexp(0.0, scores) - labels * scores
    small = np.exp(-np.abs(scores))
    sigmoid = np.where(scores >= 0, 1.0 / (1.0 + small), small / (1.0 + small))
    return losses, sigmoid - labels


def _mse(scores: np.ndarray, targets: np.ndarray):
    residuals = scores - targets
    return residuals**2, 2.0 * residuals


def _softmax_naive(scores, label):
    exponentials = [mpmath.exp(s) for s in scores]
    total = mpmath.fsum(exponentials)
    probabilities = [e / total for e in exponentials]
    return -mpmath.log(probabilities[label]), [
        p - (1 if k == label else 0) for k, p in enumerate(probabilities)]


def _svm_naive(scores, label):
    margins = [s - scores[label] + 1 for s in scores]
    positive = [k != label and m > 0 for k, m in enumerate(margins)]
    gradient = [mpmath.mpf(1 if up else 0) for up in positive]
    gradient[label] = -mpmath.mpf(sum(positive))
    return mpmath.fsum(m for m, up in zip(margins, positive) if up), gradient


def _logistic_naive(scores, label):
    # -y log p - (1 - y) log(1 - p) with p = sigma(s); 1 - p is written sigma(-s), since at
    # s ~ 1e3 the subtraction 1 - p would cancel all 50 digits (1 - p ~ e^-1000).
    (s,) = scores
    probability, complement = 1 / (1 + mpmath.exp(-s)), 1 / (1 + mpmath.exp(s))
    return -label * mpmath.log(probability) - (1 - label) * mpmath.log(complement), [
        probability - label]


def _mse_naive(scores, target):
    (s,) = scores
    return (s - target) ** 2, [2 * (s - target)]


BATCH_LOSSES: dict[str, BatchLoss] = {
    loss.name: loss
    for loss in (
        BatchLoss(
            "softmax-cross-entropy", CLASS_LABELS, False, _softmax_cross_entropy,
            _softmax_sensitivity, lambda s, y: np.full(len(s), 2.0), _softmax_naive,
        ),
        BatchLoss(
            "multiclass-svm", CLASS_LABELS, False, _svm,
            # Off the kinks the indicators do not move: G is exact, whatever dS below the margin.
            lambda s, y, g: np.zeros_like(g),
            lambda s, y: 2.0 * (s.shape[1] - 1) * np.ones(len(s)), _svm_naive, _svm_kink_distance,
        ),
        BatchLoss(
            "logistic-regression", BINARY_LABELS, True, _logistic,
            lambda s, y, g: np.full_like(g, 0.25),  # sigmoid' <= 1/4
            lambda s, y: np.full(len(s), 2.0), _logistic_naive,
        ),
        BatchLoss(
            "mean-squared-error", REAL_TARGETS, True, _mse,
            lambda s, y, g: np.full_like(g, 2.0),
            lambda s, y: 2.0 * np.abs(s - y) + 1.0, _mse_naive,
        ),
    )
}


#: Catalog names of the same batch loss: the batch document is the softmax oracle's own form.
ALIASES = {"softmax-cross-entropy-batch": "softmax-cross-entropy"}


def canonical_name(name: str) -> str:
    """The oracle's name for catalog loss ``name`` (the batch softmax document is the softmax's).

    Examples
    --------
    >>> canonical_name("softmax-cross-entropy-batch")
    'softmax-cross-entropy'
    """
    return ALIASES.get(name, name)


def batch_loss(name: str) -> BatchLoss:
    """The oracle of catalog loss ``name``; ``UnknownLossError`` for a name not in the catalog,
    ``ValueError`` for a catalog loss with no batch form here.

    Examples
    --------
    >>> batch_loss("multiclass-svm").labels
    'class'
    >>> batch_loss("focal-loss")
    Traceback (most recent call last):
    ...
    ValueError: focal-loss has no batch oracle; these have one: softmax-cross-entropy, multiclass-svm, logistic-regression, mean-squared-error
    """
    entry(name)  # raises UnknownLossError, with the catalog's names, for a name it lacks
    name = canonical_name(name)
    if name not in BATCH_LOSSES:
        raise ValueError(f"{name} has no batch oracle; these have one: {', '.join(BATCH_LOSSES)}")
    return BATCH_LOSSES[name]


__all__ = ["ALIASES", "BATCH_LOSSES", "BatchLoss", "Exact", "Problem", "UnknownLossError", "batch_loss",
           "canonical_name"]
