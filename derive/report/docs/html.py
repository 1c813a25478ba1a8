"""Render page blocks as one self-contained HTML file with MathML.

Math is converted from the same LaTeX that ``derive`` prints, by
``latex2mathml`` (SymPy's MathML printer can only print SymPy objects, and the
steps' statements are schematic LaTeX).  Browsers lay out MathML natively:
the page needs no JavaScript and fetches nothing; plots are embedded as
``data:`` URIs.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping

from latex2mathml.converter import convert

from derive.report.docs.page import Block, Heading, Image, Math, Paragraph, Table

STYLE = """
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.5; color: #222; }
h1, h2, h3 { font-family: 'DejaVu Sans', Arial, sans-serif; line-height: 1.2; }
math { font-family: 'Latin Modern Math', 'STIX Two Math', 'DejaVu Math TeX Gyre', math; }
math[display=block] { margin: 0.8em 0; font-size: 1.15em; overflow-x: auto; overflow-y: hidden; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
td:nth-child(n+2) { font-variant-numeric: tabular-nums; }
code { background: #f3f3f3; padding: 0 0.2em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; }
figcaption { font-style: italic; }
""".strip()


def html_page(blocks: list[Block], title: str, images: Mapping[str, bytes]) -> str:
    """The page as one HTML document; ``images`` maps each Image's file to its PNG bytes.

    Examples
    --------
    >>> page = html_page([Math("x^{2}")], "t", {})
    >>> "<math" in page and "<script" not in page
    True
    """
    body = "\n".join(_block(block, images) for block in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{STYLE}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def _block(block: Block, images: Mapping[str, bytes]) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{_inline(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Math):
        return convert(block.latex, display="block")
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline(cell)}</th>" for cell in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{_inline(cell)}</td>" for cell in row) + "</tr>\n"
            for row in block.rows
        )
        return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
    if isinstance(block, Image):
        data = base64.b64encode(images[block.file]).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.alt)}">'
            f"<figcaption>{_inline(block.caption)}</figcaption></figure>"
        )
    raise TypeError(f"unknown block {block!r}")


def _inline(text: str) -> str:
    """Escape text, then turn `code` and **bold** into elements."""
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
