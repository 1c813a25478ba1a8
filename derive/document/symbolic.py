"""A document's math as SymPy with symbolic sizes, and its steps proven for every size.

Where :mod:`derive.document.instantiate` writes a step out at one instance (``K = 3``, ``y =
2``), this module writes it once for all of them: each size is a positive integer symbol, a
label and a free index an integer symbol with its range (``0 <= y <= K - 1``), a family an
``IndexedBase`` (``f_j`` is ``f[j]``, the row ``w_j`` of ``W`` is ``W[j, d]``), a sum with
symbolic limits a ``Sum``, an indicator of indices ``\\mathbb{1}[m = y]`` a ``KroneckerDelta``,
and a vector or a matrix its entry at symbolic positions.  A derivative is SymPy's ``diff`` of the
expression with the definitions that depend on the variable substituted, exactly as at an
instance.  :func:`proven_for_every_size` then reduces ``left - right`` with SymPy's own
``deltasummation``, decides the range conditions it brings from the ranges of the indices,
expands and cancels, all with bounded work: a step is proven for every size only when that
reaches exactly ``0``.

Anything not translated (a kink, a condition on a real quantity, a product ``\\prod``, a function
of a whole matrix, a Jacobian, a member whose index may leave its family's range, a sum whose
range may run backwards, a name with two definitions, work beyond the bounds) means the step
is not attempted here, and it keeps its verdict at the sizes checked
(:func:`derive.document.check.check_step` runs the concrete check at the first sizes as a
cross-check of a proof, at every instance otherwise).

>>> from derive.document.declare import read_document
>>> from derive.document.source import Source
>>> doc = read_document(Source("Let $x \\\\in \\\\mathbb{R}^D$.\\n\\n$$ q = x^T x $$\\n"
...                            "$$ \\\\frac{\\\\partial q}{\\\\partial x} = 2 x $$\\n"))
>>> proven_for_every_size(doc, doc.steps[0].equation, Symbolic(doc))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Dummy, Expr, IndexedBase, KroneckerDelta, Sum, Symbol
from sympy.concrete.delta import deltasummation
from sympy.core.relational import Relational
from sympy.polys.polyerrors import BasePolynomialError

from derive.core.inputs import expanded_terms
from derive.document.ast import (
    Add, BigOp, Boxed, Call, Cases, Const, Derivative, Div, Equation, Indicator, Mul, Name, Neg,
    Node, Norm, Num, Pow, Rel, Transpose, walk,
)
from derive.document.declare import Document, Range
from derive.document.instantiate import (
    MAX_EXPONENT, SCALAR_FUNCTIONS, compared_names, derivative_cost, free_indices, subscript_positions,
    tree_size,
)

#: Most nodes (as a tree) of a step's two sides, every definition substituted, and most terms an
#: expansion may give; beyond it the step is not attempted.
MAX_NODES = 4000
#: Most nodes a derivative may build, as :func:`~derive.document.instantiate.derivative_cost`
#: estimates it (a product of ``n`` factors weighs ``n^2``).
MAX_DERIVATIVE = 100_000
#: Most passes of summing ``KroneckerDelta`` sums and deciding ranges (each may expose more).
MAX_PASSES = 4

#: The functions of a number written as at an instance, but ``sign``: a kink.
_FUNCTIONS = {name: function for name, function in SCALAR_FUNCTIONS.items() if name != "sign"}


class NotTranslated(Exception):
    """A construct this module does not write for symbolic sizes: the step is not attempted."""


#: What ends an attempt with "not proven for every size" (the step keeps its verdict at the sizes
#: checked): a construct not translated, and the errors SymPy raises on expressions it does not
#: handle.
NOT_PROVEN = (NotTranslated, ArithmeticError, LookupError, RecursionError, TypeError, ValueError,
              AttributeError, NotImplementedError, BasePolynomialError)


@dataclass(frozen=True)
class Vector:
    """A vector as its entry at a symbolic position ``index`` (from ``lower`` to ``upper``);
    ``row`` when written as a row (a vector written either way is the same vector)."""

    entry: Expr
    index: Symbol
    lower: Expr
    upper: Expr
    row: bool = False

    def at(self, position: Expr) -> Expr:
        return self.entry.xreplace({self.index: position})

    def same_range(self, other: Vector) -> bool:
        return _same((self.lower, self.upper), (other.lower, other.upper))

    def applied(self, change) -> Vector:
        """The vector of ``change(entry)``."""
        return Vector(change(self.entry), self.index, self.lower, self.upper, self.row)


@dataclass(frozen=True)
class Matrix:
    """A matrix as its entry at symbolic positions ``(row, column)``, each with its range."""

    entry: Expr
    row: Symbol
    column: Symbol
    rows: tuple[Expr, Expr]
    columns: tuple[Expr, Expr]

    def at(self, row: Expr, column: Expr) -> Expr:
        return self.entry.xreplace({self.row: row, self.column: column})

    def same_shape(self, other: Matrix) -> bool:
        return _same(self.rows, other.rows) and _same(self.columns, other.columns)

    def applied(self, change) -> Matrix:
        """The matrix of ``change(entry)``."""
        return Matrix(change(self.entry), self.row, self.column, self.rows, self.columns)


def _same(a: tuple[Expr, Expr], b: tuple[Expr, Expr]) -> bool:
    """Whether two ranges are the same for every size."""
    return sympy.expand(a[0] - b[0]) == 0 and sympy.expand(a[1] - b[1]) == 0


class Symbolic:
    """The document with symbolic sizes: symbols, ranges and definitions, made once per check.

    ``ranges`` holds the range of every integer symbol in scope (labels, free indices, the
    indices of the sums being written, the positions of vectors), as ``(lower, upper)``.
    """

    def __init__(self, document: Document):
        self.document = document
        self.base = 0 if document.zero_based else 1
        self.sizes = {name: Symbol(name, integer=True, positive=True) for name in document.sizes}
        #: The range of each integer symbol in scope, and of every member of a family of labels
        #: (keyed by its ``IndexedBase``).
        self.ranges: dict[Expr, tuple[Expr, Expr]] = {}
        self.labels: dict[str, Expr] = {}  # a label's Symbol, or a family's IndexedBase
        self._defined: dict[str, object] = {}  # a definition's base -> its Symbol or IndexedBase
        self._vector_definitions: set[str] = set()
        self._depends: dict[tuple[str, str], bool] = {}
        #: The value of each defined atom met in the step being translated (its indices' ranges
        #: are the step's: kept for one step only).
        self._values: dict[Expr, Expr] = {}
        self._count = 0  # symbols made for the step being translated (:meth:`fresh`)
        for name, label in document.labels.items():
            try:
                values = self._bounds(label.values) if isinstance(label.values, Range) else \
                    (sympy.Integer(min(label.values)), sympy.Integer(max(label.values)))
            except NOT_PROVEN:
                continue  # a step that uses this label is not attempted
            symbol = IndexedBase(name, integer=True) if label.members else Symbol(name, integer=True)
            self.labels[name] = symbol
            self.ranges[symbol] = values

    def start_step(self) -> None:
        """A new step: its defined values and symbols are made afresh."""
        self._values, self._count = {}, 0

    def fresh(self, letter: str) -> Symbol:
        """A new integer symbol for a sum's index or a vector's position: ``k'1``, ``k'2``, ...
        (a prime is never in a document's names), numbered afresh for each step, so that SymPy's
        cache serves the definitions written again for the next step."""
        self._count += 1
        return Symbol(f"{letter}'{self._count}", integer=True)

    def definition(self, base: str):
        """The definition of ``base``, or None; a name with two definitions (``L`` and ``L_i``)
        is not translated."""
        found = self.document.definitions_of(base)
        if len(found) > 1:
            raise NotTranslated(f"{base} names two quantities")
        return found[0] if found else None

    # --- ranges ----------------------------------------------------------------------------

    def _bounds(self, r: Range, env: dict | None = None) -> tuple[Expr, Expr]:
        env = env or {}
        upper = self._integer(r.upper, env)
        if r.lower is None:
            return sympy.Integer(self.base), self.base + upper - 1
        return self._integer(r.lower, env), upper

    def _integer(self, node: Node, env) -> Expr:
        value = self.value(node, env)
        if isinstance(value, Vector) or not value.is_integer:
            raise NotTranslated("an index that is not a whole number")
        return value

    def holds(self, relation) -> bool:
        """Whether an integer relation holds for every value of its symbols in their ranges
        (:func:`decide_relation`)."""
        return decide_relation(relation, self.ranges) is sympy.true

    def _position_range(self, base: str, position: int, seen: frozenset = frozenset()) -> tuple[Expr, Expr] | None:
        """The range of the ``position``-th index of the family or array ``base``, or None."""
        document = self.document

        def numbered(dimension: Node) -> tuple[Expr, Expr]:
            return sympy.Integer(self.base), self.base + self._integer(dimension, {}) - 1

        if base in document.variables:
            variable = document.variables[base]
            if variable.row_of is not None:  # w_{j,d} is W_{j,d}
                dims = document.variables[variable.row_of].dims
                return numbered(dims[position]) if position < len(dims) else None
            if position < len(variable.members):
                return self._bounds(variable.members[position])
            k = position - len(variable.members)
            return numbered(variable.dims[k]) if k < len(variable.dims) else None
        if base in document.labels:
            label = document.labels[base]
            return self._bounds(label.members[position]) if position < len(label.members) else None
        definition = self.definition(base)
        if definition is not None and position < len(definition.indices) and base not in seen:
            return self.index_range(definition.indices[position], definition.value, seen | {base})
        return None

    def index_range(self, letter: str, node: Node, seen: frozenset = frozenset()) -> tuple[Expr, Expr]:
        """The range of an index letter, read off the families it subscripts in ``node`` (and the
        labels it is compared with), as at an instance; a letter with no range or two is not
        translated."""
        found = [self._position_range(base, position, seen) for base, position in subscript_positions(node, letter)]
        found += [self.ranges[self.labels[other]] for other in compared_names(node, letter)
                  if other in self.labels and not self.document.labels[other].members
                  and isinstance(self.document.labels[other].values, Range)]
        if letter in self.document.index_ranges:  # for $j = 1, \dots, K$
            found.append(self._bounds(self.document.index_ranges[letter]))
        distinct = []
        for r in filter(None, found):
            if not any(sympy.expand(r[0] - s[0]) == 0 and sympy.expand(r[1] - s[1]) == 0 for s in distinct):
                distinct.append(r)
        if len(distinct) != 1:
            raise NotTranslated(f"the range of {letter}")
        return distinct[0]

    def _in_range(self, base: str, indices: list[Expr]) -> None:
        """Every index of a member is in its family's range for every value in scope."""
        for position, index in enumerate(indices):
            r = self._position_range(base, position)
            if r is not None and range_of(index, self.ranges) == r:
                continue
            if r is None or not (self.holds(sympy.Ge(index, r[0])) and self.holds(sympy.Le(index, r[1]))):
                raise NotTranslated(f"a member of {base} that may not exist")

    # --- names -----------------------------------------------------------------------------

    def name(self, node: Name, env: dict) -> Expr | Vector:
        base, document = node.base, self.document
        if not node.indices:
            if base in env:
                return env[base]
            if base in self.sizes:
                return self.sizes[base]
            if base in self.labels and not self.document.labels[base].members:
                return self.labels[base]
        indices = [self._integer(i, env) for i in node.indices]
        if base in self.labels and len(indices) == len(self.document.labels[base].members):
            self._in_range(base, indices)
            return self.labels[base][tuple(indices)] if indices else self.labels[base]
        if base in document.variables:
            return self._variable(base, indices)
        definition = self.definition(base)
        if definition is not None:
            return self._member(definition, indices)
        raise NotTranslated(f"the name {base}")

    def _variable(self, base: str, indices: list[Expr]) -> Expr | Vector:
        variable = self.document.variables[base]
        assumptions = {variable.sign: True} if variable.sign else {"real": True}
        if variable.row_of is not None:  # w_j, a row of W: W[j, d]
            matrix = self.document.variables[variable.row_of]
            if len(matrix.dims) != 2 or matrix.members or not indices:
                raise NotTranslated("a row of a family of matrices")
            self._in_range(base, indices)
            stem = IndexedBase(matrix.base, **({matrix.sign: True} if matrix.sign else {"real": True}))
            return self._entries(stem, indices, 2)
        count, dims = len(variable.members), len(variable.dims)
        if count + dims == 0:
            if indices:
                raise NotTranslated("a scalar with an index")
            return Symbol(base, **assumptions)
        if dims == 2 and count == 0 and not indices:
            row, column = self.fresh("r"), self.fresh("c")
            return Matrix(IndexedBase(base, **assumptions)[row, column], row, column,
                          self._position_range(base, 0), self._position_range(base, 1))
        if len(indices) < count or dims > 1 and len(indices) < count + dims:
            raise NotTranslated("a family without its index")
        self._in_range(base, indices)
        return self._entries(IndexedBase(base, **assumptions), indices, count + dims)

    def _entries(self, stem: IndexedBase, indices: list[Expr], rank: int) -> Expr | Vector:
        """The entry ``stem[indices]``, or the vector of entries when the last position is left."""
        if len(indices) == rank:
            return stem[tuple(indices)]
        if len(indices) != rank - 1:
            raise NotTranslated("too few indices")
        position = self.fresh("d")
        lower, upper = self._position_range(str(stem), rank - 1)
        return Vector(stem[tuple(indices) + (position,)], position, lower, upper)

    def _member(self, definition, indices: list[Expr]) -> Expr | Vector:
        base = definition.base
        if len(indices) != len(definition.indices):
            raise NotTranslated(f"{base} with other than its own indices")
        self._in_range(base, indices)
        stem = self._stem(definition)
        if base in self._vector_definitions:
            value = self._definition_value(definition, indices)
            position = self.fresh("d")
            return Vector(stem[tuple(indices) + (position,)], position, value.lower, value.upper, value.row)
        return stem[tuple(indices)] if indices else stem

    def _stem(self, definition):
        base = definition.base
        if base not in self._defined:
            probe = self._definition_value(definition, [self.fresh(i) for i in definition.indices], probe=True)
            if isinstance(probe, Matrix):
                raise NotTranslated("a defined matrix")
            if isinstance(probe, Vector):
                self._vector_definitions.add(base)
            self._defined[base] = IndexedBase(base, real=True) if definition.indices or isinstance(probe, Vector) \
                else Symbol(base, real=True)
        return self._defined[base]

    def _definition_value(self, definition, indices: list[Expr], probe: bool = False) -> Expr | Vector:
        if probe:
            for symbol, letter in zip(indices, definition.indices):
                self.ranges[symbol] = self.index_range(letter, definition.value, frozenset({definition.base}))
        return self.value(definition.value, dict(zip(definition.indices, indices)))

    def definition_of(self, atom: Expr) -> Expr | None:
        """The value of a defined atom (``p[m]``, ``L``, ``v[j, d]``), or None."""
        if isinstance(atom, sympy.Indexed):
            base, indices = str(atom.base), list(atom.indices)
        elif isinstance(atom, Symbol):
            base, indices = atom.name, []
        else:
            return None
        definition = self.definition(base)
        if definition is None or self._defined.get(base) not in (atom, getattr(atom, "base", None)):
            return None
        if atom not in self._values:
            if base in self._vector_definitions:
                self._values[atom] = self._definition_value(definition, indices[:-1]).at(indices[-1])
            else:
                self._values[atom] = self._definition_value(definition, indices)
        return self._values[atom]

    # --- values ----------------------------------------------------------------------------

    def value(self, node: Node, env: dict) -> Expr | Vector:
        """The SymPy value of ``node``, index letters bound by ``env`` (letter to symbol)."""
        if isinstance(node, Num):
            return sympy.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Name):
            return self.name(node, env)
        if isinstance(node, Const):
            return sympy.E if node.name == "e" else sympy.pi
        if isinstance(node, Add):
            total = self.value(node.terms[0], env)
            for term in node.terms[1:]:
                total = _added(total, self.value(term, env))
            return total
        if isinstance(node, Neg):
            return _scaled(self.value(node.operand, env), -1)
        if isinstance(node, Mul):
            result = self.value(node.factors[0], env)
            for factor in node.factors[1:]:
                result = self._product(result, self.value(factor, env))
            return result
        if isinstance(node, Div):
            denominator = _scalar(self.value(node.denominator, env))
            return _scaled(self.value(node.numerator, env), 1 / denominator)
        if isinstance(node, Pow):
            return self._power(node, env)
        if isinstance(node, Transpose):
            value = self.value(node.operand, env)
            if isinstance(value, Matrix):
                return Matrix(value.entry, value.column, value.row, value.columns, value.rows)
            return Vector(value.entry, value.index, value.lower, value.upper, not value.row) \
                if isinstance(value, Vector) else value
        if isinstance(node, Call):
            return self._call(node, env)
        if isinstance(node, Norm):
            value = self.value(node.operand, env)
            if isinstance(value, Matrix):
                rows = self._sum_over(value.row, *value.rows, value.entry ** 2)
                return sympy.sqrt(self._sum_over(value.column, *value.columns, rows))
            if not isinstance(value, Vector):
                raise NotTranslated("the absolute value")
            return sympy.sqrt(self._sum_over(value.index, value.lower, value.upper, value.entry ** 2))
        if isinstance(node, BigOp):
            return self._big(node, env)
        if isinstance(node, Indicator):
            return self._indicator(node.condition, env)
        if isinstance(node, Cases):
            return self._cases(node, env)
        if isinstance(node, Derivative):
            return self.derivative(node, env)
        if isinstance(node, Boxed):
            return self.value(node.operand, env)
        raise NotTranslated(type(node).__name__)  # Abs, Rel

    def _call(self, node: Call, env):
        """A function of a number, entrywise on an array.  ``\\max`` and ``\\min`` are kinks, and
        the functions of whole arrays (``\\det``, ``\\operatorname{tr}``) and ``\\operatorname{sign}``
        are not translated."""
        if node.function not in _FUNCTIONS or len(node.arguments) != 1:
            raise NotTranslated(f"\\{node.function}")
        return _entrywise(self.value(node.arguments[0], env), _FUNCTIONS[node.function])

    def _product(self, left, right):
        """The product as on paper: a scalar scales; a row times a column, or two vectors of one
        shape, is their dot product; a column times a row their outer product; a matrix
        multiplies a column on its right and a row on its left, and another matrix."""
        if not isinstance(left, (Vector, Matrix)) or not isinstance(right, (Vector, Matrix)):
            return _scaled(right, left) if isinstance(right, (Vector, Matrix)) else _scaled(left, right)
        if isinstance(left, Vector) and isinstance(right, Vector):
            if not left.row and right.row:
                row, column = self.fresh("r"), self.fresh("c")
                return Matrix(left.at(row) * right.at(column), row, column,
                              (left.lower, left.upper), (right.lower, right.upper))
            if not left.same_range(right):
                raise NotTranslated("vectors of different lengths")
            position = self.fresh("d")
            return self._sum_over(position, left.lower, left.upper, left.at(position) * right.at(position))
        inner = (left.columns if isinstance(left, Matrix) else (left.lower, left.upper) if left.row else None)
        outer = (right.rows if isinstance(right, Matrix) else (right.lower, right.upper) if not right.row else None)
        if inner is None or outer is None or not _same(inner, outer):
            raise NotTranslated("arrays whose shapes do not fit")
        position = self.fresh("k")
        if isinstance(left, Matrix) and isinstance(right, Matrix):
            row, column = self.fresh("r"), self.fresh("c")
            return Matrix(self._sum_over(position, *inner, left.at(row, position) * right.at(position, column)),
                          row, column, left.rows, right.columns)
        index = self.fresh("d")
        if isinstance(left, Matrix):
            return Vector(self._sum_over(position, *inner, left.at(index, position) * right.at(position)),
                          index, *left.rows)
        return Vector(self._sum_over(position, *inner, left.at(position) * right.at(position, index)),
                      index, *right.columns, row=True)

    def _power(self, node: Pow, env):
        base = _scalar(self.value(node.base, env))
        exponent = _scalar(self.value(node.exponent, env))
        if exponent.is_Rational and abs(exponent) > MAX_EXPONENT:
            raise NotTranslated("a large exponent")
        return sympy.exp(exponent) if base == sympy.E else base ** exponent

    def _sum_over(self, index: Symbol, lower: Expr, upper: Expr, body: Expr) -> Expr:
        """``Sum(body, (index, lower, upper))``, only where the range never runs backwards (SymPy
        sums from 3 to 1 as minus the sum from 2 to 2, where a document means 0 terms)."""
        if not self.holds(sympy.Ge(upper - lower + 1, 0)):
            raise NotTranslated("a sum whose range may run backwards")
        return Sum(body, (index, lower, upper))

    def _big(self, node: BigOp, env):
        if node.kind != "sum":
            raise NotTranslated("a product \\prod")
        if node.lower is not None:
            lower, upper = self._integer(node.lower, env), self._integer(node.upper, env)
        else:
            lower, upper = self.index_range(node.index, node.body)
        index = self.fresh(node.index)
        self.ranges[index] = (lower, upper)
        body = self.value(node.body, {**env, node.index: index})
        excluded = None if node.excluded is None else self._integer(node.excluded, env)
        if excluded is not None and not (self.holds(sympy.Ge(excluded, lower)) and self.holds(sympy.Le(excluded, upper))):
            raise NotTranslated("a sum that leaves out a value outside its range")

        def summed(entry: Expr) -> Expr:
            total = self._sum_over(index, lower, upper, entry)
            return total - entry.xreplace({index: excluded}) if excluded is not None else total

        return body.applied(summed) if isinstance(body, (Vector, Matrix)) else summed(body)

    def _indicator(self, rel: Rel, env) -> Expr:
        """``[a = b]`` as ``KroneckerDelta(a, b)``, ``[a \\neq b]`` as one minus it, for whole
        numbers; any other condition is not translated."""
        if rel.op not in ("=", "!="):
            raise NotTranslated("an inequality in a condition")
        left, right = self._integer(rel.left, env), self._integer(rel.right, env)
        delta = KroneckerDelta(left, right)
        return delta if rel.op == "=" else 1 - delta

    def _cases(self, node: Cases, env) -> Expr:
        """The first row whose condition holds: ``sum_i v_i c_i prod_{j<i} (1 - c_j)``."""
        total, none_before = sympy.Integer(0), sympy.Integer(1)
        for value_node, rel in node.rows:
            condition = sympy.Integer(1) if rel is None else self._indicator(rel, env)
            total += _scalar(self.value(value_node, env)) * condition * none_before
            none_before *= 1 - condition
        if expanded_terms(none_before, MAX_NODES) > MAX_NODES or _idempotent(sympy.expand(none_before)) != 0:
            raise NotTranslated("cases that may leave a value without a row")
        return total

    # --- derivatives -----------------------------------------------------------------------

    def derivative(self, node: Derivative, env):
        """SymPy's derivative of ``of`` by ``by`` (a variable or a defined quantity: one entry,
        a vector or a matrix), the definitions that depend on ``by`` substituted: a scalar by
        an array has the array's shape, an array by a scalar the array's."""
        by = self.value(node.by, env)
        of = self.value(node.of, env)
        target = by.entry if isinstance(by, (Vector, Matrix)) else by
        if not isinstance(target, (Symbol, sympy.Indexed)):
            raise NotTranslated("a derivative by an expression")
        stem = str(target.base) if isinstance(target, sympy.Indexed) else target.name
        if stem not in self.document.variables and self.definition(stem) is None:
            raise NotTranslated("a derivative by a size, a label or an index")
        if isinstance(by, (Vector, Matrix)):
            if isinstance(of, (Vector, Matrix)):
                raise NotTranslated("a Jacobian")
            through = self.through(of, stem)
            return by.applied(lambda entry: _derivative(through, entry))
        if isinstance(of, (Vector, Matrix)):
            return of.applied(lambda entry: _derivative(self.through(entry, stem), by))
        return _derivative(self.through(of, stem), by)

    def _depends_on(self, base: str, stem: str) -> bool:
        """Whether the definition of ``base`` uses the family or variable ``stem`` (a matrix's
        rows count as the matrix), through other definitions."""
        key = (base, stem)
        if key not in self._depends:
            self._depends[key] = False  # a definition that uses itself is refused when read
            definition = self.definition(base)
            names = {n.base for n in walk(definition.value) if isinstance(n, Name)}
            rows = {self.document.variables[n].row_of for n in names if n in self.document.variables}
            self._depends[key] = stem in names | rows or any(
                self.definition(n) is not None and n != base and self._depends_on(n, stem)
                for n in names)
        return self._depends[key]

    def _defined_atoms(self, expr: Expr) -> set:
        """The members of defined families and the defined scalars in ``expr``.  A defined scalar
        is a real symbol and every bound symbol (a sum's index) an integer one, so each symbol
        found is free: ``atoms`` finds them without ``free_symbols``, which SymPy computes for a
        ``Sum`` by rebuilding its body."""
        return {a for a in expr.atoms(sympy.Indexed, Symbol)
                if (str(a.base) in self._defined if isinstance(a, sympy.Indexed)
                    else a.name in self._defined and self._defined[a.name] == a)}

    def through(self, expr: Expr, stem: str) -> Expr:
        """``expr`` with every defined quantity that depends on ``stem`` replaced by its
        definition, again and again; all else held."""
        for _ in range(64):
            replacements = {}
            for atom in self._defined_atoms(expr):
                base = str(atom.base) if isinstance(atom, sympy.Indexed) else atom.name
                if base != stem and self._depends_on(base, stem):
                    replacements[atom] = self.definition_of(atom)
            if not replacements:
                return expr
            expr = expr.xreplace(replacements)
        raise NotTranslated("definitions nested too deep")

    def primitive(self, expr: Expr) -> Expr:
        """``expr`` with every definition substituted."""
        for _ in range(64):
            atoms = self._defined_atoms(expr)
            if not atoms:
                return expr
            expr = expr.xreplace({atom: self.definition_of(atom) for atom in atoms})
            if tree_size(expr) > MAX_NODES:
                raise NotTranslated("too large")
        raise NotTranslated("definitions nested too deep")


