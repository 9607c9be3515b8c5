"""Checkers for the exercises of chapter 5 (ReLU's variants).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value. The references are the
course's own implementations (:mod:`relucourse.activations`, tested against
PyTorch) or PyTorch itself. Those implementations are shown in chapter 5, so a
checker for an exercise that asks to implement one of them rejects it when it
is handed over as it is (:meth:`Check.own_code`); helpers that compute an
expected result live inside the checker that needs them, so that nothing
importable from this module returns an exercise's answer.
"""

from __future__ import annotations

import math

import numpy as np

from .. import activations as act
from ..checking import COURSE_CODE, Check, Text, format_float, format_pair, library_versions

#: Exercises 5.1 to 5.5 ask to write a function that the course and PyTorch already have:
#: the answer may call neither the course's reference code nor PyTorch's version of that
#: function (other PyTorch operations, such as torch.erf or autograd, are allowed).
_FORBID = {name: {**COURSE_CODE, **library_versions(name, module_class),
                  **library_versions(name + "_", module_class)}
           for name, module_class in [("leaky_relu", "LeakyReLU"), ("elu", "ELU"), ("gelu", "GELU"),
                                      ("silu", "SiLU"), ("mish", "Mish"), ("softplus", "Softplus")]}

#: What "a NumPy array" admits: an ndarray, or the NumPy scalar that NumPy's own functions
#: return for a 0-d input.
NUMPY_ARRAY = (np.ndarray, np.generic)
_TYPE_HINT = ("Compute with NumPy on the array you are given and return a NumPy array; a torch "
              "tensor (or a list) is not what the exercise asks for.")

__all__ = ["check_leaky_relu", "check_elu", "check_gelu", "check_silu", "check_mish", "check_swish_grad",
           "check_softplus", "check_selu_simulation", "check_matched_hidden", "check_swiglu"]

_EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 2.5, -2.5, 3.0, -3.0,
          10.0, -10.0, 20.0, -20.0, 50.0, -50.0, 88.0, -88.0, 89.0, -89.0, 100.0, -100.0, 700.0, -700.0,
          710.0, -710.0, 1e3, -1e3, 1e4, -1e4]


def _inputs(edges=_EDGES, first=None):
    """(label, array) pairs: the edge values in both dtypes, a 2-D array and a 0-d array.

    ``first``, when given, is a short float64 vector tried before the others, so that a
    failure is reported on an input small enough to read.
    """
    if first is not None:
        yield "short float64 vector", np.array(first, dtype=np.float64)
    base = np.array(edges)
    yield "float64 vector", base
    yield "float32 vector", base.astype(np.float32)
    yield "float32 2-D array", np.linspace(-12, 12, 24, dtype=np.float32).reshape(4, 6)
    yield "float64 0-d array", np.array(-1.5)


def _compare_elementwise(c: Check, student, reference, *, kwargs_list, call: str, rtol64: float,
                         atol64: float, rtol32: float, atol32: float, check_dtype: bool, hint: str,
                         edges=_EDGES, first=None) -> None:
    for kwargs in kwargs_list:
        args_text = "".join(f", {k}={v!r}" for k, v in kwargs.items())
        for label, x in _inputs(edges, first):
            inputs = {f"x ({label})": x, **kwargs}
            out = c.call(student, x.copy(), **kwargs, call=f"{call}(x{args_text})", inputs=inputs)
            c.kind(out, NUMPY_ARRAY, asked="a NumPy array (numpy.ndarray)", what="the result",
                   inputs=inputs, hint=_TYPE_HINT)
            expected = reference(x.astype(np.float64), **kwargs).astype(x.dtype)
            r, a = (rtol32, atol32) if x.dtype == np.float32 else (rtol64, atol64)
            c.close(out, expected, inputs=inputs, rtol=r, atol=a, check_dtype=check_dtype,
                    what="the result", hint=hint)


# -- Exercise 5.1 -----------------------------------------------------------------------------------
#: Slopes the LeakyReLU check tries: PyTorch's default, TensorFlow's and Keras's, 0 (ReLU), 1 (the
#: identity), a slope above 1 (where max(x, slope * x) picks the wrong branch) and a negative one
#: (which PyTorch accepts too).
_LEAKY_SLOPES = [None, 0.2, 0.3, 0.0, 1.0, 2.0, 5.0, -0.5]


