"""A batch loss's closed-form gradient, proven for every size from lemmas that SymPy verifies.

The batch model shared by every loss, with 0-based indices throughout: ``X`` in R^{N x D}
(rows ``x_i``), ``W`` in R^{D x K}, a bias ``b`` in R^K, ``reg >= 0``; the scores
``S_{i,k} = sum_{d=0}^{D-1} X_{i,d} W_{d,k} + b_k``; the loss
``L = (1/N) sum_i l(S_i, y_i) + reg sum_{d,k} W_{d,k}^2``.  The closed form is
``dL/dW_{a,c} = (1/N) sum_i X_{i,a} G_{i,c} + 2 reg W_{a,c}`` and ``dL/db_c = (1/N) sum_i G_{i,c}``
with ``G_{i,k} = dl/dS_{i,k}`` the per-sample gradient in the scores.

Each :class:`Lemma` is data: an expression written with SymPy's ``IndexedBase`` and ``Sum``
over symbolic sizes ``K``, ``D``, ``N``, the variable it is differentiated by (``None`` for an
identity), the claimed result, each free index's range and, for a hinge, its kinks.
:func:`prove_lemma` has SymPy differentiate the expression itself, evaluate the
``KroneckerDelta`` sums that differentiation by ``s[m]`` leaves (``deltasummation``), decide
the range conditions those sums bring (``m <= K - 1``) from the indices' ranges, and expand:
the lemma is **proven** only when ``derivative - claim`` is then exactly ``0``.  Otherwise the
lemma is written out at small concrete sizes (every index value in range) and
:func:`derive.core.verify_identity` looks for a certified counterexample: **refuted** with it,
else **unproven**.  Nothing here trusts the code that wrote a closed form.

The chain rule itself (``dL/dW = sum dL/dS dS/dW``) is calculus, used and not re-proven; every
quantity it combines is a lemma: the per-sample gradient in the scores, the linear layer's
derivatives, the chain rule's contraction over the K scores, the mean over N samples and the L2
penalty.  (SymPy differentiating the whole batch loss at once, for symbolic K, D and N, would
remove that one step of calculus; it is not done here.)
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import sympy
from sympy import (
    Derivative,
    Expr,
    Function,
    Heaviside,
    IndexedBase,
    KroneckerDelta,
    Lambda,
    Max,
    Piecewise,
    Sum,
    Symbol,
    Wild,
    exp,
    log,
)
from sympy.core.function import AppliedUndef
from sympy.core.relational import StrictGreaterThan, StrictLessThan

from derive.catalog import entry
from derive.core import Counterexample, Status, verify_identity, worst
from derive.core.verdict import _number
from derive.document.symbolic import decide_conditions, sum_deltas

#: The sizes: classes, features, samples.
K, D, N = sympy.symbols("K D N", integer=True, positive=True)

#: Concrete values each size takes when a lemma not proven is written out to be refuted.
TRIED_SIZES = (1, 2, 3)
#: At most this many concrete instances (size combinations, smallest first) are tried.
MAX_INSTANCES = 8
#: The verifier's budget per instance, in seconds.
INSTANCE_TIME_LIMIT = 5.0


def _index(name: str) -> Symbol:
    return Symbol(name, integer=True, nonnegative=True)


# Free indices (each with a range below) and summation indices.
m, y, a, c, i, k = (_index(name) for name in ("m", "y", "a", "c", "i", "k"))
j, d, d2, k2 = (Symbol(name, integer=True) for name in ("j", "d", "d'", "k'"))
s, X, W, b, G = (IndexedBase(name, real=True) for name in ("s", "X", "W", "b", "G"))
w, g = IndexedBase("w", real=True), IndexedBase("g", real=True)
labels = IndexedBase("y", integer=True, nonnegative=True)
targets = IndexedBase("t", real=True)
reg = Symbol("reg", nonnegative=True)
theta, score, label, target, bias = (Symbol(name, real=True) for name in ("theta", "s", "y", "t", "b"))
ell = Function("ell", real=True)


def indicator(condition) -> Expr:
    """``1[condition]`` as SymPy's ``Piecewise``."""
    return Piecewise((1, condition), (0, True))


