"""A health report for any PyTorch model: a forward and backward pass, looked at layer by layer.

:func:`health_report` is one view of the inspection core
(:mod:`relucourse.inspection`), of which chapter 4's
:func:`relucourse.diagnostics.dead_units` is the other: one recorder, one
snapshot and restore, one failure locator and one definition of each
statistic, so the two agree on the same model, data, mode and batches. It
runs the inputs through the model in batches (statistics accumulated over
the batches, gradients averaged over them), computes the loss and its
gradient, and returns a :class:`HealthReport` with

* per activation (an activation module, or an activation function called in
  ``forward``; see :mod:`relucourse.inspection` for what is seen and how a
  ``tanh`` in a formula is told from a ``tanh`` layer): the share of dead
  units (activations with an off state), the share of saturated outputs
  (bounded activations), the mean and standard deviation of its inputs and
  outputs, and the number of inputs the verdicts rest on;
* per layer with weights: the norm of its weight, of the weight's gradient,
  and their ratio; frozen layers are listed as frozen;
* findings: a plain-language list of what looks wrong, each naming the
  layer, the measured value, the threshold that triggered it and the
  chapter section that explains the cause;
* what it could not see (the gates inside ``nn.LSTM``'s fused kernel, for
  example), so that "no findings" is never read as "the whole model is fine".

The model is left exactly as it was: existing ``.grad`` fields (the
gradients come from ``torch.autograd.grad``), ``requires_grad`` flags,
buffers (batch-norm running statistics), every submodule's train/eval flag,
PyTorch's random-number state (dropout draws from it) and its hooks are all
restored, also when the model raises. The parameters are never written.

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
from collections.abc import Mapping
from typing import Callable

import numpy as np
import torch
from torch import nn

from .inspection import DiagnosticError, Inspection, checked_norm, inspect_model, slope_text

__all__ = ["ACTIVATION_TYPES", "BOUNDED", "SECTIONS", "ActivationStats", "ParameterStats",
           "Finding", "HealthReport", "health_report", "DiagnosticError"]

#: The torch.nn activation classes of chapters 1 to 5. The report sees more:
#: every kind of :data:`relucourse.inspection.KINDS`, as modules or functions.
ACTIVATION_TYPES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU,
    nn.GELU, nn.SiLU, nn.Mish, nn.Softplus, nn.Hardswish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardsigmoid, nn.Softsign, nn.LogSigmoid,
    nn.Tanhshrink, nn.Softshrink, nn.Hardshrink, nn.Threshold, nn.GLU,
)

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
    "targets not standardized": "chapter 6, 'The health report'",
}


@dataclass(frozen=True)
class ActivationStats:
    """Statistics of one activation (one call site) over all the inputs.

    ``dead`` is the share of units (features or channels) that sat where the
    activation's slope is at most 0.01 on every input (output 0 for ReLU and
    ReLU6; see :mod:`relucourse.inspection`), ``None`` for activations
    without an off state (sigmoid, tanh, PReLU, ...). ``off`` is the share of
    units whose input never crossed 0 (for ReLU the same as ``dead``; a
    GELU or SiLU unit can be off and still learn). ``saturated`` is the share
    of outputs at a bound (exactly at it for ReLU6, Hardtanh and Hardsigmoid;
    within ``tolerance`` x the output range for sigmoid, tanh, softsign),
    ``None`` for unbounded activations. ``grad_rms`` is the root mean square
    of the loss gradient arriving at the outputs. ``inputs`` is the number of
    inputs (samples) the shares rest on.
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
    inputs: int = 0
    off: float = 0.0
    activation: str = ""
    slope: float | None = None


