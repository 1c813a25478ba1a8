"""The cheap proof strategy's parts: freezing atoms and the gcd-free zero test."""

import pytest
import sympy
from sympy import Rational, cos, exp, log, sin, sqrt, symbols

from derive.core.freeze import AtomFreezer, freeze_atoms
from derive.core.rational import NotRational, is_zero_rational

a, b, c = symbols("a b c")
f, g = symbols("f g", real=True)


@pytest.mark.parametrize(
    "expr",
    [
        a / (a + b) + b / (a + b) - 1,
        (a + b) ** 2 - a**2 - 2 * a * b - b**2,
        1 / (a * (a + b)) - (1 / a - 1 / (a + b)) / b,
        (a**-2 * b) * a**2 - b,
        Rational(1, 3) * a - a / 3,
    ],
)
def test_zero_rational_functions_are_recognised(expr):
    assert is_zero_rational(expr)


@pytest.mark.parametrize("expr", [a / (a + b), a - b, (a + b) ** 2 - a**2 - b**2, Rational(1, 10**40) * a])
def test_nonzero_rational_functions_are_not(expr):
    assert not is_zero_rational(expr)


def test_only_rational_functions_are_accepted():
    with pytest.raises(NotRational):
        is_zero_rational(sin(a) - sin(a) + sqrt(a))


def test_exponentials_share_one_symbol_per_primitive_argument():
    assert is_zero_rational(freeze_atoms(exp(2 * f) * exp(-f) - exp(f)))
    assert is_zero_rational(freeze_atoms(exp(f / 2) ** 2 - exp(f)))


def test_freezing_is_sound_but_incomplete():
    # true identities that need more than rational algebra are not "proven" here
    assert not is_zero_rational(freeze_atoms(sin(f) ** 2 + cos(f) ** 2 - 1))
    assert not is_zero_rational(freeze_atoms(exp(f + g) - exp(f) * exp(g)))
    # ...the splitting mode sees through sums in exponents and logs in them
    splitting = AtomFreezer(split_exponentials=True)
    assert is_zero_rational(splitting.freeze(exp(f + g) - exp(f) * exp(g)))
    assert is_zero_rational(splitting.freeze(exp(f - log(c)) - exp(f) / c))


def test_infinities_are_refused():
    with pytest.raises(ValueError):
        freeze_atoms(a + sympy.zoo)
    with pytest.raises(ValueError):
        freeze_atoms(a * sympy.nan)


def test_floats_freeze_to_their_exact_value():
    assert is_zero_rational(freeze_atoms(sympy.Float(0.5) * a - a / 2))
    assert freeze_atoms(sympy.Float(0.1) * a) == Rational(3602879701896397, 2**55) * a
