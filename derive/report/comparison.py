"""One output compared with the oracle (``derive.implementation.judge.Comparison``) as every
check's report prints it: a number in a table cell, and the output's JSON object, the same in
each schema::

    {"name": str, "relative_error": float | null, "ulps": float | null,
     "tolerance_ratio": float | null, "worst_index": [int, ...], "value": float | null,
     "exact": float, "tolerance": float, "resolution": float | null, "ok": bool}

Non-finite numbers are ``null`` in JSON and ``inf``/``nan`` in text.
"""

from __future__ import annotations

import math


def formatted(value: float, spec: str = ".1e") -> str:
    """``value`` in ``spec``, or ``inf``/``nan``.

    Examples
    --------
    >>> formatted(0.000123), formatted(2.0, ".3g"), formatted(math.inf), formatted(math.nan)
    ('1.2e-04', '2', 'inf', 'nan')
    """
    return format(value, spec) if math.isfinite(value) else ("inf" if value > 0 else "nan")


def finite(value: float | None) -> float | None:
    """``value`` where it is a finite number, else ``None`` (JSON has no inf or nan).

    Examples
    --------
    >>> finite(1.5), finite(math.inf), finite(None)
    (1.5, None, None)
    """
    return value if value is not None and math.isfinite(value) else None


def comparison_json(comparison) -> dict:
    """The JSON object of one compared output (the module docstring)."""
    c = comparison
    return {
        "name": c.name,
        "relative_error": finite(c.relative_error),
        "ulps": finite(c.ulps),
        "tolerance_ratio": finite(c.worst_ratio),
        "worst_index": list(c.worst_index),
        "value": finite(c.user_value),
        "exact": c.oracle_value,
        "tolerance": c.tolerance,
        "resolution": finite(c.resolution),
        "ok": c.ok,
    }


def worst_entry(where: str, comparison) -> str:
    """One line on a failing output: ``where``, its worst entry's value, the exact one and the
    tolerance."""
    c = comparison
    index = "".join(f"[{i}]" for i in c.worst_index)
    return (f"at {where}, {c.name}{index} = {c.user_value:.8g}; exact {c.oracle_value:.8g}, "
            f"tolerance {c.tolerance:.2g}")
