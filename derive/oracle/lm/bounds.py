"""How far a right implementation may be from the exact loss and gradients, per dtype.

Model.  The user's inputs are exact numbers of their dtype (the oracle reads the same numbers).
Every intermediate array (logits, softcapped logits, log-probabilities or probabilities, the
logits' gradient, each output) and every elementwise operation's result may be *stored* in the
dtype, one rounding of relative size ``u`` (its unit roundoff: 2^-53 float64, 2^-24 float32,
2^-11 float16, 2^-8 bfloat16; eager PyTorch rounds every operation's result so; the ``v`` of
the elementwise terms below is therefore taken as ``u``), a value below the dtype's smallest
normal number may underflow (an absolute error of at most that number), and every sum is
*accumulated* at roundoff ``v``: ``v = u`` for float64 and float32, and float32's 2^-24 for
float16 and bfloat16, what PyTorch's reductions and matmuls and every fused kernel do (an
implementation that accumulates 128,256 terms in bfloat16 is genuinely imprecise, and may fail).
A sum of ``n`` terms is then off by at most ``Gamma_n sum |terms|`` where, worst case,
``Gamma_n = gamma_n = n v / (1 - n v)`` (Higham, *Accuracy and Stability*, 3.1), or,
probabilistically, the smaller of that and ``exp(lambda sqrt(n) v + n v^2 / (1 - v)) - 1`` (Higham and Mary,
2019, Thm. 4.8: rounding errors independent, mean zero), which fails with probability at most
``2 n exp(-lambda^2 (1 - v)^2 / 2)`` per sum; ``LAMBDA`` = 12, and the union of that over every
sum of the computation is reported as ``LMTolerances.failure_probability`` (about 1e-19 at the
Llama-3 head size).  Accumulation lengths: ``H`` for the logits' matmul, ``V`` for the
log-sum-exp and the hidden gradient, ``N`` for the mean, the weight and bias gradients.

The bounds are first order in ``u`` and ``v``, on the largest error of each output (max norm;
per token for ``reduction='none'``), in terms of the magnitudes of :class:`Magnitudes`: ``mu``
bounds every ``|s_ij|`` and every ``sum_k |h_ik W_jk| + |b_j|`` (``max|s|`` for given logits,
``max_i |h_i|_2 max_j |W_j|_2 + max|b|`` in the fused form, by Cauchy-Schwarz), ``mu' = min(mu,
c)`` with a softcap c, ``L = mu' + log V`` bounds ``|lse|``, ``c_w = (1 - eps) w_max + (eps/V)
sum w`` (1 without weights) the cross-entropy's weight, ``A`` and ``B`` the largest factors of a
token's cross-entropy and z-loss in ``sum(upstream * loss)`` (``|upstream| / denominator`` and
``|upstream| / counted`` for ``mean``), ``r = A c_w + 2 z B L`` the largest ``|G_ij|`` and
``eta = max|h|``, ``omega = max|W|``.  Then, with ``n_c`` counted tokens::

    logits      ds   = (Gamma_H + 2 u) mu                    (0 when the logits are given)
    softcap     ds'  = ds + (3 v + u) mu'                     (ds without a softcap)
    lse         dl   = ds' + v (2 mu' + 3) + Gamma_V + (v + u) L
    p           |dp|_inf <= e + (v + u) / e,  sum_j |dp_j| <= e + (v + u) log V,
                e = ds' + dl + 2 v + u                        (p |log p| <= 1/e, entropy <= log V)
    cross_i     dc   = c_w (ds' + dl) + (2 (v + u) + Gamma_V) X,   X = c_w (2 mu' + log V)
    z_i         dz   = z (2 L dl + (2 v + u) L^2)
    loss        none: dc + dz + u (X + z L^2); sum: n_c (dc + dz + (Gamma_N + u)(X + z L^2));
                mean: m (dc + 2 Gamma_N X) + dz + Gamma_N z L^2 + u (m X + z L^2), m = n_c / D
    G_ij        dG   = A c_w |dp|_inf + 2 z B (L |dp|_inf + dl) + (3 v + u + Gamma_N) r [+ softcap]
                row sum: the same with sum_j |dp_j| and 2 r        (sum_j |G_ij| <= 2 r)
                softcap: + r (2 (ds + v mu) / c + 4 v + u), the error of 1 - tanh^2
    hidden      omega (dG_row + 2 Gamma_V r) + 2 u r omega
    weight      n_c eta (dG + Gamma_N r) + u n_c r eta
    bias        n_c (dG + Gamma_N r) + u n_c r

(``-log p <= 2 mu' + log V`` bounds each cross-entropy.)  The oracle's own float64 error is the
same bound at ``u = v = 2^-53``, worst case.  The tolerance of each output is ``SAFETY`` (from
``checks.tolerances.IMPLEMENTATION``, for the first-order approximations and a few-ulp
elementary functions) times the sum of the two: an output passes when ``max |user - oracle|``
is at most it.  The bounds use maxima over tokens and classes, so they are loose where the
inputs are very uneven, never too tight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from checks.tolerances import IMPLEMENTATION
from derive.oracle.lm.exact import as_array, counted_tokens, token_weights
from derive.oracle.lm.options import LMOptions

#: lambda of the probabilistic bound (failure probability 2 n e^{-72} per sum of n terms).
LAMBDA = 12.0
_SAFETY = IMPLEMENTATION["safety"].value
_FLOAT64 = 2.0**-53
_FLOAT32 = 2.0**-24
#: Unit roundoffs by dtype name (bfloat16 has an 8-bit significand, float16 an 11-bit one).
UNIT_ROUNDOFF = {"float64": _FLOAT64, "float32": _FLOAT32, "float16": 2.0**-11,
                 "bfloat16": 2.0**-8}
#: Smallest normal numbers: below them a stored value may underflow (or be flushed to 0), an
#: absolute error of at most this much, whatever its relative size.
SMALLEST_NORMAL = {"float64": 2.0**-1022, "float32": 2.0**-126, "float16": 2.0**-14,
                   "bfloat16": 2.0**-126}


def dtype_name(dtype) -> str:
    """``'float32'`` for ``np.float32``, ``torch.float32`` or ``'float32'``; ``ValueError`` for a
    dtype without a row in ``UNIT_ROUNDOFF``."""
    name = str(dtype).removeprefix("torch.")
    if name not in UNIT_ROUNDOFF:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            pass
    if name not in UNIT_ROUNDOFF:
        raise ValueError(f"no unit roundoff for dtype {dtype}: use one of "
                         f"{', '.join(UNIT_ROUNDOFF)}")
    return name


def unit_roundoff(dtype) -> float:
    """The unit roundoff of a NumPy or torch dtype, or of its name.

    Examples
    --------
    >>> unit_roundoff("bfloat16"), unit_roundoff(np.float32) == 2.0**-24
    (0.00390625, True)
    """
    return UNIT_ROUNDOFF[dtype_name(dtype)]


@dataclass(frozen=True)
class Magnitudes:
    """The sizes and magnitudes the bounds depend on (see the module docstring)."""

    tokens: int
    width: int  # H; 0 when the logits are given
    vocabulary: int
    logits: float  # mu
    counted: int  # n_c
    denominator: float  # D
    loss_factor: float  # A
    z_factor: float  # B
    hidden: float = 0.0  # eta
    weight: float = 0.0  # omega

    @classmethod
    def of_logits(cls, logits, target, options: LMOptions = LMOptions(),
                  upstream=None) -> Magnitudes:
        """The magnitudes of a logits-level problem.

        Examples
        --------
        >>> m = Magnitudes.of_logits(np.array([[3.0, -1.0]]), np.array([0]))
        >>> m.logits, m.counted, m.loss_factor
        (3.0, 1, 1.0)
        """
        logits = as_array(logits)
        return cls._of(logits.shape[0], 0, logits.shape[1], float(np.abs(logits).max()),
                       target, options, upstream)

    @classmethod
    def of_fused(cls, hidden, weight, target, bias=None, options: LMOptions = LMOptions(),
                 upstream=None) -> Magnitudes:
        """The magnitudes of a fused problem (``logits = hidden @ weight.T + bias``)."""
        hidden, weight = as_array(hidden), as_array(weight)
        row_norms = np.sqrt(np.einsum("ij,ij->i", hidden, hidden, dtype=np.float64))
        weight_norms = np.sqrt(np.einsum("ij,ij->i", weight, weight, dtype=np.float64))
        mu = float(row_norms.max() * weight_norms.max())
        if bias is not None:
            mu += float(np.abs(as_array(bias)).max())
        base = cls._of(hidden.shape[0], hidden.shape[1], weight.shape[0], mu, target, options,
                       upstream)
        return cls(**{**base.__dict__, "hidden": float(np.abs(hidden).max()),
                      "weight": float(np.abs(weight).max())})

    @classmethod
    def _of(cls, n, width, vocabulary, mu, target, options, upstream) -> Magnitudes:
        target = np.asarray(as_array(target) if hasattr(target, "detach") else target)
        counted = counted_tokens(target, options)
        denominator = math.fsum(token_weights(target, counted, options))
        count = int(counted.sum())
        up = 1.0 if upstream is None else float(np.abs(as_array(upstream)).max())
        if options.reduction == "mean":
            a = up / denominator if denominator > 0 else 0.0
            b = up / count if count else 0.0
        else:
            a = b = up
        return cls(n, width, vocabulary, mu, count, denominator, a, b)


@dataclass(frozen=True)
class LMTolerances:
    """Tolerances on ``max |user - oracle|`` of each output (the loss: per token for ``none``),
    the roundoffs they were derived at, and the probability that the probabilistic bound fails
    (0 for the worst case)."""

    loss: float
    logits: float
    hidden: float
    weight: float
    bias: float
    unit_roundoff: float
    accumulation_roundoff: float
    failure_probability: float


def tolerances(dtype, magnitudes: Magnitudes, options: LMOptions = LMOptions(),
               probabilistic: bool = True) -> LMTolerances:
    """``SAFETY`` times (the rounding bound at ``dtype`` plus the oracle's own at float64), on
    the largest error of each output, from the magnitudes alone (before any evaluation).  These
    a-priori bounds take maxima over every token and class and are loose (the weight gradient's
    by orders of magnitude at the Llama-3 size); the oracle's ``dtype=`` gives per-entry bounds
    from its own probabilities, which a judge should prefer.

    Examples
    --------
    >>> m = Magnitudes.of_logits(np.zeros((4, 8)), np.array([0, 1, 2, 3]))
    >>> t32, t16 = tolerances("float32", m), tolerances("bfloat16", m)
    >>> 1e-7 < t32.logits < 1e-5 < t16.logits < 1
    True
    """
    u = unit_roundoff(dtype)
    v = min(u, _FLOAT32)
    user = _bounds(u, v, magnitudes, options, probabilistic)
    oracle = _bounds(_FLOAT64, _FLOAT64, magnitudes, options, probabilistic=False)
    combined = [_SAFETY * (a + b) for a, b in zip(user, oracle)]
    return LMTolerances(*combined, unit_roundoff=u, accumulation_roundoff=v,
                        failure_probability=_failure(v, magnitudes) if probabilistic else 0.0)


def gamma(n: int, v: float, probabilistic: bool) -> float:
    """The relative error bound of a sum of ``n`` terms accumulated at roundoff ``v``: the
    probabilistic one where it is the smaller (from n > LAMBDA^2 = 144 on).

    Examples
    --------
    >>> gamma(1000, 2.0**-24, False) > gamma(1000, 2.0**-24, True)
    True
    """
    worst = n * v / (1 - n * v) if n * v < 1 else math.inf
    if probabilistic:
        return min(worst, math.expm1(LAMBDA * math.sqrt(n) * v + n * v * v / (1 - v)))
    return worst


def _failure(v: float, m: Magnitudes) -> float:
    return _union(v, m.tokens, m.vocabulary, m.width)


def _union(v: float, n: int, vocabulary: int, width: int) -> float:
    """Union bound over every sum, each of n terms failing with probability 2 n e^{-lambda^2
    (1 - v)^2 / 2}: N V of length H, N (and N H for the hidden gradient) of length V, 1 of
    length N and V H of length N."""
    per_term = 2 * math.exp(-(LAMBDA * (1 - v)) ** 2 / 2)
    terms = (n * vocabulary * width + n * vocabulary * (1 + width) + n * (1 + vocabulary * width))
    return min(1.0, per_term * terms)


def failure_probability(rounding: Roundoffs, n: int, vocabulary: int, width: int) -> float:
    """The probability that a probabilistic entry bound fails somewhere (0 for worst case)."""
    return _union(rounding.user_accumulation, n, vocabulary, width) if rounding.probabilistic \
        else 0.0


def _bounds(u, v, m: Magnitudes, options: LMOptions, probabilistic: bool):
    """(loss, logits, hidden, weight, bias): the first-order bounds of the module docstring."""
    g = lambda n, v=v: gamma(max(n, 1), v, probabilistic)  # noqa: E731
    v = u  # elementwise operations round at u; only the sums (g) accumulate at v
    eps, z, cap = options.label_smoothing, options.z_loss, options.softcap
    weights = options.class_weights
    c_w = 1.0 if weights is None else ((1 - eps) * float(weights.max())
                                       + eps / m.vocabulary * math.fsum(weights))
    mu_capped = m.logits if cap is None else min(m.logits, cap)
    log_v = math.log(m.vocabulary)
    big_l = mu_capped + log_v
    ds = (g(m.width) + 2 * u) * m.logits if m.width else 0.0
    ds_capped = ds if cap is None else ds + (3 * v + u) * mu_capped
    dl = ds_capped + v * (2 * mu_capped + 3) + g(m.vocabulary) + (v + u) * big_l
    e = ds_capped + dl + 2 * v + u
    dp_max, dp_sum = e + (v + u) / math.e, e + (v + u) * log_v
    cross = c_w * (2 * mu_capped + log_v)
    d_cross = c_w * (ds_capped + dl) + (2 * (v + u) + g(m.vocabulary)) * cross
    d_z = z * (2 * big_l * dl + (2 * v + u) * big_l**2)
    loss = _loss_bound(u, m, options, g, cross, d_cross, d_z, z * big_l**2)
    r = m.loss_factor * c_w + 2 * z * m.z_factor * big_l
    extra = (3 * v + u + (g(m.tokens) if options.reduction == "mean" else 0.0)) * r
    if cap is not None:
        extra += r * (2 * (ds + v * m.logits) / cap + 4 * v + u)
    d_g = m.loss_factor * c_w * dp_max + 2 * z * m.z_factor * (big_l * dp_max + dl) + extra
    d_row = m.loss_factor * c_w * dp_sum + 2 * z * m.z_factor * (big_l * dp_sum + dl) + 2 * extra
    hidden = m.weight * (d_row + 2 * g(m.vocabulary) * r) + 2 * u * r * m.weight
    column = m.counted * (d_g + g(m.tokens) * r) + u * m.counted * r
    return loss, d_g, hidden, m.hidden * column, column


def _loss_bound(u, m, options, g, cross, d_cross, d_z, z_size) -> float:
    if options.reduction == "none":
        return d_cross + d_z + u * (cross + z_size)
    if options.reduction == "sum":
        return m.counted * (d_cross + d_z + (g(m.tokens) + u) * (cross + z_size))
    ratio = m.counted / m.denominator if m.denominator > 0 else 0.0
    return (ratio * (d_cross + 2 * g(m.tokens) * cross) + d_z + g(m.tokens) * z_size
            + u * (ratio * cross + z_size))


# --- Entry by entry, from the oracle's own probabilities (``dtype=`` of the oracle's functions) --
#
# The normwise bounds above take maxima over tokens and classes, and are loose by orders of
# magnitude for the weight and bias gradients, whose entries are mostly sums of tiny p_ij.  The
# oracle can instead bound every entry from its own p_ij and lse_i, with the same model and the
# same first-order terms (per token i, class j; mu_i = max_j |s_ij|, its logits' size, and ds_i
# their error: 0 for given logits, Gamma_H sigma_i + 2 u mu_i in the fused form, with sigma_i =
# |h_i|_2 max_j |W_j|_2 + max |b| >= sum_k |h_ik W_jk| + |b_j|):
#
#     dl_i   = ds'_i + v (2 mu'_i + 3) + Gamma_V + (v + u) |lse_i|
#     dp_ij <= p_ij (E_i + (v + u) |log p_ij|),   E_i = ds'_i + dl_i + 2 v + u
#     M_ij   = F_i p_ij + a_i (1 - eps) w_y [j = y] + a_i (eps / V) w_j,  F_i = a_i c_i + 2 z b_i |lse_i|
#     dG_ij <= F_i dp_ij + 2 z b_i p_ij dl_i + (3 v + u + Gamma_N [mean]) M_ij
#              (with a softcap: times d = 1 - tanh^2, plus M_ij (2 (u + 2 v) + d 2 (ds_i + v mu_i) / c):
#              1 - t^2 from a rounded t = tanh(s / c) is off by 2 (u + 2 v) absolutely, not relatively)
#              + (F_i + 1) tiny   (p and G stored below the dtype's smallest normal number, tiny)
#     hidden: sum_j (dG_ij + Gamma_V M'_ij) |W_jk| + u |dh_ik|;  weight: sum_i (dG_ij + Gamma_N
#     M'_ij) |h_ik| + u |dW_jk|;  bias: sum_i (dG_ij + Gamma_N M'_ij) + u |db_j|  (M' = M (1 - tanh^2))
#
# and the loss from each token's own cross-entropy and lse; the tokens' errors add up in the mean
# and the sum as ``Roundoffs.over_tokens`` says (probabilistically: LAMBDA times their root sum
# of squares).  User and oracle roundoffs add (every term is linear in them); each bound is
# multiplied by SAFETY.


@dataclass(frozen=True)
class Roundoffs:
    """The roundoffs the entry bounds are derived at: the user's dtype plus the oracle's float64
    (``u = storage``, ``v = accumulation``)."""

    storage: float
    accumulation: float
    probabilistic: bool
    user_accumulation: float
    smallest_normal: float

    @classmethod
    def of(cls, dtype, probabilistic: bool = True) -> Roundoffs:
        u = unit_roundoff(dtype)
        v = min(u, _FLOAT32)
        return cls(u + _FLOAT64, v + _FLOAT64, probabilistic, v,
                   SMALLEST_NORMAL[dtype_name(dtype)])

    def gamma(self, n: int) -> float:
        n = max(n, 1)
        return gamma(n, self.user_accumulation, self.probabilistic) + gamma(n, _FLOAT64, False)

    def over_tokens(self, bounds: np.ndarray) -> float:
        """A bound on ``sum_i e_i`` where each token's error ``|e_i| <= bounds_i``: the sum, or,
        probabilistically, the smaller of that and ``LAMBDA sqrt(sum bounds_i^2)`` (the tokens'
        errors are first-order sums of disjoint roundings, so independent and of mean zero under
        the model; Hoeffding's inequality fails with probability at most 2 e^{-LAMBDA^2 / 2}).

        Examples
        --------
        >>> r = Roundoffs.of("bfloat16")
        >>> r.over_tokens(np.ones(10_000)) == 1200.0, Roundoffs.of("float32", False).over_tokens(np.ones(4))
        (True, 4.0)
        """
        total = float(np.sum(bounds))
        if not self.probabilistic:
            return total
        return min(total, LAMBDA * float(np.sqrt(np.sum(np.square(bounds)))))


def token_entry_bounds(rounding: Roundoffs, probabilities, log_probabilities, derivative,
                       label, counted, loss_scale, z_scale, lse, cross, logit_size, logit_error,
                       tokens: int, options: LMOptions):
    """For one chunk of tokens: ``dG`` (T x V, the bound of each logits-gradient entry),
    ``M'`` (T x V, the size of its terms) and, per token, the bounds of the cross-entropy and
    z-loss terms (see the comment above), ``tokens`` being the batch's N.  Ignored tokens get 0
    everywhere."""
    u, g = rounding.storage, rounding.gamma
    v = u  # elementwise operations round at u (eager PyTorch stores each result in the dtype)
    vocabulary = probabilities.shape[1]
    eps, z, cap = options.label_smoothing, options.z_loss, options.softcap
    weights = options.class_weights
    weight_label = 1.0 if weights is None else weights[label]
    weight_sum = vocabulary if weights is None else math.fsum(weights)
    c = (1 - eps) * weight_label + eps / vocabulary * weight_sum
    size = logit_size if cap is None else np.minimum(logit_size, cap)
    ds = logit_error if cap is None else logit_error + (3 * v + u) * size
    size_lse = np.abs(lse)
    dl = ds + v * (2 * size + 3) + g(vocabulary) + (v + u) * size_lse
    e = ds + dl + 2 * v + u
    a, b = np.abs(loss_scale) * counted, np.abs(z_scale) * counted
    factor = a * c + 2 * z * b * size_lse
    with np.errstate(invalid="ignore"):
        spread = np.where(probabilities > 0, -log_probabilities, 0.0)
    bound = probabilities * (e[:, None] + (v + u) * spread)
    bound *= factor[:, None]
    bound += (2 * z * b * dl)[:, None] * probabilities
    magnitude = factor[:, None] * probabilities
    rows = np.arange(len(probabilities))
    magnitude[rows, label] += a * (1 - eps) * weight_label
    if eps:
        offset = a * eps / vocabulary
        magnitude += offset[:, None] if weights is None else np.multiply.outer(offset, weights)
    bound += (3 * v + u + (g(tokens) if options.reduction == "mean" else 0.0)) * magnitude
    bound += ((factor + 1) * rounding.smallest_normal * counted)[:, None]  # p and G underflowing
    if derivative is not None:  # 1 - t^2 from a rounded t = tanh: absolute error 2 (u + 2 v)
        bound *= derivative
        bound += magnitude * (2 * (u + 2 * v)
                              + derivative * (2 * (logit_error + v * logit_size) / cap)[:, None])
        magnitude *= derivative
    cross_bound = (c * (ds + dl) + (2 * (v + u) + g(vocabulary)) * cross) * counted
    z_bound = z * (2 * size_lse * dl + (2 * v + u) * size_lse**2) * counted
    return bound, magnitude, cross_bound, z_bound
