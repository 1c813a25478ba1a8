"""The result of a cross-check: one row per method, and a plain-text table of them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class MethodRow:
    """One method: how many points it judged, its worst error, its tolerance, its verdict.

    ``failure`` names the worst point with both numbers when the method fails; ``note`` says
    anything else a reader should know (for example points that could not be judged).  A method
    that is not ``applicable`` (at this scale its tolerance could not fail, see
    ``checks.tolerances.TOLERANCE_CAP``) is neither a pass nor a failure: its ``ok`` is False, it is
    shown as ``n/a`` with a note saying why, and ``CrossCheck`` leaves it out of its verdict.
    """

    name: str
    points: int
    max_relative_error: float
    tolerance: float
    ok: bool
    failure: str = ""
    note: str = ""
    applicable: bool = True

    @property
    def status(self) -> str:
        """``yes``, ``NO`` or ``n/a``: the table's last column."""
        if not self.applicable:
            return "n/a"
        return "yes" if self.ok else "NO"


@dataclass(frozen=True)
class CrossCheck:
    """All methods of one cross-check.

    Examples
    --------
    >>> row = MethodRow("closed form vs mpmath reference", 16, 2.5e-51, 1e-30, True)
    >>> result = CrossCheck("K=3, D=2, label 0", (row,))
    >>> result.ok, result.max_relative_error
    (True, 2.5e-51)
    >>> print(result)
    cross_check: K=3, D=2, label 0
    method                           points  max rel. error  tolerance  ok
    closed form vs mpmath reference      16         2.5e-51    1.0e-30  yes
    verdict: ok, every method within its tolerance
    >>> coarse = MethodRow("closed form vs forward differences", 16, 0.3, 18.0, False,
    ...                    note="not applicable at this scale", applicable=False)
    >>> with_coarse = CrossCheck("K=3, D=2, label 0", (row, coarse))
    >>> with_coarse.ok, with_coarse.max_relative_error, with_coarse.failures
    (True, 2.5e-51, ())
    >>> print(with_coarse.table().splitlines()[-1])
    verdict: ok, every applicable method within its tolerance; 1 not applicable at this scale
    """

    heading: str
    methods: tuple[MethodRow, ...]

    @property
    def applicable(self) -> tuple[MethodRow, ...]:
        """The methods that can fail at this scale: the only ones the verdict counts."""
        return tuple(row for row in self.methods if row.applicable)

    @property
    def ok(self) -> bool:
        """True when some method applies and every applicable one is within its tolerance.

        A method not applicable at this scale is not a pass: it is left out, and with no
        applicable method at all nothing was checked, so ``ok`` is False.
        """
        return bool(self.applicable) and all(row.ok for row in self.applicable)

    @property
    def max_relative_error(self) -> float:
        """The largest error over the applicable methods (``inf`` if one was NaN or infinite)."""
        return max((row.max_relative_error for row in self.applicable), default=math.inf)

    @property
    def failures(self) -> tuple[str, ...]:
        """One message per failing method, naming it, the point, the entry and both numbers."""
        return tuple(f"{row.name}: {row.failure}" for row in self.applicable if not row.ok)

    def table(self) -> str:
        """A readable plain-text table, then failures, notes and the verdict."""
        width = max([len("method")] + [len(row.name) for row in self.methods])
        lines = [
            f"cross_check: {self.heading}",
            f"{'method':<{width}}  points  max rel. error  tolerance  ok",
        ]
        for row in self.methods:
            error = f"{row.max_relative_error:.1e}" if row.points else "-"
            lines.append(
                f"{row.name:<{width}}  {row.points:>6}  {error:>14}"
                f"  {row.tolerance:>9.1e}  {row.status}"
            )
        lines += [f"FAILED {message}" for message in self.failures]
        lines += [f"note: {row.name}: {row.note}" for row in self.methods if row.note]
        failing = len(self.failures)
        skipped = len(self.methods) - len(self.applicable)
        if not skipped:
            verdict = (
                "ok, every method within its tolerance"
                if self.ok
                else f"FAILED, {failing} of {len(self.methods)} methods"
            )
        elif not self.applicable:
            verdict = "FAILED, no method is applicable at this scale: nothing was checked"
        elif self.ok:
            verdict = "ok, every applicable method within its tolerance"
        else:
            verdict = f"FAILED, {failing} of {len(self.applicable)} applicable methods"
        if skipped and self.applicable:
            verdict += f"; {skipped} not applicable at this scale"
        lines.append(f"verdict: {verdict}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
