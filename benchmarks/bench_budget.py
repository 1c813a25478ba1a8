"""What the per-entry deadlines cost: a forked worker process against running the same work inline.

The verifier runs everything past its instant strategies in a forked child (derive.core.budget), so
that a deadline holds on any thread without signals.  This measures that price in one run:

* fork overhead: ``run_each`` of N trivial tasks against calling them directly, for a small
  parent process and for one holding a K = 64 softmax derivation (a larger address space to copy);
* a real entry that needs the worker (proved by simplify) timed through ``verify`` against the
  same strategies called inline.

Medians of interleaved rounds; the machine is shared, so read the ratios, not the milliseconds.

    python benchmarks/bench_budget.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import sympy

import derive
from derive.core import budget
from derive.core.strategies import AFTER_SEARCH, BEFORE_SEARCH, Context, first_proof


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds

    x = sympy.Symbol("x", real=True)
    identity = sympy.gamma(x + 2) / sympy.gamma(x + 1) - x - 1  # only simplify proves it
    truth, claim = 2 * x, 2 * x + identity
    tasks = [lambda: 1] * 10

    def inline_strategies():
        context = Context()
        first_proof(BEFORE_SEARCH + AFTER_SEARCH, truth, claim, context)

    samples: dict[str, list[float]] = {name: [] for name in (
        "10 trivial tasks, inline", "10 trivial tasks, one worker (small parent)",
        "10 trivial tasks, one worker (parent holds K=64)", "simplify entry, inline",
        "simplify entry, through verify (worker)")}
    big = None
    for round_number in range(rounds):
        samples["10 trivial tasks, inline"].append(timed(lambda: [task() for task in tasks]))
        samples["10 trivial tasks, one worker (small parent)"].append(timed(lambda: budget.run_each(tasks, 10)))
        samples["simplify entry, inline"].append(timed(inline_strategies))
        samples["simplify entry, through verify (worker)"].append(
            timed(lambda: derive.verify(x**2, [x], [claim], points=1)))
        if big is None:
            big = derive.softmax_cross_entropy(classes=64, features=3)
            big.gradient(0)  # hold real expressions in memory
        samples["10 trivial tasks, one worker (parent holds K=64)"].append(timed(lambda: budget.run_each(tasks, 10)))

    print(f"derive {derive.__version__}: per-entry deadlines in a worker process, {rounds} rounds, medians")
    width = max(map(len, samples))
    for name, values in samples.items():
        print(f"  {name:<{width}}  {statistics.median(values) * 1000:9.2f} ms")
    inline = statistics.median(samples["simplify entry, inline"])
    worker = statistics.median(samples["simplify entry, through verify (worker)"])
    print(f"  worker / inline for an entry that needs simplify: {worker / inline:.2f}x")


if __name__ == "__main__":
    main()
