"""Results in a notebook: a one-line ``repr``, HTML with MathML, Markdown and LaTeX.

Every result a user holds (:class:`~derive.core.Verdict`, ``DerivationVerdict``,
``DocumentCheck``, the implementation reports, the seed derivation) is first turned into a
:class:`View`: a headline with its status, lines of detail, and a table whose marked rows are the
ones to look at (the first wrong step, a failing output).  One renderer per format turns a view
into text, so that every result reads the same in each:

* :func:`html`: MathML by the docs pages' converter (:mod:`derive.report.docs.html`, imported
  on first use), inline styles only: no JavaScript, no stylesheet, nothing fetched;
* :func:`markdown`: a GitHub-flavoured table with ``$...$`` math;
* :func:`latex`: math mode only (what Jupyter's MathJax and nbconvert's PDF export read);
* :func:`short_repr`: ``<DocumentCheck refuted: step 1 of 2 (notes.md:9) wrong>``.

Every string that comes from the user (a document's path, title and prose, a function's name) is
escaped in each format; a document's math is converted, never copied, into the markup.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass

import sympy

from derive.core.verdict import _number


@dataclass(frozen=True)
class TeX:
    """A piece of math; ``display`` math gets a line of its own (a step in a table)."""

    latex: str
    display: bool = False


#: A line: plain text and math, in order.
Line = tuple["str | TeX", ...]


@dataclass(frozen=True)
class View:
    """A result as a notebook shows it: its kind and status, a headline, lines before and after
    a table, and the table's marked rows (indices into ``rows``)."""

    kind: str
    status: str
    headline: Line
    before: tuple[Line, ...] = ()
    header: tuple[str, ...] = ()
    rows: tuple[tuple[Line, ...], ...] = ()
    marked: frozenset[int] = frozenset()
    after: tuple[Line, ...] = ()


#: Statuses shown in green and in red; every other one (unproven, imprecise, ...) in amber.
GOOD, BAD = frozenset({"proven", "correct"}), frozenset({"refuted", "wrong", "crashed", "unstable"})
#: Background colours of a status and of a marked row; the border of the details below a table.
COLOURS = {"good": "#d7f0dc", "bad": "#fbd9d6", "other": "#fdf0c4"}
BORDERS = {"good": "#2e7d32", "bad": "#c62828", "other": "#b08800"}
#: Most entries of a verdict listed one by one (the rest are counted).
MAX_ENTRIES = 10


# --- the views ------------------------------------------------------------------------------


def view(result) -> View:
    """The view of any result, by the first of its classes that has one."""
    for cls in type(result).__mro__:
        if cls.__name__ in _VIEWS:
            return _VIEWS[cls.__name__](result)
    raise TypeError(f"no notebook view of {type(result).__name__}")


def _verdict_view(verdict) -> View:
    entries = verdict.entries
    wrong = [e for e in entries if e.status != "proven"]
    count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
    if verdict.status == "proven":
        how = ", ".join(verdict.strategies)
        headline: Line = (f"{count} ({how})" if how else count, *_except(verdict.except_where))
    else:
        first = next(e for e in wrong if e.status == verdict.status)
        headline = _entry(first)
        more = sum(e.status == verdict.status for e in wrong) - 1
        if more:
            headline += (f" (and {more} more {verdict.status} entr{'y' if more == 1 else 'ies'})",)
    shown = wrong[:MAX_ENTRIES] if len(entries) > 1 else []
    rows = tuple(((TeX(_entry_name(e)),), (e.status,), _entry(e, named=False)) for e in shown)
    after = ((f"and {len(wrong) - len(shown)} more not proven",),) if len(wrong) > len(shown) > 0 else ()
    return View("Verdict", verdict.status, headline, header=("entry", "verdict", "why") if rows else (),
                rows=rows, marked=frozenset(range(len(rows))), after=after)


def _entry_name(entry) -> str:
    if entry.variable is None:
        return rf"\text{{entry {entry.index}}}"
    return rf"\frac{{\partial L}}{{\partial {sympy.latex(entry.variable)}}}"


