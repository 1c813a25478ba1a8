"""In-process time of ``derive``'s verification against a naive SymPy loop.

What is measured (after all imports, in this one process)
--------------------------------------------------------
candidate
    ``derive.softmax_cross_entropy(K, features=D, label=0).verify()``:
    construction and verification timed together.  Construction is cheap
    (the model's expressions are built lazily); SymPy's own gradient, the
    ``diff`` of the loss for every weight, is computed lazily *inside*
    ``verify()``, so the candidate's time includes differentiation, the K row
    verdicts, the steps of the hand derivation and the extra facts.
baseline
    The naive check of the same K x D gradient entries:
    ``simplify(diff(L, w) - claim) == 0`` for every weight symbol ``w``, with
    ``L = d.loss`` and ``claim`` the matching entry of ``d.closed_form(m)``
    (building ``d`` is inside the timing here too).  It checks the rows only:
    no steps, no facts, no counterexamples.  It differentiates ``d.loss`` as
    written, as a user would; the candidate may differentiate an equivalent
    form of it (its own business, which its steps then have to justify).

SymPy memoises heavily.  To keep repeated runs from getting warm-cache
speed-ups that a first run does not get, ``sympy.core.cache.clear_cache()``
(and a ``gc.collect()``) precede every timed run, candidate and baseline
alike.  The two are interleaved, alternating which goes first, so that drift
in machine load hits both.  Wall-clock and process CPU time are both
printed: CPU well below wall means the machine was busy with something else.

How to read it
--------------
The ratio of record is median(baseline) / median(candidate), target >= 10x
("derive is ten times faster than the naive loop").  It is a PASS only when
the ratio meets the target *and* every candidate run proved everything: a
verification that returns ``unproven`` (the verifier gives up when its time
limit runs out) is not a valid speed result.  The candidate's verdict can
depend on machine load: each ``verify_identity`` call has a wall-clock time
limit (``time_limit``, printed below), so a busy machine can turn a proof
near the limit into ``unproven``.

The breakdown that follows shows where the candidate's time goes.  Each part
is timed once, on a fresh derivation object after ``clear_cache()``:

* diff:  ``d.gradient(m)`` for every m (SymPy differentiates the loss K*D times)
* rows:  ``d.row_verdicts``  } timed with the gradients already computed
* steps: ``d.steps``         } (untimed, on the same fresh object), as they
* facts: ``d.facts``         } are when ``verify()`` reaches them

so the four parts add up to roughly one candidate run.  ``--detail`` also
times each step and fact on its own (building its claims, then verifying
them), which costs about one more ``d.steps`` + ``d.facts``.  The breakdown
ends with an informational rows-only ratio, baseline / (diff + rows), which
compares the same work: the K*D gradient entries.

Other modes (instead of the comparison above)
---------------------------------------------
``--scaling``
    For K in 4, 8, 16, 32, 64: one candidate run and one baseline run per K
    (fresh cache each; ``--repeat N`` takes the median of N interleaved runs
    instead), a table of seconds, and the exponent ``a`` of ``time ~ K**a``
    fitted by least squares on log-log over the three largest K (and, for
    comparison, over all K; and on the candidate's CPU time, which a busy
    machine disturbs less than wall time).
``--max-k [SECONDS]``
    The largest K in 2..MAX_CLASSES whose full candidate run takes at most
    SECONDS (default 60): K doubles from 2, then bisects between the last K
    within budget and the first beyond it.  One run per probe, so near the
    boundary the answer is as noisy as the machine.  The public API refuses
    K > MAX_CLASSES, so if MAX_CLASSES itself fits, the script says so and
    gives an *extrapolation* (from the fitted exponent, not a measurement)
    of where the budget would run out.

Defaults: K = 64, D = 3, 3 repetitions.  The naive baseline dominates the
default run (several seconds per run at K = 64); ``--repeat 1`` or
``--no-breakdown`` or a smaller ``--classes`` is quicker.  The candidate's
cost depends on the library version: check the breakdown before assuming.

Usage::

    python benchmarks/bench_verify.py [--classes 64] [--features 3] [--repeat 3]
                                      [--no-breakdown] [--detail]
    python benchmarks/bench_verify.py --scaling [--features 3]
    python benchmarks/bench_verify.py --max-k [60] [--features 3]
"""