def _leaky_hint(slope) -> str:
    if slope is not None and slope > 1:
        return (f"With negative_slope = {slope:g}, x < 0 must give {slope:g} * x, which is *smaller* than x: "
                "max(x, negative_slope * x) then picks x (and for x > 0 it picks the larger "
                f"{slope:g} * x). That trick is right only for slopes up to 1; choose the branch by the "
                "sign of x instead, e.g. np.where(x > 0, x, negative_slope * x).")
    if slope is not None and slope < 0:
        return ("A negative slope is allowed (PyTorch accepts it): x < 0 gives negative_slope * x, which is "
                "positive. Use the slope as given, without abs() or clipping, and choose the branch by the "
                "sign of x.")
    return ("x where x > 0, negative_slope * x elsewhere; use the negative_slope argument (default 0.01, "
            "as in PyTorch) and keep the input's dtype.")


def check_leaky_relu(leaky_relu) -> None:
    """``leaky_relu(x, negative_slope=0.01)``: PyTorch's default slope, any real slope, dtype kept."""
    with Check("Exercise 5.1a (LeakyReLU)", forbid=_FORBID["leaky_relu"]) as c:
        c.own_code(leaky_relu, call="leaky_relu(x)")
        for slope in _LEAKY_SLOPES:
            kwargs = {} if slope is None else {"negative_slope": slope}
            _compare_elementwise(
                c, leaky_relu, act.leaky_relu, kwargs_list=[kwargs], call="leaky_relu", rtol64=1e-12,
                atol64=0.0, rtol32=1e-6, atol32=0.0, check_dtype=True, hint=_leaky_hint(slope),
                first=[-2.0, -1.0, -0.0, 0.0, 1.0, 2.0])


def check_elu(elu) -> None:
    """``elu(x, alpha=1.0)``: alpha honoured, no overflow warning for large x, dtype kept."""
    with Check("Exercise 5.1b (ELU)", forbid=_FORBID["elu"]) as c:
        c.own_code(elu, call="elu(x)")
        _compare_elementwise(
            c, elu, act.elu, kwargs_list=[{}, {"alpha": 2.0}, {"alpha": 0.5}, {"alpha": 0.0}],
            call="elu", rtol64=1e-9, atol64=1e-15, rtol32=1e-6, atol32=1e-7, check_dtype=True,
            hint="x for x > 0 and alpha * (e^x - 1) for x <= 0, with the alpha you are given. np.where "
                 "evaluates both branches everywhere, so compute the exponential of min(x, 0) to avoid "
                 "overflow; np.expm1 is accurate near 0.")


# -- Exercise 5.2 -----------------------------------------------------------------------------------
def check_gelu(gelu) -> None:
    """``gelu(x, approximate="none")``: the exact form by default, the tanh form on request."""
    edges = [e for e in _EDGES if abs(e) <= 100]
    with Check("Exercise 5.2 (GELU, exact and tanh forms)", forbid=_FORBID["gelu"]) as c:
        c.own_code(gelu, call="gelu(x)")
        for approximate, kwargs in [("none", {}), ("none", {"approximate": "none"}),
                                    ("tanh", {"approximate": "tanh"})]:
            _compare_elementwise(
                c, gelu, lambda x, **_: act.gelu(x, approximate), kwargs_list=[kwargs], call="gelu",
                rtol64=1e-7, atol64=1e-12, rtol32=1e-5, atol32=1e-6, check_dtype=False, edges=edges,
                hint="Exact: 0.5 x (1 + erf(x / sqrt(2))) (scipy.special.erf, or math.erf element by element). "
                     "Tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). The default is the exact form.")


# -- Exercise 5.3 -----------------------------------------------------------------------------------
# SiLU and Mish: the absolute tolerance (1e-13 in float64, 1e-6 in float32, far below the
# functions' scale of 1) accepts correct formulas that lose relative accuracy in the far
# negative tail, where the value is tiny: x * (1 + tanh(x/2)) / 2, or an input clipped to
# +-500 before exp. The wrong answers differ by 0.01 or more somewhere.
def _check_x_times_gate(answer, exercise: str, name: str, hint: str) -> None:
    """Exercises 5.3a and 5.3b: ``name(x)`` against :mod:`relucourse.activations`' own, with
    no overflow warning for |x| up to 1e4 and the input's dtype kept."""
    with Check(exercise, forbid=_FORBID[name]) as c:
        c.own_code(answer, call=f"{name}(x)")
        _compare_elementwise(
            c, answer, lambda x: getattr(act, name)(x), kwargs_list=[{}], call=name, rtol64=1e-10,
            atol64=1e-13, rtol32=1e-5, atol32=1e-6, check_dtype=True, hint=hint)


