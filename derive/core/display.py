"""How a result a user holds shows itself: a one-line ``repr``, and the rich displays of a
notebook (HTML with MathML, Markdown, LaTeX).

The drawing is :mod:`derive.report.notebook`'s, imported on first use, as SymPy's objects defer
to its printers: the layers below ``report`` import none of it, and ``import derive`` loads none
of it.  A dataclass that mixes these in says ``repr=False``, or its generated ``__repr__`` (every
field, tens of thousands of characters for a document's check) would win.

>>> from derive.core.verdict import EntryVerdict, Verdict
>>> Verdict((EntryVerdict(0, "proven", "identical"),))
<Verdict proven: 1 entry>
"""

from __future__ import annotations


class Displayed:
    """A one-line ``repr``; in a notebook, HTML (a table, math as MathML) or Markdown."""

    __slots__ = ()

    def __repr__(self) -> str:
        from derive.report.notebook import short_repr

        return short_repr(self)

    def _repr_html_(self) -> str:
        """Jupyter shows it so: offline MathML, no JavaScript."""
        from derive.report.notebook import html

        return html(self)

    def _repr_markdown_(self) -> str:
        """Markdown with ``$...$`` math, for notebooks without HTML."""
        from derive.report.notebook import markdown

        return markdown(self)


class DisplayedMath(Displayed):
    """A :class:`Displayed` result that is math, which also shows itself as LaTeX (MathJax,
    nbconvert's PDF)."""

    __slots__ = ()

    def _repr_latex_(self) -> str:
        from derive.report.notebook import latex

        return latex(self)
