"""Losses of the scores of a linear layer, ``L = l(f)`` with ``f = W x``: the gradient through f.

The chain rule for a composition with a linear map: ``f_j = sum_k w_{j,k} x_k`` depends on
``w_{m,k}`` only when ``j = m``, and ``df_m/dw_{m,k} = x_k``, so

    dL/dw_{m,k} = (dl/df_m)(W x) * x_k.

SymPy differentiates ``l`` once, with respect to ``f[i]`` for a symbolic index ``i`` (``l`` is
written with SymPy's ``IndexedBase`` and ``Sum``, so it says the same for every K;
:mod:`derive.proof.indexed`), and row m is that derivative at ``i = m`` in the plain score
symbols ``f_0 .. f_{K-1}``, then at ``f = W x``, times SymPy's ``df_m/dw_{m,k}``.  The K*D derivatives of the whole loss, each
through a K-term sum, are never taken.  :data:`AUDIT` has SymPy take them for a fixed sample of
entries and the verifier prove each equal to the row computed here.
"""

from __future__ import annotations

from functools import cached_property

import sympy
from sympy import Add, Dummy, Expr, Idx, IndexedBase, Integer, Matrix, Sum

from derive.proof.derivation import Derivation
from derive.proof.indexed import IndexedCalculus
from derive.proof.step import Pairs, Step

#: Indices of the linear layer's ``f[i] = sum_k w[i, k] x[k]`` and of its derivative by ``w[a, b]``.
_ROW, _WEIGHT_ROW, _WEIGHT_COLUMN, _COLUMN = (Dummy(name, integer=True) for name in "iabk")

#: Up to this many classes the sampled steps check every row and feature; above it, a sample.
EVERY_ENTRY_UP_TO = 16


