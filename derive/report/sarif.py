"""Checked documents as a SARIF 2.1.0 log (``derive check --format sarif``), for code scanning.

GitHub code scanning (``github/codeql-action/upload-sarif``), and other SARIF viewers, put each
result on its line.  One run, tool ``derive``; a result per refuted step (level ``error``), per
unproven step (``warning``; a document with display math but no step is one at its first line)
and per document that cannot be read (``error``), each with a stable ``ruleId``
(:data:`RULES`), the step's ``file:line:column`` as ``region.startLine``/``startColumn``, and a
message with the step, the instance, the counterexample's point, the true and claimed values and
the named mistake (also in the result's ``properties``).  Paths are relative to the working
directory (``uriBaseId`` ``%SRCROOT%``; outside it, ``file:`` URIs).  Every document is listed
in ``run.artifacts`` with its outcome (``properties.status``), a skipped one (no derivation)
too, so nothing checked or skipped is left out.

>>> from derive.document.collect import Outcome
>>> from derive.document.source import DocumentError
>>> log = sarif_log([Outcome("README.md", skipped="no derivation (no display equations)"),
...                  Outcome("bad.md", error=DocumentError("unknown command `\\\\foo`", "bad.md", 3, 7))])
>>> log["version"], [(r["ruleId"], r["level"], r["message"]["text"]) for r in log["runs"][0]["results"]]
('2.1.0', [('derive/unreadable-document', 'error', 'bad.md cannot be read: unknown command `\\\\foo`')])
>>> result = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
>>> result["artifactLocation"], result["region"]
({'uri': 'bad.md', 'uriBaseId': '%SRCROOT%', 'index': 1}, {'startLine': 3, 'startColumn': 7})
>>> [a["properties"]["status"] for a in log["runs"][0]["artifacts"]]
['skipped', 'unreadable']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from derive._version import __version__
from derive.document.collect import Outcome
from derive.report.document import document_json, refutation

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SOURCE_ROOT = "%SRCROOT%"

#: The rules, by stable id: (id, name, level, short description, full description).
RULES = (
    ("derive/refuted-step", "RefutedStep", "error", "A step of the derivation is false",
     "derive found a point where both sides of this step are defined and differ: the step is "
     "refuted. The message gives the instance (sizes, labels, indices), the point, the true "
     "and the claimed value, and the small edit that would fix it when it is a known mistake."),
    ("derive/unproven-step", "UnprovenStep", "warning", "A step of the derivation is unproven",
     "derive could neither prove this step nor refute it (the reason is in the message: a time "
     "limit, no strategy, a relation that is not an equality); or the document has display "
     "math but no step to check."),
    ("derive/unreadable-document", "UnreadableDocument", "error", "The document cannot be read",
     "The derivation document cannot be read as the format (docs/format.md) says: the message "
     "says why, at the line and column."),
)
_RULE_INDEX = {rule[0]: index for index, rule in enumerate(RULES)}


def sarif_log(outcomes: Sequence[Outcome], root: str | Path | None = None) -> dict:
    """The SARIF 2.1.0 log of ``outcomes``; paths relative to ``root`` (default the working
    directory)."""
    base = Path(os.path.abspath(root or os.getcwd()))
    artifacts = [{"location": _artifact_location(o.path, base), "properties": {"status": o.status}}
                 for o in outcomes]
    results = [result for index, outcome in enumerate(outcomes)
               for result in _results(outcome, artifacts[index]["location"], index)]
    driver = {"name": "derive", "version": __version__, "semanticVersion": __version__,
              "rules": [_rule(*rule) for rule in RULES]}
    run = {"tool": {"driver": driver}, "artifacts": artifacts, "results": results,
           "columnKind": "unicodeCodePoints"}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule_id: str, name: str, level: str, short: str, full: str) -> dict:
    return {"id": rule_id, "name": name, "shortDescription": {"text": short},
            "fullDescription": {"text": full}, "defaultConfiguration": {"level": level}}


def _artifact_location(path: str, base: Path) -> dict:
    """``path`` relative to ``base`` under ``%SRCROOT%``; outside it, a ``file:`` URI.

    >>> _artifact_location("notes/a b.md", Path("/repo"))
    {'uri': 'notes/a%20b.md', 'uriBaseId': '%SRCROOT%'}
    >>> _artifact_location("/elsewhere/c.md", Path("/repo"))
    {'uri': 'file:///elsewhere/c.md'}
    """
    if path == "-":  # standard input has no file
        return {"uri": "-"}
    absolute = Path(os.path.abspath(base / path))
    try:
        relative = absolute.relative_to(base)
    except ValueError:
        return {"uri": absolute.as_uri()}
    return {"uri": quote(relative.as_posix()), "uriBaseId": SOURCE_ROOT}


def _results(outcome: Outcome, location: dict, index: int) -> list[dict]:
    """The results of one document: none when it is proven or skipped."""
    located = {**location, "index": index}
    if outcome.error is not None:
        error = outcome.error
        return [_result("derive/unreadable-document", f"{outcome.path} cannot be read: {error.message}",
                        located, error.line, error.column)]
    check = outcome.check
    if check is None:
        return []
    if not check.steps:
        return [_result("derive/unproven-step", f"{check.path} has display math but no step to check",
                        located, 1, 1)]
    results = []
    first_wrong = check.first_wrong
    as_data = document_json(check)["steps"]  # each failure as the JSON gives it
    for number, step in enumerate(check.steps, start=1):
        if step.status == "proven":
            continue
        head = f"Step {number} of {len(check.steps)} is {step.status}: {step.latex}"
        if step.status == "refuted":
            text = f"{head}, {refutation(step)}"
            data = as_data[number - 1]
            properties = {"mistake": data["mistake"], **(data["failure"] or {})}
            if step is not first_wrong:
                text += f" (checked on its own, after the first wrong step at line {first_wrong.line})"
        else:
            text, properties = f"{head} ({step.reason})", {"reason": step.reason}
        rule = "derive/refuted-step" if step.status == "refuted" else "derive/unproven-step"
        results.append(_result(rule, text, located, step.line, step.column,
                               {"step": number, "latex": step.latex, **properties}))
    return results


def _result(rule_id: str, text: str, location: dict, line: int, column: int,
            properties: dict | None = None) -> dict:
    """One result at ``line``:``column`` (a file's first line when no line is known)."""
    region = {"startLine": max(line, 1), "startColumn": max(column, 1)}
    result = {"ruleId": rule_id, "ruleIndex": _RULE_INDEX[rule_id], "level": RULES[_RULE_INDEX[rule_id]][2],
              "message": {"text": text},
              "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}]}
    if properties:
        result["properties"] = properties
    return result