@dataclass(frozen=True)
class Lemma:
    """One lemma: ``d expression / d variable = claim`` (or ``expression = claim`` when
    ``variable`` is None) for every value of ``sizes``.

    ``ranges`` pairs each free index with its size: ``(m, K)`` means ``0 <= m <= K - 1``.
    ``kinks`` are ``Lambda``s ``j -> e_j``: the lemma is claimed only off them (where no
    ``e_j`` is 0), where the indicator ``1[e_j > 0]`` is SymPy's ``Heaviside(e_j)``.

    Examples
    --------
    >>> lemma = Lemma("l2", "L2", ("D",), reg * Sum(w[d] ** 2, (d, 0, D - 1)), w[a],
    ...               2 * reg * w[a], ranges=((a, D),))
    >>> prove_lemma(lemma).status
    'proven'
    """

    name: str
    statement: str
    sizes: tuple[str, ...]
    expression: Expr
    variable: Expr | None
    claim: Expr
    ranges: tuple[tuple[Symbol, Symbol], ...] = ()
    kinks: tuple[Lambda, ...] = ()


@dataclass(frozen=True)
class SizedCounterexample:
    """A concrete instance where a lemma fails: its sizes, its indices' values, and a point.

    ``point`` maps the lemma's own atoms (``X[1, 0]``, ``Derivative(ell(0, theta), theta)``)
    to exact values; ``expected`` (the derivative, or the left side) and ``claimed`` are the
    two sides there, certified different by :func:`derive.core.verify_identity`, whose
    counterexample (in plain symbols) is ``certified``.
    """

    sizes: dict[str, int]
    indices: dict[Symbol, int]
    point: dict[Expr, Expr]
    expected: Expr
    claimed: Expr
    certified: Counterexample

    def __str__(self) -> str:
        at = ", ".join(f"{name} = {value}" for name, value in {**self.sizes, **self.indices}.items())
        values = ", ".join(f"{atom} = {_number(value)}" for atom, value in self.point.items())
        return (f"at {at}" + (f", {values}" if values else "")
                + f": true value {_number(self.expected)}, claimed {_number(self.claimed)}")


@dataclass(frozen=True)
class LemmaResult:
    lemma: Lemma
    status: Status
    how: str
    counterexample: SizedCounterexample | None = None


@dataclass(frozen=True)
class AllSizesProof:
    """A loss's batch closed form, with the verdict on every lemma it rests on."""

    loss: str
    results: tuple[LemmaResult, ...]
    conclusion: str

    @property
    def status(self) -> Status:
        return worst(result.status for result in self.results)

    @property
    def proven(self) -> bool:
        return self.status == "proven"


# --- the prover -------------------------------------------------------------------------------


def prove_lemma(lemma: Lemma) -> LemmaResult:
    """Prove ``lemma`` for symbolic sizes, else refute it at concrete sizes, else unproven.

    Examples
    --------
    >>> lemma = Lemma("partition", "dZ/ds_m = e^{s_m}", ("K",),
    ...               Sum(exp(s[k]), (k, 0, K - 1)), s[m], exp(s[m]), ranges=((m, K),))
    >>> prove_lemma(lemma).status
    'proven'
    >>> wrong = prove_lemma(Lemma("wrong", "", ("K",), lemma.expression, s[m], s[m] * exp(s[m]),
    ...                           ranges=((m, K),)))
    >>> wrong.status, wrong.counterexample.sizes
    ('refuted', {'K': 1})
    """
    residual, steps = _reduce(lemma)
    if residual == 0:
        return LemmaResult(lemma, "proven", f"proven {_sizes_text(lemma)}: {steps} reduce "
                           f"{'the derivative' if lemma.variable is not None else 'the left side'} "
                           "minus the claim to 0" + _off_kinks(lemma))
    tried, found = _refute(lemma)
    if found is not None:
        return LemmaResult(lemma, "refuted", f"refuted {found}", found)
    return LemmaResult(lemma, "unproven", f"unproven: {steps} leave {sympy.sstr(residual)} "
                       f"(not 0), and no counterexample was found at {tried}")


