"""The documentation pages (Markdown, offline HTML with MathML) and figures of a derivation."""

from derive.report.docs.docs import build_docs, write_docs

__all__ = ["build_docs", "write_docs"]