from __future__ import annotations

import argparse
import functools
import gc
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # measure this checkout, wherever the script is run from
    sys.path.insert(0, str(REPO))

import sympy  # noqa: E402
from sympy import diff, simplify  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

import derive  # noqa: E402

TARGET_RATIO = 10.0
LABEL = 0
SCALING_KS = (4, 8, 16, 32, 64)
FIT_POINTS = 3  # the exponent is fitted over this many of the largest K

say = functools.partial(print, flush=True)


@dataclass(frozen=True)
class Run:
    seconds: float  # wall clock
    cpu: float  # process CPU time
    status: str  # "proven" when everything checked came out proven
    summary: str


def _fresh() -> None:
    clear_cache()
    gc.collect()


class _Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def run_candidate(classes: int, features: int) -> Run:
    """Construction + verify(), on a cold SymPy cache."""
    _fresh()
    with _Clock() as clock:
        d = derive.softmax_cross_entropy(classes, features=features, label=LABEL)
        verdict = d.verify()
    return Run(clock.wall, clock.cpu, verdict.status, verdict.summary())


def run_baseline(classes: int, features: int) -> Run:
    """simplify(diff(L, w) - claim) == 0 for every weight, on a cold SymPy cache."""
    _fresh()
    with _Clock() as clock:
        d = derive.softmax_cross_entropy(classes, features=features, label=LABEL)
        loss = d.loss
        zero = total = 0
        for m in range(classes):
            claim = d.closed_form(m)
            for k in range(features):
                total += 1
                zero += simplify(diff(loss, d.weights[m, k]) - claim[k]) == 0
    status = "proven" if zero == total else "not proven"
    return Run(clock.wall, clock.cpu, status, f"{zero} of {total} entries simplify to 0")


def _show(label: str, run: Run) -> None:
    say(f"  {label:<10} {run.seconds:8.2f} s  (cpu {run.cpu:7.2f} s)  {run.summary}")


# --- the comparison ----------------------------------------------------------


def compare(classes: int, features: int, repeat: int) -> float:
    say(f"comparison: K = {classes}, D = {features}, label = {LABEL}, {repeat} interleaved rounds")
    say("  candidate = softmax_cross_entropy(K, D, 0).verify()   [rows + steps + facts]")
    say("  baseline  = simplify(diff(L, w) - claim) == 0 for all K*D weights   [rows only]")
    say("  sympy cache cleared before every run")
    candidates: list[Run] = []
    baselines: list[Run] = []
    for round_index in range(repeat):
        say(f"round {round_index + 1}:")
        pair = (("baseline", run_baseline, baselines), ("candidate", run_candidate, candidates))
        for label, runner, runs in pair if round_index % 2 == 0 else pair[::-1]:
            run = runner(classes, features)
            runs.append(run)
            _show(label, run)
    base = statistics.median(r.seconds for r in baselines)
    cand = statistics.median(r.seconds for r in candidates)
    ratio = base / cand
    say()
    say(f"median baseline  {base:8.2f} s   (min {min(r.seconds for r in baselines):.2f}, "
        f"max {max(r.seconds for r in baselines):.2f})")
    say(f"median candidate {cand:8.2f} s   (min {min(r.seconds for r in candidates):.2f}, "
        f"max {max(r.seconds for r in candidates):.2f})")
    say(f"ratio median(baseline) / median(candidate) = {ratio:.2f}x   (target >= {TARGET_RATIO:g}x)")
    unproven = [r for r in candidates if r.status != "proven"]
    base_failed = [r for r in baselines if r.status != "proven"]
    if ratio < TARGET_RATIO:
        slower = f"; the candidate is {1 / ratio:.1f}x SLOWER than the baseline" if ratio < 1 else ""
        say(f"FAIL: {ratio:.2f}x < {TARGET_RATIO:g}x{slower}")
    elif unproven:
        say(f"NOT A PASS: {ratio:.2f}x meets the target, but not every candidate run proved everything")
    else:
        say(f"PASS: {ratio:.2f}x >= {TARGET_RATIO:g}x, every candidate run proven "
            f"(this machine, this run, {repeat} rounds)")
    if unproven:
        say(f"  note: {len(unproven)} of {len(candidates)} candidate runs ended "
            f"'{unproven[0].status}' ({unproven[0].summary}); such a run timed a verification "
            "that gave up, not one that succeeded")
    if base_failed:
        say(f"  note: in {len(base_failed)} of {len(baselines)} baseline runs simplify did not "
            f"reach 0 for every entry ({base_failed[0].summary})")
    return base


