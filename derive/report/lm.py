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
      "time_limit": float | null,
      "baseline": {"ratio": float | null,       # worst (its error / plain PyTorch's error)
                   "factor": float,             # "as accurate as PyTorch" up to this ratio
                   "as_accurate_as_pytorch": bool | null},
      "oracle": {"spot_check_error": float | null},   # float64 oracle vs 50-digit mpmath
      "combinations": [                # one per option combination judged
        {"label": str,                 # e.g. "none, ignore_index=-100, label_smoothing=0.2"
         "options": {name: value},     # class_weights: "random" when on
         "ignored": "none" | "some" | "every token ignored",
         "ok": bool, "note": str | null, "mutated": [str, ...],
         "baseline_ratio": float | null,
         "outputs": [{"name": "loss" | "dlogits" | "dhidden" | "dweight" | "dbias",
                      "relative_error": float | null, "ulps": float | null,
                      "tolerance_ratio": float | null, "worst_index": [int, ...],
                      "value": float | null, "exact": float, "tolerance": float,
                      "ok": bool}]}
      ],
      "seconds": float
    }

Non-finite numbers are ``null``.
"""

from __future__ import annotations

import math

from checks.tolerances import TOLERANCE_CAP
from derive.implementation.check import CORRECT, CRASHED, IMPRECISE, UNPROVEN, UNSTABLE
from derive.implementation.lm.check import BASELINE_FACTOR, LMReport

SCHEMA = "derive.check-impl-lm/1"


def lm_text(report: LMReport, source: str | None = None) -> str:
    """The report as text: the call, what was inferred, a row per combination and output, the
    verdict and the baseline-relative verdict."""
    where = f" ({source})" if source else ""
    sizes = report.sizes
    shown = f"N = {sizes['samples']}" + (f", H = {sizes['hidden']}" if sizes.get("hidden") else "")
    lines = [
        f"{report.function}{where} against lm-cross-entropy",
        f"  called as  {report.convention.describe() if report.convention else '(never ran)'}",
        f"  inputs     {shown}, V = {sizes['vocab']}, {report.dtype}",
    ]
    lines += [f"  inferred   {line}" for line in report.inferred]
    lines.append(f"  oracle     {_oracle(report)}")
    if report.trials:
        lines += ["", f"  {'combination':<44} {'output':<8} {'rel. error':>10} {'ulps':>9} "
                      f"{'of tol.':>9}  {'vs torch':>8}"]
        for trial in report.trials:
            for position, c in enumerate(trial.comparisons):
                head = trial.combination.label if position == 0 else ""
                ratio = _number(trial.baseline_ratio, ".2g") if position == 0 and \
                    trial.baseline_ratio is not None else ""
                lines.append(f"  {head:<44} {c.name:<8} {_number(c.relative_error):>10} "
                             f"{_number(c.ulps, '.3g'):>9} {_number(c.worst_ratio, '.2g'):>9}  "
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
    return "\n".join(lines)


def _oracle(report: LMReport) -> str:
    spot = report.spot_check_error
    text = "exact float64 evaluation of the definitions (derive.oracle.lm), stable and chunked"
    if spot is None:
        return text
    return f"{text},\n             its float64 evaluation within {spot:.1e} of 50-digit mpmath"


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
                f"{_number(ratio, '.2g')} times PyTorch's own, at most {BASELINE_FACTOR:g})")
    hidden = ("; within the rounding bound, but a mistake can hide below it: judge it in "
              "float32 too" if report.verdict == CORRECT else "")
    return (f"baseline: less accurate than plain PyTorch in {report.dtype} (worst error "
            f"{_number(ratio, '.2g')} times PyTorch's own, beyond {BASELINE_FACTOR:g}){hidden}")


def _resolution(report: LMReport) -> str | None:
    """A note when some output's tolerance is a large share of its size: only gross mistakes
    can show there (the threshold is ``checks.tolerances.TOLERANCE_CAP``)."""
    coarse = max(((c.resolution, c.name) for t in report.trials for c in t.comparisons
                  if math.isfinite(c.resolution)), default=(0.0, ""))
    if coarse[0] < TOLERANCE_CAP.value:
        return None
    return (f"note: here {report.dtype} resolves {coarse[1]} only to {_number(coarse[0], '.1e')} "
            f"of its size (the rounding bound of these sizes): only gross mistakes can show "
            f"by tolerance; the baseline line compares with PyTorch's own error")


def _worst(report: LMReport) -> str | None:
    for trial in report.trials:
        for c in trial.comparisons:
            if not c.ok:
                index = "".join(f"[{i}]" for i in c.worst_index)
                return (f"at {trial.combination.label}, {c.name}{index} = {c.user_value:.8g}; "
                        f"exact {c.oracle_value:.8g}, tolerance {c.tolerance:.2g}")
    return None


def _number(value, spec: str = ".1e") -> str:
    return format(value, spec) if math.isfinite(value) else ("inf" if value > 0 else "nan")


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
        "time_limit": _finite(report.time_limit),
        "baseline": {"ratio": _finite(report.baseline_ratio), "factor": BASELINE_FACTOR,
                     "as_accurate_as_pytorch": report.as_accurate_as_pytorch},
        "oracle": {"spot_check_error": _finite(report.spot_check_error)},
        "combinations": [
            {
                "label": trial.combination.label,
                "options": {name: _option(value) for name, value in trial.combination.options},
                "ignored": trial.combination.ignored,
                "ok": trial.ok,
                "note": trial.note,
                "mutated": list(trial.mutated),
                "baseline_ratio": _finite(trial.baseline_ratio),
                "outputs": [
                    {"name": c.name, "relative_error": _finite(c.relative_error),
                     "ulps": _finite(c.ulps), "tolerance_ratio": _finite(c.worst_ratio),
                     "worst_index": list(c.worst_index), "value": _finite(c.user_value),
                     "exact": c.oracle_value, "tolerance": c.tolerance, "ok": c.ok}
                    for c in trial.comparisons
                ],
            }
            for trial in report.trials
        ],
        "seconds": report.seconds,
    }


def _option(value):
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


def _finite(value):
    return value if value is not None and math.isfinite(value) else None