# --- values as vectors or scalars ------------------------------------------------------------

def _derivative(expr: Expr, by: Expr) -> Expr:
    """SymPy's derivative, not taken when it would build more than :data:`MAX_DERIVATIVE` nodes
    (a product of ``n`` factors gives ``n`` terms of ``n`` factors)."""
    if derivative_cost(expr) > MAX_DERIVATIVE:
        raise NotTranslated("a derivative too large")
    return sympy.diff(expr, by)


def _scalar(value) -> Expr:
    if isinstance(value, (Vector, Matrix)):
        raise NotTranslated("a vector where a scalar is needed")
    return value


def _scaled(value, factor: Expr):
    if isinstance(value, (Vector, Matrix)):
        return value.applied(lambda entry: entry * _scalar(factor))
    return value * _scalar(factor)


def _entrywise(value, function):
    return value.applied(function) if isinstance(value, (Vector, Matrix)) else function(value)


def _added(left, right):
    if type(left) is not type(right) and (isinstance(left, (Vector, Matrix)) or isinstance(right, (Vector, Matrix))):
        raise NotTranslated("arrays of different shapes added")
    if isinstance(left, Matrix):
        if not left.same_shape(right):
            raise NotTranslated("matrices of different shapes")
        return left.applied(lambda entry: entry + right.at(left.row, left.column))
    if isinstance(left, Vector):
        if not left.same_range(right):
            raise NotTranslated("vectors of different lengths")
        return left.applied(lambda entry: entry + right.at(left.index))
    return left + right


