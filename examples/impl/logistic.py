"""Binary logistic regression: weights ``w`` of length D, labels ``y`` in {0, 1}.

The per-sample loss is ``log(1 + e^s) - y s`` with ``s = x . w`` (plus ``c`` with a bias);
its derivative in ``s`` is ``sigmoid(s) - y``.

* ``logistic_loss(w, X, y, reg) -> (loss, dw)``: correct, stable (``np.logaddexp``).
* ``logistic_loss_bias(w, c, X, y, reg) -> (loss, dw, dc)``: correct, scalar bias c.
* ``logistic_loss_wrong_sign(w, X, y, reg)``: WRONG, uses ``y - sigmoid(s)``.
"""

import numpy as np


def _sigmoid(s):
    """Logistic function without overflow for large ``|s|``."""
    return np.exp(-np.logaddexp(0.0, -s))


def logistic_loss(w, X, y, reg):
    """Mean logistic loss plus ``reg * sum(w * w)`` and its gradient."""
    num_train = X.shape[0]
    s = X.dot(w)
    loss = np.mean(np.logaddexp(0.0, s) - y * s) + reg * np.sum(w * w)
    ds = _sigmoid(s) - y
    dw = X.T.dot(ds) / num_train + 2 * reg * w
    return loss, dw


def logistic_loss_bias(w, c, X, y, reg):
    """Logistic loss of ``X w + c``; the bias c (a scalar) is not regularised."""
    num_train = X.shape[0]
    s = X.dot(w) + c
    loss = np.mean(np.logaddexp(0.0, s) - y * s) + reg * np.sum(w * w)
    ds = _sigmoid(s) - y
    dw = X.T.dot(ds) / num_train + 2 * reg * w
    dc = np.sum(ds) / num_train
    return loss, dw, dc


def logistic_loss_wrong_sign(w, X, y, reg):
    """WRONG: the data gradient with its sign flipped."""
    num_train = X.shape[0]
    s = X.dot(w)
    loss = np.mean(np.logaddexp(0.0, s) - y * s) + reg * np.sum(w * w)
    ds = y - _sigmoid(s)  # MISTAKE: should be sigmoid(s) - y
    dw = X.T.dot(ds) / num_train + 2 * reg * w
    return loss, dw
