"""Differentiate once for a symbolic index, then read off each concrete index.

An expression written with SymPy's ``IndexedBase`` ``f`` and ``Sum`` over ``j`` (the loss
``-f[y] + log(Sum(exp(f[j]), (j, 0, K - 1)))``, say) says the same thing for every K.  SymPy
differentiates it by ``f[i]`` for a symbolic index ``i`` known to lie in ``0..K-1``, which turns
each sum's derivative into ``Sum(g(j) KroneckerDelta(j, i))``; SymPy's ``doit`` picks the one
term.  The derivative by ``f_m`` is then that one expression at ``i = m``: K derivatives for
the price of one, none of them a differentiation through K terms.  Results are written in plain
symbols ``f_0 .. f_{K-1}`` (which the verifier can sample), the remaining sums written out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy
from sympy import Add, Dummy, Expr, Idx, IndexedBase, Integer, KroneckerDelta, Sum, Symbol


#: The symbolic index differentiated by (one for all: each use pairs it with its own range).
_INDEX = Dummy("i", integer=True)


class IndexedCalculus:
    """Derivatives by ``base[m]`` of expressions in ``base``, as plain-symbol expressions.

    Examples
    --------
    >>> from sympy import IndexedBase, Sum, Symbol, exp, log, symbols
    >>> f, j = IndexedBase("f", real=True), Symbol("j", integer=True)
    >>> calculus = IndexedCalculus(f, symbols("f_0:3", real=True))
    >>> loss = -f[0] + log(Sum(exp(f[j]), (j, 0, 2)))
    >>> calculus.derivative(loss, 1)
    exp(f_1)/(exp(f_0) + exp(f_1) + exp(f_2))
    >>> calculus.plain(loss)
    -f_0 + log(exp(f_0) + exp(f_1) + exp(f_2))
    """

    def __init__(self, base: IndexedBase, symbols: Sequence[Symbol]):
        self.base = base
        self.symbols = list(symbols)
        self._to_plain = {base[j]: symbol for j, symbol in enumerate(self.symbols)}
        self._general: dict = {}
        self._derivatives: dict = {}
        self._sums: dict = {}

    def plain(self, expr: Expr) -> Expr:
        """``expr`` in the plain symbols, its sums written out."""
        return expr.xreplace(self._forms(expr))

    def derivative(self, expr: Expr, m: int) -> Expr:
        """SymPy's derivative of ``expr`` by ``base[m]``, in the plain symbols."""
        if (expr, m) not in self._derivatives:
            if expr not in self._general:
                i = Idx(_INDEX, len(self.symbols))
                general = sympy.diff(expr, self.base[i]).replace(
                    lambda e: isinstance(e, Sum) and e.has(KroneckerDelta), lambda e: e.doit()
                )
                self._general[expr] = i, general, self._forms(general)
            i, general, forms = self._general[expr]
            at_m = {**forms, i: Integer(m), self.base[i]: self.symbols[m]}
            self._derivatives[expr, m] = general.xreplace(at_m)
        return self._derivatives[expr, m]

    def _forms(self, expr: Expr) -> dict:
        sums = {total: self._written_out(total) for total in expr.atoms(Sum)}
        return {**self._to_plain, **sums} if sums else self._to_plain

    def _written_out(self, total: Sum) -> Expr:
        """A finite sum over one index as the Add of its terms, in the plain symbols."""
        if total not in self._sums:
            (j, low, high), *more = total.limits
            if more or not (low.is_Integer and high.is_Integer):
                written = total.doit()
            else:
                written = Add(*[
                    total.function.xreplace({self.base[j]: self.symbols[n], j: Integer(n)})
                    for n in range(int(low), int(high) + 1)
                ])
            self._sums[total] = written.xreplace(self._to_plain)
        return self._sums[total]
