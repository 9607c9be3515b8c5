"""Checkers of chapter 3: right answers written differently pass; plausible wrong ones fail clearly."""

import functools

import numpy as np
import pytest
import torch
from torch import nn

import answers_ch03_04 as answers
from helpers import assert_rejects_malformed, expect_fail, expect_pass
from relucourse import activations
from relucourse.activations import sigmoid
from relucourse.data import digits
from relucourse.exercises import ch03
from relucourse.gradients import layer_grad_norms, second_moments
from relucourse.training import mlp


# -- 3.1 relu_backward ------------------------------------------------------------------
def _torch_relu_backward(g, x):
    t = torch.tensor(x, requires_grad=True)
    torch.relu(t).backward(torch.tensor(g))
    return t.grad                                  # a tensor


@pytest.mark.parametrize("answer", [
    lambda g, x: np.where(x > 0, g, 0),
    lambda g, x: g * (x > 0),
    lambda g, x: g * np.heaviside(x, 0.0),         # float64 result, same values
    _torch_relu_backward,                          # via autograd
])
def test_relu_backward_accepts(answer):
    expect_pass(ch03.check_relu_backward, answer)


@pytest.mark.parametrize("answer", [
    lambda g, x: g * (x >= 0),                     # derivative 1 at 0
    lambda g, x: (x > 0).astype(g.dtype),          # forgets the incoming gradient
    lambda g, x: g * np.maximum(x, 0),             # multiplies by relu(x), not relu'(x)
    lambda g, x: np.where(x > 0, g, 0.5 * g * (x == 0)),  # 0.5 at the kink
])
def test_relu_backward_rejects(answer):
    expect_fail(ch03.check_relu_backward, answer)


def test_relu_backward_malformed():
    assert_rejects_malformed(ch03.check_relu_backward)


# -- 3.2 sigmoid and tanh derivatives ---------------------------------------------------------
@pytest.mark.parametrize("answer", [
    lambda x: sigmoid(x) * (1 - sigmoid(x)),
    lambda x: sigmoid(x) * sigmoid(-x),                                  # 1 - s(x) = s(-x), no cancellation
    lambda x: 0.25 / np.cosh(np.asarray(x) / 2) ** 2,
    lambda x: np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2,          # symmetric form
])
def test_sigmoid_derivative_accepts(answer):
    expect_pass(ch03.check_sigmoid_derivative, answer)


@pytest.mark.parametrize("answer", [
    lambda x: sigmoid(x) * (1 + sigmoid(x)),
    lambda x: 1 - sigmoid(x) ** 2,                 # tanh's formula applied to the sigmoid
    lambda x: np.exp(-x) / (1 + np.exp(-x)),       # forgot the square
    lambda x: sigmoid(x) * (1 - sigmoid(x)) * x,
])
def test_sigmoid_derivative_rejects(answer):
    expect_fail(ch03.check_sigmoid_derivative, answer)


@pytest.mark.parametrize("answer", [
    lambda x: 1 - np.tanh(x) ** 2,
    lambda x: 1 / np.cosh(x) ** 2,
    lambda x: 4 * sigmoid(2 * np.asarray(x)) * sigmoid(-2 * np.asarray(x)),   # from tanh = 2 s(2x) - 1
])
def test_tanh_derivative_accepts(answer):
    expect_pass(ch03.check_tanh_derivative, answer)


@pytest.mark.parametrize("answer", [
    lambda x: 1 - np.tanh(x),                      # forgot the square
    lambda x: 1 / np.cosh(x),                      # sech, not sech^2
    lambda x: 1 + np.tanh(x) ** 2,                 # sign error
    lambda x: sigmoid(x) * (1 - sigmoid(x)),       # the sigmoid's derivative
])
def test_tanh_derivative_rejects(answer):
    expect_fail(ch03.check_tanh_derivative, answer)


def test_derivatives_malformed():
    assert_rejects_malformed(ch03.check_sigmoid_derivative)
    assert_rejects_malformed(ch03.check_tanh_derivative)


# -- 3.3 backward pass of a two-layer network -----------------------------------------------
def _forward(X, W1, b1, W2, b2):
    Z1 = X @ W1.T + b1
    A1 = np.maximum(Z1, 0)
    return Z1, A1, A1 @ W2.T + b2


