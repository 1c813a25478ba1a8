"""The seed's route, and the derivation interface a second loss would implement.

Each step is a claim the verifier can prove or refute; a step planted wrong must be refuted.
"""

import dataclasses

import pytest
import sympy
from sympy import ImmutableMatrix, Matrix, MatrixSymbol, Sum, Symbol

import derive
from derive.losses.softmax.route import FACTS, STEPS
from derive.proof import AUDIT, Derivation, ScoreLoss, Step, sample_rows


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=4, features=2, label=2)


def test_route_follows_notation_md():
    assert [s.name for s in STEPS] == [
        "log-sum-exp form", "chain rule", "log derivative", "score derivative", "quotient rule",
        "case m != y", "case m = y", "combine",
    ]
    assert [s.name for s in FACTS] == ["rows sum to zero", "descent moves scores", "descent lowers loss"]
    assert derive.SoftmaxCrossEntropy.FACTS == (AUDIT, *FACTS)


@pytest.mark.parametrize("name", [s.name for s in STEPS + FACTS + (AUDIT,)])
def test_every_step_and_fact_is_proven(d, name):
    (result,) = [r for r in d.steps + d.facts if r.step.name == name]
    assert result.status == "proven", str(result.verdict)


def test_every_row_instance_is_checked(d):
    by_name = {r.step.name: r for r in d.steps + d.facts}
    assert len(by_name["chain rule"].verdict.entries) == d.classes * d.features
    assert len(by_name["chain rule through the scores (audit)"].verdict.entries) == d.classes * d.features
    assert len(by_name["case m != y"].verdict.entries) == d.classes - 1
    assert len(by_name["combine"].verdict.entries) == d.classes
    assert len(by_name["score derivative"].verdict.entries) == d.classes * d.features
    assert len(by_name["descent moves scores"].verdict.entries) == d.classes


def test_large_k_samples_rows_and_says_which():
    big = derive.softmax_cross_entropy(classes=100, features=3, label=42)
    assert sample_rows(100, (42,)) == (0, 42, 43, 99)
    assert big.sample() == [(m, k) for m in (0, 42, 43, 99) for k in (0, 2)]
    by_name = {r.step.name: r for r in big.steps}
    assert by_name["chain rule"].step.scope == "rows 0, 42, 43, 99 of 100; features 0, 2 of 3"
    assert by_name["case m != y"].step.scope == "rows 0, 42, 43, 99 of 100; features 0, 2 of 3; m != y"
    assert len(by_name["case m != y"].verdict.entries) == 3
    assert len(by_name["score derivative"].verdict.entries) == 300  # every m, every k
    assert all(r.status == "proven" for r in big.steps), [str(r.verdict) for r in big.steps]


def _planted(step: Step, wrong) -> Step:
    """The same step with its claimed side replaced by wrong(claims)."""

    def build(d):
        truths, claims = step.build(d)
        return truths, wrong(claims)

    return dataclasses.replace(step, build=build)


@pytest.mark.parametrize(
    "name, wrong",
    [
        ("case m != y", lambda claims: [-c for c in claims]),          # +p_y p_m
        ("case m = y", lambda claims: [2 * c for c in claims]),
        ("quotient rule", lambda claims: [c + sympy.Rational(1, 100) for c in claims]),
        ("combine", lambda claims: [c + 1 for c in claims]),
        ("rows sum to zero", lambda claims: [sympy.Symbol("x_0", real=True) for _ in claims]),
        ("chain rule", lambda claims: [c * sympy.Rational(10005, 10000) for c in claims]),
        ("chain rule through the scores (audit)", lambda claims: [-c for c in claims]),
        ("descent lowers loss", lambda claims: [c + sympy.Rational(1, 100) for c in claims]),
    ],
)
def test_a_wrong_step_is_refuted(d, name, wrong):
    (step,) = [s for s in STEPS + FACTS + (AUDIT,) if s.name == name]
    result = d.check(_planted(step, wrong))
    assert result.status == "refuted"
    assert result.verdict.failures


def test_the_audit_compares_with_sympys_derivative_of_the_whole_loss(d):
    truths, _ = AUDIT.build(d)
    expected = [sympy.diff(d.model.log_sum_exp, d.weights[m, k]) for m, k in d.sample()]
    assert truths == expected


def test_a_gradient_wrong_in_the_scores_is_caught_by_the_audit(monkeypatch):
    d = derive.softmax_cross_entropy(3, features=2, label=0)
    right = d.score_gradient
    monkeypatch.setattr(d, "score_gradient", lambda m: right(m) * 2 if m == 1 else right(m))
    (audit,) = [r for r in d.facts if r.step.name == AUDIT.name]
    assert audit.status == "refuted"
    assert d.verify().status == "refuted"


# --- the interface a second loss implements ---------------------------------------


class SquaredScores(ScoreLoss):
    """``L = 1/2 sum_j f_j^2`` with ``f = W x``: a second loss in one class."""

    name = "squared scores"

    def __init__(self, classes: int, features: int):
        super().__init__()
        self.weights = Matrix(classes, features, lambda m, k: Symbol(f"w_{{{m},{k}}}", real=True))
        self.x = Matrix(features, 1, lambda k, _: Symbol(f"x_{k}", real=True))
        self.score_symbols = [Symbol(f"f_{j}", real=True) for j in range(classes)]
        self.scores = self.weights * self.x
        j = Symbol("j", integer=True)
        self.indexed_loss = Sum(self.f[j] ** 2, (j, 0, classes - 1)) / 2
        self.x_symbol = MatrixSymbol("x", features, 1)
        self.printed_scores = [Symbol(f"s_{m}", real=True) for m in range(classes)]

    def claim(self, m):
        return sympy.MatMul(self.printed_scores[m], self.x_symbol.T)

    @property
    def definitions(self):
        return {**dict(zip(self.printed_scores, self.scores)), self.x_symbol: ImmutableMatrix(self.x)}


def test_a_second_loss_needs_only_its_definitions():
    loss = SquaredScores(classes=3, features=2)
    verdict = loss.verify()
    assert verdict.status == "proven", str(verdict)
    assert [r.step.name for r in verdict.facts] == [] and len(verdict.rows) == 3
    assert loss.check(AUDIT).status == "proven"
    assert loss.gradient(1) == Matrix([[loss.scores[1] * loss.x[0], loss.scores[1] * loss.x[1]]])


def test_a_second_loss_with_a_wrong_claim_is_refuted():
    loss = SquaredScores(classes=2, features=1)
    loss.claim = lambda m: sympy.MatMul(2 * loss.printed_scores[m], loss.x_symbol.T)
    assert [row.status for row in loss.rows] == ["refuted", "refuted"]
    assert loss.rows[0].shown == loss.claim(0)


class Product(Derivation):
    """``L = a^2 b``: not even a loss of scores; rows are SymPy's plain ``diff``."""

    name = "product"
    a, b = sympy.symbols("a b", real=True)
    wrt = Matrix([[a, b]])
    loss = a**2 * b
    definitions = {}

    def claim(self, m):
        return ImmutableMatrix([[2 * self.a * self.b, self.a**2]])


def test_the_generic_derivation_differentiates_and_verifies():
    verdict = Product().verify()
    assert verdict.status == "proven" and len(verdict.rows[0].entries) == 2
    assert Product().gradient(0) == Matrix([[2 * Product.a * Product.b, Product.a**2]])
