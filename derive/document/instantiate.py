"""A document's math as SymPy at one instance: concrete sizes, labels and indices.

Every quantity is real.  A declared variable becomes real symbols named as the document writes
them (``w_{2,1}`` is entry 1 of ``w_2``); a defined quantity becomes a symbol too (``p_{2}``),
its definition kept beside it.  ``\\frac{\\partial A}{\\partial B}`` is SymPy's ``diff``: every
defined quantity in ``A`` that depends on ``B`` is replaced by its definition (again and again),
everything else is held fixed, and SymPy differentiates by ``B``.  So ``\\partial L/\\partial p_y``
with ``L = -\\log p_y`` is ``-1/p_y``, and ``\\partial L/\\partial w_m`` is the total derivative
through ``p`` and ``f``.  Claims are compared after every definition is substituted
(:meth:`Instance.primitive`).

>>> from derive.document.declare import read_document
>>> from derive.document.source import Source
>>> doc = read_document(Source("Let $x \\\\in \\\\mathbb{R}$.\\n\\n$$ f = x^2 $$\\n$$ \\\\frac{\\\\partial f}{\\\\partial x} = 2 x $$\\n"))
>>> at = Instance(doc, {}, {})
>>> at.value(doc.steps[0].equation.left, {})
2*x
"""

from __future__ import annotations

import sympy
from sympy import Expr, Integer, Matrix, Piecewise, Symbol

from derive.document.ast import (
    Abs, Add, BigOp, Boxed, Call, Cases, Const, Derivative, Div, Indicator, MatrixLiteral, Mul, Name, Neg, Node,
    Norm, Num, Pow, Rel, Transpose, children, to_latex, walk,
)
from derive.document.declare import Definition, Document, Range, Variable

#: Largest exponent written as a number, and most terms one sum or product may expand to.
MAX_EXPONENT = 64
MAX_TERMS = 5000
#: Most work one formula may take at one instance, the definitions it first needs included,
#: estimated before anything is built: all its sums and products together expand to at most
#: this many nodes (a term of ``\\sum_i \\sum_j i j x`` weighs 4).
MAX_WORK = 250_000
#: Most nodes of a formula's value, and of a step with every definition substituted, written out
#: as a tree (SymPy walks a shared subexpression once per place it stands); a derivative builds
#: at most this many (a product of ``n`` factors weighs ``n^2``: the product rule's ``n`` copies).
MAX_NODES = 1_000_000
#: Most bits of a number built from the document (a power or a product of numbers): 2^16 bits,
#: about 19,700 decimal digits.
MAX_BITS = 2**16
#: Highest degree a power may reach, through powers of powers and of definitions:
#: ``(x^{64})^{64}`` is degree 4,096, the most.
MAX_DEGREE = 4096
#: Most exponentials stacked in one another, through definitions: ``e^{e^{e^{x}}}`` is 3, the
#: most (one more, and evaluating it at ``x = 5`` would need ~10^64 digits).
MAX_HEIGHT = 3
#: Largest square matrix whose determinant is built (7 by 7: about 230,000 nodes; 8 by 8 would
#: pass :data:`MAX_NODES`), and whose inverse is (6 by 6: 36 cofactors, about 260,000 nodes
#: built in about 2 seconds).
MAX_DETERMINANT, MAX_INVERSE = 7, 6
#: Most definitions one inside the other (``a = x^2``, ``b = a + x``, ... each adds one): deeper,
#: SymPy's recursion would fail on the substituted expression.
MAX_DEFINITION_DEPTH = 40

_RELATIONS = {"=": sympy.Eq, "!=": sympy.Ne, "<": sympy.Lt, ">": sympy.Gt, "<=": sympy.Le, ">=": sympy.Ge}
#: Functions of a number, applied to each entry of a vector or matrix.
SCALAR_FUNCTIONS = {"log": sympy.log, "exp": sympy.exp, "tanh": sympy.tanh, "sign": sympy.sign,
              "sigma": lambda z: 1 / (1 + sympy.exp(-z))}


class InstanceError(ValueError):
    """The math cannot be evaluated at this instance (shape, range, undeclared name); ``symbol``
    is the LaTeX of the symbol at fault, where one is (the error is shown at it)."""

    def __init__(self, message: str, symbol: str | None = None):
        super().__init__(message)
        self.symbol = symbol


class OutOfRange(InstanceError):
    """A member or entry that does not exist at this instance (``p_{y-1}`` at the first label)."""


class ShapeMismatch(InstanceError):
    """Arrays that cannot be added or multiplied (``W g`` with ``W`` K x D and ``g`` K x 1)."""


class TooLarge(InstanceError):
    """Work beyond a documented bound (:data:`MAX_WORK`, :data:`MAX_NODES`, :data:`MAX_BITS`,
    :data:`MAX_DEGREE`, :data:`MAX_HEIGHT`, :data:`MAX_DEFINITION_DEPTH`), refused before it is
    done."""


Value = Expr | Matrix


def _is_matrix(value) -> bool:
    return isinstance(value, sympy.MatrixBase)


