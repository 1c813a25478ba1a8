"""Where a piece of a document is, and the one error type for a document that cannot be read.

>>> source = Source("a\\nb = $$\\n", "notes.md")
>>> print(source.error(6, "unexpected `$`"))
notes.md:2:5: unexpected `$`
    b = $$
        ^
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


class DocumentError(ValueError):
    """A derivation document that cannot be read or checked as written.

    ``path``, ``line`` and ``column`` (1-based) say where; ``str()`` gives the message, the
    offending line and a caret under the column.
    """

    def __init__(self, message: str, path: str = "<document>", line: int = 0, column: int = 0,
                 text: str = ""):
        super().__init__(message)
        self.message, self.path, self.line, self.column, self.text = message, path, line, column, text

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.column}" if self.line else self.path

    def __str__(self) -> str:
        head = f"{self.location}: {self.message}"
        if not self.line or not self.column:
            return head
        shown, caret = shown_line(self.text, self.column)
        return f"{head}\n    {shown}\n    {' ' * caret}^"


#: Widest piece of a long line shown under an error.
SHOWN_WIDTH = 100


def shown_line(text: str, column: int) -> tuple[str, int]:
    """A document line as an error shows it, and where the caret goes under ``column``.

    One character stays one character, so the caret stays under it: a tab shows as a space and
    a control or invisible character as a visible stand-in (a terminal never gets an escape
    sequence from a document); a line wider than :data:`SHOWN_WIDTH` is cut around the column.

    >>> shown_line("a\\tb\\x1b[2Jc", 3)
    ('a b\u241b[2Jc', 2)
    """
    shown = "".join(_visible(c) for c in text)
    caret = column - 1
    if len(shown) > SHOWN_WIDTH:
        start = max(0, min(caret - SHOWN_WIDTH // 2, len(shown) - SHOWN_WIDTH))
        cut = shown[start:start + SHOWN_WIDTH]
        shown = ("…" if start else "") + cut + ("…" if start + SHOWN_WIDTH < len(shown) else "")
        caret = caret - start + (1 if start else 0)
    return shown, caret


def _visible(char: str) -> str:
    if char == "\t":
        return " "
    if char < " ":
        return chr(0x2400 + ord(char))  # the Control Pictures block: ␀ ␛ ...
    if char.isprintable():
        return char
    return "\u2421" if char == "\x7f" else "\ufffd"


@dataclass(frozen=True)
class Source:
    """A document's text and name, mapping character offsets to lines and columns."""

    text: str
    path: str = "<document>"

    @property
    def _line_starts(self) -> list[int]:
        starts = self.__dict__.get("_starts")
        if starts is None:
            starts = [0] + [i + 1 for i, c in enumerate(self.text) if c == "\n"]
            object.__setattr__(self, "_starts", starts)
        return starts

    def location(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def error(self, offset: int, message: str) -> DocumentError:
        line, column = self.location(offset)
        return DocumentError(message, self.path, line, column, self.line_text(line))
