"""The documentation's three figures, rendered to PNG bytes that are the same on every run.

* ``finite-difference-error.png``: how the error of central and forward differences of the
  stable float64 loss depends on the step ``h``, and where the cross-check's steps sit;
* ``softmax-and-gradient.png``: ``p_m`` and ``dL/df_m = p_m - 1[m = y]`` as one score varies;
* ``gradient-descent.png``: the loss falling and ``f_y`` rising under gradient descent.

Every number comes from ``checks`` (the stable float64 loss and gradient, the finite differences,
the 50-digit mpmath reference, the tolerance table); this module only draws.  Figures are built
on ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot, and rcParams change only inside
a style context that restores them.  They are reproducible byte for byte: fixed seeds, size and
resolution, Matplotlib's default style applied afresh (neither a user's ``matplotlibrc`` nor an
earlier ``plt.style.use`` changes anything), and no software name or date in the PNG.
"""

from __future__ import annotations

import inspect
import io
import pathlib
from typing import Callable

import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from checks import stable
from checks.compare import relative_error
from checks.cross_check import cross_check
from checks.finite_diff import central_difference, forward_difference
from checks.points import Point, random_points, score_magnitude
from checks.reference import reference_gradient
from checks.symbolic import Derivation
from checks.tolerances import FLOAT64_EPS, TOLERANCES

FINITE_DIFFERENCE_FILE = "finite-difference-error.png"
SOFTMAX_FILE = "softmax-and-gradient.png"
DESCENT_FILE = "gradient-descent.png"

#: Steps h of the finite-difference figure: 60 log-spaced values from 1e-14 to 1e-1.
STEPS = np.logspace(-14, -1, 60)
#: The score varied in the softmax figure runs over [-6, 6]; the other scores stay at 0.
SCORE_RANGE = np.linspace(-6.0, 6.0, 241)
#: Gradient-descent steps drawn, and the seed of their starting point: the first of
#: ``DESCENT_CANDIDATES`` random points at which the true class does not have the top score
#: (so the figure shows f_y overtaking), or the first point if there is none.
DESCENT_STEPS = 20
DESCENT_SEED = 1
DESCENT_CANDIDATES = 8
#: Learning rate ``eta = DESCENT_RATE / |x|^2``.  Since ``f = W x``, a step
#: ``W <- W - eta (p - e_y) x^T`` moves the scores by ``-eta |x|^2 (p - e_y) = -(p - e_y)``: unit
#: steps in score space, well inside the ``eta < 4 / |x|^2`` that the loss's
#: ``(|x|^2 / 2)``-smoothness allows.
DESCENT_RATE = 1.0

#: The finite-difference figure uses the cross-check's own first point and steps, so it shows
#: exactly the differences ``cross_check(derivation)`` takes with its defaults.
_CROSS_CHECK = {
    name: parameter.default for name, parameter in inspect.signature(cross_check).parameters.items()
}
_DPI = 100
#: Matplotlib's default style, applied after a reset, plus the few settings the figures rely on.
_STYLE = {"figure.dpi": _DPI, "savefig.dpi": _DPI, "font.size": 9, "legend.fontsize": 8}
#: PNG text chunks: none.  (Matplotlib would write its version as "Software".)
_METADATA = {"Software": None}

WriteBytes = Callable[[pathlib.Path, bytes], object]


