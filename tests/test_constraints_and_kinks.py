"""What real derivations contain: constraints (given=), kinks (ReLU, hinge, |x|), log|x|; readable verdicts."""

import pytest
import sympy
from sympy import Abs, Add, Eq, Heaviside, Matrix, Max, Piecewise, Rational, Symbol, exp, log, sign, symbols

from derive import VerificationInputError, verify

w, x, b, u = symbols("w x b u", real=True)


def indicator(condition):
    """1[condition], as courses write it."""
    return Piecewise((1, condition), (0, True))


# --- constraints -------------------------------------------------------------------------------

K = 3
f = symbols(f"f0:{K}", real=True)
t = symbols(f"t0:{K}", positive=True)
PARTITION = Add(*[exp(fj) for fj in f])
SOFT_TARGET_LOSS = -Add(*[t[j] * log(exp(f[j]) / PARTITION) for j in range(K)])
SOFT_TARGET_GRADIENT = [exp(f[m]) / PARTITION - t[m] for m in range(K)]
TARGETS_SUM_TO_ONE = [Eq(Add(*t), 1)]


def test_soft_targets_gradient_is_refuted_without_the_constraint():
    verdict = verify(SOFT_TARGET_LOSS, f, SOFT_TARGET_GRADIENT)
    assert verdict.status == "refuted"


def test_soft_targets_gradient_is_proven_given_the_targets_sum_to_one():
    verdict = verify(SOFT_TARGET_LOSS, f, SOFT_TARGET_GRADIENT, given=TARGETS_SUM_TO_ONE)
    assert verdict.status == "proven", str(verdict)
    assert verdict.except_where == ()


def test_a_claim_wrong_by_1e_12_is_refuted_on_the_constraint_set():
    wrong = list(SOFT_TARGET_GRADIENT)
    wrong[1] = wrong[1] * (1 + Rational(1, 10**12))
    verdict = verify(SOFT_TARGET_LOSS, f, wrong, given=TARGETS_SUM_TO_ONE)
    assert verdict.status == "refuted"
    (failure,) = verdict.failures
    assert failure.variable == f[1]
    point = failure.point
    assert sum(point[tj] for tj in t) == 1  # exactly on the constraint
    assert all(point[tj] > 0 for tj in t)  # and within the assumptions


@pytest.mark.parametrize(
    "given, message",
    [
        ([Eq(f[0] + t[0], 1)], "which the gradient is taken with respect to"),
        ([Eq(t[0] * t[1], 1)], "must be linear"),
        ([t[0] + t[1] - 1], "must hold equations"),
        ("t0 + t1 = 1", "list or tuple"),
        (Eq(t[0], 1), "list or tuple"),
    ],
)
def test_bad_constraints_are_precise_errors(given, message):
    with pytest.raises(VerificationInputError, match=message):
        verify(SOFT_TARGET_LOSS, f, SOFT_TARGET_GRADIENT, given=given)


# --- kinks -------------------------------------------------------------------------------------

RELU = Max(0, w * x + b)


def test_relu_gradient_with_an_indicator_is_proven_off_the_kink():
    verdict = verify(RELU, [w, b], [x * indicator(w * x + b > 0), indicator(w * x + b > 0)])
    assert verdict.status == "proven"
    assert verdict.except_where == (Eq(b + w * x, 0),)
    assert str(verdict) == "proven (kinks) except where b + w*x = 0"


def test_sympys_own_heaviside_is_proven_off_the_kink():
    # Identical to SymPy's derivative, yet the loss has no derivative on the kink (issue 13).
    verdict = verify(RELU, [w, b], [x * Heaviside(w * x + b), Heaviside(w * x + b)])
    assert verdict.status == "proven" and verdict.except_where == (Eq(b + w * x, 0),)
    assert str(verdict) == "proven (identical) except where b + w*x = 0"


def test_an_indicator_on_the_wrong_set_is_refuted_inside_that_set():
    verdict = verify(RELU, [w, b], [x * indicator(w * x + b > 1), indicator(w * x + b > 0)])
    assert verdict.status == "refuted"
    (failure,) = verdict.failures
    assert failure.variable == w
    score = (w * x + b).xreplace(failure.point)
    assert 0 < score < 1  # where 1[s > 0] and 1[s > 1] differ


def test_abs_derivative_is_sign_off_zero():
    assert verify(Abs(u), [u], [indicator(u > 0) - indicator(u < 0)]).except_where == (Eq(u, 0),)
    assert verify(Abs(u), [u], [sign(u)]).except_where == (Eq(u, 0),)  # identical, off the kink
    assert verify(Abs(u), [u], [1]).status == "refuted"


def test_log_abs_derivative_is_one_over_u():
    verdict = verify(log(Abs(u)), [u], [1 / u])
    assert verdict.status == "proven"
    assert verify(log(Abs(u)), [u], [1 / Abs(u)]).status == "refuted"


def test_log_abs_det_gradient_is_the_inverse_transpose():
    X = Matrix(3, 3, lambda i, j: Symbol(f"X{i}{j}", real=True))
    verdict = verify(log(Abs(X.det())), X, X.inv().T)
    assert verdict.status == "proven", str(verdict)
    assert verify(log(Abs(X.det())), X, X.inv()).status == "refuted"


