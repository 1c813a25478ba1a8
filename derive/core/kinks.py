"""Kinks: split a difference on the signs of the expressions where the loss switches.

``Max(0, s)``, ``Abs(s)``, ``Heaviside(s)``, ``sign(s)`` and ``Piecewise`` conditions switch
where an expression ``s`` (the *kink*) changes sign; the loss is not differentiable on the
lower-dimensional set ``s = 0``.  On each open region where every kink has a fixed sign, each
switch is an ordinary expression (``Max(0, s) -> s`` where ``s > 0``, ``Heaviside(s) -> 0``
where ``s < 0``, ``DiracDelta(s) -> 0``), so a difference that is zero on every region is zero
everywhere except on the kinks.  That is the verdict "proven except where s = 0".

Only the kinks of the true side (SymPy's derivative, hence the loss) are split on; a switch of
the claim must be decided by them (``1[s > 0]`` is, ``1[s > 1]`` is not, and then the claim is
left to the counterexample search).  A kink ``c * s`` for a rational ``c`` is the kink ``s``.
Only expressions that SymPy knows to be real are kinks: ``Abs(c)`` of a complex ``c`` is not
``+-c`` anywhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import sympy
from sympy import Expr

#: Most kinks split on: 2**MAX_KINKS sign cases are proven one by one.
MAX_KINKS = 10

_SWITCHES = (sympy.Heaviside, sympy.DiracDelta, sympy.sign, sympy.Abs)


def canonical(kink: Expr) -> tuple[Expr, sympy.Rational]:
    """``(s, c)`` with ``kink = c * s``, ``s`` the same for every rational multiple of the kink.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b", real=True)
    >>> canonical(2 * b - 2 * a) == canonical(a - b)[:1] + (-2 * canonical(a - b)[1],)
    True
    """
    content, primitive = sympy.expand(kink).as_content_primitive()
    if primitive.could_extract_minus_sign():
        content, primitive = -content, -primitive
    return primitive, content


def kinks_of(expr: Expr) -> dict[Expr, Expr]:
    """The kinks of ``expr``: canonical form (sorted) -> the kink as it first appears.

    Examples
    --------
    >>> from sympy import Max, Heaviside, symbols
    >>> w, x, b = symbols("w x b", real=True)
    >>> list(kinks_of(x * Heaviside(w * x + b) + Max(0, 1 - w).diff(w)))
    [b + w*x, w - 1]
    """
    found: dict[Expr, Expr] = {}

    def add(kink: Expr) -> None:
        # Only a real expression has a sign to split on: |c| for a complex c is no kink.
        if kink.free_symbols and kink.is_extended_real:
            found.setdefault(canonical(kink)[0], kink)

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, _SWITCHES):
            add(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            for left, right in itertools.combinations(node.args, 2):
                add(left - right)
        elif isinstance(node, sympy.Piecewise):
            for _, condition in node.args:
                for relation in _relations(condition):
                    add(relation.lhs - relation.rhs)
    return dict(sorted(found.items(), key=lambda item: sympy.default_sort_key(item[0])))


def _relations(condition) -> list:
    if isinstance(condition, sympy.core.relational.Relational):
        return [] if isinstance(condition, (sympy.Eq, sympy.Ne)) else [condition]
    return [r for arg in getattr(condition, "args", ()) for r in _relations(arg)]


def sign_cases(kinks: list[Expr]) -> Iterator[dict[Expr, int]]:
    """Every assignment of a sign (+1 or -1) to each canonical kink."""
    for signs in itertools.product((1, -1), repeat=len(kinks)):
        yield dict(zip(kinks, signs))


class OnRegion:
    """Rewrites expressions on the open region where each kink has the given sign."""

    def __init__(self, signs: dict[Expr, int]):
        self.signs = signs
        self._memo: dict = {}

    def sign_of(self, value: Expr) -> int | None:
        if value.is_positive:
            return 1
        if value.is_negative:
            return -1
        primitive, content = canonical(value)
        if primitive in self.signs and content != 0:
            return self.signs[primitive] * (1 if content > 0 else -1)
        return None

    def rewrite(self, expr):
        if expr in self._memo:
            return self._memo[expr]
        if expr.is_Atom:
            return expr
        args = [self.rewrite(arg) for arg in expr.args]
        node = expr.func(*args) if args != list(expr.args) else expr
        result = self._switch(node)
        self._memo[expr] = result
        return result

    def _switch(self, node):
        if isinstance(node, _SWITCHES):
            sign = self.sign_of(node.args[0])
            if sign is None:
                return node
            if isinstance(node, sympy.Heaviside):
                return sympy.Integer(1 if sign > 0 else 0)
            if isinstance(node, sympy.DiracDelta):
                return sympy.Integer(0)
            if isinstance(node, sympy.sign):
                return sympy.Integer(sign)
            return node.args[0] if sign > 0 else -node.args[0]
        if isinstance(node, (sympy.Max, sympy.Min)):
            return self._extremum(node)
        if isinstance(node, sympy.Piecewise):
            for value, condition in node.args:
                decided = self._decide(condition)
                if decided is None:
                    return node
                if decided:
                    return value
            return node
        return node

    def _extremum(self, node):
        larger = 1 if isinstance(node, sympy.Max) else -1
        for candidate in node.args:
            if all(
                other is candidate or self.sign_of(candidate - other) == larger
                for other in node.args
            ):
                return candidate
        return node

    def _decide(self, condition) -> bool | None:
        if condition in (sympy.true, True):
            return True
        if condition in (sympy.false, False):
            return False
        if isinstance(condition, (sympy.And, sympy.Or)):
            parts = [self._decide(arg) for arg in condition.args]
            if isinstance(condition, sympy.And):
                return False if False in parts else (None if None in parts else True)
            return True if True in parts else (None if None in parts else False)
        if isinstance(condition, sympy.Not):
            inner = self._decide(condition.args[0])
            return None if inner is None else not inner
        if isinstance(condition, sympy.core.relational.Relational):
            difference = self.rewrite(condition.lhs - condition.rhs)
            if difference == 0:
                return condition.rel_op in ("==", ">=", "<=")
            sign = self.sign_of(difference)
            if sign is None:
                return None
            if condition.rel_op == "==":
                return False
            if condition.rel_op == "!=":
                return True
            return sign > 0 if condition.rel_op in (">", ">=") else sign < 0
        return None
