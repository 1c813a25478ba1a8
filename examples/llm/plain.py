"""The plain language-model loss: PyTorch's own ``F.cross_entropy`` (autograd's gradient).

    derive check-impl examples/llm/plain.py:cross_entropy --loss lm-cross-entropy
"""

import torch.nn.functional as F


def cross_entropy(logits, target, reduction="mean", ignore_index=-100, label_smoothing=0.0):
    return F.cross_entropy(logits, target, reduction=reduction, ignore_index=ignore_index,
                           label_smoothing=label_smoothing)
