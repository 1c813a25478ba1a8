"""publish: the generated documentation (pages and figures) of a derivation."""

from publish.docs import build_docs, write_docs

__all__ = ["build_docs", "write_docs"]
