"""``check_implementation``: judge a user's loss and gradient against the proven oracle.

The function is called at several random inputs of the requested sizes and at one with extreme
scores (about 1e3 in magnitude); at each, its loss and every entry of its gradient are compared
with the oracle's (``derive.oracle.batch``), whose closed form is proven for every size
(``derive.oracle.proof``) and whose float64 evaluation is spot-checked at 50 digits
(``derive.oracle.reference``).  The verdict is one of:

* ``correct``: every value within its tolerance at every input;
* ``wrong``: some value outside its tolerance, with the known mistake it matches if any;
* ``unstable``: NaN or inf where the true values are finite (exp overflowing, log of 0), or
  right at ordinary scores and outside the rounding bound only at extreme ones;
* ``imprecise``: not within float64's rounding bound, but within float32's, and its values are
  float32 numbers: a right formula computed or returned in float32 (``mistake`` is
  ``"float32 precision"``; float16 likewise);
* ``incomplete``: right at every input, but some class never occurred as a label (fewer samples
  in all the inputs together than classes): ``unseen_classes`` lists them;
* ``crashed``: the function raised (any exception: ``SystemExit``, ``KeyboardInterrupt`` and
  other ``BaseException`` subclasses included), ended its process, ran past the time limit
  (``time_limit`` seconds per call), or returned something that is not a loss and gradient;
* ``unproven``: derive's own float64 oracle disagreed with its 50-digit spot check, so no
  verdict is given (never seen; it guards the oracle's evaluation, not the user's code).

Sizes: the second random input has one sample fewer than the others (when N exceeds the number
of classes), so that a function that divides by a fixed N is not right by coincidence.

Labels: across the inputs every class occurs (the inputs' labels are drawn so that their union
is all K classes whenever ``(trials + 1) * N >= K``; otherwise the verdict is at best
``incomplete``); when ``N >= K`` the first input holds every class and the second none of class
K - 1 (code that takes K from ``y.max() + 1`` or ``np.unique(y)`` shows).

A function that changes its arguments in place (``X``, ``y``, ``W`` or ``b``) is named in
``mutated``, and is not ``correct``: its loss and gradient may be right, but its caller's data
changed (verdict ``wrong``, mistake ``"changes its arguments"``).

The function runs on a thread of its own, or in a child process (``isolate=True``): see
``derive.implementation.isolation``.  Whatever it raises, and a call past ``time_limit``, is its
verdict (``crashed``).

Memory is bounded, not sizes: before anything is drawn, :func:`required_memory` counts the
bytes the check will hold at its peak (the inputs kept for the report, the user's copies, the
oracle's float64 scores, gradients and tolerances), and a check that needs more than ``memory``
GiB (default :func:`default_memory`: half of this machine's physical memory) is refused with a
``ValueError`` saying both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from checks.tolerances import IMPLEMENTATION
from derive.core.display import Displayed
from derive.catalog import entry
from derive.implementation.conventions import (
    D_BY_K, K_BY_D, NUMPY, TORCH, VECTOR, Convention, ConventionError, Output, UserCodeError,
    infer_bias, infer_framework, infer_reg, reg_keyword,
)
from derive.implementation.isolation import Isolated, Stopped
from derive.implementation.judge import (
    Compared, Comparison, compare, score_errors, tolerances, unit_roundoff,
)
from derive.implementation.mistakes import (
    Mistake, name_gradient_mistake, name_instability, name_loss_mistake,
)
from derive.oracle.batch import BATCH_LOSSES, BINARY_LABELS, CLASS_LABELS, BatchLoss, Problem, batch_loss, canonical_name
from derive.oracle.document import DocumentOracle, chain_proof, document_oracle, require_classes
from derive.oracle.proof import LOSSES_PROVEN_FOR_EVERY_SIZE, AllSizesProof, all_sizes_proof
from derive.oracle.reference import SpotCheck, spot_check

CORRECT, WRONG, UNSTABLE, CRASHED = "correct", "wrong", "unstable", "crashed"
IMPRECISE = "imprecise"  # right to a lower precision (float32) than the inputs' (float64)
INCOMPLETE = "incomplete"  # right at every input, but some class never occurred as a label
UNPROVEN = "unproven"  # the oracle itself failed its 50-digit spot check: no verdict

#: The peak of a check in float64 numbers (``required_memory``).  Each of the T + 1 inputs keeps
#: its X (N x D) and W (D x K) in its trial, for the report; beside them, at the peak of each
#: phase, N x K arrays: the oracle's scores, shifted scores, exponentials and score gradient,
#: its tolerances' sensitivity, and a vectorized user function's scores (6); N x D: the input
#: being drawn and its rounded copy (2); D x K: W drawn and rounded, the user's copy, its
#: gradient and the penalty term, the oracle's gradient, its tolerance and the comparison's
#: differences (8).  The counts are the tracemalloc peaks (``required_memory``'s docstring).
PEAK_PER_NK, DRAWN_PER_ND, DRAWN_PER_DK = 6, 2, 8
#: Bytes a check holds at any size (the 50-digit spot check, the report): 16 MiB.
FIXED_PEAK = 16 * 2**20
#: The share of the machine's physical memory a check may take by default: the other half is
#: left to the judged function's own arrays (of the same sizes: its scores, its gradient) and to
#: the rest of the machine.
DEFAULT_MEMORY_SHARE = 0.5
#: Random inputs per check (the extreme-logits input comes on top).
DEFAULT_TRIALS = 3
#: Sizes when none are given: D and K differ, so the layout of W shows in its shape.
DEFAULT_SIZES = {"samples": 100, "features": 30, "classes": 10}
#: The penalty when the function takes ``reg``: large enough that 2 reg W is visible beside the
#: data term, so "reg W instead of 2 reg W" cannot hide in the rounding.
DEFAULT_REG = 0.1
_EXTREME = IMPLEMENTATION["extreme logits"].value
_KINK_MARGIN = IMPLEMENTATION["kink margin"].value
_REDRAWS = 20
#: Seconds each call of the judged function may take (``time_limit``).
DEFAULT_TIME_LIMIT = IMPLEMENTATION["time limit"].value


@dataclass(frozen=True)
class Trial(Compared):
    """One input and how the user's outputs compared there."""

    kind: str  # "random" or "extreme logits"
    seed: int  # with ``index``, what draws this input again (``_draw``)
    index: int
    largest_score: float
    loss: Comparison
    weights: Comparison
    bias: Comparison | None
    problem: Problem = field(repr=False)

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        return tuple(c for c in (self.loss, self.weights, self.bias) if c is not None)


