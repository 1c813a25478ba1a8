"""The language-model oracle at the Llama-3 head size: time, peak memory, tolerances, baseline.

Subjects: ``derive.oracle.lm`` at N tokens x H = 2048 x V = 128,256 (Llama 3's head), inputs in
float32 (seeded: ``hidden ~ randn(N, H)``, ``weight ~ randn(V, H) * scale / sqrt(H)`` so that the
logits have standard deviation ``--logit-scale``, targets uniform, 10% of them ``-100``), for
N = 512 and 1024.

What is measured
----------------
1. ``fused_linear_cross_entropy`` judged at scale: the loss, the hidden gradient of
   ``--tokens`` random tokens and the weight and bias gradients of ``--rows`` random vocabulary
   rows (what a judge compares at this size; 2 N V H + small flops): median of ``--repeat``;
2. the full pass (every gradient, 6 N V H flops, about 0.8 TFLOP at N = 512), once
   (``--no-full`` skips it);
3. the peak of memory allocated during each call, from ``tracemalloc`` (NumPy reports its
   buffers to it), beside the size of the inputs;
4. ``spot_check_fused`` (50 digits) on the judged result;
5. per dtype (``--baseline-dtypes``, default float32 and bfloat16): the judged call with
   per-entry bounds (``dtype=``), its time and peak; a plain same-dtype PyTorch evaluation
   (``baseline_outputs``, the baseline, on the CPU); per output the oracle's size, the largest
   bound, the baseline's largest error, the largest ratio error / bound over the entries (below
   1: the baseline passes), the bound in units of the baseline's error at its worst entry, and
   the a-priori normwise tolerance (``bounds.tolerances``) for comparison;
6. end to end (``--no-end-to-end`` skips it): ``check_lm_implementation`` on the right function
   of ``examples/llm/fused_linear.py`` (its chunk of tokens set to ``--user-chunk``, 128: at 8,
   the example's default for small tests, its own backward adds a V x H product per 8 tokens
   and takes minutes) at each N, H = 2048, V = 128,256, float32, bias included: the check's
   seconds, the seconds of the user's own calls (``report.user_seconds``), their difference
   (what derive adds) split into its steps (drawing the inputs, the oracle with its bounds, the
   spot check, the baseline), the verdict and the plan; and the peak memory (growth of the resident
   set, ``ru_maxrss``, over the imports) of the whole check beside that of the user's function
   run alone once at the same sizes (inputs, call and backward), each in a fresh child process.

Run: ``.venv/bin/python benchmarks/bench_llm.py`` (about eight minutes on two shared cores for
sections 1-5, ``--no-full --repeat 1`` about four; section 6 about six more).  Only the end to
end section: ``--no-oracle``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from derive.oracle.lm import LMOptions, fused_linear_cross_entropy
from derive.oracle.lm.bounds import Magnitudes, tolerances
from derive.oracle.lm.reference import spot_check_fused

WIDTH, VOCABULARY = 2048, 128_256
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "llm"


def problem(tokens: int, logit_scale: float, seed: int = 0):
    """Seeded float32 inputs of the head (see the module docstring)."""
    rng = np.random.default_rng(seed)
    hidden = rng.standard_normal((tokens, WIDTH), dtype=np.float32)
    weight = rng.standard_normal((VOCABULARY, WIDTH), dtype=np.float32)
    weight *= np.float32(logit_scale / np.sqrt(WIDTH))
    target = rng.integers(0, VOCABULARY, tokens)
    target[rng.random(tokens) < 0.1] = -100
    return hidden, weight, target


def measured(call):
    """``call()``'s result, seconds and tracemalloc peak (bytes)."""
    tracemalloc.start()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def bench_oracle(tokens: int, args) -> None:
    hidden, weight, target = problem(tokens, args.logit_scale)
    rng = np.random.default_rng(1)
    chosen = np.sort(rng.choice(tokens, args.tokens, replace=False))
    rows = np.sort(rng.choice(VOCABULARY, args.rows, replace=False))
    options = LMOptions()
    inputs = (hidden.nbytes + weight.nbytes) / 2**20
    print(f"\n== N = {tokens}, H = {WIDTH}, V = {VOCABULARY}, float32 inputs ({inputs:.0f} MiB)")
    times, peak = [], 0
    for _ in range(args.repeat):
        judged, seconds, peak = measured(lambda: fused_linear_cross_entropy(
            hidden, weight, target, options=options, tokens=chosen, rows=rows))
        times.append(seconds)
    print(f"judged ({args.tokens} tokens' hidden gradient, {args.rows} weight rows): median "
          f"{statistics.median(times):.1f} s of {[round(t, 1) for t in times]}, peak "
          f"{peak / 2**20:.0f} MiB")
    if args.full:
        full, seconds, peak = measured(lambda: fused_linear_cross_entropy(
            hidden, weight, target, options=options))
        print(f"full pass (every gradient): {seconds:.1f} s, peak {peak / 2**20:.0f} MiB "
              f"(the float64 weight gradient alone is {full.weight.nbytes / 2**20:.0f} MiB)")
        del full
    start = time.perf_counter()  # not under tracemalloc: it traces each Python integer
    check = spot_check_fused(hidden, weight, target, judged, options=options)
    print(f"spot check (50 digits, tokens {check.tokens}, {check.classes} class evaluations): "
          f"{time.perf_counter() - start:.1f} s, worst {check.worst_error:.1e} (tolerance "
          f"{check.tolerance:.1e})")
    magnitudes = Magnitudes.of_fused(hidden, weight, target, options=options)
    for dtype in args.baseline_dtypes:
        bounded, seconds, peak = measured(lambda: fused_linear_cross_entropy(
            hidden, weight, target, options=options, tokens=chosen, rows=rows, dtype=dtype))
        print(f"\n{dtype}: judged with per-entry bounds {seconds:.1f} s, peak "
              f"{peak / 2**20:.0f} MiB; failure probability "
              f"{bounded.bounds.failure_probability:.1e}")
        start = time.perf_counter()
        plain = _baseline(bounded, target, dtype, options, hidden, weight)
        print(f"  plain {dtype} PyTorch forward and backward (the baseline): "
              f"{time.perf_counter() - start:.1f} s")
        a_priori = tolerances(dtype, magnitudes, options)
        print("  output  |oracle|   bound(max)  baseline err  max(err/bound)  bound/err at "
              "worst  a-priori tol")
        for name in ("loss", "hidden", "weight"):
            exact, bound = np.asarray(getattr(bounded, name)), getattr(bounded.bounds, name)
            error = np.abs(plain[name] - exact)
            worst = np.unravel_index(np.argmax(error), error.shape) if error.ndim else ()
            print(f"  {name:7} {np.abs(exact).max():.2e}   {np.max(bound):.2e}    "
                  f"{error.max():.2e}      {np.max(error / bound):.3f}          "
                  f"{bound[worst] / max(error[worst], 1e-300):8.1f}       "
                  f"{getattr(a_priori, name):.2e}")


