"""Batch losses' closed forms proven for every size (symbolic K, D, N) from lemmas.

Each lemma is data, so a lemma planted wrong is built here and must be refuted with a point
that, re-evaluated here from the lemma's own data, really violates it.
"""

import dataclasses
import time

import pytest
import sympy
from sympy import Derivative, KroneckerDelta, Lambda, Sum, exp

from derive.catalog import UnknownLossError
from derive.oracle import proof as p
from derive.oracle.proof import (
    LOSSES_PROVEN_FOR_EVERY_SIZE,
    AllSizesProof,
    Lemma,
    LemmaResult,
    all_sizes_proof,
    lemmas,
    prove_lemma,
)
from derive.report.all_sizes import all_sizes_json, all_sizes_text

SIZES = {"K": p.K, "D": p.D, "N": p.N}


def by_name(loss: str) -> dict[str, Lemma]:
    return {lemma.name: lemma for lemma in lemmas(loss)}


def violates(result: LemmaResult) -> bool:
    """Re-evaluate the counterexample from the lemma's own data: do the two sides differ?"""
    lemma, found = result.lemma, result.counterexample
    at = {SIZES[name]: value for name, value in found.sizes.items()}
    at.update({index: sympy.Integer(value) for index, value in found.indices.items()})
    expression = lemma.expression.xreplace(at).doit()
    truth = sympy.diff(expression, lemma.variable.xreplace(at)) if lemma.variable is not None else expression
    claim = lemma.claim.xreplace(at).doit()
    true_value = sympy.N(truth.xreplace(found.point), 30)
    claimed_value = sympy.N(claim.xreplace(found.point), 30)
    assert true_value.is_number and claimed_value.is_number
    assert abs(true_value - sympy.N(found.expected, 30)) < 1e-20
    assert abs(claimed_value - sympy.N(found.claimed, 30)) < 1e-20
    return abs(true_value - claimed_value) > 1e-9


@pytest.mark.parametrize("loss", LOSSES_PROVEN_FOR_EVERY_SIZE)
def test_every_loss_is_proven_for_every_size(loss):
    proof = all_sizes_proof(loss)
    assert isinstance(proof, AllSizesProof) and proof.loss == loss
    assert proof.status == "proven" and proof.proven
    for result in proof.results:
        assert result.status == "proven", f"{result.lemma.name}: {result.how}"
        assert result.how.startswith("proven") and result.counterexample is None
    assert r"\frac{\partial L}{\partial" in proof.conclusion


@pytest.mark.parametrize("loss", LOSSES_PROVEN_FOR_EVERY_SIZE)
def test_each_lemma_is_proven_on_its_own_and_fast(loss):
    for lemma in lemmas(loss):
        started = time.monotonic()
        assert prove_lemma(lemma).status == "proven", lemma.name
        assert time.monotonic() - started < 2.0, lemma.name


def test_the_sizes_are_symbolic():
    softmax = by_name("softmax-cross-entropy")
    assert softmax["score-gradient"].sizes == ("K",)
    assert set(softmax["linear-layer-weights"].sizes) == {"N", "D", "K"}
    assert softmax["score-gradient"].expression.has(p.K)
    assert all(lemma.expression.has(p.N) for lemma in lemmas("softmax-cross-entropy")
               if lemma.name == "mean-over-samples")
    assert all_sizes_proof("multiclass-svm").results[0].how.endswith("for some j)")  # off the kinks


