"""The float64 batch oracle is the catalog documents' own closed form, and SymPy's derivative.

``derive.oracle.batch`` evaluates four losses' gradients in NumPy for the implementation judge;
the catalog's documents derive the same gradients and the document checker proves them.  Here
the two are tied together: at small instances of each document (the sizes and labels the checker
itself uses), the document's loss ``L`` and every member of its boxed closed form are made SymPy
by :mod:`derive.document.instantiate`, evaluated exactly (30 digits) at seeded float64 points, and
compared with the oracle at the same point; SymPy's own ``diff`` of the document's ``L`` by every
weight symbol must agree with both.

The conventions differ, and this file is where they are written down once:

* the documents' weights ``W`` are K x D with class rows ``w_j``; the oracle's are D x K (``W.T``),
  and for the one-score losses a D-vector;
* the batch softmax and the SVM documents number classes 1..K, the oracle 0..K-1 (the seed
  document ``softmax-cross-entropy.md`` is 0-based, like the oracle);
* the document's ``\\lambda`` is the oracle's ``reg`` (``L = mean + reg * sum(W**2)``, no 1/2);
* a one-sample document is the oracle at N = 1 and reg = 0, a document with no bias is
  ``bias=None``, and logistic regression's scalar bias ``c`` is a 0-d array.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
import sympy
from sympy.core.evalf import PrecisionExhausted

from derive.catalog import entry
from derive.document.ast import Add, Derivative, Name, Num
from derive.document.check import labelings, size_values
from derive.document.declare import read_document
from derive.document.instantiate import Instance, free_indices
from derive.document.source import Source
from derive.oracle import batch
from derive.oracle.batch import BATCH_LOSSES, Problem

#: Agreement asked of every value: relative, with a floor for entries near zero (all values here
#: are of order one, so the floor is an absolute 1e-12 on them).
RTOL, FLOOR = 1e-12, 1.0
DIGITS, MAX_DIGITS = 30, 2000
SEEDS = (0, 1, 2)


# --- the document at one instance, as SymPy ---------------------------------------------------

def _flat(value) -> list:
    return list(value) if isinstance(value, sympy.MatrixBase) else [value]


@dataclass(frozen=True)
class DocumentAt:
    """A document's loss and boxed closed form at one instance, in its declared variables only."""

    name: str
    at: Instance
    loss: sympy.Expr
    #: every parameter symbol a boxed step differentiates by -> the closed form's entry for it
    closed_form: dict[sympy.Symbol, sympy.Expr]


@lru_cache(maxsize=None)
def document(name: str):
    found = entry(name)
    return read_document(Source(found.text, str(found.path)))


def _key(labels: dict) -> tuple:
    return tuple(sorted(labels.items()))


@lru_cache(maxsize=None)
def document_at(name: str, sizes: tuple, labels: tuple) -> DocumentAt:
    doc = document(name)
    at = Instance(doc, dict(sizes), dict(labels))
    loss = at.primitive(at.value(Name("L"), {}))
    closed_form: dict[sympy.Symbol, sympy.Expr] = {}
    boxed = [step.equation for step in doc.steps if step.equation.boxed]
    assert boxed, f"{name} has no boxed closed form"
    for equation in boxed:
        assert isinstance(equation.left, Derivative) and equation.left.of == Name("L"), equation.source
        both = Add((equation.left, equation.right))
        letters = free_indices(doc, both, set())
        ranges = [at.index_range(letter, both, {}) for letter in letters]
        for combo in itertools.product(*[range(a, b + 1) for a, b in ranges]):
            env = dict(zip(letters, combo))
            by = _flat(at.value(equation.left.by, env))
            right = _flat(at.primitive(at.value(equation.right, env)))
            if len(right) == 1 and len(by) > 1:  # a scalar zero may stand for a zero vector
                right = right * len(by)
            assert len(by) == len(right), (equation.source, env)
            for symbol, value in zip(by, right):
                assert isinstance(symbol, sympy.Symbol) and symbol not in closed_form
                closed_form[symbol] = value
    return DocumentAt(name, at, loss, closed_form)


def symbols(at: Instance, base: str, *member: int):
    """The SymPy symbols of a declared variable (member ``member`` of a family), as the document
    numbers it."""
    return at.value(Name(base, tuple(Num(Fraction(i)) for i in member)), {})


