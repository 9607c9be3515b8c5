"""Find dead units in any PyTorch model, and watch them during training.

:func:`dead_units` is one view of the inspection core
(:mod:`relucourse.inspection`), of which chapter 6's
:func:`relucourse.health.health_report` is the other: the same recorder, the
same batches, the same mode and the same definition of "dead", so the two
agree on the same model and data. It runs the model over some inputs in
batches and reports, per activation (a module such as ``nn.ReLU`` or
transformers' ``GELUActivation``, or a function such as ``F.relu`` called in
``forward``), how many of its units were dead on those inputs.

* A *unit* is one feature or channel: the last dimension after a linear
  layer (``(N, F)``, a transformer's ``(N, tokens, F)``), dimension 1 after a
  convolution or batch normalisation (``(N, C, H, W)``); ``unit_dim`` sets it
  by hand. A unit is on if it is on at any position.
* *Dead* means: on every input the unit sits where its activation's slope is
  at most 0.01. For ReLU and ReLU6 that is output 0 (input <= 0); for
  LeakyReLU(0.01) input <= 0; for Hardswish input <= -3; for GELU, SiLU,
  ELU, Softplus, Mish, SELU input below the point under which their slope
  stays within 0.01 of 0 (about -3.1 for GELU, -6.3 for SiLU). An activation
  whose slope below 0 stays larger (PReLU at 0.25, RReLU) has no off state:
  it is listed as not judged, with the slope its units keep.
* The pass runs in training mode by default (``train_mode=True``), as the
  health report's does: batch normalisation uses each batch's statistics.
  ``train_mode=False`` gives what the model computes at test time. Afterwards
  every hook is removed and every flag, buffer and ``.grad`` is restored.
* What the tool cannot see (the gates inside ``nn.LSTM``'s fused kernel, for
  example) is listed in :attr:`DeadUnitReport.unseen` and printed.

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
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .inspection import (MODULE_KINDS, DiagnosticError, SiteStats, inspect_model, locate_failure,
                         module_kind, slope_text)

__all__ = ["RELU_FAMILY", "OUTPUT_CRITERION", "LayerDeadUnits", "DeadUnitReport", "dead_units",
           "find_activations", "DeadUnitRecorder", "gradient_norms", "DiagnosticError"]

#: The ReLU family of torch.nn activation classes (chapter 5). The tool sees
#: more than these: every activation of :data:`relucourse.inspection.KINDS`.
RELU_FAMILY: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Hardswish,
)

#: The classes whose *output* is <= 0 exactly when the unit is off.
OUTPUT_CRITERION: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)


@dataclass(frozen=True)
class LayerDeadUnits:
    """Dead units of one activation (one call site, if it is called twice).

    ``name`` is the qualified module name (``"encoder.2"``) or, for a function
    called in ``forward``, the calling module's name and the function
    (``"block/relu"``); ``kind`` the class or function name, ``units`` the
    number of features or channels, ``dead`` how many were dead, ``fraction``
    = dead / units. ``dead_index`` lists the dead units, ``active_fraction``
    is the share of all (input, unit, position) entries whose input was > 0,
    ``criterion`` is "output" (ReLU, ReLU6) or "input" (the others),
    ``threshold`` the input at or below which a unit is off for good,
    ``inputs`` the number of inputs the counts rest on, ``off`` the units
    whose input never crossed 0, and ``nan_units`` the units that produced
    NaN on some input (a diverged model; NaN counts as not on).
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
    threshold: float = 0.0
    inputs: int = 0
    off: int = 0


def _layer_record(site: SiteStats, name: str) -> LayerDeadUnits:
    dead_mask = site.dead_mask()
    dead = int(dead_mask.sum())
    return LayerDeadUnits(
        name=name, kind=site.label, units=site.units, dead=dead,
        fraction=dead / site.units if site.units else 0.0,
        active_fraction=site.positive / site.entries if site.entries else 0.0,
        criterion=site.criterion, dead_index=tuple(torch.nonzero(dead_mask).flatten().tolist()),
        nan_units=0 if site.nan is None else int(site.nan.sum()), threshold=float(site.threshold),
        inputs=site.inputs, off=int(site.off_mask().sum()))