def check_silu(silu) -> None:
    """``silu(x)`` = x sigmoid(x), without overflow warnings for |x| up to 1e4, dtype kept."""
    _check_x_times_gate(
        silu, "Exercise 5.3a (SiLU)", "silu",
        hint="x * sigmoid(x), with a sigmoid that only exponentiates non-positive numbers (exp(-|x|)); "
             "x / (1 + exp(-x)) overflows for large negative x. Keep the input's dtype.")


def check_mish(mish) -> None:
    """``mish(x)`` = x tanh(softplus(x)), without overflow warnings, dtype kept."""
    _check_x_times_gate(
        mish, "Exercise 5.3b (Mish)", "mish",
        hint="softplus(x) = log(1 + e^x) overflows for large x when written that way; "
             "max(x, 0) + log1p(exp(-|x|)) or np.logaddexp(0, x) do not. Mish is x * tanh(softplus(x)).")


# -- Exercise 5.4 -----------------------------------------------------------------------------------
def check_swish_grad(swish_grad) -> None:
    """``swish_grad(x, beta)``: d/dx [x sigmoid(beta x)], compared with PyTorch's autograd."""
    import torch

    x = np.concatenate([np.linspace(-8, 8, 33), [0.0, -30.0, 30.0, 1e-6, -1e-6]])
    with Check("Exercise 5.4 (the derivative of Swish)", forbid=COURSE_CODE) as c:
        c.own_code(swish_grad, call="swish_grad(x, beta)",
                   hint="Derive the formula by hand and write it out; the check compares it with autograd.")
        for beta in (1.0, 0.0, 0.5, 1.702, 10.0):
            xt = torch.tensor(x, requires_grad=True)
            (xt * torch.sigmoid(beta * xt)).sum().backward()
            expected = xt.grad.numpy()
            inputs = {"x": x, "beta": beta}
            out = c.call(swish_grad, x.copy(), beta, call=f"swish_grad(x, beta={beta})", inputs=inputs)
            c.kind(out, NUMPY_ARRAY, asked="a NumPy array (numpy.ndarray)", what="your derivative",
                   inputs=inputs, hint=_TYPE_HINT)
            c.close(out, expected, inputs=inputs, rtol=1e-7, atol=1e-10, what="your derivative",
                    hint="Product rule and chain rule: d/dx [x s(beta x)] = s(beta x) + x * beta * s'(beta x), "
                         "with s' = s (1 - s). Check beta = 0 (the derivative of x/2) and large beta (close to "
                         "ReLU's step).")


# -- Exercise 5.5 -----------------------------------------------------------------------------------
def check_softplus(softplus) -> None:
    """``softplus(x, beta=1.0, threshold=20.0)`` matching ``F.softplus``, threshold included."""
    import torch
    import torch.nn.functional as F

    def expected_softplus(x, beta=1.0, threshold=20.0):          # PyTorch's own, as the reference
        return F.softplus(torch.from_numpy(x), beta=beta, threshold=threshold).numpy()

    edges = _EDGES + [5.0, 5.5, 6.0, 2.9, 3.1, 12.0, -12.0]
    with Check("Exercise 5.5 (Softplus with beta and threshold)", forbid=_FORBID["softplus"]) as c:
        c.own_code(softplus, call="softplus(x)")
        for kwargs in [{}, {"beta": 2.0}, {"beta": 1.0, "threshold": 5.0}, {"beta": 2.0, "threshold": 5.0},
                       {"beta": 0.5, "threshold": 3.0}]:
            args_text = "".join(f", {k}={v!r}" for k, v in kwargs.items())
            for label, x in _inputs(edges):
                inputs = {f"x ({label})": x, **kwargs}
                out = c.call(softplus, x.copy(), **kwargs, call=f"softplus(x{args_text})", inputs=inputs)
                c.kind(out, NUMPY_ARRAY, asked="a NumPy array (numpy.ndarray)", what="the result",
                       inputs=inputs, hint=_TYPE_HINT)
                expected = expected_softplus(x, **kwargs)
                r, a = (2e-6, 1e-35) if x.dtype == np.float32 else (1e-10, 1e-300)
                # Where beta * x equals the threshold exactly, PyTorch still takes the smooth
                # formula: a switch written with >= differs there, and only there (by about
                # e^-threshold / beta, which the digits alone hardly show).
                beta, threshold = kwargs.get("beta", 1.0), kwargs.get("threshold", 20.0)
                z = np.asarray(beta * x.astype(np.float64))
                at = z == threshold
                got = np.asarray(out) if isinstance(out, (np.ndarray, np.generic)) else None
                if at.any() and got is not None and got.shape == x.shape and got.dtype == x.dtype:
                    g, e = got.astype(np.float64), expected.astype(np.float64)
                    with np.errstate(invalid="ignore"):
                        ok = np.isclose(g, e, rtol=r, atol=a) | (g == e)
                    if not ok[at].all() and ok[~at].all():
                        where = tuple(int(i) for i in np.argwhere(at & ~ok)[0])
                        shown_e, shown_g = format_pair(e[where], g[where])
                        c.fail(f"the result differs only where beta * x equals the threshold exactly "
                               f"(first at index {where}: x = {format_float(x[where])}, beta * x = "
                               f"{format_float(z[where])}); there PyTorch returns {shown_e}, "
                               f"your function {shown_g}.",
                               inputs=inputs, expected=expected, returned=out,
                               hint="PyTorch switches to x only where beta * x > threshold (strictly "
                                    "greater); at equality it still computes log(1 + e^(beta x)) / beta. "
                                    "Use >, not >=.")
                c.close(out, expected, inputs=inputs, rtol=r, atol=a, check_dtype=True, what="the result",
                        hint="log(1 + e^(beta x)) / beta, and x itself where beta * x > threshold (compare "
                             "beta * x, not x). Compute the smooth part as max(z, 0) + log1p(exp(-|z|)) with "
                             "z = beta x so that nothing overflows; keep the input's dtype.")


