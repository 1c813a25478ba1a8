"""The exact language-model cross-entropy and its gradients, evaluated stably in float64.

``cross_entropy`` takes the logits; ``fused_linear_cross_entropy`` takes the head's input and
weight (``logits = hidden @ weight.T + bias``) and never forms more than a chunk of tokens'
logits at a time.  Both read every input exactly (any float dtype converts to float64 without
rounding; a torch tensor is read through ``torch.Tensor.numpy`` after a lossless upcast) and
evaluate one token chunk with the same function, ``_token_chunk``, which is written to be stable:

* the log-sum-exp is max-shifted, and ``log Z = log1p(sum of the non-maximal exp(s - max))``, so
  the cross-entropy ``(max - s_y) + log Z`` is a sum of two non-negative terms (no cancellation,
  relatively accurate even when it is 1e-20);
* ``p_y - 1`` is ``-sum_{j != y} p_j`` (``-rest / (1 + rest)`` when ``y`` is the maximum, ``p_y - 1``
  otherwise, where ``p_y <= 1/2``), never ``1 - p_y`` rounded;
* the smoothing term ``sum_k w_k (lse - s_k)`` is a sum of non-negative terms;
* the softcap's derivative ``1 - tanh(x)^2`` is ``4 e^{-2|x|} / (1 + e^{-2|x|})^2``, which neither
  cancels nor overflows.

Memory.  The working set of one token chunk is ``CHUNK_ARRAYS`` arrays of ``chunk x V`` float64
(``CHUNK_ARRAYS + BOUND_ARRAYS`` with ``dtype=``) plus one ``VOCAB_CHUNK x H`` float64 slice of the
weight; the chunk is the largest number of tokens whose working set fits ``memory_bytes``
(default ``DEFAULT_MEMORY_BYTES``, 1 GiB), at least one token.  Beyond the inputs, the oracle's
peak is that working set plus its outputs (the gradients asked for, in float64: the (N, V)
logits gradient of ``cross_entropy``, and in the fused form the hidden and weight gradients,
whose ``tokens``/``rows`` subsets keep them small).  Measured in ``benchmarks/bench_llm.py``.

Per-entry tolerances.  With ``dtype=`` both functions also return ``result.bounds``: for every
entry of every output, how far an implementation in that dtype may be from the oracle
(``derive.oracle.lm.bounds`` has the derivation), computed from the oracle's own probabilities
in the same chunk pass and contracted with ``|W|`` and ``|h|`` as the gradients are with ``W``
and ``h``.
"""

from __future__ import annotations

import math

import numpy as np

from checks.tolerances import IMPLEMENTATION
from derive.oracle.lm.options import LMBounds, LMGradients, LMOptions

_SAFETY = IMPLEMENTATION["safety"].value
_FLOAT64_ROUNDOFF = 2.0**-53
#: The working-set budget of one token chunk, in bytes, unless ``memory_bytes`` says otherwise.
DEFAULT_MEMORY_BYTES = 1 << 30
#: float64 arrays of chunk x V alive at once in ``_token_chunk`` (logits, exp/probabilities,
#: the softcap's derivative, one temporary).
CHUNK_ARRAYS = 4
#: Further chunk x V arrays with ``dtype=`` (the entry bounds, their terms' size, a temporary).
BOUND_ARRAYS = 3
#: Vocabulary rows of the weight converted to float64 at a time in the fused form.
VOCAB_CHUNK = 8192


def as_array(values) -> np.ndarray:
    """``values`` as a NumPy array holding exactly the same numbers (a torch tensor of any float
    dtype, bfloat16 included, goes through a lossless upcast to float32 or float64).

    Examples
    --------
    >>> as_array([1.5, 2.0]).dtype
    dtype('float64')
    """
    if hasattr(values, "detach"):  # a torch tensor, read without importing torch
        tensor = values.detach().cpu()
        if tensor.is_floating_point() and tensor.element_size() < 4:
            tensor = tensor.float()
        return tensor.numpy()
    array = np.asarray(values)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


