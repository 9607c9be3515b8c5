"""Checkers of chapter 6: right answers written differently pass; plausible wrong ones fail clearly."""

import numpy as np
import pytest
import torch
from torch import nn

import answers_ch06 as ans
from helpers import assert_rejects_malformed, expect_fail, expect_pass
from relucourse.exercises import ch06
from relucourse.training import mlp


def const(value):
    return lambda *args: value


# -- 6.1 diagnosis ------------------------------------------------------------------------------
@pytest.mark.parametrize("cause, settings", [
    ("saturation", {"init": "xavier"}),
    ("Saturation.", {"init": "default"}),
    ("  SATURATION ", {"activation": "relu", "init": "he"}),
])
def test_diagnosis_right(cause, settings):
    expect_pass(ch06.check_diagnosis, const(cause), const(settings))


@pytest.mark.parametrize("cause, settings, fragment", [
    ("vanishing gradient", {"init": "xavier"}, "does not find"),
    ("bad luck", {"init": "xavier"}, "not one of"),
    ("saturation", {"lr": 0.01}, "still has findings"),              # the symptom, not the cause
    ("saturation", {"activation": "relu"}, "still has findings"),    # exploding instead
    ("saturation", {"standardize": False, "init": "xavier"}, "still has findings"),
    ("saturation", {}, "nothing was changed"),
    ("saturation", {"depth": 2}, "not a setting"),
    ("saturation", {"init": "xavier", "lr": 5.0}, "does not train well"),
])
def test_diagnosis_wrong(cause, settings, fragment):
    expect_fail(ch06.check_diagnosis, const(cause), const(settings), mentions=(fragment,))


def test_diagnosis_malformed():
    assert_rejects_malformed(lambda f: ch06.check_diagnosis(f, ans.repaired_settings))
    assert_rejects_malformed(lambda f: ch06.check_diagnosis(ans.cause, f))


def test_broken_script_is_broken():
    # what the exercise says: the broken network has saturated layers and trains poorly
    _, accs = ch06.run(ch06.BROKEN, seed=0)
    assert accs[-1] < 0.85


# -- 6.2 saturated fraction -----------------------------------------------------------------------
def test_saturated_fraction_right():
    expect_pass(ch06.check_saturated_fraction, ans.saturated_fraction)
    expect_pass(ch06.check_saturated_fraction, ans.saturated_fraction_numpy)


def absolute_margin(output, lower, upper, tolerance):
    out = torch.as_tensor(output).double()
    return ((out <= lower + tolerance) | (out >= upper - tolerance)).double().mean().item()


def upper_only(output, lower, upper, tolerance):
    out = torch.as_tensor(output).double()
    return (out >= upper - tolerance * (upper - lower)).double().mean().item()


def strict(output, lower, upper, tolerance):
    out = torch.as_tensor(output).double()
    m = tolerance * (upper - lower)
    return ((out < lower + m) | (out > upper - m)).double().mean().item()


def percent(output, lower, upper, tolerance):
    return 100 * ans.saturated_fraction(output, lower, upper, tolerance)


def per_unit(output, lower, upper, tolerance):
    out = torch.as_tensor(output).double()
    m = tolerance * (upper - lower)
    near = (out <= lower + m) | (out >= upper - m)
    return near.reshape(near.shape[0], -1).all(dim=0).double().mean().item()


@pytest.mark.parametrize("wrong", [absolute_margin, upper_only, strict, percent, per_unit])
def test_saturated_fraction_wrong(wrong):
    expect_fail(ch06.check_saturated_fraction, wrong)


def test_saturated_fraction_malformed():
    assert_rejects_malformed(ch06.check_saturated_fraction)


# -- 6.3 growth per layer -----------------------------------------------------------------------
@pytest.mark.parametrize("answer", [ans.growth_per_layer, ans.growth_per_layer_numpy])
def test_growth_right(answer):
    expect_pass(ch06.check_growth, answer)


@pytest.mark.parametrize("wrong", [
    lambda std, n: (n * std ** 2) ** 0.5,          # forgot ReLU's half
    lambda std, n: n * std ** 2 / 2,               # the second moment, not the RMS
    lambda std, n: std * n / 2,                    # no square root at all
    lambda std, n: (2 * n * std ** 2) ** 0.5,      # doubled instead of halved
])
def test_growth_wrong(wrong):
    expect_fail(ch06.check_growth, wrong)


def test_growth_malformed():
    assert_rejects_malformed(ch06.check_growth)


