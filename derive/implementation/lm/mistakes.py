"""Name the known mistakes of a language-model cross-entropy whose outputs are off.

Each mistake is a *candidate*: the oracle evaluated as the mistaken code computes (the upstream
gradient replaced by ones or by its first entry; label smoothing 0, or ``eps V/(V-1)``, which is
exactly the target distribution ``1 - eps`` on the target and ``eps/(V-1)`` on each other class;
half the z-loss weight), or a pattern in the outputs (nonzero gradient rows at ignored tokens; a
mean over every token; a bias gradient an integer multiple, 2 or more, of the exact one).  A
candidate names the mistake when every gradient (or the loss) that is off agrees with it within
the same tolerances, so a mistake is named only when it explains all that is wrong.
"""

from __future__ import annotations

import numpy as np

from derive.implementation.lm.conventions import LOGITS, LMConvention, LMOutput
from derive.implementation.mistakes import Mistake

UPSTREAM_IGNORED = "upstream gradient ignored"
UPSTREAM_FIRST = "upstream gradient taken from its first entry"
IGNORED_COUNTED = "ignored tokens counted in the denominator"
IGNORED_GRADIENT = "ignored tokens given a gradient"
SMOOTHING_MISSING = "label smoothing missing from the backward"
SMOOTHING_OTHERS = "label smoothing eps/(V-1) instead of eps/V"
SOFTCAP_DERIVATIVE = "softcap derivative missing"
Z_LOSS_FACTOR = "z-loss factor"
BIAS_PER_CHUNK = "bias gradient summed once per chunk"

_EXPLANATIONS = {
    UPSTREAM_IGNORED: "the backward does not multiply by the upstream gradient (grad_output): "
                      "right only when it is 1, as in tests that back-propagate ones",
    UPSTREAM_FIRST: "with reduction='none' the backward multiplies every token by grad_output[0], "
                    "not by its own entry",
    IGNORED_COUNTED: "the mean divides by every token, ignored ones included, not by the tokens "
                     "counted",
    IGNORED_GRADIENT: "tokens whose target is ignore_index get a nonzero gradient row (theirs must "
                      "be exactly 0)",
    SMOOTHING_MISSING: "the loss has label smoothing but the gradient does not: the backward uses "
                       "the one-hot target",
    SMOOTHING_OTHERS: "the gradient spreads eps as eps/(V-1) over the other classes, not eps/V over "
                      "all V (PyTorch's definition, which the loss uses)",
    SOFTCAP_DERIVATIVE: "the gradient is not multiplied by the softcap's derivative "
                        "1 - tanh(s/c)^2",
    Z_LOSS_FACTOR: "the z-loss gradient is z lse p, not 2 z lse p (the derivative of z lse^2)",
    BIAS_PER_CHUNK: "the bias gradient is {factor} times the exact one: the whole batch's sum is "
                    "added once per chunk",
}


def _mistake(name: str, **values) -> Mistake:
    return Mistake(name, _EXPLANATIONS[name].format(**values))


