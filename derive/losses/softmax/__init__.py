"""Softmax cross-entropy of a linear classifier: the seed's derivation."""

from derive.losses.softmax.derivation import SoftmaxCrossEntropy, softmax_cross_entropy
from derive.losses.softmax.model import MAX_CLASSES, MAX_FEATURES, ModelInputError, SoftmaxModel

__all__ = [
    "MAX_CLASSES",
    "MAX_FEATURES",
    "ModelInputError",
    "SoftmaxCrossEntropy",
    "SoftmaxModel",
    "softmax_cross_entropy",
]