def write_plots(
    derivation: Derivation, folder: pathlib.Path, write_bytes: WriteBytes
) -> list[pathlib.Path]:
    """Render the three figures and hand each to ``write_bytes(path, data)``; return the paths.

    This function writes nothing itself: ``write_bytes`` (the caller's atomic writer) does.

    Examples
    --------
    >>> import derive
    >>> written = {}
    >>> d = derive.softmax_cross_entropy(classes=3, features=2, label=0)
    >>> paths = write_plots(d, pathlib.Path("docs"), written.__setitem__)
    >>> [path.name for path in paths]
    ['finite-difference-error.png', 'softmax-and-gradient.png', 'gradient-descent.png']
    >>> paths[0].parent.name
    'docs'
    >>> all(written[path].startswith(b"\\x89PNG") for path in paths)
    True
    """
    figures = (
        (FINITE_DIFFERENCE_FILE, finite_difference_plot),
        (SOFTMAX_FILE, softmax_plot),
        (DESCENT_FILE, descent_plot),
    )
    paths = []
    for name, plot in figures:
        path = pathlib.Path(folder) / name
        write_bytes(path, plot(derivation))
        paths.append(path)
    return paths


def finite_difference_errors(derivation: Derivation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(h, central, forward)``: relative errors in ``dL/dw[y, 0]`` of both differences at each h.

    The differences are those of ``checks.finite_diff`` applied to the stable float64 loss in the
    one weight ``w[y, 0]``, at the cross-check's first default point; the exact derivative is the
    50-digit mpmath reference.

    Examples
    --------
    >>> import derive
    >>> h, central, forward = finite_difference_errors(derive.softmax_cross_entropy(2, 1, 0))
    >>> len(h), float(h[0]), float(h[-1])
    (60, 1e-14, 0.1)
    >>> bool(central.min() < 1e-9 and forward.min() < 1e-6)
    True
    """
    label = derivation.label
    point = _cross_check_points(derivation)[0]
    exact = reference_gradient(point.weights, point.x, label)[label][0]

    def loss(entry: np.ndarray) -> float:
        weights = point.weights.copy()
        weights[label, 0] = entry[0]
        return stable.loss(weights, point.x, label)

    at = point.weights[label, :1]

    def errors(difference: Callable) -> np.ndarray:
        return np.array(
            [relative_error(difference(loss, at, float(h))[0], exact).error for h in STEPS]
        )

    return STEPS.copy(), errors(central_difference), errors(forward_difference)


def finite_difference_plot(derivation: Derivation) -> bytes:
    """PNG of the finite-difference errors against the step, log-log, with slope guides.

    Examples
    --------
    >>> import derive
    >>> finite_difference_plot(derive.softmax_cross_entropy(2, 1, 0))[:4]
    b'\\x89PNG'
    """
    h, central, forward = finite_difference_errors(derivation)
    nu = score_magnitude(_cross_check_points(derivation))
    # Slope guides, each over the range where its error dominates and labelled at its left end:
    # the truncation slopes through the data at h = 1e-2, the rounding slope eps / h scaled to
    # lie just above all the data at h <= 1e-9.
    anchor = int(np.argmin(np.abs(np.log10(h) + 2)))
    small = h <= 1e-9
    rounding = np.max(np.maximum(central, forward)[small] * h[small]) / FLOAT64_EPS
    guides = (
        (h >= 1e-5, central[anchor] * (h / h[anchor]) ** 2, (3, -12), r"$\propto h^2$"),
        (h >= 1e-9, forward[anchor] * (h / h[anchor]), (3, -12), r"$\propto h$"),
        (h <= 1e-5, rounding * FLOAT64_EPS / h, (3, 4), r"$\propto \varepsilon / h$"),
    )

    def draw(figure: Figure) -> None:
        axes = figure.subplots()
        axes.loglog(h, central, "o-", color="C0", markersize=3, linewidth=1.2,
                    label=r"central $(L(w+h) - L(w-h))\,/\,2h$")
        axes.loglog(h, forward, "s-", color="C1", markersize=3, linewidth=1.2,
                    label=r"forward $(L(w+h) - L(w))\,/\,h$")
        for where, values, offset, name in guides:
            axes.loglog(h[where], values[where], "--", color="0.4", linewidth=0.7)
            axes.annotate(name, (h[where][0], values[where][0]), xytext=offset,
                          textcoords="offset points", color="0.3")
        for key, color in (("central difference", "C0"), ("forward difference", "C1")):
            step = TOLERANCES[key].step_at(nu)
            axes.axvline(step, color=color, linestyle=":", linewidth=1.0,
                         label=f"cross-check's {key.split()[0]} step h = {step:.1e}")
        axes.set_ylim(1e-15, 1e2)
        axes.set_xlabel("step h")
        axes.set_ylabel(f"relative error in dL/dw[{derivation.label}, 0]")
        axes.set_title(
            "Finite differences of the stable float64 loss vs. the exact derivative (mpmath)\n"
            f"K = {derivation.classes}, D = {derivation.features}, y = {derivation.label}, "
            "at the cross-check's first point"
        )
        axes.grid(True, linewidth=0.3, color="0.85")
        axes.legend(loc="upper center")

    return _render(draw, (7.0, 4.6))


def softmax_plot(derivation: Derivation) -> bytes:
    """PNG of ``p_m`` and ``dL/df_m`` as ``f_m`` runs over [-6, 6], for ``m = y`` and ``m != y``.

    Examples
    --------
    >>> import derive
    >>> softmax_plot(derive.softmax_cross_entropy(3, 2, 0))[:4]
    b'\\x89PNG'
    """
    label, classes = derivation.label, derivation.classes
    other = (label + 1) % classes

    def draw(figure: Figure) -> None:
        for axes, m in zip(figure.subplots(1, 2), (label, other)):
            p, slope = softmax_curve(classes, label, m)
            true = m == label
            axes.axhline(0.0, color="0.6", linewidth=0.6)
            axes.plot(SCORE_RANGE, p, color="C0", linewidth=1.4, label=f"$p_{{{m}}}$")
            axes.plot(SCORE_RANGE, slope, "--", color="C3", linewidth=1.4,
                      label=rf"$\partial L/\partial f_{{{m}}} = p_{{{m}}} - {1 if true else 0}$"
                      + ("" if true else rf" (the same curve as $p_{{{m}}}$)"))
            effect = "< 0 everywhere: descent raises" if true else "> 0 everywhere: descent lowers"
            axes.text(0.03, 0.05 if true else 0.92,
                      rf"$\partial L/\partial f_{{{m}}}$ {effect} $f_{{{m}}}$",
                      transform=axes.transAxes)
            which = "the true class" if true else "another class"
            axes.set_title(f"m = {m}: {which} (y = {label})")
            rest = "the other score is 0" if classes == 2 else f"the other {classes - 1} are 0"
            axes.set_xlabel(f"score $f_{{{m}}}$ ({rest})")
            axes.set_ylim(-1.05, 1.05)
            axes.grid(True, linewidth=0.3, color="0.85")
            axes.legend(loc="upper left", bbox_to_anchor=None if true else (0.0, 0.88))

    return _render(draw, (9.0, 3.8))


def descent_plot(derivation: Derivation) -> bytes:
    """PNG of the loss and the scores over gradient-descent steps along the closed form.

    Examples
    --------
    >>> import derive
    >>> descent_plot(derive.softmax_cross_entropy(3, 2, 0))[:4]
    b'\\x89PNG'
    """
    losses, scores = descent_path(derivation)
    label, steps = derivation.label, np.arange(len(losses))

    def draw(figure: Figure) -> None:
        loss_axes, score_axes = figure.subplots(1, 2)
        loss_axes.plot(steps, losses, "o-", color="C3", markersize=3, linewidth=1.2)
        loss_axes.set_title(r"loss $L = -\log p_y$")
        loss_axes.set_ylim(0.0, None)
        others = [j for j in range(derivation.classes) if j != label]
        for j in others:
            score_axes.plot(steps, scores[:, j], "-", color="0.6", linewidth=0.8,
                            label="other scores" if j == others[0] else None)
        score_axes.plot(steps, scores[:, label], "o-", color="C0", markersize=3, linewidth=1.6,
                        label=f"$f_{{{label}}}$, the true class")
        score_axes.set_title(r"scores $f = W x$")
        score_axes.legend(loc="center right")
        for axes in (loss_axes, score_axes):
            axes.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
            axes.set_xlim(-0.5, DESCENT_STEPS + 0.5)
            axes.set_xlabel("gradient-descent step")
            axes.grid(True, linewidth=0.3, color="0.85")
        figure.suptitle(
            rf"$W \leftarrow W - \eta\,(p - e_y)\,x^T$, $\eta = 1/|x|^2$: "
            f"K = {derivation.classes}, D = {derivation.features}, y = {label}, "
            f"start drawn with seed {DESCENT_SEED}"
        )

    return _render(draw, (9.0, 3.8))


def descent_path(derivation: Derivation) -> tuple[np.ndarray, np.ndarray]:
    """``(losses, scores)`` at the start and after each of ``DESCENT_STEPS`` descent steps.

    The gradient is the closed form ``(p - e_y) x^T`` evaluated stably in float64
    (``checks.stable.gradient``); the loss is ``checks.stable.loss``.

    Examples
    --------
    >>> import derive
    >>> losses, scores = descent_path(derive.softmax_cross_entropy(3, 2, 0))
    >>> losses.shape, scores.shape  # steps + 1 values; K scores each
    ((21,), (21, 3))
    >>> bool(np.all(np.diff(losses) < 0) and np.all(np.diff(scores[:, 0]) > 0))
    True
    """
    label = derivation.label
    candidates = random_points(
        derivation.classes, derivation.features, DESCENT_CANDIDATES, DESCENT_SEED, 1.0
    )
    losing = [point for point in candidates if np.argmax(point.weights @ point.x) != label]
    start = (losing or candidates)[0]
    weights, x = start.weights.copy(), start.x
    eta = DESCENT_RATE / float(x @ x)
    losses, scores = [], []
    for _ in range(DESCENT_STEPS + 1):
        losses.append(stable.loss(weights, x, label))
        scores.append(weights @ x)
        weights = weights - eta * stable.gradient(weights, x, label)
    return np.array(losses), np.array(scores)


def softmax_curve(classes: int, label: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``p_m`` and ``dL/df_m = p_m - 1[m = y]`` as ``f_m`` runs over ``SCORE_RANGE``, others 0.

    Computed by ``checks.stable`` with ``W = f`` (one column) and ``x = (1)``, so that ``f = W x``
    and the gradient ``dL/dW = (p - e_y) x^T`` is ``dL/df`` itself.

    Examples
    --------
    >>> p, slope = softmax_curve(classes=3, label=0, m=0)
    >>> float(p[120]), float(slope[120])  # f = (0, 0, 0): p_0 = 1/3, dL/df_0 = -(p_1 + p_2)
    (0.3333333333333333, -0.6666666666666666)
    """
    p, slope = [], []
    for value in SCORE_RANGE:
        scores = np.zeros((classes, 1))
        scores[m, 0] = value
        p.append(stable.probabilities(scores, np.ones(1))[m])
        slope.append(stable.gradient(scores, np.ones(1), label)[m, 0])
    return np.array(p), np.array(slope)


def _cross_check_points(derivation: Derivation) -> tuple[Point, ...]:
    """The points ``cross_check(derivation)`` draws with its default arguments."""
    return random_points(
        derivation.classes,
        derivation.features,
        _CROSS_CHECK["points"],
        _CROSS_CHECK["seed"],
        _CROSS_CHECK["logit_scale"],
    )


def _render(draw: Callable[[Figure], None], size: tuple[float, float]) -> bytes:
    """Build a Figure on the Agg canvas, let ``draw`` fill it, return the PNG bytes.

    Everything happens under the fixed style: artists read rcParams when they are created.
    """
    with matplotlib.style.context(_STYLE, after_reset=True):
        figure = Figure(figsize=size, dpi=_DPI, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=_DPI, metadata=_METADATA)
    return buffer.getvalue()
