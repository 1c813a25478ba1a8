"""How a language-model cross-entropy function is called, and what of it is judged.

Two forms, told from the signature (or declared, ``kind=``):

* **logits**: ``fn(logits, target, ...) -> loss``, logits N x V;
* **fused linear**: ``fn(hidden, weight, target, bias=None, ...) -> loss``, hidden N x H and
  weight V x H (the logits ``hidden @ weight.T + bias`` never need to exist); chosen when the
  second parameter is named like a projection (``weight``, ``w``, ``lm_head``...).

The first two (logits) or three (fused) parameters are passed by position; the bias (a parameter
named ``bias`` or ``b``) and every option by keyword, under the function's own name for it
(:data:`OPTION_NAMES`: ``reduction``, ``ignore_index``, ``label_smoothing``, ``z_loss``,
``softcap``, and class weights as ``weight`` at the logits level, ``class_weights`` in either).
An option the function takes is varied by the check; one it does not take is what it computes
for every call (the declared value, else "off").

The loss is a tensor: one entry for ``mean``/``sum``, N for ``none``.  Its gradient comes from
autograd (a custom ``autograd.Function``'s backward included), driven by an upstream gradient
that is never all ones.  A function may instead return ``(loss, grads)``: its own gradients, a
tuple in the order of the differentiated inputs or a dict by their names, taken as the gradients
of ``sum(upstream * loss)`` at upstream 1 (no backward is run).
"""

from __future__ import annotations

import inspect
import sys
import time
from dataclasses import dataclass

import numpy as np

from derive.implementation.conventions import ConventionError, UserCodeError, error_line, run_user_code

LOGITS, FUSED = "logits", "fused-linear"
#: Parameter names recognised for each option (the first is derive's name for it).
OPTION_NAMES = {
    "reduction": ("reduction",),
    "ignore_index": ("ignore_index",),
    "label_smoothing": ("label_smoothing", "smoothing"),
    "z_loss": ("z_loss", "z_loss_weight", "lse_square_scale", "z_loss_scale"),
    "softcap": ("softcap", "logit_softcap", "softcapping", "final_logit_softcapping"),
    "class_weights": ("class_weights", "weight"),
}
_PROJECTION_NAMES = ("weight", "w", "lm_head", "lm_head_weight", "projection", "embedding",
                     "unembedding", "classifier")
_BIAS_NAMES = ("bias", "b", "lm_head_bias")
#: The torch dtypes judged, by name.
DTYPES = ("float32", "bfloat16", "float16", "float64")


@dataclass(frozen=True)
class LMConvention:
    """How the function is called: its form, whether it takes a bias, and the parameter name of
    each option it takes (``options``: derive's name -> the function's).

    Examples
    --------
    >>> def loss(logits, target, reduction="mean", ignore_index=-100): ...
    >>> infer_convention(loss).describe()
    'fn(logits, target, reduction=, ignore_index=) -> loss (autograd), logits N x V'
    """

    kind: str
    bias: bool
    options: tuple[tuple[str, str], ...]
    explicit: bool = False  # returned (loss, grads): its own gradients are judged
    #: an ``nn.Module``: derive's name ("weight", "bias") -> its parameter's name; its options
    #: are its attributes, set for each call and put back after it
    parameters: tuple[tuple[str, str], ...] | None = None

    @property
    def takes(self) -> dict[str, str]:
        return dict(self.options)

    @property
    def differentiated(self) -> tuple[str, ...]:
        """The inputs whose gradients are judged."""
        if self.kind == LOGITS:
            return ("logits",)
        return ("hidden", "weight") + (("bias",) if self.bias else ())

    def describe(self) -> str:
        if self.parameters is not None:
            inputs = "logits, target" if self.kind == LOGITS else "hidden, target"
            held = ", ".join(f"{name} as {derive}" for derive, name in self.parameters)
            options = ", ".join(f".{name}" for _, name in self.options)
            return (f"nn.Module: module({inputs}) -> loss (autograd)"
                    + (f", parameters {held}" if held else "")
                    + (f", options {options}" if options else ""))
        tensors = (["logits", "target"] if self.kind == LOGITS
                   else ["hidden", "weight", "target"] + (["bias="] if self.bias else []))
        options = [f"{name}=" for _, name in self.options]
        returned = "(loss, grads)" if self.explicit else "loss (autograd)"
        shapes = "logits N x V" if self.kind == LOGITS else "hidden N x H, weight V x H"
        return f"fn({', '.join(tensors + options)}) -> {returned}, {shapes}"


