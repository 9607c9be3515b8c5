"""A health report for any PyTorch model: one forward and backward pass, looked at layer by layer.

:func:`health_report` runs one batch through a model with hooks on every
module, computes the loss and its gradient, and returns a
:class:`HealthReport` with

* per activation layer: the share of dead units (ReLU family), the share of
  saturated outputs (bounded activations), and the mean and standard
  deviation of the pre-activations (the module's input) and activations
  (its output);
* per parameterised layer: the norm of its weight, of the weight's gradient,
  and their ratio;
* findings: a plain-language list of what looks wrong (dead units,
  saturation, vanishing or exploding gradients, exploding activations,
  inputs that are not standardized), each naming the layer, the measured
  value, the threshold that triggered it and the chapter section that
  explains the cause.

The model is left exactly as it was: parameters, existing ``.grad`` fields,
buffers (batch-norm running statistics), every submodule's train/eval flag,
PyTorch's random-number state (dropout draws from it) and its hooks are all
restored, also when the model raises. The gradients come from
``torch.autograd.grad``, so no ``.grad`` field is written.

Layer names are those of ``model.named_modules()``. Only modules can be seen:
an activation written as a function call inside ``forward`` (``F.relu(x)``)
runs no hook and is invisible to this tool, as to any tool built on hooks.

>>> import torch
>>> from torch import nn
>>> _ = torch.manual_seed(0)
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> X = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
>>> y = torch.arange(32) % 3
>>> report = health_report(model, X, y)
>>> [layer.name for layer in report.activations], report.findings
(['1'], [])
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from .diagnostics import OUTPUT_CRITERION, RELU_FAMILY, DiagnosticError, _expected_input, _shape_text

__all__ = ["ACTIVATION_TYPES", "BOUNDED", "SECTIONS", "ActivationStats", "ParameterStats",
           "Finding", "HealthReport", "health_report", "DiagnosticError"]

#: Every activation module the report looks at: the ReLU family of chapters 4
#: and 5 and the classic bounded ones of chapters 1 and 3.
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = RELU_FAMILY + (
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardsigmoid, nn.Softsign, nn.LogSigmoid,
    nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold, nn.GLU,
)


def _bounds(module: nn.Module) -> tuple[float | None, float | None] | None:
    """(lower, upper) output bounds of a bounded activation, or None if it has none worth checking.

    For ReLU6 only the upper bound counts: its lower bound 0 is the "off" state,
    which the dead-unit statistic covers.
    """
    if isinstance(module, nn.ReLU6):
        return (None, 6.0)
    if isinstance(module, nn.Hardtanh):
        return (float(module.min_val), float(module.max_val))
    if isinstance(module, (nn.Sigmoid, nn.Hardsigmoid)):
        return (0.0, 1.0)
    if isinstance(module, (nn.Tanh, nn.Softsign)):
        return (-1.0, 1.0)
    return None


#: Class names of the activations with a bounded output (whose saturation is measured).
BOUNDED = ("Sigmoid", "Tanh", "Hardtanh", "ReLU6", "Hardsigmoid", "Softsign")

#: Where the book explains the cause of each kind of finding.
SECTIONS = {
    "dead units": "chapter 4, 'Three ways to kill a network'",
    "saturation": "chapter 3, 'The derivatives of sigmoid and tanh'",
    "vanishing gradient": "chapter 3, 'Gradient flow through depth'",
    "exploding gradient": "chapter 3, 'Initialisation: keeping the signal's scale'",
    "exploding activations": "chapter 3, 'Initialisation: keeping the signal's scale'",
    "inputs not standardized": "chapter 4, 'Three ways to kill a network'",
}


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one activation layer (one call site) on the batch.

    ``dead`` is the share of units (features, or channels for (N, C, ...)
    outputs) that were off for every input of the batch: output <= 0 for
    ReLU and ReLU6, input <= 0 for the other ReLU-family modules; ``None``
    for activations outside the ReLU family. ``saturated`` is the share of
    outputs (all inputs and units together) within ``tolerance`` times the
    output range of a bound; ``None`` for unbounded activations.
    ``grad_rms`` is the root mean square of the loss gradient with respect
    to the layer's output (the backward signal arriving at the layer).
    """

    name: str
    kind: str
    units: int
    pre_mean: float
    pre_std: float
    mean: float
    std: float
    dead: float | None
    saturated: float | None
    grad_rms: float
    sample: torch.Tensor = field(repr=False, compare=False)


