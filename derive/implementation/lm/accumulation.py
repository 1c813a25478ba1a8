"""``check_accumulation``: judge a gradient-accumulation step (PyTorch) against the gradient of
the full batch, with micro-batches of unequal numbers of non-ignored tokens.

Convention.  The user's ``step(model, micro_batches)`` gets ``model = torch.nn.Linear(H, V,
bias=True)`` in the judged dtype (seeded weights, no gradients yet) and ``micro_batches``, a list
of ``(inputs, targets)``: inputs ``(B_m, H)`` in the dtype, targets ``(B_m,)`` int64, ignored
tokens ``ignore_index``.  It runs its forwards and backwards so that the batch's gradient ends up
accumulated in ``model.weight.grad`` and ``model.bias.grad`` (``None`` reads as 0, said in the
report); it may return the loss it would log (a number or a one-entry tensor), judged against
the full batch's loss, or ``None`` (the loss is then not judged).  ``ignore_index`` and
``reduction`` are passed by keyword when ``step`` has parameters of those names; otherwise the
declared values (default -100 and ``mean``) are what it is assumed to compute, and the report
says so.  It runs on a thread of its own within ``time_limit`` seconds
(``derive.implementation.isolation``); whatever it raises is ``crashed``, NaN or inf is
``unstable`` (never agreement), and changing the micro-batches' tensors or the model's weights in
place is ``wrong``.

Trials, each a seeded random draw of the same head as the language-model check
(``derive.implementation.lm.inputs.draw``): (a) :data:`EQUAL` micro-batches of (nearly) equal
length whose non-ignored shares are 100%, 75% ... 25% and one token; (b) :data:`PACKED`
micro-batches of unequal lengths (packed sequences), a quarter of the tokens ignored (and, when
``step`` takes ``ignore_index`` and none is declared, ignored by the id ``PAD_ID`` = 0, as pad
tokens often are, so a step that takes the parameter but ignores it shows); (c)
:data:`ONE_IGNORED`: the second micro-batch wholly ignored (a per-micro-batch mean divides 0 by
0 there).

Oracle and tolerances.  The exact loss and gradients are those of the full batch (the
micro-batches concatenated) from ``derive.oracle.lm.fused_linear_cross_entropy`` in float64 at
the dtype's numbers: ``mean`` over all non-ignored tokens of all micro-batches (or ``sum``).
Micro-batch m alone, reduced by ``sum``, gives ``C_m`` (its summed token losses' loss and
gradients), the per-entry bound ``B_m`` of an implementation in the dtype (``result.bounds``,
``derive.oracle.lm.bounds``: forward, backward, the weight and bias gradients' sums over its
tokens) and ``A_m = |X_m|^T |G_m|`` (and ``sum_i |G_m|``, ``|C_m.loss|``), the size of the terms
its gradient sums.  An accumulation with coefficients ``c_m`` (right: ``1 / T`` for ``mean``, T
the non-ignored tokens of all micro-batches; 1 for ``sum``) computes ``sum_m c_m C_m``; all bounds
are linear in the upstream gradient, so micro-batch m's error is at most ``|c_m| B_m``, and, per
entry, with u the dtype's unit roundoff and ``S`` = ``checks.tolerances`` ``safety``::

    tol = max(B_full, sum_m |c_m| B_m + S gamma_{M-1}(u) sum_m |c_m| |C_m|)
          + S (SCALE_ROUNDINGS u sum_m |c_m| A_m + (N + 1) tiny)

``gamma_{M-1}(u) sum |c_m C_m|`` bounds adding M contributions in the dtype (``.grad``
accumulates in the parameter's dtype: Higham 3.1), ``SCALE_ROUNDINGS`` roundings of the scale
(``1 / T`` rounded, a mean's division, a multiplication by ``n_m / T``; each a relative ``u``
on a term of size at most ``A_m``), ``tiny`` the dtype's smallest normal number (underflow), and
``B_full`` the oracle's bound for the whole batch in one pass (a right step may also concatenate
its micro-batches).  The loss takes the same form with ``|C_m.loss|``.

Named mistakes (:func:`_candidates`): each a candidate ``sum_m c_m C_m`` with the mistaken
coefficients (:data:`PER_MICRO_BATCH_MEAN` ``1 / (M n_m)``, :data:`MICRO_BATCHES_MISSING`
``1 / n_m``, :data:`DIVIDED_TWICE` ``1 / (n_m T)`` or ``1 / T^2``, :data:`ZEROED_IN_LOOP` the last
micro-batch's ``1 / T`` alone, :data:`IGNORED_COUNTED` ``1 / N``; an empty micro-batch's mean
contributes 0; under ``sum`` only the last micro-batch's 1 alone), within its own tolerance
(the first form above without ``B_full``).  It names the mistake when the weight and bias
gradients (and the loss, if that is off too) agree with it; when only the returned loss is off,
a candidate that explains the loss alone is named for the loss.  A mismatch no candidate
explains is ``wrong`` with the largest difference shown.

Work is bounded: the check holds float64 arrays of about ``(3 M + 6) V (H + 1) + 10 N V`` numbers
(each micro-batch's contribution, bound and size; the full batch's; the logits gradient of a
micro-batch; :func:`required_memory`) and refuses sizes that need more than ``memory`` GiB
(default half of the machine's physical memory, as ``derive.implementation.check``) with a
``ValueError``.

Examples
--------
>>> import torch.nn.functional as F
>>> def step(model, micro_batches, ignore_index=-100):
...     total = sum(int((t != ignore_index).sum()) for _, t in micro_batches)
...     for x, t in micro_batches:
...         loss = F.cross_entropy(model(x), t, ignore_index=ignore_index, reduction="sum")
...         (loss / total).backward()
>>> check_accumulation(step).verdict
'correct'
>>> def hugging_face(model, micro_batches):
...     for x, t in micro_batches:
...         (F.cross_entropy(model(x), t) / len(micro_batches)).backward()
>>> check_accumulation(hugging_face).mistake
'per-micro-batch mean'
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from checks.tolerances import IMPLEMENTATION
from derive.core.display import Displayed
from derive.implementation.check import (
    CORRECT, CRASHED, DEFAULT_TIME_LIMIT, UNSTABLE, WRONG, checked_time_limit, function_name,
    require_memory, require_torch,
)
from derive.implementation.conventions import ConventionError, UserCodeError, run_user_code
from derive.implementation.isolation import start_thread, thread_result
from derive.implementation.judge import Compared, Comparison
from derive.implementation.lm.check import CHANGED, compare_in_dtype
from derive.implementation.lm.conventions import FUSED, changed_tensors, torch_dtype
from derive.implementation.lm.inputs import IGNORED_SHARE, PAD_ID, combinations, draw
from derive.implementation.mistakes import Mistake
from derive.oracle.lm import LMOptions, as_array, fused_linear_cross_entropy
from derive.oracle.lm.bounds import SMALLEST_NORMAL, UNIT_ROUNDOFF, gamma

#: Sizes when none are given: N tokens in all, H, V; four micro-batches of 8 tokens.
DEFAULT_SIZES = {"samples": 32, "hidden": 12, "vocab": 40}
DEFAULT_MICRO_BATCHES = 4
DEFAULT_IGNORE_INDEX = -100
REDUCTIONS = ("mean", "sum")
#: Roundings of a micro-batch's scale a right step may make (module docstring).
SCALE_ROUNDINGS = 4
_SAFETY = IMPLEMENTATION["safety"].value

EQUAL = "equal lengths, unequal counts"
PACKED = "unequal lengths (packed)"
ONE_IGNORED = "one micro-batch all ignored"
TRIALS = (EQUAL, PACKED, ONE_IGNORED)

PER_MICRO_BATCH_MEAN = "per-micro-batch mean"
MICRO_BATCHES_MISSING = "number of micro-batches missing"
DIVIDED_TWICE = "divided twice by the token count"
ZEROED_IN_LOOP = "gradients zeroed inside the loop"
IGNORED_COUNTED = "ignored tokens counted"

_EXPLANATIONS = {
    PER_MICRO_BATCH_MEAN: "each micro-batch's mean loss is divided by the number of "
                          "micro-batches: right only when every micro-batch holds as many "
                          "non-ignored tokens (the Hugging Face transformers bug); divide each "
                          "micro-batch's summed token losses by the non-ignored tokens of all "
                          "micro-batches",
    MICRO_BATCHES_MISSING: "each micro-batch's mean loss is accumulated as it is: about M times "
                           "the gradient, and weighted per micro-batch, not per token",
    DIVIDED_TWICE: "the loss is divided by the token count twice (a micro-batch's mean divided "
                   "again by the total count, or the sum by the count squared)",
    ZEROED_IN_LOOP: "only the last micro-batch's gradient is left: the gradients are zeroed "
                    "inside the loop, not once before it",
    IGNORED_COUNTED: "the denominator counts every token, ignored ones (padding) included, not "
                     "only the non-ignored ones",
}
_OUTPUTS = ("loss", "weight", "bias")


@dataclass(frozen=True)
class AccumulationConvention:
    """How ``step`` is called: the options it takes by keyword (``ignore_index``,
    ``reduction``).

    Examples
    --------
    >>> def step(model, micro_batches, ignore_index=-100): ...
    >>> infer_accumulation_convention(step).describe()[:46]
    'step(model, micro_batches, ignore_index=) -> l'
    """

    takes: tuple[str, ...]

    def describe(self) -> str:
        keywords = "".join(f", {name}=" for name in self.takes)
        return (f"step(model, micro_batches{keywords}) -> loss or None, gradients in "
                f"model.weight.grad, model.bias.grad")


def infer_accumulation_convention(fn) -> AccumulationConvention:
    """The options ``fn`` takes; ``ConventionError`` when it cannot be called as
    ``fn(model, micro_batches)``."""
    if not callable(fn):
        raise ConventionError(f"{fn!r} is not callable")
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as error:
        raise ConventionError(f"cannot read the parameters of {fn!r}: {error}") from None
    name = function_name(fn)
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 and not any(p.kind == p.VAR_POSITIONAL for p in parameters):
        raise ConventionError(f"{name}({', '.join(p.name for p in positional)}) does not take "
                              f"(model, micro_batches)")
    rest = [p for p in parameters[2:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    takes = tuple(option for option in ("ignore_index", "reduction")
                  if any(p.name == option for p in rest))
    required = [p.name for p in rest if p.default is p.empty and p.name not in takes]
    if required:
        raise ConventionError(f"{name} requires {', '.join(required)}, which derive does not know "
                              f"how to pass (it passes model, micro_batches, and ignore_index= "
                              f"and reduction= by keyword)")
    return AccumulationConvention(takes)


@dataclass(frozen=True)
class AccumulationTrial(Compared):
    """One trial: its micro-batches' lengths and non-ignored counts, and how the step's loss (if
    it returned one) and gradients compared with the full batch's."""

    label: str
    lengths: tuple[int, ...]
    counted: tuple[int, ...]
    ignore_index: int
    comparisons: tuple[Comparison, ...]
    loss_returned: bool
    mutated: tuple[str, ...]
    note: str | None = None


