"""Name the mistake a wrong gradient makes, when it is one of the usual ones.

Each known mistake is a small change of the oracle's closed form, built from its pieces (the data
term ``X^T G / N``, the penalty ``2 reg W``, the score gradient ``G``): a user's gradient that
fails against the oracle but passes against one of these, under the same per-entry tolerances,
is that mistake.  An output that is NaN or infinite where the oracle is finite is named by where
it happens (exp of large scores, log of an underflowed probability).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from derive.implementation.judge import Tolerances, compare
from derive.oracle.batch import CLASS_LABELS, REAL_TARGETS, BatchLoss, Exact, Problem


@dataclass(frozen=True)
class Mistake:
    """A named mistake: ``name`` is short and stable (tests and JSON use it), ``explanation``
    one sentence of what the code does and what to do instead."""

    name: str
    explanation: str


@dataclass(frozen=True)
class _Candidate:
    name: str
    explanation: str
    applies: Callable[[BatchLoss, Problem], bool]
    gradients: Callable  # (loss, problem, exact) -> (weights, bias or None)


def _data(exact: Exact, problem: Problem) -> np.ndarray:
    return exact.weights - 2 * problem.reg * problem.weights


def _with_score_gradient(problem: Problem, exact: Exact, gradient: np.ndarray):
    n = len(problem.X)
    weights = problem.X.T @ gradient / n + 2 * problem.reg * problem.weights
    return weights, None if exact.bias is None else gradient.sum(axis=0) / n


def _indicator_moved(shift: int):
    def gradients(loss, problem, exact):
        rows = np.arange(len(problem.X))
        k = exact.score_gradient.shape[1]
        moved = exact.score_gradient.copy()
        moved[rows, problem.y] += 1.0
        moved[rows, (problem.y + shift) % k] -= 1.0
        return _with_score_gradient(problem, exact, moved)
    return gradients


def _svm_without_count(loss, problem, exact):
    gradient = exact.score_gradient.copy()
    gradient[np.arange(len(problem.X)), problem.y] = 0.0
    return _with_score_gradient(problem, exact, gradient)


def _scaled_data(factor: float):
    def gradients(loss, problem, exact):
        weights = factor * _data(exact, problem) + 2 * problem.reg * problem.weights
        return weights, None if exact.bias is None else factor * exact.bias
    return gradients


_CANDIDATES = (
    _Candidate(
        "missing 1/N",
        "the gradient of the data term is a sum over the batch, not its mean: divide it by N",
        lambda loss, problem: len(problem.X) > 1,
        lambda loss, problem, exact: _scaled_data(len(problem.X))(loss, problem, exact),
    ),
    _Candidate(
        "reg W instead of 2 reg W",
        "the penalty reg * sum(W**2) has the gradient 2 reg W, not reg W",
        lambda loss, problem: problem.reg > 0,
        lambda loss, problem, exact: (_data(exact, problem) + problem.reg * problem.weights,
                                      exact.bias),
    ),
    _Candidate(
        "missing penalty gradient",
        "the gradient lacks the penalty's 2 reg W",
        lambda loss, problem: problem.reg > 0,
        lambda loss, problem, exact: (_data(exact, problem), exact.bias),
    ),
    _Candidate(
        "wrong sign",
        "the data term's gradient has the wrong sign (for softmax: p - 1[k = y], not 1[k = y] - p)",
        lambda loss, problem: True,
        _scaled_data(-1.0),
    ),
    _Candidate(
        "indicator on the wrong row",
        "the 1 is subtracted at class y + 1, not at the sample's class y (1-based labels?)",
        lambda loss, problem: loss.labels == CLASS_LABELS and loss.name == "softmax-cross-entropy",
        _indicator_moved(+1),
    ),
    _Candidate(
        "indicator on the wrong row",
        "the 1 is subtracted at class y - 1, not at the sample's class y",
        lambda loss, problem: loss.labels == CLASS_LABELS and loss.name == "softmax-cross-entropy",
        _indicator_moved(-1),
    ),
    _Candidate(
        "missing count on the label's column",
        "the label's column must get minus the number of positive margins",
        lambda loss, problem: loss.name == "multiclass-svm",
        _svm_without_count,
    ),
    _Candidate(
        "missing factor 2",
        "the derivative of (s - t)^2 is 2 (s - t)",
        lambda loss, problem: loss.labels == REAL_TARGETS,
        _scaled_data(0.5),
    ),
)


def name_gradient_mistake(loss: BatchLoss, problem: Problem, exact: Exact, weights, bias,
                          tolerances: Tolerances, dtype) -> Mistake | None:
    """The known mistake the user's (failing) gradients match, if one does."""
    bias_wrong = bias is not None and not compare("db", bias, exact.bias, tolerances.bias, dtype).ok
    weights_wrong = not compare("dW", weights, exact.weights, tolerances.weights, dtype).ok
    if bias_wrong and not weights_wrong and np.all(bias == 0) and np.any(exact.bias != 0):
        return Mistake("missing bias gradient", "db is zero: the bias's gradient is sum_i G_i / N")
    square = np.ndim(weights) == 2 and weights.shape[0] == weights.shape[1]
    if square and compare("dW", weights, exact.weights.T, tolerances.weights.T, dtype).ok:
        return Mistake("transposed gradient", "dW is the transpose of the gradient: return it in "
                       "W's own layout")
    for candidate in _CANDIDATES:
        if not candidate.applies(loss, problem):
            continue
        weights_candidate, bias_candidate = candidate.gradients(loss, problem, exact)
        if not compare("dW", weights, weights_candidate, tolerances.weights, dtype).ok:
            continue
        if bias is not None and bias_candidate is not None and not compare(
                "db", bias, bias_candidate, tolerances.bias, dtype).ok:
            continue
        return Mistake(candidate.name, candidate.explanation)
    return _scaled(weights, exact.weights, tolerances.weights, dtype)


