"""assert_gradient, the assertion users put in their own test suites."""

import subprocess
import sys
import textwrap

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
    assert message.startswith("gradient refuted (1 wrong entry); first: dL/dv: at u = ")
    assert ", v = " in message and "true value 0." in message and "claimed -0." in message


def test_unproven_says_so():
    claim = [RIGHT[0] + sin(u) ** 2 + cos(u) ** 2 - 1, RIGHT[1]]
    with pytest.raises(AssertionError, match="gradient unproven, neither proven nor refuted"):
        assert_gradient(LOSS, [u, v], claim, time_limit=0)


def test_bad_input_is_not_an_assertion_error():
    with pytest.raises(TypeError):
        assert_gradient("log(exp(u) + exp(v))", [u, v], RIGHT)


USER_TEST = """
from sympy import exp, log, symbols
from derive.testing import assert_gradient

u, v = symbols("u v", real=True)


def test_wrong_gradient():
    assert_gradient(log(exp(u) + exp(v)), [u, v], [exp(u), exp(v)])
"""


@pytest.mark.parametrize("style", ["auto", "long", "short"])
def test_pytest_report_shows_the_users_line_not_derives_frames(tmp_path, style):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--tb={style}", "test_user.py"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    report = process.stdout
    assert process.returncode == 1, report + process.stderr
    assert "assert_gradient(log(exp(u) + exp(v)), [u, v], [exp(u), exp(v)])" in report
    assert "AssertionError: gradient refuted (2 wrong entries)" in report
    assert "testing.py" not in report and "raise AssertionError" not in report


def test_import_derive_alone_makes_derive_testing_usable():
    code = textwrap.dedent(
        """
        import derive
        from sympy import symbols, tanh
        t = symbols("t", real=True)
        derive.testing.assert_gradient(tanh(t), [t], [1 - tanh(t) ** 2])
        print(derive.testing.assert_gradient.__module__)
        """
    )
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (process.returncode, process.stdout) == (0, "derive.testing\n"), process.stderr
