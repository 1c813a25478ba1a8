"""Where a piece of a document is, and the one error type for a document that cannot be read.

>>> source = Source("a\\nb = $$\\n", "notes.md")
>>> print(source.error(5, "unexpected `$`"))
notes.md:2:3: unexpected `$`
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
        if not self.text:
            return head
        shown = self.text.expandtabs(1)
        return f"{head}\n    {shown}\n    {' ' * (self.column - 1)}^"


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
