"""assert_gradient, the assertion users put in their own test suites."""

import pytest
from sympy import cos, exp, log, sin, symbols

from derive.testing import assert_gradient

u, v = symbols("u v", real=True)
LOSS = log(exp(u) + exp(v))
RIGHT = [exp(u) / (exp(u) + exp(v)), exp(v) / (exp(u) + exp(v))]


def test_passes_silently_for_a_proven_gradient():
    assert assert_gradient(LOSS, [u, v], RIGHT) is None


def test_refuted_message_names_entry_point_true_and_claimed_values():
    wrong = [RIGHT[0], -RIGHT[1]]
    with pytest.raises(AssertionError) as error:
        assert_gradient(LOSS, [u, v], wrong)
    message = str(error.value)
    assert message.startswith("gradient refuted (1 wrong entry); first: entry 1: at u = ")
    assert ", v = " in message and "true value 0." in message and "claimed -0." in message


def test_unproven_says_so():
    claim = [RIGHT[0] + sin(u) ** 2 + cos(u) ** 2 - 1, RIGHT[1]]
    with pytest.raises(AssertionError, match="gradient unproven, neither proven nor refuted"):
        assert_gradient(LOSS, [u, v], claim, time_limit=0)


def test_bad_input_is_not_an_assertion_error():
    with pytest.raises(TypeError):
        assert_gradient("log(exp(u) + exp(v))", [u, v], RIGHT)