def infer_convention(fn, kind: str | None = None) -> LMConvention:
    """The form (``kind`` if given) and the options ``fn`` takes, from its signature;
    ``ConventionError`` when it cannot take the form's tensors."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(fn, torch.nn.Module):
        return _module_convention(fn, kind)
    parameters = _parameters(fn)
    positional = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if kind is None:
        kind = FUSED if len(positional) >= 3 and positional[1].lower() in _PROJECTION_NAMES else LOGITS
    if kind not in (LOGITS, FUSED):
        raise ConventionError(f"the form must be {LOGITS!r} or {FUSED!r}, not {kind!r}")
    needed = 2 if kind == LOGITS else 3
    name = getattr(fn, "__name__", "the function")
    if len(positional) < needed:
        expected = "logits, target" if kind == LOGITS else "hidden, weight, target"
        raise ConventionError(f"{name}({', '.join(positional)}) does not take ({expected}, ...)")
    rest = [p for p in parameters[needed:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = {p.name for p in rest}
    required = [p.name for p in rest if p.default is p.empty and p.name not in _BIAS_NAMES]
    bias = kind == FUSED and any(n in names for n in _BIAS_NAMES)
    options = []
    for option, aliases in OPTION_NAMES.items():
        for alias in aliases:
            if alias == "weight" and kind == FUSED:
                continue  # the projection, not class weights
            if alias in names:
                options.append((option, alias))
                break
    unknown = [n for n in required if n not in dict(options).values()]
    if unknown:
        raise ConventionError(f"{name} requires {', '.join(unknown)}, which derive does not know "
                              f"how to pass (options: {', '.join(OPTION_NAMES)})")
    return LMConvention(kind, bias, tuple(options))


def _module_convention(module, kind: str | None) -> LMConvention:
    """An ``nn.Module``: without parameters, a loss of the logits (``nn.CrossEntropyLoss``);
    with one V x H weight (and a V bias), a head: ``module(hidden, target)``.  Its options are
    the attributes it has of :data:`OPTION_NAMES`."""
    held = dict(module.named_parameters())
    matrices = [name for name, value in held.items() if value.dim() == 2]
    vectors = [name for name, value in held.items() if value.dim() == 1]
    if kind is None:
        kind = FUSED if held else LOGITS
    if kind == LOGITS and held or kind == FUSED and (len(matrices) != 1 or len(vectors) > 1
                                                     or len(held) != len(matrices + vectors)):
        raise ConventionError(
            f"{type(module).__name__}: derive judges an nn.Module with no parameters (a loss of "
            f"the logits) or one V x H weight and at most one V bias (a head), not parameters "
            f"{', '.join(f'{n} {tuple(v.shape)}' for n, v in held.items()) or '(none)'}")
    options = []
    for option, aliases in OPTION_NAMES.items():
        for alias in aliases:
            if hasattr(module, alias) and not (alias == "weight" and kind == FUSED):
                options.append((option, alias))
                break
    parameters = (("weight", matrices[0]),) + ((("bias", vectors[0]),) if vectors else ()) \
        if kind == FUSED else ()
    return LMConvention(kind, bool(vectors), tuple(options), parameters=parameters)


def bias_name(fn) -> str:
    names = [p.name for p in _parameters(fn)]
    return next(n for n in _BIAS_NAMES if n in names)


def optional_bias(fn, convention: LMConvention) -> bool:
    """Whether a fused function's bias has the default None (then it is judged without too)."""
    if not convention.bias or convention.parameters is not None:
        return False
    name = bias_name(fn)
    return next(p for p in _parameters(fn) if p.name == name).default is None


def _parameters(fn) -> list[inspect.Parameter]:
    if not callable(fn):
        raise ConventionError(f"{fn!r} is not callable")
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as error:
        raise ConventionError(f"cannot read the parameters of {fn!r}: {error}") from None