# --- where the candidate's time goes ------------------------------------------


def _fresh_derivation(classes: int, features: int, with_gradients: bool):
    _fresh()
    d = derive.softmax_cross_entropy(classes, features=features, label=LABEL)
    if with_gradients:
        for m in range(classes):
            d.gradient(m)
    return d


def _count(results) -> str:
    return f"{sum(r.status == 'proven' for r in results)} of {len(results)} proven"


def breakdown(classes: int, features: int, detail: bool, baseline_median: float | None) -> None:
    say()
    say(f"breakdown of one candidate run (K = {classes}, D = {features}); each part on a fresh "
        "object after clear_cache()")
    parts: dict[str, float] = {}

    d = _fresh_derivation(classes, features, with_gradients=False)
    with _Clock() as clock:
        for m in range(classes):
            d.gradient(m)
    parts["diff"] = clock.wall
    say(f"  diff  {clock.wall:8.2f} s  (cpu {clock.cpu:7.2f} s)  SymPy's gradient, "
        f"{classes * features} entries")

    d = _fresh_derivation(classes, features, with_gradients=True)
    with _Clock() as clock:
        rows = d.row_verdicts
    parts["rows"] = clock.wall
    say(f"  rows  {clock.wall:8.2f} s  (cpu {clock.cpu:7.2f} s)  {_count(rows)}")

    for name in ("steps", "facts"):
        d = _fresh_derivation(classes, features, with_gradients=True)
        with _Clock() as clock:
            results = getattr(d, name)
        parts[name] = clock.wall
        say(f"  {name} {clock.wall:8.2f} s  (cpu {clock.cpu:7.2f} s)  {_count(results)}")
        for result in results:
            mark = "" if result.status == "proven" else "   <--"
            say(f"      {result.step.name:<22} {str(result.verdict)[:110]}{mark}")

    total = sum(parts.values())
    say(f"  sum   {total:8.2f} s  ("
        + ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in parts.items()) + ")")
    if baseline_median is not None:
        rows_only = parts["diff"] + parts["rows"]
        say(f"  rows-only ratio (informational, one run): baseline median / (diff + rows) = "
            f"{baseline_median:.2f} / {rows_only:.2f} = {baseline_median / rows_only:.2f}x")
    if detail:
        _detail(classes, features)


def _detail(classes: int, features: int) -> None:
    """Each step and fact on its own: build its claims, then verify them.

    This repeats what ``d.steps`` / ``d.facts`` do internally (build the
    pairs, then ``verify_identity`` with the derivation's time limit).
    """
    try:
        from derive.losses.softmax.route import FACTS, STEPS
    except ImportError as error:  # the library is being reorganised
        say(f"  detail unavailable: {error}")
        return
    say()
    say("  detail: each step / fact timed alone (build = constructing the claims, "
        "verify = verify_identity)")
    for group_name, group in (("steps", STEPS), ("facts", FACTS)):
        d = _fresh_derivation(classes, features, with_gradients=True)
        for step in group:
            with _Clock() as build:
                truths, claims = step.build(d)
            with _Clock() as check:
                verdict = derive.verify_identity(truths, claims, time_limit=d.time_limit)
            say(f"    {group_name[:-1]:<5} {step.name:<22} build {build.wall:7.2f} s  "
                f"verify {check.wall:7.2f} s  {verdict.status} ({len(verdict.entries)} entries)")


