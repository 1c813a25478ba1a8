"""Whole-process time of the ``derive`` command against ``import sympy``.

What is measured
----------------
The wall-clock time of three child processes, each started with this
interpreter (``sys.executable``), the same environment and the same working
directory (the repository root):

* baseline:  ``python -c "import sympy"``       -- the floor: derive needs SymPy
* candidate: ``python -m derive --classes 3``   -- stdout to /dev/null
* steps:     ``python -m derive --classes 3 --steps``  (informational)

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
ratio of record is median(derive) / median(import sympy); the target is
<= 1.5.  Also printed: the extra milliseconds over the bare SymPy import, and
the median and range of the per-round ratios (each taken within one round,
so it is less exposed to slow drift).  When the per-round ratios fall on both
sides of the target, the verdict is printed with a warning that this run
cannot settle it; repeat with a larger ``--repeat`` on a quieter machine.

A timed run whose exit status is not the expected one (0 for everything
proven) is reported, and the script then exits with status 1: its time is
not a valid result.  Otherwise the exit status is 0 whatever the ratio: a
FAIL against the target is a measurement, not an error.

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
TARGET_RATIO = 1.5


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
    commands = {
        "import sympy": [python, "-c", "import sympy"],
        "derive": [python, "-m", "derive", "--classes", str(args.classes)],
        "derive --steps": [python, "-m", "derive", "--classes", str(args.classes), "--steps"],
    }
    env = _environment()

    print("bench_cli: whole-process wall time, interleaved rounds")
    print(f"  interpreter : {python} (Python {platform.python_version()})")
    print(f"  cwd         : {REPO}")
    print(f"  PYTHONPATH  : {env['PYTHONPATH']}")
    print(f"  PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
    print(f"  cpus        : {os.cpu_count()}, load average {_loadavg()}")
    print(f"  rounds      : {args.repeat} (+1 untimed warm-up of each command)")
    for name, command in commands.items():
        print(f"  {name:<15}: {' '.join(command[1:])}")
    print()

    names = list(commands)
    for name in names:  # warm-up, untimed
        _time_once(commands[name], env)

    times: dict[str, list[float]] = {name: [] for name in names}
    bad: list[str] = []
    expected_status = {"import sympy": 0, "derive": 0, "derive --steps": 0}
    for round_index in range(args.repeat):
        shift = round_index % len(names)
        order = names[shift:] + names[:shift]
        for name in order:
            elapsed, status, stderr = _time_once(commands[name], env)
            times[name].append(elapsed)
            if status != expected_status[name]:
                bad.append(f"round {round_index + 1}, {name}: exit status {status}"
                           + (f" ({stderr.splitlines()[-1]})" if stderr else ""))

    print(f"{'command':<16}{'median':>12}{'min':>12}{'max':>12}")
    for name in names:
        t = times[name]
        print(f"{name:<16}{_fmt_ms(statistics.median(t)):>12}{_fmt_ms(min(t)):>12}{_fmt_ms(max(t)):>12}")
    print()

    base = statistics.median(times["import sympy"])
    for name, role in (("derive", "target"), ("derive --steps", "informational")):
        med = statistics.median(times[name])
        ratio = med / base
        per_round = [c / b for c, b in zip(times[name], times["import sympy"])]
        print(f"{name}  ({role})")
        print(f"  median({name}) / median(import sympy) = {ratio:.2f}x"
              f"   (+{(med - base) * 1000:.0f} ms over the bare SymPy import)")
        print(f"  per-round ratios: median {statistics.median(per_round):.2f}x, "
              f"range {min(per_round):.2f}x .. {max(per_round):.2f}x")
        if role == "target":
            ok = ratio <= TARGET_RATIO
            word = "PASS" if ok else "FAIL"
            line = (f"  {word}: {ratio:.2f}x {'<=' if ok else '>'} {TARGET_RATIO}x target "
                    f"(this machine, this run, {args.repeat} rounds)")
            if min(per_round) <= TARGET_RATIO < max(per_round):
                line += ("\n  caution: per-round ratios fall on both sides of the target; "
                         "this run does not settle it")
        else:
            line = "  (informational: no target of its own)"
        print(line)
        print()

    if bad:
        print("WARNING: runs with an unexpected exit status (their times are not valid results):")
        for line in bad:
            print(f"  {line}")
        return 1
    return 0  # a FAIL against the target is a result, not an error


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
