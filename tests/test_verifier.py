"""The verifier itself: every verdict path, planted wrong gradients, bad input."""

import random
import threading

import mpmath
import pytest
import sympy
from sympy import KroneckerDelta, Matrix, Rational, exp, log, symbols

import derive
from derive import VerificationInputError, verify, verify_identity

t = symbols("t", real=True)
HARD_IDENTITY = sympy.gamma(t + 2) / sympy.gamma(t + 1) - t - 1  # zero; only simplify sees it


@pytest.fixture(scope="module")
def d():
    return derive.softmax_cross_entropy(classes=3, features=2, label=0)


def claim_matrix(d, entry):
    """A K x D claim whose (m, k) entry is entry(m, k)."""
    return Matrix(d.classes, d.features, lambda m, k: entry(int(m), int(k)))


def true_and_claimed_at(d, claim, counterexample):
    """Recompute both sides at the counterexample, independently, at 60 digits."""
    w = list(d.weights)[counterexample.index]
    true = sympy.diff(d.loss, w)
    claimed = list(claim)[counterexample.index]
    point = counterexample.point
    with mpmath.workdps(60):
        return (
            sympy.N(true.subs(point), 60),
            sympy.N(claimed.subs(point), 60),
        )


def indicator(m, y=0):
    return KroneckerDelta(m, y)


WRONG_CLAIMS = {
    "missing indicator": lambda d: lambda m, k: d.probabilities[m] * d.x[k],
    "sign flip": lambda d: lambda m, k: -(d.probabilities[m] - indicator(m)) * d.x[k],
    "label off by one": lambda d: lambda m, k: (d.probabilities[m] - indicator(m, 1)) * d.x[k],
    "factor of two": lambda d: lambda m, k: 2 * (d.probabilities[m] - indicator(m)) * d.x[k],
    "missing x": lambda d: lambda m, k: d.probabilities[m] - indicator(m),
    "swapped features": lambda d: lambda m, k: (d.probabilities[m] - indicator(m)) * d.x[1 - k],
    "relative perturbation 1e-9": lambda d: lambda m, k: (
        (d.probabilities[m] - indicator(m)) * d.x[k] * (1 + Rational(1, 10**9))
    ),
}


@pytest.mark.parametrize("name", WRONG_CLAIMS)
def test_refutes_planted_wrong_gradient(d, name):
    claim = claim_matrix(d, WRONG_CLAIMS[name](d))
    verdict = verify(d.loss, d.weights, claim)
    assert verdict.status == "refuted"
    assert not verdict
    for counterexample in verdict.failures:
        true, claimed = true_and_claimed_at(d, claim, counterexample)
        assert set(counterexample.point) <= set(d.weights) | set(d.x)
        assert all(isinstance(v, Rational) for v in counterexample.point.values())
        assert abs(true - claimed) > 1e-12 * max(abs(true), abs(claimed))  # a real difference
        assert abs(counterexample.expected - true) < 1e-40 * max(1, abs(true))
        assert abs(counterexample.claimed - claimed) < 1e-40 * max(1, abs(claimed))


def test_refutes_only_the_wrong_entries(d):
    right = d.closed_form_matrix()
    wrong = right.copy()
    wrong[1, 0] = -wrong[1, 0]
    verdict = verify(d.loss, d.weights, wrong)
    assert [c.index for c in verdict.failures] == [2]  # row 1, feature 0, row-major
    assert [e.status for e in verdict.entries].count("proven") == 5


RIGHT_CLAIMS = {
    "softmax shifted by f_m": lambda d: lambda m, k: (
        1 / sympy.Add(*[exp(d.scores[j] - d.scores[m]) for j in range(d.classes)]) - indicator(m)
    ) * d.x[k],
    "exp(f_m - logsumexp)": lambda d: lambda m, k: (
        exp(d.scores[m] - log(d.model.partition)) - indicator(m)
    ) * d.x[k],
    "KroneckerDelta": lambda d: lambda m, k: (d.probabilities[m] - KroneckerDelta(m, d.label)) * d.x[k],
    "expanded product": lambda d: lambda m, k: sympy.expand(
        d.probabilities[m] * d.x[k] - indicator(m) * d.x[k]
    ),
}


@pytest.mark.parametrize("name", RIGHT_CLAIMS)
def test_proves_right_gradient_written_differently(d, name):
    verdict = verify(d.loss, d.weights, claim_matrix(d, RIGHT_CLAIMS[name](d)))
    assert verdict.status == "proven", str(verdict)
    assert verdict
    assert verdict.failures == ()


def test_proof_ladder_reports_the_strategy_that_succeeded():
    assert verify(t**2, [t], [2 * t]).strategies == ("identical",)
    assert verify(log(exp(t) + 1), [t], [1 - 1 / (exp(t) + 1)]).strategies == ("rational",)
    assert verify(t**2, [t], [2 * t + HARD_IDENTITY]).strategies == ("simplify",)


