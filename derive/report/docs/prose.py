"""Markdown prose as page blocks, and its inline markup as pieces, for every renderer.

The subset is what derivation documents and ``format.md`` use: ``#`` headings, paragraphs,
bulleted lists (``-``, ``*`` or ``+``; an item goes on over the lines indented under it), tables
(a header row, a ``|---|`` row, then rows), fenced code blocks (three or more backticks or
tildes); inline, code spans (between runs of one or more backticks), ``$math$``, ``**bold**``,
``*emphasis*`` and ``[text](link)``.  Anything else is a paragraph's plain text, shown as
written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from derive.report.docs.page import Block, Code, Heading, Items, Paragraph, Table

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r" {0,3}[-*+]\s+(.*)")
_RULE = re.compile(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
#: Inline markup, in the order it binds: code spans first (nothing inside them is markup).
INLINE = re.compile(r"(?P<ticks>`+)(?P<code>.+?)(?P=ticks)|(?<!\\)\$(?P<math>[^$]+)\$|\*\*(?P<bold>[^*]+)\*\*"
                    r"|\*(?P<emphasis>[^*\s][^*]*)\*|\[(?P<link>[^\]]+)\]\((?P<target>[^)\s]+)\)")


def markdown_blocks(text: str) -> list[Block]:
    """Markdown prose as blocks; headings keep their own level.

    >>> for block in markdown_blocks("# Title\\n\\nSome *text*,\\non two lines.\\n\\n- one\\n  more\\n- two"
    ...                              "\\n\\n```\\nx = 1\\n```"):
    ...     print(block)
    Heading(level=1, text='Title')
    Paragraph(text='Some *text*, on two lines.')
    Items(items=('one more', 'two'))
    Code(text='x = 1')
    >>> markdown_blocks("| a | b |\\n|---|---|\\n| `|u|` | 2 |")
    [Table(header=('a', 'b'), rows=(('`|u|`', '2'),))]
    """
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        fence, heading, item = _FENCE.match(line), _HEADING.match(line), _ITEM.match(line)
        if not line.strip():
            i += 1
        elif fence:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence.group(1))
                        and not lines[j].strip().strip(fence.group(1)[0])), len(lines))
            blocks.append(Code("\n".join(lines[i + 1:end])))
            i = end + 1
        elif heading:
            blocks.append(Heading(len(heading.group(1)), heading.group(2)))
            i += 1
        elif _is_table(lines, i):
            end = next((j for j in range(i + 2, len(lines)) if not lines[j].lstrip().startswith("|")), len(lines))
            rows = [_cells(row) for row in lines[i:end] if row is not lines[i + 1]]
            blocks.append(Table(rows[0], tuple(rows[1:])))
            i = end
        elif item:
            items, i = _items(lines, i)
            blocks.append(Items(items))
        else:
            end = next((j for j in range(i + 1, len(lines)) if _starts_block(lines, j)), len(lines))
            blocks.append(Paragraph(" ".join(" ".join(lines[i:end]).split())))
            i = end
    return blocks


def _starts_block(lines: list[str], i: int) -> bool:
    """Whether line ``i`` ends the paragraph before it: a blank line or another block's start."""
    line = lines[i]
    return (not line.strip() or bool(_FENCE.match(line) or _HEADING.match(line) or _ITEM.match(line))
            or _is_table(lines, i))


def _is_table(lines: list[str], i: int) -> bool:
    return lines[i].lstrip().startswith("|") and i + 1 < len(lines) and bool(_RULE.match(lines[i + 1].strip()))


def _cells(row: str) -> tuple[str, ...]:
    """A table row's cells: split at ``|`` outside code spans, not escaped as ``\\|``."""
    text = row.strip().removeprefix("|")
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    cells, cell, code = [], "", False
    for char in text:
        if char == "`":
            code = not code
        if char == "|" and not code and not cell.endswith("\\"):
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
    return tuple(cells + [cell.strip()])


def _items(lines: list[str], i: int) -> tuple[tuple[str, ...], int]:
    """The bulleted list that starts at line ``i``, and the line after it."""
    items: list[list[str]] = []
    while i < len(lines):
        item = _ITEM.match(lines[i])
        if item:
            items.append([item.group(1)])
        elif lines[i].strip() and lines[i].startswith((" ", "\t")) and items:
            items[-1].append(lines[i].strip())
        elif not lines[i].strip() and i + 1 < len(lines) and _ITEM.match(lines[i + 1]):
            pass  # a blank line between two items
        else:
            break
        i += 1
    return tuple(" ".join(" ".join(item).split()) for item in items), i


def inline_pieces(text: str) -> Iterator[tuple[str, str, str]]:
    """``(kind, content, target)`` for each piece of ``text``: ``text`` between the markup, and
    ``code``, ``math``, ``bold``, ``emphasis`` or ``link`` (with its target).

    >>> text = "see `a_$b$` and $x$ in [the format](format.html), `` `$$` ``"
    >>> list(inline_pieces(text))  # doctest: +NORMALIZE_WHITESPACE
    [('text', 'see ', ''), ('code', 'a_$b$', ''), ('text', ' and ', ''), ('math', 'x', ''),
     ('text', ' in ', ''), ('link', 'the format', 'format.html'), ('text', ', ', ''), ('code', '`$$`', '')]
    """
    end = 0
    for match in INLINE.finditer(text):
        if match.start() > end:
            yield "text", text[end:match.start()], ""
        kind = next(k for k, v in match.groupdict().items() if v is not None and k not in ("ticks", "target"))
        content = match.group(kind)
        if kind == "code" and content.startswith(" ") and content.endswith(" ") and content.strip():
            content = content[1:-1]  # `` `$$` `` shows `$$`, as in CommonMark
        yield kind, content, match.group("target") or ""
        end = match.end()
    if end < len(text):
        yield "text", text[end:], ""
