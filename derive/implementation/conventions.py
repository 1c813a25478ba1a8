"""How a user's function is called, and what it returns, in each supported convention.

Two frameworks:

* NumPy, CS231n's convention: ``fn(W, X, y, reg) -> (loss, dW)``, or with a bias
  ``fn(W, b, X, y, reg) -> (loss, dW, db)``; without ``reg`` (three or four parameters) the
  penalty is 0.  The returned gradient is what is judged.
* PyTorch: the same parameters as tensors, returning the loss as a 0-d tensor; its autograd
  gradient (``W.grad``, ``b.grad`` after ``loss.backward()``) is what is judged.

Two layouts of the weights for the classifiers: ``D x K`` (CS231n: ``scores = X @ W``) and
``K x D`` (a row per class: ``scores = X @ W.T``).  One-score losses take a vector ``w``.

A function is recognised by its signature (a second parameter named ``b``, ``bias`` or ``c`` is
the bias; a parameter after ``y`` is ``reg``, with a default value or without, and so is a
keyword-only parameter named ``reg``) and by the module it comes from (a module that imported
``torch`` is called with tensors); :class:`Convention` says what was chosen, and every choice can
be given instead.

After each call the arguments are compared with what was passed: a function that changes them in
place (``X -= X.mean(axis=0)``, ``W *= 2``) is reported (``Output.mutated``), since it changes its
caller's data.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass

import numpy as np

from derive.oracle.batch import CLASS_LABELS, REAL_TARGETS, BatchLoss, Problem

NUMPY, TORCH = "numpy", "torch"
D_BY_K, K_BY_D, VECTOR = "DxK", "KxD", "vector"
BIAS_NAMES = ("b", "bias", "c", "bias_vector", "intercept")


class ConventionError(ValueError):
    """The function's calling convention cannot be used or told (a caller's error, not a
    failure of the function being judged)."""


class UserCodeError(Exception):
    """The judged function raised, or returned something that is not a loss and its gradient.

    ``message`` is one line, such as ``"ValueError: shapes (5,4) and (3,7) not aligned"``.
    """


@dataclass(frozen=True)
class Convention:
    """How the judged function is called.

    Examples
    --------
    >>> Convention(NUMPY, D_BY_K, bias=False, takes_reg=True).describe()
    'numpy, fn(W, X, y, reg) -> (loss, dW), W is D x K'
    >>> Convention(TORCH, K_BY_D, bias=True, takes_reg=False).describe()
    'torch, fn(W, b, X, y) -> loss (autograd), W is K x D'
    """

    framework: str
    layout: str
    bias: bool
    takes_reg: bool
    reg_keyword: str | None = None  # reg passed by this keyword (a keyword-only parameter)

    def describe(self) -> str:
        weights = "w" if self.layout == VECTOR else "W"
        parameters = [weights] + (["b"] if self.bias else []) + ["X", "y"] + (
            [f"{self.reg_keyword}=reg" if self.reg_keyword else "reg"] if self.takes_reg else [])
        if self.framework == NUMPY:
            returned = f"(loss, d{weights}" + (", db)" if self.bias else ")")
        else:
            returned = "loss (autograd)"
        shape = {D_BY_K: "W is D x K", K_BY_D: "W is K x D", VECTOR: "w has D entries"}[self.layout]
        return f"{self.framework}, fn({', '.join(parameters)}) -> {returned}, {shape}"


@dataclass(frozen=True)
class Output:
    """What the function returned, as float64 arrays in the oracle's layout (``D x K``)."""

    loss: float
    weights: np.ndarray | None
    bias: np.ndarray | None
    weights_shape: tuple[int, ...] | None  # as returned, before any transposition
    mutated: tuple[str, ...] = ()  # the arguments the call changed in place ("W", "X", ...)
    returned_dtype: str | None = None  # the dtype of dW as returned (NumPy functions)


def parameters(fn) -> list[str]:
    """The names of ``fn``'s positional parameters, with a default value or without
    (``ConventionError`` if it has none to read).

    Examples
    --------
    >>> parameters(lambda W, X, y, reg=1e-3: None)
    ['W', 'X', 'y', 'reg']
    """
    return [p.name for p in _signature(fn).parameters.values() if p.kind in _POSITIONAL]


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _signature(fn) -> inspect.Signature:
    if not callable(fn):
        raise ConventionError(f"{fn!r} is not callable")
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError) as error:
        raise ConventionError(f"cannot read the parameters of {fn!r}: {error}") from None


