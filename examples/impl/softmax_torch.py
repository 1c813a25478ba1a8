"""Softmax cross-entropy losses in PyTorch: the gradient is whatever autograd makes of them.

Each function returns the loss as a 0-dim tensor in the dtype of its inputs; call
``loss.backward()`` (or ``torch.autograd.grad``) for the gradient.  ``y`` is a
``torch.long`` tensor of labels in ``0..K-1``.

* ``softmax_loss_torch``: correct, W is D x K (scores ``X @ W``).
* ``softmax_loss_torch_transposed``: correct, W is K x D (scores ``X @ W.T``).
* ``softmax_loss_torch_bias``: correct, scores ``X @ W + b``.
* ``softmax_loss_torch_no_mean``: WRONG, sums the per-sample losses instead of averaging.
"""

import torch
import torch.nn.functional as F


def softmax_loss_torch(W, X, y, reg):
    """Mean cross-entropy of ``X @ W`` plus ``reg * sum(W * W)`` (D x K layout)."""
    scores = X @ W
    log_probs = F.log_softmax(scores, dim=1)
    data_loss = -log_probs[torch.arange(X.shape[0]), y].mean()
    return data_loss + reg * torch.sum(W * W)


def softmax_loss_torch_transposed(W, X, y, reg):
    """The same loss for weights stored K x D (scores ``X @ W.T``)."""
    scores = X @ W.T
    data_loss = (torch.logsumexp(scores, dim=1) - scores[torch.arange(X.shape[0]), y]).mean()
    return data_loss + reg * torch.sum(W * W)


def softmax_loss_torch_bias(W, b, X, y, reg):
    """Mean cross-entropy of ``X @ W + b`` plus ``reg * sum(W * W)``; b is not regularised."""
    scores = X @ W + b
    return F.cross_entropy(scores, y) + reg * torch.sum(W * W)


def softmax_loss_torch_no_mean(W, X, y, reg):
    """WRONG: sums the per-sample losses over the batch instead of taking their mean."""
    scores = X @ W
    data_loss = F.cross_entropy(scores, y, reduction="sum")  # should be the mean
    return data_loss + reg * torch.sum(W * W)
