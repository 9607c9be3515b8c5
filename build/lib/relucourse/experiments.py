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

from .data import digits
from .diagnostics import DeadUnitRecorder
from .training import ACTIVATIONS as TRAINING_ACTIVATIONS
from .training import mlp, train_classifier, train_classifiers

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
    split, X_train, X_test = _digits_inputs(standardize, input_offset)
    if model is None:
        model = build_mlp(seed=seed, **build)
    elif build:
        raise TypeError(f"model given: the build options {sorted(build)} would be ignored")
    run, on_epoch = _started(model, X_train, X_test, epochs, every_epoch)
    run.history.update(train_classifier(model, X_train, split.y_train, epochs=epochs, lr=lr,
                                        optimizer=optimizer, batch_size=batch_size, seed=seed,
                                        X_test=X_test, y_test=split.y_test, on_epoch=on_epoch,
                                        momentum=momentum, weight_decay=weight_decay,
                                        decay_biases=decay_biases))
    return run


def _digits_inputs(standardize: bool, input_offset: float):
    """The digits split, and its training and test inputs as tensors with ``input_offset`` added."""
    split = digits(seed=0, standardize=standardize)
    return split, torch.as_tensor(split.X_train + input_offset), torch.as_tensor(split.X_test + input_offset)


def _each(value, n: int) -> list:
    """``value`` for each of ``n`` models: a list of ``n`` values as it is, one value repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{len(value)} values for {n} models: give one per model")
        return list(value)
    return [value] * n


def _started(model: nn.Module, X_train, X_test, epochs: int, every_epoch: bool,
             record_start: bool = True):
    """A run before training (its dead units counted at epoch 0 unless
    ``record_start`` is false) and the ``on_epoch`` that records it."""
    recorder = DeadUnitRecorder(X_train)
    if record_start:
        recorder.record(model, epoch=0)

    def on_epoch(epoch: int, net: nn.Module) -> None:
        if every_epoch or epoch == epochs:
            recorder(epoch, net)

    return DigitsRun(model, {}, recorder, X_train, X_test), on_epoch


def digits_runs(seeds: tuple[int, ...] | list[int] = (0, 1, 2), models: list[nn.Module] | None = None, *,
                lr: float | list[float] = 0.1, optimizer: str = "sgd", epochs: int = 10, batch_size: int = 64,
                standardize: bool | list[bool] = True, input_offset: float | list[float] = 0.0,
                every_epoch: bool = True, record_start: bool = True,
                momentum: float = 0.0, weight_decay: float = 0.0, decay_biases: bool = True,
                **build: Any) -> list[DigitsRun]:
    """:func:`digits_run` for several seeds at once: one :class:`DigitsRun` per seed.

    Seed ``s`` builds ``build_mlp(seed=s, **build)`` (or continues
    ``models[i]``, the ``i``-th model for the ``i``-th seed, trained in place)
    and shuffles the mini-batches with a generator seeded with ``s``, exactly
    as ``digits_run(seed=s, ...)`` does, with the same optimizer and the same
    records. The networks are trained side by side by
    :func:`relucourse.training.train_classifiers`, which is faster than
    separate runs: the result of
    each seed is ``digits_run``'s up to floating-point rounding (in a chaotic
    run, such as one at a learning rate that is too large, rounding grows, so
    such a run may end elsewhere, as it may on another CPU).

    Runs that differ only in their learning rate and their initial weights
    can share one computation too: pass ``models`` built as each run needs
    (``build_mlp(seed=s, init="he")``, ``build_mlp(seed=s, bias=0.1)``, ...;
    a seed may appear more than once) and, with plain SGD, ``lr`` as a list
    with one learning rate per model; ``standardize`` and ``input_offset``
    may be lists with one value per model too (the inputs change, the split
    and the labels do not).

    ``record_start=False`` skips the count before training (epoch 0), for
    callers that read only the later records: then ``recorder.epochs``
    starts at the first recorded epoch.

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
    data = list(zip(_each(standardize, len(models)), _each(input_offset, len(models))))
    made = {setting: _digits_inputs(*setting) for setting in dict.fromkeys(data)}   # once each
    runs, callbacks = zip(*(_started(model, *made[setting][1:], epochs, every_epoch,
                                     record_start)
                            for model, setting in zip(models, data)))
    split = made[data[0]][0]            # the split and the labels, the same for every setting
    if len(made) == 1:
        X_train, X_test = made[data[0]][1:]
    else:
        X_train, X_test = [made[d][1] for d in data], [made[d][2] for d in data]
    histories = train_classifiers(models, X_train, split.y_train, seeds=seeds, epochs=epochs, lr=lr,
                                  optimizer=optimizer, batch_size=batch_size, momentum=momentum,
                                  weight_decay=weight_decay, decay_biases=decay_biases, X_test=X_test,
                                  y_test=split.y_test, on_epoch=list(callbacks))
    for run, history in zip(runs, histories):
        run.history.update(history)
    return list(runs)


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
