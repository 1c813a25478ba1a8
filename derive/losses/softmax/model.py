"""The softmax cross-entropy loss of a linear classifier, built in SymPy.

Notation follows ``NOTATION.md``: ``K`` classes, ``D`` features, one sample
``x`` with label ``y`` (0-based), weights ``W`` (row ``w_m`` per class),
scores ``f = W x``, probabilities ``p_j = e^{f_j} / sum_k e^{f_k}`` and loss
``L = -log p_y``.

The exponentials ``exp(w_j . x)`` and the logarithms of the loss are built with
``evaluate=False``: SymPy's evaluation only asks assumption questions about
every term and then returns the expression unchanged (the tests check that it
is structurally the same), at a cost of about 3 ms per exponential and 25 s
for ``log(e^{f_y} / sum_k e^{f_k})`` at K = 1000.
"""

from __future__ import annotations

from functools import cached_property

import sympy
from sympy import Add, Expr, IndexedBase, KroneckerDelta, Matrix, Sum, Symbol

from derive.losses.bounds import MAX_CLASSES, MAX_FEATURES


def _known_positive(total: Expr) -> Expr:
    """``total``, after SymPy has decided once that it is positive.

    SymPy stores the answer on the object.  Without it, differentiating through
    ``1 / total`` asks SymPy's assumption system questions whose fallbacks walk
    all K terms many times over (about 20 s per derivative at K = 1000).
    """
    if total.is_positive is not True:
        raise AssertionError(f"expected a sum of exponentials of reals, got {total}")
    return total


class ModelInputError(ValueError):
    """Classes, features or label out of range."""


def _check_size(classes, features, label) -> None:
    for name, value in (("classes", classes), ("features", features), ("label", label)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelInputError(f"{name} must be an integer, got {value!r}")
    if not 2 <= classes <= MAX_CLASSES:
        raise ModelInputError(f"classes must be between 2 and {MAX_CLASSES}, got {classes}")
    if not 1 <= features <= MAX_FEATURES:
        raise ModelInputError(f"features must be between 1 and {MAX_FEATURES}, got {features}")
    if not 0 <= label < classes:
        raise ModelInputError(f"label must be between 0 and {classes - 1} (0-based), got {label}")


class SoftmaxModel:
    """Symbols and expressions of the model; nothing here is differentiated."""

    def __init__(self, classes: int, features: int, label: int):
        _check_size(classes, features, label)
        self.classes, self.features, self.label = classes, features, label
        self.weights = Matrix(
            classes, features, lambda m, k: Symbol(f"w_{{{m},{k}}}", real=True)
        )
        self.x = Matrix(features, 1, lambda k, _: Symbol(f"x_{k}", real=True))
        #: Stand-ins used to print and to state the seed's steps:
        #: f_j for a score, p_j for a probability.
        self.score_symbols = [Symbol(f"f_{j}", real=True) for j in range(classes)]
        self.probability_symbols = [Symbol(f"p_{j}", positive=True) for j in range(classes)]

    # --- in the weights and x ---------------------------------------------------

    @cached_property
    def scores(self) -> Matrix:
        """``f = W x``, one linear form per class."""
        return Matrix([self.score(self.weights.row(j)) for j in range(self.classes)])

    def score(self, row: Matrix) -> Expr:
        """The score ``row . x`` of one weight row."""
        return Add(*[row[k] * self.x[k] for k in range(self.features)])

    @cached_property
    def exponentials(self) -> list[Expr]:
        """``e^{w_j . x}`` for every j (unevaluated: see the module docstring)."""
        return [sympy.exp(score, evaluate=False) for score in self.scores]

    @cached_property
    def partition(self) -> Expr:
        """``sum_k e^{f_k}``, the softmax denominator."""
        return _known_positive(Add(*self.exponentials))

    @cached_property
    def inverse_partition(self) -> Expr:
        return 1 / self.partition

    def probability(self, j: int) -> Expr:
        """``p_j = e^{w_j . x} / sum_k e^{w_k . x}``, built on first use.

        SymPy evaluates ``e^{w_j . x}`` again whenever it builds a product with it (about 3 ms
        at D = 3, 20 ms at D = 16, once per product unless its cache still holds the result);
        building ``p_j`` just before the row that uses it lets that row's products share it.
        """
        if self._probabilities[j] is None:
            self._probabilities[j] = self.exponentials[j] * self.inverse_partition
        return self._probabilities[j]

    @cached_property
    def _probabilities(self) -> list:
        return [None] * self.classes

    @property
    def probabilities(self) -> Matrix:
        return Matrix([self.probability(j) for j in range(self.classes)])

    @cached_property
    def loss(self) -> Expr:
        """``L = -log(e^{f_y} / sum_j e^{f_j})``, as written in the seed."""
        return -sympy.log(self.exponentials[self.label] / self.partition, evaluate=False)

    @cached_property
    def log_sum_exp(self) -> Expr:
        """``-f_y + log sum_j e^{f_j}``: the loss in the form SymPy differentiates."""
        return -self.scores[self.label] + sympy.log(self.partition, evaluate=False)

    def indicator(self, m: int) -> Expr:
        """``1[m = y]`` as SymPy's KroneckerDelta (an Integer for concrete m)."""
        return KroneckerDelta(m, self.label)

    # --- in the scores ------------------------------------------------------------

    @cached_property
    def score_exponentials(self) -> list[Expr]:
        return [sympy.exp(f) for f in self.score_symbols]

    @cached_property
    def score_partition(self) -> Expr:
        """``sum_k e^{f_k}`` in the score symbols."""
        return Add(*self.score_exponentials)

    @cached_property
    def score_inverse_partition(self) -> Expr:
        return 1 / self.score_partition

    @cached_property
    def softmax(self) -> list[Expr]:
        """``p_j = e^{f_j} / sum_k e^{f_k}`` in the score symbols."""
        return [e * self.score_inverse_partition for e in self.score_exponentials]

    @cached_property
    def score_loss_as_written(self) -> Expr:
        """``-log(e^{f_y} / sum_j e^{f_j})`` in the score symbols (``loss`` is this at ``f = W x``)."""
        return -sympy.log(self.softmax[self.label], evaluate=False)

    # --- in the scores as SymPy's IndexedBase f, for differentiating at a symbolic index ---

    def indexed_partition(self, f: IndexedBase) -> Expr:
        """``Sum(exp(f[j]), (j, 0, K - 1))``."""
        j = Symbol("j", integer=True)
        return Sum(sympy.exp(f[j]), (j, 0, self.classes - 1))

    def indexed_softmax(self, f: IndexedBase, j: int) -> Expr:
        """``p_j = exp(f[j]) / Sum(exp(f[k]), (k, 0, K - 1))``."""
        return sympy.exp(f[j]) / self.indexed_partition(f)

    def indexed_loss(self, f: IndexedBase) -> Expr:
        """``-f[y] + log(Sum(exp(f[j]), (j, 0, K - 1)))``: the log-sum-exp form for any K."""
        return -f[self.label] + sympy.log(self.indexed_partition(f))
