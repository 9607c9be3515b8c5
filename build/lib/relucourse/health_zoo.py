"""The zoo on which the health report's thresholds are calibrated, and its fault-injection table.

Used by the book (the calibration page), the tests and ``tools/bench_health.py``;
not by the tools themselves. The transformers models need the ``transformers``
package (a test and book-build dependency): it is imported inside
:func:`build`, never when this module is imported, and every model is built
from a small config with random weights, so nothing is downloaded.

The zoo: three of the book's own healthy networks (on the digits) and eight
of transformers' model classes at the library's default initialisation
(ResNet, MobileNetV2, ConvNeXt, EfficientNet, ViT, GPT-2, LLaMA, BERT), each
on 32 seeded inputs. :func:`calibration_table` runs the report on each model
healthy (in training and in eval mode) and with each fault injected
(:data:`FAULTS`: dead units by a negative bias shift and by one huge Adam
step, saturation, exploding weights, raw inputs, vanishing gradients), and
says for each cell whether the report found the fault, missed it, or (on a
healthy model) raised a false alarm.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .health import HealthReport, health_report
from .inspection import inspect_model

__all__ = ["MODELS", "FAULTS", "ZOO_INPUTS", "build", "inputs", "Cell", "calibration_table",
           "warm_batch_norm", "table_text",
           "HUGE_LR", "HEADS", "huge_step", "dead_shares", "training_loss"]

#: Inputs per zoo model: the report's default minimum for a verdict.
ZOO_INPUTS = 32

#: The report's default share of dead units in a layer above which it raises a finding.
_DEAD_THRESHOLD = inspect.signature(health_report).parameters["dead_threshold"].default

#: The "huge learning-rate step": one Adam step at this learning rate, a
#: thousand times Adam's default of 1e-3. Adam's first step moves every
#: parameter by about the learning rate whatever its gradient's size, so the
#: step means the same in every zoo model.
HUGE_LR = 1.0

#: The zoo, in table order: name -> family ("book", "image", "text").
MODELS: dict[str, str] = {
    "MLP, ReLU (book)": "digits", "MLP, tanh (book)": "digits", "CNN + BN (book)": "digit-images",
    "ResNet": "image", "MobileNetV2": "image", "ConvNeXt": "image", "EfficientNet": "image",
    "ViT": "image", "GPT-2": "causal", "LLaMA": "causal", "BERT": "classify",
}

#: The faults injected, with the finding each should produce.
FAULTS: dict[str, str] = {
    "dead units": "dead units",
    "dead units (lr step)": "dead units",
    "saturation": "saturation",
    "exploding weights": "exploding activations or gradient, or saturation",
    "raw inputs": "inputs not standardized",
    "vanishing gradient": "vanishing gradient",
}

_CACHE: dict[str, Callable[[], nn.Module]] = {}


def _transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def build(name: str, seed: int = 0) -> nn.Module:
    """A fresh zoo model, seeded, at its library's default initialisation.

    Args: name: a key of :data:`MODELS`; seed: the torch seed.
    Returns: the model (training mode).
    Raises: KeyError for an unknown name; ImportError without transformers.
    """
    from .training import mlp

    torch.manual_seed(seed)
    if name == "MLP, ReLU (book)":
        return mlp([64, 64, 64, 10], nn.ReLU, seed=seed, init="he")
    if name == "MLP, tanh (book)":
        return mlp([64, 64, 64, 10], nn.Tanh, seed=seed, init="xavier")
    if name == "CNN + BN (book)":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.Flatten(), nn.Linear(16 * 64, 10))
    T = _transformers()
    small = dict(num_labels=10)
    configs = {
        "ResNet": lambda: T.ResNetForImageClassification(T.ResNetConfig(
            embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], layer_type="basic",
            **small)),
        "MobileNetV2": lambda: T.MobileNetV2ForImageClassification(T.MobileNetV2Config(
            image_size=16, depth_multiplier=0.35, **small)),
        "ConvNeXt": lambda: T.ConvNextForImageClassification(T.ConvNextConfig(
            patch_size=2, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 2, 1], **small)),
        "EfficientNet": lambda: T.EfficientNetForImageClassification(T.EfficientNetConfig(
            image_size=32, width_coefficient=0.25, depth_coefficient=0.25, hidden_dim=320, **small)),
        "ViT": lambda: T.ViTForImageClassification(T.ViTConfig(
            image_size=16, patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, **small)),
        "GPT-2": lambda: T.GPT2LMHeadModel(T.GPT2Config(
            vocab_size=128, n_positions=32, n_embd=32, n_layer=2, n_head=2, bos_token_id=0,
            eos_token_id=0)),
        "LLaMA": lambda: T.LlamaForCausalLM(T.LlamaConfig(
            vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)),
        "BERT": lambda: T.BertForSequenceClassification(T.BertConfig(
            vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64, max_position_embeddings=32, **small)),
    }
    return configs[name]()


def inputs(name: str, n: int = ZOO_INPUTS, seed: int = 0):
    """Seeded inputs for a zoo model: ``(X, y)`` for the book's nets, a dict with labels for the others.

    Args: name: a key of :data:`MODELS`; n: number of inputs; seed: the generator's seed.
    Returns: ``(X, y)`` or ``(dict, None)``.
    Raises: KeyError for an unknown name.
    """
    family = MODELS[name]
    g = torch.Generator().manual_seed(seed)
    if family in ("digits", "digit-images"):
        from .data import digits

        d = digits()
        X = torch.as_tensor(d.X_train[:n])
        y = torch.as_tensor(d.y_train[:n])
        return (X.reshape(-1, 1, 8, 8) if family == "digit-images" else X), y
    if family == "image":
        side = 32 if name == "EfficientNet" else 16          # its 5x5 kernels need 4x4 maps at the end
        return {"pixel_values": torch.randn(n, 3, side, side, generator=g),
                "labels": torch.randint(0, 10, (n,), generator=g)}, None
    tokens = torch.randint(0, 128, (n, 8), generator=g)
    if family == "causal":
        return {"input_ids": tokens, "labels": tokens}, None
    return {"input_ids": tokens, "labels": torch.randint(0, 10, (n,), generator=g)}, None


def warm_batch_norm(model: nn.Module, X, y=None, passes: int = 3) -> None:
    """Give batch norm running statistics from the data, as the first training steps would.

    Eval mode on a model whose batch-norm layers have never seen a batch
    computes with mean 0 and variance 1; the zoo's eval-mode column uses
    statistics averaged over ``passes`` training-mode passes instead.

    Args: model: the model; X, y: the zoo inputs; passes: forward passes.
    Returns: None (the model's batch-norm buffers change).
    Raises: nothing.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                      # a cumulative average over the passes
    mode = model.training
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(**X) if isinstance(X, dict) else model(X)
    model.train(mode)
    for m, mom in zip(norms, momenta):
        m.momentum = mom


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.factor, None


@dataclass
class Cell:
    """One cell of the table: the outcome, the kinds of finding the report gave, and measured numbers.

    ``numbers`` holds what the page quotes about the cell: for the healthy
    model in training mode, ``loss`` and ``last_std`` (the last activation's
    output spread); for the learning-rate step, ``dead`` (the largest share of dead units in one
    layer, counted by the zoo's own hooks); for exploding weights, ``loss``
    and ``healthy_loss``, ``pre_std`` and ``healthy_pre_std`` (the largest
    spread of an activation's input), ``gain`` (the largest weight scale
    as std x sqrt(fan-in)) and ``spread`` (the largest factor by which an
    activation's output spread changed).
    """

    outcome: str                  # "ok", "said so", "false alarm", "found", "missed", "no effect", "alive", "n/a"
    kinds: list[str] = field(default_factory=list)
    detail: str = ""
    numbers: dict[str, float] = field(default_factory=dict)


def _report(model, X, y, train_mode=True) -> HealthReport:
    torch.manual_seed(0)                          # dropout draws the same in every cell
    return health_report(model, X, y, train_mode=train_mode)


def _sites(model, X):
    return inspect_model(model, X, None, backward=False, tool="the zoo").sites


def _call(model, X):
    return model(**X) if isinstance(X, dict) else model(X)


def training_loss(model: nn.Module, X, y) -> torch.Tensor:
    """The loss a training step on the zoo inputs would use: cross-entropy on y, else the model's own.

    Args: model: a zoo model; X, y: its inputs (y None when the labels are in X, for transformers).
    Returns: the loss, a scalar tensor.
    Raises: nothing.
    """
    out = _call(model, X)
    return nn.functional.cross_entropy(out, y) if y is not None else out.loss


def huge_step(model: nn.Module, X, y, lr: float = HUGE_LR) -> None:
    """One Adam step at learning rate ``lr`` on the zoo inputs, in training mode (the parameters change).

    Args: model: a zoo model; X, y: its inputs; lr: the learning rate.
    Returns: None.
    Raises: nothing.
    """
    mode = model.training
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    training_loss(model, X, y).backward()
    optimizer.step()
    model.zero_grad(set_to_none=True)
    model.train(mode)


def dead_shares(model: nn.Module, X, sites) -> dict[str, float]:
    """The share of dead units per activation layer, counted by hooks of the zoo's own, not the report's.

    A unit is dead when its input is at most the site's threshold on every
    input (the definition of :mod:`relucourse.inspection`); the largest input
    per unit is taken here with one ``amax`` per layer, in training mode.

    Args: model: the model; X: its inputs; sites: from an inspection of this model (their
        modules, thresholds and unit dimensions).
    Returns: {layer name: dead share} for the module sites with an off state.
    Raises: nothing.
    """
    largest: dict[str, torch.Tensor] = {}
    handles = []
    for s in sites:
        if s.threshold is None or s.module is None or " (call" in s.name:
            continue

        def hook(module, args, name=s.name, dim=s.unit_dim):
            x = args[0].detach()
            dims = [i for i in range(x.dim()) if i != dim % x.dim()]
            mx = x.amax(dim=dims)
            largest[name] = mx if name not in largest else torch.maximum(largest[name], mx)

        handles.append(s.module.register_forward_pre_hook(hook))
    mode = model.training
    model.train()
    try:
        with torch.no_grad():
            _call(model, X)
    finally:
        for h in handles:
            h.remove()
        model.train(mode)
    thresholds = {s.name: s.threshold for s in sites}
    return {n: float((mx <= thresholds[n]).float().mean()) for n, mx in largest.items()}


def _inject(name: str, fault: str, model: nn.Module, X, y, healthy: HealthReport, sites, handles: list):
    """Apply ``fault`` to ``model`` (and maybe X); returns (X, expected kinds, expected layer) or None.

    Hooks it registers go into ``handles``; parameters it changes are restored by the caller.
    """
    modules = dict(model.named_modules())
    if fault == "dead units":
        chosen = [s for s in sites if s.threshold is not None and s.origin == "module"]
        if not chosen:
            return None
        site = chosen[len(chosen) // 2]
        units, dim = site.units, site.unit_dim

        def shift(module, args, dim=dim, units=units):
            x = args[0].clone()
            index = [slice(None)] * x.dim()
            index[dim] = slice(0, units // 2)
            x[tuple(index)] -= 100.0                 # what a bias of -100 does to half the units
            return (x, *args[1:])

        handles.append(site.module.register_forward_pre_hook(shift))
        return X, {"dead units"}, site.name
    if fault == "dead units (lr step)":
        if not any(s.threshold is not None for s in sites):
            return None
        huge_step(model, X, y)
        return X, {"dead units"}, None
    if fault == "saturation":
        chosen = [s for s in sites if s.bounds is not None and s.origin == "module"]
        if not chosen:
            return None
        for s in chosen:
            # a weight 10 times too large and a bias of +10: the unit is pushed to its upper bound
            handles.append(s.module.register_forward_pre_hook(
                lambda m, args: (args[0] * 10.0 + 10.0, *args[1:])))
        return X, {"saturation"}, None
    if fault == "exploding weights":
        with torch.no_grad():
            for m in model.modules():
                w = getattr(m, "weight", None)
                if (isinstance(w, nn.Parameter) and w.dim() >= 2 and "Embedding" not in type(m).__name__):
                    w.mul_(10.0)
        return X, {"exploding activations", "exploding gradient", "saturation"}, None
    if fault == "raw inputs":
        if isinstance(X, dict):
            if "pixel_values" not in X:
                return None
            return {**X, "pixel_values": X["pixel_values"] * 50 + 100}, {"inputs not standardized"}, None
        return X * 50 + 100, {"inputs not standardized"}, None
    if fault == "vanishing gradient":
        pair = healthy.gradient_pair
        if pair is None:
            return None
        for early in pair[0]:          # the layers the report compares with the last one
            handles.append(modules[early].register_forward_hook(
                lambda m, a, out: _ScaleGrad.apply(out, 1e-4)))
        return X, {"vanishing gradient"}, None
    raise KeyError(fault)


def _gain(model: nn.Module) -> float:
    """The largest std(W) x sqrt(fan-in) over the weight matrices and kernels (1 to 1.4 for Xavier, He)."""
    out = 0.0
    for m in model.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, nn.Parameter) and w.dim() >= 2 and "Embedding" not in type(m).__name__:
            fan_in = w.shape[0] if type(m).__name__ == "Conv1D" else w[0].numel()   # Conv1D: (in, out)
            out = max(out, float(w.detach().std()) * fan_in ** 0.5)
    return out


def calibration_table(models=None, faults=None) -> dict[str, dict[str, Cell]]:
    """Run the report on every zoo model, healthy and with each fault: ``{model: {column: Cell}}``.

    Columns: "healthy (train)", "healthy (eval)", then the faults of
    :data:`FAULTS` (injected in training mode). A healthy cell is "ok" with no
    finding, "said so" when every finding says in its words that the value is
    expected in such a model (a transformer at initialisation), and "false
    alarm" otherwise; a fault cell is "found" when the
    report gives the expected kind (at the injected layer, for the bias
    shift), "missed" when not, "no effect" when the fault does not change what
    the activations compute (weights scaled in front of a normalisation
    layer: every activation's spread within a factor 1.5 of the healthy
    model's), "alive" when the learning-rate step left no layer with more
    than the report's 20% of dead units by the zoo's own count
    (:func:`dead_shares`), and "n/a" when the model has nothing to inject
    into (no activation with an off state for dead units, no bounded one for
    saturation, token inputs for raw inputs).

    Every column of a model starts from the same weights (one build, its
    state restored between columns), and dropout draws the same in each.
    The table runs with denormal floats flushed to zero
    (``torch.set_flush_denormal``, turned off again at the end):
    EfficientNet's activations shrink to about 1e-35 at its library's
    initialisation, and arithmetic on the still smaller numbers below that
    made its reports three to four times slower; the outcomes are the same.

    Args: models: names to run (all by default); faults: faults to inject (all by default).
    Returns: the table.
    Raises: ImportError without transformers.
    """
    torch.set_flush_denormal(True)
    try:
        return _table(models, faults)
    finally:
        torch.set_flush_denormal(False)


def _table(models, faults) -> dict[str, dict[str, Cell]]:
    table: dict[str, dict[str, Cell]] = {}
    for name in models or MODELS:
        X, y = inputs(name)
        row = {}
        model = build(name)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        sites = _sites(model, X)
        healthy = _report(model, X, y)
        row["healthy (train)"] = _healthy_cell(healthy)
        row["healthy (train)"].numbers.update(
            loss=healthy.loss, last_std=healthy.activations[-1].std if healthy.activations else math.nan)
        warm_batch_norm(model, X, y)
        row["healthy (eval)"] = _healthy_cell(_report(model, X, y, train_mode=False))
        model.load_state_dict(state)
        for fault in faults or FAULTS:
            handles: list = []
            try:
                row[fault] = _fault_cell(name, fault, model, X, y, healthy, sites, handles)
            finally:
                for h in handles:
                    h.remove()
                model.load_state_dict(state)
        table[name] = row
    return table


def _fault_cell(name, fault, model, X, y, healthy, sites, handles) -> Cell:
    injected = _inject(name, fault, model, X, y, healthy, sites, handles)
    if injected is None:
        return Cell("n/a")
    Xf, expected, layer = injected
    numbers: dict[str, float] = {}
    if fault == "dead units (lr step)":
        numbers["dead"] = max(dead_shares(model, Xf, sites).values(), default=0.0)
    if fault == "exploding weights":
        numbers["gain"] = _gain(model)
    report = _report(model, Xf, y)
    hit = [f for f in report.findings if f.kind in expected and (layer is None or f.layer == layer)]
    if fault == "exploding weights":
        numbers.update(loss=report.loss, healthy_loss=healthy.loss,
                       pre_std=max((a.pre_std for a in report.activations), default=0.0),
                       healthy_pre_std=max((a.pre_std for a in healthy.activations), default=0.0),
                       spread=_spread(healthy, report))
        if not hit and numbers["spread"] < 1.5:
            # normalisation undoes the weights' scale: the activations compute what they did before
            return Cell("no effect", report.kinds(), numbers=numbers)
    if not hit and fault == "dead units (lr step)" and numbers["dead"] <= _DEAD_THRESHOLD:
        return Cell("alive", report.kinds(), numbers=numbers)
    return Cell("found" if hit else "missed", report.kinds(), hit[0].layer if hit else "", numbers)


def _healthy_cell(report: HealthReport) -> Cell:
    if not report.findings:
        return Cell("ok")
    if all(f.expected_here for f in report.findings):
        return Cell("said so", report.kinds())          # a finding whose words say it is expected here
    return Cell("false alarm", report.kinds())


def _spread(a: HealthReport, b: HealthReport) -> float:
    """The largest factor (>= 1, up or down) by which an activation's output spread differs in b from a."""
    worst = 1.0
    for x, y in zip(a.activations, b.activations):
        if x.std and y.std:
            worst = max(worst, y.std / x.std, x.std / y.std)
        elif x.std:                     # an output spread that collapsed to 0
            worst = math.inf
    return worst


_SHORT = {"no effect": "no eff", "said so": "said", "ok": "ok", "false alarm": "ALARM", "found": "found",
          "missed": "MISSED", "alive": "alive", "n/a": "-"}

#: Column heads of :func:`table_text`, by column.
HEADS = {"healthy (train)": "train", "healthy (eval)": "eval", "dead units": "bias",
         "dead units (lr step)": "lr", "saturation": "sat.", "exploding weights": "weight",
         "raw inputs": "inputs", "vanishing gradient": "vanish"}


def table_text(table: dict[str, dict[str, Cell]]) -> str:
    """The table as plain text, at most 74 characters a line (short words: see :data:`HEADS`).

    Args: table: from :func:`calibration_table`.
    Returns: the text.
    Raises: nothing.
    """
    columns = list(next(iter(table.values()))) if table else list(HEADS)
    lines = [f"{'model':<16}" + "".join(f"{HEADS[c]:>7}" for c in columns)]
    for name, row in table.items():
        lines.append(f"{name[:16]:<16}" + "".join(f"{_SHORT[c.outcome]:>7}" for c in row.values()))
    return "\n".join(lines)
