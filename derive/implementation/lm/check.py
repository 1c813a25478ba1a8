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

In bfloat16 and float16 a function judged correct is judged again with float32 inputs
(:data:`LOW_PRECISION`, :data:`FORMULA_DTYPE`): their rounding can hide a wrong formula at the
sizes judged, and a mistake named in float32 is the verdict, said as seen there.

Beside it, the **baseline-relative** verdict: the function's error against the oracle divided by
the error of a plain same-dtype PyTorch evaluation (``derive.oracle.lm.baseline``); at most
:data:`BASELINE_FACTOR` is "as accurate as PyTorch".

An all-ignored batch under ``mean`` divides 0 by 0: a loss of NaN (PyTorch's) or 0 is accepted
there, every gradient must be exactly 0, and the report says which loss it gave.

Work is bounded by the sizes asked for: the user's tensors, the oracle's float64 copies of them
and of the gradients judged, chunked over tokens (``derive.oracle.lm.exact``, 1 GiB working
set), and one plain PyTorch evaluation in the dtype (the baseline: N x V logits and their
gradient).  Above ``FULL_GRADIENT_WORK`` multiply-adds the fused form's gradients are judged on
subsets of tokens and vocabulary rows (said in the report), the loss always whole.  What
this holds at its peak (:func:`required_memory`) is known before anything is drawn, and a check
that needs more than ``memory`` GiB (default: half of the machine's physical memory, as
``derive.implementation.check.default_memory``) is refused with a one-line ``ValueError``.

The plan at scale.  Above ``SCALE_WORK`` (the multiply-adds of one oracle pass, :func:`work`)
the whole option matrix is judged at the default sizes (``DEFAULT_SIZES``: fast, the same
function), and at the user's sizes only the combinations of :func:`at_scale` (the first
reduction judged, and ``none`` with its random upstream gradient if the function takes a
reduction; each with every option it takes on and some tokens ignored), on one drawn head
(hidden, weight and bias shared; targets, upstream and class weights drawn for each).  The
report says which (``inferred``, ``LMTrial.sizes``) and how long the user's own calls took
(``LMReport.user_seconds``).  When the matrix already fails at the default sizes, the user's
sizes are not judged (said in the report).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from checks.tolerances import TOLERANCE_CAP
from derive.core.display import Displayed
from derive.implementation.check import (
    CORRECT, CRASHED, DEFAULT_TIME_LIMIT, IMPRECISE, UNPROVEN, UNSTABLE, WRONG, checked_time_limit,
    function_name, require_memory, require_torch,
)
from derive.implementation.conventions import UserCodeError
from derive.implementation.isolation import start_thread, thread_result
from derive.implementation.judge import Compared, Comparison, compare
from derive.implementation.lm import conventions as lm_conventions
from derive.implementation.lm.conventions import (
    FUSED, LOGITS, LMConvention, LMOutput, infer_convention,
)
from derive.implementation.lm.inputs import (
    ALL_IGNORED, OFF, PAD_ID, Combination, combinations, draw, rounded,
)
from derive.implementation.lm.mistakes import name_mistake
from derive.implementation.mistakes import Mistake
from derive.oracle.lm import LMOptions, cross_entropy, fused_linear_cross_entropy
from derive.oracle.lm.baseline import baseline_error
from derive.oracle.lm.bounds import UNIT_ROUNDOFF, Magnitudes, tolerances
from derive.oracle.lm.exact import DEFAULT_MEMORY_BYTES

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
class LMTrial(Compared):
    """One combination, and how the function's outputs compared there."""

    combination: Combination
    comparisons: tuple[Comparison, ...]
    baseline_ratio: float | None  # the function's error / plain PyTorch's (worst output)
    mutated: tuple[str, ...]
    note: str | None = None  # e.g. the loss it gave at an all-ignored mean
    sizes: dict | None = None  # the sizes it was judged at (None: the report's)


