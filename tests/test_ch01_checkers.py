"""Checkers of chapter 1: right answers written differently pass; plausible wrong ones fail clearly."""

import numpy as np
import pytest
import torch
from torch import nn

import answers_ch01_02 as answers
from helpers import assert_rejects_malformed, expect_fail, expect_pass
from relucourse import activations
from relucourse.data import xor
from relucourse.exercises import ch01


# -- 1.1 collapse -------------------------------------------------------------------
def collapse_right(W1, b1, W2, b2):
    return W2 @ W1, W2 @ b1 + b2


def collapse_right_einsum(W1, b1, W2, b2):
    W = np.einsum("ij,jk->ik", W2, W1)
    return W, (W2 @ b1[:, None]).ravel() + b2          # column-vector arithmetic


def collapse_right_by_probing(W1, b1, W2, b2):
    f = lambda x: W2 @ (W1 @ x + b1) + b2               # read the map off its values
    b = f(np.zeros(W1.shape[1]))
    W = np.stack([f(e) - b for e in np.eye(W1.shape[1])], axis=1)
    return list((W, b))


@pytest.mark.parametrize("answer", [collapse_right, collapse_right_einsum, collapse_right_by_probing])
def test_collapse_accepts(answer):
    expect_pass(ch01.check_collapse, answer)


@pytest.mark.parametrize("answer, hint", [
    (lambda W1, b1, W2, b2: (W1.T @ W2.T, W2 @ b1 + b2), "order matters"),     # transposed product
    (lambda W1, b1, W2, b2: (W2 @ W1, b1.sum() + b2), "passes through"),        # bias not mapped
    (lambda W1, b1, W2, b2: (W2 @ W1, W2 @ b1), "passes through"),              # second bias forgotten
    (lambda W1, b1, W2, b2: (W2 @ W1,), "pair"),                                # only W
])
def test_collapse_rejects(answer, hint):
    expect_fail(ch01.check_collapse, answer, mentions=(hint,), values=False)


def test_collapse_malformed():
    assert_rejects_malformed(ch01.check_collapse)


# -- 1.2 sigmoid, 1.3 tanh ----------------------------------------------------------------
def sigmoid_two_branches(x):
    x = np.asarray(x)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1 + ex)
    return out


def sigmoid_via_logaddexp(x):
    # 1 / (1 + e^-x) = exp(-log(1 + e^-x)) = exp(-logaddexp(0, -x))
    return np.exp(-np.logaddexp(0, -np.asarray(x)))


@pytest.mark.parametrize("answer", [sigmoid_two_branches, sigmoid_via_logaddexp])
def test_sigmoid_accepts(answer):
    expect_pass(ch01.check_sigmoid, answer)


def sigmoid_naive(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_where_both_branches(x):
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def sigmoid_upcasts(x):
    e = np.exp(-np.abs(np.asarray(x, dtype=np.float64)))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_naive_silenced(x):
    x = np.asarray(x)
    with np.errstate(all="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype)


def sigmoid_clipped(x):
    return (1 / (1 + np.exp(-np.clip(x, -30, 30)))).astype(np.asarray(x).dtype)


@pytest.mark.parametrize("answer, fragment", [
    (sigmoid_naive, "RuntimeWarning"),
    (sigmoid_where_both_branches, "RuntimeWarning"),
    (sigmoid_upcasts, "dtype float64"),
    (sigmoid_clipped, "values differ"),
    (sigmoid_naive_silenced, "values differ"),
    (lambda x: (0.5 * (1 + np.tanh(np.asarray(x) / 2))).astype(np.asarray(x).dtype), "values differ"),
])
def test_sigmoid_rejects(answer, fragment):
    expect_fail(ch01.check_sigmoid, answer, mentions=(fragment,), values=fragment == "values differ")


def test_sigmoid_malformed():
    assert_rejects_malformed(ch01.check_sigmoid)


def tanh_via_expm1(x):
    x = np.asarray(x)
    a = np.abs(x)
    return (np.sign(x) * -np.expm1(-2 * a) / (1 + np.exp(-2 * a))).astype(x.dtype)


def tanh_via_sinh_ratio_stable(x):
    x = np.asarray(x)
    a = np.abs(x).astype(np.float64)
    small = a < 0.5
    e = np.exp(-2 * np.where(small, 0.0, a))
    big = (1 - e) / (1 + e)
    series = np.where(small, np.expm1(2 * np.where(small, a, 0.0)), 0.0)
    tiny = series / (series + 2)
    return (np.sign(x) * np.where(small, tiny, big)).astype(x.dtype)


def tanh_linear_near_zero(x):
    x = np.asarray(x)
    a = np.abs(x)
    e = np.exp(-2 * a)
    return np.where(a < 0.01, x, np.sign(x) * (1 - e) / (1 + e)).astype(x.dtype)


@pytest.mark.parametrize("answer", [tanh_via_expm1, tanh_via_sinh_ratio_stable])
def test_tanh_accepts(answer):
    expect_pass(ch01.check_tanh, answer)


@pytest.mark.parametrize("answer, fragment", [
    (lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)), "RuntimeWarning"),
    (lambda x: (2 * answers.sigmoid_reference(2 * np.asarray(x)) - 1).astype(np.asarray(x).dtype),
     "values differ"),
    (lambda x: np.sinh(x) / np.cosh(x), "RuntimeWarning"),
    (lambda x: answers.tanh_reference(np.asarray(x, dtype=np.float64)), "dtype float64"),
    (lambda x: np.sign(x) * (1 - np.exp(-2 * np.abs(x))), "values differ"),  # 1 - e loses digits near 0
    (tanh_linear_near_zero, "values differ"),
])
def test_tanh_rejects(answer, fragment):
    expect_fail(ch01.check_tanh, answer, mentions=(fragment,), values=fragment == "values differ")