def _baseline(judged, target, dtype, options, hidden, weight):
    import torch

    from derive.oracle.lm.baseline import baseline_outputs
    return baseline_outputs(judged, target, getattr(torch, dtype), options, hidden=hidden,
                            weight=weight)


def bench_end_to_end(tokens: int, args) -> None:
    """Section 6 at N = ``tokens``: the whole check and the user's function alone, each in a
    child process (their peaks are then their own)."""
    load = os.getloadavg()[0]
    user = _child("user", tokens, args.user_chunk)
    check = _child("check", tokens, args.user_chunk)
    load = max(load, os.getloadavg()[0])
    print(f"\n== end to end: check_lm_implementation(fused_linear_cross_entropy), N = {tokens}, "
          f"H = {WIDTH}, V = {VOCABULARY}, float32 (user chunk {args.user_chunk} tokens)")
    print(f"verdict {check['verdict']}; {check['trials']} combinations judged (load average "
          f"up to {load:.1f} on {os.cpu_count()} cores)")
    for line in check["inferred"]:
        print(f"  inferred: {line}")
    print(f"check {check['seconds']:.1f} s, of which the user's calls {check['user_seconds']:.1f} "
          f"s: derive adds {check['seconds'] - check['user_seconds']:.1f} s, of which "
          + ", ".join(f"{phase} {check['phases'][phase]:.1f} s" for phase in PHASES.values()))
    print(f"user's function alone (inputs, call, backward): {user['seconds']:.1f} s, peak "
          f"{user['peak'] / 2**20:.0f} MiB over the imports")
    print(f"whole check: peak {check['peak'] / 2**20:.0f} MiB over the imports "
          f"({check['peak'] / user['peak']:.2f} x the user's); the oracle's own (tracemalloc, "
          f"largest call): {check['phases']['oracle peak'] / 2**20:.0f} MiB "
          f"({check['phases']['oracle peak'] / user['peak']:.2f} x the user's)")