def _softmax(logits):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def mlp_backward_right(X, y, W1, b1, W2, b2, *, mask=lambda Z: Z > 0, scale=True, onehot=True, transpose=False):
    Z1, A1, logits = _forward(X, W1, b1, W2, b2)
    n = len(y)
    d = _softmax(logits)
    if onehot:
        d[np.arange(n), y] -= 1
    if scale:
        d /= n
    dZ1 = (d @ W2) * mask(Z1)
    dW1, dW2 = dZ1.T @ X, d.T @ A1
    if transpose:
        dW1, dW2 = dW1.T, dW2.T
    return dW1, dZ1.sum(0), dW2, d.sum(0)


def mlp_backward_einsum(X, y, W1, b1, W2, b2):
    """Different bookkeeping: one-hot matrix, einsum, a list instead of a tuple."""
    Z1, A1, logits = _forward(X, W1, b1, W2, b2)
    Y = np.eye(W2.shape[0])[y]
    d = (_softmax(logits) - Y) / X.shape[0]
    dZ1 = np.einsum("nk,kh->nh", d, W2) * np.heaviside(Z1, 0.0)
    return [np.einsum("nh,nd->hd", dZ1, X), dZ1.sum(0), np.einsum("nk,nh->kh", d, A1), d.sum(0)]


def mlp_backward_torch(X, y, W1, b1, W2, b2):
    return answers.mlp_backward_reference(X, y, W1, b1, W2, b2)


@pytest.mark.parametrize("answer", [mlp_backward_right, mlp_backward_einsum])
def test_mlp_backward_accepts(answer):
    expect_pass(ch03.check_mlp_backward, answer)


def test_mlp_backward_rejects_autograd():
    # Exercise 3.3 asks for the backward pass by hand, in NumPy: autograd's
    # gradients are right but are not the answer, and the message says why.
    expect_fail(ch03.check_mlp_backward, mlp_backward_torch, values=False,
                mentions=("calls torch", "PyTorch", "NumPy"))


@pytest.mark.parametrize("kwargs", [
    {"mask": lambda Z: Z >= 0},                    # ReLU'(0) = 1
    {"mask": lambda Z: np.ones_like(Z)},           # no ReLU mask at all
    {"scale": False},                              # forgot the 1/n of the mean
    {"onehot": False},                             # softmax without subtracting the one-hot labels
    {"transpose": True},                           # gradients transposed (wrong shape)
])
def test_mlp_backward_rejects(kwargs):
    expect_fail(ch03.check_mlp_backward, lambda *a: mlp_backward_right(*a, **kwargs))


def _mlp_backward_shifted(shift):
    def answer(X, y, W1, b1, W2, b2):
        Z1, A1, logits = _forward(X, W1, b1, W2, b2)
        p = np.exp(shift(logits))
        d = p / p.sum(axis=1, keepdims=True)
        d[np.arange(len(y)), y] -= 1
        d /= len(y)
        dZ1 = (d @ W2) * (Z1 > 0)
        return dZ1.T @ X, dZ1.sum(0), d.T @ A1, d.sum(0)
    return answer


@pytest.mark.parametrize("shift", [
    lambda z: z,                                      # no shift: exp overflows for large logits
    lambda z: z + z.max(axis=1, keepdims=True),       # surviving mutants of the mutation test (issue 13)
    lambda z: z - z.min(axis=1, keepdims=True),
])
def test_mlp_backward_rejects_a_softmax_that_overflows(shift):
    expect_fail(ch03.check_mlp_backward, _mlp_backward_shifted(shift), mentions=("large logits", "maximum"))


def test_mlp_backward_accepts_other_safe_shifts():
    # any per-row shift that keeps exp finite is right, e.g. the logsumexp
    lse = lambda z: z - np.logaddexp.reduce(z, axis=1, keepdims=True)   # noqa: E731
    expect_pass(ch03.check_mlp_backward, _mlp_backward_shifted(lse))


def test_mlp_backward_malformed():
    assert_rejects_malformed(ch03.check_mlp_backward)
    expect_fail(ch03.check_mlp_backward, lambda *a: mlp_backward_right(*a)[:2], mentions=("four gradients",))


# -- 3.4 He initialisation ---------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    lambda n: (2 / n) ** 0.5,
    lambda n: np.sqrt(2.0) / np.sqrt(n),
    lambda n: torch.tensor(2.0 / n).sqrt(),        # a 0-d tensor
    lambda n: nn.init.calculate_gain("relu") / np.sqrt(n),
])
def test_he_std_accepts(answer):
    expect_pass(ch03.check_he_std, answer)


