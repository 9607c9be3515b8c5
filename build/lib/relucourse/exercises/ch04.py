"""Checkers for the exercises of chapter 4 (dying ReLU).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..checking import Check, Text, describe
from .settings import validate_settings

__all__ = ["check_dead_counts", "check_p_dead", "check_born_dead", "check_kill_and_fix", "check_repair",
           "BASELINE", "BROKEN"]

#: The healthy training setting of exercises 4.4 and 4.5 (keyword arguments of
#: :func:`relucourse.experiments.digits_run`; hidden layers (64, 64), 10 epochs, batch size 64).
BASELINE: dict[str, Any] = dict(lr=0.1, optimizer="sgd", init="default", bias=None, activation="relu",
                                batch_norm=False, standardize=True, input_offset=0.0)

#: The broken setting of exercise 4.5: raw pixels shifted by +5.
BROKEN: dict[str, Any] = {**BASELINE, "standardize": False, "input_offset": 5.0}

_CHOICES = {"optimizer": ("sgd", "adam"), "init": ("default", "he", "xavier"),
            "activation": ("relu", "leaky_relu", "elu", "gelu", "silu"), "batch_norm": (True, False),
            "standardize": (True, False)}


# -- Exercise 4.1 -------------------------------------------------------------------
def _models():
    """(description, model, inputs, expected dead counts) cases built with fixed seeds.

    The dead units are made by construction (large negative biases, a channel that
    one input pixel switches on); the expected counts are stored, and a test
    recomputes them with the chapter's tool.
    """
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(4)

    torch.manual_seed(40)
    mlp = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3))
    with torch.no_grad():
        mlp[0].bias[[1, 4, 7]] = -50.0
        mlp[2].bias[[0, 5]] = -50.0
    yield ("an MLP (Sequential) with dead units in both layers", mlp, torch.randn(300, 6, generator=gen),
           {"1": 3, "3": 2})

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 6)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.act(self.fc(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.out = nn.Linear(6, 4)
            self.act2 = nn.ReLU()

        def forward(self, x):
            return self.act2(self.out(self.block(x)))

    torch.manual_seed(41)
    net = Net()
    with torch.no_grad():
        net.block.fc.bias[2] = -30.0
        net.out.bias[[1, 3]] = -30.0
    yield ("a nested model (names like 'block.act') with an in-place ReLU", net,
           torch.randn(200, 5, generator=gen), {"block.act": 1, "act2": 2})

    torch.manual_seed(42)
    conv = nn.Sequential(nn.Conv2d(1, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 4 * 4, 2))
    with torch.no_grad():
        conv[0].weight.zero_()
        conv[0].weight[:, 0, 1, 1] = 1.0                      # each channel copies the centre pixel
        conv[0].bias.copy_(torch.tensor([0.0, -0.5, -4.5, -100.0, -6.0]))
    images = torch.rand(20, 1, 6, 6, generator=gen)            # values in [0, 1)
    images[3, 0, 2, 2] = 5.0                                   # switches channel 2 on at one position only
    yield "a convolutional model (a unit is a channel)", conv, images, {"1": 2}

    # Dead channels that are not the last ones, and an output whose last axis is not the channel
    # axis either way: grouping by the last axis (or reshape(-1, C)) gives other counts here.
    torch.manual_seed(44)
    conv6 = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 2))
    with torch.no_grad():
        conv6[0].weight.zero_()
        conv6[0].weight[:, 0, 1, 1] = 1.0                     # each channel copies the centre pixel
        conv6[0].bias.copy_(torch.tensor([-100.0, 0.0, -7.0, -0.5, -4.5, 0.2]))
    images6 = torch.rand(20, 1, 6, 6, generator=gen)
    images6[5, 0, 3, 2] = 5.0                                 # switches channel 4 on at one position
    yield ("a convolutional model whose dead channels are 0 and 2 of 6", conv6, images6, {"1": 2})

    torch.manual_seed(45)
    conv1d = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 7, 2))
    with torch.no_grad():
        conv1d[0].weight.zero_()
        conv1d[0].weight[:, 0, 1] = 1.0                       # each channel copies the middle input
        conv1d[0].bias.copy_(torch.tensor([-50.0, 0.0, -0.5]))
    series = torch.rand(30, 2, 9, generator=gen)               # output (30, 3, 7): 3 channels, length 7
    yield ("a 1-D convolutional model: output (N, C, L) = (30, 3, 7)", conv1d, series, {"1": 1})


def _as_count(value):
    """An int from an int, a whole float, or a one-element tensor/array; None for anything else."""
    import torch

    if torch.is_tensor(value) or isinstance(value, np.ndarray):
        if np.size(value) != 1 if isinstance(value, np.ndarray) else value.numel() != 1:
            return None
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    return int(value) if float(value).is_integer() else None


def check_dead_counts(dead_counts) -> None:
    """``dead_counts(model, X) -> {name: number of dead units}`` for every ``nn.ReLU`` module, via hooks."""
    import torch

    with Check("Exercise 4.1 (dead units via a forward hook)") as c:
        for description, model, X, expected in _models():
            inputs = {"model": Text(description), "X": Text(f"a tensor of shape {tuple(X.shape)}")}
            params = [p.detach().clone() for p in model.parameters()]
            got = c.call(dead_counts, model, X.clone(), call="dead_counts(model, X)", inputs=inputs)
            c.require(isinstance(got, dict), f"dead_counts should return a dict, not {type(got).__name__}.",
                      inputs=inputs, expected=expected, returned=got)
            c.require(set(got) == set(expected),
                      "the keys should be the qualified names of the ReLU modules (model.named_modules()).",
                      inputs=inputs, expected=sorted(expected), returned=sorted(map(str, got)),
                      hint="Loop over model.named_modules() and keep the modules that are nn.ReLU.")
            for name, count in expected.items():
                value = _as_count(got[name])
                c.require(value is not None, f"the count for layer {name!r} should be a whole number of units.",
                          inputs=inputs, expected=count, returned=got[name],
                          hint="Count units, not a fraction or a mask: int(dead.sum()).")
                hint = ("A unit is dead if its output is <= 0 for every input (and, for a channel, at "
                        "every position). ReLU outputs are never negative, so test <= 0 (or: never > 0), "
                        "and combine over all inputs with all(), not any().")
                if X.dim() > 2:
                    hint = ("In a convolution's output (N, C, ...) a unit is a channel, on axis 1: group the "
                            "values by that axis, e.g. output.transpose(0, 1).reshape(C, -1) with "
                            "C = output.shape[1], not by the last axis, and not with output.reshape(-1, C) "
                            "(that mixes channels and positions). " + hint)
                c.equal(int(value), count, inputs={**inputs, "layer": name},
                        what=f"the number of dead units in layer {name!r}", hint=hint)
            leftover = _leftover_hooks(model)
            c.require(not leftover, "hooks are still registered after dead_counts returned.",
                      inputs=inputs, expected=Text("no hooks left"), returned=Text(f"hooks on {leftover}"),
                      hint="Keep the handle that register_forward_hook returns and call handle.remove() "
                           "(in a finally: block, so it also happens after an error).")
            c.require(all(torch.equal(p, q) for p, q in zip(params, model.parameters())),
                      "the model's parameters changed.", inputs=inputs,
                      expected=Text("parameters unchanged"), returned=Text("parameters modified"),
                      hint="Run the model under torch.no_grad() and do not train it.")
        _check_hooks_removed_after_error(c, dead_counts)


def _leftover_hooks(model) -> list[str]:
    return [n or "(model)" for n, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]


def _check_hooks_removed_after_error(c: Check, dead_counts) -> None:
    """The statement asks for the hooks to be removed "even if something fails": a model that raises."""
    import torch
    from torch import nn

    torch.manual_seed(43)
    broken = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(6, 2))   # 5 outputs feed a layer that wants 6
    X = torch.randn(10, 4, generator=torch.Generator().manual_seed(5))
    inputs = {"model": Text("Linear(4, 5), ReLU, Linear(6, 2): forward() raises a shape error after the ReLU"),
              "X": Text(f"a tensor of shape {tuple(X.shape)}")}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dead_counts(broken, X)
    except Exception:  # noqa: BLE001 - the error is expected; only the clean-up is checked
        pass
    leftover = _leftover_hooks(broken)
    c.require(not leftover, "hooks are still registered after the model raised an error inside dead_counts.",
              inputs=inputs, expected=Text("no hooks left (the error may propagate)"),
              returned=Text(f"hooks on {leftover}"),
              hint="Register the hooks, then run the model inside try: ... finally: and remove every "
                   "handle in the finally: block, so that it happens even when forward() fails.")


# -- Exercise 4.2 -------------------------------------------------------------------
def _p_dead_cases():
    rng = np.random.default_rng(42)
    yield "centred inputs, zero bias", np.array([0.5, -1.0, 2.0]), 0.0, np.zeros(3), 1.0, 1
    yield "centred inputs, zero bias, 10 inputs", np.array([0.5, -1.0, 2.0]), 0.0, np.zeros(3), 1.0, 10
    yield "negative bias", np.array([1.0, 2.0]), -3.0, np.zeros(2), 2.0, 5
    yield "positive bias", np.array([3.0, 0.0, 4.0]), 2.0, np.zeros(3), 0.5, 3
    yield "inputs with an offset", np.array([0.3, -0.2, 0.4, 0.1]), -0.5, np.full(4, 5.0), 1.5, 20
    yield "offset pushes the unit off", np.array([-0.3, -0.1, -0.2]), 0.1, np.full(3, 2.0), 0.5, 100
    for k in range(3):
        d = 8
        yield (f"random unit {k + 1}", rng.normal(0, 0.5, d), float(rng.normal(0, 1)), rng.normal(0, 1, d),
               float(rng.uniform(0.5, 3)), int(rng.integers(1, 50)))
    yield "w = 0 (a unit that ignores its input), negative bias", np.zeros(3), -0.5, np.ones(3), 1.0, 4
    yield "w = 0, positive bias", np.zeros(3), 0.5, np.ones(3), 1.0, 4
    yield "w = 0 and b = 0: z = 0 on every input, so the unit is off", np.zeros(3), 0.0, np.ones(3), 1.0, 4


def check_p_dead(p_dead) -> None:
    """``p_dead(w, b, mu, s, n)``: probability that a unit is inactive on n iid N(mu, s^2 I) inputs."""
    def expected_probability(w, b, mu, s, n):
        """Phi(-(w.mu + b) / (s ||w||)) ** n; for w = 0, 1 if b <= 0 else 0 (local: not importable)."""
        m = float(w @ mu + b)
        sd = float(s * np.linalg.norm(w))
        if sd == 0:
            return 1.0 if m <= 0 else 0.0
        return (0.5 * math.erfc(m / (sd * math.sqrt(2)))) ** n   # Phi(-m/sd), accurate in the tails

    zero_w_hint = ("With w = 0 the pre-activation is z = b on every input, so the unit is off on all of them "
                   "exactly when b <= 0 (probability 1), and on otherwise (probability 0). A formula that "
                   "divides by ||w|| breaks here: handle that case first.")
    with Check("Exercise 4.2 (the probability of death)") as c:
        for label, w, b, mu, s, n in _p_dead_cases():
            inputs = {"case": label, "w": w, "b": b, "mu": mu, "s": s, "n": n}
            if not np.any(w):                  # the last cases; errors here get the w = 0 hint
                expected = expected_probability(w, b, mu, s, n)
                try:
                    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
                        warnings.simplefilter("error")    # 0/0 and x/0 fail here, with the hint below
                        got = p_dead(w.copy(), b, mu.copy(), s, n)
                except Exception as err:  # noqa: BLE001 - reported with the hint
                    c.fail(f"p_dead(w, b, mu, s, n) raised {type(err).__name__}: {err}", inputs=inputs,
                           expected=expected, returned=Text(f"{type(err).__name__} (no value)"),
                           hint=zero_w_hint)
                try:                           # a number or a one-element array
                    value = float(np.asarray(got, dtype=np.float64).reshape(()))
                except (TypeError, ValueError):
                    value = math.nan
                ok = not isinstance(got, (bool, np.bool_)) and abs(value - expected) <= 1e-12
                c.require(ok, f"for w = 0 the probability should be exactly {expected:g}.", inputs=inputs,
                          expected=expected, returned=got, hint=zero_w_hint)
                continue
            got = c.call(p_dead, w.copy(), b, mu.copy(), s, n, call="p_dead(w, b, mu, s, n)", inputs=inputs)
            value = c.number(got, what="the probability", inputs=inputs)
            expected = expected_probability(w, b, mu, s, n)
            # rtol 1e-4: float32 arithmetic raised to the power n (up to 100) must pass; every plausible
            # mistake (variance for sd, forgotten power, ignored offset, ...) is off by far more.
            c.close(value, expected, inputs=inputs, rtol=1e-4, atol=1e-15, what="the probability",
                    hint="z = w.x + b is normal with mean w.mu + b and standard deviation s*||w|| (not its "
                         "square). P(z <= 0) = Phi(-mean/sd), and the n inputs are independent, so the "
                         "probability of being off on all of them is that number to the power n.")


# -- Exercise 4.3 -------------------------------------------------------------------
#: The born-dead probability for _born_dead_inputs() by (depth, width), estimated from 200,000 random
#: networks (four seeds of 50,000) when the exercise was written; stored, so that no importable function
#: computes the answer. tests/answers_ch03_04.py has the simulation, and a test recomputes the values.
_BORN_DEAD_EXPECTED: dict[tuple[int, int], float] = {(1, 2): 0.0, (4, 2): 0.4117, (8, 3): 0.4269, (12, 4): 0.3241,
                                                      (6, 8): 0.0002}


def _born_dead_inputs():
    rng = np.random.default_rng(7)
    return rng.standard_normal((64, 3)).astype(np.float32)


def check_born_dead(born_dead_probability) -> None:
    """``born_dead_probability(X, depth, width, trials, seed)``: a Monte Carlo estimate, checked against a larger one."""
    X = _born_dead_inputs()
    configs = list(_BORN_DEAD_EXPECTED)
    trials = 2000
    # The chapter's network builder (relucourse.training.mlp) may make the random networks.
    with Check("Exercise 4.3 (born dead, by simulation)", allow=("relucourse.training",)) as c:
        for depth, width in configs:
            inputs = {"X": Text("64 points from a standard normal in 3 dimensions, float32"), "depth": depth,
                      "width": width, "trials": trials, "seed": 1}
            got = c.call(born_dead_probability, X.copy(), depth, width, trials, 1,
                         call="born_dead_probability(X, depth, width, trials, seed)", inputs=inputs)
            value = c.number(got, what="the estimate", inputs=inputs)
            c.require(0.0 <= value <= 1.0, f"a probability must lie in [0, 1], but the estimate is {value:g}.",
                      inputs=inputs, expected=Text("a number between 0 and 1"), returned=got)
            p = _BORN_DEAD_EXPECTED[depth, width]
            tol = 4.5 * math.sqrt(max(p * (1 - p), 1e-3) / trials) + 0.005
            c.require(abs(value - p) <= tol,
                      f"the estimate {value:.3f} is {abs(value - p):.3f} away from a 200,000-network estimate "
                      f"({p:.3f}); random error with {trials} trials explains at most about {tol:.3f}.",
                      inputs=inputs, expected=Text(f"about {p:.3f} (within {tol:.3f})"), returned=got,
                      hint="Draw new weights for every trial and every layer (depth hidden layers in all, the "
                           "first one of shape (d, width)). A network is born dead when some hidden layer "
                           "outputs zero for every input and every unit; one dead unit is not enough, and one "
                           "input is not enough.")


# -- Exercises 4.4 and 4.5 -------------------------------------------------------------
def _validate_settings(c: Check, settings, what: str) -> dict:
    return validate_settings(c, settings, what=what, allowed=BASELINE, choices=_CHOICES,
                             ranges={"lr": (0, math.inf), "input_offset": (-math.inf, math.inf),
                                     "bias": (-math.inf, math.inf)},
                             optional=("bias",), example="{'lr': 2.0}",
                             fixed="Epochs, batch size, seeds and layer sizes stay fixed.")


def _changed(settings: dict, reference: dict) -> dict:
    return {k: v for k, v in settings.items() if v != reference[k]}


_RUNS: dict[tuple, Any] = {}


def _train(settings: dict, seeds=(0, 1)):
    """Train the settings on each seed (one thread: fastest for these tiny models); results are cached."""
    from ..experiments import digits_run
    from ..training import torch_threads

    full = {**BASELINE, **settings}
    out = []
    for seed in seeds:
        key = (seed, tuple(sorted((k, repr(v)) for k, v in full.items())))
        if key not in _RUNS:
            with torch_threads(1):
                _RUNS[key] = digits_run(seed=seed, epochs=10, batch_size=64, **full)
        out.append(_RUNS[key])
    return out


def _outcome(runs) -> str:
    parts = []
    for seed, r in enumerate(runs):
        if r.diverged:      # NaN is neither on nor off: a dead count would mean nothing
            parts.append(f"seed {seed}: the loss diverged (NaN), so there is no dead count")
            continue
        dead = ", ".join(f"{name} {values[-1]:.0%}" for name, values in r.recorder.history.items())
        parts.append(f"seed {seed}: test accuracy {r.test_acc:.1%}, dead: {dead}")
    return Text("; ".join(parts))


def _healthy(runs, *, acc: float, dead: float) -> bool:
    return all(not r.diverged and r.test_acc >= acc and max(r.dead) <= dead for r in runs)


def check_kill_and_fix(kill, fix) -> None:
    """``kill()`` changes one setting of BASELINE and kills the network; ``fix()`` keeps it and changes one other."""
    with Check("Exercise 4.4 (kill it, then save it)") as c:
        killed = _validate_settings(c, c.call(kill, call="kill()"), "kill()")
        kill_changes = _changed(killed, BASELINE)
        c.require(len(kill_changes) == 1,
                  f"kill() must change exactly one setting of BASELINE; it changes {len(kill_changes)}.",
                  inputs={"BASELINE": BASELINE}, expected=Text("one changed setting"), returned=killed)
        runs = _train(killed)
        dying = all(max(r.dead) >= 0.5 and r.test_acc < 0.5 for r in runs)
        c.require(dying, "the network is not dead enough: every run needs a layer at least 50% dead and test "
                         "accuracy below 50%.",
                  inputs={"settings": killed}, expected=Text("a layer >= 50% dead, accuracy < 50%, seeds 0 and 1"),
                  returned=_outcome(runs),
                  hint="Pick one of the chapter's causes and make it strong enough.")
        fixed = _validate_settings(c, c.call(fix, call="fix()"), "fix()")
        key, value = next(iter(kill_changes.items()))
        c.require(key in fixed and fixed[key] == value,
                  f"fix() must keep the killing change {key}={value!r} and change something else.",
                  inputs={"kill()": killed}, expected=Text(f"a dict containing {key}={value!r}"), returned=fixed,
                  hint="The point is to repair the network without undoing the cause.")
        fix_changes = _changed({k: v for k, v in fixed.items() if k != key}, BASELINE)
        c.require(len(fix_changes) == 1,
                  f"fix() must change exactly one setting besides {key}; it changes {len(fix_changes)}.",
                  inputs={"kill()": killed}, expected=Text("one more changed setting"), returned=fixed)
        runs = _train(fixed)
        c.require(_healthy(runs, acc=0.85, dead=0.1),
                  "the fix does not save the network: every run needs test accuracy >= 85%, no layer more "
                  "than 10% dead, and no divergence.",
                  inputs={"settings": fixed}, expected=Text("accuracy >= 85%, every layer <= 10% dead"),
                  returned=_outcome(runs),
                  hint="Match the fix to the cause (see the chapter's table). If the learning rate is the "
                       "killer, the only reliable cure is a smaller learning rate, which undoes the kill: "
                       "choose a different kill.")


def _worst_pixel_mean(standardize: bool, offset: float) -> float:
    """The training-set mean of the pixel farthest from zero, for these input settings."""
    from ..data import digits

    means = digits(seed=0, standardize=standardize).X_train.astype(np.float64).mean(axis=0) + offset
    return float(means[np.argmax(np.abs(means))])


def check_repair(repaired_settings) -> None:
    """``repaired_settings()``: settings that turn the broken run (BROKEN) into a healthy one."""
    with Check("Exercise 4.5 (repair a broken run)") as c:
        settings = _validate_settings(c, c.call(repaired_settings, call="repaired_settings()"),
                                      "repaired_settings()")
        full = {**BROKEN, **settings}
        c.require(_changed(full, BROKEN) != {}, "the settings are the broken ones: nothing was changed.",
                  inputs={"BROKEN": BROKEN}, expected=Text("at least one change"), returned=settings)
        # The cause is in the data: the inputs that reach the network must be centred. Changes that only
        # make the network cope with off-centre inputs (batch normalization, Adam, another activation or
        # learning rate) treat the symptom. Checked on the inputs, not by training: robust on any CPU.
        worst_mean = _worst_pixel_mean(full["standardize"], full["input_offset"])
        coping = sorted(k for k in _changed(full, BROKEN) if k not in ("standardize", "input_offset"))
        c.require(abs(worst_mean) <= 0.5,
                  f"the inputs that reach the network are still not centred: one pixel's mean over the "
                  f"training set is {worst_mean:+.1f} (it should be within 0.5 of zero).",
                  inputs={"settings (on top of BROKEN)": settings},
                  expected=Text("every pixel's mean within 0.5 of 0"), returned=Text(f"{worst_mean:+.1f}"),
                  hint=(f"Your change of {', '.join(coping)} may help the network cope with such inputs, but "
                        "it treats the symptom. " if coping else "")
                       + "Find out with dead_units which layer dies first, then look at what it receives: "
                         "the inputs' mean and scale. Fix the cause rather than the symptom.")
        runs = _train(full)
        c.require(_healthy(runs, acc=0.9, dead=0.1),
                  "the repaired run is not healthy: it needs test accuracy >= 90% and no layer more than 10% "
                  "dead on seeds 0 and 1, without divergence.",
                  inputs={"settings (on top of BROKEN)": settings},
                  expected=Text("accuracy >= 90%, every layer <= 10% dead"), returned=_outcome(runs),
                  hint="Find out with dead_units which layer dies and when, then look at what that layer "
                       "receives: the inputs (their mean and scale). Fix the cause rather than the symptom.")
