"""What a language-model cross-entropy is asked to compute (its options) and what it returns.

The semantics of every option, and how they compose, are in the package docstring
(``derive.oracle.lm``); this module only holds them, checked, and the result's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


@dataclass(frozen=True)
class LMOptions:
    """The options of the loss, as ``torch.nn.functional.cross_entropy`` names them, plus z-loss
    and logit softcapping.  Invalid values raise ``ValueError`` with the option's name.

    Examples
    --------
    >>> LMOptions(reduction="sum", label_smoothing=0.1).reduction
    'sum'
    >>> LMOptions(label_smoothing=1.5)
    Traceback (most recent call last):
    ...
    ValueError: label_smoothing must be a number in [0, 1], not 1.5
    """

    reduction: str = "mean"
    ignore_index: int | None = -100
    label_smoothing: float = 0.0
    z_loss: float = 0.0
    softcap: float | None = None
    class_weights: np.ndarray | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, "
                             f"not {self.reduction!r}")
        if self.ignore_index is not None and not _is_integer(self.ignore_index):
            raise ValueError(f"ignore_index must be an integer or None, not {self.ignore_index!r}")
        if not _is_real(self.label_smoothing) or not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be a number in [0, 1], "
                             f"not {self.label_smoothing!r}")
        if not _is_real(self.z_loss) or not 0.0 <= self.z_loss < np.inf:
            raise ValueError(f"z_loss must be a finite number >= 0, not {self.z_loss!r}")
        if self.softcap is not None and (not _is_real(self.softcap)
                                         or not 0.0 < self.softcap < np.inf):
            raise ValueError(f"softcap must be a finite number > 0 or None, not {self.softcap!r}")
        if self.class_weights is not None:
            weights = np.asarray(self.class_weights, dtype=np.float64)
            if weights.ndim != 1 or not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError("class_weights must be a 1-d array of finite numbers >= 0")
            object.__setattr__(self, "class_weights", weights)

    def check_vocabulary(self, vocabulary: int) -> None:
        """Raise ``ValueError`` unless the class weights (if any) have one entry per class."""
        if self.class_weights is not None and len(self.class_weights) != vocabulary:
            raise ValueError(f"class_weights has {len(self.class_weights)} entries, "
                             f"the vocabulary {vocabulary}")


@dataclass(frozen=True)
class LMBounds:
    """Per-entry tolerances, the shapes of the outputs they bound (``derive.oracle.lm.bounds``):
    an entry of a right implementation in the dtype asked for lies within its bound of the
    oracle's.  ``roundoff`` is the dtype's unit roundoff and ``failure_probability`` that of the
    probabilistic bound (0 for the worst case)."""

    loss: np.ndarray
    logits: np.ndarray | None
    hidden: np.ndarray | None
    weight: np.ndarray | None
    bias: np.ndarray | None
    roundoff: float
    failure_probability: float


@dataclass(frozen=True)
class LMGradients:
    """The exact loss and gradients, in float64.

    ``loss`` is 0-d for ``mean``/``sum`` and (N,) for ``none``.  Each gradient is that of
    ``sum(upstream * loss)``; it is ``None`` where not asked.  In the fused form ``hidden`` holds the
    rows of ``tokens`` and ``weight``/``bias`` the rows of ``rows`` (all of them when those are None:
    then ``tokens``/``rows`` are ``None`` too).  ``denominator`` is what ``mean`` divides the
    cross-entropy by (the summed class weights of the counted tokens; their number without
    weights) and ``counted`` the number of tokens not ignored: where ``denominator`` is 0 the mean is
    undefined (see the package docstring).  ``bounds`` holds the per-entry tolerances when the
    oracle was asked for them (``dtype=``).
    """

    loss: np.ndarray
    logits: np.ndarray | None
    hidden: np.ndarray | None = None
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    tokens: np.ndarray | None = None
    rows: np.ndarray | None = None
    denominator: float = 0.0
    counted: int = 0
    bounds: LMBounds | None = None


def _is_integer(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)) and np.isfinite(value))
