"""Print a language-model cross-entropy check: as text, and as JSON (schema
``derive.check-impl-lm/1``).

The JSON object::

    {
      "schema": "derive.check-impl-lm/1",
      "function": str,
      "loss": "lm-cross-entropy",
      "verdict": "correct" | "wrong" | "unstable" | "imprecise" | "crashed" | "unproven",
      "mistake": str | null,           # e.g. "upstream gradient ignored", "float32 precision"
      "explanation": str | null,
      "convention": str | null,        # how the function was called
      "inferred": [str, ...],          # what derive read from the signature or assumed
      "sizes": {"samples": N, "hidden": H | null, "vocab": V},
      "dtype": "float32" | "bfloat16" | "float16" | "float64",
      "device": "cpu" | "cuda",        # where the function's tensors were made
      "time_limit": float | null,
      "plan": {"at_scale": bool,       # above SCALE_WORK: the option matrix at the default
               "work": int,            #   sizes, the user's sizes at a few combinations only
               "threshold": int,       # SCALE_WORK (multiply-adds of one oracle pass)
               "at_user_sizes": [str, ...]},   # labels of the combinations judged at "sizes"
                                       # ([] at scale when the default sizes already failed)
      "baseline": {"ratio": float | null,       # worst (its error / plain PyTorch's error)
                   "factor": float,             # "as accurate as PyTorch" up to this ratio
                   "as_accurate_as_pytorch": bool | null},
      "oracle": {"spot_check_error": float | null},   # float64 oracle vs a 50-digit evaluation
      "formula": null | {              # bfloat16, float16: the function judged again in float32
                 "dtype": "float32",   #   (FORMULA_DTYPE), where a mistake its rounding hides
                 "sizes": {...},       #   shows; a mistake named there is the verdict
                 "verdict": str, "mistake": str | null},
      "combinations": [                # one per option combination judged
        {"label": str,                 # e.g. "none, ignore_index=-100, label_smoothing=0.2"
         "options": {name: value},     # class_weights: "random" when on
         "ignored": "none" | "some" | "every token ignored",
         "sizes": {"samples": N, "hidden": H | null, "vocab": V},   # where it was judged
         "ok": bool, "note": str | null, "mutated": [str, ...],
         "baseline_ratio": float | null,
         "outputs": [{"name": "loss" | "dlogits" | "dhidden" | "dweight" | "dbias",
                      "relative_error": float | null, "ulps": float | null,
                      "tolerance_ratio": float | null, "worst_index": [int, ...],
                      "value": float | null, "exact": float, "tolerance": float,
                      "resolution": float | null,   # (derive.report.comparison)
                      "ok": bool}]}
      ],
      "seconds": float,                # the whole check
      "user_seconds": float            # of which in the function's own calls and backward
    }

Non-finite numbers are ``null``.
"""

from __future__ import annotations

import math

from checks.tolerances import TOLERANCE_CAP
from derive.implementation.check import CORRECT, CRASHED, IMPRECISE, UNPROVEN, UNSTABLE
from derive.implementation.lm import check as lm_check
from derive.implementation.lm.check import BASELINE_FACTOR, LMReport, shown_sizes, work
from derive.report.comparison import comparison_json, finite, formatted, worst_entry

SCHEMA = "derive.check-impl-lm/1"


def lm_text(report: LMReport, source: str | None = None) -> str:
    """The report as text: the call, what was inferred, a row per combination and output, the
    verdict and the baseline-relative verdict."""
    where = f" ({source})" if source else ""
    device = f" on {report.device}" if report.device != "cpu" else ""
    lines = [
        f"{report.function}{where} against lm-cross-entropy",
        f"  called as  {report.convention.describe() if report.convention else '(never ran)'}",
        f"  inputs     {shown_sizes(report.sizes)}, {report.dtype}{device}",
    ]
    lines += [f"  inferred   {line}" for line in report.inferred]
    lines.append(f"  oracle     {_oracle(report)}")
    if report.trials:
        lines += ["", f"  {'combination':<44} {'output':<8} {'rel. error':>10} {'ulps':>9} "
                      f"{'of tol.':>9}  {'vs torch':>8}"]
        headed = None  # the sizes of the last "at ..." header
        for trial in report.trials:
            if _scaled(report) and trial.sizes != headed:
                headed = trial.sizes
                lines.append(f"  at {shown_sizes(trial.sizes)}:")
            for position, c in enumerate(trial.comparisons):
                head = trial.combination.label if position == 0 else ""
                ratio = formatted(trial.baseline_ratio, ".2g") if position == 0 and \
                    trial.baseline_ratio is not None else ""
                lines.append(f"  {head:<44} {c.name:<8} {formatted(c.relative_error):>10} "
                             f"{formatted(c.ulps, '.3g'):>9} {formatted(c.worst_ratio, '.2g'):>9}  "
                             f"{ratio:>8}  {'ok' if c.ok else 'FAIL'}")
            if trial.note:
                lines.append(f"  {'':<44} ({trial.note})")
    resolution = _resolution(report)
    if resolution:
        lines += ["", f"  {resolution}"]
    lines += ["", f"verdict: {_verdict(report)}"]
    baseline = _baseline(report)
    if baseline:
        lines.append(f"  {baseline}")
    worst = _worst(report)
    if worst:
        lines.append(f"  {worst}")
    if _scaled(report):  # (at small sizes the text stays the same from run to run)
        lines.append(f"  time: {report.seconds:.1f} s, of which {report.user_seconds:.1f} s in "
                     f"{report.function}'s own calls")
    return "\n".join(lines)


