"""checks: numeric cross-checks of a derivation's gradient (finite differences, mpmath)."""

from checks.compare import Comparison, relative_error
from checks.cross_check import cross_check
from checks.finite_diff import central_difference, forward_difference
from checks.report import CrossCheck, MethodRow
from checks.tolerances import TOLERANCES, Tolerance

__all__ = [
    "Comparison",
    "CrossCheck",
    "MethodRow",
    "TOLERANCES",
    "Tolerance",
    "central_difference",
    "cross_check",
    "forward_difference",
    "relative_error",
]
