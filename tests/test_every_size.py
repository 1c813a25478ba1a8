"""Steps proven for every size: SymPy with symbolic sizes (derive.document.symbolic).

A step is "proven for every size" only when SymPy reduces ``left - right`` to exactly 0 with the
sizes as symbols, the labels and free indices as integer symbols in their ranges; anything else
keeps its verdict at the sizes checked.  The attacks here are steps that hold at the sizes
checked but not for every size (a sum whose range runs backwards at K = 1, an identity true only
for K <= 4), steps true only for some index values, and translations that must be refused.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

import derive
from derive.catalog import entry
from derive.document import symbolic
from derive.document.declare import read_document
from derive.document.source import Source
from derive.document.symbolic import Symbolic, decide_relation, proven_for_every_size
from test_prose_declarations import WEIGHTED

ROOT = Path(__file__).resolve().parent.parent

SCORES = r"""Let $f_1, \dots, f_K \in \mathbb{R}$ be the scores, $t_1, \dots, t_K \in \mathbb{R}$ and
$y \in \{1, \dots, K\}$ the class.

$$ p_j = \frac{e^{f_j}}{\sum_k e^{f_k}} $$

$$ {step} $$
"""


def scores(step: str):
    """The check of one step about the softmax of K scores (``p_j``), labels ``y``."""
    return derive.check_document(SCORES.replace("{step}", step))


def only_step(text: str):
    (step,) = derive.check_document(text).steps
    return step


# --- the seed and the catalog ----------------------------------------------------------------

def test_every_step_of_the_seed_is_proven_for_every_size():
    result = derive.check_document(entry("softmax-cross-entropy").path)
    assert result.status == "proven" and all(step.every_size for step in result.steps)
    assert str(result).splitlines()[0].endswith("proven for every size, 14 steps: 14 proven")
    chain = result.steps[2]
    assert chain.scope == "every D, K, every y, every m"
    assert chain.instances == 2 * 2 * 1  # cross-checked at K = 2, D = 1: each y, each m, each entry


def test_the_issues_weighted_cross_entropy_is_proven_for_every_size_and_its_slip_refuted():
    result = derive.check_document(WEIGHTED)
    assert result.status == "proven" and [s.every_size for s in result.steps] == [True, True]
    slip = derive.check_document(WEIGHTED.replace("c_t (q_k - [k = t])", "c_k (q_k - [k = t])"))
    assert slip.status == "refuted" and slip.first_wrong.line == 12 and not slip.first_wrong.every_size
    assert slip.steps[0].every_size


def test_the_matrix_penalty_and_label_families_of_the_batch_document():
    result = derive.check_document(entry("softmax-cross-entropy-batch").path)
    assert result.status == "proven" and all(step.every_size for step in result.steps)
    penalty = next(s for s in result.steps if s.latex.endswith("= 2 \\lambda W"))
    assert penalty.scope == "every D, K, N, every y"


def test_a_kink_is_not_attempted_and_keeps_its_verdict_at_the_sizes_checked():
    result = derive.check_document(r"""Let $x \in \mathbb{R}^D$ and $w \in \mathbb{R}^D$.

$$ s = w^T x $$

$$ h = \max(0, s) $$