@dataclass(frozen=True, repr=False)
class LMReport(Displayed):
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
    user_seconds: float = 0.0  # spent in the function's own calls and backward passes
    device: str = "cpu"
    formula: "LMReport | None" = None  # the same function judged in FORMULA_DTYPE (bf16, fp16)

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
    device: str = "cpu",
    memory: float | None = None,
) -> LMReport:
    """Judge ``fn``, a PyTorch cross-entropy of a language-model head, against the exact oracle.

    ``kind`` is ``"logits"`` or ``"fused-linear"`` (told from the signature by default);
    ``samples``, ``hidden``, ``vocab`` are N, H (fused form only) and V; ``dtype`` one of
    float32, bfloat16, float16, float64.  An option given here is, for a function that takes it,
    the only value judged, and otherwise what the function is declared to compute.  ``device``
    ("cpu" or "cuda") is where the function's tensors are made (and the baseline runs).  Raises
    ``ConventionError`` or ``ValueError`` for bad arguments (a device this machine lacks
    included); the function's failures are its verdict.  Above ``SCALE_WORK`` the check is
    planned at scale (module docstring).  ``memory``: the GiB the check may hold
    (:func:`required_memory`; default half of this machine's memory), more is refused.

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
    device = lm_conventions.checked_device(device)
    time_limit = checked_time_limit(time_limit)
    convention = infer_convention(fn, kind)
    sizes = _sizes(convention.kind, samples, hidden, vocab)
    require_memory(required_memory(convention.kind, sizes), memory, shown_sizes(sizes))
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
    judged = [(sizes, combination) for combination in plan]
    first_large = len(judged)  # the index of the first combination judged at scale, if any
    if work(convention.kind, sizes) > SCALE_WORK:
        small = _sizes(convention.kind, None, None, None)
        chosen = at_scale(plan)
        judged = [(small, combination) for combination in plan] + [
            (sizes, combination) for combination in chosen]
        first_large = len(plan)
        inferred += (_scale_line(convention.kind, sizes, small, chosen),)
    if convention.kind == FUSED and work(FUSED, sizes) > FULL_GRADIENT_WORK:
        inferred += (f"judged entries: dhidden of {min(sizes['samples'], JUDGED_TOKENS)} "
                     f"tokens, dweight and dbias of {min(sizes['vocab'], JUDGED_ROWS)} vocabulary "
                     f"rows (row 0, those tokens' targets, random ones) per combination at "
                     f"N = {sizes['samples']}; the loss whole",)
    if device != "cpu":
        inferred += (f"device: {device} (the function's tensors and the baseline; the oracle "
                     f"on the CPU)",)
    trials: list[LMTrial] = []
    spots: list = []
    user_seconds = 0.0
    formula = None

    def report(verdict, mistake: Mistake | None):
        return LMReport(name, convention, sizes, dtype, tuple(trials), verdict,
                        mistake.name if mistake and verdict != CRASHED else None,
                        mistake.explanation if mistake else None, inferred,
                        max((spot.worst_error for spot in spots), default=None),
                        time.perf_counter() - started, time_limit, user_seconds, device, formula)

    verdict, mistake = CORRECT, None
    precisions: list[str | None] = []  # per unnamed failure, the lower precision it is within
    head: dict = {}  # at scale: the fused head drawn once, shared by the combinations there
    for index, (drawn_sizes, combination) in enumerate(judged):
        if index == first_large and verdict != CORRECT:
            inferred += (f"not judged at N = {sizes['samples']}: the check already failed at "
                         f"the default sizes",)
            break
        where = f" at N = {sizes['samples']}" if index >= first_large else ""
        say(f"{name}: {combination.label}{where} ({index + 1} of {len(judged)})")
        arrays = _drawn(convention.kind, drawn_sizes, combination, dtype, seed, index,
                        head if index >= first_large else None)
        called = convention if combination.bias else replace(convention, bias=False)
        if not called.bias:
            arrays.pop("bias", None)
        if called.kind == FUSED:
            arrays.update(_judged_subsets(drawn_sizes, arrays["target"], seed, index))
        options = _call_options(combination, arrays)
        pending = start_thread(lambda: lm_conventions.call(
            fn, called, arrays, options, dtype, bias_keyword, device))
        try:
            output = thread_result(pending, time.monotonic() + time_limit, time_limit)
        except UserCodeError as error:
            return report(CRASHED, Mistake("crashed", f"{name} {error}"))
        user_seconds += output.seconds
        if output.explicit and not convention.explicit:
            convention = replace(convention, explicit=True)
            called = replace(called, explicit=True)
        oracle_options = _oracle_options(combination, arrays)
        upstream = np.ones_like(arrays["upstream"]) if output.explicit else arrays["upstream"]
        exact = _exact(convention.kind, arrays, oracle_options, upstream, dtype)
        if index in (0, first_large):  # once at each size
            spots.append(_spot_check(convention.kind, arrays, oracle_options, upstream, exact))
        trial, limits = _judge(called, combination, arrays, oracle_options, upstream, exact,
                               output, dtype, device)
        trial = replace(trial, sizes=drawn_sizes)
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
    spot = next((spot for spot in spots if not spot.ok), None)
    if spot is not None:
        return report(UNPROVEN, Mistake("oracle failed its spot check", (
            f"derive's float64 oracle is {spot.worst_error:.2g} from the 50-digit reference: derive "
            f"cannot judge here (a bug in derive; please report it)")))
    if dtype in LOW_PRECISION and verdict == CORRECT:
        at_scale_plan = first_large < len(judged)
        formula_sizes = DEFAULT_SIZES if at_scale_plan else sizes
        formula = check_lm_implementation(
            fn, kind=convention.kind, samples=formula_sizes["samples"],
            hidden=formula_sizes["hidden"] if convention.kind == FUSED else None,
            vocab=formula_sizes["vocab"], dtype=FORMULA_DTYPE, **declared, seed=seed,
            time_limit=time_limit, device=device, memory=memory,
            progress=lambda line: say(f"{FORMULA_DTYPE}: {line}"))
        user_seconds += formula.user_seconds
        inferred += (_formula_line(formula, dtype),)
        if formula.verdict == WRONG and formula.mistake is not None:
            verdict, mistake = WRONG, Mistake(formula.mistake, (
                f"{formula.explanation} (seen when judged in {FORMULA_DTYPE} at "
                f"{shown_sizes(formula.sizes)}: {dtype}'s rounding hides it at the sizes judged)"))
    return report(verdict, mistake)


#: The dtypes whose rounding can hide a formula mistake at the sizes judged: eps/(V-1) for eps/V
#: moves each probability by eps/(V(V-1)), 1.3e-4 at V = 40, eps = 0.2, under bfloat16's unit
#: roundoff of 2^-9 of values near 1.  A function judged correct in one of them is judged again,
#: its inputs in ``FORMULA_DTYPE`` (its own sizes, or the default ones when they are planned at
#: scale), and a mistake named there is the verdict; any other outcome there is only reported (a
#: kernel may run in bfloat16 alone, or compute in it whatever its inputs).
LOW_PRECISION = ("bfloat16", "float16")
FORMULA_DTYPE = "float32"


def _formula_line(formula: LMReport, dtype: str) -> str:
    """The report's line on the check of the formula in ``FORMULA_DTYPE``."""
    outcome = formula.verdict + (f": {formula.mistake}" if formula.mistake else "")
    return (f"formula: also judged in {FORMULA_DTYPE} at {shown_sizes(formula.sizes)} "
            f"({dtype}'s rounding can hide a formula mistake): {outcome}")


