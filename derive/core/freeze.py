"""Turn an expression into a rational function of fresh symbols.

``freeze_atoms`` replaces every subterm that is not built from ``+``, ``*``
and integer powers (exponentials, logarithms, other functions, fractional
powers) by a fresh symbol, the same subterm always by the same symbol.

Why this is sound for proofs: if the result is zero as a rational function
of independent symbols, it stays zero whatever values those symbols take, in
particular the values of the subterms they stand for.  The converse fails
(``sin(t)**2 + cos(t)**2 - 1`` freezes to ``s**2 + c**2 - 1``), so a non-zero
result proves nothing; the verifier then moves on to stronger strategies.

Exponentials are frozen by their argument's primitive part, so that
``exp(2*f)``, ``exp(-f)`` and ``exp(f)`` become ``E**2``, ``E**-1`` and ``E``
of one symbol ``E`` (SymPy merges ``exp(f)**2`` into ``exp(2*f)``).  With
``split_exponentials`` the argument is split into its terms first,
``exp(a + b - log(c)) -> A*B/c``, which also sees through shifted softmax and
log-sum-exp rewrites.
"""

from __future__ import annotations

import math

import sympy
from sympy import Add, Dummy, Expr, Integer, Mul, Pow, Rational


def freeze_atoms(expr: Expr, *, split_exponentials: bool = False) -> Expr:
    """Return ``expr`` as a rational function of fresh symbols (see module doc).

    Examples
    --------
    >>> from sympy import Add, Mul, exp, symbols
    >>> f = symbols("f", real=True)
    >>> difference = Add(Mul(exp(2 * f), exp(-f), evaluate=False), -exp(f), evaluate=False)
    >>> difference == 0, freeze_atoms(difference)  # exp(f) as E: E**2 * E**-1 - E
    (False, 0)
    """
    return AtomFreezer(split_exponentials).freeze(expr)


class AtomFreezer:
    """Freezes many expressions with one consistent table of atoms.

    Reusing one freezer across related expressions (the entries of one
    gradient) shares the work on common subterms such as the softmax sum.
    """

    def __init__(self, split_exponentials: bool = False):
        self.split_exponentials = split_exponentials
        self.symbols: dict[Expr, Dummy] = {}
        self.memo: dict[Expr, Expr] = {}
        #: For each exponential's primitive argument a: the q such that exp(a/q) is the symbol's
        #: atom, fixed at first sight as the lcm of the denominators then in view.
        self.denominators: dict[Expr, int] = {}
        self._denominators_memo: dict[Expr, dict] = {}

    def symbol_for(self, atom: Expr, positive: bool = False) -> Dummy:
        if atom not in self.symbols:
            self.symbols[atom] = Dummy("a", positive=positive or None)
        return self.symbols[atom]

    def freeze(self, expr: Expr) -> Expr:
        if expr in self.memo:
            return self.memo[expr]
        for primitive, q in self._exponential_denominators(expr).items():
            self.denominators.setdefault(primitive, q)
        frozen = self._freeze(expr)
        self.memo[expr] = frozen
        return frozen

    def _freeze(self, expr: Expr) -> Expr:
        if expr.is_Symbol or expr.is_Rational:
            return expr
        if expr.is_Float:
            return Rational(expr)  # the float's exact binary value
        if expr in (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise ValueError(f"not a finite number: {expr}")
        if expr.is_Atom:
            return self.symbol_for(expr)  # pi, E, I, ...: independent symbols (sound)
        if isinstance(expr, (Add, Mul)):
            return expr.func(*[self.freeze(arg) for arg in expr.args])
        if isinstance(expr, Pow):
            base, exponent = expr.args
            if exponent.is_Integer:
                return self.freeze(base) ** exponent
            if exponent.is_Rational:
                return self.symbol_for(base ** (1 / Integer(exponent.q))) ** exponent.p
            return self.symbol_for(expr)
        if isinstance(expr, sympy.exp):
            return self._freeze_exponential(expr.args[0])
        return self.symbol_for(expr)

    def _freeze_exponential(self, argument: Expr) -> Expr:
        if not self.split_exponentials:
            return self._power_of_exp(argument)
        result = Integer(1)
        for term in Add.make_args(sympy.expand(argument)):
            coefficient, rest = term.as_coeff_Mul()
            if isinstance(rest, sympy.log) and coefficient.is_Integer:
                result *= self.freeze(rest.args[0]) ** coefficient
            else:
                result *= self._power_of_exp(term)
        return result

    def _power_of_exp(self, argument: Expr) -> Expr:
        """exp(c*a) as E**n, E standing for exp(a/q) with c q = n an integer."""
        content, primitive = _content_primitive(argument)
        q = self.denominators.get(primitive, content.q) if isinstance(content, Rational) else 0
        if not q or q % content.q:
            return self.symbol_for(sympy.exp(argument), positive=bool(argument.is_real))
        base = sympy.exp(primitive / q)
        return self.symbol_for(base, positive=bool(primitive.is_real)) ** int(content * q)

    def _exponential_denominators(self, expr: Expr) -> dict:
        """{primitive argument: lcm of the denominators of its multiples} over ``expr``'s exps."""
        if expr in self._denominators_memo:
            return self._denominators_memo[expr]
        found: dict = {}
        if isinstance(expr, sympy.exp):
            content, primitive = _content_primitive(expr.args[0])
            if isinstance(content, Rational):
                found[primitive] = int(content.q)
        for arg in expr.args:
            for primitive, q in self._exponential_denominators(arg).items():
                found[primitive] = math.lcm(found.get(primitive, 1), q)
        self._denominators_memo[expr] = found
        return found


def _content_primitive(argument: Expr) -> tuple[Expr, Expr]:
    content, primitive = argument.as_content_primitive()
    if primitive.could_extract_minus_sign():
        content, primitive = -content, -primitive
    return content, primitive
