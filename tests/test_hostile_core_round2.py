"""Issue 13, "never lie, round 2": inputs that made the core say something false or crash.

Each test failed on the core before the fix: fat kink exception sets, identical claims with no
kink named, undefined-everywhere expressions proven identical, time limits that overflowed,
``select`` past 1024 descriptors, a refused ``fork``, deep expressions, an "instant" rational test
that ran for minutes, a contradictory ``given`` called "not linear", and two symbols printed alike.
"""

import errno
import math
import os
import resource

import pytest
import sympy
from sympy import (
    Abs, Add, And, DiracDelta, Eq, Heaviside, I, Limit, Max, Piecewise, Rational, Subs, Symbol,
    atan, ceiling, cos, diff, exp, floor, frac, log, pi, sign, sin, symbols, tanh, together,
)

from derive import VerificationInputError, verify, verify_identity
from derive.core.rational import TooLarge, is_zero_rational
from derive.core.strategies import INSTANT_WORK, MAX_TERMS

x, y, s = symbols("x y s", real=True)
n = Symbol("n", integer=True)
nonzero = Symbol("q", real=True, nonzero=True)


def _wrong_only_where_zero(kink):
    """``|k|`` against a claim equal to it wherever ``k != 0`` and off by 7 wherever ``k == 0``."""
    return Abs(kink), kink * sign(kink) + 7 * (1 - sign(kink) ** 2)


# --- 1. kinks: an exception set must be a null set ---------------------------------------------


@pytest.mark.parametrize(
    "kink",
    [
        floor(x),  # zero on [0, 1)
        ceiling(x),  # zero on (-1, 0]
        floor(x) * floor(y),  # zero on a union of strips
        sign(x) ** 2 - 1,  # zero everywhere but x = 0
        sin(x) ** 2 + cos(x) ** 2 - 1,  # zero everywhere
        Abs(x) - x,  # zero on [0, oo)
        Max(x, 0) - x,  # zero on [0, oo)
        exp(log(nonzero**2) / 2) - nonzero,  # |q| - q without Abs: zero on (0, oo)
        n,  # an integer symbol: n = 0 is a point of the domain, not a null set
    ],
    ids=str,
)
def test_a_claim_wrong_on_a_fat_zero_set_is_never_proven(kink):
    truth, claim = _wrong_only_where_zero(kink)
    verdict = verify_identity([truth], [claim])
    assert verdict.status != "proven", str(verdict)


def test_abs_of_floor_is_refuted_where_floor_vanishes():
    truth, claim = _wrong_only_where_zero(floor(x))
    verdict = verify_identity([truth], [claim])
    assert verdict.status == "refuted", str(verdict)
    (failure,) = verdict.failures
    assert 0 <= failure.point[x] < 1 and float(failure.expected) == 0 and float(failure.claimed) == 7


@pytest.mark.parametrize("kink", [x * y - 1, exp(x) - y, tanh(x) + x**3 - y, log(1 + x**2) - 1])
def test_a_claim_wrong_only_on_a_null_set_is_proven_except_there(kink):
    truth, claim = _wrong_only_where_zero(kink)
    verdict = verify_identity([truth], [claim])
    assert verdict.status == "proven", str(verdict)
    assert len(verdict.except_where) == 1


def test_an_identical_claim_still_names_the_kink():
    for verdict in (verify(Max(0, s), [s], [Heaviside(s)]),
                    verify_identity([diff(Max(0, s), s)], [Heaviside(s)])):
        assert verdict.status == "proven" and verdict.except_where == (Eq(s, 0),), str(verdict)
        assert str(verdict) == "proven (identical) except where s = 0"


def test_a_rational_proof_still_names_the_kink():
    claim = Max(0, s) * Heaviside(s) + Heaviside(s) * Max(0, s)
    verdict = verify(Max(0, s) ** 2, [s], [claim])
    assert verdict.status == "proven" and verdict.except_where == (Eq(s, 0),), str(verdict)


