"""NumPy reference implementations of activation functions and their derivatives.

Every function takes an array (or anything ``np.asarray`` accepts), keeps a
floating dtype (float32 stays float32) and emits no floating-point warnings
for any finite or infinite input. Parameter names and defaults follow
``torch.nn.functional``. Derivative functions are named ``<name>_grad`` and
return d(activation)/dx element-wise.

>>> import numpy as np
>>> relu(np.array([-2.0, 0.0, 3.0]))
array([0., 0., 3.])
>>> relu_grad(np.array([-2.0, 0.0, 3.0]))
array([0., 0., 1.])
"""

from __future__ import annotations

import math

import numpy as np


def _float_array(x) -> np.ndarray:
    """``x`` as a floating array; integer and boolean inputs become float64."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(np.float64)
    return arr


def relu(x) -> np.ndarray:
    """ReLU(x) = max(0, x), element-wise. NaN propagates (as in PyTorch).

    >>> relu(np.array([-1.0, np.nan, 2.0]))
    array([ 0., nan,  2.])
    """
    x = _float_array(x)
    return np.where(x > 0, x, np.where(np.isnan(x), x, np.zeros_like(x)))


def relu_grad(x, at_zero: float = 0.0) -> np.ndarray:
    """Derivative of ReLU: 1 for x > 0, 0 for x < 0 and ``at_zero`` at exactly 0.

    Any value in [0, 1] is a valid subgradient at 0; PyTorch, TensorFlow and
    JAX all use 0, which is the default here.

    >>> relu_grad(np.array([-1.0, 0.0, 1.0]), at_zero=0.5)
    array([0. , 0.5, 1. ])
    """
    x = _float_array(x)
    # np.where, not item assignment: a 0-d input gives a 0-d array, which
    # item assignment on a NumPy scalar would reject.
    out = np.where(x > 0, np.ones_like(x), np.zeros_like(x))
    return _like(np.where(x == 0, np.full_like(x, at_zero), out), x)


def sigmoid(x) -> np.ndarray:
    """Logistic sigmoid 1 / (1 + exp(-x)), computed without overflow.

    For x >= 0 it evaluates 1 / (1 + e^(-x)); for x < 0 the algebraically equal
    e^x / (1 + e^x). Only exponentials of non-positive numbers are taken, so
    nothing overflows for any input, including +-inf.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    """
    x = _float_array(x)
    e = np.exp(-np.abs(x))  # in (0, 1], never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_grad(x) -> np.ndarray:
    """Derivative of the sigmoid: s(x) (1 - s(x)), at most 1/4 (at x = 0).

    >>> float(sigmoid_grad(np.array(0.0)))
    0.25
    """
    s = sigmoid(x)
    return _like(s * (1 - s), s)


def tanh(x) -> np.ndarray:
    """Hyperbolic tangent (e^x - e^-x) / (e^x + e^-x), element-wise, via ``np.tanh``.

    ``np.tanh`` never overflows; the textbook quotient above does for |x| > ~710
    in float64 (inf / inf = NaN). The identity tanh(x) = 2 sigmoid(2x) - 1 is
    exact but loses relative accuracy near 0, where it subtracts two numbers
    close to 1.

    >>> tanh(np.array([-1e4, 0.0, 1e4]))
    array([-1.,  0.,  1.])
    """
    x = _float_array(x)
    return _like(np.tanh(x), x)


def tanh_grad(x) -> np.ndarray:
    """Derivative of tanh: 1 - tanh(x)^2, at most 1 (at x = 0).

    >>> float(tanh_grad(np.array(0.0)))
    1.0
    """
    t = tanh(x)
    return _like(1 - t * t, t)


# ---------------------------------------------------------------------------------------------
# ReLU's variants (chapter 5). Same conventions as above: floating dtype kept, no floating-point
# warnings for finite, infinite or NaN inputs, NaN in -> NaN out (also for the derivatives), and
# the true limit at +-inf where PyTorch's formula gives NaN (for example silu(-inf) = 0).
# Derivatives at the kinks follow PyTorch's autograd (listed in each docstring).
# ---------------------------------------------------------------------------------------------

#: SELU's constants (Klambauer et al. 2017), as in PyTorch and TensorFlow.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

#: The cubic coefficient of GELU's tanh approximation (Hendrycks and Gimpel 2016).
GELU_TANH_COEF = 0.044715
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: Beyond this |x| every smooth gate below equals 0 or 1 exactly in float64 and float32, so inputs
#: are clipped to it before a gate or a derivative is computed (this avoids inf * 0 and x**3 overflow).
_GATE_CLIP = 1000.0


def _like(values, x: np.ndarray) -> np.ndarray:
    """``values`` as an array of ``x``'s dtype (guards against an accidental upcast)."""
    return np.asarray(values).astype(x.dtype, copy=False)


