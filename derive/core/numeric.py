"""Evaluate a SymPy expression at an exact point in mpmath, without lambdify.

``lambdify`` generates Python source, which fails with ``NameError`` for functions it does not
know (``DiracDelta``, ``jn``, ``erfcinv``, undefined functions, ...).  This evaluator walks the
expression tree instead, sharing work on common subexpressions (the softmax sum of K terms is
computed once per point for all entries).  Elementary functions go straight to mpmath; any other
function is evaluated by SymPy's own ``evalf`` on numeric arguments.

Undefined functions (``Function("f")(x)``) and their derivatives are opaque: each application
is an independent random number, the same number for the same function, derivative order and
argument values.  (Any finite set of values and derivatives at distinct points is taken by some
smooth function, so a refutation found this way is a refutation for a real ``f``.)

Whatever has no finite value here (a pole, ``nan``, ``zoo``, a switch such as ``Heaviside`` too
close to its kink to decide at this precision) raises :class:`Undefined`: it is never agreement.
A switch whose argument is *exactly* zero at the point (``sign(floor(x))`` at ``x = 1/2``: SymPy
decides it exactly) takes SymPy's value there (``sign(0) = 0``, ``Heaviside(0) = 1/2``), so a claim
wrong on a whole region where a piecewise-constant argument vanishes can be refuted there.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import mpmath
import sympy
from sympy import Expr
from sympy.core.function import AppliedUndef


#: Properties of an undefined function's value that its random stand-in must share.
_OPAQUE_FACTS = ("positive", "negative", "nonnegative", "nonpositive", "zero", "nonzero", "integer", "even", "odd")


class Undefined(ArithmeticError):
    """The expression has no finite value at this point (or it cannot be decided here)."""


_ELEMENTARY = {
    sympy.exp: mpmath.exp,
    sympy.log: mpmath.log,
    sympy.sin: mpmath.sin,
    sympy.cos: mpmath.cos,
    sympy.tan: mpmath.tan,
    sympy.sinh: mpmath.sinh,
    sympy.cosh: mpmath.cosh,
    sympy.tanh: mpmath.tanh,
    sympy.asin: mpmath.asin,
    sympy.acos: mpmath.acos,
    sympy.atan: mpmath.atan,
    sympy.asinh: mpmath.asinh,
    sympy.acosh: mpmath.acosh,
    sympy.atanh: mpmath.atanh,
    sympy.erf: mpmath.erf,
    sympy.erfc: mpmath.erfc,
    sympy.gamma: mpmath.gamma,
    sympy.loggamma: mpmath.loggamma,
    sympy.Abs: abs,
    sympy.re: mpmath.re,
    sympy.im: mpmath.im,
    sympy.conjugate: mpmath.conj,
}


class Evaluator:
    """Evaluates expressions at one exact point, at ``digits`` significant digits.

    Examples
    --------
    >>> from sympy import Function, Rational, exp, symbols, DiracDelta, jn
    >>> x = symbols("x", real=True)
    >>> at = Evaluator({x: Rational(1, 2)}, digits=30, rng=random.Random(0))
    >>> print(mpmath.nstr(at.value(exp(x) + jn(2, x) + x * DiracDelta(x)), 12))
    1.66509237731
    >>> f = Function("f")
    >>> at.value(f(x)) == at.value(f(x)), at.value(f(x)) == at.value(f(x + 1))
    (True, False)
    """

    def __init__(self, point: Mapping, digits: int, rng: random.Random):
        self.point = dict(point)
        self.digits = digits
        self.rng = rng
        #: Opaque values drawn for undefined functions: key -> exact Rational.
        self.opaque: dict[tuple, sympy.Rational] = {}
        #: The opaque value of each opaque subexpression met, for exact re-evaluation.
        self.opaque_subexpressions: dict[Expr, sympy.Rational] = {}
        self._memo: dict[Expr, object] = {}
        #: Numbers below this (relative to 1) count as zero when deciding a switch.
        self.noise = mpmath.mpf(10) ** (-(digits * 2) // 3)

    def value(self, expr: Expr):
        """The value of ``expr`` (mpf or mpc); raises :class:`Undefined`."""
        with mpmath.workdps(self.digits):
            return self._value(expr)  # every value it returns was checked finite

    def _value(self, expr: Expr):
        if expr in self._memo:
            cached = self._memo[expr]
            if isinstance(cached, Undefined):
                raise cached
            return cached
        try:
            result = self._compute(expr)
            if not mpmath.isfinite(result):
                raise Undefined(f"{expr} is not finite here")
        except Undefined as error:
            self._memo[expr] = error
            raise
        except (ZeroDivisionError, ValueError, OverflowError, TypeError) as error:
            undefined = Undefined(f"{expr}: {error}")
            self._memo[expr] = undefined
            raise undefined from None
        self._memo[expr] = result
        return result

    def _compute(self, expr: Expr):
        if expr.is_Symbol:
            if expr not in self.point:
                raise Undefined(f"no value for {expr}")
            return self._number(self.point[expr])
        if expr.is_Number or expr.is_NumberSymbol or expr is sympy.I:
            return self._number(expr)
        if isinstance(expr, sympy.Add):
            return mpmath.fsum(self._value(arg) for arg in expr.args)
        if isinstance(expr, sympy.Mul):
            product = mpmath.mpf(1)
            for arg in expr.args:
                product *= self._value(arg)
            return product
        if isinstance(expr, sympy.Pow):
            base, exponent = expr.args
            if exponent.is_Integer:
                value = self._value(base)
                if value == 0 and exponent < 0:
                    raise Undefined(f"division by zero in {expr}")
                return value ** int(exponent)
            return mpmath.power(self._value(base), self._value(exponent))
        if isinstance(expr, (AppliedUndef, sympy.Derivative, sympy.Subs)):
            return self._number(self._opaque(expr))
        if expr.func in _ELEMENTARY:
            return _ELEMENTARY[expr.func](*[self._value(arg) for arg in expr.args])
        if isinstance(expr, sympy.Piecewise):
            return self._piecewise(expr)
        if isinstance(expr, (sympy.Max, sympy.Min)):
            values = [self._real(arg) for arg in expr.args]
            return max(values) if isinstance(expr, sympy.Max) else min(values)
        if isinstance(expr, (sympy.Heaviside, sympy.sign, sympy.DiracDelta)):
            return self._switch(expr)
        if isinstance(expr, sympy.Function):
            return self._by_evalf(expr)
        raise Undefined(f"cannot evaluate {type(expr).__name__}")

    def _number(self, number: Expr):
        if number.is_Rational:
            return _mp(number)
        value = sympy.N(number, self.digits)
        if not value.is_number or value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
            raise Undefined(f"{number} is not a finite number")
        real, imaginary = value.as_real_imag()
        if imaginary == 0:
            return _mp(real)
        return mpmath.mpc(_mp(real), _mp(imaginary))

    def _real(self, expr: Expr):
        value = self._value(expr)
        if isinstance(value, mpmath.mpc):
            if abs(value.imag) > self.noise * max(1, abs(value)):
                raise Undefined(f"{expr} is not real here")
            return value.real
        return value

    def _decided_sign(self, expr: Expr) -> int:
        """The sign of a real value (0 only when SymPy shows it exactly 0 at this point), or
        Undefined when it is too close to 0 to tell."""
        value = self._real(expr)
        if abs(value) <= self.noise:
            if self._exactly_zero(expr):
                return 0
            raise Undefined(f"{expr} is too close to 0 to decide its sign here")
        return 1 if value > 0 else -1

    def _exactly_zero(self, expr: Expr) -> bool:
        try:
            return expr.xreplace(self.point).is_zero is True
        except Exception:  # SymPy raises many kinds for values outside a domain
            return False

    def _switch(self, expr: Expr):
        if isinstance(expr, sympy.sign):
            value = self._value(expr.args[0])
            if isinstance(value, mpmath.mpc) and abs(value.imag) > self.noise * abs(value):
                return value / abs(value)  # sign(z) = z / |z| off the real line
        sign = self._decided_sign(expr.args[0])
        if sign == 0:
            if isinstance(expr, sympy.DiracDelta):
                raise Undefined(f"{expr} is infinite here")
            return self._number(expr.func(sympy.Integer(0), *expr.args[1:]))  # Heaviside(0) = 1/2
        if isinstance(expr, sympy.DiracDelta):
            return mpmath.mpf(0)
        if isinstance(expr, sympy.sign):
            return mpmath.mpf(sign)
        return mpmath.mpf(1 if sign > 0 else 0)

    def _piecewise(self, expr: sympy.Piecewise):
        for value, condition in expr.args:
            if self._holds(condition):
                return self._value(value)
        raise Undefined(f"no piece of {expr} applies here")

    def _holds(self, condition) -> bool:
        if condition is sympy.true or condition is True:
            return True
        if condition is sympy.false or condition is False:
            return False
        if isinstance(condition, sympy.And):
            return all(self._holds(arg) for arg in condition.args)
        if isinstance(condition, sympy.Or):
            return any(self._holds(arg) for arg in condition.args)
        if isinstance(condition, sympy.Not):
            return not self._holds(condition.args[0])
        if isinstance(condition, sympy.Eq):
            return self._equal(condition.lhs - condition.rhs)
        if isinstance(condition, sympy.Ne):
            return not self._equal(condition.lhs - condition.rhs)
        if isinstance(condition, sympy.core.relational.Relational):
            # The sign is decided away from 0 (so strict and non-strict agree), or exactly 0.
            sign = self._decided_sign(condition.lhs - condition.rhs)
            if sign == 0:
                return condition.rel_op in (">=", "<=")
            return sign > 0 if condition.rel_op in (">", ">=") else sign < 0
        raise Undefined(f"cannot decide the condition {condition}")

    def _equal(self, difference: Expr) -> bool:
        """Whether ``difference`` is 0 here: exactly when SymPy can tell, else only if clearly not."""
        exact = difference.xreplace(self.point)
        if exact.is_zero is not None:
            return bool(exact.is_zero)
        if abs(self._value(difference)) > self.noise:
            return False
        raise Undefined(f"cannot decide whether {difference} is 0 here")

    def _by_evalf(self, expr: Expr):
        """Any other function: SymPy's evalf on its arguments (exact where they are exact)."""
        arguments = []
        for argument in expr.args:
            exact = argument.xreplace(self.point)
            arguments.append(exact if exact.is_Rational else _to_sympy(self._value(argument), self.digits))
        try:
            value = expr.func(*arguments).evalf(self.digits)
        except Exception as error:  # SymPy raises many kinds for values outside a domain
            raise Undefined(f"{expr.func}: {error}") from None
        if not value.is_number or not value.is_comparable and not value.has(sympy.I):
            raise Undefined(f"{expr} has no numeric value here")
        return self._number(value)

    def _opaque(self, expr: Expr) -> sympy.Rational:
        key = self._opaque_key(expr)
        if key not in self.opaque:
            self.opaque[key] = self._opaque_value(expr)
        self.opaque_subexpressions[expr] = self.opaque[key]
        return self.opaque[key]

    def _opaque_value(self, expr: Expr) -> sympy.Rational:
        """A random value with every sign and integrality property SymPy knows of ``expr``."""
        known = {fact: getattr(expr, f"is_{fact}") for fact in _OPAQUE_FACTS}
        for _ in range(40):
            value = sympy.Rational(self.rng.randint(-2000, 2000), self.rng.choice((1, 1000)))
            if all(getattr(value, f"is_{fact}") is wanted for fact, wanted in known.items() if wanted is not None):
                return value
        raise Undefined(f"no random value satisfies the assumptions of {expr}")

    def _opaque_key(self, expr: Expr) -> tuple:
        """(function, derivative orders, argument values) of an undefined function's value."""
        if isinstance(expr, AppliedUndef):
            return (str(expr.func), (), self._argument_values(expr.args))
        if isinstance(expr, sympy.Subs):
            inner = expr.expr
            if isinstance(inner, (AppliedUndef, sympy.Derivative)):
                values = dict(zip(expr.variables, expr.point))
                function, orders, arguments = self._derivative_shape(inner)
                return (function, orders, self._argument_values([a.xreplace(values) for a in arguments]))
        if isinstance(expr, sympy.Derivative) and isinstance(expr.expr, AppliedUndef):
            function, orders, arguments = self._derivative_shape(expr)
            return (function, orders, self._argument_values(arguments))
        raise Undefined(f"cannot evaluate {expr}")

    @staticmethod
    def _derivative_shape(expr: Expr):
        if isinstance(expr, AppliedUndef):
            return str(expr.func), (), expr.args
        applied = expr.expr
        if not isinstance(applied, AppliedUndef) or not all(a.is_Symbol for a in applied.args):
            raise Undefined(f"cannot evaluate {expr}")
        counts = dict(expr.variable_count)
        orders = tuple(int(counts.get(argument, 0)) for argument in applied.args)
        return str(applied.func), orders, applied.args

    def _argument_values(self, arguments) -> tuple:
        return tuple(mpmath.nstr(self._value(argument), self.digits // 2) for argument in arguments)


def _mp(number: Expr):
    """An exact Rational or a Float as an mpf, at the current working precision."""
    if number.is_Rational:
        return mpmath.mpf(int(number.p)) / int(number.q)
    if number.is_Float:
        return mpmath.mpf(number._to_mpmath(mpmath.mp.prec))
    raise Undefined(f"{number} is not a number")


def _to_sympy(value, digits: int) -> Expr:
    if isinstance(value, mpmath.mpc):
        return sympy.Float(value.real, digits) + sympy.I * sympy.Float(value.imag, digits)
    return sympy.Float(value, digits)
