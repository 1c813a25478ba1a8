"""The detection table: derive's verdict against the checks fused cross-entropy suites rely on,
on every implementation of ``examples/llm`` (the right ones and each planted mistake).

Columns, for each dtype (float32 and bfloat16 by default):

* **derive**: ``check_lm_implementation`` at its default sizes (N = 16, V = 40, H = 12); the
  row counts as caught unless the report is ``ok`` (correct, and as accurate as PyTorch);
* **ones**: the suites' practice.  At every option combination derive judges
  (``derive.implementation.lm.inputs.combinations``, its inputs drawn by ``draw`` at the same
  sizes, V <= 512), the function is called through ``derive.implementation.lm.conventions``
  with an upstream gradient of ones (``loss.backward()``; ``loss.sum().backward()`` for
  ``reduction='none'``), and its loss and gradients are compared by ``torch.testing.
  assert_close`` with PyTorch's default tolerances for the dtype against a plain same-dtype
  PyTorch evaluation (``F.cross_entropy``: ``derive.oracle.lm.baseline.baseline_outputs``);
* **random**: the same with derive's random upstream gradient (a scalar in [1.5, 3] for a
  mean or a sum, normal per token for ``none``): what the ones hide;
* **gradcheck** (once, not per dtype): ``torch.autograd.gradcheck`` in float64 at every
  combination (``fast_mode=True``: the Jacobian's products with random vectors, by finite
  differences and by autograd, at its default tolerances; the full Jacobian takes 10 s a row);
  "n/a" where it cannot run: the function computes in a lower precision whatever its inputs'
  dtype (every value it returns at float64 inputs is a float32 number), or its loss has no
  autograd graph.

Gradient-accumulation steps (``examples/llm/accumulation.py``, when present: ``step(model,
micro_batches)``): **derive** is ``check_accumulation``; **ones** compares, by ``assert_close``,
the gradients the step leaves in a ``torch.nn.Linear`` head with those of one same-dtype
``F.cross_entropy`` over the whole batch (``loss.backward()``), at four micro-batches of 8
tokens with 8, 6, 2 and 1 of them counted (the rest ignored); **random** and **gradcheck** are
n/a (the step runs its own backward; it is a training step, not a function of its inputs).

A row is caught by a method when any combination fails.  Two latitudes, the same derive gives:
at a batch whose every token is ignored, under ``mean`` (0 / 0), a loss of NaN (PyTorch's) or
0 is accepted and gradcheck is not run there; two NaNs agree (``equal_nan=True``).

Run: ``.venv/bin/python benchmarks/llm_detection.py`` (26 s on two shared cores for the 23 rows
of examples/llm), or ``benchmarks/bench_llm.py --detection`` (after its own measurements).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from derive.implementation.conventions import UserCodeError
from derive.implementation.lm import check_lm_implementation
from derive.implementation.lm import conventions as lm_conventions
from derive.implementation.lm.check import DEFAULT_SIZES
from derive.implementation.lm.conventions import FUSED, LOGITS, infer_convention
from derive.implementation.lm.inputs import ALL_IGNORED, Combination, combinations, draw, rounded
from derive.implementation.loader import load_function
from derive.oracle.lm import LMOptions, cross_entropy, fused_linear_cross_entropy
from derive.oracle.lm.baseline import baseline_outputs

LLM = Path(__file__).resolve().parent.parent / "examples" / "llm"
#: The right implementations of examples/llm.
RIGHT = ("plain.py:cross_entropy", "chunked.py:chunked_cross_entropy",
         "fused_linear.py:fused_linear_cross_entropy", "modules.py:loss_module", "modules.py:head")
#: Planted mistakes outside mistakes.py (every public function there is one).
OTHER_MISTAKES = ("modules.py:detached_bias",)
#: The gradient-accumulation steps' file, and its right step (every other one is a mistake).
ACCUMULATION, RIGHT_STEP = "accumulation.py", "accumulate"
#: The accumulation rows' head and micro-batches (tokens, and how many are counted, of each).
STEP_HIDDEN, STEP_VOCAB, STEP_TOKENS, STEP_COUNTED = 12, 40, 8, (8, 6, 2, 1)
DTYPES = ("float32", "bfloat16")
DERIVE, ONES, RANDOM, GRADCHECK = "derive", "ones", "random", "gradcheck"


@dataclass(frozen=True)
class Cell:
    """One method's result on one row: ``caught`` (None: the method cannot run) and a note
    (derive's verdict, the first failing combination, or why it cannot run)."""

    caught: bool | None
    note: str = ""

    def shown(self) -> str:
        if self.caught is None:
            return f"n/a ({self.note})"
        return (f"CAUGHT {self.note}" if self.caught else f"pass {self.note}").strip()


@dataclass(frozen=True)
class Row:
    target: str  # "file.py:function"
    right: bool
    cells: dict = field(default_factory=dict)  # (method, dtype or None) -> Cell


@dataclass(frozen=True)
class DetectionTable:
    rows: tuple[Row, ...]
    dtypes: tuple[str, ...]
    seconds: float

    @property
    def columns(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((method, dtype) for dtype in self.dtypes
                     for method in (DERIVE, ONES, RANDOM)) + ((GRADCHECK, None),)

    def counts(self, column) -> dict:
        """Right ones passed and mistakes caught (of those the method could judge), n/a."""
        cells = [(row.right, row.cells[column]) for row in self.rows]
        judged = [(right, cell) for right, cell in cells if cell.caught is not None]
        return {"right passed": sum(right and not cell.caught for right, cell in judged),
                "right judged": sum(right for right, _ in judged),
                "mistakes caught": sum(not right and cell.caught for right, cell in judged),
                "mistakes judged": sum(not right for right, _ in judged),
                "n/a": len(cells) - len(judged)}

    def __str__(self) -> str:
        headers = ["implementation"] + [_heading(column) for column in self.columns]
        lines = [headers]
        for row in self.rows:
            lines.append([("  " if row.right else "x ") + row.target]
                         + [row.cells[column].shown() for column in self.columns])
        for label, passed, judged in (("right ones passed", "right passed", "right judged"),
                                      ("mistakes caught", "mistakes caught", "mistakes judged")):
            lines.append([label] + [_count(self.counts(column), passed, judged)
                                    for column in self.columns])
        widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
        text = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
                for line in lines]
        text.insert(1, "-+-".join("-" * width for width in widths))
        text.insert(len(self.rows) + 2, "-+-".join("-" * width for width in widths))
        return "\n".join(text + [f"(x: a planted mistake; {self.seconds:.0f} s)"])


def _heading(column) -> str:
    method, dtype = column
    return {DERIVE: f"{dtype} derive", ONES: f"{dtype} assert_close, ones",
            RANDOM: f"{dtype} assert_close, random upstream",
            GRADCHECK: "gradcheck (float64)"}[method]


def _count(counts: dict, passed: str, judged: str) -> str:
    text = f"{counts[passed]}/{counts[judged]}"
    return text + (f" ({counts['n/a']} n/a)" if counts["n/a"] else "")


def implementations(directory: Path = LLM) -> list[tuple[str, bool]]:
    """Every implementation of ``directory`` as ``(target, right)``: :data:`RIGHT`, then each
    public function of mistakes.py, in file order, and :data:`OTHER_MISTAKES`; then the
    gradient-accumulation steps of accumulation.py, if it exists."""
    planted = [f"mistakes.py:{name}" for name in _public_functions(directory / "mistakes.py")]
    rows = [(target, True) for target in RIGHT] + [
        (target, False) for target in planted + list(OTHER_MISTAKES)]
    if (directory / ACCUMULATION).exists():
        rows += [(f"{ACCUMULATION}:{name}", name == RIGHT_STEP)
                 for name in _public_functions(directory / ACCUMULATION)]
    return rows


def _public_functions(path: Path) -> list[str]:
    """The names of ``path``'s top-level public functions, in file order (read, not run)."""
    return [node.name for node in ast.parse(path.read_text()).body
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]


def detection_table(rows: list[tuple[str, bool]] | None = None, dtypes=DTYPES, seed: int = 0,
                    progress=None) -> DetectionTable:
    """The table over ``rows`` (``(target, right)``; every implementation of examples/llm by
    default) in each of ``dtypes``."""
    started = time.perf_counter()
    say = progress or (lambda line: None)
    judged = []
    for target, right in rows if rows is not None else implementations():
        say(target)
        judged.append(judge_row(target, right, tuple(dtypes), seed))
    return DetectionTable(tuple(judged), tuple(dtypes), time.perf_counter() - started)


def judge_row(target: str, right: bool, dtypes, seed: int = 0) -> Row:
    """One implementation judged by every method."""
    file, name = target.split(":")
    fn = load_function(f"{LLM / file}:{name}")
    if file == ACCUMULATION:
        return _step_row(fn, target, right, dtypes, seed)
    convention = infer_convention(fn)
    row = Row(target, right)
    for dtype in dtypes:
        report = check_lm_implementation(fn, dtype=dtype, seed=seed)
        row.cells[DERIVE, dtype] = Cell(not report.ok, _verdict(report))
        for method in (ONES, RANDOM):
            row.cells[method, dtype] = _compared(fn, convention, dtype, seed, ones=method == ONES)
    row.cells[GRADCHECK, None] = _gradchecked(fn, convention, seed)
    return row


def _step_row(fn, target: str, right: bool, dtypes, seed: int) -> Row:
    """A gradient-accumulation step judged by ``check_accumulation`` and by ``assert_close``."""
    from derive.implementation.lm import check_accumulation

    row = Row(target, right)
    for dtype in dtypes:
        row.cells[DERIVE, dtype] = Cell(not (report := check_accumulation(
            fn, dtype=dtype, seed=seed)).ok, _verdict(report))
        row.cells[ONES, dtype] = _step_compared(fn, dtype, seed)
        row.cells[RANDOM, dtype] = Cell(None, "the step runs its own backward")
    row.cells[GRADCHECK, None] = Cell(None, "a training step")
    return row


def _step_compared(fn, dtype: str, seed: int) -> Cell:
    """The step's accumulated gradients against one same-dtype full-batch backward."""
    import copy

    import torch
    import torch.nn.functional as F

    kind = lm_conventions.torch_dtype(dtype)
    generator = torch.Generator().manual_seed(seed)
    model = torch.nn.Linear(STEP_HIDDEN, STEP_VOCAB, dtype=kind)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    micro_batches = []
    for counted in STEP_COUNTED:
        target = torch.randint(0, STEP_VOCAB, (STEP_TOKENS,), generator=generator)
        target[counted:] = -100
        micro_batches.append((torch.randn(STEP_TOKENS, STEP_HIDDEN, generator=generator,
                                          dtype=kind), target))
    reference = copy.deepcopy(model)
    F.cross_entropy(reference(torch.cat([inputs for inputs, _ in micro_batches])),
                    torch.cat([target for _, target in micro_batches])).backward()
    try:
        fn(model, micro_batches)
    except Exception as error:  # noqa: BLE001 - the step's own failure
        return Cell(True, f"(raised {type(error).__name__})")
    for name in ("weight", "bias"):
        mine, expected = getattr(model, name).grad, getattr(reference, name).grad
        try:
            torch.testing.assert_close(mine, expected, equal_nan=True)
        except (AssertionError, TypeError):  # TypeError: no gradient at all
            return Cell(True, f"(d{name})")
    return Cell(False)


def _verdict(report) -> str:
    """derive's verdict, its mistake, and the baseline ratio when that is what fails it."""
    if report.mistake:
        return f"{report.verdict}: {report.mistake}"
    if report.verdict == "correct" and getattr(report, "as_accurate_as_pytorch", None) is False:
        return f"{report.verdict}, but {report.baseline_ratio:.0f}x PyTorch's error"
    return report.verdict


def _plan(convention) -> list[Combination]:
    return combinations(convention.takes, {})


def _sizes(convention) -> dict:
    return dict(DEFAULT_SIZES, hidden=DEFAULT_SIZES["hidden"] if convention.kind == FUSED else None)


def _bias_keyword(fn, convention) -> str | None:
    return (lm_conventions.bias_name(fn) if convention.bias and convention.parameters is None
            else None)


def _option_values(combination: Combination, arrays: dict) -> dict:
    """The option values passed (class weights as the drawn array)."""
    values = combination.values
    if values["class_weights"] is not None:
        values["class_weights"] = arrays["class_weights"]
    return values


def _empty_mean(combination: Combination) -> bool:
    return combination.ignored == ALL_IGNORED and combination.values["reduction"] == "mean"


def _compared(fn, convention, dtype: str, seed: int, ones: bool) -> Cell:
    """``assert_close`` against plain same-dtype PyTorch at every combination: the first
    failure, or a pass."""
    for index, combination in enumerate(_plan(convention)):
        arrays = draw(convention.kind, _sizes(convention), combination, dtype, seed, index)
        if ones:
            arrays["upstream"] = np.ones_like(arrays["upstream"])
        failed = _first_difference(fn, convention, combination, arrays, dtype)
        if failed:
            return Cell(True, f"({combination.label}: {failed})")
    return Cell(False)


def _first_difference(fn, convention, combination: Combination, arrays: dict,
                      dtype: str) -> str | None:
    """The first output ``assert_close`` rejects at one combination, or None."""
    import torch

    values = _option_values(combination, arrays)
    try:
        output = lm_conventions.call(fn, convention, arrays, values, dtype,
                                     _bias_keyword(fn, convention))
    except UserCodeError as error:
        return f"raised: {error}"
    options = LMOptions(**values)
    tensors = {name: arrays[name] for name in convention.differentiated}
    if convention.kind == FUSED:
        exact = fused_linear_cross_entropy(arrays["hidden"], arrays["weight"], arrays["target"],
                                           arrays.get("bias"), options, arrays["upstream"])
    else:
        exact = cross_entropy(arrays["logits"], arrays["target"], options, arrays["upstream"])
    kind = lm_conventions.torch_dtype(dtype)
    reference = baseline_outputs(exact, arrays["target"], kind, options, arrays["upstream"],
                                 **tensors)
    mine = {"loss": output.loss, **output.gradients}
    if _empty_mean(combination) and mine["loss"].size == 1 and mine["loss"].reshape(()) == 0:
        mine["loss"] = np.full_like(mine["loss"], np.nan)  # 0 accepted for 0 / 0, as derive does
    for name, expected in reference.items():
        actual = np.asarray(mine[name])
        if actual.size == expected.size:
            actual = actual.reshape(expected.shape)
        try:
            torch.testing.assert_close(torch.tensor(actual).to(kind),
                                       torch.tensor(expected).to(kind), equal_nan=True)
        except AssertionError:
            return "loss" if name == "loss" else f"d{name}"
    return None


def _gradchecked(fn, convention, seed: int) -> Cell:
    """``torch.autograd.gradcheck`` in float64 at every combination (but the empty mean)."""
    import torch

    for index, combination in enumerate(_plan(convention)):
        if _empty_mean(combination):
            continue
        arrays = draw(convention.kind, _sizes(convention), combination, "float64", seed, index)
        inputs = tuple(torch.tensor(arrays[name], requires_grad=True)
                       for name in convention.differentiated)
        values = _option_values(combination, arrays)

        def loss(*tensors):
            return _call_float64(fn, convention, dict(zip(convention.differentiated, tensors)),
                                 arrays["target"], values)

        try:
            first = loss(*inputs)
            if first.grad_fn is None:
                return Cell(None, "no autograd graph")
            grads = torch.autograd.grad(first.sum(), inputs, allow_unused=True)
            returned = [first.detach().double().numpy()] + [
                g.double().numpy() for g in grads if g is not None]
            if index == 0 and all(np.array_equal(rounded(value, "float32"), value)
                                  for value in returned):  # (no token ignored at index 0)
                return Cell(None, "computes in float32")
            if not torch.autograd.gradcheck(loss, inputs, raise_exception=False, fast_mode=True):
                return Cell(True, f"({combination.label})")
        except Exception as error:  # noqa: BLE001 - the user's code, or gradcheck refusing it
            return Cell(True, f"({combination.label}: raised {type(error).__name__})")
    return Cell(False)


def _call_float64(fn, convention, tensors: dict, target, values: dict):
    """The function's loss at the float64 ``tensors``, called as ``conventions.call`` calls it
    (its options under its own names; a module through ``functional_call``)."""
    import torch

    labels = torch.tensor(target, dtype=torch.int64)
    keywords = {}
    for option, name in convention.options:
        value = values[option]
        keywords[name] = (torch.tensor(value) if option == "class_weights" and value is not None
                          else value)
    if convention.parameters is not None:
        from torch.func import functional_call

        first = tensors["logits"] if convention.kind == LOGITS else tensors["hidden"]
        held = {name: tensors[derive] for derive, name in convention.parameters}
        saved = {name: getattr(fn, name) for name in keywords}
        try:
            for name, value in keywords.items():
                setattr(fn, name, value)
            return functional_call(fn, held, (first, labels))
        finally:
            for name, value in saved.items():
                setattr(fn, name, value)
    if convention.kind == LOGITS:
        return fn(tensors["logits"], labels, **keywords)
    if convention.bias:
        keywords[lm_conventions.bias_name(fn)] = tensors["bias"]
    return fn(tensors["hidden"], tensors["weight"], labels, **keywords)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES),
                        choices=lm_conventions.DTYPES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    table = detection_table(dtypes=args.dtypes, seed=args.seed,
                            progress=lambda line: print(line, file=sys.stderr))
    print(table)


if __name__ == "__main__":
    main()
