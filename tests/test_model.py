"""The softmax cross-entropy model and its derivation."""

import pytest
import sympy
from sympy import Matrix, MatrixSymbol, exp, log

import derive
from derive import ModelInputError


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=3, features=2, label=1)


def test_symbols_and_shapes(d):
    assert d.weights.shape == (3, 2) and d.x.shape == (2, 1)
    assert all(w.is_Symbol and w.is_real for w in d.weights)
    assert all(xk.is_Symbol and xk.is_real for xk in d.x)
    assert not d.loss.atoms(MatrixSymbol)  # never differentiate matrix symbols
    assert d.scores == d.weights * d.x


def test_loss_is_minus_log_softmax_of_the_label(d):
    f = d.scores
    partition = sum(exp(fj) for fj in f)
    assert d.loss == -log(exp(f[1]) / partition)
    assert d.probabilities[0] == exp(f[0]) / partition


def test_gradient_is_sympys_own_diff(d):
    assert d.differentiated_loss == sympy.expand_log(d.loss)
    assert d.differentiated_loss == -d.scores[1] + log(d.model.partition)
    for m in range(3):
        expected = Matrix([[sympy.diff(d.differentiated_loss, w) for w in d.weights.row(m)]])
        assert d.gradient(m) == expected
        # and it is the derivative of the loss as written, not just of its rewrite
        direct = Matrix([[sympy.diff(d.loss, w) for w in d.weights.row(m)]])
        assert derive.verify_identity(direct, d.gradient(m))


def test_closed_form_uses_the_indicator(d):
    assert d.closed_form(1) == (d.probabilities[1] - 1) * d.x.T
    assert d.closed_form(0) == d.probabilities[0] * d.x.T


@pytest.mark.parametrize("classes, features, label", [(2, 1, 0), (2, 3, 1), (3, 2, 0), (4, 2, 3), (5, 1, 2)])
def test_verifies_for_several_sizes(classes, features, label):
    verdict = derive.softmax_cross_entropy(classes, features=features, label=label).verify()
    assert verdict.status == "proven", verdict.summary()
    assert verdict


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"classes": 1}, "classes must be between 2 and 64"),
        ({"classes": 65}, "classes must be between 2 and 64"),
        ({"classes": 10**12}, "classes must be between 2 and 64"),
        ({"classes": 3.0}, "classes must be an integer"),
        ({"classes": "3"}, "classes must be an integer"),
        ({"classes": True}, "classes must be an integer"),
        ({"classes": 3, "features": 0}, "features must be between 1 and 16"),
        ({"classes": 3, "features": 17}, "features must be between 1 and 16"),
        ({"classes": 3, "label": 3}, r"label must be between 0 and 2 \(0-based\), got 3"),
        ({"classes": 3, "label": -1}, "label must be between 0 and 2"),
    ],
)
def test_bad_sizes_are_precise_errors(kwargs, message):
    with pytest.raises(ModelInputError, match=message):
        derive.softmax_cross_entropy(**kwargs)


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


def test_notebook_shows_the_derivation_and_verdicts_as_math():
    d = derive.softmax_cross_entropy(2, features=1, label=0)
    latex = d._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert r"&& \text{row 0: proven (rational)}" in latex
    assert d.verify()._repr_latex_() == r"$\text{proven (2 of 2 rows, 8 of 8 steps, 3 of 3 facts proven)}$"
    refuted = derive.verify(d.loss, d.weights, 2 * d.closed_form_matrix())
    assert refuted._repr_latex_().startswith(r"$\text{refuted: dL/dw\_\{0,0\}: at w\_\{0,0\} = ")