def test_tanh_malformed():
    assert_rejects_malformed(ch01.check_tanh)


def tanh_wrapping_numpy(x):
    x = np.asarray(x)
    return np.tanh(x)           # correct values, but the exercise forbids np.tanh


@pytest.mark.parametrize("answer, fragment", [
    (np.tanh, "library function numpy.tanh"),
    (activations.tanh, "library function relucourse.activations.tanh"),
    (tanh_wrapping_numpy, "calls numpy.tanh"),
])
def test_tanh_rejects_library_tanh(answer, fragment):
    msg = expect_fail(ch01.check_tanh, answer, mentions=(fragment,), values=False)
    assert "write it yourself" in msg or "asks you not to use" in msg
    assert np.tanh(0.5) == pytest.approx(0.46211715726)   # numpy's tanh is restored afterwards
    assert type(np.tanh) is np.ufunc


def test_sigmoid_rejects_library_sigmoid():
    expect_fail(ch01.check_sigmoid, activations.sigmoid,
                mentions=("library function relucourse.activations.sigmoid",), values=False)


def test_sigmoid_rejects_scipy_expit():
    from scipy.special import expit

    expect_fail(ch01.check_sigmoid, expit, mentions=("library function", "write it yourself"), values=False)


# -- 1.4 hand-built networks --------------------------------------------------------------
@pytest.mark.parametrize("params", [
    ([1.0, -1.0], [0.0, 0.0], [1.0, 1.0], 0.0),                        # relu(x) + relu(-x)
    (np.array([2.0, -1.0]), np.zeros(2), np.array([0.5, 1.0]), 0),     # relu(2x)/2 + relu(-x), int c
    ([1.0, -1.0, 3.0], [0.0, 0.0, -5.0], [1.0, 1.0, 0.0], 0.0),        # plus an unused unit
])
def test_abs_net_accepts(params):
    expect_pass(ch01.check_abs_net, lambda: params)


def test_abs_net_accepts_identity_trick():
    # |x| = 2 relu(x) - x, and x = relu(x) - relu(-x): three units, different weights
    expect_pass(ch01.check_abs_net, lambda: ([1.0, 1.0, -1.0], [0.0, 0.0, 0.0], [2.0, -1.0, 1.0], 0.0))


@pytest.mark.parametrize("params", [
    ([1.0], [0.0], [1.0], 0.0),                      # relu(x) only
    ([1.0, -1.0], [0.0, 0.0], [1.0, -1.0], 0.0),     # relu(x) - relu(-x) = x
    ([1.0, -1.0], [0.0, 0.0], [0.5, 0.5], 0.0),      # half of |x|
])
def test_abs_net_rejects(params):
    expect_fail(ch01.check_abs_net, lambda: params)


