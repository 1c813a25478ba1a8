"""A proven document as check-impl's oracle (``derive.oracle.document``): label smoothing and
focal loss judged through their catalog documents, any per-sample document through ``--doc``,
agreement with the four hand-written oracles, and the refusals."""

import json
import textwrap

import numpy as np
import pytest

from derive.catalog import UnknownLossError
from derive.cli import run
from derive.implementation import check_implementation
from derive.implementation.loader import load_function
from derive.oracle.batch import BATCH_LOSSES, Problem
from derive.oracle.document import MAX_CLASSES, DocumentOracleError, document_oracle
from derive.oracle.reference import spot_check
from derive.report.implementation import implementation_json

SMALL = dict(samples=20, features=5, classes=3)
EPSILON, GAMMA = 0.1, 2.0

#: User-style implementations (NumPy, CS231n convention), a right and a planted-wrong one of each.
IMPLEMENTATIONS = textwrap.dedent(f"""
    import numpy as np

    EPS, GAMMA = {EPSILON}, {GAMMA}


    def _log_softmax(W, X):
        S = X @ W
        S = S - S.max(axis=1, keepdims=True)
        return S - np.log(np.exp(S).sum(axis=1, keepdims=True))


    def smoothing(W, X, y, reg, spread=None):
        log_p = _log_softmax(W, X)
        n, k = log_p.shape
        q = np.full((n, k), EPS / k if spread is None else spread)
        q[np.arange(n), y] = 1 - EPS + (EPS / k if spread is None else 0)
        loss = -(q * log_p).sum() / n + reg * np.sum(W * W)
        return loss, X.T @ (np.exp(log_p) - q) / n + 2 * reg * W


    def smoothing_over_k_minus_1(W, X, y, reg):  # eps/(K-1) on the other classes: another loss
        return smoothing(W, X, y, reg, spread=EPS / (W.shape[1] - 1))


    def smoothing_dropped_in_backward(W, X, y, reg):  # the loss smoothed, the gradient one-hot
        loss, _ = smoothing(W, X, y, reg)
        log_p = _log_softmax(W, X)
        n = len(y)
        G = np.exp(log_p)
        G[np.arange(n), y] -= 1
        return loss, X.T @ G / n + 2 * reg * W


    def _log_sigmoid(z):
        return -np.logaddexp(0.0, -z)


    def focal(w, X, y, reg, modulated=True):
        z = X @ w
        sign = 2 * y - 1
        log_pt = _log_sigmoid(sign * z)
        pt, rest = np.exp(log_pt), np.exp(_log_sigmoid(-sign * z))  # p_t and 1 - p_t
        loss = -(rest**GAMMA * log_pt).mean() + reg * np.sum(w * w)
        inner = (GAMMA * pt * log_pt if modulated else 0) + pt - 1
        return loss, X.T @ (sign * rest**GAMMA * inner) / len(y) + 2 * reg * w


    def focal_without_modulating_derivative(w, X, y, reg):
        return focal(w, X, y, reg, modulated=False)
""")

#: Per-sample documents of the four losses with a hand-written oracle, in the scores.
DOCUMENTS = {
    "softmax-cross-entropy": r"""
        # Softmax cross-entropy of one sample's scores

        Let $K \in \mathbb{N}$ be the number of classes, $f \in \mathbb{R}^K$ the scores of one
        sample and $y \in \{1, \dots, K\}$ its class.

        $$ p_j = \frac{e^{f_j}}{\sum_k e^{f_k}} $$

        $$ L = -\log p_y $$

        $$ \boxed{\frac{\partial L}{\partial f_m} = p_m - \mathbb{1}[m = y]} $$
        """,
    "multiclass-svm": r"""
        # Multiclass SVM of one sample's scores

        Let $K \in \mathbb{N}$ be the number of classes, $f \in \mathbb{R}^K$ the scores of one
        sample and $y \in \{1, \dots, K\}$ its class.

        $$ L = \sum_{j \neq y} \max\left(0, f_j - f_y + 1\right) $$

        $$
        \boxed{
        \frac{\partial L}{\partial f_m} =
        \begin{cases}
          \mathbb{1}[f_m - f_y + 1 > 0] & m \neq y \\
          -\sum_{j \neq y} \mathbb{1}[f_j - f_y + 1 > 0] & \text{otherwise}
        \end{cases}
        }
        $$
        """,
    "logistic-regression": r"""
        # Logistic loss of one score

        Let $z \in \mathbb{R}$ be the score of one sample and $y \in \{0, 1\}$ its label.

        $$ p = \sigma(z) $$

        $$ L = -y \log p - (1 - y) \log (1 - p) $$

        $$ \boxed{\frac{\partial L}{\partial z} = p - y} $$
        """,
    "mean-squared-error": r"""
        # Squared error of one score

        Let $s \in \mathbb{R}$ be the score of one sample and $t \in \mathbb{R}$ its target.

        $$ L = (s - t)^2 $$

        $$ \boxed{\frac{\partial L}{\partial s} = 2 (s - t)} $$
        """,
}