@dataclass(frozen=True)
class LMOutput:
    """What one call gave, in float64: the loss, the gradient of each differentiated input
    (by name; only the judged ``tokens`` and ``rows`` where the arrays name them), the inputs
    it changed in place, and the seconds spent in the user's code (its call and backward)."""

    loss: np.ndarray
    gradients: dict
    mutated: tuple[str, ...]
    explicit: bool
    seconds: float = 0.0


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {name!r}")
    return getattr(torch, name)


#: The devices the user's tensors may be put on.
DEVICES = ("cpu", "cuda")


def checked_device(device: str) -> str:
    """``device`` when the user's tensors can be put there; ``ValueError`` (one line) when it
    is not a device derive knows or not available on this machine.

    Examples
    --------
    >>> checked_device("cpu")
    'cpu'
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA is not available on this machine (use --device cpu)")
    return device


def call(fn, convention: LMConvention, arrays: dict, options: dict, dtype: str,
         bias_keyword: str | None, device: str = "cpu") -> LMOutput:
    """Call ``fn`` on ``arrays`` (float64 NumPy: the tensors, ``target``, ``upstream`` and
    ``class_weights``) as ``dtype`` tensors on ``device``, with ``options`` (derive's names ->
    values) passed under the function's names, and back-propagate ``upstream``.  The gradients
    come back restricted to the judged ``arrays["tokens"]`` (hidden) and ``arrays["rows"]``
    (weight, bias) where those are given.  ``UserCodeError`` when it raises or returns something
    else than a loss."""
    import torch

    kind = torch_dtype(dtype)
    inputs = {name: torch.tensor(arrays[name], dtype=kind, device=device).requires_grad_()
              for name in convention.differentiated}
    target = torch.tensor(arrays["target"], dtype=torch.int64, device=device)
    keywords = {}
    for option, name in convention.options:
        value = options[option]
        if option == "class_weights" and value is not None:
            value = torch.tensor(value, dtype=kind, device=device)
        keywords[name] = value
    if convention.parameters is not None:
        return _call_module(fn, convention, inputs, target, keywords, arrays, kind)
    if convention.kind == LOGITS:
        positional = [inputs["logits"], target]
    else:
        positional = [inputs["hidden"], inputs["weight"], target]
        if convention.bias:
            keywords[bias_keyword] = inputs["bias"]
    upstream = torch.tensor(arrays["upstream"], dtype=kind, device=device)
    started = time.perf_counter()
    result = run_user_code(fn, positional, keywords)
    if isinstance(result, (tuple, list)) and len(result) == 2:
        seconds = time.perf_counter() - started
        loss, gradients = _explicit(result, convention, arrays)
        explicit = True
    else:
        loss = _loss_tensor(result, upstream.shape)
        _backward(loss, upstream)
        seconds = time.perf_counter() - started
        gradients = _gradients(inputs, arrays)
        explicit = False
    mutated = changed_tensors(dict(inputs, target=target), arrays)
    return LMOutput(_float64(loss.detach(), "the loss"), gradients, mutated, explicit, seconds)


#: Rows of a tensor compared at a time with the array it was made from.
_COMPARED_ROWS = 4096


def changed_tensors(tensors: dict, arrays: dict) -> tuple[str, ...]:
    """The names of the ``tensors`` whose values are no longer the ``arrays`` they were made
    from (exactly: each holds the dtype's numbers), compared a block of rows at a time, so no
    copy of a V x H weight is kept."""
    import torch

    def same(tensor, array) -> bool:
        tensor = tensor.detach()
        if tensor.shape != array.shape:
            return False
        if tensor.ndim == 0:
            return bool(tensor.double().cpu() == torch.from_numpy(np.asarray(array, float)))
        return all(torch.equal(tensor[start:start + _COMPARED_ROWS].double().cpu(),
                               torch.from_numpy(np.asarray(array[start:start + _COMPARED_ROWS],
                                                           dtype=np.float64)))
                   for start in range(0, len(tensor), _COMPARED_ROWS))

    return tuple(name for name, tensor in tensors.items() if not same(tensor, arrays[name]))


def _judged(gradient, name: str, arrays: dict):
    """The entries of ``name``'s gradient that are judged: the rows of ``arrays["tokens"]``
    (hidden) or ``arrays["rows"]`` (weight, bias) where given, else all of it."""
    chosen = arrays.get("tokens" if name == "hidden" else "rows") \
        if name in ("hidden", "weight", "bias") else None
    if chosen is None or gradient.ndim == 0 or len(gradient) != len(arrays[name]):
        return gradient  # a gradient of another shape is judged as it is (and fails)
    import torch

    return gradient[torch.as_tensor(chosen, device=gradient.device)]


def _gradients(inputs: dict, arrays: dict) -> dict:
    """The judged entries of each input's ``.grad`` in float64 (zeros where autograd left none)."""
    import torch

    return {name: _float64(_judged(torch.zeros_like(tensor) if tensor.grad is None
                                   else tensor.grad, name, arrays), name)
            for name, tensor in inputs.items()}


def _call_module(module, convention: LMConvention, inputs: dict, target, attributes: dict,
                 arrays: dict, kind) -> LMOutput:
    """``module(first, target)`` with its parameters replaced by derive's tensors
    (``torch.func.functional_call``) and its option attributes set for the call, then put
    back; the module's own parameters and buffers are left as they were."""
    import torch
    from torch.func import functional_call

    first = inputs["logits"] if convention.kind == LOGITS else inputs["hidden"]
    held = {name: inputs[derive] for derive, name in convention.parameters}
    saved = {name: getattr(module, name) for name in attributes}
    started = time.perf_counter()
    try:
        for name, value in attributes.items():
            setattr(module, name, value)
        result = run_user_code(lambda: functional_call(module, held, (first, target)), [], {})
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
    loss = _loss_tensor(result, np.shape(arrays["upstream"]))
    _backward(loss, torch.tensor(arrays["upstream"], dtype=kind, device=first.device))
    seconds = time.perf_counter() - started
    gradients = _gradients(inputs, arrays)
    return LMOutput(_float64(loss.detach(), "the loss"), gradients, changed_tensors(inputs, arrays),
                    False, seconds)


def _loss_tensor(result, shape):
    import torch

    if not isinstance(result, torch.Tensor):
        raise UserCodeError(f"returned a {type(result).__name__}, not the loss as a tensor")
    if result.numel() != max(1, int(np.prod(shape))):
        raise UserCodeError(f"returned a loss of shape {tuple(result.shape)}, expected "
                            f"{tuple(shape) or 'one number'}")
    if not result.requires_grad:
        raise UserCodeError("returned a loss that autograd cannot differentiate (no grad_fn)")
    return result


def _backward(loss, upstream) -> None:
    try:
        loss.reshape(upstream.shape).backward(upstream.to(loss.dtype))
    except BaseException as error:  # the user's graph: any failure of backward is theirs
        raise UserCodeError(f"loss.backward() raised {type(error).__name__}: {error_line(error)}") from None


def _explicit(result, convention: LMConvention, arrays: dict):
    """``(loss, grads)``: the (judged entries of the) gradients by name, from a dict or a
    sequence in order."""
    loss, grads = result
    names = convention.differentiated
    if isinstance(grads, dict):
        missing = [name for name in names if name not in grads]
        if missing:
            raise UserCodeError(f"returned gradients without {', '.join(missing)}")
        grads = [grads[name] for name in names]
    elif not isinstance(grads, (tuple, list)):
        grads = [grads]
    if len(grads) != len(names):
        raise UserCodeError(f"returned {len(grads)} gradients, expected {len(names)} "
                            f"({', '.join(names)})")
    import torch

    if not isinstance(loss, torch.Tensor):
        raise UserCodeError(f"returned a loss that is a {type(loss).__name__}, not a tensor")
    return loss, {name: _float64(_judged(grad, name, arrays) if isinstance(grad, torch.Tensor)
                                 else grad, name) for name, grad in zip(names, grads)}


def _float64(value, what: str) -> np.ndarray:
    try:
        return value.detach().to("cpu").double().numpy()
    except BaseException:
        raise UserCodeError(f"{what} is a {type(value).__name__}, not a tensor of real "
                            f"numbers") from None
