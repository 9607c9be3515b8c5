"""Find dead ReLU units in any PyTorch model, and watch them during training.

:func:`dead_units` walks a model's module tree, finds every ReLU-family
activation module (``nn.ReLU``, ``nn.LeakyReLU``, ``nn.PReLU``, ``nn.ELU``,
``nn.GELU``, ``nn.SiLU``, ... see :data:`RELU_FAMILY`), runs the model over
some inputs in batches and reports, per activation module, how many of its
units were never active on those inputs.

* A *unit* is one feature of an output of shape (N, F) and one channel of an
  output of shape (N, C, ...). A channel counts as active if any of its
  positions is. For channels-last outputs, such as a transformer's
  (N, tokens, features), pass ``unit_dim=-1``.
* *Never active* means: output <= 0 on every input for ``nn.ReLU`` and
  ``nn.ReLU6`` (their output is 0 exactly when the unit is off), and
  pre-activation (the module's input) <= 0 on every input for the other
  modules, whose output is not 0 when the unit is off.
* The pass runs in eval mode under ``torch.no_grad()``; afterwards every hook is
  removed and every submodule's train/eval flag is restored, and the
  parameters are untouched.
* Only modules can be seen. ``F.relu(x)`` or ``x.clamp(min=0)`` written inside
  a ``forward`` method runs no module hook, so such activations are invisible
  to this tool (and to any tool built on module hooks).

>>> import torch
>>> from torch import nn
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
>>> with torch.no_grad():
...     model[0].bias[:2] = -100.0            # units 0 and 1 can never switch on
>>> report = dead_units(model, torch.randn(50, 3, generator=torch.Generator().manual_seed(0)))
>>> [(r.name, r.kind, r.units, r.dead) for r in report.layers]
[('1', 'ReLU', 4, 2)]
>>> print(report)  # doctest: +NORMALIZE_WHITESPACE
Dead units on 50 inputs
layer  kind  units  dead  dead %  active %  criterion
1      ReLU      4     2    50.0      18.0  output <= 0

:class:`DeadUnitRecorder` records the dead fraction per layer once per epoch
(pass it as ``on_epoch`` to :func:`relucourse.training.train_classifier`),
and :func:`gradient_norms` gives the gradient norm of every parameter for one
batch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn

__all__ = ["RELU_FAMILY", "OUTPUT_CRITERION", "LayerDeadUnits", "DeadUnitReport", "dead_units",
           "find_activations", "DeadUnitRecorder", "gradient_norms", "DiagnosticError"]

#: Activation module classes the tool looks for. ReLU and ReLU6 are judged by
#: their output, the others by their input (see :data:`OUTPUT_CRITERION`).
RELU_FAMILY: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Hardswish,
)

#: The classes whose *output* is <= 0 exactly when the unit is off.
OUTPUT_CRITERION: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)


class DiagnosticError(ValueError):
    """The diagnostic could not run; the message says why and what to do."""


@dataclass(frozen=True)
class LayerDeadUnits:
    """Dead units of one activation module (one call site, if the module is called twice).

    ``name`` is the qualified module name (``"encoder.2"``), ``kind`` the module
    class name, ``units`` the number of features or channels, ``dead`` how many
    were never active, ``fraction`` = dead / units. ``dead_index`` lists the dead
    units, ``active_fraction`` is the share of all (input, unit) entries that
    were active (for channels: (input, channel, position) entries),
    ``criterion`` says what "active" meant for this module, and ``nan_units``
    counts units that produced NaN on some input (a diverged model; NaN
    entries are counted as inactive).
    """

    name: str
    kind: str
    units: int
    dead: int
    fraction: float
    active_fraction: float
    criterion: str
    dead_index: tuple[int, ...] = field(repr=False, default=())
    nan_units: int = 0


@dataclass(frozen=True)
class DeadUnitReport:
    """What :func:`dead_units` found: one :class:`LayerDeadUnits` per activation, in call order."""

    layers: list[LayerDeadUnits]
    samples: int

    @property
    def units(self) -> int:
        """Total number of units over all layers."""
        return sum(r.units for r in self.layers)

    @property
    def dead(self) -> int:
        """Total number of dead units over all layers."""
        return sum(r.dead for r in self.layers)

    @property
    def fraction(self) -> float:
        """Dead units over all units, all layers together."""
        return self.dead / self.units if self.units else 0.0

    def __getitem__(self, name: str) -> LayerDeadUnits:
        for record in self.layers:
            if record.name == name:
                return record
        raise KeyError(f"no activation layer named {name!r}; layers: {[r.name for r in self.layers]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data: ``{"samples": n, "layers": [{"name": ..., "kind": ..., ...}, ...]}``."""
        return {"samples": self.samples,
                "layers": [{**asdict(r), "dead_index": list(r.dead_index)} for r in self.layers]}

    def __str__(self) -> str:
        header = ["layer", "kind", "units", "dead", "dead %", "active %", "criterion"]
        rows = [[r.name, r.kind, str(r.units), str(r.dead), f"{100 * r.fraction:.1f}",
                 f"{100 * r.active_fraction:.1f}", _criterion_text(r.criterion)] for r in self.layers]
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
        right = {2, 3, 4, 5}

        def fmt(cells):
            out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
            return "  ".join(out).rstrip()

        lines = [f"Dead units on {self.samples} inputs", fmt(header)] + [fmt(row) for row in rows]
        broken = [f"{r.name} ({r.nan_units} units)" for r in self.layers if r.nan_units]
        if broken:
            lines.append(f"NaN outputs in {', '.join(broken)}: the model has diverged (NaN counted as inactive).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"DeadUnitReport(samples={self.samples}, layers={len(self.layers)}, "
                f"dead={self.dead}/{self.units})")

    def plot(self, ax=None, *, color: str | None = None, label: str | None = None):
        """Bar chart of the dead percentage per layer; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        names = [f"{r.name}\n{r.kind}" for r in self.layers]
        values = [100 * r.fraction for r in self.layers]
        bars = ax.bar(range(len(values)), values, color=color, label=label)
        for bar, r in zip(bars, self.layers):
            ax.annotate(f"{r.dead}/{r.units}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
        ax.set_xticks(range(len(values)), names)
        ax.set_ylim(0, 105)
        ax.set_xlabel("activation layer")
        ax.set_ylabel("dead units (%)")
        return ax


def _criterion_text(criterion: str) -> str:
    return "output <= 0" if criterion == "output" else "input <= 0"


def find_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ReLU-family modules of ``model`` as (qualified name, module), in registration order.

    A module registered under several names is listed once, under its first name.
    """
    return [(name, m) for name, m in model.named_modules() if isinstance(m, RELU_FAMILY)]


def _no_activations_message(model: nn.Module) -> str:
    return (f"found no ReLU-family activation module in {type(model).__name__}. The tool sees only "
            f"activation modules ({', '.join(c.__name__ for c in RELU_FAMILY)}). Activations written as "
            "function calls inside forward(), such as F.relu(x), torch.relu(x) or x.clamp(min=0), run no "
            "module hook and are invisible to it: replace them with modules (self.act = nn.ReLU() in "
            "__init__, self.act(x) in forward) to diagnose them.")


def _batches(inputs, batch_size: int) -> Iterator[Any]:
    """Yield model inputs: slices of a tensor/array, or the items of an iterable (first element of pairs)."""
    if batch_size < 1:
        raise DiagnosticError(f"batch_size must be a positive integer, got {batch_size}.")
    if inputs is None:
        raise DiagnosticError("inputs is None; pass a tensor of inputs or an iterable of batches.")
    if not torch.is_tensor(inputs) and type(inputs).__module__ == "numpy":
        inputs = torch.as_tensor(inputs)
        if inputs.is_floating_point():
            inputs = inputs.float()
    if torch.is_tensor(inputs):
        if inputs.dim() == 0:
            raise DiagnosticError("inputs is a 0-d tensor (a single number); pass a batch of shape "
                                  "(N, features) or (N, channels, ...).")
        for start in range(0, inputs.shape[0], batch_size):
            yield inputs[start:start + batch_size]
        return
    try:
        iterator = iter(inputs)
    except TypeError:
        raise DiagnosticError(f"inputs must be a tensor, an array or an iterable of batches, "
                              f"not {type(inputs).__name__}.") from None
    for item in iterator:
        if isinstance(item, (tuple, list)):
            if not item:
                raise DiagnosticError("an (inputs, targets) item of the iterable is empty.")
            item = item[0]
        if not torch.is_tensor(item):
            if type(item).__module__ == "numpy":
                item = torch.as_tensor(item)
                if item.is_floating_point():
                    item = item.float()
            else:
                raise DiagnosticError(f"each batch must be a tensor or an (inputs, targets) pair, "
                                      f"not {type(item).__name__}.")
        yield item


class _Site:
    """Accumulated statistics of one activation call site: per-unit counts of active entries."""

    def __init__(self, name: str, module: nn.Module, criterion: str, unit_dim: int = 1):
        self.name, self.module, self.criterion, self.unit_dim = name, module, criterion, unit_dim
        self.counts: torch.Tensor | None = None
        self.nan: torch.Tensor | None = None
        self.entries = 0
        self.shape: tuple[int, ...] | None = None

    def update(self, t: torch.Tensor) -> None:
        if not torch.is_tensor(t) or t.dim() < 2:
            shape = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
            raise DiagnosticError(
                f"layer '{self.name}' ({type(self.module).__name__}) produced an "
                f"{'output' if self.criterion == 'output' else 'input'} of shape {shape}; the tool needs "
                "a batch dimension first, then features (N, F) or channels (N, C, ...).")
        if not -t.dim() <= self.unit_dim < t.dim() or self.unit_dim % t.dim() == 0:
            raise DiagnosticError(
                f"layer '{self.name}' ({type(self.module).__name__}) gave a tensor of shape {tuple(t.shape)}, "
                f"in which unit_dim={self.unit_dim} is not a dimension after the batch dimension; use 1 for "
                "(N, F) or (N, C, ...) and -1 for channels-last outputs.")
        unit_dim = self.unit_dim % t.dim()
        units = t.shape[unit_dim]
        if self.counts is not None and units != self.counts.numel():
            raise DiagnosticError(
                f"layer '{self.name}' ({type(self.module).__name__}) had {self.counts.numel()} units "
                f"(shape {self.shape}) on an earlier batch but {units} (shape {tuple(t.shape)}) now; "
                "every batch must give the layer the same number of features or channels.")
        self.shape = tuple(t.shape)
        dims = [d for d in range(t.dim()) if d != unit_dim]
        t = t.detach()
        if not t.is_floating_point():
            t = t.float()
        # sign(relu(t)) is 1 where t > 0 and 0 elsewhere; summing it counts active entries per unit.
        # (This is several times faster than summing the boolean t > 0 on CPU.)
        # torch.sign(nan) is 0, so NaN entries count as inactive, as they would with t > 0.
        counts = torch.relu(t).sign_().sum(dim=dims).double()  # float64: exact totals over many batches
        if t.numel() and torch.isnan(t.amax()):                # amax propagates NaN: a cheap test
            nan = torch.isnan(t).sum(dim=dims) > 0
            self.nan = nan if self.nan is None else self.nan | nan
        self.counts = counts if self.counts is None else self.counts + counts
        self.entries += t.numel()

    def record(self) -> LayerDeadUnits:
        counts = self.counts.cpu()
        dead_mask = counts == 0
        units = dead_mask.numel()
        dead = int(dead_mask.sum())
        return LayerDeadUnits(
            name=self.name, kind=type(self.module).__name__, units=units, dead=dead,
            fraction=dead / units if units else 0.0,
            active_fraction=float(counts.sum()) / self.entries if self.entries else 0.0,
            criterion=self.criterion,
            dead_index=tuple(torch.nonzero(dead_mask).flatten().tolist()),
            nan_units=0 if self.nan is None else int(self.nan.sum()))


def _model_device(model: nn.Module) -> torch.device | None:
    for p in model.parameters():
        return p.device
    return None


def _display_names(found: list[tuple[str, nn.Module]], names: Mapping[str, str] | None) -> dict[int, str]:
    """id(module) -> the name shown in reports: ``names[qualified name]`` if given, else the qualified name."""
    qualified = [n for n, _ in found]
    if names is None:
        names = {}
    if not isinstance(names, Mapping):
        raise DiagnosticError(f"names must be a dict from module names to display names, not "
                              f"{type(names).__name__}; the activation modules are {qualified}.")
    unknown = [k for k in names if k not in qualified]
    if unknown:
        raise DiagnosticError(f"names gives display names for {unknown}, which are not activation modules of "
                              f"this model; its activation modules (model.named_modules()) are {qualified}.")
    bad = [v for v in names.values() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise DiagnosticError(f"every display name must be a non-empty string; got {bad!r}.")
    shown = {id(m): names.get(n, n) for n, m in found}
    if len(set(shown.values())) < len(shown):
        raise DiagnosticError(f"two activation modules would be shown under the same name: {sorted(shown.values())}.")
    return shown


def dead_units(model: nn.Module, inputs, *, batch_size: int = 1024, unit_dim: int = 1,
               names: Mapping[str, str] | None = None) -> DeadUnitReport:
    """Count, for every ReLU-family activation module of ``model``, the units never active on ``inputs``.

    ``inputs`` is a tensor or NumPy array whose first dimension indexes
    samples (it is cut into batches of ``batch_size``), or an iterable of
    batches: tensors or ``(inputs, targets)`` pairs, such as a
    ``torch.utils.data.DataLoader``. Only per-unit flags and counts are kept
    between batches, so memory does not grow with the data.

    The model runs in eval mode under ``torch.no_grad()``; hooks, the
    train/eval flags of all submodules and the parameters are as before when
    the function returns (or raises). If a module is called several times in
    one forward pass, each call gets its own record, named ``"name (call k)"``
    from the second call on.

    ``unit_dim`` is the dimension of an activation's output that indexes units:
    1 (the default) for (N, F) and (N, C, ...) outputs; -1 for channels-last
    outputs such as (N, tokens, features). Every other dimension except the
    batch is a position: a unit is alive if it is active at any position.

    Layers are named as ``model.named_modules()`` names them (``"1"`` for the
    second module of an ``nn.Sequential``, ``"encoder.act"`` in a nested
    model). ``names`` maps some of those names to the names to show instead,
    for example ``{"1": "hidden 1", "3": "hidden 2"}``; an ``nn.Sequential``
    built from an ``OrderedDict`` has readable names of its own.

    Raises :class:`DiagnosticError` (a ``ValueError``) with an explanation when
    the model has no ReLU-family modules, when ``inputs`` holds no samples, and
    when the model fails on the inputs (naming the layer and the shapes).
    """
    if not isinstance(model, nn.Module):
        raise DiagnosticError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if isinstance(unit_dim, bool) or not isinstance(unit_dim, int):
        raise DiagnosticError(f"unit_dim must be an integer dimension, got {unit_dim!r}.")
    found = find_activations(model)
    if not found:
        raise DiagnosticError(_no_activations_message(model))
    shown = _display_names(found, names)
    sites: dict[tuple[int, int], _Site] = {}
    calls: dict[int, int] = {}
    order: list[tuple[int, int]] = []

    def site_for(module: nn.Module, criterion: str) -> _Site:
        k = calls.get(id(module), 0)
        calls[id(module)] = k + 1
        key = (id(module), k)
        if key not in sites:
            name = shown[id(module)] + ("" if k == 0 else f" (call {k + 1})")
            sites[key] = _Site(name, module, criterion, unit_dim)
            order.append(key)
        return sites[key]

    def pre_hook(module, args):
        site_for(module, "input").update(args[0] if args else None)

    def post_hook(module, args, output):
        site_for(module, "output").update(output)

    modules = list(model.modules())
    modes = [m.training for m in modules]
    handles = []
    samples = 0
    device = _model_device(model)
    try:
        for _, m in found:
            if isinstance(m, OUTPUT_CRITERION):
                handles.append(m.register_forward_hook(post_hook))
            else:
                handles.append(m.register_forward_pre_hook(pre_hook))
        model.eval()
        with torch.no_grad():
            for batch in _batches(inputs, batch_size):
                if batch.dim() == 0 or batch.shape[0] == 0:
                    continue
                if device is not None and batch.device != device:
                    batch = batch.to(device)
                calls.clear()
                try:
                    model(batch)
                except DiagnosticError:
                    raise
                except (RuntimeError, ValueError, TypeError, IndexError) as err:
                    for h in handles:
                        h.remove()
                    handles.clear()
                    raise DiagnosticError(_failure_message(model, batch, err)) from err
                samples += batch.shape[0]
    finally:
        for h in handles:
            h.remove()
        for m, mode in zip(modules, modes):
            m.training = mode
    if samples == 0:
        raise DiagnosticError("inputs holds no samples (an empty tensor or an iterable with no batches); "
                              "a unit can only be called dead on at least one input.")
    if not sites:
        raise DiagnosticError(
            f"the model ran, but none of its activation modules ({', '.join(n for n, _ in found)}) was "
            "called, so forward() does not use them. Activations written as function calls inside "
            "forward(), such as F.relu(x), run no module hook and are invisible to this tool: call the "
            "modules instead (self.act(x)) to diagnose them.")
    return DeadUnitReport(layers=[sites[k].record() for k in order], samples=samples)


def _locate_failure(model: nn.Module, batch: torch.Tensor):
    """Run ``batch`` again with a hook on every module; return the innermost module running when it failed."""
    stack: list[tuple[str, nn.Module, tuple]] = []
    handles = []
    for name, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(
            lambda mod, args, name=name: stack.append((name, mod, args))))
        handles.append(m.register_forward_hook(lambda mod, args, out: stack.pop()))
    try:
        model(batch)
    except Exception:  # noqa: BLE001 - the failure we are locating
        return stack[-1] if stack else None
    finally:
        for h in handles:
            h.remove()
    return None


def _shape_text(x) -> str:
    if torch.is_tensor(x):
        return str(tuple(x.shape))
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_shape_text(a) for a in x) + ")"
    return type(x).__name__