def _entry(entry, named: bool = True) -> Line:
    """One entry's verdict: what proved it, its counterexample, or why it is unproven."""
    name: Line = (TeX(_entry_name(entry)), ": ") if named else ()
    if entry.status == "proven":
        return (f"proven ({entry.strategy})", *_except(entry.except_where))
    if entry.status == "refuted":
        return name + _counterexample(entry.counterexample)
    return name + (entry.describe().removeprefix("unproven: ").removeprefix(f"dL/d{entry.variable}: "),)


def _counterexample(ce) -> Line:
    """``at x = 1/2: true value 0.25, claimed 0.5``, the point and values as math."""
    return ("at ", TeX(_point(ce)), ": true value ", TeX(_value(ce.expected, ce.shown_digits)),
            ", claimed ", TeX(_value(ce.claimed, ce.shown_digits)))


def _point(ce) -> str:
    values = {**ce.point, **ce.opaque}
    return ", ".join(f"{sympy.latex(s)} = {_value(v)}" for s, v in values.items()) or r"\text{any point}"


def _value(value, digits: int = 17) -> str:
    """A number as :func:`~derive.core.verdict._number` writes it, a fraction as ``\\frac``.

    >>> _value(sympy.Rational(-1, 3)), _value(sympy.Rational(-1, 4))
    ('{- \\\\frac{1}{3}}', '{-0.25}')
    """
    text = _number(value, digits)
    return "{" + (sympy.latex(value) if "/" in text else text) + "}"  # braced: a sign, not a minus


def _except(relations) -> Line:
    if not relations:
        return ()
    return (" except where ", TeX(r" \text{ or } ".join(sympy.latex(r) for r in relations)))


def _derivation_view(verdict) -> View:
    from derive.proof.step import _one_line, _runs

    rows = [((label,), (), (text,)) for label, text in _runs([_one_line(v) for v in verdict.rows])]
    statuses = [text.split()[0] for _, _, (text,) in rows]
    for kind, results in (("step", verdict.steps), ("fact", verdict.facts)):
        for number, result in enumerate(results, start=1):
            rows.append(((f"{kind} {number}, {result.title()}",), (TeX(result.step.latex, display=True),),
                         (_one_line(result.verdict),)))
            statuses.append(result.status)
    return View("DerivationVerdict", verdict.status, (verdict.counts,), header=("part", "statement", "verdict"),
                rows=tuple(rows), marked=frozenset(i for i, s in enumerate(statuses) if s != "proven"))


def _document_view(check) -> View:
    from derive.document.declare import read_line
    from derive.report.document import _counts, sizes_scope

    title = f" ({check.title})" if check.title else ""
    at = f", {sizes_scope(check)}" if sizes_scope(check) and check.status != "refuted" else ""
    steps = f"{len(check.steps)} step" + ("" if len(check.steps) == 1 else "s")
    read = read_line(check.reading)
    rows = tuple(((str(step.line),), (TeX(step.latex, display=True),), _step_verdict(step))
                 for step in check.steps)
    wrong = check.first_wrong
    return View("DocumentCheck", check.status, (f"{check.path}{title}: {steps}: {_counts(check)}{at}",),
                before=((read,),) if read else (), header=("line", "step", "verdict"), rows=rows,
                marked=frozenset() if wrong is None else frozenset({check.steps.index(wrong)}),
                after=_first_wrong(check, wrong) if wrong is not None else ())


def _step_verdict(step) -> Line:
    from derive.report.document import _relation

    if step.status == "unproven":
        return ("unproven: ", *_with_math(step.reason))
    if step.status == "refuted":
        return ("refuted", " (the first wrong step)" if not step.after_first_wrong else "")
    kinks = " except where " + " or ".join(_relation(e) for e in step.except_where) if step.except_where else ""
    return (f"proven{kinks}" + (f" [{step.scope}]" if step.scope else ""),)


def _first_wrong(check, step) -> tuple[Line, ...]:
    lines: list[Line] = [(f"first wrong step: {check.path}:{step.line}:{step.column} "
                          f"(step {check.steps.index(step) + 1} of {len(check.steps)})",)]
    if step.prose:
        lines.append((" ".join(step.prose.split()),))
    lines.append((TeX(step.latex, display=True),))
    failure = step.failure
    if failure.instance:
        lines.append((f"at {failure.describe_instance()}",))
    if failure.counterexample is not None:
        lines.append(_counterexample(failure.counterexample))
    else:
        lines.append(_with_math(step.reason))
    if step.mistake:
        lines.append(("mistake: ", *_with_math(step.mistake)))
    after = [s for s in check.steps if s.after_first_wrong]
    if after:
        from derive.report.document import _counts_of

        lines.append((f"the {len(after)} step(s) after it were checked on their own: {_counts_of(after)}",))
    return tuple(lines)