def _required(fn) -> list[str]:
    return [p.name for p in _signature(fn).parameters.values()
            if p.kind in _POSITIONAL and p.default is p.empty]


def infer_bias(fn, bias: bool | None) -> bool:
    """``bias`` if given, else whether the second parameter is named like a bias."""
    names = parameters(fn)
    if bias is not None:
        return bias
    return len(names) >= 2 and names[1].lower() in BIAS_NAMES


def infer_reg(fn, bias: bool) -> bool:
    """Whether ``fn`` takes ``reg``: a parameter after ``W, [b,] X, y``, required or with a
    default value (a default is never what is judged: ``reg`` is passed), or a keyword-only
    parameter named ``reg``.

    Examples
    --------
    >>> infer_reg(lambda W, X, y, reg=1e-3: None, bias=False)
    True
    >>> infer_reg(lambda W, X, y, *, reg=0.0: None, bias=False)
    True
    >>> infer_reg(lambda W, X, y: None, bias=False)
    False
    """
    names, required = parameters(fn), _required(fn)
    needed = 4 if bias else 3
    if len(required) > needed + 1 or len(names) < needed:
        expected = "W, b, X, y[, reg]" if bias else "W, X, y[, reg]"
        raise ConventionError(
            f"{getattr(fn, '__name__', 'the function')}({', '.join(names)}) does not take "
            f"({expected}): {len(required)} required parameters, expected {needed} or {needed + 1}")
    return len(names) > needed or reg_keyword(fn, bias) is not None


def reg_keyword(fn, bias: bool) -> str | None:
    """``"reg"`` when ``reg`` can only be passed by keyword (``fn(W, X, y, *, reg=0.0)``)."""
    if len(parameters(fn)) > (4 if bias else 3):
        return None
    keyword_only = [p.name for p in _signature(fn).parameters.values()
                    if p.kind == inspect.Parameter.KEYWORD_ONLY]
    return "reg" if "reg" in keyword_only else None


def infer_framework(fn, framework: str | None) -> str:
    """``framework`` if given, else torch when the function's module imported torch."""
    if framework is not None:
        if framework not in (NUMPY, TORCH):
            raise ConventionError(f"framework must be {NUMPY!r} or {TORCH!r}, not {framework!r}")
        return framework
    namespace = getattr(inspect.unwrap(fn), "__globals__", {})
    uses_torch = any(getattr(value, "__name__", "").split(".")[0] == "torch"
                     for value in namespace.values() if inspect.ismodule(value))
    return TORCH if uses_torch else NUMPY


def call(fn, convention: Convention, loss: BatchLoss, problem: Problem, dtype) -> Output:
    """Call ``fn`` on ``problem`` (cast to ``dtype``) in ``convention``; :class:`UserCodeError`
    when it raises (any exception, ``SystemExit`` and ``KeyboardInterrupt`` included: run it off
    derive's main thread, as :mod:`derive.implementation.isolation` does) or returns something
    else than a loss and gradients.  ``Output.mutated`` names the arguments it changed."""
    weights = problem.weights.T if convention.layout == K_BY_D else problem.weights
    names = ["w" if convention.layout == VECTOR else "W"] + (["b"] if convention.bias else [])
    sources = [weights] + ([problem.bias] if convention.bias else [])
    arguments = [weights.astype(dtype)]
    if convention.bias:
        arguments.append(problem.bias.astype(dtype))
    # A copy (what the function does to its arguments cannot reach the oracle's): classes and
    # 0/1 labels as integers, real targets in the dtype.
    labels = problem.y.astype(dtype if loss.labels == REAL_TARGETS else np.int64)
    arguments += [problem.X.astype(dtype), labels]
    names += ["X", "y"]
    sources += [problem.X, problem.y]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # overflow in the user's exp is reported, not warned
        if convention.framework == TORCH:
            output, passed = _call_torch(fn, arguments, convention, loss, dtype, problem.reg)
        else:
            output, passed = _call_numpy(fn, arguments, convention, problem.reg), arguments
    mutated = tuple(name for name, value, source in zip(names, passed, sources)
                    if not _unchanged(value, source))
    weights_out = output.weights.T if convention.layout == K_BY_D else output.weights
    return Output(output.loss, weights_out, output.bias, output.weights_shape, mutated,
                  output.returned_dtype)


def _with_reg(convention: Convention, arguments: list, reg: float):
    """The positional arguments and the keyword ones, ``reg`` in its place."""
    if not convention.takes_reg:
        return arguments, {}
    if convention.reg_keyword:
        return arguments, {convention.reg_keyword: reg}
    return arguments + [reg], {}


