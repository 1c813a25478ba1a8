"""A proven document's loss and gradient as a float64 NumPy evaluation at any size.

A document of the catalog's per-sample shape is an oracle for ``derive check-impl --doc``: it
declares one sample's scores (a vector ``f`` of ``K`` entries, or one score ``z``), at most one
label (a class in ``{1, ..., K}`` or ``{0, ..., K-1}``, or a 0/1 label), defines the per-sample
loss ``L`` of them, and boxes its gradient by the scores, ``dL/df_m = ...`` (or ``dL/dz``).  That
is ``l(S_i, y_i)`` and ``G_i = dl/dS_i`` of the batch model of :mod:`derive.oracle.batch`::

    L = (1/N) sum_i l(S_i, y_i) + reg * sum(W**2),   S = X W + b

whose linear layer, chain rule, mean over N and L2 penalty are the proven lemmas of
:mod:`derive.oracle.proof`.  The document itself must be proven step by step
(:func:`derive.document.check.check`): one refuted or unproven step and it is refused.  It is
proven for every size when every step is (SymPy with symbolic sizes), else at the sizes checked.

The definitions are walked as the parser's tree (:mod:`derive.document.ast`): every node is
turned into NumPy calls of our own, nothing the user wrote is evaluated as code.  An index bound
by a sum, a family's index and the gradient's free index each get an axis after the samples',
so a whole batch is one pass.  Recognised forms are evaluated stably: the log of a sum of
exponentials is a max-shifted log-sum-exp, ``e^a / sum e^b`` is ``e^(a - logsumexp b)`` (the
softmax), its log ``a - logsumexp b``, ``sigma`` exponentiates only ``-|z|``, ``log sigma`` and
``log(1 + e^z)`` are softplus, ``1 - sigma(z)`` is ``sigma(-z)`` and ``y A + (1 - y) B`` of a 0/1
label is a choice (so logs and complements reach each branch).  A name defined elsewhere is
looked through for these forms.  The same walk in mpmath at 50 digits, on object arrays and
with only the exact complement and choice rewrites, is the spot check's naive formula.

A document's other scalar variables are parameters: each needs a value (``--set NAME=VALUE``),
except, in a one-score document with no label, a single one left without a value, which is each
sample's real target.  The judge's sensitivity of ``G`` to its scores is measured by central
differences over each score (``2 K`` evaluations of ``G``), so a document oracle takes at most
:data:`MAX_CLASSES` classes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np

from checks.tolerances import REFERENCE_DIGITS
from derive.catalog import UnknownLossError, entry
from derive.document.ast import (
    Abs, Add, BigOp, Call, Cases, Const, Derivative, Div, Indicator, Mul, Name, Neg, Node, Num, Pow,
    Rel, rebuild, to_latex, walk,
)
from derive.document.check import DocumentCheck, check
from derive.document.declare import Document, read_document
from derive.document.source import DocumentError, Source, read_source
from derive.oracle.batch import BINARY_LABELS, CLASS_LABELS, REAL_TARGETS, BatchLoss
from derive.oracle.proof import AllSizesProof, linear_lemmas, mean_lemma, prove_lemma

#: Most classes of a document oracle: its sensitivity costs 2 K evaluations of the gradient.
MAX_CLASSES = 256
#: The central differences' step, relative to the score's size, and the factor on what they
#: measure (a first-order estimate of a Lipschitz bound, so doubled).
DIFFERENCE_STEP, DIFFERENCE_SAFETY = 2.0**-20, 2.0


class DocumentOracleError(ValueError):
    """A document that cannot be an oracle: unproven, or not of the per-sample shape."""


@dataclass(frozen=True)
class DocumentOracle:
    """A document compiled to a batch oracle, and what it is proven for."""

    path: str
    title: str
    loss: BatchLoss
    every_size: bool
    sizes_checked: tuple[dict, ...]
    mapping: str
    values: dict = field(default_factory=dict)

    @property
    def proven_for(self) -> str:
        """``"every size"``, or the sizes the document was checked at."""
        if self.every_size:
            return "every size"
        shown = "; ".join(", ".join(f"{k} = {v}" for k, v in s.items()) for s in self.sizes_checked)
        return f"the sizes checked ({shown})"

    def statement(self) -> str:
        """The document and what it is proven for.

        >>> document_oracle("label-smoothing", {"epsilon": 0.1}).statement()
        'per-sample loss and gradient from derive/catalog/label-smoothing.md, proven for every size'
        """
        return f"per-sample loss and gradient from {self.path}, proven for {self.proven_for}"


# --- reading the document's shape ---------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    score: str
    vector: bool
    size: str | None
    free: str | None  # the gradient's free index (m in dL/df_m)
    loss: str
    gradient: Node
    label: str | None
    labels: str
    label_base: int
    target: str | None
    values: dict


def _refuse(document: Document, message: str):
    raise DocumentOracleError(f"{document.source.path}: cannot be an oracle: {message}")


def _result(document: Document):
    """The last boxed ``dL/ds = ...`` of a defined ``L`` by a declared variable."""
    defined = {d.base: d for d in document.definitions}
    for step in reversed(document.steps):
        equation = step.equation
        left = equation.left
        if (equation.boxed and equation.op == "=" and isinstance(left, Derivative)
                and isinstance(left.of, Name) and not left.of.indices and left.of.base in defined
                and isinstance(left.by, Name) and left.by.base in document.variables):
            return left.of.base, left.by, equation.right
    _refuse(document, "it boxes no gradient of a defined loss by its scores "
                      r"(such as \boxed{\frac{\partial L}{\partial f_m} = ...})")


def _shape(document: Document, values: dict) -> _Shape:
    loss, by, gradient = _result(document)
    score = document.variables[by.base]
    if score.members or len(score.dims) > 1:
        _refuse(document, f"its boxed gradient is by {to_latex(by)}, not by one sample's scores (a vector "
                          r"f \in \mathbb{R}^K or a number z): the linear layer is the batch's, not the document's")
    vector = len(score.dims) == 1
    size = None
    if vector:
        if not (isinstance(score.dims[0], Name) and not score.dims[0].indices) or len(by.indices) != 1 \
                or not isinstance(by.indices[0], Name):
            _refuse(document, f"the scores {by.base} must have one size, and the gradient one index")
        size = score.dims[0].base
    extra = sorted(set(document.sizes) - {size})
    if extra:
        _refuse(document, f"its sizes {', '.join(extra)} have no place in the batch (only the "
                          "scores' count is a size)")
    if document.constraints or score.sign or by.base in document.intervals:
        _refuse(document, f"it is proven under assumptions (on the scores {by.base}, or a 'where'), "
                          "which random scores do not keep")
    label, labels, base = _label(document, vector, size)
    parameters = [n for n, v in document.variables.items() if n != by.base and not v.members and not v.dims]
    others = [n for n, v in document.variables.items() if n != by.base and n not in parameters]
    if others:
        _refuse(document, f"{', '.join(others)} are arrays beside the scores: only the scores, a label "
                          "and numbers can be read from the batch")
    given = {_plain(n): n for n in parameters}
    unknown = sorted(set(values) - set(given))
    if unknown:
        _refuse(document, f"it has no parameter {', '.join(unknown)}; its parameters: "
                          f"{', '.join(given) or 'none'}")
    missing = [n for plain, n in given.items() if plain not in values]
    target = None
    if not vector and label is None and len(missing) == 1:
        target, missing, labels = missing[0], [], REAL_TARGETS
    for plain, value in values.items():
        _allowed(document, given[plain], Fraction(float(value)))
    if missing:
        raise DocumentOracleError(f"{document.source.path}: give a value to its parameter(s) " + ", ".join(
            f"{_plain(n)} (--set {_plain(n)}=VALUE, or values={{{_plain(n)!r}: VALUE}})" for n in missing))
    return _Shape(by.base, vector, size, by.indices[0].base if vector else None, loss, gradient, label,
                  labels, base, target, {given[k]: float(v) for k, v in values.items()})


def _allowed(document: Document, name: str, value: Fraction) -> None:
    """A parameter's value within what the document is proven for: its sign and interval."""
    sign = document.variables[name].sign
    interval = document.intervals.get(name)
    if (sign == "positive" and value <= 0) or (sign == "nonnegative" and value < 0) \
            or (interval is not None and interval.contains(value) is False):
        where = str(interval) if interval is not None else f"{sign} numbers"
        raise DocumentOracleError(f"{document.source.path}: {_plain(name)} = {float(value):g} is outside "
                                  f"what the document is proven for ({where})")