@dataclass(frozen=True, repr=False)
class AccumulationReport(Displayed):
    """The verdict on one gradient-accumulation step."""

    function: str
    convention: AccumulationConvention
    sizes: dict  # samples (N, all micro-batches), hidden, vocab, micro_batches
    dtype: str
    reduction: str
    ignore_index: int
    trials: tuple[AccumulationTrial, ...]
    verdict: str
    mistake: str | None
    explanation: str | None
    inferred: tuple[str, ...]
    seconds: float
    time_limit: float = DEFAULT_TIME_LIMIT

    @property
    def ok(self) -> bool:
        return self.verdict == CORRECT

    @property
    def loss_judged(self) -> bool:
        """Whether the step returned a loss (at some trial), judged against the full batch's."""
        return any(trial.loss_returned for trial in self.trials)

    def __str__(self) -> str:
        from derive.report.accumulation import accumulation_text

        return accumulation_text(self)


def check_accumulation(
    fn: Callable,
    *,
    samples: int | None = None,
    hidden: int | None = None,
    vocab: int | None = None,
    micro_batches: int = DEFAULT_MICRO_BATCHES,
    dtype: str = "float32",
    reduction: str | None = None,
    ignore_index: int | None = None,
    seed: int = 0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    progress: Callable[[str], None] | None = None,
    memory: float | None = None,
) -> AccumulationReport:
    """Judge ``step(model, micro_batches)``'s accumulated gradients (and returned loss) against
    the full batch's, at the three trials of the module docstring.

    ``samples`` is N, the tokens of all ``micro_batches`` together; ``hidden`` and ``vocab`` the
    head's H and V; ``dtype`` one of float32, bfloat16, float16, float64; ``reduction`` (mean or
    sum) and ``ignore_index`` are passed when ``step`` takes them, else what it is declared to
    compute.  ``memory``: the GiB the check may hold (:func:`required_memory`; default half of
    this machine's memory), more is refused.  Raises ``ConventionError`` or ``ValueError`` for
    bad arguments; the step's failures are its verdict.
    """
    started = time.perf_counter()
    say = progress or (lambda line: None)
    require_torch()
    torch_dtype(dtype)  # ValueError for a dtype not judged
    time_limit = checked_time_limit(time_limit)
    convention = infer_accumulation_convention(fn)
    sizes = _sizes(samples, hidden, vocab, micro_batches)
    require_memory(required_memory(sizes), memory,
                   f"N = {sizes['samples']}, H = {sizes['hidden']}, V = {sizes['vocab']} in "
                   f"{sizes['micro_batches']} micro-batches")
    declared_reduction, declared_index = reduction, ignore_index
    reduction = _reduction(reduction)
    ignore_index = _ignore_index(ignore_index)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    name = function_name(fn)
    inferred = _inferred(convention, dtype, {"ignore_index": declared_index is not None,
                                             "reduction": declared_reduction is not None},
                         ignore_index=ignore_index, reduction=reduction)
    trials: list[AccumulationTrial] = []

    def report(verdict: str, mistake: Mistake | None) -> AccumulationReport:
        return AccumulationReport(name, convention, sizes, dtype, reduction, ignore_index,
                                  tuple(trials), verdict,
                                  mistake.name if mistake and verdict != CRASHED else None,
                                  mistake.explanation if mistake else None, inferred,
                                  time.perf_counter() - started, time_limit)

    verdict, mistake = CORRECT, None
    for index, label in enumerate(TRIALS):
        say(f"{name}: {label} ({index + 1} of {len(TRIALS)})")
        ignored = (PAD_ID if label == PACKED and "ignore_index" in convention.takes
                   and declared_index is None else ignore_index)
        batch = _draw(label, sizes, dtype, ignored, int(seed), index)
        keywords = {option: value for option, value in (("ignore_index", ignored),
                                                        ("reduction", reduction))
                    if option in convention.takes}
        pending = start_thread(lambda batch=batch, keywords=keywords: _call(fn, batch, dtype,
                                                                            keywords))
        try:
            output = thread_result(pending, time.monotonic() + time_limit, time_limit)
        except UserCodeError as error:
            return report(CRASHED, Mistake("crashed", f"{name} {error}"))
        pieces = _Pieces.of(batch, dtype)
        options = LMOptions(reduction=reduction, ignore_index=ignored)
        exact = fused_linear_cross_entropy(batch.hidden, batch.weight, batch.target, batch.bias,
                                           options, tokens=[], dtype=dtype)
        trial = _judge(label, batch, pieces, exact, output, reduction, dtype)
        trials.append(trial)
        if verdict == CORRECT and not trial.finite:
            verdict, mistake = UNSTABLE, Mistake("NaN or inf", (
                f"at the trial '{label}' it gave NaN or inf where the exact values are finite"))
        elif verdict in (CORRECT, WRONG) and mistake is None and not trial.ok and trial.finite:
            verdict, mistake = WRONG, _name_mistake(trial, batch, pieces, output, reduction,
                                                    dtype)
        if trial.mutated and verdict in (CORRECT, WRONG) and mistake is None:
            verdict, mistake = WRONG, Mistake(CHANGED, (
                f"it changes {', '.join(trial.mutated)} in place (at the trial '{label}'): a step "
                f"must leave its caller's tensors and weights as they were, its gradients in "
                f".grad"))
    return report(verdict, mistake)