def multiclass_svm(classes=3, features=2, label=0):
    W = Matrix(classes, features, lambda m, k: Symbol(f"w{m}{k}", real=True))
    xs = Matrix(features, 1, lambda k, _: Symbol(f"x{k}", real=True))
    scores = W * xs
    margins = [scores[j] - scores[label] + 1 for j in range(classes)]
    loss = Add(*[Max(0, margins[j]) for j in range(classes) if j != label])
    others = [j for j in range(classes) if j != label]

    def gradient(active):
        return Matrix(classes, features, lambda m, k: (
            -Add(*[active(j) for j in others]) if m == label else active(m)) * xs[k])

    return W, loss, margins, gradient


def test_cs231n_svm_hinge_gradient_with_margin_indicators_is_proven():
    W, loss, margins, gradient = multiclass_svm()
    verdict = verify(loss, W, gradient(lambda j: indicator(margins[j] > 0)))
    assert verdict.status == "proven", str(verdict)
    assert len(verdict.except_where) == 2  # one kink per other class


def test_svm_hinge_gradient_missing_the_label_rows_sum_is_refuted():
    W, loss, margins, gradient = multiclass_svm()
    verdict = verify(loss, W, gradient(lambda j: indicator(margins[j] > 1)))
    assert verdict.status == "refuted"


def two_layer_relu_network(hidden=2, classes=2, features=2, label=0):
    x_ = Matrix(features, 1, lambda k, _: Symbol(f"x{k}", real=True))
    W1 = Matrix(hidden, features, lambda i, k: Symbol(f"a{i}{k}", real=True))
    b1 = Matrix(hidden, 1, lambda i, _: Symbol(f"c{i}", real=True))
    W2 = Matrix(classes, hidden, lambda m, i: Symbol(f"v{m}{i}", real=True))
    h = (W1 * x_ + b1).applyfunc(lambda z: Max(0, z))
    scores = W2 * h
    partition = Add(*[exp(s) for s in scores])
    p = [exp(s) / partition for s in scores]
    loss = -log(p[label])
    upstream = W2.T * Matrix([p[m] - (1 if m == label else 0) for m in range(classes)])
    return W1, loss, h, upstream, x_


def test_two_layer_relu_first_layer_gradient_with_h_indicator_is_proven():
    W1, loss, h, upstream, x_ = two_layer_relu_network()
    claim = Matrix(*W1.shape, lambda i, k: upstream[i] * indicator(h[i] > 0) * x_[k])
    verdict = verify(loss, W1, claim)
    assert verdict.status == "proven", str(verdict)
    assert len(verdict.except_where) == 2


def test_two_layer_relu_without_the_relu_gate_is_refuted():
    W1, loss, h, upstream, x_ = two_layer_relu_network()
    claim = Matrix(*W1.shape, lambda i, k: upstream[i] * x_[k])
    assert verify(loss, W1, claim).status == "refuted"


# --- readable verdicts -------------------------------------------------------------------------


def test_a_counterexample_names_its_variable_and_only_the_symbols_it_depends_on():
    W = Matrix(3, 3, lambda i, j: Symbol(f"w{i}{j}", real=True))
    bias = Matrix(3, 1, lambda i, _: Symbol(f"b_{i}", real=True))
    xs = Matrix(3, 1, lambda i, _: Symbol(f"x{i}", real=True))
    loss = Add(*[(W * xs + bias)[i] ** 2 for i in range(3)]) / 2
    right = W * xs + bias
    wrong = right.copy()
    wrong[1] = 2 * wrong[1]
    verdict = verify(loss, bias, wrong)
    (failure,) = verdict.failures
    assert failure.variable == bias[1] and failure.entry == "dL/db_1"
    assert set(failure.point) == set(W.row(1)) | set(xs) | {bias[1]}
    assert str(failure).startswith("dL/db_1: at b_1 = ")


def test_a_transposed_claim_is_a_shape_error_that_says_the_transpose_would_hold():
    W = Matrix(2, 3, lambda i, j: Symbol(f"w{i}{j}", real=True))
    loss = Add(*[wij**2 for wij in W]) / 2
    with pytest.raises(VerificationInputError, match=r"shape \(3, 2\) but wrt has shape \(2, 3\).*transposed claim would be proven"):
        verify(loss, W, W.T)
    with pytest.raises(VerificationInputError, match="transposed claim would be refuted too"):
        verify(loss, W, 2 * W.T)


def test_vectors_pair_whatever_their_orientation_and_flat_lists_pair_row_major():
    W = Matrix(2, 2, lambda i, j: Symbol(f"w{i}{j}", real=True))
    loss = Add(*[wij**2 for wij in W]) / 2
    assert verify(loss, W, list(W)).status == "proven"
    v = Matrix(symbols("v0:3", real=True))
    assert verify(Add(*v) ** 2 / 2, v, Matrix([[Add(*v)] * 3])).status == "proven"


def test_verdict_summary_names_the_first_wrong_entry_and_counts_the_rest():
    verdict = verify(w**2 + b**2, [w, b], [w, b])
    text = str(verdict)
    assert text.startswith("refuted: dL/dw: at w = ")
    assert text.endswith("(and 1 more refuted entry)")


def test_a_complex_argument_is_no_kink():
    c = Symbol("c")  # complex to SymPy: |c| = sign(c) c only on the real line
    verdict = verify(Abs(c) * x, [x], [sign(c) * c])
    assert verdict.status == "refuted"
    assert verdict.failures[0].point[c].as_real_imag()[1] != 0


def test_undefined_functions_keep_their_assumptions():
    g = sympy.Function("g", positive=True)
    verdict = verify(g(x) * x, [x], [g(x) + 1])
    (failure,) = verdict.failures
    assert failure.opaque[g(x)] > 0