class Instance:
    """The document at given ``sizes`` and ``labels`` (label name to value or tuple of values)."""

    def __init__(self, document: Document, sizes: dict[str, int], labels: dict[str, object]):
        self.document, self.sizes, self.labels = document, dict(sizes), dict(labels)
        self.base = 0 if document.zero_based else 1
        self._symbols: dict[tuple, Value] = {}
        self.definitions: dict[Symbol, Expr] = {}
        self._defining: set[tuple] = set()
        self._depends: dict[tuple, bool] = {}
        self._primitive: dict[Symbol, Expr] = {}
        self._ranges: dict[tuple, tuple[int, int]] = {}
        self._ranging: set[tuple] = set()  # families whose range is being read (``a_j = a_j + x_j``)
        #: Estimated work of the formula being evaluated (:data:`MAX_WORK`), terms built by its
        #: sums and products, and how deep in sums the evaluation is (the outermost estimates).
        self.work, self.built, self._summing = 0, 0, 0
        #: Tree sizes of the expressions measured at this instance (:func:`tree_size`'s memo).
        self.tree_sizes: dict[Expr, int] = {}
        self._growth: dict = {}
        self._entries: dict[str, int] = {}  # defined arrays of one entry here (:meth:`_one_entry`)
        self._depth: dict[Symbol, int] = {}  # definitions one inside the other, per defined symbol

    def start_formula(self) -> None:
        """A new formula: its work is counted from zero (:data:`MAX_WORK` is per formula)."""
        self.work = self.built = 0

    # --- names -----------------------------------------------------------------------------

    def integer(self, node: Node, env: dict[str, int]) -> int:
        value = self.value(node, env)
        if _is_matrix(value) or not (isinstance(value, Integer) or getattr(value, "is_Integer", False)):
            raise InstanceError(f"an index must be a whole number here, got {value}")
        return int(value)

    def bounds(self, r: Range, env) -> tuple[int, int]:
        if r.lower is None:  # `upper` members, numbered as the document numbers
            return self.base, self.base + self.integer(r.upper, env) - 1
        return self.integer(r.lower, env), self.integer(r.upper, env)

    def _dims(self, variable: Variable, env) -> list[int]:
        return [self.integer(d, env) for d in variable.dims]

    def _entry_name(self, base: str, indices) -> str:
        return base + ("_{" + ",".join(str(i) for i in indices) + "}" if indices else "")

    def _variable(self, variable: Variable, member: tuple[int, ...], env) -> Value:
        key = ("var", variable.base, member)
        if key not in self._symbols:
            if variable.row_of is not None:
                matrix = self._variable(self.document.variables[variable.row_of], (), env)
                self._symbols[key] = matrix.row(member[0] - self.base).T
                return self._symbols[key]
            assumptions = {"real": True}
            if variable.sign:
                assumptions = {variable.sign: True}
            dims = self._dims(variable, env)
            if not dims:
                self._symbols[key] = Symbol(self._entry_name(variable.base, member), **assumptions)
            else:
                rows, columns = (dims[0], 1) if len(dims) == 1 else dims
                if rows < 1 or columns < 1:
                    raise InstanceError(f"{variable.base} has an empty dimension")
                self._symbols[key] = Matrix(rows, columns, lambda r, c: Symbol(
                    self._entry_name(variable.base, member + ((r + self.base,) if len(dims) == 1 else
                                                               (r + self.base, c + self.base))),
                    **assumptions))
        return self._symbols[key]

    def _check_member(self, base: str, members: tuple[Range, ...], member: tuple[int, ...], env) -> None:
        for index, r in zip(member, members):
            lower, upper = self.bounds(r, env)
            if not lower <= index <= upper:
                raise OutOfRange(f"{base} has no member {index} here (it runs {lower}..{upper})")

    def name(self, node: Name, env: dict[str, int]) -> Value:
        base = node.base
        if not node.indices:
            if base in env:
                return Integer(env[base])
            if base in self.sizes:
                return Integer(self.sizes[base])
        indices = [self.integer(i, env) for i in node.indices]
        document = self.document
        if base in document.labels:
            label = document.labels[base]
            if len(indices) != len(label.members):
                raise InstanceError(f"{base} takes {len(label.members)} index(es)", base)
            self._check_member(base, label.members, tuple(indices), env)
            value = self.labels[base]
            return Integer(value[indices[0] - self.bounds(label.members[0], env)[0]] if indices else value)
        if base in document.variables:
            variable = document.variables[base]
            count = len(variable.members)
            member, entry = tuple(indices[:count]), indices[count:]
            if not indices and count == 1 and not variable.dims:
                lower, upper = self.bounds(variable.members[0], env)
                return self._column(base, [self._variable(variable, (k,), env) for k in range(lower, upper + 1)])
            if len(member) < count:
                raise InstanceError(f"{base} needs {count} index(es) to pick a member", base)
            self._check_member(base, variable.members, member, env)
            return self._entry(self._variable(variable, member, env), entry, base)
        definition = document.definition(base, len(indices))
        if definition is None and document.definitions_of(base):
            forms = " and ".join(f"{to_latex(d.equation.left)} (line {d.equation.line})"
                                 for d in document.definitions_of(base))
            raise InstanceError(f"`{base}` with {len(indices)} index(es) is neither of its definitions, {forms}",
                                base)
        if definition is not None:
            count = len(definition.indices)
            member, entry = tuple(indices[:count]), indices[count:]
            if not indices and count == 1:
                lower, upper = self._position_range(base, 0, env)
                return self._column(base, [self._defined(definition, (k,)) for k in range(lower, upper + 1)])
            if len(member) < count:
                raise InstanceError(f"{base} needs {count} index(es)", base)
            return self._entry(self._defined(definition, member), entry, base)
        if base in self.sizes:
            raise InstanceError(f"the size {base} takes no index", base)
        raise InstanceError(f"`{base}` is not declared (declare it in a 'Let' paragraph, or define it)", base)

    @staticmethod
    def _column(base: str, members: list) -> Matrix:
        """A family of scalars without its index: the column of its members (``p`` for ``p_j``)."""
        if any(_is_matrix(m) for m in members):
            raise InstanceError(f"{base} is a family of vectors: write one member, as in {base}_j", base)
        return Matrix(members)

    def _entry(self, value: Value, entry: list[int], base: str) -> Value:
        if not entry:
            return value
        if not _is_matrix(value):
            if self._one_entry(base) == len(entry) and all(e == self.base for e in entry):
                return value  # h_1 of a vector h that has one entry here
            raise InstanceError(f"{base} is a scalar here and has no entry {entry}", base)
        position = [e - self.base for e in entry]
        if value.shape[1] == 1 and len(position) == 1:
            position.append(0)
        if len(position) != 2 or not (0 <= position[0] < value.shape[0] and 0 <= position[1] < value.shape[1]):
            raise OutOfRange(f"{base} has no entry {entry} (its shape is {value.shape[0]}x{value.shape[1]})")
        return value[position[0], position[1]]

    def defined(self, definition: Definition, member: tuple[int, ...]) -> Value:
        """The member ``member`` of a defined family (its symbol, its value kept beside it)."""
        return self._defined(definition, tuple(member))

    def _defined(self, definition: Definition, member: tuple[int, ...]) -> Value:
        key = ("def", definition.base, member)
        if key in self._symbols:
            return self._symbols[key]
        if key in self._defining:
            raise InstanceError(f"{definition.base} is defined in terms of itself")
        self._defining.add(key)
        summing, self._summing = self._summing, 0
        try:
            for position, index in enumerate(member):
                lower, upper = self._position_range(definition.base, position, {})
                if not lower <= index <= upper:
                    raise OutOfRange(f"{definition.base} has no member {index} here (it runs {lower}..{upper})")
            value = self.value(definition.value, dict(zip(definition.indices, member)))
        finally:
            self._defining.discard(key)
            self._summing = summing
        small(value, f"{definition.base}'s value", self.tree_sizes)
        if _is_matrix(value) and len(self.document.definitions_of(definition.base)) > 1:
            raise InstanceError(f"`{definition.base}` names two quantities, so each must be a scalar: call the "
                                "vector by another letter")
        depth = 1 + max((self._depth.get(s, 0) for entry in _flat_entries(value) for s in entry.free_symbols),
                        default=0)
        if depth > MAX_DEFINITION_DEPTH:
            raise TooLarge(f"{definition.base}, used here, is defined through {depth} definitions one inside the other, "
                           f"more than {MAX_DEFINITION_DEPTH}")
        name = self._entry_name(definition.base, member)
        if _is_matrix(value):
            rows, columns = value.shape
            symbols = Matrix(rows, columns, lambda r, c: Symbol(
                self._entry_name(definition.base, member + ((r + self.base,) if columns == 1 else
                                                            (r + self.base, c + self.base))), real=True))
            for symbol, entry in zip(symbols, value):
                self.definitions[symbol], self._depth[symbol] = entry, depth
            self._symbols[key] = symbols
        else:
            symbol = Symbol(name, real=True)
            self.definitions[symbol], self._depth[symbol] = value, depth
            self._symbols[key] = symbol
        return self._symbols[key]

    # --- ranges of index letters -----------------------------------------------------------

    def index_range(self, letter: str, node: Node, env, owner: str = "") -> tuple[int, int]:
        """The values of an index letter, read off the families it subscripts in ``node``."""
        found: set[tuple[int, int]] = set()
        for base, position in subscript_positions(node, letter):
            r = self._position_range(base, position, env)
            if r is not None:
                found.add(r)
        for other in compared_names(node, letter):
            label = self.document.labels.get(other)
            if label is not None and not label.members and isinstance(label.values, Range):
                found.add(self.bounds(label.values, env))
        if letter in self.document.index_ranges:  # for $j = 1, \dots, K$
            found.add(self.bounds(self.document.index_ranges[letter], env))
        if not found:
            where = f" in {owner}" if owner else ""
            raise InstanceError(f"cannot tell which values the index {letter} takes{where}: "
                                f"write its limits, as in \\sum_{{{letter}=1}}^{{K}}")
        if len(found) > 1:
            shown = " and ".join(f"{a}..{b}" for a, b in sorted(found))
            raise InstanceError(f"the index {letter} runs over {shown} in different places")
        return found.pop()

    def _position_range(self, base: str, position: int, env) -> tuple[int, int] | None:
        document = self.document
        if base in document.variables:
            variable = document.variables[base]
            if position < len(variable.members):
                r = variable.members[position]
                return self.bounds(r, env)
            dims = self._dims(variable, env)
            k = position - len(variable.members)
            return (self.base, self.base + dims[k] - 1) if k < len(dims) else None
        if base in document.labels:
            label = document.labels[base]
            return self.bounds(label.members[position], env) if position < len(label.members) else None
        definition = document.definition(base)
        if definition is not None and position < len(definition.indices):
            key = (base, position)
            if key not in self._ranges:
                if key in self._ranging:  # the family subscripts itself: that says nothing
                    return None
                self._ranging.add(key)
                try:
                    self._ranges[key] = self.index_range(definition.indices[position], definition.value, {}, base)
                finally:
                    self._ranging.discard(key)
            return self._ranges[key]
        if definition is not None and not definition.indices:
            return self._entry_range(definition, position)
        return None

    def _entry_range(self, definition: Definition, position: int) -> tuple[int, int] | None:
        """The values of the entry index at ``position`` of a defined vector or matrix: ``j`` in
        ``h_j`` runs over ``h``'s entries when ``h = \\tanh(a)`` is a vector."""
        value = self._defined(definition, ())
        if not _is_matrix(value) or value.shape == (1, 1):
            return (self.base, self.base) if self._one_entry(definition.base) > position else None
        rows, columns = value.shape
        lengths = [rows] if columns == 1 else [rows, columns]
        return (self.base, self.base + lengths[position] - 1) if position < len(lengths) else None

    def _one_entry(self, base: str) -> int:
        """How many indices an entry of ``base`` takes when ``base`` is a defined vector (1) or
        matrix (2) that is a number here because a size is 1 (``a = V x`` with ``V`` 1 by D): it
        is an array once every size of 1 is 2.  Else 0: a scalar has no entry."""
        if base not in self._entries:
            self._entries[base] = 0
            definition = self.document.definition(base)
            if definition is not None and not definition.indices and 1 in self.sizes.values():
                probe = Instance(self.document, {k: max(v, 2) for k, v in self.sizes.items()}, self.labels)
                try:
                    value = probe._defined(definition, ())
                except (InstanceError, IndexError):
                    value = None
                if _is_matrix(value):
                    self._entries[base] = 1 if value.shape[1] == 1 else 2
        return self._entries[base]

    # --- values ----------------------------------------------------------------------------

    def value(self, node: Node, env: dict[str, int]) -> Value:
        """The SymPy value of ``node`` with index letters bound by ``env``."""
        if isinstance(node, Num):
            return sympy.Rational(node.value.numerator, node.value.denominator)
        if isinstance(node, Name):
            return self.name(node, env)
        if isinstance(node, Const):
            return sympy.E if node.name == "e" else sympy.pi
        if isinstance(node, Add):
            values = [self.value(t, env) for t in node.terms]
            return _sum(values)
        if isinstance(node, Neg):
            return -self.value(node.operand, env)
        if isinstance(node, Mul):
            result, sizes = self.value(node.factors[0], env), {}
            for factor in node.factors[1:]:
                result = self._low_degree(_bounded(_product(result, self.value(factor, env))))
                if _is_matrix(result):  # only products of matrices share entries many times over
                    small(result, memo=sizes)
            return result
        if isinstance(node, Div):
            numerator, denominator = self.value(node.numerator, env), self.value(node.denominator, env)
            denominator = _scalar(denominator, "a denominator")
            return numerator / denominator
        if isinstance(node, Pow):
            return self._power(node, env)
        if isinstance(node, Transpose):
            value = self.value(node.operand, env)
            return value.T if _is_matrix(value) else value
        if isinstance(node, Call):
            return self._call(node, env)
        if isinstance(node, Norm):
            value = self.value(node.operand, env)
            if not _is_matrix(value):
                return sympy.Abs(value)
            return sympy.sqrt(sympy.Add(*[entry**2 for entry in value]))
        if isinstance(node, Abs):
            value = self.value(node.operand, env)
            if self._is_matrix_name(node.operand) or (_is_matrix(value) and 1 not in value.shape):
                raise InstanceError("|A| of a matrix could be its determinant or its entries' absolute "
                                    "values: write \\det A, or |A_{ij}| for an entry")
            return value.applyfunc(sympy.Abs) if _is_matrix(value) else sympy.Abs(value)
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
        if isinstance(node, MatrixLiteral):
            return Matrix([[_scalar(self.value(entry, env), "a matrix's entry") for entry in row] for row in node.rows])
        if isinstance(node, Rel):
            raise InstanceError("a comparison stands only in an indicator or a case")
        raise InstanceError(f"cannot evaluate {type(node).__name__}")

    def _is_matrix_name(self, node: Node) -> bool:
        """Whether ``node`` is a declared matrix written whole (``W``, even where it is 1 by 1)."""
        variable = self.document.variables.get(node.base) if isinstance(node, Name) else None
        return variable is not None and len(variable.dims) == 2 and len(node.indices) == len(variable.members)

    def _power(self, node: Pow, env) -> Value:
        base = self.value(node.base, env)
        exponent = _scalar(self.value(node.exponent, env), "an exponent")
        if exponent.is_number and exponent.is_Rational and abs(exponent) > MAX_EXPONENT:
            raise InstanceError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
        if _is_matrix(base):
            if base.shape == (1, 1):
                base = base[0, 0]
            elif exponent == -1:
                return _inverse(base)
            elif 1 in base.shape:
                raise InstanceError("a vector has no power; write a norm \\lVert x \\rVert^2 or x^T x")
            else:
                raise InstanceError("a matrix's only power is ^{-1}, its inverse: write a product for a square")
        if base == sympy.E:
            return self._tall(sympy.exp(exponent))
        if exponent.is_Rational:
            if base.is_Rational and _bits(base) * abs(exponent) > MAX_BITS:
                raise TooLarge(f"a power of a number with more than {MAX_BITS} bits")
            degree = self.growth(base)[0] * abs(exponent)
            if degree > MAX_DEGREE:
                raise TooLarge(f"a power of degree {degree}, more than {MAX_DEGREE} "
                               "(through powers of powers and the definitions)")
            return base**exponent
        return self._tall(base**exponent)

    def _low_degree(self, value: Value) -> Value:
        """``value``, refused when a scalar's degree (:meth:`growth`) passes :data:`MAX_DEGREE`."""
        if not _is_matrix(value):
            degree = self.growth(value)[0]
            if degree > MAX_DEGREE:
                raise TooLarge(f"a product of degree {degree}, more than {MAX_DEGREE} "
                               "(through the definitions)")
        return value

    def _tall(self, value: Value) -> Value:
        """``value``, refused when its exponentials stack more than :data:`MAX_HEIGHT` deep."""
        height = max((self.growth(v)[1] for v in _flat_entries(value)), default=0)
        if height > MAX_HEIGHT:
            raise TooLarge(f"exponentials stacked {height} deep, more than {MAX_HEIGHT} "
                           "(through the definitions)")
        return value

    def growth(self, value: Expr) -> tuple:
        """(degree, height) of ``value`` through the definitions: the degree of a polynomial in
        it (powers with a number as exponent) and how many exponentials stack in it.

        >>> from derive.document.declare import read_document
        >>> from derive.document.source import Source
        >>> at = Instance(read_document(Source("Let $x \\\\in \\\\mathbb{R}$.\\n")), {}, {})
        >>> x = sympy.Symbol("x", real=True)
        >>> at.growth((x**3 + 1)**2 * x), at.growth(sympy.exp(sympy.exp(x) + x**2))
        ((7, 0), (2, 2))
        """
        if value in self._growth:
            return self._growth[value]
        if isinstance(value, Symbol):
            found = self.growth(self.definitions[value]) if value in self.definitions else (1, 0)
        elif not value.args:
            found = (0, 0)
        else:
            parts = [self.growth(a) for a in value.args]
            degree, height = max(p[0] for p in parts), max(p[1] for p in parts)
            if isinstance(value, sympy.Mul):
                degree = sum(p[0] for p in parts)
            elif isinstance(value, sympy.Pow) and value.exp.is_Rational:
                degree, height = parts[0][0] * abs(value.exp), parts[0][1]
            elif isinstance(value, sympy.Pow):
                height = max(parts[0][1], parts[1][1] + 1)
            elif isinstance(value, (sympy.exp, sympy.tanh)):
                height += 1
            found = (degree, height)
        self._growth[value] = found
        return found

    def _call(self, node: Call, env) -> Value:
        values = [self.value(a, env) for a in node.arguments]
        if node.function in _OF_ARRAYS:
            return self._tall(_OF_ARRAYS[node.function](*values))
        if node.function in ("max", "min"):
            choose = sympy.Max if node.function == "max" else sympy.Min
            if any(_is_matrix(v) for v in values):
                if len(values) != 2 or _is_matrix(values[0]):
                    raise InstanceError(f"\\{node.function} of a vector takes a scalar first, as in \\max(0, z)")
                return values[1].applyfunc(lambda entry: choose(values[0], entry))
            return choose(*values)
        (argument,) = values
        function = SCALAR_FUNCTIONS[node.function]
        return self._tall(argument.applyfunc(function) if _is_matrix(argument) else function(argument))

    def _big(self, node: BigOp, env) -> Value:
        if node.index in env or node.index in self.sizes or self.document.known(node.index):
            raise InstanceError(f"the index {node.index} of a \\{node.kind} is already in use")
        if node.lower is not None:
            lower, upper = self.integer(node.lower, env), self.integer(node.upper, env)
        else:
            lower, upper = self.index_range(node.index, node.body, env)
        if upper - lower + 1 > MAX_TERMS:
            raise InstanceError(f"a \\{node.kind} of more than {MAX_TERMS} terms")
        count = max(0, upper - lower + 1)
        if not self._summing:
            self._spend(count * self._cost(node.body, env, node.index, (lower, upper)), node.kind)
        self.built += count
        if self.built > MAX_WORK:
            raise TooLarge(f"the sums and products of this formula expand to more than {MAX_WORK} terms")
        excluded = None if node.excluded is None else self.integer(node.excluded, env)
        self._summing += 1
        try:
            values = [self.value(node.body, {**env, node.index: k})
                      for k in range(lower, upper + 1) if k != excluded]
        finally:
            self._summing -= 1
        if node.kind == "sum":
            return _sum(values) if values else Integer(0)
        factors = [_scalar(value, "a product's factor") for value in values]
        self._bound_product(factors)
        return sympy.Mul(*factors)

    def _bound_product(self, factors: list) -> None:
        """Refuse a product whose number would pass :data:`MAX_BITS` or whose degree would pass
        :data:`MAX_DEGREE`, before it is multiplied out."""
        bits = sum(_bits(f.as_coeff_Mul()[0]) for f in factors if f.as_coeff_Mul()[0].is_Rational)
        if bits > MAX_BITS:
            raise TooLarge(f"a product of numbers of about {bits} bits, more than {MAX_BITS}")
        degree = sum(self.growth(f)[0] for f in factors)
        if degree > MAX_DEGREE:
            raise TooLarge(f"a product of degree {degree}, more than {MAX_DEGREE}")

    def _spend(self, work: int, what: str) -> None:
        self.work += work
        if self.work > MAX_WORK:
            before = f" (with the sums before it in this formula: {self.work})" if self.work > work else ""
            raise TooLarge(f"this \\{what} would build about {work} nodes{before}, more than {MAX_WORK}")

    def _cost(self, node: Node, env, index: str, limits: tuple[int, int]) -> int:
        """About how many nodes one term of a sum over ``index`` (in ``limits``) builds: the
        nodes of ``node``, a sum in it weighing its terms times its body (its limits read at
        both ends of ``limits``; when they cannot be read yet, one term: the count of terms
        actually built is bounded too)."""
        if isinstance(node, BigOp):
            most = 1
            for end in limits:
                try:
                    inner = {**env, index: end}
                    if node.lower is not None:
                        low, high = self.integer(node.lower, inner), self.integer(node.upper, inner)
                    else:
                        low, high = self.index_range(node.index, node.body, inner)
                    most = max(most, high - low + 1)
                except (InstanceError, TypeError, ValueError):
                    pass
            most = min(most, MAX_TERMS)
            return 1 + most * self._cost(node.body, env, index, limits)
        return 1 + sum(self._cost(child, env, index, limits) for child in children(node))

    def _condition(self, rel: Rel, env):
        left = _scalar(self.value(rel.left, env), "a comparison")
        right = _scalar(self.value(rel.right, env), "a comparison")
        return _without_bars(rel.op, left, right)

    def _indicator(self, rel: Rel, env) -> Expr:
        condition = self._condition(rel, env)
        if condition in (sympy.true, sympy.false):
            return Integer(1 if condition else 0)
        return Piecewise((1, condition), (0, True))

    def _cases(self, node: Cases, env) -> Value:
        pieces = []
        for value_node, rel in node.rows:
            condition = sympy.true if rel is None else self._condition(rel, env)
            if condition is sympy.false:
                continue
            value = self.value(value_node, env)
            if condition is sympy.true and not pieces:
                return value
            if _is_matrix(value):
                raise InstanceError("cases with a condition on a real quantity take scalar values")
            pieces.append((value, condition))
            if condition is sympy.true:
                break
        if not pieces:
            raise InstanceError("no case applies here; add an `otherwise` row")
        if pieces[-1][1] is not sympy.true:
            raise InstanceError("cases on a real quantity need an `otherwise` row")
        return Piecewise(*pieces)

    # --- derivatives -----------------------------------------------------------------------

    def derivative(self, node: Derivative, env) -> Value:
        by = self.value(node.by, env)
        targets = list(by) if _is_matrix(by) else [by]
        if not all(isinstance(t, Symbol) for t in targets):
            raise InstanceError("differentiate with respect to a variable or a defined quantity, "
                                f"not {node.by}")
        if any(t in self.definitions for t in targets) and any(isinstance(n, Derivative) for n in walk(node.of)):
            # an inner derivative has substituted the definitions it went through, so by a
            # defined quantity the outer one would be 0 where a reader expects more
            raise InstanceError(f"a second derivative is taken by declared variables, not by the defined "
                                f"{to_latex(node.by)}: write it in the variables it is defined by",
                                node.by.base if isinstance(node.by, Name) else None)
        of = self.value(node.of, env)
        target_set = frozenset(targets)
        through = self.through(of, target_set)
        cost = derivative_cost(through, self.tree_sizes)
        if cost > MAX_NODES:
            raise TooLarge(f"this derivative would build about {cost} nodes, more than {MAX_NODES} "
                           "(a product of n factors gives n terms of n factors)")
        if _is_matrix(through):
            if _is_matrix(by) and by.shape != (1, 1):
                return _jacobian(through, by)
            return through.applyfunc(lambda entry: sympy.diff(entry, targets[0]))
        if _is_matrix(by):
            return by.applyfunc(lambda target: sympy.diff(through, target))
        return sympy.diff(through, by)

    def depends(self, symbol: Symbol, targets: frozenset) -> bool:
        """Whether a defined quantity depends on any of ``targets``, through its definitions."""
        key = (symbol, targets)
        if key not in self._depends:
            definition = self.definitions[symbol]
            self._depends[key] = any(
                s in targets or (s in self.definitions and self.depends(s, targets))
                for s in definition.free_symbols)
        return self._depends[key]

    def through(self, value: Value, targets: frozenset) -> Value:
        """``value`` with each defined quantity that depends on ``targets`` replaced by its
        definition, again and again; all else held."""
        if _is_matrix(value):
            return value.applyfunc(lambda entry: self.through(entry, targets))
        replacements = {}
        for symbol in value.free_symbols:
            if symbol in self.definitions and symbol not in targets and self.depends(symbol, targets):
                replacements[symbol] = self.through(self.definitions[symbol], targets)
        return value.xreplace(replacements) if replacements else value

    def primitive(self, value: Value) -> Value:
        """``value`` in the declared variables only: every definition substituted."""
        if _is_matrix(value):
            return value.applyfunc(self.primitive)
        replacements = {}
        for symbol in value.free_symbols:
            if symbol in self.definitions:
                if symbol not in self._primitive:
                    self._primitive[symbol] = self.primitive(self.definitions[symbol])
                replacements[symbol] = self._primitive[symbol]
        return value.xreplace(replacements) if replacements else value


