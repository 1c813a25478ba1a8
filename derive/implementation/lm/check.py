"""``check_lm_implementation``: judge a language-model cross-entropy (PyTorch) against the
exact oracle of ``derive.oracle.lm``, option combination by option combination.

At each combination of :func:`~derive.implementation.lm.inputs.combinations` the function is
called once, on a thread of its own within ``time_limit`` seconds
(``derive.implementation.isolation``), at random inputs rounded to ``dtype``; its loss and the
gradient of every differentiated input (the logits; or hidden, weight and bias) are compared,
entry by entry, with the oracle's at the same numbers, each within the tolerance derived for the
dtype from rounding analysis (``derive.oracle.lm.bounds``).  The verdicts are those of
``derive.implementation.check``: ``correct``, ``wrong`` (with a named mistake of
:mod:`derive.implementation.lm.mistakes` when one fits), ``unstable`` (NaN or inf where the
oracle is finite: never agreement), ``crashed``, ``unproven`` (the oracle's float64 evaluation
disagreed with its 50-digit spot check).

Beside it, the **baseline-relative** verdict: the function's error against the oracle divided by
the error of a plain same-dtype PyTorch evaluation (``derive.oracle.lm.baseline``); at most
:data:`BASELINE_FACTOR` is "as accurate as PyTorch".

An all-ignored batch under ``mean`` divides 0 by 0: a loss of NaN (PyTorch's) or 0 is accepted
there, every gradient must be exactly 0, and the report says which loss it gave.

Work is bounded by the sizes asked for: the user's tensors, the oracle's float64 copies of them
and of the gradients judged, chunked over tokens (``derive.oracle.lm.exact``, 1 GiB working
set), and one plain PyTorch evaluation in the dtype (the baseline: N x V logits and their
gradient).  Above ``FULL_GRADIENT_WORK`` multiply-adds the fused form's gradients are judged on
subsets of tokens and vocabulary rows (said in the report), the loss always whole.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from checks.tolerances import TOLERANCE_CAP
from derive.implementation.check import (
    CORRECT, CRASHED, DEFAULT_TIME_LIMIT, IMPRECISE, UNPROVEN, UNSTABLE, WRONG, checked_time_limit,
    function_name, require_torch,
)
from derive.implementation.conventions import UserCodeError
from derive.implementation.isolation import start_thread, thread_result
from derive.implementation.judge import Comparison, compare
from derive.implementation.lm import conventions as lm_conventions
from derive.implementation.lm.conventions import FUSED, LMConvention, LMOutput, infer_convention
from derive.implementation.lm.inputs import ALL_IGNORED, Combination, combinations, draw, rounded
from derive.implementation.lm.mistakes import name_mistake
from derive.implementation.mistakes import Mistake
from derive.oracle.lm import LMOptions, cross_entropy, fused_linear_cross_entropy
from derive.oracle.lm.baseline import baseline_error
from derive.oracle.lm.bounds import UNIT_ROUNDOFF, Magnitudes, tolerances

#: Sizes when none are given: small, so a check takes well under a second.
DEFAULT_SIZES = {"samples": 16, "hidden": 12, "vocab": 40}
#: "As accurate as PyTorch": the function's error at most this many times a plain same-dtype
#: PyTorch evaluation's (both against the exact oracle), at every combination and output.  A
#: measured margin, not a derived bound: the right implementations of examples/llm are at most
#: 6.0 (the chunked one in float32, V from 8 to 4000, seeds 0 and 1; its float32 sums differ
#: from PyTorch's by a few ulps), each planted mistake at least 74 (bfloat16) and 1e5 (float32).
BASELINE_FACTOR = 16.0
IN_PLACE = "gradient written into the caller's logits in place"
CHANGED = "changes its arguments"
#: The tolerance of a value that must be exactly 0 (an all-ignored batch): any nonzero fails.
_EXACTLY = float(np.finfo(np.float64).tiny)


@dataclass(frozen=True)
class LMTrial:
    """One combination, and how the function's outputs compared there."""

    combination: Combination
    comparisons: tuple[Comparison, ...]
    baseline_ratio: float | None  # the function's error / plain PyTorch's (worst output)
    mutated: tuple[str, ...]
    note: str | None = None  # e.g. the loss it gave at an all-ignored mean

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.comparisons)

    @property
    def finite(self) -> bool:
        return all(c.finite for c in self.comparisons)


