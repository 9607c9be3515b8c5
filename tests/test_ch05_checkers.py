"""Checkers of chapter 5: right answers written differently pass; plausible wrong ones fail clearly."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import erf
from torch import nn

import answers_ch05 as answers
from helpers import assert_rejects_malformed, expect_fail, expect_pass
from relucourse import activations as act
from relucourse.exercises import ch05


def _stable_sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# -- 5.1 LeakyReLU and ELU ---------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    answers.leaky_relu,
    lambda x, negative_slope=0.01: np.where(np.asarray(x) > 0, x, negative_slope * np.asarray(x)),
    lambda x, negative_slope=0.01: np.maximum(x, 0) + negative_slope * np.minimum(x, 0),
])
def test_leaky_relu_accepts(answer):
    expect_pass(ch05.check_leaky_relu, answer)


@pytest.mark.parametrize("answer", [
    lambda x, negative_slope=0.01: np.where(np.asarray(x) > 0, x, 0.01 * np.asarray(x)),       # slope ignored
    lambda x, negative_slope=0.2: np.where(np.asarray(x) > 0, x, negative_slope * np.asarray(x)),  # TF default
    lambda x, negative_slope=0.01: np.maximum(x, negative_slope),                               # max(x, slope)
    lambda x, negative_slope=0.01: np.where(np.asarray(x) > 0, x, np.float64(negative_slope) * x),  # upcasts
])
def test_leaky_relu_rejects(answer):
    expect_fail(ch05.check_leaky_relu, answer)


def test_leaky_relu_malformed():
    assert_rejects_malformed(ch05.check_leaky_relu)


def elu_naive_exp(x, alpha=1.0):
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1))    # exp - 1 instead of expm1


def elu_masked(x, alpha=1.0):
    x = np.asarray(x)
    out = x.copy()
    neg = x <= 0
    out[neg] = alpha * np.expm1(x[neg])
    return out


@pytest.mark.parametrize("answer", [answers.elu, elu_naive_exp, elu_masked])
def test_elu_accepts(answer):
    expect_pass(ch05.check_elu, answer)


@pytest.mark.parametrize("answer, values", [
    (lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, np.expm1(np.minimum(x, 0))), True),     # alpha ignored
    (lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, alpha * np.exp(np.minimum(x, 0))), True),  # no -1
    (lambda x, alpha=1.0: np.where(np.asarray(x) >= 0, x, alpha * np.expm1(x / alpha)), False),   # CELU, overflows
    (lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, alpha * np.expm1(x)), False),           # exp(1e4) overflows
    (lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, alpha * np.expm1(np.minimum(x, 0) / alpha)), True),  # CELU
])
def test_elu_rejects(answer, values):
    expect_fail(ch05.check_elu, answer, values=values)


def test_elu_malformed():
    assert_rejects_malformed(ch05.check_elu)


# -- 5.2 GELU -------------------------------------------------------------------------------------------
def gelu_torch(x, approximate="none"):
    return F.gelu(torch.as_tensor(np.asarray(x, dtype=np.float64)), approximate=approximate).numpy()


def gelu_math_erf(x, approximate="none"):
    x = np.asarray(x, dtype=np.float64)
    if approximate == "tanh":
        return x * _stable_sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    return x * np.vectorize(lambda t: 0.5 * math.erfc(-t / math.sqrt(2)))(x)


def gelu_torch_erf(x, approximate="none"):
    """PyTorch operations other than its GELU are allowed: torch.erf, torch.tanh."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float64))
    if approximate == "tanh":
        u = math.sqrt(2 / math.pi) * (t + 0.044715 * t**3)
        return (0.5 * t * (1 + torch.tanh(u))).numpy()
    return (0.5 * t * (1 + torch.erf(t / math.sqrt(2)))).numpy()


@pytest.mark.parametrize("answer", [answers.gelu, gelu_math_erf, gelu_torch_erf])
def test_gelu_accepts(answer):
    expect_pass(ch05.check_gelu, answer)


