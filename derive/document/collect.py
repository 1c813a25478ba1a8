"""Checking many documents: the files under folders, and each one's outcome.

``derive check notes/`` checks every ``*.md`` under ``notes`` (:func:`documents_under`: sorted,
recursively, skipping hidden folders, ``node_modules``, ``__pycache__``, ``site-packages`` and
virtual environments).  Each document gets an :class:`Outcome` (:func:`check_each`): its
:class:`~derive.document.check.DocumentCheck`, or why it was skipped (a Markdown file without
display math is no derivation: a README), or why it cannot be read; one unreadable document never
stops the others.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as folder:
...     notes = pathlib.Path(folder)
...     _ = (notes / "README.md").write_text("Notes on losses.\\n")
...     _ = (notes / "square.md").write_text("Let $a > 0$.\\n\\n$$ f = a^2 $$\\n"
...                                          "$$ \\\\frac{\\\\partial f}{\\\\partial a} = 2 a $$\\n")
...     outcomes = check_each(documents_under([folder]))
>>> [(pathlib.Path(o.path).name, o.status) for o in outcomes]
[('README.md', 'skipped'), ('square.md', 'proven')]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from derive.document.check import TIME_LIMIT, DocumentCheck, check_document
from derive.document.declare import read_document
from derive.document.markdown import Display, split_document
from derive.document.source import DocumentError, Source, read_source

#: Folders never searched for documents (besides hidden ones and virtual environments).
SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages"})
#: The suffix of the documents a folder is searched for.
SUFFIX = ".md"
#: Why a file without display math is skipped.
NO_DERIVATION = "no derivation (no display equations)"


class NoDocumentsError(ValueError):
    """A folder given to check holds no document."""


def documents_under(paths: Iterable[str]) -> list[str]:
    """Every document ``paths`` name, in order, each once: a file (or ``-``) as given, a folder
    as the ``*.md`` files under it, sorted.

    A folder with none raises :class:`NoDocumentsError`: a mistyped folder never passes.
    """
    found: list[str] = []
    for path in paths:
        inside = _markdown_under(path) if path != "-" and os.path.isdir(path) else [path]
        if not inside:
            raise NoDocumentsError(f"{path}: is a directory, not a document, and has no Markdown "
                                   f"document (*{SUFFIX}) under it")
        found.extend(name for name in inside if name not in found)
    return found


def _markdown_under(folder: str) -> list[str]:
    """The ``*.md`` files under ``folder``, sorted by their path; symbolic links to folders are
    not followed (no cycles), those to files are."""
    names = []
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not _skipped(os.path.join(root, f)))
        names.extend(os.path.join(root, f) for f in files if f.endswith(SUFFIX) and not f.startswith("."))
    return sorted(names, key=lambda name: Path(name).parts)


def _skipped(folder: str) -> bool:
    """Hidden folders (``.git``, ``.venv``), :data:`SKIPPED_FOLDERS` and virtual environments."""
    name = os.path.basename(folder)
    return name.startswith(".") or name in SKIPPED_FOLDERS or os.path.isfile(os.path.join(folder, "pyvenv.cfg"))


@dataclass(frozen=True)
class Outcome:
    """One document's outcome: ``check`` when it was checked, ``skipped`` (why) when it is no
    derivation, ``error`` when it cannot be read."""

    path: str
    check: DocumentCheck | None = None
    skipped: str = ""
    error: DocumentError | None = None

    @property
    def status(self) -> str:
        """``proven``, ``refuted``, ``unproven``, ``skipped`` or ``unreadable``."""
        if self.error is not None:
            return "unreadable"
        return "skipped" if self.check is None else self.check.status


def check_each(paths: Sequence[str], *, time_limit: float = TIME_LIMIT, stdin=None,
               progress: Callable[[str, int, int], Callable[[int, int], None] | None] | None = None,
               named: Iterable[str] = ()) -> list[Outcome]:
    """Each document's :class:`Outcome`, in order (``-`` is read from ``stdin``).

    ``progress(path, number, count)`` may give a step-progress callback for each document;
    ``named``: the paths the user named one by one (see :func:`check_one`).
    """
    named = set(named)
    outcomes = []
    for number, path in enumerate(paths):
        steps = progress(path, number, len(paths)) if progress else None
        outcomes.append(check_one(path, time_limit=time_limit, stdin=stdin, progress=steps,
                                  named=path in named))
    return outcomes


def check_one(path: str, *, time_limit: float = TIME_LIMIT, stdin=None,
              progress: Callable[[int, int], None] | None = None, named: bool = False) -> Outcome:
    """One document's :class:`Outcome`: a file without display math is skipped, unchecked.

    A file the user ``named`` (not one found in a folder) is still read in full first, so that
    a claim written in inline math, which derive does not check, is an error pointing at it.
    """
    try:
        source = _read(path, stdin)
        if not any(isinstance(piece, Display) for piece in split_document(source).pieces):
            if named:
                read_document(source)
            return Outcome(path, skipped=NO_DERIVATION)
        return Outcome(path, check=check_document(source, time_limit=time_limit, progress=progress))
    except DocumentError as error:
        return Outcome(path, error=error)


def _read(path: str, stdin) -> Source:
    if path != "-":
        return read_source(path)
    if stdin is None:
        raise DocumentError("standard input is closed", path)
    try:
        return read_source(path, stdin)
    except UnicodeDecodeError as error:  # a text stream that decodes itself
        raise DocumentError(f"not UTF-8 text ({error.reason})", path) from None