@dataclass(frozen=True)
class LMReport:
    """The verdict on one language-model cross-entropy implementation."""

    function: str
    convention: LMConvention | None
    sizes: dict
    dtype: str
    trials: tuple[LMTrial, ...]
    verdict: str
    mistake: str | None
    explanation: str | None
    inferred: tuple[str, ...]  # what derive read from the signature or assumed, one line each
    spot_check_error: float | None
    seconds: float
    time_limit: float = DEFAULT_TIME_LIMIT

    @property
    def ok(self) -> bool:
        """Correct, and as accurate as plain PyTorch (where the rounding bound is too loose to
        resolve a mistake, the baseline still shows it): what exit status 0 means."""
        return self.verdict == CORRECT and self.as_accurate_as_pytorch is not False

    @property
    def baseline_ratio(self) -> float | None:
        ratios = [t.baseline_ratio for t in self.trials if t.baseline_ratio is not None]
        return max(ratios) if ratios else None

    @property
    def as_accurate_as_pytorch(self) -> bool | None:
        ratio = self.baseline_ratio
        return None if ratio is None else ratio <= BASELINE_FACTOR

    def __str__(self) -> str:
        from derive.report.lm import lm_text

        return lm_text(self)


def check_lm_implementation(
    fn: Callable,
    *,
    kind: str | None = None,
    samples: int | None = None,
    hidden: int | None = None,
    vocab: int | None = None,
    dtype: str = "float32",
    reduction: str | None = None,
    ignore_index: int | None = None,
    label_smoothing: float | None = None,
    z_loss: float | None = None,
    softcap: float | None = None,
    seed: int = 0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    progress: Callable[[str], None] | None = None,
) -> LMReport:
    """Judge ``fn``, a PyTorch cross-entropy of a language-model head, against the exact oracle.

    ``kind`` is ``"logits"`` or ``"fused-linear"`` (told from the signature by default);
    ``samples``, ``hidden``, ``vocab`` are N, H (fused form only) and V; ``dtype`` one of
    float32, bfloat16, float16, float64.  An option given here is, for a function that takes it,
    the only value judged, and otherwise what the function is declared to compute.  Raises
    ``ConventionError`` or ``ValueError`` for bad arguments; the function's failures are its
    verdict.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> def loss(logits, target, reduction="mean"):
    ...     return F.cross_entropy(logits, target, reduction=reduction)
    >>> check_lm_implementation(loss, samples=8, vocab=10).verdict
    'correct'
    >>> def summed(logits, target, reduction="mean"):
    ...     return F.cross_entropy(logits, target, reduction="sum" if reduction == "mean" else reduction)
    >>> check_lm_implementation(summed, samples=8, vocab=10).verdict
    'wrong'
    """
    started = time.perf_counter()
    say = progress or (lambda line: None)
    require_torch()
    lm_conventions.torch_dtype(dtype)
    time_limit = checked_time_limit(time_limit)
    convention = infer_convention(fn, kind)
    sizes = _sizes(convention.kind, samples, hidden, vocab)
    declared = dict(reduction=reduction, ignore_index=ignore_index,
                    label_smoothing=label_smoothing, z_loss=z_loss, softcap=softcap)
    LMOptions(**{k: v for k, v in declared.items() if v is not None})  # ValueError if bad
    plan = combinations(convention.takes, declared)
    if lm_conventions.optional_bias(fn, convention):
        plan.append(replace(plan[0], bias=False))
    bias_keyword = (lm_conventions.bias_name(fn) if convention.bias
                    and convention.parameters is None else None)
    name = function_name(fn)
    inferred = _inferred(convention, declared)
    if convention.kind == FUSED and sizes["samples"] * sizes["vocab"] * sizes["hidden"] \
            > FULL_GRADIENT_WORK:
        inferred += (f"judged entries: dhidden of {min(sizes['samples'], JUDGED_TOKENS)} "
                     f"tokens, dweight and dbias of {min(sizes['vocab'], JUDGED_ROWS)} vocabulary "
                     f"rows (row 0, those tokens' targets, random ones) per combination; the loss "
                     f"whole",)
    trials: list[LMTrial] = []
    spot = None

    def report(verdict, mistake: Mistake | None):
        return LMReport(name, convention, sizes, dtype, tuple(trials), verdict,
                        mistake.name if mistake and verdict != CRASHED else None,
                        mistake.explanation if mistake else None, inferred,
                        None if spot is None else spot.worst_error,
                        time.perf_counter() - started, time_limit)

    verdict, mistake = CORRECT, None
    precisions: list[str | None] = []  # per unnamed failure, the lower precision it is within
    for index, combination in enumerate(plan):
        say(f"{name}: {combination.label} ({index + 1} of {len(plan)})")
        arrays = draw(convention.kind, sizes, combination, dtype, seed, index)
        called = convention if combination.bias else replace(convention, bias=False)
        if not called.bias:
            arrays.pop("bias", None)
        if called.kind == FUSED:
            arrays.update(_judged_subsets(sizes, arrays["target"], seed, index))
        options = _call_options(combination, arrays)
        pending = start_thread(lambda: lm_conventions.call(
            fn, called, arrays, options, dtype, bias_keyword))
        try:
            output = thread_result(pending, time.monotonic() + time_limit, time_limit)
        except UserCodeError as error:
            return report(CRASHED, Mistake("crashed", f"{name} {error}"))
        output = _restricted(output, arrays)
        if output.explicit and not convention.explicit:
            convention = replace(convention, explicit=True)
            called = replace(called, explicit=True)
        oracle_options = _oracle_options(combination, arrays)
        upstream = np.ones_like(arrays["upstream"]) if output.explicit else arrays["upstream"]
        exact = _exact(convention.kind, arrays, oracle_options, upstream, dtype)
        if index == 0:
            spot = _spot_check(convention.kind, arrays, oracle_options, upstream, exact)
        trial, limits = _judge(called, combination, arrays, oracle_options, upstream, exact,
                               output, dtype)
        trials.append(trial)
        if verdict == CORRECT and not trial.finite:
            verdict, mistake = UNSTABLE, Mistake("NaN or inf", (
                f"at {combination.label} it returned NaN or inf where the exact values are finite"))
        elif verdict in (CORRECT, WRONG) and mistake is None and not trial.ok and trial.finite:
            # named at the first combination whose failure a known mistake explains
            verdict, mistake = WRONG, name_mistake(called, arrays, oracle_options, upstream,
                                                   exact, output, trial, limits)
            if mistake is None:
                precisions.append(_lower_precision(called, arrays, oracle_options, upstream,
                                                   exact, output, dtype))
        if trial.mutated and verdict in (CORRECT, WRONG) and mistake is None:
            verdict, mistake = WRONG, _changed(trial)
    if verdict == WRONG and mistake is None and precisions and precisions[0] is not None \
            and len(set(precisions)) == 1 and all(trial.finite for trial in trials):
        verdict, mistake = IMPRECISE, Mistake(f"{precisions[0]} precision", (
            f"agrees with the oracle at {precisions[0]} precision, not {dtype}: it computes in "
            f"{precisions[0]} (compute in {dtype}, or judge it with --dtype {precisions[0]})"))
    if spot is not None and not spot.ok:
        return report(UNPROVEN, Mistake("oracle failed its spot check", (
            f"derive's float64 oracle is {spot.worst_error:.2g} from the 50-digit reference: derive "
            f"cannot judge here (a bug in derive; please report it)")))
    return report(verdict, mistake)