def _label(document: Document, vector: bool, size: str | None):
    if len(document.labels) > 1:
        _refuse(document, "it has more than one label")
    if not document.labels:
        return None, REAL_TARGETS, 0
    (name, label), = document.labels.items()
    if label.members:
        _refuse(document, f"its label {name} must be one value per sample")
    if isinstance(label.values, tuple):
        if vector or set(label.values) != {0, 1}:
            _refuse(document, f"its label {name} must be a class of the scores or a 0/1 label of one score")
        return name, BINARY_LABELS, 0
    lower = label.values.lower
    lower = Num(Fraction(0 if document.zero_based else 1)) if lower is None else lower
    ends = {Num(Fraction(0)): Add((Name(size), Neg(Num(Fraction(1))))), Num(Fraction(1)): Name(size)}
    if not vector or lower not in ends or label.values.upper != ends[lower]:
        _refuse(document, f"its label {name} must be a class: 1 to {size} or 0 to {size} - 1")
    base = int(lower.value)
    if base != (0 if document.zero_based else 1):
        _refuse(document, f"its label {name} is numbered from {base}, its arrays are not")
    return name, CLASS_LABELS, base


def _plain(name: str) -> str:
    """``\\epsilon`` -> ``epsilon``, the name a value is given by.

    >>> _plain(r"\\tilde{p}")
    'tilde_p'
    """
    return name.replace("\\", "").replace("{", "_").replace("}", "").strip("_")