@pytest.mark.parametrize("answer", [
    lambda n: 2 / n,                               # the variance, not the standard deviation
    lambda n: np.sqrt(1 / n),                      # LeCun / Xavier for square layers
    lambda n: np.sqrt(2) / n,
    lambda n: np.sqrt(1 / (3 * n)),                # PyTorch's nn.Linear default
])
def test_he_std_rejects(answer):
    expect_fail(ch03.check_he_std, answer)


@pytest.mark.parametrize("answer", [
    lambda s, n: n * s ** 2 / 2,
    lambda s, n: 0.5 * n * s * s,
    lambda s, n: (s / np.sqrt(2 / n)) ** 2,        # relative to He's standard deviation
])
def test_layer_gain_accepts(answer):
    expect_pass(ch03.check_layer_gain, answer)


@pytest.mark.parametrize("answer", [
    lambda s, n: n * s ** 2,                       # forgot ReLU's factor 1/2
    lambda s, n: n * s / 2,                        # std used as a variance
    lambda s, n: n * s ** 2 * (0.5 - 1 / (2 * np.pi)),  # ReLU's variance instead of its second moment
    lambda s, n: np.sqrt(n / 2) * s,               # the gain of the standard deviation
])
def test_layer_gain_rejects(answer):
    expect_fail(ch03.check_layer_gain, answer)


def test_he_malformed():
    assert_rejects_malformed(ch03.check_he_std)
    assert_rejects_malformed(ch03.check_layer_gain)


# -- 3.5 predict and measure the activation scale ------------------------------------------------
@pytest.mark.parametrize("answer", [
    lambda s, w, d: (w * s ** 2 / 2) ** d,
    lambda s, w, d: float(np.exp(d * np.log(w * s * s / 2))),
])
def test_predict_scale_accepts(answer):
    expect_pass(ch03.check_predict_scale, answer)


@pytest.mark.parametrize("answer", [
    lambda s, w, d: (w * s ** 2) ** d,             # no factor 1/2
    lambda s, w, d: (w * s ** 2 / 2) ** (d - 1),   # off by one layer
    lambda s, w, d: d * w * s ** 2 / 2,            # added, not multiplied
])
def test_predict_scale_rejects(answer):
    expect_fail(ch03.check_predict_scale, answer)


def measure_numpy(std, width, depth, seed, *, pre=False, relu=True, var_as_std=False, variance=False):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((256, width))
    out = []
    for _ in range(depth):
        W = rng.normal(0.0, std ** 2 if var_as_std else std, (width, width))
        z = h @ W.T
        h = np.maximum(z, 0) if relu else z
        t = z if pre else h
        out.append(t.var() if variance else np.mean(t ** 2))
    return np.array(out)


def measure_torch(std, width, depth, seed):
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(300, width, generator=gen)              # float32, more inputs, columns = units
    out = []
    for _ in range(depth):
        layer = nn.Linear(width, width, bias=False)
        with torch.no_grad():
            layer.weight.normal_(0.0, std, generator=gen)
            h = torch.relu(layer(h))
        out.append(h.pow(2).mean().item())
    return out                                               # a list


@pytest.mark.parametrize("answer", [measure_numpy, measure_torch, lambda *a: measure_numpy(*a[:3], a[3] + 1000)])
def test_measure_scale_accepts(answer):
    expect_pass(ch03.check_measure_scale, answer)


@pytest.mark.parametrize("kwargs", [{"pre": True}, {"relu": False}, {"var_as_std": True}, {"variance": True}])
def test_measure_scale_rejects(kwargs):
    expect_fail(ch03.check_measure_scale, lambda *a: measure_numpy(*a, **kwargs))


def test_measure_scale_off_by_one_names_the_cause():
    def shifted(std, width, depth, seed):       # records the input's mean square first, drops the last layer
        q = measure_numpy(std, width, depth, seed)
        return np.concatenate([[1.0], q[:-1]])
    expect_fail(ch03.check_measure_scale, shifted, mentions=("shifted by one layer",))
    expect_fail(ch03.check_measure_scale, lambda *a: measure_numpy(*a, pre=True), mentions=("*before* the ReLU",))


def test_measure_scale_rejects_wrong_length():
    expect_fail(ch03.check_measure_scale, lambda s, w, d, seed: np.ones(d + 1), mentions=("shape",))


def test_measure_scale_malformed():
    assert_rejects_malformed(ch03.check_measure_scale)