@pytest.mark.parametrize("params", [
    ([1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0], 0.0),
    ([-1.0, -1.0, -1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0], 0.0),   # mirrored units
    ([2.0, 1.0, 0.5], [2.0, 0.0, -0.5], [0.5, -2.0, 2.0], 0.0),     # rescaled units
])
def test_hat_net_accepts(params):
    expect_pass(ch01.check_hat_net, lambda: params)


@pytest.mark.parametrize("params", [
    ([1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -1.0, 1.0], 0.0),    # forgot the factor 2
    ([1.0, 1.0], [1.0, 0.0], [1.0, -2.0], 0.0),                    # no unit to flatten the right side
    ([1.0, -1.0], [0.0, 0.0], [-1.0, -1.0], 1.0),                  # 1 - |x|, not clipped at 0
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 0.0, -1.0, -5.0, -6.0, -7.0],
     [1.0, -2.0, 1.0, 1.0, -2.0, 1.0], 0.0),                        # hat plus a second bump at 6
])
def test_hat_net_rejects(params):
    expect_fail(ch01.check_hat_net, lambda: params)


def test_hand_nets_malformed():
    assert_rejects_malformed(ch01.check_abs_net)
    expect_fail(ch01.check_hat_net, lambda: ([1.0], [0.0]), mentions=("four things",), values=False)

    def my_hat():
        return [1.0], [0.0]

    # the message names the student's function, not "your function" (issue 13)
    msg = expect_fail(ch01.check_hat_net, my_hat, mentions=("my_hat() should return four things",),
                      values=False)
    assert "your function" not in msg
    expect_fail(ch01.check_hat_net, lambda: ([1.0, 2.0], [0.0], [1.0], 0.0), mentions=("one entry",),
                values=False)


# -- 1.5 counting pieces ------------------------------------------------------------------
def count_pieces_sorted(w, b, v, lo, hi):
    w, b, v = map(np.asarray, (w, b, v))
    keep = (w != 0) & (v != 0)
    t = -b[keep] / w[keep]
    change = v[keep] * np.abs(w[keep])
    inside = (t > lo) & (t < hi)
    t, change = t[inside], change[inside]
    positions = np.unique(t)
    total = [change[t == p].sum() for p in positions]
    return int(1 + np.count_nonzero(total))


def count_pieces_by_slopes(w, b, v, lo, hi):
    # Evaluate slopes just left and right of every candidate point (all kinks use exact numbers)
    w, b, v = map(np.asarray, (w, b, v))
    cand = sorted({-bj / wj for wj, bj in zip(w, b) if wj != 0 and lo < -bj / wj < hi})
    def slope(x):
        return float(np.sum(v * w * ((w * x + b) > 0)))
    pieces = 1
    for t in cand:
        if slope(t - 1e-9) != slope(t + 1e-9):
            pieces += 1
    return pieces


@pytest.mark.parametrize("answer", [count_pieces_sorted, count_pieces_by_slopes])
def test_count_pieces_accepts(answer):
    expect_pass(ch01.check_count_pieces, answer)


def count_units_plus_one(w, b, v, lo, hi):
    return len(w) + 1


def count_ignores_interval(w, b, v, lo, hi):
    return 1 + sum(1 for wj, vj in zip(w, v) if wj != 0 and vj != 0)


def count_ignores_cancellation(w, b, v, lo, hi):
    ts = {-bj / wj for wj, bj, vj in zip(w, b, v) if wj != 0 and vj != 0 and lo < -bj / wj < hi}
    return 1 + len(ts)


def count_includes_endpoints(w, b, v, lo, hi):
    ts = {}
    for wj, bj, vj in zip(w, b, v):
        if wj != 0 and vj != 0 and lo <= -bj / wj <= hi:
            ts[-bj / wj] = ts.get(-bj / wj, 0) + vj * abs(wj)
    return 1 + sum(1 for s in ts.values() if s != 0)


def count_signed_slope_change(w, b, v, lo, hi):
    ts = {}
    for wj, bj, vj in zip(w, b, v):
        if wj != 0 and vj != 0 and lo < -bj / wj < hi:
            ts[-bj / wj] = ts.get(-bj / wj, 0) + vj * wj      # should be v * |w|
    return 1 + sum(1 for s in ts.values() if s != 0)


@pytest.mark.parametrize("answer", [count_units_plus_one, count_ignores_interval, count_ignores_cancellation,
                                    count_includes_endpoints, count_signed_slope_change])
def test_count_pieces_rejects(answer):
    expect_fail(ch01.check_count_pieces, answer)


