"""The documentation pages (Markdown, offline HTML with MathML) and figures of a derivation,
and the pages of a user's own derivation documents.

The names below are imported on first use (PEP 562): the HTML renderer
(:mod:`derive.report.docs.html`, which notebooks use) needs neither the pages nor the plots'
matplotlib.
"""

from importlib import import_module

#: Each public name and the module of this package that defines it.
_WHERE = {"build_docs": "docs", "write_docs": "docs", "build_notes": "notes", "write_notes": "notes"}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