@dataclass(frozen=True)
class DeadUnitReport:
    """What :func:`dead_units` found: one :class:`LayerDeadUnits` per activation with an off state, in call order.

    ``not_judged`` lists (name, kind, what slope its units keep) for the
    activations without an off state; ``unseen`` lists (layer, class, why)
    for what the tool could not see.
    """

    layers: list[LayerDeadUnits]
    samples: int
    not_judged: list[tuple[str, str, str]] = field(default_factory=list)
    unseen: list[tuple[str, str, str]] = field(default_factory=list)

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
                "layers": [{**asdict(r), "dead_index": list(r.dead_index)} for r in self.layers],
                "not_judged": [list(x) for x in self.not_judged],
                "unseen": [list(x) for x in self.unseen]}

    def __str__(self) -> str:
        header = ["layer", "kind", "units", "dead", "dead %", "active %", "criterion"]
        rows = [[r.name, r.kind, str(r.units), str(r.dead), f"{100 * r.fraction:.1f}",
                 f"{100 * r.active_fraction:.1f}", _criterion_text(r)] for r in self.layers]
        widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
        right = {2, 3, 4, 5}

        def fmt(cells):
            out = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
            return "  ".join(out).rstrip()

        lines = [f"Dead units on {self.samples} inputs", fmt(header)] + [fmt(row) for row in rows]
        broken = [f"{r.name} ({r.nan_units} units)" for r in self.layers if r.nan_units]
        if broken:
            lines.append(f"NaN outputs in {', '.join(broken)}: the model has diverged (NaN counted as inactive).")
        notes = []
        if self.not_judged:
            notes.append("Not judged (no off state): " + "; ".join(
                f"{n} ({k}: {why})" for n, k, why in self.not_judged) + ".")
        if self.unseen:
            notes.append("Not seen: " + "; ".join(f"{n} ({c}): {why}" for n, c, why in self.unseen) + ".")
        for note in notes:
            lines.append(textwrap.fill(note, 74, subsequent_indent="  "))
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


def _criterion_text(r: LayerDeadUnits) -> str:
    if r.criterion == "output":
        return "output <= 0"
    return f"input <= {r.threshold:g}"


def find_activations(model: nn.Module, activations: Mapping | None = None) -> list[tuple[str, nn.Module]]:
    """The activation modules of ``model`` as (qualified name, module), in registration order.

    A module registered under several names is listed once, under its first
    name. Activation functions called in ``forward`` are found only by running
    the model (:func:`dead_units` does).

    Args: model: the model; activations: extra ``{class or class name: kind}``.
    Returns: the list.
    Raises: nothing.
    """
    return [(name, m) for name, m in model.named_modules() if module_kind(m, activations) is not None]


