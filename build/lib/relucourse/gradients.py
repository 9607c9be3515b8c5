"""Tools for looking at derivatives and at how signals and gradients travel through depth.

* :func:`central_difference` and :func:`numerical_gradient`: derivatives by
  central finite differences, for checking formulas and autograd.
* :func:`layer_grad_norms`: the size of every linear layer's weight gradient
  for one batch, the standard picture of vanishing and exploding gradients.
* :func:`second_moments` and :func:`per_layer_factor`: how the mean square of
  the activations changes from layer to layer in a deep stack at
  initialisation, which is what an initialisation scheme controls.

>>> import numpy as np
>>> round(float(central_difference(np.sin, np.array(0.0))), 9)
1.0
>>> q = second_moments(depth=10, width=256, weight_var=2.0, seed=0)
>>> q.shape
(11,)
>>> 0.9 < per_layer_factor(q) < 1.1
True
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["central_difference", "numerical_gradient", "layer_grad_norms", "second_moments", "backward_second_moments",
           "per_layer_factor"]


def central_difference(f: Callable, x, h: float = 1e-6) -> np.ndarray:
    """Element-wise derivative of an element-wise function: (f(x + h) - f(x - h)) / (2h).

    The error is of order h^2 where f is smooth. At a kink (ReLU at 0) the
    formula averages the slopes on the two sides.

    >>> from relucourse.activations import relu
    >>> central_difference(relu, np.array([-1.0, 0.0, 1.0]))
    array([0. , 0.5, 1. ])
    """
    x = np.asarray(x, dtype=np.float64)
    return (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)


def numerical_gradient(f: Callable[[np.ndarray], float], x, h: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function of an array by central differences, one entry at a time.

    Costs two evaluations of ``f`` per entry of ``x``, so it is for small
    checks only (that cost is why networks are trained with backpropagation).

    >>> numerical_gradient(lambda v: float((v ** 2).sum()), np.array([1.0, -2.0])).round(6)
    array([ 2., -4.])
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        up = f(x)
        x[idx] = old - h
        down = f(x)
        x[idx] = old
        grad[idx] = (up - down) / (2 * h)
    return grad


def layer_grad_norms(model: nn.Module, X, y) -> np.ndarray:
    """Frobenius norm of each ``nn.Linear`` weight gradient, input side first.

    The loss is the mean cross-entropy of ``model(X)`` against the integer
    labels ``y``. Existing gradients are cleared first, so repeated calls do
    not accumulate; the model's gradients are left set afterwards.

    >>> from relucourse.training import mlp
    >>> model = mlp([4, 8, 8, 3], seed=0)
    >>> X, y = torch.randn(16, 4), torch.arange(16) % 3
    >>> layer_grad_norms(model, X, y).shape
    (3,)
    """
    X = torch.as_tensor(X)
    y = torch.as_tensor(y)
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(X), y).backward()
    return np.array([float(m.weight.grad.norm()) for m in model.modules() if isinstance(m, nn.Linear)])


def second_moments(depth: int, width: int, weight_var: float, *, n_inputs: int = 512, seed: int = 0,
                   activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu) -> np.ndarray:
    """Mean square of the activations after each layer of a deep fully connected stack.

    The stack is ``h_l = activation(W_l h_{l-1})`` with ``depth`` square
    layers of ``width`` units, no biases, and weights drawn from
    N(0, weight_var / width), so ``weight_var`` is fan_in * Var(w): 2 is He
    initialisation, 1 is Xavier (equal fan-in and fan-out). The inputs are
    ``n_inputs`` standard normal vectors. Returns an array of length
    ``depth + 1``: entry ``l`` is the mean over units and inputs of h_l^2, and
    entry 0 is the inputs' mean square (close to 1). Computed in float64.
    """
    h, normals = _standard_draws(depth, width, n_inputs, seed)
    std = (weight_var / width) ** 0.5
    out = [float((h ** 2).mean())]
    for Z in normals:
        W = Z * std
        h = activation(h @ W.T)
        out.append(float((h ** 2).mean()))
    return np.array(out)


@functools.lru_cache(maxsize=2)
def _standard_draws(depth: int, width: int, n_inputs: int, seed: int) -> tuple[torch.Tensor, tuple]:
    """The inputs and the standard normal weights of :func:`second_moments`' stack.

    Drawing them is most of the work (PyTorch's normal generator is slow), and
    a sweep over weight scales draws the same numbers for every scale: they
    are kept for the last two stacks asked for. Nothing modifies them.
    """
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n_inputs, width, generator=gen, dtype=torch.float64)
    return h, tuple(torch.randn(width, width, generator=gen, dtype=torch.float64)
                    for _ in range(depth))


def per_layer_factor(moments) -> float:
    """The factor by which a sequence grows per step, from a straight-line fit to its logarithm.

    >>> round(per_layer_factor([1.0, 0.5, 0.25, 0.125]), 6)
    0.5
    """
    q = np.asarray(moments, dtype=np.float64)
    slope = np.polyfit(np.arange(len(q)), np.log(q), 1)[0]
    return float(np.exp(slope))


def backward_second_moments(depth: int, width: int, weight_var: float, *, n_inputs: int = 512,
                            seed: int = 0) -> np.ndarray:
    """Mean square of the backpropagated gradient at every layer of a deep ReLU stack.

    The stack is the one of :func:`second_moments` (same seed, same weights).
    The loss is sum over inputs of r . h_depth with a fixed standard normal
    vector r per input, so the gradient arriving at the top has mean square
    about 1. Entry ``l`` of the result (length ``depth + 1``) is the mean
    square of dLoss/dh_l; entry ``depth`` is the top. He initialisation
    (``weight_var=2``) keeps the entries level; larger values make them grow
    geometrically towards the input, smaller ones make them shrink.

    >>> g = backward_second_moments(depth=10, width=256, weight_var=2.0, seed=0)
    >>> 0.9 < per_layer_factor(g[::-1]) < 1.1
    True
    """
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n_inputs, width, generator=gen, dtype=torch.float64, requires_grad=True)
    std = (weight_var / width) ** 0.5
    hs = [h]
    for _ in range(depth):
        W = torch.randn(width, width, generator=gen, dtype=torch.float64) * std
        hs.append(torch.relu(hs[-1] @ W.T))
        hs[-1].retain_grad()
    r = torch.randn(n_inputs, width, generator=gen, dtype=torch.float64)
    (hs[-1] * r).sum().backward()
    return np.array([float((t.grad ** 2).mean()) for t in hs])
