"""Assertions for users' own test suites.

Examples
--------
>>> from sympy import symbols, tanh
>>> from derive.testing import assert_gradient
>>> t = symbols("t", real=True)
>>> assert_gradient(tanh(t), [t], [1 - tanh(t) ** 2])
"""

from __future__ import annotations

from derive.core import DEFAULT_TIME_LIMIT, verify


def assert_gradient(loss, wrt, claim, *, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
    """Pass silently if ``claim`` is proven to be the gradient of ``loss``.

    Raise ``AssertionError`` otherwise: for a refuted claim the message names
    the first failing entry, the point, the true and the claimed value; for an
    unproven claim it says that no proof and no counterexample were found.
    pytest leaves this function's frame out of the failure report, which then
    points at the caller's ``assert_gradient(...)`` line.
    """
    __tracebackhide__ = True  # pytest: show the user's test, not derive's internals
    verdict = verify(loss, wrt, claim, time_limit=time_limit)
    if verdict.status == "refuted":
        first = verdict.failures[0]
        raise AssertionError(
            f"gradient refuted ({len(verdict.failures)} wrong entr"
            f"{'y' if len(verdict.failures) == 1 else 'ies'}); first: {first}"
        )
    if verdict.status == "unproven":
        raise AssertionError(f"gradient unproven, neither proven nor refuted: {verdict}")
