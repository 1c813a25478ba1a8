"""Where the symbols live: exact random points that respect every assumption and constraint.

A point is a dict from each free symbol to an exact SymPy number.  A candidate value is
accepted for a symbol only if SymPy itself confirms every assumption the symbol carries
(``positive``, ``even``, ``imaginary``, ``prime``, ...) for that value; a symbol for which no
candidate family gives such a value (``transcendental=True``, say) has no sampler, and then
random points cannot refute anything that depends on it.

Constraints (``given=[Eq(t0 + t1 + t2, 1)]``) are solved for one symbol each, which must occur
linearly with a constant coefficient; that symbol is then a function of the others.  Proofs
substitute it; points compute it exactly and are kept only when it too satisfies its
assumptions.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sympy
from sympy import Expr, Integer, Rational, Symbol

from derive.core.inputs import exact, expanded_terms
from derive.core.verdict import VerificationInputError

#: Candidate values tried per symbol before it is declared unsamplable, and per point before
#: the constraints are declared unsatisfiable by sampling.
ATTEMPTS = 40
#: Most terms a constraint may have once expanded (bounded before it is expanded, in the caller).
MAX_CONSTRAINT_TERMS = 10_000


def _integers(rng: random.Random) -> Expr:
    return Integer(rng.randint(-6, 6))


def _reals(rng: random.Random) -> Expr:
    """Three decimal digits at one of three scales, so that sums of products land both near
    and far from the kinks and thresholds a claim may have."""
    low, high = rng.choice(((10, 500), (100, 2000), (1000, 8000)))
    magnitude = Rational(rng.randint(low, high), 1000)
    return magnitude if rng.random() < 0.5 else -magnitude


def _imaginaries(rng: random.Random) -> Expr:
    return sympy.I * _reals(rng)


def _complexes(rng: random.Random) -> Expr:
    return _reals(rng) + sympy.I * _reals(rng)


def _families(symbol: Symbol):
    """Candidate value families for a symbol, most specific first."""
    if symbol.is_integer:
        return (_integers,)
    if symbol.is_imaginary:
        return (_imaginaries,)
    if symbol.is_extended_real or symbol.is_real:
        return (_reals, _integers)
    return _ANY_NUMBER


#: A symbol with no assumptions is complex to SymPy, whose diff is valid there: half of its
#: samples are complex, so that a claim true only for real values is refuted.
_ANY_NUMBER = (_reals, _complexes, _integers, _imaginaries)


def satisfies(symbol: Symbol, value: Expr) -> bool:
    """True when SymPy confirms every assumption of ``symbol`` for ``value``.

    Examples
    --------
    >>> from sympy import Integer, Rational, Symbol
    >>> satisfies(Symbol("n", even=True), Integer(3)), satisfies(Symbol("n", even=True), Integer(4))
    (False, True)
    >>> satisfies(Symbol("p", positive=True), Rational(-1, 2))
    False
    """
    for fact, expected in symbol.assumptions0.items():
        if fact == "commutative":
            continue
        if getattr(value, f"is_{fact}", None) is not expected:
            return False
    return True


@dataclass(frozen=True)
class Constraint:
    """A solved constraint: ``symbol`` equals ``value`` (in the remaining symbols)."""

    symbol: Symbol
    value: Expr
    equation: sympy.Eq


def solve_constraints(given: Iterable, wrt: Sequence[Symbol]) -> tuple[Constraint, ...]:
    """Solve each equation of ``given`` for one of its symbols (not in ``wrt``).

    Examples
    --------
    >>> from sympy import Eq, symbols
    >>> t0, t1, t2 = symbols("t0 t1 t2", positive=True)
    >>> (c,) = solve_constraints([Eq(t0 + t1 + t2, 1)], [])
    >>> c.symbol, c.value
    (t2, -t0 - t1 + 1)
    >>> solve_constraints([Eq(t0 + t1, 1), Eq(t0 + t1, 2)], [])
    Traceback (most recent call last):
    ...
    derive.core.verdict.VerificationInputError: the constraints are contradictory: Eq(t0 + t1, 2) cannot hold together with Eq(t0 + t1, 1) (it reduces to -1 = 0)

    An equation implied by the ones before it is redundant, and dropped.
    """
    if isinstance(given, (str, bytes, sympy.Basic)) or not isinstance(given, (list, tuple)):
        raise VerificationInputError(
            f"given must be a list or tuple of equations such as Eq(t0 + t1, 1), got {type(given).__name__}"
        )
    solved: list[Constraint] = []
    wrt_set = set(wrt)
    for equation in given:
        if isinstance(equation, (str, bytes)):
            raise VerificationInputError("given holds a string; build equations with sympy.Eq")
        if equation is sympy.true:
            continue  # Eq(t, t): always holds
        if equation is sympy.false:
            raise VerificationInputError(
                "the constraints are contradictory: given holds an equation that SymPy already "
                "evaluated to False (such as Eq(0, 1))"
            )
        if not isinstance(equation, sympy.Equality):
            raise VerificationInputError(
                f"given must hold equations (sympy.Eq), got {equation!r} ({type(equation).__name__})"
            )
        equation = sympy.Eq(exact(equation.lhs), exact(equation.rhs), evaluate=False)
        clashing = sorted(str(s) for s in equation.free_symbols & wrt_set)
        if clashing:
            raise VerificationInputError(
                f"the constraint {equation} involves {', '.join(clashing)}, which the gradient is "
                "taken with respect to; constraints may only relate other symbols"
            )
        residual = (equation.lhs - equation.rhs).xreplace({c.symbol: c.value for c in solved})
        if expanded_terms(residual, MAX_CONSTRAINT_TERMS) > MAX_CONSTRAINT_TERMS:
            raise VerificationInputError(
                f"cannot use the constraint {equation}: expanded, it would have more than "
                f"{MAX_CONSTRAINT_TERMS} terms; constraints must be linear (e.g. Eq(t0 + t1 + t2, 1))"
            )
        residual = sympy.expand(residual)
        if not residual.free_symbols and residual.is_zero is not None:
            if residual.is_zero:
                continue  # implied by the equations before it
            earlier = ", ".join(str(c.equation) for c in solved)
            raise VerificationInputError(
                f"the constraints are contradictory: {equation} cannot hold together with "
                f"{earlier or 'itself'} (it reduces to {residual} = 0)"
            )
        constraint = _solve_linear(residual, equation)
        if constraint is None:
            raise VerificationInputError(
                f"cannot use the constraint {equation}: it must be linear, with a constant "
                "coefficient, in at least one of its symbols (e.g. Eq(t0 + t1 + t2, 1))"
            )
        solved = [Constraint(c.symbol, c.value.xreplace({constraint.symbol: constraint.value}), c.equation)
                  for c in solved]
        solved.append(constraint)
    return tuple(solved)


def _solve_linear(residual: Expr, equation) -> Constraint | None:
    for symbol in sorted(residual.free_symbols, key=lambda s: s.name, reverse=True):
        coefficient = residual.coeff(symbol)
        rest = sympy.expand(residual - coefficient * symbol)
        if coefficient.is_Rational and coefficient != 0 and not rest.has(symbol):
            return Constraint(symbol, sympy.expand(-rest / coefficient), equation)
    return None


class Domain:
    """Random exact points for a set of symbols, under assumptions and solved constraints."""

    def __init__(self, constraints: Sequence[Constraint] = ()):
        self.constraints = tuple(constraints)
        self.eliminated = {c.symbol for c in self.constraints}

    def substitute(self, expr: Expr) -> Expr:
        """``expr`` on the constraint set: every solved symbol replaced by its value."""
        if not self.constraints:
            return expr
        return expr.xreplace({c.symbol: c.value for c in self.constraints})

    def unsamplable(self, symbols: Iterable[Symbol]) -> list[Symbol]:
        """The symbols for which no candidate value satisfies the assumptions."""
        probe = random.Random(0)
        return [s for s in symbols if s not in self.eliminated and self._value(s, probe) is None]

    def point(self, symbols: Iterable[Symbol], rng: random.Random) -> dict[Symbol, Expr] | None:
        """An exact point for ``symbols`` (and the solved symbols), or None if none was found."""
        free = sorted(set(symbols) - self.eliminated, key=lambda s: s.name)
        free = sorted(set(free) | self._constraint_symbols(), key=lambda s: s.name)
        for _ in range(ATTEMPTS):
            point = {}
            for symbol in free:
                value = self._value(symbol, rng)
                if value is None:
                    return None
                point[symbol] = value
            for constraint in self.constraints:
                value = constraint.value.xreplace(point)
                if not (value.is_number and satisfies(constraint.symbol, value)):
                    break
                point[constraint.symbol] = value
            else:
                return point
        return None

    def _constraint_symbols(self) -> set[Symbol]:
        symbols: set[Symbol] = set()
        for constraint in self.constraints:
            symbols |= constraint.value.free_symbols
        return symbols - self.eliminated

    @staticmethod
    def _value(symbol: Symbol, rng: random.Random) -> Expr | None:
        families = _families(symbol)
        if families is _ANY_NUMBER and rng.random() < 0.5:
            families = families[1:]
        for family in families:
            for _ in range(ATTEMPTS):
                value = family(rng)
                if satisfies(symbol, value):
                    return value
        return None