def _display_names(sites: list[SiteStats], names: Mapping[str, str] | None) -> list[str]:
    """The names shown in reports: ``names[base name]`` (plus "(call k)") if given, else the site's name."""
    def base(name):
        return name.split(" (call ")[0]

    bases = list(dict.fromkeys(base(s.name) for s in sites))
    if names is None:
        names = {}
    if not isinstance(names, Mapping):
        raise DiagnosticError(f"names must be a dict from layer names to display names, not "
                              f"{type(names).__name__}; the activation layers are {bases}.")
    unknown = [k for k in names if k not in bases]
    if unknown:
        raise DiagnosticError(f"names gives display names for {unknown}, which are not activation modules of "
                              f"this model; its activation layers are {bases}.")
    bad = [v for v in names.values() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise DiagnosticError(f"every display name must be a non-empty string; got {bad!r}.")
    shown = [names.get(base(s.name), base(s.name)) + s.name[len(base(s.name)):] for s in sites]
    firsts = [x for x, s in zip(shown, sites) if " (call " not in s.name]
    if len(set(firsts)) < len(firsts):
        raise DiagnosticError(f"two activation layers would be shown under the same name: {sorted(firsts)}.")
    return shown


def dead_units(model: nn.Module, inputs, *, batch_size: int = 256, unit_dim: int | None = None,
               names: Mapping[str, str] | None = None, train_mode: bool = True,
               max_batches: int | None = None, activations: Mapping | None = None) -> DeadUnitReport:
    """Count, for every activation ``model`` uses, the units that are dead on ``inputs``.

    ``inputs`` is a tensor or NumPy array whose first dimension indexes
    samples (it is cut into batches of ``batch_size``), a tuple (positional
    inputs) or dict (keyword inputs, ``model(**inputs)``) of such tensors, or
    an iterable of batches: tensors, dicts or ``(inputs, targets)`` pairs, such
    as a ``torch.utils.data.DataLoader`` (at most ``max_batches`` of them).
    Only per-unit maxima and running sums are kept between batches, so memory
    does not grow with the data.

    The model runs in training mode (``train_mode=False``: eval mode) under
    ``torch.no_grad()``, exactly as :func:`relucourse.health.health_report`
    runs it, so both count the same dead units; hooks, flags, buffers and
    ``.grad`` fields are as before when the function returns (or raises).
    An activation called several times in one forward pass gets one record
    per call, named ``"name (call k)"`` from the second call on.

    ``unit_dim``: None (the default) picks the dimension of units from the
    layer that produced the activation's input (the last dimension after a
    linear layer, 1 after a convolution or batch norm); an integer fixes it.
    ``names`` maps some layer names to the names to show instead, for example
    ``{"1": "hidden 1", "3": "hidden 2"}``. ``activations`` adds activation
    classes the tool does not know: ``{MyAct: "gelu"}``.

    Args: model, inputs, batch_size, unit_dim, names, train_mode, max_batches, activations: see above.
    Returns: a :class:`DeadUnitReport`.
    Raises: DiagnosticError (a ``ValueError``) with the cause and the fix when
        the model has no visible activation, ``inputs`` holds no samples, or the
        model fails on the inputs (naming the layer and the shapes).
    """
    info = inspect_model(model, inputs, batch_size=batch_size, max_batches=max_batches, unit_dim=unit_dim,
                         train_mode=train_mode, activations=activations, backward=False,
                         tool="dead_units")
    shown = _display_names(info.sites, names)
    layers, not_judged = [], []
    for site, name in zip(info.sites, shown):
        if site.threshold is None:
            if site.kind in ("prelu", "rrelu", "leaky_relu"):
                not_judged.append((name, site.label, f"keeps {slope_text(site.kind, site.slope)}"))
            continue
        layers.append(_layer_record(site, name))
    if not layers and not not_judged:
        kinds = sorted({s.label for s in info.sites})
        raise DiagnosticError(
            f"dead_units found activations in {type(model).__name__} ({', '.join(kinds)}), but none with an "
            "off state (a region below 0 where the slope is 0 or nearly): dead units are defined for ReLU, "
            "ReLU6, LeakyReLU, GELU, SiLU and the like. Use relucourse.health.health_report for the "
            "saturation of sigmoid and tanh.")
    return DeadUnitReport(layers=layers, samples=info.samples, not_judged=not_judged, unseen=info.unseen)


class DeadUnitRecorder:
    """Record the dead fraction of every activation layer once per epoch.

    Call it as ``recorder(epoch, model)`` (the ``on_epoch`` signature of
    :func:`relucourse.training.train_classifier`) or ``recorder.record(model)``.
    ``history[name]`` lists the dead fraction of layer ``name`` per recorded
    epoch, ``epochs`` the epoch numbers and ``reports`` the full reports.
    ``names`` and any other keyword (``train_mode``, ``activations``, ...) are
    passed to :func:`dead_units`.
    Use ``recorder.record(model, epoch=0)`` before training to include the start.

    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> rec = DeadUnitRecorder(torch.randn(20, 2, generator=torch.Generator().manual_seed(0)))
    >>> rec.record(model, epoch=0)
    >>> rec.epochs, list(rec.history)
    ([0], ['1'])
    """

    def __init__(self, inputs, *, batch_size: int = 256, unit_dim: int | None = None,
                 names: Mapping[str, str] | None = None, **options):
        self.inputs = inputs
        self.batch_size = batch_size
        self.unit_dim = unit_dim
        self.names = names
        self.options = options
        self.epochs: list[int] = []
        self.reports: list[DeadUnitReport] = []
        self.history: dict[str, list[float]] = {}

    def record(self, model: nn.Module, epoch: int | None = None) -> None:
        """Run :func:`dead_units` on the stored inputs and append the result."""
        report = dead_units(model, self.inputs, batch_size=self.batch_size, unit_dim=self.unit_dim,
                            names=self.names, **self.options)
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

    Args: model: the model; inputs: one batch; targets: its targets; loss_fn: the loss.
    Returns: ``{parameter name: gradient norm}``.
    Raises: DiagnosticError when the model or the loss fails, or nothing is trainable.
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
                raise DiagnosticError(locate_failure(model, inputs, err)) from err
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