@pytest.mark.parametrize("loss, name, wrong", [
    # the linear layer transposed
    ("softmax-cross-entropy", "linear-layer-weights", p.X[p.i, p.c] * KroneckerDelta(p.k, p.a)),
    ("softmax-cross-entropy", "chain-rule-weights", p.X[p.i, p.c] * p.G[p.i, p.a]),
    # reg W instead of 2 reg W
    ("softmax-cross-entropy", "l2-penalty", p.reg * p.W[p.a, p.c]),
    ("logistic-regression", "l2-penalty", p.reg * p.w[p.a]),
    # softmax's G without the indicator
    ("softmax-cross-entropy", "score-gradient",
     exp(p.s[p.m]) / Sum(exp(p.s[p.k]), (p.k, 0, p.K - 1))),
    # the mean without its 1/N
    ("softmax-cross-entropy", "mean-over-samples",
     Sum(Derivative(p.ell(p.i, p.theta), p.theta), (p.i, 0, p.N - 1))),
    # the hinge's G_y with the wrong sign, the logistic gradient with sigma(-s)
    ("multiclass-svm", "score-gradient",
     p.svm_score_gradient().subs(KroneckerDelta(p.m, p.y), -KroneckerDelta(p.m, p.y))),
    ("logistic-regression", "score-gradient", 1 / (1 + exp(p.score)) - p.label),
    ("mean-squared-error", "score-gradient", p.score - p.target),
])
def test_a_planted_wrong_lemma_is_refuted_with_a_real_counterexample(loss, name, wrong):
    lemma = dataclasses.replace(by_name(loss)[name], claim=wrong)
    result = prove_lemma(lemma)
    assert result.status == "refuted", result.how
    assert result.how.startswith("refuted at ")
    assert violates(result)


def test_a_transposed_layer_is_refuted_where_it_matters():
    lemma = dataclasses.replace(by_name("softmax-cross-entropy")["chain-rule-weights"],
                                claim=p.X[p.i, p.c] * p.G[p.i, p.a])
    found = prove_lemma(lemma).counterexample
    assert found.indices[p.a] != found.indices[p.c]  # a = c is no counterexample to a transpose


def test_a_true_lemma_the_prover_cannot_reduce_is_unproven():
    # Reversing a sum's order is true for every K, but no step here reduces it to 0.
    reversed_sum = Lemma("reversal", r"\sum_k G_{i,k} = \sum_k G_{i,K-1-k}", ("N", "K"),
                         Sum(p.G[p.i, p.k], (p.k, 0, p.K - 1)), None,
                         Sum(p.G[p.i, p.K - 1 - p.k], (p.k, 0, p.K - 1)), ranges=((p.i, p.N),))
    result = prove_lemma(reversed_sum)
    assert result.status == "unproven" and result.counterexample is None
    assert "no counterexample was found at" in result.how


def test_a_false_lemma_with_no_counterexample_at_the_sizes_tried_is_unproven():
    partition = by_name("softmax-cross-entropy")["partition-function"]
    wrong_from_k_5 = dataclasses.replace(partition, claim=exp(p.s[p.m]) + KroneckerDelta(p.K, 5))
    result = prove_lemma(wrong_from_k_5)
    assert max(p.TRIED_SIZES) < 5
    assert result.status == "unproven", result.how


def test_never_proven_unless_reduced_to_zero(monkeypatch):
    lemma = by_name("mean-squared-error")["score-gradient"]
    monkeypatch.setattr(p, "_reduce", lambda lemma: (sympy.Symbol("leftover"), "nothing"))
    assert prove_lemma(lemma).status == "unproven"  # true, but not reduced to 0 here


def test_the_kinks_are_declared_not_assumed():
    hinge = by_name("multiclass-svm")["score-gradient"]
    assert prove_lemma(dataclasses.replace(hinge, kinks=())).status != "proven"
    # an indicator whose kink is not declared is not rewritten either
    other = Lambda(p.j, p.s[p.j] - p.s[p.y] + 2)
    assert prove_lemma(dataclasses.replace(hinge, kinks=(other,))).status != "proven"


def test_a_proof_with_a_wrong_lemma_is_not_proven():
    results = tuple(all_sizes_proof("mean-squared-error").results)
    wrong = prove_lemma(dataclasses.replace(results[0].lemma, claim=p.score - p.target))
    proof = AllSizesProof("mean-squared-error", (wrong,) + results[1:], "")
    assert proof.status == "refuted" and not proof.proven
    assert "verdict: refuted" in all_sizes_text(proof)
    data = all_sizes_json(proof)
    assert data["lemmas"][0]["counterexample"]["sizes"] == {}
    assert data["lemmas"][0]["counterexample"]["point"]


