"""A derivation: the model, SymPy's gradient, the closed form and their verdicts."""

from __future__ import annotations

from functools import cached_property

import sympy
from sympy import Expr, Matrix

from derive.core import DEFAULT_TIME_LIMIT, Verdict, verify_identity
from derive.losses.softmax.model import SoftmaxModel
from derive.losses.softmax.route import FACTS, STEPS
from derive.proof import DerivationVerdict, Step, StepResult


class SoftmaxCrossEntropy:
    """The softmax cross-entropy derivation for one ``(K, D, y)``.

    Build it with :func:`derive.softmax_cross_entropy`.  ``gradient(m)`` is
    SymPy's own derivative of :attr:`loss`; ``closed_form(m)`` is the formula
    being checked against it.

    Examples
    --------
    >>> import derive
    >>> d = derive.softmax_cross_entropy(classes=2, features=1, label=1)
    >>> d.verify().status
    'proven'
    """

    def __init__(self, model: SoftmaxModel, time_limit: float = DEFAULT_TIME_LIMIT):
        self.model = model
        self.time_limit = time_limit
        self._gradients: dict[int, Matrix] = {}

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
    probabilities = property(lambda self: self.model.probabilities)
    loss = property(lambda self: self.model.loss)

    @cached_property
    def differentiated_loss(self) -> Expr:
        """The loss as SymPy differentiates it: ``expand_log(loss)``.

        SymPy rewrites ``-log(e^{f_y} / S)`` as ``-f_y + log(S)`` only because
        it can show both ``e^{f_y}`` and ``S`` positive; the step "log-sum-exp
        form" verifies the two agree.  Differentiating this form is about
        twice as fast and gives SymPy's derivative in a tidier shape.
        """
        return sympy.expand_log(self.loss)

    def gradient(self, m: int) -> Matrix:
        """SymPy's own derivative ``dL/dw_m`` of the loss, a 1 x D Matrix."""
        self._check_row(m)
        if m not in self._gradients:
            row = self.weights.row(m)
            self._gradients[m] = Matrix([[sympy.diff(self.differentiated_loss, w) for w in row]])
        return self._gradients[m]

    def closed_form(self, m: int) -> Matrix:
        """The claimed ``(p_m - 1[m = y]) x^T``, a 1 x D Matrix."""
        self._check_row(m)
        return (self.probabilities[m] - self.model.indicator(m)) * self.x.T

    def closed_form_matrix(self) -> Matrix:
        """All K closed-form rows stacked, K x D."""
        return Matrix.vstack(*[self.closed_form(m) for m in range(self.classes)])

    def closed_form_display(self, m: int) -> Expr:
        """The closed form of row m in the printed notation, ``(p_m - [m=y]) x^T``."""
        self._check_row(m)
        p = self.model.probability_symbols[m]
        return sympy.MatMul(p - self.model.indicator(m), sympy.MatrixSymbol("x", self.features, 1).T)

    @cached_property
    def row_verdicts(self) -> tuple[Verdict, ...]:
        """The verifier's verdict on each row: SymPy's gradient vs the closed form."""
        return tuple(
            verify_identity(self.gradient(m), self.closed_form(m), time_limit=self.time_limit)
            for m in range(self.classes)
        )

    @cached_property
    def steps(self) -> tuple[StepResult, ...]:
        """The seed's route, each step with its verdict."""
        return tuple(self._check(step) for step in STEPS)

    @cached_property
    def facts(self) -> tuple[StepResult, ...]:
        """The extra facts (rows sum to zero, descent), each with its verdict."""
        return tuple(self._check(step) for step in FACTS)

    def verify(self) -> DerivationVerdict:
        """Verify every row, every step and every extra fact."""
        return DerivationVerdict(self.row_verdicts, self.steps, self.facts)

    def to_latex(self, steps: bool = False) -> str:
        """An ``align*`` block: the loss and each row's gradient, with verdicts."""
        from derive.report.latex import derivation_latex

        return derivation_latex(self, steps=steps)

    def _repr_latex_(self) -> str:
        """Jupyter shows the verified derivation as math."""
        from derive.report.latex import notebook_latex

        return notebook_latex(self)

    def _check(self, step: Step) -> StepResult:
        truths, claims = step.build(self)
        return StepResult(step, verify_identity(truths, claims, time_limit=self.time_limit))

    def _check_row(self, m) -> None:
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < self.classes:
            raise IndexError(f"row must be an integer in 0..{self.classes - 1}, got {m!r}")


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