@dataclass(frozen=True)
class ParameterStats:
    """Norms of one layer's weight (or, without a weight, all its own parameters).

    ``frozen``: its parameters do not require grad (not trained; no gradient).
    ``matrix``: its weight is a matrix or a kernel (not a vector such as a
    normalisation's scale or a layer-scale factor); only those are judged.
    ``normalised``: its output goes straight into a normalisation layer
    (batch, layer, group or RMS norm), which makes the layer's output
    independent of its weight's scale, so its gradient-to-weight ratio says
    nothing about the size of an update relative to the weights' effect.
    """

    name: str
    kind: str
    weight_norm: float
    grad_norm: float
    frozen: bool = False
    normalised: bool = False
    matrix: bool = True

    @property
    def ratio(self) -> float:
        """Gradient norm over weight norm (inf for a zero weight with a non-zero gradient)."""
        if self.frozen:
            return math.nan
        if self.weight_norm == 0:
            return 0.0 if self.grad_norm == 0 else math.inf
        return self.grad_norm / self.weight_norm


@dataclass(frozen=True)
class Finding:
    """One problem found: what, where, the measured value, the threshold and where the book explains it.

    ``expected_here`` is True when the message says the value can be expected
    in this kind of model (a transformer at initialisation) and what to do.
    """

    kind: str
    layer: str
    value: float
    threshold: float
    message: str
    section: str
    expected_here: bool = False

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
    input_feature_mean: float = math.nan
    input_feature_std: tuple[float, float] = (math.nan, math.nan)
    unseen: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batches: int = 1
    frozen: list[str] = field(default_factory=list)
    gradient_pair: tuple[tuple[str, ...], str] | None = None

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
        head = f"Health report on {self.samples} inputs"
        if self.batches > 1:
            head += f" ({self.batches} batches)"
        lines = [f"{head}, loss {_g(self.loss, 0)}", "",
                 f"{'layer':<{w}} {'kind':<10}{'pre mean':>9}{'pre sd':>9}"
                 f"{'mean':>9}{'sd':>9}{'dead%':>6}{'sat%':>6}"]
        for a in self.activations:
            lines.append(f"{_name(a.name, w):<{w}} {a.kind[:9]:<10}" + "".join(
                " " + _g(v) for v in (a.pre_mean, a.pre_std, a.mean, a.std))
                + _pct(a.dead) + _pct(a.saturated))
        lines += ["", f"{'layer':<{w}} {'kind':<10}{'|W|':>9}{'|grad W|':>9}{'ratio':>9}  note"]
        for p in self.parameters:
            if p.frozen:
                lines.append(f"{_name(p.name, w):<{w}} {p.kind[:9]:<10} {_g(p.weight_norm)}"
                             f"{'-':>9}{'-':>9}  frozen")
                continue
            note = "  normalised" if p.normalised else ""
            lines.append(f"{_name(p.name, w):<{w}} {p.kind[:9]:<10}" + "".join(
                " " + _g(v) for v in (p.weight_norm, p.grad_norm, p.ratio)) + note)
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
        """The findings in plain language, then what the report could not see, wrapped to ``width``."""
        if not self.findings:
            out = ["No findings: nothing crossed a threshold."]
        else:
            out = [f"{len(self.findings)} finding{'s' if len(self.findings) != 1 else ''}:"]
        for f in self.findings:
            out.append(textwrap.fill(str(f), width, initial_indent="- ", subsequent_indent="  "))
        for note in self.notes:
            out.append(textwrap.fill(note, width, initial_indent="Note: ", subsequent_indent="  "))
        if self.unseen:
            text = "; ".join(f"'{n}' ({c}): {why}" for n, c, why in self.unseen)
            out.append(textwrap.fill(f"Not seen, so not judged: {text}.", width, subsequent_indent="  "))
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
            labels.append(_name(f"{a.name} {a.kind}", 28))
        left.set_yticks(ticks, labels, fontsize=9)
        left.set_xlim(lo, hi)
        left.set_ylim(-0.1, n)
        left.grid(False, axis="y")
        left.set_xlabel("activation value")
        left.set_title("activations, layer by layer", fontsize=11)
        shown = [p for p in self.parameters if not p.frozen]
        names = [_name(f"{p.name} {p.kind}", 28) for p in shown]
        pos = np.arange(len(shown))[::-1]
        grads = [max(p.grad_norm, 1e-30) for p in shown]
        weights = [max(p.weight_norm, 1e-30) for p in shown]
        right.semilogx(grads, pos, marker="o", color=COLORS["relu"], label="|grad W|")
        right.semilogx(weights, pos, marker="s", ls="--", color=COLORS["sigmoid"], label="|W|")
        right.set_yticks(pos, names, fontsize=9)
        right.set_xlabel("norm (log scale)")
        right.set_title("weight and gradient norms", fontsize=11)
        right.legend(fontsize=9, loc="best")
        return fig