# --- the conventions: one oracle problem per document point ---------------------------------

@dataclass(frozen=True)
class Point:
    """One point in both conventions: the oracle's :class:`Problem`, the document's symbols'
    exact values, and where each document parameter's gradient sits in the oracle's ``Exact``."""

    problem: Problem
    values: dict[sympy.Symbol, sympy.Rational]
    #: document symbol -> ("weights" or "bias", index into that array of ``Exact``)
    layout: dict[sympy.Symbol, tuple[str, tuple]]


def _put(values: dict, matrix, array: np.ndarray) -> None:
    for symbol, value in zip(_flat(matrix), np.asarray(array).reshape(-1)):
        values[symbol] = sympy.Rational(float(value))  # the float64 value, exactly


def _samples(at: Instance, rng, count: int, dims: int, values: dict, scale: float) -> np.ndarray:
    X = rng.normal(0.0, scale, size=(count, dims))
    for i in range(count):
        _put(values, symbols(at, "x", at.base + i), X[i])
    return X


def _class_weights(at: Instance, rng, values: dict, layout: dict) -> np.ndarray:
    """The document's K x D class rows, drawn; the oracle gets their transpose."""
    K, D = at.sizes["K"], at.sizes["D"]
    W = symbols(at, "W")
    assert W.shape == (K, D)
    weights = rng.normal(0.0, 1.0, size=(K, D))
    _put(values, W, weights)
    for j, d in itertools.product(range(K), range(D)):
        layout[W[j, d]] = ("weights", (d, j))  # the oracle's D x K
    return weights.T.copy()


def _class_labels(at: Instance) -> np.ndarray:
    y = at.labels["y"]
    return np.array([v - at.base for v in (y if isinstance(y, tuple) else (y,))])  # 0-based


def softmax_batch_point(at: Instance, rng) -> Point:
    K, D, N = at.sizes["K"], at.sizes["D"], at.sizes["N"]
    values, layout = {}, {}
    weights = _class_weights(at, rng, values, layout)
    bias = rng.normal(0.0, 1.0, size=K)
    b = symbols(at, "b")
    _put(values, b, bias)
    for j in range(K):
        layout[_flat(b)[j]] = ("bias", (j,))
    X = _samples(at, rng, N, D, values, 1.5)
    reg = float(rng.uniform(0.05, 1.0))
    values[symbols(at, "\\lambda")] = sympy.Rational(reg)
    return Point(Problem(weights, bias, X, _class_labels(at), reg), values, layout)


def svm_point(at: Instance, rng) -> Point:
    D = at.sizes["D"]
    values, layout = {}, {}
    weights = _class_weights(at, rng, values, layout)
    x = rng.normal(0.0, 1.5, size=D)
    _put(values, symbols(at, "x"), x)
    return Point(Problem(weights, None, x[None, :], _class_labels(at), 0.0), values, layout)


seed_softmax_point = svm_point  # one sample, K x D rows, no bias, no penalty: the same layout


def logistic_point(at: Instance, rng) -> Point:
    D = at.sizes["D"]
    values = {}
    weights, x = rng.normal(0.0, 1.0, size=D), rng.normal(0.0, 1.5, size=D)
    bias = float(rng.normal())
    w = symbols(at, "w")
    _put(values, w, weights)
    _put(values, symbols(at, "x"), x)
    c = symbols(at, "c")
    values[c] = sympy.Rational(bias)
    layout = {symbol: ("weights", (d,)) for d, symbol in enumerate(_flat(w))}
    layout[c] = ("bias", ())
    y = np.array([at.labels["y"]], dtype=np.float64)  # {0, 1} in both
    return Point(Problem(weights, np.array(bias), x[None, :], y, 0.0), values, layout)


def mse_point(at: Instance, rng) -> Point:
    D, N = at.sizes["D"], at.sizes["N"]
    values = {}
    weights = rng.normal(0.0, 1.0, size=D)
    w = symbols(at, "w")
    _put(values, w, weights)
    X = _samples(at, rng, N, D, values, 1.0)
    targets = rng.normal(0.0, 2.0, size=N)
    for i in range(N):
        _put(values, symbols(at, "t", at.base + i), targets[i : i + 1])
    layout = {symbol: ("weights", (d,)) for d, symbol in enumerate(_flat(w))}
    return Point(Problem(weights, None, X, targets, 0.0), values, layout)


