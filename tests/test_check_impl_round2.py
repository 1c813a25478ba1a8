"""``derive check-impl`` never lies, round 2: every class judged whatever N, a ``reg`` with a
default value passed and judged, arguments changed in place named, a right float32 computation
named as such, and whatever the judged code does (write to descriptor 1, raise BaseException,
end its process, never return, set signals) a verdict, valid JSON and no traceback.

Each test here failed before these fixes (see the report of issue 13), except the guards marked
as such, which keep the new rules from naming a wrong function right.
"""

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from derive import check_implementation
from derive.cli import run
from derive.implementation.loader import LoadError, load_function
from derive.report.implementation import implementation_json, implementation_text
from test_implementation import stable_softmax

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"samples": 20, "features": 5, "classes": 3}
SOFTMAX, LOGISTIC, SVM = "softmax-cross-entropy", "logistic-regression", "multiclass-svm"
softmax = stable_softmax  # right: CS231n's vectorised softmax loss


def logistic(w, X, y, reg):
    """Right: the stable logistic loss with 0/1 labels."""
    s = X @ w
    loss = np.mean(np.logaddexp(0, s) - y * s) + reg * np.sum(w * w)
    p = np.where(s >= 0, 1 / (1 + np.exp(-np.abs(s))), np.exp(-np.abs(s)) / (1 + np.exp(-np.abs(s))))
    return loss, X.T @ (p - y) / len(y) + 2 * reg * w