# --- evaluating the tree --------------------------------------------------------------------


class _Float64:
    """NumPy float64, with the stable forms."""

    stable = True
    e, pi = np.e, np.pi

    @staticmethod
    def number(value: Fraction):
        return float(value)

    exp, log, tanh, sign, abs = np.exp, np.log, np.tanh, np.sign, np.abs

    @staticmethod
    def sigmoid(x):
        small = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + small), small / (1.0 + small))


def _object(function):
    return np.frompyfunc(function, 1, 1)


class _Mpmath:
    """mpmath at the caller's precision on object arrays, the formulas as written."""

    stable = False
    e, pi = mpmath.e, mpmath.pi

    @staticmethod
    def number(value: Fraction):
        return mpmath.mpf(value.numerator) / value.denominator

    exp, log, tanh = _object(mpmath.exp), _object(mpmath.log), _object(mpmath.tanh)
    sign, abs = _object(mpmath.sign), _object(abs)
    sigmoid = _object(lambda x: 1 / (1 + mpmath.exp(-x)))


_ONE = Num(Fraction(1))


class _Walk:
    """One evaluation of the document at a batch: ``scores`` N x K (N for one score), ``labels``
    in the document's numbering, with every array shaped ``(N, *one axis per bound index)``."""

    def __init__(self, document: Document, shape: _Shape, scores, labels, backend):
        self.document, self.shape, self.backend = document, shape, backend
        self.scores, self.labels = scores, labels
        self.n = len(scores)
        self.k = scores.shape[1] if shape.vector else 1
        self.definitions = {d.base: d for d in document.definitions}
        self.cache: dict[str, object] = {}

    # arrays and indices
    def _at(self, value, depth: int):
        value = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=self._dtype())
        if value.ndim == 0:
            return value
        return value.reshape(value.shape + (1,) * (1 + depth - value.ndim))

    def _dtype(self):
        return np.float64 if self.backend.stable else object

    def _axis(self, depth: int, lower: int, upper: int):
        values = np.arange(lower, upper + 1)
        return values.reshape((1,) * (depth + 1) + (-1,))

    def _take(self, array, index, depth: int):
        """``array[i, index - base]`` of a family ``array`` N x K, at every sample ``i``."""
        rows = np.arange(self.n).reshape((self.n,) + (1,) * depth)
        index = np.broadcast_to(self._at(self._array(index), depth), np.broadcast_shapes(
            np.shape(self._at(self._array(index), depth)), rows.shape))
        position = index.astype(np.int64) - self.shape.label_base
        if np.any(position + self.shape.label_base != index) or np.any(position < 0) \
                or np.any(position >= array.shape[1]):
            raise DocumentOracleError(f"{self.document.source.path}: cannot be an oracle: an index "
                                      f"is not a whole number from {self.shape.label_base} to "
                                      f"{self.shape.label_base + self.k - 1}")
        return array[rows, position]

    # the walk
    def value(self, node: Node, env: dict, depth: int):
        stable = self._stable(node, env, depth) if self.backend.stable else None
        if stable is not None:
            return stable
        exact = self._exact(node, env, depth)
        if exact is not None:
            return exact
        return self._plain(node, env, depth)

    def _plain(self, node: Node, env: dict, depth: int):
        b = self.backend
        if isinstance(node, Num):
            return b.number(node.value)
        if isinstance(node, Const):
            return b.e if node.name == "e" else b.pi
        if isinstance(node, Name):
            return self._name(node, env, depth)
        if isinstance(node, Add):
            total = self.value(node.terms[0], env, depth)
            for term in node.terms[1:]:
                total = total + self.value(term, env, depth)
            return total
        if isinstance(node, Neg):
            return -self.value(node.operand, env, depth)
        if isinstance(node, Mul):
            product = self.value(node.factors[0], env, depth)
            for factor in node.factors[1:]:
                product = product * self.value(factor, env, depth)
            return product
        if isinstance(node, Div):
            return self.value(node.numerator, env, depth) / self.value(node.denominator, env, depth)
        if isinstance(node, Pow):
            if node.base == Const("e"):
                return b.exp(self._array(self.value(node.exponent, env, depth)))
            return self._array(self.value(node.base, env, depth)) ** self.value(node.exponent, env, depth)
        if isinstance(node, Abs):
            return b.abs(self._array(self.value(node.operand, env, depth)))
        if isinstance(node, Call):
            return self._call(node, env, depth)
        if isinstance(node, BigOp):
            return self._bigop(node, env, depth)
        if isinstance(node, Indicator):
            return np.where(self._condition(node.condition, env, depth), b.number(Fraction(1)),
                            b.number(Fraction(0)))
        if isinstance(node, Cases):
            return self._cases(node, env, depth)
        raise self._unsupported(node)

    def _array(self, value):
        return value if isinstance(value, np.ndarray) else np.asarray(value, dtype=self._dtype())

    def _unsupported(self, node: Node) -> DocumentOracleError:
        return DocumentOracleError(
            f"{self.document.source.path}: cannot be an oracle: {to_latex(node)} cannot be evaluated "
            f"numerically here ({type(node).__name__.lower()}: numbers, +, -, *, /, powers, exp, log, "
            "sigma, tanh, max, min, |.|, sums, products, indicators and cases can)")

    def _name(self, node: Name, env: dict, depth: int):
        shape = self.shape
        if node.base in env and not node.indices:
            return env[node.base]
        if node.base == shape.label and not node.indices:
            return self._at(self.labels, depth)
        if node.base == shape.target and not node.indices:
            return self._at(self.labels, depth)
        if node.base == shape.score:
            if shape.vector and len(node.indices) == 1:
                return self._take(self.scores, self.value(node.indices[0], env, depth), depth)
            if not shape.vector and not node.indices:
                return self._at(self.scores, depth)
        if node.base in shape.values and not node.indices:
            return self.backend.number(Fraction(shape.values[node.base]))
        if node.base == shape.size and not node.indices:
            return self.backend.number(Fraction(self.k))
        definition = self.definitions.get(node.base)
        if definition is not None and len(definition.indices) == len(node.indices) <= 1:
            if not node.indices:
                if node.base not in self.cache:
                    self.cache[node.base] = self.value(definition.value, {}, 0)
                return self._at(self.cache[node.base], depth)
            if node.base not in self.cache:
                axis = self._axis(0, self.shape.label_base, self.shape.label_base + self.k - 1)
                family = self.value(definition.value, {definition.indices[0]: axis}, 1)
                self.cache[node.base] = np.broadcast_to(family, (self.n, self.k))
            return self._take(self.cache[node.base], self.value(node.indices[0], env, depth), depth)
        raise self._unsupported(node)

    def _call(self, node: Call, env: dict, depth: int):
        b = self.backend
        arguments = [self._array(self.value(a, env, depth)) for a in node.arguments]
        one = {"exp": b.exp, "log": b.log, "tanh": b.tanh, "sign": b.sign, "sigma": b.sigmoid}
        if node.function in one and len(arguments) == 1:
            return one[node.function](arguments[0])
        if node.function in ("max", "min") and len(arguments) == 2:
            return (np.maximum if node.function == "max" else np.minimum)(*arguments)
        raise self._unsupported(node)

    def _range(self, node: BigOp, env: dict, depth: int) -> tuple[int, int]:
        if node.lower is None:
            return self.shape.label_base, self.shape.label_base + self.k - 1
        lower, upper = (self.value(bound, env, depth) for bound in (node.lower, node.upper))
        if np.ndim(lower) or np.ndim(upper) or int(lower) != lower or int(upper) != upper:
            raise self._unsupported(node)
        return int(lower), int(upper)

    def _terms(self, node: BigOp, env: dict, depth: int):
        """The body at every value of the index, on a new last axis, and that axis' values."""
        if node.index in env:
            raise self._unsupported(node)
        lower, upper = self._range(node, env, depth)
        axis = self._axis(depth, lower, upper)
        body = self._array(self.value(node.body, {**env, node.index: axis}, depth + 1))
        body = self._at(body, depth + 1) if body.ndim else body
        full = np.broadcast_shapes(np.shape(body), (self.n,) + (1,) * depth + (axis.shape[-1],))
        body = np.broadcast_to(body, full)
        keep = np.ones(full, dtype=bool)
        if node.excluded is not None:
            keep = np.broadcast_to(axis != self._at(self.value(node.excluded, env, depth), depth + 1), full)
        return body, keep

    def _bigop(self, node: BigOp, env: dict, depth: int):
        body, keep = self._terms(node, env, depth)
        b = self.backend
        if node.kind == "sum":
            return np.where(keep, body, b.number(Fraction(0))).sum(axis=-1)
        return np.where(keep, body, b.number(Fraction(1))).prod(axis=-1)

    def _condition(self, relation: Rel, env: dict, depth: int):
        left, right = self.value(relation.left, env, depth), self.value(relation.right, env, depth)
        compare = {"=": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
                   "<=": np.less_equal, ">=": np.greater_equal}[relation.op]
        return np.asarray(compare(left, right)).astype(bool)

    def _cases(self, node: Cases, env: dict, depth: int):
        """The first row whose condition holds; NaN (never agreement) where none does."""
        out = np.nan if self.backend.stable else mpmath.nan
        taken = np.zeros((), dtype=bool)
        for value, condition in node.rows:
            holds = np.ones((), dtype=bool) if condition is None else self._condition(condition, env, depth)
            first = holds & ~taken
            out = np.where(first, self._array(self.value(value, env, depth)), out)
            taken = taken | first
        return out

    # exact rewrites (both backends): complements and 0/1-label choices
    def _look(self, node: Node, env: dict) -> Node:
        """A name defined without an index, or with an index not captured, replaced by its value."""
        if not isinstance(node, Name) or node.base in env:
            return node
        definition = self.definitions.get(node.base)
        if definition is None or len(definition.indices) != len(node.indices) or len(node.indices) > 1:
            return node
        if not node.indices:
            return definition.value
        index, (bound,) = node.indices[0], definition.indices
        value = definition.value
        for name in {n.base for n in walk(index) if isinstance(n, Name)}:
            value = _renamed(value, name, name + "'")  # a sum's index that would capture the index
        return _substitute(value, bound, index)

    def _choice(self, node: Node, env: dict):
        """``y A + (1 - y) B`` of a 0/1 label ``y``: (A, B), else None."""
        node = self._look(node, env)
        if not (isinstance(node, Add) and len(node.terms) == 2 and self.shape.labels == BINARY_LABELS):
            return None
        label = Name(self.shape.label)
        first, second = node.terms
        if isinstance(first, Mul) and isinstance(second, Mul) and len(first.factors) == 2 == len(second.factors):
            if first.factors[0] == label and second.factors[0] == Add((_ONE, Neg(label))):
                return first.factors[1], second.factors[1]
        return None

    def _complement(self, node: Node, env: dict) -> Node | None:
        """``1 - node`` exactly, as another tree, where a form is known."""
        looked = self._look(node, env)
        if isinstance(looked, Call) and looked.function == "sigma":
            return Call("sigma", (Neg(looked.arguments[0]),))
        if isinstance(looked, Add) and len(looked.terms) == 2 and looked.terms[0] == _ONE \
                and isinstance(looked.terms[1], Neg):
            return looked.terms[1].operand
        return None

    def _exact(self, node: Node, env: dict, depth: int):
        if isinstance(node, Add) and len(node.terms) == 2 and node.terms[0] == _ONE \
                and isinstance(node.terms[1], Neg):
            inner = node.terms[1].operand
            complement = self._complement(inner, env)
            if complement is not None:
                return self.value(complement, env, depth)
            choice = self._choice(inner, env)
            if choice is not None:
                a, b = (Add((_ONE, Neg(branch))) for branch in choice)
                return self._select(a, b, env, depth)
        if isinstance(node, Call) and node.function == "log" and len(node.arguments) == 1:
            choice = self._choice(node.arguments[0], env)
            if choice is not None:
                return self._select(Call("log", (choice[0],)), Call("log", (choice[1],)), env, depth)
        choice = self._choice(node, env) if isinstance(node, Add) else None
        if choice is not None:
            return self._select(*choice, env, depth)
        return None

    def _select(self, a: Node, b: Node, env: dict, depth: int):
        chosen = self._at(self.labels, depth) == 1
        return np.where(chosen, self._array(self.value(a, env, depth)), self._array(self.value(b, env, depth)))

    # stable forms (float64 only)
    def _stable(self, node: Node, env: dict, depth: int):
        if isinstance(node, Call) and node.function == "sigma":
            return None  # the backend's sigmoid is already the stable one
        if isinstance(node, Call) and node.function == "log" and len(node.arguments) == 1:
            inner = self._look(node.arguments[0], env)
            if _exponential_sum(inner):
                top, total = self._shifted(inner, env, depth)
                return np.log(total) + top
            if isinstance(inner, Div) and _is_exp(inner.numerator) and _exponential_sum(inner.denominator):
                top, total = self._shifted(inner.denominator, env, depth)
                return (self.value(inner.numerator.exponent, env, depth) - top) - np.log(total)
            if isinstance(inner, Call) and inner.function == "sigma":
                return -np.logaddexp(0.0, -self._array(self.value(inner.arguments[0], env, depth)))
            complement = self._complement_of_sigma(inner, env)
            if complement is not None:
                return -np.logaddexp(0.0, self._array(self.value(complement, env, depth)))
            if isinstance(inner, Add) and len(inner.terms) == 2 and inner.terms[0] == _ONE and _is_exp(inner.terms[1]):
                return np.logaddexp(0.0, self._array(self.value(inner.terms[1].exponent, env, depth)))
        if isinstance(node, Div) and _is_exp(node.numerator) and _exponential_sum(node.denominator):
            top, total = self._shifted(node.denominator, env, depth)
            return np.exp(self.value(node.numerator.exponent, env, depth) - top) / total
        return None

    def _complement_of_sigma(self, node: Node, env: dict):
        """``z`` when ``node`` is ``1 - sigma(z)`` (through names)."""
        if isinstance(node, Add) and len(node.terms) == 2 and node.terms[0] == _ONE and isinstance(node.terms[1], Neg):
            inner = self._look(node.terms[1].operand, env)
            if isinstance(inner, Call) and inner.function == "sigma":
                return inner.arguments[0]
        return None

    def _shifted(self, node: BigOp, env: dict, depth: int):
        """``sum_k e^(b_k)`` as ``(top, sum_k e^(b_k - top))`` with ``top = max_k b_k``: the
        max-shift of the log-sum-exp and of the softmax, nothing overflowing."""
        exponents, keep = self._terms(BigOp(node.kind, node.index, node.lower, node.upper, node.excluded,
                                            node.body.exponent), env, depth)
        exponents = np.where(keep, exponents, -np.inf)
        top = exponents.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        return top[..., 0], np.exp(exponents - top).sum(axis=-1)


