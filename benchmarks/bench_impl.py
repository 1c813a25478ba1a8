"""How long ``derive.check_implementation`` takes, and what it catches that gradient checkers miss.

The subjects are the user-style implementations of ``examples/impl`` (correct ones and one
planted mistake each); the data are seeded Gaussians: ``X ~ randn(N, D)``, labels uniform in
``0..K-1``, ``W = weight_scale * randn`` (``1e-3``, the CS231n initialisation, unless said).

What is measured
----------------
1. Whole check at CS231n size (N = 500, D = 3073, K = 10, float64, reg = 5e-6):

   * derive: ``derive.check_implementation(softmax_loss_vectorized, loss="softmax-cross-entropy",
     samples=N, features=D, classes=K, reg=5e-6, dtype="float64", seed=0, weight_scale=None)``,
     its first call (cold) and the median of ``--repeat`` more;
   * one call of the vectorised loss, the unit the other times are counted in;
   * central finite differences over every entry of W: ``2 D K`` calls of the vectorised loss
     (it returns ``(loss, dW)``, as a CS231n ``grad_check`` calls it).  A random subset of
     ``--fd-entries`` entries is timed; when the whole loop would take longer than
     ``--fd-budget`` seconds it is not run and its time is the per-entry cost times ``D K``,
     printed as *extrapolated*;
   * the ratio FD / derive, both from this run.

2. derive's whole check at N = 256, D = 2048, K = 1000 (FD there extrapolated the same way).

3. Detection table, one row per case, each cell ``pass`` or ``FAIL`` and its seconds:

   * derive: ``report.ok``, and for a failure ``report.verdict`` and ``report.mistake``.
     Each row passes the same weight scale the other checkers get (``1e-3``, or ``10`` on
     the large-logit rows) as ``weight_scale``; derive adds its own extreme-logit input.
   * ``torch.autograd.gradcheck(..., fast_mode=True)``, default tolerances, at the full size;
   * ``torch.autograd.gradcheck`` slow mode (every entry), at the reduced size ``--slow-size``
     (it needs ``2 D K`` loss calls; the full-size time is printed as an extrapolation);
   * ``jax.test_util.check_grads(f, (W,), order=1, modes=("rev",))`` with ``jax_enable_x64``.

   On failure, fast-mode gradcheck recomputes the whole Jacobian in slow mode (``2 D K`` more
   loss calls, minutes at this size) only to print it in its error message.  That step is
   replaced by a note (a patch of ``torch.autograd.gradcheck._run_slow_mode_and_get_error``)
   and its time is printed as an extrapolation, ``(+X s*)``; ``--gradcheck-messages`` pays it.

   An exception raised by a checker (for instance on a gradient of the wrong shape) shows as
   ``error`` with a numbered note under the table; for a wrong case it counts as caught.

How a NumPy function meets gradcheck and JAX
--------------------------------------------
A user's ``fn(W, X, y, reg) -> (loss, dW)`` (or ``fn(W, b, X, y, reg) -> (loss, dW, db)``) is
wrapped so that the framework sees a function of the parameters only, with the user's
gradient as its backward pass:

* torch: a ``torch.autograd.Function`` whose ``forward`` calls ``fn`` on the parameters as
  NumPy arrays, keeps the returned gradients, and returns the loss as a 0-dim float64 tensor;
  its ``backward`` returns ``grad_output * dW`` (and ``grad_output * db``).
* JAX: a ``jax.custom_vjp`` function whose primal and forward rule call ``fn`` through
  ``jax.pure_callback`` (the forward rule keeps the gradients as residuals) and whose
  backward rule returns ``cotangent * dW`` (and ``cotangent * db``).

Both differentiate the parameters only (W, and b for a function with a bias), never X or y,
in float64.  PyTorch functions are given to gradcheck (and derive) as they are; JAX has no
way to call them ("n/a").  torch and JAX are optional: without them their columns say
"not installed".  The one call to derive is ``_check_with_derive``.

torch runs with ``--torch-threads`` intra-op threads (default 1): the torch calls here are
small, and on a shared two-core machine two threads made one 50 x 300 call take 24 ms
instead of 0.1 ms.

derive's first call is printed on its own (cold), then the median of ``--repeat`` more; the
FD subset is timed ``--repeat`` times; each cell of the table is one run.  The machine is
shared and noisy: read the medians and the ratios of one run.  No time is asserted.

Usage::

    python benchmarks/bench_impl.py [--repeat 3]
    python benchmarks/bench_impl.py --quick            # small sizes, a smoke run in seconds
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # measure this checkout, wherever the script is run from
    sys.path.insert(0, str(REPO))
IMPLEMENTATIONS = REPO / "examples" / "impl"

import derive  # noqa: E402

REG = 5e-6
SEED = 0
ORDINARY_SCALE = 1e-3  # CS231n's initialisation of W
LARGE_SCALE = 10.0  # logits in the hundreds to thousands at D = 3073
FD_SAMPLE_SECONDS = 5.0  # the FD subset is cut to take about this long per timed run


# --- the subjects ----------------------------------------------------------------------------


def _module(name: str):
    """Import ``examples/impl/<name>.py`` by path (it is not a package)."""
    spec = importlib.util.spec_from_file_location(f"impl_{name}", IMPLEMENTATIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Sizes:
    samples: int
    features: int
    classes: int

    def __str__(self) -> str:
        return f"N={self.samples}, D={self.features}, K={self.classes}"


@dataclass(frozen=True)
class Case:
    """One row of the detection table."""

    name: str
    fn: Callable
    correct: bool
    weight_scale: float = ORDINARY_SCALE
    transposed: bool = False  # W stored K x D
    bias: bool = False  # fn(W, b, X, y, reg)
    torch_native: bool = False  # a PyTorch function returning a loss tensor


@dataclass(frozen=True)
class Problem:
    """The parameters and data one case is checked at."""

    params: tuple[np.ndarray, ...]  # (W,) or (W, b)
    X: np.ndarray
    y: np.ndarray


def _problem(sizes: Sizes, case: Case) -> Problem:
    """Seeded data in float64: the same X and y for every case of one size."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((sizes.samples, sizes.features))
    y = rng.integers(0, sizes.classes, sizes.samples)
    shape = (sizes.classes, sizes.features) if case.transposed else (sizes.features, sizes.classes)
    W = case.weight_scale * rng.standard_normal(shape)
    if case.bias:
        return Problem((W, case.weight_scale * rng.standard_normal(sizes.classes)), X, y)
    return Problem((W,), X, y)


