"""derive: machine-checked gradients of machine-learning losses."""

from derive import testing
from derive._version import __version__
from derive.core import Counterexample, Verdict, VerificationInputError, verify, verify_identity
from derive.document import DocumentCheck, DocumentError, check_document
from derive.implementation import ImplementationReport, check_implementation
from derive.losses.softmax import (
    MAX_CLASSES,
    MAX_FEATURES,
    ModelInputError,
    SoftmaxCrossEntropy,
    softmax_cross_entropy,
)
from derive.proof import DerivationVerdict, StepResult

__all__ = [
    "Counterexample",
    "DerivationVerdict",
    "DocumentCheck",
    "DocumentError",
    "ImplementationReport",
    "MAX_CLASSES",
    "MAX_FEATURES",
    "ModelInputError",
    "SoftmaxCrossEntropy",
    "StepResult",
    "Verdict",
    "VerificationInputError",
    "__version__",
    "check_document",
    "check_implementation",
    "softmax_cross_entropy",
    "testing",
    "verify",
    "verify_identity",
]
