"""A derivation document's parts: front matter, declaration paragraphs, display math, prose.

Markdown is read only as far as the format needs (``docs/format.md``): an optional front
matter between ``---`` lines, fenced code blocks skipped, display math between ``$$`` (or
``\\[`` and ``\\]``), and paragraphs.  From a line whose first word is *Let*, *Where*, *Given* or
*Assume* to the end of its paragraph, each ``$...$`` is a declaration, a constraint or a
definition.
Other inline math is prose.  Inside display math, ``aligned``/``align*``/``split``/``gathered``
rows are split at ``\\\\``; a row starting with ``&=`` continues the row before.

>>> parts = split_document(Source("Let $x \\\\in \\\\mathbb{R}$.\\n\\n$$ y = 2 x $$\\n"))
>>> [(type(p).__name__, p.text.strip()) for p in parts.pieces]
[('Declarations', 'Let $x \\\\in \\\\mathbb{R}$.'), ('Prose', 'Let $x \\\\in \\\\mathbb{R}$.'), ('Display', 'y = 2 x')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from derive.document.source import Source

#: Largest document accepted, in characters.
MAX_DOCUMENT_CHARS = 200_000

_DECLARING = re.compile(r"(?:let|where|given|assume)\b", re.IGNORECASE)
_ROW_ENVIRONMENTS = ("aligned", "align*", "align", "split", "gathered", "gather*", "gather",
                     "equation*", "equation", "eqnarray*", "eqnarray", "multline*", "multline")


@dataclass
class Inline:
    """One ``$...$`` of a declaration paragraph: its text and its offset in the document."""

    text: str
    offset: int


@dataclass
class Prose:
    """A paragraph as written (declaring or not), for pages."""

    text: str
    offset: int


@dataclass
class Declarations:
    text: str
    offset: int
    math: list[Inline]


@dataclass
class Row:
    """One row of display math; ``continues`` when it starts with a relation (``&= ...``)."""

    text: str
    offset: int
    continues: bool


@dataclass
class Display:
    text: str
    offset: int
    rows: list[Row]
    prose: str  # the paragraph before it, for pages


@dataclass
class Parts:
    front: dict[str, str]
    pieces: list = field(default_factory=list)
    prose: list[str] = field(default_factory=list)


def _front_matter(source: Source) -> tuple[dict[str, str], int]:
    text = source.text
    if not text.startswith("---\n"):
        return {}, 0
    end = text.find("\n---", 3)
    if end < 0:
        raise source.error(0, "front matter opened with `---` is never closed")
    front = {}
    position = 4
    for line in text[4:end].split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            key, colon, value = line.partition(":")
            if not colon or not re.fullmatch(r"[a-z][a-z-]*", key.strip()):
                raise source.error(position, "front matter lines are `key: value`")
            front[key.strip()] = value.strip()
        position += len(line) + 1
    after = text.find("\n", end + 1)
    return front, (len(text) if after < 0 else after + 1)


def split_document(source: Source) -> Parts:
    """The document's parts in order."""
    text = source.text
    if len(text) > MAX_DOCUMENT_CHARS:
        # Located on a bounded prefix: a huge text is never scanned for its lines.
        prefix = Source(text[:MAX_DOCUMENT_CHARS + 1], source.path)
        raise prefix.error(MAX_DOCUMENT_CHARS, f"document longer than {MAX_DOCUMENT_CHARS} characters")
    front, position = _front_matter(source)
    parts = Parts(front)
    paragraph: list[tuple[str, int]] = []
    last_prose = ""

    def end_paragraph() -> None:
        nonlocal last_prose
        if not paragraph:
            return
        body = "\n".join(line for line, _ in paragraph)
        for k, (line, offset) in enumerate(paragraph):
            if _DECLARING.match(line.lstrip()):
                declaring = "\n".join(text for text, _ in paragraph[k:])
                parts.pieces.append(Declarations(declaring, offset, _inline_math(source, declaring, offset)))
                break
        last_prose = body.strip()
        parts.prose.append(last_prose)
        parts.pieces.append(Prose(last_prose, paragraph[0][1]))
        paragraph.clear()

    lines = text[position:].split("\n")
    offsets, at = [], position
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    i = 0
    while i < len(lines):
        line, offset = lines[i], offsets[i]
        stripped = line.strip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            end_paragraph()
            fence = stripped[:3]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                i += 1
            i += 1
            continue
        opener = "$$" if stripped.startswith("$$") else "\\[" if stripped.startswith("\\[") else None
        if opener:
            closer = "$$" if opener == "$$" else "\\]"
            start = offset + line.index(opener) + 2
            end = text.find(closer, start)
            if end < 0:
                raise source.error(start - 2, f"display math opened with `{opener}` is never closed")
            prose = "\n".join(l for l, _ in paragraph).strip() or last_prose
            end_paragraph()
            body = text[start:end]
            parts.pieces.append(Display(body, start, _rows(source, body, start), prose))
            last_prose = ""
            after = end + 2
            while i < len(lines) and offsets[i] + len(lines[i]) < after:
                i += 1
            trailing = text[after:offsets[i] + len(lines[i])] if i < len(lines) else ""
            if trailing.strip():
                raise source.error(after, "text after the closing `$$` on its line")
            i += 1
            continue
        if not stripped:
            end_paragraph()
        else:
            paragraph.append((line, offset))
        i += 1
    end_paragraph()
    return parts