def test_an_identical_claim_never_names_a_fat_kink():
    verdict = verify_identity([Heaviside(floor(x))], [Heaviside(floor(x))])
    assert verdict.status == "proven" and verdict.except_where == (), str(verdict)


# --- 2. definedness: "identical" is no proof of something undefined everywhere -----------------

_ZERO = sin(x) ** 2 + cos(x) ** 2 - 1  # zero everywhere, which SymPy does not see


@pytest.mark.parametrize(
    "undefined",
    [
        Piecewise((1, And(x > 1, x < 0))),
        Piecewise((x, x > 1), (1 / _ZERO, True)),
        DiracDelta(_ZERO),
        tanh(I * pi / 2 * (_ZERO + 1)),  # tanh at its pole i pi/2
        atan(I * (_ZERO + 1)),  # atan at its pole i
        Subs(1 / y, y, 0),
        Limit(sign(y), y, 0, "+-") + x,  # does not exist
        _ZERO ** (_ZERO - 1),  # 0 ** -1
        Heaviside(I * (_ZERO + 1)),  # Heaviside of a non-real number
    ],
    ids=str,
)
def test_an_expression_undefined_everywhere_is_not_proven_equal_to_itself(undefined):
    verdict = verify_identity([undefined], [undefined])
    assert verdict.status == "unproven", str(verdict)


@pytest.mark.parametrize(
    "defined",
    [Piecewise((1, x > 1), (2, x < 0)), log(-exp(x)), sympy.sqrt(-1 - x**2), DiracDelta(x) + x],
    ids=str,
)
def test_an_expression_defined_somewhere_is_still_proven_equal_to_itself(defined):
    assert verify_identity([defined], [defined]).status == "proven"


# --- 3. options and platforms: a verdict or a precise error, never a stray exception -----------


@pytest.mark.parametrize("limit", [1e10, 10**400, math.inf, 1e300])
def test_a_huge_time_limit_means_no_deadline(limit):
    verdict = verify_identity([x**2, sin(x) ** 2 + cos(x) ** 2], [x * x, 1], time_limit=limit)
    assert verdict.status == "proven", str(verdict)


@pytest.mark.parametrize("limit", [math.nan, -1, -math.inf, "10", True, None, 1j])
def test_a_malformed_time_limit_is_a_precise_error(limit):
    with pytest.raises(VerificationInputError, match="time_limit"):
        verify_identity([x], [x], time_limit=limit)


