"""The softmax cross-entropy model and its derivation, against independent expectations.

The expected values here never come from the code under test: gradients are checked against
(a) a hand-written softmax gradient evaluated in mpmath at exact rational points, and (b) SymPy's
derivative of the loss *as written* (``-log(e^{f_y} / sum_j e^{f_j})``, not its log-sum-exp form,
not through the scores), evaluated at the same points.
"""

import mpmath
import pytest
import sympy
from sympy import MatrixSymbol, Rational, exp, log

import derive
from derive import ModelInputError
from derive.losses.softmax import MAX_CLASSES, MAX_FEATURES

#: Exact points: (weights K x D, x), small rationals of both signs.
POINTS = [
    ([[Rational(1, 2), Rational(-3, 4)], [Rational(2, 3), Rational(1, 5)], [Rational(-1), Rational(7, 8)]],
     [Rational(3, 2), Rational(-2, 5)]),
    ([[Rational(-5, 4), Rational(1, 3)], [Rational(0), Rational(9, 10)], [Rational(3, 7), Rational(-1, 6)]],
     [Rational(-7, 10), Rational(4, 3)]),
]
DIGITS = 50


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=3, features=2, label=1)


def at(d, point) -> dict:
    weights, x = point
    values = {d.weights[m, k]: weights[m][k] for m in range(d.classes) for k in range(d.features)}
    values.update({d.x[k]: x[k] for k in range(d.features)})
    return values


def hand_gradient(point, label: int) -> list[list[mpmath.mpf]]:
    """(p_m - [m = y]) x_k with p the softmax of W x, all in mpmath from the numbers alone."""
    weights, x = point
    with mpmath.workdps(DIGITS):
        xs = [mpmath.mpf(v.p) / v.q for v in x]
        scores = [mpmath.fsum(mpmath.mpf(w.p) / w.q * xk for w, xk in zip(row, xs)) for row in weights]
        total = mpmath.fsum(mpmath.exp(f) for f in scores)
        p = [mpmath.exp(f) / total for f in scores]
        return [[(p[m] - (1 if m == label else 0)) * xk for xk in xs] for m in range(len(weights))]


def number(expr, values) -> mpmath.mpf:
    return mpmath.mpf(str(expr.xreplace(values).evalf(DIGITS)))


def test_symbols_and_shapes(d):
    assert d.weights.shape == (3, 2) and d.x.shape == (2, 1)
    assert all(w.is_Symbol and w.is_real for w in d.weights)
    assert all(xk.is_Symbol and xk.is_real for xk in d.x)
    assert not d.loss.atoms(MatrixSymbol)  # never differentiate matrix symbols
    assert d.scores == d.weights * d.x


def test_loss_is_minus_log_softmax_of_the_label(d):
    f = d.scores
    partition = sum(exp(fj) for fj in f)
    assert d.loss == -log(exp(f[1]) / partition)  # SymPy's evaluated construction: same tree
    assert d.probabilities[0] == exp(f[0]) / partition
    assert d.model.log_sum_exp == -f[1] + log(partition)


def test_the_loss_is_the_score_loss_at_the_scores(d):
    assert d.at_weights(d.model.score_loss_as_written) == d.loss
    assert d.at_weights(d.score_loss) == d.audit_loss


def assert_rows_match_hand_gradient(d, rows, point):
    """Every entry of ``rows(m)`` equals the hand-written gradient at ``point``, to 45 digits."""
    expected = hand_gradient(point, d.label)
    values = at(d, point)
    for m in range(d.classes):
        for k in range(d.features):
            with mpmath.workdps(DIGITS):
                assert mpmath.almosteq(number(rows(m)[k], values), expected[m][k], 1e-45)


@pytest.mark.parametrize("point", POINTS)
def test_gradient_matches_a_hand_written_softmax_gradient(d, point):
    assert_rows_match_hand_gradient(d, d.gradient, point)