def _reduce(lemma: Lemma) -> tuple[Expr, str]:
    """``derivative - claim`` after SymPy's own reductions, and those reductions in words: the
    ``KroneckerDelta`` sums and the range conditions they bring, decided from the indices'
    ranges (:func:`derive.document.symbolic.sum_deltas` and
    :func:`~derive.document.symbolic.decide_conditions`, as for a document's steps)."""
    truth = sympy.diff(lemma.expression, lemma.variable) if lemma.variable is not None else lemma.expression
    residual = _off_kinks_as_heaviside(truth - lemma.claim, lemma.kinks)
    ranges = {index: (0, size - 1) for index, size in lemma.ranges}
    summed, decided = [], set()
    for _ in range(4):  # each pass may expose sums nested in the last one's results
        reduced = decide_conditions(sum_deltas(residual, summed), ranges, decided)
        if reduced == residual:
            break
        residual = reduced
    residual = sympy.expand(residual, power_exp=False, log=False)
    steps = ["SymPy's diff" if lemma.variable is not None else "SymPy"]
    if summed:
        steps.append("its KroneckerDelta sums (deltasummation)")
    used = ", ".join(f"0 <= {index} <= {size - 1}" for index, size in lemma.ranges if index in decided)
    if used:
        steps.append(f"the ranges {used}")
    if residual != 0:
        residual = sympy.simplify(residual)
        steps.append("expand and simplify")
    else:
        steps.append("expand")
    return residual, ", ".join(steps[:-1]) + " and " + steps[-1]


def _off_kinks_as_heaviside(expr: Expr, kinks) -> Expr:
    """Off the kinks, each indicator ``1[e > 0]`` of a declared kink ``e`` is ``Heaviside(e)``
    (``Piecewise((v, e > 0), (0, True))``, as SymPy folds ``v * 1[e > 0]``, is ``v Heaviside(e)``)."""
    if not kinks:
        return expr

    def is_kink(e: Expr) -> bool:
        for kink in kinks:
            wilds = {v: Wild(f"w{n}") for n, v in enumerate(kink.variables)}
            if e.match(kink.expr.xreplace(wilds)) is not None:
                return True
        return False

    def positive_part(condition):
        if isinstance(condition, StrictGreaterThan):
            return condition.lhs - condition.rhs
        if isinstance(condition, StrictLessThan):
            return condition.rhs - condition.lhs
        return None

    def rewrite(piecewise: Piecewise) -> Expr:
        (value, condition), (zero, otherwise) = piecewise.args  # SymPy folds v * 1[e > 0] in
        e = positive_part(condition)
        if (zero, otherwise) == (0, sympy.true) and e is not None and is_kink(e):
            return value * Heaviside(e)
        return piecewise

    return expr.replace(lambda e: isinstance(e, Piecewise) and len(e.args) == 2, rewrite)


# --- refutation at concrete sizes -------------------------------------------------------------


def _size_symbols(lemma: Lemma) -> list[Symbol]:
    found = lemma.expression.free_symbols | lemma.claim.free_symbols
    found |= {size for _, size in lemma.ranges}
    by_name = {symbol.name: symbol for symbol in found if isinstance(symbol, Symbol)}
    return [by_name[name] for name in lemma.sizes if name in by_name]


