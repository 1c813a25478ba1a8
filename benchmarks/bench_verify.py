"""In-process time of ``derive``'s verification, against a naive SymPy loop and as K grows.

What is measured (after all imports, in this one process)
--------------------------------------------------------
candidate
    The gradient's proof at K, ``derive.softmax_cross_entropy(K, features=D, label=0)``
    then its ``rows`` and ``facts``: construction and verification timed together: the
    gradient (SymPy's derivative through the scores), the K row verdicts, and the audit
    that differentiates the whole loss directly on a fixed sample of entries.
route
    The rest of ``verify()``: the seed's route, the catalog document
    ``softmax-cross-entropy.md`` checked at its own sizes (K = 2..4, D = 1..3, every label
    and row), whatever K is.  It does not grow with K, so it is timed on its own (cold
    cache too) and added back for the ratio of the whole ``verify()``.
baseline (naive)
    The naive check of the same K x D gradient entries:
    ``simplify(diff(L, w) - claim) == 0`` for every weight symbol ``w``, with
    ``L = d.loss`` and ``claim`` the matching entry of ``d.closed_form(m)``
    (building ``d`` is inside the timing here too).  It checks the rows only:
    no steps, no facts, no counterexamples.

SymPy memoises heavily.  ``sympy.core.cache.clear_cache()`` and a ``gc.collect()``
precede every timed run, so no run gets a warm-cache speed-up that a first run does
not get.  Runs are interleaved (candidate and baseline alternate which goes first) so
that drift in machine load hits both.  Wall-clock and process CPU time are both
printed: CPU well below wall means the machine was busy with something else.

What one run prints
-------------------
1. The machine: CPU model, cores, load average; Python, SymPy, derive.
2. The comparison at K = 64, D = 3 (``--repeat`` interleaved rounds, default 3):
   medians, and the ratio median(baseline) / median(candidate), target >= 10x.
   A PASS needs the ratio *and* every candidate run proven.
3. The growth table for K = 16, 32, 64, 128, 256, 512, 1000 (D = 3): the median
   candidate time (wall and CPU) of ``--repeat`` runs, the local exponent
   ``a`` of ``time ~ K^a`` between neighbouring K, and the naive baseline
   where it is affordable (K <= 64; at K = 64 from the comparison).
4. The time at K = 1000 against the budget (``--budget``, default 60 s), and the
   largest K of the table within the budget.

The candidate's verdict can depend on machine load: each entry of each
``verify_identity`` call has a wall-clock time limit, so a busy machine can turn a
proof near the limit into ``unproven``; such runs are flagged.  One more source of
spread: SymPy's assumption system tries facts in a random order, and at large K
the first derivative of the whole loss sometimes takes a detour through all K
terms (seconds); medians absorb it, the min and max show it.

``--breakdown K`` times the parts of one run at that K instead, in the order
``verify()`` does them (the rows, the audit, the route).

Usage::

    python benchmarks/bench_verify.py [--repeat 3] [--budget 60]
    python benchmarks/bench_verify.py --breakdown 1000
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
from derive.catalog import SEED, entry  # noqa: E402
from derive.core import worst  # noqa: E402
from derive.document import check_document  # noqa: E402

TARGET_RATIO = 10.0
COMPARE_K = 64
FEATURES = 3
LABEL = 0
GROWTH_KS = (16, 32, 64, 128, 256, 512, 1000)
NAIVE_UP_TO = 64  # the naive baseline takes minutes beyond this

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
    """Construction + the rows and the audit at K, on a cold SymPy cache."""
    _fresh()
    with _Clock() as clock:
        d = derive.softmax_cross_entropy(classes, features=features, label=LABEL)
        rows, facts = d.row_verdicts, d.facts
    statuses = [v.status for v in rows] + [f.status for f in facts]
    status = worst(statuses)
    proven_rows = sum(v.status == "proven" for v in rows)
    return Run(clock.wall, clock.cpu, status,
               f"{status} ({proven_rows} of {len(rows)} rows, {len(facts)} audit)")


def run_route() -> Run:
    """The seed's route (its catalog document at its own sizes), on a cold SymPy cache."""
    _fresh()
    with _Clock() as clock:
        route = check_document(entry(SEED).path)
    return Run(clock.wall, clock.cpu, route.status, f"{route.status} ({len(route.steps)} steps)")


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