@dataclass(frozen=True)
class Case:
    document: str
    oracle: str
    point: object
    #: (sizes, labels) instances, each one the document checker checks
    instances: tuple


CASES = {
    "softmax-cross-entropy-batch": Case(
        "softmax-cross-entropy-batch", "softmax-cross-entropy", softmax_batch_point,
        (({"K": 2, "D": 1, "N": 1}, {"y": (2,)}),
         ({"K": 3, "D": 2, "N": 2}, {"y": (1, 3)}),
         ({"K": 3, "D": 2, "N": 2}, {"y": (2, 2)}))),
    "mean-squared-error": Case(
        "mean-squared-error", "mean-squared-error", mse_point,
        (({"D": 1, "N": 1}, {}), ({"D": 2, "N": 2}, {}), ({"D": 3, "N": 3}, {}))),
    "logistic-regression": Case(
        "logistic-regression", "logistic-regression", logistic_point,
        (({"D": 1}, {"y": 0}), ({"D": 2}, {"y": 1}), ({"D": 3}, {"y": 0}))),
    "multiclass-svm": Case(
        "multiclass-svm", "multiclass-svm", svm_point,
        (({"K": 2, "D": 1}, {"y": 1}), ({"K": 3, "D": 2}, {"y": 3}), ({"K": 4, "D": 3}, {"y": 2}))),
    # The oracle's namesake: the seed document, one sample, 0-based labels like the oracle.
    "softmax-cross-entropy": Case(
        "softmax-cross-entropy", "softmax-cross-entropy", seed_softmax_point,
        (({"K": 2, "D": 1}, {"y": 0}), ({"K": 3, "D": 2}, {"y": 2}))),
}

PARAMS = [pytest.param(name, sizes, labels, id=f"{name}-" + ",".join(
              f"{k}{v}" for k, v in {**sizes, **labels}.items()))
          for name, case in CASES.items() for sizes, labels in case.instances]


# --- the comparison -------------------------------------------------------------------------

def _exact(expr: sympy.Expr, values: dict) -> float:
    """``expr`` at an exact point.  Plain ``evalf(30)`` is not enough: at a score of ~900 it gives
    ``-log(1 - sigma(z))`` as 352.1 instead of 883.9, silently (the cancellation needs ~400 digits);
    ``strict`` raises the working precision until the digits are certain."""
    exact = expr.xreplace(values)
    try:
        value = exact.evalf(DIGITS, strict=True, maxn=MAX_DIGITS)
    except PrecisionExhausted:  # a value evalf cannot prove nonzero: at most tiny
        value = exact.evalf(DIGITS, maxn=MAX_DIGITS)
    assert value.is_number and not value.free_symbols, value
    assert value.is_real, value
    return float(value)


def _close(got: float, want: float) -> bool:
    return math.isfinite(got) and abs(got - want) <= RTOL * max(abs(want), FLOOR)


def compare(doc: DocumentAt, case: Case, point: Point) -> list[str]:
    """Every disagreement between the oracle (looked up in ``BATCH_LOSSES`` now), the document's
    closed form and SymPy's derivative of the document's ``L``, at ``point``; empty when they agree."""
    exact = BATCH_LOSSES[case.oracle].evaluate(point.problem)
    problems = []
    loss = _exact(doc.loss, point.values)
    if not _close(exact.loss, loss):
        problems.append(f"L: oracle {exact.loss!r}, document {loss!r}")
    if set(doc.closed_form) != set(point.layout):
        problems.append(f"the closed form differentiates by {sorted(map(str, doc.closed_form))}, "
                        f"the oracle has {sorted(map(str, point.layout))}")
    for symbol, (array, index) in point.layout.items():
        oracle = float(getattr(exact, array)[index])
        derivative = _exact(sympy.diff(doc.loss, symbol), point.values)
        if not _close(oracle, derivative):
            problems.append(f"dL/d{symbol}: oracle {oracle!r}, SymPy's diff of L {derivative!r}")
        if symbol in doc.closed_form:
            closed = _exact(doc.closed_form[symbol], point.values)
            if not _close(closed, derivative):
                problems.append(f"dL/d{symbol}: closed form {closed!r}, SymPy's diff of L {derivative!r}")
            if not _close(oracle, closed):
                problems.append(f"dL/d{symbol}: oracle {oracle!r}, closed form {closed!r}")
    return problems


