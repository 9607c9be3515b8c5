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
(:data:`FAULTS`), and says for each cell whether the report found the fault,
missed it, or (on a healthy model) raised a false alarm.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .health import HealthReport, health_report
from .inspection import inspect_model

__all__ = ["MODELS", "FAULTS", "ZOO_INPUTS", "build", "inputs", "Cell", "calibration_table",
           "warm_batch_norm", "table_text"]

#: Inputs per zoo model: the report's default minimum for a verdict.
ZOO_INPUTS = 32

#: The zoo, in table order: name -> family ("book", "image", "text").
MODELS: dict[str, str] = {
    "MLP, ReLU (book)": "digits", "MLP, tanh (book)": "digits", "CNN + BN (book)": "digit-images",
    "ResNet": "image", "MobileNetV2": "image", "ConvNeXt": "image", "EfficientNet": "image",
    "ViT": "image", "GPT-2": "causal", "LLaMA": "causal", "BERT": "classify",
}

#: The faults injected, with the finding each should produce.
FAULTS: dict[str, str] = {
    "dead units": "dead units",
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
    """One cell of the table: the outcome and the kinds of finding the report gave."""

    outcome: str                  # "ok", "false alarm", "found", "missed", "no effect", "n/a"
    kinds: list[str] = field(default_factory=list)
    detail: str = ""


def _report(model, X, y, train_mode=True) -> HealthReport:
    return health_report(model, X, y, train_mode=train_mode)


def _sites(model, X):
    return inspect_model(model, X, None, backward=False, tool="the zoo").sites


def _inject(name: str, fault: str, model: nn.Module, X, y, healthy: HealthReport):
    """Apply ``fault`` to ``model`` (and maybe X); returns (X, expected kinds, expected layer) or None."""
    if fault == "dead units":
        sites = [s for s in _sites(model, X) if s.threshold is not None and s.module is not None]
        if not sites:
            return None
        site = sites[len(sites) // 2]
        units, dim = site.units, site.unit_dim

        def shift(module, args, dim=dim, units=units):
            x = args[0].clone()
            index = [slice(None)] * x.dim()
            index[dim] = slice(0, units // 2)
            x[tuple(index)] -= 100.0                 # what a bias of -100 does to half the units
            return (x, *args[1:])

        site.module.register_forward_pre_hook(shift)
        return X, {"dead units"}, site.name
    if fault == "saturation":
        sites = [s for s in _sites(model, X) if s.bounds is not None and s.module is not None]
        if not sites:
            return None
        for s in sites:
            # a weight 10 times too large and a bias of +10: the unit is pushed to its upper bound
            s.module.register_forward_pre_hook(lambda m, args: (args[0] * 10.0 + 10.0, *args[1:]))
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
        modules = dict(model.named_modules())
        for early in pair[0]:          # the layers the report compares with the last one
            modules[early].register_forward_hook(lambda m, a, out: _ScaleGrad.apply(out, 1e-4))
        return X, {"vanishing gradient"}, None
    raise KeyError(fault)


def calibration_table(models=None, faults=None) -> dict[str, dict[str, Cell]]:
    """Run the report on every zoo model, healthy and with each fault: ``{model: {column: Cell}}``.

    Columns: "healthy (train)", "healthy (eval)", then the faults of
    :data:`FAULTS` (injected in training mode). A healthy cell is "ok" with no
    finding, "said so" when every finding says in its words that the value is
    expected in such a model (a transformer at initialisation), and "false
    alarm" otherwise; a fault cell is "found" when the
    report gives the expected kind (at the injected layer, for dead units),
    "missed" when not, "no effect" when the fault does not change what the
    model computes (weights scaled in front of a normalisation layer: every
    activation's spread within a factor 1.5 of the healthy model's), and
    "n/a" when the model has nothing to inject into (no bounded activation
    for saturation, token inputs for raw inputs).

    Args: models: names to run (all by default); faults: faults to inject (all by default).
    Returns: the table.
    Raises: ImportError without transformers.
    """
    table: dict[str, dict[str, Cell]] = {}
    for name in models or MODELS:
        X, y = inputs(name)
        row = {}
        healthy = _report(build(name), X, y)
        row["healthy (train)"] = _healthy_cell(healthy)
        model = build(name)
        warm_batch_norm(model, X, y)
        row["healthy (eval)"] = _healthy_cell(_report(model, X, y, train_mode=False))
        for fault in faults or FAULTS:
            model = build(name)
            injected = _inject(name, fault, model, X, y, healthy)
            if injected is None:
                row[fault] = Cell("n/a")
                continue
            Xf, expected, layer = injected
            report = _report(model, Xf, y)
            hit = [f for f in report.findings if f.kind in expected and (layer is None or f.layer == layer)]
            if not hit and fault == "exploding weights" and _same_scale(healthy, report):
                # normalisation undoes the weights' scale: the model computes what it did before
                row[fault] = Cell("no effect", report.kinds())
                continue
            row[fault] = Cell("found" if hit else "missed", report.kinds(),
                              hit[0].layer if hit else "")
        table[name] = row
    return table


def _healthy_cell(report: HealthReport) -> Cell:
    if not report.findings:
        return Cell("ok")
    if all(f.expected_here for f in report.findings):
        return Cell("said so", report.kinds())          # a finding whose words say it is expected here
    return Cell("false alarm", report.kinds())


def _same_scale(a: HealthReport, b: HealthReport) -> bool:
    """True when every activation's output spread is within a factor 1.5 in both reports."""
    return all(1 / 1.5 < (y.std / x.std if x.std else 1.0) < 1.5 for x, y in zip(a.activations, b.activations))


_SHORT = {"no effect": "no eff.", "said so": "said so", "ok": "ok", "false alarm": "ALARM", "found": "found", "missed": "MISSED", "n/a": "-"}


def table_text(table: dict[str, dict[str, Cell]]) -> str:
    """The table as plain text, at most 74 characters a line.

    Args: table: from :func:`calibration_table`.
    Returns: the text.
    Raises: nothing.
    """
    heads = ["train", "eval", "dead", "sat.", "weights", "inputs", "vanish"]
    lines = [f"{'model':<18}" + "".join(f"{h:>8}" for h in heads)]
    for name, row in table.items():
        lines.append(f"{name[:18]:<18}" + "".join(f"{_SHORT[c.outcome]:>8}" for c in row.values()))
    return "\n".join(lines)
