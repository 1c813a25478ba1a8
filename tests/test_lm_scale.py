"""The language-model check at scale: the plan above ``SCALE_WORK`` (the option matrix at the
default sizes, a few combinations at the user's), the report's fields for it, ``device=``, the
spot check's bounded cost and its fixed-point 50-digit evaluation, the baseline on judged
subsets, and the GPU script's dry run.  Thresholds are lowered so every test stays small."""

import importlib.util
import inspect
import json
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

import derive.implementation.lm.check as lm_check  # noqa: E402
from derive.cli import run  # noqa: E402
from derive.implementation.lm import check_lm_implementation  # noqa: E402
from derive.implementation.lm.check import DEFAULT_SIZES, at_scale, work  # noqa: E402
from derive.implementation.lm.conventions import FUSED, LOGITS, call, infer_convention  # noqa: E402
from derive.implementation.lm.inputs import ALL_IGNORED, combinations, draw  # noqa: E402
from derive.implementation.loader import load_function  # noqa: E402
from derive.oracle.lm import LMOptions, cross_entropy, fused_linear_cross_entropy  # noqa: E402
from derive.oracle.lm import reference  # noqa: E402
from derive.oracle.lm.baseline import baseline_outputs  # noqa: E402
from derive.report.lm import lm_json, lm_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LLM = ROOT / "examples" / "llm"
#: A fused problem "at scale" once SCALE_WORK is lowered to this.
LOW = 1000
LARGE = dict(samples=24, hidden=8, vocab=60)
no_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def example(name: str):
    file, function = name.split(":")
    return load_function(f"{LLM / file}:{function}")


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(lm_check, "SCALE_WORK", LOW)


# --- the plan -----------------------------------------------------------------------------------


def test_at_scale_takes_the_first_reduction_and_none_with_every_option_and_ignored_tokens():
    takes = {"reduction": "reduction", "ignore_index": "ignore_index",
             "label_smoothing": "label_smoothing"}
    chosen = at_scale(combinations(takes, {}))
    assert [c.label for c in chosen] == ["mean, ignore_index=-100, label_smoothing=0.2",
                                         "none, ignore_index=-100, label_smoothing=0.2"]
    assert all(c.ignored == "some" and c.bias for c in chosen)


def test_at_scale_of_a_declared_reduction_or_a_function_without_options():
    declared = at_scale(combinations({"reduction": "reduction", "z_loss": "z_loss"},
                                     {"reduction": "sum"}))
    assert [c.label for c in declared] == ["sum, z_loss=0.05"]
    assert [c.label for c in at_scale(combinations({}, {}))] == ["mean"]
    fixed = at_scale(combinations({}, {"ignore_index": -1}))  # ignoring, computed inside
    assert [(c.label, c.ignored) for c in fixed] == [("mean, ignore_index=-1", "some")]


def test_work_counts_one_oracle_pass():
    assert work(FUSED, LARGE) == 24 * 60 * 8
    assert work(LOGITS, {"samples": 10, "vocab": 7, "hidden": None}) == 70 * lm_check.LOGIT_WORK


def test_small_problems_are_judged_whole_at_their_sizes():
    report = check_lm_implementation(example("fused_linear.py:fused_linear_cross_entropy"),
                                     **LARGE)
    assert not any(line.startswith("plan at scale") for line in report.inferred)
    assert all(t.sizes == report.sizes for t in report.trials)
    assert lm_json(report)["plan"]["at_scale"] is False
    assert "time:" not in lm_text(report)  # the text of a small check is the same every run