# -- 6.4 the claim ------------------------------------------------------------------------------
@pytest.mark.parametrize("measure", [ans.first_over_last, ans.first_over_last_report])
@pytest.mark.parametrize("said", ["half true", "Half-true", "HALF TRUE."])
def test_claim_right(measure, said):
    expect_pass(ch06.check_claim, measure, const(said))


def last_over_first(activation, init):
    return 1 / ans.first_over_last(activation, init)


def second_layer(activation, init):
    model = mlp([64] + [64] * 20 + [10], ans.ACTIVATIONS[activation], seed=0, init=init)
    nn.functional.cross_entropy(model(ans.X), ans.Y).backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return (linears[1].weight.grad.norm() / linears[-1].weight.grad.norm()).item()


def squared(activation, init):
    return ans.first_over_last(activation, init) ** 2


@pytest.mark.parametrize("measure, said", [
    (last_over_first, "half true"),
    (second_layer, "half true"),
    (squared, "half true"),
    (ans.first_over_last, "true"),
    (ans.first_over_last, "false"),
])
def test_claim_wrong(measure, said):
    expect_fail(ch06.check_claim, measure, const(said))


def test_claim_verdict_not_a_choice():
    expect_fail(ch06.check_claim, ans.first_over_last, const("mostly"), mentions=("not one of",))


def test_claim_malformed():
    assert_rejects_malformed(lambda f: ch06.check_claim(f, ans.verdict))
    assert_rejects_malformed(lambda f: ch06.check_claim(ans.first_over_last, f))


# -- 6.5 a deep network that trains ------------------------------------------------------------------
@pytest.mark.parametrize("answer", [ans.deep_model, ans.deep_residual_model])
def test_deep_model_right(answer):
    expect_pass(ch06.check_deep_model, answer)


def deep_sigmoid(seed):
    return mlp([64] + [64] * 10 + [10], nn.Sigmoid, seed=seed)


def deep_relu_default(seed):
    return mlp([64] + [64] * 10 + [10], nn.ReLU, seed=seed)


def deep_relu_normal(seed):
    model = mlp([64] + [64] * 10 + [10], nn.ReLU, seed=seed)
    for m in model:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight)
    return model


def shallow(seed):
    return mlp([64, 64, 10], nn.ReLU, seed=seed, init="he")


def wrong_output(seed):
    return mlp([64] + [64] * 10 + [64], nn.ReLU, seed=seed, init="he")


@pytest.mark.parametrize("answer, fragment", [
    (deep_sigmoid, "finds problems"),
    (deep_relu_default, "finds problems"),
    (deep_relu_normal, "finds problems"),
    (shallow, "activation layers"),
    (wrong_output, "shape (N, 10)"),
])
def test_deep_model_wrong(answer, fragment):
    expect_fail(ch06.check_deep_model, answer, mentions=(fragment,))


def test_deep_model_malformed():
    assert_rejects_malformed(ch06.check_deep_model)


def test_no_answers_in_the_package():
    names = set(dir(ch06))
    for answer in ("cause", "repaired_settings", "saturated_fraction", "first_over_last", "verdict",
                   "deep_model", "growth_per_layer"):
        assert answer not in names


# -- Issue 17: 6.2's tolerance admits float32 arithmetic, and its hints fit the evidence -------------
def _fraction_float32(output, lower, upper, tolerance):
    t = torch.as_tensor(np.asarray(output.detach() if hasattr(output, "detach") else output))
    margin = tolerance * (upper - lower)
    return ((t <= lower + margin) | (t >= upper - margin)).float().mean().item()


def _fraction_strict(output, lower, upper, tolerance):
    t = torch.as_tensor(np.asarray(output.detach() if hasattr(output, "detach") else output))
    margin = tolerance * (upper - lower)
    return ((t < lower + margin) | (t > upper - margin)).double().mean().item()


def _fraction_per_row(output, lower, upper, tolerance):
    t = torch.as_tensor(np.asarray(output.detach() if hasattr(output, "detach") else output))
    margin = tolerance * (upper - lower)
    return ((t <= lower + margin) | (t >= upper - margin)).double().sum().item() / t.shape[0]


def test_saturated_fraction_accepts_float32_arithmetic():
    expect_pass(ch06.check_saturated_fraction, _fraction_float32)


def test_saturated_fraction_hints_fit_the_evidence():
    expect_fail(ch06.check_saturated_fraction, _fraction_strict,
                mentions=("exactly as many as lie exactly at the margin", "<= and >="))
    expect_fail(ch06.check_saturated_fraction, _fraction_per_row,
                mentions=("is not a share of the", "every dimension together"))
