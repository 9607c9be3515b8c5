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
    opt = _optimizer([(p, p.ndim) for p in model.parameters()], optimizer, lr=lr, momentum=momentum,
                     weight_decay=weight_decay, decay_biases=decay_biases)
    loss_fn = nn.CrossEntropyLoss()
    history = _new_history(train_acc, X_test is not None)
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
        _end_epoch(epoch, model, history, total / n, (Xt, yt), (X_test, y_test), on_epoch)
    return history


def _inputs(X, y, n_models: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`as_tensors`, or for a list of 2-D arrays (one per model) the stacked (models, N, ...) inputs."""
    if not (isinstance(X, (list, tuple)) and X and np.ndim(X[0]) == 2):
        return as_tensors(X, y)
    if len(X) != n_models:
        raise ValueError(f"{len(X)} input arrays for {n_models} models: give one per model")
    if len({np.shape(x) for x in X}) != 1:
        raise ValueError("the input arrays of the models differ in shape")
    yt = as_tensors(X[0], y)[1]
    return torch.stack([as_tensors(x) for x in X]), yt


def _rates(lr, n_models: int, optimizer: str) -> torch.Tensor | None:
    """``None`` for one learning rate (a number, or a list of equal ones), else the rates as a tensor."""
    if np.ndim(lr) == 0:
        return None
    rates = [float(v) for v in lr]
    if len(rates) != n_models:
        raise ValueError(f"{len(rates)} learning rates for {n_models} models: give one per model")
    if len(set(rates)) == 1:
        return None
    if optimizer != "sgd":
        raise ValueError(f"different learning rates per model need optimizer='sgd', not {optimizer!r}")
    return torch.tensor(rates, dtype=torch.float32)


def _optimizer(params: list[tuple[torch.Tensor, int]], optimizer: str, *, lr: float, momentum: float,
               weight_decay: float, decay_biases: bool) -> torch.optim.Optimizer:
    """The optimizer of :func:`train_classifier`; ``params`` are (tensor, dimensions of the parameter)."""
    groups = [{"params": [p for p, _ in params]}]
    if weight_decay and not decay_biases:   # decay the weight matrices only
        groups = [{"params": [p for p, ndim in params if ndim > 1]},
                  {"params": [p for p, ndim in params if ndim <= 1], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
    if optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if optimizer == "adam":
        return torch.optim.Adam(groups, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd' or 'adam'")


def _new_history(train_acc: bool, test: bool) -> dict[str, list[float]]:
    history: dict[str, list[float]] = {"loss": []}
    if train_acc:
        history["train_acc"] = []
    if test:
        history["test_acc"], history["test_loss"] = [], []
    return history


def _end_epoch(epoch: int, model: nn.Module, history: dict, loss: float, train, test, on_epoch,
               scores: tuple | None = None) -> None:
    """Record the epoch's mean training loss, the accuracies asked for; call ``on_epoch``.

    ``scores`` is ``(train accuracy, (test accuracy, test loss))`` computed
    already (for a stack of models), else they are computed here.
    """
    history["loss"].append(loss)
    if "train_acc" in history:
        history["train_acc"].append(accuracy(model, *train) if scores is None else scores[0])
    if "test_acc" in history:
        test_acc, test_loss = evaluate(model, *test) if scores is None else scores[1]
        history["test_acc"].append(test_acc)
        history["test_loss"].append(test_loss)
    if on_epoch is not None:
        on_epoch(epoch, model)


#: Activation modules that act on each number alone, so that they apply unchanged to a stack of networks.
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.ReLU6, nn.SELU,
                nn.CELU, nn.Softplus, nn.Mish, nn.Hardswish, nn.Hardtanh, nn.Identity)


class _Stack:
    """Copies of one MLP architecture (seeded differently), computed together.

    Every parameter and buffer of the ``models`` is stacked along a new first
    dimension; a forward pass maps inputs (S, batch, features) to outputs
    (S, batch, classes) with batched matrix products, so that S networks cost
    about as many PyTorch calls as one. The optimizers of the course (SGD with
    momentum and weight decay, Adam) act on each number alone, so stepping the
    stacked tensors steps each network as if it were trained alone.
    """

    def __init__(self, models: list[nn.Module]):
        first = models[0]
        if not isinstance(first, nn.Sequential):
            raise TypeError("train_classifiers trains nn.Sequential MLPs (such as mlp's)")
        self.models = models
        self.layers: list[tuple[str, nn.Module]] = []
        for name, module in first.named_children():
            if not isinstance(module, (nn.Linear, nn.BatchNorm1d, *_ELEMENTWISE)):
                raise TypeError(f"train_classifiers cannot stack a {type(module).__name__} ({name!r})")
            self.layers.append((name, module))
        for model in models[1:]:
            theirs = [(name, repr(m)) for name, m in model.named_children()]
            if theirs != [(name, repr(m)) for name, m in self.layers]:
                raise ValueError("train_classifiers: the models differ in their layers")
        with torch.no_grad():
            self.params = {name: torch.stack([dict(m.named_parameters())[name] for m in models]).requires_grad_()
                           for name, _ in first.named_parameters()}
            self.buffers = {name: torch.stack([dict(m.named_buffers())[name] for m in models])
                            for name, _ in first.named_buffers()}

    def __call__(self, x: torch.Tensor, train: bool = True) -> torch.Tensor:
        for name, module in self.layers:
            if isinstance(module, nn.Linear):
                weight = self.params[f"{name}.weight"].transpose(1, 2)
                bias = self.params.get(f"{name}.bias")
                x = torch.bmm(x, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), x, weight)
            elif isinstance(module, nn.BatchNorm1d):
                # each (network, feature) pair is one batch-norm channel
                n_nets, batch, features = x.shape
                flat = x.transpose(0, 1).reshape(batch, n_nets * features)
                if train:
                    self.buffers[f"{name}.num_batches_tracked"] += 1
                flat = nn.functional.batch_norm(flat, self.buffers[f"{name}.running_mean"].view(-1),
                                    self.buffers[f"{name}.running_var"].view(-1),
                                    self.params[f"{name}.weight"].reshape(-1),
                                    self.params[f"{name}.bias"].reshape(-1),
                                    training=train, momentum=module.momentum, eps=module.eps)
                x = flat.reshape(batch, n_nets, features).transpose(0, 1)
            else:
                x = module(x)
        return x

    @torch.no_grad()
    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> list[tuple[float, float]]:
        """:func:`evaluate` (eval mode) for every model at once: ``(accuracy, loss)`` per model."""
        if X.ndim == 2:                                    # the same inputs for every model
            X = X.expand(len(self.models), *X.shape)
        out = self(X, train=False)                         # (models, N, classes)
        accs = (out.argmax(dim=2) == y).float().mean(dim=1)
        losses = nn.functional.cross_entropy(out.transpose(1, 2), y.expand(len(self.models), -1),
                                             reduction="none").mean(dim=1)
        return list(zip(accs.tolist(), losses.tolist()))

    @torch.no_grad()
    def copy_to_models(self) -> None:
        """Write the stacked parameters and buffers back into the separate models."""
        for i, model in enumerate(self.models):
            for name, p in model.named_parameters():
                p.copy_(self.params[name][i])
            for name, b in model.named_buffers():
                b.copy_(self.buffers[name][i])


def train_classifiers(models: Sequence[nn.Module], X, y, *, seeds: Sequence[int], epochs: int = 20,
                      lr: float | Sequence[float] = 0.1, optimizer: str = "sgd", batch_size: int = 64,
                      momentum: float = 0.0,
                      weight_decay: float = 0.0, decay_biases: bool = True, X_test=None, y_test=None,
                      on_epoch: Callable[[int, nn.Module], None] | Sequence[Callable[[int, nn.Module], None]]
                      | None = None, train_acc: bool = False) -> list[dict]:
    """:func:`train_classifier` for several copies of one MLP, side by side: one history per model.

    ``models[i]`` is trained in place exactly as ``train_classifier(models[i],
    ..., seed=seeds[i])`` trains it (its own shuffled mini-batches, the same
    optimizer, the same records), up to floating-point rounding: the models,
    ``nn.Sequential`` networks of ``nn.Linear``, ``nn.BatchNorm1d`` and
    activation modules with the same layers (:func:`mlp`'s, with different
    seeds), are stacked and computed together with batched matrix products,
    which takes much less time than training them one by one. In a chaotic
    run (a learning rate that is too large) rounding grows, so such a run may
    end elsewhere, as it may on another CPU. ``on_epoch`` is one callable for
    every model or a list with one per model. ``lr`` is one learning rate for
    every model or, with plain ``"sgd"`` (momentum and weight decay allowed),
    a list with one per model, so that runs which differ only in their
    learning rate and their initial weights train side by side too. ``X``
    (and ``X_test``) may likewise be a list of 2-D arrays, one per model,
    all of the same shape and with the same labels ``y`` (``y_test``).

    >>> from relucourse.data import xor
    >>> X, y = xor(200, seed=0)
    >>> nets = [mlp([2, 8, 2], seed=s) for s in (0, 1)]
    >>> [len(h["loss"]) for h in train_classifiers(nets, X, y, seeds=(0, 1), epochs=3)]
    [3, 3]
    """
    models, seeds = list(models), [int(s) for s in seeds]
    if not models or len(models) != len(seeds):
        raise ValueError(f"{len(models)} models for {len(seeds)} seeds: give one seed per model")
    callbacks = list(on_epoch) if isinstance(on_epoch, (list, tuple)) else [on_epoch] * len(models)
    if len(callbacks) != len(models):
        raise ValueError(f"{len(callbacks)} on_epoch callables for {len(models)} models")
    Xt, yt = _inputs(X, y, len(models))
    rows = torch.arange(len(models)).unsqueeze(1) if Xt.ndim == 3 else None
    stack = _Stack(models)
    shapes = dict(models[0].named_parameters())
    params = [(p, shapes[name].ndim) for name, p in stack.params.items()]
    rates = _rates(lr, len(models), optimizer)
    if rates is None:
        opt = _optimizer(params, optimizer, lr=float(lr if np.ndim(lr) == 0 else lr[0]),
                         momentum=momentum, weight_decay=weight_decay, decay_biases=decay_biases)
    else:   # SGD at rate 1 on each model's lr * (gradient + decay): its own learning rate
        opt = _optimizer(params, optimizer, lr=1.0, momentum=momentum, weight_decay=0.0,
                         decay_biases=True)
        decays = [weight_decay if decay_biases or ndim > 1 else 0.0 for _, ndim in params]
    histories = [_new_history(train_acc, X_test is not None) for _ in models]
    test = _inputs(X_test, y_test, len(models)) if X_test is not None else None
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    n = len(yt)
    for epoch in range(1, epochs + 1):
        for model in models:        # as train_classifier does (evaluate restores it)
            model.train()
        order = torch.stack([torch.randperm(n, generator=gen) for gen in gens])
        total = torch.zeros(len(models), dtype=torch.float64)
        for start in range(0, n, batch_size):
            idx = order[:, start:start + batch_size]
            opt.zero_grad()
            batch = Xt[idx] if rows is None else Xt[rows, idx]     # (models, batch, features)
            out = stack(batch)                             # (models, batch, classes)
            losses = nn.functional.cross_entropy(out.transpose(1, 2), yt[idx],
                                                 reduction="none").mean(dim=1)
            losses.sum().backward()                        # each model's own gradient
            if rates is not None:
                with torch.no_grad():
                    for (p, _), decay in zip(params, decays):
                        if decay:
                            p.grad.add_(p, alpha=decay)
                        p.grad.mul_(rates.view(-1, *[1] * (p.ndim - 1)))
            opt.step()
            total += losses.detach().double() * idx.shape[1]
        stack.copy_to_models()
        # the accuracies of every model in one stacked pass each
        train_accs = [a for a, _ in stack.evaluate(Xt, yt)] if train_acc else [None] * len(models)
        test_scores = stack.evaluate(*test) if test is not None else [None] * len(models)
        for i, (model, history, callback) in enumerate(zip(models, histories, callbacks)):
            _end_epoch(epoch, model, history, total[i].item() / n, None, None, callback,
                       scores=(train_accs[i], test_scores[i]))
    return histories