def _sizes(samples, hidden, vocab, micro_batches) -> dict:
    """The sizes, checked: ``ValueError`` with the argument's name for a bad one."""
    given = {"micro_batches": micro_batches, "hidden": hidden, "vocab": vocab,
             "samples": samples}
    sizes: dict = {}
    for name, value in given.items():
        least = {"micro_batches": 2, "vocab": 2, "samples": 2 * sizes.get("micro_batches", 2),
                 "hidden": 1}[name]
        if value is None:
            value = {**DEFAULT_SIZES, "micro_batches": DEFAULT_MICRO_BATCHES}[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            what = (f"an integer >= {least} (two tokens per micro-batch)" if name == "samples"
                    else f"an integer >= {least}")
            raise ValueError(f"{name} must be {what}, not {value!r}")
        sizes[name] = int(value)
    return sizes


def required_memory(sizes: dict) -> int:
    """The bytes of float64 arrays a check at ``sizes`` holds: ``8 ((3 M + 6) V (H + 1) + 10 N V)``
    (module docstring).

    Examples
    --------
    >>> required_memory({"samples": 32, "hidden": 12, "vocab": 40, "micro_batches": 4})
    177280
    """
    n, width, vocabulary, m = (sizes["samples"], sizes["hidden"], sizes["vocab"],
                               sizes["micro_batches"])
    return 8 * ((3 * m + 6) * vocabulary * (width + 1) + 10 * n * vocabulary)


def _reduction(reduction) -> str:
    if reduction is None:
        return "mean"
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be mean or sum for gradient accumulation, "
                         f"not {reduction!r}")
    return reduction