$$ \frac{\partial h}{\partial w} = \mathbb{1}[s > 0] x $$
""")
    (step,) = result.steps
    assert result.status == "proven" and step.except_where and not step.every_size
    assert step.scope == "D = 1..3"


# --- attacks: true at the sizes checked, not for every size ----------------------------------

def test_a_sum_counts_its_terms_for_every_size_and_one_too_few_is_refuted():
    doc = "Let $K \\in \\mathbb{N}$.\n\n$$ \\sum_{k=1}^{K} 1 = K $$\n"
    assert only_step(doc).every_size
    wrong = only_step(doc.replace("= K $$", "= K - 1 $$"))
    assert wrong.status == "refuted" and not wrong.every_size


def test_an_identity_true_only_up_to_k_4_is_proven_only_at_the_sizes_checked():
    step = only_step("Let $K \\in \\mathbb{N}$.\n\n"
                     "$$ \\sum_{k=1}^{K} k (k - 1) (k - 2) (k - 3) (k - 4) = 0 $$\n")
    assert step.status == "proven" and not step.every_size and step.scope == "K = 1..3"


def test_a_sum_whose_range_runs_backwards_at_k_1_is_not_proven_for_every_k():
    """SymPy sums from 2 to 0 as minus the sum from 1 to 1; the document means no terms."""
    doc = "---\ncheck: K = 2..4\n---\nLet $K \\in \\mathbb{N}$.\n\n$$ \\sum_{k=2}^{K-1} 1 = K - 2 $$\n"
    step = only_step(doc)
    assert step.status == "proven" and not step.every_size and step.scope == "K = 2..4"
    assert only_step(doc.replace("K = 2..4", "K = 1..4")).status == "refuted"


def test_a_claim_true_only_where_m_is_y_is_refuted():
    result = scores(r"\frac{\partial p_y}{\partial f_m} = p_y (1 - p_y)")
    assert result.status == "refuted" and not result.steps[0].every_size
    assert scores(r"\frac{\partial p_y}{\partial f_m} = p_y (\mathbb{1}[m = y] - p_m)").steps[0].every_size


def test_an_indicator_lets_one_index_stand_for_the_other_only_where_they_are_equal():
    assert scores(r"\mathbb{1}[m = y] p_m = \mathbb{1}[m = y] p_y").steps[0].every_size
    wrong = scores(r"\mathbb{1}[m \neq y] p_m = \mathbb{1}[m \neq y] p_y")
    assert wrong.status == "refuted" and not wrong.steps[0].every_size


@pytest.mark.parametrize("step, holds", [
    (r"\sum_k p_k = 1", True),
    (r"\sum_{k \neq y} p_k = 1 - p_y", True),
    (r"\sum_{k \neq y} p_k = 1", False),
    (r"\sum_k \mathbb{1}[k = y] = 1", True),
    (r"\sum_k \mathbb{1}[k = y] = 0", False),
    (r"\sum_{k=1}^{K} \mathbb{1}[k = K + 1] t_k = 0", True),
    (r"\sum_k \mathbb{1}[k = m] t_k = t_m", True),
    (r"\sum_k \mathbb{1}[k \neq m] t_k = t_m", False),
    (r"\frac{\partial}{\partial t_m} \sum_k t_k^2 = 2 t_m", True),
    (r"\frac{\partial}{\partial t_m} \sum_k t_k^2 = 2 t_y", False),
])
def test_sums_of_indicators_over_the_label_and_free_indices(step, holds):
    result = scores(step)
    assert result.steps[0].every_size is holds
    assert result.status == ("proven" if holds else "refuted")


def test_a_member_that_may_not_exist_is_not_translated():
    result = scores(r"p_{y-1} = p_{y-1}")
    assert result.status == "refuted" and not result.steps[0].every_size  # no p_0 at y = 1


def test_a_sum_over_a_different_range_is_not_the_same_sum():
    doc = (r"Let $x \in \mathbb{R}^D$ and $t_1, \dots, t_K \in \mathbb{R}$." "\n\n"
           r"$$ \sum_{k=1}^{K} t_k = \sum_{k=1}^{D} t_k $$" "\n")
    step = only_step(doc.replace("t_k $$", "t_k + 0 \\lVert x \\rVert^2 $$"))
    assert not step.every_size


# --- vectors and matrices ---------------------------------------------------------------------

MATRIX = r"""Let $W \in \mathbb{R}^{K \times D}$, $x \in \mathbb{R}^D$, $g \in \mathbb{R}^K$ and $\lambda > 0$.