def health_report(model: nn.Module, X, y=None, loss_fn: Callable | None = None, *,
                  tolerance: float = 0.02, dead_threshold: float = 0.2,
                  saturation_threshold: float = 0.2, gradient_ratio: float = 100.0,
                  activation_growth: float = 100.0, layer_growth: float = 4.0,
                  update_ratio: float = 10.0,
                  input_offset: float = 1.0, input_scale: float = 4.0,
                  train_mode: bool = True, sample_size: int = 4000, batch_size: int = 256,
                  max_batches: int | None = None, unit_dim: int | None = None,
                  activations: Mapping | None = None, min_inputs: int = 32) -> HealthReport:
    """Run ``model`` forward and backward on ``X`` and report on every layer.

    ``X`` is a tensor or array (cut into batches of ``batch_size``), a tuple
    (positional inputs) or a dict (``model(**X)``, as for a transformers
    model) of tensors cut the same way, or an iterable of batches such as a
    ``DataLoader`` (at most ``max_batches``): ``(inputs, targets)`` pairs, or
    dicts. ``y`` are the targets for tensor, tuple or dict inputs. The loss
    is the output's own ``.loss`` when the model computed one (a transformers
    model given ``labels``) and no ``y`` or ``loss_fn`` is given; else
    ``loss_fn(logits, y)`` (cross-entropy for integer class labels when
    ``loss_fn`` is None; a regression target needs ``loss_fn=nn.MSELoss()``),
    or ``loss_fn(logits)`` without ``y``. The logits are the output itself, its
    first element, or its ``logits``. Statistics are accumulated over the
    batches, and the gradient is the average of the batches' gradients
    weighted by their size (for a mean loss, the gradient on all the inputs).

    The pass runs in training mode (``train_mode=False``: eval mode), in which
    :func:`relucourse.diagnostics.dead_units` runs too, so the two count the
    same dead units; nothing is changed (see the module docstring).

    Thresholds of the findings (the book's own choices; chapter 6 says what
    supports each):

    * ``dead_threshold``: share of dead units in a layer;
    * ``saturation_threshold``: share of a bounded activation's outputs at a
      bound (``tolerance`` x the output range for sigmoid, tanh, softsign);
    * ``gradient_ratio``: the weight-gradient norms of the first quarter of
      the layers (at least the first layer) are all more than this many times
      smaller (vanishing) or larger (exploding) than the last layer's (layers
      with weights in the order they ran, leaving out
      embeddings, normalisation layers, layers followed by normalisation and
      the projections inside attention, whose gradients at initialisation are
      small because the attention is nearly uniform, and squeeze-and-excitation
      branches, whose input, an average of batch-normalised maps, is near 0);
    * ``update_ratio``: a layer's gradient norm exceeds this multiple of its
      weight norm (layers followed by a normalisation are left out: their
      output does not depend on their weights' scale);
    * ``activation_growth`` and ``layer_growth``: the activations' standard
      deviation grows more than ``activation_growth`` times from the inputs
      (standardized floating-point inputs; else the first activation) to the
      last activation, or more than ``layer_growth`` times per activation
      layer on the way (He's initialisation keeps it near 1 per layer);
    * ``input_offset`` and ``input_scale``, per input feature (column, or
      channel of an image): the largest |mean| is further than
      ``input_offset`` from 0, or a non-constant feature's standard deviation
      is more than ``input_scale`` times too large or too small. The same
      test on floating-point targets gives "targets not standardized".

    Dead-unit and saturation findings need ``min_inputs`` inputs: below that,
    a share is not evidence, and the report says so instead.

    Args: model, X, y, loss_fn, thresholds, train_mode, sample_size, batch_size, max_batches,
        unit_dim, activations, min_inputs: see above.
    Returns: a :class:`HealthReport`.
    Raises: DiagnosticError (a ``ValueError``) naming the cause and the fix when the model has no
        visible activation, ``X`` does not fit the model, the loss is not finite (naming the layer
        that first produced NaN or inf), targets are missing, the loss does not depend on the
        parameters, every gradient is 0, or the call is inside ``torch.inference_mode()``.
    """
    if not 0 < tolerance < 0.5:
        raise DiagnosticError(f"tolerance is a share of the output range, between 0 and 0.5; "
                              f"got {tolerance!r}.")
    if isinstance(X, (torch.Tensor,)) and (X.dim() == 0 or X.shape[0] == 0):
        raise DiagnosticError(f"X must be a batch of inputs, first dimension N >= 1; got shape "
                              f"{tuple(X.shape)}.")
    if type(X).__module__ == "numpy" and (X.ndim == 0 or X.shape[0] == 0):
        raise DiagnosticError(f"X must be a batch of inputs, first dimension N >= 1; got shape {X.shape}.")
    info = inspect_model(model, X, y, loss_fn=loss_fn, backward=True, train_mode=train_mode,
                         batch_size=batch_size, max_batches=max_batches, unit_dim=unit_dim,
                         activations=activations, tolerance=tolerance, sample_size=sample_size,
                         count_positive=False, tool="health_report")
    activations_ = [_activation_stats(s) for s in info.sites]
    parameters = _parameter_stats(model, info)
    pooled_mean = pooled_std = feat_mean = math.nan
    feat_std = (math.nan, math.nan)
    if info.input_mean is not None:
        # pooled over every input value, from the per-feature moments (float64, in numpy: a
        # microsecond an operation on a few features)
        m, sd = info.input_mean.numpy(), info.input_std.numpy()
        pooled_mean = float(m.mean())
        pooled_std = math.sqrt(float((sd * sd + (m - pooled_mean) ** 2).mean()))
        feat_mean = float(m[np.abs(m).argmax()])
        varying = sd[sd > 1e-8]
        if varying.size:
            feat_std = (float(varying.min()), float(varying.max()))
    findings, notes, pair = _findings(
        activations_, parameters, info, feat_mean, feat_std, pooled_std, dead_threshold=dead_threshold,
        saturation_threshold=saturation_threshold, gradient_ratio=gradient_ratio,
        activation_growth=activation_growth, layer_growth=layer_growth, update_ratio=update_ratio,
        input_offset=input_offset,
        input_scale=input_scale, min_inputs=min_inputs)
    return HealthReport(activations_, parameters, findings, info.loss, info.samples, pooled_mean, pooled_std,
                        input_feature_mean=feat_mean, input_feature_std=feat_std, unseen=info.unseen,
                        notes=notes, batches=info.batches, frozen=info.frozen, gradient_pair=pair)