def _instances(lemma: Lemma) -> list[dict[Symbol, int]]:
    sizes = _size_symbols(lemma)
    grid = sorted(itertools.product(TRIED_SIZES, repeat=len(sizes)), key=lambda v: (sum(v), v))
    return [dict(zip(sizes, values)) for values in grid[:MAX_INSTANCES]]


def _refute(lemma: Lemma) -> tuple[str, SizedCounterexample | None]:
    """The sizes tried, and a certified counterexample at the first instance that has one."""
    tried = []
    for sizes in _instances(lemma):
        tried.append(", ".join(f"{size} = {value}" for size, value in sizes.items()) or "no sizes")
        found = _refute_at(lemma, sizes)
        if found is not None:
            return "; ".join(tried), found
    return "; ".join(tried), None


def _refute_at(lemma: Lemma, sizes: dict[Symbol, int]) -> SizedCounterexample | None:
    if any(size not in sizes for _, size in lemma.ranges):
        return None  # a range over a size the lemma does not name: nothing honest to try
    free = [index for index, _ in lemma.ranges]
    choices = [range(sizes[size]) for _, size in lemma.ranges]
    combos = [dict(zip(free, values)) for values in itertools.product(*choices)]
    truths, claims = [], []
    for combo in combos:
        truth, claim = instance(lemma, sizes, combo)
        truths.append(truth)
        claims.append(claim)
    plain = _plain_symbols(truths + claims)
    verdict = verify_identity([t.xreplace(plain) for t in truths], [c.xreplace(plain) for c in claims],
                              time_limit=INSTANCE_TIME_LIMIT)
    if not verdict.failures:
        return None
    failure = verdict.failures[0]
    atom_of = {symbol: atom for atom, symbol in plain.items()}
    return SizedCounterexample(
        sizes={size.name: value for size, value in sizes.items()},
        indices={index: value for index, value in combos[failure.index].items()},
        point={atom_of.get(symbol, symbol): value for symbol, value in failure.point.items()},
        expected=failure.expected, claimed=failure.claimed, certified=failure,
    )


def instance(lemma: Lemma, sizes: dict, indices: dict) -> tuple[Expr, Expr]:
    """The lemma's two sides at concrete sizes and index values, every sum written out; the
    left side is SymPy's derivative of the written-out expression.

    Examples
    --------
    >>> instance(Lemma("l2", "", ("D",), Sum(w[d] ** 2, (d, 0, D - 1)), w[a], 2 * w[a]),
    ...          {D: 2}, {a: 1})
    (2*w[1], 2*w[1])
    """
    at = {**sizes, **{index: sympy.Integer(value) for index, value in indices.items()}}
    expression = lemma.expression.xreplace(at).doit()
    truth = sympy.diff(expression, lemma.variable.xreplace(at)) if lemma.variable is not None else expression
    return truth, lemma.claim.xreplace(at).doit()


def _plain_symbols(exprs) -> dict[Expr, Symbol]:
    """A plain real Symbol for each indexed entry and each derivative of an unknown function,
    which the verifier samples like any variable."""
    atoms = set()
    for expr in exprs:
        atoms |= {e for e in expr.atoms(Derivative) if e.expr.has(AppliedUndef)}
        atoms |= {e for e in expr.atoms(AppliedUndef) if not any(e in dv.atoms(AppliedUndef) for dv in atoms)}
        atoms |= expr.atoms(sympy.Indexed)
    return {atom: Symbol(sympy.sstr(atom), real=True) for atom in sorted(atoms, key=sympy.default_sort_key)}


def _sizes_text(lemma: Lemma) -> str:
    return ("for every " + ", ".join(lemma.sizes)) if lemma.sizes else "(no sizes)"


def _off_kinks(lemma: Lemma) -> str:
    if not lemma.kinks:
        return ""
    where = " or ".join(f"{sympy.sstr(kink.expr)} = 0" for kink in lemma.kinks)
    return f", off the kinks (except where {where} for some {', '.join(str(v) for kink in lemma.kinks for v in kink.variables)})"