def cross_entropy(logits, target, options: LMOptions = LMOptions(), upstream=None,
                  memory_bytes: int = DEFAULT_MEMORY_BYTES, *, dtype=None,
                  probabilistic: bool = True) -> LMGradients:
    """The loss and the gradient of ``sum(upstream * loss)`` with respect to the logits (N, V).

    ``upstream`` is a scalar for ``mean``/``sum`` (default 1) and (N,) for ``none`` (default ones:
    a judge should pass a random one).  ``dtype`` (a NumPy or torch dtype, or its name) also
    returns the per-entry tolerances of an implementation in that dtype (``result.bounds``).

    Examples
    --------
    >>> result = cross_entropy(np.zeros((1, 4)), np.array([2]))
    >>> round(float(result.loss), 12) == round(math.log(4), 12)
    True
    >>> result.logits.tolist()
    [[0.25, 0.25, -0.75, 0.25]]
    """
    logits = as_array(logits)
    target = _targets(target, logits.shape, options)
    scales = _Scales.of(target, options, upstream, logits.shape[1])
    rounding = _roundoffs(dtype, probabilistic)
    gradient = np.empty(logits.shape, dtype=np.float64)
    bound = None if rounding is None else np.empty(logits.shape, dtype=np.float64)
    terms = _Terms(len(target))
    chunk = _token_chunk_size(logits.shape[1], 0, memory_bytes, rounding is not None)
    for start in range(0, len(target), chunk):
        part = slice(start, start + chunk)
        block = logits[part].astype(np.float64)  # a copy: _token_chunk overwrites it
        entry = None if rounding is None else (rounding, np.abs(block).max(axis=1),
                                               np.zeros(len(block)), len(target))
        cross, z, gradient[part], bounds = _token_chunk(
            block, target[part], scales.loss[part], scales.z[part], options, entry)
        terms.store(part, cross, z, bounds)
        if bounds is not None:
            bound[part] = _SAFETY * bounds[0]
    loss = scales.reduce(terms.cross, terms.z)
    result_bounds = None if rounding is None else _result_bounds(
        rounding, scales, terms, loss, logits=bound, n=len(target), vocabulary=logits.shape[1])
    return LMGradients(loss=loss, logits=gradient, denominator=scales.denominator,
                       counted=scales.counted, bounds=result_bounds)


