"""A checked derivation document, printed: per-step lines, the first wrong step, and JSON.

The JSON schema (``derive check --format json``) is documented in ``docs/format.md``; its
``schema`` field names the version, bumped on any incompatible change.
"""

from __future__ import annotations

from derive.core.verdict import _number
from derive.document.declare import read_line

#: Version of the JSON printed by ``derive check --format json``.
SCHEMA = "derive.check/1"


def _counts(check) -> str:
    return _counts_of(check.steps) or "no steps"


def _relation(relation) -> str:
    """``Eq(s_{2}, 0)`` as ``s_{2} = 0``."""
    return f"{relation.lhs} = {relation.rhs}" if hasattr(relation, "lhs") else str(relation)


def _location(check, step) -> str:
    return f"{check.path}:{step.line}:{step.column}"


def _point(counterexample) -> str:
    values = {**counterexample.point, **counterexample.opaque}
    return ", ".join(f"{symbol} = {_number(value)}" for symbol, value in values.items()) or "any point"


def document_text(check) -> str:
    """The verdict as a person reads it."""
    title = f" ({check.title})" if check.title else ""
    at = f" {sizes_scope(check)}" if sizes_scope(check) and check.status != "refuted" else ""
    steps = f"{len(check.steps)} step" + ("" if len(check.steps) == 1 else "s")
    lines = [f"{check.path}{title}: {check.status}{at}, {steps}: {_counts(check)}"]
    read = read_line(check.reading)
    if read:
        lines.append(f"  {read}")
    for step in check.steps:
        scope = f"  [{step.scope}]" if step.scope and step.status == "proven" else ""
        if step.status == "unproven":
            scope = f"  ({step.reason})"
        elif step.status == "proven" and step.except_where:
            scope = "  except where " + " or ".join(_relation(e) for e in step.except_where) + scope
        lines.append(f"  {step.line:>4}:{step.column:<3} {step.status:<8}  {step.latex}{scope}")
    wrong = check.first_wrong
    if wrong is not None:
        lines.append("")
        lines.append(f"first wrong step: {_location(check, wrong)}")
        lines.append(f"  {wrong.latex}")
        failure = wrong.failure
        if failure.instance:
            lines.append(f"  at {failure.describe_instance()}")
        if failure.counterexample is not None:
            ce = failure.counterexample
            lines.append(f"  where {_point(ce)}")
            lines.append(f"    true value:    {_number(ce.expected, ce.shown_digits)}")
            lines.append(f"    claimed value: {_number(ce.claimed, ce.shown_digits)}")
        else:
            lines.append(f"  {wrong.reason}")
        if wrong.mistake:
            lines.append(f"  {wrong.mistake}")
        after = [s for s in check.steps if s.after_first_wrong]
        if after:
            lines.append(f"  the {len(after)} step(s) after it were checked on their own: {_counts_of(after)}")
    return "\n".join(lines)


def _counts_of(steps) -> str:
    statuses = [s.status for s in steps]
    return ", ".join(f"{statuses.count(k)} {k}" for k in ("proven", "refuted", "unproven") if statuses.count(k))


def document_json(check) -> dict:
    """The verdict as data (schema in ``docs/format.md``)."""

    def step_json(step) -> dict:
        out = {
            "line": step.line,
            "column": step.column,
            "source": step.source.strip(),
            "latex": step.latex,
            "status": step.status,
            "checked": step.instances,
            "scope": step.scope,
            "every_size": step.every_size,
            "reason": step.reason,
            "except_where": [_relation(e) for e in step.except_where],
            "after_first_wrong": step.after_first_wrong,
            "mistake": step.mistake,
            "failure": None,
        }
        if step.failure is not None:
            failure = {"instance": {k: list(v) if isinstance(v, tuple) else v
                                    for k, v in step.failure.instance.items()}}
            ce = step.failure.counterexample
            if ce is not None:
                failure["point"] = {str(s): str(v) for s, v in {**ce.point, **ce.opaque}.items()}
                failure["true_value"] = _number(ce.expected, ce.shown_digits)
                failure["claimed_value"] = _number(ce.claimed, ce.shown_digits)
            elif step.failure.shapes is not None:
                failure["shapes"] = list(step.failure.shapes)
            else:
                failure["missing"] = step.failure.missing
            out["failure"] = failure
        return out

    wrong = check.first_wrong
    return {
        "schema": SCHEMA,
        "path": check.path,
        "title": check.title,
        "status": check.status,
        "sizes": check.sizes,
        "definitions": check.definitions,
        "steps": [step_json(s) for s in check.steps],
        "first_wrong": None if wrong is None else {"line": wrong.line, "column": wrong.column},
        "result": None if check.result is None else check.result.latex,
        "results": [s.latex for s in check.steps if s.boxed],
        "reading": [r.to_json() for r in check.reading],
    }


