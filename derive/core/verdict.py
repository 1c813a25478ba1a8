"""The verifier's answers: one verdict per entry, and the verdict on a whole claim.

``proven``
    A strategy showed the two sides equal wherever they are defined, and they are certifiably
    defined somewhere.  ``except_where`` names the lower-dimensional set (the kinks of the loss,
    where it is not differentiable) on which the claim may differ; ``()`` means everywhere.  Every
    set it names is certified null (of measure zero): a kink such as ``floor(x)``, zero on all of
    ``[0, 1)``, is never named, and a claim that needs it as an exception is not proven.
``refuted``
    At an exact point the two sides are both defined and their difference is certified nonzero.
``unproven``
    Neither; ``reason`` says why (no strategy proved it in the time it took, the time limit was
    reached, the expressions are undefined at every point tried, or random points cannot be
    drawn for some symbol's assumptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import mpmath
import sympy
from sympy import Expr, Symbol

from derive.core.display import DisplayedMath

Status = Literal["proven", "refuted", "unproven"]

#: Digits to which the two sides must agree at a random point to count as numeric evidence.
AGREEMENT_DIGITS = 50


class VerificationInputError(TypeError):
    """The loss, variables, claim or options given to the verifier are malformed."""


@dataclass(frozen=True)
class Counterexample:
    """An exact point where the true value and the claimed value certifiably differ.

    ``variable`` is the wrt Symbol of the entry (None for :func:`~derive.verify_identity`),
    ``point`` gives an exact value for each symbol the entry depends on, ``opaque`` the value
    chosen for each undefined function application, and ``expected`` / ``claimed`` are the two
    sides there, certified to at least 50 digits; they are printed with ``shown_digits``, enough
    to show that they differ.
    """

    index: int
    variable: Symbol | None
    point: dict[Symbol, Expr]
    expected: Expr
    claimed: Expr
    opaque: dict[Expr, Expr] = field(default_factory=dict)
    shown_digits: int = 17

    @property
    def entry(self) -> str:
        """The entry's name: ``dL/db_1`` for a gradient, ``entry 3`` otherwise."""
        return f"dL/d{self.variable}" if self.variable is not None else f"entry {self.index}"

    def __str__(self) -> str:
        values = {**self.point, **self.opaque}
        at = ", ".join(f"{symbol} = {_number(value)}" for symbol, value in values.items())
        return (
            f"{self.entry}: at {at or 'any point'}: "
            f"true value {_number(self.expected, self.shown_digits)}, "
            f"claimed {_number(self.claimed, self.shown_digits)}"
        )


@dataclass(frozen=True)
class EntryVerdict:
    """The verdict on one entry, with how it was reached."""

    index: int
    status: Status
    strategy: str | None = None
    counterexample: Counterexample | None = None
    except_where: tuple = ()
    reason: str = ""
    agreeing_points: int = 0
    undefined_points: int = 0
    variable: Symbol | None = None

    def describe(self) -> str:
        """One line: the status and the reason for it."""
        if self.status == "proven":
            return f"proven ({self.strategy}){_except(self.except_where)}"
        if self.status == "refuted":
            return f"refuted: {self.counterexample}"
        name = f"dL/d{self.variable}: " if self.variable is not None else ""
        evidence = (
            f"; the two sides agreed to {AGREEMENT_DIGITS} digits at {self.agreeing_points} random points"
            if self.agreeing_points
            else ""
        )
        if self.undefined_points:
            evidence += f" ({self.undefined_points} points undefined or undecided)"
        return f"unproven: {name}{self.reason}{evidence}"


@dataclass(frozen=True, repr=False)
class Verdict(DisplayedMath):
    """The verdict on a whole claim: proven only if every entry is proven.

    Examples
    --------
    >>> from sympy import symbols, exp, Max
    >>> from derive import verify
    >>> t = symbols("t", real=True)
    >>> verify(exp(2 * t), [t], [2 * exp(2 * t)]).status
    'proven'
    >>> bool(verify(exp(2 * t), [t], [exp(2 * t)]))
    False
    >>> print(verify(Max(0, t), [t], [sympy.Piecewise((1, t > 0), (0, True))]))
    proven (kinks) except where t = 0
    """

    entries: tuple[EntryVerdict, ...]

    @property
    def status(self) -> Status:
        return worst(entry.status for entry in self.entries)

    @property
    def failures(self) -> tuple[Counterexample, ...]:
        """The counterexamples of the refuted entries, in entry order."""
        return tuple(e.counterexample for e in self.entries if e.counterexample is not None)

    @property
    def except_where(self) -> tuple:
        """For a proven verdict: the relations (``Eq(s, 0)``) on which the claim may differ."""
        if self.status != "proven":
            return ()
        seen = dict.fromkeys(r for e in self.entries for r in e.except_where)
        return tuple(sorted(seen, key=sympy.default_sort_key))

    @property
    def strategies(self) -> tuple[str, ...]:
        """The distinct proof strategies that proved entries, in the ladder's order."""
        from derive.core.strategies import LADDER_ORDER

        used = {e.strategy for e in self.entries if e.strategy}
        return tuple(name for name in LADDER_ORDER if name in used)

    def __bool__(self) -> bool:
        return self.status == "proven"

    def __str__(self) -> str:
        if self.status == "proven":
            return f"proven ({', '.join(self.strategies)}){_except(self.except_where)}"
        wrong = [e for e in self.entries if e.status == self.status]
        first = wrong[0].describe()
        if len(wrong) > 1:
            first += f" (and {len(wrong) - 1} more {self.status} entr{'y' if len(wrong) == 2 else 'ies'})"
        return first


def worst(statuses) -> Status:
    """The verdict of a whole made of parts: refuted, else unproven, else proven.

    Examples
    --------
    >>> worst(["proven", "unproven", "proven"]), worst([])
    ('unproven', 'proven')
    """
    statuses = set(statuses)
    for status in ("refuted", "unproven"):
        if status in statuses:
            return status
    return "proven"


def _except(relations: tuple) -> str:
    if not relations:
        return ""
    return " except where " + " or ".join(f"{r.lhs} = {r.rhs}" for r in relations)


def _number(value, digits: int = 17) -> str:
    """Exact rationals as they are; other numbers to ``digits`` significant digits."""
    if isinstance(value, sympy.Integer):
        return str(value)
    if isinstance(value, sympy.Rational):
        return _decimal(value)
    if isinstance(value, sympy.Float):
        return mpmath.nstr(value._to_mpmath(value._prec), digits)
    if isinstance(value, sympy.Expr) and value.is_number:
        return str(value.evalf(digits))
    return str(value)


def _decimal(value: sympy.Rational) -> str:
    """A rational with a power-of-ten-friendly denominator as an exact decimal, else p/q."""
    q = int(value.q)
    for prime in (2, 5):
        while q % prime == 0:
            q //= prime
    if q != 1:
        return str(value)
    return str(Decimal(int(value.p)) / Decimal(int(value.q)))