@pytest.mark.parametrize("answer", [
    lambda x, approximate="none": answers.gelu(x, "tanh"),                               # always the tanh form
    lambda x, approximate="none": np.asarray(x) * _stable_sigmoid(1.702 * np.asarray(x)),  # sigmoid approx.
    lambda x, approximate="none": 0.5 * x * (1 + erf(np.asarray(x) / 2)),               # x/2 instead of x/sqrt(2)
    lambda x, approximate="none": answers.gelu(x, "none"),                               # ignores "tanh"
    lambda x, approximate="none": x * (1 + erf(np.asarray(x) / math.sqrt(2))),           # forgot the 1/2
])
def test_gelu_rejects(answer):
    expect_fail(ch05.check_gelu, answer)


def test_gelu_malformed():
    assert_rejects_malformed(ch05.check_gelu)


# -- 5.3 SiLU and Mish ----------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    answers.silu,
    lambda x: np.asarray(x) * _stable_sigmoid(np.asarray(x)),
    lambda x: (lambda t: (t * torch.sigmoid(t)).numpy())(torch.from_numpy(np.asarray(x))),  # torch ops
    lambda x: np.asarray(x) * np.exp(-np.logaddexp(0, -np.asarray(x))),
])
def test_silu_accepts(answer):
    expect_pass(ch05.check_silu, answer)


@pytest.mark.parametrize("answer, values", [
    (lambda x: x / (1 + np.exp(-x)), False),                                              # overflow warning
    (lambda x: np.asarray(x) * _stable_sigmoid(-np.asarray(x)), True),                     # sign error
    (lambda x: np.asarray(x, dtype=np.float64) * _stable_sigmoid(np.asarray(x, dtype=np.float64)), True),  # upcast
    (lambda x: np.maximum(x, 0) * _stable_sigmoid(np.asarray(x)), True),                   # no negative part
    (lambda x: 0.5 * np.asarray(x) * _stable_sigmoid(np.asarray(x)), True),                # spurious factor
])
def test_silu_rejects(answer, values):
    expect_fail(ch05.check_silu, answer, values=values)


def test_silu_malformed():
    assert_rejects_malformed(ch05.check_silu)


@pytest.mark.parametrize("answer", [
    answers.mish,
    lambda x: np.asarray(x) * np.tanh(np.logaddexp(0, np.asarray(x))),
    lambda x: np.asarray(x) * np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))),
])
def test_mish_accepts(answer):
    expect_pass(ch05.check_mish, answer)


@pytest.mark.parametrize("answer, values", [
    (lambda x: x * np.tanh(np.log1p(np.exp(x))), False),                                  # overflow warning
    (lambda x: np.asarray(x) * np.tanh(np.asarray(x)), True),                              # tanh(x), not of softplus
    (lambda x: np.asarray(x) * np.tanh(np.log1p(np.exp(-np.abs(x)))), True),               # softplus without max
    (lambda x: np.asarray(x) * _stable_sigmoid(np.asarray(x)), True),                      # that is SiLU
])
def test_mish_rejects(answer, values):
    expect_fail(ch05.check_mish, answer, values=values)


def test_mish_malformed():
    assert_rejects_malformed(ch05.check_mish)


# -- 5.4 Swish derivative ------------------------------------------------------------------------------
def swish_grad_autograd(x, beta):
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    (xt * torch.sigmoid(beta * xt)).sum().backward()
    return xt.grad.numpy()


@pytest.mark.parametrize("answer", [
    answers.swish_grad,
    swish_grad_autograd,
    lambda x, beta: _stable_sigmoid(beta * x) * (1 + beta * x * (1 - _stable_sigmoid(beta * x))),
])
def test_swish_grad_accepts(answer):
    expect_pass(ch05.check_swish_grad, answer)


@pytest.mark.parametrize("answer", [
    lambda x, beta: answers.swish_grad(x, 1.0),                                         # ignores beta
    lambda x, beta: _stable_sigmoid(beta * x) * (1 + x * (1 - _stable_sigmoid(beta * x))),  # chain rule: no beta
    lambda x, beta: _stable_sigmoid(beta * x),                                          # gate only
    lambda x, beta: _stable_sigmoid(beta * x) + beta * x * _stable_sigmoid(beta * x) * (1 + _stable_sigmoid(beta * x)),
])
def test_swish_grad_rejects(answer):
    expect_fail(ch05.check_swish_grad, answer)


