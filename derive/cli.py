"""The ``derive`` command: parse arguments, print, choose the exit status.

``derive --classes K ...`` prints the verified derivation; ``derive docs ...``
writes its documentation.  Exit status: 0 when everything is proven, 1 when
anything is refuted or unproven, 2 for bad input, 3 when the documentation
could not be written (each error a one-line message on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

EXIT_PROVEN, EXIT_NOT_PROVEN, EXIT_BAD_INPUT, EXIT_NOT_WRITTEN = 0, 1, 2, 3
MAX_DIGITS = 100  # longer "integers" are rejected before int() sees them


class UsageError(Exception):
    """Bad command-line input; the message is printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage over two lines
        raise UsageError(message)


def _integer(text: str) -> int:
    """Parse a plain decimal integer (no eval, no underscores, no floats)."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(stripped)


def build_parser() -> argparse.ArgumentParser:
    from derive import __version__

    parser = _Parser(
        prog="derive",
        description="Verify the softmax cross-entropy gradient dL/dw_m = (p_m - 1[m = y]) x "
        "with SymPy and print it as LaTeX.",
        epilog="Run 'derive docs --help' for the documentation generator. "
        "Exit status: 0 all proven, 1 something refuted or unproven, 2 bad input.",
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
    parser.add_argument("--version", action="version", version=f"derive {__version__}")
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
        "written together or not at all, and the same arguments give the same bytes.",
        epilog="Exit status: 0 written and all proven, 1 written but something not proven, "
        "2 bad input, 3 not written.",
    )
    _add_size_arguments(parser, default_classes=3)
    parser.add_argument("--out", default="docs", metavar="DIR", help="output folder (default docs)")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv``; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["docs"]:
        return run_docs(argv[1:])
    from derive.report.latex import derivation_json, rows_status

    parsed = _parse(build_parser(), argv)
    if isinstance(parsed, int):
        return parsed
    args, derivation = parsed
    if args.format == "json":
        document = derivation_json(derivation, steps=args.steps)
        print(json.dumps(document, indent=2))
        status = document["status"]
    else:
        print(derivation.to_latex(steps=args.steps))
        status = derivation.verify().status if args.steps else rows_status(derivation.row_verdicts)
    return EXIT_PROVEN if status == "proven" else EXIT_NOT_PROVEN


def run_docs(argv: Sequence[str]) -> int:
    """``derive docs``: write the documentation; return the exit status."""
    parsed = _parse(build_docs_parser(), argv)
    if isinstance(parsed, int):
        return parsed
    args, derivation = parsed
    try:
        from derive.report.docs import write_docs

        paths = write_docs(args.out, derivation)
    except Exception as error:  # one line, no traceback; nothing was changed on disk
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"derive docs: error: nothing written to {args.out}: {reason}", file=sys.stderr)
        return EXIT_NOT_WRITTEN
    for path in paths:
        print(path)
    return EXIT_PROVEN if derivation.verify() else EXIT_NOT_PROVEN


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]):
    """``(args, derivation)``, or the bad-input exit status after a one-line message."""
    from derive import ModelInputError, softmax_cross_entropy

    try:
        args = parser.parse_args(argv)
        return args, softmax_cross_entropy(args.classes, features=args.features, label=args.label)
    except (UsageError, ModelInputError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def main() -> None:
    """Console entry point."""
    sys.exit(run())
