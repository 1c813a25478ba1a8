"""Render page blocks as GitHub-flavoured Markdown (math in ```math blocks)."""

from __future__ import annotations

from derive.report.docs.page import Block, Heading, Image, Math, Paragraph, Table


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
        return block.text
    if isinstance(block, Math):
        return f"```math\n{block.latex}\n```"
    if isinstance(block, Table):
        lines = [_row(block.header), _row(tuple("---" for _ in block.header))]
        return "\n".join(lines + [_row(row) for row in block.rows])
    if isinstance(block, Image):
        return f"![{block.alt}]({block.file})\n\n*{block.caption}*"
    raise TypeError(f"unknown block {block!r}")


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"