@dataclass(frozen=True)
class ParameterStats:
    """Norms of one parameterised layer's weight (or, without a weight, all its own parameters)."""

    name: str
    kind: str
    weight_norm: float
    grad_norm: float

    @property
    def ratio(self) -> float:
        """Gradient norm over weight norm (inf for a zero weight with a non-zero gradient)."""
        if self.weight_norm == 0:
            return 0.0 if self.grad_norm == 0 else math.inf
        return self.grad_norm / self.weight_norm


@dataclass(frozen=True)
class Finding:
    """One problem found: what, where, the measured value, the threshold and where the book explains it."""

    kind: str
    layer: str
    value: float
    threshold: float
    message: str
    section: str

    def __str__(self) -> str:
        return f"{self.kind} [{self.layer}]: {self.message} See {self.section}."


def _g(x: float | None, width: int = 8) -> str:
    """A number in at most 8 characters (3 significant digits), right-aligned; '-' for None."""
    if x is None:
        return "-".rjust(width)
    if x != x or math.isinf(x):
        return str(x).rjust(width)
    if x != 0 and (abs(x) >= 1e3 or abs(x) < 1e-2):
        return f"{x:.1e}".rjust(width)
    return f"{x:.3g}".rjust(width)


def _name(name: str, width: int) -> str:
    """A layer name cut to ``width`` characters, keeping its end (the most specific part)."""
    return name if len(name) <= width else "\u2026" + name[-(width - 1):]


def _pct(x: float | None, width: int = 6) -> str:
    return "-".rjust(width) if x is None else f"{100 * x:.1f}".rjust(width)