def _ignore_index(ignore_index) -> int:
    if ignore_index is None:
        return DEFAULT_IGNORE_INDEX
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise ValueError(f"ignore_index must be an integer, not {ignore_index!r}")
    return int(ignore_index)


def _inferred(convention: AccumulationConvention, dtype: str, declared: dict,
              **values) -> tuple[str, ...]:
    """What derive passed, read from the signature, or assumed, for the report (``declared``:
    whether each option's value was given)."""
    lines = [f"model: torch.nn.Linear(H, V) in {dtype}, seeded, no gradients yet; micro_batches: "
             f"[(inputs (B_m, H), targets (B_m,) int64), ...]"]
    for option, value in values.items():
        if option in convention.takes:
            pad = (f"; {PAD_ID} (a pad id) at the trial '{PACKED}'"
                   if option == "ignore_index" and not declared[option] else "")
            lines.append(f"{option}: {value}, passed by keyword (it takes {option}){pad}")
        elif declared[option]:
            lines.append(f"{option}: {value}, declared: computed inside it (it takes no {option})")
        else:
            lines.append(f"{option}: {value}, assumed computed inside it (it takes no {option} "
                         f"and none was declared)")
    return tuple(lines)


@dataclass(frozen=True)
class _Batch:
    """One trial's inputs: float64 arrays holding dtype numbers, the full batch's targets and
    where each micro-batch ends."""

    hidden: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    target: np.ndarray
    lengths: tuple[int, ...]
    counted: tuple[int, ...]
    ignore_index: int

    def parts(self):
        """Each micro-batch's ``(inputs, targets)``."""
        ends = np.cumsum(self.lengths)
        return [(self.hidden[end - length:end], self.target[end - length:end])
                for length, end in zip(self.lengths, ends)]


