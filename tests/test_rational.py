"""The cheap proof strategy's parts: freezing atoms and the gcd-free zero test.

SymPy simplifies as it builds: ``(a**-2 * b) * a**2 - b`` or ``exp(2*f) * exp(-f)
- exp(f)`` is already ``0`` before any code under test sees it.  So the inputs
here are built unevaluated (``sympy.evaluate(False)``, ``evaluate=False``), and
each test first asserts that its input is not already what it should become.
"""

import pytest
import sympy
from sympy import Add, Float, Mul, Pow, Rational, cos, exp, log, sin, sqrt, symbols

from derive.core.freeze import AtomFreezer, freeze_atoms
from derive.core.rational import NotRational, is_zero_rational

a, b, c = symbols("a b c")
f, g = symbols("f g", real=True)

with sympy.evaluate(False):  # exactly as written: no term cancels before is_zero_rational runs
    ZERO = [
        a / (a + b) + b / (a + b) - 1,
        (a + b) ** 2 - a**2 - 2 * a * b - b**2,
        1 / (a * (a + b)) - (1 / a - 1 / (a + b)) / b,
        (a**-2 * b) * a**2 - b,
        Rational(1, 3) * a - a / 3,
    ]
    NONZERO = [a / (a + b), a - b, (a + b) ** 2 - a**2 - b**2, Rational(1, 10**40) * a]
    NOT_RATIONAL = [sin(a) - sin(a) + a, a + sqrt(a)]


def unevaluated_sum(*terms):
    return Add(*terms, evaluate=False)


@pytest.mark.parametrize("expr", ZERO, ids=str)
def test_zero_rational_functions_are_recognised(expr):
    assert expr != 0 and not expr.is_Number  # the zero test has work to do
    assert sympy.cancel(expr) == 0  # and the case really is zero (an independent check)
    assert is_zero_rational(expr)


@pytest.mark.parametrize("expr", NONZERO, ids=str)
def test_nonzero_rational_functions_are_not(expr):
    assert sympy.cancel(expr) != 0
    assert not is_zero_rational(expr)


@pytest.mark.parametrize("expr", NOT_RATIONAL, ids=str)
def test_only_rational_functions_are_accepted(expr):
    assert expr.has(sin, sqrt(a))  # the non-rational part has not been cancelled away
    with pytest.raises(NotRational):
        is_zero_rational(expr)


def test_exponentials_share_one_symbol_per_primitive_argument():
    quotient = unevaluated_sum(Mul(exp(2 * f), exp(-f), evaluate=False), -exp(f))
    halves = unevaluated_sum(Mul(exp(f / 2), exp(3 * f / 2), evaluate=False), -Pow(exp(f / 2), 4, evaluate=False))
    for expr in (quotient, halves):
        assert expr != 0  # SymPy alone would have merged the exponentials to 0
        assert is_zero_rational(freeze_atoms(expr))


def test_exponentials_of_different_fractions_of_one_argument_share_a_symbol():
    # The old form of this check, exp(f / 2) ** 2 - exp(f), was 0 before freeze_atoms saw it.
    expr = unevaluated_sum(Pow(exp(f / 2), 2, evaluate=False), -exp(f))
    assert expr != 0
    assert is_zero_rational(freeze_atoms(expr))


def test_freezing_is_sound_but_incomplete():
    # true identities that need more than rational algebra are not "proven" here
    assert not is_zero_rational(freeze_atoms(sin(f) ** 2 + cos(f) ** 2 - 1))
    assert not is_zero_rational(freeze_atoms(exp(f + g) - exp(f) * exp(g)))
    # ...the splitting mode sees through sums in exponents and logs in them
    splitting = AtomFreezer(split_exponentials=True)
    assert is_zero_rational(splitting.freeze(exp(f + g) - exp(f) * exp(g)))
    shifted = unevaluated_sum(exp(f - log(c), evaluate=False), -exp(f) / c)
    assert shifted != 0  # SymPy alone would rewrite exp(f - log(c)) as exp(f)/c
    assert is_zero_rational(splitting.freeze(shifted))


def test_infinities_are_refused():
    with pytest.raises(ValueError):
        freeze_atoms(a + sympy.zoo)
    with pytest.raises(ValueError):
        freeze_atoms(a * sympy.nan)


def test_floats_freeze_to_their_exact_value():
    half = unevaluated_sum(Float(0.5) * a, -a / 2)
    assert half != 0  # SymPy alone would have cancelled 0.5*a - a/2
    assert is_zero_rational(freeze_atoms(half))
    assert freeze_atoms(Float(0.1) * a) == Rational(3602879701896397, 2**55) * a
