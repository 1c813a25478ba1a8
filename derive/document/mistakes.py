"""Named mistakes: the one small edit that turns a refuted step into a proven one.

Each edit of the catalog below is applied to the claimed (right-hand) side of a refuted step;
the first edited step that the verifier *proves* at every instance the step was checked at
(every size and labeling; tried first at the failing and the smallest instance) is named: "this step would hold with `p_{m} - \\mathbb{1}[m = y]` instead of
`p_{m}` (the indicator is missing)".  The catalog, in the order tried:

* the sign of the whole side, or of one term, flipped;
* an indicator ``1[i = y]`` missing next to a quantity indexed by ``i`` (``1[m = y_i]`` next to
  ``p_{i,m}`` for a label per sample), or one too many;
* an indicator of a real condition that the document uses elsewhere (a kink, ``1[a_j > 0]``)
  missing as a factor of a case or of the whole side, or one too many as a factor;
* a factor of 2 or 1/2; a missing ``1/N`` (or an extra one) for each size ``N``: of the whole
  side, then of one of its terms (``\\lambda w`` for ``2 \\lambda w``);
* a transpose too many, the whole side transposed, or a vector's or matrix's transpose missing;
* two indices swapped (``m`` and ``y``); the label off by one (``y + 1``, ``y - 1``);
* the derivative of one term of the differentiated quantity's definition missing (a
  regularisation term, say), or one term too many.
"""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction
from typing import Iterator

from derive.document.ast import (
    Add, Cases, Derivative, Div, Equation, Indicator, Mul, Name, Neg, Node, Num, Rel, Transpose, rebuild, to_latex, walk,
)
from derive.document.declare import Document, Step
from derive.document.instantiate import InstanceError, free_indices

#: Seconds the verifier may spend on one entry of one candidate edit.
CANDIDATE_TIME_LIMIT = 2.0
#: Most candidate edits tried per refuted step.
MAX_CANDIDATES = 60
#: Most candidates that hold at the failing and the smallest instance tried at every instance.
MAX_CONFIRMED = 4


def _replace(node: Node, old: Node, new: Node) -> Node:
    """``node`` with every occurrence of ``old`` (by identity first, else by value) replaced."""
    if node is old or node == old:
        return new
    return rebuild(node, lambda child: _replace(child, old, new))


def _without(add: Add, term: Node) -> Node:
    rest = tuple(t for t in add.terms if t is not term)
    if not rest:
        return Num(Fraction(0))
    return rest[0] if len(rest) == 1 else Add(rest)