def _without_bars(op: str, left: Expr, right: Expr):
    """The comparison ``left op right``, a bar on one side written out: ``|u| <= c`` is
    ``-c <= u <= c`` and ``\\sqrt{s} <= c`` (a norm) is ``s <= c^2`` with ``c >= 0``.  Each is the
    same condition for real values, but it switches where a polynomial changes sign, so the
    verifier can split on it (a kink of ``|u| - c`` is not analytic, and would not be split on).

    >>> u, c = sympy.symbols("u c", real=True)
    >>> _without_bars("<=", sympy.Abs(u), c), _without_bars("<", c, sympy.sqrt(u**2 + 1))
    ((u <= c) & (-u <= c), (c < 0) | (u**2 + 1 > c**2))
    """
    if op in ("=", "!="):
        return _RELATIONS[op](left, right)
    if not isinstance(left, (sympy.Abs, sympy.Pow)) and isinstance(right, (sympy.Abs, sympy.Pow)):
        op, left, right = _MIRRORED[op], right, left
    relation = _RELATIONS[op]
    below = op in ("<", "<=")  # |u| below c holds on an interval; above it, outside one
    if isinstance(left, sympy.Abs) and left.args[0].is_extended_real:
        (inside,) = left.args
        parts = relation(inside, right), relation(-inside, right)
        return sympy.And(*parts) if below else sympy.Or(*parts)
    if isinstance(left, sympy.Pow) and left.exp == sympy.Rational(1, 2) and left.base.is_extended_nonnegative:
        square = relation(left.base, right**2)
        sign = _ROOT_SIGN[op](right, 0)
        return sympy.And(square, sign) if below else sympy.Or(square, sign)
    return relation(left, right)