def fused_linear_cross_entropy(hidden, weight, target, bias=None,
                               options: LMOptions = LMOptions(), upstream=None, *,
                               tokens=None, rows=None, want_logits: bool = False,
                               memory_bytes: int = DEFAULT_MEMORY_BYTES, dtype=None,
                               probabilistic: bool = True) -> LMGradients:
    """The loss of ``logits = hidden @ weight.T + bias`` and the gradients of ``sum(upstream *
    loss)`` with respect to ``hidden`` (N, H), ``weight`` (V, H) and ``bias`` (V,).

    ``tokens`` (indices into N) limits the hidden gradient to those rows and ``rows`` (indices into
    V) the weight and bias gradients to those vocabulary rows; both are exact, whatever the
    subset (the loss always takes every token and class).  Cost: the logits' matmul (2 N V H
    flops) always, plus ``2 len(tokens) V H`` and ``2 N len(rows) H``; with neither given, the full
    ``6 N V H``.  ``want_logits`` also returns the (N, V) gradient of the logits.  ``dtype`` also
    returns per-entry tolerances (``result.bounds``), at twice the cost of the gradients asked
    for (the bounds are contracted with ``|W|`` and ``|h|`` as the gradients are with W and h).

    Examples
    --------
    >>> hidden, weight = np.ones((2, 3)), np.zeros((4, 3))
    >>> result = fused_linear_cross_entropy(hidden, weight, np.array([0, 1]), rows=[0])
    >>> result.weight.tolist(), result.hidden.tolist()
    ([[-0.25, -0.25, -0.25]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    """
    hidden, weight = as_array(hidden), as_array(weight)
    bias = None if bias is None else as_array(bias).astype(np.float64)
    n, width = hidden.shape
    vocabulary = weight.shape[0]
    if weight.ndim != 2 or weight.shape[1] != width:
        raise ValueError(f"weight must be (V, {width}) for hidden {hidden.shape}, "
                         f"not {weight.shape}")
    if bias is not None and bias.shape != (vocabulary,):
        raise ValueError(f"bias must have shape ({vocabulary},), not {bias.shape}")
    target = _targets(target, (n, vocabulary), options)
    scales = _Scales.of(target, options, upstream, vocabulary)
    rounding = _roundoffs(dtype, probabilistic)
    token_rows = _indices(tokens, n, "tokens")
    vocabulary_rows = _indices(rows, vocabulary, "rows")
    values = _Accumulators(n, width, vocabulary, token_rows, vocabulary_rows, bias is not None)
    bound = None if rounding is None else _Accumulators(n, width, vocabulary, token_rows,
                                                       vocabulary_rows, bias is not None)
    logits_gradient = np.empty((n, vocabulary)) if want_logits else None
    terms = _Terms(n)
    sizes = _fused_logit_sizes(hidden, weight, bias) if rounding is not None else None
    chunk = _token_chunk_size(vocabulary, width, memory_bytes, rounding is not None)
    for start in range(0, n, chunk):
        part = slice(start, min(start + chunk, n))
        inputs = hidden[part].astype(np.float64)
        logits = _logits(inputs, weight, bias)
        entry = None
        if rounding is not None:  # the matmul's rounding, then storing s and adding the bias
            largest = np.abs(logits).max(axis=1)
            entry = (rounding, largest,
                     rounding.gamma(width) * sizes[part] + 2 * rounding.storage * largest, n)
        cross, z, gradient, bounds = _token_chunk(
            logits, target[part], scales.loss[part], scales.z[part], options, entry)
        terms.store(part, cross, z, bounds)
        if want_logits:
            logits_gradient[part] = gradient
        chosen, out = _chosen_tokens(token_rows, part)
        if bounds is None:
            values.add(gradient, gradient, inputs, weight, chosen, out)
        else:
            spread, magnitude = bounds[0], bounds[1]
            values.add(gradient, gradient, inputs, weight, chosen, out)
            bound.add(spread + rounding.gamma(vocabulary) * magnitude,
                      spread + rounding.gamma(n) * magnitude, np.abs(inputs), weight, chosen,
                      out, absolute=True)
    loss = scales.reduce(terms.cross, terms.z)
    result_bounds = None
    if rounding is not None:
        result_bounds = _result_bounds(
            rounding, scales, terms, loss, n=n, vocabulary=vocabulary, width=width,
            **{name: _SAFETY * (getattr(bound, name) + rounding.storage
                                * np.abs(getattr(values, name)) + rounding.smallest_normal)
               for name in ("hidden", "weight", "bias") if getattr(values, name) is not None})
    return LMGradients(loss=loss, logits=logits_gradient, hidden=values.hidden,
                       weight=values.weight, bias=values.bias, tokens=token_rows,
                       rows=vocabulary_rows, denominator=scales.denominator,
                       counted=scales.counted, bounds=result_bounds)


class _Terms:
    """Per token, the cross-entropy and z-loss terms and, with bounds, their bounds."""

    def __init__(self, n: int):
        self.cross, self.z = np.zeros(n), np.zeros(n)
        self.cross_bound, self.z_bound = np.zeros(n), np.zeros(n)

    def store(self, part: slice, cross, z, bounds) -> None:
        self.cross[part], self.z[part] = cross, z
        if bounds is not None:
            self.cross_bound[part], self.z_bound[part] = bounds[2], bounds[3]


