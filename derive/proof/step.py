"""A derivation's steps as data: each builds pairs (true, claimed) that the verifier decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sympy import Expr

from derive.core import Verdict

#: What a step builds: the true values (what SymPy itself computes) and the claimed ones.
Pairs = tuple[list[Expr], list[Expr]]


@dataclass(frozen=True)
class Step:
    """One claim of the derivation: its name, its LaTeX, how to build it."""

    name: str
    latex: str
    scope: str
    build: Callable[[Any], Pairs]


@dataclass(frozen=True)
class StepResult:
    """A step of the route (or an extra fact) with the verifier's verdict."""

    step: Step
    verdict: Verdict

    @property
    def status(self) -> str:
        return self.verdict.status


@dataclass(frozen=True)
class DerivationVerdict:
    """Verdicts for every gradient row, every step and every extra fact."""

    rows: tuple[Verdict, ...]
    steps: tuple[StepResult, ...]
    facts: tuple[StepResult, ...]

    @property
    def status(self) -> str:
        statuses = [v.status for v in self.rows]
        statuses += [s.status for s in self.steps + self.facts]
        for status in ("refuted", "unproven"):
            if status in statuses:
                return status
        return "proven"

    def __bool__(self) -> bool:
        return self.status == "proven"

    def _repr_latex_(self) -> str:
        return rf"$\text{{{self.summary()}}}$"

    @property
    def counts(self) -> str:
        """How many of each kind were proven, e.g. ``3 of 3 rows, 8 of 8 steps, 3 of 3 facts proven``."""

        def count(results) -> str:
            return f"{sum(r.status == 'proven' for r in results)} of {len(results)}"

        return f"{count(self.rows)} rows, {count(self.steps)} steps, {count(self.facts)} facts proven"

    def summary(self) -> str:
        """One line, e.g. ``proven (3 of 3 rows, 8 of 8 steps, 3 of 3 facts proven)``."""
        return f"{self.status} ({self.counts})"


