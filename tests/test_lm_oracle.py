"""The language-model cross-entropy oracle (``derive.oracle.lm``): exact against PyTorch float64
autograd and mpmath, stable at extreme logits, chunked, and its tolerances per dtype: wide enough
for a plain same-dtype PyTorch evaluation, narrow enough for planted mistakes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from derive.oracle.lm import LMOptions, cross_entropy, fused_linear_cross_entropy
from derive.oracle.lm.baseline import baseline_error, plain_torch_loss
from derive.oracle.lm.bounds import (Magnitudes, gamma, tolerances, unit_roundoff)
from derive.oracle.lm.reference import spot_check, spot_check_fused

N, V, H = 7, 11, 5
OPTION_GRID = [
    dict(label_smoothing=eps, z_loss=z, softcap=cap, weighted=weighted)
    for eps, z, cap, weighted in itertools.product((0.0, 0.1), (0.0, 1e-3), (None, 2.5),
                                                   (False, True))
]


def problem(seed=0, n=N, vocabulary=V, width=H, scale=3.0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, vocabulary)) * scale
    target = rng.integers(0, vocabulary, n)
    target[1] = -100
    hidden = rng.normal(size=(n, width))
    weight = rng.normal(size=(vocabulary, width)) * scale / math.sqrt(width)
    bias = rng.normal(size=vocabulary)
    return rng, logits, target, hidden, weight, bias


def options_of(spec, reduction, rng, vocabulary=V):
    weights = rng.random(vocabulary) + 0.1 if spec["weighted"] else None
    return LMOptions(reduction=reduction, label_smoothing=spec["label_smoothing"],
                     z_loss=spec["z_loss"], softcap=spec["softcap"], class_weights=weights)


def upstream_of(reduction, rng, n=N):
    return rng.normal(size=n) if reduction == "none" else float(rng.normal())


def torch_reference(options, target, upstream, **inputs):
    """PyTorch float64 autograd of the plain definition: (loss, {input: gradient})."""
    tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
               for k, v in inputs.items()}
    if "logits" in tensors:
        scores = tensors["logits"]
    else:
        scores = tensors["hidden"] @ tensors["weight"].T + tensors["bias"]
    loss = plain_torch_loss(scores, torch.tensor(target), options)
    (loss * torch.as_tensor(upstream, dtype=torch.float64)).sum().backward()
    return loss.detach().numpy(), {k: t.grad.numpy() for k, t in tensors.items()}


def relative(value, expected):
    expected = np.asarray(expected)
    return float(np.max(np.abs(np.asarray(value) - expected)) / np.max(np.abs(expected)))


def ratio(error, bound):
    """max error / bound over entries (inf where the bound is 0 and the error is not)."""
    with np.errstate(all="ignore"):
        return float(np.max(np.where(bound > 0, error / bound, np.where(error > 0, np.inf, 0))))


# --- exactness ------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("spec", OPTION_GRID, ids=str)
def test_logits_level_matches_torch_float64(spec, reduction):
    rng, logits, target, *_ = problem()
    options, upstream = options_of(spec, reduction, rng), upstream_of(reduction, rng)
    result = cross_entropy(logits, target, options, upstream)
    loss, grads = torch_reference(options, target, upstream, logits=logits)
    assert relative(result.loss, loss) < 1e-13
    assert relative(result.logits, grads["logits"]) < 1e-13
    assert not np.any(result.logits[1])  # the ignored token


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("spec", OPTION_GRID[::3], ids=str)
def test_fused_matches_torch_float64_whole_chunked_and_subsets(spec, reduction):
    rng, _, target, hidden, weight, bias = problem(1)
    options, upstream = options_of(spec, reduction, rng), upstream_of(reduction, rng)
    loss, grads = torch_reference(options, target, upstream, hidden=hidden, weight=weight,
                                  bias=bias)
    whole = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream)
    chunked = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                         memory_bytes=1, want_logits=True)
    subset = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                        tokens=[1, 4], rows=[0, 3, 10])
    for result in (whole, chunked):
        assert relative(result.loss, loss) < 1e-13
        for name in ("hidden", "weight", "bias"):
            assert relative(getattr(result, name), grads[name]) < 1e-13
    assert relative(subset.hidden, grads["hidden"][[1, 4]]) < 1e-13
    assert relative(subset.weight, grads["weight"][[0, 3, 10]]) < 1e-13
    assert relative(subset.bias, grads["bias"][[0, 3, 10]]) < 1e-13
    assert not np.any(subset.hidden[0])  # token 1 is ignored
    logits = hidden @ weight.T + bias
    assert relative(chunked.logits, cross_entropy(logits, target, options, upstream).logits) < 1e-13


def test_ignore_index_may_be_negative_or_a_class_or_none():
    rng, logits, target, *_ = problem(2)
    for ignore in (-1, 3, None):
        labels = target.copy()
        labels[1] = -1 if ignore == -1 else 3
        options = LMOptions(ignore_index=ignore, label_smoothing=0.1)
        result = cross_entropy(logits, labels, options)
        tensor = torch.tensor(logits, requires_grad=True)
        expected = F.cross_entropy(tensor, torch.tensor(labels), label_smoothing=0.1,
                                   ignore_index=-100 if ignore is None else ignore)
        expected.backward()
        assert relative(result.loss, expected.detach()) < 1e-13
        assert relative(result.logits, tensor.grad) < 1e-13


@pytest.mark.parametrize("reduction,loss", [("none", 0.0), ("sum", 0.0), ("mean", math.nan)])
def test_every_token_ignored(reduction, loss):
    rng, logits, _, hidden, weight, bias = problem(3)
    target = np.full(N, -100)
    options = LMOptions(reduction=reduction, label_smoothing=0.1, z_loss=1e-3)
    result = cross_entropy(logits, target, options, upstream_of(reduction, rng))
    fused = fused_linear_cross_entropy(hidden, weight, target, bias, options,
                                       upstream_of(reduction, rng))
    for value in (result.loss, fused.loss):
        assert np.all(np.isnan(value)) if math.isnan(loss) else not np.any(value)
    for gradient in (result.logits, fused.hidden, fused.weight, fused.bias):
        assert np.all(gradient == 0)
    assert result.denominator == 0 and result.counted == 0
    torch_loss = F.cross_entropy(torch.tensor(logits), torch.tensor(target), reduction=reduction)
    assert np.isnan(float(torch_loss.sum())) == math.isnan(loss)  # as PyTorch


def test_extreme_logits_are_finite_and_exact():
    rng, logits, target, *_ = problem(4, scale=1e4)
    target[2] = int(np.argmax(logits[2]))  # p_y = 1 up to e^-1000: p_y - 1 cancels naively
    for options in (LMOptions(label_smoothing=0.1, z_loss=1e-4), LMOptions(softcap=30.0)):
        result = cross_entropy(logits, target, options)
        assert np.isfinite(result.loss) and np.all(np.isfinite(result.logits))
        loss, grads = torch_reference(options, target, 1.0, logits=logits)
        assert relative(result.loss, loss) < 1e-13
        assert relative(result.logits, grads["logits"]) < 1e-12
        check = spot_check(logits, target, result, options)
        assert check.ok and check.worst_error < 1e-14


def test_cross_entropy_relatively_exact_where_it_is_tiny():
    logits = np.array([[50.0, 0.0, 0.0]])
    result = cross_entropy(logits, np.array([0]), LMOptions(reduction="none"))
    exact = math.log1p(2 * math.exp(-50.0))  # 3.9e-22, below float64's resolution of 1
    assert abs(result.loss[0] - exact) <= 1e-15 * exact
    assert abs(result.logits[0, 0] + 2 * math.exp(-50) / (1 + 2 * math.exp(-50))) < 1e-36


# --- the 50-digit spot check ------------------------------------------------------------------


@pytest.mark.parametrize("spec", OPTION_GRID[::5], ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_spot_check_agrees(spec, reduction):
    rng, logits, target, hidden, weight, bias = problem(5)
    target[3] = int(np.argmax(logits[3]))
    options, upstream = options_of(spec, reduction, rng), upstream_of(reduction, rng)
    check = spot_check(logits, target, cross_entropy(logits, target, options, upstream), options,
                       upstream)
    assert check.ok and check.worst_error < 1e-14 and 1 in check.tokens
    fused = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                       want_logits=True)
    check = spot_check_fused(hidden, weight, target, fused, bias, options, upstream)
    assert check.ok and check.worst_error < 1e-14


def test_spot_check_catches_a_wrong_oracle():
    rng, logits, target, hidden, weight, _ = problem(6)
    options = LMOptions(reduction="none")
    result = cross_entropy(logits, target, options)
    result.logits[:, :] *= 1 + 1e-9
    assert not spot_check(logits, target, result, options).ok
    result = cross_entropy(logits, target, options)
    result.logits[1, 0] = 1e-300  # an ignored token's gradient must be exactly 0
    assert not spot_check(logits, target, result, options).ok
    fused = fused_linear_cross_entropy(hidden, weight, target, options=options)
    fused.hidden[:, :] *= 1 + 1e-9
    assert not spot_check_fused(hidden, weight, target, fused, options=options).ok
    mean = cross_entropy(logits, target)
    wrong = type(mean)(loss=mean.loss * (1 + 1e-9), logits=mean.logits)
    assert not spot_check(logits, target, wrong).ok


# --- bad inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,message", [
    (dict(reduction="avg"), "reduction must be one of"),
    (dict(label_smoothing=-0.1), "label_smoothing must be"),
    (dict(label_smoothing=True), "label_smoothing must be"),
    (dict(z_loss=math.inf), "z_loss must be"),
    (dict(softcap=0.0), "softcap must be"),
    (dict(ignore_index=1.5), "ignore_index must be"),
    (dict(class_weights=np.array([1.0, -1.0])), "class_weights must be"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LMOptions(**kwargs)


def test_bad_inputs_are_refused():
    logits, target = np.zeros((2, 3)), np.array([0, 1])
    cases = [
        (lambda: cross_entropy(logits, np.array([0, 3])), "target 3 is outside 0..2"),
        (lambda: cross_entropy(logits, np.array([0, -1])), "target -1 is outside"),
        (lambda: cross_entropy(logits, np.array([0.0, 1.0])), "target must be 2 integers"),
        (lambda: cross_entropy(np.zeros(3), target), r"logits must be \(N, V\)"),
        (lambda: cross_entropy(logits, target, LMOptions(class_weights=np.ones(4))),
         "class_weights has 4 entries, the vocabulary 3"),
        (lambda: cross_entropy(logits, target, LMOptions(reduction="none"), upstream=1.0),
         r"upstream for reduction 'none' must have shape \(2,\)"),
        (lambda: cross_entropy(logits, target, upstream=np.ones(2)), "must be a scalar"),
        (lambda: fused_linear_cross_entropy(np.zeros((2, 4)), np.zeros((3, 5)), target),
         r"weight must be \(V, 4\)"),
        (lambda: fused_linear_cross_entropy(np.zeros((2, 4)), np.zeros((3, 4)), target,
                                            bias=np.zeros(2)), r"bias must have shape \(3,\)"),
        (lambda: fused_linear_cross_entropy(np.zeros((2, 4)), np.zeros((3, 4)), target,
                                            rows=[3]), "rows must lie in 0..2"),
        (lambda: fused_linear_cross_entropy(np.zeros((2, 4)), np.zeros((3, 4)), target,
                                            tokens=[0.5]), "tokens must be a list of indices"),
        (lambda: cross_entropy(logits, target, dtype="int8"), "no unit roundoff for dtype"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_torch_inputs_are_read_exactly():
    tensor = torch.randn(3, 5, dtype=torch.bfloat16)
    target = torch.tensor([0, 4, -100])
    result = cross_entropy(tensor, target)
    assert relative(result.logits, cross_entropy(tensor.double().numpy(), target.numpy()).logits) == 0


# --- tolerances per dtype -----------------------------------------------------------------------


DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def plain_errors(dtype, options, target, upstream, exact, **inputs):
    """|plain same-dtype torch - oracle| per output, and the oracle's bounds."""
    tensors = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in inputs.items()}
    scores = tensors["logits"] if "logits" in tensors else (
        tensors["hidden"] @ tensors["weight"].T + tensors["bias"])
    loss = plain_torch_loss(scores, torch.tensor(target), options)
    (loss * torch.as_tensor(upstream, dtype=dtype)).sum().backward()
    errors = {"loss": np.abs(loss.detach().double().numpy() - exact.loss)}
    errors.update({k: np.abs(t.grad.double().numpy() - getattr(exact, k))
                   for k, t in tensors.items()})
    return errors