def _cases() -> list[Case]:
    softmax, mistakes, torch_losses = _module("softmax"), _module("softmax_mistakes"), _torch_losses()
    rows = [
        Case("correct", softmax.softmax_loss_vectorized, True),
        Case("correct, large logits (W ~ 10 randn)", softmax.softmax_loss_vectorized, True,
             weight_scale=LARGE_SCALE),
        Case("correct, K x D layout", softmax.softmax_loss_transposed, True, transposed=True),
        Case("correct, with bias", softmax.softmax_loss_bias, True, bias=True),
        Case("missing 1/N", mistakes.missing_mean, False),
        Case("reg W instead of 2 reg W", mistakes.reg_not_doubled, False),
        Case("transposed gradient", mistakes.transposed_gradient, False),
        Case("indicator on row (y + 1) % K", mistakes.indicator_wrong_row, False),
        Case("wrong sign", mistakes.wrong_sign, False),
        Case("no max-shift", mistakes.no_max_shift, False),
        Case("no max-shift, large logits", mistakes.no_max_shift, False, weight_scale=LARGE_SCALE),
        Case("dW * (1 + 1e-4)", mistakes.perturbed_1e4, False),
        Case("dW * (1 + 1e-6)", mistakes.perturbed_1e6, False),
        Case("missing bias gradient", mistakes.missing_bias_gradient, False, bias=True),
        Case("missing 1/N, K x D layout", mistakes.missing_mean_transposed, False, transposed=True),
    ]
    if torch_losses is not None:
        rows += [
            Case("torch: correct (autograd)", torch_losses.softmax_loss_torch, True, torch_native=True),
            Case("torch: sum instead of mean", torch_losses.softmax_loss_torch_no_mean, False,
                 torch_native=True),
        ]
    return rows


