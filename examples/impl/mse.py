"""Mean squared error of a linear model: weights ``w`` of length D, real targets ``t``.

The per-sample loss is ``(x . w - t)^2``; its derivative in the prediction is ``2 (s - t)``.

* ``mse_loss(w, X, t, reg) -> (loss, dw)``: correct.
* ``mse_loss_missing_two``: WRONG, forgets the factor 2 of the square.
"""

import numpy as np


def mse_loss(w, X, t, reg):
    """Mean of ``(X w - t)^2`` plus ``reg * sum(w * w)`` and its gradient."""
    num_train = X.shape[0]
    residual = X.dot(w) - t
    loss = np.mean(residual ** 2) + reg * np.sum(w * w)
    dw = X.T.dot(2 * residual) / num_train + 2 * reg * w
    return loss, dw


def mse_loss_missing_two(w, X, t, reg):
    """WRONG: the derivative of the square without its factor 2."""
    num_train = X.shape[0]
    residual = X.dot(w) - t
    loss = np.mean(residual ** 2) + reg * np.sum(w * w)
    dw = X.T.dot(residual) / num_train + 2 * reg * w  # MISTAKE: should be 2 * residual
    return loss, dw