def _with_math(text: str) -> Line:
    """derive's own sentences quote LaTeX in backticks (``instead of `6 a^{2} b```): as math."""
    return tuple(TeX(piece) if number % 2 else piece
                 for number, piece in enumerate(text.split("`")) if piece)


def _comparisons_view(report, labels, verdict: str, worst: str | None, before: tuple[Line, ...],
                      status: str | None = None) -> View:
    """An implementation check: one table row per output compared at each input (``labels``)."""
    from derive.report.comparison import formatted

    rows, marked = [], set()
    for label, trial in zip(labels, report.trials):
        for position, c in enumerate(trial.comparisons):
            if not c.ok:
                marked.add(len(rows))
            rows.append(((label if position == 0 else "",), (c.name,), (formatted(c.relative_error),),
                         (formatted(c.ulps, ".3g"),), (formatted(c.worst_ratio, ".2g"),),
                         ("ok" if c.ok else "FAIL",)))
    return View(type(report).__name__, status or report.verdict, (f"{report.function}: {verdict}",), before=before,
                header=("input", "output", "rel. error", "ulps", "of tol.", "result") if rows else (),
                rows=tuple(rows), marked=frozenset(marked), after=((worst,),) if worst else ())


def _implementation_view(report) -> View:
    from derive.report.implementation import _oracle, _verdict, _worst

    labels = [t.kind if t.kind != "random" else f"random {n}" for n, t in enumerate(report.trials, 1)]
    called = report.convention.describe() if report.convention else "(never ran)"
    sizes = report.sizes
    before = ((f"against {report.loss}, called as {called}",),
              (f"N = {sizes['samples']}, D = {sizes['features']}, K = {sizes['classes']}, "
               f"{report.dtype}, reg = {report.reg:g}",),
              ("oracle: " + " ".join(_oracle(report).split()),))
    if report.mutated and report.mistake != "changes its arguments":
        before += ((f"warning: it changes its arguments in place: {', '.join(report.mutated)}",),)
    return _comparisons_view(report, labels, _verdict(report), _worst(report), before)


def _lm_view(report) -> View:
    from derive.implementation.lm.check import shown_sizes
    from derive.report.lm import _baseline, _verdict, _worst

    called = report.convention.describe() if report.convention else "(never ran)"
    before = ((f"against lm-cross-entropy, called as {called}",),
              (f"{shown_sizes(report.sizes)}, {report.dtype}",),
              *((f"inferred: {line}",) for line in report.inferred))
    baseline = _baseline(report)
    worst = "; ".join(filter(None, (baseline, _worst(report)))) or None
    return _comparisons_view(report, [t.combination.label for t in report.trials], _verdict(report), worst,
                             before, status=_lm_status(report))


def _lm_status(report) -> str:
    """Its verdict, unless correct but less accurate than plain PyTorch (exit status 1)."""
    return "less accurate than PyTorch" if report.verdict == "correct" and not report.ok else report.verdict


def _accumulation_view(report) -> View:
    from derive.report.accumulation import _verdict, _worst

    sizes = report.sizes
    before = ((f"against the full batch's gradient, called as {report.convention.describe()}",),
              (f"N = {sizes['samples']} tokens in M = {sizes['micro_batches']} micro-batches, "
               f"H = {sizes['hidden']}, V = {sizes['vocab']}, {report.dtype}",),
              *((f"inferred: {line}",) for line in report.inferred))
    return _comparisons_view(report, [t.label for t in report.trials], _verdict(report), _worst(report),
                             before)


def _derivation_rows_view(d) -> View:
    """The seed derivation (``derive.softmax_cross_entropy``): its equations and row verdicts."""
    from derive.report.latex import _equations, rows_status

    rows = tuple(((TeX(equation.replace("&", ""), display=True),), (comment,))
                 for equation, comment in _equations(d, steps=False))
    status = rows_status(d.row_verdicts)
    return View(type(d).__name__, status,
                (f"{d.name}, K = {d.classes} classes, D = {d.features} feature{'s' if d.features != 1 else ''}, "
                 f"label y = {d.label}",),
                header=("equation", "verdict"), rows=rows,
                marked=frozenset(i for i, (_, (c,)) in enumerate(rows)
                                 if c and not c.split(": ", 1)[1].startswith("proven")))


