"""pytest checks derivation documents: each named document is a test item (opt-in).

Installing derive registers this plugin (entry point ``derive`` in the group ``pytest11``), but
it collects nothing until it is told which documents to check, and until then it imports
nothing heavy (no SymPy, no lark: pytest loads it in every project of an environment).

Configuration, in ``pyproject.toml`` (or ``pytest.ini``, ``tox.ini``, ``setup.cfg``)::

    [tool.pytest.ini_options]
    derive_documents = ["docs/derivations/*.md", "notes/**/*.md"]  # relative to the rootdir
    derive_time_limit = "10"  # seconds the verifier may spend on one entry (default 10)

or on the command line, repeatable: ``pytest --derive notes/softmax.md --derive 'notes/*.md'``
(a file, a folder for every ``*.md`` under it, or a glob; relative to the current directory).

Which documents a run checks:

* ``derive_documents`` names the repository's documents: a plain ``pytest`` at the rootdir
  (no paths given) checks every one of them besides its tests, and ``pytest docs/`` those under
  ``docs/``; ``pytest tests/test_model.py`` runs that file only.
* ``--derive`` names the documents to check as paths do: ``pytest --derive notes.md`` checks
  ``notes.md`` only; ``pytest tests --derive notes.md`` runs ``tests`` and checks ``notes.md``.

A pattern or folder that matches no document is a usage error: a mistyped path never passes.
After collection one line says how many documents the run checks.

Each document is one item, ``notes.md::derivation``.  It passes when every step is proven and
fails otherwise; the failure shows the document as ``derive check`` prints it (each step with its
verdict at ``line:column``, and for a refuted document the first wrong step at
``file:line:column`` with the counterexample and the named mistake; an unproven step says why),
and the short summary the one-line form of ``derive check DIR``.  A document that cannot be read
fails with ``file:line:column`` and the message, not a traceback; a Markdown file without
display math is skipped: "no derivation".  ``-p no:derive`` turns the plugin off.

Why not Sybil: Sybil parses a document into regions (code blocks, doctests) and runs each one as
an example in a shared namespace.  A derivation document is one chain of equations, checked as a
whole by :func:`~derive.document.check.check_document` (a step stands on the declarations and
definitions above it), so its test item is the whole file: a ``pytest.File`` and a
``pytest.Item`` do that in a few lines, with no dependency.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

#: The documents named by ``derive_documents`` and ``--derive`` (absolute paths): the files this
#: session collects as documents wherever it meets them.
_DOCUMENTS = pytest.StashKey[frozenset]()
#: Seconds per entry from ``derive_time_limit`` (None: check_document's default).
_TIME_LIMIT = pytest.StashKey["float | None"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("derive", "derivation documents (derive)")
    group.addoption("--derive", action="append", default=[], metavar="PATH_OR_GLOB",
                    help="check this derivation document (a file, a folder: every *.md under it, "
                         "or a glob; relative to the current directory) as a test item; repeatable")
    parser.addini("derive_documents", type="args", default=[],
                  help="derivation documents checked as test items: globs relative to the rootdir "
                       "(a plain pytest at the rootdir checks them all)")
    parser.addini("derive_time_limit", type="string", default="",
                  help="seconds the verifier may spend on one entry of a derivation document "
                       "(default 10)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Find the named documents, and add them to the paths this run collects."""
    config = session.config
    named = [_matches(pattern, config.invocation_params.dir, "--derive")
             for pattern in config.getoption("derive")]
    configured = [_matches(pattern, config.rootpath, "derive_documents")
                  for pattern in config.getini("derive_documents")]
    if not named and not configured:
        return
    config.stash[_TIME_LIMIT] = _time_limit(config.getini("derive_time_limit"))
    config.stash[_DOCUMENTS] = frozenset(path for paths in named + configured for path in paths)
    paths_given = config.args_source == pytest.Config.ArgsSource.ARGS
    if named:  # named documents are paths of this run: the only ones when no path was given
        if not paths_given:
            config.args[:] = []
        config.args.extend(path for paths in named for path in paths)
    elif not paths_given and config.invocation_params.dir.samefile(config.rootpath):
        config.args.extend(path for paths in configured for path in paths)  # a plain run: all


