"""The NumPy reference activations against PyTorch, on an edge-case grid, in float32 and float64.

For every function of :mod:`relucourse.activations` and several parameter values:

* the forward value matches ``torch.nn.functional`` (or the formula written in torch where
  PyTorch has no such function: Swish with beta, squared ReLU);
* the ``*_grad`` derivative matches PyTorch's autograd, including the value PyTorch picks at
  each kink;
* the dtype and shape are kept, and no floating-point warning is raised (``np.errstate`` is set
  to raise, and pytest turns warnings into errors);
* NaN in gives NaN out, also for the derivatives (PyTorch's autograd returns various numbers at
  NaN: 1 for ReLU6, 0.01 for LeakyReLU, ..., which we do not copy);
* where PyTorch returns NaN for an input that is not NaN (GELU, SiLU, Mish and Hardswish at
  -inf; the derivatives of GELU, SiLU and Mish at +inf), our value is the limit: it equals our
  value at the largest finite number of the same sign.

Tolerances, as |ours - torch| <= atol + rtol * |torch| (per function, see ``TOL``): float64 uses
rtol 1e-12 (GELU's tanh form 1e-9: PyTorch computes 1 + tanh(u), which cancels for negative x;
we compute the equal 2 sigmoid(2u)), float32 uses rtol 2e-6 (1e-4 for the tanh form and for the
gated ones' derivatives, which multiply several rounded factors); atol is 1e-300 / 1e-37 except
where PyTorch's formula cancels or underflows in a tail: GELU and Mish 1e-15 in float64 (1e-13
for the tanh form's derivative) and 1e-6 in float32 (GELU) or 1e-7 (Mish); SiLU and Swish 1e-30
in float32, where PyTorch's exp(-x) overflows to inf for x < -88 and returns -0 for a value of
order 1e-37. PyTorch's float64 Hardsigmoid derivative is 1/6 rounded to float32, hence rtol 1e-7.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from relucourse import activations as A

DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def grid(dtype) -> np.ndarray:
    """Edge cases: +-inf, NaN, -0.0, huge and tiny magnitudes, every kink, and a dense middle."""
    big = np.finfo(dtype).max
    special = [-np.inf, np.inf, np.nan, -0.0, 0.0, big, -big, 1e30, -1e30, 1e10, -1e10, 1e4, -1e4,
               1e3, -1e3, 745.5, -745.5, 710.0, -710.0, 100.0, -100.0, 89.0, -89.0, 88.7, -88.7,
               40.0, -40.0, 20.0, -20.0, 10.0001, 10.0, 9.999, 6.0, -6.0, 3.0, -3.0, 1e-8, -1e-8,
               1e-30, -1e-30]
    dense = np.linspace(-12, 12, 481)
    return np.concatenate([special, dense]).astype(dtype)


def torch_swish(x, beta=1.0):
    return x * torch.sigmoid(beta * x)


# name: (ours, ours_grad, torch function, list of keyword sets)
CASES = {
    "leaky_relu": (A.leaky_relu, A.leaky_relu_grad, F.leaky_relu,
                   [{}, {"negative_slope": 0.2}, {"negative_slope": 0.3}]),
    "prelu": (A.prelu, A.prelu_grad,
              lambda x, weight: F.prelu(x, torch.tensor([weight], dtype=x.dtype)),
              [{"weight": 0.25}, {"weight": -0.5}]),
    "rrelu": (A.rrelu, A.rrelu_grad, F.rrelu, [{}, {"lower": 0.1, "upper": 0.3}]),
    "elu": (A.elu, A.elu_grad, F.elu, [{}, {"alpha": 2.0}, {"alpha": 0.5}]),
    "celu": (A.celu, A.celu_grad, F.celu, [{}, {"alpha": 2.0}, {"alpha": 0.5}]),
    "selu": (A.selu, A.selu_grad, F.selu, [{}]),
    "gelu": (A.gelu, A.gelu_grad, F.gelu, [{}, {"approximate": "tanh"}]),
    "silu": (A.silu, A.silu_grad, F.silu, [{}]),
    "swish": (A.swish, A.swish_grad, torch_swish, [{"beta": 0.0}, {"beta": 0.5}, {"beta": 4.0}]),
    "mish": (A.mish, A.mish_grad, F.mish, [{}]),
    "softplus": (A.softplus, A.softplus_grad, F.softplus,
                 [{}, {"beta": 2.0}, {"beta": 0.5, "threshold": 5.0}, {"beta": 3.0, "threshold": 1e6}]),
    "relu6": (A.relu6, A.relu6_grad, F.relu6, [{}]),
    "hardsigmoid": (A.hardsigmoid, A.hardsigmoid_grad, F.hardsigmoid, [{}]),
    "hardswish": (A.hardswish, A.hardswish_grad, F.hardswish, [{}]),
    "squared_relu": (A.squared_relu, A.squared_relu_grad, lambda x: torch.relu(x) ** 2, [{}]),
    "relu": (A.relu, A.relu_grad, F.relu, [{}]),
}

# (rtol64, atol64, rtol32, atol32) for the value and for the derivative
DEFAULT_TOL = ((1e-12, 1e-300, 2e-6, 1e-37), (1e-12, 1e-300, 2e-6, 1e-37))
TOL = {
    "gelu": ((1e-12, 1e-15, 2e-6, 1e-6), (1e-12, 1e-15, 2e-6, 1e-6)),
    "gelu tanh": ((1e-9, 1e-15, 1e-4, 1e-6), (1e-9, 1e-13, 1e-4, 1e-6)),
    "silu": ((1e-12, 1e-300, 2e-6, 1e-30), (1e-12, 1e-300, 1e-4, 1e-30)),
    "swish": ((1e-12, 1e-300, 2e-6, 1e-30), (1e-12, 1e-300, 1e-4, 1e-30)),
    # PyTorch's float64 Hardsigmoid backward multiplies by 1/6 rounded to float32 (0.1666666716...)
    "hardsigmoid": (DEFAULT_TOL[0], (1e-7, 1e-300, 2e-6, 1e-37)),
    "mish": ((1e-12, 1e-15, 2e-6, 1e-7), (1e-12, 1e-15, 1e-4, 1e-7)),
    "softplus": ((1e-12, 1e-300, 2e-6, 1e-37), (1e-12, 1e-300, 1e-4, 1e-37)),
}

PARAMS = [(name, kwargs) for name, (_, _, _, variants) in CASES.items() for kwargs in variants]


def _id(param) -> str:
    name, kwargs = param
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def _tolerance(name, kwargs, dtype, which):
    key = "gelu tanh" if kwargs.get("approximate") == "tanh" else name
    tol = TOL.get(key, DEFAULT_TOL)[which]
    return tol[:2] if dtype == np.float64 else tol[2:]


def _ours(fn, x, **kwargs):
    with np.errstate(all="raise", under="ignore"):
        return fn(x.copy(), **kwargs)


def _torch_value_and_grad(fn, x, dtype, **kwargs):
    xt = torch.tensor(x, dtype=DTYPES[dtype], requires_grad=True)
    y = fn(xt, **kwargs)
    y.sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


def _compare(ours, theirs, x, ours_fn, kwargs, rtol, atol, what):
    dtype = x.dtype
    assert ours.dtype == dtype and ours.shape == x.shape, (what, ours.dtype, ours.shape)
    nan_in = np.isnan(x)
    assert np.all(np.isnan(ours[nan_in])), f"{what}: NaN in must give NaN out"
    # Where PyTorch gives NaN for a non-NaN input, ours must be the limit (not NaN).
    torch_nan = np.isnan(theirs) & ~nan_in
    if torch_nan.any():
        big = np.finfo(dtype).max
        at_big = _ours(ours_fn, np.where(x[torch_nan] > 0, big, -big).astype(dtype), **kwargs)
        got = ours[torch_nan]
        diverges = np.isinf(got) & (np.sign(got) == np.sign(at_big)) & (np.abs(at_big) > 1e30)
        assert np.all((got == at_big) | diverges), f"{what}: value at inf is not the limit"
    check = ~nan_in & ~torch_nan
    a, b = ours[check].astype(np.float64), theirs[check].astype(np.float64)
    same_inf = (a == b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.abs(b)
    bad = ~(same_inf | close)
    assert not bad.any(), (f"{what}: {bad.sum()} values differ, e.g. x={x[check][bad][:4]}, "
                           f"ours={a[bad][:4]}, torch={b[bad][:4]}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("param", PARAMS, ids=_id)
def test_value_and_derivative_match_torch(param, dtype):
    name, kwargs = param
    ours_fn, grad_fn, torch_fn, _ = CASES[name]
    x = grid(dtype)
    value, grad = _torch_value_and_grad(torch_fn, x, dtype, **kwargs)
    _compare(_ours(ours_fn, x, **kwargs), value, x, ours_fn, kwargs,
             *_tolerance(name, kwargs, dtype, 0), what=f"{name}{kwargs} value")
    if name == "relu":
        return  # relu_grad (chapter 3) keeps its own NaN convention: 0 at NaN
    _compare(_ours(grad_fn, x, **kwargs), grad, x, grad_fn, kwargs,
             *_tolerance(name, kwargs, dtype, 1), what=f"{name}{kwargs} derivative")


@pytest.mark.parametrize("param", PARAMS, ids=_id)
def test_shapes_and_integer_input(param):
    name, kwargs = param
    fn = CASES[name][0]
    for shape in [(), (3,), (2, 3), (2, 3, 4)]:
        x = np.linspace(-4, 4, int(np.prod(shape))).reshape(shape).astype(np.float32)
        assert _ours(fn, x, **kwargs).shape == shape
    assert _ours(fn, np.array([-2, 0, 3]), **kwargs).dtype == np.float64


def test_prelu_per_channel_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 3))
    weight = np.array([0.25, -0.1, 0.0, 2.0])
    xt = torch.tensor(x, requires_grad=True)
    y = F.prelu(xt, torch.tensor(weight))
    y.sum().backward()
    assert np.allclose(A.prelu(x, weight), y.detach().numpy(), rtol=1e-14, atol=0)
    assert np.allclose(A.prelu_grad(x, weight), xt.grad.numpy(), rtol=1e-14, atol=0)
    with pytest.raises(ValueError, match="one per channel"):
        A.prelu(x, [0.1, 0.2])


def test_rrelu_training_draws_slopes_in_range_like_torch():
    x = -np.ones(20_000)
    ours = A.rrelu(x, training=True, rng=np.random.default_rng(1)) / x
    torch.manual_seed(1)
    theirs = (F.rrelu(torch.tensor(x), training=True) / torch.tensor(x)).numpy()
    for slopes in (ours, theirs):
        assert 1 / 8 <= slopes.min() and slopes.max() <= 1 / 3
        assert abs(slopes.mean() - 11 / 48) < 2e-3          # uniform on [1/8, 1/3]
        assert abs(slopes.std() - (1 / 3 - 1 / 8) / math.sqrt(12)) < 2e-3
    positive = np.linspace(0.1, 5, 7)
    assert np.array_equal(A.rrelu(positive, training=True), positive)
    assert A.rrelu(np.array(-48.0)) == -11.0                  # eval slope 11/48


@pytest.mark.parametrize("dim, shape", [(-1, (3, 8)), (0, (6, 2)), (1, (2, 4, 3))])
def test_glu_matches_torch(dim, shape):
    x = np.random.default_rng(2).normal(0, 3, shape)
    assert np.allclose(A.glu(x, dim), F.glu(torch.tensor(x), dim).numpy(), rtol=1e-14, atol=1e-300)
    with pytest.raises(ValueError, match="even"):
        A.glu(np.ones((3, 5)), dim=-1)


def test_glu_value_first_gate_second():
    assert np.allclose(A.glu(np.array([1.0, 2.0, 0.0, 100.0])), [0.5, 2.0])


def test_softplus_between_relu_and_relu_plus_log2_over_beta():
    x = np.linspace(-30, 30, 6001)
    for beta in (0.5, 1.0, 4.0, 50.0):
        gap = A.softplus(x, beta=beta, threshold=np.inf) - A.relu(x)
        assert gap.min() >= -1e-14                             # rounding only
        assert abs(gap.max() - math.log(2) / beta) < 1e-15


def test_selu_constants_and_fixed_point():
    # the constants solve E[selu(z)] = 0 and E[selu(z)^2] = 1 for z ~ N(0, 1)
    z = np.linspace(-12, 12, 200_001)
    weight = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    assert abs(np.sum(A.selu(z) * weight)) < 1e-9
    assert abs(np.sum(A.selu(z) ** 2 * weight) - 1) < 1e-9
    assert math.isclose(A.SELU_ALPHA * A.SELU_SCALE, 1.7580993408473768, rel_tol=1e-15)


def test_gelu_tanh_approximation_error():
    x = np.linspace(-10, 10, 200_001)
    err = np.abs(A.gelu(x, "tanh") - A.gelu(x))
    assert 4.7e-4 < err.max() < 4.8e-4
    assert 2.6 < abs(x[err.argmax()]) < 2.8


@pytest.mark.parametrize("fn, x_min, y_min", [(A.gelu, -0.75179, -0.16997), (A.silu, -1.27846, -0.27846),
                                              (A.mish, -1.19243, -0.30884), (A.hardswish, -1.5, -0.375)])
def test_minima(fn, x_min, y_min):
    x = np.linspace(-3, 0, 300_001)
    y = fn(x)
    assert abs(y.min() - y_min) < 1e-5 and abs(x[y.argmin()] - x_min) < 1e-4


def test_unknown_gelu_form_is_rejected():
    with pytest.raises(ValueError, match="approximate"):
        A.gelu(np.zeros(2), approximate="sigmoid")


# Every function of the module on a 0-d array (a scalar kept as an array, as np.mean(x) or
# x[()] give): a 0-d array of the input's dtype, equal to the function of a one-element vector.
# relu_grad raised TypeError here (item assignment on the NumPy scalar that x > 0 gives);
# sigmoid_grad, tanh, tanh_grad and squared_relu returned NumPy scalars instead of arrays.
_ZERO_D = sorted({fn for ours, grad, _, _ in CASES.values() for fn in (ours, grad)}
                 | {A.sigmoid, A.sigmoid_grad, A.tanh, A.tanh_grad}, key=lambda f: f.__name__)


@pytest.mark.parametrize("fn", _ZERO_D, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [1.5, -1.5, 0.0])
def test_a_0d_array_gives_a_0d_array(fn, dtype, value):
    kwargs = {"weight": 0.25} if fn.__name__.startswith("prelu") else {}
    x = np.array(value, dtype=dtype)
    out = _ours(fn, x, **kwargs)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == dtype, repr(out)
    assert np.array_equal(out.reshape(1), _ours(fn, x.reshape(1), **kwargs))


def test_relu_grad_on_0d_arrays():
    assert A.relu_grad(np.array(1.5)) == 1.0 and A.relu_grad(np.array(1.5)).shape == ()
    assert A.relu_grad(np.array(0.0), at_zero=0.5) == 0.5
    assert A.relu_grad(np.array(-0.0)) == 0.0 and A.relu_grad(np.array(-2)) == 0.0