#: The steps of ``derive.implementation.lm.check`` whose seconds section 6 adds up.
PHASES = {"_drawn": "draw", "_exact": "oracle", "_spot_check": "spot check",
          "_baseline_ratio": "baseline"}


def _timed_phases() -> dict:
    """Wrap the check's steps (``PHASES``) to add up their seconds in the returned dict, and
    the largest ``tracemalloc`` peak of one oracle call (``"oracle peak"``, bytes)."""
    from derive.implementation.lm import check

    seconds = dict.fromkeys(PHASES.values(), 0.0)
    seconds["oracle peak"] = 0

    def timed(step, phase):
        def run(*args, **keywords):
            start = time.perf_counter()
            if phase == "oracle":
                tracemalloc.start()
            try:
                return step(*args, **keywords)
            finally:
                seconds[phase] += time.perf_counter() - start
                if phase == "oracle":
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                    seconds["oracle peak"] = max(seconds["oracle peak"], peak)
        return run

    for name, phase in PHASES.items():
        setattr(check, name, timed(getattr(check, name), phase))
    return seconds


def _child(mode: str, tokens: int, chunk: int) -> dict:
    """Run ``_measure`` in a fresh interpreter; its JSON line."""
    done = subprocess.run([sys.executable, __file__, "--child", mode, str(tokens), str(chunk)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _measure(mode: str, tokens: int, chunk: int) -> None:
    """In a child process: the user's function alone (``user``) or the whole check
    (``check``); prints seconds and the growth of ``ru_maxrss`` over the imports as JSON."""
    import torch

    from derive.implementation.lm import check_lm_implementation

    sys.path.insert(0, str(EXAMPLES))
    import fused_linear

    fused_linear.TOKENS = chunk
    function = fused_linear.fused_linear_cross_entropy
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if mode == "user":
        hidden, weight, target = problem(tokens, 3.0)
        inputs = [torch.from_numpy(array).requires_grad_() for array in (hidden, weight)]
        bias = torch.zeros(VOCABULARY, requires_grad=True)
        function(*inputs, torch.from_numpy(target), bias).backward()
        result = {}
    else:
        phases = _timed_phases()
        report = check_lm_implementation(function, samples=tokens, hidden=WIDTH,
                                         vocab=VOCABULARY, time_limit=float("inf"))
        result = {"verdict": report.verdict, "user_seconds": report.user_seconds,
                  "trials": len(report.trials), "inferred": list(report.inferred),
                  "phases": phases}
    result["seconds"] = time.perf_counter() - start
    result["peak"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(json.dumps(result))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _measure(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--logit-scale", type=float, default=3.0)
    parser.add_argument("--no-full", dest="full", action="store_false")
    parser.add_argument("--baseline-dtypes", nargs="*", default=["float32", "bfloat16"])
    parser.add_argument("--no-oracle", dest="oracle", action="store_false",
                        help="skip sections 1-5 (the oracle alone)")
    parser.add_argument("--no-end-to-end", dest="end_to_end", action="store_false")
    parser.add_argument("--user-chunk", type=int, default=128,
                        help="tokens per chunk of the example's fused function (section 6)")
    parser.add_argument("--detection", action="store_true",
                        help="also print the detection table (benchmarks/llm_detection.py)")
    args = parser.parse_args()
    for tokens in args.sizes if args.oracle else ():
        bench_oracle(tokens, args)
    for tokens in args.sizes if args.end_to_end else ():
        bench_end_to_end(tokens, args)
    if args.detection:
        from llm_detection import detection_table

        print(f"\n== detection table on examples/llm\n{detection_table()}")


if __name__ == "__main__":
    main()
