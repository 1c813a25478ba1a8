"""Print a derivation and its verdicts as LaTeX or as a JSON-ready dict."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import sympy
from sympy import Add, latex

from derive.core import Verdict, worst

if TYPE_CHECKING:
    from derive.losses.softmax.derivation import SoftmaxCrossEntropy
    from derive.proof import StepResult

#: The packages the LaTeX printed here needs, both in every TeX installation: amsmath
#: (``align*``, ``cases``, ``\lVert``, ``\operatorname``, ``\allowdisplaybreaks``) and amssymb
#: (``\mathbb{R}``).
LATEX_PACKAGES = ("amsmath", "amssymb")
#: The comment line that says so, printed above the derivation.
PACKAGES_COMMENT = (
    f"% needs \\usepackage{{{','.join(LATEX_PACKAGES)}}}; "
    "\\allowdisplaybreaks lets the derivation break across pages"
)


def loss_latex(d: "SoftmaxCrossEntropy") -> str:
    """The loss in score notation, ``-\\log(e^{f_y} / \\sum_j e^{f_j})``."""
    f = d.model.score_symbols
    return latex(-sympy.log(sympy.exp(f[d.label]) / Add(*[sympy.exp(fj) for fj in f])))


def definitions_latex(d: "SoftmaxCrossEntropy") -> str:
    """The scores and probabilities, ``f_j = w_j \\cdot x, \\qquad p_j = ...``."""
    return (
        rf"f_j = w_j \cdot x, \qquad p_j = \frac{{e^{{f_j}}}}{{\sum_{{k=0}}^{{{d.classes - 1}}} e^{{f_k}}}}"
    )


def row_latex(d: "SoftmaxCrossEntropy", m: int) -> str:
    """Row m of the gradient as verified, e.g. ``\\left(p_{0} - 1\\right) x^{T}``.

    This is the expression the verifier's verdict on row m is about (``d.rows[m].shown``):
    the claim itself, whose definitions substituted give the closed form that was checked.
    """
    return latex(d.rows[m].shown)


def row_lhs_latex(m: int) -> str:
    return rf"\frac{{\partial L}}{{\partial w_{{{m}}}}}"


def verdict_comment(verdict: Verdict) -> str:
    return str(verdict).replace("\n", " ")


def derivation_latex(d: "SoftmaxCrossEntropy", steps: bool = False) -> str:
    """The derivation as an ``align*`` block; verdicts on ``%`` comment lines.

    Examples
    --------
    >>> import derive
    >>> print(derive.softmax_cross_entropy(2, features=1).to_latex())  # doctest: +ELLIPSIS
    % derive: softmax cross-entropy, K = 2 classes, D = 1 feature, label y = 0
    ...
    \\frac{\\partial L}{\\partial w_{1}} &= p_{1} x^{T}
    \\end{align*}
    """
    verdict = d.verify() if steps else None
    status = verdict.summary() if verdict else _rows_summary(d.row_verdicts)
    lines = [
        f"% derive: {d.name}, K = {d.classes} classes, "
        f"D = {d.features} feature{'s' if d.features != 1 else ''}, label y = {d.label}",
        f"% verdict: {status}",
        PACKAGES_COMMENT,
        r"\allowdisplaybreaks",
        r"\begin{align*}",
    ]
    equations = _equations(d, steps)
    for number, (equation, comment) in enumerate(equations, start=1):
        if comment:
            lines.append(f"% {comment}")
        lines.append(portable(equation) + (r" \\" if number < len(equations) else ""))
    lines.append(r"\end{align*}")
    return "\n".join(lines)


def portable(latex: str) -> str:
    r"""``latex`` with the indicator ``\mathbb{1}`` spelled ``\mathbf{1}``.

    amssymb's ``\mathbb`` has capital letters only (a digit comes out as a garbled glyph), and
    the packages with a double-struck one (bbm, dsfont) are not in a basic TeX installation.

    >>> print(portable(r"p_m - \mathbb{1}[m = y] + \mathbb 1 + \mathbb{R}"))
    p_m - \mathbf{1}[m = y] + \mathbf{1} + \mathbb{R}
    """
    return re.sub(r"\\mathbb\s*(?:\{\s*(\d)\s*\}|(\d))",
                  lambda match: rf"\mathbf{{{match.group(1) or match.group(2)}}}", latex)


def notebook_latex(d: "SoftmaxCrossEntropy", steps: bool = False) -> str:
    """The derivation for a notebook: ``$$\\begin{aligned}...$$``, verdicts as text.

    Examples
    --------
    >>> import derive
    >>> print(derive.softmax_cross_entropy(2, features=1)._repr_latex_())  # doctest: +ELLIPSIS
    $$\\begin{aligned}
    ...
    \\frac{\\partial L}{\\partial w_{1}} &= p_{1} x^{T} && \\text{row 1: proven (identical)}
    \\end{aligned}$$
    """
    equations = _equations(d, steps)
    lines = [
        equation + (rf" && \text{{{latex_text(comment)}}}" if comment else "")
        + (r" \\" if number < len(equations) else "")
        for number, (equation, comment) in enumerate(equations, start=1)
    ]
    return "$$\\begin{aligned}\n" + "\n".join(lines) + "\n\\end{aligned}$$"


def _equations(d: "SoftmaxCrossEntropy", steps: bool) -> list[tuple[str, str]]:
    """Each aligned equation of the derivation, with its verdict ('' for definitions)."""
    equations = [(_aligned(definitions_latex(d)), ""), (rf"L &= {loss_latex(d)}", "")]
    if steps:
        for kind, results in (("step", d.steps), ("fact", d.facts)):
            for number, result in enumerate(results, start=1):
                comment = f"{kind} {number}, {result.title()}: {verdict_comment(result.verdict)}"
                equations.append((_aligned(result.step.latex), comment))
    for m, row_verdict in enumerate(d.row_verdicts):
        equations.append(
            (f"{row_lhs_latex(m)} &= {row_latex(d, m)}", f"row {m}: {verdict_comment(row_verdict)}")
        )
    return equations


def latex_text(comment: str) -> str:
    """Plain text made safe inside ``\\text{}``."""
    for special, escaped in (("\\", r"\textbackslash{}"), ("{", r"\{"), ("}", r"\}"),
                             ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"), ("$", r"\$")):
        comment = comment.replace(special, escaped)
    return comment


def derivation_json(d: "SoftmaxCrossEntropy", steps: bool = False) -> dict:
    """The derivation and its verdicts as a JSON-ready dict."""
    from derive._version import __version__

    rows = d.row_verdicts
    verdict = d.verify() if steps else None
    document = {
        "status": verdict.status if verdict else rows_status(rows),
        "classes": d.classes,
        "features": d.features,
        "label": d.label,
        "summary": verdict.summary() if verdict else _rows_summary(rows),
        "loss": loss_latex(d),
        "rows": [
            {
                "row": m,
                "status": verdict.status,
                "latex": f"{row_lhs_latex(m)} = {row_latex(d, m)}",
                "detail": verdict_comment(verdict),
            }
            for m, verdict in enumerate(rows)
        ],
    }
    if steps:
        document["steps"] = [_result_json(result) for result in d.steps]
        document["facts"] = [_result_json(result) for result in d.facts]
    document["version"] = __version__
    return document


def _result_json(result: "StepResult") -> dict:
    return {
        "name": result.step.name,
        "scope": result.step.scope,
        "status": result.status,
        "latex": result.step.latex,
        "detail": verdict_comment(result.verdict),
    }


def _aligned(statement: str) -> str:
    r"""``a = b`` as ``a &= b``, at the first ``=`` outside brackets (``[m = y]`` is kept).

    >>> print(_aligned(r"\mathbb{1}[m = y] x = 0"))
    \mathbb{1}[m = y] x &= 0
    """
    depth = 0
    for i, char in enumerate(statement):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif statement.startswith(" = ", i - 1) and char == "=" and depth == 0:
            return f"{statement[:i]}&{statement[i:]}"
    return statement


def rows_status(rows: tuple[Verdict, ...]) -> str:
    """The worst status among the rows: refuted, then unproven, else proven."""
    return worst(verdict.status for verdict in rows)


def _rows_summary(rows: tuple[Verdict, ...]) -> str:
    proven = sum(bool(verdict) for verdict in rows)
    return f"{rows_status(rows)} ({proven} of {len(rows)} rows proven)"