# -- 3.6 the depth at which the gradient vanishes --------------------------------------------------
_D = digits()
_X = torch.from_numpy(_D.X_train[:256]).double()
_Y = torch.from_numpy(_D.y_train[:256])


@functools.lru_cache(maxsize=None)
def _norm(depth, *, layer=0, reduction="mean", activation=nn.Sigmoid, width=32, outputs=10, seed=0):
    model = mlp([64] + [width] * depth + [outputs], activation, seed=seed).double()
    nn.functional.cross_entropy(model(_X), _Y, reduction=reduction).backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return linears[layer].weight.grad.norm().item()


def vanishing_loop(threshold, first=1, **kwargs):
    for depth in range(first, 21):
        if _norm(depth, **kwargs) < threshold:
            return depth
    return 20


@functools.lru_cache(maxsize=None)
def _helper_norms():
    return [layer_grad_norms(mlp([64] + [32] * d + [10], nn.Sigmoid, seed=0).double(), _X, _Y)[0]
            for d in range(1, 21)]


def vanishing_with_helper(threshold):
    norms = _helper_norms()
    return int(np.flatnonzero(np.array(norms) < threshold)[0]) + 1   # numpy int + 1


def test_vanishing_depth_accepts():
    expect_pass(ch03.check_vanishing_depth, vanishing_loop)
    expect_pass(ch03.check_vanishing_depth, vanishing_with_helper)


@pytest.mark.parametrize("answer", [
    lambda t: vanishing_loop(t) - 1,                              # last depth above the threshold
    lambda t: vanishing_loop(t, reduction="sum"),                 # summed loss: norms 256 times larger
    lambda t: vanishing_loop(t, layer=-1),                        # the last layer's gradient
    lambda t: vanishing_loop(t, activation=nn.ReLU),              # the wrong activation
])
def test_vanishing_depth_rejects(answer):
    expect_fail(ch03.check_vanishing_depth, answer)


@pytest.mark.parametrize("answer, mention", [
    # surviving mutants of the mutation test (issue 13): networks whose norms are 0.4% to 40% off
    (lambda t: vanishing_loop(t, width=64), "only 0.2%"),        # hidden width 64
    (lambda t: vanishing_loop(t, outputs=11), "only 0.2%"),      # 11 outputs
    (lambda t: vanishing_loop(t, outputs=20), "only 0.2%"),      # 20 outputs
    (lambda t: vanishing_loop(t, seed=1), "only 0.2%"),          # another seed
    (lambda t: vanishing_loop(t, first=2), "depth 0"),           # never answers 1
])
def test_vanishing_depth_rejects_slightly_different_networks(answer, mention):
    expect_fail(ch03.check_vanishing_depth, answer, mentions=(mention,))


def _norm_with_depth_0(depth):
    model = mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0).double()   # depth 0: one Linear layer
    nn.functional.cross_entropy(model(_X), _Y).backward()
    return model[0].weight.grad.norm().item()


def test_vanishing_depth_rejects_starting_at_depth_0():
    answer = lambda t: next(d for d in range(0, 21) if _norm_with_depth_0(d) < t)   # noqa: E731
    expect_fail(ch03.check_vanishing_depth, answer, mentions=("depth 0",))


def test_pinned_thresholds_are_far_wider_than_the_stored_precision():
    # the pins sit 0.2% from the stored norms; the stored 8 digits and float32 agree far better
    norms = np.array(ch03._FIRST_LAYER_NORMS)
    full = np.array(answers.first_layer_grad_norms())
    assert np.max(np.abs(norms / full - 1)) < 1e-7
    f32 = np.array([_first_layer_norm_float32(d) for d in ch03._PINNED_DEPTHS])
    assert np.max(np.abs(f32 / full[np.array(ch03._PINNED_DEPTHS) - 1] - 1)) < ch03._PIN_MARGIN / 20


def test_vanishing_depth_malformed():
    assert_rejects_malformed(ch03.check_vanishing_depth)
    expect_fail(ch03.check_vanishing_depth, lambda t: float(vanishing_loop(t)), mentions=("should return an int",))


def test_stored_first_layer_norms_are_right():
    # the checker stores these (no importable function computes the answer); recompute them here
    assert ch03._FIRST_LAYER_NORMS == pytest.approx(answers.first_layer_grad_norms(), rel=1e-7)


