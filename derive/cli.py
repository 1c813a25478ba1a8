"""The ``derive`` command: parse arguments, print, choose the exit status.

``derive --classes K ...`` prints the verified derivation (``--loss NAME`` any
document of the catalog); ``derive check PATH...`` checks derivation documents (files, or
folders of them; ``--format sarif`` for code scanning);
``derive list`` names the catalog; ``derive docs ...`` writes the documentation
and lists the files written; ``derive check-impl FILE.py:FUNCTION`` judges a
user's implementation of a loss and its gradient; ``derive check-accum
FILE.py:STEP`` judges a gradient-accumulation step against the full batch's
gradient; ``derive --loss NAME --all-sizes`` prints the proof, for every size, of
the closed form it is judged by.

Every command returns its whole standard output as one text, and :func:`run`
writes it in one place; every error, whatever the command, is raised as a
:class:`CommandError` and printed there as one line on stderr
(``derive: error: ...`` or ``derive docs: error: ...``), never a traceback.

Exit status:

* 0 -- everything printed is proven (``derive docs``: and the files are written;
  ``derive check-impl``: the implementation is correct);
* 1 -- something is refuted or unproven (the output is still complete;
  ``derive check-impl``: the implementation is wrong, unstable or crashed, or
  derive's oracle failed its own spot check, "unproven");
* 2 -- bad input: the arguments, a model outside the bounds, or a document that
  cannot be read (then the message is followed by the offending line and a caret);
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
import gc
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_PROVEN, EXIT_NOT_PROVEN, EXIT_BAD_INPUT, EXIT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE, as a shell reports for `cat ... | head`
MAX_DIGITS = 100  # longer "integers" are rejected before int() sees them
DOCS_EXTRA = ("matplotlib",)  # pyproject.toml's `docs` extra, needed by derive docs only
STATUS_HELP = (
    "Exit status: 0 all proven, 1 something refuted or unproven, 2 bad input, "
    "3 output not written (e.g. standard output full or unable to encode it), "
    "141 standard output closed early (e.g. by head), silently."
)


class CommandError(Exception):
    """An error that ends the command: a one-line message, the exit status, and optionally
    lines that show where (a document's offending line and a caret)."""

    def __init__(self, message: str, status: int, detail: str = ""):
        super().__init__(message)
        self.status, self.detail = status, detail


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
        "with SymPy and print it as LaTeX; with --loss, any loss of the catalog.",
        epilog="Other commands: 'derive check FILE...' checks your own derivation written in "
        "Markdown and LaTeX; 'derive check-impl FILE.py:FUNCTION' judges your code's loss and "
        "gradient; 'derive check-accum FILE.py:STEP' a gradient-accumulation step; "
        "'derive list' names the catalog; 'derive docs' writes the "
        "documentation. Each has --help. " + STATUS_HELP,
    )
    parser.add_argument(
        "--loss", default=None, metavar="NAME",
        help="a loss of the catalog ('derive list'); default softmax-cross-entropy, the seed",
    )
    _add_size_arguments(parser, default_classes=None)
    parser.add_argument(
        "--samples", "-N", type=_integer, default=None, metavar="N",
        help="number of samples, for a catalog loss with a batch (1..16)",
    )
    parser.add_argument(
        "--steps", action="store_true",
        help="also verify and print the seed's step-by-step route and the extra facts",
    )
    parser.add_argument(
        "--all-sizes", action="store_true",
        help="print the proof, for symbolic N, D and K, of the loss's batch closed form "
        "(the oracle of 'derive check-impl'), lemma by lemma",
    )
    parser.add_argument(
        "--format", choices=("latex", "json"), default="latex",
        help="output format (default latex)",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    return parser


def _add_size_arguments(parser: argparse.ArgumentParser, default_classes: int | None) -> None:
    """--classes (required when there is no default), --features and --label."""
    from derive.losses.bounds import MAX_CLASSES, MAX_FEATURES

    parser.add_argument(
        "--classes", "-K", type=_integer, metavar="K", default=default_classes,
        help=f"number of classes, 2..{MAX_CLASSES}"
        + (f" (default {default_classes})" if default_classes else
           " (required for the seed's derivation; --loss NAME alone checks NAME's document at "
           "its own sizes)"),
    )
    parser.add_argument(
        "--features", "-D", type=_integer, default=None, metavar="D",
        help=f"number of features, 1..{MAX_FEATURES} (default 2)",
    )
    parser.add_argument(
        "--label", "-y", type=_integer, default=None, metavar="Y",
        help="the sample's true class, 0-based (default 0)",
    )


def build_check_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive check",
        description="Check derivation documents: Markdown with LaTeX math, written as on paper "
        "(the format is docs/format.md; 'derive docs' writes it). Every step is checked at "
        "several sizes, every label and every index; the first wrong step is named with its "
        "file:line:column, a counterexample and, where one small edit would fix it, the mistake.",
        epilog="A folder is searched for *.md files (recursively, sorted; hidden folders, "
        "node_modules, __pycache__, site-packages and virtual environments skipped). Several "
        "documents are listed one line each (the first wrong step's file:line:column, what "
        "refutes it and the named mistake), then a total; one that cannot be read does not "
        "stop the others. A Markdown file without display math ($$ or \\[) is no derivation "
        "(a README): it is listed as skipped and counted apart, and fails nothing. "
        "Exit status (the highest that applies): 2 a document cannot be read (the message "
        "gives file:line:column; for one document, the line and a caret), 1 a step refuted or "
        "unproven, 0 every document proven (or skipped); 3 output not written, 141 standard "
        "output closed early, silently.",
    )
    parser.add_argument("files", nargs="+", metavar="PATH",
                        help="a document, a folder of documents, or - for standard input")
    parser.add_argument("--format", choices=("text", "json", "sarif"), default="text",
                        help="output format (default text; json's schema is in docs/format.md; "
                        "sarif: SARIF 2.1.0 for code scanning, e.g. GitHub's, each refuted or "
                        "unproven step and unreadable document on its line)")
    parser.add_argument("--time-limit", type=_seconds, default=10.0, metavar="S",
                        help="seconds the verifier may spend on one entry (default 10)")
    parser.add_argument("--explain", action="store_true",
                        help="first list what was read: every size, declaration, assumption, constraint "
                        "and definition, with its line (the JSON always has it, as \"reading\")")
    return parser