# -- Exercise 5.6 -----------------------------------------------------------------------------------
def check_selu_simulation(simulate) -> None:
    """``simulate(x, depth, seed) -> array (depth, 2)`` of (mean, variance) after each SELU layer."""

    def first_layer(x: np.ndarray):
        """Expected (mean, variance) after one LeCun-normal layer + SELU, for a large width.

        Each pre-activation is N(0, q_i) with q_i the mean square of input row i; average over rows.
        """
        z = np.linspace(-10, 10, 4001)
        w = np.exp(-z * z / 2)
        w /= w.sum()
        q = np.mean(x * x, axis=1)
        vals = act.selu(np.sqrt(q)[:, None] * z[None, :])
        m1 = float(np.mean(vals @ w))
        m2 = float(np.mean((vals ** 2) @ w))
        return m1, m2 - m1 ** 2

    rng = np.random.default_rng(5)
    cases = [("mean 0, variance 1", rng.standard_normal((200, 256))),
             ("mean 0, variance 4", 2.0 * rng.standard_normal((200, 256))),
             ("mean 0, variance 0.1", math.sqrt(0.1) * rng.standard_normal((200, 256)))]
    depth = 25
    # The statement allows torch.selu and the course's SELU constants; the course's selu is
    # the same function, so it is allowed too.
    with Check("Exercise 5.6 (SELU's fixed point by simulation)", allow=("relucourse.activations",)) as c:
        for label, x in cases:
            inputs = {"x": Text(f"{x.shape[0]} samples x {x.shape[1]} features, {label}"), "depth": depth}
            out = c.call(simulate, x.copy(), depth, 0, call=f"simulate(x, depth={depth}, seed=0)", inputs=inputs)
            stats = c.array(out, what="your array of statistics", inputs=inputs, shape=(depth, 2),
                            hint="Return one row (mean, variance) per layer: shape (depth, 2).")
            stats = stats.astype(np.float64)
            c.require(bool(np.all(np.isfinite(stats))), "some returned statistics are not finite.",
                      inputs=inputs, returned=stats)
            exp_m, exp_v = first_layer(x)
            c.require(abs(stats[0, 0] - exp_m) < 0.1 and abs(stats[0, 1] - exp_v) < 0.15 * max(exp_v, 0.2),
                      "the statistics after the first layer are not those of one LeCun-normal layer "
                      "(weights with variance 1/width, no bias) followed by SELU.",
                      inputs=inputs, expected=np.array([exp_m, exp_v]), returned=stats[0],
                      hint="Draw W with standard deviation 1/sqrt(width), compute selu(x @ W.T) (no bias), "
                           "then record the mean and variance over all entries. Start from the given x.")
            tail = stats[-10:].mean(axis=0)      # averaged over the last 10 layers: less finite-width noise
            c.require(bool(abs(tail[0]) < 0.1 and abs(tail[1] - 1) < 0.15),
                      "after many layers the mean and variance should settle near 0 and 1.",
                      inputs=inputs, expected=Text("mean within 0.1 of 0 and variance within 0.15 of 1, "
                                                   "averaged over the last 10 layers"), returned=tail,
                      hint="SELU's fixed point needs weights with variance 1/width (LeCun normal). "
                           "He initialisation (2/width) makes the variance grow; PyTorch's nn.Linear default "
                           "makes it shrink; ReLU or ELU have no such fixed point.")