def _failure_message(model, batch, err) -> str:
    text = f"the model failed on a batch of shape {tuple(batch.shape)}"
    where = _locate_failure(model, batch)
    if where is not None and where[1] is not model:
        name, module, args = where
        received = _shape_text(args[0]) if len(args) == 1 else _shape_text(args)
        text += f" in layer '{name}' ({type(module).__name__}), which received an input of shape {received}"
        expects = _expected_input(module)
        if expects:
            text += f" but expects {expects}"
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"{text}. PyTorch said: {first_line}"


def _expected_input(module: nn.Module) -> str | None:
    if isinstance(module, nn.Linear):
        return f"(N, {module.in_features})"
    if isinstance(module, nn.Conv1d):
        return f"(N, {module.in_channels}, length)"
    if isinstance(module, nn.Conv2d):
        return f"(N, {module.in_channels}, height, width)"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"{module.num_features} features or channels in dimension 1"
    return None


class DeadUnitRecorder:
    """Record the dead fraction of every activation layer once per epoch.

    Call it as ``recorder(epoch, model)`` (the ``on_epoch`` signature of
    :func:`relucourse.training.train_classifier`) or ``recorder.record(model)``.
    ``history[name]`` lists the dead fraction of layer ``name`` per recorded
    epoch, ``epochs`` the epoch numbers and ``reports`` the full reports.
    ``names`` is passed to :func:`dead_units` (display names for layers).
    Use ``recorder.record(model, epoch=0)`` before training to include the start.

    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> rec = DeadUnitRecorder(torch.randn(20, 2, generator=torch.Generator().manual_seed(0)))
    >>> rec.record(model, epoch=0)
    >>> rec.epochs, list(rec.history)
    ([0], ['1'])
    """

    def __init__(self, inputs, *, batch_size: int = 1024, unit_dim: int = 1,
                 names: Mapping[str, str] | None = None):
        self.inputs = inputs
        self.batch_size = batch_size
        self.unit_dim = unit_dim
        self.names = names
        self.epochs: list[int] = []
        self.reports: list[DeadUnitReport] = []
        self.history: dict[str, list[float]] = {}

    def record(self, model: nn.Module, epoch: int | None = None) -> None:
        """Run :func:`dead_units` on the stored inputs and append the result."""
        report = dead_units(model, self.inputs, batch_size=self.batch_size, unit_dim=self.unit_dim,
                            names=self.names)
        epoch = len(self.epochs) if epoch is None else int(epoch)
        for r in report.layers:
            self.history.setdefault(r.name, [math.nan] * len(self.epochs)).append(r.fraction)
        for name, values in self.history.items():
            if len(values) < len(self.epochs) + 1:
                values.append(math.nan)
        self.epochs.append(epoch)
        self.reports.append(report)

    def __call__(self, epoch: int, model: nn.Module) -> None:
        self.record(model, epoch)

    def plot(self, ax=None, *, title: str | None = None):
        """Dead percentage per layer against the epoch; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        from .style import MARKERS

        linestyles = ["-", "--", "-.", ":"]
        for k, (name, values) in enumerate(self.history.items()):
            # colour (the axes' cycle) and line style and marker: readable without colour
            ax.plot(self.epochs, [100 * v for v in values], linestyles[k % len(linestyles)],
                    marker=MARKERS[k % len(MARKERS)], markersize=4, label=name)
        ax.set_ylim(-3, 103)
        ax.set_xlabel("epoch")
        ax.set_ylabel("dead units (%)")
        if title:
            ax.set_title(title)
        if len(self.history) > 1:
            ax.legend()
        return ax


def gradient_norms(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                   loss_fn: Callable | None = None) -> dict[str, float]:
    """The L2 norm of the loss gradient for every parameter, on one batch: ``{name: norm}``.

    The gradient comes from ``torch.autograd.grad``, so the parameters'
    ``.grad`` fields are left as they were. The model runs in eval mode (no
    batch-norm statistics are updated, no dropout) and its modes are restored.
    ``loss_fn`` defaults to cross-entropy. Parameters the loss does not depend
    on get norm 0.
    """
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise DiagnosticError("the model has no trainable parameters.")
    if not torch.is_tensor(inputs):
        inputs = torch.as_tensor(inputs)
        if inputs.is_floating_point():
            inputs = inputs.float()                  # NumPy's float64 -> the model's float32
    if inputs.dim() == 0 or inputs.shape[0] == 0:
        raise DiagnosticError("inputs holds no samples.")
    targets = torch.as_tensor(targets)
    modes = {name: m.training for name, m in model.named_modules()}
    try:
        model.eval()
        with torch.enable_grad():
            try:
                outputs = model(inputs)
            except (RuntimeError, ValueError, TypeError, IndexError) as err:
                raise DiagnosticError(_failure_message(model, inputs, err)) from err
            try:
                loss = loss_fn(outputs, targets)
            except (RuntimeError, ValueError, TypeError, IndexError) as err:
                said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise DiagnosticError(
                    f"the loss failed on outputs of shape {tuple(outputs.shape)} and targets of shape "
                    f"{tuple(targets.shape)} (dtype {targets.dtype}). PyTorch said: {said}") from err
            grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True)
    finally:
        for name, m in model.named_modules():
            if name in modes:
                m.training = modes[name]
    return {n: (0.0 if g is None else float(g.norm())) for (n, _), g in zip(params, grads)}
