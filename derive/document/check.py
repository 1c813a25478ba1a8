"""Checking a derivation document: every step at every instance, and the first wrong one.

An *instance* gives each size a value (by default the sizes that count classes take 2, 3, 4 and
the others 1, 2, 3, the i-th instance taking each size's i-th value), each label every value
(a family of labels every labeling, or when they are more than :data:`MAX_LABELINGS`, every
pattern of equal labels: :func:`family_labelings`; the step's scope says which), and each free
index (``m`` in ``\\partial L / \\partial w_m``) every value.  Each step's two sides
are evaluated there (:mod:`derive.document.instantiate`), every definition substituted, and
handed to :func:`derive.core.verify_identity` with the document's constraints as ``given``.
A step is proven when every instance is; it is refuted at the first instance where the verifier
finds a counterexample, and then :mod:`derive.document.mistakes` looks for the one small edit
that would make it hold.  A step SymPy proves with symbolic sizes
(:mod:`derive.document.symbolic`) is checked at the first sizes only, as a cross-check, and is
then proven for every size (:attr:`StepCheck.every_size`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import sympy

from derive.core.display import DisplayedMath
from derive.core import Counterexample, Verdict, verify_identity
from derive.core.verdict import EntryVerdict, Status, worst
from derive.document.ast import Add as AddNode, Equation, Name, equation_latex, walk
from derive.document.declare import Document, Range, Step, read_document
from derive.document.instantiate import (
    Instance, InstanceError, OutOfRange, ShapeMismatch, bounded_sides, free_indices, small,
)
from derive.document.source import DocumentError, Source, read_source
from derive.document.symbolic import Symbolic, every_size_scope, proven_for_every_size

#: Default values of the sizes: sizes that bound a label's classes, and all others.
CLASS_SIZES, OTHER_SIZES = (2, 3, 4), (1, 2, 3)
#: Most label assignments and most free-index values per instance (beyond: an error, never a sample).
MAX_LABELINGS, MAX_INDEX_VALUES = 64, 256
#: Most members of one defined family at one instance (``f_{i,j}``: 16 x 16 is 256).
MAX_MEMBERS = 4096
#: Seconds the verifier may spend on one entry of one instance.
TIME_LIMIT = 10.0


@dataclass(frozen=True)
class Failure:
    """Where a step fails: the instance (sizes, labels, indices) and the verifier's counterexample."""

    instance: dict[str, int | tuple]
    counterexample: Counterexample | None
    shapes: tuple[str, str] | None = None
    #: Why there is no counterexample: a member that does not exist at this instance, or arrays
    #: that cannot be added or multiplied there.
    missing: str = ""

    def describe_instance(self) -> str:
        return ", ".join(f"{k} = {_shown(v)}" for k, v in self.instance.items())


@dataclass
class StepCheck:
    """The verdict on one step, where it is, and what was checked."""

    line: int
    column: int
    latex: str
    source: str
    prose: str
    status: Status
    instances: int = 0
    scope: str = ""
    failure: Failure | None = None
    mistake: str | None = None
    reason: str = ""
    after_first_wrong: bool = False
    boxed: bool = False
    except_where: tuple = ()
    #: The verifier's entries over every instance checked (a refuted step's end at the failure).
    verdict: Verdict | None = None
    #: Proven for every value of the sizes, labels and free indices (SymPy with symbolic sizes,
    #: :mod:`derive.document.symbolic`), not only at the sizes checked.
    every_size: bool = False

    def __repr__(self) -> str:
        """One line (``derive.report.notebook.short_repr``), not every field."""
        from derive.report.notebook import short_repr

        return short_repr(self)


@dataclass(repr=False)
class DocumentCheck(DisplayedMath):
    """A whole document's verdict: one :class:`StepCheck` per step, in order."""

    path: str
    title: str
    steps: list[StepCheck]
    definitions: list[str]
    sizes: list[dict[str, int]]
    result: StepCheck | None = None
    #: The document in order, for pages: ("prose", text) and ("display", [latex | StepCheck]),
    #: a definition given as its LaTeX.
    outline: list[tuple[str, object]] = field(default_factory=list)
    #: What was read (:class:`~derive.document.declare.Reading`), for ``derive check --explain``.
    reading: list = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst(step.status for step in self.steps) if self.steps else "unproven"

    @property
    def first_wrong(self) -> StepCheck | None:
        return next((s for s in self.steps if s.status == "refuted"), None)

    def __bool__(self) -> bool:
        return self.status == "proven"

    def __str__(self) -> str:
        from derive.report.document import document_text

        return document_text(self)

    def to_json(self) -> dict:
        from derive.report.document import document_json

        return document_json(self)


