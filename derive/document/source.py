"""Where a piece of a document is, and the one error type for a document that cannot be read.

>>> source = Source("a\\nb = $$\\n", "notes.md")
>>> print(source.error(6, "unexpected `$`"))
notes.md:2:5: unexpected `$`
    b = $$
        ^
"""

from __future__ import annotations

import bisect
import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: Largest document accepted, in characters.
MAX_DOCUMENT_CHARS = 200_000
#: Largest document read, in bytes (UTF-8 takes at most four bytes a character); no more than
#: this is ever read, from a file or from standard input.
MAX_DOCUMENT_BYTES = 4 * MAX_DOCUMENT_CHARS


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


def read_source(path: str | Path, stream=None) -> Source:
    """The document at ``path`` (or, with ``stream``, read from that stream and named ``path``).

    At most :data:`MAX_DOCUMENT_BYTES` are read, so ``/dev/zero`` or an endless pipe is refused
    without filling memory; only a regular file is opened (a directory, a device, a FIFO or a
    socket is refused before anything is read, so nothing waits for a writer); bytes that are
    not UTF-8 are an error at their line and column.  A byte-order mark is dropped and ``\\r\\n``
    line ends are kept (the reader takes them as line ends).  Every failure is a
    :class:`DocumentError`.

    >>> import io
    >>> try:
    ...     read_source("-", io.BytesIO(b"a\\nb = \\xff\\n"))
    ... except DocumentError as error:
    ...     print(error)
    -:2:5: not UTF-8 text (byte 0xff cannot start a character)
        b = \ufffd
            ^
    """
    name = str(path)
    if stream is not None:
        binary = getattr(stream, "buffer", None)
        try:
            data = (binary or stream).read(MAX_DOCUMENT_BYTES + 1)
        except OSError as error:
            raise DocumentError(f"cannot read standard input: {error.strerror or error}", name) from None
        if isinstance(data, str):  # a text stream (already decoded)
            return _bounded(Source(data, name), len(data) > MAX_DOCUMENT_CHARS)
    else:
        data = _read_file(name)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"document longer than {MAX_DOCUMENT_BYTES} bytes (at most "
                            f"{MAX_DOCUMENT_CHARS} characters are read)", name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        shown = data.decode("utf-8-sig", "replace")
        offset = len(data[:error.start].decode("utf-8-sig", "replace"))
        raise Source(shown, name).error(offset, f"not UTF-8 text (byte 0x{data[error.start]:02x} "
                                        f"{_why_not_utf8(error.reason)})") from None
    return _bounded(Source(text, name), len(text) > MAX_DOCUMENT_CHARS)


def _why_not_utf8(reason: str) -> str:
    return {"invalid start byte": "cannot start a character",
            "invalid continuation byte": "cannot continue a character",
            "unexpected end of data": "ends the text in the middle of a character"}.get(reason, reason)


def _bounded(source: Source, too_long: bool) -> Source:
    if too_long:
        prefix = Source(source.text[:MAX_DOCUMENT_CHARS + 1], source.path)
        raise prefix.error(MAX_DOCUMENT_CHARS, f"document longer than {MAX_DOCUMENT_CHARS} characters")
    return source


def _read_file(name: str) -> bytes:
    """At most one byte more than :data:`MAX_DOCUMENT_BYTES` of a regular file."""
    try:
        # O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused just below).
        descriptor = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise DocumentError("no such file", name) from None
    except PermissionError:
        raise DocumentError("permission denied", name) from None
    except IsADirectoryError:
        raise DocumentError("is a directory, not a document", name) from None
    except OSError as error:
        raise DocumentError(f"cannot open: {error.strerror or error}", name) from None
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise DocumentError("is a directory, not a document", name)
        if not stat.S_ISREG(mode):
            raise DocumentError("not a regular file (a device, a pipe or a socket): give a pipe as `-`, "
                                "on standard input", name)
        chunks, left = [], MAX_DOCUMENT_BYTES + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise DocumentError(f"cannot read: {error.strerror or error}", name) from None
    finally:
        os.close(descriptor)