def reading_text(check) -> str:
    """What was read, one line each (``derive check --explain``): where, what kind, the symbol
    as read in LaTeX, and what it means.

    >>> from derive.document import check_document
    >>> print(reading_text(check_document("Let $a > 0$.\\n\\n$$ f = a^2 $$\\n", path="a.md")))
    a.md: read 2 items
         1:6   assumption    a > 0: positive, a real scalar
         3:6   definition    f = a^{2}: a definition
    """
    count = len(check.reading)
    lines = [f"{check.path}: read {count} item{'' if count == 1 else 's'}"]
    for reading in check.reading:
        lines.append(f"  {reading.line:>4}:{reading.column:<3} {reading.kind:<12}  {reading.latex}: {reading.meaning}")
    return "\n".join(lines)


def _aligned(step) -> str:
    from derive.report.latex import _aligned as aligned

    return aligned(step.latex)


def sizes_text(check) -> str:
    """The sizes checked, e.g. ``D = 1..3, K = 2..4`` ('' when the document has none)."""
    names = sorted({name for sizes in check.sizes for name in sizes})
    parts = []
    for name in names:
        values = sorted({sizes[name] for sizes in check.sizes})
        parts.append(f"{name} = {values[0]}..{values[-1]}" if len(values) > 1 else f"{name} = {values[0]}")
    return ", ".join(parts)


def sizes_scope(check) -> str:
    """Which sizes the verdict covers: ``for every size`` when every step is proven for every
    size, else the sizes checked and how many steps hold for every size, e.g. ``at D = 1..3,
    K = 2..4 (3 of 5 steps for every size)`` ('' when the document has no sizes)."""
    at = sizes_text(check)
    if not at:
        return ""
    every = sum(step.every_size for step in check.steps)
    if check.steps and every == len(check.steps):
        return "for every size"
    return f"at {at}" + (f" ({every} of {len(check.steps)} steps for every size)" if every else "")


def document_latex(check, name: str, steps: bool = False) -> str:
    """A catalog document as ``derive --loss NAME`` prints it: the definitions, the result (and
    with ``steps`` every step), each with its verdict as a LaTeX comment."""
    from derive.report.latex import PACKAGES_COMMENT, portable
    from derive.report.latex import _aligned as aligned

    at = sizes_scope(check)
    lines = [f"% derive: {check.title or name} ({name})",
             f"% verdict: {check.status} ({_counts(check)}{', ' + at if at else ''})",
             PACKAGES_COMMENT, r"\allowdisplaybreaks", r"\begin{align*}"]
    body = [aligned(d) for d in check.definitions]
    shown = check.steps if steps else [s for s in check.steps if s.boxed or s is check.result]
    for number, step in enumerate(check.steps, start=1):
        if step not in shown:
            continue
        label = f"step {number}" if steps else "result"
        verdict = step.status + (f" ({step.reason})" if step.reason else "")
        if step.except_where:
            verdict += " except where " + " or ".join(_relation(e) for e in step.except_where)
        scope = f" [{step.scope}]" if step.scope else ""
        body.append(f"% {label}, line {step.line}: {verdict}{scope}")
        body.append(_aligned(step))
    text_lines = []
    for k, line in enumerate(body):
        is_comment = line.startswith("%")
        last = all(b.startswith("%") for b in body[k + 1:])
        text_lines.append(line if is_comment or last else line + r" \\")
    return portable("\n".join(lines + text_lines + [r"\end{align*}"]))