# --- deciding ------------------------------------------------------------------------------

#: Any whole number ``>= 0`` (:func:`decide_relation`): one symbol for every decision, so that
#: SymPy's cache serves a relation met before, its assumptions already asked (a new symbol each
#: time would make every relation new); no decision returns it.
_SLACK = Dummy("r", integer=True, nonnegative=True)


def decide_relation(relation, ranges: dict, decided: set | None = None) -> object:
    """``true`` or ``false`` when an integer relation is decided for every value of each of its
    symbols in its range, else the relation.  One symbol at a time is written from its lower
    bound up (``lower + r``) or from its upper bound down (``upper - r``), ``r`` any whole
    number ``>= 0``, and SymPy decides the result with sizes positive: each covers the whole
    range, so a decision holds on it.  ``decided`` receives the symbol whose range decided it.

    >>> K = Symbol("K", integer=True, positive=True)
    >>> m = Symbol("m", integer=True)
    >>> ranges = {m: (0, K - 1)}
    >>> [decide_relation(r, ranges) for r in (m <= K - 1, m >= 0, m >= K, m <= K - 2)]
    [True, True, False, m <= K - 2]
    """
    if relation in (sympy.true, sympy.false):
        return relation
    candidates = relation.free_symbols | relation.atoms(sympy.Indexed)
    for symbol in sorted(candidates, key=sympy.default_sort_key):
        if range_of(symbol, ranges) is None:
            continue
        lower, upper = range_of(symbol, ranges)
        for position in (lower + _SLACK, upper - _SLACK):
            decision = relation.xreplace({symbol: position})
            if decision in (sympy.true, sympy.false):
                if decided is not None:
                    decided.add(symbol)
                return decision
    return relation


