"""Small, seeded dying-ReLU experiments on scikit-learn's digits (chapter 4 and its exercises).

These helpers are not the diagnostic tool (that is :mod:`relucourse.diagnostics`);
they set up the chapter's experiments on top of :func:`relucourse.training.mlp`
and :func:`relucourse.training.train_classifier`:

* :func:`build_mlp` is ``mlp`` with the digits' sizes and named modules;
* :func:`digits_run` trains one setting on the digits and records the dead
  fraction per layer with :class:`relucourse.diagnostics.DeadUnitRecorder`;
* :func:`digits_runs` does the same for several seeds at once, the seeds'
  networks side by side in one stacked computation (faster than separate runs);
* :func:`swap_activations` replaces the activation modules of a trained model.

>>> run = digits_run(hidden=(8,), epochs=1, seed=0)
>>> run.recorder.epochs, len(run.dead)
([0, 1], 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from .data import digits
from .diagnostics import DeadUnitRecorder
from .training import ACTIVATIONS as TRAINING_ACTIVATIONS
from .training import evaluate, mlp, train_classifier

__all__ = ["ACTIVATIONS", "build_mlp", "DigitsRun", "digits_run", "digits_runs", "swap_activations"]

#: Activation names accepted by :func:`build_mlp`: the ReLU family of :data:`relucourse.training.ACTIVATIONS`.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    name: TRAINING_ACTIVATIONS[name] for name in ("relu", "leaky_relu", "elu", "gelu", "silu")}


def build_mlp(hidden: tuple[int, ...] = (64, 64), activation: str = "relu", *, n_in: int = 64,
              n_out: int = 10, init: str = "default", bias: float | None = None, batch_norm: bool = False,
              seed: int = 0) -> nn.Sequential:
    """The chapter's seeded MLP ``n_in -> hidden... -> n_out``, with readable module names.

    This is :func:`relucourse.training.mlp` with ``named=True`` and the
    digits' sizes: ``fc1``, (``bn1``,) ``hidden1`` (the activation: the output
    of hidden layer 1), ``fc2``, ..., ``out``, names that the dead-unit tool's
    reports use. ``activation`` is a key of :data:`ACTIVATIONS`; the other
    arguments are :func:`~relucourse.training.mlp`'s.

    >>> [name for name, _ in build_mlp((8, 8)).named_children()]
    ['fc1', 'hidden1', 'fc2', 'hidden2', 'out']
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
    return mlp([n_in, *hidden, n_out], activation, seed=seed, init=init, bias=bias, batch_norm=batch_norm,
               named=True)


@dataclass
class DigitsRun:
    """What :func:`digits_run` returns: the trained model, its history and the dead-unit recorder."""

    model: nn.Module
    history: dict[str, list[float]]
    recorder: DeadUnitRecorder
    X_train: torch.Tensor
    X_test: torch.Tensor

    @property
    def diverged(self) -> bool:
        """True when the training loss became NaN or infinite."""
        return not all(math.isfinite(v) for v in self.history["loss"])

    @property
    def test_acc(self) -> float:
        """Test accuracy after the last epoch."""
        return self.history["test_acc"][-1]

    @property
    def dead(self) -> list[float]:
        """Dead fraction per activation layer after the last epoch (on the training inputs)."""
        return [values[-1] for values in self.recorder.history.values()]


def digits_run(model: nn.Module | None = None, *, lr: float = 0.1, optimizer: str = "sgd", epochs: int = 10,
               batch_size: int = 64, seed: int = 0, standardize: bool = True, input_offset: float = 0.0,
               every_epoch: bool = True, momentum: float = 0.0, weight_decay: float = 0.0,
               decay_biases: bool = True, **build: Any) -> DigitsRun:
    """Train an MLP on the digits (seeded) and record its dead fraction per layer before and after every epoch.

    ``model`` continues training an existing model; otherwise
    ``build_mlp(seed=seed, **build)`` makes a new one. ``standardize=False``
    uses raw pixel intensities (0 to 16); ``input_offset`` is added to every
    pixel of the training and test inputs. Dead units are counted on the
    training inputs, before training and after every epoch, or with
    ``every_epoch=False`` only before training and after the last epoch.
    ``momentum``, ``weight_decay`` and ``decay_biases`` are passed to
    :func:`relucourse.training.train_classifier`.
    """
    split = digits(seed=0, standardize=standardize)
    X_train = torch.as_tensor(split.X_train + input_offset)
    X_test = torch.as_tensor(split.X_test + input_offset)
    if model is None:
        model = build_mlp(seed=seed, **build)
    elif build:
        raise TypeError(f"model given: the build options {sorted(build)} would be ignored")
    recorder = DeadUnitRecorder(X_train)
    recorder.record(model, epoch=0)

    def on_epoch(epoch: int, net: nn.Module) -> None:
        if every_epoch or epoch == epochs:
            recorder(epoch, net)

    history = train_classifier(model, X_train, split.y_train, epochs=epochs, lr=lr, optimizer=optimizer,
                               batch_size=batch_size, seed=seed, X_test=X_test, y_test=split.y_test,
                               on_epoch=on_epoch, momentum=momentum, weight_decay=weight_decay,
                               decay_biases=decay_biases)
    return DigitsRun(model, history, recorder, X_train, X_test)


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
            raise TypeError("digits_runs trains nn.Sequential MLPs (build_mlp's)")
        self.models = models
        self.layers: list[tuple[str, nn.Module]] = []
        for name, module in first.named_children():
            if not isinstance(module, (nn.Linear, nn.BatchNorm1d, *_ELEMENTWISE)):
                raise TypeError(f"digits_runs cannot stack a {type(module).__name__} ({name!r})")
            self.layers.append((name, module))
        for model in models[1:]:
            theirs = [(name, repr(m)) for name, m in model.named_children()]
            if theirs != [(name, repr(m)) for name, m in self.layers]:
                raise ValueError("digits_runs: the models differ in their layers")
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
                flat = F.batch_norm(flat, self.buffers[f"{name}.running_mean"].view(-1),
                                    self.buffers[f"{name}.running_var"].view(-1),
                                    self.params[f"{name}.weight"].reshape(-1),
                                    self.params[f"{name}.bias"].reshape(-1),
                                    training=train, momentum=module.momentum, eps=module.eps)
                x = flat.reshape(batch, n_nets, features).transpose(0, 1)
            else:
                x = module(x)
        return x

    @torch.no_grad()
    def copy_to_models(self) -> None:
        """Write the stacked parameters and buffers back into the separate models."""
        for i, model in enumerate(self.models):
            for name, p in model.named_parameters():
                p.copy_(self.params[name][i])
            for name, b in model.named_buffers():
                b.copy_(self.buffers[name][i])