def candidates(document: Document, equation: Equation) -> Iterator[tuple[Node, Node, Node, str]]:
    """(new right side, old part, new part, what the mistake is), most likely first."""
    right = equation.right
    both = Add((equation.left, equation.right))
    indices = free_indices(document, both, set())
    labels = [name for name, label in document.labels.items() if not label.members]
    flipped = right.operand if isinstance(right, Neg) else Neg(right)
    yield flipped, right, flipped, "the sign is flipped"
    for node in walk(right):
        if isinstance(node, Add):
            for term in node.terms:
                flipped = term.operand if isinstance(term, Neg) else Neg(term)
                new = _replace(right, term, flipped)
                yield new, node, _replace(node, term, flipped), "a term's sign is flipped"
    for node in walk(right):
        if isinstance(node, Cases):
            for k, (value, condition) in enumerate(node.rows):
                rows = node.rows[:k] + ((Neg(value), condition),) + node.rows[k + 1:]
                where = "otherwise" if condition is None else to_latex(condition)
                yield (_replace(right, node, Cases(rows)), value, Neg(value),
                       f"the sign of the case {where} is flipped")
    for node in walk(right):
        if isinstance(node, Indicator):
            for add in walk(right):
                if isinstance(add, Add) and any(t is node or (isinstance(t, Neg) and t.operand is node)
                                                for t in add.terms):
                    term = next(t for t in add.terms if t is node or (isinstance(t, Neg) and t.operand is node))
                    smaller = _without(add, term)
                    yield _replace(right, add, smaller), add, smaller, "the indicator should not be there"
    families = [name for name, label in document.labels.items() if len(label.members) == 1]
    for node in walk(right):
        if isinstance(node, Name) and node.indices and not document.labels.get(node.base):
            letters = [i.base for i in node.indices if isinstance(i, Name) and not i.indices]
            for letter in indices:
                if letter in letters:
                    # The label itself, or a sample's label y_i when the quantity is indexed by i too.
                    others = [Name(label) for label in labels] + [
                        Name(label, (Name(other),)) for label in families for other in letters if other != letter]
                    for other in others:
                        indicator = Indicator(Rel("=", Name(letter), other))
                        for new_part in (Add((node, Neg(indicator))), Add((node, indicator))):
                            yield _replace(right, node, new_part), node, new_part, "the indicator is missing"
    yield from _kink_edits(document, right, indices + labels)
    for scaled, old, new, what in _scalings(document, right):
        yield scaled, old, new, what
    if isinstance(right, Add):
        for term in right.terms:
            for _, old, new, what in _scalings(document, term):
                yield _replace(right, term, new), old, new, what + " in one term"
    for node in walk(right):
        if isinstance(node, Transpose):
            yield _replace(right, node, node.operand), node, node.operand, "a transpose too many"
    yield Transpose(right), right, Transpose(right), "it is transposed"
    for node in walk(right):
        if isinstance(node, Name) and _is_array(document, node):
            yield _replace(right, node, Transpose(node)), node, Transpose(node), "a transpose is missing"
    letters = [letter for letter in indices + labels]
    for a, b in itertools.combinations(letters, 2):
        swapped = _swap(right, a, b)
        yield swapped, right, swapped, f"the indices {a} and {b} are swapped"
    for label in labels:
        for shift in (1, -1):
            new = _replace_index(right, label, shift)
            if new != right:
                yield new, right, new, "the label is off by one"
    yield from _term_edits(document, equation)


def _times(factor: Node, part: Node) -> Node:
    """``factor part``, a number merged into a leading number or fraction: ``2 \\frac{1}{N}`` is
    ``\\frac{2}{N}``."""
    factors = part.factors if isinstance(part, Mul) else (part,)
    first, rest = factors[0], factors[1:]
    merged = None
    if isinstance(factor, Num) and isinstance(first, Num):
        merged = Num(factor.value * first.value)
    elif isinstance(factor, Num) and isinstance(first, Div) and isinstance(first.numerator, Num):
        merged = Div(Num(factor.value * first.numerator.value), first.denominator)
    elif isinstance(factor, Div) and isinstance(factor.numerator, Num) and isinstance(first, Num):
        merged = Div(Num(factor.numerator.value * first.value), factor.denominator)
    if merged is None:
        return Mul((factor,) + factors)
    return Mul((merged,) + rest) if rest else merged


def _averaging_sizes(document: Document) -> list[str]:
    """The sizes, those that divide in a definition (``\\frac{1}{N} \\sum_i``) first: the default
    sizes move together (``D = N``), so a missing ``1/N`` also "holds" as a missing ``1/D``."""
    dividing = {node.denominator.base for d in document.definitions for node in walk(d.value)
                if isinstance(node, Div) and isinstance(node.denominator, Name)}
    return sorted(document.sizes, key=lambda size: size not in dividing)


def _scalings(document: Document, part: Node):
    """``part`` times 2, 1/2, 1/N and N for each size N."""
    yield _times(Num(Fraction(2)), part), part, _times(Num(Fraction(2)), part), "a factor of 2 is missing"
    yield Div(part, Num(Fraction(2))), part, Div(part, Num(Fraction(2))), "a factor of 1/2 is missing"
    for size in _averaging_sizes(document):
        shrunk = _times(Div(Num(Fraction(1)), Name(size)), part)
        yield shrunk, part, shrunk, f"the factor 1/{size} is missing"
        grown = _times(Name(size), part)
        yield grown, part, grown, f"a factor 1/{size} too many"


