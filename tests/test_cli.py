"""The command line: golden output, exit statuses, the bad-input table, output failures.

Regenerate the golden files with ``python tests/test_cli.py`` and review the diff.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import derive
import derive.cli
from derive.cli import run

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_CASES = {
    "classes2.tex": ["--classes", "2"],
    "classes3.tex": ["--classes", "3"],
    "classes3-steps.tex": ["--classes", "3", "--steps"],
    "classes2.json": ["--classes", "2", "--format", "json"],
    "classes3.json": ["--classes", "3", "--format", "json"],
    "classes2-steps.json": ["--classes", "2", "--steps", "--format", "json"],
}


def call(args, out=None):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    out, err = out or io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = run(args)
        except SystemExit as exit_:  # --help and --version exit through argparse
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_output_matches_golden(name):
    status, out, err = call(GOLDEN_CASES[name])
    assert (status, err) == (0, "")
    assert out == (GOLDEN / name).read_text()


def test_json_has_the_documented_keys():
    status, out, _ = call(["--classes", "3", "--features", "1", "--label", "2", "--format", "json"])
    document = json.loads(out)
    assert status == 0
    assert {"status", "classes", "features", "label", "rows"} <= set(document)
    assert (document["classes"], document["features"], document["label"]) == (3, 1, 2)
    assert [row["row"] for row in document["rows"]] == [0, 1, 2]
    assert document["rows"][2]["latex"].endswith(r"\left(p_{2} - 1\right) x^{T}")
    assert {row["status"] for row in document["rows"]} == {"proven"}


def test_latex_is_one_align_block_with_verdict_comments():
    _, out, _ = call(["--classes", "4", "--label", "3"])
    lines = out.splitlines()
    assert lines.count(r"\begin{align*}") == 1 and lines[-1] == r"\end{align*}"
    row_comments = [line for line in lines if line.startswith("% row")]
    assert [line.split(" (")[0] for line in row_comments] == [f"% row {m}: proven" for m in range(4)]
    assert lines[-2] == r"\frac{\partial L}{\partial w_{3}} &= \left(p_{3} - 1\right) x^{T}"


def test_exit_status_1_when_a_row_is_refuted(monkeypatch):
    right = derive.SoftmaxCrossEntropy.closed_form
    monkeypatch.setattr(
        derive.SoftmaxCrossEntropy, "closed_form", lambda self, m: 2 * right(self, m)
    )
    status, out, _ = call(["--classes", "2"])
    assert status == 1
    assert "% verdict: refuted (0 of 2 rows proven)" in out
    assert "% row 0: refuted: dL/dw_{0,0}: at " in out
    status, out, _ = call(["--classes", "2", "--format", "json"])
    assert status == 1 and json.loads(out)["status"] == "refuted"


def test_exit_status_1_when_unproven(monkeypatch):
    import derive.core.verifier

    verifier = derive.core.verifier
    monkeypatch.setattr(verifier, "INSTANT", ())  # no strategy at all: nothing can be proven
    monkeypatch.setattr(verifier, "BEFORE_SEARCH", ())
    monkeypatch.setattr(verifier, "AFTER_SEARCH", ())
    status, out, _ = call(["--classes", "2", "--format", "json"])
    assert status == 1 and json.loads(out)["status"] == "unproven"


def test_the_seed_named_without_classes_is_its_document_at_its_own_sizes():
    """``--loss softmax-cross-entropy`` alone is checked like every other catalog loss; with
    ``--classes`` it is the seed's derivation at that size, as ``derive --classes K`` is."""
    status, out, _ = call(["--loss", "softmax-cross-entropy"])
    assert status == 0
    assert out.splitlines()[:2] == [
        "% derive: Softmax cross-entropy of a linear classifier (softmax-cross-entropy)",
        "% verdict: proven (14 proven, for every size)"]
    status, out, _ = call(["--loss", "softmax-cross-entropy", "--classes", "2"])
    assert status == 0 and out.startswith("% derive: softmax cross-entropy, K = 2 classes")