def digits_runs(seeds: tuple[int, ...] | list[int] = (0, 1, 2), models: list[nn.Module] | None = None, *,
                lr: float = 0.1, optimizer: str = "sgd", epochs: int = 10, batch_size: int = 64,
                standardize: bool = True, input_offset: float = 0.0, every_epoch: bool = True,
                momentum: float = 0.0, weight_decay: float = 0.0, decay_biases: bool = True,
                **build: Any) -> list[DigitsRun]:
    """:func:`digits_run` for several seeds at once: one :class:`DigitsRun` per seed.

    Seed ``s`` builds ``build_mlp(seed=s, **build)`` (or continues
    ``models[i]``, the ``i``-th model for the ``i``-th seed, trained in place)
    and shuffles the mini-batches with a generator seeded with ``s``, exactly
    as ``digits_run(seed=s, ...)`` does, with the same optimizer and the same
    records. The networks are trained side by side as one stack (batched
    matrix products), which is faster than separate runs: the result of
    each seed is ``digits_run``'s up to floating-point rounding (in a chaotic
    run, such as one at a learning rate that is too large, rounding grows, so
    such a run may end elsewhere, as it may on another CPU).

    >>> [round(r.test_acc, 2) > 0.5 for r in digits_runs((0, 1), hidden=(8,), epochs=2)]
    [True, True]
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("digits_runs needs at least one seed")
    if models is None:
        models = [build_mlp(seed=seed, **build) for seed in seeds]
    elif build:
        raise TypeError(f"models given: the build options {sorted(build)} would be ignored")
    elif len(models) != len(seeds):
        raise ValueError(f"{len(models)} models for {len(seeds)} seeds")
    split = digits(seed=0, standardize=standardize)
    X_train = torch.as_tensor(split.X_train + input_offset)
    X_test = torch.as_tensor(split.X_test + input_offset)
    y_train = torch.as_tensor(split.y_train)
    stack = _Stack(models)
    shapes = dict(models[0].named_parameters())
    params: list = list(stack.params.values())
    if weight_decay and not decay_biases:   # as in train_classifier: decay the weight matrices only
        groups = [{"params": [p for name, p in stack.params.items() if shapes[name].ndim > 1]},
                  {"params": [p for name, p in stack.params.items() if shapes[name].ndim <= 1],
                   "weight_decay": 0.0}]
        params = [g for g in groups if g["params"]]
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd' or 'adam'")
    runs = []
    for model in models:
        recorder = DeadUnitRecorder(X_train)
        recorder.record(model, epoch=0)
        history: dict[str, list[float]] = {"loss": [], "test_acc": [], "test_loss": []}
        runs.append(DigitsRun(model, history, recorder, X_train, X_test))
    gens = [torch.Generator().manual_seed(seed) for seed in seeds]
    n = len(y_train)
    for model in models:
        model.train()
    for epoch in range(1, epochs + 1):
        order = torch.stack([torch.randperm(n, generator=gen) for gen in gens])
        total = torch.zeros(len(models), dtype=torch.float64)
        for start in range(0, n, batch_size):
            idx = order[:, start:start + batch_size]
            opt.zero_grad()
            out = stack(X_train[idx])                     # (seeds, batch, classes)
            losses = F.cross_entropy(out.transpose(1, 2), y_train[idx], reduction="none").mean(dim=1)
            losses.sum().backward()                       # each network's own gradient
            opt.step()
            total += losses.detach().double() * idx.shape[1]
        stack.copy_to_models()
        for run, loss in zip(runs, total.tolist()):
            run.history["loss"].append(loss / n)
            test_acc, test_loss = evaluate(run.model, X_test, split.y_test)
            run.history["test_acc"].append(test_acc)
            run.history["test_loss"].append(test_loss)
            if every_epoch or epoch == epochs:
                run.recorder(epoch, run.model)
    return runs


def swap_activations(model: nn.Module, factory: Callable[[], nn.Module],
                     kinds: tuple[type[nn.Module], ...] = (nn.ReLU,)) -> nn.Module:
    """Replace, in place, every submodule of a class in ``kinds`` by ``factory()``; return ``model``.

    The weights are kept, so a trained ReLU network can continue training as,
    say, a LeakyReLU network (``swap_activations(model, nn.LeakyReLU)``).

    >>> net = swap_activations(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), nn.ELU)
    >>> type(net[1]).__name__
    'ELU'
    """
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, kinds):
                setattr(parent, name, factory())
    return model
