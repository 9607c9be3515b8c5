"""Reference answers for chapters 3 and 4, kept in the tests (the package ships no answers).

The checkers compare with expected values stored in ``relucourse.exercises``
or computed by code local to a checker; these functions recompute them, so a
test can show that the stored values are right and serve as a right answer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from relucourse.data import digits
from relucourse.gradients import layer_grad_norms
from relucourse.training import mlp


def mlp_backward_reference(X, y, W1, b1, W2, b2):
    """Gradients (dW1, db1, dW2, db2) of the mean softmax cross-entropy, by autograd in float64."""
    params = [torch.tensor(np.asarray(p, dtype=np.float64), requires_grad=True) for p in (W1, b1, W2, b2)]
    tW1, tb1, tW2, tb2 = params
    logits = torch.relu(torch.tensor(X, dtype=torch.float64) @ tW1.T + tb1) @ tW2.T + tb2
    nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.int64)).backward()
    return tuple(p.grad.numpy() for p in params)


def first_layer_grad_norms(max_depth: int = 20) -> tuple[float, ...]:
    """First-layer weight-gradient norm of exercise 3.6's sigmoid networks, depth 1 .. max_depth."""
    d = digits()
    X = torch.from_numpy(d.X_train[:256]).double()
    y = torch.from_numpy(d.y_train[:256])
    out = []
    for depth in range(1, max_depth + 1):
        model = mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0).double()
        out.append(float(layer_grad_norms(model, X, y)[0]))
    return tuple(out)


def p_dead_reference(w, b, mu, s, n) -> float:
    """P(w.x + b <= 0 for all n inputs), inputs iid N(mu, s^2 I)."""
    w = np.asarray(w, dtype=np.float64)
    m = float(w @ np.asarray(mu, dtype=np.float64) + b)
    sd = float(s * np.linalg.norm(w))
    if sd == 0:                                   # w = 0: z = b on every input
        return 1.0 if m <= 0 else 0.0
    return (0.5 * math.erfc(m / (sd * math.sqrt(2)))) ** n


def born_dead_reference(X, depth: int, width: int, trials: int, seed: int = 0) -> float:
    """Share of random zero-bias ReLU networks (He-normal weights) that are zero on every row of X."""
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    h = X.expand(trials, *X.shape)
    dead = torch.zeros(trials, dtype=torch.bool)
    fan_in = X.shape[1]
    for _ in range(depth):
        W = torch.randn(trials, fan_in, width, generator=gen) * math.sqrt(2 / fan_in)
        h = torch.relu(torch.bmm(h, W))
        dead |= h.amax(dim=(1, 2)) <= 0
        fan_in = width
    return float(dead.double().mean())


def dead_counts_reference(model, X) -> dict[str, int]:
    """{name: dead units} of every nn.ReLU module, by the chapter's tool."""
    from relucourse.diagnostics import dead_units

    return {r.name: r.dead for r in dead_units(model, X).layers if r.kind == "ReLU"}