class _Accumulators:
    """The hidden, weight and bias gradients (or their bounds) asked for, accumulated chunk by
    chunk: ``hidden[out] += X_h[chosen] @ W`` and ``weight += X_w.T @ h`` (the chosen rows),
    ``bias += X_w.sum(0)``; with ``absolute`` the weight enters as ``|W|``."""

    def __init__(self, n, width, vocabulary, token_rows, vocabulary_rows, has_bias):
        self.rows = vocabulary_rows
        self.hidden = np.zeros((n if token_rows is None else len(token_rows), width))
        self.weight = np.zeros((vocabulary if vocabulary_rows is None else len(vocabulary_rows),
                                width))
        self.bias = np.zeros(len(self.weight)) if has_bias else None

    def add(self, for_hidden, for_weight, inputs, weight, chosen, out, absolute=False):
        all_rows = self.rows is None
        if len(chosen) or all_rows:
            selected = for_hidden[chosen]
            for start in range(0, len(weight), VOCAB_CHUNK):
                part = slice(start, start + VOCAB_CHUNK)
                if len(chosen):
                    block = weight[part].astype(np.float64, copy=False)
                    self.hidden[out] += selected[:, part] @ (np.abs(block) if absolute else block)
                if all_rows:
                    self.weight[part] += for_weight[:, part].T @ inputs
        if not all_rows:
            self.weight += for_weight[:, self.rows].T @ inputs
        if self.bias is not None:
            columns = for_weight if all_rows else for_weight[:, self.rows]
            self.bias += columns.sum(axis=0)


def _roundoffs(dtype, probabilistic: bool):
    if dtype is None:
        return None
    from derive.oracle.lm.bounds import Roundoffs
    return Roundoffs.of(dtype, probabilistic)


def _fused_logit_sizes(hidden, weight, bias) -> np.ndarray:
    """Per token, ``|h_i|_2 max_j |W_j|_2 + max |b|``: at least every ``sum_k |h_ik W_jk| +
    |b_j|`` (Cauchy-Schwarz), so it bounds the logits and the terms their rounding is relative
    to."""
    rows = np.sqrt(np.einsum("ij,ij->i", hidden, hidden, dtype=np.float64))
    columns = np.sqrt(np.einsum("ij,ij->i", weight, weight, dtype=np.float64))
    return rows * columns.max() + (0.0 if bias is None else float(np.abs(bias).max()))


def _result_bounds(rounding, scales, terms, loss, n, vocabulary, width=0, logits=None,
                   hidden=None, weight=None, bias=None):
    from derive.oracle.lm.bounds import failure_probability
    return LMBounds(loss=_SAFETY * (scales.reduce_bound(terms, loss, rounding)
                                    + rounding.smallest_normal),
                    logits=logits, hidden=hidden, weight=weight, bias=bias,
                    roundoff=rounding.storage - _FLOAT64_ROUNDOFF,
                    failure_probability=failure_probability(rounding, n, vocabulary, width))


