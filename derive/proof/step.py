"""A derivation's steps as data: each builds pairs (true, claimed) that the verifier decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sympy import Expr

from derive.core.display import DisplayedMath
from derive.core import Verdict, worst

#: What a step builds: the true values (what SymPy itself computes) and the claimed ones.
Pairs = tuple[list[Expr], list[Expr]]


@dataclass(frozen=True)
class Step:
    """One claim of the derivation: its name, its LaTeX, what is checked, how to build it.

    ``scope`` says which instances are checked: a string (``every m``), or a function of the
    derivation for steps that check a sample of rows at large K.  ``build(derivation)``
    returns the pairs.
    """

    name: str
    latex: str
    scope: str | Callable[[Any], str]
    build: Callable[[Any], Pairs]

    def for_derivation(self, derivation) -> "Step":
        """This step with its scope spelled out for one derivation, e.g. ``rows 0, 7, 8, 999``."""
        if not callable(self.scope):
            return self
        return replace(self, scope=self.scope(derivation))


@dataclass(frozen=True)
class StepResult:
    """A step of the route (or an extra fact), as checked, with the verifier's verdict."""

    step: Step
    verdict: Verdict

    @property
    def status(self) -> str:
        return self.verdict.status

    def title(self) -> str:
        """The name with its scope, e.g. ``case m != y (every m != y)``."""
        scope = self.step.scope
        return f"{self.step.name} ({scope})" if scope else self.step.name


@dataclass(frozen=True)
class Row:
    """One row of the gradient: the expression printed and the verdict on it.

    ``shown`` is the claim in display notation when the verified closed form is that claim
    with its definitions substituted; otherwise it is the verified closed form itself.
    """

    index: int
    shown: Expr
    verdict: Verdict

    @property
    def status(self) -> str:
        return self.verdict.status


@dataclass(frozen=True, repr=False)
class DerivationVerdict(DisplayedMath):
    """Verdicts for every gradient row, every step and every extra fact.

    ``str()`` gives the summary line, then one line per row, step and fact.
    """

    rows: tuple[Verdict, ...]
    steps: tuple[StepResult, ...]
    facts: tuple[StepResult, ...]

    @property
    def status(self) -> str:
        return worst([v.status for v in self.rows] + [s.status for s in self.steps + self.facts])

    def __bool__(self) -> bool:
        return self.status == "proven"

    def __str__(self) -> str:
        lines = [self.summary()]
        lines += [f"  {rows}: {text}" for rows, text in _runs([_one_line(v) for v in self.rows])]
        for kind, results in (("step", self.steps), ("fact", self.facts)):
            lines += [
                f"  {kind} {number}, {result.title()}: {_one_line(result.verdict)}"
                for number, result in enumerate(results, start=1)
            ]
        return "\n".join(lines)

    @property
    def counts(self) -> str:
        """How many of each kind were proven, e.g. ``3 of 3 rows, 8 of 8 steps, 3 of 3 facts proven``."""

        def count(results) -> str:
            return f"{sum(r.status == 'proven' for r in results)} of {len(results)}"

        return f"{count(self.rows)} rows, {count(self.steps)} steps, {count(self.facts)} facts proven"

    def summary(self) -> str:
        """One line, e.g. ``proven (3 of 3 rows, 8 of 8 steps, 3 of 3 facts proven)``."""
        return f"{self.status} ({self.counts})"


def _runs(texts: list[str]) -> list[tuple[str, str]]:
    """Consecutive rows with the same verdict as one line: ``rows 0-999``, ``row 3``."""
    runs: list[tuple[int, int, str]] = []
    for m, text in enumerate(texts):
        if runs and runs[-1][2] == text:
            runs[-1] = (runs[-1][0], m, text)
        else:
            runs.append((m, m, text))
    return [(f"row {a}" if a == b else f"rows {a}-{b}", text) for a, b, text in runs]


def _one_line(verdict: Verdict) -> str:
    return " ".join(str(verdict).split())