def shown_sizes(sizes: dict) -> str:
    """``N = 16, H = 12, V = 40`` (H only in the fused form), as the reports write sizes."""
    return ", ".join(f"{letter} = {sizes[key]}" for letter, key in
                     (("N", "samples"), ("H", "hidden"), ("V", "vocab")) if sizes.get(key))


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
#: Above this much work of one oracle pass (:func:`work`) the check is planned at scale: the
#: option matrix at ``DEFAULT_SIZES``, the user's sizes at :func:`at_scale`'s combinations only.
#: At 2e8 one combination at the user's sizes costs a few seconds (oracle, bounds, baseline).
SCALE_WORK = 2 * 10**8
#: The work of one logit at the logits level, in multiply-adds of the fused form's matmul: its
#: exp, log, gradient and bound in float64 and the baseline's pass cost about as much as this.
LOGIT_WORK = 64


def work(kind: str, sizes: dict) -> int:
    """The multiply-adds of one oracle pass: ``N V H`` in the fused form, ``N V LOGIT_WORK``
    at the logits level.

    Examples
    --------
    >>> work(FUSED, {"samples": 512, "hidden": 2048, "vocab": 128_256})
    134486163456
    """
    width = sizes["hidden"] if kind == FUSED else LOGIT_WORK
    return sizes["samples"] * sizes["vocab"] * width


