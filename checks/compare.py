"""The one comparison: a normwise relative error that never lets NaN pass as agreement.

    error = max |value - reference| / max(max |reference|, floor)

over all entries (see ``checks.tolerances`` for why normwise and what the floor is).  Any entry
that is NaN, infinite or complex, on either side, makes the error ``inf``: NaN compares False to
everything, so a check written as ``not (error > tolerance)`` would pass it; this one cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from mpmath import mp, mpc, mpf

from checks.tolerances import REFERENCE_DIGITS


@dataclass(frozen=True)
class Comparison:
    """The error and the worst entry (row, column) with both numbers, for failure messages."""

    error: float
    entry: tuple[int, int]
    value: mpf
    reference: mpf

    @property
    def finite(self) -> bool:
        """False when an entry was NaN, infinite or complex."""
        return math.isfinite(self.error)


def relative_error(value: Any, reference: Any, floor: float = 0.0) -> Comparison:
    """Normwise relative error of ``value`` against ``reference`` (numbers, vectors or matrices).

    Examples
    --------
    >>> f"{relative_error([[1.0, 2.0]], [[1.0, 2.0 + 2e-12]]).error:.1e}"
    '1.0e-12'
    >>> relative_error([[float("nan"), 2.0]], [[1.0, 2.0]]).error  # NaN is a failure
    inf
    >>> relative_error([[0.0]], [[1e-300]], floor=1e-200).error  # below the floor: absolute
    1e-100
    """
    with mp.workdps(REFERENCE_DIGITS):
        values, references = _matrix(value), _matrix(reference)
        if values.shape != references.shape:
            raise ValueError(f"shapes differ: value {values.shape}, reference {references.shape}")
        entries = list(np.ndindex(values.shape))
        for entry in entries:
            if not (_finite(values[entry]) and _finite(references[entry])):
                return Comparison(math.inf, entry, _real(values[entry]), _real(references[entry]))
        differences = {entry: abs(values[entry] - references[entry]) for entry in entries}
        worst = max(entries, key=differences.__getitem__)
        size = max(max(abs(references[entry]) for entry in entries), mpf(floor))
        if differences[worst] == 0:
            error = 0.0
        elif size == 0:
            error = math.inf
        else:
            error = float(differences[worst] / size)
        return Comparison(error, worst, values[worst], references[worst])


def _matrix(numbers: Any) -> np.ndarray:
    array = np.atleast_2d(np.array(numbers, dtype=object))
    if array.ndim != 2:
        raise ValueError(f"expected a number, vector or matrix, got shape {array.shape}")
    converted = np.empty(array.shape, dtype=object)
    for entry in np.ndindex(array.shape):
        converted[entry] = _convert(array[entry])
    return converted


def _convert(number: Any) -> mpf | mpc:
    if isinstance(number, (complex, mpc)):
        return mp.mpc(number)
    try:
        return mp.mpf(number)
    except (TypeError, ValueError) as error:
        raise TypeError(f"not a number: {number!r} ({type(number).__name__})") from error


def _finite(number: mpf | mpc) -> bool:
    return isinstance(number, mpf) and bool(mp.isfinite(number))


def _real(number: mpf | mpc) -> mpf:
    """A complex entry is shown as NaN in messages: it is not a real gradient."""
    return number if isinstance(number, mpf) else mp.nan