@pytest.mark.parametrize("point", POINTS)
def test_gradient_matches_sympys_derivative_of_the_loss_as_written(d, point):
    values = at(d, point)
    for m in range(d.classes):
        for k in range(d.features):
            direct = sympy.diff(d.loss, d.weights[m, k])  # the seed's form, not log-sum-exp
            with mpmath.workdps(DIGITS):
                assert mpmath.almosteq(number(d.gradient(m)[k], values), number(direct, values), 1e-45)


@pytest.mark.parametrize("point", POINTS)
def test_closed_form_matches_the_hand_written_gradient(d, point):
    assert_rows_match_hand_gradient(d, d.closed_form, point)


def test_the_claim_is_printed_notation_and_the_closed_form_its_substitution(d):
    assert str(d.claim(1)) == "(p_1 - 1)*x.T"
    assert str(d.claim(0)) == "p_0*x.T"
    assert d.closed_form(1) == d.substitute(d.claim(1))
    assert d.rows[1].shown == d.claim(1)


@pytest.mark.parametrize("classes, features, label", [(2, 1, 0), (2, 3, 1), (3, 2, 0), (4, 2, 3), (5, 1, 2)])
def test_verifies_for_several_sizes(classes, features, label):
    verdict = derive.softmax_cross_entropy(classes, features=features, label=label).verify()
    assert verdict.status == "proven", verdict.summary()
    assert verdict


def test_verifies_above_the_size_where_steps_sample_rows():
    d = derive.softmax_cross_entropy(40, features=2, label=5)
    verdict = d.verify()
    assert verdict.status == "proven", str(verdict)
    assert len(verdict.rows) == 40
    (audit,) = verdict.facts
    assert audit.step.scope == "rows 0, 5, 6, 39 of 40; features 0, 1 of 2"
    assert len(audit.verdict.entries) == 8


def test_unevaluated_constructions_are_what_sympy_evaluates_them_to():
    d = derive.softmax_cross_entropy(4, features=3, label=2)
    assert d.model.exponentials == [exp(score) for score in d.scores]
    assert d.loss == -log(d.model.exponentials[2] / d.model.partition)
    assert d.model.log_sum_exp == -d.scores[2] + log(d.model.partition)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes": 1}, f"classes must be between 2 and {MAX_CLASSES}"),
        ({"classes": MAX_CLASSES + 1}, f"classes must be between 2 and {MAX_CLASSES}"),
        ({"classes": 10**12}, f"classes must be between 2 and {MAX_CLASSES}"),
        ({"classes": 3.0}, "classes must be an integer"),
        ({"classes": "3"}, "classes must be an integer"),
        ({"classes": True}, "classes must be an integer"),
        ({"classes": 3, "features": 0}, f"features must be between 1 and {MAX_FEATURES}"),
        ({"classes": 3, "features": MAX_FEATURES + 1}, f"features must be between 1 and {MAX_FEATURES}"),
        ({"classes": 3, "label": 3}, r"label must be between 0 and 2 \(0-based\), got 3"),
        ({"classes": 3, "label": -1}, "label must be between 0 and 2"),
    ],
)
def test_bad_sizes_are_precise_errors(kwargs, message):
    with pytest.raises(ModelInputError, match=message):
        derive.softmax_cross_entropy(**kwargs)


def test_imagenet_size_is_accepted():
    assert MAX_CLASSES >= 1000
    d = derive.softmax_cross_entropy(1000, features=3, label=7)
    assert d.weights.shape == (1000, 3)


@pytest.mark.parametrize("row", [-1, 3, 1.0, "0"])
def test_bad_row_index(d, row):
    with pytest.raises(IndexError, match="row must be an integer in 0..2"):
        d.gradient(row)


def test_refuted_row_is_reported_by_verify(monkeypatch):
    d = derive.softmax_cross_entropy(3, features=1, label=0)
    right = d.closed_form
    monkeypatch.setattr(d, "closed_form", lambda m: -right(m) if m == 2 else right(m))
    verdict = d.verify()
    assert [v.status for v in verdict.rows] == ["proven", "proven", "refuted"]
    assert verdict.status == "refuted"
    assert "refuted" in verdict.summary()


