"""Tests of checks: the cross-check passes right derivations and refutes planted wrong ones."""

from __future__ import annotations

import ast
import math
from decimal import Decimal
from fractions import Fraction
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


# --- the supported range of logit_scale, and rows that cannot fail at a scale -----------------

TOP = checks.tolerances.MAX_LOGIT_SCALE.value
CAP = checks.tolerances.TOLERANCE_CAP.value
FLOAT64_ROWS = {
    "SymPy diff vs central differences",
    "closed form vs central differences",
    "SymPy diff vs forward differences",
    "closed form vs forward differences",
    "stable float64 gradient vs mpmath reference",
}


def failing_applicable(result):
    return {row.name for row in result.methods if row.applicable and not row.ok}


@pytest.mark.parametrize(
    "logit_scale",
    [
        0, 0.0, -0.0, -1.0, -1e-300, -TOP, float("inf"), float("-inf"), float("nan"),
        np.float64("nan"), np.nextafter(TOP, math.inf), 1e16, 1e30, 1e100, 10**16, 10**400,
        -(10**400), Fraction(10**400 + 1, 3), Fraction(1, 10**400), True, False, np.bool_(True),
        "1", "1e4", None, 1 + 0j, [1.0], Decimal("1"),
    ],
    ids=repr,
)
def test_rejects_logit_scales_outside_the_range(logit_scale):
    with pytest.raises(ValueError) as raised:  # never OverflowError, never TypeError
        cross_check(derivation(), points=1, logit_scale=logit_scale)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 200
    assert message.startswith("logit_scale must be a real number with 0 < logit_scale <= 1e+15")


@pytest.mark.parametrize("logit_scale", [5e-324, 1e-300, 1, 10**15, np.float64(TOP), Fraction(TOP)])
def test_accepts_the_ends_of_the_range_and_any_real_type(logit_scale):
    result = cross_check(derivation(), points=2, logit_scale=logit_scale)
    assert result.ok, str(result)


def test_rows_that_cannot_fail_at_the_top_are_not_applicable():
    result = cross_check(derivation(), points=4, logit_scale=TOP)
    not_applicable = {row.name for row in result.methods if not row.applicable}
    assert not_applicable == FLOAT64_ROWS
    for row in result.methods:
        assert (row.tolerance < CAP) == row.applicable, row.name
        if not row.applicable:
            assert not row.ok and row.status == "n/a" and not row.failure
            assert "not applicable at this scale" in row.note
    assert result.ok and result.failures == ()
    assert result.max_relative_error == max(
        row.max_relative_error for row in result.methods if row.applicable
    )
    text = str(result)
    assert text.count(" n/a\n") == len(FLOAT64_ROWS)
    assert "verdict: ok, every applicable method within its tolerance; 5 not applicable" in text


def test_applicability_follows_the_score_magnitude():
    # nu ~ 3e9: forward differences' tolerance has passed the cap, central differences' has not.
    result = cross_check(derivation(), points=4, logit_scale=1e9)
    status = {row.name: row.status for row in result.methods}
    assert status["closed form vs forward differences"] == "n/a"
    assert status["closed form vs central differences"] == "yes"
    assert status["stable float64 gradient vs mpmath reference"] == "yes"
    assert result.ok, str(result)


def test_not_applicable_rows_are_never_a_pass():
    coarse = checks.MethodRow("forward", 4, 0.1, 10.0, False, note="n/a", applicable=False)
    failed = checks.MethodRow("reference", 4, 1.0, 1e-30, False, failure="point 0")
    nothing = checks.CrossCheck("only rows that cannot fail", (coarse,))
    assert not nothing.ok and nothing.max_relative_error == math.inf
    assert "nothing was checked" in str(nothing)
    mixed = checks.CrossCheck("one failure", (coarse, failed))
    assert not mixed.ok and mixed.failures == ("reference: point 0",)
    assert "FAILED, 1 of 1 applicable methods; 1 not applicable at this scale" in str(mixed)


@pytest.mark.parametrize("logit_scale", [1e6, 1e11, TOP])
@pytest.mark.parametrize("classes, features, label", [(2, 2, 1), (3, 2, 0)])
def test_passes_across_the_range(classes, features, label, logit_scale):
    for seed in (0, 1):
        result = cross_check(
            derivation(classes, features, label), points=8, seed=seed, logit_scale=logit_scale
        )
        assert result.ok, str(result)


@pytest.mark.parametrize("classes, features, label", [(2, 2, 1), (3, 2, 0)])
def test_refutes_wrong_gradients_at_the_top_of_the_range(classes, features, label):
    d = derivation(classes, features, label)
    wrong = {
        "missing indicator": (Planted(d, closed_form=lambda m: d.probabilities[m] * d.x.T),
                              CLOSED_FORM_ROWS),
        "off by 0.05%": (Planted(d, closed_form=lambda m: d.closed_form(m) * sympy.Rational(
            10005, 10000)), CLOSED_FORM_ROWS),
        "wrong sign": (Planted(d, gradient=lambda m: -d.gradient(m)), SYMPY_ROWS),
    }
    for name, (planted, rows) in wrong.items():
        result = cross_check(planted, points=8, logit_scale=TOP)
        applicable = {row.name for row in result.methods if row.applicable}
        assert rows & applicable, name
        assert not result.ok, name
        assert failing_applicable(result) == rows & applicable, name


def test_descent_with_no_point_to_step_is_not_applicable():
    # K = 2, label 0 wins by far at both points: the gradient is below every floor, so nothing
    # can be stepped; that says nothing about the derivation.
    d = derivation(2, 1, 0)
    result = next(
        r for r in (cross_check(d, points=2, seed=s, logit_scale=1e4) for s in range(40))
        if next(row for row in r.methods if row.name.startswith("descent")).points == 0
    )
    descent = next(row for row in result.methods if row.name.startswith("descent"))
    assert not descent.applicable and descent.status == "n/a"
    assert "nothing to step" in descent.note
    assert result.ok, str(result)


def test_every_limit_says_why():
    for limit in (checks.tolerances.MAX_LOGIT_SCALE, checks.tolerances.TOLERANCE_CAP):
        assert limit.value > 0 and len(limit.why) > 80