def _shown(value) -> str:
    return "(" + ", ".join(map(str, value)) + ")" if isinstance(value, tuple) else str(value)


# --- instances ------------------------------------------------------------------------------

def _class_sizes(document: Document) -> set[str]:
    names = set()
    for label in document.labels.values():
        if isinstance(label.values, Range):
            names.update(_names_in(label.values.upper))
    return names


def _names_in(node) -> set[str]:
    return {current.base for current in walk(node) if isinstance(current, Name)}


def size_values(document: Document) -> list[dict[str, int]]:
    """The instances' sizes, from the front matter's ``check:`` line or the defaults."""
    chosen: dict[str, list[int]] = {}
    spec = document.front.get("check", "")
    for part in filter(None, (p.strip() for p in re.split(r"[;,]", spec))):
        match = re.fullmatch(r"(\S+)\s*=\s*(\d+)(?:\s*\.\.\s*(\d+))?", part)
        if not match or match.group(1) not in document.sizes:
            raise DocumentError(f"front matter `check:` expects `K = 2..4, D = 1..3` over declared sizes, "
                                f"got `{part}`", document.source.path)
        low = int(match.group(2))
        high = int(match.group(3) or low)
        if not 1 <= low <= high <= 16:
            raise DocumentError(f"front matter `check:`: sizes go from 1 to 16, got `{part}`",
                                document.source.path)
        chosen[match.group(1)] = list(range(low, high + 1))
    classes = _class_sizes(document)
    for name in document.sizes:
        chosen.setdefault(name, list(CLASS_SIZES if name in classes else OTHER_SIZES))
    count = max((len(v) for v in chosen.values()), default=1)
    return [{name: values[min(i, len(values) - 1)] for name, values in chosen.items()} for i in range(count)]


@dataclass(frozen=True)
class Coverage:
    """Which labelings of one label were checked at one instance: ``checked`` of ``total``, and
    how they were chosen (``""`` when every labeling was checked)."""

    checked: int
    total: int
    how: str = ""


def _partition_count(positions: int, blocks: int) -> int:
    """How many ways ``positions`` labels can be equal or not, with at most ``blocks`` distinct
    values (set partitions into at most ``blocks`` parts: sums of Stirling numbers).

    >>> _partition_count(3, 4), _partition_count(3, 2), _partition_count(16, 16)
    (5, 4, 10480142147)
    """
    row = [1]  # Stirling numbers S(n, k) for k = 0..n, starting at n = 0
    for n in range(1, positions + 1):
        row = [0] + [k * (row[k] if k < len(row) else 0) + row[k - 1] for k in range(1, n + 1)]
    return sum(row[1:blocks + 1]) if positions else 1


def equality_patterns(positions: int, blocks: int):
    """Each way ``positions`` labels can be equal or not (at most ``blocks`` distinct), as the
    block of each position, first appearances in order (restricted growth strings); lazily.

    >>> list(equality_patterns(3, 2))
    [(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)]
    """
    def extend(prefix: tuple, used: int):
        if len(prefix) == positions:
            yield prefix
            return
        for block in range(min(used + 1, blocks)):
            yield from extend(prefix + (block,), max(used, block + 1))

    yield from extend((), 0)


