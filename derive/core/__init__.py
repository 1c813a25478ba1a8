"""The loss-agnostic verifier: verdicts, proof strategies, counterexample search, budgets.

Nothing here knows about any particular loss, about printing or about the command line;
everything else in ``derive`` builds on it.
"""

from derive.core.verdict import Counterexample, EntryVerdict, Status, Verdict, VerificationInputError, worst
from derive.core.verifier import DEFAULT_TIME_LIMIT, verify, verify_identity

__all__ = [
    "Counterexample",
    "DEFAULT_TIME_LIMIT",
    "EntryVerdict",
    "Status",
    "Verdict",
    "VerificationInputError",
    "verify",
    "verify_identity",
    "worst",
]
