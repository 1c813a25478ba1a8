"""Print a gradient-accumulation check: as text, and as JSON (schema ``derive.check-accum/1``).

The JSON object::

    {
      "schema": "derive.check-accum/1",
      "function": str,
      "verdict": "correct" | "wrong" | "unstable" | "crashed",
      "mistake": str | null,           # e.g. "per-micro-batch mean", "changes its arguments"
      "explanation": str | null,
      "convention": str,               # how the step was called
      "inferred": [str, ...],          # what derive passed, read from the signature, or assumed
      "sizes": {"samples": N, "hidden": H, "vocab": V, "micro_batches": M},
      "dtype": "float32" | "bfloat16" | "float16" | "float64",
      "reduction": "mean" | "sum",
      "ignore_index": int,
      "loss_judged": bool,             # false: the step returned None, its loss not judged
      "time_limit": float | null,
      "trials": [                      # one per trial run, in order
        {"label": str,                 # "equal lengths, unequal counts", ...
         "lengths": [int, ...],        # tokens of each micro-batch
         "counted": [int, ...],        # non-ignored tokens of each micro-batch
         "ignore_index": int,          # the ignored id of this trial's targets
         "ok": bool, "loss_returned": bool, "note": str | null, "mutated": [str, ...],
         "outputs": [{"name": "loss" | "dweight" | "dbias",
                      "relative_error": float | null, "ulps": float | null,
                      "tolerance_ratio": float | null, "worst_index": [int, ...],
                      "value": float | null, "exact": float, "tolerance": float,
                      "resolution": float | null,   # (derive.report.comparison)
                      "ok": bool}]}
      ],
      "seconds": float
    }

Non-finite numbers are ``null``.
"""

from __future__ import annotations

from derive.implementation.check import CORRECT, CRASHED, UNSTABLE
from derive.implementation.lm.accumulation import AccumulationReport
from derive.report.comparison import comparison_json, finite, formatted, worst_entry

SCHEMA = "derive.check-accum/1"


def accumulation_text(report: AccumulationReport, source: str | None = None) -> str:
    """The report as text: the call, what was inferred, each trial's micro-batches and outputs,
    the verdict and the worst difference."""
    where = f" ({source})" if source else ""
    sizes = report.sizes
    lines = [
        f"{report.function}{where} against the full batch's gradient (gradient accumulation)",
        f"  called as  {report.convention.describe()}",
        f"  inputs     N = {sizes['samples']} tokens in M = {sizes['micro_batches']} "
        f"micro-batches, H = {sizes['hidden']}, V = {sizes['vocab']}, {report.dtype}",
    ]
    lines += [f"  inferred   {line}" for line in report.inferred]
    lines.append(f"  oracle     exact float64 {report.reduction} cross-entropy of the full batch "
                 f"(derive.oracle.lm); tolerances: the micro-batches'\n             derived "
                 f"bounds for {report.dtype}, summed, plus the accumulation's own rounding")
    if report.trials:
        lines += ["", f"  {'trial':<32} {'output':<8} {'rel. error':>10} {'ulps':>9} "
                      f"{'of tol.':>9}"]
        for trial in report.trials:
            counts = ", ".join(f"{c}/{n}" for c, n in zip(trial.counted, trial.lengths))
            ignored = ("" if trial.ignore_index == report.ignore_index
                       else f"; ignore_index={trial.ignore_index}")
            lines.append(f"  {trial.label:<32} (non-ignored/tokens per micro-batch: "
                         f"{counts}{ignored})")
            for c in trial.comparisons:
                lines.append(f"  {'':<32} {c.name:<8} {formatted(c.relative_error):>10} "
                             f"{formatted(c.ulps, '.3g'):>9} {formatted(c.worst_ratio, '.2g'):>9}  "
                             f"{'ok' if c.ok else 'FAIL'}")
            if trial.note:
                lines.append(f"  {'':<32} ({trial.note})")
        if not report.loss_judged:
            lines += ["", "  loss: not judged (the step returned None); return the loss it "
                          "would log to have it judged"]
    lines += ["", f"verdict: {_verdict(report)}"]
    worst = _worst(report)
    if worst:
        lines.append(f"  {worst}")
    return "\n".join(lines)


def _verdict(report: AccumulationReport) -> str:
    if report.verdict == CORRECT:
        judged = "loss and gradients" if report.loss_judged else "gradients"
        return (f"correct: the accumulated {judged} within tolerance of the full batch's at all "
                f"{len(report.trials)} trials")
    if report.verdict == CRASHED:
        return f"crashed: {report.explanation}"
    named = f"{report.mistake}: {report.explanation}" if report.mistake else None
    if report.verdict == UNSTABLE:
        return f"numerically unstable: {named}" if named else "numerically unstable"
    return f"wrong: {named}" if named else "wrong: not one of the known mistakes"


def _worst(report: AccumulationReport) -> str | None:
    for trial in report.trials:
        failing = next((c for c in trial.comparisons if not c.ok), None)
        if failing is not None:
            return worst_entry(f"the trial '{trial.label}'", failing)
    return None


def accumulation_json(report: AccumulationReport) -> dict:
    """The report as the JSON object of the module docstring."""
    return {
        "schema": SCHEMA,
        "function": report.function,
        "verdict": report.verdict,
        "mistake": report.mistake,
        "explanation": report.explanation,
        "convention": report.convention.describe(),
        "inferred": list(report.inferred),
        "sizes": dict(report.sizes),
        "dtype": report.dtype,
        "reduction": report.reduction,
        "ignore_index": report.ignore_index,
        "loss_judged": report.loss_judged,
        "time_limit": finite(report.time_limit),
        "trials": [
            {
                "label": trial.label,
                "lengths": list(trial.lengths),
                "counted": list(trial.counted),
                "ignore_index": trial.ignore_index,
                "ok": trial.ok,
                "loss_returned": trial.loss_returned,
                "note": trial.note,
                "mutated": list(trial.mutated),
                "outputs": [comparison_json(c) for c in trial.comparisons],
            }
            for trial in report.trials
        ],
        "seconds": report.seconds,
    }