def build_check_impl_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive check-impl",
        description="Judge your implementation of a loss and its gradient: call it at random "
        "inputs of the sizes given and at extreme scores (about 1e3), and compare its loss and "
        "every gradient entry with the exact gradient, whose closed form is proven for every "
        "size ('derive --loss NAME --all-sizes'). Names the usual mistakes (missing 1/N, "
        "reg W for 2 reg W, a transposed gradient, the indicator on the wrong row, a missing "
        "bias gradient, no max-shift, float32 precision, changed arguments). NOTE: this imports "
        "FILE.py and calls your function, so it runs your code, as 'python FILE.py' would; the "
        "calls run in a child process, each within --time-limit seconds.",
        epilog="Conventions: NumPy fn(W, X, y, reg) -> (loss, dW), with a bias "
        "fn(W, b, X, y, reg) -> (loss, dW, db), reg optional; PyTorch the same parameters "
        "returning the loss tensor (its autograd gradient is judged). Losses: "
        "softmax-cross-entropy, multiclass-svm (W is D x K or K x D), logistic-regression, "
        "mean-squared-error (w has D entries). Exit status: 0 correct, 1 wrong, numerically "
        "unstable, imprecise, incomplete or crashed, 2 bad input (no such file or function, "
        "bad options, an import that fails or overruns), 3 output not written, 130 interrupted "
        "(Ctrl-C), 141 standard output closed early, silently.",
    )
    parser.add_argument("target", metavar="FILE.py:FUNCTION", help="the function to judge")
    parser.add_argument("--loss", default="softmax-cross-entropy", metavar="NAME",
                        help="the catalog loss it implements (default softmax-cross-entropy)")
    parser.add_argument("--doc", default=None, metavar="FILE.md",
                        help="a proven per-sample derivation document as the oracle instead: "
                        "its loss of one sample's scores and its boxed gradient by them")
    parser.add_argument("--set", action="append", type=_assignment, default=None,
                        metavar="NAME=VALUE", dest="values",
                        help="a value of the document's parameter (repeatable), e.g. epsilon=0.1")
    parser.add_argument("--samples", "-N", type=_integer, default=None, metavar="N",
                        help="samples per input (default 100)")
    parser.add_argument("--features", "-D", type=_integer, default=None, metavar="D",
                        help="features (default 30)")
    parser.add_argument("--classes", "-K", type=_integer, default=None, metavar="K",
                        help="classes (default 10; 1 for the one-score losses)")
    parser.add_argument("--reg", type=_number, default=None, metavar="R",
                        help="the penalty passed to the function (default 0.1 when it takes one)")
    parser.add_argument("--dtype", choices=("float64", "float32", "bfloat16", "float16"),
                        default=None, help="the dtype of the inputs (default float64; "
                        "lm-cross-entropy: float32, and bfloat16, float16 too)")
    parser.add_argument("--layout", choices=("DxK", "KxD"), default=None,
                        help="W's shape (default: told from which one the function accepts)")
    parser.add_argument("--bias", action=argparse.BooleanOptionalAction, default=None,
                        help="whether the second parameter is a bias (default: when it is named "
                        "b, bias or c)")
    parser.add_argument("--framework", choices=("numpy", "torch"), default=None,
                        help="call with NumPy arrays or torch tensors (default: torch when the "
                        "file imports torch)")
    parser.add_argument("--weight-scale", type=_number, default=None, metavar="S",
                        help="standard deviation of the random weights (default 2/sqrt(D))")
    parser.add_argument("--trials", type=_integer, default=3, metavar="T",
                        help="random inputs, besides the extreme one (default 3)")
    parser.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="seed of the random inputs (default 0)")
    parser.add_argument("--time-limit", type=_seconds, default=None, metavar="S",
                        help="seconds the import and each call of the function may take; past "
                        "them it is 'crashed' (default 60)")
    _add_memory_argument(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default text; json's schema is in the README)")
    _add_lm_arguments(parser)
    return parser


def _add_lm_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--loss lm-cross-entropy`` (a language-model head, PyTorch)."""
    group = parser.add_argument_group(
        "--loss lm-cross-entropy", "fn(logits, target, ...) -> loss or fn(hidden, weight, target, "
        "bias=None, ...) -> loss (PyTorch), or an nn.Module; an option the function takes is "
        "judged at several values unless given here; one it does not take, given here, is what "
        "it computes. Exit status 0 only when correct and as accurate as plain same-dtype "
        "PyTorch (the baseline); the calls run on a thread of this process.")
    group.add_argument("--form", choices=("logits", "fused-linear"), default=None,
                       help="the calling form (default: fused-linear when the second parameter "
                       "is named weight, w or lm_head)")
    group.add_argument("--hidden", "-H", type=_integer, default=None, metavar="H",
                       help="hidden size of the fused linear form (default 12)")
    group.add_argument("--vocab", "-V", type=_integer, default=None, metavar="V",
                       help="vocabulary size (default 40)")
    group.add_argument("--reduction", choices=("mean", "sum", "none"), default=None,
                       help="the reduction judged (default: each one the function takes)")
    group.add_argument("--ignore-index", type=_integer, default=None, metavar="I",
                       help="the ignored target id (default -100, and 0 too)")
    group.add_argument("--label-smoothing", type=_number, default=None, metavar="EPS",
                       help="label smoothing (default 0.2 where the function takes it)")
    group.add_argument("--z-loss", type=_number, default=None, metavar="Z",
                       help="z-loss weight, z logsumexp^2 (default 0.05 where taken)")
    group.add_argument("--softcap", type=_number, default=None, metavar="C",
                       help="logit softcap, C tanh(s / C) (default 5 where taken)")
    group.add_argument("--device", choices=("cpu", "cuda"), default=None,
                       help="where the function's tensors are made (default cpu; cuda needs a "
                       "GPU on this machine)")


def build_check_accum_parser() -> argparse.ArgumentParser:
    from derive.implementation.lm.accumulation import DEFAULT_MICRO_BATCHES, DEFAULT_SIZES

    parser = _Parser(
        prog="derive check-accum",
        description="Judge a gradient-accumulation step (PyTorch): step(model, micro_batches) "
        "gets model = torch.nn.Linear(H, V) and a list of (inputs, targets) micro-batches with "
        "unequal numbers of non-ignored tokens, and must leave the full batch's gradient in "
        "model.weight.grad and model.bias.grad (it may return the loss it would log). Compared "
        "entry by entry with the exact gradient of the full batch, within tolerances derived "
        "for --dtype; names the per-micro-batch mean (the Hugging Face bug), the number of "
        "micro-batches missing, dividing twice by the token count, gradients zeroed inside the "
        "loop, ignored tokens counted. NOTE: this imports FILE.py and calls your function, so "
        "it runs your code; the calls run on a thread of this process, each within "
        "--time-limit seconds.",
        epilog="Exit status: 0 correct, 1 wrong, numerically unstable or crashed, 2 bad input "
        "(no such file or function, bad options, an import that fails or overruns), 3 output "
        "not written, 130 interrupted (Ctrl-C), 141 standard output closed early, silently.",
    )
    parser.add_argument("target", metavar="FILE.py:STEP", help="the step to judge")
    parser.add_argument("--samples", "-N", type=_integer, default=None, metavar="N",
                        help=f"tokens of all micro-batches together (default "
                        f"{DEFAULT_SIZES['samples']})")
    parser.add_argument("--hidden", "-H", type=_integer, default=None, metavar="H",
                        help=f"the model's input size (default {DEFAULT_SIZES['hidden']})")
    parser.add_argument("--vocab", "-V", type=_integer, default=None, metavar="V",
                        help=f"vocabulary size (default {DEFAULT_SIZES['vocab']})")
    parser.add_argument("--micro-batches", "-M", type=_integer, default=DEFAULT_MICRO_BATCHES,
                        metavar="M", help=f"micro-batches (default {DEFAULT_MICRO_BATCHES})")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16", "float64"),
                        default="float32", help="the model's and inputs' dtype (default float32)")
    parser.add_argument("--reduction", choices=("mean", "sum"), default=None,
                        help="mean over the non-ignored tokens of all micro-batches, or their "
                        "sum (default mean; passed when the step takes reduction)")
    parser.add_argument("--ignore-index", type=_integer, default=None, metavar="I",
                        help="the ignored target id (default -100; a step that takes "
                        "ignore_index is also judged with 0, a pad id)")
    parser.add_argument("--seed", type=_seed, default=0, metavar="S",
                        help="seed of the random inputs (default 0)")
    parser.add_argument("--time-limit", type=_seconds, default=None, metavar="S",
                        help="seconds the import and each call of the step may take; past them "
                        "it is 'crashed' (default 60)")
    _add_memory_argument(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default text; json's schema is in "
                        "derive/report/accumulation.py)")
    return parser


def _add_memory_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-memory", type=_number, default=None, metavar="GiB",
                        help="the memory the check itself may hold; larger sizes are refused "
                        "(default half of this machine's physical memory)")


def _assignment(text: str) -> tuple[str, float]:
    """``NAME=VALUE``: a parameter's name and a finite number (float() of the text, no eval)."""
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), _number(value.strip())


