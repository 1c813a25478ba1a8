"""The catalog's derivation documents: each is proven, and a realistic mistake planted in each is
refuted at the right line, with a counterexample and the mistake named.

A planted mistake is a text substitution on the real document, so these tests follow the
documents as they change: the expected line is computed from the substituted text, never
written by hand.  Every verdict path of the checker shows up here too: proven, refuted (with and
without a named mistake), unproven, a shape mismatch, and a kink (proven except where).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from derive.document.check import check_document

CATALOG = Path(__file__).resolve().parent.parent / "derive" / "catalog"
DOCUMENTS = sorted(path.stem for path in CATALOG.glob("*.md"))


def text_of(name: str) -> str:
    return (CATALOG / f"{name}.md").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def checked(name: str):
    return check_document(CATALOG / f"{name}.md")


def line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


# --- every document is proven ---------------------------------------------------------------

@pytest.mark.parametrize("name", DOCUMENTS)
def test_catalog_document_is_proven(name):
    result = checked(name)
    assert result.status == "proven", str(result)
    assert result.steps and all(step.status == "proven" for step in result.steps)
    assert result.result is not None and result.result.boxed, "the closed form is \\boxed"
    assert result.title


def test_the_catalog_has_the_common_losses():
    assert {"softmax-cross-entropy", "softmax-cross-entropy-batch", "logistic-regression",
            "mean-squared-error", "multiclass-svm", "label-smoothing", "focal-loss",
            "two-layer-network"} <= set(DOCUMENTS)


def test_a_kink_is_proven_except_where_the_hinge_bends():
    steps = checked("multiclass-svm").steps
    assert all(step.status == "proven" for step in steps)
    kinks = {kink for step in steps for kink in step.except_where}
    # In the document's own symbols: the margin s_j is zero, not the scores written out.
    assert kinks and {str(kink.lhs) for kink in kinks} <= {f"s_{{{j}}}" for j in range(1, 5)}
    assert all(kink.rhs == 0 for kink in kinks)


# --- planted mistakes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Plant:
    """``old`` replaced by ``new`` in document ``name`` (``also``: further substitutions, such as a
    smaller ``check:`` line); ``kind`` must be in the named mistake (None: no mistake is named);
    the first wrong step is on the line of ``new``, or of the last ``at`` before it (for a step
    whose relation is on an earlier line than the planted text)."""

    name: str
    old: str
    new: str
    kind: str | None
    at: str | None = None
    also: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.name}:{self.kind or 'unnamed'}"

    def planted(self) -> tuple[str, int]:
        """The document with the mistake, and the line of its first wrong step."""
        text = text_of(self.name)
        for old, new in ((self.old, self.new),) + self.also:
            assert text.count(old) == 1, f"{old!r} must occur once in {self.name}.md"
            text = text.replace(old, new)
        position = text.index(self.new) if self.new else 0
        if self.at is not None:
            position = text.rindex(self.at, 0, position + 1)
        return text, line_at(text, position)


PLANTS = [
    # The seed: the indicator dropped, the label off by one, m and y swapped.
    Plant("softmax-cross-entropy",
          r"\frac{\partial L}{\partial w_m} = \left(p_m - \mathbb{1}[m = y]\right) x}",
          r"\frac{\partial L}{\partial w_m} = p_m x}", "indicator"),
    Plant("softmax-cross-entropy", r"\frac{\partial L}{\partial p_y} = -\frac{1}{p_y}",
          r"\frac{\partial L}{\partial p_y} = -\frac{1}{p_{y+1}}", "off by one"),
    Plant("softmax-cross-entropy", r"&= p_m - \mathbb{1}[m = y]", r"&= p_y - \mathbb{1}[m = y]", "swapped"),
    # A batch: the 1/N forgotten, lambda w for 2 lambda w, the penalty's gradient forgotten,
    # the indicator dropped for a label per sample, a transposed matrix.
    Plant("softmax-cross-entropy-batch",
          r"\boxed{\frac{\partial L}{\partial w_m} = \frac{1}{N} \sum_{i=1}^{N}",
          r"\boxed{\frac{\partial L}{\partial w_m} = \sum_{i=1}^{N}", "1/N"),
    Plant("softmax-cross-entropy-batch", r"x_i + 2 \lambda w_m}", r"x_i + \lambda w_m}", "factor of 2"),
    Plant("softmax-cross-entropy-batch", r"x_i + 2 \lambda w_m}", r"x_i}", "term",
          at=r"\boxed{\frac{\partial L}{\partial w_m}"),
    Plant("softmax-cross-entropy-batch", r"f_{i,m}} = p_{i,m} - \mathbb{1}[m = y_i] $$",
          r"f_{i,m}} = p_{i,m} $$", "indicator"),
    Plant("softmax-cross-entropy-batch", r"\right) = 2 \lambda W $$", r"\right) = 2 \lambda W^T $$",
          "transpose", also=(("D = 1..2", "D = 2..3"),)),  # K = D: the transpose has W's shape
    # Logistic regression: the error's sign flipped.
    Plant("logistic-regression", r"= \left(\sigma(w^T x + c) - y\right) x}",
          r"= \left(y - \sigma(w^T x + c)\right) x}", "sign"),
    # Mean squared error: the 1/N forgotten; 1/N for 2/N.
    Plant("mean-squared-error", r"\boxed{\frac{\partial L}{\partial w} = \frac{2}{N}",
          r"\boxed{\frac{\partial L}{\partial w} = 2", "1/N"),
    Plant("mean-squared-error", r"\boxed{\frac{\partial L}{\partial w} = \frac{2}{N}",
          r"\boxed{\frac{\partial L}{\partial w} = \frac{1}{N}", "factor of 2"),
    # The SVM: the margin indicator dropped from a wrong class's gradient.
    Plant("multiclass-svm", r"\mathbb{1}[f_m - f_y + 1 > 0] \, x & m \neq y", r"x & m \neq y",
          "indicator", at=r"\frac{\partial L}{\partial w_m} ="),
    # Label smoothing: target minus prediction.
    Plant("label-smoothing", r"\frac{\partial L}{\partial f_m} = p_m - q_m =",
          r"\frac{\partial L}{\partial f_m} = q_m - p_m =", "sign"),
    # Focal loss: the product rule's second term with the wrong sign.
    Plant("focal-loss", r"\log \tilde{p} - \frac{(1 - \tilde{p})^\gamma}{\tilde{p}} $$",
          r"\log \tilde{p} + \frac{(1 - \tilde{p})^\gamma}{\tilde{p}} $$", "sign"),
    # Two layers: the ReLU's indicator dropped.
    Plant("two-layer-network", r"\frac{\partial L}{\partial u_j} = \mathbb{1}[u_j^T x > 0] \left(",
          r"\frac{\partial L}{\partial u_j} = \left(", "indicator"),
    # Label smoothing: the uniform part eps/K forgotten; no single catalogued edit explains it.
    Plant("label-smoothing", r"(1 - \epsilon) - \frac{\epsilon}{K}}", r"(1 - \epsilon)}", None,
          at=r"\boxed{"),
]

#: The kinds of named mistake the catalog's plants must cover, each at least once.
KINDS = ["indicator", "sign", "1/N", "factor of 2", "transpose", "swapped", "off by one", "term"]


def test_the_plants_cover_every_document_and_every_kind_of_mistake():
    assert {plant.name for plant in PLANTS} == set(DOCUMENTS)
    assert set(KINDS) <= {plant.kind for plant in PLANTS}


@pytest.mark.parametrize("plant", PLANTS, ids=lambda plant: plant.id)
def test_a_planted_mistake_is_refuted_at_its_line_and_named(plant):
    text, line = plant.planted()
    result = check_document(text)
    assert result.status == "refuted", str(result)
    wrong = result.first_wrong
    assert wrong.line == line, str(result)
    counterexample = wrong.failure.counterexample
    assert counterexample is not None and counterexample.expected != counterexample.claimed
    if plant.kind is None:
        assert wrong.mistake is None
    else:
        assert wrong.mistake is not None and plant.kind in wrong.mistake, wrong.mistake
    position = result.steps.index(wrong)
    assert not any(step.after_first_wrong for step in result.steps[:position + 1])
    assert all(step.after_first_wrong for step in result.steps[position + 1:])


def test_steps_after_the_first_wrong_one_are_checked_on_their_own():
    text, _ = PLANTS[0].planted()
    result = check_document(text)
    after = result.steps[result.steps.index(result.first_wrong) + 1:]
    assert after and all(step.after_first_wrong and step.status == "proven" for step in after)
    # A step that repeats the wrong claim is refuted again, and is still "after".
    text, line = next(p for p in PLANTS if p.name == "label-smoothing" and p.kind == "sign").planted()
    steps = check_document(text).steps
    assert [s.status for s in steps if s.after_first_wrong] == ["refuted"]


# --- the other verdict paths ---------------------------------------------------------------------

def test_a_shape_mismatch_is_refuted_with_both_shapes_and_the_transpose_named():
    text = text_of("softmax-cross-entropy-batch").replace(r"\right) = 2 \lambda W $$",
                                                          r"\right) = 2 \lambda W^T $$")
    result = check_document(text)
    wrong = result.first_wrong
    assert result.status == "refuted"
    assert wrong.line == line_at(text, text.index(r"2 \lambda W^T"))
    assert wrong.failure.counterexample is None
    assert wrong.failure.shapes == ("3x2", "2x3") and "shapes" in wrong.reason
    assert "transpose" in wrong.mistake


def test_an_inequality_is_unproven_and_the_rest_still_proven():
    text = text_of("mean-squared-error") + "\nThe loss is never negative:\n\n$$ 0 \\le L $$\n"
    result = check_document(text)
    assert result.status == "unproven"
    last = result.steps[-1]
    assert last.status == "unproven" and "only equalities" in last.reason
    assert last.line == line_at(text, text.rindex(r"0 \le L"))
    assert all(step.status == "proven" for step in result.steps[:-1])
    assert result.first_wrong is None