_MIRRORED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
#: For ``\\sqrt{s} op c``: the sign of ``c`` that goes with ``s op c^2`` (below: and; above: or).
_ROOT_SIGN = {"<=": sympy.Ge, "<": sympy.Gt, ">=": sympy.Le, ">": sympy.Lt}


# --- functions of whole arrays ---------------------------------------------------------------

def _square(value: Value, what: str, largest: int | None = None) -> Matrix:
    """``value`` as a square matrix (a number is 1 by 1), or an error naming ``what`` needs one,
    refused beyond ``largest`` rows."""
    matrix = value if _is_matrix(value) else Matrix([[value]])
    rows, columns = matrix.shape
    if rows != columns:
        raise InstanceError(f"{what} of a {rows}x{columns} array: it needs a square matrix")
    if largest is not None and rows > largest:
        raise TooLarge(f"{what} of a {rows}x{rows} matrix would build too many nodes (at most "
                       f"{largest}x{largest}): check it at smaller sizes with the front matter's `check:` line")
    return matrix


def _inverse(value: Matrix) -> Matrix:
    """The inverse of a square matrix: its adjugate over its determinant.

    >>> a, b, c, d = sympy.symbols("a b c d")
    >>> _inverse(Matrix([[a, b], [c, d]]))
    Matrix([
    [ d/(a*d - b*c), -b/(a*d - b*c)],
    [-c/(a*d - b*c),  a/(a*d - b*c)]])
    """
    matrix = _square(value, "the inverse", MAX_INVERSE)
    determinant = sympy.expand(matrix.det(method="berkowitz"))
    if determinant == 0:
        raise InstanceError("the inverse of a matrix whose determinant is 0 everywhere")
    return matrix.adjugate(method="berkowitz") / determinant