def test_swish_grad_malformed():
    assert_rejects_malformed(ch05.check_swish_grad)


# -- 5.5 Softplus ----------------------------------------------------------------------------------------
def softplus_torch(x, beta=1.0, threshold=20.0):
    return F.softplus(torch.from_numpy(np.asarray(x)), beta=beta, threshold=threshold).numpy()


def softplus_logaddexp(x, beta=1.0, threshold=20.0):
    x = np.asarray(x)
    z = beta * x
    return np.where(z > threshold, x, np.logaddexp(0, z) / beta)


@pytest.mark.parametrize("answer", [answers.softplus, softplus_logaddexp])
def test_softplus_accepts(answer):
    expect_pass(ch05.check_softplus, answer)


@pytest.mark.parametrize("answer, values", [
    (lambda x, beta=1.0, threshold=20.0: np.logaddexp(0, beta * np.asarray(x)) / beta, True),        # no threshold
    (lambda x, beta=1.0, threshold=20.0: np.where(np.asarray(x) > threshold, x,
                                                   np.logaddexp(0, beta * np.asarray(x)) / beta), True),  # x > t
    (lambda x, beta=1.0, threshold=20.0: np.where(beta * np.asarray(x) > threshold, x,
                                                   np.logaddexp(0, beta * np.asarray(x))), True),     # no / beta
    (lambda x, beta=1.0, threshold=20.0: np.where(beta * np.asarray(x) > threshold, x,
                                                   np.log1p(np.exp(beta * np.asarray(x))) / beta), False),  # overflow
    (lambda x, beta=1.0, threshold=20.0: softplus_logaddexp(np.asarray(x, dtype=np.float64), beta, threshold), True),
])
def test_softplus_rejects(answer, values):
    expect_fail(ch05.check_softplus, answer, values=values)


def test_softplus_malformed():
    assert_rejects_malformed(ch05.check_softplus)


# -- 5.6 SELU simulation ---------------------------------------------------------------------------------
def make_simulate(activation=torch.selu, std=lambda n: 1 / math.sqrt(n), uniform=False, stat="var"):
    def simulate(x, depth, seed):
        gen = torch.Generator().manual_seed(seed)
        h = torch.from_numpy(np.asarray(x, dtype=np.float64))
        width = h.shape[1]
        rows = []
        for _ in range(depth):
            if uniform:
                bound = 1 / math.sqrt(width)
                W = (torch.rand(width, width, generator=gen, dtype=torch.float64) * 2 - 1) * bound
            else:
                W = torch.randn(width, width, generator=gen, dtype=torch.float64) * std(width)
            h = activation(h @ W.T)
            rows.append([h.mean().item(), h.var().item() if stat == "var" else h.std().item()])
        return rows                                                          # a list of lists
    return simulate


def simulate_numpy(x, depth, seed):
    rng = np.random.default_rng(seed + 100)
    h = np.asarray(x)
    stats = np.empty((depth, 2))
    for i in range(depth):
        W = rng.standard_normal((h.shape[1], h.shape[1])) / np.sqrt(h.shape[1])
        h = act.selu(h @ W.T)
        stats[i] = h.mean(), h.var(ddof=0)
    return stats


@pytest.mark.parametrize("answer", [answers.simulate, make_simulate(), simulate_numpy])
def test_selu_simulation_accepts(answer):
    expect_pass(ch05.check_selu_simulation, answer)


@pytest.mark.parametrize("answer", [
    make_simulate(std=lambda n: math.sqrt(2 / n)),                 # He initialisation: variance grows
    make_simulate(uniform=True),                                   # nn.Linear's default: variance shrinks
    make_simulate(activation=torch.relu),                          # ReLU: no fixed point at (0, 1)
    make_simulate(activation=F.elu),                               # ELU without SELU's scale
    make_simulate(stat="std"),                                     # standard deviation, not variance
    lambda x, depth, seed: np.tile([0.0, 1.0], (depth, 1)),        # the answer hard-coded
])
def test_selu_simulation_rejects(answer):
    expect_fail(ch05.check_selu_simulation, answer)