def _draw(label: str, sizes: dict, dtype: str, ignore_index: int, seed: int,
          index: int) -> _Batch:
    """The trial's random head and tokens (the language-model check's draw), its micro-batches'
    lengths and which of their tokens are ignored."""
    n, m, vocabulary = sizes["samples"], sizes["micro_batches"], sizes["vocab"]
    plain = combinations({}, {})[0]
    arrays = draw(FUSED, sizes, plain, dtype, seed, index)
    rng = np.random.default_rng([seed, index, 2])
    if label == PACKED:
        lengths = _unequal_lengths(n, m, rng)
        counted = [_some_counted(length, rng) for length in lengths]
    else:
        lengths = _equal_lengths(n, m)
        if label == EQUAL:
            counted = [_exactly_counted(length, count, rng)
                       for length, count in zip(lengths, _shares(lengths))]
        else:
            counted = [np.zeros(length, bool) if i == 1 else _some_counted(length, rng)
                       for i, length in enumerate(lengths)]
    mask = np.concatenate(counted)
    target = arrays["target"]
    if 0 <= ignore_index < vocabulary:  # a vocabulary id: no counted token may have it
        target = np.where(target == ignore_index, (ignore_index + 1) % vocabulary, target)
    target = np.where(mask, target, ignore_index).astype(np.int64)
    return _Batch(arrays["hidden"], arrays["weight"], arrays["bias"], target, tuple(lengths),
                  tuple(int(c.sum()) for c in counted), ignore_index)


