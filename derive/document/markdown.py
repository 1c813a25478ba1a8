"""A derivation document's parts: front matter, declaration paragraphs, display math, prose.

Markdown is read only as far as the format needs (``docs/format.md``): an optional front
matter between ``---`` lines, fenced code blocks and code spans skipped (a fence never closed is
an error), display math between ``$$`` (or ``\\[`` and ``\\]``) on lines of their own or in a
fenced block whose info string is ``math`` (as GitHub and GitLab render it), also in a
blockquote or a list item, and paragraphs.  A ``$$``, ``\\[`` or ``\\begin{...}`` anywhere
else is an error: no display formula is ever skipped.  Each ``$...$`` of a paragraph is handed on
with the first word of its sentence, whether it stands in parentheses and the word before it
(``declare.py`` decides what it may be); from a line whose first word is *Let*, *Where*,
*Given* or *Assume* on, a ``$`` never closed is an error.  Inside display math, ``aligned``/``align*``/``split``/``gathered``
rows are split at ``\\\\``; a row starting with ``&=`` continues the row before.

>>> parts = split_document(Source("Let $x \\\\in \\\\mathbb{R}$.\\n\\n$$ y = 2 x $$\\n"))
>>> [(type(p).__name__, p.text.strip()) for p in parts.pieces]
[('Declarations', 'Let $x \\\\in \\\\mathbb{R}$.'), ('Prose', 'Let $x \\\\in \\\\mathbb{R}$.'), ('Display', 'y = 2 x')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from derive.document.source import MAX_DOCUMENT_CHARS, Source

_DECLARING = re.compile(r"[*_]{0,3}(?:let|where|given|assume)\b", re.IGNORECASE)  # **Let** too
_ROW_ENVIRONMENTS = ("aligned", "align*", "align", "split", "gathered", "gather*", "gather",
                     "equation*", "equation", "eqnarray*", "eqnarray", "multline*", "multline")


@dataclass
class Inline:
    """One ``$...$`` of a paragraph: its text, its offset in the document, the first word of its
    sentence (lowercase; ``""`` when the sentence starts with math), whether it stands in
    parentheses (an aside) and the prose word just before it."""

    text: str
    offset: int
    sentence: str = ""
    aside: bool = False
    before: str = ""  # the word just before it, lowercase (``for`` in "for $j = 1, \dots, K$")


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
    #: Where each front matter key is written (its offset).
    front_at: dict[str, int] = field(default_factory=dict)


def _front_matter(source: Source) -> tuple[dict[str, str], dict[str, int], int]:
    """The front matter's keys and values, where each key is, and where the body starts; a first
    line ``---`` (``\\r\\n`` line ends too) opens it."""
    text = source.text
    opening = re.match(r"---[ \t]*\r?\n", text)
    if not opening:
        return {}, {}, 0
    end = text.find("\n---", opening.end() - 1)
    if end < 0:
        raise source.error(0, "front matter opened with `---` is never closed")
    front, front_at = {}, {}
    position = opening.end()
    for line in text[position:end].split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            key, colon, value = line.partition(":")
            if not colon or not re.fullmatch(r"[a-z][a-z-]*", key.strip()):
                raise source.error(position, "front matter lines are `key: value`")
            if key.strip() in front:
                raise source.error(position, f"front matter key `{key.strip()}` is given twice")
            front[key.strip()] = value.strip()
            front_at[key.strip()] = position
        position += len(line) + 1
    after = text.find("\n", end + 1)
    return front, front_at, (len(text) if after < 0 else after + 1)


def split_document(source: Source) -> Parts:
    """The document's parts in order.

    Display math is read wherever a line (after any blockquote ``>`` or list marker) starts
    with ``$$`` or ``\\[``; a ``$$``, ``\\[`` or ``\\begin{...}`` anywhere else outside code is
    an error, so no display formula is ever skipped:

    >>> split_document(Source("> $$ a = b $$\\n")).pieces[0].text
    ' a = b '
    >>> split_document(Source("So $$ a = b $$ holds.\\n"))
    Traceback (most recent call last):
    ...
    derive.document.source.DocumentError: <document>:1:4: display math `$$` must start its own line (after any `>` or list marker); as written it would not be checked
        So $$ a = b $$ holds.
           ^
    """
    text = source.text
    if len(text) > MAX_DOCUMENT_CHARS:
        # Located on a bounded prefix: a huge text is never scanned for its lines.
        prefix = Source(text[:MAX_DOCUMENT_CHARS + 1], source.path)
        raise prefix.error(MAX_DOCUMENT_CHARS, f"document longer than {MAX_DOCUMENT_CHARS} characters")
    front, front_at, position = _front_matter(source)
    parts = Parts(front, front_at=front_at)
    paragraph: list[tuple[str, str, int]] = []  # (line as written, line as read, offset)
    last_prose = ""

    def end_paragraph() -> None:
        nonlocal last_prose
        if not paragraph:
            return
        body = "\n".join(line for line, _, _ in paragraph)
        _refuse_hidden_display(source, "\n".join(read for _, read, _ in paragraph), paragraph[0][2])
        declaring = next((k for k, (_, read, _) in enumerate(paragraph) if _DECLARING.match(read.lstrip())), None)
        if declaring != 0:  # the prose before a Let line: a stray `$` there ends its math
            _append_math(parts, source, paragraph[:declaring], strict=False)
        if declaring is not None:
            _append_math(parts, source, paragraph[declaring:], strict=True)
        last_prose = body.strip()
        parts.prose.append(last_prose)
        parts.pieces.append(Prose(last_prose, paragraph[0][2]))
        paragraph.clear()

    lines = text[position:].split("\n")
    offsets, at = [], position
    for line in lines:
        offsets.append(at)
        at += len(line) + 1
    quotes = 0  # blockquote depth of the paragraph being read
    i = 0
    while i < len(lines):
        line, offset = lines[i], offsets[i]
        width, depth, listed = _container(line)
        content = line[width:]
        stripped = content.strip()
        fence = _FENCE_OPEN.match(stripped)
        if fence:
            prose = "\n".join(l for l, _, _ in paragraph).strip() or last_prose
            end_paragraph()
            opened = i
            i = _fence_end(source, lines, offsets, i, fence.group(1), offset + width + content.index(fence.group(1)))
            if _MATH_FENCE.fullmatch(stripped[len(fence.group(1)):]):
                body = "\n".join(_unquoted(lines[j], depth) for j in range(opened + 1, i - 1))
                start = offsets[opened + 1] if opened + 1 < i - 1 else offsets[i - 1]
                parts.pieces.append(Display(body, start, _rows(source, body, start), prose))
                last_prose = ""
            continue
        opener = "$$" if stripped.startswith("$$") else "\\[" if stripped.startswith("\\[") else None
        if opener:
            closer = "$$" if opener == "$$" else "\\]"
            start = offset + width + content.index(opener) + 2
            prose = "\n".join(l for l, _, _ in paragraph).strip() or last_prose
            end_paragraph()
            body, i, after = _display_body(source, lines, offsets, i, start, closer, depth)
            parts.pieces.append(Display(body, start, _rows(source, body, start), prose))
            last_prose = ""
            trailing = text[after:offsets[i] + len(lines[i])]
            if trailing.strip():
                raise source.error(after, f"text after the closing `{closer}` on its line")
            i += 1
            continue
        if not stripped:
            end_paragraph()
            quotes = 0
        else:
            if listed or (paragraph and depth != quotes):
                end_paragraph()
            if not paragraph:
                quotes = depth
            paragraph.append((line, " " * width + content, offset))
        i += 1
    end_paragraph()
    return parts


#: A blockquote marker or a list item's marker at the start of a line (after any indentation).
_MARKER = re.compile(r"[ \t]*(?:(>)[ \t]?|(?:[-+*]|\d{1,9}[.)])(?=[ \t]|$)[ \t]?)")
_FENCE_OPEN = re.compile(r"(`{3,}(?=[^`]*$)|~{3,})")
#: The info string of a fenced block that GitHub and GitLab render as display math: read as such.
_MATH_FENCE = re.compile(r"\s*math\s*")
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_HIDDEN_DISPLAY = re.compile(r"(?<!\\)\$\$|(?<!\\)\\\[|(?<!\\)\\begin\s*\{")


def _container(line: str) -> tuple[int, int, bool]:
    """How wide a line's blockquote and list markers are, how many ``>`` there are, and whether
    a list item starts on this line.

    >>> _container("> 1. $$ x $$"), _container("    $$"), _container("-1 = a")
    ((5, 1, True), (0, 0, False), (0, 0, False))
    """
    width, depth, listed = 0, 0, False
    while True:
        match = _MARKER.match(line, width)
        if not match or match.end() == width:
            return width, depth, listed
        if match.group(1):
            depth += 1
        else:
            listed = True
        width = match.end()


def _unquoted(line: str, depth: int) -> str:
    """``line`` with up to ``depth`` leading ``>`` markers blanked (every character in place)."""
    out = list(line)
    position = 0
    for _ in range(depth):
        match = re.compile(r"[ \t]*>").match(line, position)
        if not match:
            break
        out[match.end() - 1] = " "
        position = match.end()
    return "".join(out)


def _fence_end(source: Source, lines, offsets, i: int, fence: str, at: int) -> int:
    """The line after the fence opened on line ``i`` closes; a fence never closed is an error
    (everything after it would be skipped)."""
    closing = re.compile(re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*")
    for j in range(i + 1, len(lines)):
        width, _, _ = _container(lines[j])
        if closing.fullmatch(lines[j][width:].strip()):
            return j + 1
    raise source.error(at, f"code fence {fence} is never closed (derive would skip everything after it)")


def _display_body(source: Source, lines, offsets, i: int, start: int, closer: str, depth: int):
    """The body of the display math opened on line ``i`` (its text from ``start``), its last
    line and where its closer ends; inside a blockquote the ``>`` markers are blanked."""
    pieces, j = [], i
    from_ = start - offsets[i]
    while j < len(lines):
        line = lines[j] if j == i else _unquoted(lines[j], depth)
        end = line.find(closer, from_)
        if end >= 0:
            pieces.append(line[from_:end])
            return "\n".join(pieces), j, offsets[j] + end + len(closer)
        pieces.append(line[from_:])
        j, from_ = j + 1, 0
    opener = "$$" if closer == "$$" else "\\["
    raise source.error(start - 2, f"display math opened with `{opener}` is never closed")


def _refuse_hidden_display(source: Source, paragraph: str, offset: int) -> None:
    """A ``$$`` in a paragraph, or a ``\\[`` or ``\\begin{...}`` outside its inline math (and
    outside code spans), is display math a reader sees rendered but that would not be checked:
    an error."""
    if "$$" not in paragraph and "\\[" not in paragraph and "\\begin" not in paragraph:
        return
    shown = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), paragraph)
    match = re.search(r"(?<!\\)\$\$", shown)
    if match is None:
        shown = re.sub(r"(?<!\\)\$[^$]+\$", lambda m: " " * len(m.group(0)), shown)
        match = _HIDDEN_DISPLAY.search(shown)
    if not match:
        return
    if match.group(0) == "$$":
        what = "display math `$$`"
    elif match.group(0) == "\\[":
        what = "display math `\\[`"
    else:
        line_start = shown.rfind("\n", 0, match.start()) + 1
        if not shown[line_start:match.start()].strip(" \t>*+-0123456789.)"):  # the line's own start
            raise source.error(offset + match.start(), "`\\begin{...}` outside `$$` is display math "
                               "that derive does not read: put the environment between `$$` lines "
                               "(or `\\[` and `\\]`); as written it would not be checked")
        what = "`\\begin{...}` outside math (an environment is display math)"
    raise source.error(offset + match.start(), f"{what} must start its own line (after any `>` "
                       "or list marker); as written it would not be checked")


def _append_math(parts: Parts, source: Source, lines: list[tuple[str, str, int]], strict: bool) -> None:
    """The inline math of some lines of a paragraph, as one :class:`Declarations` piece (code
    spans blanked); with ``strict`` (from a *Let* line on) a ``$`` never closed is an error."""
    if not lines:
        return
    body = _CODE_SPAN.sub(lambda m: " " * len(m.group(0)), "\n".join(text for _, text, _ in lines))
    math = _inline_math(source, body, lines[0][2], strict)
    if math:
        parts.pieces.append(Declarations(body, lines[0][2], math))


def _inline_math(source: Source, body: str, start: int, strict: bool = True) -> list[Inline]:
    """The ``$...$`` of a paragraph, each with the first word of its sentence, whether it stands
    in parentheses and the word just before it.  A ``$`` never closed is an error when
    ``strict``; otherwise the math ends there (prose may hold a price).

    >>> [(m.text, m.sentence, m.aside, m.before) for m in _inline_math(Source(""), "Let $a$ (so $b$). For $c$.", 0)]
    [('a', 'let', False, 'let'), ('b', 'let', True, 'so'), ('c', 'for', False, 'for')]
    """
    found, end = [], 0
    depth, word = 0, None  # parentheses open in the prose; the sentence's first word (None: not yet)
    for match in re.finditer(r"(?<!\\)\$([^$]+)\$", body):
        stray = _dollar(body, end, match.start())
        if stray >= 0:
            break
        prose = body[end:match.start()]
        depth, word = _prose(prose, depth, word)
        before = _LAST_WORD.search(prose)
        found.append(Inline(match.group(1), start + match.start(1), word or "", depth > 0,
                            before.group(1).lower() if before else ""))
        word = word or ""
        end = match.end()
    stray = _dollar(body, end, len(body))
    if stray >= 0 and strict:
        raise source.error(start + stray, "this inline `$` is not closed in its paragraph")
    return found


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_LAST_WORD = re.compile(r"(?<![A-Za-z])([A-Za-z]+)\W*$")  # one try per word: linear in the prose


def _prose(text: str, depth: int, word: str | None) -> tuple[int, str | None]:
    """After a piece of prose: the parentheses still open and the current sentence's first word
    (``None`` when a sentence ended and no word has come yet; ``""`` when one starts with math)."""
    for k, piece in enumerate(_SENTENCE_END.split(text)):
        if k:
            word = None
        depth = max(0, depth + piece.count("(") - piece.count(")"))
        if word is None:
            first = re.search(r"[A-Za-z]+", piece)
            word = first.group(0).lower() if first else None
    return depth, word


def _dollar(text: str, start: int, end: int) -> int:
    """Where the first ``$`` (not ``\\$``) in ``text[start:end]`` is, or -1."""
    match = re.compile(r"(?<!\\)\$").search(text, start, end)
    return match.start() if match else -1


def _rows(source: Source, body: str, start: int) -> list[Row]:
    """The rows of a display block, with their offsets; environments' markers blanked."""
    begin = re.search(r"\\begin\s*\{([a-zA-Z*]+)\}", body)
    if not begin or begin.group(1) in ("cases", "pmatrix", "bmatrix"):  # math inside one row
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