def sample_rows(classes: int, special: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The rows a sampled step checks: all up to :data:`EVERY_ENTRY_UP_TO` classes, else
    rows 0 and K - 1, each special row (the label's) and the row after it.

    Examples
    --------
    >>> sample_rows(4, (2,)), sample_rows(1000, (7,))
    ((0, 1, 2, 3), (0, 7, 8, 999))
    """
    if classes <= EVERY_ENTRY_UP_TO:
        return tuple(range(classes))
    rows = {0, classes - 1} | set(special) | {(s + 1) % classes for s in special}
    return tuple(sorted(rows))


def sample_features(classes: int, features: int) -> tuple[int, ...]:
    """The features a sampled step checks: all up to :data:`EVERY_ENTRY_UP_TO` classes, else
    the first and the last.

    Examples
    --------
    >>> sample_features(4, 3), sample_features(1000, 3)
    ((0, 1, 2), (0, 2))
    """
    if classes <= EVERY_ENTRY_UP_TO:
        return tuple(range(features))
    return tuple(sorted({0, features - 1}))


def sample_scope(d: "ScoreLoss") -> str:
    """What a sampled step checked, e.g. ``every m`` or ``rows 0, 7, 8, 999; features 0, 2``.

    Examples
    --------
    >>> import derive
    >>> sample_scope(derive.softmax_cross_entropy(1000, features=3, label=7))
    'rows 0, 7, 8, 999 of 1000; features 0, 2 of 3'
    """
    classes, features = d.weights.shape
    rows = sample_rows(classes, d.special_rows)
    if len(rows) == classes:
        return "every m"
    columns = sample_features(classes, features)
    return (
        f"rows {', '.join(map(str, rows))} of {classes}; "
        f"features {', '.join(map(str, columns))} of {features}"
    )


class ScoreLoss(Derivation):
    """A loss ``l(f)`` of the scores ``f = W x``; its gradient rows come through the scores.

    A subclass defines ``name``, ``claim(m)`` and ``definitions`` (as for :class:`Derivation`),
    ``weights`` (K x D Symbols), ``x`` (D x 1), ``score_symbols`` (``f_0 .. f_{K-1}``),
    ``scores`` (``W x``, K x 1) and ``indexed_loss`` (``l`` in ``self.f[j]``, its sums SymPy
    ``Sum`` over ``j``).  It may set ``loss`` (by default ``l`` at ``f = W x``), ``audit_loss``
    (what SymPy differentiates directly in the audit; by default ``loss``), ``special_rows``
    (always sampled) and extend ``score_values`` (what score-space subexpressions are at
    ``f = W x``, to reuse expressions already built).
    """

    #: ``f``, the scores as SymPy's IndexedBase: ``f[m]`` for a symbolic or concrete m.
    f = IndexedBase("f", real=True)

    @property
    def wrt(self) -> Matrix:
        return self.weights

    @property
    def loss(self) -> Expr:
        """By default the score loss at ``f = W x``."""
        return self.at_weights(self.score_loss)

    @property
    def audit_loss(self) -> Expr:
        return self.loss

    @cached_property
    def score_values(self) -> dict:
        """Each plain score symbol mapped to its value ``w_j . x``."""
        return dict(zip(self.score_symbols, self.scores))

    def at_weights(self, expr: Expr) -> Expr:
        """A score-space expression at ``f = W x``."""
        return expr.xreplace(self.score_values)

    @cached_property
    def calculus(self) -> IndexedCalculus:
        """Derivatives by ``f[m]``, read off one derivative for a symbolic index."""
        return IndexedCalculus(self.f, self.score_symbols)

    @cached_property
    def score_loss(self) -> Expr:
        """``l`` in the plain score symbols: ``indexed_loss`` with its sums written out."""
        return self.plain(self.indexed_loss)

    def plain(self, expr: Expr) -> Expr:
        """An expression in ``self.f[j]`` in the plain score symbols, its sums written out."""
        return self.calculus.plain(expr)

    def score_derivative(self, expr: Expr, m: int) -> Expr:
        """SymPy's derivative of ``expr`` (written in ``self.f``) by ``f_m``, in plain symbols."""
        self._check_row(m)
        return self.calculus.derivative(expr, m)

    def score_gradient(self, m: int) -> Expr:
        """SymPy's ``dl/df_m`` in the plain score symbols."""
        return self.score_derivative(self.indexed_loss, m)

    def gradient(self, m: int) -> Matrix:
        """``dL/dw_m``: SymPy's ``dl/df_m`` at ``f = W x``, times SymPy's ``df_m/dw_m``."""
        self._check_row(m)
        key = ("gradient", m)
        if key not in self._memo:
            outer = self.at_weights(self.score_gradient(m))
            columns = range(self.weights.cols)
            self._memo[key] = Matrix([[outer * self.score_by_weight(m, k) for k in columns]])
        return self._memo[key]

    def score_by_weight(self, m: int, k: int) -> Expr:
        """SymPy's ``df_m/dw_{m,k}``, read off one derivative of ``f[i] = sum_k w[i, k] x[k]``
        by ``w[a, b]`` for symbolic indices."""
        key = ("by weight", m, k)
        if key not in self._memo:
            general, (i, a, b), plain = self._score_by_weight
            at = {i: Integer(m), a: Integer(m), b: Integer(k)}
            self._memo[key] = general.xreplace(at).xreplace(plain)
        return self._memo[key]

    @cached_property
    def _score_by_weight(self) -> tuple:
        classes, features = self.weights.shape
        i, a, b, k = _ROW, _WEIGHT_ROW, _WEIGHT_COLUMN, _COLUMN
        i, a, b = Idx(i, classes), Idx(a, classes), Idx(b, features)
        w, x = IndexedBase("w", real=True), IndexedBase("x", real=True)
        score = Sum(w[i, k] * x[k], (k, 0, features - 1))
        plain = {x[j]: self.x[j] for j in range(features)}
        return sympy.diff(score, w[a, b]).doit(), (i, a, b), plain

    def direct_derivative(self, m: int, k: int) -> Expr:
        """SymPy's derivative of the whole ``audit_loss`` with respect to ``w_{m,k}``."""
        key = ("direct", m, k)
        if key not in self._memo:
            self._memo[key] = sympy.diff(self.audit_loss, self.weights[m, k])
        return self._memo[key]

    @cached_property
    def _memo(self) -> dict:
        return {}

    #: Rows the loss singles out (the label's), always in the sample.
    special_rows: tuple[int, ...] = ()

    def sample(self) -> list[tuple[int, int]]:
        """The ``(m, k)`` entries the audit and the sampled steps check."""
        classes, features = self.weights.shape
        rows = sample_rows(classes, self.special_rows)
        return [(m, k) for m in rows for k in sample_features(classes, features)]


def _audit(d: ScoreLoss) -> Pairs:
    """Each sampled entry of SymPy's derivative of the whole loss against the row computed
    through the scores, ``(dl/df_m)(W x) * x_k``, its terms multiplied by ``x_k`` one by one
    (the form SymPy's derivative comes in)."""
    truths, claims = [], []
    for m, k in d.sample():
        outer = d.at_weights(d.score_gradient(m))
        truths.append(d.direct_derivative(m, k))
        claims.append(Add(*[term * d.score_by_weight(m, k) for term in Add.make_args(outer)]))
    return truths, claims


#: The fact that vouches for the rows' true side: computed through the scores, it agrees with
#: SymPy's derivative of the whole loss on a fixed sample of entries.
AUDIT = Step(
    "chain rule through the scores (audit)",
    r"\frac{\partial L}{\partial w_{m,k}} = \frac{\partial l}{\partial f_m}\Big|_{f = W x} x_k",
    sample_scope,
    _audit,
)