def _determinant(value: Value) -> Expr:
    return _square(value, "\\det", MAX_DETERMINANT).det(method="berkowitz")


def _trace(value: Value) -> Expr:
    return _square(value, "\\operatorname{tr}").trace()


def _diagonal(value: Value) -> Value:
    """The diagonal matrix of a vector's entries (of a number, the number)."""
    if not _is_matrix(value):
        return value
    if 1 not in value.shape:
        raise InstanceError(f"\\operatorname{{diag}} of a {value.shape[0]}x{value.shape[1]} matrix: "
                            "it takes a vector")
    return sympy.diag(*value)


def _softmax(value: Value) -> Value:
    """The vector of ``e^{v_k} / \\sum_j e^{v_j}`` (of a number, 1)."""
    if not _is_matrix(value):
        return Integer(1)
    if 1 not in value.shape:
        raise InstanceError(f"\\operatorname{{softmax}} of a {value.shape[0]}x{value.shape[1]} matrix: "
                            "it takes a vector")
    exponentials = value.applyfunc(sympy.exp)
    return exponentials / sympy.Add(*exponentials)


def _hadamard(left: Value, right: Value) -> Value:
    """The entrywise product of two arrays of one shape (a row and a column of one length are
    the same vector); a number multiplies every entry."""
    if not (_is_matrix(left) and _is_matrix(right)):
        return left * right
    if left.shape != right.shape and left.shape == right.shape[::-1] and 1 in left.shape:
        right = right.T
    if left.shape != right.shape:
        raise ShapeMismatch(f"cannot multiply {left.shape[0]}x{left.shape[1]} entrywise by "
                            f"{right.shape[0]}x{right.shape[1]}")
    return left.multiply_elementwise(right)