def _activation_stats(s) -> ActivationStats:
    units = s.units
    dead, off = s.fractions()           # both from one read
    return ActivationStats(
        name=s.name, kind=s.label, units=units, pre_mean=s.pre_mean, pre_std=s.pre_std, mean=s.mean,
        std=s.std, dead=dead, saturated=s.saturated_fraction, grad_rms=s.grad_rms,
        sample=s.sample if s.sample is not None else torch.zeros(0), inputs=s.inputs,
        off=off, activation=s.kind, slope=s.slope)


def _norms(tensors: list[torch.Tensor]) -> list[float]:
    """The 2-norms of ``tensors``, computed together and read at once.

    In the tensors' own precision (float32 squares hold every norm between
    1e-15 and 1e15 to float32's precision, at half the cost of a float64
    copy); a norm outside that range, 0 included, is computed again in float64.
    """
    if not tensors:
        return []
    by_device: dict = {}
    for i, t in enumerate(tensors):
        by_device.setdefault((t.device, t.dtype), []).append(i)
    out = [0.0] * len(tensors)
    for (_, dtype), group in by_device.items():
        own = dtype in (torch.float32, torch.float64)
        norms = torch._foreach_norm([tensors[i].detach() for i in group], 2,
                                    dtype=None if own else torch.float64)
        for i, v in zip(group, torch.stack(norms).tolist()):
            out[i] = checked_norm(v, tensors[i]) if own else v
    return out