def test_selu_simulation_malformed():
    assert_rejects_malformed(ch05.check_selu_simulation)
    expect_fail(ch05.check_selu_simulation, lambda x, depth, seed: np.zeros((depth, 3)), mentions=("shape",))


# -- 5.7 SwiGLU ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    answers.matched_hidden,
    lambda d_model, d_ff: int(math.floor(2 * d_model * d_ff / (3 * d_model))),
    lambda d_model, d_ff: int(np.int64(2 * d_ff) // 3),
])
def test_matched_hidden_accepts(answer):
    expect_pass(ch05.check_matched_hidden, answer)


@pytest.mark.parametrize("answer", [
    lambda d_model, d_ff: d_ff,                                    # not reduced
    lambda d_model, d_ff: round(2 * d_ff / 3),                     # rounds up past the budget
    lambda d_model, d_ff: d_ff // 2,                               # halved
    lambda d_model, d_ff: int(0.66 * d_ff),                        # 2/3 approximated
])
def test_matched_hidden_rejects(answer):
    expect_fail(ch05.check_matched_hidden, answer)


def test_matched_hidden_malformed():
    assert_rejects_malformed(ch05.check_matched_hidden)
    expect_fail(ch05.check_matched_hidden, lambda d_model, d_ff: 2 * d_ff / 3, mentions=("int",))


def make_block(gate=F.silu, swap=False, bias=False, out=True):
    class Block(nn.Module):
        def __init__(self, d_model, d_hidden):
            super().__init__()
            self.w_gate = nn.Linear(d_model, d_hidden, bias=bias)
            self.w_value = nn.Linear(d_model, d_hidden, bias=bias)
            self.w_out = nn.Linear(d_hidden, d_model, bias=False)

        def forward(self, x):
            a, b = self.w_gate(x), self.w_value(x)
            if swap:
                a, b = b, a
            h = gate(a) * b
            return self.w_out(h) if out else h
    return Block


class SwiGLUWithModules(nn.Module):
    def __init__(self, d_model, d_hidden):
        super().__init__()
        self.w_gate = nn.Linear(d_model, d_hidden, bias=False)
        self.w_value = nn.Linear(d_model, d_hidden, bias=False)
        self.w_out = nn.Linear(d_hidden, d_model, bias=False)
        self.act = nn.SiLU()

    def forward(self, x):
        g = self.w_gate(x)
        return self.w_out(g * torch.sigmoid(g) * self.w_value(x))


@pytest.mark.parametrize("answer", [answers.SwiGLU, make_block(), SwiGLUWithModules])
def test_swiglu_accepts(answer):
    expect_pass(ch05.check_swiglu, answer)


@pytest.mark.parametrize("answer, values", [
    (make_block(swap=True), True),                  # SiLU on the value path
    (make_block(gate=torch.sigmoid), True),         # GLU, not SwiGLU
    (make_block(gate=F.relu), True),                # ReGLU
    (make_block(bias=True), True),                  # biases
    (make_block(out=False), True),                  # forgot w_out: wrong output shape
])
def test_swiglu_rejects(answer, values):
    expect_fail(ch05.check_swiglu, answer, values=values)


def test_swiglu_malformed():
    assert_rejects_malformed(ch05.check_swiglu)
    expect_fail(ch05.check_swiglu, lambda d_model, d_hidden: nn.Linear(d_model, d_model), mentions=("w_gate",))


# -- regression cases from the review ---------------------------------------------------------------------
# Correct answers that an over-strict tolerance or check once rejected, and plausible wrong answers
# found while probing the checkers.
@pytest.mark.parametrize("answer", [
    lambda x: np.asarray(x) * (0.5 * (1 + np.tanh(np.asarray(x) / 2))),     # sigmoid via tanh (tail 0)
    lambda x: x / (1 + np.exp(-np.clip(x, -80, 80))),                       # clipped before exp
])
def test_silu_accepts_tail_inexact_forms(answer):
    expect_pass(ch05.check_silu, answer)