# --- the lemmas of each loss ------------------------------------------------------------------

#: The catalog losses whose batch closed form is proven here for every size.
LOSSES_PROVEN_FOR_EVERY_SIZE = (
    "softmax-cross-entropy",
    "multiclass-svm",
    "logistic-regression",
    "mean-squared-error",
)


def linear_scores(sample, cls) -> Expr:
    """``S_{i,k} = sum_{d=0}^{D-1} X_{i,d} W_{d,k} + b_k``."""
    return Sum(X[sample, d] * W[d, cls], (d, 0, D - 1)) + b[cls]


def linear_score(sample) -> Expr:
    """``s_i = sum_{d=0}^{D-1} X_{i,d} w_d + b`` (one output: K = 1)."""
    return Sum(X[sample, d] * w[d], (d, 0, D - 1)) + bias


def _softmax_lemmas() -> tuple[Lemma, ...]:
    partition = Sum(exp(s[k]), (k, 0, K - 1))
    return (
        Lemma("partition-function",
              r"\frac{\partial}{\partial s_m} \sum_{k=0}^{K-1} e^{s_k} = e^{s_m}"
              r" \quad (0 \le m \le K-1)",
              ("K",), partition, s[m], exp(s[m]), ranges=((m, K),)),
        Lemma("score-gradient",
              r"\frac{\partial}{\partial s_m}\Big(-s_y + \log \sum_{k=0}^{K-1} e^{s_k}\Big)"
              r" = \frac{e^{s_m}}{\sum_{k=0}^{K-1} e^{s_k}} - \mathbb{1}[m = y]"
              r" \quad (0 \le m, y \le K-1)",
              ("K",), -s[y] + log(partition), s[m], exp(s[m]) / partition - KroneckerDelta(m, y),
              ranges=((m, K), (y, K))),
    )


def _margin(j_, y_) -> Expr:
    return s[j_] - s[y_] + 1


def svm_score_gradient() -> Expr:
    """The claimed ``G_m`` of the multiclass SVM loss."""
    violated = Sum((1 - KroneckerDelta(j, y)) * indicator(_margin(j, y) > 0), (j, 0, K - 1))
    return (1 - KroneckerDelta(m, y)) * indicator(_margin(m, y) > 0) - KroneckerDelta(m, y) * violated


def _svm_lemmas() -> tuple[Lemma, ...]:
    loss = Sum((1 - KroneckerDelta(j, y)) * Max(0, _margin(j, y)), (j, 0, K - 1))
    return (
        Lemma("score-gradient",
              r"\frac{\partial}{\partial s_m} \sum_{j \ne y} \max(0, s_j - s_y + 1)"
              r" = \begin{cases} \mathbb{1}[s_m - s_y + 1 > 0] & m \ne y \\"
              r" -\sum_{j \ne y} \mathbb{1}[s_j - s_y + 1 > 0] & m = y \end{cases}"
              r" \quad (0 \le m, y \le K-1;\ \text{off the kinks: no } s_j - s_y + 1 = 0)",
              ("K",), loss, s[m], svm_score_gradient(), ranges=((m, K), (y, K)),
              kinks=(Lambda(j, _margin(j, y)),)),
    )


def _logistic_lemmas() -> tuple[Lemma, ...]:
    return (
        Lemma("score-gradient",
              r"\frac{\partial}{\partial s}\big(\log(1 + e^{s}) - y s\big)"
              r" = \frac{1}{1 + e^{-s}} - y",
              (), log(1 + exp(score)) - label * score, score, 1 / (1 + exp(-score)) - label),
    )


def _mse_lemmas() -> tuple[Lemma, ...]:
    return (
        Lemma("score-gradient", r"\frac{\partial}{\partial s} (s - t)^2 = 2 (s - t)",
              (), (score - target) ** 2, score, 2 * (score - target)),
    )