def in_dtype(array, dtype):
    return torch.tensor(array).to(dtype).double().numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", range(4))
def test_plain_same_dtype_torch_is_within_the_entry_bounds(dtype, seed):
    rng = np.random.default_rng(seed)
    n, vocabulary, width = [(16, 50, 8), (5, 300, 32), (33, 7, 3), (9, 1000, 16)][seed]
    reduction = ["mean", "none", "sum", "mean"][seed]
    spec = OPTION_GRID[(5 * seed + 3) % len(OPTION_GRID)]
    options = options_of(spec, reduction, rng, vocabulary)
    upstream = upstream_of(reduction, rng, n)
    scale = [1.0, 5.0, 0.1, 3.0][seed]
    logits = in_dtype(rng.normal(size=(n, vocabulary)) * scale, dtype)
    target = rng.integers(0, vocabulary, n)
    target[0] = -100
    exact = cross_entropy(logits, target, options, upstream, dtype=dtype)
    errors = plain_errors(dtype, options, target, upstream, exact, logits=logits)
    assert ratio(errors["loss"], exact.bounds.loss) < 1
    assert ratio(errors["logits"], exact.bounds.logits) < 1
    hidden = in_dtype(rng.normal(size=(n, width)), dtype)
    weight = in_dtype(rng.normal(size=(vocabulary, width)) * scale / math.sqrt(width), dtype)
    bias = in_dtype(rng.normal(size=vocabulary), dtype)
    fused = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                       dtype=dtype)
    errors = plain_errors(dtype, options, target, upstream, fused, hidden=hidden, weight=weight,
                          bias=bias)
    for name in ("loss", "hidden", "weight", "bias"):
        assert ratio(errors[name], getattr(fused.bounds, name)) < 1, name
    a_priori = tolerances(dtype, Magnitudes.of_fused(hidden, weight, target, bias, options,
                                                     upstream), options)
    for name in ("loss", "hidden", "weight", "bias"):
        assert errors[name].max() <= getattr(a_priori, name), name


