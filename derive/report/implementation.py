"""Print an implementation check: as text for people, as JSON (schema ``derive.check-impl/1``).

The JSON object::

    {
      "schema": "derive.check-impl/1",
      "function": str,                 # the judged function's qualified name
      "loss": str,                     # the catalog loss, e.g. "softmax-cross-entropy"
      "verdict": "correct" | "wrong" | "unstable" | "imprecise" | "incomplete" | "crashed"
                 | "unproven",
      "mistake": str | null,           # a known mistake's name, e.g. "missing 1/N",
                                       # "float32 precision", "changes its arguments"
      "explanation": str | null,       # one sentence on it (for "crashed", the exception)
      "convention": str | null,        # how the function was called; null if it never ran
      "sizes": {"samples": N, "features": D, "classes": K},
      "dtype": "float32" | "float64",
      "reg": float,
      "time_limit": float | null,      # seconds per call of the function (null: none)
      "mutated_arguments": [str, ...], # arguments it changed in place: "W", "w", "b", "X", "y"
      "unseen_classes": [int, ...],    # labels no random input had (verdict "incomplete")
      "precision": "float32" | "float16" | null,  # the precision it agrees with when "imprecise"
      "oracle": {
        "proven_for_every_size": bool,  # the closed form's all-sizes proof (derive --all-sizes)
        "proof_status": "proven" | "refuted" | "unproven" | null,
        "lemmas": int,
        "spot_check_error": float | null,   # worst error of float64 vs 50-digit mpmath
        "spot_check_ok": bool,
        "document": null | {...}       # a proven document as the oracle (--doc, or a catalog
                                       # loss with no hand-written one), with path: str,
                                       # proven_for: "every size" or the sizes it was checked
                                       # at, mapping: how its variables meet S = X W + b and y,
                                       # values: {name: float}, its parameters (--set NAME=VALUE)
      },
      "inputs": [                      # one per input the function was called at
        {"kind": "random" | "extreme logits", "largest_score": float,
         "samples": int,               # its N (the second random input has N - 1)
         "outputs": [{"name": "loss" | "dW" | "db", "relative_error": float | null,
                      "ulps": float | null, "tolerance_ratio": float | null,
                      "worst_index": [int, ...], "value": float | null,
                      "exact": float, "tolerance": float,
                      "resolution": float | null,  # largest tolerance / largest |exact|
                      "ok": bool}]}
      ],
      "seconds": float
    }

Non-finite numbers (a NaN the function returned, an infinite error) are ``null``.
"""

from __future__ import annotations

from checks.tolerances import TOLERANCE_CAP
from derive.implementation.check import (
    CORRECT, CRASHED, IMPRECISE, INCOMPLETE, UNPROVEN, UNSTABLE, WRONG, ImplementationReport,
)
from derive.report.comparison import comparison_json, finite, formatted

SCHEMA = "derive.check-impl/1"


def implementation_text(report: ImplementationReport, source: str | None = None) -> str:
    """The report as text: how the function was called, the oracle, a row per output and input,
    and the verdict."""
    where = f" ({source})" if source else ""
    sizes = report.sizes
    lines = [
        f"{report.function}{where} against {report.loss}",
        f"  called as  {report.convention.describe() if report.convention else '(never ran)'}",
        f"  inputs     N = {sizes['samples']}{_other_sizes(report)}, D = {sizes['features']}, "
        f"K = {sizes['classes']}, "
        f"{report.dtype}, reg = {report.reg:g}",
        f"  oracle     {_oracle(report)}",
    ]
    if report.trials:
        lines += ["", f"  {'input':<16} {'max|score|':>10}  {'output':<6} {'rel. error':>10} "
                      f"{'ulps':>9} {'of tol.':>9}"]
        for number, trial in enumerate(report.trials, 1):
            label = trial.kind if trial.kind != "random" else f"random {number}"
            for position, comparison in enumerate(trial.comparisons):
                head = f"{label:<16} {trial.largest_score:>10.4g}" if position == 0 else " " * 27
                lines.append(
                    f"  {head}  {comparison.name:<6} {formatted(comparison.relative_error):>10} "
                    f"{formatted(comparison.ulps, '.3g'):>9} {formatted(comparison.worst_ratio, '.2g'):>9}"
                    f"  {'ok' if comparison.ok else 'FAIL'}")
    coarse = max((c.resolution for t in report.trials for c in t.comparisons), default=0.0)
    if coarse >= TOLERANCE_CAP.value:
        lines += ["", f"  note: here {report.dtype} resolves a value only to {formatted(coarse, '.1e')} "
                      f"of its size (the rounding bound of these sizes and scores): only gross "
                      f"mistakes can show; float64 or smaller D resolve more"]
    lines += ["", f"verdict: {_verdict(report)}"]
    if report.mutated and report.mistake != "changes its arguments":
        lines.append(f"  warning: it changes its arguments in place: {', '.join(report.mutated)} "
                     f"(its caller's arrays)")
    worst = _worst(report)
    if worst is not None:
        lines.append(f"  {worst}")
    return "\n".join(lines)


