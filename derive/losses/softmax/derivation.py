"""The softmax cross-entropy derivation: the first client of :class:`derive.proof.ScoreLoss`."""

from __future__ import annotations

import re
from functools import cached_property, partial

import sympy
from sympy import Expr, ImmutableMatrix, MatrixSymbol

from derive.core import DEFAULT_TIME_LIMIT
from derive.losses.softmax.model import SoftmaxModel
from derive.proof import AUDIT, LazyValues, ScoreLoss, Step, StepResult


class SoftmaxCrossEntropy(ScoreLoss):
    """The softmax cross-entropy derivation for one ``(K, D, y)``.

    Build it with :func:`derive.softmax_cross_entropy`.  ``claim(m)`` is the
    row printed, ``(p_m - 1[m = y]) x^T``; ``closed_form(m)`` is that claim with
    ``p_m`` and ``x`` substituted; ``gradient(m)`` is SymPy's derivative, taken
    through the scores (:mod:`derive.proof.scores`).

    Examples
    --------
    >>> import derive
    >>> d = derive.softmax_cross_entropy(classes=2, features=1, label=1)
    >>> d.claim(1)
    (p_1 - 1)*x.T
    >>> d.verify().status
    'proven'
    """

    name = "softmax cross-entropy"
    #: The route is the catalog's document (:attr:`route`); the audit is checked at this K.
    FACTS = (AUDIT,)

    def __init__(self, model: SoftmaxModel, time_limit: float = DEFAULT_TIME_LIMIT):
        super().__init__(time_limit)
        self.model = model

    def __repr__(self) -> str:
        return (
            f"softmax_cross_entropy(classes={self.classes}, "
            f"features={self.features}, label={self.label})"
        )

    classes = property(lambda self: self.model.classes)
    features = property(lambda self: self.model.features)
    label = property(lambda self: self.model.label)
    weights = property(lambda self: self.model.weights)
    x = property(lambda self: self.model.x)
    scores = property(lambda self: self.model.scores)
    score_symbols = property(lambda self: self.model.score_symbols)
    probabilities = property(lambda self: self.model.probabilities)
    loss = property(lambda self: self.model.loss)
    #: The audit differentiates the log-sum-exp form; step 1 proves it equal to ``loss``.
    audit_loss = property(lambda self: self.model.log_sum_exp)
    special_rows = property(lambda self: (self.label,))

    @cached_property
    def indexed_loss(self) -> Expr:
        return self.model.indexed_loss(self.f)

    @cached_property
    def score_values(self) -> LazyValues:
        """``f_j``, ``e^{f_j}``, the partition and ``p_j`` at ``f = W x``, each built once."""
        model = self.model
        values = dict(zip(model.score_symbols, model.scores))
        values.update(zip(model.score_exponentials, model.exponentials))
        values[model.score_partition] = model.partition
        values[model.score_inverse_partition] = model.inverse_partition
        return LazyValues(values, {p: partial(model.probability, j) for j, p in enumerate(model.softmax)})

    def direct_derivative(self, m: int, k: int) -> Expr:
        """SymPy's derivative of the log-sum-exp loss by ``w_{m,k}`` (for the audit).

        SymPy asks whether parts of the result are zero or infinite.  For a fresh
        ``1 / sum_k e^{f_k}`` its assumption system may try facts in an order that walks all K
        terms many times over (seconds at K = 1000, at random); asking for finiteness first,
        on the object SymPy's cache then hands to ``diff``, settles those questions at once.
        """
        (1 / self.model.partition).is_finite
        return super().direct_derivative(m, k)

    @cached_property
    def route(self):
        """The seed's route: the catalog document ``softmax-cross-entropy.md``, every step and
        fact of it checked at the document's own sizes (K = 2..4, D = 1..3, every y, every m),
        whatever this derivation's K; the rows are proven at this K."""
        from derive.catalog import SEED, entry
        from derive.document import check_document

        progress = self.progress and (lambda i, n: self._report(f"route: step {min(i + 1, n)} of {n}"))
        return check_document(entry(SEED).path, time_limit=self.time_limit, progress=progress)

    @cached_property
    def steps(self) -> tuple[StepResult, ...]:
        """The route's steps (:attr:`route`), each with the verifier's verdict."""
        return tuple(
            StepResult(Step(_step_name(step), step.latex, step.scope, build=None), step.verdict)
            for step in self.route.steps
        )

    @cached_property
    def x_symbol(self) -> MatrixSymbol:
        """``x`` as one D x 1 symbol, for printing."""
        return MatrixSymbol("x", self.features, 1)

    def claim(self, m: int) -> sympy.Basic:
        """Row m as printed: ``(p_m - 1[m = y]) x^T``."""
        self._check_row(m)
        p = self.model.probability_symbols[m]
        return sympy.MatMul(p - self.model.indicator(m), self.x_symbol.T)

    @cached_property
    def definitions(self) -> LazyValues:
        """``p_j := e^{w_j . x} / sum_k e^{w_k . x}`` and ``x := (x_0, ..., x_{D-1})``."""
        model = self.model
        lazy = {p: partial(model.probability, j) for j, p in enumerate(model.probability_symbols)}
        return LazyValues({self.x_symbol: ImmutableMatrix(self.x)}, lazy)

    def to_latex(self, steps: bool = False) -> str:
        """An ``align*`` block: the loss and each row's gradient, with verdicts."""
        from derive.report.latex import derivation_latex

        return derivation_latex(self, steps=steps)

    def _repr_latex_(self) -> str:
        """Jupyter shows the verified derivation as math."""
        from derive.report.latex import notebook_latex

        return notebook_latex(self)

    def _repr_html_(self) -> str:
        """Jupyter shows it as a table with MathML (``derive.report.notebook``)."""
        from derive.report.notebook import html

        return html(self)


def _step_name(step) -> str:
    """A step's name: the bold lead of its paragraph (``**Chain rule.**``), with its line."""
    lead = re.match(r"\*\*(.+?)\.?\*\*", step.prose or "")
    return f"{lead.group(1)}, line {step.line}" if lead else f"line {step.line}"


def softmax_cross_entropy(classes: int, features: int = 2, label: int = 0) -> SoftmaxCrossEntropy:
    """Build the softmax cross-entropy derivation for ``classes`` classes.

    Examples
    --------
    >>> d = softmax_cross_entropy(classes=3, features=2, label=0)
    >>> d.weights.shape, d.x.shape
    ((3, 2), (2, 1))
    >>> d.closed_form(1).shape
    (1, 2)
    """
    return SoftmaxCrossEntropy(SoftmaxModel(classes, features, label))