def _kinks(document: Document, letters: list[str]) -> list[Indicator]:
    """Indicators of real conditions (``1[a_j > 0]``) written in the document's definitions and
    steps whose index letters all stand free in the step being edited."""
    found = []
    nodes = [d.value for d in document.definitions] + [
        part for step in document.steps for part in (step.equation.left, step.equation.right)]
    for node in nodes:
        for indicator in walk(node):
            if (isinstance(indicator, Indicator) and indicator.condition.op in ("<", ">", "<=", ">=")
                    and indicator not in found
                    and set(free_indices(document, indicator, set())) <= set(letters)):
                found.append(indicator)
    return found


def _kink_edits(document: Document, right: Node, letters: list[str]):
    """A kink's indicator missing as a factor of one case or of the whole side, or one too many."""
    kinks = _kinks(document, letters)
    for node in walk(right):
        if isinstance(node, Cases):
            for k, (value, condition) in enumerate(node.rows):
                for kink in kinks:
                    rows = node.rows[:k] + ((_times(kink, value), condition),) + node.rows[k + 1:]
                    yield _replace(right, node, Cases(rows)), value, _times(kink, value), "the indicator is missing"
    for kink in kinks:
        yield _times(kink, right), right, _times(kink, right), "the indicator is missing"
    for node in walk(right):
        if isinstance(node, Mul) and any(isinstance(f, Indicator) for f in node.factors):
            for factor in node.factors:
                if isinstance(factor, Indicator):
                    rest = tuple(f for f in node.factors if f is not factor)
                    smaller = rest[0] if len(rest) == 1 else Mul(rest)
                    yield _replace(right, node, smaller), node, smaller, "the indicator should not be there"


def _is_array(document: Document, name: Name) -> bool:
    """A declared vector or matrix named without an entry index (``W``, ``x``, ``w_j``)."""
    variable = document.variables.get(name.base)
    return variable is not None and bool(variable.dims) and len(name.indices) == len(variable.members)


def _swap(node: Node, a: str, b: str) -> Node:
    marker = Name("\0")
    return _replace(_replace(_replace(node, Name(a), marker), Name(b), Name(a)), marker, Name(b))


def _offset(index: Node, label: str) -> int | None:
    """``c`` when ``index`` is ``label + c`` (``y``, ``y + 1``, ``y - 1``), else None."""
    if index == Name(label):
        return 0
    if isinstance(index, Add) and len(index.terms) == 2 and index.terms[0] == Name(label):
        last = index.terms[1]
        negative = isinstance(last, Neg)
        number = last.operand if negative else last
        if isinstance(number, Num) and number.value.denominator == 1:
            return -int(number.value) if negative else int(number.value)
    return None


def _moved(label: str, offset: int) -> Node:
    if offset == 0:
        return Name(label)
    number = Num(Fraction(abs(offset)))
    return Add((Name(label), number if offset > 0 else Neg(number)))


def _replace_index(node: Node, label: str, shift: int) -> Node:
    """Every subscript ``label + c`` (``p_y``, ``p_{y+1}``) moved to ``label + c + shift``."""
    if isinstance(node, Name):
        indices = []
        for index in node.indices:
            offset = _offset(index, label)
            indices.append(_moved(label, offset + shift) if offset is not None
                           else _replace_index(index, label, shift))
        return Name(node.base, tuple(indices))
    return rebuild(node, lambda child: _replace_index(child, label, shift))