def family_labelings(values: list[int], positions: int, limit: int) -> tuple[list[tuple], Coverage]:
    """At most ``limit`` labelings of ``positions`` labels taking ``values``, and what they cover.

    Every labeling when there are at most ``limit``.  Otherwise every pattern of equal labels
    (which labels are equal to which), each realised with its blocks given distinct values in
    order, at every shift of the values when that fits (so each label takes each value), else at
    one shift each (pattern ``k`` at shift ``k``); when even the patterns are more than
    ``limit``, the first ``limit`` of them.

    >>> labelings, coverage = family_labelings([1, 2], 3, 8)
    >>> len(labelings), coverage
    (8, Coverage(checked=8, total=8, how=''))
    >>> labelings, coverage = family_labelings([1, 2, 3, 4], 3, 20)
    >>> len(labelings), coverage.total, coverage.how
    (20, 64, 'each pattern of equal labels at every shift of the values')
    >>> (1, 1, 1) in labelings and (1, 2, 1) in labelings and (4, 1, 4) in labelings
    True
    """
    total = len(values) ** positions
    if total <= limit:
        return list(itertools.product(values, repeat=positions)), Coverage(total, total)
    count = _partition_count(positions, len(values))
    patterns = list(itertools.islice(equality_patterns(positions, len(values)), limit))

    def realised(pattern, shift):
        return tuple(values[(block + shift) % len(values)] for block in pattern)

    if count * len(values) <= limit:
        chosen = [realised(p, s) for s in range(len(values)) for p in patterns]
        how = "each pattern of equal labels at every shift of the values"
    elif count <= limit:
        chosen = [realised(p, k) for k, p in enumerate(patterns)]
        how = "each pattern of equal labels once"
    else:
        chosen = [realised(p, k) for k, p in enumerate(patterns)]
        how = f"{len(patterns)} of the {count} patterns of equal labels"
    chosen = list(dict.fromkeys(chosen))
    return chosen, Coverage(len(chosen), total, how)