def _is_exp(node: Node) -> bool:
    return isinstance(node, Pow) and node.base == Const("e")


def _exponential_sum(node: Node) -> bool:
    return isinstance(node, BigOp) and node.kind == "sum" and _is_exp(node.body)


def _renamed(node: Node, name: str, fresh: str) -> Node:
    """``node`` with every sum over ``name`` summing over ``fresh`` instead.

    >>> k = Name("k")
    >>> print(to_latex(_renamed(BigOp("sum", "k", None, None, None, Name("f", (k,))), "k", "k'")))
    \\sum_{k'} f_{k'}
    """
    if isinstance(node, BigOp) and node.index == name:
        node = BigOp(node.kind, fresh, node.lower, node.upper, node.excluded,
                     _substitute(node.body, name, Name(fresh)))
    return rebuild(node, lambda child: _renamed(child, name, fresh))


def _substitute(node: Node, name: str, by: Node) -> Node:
    """``node`` with the index ``name`` replaced by ``by`` (a sum binding ``name`` left as is)."""
    if isinstance(node, Name) and node.base == name and not node.indices:
        return by
    if isinstance(node, BigOp) and node.index == name:
        return node
    return rebuild(node, lambda child: _substitute(child, name, by))


# --- the oracle -----------------------------------------------------------------------------