def _equal_lengths(n: int, m: int) -> list[int]:
    return [n // m + (1 if i < n % m else 0) for i in range(m)]


def _unequal_lengths(n: int, m: int, rng) -> list[int]:
    """M lengths >= 1 adding up to n >= 2 M, about proportional to a shuffle of 1..M (packed
    sequences): never all equal (equal ones would add up to less than n, and the rest goes to
    the longest)."""
    shares = rng.permutation(np.arange(1, m + 1))
    lengths = 1 + np.floor((n - m) * shares / shares.sum()).astype(int)
    lengths[np.argmax(shares)] += n - int(lengths.sum())
    return [int(length) for length in lengths]


def _shares(lengths: list[int]) -> list[int]:
    """Non-ignored tokens of the equal-length trial: all, 75% down to 25%, one token."""
    m = len(lengths)
    shares = [1.0, *np.linspace(0.75, 0.25, m - 2)]
    return [max(1, round(share * length)) for share, length in zip(shares, lengths)] + [1]


def _exactly_counted(length: int, count: int, rng) -> np.ndarray:
    mask = np.zeros(length, bool)
    mask[rng.choice(length, count, replace=False)] = True
    return mask


def _some_counted(length: int, rng) -> np.ndarray:
    """About ``1 - IGNORED_SHARE`` of the tokens counted: at least one, and not all of them."""
    mask = rng.random(length) >= IGNORED_SHARE
    mask[rng.integers(length)] = True
    if length > 1 and mask.all():
        mask[rng.integers(length)] = False
    return mask


@dataclass(frozen=True)
class _Output:
    """What one call gave, in float64: the returned loss (None when it returned None), the
    accumulated gradients, what it changed in place, and a note."""

    loss: float | None
    weight: np.ndarray
    bias: np.ndarray
    mutated: tuple[str, ...]
    note: str | None


def _call(fn, batch: _Batch, dtype: str, keywords: dict) -> _Output:
    """Build the model and micro-batches as ``dtype`` tensors, call ``fn`` and read the
    gradients it accumulated; ``UserCodeError`` when it raises or returns something else than
    a loss or None."""
    import torch

    kind = torch_dtype(dtype)
    vocabulary, width = batch.weight.shape
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        model = torch.nn.Linear(width, vocabulary, bias=True, dtype=kind)
    parameters = {"model.weight": model.weight, "model.bias": model.bias}
    with torch.no_grad():
        model.weight.copy_(torch.tensor(batch.weight, dtype=kind))
        model.bias.copy_(torch.tensor(batch.bias, dtype=kind))
    micro_batches = [(torch.tensor(x, dtype=kind), torch.tensor(t, dtype=torch.int64))
                     for x, t in batch.parts()]
    tensors = dict(parameters)
    drawn = {"model.weight": batch.weight, "model.bias": batch.bias}
    for m, ((x, t), (inputs, targets)) in enumerate(zip(micro_batches, batch.parts())):
        tensors[f"micro_batches[{m}] inputs"], tensors[f"micro_batches[{m}] targets"] = x, t
        drawn[f"micro_batches[{m}] inputs"], drawn[f"micro_batches[{m}] targets"] = inputs, targets
    returned = run_user_code(fn, [model, micro_batches], keywords)
    loss = _returned_loss(returned)
    mutated = changed_tensors(tensors, drawn)  # against the drawn numbers: no copies kept
    gradients, missing = {}, []
    for name, parameter in parameters.items():
        if parameter.grad is None:
            missing.append(f"{name}.grad")
            gradients[name] = np.zeros(tuple(parameter.shape))
        else:
            gradients[name] = as_array(parameter.grad).astype(np.float64)
    note = (f"{' and '.join(missing)} None after the call (no backward reached it): read as 0"
            if missing else None)
    return _Output(loss, gradients["model.weight"], gradients["model.bias"], mutated, note)


def _returned_loss(value) -> float | None:
    """The returned loss as a float (None for None); ``UserCodeError`` for anything else than a
    number or a one-entry tensor."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        return float(value)
    if hasattr(value, "detach") and hasattr(value, "numel"):
        if value.numel() != 1:
            raise UserCodeError(f"returned a loss of shape {tuple(value.shape)}, expected one "
                                f"number (or None)")
        return float(as_array(value).reshape(()))
    raise UserCodeError(f"returned a {type(value).__name__}, not the loss (a number or a "
                        f"one-entry tensor) or None")


@dataclass(frozen=True)
class _Pieces:
    """Per micro-batch (first axis), its summed token losses' loss and gradients ``C``, their
    entry bounds ``B`` in the dtype and the size ``A`` of their terms (module docstring); and
    what the tolerances add to them."""

    values: dict  # "loss", "weight", "bias" -> one array per micro-batch
    bounds: dict
    sizes: dict
    roundoff: float
    floor: float  # (N + 1) tiny

    @classmethod
    def of(cls, batch: _Batch, dtype: str) -> _Pieces:
        options = LMOptions(reduction="sum", ignore_index=batch.ignore_index)
        values = {name: [] for name in _OUTPUTS}
        bounds = {name: [] for name in _OUTPUTS}
        sizes = {name: [] for name in _OUTPUTS}
        for x, t in batch.parts():
            part = fused_linear_cross_entropy(x, batch.weight, t, batch.bias, options, tokens=[],
                                              want_logits=True, dtype=dtype)
            terms = np.abs(part.logits)
            for name, value, bound, size in (
                    ("loss", part.loss, part.bounds.loss, np.abs(part.loss)),
                    ("weight", part.weight, part.bounds.weight, terms.T @ np.abs(x)),
                    ("bias", part.bias, part.bounds.bias, terms.sum(axis=0))):
                values[name].append(value)
                bounds[name].append(bound)
                sizes[name].append(size)
        floor = (len(batch.target) + 1) * SMALLEST_NORMAL[dtype]
        return cls(values, bounds, sizes, UNIT_ROUNDOFF[dtype], floor)

    def combined(self, coefficients) -> dict:
        """``sum_m c_m C_m`` of each output."""
        return {name: _weighted(coefficients, self.values[name]) for name in _OUTPUTS}

    def tolerances(self, coefficients, whole=None) -> dict:
        """The tolerance of each output of ``sum_m c_m C_m`` (module docstring); ``whole``: the
        full batch's own bounds, the larger of the two taken."""
        c = np.abs(np.asarray(coefficients, dtype=np.float64))
        adding = gamma(len(c) - 1, self.roundoff, probabilistic=False)
        result = {}
        for name in _OUTPUTS:
            summed = _weighted(c, self.bounds[name]) + _SAFETY * adding * _weighted(
                c, [np.abs(value) for value in self.values[name]])
            if whole is not None:
                summed = np.maximum(summed, getattr(whole, name))
            result[name] = summed + _SAFETY * (
                SCALE_ROUNDINGS * self.roundoff * _weighted(c, self.sizes[name]) + self.floor)
        return result


def _weighted(coefficients, arrays) -> np.ndarray:
    """``sum_m c_m arrays_m`` (float64)."""
    total = np.zeros(np.shape(arrays[0]))
    for coefficient, array in zip(coefficients, arrays):
        if coefficient:
            total += coefficient * array
    return total


def _right_coefficients(batch: _Batch, reduction: str) -> np.ndarray:
    m = len(batch.lengths)
    return np.full(m, 1.0 if reduction == "sum" else 1.0 / sum(batch.counted))


def _judge(label: str, batch: _Batch, pieces: _Pieces, exact, output: _Output, reduction: str,
           dtype: str) -> AccumulationTrial:
    """The trial's comparisons: the returned loss (if any) and the two gradients against the
    full batch's, each entry within its tolerance."""
    limits = pieces.tolerances(_right_coefficients(batch, reduction), exact.bounds)
    comparisons = []
    if output.loss is not None:
        comparisons.append(compare_in_dtype("loss", np.float64(output.loss), exact.loss,
                                            limits["loss"], dtype))
    comparisons.append(compare_in_dtype("dweight", output.weight, exact.weight, limits["weight"],
                                        dtype))
    comparisons.append(compare_in_dtype("dbias", output.bias, exact.bias, limits["bias"], dtype))
    return AccumulationTrial(label, batch.lengths, batch.counted, batch.ignore_index,
                             tuple(comparisons), output.loss is not None, output.mutated,
                             output.note)


def _candidates(batch: _Batch, reduction: str) -> list[tuple[str, np.ndarray]]:
    """(name, coefficients) of each named mistake (module docstring); an empty micro-batch's
    mean contributes 0."""
    counted = np.array(batch.counted, dtype=np.float64)
    m, total = len(counted), counted.sum()
    with np.errstate(divide="ignore"):
        per_token = np.where(counted > 0, 1.0 / counted, 0.0)
    last = np.zeros(m)
    last[-1] = _right_coefficients(batch, reduction)[-1]
    if reduction == "sum":
        return [(ZEROED_IN_LOOP, last)]
    return [(PER_MICRO_BATCH_MEAN, per_token / m), (MICRO_BATCHES_MISSING, per_token),
            (DIVIDED_TWICE, per_token / total), (DIVIDED_TWICE, np.full(m, 1.0 / total**2)),
            (ZEROED_IN_LOOP, last), (IGNORED_COUNTED, np.full(m, 1.0 / sum(batch.lengths)))]


def _name_mistake(trial: AccumulationTrial, batch: _Batch, pieces: _Pieces, output: _Output,
                  reduction: str, dtype: str) -> Mistake | None:
    """The named mistake whose candidate is nearest the step's outputs and within its
    tolerance: on both gradients (and the loss if it is off too), or, when only the loss is off,
    on the loss alone."""
    failing = {c.name for c in trial.comparisons if not c.ok}
    judged = (["weight", "bias"] + (["loss"] if "loss" in failing else [])
              if failing & {"dweight", "dbias"} else ["loss"])
    user = {"loss": np.float64(output.loss) if output.loss is not None else None,
            "weight": output.weight, "bias": output.bias}
    fits = []
    for name, coefficients in _candidates(batch, reduction):
        values, limits = pieces.combined(coefficients), pieces.tolerances(coefficients)
        distance = max(compare_in_dtype(output_name, user[output_name], values[output_name],
                                        limits[output_name], dtype).worst_ratio
                       for output_name in judged)
        fits.append((distance, name))
    distance, name = min(fits, default=(np.inf, None))
    if distance > 1:
        return None
    explanation = _EXPLANATIONS[name]
    if judged == ["loss"]:
        explanation = f"in the loss it returns (its gradients are right): {explanation}"
    return Mistake(name, explanation)
