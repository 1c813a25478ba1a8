r"""Assertions for users' own test suites.

Examples
--------
>>> from sympy import symbols, tanh
>>> from derive.testing import assert_gradient
>>> t = symbols("t", real=True)
>>> assert_gradient(tanh(t), [t], [1 - tanh(t) ** 2])

A derivation document, checked step by step (see ``docs/format.md``):

>>> from derive.testing import assert_derivation
>>> assert_derivation('''Let $a \\in \\mathbb{R}$.
...
... $$ f = a^3 $$
... $$ \\frac{\\partial f}{\\partial a} = 3 a^2 $$
... ''')
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


def assert_derivation(text_or_path, *, time_limit: float = DEFAULT_TIME_LIMIT) -> None:
    """Pass silently if every step of a derivation document is proven.

    ``text_or_path`` is the document's text or a path to it.  Raise ``AssertionError`` with the
    whole report otherwise: the first wrong step's ``file:line``, its counterexample and the
    named mistake when there is one, or why a step is unproven.  A document that cannot be read
    raises :class:`~derive.DocumentError` (a ``ValueError``) with ``file:line:column``.
    """
    __tracebackhide__ = True
    from pathlib import Path

    from derive.document import check_document

    if isinstance(text_or_path, str) and "\n" not in text_or_path and text_or_path.endswith(".md"):
        text_or_path = Path(text_or_path)
    result = check_document(text_or_path, time_limit=time_limit)
    if result.status != "proven":
        raise AssertionError(f"derivation {result.status}:\n{result}")


def assert_implementation(fn, loss: str = "softmax-cross-entropy", **options) -> None:
    """Pass silently if ``fn`` computes catalog loss ``loss`` and its gradient correctly.

    ``options`` are those of :func:`derive.check_implementation` (``samples``, ``features``,
    ``classes``, ``reg``, ``dtype``, ``layout``, ``bias``, ``framework``, ...).  Raise
    ``AssertionError`` with the whole report otherwise: the verdict (wrong, unstable, imprecise,
    incomplete or crashed), the named mistake when there is one, and the worst entry against its exact value.

    Examples
    --------
    >>> import numpy as np
    >>> def mse_loss(w, X, t, reg):
    ...     residuals = X @ w - t
    ...     loss = np.mean(residuals**2) + reg * np.sum(w * w)
    ...     return loss, X.T @ residuals / len(t) + 2 * reg * w  # forgot the 2 of (s - t)^2
    >>> assert_implementation(mse_loss, "mean-squared-error", samples=20, features=4)
    Traceback (most recent call last):
    ...
    AssertionError: mse_loss is wrong: missing factor 2
    ...
    """
    __tracebackhide__ = True
    from derive.implementation import check_implementation

    report = check_implementation(fn, loss, **options)
    if not report.ok:
        headline = f"{report.function} is {report.verdict}" + (
            f": {report.mistake}" if report.mistake else "")
        raise AssertionError(f"{headline}\n{report}")