def point_at(case: Case, doc: DocumentAt, seed: int) -> Point:
    return case.point(doc.at, np.random.default_rng([seed, len(doc.closed_form)]))


# --- the tests ------------------------------------------------------------------------------

def test_the_instances_are_ones_the_document_checker_checks():
    for name, case in CASES.items():
        doc = document(name)
        checked_sizes = size_values(doc)
        for sizes, labels in case.instances:
            assert sizes in checked_sizes, (name, sizes)
            assert labels in labelings(doc, Instance(doc, sizes, {})), (name, labels)


def test_every_oracle_loss_is_tied_to_a_document_here():
    assert {case.oracle for case in CASES.values()} == set(BATCH_LOSSES)


@pytest.mark.parametrize("name, sizes, labels", PARAMS)
def test_oracle_is_the_documents_closed_form_and_sympys_derivative(name, sizes, labels):
    case = CASES[name]
    doc = document_at(name, tuple(sorted(sizes.items())), _key(labels))
    for seed in SEEDS:
        point = point_at(case, doc, seed)
        assert compare(doc, case, point) == [], (name, sizes, labels, seed)


def test_the_closed_form_covers_every_parameter_member():
    doc = document_at("softmax-cross-entropy-batch", (("D", 2), ("K", 3), ("N", 2)), (("y", (1, 3)),))
    assert sorted(map(str, doc.closed_form)) == sorted(
        [f"W_{{{j},{d}}}" for j in (1, 2, 3) for d in (1, 2)] + [f"b_{{{j}}}" for j in (1, 2, 3)])
    doc = document_at("logistic-regression", (("D", 2),), (("y", 1),))
    assert sorted(map(str, doc.closed_form)) == ["c", "w_{1}", "w_{2}"]


def test_the_svm_points_are_off_the_kinks_and_violate_some_margins_but_not_all():
    """The hinge's indicators are compared, so the points must be away from the kinks and
    should make some margins positive and some negative."""
    case, seen = CASES["multiclass-svm"], set()
    for sizes, labels in case.instances:
        doc = document_at(case.document, tuple(sorted(sizes.items())), _key(labels))
        for seed in SEEDS:
            point = point_at(case, doc, seed)
            scores = point.problem.scores()
            assert BATCH_LOSSES["multiclass-svm"].kink_distance(scores, point.problem.y).min() > 1e-6
            seen.update(np.unique(BATCH_LOSSES["multiclass-svm"].per_sample(scores, point.problem.y)[1]))
    assert {0.0, 1.0} <= seen, seen


def scaled(point: Point, factor: float) -> Point:
    """The same point with every parameter (weights and bias) times ``factor``, a power of two,
    so that the float64 values stay exact."""
    values = dict(point.values)
    for symbol in point.layout:
        values[symbol] = values[symbol] * sympy.Rational(factor)
    problem = point.problem
    problem = dataclasses.replace(problem, weights=problem.weights * factor,
                                  bias=None if problem.bias is None else problem.bias * factor)
    return dataclasses.replace(point, problem=problem, values=values)


@pytest.mark.parametrize("name", list(CASES))
def test_the_stable_oracle_is_the_naive_document_at_extreme_scores(name):
    """Scores in the hundreds: the oracle's log-sum-exp and sigmoid are the document's
    ``-log(e^f_y / sum e^f)`` and ``-log(1 - sigma(z))``, evaluated with enough digits."""
    case = CASES[name]
    sizes, labels = case.instances[-1]
    doc = document_at(name, tuple(sorted(sizes.items())), _key(labels))
    largest = 0.0
    for seed in SEEDS:
        point = scaled(point_at(case, doc, seed), 2.0**9)
        largest = max(largest, np.abs(point.problem.scores()).max())
        assert compare(doc, case, point) == [], (name, seed)
    assert largest > 300


# --- the comparison catches a wrong oracle, and a wrong convention ----------------------------