def test_vanishing_thresholds_are_not_borderline():
    norms = np.array(ch03._FIRST_LAYER_NORMS)
    for t in ch03._THRESHOLDS:
        assert np.min(np.abs(np.log(norms / t))) > np.log(1.5), t


# -- Regression cases found in review ------------------------------------------------------------
def _relu_backward_in_place(g, x):
    g[x <= 0] = 0                                  # right values, but zeroes the caller's grad_out
    return g


@pytest.mark.parametrize("answer", [
    lambda g, x: (g * (x > 0)).tolist(),           # a nested list, not an array
])
def test_relu_backward_accepts_other_containers(answer):
    expect_pass(ch03.check_relu_backward, answer)


def test_relu_backward_rejects_zeroing_grad_out_in_place():
    """Issue 17: accepted before (listed above as a right answer): it changes the caller's grad_out."""
    expect_fail(ch03.check_relu_backward, _relu_backward_in_place,
                mentions=("changed its input grad_out in place", "grad_out before the call"))


# -- Issue 17: wrappers around the course's code, and the types asked for -------------------------
@pytest.mark.parametrize("checker, wrapper, named", [
    (ch03.check_relu_backward, lambda g, x: g * activations.relu_grad(x), "relucourse.activations.relu_grad"),
    (ch03.check_sigmoid_derivative, lambda x: activations.sigmoid_grad(x), "relucourse.activations.sigmoid_grad"),
    (ch03.check_tanh_derivative, lambda x: activations.tanh_grad(x), "relucourse.activations.tanh_grad"),
    (ch03.check_sigmoid_derivative,
     lambda x: (lambda s: (s * (1 - s)).numpy())(torch.sigmoid(torch.from_numpy(x))), "torch"),
    (ch03.check_measure_scale,
     lambda std, width, depth, seed: second_moments(depth, width, std ** 2 * width, n_inputs=256, seed=seed)[1:],
     "relucourse.gradients.second_moments"),
])
def test_wrappers_are_rejected(checker, wrapper, named):
    expect_fail(checker, wrapper, values=False, mentions=(f"calls {named}", "Write the computation yourself"))


def _dsigmoid_with_the_course_sigmoid(x):
    s = sigmoid(x)                                 # allowed by the statement
    return s * (1 - s)


def test_derivatives_may_use_the_course_sigmoid_and_np_tanh():
    expect_pass(ch03.check_sigmoid_derivative, _dsigmoid_with_the_course_sigmoid)
    expect_pass(ch03.check_tanh_derivative, lambda x: 1 - activations.tanh(x) ** 2)
    expect_pass(ch03.check_tanh_derivative, lambda x: 1 - np.tanh(x) ** 2)


def test_derivative_as_a_tensor_is_rejected():
    # Making the tensor calls torch, which the statement forbids here; a tensor made
    # elsewhere and returned is rejected for its type.
    expect_fail(ch03.check_tanh_derivative, lambda x: torch.from_numpy(1 - np.tanh(x) ** 2),
                values=False, mentions=("calls torch.from_numpy",))
    made = {}
    for _, x in ch03._derivative_inputs():
        made[x.tobytes()] = torch.from_numpy(1 - np.tanh(x) ** 2)
    expect_fail(ch03.check_tanh_derivative, lambda x: made[x.tobytes()],
                mentions=("should be a NumPy array (numpy.ndarray), but it is a torch.Tensor",))


def test_vanishing_depth_wants_a_python_int():
    expect_fail(ch03.check_vanishing_depth, lambda t: np.int64(vanishing_loop(t)),
                mentions=("should return an int (a Python int), but it returned a numpy.int64",))


def _vanishing_last_layer(threshold):
    for depth in range(1, 21):                     # the last layer's norm never falls below: no return
        if _norm(depth, layer=-1) < threshold:
            return depth


def test_vanishing_depth_explains_none_from_the_last_layer():
    expect_fail(ch03.check_vanishing_depth, _vanishing_last_layer,
                mentions=("returned None", "loop ended without a `return`", "*first* layer"))


def _measure_reseeded(std, width, depth, seed):
    h = np.random.default_rng(seed).standard_normal((256, width))
    out = []
    for _ in range(depth):
        W = np.random.default_rng(seed).normal(0.0, std, (width, width))   # the same numbers as h
        h = np.maximum(h @ W.T, 0)
        out.append(np.mean(h ** 2))
    return np.array(out)