def at_scale(plan: list[Combination]) -> list[Combination]:
    """The combinations judged at the user's sizes when they are large: at the first reduction
    of ``plan`` (the declared one, else mean) and at ``none`` if the plan has it (its backward
    driven by a random upstream gradient per token), the combination with some tokens ignored
    and the most options on.

    Examples
    --------
    >>> from derive.implementation.lm.inputs import combinations
    >>> plan = combinations({"reduction": "reduction", "ignore_index": "ignore_index",
    ...                      "z_loss": "z_loss"}, {})
    >>> [c.label for c in at_scale(plan)]
    ['mean, ignore_index=-100, z_loss=0.05', 'none, ignore_index=-100, z_loss=0.05']
    """
    def richness(combination: Combination):
        values = combination.values
        on = sum(value != OFF[name] for name, value in values.items() if name != "reduction")
        return combination.ignored == "some", values["ignore_index"] != PAD_ID, on

    chosen = []
    for reduction in dict.fromkeys([plan[0].values["reduction"], "none"]):
        candidates = [c for c in plan if c.values["reduction"] == reduction and c.bias
                      and c.ignored != ALL_IGNORED]
        if candidates:
            chosen.append(max(candidates, key=richness))
    return chosen


def _scale_line(kind: str, sizes: dict, small: dict, chosen: list[Combination]) -> str:
    """The report's line on the plan at scale."""
    return (f"plan at scale ({work(kind, sizes):.1e} multiply-adds a pass > {SCALE_WORK:.0e}): "
            f"every combination at the default sizes {shown_sizes(small)}; at "
            f"{shown_sizes(sizes)} only "
            + "; ".join(c.label for c in chosen) + (" (one drawn head shared)" if kind == FUSED
                                                     and len(chosen) > 1 else ""))


def _drawn(kind: str, sizes: dict, combination: Combination, dtype: str, seed: int, index: int,
           head: dict | None) -> dict:
    """``draw``'s arrays; with ``head`` (at scale, fused form) the hidden, weight and bias are
    drawn once, kept in ``head`` and shared, and each combination draws only its targets,
    upstream and class weights (a draw at H = 1, its own tensors dropped): the costly draw of
    a V x H weight happens once."""
    if head is None or kind != FUSED:
        return draw(kind, sizes, combination, dtype, seed, index)
    if head:
        return dict(draw(kind, dict(sizes, hidden=1), combination, dtype, seed, index), **head)
    arrays = draw(kind, sizes, combination, dtype, seed, index)
    head.update({name: arrays[name] for name in ("hidden", "weight", "bias")})
    return arrays


def _judged_subsets(sizes: dict, target: np.ndarray, seed: int, index: int) -> dict:
    """``tokens`` and ``rows`` (sorted indices) of the gradients judged, when the problem is
    larger than ``FULL_GRADIENT_WORK``; nothing (every entry judged) otherwise."""
    n, vocabulary = sizes["samples"], sizes["vocab"]
    if work(FUSED, sizes) <= FULL_GRADIENT_WORK:
        return {}
    rng = np.random.default_rng([seed, index, 1])
    tokens = np.sort(rng.choice(n, min(n, JUDGED_TOKENS), replace=False))
    wanted = [0] + [int(t) for t in target[tokens] if 0 <= t < vocabulary]
    wanted += [int(r) for r in rng.choice(vocabulary, min(vocabulary, JUDGED_ROWS), replace=False)]
    rows = np.array(sorted(dict.fromkeys(wanted)))[:JUDGED_ROWS]
    return {"tokens": tokens, "rows": np.sort(rows)}


#: The peak of a check beyond the oracle's chunk, in float64 numbers per N V (logits form: the
#: drawn logits and their rounding, the function's tensor, its copy and gradient, the gradient
#: in float64, the comparison's and the baseline's arrays; fused form: the baseline's logits and
#: their gradient in the dtype) and per N H + V H (fused form: hidden and weight drawn, the
#: function's tensors and gradients, the gradients in float64).  Measured as the growth of the
#: process's peak resident memory (float32, V = 32000): logits N = 128, 256, 1024: 532, 1003,
#: 2274 MiB, the formula 564, 1064, 3338 MiB (bfloat16 N = 256: 781); fused N = 64, H = 256,
#: 512: 380, 511 MiB, the formula 393, 580 MiB.  A bound, not an estimate.
PEAK_PER_NV = {LOGITS: 9, FUSED: 2}
PEAK_PER_NH_VH = 3
#: The oracle's chunk (``derive.oracle.lm.exact``): 7 float64 arrays of chunk x V with the
#: bounds, at most its 1 GiB budget; and what any check holds (the torch runtime's buffers).
ORACLE_PER_NV, FIXED_PEAK = 7, 64 * 2**20