def _single(total: Sum) -> tuple[Expr, tuple]:
    """A sum's body and its one limit, a sum over several limits read as nested sums (the first
    limit innermost, as SymPy means it)."""
    if len(total.limits) == 1:
        return total.function, total.limits[0]
    return Sum(total.function, *total.limits[:-1]), total.limits[-1]


def range_of(expr: Expr, ranges: dict) -> tuple[Expr, Expr] | None:
    """The range of an integer symbol, or of a member ``y[i]`` of a family of labels, or None."""
    if expr in ranges:
        return ranges[expr]
    return ranges.get(expr.base) if isinstance(expr, sympy.Indexed) else None


def decide_conditions(expr: Expr, ranges: dict, decided: set | None = None) -> Expr:
    """Every relation in ``expr`` decided where :func:`decide_relation` can, each sum's index
    with its limits as its range inside the sum; ``decided`` receives the symbols whose ranges
    decided one."""
    if isinstance(expr, Sum):
        body, (index, lower, upper) = _single(expr)
        inner = {**ranges, index: (lower, upper)}
        return Sum(decide_conditions(body, inner, decided), (index, lower, upper))
    if isinstance(expr, Relational):
        return decide_relation(expr, ranges, decided)
    if not expr.has(Relational):
        return expr
    return expr.func(*[decide_conditions(a, ranges, decided) for a in expr.args])