# --- one outcome, whoever judged -------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A checker's answer on one case: passed (True/False), or a reason it has none."""

    passed: bool | None
    seconds: float = 0.0
    detail: str = ""  # derive's named mistake, or an exception's message
    absent: str = ""  # "not installed", "n/a ...": the checker did not run
    postscript: str = ""  # after the seconds: gradcheck's skipped failure message

    def cell(self, notes: list[str]) -> str:
        if self.absent:
            return self.absent
        if self.passed is None:
            notes.append(self.detail)
            return f"error [{len(notes)}] {self.seconds:.2f} s"
        word = "pass" if self.passed else "FAIL"
        named = f" {self.detail}" if self.detail else ""
        return f"{word}{named} {self.seconds:.2f} s{self.postscript}"

    def flagged(self) -> bool:
        """Did the checker object (a failure or an exception)?"""
        return not self.absent and self.passed is not True


def _timed(check: Callable[[], tuple[bool, str]]) -> Outcome:
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow warnings of no_max_shift, gradcheck's notes
            passed, detail = check()
    except Exception as error:  # noqa: BLE001 -- a checker's crash is a result here
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
        message = lines[-1] if lines[0].endswith("Traceback (most recent call last):") else lines[0]
        return Outcome(None, time.perf_counter() - start, f"{type(error).__name__}: {message[:160]}")
    return Outcome(passed, time.perf_counter() - start, detail)


# --- derive ----------------------------------------------------------------------------------


def _check_with_derive(fn: Callable, sizes: Sizes, weight_scale: float | None):
    """The one call to derive: its whole check of ``fn``, a report."""
    return derive.check_implementation(
        fn, loss="softmax-cross-entropy", samples=sizes.samples, features=sizes.features,
        classes=sizes.classes, reg=REG, dtype="float64", seed=SEED, weight_scale=weight_scale)


def derive_outcome(case: Case, sizes: Sizes) -> Outcome:
    def check():  # derive draws its inputs with the same weight scale as the other checkers
        report = _check_with_derive(case.fn, sizes, case.weight_scale)
        if report.ok:
            return True, ""
        named = report.mistake or "unnamed"
        return False, named if report.verdict == "wrong" else f"{report.verdict}: {named}"
    return _timed(check)


# --- torch.autograd.gradcheck ----------------------------------------------------------------


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _torch_losses():
    return _module("softmax_torch") if _torch() is not None else None


def _numpy_as_torch(torch, case: Case, problem: Problem) -> Callable:
    """The user's NumPy ``(loss, dW[, db])`` function as a torch function of its parameters."""

    def user_call(*params):
        loss, *gradients = case.fn(*params, problem.X, problem.y, REG)
        return loss, gradients

    class UserLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *params):
            loss, gradients = user_call(*(p.detach().numpy() for p in params))
            ctx.gradients = [torch.as_tensor(np.asarray(g, dtype=np.float64)) for g in gradients]
            return torch.tensor(float(loss), dtype=torch.float64)

        @staticmethod
        def backward(ctx, grad_output):
            return tuple(grad_output * g for g in ctx.gradients)

    return UserLoss.apply


def gradcheck_outcome(case: Case, problem: Problem, fast: bool, pay_messages: bool = False) -> Outcome:
    """gradcheck's answer on ``case``; in fast mode its slow-mode failure message is skipped
    (and its cost extrapolated) unless ``pay_messages``."""
    torch = _torch()
    if torch is None:
        return Outcome(None, absent="not installed")
    params = tuple(torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in problem.params)
    if case.torch_native:
        X, y = torch.tensor(problem.X), torch.tensor(problem.y, dtype=torch.long)

        def function(*p):
            return case.fn(*p, X, y, REG)
    else:
        function = _numpy_as_torch(torch, case, problem)
    skipped = []
    with _slow_failure_message_skipped(skipped, active=fast and not pay_messages):
        outcome = _timed(lambda: (torch.autograd.gradcheck(function, params, fast_mode=fast,
                                                           raise_exception=False), ""))
    if not skipped:
        return outcome
    calls = 2 * sum(p.size for p in problem.params)
    message = calls * _one_call_seconds(case, problem)
    shown = f"{message:,.0f}" if message >= 10 else f"{message:.2f}"
    return Outcome(outcome.passed, outcome.seconds, postscript=f" (+{shown} s*)")


