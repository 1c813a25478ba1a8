"""One short prepared run for a GPU machine: the language-model check in bfloat16 on CUDA, the
fused linear form (``examples/llm/fused_linear.py``) at the Llama-3 head size.

    .venv/bin/python benchmarks/gpu_llm.py        # N = 512, H = 2048, V = 128,256, bf16, cuda
    .venv/bin/python benchmarks/gpu_llm.py --device cpu --tokens 8 --vocab 64 --hidden 16

(the second line is a dry run on any machine).  The user's tensors are made on ``--device`` and
the baseline (plain same-dtype PyTorch) runs there too; derive's float64 oracle runs on the
CPU.  Printed: the device, the check's report (verdict, plan, per combination its error in units
of the tolerance and of plain PyTorch's error), the seconds of the whole check and of the user's
own calls, and the peak memory the device allocated (``torch.cuda.max_memory_allocated``; on the
CPU, the growth of the resident set).  The example's chunk of tokens is ``--chunk`` (128: its
default of 8 is for small tests).  Exit status: the check's (0 correct and as accurate as
PyTorch, 1 otherwise, 2 for bad arguments such as a device this machine lacks).
"""

from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "llm"


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--tokens", "-N", type=int, default=512)
    parser.add_argument("--hidden", "-H", type=int, default=2048)
    parser.add_argument("--vocab", "-V", type=int, default=128_256)
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--time-limit", type=float, default=600.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(sys.argv[1:] if argv is None else argv)
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    import fused_linear

    chunk, fused_linear.TOKENS = fused_linear.TOKENS, args.chunk
    try:
        return _check(args, fused_linear.fused_linear_cross_entropy)
    finally:  # the module is shared (examples/llm/mistakes.py imports it): put it back
        fused_linear.TOKENS = chunk


def _check(args: argparse.Namespace, function) -> int:
    """Run the check and print the figures; the exit status."""
    import torch

    from derive.implementation.lm import check_lm_implementation
    from derive.report.lm import lm_text

    where = torch.cuda.get_device_name() if args.device == "cuda" and \
        torch.cuda.is_available() else "cpu"
    print(f"device: {args.device} ({where}); torch {torch.__version__}")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        report = check_lm_implementation(
            function, samples=args.tokens, hidden=args.hidden, vocab=args.vocab,
            dtype=args.dtype, device=args.device, time_limit=args.time_limit)
    except ValueError as error:  # e.g. no CUDA here
        print(f"gpu_llm: {error}", file=sys.stderr)
        return 2
    print(lm_text(report, source="examples/llm/fused_linear.py"))
    print(f"\nfigures: N = {args.tokens}, H = {args.hidden}, V = {args.vocab}, {args.dtype} on "
          f"{args.device}: verdict {report.verdict}, check {report.seconds:.1f} s, the user's "
          f"calls {report.user_seconds:.1f} s, derive adds "
          f"{report.seconds - report.user_seconds:.1f} s")
    if args.device == "cuda":
        print(f"peak CUDA memory allocated: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(f"peak resident set growth (host): {grown:.0f} MiB")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