def write(tmp_path, source: str, name: str = "user.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def cli(*arguments, timeout=120, **options):
    """``python -m derive check-impl ARGUMENTS`` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "derive", "check-impl", *arguments],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, **options)


# --- 1. every class occurs, whatever N ---------------------------------------------------------


def wrong_for_the_last_class(W, X, y, reg):
    loss, dW = softmax(W, X, y, reg)
    if np.any(y == W.shape[1] - 1):
        dW = dW + 1e-3
    return loss, dW


@pytest.mark.parametrize("samples, classes", [(1, 3), (2, 6), (4, 10)])
def test_a_function_wrong_only_for_the_last_class_is_wrong_at_n_below_k(samples, classes):
    report = check_implementation(wrong_for_the_last_class, samples=samples, features=5,
                                  classes=classes)
    assert report.verdict == "wrong"
    assert report.unseen_classes == ()


def test_at_n_1_both_binary_labels_occur():
    def wrong_for_label_1(w, X, y, reg):
        loss, dw = logistic(w, X, y, reg)
        return loss, dw + 1e-3 * np.any(y == 1)

    assert check_implementation(logistic, LOGISTIC, samples=1, features=4).verdict == "correct"
    report = check_implementation(wrong_for_label_1, LOGISTIC, samples=1, features=4)
    assert report.verdict == "wrong"


def test_too_few_samples_for_every_class_is_incomplete_never_correct():
    report = check_implementation(softmax, samples=1, features=5, classes=10, trials=3)
    assert (report.verdict, report.mistake) == ("incomplete", "unseen classes")
    assert not report.ok
    assert len(report.unseen_classes) == 6
    seen = {int(label) for trial in report.trials for label in trial.problem.y}
    assert seen.isdisjoint(report.unseen_classes) and len(seen) == 4
    text = implementation_text(report)
    assert "verdict: incomplete: right at every input, but labels " in text
    assert "(4 inputs of N = 1 for 10 classes): judge with trials >= 9" in text
    data = implementation_json(report)
    assert data["verdict"] == "incomplete" and data["unseen_classes"] == list(report.unseen_classes)


def test_guard_a_wrong_function_with_unseen_classes_is_still_wrong():
    def missing_mean(W, X, y, reg):
        loss, dW = softmax(W, X, y, reg)
        return loss, dW * 3
    report = check_implementation(missing_mean, samples=1, features=5, classes=10)
    assert report.verdict == "wrong"


def test_k_taken_from_the_labels_shows_at_n_above_k():
    """``np.eye(y.max() + 1)`` is right only for batches that hold the last class."""
    def one_hot_from_labels(W, X, y, reg):
        loss, _ = softmax(W, X, y, reg)
        scores = X @ W
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return loss, X.T @ (p - np.eye(y.max() + 1)[y]) / len(y) + 2 * reg * W

    assert check_implementation(one_hot_from_labels, **SMALL).verdict != "correct"


def test_a_fixed_n_shows():
    """Dividing by a constant N (a global, CS231n's num_train) is right only at that N."""
    def fixed_n(W, X, y, reg):
        loss, dW = softmax(W, X, y, reg)
        return loss * len(y) / 20 - reg * np.sum(W * W) * (len(y) / 20 - 1), (
            (dW - 2 * reg * W) * len(y) / 20 + 2 * reg * W)

    report = check_implementation(fixed_n, **SMALL)
    assert report.verdict == "wrong"
    assert [len(trial.problem.X) for trial in report.trials] == [20, 19, 20, 20]
    assert "N = 20 (19 at random input 2)" in implementation_text(report)
    assert [entry["samples"] for entry in implementation_json(report)["inputs"]] == [20, 19, 20, 20]


# --- 2. a reg with a default value is a parameter ---------------------------------------------


def test_reg_with_a_default_is_passed_and_judged():
    def reg_not_doubled(W, X, y, reg=0.0):
        loss, dW = softmax(W, X, y, reg)
        return loss, dW - reg * W

    report = check_implementation(reg_not_doubled, **SMALL)
    assert report.convention.takes_reg and report.reg == 0.1
    assert (report.verdict, report.mistake) == ("wrong", "reg W instead of 2 reg W")


def test_keyword_only_reg_is_passed_by_keyword():
    def reg_not_doubled(W, X, y, *, reg=0.0):
        loss, dW = softmax(W, X, y, reg)
        return loss, dW - reg * W

    report = check_implementation(reg_not_doubled, reg=0.5, **SMALL)
    assert report.convention.describe().startswith("numpy, fn(W, X, y, reg=reg)")
    assert (report.verdict, report.mistake, report.reg) == ("wrong", "reg W instead of 2 reg W", 0.5)


def test_the_reg_given_reaches_a_default_valued_parameter_and_only_it_is_judged():
    def uses_its_default(W, X, y, reg=1e-3, verbose=False):
        return softmax(W, X, y, 1e-3)

    def right(W, X, y, reg=1e-3, verbose=False):
        return softmax(W, X, y, reg)

    assert check_implementation(uses_its_default, reg=0.5, **SMALL).verdict == "wrong"
    report = check_implementation(right, reg=0.5, **SMALL)
    assert (report.verdict, report.reg) == ("correct", 0.5)


def test_cli_reg_reaches_a_default_valued_parameter(tmp_path):
    source = write(tmp_path, """
        import numpy as np
        def f(W, X, y, reg=1e-3):
            n = len(y)
            s = X @ W
            s = s - s.max(axis=1, keepdims=True)
            lp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
            d = np.exp(lp)
            d[np.arange(n), y] -= 1
            return -lp[np.arange(n), y].mean() + reg * np.sum(W * W), X.T @ d / n + 2 * reg * W
        """)
    done = cli(f"{source}:f", "-N", "20", "-D", "5", "-K", "3", "--reg", "0.5", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["verdict"], data["reg"]) == ("correct", 0.5)


# --- 3. arguments changed in place ---------------------------------------------------------------


@pytest.mark.parametrize("argument", ["W", "X", "y"])
def test_a_function_that_changes_an_argument_is_not_correct(argument):
    def changes(W, X, y, reg):
        result = softmax(W, X, y, reg)
        {"W": W, "X": X, "y": y}[argument][0] += 1
        return result

    report = check_implementation(changes, **SMALL)
    assert all(trial.ok for trial in report.trials)
    assert (report.verdict, report.mistake, report.mutated) == (
        "wrong", "changes its arguments", (argument,))
    assert f"changes {argument} in place" in implementation_text(report)
    assert implementation_json(report)["mutated_arguments"] == [argument]


def test_a_changed_bias_and_a_warning_beside_another_mistake():
    def changes_b(W, b, X, y, reg):
        scores = X @ W + b
        b -= b  # zeroes the caller's bias
        n = len(y)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean() + reg * np.sum(W * W)
        p[np.arange(n), y] -= 1
        return loss, X.T @ p + 2 * reg * W, p.sum(axis=0) / n  # and dW lacks 1/N

    report = check_implementation(changes_b, **SMALL)
    assert report.verdict == "wrong" and report.mistake != "changes its arguments"
    assert report.mutated == ("b",)
    assert "warning: it changes its arguments in place: b" in implementation_text(report)


def test_a_torch_function_that_changes_x_is_named():
    torch = pytest.importorskip("torch")

    def changes_x(W, X, y, reg):
        X.mul_(2)
        return torch.nn.functional.cross_entropy((X / 2) @ W, y) + reg * (W * W).sum()

    report = check_implementation(changes_x, framework="torch", **SMALL)
    assert (report.verdict, report.mutated) == ("wrong", ("X",))


# --- 4. a right formula in float32 ---------------------------------------------------------------


def computes_in_float32(W, X, y, reg):
    loss, dW = softmax(W.astype(np.float32), X.astype(np.float32), y, np.float32(reg))
    return float(loss), dW.astype(np.float64)


def returns_float32(W, X, y, reg):
    loss, dW = softmax(W, X, y, reg)
    return loss, dW.astype(np.float32)


@pytest.mark.parametrize("fn, how", [(computes_in_float32, "it computes in float32"),
                                     (returns_float32, "it returns dW as float32")])
def test_a_right_float32_computation_is_named_not_wrong(fn, how):
    report = check_implementation(fn, samples=50, features=20, classes=10)
    assert (report.verdict, report.mistake, report.precision) == (
        "imprecise", "float32 precision", "float32")
    assert not report.ok
    text = implementation_text(report)
    assert "verdict: imprecise: float32 precision: agrees with the oracle at float32 precision, " \
           "not float64" in text and how in text
    data = implementation_json(report)
    assert (data["verdict"], data["precision"]) == ("imprecise", "float32")
    assert check_implementation(fn, samples=50, features=20, classes=10,
                                dtype="float32").verdict == "correct"


def test_guard_an_epsilon_in_the_log_is_not_taken_for_float32():
    """Guard (wrong before and after): an error below float32's rounding, in float64 numbers."""
    def epsilon_in_log(W, X, y, reg):
        loss, dW = softmax(W, X, y, reg)
        return loss + 1e-9, dW

    report = check_implementation(epsilon_in_log, samples=50, features=20, classes=10)
    assert report.verdict == "wrong" and report.precision is None


def test_guard_a_float32_computation_with_a_wrong_formula_is_wrong():
    def wrong_in_float32(W, X, y, reg):
        loss, dW = computes_in_float32(W, X, y, reg)
        return loss, dW * 1.01 + 1e-3

    report = check_implementation(wrong_in_float32, samples=50, features=20, classes=10)
    assert report.verdict == "wrong"


# --- 5. whatever the code does: a verdict, valid JSON, no traceback --------------------------------


def test_writes_to_descriptor_1_keep_the_json_valid(tmp_path):
    source = write(tmp_path, """
        import os
        import numpy as np
        os.write(1, b"import writes to fd 1\\n")
        os.system("echo import runs echo")
        def f(W, X, y, reg):
            os.write(1, b"call writes to fd 1\\n")
            os.system("echo call runs echo")
            print("call prints")
            return 0.0, np.zeros_like(W)
        """)
    done = cli(f"{source}:f", "-N", "20", "-D", "5", "-K", "3", "--format", "json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["verdict"] == "wrong"
    for line in ("import writes to fd 1", "import runs echo", "call writes to fd 1",
                 "call runs echo", "call prints"):
        assert line in done.stderr


class Custom(BaseException):
    pass


def raise_custom(W, X, y, reg):
    raise Custom("not an Exception")


def raise_generator_exit(W, X, y, reg):
    raise GeneratorExit


def raise_keyboard_interrupt(W, X, y, reg):
    raise KeyboardInterrupt


@pytest.mark.parametrize("isolate", [False, True], ids=["thread", "process"])
@pytest.mark.parametrize("fn, message", [
    (raise_custom, "raised Custom: not an Exception"),
    (raise_generator_exit, "raised GeneratorExit"),
    (raise_keyboard_interrupt, "raised KeyboardInterrupt"),
])
def test_base_exceptions_of_the_code_are_crashed(fn, message, isolate):
    report = check_implementation(fn, isolate=isolate, **SMALL)
    assert report.verdict == "crashed"
    assert message in report.explanation


@pytest.mark.parametrize("body, message", [
    ("raise KeyboardInterrupt", "raised KeyboardInterrupt"),
    ("os._exit(3)", "ended the process (os._exit(3) or a crash)"),
    ("os.kill(os.getpid(), signal.SIGKILL)", "ended the process (killed by SIGKILL)"),
])
def test_the_code_cannot_end_derive(tmp_path, body, message):
    source = write(tmp_path, f"""
        import os, signal
        def f(W, X, y, reg):
            {body}
        """)
    done = cli(f"{source}:f", "-N", "20", "-D", "5", "-K", "3", "--format", "json")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    data = json.loads(done.stdout)
    assert data["verdict"] == "crashed" and message in data["explanation"]


@pytest.mark.parametrize("body", ["while True:\n                pass", "time.sleep(100)"])
def test_a_call_that_never_returns_is_crashed_by_the_time_limit(body):
    namespace = {"time": time}
    exec(textwrap.dedent(f"""
        def f(W, X, y, reg):
            {body}
        """), namespace)
    started = time.monotonic()
    report = check_implementation(namespace["f"], time_limit=0.5, isolate=True, **SMALL)
    assert time.monotonic() - started < 60  # a guard against a hang, not a speed test
    assert report.verdict == "crashed"
    assert report.explanation == "f did not return within 0.5 s (the time limit)"
    assert implementation_json(report)["time_limit"] == 0.5


def test_an_overrun_is_not_retried_in_the_other_layout_and_the_callers_state_is_untouched():
    calls = []

    def slow_first(W, X, y, reg):
        calls.append(1)
        if len(calls) == 1 and W.shape[0] == 5:  # the first call, in the D x K layout
            time.sleep(100)
        return softmax(W, X, y, reg)

    report = check_implementation(slow_first, time_limit=0.5, isolate=True, **SMALL)
    assert report.verdict == "crashed"  # overran: not retried in the other layout
    assert calls == []  # the calls ran in the child: the caller's state is untouched


def test_time_limit_on_the_command_line(tmp_path):
    source = write(tmp_path, """
        def f(W, X, y, reg):
            while True:
                pass
        """)
    done = cli(f"{source}:f", "-N", "20", "-D", "5", "-K", "3", "--time-limit", "0.5",
               "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["verdict"] == "crashed" and "within 0.5 s (the time limit)" in data["explanation"]


def test_an_import_that_never_finishes_is_a_one_line_error(tmp_path):
    source = write(tmp_path, """
        while True:
            try:
                pass
            except Exception:
                pass
        def f(W, X, y, reg):
            pass
        """)
    done = cli(f"{source}:f", "--time-limit", "0.5")
    assert done.returncode == 2
    assert done.stderr == (f"derive check-impl: error: importing {source} did not finish "
                           f"within 0.5 s (the time limit)\n")


def test_a_base_exception_at_import_is_a_one_line_error(tmp_path):
    source = write(tmp_path, """
        class Mine(BaseException):
            pass
        raise Mine()
        """)
    with pytest.raises(LoadError, match="raised Mine$"):
        load_function(f"{source}:f")


@pytest.mark.parametrize("value", [0, -1, float("nan"), True, "60"])
def test_bad_time_limit(value):
    with pytest.raises(ValueError, match="time_limit must be a number of seconds > 0"):
        check_implementation(softmax, time_limit=value, **SMALL)


@pytest.mark.parametrize("value", [None, 1, "yes"])
def test_bad_isolate(value):
    with pytest.raises(ValueError, match="isolate must be True or False"):
        check_implementation(softmax, isolate=value, **SMALL)


def test_bad_time_limit_on_the_command_line(capsys):
    assert run(["check-impl", "x.py:f", "--time-limit", "0"]) == 2
    assert "expected seconds between 0 and 3600" in capsys.readouterr().err


def test_no_time_limit():
    assert check_implementation(softmax, time_limit=math.inf, **SMALL).verdict == "correct"


def test_signal_handlers_of_the_code_stay_with_it(tmp_path):
    source = write(tmp_path, """
        import signal
        import numpy as np
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        def f(W, X, y, reg):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            return 0.0, np.zeros_like(W)
        """)
    before = {number: signal.getsignal(number)
              for number in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
    report = check_implementation(load_function(f"{source}:f"), isolate=True, **SMALL)
    assert report.verdict == "wrong"
    assert {number: signal.getsignal(number) for number in before} == before


@pytest.fixture
def interruptible():
    """SIGINT raising KeyboardInterrupt here, and not ignored by the children started: a shell
    starts a background job (``pytest ... &``) with SIGINT ignored, and a child inherits that."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_real_ctrl_c_stops_derive_and_its_child(tmp_path, interruptible):
    source = write(tmp_path, """
        import time
        def f(W, X, y, reg):
            time.sleep(100)
        """)
    process = subprocess.Popen([sys.executable, "-m", "derive", "check-impl", f"{source}:f"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    time.sleep(2)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out, err) == (130, "", "derive check-impl: error: interrupted\n")
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no child left behind


def _ctrl_c_on_another_thread(after: float = 0.3) -> threading.Thread:
    """A thread that, ``after`` seconds, has the kernel deliver SIGINT to itself: as a real
    Ctrl-C may land on any thread of the process (NumPy's BLAS workers, torch's)."""
    def interrupt():
        time.sleep(after)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    return thread


def test_a_ctrl_c_landing_on_another_thread_stops_waiting_for_a_thread(interruptible):
    """The main thread's wait for the user's call is not interrupted by a signal another thread
    took (POSIX allows it; Linux prefers the main thread, macOS need not); derive waits in
    slices, so the KeyboardInterrupt comes, not the end of the time limit."""
    from derive.implementation.isolation import start_thread, thread_result

    release = threading.Event()
    pending = start_thread(lambda: release.wait(60))
    _ctrl_c_on_another_thread()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            thread_result(pending, started + 60, 60)
        assert time.monotonic() - started < 30  # not at the time limit: a liveness bound
    finally:
        release.set()


def test_a_ctrl_c_landing_on_another_thread_stops_waiting_for_a_child(interruptible):
    from derive.core import frames

    read_end, write_end = os.pipe()
    _ctrl_c_on_another_thread()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            frames.FrameReader(read_end).next_frame(60)
        assert time.monotonic() - started < 30  # not at the deadline: a liveness bound
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.parametrize("without_fork", [False, True], ids=["default", "isolate-without-fork"])
def test_on_a_thread_the_time_limit_and_the_exceptions_hold(monkeypatch, without_fork):
    from derive.implementation import isolation

    monkeypatch.setattr(isolation, "_can_fork", lambda: False)
    options = {"isolate": without_fork, **SMALL}

    done = threading.Event()

    def endless(W, X, y, reg):
        while not done.is_set():
            time.sleep(0.01)

    def interrupts(W, X, y, reg):
        raise KeyboardInterrupt

    assert check_implementation(softmax, **options).verdict == "correct"
    try:
        assert "within 0.3 s" in check_implementation(endless, time_limit=0.3,
                                                      **options).explanation
    finally:
        done.set()  # the abandoned call ends
    assert "raised KeyboardInterrupt" in check_implementation(interrupts, **options).explanation


def test_a_bug_for_the_class_only_the_extreme_input_has_is_not_called_precision_loss():
    """With 4 inputs of N = 1 and K = 4, the extreme input holds a class no other input has."""
    extreme_class = int(check_implementation(softmax, samples=1, features=5,
                                             classes=4).trials[-1].problem.y[0])

    def wrong_for_that_class(W, X, y, reg):
        loss, dW = softmax(W, X, y, reg)
        return loss, dW + 1e-3 * np.any(y == extreme_class)

    report = check_implementation(wrong_for_that_class, samples=1, features=5, classes=4)
    assert report.verdict != "correct" and report.unseen_classes == ()
    assert f"or the code is wrong for class {extreme_class}, which only the extreme input has" \
        in report.explanation


def test_a_message_that_cannot_be_printed_keeps_text_and_json_valid(tmp_path):
    source = write(tmp_path, """
        def f(W, X, y, reg):
            raise ValueError("lone surrogate \\ud800 and a newline\\nsecond line")
        """)
    for output in ("text", "json"):
        done = cli(f"{source}:f", "-N", "20", "-D", "5", "-K", "3", "--format", output)
        assert done.returncode == 1 and done.stderr == "", done.stderr
    assert json.loads(done.stdout)["explanation"].startswith("f raised ValueError: lone surrogate ")


def test_a_callable_with_an_odd_name_keeps_the_json_valid():
    class Odd:
        def __call__(self, W, X, y, reg):
            return softmax(W, X, y, reg)

    odd = Odd()
    odd.__qualname__ = object()  # not a string: json.dumps would raise
    report = check_implementation(odd, **SMALL)
    assert report.verdict == "correct"
    assert isinstance(json.loads(json.dumps(implementation_json(report)))["function"], str)


def test_only_the_failing_output_needs_float32_values():
    """A loss computed in float32 beside a float64 gradient is still named."""
    def loss_in_float32(W, X, y, reg):
        loss, dW = softmax(W, X, y, reg)
        loss32, _ = softmax(W.astype(np.float32), X.astype(np.float32), y, np.float32(reg))
        return float(loss32), dW

    report = check_implementation(loss_in_float32, samples=50, features=20, classes=10)
    assert (report.verdict, report.precision) == ("imprecise", "float32")


def test_with_standard_error_closed_writes_to_descriptor_1_are_dropped(tmp_path):
    source = write(tmp_path, """
        import os
        import numpy as np
        os.write(1, b"import writes to fd 1\\n")
        def f(W, X, y, reg):
            os.system("echo call runs echo")
            return 0.0, np.zeros_like(W)
        """)
    command = (f"exec 2>&-; exec {sys.executable} -m derive check-impl {source}:f "
               f"-N 20 -D 5 -K 3 --format json")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 1
    assert json.loads(done.stdout)["verdict"] == "wrong"


def test_a_bias_and_a_default_valued_reg():
    def with_bias(W, b, X, y, reg=0.0):
        scores = X @ W + b
        n = len(y)
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean() + reg * np.sum(W * W)
        p[np.arange(n), y] -= 1
        return loss, X.T @ p / n + reg * W, p.sum(axis=0) / n  # reg W, not 2 reg W

    report = check_implementation(with_bias, **SMALL)
    assert report.convention.describe() == "numpy, fn(W, b, X, y, reg) -> (loss, dW, db), W is D x K"
    assert (report.verdict, report.mistake) == ("wrong", "reg W instead of 2 reg W")


def test_float32_without_the_max_shift_is_unstable_not_imprecise():
    def no_shift_in_float32(W, X, y, reg):
        W32, X32 = W.astype(np.float32), X.astype(np.float32)
        n = len(y)
        e = np.exp(X32 @ W32)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(n), y]).mean() + np.float32(reg) * np.sum(W32 * W32)
        p[np.arange(n), y] -= 1
        return float(loss), (X32.T @ p / n + 2 * np.float32(reg) * W32).astype(np.float64)

    report = check_implementation(no_shift_in_float32, samples=50, features=20, classes=10)
    assert report.verdict == "unstable" and report.precision is None
