"""Central and forward finite differences of a scalar function of a float64 array.

Steps come from ``checks.tolerances``, which also says how accurate each formula is.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

ScalarFunction = Callable[[np.ndarray], float]


def central_difference(function: ScalarFunction, at: np.ndarray, step: float) -> np.ndarray:
    """``(F(a + h e_i) - F(a - h e_i)) / 2h`` for every entry ``i`` of ``at``; error O(h^2).

    Examples
    --------
    >>> at = np.array([0.0, 1.0])
    >>> gradient = central_difference(lambda a: float(np.exp(a).sum()), at, 6e-6)
    >>> bool(np.allclose(gradient, np.exp(at), rtol=1e-9, atol=0))
    True
    """
    return _differences(function, at, step, lambda up, down: (up - down) / (2 * step), central=True)


def forward_difference(function: ScalarFunction, at: np.ndarray, step: float) -> np.ndarray:
    """``(F(a + h e_i) - F(a)) / h`` for every entry ``i`` of ``at``; error O(h).

    Examples
    --------
    >>> at = np.array([0.0, 1.0])
    >>> gradient = forward_difference(lambda a: float(np.exp(a).sum()), at, 1.5e-8)
    >>> bool(np.allclose(gradient, np.exp(at), rtol=1e-6, atol=0))
    True
    """
    return _differences(function, at, step, lambda up, here: (up - here) / step, central=False)


def _differences(
    function: ScalarFunction,
    at: np.ndarray,
    step: float,
    quotient: Callable[[float, float], float],
    central: bool,
) -> np.ndarray:
    at = np.asarray(at, dtype=np.float64)
    here = function(at)
    result = np.empty_like(at)
    for index in np.ndindex(at.shape):
        up, down = at.copy(), at.copy()
        up[index] += step
        down[index] -= step
        result[index] = quotient(function(up), function(down) if central else here)
    return result