def _scaled(report: LMReport) -> bool:
    """Whether some combination was judged at other sizes than the report's (the plan at
    scale)."""
    return any(t.sizes not in (None, report.sizes) for t in report.trials)


def _plan(report: LMReport) -> dict:
    kind = report.convention.kind if report.convention else "logits"
    amount = work(kind, report.sizes)
    return {"at_scale": _scaled(report), "work": amount, "threshold": lm_check.SCALE_WORK,
            "at_user_sizes": [t.combination.label for t in report.trials
                              if t.sizes in (None, report.sizes)]}


def _oracle(report: LMReport) -> str:
    spot = report.spot_check_error
    text = "exact float64 evaluation of the definitions (derive.oracle.lm), stable and chunked"
    if spot is None:
        return text
    return (f"{text},\n             its float64 evaluation within {spot:.1e} of a 50-digit "
            f"evaluation")


def _verdict(report: LMReport) -> str:
    count = len(report.trials)
    if report.verdict == CORRECT and report.as_accurate_as_pytorch is False:
        return (f"correct within {report.dtype}'s rounding bound at all {count} option "
                f"combinations, but NOT as accurate as plain PyTorch (below): exit status 1")
    if report.verdict == CORRECT:
        return (f"correct: loss and gradients within tolerance at all {count} option "
                f"combinations")
    if report.verdict == IMPRECISE:
        return f"imprecise: {report.mistake}: {report.explanation}"
    if report.verdict in (CRASHED, UNPROVEN):
        return f"{report.verdict}: {report.explanation}"
    named = f"{report.mistake}: {report.explanation}" if report.mistake else None
    if report.verdict == UNSTABLE:
        return f"numerically unstable: {named}" if named else "numerically unstable"
    return f"wrong: {named}" if named else "wrong: not one of the known mistakes"


def _baseline(report: LMReport) -> str | None:
    ratio = report.baseline_ratio
    if ratio is None:
        return None
    if ratio <= BASELINE_FACTOR:
        return (f"baseline: as accurate as plain PyTorch in {report.dtype} (worst error "
                f"{formatted(ratio, '.2g')} times PyTorch's own, at most {BASELINE_FACTOR:g})")
    return (f"baseline: less accurate than plain PyTorch in {report.dtype} (worst error "
            f"{formatted(ratio, '.2g')} times PyTorch's own, beyond {BASELINE_FACTOR:g})")


def _resolution(report: LMReport) -> str | None:
    """A note when some output's tolerance is a large share of its size: only gross mistakes
    can show there (the threshold is ``checks.tolerances.TOLERANCE_CAP``)."""
    coarse = max(((c.resolution, c.name) for t in report.trials for c in t.comparisons
                  if math.isfinite(c.resolution)), default=(0.0, ""))
    if coarse[0] < TOLERANCE_CAP.value:
        return None
    return (f"note: here {report.dtype} resolves {coarse[1]} only to {formatted(coarse[0], '.1e')} "
            f"of its size (the rounding bound of these sizes): only gross mistakes can show "
            f"by tolerance; the baseline line compares with PyTorch's own error")


def _worst(report: LMReport) -> str | None:
    for trial in report.trials:
        failing = next((c for c in trial.comparisons if not c.ok), None)
        if failing is not None:
            return worst_entry(trial.combination.label, failing)
    return None


def lm_json(report: LMReport) -> dict:
    """The report as the JSON object of the module docstring."""
    return {
        "schema": SCHEMA,
        "function": report.function,
        "loss": "lm-cross-entropy",
        "verdict": report.verdict,
        "mistake": report.mistake,
        "explanation": report.explanation,
        "convention": report.convention.describe() if report.convention else None,
        "inferred": list(report.inferred),
        "sizes": dict(report.sizes),
        "dtype": report.dtype,
        "device": report.device,
        "time_limit": finite(report.time_limit),
        "plan": _plan(report),
        "baseline": {"ratio": finite(report.baseline_ratio), "factor": BASELINE_FACTOR,
                     "as_accurate_as_pytorch": report.as_accurate_as_pytorch},
        "oracle": {"spot_check_error": finite(report.spot_check_error)},
        "formula": None if report.formula is None else {
            "dtype": report.formula.dtype, "sizes": dict(report.formula.sizes),
            "verdict": report.formula.verdict, "mistake": report.formula.mistake},
        "combinations": [
            {
                "label": trial.combination.label,
                "options": {name: _option(value) for name, value in trial.combination.options},
                "ignored": trial.combination.ignored,
                "sizes": dict(trial.sizes or report.sizes),
                "ok": trial.ok,
                "note": trial.note,
                "mutated": list(trial.mutated),
                "baseline_ratio": finite(trial.baseline_ratio),
                "outputs": [comparison_json(c) for c in trial.comparisons],
            }
            for trial in report.trials
        ],
        "seconds": report.seconds,
        "user_seconds": report.user_seconds,
    }


def _option(value):
    return value if value is None or isinstance(value, (str, int, float)) else str(value)

