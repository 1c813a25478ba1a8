"""The documentation figures: PNG bytes, byte-identical on every run, data of the right shape."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pytest

import derive
from derive.report.docs import plots

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOTS = {
    plots.FINITE_DIFFERENCE_FILE: plots.finite_difference_plot,
    plots.SOFTMAX_FILE: plots.softmax_plot,
    plots.DESCENT_FILE: plots.descent_plot,
}
#: Documentation figures stay small.
MAX_PNG_BYTES = 100_000
#: Where the finite-difference errors must bottom out at ordinary logits (NOTATION.md, "Numbers":
#: central best near h ~ 6e-6 at ~1e-12, forward best near 1.5e-8 at ~1e-8), with wide margins.
CENTRAL_BEST = {"error below": 1e-9, "steps": (1e-7, 1e-3)}
FORWARD_BEST = {"error below": 1e-6, "steps": (1e-8, 1e-6)}
#: Settings a user's matplotlibrc or an earlier style might carry; none may change a figure.
HOSTILE_RC = {
    "lines.linewidth": 5,
    "font.size": 20,
    "font.family": "serif",
    "axes.grid": True,
    "figure.dpi": 50,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.facecolor": "yellow",
}


@pytest.fixture(scope="module")
def derivation():
    return derive.softmax_cross_entropy(classes=3, features=2, label=0)


@pytest.fixture(scope="module")
def rendered(derivation):
    """Each figure rendered once, by name."""
    return {name: plot(derivation) for name, plot in PLOTS.items()}


def png_chunks(data: bytes) -> list[str]:
    """The chunk types of a PNG file, in order."""
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append(data[offset + 4 : offset + 8].decode("ascii"))
        offset += 12 + length
    return chunks


@pytest.mark.parametrize("name", PLOTS)
def test_each_plot_is_a_small_png_without_text_chunks(rendered, name):
    data = rendered[name]
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) < MAX_PNG_BYTES
    # No Software, date or other text chunk: only image data and its resolution.
    assert set(png_chunks(data)) == {"IHDR", "pHYs", "IDAT", "IEND"}


@pytest.mark.parametrize("name", PLOTS)
def test_calling_twice_gives_identical_bytes(derivation, rendered, name):
    assert PLOTS[name](derivation) == rendered[name]


def test_rc_settings_in_effect_change_nothing_and_are_left_alone(derivation, rendered):
    with matplotlib.rc_context(HOSTILE_RC):
        data = plots.softmax_plot(derivation)
        assert matplotlib.rcParams["font.size"] == HOSTILE_RC["font.size"]
    assert data == rendered[plots.SOFTMAX_FILE]


def test_fresh_interpreter_with_hostile_matplotlibrc_gives_identical_bytes(rendered, tmp_path):
    (tmp_path / "matplotlibrc").write_text(
        "".join(f"{key}: {value}\n" for key, value in HOSTILE_RC.items())
    )
    environment = {
        **os.environ,
        "MPLCONFIGDIR": str(tmp_path),
        "PYTHONHASHSEED": "12345",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    program = (
        "import sys, derive, matplotlib\n"
        "from derive.report.docs.plots import finite_difference_plot\n"
        "assert matplotlib.rcParams['font.size'] == 20, 'the matplotlibrc was not read'\n"
        "d = derive.softmax_cross_entropy(classes=3, features=2, label=0)\n"
        "sys.stdout.buffer.write(finite_difference_plot(d))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, cwd=ROOT, env=environment
    )
    assert process.returncode == 0, process.stderr.decode()
    assert process.stdout == rendered[plots.FINITE_DIFFERENCE_FILE]


def test_write_plots_hands_each_figure_to_write_bytes_and_writes_nothing_itself(
    derivation, rendered, tmp_path
):
    calls = []
    paths = plots.write_plots(derivation, tmp_path, lambda path, data: calls.append((path, data)))
    names = ["finite-difference-error.png", "softmax-and-gradient.png", "gradient-descent.png"]
    assert paths == [tmp_path / name for name in names]
    assert [path for path, _ in calls] == paths
    assert {path.name: data for path, data in calls} == rendered
    assert list(tmp_path.iterdir()) == []


def test_finite_difference_errors_bottom_out_where_theory_says(derivation):
    h, central, forward = plots.finite_difference_errors(derivation)
    assert len(h) == 60 and h[0] == pytest.approx(1e-14) and h[-1] == pytest.approx(1e-1)
    assert np.all(np.diff(h) > 0)
    for errors, best in ((central, CENTRAL_BEST), (forward, FORWARD_BEST)):
        low, high = best["steps"]
        assert errors.min() < best["error below"]
        assert low <= h[np.argmin(errors)] <= high
    # Truncation dominates at the large-step end: slopes 2 (central) and 1 (forward).
    large = h >= 1e-3
    central_slope = np.polyfit(np.log10(h[large]), np.log10(central[large]), 1)[0]
    forward_slope = np.polyfit(np.log10(h[large]), np.log10(forward[large]), 1)[0]
    assert central_slope == pytest.approx(2, abs=0.1)
    assert forward_slope == pytest.approx(1, abs=0.1)


def test_softmax_curves_show_the_sign_of_each_gradient_entry():
    true_p, true_slope = plots.softmax_curve(classes=3, label=0, m=0)
    other_p, other_slope = plots.softmax_curve(classes=3, label=0, m=2)
    assert np.all(true_slope < 0) and np.all(other_slope > 0)
    assert np.allclose(true_slope, true_p - 1, rtol=0, atol=1e-15)
    assert np.allclose(other_slope, other_p, rtol=1e-15, atol=0)
    assert np.all(np.diff(true_p) > 0) and np.all(np.diff(other_p) > 0)


@pytest.mark.parametrize("classes, features, label", [(3, 2, 0), (2, 1, 1), (5, 3, 4)])
def test_descent_lowers_the_loss_and_raises_the_true_score(classes, features, label):
    losses, scores = plots.descent_path(derive.softmax_cross_entropy(classes, features, label))
    assert losses.shape == (plots.DESCENT_STEPS + 1,)
    assert scores.shape == (plots.DESCENT_STEPS + 1, classes)
    assert np.all(np.diff(losses) < 0)
    assert np.all(np.diff(scores[:, label]) > 0)
    others = np.delete(scores, label, axis=1)
    assert np.all(np.diff(others, axis=0) < 0)
