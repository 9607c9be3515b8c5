"""Model answers to the exercises of chapter 5, for the checker tests only.

They are kept here, under tests/, and not in the package, so that nothing a
student can import from ``relucourse`` hands out an exercise's answer. They are
written independently of ``relucourse.activations`` (which the chapter shows
and which the checkers reject when it is handed over as it is).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import erf
from torch import nn


def leaky_relu(x, negative_slope=0.01):
    x = np.asarray(x)
    return np.where(x > 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def gelu(x, approximate="none"):
    x = np.asarray(x)
    if approximate == "none":
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    raise RuntimeError(f"approximate must be 'none' or 'tanh', not {approximate!r}")


def sigmoid(x):
    """A sigmoid that only exponentiates non-positive numbers."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def silu(x):
    return np.asarray(x) * sigmoid(x)


def mish(x):
    x = np.asarray(x)
    return x * np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def swish_grad(x, beta):
    x = np.asarray(x, dtype=np.float64)
    s = sigmoid(beta * x)
    return s + beta * x * s * (1 - s)


def softplus(x, beta=1.0, threshold=20.0):
    x = np.asarray(x)
    z = beta * x
    smooth = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    return np.where(z > threshold, x, smooth)


def selu(x):
    alpha, scale = 1.6732632423543772848, 1.0507009873554804934
    x = np.asarray(x)
    return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def simulate(x, depth, seed):
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype=np.float64)
    width = h.shape[1]
    stats = []
    for _ in range(depth):
        h = selu(h @ rng.normal(0.0, 1 / math.sqrt(width), size=(width, width)).T)
        stats.append((h.mean(), h.var()))
    return np.array(stats)


def matched_hidden(d_model, d_ff):
    return (2 * d_ff) // 3


class SwiGLU(nn.Module):
    def __init__(self, d_model, d_hidden):
        super().__init__()
        self.w_gate = nn.Linear(d_model, d_hidden, bias=False)
        self.w_value = nn.Linear(d_model, d_hidden, bias=False)
        self.w_out = nn.Linear(d_hidden, d_model, bias=False)

    def forward(self, x):
        return self.w_out(F.silu(self.w_gate(x)) * self.w_value(x))


__all__ = ["leaky_relu", "elu", "gelu", "sigmoid", "silu", "mish", "swish_grad", "softplus", "simulate",
           "matched_hidden", "SwiGLU", "torch"]
