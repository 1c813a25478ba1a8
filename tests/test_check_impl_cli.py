"""``derive check-impl FILE.py:FUNCTION`` and ``derive --loss NAME --all-sizes`` on the command
line: exit statuses, text and JSON, options, one-line errors for bad input, a quiet stderr."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import derive.report.implementation as implementation_report
from derive.cli import run

ROOT = Path(__file__).resolve().parent.parent
IMPL = ROOT / "examples" / "impl"
SMALL = ["-N", "20", "-D", "5", "-K", "3"]


def target(name: str) -> str:
    """``examples/impl/FILE.py:NAME`` as an absolute target."""
    file, function = name.split(":")
    return f"{IMPL / file}:{function}"


def check_impl(capsys, *arguments):
    status = run(["check-impl", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


def one_line_error(err: str, prog: str = "derive check-impl") -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def subprocess_derive(*arguments, **options):
    return subprocess.run([sys.executable, "-m", "derive", *arguments], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, **options)


# --- verdicts and exit statuses ---------------------------------------------------------------------


def test_correct_exits_0(capsys):
    status, out, err = check_impl(capsys, target("softmax.py:softmax_loss_vectorized"), *SMALL)
    assert status == 0
    assert "\nverdict: correct" in out
    assert "softmax_loss_vectorized" in out.splitlines()[0]
    assert err == ""


@pytest.mark.parametrize("name, loss, verdict", [
    ("softmax_mistakes.py:missing_mean", "softmax-cross-entropy", "wrong: missing 1/N"),
    ("softmax_mistakes.py:reg_not_doubled_transposed", "softmax-cross-entropy",
     "wrong: reg W instead of 2 reg W"),
    ("softmax_mistakes.py:no_max_shift", "softmax-cross-entropy",
     "numerically unstable: no max-shift"),
    ("svm.py:svm_loss_missing_count", "multiclass-svm",
     "wrong: missing count on the label's column"),
])
def test_mistake_exits_1_with_its_name(capsys, name, loss, verdict):
    status, out, err = check_impl(capsys, target(name), "--loss", loss, *SMALL)
    assert status == 1
    assert f"\nverdict: {verdict}" in out
    assert err == ""


def test_crash_exits_1(capsys, tmp_path):
    source = tmp_path / "crash.py"
    source.write_text("def f(W, X, y, reg):\n    raise ZeroDivisionError('oops')\n")
    status, out, err = check_impl(capsys, f"{source}:f", *SMALL)
    assert status == 1
    assert "verdict: crashed: f raised ZeroDivisionError: oops" in out


def test_exit_in_the_judged_function_is_a_crash(tmp_path):
    source = tmp_path / "quits.py"
    source.write_text("import sys\ndef f(W, X, y, reg):\n    sys.exit(0)\n")
    completed = subprocess_derive("check-impl", f"{source}:f", *SMALL)
    assert completed.returncode == 1
    assert "verdict: crashed" in completed.stdout


# --- JSON -----------------------------------------------------------------------------------------

def _documented_keys() -> set[str]:
    return set(re.findall(r'"(\w+)":', implementation_report.__doc__))


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _keys(item)}
    return set()


def test_json_has_the_schema_and_every_documented_key(capsys):
    status, out, err = check_impl(capsys, target("softmax_mistakes.py:missing_mean"), *SMALL,
                                  "--format", "json")
    assert status == 1
    document = json.loads(out)
    assert document["schema"] == "derive.check-impl/1"
    documented = _documented_keys()
    assert {"schema", "verdict", "oracle", "inputs", "outputs", "spot_check_ok",
            "tolerance_ratio"} <= documented  # the docstring was read
    assert _keys(document) == documented
    assert (document["verdict"], document["mistake"]) == ("wrong", "missing 1/N")
    assert document["sizes"] == {"samples": 20, "features": 5, "classes": 3}
    assert document["dtype"] == "float64" and document["reg"] == 0.1
    assert document["loss"] == "softmax-cross-entropy"
    assert document["function"] == "missing_mean"
    assert document["convention"] == "numpy, fn(W, X, y, reg) -> (loss, dW), W is D x K"
    assert document["oracle"]["proven_for_every_size"] is True
    assert document["oracle"]["proof_status"] == "proven"
    assert document["oracle"]["spot_check_ok"] is True
    assert [item["kind"] for item in document["inputs"]] == ["random"] * 3 + ["extreme logits"]
    assert [o["name"] for o in document["inputs"][0]["outputs"]] == ["loss", "dW"]
    assert [o["ok"] for o in document["inputs"][0]["outputs"]] == [True, False]


def test_json_of_an_unstable_function_has_null_for_non_finite(capsys):
    status, out, _ = check_impl(capsys, target("softmax_mistakes.py:no_max_shift"), *SMALL,
                                "--format", "json")
    assert status == 1
    document = json.loads(out)  # strict JSON: no NaN or Infinity literals
    extreme = document["inputs"][-1]["outputs"]
    assert any(o["value"] is None and o["tolerance_ratio"] is None for o in extreme)
    assert "NaN" not in out and "Infinity" not in out


def test_what_the_judged_code_prints_does_not_spoil_the_json(capsys, tmp_path):
    source = tmp_path / "chatty.py"
    source.write_text("import numpy as np\nprint('importing')\n"
                      "def f(W, X, y, reg):\n    print('called')\n"
                      "    return 0.0, np.zeros_like(W)\n")
    status, out, err = check_impl(capsys, f"{source}:f", *SMALL, "--format", "json")
    assert status == 1
    assert json.loads(out)["verdict"] == "wrong"
    assert "importing" in err and "called" in err


# --- options ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, options, convention, dtype", [
    ("softmax.py:softmax_loss_vectorized", ["--dtype", "float32"],
     "numpy, fn(W, X, y, reg) -> (loss, dW), W is D x K", "float32"),
    ("softmax.py:softmax_loss_transposed", ["--layout", "KxD"],
     "numpy, fn(W, X, y, reg) -> (loss, dW), W is K x D", "float64"),
    ("softmax.py:softmax_loss_bias", ["--bias"],
     "numpy, fn(W, b, X, y, reg) -> (loss, dW, db), W is D x K", "float64"),
    ("softmax_torch.py:softmax_loss_torch", ["--framework", "torch", "--dtype", "float32"],
     "torch, fn(W, X, y, reg) -> loss (autograd), W is D x K", "float32"),
    ("svm.py:svm_loss_vectorized", ["--loss", "multiclass-svm"],
     "numpy, fn(W, X, y, reg) -> (loss, dW), W is D x K", "float64"),
])
def test_options(capsys, name, options, convention, dtype):
    status, out, err = check_impl(capsys, target(name), *SMALL, *options, "--format", "json")
    assert status == 0, out
    document = json.loads(out)
    assert document["verdict"] == "correct"
    assert document["convention"] == convention
    assert document["dtype"] == dtype


@pytest.mark.parametrize("name, loss", [("logistic.py:logistic_loss", "logistic-regression"),
                                        ("mse.py:mse_loss", "mean-squared-error")])
def test_one_score_losses(capsys, name, loss):
    status, out, _ = check_impl(capsys, target(name), "--loss", loss, "-N", "20", "-D", "5",
                                "--format", "json")
    assert status == 0
    document = json.loads(out)
    assert document["sizes"] == {"samples": 20, "features": 5, "classes": 1}
    assert document["convention"].endswith("w has D entries")


def test_trials_seed_and_reg(capsys):
    arguments = [target("softmax.py:softmax_loss_vectorized"), *SMALL, "--trials", "1",
                 "--seed", "9", "--reg", "0.5", "--format", "json"]
    status, out, _ = check_impl(capsys, *arguments)
    assert status == 0
    document = json.loads(out)
    assert [item["kind"] for item in document["inputs"]] == ["random", "extreme logits"]
    assert document["reg"] == 0.5
    _, again, _ = check_impl(capsys, *arguments)
    first, second = json.loads(again), document
    del first["seconds"], second["seconds"]
    assert first == second


def test_layout_given_when_d_equals_k(capsys):
    status, out, _ = check_impl(capsys, target("softmax.py:softmax_loss_transposed"),
                                "-N", "10", "-D", "4", "-K", "4", "--layout", "KxD")
    assert status == 0 and "\nverdict: correct" in out


def test_help_says_it_runs_your_code(capsys):
    status, out, err = check_impl(capsys, "--help")
    assert status == 0
    text = " ".join(out.split())
    assert "it runs your code" in text
    assert text.startswith("usage: derive check-impl")
    assert err == ""


# --- bad input: exit 2, one line on stderr ----------------------------------------------------------


def test_bad_input_table(capsys, tmp_path):
    (tmp_path / "syntax.py").write_text("def f(W, X, y, reg):\n    return (\n")
    (tmp_path / "boom.py").write_text("raise RuntimeError('import failed')\n")
    (tmp_path / "value.py").write_text("f = 3\n")
    (tmp_path / "notes.txt").write_text("def f(W, X, y, reg): pass\n")
    good = target("softmax.py:softmax_loss_vectorized")
    cases = [
        ([str(IMPL / "softmax.py")], "expected FILE.py:FUNCTION"),
        ([f"{tmp_path / 'notes.txt'}:f"], "not a Python file"),
        ([f"{tmp_path / 'missing.py'}:f"], "no such file"),
        ([f"{IMPL / 'softmax.py'}:nope"], "has no 'nope'"),
        ([f"{tmp_path / 'syntax.py'}:f"], "syntax.py:2: syntax error"),
        ([f"{tmp_path / 'boom.py'}:f"], "raised RuntimeError: import failed"),
        ([f"{tmp_path / 'value.py'}:f"], "is not a function"),
        ([good, "--loss", "no-such-loss"], "no loss named 'no-such-loss'"),
        ([good, "--loss", "focal-loss"], "give a value to its parameter(s) gamma"),
        ([good, "--samples", "0"], "samples must be a positive integer, not 0"),
        ([good, "--reg", "nan"], "argument --reg: expected a finite number"),
        ([good, "-D", "5", "-K", "5"], "D = K"),
        ([good, "--trials", "0"], "trials must be an integer from 1 to 100"),
        ([good, "--dtype", "float16"], "argument --dtype: invalid choice"),
        ([good, "-K", "1"], "needs at least 2 classes"),
        ([good, "--samples", "2.5"], "argument --samples/-N: expected an integer"),
        ([good, "--samples", "1000000000000"], "the check needs about"),
        ([target("softmax.py:softmax_loss_bias"), "--no-bias"], "expected 3 or 4"),
    ]
    for arguments, message in cases:
        status, out, err = check_impl(capsys, *arguments)
        assert status == 2, (arguments, out, err)
        assert out == "", arguments
        assert message in one_line_error(err), (arguments, err)


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "syntax.py").write_text("def f(:\n")
    completed = subprocess_derive("check-impl", f"{tmp_path / 'syntax.py'}:f")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "syntax error" in one_line_error(completed.stderr)


def test_a_file_that_exits_at_import_is_bad_input(tmp_path):
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(0)\ndef f(W, X, y, reg): pass\n")
    completed = subprocess_derive("check-impl", f"{tmp_path / 'exits.py'}:f")
    assert completed.returncode == 2
    assert "exits.py" in one_line_error(completed.stderr)


# --- derive --all-sizes -----------------------------------------------------------------------------


def test_all_sizes_proven(capsys):
    status = run(["--loss", "softmax-cross-entropy", "--all-sizes"])
    out, err = capsys.readouterr()
    assert status == 0
    assert "\nverdict: proven" in out
    assert out.startswith("softmax-cross-entropy: proven for every N, D, K")
    assert err == ""


def test_all_sizes_json(capsys):
    status = run(["--loss", "multiclass-svm", "--all-sizes", "--format", "json"])
    out, _ = capsys.readouterr()
    assert status == 0
    document = json.loads(out)
    assert document["schema"] == "derive.all-sizes/1"
    assert (document["loss"], document["status"]) == ("multiclass-svm", "proven")


@pytest.mark.parametrize("arguments, message", [
    (["--all-sizes", "-K", "3"], "drop --classes"),
    (["--all-sizes", "--loss", "focal-loss"], "has no all-sizes proof"),
    (["--all-sizes", "--loss", "no-such-loss"], "no loss named 'no-such-loss'"),
])
def test_all_sizes_bad_input(capsys, arguments, message):
    status = run(arguments)
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert message in one_line_error(err, prog="derive")


# --- quiet stderr when it is not a terminal ----------------------------------------------------------


def test_nothing_on_stderr_when_piped():
    completed = subprocess_derive("check-impl", target("softmax.py:softmax_loss_vectorized"),
                                  *SMALL, stdin=subprocess.DEVNULL,
                                  env={**os.environ, "TERM": "xterm"})
    assert completed.returncode == 0
    assert completed.stderr == ""
    assert "\nverdict: correct" in completed.stdout
    completed = subprocess_derive("--all-sizes")
    assert (completed.returncode, completed.stderr) == (0, "")


def test_a_negative_seed_is_named(capsys):
    from derive.cli import run

    status = run(["check-impl", target("softmax.py:softmax_loss_vectorized"), "--seed", "-1"])
    assert status == 2
    assert "--seed" in capsys.readouterr().err


def test_progress_shows_on_a_terminal_and_is_erased(monkeypatch, capsys):
    import io

    from derive.cli import run

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert run(["check-impl", target("softmax.py:softmax_loss_vectorized")]) == 0
    shown = terminal.getvalue()
    assert "\rderive check-impl: softmax_loss_vectorized: random input 1 of 4" in shown
    assert "extreme logits input 4 of 4" in shown
    assert shown.endswith("\r")  # erased before the report is printed
    assert "input 1 of 4" not in capsys.readouterr().out


def test_the_batch_softmax_document_names_the_softmax_oracle(capsys):
    from derive.cli import run

    assert run(["check-impl", target("softmax.py:softmax_loss_bias"),
                "--loss", "softmax-cross-entropy-batch", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] == "softmax-cross-entropy"
    assert run(["--loss", "softmax-cross-entropy-batch", "--all-sizes"]) == 0
    assert "verdict: proven" in capsys.readouterr().out


def test_a_file_needing_torch_without_torch_names_the_extra(tmp_path, capsys):
    from derive.cli import run

    (tmp_path / "needs.py").write_text("import torch_is_not_this\n")
    (tmp_path / "torchy.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    assert run(["check-impl", f"{tmp_path / 'torchy.py'}:f"]) == 2
    assert "pip install 'derive[torch]'" in capsys.readouterr().err
    assert run(["check-impl", f"{tmp_path / 'needs.py'}:f"]) == 2
    assert "derive[torch]" not in capsys.readouterr().err