def test_count_pieces_stored_answers_are_right():
    for name, w, b, v, lo, hi, expected in ch01._piece_cases():
        assert answers.count_pieces_reference(w, b, v, lo, hi) == expected, name


def test_count_pieces_accepts_the_reference():
    expect_pass(ch01.check_count_pieces, answers.count_pieces_reference)


@pytest.mark.parametrize("checker, wrapper, named", [
    (ch01.check_sigmoid, lambda x: activations.sigmoid(x), "relucourse.activations.sigmoid"),
    (ch01.check_tanh, lambda x: activations.tanh(x), "relucourse.activations.tanh"),
    (ch01.check_collapse, lambda W1, b1, W2, b2: (W2 @ W1, W2 @ b1 + b2) if activations.relu(b1) is None else
     (W2 @ W1, W2 @ b1 + b2), "relucourse.activations.relu"),
])
def test_wrappers_of_the_course_code_are_rejected(checker, wrapper, named):
    expect_fail(checker, wrapper, values=False, mentions=(f"calls {named}",))


def test_a_tensor_is_not_a_numpy_array():
    expect_fail(ch01.check_sigmoid, lambda x: torch.sigmoid(torch.from_numpy(np.asarray(x))), values=False,
                mentions=("should be a NumPy array (numpy.ndarray), but it is a torch.Tensor",))


def test_collapse_must_not_change_its_inputs():
    def collapse_in_place(W1, b1, W2, b2):
        b2 += W2 @ b1
        return W2 @ W1, b2
    expect_fail(ch01.check_collapse, collapse_in_place, mentions=("changed its input b2 in place",))


def test_count_pieces_wants_a_python_int():
    expect_fail(ch01.check_count_pieces, lambda *a: np.int64(answers.count_pieces_reference(*a)),
                mentions=("should return an int (a Python int), but it returned a numpy.int64",))


def test_count_pieces_malformed():
    assert_rejects_malformed(ch01.check_count_pieces)
    expect_fail(ch01.check_count_pieces, lambda *a: 3.0, mentions=("should return an int",))


# -- 1.6 XOR ---------------------------------------------------------------------------------
def _train(model, steps=300, lr=0.05):
    torch.manual_seed(1)
    X, y = map(torch.from_numpy, xor(400, seed=7))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model


def test_xor_accepts_relu_and_tanh_models():
    torch.manual_seed(0)
    expect_pass(ch01.check_xor_model, lambda: _train(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))))
    torch.manual_seed(0)
    expect_pass(ch01.check_xor_model, lambda: _train(nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 2))))


@pytest.mark.parametrize("make, fragment", [
    (lambda: _train(nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 2))), "accuracy"),       # no activation
    (lambda: nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)), "accuracy"),    # never trained
    (lambda: _train(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)), steps=1) if False else
     nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)), "shape"),               # one output
    (lambda: nn.Linear(2, 2), "accuracy"),                                               # logistic regression
])
def test_xor_rejects(make, fragment):
    torch.manual_seed(0)
    expect_fail(ch01.check_xor_model, make, mentions=(fragment,), values=False)


class _SoftmaxHead(nn.Module):
    """A trained XOR model whose forward ends in a softmax (probabilities, not logits)."""

    def __init__(self):
        super().__init__()
        self.net = _train(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)))

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def test_xor_rejects_softmax_outputs():
    torch.manual_seed(0)
    make = lambda: nn.Sequential(_train(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))),
                                 nn.Softmax(dim=1))
    msg = expect_fail(ch01.check_xor_model, make, mentions=("probabilities", "logits", "softmax"))
    assert "cross_entropy" in msg
    torch.manual_seed(0)
    expect_fail(ch01.check_xor_model, _SoftmaxHead, mentions=("probabilities",))


def test_xor_accepts_log_softmax_outputs():
    # log-probabilities are logits too (softmax of them gives the same probabilities)
    torch.manual_seed(0)
    expect_pass(ch01.check_xor_model, lambda: nn.Sequential(
        _train(nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))), nn.LogSoftmax(dim=1)))


def test_no_answer_importable_from_ch01():
    public = {k for k in vars(ch01) if not k.startswith("__")}
    assert not {"count_pieces_reference", "_sigmoid_reference", "sigmoid", "relu", "tanh"} & public


def test_xor_malformed():
    assert_rejects_malformed(ch01.check_xor_model)