@pytest.mark.parametrize("answer, values", [
    (lambda x: np.where(np.asarray(x) < -5, 0, np.asarray(x) * _stable_sigmoid(np.asarray(x))), True),
    (lambda x: x / (1 + np.exp(-np.clip(x, -500, 500))), False),            # exp(500) overflows in float32
])
def test_silu_rejects_cut_tail_and_float32_overflow(answer, values):
    expect_fail(ch05.check_silu, answer, values=values)


def test_mish_accepts_clipped_softplus():
    expect_pass(ch05.check_mish, lambda x: x * np.tanh(np.log1p(np.exp(np.clip(x, -80, 20)))))


def test_mish_rejects_cut_tail():
    expect_fail(ch05.check_mish, lambda x: np.where(np.asarray(x) < -3, 0, np.asarray(x) * np.tanh(
        np.logaddexp(0, np.asarray(x)))))


def test_leaky_relu_rejects_maximum_form_for_slopes_above_one():
    """max(x, slope * x) is LeakyReLU only for slopes up to 1 (x = -1, slope 2: -1 instead of -2)."""
    msg = expect_fail(ch05.check_leaky_relu, lambda x, negative_slope=0.01: np.maximum(x, negative_slope * x),
                      mentions=("negative_slope = 2", "only for slopes up to 1", "sign of x"))
    assert "expected -4, got -2" in msg, msg


def test_leaky_relu_rejects_abs_of_a_negative_slope():
    expect_fail(ch05.check_leaky_relu,
                lambda x, negative_slope=0.01: np.where(np.asarray(x) > 0, x, abs(negative_slope) * np.asarray(x)),
                mentions=("negative_slope = -0.5", "A negative slope is allowed"))


def test_leaky_relu_rejects_a_slope_clipped_to_one():
    expect_fail(ch05.check_leaky_relu,
                lambda x, negative_slope=0.01: np.where(np.asarray(x) > 0, x,
                                                        min(negative_slope, 1.0) * np.asarray(x)),
                mentions=("negative_slope = 2",))


@pytest.mark.parametrize("checker, handed_over, call", [
    (ch05.check_leaky_relu, act.leaky_relu, "leaky_relu(x)"),
    (ch05.check_leaky_relu, F.leaky_relu, "leaky_relu(x)"),
    (ch05.check_elu, act.elu, "elu(x)"),
    (ch05.check_elu, F.elu, "elu(x)"),
    (ch05.check_gelu, act.gelu, "gelu(x)"),
    (ch05.check_silu, act.silu, "silu(x)"),
    (ch05.check_mish, act.mish, "mish(x)"),
    (ch05.check_swish_grad, act.swish_grad, "swish_grad(x, beta)"),
    (ch05.check_softplus, act.softplus, "softplus(x)"),
    (ch05.check_softplus, F.softplus, "softplus(x)"),
])
def test_library_function_handed_over_is_rejected(checker, handed_over, call):
    """The course's reference implementations (shown in chapter 5) and PyTorch's are not answers."""
    expect_fail(checker, handed_over, values=False, mentions=(call, "passed as it is", "write it yourself"))


# -- Issue 17: wrappers, inputs changed in place, the type returned ----------------------------------
# Each was accepted before: a one-line wrapper around the course's reference code or PyTorch's
# own version of the function to write (gelu_torch and softplus_torch above were listed as
# right answers then), an answer that edits its input, a tensor where a NumPy array is asked.
def _elu_wrapper(x, alpha=1.0):
    return act.elu(x, alpha)