@dataclass(frozen=True)
class OracleStatus:
    """Why the oracle is trusted at these sizes: its all-sizes proof and its spot checks."""

    proof: AllSizesProof | None
    spot_checks: tuple[SpotCheck, ...]
    #: The document compiled to the oracle (``doc=``, or a catalog loss with no hand-written
    #: oracle); ``proof`` is then the batch chain around its per-sample gradient.
    document: DocumentOracle | None = None

    @property
    def proven_for_every_size(self) -> bool:
        return self.proof is not None and self.proof.proven and (
            self.document is None or self.document.every_size)

    @property
    def spot_checks_ok(self) -> bool:
        return all(check.ok for check in self.spot_checks)


@dataclass(frozen=True, repr=False)
class ImplementationReport(Displayed):
    """The verdict on one implementation, with everything measured to reach it."""

    function: str
    loss: str
    convention: Convention | None
    sizes: dict
    dtype: str
    reg: float
    trials: tuple[Trial, ...]
    verdict: str
    mistake: str | None
    explanation: str | None
    oracle: OracleStatus
    seconds: float
    mutated: tuple[str, ...] = ()  # the arguments the function changed in place
    unseen_classes: tuple[int, ...] = ()  # classes no random input had as a label
    precision: str | None = None  # the lower precision it agrees with ("float32"), if imprecise
    time_limit: float = DEFAULT_TIME_LIMIT

    @property
    def ok(self) -> bool:
        return self.verdict == CORRECT

    def __str__(self) -> str:
        from derive.report.implementation import implementation_text

        return implementation_text(self)


