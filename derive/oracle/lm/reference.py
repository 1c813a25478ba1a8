"""Spot-check the language-model oracle against an evaluation to 50 digits.

A few tokens are evaluated whole from the definitions as written (``s' = c tanh(s / c)``, ``p =
exp(s') / sum exp(s')``, ``-log p_y``, the smoothing sum ``sum_k w_k (-log p_k)``, ``z log(Z)^2``,
and ``G = a ((1 - eps) w_y (p - e_y) + (eps / V) (W p - w)) + 2 b z lse p`` times ``1 - tanh(s /
c)^2``), the reference the stable float64 oracle must agree with.

How, at 50 digits and fast.  A token's V classes are evaluated in fixed point: integers holding
``x 2^FIXED_BITS`` (``FIXED_BITS`` = 207: the 167 bits of 50 digits and 40 guard bits), in NumPy
object arrays, so each operation is one pass of Python integers over the classes (about 0.2 s
for the log-sum-exp of V = 128,256 on one core, against 4 s for mpmath's ``exp`` per class).
The inputs are read exactly (a float64 is an integer times a power of 2); ``exp(s'_j - max s')``
is a product of tabulated ``exp(-k 2^-8)``, ``exp(-k 2^-16)``, ``exp(-k 2^-24)`` (each computed by
mpmath) and a Taylor series of the rest (below ``2^-24``), every product truncated to the fixed
point: at most ``FIXED_ERROR`` units of ``2^-FIXED_BITS`` off, against a largest term of exactly
1; the sums over the classes are exact integer sums; the logarithm and the few scalar steps are
mpmath's at 50 digits.  So ``Z`` (and with it the loss, ``lse``, each ``p_j`` and each
gradient entry) is within ``V FIXED_ERROR 2^-FIXED_BITS`` relative of the exact value: below
``1e-50`` for ``V`` up to ``10^7``, far below the spot check's tolerance.  Scaling by ``exp(max
s')`` is an identity here (nothing is rounded that depends on it), not a stabilising trick.

The tokens are chosen to cover the cases that go wrong: one whose target is its largest logit
(``p_y - 1`` cancels), one other counted token, and an ignored token if there is one (its
gradient row must be exactly 0).  For each, the per-token loss and gradient entries (the
target's, the largest logit's and a random one) are compared; in the fused form, an entry of the
first counted token's hidden gradient ``sum_j G_ij W_jk`` is re-summed at 50 digits too, where
the budget ``SPOT_CLASSES`` allows.  When the whole batch is small (``FULL_LOSS_ENTRIES``) the
reduced loss is recomputed from every token as well.  ``LMSpotCheck.classes`` counts the class
evaluations done (a token's pass is V, the hidden entry two more, the small batch's every token
N V): at most ``SPOT_CLASSES + FULL_LOSS_ENTRIES`` (or one token's V, if larger), whatever N and
V.

Errors are relative to each quantity's scale: a token's loss and gradient row to ``max(|loss_i|,
max |G_ij| over the entries compared, tiny)``, a hidden-gradient entry to ``sum_j |G_ij|
|W_jk|``.  In the fused form the logits of the chosen tokens are recomputed in float64 (``h_i @
W.T + b``), which may differ from the oracle's blocked matmul by ``(H + 1) u |h_i| |W_j|``;
twice that, relative, is added to the tolerance.  Cost: a few dozen fixed-point passes over the
V classes per counted token checked and two token passes more for the hidden-gradient entry,
bounded by ``SPOT_CLASSES`` class evaluations (at V = 128,256: two tokens, about a second), plus
one float64 pass over the weight for the fused form's logits rows; it does not grow with N
(measured in ``benchmarks/bench_llm.py``).
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass, replace

import mpmath
import numpy as np

from checks.tolerances import IMPLEMENTATION, REFERENCE_DIGITS
from derive.oracle.lm.exact import as_array, cross_entropy
from derive.oracle.lm.options import LMGradients, LMOptions

#: The batch's loss is recomputed from every token at 50 digits when N * V is at most this.
FULL_LOSS_ENTRIES = 20_000
#: Counted tokens evaluated at 50 digits at most, and classes evaluated in all: the token count
#: shrinks at large V, and the fused form's hidden entry (two passes over the classes) is left
#: out when fewer than five passes fit, so that the check stays near a second (at V = 128,256:
#: two tokens, no hidden entry; at V = 32,000: three tokens and the hidden entry).
SPOT_TOKENS = 3
SPOT_CLASSES = 300_000
#: The fixed point of the 50-digit evaluation: integers holding ``x 2^FIXED_BITS``.
FIXED_BITS = math.ceil(REFERENCE_DIGITS * math.log2(10)) + 40
#: Units of ``2^-FIXED_BITS`` that one ``exp`` may be off (three table entries and products,
#: the Taylor series' terms and its truncation): a bound, with room.
FIXED_ERROR = 32
_ONE = 1 << FIXED_BITS
#: Bits of the argument of ``exp`` looked up per table, and the Taylor terms of the rest.
_TABLE_BITS = (8, 16, 24)
_TAYLOR_TERMS = next(k for k in range(1, 64)
                     if _TABLE_BITS[-1] * k + math.lgamma(k + 1) / math.log(2) > FIXED_BITS + 8)
#: Hidden-gradient entries re-summed per chosen token in the fused form.
HIDDEN_ENTRIES = 1
_FLOAT64_ROUNDOFF = 2.0**-53


@dataclass(frozen=True)
class LMSpotCheck:
    """The worst relative disagreement between the oracle and the 50-digit evaluation."""

    tokens: tuple[int, ...]
    worst_error: float
    tolerance: float
    classes: int = 0  # class evaluations done at 50 digits (a token's pass is V)

    @property
    def ok(self) -> bool:
        return bool(self.worst_error <= self.tolerance)


def spot_check(logits, target, result: LMGradients, options: LMOptions = LMOptions(),
               upstream=None, seed: int = 0) -> LMSpotCheck:
    """Check ``result`` (``cross_entropy``'s) at a few tokens against 50 digits.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> logits, target = rng.normal(size=(4, 6)), np.array([1, -100, 5, 0])
    >>> check = spot_check(logits, target, cross_entropy(logits, target))
    >>> check.ok, check.worst_error < 1e-14
    (True, True)
    """
    logits = as_array(logits).astype(np.float64)
    target = np.asarray(as_array(target) if hasattr(target, "detach") else target)
    return _check(lambda i: logits[i], logits.shape, target, result, options, upstream, seed,
                  extra=0.0, hidden_entry=None)


def spot_check_fused(hidden, weight, target, result: LMGradients, bias=None,
                     options: LMOptions = LMOptions(), upstream=None,
                     seed: int = 0) -> LMSpotCheck:
    """Check ``result`` (``fused_linear_cross_entropy``'s) at a few tokens against 50 digits:
    their losses and logits-gradient rows, and entries of their hidden gradient."""
    hidden, weight = as_array(hidden), as_array(weight)
    bias = None if bias is None else as_array(bias).astype(np.float64)
    target = np.asarray(as_array(target) if hasattr(target, "detach") else target)

    row = _Rows(hidden, weight, bias)
    width = hidden.shape[1]
    scale = (float(np.linalg.norm(hidden.astype(np.float64), axis=1).max())
             * float(np.sqrt(np.einsum("ij,ij->i", weight, weight, dtype=np.float64)).max())
             + (0.0 if bias is None else float(np.abs(bias).max())))
    extra = 2 * (width + 1) * _FLOAT64_ROUNDOFF * scale
    return _check(row, (len(hidden), len(weight)), target, result, options, upstream, seed,
                  extra=extra, hidden_entry=(weight, result))


class _Rows:
    """Token ``i``'s logits ``h_i @ W.T + b`` in float64, computed for several tokens in one pass
    over the weight (``prefetch``) and kept."""

    def __init__(self, hidden, weight, bias, step: int = 8192):
        self.hidden, self.weight, self.bias, self.step = hidden, weight, bias, step
        self.rows: dict[int, np.ndarray] = {}

    def prefetch(self, tokens) -> None:
        missing = [i for i in tokens if i not in self.rows]
        if not missing:
            return
        inputs = self.hidden[missing].astype(np.float64)
        logits = np.concatenate([inputs @ self.weight[s:s + self.step].astype(np.float64).T
                                 for s in range(0, len(self.weight), self.step)], axis=1)
        if self.bias is not None:
            logits += self.bias
        self.rows.update(zip(missing, logits))

    def __call__(self, i: int) -> np.ndarray:
        self.prefetch([i])
        return self.rows[i]


def _check(row_of, shape, target, result, options, upstream, seed, extra, hidden_entry):
    n, vocabulary = shape
    rng = random.Random(seed)
    scales = _token_scales(target, options, upstream, n)
    budget = SPOT_CLASSES // max(vocabulary, 1)  # 50-digit passes over the classes
    if hidden_entry is not None and budget < 3 + 2:  # a hidden entry costs two passes
        hidden_entry = None
    tokens = _chosen_tokens(row_of, target, options, rng, n,
                            budget - (2 if hidden_entry is not None else 0))
    ignored = [i for i in tokens if not scales[i][2]]
    worst, passes = 0.0, 0
    with mpmath.workdps(REFERENCE_DIGITS):
        for i in tokens:
            if not scales[i][2]:
                worst = max(worst, _ignored_error(i, result, options))
                continue
            row, label = row_of(i), int(target[i])
            naive = _naive_token(row, label, options)
            gradient = _naive_gradient(naive, label, options, scales[i][0], scales[i][1])
            worst = max(worst, _token_error(i, row, label, naive, gradient, result, options, rng))
            passes += 1
            if hidden_entry is not None and i == min(set(tokens) - set(ignored)):
                worst = max(worst, _hidden_error(i, gradient, hidden_entry, rng))
                passes += 2
        if options.reduction != "none" and n * vocabulary <= FULL_LOSS_ENTRIES:
            worst = max(worst, _reduced_loss_error(row_of, target, options, result, n))
            passes += n
    return LMSpotCheck(tuple(tokens), worst, IMPLEMENTATION["oracle spot check"].value + extra,
                       passes * vocabulary)


def _ignored_error(i, result, options) -> float:
    """An ignored token: its loss (``none``) and its gradient rows must be exactly 0."""
    values = [result.logits[i] if result.logits is not None else np.zeros(1)]
    if options.reduction == "none":
        values.append(np.asarray(result.loss)[i:i + 1])
    if result.hidden is not None:
        rows = np.arange(len(result.hidden)) if result.tokens is None else result.tokens
        values += [result.hidden[where] for where in np.flatnonzero(rows == i)]
    return 0.0 if not any(np.any(v) for v in values) else float("inf")


def _is_counted(label: int, options: LMOptions) -> bool:
    return options.ignore_index is None or label != options.ignore_index


def _token_scales(target, options, upstream, n):
    """Per token, the factors ``a`` (cross-entropy) and ``b`` (z-loss) of ``sum(upstream *
    loss)`` at 50 digits, and whether the token is counted."""
    counted = [_is_counted(int(t), options) for t in target]
    with mpmath.workdps(REFERENCE_DIGITS):
        if options.reduction == "none":
            up = np.ones(n) if upstream is None else as_array(upstream).astype(np.float64)
            return [(mpmath.mpf(float(up[i])) * c, mpmath.mpf(float(up[i])) * c, c)
                    for i, c in enumerate(counted)]
        up = mpmath.mpf(1.0 if upstream is None else float(np.asarray(as_array(upstream))))
        if options.reduction == "sum":
            return [(up * c, up * c, c) for c in counted]
        denominator = _denominator(target, options)
        count = sum(counted)
        a = up / denominator if denominator else mpmath.mpf(0)
        b = up / count if count else mpmath.mpf(0)
        return [(a * c, b * c, c) for c in counted]


def _denominator(target, options):
    weights = options.class_weights
    return mpmath.fsum((1 if weights is None else mpmath.mpf(float(weights[int(t)])))
                       for t in target if _is_counted(int(t), options))


def _chosen_tokens(row_of, target, options, rng, n, budget):
    """One counted token whose target is its largest logit (``p_y - 1`` cancels there) if one
    of 8 drawn is, other counted tokens up to ``SPOT_TOKENS`` within ``SPOT_CLASSES``, and the
    first ignored token if any (checked exactly, at no 50-digit cost)."""
    wanted = max(1, min(SPOT_TOKENS, budget))
    counted = [i for i in range(n) if _is_counted(int(target[i]), options)]
    ignored = [i for i in range(n) if not _is_counted(int(target[i]), options)][:1]
    candidates = rng.sample(counted, min(len(counted), 8))
    room = max(0, wanted - 1)
    spare = rng.sample(counted, min(len(counted), room + 1))
    if hasattr(row_of, "prefetch"):
        row_of.prefetch(candidates + spare)
    chosen = [i for i in candidates if int(np.argmax(row_of(i))) == int(target[i])][:1]
    others = [i for i in spare if i not in chosen][:wanted - len(chosen)]
    return sorted(chosen + others + ignored)


@dataclass(frozen=True)
class _Naive:
    """One counted token at 50 digits: its cross-entropy term; in fixed point (object arrays of
    integers, ``x 2^FIXED_BITS``) ``s'``, ``exp(s'_j - max s')`` and their sum, the class
    weights (None: all 1) and ``tanh(s / c)`` (None without a softcap); ``lse`` as an mpf."""

    cross: mpmath.mpf
    lse: mpmath.mpf
    exp: np.ndarray
    total: int
    weights: np.ndarray | None
    tanh: np.ndarray | None


def _fixed(values) -> np.ndarray:
    """float64 ``values`` in fixed point, each exactly ``floor(x 2^FIXED_BITS)`` (a float is an
    integer over a power of 2).

    Examples
    --------
    >>> _fixed([0.5, -0.25])[0] == 1 << (FIXED_BITS - 1), _fixed([-0.25])[0] == -(_ONE >> 2)
    (True, True)
    """
    ratios = map(float.as_integer_ratio, np.asarray(values, dtype=np.float64).ravel().tolist())
    return np.array([(n << FIXED_BITS) // d for n, d in ratios] or [], dtype=object)


def _mpf(fixed: int):
    """A fixed-point integer as an mpf (exact: a shift)."""
    return mpmath.ldexp(mpmath.mpf(int(fixed)), -FIXED_BITS)


def _to_fixed(value) -> int:
    """An mpf (or number) in fixed point, truncated."""
    return int(mpmath.floor(mpmath.ldexp(mpmath.mpf(value), FIXED_BITS)))


def _exp_negative(u: np.ndarray) -> np.ndarray:
    """``exp(-u)`` in fixed point for fixed-point ``u >= 0``: tables of ``exp(-k 2^-b)`` for the
    leading bits of ``u`` (``_TABLE_BITS``), then ``_TAYLOR_TERMS`` of the series of the rest;
    within ``FIXED_ERROR`` units of ``2^-FIXED_BITS``.  Beyond ``u = FIXED_BITS`` the result is
    below one unit: 0."""
    u = np.minimum(u, FIXED_BITS << FIXED_BITS)
    result = np.full(len(u), _ONE, dtype=object)
    rest = u
    for level, bits in enumerate(_TABLE_BITS):
        shift = FIXED_BITS - bits
        top = rest >> shift
        rest = rest - (top << shift)
        if level:  # a fraction of 2^8 values: one table for all calls
            factors = _exp_table(bits)[top.astype(np.int64)]
        else:
            keys, where = np.unique(top.astype(np.int64), return_inverse=True)
            factors = np.array([_exp_entry(int(k), bits) for k in keys.tolist()],
                               dtype=object)[where.ravel()]
        result = (result * factors) >> FIXED_BITS
    series = np.full(len(u), _ONE // math.factorial(_TAYLOR_TERMS), dtype=object)
    for k in range(_TAYLOR_TERMS - 1, -1, -1):  # exp(-r) = sum (-r)^k / k!, by Horner
        series = _ONE // math.factorial(k) - ((series * rest) >> FIXED_BITS)
    return (result * series) >> FIXED_BITS


@functools.lru_cache(maxsize=1 << 16)
def _exp_entry(k: int, bits: int) -> int:
    """``exp(-k 2^-bits)`` in fixed point (mpmath, 16 guard bits); kept for the next token."""
    with mpmath.workprec(FIXED_BITS + 16):
        return _to_fixed(mpmath.exp(-mpmath.ldexp(k, -bits)))


@functools.cache
def _exp_table(bits: int) -> np.ndarray:
    """``_exp_entry(k, bits)`` for the 2^8 values of ``k`` a table level below the first reads."""
    step = bits - _TABLE_BITS[_TABLE_BITS.index(bits) - 1]
    return np.array([_exp_entry(k, bits) for k in range(1 << step)], dtype=object)


def _naive_token(row, label: int, options: LMOptions) -> _Naive:
    """The token's terms from the definitions; call inside ``mpmath.workdps``."""
    vocabulary, cap = len(row), options.softcap
    eps = mpmath.mpf(options.label_smoothing)
    raw = _fixed(row)
    tanh = None
    if cap is not None:  # tanh(y) = (1 - e^{-2|y|}) / (1 + e^{-2|y|}), its sign y's
        cap_fixed = _to_fixed(cap)
        scaled = (raw << FIXED_BITS) // cap_fixed
        decay = _exp_negative(2 * np.abs(scaled))
        magnitude = ((_ONE - decay) << FIXED_BITS) // (_ONE + decay)
        tanh = np.where(scaled < 0, -magnitude, magnitude)
        raw = (cap_fixed * tanh) >> FIXED_BITS
    shift = int(raw.max())
    exp = _exp_negative(shift - raw)
    total = int(exp.sum())
    lse = _mpf(shift) + mpmath.log(_mpf(total))
    w = None if options.class_weights is None else _fixed(options.class_weights)
    weight_y = mpmath.mpf(1) if w is None else _mpf(w[label])
    cross = (1 - eps) * weight_y * (lse - _mpf(raw[label]))
    if eps:  # -log p_k = log Z - s'_k, the definition of the log-softmax
        weight_sum = vocabulary if w is None else _mpf(int(w.sum()))
        weighted = int(raw.sum()) if w is None else int((w * raw).sum()) >> FIXED_BITS
        cross += eps / vocabulary * (lse * weight_sum - _mpf(weighted))
    return _Naive(cross, lse, exp, total, w, tanh)


def _naive_gradient(naive: _Naive, label: int, options: LMOptions, a, b) -> np.ndarray:
    """``d(a cross + b z lse^2)/ds_j`` for every class ``j``, in fixed point; call it inside
    ``mpmath.workdps``."""
    vocabulary = len(naive.exp)
    eps, z, w = mpmath.mpf(options.label_smoothing), mpmath.mpf(options.z_loss), naive.weights
    weight_sum = vocabulary if w is None else _mpf(int(w.sum()))
    weight_y = mpmath.mpf(1) if w is None else _mpf(w[label])
    p = (naive.exp << FIXED_BITS) // naive.total
    gradient = (_to_fixed(a * ((1 - eps) * weight_y + eps / vocabulary * weight_sum)
                          + 2 * b * z * naive.lse) * p) >> FIXED_BITS
    if eps:
        share = _to_fixed(a * eps / vocabulary)
        gradient = gradient - (share if w is None else (share * w) >> FIXED_BITS)
    gradient[label] -= _to_fixed(a * (1 - eps) * weight_y)
    if naive.tanh is not None:
        gradient = (gradient * (_ONE - ((naive.tanh * naive.tanh) >> FIXED_BITS))) >> FIXED_BITS
    return gradient


def _token_error(i, row, label, naive, gradient, result, options, rng) -> float:
    loss = naive.cross + mpmath.mpf(options.z_loss) * naive.lse**2
    if options.reduction == "none":
        oracle_loss = float(result.loss[i])
    else:  # the oracle's own per-token value, from the same chunk function
        single = cross_entropy(row[None, :], np.array([label]), replace(options, reduction="none"))
        oracle_loss = float(single.loss[0])
    columns = sorted({int(np.argmax(row)), rng.randrange(len(row)), label})
    values = {j: _mpf(gradient[j]) for j in columns}
    scale = max(abs(loss), max(abs(g) for g in values.values()), mpmath.mpf(2.0**-1022))
    errors = [abs(mpmath.mpf(oracle_loss) - loss) / scale]
    if result.logits is not None:
        errors += [abs(mpmath.mpf(float(result.logits[i, j])) - g) / scale
                   for j, g in values.items()]
    return float(max(errors))


def _hidden_error(i, gradient, hidden_entry, rng) -> float:
    """Entries of token ``i``'s hidden gradient, ``sum_j G_ij W_jk``, re-summed exactly from the
    fixed-point ``G_ij``."""
    weight, result = hidden_entry
    if result.hidden is None:
        return 0.0
    rows = np.arange(len(result.hidden)) if result.tokens is None else result.tokens
    where = np.flatnonzero(rows == i)
    if not len(where):
        return 0.0
    worst = 0.0
    for _ in range(HIDDEN_ENTRIES):
        k = rng.randrange(weight.shape[1])
        terms = gradient * _fixed(weight[:, k])
        exact = _mpf(int(terms.sum()) >> FIXED_BITS)
        scale = max(_mpf(int(np.abs(terms).sum()) >> FIXED_BITS), mpmath.mpf(2.0**-1022))
        error = abs(mpmath.mpf(float(result.hidden[where[0], k])) - exact)
        worst = max(worst, float(error / scale))
    return worst


def _reduced_loss_error(row_of, target, options, result, n) -> float:
    """The mean or sum over every token, at 50 digits, against the oracle's loss."""
    counted = [i for i in range(n) if _is_counted(int(target[i]), options)]
    naive = [_naive_token(row_of(i), int(target[i]), options) for i in counted]
    cross = mpmath.fsum(t.cross for t in naive)
    z_total = mpmath.mpf(options.z_loss) * mpmath.fsum(t.lse**2 for t in naive)
    if options.reduction == "sum":
        exact = cross + z_total
    else:
        denominator = _denominator(target, options)
        if not denominator:  # the empty mean: nan, as documented
            return 0.0 if np.isnan(result.loss) else float("inf")
        exact = cross / denominator + z_total / len(counted)
    scale = max(abs(exact), mpmath.mpf(2.0**-1022))
    return float(abs(mpmath.mpf(float(result.loss)) - exact) / scale)
