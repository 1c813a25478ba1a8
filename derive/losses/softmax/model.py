"""The softmax cross-entropy loss of a linear classifier, built in SymPy.

Notation follows ``NOTATION.md``: ``K`` classes, ``D`` features, one sample
``x`` with label ``y`` (0-based), weights ``W`` (row ``w_m`` per class),
scores ``f = W x``, probabilities ``p_j = e^{f_j} / sum_k e^{f_k}`` and loss
``L = -log p_y``.
"""

from __future__ import annotations

from functools import cached_property

import sympy
from sympy import Add, Expr, KroneckerDelta, Matrix, Symbol

#: Largest number of classes accepted.  Verification time grows faster than
#: K * D (SymPy differentiates a K-term sum for each of the K*D weights): a
#: full ``verify()`` took about 3 s at K=64, D=3 and 25-30 s at the limits
#: K=64, D=16 on a shared 2-core machine (README, benchmarks/).
MAX_CLASSES = 64
#: Largest number of features accepted.
MAX_FEATURES = 16


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

    @cached_property
    def scores(self) -> Matrix:
        """``f = W x``, one linear form per class."""
        return Matrix([self.score(self.weights.row(j)) for j in range(self.classes)])

    def score(self, row: Matrix) -> Expr:
        """The score ``row . x`` of one weight row."""
        return Add(*[row[k] * self.x[k] for k in range(self.features)])

    @cached_property
    def exponentials(self) -> list[Expr]:
        return [sympy.exp(score) for score in self.scores]

    @cached_property
    def partition(self) -> Expr:
        """``sum_k e^{f_k}``, the softmax denominator."""
        return Add(*self.exponentials)

    @cached_property
    def probabilities(self) -> Matrix:
        return Matrix([e / self.partition for e in self.exponentials])

    @cached_property
    def loss(self) -> Expr:
        """``L = -log(e^{f_y} / sum_j e^{f_j})``, as written in the seed."""
        return -sympy.log(self.exponentials[self.label] / self.partition)

    def indicator(self, m: int) -> Expr:
        """``1[m = y]`` as SymPy's KroneckerDelta (an Integer for concrete m)."""
        return KroneckerDelta(m, self.label)