def planted(kind, logits, target, vocabulary):
    """The float32 gradient of a planted mistake, and the options it claims to implement."""
    tensor = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    labels = torch.tensor(target)
    if kind == "eps/(V-1)":
        options = LMOptions(label_smoothing=0.1)
        counted = labels != -100
        q = torch.full(tensor.shape, 0.1 / (vocabulary - 1))
        q[torch.arange(len(labels)), labels.clamp(min=0)] = 0.9
        loss = (-(q * F.log_softmax(tensor, -1)).sum(-1) * counted).sum() / counted.sum()
    elif kind == "z-loss factor":
        options = LMOptions(z_loss=1e-4)
        loss = plain_torch_loss(tensor, labels, LMOptions(z_loss=0.5e-4))
    elif kind == "softcap derivative":
        options = LMOptions(softcap=3.0)
        capped = (3.0 * torch.tanh(tensor / 3.0)).detach().requires_grad_(True)
        F.cross_entropy(capped, labels).backward()
        return options, capped.grad.double().numpy()
    else:  # the upstream gradient's first entry for every token
        options = LMOptions(reduction="none")
        loss = plain_torch_loss(tensor, labels, options)
        (loss * 0.7).sum().backward()
        return options, tensor.grad.double().numpy()
    loss.backward()
    return options, tensor.grad.double().numpy()