def sum_deltas(expr: Expr, summed: list | None = None) -> Expr:
    """Every ``Sum`` split over the terms of its body, the factors free of its index pulled
    out, and each term with a ``KroneckerDelta`` in its index summed by SymPy
    (``deltasummation``, each appended to ``summed``), innermost sums first; a term free of
    the index is that many times itself.

    >>> K, k, m = Symbol("K", integer=True, positive=True), Symbol("k", integer=True), Symbol("m")
    >>> t = IndexedBase("t")
    >>> sum_deltas(Sum(2 * t[k] * KroneckerDelta(k, m) + 1, (k, 1, K)))
    K + 2*Piecewise((t[m], (K >= m) & (m >= 1)), (0, True))
    """
    if not expr.has(Sum):
        return expr
    if not isinstance(expr, Sum):
        return expr.func(*[sum_deltas(a, summed) for a in expr.args])
    body, (index, lower, upper) = _single(expr)
    body = sum_deltas(body, summed)
    if expanded_terms(body, MAX_NODES) > MAX_NODES:
        return Sum(body, (index, lower, upper))  # left whole rather than expanded beyond the bound
    terms = []
    for term in sympy.Add.make_args(sympy.expand(body, power_exp=False, log=False)):
        factors = sympy.Mul.make_args(term)
        free = [index in f.free_symbols for f in factors]  # once: a Sum's is rebuilt to be found
        inside = [f for f, has in zip(factors, free) if has]
        outside = [f for f, has in zip(factors, free) if not has]
        part = sympy.Mul(*inside)
        if not inside:
            part = upper - lower + 1
        elif any(index in delta.args for delta in part.atoms(KroneckerDelta)):
            if summed is not None:
                summed.append(part)
            part = deltasummation(part, (index, lower, upper))
        else:
            part = Sum(part, (index, lower, upper))
        terms.append(sympy.Mul(*outside) * part)
    return sympy.Add(*terms)


