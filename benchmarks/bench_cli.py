"""Whole-process time of the ``derive`` commands against ``import sympy``.

What is measured
----------------
The wall-clock time of child processes, each started with this interpreter
(``sys.executable``), the same environment and the same working directory
(the repository root):

* baseline:  ``python -c "import sympy"``  -- the floor: derive needs SymPy
* ``python -m derive --help``              -- target <= 1.2x the baseline
* ``python -m derive --classes 3``         -- target <= 1.3x
* ``python -m derive check SEED.md``       -- target <= 3x: the seed's derivation
  as a document (``derive/catalog/softmax-cross-entropy.md``), read and checked
* ``python -m derive --classes 3 --steps`` -- informational, no target

Standard output goes to /dev/null.

The environment is this process's own, with the repository root put first on
``PYTHONPATH`` (for every command alike), so the checkout under test is the
one measured, not an installed copy.  Any other ``PYTHONPATH`` entries and
variables such as ``PYTHONDONTWRITEBYTECODE`` are kept; they are printed
because they change import times (without bytecode caching, derive's own
modules are compiled on every start, while SymPy's usually come from
pre-built ``.pyc`` files).

Each command runs once untimed (to warm the OS file cache), then ``--repeat``
timed rounds.  Within a round every command runs once, and the order rotates
from round to round, so drift in machine load hits all commands alike.

How to read it
--------------
For each command: the median, the min and the max over the rounds.  The
ratio of record is median(command) / median(import sympy).  Also printed:
the extra milliseconds over the bare SymPy import, and the median and range
of the per-round ratios (each taken within one round, so it is less exposed
to slow drift).  When the per-round ratios fall on both sides of a target,
the verdict is printed with a warning that this run cannot settle it; repeat
with a larger ``--repeat`` on a quieter machine.

A timed run whose exit status is not 0 (everything proven) is reported, and
the script then exits with status 1: its time is not a valid result.
Otherwise the exit status is 0 whatever the ratios: a FAIL against a target
is a measurement, not an error.

Usage::

    python benchmarks/bench_cli.py [--repeat 15] [--classes 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_DOCUMENT = "derive/catalog/softmax-cross-entropy.md"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def _time_once(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    elapsed = time.perf_counter() - start
    return elapsed, done.returncode, done.stderr.decode(errors="replace").strip()


def _fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--classes", type=int, default=3, help="K for the derive command (default 3)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    python = sys.executable
    derive = [python, "-m", "derive"]
    classes = ["--classes", str(args.classes)]
    # name -> (command, target ratio against the baseline, or None)
    commands = {
        "import sympy": ([python, "-c", "import sympy"], None),
        "derive --help": ([*derive, "--help"], 1.2),
        "derive": ([*derive, *classes], 1.3),
        "derive check": ([*derive, "check", SEED_DOCUMENT], 3.0),
        "derive --steps": ([*derive, *classes, "--steps"], None),
    }
    env = _environment()

    print("bench_cli: whole-process wall time, interleaved rounds")
    print(f"  interpreter : {python} (Python {platform.python_version()})")
    print(f"  cwd         : {REPO}")
    print(f"  PYTHONPATH  : {env['PYTHONPATH']}")
    print(f"  PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
    print(f"  cpus        : {os.cpu_count()}, load average {_loadavg()}")
    print(f"  rounds      : {args.repeat} (+1 untimed warm-up of each command)")
    for name, (command, _) in commands.items():
        print(f"  {name:<15}: {' '.join(command[1:])}")
    print()

    names = list(commands)
    for name in names:  # warm-up, untimed
        _time_once(commands[name][0], env)

    times: dict[str, list[float]] = {name: [] for name in names}
    bad: list[str] = []
    for round_index in range(args.repeat):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed, status, stderr = _time_once(commands[name][0], env)
            times[name].append(elapsed)
            if status != 0:
                bad.append(f"round {round_index + 1}, {name}: exit status {status}"
                           + (f" ({stderr.splitlines()[-1]})" if stderr else ""))

    print(f"{'command':<16}{'median':>12}{'min':>12}{'max':>12}")
    for name in names:
        t = times[name]
        print(f"{name:<16}{_fmt_ms(statistics.median(t)):>12}{_fmt_ms(min(t)):>12}{_fmt_ms(max(t)):>12}")
    print()

    base = statistics.median(times["import sympy"])
    for name in names[1:]:
        print(_ratio_lines(name, times[name], times["import sympy"], base, commands[name][1],
                           args.repeat))
        print()

    if bad:
        print("WARNING: runs with an unexpected exit status (their times are not valid results):")
        for line in bad:
            print(f"  {line}")
        return 1
    return 0  # a FAIL against the target is a result, not an error


def _ratio_lines(name: str, times: list[float], baseline: list[float], base: float,
                 target: float | None, rounds: int) -> str:
    """The command's ratio to the baseline, per round too, and its verdict against ``target``."""
    median = statistics.median(times)
    ratio = median / base
    per_round = [c / b for c, b in zip(times, baseline)]
    lines = [f"{name}  ({f'target <= {target}x' if target else 'informational'})",
             f"  median({name}) / median(import sympy) = {ratio:.2f}x"
             f"   ({(median - base) * 1000:+.0f} ms against the bare SymPy import)",
             f"  per-round ratios: median {statistics.median(per_round):.2f}x, "
             f"range {min(per_round):.2f}x .. {max(per_round):.2f}x"]
    if target is None:
        lines.append("  (informational: no target of its own)")
        return "\n".join(lines)
    ok = ratio <= target
    lines.append(f"  {'PASS' if ok else 'FAIL'}: {ratio:.2f}x {'<=' if ok else '>'} {target}x target "
                 f"(this machine, this run, {rounds} rounds)")
    if min(per_round) <= target < max(per_round):
        lines.append("  caution: per-round ratios fall on both sides of the target; "
                     "this run does not settle it")
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
