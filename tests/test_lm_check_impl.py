"""``check_lm_implementation`` and ``derive check-impl --loss lm-cross-entropy``: the examples of
``examples/llm`` judged in float32 and bfloat16, each planted mistake caught by name, the option
matrix, the conventions, bad input as one-line errors."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from derive.cli import run  # noqa: E402
from derive.implementation.conventions import ConventionError  # noqa: E402
from derive.implementation.lm import check_lm_implementation  # noqa: E402
from derive.implementation.lm.conventions import FUSED, LOGITS, infer_convention  # noqa: E402
from derive.implementation.lm.inputs import ALL_IGNORED, combinations, draw  # noqa: E402
from derive.implementation.loader import load_function  # noqa: E402
from derive.report.lm import SCHEMA, lm_json, lm_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LLM = ROOT / "examples" / "llm"
SMALL = dict(samples=12, vocab=8, hidden=6)
DTYPES = ("float32", "bfloat16")


def example(name: str):
    file, function = name.split(":")
    return load_function(f"{LLM / file}:{function}")


def judge(name: str, dtype: str, **options):
    fn = example(name)
    sizes = dict(SMALL)
    if infer_convention(fn).kind != FUSED:
        sizes.pop("hidden")
    return check_lm_implementation(fn, dtype=dtype, **{**sizes, **options})


# --- right implementations ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["plain.py:cross_entropy", "chunked.py:chunked_cross_entropy",
                                  "fused_linear.py:fused_linear_cross_entropy"])
def test_right_implementations_are_correct(name, dtype):
    report = judge(name, dtype)
    assert report.verdict == "correct", lm_text(report)
    assert report.mistake is None
    assert report.baseline_ratio is not None


# --- each planted mistake, caught by name ------------------------------------------------------

#: Each planted mistake, its name, and options or sizes that make it stand out more in bfloat16.
MISTAKES = [
    ("upstream_ignored", "upstream gradient ignored", {}),
    ("upstream_first_entry", "upstream gradient taken from its first entry", {}),
    ("ignored_in_denominator", "ignored tokens counted in the denominator", {}),
    ("ignored_given_gradient", "ignored tokens given a gradient", {}),
    ("smoothing_missing_in_backward", "label smoothing missing from the backward",
     {"vocab": 4, "label_smoothing": 0.9}),
    ("smoothing_over_other_classes", "label smoothing eps/(V-1) instead of eps/V",
     {"vocab": 3, "label_smoothing": 0.6}),
    ("softcap_derivative_missing", "softcap derivative missing", {}),
    ("z_loss_factor", "z-loss factor", {"z_loss": 0.5}),
    ("bias_per_chunk", "bias gradient summed once per chunk", {"samples": 64}),
    ("gradient_in_place", "gradient written into the caller's logits in place", {}),
]


@pytest.mark.parametrize("function, mistake, bfloat16_options", MISTAKES)
def test_each_planted_mistake_is_named_in_float32(function, mistake, bfloat16_options):
    report = judge(f"mistakes.py:{function}", "float32")
    assert report.verdict == "wrong", lm_text(report)
    assert report.mistake == mistake, lm_text(report)
    assert not report.ok


@pytest.mark.parametrize("function, mistake, bfloat16_options", MISTAKES)
def test_each_planted_mistake_is_caught_in_bfloat16(function, mistake, bfloat16_options):
    """Named where bfloat16's rounding bound resolves it; where it cannot, the baseline-relative
    verdict (its error against plain bfloat16 PyTorch's) shows it: never exit status 0."""
    report = judge(f"mistakes.py:{function}", "bfloat16", **bfloat16_options)
    assert not report.ok, lm_text(report)
    assert (report.verdict, report.mistake) == ("wrong", mistake), lm_text(report)


@pytest.mark.parametrize("function, mistake, bfloat16_options", MISTAKES)
def test_each_planted_mistake_is_named_in_bfloat16_at_the_default_sizes(function, mistake,
                                                                         bfloat16_options):
    """At N = 16, V = 40 bfloat16's rounding hides eps/(V-1) and the z-loss factor; the same
    function judged again in float32 (the formula check) names them, and says so."""
    report = check_lm_implementation(example(f"mistakes.py:{function}"), dtype="bfloat16")
    assert (report.verdict, report.mistake) == ("wrong", mistake), lm_text(report)
    if report.formula is not None:
        assert report.formula.dtype == "float32" and report.formula.mistake == mistake
        assert "seen when judged in float32 at N = 16, V = 40" in report.explanation


def test_the_formula_check_is_shown_and_in_the_json():
    report = judge("plain.py:cross_entropy", "bfloat16")
    assert report.ok
    assert report.formula.verdict == "correct" and report.formula.dtype == "float32"
    assert "inferred   formula: also judged in float32 at N = 12, V = 8 (bfloat16's rounding " \
           "can hide a formula mistake): correct" in lm_text(report)
    assert lm_json(report)["formula"] == {"dtype": "float32", "verdict": "correct",
                                          "mistake": None,
                                          "sizes": {"samples": 12, "hidden": None, "vocab": 8}}
    assert lm_json(judge("plain.py:cross_entropy", "float32"))["formula"] is None


def test_a_kernel_that_runs_in_bfloat16_only_keeps_its_verdict():
    """The formula check is evidence only where it names a mistake: a function that refuses
    float32 inputs is judged by its bfloat16 check, and the report says what float32 gave."""
    def bfloat16_only(logits, target):
        if logits.dtype != torch.bfloat16:
            raise TypeError("this kernel takes bfloat16")
        return F.cross_entropy(logits, target)

    report = check_lm_implementation(bfloat16_only, dtype="bfloat16", samples=8, vocab=10)
    assert report.ok and report.verdict == "correct"
    assert report.formula.verdict == "crashed"
    assert any(line.endswith("): crashed") for line in report.inferred)


def test_a_baseline_that_overflows_is_left_out_not_counted_as_agreement():
    """float16's plain cross-entropy sums the smoothing term of V = 8000 classes past 65504:
    PyTorch's loss is inf there, so that output has no baseline (a note says so), and the
    function's ratio comes from its gradient alone."""
    def upcast(logits, target):
        return F.cross_entropy(logits.float(), target, reduction="sum",
                               label_smoothing=0.1).to(logits.dtype)

    report = check_lm_implementation(upcast, dtype="float16", samples=4, vocab=8000,
                                     reduction="sum", label_smoothing=0.1)
    assert report.ok, lm_text(report)
    assert report.trials[0].note == "no baseline for loss: plain PyTorch in float16 gave inf or " \
                                    "NaN there"
    assert report.baseline_ratio is not None and report.baseline_ratio <= 16


@pytest.mark.parametrize("function", ["upstream_ignored", "upstream_first_entry",
                                      "ignored_given_gradient", "gradient_in_place"])
def test_gross_mistakes_are_named_in_bfloat16_too(function):
    report = judge(f"mistakes.py:{function}", "bfloat16")
    assert report.verdict == "wrong"
    assert report.mistake == next(m for f, m, _ in MISTAKES if f == function)


def test_a_float32_computation_judged_in_float64_is_imprecise():
    report = judge("chunked.py:chunked_cross_entropy", "float64")
    assert report.verdict == "imprecise", lm_text(report)
    assert report.mistake == "float32 precision"


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_plain_pytorch_is_correct_in_every_dtype(dtype):
    report = judge("plain.py:cross_entropy", dtype)
    assert report.ok, lm_text(report)


def test_a_mistake_in_one_option_is_caught_at_its_combination_only():
    report = judge("mistakes.py:z_loss_factor", "float32")
    failing = {t.combination.label for t in report.trials if not t.ok}
    assert failing and all("z_loss" in label for label in failing)


# --- conventions ---------------------------------------------------------------------------------


def test_the_form_and_options_are_read_from_the_signature():
    def head(hidden, weight, target, bias=None, reduction="mean", z_loss_weight=0.0): ...

    convention = infer_convention(head)
    assert convention.kind == FUSED and convention.bias
    assert convention.takes == {"reduction": "reduction", "z_loss": "z_loss_weight"}
    assert convention.differentiated == ("hidden", "weight", "bias")

    def loss(logits, labels, weight=None, softcap=None): ...

    convention = infer_convention(loss)
    assert convention.kind == LOGITS and not convention.bias
    assert convention.takes == {"class_weights": "weight", "softcap": "softcap"}


def test_the_form_can_be_declared():
    def loss(a, b, c=None): ...

    assert infer_convention(loss).kind == LOGITS
    assert infer_convention(loss, "fused-linear").kind == FUSED


@pytest.mark.parametrize("fn, message", [
    (lambda logits: None, "does not take (logits, target, ...)"),
    (lambda logits, target, temperature: None, "requires temperature"),
    (42, "is not callable"),
])
def test_a_signature_derive_cannot_call_is_a_convention_error(fn, message):
    with pytest.raises(ConventionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_lm_implementation(fn, samples=4, vocab=5)


def test_the_report_shows_what_was_inferred():
    def loss(logits, target):
        return F.cross_entropy(logits, target)

    report = check_lm_implementation(loss, samples=6, vocab=5, label_smoothing=0.0)
    text = lm_text(report)
    assert "form: logits (from the signature)" in text
    assert "reduction: mean (assumed" in text
    assert report.verdict == "correct"


def test_explicit_gradients_are_judged():
    def loss_and_grad(logits, target):
        x = logits.detach().double()
        p = torch.softmax(x, dim=1)
        p[torch.arange(len(target)), target] -= 1
        return F.cross_entropy(logits.detach(), target), (p / len(target)).to(logits.dtype)

    report = check_lm_implementation(loss_and_grad, samples=6, vocab=5)
    assert report.convention.explicit
    assert report.verdict == "correct", lm_text(report)

    def wrong_grad(logits, target):
        loss, grad = loss_and_grad(logits, target)
        return loss, grad * len(target)

    assert check_lm_implementation(wrong_grad, samples=6, vocab=5).verdict == "wrong"


# --- the option matrix and the inputs ----------------------------------------------------------


def test_each_option_the_function_takes_is_judged_alone_and_together():
    takes = {"reduction": "reduction", "ignore_index": "ignore_index",
             "label_smoothing": "label_smoothing", "z_loss": "z_loss", "softcap": "softcap",
             "class_weights": "weight"}
    labels = [c.label for c in combinations(takes, {})]
    for reduction in ("mean", "sum", "none"):
        assert reduction in labels
        assert f"{reduction}, z_loss=0.05" in labels
        assert f"{reduction}, ignore_index=-100, every token ignored" in labels
        assert f"{reduction}, ignore_index=0" in labels
        assert (f"{reduction}, ignore_index=-100, label_smoothing=0.2, z_loss=0.05, softcap=5, "
                f"class_weights=random") in labels


def test_a_declared_option_fixes_its_value():
    labels = [c.label for c in combinations({"reduction": "reduction"},
                                            {"reduction": "sum", "softcap": 30.0})]
    assert labels == ["sum, softcap=30"]


def test_inputs_hold_the_dtypes_numbers_and_a_random_upstream():
    plan = combinations({"reduction": "reduction", "ignore_index": "ignore_index"}, {})
    none = next(c for c in plan if c.label == "none, ignore_index=-100")
    arrays = draw("logits", {"samples": 64, "hidden": None, "vocab": 9}, none, "bfloat16", 0, 3)
    logits = arrays["logits"]
    assert np.array_equal(torch.tensor(logits).bfloat16().double().numpy(), logits)
    assert arrays["upstream"].shape == (64,) and len(np.unique(arrays["upstream"])) > 1
    ignored = arrays["target"] == -100
    assert ignored.any() and not ignored.all()
    everyone = next(c for c in plan if c.ignored == ALL_IGNORED)
    assert (draw("logits", {"samples": 5, "hidden": None, "vocab": 9}, everyone, "float32", 0,
                 1)["target"] == -100).all()
    pad = next(c for c in plan if c.label == "mean, ignore_index=0")
    target = draw("logits", {"samples": 64, "hidden": None, "vocab": 9}, pad, "float32", 0, 2)[
        "target"]
    assert (target == 0).any()


def test_an_all_ignored_mean_accepts_nan_or_zero_and_says_which():
    report = judge("plain.py:cross_entropy", "float32")
    notes = {t.note for t in report.trials if t.combination.ignored == ALL_IGNORED}
    assert "loss NaN (as PyTorch: 0/0)" in notes
    report = judge("chunked.py:chunked_cross_entropy", "float32")
    notes = {t.note for t in report.trials if t.combination.ignored == ALL_IGNORED}
    assert "loss 0 (a division by max(count, 1))" in notes


def test_a_nan_gradient_at_an_all_ignored_batch_is_unstable():
    def divides_by_zero(logits, target, ignore_index=-100):
        valid = target != ignore_index
        log_p = torch.log_softmax(logits, dim=1)
        picked = log_p.gather(1, torch.where(valid, target, 0)[:, None])[:, 0]
        return -(picked * valid).sum() / valid.sum()  # 0 * inf = NaN in the gradient

    report = check_lm_implementation(divides_by_zero, samples=6, vocab=5)
    assert report.verdict == "unstable"


# --- crashes, time limit --------------------------------------------------------------------------


def test_a_function_that_raises_is_crashed():
    def broken(logits, target):
        raise RuntimeError("CUDA out of memory")

    report = check_lm_implementation(broken, samples=4, vocab=5)
    assert report.verdict == "crashed"
    assert "RuntimeError: CUDA out of memory" in report.explanation


def test_a_function_past_the_time_limit_is_crashed():
    import time

    def slow(logits, target):
        time.sleep(5)

    report = check_lm_implementation(slow, samples=4, vocab=5, time_limit=0.2)
    assert report.verdict == "crashed" and "time limit" in report.explanation


def test_a_loss_of_the_wrong_shape_is_crashed():
    def per_token(logits, target):
        return F.cross_entropy(logits, target, reduction="none")

    report = check_lm_implementation(per_token, samples=4, vocab=5)
    assert report.verdict == "crashed" and "shape" in report.explanation


@pytest.mark.parametrize("arguments, message", [
    (dict(dtype="int8"), "dtype must be one of"),
    (dict(samples=0), "samples must be an integer >= 1"),
    (dict(vocab=1), "vocab must be an integer >= 2"),
    (dict(hidden=4), "hidden (H) is a size of the fused linear form only"),
    (dict(label_smoothing=2.0), "label_smoothing must be a number in [0, 1]"),
    (dict(reduction="avg"), "reduction must be one of"),
])
def test_bad_arguments_raise_value_error(arguments, message):
    with pytest.raises(ValueError) as error:
        check_lm_implementation(lambda logits, target: None, **{"samples": 4, "vocab": 5,
                                                                **arguments})
    assert message in str(error.value)


# --- the command line and the JSON ----------------------------------------------------------------


def check_impl(capsys, *arguments):
    status = run(["check-impl", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_correct_exits_0(capsys):
    status, out, err = check_impl(capsys, f"{LLM / 'plain.py'}:cross_entropy", "--loss",
                                  "lm-cross-entropy", "-N", "8", "-V", "6", "--dtype", "bfloat16")
    assert status == 0, out + err
    assert "\nverdict: correct" in out and "baseline:" in out
    assert "bfloat16" in out


def test_cli_json_names_the_mistake(capsys):
    status, out, _ = check_impl(capsys, f"{LLM / 'mistakes.py'}:upstream_first_entry", "--loss",
                                "lm-cross-entropy", "-N", "8", "-V", "6", "--format", "json")
    assert status == 1
    data = json.loads(out)
    assert data["schema"] == SCHEMA and data["verdict"] == "wrong"
    assert data["mistake"] == "upstream gradient taken from its first entry"
    assert {c["options"]["reduction"] for c in data["combinations"]} == {"mean", "sum", "none"}


def test_cli_fused_form_with_sizes(capsys):
    status, out, _ = check_impl(capsys, f"{LLM / 'mistakes.py'}:bias_per_chunk", "--loss",
                                "lm-cross-entropy", "-N", "20", "-H", "4", "-V", "6")
    assert status == 1
    assert "bias gradient summed once per chunk" in out and "H = 4" in out


@pytest.mark.parametrize("arguments, message", [
    (["-K", "4"], "--classes does not apply to lm-cross-entropy"),
    (["-K", "4", "--reg", "1"], "--classes, --reg do not apply"),
    (["--set", "epsilon=0.1"], "--set does not apply to lm-cross-entropy"),
    (["--dtype", "int8"], "argument --dtype: invalid choice"),
    (["--softcap", "-1"], "softcap must be a finite number > 0"),
    (["-H", "3"], "hidden (H) is a size of the fused linear form only"),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, arguments, message):
    status, out, err = check_impl(capsys, f"{LLM / 'plain.py'}:cross_entropy", "--loss",
                                  "lm-cross-entropy", *arguments)
    assert status == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in err


@pytest.mark.parametrize("arguments, message", [
    (["-V", "100"], "--vocab does not apply to softmax-cross-entropy (only to --loss lm-cross-entropy)"),
    (["--z-loss", "0.1", "--reduction", "sum"], "--reduction, --z-loss do not apply to softmax-cross-entropy"),
])
def test_language_model_options_are_refused_for_the_other_losses(capsys, arguments, message):
    softmax = Path(__file__).resolve().parent.parent / "examples" / "impl" / "softmax.py"
    status, out, err = check_impl(capsys, f"{softmax}:softmax_loss_vectorized", *arguments)
    assert status == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert message in line


def test_json_is_finite_and_complete():
    report = judge("mistakes.py:upstream_ignored", "float32")
    data = json.loads(json.dumps(lm_json(report), allow_nan=False))
    assert data["baseline"]["factor"] > 1
    assert all(set(o) >= {"name", "ok", "tolerance"} for c in data["combinations"]
               for o in c["outputs"])


# --- nn.Module instances ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_nn_module_loss_and_head_are_judged(dtype):
    report = judge("modules.py:loss_module", dtype)
    assert report.verdict == "correct", lm_text(report)
    assert report.convention.parameters == ()
    assert {"reduction", "ignore_index", "label_smoothing", "class_weights"} <= set(
        report.convention.takes)
    report = judge("modules.py:head", dtype)
    assert report.verdict == "correct", lm_text(report)
    assert report.convention.kind == FUSED
    assert dict(report.convention.parameters) == {"weight": "lm_head.weight",
                                                  "bias": "lm_head.bias"}
    assert "nn.Module" in lm_text(report)


def test_an_nn_modules_attributes_are_put_back():
    module = example("modules.py:loss_module")
    judge("modules.py:loss_module", "float32")
    assert module.reduction == "mean" and module.weight is None


def test_a_module_whose_bias_gets_no_gradient_is_wrong():
    report = judge("modules.py:detached_bias", "float32")
    assert report.verdict == "wrong", lm_text(report)
    assert any(c.name == "dbias" and not c.ok for t in report.trials for c in t.comparisons)


def test_a_module_with_other_parameters_is_a_convention_error():
    with pytest.raises(ConventionError, match="one V x H weight"):
        check_lm_implementation(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 5)))


# --- the fused form: an optional bias, and gradients judged on subsets at large sizes -----------


def test_a_fused_function_with_an_optional_bias_is_judged_without_it_too():
    report = judge("fused_linear.py:fused_linear_cross_entropy", "float32", reduction="sum")
    labels = [t.combination.label for t in report.trials]
    assert "sum, without bias" in labels
    without = next(t for t in report.trials if not t.combination.bias)
    assert [c.name for c in without.comparisons] == ["loss", "dhidden", "dweight"]


def test_large_fused_problems_are_judged_on_token_and_row_subsets(monkeypatch):
    import derive.implementation.lm.check as lm_check

    monkeypatch.setattr(lm_check, "FULL_GRADIENT_WORK", 100)
    monkeypatch.setattr(lm_check, "JUDGED_TOKENS", 5)
    monkeypatch.setattr(lm_check, "JUDGED_ROWS", 4)
    report = judge("fused_linear.py:fused_linear_cross_entropy", "float32", reduction="none")
    assert report.verdict == "correct", lm_text(report)
    assert any(line.startswith("judged entries: dhidden of 5 tokens") for line in report.inferred)
    report = judge("mistakes.py:bias_per_chunk", "float32", samples=24)
    assert report.mistake == "bias gradient summed once per chunk", lm_text(report)
    report = judge("mistakes.py:upstream_ignored", "float32")  # the logits form: whole
    assert not any(line.startswith("judged entries") for line in report.inferred)


def test_class_weights_are_judged_with_every_option():
    def weighted(logits, target, weight=None, reduction="mean", ignore_index=-100,
                 label_smoothing=0.0):
        return F.cross_entropy(logits, target, weight=weight, reduction=reduction,
                               ignore_index=ignore_index, label_smoothing=label_smoothing)

    report = check_lm_implementation(weighted, samples=12, vocab=8)
    assert report.ok, lm_text(report)
    assert any("class_weights=random" in t.combination.label for t in report.trials)

    def unweighted_mean(logits, target, weight=None):  # divides by the count, not sum of weights
        losses = F.cross_entropy(logits, target, weight=weight, reduction="none")
        return losses.mean()

    assert check_lm_implementation(unweighted_mean, samples=12, vocab=8).verdict == "wrong"