def _per_sample(document: Document, shape: _Shape, scores, labels, backend):
    walk = _Walk(document, shape, scores, labels, backend)
    losses = np.broadcast_to(walk.value(Name(shape.loss), {}, 0), (len(scores),))
    if shape.vector:
        axis = walk._axis(0, shape.label_base, shape.label_base + walk.k - 1)
        gradient = np.broadcast_to(walk.value(shape.gradient, {shape.free: axis}, 1), scores.shape)
    else:
        gradient = np.broadcast_to(walk.value(shape.gradient, {}, 0), scores.shape)
    return losses, gradient


def _labels_in_document(shape: _Shape, labels):
    return labels + shape.label_base if shape.labels == CLASS_LABELS else labels


def _compiled(document: Document, shape: _Shape, name: str) -> BatchLoss:
    def per_sample(scores, labels):
        with np.errstate(all="ignore"):
            losses, gradient = _per_sample(document, shape, np.asarray(scores, dtype=np.float64),
                                           _labels_in_document(shape, np.asarray(labels)), _Float64)
        return np.array(losses, dtype=np.float64), np.array(gradient, dtype=np.float64)

    def sensitivity(scores, labels, gradient):
        """``sum_k |dG/dS_k|`` per entry, by central differences over each score."""
        columns = scores.reshape(len(scores), -1)
        step = DIFFERENCE_STEP * np.maximum(1.0, np.abs(columns).max(axis=1, keepdims=True))
        total = np.zeros(columns.shape)
        for k in range(columns.shape[1]):
            moved = np.zeros(columns.shape)
            moved[:, k] = step[:, 0]
            up = per_sample((columns + moved).reshape(scores.shape), labels)[1].reshape(columns.shape)
            down = per_sample((columns - moved).reshape(scores.shape), labels)[1].reshape(columns.shape)
            total += np.abs(up - down) / (2 * step)
        return DIFFERENCE_SAFETY * total.reshape(gradient.shape)

    def loss_sensitivity(scores, labels):
        gradient = per_sample(scores, labels)[1]
        return DIFFERENCE_SAFETY * (np.abs(gradient) if gradient.ndim == 1 else np.abs(gradient).sum(axis=1))

    def naive_sample(scores, label):
        with mpmath.workdps(REFERENCE_DIGITS):
            row = np.array([list(scores)], dtype=object) if shape.vector else np.array([scores[0]], dtype=object)
            given = np.array([label], dtype=object) if shape.labels == REAL_TARGETS else \
                _labels_in_document(shape, np.array([int(label)]))
            losses, gradient = _per_sample(document, shape, row, given, _Mpmath)
            return losses[0], list(np.atleast_1d(gradient[0]))

    labels = shape.labels
    return BatchLoss(name, labels, not shape.vector, per_sample, sensitivity, loss_sensitivity, naive_sample)