def check_implementation(
    fn: Callable,
    loss: str = "softmax-cross-entropy",
    *,
    samples: int | None = None,
    features: int | None = None,
    classes: int | None = None,
    reg: float | None = None,
    dtype="float64",
    layout: str | None = None,
    bias: bool | None = None,
    framework: str | None = None,
    weight_scale: float | None = None,
    trials: int = DEFAULT_TRIALS,
    seed: int = 0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    isolate: bool = False,
    progress: Callable[[str], None] | None = None,
    doc=None,
    values: dict | None = None,
    memory: float | None = None,
) -> ImplementationReport:
    """Judge ``fn``'s loss and gradient of catalog loss ``loss`` against the proven oracle.

    ``samples``, ``features`` and ``classes`` are N, D and K (``classes`` is 1 for the one-score
    losses); ``reg`` the penalty passed to ``fn`` (0.1 by default when it takes one); ``dtype``
    ``"float64"`` or ``"float32"``; ``layout`` ``"DxK"`` or ``"KxD"`` (told from the shapes by
    default); ``bias`` and ``framework`` (``"numpy"`` or ``"torch"``) from the signature and the
    function's module by default; ``weight_scale`` the standard deviation of the random weights
    (default ``2 / sqrt(D)``, scores of a few units); ``time_limit`` the seconds each call of
    ``fn`` may take (60 by default; ``math.inf`` for none), past which it is ``crashed``;
    ``isolate`` runs ``fn`` in a forked child process instead of a thread of this one, out of
    reach of its ``os._exit()``, crashes and signal handlers (``derive.implementation.isolation``;
    ``derive check-impl`` does).  ``doc`` (a ``.md`` path) makes a proven per-sample document
    the oracle instead (:mod:`derive.oracle.document`), as it is for a catalog loss with no
    hand-written one (label smoothing, focal loss); ``values`` gives its parameters' numbers
    (``{"epsilon": 0.1}``).  ``memory`` is the GiB the check may hold (default
    :func:`default_memory`); more is refused before anything is allocated.  Raises
    ``ConventionError`` (or ``ValueError`` for sizes out of range or over ``memory``,
    ``UnknownLossError`` for a loss not in the catalog) for bad arguments; the function's own
    failures are its verdict.

    Examples
    --------
    >>> import numpy as np
    >>> def softmax_loss(W, X, y, reg):
    ...     scores = X @ W
    ...     scores = scores - scores.max(axis=1, keepdims=True)
    ...     log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    ...     n = len(y)
    ...     loss = -log_p[np.arange(n), y].mean() + reg * np.sum(W * W)
    ...     dscores = np.exp(log_p)
    ...     dscores[np.arange(n), y] -= 1
    ...     return loss, X.T @ dscores / n + 2 * reg * W
    >>> report = check_implementation(softmax_loss, samples=20, features=5, classes=3)
    >>> report.verdict, report.oracle.proven_for_every_size
    ('correct', True)
    >>> def forgot_mean(W, X, y, reg):
    ...     loss, dW = softmax_loss(W, X, y, reg)
    ...     return loss, dW + (len(y) - 1) * (dW - 2 * reg * W)
    >>> report = check_implementation(forgot_mean, samples=20, features=5, classes=3)
    >>> report.verdict, report.mistake
    ('wrong', 'missing 1/N')
    """
    started = time.perf_counter()
    say = progress or (lambda line: None)
    document = _document(loss, doc, values)
    oracle_loss = document.loss if document else batch_loss(loss)
    loss = oracle_loss.name  # the batch softmax document's name is the softmax oracle's
    dtype = _dtype(dtype)
    sizes = _sizes(oracle_loss, samples, features, classes)
    if document:
        require_classes(document, sizes["classes"])
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= 100:
        raise ValueError(f"trials must be an integer from 1 to 100, not {trials!r}")
    require_memory(required_memory(sizes, trials), memory,
                   f"N = {sizes['samples']}, D = {sizes['features']}, K = {sizes['classes']}, "
                   f"{trials} trials")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    time_limit = checked_time_limit(time_limit)
    if not isinstance(isolate, bool):
        raise ValueError(f"isolate must be True or False, not {isolate!r}")
    with_bias = infer_bias(fn, bias)
    convention_parts = dict(framework=infer_framework(fn, framework), bias=with_bias,
                            takes_reg=infer_reg(fn, with_bias),
                            reg_keyword=reg_keyword(fn, with_bias))
    if convention_parts["framework"] == TORCH:
        require_torch()
    penalty = _penalty(reg, convention_parts["takes_reg"])
    layouts = _layouts(oracle_loss, layout, sizes)
    if weight_scale is not None and (isinstance(weight_scale, bool) or not isinstance(
            weight_scale, (int, float)) or not 0 < weight_scale < float("inf")):
        raise ValueError(f"weight_scale must be a finite number > 0, not {weight_scale!r}")
    name = function_name(fn)

    proof = all_sizes_proof(loss) if loss in LOSSES_PROVEN_FOR_EVERY_SIZE else None
    if document:
        proof = chain_proof(oracle_loss.one_score)
    kinds = [("random", index) for index in range(trials)] + [("extreme logits", trials)]
    results: list[Trial] = []
    spots: list[SpotCheck] = []
    mutated: list[str] = []
    convention: Convention | None = None
    verdict, mistake, precision = CORRECT, None, None

    def report(verdict, mistake, convention):
        unseen = _unseen_classes(oracle_loss, sizes, results)
        if verdict == CORRECT and unseen:
            verdict, mistake = INCOMPLETE, _incomplete(unseen, oracle_loss, sizes, trials)
        if verdict in (CORRECT, INCOMPLETE) and mutated:
            verdict, mistake = WRONG, Mistake("changes its arguments", (
                f"its loss and gradient are right at every input, but it changes "
                f"{', '.join(mutated)} in place, its caller's arrays: work on copies"))
        return ImplementationReport(
            function=name, loss=loss, convention=convention, sizes=sizes,
            dtype=np.dtype(dtype).name, reg=penalty, trials=tuple(results), verdict=verdict,
            mistake=mistake.name if mistake and verdict != CRASHED else None,
            explanation=mistake.explanation if mistake else None,
            oracle=OracleStatus(proof, tuple(spots), document), seconds=time.perf_counter() - started,
            mutated=tuple(mutated), unseen_classes=unseen,
            precision=precision if verdict == IMPRECISE else None, time_limit=time_limit)

    with Isolated(fn, oracle_loss, dtype, time_limit, process=isolate) as isolated:
        for kind, index in kinds:
            say(f"{name}: {kind} input {index + 1} of {len(kinds)}")
            problem = _draw(oracle_loss, sizes, with_bias, penalty, dtype, weight_scale, seed,
                            index, extreme=kind != "random", trials=trials)
            # The function runs in the child while the oracle's values are computed here.
            submitted = convention or Convention(layout=layouts[0], **convention_parts)
            isolated.submit(submitted, problem)
            with np.errstate(over="ignore", invalid="ignore"):
                exact = oracle_loss.evaluate(problem)
            _require_finite(exact, kind)
            if index in (0, trials):
                spots.append(spot_check(oracle_loss, problem, exact, seed=seed + index))
            limits = tolerances(oracle_loss, problem, exact, dtype)
            try:
                convention, output = _result(isolated, submitted, convention is None, layouts,
                                             convention_parts, problem)
            except UserCodeError as error:
                return report(CRASHED, Mistake("crashed", f"{name} {error}"), convention)
            mutated += [argument for argument in output.mutated if argument not in mutated]
            output = _one_score_shapes(output, exact)
            shaped = _shape_mistake(output, exact, convention)
            if shaped is not None:
                return report(WRONG, shaped, convention)
            trial = Trial(
                kind, seed, index, float(np.abs(exact.scores).max()),
                compare("loss", output.loss, exact.loss, limits.loss, dtype),
                compare("dW", output.weights, exact.weights, limits.weights, dtype),
                None if exact.bias is None else compare("db", output.bias, exact.bias,
                                                        limits.bias, dtype),
                problem,
            )
            results.append(trial)
            if trial.ok:
                continue
            if verdict == IMPRECISE:
                if _within(oracle_loss, problem, exact, output, precision):
                    continue
                verdict, mistake, precision = CORRECT, None, None  # off even at that precision:
                # judged afresh here (NaN, a named mistake), never "imprecise" at float32 again
            if verdict != CORRECT:
                continue
            if not trial.finite:
                verdict, mistake = UNSTABLE, name_instability(
                    oracle_loss, problem, exact, trial.loss.finite,
                    trial.weights.finite and (trial.bias is None or trial.bias.finite), dtype)
                continue
            if kind != "random" and all(earlier.ok for earlier in results[:-1]):
                # Right at ordinary scores, finite but off at extreme ones: precision lost, such
                # as the log of a subnormal probability, not a wrong formula.
                verdict, mistake = UNSTABLE, _inaccurate(trial, results[:-1])
                continue
            verdict = WRONG
            if not (trial.weights.ok and (trial.bias is None or trial.bias.ok)):
                mistake = name_gradient_mistake(oracle_loss, problem, exact, output.weights,
                                                output.bias, limits, dtype)
            else:
                mistake = name_loss_mistake(oracle_loss, problem, exact, output.loss, limits.loss)
            if mistake is None:
                precision = _lower_precision(oracle_loss, problem, exact, output, trial, dtype)
                if precision is not None:
                    verdict, mistake = IMPRECISE, _imprecise(precision, output, dtype)
    if not all(check.ok for check in spots):
        worst = max(check.worst_error for check in spots)
        return report(UNPROVEN, Mistake("oracle failed its spot check", (
            f"derive's float64 oracle is {worst:.2g} from the 50-digit reference, beyond "
            f"{spots[0].tolerance:.0e}: derive cannot judge here (a bug in derive; please "
            f"report it)")), convention)
    return report(verdict, mistake, convention)


