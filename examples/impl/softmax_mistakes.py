"""Softmax cross-entropy implementations with one planted mistake each.

Each function is the correct vectorised code of ``softmax.py`` with one line changed, the
kind of bug a student makes; the changed line carries a ``# MISTAKE:`` comment.  The loss is
right in all of them except ``no_max_shift`` at large scores; the gradient is wrong.

D x K layout (scores ``X @ W``), ``fn(W, X, y, reg) -> (loss, dW)``:

* ``missing_mean``: dW is not divided by N.
* ``reg_not_doubled``: adds ``reg * W`` instead of ``2 * reg * W``.
* ``transposed_gradient``: returns ``dscores.T @ X``, the gradient transposed (K x D).
* ``indicator_wrong_row``: subtracts the 1 at class ``(y + 1) % K`` (1-based labels).
* ``no_max_shift``: no row-max shift; right at ordinary scores, nan/inf at scores ~1e3.
* ``perturbed_1e6``: the correct dW times ``1 + 1e-6``.
* ``perturbed_1e4``: the correct dW times ``1 + 1e-4``.
* ``wrong_sign``: ``dscores = onehot - p`` instead of ``p - onehot``.

With a bias (scores ``X @ W + b``), ``fn(W, b, X, y, reg) -> (loss, dW, db)``:

* ``missing_bias_gradient``: db is all zeros.

Each has a twin with suffix ``_transposed`` making the same mistake with W stored K x D
(scores ``X @ W.T``); ``transposed_gradient_transposed`` returns ``X.T @ dscores`` (D x K).
"""

import numpy as np


def _stable_probs(scores):
    """Row-wise softmax of max-shifted scores, and the shifted scores and row sums."""
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    return shifted, sums, exp_scores / sums


def _data_loss(shifted, sums, y):
    """Mean of ``log(sum exp) - score of the true class`` over the batch."""
    rows = np.arange(len(y))
    return np.mean(np.log(sums[:, 0]) - shifted[rows, y])


# --- D x K layout -------------------------------------------------------------------------


def missing_mean(W, X, y, reg):
    """WRONG: dW not divided by N (the loss is right)."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) + 2 * reg * W  # MISTAKE: forgot / num_train
    return loss, dW


def reg_not_doubled(W, X, y, reg):
    """WRONG: the regulariser's gradient is ``reg * W``, not ``2 * reg * W``."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + reg * W  # MISTAKE: d(reg W^2)/dW is 2 reg W
    return loss, dW


def transposed_gradient(W, X, y, reg):
    """WRONG: returns the gradient transposed, K x D for a D x K W."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = dscores.T.dot(X) / num_train + 2 * reg * W.T  # MISTAKE: should be X.T.dot(dscores)
    return loss, dW


def indicator_wrong_row(W, X, y, reg):
    """WRONG: subtracts the 1 at class ``(y + 1) % K``, the off-by-one of 1-based labels."""
    num_train, num_classes = X.shape[0], W.shape[1]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), (y + 1) % num_classes] -= 1  # MISTAKE: should be column y
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW


def no_max_shift(W, X, y, reg):
    """WRONG at large scores: no max-shift, so exp overflows (nan/inf) at scores ~1e3."""
    num_train = X.shape[0]
    scores = X.dot(W)  # MISTAKE: no "scores -= scores.max(axis=1, keepdims=True)"
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    loss = _data_loss(scores, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW


def perturbed_1e6(W, X, y, reg):
    """WRONG by a relative 1e-6: the correct dW times ``1 + 1e-6``."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = (X.T.dot(dscores) / num_train + 2 * reg * W) * (1 + 1e-6)  # MISTAKE: scaled by 1 + 1e-6
    return loss, dW


def perturbed_1e4(W, X, y, reg):
    """WRONG by a relative 1e-4: the correct dW times ``1 + 1e-4``."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = (X.T.dot(dscores) / num_train + 2 * reg * W) * (1 + 1e-4)  # MISTAKE: scaled by 1 + 1e-4
    return loss, dW


def wrong_sign(W, X, y, reg):
    """WRONG: ``dscores = onehot - p``, the data gradient with its sign flipped."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = -probs  # MISTAKE: should be probs, minus the one-hot below
    dscores[np.arange(num_train), y] += 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW


def missing_bias_gradient(W, b, X, y, reg):
    """WRONG: scores ``X @ W + b`` but db is returned as zeros."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W) + b)
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    db = np.zeros_like(b)  # MISTAKE: should be dscores.sum(axis=0) / num_train
    return loss, dW, db


# --- K x D layout (scores X @ W.T) ---------------------------------------------------------


def missing_mean_transposed(W, X, y, reg):
    """WRONG (K x D): dW not divided by N."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = dscores.T.dot(X) + 2 * reg * W  # MISTAKE: forgot / num_train
    return loss, dW


def reg_not_doubled_transposed(W, X, y, reg):
    """WRONG (K x D): the regulariser's gradient is ``reg * W``."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = dscores.T.dot(X) / num_train + reg * W  # MISTAKE: d(reg W^2)/dW is 2 reg W
    return loss, dW


def transposed_gradient_transposed(W, X, y, reg):
    """WRONG (K x D): returns the gradient transposed, D x K for a K x D W."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W.T  # MISTAKE: should be dscores.T.dot(X)
    return loss, dW


def indicator_wrong_row_transposed(W, X, y, reg):
    """WRONG (K x D): subtracts the 1 at class ``(y + 1) % K``."""
    num_train, num_classes = X.shape[0], W.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), (y + 1) % num_classes] -= 1  # MISTAKE: should be column y
    dW = dscores.T.dot(X) / num_train + 2 * reg * W
    return loss, dW


def no_max_shift_transposed(W, X, y, reg):
    """WRONG at large scores (K x D): no max-shift, so exp overflows at scores ~1e3."""
    num_train = X.shape[0]
    scores = X.dot(W.T)  # MISTAKE: no "scores -= scores.max(axis=1, keepdims=True)"
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    loss = _data_loss(scores, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = dscores.T.dot(X) / num_train + 2 * reg * W
    return loss, dW


def perturbed_1e6_transposed(W, X, y, reg):
    """WRONG by a relative 1e-6 (K x D)."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = (dscores.T.dot(X) / num_train + 2 * reg * W) * (1 + 1e-6)  # MISTAKE: scaled by 1 + 1e-6
    return loss, dW


def perturbed_1e4_transposed(W, X, y, reg):
    """WRONG by a relative 1e-4 (K x D)."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = (dscores.T.dot(X) / num_train + 2 * reg * W) * (1 + 1e-4)  # MISTAKE: scaled by 1 + 1e-4
    return loss, dW


def wrong_sign_transposed(W, X, y, reg):
    """WRONG (K x D): ``dscores = onehot - p``."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T))
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = -probs  # MISTAKE: should be probs, minus the one-hot below
    dscores[np.arange(num_train), y] += 1
    dW = dscores.T.dot(X) / num_train + 2 * reg * W
    return loss, dW


def missing_bias_gradient_transposed(W, b, X, y, reg):
    """WRONG (K x D): scores ``X @ W.T + b`` but db is returned as zeros."""
    num_train = X.shape[0]
    shifted, sums, probs = _stable_probs(X.dot(W.T) + b)
    loss = _data_loss(shifted, sums, y) + reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(num_train), y] -= 1
    dW = dscores.T.dot(X) / num_train + 2 * reg * W
    db = np.zeros_like(b)  # MISTAKE: should be dscores.sum(axis=0) / num_train
    return loss, dW, db
