"""How long ``derive check`` takes on the seed's document and on the whole catalog.

What is measured
----------------
In this process, on the catalog documents shipped in ``derive/catalog``:

* parse: ``read_document`` of the seed document (Markdown split, LaTeX parsed by the lark
  grammar, declarations read) -- no SymPy work;
* check: ``check_document`` of the seed document (parse, then every step at every instance
  through the verifier);
* catalog: ``check_document`` of every catalog document, one after the other, and each alone.

And as whole processes (this interpreter, the checkout first on ``PYTHONPATH``):

* baseline: ``python -c "import sympy"``, the floor;
* ``python -m derive check derive/catalog/softmax-cross-entropy.md``.

Each timing runs once untimed (warming caches), then ``--repeat`` times; the medians, minima and
maxima are printed, and ratios against the parse and against ``import sympy`` measured in the
same run.  Machines here are shared and noisy: read the medians and the ratios.  A document that
does not check ``proven`` makes the script exit 1 (its time would not be a valid result).

Usage::

    python benchmarks/bench_check.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from derive.catalog import SEED, entry, names  # noqa: E402
from derive.document import check_document  # noqa: E402
from derive.document.declare import read_document  # noqa: E402
from derive.document.source import Source  # noqa: E402


def _times(action, repeat: int) -> list[float]:
    action()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        out.append(time.perf_counter() - start)
    return out


def _line(name: str, times: list[float]) -> str:
    return (f"{name:<42} median {statistics.median(times):8.3f} s   "
            f"min {min(times):8.3f}   max {max(times):8.3f}   (n = {len(times)})")


def _process(arguments: list[str]) -> None:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, *arguments], cwd=REPO, env=environment,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(arguments)} exited {done.returncode}: {done.stderr.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seed = entry(SEED)
    text = seed.text

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; repeat {args.repeat}")
    parse = _times(lambda: read_document(Source(text, seed.name)), args.repeat * 4)
    check = _times(lambda: check_document(seed.path), args.repeat)
    print(_line("parse the seed document", parse))
    print(_line("check the seed document", check))
    print(f"  check / parse: {statistics.median(check) / statistics.median(parse):.0f}x")

    failed = []
    totals = []
    for name in names():
        found = entry(name)
        result = check_document(found.path)
        if result.status != "proven":
            failed.append(name)
        one = _times(lambda path=found.path: check_document(path), max(1, args.repeat // 2))
        totals.append(statistics.median(one))
        print(_line(f"check {name}", one) + f"   {len(result.steps)} steps, {result.status}")
    print(f"{'whole catalog (sum of medians)':<42} {sum(totals):8.3f} s over {len(totals)} documents")

    sympy_import = _times(lambda: _process(["-c", "import sympy"]), args.repeat)
    cli = _times(lambda: _process(["-m", "derive", "check", str(seed.path)]), args.repeat)
    print(_line("process: import sympy (baseline)", sympy_import))
    print(_line("process: derive check <seed>", cli))
    print(f"  derive check / import sympy: {statistics.median(cli) / statistics.median(sympy_import):.1f}x")
    if failed:
        print(f"not proven: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