def mean_lemma() -> Lemma:
    return Lemma(
        "mean-over-samples",
        r"\frac{\partial}{\partial \theta} \frac{1}{N} \sum_{i=0}^{N-1} \ell_i(\theta)"
        r" = \frac{1}{N} \sum_{i=0}^{N-1} \frac{\partial \ell_i}{\partial \theta}",
        ("N",), Sum(ell(i, theta), (i, 0, N - 1)) / N, theta,
        Sum(Derivative(ell(i, theta), theta), (i, 0, N - 1)) / N,
    )


def linear_lemmas(classes: bool) -> tuple[Lemma, ...]:
    """The linear layer (by the weights, by the bias) and the L2 term; with ``classes`` the
    chain rule's contractions over the K scores too."""
    if not classes:
        return (
            Lemma("linear-layer-weights",
                  r"\frac{\partial s_i}{\partial w_a} = X_{i,a}, \quad s_i = \sum_{d=0}^{D-1} X_{i,d} w_d + b"
                  r" \quad (0 \le i \le N-1,\ 0 \le a \le D-1)",
                  ("N", "D"), linear_score(i), w[a], X[i, a], ranges=((i, N), (a, D))),
            Lemma("linear-layer-bias", r"\frac{\partial s_i}{\partial b} = 1",
                  ("N", "D"), linear_score(i), bias, sympy.Integer(1), ranges=((i, N),)),
            Lemma("l2-penalty",
                  r"\frac{\partial}{\partial w_a}\, \mathrm{reg} \sum_{d=0}^{D-1} w_d^2 = 2\, \mathrm{reg}\, w_a"
                  r" \quad (0 \le a \le D-1)",
                  ("D",), reg * Sum(w[d2] ** 2, (d2, 0, D - 1)), w[a], 2 * reg * w[a], ranges=((a, D),)),
        )
    return (
        Lemma("linear-layer-weights",
              r"\frac{\partial S_{i,k}}{\partial W_{a,c}} = X_{i,a}\, \mathbb{1}[k = c],"
              r" \quad S_{i,k} = \sum_{d=0}^{D-1} X_{i,d} W_{d,k} + b_k"
              r" \quad (0 \le i \le N-1,\ 0 \le a \le D-1,\ 0 \le k, c \le K-1)",
              ("N", "D", "K"), linear_scores(i, k), W[a, c], X[i, a] * KroneckerDelta(k, c),
              ranges=((i, N), (k, K), (a, D), (c, K))),
        Lemma("linear-layer-bias",
              r"\frac{\partial S_{i,k}}{\partial b_c} = \mathbb{1}[k = c]",
              ("N", "D", "K"), linear_scores(i, k), b[c], KroneckerDelta(k, c),
              ranges=((i, N), (k, K), (c, K))),
        Lemma("chain-rule-weights",
              r"\sum_{k=0}^{K-1} G_{i,k}\, X_{i,a}\, \mathbb{1}[k = c] = X_{i,a} G_{i,c}"
              r" \quad (0 \le c \le K-1)",
              ("N", "D", "K"), Sum(G[i, k] * X[i, a] * KroneckerDelta(k, c), (k, 0, K - 1)), None,
              X[i, a] * G[i, c], ranges=((i, N), (a, D), (c, K))),
        Lemma("chain-rule-bias",
              r"\sum_{k=0}^{K-1} G_{i,k}\, \mathbb{1}[k = c] = G_{i,c} \quad (0 \le c \le K-1)",
              ("N", "K"), Sum(G[i, k] * KroneckerDelta(k, c), (k, 0, K - 1)), None, G[i, c],
              ranges=((i, N), (c, K))),
        Lemma("l2-penalty",
              r"\frac{\partial}{\partial W_{a,c}}\, \mathrm{reg} \sum_{d=0}^{D-1} \sum_{k=0}^{K-1} W_{d,k}^2"
              r" = 2\, \mathrm{reg}\, W_{a,c} \quad (0 \le a \le D-1,\ 0 \le c \le K-1)",
              ("D", "K"), reg * Sum(W[d2, k2] ** 2, (d2, 0, D - 1), (k2, 0, K - 1)), W[a, c],
              2 * reg * W[a, c], ranges=((a, D), (c, K))),
    )