def _parameter_stats(model: nn.Module, info: Inspection) -> list[ParameterStats]:
    rows = []
    seen: set[int] = set()
    named = info.modules or list(model.named_modules())
    names_of = {id(p): n for n, p in (info.parameters or model.named_parameters())}
    for name, m in named:
        own = [(pn, p) for pn, p in m._parameters.items() if p is not None and id(p) not in seen]
        if not own:
            continue
        for _, p in own:
            seen.add(id(p))
        chosen = [(pn, p) for pn, p in own if pn == "weight"] or own
        frozen = not any(p.requires_grad for _, p in chosen)
        grads = [] if frozen else [info.grads.get(names_of.get(id(p), "")) for _, p in chosen]
        rows.append((name, m, chosen, frozen, [g for g in grads if g is not None]))
    # the weights' and the gradients' norms in one call (one read)
    chosen_all = [p for _, _, chosen, _, _ in rows for _, p in chosen]
    both = _norms(chosen_all + [g for *_, gs in rows for g in gs])
    weights, grad_norms = both[:len(chosen_all)], both[len(chosen_all):]
    out = []
    wi = gi = 0
    for name, m, chosen, frozen, grads in rows:
        wn = math.sqrt(sum(v * v for v in weights[wi:wi + len(chosen)]))
        wi += len(chosen)
        gn = math.nan if frozen else math.sqrt(sum(v * v for v in grad_norms[gi:gi + len(grads)]))
        gi += len(grads)
        out.append(ParameterStats(name or "(model)", type(m).__name__, wn, gn, frozen=frozen,
                                  normalised=(name or "(model)") in info.normalised,
                                  matrix=any(p.dim() >= 2 for _, p in chosen)))
    return out


def _why_dead(a: ActivationStats) -> str:
    """What a dead unit of this activation keeps (chapter 4's wording)."""
    if a.activation in ("relu", "relu6", "relu2"):
        return "they get no gradient from the data."
    if a.activation in ("leaky_relu", "prelu"):
        s = 0.01 if a.slope is None else a.slope
        return (f"their input is <= 0 on every input, where {a.kind}'s slope is small ({s:.3g}), so they "
                "learn very slowly.")
    return (f"their input stays on every input below the point under which {a.kind}'s slope is within "
            "0.01 of 0, so they get almost no gradient (a unit that is merely below 0 keeps "
            f"{slope_text(a.activation)}).")


def _is_embedding(p: ParameterStats) -> bool:
    return "Embedding" in p.kind


def _is_norm(p: ParameterStats) -> bool:
    return "Norm" in p.kind