def _proven(document: Document, checked: DocumentCheck) -> bool:
    """Every step proven, else refused; True when for every size."""
    for step in checked.steps:
        if step.status != "proven":
            what = "refuted" if step.status == "refuted" else step.status
            _refuse(document, f"its step at line {step.line} ({step.latex}) is {what}; only a proven "
                              "document is an oracle (derive check shows why)")
    if not checked.steps:
        _refuse(document, "it has no steps to prove")
    return not document.sizes or all(step.every_size for step in checked.steps)


def _mapping(shape: _Shape) -> str:
    scores = f"{shape.score}_m is S_(i,m) = (X W + b)_(i,m)" if shape.vector else f"{shape.score} is s_i = (X w + b)_i"
    label = {CLASS_LABELS: f", {shape.label} is y_i + {shape.label_base}" if shape.label_base else f", {shape.label} is y_i",
             BINARY_LABELS: f", {shape.label} is y_i"}.get(shape.labels, "")
    target = f", {shape.target} is y_i" if shape.target else ""
    values = "".join(f", {_plain(n)} = {v:g}" for n, v in shape.values.items())
    return f"{shape.loss} is sample i's loss l(S_i, y_i), {scores}{label}{target}{values}"


@functools.lru_cache(maxsize=32)
def _read(text: str, path: str) -> Document:
    return read_document(Source(text, path))