def _document(loss: str, doc, values) -> DocumentOracle | None:
    """The document oracle: ``doc``'s, or the catalog document of a loss with no hand-written
    oracle; None for a hand-written one (faster, and kept)."""
    if doc is not None:
        return document_oracle(doc, values)
    if canonical_name(loss) not in BATCH_LOSSES:
        entry(loss)  # UnknownLossError, with the catalog's names
        return document_oracle(loss, values)
    if values:
        raise ValueError(f"values are a document's parameters; {loss} has a hand-written oracle, with none")
    return None


def _inaccurate(extreme: Trial, earlier) -> Mistake:
    """Right at the random inputs, off at the extreme one: precision lost at large scores, or,
    when the extreme input has classes the others had not (N < K), possibly a bug for those."""
    fresh = sorted(_labels_of([extreme]) - _labels_of(earlier))
    shown = ", ".join(str(label) for label in fresh[:10]) + (" ..." if len(fresh) > 10 else "")
    also = (f"; or the code is wrong for class{'es' if len(fresh) > 1 else ''} {shown}, which "
            f"only the extreme input has" if fresh else "")
    return Mistake("inaccurate at extreme logits", (
        f"right at ordinary scores, but outside the rounding bound at scores up to "
        f"{extreme.largest_score:.4g}: precision is lost (e.g. the log of a subnormal "
        f"probability, or exp before the max-shift){also}"))