@pytest.mark.parametrize("kind", ["eps/(V-1)", "z-loss factor", "softcap derivative",
                                  "upstream first entry"])
def test_planted_mistakes_fall_outside_the_float32_bounds(kind):
    rng = np.random.default_rng(7)
    vocabulary = 32
    logits = in_dtype(rng.normal(size=(16, vocabulary)) * 3, torch.float32)
    target = rng.integers(0, vocabulary, 16)
    target[2] = -100
    options, gradient = planted(kind, logits, target, vocabulary)
    upstream = np.full(16, 0.7) if kind == "upstream first entry" else None
    if upstream is not None:
        upstream[1:] = rng.normal(size=15)
    exact = cross_entropy(logits, target, options, upstream, dtype="float32")
    assert ratio(np.abs(gradient - exact.logits), exact.bounds.logits) > 2
    right = plain_errors(torch.float32, options, target,
                         1.0 if upstream is None else upstream, exact, logits=logits)["logits"]
    assert ratio(right, exact.bounds.logits) < 0.5


def test_bounds_grow_with_the_roundoff_and_include_the_oracles_own():
    _, logits, target, *_ = problem(8)
    bounds = {d: cross_entropy(logits, target, dtype=d).bounds
              for d in ("float64", "float32", "float16", "bfloat16")}
    sizes = [float(bounds[d].logits.max()) for d in ("float64", "float32", "float16",
                                                      "bfloat16")]
    assert sizes == sorted(sizes) and 0 < sizes[0] < 1e-13
    assert bounds["float32"].roundoff == unit_roundoff(torch.float32) == 2.0**-24
    assert 0 < bounds["float32"].failure_probability < 1e-20
    assert cross_entropy(logits, target, dtype="float32",
                         probabilistic=False).bounds.failure_probability == 0


