"""relucourse.gradients: finite differences, per-layer gradient norms and deep-stack second moments."""

import numpy as np
import torch
from torch import nn

from relucourse import activations, gradients
from relucourse.training import mlp


def test_central_difference_matches_analytic_derivatives():
    x = np.linspace(-4, 4, 41)
    assert np.allclose(gradients.central_difference(activations.sigmoid, x), activations.sigmoid_grad(x), atol=1e-9)
    assert np.allclose(gradients.central_difference(np.tanh, x), activations.tanh_grad(x), atol=1e-9)
    # at the kink the central difference averages the two one-sided slopes
    assert gradients.central_difference(activations.relu, np.array([0.0]))[0] == 0.5


def test_numerical_gradient_of_a_quadratic_form():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal(3)
    g = gradients.numerical_gradient(lambda v: float(v @ A @ v), x)
    assert np.allclose(g, (A + A.T) @ x, atol=1e-7)
    assert x.dtype == np.float64  # the input is not modified in place


def test_layer_grad_norms_clears_old_gradients_and_matches_autograd():
    model = mlp([5, 7, 7, 3], seed=0).double()
    X = torch.randn(9, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(9) % 3
    first = gradients.layer_grad_norms(model, X, y)
    second = gradients.layer_grad_norms(model, X, y)   # no accumulation
    assert np.array_equal(first, second)
    model.zero_grad()
    nn.functional.cross_entropy(model(X), y).backward()
    expected = [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]
    assert np.allclose(first, expected, rtol=1e-12)


def test_second_moments_follow_the_gain():
    for c in (1.0, 2.0, 3.0):
        q = gradients.second_moments(20, 256, c, n_inputs=256, seed=3)
        assert q.shape == (21,) and abs(q[0] - 1) < 0.05
        assert abs(gradients.per_layer_factor(q) / (c / 2) - 1) < 0.1
    # ReLU is positively homogeneous: scaling the weights scales layer l by exactly (scale)^l
    q1 = gradients.second_moments(10, 64, 1.0, n_inputs=64, seed=4)
    q2 = gradients.second_moments(10, 64, 2.0, n_inputs=64, seed=4)
    assert np.allclose(q2 / q1, 2.0 ** np.arange(11), rtol=1e-10)


def test_backward_second_moments_follow_the_gain():
    g = gradients.backward_second_moments(20, 256, 3.0, n_inputs=256, seed=0)
    assert g.shape == (21,)
    assert abs(gradients.per_layer_factor(g[::-1]) / 1.5 - 1) < 0.1