def _substitute_deltas(expr: Expr) -> Expr:
    """In each term, a ``KroneckerDelta(a, b)`` of a symbol ``a`` lets ``a`` be ``b`` in the
    term's other factors (both are 0 where ``a != b``): the later symbol by name becomes the
    earlier one, so that the terms of one sum agree."""
    terms = []
    for term in sympy.Add.make_args(expr):
        for _ in range(8):
            deltas = [d for d in term.atoms(KroneckerDelta)
                      if all(isinstance(a, Symbol) for a in d.args) and d in sympy.Mul.make_args(term)]
            if not deltas:
                break
            delta = min(deltas, key=sympy.default_sort_key)
            first, later = sorted(delta.args, key=sympy.default_sort_key)
            rest = sympy.Mul(*[f for f in sympy.Mul.make_args(term) if f != delta])
            changed = rest.xreplace({later: first})
            if changed == rest:
                break
            term = delta * changed
        terms.append(term)
    return sympy.Add(*terms)


def _idempotent(expr: Expr) -> Expr:
    """Every power of a ``KroneckerDelta`` is the delta itself (it is 0 or 1)."""
    return expr.replace(lambda e: isinstance(e, sympy.Pow) and isinstance(e.base, KroneckerDelta)
                        and e.exp.is_positive, lambda e: e.base)


