"""Checking a derivation document: every step at every instance, and the first wrong one.

An *instance* gives each size a value (by default the sizes that count classes take 2, 3, 4 and
the others 1, 2, 3, the i-th instance taking each size's i-th value), each label every value,
and each free index (``m`` in ``\\partial L / \\partial w_m``) every value.  Each step's two sides
are evaluated there (:mod:`derive.document.instantiate`), every definition substituted, and
handed to :func:`derive.core.verify_identity` with the document's constraints as ``given``.
A step is proven when every instance is; it is refuted at the first instance where the verifier
finds a counterexample, and then :mod:`derive.document.mistakes` looks for the one small edit
that would make it hold.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sympy

from derive.core import Counterexample, Verdict, verify_identity
from derive.core.verdict import EntryVerdict, Status, worst
from derive.document.ast import Add as AddNode, Equation, Name, equation_latex, walk
from derive.document.declare import Document, Range, Step, read_document
from derive.document.instantiate import Instance, InstanceError, OutOfRange, ShapeMismatch, free_indices
from derive.document.source import DocumentError, Source

#: Default values of the sizes: sizes that bound a label's classes, and all others.
CLASS_SIZES, OTHER_SIZES = (2, 3, 4), (1, 2, 3)
#: Most label assignments and most free-index values per instance (beyond: an error, never a sample).
MAX_LABELINGS, MAX_INDEX_VALUES = 64, 256
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


@dataclass
class DocumentCheck:
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


def labelings(document: Document, at: Instance) -> list[dict[str, object]]:
    """Every value of each label; for a family of labels, every assignment or K cyclic ones."""
    per_label = []
    for name, label in document.labels.items():
        values = (list(range(*_inclusive(at.bounds(label.values, {}))))
                  if isinstance(label.values, Range) else list(label.values))
        if not label.members:
            per_label.append([(name, v) for v in values])
            continue
        lower, upper = at.bounds(label.members[0], {})
        count = upper - lower + 1
        if len(values) ** count <= 16:
            assignments = list(itertools.product(values, repeat=count))
        else:
            assignments = [tuple(values[(i + s) % len(values)] for i in range(count)) for s in range(len(values))]
        per_label.append([(name, a) for a in assignments])
    combos = [dict(c) for c in itertools.product(*per_label)]
    if len(combos) > MAX_LABELINGS:
        raise InstanceError(f"{len(combos)} label assignments at {at.sizes}, more than {MAX_LABELINGS}: "
                            "make the sizes smaller with the front matter's `check:` line")
    return combos


def _inclusive(bounds: tuple[int, int]) -> tuple[int, int]:
    return bounds[0], bounds[1] + 1


class Instances:
    """Each instance made once per check, so that its symbols, definitions and their expansions
    serve every step (an instance holds nothing a step changes)."""

    def __init__(self, document: Document):
        self.document = document
        self._labelings: dict[tuple, list[dict[str, object]]] = {}
        self._made: dict[tuple, Instance] = {}

    def labelings(self, size: dict[str, int]) -> list[dict[str, object]]:
        key = tuple(sorted(size.items()))
        if key not in self._labelings:
            self._labelings[key] = labelings(self.document, Instance(self.document, size, {}))
        return self._labelings[key]

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
            left, right = at.value(equation.left, env), at.value(equation.right, env)
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
    verdict = verify_identity(truths, claims, given=_given(document, at), seed=seed, time_limit=time_limit)
    return verdict, found


def _error_at(document: Document, equation: Equation, error: Exception) -> DocumentError:
    return DocumentError(str(error), document.source.path, equation.line, equation.column, equation.source)


def _scope(document: Document, indices: list[str], sizes: list[dict[str, int]]) -> str:
    parts = []
    for name in sorted(sizes[0]) if sizes else []:
        values = sorted({s[name] for s in sizes})
        parts.append(f"{name} = {values[0]}..{values[-1]}" if len(values) > 1 else f"{name} = {values[0]}")
    parts += [f"every {name}" for name in document.labels]
    parts += [f"every {letter}" for letter in indices]
    return ", ".join(parts)


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
               time_limit: float = TIME_LIMIT, instances: Instances | None = None) -> StepCheck:
    instances = instances or Instances(document)
    equation = step.equation
    check = StepCheck(equation.line, equation.column, equation_latex(equation), equation.source,
                      step.prose, "proven", boxed=equation.boxed)
    if equation.op != "=":
        check.status, check.reason = "unproven", "only equalities are checked"
        check.verdict = Verdict((EntryVerdict(0, "unproven", reason=check.reason),))
        return check
    indices = free_indices(document, AddNode((equation.left, equation.right)), set())
    check.scope = _scope(document, indices, sizes)
    statuses, reasons, except_where, entries = [], [], [], []
    for number, size in enumerate(sizes):
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
                if verdict.status == "refuted":
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
    check.status = worst(statuses) if statuses else "unproven"
    check.except_where = tuple(except_where)
    check.verdict = Verdict(tuple(entries))
    if check.status == "unproven":
        check.reason = reasons[0] if reasons else "nothing was checked"
    return check


def _check_definitions(document: Document, sizes: list[dict[str, int]], instances: Instances) -> None:
    """Every definition can be evaluated at every instance (ranges, shapes, names)."""
    for definition in document.definitions:
        for size in sizes:
            try:
                for labels in instances.labelings(size)[:4]:
                    at = instances.at(size, labels)
                    ranges = [at.index_range(letter, definition.value, {}, definition.base)
                              for letter in definition.indices]
                    for combo in itertools.product(*[range(a, b + 1) for a, b in ranges]):
                        at.value(definition.value, dict(zip(definition.indices, combo)))
            except InstanceError as error:
                raise _error_at(document, definition.equation, error) from None


def check(document: Document, *, time_limit: float = TIME_LIMIT,
          progress: Callable[[int, int], None] | None = None,
          sizes: dict[str, int] | None = None) -> DocumentCheck:
    """Check every step of a read document; ``sizes`` fixes some sizes in every instance."""
    from derive.document.mistakes import name_mistake

    sizes = _override(document, size_values(document), sizes or {})
    instances = Instances(document)
    _check_definitions(document, sizes, instances)
    steps = []
    for number, step in enumerate(document.steps):
        if progress:
            progress(number, len(document.steps))
        result = check_step(document, step, sizes, time_limit, instances)
        if result.status == "refuted" and result.failure is not None:
            result.mistake = name_mistake(document, step, result.failure)
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
    return DocumentCheck(document.source.path, document.title, steps, definitions, sizes, result, outline)


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


def check_document(text_or_path: str | Path, *, path: str | None = None, time_limit: float = TIME_LIMIT,
                   progress: Callable[[int, int], None] | None = None,
                   sizes: dict[str, int] | None = None) -> DocumentCheck:
    """Check a derivation document given as its text or as a path to a ``.md`` file.

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
    if isinstance(text_or_path, Path) or ("\n" not in str(text_or_path) and str(text_or_path).endswith(".md")):
        file = Path(text_or_path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise DocumentError(f"cannot read the document: {error}", path or str(file)) from None
        source = Source(text, path or str(file))
    else:
        source = Source(str(text_or_path), path or "<document>")
    return check(read_document(source), time_limit=time_limit, progress=progress, sizes=sizes)

