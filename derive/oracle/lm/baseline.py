"""The baseline: how far a plain same-dtype PyTorch evaluation is from the exact oracle.

"As accurate as PyTorch itself" is a verdict people can read: the judge compares a user's error
with the error of the obvious implementation in the same dtype, ``torch.nn.functional.
cross_entropy`` on ``c tanh(s / c)`` plus ``z * logsumexp(s)^2`` written out (and, in the fused
form, ``hidden @ weight.T + bias`` first), every tensor in the user's dtype, its gradients from
autograd with the same upstream.  ``baseline_error`` returns that evaluation's largest absolute
error per output, in the units of ``bounds.LMTolerances``.  It runs on the CPU unless ``device``
says otherwise, and costs one forward and backward of the plain implementation (it holds the
N x V logits, their log-softmax and their gradient in the dtype: 1.5 GiB in float32 at N = 1024,
V = 128,256, below the user's own V x H weight and its gradient).

In the fused form autograd stops at the logits: their gradient ``G`` (N x V, in the dtype) is
contracted as autograd's matmul backward does, ``dhidden = G W``, ``dweight = G^T hidden``,
``dbias = sum_i G_i``, but only at the rows the oracle judged (``exact.tokens``, ``exact.rows``),
so a Llama-size baseline costs the forward's ``2 N V H`` and not three times that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive.oracle.lm.exact import as_array
from derive.oracle.lm.options import LMGradients, LMOptions


@dataclass(frozen=True)
class LMErrors:
    """The largest absolute error of each output (None where the output was not compared)."""

    loss: float
    logits: float | None = None
    hidden: float | None = None
    weight: float | None = None
    bias: float | None = None


def plain_torch_loss(logits, target, options: LMOptions):
    """The loss as a plain PyTorch user writes it, in the logits' dtype.

    Examples
    --------
    >>> import torch
    >>> loss = plain_torch_loss(torch.zeros(2, 4), torch.tensor([0, -100]), LMOptions())
    >>> round(float(loss), 6)
    1.386294
    """
    import torch
    import torch.nn.functional as F

    if options.softcap is not None:
        logits = options.softcap * torch.tanh(logits / options.softcap)
    weight = (None if options.class_weights is None
              else torch.as_tensor(options.class_weights, dtype=logits.dtype,
                                   device=logits.device))
    ignore = -100 if options.ignore_index is None else options.ignore_index
    loss = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore,
                           reduction=options.reduction, label_smoothing=options.label_smoothing)
    if options.z_loss:
        counted = target != ignore
        z = options.z_loss * torch.logsumexp(logits, dim=-1) ** 2 * counted
        if options.reduction == "sum":
            z = z.sum()
        elif options.reduction == "mean":
            z = z.sum() / counted.sum()
        loss = loss + z
    return loss


def baseline_outputs(exact: LMGradients, target, dtype, options: LMOptions = LMOptions(),
                     upstream=None, *, logits=None, hidden=None, weight=None, bias=None,
                     device: str = "cpu") -> dict:
    """The plain same-dtype evaluation's loss and gradients, as float64 arrays shaped like
    ``exact``'s (only the rows ``exact`` holds): ``{"loss": ..., "logits" or "hidden", ...}``."""
    import torch

    def tensor(values):
        return torch.tensor(as_array(values), dtype=dtype, device=device, requires_grad=True)

    labels = torch.as_tensor(np.asarray(target), dtype=torch.int64, device=device)
    if logits is not None:
        scores = tensor(logits)
    else:
        head = {"hidden": tensor(hidden), "weight": tensor(weight)}
        with torch.no_grad():
            scores = head["hidden"] @ head["weight"].T
            if bias is not None:
                scores += torch.as_tensor(as_array(bias), dtype=dtype, device=device)
        scores.requires_grad_()
    loss = plain_torch_loss(scores, labels, options)
    up = torch.as_tensor(np.ones(()) if upstream is None else as_array(upstream),
                         dtype=dtype, device=device)
    (loss * up).sum().backward()
    outputs = {"loss": _float64(loss)}
    if logits is not None:
        outputs["logits"] = _float64(scores.grad)
        return outputs
    with torch.no_grad():
        outputs.update(_head_gradients(exact, scores.grad, head, bias is not None))
    return outputs


def _head_gradients(exact: LMGradients, gradient, head: dict, has_bias: bool) -> dict:
    """The fused form's gradients from the logits' ``gradient`` (N x V), as autograd's matmul
    backward forms them, at the rows ``exact`` holds."""
    import torch

    def chosen(rows):
        return slice(None) if rows is None else torch.as_tensor(rows, device=gradient.device)

    tokens, rows = chosen(exact.tokens), chosen(exact.rows)
    outputs = {}
    if exact.hidden is not None:
        outputs["hidden"] = _float64(gradient[tokens] @ head["weight"])
    if exact.weight is not None:
        outputs["weight"] = _float64(gradient[:, rows].T @ head["hidden"])
    if exact.bias is not None and has_bias:
        outputs["bias"] = _float64(gradient[:, rows].sum(dim=0))
    return outputs


def baseline_error(exact: LMGradients, target, dtype, options: LMOptions = LMOptions(),
                   upstream=None, *, logits=None, hidden=None, weight=None, bias=None,
                   device: str = "cpu") -> LMErrors:
    """The plain same-dtype evaluation's largest error per output against ``exact`` (the oracle's
    result at the same inputs: ``logits=`` for the logits level, ``hidden=``/``weight=``/``bias=``
    for the fused form; only the rows ``exact`` holds are compared).

    Examples
    --------
    >>> import torch
    >>> from derive.oracle.lm import cross_entropy
    >>> s, y = np.random.default_rng(0).normal(size=(3, 5)), np.array([0, 4, 2])
    >>> error = baseline_error(cross_entropy(s, y), y, torch.float32, logits=s)
    >>> 0 < error.logits < 1e-6
    True
    """
    outputs = baseline_outputs(exact, target, dtype, options, upstream, logits=logits,
                               hidden=hidden, weight=weight, bias=bias, device=device)
    return LMErrors(**{name: _error(value, getattr(exact, name))
                       for name, value in outputs.items()})


def _float64(tensor) -> np.ndarray:
    return tensor.detach().double().cpu().numpy()


def _error(value, expected) -> float:
    """``max |value - expected|``, inf where ``value`` is nan or infinite (never agreement);
    two nans (the empty mean) agree."""
    expected = np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(value) & np.isnan(expected)
    difference = np.where(both_nan, 0.0, np.abs(value - expected))
    if not np.all(np.isfinite(difference)):
        return float("inf")
    return float(difference.max()) if difference.size else 0.0