BAD_INPUT = [
    ([], "the following arguments are required: --classes"),
    (["--loss", "softmax-cross-entropy", "--label", "1"],
     "--label needs --classes (the seed's derivation at one size)"),
    (["--classes", "1"], "classes must be between 2 and 1000, got 1"),
    (["--classes", "1001"], "classes must be between 2 and 1000, got 1001"),
    (["--classes", "1000000000000"], "classes must be between 2 and 1000"),
    (["--classes", "99999999999999999999999"], "classes must be between 2 and 1000"),
    (["--classes", "9" * 101], "expected an integer"),
    (["--classes", "3.0"], "expected an integer, got '3.0'"),
    (["--classes", "three"], "expected an integer, got 'three'"),
    (["--classes", "__import__('os')"], "expected an integer"),
    (["--classes", "1e3"], "expected an integer"),
    (["--classes", ""], "expected an integer"),
    (["--classes", "3", "--features", "0"], "features must be between 1 and 16, got 0"),
    (["--classes", "3", "--features", "-2"], "features must be between 1 and 16, got -2"),
    (["--classes", "3", "--label", "3"], "label must be between 0 and 2 (0-based), got 3"),
    (["--classes", "3", "--label", "-1"], "label must be between 0 and 2 (0-based), got -1"),
    (["--classes", "3", "--format", "yaml"], "invalid choice: 'yaml'"),
    (["--classes", "3", "--bogus"], "unrecognized arguments: --bogus"),
    (["--classes"], "expected one argument"),
]


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_exits_2_with_one_line(args, message):
    status, out, err = call(args)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("derive: error: ")
    assert message in err
    assert "Traceback" not in err


def test_help_and_version():
    status, out, _ = call(["--help"])
    assert status == 0 and "--classes" in out and "Exit status" in out
    status, out, _ = call(["--version"])
    assert status == 0 and out.strip() == f"derive {derive.__version__}"


def test_python_dash_m_derive_runs_the_cli():
    process = subprocess.run(
        [sys.executable, "-m", "derive", "--classes", "2"], capture_output=True, text=True
    )
    assert process.returncode == 0
    assert process.stdout == (GOLDEN / "classes2.tex").read_text()


def test_bad_input_from_a_real_process_has_no_traceback():
    process = subprocess.run(
        [sys.executable, "-m", "derive", "--classes", "0"], capture_output=True, text=True
    )
    assert process.returncode == 2
    assert process.stderr == "derive: error: classes must be between 2 and 1000, got 0\n"


def test_help_lists_every_exit_status():
    statuses = {value for name, value in vars(derive.cli).items() if name.startswith("EXIT_")}
    assert statuses == {0, 1, 2, 3, 141}
    assert all(f"* {status} -- " in derive.cli.__doc__ for status in statuses)
    for args in (["--help"], ["docs", "--help"]):
        status, out, _ = call(args)
        listed = " ".join(out.split()).split("Exit status: ")[1]
        assert status == 0 and all(f"{status} " in listed for status in statuses)


