"""Reference answers for chapter 6's exercises (tests only; not shipped in the package)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from relucourse.data import digits
from relucourse.training import mlp

# -- 6.1 --------------------------------------------------------------------------------------
def cause():
    return "saturation"


def repaired_settings():
    return {"init": "xavier"}


# -- 6.2 --------------------------------------------------------------------------------------
def saturated_fraction(output, lower, upper, tolerance):
    out = torch.as_tensor(output).double()
    margin = tolerance * (upper - lower)
    near = (out <= lower + margin) | (out >= upper - margin)
    return near.double().mean().item()


def saturated_fraction_numpy(output, lower, upper, tolerance):
    """Written differently: NumPy, distances to the nearer bound, a NumPy scalar returned."""
    values = np.asarray(output.detach() if hasattr(output, "detach") else output, dtype=np.float64)
    distance = np.minimum(values - lower, upper - values)
    return np.count_nonzero(distance <= tolerance * (upper - lower)) / values.size


# -- 6.4 --------------------------------------------------------------------------------------
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
_DATA = digits()
X = torch.as_tensor(_DATA.X_train[:256])
Y = torch.as_tensor(_DATA.y_train[:256])


def first_over_last(activation, init):
    model = mlp([64] + [64] * 20 + [10], ACTIVATIONS[activation], seed=0, init=init)
    nn.functional.cross_entropy(model(X), Y).backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return (linears[0].weight.grad.norm() / linears[-1].weight.grad.norm()).item()


def first_over_last_report(activation, init):
    """Written differently: with the health report."""
    from relucourse.health import health_report

    model = mlp([64] + [64] * 20 + [10], ACTIVATIONS[activation], seed=0, init=init)
    report = health_report(model, X, Y)
    return report.parameters[0].grad_norm / report.parameters[-1].grad_norm


def verdict():
    return "half true"


# -- 6.5 --------------------------------------------------------------------------------------
def deep_model(seed):
    return mlp([64] + [64] * 10 + [10], nn.ReLU, seed=seed, init="he")


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = nn.ReLU()
        nn.init.kaiming_normal_(self.linear.weight, nonlinearity="relu")
        nn.init.zeros_(self.linear.bias)
        with torch.no_grad():
            self.linear.weight.mul_(0.3)

    def forward(self, h):
        return h + self.act(self.linear(h))


def deep_residual_model(seed):
    torch.manual_seed(seed)
    first = nn.Linear(64, 64)
    nn.init.kaiming_normal_(first.weight, nonlinearity="relu")
    return nn.Sequential(first, nn.ReLU(), *[Residual(64) for _ in range(9)], nn.Linear(64, 10))


# -- 6.3 --------------------------------------------------------------------------------------
def growth_per_layer(std, fan_in):
    return (fan_in * std ** 2 / 2) ** 0.5


def growth_per_layer_numpy(std, fan_in):
    """Written differently: std times sqrt(fan_in / 2), as a NumPy float."""
    return std * np.sqrt(np.float64(fan_in) / 2)
