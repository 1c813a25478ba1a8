"""Loss-agnostic derivations: steps as data, the derivation interface, the verdict on the whole.

:class:`Derivation` is what a loss implements (its symbols, loss, claim and tables of steps and
facts); :class:`ScoreLoss` adds the chain rule through the scores of a linear layer.
"""

from derive.proof.derivation import Derivation, LazyValues
from derive.proof.scores import AUDIT, ScoreLoss, sample_features, sample_rows, sample_scope
from derive.proof.step import DerivationVerdict, Pairs, Row, Step, StepResult

__all__ = [
    "AUDIT",
    "Derivation",
    "DerivationVerdict",
    "LazyValues",
    "Pairs",
    "Row",
    "ScoreLoss",
    "Step",
    "StepResult",
    "sample_features",
    "sample_rows",
    "sample_scope",
]