def _canonical(expr: Expr, depth: int = 0) -> Expr:
    """Each sum's index renamed by its depth, so that equal sums written with different
    letters compare equal."""
    if isinstance(expr, Sum):
        body, (index, lower, upper) = _single(expr)
        name = Symbol(f"'{depth}", integer=True)
        return Sum(_canonical(body.xreplace({index: name}), depth + 1), (name, lower, upper))
    if not expr.has(Sum):
        return expr
    return expr.func(*[_canonical(a, depth) for a in expr.args])


def reduces_to_zero(residual: Expr, ranges: dict) -> bool:
    """Whether ``residual`` is exactly 0 after SymPy's reductions: ``KroneckerDelta`` sums
    (``deltasummation``), range conditions decided from ``ranges``, deltas substituted, sums'
    indices made canonical, then ``expand`` and ``cancel``.  Bounded: a residual beyond
    :data:`MAX_NODES` nodes at any point is not reduced (False)."""
    for _ in range(MAX_PASSES):
        reduced = _substitute_deltas(decide_conditions(sum_deltas(residual), ranges))
        if tree_size(reduced) > MAX_NODES:
            return False
        if reduced == residual:
            break
        residual = reduced
    residual = _canonical(residual)
    if expanded_terms(residual, MAX_NODES) > MAX_NODES:
        return False
    residual = _idempotent(sympy.expand(residual, power_exp=False))
    if residual == 0:
        return True
    residual = sum_deltas(residual)
    if tree_size(residual) > MAX_NODES or expanded_terms(residual, MAX_NODES) > MAX_NODES:
        return False
    residual = _canonical(_substitute_deltas(_idempotent(sympy.expand(residual, power_exp=False))))
    if residual == 0:
        return True
    return sympy.cancel(sympy.together(residual)) == 0