REFUTED = DOCUMENTS["softmax-cross-entropy"].replace(r"p_m - \mathbb{1}[m = y]}", r"p_m - \mathbb{1}[m = y] + 1}")

#: The catalog's label smoothing with the loss summed over k, the index p_j's own sum binds.
SUMMED_OVER_K = r"""
    # Label smoothing, summed over k

    Let $K \in \mathbb{N}$ be the number of classes, $f \in \mathbb{R}^K$ the scores of one
    sample, $y \in \{1, \dots, K\}$ its class, and $\epsilon \ge 0$ the smoothing.

    $$ p_j = \frac{e^{f_j}}{\sum_k e^{f_k}} $$

    $$ q_j = \mathbb{1}[j = y] (1 - \epsilon) + \frac{\epsilon}{K} $$

    $$ L = -\sum_k q_k \log p_k $$

    $$ \boxed{\frac{\partial L}{\partial f_m} = p_m - q_m} $$
    """

NORM = r"""
    # Half the squared norm of the scores

    Let $K \in \mathbb{N}$ be the number of classes, $f \in \mathbb{R}^K$ the scores of one sample
    and $y \in \{1, \dots, K\}$ its class.

    $$ L = \frac{1}{2} \lVert f \rVert^2 $$

    $$ \boxed{\frac{\partial L}{\partial f_m} = f_m} $$
    """


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("document-oracle")
    (path / "impls.py").write_text(IMPLEMENTATIONS)
    for name, text in {**DOCUMENTS, "refuted": REFUTED, "norm": NORM, "summed-over-k": SUMMED_OVER_K}.items():
        (path / f"{name}.md").write_text(textwrap.dedent(text))
    return path


def user(folder, name):
    return load_function(f"{folder / 'impls.py'}:{name}")


# --- label smoothing and focal loss through their catalog documents ----------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_label_smoothing_right_is_correct(folder, dtype):
    report = check_implementation(user(folder, "smoothing"), "label-smoothing", values={"epsilon": EPSILON},
                                  dtype=dtype, **SMALL)
    assert report.verdict == "correct", str(report)
    assert report.oracle.proven_for_every_size and report.oracle.spot_checks_ok


