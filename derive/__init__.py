"""derive: machine-checked gradients of machine-learning losses.

The names below are loaded on first use (PEP 562), so ``import derive`` costs only what a
command needs: ``derive --classes 3`` loads neither the document reader (and lark), nor NumPy,
nor the implementation checker.

Examples
--------
>>> import derive
>>> derive.verify.__module__
'derive.core.verifier'
"""

#: Each public name and the module that defines it.
_WHERE = {
    "__version__": "derive._version",
    "Counterexample": "derive.core",
    "Verdict": "derive.core",
    "VerificationInputError": "derive.core",
    "verify": "derive.core",
    "verify_identity": "derive.core",
    "DocumentCheck": "derive.document",
    "DocumentError": "derive.document",
    "check_document": "derive.document",
    "ImplementationReport": "derive.implementation",
    "check_implementation": "derive.implementation",
    "MAX_CLASSES": "derive.losses.softmax",
    "MAX_FEATURES": "derive.losses.softmax",
    "ModelInputError": "derive.losses.softmax",
    "SoftmaxCrossEntropy": "derive.losses.softmax",
    "softmax_cross_entropy": "derive.losses.softmax",
    "DerivationVerdict": "derive.proof",
    "StepResult": "derive.proof",
}

__all__ = sorted([*_WHERE, "testing"])


def __getattr__(name: str):
    import importlib

    if name == "testing":
        return importlib.import_module("derive.testing")
    if name not in _WHERE:
        raise AttributeError(f"module 'derive' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # loaded once
    return value


def __dir__():
    return __all__
