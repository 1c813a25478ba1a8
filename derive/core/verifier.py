"""Prove or refute that claimed expressions equal the true ones, entry by entry.

The verifier answers one question: is ``true[i] - claimed[i]`` zero wherever both are defined?
:func:`verify` asks it of a loss's SymPy derivative and a claimed gradient; :func:`verify_identity`
asks it of any two lists.  See :mod:`derive.core.verdict` for what each verdict means.

How an entry is decided:

1. Inputs are checked and made exact (:mod:`derive.core.inputs`); constraints in ``given`` are
   solved and substituted (:mod:`derive.core.domain`).
2. The instant strategies (identical, rational) run here, bounded by work, not time
   (:mod:`derive.core.strategies`).  An entry they prove is decided here only if it needs no
   evaluation: it is trivially defined and its true side has no kinks.
3. Everything else runs in a worker process with the entry's own deadline of ``time_limit``
   seconds (:mod:`derive.core.budget`): the definedness certificate where it needs evaluation,
   the cheap symbolic strategies, the counterexample search (:mod:`derive.core.search`), then
   ``simplify``.

A proof counts only if the entry is certifiably defined somewhere (:mod:`derive.core.certify`):
an expression that is undefined everywhere, such as ``nan`` or a 0/0 in disguise, is never
proven.  Every proof of an entry whose true side has kinks names them in ``except_where`` (the loss
is not differentiable there), and only kinks certified to vanish on a null set are ever named
(:func:`derive.core.kinks.is_null_kink`).  Random choices are seeded per entry from ``seed``, so
no verdict depends on the order of entries, the hash seed, the calling thread, its signal mask or
its timers.

Inputs SymPy cannot handle raise a precise :class:`VerificationInputError`, never a stray exception:
expressions nested deeper than SymPy can recurse, two different symbols that print alike
(``Symbol('x')`` and ``Symbol('x', positive=True)``), malformed options.  A ``time_limit`` of at
least :data:`NO_DEADLINE_ABOVE` seconds (or ``math.inf``) means no deadline.
"""

from __future__ import annotations

import functools
import math
import random
import sys
import time
from dataclasses import dataclass

import sympy
from sympy import Expr, Symbol

from derive.core import budget
from derive.core.certify import Definedness
from derive.core.domain import Domain, solve_constraints
from derive.core.kinks import is_null_kink, kinks_of, polynomial_null_kinks
from derive.core.inputs import (
    Shaped, distinct_names, expression, nesting_depth, same_shape, shaped, variable,
)
from derive.core.search import search
from derive.core.strategies import (
    AFTER_SEARCH,
    BEFORE_SEARCH,
    INSTANT,
    Context,
    first_proof,
)
from derive.core.verdict import EntryVerdict, Verdict, VerificationInputError

#: Default wall-clock budget, in seconds, of each entry (not of the whole call).
DEFAULT_TIME_LIMIT = 10.0
#: Default number of random points tried when looking for a counterexample.
DEFAULT_POINTS = 8
#: Entries whose true side has kinks get this many times the points: a claim wrong only on part
#: of a region (``1[s > 1]`` for ``1[s > 0]``) needs points there.
KINK_POINTS_FACTOR = 4
#: Points at which definedness certificates are sought.
DEFINEDNESS_POINTS = 4
#: A time limit of this many seconds (about 30 years) or more is no deadline at all.
NO_DEADLINE_ABOVE = 1e9


@dataclass(frozen=True)
class _Entry:
    index: int
    variable: Symbol | None
    truth: Expr
    claim: Expr
    given: tuple[Expr, Expr]  # the entry as given: a counterexample lists only its symbols


