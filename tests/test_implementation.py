"""derive.check_implementation: verdicts and named mistakes on real implementations, on ones
written here, the oracle's own spot check, bad input, determinism and assert_implementation.

Sizes are small (N = 20, D = 5, K = 3) so the whole file runs in seconds; D != K so the layout of
W shows in its shape.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import mpmath
import numpy as np
import pytest

import derive
from derive import check_implementation
from derive.catalog import UnknownLossError
from derive.implementation.check import default_memory, require_memory, required_memory
from derive.implementation.conventions import ConventionError
from derive.implementation.loader import load_function
from derive.oracle.batch import BATCH_LOSSES, Problem
from derive.oracle.reference import spot_check
from derive.testing import assert_implementation

ROOT = Path(__file__).resolve().parent.parent
IMPL = ROOT / "examples" / "impl"
SOFTMAX, SVM = "softmax-cross-entropy", "multiclass-svm"
LOGISTIC, MSE = "logistic-regression", "mean-squared-error"
SMALL = {"samples": 20, "features": 5, "classes": 3}
ONE_SCORE = {"samples": 20, "features": 5}


def example(target: str):
    """``examples/impl/FILE.py:NAME`` loaded from the repository root."""
    file, name = target.split(":")
    return load_function(f"{IMPL / file}:{name}")


def sizes(loss: str) -> dict:
    return ONE_SCORE if loss in (LOGISTIC, MSE) else SMALL


def judge(fn, loss=SOFTMAX, **options):
    return check_implementation(fn, loss, **{**sizes(loss), **options})


# --- implementations written here -----------------------------------------------------------


def stable_softmax(W, X, y, reg):
    """Correct, D x K, log-softmax computed stably."""
    n = len(y)
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(n), y].mean() + reg * np.sum(W * W)
    dscores = np.exp(log_p)
    dscores[np.arange(n), y] -= 1
    return loss, X.T @ dscores / n + 2 * reg * W


def cs231n_canonical(W, X, y, reg):
    """CS231n's canonical code: a max-shifted softmax, then -log of the label's probability."""
    N = X.shape[0]
    scores = X @ W
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N
    loss += reg * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    return loss, X.T @ dscores / N + 2 * reg * W


def nan_everywhere(W, X, y, reg):
    return float("nan"), np.full_like(W, np.nan)


def raises_key_error(W, X, y, reg):
    raise KeyError("no such class")


def returns_one_number(W, X, y, reg):
    return stable_softmax(W, X, y, reg)[0]


def returns_three(W, X, y, reg):
    loss, dW = stable_softmax(W, X, y, reg)
    return loss, dW, np.zeros(3)


def returns_short_gradient(W, X, y, reg):
    loss, dW = stable_softmax(W, X, y, reg)
    return loss, dW[:-1]


def loss_sums_samples(W, X, y, reg):
    """The gradient is right; the loss sums the per-sample losses instead of averaging them."""
    loss, dW = stable_softmax(W, X, y, reg)
    penalty = reg * np.sum(W * W)
    return (loss - penalty) * len(y) + penalty, dW


def loss_without_penalty(W, X, y, reg):
    loss, dW = stable_softmax(W, X, y, reg)
    return loss - reg * np.sum(W * W), dW


def one_entry_off(W, X, y, reg):
    """Right except dW[0, 0], off by a relative 1e-9."""
    loss, dW = stable_softmax(W, X, y, reg)
    dW = dW.copy()
    dW[0, 0] *= 1 + 1e-9
    return loss, dW


def exact_oracle(W, X, y, reg):
    """The oracle's own values: must pass."""
    problem = Problem(np.asarray(W, dtype=np.float64), None, np.asarray(X, dtype=np.float64), y,
                      reg)
    exact = BATCH_LOSSES[SOFTMAX].evaluate(problem)
    return exact.loss, exact.weights


def no_reg(W, X, y):
    loss, dW = stable_softmax(W, X, y, 0.0)
    return loss, dW


# --- every correct implementation --------------------------------------------------------------