def _seed(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed >= 0, got {text!r}")
    return value


def _number(text: str) -> float:
    """A finite decimal number (float() of the text, no eval)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def build_list_parser() -> argparse.ArgumentParser:
    return _Parser(prog="derive list", description="Name the losses of the catalog: each is a "
                   "derivation document shipped with derive, checked in its tests; "
                   "'derive --loss NAME' prints one.")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and 3600, got {text!r}")
    return value


def build_docs_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="derive docs",
        description="Write the documentation of the verified derivation: a Markdown page, "
        "the same page as one offline HTML file with MathML, and plots. The files are "
        "written together or not at all, and the same arguments give the same bytes. "
        "With FILE.md (or folders of them): the pages of your own derivation documents "
        "instead, each checked step by step as by 'derive check', and their index. "
        "Needs the docs extra: pip install 'derive[docs]'.",
        epilog="Exit status: 0 written and all proven, 1 written but something not proven, "
        "2 bad input (a document that cannot be read: nothing written), 3 not written (no file "
        "changed; or the docs extra is missing; "
        "or the files are written but standard output failed), "
        "141 standard output closed early (e.g. by head), silently.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="your own derivation documents (.md files or folders of them): one "
                        "page each, named after its file, and index.html")
    _add_size_arguments(parser, default_classes=3)
    parser.set_defaults(classes=None)  # 3 for the seed's page; given with FILE, an error
    parser.add_argument("--format", choices=("html", "latex"), default="html",
                        help="html (default): Markdown and offline HTML pages; latex: with FILE, "
                        "one standalone .tex per document (pdflatex with amsmath, amssymb)")
    parser.add_argument("--out", default="docs", metavar="DIR", help="output folder (default docs)")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv``; return the exit status.

    The one place where output is written and errors become one-line messages.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    command: Callable[[list[str]], tuple[str, int]]
    commands = {"docs": _docs, "check": _check, "check-impl": _check_impl,
                "check-accum": _check_accum, "list": _list}
    if argv[:1] and argv[0] in commands:
        prog, command, argv = f"derive {argv[0]}", commands[argv[0]], argv[1:]
    else:
        prog, command = "derive", _derive
    try:
        text, status = command(argv)
        _clear_progress()
    except _Finished as finished:
        text, status = finished.args[0], EXIT_PROVEN
    except CommandError as error:
        _clear_progress()
        return _fail(prog, str(error), error.status, error.detail)
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
    parser = build_parser()
    args = _arguments(parser, argv)
    from derive.catalog import SEED  # after parsing: --help loads no more than the parser

    if args.all_sizes:
        return _all_sizes(args)
    if args.loss not in (None, SEED):
        return _catalog_loss(args)
    if args.loss == SEED and args.classes is None:  # its document, at the sizes it is checked at
        if args.label is not None:
            raise CommandError("--label needs --classes (the seed's derivation at one size)",
                               EXIT_BAD_INPUT)
        return _catalog_loss(args)
    if args.samples is not None:
        raise CommandError("--samples applies to a catalog loss with a batch, not to the seed", EXIT_BAD_INPUT)
    if args.classes is None:
        raise CommandError("the following arguments are required: --classes/-K", EXIT_BAD_INPUT)
    derivation = _derivation(parser, args)
    from derive.report.latex import derivation_json, rows_status

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


def _catalog_loss(args) -> tuple[str, int]:
    """``derive --loss NAME``: the catalog document checked, at the sizes given."""
    from derive.catalog import UnknownLossError, entry
    from derive.document import DocumentError, check_document
    from derive.report.document import document_json, document_latex

    if args.label is not None:
        raise CommandError("--label applies to the seed; a catalog loss is checked at every label",
                           EXIT_BAD_INPUT)
    try:
        found = entry(args.loss)
    except UnknownLossError as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None
    fixed = {name: value for name, value in (("K", args.classes), ("D", args.features), ("N", args.samples))
             if value is not None}
    progress = _progress_for("derive")
    try:
        checked = check_document(found.path, sizes=fixed, progress=progress and _step_progress(progress, found.name))
    except DocumentError as error:
        raise CommandError(error.message, EXIT_BAD_INPUT) from None
    if args.format == "json":
        text = json.dumps(document_json(checked), indent=2)
    else:
        text = document_latex(checked, found.name, steps=args.steps)
    return text + "\n", EXIT_PROVEN if checked.status == "proven" else EXIT_NOT_PROVEN


def _all_sizes(args) -> tuple[str, int]:
    """``derive --loss NAME --all-sizes``: the closed form's proof for symbolic sizes."""
    from derive.catalog import SEED, UnknownLossError
    from derive.oracle.batch import canonical_name
    from derive.oracle.proof import all_sizes_proof
    from derive.report.all_sizes import all_sizes_json, all_sizes_text

    given = [option for option, value in (("--classes", args.classes), ("--features", args.features),
                                          ("--samples", args.samples), ("--label", args.label))
             if value is not None] + (["--steps"] if args.steps else [])
    if given:
        raise CommandError(f"--all-sizes proves the closed form for symbolic sizes: drop "
                           f"{', '.join(given)}", EXIT_BAD_INPUT)
    try:
        proof = all_sizes_proof(canonical_name(args.loss or SEED))
    except (UnknownLossError, ValueError) as error:
        raise CommandError(_message(error), EXIT_BAD_INPUT) from None
    if args.format == "json":
        text = json.dumps(all_sizes_json(proof), indent=2)
    else:
        text = all_sizes_text(proof)
    return text + "\n", EXIT_PROVEN if proof.proven else EXIT_NOT_PROVEN


def _check_impl(argv: list[str]) -> tuple[str, int]:
    """``derive check-impl``: load the function, judge it, print the report."""
    args = _arguments(build_check_impl_parser(), argv)  # before the imports: --help is quick
    from derive.implementation import check_implementation
    from derive.implementation.check import DEFAULT_TIME_LIMIT
    from derive.report.implementation import implementation_json, implementation_text

    progress = _progress_for("derive check-impl")
    time_limit = DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit
    if args.loss == LM_LOSS:
        return _check_impl_lm(args, progress, time_limit)
    _refuse_options(args, _LM_OPTIONS, args.loss)
    if args.dtype not in (None, "float64", "float32"):
        raise CommandError(f"argument --dtype: invalid choice: {args.dtype!r} (float64 or "
                           f"float32; bfloat16 and float16 with --loss {LM_LOSS})", EXIT_BAD_INPUT)
    return _judged(args, time_limit, lambda fn: check_implementation(
        fn, args.loss, samples=args.samples, features=args.features, classes=args.classes,
        reg=args.reg, dtype=args.dtype or "float64", layout=args.layout, bias=args.bias,
        framework=args.framework, weight_scale=args.weight_scale, trials=args.trials,
        seed=args.seed, time_limit=time_limit, isolate=True, progress=progress, doc=args.doc,
        values=_values(args.values), memory=args.max_memory),
        implementation_json, implementation_text)


def _judged(args, time_limit: float, judge, as_json, as_text) -> tuple[str, int]:
    """Load ``args.target``, ``judge`` it and print the report (``as_json`` or ``as_text``):
    what check-impl and check-accum share.  What the judged code prints, even to descriptor 1,
    goes to stderr: stdout carries the report (or its JSON)."""
    from derive.catalog import UnknownLossError
    from derive.implementation.conventions import ConventionError
    from derive.implementation.loader import LoadError, load_function, stdout_to_stderr

    try:
        with stdout_to_stderr():
            report = judge(load_function(args.target, time_limit=time_limit))
    except (LoadError, ConventionError, UnknownLossError, ValueError) as error:
        raise CommandError(_message(error), EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:  # Ctrl-C (the judged code's own ones are its verdict)
        raise CommandError("interrupted", 130) from None
    if args.format == "json":
        text = json.dumps(as_json(report), indent=2)
    else:
        text = as_text(report, source=args.target.rpartition(":")[0])
    return text + "\n", EXIT_PROVEN if report.ok else EXIT_NOT_PROVEN

LM_LOSS = "lm-cross-entropy"
#: check-impl's options (and where argparse keeps them) that only the batch losses, and only the
#: language-model loss, read: given to the other, each is an error, never ignored.
_BATCH_OPTIONS = (("--features", "features"), ("--classes", "classes"), ("--reg", "reg"),
                  ("--layout", "layout"), ("--bias", "bias"), ("--framework", "framework"),
                  ("--weight-scale", "weight_scale"), ("--doc", "doc"), ("--set", "values"))
_LM_OPTIONS = (("--form", "form"), ("--hidden", "hidden"), ("--vocab", "vocab"),
               ("--reduction", "reduction"), ("--ignore-index", "ignore_index"),
               ("--label-smoothing", "label_smoothing"), ("--z-loss", "z_loss"), ("--softcap", "softcap"),
               ("--device", "device"))


def _refuse_options(args, options, loss: str) -> None:
    """Exit status 2 when any of ``options`` was given: none of them applies to ``loss``."""
    given = [option for option, dest in options if getattr(args, dest) is not None]
    if given:
        raise CommandError(f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply to {loss}"
                           + (" (its sizes are -N, -H, -V)" if loss == LM_LOSS else
                              f" (only to --loss {LM_LOSS})"), EXIT_BAD_INPUT)


def _check_impl_lm(args, progress, time_limit: float) -> tuple[str, int]:
    """``derive check-impl FILE.py:FN --loss lm-cross-entropy``: judge a language-model head."""
    from derive.implementation.lm import check_lm_implementation
    from derive.report.lm import lm_json, lm_text

    _refuse_options(args, _BATCH_OPTIONS, LM_LOSS)
    return _judged(args, time_limit, lambda fn: check_lm_implementation(
        fn, kind=args.form, samples=args.samples, hidden=args.hidden, vocab=args.vocab,
        dtype=args.dtype or "float32", reduction=args.reduction, ignore_index=args.ignore_index,
        label_smoothing=args.label_smoothing, z_loss=args.z_loss, softcap=args.softcap,
        seed=args.seed, time_limit=time_limit, memory=args.max_memory, progress=progress,
        device=args.device or "cpu"), lm_json, lm_text)


def _check_accum(argv: list[str]) -> tuple[str, int]:
    """``derive check-accum FILE.py:STEP``: load the step, judge it, print the report."""
    from derive.implementation.check import DEFAULT_TIME_LIMIT
    from derive.implementation.lm import check_accumulation
    from derive.report.accumulation import accumulation_json, accumulation_text

    args = _arguments(build_check_accum_parser(), argv)
    progress = _progress_for("derive check-accum")
    time_limit = DEFAULT_TIME_LIMIT if args.time_limit is None else args.time_limit
    return _judged(args, time_limit, lambda fn: check_accumulation(
        fn, samples=args.samples, hidden=args.hidden, vocab=args.vocab,
        micro_batches=args.micro_batches, dtype=args.dtype, reduction=args.reduction,
        ignore_index=args.ignore_index, seed=args.seed, time_limit=time_limit,
        memory=args.max_memory, progress=progress), accumulation_json, accumulation_text)


def _values(pairs) -> dict[str, float]:
    """``--set`` pairs as a dict; a name given twice is an error."""
    values: dict[str, float] = {}
    for name, value in pairs or ():
        if name in values:
            raise CommandError(f"--set {name} is given twice", EXIT_BAD_INPUT)
        values[name] = value
    return values


def _message(error: Exception) -> str:
    """An exception's message without the quotes KeyError puts around it."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


def _check(argv: list[str]) -> tuple[str, int]:
    """``derive check``: every document's verdict, and the exit status.

    One document is reported whole (one that cannot be read is a one-line error); several, or
    a folder's, one line each and a total.  ``--format sarif`` is always a SARIF log.
    """
    args = _arguments(build_check_parser(), argv)  # before the reader is imported: --help stays light
    from derive.document.collect import NoDocumentsError, check_each, documents_under

    try:
        paths = documents_under(args.files)
    except NoDocumentsError as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None
    progress = _progress_for("derive check")
    named = _named(args.files)
    outcomes = check_each(paths, time_limit=args.time_limit, stdin=sys.stdin,
                          progress=progress and _document_progress(progress), named=named)
    several = len(paths) > 1 or len(named) < len(args.files)  # a folder is listed line by line
    if args.format == "sarif":
        from derive.report.sarif import sarif_log

        text = json.dumps(sarif_log(outcomes), indent=2)
    elif several:
        text = _several_text(outcomes, args)
    else:
        text = _one_text(outcomes[0], args)
    return text + "\n", _check_status(outcomes)


def _named(paths: list[str]) -> list[str]:
    """The paths given one by one, not as a folder to search."""
    return [path for path in paths if path == "-" or not os.path.isdir(path)]


def _one_text(outcome, args) -> str:
    """One document's whole report; one that cannot be read is a one-line error."""
    from derive.report.document import outcome_json, reading_text, summary_line

    error = outcome.error
    if error is not None:
        detail = str(error).partition("\n")[2]
        raise CommandError(f"{error.location}: {error.message}", EXIT_BAD_INPUT, detail)
    if args.format == "json":
        return json.dumps(outcome_json(outcome), indent=2)
    if outcome.check is None:  # skipped
        return summary_line(outcome)
    report = str(outcome.check)
    return reading_text(outcome.check) + "\n\n" + report if args.explain else report


def _several_text(outcomes, args) -> str:
    """Several documents: a JSON list, or one line each and the total (after each one's
    reading, with --explain)."""
    from derive.report.document import outcome_json, reading_text, summary_line, summary_total

    if args.format == "json":
        return json.dumps([outcome_json(outcome) for outcome in outcomes], indent=2)
    readings = [reading_text(o.check) + "\n\n" for o in outcomes if args.explain and o.check is not None]
    return "".join(readings) + "\n".join([summary_line(o) for o in outcomes] + [summary_total(outcomes)])


def _check_status(outcomes) -> int:
    """2 when a document cannot be read, else 1 when one is refuted or unproven, else 0 (a
    skipped document, no derivation, counts as neither)."""
    statuses = {outcome.status for outcome in outcomes}
    if "unreadable" in statuses:
        return EXIT_BAD_INPUT
    return EXIT_NOT_PROVEN if statuses & {"refuted", "unproven"} else EXIT_PROVEN


def _document_progress(progress):
    """Progress of several documents: which one, and its steps."""
    return lambda path, number, count: _step_progress(
        progress, path if count == 1 else f"{path} ({number + 1} of {count})")


def _step_progress(progress, name: str):
    return lambda i, n: progress(f"{Path(name).name}: step {min(i + 1, n)} of {n}")


def _list(argv: list[str]) -> tuple[str, int]:
    """``derive list``: the catalog's names, titles and summaries."""
    from derive.catalog import entry, names

    _arguments(build_list_parser(), argv)
    lines = []
    for name in names():
        found = entry(name)
        lines.append(f"{name:<30} {found.title}")
        if found.summary:
            lines.append(f"{'':<30} {found.summary}")
    return "\n".join(lines) + "\n", EXIT_PROVEN


def _docs(argv: list[str]) -> tuple[str, int]:
    """``derive docs``: write the files; the list of paths, and the exit status."""
    parser = build_docs_parser()
    args = _arguments(parser, argv)
    if args.files:
        return _publish_notes(args)
    if args.format == "latex":
        raise CommandError("--format latex writes the pages of your own documents: name them "
                           "(derive docs FILE.md --format latex)", EXIT_BAD_INPUT)
    args.classes = 3 if args.classes is None else args.classes
    derivation = _derivation(parser, args)
    write_docs = _import_write_docs()
    checked: list = []
    try:
        paths = write_docs(args.out, derivation, checked)
    except Exception as error:  # one line, no traceback; nothing was changed on disk
        raise CommandError(f"nothing written to {args.out}: {_reason(error)}", EXIT_NOT_WRITTEN) from None
    text = "".join(f"{path}\n" for path in paths)
    proven = derivation.verify() and all(check.status == "proven" for _, check in checked)
    return text, EXIT_PROVEN if proven else EXIT_NOT_PROVEN


def _publish_notes(args) -> tuple[str, int]:
    """``derive docs FILE...``: check the user's documents, write their pages; the paths, and
    the exit status of ``derive check``."""
    from derive.document.collect import NoDocumentsError, check_each, documents_under

    if (args.classes, args.features, args.label) != (None, None, None):
        raise CommandError("--classes, --features and --label size the seed's page: a document "
                           "is checked at its own sizes", EXIT_BAD_INPUT)
    write_notes = _import_write_docs("write_notes")
    from derive.report.docs.notes import page_names

    try:
        paths = documents_under(args.files)
        page_names(paths)
    except (NoDocumentsError, ValueError) as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None
    progress = _progress_for("derive docs")
    named = _named(args.files)
    outcomes = check_each(paths, progress=progress and _document_progress(progress), named=named)
    for outcome in outcomes:
        if outcome.error is not None:
            detail = str(outcome.error).partition("\n")[2]
            raise CommandError(f"{outcome.error.location}: {outcome.error.message} (nothing written)",
                               EXIT_BAD_INPUT, detail)
        if outcome.check is None and outcome.path in named:
            raise CommandError(f"{outcome.path}: {outcome.skipped}: no page to write (nothing written)",
                               EXIT_BAD_INPUT)
    checks = [outcome.check for outcome in outcomes if outcome.check is not None]
    if not checks:
        raise CommandError(f"no derivation to publish: {', '.join(args.files)} "
                           "hold no display equations (nothing written)", EXIT_BAD_INPUT)
    for outcome in outcomes:
        if outcome.check is None:  # a folder's README, say: said, not silently dropped
            print(f"derive docs: {outcome.path}: skipped: {outcome.skipped}", file=sys.stderr)
    try:
        written = write_notes(args.out, checks, args.format)
    except Exception as error:  # one line, no traceback; nothing was changed on disk
        raise CommandError(f"nothing written to {args.out}: {_reason(error)}", EXIT_NOT_WRITTEN) from None
    proven = all(check.status == "proven" for check in checks)
    return "".join(f"{path}\n" for path in written), EXIT_PROVEN if proven else EXIT_NOT_PROVEN


def _import_write_docs(name: str = "write_docs"):
    """``derive.report.docs``'s writer ``name``, or a CommandError naming the extra when its
    modules are missing."""
    try:
        from derive.report import docs

        return getattr(docs, name)  # imported on first use (derive/report/docs/__init__.py)
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in DOCS_EXTRA:
            raise
        raise CommandError(
            f"the docs extra is not installed (no module {missing!r}); "
            "install it with: pip install 'derive[docs]'",
            EXIT_NOT_WRITTEN,
        ) from None


def _arguments(parser: argparse.ArgumentParser, argv: Sequence[str]):
    try:
        return parser.parse_args(argv)
    except UsageError as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None


def _derivation(parser: argparse.ArgumentParser, args):
    """The seed's derivation at the arguments' sizes; bad sizes raise a CommandError."""
    from derive import ModelInputError, softmax_cross_entropy

    features = 2 if args.features is None else args.features
    label = 0 if args.label is None else args.label
    try:
        derivation = softmax_cross_entropy(args.classes, features=features, label=label)
    except ModelInputError as error:
        raise CommandError(str(error), EXIT_BAD_INPUT) from None
    derivation.progress = _progress_for(parser.prog)
    return derivation


def _progress_for(prog: str) -> "Progress | None":
    """A progress line on standard error when it is a terminal; None when piped."""
    if sys.stderr is not None and sys.stderr.isatty():
        return Progress(prog, sys.stderr)
    return None


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


def _fail(prog: str, message: str, status: int, detail: str = "") -> int:
    """Print ``prog: error: message`` as one line on stderr (then ``detail``); return ``status``."""
    try:
        print(f"{prog}: error: {' '.join(message.splitlines())}", file=sys.stderr, flush=True)
        if detail:
            print(detail, file=sys.stderr, flush=True)
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
    # Everything is written: the collections at exit need not walk every object SymPy made
    # (about 0.08 s after a document's check; derive's output and exit status are unchanged).
    gc.freeze()
    sys.exit(status)