def test_a_wrong_claim_is_printed_as_claimed_and_refuted(monkeypatch):
    d = derive.softmax_cross_entropy(3, features=2, label=0)
    right = d.claim
    wrong = lambda m: sympy.MatMul(d.model.probability_symbols[m] + 1, d.x_symbol.T) if m == 1 else right(m)
    monkeypatch.setattr(d, "claim", wrong)
    printed = d.to_latex()
    assert r"\frac{\partial L}{\partial w_{1}} &= \left(p_{1} + 1\right) x^{T}" in printed
    assert "% row 1: refuted: dL/dw_{1,0}: at " in printed
    assert "% row 0: proven (identical)" in printed
    assert [row.status for row in d.rows] == ["proven", "refuted", "proven"]


def test_a_closed_form_not_from_the_claim_is_printed_as_verified(monkeypatch):
    d = derive.softmax_cross_entropy(2, features=1, label=0)
    right = d.closed_form
    monkeypatch.setattr(d, "closed_form", lambda m: 2 * right(m))
    assert d.rows[1].shown == 2 * right(1)  # not the right-looking claim p_1 x^T
    assert d.rows[1].status == "refuted"
    assert "p_{1} x^{T}" not in d.to_latex()


def test_str_of_the_verdict_is_a_readable_summary():
    verdict = derive.softmax_cross_entropy(2, features=1, label=0).verify()
    assert str(verdict) == "\n".join([
        'proven (2 of 2 rows, 14 of 14 steps, 1 of 1 facts proven)',
        '  rows 0-1: proven (identical)',
        '  step 1, line 18 (every D, K, every y): proven (identical)',
        '  step 2, line 18 (every D, K, every y): proven (log-expand)',
        '  step 3, Chain rule, line 22 (every D, K, every y, every m): proven (identical, rational)',
        '  step 4, line 26 (every D, K, every y): proven (identical)',
        '  step 5, line 28 (every D, K, every y, every m): proven (identical)',
        '  step 6, Quotient rule, line 33 (every D, K, every y, every m): proven (identical, rational)',
        '  step 7, line 38 (every D, K, every y, every m): proven (identical, rational)',
        '  step 8, Combine, line 49 (every D, K, every y, every m): proven (identical)',
        '  step 9, Combine, line 50 (every D, K, every y, every m): proven (identical, rational)',
        '  step 10, line 56 (every D, K, every y, every m): proven (identical, rational)',
        '  step 11, Rows sum to zero, line 62 (every D, K, every y): proven (rational)',
        '  step 12, line 69 (every D, K, every y, every j): proven (rational)',
        '  step 13, line 73 (every D, K, every y): proven (rational)',
        '  step 14, The loss falls, line 78 (every D, K, every y): proven (rational)',
        '  fact 1, chain rule through the scores (audit) (every m): proven (identical)',
    ])


def test_str_of_a_refuted_verdict_names_the_failing_row(monkeypatch):
    d = derive.softmax_cross_entropy(2, features=1, label=0)
    right = d.closed_form
    monkeypatch.setattr(d, "closed_form", lambda m: 2 * right(m) if m == 1 else right(m))
    lines = str(d.verify()).splitlines()
    assert lines[0] == "refuted (1 of 2 rows, 14 of 14 steps, 1 of 1 facts proven)"
    assert lines[1] == "  row 0: proven (identical)"
    assert lines[2].startswith("  row 1: refuted: dL/dw_{1,0}: at ")
    assert len(lines) == 18  # summary, 2 rows, 14 steps, 1 fact


def test_notebook_shows_the_derivation_and_verdicts_as_math():
    d = derive.softmax_cross_entropy(2, features=1, label=0)
    latex = d._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert r"&& \text{row 0: proven (identical)}" in latex
    assert d.verify()._repr_latex_().startswith(
        "$$\\begin{array}{l}\n" r"\textbf{proven}\ \text{2 of 2 rows, 14 of 14 steps, 1 of 1 facts proven}")
    refuted = derive.verify(d.loss, d.weights, 2 * d.closed_form_matrix())
    assert refuted._repr_latex_().startswith(
        "$$\\begin{array}{l}\n" r"\textbf{refuted}\ \frac{\partial L}{\partial w_{0,0}}\text{: }\text{at }w_{0,0} = ")
