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
   the a-priori normwise tolerance (``bounds.tolerances``) for comparison.

Run: ``.venv/bin/python benchmarks/bench_llm.py`` (about eight minutes on two shared cores;
``--no-full --repeat 1`` about four).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np

from derive.oracle.lm import LMOptions, fused_linear_cross_entropy
from derive.oracle.lm.bounds import Magnitudes, tolerances
from derive.oracle.lm.reference import spot_check_fused

WIDTH, VOCABULARY = 2048, 128_256


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
    check, seconds, _ = measured(lambda: spot_check_fused(hidden, weight, target, judged,
                                                          options=options))
    print(f"spot check (50 digits, tokens {check.tokens}): {seconds:.1f} s, worst "
          f"{check.worst_error:.1e} (tolerance {check.tolerance:.1e})")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--logit-scale", type=float, default=3.0)
    parser.add_argument("--no-full", dest="full", action="store_false")
    parser.add_argument("--baseline-dtypes", nargs="*", default=["float32", "bfloat16"])
    args = parser.parse_args()
    for tokens in args.sizes:
        bench_oracle(tokens, args)


if __name__ == "__main__":
    main()