def name_mistake(convention: LMConvention, arrays: dict, options, upstream, exact,
                 output: LMOutput, trial, limits: dict) -> Mistake | None:
    """The known mistake that explains every output that is off at ``trial``, or None."""
    from derive.implementation.lm.check import _exact

    names = convention.differentiated
    failing = [c.name for c in trial.comparisons if not c.ok]
    gradients_off = [name for name in names if f"d{name}" in failing]

    def matches(candidate) -> bool:
        return all(_within(output.gradients[name], getattr(candidate, name), limits[name])
                   for name in names)

    def distance(candidate) -> float:
        """How far the function's gradients are from ``candidate``'s, in tolerances."""
        return max(_ratio(output.gradients[name], getattr(candidate, name), limits[name])
                   for name in names)

    counted = arrays["target"] != options.ignore_index if options.ignore_index is not None \
        else np.ones(len(arrays["target"]), dtype=bool)
    first_gradient = output.gradients[names[0]]
    judged = counted if "tokens" not in arrays else counted[arrays["tokens"]]
    if "loss" in failing and options.reduction == "mean" and options.class_weights is None \
            and _within(output.loss, np.asarray(exact.loss) * counted.sum() / len(counted),
                        limits["loss"]):
        return _mistake(IGNORED_COUNTED)
    if gradients_off and "loss" not in failing:
        if (~judged).any() and np.any(first_gradient[~judged] != 0) and names[0] in (
                "logits", "hidden"):
            return _mistake(IGNORED_GRADIENT)
        fits = []
        for name, changes, pattern in _candidates(options, arrays, upstream):
            if pattern is not None:
                candidate = _exact(convention.kind, arrays, options, pattern)
            else:
                candidate = _exact(convention.kind, arrays, options, upstream, **changes)
            fits.append((distance(candidate), name))
        closest = min(fits)
        if closest[0] <= 1:  # the candidate nearest the function's gradients, if within tolerance
            return _mistake(closest[1])
        if convention.kind == LOGITS and options.softcap is not None and matches(
                _uncapped(arrays, exact, options)):
            return _mistake(SOFTCAP_DERIVATIVE)
        factor = _bias_factor(output, exact, limits, gradients_off)
        if factor is not None:
            return _mistake(BIAS_PER_CHUNK, factor=factor)
    return None


def _candidates(options, arrays, upstream):
    """(name, changed options, changed upstream) of each oracle-evaluated candidate."""
    result = [(UPSTREAM_IGNORED, {}, np.ones_like(upstream))]
    if options.reduction == "none" and upstream.size > 1:
        result.append((UPSTREAM_FIRST, {}, np.full_like(upstream, upstream.reshape(-1)[0])))
    eps = options.label_smoothing
    vocabulary = len(arrays["logits"][0]) if "logits" in arrays else len(arrays["weight"])
    if eps:
        result.append((SMOOTHING_MISSING, {"label_smoothing": 0.0}, None))
        if options.class_weights is None and vocabulary > 1 and eps * vocabulary / (
                vocabulary - 1) <= 1:
            result.append((SMOOTHING_OTHERS, {"label_smoothing": eps * vocabulary
                                              / (vocabulary - 1)}, None))
    if options.z_loss:
        result.append((Z_LOSS_FACTOR, {"z_loss": options.z_loss / 2}, None))
    return result


def _uncapped(arrays, exact, options):
    """The logits gradient without the softcap's derivative: the exact one over it."""
    from types import SimpleNamespace

    x = arrays["logits"] / options.softcap
    decay = np.exp(-2.0 * np.abs(x))
    return SimpleNamespace(logits=exact.logits / (4.0 * decay / (1.0 + decay) ** 2))


def _bias_factor(output: LMOutput, exact, limits, gradients_off) -> int | None:
    """An integer k >= 2 when only the bias gradient is off and it is k times the exact one."""
    if gradients_off != ["bias"]:
        return None
    exact_bias = exact.bias
    scale = float(np.abs(exact_bias).max())
    if scale == 0:
        return None
    factor = float(np.abs(output.gradients["bias"]).max()) / scale
    k = int(round(factor))
    if k >= 2 and _within(output.gradients["bias"], k * exact_bias, k * limits["bias"]):
        return k
    return None


def _ratio(user, candidate, tolerance) -> float:
    """``max |user - candidate| / tolerance``; inf when not finite or not of the same shape."""
    user = np.asarray(user, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if user.shape != candidate.shape or not np.all(np.isfinite(user)):
        return np.inf
    difference = np.abs(user - candidate)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(difference == 0, 0.0, difference / np.broadcast_to(tolerance, user.shape))
    return float(np.max(ratios, initial=0.0))


def _within(user, candidate, tolerance) -> bool:
    user = np.asarray(user, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if user.shape != candidate.shape or not np.all(np.isfinite(user)):
        return False
    return bool(np.all(np.abs(user - candidate) <= np.broadcast_to(tolerance, user.shape)))