def test_unproven_when_time_runs_out():
    verdict = verify(t**2, [t], [2 * t + HARD_IDENTITY], time_limit=0)
    assert verdict.status == "unproven"
    assert not verdict
    assert str(verdict) == "unproven: dL/dt: time limit of 0 s reached"


def test_unproven_with_evidence_when_no_strategy_proves_it(monkeypatch):
    import derive.core.verifier

    monkeypatch.setattr(derive.core.verifier, "AFTER_SEARCH", ())  # no simplify
    verdict = verify(t**2, [t], [2 * t + HARD_IDENTITY])
    assert verdict.status == "unproven"
    assert verdict.entries[0].agreeing_points > 0  # the evidence it has
    assert "no strategy proved it (in " in str(verdict) and "agreed to 50 digits" in str(verdict)


def test_verdict_is_the_same_off_the_main_thread():
    verdicts = []
    worker = threading.Thread(target=lambda: verdicts.append(verify(t**2, [t], [2 * t + HARD_IDENTITY])))
    worker.start()
    worker.join()
    assert verdicts[0].status == "proven"
    assert verdicts[0].strategies == ("simplify",)


def test_cheap_proofs_work_off_the_main_thread():
    verdicts = []
    worker = threading.Thread(target=lambda: verdicts.append(verify(t**3, [t], [3 * t**2])))
    worker.start()
    worker.join()
    assert verdicts[0].status == "proven"


def test_a_difference_below_50_digits_is_never_proven():
    tiny = Rational(1, 10**45)
    verdict = verify(t**2, [t], [2 * t * (1 + tiny)])
    assert verdict.status in ("refuted", "unproven")
    assert verdict.status != "proven"


def test_a_difference_of_1e_30_is_refuted():
    verdict = verify(t**2, [t], [2 * t * (1 + Rational(1, 10**30))])
    assert verdict.status == "refuted"


def test_nan_is_never_agreement():
    verdict = verify(t**2, [t], [2 * t + sympy.zoo * t])
    assert verdict.status == "unproven"
    assert verdict.entries[0].agreeing_points == 0
    assert "undefined" in str(verdict)


@pytest.mark.parametrize("bad", [sympy.nan, sympy.zoo, sympy.oo, 1 / (t - 1), sympy.log(t - 1), sympy.gamma(t - 1)])
def test_non_finite_values_are_undefined_not_agreement(bad):
    from derive.core.numeric import Evaluator, Undefined

    with pytest.raises(Undefined):
        Evaluator({t: Rational(1)}, 50, random.Random(0)).value(bad)


def test_undefined_points_are_skipped_not_counted():
    u = symbols("u", real=True)
    # log(u) is complex for u < 0: the claim is right where defined.
    verdict = verify(u * log(u**2), [u], [log(u**2) + 2])
    assert verdict.status == "proven"


def test_samples_respect_assumptions():
    p = symbols("p", positive=True)
    verdict = verify(p * log(p), [p], [log(p)])  # wrong by 1
    (counterexample,) = verdict.failures
    assert counterexample.point[p] > 0


def test_verify_identity_pairs_entries():
    a = symbols("a", positive=True)
    assert verify_identity([log(a**2), a], [2 * log(a), a]).status == "proven"
    assert verify_identity([exp(a)], [1 + a]).failures[0].index == 0


def test_counterexample_message_names_entry_point_and_values():
    verdict = verify(exp(t), [t], [t])
    message = str(verdict.failures[0])
    assert message.startswith("dL/dt: at t = ")
    assert "true value" in message and "claimed" in message


@pytest.mark.parametrize(
    "loss, wrt, claim, message",
    [
        ("t**2", [t], [2 * t], "string"),
        (t**2, [t], ["2*t"], "string"),
        (t**2, "t", [2 * t], "string"),
        (t**2, [t**2], [2 * t], "Symbol"),
        (t**2, [t], [2 * t, 1], "wrt has 1 entry but claim has 2"),
        (Matrix([t, t]), [t], [1], "scalar"),
        (t**2, [t], [None], "SymPy expression or a number"),
        (t**2, 5, [2 * t], "must be a sympy Symbol, got 5"),
        (t**2, object(), [2 * t], "sequence or Matrix"),
    ],
)
def test_bad_input_is_a_precise_error(loss, wrt, claim, message):
    with pytest.raises(VerificationInputError, match=message):
        verify(loss, wrt, claim)


@pytest.mark.parametrize("options", [{"time_limit": -1}, {"points": 0}, {"points": 1.5}])
def test_bad_budget_is_a_precise_error(options):
    with pytest.raises(VerificationInputError):
        verify(t**2, [t], [2 * t], **options)


def test_strings_are_never_evaluated(tmp_path):
    canary = tmp_path / "canary"
    payload = f"__import__('pathlib').Path({str(canary)!r}).touch()"
    with pytest.raises(VerificationInputError):
        verify(t**2, [t], [payload])
    assert not canary.exists()


def test_counterexample_search_is_bounded_too():
    verdict = verify(exp(t), [t], [t], time_limit=0)  # wrong, but no time to show it
    assert verdict.status == "unproven"
    assert "time limit of 0 s reached" in str(verdict)