@functools.lru_cache(maxsize=32)
def _checked(text: str, path: str) -> DocumentCheck:
    return check(_read(text, path))


def document_oracle(doc: str | Path, values: dict | None = None) -> DocumentOracle:
    """The oracle of document ``doc`` (a ``.md`` path, or a catalog name), with ``values`` the
    numbers of its parameters (``{"epsilon": 0.1}``).

    Raises :class:`DocumentOracleError` (a ``ValueError``) for a document that is not proven or
    not of the per-sample shape, ``DocumentError`` for one that cannot be read.

    >>> oracle = document_oracle("focal-loss", {"gamma": 2})
    >>> oracle.loss.one_score, oracle.loss.labels, oracle.proven_for
    (True, 'binary', 'every size')
    """
    values = dict(values or {})
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise DocumentOracleError(f"the value of {key} must be a finite number, not {value!r}")
    if isinstance(doc, str) and not doc.endswith(".md"):
        try:
            doc = entry(doc).path
        except UnknownLossError:
            raise DocumentOracleError(f"{doc!r} is neither a .md document nor a catalog loss") from None
    source = read_source(doc)
    path = _shown_path(Path(doc))
    document = _read(source.text, path)
    shape = _shape(document, values)  # its shape first: refused before the (slower) proof
    every_size = _proven(document, _checked(source.text, path))
    loss = _compiled(document, shape, Path(path).stem)
    loss.per_sample(np.zeros((1, 2)) if shape.vector else np.zeros(1), np.zeros(1, dtype=np.int64))  # refuses
    # here, once, what cannot be evaluated
    return DocumentOracle(path, document.title, loss, every_size, tuple(_checked(source.text, path).sizes), _mapping(shape),
                          {_plain(k): v for k, v in shape.values.items()})


