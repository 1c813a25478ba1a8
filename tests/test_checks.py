"""Tests of checks: the cross-check passes right derivations and refutes planted wrong ones."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import sympy

import checks
import derive
from checks import TOLERANCES, central_difference, cross_check, forward_difference, relative_error
from checks import stable
from checks.points import Point, random_points, score_magnitude
from checks.reference import reference_gradient, reference_loss

CHECKS_DIR = Path(checks.__file__).parent


class Planted:
    """A real derivation with some claims replaced by wrong ones: the checker must notice."""

    def __init__(self, base, **replacements):
        self._base = base
        self._replacements = replacements

    def __getattr__(self, name):
        if name in self._replacements:
            return self._replacements[name]
        return getattr(self._base, name)


def derivation(classes=3, features=2, label=0):
    return derive.softmax_cross_entropy(classes=classes, features=features, label=label)


def failing_methods(result):
    return {row.name for row in result.methods if not row.ok}


CLOSED_FORM_ROWS = {
    "closed form vs mpmath reference",
    "closed form vs central differences",
    "closed form vs forward differences",
    "descent step along closed form",
}
SYMPY_ROWS = {
    "SymPy diff vs mpmath reference",
    "SymPy diff vs central differences",
    "SymPy diff vs forward differences",
}


# --- a right derivation passes -------------------------------------------------------------


@pytest.mark.parametrize("logit_scale", [1.0, 1e4])
@pytest.mark.parametrize("classes, features, label", [(2, 2, 1), (3, 2, 0), (5, 3, 4)])
def test_passes_at_ordinary_and_extreme_logits(classes, features, label, logit_scale):
    result = cross_check(derivation(classes, features, label), logit_scale=logit_scale)
    assert result.ok, str(result)
    assert all(row.ok for row in result.methods)
    assert math.isfinite(result.max_relative_error)
    assert result.max_relative_error == max(row.max_relative_error for row in result.methods)
    assert "verdict: ok" in str(result)


def test_extreme_logits_really_are_extreme():
    d = derivation()
    result = cross_check(d, logit_scale=1e4)
    assert "score magnitude nu" in result.table()
    points = random_points(d.classes, d.features, 16, 0, 1e4)
    largest = max(float(np.abs(p.weights @ p.x).max()) for p in points)
    assert largest > 1e4  # exp of this overflows float64 (limit about 709)


def test_table_lists_every_method_with_its_numbers():
    result = cross_check(derivation(), points=4)
    text = result.table()
    assert str(result) == text
    for row in result.methods:
        assert row.name in text
        assert row.points == 4
        assert row.max_relative_error <= row.tolerance
    assert {row.name for row in result.methods} >= CLOSED_FORM_ROWS | SYMPY_ROWS


def test_same_seed_gives_the_same_table():
    d = derivation()
    assert cross_check(d, points=4, seed=7).table() == cross_check(d, points=4, seed=7).table()


def test_descent_counts_apart_the_points_it_cannot_step():
    result = cross_check(derivation(2, 2, 0), logit_scale=1e4)
    descent = next(row for row in result.methods if row.name.startswith("descent"))
    assert descent.ok and 0 < descent.points < 16
    assert "not stepped" in descent.note and "not stepped" in str(result)


# --- the checker of the checker: planted wrong claims are refuted ---------------------------


@pytest.mark.parametrize("logit_scale", [1.0, 1e4])
def test_refutes_closed_form_off_by_five_hundredths_of_a_percent(logit_scale):
    d = derivation()
    planted = Planted(d, closed_form=lambda m: d.closed_form(m) * sympy.Rational(10005, 10000))
    result = cross_check(planted, logit_scale=logit_scale)
    assert not result.ok
    assert failing_methods(result) == CLOSED_FORM_ROWS
    message = next(f for f in result.failures if f.startswith("closed form vs mpmath reference"))
    assert "dL/dw[" in message and "reference" in message and "relative error" in message
    assert "FAILED closed form vs mpmath reference" in str(result)


def test_refutes_sympy_gradient_with_the_wrong_sign():
    d = derivation()
    result = cross_check(Planted(d, gradient=lambda m: -d.gradient(m)))
    assert failing_methods(result) == SYMPY_ROWS
    assert not result.ok


def test_refutes_closed_form_missing_the_indicator():
    d = derivation()
    planted = Planted(d, closed_form=lambda m: d.probabilities[m] * d.x.T)
    result = cross_check(planted)
    assert failing_methods(result) == CLOSED_FORM_ROWS
    descent = next(f for f in result.failures if f.startswith("descent"))
    assert "f_y must rise and the loss fall" in descent


def test_refutes_a_wrong_loss_and_its_derivative():
    d = derivation()
    wrong_loss = sympy.log(d.probabilities[d.label])  # sign dropped
    planted = Planted(
        d,
        loss=wrong_loss,
        gradient=lambda m: sympy.Matrix([[sympy.diff(wrong_loss, w) for w in d.weights.row(m)]]),
    )
    result = cross_check(planted)
    assert failing_methods(result) == {"loss: SymPy vs mpmath reference"} | SYMPY_ROWS


# --- NaN never passes as agreement ----------------------------------------------------------


def test_nan_in_a_claim_fails_loudly():
    d = derivation()

    def closed_form_with_nan(m):
        row = d.closed_form(m)
        return row.applyfunc(lambda entry: sympy.nan) if m == 1 else row

    result = cross_check(Planted(d, closed_form=closed_form_with_nan), points=4)
    assert not result.ok
    assert result.max_relative_error == math.inf
    assert CLOSED_FORM_ROWS <= failing_methods(result)
    assert "dL/dw[1,0]" in str(result) and "not a finite real number" in str(result)


def test_naive_float64_lambdify_gives_nan_at_scores_1000_0_and_is_flagged():
    d = derivation(classes=2, features=1, label=1)
    weights, x = np.array([[1000.0], [0.0]]), np.array([1.0])  # f = (1000, 0)
    naive = sympy.lambdify(list(d.weights) + list(d.x), sympy.Matrix.vstack(
        *[d.gradient(m) for m in range(d.classes)]
    ), modules="numpy")
    with np.errstate(over="ignore", invalid="ignore"):
        values = naive(*weights.ravel(), *x)
    assert np.isnan(values).any()
    reference = reference_gradient(weights, x, d.label)
    flagged = relative_error(values, reference)
    assert flagged.error == math.inf and not flagged.finite
    rule = TOLERANCES["stable float64"]
    nu = score_magnitude((Point(weights, x),))
    stable_error = relative_error(stable.gradient(weights, x, d.label), reference, rule.floor)
    assert stable_error.error <= rule.tolerance_at(nu)


@pytest.mark.parametrize(
    "value, reference",
    [
        ([[float("nan")]], [[float("nan")]]),
        ([[1.0, float("inf")]], [[1.0, float("inf")]]),
        ([[1.0]], [[float("nan")]]),
        ([[complex(1.0, 1e-30)]], [[1.0]]),
    ],
)
def test_nan_inf_and_complex_are_never_agreement(value, reference):
    comparison = relative_error(value, reference)
    assert comparison.error == math.inf
    assert not comparison.error <= 1.0


def test_error_is_normwise_and_the_floor_is_absolute():
    # p_y - 1 = -e^-10000 underflows to 0 in float64; normwise, the gradient is still right.
    assert relative_error([[0.0, 1.0]], [[1e-300, 1.0]]).error == pytest.approx(1e-300)
    assert relative_error([[0.0]], [[1e-300]]).error == 1.0
    assert relative_error([[0.0]], [[1e-300]], floor=1e-200).error == pytest.approx(1e-100)


# --- the numeric pieces and the table -------------------------------------------------------


def test_finite_differences_of_exp_are_within_the_table():
    at = np.array([-1.0, 0.0, 0.5, 1.0])
    exact = np.exp(at)
    for name, difference in [("central difference", central_difference),
                             ("forward difference", forward_difference)]:
        rule = TOLERANCES[name]
        estimate = difference(lambda a: float(np.exp(a).sum()), at, rule.step_at(1.0))
        assert relative_error(estimate, exact).error <= rule.tolerance_at(1.0), name


def test_central_differences_beat_forward_differences():
    at = np.array([0.3])
    steps = {name: TOLERANCES[name].step_at(1.0) for name in TOLERANCES if "difference" in name}
    central = central_difference(lambda a: float(np.exp(a).sum()), at, steps["central difference"])
    forward = forward_difference(lambda a: float(np.exp(a).sum()), at, steps["forward difference"])
    assert relative_error(central, np.exp(at)).error < relative_error(forward, np.exp(at)).error


def test_stable_float64_loss_neither_overflows_nor_loses_tiny_losses():
    assert stable.loss(np.array([[1000.0], [0.0]]), np.array([1.0]), label=1) == 1000.0
    tiny = stable.loss(np.array([[40.0], [0.0]]), np.array([1.0]), label=0)
    exact = reference_loss(np.array([[40.0], [0.0]]), np.array([1.0]), label=0)
    assert relative_error(tiny, exact).error <= 4 * np.finfo(float).eps


def test_every_tolerance_says_why_and_is_used():
    source = (CHECKS_DIR / "cross_check.py").read_text()
    for name, rule in TOLERANCES.items():
        assert len(rule.why) > 80, name
        assert rule.tolerance > 0 and rule.floor >= 0, name
        assert f'"{name}"' in source, f"{name} is never used"


def test_numbers_live_only_in_the_tolerance_table():
    small_integers = {0, 1, 2}
    for path in sorted(CHECKS_DIR.glob("*.py")):
        if path.name == "tolerances.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
                assert node.value in small_integers, f"{path.name}:{node.lineno}: {node.value!r}"


def test_rejects_bad_arguments_and_foreign_symbols():
    d = derivation()
    with pytest.raises(ValueError, match="points"):
        cross_check(d, points=0)
    with pytest.raises(ValueError, match="logit_scale"):
        cross_check(d, logit_scale=float("nan"))
    stray = sympy.Symbol("lambda")
    with pytest.raises(ValueError, match="lambda"):
        cross_check(Planted(d, closed_form=lambda m: d.closed_form(m) * stray), points=1)