$$ {step} $$
"""


@pytest.mark.parametrize("step, verdict, every", [
    (r"\frac{\partial}{\partial W} \left( \lambda \lVert W \rVert^2 \right) = 2 \lambda W", "proven", True),
    (r"\frac{\partial}{\partial W} \left( \lambda \lVert W \rVert^2 \right) = \lambda W", "refuted", False),
    (r"\frac{\partial}{\partial W} \left( \lambda \lVert W \rVert^2 \right) = 2 \lambda W^T", "refuted", False),
    (r"\frac{\partial}{\partial x} g^T W x = W^T g", "proven", True),
    (r"\frac{\partial}{\partial W} g^T W x = g x^T", "proven", True),
    (r"\frac{\partial}{\partial W} g^T W x = x g^T", "refuted", False),
    (r"\frac{\partial}{\partial x} x^T x = 2 x", "proven", True),
    (r"\frac{\partial}{\partial x} x^T x = x", "refuted", False),
])
def test_gradients_by_vectors_and_matrices_are_compared_entry_by_entry(step, verdict, every):
    result = derive.check_document(MATRIX.replace("{step}", step))
    assert (result.status, result.steps[0].every_size) == (verdict, every)


# --- what is reported -------------------------------------------------------------------------

def test_the_header_counts_the_steps_proven_for_every_size():
    doc = ("Let $K \\in \\mathbb{N}$ and $t_1, \\dots, t_K \\in \\mathbb{R}$.\n\n"
           "$$ \\sum_{k=1}^{K} 1 = K $$\n\n$$ \\sum_{k=1}^{K} \\lvert t_k \\rvert = \\sum_{k=1}^{K} \\lvert t_k \\rvert $$\n")
    result = derive.check_document(doc, path="two.md")
    lines = str(result).splitlines()
    assert lines[0] == "two.md: proven at K = 1..3 (1 of 2 steps for every size), 2 steps: 2 proven"
    assert lines[-2].endswith("[every K]") and lines[-1].endswith("[K = 1..3]")


def test_json_says_which_steps_are_proven_for_every_size(tmp_path):
    path = tmp_path / "sum.md"
    path.write_text("Let $K \\in \\mathbb{N}$.\n\n$$ \\sum_{k=1}^{K} 1 = K $$\n\n"
                    "$$ \\sum_{k=1}^{K} k (k - 1) (k - 2) (k - 3) = 0 $$\n")
    done = subprocess.run([sys.executable, "-m", "derive", "check", str(path), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT)
    steps = json.loads(done.stdout)["steps"]
    assert [(s["every_size"], s["scope"]) for s in steps] == [(True, "every K"), (False, "K = 1..3")]


def test_a_document_without_sizes_is_checked_as_before():
    result = derive.check_document("Let $a \\in \\mathbb{R}$.\n\n$$ f = a^3 $$\n\n"
                                   "$$ \\frac{\\partial f}{\\partial a} = 3 a^2 $$\n", path="cube.md")
    assert not result.steps[0].every_size
    assert str(result).splitlines()[0] == "cube.md: proven, 1 step: 1 proven"


def test_a_proof_for_every_size_never_overrules_a_refutation(monkeypatch):
    """Were the symbolic proof wrong, the cross-check at the first sizes still refutes."""
    monkeypatch.setattr("derive.document.check.proven_for_every_size", lambda *args: True)
    result = scores(r"\sum_k p_k = 2")
    assert result.status == "refuted" and not result.steps[0].every_size


def test_a_proof_for_every_size_that_the_first_sizes_cannot_confirm_checks_every_instance(monkeypatch):
    """A step the verifier leaves unproven at the first sizes is checked at every size, as before."""
    from derive.core import Verdict
    from derive.core.verdict import EntryVerdict
    from derive.document import check

    real = check.verify_identity
    calls = []

    def first_unproven(truths, claims, **options):
        calls.append(len(truths))
        if len(calls) == 1:
            return Verdict(tuple(EntryVerdict(i, "unproven", reason="test") for i in range(len(truths))))
        return real(truths, claims, **options)

    monkeypatch.setattr(check, "verify_identity", first_unproven)
    result = derive.check_document("Let $K \\in \\mathbb{N}$.\n\n$$ \\sum_{k=1}^{K} 1 = K $$\n")
    assert result.status == "unproven" and not result.steps[0].every_size and len(calls) == 3


# --- the translator and the decisions ---------------------------------------------------------

def test_a_range_condition_is_decided_only_when_it_holds_on_the_whole_range():
    K = sympy.Symbol("K", integer=True, positive=True)
    m, y = sympy.symbols("m y", integer=True)
    ranges = {m: (1, K), y: (1, K)}
    assert decide_relation(m >= 1, ranges) is sympy.true
    assert decide_relation(m <= K, ranges) is sympy.true
    assert decide_relation(m > K, ranges) is sympy.false
    assert decide_relation(m <= K - 1, ranges) == (m <= K - 1)
    assert decide_relation(m <= y, ranges) == (m <= y)


@pytest.mark.parametrize("math", [
    r"\max(0, t_1) = \max(0, t_1)",             # a kink
    r"\prod_k t_k = \prod_k t_k",                # a product
    r"\mathbb{1}[t_1 > 0] = \mathbb{1}[t_1 > 0]",  # a condition on a real quantity
    r"\lvert t_1 \rvert = \lvert t_1 \rvert",    # an absolute value
])
def test_what_is_not_translated_is_not_attempted(math):
    text = f"Let $t_1, \\dots, t_K \\in \\mathbb{{R}}$.\n\n$$ {math} $$\n"
    doc = read_document(Source(text))
    assert proven_for_every_size(doc, doc.steps[0].equation, Symbolic(doc)) is False


def test_work_beyond_the_bound_is_not_attempted(monkeypatch):
    monkeypatch.setattr(symbolic, "MAX_NODES", 20)
    result = scores(r"\sum_k p_k = 1")
    assert result.status == "proven" and not result.steps[0].every_size


def test_the_format_pages_sizes_example_prints_what_the_page_shows(tmp_path):
    import re

    page = (ROOT / "derive" / "document" / "format.md").read_text()
    (example,) = [block for block in re.findall(r"````markdown\n(.*?)````", page, re.DOTALL)
                  if "(k - 4)" in block]
    (tmp_path / "sizes.md").write_text(example)
    done = subprocess.run([sys.executable, "-m", "derive", "check", "sizes.md"], cwd=tmp_path,
                          capture_output=True, text=True)
    first = done.stdout.splitlines()[0]
    assert first == "sizes.md: proven at K = 2..4 (2 of 3 steps for every size), 3 steps: 3 proven"
    assert f"```\n{first}\n```" in page
    assert [step.every_size for step in derive.check_document(example).steps] == [True, True, False]


def test_a_name_with_two_definitions_is_not_attempted():
    """``L`` and ``L_i`` are two quantities: checked at the sizes checked, not translated."""
    result = derive.check_document(r"""Let $x_1, \dots, x_N \in \mathbb{R}$ and $w \in \mathbb{R}$.

$$ L_i = (w x_i)^2 $$

$$ L = \frac{1}{N} \sum_{i=1}^{N} L_i $$

$$ \frac{\partial L}{\partial w} = \frac{2}{N} \sum_{i=1}^{N} w x_i^2 $$
""")
    assert result.status == "proven" and not result.steps[0].every_size


def test_a_derivative_beyond_the_bound_is_not_attempted(monkeypatch):
    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE", 10)
    result = scores(r"\frac{\partial p_y}{\partial f_m} = p_y (\mathbb{1}[m = y] - p_m)")
    assert result.status == "proven" and not result.steps[0].every_size