def _changed(trial: LMTrial) -> Mistake:
    """The mistake of a function that changed its caller's tensors."""
    name = IN_PLACE if "logits" in trial.mutated else CHANGED
    return Mistake(name, (
        f"it changes {', '.join(trial.mutated)} in place, its caller's tensors (at "
        f"{trial.combination.label}): its gradient must go to .grad, the inputs left as they were"))


#: The precisions below each judged dtype that a right formula computed in them would show.
_LOWER = {"float64": "float32", "float32": "bfloat16"}


def _lower_precision(convention: LMConvention, arrays: dict, options: LMOptions, upstream,
                     exact, output: LMOutput, dtype: str) -> str | None:
    """The lower precision whose derived tolerances every output is within, when its outputs
    are that precision's numbers and those tolerances resolve each output (below
    ``TOLERANCE_CAP`` of its size): a right formula computed in it, never a wrong one whose
    error hides in a loose bound."""
    lower = _LOWER.get(dtype)
    if lower is None:
        return None
    limits = _tolerances(convention, arrays, options, upstream, exact, lower)
    values = {"loss": output.loss, **output.gradients}
    for name, limit in limits.items():
        expected = np.asarray(exact.loss if name == "loss" else getattr(exact, name), dtype=float)
        user = np.asarray(values[name], dtype=np.float64)
        scale = float(np.abs(expected).max(initial=0.0))
        if user.size != expected.size or not np.all(
                np.abs(user.reshape(expected.shape) - expected) <= limit) \
                or not limit < TOLERANCE_CAP.value * scale \
                or not np.array_equal(rounded(user, lower), user):
            return None
    return lower


