"""Multiclass SVM (hinge) loss of CS231n, D x K layout: ``fn(W, X, y, reg) -> (loss, dW)``.

The per-sample loss is ``sum over j != y of max(0, s_j - s_y + 1)``; its gradient in the
scores is 1 where the margin is positive and ``-count`` (the number of positive margins)
on the correct class.

* ``svm_loss_vectorized``: correct.
* ``svm_loss_missing_count``: WRONG, leaves the correct class's column at 0.
"""

import numpy as np


def svm_loss_vectorized(W, X, y, reg):
    """Mean hinge loss plus ``reg * sum(W * W)`` and its gradient."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    correct_scores = scores[rows, y][:, np.newaxis]
    margins = np.maximum(0, scores - correct_scores + 1)
    margins[rows, y] = 0
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)
    dscores = (margins > 0).astype(X.dtype)
    dscores[rows, y] = -np.sum(dscores, axis=1)
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW


def svm_loss_missing_count(W, X, y, reg):
    """WRONG: forgets the ``-count`` on the correct class's column."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    correct_scores = scores[rows, y][:, np.newaxis]
    margins = np.maximum(0, scores - correct_scores + 1)
    margins[rows, y] = 0
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)
    dscores = (margins > 0).astype(X.dtype)
    # MISTAKE: missing "dscores[rows, y] = -np.sum(dscores, axis=1)"
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return loss, dW