def test_the_plan_at_scale_judges_the_matrix_small_and_two_combinations_at_the_users_sizes(
        low_threshold):
    fn = example("fused_linear.py:fused_linear_cross_entropy")
    report = check_lm_implementation(fn, **LARGE)
    assert report.verdict == "correct", lm_text(report)
    plan = combinations(infer_convention(fn).takes, {})
    small = [t for t in report.trials if t.sizes != report.sizes]
    large = [t for t in report.trials if t.sizes == report.sizes]
    assert len(small) == len(plan) + 1  # and once without the optional bias
    assert all(t.sizes == dict(DEFAULT_SIZES) for t in small)
    assert [t.combination.label for t in large] == [c.label for c in at_scale(plan)]
    line = next(line for line in report.inferred if line.startswith("plan at scale"))
    assert "N = 24, H = 8, V = 60 only mean, ignore_index=-100, label_smoothing=0.2; none" in line
    assert "one drawn head shared" in line


def test_the_report_says_where_each_combination_was_judged_and_the_users_seconds(low_threshold):
    report = check_lm_implementation(example("plain.py:cross_entropy"), samples=30, vocab=50)
    assert 0 < report.user_seconds < report.seconds
    text = lm_text(report)
    assert "  at N = 16, V = 40:" in text and "  at N = 30, V = 50:" in text
    assert f"of which {report.user_seconds:.1f} s in cross_entropy's own calls" in text
    data = json.loads(json.dumps(lm_json(report)))
    takes = infer_convention(example("plain.py:cross_entropy")).takes
    assert data["plan"] == {"at_scale": True, "work": work(LOGITS, report.sizes),
                            "threshold": LOW, "at_user_sizes": [
                                c.label for c in at_scale(combinations(takes, {}))]}
    assert data["user_seconds"] == report.user_seconds and data["device"] == "cpu"
    assert [c["sizes"]["samples"] for c in data["combinations"]][-2:] == [30, 30]
    assert data["combinations"][0]["sizes"] == {"samples": 16, "hidden": None, "vocab": 40}


def test_the_head_drawn_once_is_shared_by_the_combinations_at_scale(low_threshold, monkeypatch):
    drawn = []
    original = lm_check.draw

    def recording(kind, sizes, combination, dtype, seed, index):
        arrays = original(kind, sizes, combination, dtype, seed, index)
        drawn.append((sizes["hidden"], arrays))
        return arrays

    monkeypatch.setattr(lm_check, "draw", recording)
    check_lm_implementation(example("fused_linear.py:fused_linear_cross_entropy"), **LARGE)
    full = [arrays for hidden, arrays in drawn if hidden == LARGE["hidden"]]
    assert len(full) == 1  # the V x H weight drawn once at the user's size
    assert drawn[-1][0] == 1  # the second combination there: only its targets and upstream
    assert drawn[-1][1]["upstream"].shape == (LARGE["samples"],)


# --- mistakes through the plan at scale ---------------------------------------------------------


def uint8_targets(logits, target, reduction="mean", ignore_index=-100):
    """Right while V <= 256: the targets stored in a byte wrap around beyond it."""
    wrapped = torch.where(target == ignore_index, target, target.to(torch.uint8).long())
    return F.cross_entropy(logits, wrapped, reduction=reduction, ignore_index=ignore_index)


def test_a_mistake_that_shows_only_at_the_users_sizes_is_caught_there(low_threshold):
    report = check_lm_implementation(uint8_targets, samples=20, vocab=300)
    assert report.verdict == "wrong", lm_text(report)
    small = [t for t in report.trials if t.sizes != report.sizes]
    assert small and all(t.ok for t in small)
    failed = [t for t in report.trials if not t.ok]
    assert failed and all(t.sizes == report.sizes for t in failed)


def test_a_planted_mistake_is_named_through_the_plan_at_scale(low_threshold):
    report = check_lm_implementation(example("mistakes.py:upstream_first_entry"), samples=24,
                                     vocab=50)
    assert report.verdict == "wrong"
    assert report.mistake == "upstream gradient taken from its first entry"
    # caught at the default sizes: the user's sizes are not judged (said), no time spent there
    assert all(t.sizes != report.sizes for t in report.trials)
    assert any(line.startswith("not judged at N = 24") for line in report.inferred)
    assert lm_json(report)["plan"]["at_scale"] is True
    assert lm_json(report)["plan"]["at_user_sizes"] == []