def proven_for_every_size(document: Document, equation: Equation, symbolic: Symbolic) -> bool:
    """Whether the step ``equation`` is proven for every value of the sizes, of the labels and
    of its free indices (False: not proven here, not attempted included)."""
    if equation.op != "=":
        return False
    both = Add((equation.left, equation.right))
    saved = dict(symbolic.ranges)
    symbolic.start_step()
    try:
        env = {}
        for letter in free_indices(document, both, set()):
            symbol = Symbol(letter, integer=True)
            symbolic.ranges[symbol] = symbolic.index_range(letter, both)
            env[letter] = symbol
        left, right = symbolic.value(equation.left, env), symbolic.value(equation.right, env)
        return reduces_to_zero(_difference(symbolic, left, right), symbolic.ranges)
    except NOT_PROVEN:
        return False
    finally:
        symbolic.ranges = saved


def every_size_scope(document: Document, indices: list[str]) -> str:
    """What a proof for every size covers: ``every D, K, every y, every m``."""
    parts = ["every " + ", ".join(sorted(document.sizes))] if document.sizes else []
    return ", ".join(parts + [f"every {name}" for name in document.labels] + [f"every {letter}" for letter in indices])


def _difference(symbolic: Symbolic, left, right) -> Expr:
    """``left - right`` in the declared variables only; vectors and matrices entry by entry, at
    symbolic positions with their ranges (an array may be compared with 0)."""
    if isinstance(left, (Vector, Matrix)) or isinstance(right, (Vector, Matrix)):
        array = left if isinstance(left, (Vector, Matrix)) else right
        if isinstance(array, Matrix):
            symbolic.ranges[array.row], symbolic.ranges[array.column] = array.rows, array.columns
        else:
            symbolic.ranges[array.index] = (array.lower, array.upper)
        left, right = (_entry(side, array) for side in (left, right))
    value = symbolic.primitive(left) - symbolic.primitive(right)
    if tree_size(value) > MAX_NODES:
        raise NotTranslated("too large")
    if value.has(sympy.Derivative, sympy.Subs):  # a derivative SymPy could not take
        raise NotTranslated("an unevaluated derivative")
    return value


def _entry(side, array) -> Expr:
    """The entry of ``side`` at ``array``'s position: ``side`` is an array of its shape, or 0."""
    if not isinstance(side, (Vector, Matrix)):
        if side != 0:
            raise NotTranslated("an array compared with a scalar")
        return sympy.Integer(0)
    if type(side) is not type(array):
        raise NotTranslated("a vector compared with a matrix")
    if isinstance(array, Matrix):
        if not side.same_shape(array):
            raise NotTranslated("matrices of different shapes")
        return side.at(array.row, array.column)
    if not side.same_range(array):
        raise NotTranslated("vectors of different lengths")
    return side.at(array.index)
