"""derive: machine-checked gradients of machine-learning losses."""

from derive.derivation import DerivationVerdict, SoftmaxCrossEntropy, StepResult, softmax_cross_entropy
from derive.model import MAX_CLASSES, MAX_FEATURES, ModelInputError
from derive.verifier import Counterexample, Verdict, VerificationInputError, verify, verify_identity

__version__ = "0.1.0"

__all__ = [
    "Counterexample",
    "DerivationVerdict",
    "MAX_CLASSES",
    "MAX_FEATURES",
    "ModelInputError",
    "SoftmaxCrossEntropy",
    "StepResult",
    "Verdict",
    "VerificationInputError",
    "softmax_cross_entropy",
    "verify",
    "verify_identity",
]