_VIEWS = {
    "Verdict": _verdict_view,
    "DerivationVerdict": _derivation_view,
    "DocumentCheck": _document_view,
    "ImplementationReport": _implementation_view,
    "LMReport": _lm_view,
    "AccumulationReport": _accumulation_view,
    "SoftmaxCrossEntropy": _derivation_rows_view,
}


# --- the formats ----------------------------------------------------------------------------


def short_repr(result) -> str:
    """One line: the kind, the status, and where to look.

    >>> from derive.core.verdict import EntryVerdict, Verdict
    >>> short_repr(Verdict((EntryVerdict(0, "proven", "identical"),) * 3))
    '<Verdict proven: 3 entries>'
    """
    kind = type(result).__name__
    if kind == "DocumentCheck":
        return f"<DocumentCheck {result.status}: {_document_where(result)}>"
    if kind == "Verdict":
        entries = result.entries
        if result.status == "proven":
            return f"<Verdict proven: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}>"
        count = sum(e.status == result.status for e in entries)
        return f"<Verdict {result.status}: {count} of {len(entries)} entries {result.status}>"
    if kind == "DerivationVerdict":
        return f"<DerivationVerdict {result.status}: {result.counts}>"
    if kind == "StepCheck":
        step = result.latex if len(result.latex) <= 60 else result.latex[:59] + "…"
        return f"<StepCheck {result.status}: line {result.line}, {step}>"
    status = _lm_status(result)
    detail = result.mistake or (status if status != result.verdict else "")
    return f"<{kind} {result.verdict}{': ' + detail if detail else ''} ({result.function})>"


def _document_where(check) -> str:
    steps = len(check.steps)
    if not steps:
        return f"no steps ({check.path})"
    if check.status == "proven":
        return f"{steps} step{'' if steps == 1 else 's'} ({check.path})"
    from derive.report.document import first_not_proven

    first = first_not_proven(check)
    number = check.steps.index(first) + 1
    what = "wrong" if check.status == "refuted" else "unproven"
    return f"step {number} of {steps} ({check.path}:{first.line}) {what}"


def html(result) -> str:
    """The result as an HTML fragment with MathML: a headline, its details and its table, the
    marked rows highlighted (class ``derive-marked``).  Styles are inline: a notebook's page keeps
    its own."""
    v = view(result)
    p = '<p style="margin: 0.3em 0">'
    parts = [f'<div class="derive-result derive-{v.kind}" style="font-family: sans-serif; line-height: 1.5">',
             f"{p}{_badge(v.status)} {_html_line(v.headline)}</p>"]
    parts += [f"{p}{_html_line(line)}</p>" for line in v.before]
    if v.rows:
        cell = 'style="border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: left"'
        head = "".join(f"<th {cell}>{_html.escape(h)}</th>" for h in v.header)
        body = "".join(
            (f'<tr class="derive-marked" style="background: {_colour(v.status)}">' if n in v.marked else "<tr>")
            + "".join(f"<td {cell}>{_html_line(c)}</td>" for c in row) + "</tr>\n"
            for n, row in enumerate(v.rows))
        parts.append(f'<table style="border-collapse: collapse; margin: 0.5em 0">\n<thead><tr>{head}</tr></thead>\n'
                     f"<tbody>\n{body}</tbody>\n</table>")
    if v.after:
        lines = "".join(f"{p}{_html_line(line)}</p>" for line in v.after)
        parts.append(f'<div class="derive-details" style="border-left: 0.2em solid {_colour(v.status, BORDERS)}; '
                     f'padding-left: 0.6em">{lines}</div>')
    return "\n".join(parts + ["</div>"])


def _colour(status: str, colours: dict[str, str] = COLOURS) -> str:
    return colours["good" if status in GOOD else "bad" if status in BAD else "other"]


def _badge(status: str) -> str:
    return (f'<strong class="derive-status" style="background: {_colour(status)}; padding: 0 0.4em; '
            f'border-radius: 0.3em">{_html.escape(status)}</strong>')