def _scaled(user, oracle, tolerance, dtype) -> Mistake | None:
    """A gradient that is the right one times a constant (a relative perturbation, a factor)."""
    user, oracle = np.asarray(user, dtype=np.float64), np.asarray(oracle, dtype=np.float64)
    norm = float(np.vdot(oracle, oracle))
    if user.shape != oracle.shape or norm == 0 or not np.all(np.isfinite(user)):
        return None
    if not np.any(user):
        return Mistake("zero gradient", "dW is zero everywhere")
    factor = float(np.vdot(user, oracle)) / norm
    if factor <= 0 or factor == 1.0 or not compare("dW", user, factor * oracle, tolerance, dtype).ok:
        return None
    return Mistake("scaled gradient",
                   f"dW is the right gradient times {factor:.10g} (off by a relative {factor - 1:.2g})")


def name_loss_mistake(loss: BatchLoss, problem: Problem, exact: Exact, user_loss: float,
                      tolerance: float) -> Mistake | None:
    """The known mistake a (failing) loss value matches, if one does."""
    data = float(exact.sample_losses.mean())
    penalty = problem.reg * float(np.sum(problem.weights**2))
    candidates = [
        ("loss missing 1/N", "the loss sums the samples' losses: take their mean",
         len(problem.X) * data + penalty),
        ("loss missing the penalty", "the loss lacks reg * sum(W**2)", data),
        ("loss with half the penalty", "the loss has reg/2 * sum(W**2) where derive's loss has "
         "reg * sum(W**2) (the gradient's 2 reg W goes with the latter)", data + penalty / 2),
    ]
    for name, explanation, value in candidates:
        if value != exact.loss and abs(user_loss - value) <= tolerance:
            return Mistake(name, explanation)
    return None


def name_instability(loss: BatchLoss, problem: Problem, exact: Exact, loss_finite: bool,
                     gradient_finite: bool, dtype) -> Mistake:
    """Why the user's output is NaN or infinite where the oracle's is finite."""
    overflow = float(np.log(np.finfo(dtype).max))
    largest = float(np.abs(exact.scores).max())
    if loss.name == "softmax-cross-entropy":
        if not gradient_finite and largest > overflow:
            return Mistake("no max-shift", (
                f"exp of scores up to {largest:.4g} overflows {np.dtype(dtype).name} (above "
                f"{overflow:.4g}): subtract each row's largest score before exp"))
        if not loss_finite and _probability_underflows(exact, problem, dtype):
            return Mistake("log of an underflowed probability", (
                "-log p_y is inf once p_y underflows to 0: compute log p_y as "
                "(s_y - max s) - log(sum exp(s - max s))"))
    if loss.name == "logistic-regression" and largest > overflow:
        return Mistake("unstable sigmoid", (
            f"exp of scores up to {largest:.4g} overflows {np.dtype(dtype).name}: use "
            "np.logaddexp(0, s) for log(1 + e^s) and a sigmoid that exponentiates only -|s|"))
    return Mistake("not finite", "returns NaN or inf where the loss and its gradient are finite")


def _probability_underflows(exact: Exact, problem: Problem, dtype) -> bool:
    """Whether some sample's ``p_y = e^-(loss_i)`` is below ``dtype``'s smallest normal number."""
    return bool(np.any(exact.sample_losses > -np.log(np.finfo(dtype).tiny)))