def _result(isolated: Isolated, submitted: Convention, first: bool, layouts, parts,
            problem) -> tuple[Convention, Output]:
    """The submitted call's convention and output.  At the first input, a layout in which the
    function raises is followed by the others, in turn; the error of the first when none runs
    (at once when the call overran or ended its process: another layout would not help)."""
    try:
        return submitted, isolated.result()
    except Stopped:
        raise
    except UserCodeError as error:
        if not first:
            raise
        first_error = error
    for layout in layouts[1:]:
        convention = Convention(layout=layout, **parts)
        try:
            return convention, isolated(convention, problem)
        except Stopped:
            raise
        except UserCodeError:
            pass
    raise first_error


def function_name(fn) -> str:
    """``fn``'s qualified name, always a string (a callable's ``__qualname__`` may be anything)."""
    for attribute in ("__qualname__", "__name__"):
        value = getattr(fn, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(fn).__name__


def checked_time_limit(value) -> float:
    """Seconds per call: a number > 0 (``math.inf`` for none); ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not value > 0:
        raise ValueError(f"time_limit must be a number of seconds > 0, not {value!r}")
    return float(value)


#: The precisions below each dtype that a right formula computed in them would show.
_LOWER = {"float64": ("float32", "float16"), "float32": ("float16",)}


def _lower_precision(loss: BatchLoss, problem: Problem, exact, output: Output, trial: Trial,
                     dtype) -> str | None:
    """The lower precision (``"float32"``, ``"float16"``) whose rounding bound the output is
    within, when its values are that precision's numbers (returned in it, or cast up from it):
    a right formula computed in a lower precision.  None otherwise, so a small error of a wrong
    formula (an epsilon in a log) is never taken for rounding."""
    for lower in _LOWER[np.dtype(dtype).name]:
        if _representable(output, trial, lower) and _within(loss, problem, exact, output, lower):
            return lower
    return None


def _representable(output: Output, trial: Trial, precision: str) -> bool:
    """Whether the outputs that fail at the trial's dtype hold ``precision``'s numbers (or dW
    was returned in it)."""
    if output.returned_dtype == precision:
        return True
    values = {"loss": output.loss, "dW": output.weights, "db": output.bias}
    failing = [np.asarray(values[c.name], dtype=np.float64) for c in trial.comparisons if not c.ok]
    with np.errstate(all="ignore"):
        return all(np.array_equal(value, value.astype(precision).astype(np.float64))
                   for value in failing)


def _within(loss: BatchLoss, problem: Problem, exact, output: Output, precision: str) -> bool:
    """Whether every output is within the rounding bound of ``precision``."""
    limits = tolerances(loss, problem, exact, np.dtype(precision))
    checks = [compare("loss", output.loss, exact.loss, limits.loss, precision),
              compare("dW", output.weights, exact.weights, limits.weights, precision)]
    if exact.bias is not None:
        checks.append(compare("db", output.bias, exact.bias, limits.bias, precision))
    return all(check.ok for check in checks)


def _imprecise(precision: str, output: Output, dtype) -> Mistake:
    how = (f"it returns dW as {precision}" if output.returned_dtype == precision
           else f"it computes in {precision}")
    given = np.dtype(dtype).name
    return Mistake(f"{precision} precision", (
        f"agrees with the oracle at {precision} precision, not {given}: {how} (return {given} "
        f"computed in {given}, or judge it with --dtype {precision})"))


def _unseen_classes(loss: BatchLoss, sizes, results) -> tuple[int, ...]:
    """The classes (or 0/1 labels) no input judged had as a label."""
    if loss.labels not in (CLASS_LABELS, BINARY_LABELS):
        return ()
    k = sizes["classes"] if loss.labels == CLASS_LABELS else 2
    seen = _labels_of(results)
    return tuple(label for label in range(k) if label not in seen)


def _labels_of(trials) -> set[int]:
    return {int(label) for trial in trials for label in np.unique(trial.problem.y)}


def _incomplete(unseen, loss: BatchLoss, sizes, trials: int) -> Mistake:
    """Which labels never occurred, and the trials that would show them all."""
    n = sizes["samples"]
    k = sizes["classes"] if loss.labels == CLASS_LABELS else 2
    shown = ", ".join(str(label) for label in unseen[:10])
    more = f" and {len(unseen) - 10} more" if len(unseen) > 10 else ""
    return Mistake("unseen classes", (
        f"right at every input, but label{'s' if len(unseen) > 1 else ''} {shown}{more} never "
        f"occurred ({trials + 1} inputs of N = {n} for {k} classes): judge with "
        f"trials >= {-(-k // n) - 1} (--trials) or a larger N"))


def _one_score_shapes(output: Output, exact) -> Output:
    """A one-score loss's ``dw`` as ``(D, 1)`` or ``(1, D)`` and ``db`` as ``(1,)`` are taken as
    the vector and the number they hold."""
    if exact.weights.ndim != 1:
        return output
    weights = output.weights
    if weights.ndim == 2 and 1 in weights.shape and weights.size == exact.weights.size:
        weights = weights.reshape(exact.weights.shape)
    bias = output.bias
    if bias is not None and np.size(bias) == 1:
        bias = np.asarray(bias).reshape(())
    return Output(output.loss, weights, bias, output.weights_shape)


def _shape_mistake(output: Output, exact, convention: Convention) -> Mistake | None:
    expected = exact.weights.shape  # D x K, the oracle's layout (call() transposed K x D back)
    returned = output.weights.shape
    in_user_layout = expected[::-1] if convention.layout == K_BY_D else expected
    if returned != expected and returned == expected[::-1]:
        return Mistake("transposed gradient",
                       f"dW has shape {_shape(output.weights_shape)}, the transpose of W's "
                       f"{_shape(in_user_layout)}: return the gradient in W's own layout")
    if returned != expected:
        return Mistake("wrong shape", f"dW has shape {_shape(output.weights_shape)}, "
                       f"W has {_shape(in_user_layout)}")
    if exact.bias is not None and np.shape(output.bias) != exact.bias.shape:
        return Mistake("wrong shape", f"db has shape {_shape(np.shape(output.bias))}, "
                       f"b has {_shape(exact.bias.shape)}")
    return None


def _shape(shape) -> str:
    return " x ".join(str(n) for n in shape) or "()"


def _dtype(dtype) -> np.dtype:
    """float32 or float64, given as a name, a NumPy type or a dtype; ValueError for anything else
    (None included: np.dtype(None) would quietly be float64)."""
    for allowed in (np.float32, np.float64):
        if dtype is not None and not isinstance(dtype, bool) and (
                dtype is allowed or dtype == np.dtype(allowed).name or (
                    isinstance(dtype, np.dtype) and dtype == np.dtype(allowed))):
            return np.dtype(allowed)
    raise ValueError(f"dtype must be float32 or float64, not {dtype!r}")


def _sizes(loss: BatchLoss, samples, features, classes) -> dict:
    sizes = {
        "samples": DEFAULT_SIZES["samples"] if samples is None else samples,
        "features": DEFAULT_SIZES["features"] if features is None else features,
        "classes": (1 if loss.one_score else DEFAULT_SIZES["classes"]) if classes is None else classes,
    }
    for key, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{key} must be a positive integer, not {value!r}")
    if loss.one_score and sizes["classes"] != 1:
        raise ValueError(f"{loss.name} has one score per sample: classes must be 1, "
                         f"not {sizes['classes']}")
    if loss.labels == CLASS_LABELS and sizes["classes"] < 2:
        raise ValueError(f"{loss.name} needs at least 2 classes, not {sizes['classes']}")
    return {key: int(value) for key, value in sizes.items()}  # Python's: no wrap-around


def required_memory(sizes: dict, trials: int = DEFAULT_TRIALS) -> int:
    """The bytes a check at ``sizes`` holds at its peak, with a vectorized NumPy user function:
    ``8 (6 N K + (T + 3) N D + (T + 9) D K)`` plus :data:`FIXED_PEAK`.  Each term is its phase's
    peak, as tracemalloc measures it: the formula is 0 to 4% above the measured peak where one
    product dominates (N, D, K = 20000, 4, 500; 20000, 500, 4; 10, 2000, 2001; T = 1, 3, 5);
    the phases do not coincide, so where the three are equal (2000, 2000, 2001) it is a third
    above (733 MiB + 16 MiB for 550 MiB measured): a bound, not an estimate.  A PyTorch
    function's tensors (its copies of X and W and its autograd graph) come on top.

    Examples
    --------
    >>> required_memory({"samples": 100, "features": 30, "classes": 10}) - FIXED_PEAK
    220800
    """
    n, d, k = sizes["samples"], sizes["features"], sizes["classes"]
    kept = (trials + 1) * (n * d + d * k)
    return FIXED_PEAK + 8 * (kept + PEAK_PER_NK * n * k + DRAWN_PER_ND * n * d
                             + DRAWN_PER_DK * d * k)


def default_memory() -> float:
    """GiB a check may hold by default: :data:`DEFAULT_MEMORY_SHARE` of this machine's physical
    memory (4 GiB where the system does not say)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 4.0
    return DEFAULT_MEMORY_SHARE * physical / 2**30


def require_memory(needed: int, memory: float | None, sizes: str) -> None:
    """``ValueError`` (one line: what is needed, and the limit) when ``needed`` bytes exceed
    ``memory`` GiB (None: :func:`default_memory`), or when ``memory`` is not a number > 0."""
    if memory is not None and (isinstance(memory, bool) or not isinstance(
            memory, (int, float, np.integer, np.floating)) or not 0 < memory < float("inf")):
        raise ValueError(f"memory must be a number of GiB > 0, not {memory!r}")
    limit = default_memory() if memory is None else float(memory)
    if needed > limit * 2**30:
        source = ("memory=, --max-memory" if memory is not None else
                  f"the default: {DEFAULT_MEMORY_SHARE:g} of this machine's memory; memory=, "
                  f"--max-memory")
        raise ValueError(f"the check needs about {needed / 2**30:.3g} GiB of memory at {sizes}, "
                         f"more than its limit of {limit:.3g} GiB ({source}): choose smaller "
                         f"sizes or raise the limit")


def _penalty(reg, takes_reg: bool) -> float:
    if not takes_reg:
        if reg not in (None, 0, 0.0):
            raise ConventionError("the function takes no reg parameter, so reg must be 0")
        return 0.0
    value = DEFAULT_REG if reg is None else reg
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            np.isfinite(value) and value >= 0):
        raise ValueError(f"reg must be a finite number >= 0, not {value!r}")
    return float(value)