# --- several documents (``derive check DIR``): one line each, and the total -----------------

#: The outcomes of ``derive check``, in the order the total counts them.
OUTCOMES = ("proven", "refuted", "unproven", "unreadable", "skipped")


def summary_line(outcome) -> str:
    """A document's :class:`~derive.document.collect.Outcome` in one line: where its first
    wrong (or unproven) step is, what was found there and the named mistake.

    >>> from derive.document.collect import check_one
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder, "cube.md")
    ...     _ = path.write_text("Let $a > 0$.\\n\\n$$ f = a^3 $$\\n"
    ...                         "$$ \\\\frac{\\\\partial f}{\\\\partial a} = 6 a^2 $$\\n")
    ...     print(summary_line(check_one(str(path))).replace(folder, "notes"))  # doctest: +ELLIPSIS
    notes/cube.md:4:34: refuted: step 1 of 1, ... = 6 a^{2}: where a = ...: true value ..., claimed ...; ... (a factor of 1/2 is missing)
    """
    if outcome.error is not None:
        return f"{outcome.error.location}: unreadable: {outcome.error.message}"
    if outcome.check is None:
        return f"{outcome.path}: skipped: {outcome.skipped}"
    check = outcome.check
    if check.status == "proven":
        at = sizes_scope(check)
        steps = f"{len(check.steps)} step" + ("" if len(check.steps) == 1 else "s")
        return f"{check.path}: proven{' ' + at if at else ''} ({steps})"
    step = first_not_proven(check)
    if step is None:
        return f"{check.path}: {check.status}: no steps"
    found = refutation(step) if step.status == "refuted" else step.reason
    return (f"{_location(check, step)}: {step.status}: step {check.steps.index(step) + 1} of "
            f"{len(check.steps)}, {step.latex}: {found}")


def first_not_proven(check):
    """The first refuted step, else the first unproven one (None when every step is proven)."""
    return check.first_wrong or next((s for s in check.steps if s.status != "proven"), None)


def refutation(step) -> str:
    """What refutes ``step`` in one line: the instance, the counterexample's point, the true and
    claimed values and the named mistake."""
    failure = step.failure
    where = f"at {failure.describe_instance()}" if failure is not None and failure.instance else ""
    counterexample = failure.counterexample if failure is not None else None
    if counterexample is None:
        found = step.reason or (failure.missing if failure is not None else "")
    else:
        found = (f"true value {_number(counterexample.expected, counterexample.shown_digits)}, "
                 f"claimed {_number(counterexample.claimed, counterexample.shown_digits)}")
        where = ", ".join(filter(None, [where, f"where {_point(counterexample)}"]))
    text = f"{where}: {found}" if where and found else where or found
    return text + (f"; {step.mistake}" if step.mistake else "")


def summary_total(outcomes) -> str:
    """The total line: how many documents, and how many of each outcome.

    >>> from derive.document.collect import Outcome
    >>> summary_total([Outcome("a.md", skipped="no derivation")])
    '1 document: 1 skipped'
    """
    statuses = [outcome.status for outcome in outcomes]
    counts = ", ".join(f"{statuses.count(kind)} {kind}" for kind in OUTCOMES if statuses.count(kind))
    return f"{len(statuses)} document{'' if len(statuses) == 1 else 's'}: {counts or 'none'}"


def outcome_json(outcome) -> dict:
    """A document's outcome as data: :func:`document_json` when it was checked; for a skipped
    or unreadable one ``schema``, ``path``, ``status`` and ``reason`` (skipped) or ``error``
    (``{"message", "line", "column"}``, 0 where no line is known)."""
    if outcome.check is not None:
        return document_json(outcome.check)
    out = {"schema": SCHEMA, "path": outcome.path, "status": outcome.status}
    if outcome.error is not None:
        error = outcome.error
        out["error"] = {"message": error.message, "line": error.line, "column": error.column}
    else:
        out["reason"] = outcome.skipped
    return out
