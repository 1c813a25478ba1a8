"""``nn.Module`` instances: PyTorch's own loss module, and a language-model head whose
parameters (the projection's weight and bias) are judged with the hidden states.

    derive check-impl examples/llm/modules.py:loss_module --loss lm-cross-entropy
    derive check-impl examples/llm/modules.py:head --loss lm-cross-entropy -H 6
"""

import torch.nn.functional as F
from torch import nn

loss_module = nn.CrossEntropyLoss()


class Head(nn.Module):
    """The output projection and its cross-entropy, as a model's last layer computes them."""

    def __init__(self, hidden: int, vocab: int, reduction: str = "mean"):
        super().__init__()
        self.lm_head = nn.Linear(hidden, vocab)
        self.reduction = reduction

    def forward(self, hidden, target):
        return F.cross_entropy(self.lm_head(hidden), target, reduction=self.reduction)


head = Head(hidden=6, vocab=8)


class DetachedBias(Head):
    """A mistake: the bias is used detached, so it gets no gradient."""

    def forward(self, hidden, target):
        logits = hidden @ self.lm_head.weight.T + self.lm_head.bias.detach()
        return F.cross_entropy(logits, target, reduction=self.reduction)


detached_bias = DetachedBias(hidden=6, vocab=8)