def _nan_where_nan(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Put NaN wherever the input is NaN."""
    return np.where(np.isnan(x), x, out)


def _times_gate(x: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """x * gate for a gate in [0, 1] with gate(-inf) = 0 and gate(+inf) = 1, without inf * 0.

    Returns +inf at +inf, -0.0 at -inf (the limit of x * gate from below) and NaN at NaN.
    """
    finite = np.where(np.isfinite(x), x, np.zeros_like(x))
    out = finite * gate
    out = np.where(np.isposinf(x), x, out)
    out = np.where(np.isneginf(x), -np.zeros_like(x), out)
    return _like(_nan_where_nan(out, x), x)


def _softplus_core(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) for any z, as max(z, 0) + log1p(e^-|z|): exp never sees a positive argument."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


# -- the leaky family ---------------------------------------------------------------------------
def leaky_relu(x, negative_slope: float = 0.01) -> np.ndarray:
    """LeakyReLU: x for x > 0, ``negative_slope`` * x otherwise (PyTorch's default slope 0.01).

    >>> leaky_relu(np.array([-2.0, 0.0, 3.0]))
    array([-0.02,  0.  ,  3.  ])
    """
    x = _float_array(x)
    return _like(np.where(x > 0, x, x * negative_slope), x)


def leaky_relu_grad(x, negative_slope: float = 0.01) -> np.ndarray:
    """Derivative of LeakyReLU: 1 for x > 0, ``negative_slope`` for x <= 0 (PyTorch uses the slope at 0).

    >>> leaky_relu_grad(np.array([-1.0, 0.0, 1.0]), negative_slope=0.2)
    array([0.2, 0.2, 1. ])
    """
    x = _float_array(x)
    out = np.where(x > 0, np.ones_like(x), np.full_like(x, negative_slope))
    return _like(_nan_where_nan(out, x), x)


def _prelu_weight(x: np.ndarray, weight) -> np.ndarray:
    w = np.asarray(weight, dtype=x.dtype).reshape(-1)
    if w.size == 1:
        return w.reshape(())
    if x.ndim < 2 or x.shape[1] != w.size:
        raise ValueError(f"prelu: weight has {w.size} entries; it must have 1 or one per channel "
                         f"(dimension 1 of the input, here shape {x.shape})")
    return w.reshape((w.size,) + (1,) * (x.ndim - 2))


def prelu(x, weight) -> np.ndarray:
    """PReLU: x for x > 0, a * x otherwise, where a = ``weight`` is learned.

    ``weight`` has one entry (shared by all channels) or one per channel; the
    channel dimension is dimension 1, as in ``torch.nn.functional.prelu``.
    ``nn.PReLU`` starts from a = 0.25.

    >>> prelu(np.array([[-4.0, -4.0], [1.0, 1.0]]), weight=[0.25, 0.5])
    array([[-1., -2.],
           [ 1.,  1.]])
    """
    x = _float_array(x)
    a = _prelu_weight(x, weight)
    return _like(np.where(x > 0, x, a * x), x)


def prelu_grad(x, weight) -> np.ndarray:
    """Derivative of PReLU with respect to x: 1 for x > 0, a for x <= 0.

    (With respect to a it is x for x <= 0 and 0 otherwise.)

    >>> prelu_grad(np.array([-1.0, 0.0, 1.0]), weight=0.25)
    array([0.25, 0.25, 1.  ])
    """
    x = _float_array(x)
    a = _prelu_weight(x, weight)
    out = np.where(x > 0, np.ones_like(x), a * np.ones_like(x))
    return _like(_nan_where_nan(out, x), x)


def rrelu(x, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          rng: np.random.Generator | None = None) -> np.ndarray:
    """Randomized leaky ReLU.

    In training, every element with x < 0 is multiplied by its own slope drawn
    from U(``lower``, ``upper``) (from ``rng``, or a generator seeded with 0).
    In evaluation (``training=False``, the default of ``F.rrelu``) the slope is
    fixed at (lower + upper) / 2, which is 11/48 for PyTorch's defaults.

    >>> float(rrelu(np.array(-48.0)))
    -11.0
    """
    x = _float_array(x)
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    rng = np.random.default_rng(0) if rng is None else rng
    slopes = rng.uniform(lower, upper, size=x.shape).astype(x.dtype)
    return _like(np.where(x >= 0, x, slopes * x), x)


def rrelu_grad(x, lower: float = 1.0 / 8, upper: float = 1.0 / 3) -> np.ndarray:
    """Derivative of RReLU in evaluation mode: 1 for x > 0, (lower + upper) / 2 for x <= 0.

    >>> rrelu_grad(np.array([-1.0, 1.0]), lower=0.1, upper=0.3)
    array([0.2, 1. ])
    """
    return leaky_relu_grad(x, (lower + upper) / 2)


# -- the exponential family ---------------------------------------------------------------------
def elu(x, alpha: float = 1.0) -> np.ndarray:
    """ELU: x for x > 0, alpha (e^x - 1) otherwise; bounded below by -alpha.

    Uses ``expm1`` (accurate near 0) on min(x, 0), so nothing overflows.

    >>> elu(np.array([-np.inf, 0.0, 2.0]), alpha=2.0)
    array([-2.,  0.,  2.])
    """
    x = _float_array(x)
    neg = alpha * np.expm1(np.minimum(x, 0))
    return _like(np.where(x > 0, x, neg), x)


def elu_grad(x, alpha: float = 1.0) -> np.ndarray:
    """Derivative of ELU: 1 for x > 0, alpha e^x for x <= 0 (so alpha at 0, as in PyTorch).

    It is continuous at 0 only when alpha = 1.

    >>> elu_grad(np.array([-np.inf, 0.0, 1.0]), alpha=2.0)
    array([0., 2., 1.])
    """
    x = _float_array(x)
    out = np.where(x > 0, np.ones_like(x), alpha * np.exp(np.minimum(x, 0)))
    return _like(_nan_where_nan(out, x), x)


def celu(x, alpha: float = 1.0) -> np.ndarray:
    """CELU: max(0, x) + min(0, alpha (e^(x/alpha) - 1)); its derivative is continuous for every alpha.

    >>> celu(np.array([-np.inf, 0.0, 2.0]), alpha=0.5)
    array([-0.5,  0. ,  2. ])
    """
    x = _float_array(x)
    neg = alpha * np.expm1(np.clip(x, -_GATE_CLIP * alpha, 0) / alpha)  # e^-1000 is 0 anyway
    return _like(np.where(x > 0, x, neg), x)


def celu_grad(x, alpha: float = 1.0) -> np.ndarray:
    """Derivative of CELU: 1 for x > 0, e^(x/alpha) for x <= 0 (both equal 1 at 0).

    >>> celu_grad(np.array([-np.inf, 0.0, 1.0]), alpha=0.5)
    array([0., 1., 1.])
    """
    x = _float_array(x)
    out = np.where(x > 0, np.ones_like(x), np.exp(np.clip(x, -_GATE_CLIP * alpha, 0) / alpha))
    return _like(_nan_where_nan(out, x), x)


def selu(x) -> np.ndarray:
    """SELU: scale * ELU_alpha(x) with the fixed constants ``SELU_SCALE`` and ``SELU_ALPHA``.

    >>> round(float(selu(np.array(-np.inf))), 4)
    -1.7581
    """
    with np.errstate(over="ignore"):  # scale * x overflows only where the true value does
        return _like(SELU_SCALE * elu(x, SELU_ALPHA), _float_array(x))


def selu_grad(x) -> np.ndarray:
    """Derivative of SELU: scale for x > 0, scale * alpha * e^x for x <= 0 (PyTorch's value at 0).

    >>> [round(float(v), 4) for v in selu_grad(np.array([0.0, 1.0]))]
    [1.7581, 1.0507]
    """
    with np.errstate(over="ignore"):
        return _like(SELU_SCALE * elu_grad(x, SELU_ALPHA), _float_array(x))


# -- the smooth, self-gated family ----------------------------------------------------------------
def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = erfc(-x / sqrt 2) / 2, accurate in both tails (erfc does not cancel)."""
    from scipy.special import erfc  # scipy comes with scikit-learn, a course dependency

    return 0.5 * erfc(-x * _INV_SQRT_2)


def _gelu_tanh_inner(xc: np.ndarray) -> np.ndarray:
    return _SQRT_2_OVER_PI * (xc + GELU_TANH_COEF * xc * xc * xc)


def gelu(x, approximate: str = "none") -> np.ndarray:
    """GELU: x Phi(x), with Phi the standard normal CDF; or its tanh approximation.

    ``approximate="none"`` (PyTorch's default) is exact. ``approximate="tanh"``
    is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed here as the
    equal x * sigmoid(2 u), which does not cancel for negative x.

    >>> [round(float(v), 4) for v in gelu(np.array([-1.0, 1.0]))]
    [-0.1587, 0.8413]
    """
    x = _float_array(x)
    xc = np.clip(x, -_GATE_CLIP, _GATE_CLIP)
    if approximate == "none":
        gate = _normal_cdf(xc)
    elif approximate == "tanh":
        gate = sigmoid(2 * _gelu_tanh_inner(xc))
    else:
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")
    return _times_gate(x, _like(gate, x))


def gelu_grad(x, approximate: str = "none") -> np.ndarray:
    """Derivative of GELU: Phi(x) + x phi(x) (exact), or the derivative of the tanh form.

    The limits are 0 at -inf and 1 at +inf (PyTorch's autograd gives NaN at +inf).

    >>> [round(float(v), 4) for v in gelu_grad(np.array([-np.inf, 0.0, np.inf]))]
    [0.0, 0.5, 1.0]
    """
    x = _float_array(x)
    xc = np.clip(x, -_GATE_CLIP, _GATE_CLIP)
    if approximate == "none":
        xs = np.clip(xc, -40.0, 40.0)  # phi(40) underflows to 0 in float64; avoids x*x overflow
        out = _normal_cdf(xc) + xs * _INV_SQRT_2PI * np.exp(-0.5 * xs * xs)
    elif approximate == "tanh":
        xs = np.clip(xc, -100.0, 100.0)
        s = sigmoid(2 * _gelu_tanh_inner(xs))          # (1 + tanh u) / 2
        du = _SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_COEF * xs * xs)
        out = s + xs * 2 * s * (1 - s) * du             # sech^2(u) = 4 s (1 - s)
    else:
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")
    return _like(_nan_where_nan(out, x), x)


def _swish_arg(x: np.ndarray, beta: float) -> np.ndarray:
    """beta * x clipped to +-1000 (where sigmoid is exactly 0 or 1), without overflow warnings."""
    with np.errstate(over="ignore"):
        z = beta * x
    return np.clip(z, -_GATE_CLIP, _GATE_CLIP)


def swish(x, beta: float = 1.0) -> np.ndarray:
    """Swish_beta: x * sigmoid(beta x). beta = 1 is SiLU, beta = 0 gives x/2, beta -> inf gives ReLU.

    >>> swish(np.array([-np.inf, -2.0, 2.0]), beta=0.0)
    array([-inf,  -1.,   1.])
    """
    x = _float_array(x)
    if beta == 0:
        return _like(x / 2, x)
    if beta < 0:
        raise ValueError(f"swish: beta must be >= 0, not {beta}")
    return _times_gate(x, _like(sigmoid(_swish_arg(x, beta)), x))


def swish_grad(x, beta: float = 1.0) -> np.ndarray:
    """Derivative of Swish_beta: s + beta x s (1 - s), with s = sigmoid(beta x).

    >>> swish_grad(np.array([-np.inf, 0.0, np.inf]), beta=5.0)
    array([0. , 0.5, 1. ])
    """
    x = _float_array(x)
    if beta == 0:
        return _like(_nan_where_nan(np.full_like(x, 0.5), x), x)
    if beta < 0:
        raise ValueError(f"swish: beta must be >= 0, not {beta}")
    z = _swish_arg(x, beta)
    s = sigmoid(z)
    out = s + z * s * (1 - s)
    return _like(_nan_where_nan(out, x), x)


def silu(x) -> np.ndarray:
    """SiLU: x * sigmoid(x) (Swish with beta = 1); minimum about -0.2785 at x about -1.2785.

    >>> [round(float(v), 4) for v in silu(np.array([-np.inf, -1.0, 1.0]))]
    [-0.0, -0.2689, 0.7311]
    """
    return swish(x, 1.0)


def silu_grad(x) -> np.ndarray:
    """Derivative of SiLU: sigmoid(x) (1 + x (1 - sigmoid(x))).

    >>> float(silu_grad(np.array(0.0)))
    0.5
    """
    return swish_grad(x, 1.0)


def mish(x) -> np.ndarray:
    """Mish: x * tanh(softplus(x)); minimum about -0.3088 at x about -1.1924.

    >>> [round(float(v), 4) for v in mish(np.array([-1.0, 0.0, 1.0]))]
    [-0.3034, 0.0, 0.8651]
    """
    x = _float_array(x)
    xc = np.clip(x, -_GATE_CLIP, _GATE_CLIP)
    return _times_gate(x, _like(np.tanh(_softplus_core(xc)), x))


def mish_grad(x) -> np.ndarray:
    """Derivative of Mish: tanh(sp) + x sech^2(sp) sigmoid(x), with sp = softplus(x); 0.6 at 0.

    >>> round(float(mish_grad(np.array(0.0))), 6)
    0.6
    """
    x = _float_array(x)
    xc = np.clip(x, -_GATE_CLIP, _GATE_CLIP)
    t = np.tanh(_softplus_core(xc))
    out = t + xc * (1 - t * t) * sigmoid(xc)
    return _like(_nan_where_nan(out, x), x)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """Softplus: log(1 + e^(beta x)) / beta, and x itself where beta x > ``threshold`` (as PyTorch).

    Always between ReLU and ReLU + log(2)/beta; the gap is largest at x = 0.

    >>> [round(float(v), 4) for v in softplus(np.array([-1000.0, 0.0, 1000.0]))]
    [0.0, 0.6931, 1000.0]
    """
    x = _float_array(x)
    with np.errstate(over="ignore"):  # beta * x = +-inf is the right limit; no NaN can follow
        z = beta * x
    smooth = _softplus_core(z) / beta
    return _like(np.where(z > threshold, x, smooth), x)


def softplus_grad(x, beta: float = 1.0, threshold: float = 20.0) -> np.ndarray:
    """Derivative of Softplus: sigmoid(beta x), and 1 where beta x > ``threshold``.

    >>> softplus_grad(np.array([0.0, 30.0]))
    array([0.5, 1. ])
    """
    x = _float_array(x)
    with np.errstate(over="ignore"):
        z = beta * x
    out = np.where(z > threshold, np.ones_like(x), sigmoid(z))
    return _like(_nan_where_nan(out, x), x)


# -- cheap, piecewise-linear approximations ---------------------------------------------------------
def relu6(x) -> np.ndarray:
    """ReLU6: min(max(0, x), 6). NaN propagates.

    >>> relu6(np.array([-1.0, 3.0, 10.0]))
    array([0., 3., 6.])
    """
    x = _float_array(x)
    return _like(np.minimum(np.maximum(x, 0), 6), x)


def relu6_grad(x) -> np.ndarray:
    """Derivative of ReLU6: 1 on (0, 6), 0 elsewhere (0 at both kinks, as in PyTorch).

    >>> relu6_grad(np.array([0.0, 3.0, 6.0]))
    array([0., 1., 0.])
    """
    x = _float_array(x)
    out = ((x > 0) & (x < 6)).astype(x.dtype)
    return _like(_nan_where_nan(out, x), x)


def hardsigmoid(x) -> np.ndarray:
    """Hardsigmoid: 0 for x <= -3, 1 for x >= 3, x/6 + 1/2 in between (= ReLU6(x + 3) / 6).

    >>> hardsigmoid(np.array([-4.0, 0.0, 1.5, 4.0]))
    array([0.  , 0.5 , 0.75, 1.  ])
    """
    x = _float_array(x)
    xc = np.clip(x, -3, 3)
    return _like(np.where(x <= -3, 0, np.where(x >= 3, 1, xc / 6 + 0.5)), x)


def hardsigmoid_grad(x) -> np.ndarray:
    """Derivative of Hardsigmoid: 1/6 on (-3, 3), 0 elsewhere (0 at +-3, as in PyTorch).

    >>> hardsigmoid_grad(np.array([-3.0, 0.0, 3.0]))
    array([0.        , 0.16666667, 0.        ])
    """
    x = _float_array(x)
    out = np.where((x > -3) & (x < 3), np.full_like(x, 1 / 6), np.zeros_like(x))
    return _like(_nan_where_nan(out, x), x)


def hardswish(x) -> np.ndarray:
    """Hardswish: 0 for x <= -3, x for x >= 3, x (x + 3) / 6 in between (= x * Hardsigmoid(x)).

    >>> hardswish(np.array([-np.inf, -1.5, 3.0]))
    array([ 0.   , -0.375,  3.   ])
    """
    x = _float_array(x)
    xc = np.clip(x, -3, 3)
    return _like(np.where(x <= -3, 0, np.where(x >= 3, x, xc * (xc + 3) / 6)), x)


def hardswish_grad(x) -> np.ndarray:
    """Derivative of Hardswish: (2x + 3)/6 on (-3, 3), 0 for x <= -3, 1 for x >= 3 (PyTorch's values at +-3).

    >>> hardswish_grad(np.array([-3.0, 0.0, 3.0]))
    array([0. , 0.5, 1. ])
    """
    x = _float_array(x)
    xc = np.clip(x, -3, 3)
    out = np.where(x <= -3, 0, np.where(x >= 3, 1, (2 * xc + 3) / 6))
    return _like(_nan_where_nan(out, x), x)


def squared_relu(x) -> np.ndarray:
    """Squared ReLU: max(0, x)^2 (So et al. 2021). Overflows to inf only where the true value does.

    >>> squared_relu(np.array([-2.0, 3.0]))
    array([0., 9.])
    """
    r = relu(x)
    with np.errstate(over="ignore"):  # r * r = inf exactly when the true square exceeds the dtype's range
        return _like(r * r, r)


def squared_relu_grad(x) -> np.ndarray:
    """Derivative of squared ReLU: 2 max(0, x), continuous everywhere.

    >>> squared_relu_grad(np.array([-2.0, 3.0]))
    array([0., 6.])
    """
    with np.errstate(over="ignore"):  # 2 x overflows only where the true value does
        r = relu(x)
        return _like(2 * r, r)


# -- gated linear units ---------------------------------------------------------------------------
def glu(x, dim: int = -1) -> np.ndarray:
    """GLU: split ``x`` in two halves a, b along ``dim`` and return a * sigmoid(b).

    The first half is the value and the second half the gate, as in
    ``torch.nn.functional.glu``; the output is half as long along ``dim``.

    >>> glu(np.array([1.0, 2.0, 0.0, 100.0]))
    array([0.5, 2. ])
    """
    x = _float_array(x)
    if x.ndim == 0 or x.shape[dim] % 2:
        raise ValueError(f"glu: dimension {dim} must have an even length; the input has shape {x.shape}")
    a, b = np.split(x, 2, axis=dim)
    return _like(a * sigmoid(b), x)