def _unchanged(value, source: np.ndarray) -> bool:
    """Whether the argument ``value`` (an array or a tensor) still holds ``source``'s numbers."""
    try:
        if not isinstance(value, np.ndarray):  # a torch tensor
            value = value.detach().cpu().numpy()
        return value.shape == source.shape and bool(np.array_equal(value, source))
    except BaseException:  # a tensor turned into something unreadable: changed
        return False


def _call_numpy(fn, arguments, convention: Convention, reg: float) -> Output:
    positional, keywords = _with_reg(convention, arguments, reg)
    result = run_user_code(fn, positional, keywords)
    expected = 3 if convention.bias else 2
    names = "(loss, dW, db)" if convention.bias else "(loss, dW)"
    if not isinstance(result, (tuple, list)) or len(result) != expected:
        raise UserCodeError(f"returned {_kind(result)}, not {names}")
    loss = _scalar(result[0], "the loss")
    weights = _array(result[1], "dW")
    bias = _array(result[2], "db") if convention.bias else None
    returned = getattr(result[1], "dtype", None)
    return Output(loss, weights, bias, weights.shape,
                  returned_dtype=None if returned is None else str(returned))


def _call_torch(fn, arguments, convention: Convention, loss: BatchLoss, dtype, reg: float):
    import torch  # the optional extra: only a torch function gets here

    tensor_dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(dtype)]
    tensors = []
    for position, value in enumerate(arguments):
        if value.dtype.kind == "f":
            tensor = torch.tensor(value, dtype=tensor_dtype)
            differentiated = position == 0 or (convention.bias and position == 1)
            tensors.append(tensor.requires_grad_() if differentiated else tensor)
        else:
            tensors.append(torch.tensor(value))
    if loss.labels != CLASS_LABELS:  # 0/1 labels and real targets are floats for torch's losses
        position = 3 if convention.bias else 2
        tensors[position] = torch.tensor(arguments[position], dtype=tensor_dtype)
    positional, keywords = _with_reg(convention, tensors, reg)
    result = run_user_code(fn, positional, keywords)
    if not isinstance(result, torch.Tensor) or result.numel() != 1:
        raise UserCodeError(f"returned {_kind(result)}, not the loss as a one-element tensor")
    if not result.requires_grad:
        raise UserCodeError("returned a loss that autograd cannot differentiate (no grad_fn)")
    try:
        result.reshape(()).backward()
    except BaseException as error:  # the user's graph: any failure of backward is theirs
        raise UserCodeError(f"loss.backward() raised {type(error).__name__}: {error_line(error)}") from None
    weights_tensor = tensors[0]
    if weights_tensor.grad is None:
        raise UserCodeError("the loss does not depend on W (autograd gave no gradient)")
    weights = weights_tensor.grad.detach().numpy().astype(np.float64)
    bias = None
    if convention.bias:
        grad = tensors[1].grad
        bias = np.zeros(arguments[1].shape) if grad is None else grad.detach().numpy().astype(
            np.float64)
    return Output(float(result.detach().reshape(())), weights, bias, weights.shape), tensors


def run_user_code(fn, arguments, keywords):
    try:
        return fn(*arguments, **keywords)
    except SystemExit as error:  # exit() in the judged code must not end derive with its status
        raise UserCodeError(f"called exit({error.code!r})") from None
    except BaseException as error:  # the judged code's own failure, reported as its verdict
        raise UserCodeError(f"raised {type(error).__name__}: {error_line(error)}") from None


def error_line(error: BaseException) -> str:
    """The first line of ``error``'s message, at most 200 characters, that any stream can
    print (a lone surrogate becomes ``?``).

    Examples
    --------
    >>> error_line(ValueError("bad \\ud800\\nsecond line"))
    'bad ?'
    """
    try:
        text = str(error).strip().splitlines()
    except BaseException:  # a message that cannot be made
        return "(no message)"
    line = text[0][:200] if text else "(no message)"
    return line.encode("utf-8", "replace").decode("utf-8")


def _kind(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def _scalar(value, what: str) -> float:
    array = _array(value, what)
    if array.size != 1:
        raise UserCodeError(f"{what} has shape {array.shape}, not a single number")
    return float(array.reshape(()))


def _array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array; real numbers only (a complex or object array is refused,
    as is a tensor that still requires grad, whose conversion raises)."""
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"dtype {array.dtype}")
        return array.astype(np.float64)
    except BaseException:  # whatever the returned object's conversion raises
        raise UserCodeError(f"{what} is {_kind(value)}, not real numbers") from None
