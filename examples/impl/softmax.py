"""Softmax cross-entropy loss and its gradient, written the way a CS231n student would.

Every function here is correct.  ``X`` is N x D, ``y`` holds N labels in ``0..K-1`` and
``reg`` is the L2 strength; the loss is the mean over the batch plus ``reg * sum(W * W)``.

* ``softmax_loss_naive``: explicit loops over samples and classes, W is D x K.
* ``softmax_loss_vectorized``: the same with matrix operations, W is D x K.
* ``softmax_loss_transposed``: W is K x D (scores ``X @ W.T``), returns dW of shape K x D.
* ``softmax_loss_bias``: W is D x K plus a bias ``b`` of length K, returns (loss, dW, db).
"""

import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """Loss and gradient with explicit loops (D x K layout)."""
    num_train = X.shape[0]
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = X[i].dot(W)
        scores = scores - np.max(scores)  # shift for numerical stability
        exp_scores = np.exp(scores)
        total = np.sum(exp_scores)
        loss += -scores[y[i]] + np.log(total)
        for j in range(num_classes):
            p = exp_scores[j] / total
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Loss and gradient without loops (D x K layout)."""
    num_train = X.shape[0]
    scores = X.dot(W)
    scores = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    rows = np.arange(num_train)
    loss = np.sum(np.log(sums[:, 0]) - scores[rows, y]) / num_train
    loss += reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_transposed(W, X, y, reg):
    """Loss and gradient for weights stored K x D (one row per class)."""
    num_train = X.shape[0]
    scores = X.dot(W.T)
    scores = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    rows = np.arange(num_train)
    loss = np.sum(np.log(sums[:, 0]) - scores[rows, y]) / num_train
    loss += reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= 1
    dW = dscores.T.dot(X) / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_bias(W, b, X, y, reg):
    """Loss and gradients with a bias: scores ``X W + b`` (D x K layout); b is not regularised."""
    num_train = X.shape[0]
    scores = X.dot(W) + b
    scores = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores)
    sums = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sums
    rows = np.arange(num_train)
    loss = np.sum(np.log(sums[:, 0]) - scores[rows, y]) / num_train
    loss += reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[rows, y] -= 1
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    db = np.sum(dscores, axis=0) / num_train
    return loss, dW, db