def _other_sizes(report: ImplementationReport) -> str:
    """``" (99 at random input 2)"``: the inputs whose N differs from the one asked for."""
    other = [f"{len(trial.problem.X)} at random input {number}"
             for number, trial in enumerate(report.trials, 1)
             if len(trial.problem.X) != report.sizes["samples"]]
    return f" ({', '.join(other)})" if other else ""


def _oracle(report: ImplementationReport) -> str:
    oracle = report.oracle
    if oracle.document is not None:
        proof = (f"{oracle.document.statement()};\n             {oracle.document.mapping};\n"
                 f"             the batch (1/N) sum_i l + reg sum W^2 around it: {len(oracle.proof.results)} "
                 f"lemmas, {oracle.proof.status} for every N, D, K")
    elif oracle.proven_for_every_size:
        proof = (f"closed form proven for every N, D, K ({len(oracle.proof.results)} lemmas; "
                 f"derive --loss {report.loss} --all-sizes)")
    elif oracle.proof is not None:
        proof = f"closed form NOT proven for every size ({oracle.proof.status})"
    else:
        proof = "closed form proven only at the sizes its document checks"
    if not oracle.spot_checks:
        return proof
    worst = max(check.worst_error for check in oracle.spot_checks)
    verdict = "within" if oracle.spot_checks_ok else "NOT within"
    return f"{proof},\n             its float64 evaluation {verdict} {worst:.1e} of 50-digit mpmath"


def _verdict(report: ImplementationReport) -> str:
    inputs = len(report.trials)
    if report.verdict == CORRECT:
        return (f"correct: loss and gradient within tolerance at all {inputs} inputs, "
                f"extreme logits included")
    if report.verdict == CRASHED:
        return f"crashed: {report.explanation}"
    if report.verdict == UNPROVEN:
        return f"unproven: {report.explanation}"
    if report.verdict == INCOMPLETE:
        return f"incomplete: {report.explanation}"
    if report.verdict == IMPRECISE:
        return f"imprecise: {report.mistake}: {report.explanation}"
    named = f"{report.mistake}: {report.explanation}" if report.mistake else None
    if report.verdict == UNSTABLE:
        return f"numerically unstable: {named}" if named else "numerically unstable"
    assert report.verdict == WRONG
    return f"wrong: {named}" if named else "wrong: not one of the known mistakes"


def _worst(report: ImplementationReport) -> str | None:
    """Where the first failing input fails worst, as an entry, its value and the exact one."""
    for number, trial in enumerate(report.trials, 1):
        for comparison in trial.comparisons:
            if comparison.ok:
                continue
            index = "".join(f"[{i}]" for i in comparison.worst_index)
            label = "the extreme-logits input" if trial.kind != "random" else f"random input {number}"
            return (f"at {label}, {comparison.name}{index} = {comparison.user_value:.10g}; "
                    f"exact {comparison.oracle_value:.10g}, tolerance {comparison.tolerance:.2g}")
    return None


def implementation_json(report: ImplementationReport) -> dict:
    """The report as the JSON object of the module docstring."""
    oracle = report.oracle
    spot = [check.worst_error for check in oracle.spot_checks]
    return {
        "schema": SCHEMA,
        "function": report.function,
        "loss": report.loss,
        "verdict": report.verdict,
        "mistake": report.mistake,
        "explanation": report.explanation,
        "convention": report.convention.describe() if report.convention else None,
        "sizes": dict(report.sizes),
        "dtype": report.dtype,
        "reg": report.reg,
        "time_limit": finite(report.time_limit),
        "mutated_arguments": list(report.mutated),
        "unseen_classes": list(report.unseen_classes),
        "precision": report.precision,
        "oracle": {
            "proven_for_every_size": oracle.proven_for_every_size,
            "proof_status": oracle.proof.status if oracle.proof else None,
            "lemmas": len(oracle.proof.results) if oracle.proof else 0,
            "spot_check_error": finite(max(spot)) if spot else None,
            "spot_check_ok": oracle.spot_checks_ok,
            "document": None if oracle.document is None else {
                "path": oracle.document.path, "proven_for": oracle.document.proven_for,
                "mapping": oracle.document.mapping, "values": dict(oracle.document.values)},
        },
        "inputs": [
            {
                "kind": trial.kind,
                "largest_score": trial.largest_score,
                "samples": len(trial.problem.X),
                "outputs": [comparison_json(c) for c in trial.comparisons],
            }
            for trial in report.trials
        ],
        "seconds": report.seconds,
    }

