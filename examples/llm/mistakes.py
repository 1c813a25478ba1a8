"""Each named mistake of the language-model cross-entropy family, planted once.

Every function is the right chunked (``chunked.py``) or fused linear (``fused_linear.py``)
implementation with one bug, each of the kind that lived for months in public fused kernels:

    derive check-impl examples/llm/mistakes.py:upstream_ignored --loss lm-cross-entropy
"""

import torch

from chunked import (
    ChunkedCrossEntropy, online_logsumexp, score_gradient, softcap_derivative, token_losses,
    upstream_scale,
)
from fused_linear import TOKENS


_forward = ChunkedCrossEntropy.forward  # the right forward: most mistakes below are in the backward


def _none(count):
    return (None,) * count


class _UpstreamIgnored(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, eps, z) * softcap_derivative(x, softcap)
        if reduction == "mean":
            grad = grad / valid.sum().clamp(min=1)
        return (grad.to(dtype),) + _none(6)  # BUG: grad_output never multiplied in


def upstream_ignored(logits, target, reduction="mean", ignore_index=-100):
    return _UpstreamIgnored.apply(logits, target, reduction, ignore_index, 0.0, 0.0, None)


class _UpstreamFirstEntry(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, eps, z) * softcap_derivative(x, softcap)
        if reduction == "mean":
            grad = grad / valid.sum().clamp(min=1)
        return (grad * grad_output.reshape(-1)[0]).to(dtype), *_none(6)  # BUG: one scalar


def upstream_first_entry(logits, target, reduction="mean", ignore_index=-100):
    return _UpstreamFirstEntry.apply(logits, target, reduction, ignore_index, 0.0, 0.0, None)


class _IgnoredInDenominator(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target, ignore_index):
        x = logits.float()
        lse = online_logsumexp(x)
        valid = target != ignore_index
        losses, safe = token_losses(x, lse, target, valid, 0.0, 0.0)
        ctx.save_for_backward(x, lse, safe, valid)
        ctx.dtype = logits.dtype
        return (losses.sum() / len(target)).to(logits.dtype)  # BUG: every token counted

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        grad = score_gradient(x, lse, safe, valid, 0.0, 0.0) * grad_output.float() / len(safe)
        return grad.to(ctx.dtype), None, None


def ignored_in_denominator(logits, target, ignore_index=-100):
    return _IgnoredInDenominator.apply(logits, target, ignore_index)


class _IgnoredGivenGradient(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        everyone = torch.ones_like(valid)  # BUG: the ignored tokens' rows are not zeroed
        grad = score_gradient(x, lse, safe, everyone, eps, z)
        return (grad * upstream_scale(grad_output.float(), valid, reduction)).to(dtype), *_none(6)


def ignored_given_gradient(logits, target, reduction="mean", ignore_index=-100):
    return _IgnoredGivenGradient.apply(logits, target, reduction, ignore_index, 0.0, 0.0, None)


class _SmoothingMissingInBackward(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, 0.0, z)  # BUG: eps left out
        return (grad * upstream_scale(grad_output.float(), valid, reduction)).to(dtype), *_none(6)


def smoothing_missing_in_backward(logits, target, reduction="mean", label_smoothing=0.0):
    return _SmoothingMissingInBackward.apply(logits, target, reduction, -100, label_smoothing,
                                             0.0, None)


class _SmoothingOverOtherClasses(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        vocab = x.shape[1]
        p = torch.exp(x - lse[:, None])
        grad = p - eps / (vocab - 1)  # BUG: eps/(V-1) on the other classes, not eps/V on all
        grad[torch.arange(len(safe)), safe] = p[torch.arange(len(safe)), safe] - (1 - eps)
        grad = grad * valid[:, None]
        return (grad * upstream_scale(grad_output.float(), valid, reduction)).to(dtype), *_none(6)


def smoothing_over_other_classes(logits, target, reduction="mean", label_smoothing=0.0):
    return _SmoothingOverOtherClasses.apply(logits, target, reduction, -100, label_smoothing,
                                            0.0, None)


class _SoftcapDerivativeMissing(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, eps, z)  # BUG: no (1 - tanh^2) factor
        return (grad * upstream_scale(grad_output.float(), valid, reduction)).to(dtype), *_none(6)


def softcap_derivative_missing(logits, target, reduction="mean", softcap=None):
    return _SoftcapDerivativeMissing.apply(logits, target, reduction, -100, 0.0, 0.0, softcap)


class _ZLossFactor(torch.autograd.Function):
    forward = staticmethod(_forward)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, eps, z, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, eps, z / 2)  # BUG: z lse p, not 2 z lse p
        return (grad * upstream_scale(grad_output.float(), valid, reduction)).to(dtype), *_none(6)


def z_loss_factor(logits, target, reduction="mean", z_loss=0.0):
    return _ZLossFactor.apply(logits, target, reduction, -100, 0.0, z_loss, None)


class _BiasPerChunk(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, target):
        x = hidden.float() @ weight.float().T + bias.float()
        lse = online_logsumexp(x)
        valid = torch.ones_like(target, dtype=torch.bool)
        losses, safe = token_losses(x, lse, target, valid, 0.0, 0.0)
        ctx.save_for_backward(hidden, weight, bias, target)
        return (losses.sum() / len(target)).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        hidden, weight, bias, target = ctx.saved_tensors
        valid = torch.ones_like(target, dtype=torch.bool)
        x = hidden.float() @ weight.float().T + bias.float()
        g = score_gradient(x, online_logsumexp(x), target, valid, 0.0, 0.0)
        g = g * grad_output.float() / len(target)
        grad_hidden, grad_weight = torch.zeros(hidden.shape), torch.zeros(weight.shape)
        grad_bias = torch.zeros(bias.shape)
        for start in range(0, len(target), TOKENS):
            rows = slice(start, start + TOKENS)
            grad_hidden[rows] = g[rows] @ weight.float()
            grad_weight += g[rows].T @ hidden[rows].float()
            grad_bias += g.sum(dim=0)  # BUG: g, not g[rows]: the whole sum once per chunk
        return (grad_hidden.to(hidden.dtype), grad_weight.to(weight.dtype),
                grad_bias.to(bias.dtype), None)


def bias_per_chunk(hidden, weight, target, bias):
    return _BiasPerChunk.apply(hidden, weight, bias, target)


class _GradientInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target):
        x = logits.float()
        lse = online_logsumexp(x)
        valid = torch.ones_like(target, dtype=torch.bool)
        losses, safe = token_losses(x, lse, target, valid, 0.0, 0.0)
        grad = score_gradient(x, lse, safe, valid, 0.0, 0.0) / len(target)
        logits.copy_(grad)  # BUG: the gradient stored in the caller's logits to save memory
        ctx.save_for_backward(logits)
        return (losses.sum() / len(target)).to(logits.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None


def gradient_in_place(logits, target):
    return _GradientInPlace.apply(logits, target)