@pytest.mark.parametrize("right, planted, mistake", [
    ("fused_linear.py:fused_linear_cross_entropy", "mistakes.py:bias_per_chunk",
     "bias gradient summed once per chunk"),
    ("plain.py:cross_entropy", "mistakes.py:upstream_first_entry",
     "upstream gradient taken from its first entry"),
    ("plain.py:cross_entropy", "mistakes.py:upstream_ignored", "upstream gradient ignored"),
])
def test_a_planted_mistake_only_at_the_users_sizes_is_named_there(low_threshold, right, planted,
                                                                  mistake):
    right, planted = example(right), example(planted)
    large = planted_beyond(right, planted, DEFAULT_SIZES["vocab"])
    sizes = dict(LARGE) if infer_convention(right).kind == FUSED else dict(samples=24, vocab=60)
    report = check_lm_implementation(large, **sizes)
    assert report.verdict == "wrong" and report.mistake == mistake, lm_text(report)
    assert all(t.ok for t in report.trials if t.sizes != report.sizes)
    assert not report.trials[-1].ok and report.trials[-1].sizes == report.sizes


def planted_beyond(right, planted, vocabulary: int):
    """``right`` up to ``vocabulary`` classes, ``planted`` beyond (``planted``'s signature)."""
    def fn(*args, **keywords):
        classes = args[1].shape[0] if infer_convention(right).kind == FUSED else args[0].shape[1]
        return (planted if classes > vocabulary else right)(*args, **keywords)

    fn.__signature__ = inspect.signature(planted)
    fn.__name__ = "planted_beyond"
    return fn


# --- device= ------------------------------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error():
    with pytest.raises(ValueError, match="^CUDA is not available on this machine"):
        check_lm_implementation(example("plain.py:cross_entropy"), device="cuda")


