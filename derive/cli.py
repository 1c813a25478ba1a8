"""The ``derive`` command: parse arguments, print, choose the exit status.

``derive --classes K ...`` prints the verified derivation; ``derive docs ...``
writes its documentation and lists the files written.

Every command returns its whole standard output as one text, and :func:`run`
writes it in one place; every error, whatever the command, is raised as a
:class:`CommandError` and printed there as one line on stderr
(``derive: error: ...`` or ``derive docs: error: ...``), never a traceback.

Exit status:

* 0 -- everything printed is proven (``derive docs``: and the files are written);
* 1 -- something is refuted or unproven (the output is still complete);
* 2 -- bad input: the arguments, or a model outside the bounds;
* 3 -- output not written: standard output failed (a full disk, a character its
  encoding cannot represent; ``derive docs`` has then written its files, only
  the list is missing), or ``derive docs`` could not write its files (then it
  changed none) or lacks the ``docs`` extra (``pip install 'derive[docs]'``);
* 141 -- standard output was closed before everything was written (a reader
  such as ``head`` stopped early): no message, and the status a shell reports
  for ``cat`` stopped by SIGPIPE (128 + 13), so ``set -o pipefail`` treats
  both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

EXIT_PROVEN, EXIT_NOT_PROVEN, EXIT_BAD_INPUT, EXIT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE, as a shell reports for `cat ... | head`
MAX_DIGITS = 100  # longer "integers" are rejected before int() sees them
DOCS_EXTRA = ("matplotlib", "latex2mathml")  # pyproject.toml's `docs` extra, needed by derive docs only
STATUS_HELP = (
    "Exit status: 0 all proven, 1 something refuted or unproven, 2 bad input, "
    "3 output not written (e.g. standard output full or unable to encode it), "
    "141 standard output closed early (e.g. by head), silently."
)


class CommandError(Exception):
    """An error that ends the command: a one-line message and the exit status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class UsageError(Exception):
    """Bad command-line input; the message is printed as one line."""


class _Finished(Exception):
    """``--help`` or ``--version``: ``args[0]`` is the whole output, the status is 0."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing and exiting itself."""

    def error(self, message: str):  # argparse would print usage over two lines
        raise UsageError(message)

    def print_help(self, file=None):  # --help: run() writes the text
        raise _Finished(self.format_help())


class _Version(argparse.Action):
    """``--version``: like argparse's, but the text goes out through run()."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from derive import __version__

        raise _Finished(f"derive {__version__}\n")


def _integer(text: str) -> int:
    """Parse a plain decimal integer (no eval, no underscores, no floats)."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(stripped)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive",
        description="Verify the softmax cross-entropy gradient dL/dw_m = (p_m - 1[m = y]) x "
        "with SymPy and print it as LaTeX.",
        epilog="Run 'derive docs --help' for the documentation generator. " + STATUS_HELP,
    )
    _add_size_arguments(parser, default_classes=None)
    parser.add_argument(
        "--steps", action="store_true",
        help="also verify and print the seed's step-by-step route and the extra facts",
    )
    parser.add_argument(
        "--format", choices=("latex", "json"), default="latex",
        help="output format (default latex)",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    return parser


def _add_size_arguments(parser: argparse.ArgumentParser, default_classes: int | None) -> None:
    """--classes (required when there is no default), --features and --label."""
    from derive import MAX_CLASSES, MAX_FEATURES

    parser.add_argument(
        "--classes", "-K", type=_integer, metavar="K",
        required=default_classes is None, default=default_classes,
        help=f"number of classes, 2..{MAX_CLASSES}"
        + (f" (default {default_classes})" if default_classes else ""),
    )
    parser.add_argument(
        "--features", "-D", type=_integer, default=2, metavar="D",
        help=f"number of features, 1..{MAX_FEATURES} (default 2)",
    )
    parser.add_argument(
        "--label", "-y", type=_integer, default=0, metavar="Y",
        help="the sample's true class, 0-based (default 0)",
    )


def build_docs_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive docs",
        description="Write the documentation of the verified derivation: a Markdown page, "
        "the same page as one offline HTML file with MathML, and plots. The files are "
        "written together or not at all, and the same arguments give the same bytes. "
        "Needs the docs extra: pip install 'derive[docs]'.",
        epilog="Exit status: 0 written and all proven, 1 written but something not proven, "
        "2 bad input, 3 not written (no file changed; or the docs extra is missing; "
        "or the files are written but standard output failed), "
        "141 standard output closed early (e.g. by head), silently.",
    )
    _add_size_arguments(parser, default_classes=3)
    parser.add_argument("--out", default="docs", metavar="DIR", help="output folder (default docs)")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv``; return the exit status.

    The one place where output is written and errors become one-line messages.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command: Callable[[list[str]], tuple[str, int]]
    if argv[:1] == ["docs"]:
        prog, command, argv = "derive docs", _docs, argv[1:]
    else:
        prog, command = "derive", _derive
    try:
        text, status = command(argv)
        _clear_progress()
    except _Finished as finished:
        text, status = finished.args[0], EXIT_PROVEN
    except CommandError as error:
        _clear_progress()
        return _fail(prog, str(error), error.status)
    try:
        if sys.stdout is None:  # started with standard output closed (`>&-`)
            raise OSError("standard output is closed")
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        return EXIT_CLOSED_PIPE
    except (OSError, UnicodeError) as error:
        return _fail(prog, f"cannot write to standard output: {_reason(error)}", EXIT_NOT_WRITTEN)
    return status


