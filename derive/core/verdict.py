"""The verifier's answers: one verdict per entry, and the verdict on a whole claim."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import sympy
from sympy import Expr, Rational, Symbol

Status = Literal["proven", "refuted", "unproven"]

#: Digits to which the two sides must agree at a random point to count as numeric evidence.
AGREEMENT_DIGITS = 50


class VerificationInputError(TypeError):
    """The loss, variables or claim given to the verifier are malformed."""


@dataclass(frozen=True)
class Counterexample:
    """A point where the true value and the claimed value differ.

    ``index`` is the entry's position in the flattened variables (or claims),
    ``point`` maps each free symbol to the exact rational value used, and
    ``expected`` / ``claimed`` are the two sides there, to 50 digits.
    """

    index: int
    point: dict[Symbol, Rational]
    expected: Expr
    claimed: Expr

    def __str__(self) -> str:
        at = ", ".join(f"{symbol} = {_short(value)}" for symbol, value in self.point.items())
        return (
            f"entry {self.index}: at {at or 'any point'}: "
            f"true value {_short(self.expected)}, claimed {_short(self.claimed)}"
        )


@dataclass(frozen=True)
class EntryVerdict:
    """The verdict on one entry, with how it was reached."""

    index: int
    status: Status
    strategy: str | None = None
    counterexample: Counterexample | None = None
    agreeing_points: int = 0
    undefined_points: int = 0

    def describe(self) -> str:
        """One line: the status and the reason for it."""
        if self.status == "proven":
            return f"proven ({self.strategy})"
        if self.status == "refuted":
            return f"refuted: {self.counterexample}"
        evidence = (
            f"the two sides agreed to {AGREEMENT_DIGITS} digits at {self.agreeing_points} random points"
            if self.agreeing_points
            else "no numeric evidence either"
        )
        if self.undefined_points:
            evidence += f" ({self.undefined_points} points undefined)"
        return f"unproven: no proof within the time limit; {evidence}"


@dataclass(frozen=True)
class Verdict:
    """The verdict on a whole claim: proven only if every entry is proven.

    Examples
    --------
    >>> from sympy import symbols, exp
    >>> from derive import verify
    >>> t = symbols("t", real=True)
    >>> verify(exp(2 * t), [t], [2 * exp(2 * t)]).status
    'proven'
    >>> bool(verify(exp(2 * t), [t], [exp(2 * t)]))
    False
    """

    entries: tuple[EntryVerdict, ...]

    @property
    def status(self) -> Status:
        statuses = {entry.status for entry in self.entries}
        if "refuted" in statuses:
            return "refuted"
        if "unproven" in statuses:
            return "unproven"
        return "proven"

    @property
    def failures(self) -> tuple[Counterexample, ...]:
        """The counterexamples of the refuted entries, in entry order."""
        return tuple(e.counterexample for e in self.entries if e.counterexample is not None)

    @property
    def strategies(self) -> tuple[str, ...]:
        """The distinct proof strategies that proved entries, cheapest first."""
        from derive.core.verifier import PROOF_STRATEGIES

        used = {e.strategy for e in self.entries if e.strategy}
        return tuple(name for name, _, _ in PROOF_STRATEGIES if name in used)

    def __bool__(self) -> bool:
        return self.status == "proven"

    def _repr_latex_(self) -> str:
        """Jupyter shows the verdict as a line of text in math mode."""
        from derive.report.latex import latex_text

        return rf"$\text{{{latex_text(str(self))}}}$"

    def __str__(self) -> str:
        if self.status == "proven":
            return f"proven ({', '.join(self.strategies)})"
        first = next(e for e in self.entries if e.status == self.status)
        return first.describe()



def _short(value) -> str:
    """A readable number: exact decimals for our sample points, 17 digits otherwise."""
    if isinstance(value, sympy.Rational):
        return str(Decimal(int(value.p)) / Decimal(int(value.q)))
    if isinstance(value, sympy.Basic) and value.is_Number:
        return str(sympy.Float(value, 17))
    return str(value)
