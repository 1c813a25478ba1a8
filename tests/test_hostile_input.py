"""Inputs that once made the verifier lie or crash: each must now get a true verdict or a clear error.

Every test here failed on the first edition of the core (hash-ordered pairing, float subtraction
at float precision, nan proven equal to 0, unconfirmed refutations, real samples for imaginary
symbols, lambdify's NameError, SIGALRM deadlines).
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sympy
from sympy import (
    Abs, DiracDelta, Eq, Float, Function, Heaviside, I, KroneckerDelta, MatrixSymbol,
    Rational, Symbol, cos, erfcinv, exp, jn, log, nan, sin, symbols, tanh, zoo,
)

from derive import VerificationInputError, verify, verify_identity

x, y, z, w = symbols("x y z w", real=True)


# --- false "proven" ----------------------------------------------------------------------------


@pytest.mark.parametrize("container", [set, frozenset, lambda v: dict.fromkeys(v), lambda v: dict.fromkeys(v).keys()])
def test_unordered_wrt_is_rejected(container):
    with pytest.raises(VerificationInputError, match="no order"):
        verify(x * y**2, container([x, y]), [y**2, 2 * x * y])


def test_a_swapped_claim_is_never_proven_whatever_the_hash_seed():
    script = (
        "from sympy import symbols; from derive import verify\n"
        "x, y = symbols('x y', real=True)\n"
        "try:\n"
        "    print(verify(x * y**2, (x * y**2).free_symbols, [2 * x * y, y**2]).status)\n"
        "except Exception as error:\n"
        "    print(type(error).__name__)\n"
    )
    for seed in ("0", "1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        assert out.stdout.strip() == "VerificationInputError", out.stderr


def test_a_dict_claim_is_rejected():
    with pytest.raises(VerificationInputError, match="dict, which has no order"):
        verify(x * y, [x, y], {x: y, y: x})


def test_noncommutative_symbols_are_rejected():
    A, B = symbols("A B", commutative=False)
    with pytest.raises(VerificationInputError, match="noncommutative"):
        verify(A * B * A, [A], [2 * A * B])


@pytest.mark.parametrize(
    "loss, claim",
    [
        (0.5 * x**2, x * (1 + Rational(1, 10**20))),
        (x**2 / 6, Float(0.25, precision=1) * x),
        (x**2, 2.0000000000000001 * x + Rational(1, 10**30)),
    ],
)
def test_floats_are_made_exact_before_anything_is_subtracted(loss, claim):
    verdict = verify(loss, [x], [claim])
    assert verdict.status == "refuted", str(verdict)
    (failure,) = verdict.failures
    assert failure.expected != failure.claimed


def test_a_float_that_is_exactly_right_is_proven():
    assert verify(0.5 * x**2, [x], [x]).status == "proven"


Z = sin(x) ** 2 + cos(x) ** 2 - 1  # zero everywhere, though not syntactically
GAMMA_IDENTITY = sympy.gamma(x + 2) / sympy.gamma(x + 1) - x - 1  # zero; only simplify sees it


@pytest.mark.parametrize(
    "loss, claim",
    [
        (nan, 0),
        (zoo, 0),
        (x + nan, 0),
        (x**2, 2 * x * (x * Z + Z) / ((x + 1) * Z)),  # 0/0 everywhere
        (x / Z, 1 / Z),  # the loss too
        (log(Z) + x, 1),
    ],
)
def test_what_is_undefined_everywhere_is_never_proven(loss, claim):
    verdict = verify(loss, [x], [claim])
    assert verdict.status == "unproven"
    assert "undefined" in str(verdict)


def test_a_claim_defined_almost_everywhere_is_still_proven():
    assert verify(log(x**2), [x], [2 / x]).status == "proven"


# --- false "refuted" ---------------------------------------------------------------------------

T = 1000 * x


def test_total_cancellation_is_not_a_counterexample():
    verdict = verify_identity([exp(T) * (1 - tanh(T / 2)) / 2], [1 / (1 + exp(-T))])
    assert verdict.status == "proven"


def test_a_difference_hidden_below_hundreds_of_digits_is_refuted_with_certainty():
    wrong = 1 / (1 + exp(-T)) * (1 + Rational(1, 10**30))
    verdict = verify_identity([exp(T) * (1 - tanh(T / 2)) / 2], [wrong])
    assert verdict.status == "refuted"
    (failure,) = verdict.failures
    assert abs(failure.expected - failure.claimed) > 0
    assert str(failure.expected)[:30] != str(failure.claimed)[:30] or "e-" in str(failure)


def test_rounding_alone_never_refutes(monkeypatch):
    import derive.core.search

    # Pretend every 60-digit look disagrees: only certified differences may refute.
    monkeypatch.setattr(derive.core.search, "AGREEMENT_THRESHOLD", 0)
    verdict = verify_identity([exp(T) * (1 - tanh(T / 2)) / 2, sin(x) ** 2], [1 / (1 + exp(-T)), 1 - cos(x) ** 2])
    assert verdict.status == "proven"


@pytest.mark.parametrize(
    "symbol, check",
    [
        (Symbol("i", imaginary=True), lambda v: v.is_imaginary),
        (Symbol("n", even=True), lambda v: v.is_even),
        (Symbol("n", odd=True, positive=True), lambda v: v.is_odd and v > 0),
        (Symbol("p", prime=True), lambda v: v.is_prime),
        (Symbol("q", negative=True, integer=True), lambda v: v.is_integer and v < 0),
    ],
)
def test_samples_satisfy_every_assumption(symbol, check):
    verdict = verify(symbol**2 * x, [x], [symbol**2 + 1])
    assert verdict.status == "refuted"
    assert check(verdict.failures[0].point[symbol])


def test_without_a_sampler_random_points_cannot_refute():
    q = Symbol("q", transcendental=True)
    verdict = verify(q * x, [x], [q + 1])
    assert verdict.status == "unproven"
    assert "no sampler for q" in str(verdict)


# --- crashes and broken limits -----------------------------------------------------------------


f = Function("f")


@pytest.mark.parametrize(
    "loss, claim, status",
    [
        (x * Heaviside(x), Heaviside(x), "proven"),  # its derivative has DiracDelta
        (x * Heaviside(x), 1, "refuted"),
        (f(x) * x, f(x) + x * sympy.Derivative(f(x), x), "proven"),
        (f(x) * x, f(x), "refuted"),
        (f(x**2), 2 * x * f(x**2), "refuted"),
        (jn(2, x), jn(1, x), "refuted"),
        (erfcinv(x), x, "unproven"),  # no numeric evaluator: an honest unproven
        (x * DiracDelta(x - 1), 0, "proven"),  # off its kink x = 1
    ],
)
def test_functions_lambdify_does_not_know_do_not_crash(loss, claim, status):
    assert verify(loss, [x], [claim]).status == status


def test_undefined_functions_are_opaque_values_in_a_counterexample():
    (failure,) = verify(f(x) * x, [x], [f(x)]).failures
    assert set(failure.opaque) == {f(x), sympy.Derivative(f(x), x)}
    assert "f(x) = " in str(failure)


def test_an_infinite_time_limit_means_no_limit_and_leaves_no_handler():
    before = signal.getsignal(signal.SIGALRM)
    assert verify(sin(x) ** 2, [x], [sin(2 * x)], time_limit=float("inf")).status == "proven"
    assert signal.getsignal(signal.SIGALRM) is before


def test_the_callers_alarm_is_untouched():
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        assert verify(x**2, [x], [2 * x + GAMMA_IDENTITY]).status == "proven"  # runs the worker
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == [True]


def test_time_limit_holds_off_the_main_thread_and_with_sigalrm_blocked():
    verdicts = []

    def run():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        claim = sympy.expand((x + y + z + 1) ** 20) * (x + y + z + 1) ** 140
        verdicts.append(verify(w * (x + y + z + 1) ** 160, [w], [claim], time_limit=1))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert verdicts[0].status == "unproven"
    assert "time limit of 1 s reached" in str(verdicts[0])


def test_a_verdict_does_not_depend_on_the_thread_or_a_running_timer():
    def verdict():
        return verify(sin(x) ** 2, [x], [sin(2 * x)]).status

    results = []
    worker = threading.Thread(target=lambda: results.append(verdict()))
    worker.start()
    worker.join()
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)  # like pytest-timeout's signal mode
        results.append(verdict())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    results.append(verdict())
    assert results == ["proven"] * 3


def test_each_entry_has_its_own_budget():
    v = Symbol("v", real=True)
    slow = sympy.expand((x + y + z + 1) ** 20) * (x + y + z + 1) ** 140
    verdict = verify(w * (x + y + z + 1) ** 160 + v**2, [w, v], [slow, 2 * v + GAMMA_IDENTITY], time_limit=2)
    assert [e.status for e in verdict.entries] == ["unproven", "proven"]
    assert verdict.entries[1].strategy == "simplify"


def test_unproven_says_whether_time_ran_out_or_nothing_worked(monkeypatch):
    import derive.core.verifier

    assert "time limit of 0 s reached" in str(verify(x**2, [x], [2 * x + GAMMA_IDENTITY], time_limit=0))
    monkeypatch.setattr(derive.core.verifier, "AFTER_SEARCH", ())
    assert "no strategy proved it (in " in str(verify(x**2, [x], [2 * x + GAMMA_IDENTITY]))


def test_time_limit_zero_still_runs_the_instant_strategies():
    verdict = verify(log(exp(x) + 1), [x], [1 - 1 / (exp(x) + 1)], time_limit=0)
    assert verdict.status == "proven" and verdict.strategies == ("rational",)


def test_a_huge_claim_is_refuted():
    assert verify(x, [x], [10**5000]).status == "refuted"


@pytest.mark.parametrize("claim", [MatrixSymbol("M", 1, 1), [MatrixSymbol("M", 1, 1)], [MatrixSymbol("M", 2, 1)[0]]])
def test_matrix_symbols_are_rejected(claim):
    with pytest.raises(VerificationInputError, match="[Mm]atrix"):
        verify(x, [x], claim)


def test_a_tiny_relative_difference_prints_enough_digits_to_see_it():
    (failure,) = verify(x**2, [x], [2 * x * (1 + Rational(1, 10**20))]).failures
    text = str(failure)
    true_text = text.split("true value ")[1].split(",")[0]
    claimed_text = text.split("claimed ")[1]
    assert true_text != claimed_text


@pytest.mark.parametrize("options", [{"time_limit": float("nan")}, {"time_limit": "1"}, {"seed": 1.5}, {"points": True}])
def test_bad_options_are_precise_errors(options):
    with pytest.raises(VerificationInputError):
        verify(x**2, [x], [2 * x], **options)


def test_complex_values_compare_as_complex_numbers():
    assert verify(x**2 * I, [x], [2 * I * x]).status == "proven"
    assert verify(x**2 * I, [x], [2 * x]).status == "refuted"


def test_abs_of_a_complex_symbol_is_not_split_as_a_real_kink():
    c = Symbol("c")  # complex: |c| has no kink of the real kind
    assert verify(Abs(x) * c, [c], [Abs(x)]).status == "proven"
    assert verify(KroneckerDelta(1, 1) * x, [x], [1]).status == "proven"
    assert verify(Eq(x, x) and x, [x], [1]).status == "proven"


def test_verdicts_and_counterexamples_do_not_depend_on_the_hash_seed():
    script = (
        "from sympy import Eq, Max, Piecewise, exp, log, symbols\n"
        "from derive import verify\n"
        "w, x, b, u, v = symbols('w x b u v', real=True)\n"
        "t0, t1 = symbols('t0 t1', positive=True)\n"
        "soft = -t0 * log(exp(u) / (exp(u) + exp(v))) - t1 * log(exp(v) / (exp(u) + exp(v)))\n"
        "print(verify(soft, [u, v], [exp(u) / (exp(u) + exp(v)) - t0 * 1.0000001, 0],\n"
        "             given=[Eq(t0 + t1, 1)]))\n"
        "print(verify(Max(0, w * x + b), [w, b], [Piecewise((x, w * x + b > 1), (0, True)), 1]))\n"
        "print(verify(Max(0, w * x + b), [b, w], [Piecewise((1, w * x + b > 0), (0, True)),\n"
        "                                        Piecewise((x, w * x + b > 0), (0, True))]))\n"
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1, outputs
    (text,) = outputs
    assert [line.split(":")[0] for line in text.splitlines()] == ["refuted", "refuted", "proven (kinks) except where b + w*x = 0"]