class _Scales:
    """Per token, the factor of the cross-entropy and of the z-loss in ``sum(upstream * loss)``,
    and the reduction of the per-token terms to the loss."""

    def __init__(self, loss, z, reduce, denominator, counted, reduction):
        self.loss, self.z, self.reduce = loss, z, reduce
        self.denominator, self.counted, self.reduction = denominator, counted, reduction

    def reduce_bound(self, terms: _Terms, loss, rounding) -> np.ndarray:
        """The loss's bound from the per-token bounds (``derive.oracle.lm.bounds``); 0 for the
        empty mean, whose loss is nan."""
        u, g = rounding.storage, rounding.gamma(len(terms.cross))
        per_token = terms.cross_bound + terms.z_bound
        if self.reduction == "none":
            return per_token + u * np.abs(loss)
        if self.reduction == "sum":
            return np.float64(rounding.over_tokens(per_token)
                              + (g + u) * np.abs(terms.cross + terms.z).sum())
        cross = (rounding.over_tokens(terms.cross_bound) + 2 * g * terms.cross.sum()) \
            / self.denominator if self.denominator > 0 else 0.0
        z = ((rounding.over_tokens(terms.z_bound) + g * terms.z.sum()) / self.counted
             if self.counted else 0.0)
        return np.float64(cross + z + (u * abs(loss) if np.isfinite(loss) else 0.0))

    @classmethod
    def of(cls, target, options: LMOptions, upstream, vocabulary: int) -> _Scales:
        n = len(target)
        counted = counted_tokens(target, options)
        target_weights = token_weights(target, counted, options)
        denominator = math.fsum(target_weights)
        count = int(counted.sum())
        if options.reduction == "none":
            upstream = np.ones(n) if upstream is None else as_array(upstream).astype(np.float64)
            if upstream.shape != (n,):
                raise ValueError(f"upstream for reduction 'none' must have shape ({n},), "
                                 f"not {upstream.shape}")
            weights = upstream * counted
            return cls(weights, weights, lambda loss, z: loss + z, denominator, count, "none")
        upstream = np.float64(1.0) if upstream is None else as_array(upstream).astype(np.float64)
        if upstream.size != 1:
            raise ValueError(f"upstream for reduction {options.reduction!r} must be a scalar, "
                             f"not shape {upstream.shape}")
        upstream = float(upstream.reshape(()))
        if options.reduction == "sum":
            weights = np.full(n, upstream) * counted
            return cls(weights, weights, lambda loss, z: np.float64(math.fsum(loss) + math.fsum(z)),
                       denominator, count, "sum")
        loss_scale = upstream / denominator if denominator > 0 else 0.0
        z_scale = upstream / count if count > 0 else 0.0

        def mean(loss, z):
            cross = math.fsum(loss) / denominator if denominator > 0 else math.nan
            return np.float64(cross + (math.fsum(z) / count if count > 0 else 0.0))

        return cls(np.full(n, loss_scale) * counted, np.full(n, z_scale) * counted, mean,
                   denominator, count, "mean")


def _targets(target, shape, options: LMOptions) -> np.ndarray:
    if len(shape) != 2:
        raise ValueError(f"logits must be (N, V), not shape {shape}")
    n, vocabulary = shape
    options.check_vocabulary(vocabulary)
    target = np.asarray(as_array(target) if hasattr(target, "detach") else target)
    if target.shape != (n,) or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target must be {n} integers, not {target.dtype} of shape {target.shape}")
    counted = counted_tokens(target, options)
    bad = counted & ((target < 0) | (target >= vocabulary))
    if bad.any():
        raise ValueError(f"target {int(target[bad][0])} is outside 0..{vocabulary - 1} and is not "
                         f"ignore_index ({options.ignore_index})")
    return target.astype(np.int64)


def counted_tokens(target, options: LMOptions) -> np.ndarray:
    if options.ignore_index is None:
        return np.ones(len(target), dtype=bool)
    return target != options.ignore_index


def token_weights(target, counted, options: LMOptions) -> np.ndarray:
    if options.class_weights is None:
        return counted.astype(np.float64)
    return np.where(counted, options.class_weights[np.where(counted, target, 0)], 0.0)


def _indices(chosen, size: int, name: str) -> np.ndarray | None:
    if chosen is None:
        return None
    chosen = np.asarray(chosen)
    if chosen.ndim != 1 or (chosen.size and not np.issubdtype(chosen.dtype, np.integer)):
        raise ValueError(f"{name} must be a list of indices")
    chosen = chosen.astype(np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= size):
        raise ValueError(f"{name} must lie in 0..{size - 1}")
    return chosen