#: Above this many multiply-adds (N V H) the fused form's gradients are judged on subsets:
#: the hidden gradient of ``JUDGED_TOKENS`` tokens and the weight and bias gradients of
#: ``JUDGED_ROWS`` vocabulary rows (row 0, the judged tokens' targets, then random rows), so the
#: float64 oracle costs ``2 N V H`` (the logits) plus ``2 (JUDGED_TOKENS V + N JUDGED_ROWS) H``
#: instead of ``6 N V H``.  The loss is always judged whole.
FULL_GRADIENT_WORK = 2 * 10**8
JUDGED_TOKENS = 32
JUDGED_ROWS = 256


def _judged_subsets(sizes: dict, target: np.ndarray, seed: int, index: int) -> dict:
    """``tokens`` and ``rows`` (sorted indices) of the gradients judged, when the problem is
    larger than ``FULL_GRADIENT_WORK``; nothing (every entry judged) otherwise."""
    n, width, vocabulary = sizes["samples"], sizes["hidden"], sizes["vocab"]
    if n * vocabulary * width <= FULL_GRADIENT_WORK:
        return {}
    rng = np.random.default_rng([seed, index, 1])
    tokens = np.sort(rng.choice(n, min(n, JUDGED_TOKENS), replace=False))
    wanted = [0] + [int(t) for t in target[tokens] if 0 <= t < vocabulary]
    wanted += [int(r) for r in rng.choice(vocabulary, min(vocabulary, JUDGED_ROWS), replace=False)]
    rows = np.array(sorted(dict.fromkeys(wanted)))[:JUDGED_ROWS]
    return {"tokens": tokens, "rows": np.sort(rows)}


def _restricted(output: LMOutput, arrays: dict) -> LMOutput:
    """The output with its gradients cut to the judged ``tokens`` and ``rows``, if any."""
    gradients = dict(output.gradients)
    if "tokens" in arrays:
        gradients["hidden"] = gradients["hidden"][arrays["tokens"]]
    if "rows" in arrays:
        for name in ("weight", "bias"):
            if name in gradients:
                gradients[name] = gradients[name][arrays["rows"]]
    return replace(output, gradients=gradients)