@contextlib.contextmanager
def _slow_failure_message_skipped(skipped: list, active: bool):
    """On failure, fast-mode gradcheck recomputes the whole Jacobian in slow mode (2 D K loss
    calls) only to print it in its message; replace that step by a note in ``skipped``."""
    module = importlib.import_module("torch.autograd.gradcheck")
    original = getattr(module, "_run_slow_mode_and_get_error", None)
    if not active or original is None:
        yield
        return

    def note_instead(*args, **kwargs):
        skipped.append(True)
        return "\n(slow-mode recomputation for this message skipped by bench_impl)\n"
    module._run_slow_mode_and_get_error = note_instead
    try:
        yield
    finally:
        module._run_slow_mode_and_get_error = original


# --- jax.test_util.check_grads ---------------------------------------------------------------


def _jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def _numpy_as_jax(jax, case: Case, problem: Problem) -> Callable:
    """The user's NumPy function as a JAX function of its parameters, with its own VJP."""
    import jax.numpy as jnp

    scalar = jax.ShapeDtypeStruct((), jnp.float64)
    shapes = tuple(jax.ShapeDtypeStruct(p.shape, jnp.float64) for p in problem.params)

    def user_call(*params):
        loss, *gradients = case.fn(*(np.asarray(p) for p in params), problem.X, problem.y, REG)
        return (np.float64(loss), *(np.asarray(g, dtype=np.float64) for g in gradients))

    @jax.custom_vjp
    def loss(*params):
        return jax.pure_callback(lambda *p: user_call(*p)[0], scalar, *params)

    def forward(*params):
        loss_value, *gradients = jax.pure_callback(user_call, (scalar, *shapes), *params)
        return loss_value, tuple(gradients)

    def backward(gradients, cotangent):
        return tuple(cotangent * g for g in gradients)

    loss.defvjp(forward, backward)
    return loss


def jax_outcome(case: Case, problem: Problem) -> Outcome:
    jax = _jax()
    if jax is None:
        return Outcome(None, absent="not installed")
    if case.torch_native:
        return Outcome(None, absent="n/a (torch fn)")
    from jax.test_util import check_grads

    function = _numpy_as_jax(jax, case, problem)
    params = tuple(jax.numpy.asarray(p) for p in problem.params)

    def check():
        try:
            check_grads(function, params, order=1, modes=("rev",))
        except AssertionError:
            return False, ""
        return True, ""
    return _timed(check)


# --- finite differences and timing -----------------------------------------------------------