def _token_chunk_size(vocabulary: int, width: int, memory_bytes: int, bounds: bool) -> int:
    fixed = 8 * min(VOCAB_CHUNK, vocabulary) * width
    arrays = CHUNK_ARRAYS + (BOUND_ARRAYS if bounds else 0)
    return max(1, (memory_bytes - fixed) // (8 * arrays * max(vocabulary, 1)))


def _logits(inputs, weight, bias) -> np.ndarray:
    logits = np.empty((len(inputs), len(weight)))
    for start in range(0, len(weight), VOCAB_CHUNK):
        part = slice(start, start + VOCAB_CHUNK)
        logits[:, part] = inputs @ weight[part].astype(np.float64, copy=False).T
    if bias is not None:
        logits += bias
    return logits


def _chosen_tokens(token_rows, part: slice):
    """The chunk's rows whose hidden gradient is asked for, and where they go in the output."""
    if token_rows is None:
        return np.arange(part.stop - part.start), np.arange(part.start, part.stop)
    inside = np.flatnonzero((token_rows >= part.start) & (token_rows < part.stop))
    return token_rows[inside] - part.start, inside


def _sech_squared(x: np.ndarray) -> np.ndarray:
    """``1 - tanh(x)^2`` as ``4 e^{-2|x|} / (1 + e^{-2|x|})^2``: no cancellation, no overflow."""
    decay = np.exp(-2.0 * np.abs(x))
    return 4.0 * decay / (1.0 + decay) ** 2


def _token_chunk(logits, target, loss_scale, z_scale, options: LMOptions, entry=None):
    """Per token the cross-entropy term and the z-loss term, the gradient of
    ``sum(loss_scale * cross + z_scale * z)`` with respect to the raw logits, and, when
    ``entry = (roundoffs, logit_size, logit_error, N)`` is given, the entry bounds of
    ``bounds.token_entry_bounds`` (else None).  Overwrites ``logits`` (float64, T x V)."""
    rows = np.arange(len(logits))
    vocabulary = logits.shape[1]
    counted = counted_tokens(target, options)
    label = np.where(counted, target, 0)
    derivative = None
    if options.softcap is not None:
        logits /= options.softcap
        derivative = _sech_squared(logits)
        np.tanh(logits, out=logits)
        logits *= options.softcap
    top = logits.argmax(axis=1)
    top_logit = logits[rows, top]
    logits -= top_logit[:, None]  # now s - max <= 0
    exp = np.exp(logits)
    exp[rows, top] = 0.0
    rest = exp.sum(axis=1)
    log_z = np.log1p(rest)
    lse = top_logit + log_z
    smoothing = options.label_smoothing
    weights = options.class_weights
    weight_label = 1.0 if weights is None else weights[label]
    weight_sum = vocabulary if weights is None else math.fsum(weights)
    cross = (1.0 - smoothing) * weight_label * (log_z - logits[rows, label])
    if smoothing:
        shifted_sum = logits.sum(axis=1) if weights is None else logits @ weights
        cross = cross + smoothing / vocabulary * (weight_sum * log_z - shifted_sum)
    cross = np.where(counted, cross, 0.0)
    z_term = np.where(counted, options.z_loss * lse**2, 0.0)
    exp[rows, top] = 1.0
    exp /= (1.0 + rest)[:, None]  # now the probabilities p
    bounds = None
    if entry is not None:
        from derive.oracle.lm.bounds import token_entry_bounds
        logits -= log_z[:, None]  # now log p
        bounds = token_entry_bounds(entry[0], exp, logits, derivative, label, counted,
                                    loss_scale, z_scale, lse, cross, entry[1], entry[2],
                                    entry[3], options)
    p_label = exp[rows, label]
    p_label_minus_one = np.where(label == top, -rest / (1.0 + rest), p_label - 1.0)
    a = loss_scale
    z_factor = 2.0 * options.z_loss * z_scale * lse
    exp *= (a * ((1.0 - smoothing) * weight_label + smoothing / vocabulary * weight_sum)
            + z_factor)[:, None]
    if smoothing:
        offset = a * smoothing / vocabulary
        exp -= offset[:, None] if weights is None else np.multiply.outer(offset, weights)
    exp[rows, label] = (a * (1.0 - smoothing) * weight_label * p_label_minus_one
                        + a * smoothing / vocabulary * (weight_sum * p_label - weight_label)
                        + z_factor * p_label)
    exp[~counted] = 0.0
    if derivative is not None:
        exp *= derivative
    return cross, z_term, exp, bounds
