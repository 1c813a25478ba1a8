"""A fused linear cross-entropy: the logits ``hidden @ weight.T + bias`` are never built whole;
each chunk of tokens is projected, reduced and differentiated in float32, and the backward
recomputes each chunk's logits (so any upstream gradient, one per token included, is right).

    derive check-impl examples/llm/fused_linear.py:fused_linear_cross_entropy --loss lm-cross-entropy
"""

import torch

from chunked import online_logsumexp, reduce, score_gradient, token_losses, upstream_scale

TOKENS = 8  # tokens per chunk


def chunk_logits(hidden, weight, bias, rows):
    logits = hidden[rows].float() @ weight.float().T
    return logits if bias is None else logits + bias.float()


class FusedLinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, target, reduction, ignore_index, label_smoothing):
        valid = target != ignore_index
        losses = torch.zeros(len(target), device=hidden.device)
        for start in range(0, len(target), TOKENS):
            rows = slice(start, start + TOKENS)
            x = chunk_logits(hidden, weight, bias, rows)
            losses[rows], _ = token_losses(x, online_logsumexp(x), target[rows], valid[rows],
                                           label_smoothing, 0.0)
        ctx.save_for_backward(hidden, weight, bias, target, valid)
        ctx.options = reduction, label_smoothing
        return reduce(losses, valid, reduction).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        hidden, weight, bias, target, valid = ctx.saved_tensors
        reduction, label_smoothing = ctx.options
        scale = upstream_scale(grad_output.float(), valid, reduction)
        grad_hidden = torch.zeros(hidden.shape, device=hidden.device)
        grad_weight = torch.zeros(weight.shape, device=weight.device)
        grad_bias = None if bias is None else torch.zeros(bias.shape, device=bias.device)
        for start in range(0, len(target), TOKENS):
            rows = slice(start, start + TOKENS)
            x = chunk_logits(hidden, weight, bias, rows)
            safe = torch.where(valid[rows], target[rows], torch.zeros_like(target[rows]))
            g = score_gradient(x, online_logsumexp(x), safe, valid[rows], label_smoothing, 0.0)
            g = g * (scale[rows] if scale.ndim else scale)
            grad_hidden[rows] = g @ weight.float()
            grad_weight += g.T @ hidden[rows].float()
            if bias is not None:
                grad_bias += g.sum(dim=0)
        return (grad_hidden.to(hidden.dtype), grad_weight.to(weight.dtype),
                None if bias is None else grad_bias.to(bias.dtype), None, None, None, None)


def fused_linear_cross_entropy(hidden, weight, target, bias=None, reduction="mean",
                               ignore_index=-100, label_smoothing=0.0):
    return FusedLinearCrossEntropy.apply(hidden, weight, bias, target, reduction, ignore_index,
                                         label_smoothing)
