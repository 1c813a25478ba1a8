"""Judging a user's implementation of a loss and its gradient against the oracle.

``conventions`` calls the function (NumPy or PyTorch, either layout, with or without a bias),
``isolation`` runs it on a thread or in a child process with a time limit per call, ``judge``
compares its outputs with the oracle's entry by entry, ``mistakes`` names the usual mistakes,
``check`` runs the inputs and gives the verdict, ``loader`` imports ``file.py:name``.
"""

from derive.implementation.check import (
    CORRECT, CRASHED, IMPRECISE, INCOMPLETE, UNSTABLE, WRONG, ImplementationReport,
    check_implementation,
)
from derive.implementation.conventions import ConventionError

__all__ = ["CORRECT", "CRASHED", "ConventionError", "IMPRECISE", "INCOMPLETE",
           "ImplementationReport", "UNSTABLE", "WRONG", "check_implementation"]