def test_an_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="device must be one of cpu, cuda, not 'tpu'"):
        check_lm_implementation(example("plain.py:cross_entropy"), device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cli_device_cuda_without_a_gpu_exits_2(capsys):
    status = run(["check-impl", f"{LLM / 'plain.py'}:cross_entropy", "--loss",
                  "lm-cross-entropy", "--device", "cuda"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("CUDA is not available on this machine (use --device cpu)")
    assert len(err.splitlines()) == 1


def test_cli_device_is_an_option_of_the_language_model_loss_only(capsys):
    softmax = ROOT / "examples" / "impl" / "softmax.py"
    status = run(["check-impl", f"{softmax}:softmax_loss_vectorized", "--device", "cpu"])
    assert status == 2
    assert "--device does not apply to" in capsys.readouterr().err


def test_cli_device_cpu_is_the_default(capsys):
    status = run(["check-impl", f"{LLM / 'plain.py'}:cross_entropy", "--loss",
                  "lm-cross-entropy", "--device", "cpu", "--format", "json"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["device"] == "cpu"


@no_cuda
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_check_on_cuda(dtype):
    report = check_lm_implementation(example("fused_linear.py:fused_linear_cross_entropy"),
                                     samples=12, hidden=6, vocab=8, dtype=dtype, device="cuda")
    assert report.verdict == "correct" and report.device == "cuda", lm_text(report)
    assert "device: cuda" in " ".join(report.inferred)
    wrong = check_lm_implementation(example("mistakes.py:upstream_first_entry"), samples=12,
                                    vocab=8, dtype=dtype, device="cuda")
    assert wrong.mistake == "upstream gradient taken from its first entry"


# --- conventions.call: judged subsets before the float64 copy -----------------------------------


def test_call_returns_only_the_judged_rows_of_the_gradients():
    fn = example("fused_linear.py:fused_linear_cross_entropy")
    convention = infer_convention(fn)
    combination = combinations(convention.takes, {"reduction": "sum"})[0]
    arrays = draw(FUSED, LARGE, combination, "float32", 0, 0)
    whole = call(fn, convention, arrays, combination.values, "float32", "bias")
    tokens, rows = np.array([1, 5, 7]), np.array([0, 3])
    part = call(fn, convention, dict(arrays, tokens=tokens, rows=rows), combination.values,
                "float32", "bias")
    assert part.gradients["hidden"].shape == (3, LARGE["hidden"])
    assert np.array_equal(part.gradients["hidden"], whole.gradients["hidden"][tokens])
    assert np.array_equal(part.gradients["weight"], whole.gradients["weight"][rows])
    assert np.array_equal(part.gradients["bias"], whole.gradients["bias"][rows])
    assert part.seconds > 0


def explicit_fused(hidden, weight, target, bias, reduction="sum"):
    """Returns ``(loss, grads)``: its own gradients, from autograd on copies."""
    h, w, b = (t.detach().clone().requires_grad_() for t in (hidden, weight, bias))
    loss = F.cross_entropy(h @ w.T + b, target, reduction=reduction)
    return loss.detach(), torch.autograd.grad(loss.sum(), (h, w, b))


def test_explicit_gradients_are_cut_to_the_judged_rows_at_scale(low_threshold, monkeypatch):
    monkeypatch.setattr(lm_check, "FULL_GRADIENT_WORK", 100)
    monkeypatch.setattr(lm_check, "JUDGED_TOKENS", 5)
    monkeypatch.setattr(lm_check, "JUDGED_ROWS", 4)
    report = check_lm_implementation(explicit_fused, **LARGE)
    assert report.verdict == "correct", lm_text(report)
    large = [t for t in report.trials if t.sizes == report.sizes]
    assert large and all(t.comparisons[1].worst_index[0] < 5 for t in large)  # dhidden: 5 rows


def test_a_change_in_place_is_found_block_by_block_without_a_copy(monkeypatch):
    from derive.implementation.lm import conventions

    monkeypatch.setattr(conventions, "_COMPARED_ROWS", 2)
    arrays = {"weight": np.arange(14.0).reshape(7, 2) / 8, "target": np.array([3, -100])}
    tensors = {"weight": torch.tensor(arrays["weight"], dtype=torch.bfloat16),
               "target": torch.tensor(arrays["target"])}
    assert conventions.changed_tensors(tensors, arrays) == ()
    tensors["weight"][6, 1] += 1  # in the last block
    tensors["target"][1] = 0
    assert conventions.changed_tensors(tensors, arrays) == ("weight", "target")


def grows_the_weight(hidden, weight, target, bias=None):
    weight.data[-1] *= 2  # the caller's weight, changed
    return F.cross_entropy(hidden @ weight.T + (0 if bias is None else bias), target)


def test_a_function_changing_its_weight_is_wrong():
    report = check_lm_implementation(grows_the_weight, **LARGE)
    assert report.verdict == "wrong" and report.mistake == "changes its arguments"


# --- the baseline on subsets --------------------------------------------------------------------


def test_the_fused_baseline_on_subsets_is_autograds_plain_evaluation():
    rng = np.random.default_rng(3)
    hidden, weight = rng.normal(size=(10, 6)), rng.normal(size=(30, 6)) / 2
    bias, target = rng.normal(size=30), rng.integers(0, 30, 10)
    target[2] = -100
    options = LMOptions(reduction="none", label_smoothing=0.1, z_loss=0.01)
    upstream = rng.normal(size=10)
    tokens, rows = np.array([0, 2, 9]), np.array([1, 4, 29])
    exact = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                       tokens=tokens, rows=rows)
    outputs = baseline_outputs(exact, target, torch.float32, options, upstream, hidden=hidden,
                               weight=weight, bias=bias)
    h, w, b = (torch.tensor(a, dtype=torch.float32, requires_grad=True)
               for a in (hidden, weight, bias))
    from derive.oracle.lm.baseline import plain_torch_loss

    loss = plain_torch_loss(h @ w.T + b, torch.tensor(target), options)
    (loss * torch.tensor(upstream, dtype=torch.float32)).sum().backward()
    np.testing.assert_allclose(outputs["loss"], loss.detach().double().numpy(), rtol=1e-6)
    for name, grad, chosen in (("hidden", h.grad, tokens), ("weight", w.grad, rows),
                               ("bias", b.grad, rows)):
        assert outputs[name].shape == exact_shape(exact, name)
        np.testing.assert_allclose(outputs[name], grad[chosen].double().numpy(), rtol=1e-5,
                                   atol=1e-6)


def exact_shape(exact, name):
    return np.shape(getattr(exact, name))


# --- the spot check: bounded cost, fixed-point 50 digits ----------------------------------------


def test_the_spot_checks_cost_is_bounded_in_class_evaluations(monkeypatch):
    monkeypatch.setattr(reference, "SPOT_CLASSES", 12_000)
    rng = np.random.default_rng(0)
    for vocabulary, tokens in ((5000, 2), (20_000, 1)):
        logits, target = 3 * rng.normal(size=(40, vocabulary)), rng.integers(0, vocabulary, 40)
        check = reference.spot_check(logits, target, cross_entropy(logits, target))
        assert check.ok
        assert len(check.tokens) == tokens and check.classes == tokens * vocabulary
        assert check.classes <= max(reference.SPOT_CLASSES, vocabulary)


def test_a_small_batchs_reduced_loss_is_recomputed_from_every_token_within_its_own_bound():
    rng = np.random.default_rng(6)
    logits, target = rng.normal(size=(20, 50)), rng.integers(0, 50, 20)
    check = reference.spot_check(logits, target, cross_entropy(logits, target))
    assert check.ok and check.classes == (reference.SPOT_TOKENS + 20) * 50
    assert check.classes <= reference.SPOT_CLASSES + reference.FULL_LOSS_ENTRIES


def test_the_fused_spot_check_adds_the_hidden_entry_only_within_its_budget(monkeypatch):
    monkeypatch.setattr(reference, "SPOT_CLASSES", 12_000)
    rng = np.random.default_rng(1)
    for vocabulary, expected in ((2000, (3 + 2) * 2000), (5000, 2 * 5000)):
        # 12 tokens: N V above FULL_LOSS_ENTRIES, so no pass over every token either
        hidden, weight = rng.normal(size=(12, 5)), rng.normal(size=(vocabulary, 5))
        target = rng.integers(0, vocabulary, 12)
        result = fused_linear_cross_entropy(hidden, weight, target)
        check = reference.spot_check_fused(hidden, weight, target, result)
        assert check.ok and check.classes == expected <= reference.SPOT_CLASSES


def test_the_spot_check_does_not_grow_with_the_number_of_tokens():
    rng = np.random.default_rng(2)
    counts = []
    for n in (50, 400):
        logits, target = rng.normal(size=(n, 600)), rng.integers(0, 600, n)
        counts.append(reference.spot_check(logits, target, cross_entropy(logits, target)).classes)
    assert counts[0] == counts[1] == reference.SPOT_TOKENS * 600


def naive_mpmath(row, label, options, a):
    """The token's loss and gradient from the definitions in plain mpmath at 60 digits."""
    with mpmath.workdps(60):
        x = [mpmath.mpf(v) for v in row]
        c = options.softcap
        s = x if c is None else [c * mpmath.tanh(v / c) for v in x]
        w = [mpmath.mpf(1)] * len(x) if options.class_weights is None else \
            [mpmath.mpf(v) for v in options.class_weights]
        total = mpmath.fsum(mpmath.exp(v) for v in s)
        lse, eps, z = mpmath.log(total), mpmath.mpf(options.label_smoothing), options.z_loss
        cross = (1 - eps) * w[label] * (lse - s[label]) + eps / len(x) * mpmath.fsum(
            wk * (lse - sk) for wk, sk in zip(w, s))
        p = [mpmath.exp(v) / total for v in s]
        grad = [a * ((1 - eps) * w[label] * (pj - (j == label))
                     + eps / len(x) * (mpmath.fsum(w) * pj - w[j])) + 2 * a * z * lse * pj
                for j, pj in enumerate(p)]
        if c is not None:
            grad = [g * (1 - mpmath.tanh(v / c) ** 2) for g, v in zip(grad, x)]
        return cross + z * lse**2, grad


@pytest.mark.parametrize("options", [
    LMOptions(),
    LMOptions(label_smoothing=0.2, z_loss=0.05, softcap=5.0),
    LMOptions(label_smoothing=0.1, class_weights=np.linspace(0.5, 2.0, 30)),
])
def test_the_fixed_point_evaluation_agrees_with_plain_mpmath_to_45_digits(options):
    rng = np.random.default_rng(4)
    row = np.concatenate([4 * rng.normal(size=27), [40.0, -300.0, 1e-30]])
    label, a = 5, mpmath.mpf("0.37")
    loss, grad = naive_mpmath(row, label, options, a)
    with mpmath.workdps(reference.REFERENCE_DIGITS):
        naive = reference._naive_token(row, label, options)
        fixed = reference._naive_gradient(naive, label, options, a, a)
        mine = naive.cross + mpmath.mpf(options.z_loss) * naive.lse**2
        assert abs(mine - loss) <= mpmath.mpf(10) ** -45 * abs(loss)
        scale = max(abs(g) for g in grad)
        worst = max(abs(reference._mpf(fixed[j]) - g) for j, g in enumerate(grad))
        assert worst <= mpmath.mpf(10) ** -45 * scale


def test_the_fixed_point_exp_is_within_its_error_bound():
    arguments = [0.0, 1e-30, 2.0**-24, 0.5, 1.0, 3.75, 20.0, 100.0, 142.0, 1e6]
    fixed = reference._fixed(arguments)
    values = reference._exp_negative(fixed)
    with mpmath.workdps(80):
        for u, v in zip(fixed, values):
            exact = mpmath.exp(-mpmath.ldexp(mpmath.mpf(int(u)), -reference.FIXED_BITS))
            error = abs(mpmath.ldexp(int(v), -reference.FIXED_BITS) - exact)
            assert error <= reference.FIXED_ERROR * mpmath.ldexp(1, -reference.FIXED_BITS)


def test_the_spot_check_still_catches_an_oracle_off_in_the_twelfth_digit():
    rng = np.random.default_rng(5)
    logits, target = 3 * rng.normal(size=(6, 3000)), rng.integers(0, 3000, 6)
    options = LMOptions(reduction="none", softcap=5.0)
    result = cross_entropy(logits, target, options)
    off = type(result)(**{**result.__dict__, "loss": result.loss * (1 + 1e-10)})
    assert reference.spot_check(logits, target, result, options).ok
    assert not reference.spot_check(logits, target, off, options).ok


# --- the GPU script, dry run on the CPU ---------------------------------------------------------


def test_the_gpu_script_runs_on_the_cpu_at_tiny_sizes(capsys):
    spec = importlib.util.spec_from_file_location("gpu_llm", ROOT / "benchmarks" / "gpu_llm.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    status = script.main(["--device", "cpu", "--tokens", "8", "--vocab", "64", "--hidden", "16"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "figures: N = 8, H = 16, V = 64, bfloat16 on cpu: verdict correct" in out
    if not torch.cuda.is_available():
        assert script.main(["--tokens", "8", "--vocab", "64", "--hidden", "16"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


def test_all_ignored_is_never_a_combination_at_scale():
    takes = {"reduction": "reduction", "ignore_index": "ignore_index"}
    assert all(c.ignored != ALL_IGNORED for c in at_scale(combinations(takes, {})))
    assert math.isfinite(work(FUSED, {"samples": 1, "hidden": 1, "vocab": 2}))
