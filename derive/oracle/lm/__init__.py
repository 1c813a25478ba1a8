"""The exact oracle of the language-model cross-entropy family, its tolerances and its baseline.

Semantics (those of ``torch.nn.functional.cross_entropy`` wherever it defines them).  For logits
``s`` (N x V) and targets ``y`` (N), with the options of :class:`LMOptions`, applied in this order:

1. ``softcap`` c (Gemma 2): every logit first becomes ``s' = c tanh(s / c)``; everything below
   reads ``s'``, and the gradient is carried back through ``ds'/ds = 1 - tanh(s / c)^2``.
2. log-softmax: ``lse_i = log sum_k exp(s'_ik)``, ``log p_ik = s'_ik - lse_i``.
3. ``ignore_index`` (default -100, any integer, negative ones included; None: nothing ignored):
   a token whose target equals it has no loss, no gradient (its row is exactly 0) and is not
   counted by ``mean``.  Any other target must lie in 0..V-1 (else ``ValueError``).
4. The cross-entropy of a counted token, with ``label_smoothing`` eps and ``class_weights`` w
   (default all ones), exactly as PyTorch composes them::

       cross_i = (1 - eps) w_{y_i} (-log p_{i y_i})  +  (eps / V) sum_k w_k (-log p_ik)

   i.e. the target distribution ``(1 - eps) onehot(y) + eps / V`` (uniform over all V classes,
   the target's own included: eps/V, not eps/(V-1)), with the class weights applied to the NLL
   through the target's weight and to the smoothing term class by class.
5. ``z_loss`` z (PaLM): ``z_i = z lse_i^2`` per counted token, never weighted by the class
   weights.
6. ``reduction``: ``none`` gives ``cross_i + z_i`` per token (0 for ignored tokens); ``sum`` the
   sum of both over tokens; ``mean`` gives ``sum_i cross_i / sum_i w_{y_i}`` (PyTorch's weighted
   mean: the denominator is the summed weights of the counted tokens' targets, their number
   without weights) plus ``sum_i z_i / (number of counted tokens)`` (the z-loss averages over
   tokens, as fused kernels such as Liger-Kernel's do; without class weights both denominators
   are the number of counted tokens).
7. Gradients are those of ``sum(upstream * loss)``: ``upstream`` is a scalar for ``mean``/``sum``
   (default 1) and an (N,) array for ``none`` (default ones; a judge should draw a random one,
   since a backward that ignores or takes the first entry of the upstream gradient passes with
   ones).

Every token ignored (or, under ``mean``, every counted target of weight 0): ``none`` and ``sum``
give a loss of 0 and a zero gradient.  ``mean`` divides 0 by 0: PyTorch returns nan for the loss
and a zero gradient; the oracle returns the same (loss nan, gradient exactly 0; ``denominator`` is
0 in the result, so a caller can tell).  A judge should accept a loss of nan (PyTorch) or 0 (what
kernels that divide by ``max(count, 1)`` return) there, require every gradient to be finite and
exactly 0, and say in its report which of the two the implementation gave.

Modules: ``options`` (the options and the results), ``exact`` (the stable float64 evaluation,
chunked over tokens and vocabulary: ``cross_entropy``, ``fused_linear_cross_entropy``; with
``dtype=`` they also return per-entry tolerances), ``reference`` (the 50-digit spot check
from the definitions, in fixed-point integers and mpmath), ``bounds`` (the rounding analysis behind the
tolerances: per entry, and a-priori normwise ``tolerances``) and ``baseline`` (a plain
same-dtype PyTorch evaluation and its error against the oracle).

At scale (the Llama-3 head, N = 512, H = 2048, V = 128,256) a full float64 pass is 6 N V H
flops (0.8 TFLOP); a judge compares the loss (every token and class), the hidden gradient of a
sample of tokens (``tokens=``) and the weight and bias gradients of a sample of vocabulary rows
(``rows=``), all exact, at 2 N V H flops plus a little.
"""

from derive.oracle.lm.exact import as_array, cross_entropy, fused_linear_cross_entropy
from derive.oracle.lm.options import LMGradients, LMOptions

__all__ = ["LMGradients", "LMOptions", "as_array", "cross_entropy", "fused_linear_cross_entropy"]