@pytest.mark.parametrize("checker, wrapper, named", [
    (ch05.check_leaky_relu, lambda x, negative_slope=0.01: act.leaky_relu(x, negative_slope),
     "relucourse.activations.leaky_relu"),
    (ch05.check_elu, _elu_wrapper, "relucourse.activations.elu"),
    (ch05.check_gelu, lambda x, approximate="none": act.gelu(x, approximate), "relucourse.activations.gelu"),
    (ch05.check_silu, lambda x: act.silu(x), "relucourse.activations.silu"),
    (ch05.check_mish, lambda x: act.mish(x), "relucourse.activations.mish"),
    (ch05.check_swish_grad, lambda x, beta: act.swish_grad(x, beta), "relucourse.activations.swish_grad"),
    (ch05.check_softplus, lambda x, beta=1.0, threshold=20.0: act.softplus(x, beta, threshold),
     "relucourse.activations.softplus"),
    (ch05.check_leaky_relu,
     lambda x, negative_slope=0.01: F.leaky_relu(torch.from_numpy(np.asarray(x)), negative_slope).numpy(),
     "torch.nn.functional.leaky_relu"),
    (ch05.check_elu, lambda x, alpha=1.0: F.elu(torch.from_numpy(np.asarray(x)), alpha).numpy(),
     "torch.nn.functional.elu"),
    (ch05.check_gelu, gelu_torch, "torch._C._nn.gelu"),
    (ch05.check_silu, lambda x: F.silu(torch.from_numpy(np.asarray(x))).numpy(), "torch.nn.functional.silu"),
    (ch05.check_mish, lambda x: F.mish(torch.from_numpy(np.asarray(x))).numpy(), "torch.nn.functional.mish"),
    (ch05.check_mish, lambda x: nn.Mish()(torch.from_numpy(np.asarray(x))).numpy(),
     "torch.nn.modules.activation.Mish"),
    (ch05.check_softplus, softplus_torch, "torch._C._nn.softplus"),
])
def test_wrappers_of_the_course_or_pytorch_are_rejected(checker, wrapper, named):
    expect_fail(checker, wrapper, values=False, mentions=(f"calls {named}", "Write the computation yourself"))


def _leaky_relu_in_place(x, negative_slope=0.01):
    x[x < 0] *= negative_slope                    # right values, but the caller's x is changed
    return x


def _elu_in_place(x, alpha=1.0):
    np.multiply(alpha, np.expm1(np.minimum(x, 0)), out=x, where=x <= 0)
    return x


@pytest.mark.parametrize("checker, answer", [(ch05.check_leaky_relu, _leaky_relu_in_place),
                                             (ch05.check_elu, _elu_in_place)])
def test_answers_that_change_their_input_are_rejected(checker, answer):
    expect_fail(checker, answer, mentions=("changed its input x in place", "x before the call"))


@pytest.mark.parametrize("checker, answer", [
    (ch05.check_leaky_relu, lambda x, negative_slope=0.01: torch.from_numpy(answers.leaky_relu(x, negative_slope))),
    (ch05.check_gelu, lambda x, approximate="none": torch.from_numpy(answers.gelu(x, approximate))),
    (ch05.check_silu, lambda x: torch.from_numpy(np.asarray(answers.silu(x)))),
])
def test_a_tensor_is_not_a_numpy_array(checker, answer):
    expect_fail(checker, answer, mentions=("should be a NumPy array (numpy.ndarray), but it is a torch.Tensor",))


