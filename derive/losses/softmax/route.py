"""The seed's route to the gradient, as a table of claims.

Each :class:`Step` states one fact of the handwritten derivation and builds
it as pairs ``(true, claimed)``: the true side is what SymPy itself computes
(its ``diff`` of the loss, of the softmax, of a score), the claimed side is
the formula the seed writes down.  The verifier decides each pair; a step is
proven only when every instance of it is.

Every step stays affordable at K = 1000.  Derivatives in the scores are SymPy's
for a symbolic index (:meth:`~derive.proof.ScoreLoss.score_derivative`), so
none is a K-term differentiation per instance.  Steps whose instances each
carry the K-term partition (and the descent step's per-row identity, the same
polynomial identity in each row's own symbols) check every m up to K = 16 and
a fixed sample of rows above, rows 0, y, y + 1 and K - 1 (their scope says
which); the others check every m.  Where the seed
writes a product that SymPy writes multiplied out, the claimed side is
multiplied out by SymPy's ``expand_mul`` (:func:`multiplied_out`), so that the
verifier compares it term by term rather than as a rational function of K
exponentials.

:data:`FACTS` holds the extra facts checked after the closed form: the rows
sum to zero, and a gradient-descent step raises ``f_y`` and lowers the loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy
from sympy import Add, Dummy, Expr, Indexed, IndexedBase, KroneckerDelta, Matrix, Symbol

from derive.proof import Pairs, Step
from derive.proof.scores import sample_scope

if TYPE_CHECKING:
    from derive.losses.softmax.derivation import SoftmaxCrossEntropy


#: Stand-ins that keep the partitions whole while a claim is multiplied out.
_SCORE_PARTITION, _PARTITION = Dummy("S", positive=True), Dummy("Z", positive=True)


def multiplied_out(d: "SoftmaxCrossEntropy", expr: Expr) -> Expr:
    """``expr`` with products distributed over sums (SymPy's ``expand_mul``), the partition
    ``sum_k e^{f_k}`` (in the scores or in the weights) kept whole."""
    model = d.model
    kept = {model.score_partition: _SCORE_PARTITION, model.partition: _PARTITION}
    expanded = sympy.expand_mul(expr.xreplace(kept))
    return expanded.xreplace({symbol: total for total, symbol in kept.items()})


def _sampled_rows(d: "SoftmaxCrossEntropy") -> list[int]:
    return sorted({m for m, _ in d.sample()})


def _other_scope(d: "SoftmaxCrossEntropy") -> str:
    scope = sample_scope(d)
    return "every m != y" if scope == "every m" else f"{scope}; m != y"


def _log_sum_exp_form(d: "SoftmaxCrossEntropy") -> Pairs:
    """In the scores; the loss and the form the audit differentiates are both at ``f = W x``."""
    return [d.model.score_loss_as_written], [d.score_loss]


def _minus_log(d: "SoftmaxCrossEntropy") -> Pairs:
    p = Symbol("p", positive=True)
    return [sympy.diff(-sympy.log(p), p)], [-1 / p]


def _chain_rule(d: "SoftmaxCrossEntropy") -> Pairs:
    """SymPy's derivative of the whole loss against the product of the three derivatives."""
    p = Symbol("p", positive=True)
    model, y = d.model, d.label
    loss_by_probability = sympy.diff(-sympy.log(p), p).xreplace({p: model.softmax[y]})
    p_y = model.indexed_softmax(d.f, y)
    by_score = {  # multiplied out in the scores, where e^{-f_y} e^{f_y} cancels
        m: d.at_weights(multiplied_out(d, loss_by_probability * d.score_derivative(p_y, m)))
        for m in _sampled_rows(d)
    }
    truths, claims = [], []
    for m, k in d.sample():
        truths.append(d.direct_derivative(m, k))
        claims.append(multiplied_out(d, by_score[m] * d.score_by_weight(m, k)))
    return truths, claims


def _score_by_weight(d: "SoftmaxCrossEntropy") -> Pairs:
    entries = [(m, k) for m in range(d.classes) for k in range(d.features)]
    return [d.score_by_weight(m, k) for m, k in entries], [d.x[k] for _, k in entries]


def _quotient_rule(d: "SoftmaxCrossEntropy") -> Pairs:
    g_indexed = sympy.exp(d.f[d.label])
    h_indexed = d.model.indexed_partition(d.f)
    g, h = d.plain(g_indexed), d.plain(h_indexed)
    truths, claims = [], []
    for m in _sampled_rows(d):
        g_by_score, h_by_score = d.score_derivative(g_indexed, m), d.score_derivative(h_indexed, m)
        truths.append(d.score_derivative(g_indexed / h_indexed, m))
        claims.append(multiplied_out(d, (g_by_score * h - g * h_by_score) / h**2))
    return truths, claims


def _case_other_class(d: "SoftmaxCrossEntropy") -> Pairs:
    y, p = d.label, d.model.softmax
    p_y = d.model.indexed_softmax(d.f, y)
    others = [m for m in _sampled_rows(d) if m != y]
    return [d.score_derivative(p_y, m) for m in others], [-p[y] * p[m] for m in others]


def _case_same_class(d: "SoftmaxCrossEntropy") -> Pairs:
    y, p = d.label, d.model.softmax
    p_y = d.model.indexed_softmax(d.f, y)
    return [d.score_derivative(p_y, y)], [multiplied_out(d, p[y] * (1 - p[y]))]


def _combine(d: "SoftmaxCrossEntropy") -> Pairs:
    y, p = d.label, d.model.probability_symbols
    truths, claims = [], []
    for m in range(d.classes):
        case = p[y] * (1 - p[y]) if m == y else -p[y] * p[m]
        truths.append((-1 / p[y]) * case)
        claims.append(p[m] - KroneckerDelta(m, y))
    return truths, claims


def _rows_sum_to_zero(d: "SoftmaxCrossEntropy") -> Pairs:
    """Row m is ``dl/df_m`` (at ``f = W x``) times ``x^T``, so the rows sum to ``(sum_m dl/df_m) x^T``."""
    return [Add(*[d.score_gradient(m) for m in range(d.classes)])], [sympy.Integer(0)]


def _descent_moves_scores(d: "SoftmaxCrossEntropy") -> Pairs:
    """The step ``w_m <- w_m - eta (p_m - 1[m = y]) x`` moves ``f_j`` by ``-eta (p_j - 1[j = y]) |x|^2``.

    The p_m are free symbols here: the identity holds whatever their values,
    so in particular at the softmax probabilities.  Both sides multiplied out.
    Each row's identity is the same polynomial identity in its own symbols, so
    above K = 16 the sampled rows stand for the others.
    """
    eta = Symbol("eta", positive=True)
    p, x = d.model.probability_symbols, list(d.x)
    x_squared = Add(*[xk**2 for xk in x])
    truths, claims = [], []
    for j in _sampled_rows(d):
        coefficient = p[j] - d.model.indicator(j)
        stepped = [w - eta * coefficient * xk for w, xk in zip(d.weights.row(j), x)]
        truths.append(sympy.expand_mul(d.model.score(Matrix([stepped])) - d.scores[j]))
        claims.append(sympy.expand_mul(-eta * coefficient * x_squared))
    return truths, claims


def _descent_lowers_loss(d: "SoftmaxCrossEntropy") -> Pairs:
    """The loss's slope along that step is ``-|x|^2 sum_m (p_m - 1[m = y])^2``.

    Two entries, since L depends on W only through the scores f:
    the slope of l along any score direction ``delta`` is ``sum_j delta_j dl/df_j``
    (SymPy's derivative along ``delta``, taken for the indexed loss), and with the
    step's direction ``delta_j = -c (p_j - 1[j = y])``, ``c = |x|^2``, that sum is
    ``-c sum_j (p_j - 1[j = y])^2``.  Both sides multiplied out, the partition kept whole.
    """
    y, p = d.label, d.model.probability_symbols
    eta, c = Symbol("eta", positive=True), Symbol("c", positive=True)
    direction = IndexedBase("delta", real=True)
    delta = [Symbol(f"delta_{j}", real=True) for j in range(d.classes)]
    moved = d.indexed_loss.replace(
        lambda e: isinstance(e, Indexed) and e.base == d.f,
        lambda e: e + eta * direction[e.indices[0]],
    )
    slope = d.plain(sympy.diff(moved, eta).xreplace({eta: 0}))
    slope = slope.xreplace({direction[j]: delta[j] for j in range(d.classes)})
    along_gradient = Add(*[delta[j] * d.score_gradient(j) for j in range(d.classes)])
    along_step = [p[j] - KroneckerDelta(j, y) for j in range(d.classes)]
    return (
        [multiplied_out(d, slope), Add(*[-c * a * a for a in along_step])],
        [multiplied_out(d, along_gradient), multiplied_out(d, -c * Add(*[a**2 for a in along_step]))],
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
        sample_scope,
        _chain_rule,
    ),
    Step("log derivative", r"\frac{\partial (-\log p_y)}{\partial p_y} = -\frac{1}{p_y}", "", _minus_log),
    Step("score derivative", r"\frac{\partial f_m}{\partial w_m} = x^{T}", "every m", _score_by_weight),
    Step(
        "quotient rule",
        r"\frac{\partial p_y}{\partial f_m} = \frac{g' h - g h'}{h^{2}},"
        r" \quad g = e^{f_y},\ h = \sum_k e^{f_k}",
        sample_scope,
        _quotient_rule,
    ),
    Step("case m != y", r"\frac{\partial p_y}{\partial f_m} = -p_y p_m", _other_scope, _case_other_class),
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
    Step(
        "rows sum to zero",
        r"\sum_m \frac{\partial L}{\partial w_m} = \Big(\sum_m \frac{\partial l}{\partial f_m}\Big) x^{T} = 0",
        "every m, through the scores",
        _rows_sum_to_zero,
    ),
    Step(
        "descent moves scores",
        r"f_j(W - \eta \nabla_W L) - f_j(W) = -\eta \left(p_j - \mathbf{1}[j = y]\right) \lVert x \rVert^{2}",
        sample_scope,
        _descent_moves_scores,
    ),
    Step(
        "descent lowers loss",
        r"\frac{d}{d\eta} L(W - \eta \nabla_W L) \Big|_{\eta=0}"
        r" = -\lVert x \rVert^{2} \sum_m \left(p_m - \mathbf{1}[m = y]\right)^{2} \le 0",
        "every m, every direction",
        _descent_lowers_loss,
    ),
)