def _term_edits(document: Document, equation: Equation):
    """A missing (or extra) derivative of one term of the differentiated quantity's definition."""
    left, right = equation.left, equation.right
    if not (isinstance(left, Derivative) and isinstance(left.of, Name)):
        return
    definition = document.definition(left.of.base, len(left.of.indices))
    if definition is None:
        return
    value = definition.value
    for term in (value.terms if isinstance(value, Add) else ()):
        positive = term.operand if isinstance(term, Neg) else term
        sign = -1 if isinstance(term, Neg) else 1
        derivative = Derivative(positive, left.by)
        added = Add((right, derivative if sign > 0 else Neg(derivative)))
        yield added, right, added, f"the derivative of the term `{to_latex(term)}` is missing"
        removed = Add((right, Neg(derivative) if sign > 0 else derivative))
        yield removed, right, removed, f"the derivative of the term `{to_latex(term)}` should not be there"


def name_mistake(document: Document, step: Step, failure, sizes: list[dict[str, int]] | None = None,
                 instances=None) -> str | None:
    """The first catalogued edit under which the step is proven at every instance it was
    checked at (``sizes``, each with every labeling the check used), said in words; or None.

    Each candidate is tried first at the failing instance and at the smallest one; at most
    :data:`MAX_CONFIRMED` candidates that pass there are then tried at every instance.  A factor
    of 2 or 1/2 is said to be maybe ``1/N`` (or ``N``) when a size ``N`` is 2 at every instance."""
    from derive.document.check import Instances, size_values

    sizes = sizes or size_values(document)
    instances = instances or Instances(document)
    equation = step.equation
    failing = ({k: v for k, v in failure.instance.items() if k in document.sizes},
               {k: v for k, v in failure.instance.items() if k in document.labels})
    everywhere = [(size, labels) for size in sizes for labels in instances.labelings(size)]
    quick = [failing] + everywhere[:1] + everywhere[-1:]
    seen, confirmed = set(), 0
    for count, (new_right, old, new, what) in enumerate(candidates(document, equation)):
        if count >= MAX_CANDIDATES or confirmed >= MAX_CONFIRMED:
            break
        if new_right == equation.right or new_right in seen:
            continue
        seen.add(new_right)
        edited = dataclasses.replace(equation, right=new_right)
        if not _holds(document, edited, quick, instances):
            continue
        confirmed += 1
        if _holds(document, edited, everywhere, instances):
            return f"this step would hold with `{to_latex(new)}` instead of `{to_latex(old)}` ({what}{_also(what, sizes)})"
    return None


def _holds(document: Document, edited: Equation, where: list[tuple[dict, dict]], instances) -> bool:
    """Whether the verifier proves ``edited`` at each (sizes, labels) of ``where``."""
    from derive.document.check import decide

    indices = free_indices(document, Add((edited.left, edited.right)), set())
    try:
        for size, labels in where:
            verdict, _ = decide(document, instances.at(size, labels), edited, indices,
                                time_limit=CANDIDATE_TIME_LIMIT)
            if verdict is None or verdict.status != "proven":
                return False
    except (InstanceError, ValueError, TypeError):
        return False
    return True


def _also(what: str, sizes: list[dict[str, int]]) -> str:
    """For a factor of 2 or 1/2: the sizes that are 2 at every instance checked, which the
    factor may stand for (``, or 1/N: N = 2 at every instance checked``).

    >>> _also("a factor of 1/2 is missing", [{"N": 2, "K": 2}, {"N": 2, "K": 3}])
    ', or the factor 1/N: N = 2 at every instance checked'
    >>> _also("a factor of 2 is missing", [{"N": 1}, {"N": 2}])
    ''
    """
    if not what.startswith(("a factor of 2 ", "a factor of 1/2 ")):
        return ""
    twos = [name for name in sorted(sizes[0]) if all(size.get(name) == 2 for size in sizes)] if sizes else []
    if not twos:
        return ""
    factor = "1/" if "1/2" in what else ""
    return ", or the factor " + " or ".join(f"{factor}{name}" for name in twos) + ": " + ", ".join(
        f"{name} = 2" for name in twos) + " at every instance checked"