@pytest.mark.parametrize("name", ["smoothing_over_k_minus_1", "smoothing_dropped_in_backward"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_label_smoothing_planted_mistakes_are_wrong(folder, name, dtype):
    report = check_implementation(user(folder, name), "label-smoothing", values={"epsilon": EPSILON},
                                  dtype=dtype, **SMALL)
    assert report.verdict == "wrong", str(report)


def test_label_smoothing_with_another_epsilon_is_wrong(folder):
    report = check_implementation(user(folder, "smoothing"), "label-smoothing", values={"epsilon": 0.2}, **SMALL)
    assert report.verdict == "wrong"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_focal_right_is_correct(folder, dtype):
    report = check_implementation(user(folder, "focal"), "focal-loss", values={"gamma": GAMMA},
                                  dtype=dtype, samples=20, features=5)
    assert report.verdict == "correct", str(report)
    assert report.oracle.proven_for_every_size and report.oracle.spot_checks_ok


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_focal_without_the_modulating_derivative_is_wrong(folder, dtype):
    report = check_implementation(user(folder, "focal_without_modulating_derivative"), "focal-loss",
                                  values={"gamma": GAMMA}, dtype=dtype, samples=20, features=5)
    assert report.verdict == "wrong", str(report)


def test_torch_cross_entropy_with_label_smoothing_is_correct():
    torch = pytest.importorskip("torch")

    def smoothed(W, X, y, reg):
        return torch.nn.functional.cross_entropy(X @ W, y, label_smoothing=EPSILON) + reg * (W * W).sum()

    report = check_implementation(smoothed, "label-smoothing", values={"epsilon": EPSILON},
                                  framework="torch", **SMALL)
    assert report.verdict == "correct", str(report)


# --- the oracle itself ----------------------------------------------------------------------------


def _problem(loss, rng, scale):
    n, d, k = 40, 6, 1 if loss.one_score else 5
    weights = rng.normal(size=(d,) if loss.one_score else (d, k)) * scale
    bias = rng.normal(size=() if loss.one_score else (k,))
    if loss.labels == "class":
        labels = rng.integers(0, k, size=n)
    elif loss.labels == "binary":
        labels = rng.integers(0, 2, size=n)
    else:
        labels = rng.normal(size=n)
    return Problem(weights, bias, rng.normal(size=(n, d)), labels, reg=0.1)


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_oracle_agrees_with_the_hand_written_one(folder, name):
    oracle = document_oracle(folder / f"{name}.md")
    hand = BATCH_LOSSES[name]
    assert (oracle.loss.labels, oracle.loss.one_score) == (hand.labels, hand.one_score)
    rng = np.random.default_rng(7)
    for scale in (1.0, 300.0):  # ordinary scores, and scores in the hundreds
        problem = _problem(hand, rng, scale)
        ours, theirs = oracle.loss.evaluate(problem), hand.evaluate(problem)
        for a, b in [(ours.loss, theirs.loss), (ours.weights, theirs.weights), (ours.bias, theirs.bias),
                     (ours.sample_losses, theirs.sample_losses), (ours.score_gradient, theirs.score_gradient)]:
            assert np.abs(a - b).max() <= 1e-12 * max(1.0, np.abs(b).max())
        assert spot_check(oracle.loss, problem, ours).ok


def test_what_the_oracle_is_proven_for(folder):
    assert document_oracle(folder / "softmax-cross-entropy.md").proven_for == "every size"
    svm = document_oracle(folder / "multiclass-svm.md")
    assert svm.proven_for == "the sizes checked (K = 2; K = 3; K = 4)"
    smoothing = document_oracle("label-smoothing", {"epsilon": EPSILON})
    assert smoothing.statement().endswith("label-smoothing.md, proven for every size")
    assert "y is y_i + 1" in smoothing.mapping and "epsilon = 0.1" in smoothing.mapping


def test_stable_at_extreme_scores():
    smoothing = document_oracle("label-smoothing", {"epsilon": EPSILON}).loss
    scores = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    losses, gradient = smoothing.per_sample(scores, np.array([1, 0]))
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = np.full((2, 3), EPSILON / 3)
    q[[0, 1], [1, 0]] += 1 - EPSILON
    assert np.allclose(losses, -(q * log_p).sum(axis=1), rtol=1e-14)
    assert np.allclose(gradient, np.exp(log_p) - q, atol=1e-15)
    focal = document_oracle("focal-loss", {"gamma": GAMMA}).loss
    losses, gradient = focal.per_sample(np.array([1000.0, -1000.0, 1000.0]), np.array([0, 1, 1]))
    assert losses.tolist() == [1000.0, 1000.0, 0.0] and gradient.tolist() == [1.0, -1.0, 0.0]


def test_a_sum_index_is_renamed_not_captured(folder):
    """log p_k with p_j's own sum over k: still the stable log-softmax, not log of an underflow."""
    summed = document_oracle(folder / "summed-over-k.md", {"epsilon": EPSILON}).loss
    catalog = document_oracle("label-smoothing", {"epsilon": EPSILON}).loss
    scores, labels = np.array([[1000.0, -1000.0, 3.0], [2.0, 1.0, 0.5]]), np.array([0, 2])
    ours, theirs = summed.per_sample(scores, labels), catalog.per_sample(scores, labels)
    assert np.all(np.isfinite(ours[0])) and np.array_equal(ours[0], theirs[0])
    assert np.array_equal(ours[1], theirs[1])


def test_naive_sample_is_the_mpmath_reference():
    focal = document_oracle("focal-loss", {"gamma": GAMMA}).loss
    losses, gradient = focal.per_sample(np.array([0.7]), np.array([1]))
    reference_loss, reference_gradient = focal.naive_sample([0.7], 1)
    assert abs(float(reference_loss) - losses[0]) < 1e-15
    assert abs(float(reference_gradient[0]) - gradient[0]) < 1e-15


def test_real_target_of_a_one_score_document(folder):
    oracle = document_oracle(folder / "mean-squared-error.md")
    assert oracle.loss.labels == "target" and "t is y_i" in oracle.mapping


# --- refusals -------------------------------------------------------------------------------------


def test_a_refuted_step_is_refused(folder):
    with pytest.raises(DocumentOracleError, match=r"refuted.md: cannot be an oracle: its step at line \d+ "
                                                  r".* is refuted; only a proven document is an oracle"):
        document_oracle(folder / "refuted.md")


def test_what_cannot_be_evaluated_is_refused(folder):
    with pytest.raises(DocumentOracleError, match=r"norm.md: cannot be an oracle: \\lVert f \\rVert cannot "
                                                  r"be evaluated numerically here \(norm:"):
        document_oracle(folder / "norm.md")


def test_a_document_of_another_shape_is_refused():
    with pytest.raises(DocumentOracleError, match=r"boxed gradient is by w_\{m\}, not by one sample's scores"):
        document_oracle("derive/catalog/softmax-cross-entropy.md")
    with pytest.raises(DocumentOracleError, match="two-layer-network.md: cannot be an oracle"):
        check_implementation(lambda W, X, y, reg: None, "two-layer-network")


def test_parameters_need_values():
    with pytest.raises(DocumentOracleError, match=r"give a value to its parameter\(s\) epsilon \(--set epsilon"):
        document_oracle("label-smoothing")
    with pytest.raises(DocumentOracleError, match="it has no parameter beta; its parameters: epsilon"):
        document_oracle("label-smoothing", {"epsilon": 0.1, "beta": 1.0})
    with pytest.raises(DocumentOracleError, match=r"epsilon = -0.5 is outside what the document is proven for"):
        document_oracle("label-smoothing", {"epsilon": -0.5})
    with pytest.raises(DocumentOracleError, match="must be a finite number"):
        document_oracle("label-smoothing", {"epsilon": float("nan")})
    with pytest.raises(ValueError, match="softmax-cross-entropy has a hand-written oracle"):
        check_implementation(lambda W, X, y, reg: None, values={"epsilon": 0.1})


def test_unknown_names_and_too_many_classes(folder):
    with pytest.raises(DocumentOracleError, match="neither a .md document nor a catalog loss"):
        document_oracle("no-such-loss")
    with pytest.raises(UnknownLossError):
        check_implementation(lambda W, X, y, reg: None, "no-such-loss")
    with pytest.raises(DocumentOracleError, match=f"at most {MAX_CLASSES} classes"):
        check_implementation(user(folder, "smoothing"), "label-smoothing", values={"epsilon": 0.1},
                             samples=5, features=3, classes=MAX_CLASSES + 1)


# --- the command line -----------------------------------------------------------------------------


def check_impl(capsys, *arguments):
    status = run(["check-impl", *arguments])
    out, err = capsys.readouterr()
    return status, out, err


def test_cli_doc_correct(folder, capsys):
    status, out, err = check_impl(capsys, f"{folder / 'impls.py'}:smoothing", "--doc",
                                  "derive/catalog/label-smoothing.md",
                                  "--set", "epsilon=0.1", "-N", "20", "-D", "5", "-K", "3")
    assert status == 0, out + err
    assert "label-smoothing.md, proven for every size" in out and "epsilon = 0.1" in out
    assert "\nverdict: correct" in out


def test_cli_doc_wrong_and_json(folder, capsys):
    status, out, _ = check_impl(capsys, f"{folder / 'impls.py'}:focal_without_modulating_derivative",
                                "--loss", "focal-loss", "--set", "gamma=2", "-N", "20", "-D", "5",
                                "--format", "json")
    assert status == 1
    report = json.loads(out)
    assert report["verdict"] == "wrong" and report["loss"] == "focal-loss"
    assert set(report["oracle"]["document"]) == {"path", "proven_for", "mapping", "values"}  # as documented
    assert report["oracle"]["document"]["proven_for"] == "every size"
    assert report["oracle"]["document"]["values"] == {"gamma": 2.0}


def test_cli_user_document_end_to_end(folder, capsys):
    status, out, _ = check_impl(capsys, "examples/impl/svm.py:svm_loss_vectorized", "--doc",
                                str(folder / "multiclass-svm.md"), "-N", "20", "-D", "5", "-K", "3")
    assert status == 0, out
    assert "proven for the sizes checked (K = 2; K = 3; K = 4)" in out


@pytest.mark.parametrize("arguments, message", [
    (["--doc", "refuted.md"], "is refuted; only a proven document is an oracle"),
    (["--doc", "norm.md"], "cannot be evaluated numerically here"),
    (["--loss", "label-smoothing"], "give a value to its parameter(s) epsilon"),
    (["--loss", "label-smoothing", "--set", "epsilon"], "expected NAME=VALUE"),
    (["--loss", "label-smoothing", "--set", "epsilon=1e999"], "expected a finite number"),
    (["--loss", "label-smoothing", "--set", "epsilon=0.1", "--set", "epsilon=0.2"], "given twice"),
])
def test_cli_refusals_are_one_line(folder, capsys, arguments, message):
    arguments = [str(folder / a) if a.endswith(".md") else a for a in arguments]
    status, out, err = check_impl(capsys, f"{folder / 'impls.py'}:smoothing", *arguments)
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("derive check-impl: error: ") and message in lines[0], err


def test_json_without_a_document_has_none(folder):
    report = check_implementation(user(folder, "smoothing"), "label-smoothing", values={"epsilon": EPSILON}, **SMALL)
    assert implementation_json(report)["oracle"]["document"]["path"].endswith("label-smoothing.md")
    hand = check_implementation(lambda W, X, y, reg: (0.0, 0 * W), **SMALL)
    assert implementation_json(hand)["oracle"]["document"] is None
