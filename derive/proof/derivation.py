"""The loss-agnostic derivation: a loss, SymPy's gradient, a claimed closed form, the verdicts.

A loss is one subclass of :class:`Derivation` that says what it is (:attr:`~Derivation.name`,
:attr:`~Derivation.wrt`, :attr:`~Derivation.loss`), what it claims (:meth:`~Derivation.claim`
in display notation and the :attr:`~Derivation.definitions` of its symbols) and which steps and
facts it states (:attr:`~Derivation.STEPS`, :attr:`~Derivation.FACTS`).  Everything else is
here: SymPy's gradient, the closed form, and the verifier's verdict on every row, step and fact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import sympy
from sympy import Expr, Matrix

from derive.core import DEFAULT_TIME_LIMIT, Verdict, verify_identity
from derive.proof.step import DerivationVerdict, Row, Step, StepResult


class LazyValues(Mapping):
    """Values for ``xreplace``: some given, some built on first use and then kept.

    Examples
    --------
    >>> from sympy import symbols
    >>> a, b = symbols("a b")
    >>> values = LazyValues({a: 1}, {b: lambda: 2})
    >>> (a + b).xreplace(values)
    3
    """

    def __init__(self, given: dict, lazy: dict[sympy.Basic, Callable[[], sympy.Basic]]):
        self._values = dict(given)
        self._lazy = lazy

    def __getitem__(self, key):
        if key not in self._values:
            self._values[key] = self._lazy[key]()
        return self._values[key]

    def __contains__(self, key) -> bool:
        return key in self._values or key in self._lazy

    def __iter__(self):
        return iter({**self._lazy, **self._values})

    def __len__(self) -> int:
        return len({**self._lazy, **self._values})


class Derivation:
    """A loss with a claimed gradient, checked row by row, step by step, fact by fact.

    What a loss defines
    -------------------
    ``name``
        Printed in headers, e.g. ``"softmax cross-entropy"``.
    ``wrt``
        A Matrix of Symbols; row ``m`` holds the variables of gradient row ``m``.
    ``loss``
        The scalar loss in those variables.
    ``claim(m)``
        Row ``m`` of the claimed gradient in display notation (``(p_m - 1[m = y]) x^T``),
        the one expression that is both verified and printed.
    ``definitions``
        Each display symbol mapped to its value in the ``wrt`` variables (``p_m``, ``x``).
    ``STEPS``, ``FACTS``
        Tables of :class:`~derive.proof.Step`; each step builds pairs the verifier decides.

    ``gradient(m)`` is SymPy's own derivative (by default ``diff`` of the loss for each
    variable of the row; a subclass may compute it by a sound route that a fact then audits),
    and ``closed_form(m)`` is the claim with every definition substituted.  Proven always
    means: the verifier (:mod:`derive.core`) showed the two sides equal.
    """

    name = "derivation"
    STEPS: tuple[Step, ...] = ()
    FACTS: tuple[Step, ...] = ()
    #: Called with a short line ("row 12 of 1000", "step 3 of 8: quotient rule") as work
    #: proceeds; the command line shows it on a terminal.  None: silent.
    progress: Callable[[str], None] | None = None

    def __init__(self, time_limit: float = DEFAULT_TIME_LIMIT):
        self.time_limit = time_limit

    # --- what a loss defines ------------------------------------------------

    @property
    def wrt(self) -> Matrix:
        raise NotImplementedError

    @property
    def loss(self) -> Expr:
        raise NotImplementedError

    def claim(self, m: int) -> sympy.Basic:
        raise NotImplementedError

    @property
    def definitions(self) -> dict:
        raise NotImplementedError

    # --- generic ------------------------------------------------------------

    def gradient(self, m: int) -> Matrix:
        """SymPy's own derivative of the loss for the variables of row m, a 1 x n Matrix."""
        self._check_row(m)
        return Matrix([[sympy.diff(self.loss, w) for w in self.wrt.row(m)]])

    def closed_form(self, m: int) -> Matrix:
        """The claimed row m with every definition substituted, a 1 x n Matrix."""
        self._check_row(m)
        return self.substitute(self.claim(m))

    def closed_form_matrix(self) -> Matrix:
        """All closed-form rows stacked."""
        return Matrix.vstack(*[self.closed_form(m) for m in range(self.wrt.rows)])

    def substitute(self, expr: sympy.Basic) -> Matrix:
        """A display expression with the definitions substituted, as an explicit 1 x n row."""
        values = self.definitions
        if isinstance(expr, sympy.MatMul):  # scalar times matrices: substitute each factor
            scalar, matrices = expr.as_coeff_matrices()
            product = sympy.MatMul(*matrices)
            if product not in self._explicit:
                self._explicit[product] = Matrix(product.xreplace(values).as_explicit())
            value = self._explicit[product].applyfunc(scalar.xreplace(values).__mul__)
        else:
            value = expr.xreplace(values)
            if isinstance(value, sympy.MatrixExpr):
                value = value.as_explicit()
        return Matrix(value).reshape(1, self.wrt.cols)

    @cached_property
    def _explicit(self) -> dict:
        return {}

    @cached_property
    def rows(self) -> tuple[Row, ...]:
        """Every row: the expression printed and the verdict on SymPy's gradient against it.

        All rows go to the verifier in one call (its work on shared subexpressions is shared).
        A closed form that is not the claim with its definitions substituted (one replaced by
        a subclass, say) is verified as it is and printed as it is.
        """
        count = self.wrt.rows
        replaced = "closed_form" in vars(self) or type(self).closed_form is not Derivation.closed_form
        shown, closed, truths = [], [], []
        for m in range(count):  # row by row: SymPy's cache then serves what the row shares
            self._report(f"row {m + 1} of {count}: SymPy's gradient and the claim")
            claim, closed_form = self.claim(m), self.closed_form(m)
            from_claim = not replaced or closed_form == self.substitute(claim)
            shown.append(claim if from_claim else closed_form)
            closed.append(list(closed_form))
            truths.append(list(self.gradient(m)))
        self._report(f"verifying {count} rows")
        verdict = verify_identity(truths, closed, wrt=list(self.wrt), time_limit=self.time_limit)
        width = self.wrt.cols
        return tuple(
            Row(m, shown[m], Verdict(verdict.entries[m * width:(m + 1) * width]))
            for m in range(count)
        )

    @property
    def row_verdicts(self) -> tuple[Verdict, ...]:
        """The verifier's verdict on each row: SymPy's gradient against the closed form."""
        return tuple(row.verdict for row in self.rows)

    @cached_property
    def steps(self) -> tuple[StepResult, ...]:
        """The route, each step with its verdict."""
        return tuple(self._checked("step", number, step, self.STEPS) for number, step in enumerate(self.STEPS, 1))

    @cached_property
    def facts(self) -> tuple[StepResult, ...]:
        """The extra facts, each with its verdict."""
        return tuple(self._checked("fact", number, step, self.FACTS) for number, step in enumerate(self.FACTS, 1))

    def verify(self) -> DerivationVerdict:
        """Verify every row, every step and every fact."""
        return DerivationVerdict(self.row_verdicts, self.steps, self.facts)

    def check(self, step: Step) -> StepResult:
        """Build one step's pairs and have the verifier decide them."""
        truths, claims = step.build(self)
        verdict = verify_identity(truths, claims, time_limit=self.time_limit)
        return StepResult(step.for_derivation(self), verdict)

    def _checked(self, kind: str, number: int, step: Step, table) -> StepResult:
        self._report(f"{kind} {number} of {len(table)}: {step.name}")
        return self.check(step)

    def _report(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)

    def _check_row(self, m) -> None:
        count = self.wrt.rows
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m < count:
            raise IndexError(f"row must be an integer in 0..{count - 1}, got {m!r}")
