"""Render page blocks as GitHub-flavoured Markdown (math in ```math blocks)."""

from __future__ import annotations

import re

from derive.report.docs.page import Block, Code, Heading, Image, Items, Math, Paragraph, Table


def markdown(blocks: list[Block]) -> str:
    """The page as Markdown text.

    Examples
    --------
    >>> print(markdown([Heading(2, "Loss"), Math("L = -\\\\log p_y")]))
    ## Loss
    <BLANKLINE>
    ```math
    L = -\\log p_y
    ```
    <BLANKLINE>
    """
    return "\n".join(_block(block) + "\n" for block in blocks)


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return _local_links(block.text)
    if isinstance(block, Math):
        return f"```math\n{block.latex}\n```"
    if isinstance(block, Table):
        lines = [_row(block.header), _row(tuple("---" for _ in block.header))]
        return "\n".join(lines + [_row(row) for row in block.rows])
    if isinstance(block, Image):
        return f"![{block.alt}]({block.file})\n\n*{block.caption}*"
    if isinstance(block, Code):
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", block.text)), default=0))
        return f"{fence}\n{block.text}\n{fence}"
    if isinstance(block, Items):
        return "\n".join(f"- {_local_links(item)}" for item in block.items)
    raise TypeError(f"unknown block {block!r}")


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(_local_links(cell).replace("|", "\\|") for cell in cells) + " |"


def _local_links(text: str) -> str:
    """Links between pages point at the Markdown pages here: ``[a](b.html)`` becomes ``[a](b.md)``."""
    return re.sub(r"\]\(([\w%.-]+)\.html\)", r"](\1.md)", text)