@dataclass
class HealthReport:
    """What :func:`health_report` found. ``print(report)`` shows the tables and the findings."""

    activations: list[ActivationStats]
    parameters: list[ParameterStats]
    findings: list[Finding]
    loss: float
    samples: int
    input_mean: float
    input_std: float

    def __getitem__(self, name: str) -> ActivationStats | ParameterStats:
        for record in [*self.activations, *self.parameters]:
            if record.name == name:
                return record
        names = [r.name for r in [*self.activations, *self.parameters]]
        raise KeyError(f"no layer named {name!r}; layers: {names}")

    def kinds(self) -> list[str]:
        """The kinds of the findings, each once, in order."""
        return list(dict.fromkeys(f.kind for f in self.findings))

    def table(self) -> str:
        """The numbers as two plain-text tables (lines of at most 74 characters).

        Activation layers: mean and standard deviation of the pre-activations
        and activations, dead % (ReLU family) and saturated % (bounded
        activations). Parameterised layers: weight norm, gradient norm, ratio.
        """
        w = min(15, max([5, *(len(a.name) for a in self.activations),
                         *(len(p.name) for p in self.parameters)]))
        lines = [f"Health report on {self.samples} inputs, loss {_g(self.loss, 0)}", "",
                 f"{'layer':<{w}} {'kind':<10}{'pre mean':>9}{'pre sd':>9}"
                 f"{'mean':>9}{'sd':>9}{'dead%':>6}{'sat%':>6}"]
        for a in self.activations:
            lines.append(f"{_name(a.name, w):<{w}} {a.kind[:9]:<10}" + "".join(
                " " + _g(v) for v in (a.pre_mean, a.pre_std, a.mean, a.std))
                + _pct(a.dead) + _pct(a.saturated))
        lines += ["", f"{'layer':<{w}} {'kind':<10}{'|W|':>9}{'|grad W|':>9}{'ratio':>9}"]
        for p in self.parameters:
            lines.append(f"{_name(p.name, w):<{w}} {p.kind[:9]:<10}" + "".join(
                " " + _g(v) for v in (p.weight_norm, p.grad_norm, p.ratio)))
        return "\n".join(line.rstrip() for line in lines)

    def summary(self, width: int = 74) -> str:
        """One line per kind of finding, naming the layers: ``dead units: 9, 11``."""
        if not self.findings:
            return "no findings"
        layers: dict[str, list[str]] = {}
        for f in self.findings:
            names = layers.setdefault(f.kind, [])
            if f.layer not in names:
                names.append(f.layer)
        return "\n".join(textwrap.fill(f"{kind}: {', '.join(names)}", width, subsequent_indent="  ")
                         for kind, names in layers.items())

    def explain(self, width: int = 74) -> str:
        """The findings in plain language, wrapped to ``width`` characters."""
        if not self.findings:
            return "No findings: nothing crossed a threshold."
        out = [f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}:"]
        for f in self.findings:
            out.append(textwrap.fill(str(f), width, initial_indent="- ", subsequent_indent="  "))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.table() + "\n\n" + self.explain()

    def __repr__(self) -> str:
        return (f"HealthReport(samples={self.samples}, activations={len(self.activations)}, "
                f"parameters={len(self.parameters)}, findings={self.kinds()})")

    def plot(self, *, bins: int = 40):
        """One figure: activation histograms layer by layer (left), gradient norms per layer (right).

        Returns the figure. Sized for the book's text column
        (:data:`relucourse.style.MAX_WIDTH`).
        """
        import matplotlib.pyplot as plt
        import numpy as np

        from .style import COLORS, MAX_WIDTH, PALETTE

        n = len(self.activations)
        height = min(7.5, max(3.2, 0.42 * max(n, len(self.parameters)) + 1.2))
        fig, (left, right) = plt.subplots(1, 2, figsize=(MAX_WIDTH, height))
        samples = [a.sample.double().numpy() for a in self.activations]
        samples = [v[np.isfinite(v)] for v in samples]
        pooled = np.concatenate([v for v in samples if v.size] or [np.zeros(1)])
        # one x axis for all layers, so that shrinking or growing spreads show;
        # the extreme 0.5% on each side is left out so one outlier cannot squash the rest
        lo, hi = np.quantile(pooled, [0.005, 0.995])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        ticks, labels = [], []
        for i, (a, values) in enumerate(zip(self.activations, samples)):
            base = n - 1 - i
            if values.size:
                counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
                y = base + 0.85 * counts / (counts.max() or 1)
                left.stairs(y, edges, baseline=base, fill=True, color=PALETTE[5 * (i % 2)], alpha=0.8)
            ticks.append(base + 0.3)
            labels.append(f"{a.name} {a.kind}")
        left.set_yticks(ticks, labels, fontsize=9)
        left.set_xlim(lo, hi)
        left.set_ylim(-0.1, n)
        left.grid(False, axis="y")
        left.set_xlabel("activation value")
        left.set_title("activations, layer by layer", fontsize=11)
        names = [f"{p.name} {p.kind}" for p in self.parameters]
        pos = np.arange(len(self.parameters))[::-1]
        grads = [max(p.grad_norm, 1e-30) for p in self.parameters]
        weights = [max(p.weight_norm, 1e-30) for p in self.parameters]
        right.semilogx(grads, pos, marker="o", color=COLORS["relu"], label="|grad W|")
        right.semilogx(weights, pos, marker="s", ls="--", color=COLORS["sigmoid"], label="|W|")
        right.set_yticks(pos, names, fontsize=9)
        right.set_xlabel("norm (log scale)")
        right.set_title("weight and gradient norms", fontsize=11)
        right.legend(fontsize=9, loc="best")
        return fig


def _device(model: nn.Module) -> torch.device | None:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


def _first_tensor(x) -> torch.Tensor | None:
    if torch.is_tensor(x):
        return x
    if isinstance(x, (tuple, list)):
        for item in x:
            t = _first_tensor(item)
            if t is not None:
                return t
    return None


def _finite(x) -> bool:
    t = _first_tensor(x)
    if t is None or not t.is_floating_point():
        return True
    return bool(torch.isfinite(t).all())


def _expects(module: nn.Module) -> str:
    expected = _expected_input(module)
    return f" but expects {expected}" if expected else ""