def _clear_progress() -> None:
    """Erase the progress line, if one was drawn, before the result or an error is written."""
    for progress in Progress.drawn:
        progress.clear()
    Progress.drawn.clear()


def _derive(argv: list[str]) -> tuple[str, int]:
    """``derive``: the derivation as LaTeX or JSON, and its exit status."""
    from derive.report.latex import derivation_json, rows_status

    args, derivation = _parse(build_parser(), argv)
    if args.format == "json":
        document = derivation_json(derivation, steps=args.steps)
        text, status = json.dumps(document, indent=2), document["status"]
    else:
        text = derivation.to_latex(steps=args.steps)
        status = derivation.verify().status if args.steps else rows_status(derivation.row_verdicts)
    return text + "\n", EXIT_PROVEN if status == "proven" else EXIT_NOT_PROVEN


def run_docs(argv: Sequence[str]) -> int:
    """``derive docs``: write the documentation; return the exit status."""
    return run(["docs", *argv])


def _docs(argv: list[str]) -> tuple[str, int]:
    """``derive docs``: write the files; the list of paths, and the exit status."""
    args, derivation = _parse(build_docs_parser(), argv)
    write_docs = _import_write_docs()
    try:
        paths = write_docs(args.out, derivation)
    except Exception as error:  # one line, no traceback; nothing was changed on disk
        raise CommandError(f"nothing written to {args.out}: {_reason(error)}", EXIT_NOT_WRITTEN) from None
    text = "".join(f"{path}\n" for path in paths)
    return text, EXIT_PROVEN if derivation.verify() else EXIT_NOT_PROVEN


def _import_write_docs():
    """``write_docs``, or a CommandError naming the extra when its modules are missing."""
    try:
        from derive.report.docs import write_docs
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in DOCS_EXTRA:
            raise
        raise CommandError(
            f"the docs extra is not installed (no module {missing!r}); "
            "install it with: pip install 'derive[docs]'",
            EXIT_NOT_WRITTEN,
        ) from None
    return write_docs


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]):
    """``(args, derivation)``; bad input raises a CommandError with the bad-input status."""
    from derive import ModelInputError, softmax_cross_entropy

    try:
        args = parser.parse_args(argv)
        derivation = softmax_cross_entropy(args.classes, features=args.features, label=args.label)
    except (UsageError, ModelInputError) as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None
    if sys.stderr is not None and sys.stderr.isatty():
        derivation.progress = Progress(parser.prog, sys.stderr)
    return args, derivation


class Progress:
    """One status line on a terminal, rewritten in place (``\r``) and erased when done.

    Only attached when standard error is a terminal: piped or redirected, derive is silent.
    """

    drawn: list["Progress"] = []

    def __init__(self, prog: str, stream):
        self.prog, self.stream, self.width = prog, stream, 0
        Progress.drawn.append(self)

    def __call__(self, line: str) -> None:
        text = f"{self.prog}: {line}"[:79]
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def clear(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _reason(error: Exception) -> str:
    """An OSError's bare reason ("No space left on device"), else the error's text."""
    return error.strerror if isinstance(error, OSError) and error.strerror else str(error)


def _fail(prog: str, message: str, status: int) -> int:
    """Print ``prog: error: message`` as one line on stderr; return ``status``."""
    try:
        print(f"{prog}: error: {' '.join(message.splitlines())}", file=sys.stderr, flush=True)
    except (OSError, AttributeError):  # stderr is unusable too: the status still says it
        pass
    return status


def _settle(stream) -> None:
    """Flush ``stream``; if it cannot take what is left, point it at the null device.

    Otherwise the interpreter's own flush at exit would fail again, print
    "Exception ignored ..." and replace the exit status with 120.
    """
    if stream is None:
        return
    try:
        stream.flush()
    except (OSError, ValueError):
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):
            pass


def main() -> None:
    """Console entry point."""
    status = run()
    _settle(sys.stdout)
    _settle(sys.stderr)
    sys.exit(status)
