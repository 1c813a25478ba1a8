"""Derivation documents: Markdown with LaTeX math, read by a whitelist grammar and checked.

The rooms, in the order a document goes through them: ``markdown`` (the parts of the file),
``parse`` with ``grammar.lark`` (LaTeX to the tree of ``ast``), ``declare`` (what each symbol
is), ``instantiate`` (the tree as SymPy at concrete sizes), ``check`` (every step by the core
verifier; the first wrong one) and ``mistakes`` (the small edit that would fix it).  The format
is ``format.md`` beside this file.
"""

from derive.document.check import DocumentCheck, StepCheck, check_document
from derive.document.source import DocumentError

__all__ = ["DocumentCheck", "DocumentError", "StepCheck", "check_document"]