def _inline_math(source: Source, body: str, start: int) -> list[Inline]:
    found, end = [], 0
    for match in re.finditer(r"(?<!\\)\$([^$]+)\$", body):
        stray = _dollar(body, end, match.start())
        if stray >= 0:
            break
        found.append(Inline(match.group(1), start + match.start(1)))
        end = match.end()
    stray = _dollar(body, end, len(body))
    if stray >= 0:
        raise source.error(start + stray, "this inline `$` is not closed in its paragraph")
    return found


def _dollar(text: str, start: int, end: int) -> int:
    """Where the first ``$`` (not ``\\$``) in ``text[start:end]`` is, or -1."""
    match = re.compile(r"(?<!\\)\$").search(text, start, end)
    return match.start() if match else -1


def _rows(source: Source, body: str, start: int) -> list[Row]:
    """The rows of a display block, with their offsets; environments' markers blanked."""
    begin = re.search(r"\\begin\s*\{([a-zA-Z*]+)\}", body)
    if not begin or begin.group(1) == "cases":
        return [Row(body, start, False)]
    environment = begin.group(1)
    if environment not in _ROW_ENVIRONMENTS:
        raise source.error(start + begin.start(), f"unknown environment `{environment}`")
    end = body.rfind("\\end")
    closing = re.match(r"\\end\s*\{" + re.escape(environment) + r"\}", body[end:]) if end >= 0 else None
    if not closing:
        raise source.error(start + begin.start(), f"`\\begin{{{environment}}}` is never ended")
    if body[:begin.start()].strip() or body[end + closing.end():].strip(" \t\n.,"):
        raise source.error(start, f"text outside `\\begin{{{environment}}}`")
    inner_start = begin.end()
    inner = body[inner_start:end]
    rows, depth, row_start, i = [], 0, 0, 0
    while i < len(inner):
        if inner.startswith("\\begin", i):
            depth += 1
        elif inner.startswith("\\end", i):
            depth -= 1
        if depth == 0 and inner.startswith("\\\\", i):
            rows.append((row_start, i))
            row_start = i + 2
            i += 2
            continue
        if inner[i] == "\\":
            i += 2
            continue
        i += 1
    rows.append((row_start, len(inner)))
    out = []
    for first, last in rows:
        text = _blank_alignment(inner[first:last])
        if not text.strip():
            continue
        continues = bool(RELATION_FIRST.match(text))
        out.append(Row(text, start + inner_start + first, continues))
    return out


# A row that starts with a relation continues the row before (\left is no \le; \ne0 is
# no relation, as declare.py reads it).
#: A row that starts with a relation sign continues the row before (``&= ...``).
RELATION_FIRST = re.compile(r"\s*(=|<|>|\\neq(?![a-zA-Z])|\\ne\b|\\(leq|le|geq|ge)(?![a-zA-Z]))")


def _blank_alignment(text: str) -> str:
    """``&`` markers outside ``cases`` replaced by spaces."""
    out, depth, i = list(text), 0, 0
    while i < len(text):
        if text.startswith("\\begin", i):
            depth += 1
        elif text.startswith("\\end", i):
            depth -= 1
        elif text[i] == "\\":
            i += 2
            continue
        elif text[i] == "&" and depth == 0:
            out[i] = " "
        i += 1
    return "".join(out)
