"""A chunked cross-entropy with its own backward: an online log-sum-exp over vocabulary chunks,
in float32 whatever the logits' dtype, with label smoothing, z-loss and logit softcapping.

    derive check-impl examples/llm/chunked.py:chunked_cross_entropy --loss lm-cross-entropy
"""

import torch

CHUNK = 16  # vocabulary entries per block of the online log-sum-exp


def online_logsumexp(x, chunk=CHUNK):
    """log sum_j exp(x[:, j]), one block of columns at a time (never all of exp(x) at once)."""
    running_max = torch.full(x.shape[:1], float("-inf"), dtype=x.dtype, device=x.device)
    running_sum = torch.zeros(x.shape[:1], dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[1], chunk):
        block = x[:, start:start + chunk]
        new_max = torch.maximum(running_max, block.max(dim=1).values)
        running_sum = running_sum * torch.exp(running_max - new_max) + torch.exp(
            block - new_max[:, None]).sum(dim=1)
        running_max = new_max
    return running_max + torch.log(running_sum)


def capped(logits, softcap):
    x = logits.float()
    return x if softcap is None else softcap * torch.tanh(x / softcap)


def token_losses(x, lse, target, valid, label_smoothing, z_loss):
    safe = torch.where(valid, target, torch.zeros_like(target))
    nll = lse - x.gather(1, safe[:, None])[:, 0]
    smooth = lse - x.mean(dim=1)  # -(1/V) sum_j log p_j
    losses = (1 - label_smoothing) * nll + label_smoothing * smooth + z_loss * lse**2
    return torch.where(valid, losses, torch.zeros_like(losses)), safe


def reduce(losses, valid, reduction):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / valid.sum().clamp(min=1)  # 0, not 0/0, when every token is ignored


def upstream_scale(grad_output, valid, reduction):
    """What each token's gradient is multiplied by: the upstream gradient, over the count."""
    if reduction == "none":
        return grad_output[:, None]
    if reduction == "sum":
        return grad_output
    return grad_output / valid.sum().clamp(min=1)


def score_gradient(x, lse, safe, valid, label_smoothing, z_loss):
    """d loss_i / d x: softmax - smoothed one-hot + 2 z lse softmax; 0 for ignored tokens."""
    p = torch.exp(x - lse[:, None])
    grad = p * (1 + 2 * z_loss * lse[:, None]) - label_smoothing / x.shape[1]
    grad[torch.arange(len(safe), device=safe.device), safe] -= 1 - label_smoothing
    return grad * valid[:, None]


def softcap_derivative(x, softcap):
    return 1.0 if softcap is None else 1 - (x / softcap) ** 2


class ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target, reduction, ignore_index, label_smoothing, z_loss, softcap):
        x = capped(logits, softcap)
        lse = online_logsumexp(x)
        valid = target != ignore_index
        losses, safe = token_losses(x, lse, target, valid, label_smoothing, z_loss)
        ctx.save_for_backward(x, lse, safe, valid)
        ctx.options = reduction, label_smoothing, z_loss, softcap, logits.dtype
        return reduce(losses, valid, reduction).to(logits.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        x, lse, safe, valid = ctx.saved_tensors
        reduction, label_smoothing, z_loss, softcap, dtype = ctx.options
        grad = score_gradient(x, lse, safe, valid, label_smoothing, z_loss)
        grad = grad * softcap_derivative(x, softcap) * upstream_scale(
            grad_output.float(), valid, reduction)
        return grad.to(dtype), None, None, None, None, None, None


def chunked_cross_entropy(logits, target, reduction="mean", ignore_index=-100,
                          label_smoothing=0.0, z_loss=0.0, softcap=None):
    return ChunkedCrossEntropy.apply(logits, target, reduction, ignore_index, label_smoothing,
                                     z_loss, softcap)
