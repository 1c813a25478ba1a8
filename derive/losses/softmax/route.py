"""The seed's route to the gradient, as a table of claims.

Each :class:`Step` states one fact of the handwritten derivation and builds
it as pairs ``(true, claimed)``: the true side is what SymPy itself computes
(its ``diff`` of the loss, of the softmax, of a score), the claimed side is
the formula the seed writes down.  The verifier decides each pair; a step is
proven only when every instance of it is (every row ``m`` it applies to).

:data:`FACTS` holds the extra facts checked after the closed form: the rows
sum to zero, and a gradient-descent step raises ``f_y`` and lowers the loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy
from sympy import Add, Expr, KroneckerDelta, Matrix, Symbol

from derive.proof import Pairs, Step

if TYPE_CHECKING:
    from derive.losses.softmax.derivation import SoftmaxCrossEntropy



def _softmax_in_scores(d: "SoftmaxCrossEntropy", j: int) -> Expr:
    f = d.model.score_symbols
    return sympy.exp(f[j]) / Add(*[sympy.exp(fk) for fk in f])


def _at_model_scores(d: "SoftmaxCrossEntropy", expr: Expr) -> Expr:
    return expr.xreplace(dict(zip(d.model.score_symbols, d.scores)))


def _log_sum_exp_form(d: "SoftmaxCrossEntropy") -> Pairs:
    log_sum_exp = -d.scores[d.label] + sympy.log(d.model.partition)
    return [d.loss, d.differentiated_loss], [log_sum_exp, log_sum_exp]


def _minus_log(d: "SoftmaxCrossEntropy") -> Pairs:
    p = Symbol("p", positive=True)
    return [sympy.diff(-sympy.log(p), p)], [-1 / p]


def _chain_rule(d: "SoftmaxCrossEntropy") -> Pairs:
    p = Symbol("p", positive=True)
    y, f = d.label, d.model.score_symbols
    loss_by_probability = sympy.diff(-sympy.log(p), p).xreplace({p: d.probabilities[y]})
    truths, claims = [], []
    for m in range(d.classes):
        probability_by_score = _at_model_scores(d, sympy.diff(_softmax_in_scores(d, y), f[m]))
        for k in range(d.features):
            score_by_weight = sympy.diff(d.scores[m], d.weights[m, k])
            truths.append(d.gradient(m)[k])
            claims.append(loss_by_probability * probability_by_score * score_by_weight)
    return truths, claims


def _score_by_weight(d: "SoftmaxCrossEntropy") -> Pairs:
    truths, claims = [], []
    for m in range(d.classes):
        for k in range(d.features):
            truths.append(sympy.diff(d.scores[m], d.weights[m, k]))
            claims.append(d.x[k])
    return truths, claims


def _quotient_rule(d: "SoftmaxCrossEntropy") -> Pairs:
    f = d.model.score_symbols
    g = sympy.exp(f[d.label])
    h = Add(*[sympy.exp(fk) for fk in f])
    truths, claims = [], []
    for m in range(d.classes):
        truths.append(sympy.diff(g / h, f[m]))
        claims.append((sympy.diff(g, f[m]) * h - g * sympy.diff(h, f[m])) / h**2)
    return truths, claims


def _case_other_class(d: "SoftmaxCrossEntropy") -> Pairs:
    y, f = d.label, d.model.score_symbols
    p = [_softmax_in_scores(d, j) for j in range(d.classes)]
    others = [m for m in range(d.classes) if m != y]
    return [sympy.diff(p[y], f[m]) for m in others], [-p[y] * p[m] for m in others]


def _case_same_class(d: "SoftmaxCrossEntropy") -> Pairs:
    y, f = d.label, d.model.score_symbols
    p_y = _softmax_in_scores(d, y)
    return [sympy.diff(p_y, f[y])], [p_y * (1 - p_y)]


def _combine(d: "SoftmaxCrossEntropy") -> Pairs:
    y, p = d.label, d.model.probability_symbols
    truths, claims = [], []
    for m in range(d.classes):
        case = p[y] * (1 - p[y]) if m == y else -p[y] * p[m]
        truths.append((-1 / p[y]) * case)
        claims.append(p[m] - KroneckerDelta(m, y))
    return truths, claims


def _rows_sum_to_zero(d: "SoftmaxCrossEntropy") -> Pairs:
    sums = [Add(*[d.gradient(m)[k] for m in range(d.classes)]) for k in range(d.features)]
    return sums, [sympy.Integer(0)] * d.features


def _descent_moves_scores(d: "SoftmaxCrossEntropy") -> Pairs:
    """The step ``w_m <- w_m - eta (p_m - 1[m = y]) x`` moves ``f_j`` by ``-eta (p_j - 1[j = y]) |x|^2``.

    The p_m are free symbols here: the identity holds whatever their values,
    so in particular at the softmax probabilities.
    """
    eta = Symbol("eta", positive=True)
    p = d.model.probability_symbols
    coefficients = Matrix([p[m] - d.model.indicator(m) for m in range(d.classes)])
    stepped = d.weights - eta * coefficients * d.x.T
    x_squared = Add(*[xk**2 for xk in d.x])
    truths = [d.model.score(stepped.row(j)) - d.scores[j] for j in range(d.classes)]
    return truths, [-eta * coefficients[j] * x_squared for j in range(d.classes)]


def _descent_lowers_loss(d: "SoftmaxCrossEntropy") -> Pairs:
    """The loss's slope along that step is ``-|x|^2 sum_m (p_m - 1[m = y])^2``.

    Two entries, since L depends on W only through the scores f:
    the slope of L along any score direction ``delta`` is
    ``sum_j delta_j (p_j - 1[j = y])`` (SymPy's diff of the loss in scores),
    and with the step's direction ``delta_j = -c (p_j - 1[j = y])``, ``c = |x|^2``,
    that sum is ``-c sum_j (p_j - 1[j = y])^2``.
    """
    y, f, p = d.label, d.model.score_symbols, d.model.probability_symbols
    eta, c = Symbol("eta", positive=True), Symbol("c", positive=True)
    delta = [Symbol(f"delta_{j}", real=True) for j in range(d.classes)]
    loss = -sympy.log(_softmax_in_scores(d, y))
    moved = loss.xreplace({fj: fj + eta * dj for fj, dj in zip(f, delta)})
    slope = sympy.diff(moved, eta).xreplace({eta: 0})
    gradient_in_scores = [_softmax_in_scores(d, j) - KroneckerDelta(j, y) for j in range(d.classes)]
    along_step = [p[j] - KroneckerDelta(j, y) for j in range(d.classes)]
    return (
        [slope, Add(*[-c * a * a for a in along_step])],
        [Add(*[dj * g for dj, g in zip(delta, gradient_in_scores)]), -c * Add(*[a**2 for a in along_step])],
    )


#: The seed's route, in order (NOTATION.md, "The seed's route").
STEPS: tuple[Step, ...] = (
    Step(
        "log-sum-exp form",
        r"-\log \frac{e^{f_y}}{\sum_k e^{f_k}} = -f_y + \log \sum_k e^{f_k}",
        "",
        _log_sum_exp_form,
    ),
    Step(
        "chain rule",
        r"\frac{\partial L}{\partial w_m} = \frac{\partial L}{\partial p_y}"
        r" \frac{\partial p_y}{\partial f_m} \frac{\partial f_m}{\partial w_m}",
        "every m",
        _chain_rule,
    ),
    Step("log derivative", r"\frac{\partial (-\log p_y)}{\partial p_y} = -\frac{1}{p_y}", "", _minus_log),
    Step("score derivative", r"\frac{\partial f_m}{\partial w_m} = x^{T}", "every m", _score_by_weight),
    Step(
        "quotient rule",
        r"\frac{\partial p_y}{\partial f_m} = \frac{g' h - g h'}{h^{2}},"
        r" \quad g = e^{f_y},\ h = \sum_k e^{f_k}",
        "every m",
        _quotient_rule,
    ),
    Step("case m != y", r"\frac{\partial p_y}{\partial f_m} = -p_y p_m", "every m != y", _case_other_class),
    Step("case m = y", r"\frac{\partial p_y}{\partial f_y} = p_y \left(1 - p_y\right)", "m = y", _case_same_class),
    Step(
        "combine",
        r"-\frac{1}{p_y} \frac{\partial p_y}{\partial f_m} = p_m - \mathbf{1}[m = y]",
        "every m",
        _combine,
    ),
)

#: Facts that must also hold (NOTATION.md), checked by the same verifier.
FACTS: tuple[Step, ...] = (
    Step("rows sum to zero", r"\sum_m \frac{\partial L}{\partial w_m} = 0", "", _rows_sum_to_zero),
    Step(
        "descent moves scores",
        r"f_j(W - \eta \nabla_W L) - f_j(W) = -\eta \left(p_j - \mathbf{1}[j = y]\right) \lVert x \rVert^{2}",
        "every j",
        _descent_moves_scores,
    ),
    Step(
        "descent lowers loss",
        r"\frac{d}{d\eta} L(W - \eta \nabla_W L) \Big|_{\eta=0}"
        r" = -\lVert x \rVert^{2} \sum_m \left(p_m - \mathbf{1}[m = y]\right)^{2} \le 0",
        "",
        _descent_lowers_loss,
    ),
)