def _html_line(line: Line) -> str:
    from derive.report.docs.html import _inline, _mathml

    out = []
    for piece in line:
        if isinstance(piece, TeX):
            # A block <math> is centred in its box: a box as wide as the math keeps it left.
            out.append(f'<span style="display: inline-block">{_mathml(piece.latex)}</span>' if piece.display
                       else _inline(f"${piece.latex}$"))
        else:
            out.append(_html.escape(piece))
    return "".join(out)


def markdown(result) -> str:
    """The result as GitHub-flavoured Markdown, math as ``$...$``, the marked rows in bold.

    >>> from derive.core.verdict import EntryVerdict, Verdict
    >>> print(markdown(Verdict((EntryVerdict(0, "proven", "identical"),))))
    **proven** 1 entry (identical)
    """
    v = view(result)
    lines = [f"**{v.status}** {_markdown_line(v.headline)}"]
    for line in v.before:
        lines += ["", _markdown_line(line)]
    if v.rows:
        lines += ["", "| " + " | ".join(v.header) + " |", "|" + " --- |" * len(v.header)]
        for n, row in enumerate(v.rows):
            cells = [_markdown_line(cell) for cell in row]
            if n in v.marked:
                cells = [f"**{c}**" if c and not c.startswith("$") else c for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
    for line in v.after:
        lines += ["", _markdown_line(line)]
    return "\n".join(lines)


def _markdown_line(line: Line) -> str:
    return "".join(f"${_markdown_math(p.latex)}$" if isinstance(p, TeX) else _markdown_text(p) for p in line)


def _markdown_text(text: str) -> str:
    r"""Text that Markdown shows as it is: no markup, no HTML.

    >>> _markdown_text("mse_loss <script>|x*2")
    'mse\\_loss &lt;script&gt;\\|x\\*2'
    """
    text = _html.escape(text, quote=False)
    return re.sub(r"([\\`*_\[\]|$#])", r"\\\1", text)


def _markdown_math(latex: str) -> str:
    r"""Math that a Markdown table cell and its HTML leave alone: bars and angle brackets as
    commands.

    >>> _markdown_math(r"\|x\| < |y|")
    '\\Vert x\\Vert  \\lt  \\vert y\\vert '
    """
    for char, command in ((r"\|", r"\Vert "), ("|", r"\vert "), ("<", r"\lt "), (">", r"\gt ")):
        latex = latex.replace(char, command)
    return latex


def latex(result) -> str:
    r"""The result in math mode, for Jupyter's MathJax and nbconvert's PDF: the headline alone as
    ``$...$``, or the headline, its lines and its table in one ``array``, marked rows with
    ``\triangleright``.

    >>> from derive.core.verdict import EntryVerdict, Verdict
    >>> latex(Verdict((EntryVerdict(0, "proven", "identical"),)))
    '$\\textbf{proven}\\ \\text{1 entry (identical)}$'
    """
    v = view(result)
    headline = rf"\textbf{{{v.status}}}\ {_latex_line(v.headline)}"
    if not (v.before or v.rows or v.after):
        return f"${headline}$"
    lines = [headline, *(_latex_line(line) for line in v.before)]
    if v.rows:
        head = " & ".join(rf"\textbf{{{h}}}" for h in v.header)
        body = [(r"\triangleright\ " if n in v.marked else "") + " & ".join(_latex_line(c) for c in row)
                for n, row in enumerate(v.rows)]
        lines.append(rf"\begin{{array}}{{{'l' * len(v.header)}}} {head} \\ "
                     + r" \\ ".join(body) + r" \end{array}")
    lines += [_latex_line(line) for line in v.after]
    return "$$\\begin{array}{l}\n" + " \\\\\n".join(lines) + "\n\\end{array}$$"


def _latex_line(line: Line) -> str:
    return "".join(p.latex if isinstance(p, TeX) else _latex_text(p) for p in line)


def _latex_text(text: str) -> str:
    r"""Text in math mode: ``\text{...}``, its ``<`` and ``>`` as math between (no markup can
    begin there, and LaTeX's text fonts have no such glyphs).

    >>> print(_latex_text("a_1 <b>"))
    \text{a\_1 }<\text{b}>
    """
    from derive.report.latex import latex_text

    return "".join(piece if piece in "<>" else rf"\text{{{latex_text(piece)}}}"
                   for piece in re.split(r"([<>])", text) if piece)
