"""The inputs a language-model cross-entropy is judged at: which option combinations, and the
random tensors of each, drawn in float64 and rounded to the judged dtype (the oracle reads the
rounded numbers, so the dtype's rounding of the inputs is never counted as the function's error).

The option matrix.  An option the function takes is *varied*: each reduction it takes (none, mean,
sum), and at each reduction every option alone "on" at its probe value (:data:`PROBES`, or the
declared value), then all of them on together; with ``ignore_index`` also a batch where every token
is ignored, and a batch whose ignored id is a vocabulary id (0, a pad token) instead of -100.  An
option it does not take is *fixed*: the declared value (what the function computes), else off.

Examples
--------
>>> [c.label for c in combinations({"reduction": "reduction", "z_loss": "z_loss"}, {})]
['mean', 'mean, z_loss=0.05', 'sum', 'sum, z_loss=0.05', 'none', 'none, z_loss=0.05']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REDUCTIONS = ("mean", "sum", "none")
#: The value an option the function takes is judged at, unless one is declared: large enough that
#: each option's gradient term stands out of bfloat16's rounding at small sizes (z-loss 0.05:
#: 2 z lse p is about a third of p; softcap 5 against logits of spread 3: 1 - tanh^2 down to 0.5).
PROBES = {"ignore_index": -100, "label_smoothing": 0.2, "z_loss": 0.05, "softcap": 5.0,
          "class_weights": "random"}
#: "Off": what derive assumes of an option the function neither takes nor is declared.
OFF = {"reduction": "mean", "ignore_index": None, "label_smoothing": 0.0, "z_loss": 0.0,
       "softcap": None, "class_weights": None}
#: The ignored id of the extra batch that ignores a vocabulary id, as pad tokens often are.
PAD_ID = 0
#: Standard deviation of the random logits (logits level), and of the fused form's logits.
LOGIT_SPREAD = 3.0
#: Fraction of the tokens ignored where ``ignore_index`` is on.
IGNORED_SHARE = 0.25
ALL_IGNORED = "every token ignored"
#: The range of the random upstream gradient of a mean or sum: at least 50% away from 1, so a
#: backward that drops it is off by more than bfloat16's rounding.
SCALAR_UPSTREAM = (1.5, 3.0)


@dataclass(frozen=True)
class Combination:
    """One set of option values judged, by derive's names, and which tokens are ignored."""

    options: tuple[tuple[str, object], ...]
    ignored: str = "none"  # "none", "some" or ALL_IGNORED
    bias: bool = True  # False: a fused function called without its optional bias

    @property
    def values(self) -> dict:
        return dict(self.options)

    @property
    def label(self) -> str:
        values = self.values
        shown = [values["reduction"]]
        shown += [f"{name}={_shown(value)}" for name, value in self.options
                  if name != "reduction" and value != OFF[name] and not (
                      name == "ignore_index" and self.ignored == "none")]
        if self.ignored == ALL_IGNORED:
            shown.append(ALL_IGNORED)
        if not self.bias:
            shown.append("without bias")
        return ", ".join(shown)


def _shown(value) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


def combinations(takes: dict, declared: dict) -> list[Combination]:
    """The option combinations judged for a function taking the options ``takes`` (derive's
    name -> its parameter), with the values ``declared`` (derive's name -> value; absent or None:
    not declared)."""
    declared = {name: value for name, value in declared.items() if value is not None}
    fixed = {name: declared.get(name, OFF[name]) for name in OFF if name not in takes}
    varied = {name: declared.get(name, PROBES[name]) for name in OFF
              if name in takes and name != "reduction"}
    if "reduction" in takes:
        reductions = (declared["reduction"],) if "reduction" in declared else REDUCTIONS
    else:
        reductions = (fixed.pop("reduction"),)
    off = {name: OFF[name] for name in varied}
    if "ignore_index" in varied:
        off["ignore_index"] = varied["ignore_index"]  # passed, but no token has it
    fixed_ignoring = fixed.get("ignore_index") is not None
    result: list[Combination] = []
    for reduction in reductions:
        base = dict(fixed, reduction=reduction)
        sets = [(off, False)] + [(dict(off, **{name: value}), name == "ignore_index")
                                 for name, value in varied.items()]
        if len(varied) > 1:
            sets.append((varied, "ignore_index" in varied))
        for chosen, ignoring in sets:
            ignored = "some" if ignoring or fixed_ignoring else "none"
            result.append(_combination(dict(base, **chosen), ignored))
        if "ignore_index" in varied or fixed_ignoring:
            ignore = varied.get("ignore_index", fixed.get("ignore_index"))
            result.append(_combination(dict(base, **dict(off, ignore_index=ignore)), ALL_IGNORED))
        if "ignore_index" in varied and "ignore_index" not in declared:
            result.append(_combination(dict(base, **dict(off, ignore_index=PAD_ID)), "some"))
    return list(dict.fromkeys(result))


def _combination(values: dict, ignored: str) -> Combination:
    order = tuple(OFF)
    return Combination(tuple((name, values[name]) for name in order), ignored)


def draw(kind: str, sizes: dict, combination: Combination, dtype: str, seed: int,
         index: int) -> dict:
    """The random input of ``combination`` (the ``index``-th of the check): float64 arrays
    holding ``dtype`` numbers (``logits``, or ``hidden``, ``weight`` and ``bias``; ``upstream``;
    ``class_weights`` when on) and the integer ``target``."""
    rng = np.random.default_rng([seed, index])
    n, width, vocabulary = sizes["samples"], sizes["hidden"], sizes["vocab"]
    values = combination.values
    arrays: dict = {}
    if kind == "logits":
        arrays["logits"] = LOGIT_SPREAD * rng.standard_normal((n, vocabulary))
    else:
        arrays["hidden"] = rng.standard_normal((n, width))
        arrays["weight"] = LOGIT_SPREAD / np.sqrt(width) * rng.standard_normal((vocabulary, width))
        arrays["bias"] = rng.standard_normal(vocabulary)
    if values["class_weights"] is not None:
        arrays["class_weights"] = rng.uniform(0.5, 2.0, vocabulary)
    if values["reduction"] == "none":
        arrays["upstream"] = rng.standard_normal(n)  # never all ones: see the package docstring
    else:
        arrays["upstream"] = np.array(rng.uniform(*SCALAR_UPSTREAM))
    arrays = {name: rounded(value, dtype) for name, value in arrays.items()}
    arrays["target"] = _targets(rng, n, vocabulary, values["ignore_index"], combination.ignored)
    return arrays


def _targets(rng, n: int, vocabulary: int, ignore_index, ignored: str) -> np.ndarray:
    target = rng.integers(0, vocabulary, n)
    if ignored == ALL_IGNORED:
        return np.full(n, ignore_index, dtype=np.int64)
    if ignored == "some":
        if 0 <= ignore_index < vocabulary:  # a vocabulary id: none of the others may be it
            target = np.where(target == ignore_index, (ignore_index + 1) % vocabulary, target)
        chosen = rng.random(n) < IGNORED_SHARE
        chosen[rng.integers(n)] = True  # at least one
        if n > 1 and chosen.all():
            chosen[0] = False  # and not all
        target = np.where(chosen, ignore_index, target)
    return target.astype(np.int64)


def rounded(values: np.ndarray, dtype: str) -> np.ndarray:
    """``values`` rounded to the torch dtype ``dtype``, as float64 (read in place, not copied
    first: at a Llama-size head that saves a 2 GiB copy and seconds)."""
    import torch

    source = torch.from_numpy(np.require(values, np.float64, "C"))
    return source.to(getattr(torch, dtype)).double().numpy()
