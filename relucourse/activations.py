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
    out = (x > 0).astype(x.dtype)
    out[x == 0] = at_zero
    return out


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
    return s * (1 - s)


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
    return np.tanh(x)


def tanh_grad(x) -> np.ndarray:
    """Derivative of tanh: 1 - tanh(x)^2, at most 1 (at x = 0).

    >>> float(tanh_grad(np.array(0.0)))
    1.0
    """
    t = tanh(x)
    return 1 - t * t