def _too_deep_is_an_input_error(function):
    """Turn SymPy's RecursionError on a deeply nested input into a precise input error."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except RecursionError:
            pass  # raised below, outside the handler, once the stack has unwound
        depth = nesting_depth([a for a in (*args, *kwargs.values())])
        raise VerificationInputError(
            f"the expressions are nested too deeply for SymPy ({depth} levels): SymPy recurses "
            f"once or more per level and ran past Python's recursion limit of "
            f"{sys.getrecursionlimit()}; name intermediate results with symbols instead"
        )

    return guarded


@_too_deep_is_an_input_error
def verify(loss, wrt, claim, *, given=(), time_limit: float = DEFAULT_TIME_LIMIT,
           points: int = DEFAULT_POINTS, seed: int = 0) -> Verdict:
    """Verify that ``claim`` is the gradient of the scalar ``loss`` with respect to ``wrt``.

    ``wrt`` is a list, tuple or Matrix of Symbols; ``claim`` has the same shape (a flat list
    pairs with anything in row-major order).  The true derivative of each entry is SymPy's own
    ``diff``.  ``given`` holds equations (``Eq(t0 + t1 + t2, 1)``) among symbols not in ``wrt``.
    ``time_limit`` is each entry's budget in seconds (``math.inf`` for none); ``points`` random
    points (drawn from ``seed``) are tried for a counterexample.

    Examples
    --------
    >>> from sympy import symbols, exp, log, Eq
    >>> u, v = symbols("u v", real=True)
    >>> loss = log(exp(u) + exp(v))
    >>> verify(loss, [u, v], [exp(u) / (exp(u) + exp(v)), exp(v) / (exp(u) + exp(v))]).status
    'proven'
    >>> verdict = verify(loss, [u, v], [exp(u), exp(v)])
    >>> verdict.status, verdict.failures[0].variable
    ('refuted', u)
    >>> t = symbols("t0:2", positive=True)
    >>> verify(-t[0] * log(exp(u) / (exp(u) + exp(v))) - t[1] * log(exp(v) / (exp(u) + exp(v))),
    ...        [u], [exp(u) / (exp(u) + exp(v)) - t[0]], given=[Eq(t[0] + t[1], 1)]).status
    'proven'
    """
    if isinstance(loss, (sympy.MatrixBase, sympy.MatrixExpr, list, tuple)):
        raise VerificationInputError(f"loss must be a scalar SymPy expression, got {type(loss).__name__}")
    loss = expression(loss, "loss")
    variables = shaped(wrt, "wrt")
    symbols = [variable(v) for v in variables.entries]
    claims = shaped(claim, "claim")
    time_limit = _check_options(time_limit, points, seed)

    def verdict_on(transposed_claim) -> Verdict:
        wrt_matrix = sympy.Matrix(*variables.shape, list(variables.entries))
        return verify(loss, wrt_matrix, transposed_claim, given=given, time_limit=time_limit,
                      points=points, seed=seed)

    _check_pairing(variables, claims, "wrt", "claim", transposed_verdict=verdict_on)
    memo: dict = {}
    claim_exprs = [expression(c, "claim", memo) for c in claims.entries]
    distinct_names([loss, *claim_exprs, *symbols, *_equations(given)])
    truths = [sympy.diff(loss, s) for s in symbols]
    return _verify_pairs(truths, claim_exprs, symbols, loss, given, time_limit, points, seed)


@_too_deep_is_an_input_error
def verify_identity(lhs, rhs, *, wrt=None, given=(), time_limit: float = DEFAULT_TIME_LIMIT,
                    points: int = DEFAULT_POINTS, seed: int = 0) -> Verdict:
    """Decide, entry by entry, whether ``lhs[i] == rhs[i]`` wherever both are defined.

    ``lhs`` holds the true values (for a gradient: SymPy's derivatives) and ``rhs`` the claimed
    ones, in the same shape.  When they are derivatives, ``wrt`` (the variables, in the same
    order) names each entry in verdicts (``dL/dw_1``); it changes nothing else.  The other
    options are those of :func:`verify`.

    Examples
    --------
    >>> from sympy import symbols, log, exp
    >>> a = symbols("a", positive=True)
    >>> verify_identity([log(a**2)], [2 * log(a)]).status
    'proven'
    >>> verify_identity([exp(a)], [1 + a]).failures[0].index
    0
    """
    left, right = shaped(lhs, "the true values"), shaped(rhs, "the claimed values")
    time_limit = _check_options(time_limit, points, seed)
    _check_pairing(left, right, "the true values", "the claimed values")
    memo: dict = {}
    truths = [expression(value, "true value", memo) for value in left.entries]
    claims = [expression(value, "claim", memo) for value in right.entries]
    names = [None] * len(truths)
    if wrt is not None:
        variables = shaped(wrt, "wrt")
        _check_pairing(left, variables, "the true values", "wrt")
        names = [variable(v) for v in variables.entries]
    distinct_names([*truths, *claims, *(n for n in names if n is not None), *_equations(given)])
    return _verify_pairs(truths, claims, names, None, given, time_limit, points, seed)


def _equations(given) -> list:
    """The sympy objects in ``given``, for the name check (its form is checked later)."""
    return [e for e in given if isinstance(e, sympy.Basic)] if isinstance(given, (list, tuple)) else []


def _check_pairing(left: Shaped, right: Shaped, left_name: str, right_name: str,
                   transposed_verdict=None) -> None:
    """Raise unless ``right`` pairs with ``left`` entry by entry; for a transposed claim, say
    what ``transposed_verdict`` (a verdict on the transposed claim) finds."""
    if len(left.entries) != len(right.entries):
        count = len(left.entries)
        raise VerificationInputError(
            f"{left_name} has {count} entr{'y' if count == 1 else 'ies'} but {right_name} has "
            f"{len(right.entries)}; they must pair up"
        )
    if len(left.shape) == 1 or len(right.shape) == 1 or same_shape(left.shape, right.shape):
        return
    message = (
        f"{right_name} has shape {right.shape} but {left_name} has shape {left.shape}; "
        "entries would pair up wrongly"
    )
    if transposed_verdict is not None and len(right.shape) == 2 and right.shape[::-1] == left.shape:
        verdict = transposed_verdict(sympy.Matrix(*right.shape, list(right.entries)).T)
        message += (
            "; the transposed claim would be proven" if verdict
            else f"; the transposed claim would be {verdict.status} too"
        )
    raise VerificationInputError(message)


def _verify_pairs(truths, claims, variables, loss, given, time_limit, points, seed) -> Verdict:
    domain = Domain(solve_constraints(given, [v for v in variables if v is not None]))
    entries = [
        _Entry(i, var, domain.substitute(t), domain.substitute(c), (t, c))
        for i, (var, t, c) in enumerate(zip(variables, truths, claims))
    ]
    loss = domain.substitute(loss) if loss is not None else None
    decider = _Decider(domain, loss, entries, points, seed)
    verdicts: dict[int, EntryVerdict] = {}
    deferred: list[tuple[_Entry, tuple | None]] = []
    for entry in entries:
        verdict, proof = decider.instantly(entry)
        if verdict is not None:
            verdicts[entry.index] = verdict
        else:
            deferred.append((entry, proof))
    if deferred and time_limit > 0:
        tasks = [lambda entry=entry, proof=proof: decider.fully(entry, proof) for entry, proof in deferred]
        outcomes = budget.run_each(tasks, time_limit)
    else:
        outcomes = [budget.TimedOut(time_limit)] * len(deferred)
    for (entry, _), outcome in zip(deferred, outcomes):
        verdicts[entry.index] = _from_outcome(entry, outcome, time_limit)
    return Verdict(tuple(verdicts[i] for i in range(len(entries))))


def _from_outcome(entry: _Entry, outcome, time_limit: float) -> EntryVerdict:
    if isinstance(outcome, EntryVerdict):
        return outcome
    if isinstance(outcome, budget.TimedOut):
        reason = f"time limit of {_seconds(time_limit)} reached"
    elif outcome.reason.startswith(budget.NOT_STARTED):
        reason = f"{outcome.reason}, so nothing beyond the instant strategies was tried"
    else:
        reason = f"the proof search failed ({outcome.reason})"
    return EntryVerdict(entry.index, "unproven", reason=reason, variable=entry.variable)


class _Decider:
    """Decides entries of one call; shares atom tables, points and certificates among them."""

    def __init__(self, domain: Domain, loss: Expr | None, entries, points: int, seed: int):
        self.domain = domain
        self.loss = loss
        self.points = points
        self.seed = seed
        self.context = Context()
        self.definedness = Definedness(lambda: self._definedness_points(entries))
        self._null_kinks: dict = {}

    def _definedness_points(self, entries) -> list:
        symbols = set().union(*(e.truth.free_symbols | e.claim.free_symbols for e in entries))
        if self.loss is not None:
            symbols |= self.loss.free_symbols
        rng = random.Random(f"definedness:{self.seed}")
        sampled = [self.domain.point(symbols, rng) for _ in range(DEFINEDNESS_POINTS)]
        return [point for point in sampled if point is not None]

    def _sides(self, entry: _Entry) -> tuple[Expr, ...]:
        return (entry.truth, entry.claim) + ((self.loss,) if self.loss is not None else ())

    def instantly(self, entry: _Entry):
        """(verdict, None) when decided here; (None, proof or None) to go on in the worker."""
        if self.definedness.has_undefined_atoms(*self._sides(entry)):
            return self._undefined(entry), None
        proof = first_proof(INSTANT, entry.truth, entry.claim, self.context)
        if proof is None or not self.definedness.trivially_defined(*self._sides(entry)):
            return None, proof
        if not self._has_switches(entry):
            return self._proven(entry, proof), None
        kinks = polynomial_null_kinks(entry.truth)  # None: certifying them needs evaluation
        if kinks is None:
            return None, proof
        self._null_kinks[entry.truth] = kinks
        return self._proven(entry, proof), None

    def _has_switches(self, entry: _Entry) -> bool:
        return "switch" in self.definedness.traits(entry.truth)

    def fully(self, entry: _Entry, proof) -> EntryVerdict:
        """Everything else, in the worker: definedness, strategies, search, simplify."""
        started = time.monotonic()
        if not self.definedness.defined_somewhere(*self._sides(entry)):
            return self._undefined(entry)
        if proof is not None:
            return self._proven(entry, proof)
        proof = first_proof(BEFORE_SEARCH, entry.truth, entry.claim, self.context)
        if proof is not None:
            return self._proven(entry, proof)
        rng = random.Random(f"search:{self.seed}:{entry.index}")
        points = self.points * (KINK_POINTS_FACTOR if kinks_of(entry.truth) else 1)
        found = search(entry.index, entry.variable, entry.truth, entry.claim, self.domain,
                       entry.given[0].free_symbols | entry.given[1].free_symbols, points, rng)
        if found.counterexample is not None:
            return EntryVerdict(entry.index, "refuted", counterexample=found.counterexample,
                                agreeing_points=found.agreeing, undefined_points=found.undefined,
                                variable=entry.variable)
        proof = first_proof(AFTER_SEARCH, entry.truth, entry.claim, self.context)
        if proof is not None:
            return self._proven(entry, proof)
        if found.unsamplable:
            names = ", ".join(f"{s} ({_assumptions(s)})" for s in found.unsamplable)
            reason = f"no proof, and random points cannot refute: no sampler for {names}"
        else:
            elapsed = _seconds(time.monotonic() - started)
            reason = f"no strategy proved it (in {elapsed}) and no counterexample was found"
        return EntryVerdict(entry.index, "unproven", reason=reason, agreeing_points=found.agreeing,
                            undefined_points=found.undefined, variable=entry.variable)

    def _proven(self, entry: _Entry, proof) -> EntryVerdict:
        name, except_where = proof
        if self._has_switches(entry):  # name the kinks, the null ones only
            relations = dict.fromkeys(except_where)
            relations.update((sympy.Eq(kink, 0), None) for kink in self._null_kinks_of(entry.truth))
            except_where = tuple(sorted(relations, key=sympy.default_sort_key))
        return EntryVerdict(entry.index, "proven", strategy=name, except_where=except_where,
                            variable=entry.variable)

    def _null_kinks_of(self, truth: Expr) -> list:
        if truth not in self._null_kinks:
            self._null_kinks[truth] = [k for k in kinks_of(truth) if is_null_kink(k)]
        return self._null_kinks[truth]

    def _undefined(self, entry: _Entry) -> EntryVerdict:
        return EntryVerdict(
            entry.index, "unproven", variable=entry.variable,
            reason="undefined: the loss, the true value or the claim has no certified finite "
            "value at any point tried (nan, zoo, a division by zero everywhere, or a function "
            "that cannot be evaluated)",
        )


def _assumptions(symbol: Symbol) -> str:
    facts = [k for k, v in sorted(symbol.assumptions0.items()) if v and k != "commutative"]
    return ", ".join(f"{k}=True" for k in facts) or "no assumptions"


def _seconds(seconds: float) -> str:
    return f"{seconds:.3g} s"


def _check_options(time_limit, points, seed) -> float:
    """Check the options; return ``time_limit`` as a float (``math.inf`` for no deadline).

    >>> _check_options(10**400, 8, 0), _check_options(2, 8, 0)
    (inf, 2.0)
    """
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise VerificationInputError(
            f"time_limit must be a number of seconds >= 0 (math.inf for none), got {time_limit!r}"
        )
    try:
        seconds = float(time_limit)
    except OverflowError:  # an int too large for a float: no deadline
        seconds = math.inf
    if math.isnan(seconds) or seconds < 0:
        raise VerificationInputError(
            f"time_limit must be a number of seconds >= 0 (math.inf for none), got {time_limit!r}"
        )
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise VerificationInputError(f"points must be an integer >= 1, got {points!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise VerificationInputError(f"seed must be an integer, got {seed!r}")
    return math.inf if seconds >= NO_DEADLINE_ABOVE else seconds
