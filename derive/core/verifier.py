"""Prove or refute that claimed expressions equal the true ones.

The verifier answers one question: is ``lhs[i] - rhs[i]`` identically zero for
every entry ``i``?  :func:`verify` asks it of a loss's SymPy derivative and a
claimed gradient; :func:`verify_identity` asks it of any two lists.

Each entry gets one of three verdicts:

``proven``
    A strategy reduced the difference to zero: structural identity, an exact
    zero test of it as a rational function of its atoms (over SymPy's
    polynomial ring), or SymPy's own ``expand_log`` and ``simplify``.  They
    run from cheap to expensive (:data:`PROOF_STRATEGIES`) within a time limit.
``refuted``
    At a concrete point the two sides differ, and the difference is
    confirmed at 50 and again at 100 significant digits (mpmath), so rounding
    cannot refute a right claim.
``unproven``
    Neither: no proof within the time limit and no confirmed counterexample.
    The verdict keeps the numeric evidence (points where the sides agreed).
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import mpmath
import sympy
from sympy import Expr, Rational, Symbol

from derive.core.freeze import AtomFreezer
from derive.core.verdict import (
    AGREEMENT_DIGITS,
    Counterexample,
    EntryVerdict,
    Status,
    Verdict,
    VerificationInputError,
)
from derive.core.rational import is_zero_rational

#: Default wall-clock budget, in seconds, for the proof search of one call.
DEFAULT_TIME_LIMIT = 10.0
#: Default number of random points tried when looking for a counterexample.
DEFAULT_POINTS = 6
#: The counterexample search of an entry gets at least this many seconds,
#: even when the proof search has used up ``time_limit``.
SEARCH_FLOOR = 2.0

#: Working precision (significant digits) of the counterexample search, and
#: the higher precision at which a candidate counterexample is confirmed.
SEARCH_DIGITS = 50
CONFIRM_DIGITS = 100
#: Below this relative size a 50-digit difference counts as rounding noise.
AGREEMENT_THRESHOLD = mpmath.mpf("1e-40")
#: A counterexample is confirmed when the 100-digit difference reproduces the
#: 50-digit one to this relative accuracy (rounding noise would not).
CONFIRMATION_TOLERANCE = mpmath.mpf("1e-6")


# --- proof strategies, cheapest first -------------------------------------


def _is_identical(difference: Expr, search: "_Search") -> bool:
    return difference == 0


def _is_rational_zero(difference: Expr, search: "_Search") -> bool:
    """Zero as a rational function of its exponentials and other atoms."""
    return is_zero_rational(search.freezer.freeze(difference))


def _is_log_expanded_zero(difference: Expr, search: "_Search") -> bool:
    """Zero once SymPy expands logarithms of products (where that is valid)."""
    return sympy.expand_log(difference) == 0


def _is_exp_log_zero(difference: Expr, search: "_Search") -> bool:
    """Zero after expanding logarithms and splitting exponentials of sums."""
    expanded = sympy.expand_log(difference)
    return is_zero_rational(search.splitting_freezer.freeze(expanded))


def _is_simplify_zero(difference: Expr, search: "_Search") -> bool:
    return sympy.simplify(difference) == 0


#: (name, test, needs_interrupt): the proof ladder.  A strategy that needs an
#: interrupt can run for long; it is tried only where the time limit can stop it.
PROOF_STRATEGIES: tuple[tuple[str, Callable[[Expr, "_Search"], bool], bool], ...] = (
    ("identical", _is_identical, False),
    ("rational", _is_rational_zero, False),
    ("log-expand", _is_log_expanded_zero, False),
    ("exp-log", _is_exp_log_zero, False),
    ("simplify", _is_simplify_zero, True),
)
_CHEAP = 3  # strategies before this index run before the counterexample search


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so that SymPy's ``except Exception`` can't swallow it."""


def _can_interrupt() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )


@contextmanager
def _interrupt_after(seconds: float):
    """Raise _OutOfTime inside the block after ``seconds`` (main thread only)."""

    def on_alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_TIMED_OUT = object()


class _Search:
    """The proof and counterexample searches of one call, sharing one deadline.

    Off the main thread nothing can be interrupted: cheap strategies still run
    (each is polynomial in the expression's size), ``simplify`` does not.
    """

    def __init__(self, time_limit: float):
        self.deadline = time.monotonic() + time_limit
        self.interruptible = _can_interrupt()
        self.freezer = AtomFreezer()
        self.splitting_freezer = AtomFreezer(split_exponentials=True)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def bounded(self, seconds: float, function, *args):
        """``function(*args)``, or ``_TIMED_OUT`` once ``seconds`` have passed."""
        if seconds <= 0:
            return _TIMED_OUT
        if not self.interruptible:
            return function(*args)
        try:
            with _interrupt_after(seconds):
                return function(*args)
        except _OutOfTime:
            return _TIMED_OUT

    def prove(self, difference: Expr, strategies) -> str | None:
        """The name of the first strategy that proves ``difference == 0``, if any."""
        for name, test, needs_interrupt in strategies:
            if needs_interrupt and not self.interruptible:
                continue
            outcome = self.bounded(self.remaining(), _attempt, test, difference, self)
            if outcome is _TIMED_OUT:
                return None
            if outcome:
                return name
        return None

    def find_counterexample(self, index, true, claimed, points, rng):
        """The counterexample search, given at least SEARCH_FLOOR seconds."""
        seconds = max(self.remaining(), SEARCH_FLOOR)
        outcome = self.bounded(seconds, _search_counterexample, index, true, claimed, points, rng)
        return (None, 0, 0) if outcome is _TIMED_OUT else outcome