def test_probabilistic_sums_are_tighter_only_for_long_sums():
    u = 2.0**-24
    assert gamma(128_256, u, True) < gamma(128_256, u, False) / 10
    assert gamma(16, u, True) == gamma(16, u, False)


def test_baseline_error_is_the_plain_evaluations_error():
    rng, logits, target, hidden, weight, bias = problem(9)
    options = LMOptions(reduction="none", label_smoothing=0.1, z_loss=1e-3)
    upstream = rng.normal(size=N)
    exact = cross_entropy(logits, target, options, upstream)
    error32 = baseline_error(exact, target, torch.float32, options, upstream, logits=logits)
    error64 = baseline_error(exact, target, torch.float64, options, upstream, logits=logits)
    assert 1e-9 < error32.logits < 1e-5 and error64.logits < 1e-14 and error32.loss > 0
    fused = fused_linear_cross_entropy(hidden, weight, target, bias, options, upstream,
                                       tokens=[0, 2], rows=[1])
    errors = baseline_error(fused, target, torch.bfloat16, options, upstream, hidden=hidden,
                            weight=weight, bias=bias)
    assert all(0 < getattr(errors, name) < 1 for name in ("loss", "hidden", "weight", "bias"))


def test_entry_bounds_do_not_depend_on_chunks_or_subsets():
    rng, _, target, hidden, weight, bias = problem(10)
    options = LMOptions(label_smoothing=0.1, softcap=4.0)
    whole = fused_linear_cross_entropy(hidden, weight, target, bias, options, dtype="bfloat16")
    chunked = fused_linear_cross_entropy(hidden, weight, target, bias, options, tokens=[2, 5],
                                         rows=[0, 7], memory_bytes=1, dtype="bfloat16")
    assert np.allclose(chunked.bounds.hidden, whole.bounds.hidden[[2, 5]], rtol=1e-12)
    assert np.allclose(chunked.bounds.weight, whole.bounds.weight[[0, 7]], rtol=1e-12)
    assert np.allclose(chunked.bounds.bias, whole.bounds.bias[[0, 7]], rtol=1e-12)
    assert np.isclose(chunked.bounds.loss, whole.bounds.loss, rtol=1e-12)
    assert np.all(whole.bounds.hidden[1] > 0)  # the ignored token: its gradient is 0, exactly
    assert fused_linear_cross_entropy(hidden, weight, target, bias, options).bounds is None
