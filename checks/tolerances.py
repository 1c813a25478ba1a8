"""The one table of steps and tolerances of the numeric cross-checks, and why each number.

Every comparison measures one normwise relative error per point, over the whole K x D gradient
(or over the loss):

    error = max |value - reference| / max(max |reference|, floor * scale)

``scale`` is the largest size the quantity can have: ``max_k |x_k|`` for a gradient (every entry of
``dL/dW = (p - e_y) x^T`` is at most that, since ``|p_m - 1[m = y]| <= 1``) and the score magnitude
``nu`` (below) for the loss.  Normwise, because at extreme logits single entries such as
``p_y - 1 ~ -e^-10000`` are far below anything float64 or 50-digit arithmetic can resolve, while the
gradient as a whole is known to full accuracy; entrywise relative errors would mean nothing there.
The ``floor`` says where a method's numbers stop carrying relative accuracy: a gradient smaller
than ``floor * scale`` is judged in absolute terms at that size.  A value that is NaN, infinite or
complex is an error of ``inf``, never agreement.

Float64 rounding grows with the size of the scores: ``f = W x`` is rounded to about ``eps * nu``,
with the score magnitude ``nu = 1 + max_j sum_k |w_jk x_k|`` over the points checked.  So float64
methods take ``step * nu**step_power`` and ``tolerance * nu**tolerance_power``; at ordinary logits
``nu`` is a few units, at ``logit_scale=1e4`` a few times 1e4.

The measured values quoted below are the worst over 1800 runs of ``cross_check`` (16 points each):
K in (2, 3, 5), D in (1, 2, 3), labels 0 and K - 1, seeds 0-19, logit scales 1, 10, 1e2, 1e3, 1e4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Working precision of the mpmath reference and of SymPy's expressions evaluated in mpmath.
#: 50 digits is far beyond float64 (16 digits), and mpmath's exponent range means exp(1e4) and
#: exp(-1e4) are ordinary numbers: nothing overflows or underflows.
REFERENCE_DIGITS = 50

#: float64 unit roundoff (2.2e-16) and smallest normal number (2.2e-308): below the latter, float64
#: keeps no relative accuracy (subnormals, then 0), so it is the floor of float64 methods.
FLOAT64_EPS = float(np.finfo(np.float64).eps)
FLOAT64_TINY = float(np.finfo(np.float64).tiny)

#: Random points per cross-check by default. A wrong formula is off at almost every point, so a
#: few would do; 16 also samples the label winning, losing and tying, and stays well under a second.
DEFAULT_POINTS = 16

#: Significant digits printed for each number in a failure message; 17 round-trips any float64.
SHOWN_DIGITS = 17


@dataclass(frozen=True)
class Tolerance:
    """A documented step and tolerance for one kind of comparison.

    Examples
    --------
    >>> central = TOLERANCES["central difference"]
    >>> f"{central.step_at(1.0):.0e}", f"{central.tolerance_at(1.0):.0e}"
    ('6e-06', '1e-09')
    >>> f"{central.step_at(1000.0):.0e}", f"{central.tolerance_at(1000.0):.0e}"
    ('6e-05', '1e-07')
    """

    tolerance: float
    floor: float
    why: str
    step: float | None = None
    step_power: float = 0.0
    tolerance_power: float = 0.0

    def step_at(self, score_magnitude: float) -> float:
        """The step for scores of size ``score_magnitude`` (the ``nu`` of the module docstring)."""
        if self.step is None:
            raise ValueError("this comparison takes no step")
        return self.step * score_magnitude**self.step_power

    def tolerance_at(self, score_magnitude: float) -> float:
        """The tolerance for scores of size ``score_magnitude``."""
        return self.tolerance * score_magnitude**self.tolerance_power


_CENTRAL_STEP = 6e-6
_FORWARD_STEP = 1.5e-8
_DESCENT_STEP = 1e-12
_SYMBOLIC_FLOOR = 1e-15

TOLERANCES: dict[str, Tolerance] = {
    "symbolic": Tolerance(
        tolerance=1e-30,
        floor=_SYMBOLIC_FLOOR,
        why=(
            "SymPy's loss, its derivative and the closed form, evaluated in mpmath at 50 digits, "
            "against the 50-digit reference. The expressions compute p_y - 1 by cancellation, so "
            "they carry an absolute error of about 1e-50 * scale (measured <= 3e-51); above the "
            "floor 1e-15 * scale that still leaves 35 correct digits (measured worst relative "
            "error 6e-36). Asking for 30 keeps a 1e5 margin, and a wrong formula disagrees in "
            "its first digits."
        ),
    ),
    "stable float64": Tolerance(
        tolerance=64 * FLOAT64_EPS,
        tolerance_power=1.0,
        floor=FLOAT64_TINY,
        why=(
            "The max-shifted float64 gradient, written to avoid cancellation (1 - p_y summed as "
            "the other p_j), is relatively accurate down to underflow; its error is the rounding "
            "of f = W x (at most D eps nu) carried through exp, plus a few eps. Measured <= 0.9 "
            "eps nu; 64 eps nu covers D up to the model's limit of 16 with room to spare."
        ),
    ),
    "central difference": Tolerance(
        step=_CENTRAL_STEP,
        step_power=1 / 3,
        tolerance=1e-9,
        tolerance_power=2 / 3,
        floor=_SYMBOLIC_FLOOR,
        why=(
            "(L(w+h) - L(w-h)) / 2h of the stable float64 loss: error h^2 |L'''| / 6 + eps nu / h, "
            "smallest at h ~ (3 eps nu / |L'''|)^(1/3), i.e. 6e-6 nu^(1/3), where it is "
            "~4e-11 nu^(2/3) (1e-10 at ordinary logits, 3e-8 at logit scale 1e4; measured worst "
            "5e-11 nu^(2/3)). 1e-9 nu^(2/3) leaves a factor 20 and still catches a gradient off "
            "by 0.05% at every scale up to 1e4. Floor: the SymPy side's resolution."
        ),
    ),
    "forward difference": Tolerance(
        step=_FORWARD_STEP,
        step_power=1 / 2,
        tolerance=1e-6,
        tolerance_power=1 / 2,
        floor=_SYMBOLIC_FLOOR,
        why=(
            "(L(w+h) - L(w)) / h of the stable float64 loss: error h |L''| / 2 + 2 eps nu / h, "
            "smallest at h ~ 1.5e-8 nu^(1/2), where it is ~2e-8 nu^(1/2) (measured worst "
            "3.3e-8 nu^(1/2)); 1e-6 nu^(1/2) leaves a factor 30. Floor: the SymPy side's "
            "resolution."
        ),
    ),
    "descent step": Tolerance(
        step=_DESCENT_STEP,
        tolerance=_DESCENT_STEP,
        floor=_SYMBOLIC_FLOOR,
        why=(
            "A step W - eta G along the claimed gradient G, eta |x|^2 = 1e-12, computed at 50 "
            "digits without cancellation. L is convex and (|x|^2 / 2)-smooth in W (Hessian "
            "(diag p - p p^T) kron x x^T; Gershgorin bounds the first factor's eigenvalues by "
            "1/2), so for the true gradient the loss change lies in [-eta |G|^2, -eta |G|^2 "
            "(1 - eta |x|^2 / 4)]: its relative deviation from the first-order prediction is at "
            "most 2.5e-13, a theorem, not a measurement (K = 2 with p near (1/2, 1/2) reaches it). "
            "The tolerance 1e-12 keeps a correct gradient well inside; a gradient off by a factor "
            "c deviates by |1/c - 1|. Points whose gradient is below the floor (the claim's "
            "resolution) cannot be stepped and are counted apart."
        ),
    ),
}
