"""The command line: golden output, exit statuses, the bad-input table.

Regenerate the golden files with ``python tests/test_cli.py`` and review the diff.
"""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import derive
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


def call(args):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
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
    assert "% row 0: refuted: entry 0: at " in out
    status, out, _ = call(["--classes", "2", "--format", "json"])
    assert status == 1 and json.loads(out)["status"] == "refuted"


def test_exit_status_1_when_unproven(monkeypatch):
    import derive.core.verifier

    monkeypatch.setattr(derive.core.verifier, "PROOF_STRATEGIES", derive.core.verifier.PROOF_STRATEGIES[:1])
    status, out, _ = call(["--classes", "2", "--format", "json"])
    assert status == 1 and json.loads(out)["status"] == "unproven"


BAD_INPUT = [
    ([], "the following arguments are required: --classes"),
    (["--classes", "1"], "classes must be between 2 and 64, got 1"),
    (["--classes", "65"], "classes must be between 2 and 64, got 65"),
    (["--classes", "1000000000000"], "classes must be between 2 and 64"),
    (["--classes", "99999999999999999999999"], "classes must be between 2 and 64"),
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
    assert process.stderr == "derive: error: classes must be between 2 and 64, got 0\n"


if __name__ == "__main__":
    for name, args in GOLDEN_CASES.items():
        (GOLDEN / name).write_text(call(args)[1])
        print("wrote", GOLDEN / name)