class Unwritable(io.StringIO):
    """A standard output whose every write raises ``error``."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def write(self, text):
        raise self.error


ASCII_ERROR = UnicodeEncodeError("ascii", "d\xf3cs", 1, 2, "ordinal not in range(128)")
OUTPUT_FAILURES = [
    (OSError(28, "No space left on device"), 3, "cannot write to standard output: No space left on device"),
    (ASCII_ERROR, 3, "cannot write to standard output: " + str(ASCII_ERROR)),
    (BrokenPipeError(32, "Broken pipe"), 141, None),  # a closed pipe ends quietly, as cat does
]


@pytest.mark.parametrize("args", [["--classes", "2"], ["--classes", "2", "--format", "json"], ["--help"]])
@pytest.mark.parametrize("error, expected_status, message", OUTPUT_FAILURES)
def test_output_failure_is_one_line_and_its_own_status(args, error, expected_status, message):
    status, _, err = call(args, out=Unwritable(error))
    assert status == expected_status
    assert err == ("" if message is None else f"derive: error: {message}\n")


def test_docs_output_failure_goes_through_the_same_path(tmp_path):
    status, _, err = call(
        ["docs", "--out", str(tmp_path), "--classes", "2", "--features", "1"],
        out=Unwritable(OSError(28, "No space left on device")),
    )
    assert status == 3
    assert err == "derive docs: error: cannot write to standard output: No space left on device\n"


def derive_process(*args, **options):
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True, **options)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_stdout_is_one_line_and_exit_3():
    with open("/dev/full", "w") as full:
        process = subprocess.run(
            [sys.executable, "-m", "derive", "--classes", "3"], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert process.returncode == 3
    assert process.stderr == "derive: error: cannot write to standard output: No space left on device\n"


def test_unencodable_stdout_is_one_line_and_exit_3(tmp_path):
    out = tmp_path / "d\xf3cs"
    process = derive_process(
        "docs", "--classes", "2", "--features", "1", "--out", str(out),
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )
    assert process.returncode == 3
    assert process.stderr.startswith(
        "derive docs: error: cannot write to standard output: 'ascii' codec can't encode character '\\xf3'"
    )
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
    assert process.stdout == ""
    written = {path.name for path in out.iterdir()}  # the files are written; only their list could not be
    assert {"index.html", "format.md", "softmax-cross-entropy.html"} <= written and len(written) > 5


def test_closed_pipe_ends_quietly_with_141():
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before derive writes a byte
    try:
        process = subprocess.run(
            [sys.executable, "-m", "derive", "--classes", "3"], stdout=writer, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(writer)
    assert (process.returncode, process.stderr) == (141, "")


@pytest.fixture
def without_module(monkeypatch):
    """Make ``import <module>`` fail, and derive.report.docs import afresh, for one test."""
    before = set(sys.modules)

    def block(module):
        import derive.report.docs

        # The fresh import rebinds the package's attribute too: put the old module back after.
        monkeypatch.setattr(derive.report, "docs", derive.report.docs)
        for name in [module, *(name for name in sys.modules if name.startswith(f"{module}."))]:
            monkeypatch.setitem(sys.modules, name, None)  # None: "import name" fails
        for name in [name for name in sys.modules if name.startswith("derive.report.docs")]:
            monkeypatch.delitem(sys.modules, name)

    yield block
    for name in set(sys.modules) - before:  # half-imported leftovers; monkeypatch restores the rest
        del sys.modules[name]


@pytest.mark.parametrize("module", derive.cli.DOCS_EXTRA)
def test_docs_without_the_docs_extra_names_it(module, without_module, tmp_path):
    without_module(module)
    status, out, err = call(["docs", "--out", str(tmp_path / "docs")])
    assert (status, out) == (3, "")
    assert err == (
        f"derive docs: error: the docs extra is not installed (no module '{module}'); "
        "install it with: pip install 'derive[docs]'\n"
    )
    assert not (tmp_path / "docs").exists()


def test_docs_extra_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["docs"]
    assert sorted(requirement.split(">")[0].split("=")[0].strip() for requirement in extra) == sorted(
        derive.cli.DOCS_EXTRA
    )


if __name__ == "__main__":
    for name, args in GOLDEN_CASES.items():
        (GOLDEN / name).write_text(call(args)[1])
        print("wrote", GOLDEN / name)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_long_work_shows_progress_on_a_terminal_and_erases_it(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(["--classes", "4", "--steps"]) == 0
    shown = terminal.getvalue()
    assert "\rderive: row 1 of 4: SymPy's gradient and the claim" in shown
    assert "\rderive: route: step 2 of " in shown and "fact 1 of 1" in shown
    assert shown.endswith("\r")  # the line is erased before the result is printed
    assert "derive: row" not in capsys.readouterr().out


def test_piped_stderr_stays_silent(capsys):
    assert run(["--classes", "4", "--steps"]) == 0
    assert capsys.readouterr().err == ""