def _matches(pattern: str, root: Path, where: str) -> list[str]:
    """The documents ``pattern`` names, as absolute paths: a file, the ``*.md`` files under a
    folder, or a glob's matches (``**`` for any depth), relative to ``root``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     for name in ("notes/a.md", "notes/deep/b.md", "notes/c.txt"):
    ...         Path(folder, name).parent.mkdir(parents=True, exist_ok=True)
    ...         _ = Path(folder, name).write_text("")
    ...     found = [_matches(p, Path(folder), "--derive") for p in ("notes", "notes/*.md", "notes/**/*.md")]
    ...     [[os.path.relpath(f, folder) for f in paths] for paths in found]
    [['notes/a.md', 'notes/deep/b.md'], ['notes/a.md'], ['notes/a.md', 'notes/deep/b.md']]
    """
    matched = sorted(glob.glob(pattern, root_dir=root, recursive=True))
    if not matched:
        raise pytest.UsageError(f"{where} {pattern}: no file or folder matches it (relative to {root})")
    return [path for match in matched for path in _documents_at(root, match, f"{where} {pattern}")]


def _documents_at(root: Path, match: str, named: str) -> list[str]:
    """A file itself, or the ``*.md`` files under a folder, as ``derive check DIR`` finds them."""
    path = os.path.abspath(os.path.join(root, match))
    if not os.path.isdir(path):
        return [path]
    # Only for a folder: the document reader (SymPy, lark) stays out of a run that checks nothing.
    from derive.document.collect import NoDocumentsError, documents_under

    try:
        return documents_under([path])
    except NoDocumentsError:
        raise pytest.UsageError(f"{named}: {match} is a folder with no Markdown document (*.md) "
                                "under it") from None


def _time_limit(text: str) -> float | None:
    """``derive_time_limit`` in seconds (None when it is not set)."""
    if not text.strip():
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise pytest.UsageError(f"derive_time_limit = {text}: expected a positive number of seconds")
    return seconds


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if os.path.abspath(file_path) in parent.config.stash.get(_DOCUMENTS, frozenset()):
        return DerivationFile.from_parent(parent, path=file_path)
    return None


def pytest_report_collectionfinish(config: pytest.Config, items) -> list[str]:
    """One line: how many of the documents named this run checks."""
    documents = config.stash.get(_DOCUMENTS, None)
    if documents is None:
        return []
    checked = sum(isinstance(item, DerivationItem) for item in items)
    return [f"derive: checking {checked} of the {len(documents)} derivation "
            f"document{'' if len(documents) == 1 else 's'} named (derive_documents, --derive)"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A skipped document is reported at the document ("notes/README.md:1: no derivation"), not
    at the line of this plugin that skipped it."""
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, DerivationItem) and report.skipped and call.excinfo is not None:
        report.longrepr = (str(item.path), 1, str(call.excinfo.value))


class DerivationFile(pytest.File):
    """A derivation document: one item, ``derivation``."""

    def collect(self):
        yield DerivationItem.from_parent(self, name="derivation")


class DerivationItem(pytest.Item):
    """A derivation document checked by :func:`derive.document.collect.check_one`."""

    def runtest(self) -> None:
        from derive.document.check import TIME_LIMIT
        from derive.document.collect import check_one

        time_limit = self.config.stash.get(_TIME_LIMIT, None) or TIME_LIMIT
        # Named from the working directory as it is now, so the path is both readable and short.
        outcome = check_one(os.path.relpath(self.path), time_limit=time_limit)
        if outcome.status == "skipped":
            pytest.skip(outcome.skipped)
        if outcome.status != "proven":
            raise NotProven(outcome)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotProven):
            return DocumentFailure.of(excinfo.value.outcome)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"derivation {self.path.name}"


class NotProven(Exception):
    """A document that is refuted, unproven or unreadable; ``outcome`` says which and where."""

    def __init__(self, outcome):
        super().__init__(outcome.status)
        self.outcome = outcome


@dataclass(frozen=True)
class Crash:
    """Where and why a document failed, in one line: what pytest's short test summary and JUnit
    XML show (shaped as pytest's own ``reprcrash``: ``path``, 1-based ``lineno``, ``message``)."""

    path: str
    lineno: int
    message: str


@dataclass(frozen=True)
class DocumentFailure:
    """A failing document's report: the whole text, and its :class:`Crash` line."""

    text: str
    reprcrash: Crash

    @classmethod
    def of(cls, outcome) -> DocumentFailure:
        from derive.report.document import first_not_proven, summary_line

        if outcome.error is not None:
            error = outcome.error
            return cls(str(error), Crash(error.path, error.line, summary_line(outcome)))
        step = first_not_proven(outcome.check)
        return cls(str(outcome.check), Crash(outcome.path, step.line if step else 0, summary_line(outcome)))

    def toterminal(self, writer) -> None:
        writer.line(self.text)

    def __str__(self) -> str:
        return self.text