def labelings(document: Document, at: Instance, coverage: dict | None = None) -> list[dict[str, object]]:
    """Every value of each label; for a family of labels every labeling, or when there are more
    than fit the bound (:data:`MAX_LABELINGS` for all labels together), every pattern of equal
    labels (:func:`family_labelings`).  ``coverage`` receives a :class:`Coverage` per label."""
    coverage = {} if coverage is None else coverage
    values_of, singles, families = {}, 1, []
    for name, label in document.labels.items():
        values_of[name] = (list(range(*_inclusive(at.bounds(label.values, {}))))
                           if isinstance(label.values, Range) else list(label.values))
        if label.members:
            families.append(name)
        else:
            singles *= max(1, len(values_of[name]))
    if singles > MAX_LABELINGS:
        raise InstanceError(f"{singles} label values at {at.sizes}, more than {MAX_LABELINGS}: "
                            "make the sizes smaller with the front matter's `check:` line")
    share = _share(MAX_LABELINGS // singles, len(families))
    per_label = []
    for name, label in document.labels.items():
        values = values_of[name]
        if not label.members:
            per_label.append([(name, v) for v in values])
            coverage[name] = Coverage(len(values), len(values))
            continue
        lower, upper = at.bounds(label.members[0], {})
        chosen, coverage[name] = family_labelings(values, max(0, upper - lower + 1), share)
        per_label.append([(name, a) for a in chosen])
    combos = [dict(c) for c in itertools.product(*per_label)]
    if len(combos) > MAX_LABELINGS:  # never: each family's share keeps the product in bounds
        raise InstanceError(f"{len(combos)} label assignments at {at.sizes}, more than {MAX_LABELINGS}")
    return combos


def _share(budget: int, families: int) -> int:
    """The most labelings each of ``families`` families may take, their product within ``budget``.

    >>> _share(64, 1), _share(64, 2), _share(64, 3), _share(1, 2)
    (64, 8, 4, 1)
    """
    if families == 0:
        return budget
    share = max(1, int(round(budget ** (1 / families))))
    while share > 1 and share ** families > budget:
        share -= 1
    return share


def _inclusive(bounds: tuple[int, int]) -> tuple[int, int]:
    return bounds[0], bounds[1] + 1


class Instances:
    """Each instance made once per check, so that its symbols, definitions and their expansions
    serve every step (an instance holds nothing a step changes)."""

    def __init__(self, document: Document):
        self.document = document
        self._labelings: dict[tuple, list[dict[str, object]]] = {}
        self._coverage: dict[tuple, dict[str, Coverage]] = {}
        self._made: dict[tuple, Instance] = {}

    def labelings(self, size: dict[str, int]) -> list[dict[str, object]]:
        key = tuple(sorted(size.items()))
        if key not in self._labelings:
            self._coverage[key] = {}
            self._labelings[key] = labelings(self.document, Instance(self.document, size, {}),
                                             self._coverage[key])
        return self._labelings[key]

    def coverage(self, size: dict[str, int]) -> dict[str, Coverage]:
        """Per label, which of its labelings are checked at ``size``."""
        self.labelings(size)
        return self._coverage[tuple(sorted(size.items()))]

    def at(self, size: dict[str, int], labels: dict[str, object]) -> Instance:
        key = (tuple(sorted(size.items())), tuple(sorted(labels.items())))
        if key not in self._made:
            self._made[key] = Instance(self.document, size, labels)
        return self._made[key]


# --- one step ---------------------------------------------------------------------------------

@dataclass
class _Sides:
    truths: list
    claims: list
    entries: list  # (index values, entry position) per pair
    shapes: tuple[str, str] | None = None
    missing: str = ""  # a member missing, or arrays that do not fit, at these index values


def _flat(value) -> list:
    return list(value) if isinstance(value, sympy.MatrixBase) else [value]


def _shape(value) -> str:
    return f"{value.shape[0]}x{value.shape[1]}" if isinstance(value, sympy.MatrixBase) else "scalar"


def _pair(left, right):
    """The two sides in one shape: a vector may be written as a row or as a column, and a 1x1
    array (a vector of one entry, as at ``D = 1``) is its entry."""
    left, right = (v[0, 0] if isinstance(v, sympy.MatrixBase) and v.shape == (1, 1) else v
                   for v in (left, right))
    left_matrix, right_matrix = isinstance(left, sympy.MatrixBase), isinstance(right, sympy.MatrixBase)
    if not left_matrix and not right_matrix:
        return [left], [right], None
    if left_matrix != right_matrix and (right if left_matrix else left) == 0:
        zeros = [sympy.Integer(0)] * len(left if left_matrix else right)
        return (list(left), zeros, None) if left_matrix else (zeros, list(right), None)
    if left_matrix and right_matrix:
        if left.shape == right.shape:
            return list(left), list(right), None
        if left.shape == right.shape[::-1] and 1 in left.shape:
            return list(left), list(right.T), None
    return None, None, (_shape(left), _shape(right))


def sides(document: Document, at: Instance, equation: Equation, indices: list[str]) -> _Sides:
    both = AddNode((equation.left, equation.right))
    at.start_formula()
    ranges = [at.index_range(letter, both, {}) for letter in indices]
    truths, claims, entries = [], [], []
    count = 1
    for a, b in ranges:
        count *= max(0, b - a + 1)
    if count > MAX_INDEX_VALUES:
        raise InstanceError(f"the free indices {', '.join(indices)} take {count} values together, more than "
                            f"{MAX_INDEX_VALUES}: make the sizes smaller with the front matter's `check:` line")
    combos = list(itertools.product(*[range(a, b + 1) for a, b in ranges]))
    for combo in combos:
        env = dict(zip(indices, combo))
        try:
            left = small(at.value(equation.left, env), memo=at.tree_sizes)
            right = small(at.value(equation.right, env), memo=at.tree_sizes)
        except (OutOfRange, ShapeMismatch) as error:
            return _Sides([], [], [(env, 0)], missing=str(error))
        lefts, rights, shapes = _pair(left, right)
        if shapes is not None:
            return _Sides([], [], [(env, 0)], shapes)
        truths.extend(lefts)
        claims.extend(rights)
        entries.extend((env, k) for k in range(len(lefts)))
    return _Sides(truths, claims, entries)


def _given(document: Document, at: Instance) -> list:
    given = []
    for equation in document.constraints:
        left, right = at.value(equation.left, {}), at.value(equation.right, {})
        for a, b in zip(_flat(left), _flat(right)):
            given.append(sympy.Eq(at.primitive(a), at.primitive(b)))
    return given


def decide(document: Document, at: Instance, equation: Equation, indices: list[str],
           seed: int = 0, time_limit: float = TIME_LIMIT) -> tuple[Verdict | None, _Sides]:
    """The verifier's verdict on one step at one instance (None when the shapes differ)."""
    found = sides(document, at, equation, indices)
    if found.shapes is not None or found.missing:
        return None, found
    truths = [at.primitive(t) for t in found.truths]
    claims = [at.primitive(c) for c in found.claims]
    bounded_sides(truths + claims, at.tree_sizes)
    verdict = verify_identity(truths, claims, given=_given(document, at), seed=seed, time_limit=time_limit)
    return verdict, found


#: Said when SymPy's recursion runs out on a formula (a last resort behind the bounds).
_TOO_DEEP = "this formula nests too deep to evaluate: split it, or define fewer quantities one inside another"


def _error_at(document: Document, equation: Equation, error: Exception) -> DocumentError:
    """The error shown at the symbol it names, where the equation's line writes it (the written
    symbol nearest the relation sign), else at the relation sign."""
    symbol = getattr(error, "symbol", None)
    column = symbol_column(equation.source, symbol, equation.column) if symbol else None
    return DocumentError(str(error), document.source.path, equation.line, column or equation.column, equation.source)


_LATEX_TOKEN = re.compile(r"\\[a-zA-Z]+|\\.|.", re.DOTALL)


def symbol_column(text: str, symbol: str, near: int) -> int | None:
    """The 1-based column in ``text`` where ``symbol`` is written as a whole token (``s`` in
    ``s_k`` or ``2s``, not in ``\\sum``; ``\\sigma`` not in ``\\sigmax``), the one nearest column
    ``near``; None if nowhere.

    >>> symbol_column(r"\\sum_k s_k = s", "s", 12)
    14
    >>> symbol_column(r"\\sum_k x_k = 1", "s", 11) is None
    True
    """
    found = [match.start() + 1 for match in _LATEX_TOKEN.finditer(text)
             if text.startswith(symbol, match.start()) and symbol.startswith(match.group())
             and not symbol[len(match.group()):][:1].isalpha()]
    return min(found, key=lambda column: abs(column - near), default=None)


def _scope(document: Document, indices: list[str], sizes: list[dict[str, int]], instances: Instances) -> str:
    """What was checked: the sizes, each label (every value, or how many of its labelings at
    which sizes) and each free index."""
    parts = []
    for name in sorted(sizes[0]) if sizes else []:
        values = sorted({s[name] for s in sizes})
        parts.append(f"{name} = {values[0]}..{values[-1]}" if len(values) > 1 else f"{name} = {values[0]}")
    parts += [_label_scope(name, sizes, instances) for name in document.labels]
    parts += [f"every {letter}" for letter in indices]
    return ", ".join(parts)


def _label_scope(name: str, sizes: list[dict[str, int]], instances: Instances) -> str:
    """``every y``, or exactly which labelings of ``y`` were checked where not all were:
    ``every y at K = 2, N = 1; at K = 4, N = 5: 51 of 1024 labelings of y (each pattern of
    equal labels once)``."""
    partial = [(size, instances.coverage(size)[name]) for size in sizes]
    partial = [(size, c) for size, c in partial if c.checked < c.total]
    if not partial:
        return f"every {name}"
    complete = [size for size in sizes if all(size != p for p, _ in partial)]
    parts = [f"every {name} at " + "; ".join(_sizes_named(size) for size in complete)] if complete else []
    parts += [f"{c.checked} of {c.total} labelings of {name}"
              + (f" at {_sizes_named(size)}" if len(sizes) > 1 else "") + f" ({c.how})"
              for size, c in partial]
    return "; ".join(parts)


def _sizes_named(size: dict[str, int]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in sorted(size.items()))


def _named_kink(at: Instance, kink):
    """A kink ``expr = 0`` in the document's own symbols when a defined quantity is ``expr`` or
    ``-expr`` (``s_{2} = 0`` rather than the scores written out entry by entry)."""
    if not (isinstance(kink, sympy.Eq) and kink.rhs == 0):
        return kink
    for symbol in list(at.definitions):
        value = at.primitive(symbol)
        if value.free_symbols == kink.lhs.free_symbols and (
                sympy.expand(value - kink.lhs) == 0 or sympy.expand(value + kink.lhs) == 0):
            return sympy.Eq(symbol, 0)
    return kink


def check_step(document: Document, step: Step, sizes: list[dict[str, int]],
               time_limit: float = TIME_LIMIT, instances: Instances | None = None,
               symbolic: Symbolic | None = None) -> StepCheck:
    """The verdict on one step.  With ``symbolic`` (the document with symbolic sizes), a step
    SymPy proves for every size (:func:`~derive.document.symbolic.proven_for_every_size`) is
    checked at the first sizes only, as a cross-check: proven there, it is proven for every
    size; otherwise every instance is checked as without it."""
    instances = instances or Instances(document)
    equation = step.equation
    check = StepCheck(equation.line, equation.column, equation_latex(equation), equation.source,
                      step.prose, "proven", boxed=equation.boxed)
    if equation.op != "=":
        check.status, check.reason = "unproven", "only equalities are checked"
        check.verdict = Verdict((EntryVerdict(0, "unproven", reason=check.reason),))
        return check
    indices = free_indices(document, AddNode((equation.left, equation.right)), set())
    try:
        check.scope = _scope(document, indices, sizes, instances)
    except InstanceError as error:
        raise _error_at(document, equation, error) from None
    statuses, reasons, except_where, entries = [], [], [], []
    every_size = symbolic is not None and proven_for_every_size(document, equation, symbolic)
    for number, size in enumerate(sizes):
        if every_size and number > 0 and _cross_checked(statuses, except_where):
            break  # proven for every size, and at the first sizes too
        try:
            for labels in instances.labelings(size):
                at = instances.at(size, labels)
                verdict, found = decide(document, at, equation, indices, seed=number, time_limit=time_limit)
                check.instances += max(1, len(found.entries))
                if verdict is None:
                    check.status = "refuted"
                    env, _ = found.entries[0]
                    check.failure = Failure({**size, **labels, **env}, None, found.shapes, found.missing)
                    check.reason = (f"the sides have shapes {found.shapes[0]} and {found.shapes[1]}"
                                    if found.shapes else f"undefined here: {found.missing}")
                    check.verdict = Verdict((EntryVerdict(0, "refuted", reason=check.reason),))
                    return check
                statuses.append(verdict.status)
                entries.extend(verdict.entries)
                for kink in verdict.except_where:
                    kink = _named_kink(at, kink)
                    if kink not in except_where:
                        except_where.append(kink)
                outside = _interval_refutation(document, verdict)
                if outside:
                    statuses[-1] = "unproven"
                    reasons.append(outside)
                elif verdict.status == "refuted":
                    counterexample = verdict.failures[0]
                    env, _ = found.entries[counterexample.index]
                    check.status = "refuted"
                    check.failure = Failure({**size, **labels, **env}, counterexample)
                    check.verdict = verdict
                    return check
                if verdict.status == "unproven":
                    reasons.extend(e.reason for e in verdict.entries if e.status == "unproven")
        except InstanceError as error:
            raise _error_at(document, equation, error) from None
        except RecursionError:
            raise _error_at(document, equation, InstanceError(_TOO_DEEP)) from None
    if every_size and _cross_checked(statuses, except_where):
        check.every_size = True
        check.scope = every_size_scope(document, indices)
    check.status = worst(statuses) if statuses else "unproven"
    check.except_where = tuple(except_where)
    check.verdict = Verdict(tuple(entries))
    if check.status == "unproven":
        check.reason = reasons[0] if reasons else "nothing was checked"
    return check


def _cross_checked(statuses: list[str], except_where: list) -> bool:
    """Whether the instances checked so far agree with a proof for every size: all proven, no kink."""
    return bool(statuses) and all(status == "proven" for status in statuses) and not except_where


def _interval_refutation(document: Document, verdict: Verdict) -> str:
    """Why a refutation is no refutation: its point gives a symbol declared in an interval
    (``\\epsilon \\in [0, 1)``) a value outside it, or one derive cannot place; else ``""``."""
    if verdict.status != "refuted" or not document.intervals:
        return ""
    point = verdict.failures[0].point
    for symbol, value in point.items():
        interval = document.intervals.get(str(symbol).split("_{", 1)[0])  # c_{2}: a member of c
        if interval is None:
            continue
        inside = interval.contains(Fraction(int(value.p), int(value.q))) if value.is_Rational else None
        if not inside:
            return (f"a counterexample has {symbol} = {value}, but {symbol} is declared in {interval}: "
                    "not refuted, not proven")
    return ""


def _check_definitions(document: Document, sizes: list[dict[str, int]], instances: Instances) -> None:
    """Every definition can be evaluated at every instance (ranges, shapes, names)."""
    for definition in document.definitions:
        for size in sizes:
            try:
                for labels in instances.labelings(size)[:4]:
                    at = instances.at(size, labels)
                    ranges = [at.index_range(letter, definition.value, {}, definition.base)
                              for letter in definition.indices]
                    _members_bounded(definition, ranges)
                    for combo in itertools.product(*[range(a, b + 1) for a, b in ranges]):
                        at.start_formula()
                        at.defined(definition, combo)
            except InstanceError as error:
                raise _error_at(document, definition.equation, error) from None
            except RecursionError:
                raise _error_at(document, definition.equation, InstanceError(_TOO_DEEP)) from None


def _members_bounded(definition, ranges: list[tuple[int, int]]) -> None:
    """A defined family has at most :data:`MAX_MEMBERS` members at one instance."""
    count = 1
    for a, b in ranges:
        count *= max(0, b - a + 1)
    if count > MAX_MEMBERS:
        raise InstanceError(f"{definition.base} has {count} members here, more than {MAX_MEMBERS}: "
                            "make the sizes smaller with the front matter's `check:` line")


def check(document: Document, *, time_limit: float = TIME_LIMIT,
          progress: Callable[[int, int], None] | None = None,
          sizes: dict[str, int] | None = None) -> DocumentCheck:
    """Check every step of a read document; ``sizes`` fixes some sizes in every instance."""
    from derive.document.mistakes import name_mistake

    sizes = _override(document, size_values(document), sizes or {})
    instances = Instances(document)
    _check_definitions(document, sizes, instances)
    symbolic = Symbolic(document) if document.sizes else None
    steps = []
    for number, step in enumerate(document.steps):
        if progress:
            progress(number, len(document.steps))
        result = check_step(document, step, sizes, time_limit, instances, symbolic)
        if result.status == "refuted" and result.failure is not None:
            result.mistake = name_mistake(document, step, result.failure, sizes, instances)
        result.after_first_wrong = any(s.status == "refuted" for s in steps)
        steps.append(result)
    if progress:
        progress(len(document.steps), len(document.steps))
    boxed = [s for s in steps if s.boxed]
    result = boxed[-1] if boxed else (steps[-1] if steps else None)
    definitions = [equation_latex(d.equation) for d in document.definitions]
    checked = {id(step): result for step, result in zip(document.steps, steps)}
    outline = [(kind, content if kind == "prose" else
                [checked[id(item)] if id(item) in checked else equation_latex(item.equation)
                 for item in content])
               for kind, content in document.outline]
    return DocumentCheck(document.source.path, document.title, steps, definitions, sizes, result, outline,
                         reading=document.reading)


def _override(document: Document, instances: list[dict[str, int]], fixed: dict[str, int]):
    """The instances with ``fixed`` sizes replaced, duplicates dropped."""
    for name, value in fixed.items():
        if name not in document.sizes:
            raise DocumentError(f"the document has no size {name}", document.source.path)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
            raise DocumentError(f"size {name} must be a whole number from 1 to 16, got {value!r}",
                                document.source.path)
    out = []
    for instance in instances:
        changed = {**instance, **fixed}
        if changed not in out:
            out.append(changed)
    return out


def check_document(text_or_path: str | Path | Source, *, path: str | None = None, time_limit: float = TIME_LIMIT,
                   progress: Callable[[int, int], None] | None = None,
                   sizes: dict[str, int] | None = None) -> DocumentCheck:
    """Check a derivation document given as its text, as a path to a ``.md`` file (read by
    :func:`~derive.document.source.read_source`: bounded, regular files only) or as a Source.

    ``path`` names the document in reports and errors (default: the file's path, or
    ``<document>`` for a text); ``sizes`` fixes some sizes in every instance.

    Raises :class:`~derive.document.source.DocumentError` (a ``ValueError``) with
    ``file:line:column`` when the document cannot be read.

    >>> result = check_document('''Let $a \\\\in \\\\mathbb{R}$.
    ...
    ... $$ f = a^2 $$
    ... $$ \\\\frac{\\\\partial f}{\\\\partial a} = 2 a $$
    ... ''')
    >>> result.status
    'proven'
    """
    if isinstance(text_or_path, Source):  # already read (``derive check`` reads its files so)
        source = text_or_path
    elif isinstance(text_or_path, Path) or ("\n" not in str(text_or_path) and str(text_or_path).endswith(".md")):
        source = read_source(text_or_path)  # bounded, regular files only: see read_source
        source = Source(source.text, path or source.path)
    else:
        source = Source(str(text_or_path), path or "<document>")
    return check(read_document(source), time_limit=time_limit, progress=progress, sizes=sizes)

