"""A derivation's own SymPy expressions, lambdified for mpmath and evaluated at 50 digits.

These are SymPy objects built by ``derive`` (never user strings), so ``lambdify`` is safe.  They are
evaluated in mpmath, not float64: the raw expressions contain ``exp(f_j)``, which overflows float64
once a score passes about 709, so naive NumPy code returns ``nan`` at ``f = (1000, 0)``.  In mpmath
``exp(1e4)`` is an ordinary number; what remains is the cancellation in ``p_y - 1``, which the
tolerance table's floor for these methods accounts for.
"""

from __future__ import annotations

from typing import Callable, Protocol

import sympy
from mpmath import mp, mpf

from checks.points import Point
from checks.tolerances import REFERENCE_DIGITS

Grid = list[list[mpf]]


class Derivation(Protocol):
    """What the cross-check reads from a derivation (``derive.softmax_cross_entropy(...)``)."""

    classes: int
    features: int
    label: int
    weights: sympy.Matrix
    x: sympy.Matrix
    loss: sympy.Expr

    def gradient(self, m: int) -> sympy.Matrix: ...

    def closed_form(self, m: int) -> sympy.Matrix: ...


def stacked(derivation: Derivation, row: Callable[[int], sympy.Matrix], name: str) -> sympy.Matrix:
    """The K rows ``row(0), ..., row(K - 1)`` (each 1 x D) stacked into one K x D matrix.

    Examples
    --------
    >>> import derive
    >>> d = derive.softmax_cross_entropy(classes=3, features=2, label=0)
    >>> stacked(d, d.closed_form, "closed form").shape
    (3, 2)
    """
    rows = [sympy.Matrix(row(m)) for m in range(derivation.classes)]
    for m, matrix in enumerate(rows):
        if matrix.shape != (1, derivation.features):
            raise ValueError(
                f"{name}({m}) has shape {matrix.shape}, expected (1, {derivation.features})"
            )
    return sympy.Matrix.vstack(*rows)


def mpmath_function(
    derivation: Derivation, expressions: sympy.Matrix, name: str
) -> Callable[[Point], Grid]:
    """Lambdify ``expressions`` (in the weight and x symbols) for mpmath; call it at a point.

    Examples
    --------
    >>> import derive, numpy as np
    >>> from mpmath import nstr
    >>> d = derive.softmax_cross_entropy(classes=2, features=1, label=1)
    >>> loss = mpmath_function(d, sympy.Matrix([[d.loss]]), "loss")
    >>> nstr(loss(Point(weights=np.array([[1000.0], [0.0]]), x=np.array([1.0])))[0][0], 10)
    '1000.0'
    """
    arguments = list(derivation.weights) + list(derivation.x)
    strangers = expressions.free_symbols - set(arguments)
    if strangers:
        names = ", ".join(sorted(map(str, strangers)))
        raise ValueError(f"{name} depends on {names}, which are neither weights nor x")
    # Plain argument names of our own: lambdify would otherwise rename symbols such as w_{0,0}
    # with a process-wide counter, and the generated code (so the last digits) would vary.
    plain = [sympy.Symbol(f"a{i}") for i in range(len(arguments))]
    renamed = expressions.xreplace(dict(zip(arguments, plain)))
    function = sympy.lambdify(plain, renamed.tolist(), modules="mpmath", cse=True, dummify=False)

    def evaluate(point: Point) -> Grid:
        with mp.workdps(REFERENCE_DIGITS):
            numbers = [mpf(float(v)) for v in (*point.weights.ravel(), *point.x)]
            return function(*numbers)

    return evaluate