# -- Exercise 5.7 -----------------------------------------------------------------------------------
def check_matched_hidden(matched_hidden) -> None:
    """``matched_hidden(d_model, d_ff)``: the largest h with 3 d_model h <= 2 d_model d_ff."""
    cases = [(768, 3072), (1024, 4096), (512, 2048), (64, 1000), (10, 11), (4096, 11008), (8, 3)]
    with Check("Exercise 5.7a (SwiGLU hidden size)") as c:
        for d_model, d_ff in cases:
            inputs = {"d_model": d_model, "d_ff": d_ff}
            got = c.call(matched_hidden, d_model, d_ff, call=f"matched_hidden({d_model}, {d_ff})", inputs=inputs)
            c.kind(got, int, asked="an int (a Python int: a layer size)", what="matched_hidden",
                   returns=True, inputs=inputs, hint="Use integer division (//) on Python ints, or int(...) of a "
                                       "NumPy result: nn.Linear wants a Python int.")
            c.equal(int(got), (2 * d_ff) // 3, inputs=inputs, what="the hidden size",
                    hint="The standard block has 2 * d_model * d_ff weights, the SwiGLU block "
                         "3 * d_model * h. Take the largest h that stays within the budget (round down).")


def check_swiglu(SwiGLU) -> None:
    """``SwiGLU(d_model, d_hidden)``: bias-free w_gate, w_value, w_out; (silu(x Wg) * x Wv) Wo."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    with Check("Exercise 5.7b (a SwiGLU feed-forward block)") as c:
        for d_model, d_hidden in [(8, 12), (5, 7)]:
            inputs = {"d_model": d_model, "d_hidden": d_hidden}
            call = f"SwiGLU({d_model}, {d_hidden})"
            block = c.call(SwiGLU, d_model, d_hidden, call=call, inputs=inputs)
            c.require(isinstance(block, nn.Module), f"{call} should create an nn.Module, not {type(block).__name__}.",
                      inputs=inputs, returned=block)
            shapes = {"w_gate": (d_hidden, d_model), "w_value": (d_hidden, d_model), "w_out": (d_model, d_hidden)}
            for name, shape in shapes.items():
                layer = getattr(block, name, None)
                c.require(isinstance(layer, nn.Linear),
                          f"the block needs an attribute {name} that is an nn.Linear.", inputs=inputs,
                          expected=Text(f"nn.Linear with weight of shape {shape}"), returned=layer)
                if layer.bias is not None:
                    c.fail(f"{name} should have no bias (bias=False), as in Shazeer's blocks.", inputs=inputs,
                           expected=Text("no bias"), returned=Text(f"a bias of shape {tuple(layer.bias.shape)}"))
                c.require(tuple(layer.weight.shape) == shape, f"{name}.weight has the wrong shape.",
                          inputs=inputs, expected=Text(str(shape)), returned=Text(str(tuple(layer.weight.shape))),
                          hint="nn.Linear(n_in, n_out) stores a weight of shape (n_out, n_in).")
            n_params = sum(p.numel() for p in block.parameters())
            c.require(n_params == 3 * d_model * d_hidden, "the block has the wrong number of parameters.",
                      inputs=inputs, expected=3 * d_model * d_hidden, returned=n_params,
                      hint="Three bias-free matrices and nothing else.")
            gen = torch.Generator().manual_seed(d_model)
            with torch.no_grad():
                for name in shapes:
                    getattr(block, name).weight.copy_(torch.randn(*shapes[name], generator=gen))
                Wg, Wv, Wo = (getattr(block, n).weight.detach().clone() for n in shapes)
                for x_shape in [(3, d_model), (2, 4, d_model)]:
                    x = torch.randn(*x_shape, generator=gen, dtype=torch.float32)
                    expected = (F.silu(x @ Wg.T) * (x @ Wv.T)) @ Wo.T
                    xin = {**inputs, "x": x}
                    out = c.call(block, x.clone(), call="block(x)", inputs=xin)
                    c.close(out, expected, inputs=xin, rtol=1e-4, atol=1e-5, what="the block's output",
                            hint="silu goes on the gate path x W_gate^T only; multiply element-wise by the "
                                 "value path x W_value^T, then apply w_out.")