def _sizes(kind: str, samples, hidden, vocab) -> dict:
    sizes = {"samples": samples, "hidden": hidden if kind == FUSED else None, "vocab": vocab}
    for name, value in sizes.items():
        if value is None:
            if name == "hidden" and kind != FUSED:
                continue
            sizes[name] = DEFAULT_SIZES[name]
        elif isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or value < (2 if name == "vocab" else 1):
            raise ValueError(f"{name} must be an integer >= {2 if name == 'vocab' else 1}, "
                             f"not {value!r}")
        else:
            sizes[name] = int(value)
    if hidden is not None and kind != FUSED:
        raise ValueError("hidden (H) is a size of the fused linear form only")
    return sizes


def _inferred(convention: LMConvention, declared: dict) -> tuple[str, ...]:
    """What derive read from the signature or assumed, for the report."""
    takes = convention.takes
    source = "its parameters" if convention.parameters is not None else "the signature"
    lines = [f"form: {convention.kind} (from {source})"]
    if takes:
        lines.append("options it takes (varied): " + ", ".join(
            name if name == option else f"{option} (as {name})" for option, name in takes.items()))
    fixed = [f"{option}={value}" for option, value in declared.items()
             if value is not None and option not in takes]
    if fixed:
        lines.append("declared, computed inside it: " + ", ".join(fixed))
    if "reduction" not in takes and declared.get("reduction") is None:
        lines.append("reduction: mean (assumed: it takes no reduction and none was declared)")
    return tuple(lines)


def _call_options(combination: Combination, arrays: dict) -> dict:
    """The option values passed to the function (class weights as the drawn array)."""
    values = combination.values
    if values["class_weights"] is not None:
        values["class_weights"] = arrays["class_weights"]
    return values


def _oracle_options(combination: Combination, arrays: dict) -> LMOptions:
    values = _call_options(combination, arrays)
    return LMOptions(**values)


def _exact(kind: str, arrays: dict, options: LMOptions, upstream, dtype: str | None = None, **changes):
    """The oracle's loss and gradients at ``arrays`` (``changes``: other option values); with
    ``dtype``, also each entry's tolerance for an implementation in it (``result.bounds``)."""
    if changes:
        options = LMOptions(**{**_fields(options), **changes})
    if kind == FUSED:
        return fused_linear_cross_entropy(arrays["hidden"], arrays["weight"], arrays["target"],
                                          arrays.get("bias"), options, upstream,
                                          tokens=arrays.get("tokens"), rows=arrays.get("rows"), dtype=dtype)
    return cross_entropy(arrays["logits"], arrays["target"], options, upstream, dtype=dtype)


def _fields(options: LMOptions) -> dict:
    return dict(reduction=options.reduction, ignore_index=options.ignore_index,
                label_smoothing=options.label_smoothing, z_loss=options.z_loss,
                softcap=options.softcap, class_weights=options.class_weights)


def _spot_check(kind: str, arrays: dict, options: LMOptions, upstream, exact):
    from derive.oracle.lm.reference import spot_check, spot_check_fused

    if kind == FUSED:
        return spot_check_fused(arrays["hidden"], arrays["weight"], arrays["target"], exact,
                                arrays.get("bias"), options, upstream)
    return spot_check(arrays["logits"], arrays["target"], exact, options, upstream)


