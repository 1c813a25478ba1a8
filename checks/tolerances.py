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

Supported range.  ``cross_check`` accepts ``0 < logit_scale <= MAX_LOGIT_SCALE`` (1e15) and raises
``ValueError`` for anything else: 0, negatives, inf, nan, bools, non-numbers and numbers too large,
such as ``10**400``.  Why 1e15 is in ``MAX_LOGIT_SCALE.why``.

Not applicable at this scale.  A row *cannot fail* when its tolerance at the scale checked is at
least ``TOLERANCE_CAP`` (1e-2): it would pass a gradient off by a percent, and from a tolerance of 1
on, the zero gradient, a wrong sign or a missing indicator.  The float64 rows' tolerances grow with
``nu`` and reach the cap inside the range (forward differences at nu 1e8, central differences at
3.2e10, the stable float64 gradient at 7e11); such a row is reported "not applicable at this scale"
(``MethodRow.applicable`` False, with a note): shown in the table, never counted as a pass, and
left out of ``CrossCheck.ok``.  The 50-digit rows' tolerances do not grow: they apply across the
range, and catch a gradient off by 0.05% at every scale; an applicable float64 row catches one off
by more than its tolerance (a sign or a missing indicator always).  Range measurements: logit
scales 5e-324, 1e-300, 1e-10, 1e6, 1e8, 1e10-1e15 (the K, D and labels above, seeds 0-4): every
applicable row of a right derivation within its tolerance.
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
class Limit:
    """A documented bound of the cross-check and why that number, in the style of the table."""

    value: float
    why: str


#: The largest ``logit_scale`` ``cross_check`` accepts (the smallest is anything above 0).
MAX_LOGIT_SCALE = Limit(
    value=1e15,
    why=(
        "Set by the 50-digit rows, the only ones left near the top (every float64 row is past "
        "TOLERANCE_CAP from nu 7e11 on). SymPy's expressions round each score f = W x to 50 "
        "digits (2^-169 relative, after summing D exact products): an absolute error up to "
        "(D - 1) 2^-169 nu, which exp carries into every p_m, and so into the gradient's normwise "
        "relative error, at most twice over: 4e-50 nu at D = 16. Points with two scores within "
        "1 of each other at size nu measure 1.5e-52 nu (2e-37 at nu 1.4e15, 2e-34 at 1.4e18, "
        "5e-31 at 1.5e21: the tolerance 1e-30 is reached near nu 1e21). Random points have "
        "nu <= 4.1 logit_scale (measured over 4800 draws, D up to 16), so at 1e15 the bound is "
        "2e-34 at D = 16 (7e-34 at D = 64), over 1000 times below the tolerance: 1e15 keeps the "
        "margins of the table. Further up the reference fails too: mp.diff steps by 2^-179 at "
        "378 bits, an error of about 2^-200 nu "
        "(measured 4.5e-61 nu, 7e-31 at nu 1.6e30), and a derivative of exactly 0 once w + 2^-179 "
        "rounds to w (weights beyond about 2^199 = 8e59): the right derivation that failed at "
        "logit_scale 1e100. Below, nothing degrades: nu >= 1 keeps the float64 tolerances at their "
        "ordinary values, and right derivations pass at 1e-10, 1e-300 and 5e-324."
    ),
)

#: A row whose tolerance at the scale checked is at least this cannot fail: not applicable there.
TOLERANCE_CAP = Limit(
    value=1e-2,
    why=(
        "Every error is normwise relative, so a tolerance of 1 passes the zero gradient (error "
        "exactly 1) and can pass one missing the indicator 1[m = y] (error >= 1: its term e_y x^T "
        "has size max|x_k| = 1, at least every entry of the true gradient); 2 passes the wrong "
        "sign. From 1 on a row cannot fail the wrong derivations it exists for. Below 1 it still "
        "passes a gradient off by its tolerance; the table's tolerances are the measured error "
        "times a margin, 2e-4 at most at logit_scale 1e4, so at 1e-2, a gradient wrong by a "
        "percent, a row has stopped telling a right gradient from a wrong one and is reported "
        "not applicable at this scale. The float64 rows reach it at nu 1e8 (forward), 3.2e10 "
        "(central) and 7e11 (stable float64); the 50-digit rows never do."
    ),
)


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

    def applies_at(self, score_magnitude: float) -> bool:
        """False when the tolerance there is at least ``TOLERANCE_CAP``: the row cannot fail.

        Examples
        --------
        >>> forward = TOLERANCES["forward difference"]
        >>> forward.applies_at(1e4), forward.applies_at(1e9)
        (True, False)
        >>> TOLERANCES["symbolic"].applies_at(1e16)
        True
        """
        return self.tolerance_at(score_magnitude) < TOLERANCE_CAP.value


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