def test_measure_scale_reseeded_generator_names_the_cause():
    msg = expect_fail(ch03.check_measure_scale, _measure_reseeded, mentions=("same seed",))
    assert "variance" not in msg
    expect_fail(ch03.check_measure_scale, lambda *a: measure_numpy(*a, variance=True),
                mentions=("(1 - 1/pi)", "variance"))


def test_relu_backward_rejects_sign_bit_mask():
    # treats +0.0 as positive (derivative 1 there): caught by the exact zeros in the cases
    expect_fail(ch03.check_relu_backward, lambda g, x: np.where(np.signbit(x), 0, g))


def test_mlp_backward_accepts_mask_from_activations():
    # the mask computed from A1 = relu(Z1) > 0 instead of Z1 > 0: the same thing
    expect_pass(ch03.check_mlp_backward,
                lambda *a: mlp_backward_right(*a, mask=lambda Z: np.maximum(Z, 0) > 0))


def _reordered(*a):
    dW1, db1, dW2, db2 = mlp_backward_right(*a)
    return dW2, db2, dW1, db1


def _bias_grads_2d(*a):
    dW1, db1, dW2, db2 = mlp_backward_right(*a)
    return dW1, db1[None, :], dW2, db2[None, :]    # right values, shape (1, h) instead of (h,)


@pytest.mark.parametrize("answer", [_reordered, _bias_grads_2d])
def test_mlp_backward_rejects_wrong_order_and_shape(answer):
    expect_fail(ch03.check_mlp_backward, answer, mentions=("shape",))


def measure_same_matrix(std, width, depth, seed):
    """Wrong: one weight matrix reused for every layer."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((256, width))
    W = rng.normal(0.0, std, (width, width))
    out = []
    for _ in range(depth):
        h = np.maximum(h @ W.T, 0)
        out.append(np.mean(h ** 2))
    return np.array(out)


def measure_with_bias(std, width, depth, seed):
    """Wrong: adds random biases, which the exercise's stack does not have."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((256, width))
    out = []
    for _ in range(depth):
        h = np.maximum(h @ rng.normal(0.0, std, (width, width)).T + rng.normal(0, 0.1, width), 0)
        out.append(np.mean(h ** 2))
    return np.array(out)


@pytest.mark.parametrize("answer", [measure_same_matrix, measure_with_bias,
                                    lambda *a: np.sqrt(measure_numpy(*a))])   # root mean square
def test_measure_scale_rejects_review_cases(answer):
    expect_fail(ch03.check_measure_scale, answer)


def test_measure_scale_accepts_many_seeds():
    # a correct measurement must not be rejected by bad luck: try several unrelated seeds
    for offset in (17, 4242, 99991):
        expect_pass(ch03.check_measure_scale, lambda s, w, d, seed: measure_numpy(s, w, d, seed + offset))


def _first_layer_max_abs(depth):
    model = mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0).double()
    nn.functional.cross_entropy(model(_X), _Y).backward()
    return model[0].weight.grad.abs().max().item()


def _first_layer_norm_xavier(depth):
    model = mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0, init="xavier").double()
    nn.functional.cross_entropy(model(_X), _Y).backward()
    return model[0].weight.grad.norm().item()


def _first_layer_norm_float32(depth):
    model = mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0)
    nn.functional.cross_entropy(model(_X.float()), _Y).backward()
    return model[0].weight.grad.norm().item()


def _smallest_depth(measure, threshold):
    return next((d for d in range(1, 21) if measure(d) < threshold), 20)


def test_vanishing_depth_accepts_float32():
    expect_pass(ch03.check_vanishing_depth, lambda t: _smallest_depth(_first_layer_norm_float32, t))


@pytest.mark.parametrize("measure", [_first_layer_max_abs, _first_layer_norm_xavier])
def test_vanishing_depth_rejects_review_cases(measure):
    # the largest entry instead of the Frobenius norm; Xavier instead of the default initialisation
    expect_fail(ch03.check_vanishing_depth, lambda t: _smallest_depth(measure, t))


# -- Library functions handed over as the answer (issue 12) ------------------------------------------
@pytest.mark.parametrize("check, library", [
    (ch03.check_sigmoid_derivative, activations.sigmoid_grad),
    (ch03.check_tanh_derivative, activations.tanh_grad),
])
def test_derivative_rejects_library_function(check, library):
    expect_fail(check, library, mentions=("passed as it is", "yourself"), values=False)


def test_no_answers_importable_from_the_package():
    for name in ("mlp_backward_reference", "first_layer_grad_norms"):
        assert not hasattr(ch03, name), name
