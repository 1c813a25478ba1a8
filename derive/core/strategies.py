"""The proof ladder, as data: each strategy shows ``true - claimed`` is zero, or says nothing.

A strategy returns ``None`` (not shown) or the tuple of relations on which the claim may still
differ (``()`` for everywhere).  A strategy that fails proves nothing either way; the verifier
then moves on, and in the end either a counterexample or "unproven" is the answer.

``instant`` strategies run in the caller's process before anything else, bounded by work rather
than time, so their verdicts never depend on timing: ``identical`` builds one difference, and the
instant ``rational`` test gives up past :data:`INSTANT_WORK` units of polynomial work (about
0.3 s; see :mod:`derive.core.rational`).  A pair it gave up on is tested again in the worker
process, where every other strategy runs too, under each entry's own deadline
(:mod:`derive.core.budget`), the counterexample search between the cheap ones and ``simplify``.

A proof split on kinks (``kinks``) names them as the exceptions; it is given only when every kink
is certified to vanish on a null set (:func:`derive.core.kinks.is_null_kink`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy
from sympy import Expr

from derive.core.freeze import AtomFreezer
from derive.core.kinks import MAX_KINKS, OnRegion, is_null_kink, kinks_of, sign_cases
from derive.core.rational import NotRational, TooLarge, is_zero_rational

#: Term budget of every rational zero test: the largest polynomial it may build.  Past it the
#: test gives up at once instead of spending the entry's whole budget on one expansion.
MAX_TERMS = 200_000
#: Work budget of the instant rational test, in units of :mod:`derive.core.rational` (one unit
#: is at most about 3 microseconds: 100 000 units are about 0.3 s).
INSTANT_WORK = 100_000

Proof = tuple  # relations where the claim may differ; () for everywhere


class Context:
    """What the strategies of one call share: atom tables (one per freezing mode)."""

    def __init__(self):
        self.freezer = AtomFreezer()
        self.splitting_freezer = AtomFreezer(split_exponentials=True)
        #: Pairs the instant rational test gave up on for their size: the worker tries again.
        self.too_large_for_instant: set = set()


def _identical(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    return () if truth - claim == 0 else None


def _rational(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """Zero as a rational function of its exponentials and other atoms, within INSTANT_WORK."""
    try:
        return () if is_zero_rational(context.freezer.freeze(truth - claim), MAX_TERMS, INSTANT_WORK) else None
    except TooLarge:
        context.too_large_for_instant.add((truth, claim))
        return None
    except (NotRational, ValueError, ZeroDivisionError):
        return None


def _rational_unhurried(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """The rational test again, in the worker, for a pair too large for the instant one."""
    if (truth, claim) not in context.too_large_for_instant:
        return None
    return () if _zero(truth - claim, context.freezer) else None


def _log_expand(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """Zero once SymPy expands logarithms of products (where that is valid)."""
    return () if sympy.expand_log(truth - claim) == 0 else None


def _exp_log(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """Zero after expanding logarithms and splitting exponentials of sums."""
    expanded = sympy.expand_log(truth - claim)
    return () if _zero(expanded, context.splitting_freezer) else None


def _exp_rewrite(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """Zero once hyperbolic and trigonometric functions are written with exponentials."""
    difference = truth - claim
    if not difference.has(*_REWRITABLE):
        return None
    rewritten = sympy.expand_log(difference.rewrite(sympy.exp))
    return () if _zero(rewritten, context.splitting_freezer) else None


_REWRITABLE = (sympy.tanh, sympy.sinh, sympy.cosh, sympy.coth, sympy.sech, sympy.csch,
               sympy.sin, sympy.cos, sympy.tan)


def _kinks(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    """Zero on every open region where the true side's kinks keep their signs."""
    kinks = kinks_of(truth)
    if not kinks or len(kinks) > MAX_KINKS or not all(is_null_kink(k) for k in kinks):
        return None
    difference = truth - claim
    for signs in sign_cases(list(kinks)):
        on_region = OnRegion(signs).rewrite(difference)
        if not _cheaply_zero(on_region, context):
            return None
    return tuple(sympy.Eq(kink, 0) for kink in kinks)


def _simplify(truth: Expr, claim: Expr, context: Context) -> Proof | None:
    return () if sympy.simplify(truth - claim) == 0 else None


def _zero(expr: Expr, freezer: AtomFreezer) -> bool:
    try:
        return is_zero_rational(freezer.freeze(expr), MAX_TERMS)
    except (NotRational, TooLarge, ValueError, ZeroDivisionError):
        return False


def _cheaply_zero(expr: Expr, context: Context) -> bool:
    if expr == 0 or _zero(expr, context.freezer):
        return True
    expanded = sympy.expand_log(expr)
    return expanded == 0 or _zero(expanded, context.splitting_freezer)


@dataclass(frozen=True)
class Strategy:
    """One rung of the ladder."""

    name: str
    prove: Callable[[Expr, Expr, Context], Proof | None]
    instant: bool = False
    after_search: bool = False


LADDER: tuple[Strategy, ...] = (
    Strategy("identical", _identical, instant=True),
    Strategy("rational", _rational, instant=True),
    Strategy("rational", _rational_unhurried),
    Strategy("log-expand", _log_expand),
    Strategy("exp-log", _exp_log),
    Strategy("exp-rewrite", _exp_rewrite),
    Strategy("kinks", _kinks),
    Strategy("simplify", _simplify, after_search=True),
)
LADDER_ORDER = tuple(dict.fromkeys(strategy.name for strategy in LADDER))
INSTANT = tuple(s for s in LADDER if s.instant)
BEFORE_SEARCH = tuple(s for s in LADDER if not s.instant and not s.after_search)
AFTER_SEARCH = tuple(s for s in LADDER if s.after_search)


def first_proof(strategies, truth: Expr, claim: Expr, context: Context):
    """``(name, except_where)`` of the first strategy that proves the pair, or None."""
    for strategy in strategies:
        try:
            proof = strategy.prove(truth, claim, context)
        except Exception:  # a strategy that fails (even out of memory) has simply not proven it
            proof = None
        if proof is not None:
            return strategy.name, proof
    return None