#: Functions of a whole array (a number counts as a 1 by 1 one).
_OF_ARRAYS = {"det": _determinant, "tr": _trace, "diag": _diagonal, "softmax": _softmax,
              "hadamard": _hadamard}


# --- helpers -------------------------------------------------------------------------------

def _jacobian(vector: Matrix, by: Matrix) -> Matrix:
    """The derivative of a vector by a vector: the matrix whose entry ``i, j`` is the derivative
    of entry ``i`` by entry ``j`` (numerator layout), or its transpose for a row by a column
    (``\\frac{\\partial p^T}{\\partial f}``, denominator layout); a Hessian is that of a gradient.

    >>> a, b = sympy.symbols("a b")
    >>> _jacobian(Matrix([a * b, a**2]), Matrix([a, b]))
    Matrix([
    [  b, a],
    [2*a, 0]])
    >>> _jacobian(Matrix([[a * b, a**2]]), Matrix([a, b]))
    Matrix([
    [b, 2*a],
    [a,   0]])
    """
    if 1 not in vector.shape or 1 not in by.shape:
        raise InstanceError("a derivative of a vector by a matrix, or of a matrix by a vector, is not "
                            "supported: differentiate one entry")
    jacobian = Matrix(len(vector), len(by), lambda i, j: sympy.diff(vector[i], by[j]))
    row_by_column = vector.shape[0] == 1 < vector.shape[1] and by.shape[1] == 1
    return jacobian.T if row_by_column else jacobian


