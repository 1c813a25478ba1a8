"""The seed's route (its catalog document), the audit, and the derivation interface a second
loss would implement.

Each step is a claim the verifier can prove or refute; a step planted wrong must be refuted.
"""

import dataclasses

import pytest
import sympy
from sympy import ImmutableMatrix, Matrix, MatrixSymbol, Sum, Symbol

import derive
from derive.catalog import entry
from derive.document import check_document
from derive.proof import AUDIT, Derivation, ScoreLoss, Step, sample_rows

SEED = entry("softmax-cross-entropy")


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=4, features=2, label=2)


def test_the_route_is_the_catalog_document(d):
    assert d.route.path == str(SEED.path)
    names = [r.step.name for r in d.steps]
    assert len(names) == len(d.route.steps) >= 10
    assert names[2].startswith("Chain rule, line ")
    assert any(name.startswith("Rows sum to zero") for name in names)
    assert derive.SoftmaxCrossEntropy.FACTS == (AUDIT,)


def test_every_step_and_the_audit_are_proven(d):
    for result in d.steps + d.facts:
        assert result.status == "proven", f"{result.title()}: {result.verdict}"
    assert d.verify().status == "proven"


def test_the_route_is_checked_at_the_documents_sizes_and_every_m(d):
    chain = next(r for r in d.steps if r.step.name.startswith("Chain rule"))
    assert chain.step.scope == "every D, K, every y, every m"
    # Proven for every size, and cross-checked at K = 2, D = 1: each label, each m, each feature.
    assert len(chain.verdict.entries) == 2 * 2 * 1
    (audit,) = d.facts
    assert len(audit.verdict.entries) == d.classes * d.features


def test_large_k_samples_the_audits_rows_and_says_which():
    big = derive.softmax_cross_entropy(classes=100, features=3, label=42)
    assert sample_rows(100, (42,)) == (0, 42, 43, 99)
    assert big.sample() == [(m, k) for m in (0, 42, 43, 99) for k in (0, 2)]
    (audit,) = big.facts
    assert audit.step.scope == "rows 0, 42, 43, 99 of 100; features 0, 2 of 3"
    assert audit.status == "proven"


def test_a_wrong_step_in_the_document_is_refuted_and_named():
    text = SEED.text.replace(r"-p_y p_m & \text{if } m \neq y", r"p_y p_m & \text{if } m \neq y")
    assert text != SEED.text
    line = text.splitlines().index(r"  p_y p_m & \text{if } m \neq y") + 1
    result = check_document(text)
    wrong = result.first_wrong
    assert result.status == "refuted" and line - 3 <= wrong.line <= line
    assert "sign" in wrong.mistake


def _planted(step: Step, wrong) -> Step:
    """The same step with its claimed side replaced by wrong(claims)."""

    def build(d):
        truths, claims = step.build(d)
        return truths, wrong(claims)

    return dataclasses.replace(step, build=build)


def test_a_wrong_audit_is_refuted(d):
    result = d.check(_planted(AUDIT, lambda claims: [-c for c in claims]))
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