def test_unknown_and_unsupported_losses():
    with pytest.raises(UnknownLossError):
        lemmas("no-such-loss")
    with pytest.raises(UnknownLossError):
        all_sizes_proof("no-such-loss")
    with pytest.raises(ValueError, match="no all-sizes proof") as raised:
        lemmas("focal-loss")
    assert not isinstance(raised.value, UnknownLossError)


def test_the_whole_proof_is_fast_and_cached():
    for loss in LOSSES_PROVEN_FOR_EVERY_SIZE:
        started = time.monotonic()
        proof = p.all_sizes_proof.__wrapped__(loss)
        assert time.monotonic() - started < 2.0, loss
        assert proof == all_sizes_proof(loss)
    assert all_sizes_proof("softmax-cross-entropy") is all_sizes_proof("softmax-cross-entropy")


GOLDEN_SOFTMAX = r"""softmax-cross-entropy: proven for every N, D, K (0-based indices), 8 lemmas: 8 proven
  proven    partition-function    \frac{\partial}{\partial s_m} \sum_{k=0}^{K-1} e^{s_k} = e^{s_m} \quad (0 \le m \le K-1)
  proven    score-gradient        \frac{\partial}{\partial s_m}\Big(-s_y + \log \sum_{k=0}^{K-1} e^{s_k}\Big) = \frac{e^{s_m}}{\sum_{k=0}^{K-1} e^{s_k}} - \mathbb{1}[m = y] \quad (0 \le m, y \le K-1)
  proven    linear-layer-weights  \frac{\partial S_{i,k}}{\partial W_{a,c}} = X_{i,a}\, \mathbb{1}[k = c], \quad S_{i,k} = \sum_{d=0}^{D-1} X_{i,d} W_{d,k} + b_k \quad (0 \le i \le N-1,\ 0 \le a \le D-1,\ 0 \le k, c \le K-1)
  proven    linear-layer-bias     \frac{\partial S_{i,k}}{\partial b_c} = \mathbb{1}[k = c]
  proven    chain-rule-weights    \sum_{k=0}^{K-1} G_{i,k}\, X_{i,a}\, \mathbb{1}[k = c] = X_{i,a} G_{i,c} \quad (0 \le c \le K-1)
  proven    chain-rule-bias       \sum_{k=0}^{K-1} G_{i,k}\, \mathbb{1}[k = c] = G_{i,c} \quad (0 \le c \le K-1)
  proven    l2-penalty            \frac{\partial}{\partial W_{a,c}}\, \mathrm{reg} \sum_{d=0}^{D-1} \sum_{k=0}^{K-1} W_{d,k}^2 = 2\, \mathrm{reg}\, W_{a,c} \quad (0 \le a \le D-1,\ 0 \le c \le K-1)
  proven    mean-over-samples     \frac{\partial}{\partial \theta} \frac{1}{N} \sum_{i=0}^{N-1} \ell_i(\theta) = \frac{1}{N} \sum_{i=0}^{N-1} \frac{\partial \ell_i}{\partial \theta}

by the chain rule: \frac{\partial L}{\partial W_{a,c}} = \frac{1}{N} \sum_{i=0}^{N-1} X_{i,a} G_{i,c} + 2\, \mathrm{reg}\, W_{a,c}, \quad \frac{\partial L}{\partial b_c} = \frac{1}{N} \sum_{i=0}^{N-1} G_{i,c}, \quad G_{i,k} = \frac{e^{S_{i,k}}}{\sum_{k'=0}^{K-1} e^{S_{i,k'}}} - \mathbb{1}[k = y_i]
verdict: proven"""


def test_golden_text_of_softmax():
    assert all_sizes_text(all_sizes_proof("softmax-cross-entropy")) == GOLDEN_SOFTMAX


def test_json_schema():
    data = all_sizes_json(all_sizes_proof("multiclass-svm"))
    assert data["schema"] == "derive.all-sizes/1"
    assert data["loss"] == "multiclass-svm" and data["status"] == "proven"
    assert data["sizes"] == ["N", "D", "K"]
    assert [lemma["name"] for lemma in data["lemmas"]] == [lemma.name for lemma in lemmas("multiclass-svm")]
    assert all(lemma["counterexample"] is None for lemma in data["lemmas"])