def _bits(number) -> int:
    """Bits of a rational number's numerator and denominator.

    >>> _bits(sympy.Rational(255, 4))
    11
    """
    return int(number.p).bit_length() + int(number.q).bit_length()


def _bounded(value: Value) -> Value:
    """``value``, refused when it is (or has as coefficient) a number of more than
    :data:`MAX_BITS` bits."""
    number = value.as_coeff_Mul()[0] if isinstance(value, sympy.Mul) else value
    if getattr(number, "is_Rational", False) and _bits(number) > MAX_BITS:
        raise TooLarge(f"a number of more than {MAX_BITS} bits (about {MAX_BITS * 3 // 10} digits)")
    return value


def _flat_entries(value: Value) -> list:
    return list(value) if _is_matrix(value) else [value]


def derivative_cost(value: Value, sizes: dict | None = None) -> int:
    """About how many nodes differentiating ``value`` builds: its nodes as a tree (SymPy walks
    a subexpression once per place it stands), and a product of ``n`` factors ``n^2`` more (the
    product rule's ``n`` terms of ``n`` factors).  ``sizes`` is :func:`tree_size`'s memo.

    The products add at most the square of the tree's size (their factors are nodes of the
    tree), so a tree small enough that this square is within :data:`MAX_NODES` is not walked
    again for them: its cost is reported as that bound.

    >>> x = sympy.Symbol("x")
    >>> derivative_cost(sympy.Mul(*[x + k for k in range(1, 101)], evaluate=False)) > 100**2
    True
    >>> derivative_cost(x * (x + 1)) <= MAX_NODES
    True
    """
    sizes = {} if sizes is None else sizes
    total = sum(tree_size(entry, sizes) for entry in _flat_entries(value))
    if total + total * total <= MAX_NODES:
        return total + total * total
    memo: dict = {}
    total = sum(tree_size(entry, memo) for entry in _flat_entries(value))
    for current in memo:
        if isinstance(current, sympy.Mul):
            total += len(current.args) ** 2
    return total