def test_a_caller_with_more_than_1024_open_files_gets_a_verdict():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1200
    if hard != resource.RLIM_INFINITY and hard < wanted + 50:
        pytest.skip(f"the hard limit of {hard} open files is too low for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted + 50), hard))
    opened = []
    try:
        while not opened or opened[-1] < wanted:
            opened.append(os.open(os.devnull, os.O_RDONLY))
        verdict = verify_identity([sin(x) ** 2 + cos(x) ** 2], [1], time_limit=30)
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert verdict.status == "proven", str(verdict)


@pytest.mark.parametrize("where, error", [
    ("fork", BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")),
    ("pipe", OSError(errno.EMFILE, "Too many open files")),
])
def test_a_refused_worker_is_an_honest_unproven(monkeypatch, where, error):
    def refuse(*args):
        raise error

    monkeypatch.setattr(os, where, refuse)
    verdict = verify_identity([x**2, sin(x) ** 2 + cos(x) ** 2], [x * x, 1])
    first, second = verdict.entries
    assert first.status == "proven"  # decided instantly, in the caller
    assert second.status == "unproven" and "could not start a worker process" in second.reason


def _tanh_chain(depth):
    value = x
    for _ in range(depth):
        value = tanh(value)
    return value


def test_a_loss_too_deep_for_sympys_diff_is_a_precise_error():
    with pytest.raises(VerificationInputError, match="nested too deeply"):
        verify(_tanh_chain(200), [x], [0], time_limit=5)


def test_a_deep_identity_gets_a_verdict():
    chain = _tanh_chain(200)
    assert verify_identity([chain], [chain + 1], time_limit=20).status == "refuted"


def test_an_identity_too_deep_for_sympy_is_a_verdict_or_a_precise_error():
    deep = x
    for _ in range(3000):
        deep = sympy.Function("f")(deep)
    try:
        verdict = verify_identity([deep, x], [deep, x + 1], time_limit=5)
    except VerificationInputError as error:
        assert "nested too deeply" in str(error)
    else:
        assert verdict.status in ("refuted", "unproven")


# --- 4. the instant tier is bounded by work, not only by size -----------------------------------


def test_two_hundred_fractions_are_too_much_work_for_the_instant_tier():
    # They once ran 22 to 103 s in the caller, outside time_limit=1: the term budget let them in.
    fractions = Add(*[1 / (x + k) for k in range(200)])
    with pytest.raises(TooLarge, match="units of work"):
        is_zero_rational(fractions - together(fractions), MAX_TERMS, INSTANT_WORK)
    verdict = verify_identity([fractions], [together(fractions)], time_limit=1)
    assert verdict.status in ("proven", "unproven"), str(verdict)
    if verdict.status == "unproven":
        assert "time limit" in verdict.entries[0].reason, str(verdict)


def test_a_rational_identity_too_large_for_the_instant_tier_is_proven_in_the_worker():
    fractions = Add(*[1 / (x + k) for k in range(60)])
    verdict = verify_identity([fractions], [together(fractions)], time_limit=60)
    assert verdict.status == "proven" and verdict.strategies == ("rational",), str(verdict)


# --- 5. messages --------------------------------------------------------------------------------

a, b, c = symbols("a b c", positive=True)


@pytest.mark.parametrize("given", [
    [Eq(a + b, 1), Eq(a + b, 2)],
    [Eq(a + b + c, 1), Eq(a, 1 - b - c + Rational(1, 3))],
    [Eq(a - a, 1)],
])
def test_contradictory_constraints_are_called_contradictory(given):
    with pytest.raises(VerificationInputError, match="contradictory") as caught:
        verify_identity([a + b], [1], given=given)
    assert "linear" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_redundant_constraint_is_accepted():
    verdict = verify_identity([a + b], [1], given=[Eq(a + b, 1), Eq(2 * a + 2 * b, 2)])
    assert verdict.status == "proven", str(verdict)


@pytest.mark.parametrize("call", [
    lambda: verify(Symbol("x") ** 2 + Symbol("x", positive=True), [Symbol("x")], [2 * Symbol("x")]),
    lambda: verify(x**2, [Symbol("x")], [2 * x]),
    lambda: verify_identity([Symbol("x")], [Symbol("x", positive=True)]),
    lambda: verify_identity([a], [a], given=[Eq(Symbol("a") + b, 1)]),
    lambda: verify_identity([sympy.Dummy("x") + x], [sympy.Dummy("x")]),
])
def test_two_symbols_with_one_name_are_rejected_by_name(call):
    with pytest.raises(VerificationInputError, match="two different symbols are both named"):
        call()


def test_frac_kinks_are_not_split_on():
    truth, claim = _wrong_only_where_zero(frac(x))
    assert verify_identity([truth], [claim]).status != "proven"


def test_a_constraint_too_large_to_expand_is_a_precise_error_at_once():
    t = symbols("t0:10", positive=True)
    with pytest.raises(VerificationInputError, match="more than 10000 terms"):  # not minutes of expand
        verify_identity([t[0]], [t[0]], given=[Eq(Add(*t) ** 20, 1)])


def test_a_switch_exactly_at_zero_takes_sympys_value_there():
    # sign(floor(x)) is exactly 0 on [0, 1): the search evaluates it there instead of giving up.
    claim = Heaviside(floor(x)) + 3 * (1 - sign(floor(x)) ** 2)  # wrong exactly where floor(x) = 0
    verdict = verify_identity([Heaviside(floor(x))], [claim])
    assert verdict.status == "refuted", str(verdict)
    (failure,) = verdict.failures
    assert 0 <= failure.point[x] < 1 and float(failure.claimed - failure.expected) == 3