@functools.lru_cache(maxsize=2)
def chain_proof(one_score: bool) -> AllSizesProof:
    """The batch around a document's per-sample gradient ``G``: the linear layer, the chain
    rule's contractions, the L2 penalty and the mean over N, each a lemma proven for every size.

    >>> chain_proof(True).proven
    True
    """
    lemmas = linear_lemmas(classes=not one_score) + (mean_lemma(),)
    return AllSizesProof("document", tuple(prove_lemma(lemma) for lemma in lemmas),
                         r"\frac{\partial L}{\partial W} = \frac{1}{N} X^T G + 2\, \mathrm{reg}\, W")


def require_classes(oracle: DocumentOracle, classes: int) -> None:
    """A document oracle's sensitivity costs 2 K evaluations: at most :data:`MAX_CLASSES`."""
    if not oracle.loss.one_score and classes > MAX_CLASSES:
        raise DocumentOracleError(f"a document oracle takes at most {MAX_CLASSES} classes, not {classes} "
                                  "(its sensitivity costs 2 K evaluations of the gradient)")


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        catalog = entry("softmax-cross-entropy").path.parent
        try:
            return "derive/catalog/" + str(path.resolve().relative_to(catalog.resolve()))
        except ValueError:
            return str(path)


__all__ = ["DocumentError", "DocumentOracle", "DocumentOracleError", "MAX_CLASSES", "chain_proof",
           "document_oracle", "require_classes"]