# --- Judging an implementation (``derive check-impl``) ------------------------------------------
#
# A user's loss and gradient are compared entry by entry with the float64 oracle, each entry
# against its own rounding bound, derived from the dtype and the problem's conditioning:
#
#   scores:    |dS_ik|   <= (D + 1) u (|X| |W| + |b|)_ik           (any summation order)
#   G = dl/dS: |dG_ik|   <= sensitivity_ik * max_k |dS_ik| + FUNCTION_ULPS u (|G_ik| + 1)
#   gradient:  |d dW_ak| <= (|X|^T (|dG| + (N + 1) u |G|))_ak / N + 4 u reg |W_ak|
#   loss:      |dL|      <= mean_i(loss_sensitivity_i max_k |dS_ik|) + (N + 1) u mean|l| + ...
#
# with u the unit roundoff of the user's dtype (2^-53 for float64, 2^-24 for float32).  These
# are worst-case bounds, so a right implementation in any order of summation stays inside them;
# the oracle's own float64 error (the same bound at u = 2^-53) is added.  An entry passes when
# |user - oracle| <= SAFETY * bound + ULPS * spacing(oracle entry in the user's dtype).

IMPLEMENTATION: dict[str, Limit] = {
    "safety": Limit(
        value=4.0,
        why=(
            "A factor over the worst-case rounding bound, for the first-order approximations in it "
            "(e^(2 dS) - 1 ~ 2 dS) and for libraries whose exp and log are a few ulps off. The "
            "bounds themselves are far above what right implementations reach (measured below), "
            "so the factor costs little sharpness: at CS231n's size a gradient off by a relative "
            "1e-6 still exceeds the float64 tolerance by orders of magnitude."
        ),
    ),
    "ulps": Limit(
        value=4.0,
        why=(
            "The smallest tolerance of any entry, in units in the last place of the user's dtype: "
            "a result can be no closer than half an ulp to the true value once rounded, and "
            "vectorised exp/log/divide are within 1-4 ulps. Entries the bound says are exact "
            "(an SVM's indicator counts, a zero) still get these few ulps."
        ),
    ),
    "function ulps": Limit(
        value=16.0,
        why=(
            "The error of the elementary functions (exp, log, log1p, a division and a subtraction) "
            "between the scores and G, in units of u relative to |G| + 1: a handful of roundings, "
            "doubled for safety."
        ),
    ),
    "oracle spot check": Limit(
        value=1e-11,
        why=(
            "The float64 oracle against SymPy's own loss and diff at 50 digits, from the same "
            "scores: a few roundings of exp and log per sample (about 1e-15 relative to the "
            "sample's scale) and, for an entry of dL/dW, a sum of N products (at most (N + 1) u "
            "relative to its scale; pairwise summation keeps it near log2(N) u). 1e-11 holds "
            "up to N ~ 1e5 in the worst case; a transcription error of the closed form is off "
            "in its first digits."
        ),
    ),
    "extreme logits": Limit(
        value=1e3,
        why=(
            "The score magnitude of the extreme trial: far past where exp overflows in float64 "
            "(709.8) and float32 (88.7), so a softmax without the max-shift or a log of an "
            "underflowed probability shows, while the true loss (at most about 2e3) and "
            "gradient are ordinary numbers."
        ),
    ),
    "kink margin": Limit(
        value=64.0,
        why=(
            "A hinge's gradient jumps where a margin is 0, and there a right implementation may "
            "take either side. A random input whose margin is within this many times its "
            "rounding bound of 0 is drawn again (at most 20 times), so the indicators of the "
            "user and of the oracle cannot legitimately differ."
        ),
    ),
    "time limit": Limit(
        value=60.0,
        why=(
            "Seconds each call of the judged function may take before it is stopped and the "
            "verdict is 'crashed' (derive check-impl --time-limit; time_limit= in the library), "
            "and that importing its file may take. A loss and gradient at CS231n's size take "
            "milliseconds, and at the largest sizes derive accepts (2e7 numbers per array) "
            "well under a second in NumPy, so a minute is only ever reached by code that does "
            "not return (a loop, a wait on input), never by a slow right one."
        ),
    ),
}