CORRECT = [
    # target, loss, (framework, layout, bias)
    ("softmax.py:softmax_loss_naive", SOFTMAX, ("numpy", "DxK", False)),
    ("softmax.py:softmax_loss_vectorized", SOFTMAX, ("numpy", "DxK", False)),
    ("softmax.py:softmax_loss_transposed", SOFTMAX, ("numpy", "KxD", False)),
    ("softmax.py:softmax_loss_bias", SOFTMAX, ("numpy", "DxK", True)),
    ("softmax_torch.py:softmax_loss_torch", SOFTMAX, ("torch", "DxK", False)),
    ("softmax_torch.py:softmax_loss_torch_transposed", SOFTMAX, ("torch", "KxD", False)),
    ("softmax_torch.py:softmax_loss_torch_bias", SOFTMAX, ("torch", "DxK", True)),
    ("svm.py:svm_loss_vectorized", SVM, ("numpy", "DxK", False)),
    ("logistic.py:logistic_loss", LOGISTIC, ("numpy", "vector", False)),
    ("logistic.py:logistic_loss_bias", LOGISTIC, ("numpy", "vector", True)),
    ("mse.py:mse_loss", MSE, ("numpy", "vector", False)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("target, loss, convention", CORRECT, ids=[c[0] for c in CORRECT])
def test_correct_implementations_are_correct(target, loss, convention, dtype):
    report = judge(example(target), loss, dtype=dtype)
    assert (report.verdict, report.mistake, report.explanation) == ("correct", None, None)
    assert report.ok
    got = report.convention
    assert (got.framework, got.layout, got.bias, got.takes_reg) == (*convention, True)
    assert report.dtype == dtype
    assert report.loss == loss
    assert report.reg == 0.1
    assert [trial.kind for trial in report.trials] == ["random"] * 3 + ["extreme logits"]
    assert all(trial.ok for trial in report.trials)
    assert report.trials[-1].largest_score == pytest.approx(1e3)
    assert report.oracle.proven_for_every_size
    assert len(report.oracle.spot_checks) == 2 and report.oracle.spot_checks_ok


# --- planted mistakes ---------------------------------------------------------------------------

MISTAKES = [
    # target, loss, float64 (verdict, mistake), float32 (verdict, mistake)
    ("softmax_mistakes.py:missing_mean", SOFTMAX, ("wrong", "missing 1/N"), ("wrong", "missing 1/N")),
    ("softmax_mistakes.py:reg_not_doubled", SOFTMAX, ("wrong", "reg W instead of 2 reg W"),
     ("wrong", "reg W instead of 2 reg W")),
    ("softmax_mistakes.py:transposed_gradient", SOFTMAX, ("wrong", "transposed gradient"),
     ("wrong", "transposed gradient")),
    ("softmax_mistakes.py:indicator_wrong_row", SOFTMAX, ("wrong", "indicator on the wrong row"),
     ("wrong", "indicator on the wrong row")),
    ("softmax_mistakes.py:no_max_shift", SOFTMAX, ("unstable", "no max-shift"),
     ("unstable", "no max-shift")),
    # 1e-6 relative is below float32's resolution (at these sizes its tolerance is ~1e-5): the
    # honest limit of a float32 check, documented here.
    ("softmax_mistakes.py:perturbed_1e6", SOFTMAX, ("wrong", "scaled gradient"), ("correct", None)),
    ("softmax_mistakes.py:perturbed_1e4", SOFTMAX, ("wrong", "scaled gradient"),
     ("wrong", "scaled gradient")),
    ("softmax_mistakes.py:wrong_sign", SOFTMAX, ("wrong", "wrong sign"), ("wrong", "wrong sign")),
    ("softmax_mistakes.py:missing_bias_gradient", SOFTMAX, ("wrong", "missing bias gradient"),
     ("wrong", "missing bias gradient")),
    ("softmax_torch.py:softmax_loss_torch_no_mean", SOFTMAX, ("wrong", "missing 1/N"),
     ("wrong", "missing 1/N")),
    ("svm.py:svm_loss_missing_count", SVM, ("wrong", "missing count on the label's column"),
     ("wrong", "missing count on the label's column")),
    ("logistic.py:logistic_loss_wrong_sign", LOGISTIC, ("wrong", "wrong sign"), ("wrong", "wrong sign")),
    ("mse.py:mse_loss_missing_two", MSE, ("wrong", "missing factor 2"), ("wrong", "missing factor 2")),
]
# Every mistake of softmax_mistakes.py has a K x D twin making the same mistake.
MISTAKES += [(target + "_transposed", loss, f64, f32) for target, loss, f64, f32 in MISTAKES
             if target.startswith("softmax_mistakes.py:")]


def _mistake_cases():
    for target, loss, f64, f32 in MISTAKES:
        for dtype, expected in (("float64", f64), ("float32", f32)):
            yield pytest.param(target, loss, dtype, expected, id=f"{target}-{dtype}")


@pytest.mark.parametrize("target, loss, dtype, expected", list(_mistake_cases()))
def test_planted_mistakes_are_named(target, loss, dtype, expected):
    report = judge(example(target), loss, dtype=dtype)
    assert (report.verdict, report.mistake) == expected
    layout = "KxD" if target.endswith("_transposed") else (
        "vector" if loss in (LOGISTIC, MSE) else "DxK")
    assert report.convention.layout == layout
    if expected[1] is not None:
        assert report.explanation  # one sentence on the mistake
    if expected[0] == "correct":
        assert report.explanation is None


def test_every_function_of_softmax_mistakes_is_in_the_table():
    import inspect

    module = inspect.getmodule(example("softmax_mistakes.py:missing_mean"))
    planted = {name for name, value in vars(module).items()
               if inspect.isfunction(value) and not name.startswith("_")}
    tabled = {target.split(":")[1] for target, *_ in MISTAKES if target.startswith("softmax_mistakes")}
    assert planted == tabled


def test_no_max_shift_passes_ordinary_inputs_and_fails_only_the_extreme_one():
    report = judge(example("softmax_mistakes.py:no_max_shift"))
    assert [trial.ok for trial in report.trials] == [True, True, True, False]
    assert not report.trials[-1].finite
    assert "709.8" in report.explanation  # float64's exp overflow threshold, log(max float64)


def test_perturbed_gradient_explanation_gives_the_factor():
    report = judge(example("softmax_mistakes.py:perturbed_1e4"))
    assert "1.0001" in report.explanation


# --- implementations written here ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cs231n_log_of_softmax_probability_is_unstable(dtype):
    report = judge(cs231n_canonical, dtype=dtype)
    assert (report.verdict, report.mistake) == ("unstable", "log of an underflowed probability")
    # Right at ordinary scores; only the loss at the extreme logits is inf (the gradient is fine).
    assert [trial.ok for trial in report.trials] == [True, True, True, False]
    extreme = report.trials[-1]
    assert not extreme.loss.finite and extreme.weights.ok


def test_nan_everywhere_is_unstable():
    report = judge(nan_everywhere)
    assert report.verdict == "unstable"
    assert report.trials[0].loss.worst_ratio == float("inf")
    assert not report.trials[0].finite


def test_nan_everywhere_is_not_blamed_on_an_underflowed_probability():
    report = judge(nan_everywhere)
    assert report.trials[0].largest_score < 20  # an ordinary input, not the extreme one
    assert report.mistake == "not finite"


@pytest.mark.parametrize("fn, words", [
    (raises_key_error, ["KeyError", "no such class"]),
    (returns_one_number, ["returned a float", "(loss, dW)"]),
    (returns_three, ["returned a tuple of 3", "(loss, dW)"]),
])
def test_crashes(fn, words):
    report = judge(fn)
    assert report.verdict == "crashed"
    assert report.convention is None  # it never ran through
    assert report.trials == ()
    for word in words:
        assert word in report.explanation
    assert not report.ok


def test_gradient_of_the_wrong_shape():
    report = judge(returns_short_gradient)
    assert (report.verdict, report.mistake) == ("wrong", "wrong shape")
    assert report.explanation == "dW has shape 4 x 3, W has 5 x 3"


@pytest.mark.parametrize("fn, mistake", [
    (loss_sums_samples, "loss missing 1/N"),
    (loss_without_penalty, "loss missing the penalty"),
])
def test_loss_only_mistakes(fn, mistake):
    report = judge(fn)
    assert (report.verdict, report.mistake) == ("wrong", mistake)
    first = report.trials[0]
    assert first.weights.ok and not first.loss.ok


def test_one_entry_off_by_1e9_relative_is_wrong():
    report = judge(one_entry_off)
    assert report.verdict == "wrong"
    assert report.mistake is None  # not one of the known mistakes
    first = report.trials[0]
    assert first.loss.ok and not first.weights.ok
    assert first.weights.worst_index == (0, 0)
    assert first.weights.worst_ratio > 1


def test_the_exact_oracle_gradient_passes():
    report = judge(exact_oracle)
    assert report.verdict == "correct"
    assert all(trial.weights.worst_ratio <= 1 for trial in report.trials)


def test_stable_softmax_written_here_is_correct_and_no_reg_is_called_without_reg():
    assert judge(stable_softmax).verdict == "correct"
    report = judge(no_reg)
    assert report.verdict == "correct"
    assert report.convention.takes_reg is False and report.reg == 0.0


def test_explicit_layout_when_d_equals_k():
    report = check_implementation(stable_softmax, samples=10, features=4, classes=4, layout="DxK")
    assert report.verdict == "correct" and report.convention.layout == "DxK"
    transposed = example("softmax.py:softmax_loss_transposed")
    report = check_implementation(transposed, samples=10, features=4, classes=4, layout="KxD")
    assert report.verdict == "correct" and report.convention.layout == "KxD"


# --- the checker itself: the oracle's 50-digit spot check -----------------------------------------


def _problem(scale: float) -> Problem:
    rng = np.random.default_rng(7)
    return Problem(rng.normal(size=(4, 3)) * scale, None, rng.normal(size=(6, 4)),
                   np.array([0, 1, 2, 0, 1, 2]), reg=0.1)


def test_spot_check_is_ok_on_the_real_oracle_at_extreme_logits():
    softmax = BATCH_LOSSES[SOFTMAX]
    problem = _problem(400.0)
    exact = softmax.evaluate(problem)
    assert np.abs(exact.scores).max() > 800  # exp overflows float64 here: the naive form cannot
    check = spot_check(softmax, problem, exact)
    assert check.ok
    assert check.worst_error < 1e-14


def _subtly_wrong(per_sample):
    def wrong(scores, labels):
        losses, gradient = per_sample(scores, labels)
        return losses, gradient * (1 + 1e-8)
    return wrong


def test_spot_check_catches_a_subtly_wrong_oracle(monkeypatch):
    real = BATCH_LOSSES[SOFTMAX]
    broken = dataclasses.replace(real, per_sample=_subtly_wrong(real.per_sample))
    monkeypatch.setitem(BATCH_LOSSES, SOFTMAX, broken)
    problem = _problem(1.0)
    check = spot_check(broken, problem, broken.evaluate(problem))
    assert not check.ok
    assert check.worst_error == pytest.approx(1e-8, rel=0.05)
    # check_implementation uses the patched oracle, and its report says the spot check failed.
    report = judge(stable_softmax)
    assert not report.oracle.spot_checks_ok
    assert all(not spot.ok for spot in report.oracle.spot_checks)
    # and then it gives no verdict on the user's code: the oracle is not to be trusted.
    assert (report.verdict, report.mistake) == ("unproven", "oracle failed its spot check")
    assert not report.ok


def test_spot_checks_are_ok_in_a_real_check():
    report = judge(stable_softmax)
    assert report.oracle.spot_checks_ok
    assert max(spot.worst_error for spot in report.oracle.spot_checks) < 1e-13


# --- bad input ----------------------------------------------------------------------------------


class Recorder:
    """A correct function that counts its calls (bad input must be refused before any)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, W, X, y, reg):
        self.calls += 1
        return stable_softmax(W, X, y, reg)


def refused(error, match, loss=SOFTMAX, fn=None, **options):
    fn = fn or Recorder()
    with pytest.raises(error, match=match) as info:
        check_implementation(fn, loss, **{**SMALL, **options})
    if isinstance(fn, Recorder):
        assert fn.calls == 0
    return info.value


def test_unknown_loss():
    refused(UnknownLossError, "no loss named 'softmax'", loss="softmax")


def test_catalog_loss_without_oracle():
    error = refused(ValueError, "two-layer-network.md: cannot be an oracle", loss="two-layer-network")
    assert not isinstance(error, UnknownLossError)


@pytest.mark.parametrize("key", ["samples", "features", "classes"])
@pytest.mark.parametrize("value", [0, -1, True, 2.5])
def test_sizes_must_be_positive_integers(key, value):
    refused(ValueError, f"{key} must be a positive integer, not {value!r}", **{key: value})


def test_one_score_loss_needs_one_class():
    refused(ValueError, "one score per sample: classes must be 1, not 3", loss=LOGISTIC,
            fn=example("logistic.py:logistic_loss"), classes=3)


@pytest.mark.parametrize("loss", [SOFTMAX, SVM])
def test_classifier_needs_two_classes(loss):
    refused(ValueError, "needs at least 2 classes, not 1", loss=loss, classes=1)


@pytest.mark.parametrize("dtype", ["float16", "int64", "complex128", np.float16, np.int32])
def test_dtype_must_be_float32_or_float64(dtype):
    refused(ValueError, "dtype must be float32 or float64", dtype=dtype)


@pytest.mark.filterwarnings("ignore:finfo:DeprecationWarning")
@pytest.mark.parametrize("dtype", ["flaot32", "nonsense"])
def test_unparseable_dtype_is_refused(dtype):
    refused(ValueError, "dtype must be float32 or float64", dtype=dtype)


def test_d_equals_k_needs_a_layout():
    refused(ConventionError, "D = K", features=4, classes=4)


@pytest.mark.parametrize("layout", ["dxk", "D x K", "vector"])
def test_bad_layout(layout):
    refused(ConventionError, "layout must be 'DxK' or 'KxD'", layout=layout)


def test_layout_for_a_one_score_loss():
    refused(ConventionError, "no layout to choose", loss=MSE, fn=example("mse.py:mse_loss"),
            classes=None, layout="DxK")


@pytest.mark.parametrize("fn", [lambda W, X: None, lambda W, X, y, reg, extra, more: None],
                         ids=["two", "six"])
def test_wrong_number_of_parameters(fn):
    refused(ConventionError, "required parameters, expected 3 or 4", fn=fn)


def test_reg_given_to_a_function_without_reg():
    refused(ConventionError, "takes no reg parameter", fn=no_reg, reg=0.5)
    assert check_implementation(no_reg, reg=0, **SMALL).verdict == "correct"


@pytest.mark.parametrize("reg", [-0.1, float("nan"), float("inf"), True, "0.1"])
def test_bad_reg(reg):
    refused(ValueError, "reg must be a finite number >= 0", reg=reg)


@pytest.mark.parametrize("options", [
    {"samples": 20_000_001, "features": 1, "classes": 2, "memory": 1},
    {"samples": 10, "features": 2_000_001, "classes": 10, "memory": 1},
    {"samples": 10**6, "features": 10**6},
    {"samples": 10**9, "features": 10**9, "classes": 10**9},
])
def test_sizes_needing_more_memory_than_the_limit_are_refused_before_allocating(options):
    started = time.perf_counter()
    error = refused(ValueError, r"^the check needs about [0-9.e+]+ GiB of memory at N = \d+, "
                    r"D = \d+, K = \d+, 3 trials, more than its limit of [0-9.]+ GiB", **options)
    assert len(str(error).splitlines()) == 1
    assert ("(memory=, --max-memory)" if "memory" in options
            else "the default: 0.5 of this machine's memory") in str(error)
    assert time.perf_counter() - started < 0.5


def test_the_memory_needed_grows_with_the_trials_that_keep_their_inputs():
    sizes = {"samples": 10**6, "features": 20, "classes": 2}
    refused(ValueError, r"needs about 0.999 GiB .* 3 trials, more than its limit of 0.9 GiB",
            memory=0.9, **sizes)
    assert required_memory(sizes, trials=1) < 0.9 * 2**30 < required_memory(sizes, trials=3)
    require_memory(required_memory(sizes, trials=1), 0.9, "")  # accepted


def test_a_size_the_old_entry_cap_refused_is_accepted_under_the_limit():
    # N x K = 3.2e7 numbers was over the 2e7-entry cap; it needs about 1.5 GiB
    sizes = {"samples": 1000, "features": 10, "classes": 32_000}
    needed = required_memory(sizes)
    assert 1.4 * 2**30 < needed < 1.6 * 2**30
    require_memory(needed, 2, "")  # accepted: no error
    with pytest.raises(ValueError, match="more than its limit of 1 GiB"):
        require_memory(needed, 1, "")


def test_the_default_limit_is_half_the_machine_memory():
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert default_memory() == pytest.approx(pages / 2 / 2**30)


@pytest.mark.parametrize("memory", [0, -1, True, "1", float("inf"), float("nan")])
def test_bad_memory(memory):
    refused(ValueError, "memory must be a number of GiB > 0", memory=memory)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_numpy_integer_sizes_cannot_overflow_the_memory_guard():
    refused(ValueError, "the check needs about", samples=np.int64(2**62), features=4)


def test_the_cli_refuses_over_max_memory_in_one_line(capsys):
    from derive.cli import run

    status = run(["check-impl", f"{IMPL / 'softmax.py'}:softmax_loss_vectorized", "-N", "100000",
                  "-D", "3000", "--max-memory", "2"])
    error = capsys.readouterr().err
    assert status == 2 and len(error.splitlines()) == 1
    assert "the check needs about 13.5 GiB of memory at N = 100000, D = 3000, K = 10, 3 trials, " \
           "more than its limit of 2 GiB" in error


def test_the_language_model_check_refuses_on_the_same_principle(capsys):
    pytest.importorskip("torch")
    from derive.cli import run
    from derive.implementation.lm import check_lm_implementation
    from derive.implementation.lm.check import required_memory as lm_memory

    calls = []

    def head(hidden, weight, target):
        calls.append(1)

    llama = {"samples": 512, "hidden": 2048, "vocab": 128_256}
    with pytest.raises(ValueError, match=r"^the check needs about 7.94 GiB of memory at N = 512, "
                       r"H = 2048, V = 128256, more than its limit of 4 GiB"):
        check_lm_implementation(head, memory=4, **llama)
    assert calls == []
    require_memory(lm_memory("fused-linear", llama), 8, "")  # the Llama-3 head fits in 8 GiB
    status = run(["check-impl", f"{ROOT / 'examples' / 'llm' / 'plain.py'}:cross_entropy", "--loss",
                  "lm-cross-entropy", "-N", "100000", "-V", "128256", "--max-memory", "64"])
    error = capsys.readouterr().err
    assert status == 2 and "needs about 861 GiB of memory at N = 100000, V = 128256" in error


@pytest.mark.parametrize("trials", [0, -1, 101, True, 2.0])
def test_bad_trials(trials):
    refused(ValueError, "trials must be an integer from 1 to 100", trials=trials)


def test_bad_framework():
    refused(ConventionError, "framework must be 'numpy' or 'torch'", framework="jax")


def test_numpy_integer_sizes_are_accepted():
    report = check_implementation(stable_softmax, samples=np.int64(20), features=np.int32(5),
                                  classes=np.int64(3))
    assert report.verdict == "correct"
    assert report.sizes == SMALL and all(type(v) is int for v in report.sizes.values())


# --- determinism ----------------------------------------------------------------------------------


def _fingerprint(report):
    return (report.verdict, report.mistake, report.explanation,
            [(c.name, c.worst_ratio, c.relative_error, c.worst_index)
             for trial in report.trials for c in trial.comparisons],
            [trial.largest_score for trial in report.trials])


@pytest.mark.parametrize("target", ["softmax.py:softmax_loss_vectorized",
                                    "softmax_mistakes.py:indicator_wrong_row",
                                    "svm.py:svm_loss_missing_count"])
def test_same_seed_same_report(target):
    loss = SVM if target.startswith("svm") else SOFTMAX
    first, second = (judge(example(target), loss, seed=5) for _ in range(2))
    assert _fingerprint(first) == _fingerprint(second)
    other = judge(example(target), loss, seed=6)
    assert other.verdict == first.verdict and other.mistake == first.mistake
    assert _fingerprint(other)[4][0] != _fingerprint(first)[4][0]  # another seed, other inputs


_JSON_SCRIPT = textwrap.dedent("""
    import json, sys
    from derive import check_implementation
    from derive.implementation.loader import load_function
    from derive.report.implementation import implementation_json
    out = []
    for target in sys.argv[1:]:
        fn = load_function(target)
        report = check_implementation(fn, samples=20, features=5, classes=3, seed=3)
        document = implementation_json(report)
        del document["seconds"]
        out.append(document)
    print(json.dumps(out, sort_keys=True))
""")


def test_json_is_identical_under_different_hash_seeds():
    targets = [f"{IMPL}/softmax.py:softmax_loss_vectorized",
               f"{IMPL}/softmax_mistakes.py:missing_mean",
               f"{IMPL}/softmax_mistakes.py:no_max_shift_transposed"]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run([sys.executable, "-c", _JSON_SCRIPT, *targets], env=env,
                                   capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert completed.returncode == 0, completed.stderr
        outputs.append(completed.stdout)
    assert outputs[0] == outputs[1]
    documents = json.loads(outputs[0])
    assert [(d["verdict"], d["mistake"]) for d in documents] == [
        ("correct", None), ("wrong", "missing 1/N"), ("unstable", "no max-shift")]


def test_same_verdict_from_a_thread():
    results = {}

    def work():
        results["report"] = judge(example("softmax_mistakes.py:reg_not_doubled"))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    in_thread = results["report"]
    here = judge(example("softmax_mistakes.py:reg_not_doubled"))
    assert (in_thread.verdict, in_thread.mistake) == ("wrong", "reg W instead of 2 reg W")
    assert _fingerprint(in_thread) == _fingerprint(here)


# --- assert_implementation and the package's top level ---------------------------------------------


def test_assert_implementation_passes_silently_when_correct(capsys):
    assert assert_implementation(example("softmax.py:softmax_loss_vectorized"), **SMALL) is None
    assert capsys.readouterr() == ("", "")


def test_assert_implementation_raises_with_verdict_and_mistake():
    with pytest.raises(AssertionError) as info:
        assert_implementation(example("softmax_mistakes.py:missing_mean"), **SMALL)
    message = str(info.value)
    assert message.splitlines()[0] == "missing_mean is wrong: missing 1/N"
    assert "verdict: wrong: missing 1/N" in message


def test_assert_implementation_unstable_and_other_losses():
    with pytest.raises(AssertionError, match=r"^no_max_shift is unstable: no max-shift"):
        assert_implementation(example("softmax_mistakes.py:no_max_shift"), **SMALL)
    with pytest.raises(AssertionError, match=r"^mse_loss_missing_two is wrong: missing factor 2"):
        assert_implementation(example("mse.py:mse_loss_missing_two"), MSE, **ONE_SCORE)
    assert_implementation(example("svm.py:svm_loss_vectorized"), SVM, **SMALL)


def test_top_level_exports():
    from derive.implementation.check import ImplementationReport

    assert derive.check_implementation is check_implementation
    assert derive.ImplementationReport is ImplementationReport
    assert {"check_implementation", "ImplementationReport"} <= set(derive.__all__)
    assert isinstance(judge(stable_softmax), derive.ImplementationReport)


def test_a_function_that_overwrites_its_arguments_cannot_change_the_oracle():
    good = example("softmax.py:softmax_loss_vectorized")

    def overwrites(W, X, y, reg):
        result = good(W, X, y, reg)
        W[:], X[:], y[:] = 0, 0, 0
        return result

    report = judge(overwrites)
    assert all(trial.ok for trial in report.trials)  # the oracle judged the values passed
    assert (report.verdict, report.mistake) == ("wrong", "changes its arguments")
    assert report.mutated == ("W", "X", "y")
    assert np.any(report.trials[0].problem.X != 0)


def test_every_class_is_a_label_somewhere_so_a_bug_in_one_class_shows():
    good = example("softmax.py:softmax_loss_vectorized")

    def wrong_for_the_last_class(W, X, y, reg):
        loss, dW = good(W, X, y, reg)
        last = y == W.shape[1] - 1
        if last.any():  # as if the last class's samples were dropped from the gradient
            dW = dW + 1e-3
        return loss, dW

    report = check_implementation(wrong_for_the_last_class, samples=12, features=5, classes=10)
    assert report.verdict == "wrong"
    first, second, *rest = report.trials
    assert set(first.problem.y) == set(range(10)) and set(second.problem.y) == set(range(9))
    assert all(set(trial.problem.y) == set(range(10)) for trial in rest)


EXTREME_SAMPLES = {
    # loss: (weights, labels) for X = the identity rows below: the label wins and loses by far
    SOFTMAX: (np.array([[1000.0, -1000.0, 0.0]]), np.array([0, 0, 1, 2])),
    SVM: (np.array([[1000.0, -1000.0, 0.0]]), np.array([0, 1, 2, 0])),
    LOGISTIC: (np.array([1000.0]), np.array([0, 1, 0, 1])),
    MSE: (np.array([1000.0]), np.array([0.0, 1.0, -1.0, 2.0])),
}


@pytest.mark.parametrize("loss", [SOFTMAX, SVM, LOGISTIC, MSE])
def test_the_spot_check_holds_for_every_loss_at_extreme_logits(loss):
    """The 50-digit reference itself must not cancel (1 - sigma(1000) ~ e^-1000 needs 435
    digits): a failure here would make every check of this loss 'unproven'."""
    weights, labels = EXTREME_SAMPLES[loss]
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]])  # scores +-1000 for every sample
    oracle = BATCH_LOSSES[loss]
    problem = Problem(weights, None, X, labels, reg=0.1)
    check = spot_check(oracle, problem, oracle.evaluate(problem))
    assert len(check.samples) == 3 and check.ok, check
    for sample in range(4):  # every sample, not only the three the spot check picks
        one = Problem(weights, None, X[sample:sample + 1], labels[sample:sample + 1], reg=0.1)
        assert spot_check(oracle, one, oracle.evaluate(one)).worst_error < 1e-15, (loss, sample)


def test_a_nan_in_the_oracle_or_the_reference_never_passes_the_spot_check(monkeypatch):
    real = BATCH_LOSSES[SOFTMAX]
    weights, labels = EXTREME_SAMPLES[SOFTMAX]
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]])
    problem = Problem(weights, None, X, labels, reg=0.1)

    def nan_losses(scores, y):
        losses, gradient = real.per_sample(scores, y)
        return np.full_like(losses, np.nan), gradient

    nan_oracle = dataclasses.replace(real, per_sample=nan_losses)
    assert spot_check(nan_oracle, problem, nan_oracle.evaluate(problem)).worst_error == float("inf")
    inf_reference = dataclasses.replace(real, naive_sample=lambda s, y: (mpmath.inf, [0] * len(s)))
    assert not spot_check(inf_reference, problem, real.evaluate(problem)).ok


@pytest.mark.parametrize("seed", range(4))
def test_no_max_shift_is_caught_whatever_the_sign_of_the_extreme_scores(seed):
    """The extreme input's largest score is +1e3, so exp overflows at every seed (seeds 0 and 2
    at these sizes once drew a largest magnitude of -1e3, where nothing overflowed)."""
    report = check_implementation(example("softmax_mistakes.py:no_max_shift"), samples=7,
                                  features=5, classes=4, seed=seed)
    assert (report.verdict, report.mistake) == ("unstable", "no max-shift")
    assert report.trials[-1].problem.scores().max() == pytest.approx(1e3)
