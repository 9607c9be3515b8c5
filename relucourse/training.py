"""Small MLPs and a seeded training loop, sized for a laptop CPU.

>>> import torch
>>> from relucourse.data import xor
>>> X, y = xor(200, seed=0)
>>> model = mlp([2, 8, 2], seed=0)
>>> history = train_classifier(model, X, y, epochs=5, lr=0.1, seed=0)
>>> len(history["loss"])
5
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn


def seed_all(seed: int) -> np.random.Generator:
    """Seed PyTorch's global generator and return a NumPy generator with the same seed."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def mlp(sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU, *, seed: int | None = None,
        init: str = "default", bias: float | None = None) -> nn.Sequential:
    """A fully connected network: Linear, activation, Linear, activation, ..., Linear.

    ``sizes`` lists the widths from input to output, so ``[64, 32, 10]`` is one
    hidden layer of 32 units. ``activation`` is a module class or factory
    (``nn.ReLU``, ``nn.Tanh``, ``lambda: nn.LeakyReLU(0.1)``).

    ``init`` chooses the weight initialisation: ``"default"`` keeps PyTorch's
    ``nn.Linear`` default (uniform, variance 1/(3 fan_in): not He), ``"he"``
    uses ``kaiming_normal_`` (variance 2/fan_in), ``"xavier"`` uses
    ``xavier_normal_`` (variance 2/(fan_in + fan_out)). ``bias``, if given,
    sets every bias to that constant. ``seed`` seeds the initialisation.
    """
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        if init == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        elif init == "xavier":
            nn.init.xavier_normal_(linear.weight)
        elif init != "default":
            raise ValueError(f"unknown init {init!r}; use 'default', 'he' or 'xavier'")
        if bias is not None:
            nn.init.constant_(linear.bias, bias)
        elif init != "default":
            nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def as_tensors(X, y=None):
    """Float32 features and int64 labels as tensors (no copy for matching NumPy arrays)."""
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if y is None:
        return Xt
    return Xt, torch.as_tensor(np.asarray(y, dtype=np.int64))


@torch.no_grad()
def accuracy(model: nn.Module, X, y) -> float:
    """Fraction of rows whose arg-max output equals the label (model put in eval mode and restored)."""
    Xt, yt = as_tensors(X, y)
    was_training = model.training
    model.eval()
    try:
        return float((model(Xt).argmax(dim=1) == yt).float().mean())
    finally:
        model.train(was_training)


def train_classifier(model: nn.Module, X, y, *, epochs: int = 20, lr: float = 0.1,
                     optimizer: str = "sgd", batch_size: int = 64, seed: int = 0,
                     momentum: float = 0.0, weight_decay: float = 0.0,
                     decay_biases: bool = True, X_test=None, y_test=None,
                     on_epoch: Callable[[int, nn.Module], None] | None = None) -> dict:
    """Train ``model`` with cross-entropy on (X, y) and return the history.

    Mini-batches are shuffled by a generator seeded with ``seed``, so the same
    call gives the same weights. ``optimizer`` is ``"sgd"`` or ``"adam"``.
    ``on_epoch(epoch, model)`` is called after every epoch (epoch counts from 1),
    for example to record diagnostics. ``weight_decay`` is L2 decay as in
    ``torch.optim``; with ``decay_biases=False`` it applies only to parameters
    with two or more dimensions (weight matrices and kernels), not to biases
    or normalization parameters.

    The history has one entry per epoch: ``loss`` (mean training loss over the
    epoch), ``train_acc`` and, when test data are given, ``test_acc``.
    """
    Xt, yt = as_tensors(X, y)
    gen = torch.Generator().manual_seed(seed)
    params: list = list(model.parameters())
    if weight_decay and not decay_biases:
        groups = [{"params": [p for p in params if p.ndim > 1]},
                  {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]
        params = [g for g in groups if g["params"]]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd' or 'adam'")
    loss_fn = nn.CrossEntropyLoss()
    history: dict[str, list[float]] = {"loss": [], "train_acc": []}
    if X_test is not None:
        history["test_acc"] = []
    n = len(yt)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history["loss"].append(total / n)
        history["train_acc"].append(accuracy(model, Xt, yt))
        if X_test is not None:
            history["test_acc"].append(accuracy(model, X_test, y_test))
        if on_epoch is not None:
            on_epoch(epoch, model)
    return history
