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

from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn


def seed_all(seed: int) -> np.random.Generator:
    """Seed PyTorch's global generator and return a NumPy generator with the same seed."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


#: Activation modules by name, for settings written as data (exercises, experiments).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
}


def mlp(sizes: Sequence[int], activation: Callable[[], nn.Module] | str = nn.ReLU, *,
        seed: int | None = None, init: str = "default", bias: float | None = None,
        batch_norm: bool = False, named: bool = False) -> nn.Sequential:
    """A fully connected network: Linear, activation, Linear, activation, ..., Linear.

    Args:
        sizes: widths from input to output; ``[64, 32, 10]`` is one hidden layer of 32 units.
        activation: a module class or factory (``nn.ReLU``, ``lambda: nn.LeakyReLU(0.1)``)
            or a key of :data:`ACTIVATIONS` (``"relu"``, ``"tanh"``, ...).
        seed: seeds the initialisation (``torch.manual_seed``) when given.
        init: ``"default"`` keeps PyTorch's ``nn.Linear`` default (uniform, variance
            1/(3 fan_in): not He); ``"he"`` uses ``kaiming_normal_`` (variance 2/fan_in) and
            ``"xavier"`` ``xavier_normal_`` (variance 2/(fan_in + fan_out)), both with zero
            biases; ``"normal"`` draws every weight from N(0, 1) (``nn.init.normal_``, after
            all layers are built) and keeps PyTorch's default biases.
        bias: if given, every bias (the output layer's too) is set to this constant.
        batch_norm: put ``nn.BatchNorm1d`` between each hidden linear layer and its activation.
        named: name the modules ``fc1``, (``bn1``,) ``hidden1`` (the activation of hidden
            layer 1), ``fc2``, ..., ``out`` instead of ``0``, ``1``, ...; integer indexing
            still works.

    Returns:
        The ``nn.Sequential`` network.

    Raises:
        ValueError: for an unknown ``init`` or activation name.
    """
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
        activation = ACTIVATIONS[activation]
    if init not in ("default", "he", "xavier", "normal"):
        raise ValueError(f"unknown init {init!r}; use 'default', 'he', 'xavier' or 'normal'")
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[tuple[str, nn.Module]] = []
    linears = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear = nn.Linear(n_in, n_out)
        if init == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        elif init == "xavier":
            nn.init.xavier_normal_(linear.weight)
        if bias is not None:
            nn.init.constant_(linear.bias, bias)
        elif init in ("he", "xavier"):
            nn.init.zeros_(linear.bias)
        linears.append(linear)
        if i == len(sizes) - 2:
            layers.append(("out", linear))
            break
        layers.append((f"fc{i + 1}", linear))
        if batch_norm:
            layers.append((f"bn{i + 1}", nn.BatchNorm1d(n_out)))
        layers.append((f"hidden{i + 1}", activation()))
    if init == "normal":
        for linear in linears:
            nn.init.normal_(linear.weight)
    if named:
        return nn.Sequential(OrderedDict(layers))
    return nn.Sequential(*(module for _, module in layers))


def as_tensors(X, y=None):
    """Float32 features and int64 labels as tensors (no copy for matching NumPy arrays)."""
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if y is None:
        return Xt
    return Xt, torch.as_tensor(np.asarray(y, dtype=np.int64))


@torch.no_grad()
def evaluate(model: nn.Module, X, y) -> tuple[float, float]:
    """Accuracy and mean cross-entropy loss on (X, y), in eval mode (the mode is restored after).

    Returns:
        ``(accuracy, loss)``: the fraction of rows whose arg-max output equals the label, and the loss.
    """
    Xt, yt = as_tensors(X, y)
    was_training = model.training
    model.eval()
    try:
        out = model(Xt)
        return float((out.argmax(dim=1) == yt).float().mean()), nn.functional.cross_entropy(out, yt).item()
    finally:
        model.train(was_training)


def accuracy(model: nn.Module, X, y) -> float:
    """Fraction of rows whose arg-max output equals the label (model put in eval mode and restored)."""
    return evaluate(model, X, y)[0]


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the ``with`` block with PyTorch using ``n`` threads, then restore the previous count.

    Tiny models train fastest on one thread; the exercise checks use this so
    that a student's kernel keeps its own setting.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_classifier(model: nn.Module, X, y, *, epochs: int = 20, lr: float = 0.1,
                     optimizer: str = "sgd", batch_size: int = 64, seed: int = 0,
                     momentum: float = 0.0, weight_decay: float = 0.0,
                     decay_biases: bool = True, X_test=None, y_test=None,
                     on_epoch: Callable[[int, nn.Module], None] | None = None,
                     train_acc: bool = False) -> dict:
    """Train ``model`` with cross-entropy on (X, y), mini-batch by mini-batch; return the history.

    The loop is the one the chapters write out: shuffle, then for each batch
    ``zero_grad``, loss, ``backward``, ``step``. Mini-batches are shuffled by a
    generator seeded with ``seed``, so the same call gives the same weights.

    Args:
        model: the network (trained in place).
        X, y: training features (N, ...) and integer labels (N,), arrays or tensors.
        epochs, lr, batch_size: as usual.
        optimizer: ``"sgd"`` (with ``momentum``) or ``"adam"``.
        weight_decay: L2 decay as in ``torch.optim``; with ``decay_biases=False`` only on
            parameters with two or more dimensions (not biases or normalization parameters).
        X_test, y_test: test data, evaluated after every epoch.
        on_epoch: ``on_epoch(epoch, model)`` after every epoch (counting from 1), for example
            a :class:`relucourse.diagnostics.DeadUnitRecorder`.
        train_acc: also record the accuracy on the training data (one more pass per epoch).

    Returns:
        A dict of lists, one entry per epoch: ``loss`` (mean training loss over the epoch),
        with ``train_acc=True`` ``train_acc``, and with test data ``test_acc`` and ``test_loss``.

    Raises:
        ValueError: for an unknown ``optimizer``.
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
    history: dict[str, list[float]] = {"loss": []}
    if train_acc:
        history["train_acc"] = []
    if X_test is not None:
        history["test_acc"], history["test_loss"] = [], []
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
        if train_acc:
            history["train_acc"].append(accuracy(model, Xt, yt))
        if X_test is not None:
            test_acc, test_loss = evaluate(model, X_test, y_test)
            history["test_acc"].append(test_acc)
            history["test_loss"].append(test_loss)
        if on_epoch is not None:
            on_epoch(epoch, model)
    return history