# --- scaling and the largest K in a budget --------------------------------------


def fit_exponent(ks, seconds) -> tuple[float, float]:
    """Least squares of log(t) = a log(K) + b; returns (a, b)."""
    xs = [math.log(k) for k in ks]
    ys = [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    a = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return a, my - a * mx


def scaling(features: int, repeat: int) -> None:
    ks = [k for k in SCALING_KS if k <= derive.MAX_CLASSES]
    say(f"scaling: D = {features}, label = {LABEL}, median of {repeat} run(s) per K and side "
        "(interleaved), cache cleared before each")
    say(f"  {'K':>4} {'candidate s':>12} {'(cpu s)':>8} {'baseline s':>11} {'base/cand':>10}"
        "  candidate verdict")
    cand_times, cand_cpu, base_times = [], [], []
    for index, k in enumerate(ks):
        runs: dict[str, list[Run]] = {"candidate": [], "baseline": []}
        for r in range(repeat):
            order = ("candidate", "baseline") if (index + r) % 2 == 0 else ("baseline", "candidate")
            for side in order:
                runs[side].append((run_candidate if side == "candidate" else run_baseline)(k, features))
        cand = statistics.median(run.seconds for run in runs["candidate"])
        base = statistics.median(run.seconds for run in runs["baseline"])
        cand_times.append(cand)
        cand_cpu.append(statistics.median(run.cpu for run in runs["candidate"]))
        base_times.append(base)
        statuses = {run.summary for run in runs["candidate"]}
        say(f"  {k:>4} {cand:12.2f} {cand_cpu[-1]:8.2f} {base:11.2f} {base / cand:9.2f}x  "
            + " | ".join(sorted(statuses)))
    say()
    top = slice(-FIT_POINTS, None)
    for name, times in (("candidate", cand_times), ("candidate cpu", cand_cpu), ("baseline", base_times)):
        a_top, _ = fit_exponent(ks[top], times[top])
        a_all, _ = fit_exponent(ks, times)
        say(f"  {name:<13} time ~ K^a: a = {a_top:.2f} over K = "
            f"{', '.join(map(str, ks[top]))};  a = {a_all:.2f} over all K")
    a_top, b_top = fit_exponent(ks[top], cand_times[top])
    a_last, _ = fit_exponent(ks[-2:], cand_times[-2:])
    say(f"  local candidate exponent between K = {ks[-2]} and {ks[-1]}: {a_last:.2f}")
    say(f"  (the SymPy diff alone is K^2 D work; the measured candidate exponent "
        f"is {a_top:.2f})")
    say(f"  extrapolation, not a measurement (K > {derive.MAX_CLASSES} is refused by the API): "
        f"K = {2 * ks[-1]} would take about {math.exp(b_top) * (2 * ks[-1]) ** a_top:.0f} s"
        + (" (likely low: the local exponent exceeds the fitted one)" if a_last > a_top + 0.1 else ""))


def max_k(budget: float, features: int) -> None:
    limit = derive.MAX_CLASSES
    say(f"max-k: largest K in 2..{limit} whose candidate run takes <= {budget:g} s "
        f"(D = {features}, one run per probe, cache cleared before each)")
    probes: dict[int, Run] = {}

    def fits(k: int) -> bool:
        run = run_candidate(k, features)
        probes[k] = run
        ok = run.seconds <= budget
        say(f"  K = {k:>3}: {run.seconds:8.2f} s  {'within' if ok else 'OVER  '}  {run.summary}")
        return ok

    good = bad = None
    k = 2
    while True:  # doubling
        if fits(k):
            good = k
        else:
            bad = k
            break
        if k == limit:
            break
        k = min(2 * k, limit)
    if good is not None and bad is not None:
        while bad - good > 1:  # bisection
            mid = (good + bad) // 2
            if fits(mid):
                good = mid
            else:
                bad = mid
    say()
    if good is None:
        say(f"  even K = 2 takes {probes[2].seconds:.2f} s > {budget:g} s")
        return
    run = probes[good]
    if bad is None:
        say(f"  MAX_CLASSES = {limit} is within the budget: {run.seconds:.2f} s <= {budget:g} s")
        measured = sorted(probes)[-FIT_POINTS:]
        a, b = fit_exponent(measured, [probes[q].seconds for q in measured])
        k_budget = math.exp((math.log(budget) - b) / a)
        a_last, _ = fit_exponent(measured[-2:], [probes[q].seconds for q in measured[-2:]])
        say(f"  extrapolation, not a measurement (the API refuses K > {limit}): with "
            f"time ~ K^{a:.2f} (fit over K = {', '.join(map(str, measured))}, one run each), "
            f"the budget would run out near K = {k_budget:.0f}")
        if k_budget > 2 * limit:
            say(f"  (that is {k_budget / limit:.0f}x beyond the largest measured K: an order of "
                "magnitude at best)")
        if a_last > a + 0.1:
            say(f"  (likely optimistic: between K = {measured[-2]} and {measured[-1]} the local "
                f"exponent is {a_last:.2f}, and it has been rising with K)")
    else:
        say(f"  largest K within the budget: K = {good}, {run.seconds:.2f} s "
            f"(K = {bad} took {probes[bad].seconds:.2f} s)")
    if run.status != "proven":
        say(f"  caution: at K = {good} the verdict was '{run.status}' ({run.summary}): "
            "the time is that of a verification that gave up")
        proven = [q for q, r in probes.items() if r.status == "proven" and r.seconds <= budget]
        if proven:
            q = max(proven)
            say(f"  largest probed K that was both within the budget and proven: K = {q}, "
                f"{probes[q].seconds:.2f} s")


# --- command line --------------------------------------------------------------


def _header(features: int) -> None:
    d = derive.softmax_cross_entropy(2, features=features, label=LABEL)
    say(f"bench_verify: Python {platform.python_version()}, SymPy {sympy.__version__}, "
        f"derive {derive.__version__} from {Path(derive.__file__).parent}")
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    say(f"  cpus {os.cpu_count()}, load average {load}; derive time_limit per verify_identity "
        f"call = {d.time_limit:g} s (wall clock)")
    say()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=64, help="K (default 64)")
    parser.add_argument("--features", type=int, default=3, help="D (default 3)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="interleaved rounds (default 3; with --scaling, runs per K, default 1)")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the breakdown")
    parser.add_argument("--detail", action="store_true",
                        help="also time every step and fact on its own (slower)")
    parser.add_argument("--scaling", action="store_true",
                        help=f"time K in {SCALING_KS} and fit time ~ K^a (instead of the comparison)")
    parser.add_argument("--max-k", type=float, nargs="?", const=60.0, default=None, metavar="SECONDS",
                        help="find the largest K whose verify takes <= SECONDS (default 60; "
                        "instead of the comparison)")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if not 2 <= args.classes <= derive.MAX_CLASSES:
        parser.error(f"--classes must be in 2..{derive.MAX_CLASSES}")
    if not 1 <= args.features <= derive.MAX_FEATURES:
        parser.error(f"--features must be in 1..{derive.MAX_FEATURES}")

    _header(args.features)
    if args.scaling or args.max_k is not None:
        if args.scaling:
            scaling(args.features, args.repeat or 1)
        if args.max_k is not None:
            if args.scaling:
                say()
            max_k(args.max_k, args.features)
        return 0
    baseline_median = compare(args.classes, args.features, args.repeat or 3)
    if not args.no_breakdown:
        breakdown(args.classes, args.features, args.detail, baseline_median)
    return 0


if __name__ == "__main__":
    sys.exit(main())
