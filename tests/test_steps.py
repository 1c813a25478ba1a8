"""The seed's route: each step is a claim the verifier can prove or refute."""

import dataclasses

import pytest
import sympy

import derive
from derive.losses.softmax.route import FACTS, STEPS, Step


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=4, features=2, label=2)


def test_route_follows_notation_md():
    assert [s.name for s in STEPS] == [
        "log-sum-exp form", "chain rule", "log derivative", "score derivative", "quotient rule",
        "case m != y", "case m = y", "combine",
    ]
    assert [s.name for s in FACTS] == ["rows sum to zero", "descent moves scores", "descent lowers loss"]


@pytest.mark.parametrize("name", [s.name for s in STEPS + FACTS])
def test_every_step_and_fact_is_proven(d, name):
    (result,) = [r for r in d.steps + d.facts if r.step.name == name]
    assert result.status == "proven", str(result.verdict)


def test_every_row_instance_is_checked(d):
    by_name = {r.step.name: r for r in d.steps}
    assert len(by_name["chain rule"].verdict.entries) == d.classes * d.features
    assert len(by_name["case m != y"].verdict.entries) == d.classes - 1
    assert len(by_name["combine"].verdict.entries) == d.classes


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
    ],
)
def test_a_wrong_step_is_refuted(d, name, wrong):
    (step,) = [s for s in STEPS + FACTS if s.name == name]
    result = d._check(_planted(step, wrong))
    assert result.status == "refuted"
    assert result.verdict.failures