def _times(action: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        out.append(time.perf_counter() - start)
    return out


def _seconds(value: float) -> str:
    return f"{value:9.3f} s " if value >= 0.1 else f"{value * 1e3:9.3f} ms"


def _long(value: float) -> str:
    """`` = 4.2 h`` or `` = 7.4 days`` for a duration worth restating, else nothing."""
    if value >= 2 * 86400:
        return f" = {value / 86400:.1f} days"
    return f" = {value / 3600:.1f} h" if value >= 3600 else ""


def _line(name: str, times: list[float]) -> str:
    return (f"{name:<58} median {_seconds(statistics.median(times))}   "
            f"min {_seconds(min(times))}   max {_seconds(max(times))}   (n = {len(times)})")


def central_differences(fn: Callable, problem: Problem, entries: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """``(L(W + h e) - L(W - h e)) / 2h`` at the given flat entries of W: 2 loss calls each."""
    W = problem.params[0].copy()
    flat = W.reshape(-1)
    out = np.empty(len(entries))
    for position, entry in enumerate(entries):
        saved = flat[entry]
        flat[entry] = saved + h
        above = fn(W, problem.X, problem.y, REG)[0]
        flat[entry] = saved - h
        below = fn(W, problem.X, problem.y, REG)[0]
        flat[entry] = saved
        out[position] = (above - below) / (2 * h)
    return out


@dataclass(frozen=True)
class FiniteDifferenceTime:
    seconds: float
    extrapolated: bool
    per_entry: float
    entries: int

    def describe(self) -> str:
        how = (f"EXTRAPOLATED from {self.per_entry * 1e3:.2f} ms per entry"
               if self.extrapolated else "measured, whole loop")
        return f"       {_seconds(self.seconds)}   ({how}){_long(self.seconds)}"


def time_finite_differences(fn: Callable, problem: Problem, sample: int, budget: float,
                            repeat: int) -> FiniteDifferenceTime:
    """Time central differences over all of W, or extrapolate from a random subset."""
    size = problem.params[0].size
    rng = np.random.default_rng(SEED)
    subset = rng.choice(size, size=min(sample, size), replace=False)
    subset_times = _times(lambda: central_differences(fn, problem, subset), repeat)
    per_entry = statistics.median(subset_times) / len(subset)
    estimate = per_entry * size
    if estimate > budget:
        return FiniteDifferenceTime(estimate, True, per_entry, size)
    start = time.perf_counter()
    central_differences(fn, problem, np.arange(size))
    return FiniteDifferenceTime(time.perf_counter() - start, False, per_entry, size)


# --- the report ------------------------------------------------------------------------------


def _machine() -> str:
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    torch, jax = _torch(), _jax()
    versions.append(f"torch {torch.__version__}" if torch else "torch not installed")
    versions.append(f"jax {jax.__version__}" if jax else "jax not installed")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{'; '.join(versions)}; {os.cpu_count()} cpus, load {load}"


def whole_check(fn: Callable, sizes: Sizes, repeat: int) -> list[float]:
    """derive's whole check: the first (cold) call, then ``repeat`` more."""
    start = time.perf_counter()
    report = _check_with_derive(fn, sizes, None)
    cold = time.perf_counter() - start
    print(f"{'derive.check_implementation, first call (cold)':<58}        {_seconds(cold)}"
          f"   verdict {report.verdict}")
    later = _times(lambda: _check_with_derive(fn, sizes, None), repeat)
    print(_line("derive.check_implementation, later calls (warm)", later))
    return later


def _ratio(numerator: float, denominator: list[float]) -> str:
    return f"{numerator / statistics.median(denominator):,.1f}x"


def timing_section(title: str, sizes: Sizes, args, fn: Callable) -> None:
    print(f"\n== {title}: {sizes}, float64, reg={REG:g} ==")
    case = Case("correct", fn, True)
    problem = _problem(sizes, case)
    one_call = _times(lambda: fn(*problem.params, problem.X, problem.y, REG), max(5, args.repeat))
    print(_line("one call of softmax_loss_vectorized", one_call))
    derive_times = whole_check(fn, sizes, args.repeat)
    sample = min(args.fd_entries, max(10, int(FD_SAMPLE_SECONDS / (2 * statistics.median(one_call)))))
    fd = time_finite_differences(fn, problem, sample, args.fd_budget, args.repeat)
    print(f"{'central FD over all ' + format(fd.entries, ',') + ' entries of W':<58} {fd.describe()}")
    print(f"  = {2 * fd.entries:,} loss calls; FD / derive: {_ratio(fd.seconds, derive_times)}")
    if derive_times:
        calls = statistics.median(derive_times) / statistics.median(one_call)
        print(f"  derive's check costs as much as {calls:,.0f} calls of the loss")
    fast = gradcheck_outcome(case, problem, fast=True)
    if not fast.absent:
        print(f"{'gradcheck fast mode (for reference)':<58} {fast.cell([])}")


def detection_section(sizes: Sizes, slow_sizes: Sizes, slow_budget: float, pay_messages: bool) -> None:
    print(f"\n== detection: derive and gradcheck fast at {sizes}; "
          f"gradcheck slow at {slow_sizes} ==")
    cases = _cases()
    headers = ("case", "expected", "derive", "gradcheck fast", f"gradcheck slow", "jax check_grads")
    rows, notes = [], []
    caught = {name: [0, 0] for name in headers[2:]}  # right answers, cases judged
    for case in cases:
        problem = _problem(sizes, case)
        outcomes = [derive_outcome(case, sizes), gradcheck_outcome(case, problem, True, pay_messages),
                    _slow_outcome(case, slow_sizes, slow_budget), jax_outcome(case, problem)]
        cells = [case.name, "pass" if case.correct else "FAIL"]
        for header, outcome in zip(headers[2:], outcomes):
            cells.append(outcome.cell(notes))
            if not outcome.absent:
                caught[header][0] += outcome.flagged() != case.correct
                caught[header][1] += 1
        rows.append(cells)
        if sys.stderr.isatty():
            print(".", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    rows.append(["right answers", ""] + [f"{right} of {judged}" if judged else "-"
                                          for right, judged in caught.values()])
    widths = [max(len(row[i]) for row in rows + [list(headers)]) for i in range(len(headers))]
    for row in [list(headers), ["-" * w for w in widths]] + rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for number, note in enumerate(notes, 1):
        print(f"  [{number}] {note}")
    print("A right answer: pass on a correct case; FAIL or error on a wrong one. "
          "gradcheck: default eps 1e-6, atol 1e-5, rtol 1e-3; check_grads: eps 1e-4, tol 1e-5.")
    if not pay_messages and _torch() is not None:
        print("* gradcheck fast mode, on failure, recomputes the whole Jacobian in slow mode "
              "(2 D K loss calls) for its error message;\n  skipped here, its time EXTRAPOLATED "
              "from one loss call (--gradcheck-messages pays it).")


def _slow_outcome(case: Case, slow_sizes: Sizes, budget: float) -> Outcome:
    """gradcheck slow mode at the reduced size, unless even that is estimated over budget."""
    if _torch() is None:
        return Outcome(None, absent="not installed")
    problem = _problem(slow_sizes, case)
    calls = 2 * sum(p.size for p in problem.params)
    one = _one_call_seconds(case, problem)
    if calls * one > budget:
        return Outcome(None, absent=f"n/a (would take ~{calls * one:.0f} s)")
    return gradcheck_outcome(case, problem, fast=False)


def _one_call_seconds(case: Case, problem: Problem, repeat: int = 3) -> float:
    """The fastest of ``repeat`` calls of the case's function, after one untimed call."""
    arguments = (*problem.params, problem.X, problem.y, REG)
    if case.torch_native:
        torch = _torch()
        arguments = (*(torch.tensor(p, requires_grad=True) for p in problem.params),
                     torch.tensor(problem.X), torch.tensor(problem.y), REG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        case.fn(*arguments)  # untimed: a first call may initialise the library
        return min(_times(lambda: case.fn(*arguments), repeat))


def slow_mode_extrapolation(sizes: Sizes, fn: Callable) -> None:
    case = Case("correct", fn, True)
    problem = _problem(sizes, case)
    one = _one_call_seconds(case, problem, 5)
    calls = 2 * problem.params[0].size
    print(f"gradcheck slow mode at {sizes} would make {calls:,} loss calls: "
          f"~{calls * one:,.0f} s per case (EXTRAPOLATED from {one * 1e3:.2f} ms per call)")


def _sizes(text: str) -> Sizes:
    samples, features, classes = (int(part) for part in text.split(","))
    return Sizes(samples, features, classes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per median (default 3)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in seconds")
    parser.add_argument("--fd-entries", type=int, default=200,
                        help="entries of W timed for the finite-difference cost (default 200)")
    parser.add_argument("--fd-budget", type=float, default=120.0,
                        help="run the whole FD loop only if estimated under this (s, default 120)")
    parser.add_argument("--slow-size", type=_sizes, default=None, metavar="N,D,K",
                        help="size for gradcheck slow mode (default 50,300,10; quick 10,20,5)")
    parser.add_argument("--slow-budget", type=float, default=60.0,
                        help="skip slow mode on a case estimated over this (s, default 60)")
    parser.add_argument("--gradcheck-messages", action="store_true",
                        help="let failing fast-mode gradcheck build its slow-mode message (slow)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch's intra-op threads (default 1: its calls here are small, and "
                             "on a busy machine more threads made one call 200x slower)")
    parser.add_argument("--skip-large", action="store_true", help="skip the K = 1000 timing")
    args = parser.parse_args()
    if args.quick:
        cs231n, large, slow = Sizes(20, 50, 5), Sizes(16, 64, 50), Sizes(10, 20, 5)
        args.repeat = min(args.repeat, 2)
    else:
        cs231n, large, slow = Sizes(500, 3073, 10), Sizes(256, 2048, 1000), Sizes(50, 300, 10)
    slow = args.slow_size or slow

    torch = _torch()
    if torch is not None:
        torch.set_num_threads(args.torch_threads)
    print(_machine() + (f"; torch threads {args.torch_threads}" if torch is not None else ""))
    print(f"repeat {args.repeat}")
    vectorised = _module("softmax").softmax_loss_vectorized
    timing_section("whole check at CS231n size", cs231n, args, vectorised)
    if not args.skip_large:
        timing_section("whole check at large K", large, args, vectorised)
    detection_section(cs231n, slow, args.slow_budget, args.gradcheck_messages)
    slow_mode_extrapolation(cs231n, vectorised)
    return 0


if __name__ == "__main__":
    sys.exit(main())