def _layouts(loss: BatchLoss, layout, sizes) -> tuple[str, ...]:
    if loss.one_score:
        if layout not in (None, VECTOR):
            raise ConventionError(f"{loss.name} takes a weight vector: no layout to choose")
        return (VECTOR,)
    if layout is None:
        if sizes["features"] == sizes["classes"]:
            raise ConventionError("D = K: the layout of W cannot be told from its shape; "
                                  "give layout 'DxK' or 'KxD' (or different sizes)")
        return (D_BY_K, K_BY_D)
    if layout not in (D_BY_K, K_BY_D):
        raise ConventionError(f"layout must be {D_BY_K!r} or {K_BY_D!r}, not {layout!r}")
    return (layout,)


def _require_finite(exact, kind: str) -> None:
    """The oracle's values overflow only for inputs far beyond float64's range: the caller's
    ``weight_scale`` or ``reg``, refused rather than compared."""
    values = [exact.loss, exact.weights] + ([] if exact.bias is None else [exact.bias])
    if not all(np.all(np.isfinite(value)) for value in values):
        raise ValueError(f"at the {kind} input the exact loss or gradient overflows float64: "
                         "choose a smaller weight_scale or reg")


def require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ConventionError("this function uses torch, which is not installed: "
                              "pip install 'derive[torch]'") from None