def _attempt(test, difference: Expr, search: _Search) -> bool:
    try:
        return bool(test(difference, search))
    except Exception:  # a strategy that fails has simply not proven it
        return False


# --- counterexample search --------------------------------------------------


def _sample(symbol: Symbol, rng: random.Random) -> Rational:
    """An exact random value that respects the symbol's assumptions."""
    if symbol.is_integer:
        low = 1 if symbol.is_positive else 0 if symbol.is_nonnegative else -3
        high = -1 if symbol.is_negative else 0 if symbol.is_nonpositive else 3
        value = rng.randint(low, high)
        if value == 0 and symbol.is_nonzero:
            value = high if high else low
        return Rational(value)
    magnitude = Rational(rng.randint(100, 2000), 1000)
    if symbol.is_positive or symbol.is_nonnegative:
        return magnitude
    if symbol.is_negative or symbol.is_nonpositive:
        return -magnitude
    return magnitude if rng.random() < 0.5 else -magnitude


def _to_mp(value: Rational):
    return mpmath.mpf(int(value.p)) / int(value.q)


def _finite(value) -> bool:
    try:
        return bool(mpmath.isfinite(value))
    except TypeError:
        return False


def _to_sympy(value) -> Expr:
    if isinstance(value, mpmath.mpc):
        return sympy.Float(value.real, SEARCH_DIGITS) + sympy.I * sympy.Float(value.imag, SEARCH_DIGITS)
    return sympy.Float(value, SEARCH_DIGITS)


def _evaluate(function, arguments: Sequence[Rational], digits: int):
    """Both sides at a point, or None where either is undefined or not finite."""
    with mpmath.workdps(digits):
        try:
            true_value, claimed_value = function(*[_to_mp(a) for a in arguments])
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            return None
        if not (_finite(true_value) and _finite(claimed_value)):
            return None
        return true_value, claimed_value


def _search_counterexample(index: int, true: Expr, claimed: Expr, points: int, rng: random.Random):
    """Return (counterexample or None, agreeing points, undefined points)."""
    symbols = sorted(true.free_symbols | claimed.free_symbols, key=lambda s: s.name)
    try:
        function = sympy.lambdify(symbols, [true, claimed], modules="mpmath")
    except Exception:  # e.g. ComplexInfinity or a function mpmath lacks: no evidence
        return None, 0, points
    agreeing = undefined = 0
    for _ in range(points):
        point = [_sample(symbol, rng) for symbol in symbols]
        found = _evaluate(function, point, SEARCH_DIGITS)
        if found is None:
            undefined += 1
            continue
        true_value, claimed_value = found
        with mpmath.workdps(SEARCH_DIGITS):
            difference = true_value - claimed_value
            scale = max(mpmath.mpf(1), abs(true_value), abs(claimed_value))
            if abs(difference) <= AGREEMENT_THRESHOLD * scale:
                agreeing += 1
                continue
        confirmed = _evaluate(function, point, CONFIRM_DIGITS)
        if confirmed is not None:
            with mpmath.workdps(CONFIRM_DIGITS):
                precise = confirmed[0] - confirmed[1]
                if precise != 0 and abs(precise - difference) <= CONFIRMATION_TOLERANCE * abs(precise):
                    counterexample = Counterexample(
                        index=index,
                        point=dict(zip(symbols, point)),
                        expected=_to_sympy(true_value),
                        claimed=_to_sympy(claimed_value),
                    )
                    return counterexample, agreeing, undefined
        undefined += 1  # unstable at this point: neither agreement nor proof of error
    return None, agreeing, undefined


# --- public entry points ----------------------------------------------------