def _findings(acts, params, info: Inspection, feat_mean, feat_std, input_std, *, dead_threshold, saturation_threshold,
              gradient_ratio, activation_growth, layer_growth, update_ratio, input_offset, input_scale,
              min_inputs) -> tuple[list[Finding], list[str], tuple[str, str] | None]:
    out: list[Finding] = []
    notes: list[str] = []

    def add(kind, layer, value, threshold, message, expected_here=False):
        out.append(Finding(kind, layer, value, threshold, message, SECTIONS[kind], expected_here))

    if feat_mean == feat_mean and abs(feat_mean) > input_offset:
        add("inputs not standardized", "input", feat_mean, input_offset,
            f"an input feature's mean is {_g(feat_mean, 0)}, further than {_g(input_offset, 0)} from 0: "
            "subtract the training set's mean per feature.")
    lo, hi = feat_std
    if lo == lo and not (1 / input_scale <= lo and hi <= input_scale):
        worst = hi if hi > input_scale or hi * lo >= 1 else lo
        add("inputs not standardized", "input", worst, input_scale,
            f"the input features' standard deviations range from {_g(lo, 0)} to {_g(hi, 0)}, outside "
            f"[{_g(1 / input_scale, 0)}, {_g(input_scale, 0)}]: divide each feature by the training "
            "set's standard deviation of that feature.")
    targets_off = False
    if info.float_targets and info.target_std == info.target_std:
        tm, ts = info.target_mean, info.target_std
        if abs(tm) > input_offset or not 1 / input_scale <= ts <= input_scale:
            targets_off = True
            add("targets not standardized", "targets", ts, input_scale,
                f"the regression targets have mean {_g(tm, 0)} and standard deviation {_g(ts, 0)}; the "
                "loss and every gradient scale with them, so gradient sizes say nothing about the "
                "initialisation. Standardize the targets (subtract their mean, divide by their standard "
                "deviation) and undo it on the predictions.")
    few = [a.name for a in acts if a.inputs < min_inputs]
    if few:
        notes.append(f"{len(few)} activation layer{'s' if len(few) != 1 else ''} saw fewer than "
                     f"{min_inputs} inputs ({', '.join(few[:4])}{', ...' if len(few) > 4 else ''}): a "
                     "share on so few inputs is not evidence, so no dead-unit or saturation verdict is "
                     "given for them; pass more inputs.")
    if info.untrained_norms:
        notes.append(f"the model runs in eval mode, and its batch-norm layers "
                     f"({', '.join(info.untrained_norms[:3])}{', ...' if len(info.untrained_norms) > 3 else ''}) "
                     "have running statistics at their initial values (mean 0, variance 1: they have seen no "
                     "training batch), so they do not normalise and the layers after them are not what "
                     "training or a trained model computes; no dead-unit, saturation or growth verdict is "
                     "given. Run in training mode (the default) or after training.")
    for a in acts:
        if a.inputs < min_inputs or info.untrained_norms:
            continue
        if a.dead is not None and a.dead > dead_threshold:
            add("dead units", a.name, a.dead, dead_threshold,
                f"{100 * a.dead:.0f}% of the {a.kind} units are off on every one of the {a.inputs} inputs "
                f"(threshold {100 * dead_threshold:.0f}%); " + _why_dead(a))
        if a.saturated is not None and a.saturated > saturation_threshold:
            where = ("exactly at a bound, where the slope is 0" if a.activation in
                     ("relu6", "hardtanh", "hardsigmoid") else "at a bound, where the slope is nearly 0")
            add("saturation", a.name, a.saturated, saturation_threshold,
                f"{100 * a.saturated:.0f}% of the {a.kind} outputs on {a.inputs} inputs are {where} "
                f"(threshold {100 * saturation_threshold:.0f}%).")
    live = [p for p in params if not p.frozen and p.weight_norm > 0]
    flow = [p for p in _in_call_order(live, info) if not _is_embedding(p) and not _is_norm(p)
            and p.matrix and not p.normalised and not _inside(p.name, info.attention + info.gates)]
    if len(flow) < 2 and len([p for p in live if p.matrix and not _is_embedding(p)]) >= 2:
        notes.append("the gradient norms of the first and last layers are not compared: fewer than two "
                     "layers with weights are left once those followed by normalisation (whose gradient "
                     "scales as 1/|W|), those inside attention and squeeze-and-excitation branches are "
                     "set aside.")
    if len(flow) >= 2:
        # the first quarter of the layers (at least one) against the last layer: vanishing when even
        # the largest early gradient is small, exploding when even the smallest is large, so that
        # one branch switched off at initialisation (a layer scale of 1e-6) does not decide alone
        early = flow[:max(1, (len(flow) - 1) // 4)]
        last = flow[-1]
        big, small = max(early, key=lambda p: p.grad_norm), min(early, key=lambda p: p.grad_norm)
        if last.grad_norm > 0:
            r = big.grad_norm / last.grad_norm
            first = big
            if r > gradient_ratio:
                first = small
                r = small.grad_norm / last.grad_norm
            if r < 1 / gradient_ratio:
                what = "gradient norm"
                text = (f"the {what} of the {_early(first, flow)} is {_g(r, 0)} times "
                        f"that of the last ({last.name}); below 1/{_g(gradient_ratio, 0)}, so the "
                        "first layers barely learn.")
                if info.attention:
                    text += (" In a transformer at initialisation this can be expected, above all when "
                             "its blocks end in layer normalisation (post-LN, as BERT's): the layers near "
                             "the output get much larger gradients until training settles (Xiong et al. "
                             "2020). The usual remedy is a learning-rate warm-up, not a change of "
                             "activation or initialisation.")
                add("vanishing gradient", first.name, r, 1 / gradient_ratio, text, bool(info.attention))
            elif r > gradient_ratio and not targets_off:
                what = "gradient norm"
                add("exploding gradient", first.name, r, gradient_ratio,
                    f"the {what} of the {_early(first, flow)} is {_g(r, 0)} times "
                    f"that of the last ({last.name}); above {_g(gradient_ratio, 0)}.")
    judged = [p for p in live if not p.normalised and not _is_norm(p) and p.matrix]
    worst = max(judged, key=lambda p: p.ratio, default=None)
    if (worst is not None and worst.ratio > update_ratio and not targets_off
            and not any(f.kind == "exploding gradient" for f in out)):
        add("exploding gradient", worst.name, worst.ratio, update_ratio,
            f"the gradient norm is {_g(worst.ratio, 0)} times the weight norm (threshold "
            f"{_g(update_ratio, 0)}): one step of ordinary size would overwrite the weights.")
    start, start_name = None, None
    if input_std == input_std and input_std > 0 and not any(f.kind == "inputs not standardized" for f in out):
        start, start_name = input_std, "the inputs"
    elif len(acts) >= 2 and acts[0].std > 0:
        start, start_name = acts[0].std, acts[0].name
    if acts and start is not None and not info.untrained_norms:
        growth = acts[-1].std / start
        steps = len(acts) if start_name == "the inputs" else len(acts) - 1
        per_layer = growth ** (1 / steps) if steps > 0 and growth > 0 else 1.0
        if growth > activation_growth or per_layer > layer_growth:
            add("exploding activations", acts[-1].name, growth, activation_growth,
                f"the activations' standard deviation grows {_g(growth, 0)} times from "
                f"{start_name} to {acts[-1].name}, about {_g(per_layer, 0)} times per activation "
                f"layer (thresholds {_g(activation_growth, 0)} overall, {_g(layer_growth, 0)} per "
                "layer): the weights are too large for the layer widths.")
    pair = None
    if len(flow) >= 2:
        pair = (tuple(p.name for p in flow[:max(1, (len(flow) - 1) // 4)]), flow[-1].name)
    return out, notes, pair



def _early(p: ParameterStats, flow: list[ParameterStats]) -> str:
    if p is flow[0]:
        return f"first layer ({p.name})"
    n = max(1, (len(flow) - 1) // 4)
    return f"first {n} layers (at best, {p.name})"


def _inside(name: str, containers: list[str]) -> bool:
    return any(name == c or name.startswith(c + ".") for c in containers)


def _in_call_order(params: list[ParameterStats], info: Inspection) -> list[ParameterStats]:
    rank = {name or "(model)": i for i, name in enumerate(info.call_order)}
    called = [p for p in params if p.name in rank]
    return sorted(called, key=lambda p: rank[p.name])