def required_memory(kind: str, sizes: dict) -> int:
    """The bytes a check of the ``kind`` form at ``sizes`` holds at its peak (the function's
    own working memory aside): ``8 (c N V + 3 (N H + V H))`` (``c`` of :data:`PEAK_PER_NV`; the
    second term in the fused form only), plus the oracle's chunk, ``min(56 N V, 1 GiB)``, and
    64 MiB.

    Examples
    --------
    >>> required_memory("logits", {"samples": 16, "hidden": None, "vocab": 40}) - FIXED_PEAK
    81920
    """
    n, width, vocabulary = sizes["samples"], sizes["hidden"] or 0, sizes["vocab"]
    held = PEAK_PER_NV[kind] * n * vocabulary + PEAK_PER_NH_VH * (n + vocabulary) * width
    oracle = min(8 * ORACLE_PER_NV * n * vocabulary, DEFAULT_MEMORY_BYTES)
    return 8 * held + oracle + FIXED_PEAK


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
           options: LMOptions, upstream, exact, output: LMOutput, dtype: str,
           device: str = "cpu"):
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
    comparisons = [compare_in_dtype("loss", loss.reshape(exact_loss.shape)
                                    if loss.size == exact_loss.size else loss, exact_loss,
                                    limits["loss"], dtype)]
    for name in convention.differentiated:
        comparisons.append(compare_in_dtype(f"d{name}", output.gradients[name],
                                            getattr(exact, name), limits[name], dtype))
    ratio, overflowed = (None, ()) if combination.ignored == ALL_IGNORED else _baseline_ratio(
        convention, arrays, options, upstream, exact, output, dtype, device)
    if overflowed:
        note = (f"no baseline for {', '.join(overflowed)}: plain PyTorch in {dtype} gave inf or "
                f"NaN there")
    return LMTrial(combination, tuple(comparisons), ratio, output.mutated, note), limits


def compare_in_dtype(name: str, user, exact, tolerance, dtype: str) -> Comparison:
    """``judge.compare`` for an output of a torch ``dtype`` (bfloat16 included: its spacing is
    float32's times 2^16); a ``user`` array of another shape than ``exact`` is NaN, never
    agreement."""
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
                    exact, output: LMOutput, dtype: str,
                    device: str = "cpu") -> tuple[float | None, tuple[str, ...]]:
    """The function's largest error over plain same-dtype PyTorch's (``derive.oracle.lm.
    baseline``), worst over the outputs, and the outputs PyTorch's plain evaluation got
    infinite or NaN (float16's sum overflows at 65504): those have no baseline and are left out
    (None when no output has one), never a ratio of 0.  An error below one unit roundoff of an
    output's size counts as that much in both (so an exact baseline is no division by 0)."""
    tensors = {name: arrays[name] for name in convention.differentiated}
    errors = baseline_error(exact, arrays["target"], lm_conventions.torch_dtype(dtype), options,
                            upstream, device=device, **tensors)
    roundoff = UNIT_ROUNDOFF[dtype]
    ratios, overflowed = [], []
    for name in ("loss",) + convention.differentiated:
        expected = np.asarray(exact.loss if name == "loss" else getattr(exact, name))
        user = np.asarray(output.loss if name == "loss" else output.gradients[name])
        if user.size != expected.size:
            return math.inf, ()
        theirs = getattr(errors, name)
        if not math.isfinite(theirs):
            overflowed.append(name if name == "loss" else f"d{name}")
            continue
        with np.errstate(all="ignore"):
            difference = np.abs(user.reshape(expected.shape) - expected)
        mine = float(difference.max()) if np.all(np.isfinite(difference)) else math.inf
        floor = roundoff * float(np.abs(expected).max()) or float(np.finfo(np.float64).tiny)
        ratios.append(max(mine, floor) / max(theirs, floor))
    return (max(ratios) if ratios else None), tuple(overflowed)