def verify_identity(
    lhs: Iterable,
    rhs: Iterable,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    points: int = DEFAULT_POINTS,
    seed: int = 0,
) -> Verdict:
    """Decide, entry by entry, whether ``lhs[i] == rhs[i]`` identically.

    ``lhs`` holds the true values (for a gradient: SymPy's derivatives) and
    ``rhs`` the claimed ones.  ``time_limit`` bounds the proof search in
    seconds; ``points`` random points (drawn with ``seed``) are tried for a
    counterexample when the cheap proofs fail.

    Examples
    --------
    >>> from sympy import symbols, log, exp
    >>> a = symbols("a", positive=True)
    >>> verify_identity([log(a**2)], [2 * log(a)]).status
    'proven'
    >>> verify_identity([exp(a)], [1 + a]).failures[0].index
    0
    """
    truths = [_as_expr(value, "true value") for value in _flatten(lhs)]
    claims = [_as_expr(value, "claim") for value in _flatten(rhs)]
    if len(truths) != len(claims):
        raise VerificationInputError(
            f"{len(truths)} true values but {len(claims)} claimed values; they must pair up"
        )
    _check_budget(time_limit, points)
    search = _Search(time_limit)
    rng = random.Random(seed)
    entries = []
    for index, (true, claimed) in enumerate(zip(truths, claims)):
        entries.append(_decide(index, true, claimed, search, points, rng))
    return Verdict(tuple(entries))


def verify(
    loss,
    wrt,
    claim,
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    points: int = DEFAULT_POINTS,
    seed: int = 0,
) -> Verdict:
    """Verify that ``claim`` is the gradient of the scalar ``loss`` w.r.t. ``wrt``.

    ``wrt`` is a sequence or Matrix of Symbols; ``claim`` has the same number
    of entries (any shape), paired in row-major order.  The true derivative of
    each entry is SymPy's own ``diff``.

    Examples
    --------
    >>> from sympy import symbols, exp, log
    >>> u, v = symbols("u v", real=True)
    >>> loss = log(exp(u) + exp(v))
    >>> verify(loss, [u, v], [exp(u) / (exp(u) + exp(v)), exp(v) / (exp(u) + exp(v))]).status
    'proven'
    >>> verdict = verify(loss, [u, v], [exp(u), exp(v)])
    >>> verdict.status, verdict.failures[0].index
    ('refuted', 0)
    """
    if isinstance(loss, (sympy.MatrixBase, sympy.MatrixExpr, list, tuple)):
        raise VerificationInputError(
            f"loss must be a scalar SymPy expression, got {type(loss).__name__}"
        )
    loss = _as_expr(loss, "loss")
    variables = _flatten(wrt)
    for variable in variables:
        if not isinstance(variable, Symbol):
            raise VerificationInputError(
                f"every variable in wrt must be a sympy Symbol, got {variable!r} ({type(variable).__name__})"
            )
    claims = _flatten(claim)
    if len(claims) != len(variables):
        raise VerificationInputError(
            f"wrt has {len(variables)} variables but claim has {len(claims)} entries"
        )
    truths = [sympy.diff(loss, variable) for variable in variables]
    return verify_identity(truths, claims, time_limit=time_limit, points=points, seed=seed)


def _decide(index, true, claimed, search: _Search, points, rng) -> EntryVerdict:
    difference = true - claimed
    strategy = search.prove(difference, PROOF_STRATEGIES[:_CHEAP])
    if strategy:
        return EntryVerdict(index, "proven", strategy)
    counterexample, agreeing, undefined = search.find_counterexample(index, true, claimed, points, rng)
    if counterexample is not None:
        return EntryVerdict(index, "refuted", None, counterexample, agreeing, undefined)
    strategy = search.prove(difference, PROOF_STRATEGIES[_CHEAP:])
    if strategy:
        return EntryVerdict(index, "proven", strategy, None, agreeing, undefined)
    return EntryVerdict(index, "unproven", None, None, agreeing, undefined)


def _flatten(values) -> list:
    if isinstance(values, (str, bytes)):
        raise VerificationInputError(
            "got a string; derive never parses strings with eval: build expressions with sympy"
        )
    if isinstance(values, sympy.MatrixBase):
        return list(values)
    if isinstance(values, sympy.Basic):
        return [values]
    try:
        flat = []
        for value in values:
            flat.extend(_flatten(value) if _is_nested(value) else [value])
        return flat
    except TypeError:
        raise VerificationInputError(
            f"expected a sequence or Matrix, got {type(values).__name__}"
        ) from None


def _is_nested(value) -> bool:
    return isinstance(value, (list, tuple, sympy.MatrixBase))


def _as_expr(value, what: str) -> Expr:
    if isinstance(value, (str, bytes)):
        raise VerificationInputError(
            f"the {what} is a string ({value!r}); derive never parses strings with eval: "
            "build it with sympy objects"
        )
    if isinstance(value, bool) or not isinstance(value, (sympy.Basic, int, float)):
        raise VerificationInputError(
            f"the {what} must be a SymPy expression or a number, got {type(value).__name__}"
        )
    expr = sympy.sympify(value)  # safe: a number or a Basic, never a string
    if not isinstance(expr, Expr):
        raise VerificationInputError(f"the {what} must be an expression, got {type(expr).__name__}")
    return expr


def _check_budget(time_limit: float, points: int) -> None:
    if not (isinstance(time_limit, (int, float)) and time_limit >= 0):
        raise VerificationInputError(f"time_limit must be a number of seconds >= 0, got {time_limit!r}")
    if not (isinstance(points, int) and points >= 1):
        raise VerificationInputError(f"points must be an integer >= 1, got {points!r}")