def _softmax_forgetting_the_label(scores, labels):
    losses, gradient = batch._softmax_cross_entropy(scores, labels)
    gradient[np.arange(len(scores)), labels] += 1.0  # p, not p - onehot
    return losses, gradient


def _mse_without_the_two(scores, targets):
    residuals = scores - targets
    return residuals**2, residuals


def _svm_counting_the_label(scores, labels):
    losses, gradient = batch._svm(scores, labels)
    gradient[np.arange(len(scores)), labels] -= 1.0  # the label's own margin 1 counted
    return losses, gradient


@pytest.mark.parametrize("name, oracle, wrong", [
    ("softmax-cross-entropy-batch", "softmax-cross-entropy", _softmax_forgetting_the_label),
    ("mean-squared-error", "mean-squared-error", _mse_without_the_two),
    ("multiclass-svm", "multiclass-svm", _svm_counting_the_label),
])
def test_a_wrong_oracle_gradient_is_reported(monkeypatch, name, oracle, wrong):
    case = CASES[name]
    sizes, labels = case.instances[1]
    doc = document_at(name, tuple(sorted(sizes.items())), _key(labels))
    point = point_at(case, doc, 0)
    assert compare(doc, case, point) == []
    monkeypatch.setitem(BATCH_LOSSES, oracle, dataclasses.replace(BATCH_LOSSES[oracle], per_sample=wrong))
    problems = compare(doc, case, point)
    assert problems and all(p.startswith("dL/d") for p in problems), problems
    assert any("oracle" in p and "SymPy's diff" in p for p in problems)
    assert any("oracle" in p and "closed form" in p for p in problems)
    # the document's closed form and SymPy's derivative still agree with each other
    assert not any(p.split(": ", 1)[1].startswith("closed form") for p in problems)


def test_a_wrong_oracle_loss_is_reported(monkeypatch):
    case = CASES["logistic-regression"]
    sizes, labels = case.instances[1]
    doc = document_at(case.document, tuple(sorted(sizes.items())), _key(labels))
    point = point_at(case, doc, 0)
    right = BATCH_LOSSES["logistic-regression"]

    def log1p_of_exp_minus_y(scores, y):  # log(1 + e^s) without the "- y s"
        losses, gradient = right.per_sample(scores, y)
        return losses + y * scores, gradient

    monkeypatch.setitem(BATCH_LOSSES, "logistic-regression",
                        dataclasses.replace(right, per_sample=log1p_of_exp_minus_y))
    problems = compare(doc, case, point)
    assert len(problems) == 1 and problems[0].startswith("L: oracle"), problems


def test_the_transpose_and_the_label_base_matter():
    """The conventions are not cosmetic: the document's 1-based class handed to the oracle as is,
    or its K x D weights not transposed, give a different loss and gradient (or fail)."""
    case = CASES["softmax-cross-entropy-batch"]
    sizes, labels = case.instances[1]  # K = 3, D = 2, N = 2, y = (1, 3)
    doc = document_at(case.document, tuple(sorted(sizes.items())), _key(labels))
    point = point_at(case, doc, 0)
    assert compare(doc, case, point) == []
    # 1-based labels given to the oracle: class 3 is out of range for a 0-based K = 3
    one_based = dataclasses.replace(point, problem=dataclasses.replace(point.problem, y=point.problem.y + 1))
    with pytest.raises(IndexError):
        compare(doc, case, one_based)
    # every label a class off, none out of range (0-based (0, 2) made (1, 0)): silently another loss
    wrapped = (point.problem.y + 1) % 3
    shifted = dataclasses.replace(point, problem=dataclasses.replace(point.problem, y=wrapped))
    assert any(p.startswith("L:") for p in compare(doc, case, shifted))
    # the document's rows as the oracle's columns, at a square instance: a different gradient
    doc = document_at("softmax-cross-entropy", (("D", 2), ("K", 2)), (("y", 0),))
    case = CASES["softmax-cross-entropy"]
    point = point_at(case, doc, 1)
    assert compare(doc, case, point) == []
    untransposed = dataclasses.replace(
        point, problem=dataclasses.replace(point.problem, weights=point.problem.weights.T.copy()))
    assert compare(doc, case, untransposed)