class _Recorder:
    """Forward hooks on every module: activation statistics, the call stack and the first non-finite output."""

    def __init__(self, model: nn.Module, tolerance: float, sample_size: int):
        self.tolerance = tolerance
        self.sample_size = sample_size
        self.names = {}
        for name, m in model.named_modules():
            self.names.setdefault(id(m), name)
        self.stack: list[tuple[str, nn.Module, Any]] = []
        self.calls: dict[int, int] = {}
        self.pending: dict[int, list[dict]] = {}
        self.records: list[dict] = []
        self.outputs: list[torch.Tensor] = []
        self.first_bad: tuple[str, str] | None = None

    def pre(self, module, args):
        self.stack.append((self.names.get(id(module), "?"), module, args))
        if isinstance(module, ACTIVATION_TYPES):
            # statistics of the input now: an in-place activation overwrites it
            t = _first_tensor(args)
            k = self.calls.get(id(module), 0)
            self.calls[id(module)] = k + 1
            name = self.names[id(module)] or "(model)"
            rec = {"name": name + ("" if k == 0 else f" (call {k + 1})"), "module": module}
            if t is not None and t.is_floating_point():
                d = t.detach()
                rec["pre_mean"], rec["pre_std"] = float(d.mean()), float(d.std()) if d.numel() > 1 else 0.0
                if isinstance(module, RELU_FAMILY) and not isinstance(module, OUTPUT_CRITERION):
                    rec["dead"] = self._dead(d)
            self.pending.setdefault(id(module), []).append(rec)

    def post(self, module, args, output):
        name, _, _ = self.stack.pop() if self.stack else ("?", None, None)
        if self.first_bad is None and not _finite(output) and _finite(args):
            self.first_bad = (name or "(model)", type(module).__name__)
        if isinstance(module, ACTIVATION_TYPES) and self.pending.get(id(module)):
            rec = self.pending[id(module)].pop(0)
            t = _first_tensor(output)
            if t is None or not t.is_floating_point() or t.dim() < 2:
                raise DiagnosticError(
                    f"layer '{rec['name']}' ({type(module).__name__}) gave an output of shape "
                    f"{_shape_text(output)}; the report needs a batch dimension first, then "
                    "features (N, F) or channels (N, C, ...).")
            d = t.detach()
            rec["mean"], rec["std"] = float(d.mean()), float(d.std()) if d.numel() > 1 else 0.0
            rec["units"] = d.shape[1]
            if isinstance(module, OUTPUT_CRITERION):
                rec["dead"] = self._dead(d)
            bounds = _bounds(module)
            if bounds is not None:
                lo, hi = bounds
                span = (hi - (lo if lo is not None else 0.0)) * self.tolerance
                near = d >= hi - span
                if lo is not None:
                    near = near | (d <= lo + span)
                rec["saturated"] = float(near.float().mean())
            flat = d.flatten()
            if flat.numel() > self.sample_size:
                # a fixed random subset (own generator: the global random state is not touched)
                gen = torch.Generator().manual_seed(0)
                idx = torch.randperm(flat.numel(), generator=gen)[:self.sample_size]
                flat = flat[idx.to(flat.device)]
            rec["sample"] = flat.float().cpu()
            rec["index"] = len(self.outputs)
            self.outputs.append(t)
            self.records.append(rec)

    @staticmethod
    def _dead(d: torch.Tensor) -> float:
        """Share of units (dimension 1) that are <= 0 for every input and position."""
        if d.dim() < 2:
            return math.nan
        on = (d > 0).transpose(0, 1).reshape(d.shape[1], -1).any(dim=1)
        return float((~on).float().mean())