def _median(runs: list[Run], field: str = "seconds") -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _spread(runs: list[Run]) -> str:
    return f"min {min(r.seconds for r in runs):.2f}, max {max(r.seconds for r in runs):.2f}"


# --- the comparison ----------------------------------------------------------


def compare(classes: int, features: int, repeat: int) -> tuple[list[Run], list[Run]]:
    say(f"1. comparison: K = {classes}, D = {features}, label = {LABEL}, {repeat} interleaved rounds")
    say("   candidate = softmax_cross_entropy(K, D, 0): rows + audit at K   [the gradient's proof]")
    say("   baseline  = simplify(diff(L, w) - claim) == 0 for all K*D weights   [rows only]")
    candidates: list[Run] = []
    baselines: list[Run] = []
    for round_index in range(repeat):
        pair = (("baseline", run_baseline, baselines), ("candidate", run_candidate, candidates))
        for label, runner, runs in pair if round_index % 2 == 0 else pair[::-1]:
            run = runner(classes, features)
            runs.append(run)
            say(f"   round {round_index + 1} {label:<10} {run.seconds:8.2f} s  (cpu {run.cpu:7.2f} s)  "
                f"{run.summary}")
    routes = [run_route() for _ in range(repeat)]
    for number, run in enumerate(routes, start=1):
        say(f"   route run {number}      {run.seconds:8.2f} s  (cpu {run.cpu:7.2f} s)  {run.summary}")
    base, cand, route = _median(baselines), _median(candidates), _median(routes)
    ratio = base / cand
    say(f"   median route     {route:8.2f} s   (independent of K; verify() = candidate + route)")
    say(f"   ratio median(baseline) / (median(candidate) + median(route)) = {base / (cand + route):.1f}x"
        "   (the whole verify(), informational)")
    say(f"   median baseline  {base:8.2f} s   ({_spread(baselines)})")
    say(f"   median candidate {cand:8.2f} s   ({_spread(candidates)})")
    say(f"   ratio median(baseline) / median(candidate) = {ratio:.1f}x   (target >= {TARGET_RATIO:g}x)")
    unproven = [r for r in candidates if r.status != "proven"]
    if ratio < TARGET_RATIO:
        say(f"   FAIL: {ratio:.1f}x < {TARGET_RATIO:g}x")
    elif unproven:
        say(f"   NOT A PASS: {ratio:.1f}x meets the target, but {len(unproven)} candidate run(s) "
            f"ended '{unproven[0].status}' ({unproven[0].summary})")
    else:
        say(f"   PASS: {ratio:.1f}x >= {TARGET_RATIO:g}x, every candidate run proven")
    if any(r.status != "proven" for r in baselines):
        say("   note: in some baseline runs simplify did not reach 0 for every entry")
    return candidates, baselines


# --- growth -------------------------------------------------------------------


def growth(features: int, repeat: int, known: dict[int, tuple[list[Run], list[Run]]]) -> dict[int, list[Run]]:
    ks = [k for k in GROWTH_KS if k <= derive.MAX_CLASSES]
    say(f"2. growth: D = {features}, label = {LABEL}, median of {repeat} candidate run(s) per K "
        f"(cache cleared before each); naive baseline for K <= {NAIVE_UP_TO}")
    say(f"   {'K':>5} {'candidate s':>12} {'cpu s':>8} {'min..max s':>14} {'ms/class':>9} "
        f"{'local a':>8} {'naive s':>9} {'naive/cand':>11}  verdict")
    table: dict[int, list[Run]] = {}
    previous = None
    for k in ks:
        if k in known:
            runs, naive = known[k]
        else:
            runs, naive = [], []
            for r in range(repeat):
                runs.append(run_candidate(k, features))
                if k <= NAIVE_UP_TO:
                    naive.append(run_baseline(k, features))
        table[k] = runs
        cand = _median(runs)
        local = "" if previous is None else f"{math.log(cand / previous[1]) / math.log(k / previous[0]):.2f}"
        naive_s = f"{_median(naive):9.2f}" if naive else f"{'-':>9}"
        ratio = f"{_median(naive) / cand:10.1f}x" if naive else f"{'-':>11}"
        spread = f"{min(r.seconds for r in runs):.1f}..{max(r.seconds for r in runs):.1f}"
        statuses = " | ".join(sorted({run.summary for run in runs}))
        say(f"   {k:>5} {cand:12.2f} {_median(runs, 'cpu'):8.2f} {spread:>14} {1000 * cand / k:9.1f} "
            f"{local:>8} {naive_s} {ratio}  {statuses}")
        previous = (k, cand)
    return table