def tree_size(value: Expr, memo: dict | None = None) -> int:
    """How many nodes ``value`` has written out as a tree (a shared subexpression counts once
    per place it stands), in time linear in its distinct nodes.

    >>> x = sympy.Symbol("x")
    >>> shared = x + 1
    >>> tree_size(sympy.Mul(shared, shared, evaluate=False))  # Mul, twice Add(x, 1)
    7
    """
    memo = {} if memo is None else memo
    if value not in memo:
        memo[value] = 1 + sum(tree_size(a, memo) for a in value.args)
    return memo[value]


def small(value: Value, what: str = "this formula", memo: dict | None = None) -> Value:
    """``value``, refused when written out as a tree it has more than :data:`MAX_NODES` nodes
    (a product of matrices shares its entries many times over: ``x^T (W^T W)^{15} x``); ``memo``
    keeps the sizes of subexpressions already seen."""
    memo = {} if memo is None else memo
    size = sum(tree_size(entry, memo) for entry in _flat_entries(value))
    if size > MAX_NODES:
        raise TooLarge(f"{what} is about {size} nodes written out, more than {MAX_NODES}")
    return value


def bounded_sides(values: list, memo: dict | None = None) -> None:
    """Refuse sides that, every definition substituted, are more than :data:`MAX_NODES` nodes
    as a tree (each entry, as the verifier gets it); ``memo`` as :func:`tree_size`'s."""
    memo = {} if memo is None else memo
    for value in values:
        size = tree_size(value, memo)
        if size > MAX_NODES:
            raise TooLarge(f"this step, with every definition substituted, is about {size} nodes, more "
                           f"than {MAX_NODES}: check it at smaller sizes with the front matter's `check:` line")


def _scalar(value: Value, what: str) -> Expr:
    if _is_matrix(value):
        if value.shape == (1, 1):
            return value[0, 0]
        raise InstanceError(f"{what} must be a scalar, got a {value.shape[0]}x{value.shape[1]} array")
    return value


def _sum(values: list[Value]) -> Value:
    matrices = [v for v in values if _is_matrix(v) and v.shape != (1, 1)]
    if not matrices:
        return sympy.Add(*[_scalar(v, "a term") for v in values])
    shape = matrices[0].shape
    total = sympy.zeros(*shape)
    for v in values:
        if not _is_matrix(v) or v.shape != shape:
            if _is_matrix(v) and v.shape == (shape[1], shape[0]) and 1 in shape:
                v = v.T
            else:
                got = "a scalar" if not _is_matrix(v) else f"{v.shape[0]}x{v.shape[1]}"
                raise ShapeMismatch(f"cannot add {got} to a {shape[0]}x{shape[1]} array")
        total += v
    return total


def _product(left: Value, right: Value) -> Value:
    if _is_matrix(left) and _is_matrix(right):
        if left.shape[1] == right.shape[0]:
            result = left * right
            return result[0, 0] if result.shape == (1, 1) else result
        if left.shape == right.shape and 1 in left.shape:
            return (left.T * right)[0, 0] if left.shape[1] == 1 else (left * right.T)[0, 0]
        if left.shape == (1, 1) or right.shape == (1, 1):
            return left[0, 0] * right if left.shape == (1, 1) else left * right[0, 0]
        raise ShapeMismatch(f"cannot multiply {left.shape[0]}x{left.shape[1]} by "
                            f"{right.shape[0]}x{right.shape[1]}")
    return left * right


def subscript_positions(node: Node, letter: str):
    """(family, position) for each subscript position holding exactly ``letter`` (a sum over
    ``letter`` binds it afresh, so its body is not looked into)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, BigOp) and current.index == letter:
            continue
        if isinstance(current, Name):
            for position, index in enumerate(current.indices):
                if index == Name(letter):
                    yield current.base, position
        stack.extend(children(current))


def compared_names(node: Node, letter: str):
    """Names compared with ``letter`` in a condition (``[j = y]`` gives ``y``)."""
    for current in walk(node):
        if isinstance(current, Rel):
            for a, b in ((current.left, current.right), (current.right, current.left)):
                if a == Name(letter) and isinstance(b, Name) and not b.indices:
                    yield b.base


def free_indices(document: Document, node: Node, bound: set[str]) -> list[str]:
    """Index letters in ``node`` that nothing binds: each value of each is checked."""
    found: list[str] = []

    def visit(current, bound, in_index):
        if isinstance(current, Name):
            if (in_index and not current.indices and len(current.base) == 1 and current.base not in bound
                    and not document.known(current.base) and current.base not in found):
                found.append(current.base)
            for index in current.indices:
                visit(index, bound, True)
            return
        if isinstance(current, BigOp):
            for limit in (current.lower, current.upper, current.excluded):
                if limit is not None:
                    visit(limit, bound, True)
            visit(current.body, bound | {current.index}, in_index)
            return
        if isinstance(current, Rel):
            visit(current.left, bound, True)
            visit(current.right, bound, True)
            return
        for child in children(current):
            visit(child, bound, in_index)

    visit(node, set(bound), False)
    return found