def _draw(loss: BatchLoss, sizes, with_bias: bool, reg: float, dtype, weight_scale, seed: int,
          index: int, extreme: bool, trials: int = DEFAULT_TRIALS) -> Problem:
    """A random input in ``dtype`` (kept as its exact float64 values), off the hinge's kinks.

    The second random input has ``N - 1`` samples when that still leaves more samples than
    classes, so code that divides by a fixed N (a global, a constant) shows."""
    n, d, k = sizes["samples"], sizes["features"], sizes["classes"]
    if index == 1 and not extreme and n > {CLASS_LABELS: k, BINARY_LABELS: 2}.get(loss.labels, 1):
        n -= 1
    scale = 2 / np.sqrt(d) if weight_scale is None else weight_scale
    for attempt in range(_REDRAWS):
        rng = np.random.default_rng([seed, index, attempt])
        shape = (d,) if loss.one_score else (d, k)
        # standard_normal: the same numbers as normal(0, 1), without its pass over them
        weights = rng.standard_normal(shape) * scale
        bias_values = rng.standard_normal(() if loss.one_score else (k,)) if with_bias else None
        X = rng.standard_normal((n, d))
        if loss.labels in (CLASS_LABELS, BINARY_LABELS):
            labels = _labels(rng, seed, index, n, k if loss.labels == CLASS_LABELS else 2,
                             extreme)
        else:
            labels = rng.standard_normal(n)
        if extreme:
            # The largest score is +1e3 (a sign flip if need be): exp overflows there in both
            # dtypes, and the rows' most negative scores underflow.
            scores = X @ weights + (0 if bias_values is None else bias_values)
            factor = _EXTREME / max(float(np.abs(scores).max()), np.finfo(float).tiny)
            if scores.max() < -scores.min():
                factor = -factor
            weights = weights * factor
            bias_values = None if bias_values is None else bias_values * factor
        problem = Problem(
            weights=_exactly(weights, dtype),
            bias=None if bias_values is None else _exactly(np.asarray(bias_values), dtype),
            X=_exactly(X, dtype),
            y=labels if loss.labels != "target" else _exactly(labels, dtype),
            reg=reg,
        )
        if loss.kink_distance is None:
            return problem
        distance = loss.kink_distance(problem.scores(), problem.y)
        if np.all(distance > _KINK_MARGIN * score_errors(problem, unit_roundoff(dtype))):
            return problem
    return problem  # practically unreachable: margins of random floats are not 0


