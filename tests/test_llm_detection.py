"""benchmarks/llm_detection.py: the detection table's structure, on one right implementation and
one planted mistake at float32 (the full table is a benchmark, not a test)."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("llm_detection", ROOT / "benchmarks" / "llm_detection.py")
detection = importlib.util.module_from_spec(_spec)
sys.modules["llm_detection"] = detection  # dataclasses look their module up by name
_spec.loader.exec_module(detection)

RIGHT, MISTAKE = "plain.py:cross_entropy", "mistakes.py:upstream_ignored"


@pytest.fixture(scope="module")
def table():
    return detection.detection_table([(RIGHT, True), (MISTAKE, False)], dtypes=("float32",))


def cells(table, target):
    return next(row.cells for row in table.rows if row.target == target)


def test_columns_are_each_method_per_dtype_and_gradcheck_once(table):
    assert table.columns == (("derive", "float32"), ("ones", "float32"), ("random", "float32"),
                             ("gradcheck", None))
    for row in table.rows:
        assert set(row.cells) == set(table.columns)


def test_derive_passes_the_right_one_and_names_the_mistake(table):
    assert cells(table, RIGHT)["derive", "float32"] == detection.Cell(False, "correct")
    assert cells(table, MISTAKE)["derive", "float32"] == detection.Cell(
        True, "wrong: upstream gradient ignored")


def test_an_upstream_of_ones_hides_the_ignored_upstream_and_a_random_one_shows_it(table):
    assert cells(table, MISTAKE)["ones", "float32"].caught is False
    caught = cells(table, MISTAKE)["random", "float32"]
    assert caught.caught and "dlogits" in caught.note
    assert cells(table, RIGHT)["ones", "float32"].caught is False
    assert cells(table, RIGHT)["random", "float32"].caught is False


def test_gradcheck_runs_in_float64_and_is_not_applicable_to_a_float32_kernel(table):
    assert cells(table, RIGHT)["gradcheck", None] == detection.Cell(False)
    assert cells(table, MISTAKE)["gradcheck", None] == detection.Cell(None, "computes in float32")


def test_counts_per_column(table):
    assert table.counts(("derive", "float32")) == {
        "right passed": 1, "right judged": 1, "mistakes caught": 1, "mistakes judged": 1, "n/a": 0}
    assert table.counts(("ones", "float32"))["mistakes caught"] == 0
    assert table.counts(("gradcheck", None)) == {
        "right passed": 1, "right judged": 1, "mistakes caught": 0, "mistakes judged": 0, "n/a": 1}


def test_text_has_a_line_per_row_and_the_counts(table):
    text = str(table)
    lines = text.splitlines()
    assert lines[0].split(" | ")[0].strip() == "implementation"
    assert any(line.startswith("  plain.py:cross_entropy") for line in lines)
    assert any(line.startswith("x mistakes.py:upstream_ignored") and "CAUGHT wrong" in line
               for line in lines)
    assert any(line.startswith("mistakes caught") and "1/1" in line for line in lines)
    assert "n/a (computes in float32)" in text


def test_every_example_is_a_row():
    rows = dict(detection.implementations())
    assert all(rows[target] for target in detection.RIGHT)
    assert rows[MISTAKE] is False and rows["modules.py:detached_bias"] is False
    assert "mistakes.py:gradient_in_place" in rows
    assert not any(name.split(":")[1].startswith("_") for name in rows)
    for target in rows:  # each names a function of its file
        file, function = target.split(":")
        assert f"{function}" in (detection.LLM / file).read_text()


def test_a_function_that_raises_is_caught_with_its_error():
    def broken(logits, target):
        raise RuntimeError("kernel launch failed")

    from derive.implementation.lm.conventions import infer_convention

    cell = detection._compared(broken, infer_convention(broken), "float32", 0, ones=True)
    assert cell.caught and "RuntimeError: kernel launch failed" in cell.note
    assert detection._gradchecked(broken, infer_convention(broken), 0).caught


def test_a_loss_without_autograd_is_not_gradchecked():
    import torch.nn.functional as F

    def detached(logits, target):
        return F.cross_entropy(logits.detach(), target)

    from derive.implementation.lm.conventions import infer_convention

    assert detection._gradchecked(detached, infer_convention(detached), 0) == detection.Cell(
        None, "no autograd graph")


def test_shown_cells():
    assert detection.Cell(None, "why").shown() == "n/a (why)"
    assert detection.Cell(True, "(mean: dlogits)").shown() == "CAUGHT (mean: dlogits)"
    assert detection.Cell(False).shown() == "pass"


def test_gradient_accumulation_steps_are_rows_when_their_file_exists(tmp_path):
    (tmp_path / "mistakes.py").write_text("def planted(logits, target): ...\ndef _helper(): ...\n")
    targets = [target for target, _ in detection.implementations(tmp_path)]
    assert "mistakes.py:planted" in targets and "mistakes.py:_helper" not in targets
    assert not any(target.startswith("accumulation.py") for target in targets)
    (tmp_path / "accumulation.py").write_text("def accumulate(model, batches): ...\n"
                                              "def per_micro_batch_mean(model, batches): ...\n")
    assert detection.implementations(tmp_path)[-2:] == [
        ("accumulation.py:accumulate", True), ("accumulation.py:per_micro_batch_mean", False)]


@pytest.mark.skipif(not (detection.LLM / "accumulation.py").exists(), reason="no accumulation.py")
def test_a_gradient_accumulation_mistake_is_judged_by_derive_and_assert_close():
    right = detection.judge_row("accumulation.py:accumulate", True, ("float32",))
    wrong = detection.judge_row("accumulation.py:per_micro_batch_mean", False, ("float32",))
    assert right.cells["derive", "float32"] == detection.Cell(False, "correct")
    assert right.cells["ones", "float32"] == detection.Cell(False)
    assert wrong.cells["derive", "float32"] == detection.Cell(True, "wrong: per-micro-batch mean")
    assert wrong.cells["ones", "float32"] == detection.Cell(True, "(dweight)")
    for row in (right, wrong):
        assert row.cells["random", "float32"].caught is None
        assert row.cells["gradcheck", None].caught is None


def test_gradcheck_catches_a_wrong_float64_gradient():
    fn = detection.load_function(f"{detection.LLM / 'modules.py'}:detached_bias")
    from derive.implementation.lm.conventions import infer_convention

    cell = detection._gradchecked(fn, infer_convention(fn), 0)
    assert cell.caught and cell.note == "(mean)"
