"""Checkers for the exercises of chapter 6 (troubleshooting a network end to end).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value.

The helpers :func:`build` and :func:`run` are the exercises' "training
script": they build and train the network that a settings dict describes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checking import Check, Text, describe, format_float
from .settings import validate_settings

__all__ = ["BROKEN", "CAUSES", "build", "run", "check_diagnosis", "check_saturated_fraction",
           "check_growth", "check_claim", "check_deep_model"]

#: The broken script of exercise 6.1: three hidden layers of 64 units, plain SGD,
#: batches of 64, 10 epochs. Its test accuracy stays far below what the data allow.
BROKEN: dict[str, Any] = dict(activation="tanh", init="normal", lr=0.1, standardize=True)

#: The kinds of finding of :func:`relucourse.health.health_report`.
CAUSES = ("dead units", "saturation", "vanishing gradient", "exploding gradient",
          "exploding activations", "inputs not standardized")

_CHOICES = {"activation": ("relu", "tanh", "sigmoid", "leaky_relu", "gelu"),
            "init": ("default", "he", "xavier", "normal"), "standardize": (True, False)}


def build(settings: dict, seed: int = 0):
    """The network of a settings dict: 64 -> 64 -> 64 -> 64 -> 10, seeded.

    ``init`` is ``"default"`` (PyTorch's), ``"he"``, ``"xavier"`` or
    ``"normal"`` (every weight drawn from N(0, 1), as ``nn.init.normal_`` does).
    """
    from ..training import mlp

    full = {**BROKEN, **settings}
    return mlp([64, 64, 64, 64, 10], full["activation"], seed=seed, init=full["init"])


def _data(standardize: bool):
    from ..data import digits

    return digits(seed=0, standardize=standardize).tensors()


def _fit(model, *, lr: float, standardize: bool = True, epochs: int = 10, seed: int = 0) -> list[float]:
    """Plain SGD with batches of 64 on the digits; the test accuracy after every epoch (one thread)."""
    from ..training import torch_threads, train_classifier

    X, y, X_test, y_test = _data(standardize)
    with torch_threads(1):
        return train_classifier(model, X, y, epochs=epochs, lr=lr, batch_size=64, seed=seed,
                                X_test=X_test, y_test=y_test)["test_acc"]


def run(settings: dict, seed: int = 0):
    """Build and train the network of ``settings`` (as exercise 6.1's script does): (model, test accuracies)."""
    full = {**BROKEN, **settings}
    model = build(full, seed)
    return model, _fit(model, lr=full["lr"], standardize=full["standardize"], seed=seed)


# -- Exercise 6.1 -------------------------------------------------------------------
def _normalise_cause(text: str) -> str:
    t = " ".join(str(text).lower().replace("-", " ").replace("_", " ").split()).strip(" .")
    return t.replace("standardised", "standardized").replace("standardise", "standardize")


def _validate(c: Check, settings) -> dict:
    return validate_settings(c, settings, what="repaired_settings()", allowed=BROKEN, choices=_CHOICES,
                             ranges={"lr": (0, 10)},
                             fixed="The layer sizes, epochs and batch size stay as they are.")


def check_diagnosis(cause, repaired_settings) -> None:
    """``cause()`` names the finding behind BROKEN; ``repaired_settings()`` changes settings to fix it."""
    from ..health import health_report

    # The statement sends the student to the health report and the script's build and run.
    with Check("Exercise 6.1 (diagnose and repair)", allow=("relucourse",)) as c:
        named = c.call(cause, call="cause()")
        c.require(isinstance(named, str), "cause() should return the name of a finding, as a string.",
                  inputs={"choices": CAUSES}, expected=Text("one of the choices"), returned=named)
        named = _normalise_cause(named)
        c.require(named in CAUSES, f"{named!r} is not one of the report's kinds of finding.",
                  inputs={"choices": CAUSES}, expected=Text("one of the choices"), returned=named,
                  hint="Copy the kind from the report's findings: health_report(model, X, y).summary().")
        X, y, _, _ = _data(True)
        found = health_report(build(BROKEN, 0), X, y).kinds()
        c.require(named in found, f"the report on the broken network does not find {named!r}.",
                  inputs={"network": Text("build(BROKEN, seed=0)")},
                  expected=Text("the kind of finding the report gives"), returned=named,
                  hint="Run health_report on the broken network before training and read its findings.")
        settings = _validate(c, c.call(repaired_settings, call="repaired_settings()"))
        full = {**BROKEN, **settings}
        c.require(full != BROKEN, "the settings are the broken ones: nothing was changed.",
                  inputs={"BROKEN": BROKEN}, expected=Text("at least one change"), returned=settings)
        Xs, ys, _, _ = _data(full["standardize"])
        report = health_report(build(full, 0), Xs, ys)
        c.require(report.findings == [], "the repaired network still has findings at initialisation.",
                  inputs={"settings": settings}, expected=Text("no findings"),
                  returned=Text(report.summary()),
                  hint="Fix the cause the report names, not the symptom: what sets the scale of "
                       "the pre-activations?")
        accs = [run(full, seed)[1][-1] for seed in (0, 1)]
        c.require(all(a >= 0.9 for a in accs),
                  "the repaired script does not train well: it needs test accuracy >= 90% on seeds 0 and 1.",
                  inputs={"settings": settings}, expected=Text("test accuracy >= 90% on both seeds"),
                  returned=Text(", ".join(f"seed {s}: {a:.1%}" for s, a in enumerate(accs))),
                  hint="With the cause fixed, the learning rate of the script is fine.")


# -- Exercise 6.2 -------------------------------------------------------------------
def _saturation_cases():
    import torch

    gen = torch.Generator().manual_seed(6)
    z = 3 * torch.randn(200, 16, generator=gen)
    yield "sigmoid outputs, bounds (0, 1), tolerance 0.02", torch.sigmoid(z), 0.0, 1.0, 0.02
    yield "tanh outputs (float64), bounds (-1, 1), tolerance 0.05", torch.tanh(z.double()), -1.0, 1.0, 0.05
    yield ("Hardtanh outputs, many exactly at the bounds", torch.clamp(z[:50], -1.0, 1.0), -1.0, 1.0, 0.01)
    exact = torch.tensor([[0.0, 0.25, 0.5], [0.75, 1.0, 0.3]])
    yield "values exactly at the margin, bounds (0, 1), tolerance 0.25", exact, 0.0, 1.0, 0.25
    yield ("Hardtanh(-2, 2) outputs of shape (8, 4, 5)",
           torch.clamp(z[:160].reshape(8, 4, 5 * 16)[..., :5] / 2, -2.0, 2.0), -2.0, 2.0, 0.02)
    yield "a NumPy array of ReLU6 outputs, bounds (0, 6)", np.clip(z.numpy() * 2, 0, 6), 0.0, 6.0, 0.02


def _saturation_hint(value: float, want: float, n: int, out, lower: float, upper: float,
                     tolerance: float) -> str:
    """The cause that fits how far the returned share is from the right one."""
    count = value * n
    if abs(count - round(count)) > 1e-3 * max(1.0, abs(count)) or not 0 <= value <= 1:
        return (f"{format_float(value)} is not a share of the {n} entries (a whole number of "
                f"entries divided by {n}): count the saturated entries of the whole output, every "
                "dimension together, and divide by the number of all its entries.")
    k = int(round(abs(want - value) * n))
    values = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
    margin = tolerance * (upper - lower)
    on_edge = int(np.sum((values == lower + margin) | (values == upper - margin)))
    if on_edge and k == on_edge:
        return (f"{k} entries counted differently: exactly as many as lie exactly at the margin. "
                "An output exactly at the margin counts as saturated: use <= and >=.")
    return (f"{k} entries counted differently. The margin is tolerance x (upper - lower), on "
            "both sides: output <= lower + margin or output >= upper - margin.")


def check_saturated_fraction(saturated_fraction) -> None:
    """``saturated_fraction(output, lower, upper, tolerance)``: share of outputs within the margin of a bound."""

    def expected(out, lower, upper, tolerance):
        values = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
        margin = tolerance * (upper - lower)
        return float(np.mean((values <= lower + margin) | (values >= upper - margin)))

    with Check("Exercise 6.2 (the saturated fraction)") as c:
        for label, out, lower, upper, tol in _saturation_cases():
            inputs = {"output": Text(label), "lower": lower, "upper": upper, "tolerance": tol}
            got = c.call(saturated_fraction, out.clone() if hasattr(out, "clone") else out.copy(),
                         lower, upper, tol, call="saturated_fraction(output, lower, upper, tolerance)",
                         inputs=inputs)
            value = c.number(got, what="saturated_fraction(...)", inputs=inputs)
            want = expected(out, lower, upper, tol)
            n = int(np.prod(tuple(out.shape)))
            # atol 1e-6: a share computed in float32 (mask.float().mean().item()) is off by up to
            # a few times 1e-8 (float32's rounding); one entry counted wrongly moves it by 1/n
            # (at least 1/3200 here), which is far outside.
            c.close(value, want, inputs=inputs, rtol=0, atol=1e-6, what="the saturated fraction",
                    hint=_saturation_hint(value, want, n, out, lower, upper, tol))


# -- Exercise 6.3 -------------------------------------------------------------------
def check_growth(growth_per_layer) -> None:
    """``growth_per_layer(std, fan_in)``: factor by which a ReLU layer multiplies the pre-activations' RMS."""

    def expected(std, fan_in):
        return math.sqrt(fan_in * std ** 2 / 2)

    with Check("Exercise 6.3 (growth per layer)") as c:
        for std, fan_in in ((1.0, 64), (0.5, 64), (math.sqrt(2 / 64), 64), (0.1, 256), (2.0, 3),
                            (0.05, 1000)):
            inputs = {"std": std, "fan_in": fan_in}
            got = c.number(c.call(growth_per_layer, std, fan_in,
                                  call=f"growth_per_layer({std:.4g}, {fan_in})", inputs=inputs),
                           what="growth_per_layer(...)", inputs=inputs)
            c.close(got, expected(std, fan_in), inputs=inputs, rtol=1e-6,
                    what="the growth factor of the root mean square",
                    hint="Each pre-activation sums fan_in products w * x; a ReLU keeps half of the "
                         "second moment of its input. Then take the square root: the question is "
                         "about the root mean square, not the second moment.")


# -- Exercise 6.5 -------------------------------------------------------------------
def check_claim(first_over_last, verdict) -> None:
    """``first_over_last(activation, init)`` measures the claim; ``verdict()`` judges it."""

    def reference(activation, init):
        import torch
        from torch import nn

        from ..training import mlp

        X, y, _, _ = _data(True)
        model = mlp([64] + [64] * 20 + [10], activation, seed=0, init=init)
        loss = nn.functional.cross_entropy(model(X[:256]), y[:256])
        weights = [m.weight for m in model if isinstance(m, nn.Linear)]
        first, last = torch.autograd.grad(loss, [weights[0], weights[-1]])
        return float(first.norm() / last.norm())

    # The measurement may use the book's tools (mlp, digits, the health report, gradient norms).
    tools = ("relucourse.training", "relucourse.data", "relucourse.health", "relucourse.gradients",
             "relucourse.diagnostics", "relucourse.inspection")  # the core both tools are views of
    with Check("Exercise 6.5 (the vanishing-gradient claim)", allow=tools) as c:
        for activation, init in (("relu", "default"), ("relu", "he"), ("sigmoid", "xavier"),
                                 ("tanh", "xavier")):
            inputs = {"activation": activation, "init": init}
            got = c.number(c.call(first_over_last, activation, init,
                                  call=f"first_over_last({activation!r}, {init!r})", inputs=inputs),
                           what="first_over_last(...)", inputs=inputs)
            c.close(got, reference(activation, init), inputs=inputs, rtol=1e-3, atol=0,
                    what="the ratio of the first layer's weight-gradient norm to the last layer's",
                    hint="First (next to the input) over last (the output layer), weights only, "
                         "loss on the first 256 training images.")
        said = c.call(verdict, call="verdict()")
        c.require(isinstance(said, str), "verdict() should return a string.",
                  inputs={"choices": ("true", "false", "half true", "depends")},
                  expected=Text("one of the choices"), returned=said)
        normal = " ".join(said.lower().replace("-", " ").split()).strip(" .")
        c.require(normal in ("true", "false", "half true", "depends"),
                  f"{said!r} is not one of the verdicts.",
                  inputs={"choices": ("true", "false", "half true", "depends")},
                  expected=Text("one of the choices"), returned=said)
        c.require(normal == "half true", "that verdict does not match what your measurements show.",
                  inputs={"measured": Text("first/last ratios for ReLU with default and He init")},
                  expected=Text("the verdict the numbers support"), returned=said,
                  hint="Compare ReLU with PyTorch's default initialisation and with He's: does ReLU "
                       "by itself keep the gradient alive?")


# -- Exercise 6.6 -------------------------------------------------------------------
def check_deep_model(deep_model) -> None:
    """``deep_model(seed)``: at least 8 activation layers, no findings at initialisation, trains to 90%."""
    import torch
    from torch import nn

    from ..diagnostics import DiagnosticError
    from ..health import health_report

    with Check("Exercise 6.6 (a deep network that trains)", allow=("relucourse.training",)) as c:
        X, y, _, _ = _data(True)
        model = c.call(deep_model, 0, call="deep_model(0)")
        c.require(isinstance(model, nn.Module), f"deep_model(0) should return an nn.Module, not "
                  f"{describe(model)}.", expected=Text("an nn.Module"), returned=model)
        with torch.no_grad():
            out = c.call(model, X[:5], call="model(X[:5])", inputs={"X[:5]": Text("5 digits, shape (5, 64)")})
        c.require(torch.is_tensor(out) and tuple(out.shape) == (5, 10),
                  "the model should map inputs of shape (N, 64) to class scores of shape (N, 10).",
                  inputs={"X[:5]": Text("shape (5, 64)")}, expected=Text("a tensor of shape (5, 10)"),
                  returned=Text(describe(out) if not torch.is_tensor(out) else f"shape {tuple(out.shape)}"))
        try:
            report = health_report(model, X, y)
        except DiagnosticError as err:
            c.fail(f"the health report cannot run on the model: {err}", inputs={"model": Text("deep_model(0)")})
        depth = len(report.activations)
        c.require(depth >= 8, f"the model has {depth} activation layers; the exercise asks for at least 8.",
                  inputs={"model": Text("deep_model(0)")}, expected=Text(">= 8 activation layers"),
                  returned=depth, hint="Activations must be modules (nn.ReLU()), not F.relu calls.")
        c.require(report.findings == [], "the health report finds problems at initialisation.",
                  inputs={"model": Text("deep_model(0)")}, expected=Text("no findings"),
                  returned=Text(report.summary()),
                  hint="Match the initialisation to the activation (chapter 3).")
        best = []
        for seed in (0, 1):
            net = c.call(deep_model, seed, call=f"deep_model({seed})")
            best.append(max(_fit(net, lr=0.1, epochs=15, seed=seed)))
        c.require(all(b >= 0.9 for b in best),
                  "the model does not learn well enough: its best test accuracy within 15 epochs "
                  "(SGD, learning rate 0.1) must reach 90% on seeds 0 and 1.",
                  inputs={"training": Text("15 epochs, SGD, lr 0.1, batches of 64")},
                  expected=Text("best test accuracy >= 90% on both seeds"),
                  returned=Text(", ".join(f"seed {s}: {b:.1%}" for s, b in enumerate(best))),
                  hint="A network that the report calls healthy can still be hard to train when it "
                       "is deep: residual connections help (chapter 6, case 1).")
