"""Pages for a user's own derivation documents (``derive docs FILE.md... --out DIR``).

Each checked document gets the page a catalog document gets (its prose, each step with its
verdict), as Markdown and offline HTML, named after its file (``notes/hw3.md`` gives
``hw3.md`` and ``hw3.html``), plus an index of them; or, as LaTeX, one standalone ``.tex`` per
document.  All files are written together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

from derive.report.docs.atomic import write_files
from derive.report.docs.html import html_page
from derive.report.docs.markdown import markdown
from derive.report.docs.page import note_page_blocks, note_title, notes_index_blocks
from derive.report.docs.tex import standalone_tex

FORMATS = ("html", "latex")
#: Names the pages cannot take: the index's.
RESERVED = frozenset({"index"})


def page_names(paths: Sequence[str]) -> list[str]:
    """Each document's page name, its file name without ``.md``; a ValueError when two
    documents would get one name, or one would take the index's.

    >>> page_names(["hw/p1.md", "p2.md"])
    ['p1', 'p2']
    >>> page_names(["a/p1.md", "b/p1.md"])
    Traceback (most recent call last):
    ...
    ValueError: two documents would both be written as p1: a/p1.md and b/p1.md (rename one)
    """
    names: dict[str, str] = {}
    for path in paths:
        if path == "-":
            raise ValueError("standard input has no file name to name its page: give the document as a file")
        name = PurePath(path).name.removesuffix(".md")
        if name in names:
            raise ValueError(f"two documents would both be written as {name}: {names[name]} and {path} "
                             "(rename one)")
        if name in RESERVED or not name or name.startswith("."):
            raise ValueError(f"{path}: a document cannot be named {name or 'nothing'!r} (rename it)")
        names[name] = path
    return list(names)


def build_notes(checks: Sequence, format: str = "html") -> dict[str, bytes]:
    """Every file (name -> bytes) for the checked documents ``checks``, rendered in memory.

    Examples
    --------
    >>> from derive.document import check_document
    >>> check = check_document("$$ \\\\frac{d}{dx} x^2 = 2 x $$", path="notes/square.md")
    >>> sorted(build_notes([check]))
    ['index.html', 'index.md', 'square.html', 'square.md']
    >>> sorted(build_notes([check], "latex"))
    ['square.tex']
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}: expected one of {', '.join(FORMATS)}")
    names = page_names([check.path for check in checks])
    files: dict[str, bytes] = {}
    for name, check in zip(names, checks):
        blocks = note_page_blocks(check)
        if format == "latex":
            files[f"{name}.tex"] = standalone_tex(blocks, note_title(check)).encode("utf-8")
            continue
        files[f"{name}.md"] = markdown(blocks).encode("utf-8")
        files[f"{name}.html"] = html_page(blocks, note_title(check), {}).encode("utf-8")
    if format == "html":
        index = notes_index_blocks(list(zip(names, checks)))
        files["index.md"] = markdown(index).encode("utf-8")
        files["index.html"] = html_page(index, "Derivations, checked by derive", {}).encode("utf-8")
    return files


def write_notes(out: Path, checks: Sequence, format: str = "html") -> list[Path]:
    """Build the files of ``checks`` and write them into ``out``, all files or none."""
    return write_files(Path(out), build_notes(checks, format))
