"""The result of a cross-check: one row per method, and a plain-text table of them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodRow:
    """One method: how many points it judged, its worst error, its tolerance, its verdict.

    ``failure`` names the worst point with both numbers when the method fails; ``note`` says
    anything else a reader should know (for example points that could not be judged).
    """

    name: str
    points: int
    max_relative_error: float
    tolerance: float
    ok: bool
    failure: str = ""
    note: str = ""


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
    """

    heading: str
    methods: tuple[MethodRow, ...]

    @property
    def ok(self) -> bool:
        """True when there are methods and every one is within its tolerance (no NaN anywhere)."""
        return bool(self.methods) and all(row.ok for row in self.methods)

    @property
    def max_relative_error(self) -> float:
        """The largest error over all methods (``inf`` if anything was NaN or infinite)."""
        return max(row.max_relative_error for row in self.methods)

    @property
    def failures(self) -> tuple[str, ...]:
        """One message per failing method, naming it, the point, the entry and both numbers."""
        return tuple(f"{row.name}: {row.failure}" for row in self.methods if not row.ok)

    def table(self) -> str:
        """A readable plain-text table, then failures, notes and the verdict."""
        width = max([len("method")] + [len(row.name) for row in self.methods])
        lines = [
            f"cross_check: {self.heading}",
            f"{'method':<{width}}  points  max rel. error  tolerance  ok",
        ]
        for row in self.methods:
            lines.append(
                f"{row.name:<{width}}  {row.points:>6}  {row.max_relative_error:>14.1e}"
                f"  {row.tolerance:>9.1e}  {'yes' if row.ok else 'NO'}"
            )
        lines += [f"FAILED {message}" for message in self.failures]
        lines += [f"note: {row.name}: {row.note}" for row in self.methods if row.note]
        failing = len(self.failures)
        if self.ok:
            lines.append("verdict: ok, every method within its tolerance")
        else:
            lines.append(f"verdict: FAILED, {failing} of {len(self.methods)} methods")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()