def health_report(model: nn.Module, X, y=None, loss_fn: Callable | None = None, *,
                  tolerance: float = 0.02, dead_threshold: float = 0.2,
                  saturation_threshold: float = 0.2, gradient_ratio: float = 100.0,
                  activation_growth: float = 100.0, update_ratio: float = 10.0,
                  input_offset: float = 1.0, input_scale: float = 4.0,
                  train_mode: bool = True, sample_size: int = 4000) -> HealthReport:
    """Run one forward and backward pass of ``model`` on the batch ``X`` and report on every layer.

    ``y`` are the targets and ``loss_fn(output, y)`` the loss
    (cross-entropy when ``loss_fn`` is None). Without ``y``, ``loss_fn(output)``
    must compute the loss from the output alone. The pass runs in training
    mode (``train_mode=False`` for eval mode), so batch normalisation uses
    the batch's statistics as it does in training; nothing is changed (see the
    module docstring).

    Thresholds of the findings:

    * ``dead_threshold``: share of dead units in a ReLU-family layer;
    * ``saturation_threshold``: share of a bounded activation's outputs within
      ``tolerance`` x (upper bound - lower bound) of a bound;
    * ``gradient_ratio``: the first parameterised layer's weight-gradient norm
      is more than this many times smaller (vanishing) or larger (exploding)
      than the last one's;
    * ``update_ratio``: a layer's gradient norm exceeds this multiple of its
      weight norm (exploding gradient: one step at learning rate 0.1 would
      change the weights by more than their own size);
    * ``activation_growth``: the activations' standard deviation grows more
      than this many times from the first activation layer to the last one;
    * ``input_offset`` and ``input_scale``: the inputs' mean is further than
      ``input_offset`` from 0, or their standard deviation is more than
      ``input_scale`` times too large or too small.

    Raises :class:`relucourse.diagnostics.DiagnosticError` (a ``ValueError``)
    with an explanation when the model has no activation modules, ``X`` does
    not fit the model, the loss is not finite (naming the layer that first
    produced NaN or inf), or ``y`` is missing and no ``loss_fn`` is given.
    """
    if not isinstance(model, nn.Module):
        raise DiagnosticError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if not 0 < tolerance < 0.5:
        raise DiagnosticError(f"tolerance is a share of the output range, between 0 and 0.5; "
                              f"got {tolerance!r}.")
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, ACTIVATION_TYPES)]
    if not found:
        raise DiagnosticError(
            f"found no activation module in {type(model).__name__}. The report sees only activation "
            "modules (nn.ReLU, nn.Sigmoid, nn.GELU, ...). Activations written as function calls inside "
            "forward(), such as F.relu(x) or torch.sigmoid(x), run no module hook: replace them with "
            "modules (self.act = nn.ReLU() in __init__, self.act(x) in forward) to diagnose them.")
    if y is None and loss_fn is None:
        raise DiagnosticError("y is missing and no loss_fn is given: pass the targets y (the loss is then "
                              "cross-entropy) or a loss_fn(output) that computes the loss from the "
                              "output alone.")
    device = _device(model)
    if not torch.is_tensor(X):
        X = torch.as_tensor(X)
        if X.is_floating_point():
            X = X.float()
    if X.dim() == 0 or X.shape[0] == 0:
        raise DiagnosticError(f"X must be a batch of inputs, first dimension N >= 1; got shape "
                              f"{tuple(X.shape)}.")
    if device is not None:
        X = X.to(device)
    if y is not None:
        y = torch.as_tensor(y)
        if device is not None:
            y = y.to(device)
        if y.dim() > 0 and y.shape[0] != X.shape[0]:
            raise DiagnosticError(f"X has {X.shape[0]} inputs but y has {y.shape[0]} targets.")
    if X.is_floating_point() and not torch.isfinite(X).all():
        raise DiagnosticError("X contains NaN or inf; clean the inputs first.")
    if loss_fn is None:
        loss_fn = nn.CrossEntropyLoss()

    modules = list(model.modules())
    modes = [m.training for m in modules]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    params = [(n, p) for n, p in model.named_parameters()]
    saved = [p.detach().clone() for _, p in params]
    rec = _Recorder(model, tolerance, sample_size)
    handles = []
    devices = [device] if device is not None and device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.enable_grad():
            for m in modules:
                handles.append(m.register_forward_pre_hook(rec.pre))
                handles.append(m.register_forward_hook(rec.post))
            model.train(train_mode)
            try:
                output = model(X)
            except DiagnosticError:
                raise
            except (RuntimeError, ValueError, TypeError, IndexError) as err:
                raise DiagnosticError(_failure(X, rec, err)) from err
            finally:
                for h in handles:
                    h.remove()
                handles.clear()
            try:
                loss = loss_fn(output) if y is None else loss_fn(output, y)
            except (RuntimeError, ValueError, TypeError, IndexError) as err:
                said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise DiagnosticError(
                    f"the loss failed on outputs of shape {_shape_text(output)} and targets of shape "
                    f"{_shape_text(y)}. PyTorch said: {said}") from err
            if not torch.is_tensor(loss) or loss.numel() != 1:
                raise DiagnosticError(f"loss_fn must return one number (a 1-element tensor); got "
                                      f"{_shape_text(loss)}.")
            if not torch.isfinite(loss).all():
                where = ("the loss function itself" if rec.first_bad is None else
                         f"layer '{rec.first_bad[0]}' ({rec.first_bad[1]})")
                raise DiagnosticError(
                    f"the loss is {float(loss.detach())}: not finite. The first non-finite value came from {where}. "
                    "Look for weights that are too large, a learning rate that made training diverge, "
                    "or a log/division of zero.")
            if not rec.records:
                raise DiagnosticError(
                    f"the model ran, but none of its activation modules ({', '.join(n for n, _ in found)}) "
                    "was called: forward() does not use them. Call the modules (self.act(x)) instead of "
                    "functions such as F.relu(x).")
            trainable = [(n, p) for n, p in params if p.requires_grad]
            targets = [p for _, p in trainable] + rec.outputs
            if not loss.requires_grad:
                raise DiagnosticError("the loss does not depend on any trainable parameter.")
            grads = torch.autograd.grad(loss, targets, allow_unused=True)
        pgrads = {n: g for (n, _), g in zip(trainable, grads[:len(trainable)])}
        ograds = grads[len(trainable):]
        loss_value = float(loss.detach())
    finally:
        for h in handles:
            h.remove()
        for m, mode in zip(modules, modes):
            m.training = mode
        with torch.no_grad():
            for b, copy in buffers:
                b.copy_(copy)
            for (_, p), copy in zip(params, saved):
                if not torch.equal(p, copy):
                    p.copy_(copy)

    activations = []
    for r in rec.records:
        g = ograds[r["index"]]
        grad_rms = 0.0 if g is None else float(g.detach().double().pow(2).mean().sqrt())
        activations.append(ActivationStats(
            name=r["name"], kind=type(r["module"]).__name__, units=int(r.get("units", 0)),
            pre_mean=r.get("pre_mean", math.nan), pre_std=r.get("pre_std", math.nan),
            mean=r["mean"], std=r["std"], dead=r.get("dead"), saturated=r.get("saturated"),
            grad_rms=grad_rms, sample=r["sample"]))
    parameters = []
    for name, m in model.named_modules():
        own = [(pn, p) for pn, p in m.named_parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        chosen = [(pn, p) for pn, p in own if pn == "weight"] or own
        full = [(f"{name}.{pn}" if name else pn, p) for pn, p in chosen]
        wn = math.sqrt(sum(float(p.detach().double().pow(2).sum()) for _, p in full))
        gn = math.sqrt(sum(0.0 if pgrads.get(fn) is None else float(pgrads[fn].double().pow(2).sum())
                           for fn, _ in full))
        parameters.append(ParameterStats(name or "(model)", type(m).__name__, wn, gn))

    Xf = X.detach().double() if X.is_floating_point() else None
    in_mean = float(Xf.mean()) if Xf is not None else math.nan
    in_std = float(Xf.std()) if Xf is not None and Xf.numel() > 1 else math.nan
    findings = _findings(activations, parameters, in_mean, in_std, dead_threshold=dead_threshold,
                         saturation_threshold=saturation_threshold, gradient_ratio=gradient_ratio,
                         activation_growth=activation_growth, update_ratio=update_ratio,
                         input_offset=input_offset, input_scale=input_scale)
    return HealthReport(activations, parameters, findings, loss_value, int(X.shape[0]), in_mean, in_std)


def _failure(X, rec: _Recorder, err: Exception) -> str:
    text = f"the model failed on X of shape {tuple(X.shape)}"
    if rec.stack:
        name, module, args = rec.stack[-1]
        if name:
            text += (f" in layer '{name}' ({type(module).__name__}), which received an input of shape "
                     f"{_shape_text(args[0] if len(args) == 1 else args)}{_expects(module)}")
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"{text}. PyTorch said: {first}"


def _why_dead(kind: str) -> str:
    """What 'dead' means for an activation class named ``kind``."""
    if kind in {c.__name__ for c in OUTPUT_CRITERION}:
        return "they get no gradient from the data."
    return (f"their input is <= 0 on every input, where {kind}'s slope is small or fading "
            "but not zero, so they learn slowly.")


def _findings(acts, params, in_mean, in_std, *, dead_threshold, saturation_threshold, gradient_ratio,
              activation_growth, update_ratio, input_offset, input_scale) -> list[Finding]:
    out: list[Finding] = []

    def add(kind, layer, value, threshold, message):
        out.append(Finding(kind, layer, value, threshold, message, SECTIONS[kind]))

    if in_mean == in_mean and abs(in_mean) > input_offset:
        add("inputs not standardized", "input", in_mean, input_offset,
            f"the inputs' mean is {_g(in_mean, 0)}, further than {_g(input_offset, 0)} from 0: "
            "subtract the training set's mean per feature.")
    if in_std == in_std and not 1 / input_scale <= in_std <= input_scale:
        add("inputs not standardized", "input", in_std, input_scale,
            f"the inputs' standard deviation is {_g(in_std, 0)}, outside "
            f"[{_g(1 / input_scale, 0)}, {_g(input_scale, 0)}]: divide by the training set's "
            "standard deviation per feature.")
    for a in acts:
        if a.dead is not None and a.dead > dead_threshold:
            add("dead units", a.name, a.dead, dead_threshold,
                f"{100 * a.dead:.0f}% of the {a.kind} units are off on every input of the batch "
                f"(threshold {100 * dead_threshold:.0f}%); " + _why_dead(a.kind))
        if a.saturated is not None and a.saturated > saturation_threshold:
            add("saturation", a.name, a.saturated, saturation_threshold,
                f"{100 * a.saturated:.0f}% of the {a.kind} outputs are at a bound "
                f"(threshold {100 * saturation_threshold:.0f}%), where the slope is nearly 0.")
    weighted = [p for p in params if p.weight_norm > 0]
    if len(weighted) >= 2:
        first, last = weighted[0], weighted[-1]
        if last.grad_norm > 0 and first.grad_norm >= 0:
            r = first.grad_norm / last.grad_norm
            if r < 1 / gradient_ratio:
                add("vanishing gradient", first.name, r, 1 / gradient_ratio,
                    f"the gradient norm of the first layer ({first.name}) is {_g(r, 0)} times "
                    f"that of the last ({last.name}); below 1/{_g(gradient_ratio, 0)}, so the "
                    "first layers barely learn.")
            elif r > gradient_ratio:
                add("exploding gradient", first.name, r, gradient_ratio,
                    f"the gradient norm of the first layer ({first.name}) is {_g(r, 0)} times "
                    f"that of the last ({last.name}); above {_g(gradient_ratio, 0)}.")
    worst = max(weighted, key=lambda p: p.ratio, default=None)
    if worst is not None and worst.ratio > update_ratio and not any(
            f.kind == "exploding gradient" for f in out):
        add("exploding gradient", worst.name, worst.ratio, update_ratio,
            f"the gradient norm is {_g(worst.ratio, 0)} times the weight norm (threshold "
            f"{_g(update_ratio, 0)}): one step of ordinary size would overwrite the weights.")
    if len(acts) >= 2 and acts[0].std > 0:
        growth = acts[-1].std / acts[0].std
        if growth > activation_growth:
            add("exploding activations", acts[-1].name, growth, activation_growth,
                f"the activations' standard deviation grows {_g(growth, 0)} times from "
                f"{acts[0].name} to {acts[-1].name} (threshold {_g(activation_growth, 0)}): "
                "the weights are too large for the layer widths.")
    return out