_PER_SAMPLE = {
    "softmax-cross-entropy": _softmax_lemmas,
    "multiclass-svm": _svm_lemmas,
    "logistic-regression": _logistic_lemmas,
    "mean-squared-error": _mse_lemmas,
}

_CONCLUSIONS = {
    "softmax-cross-entropy": r"G_{i,k} = \frac{e^{S_{i,k}}}{\sum_{k'=0}^{K-1} e^{S_{i,k'}}} - \mathbb{1}[k = y_i]",
    "multiclass-svm": r"G_{i,k} = \begin{cases} \mathbb{1}[S_{i,k} - S_{i,y_i} + 1 > 0] & k \ne y_i \\"
                      r" -\sum_{j \ne y_i} \mathbb{1}[S_{i,j} - S_{i,y_i} + 1 > 0] & k = y_i \end{cases}",
    "logistic-regression": r"g_i = \frac{1}{1 + e^{-s_i}} - y_i",
    "mean-squared-error": r"g_i = 2 (s_i - t_i)",
}


def lemmas(loss: str) -> tuple[Lemma, ...]:
    """The lemmas the batch closed form of ``loss`` rests on, the per-sample one(s) first.

    Raises the catalog's ``UnknownLossError`` for a name not in the catalog, ``ValueError``
    for a catalog loss without an all-sizes proof.

    Examples
    --------
    >>> [lemma.name for lemma in lemmas("mean-squared-error")]
    ['score-gradient', 'linear-layer-weights', 'linear-layer-bias', 'l2-penalty', 'mean-over-samples']
    """
    entry(loss)  # UnknownLossError for a name the catalog does not know
    if loss not in _PER_SAMPLE:
        raise ValueError(f"{loss!r} has no all-sizes proof; these do: {', '.join(LOSSES_PROVEN_FOR_EVERY_SIZE)}")
    return _PER_SAMPLE[loss]() + linear_lemmas(classes=loss in ("softmax-cross-entropy", "multiclass-svm")) \
        + (mean_lemma(),)


def conclusion(loss: str) -> str:
    """The LaTeX of the batch closed form that ``loss``'s lemmas prove (0-based indices)."""
    lemmas(loss)
    if loss in ("softmax-cross-entropy", "multiclass-svm"):
        return (r"\frac{\partial L}{\partial W_{a,c}} = \frac{1}{N} \sum_{i=0}^{N-1} X_{i,a} G_{i,c}"
                r" + 2\, \mathrm{reg}\, W_{a,c}, \quad \frac{\partial L}{\partial b_c}"
                r" = \frac{1}{N} \sum_{i=0}^{N-1} G_{i,c}, \quad " + _CONCLUSIONS[loss])
    return (r"\frac{\partial L}{\partial w_a} = \frac{1}{N} \sum_{i=0}^{N-1} X_{i,a} g_i"
            r" + 2\, \mathrm{reg}\, w_a, \quad \frac{\partial L}{\partial b}"
            r" = \frac{1}{N} \sum_{i=0}^{N-1} g_i, \quad " + _CONCLUSIONS[loss])


@functools.lru_cache(maxsize=None)
def all_sizes_proof(loss: str) -> AllSizesProof:
    """Every lemma of ``loss`` proven (or not), and the closed form they give by the chain rule.

    Examples
    --------
    >>> proof = all_sizes_proof("mean-squared-error")
    >>> proof.status, proof.proven
    ('proven', True)
    """
    return AllSizesProof(loss, tuple(prove_lemma(lemma) for lemma in lemmas(loss)), conclusion(loss))