def test_matched_hidden_wants_a_python_int():
    expect_fail(ch05.check_matched_hidden, lambda d, f: np.int64(2 * f // 3),
                mentions=("should return an int (a Python int: a layer size), but it returned a numpy.int64",))


def test_no_module_level_helper_returns_an_answer():
    """Issue 12: the checkers' reference helpers live inside the checkers, not at module level."""
    public_or_private = [name for name in vars(ch05) if callable(getattr(ch05, name))
                         and getattr(getattr(ch05, name), "__module__", "") == ch05.__name__
                         and not name.startswith("check_")]
    assert set(public_or_private) <= {"_inputs", "_compare_elementwise", "_leaky_hint",
                                     "_check_x_times_gate"}, public_or_private


@pytest.mark.parametrize("answer", [
    lambda x, beta=1.0, threshold=20.0: np.where(np.asarray(x) > threshold / beta, x,
                                                  np.logaddexp(0, beta * np.asarray(x)) / beta),
    lambda x, beta=1.0, threshold=20.0: np.where(
        beta * np.asarray(x) > threshold, x,
        np.log1p(np.exp(np.minimum(beta * np.asarray(x), threshold))) / beta),  # clamp before exp
])
def test_softplus_accepts_other_forms(answer):
    expect_pass(ch05.check_softplus, answer)


def test_softplus_rejects_greater_or_equal():
    expect_fail(ch05.check_softplus, lambda x, beta=1.0, threshold=20.0: np.where(
        beta * np.asarray(x) >= threshold, x, np.logaddexp(0, beta * np.asarray(x)) / beta))


def _lecun_uniform_simulate(x, depth, seed):
    rng = np.random.default_rng(seed)
    h = np.asarray(x, dtype=np.float32)                       # float32 throughout
    bound = math.sqrt(3 / h.shape[1])                         # uniform with variance 1/width
    stats = []
    for _ in range(depth):
        h = act.selu(h @ rng.uniform(-bound, bound, (h.shape[1], h.shape[1])).astype(np.float32).T)
        stats.append((h.mean(), h.var()))
    return stats


def _kaiming_selu_gain_simulate(x, depth, seed):
    torch.manual_seed(seed)
    h = torch.tensor(x, dtype=torch.float32)
    stats = []
    for _ in range(depth):
        layer = nn.Linear(h.shape[1], h.shape[1], bias=False)
        nn.init.kaiming_normal_(layer.weight, nonlinearity="selu")   # gain 3/4: not LeCun normal
        with torch.no_grad():
            h = F.selu(layer(h))
        stats.append([h.mean().item(), h.var().item()])
    return stats


def test_selu_simulation_accepts_lecun_uniform_in_float32():
    expect_pass(ch05.check_selu_simulation, _lecun_uniform_simulate)


def test_selu_simulation_rejects_kaiming_selu_gain():
    expect_fail(ch05.check_selu_simulation, _kaiming_selu_gain_simulate)


def test_matched_hidden_accepts_float_division_then_int():
    expect_pass(ch05.check_matched_hidden, lambda d_model, d_ff: int(2 * d_ff / 3))


@pytest.mark.parametrize("answer", [
    lambda d_model, d_ff: math.ceil(2 * d_ff / 3),                 # over the budget
    lambda d_model, d_ff: d_ff // 3 * 2,                           # rounds down too early
])
def test_matched_hidden_rejects_rounding_errors(answer):
    expect_fail(ch05.check_matched_hidden, answer)


def _block_with(forward):
    class Block(nn.Module):
        def __init__(self, d_model, d_hidden):
            super().__init__()
            self.w_gate = nn.Linear(d_model, d_hidden, bias=False)
            self.w_value = nn.Linear(d_model, d_hidden, bias=False)
            self.w_out = nn.Linear(d_hidden, d_model, bias=False)

        def forward(self, x):
            return forward(self, x)
    return Block


@pytest.mark.parametrize("answer", [
    _block_with(lambda s, x: s.w_out(F.silu(s.w_gate(x) * s.w_value(x)))),     # SiLU of the product
    _block_with(lambda s, x: s.w_out(F.gelu(s.w_gate(x)) * s.w_value(x))),     # GEGLU
    _block_with(lambda s, x: s.w_out(F.silu(s.w_gate(x)) + s.w_value(x))),     # sum, not product
])
def test_swiglu_rejects_other_gatings(answer):
    expect_fail(ch05.check_swiglu, answer)


def test_swiglu_accepts_explicit_matrix_products():
    expect_pass(ch05.check_swiglu, _block_with(
        lambda s, x: (F.silu(x @ s.w_gate.weight.T) * (x @ s.w_value.weight.T)) @ s.w_out.weight.T))


def _softplus_switch_at_equality(x, beta=1.0, threshold=20.0):
    x = np.asarray(x)
    z = beta * x
    smooth = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
    return np.where(z >= threshold, x, smooth).astype(x.dtype)      # >= instead of >


def test_softplus_at_the_threshold_names_the_input_and_enough_digits():
    """Issue 17: the message said "expected 20, got 20"."""
    msg = expect_fail(ch05.check_softplus, _softplus_switch_at_equality,
                      mentions=("beta * x equals the threshold exactly", "x = 20.0",
                                "PyTorch returns 20.000000002, your function 20", "Use >, not >="))
    assert "expected 20, got 20" not in msg