def _labels(rng: np.random.Generator, seed: int, index: int, n: int, k: int,
            extreme: bool) -> np.ndarray:
    """The labels of input ``index``: with ``N >= K`` every class, except at the second random
    input, which has none of class ``K - 1`` (code that takes K from the labels shows there);
    with ``N < K`` the inputs (the extreme one last) take ``N`` classes each, in turn, from one
    seeded order of all ``K``, so that ``ceil(K / N)`` inputs see every class.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sorted(set(np.concatenate([_labels(rng, 0, i, 2, 5, False) for i in range(3)]).tolist()))
    [0, 1, 2, 3, 4]
    >>> 2 in _labels(rng, 0, 1, 10, 3, False)
    False
    """
    if n >= k:
        return _covering_labels(rng, n, k - 1 if index == 1 and not extreme and k > 1 else k)
    order = np.random.default_rng([seed, n, k]).permutation(k)
    return rng.permutation(np.take(order, np.arange(index * n, index * n + n), mode="wrap"))


def _covering_labels(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """``n`` random labels in ``0..k-1`` in which every label occurs when ``n >= k``: code that
    is wrong only for some class (the last one, say) cannot pass for want of its samples."""
    every = np.arange(k)[: n]
    rest = rng.integers(0, k, size=n - len(every))
    return rng.permutation(np.concatenate([every, rest]))


def _exactly(values: np.ndarray, dtype) -> np.ndarray:
    """``values`` rounded to ``dtype``, held as float64 (exactly the same numbers); float64
    values are themselves (no copy)."""
    if np.dtype(dtype) == np.float64:
        return np.asarray(values, dtype=np.float64)
    return np.asarray(values).astype(dtype).astype(np.float64)


__all__ = [
    "CORRECT", "CRASHED", "ConventionError", "IMPRECISE", "INCOMPLETE", "UNPROVEN", "ImplementationReport", "OracleStatus", "Trial",
    "UNSTABLE", "WRONG", "check_implementation", "NUMPY", "TORCH",
]