def verdict_at_budget(table: dict[int, list[Run]], budget: float) -> None:
    ks = sorted(table)
    top = ks[-1]
    median = _median(table[top])
    within = [k for k in ks if _median(table[k]) <= budget and all(r.status == "proven" for r in table[k])]
    word = "PASS" if median <= budget and all(r.status == "proven" for r in table[top]) else "FAIL"
    say(f"3. K = {top}, D = {FEATURES}: median {median:.2f} s (cpu {_median(table[top], 'cpu'):.2f} s, "
        f"{_spread(table[top])}) against a budget of {budget:g} s: {word}")
    if not within:
        say(f"   no K in the table is within {budget:g} s")
        return
    best = max(within)
    if best == derive.MAX_CLASSES:
        a = math.log(_median(table[ks[-1]]) / _median(table[ks[-2]])) / math.log(ks[-1] / ks[-2])
        reach = ks[-1] * (budget / median) ** (1 / a)
        say(f"   largest K within {budget:g} s: all of them, up to MAX_CLASSES = {best}; "
            f"extrapolated with the last local exponent {a:.2f} (not a measurement), the budget "
            f"would run out near K = {reach:.0f}")
    else:
        say(f"   largest K of the table within {budget:g} s: K = {best} ({_median(table[best]):.2f} s)")


# --- where the time goes --------------------------------------------------------


def breakdown(classes: int, features: int) -> None:
    say(f"breakdown of one candidate run (K = {classes}, D = {features}), after clear_cache(), "
        "part by part in the order verify() does them")
    _fresh()
    d = derive.softmax_cross_entropy(classes, features=features, label=LABEL)
    total = 0.0

    def part(name: str, what: str, work) -> object:
        nonlocal total
        with _Clock() as clock:
            result = work()
        total += clock.wall
        say(f"  {name:<42} {clock.wall:8.2f} s  (cpu {clock.cpu:7.2f} s)  {what}")
        return result

    part("model", "scores, partition, loss", lambda: (d.model.partition, d.loss))
    part("rows", "claims, closed forms, SymPy's rows through the scores, verdicts", lambda: d.rows)
    for step in d.FACTS:
        result = part(f"fact: {step.name}", "", lambda step=step: d.check(step))
        if result.status != "proven":
            say(f"      {result.verdict}")
    route = part("route: softmax-cross-entropy.md", "the document at its own sizes", lambda: d.route)
    if route.status != "proven":
        say(f"      {route}")
    say(f"  {'sum':<42} {total:8.2f} s")


# --- command line --------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _header() -> None:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    say(f"bench_verify: {_cpu_model()}, {os.cpu_count()} cores, load average {load}; "
        f"{platform.system()} {platform.release()}")
    say(f"  Python {platform.python_version()}, SymPy {sympy.__version__}, "
        f"derive {derive.__version__} from {Path(derive.__file__).parent}")
    d = derive.softmax_cross_entropy(2, features=1, label=LABEL)
    say(f"  time_limit per verified entry = {d.time_limit:g} s (wall clock); "
        f"MAX_CLASSES = {derive.MAX_CLASSES}, MAX_FEATURES = {derive.MAX_FEATURES}")
    say()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds allowed at K = 1000 (default 60)")
    parser.add_argument("--breakdown", type=int, default=None, metavar="K",
                        help="time the parts of one run at K instead")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    _header()
    if args.breakdown is not None:
        if not 2 <= args.breakdown <= derive.MAX_CLASSES:
            parser.error(f"--breakdown must be in 2..{derive.MAX_CLASSES}")
        breakdown(args.breakdown, FEATURES)
        return 0
    compared = compare(COMPARE_K, FEATURES, args.repeat)
    say()
    table = growth(FEATURES, args.repeat, {COMPARE_K: compared})
    say()
    verdict_at_budget(table, args.budget)
    return 0  # a FAIL against a target is a measurement, not an error


if __name__ == "__main__":
    sys.exit(main())