def _judge(convention: LMConvention, combination: Combination, arrays: dict,
           options: LMOptions, upstream, exact, output: LMOutput, dtype: str):
    """The trial at one combination, and the tolerance of every output (by name)."""
    loss, note = output.loss, None
    exact_loss = np.asarray(exact.loss, dtype=np.float64)
    if combination.ignored == ALL_IGNORED:
        # Exactly 0 everywhere (the loss under mean: NaN, PyTorch's 0/0, or 0; said in the note).
        limits = {name: _EXACTLY for name in ("loss",) + convention.differentiated}
        if options.reduction == "mean":
            value = float(loss.reshape(-1)[0]) if loss.size == 1 else math.inf
            note = ("loss NaN (as PyTorch: 0/0)" if math.isnan(value) else
                    "loss 0 (a division by max(count, 1))" if value == 0 else None)
            exact_loss = np.zeros_like(exact_loss)
            loss = np.zeros_like(loss) if note else loss
    else:
        limits = _tolerances(convention, arrays, options, upstream, exact, dtype, entrywise=True)
    comparisons = [_compare("loss", loss.reshape(exact_loss.shape) if loss.size == exact_loss.size
                            else loss, exact_loss, limits["loss"], dtype)]
    for name in convention.differentiated:
        comparisons.append(_compare(f"d{name}", output.gradients[name], getattr(exact, name),
                                    limits[name], dtype))
    ratio = None if combination.ignored == ALL_IGNORED else _baseline_ratio(
        convention, arrays, options, upstream, exact, output, dtype)
    return LMTrial(combination, tuple(comparisons), ratio, output.mutated, note), limits


def _compare(name: str, user, exact, tolerance, dtype: str) -> Comparison:
    """``judge.compare``, its ulps in ``dtype`` (bfloat16's spacing is float32's times 2^16)."""
    user = np.asarray(user, dtype=np.float64)
    if user.shape != np.shape(exact):
        user = np.full(np.shape(exact), np.nan)
    if dtype != "bfloat16":
        return compare(name, user, exact, tolerance, np.dtype(dtype))
    result = compare(name, user, exact, tolerance, np.float32)
    from dataclasses import replace

    return replace(result, ulps=result.ulps / 2.0**16)


def _tolerances(convention: LMConvention, arrays: dict, options: LMOptions, upstream, exact,
                dtype: str, entrywise: bool = False) -> dict:
    """The tolerance of the loss and of each gradient, derived for ``dtype`` by
    ``derive.oracle.lm.bounds``: with ``entrywise``, entry by entry as the oracle computed them
    for ``dtype`` (``exact.bounds``), else one number per output from these inputs' magnitudes
    (looser: for the precision below the one judged)."""
    if entrywise and exact.bounds is not None:
        return {name: getattr(exact.bounds, name) for name in ("loss",) + convention.differentiated}
    if convention.kind == FUSED:
        magnitudes = Magnitudes.of_fused(arrays["hidden"], arrays["weight"], arrays["target"],
                                         arrays.get("bias"), options, upstream)
    else:
        magnitudes = Magnitudes.of_logits(arrays["logits"], arrays["target"], options, upstream)
    limits = tolerances(dtype, magnitudes, options)
    return {name: getattr(limits, name) for name in ("loss",) + convention.differentiated}


def _baseline_ratio(convention: LMConvention, arrays: dict, options: LMOptions, upstream,
                    exact, output: LMOutput, dtype: str) -> float | None:
    """The function's largest error over plain same-dtype PyTorch's (``derive.oracle.lm.
    baseline``), worst over the outputs; an error below one unit roundoff of an output's size
    counts as that much in both (so an exact baseline is no division by 0)."""
    tensors = {name: arrays[name] for name in convention.differentiated}
    errors = baseline_error(exact, arrays["target"], lm_conventions.torch_dtype(dtype), options,
                            upstream, **tensors)
    roundoff = UNIT_ROUNDOFF[dtype]
    ratios = []
    for name in ("loss",) + convention.differentiated:
        expected = np.asarray(exact.loss if name == "loss" else getattr(exact, name))
        user = np.asarray(output.loss if name == "loss" else output.gradients[name])
        if user.size != expected.size:
            return math.inf
        with np.errstate(all="ignore"):
            difference = np.abs(user.reshape(expected.shape) - expected)
        mine = float(difference.max()) if np.all(np.isfinite(difference)) else math.inf
        floor = roundoff * float(np.abs(expected).max()) or float(np.finfo(np.float64).tiny)
        ratios.append(max(mine, floor) / max(getattr(errors, name), floor))
    return max(ratios)
