"""Checkers for the exercises of chapter 1 (why networks need activation functions).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value.
"""

from __future__ import annotations

import numpy as np

from ..checking import Check, Text

#: What "a NumPy array" admits: an ndarray, or the NumPy scalar that NumPy's own
#: functions return for a 0-d input (np.exp(np.array(1.0)) is an np.float64).
NUMPY_ARRAY = (np.ndarray, np.generic)

__all__ = ["check_collapse", "check_sigmoid", "check_tanh", "check_abs_net", "check_hat_net",
           "check_count_pieces", "check_xor_model"]

# No name in this module returns an exercise's answer (students import this module):
# references live inside the checker bodies or are stored expected values. The tests
# keep their own reference answers in tests/answers_ch01_02.py.


# -- Exercise 1.1 -----------------------------------------------------------------
def check_collapse(collapse) -> None:
    """``collapse(W1, b1, W2, b2) -> (W, b)`` with W x + b == W2 (W1 x + b1) + b2 for every x."""
    rng = np.random.default_rng(11)
    with Check("Exercise 1.1 (collapse two linear layers)") as c:
        for n_in, n_hidden, n_out in [(3, 4, 2), (5, 2, 5), (1, 3, 1), (6, 6, 6)]:
            W1, b1 = rng.standard_normal((n_hidden, n_in)), rng.standard_normal(n_hidden)
            W2, b2 = rng.standard_normal((n_out, n_hidden)), rng.standard_normal(n_out)
            inputs = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
            result = c.call(collapse, W1, b1, W2, b2, call="collapse(W1, b1, W2, b2)", inputs=inputs)
            c.require(isinstance(result, (tuple, list)) and len(result) == 2,
                      "collapse should return a pair (W, b).", inputs=inputs, returned=result)
            W, b = result
            c.close(W, W2 @ W1, inputs=inputs, what="the returned W", atol=1e-10,
                    hint="Apply W1 first, then W2: the combined weight is W2 @ W1 (order matters).")
            c.close(np.ravel(c.array(b, what="the returned b", inputs=inputs)), W2 @ b1 + b2,
                    inputs=inputs, what="the returned b", atol=1e-10,
                    hint="The first bias also passes through the second layer's weights.")


# -- Exercise 1.2 -----------------------------------------------------------------
_EXTREMES = [0.0, 1e-30, -1e-12, 1e-9, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, 50.0, -50.0, 88.0, -88.0,
             89.0, -89.0, 100.0, -100.0, 700.0, -700.0, 710.0, -710.0, 1e3, -1e3, 1e4, -1e4]


def _activation_inputs():
    decades = np.logspace(-8, 1, 19)  # relative accuracy matters at every scale, not only at the extremes
    base = np.concatenate([_EXTREMES, decades, -decades])
    yield "float64 vector", base
    yield "float32 vector", base.astype(np.float32)
    yield "float32 2-D array", np.linspace(-1e4, 1e4, 24, dtype=np.float32).reshape(4, 6)
    yield "float64 0-d array", np.array(-745.5)


def _check_activation(name: str, student, reference, *, rtol: float, atol64: float = 1e-322,
                      atol32: float = 1e-44, call: str, hint: str, forbidden_call=None) -> None:
    """Compare an activation with a float64 reference on extreme, tiny and ordinary inputs.

    The absolute tolerances are a few subnormal steps, so results that underflow
    to 0 where the true value is still representable count as wrong.
    ``forbidden_call``: (module, attribute) of a library function the answer must
    not call, even inside a function of its own (for example numpy's tanh).
    """
    with Check(name) as c:
        c.own_code(student, call=call)
        for label, x in _activation_inputs():
            inputs = {f"x ({label})": x}
            with _counting(forbidden_call) as calls:
                out = c.call(student, x.copy(), call=call, inputs=inputs)
            if forbidden_call is not None:
                module, attr = forbidden_call
                c.require(calls[0] == 0,
                          f"{call} calls {module.__name__}.{attr}, which this exercise asks "
                          "you not to use.", inputs=inputs,
                          expected=Text(f"no call of {module.__name__}.{attr}"),
                          returned=Text(f"{calls[0]} call(s)"),
                          hint="Build it from np.exp (and np.expm1), as the exercise says.")
            c.kind(out, NUMPY_ARRAY, asked="a NumPy array (numpy.ndarray)", what="the result",
                   inputs=inputs, hint="Compute with NumPy functions on the array you are given; "
                                       "a torch tensor or a list is not what the exercise asks for.")
            expected = reference(x)
            atol = atol32 if x.dtype == np.float32 else atol64
            c.close(out, expected, inputs=inputs, rtol=rtol, atol=atol, check_dtype=True,
                    what="the result", hint=hint)


class _counting:
    """Context manager: while active, count the calls of one library function.

    ``with _counting((np, "tanh")) as calls: ...`` replaces ``np.tanh`` by a
    counting wrapper and puts the count in ``calls[0]``; ``None`` counts nothing.
    """

    def __init__(self, target):
        self.target = target
        self.calls = [0]

    def __enter__(self):
        if self.target is not None:
            module, attr = self.target
            self.original = getattr(module, attr)

            def counted(*args, **kwargs):
                self.calls[0] += 1
                return self.original(*args, **kwargs)

            setattr(module, attr, counted)
        return self.calls

    def __exit__(self, *exc):
        if self.target is not None:
            setattr(self.target[0], self.target[1], self.original)
        return False


def check_sigmoid(sigmoid_fn) -> None:
    """Numerically stable sigmoid: no warnings, dtype and shape kept, accurate for |x| up to 1e4."""

    def reference(x):
        e = np.exp(-np.abs(x.astype(np.float64)))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)

    _check_activation(
        "Exercise 1.2 (stable sigmoid)", sigmoid_fn, reference, rtol=1e-6, call="sigmoid(x)",
        hint="Check the smallest outputs (large negative x): they must be tiny but not 0 while the "
             "true value is representable. Compute them as e^x / (1 + e^x) with e^x = exp(-|x|); "
             "1 - (something close to 1) loses them.")


def check_tanh(tanh_fn) -> None:
    """Numerically stable tanh from exponentials (no np.tanh): no warnings, dtype kept, accurate."""

    def reference(x):
        a = np.abs(x.astype(np.float64))
        return (np.sign(x) * -np.expm1(-2 * a) / (1 + np.exp(-2 * a))).astype(x.dtype)

    _check_activation(
        "Exercise 1.3 (stable tanh)", tanh_fn, reference, rtol=1e-6, call="tanh(x)",
        forbidden_call=(np, "tanh"),
        hint="Check small |x|: tanh(x) is close to x there, and 1 - exp(-2|x|) (or 2 sigmoid(2x) - 1) "
             "subtracts two numbers close to 1 and loses digits; np.expm1(u) computes e^u - 1 "
             "accurately for small u.")


# -- Exercise 1.4 -----------------------------------------------------------------
def _net_output(c: Check, params, x: np.ndarray, name: str) -> np.ndarray:
    """Evaluate c + sum_j v_j relu(w_j x + b_j) for the student's (w, b, v, c)."""
    c.require(isinstance(params, (tuple, list)) and len(params) == 4,
              f"{name} should return four things: (w, b, v, c).", returned=params)
    w, b, v, c0 = params
    w = np.ravel(c.array(w, what="w")).astype(np.float64)
    b = np.ravel(c.array(b, what="b")).astype(np.float64)
    v = np.ravel(c.array(v, what="v")).astype(np.float64)
    c0 = c.number(c0, what="the output bias c")
    c.require(w.shape == b.shape == v.shape,
              f"w, b and v must have one entry per hidden unit; their shapes are {w.shape}, {b.shape}, {v.shape}.")
    c.require(w.size <= 16, f"use at most 16 hidden units (you used {w.size}).")
    return c0 + np.maximum(np.outer(x, w) + b, 0.0) @ v


def _check_hand_net(name: str, build, target, description: str, hint: str) -> None:
    x = np.concatenate([np.linspace(-20, 20, 401), [-1e3, -0.5, 0.5, 1e3, -1e6, 1e6]])
    with Check(name) as c:
        label = f"{getattr(build, '__name__', 'build')}()"
        params = c.call(build, call=label)
        out = _net_output(c, params, x, label)
        expected = target(x)
        c.close(out, expected, inputs={"x": x}, atol=1e-9, rtol=1e-12,
                what=f"your network's output (should be {description})", hint=hint)


def check_abs_net(build) -> None:
    """``build() -> (w, b, v, c)`` for a one-hidden-layer ReLU net computing |x| exactly."""
    _check_hand_net("Exercise 1.4a (a ReLU network for |x|)", build, np.abs, "|x|",
                    "|x| = relu(x) + relu(-x): two units, one for each side.")


def check_hat_net(build) -> None:
    """``build() -> (w, b, v, c)`` for a ReLU net computing the hat max(0, 1 - |x|) exactly."""
    _check_hand_net("Exercise 1.4b (a ReLU network for the hat)", build,
                    lambda x: np.maximum(0.0, 1.0 - np.abs(x)), "max(0, 1 - |x|)",
                    "The hat's slope goes 0 -> +1 at x=-1, +1 -> -1 at x=0 and -1 -> 0 at x=1: "
                    "one unit per kink, weighted by the change of slope.")


# -- Exercise 1.5 -----------------------------------------------------------------
#: Expected numbers of pieces of the three random networks in ``_piece_cases``, worked
#: out when the exercise was written (tests/test_ch01_checkers.py recomputes them).
_RANDOM_PIECES = (6, 7, 5)


def _piece_cases():
    """(name, w, b, v, lo, hi, expected number of pieces)."""
    rng = np.random.default_rng(5)
    yield "three kinks, all inside", [1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0], -2.0, 2.0, 4
    yield "|x|: units of opposite sign sharing a kink", [1.0, -1.0], [0.0, 0.0], [1.0, 1.0], -1.0, 1.0, 2
    yield "kinks outside the interval", [1.0, 1.0, 2.0], [5.0, 0.0, -10.0], [1.0, 1.0, 1.0], -1.0, 1.0, 2
    yield "a unit with w = 0 (no kink)", [0.0, 1.0], [1.0, -0.5], [3.0, 1.0], 0.0, 1.0, 2
    yield "a unit with v = 0 (no effect)", [1.0, 2.0, 1.0], [0.0, -1.0, 0.25], [1.0, 0.0, -1.0], -1.0, 1.0, 3
    yield "two units sharing a kink", [1.0, 2.0, 1.0], [-0.5, -1.0, 0.5], [1.0, 1.0, 1.0], -1.0, 1.0, 3
    yield ("shared kink whose slope changes cancel", [1.0, 2.0, 1.0], [-0.5, -1.0, 0.0], [2.0, -1.0, 1.0],
           -1.0, 1.0, 2)
    yield "negative weights", [-1.0, -2.0, 1.0], [0.5, 1.0, 0.0], [1.0, 1.0, 1.0], -1.0, 1.0, 3
    yield "a kink exactly at the interval's end", [1.0, 1.0], [-1.0, 0.0], [1.0, 1.0], -1.0, 1.0, 2
    for k, pieces in enumerate(_RANDOM_PIECES):
        n = 12
        w = rng.integers(-3, 4, n).astype(float)
        b = rng.integers(-6, 7, n).astype(float) / 2
        v = rng.integers(-2, 3, n).astype(float)
        yield f"random network {k + 1} (12 units)", w, b, v, -1.5, 1.5, pieces


def check_count_pieces(count_pieces) -> None:
    """``count_pieces(w, b, v, lo, hi) -> int``: linear pieces of a one-hidden-layer ReLU net."""
    with Check("Exercise 1.5 (count the linear pieces)") as c:
        for name, w, b, v, lo, hi, expected in _piece_cases():
            w, b, v = np.array(w), np.array(b), np.array(v)
            inputs = {"case": name, "w": w, "b": b, "v": v, "[lo, hi]": (lo, hi)}
            got = c.call(count_pieces, w.copy(), b.copy(), v.copy(), lo, hi,
                         call="count_pieces(w, b, v, lo, hi)", inputs=inputs)
            c.kind(got, int, asked="an int (a Python int)", what="count_pieces", returns=True, inputs=inputs,
                   hint="A count from NumPy (np.sum, len of an array's unique values, ...) is a "
                        "NumPy integer; return int(...) of it.")
            c.equal(int(got), expected, inputs=inputs, what="the number of pieces",
                    hint="Pieces = 1 + number of distinct kink positions strictly inside (lo, hi) where "
                         "the slope really changes. Units with w = 0 or v = 0 add no kink; units sharing "
                         "a position add their slope changes v*|w|, which may cancel.")


# -- Exercise 1.6 -----------------------------------------------------------------
def check_xor_model(train_xor) -> None:
    """``train_xor() -> model``: a trained torch model mapping (n, 2) float32 to (n, 2) logits."""
    import torch

    from ..data import xor

    X, y = xor(400, seed=123)
    with Check("Exercise 1.6 (fit XOR)", allow=("relucourse.data", "relucourse.training")) as c:
        model = c.call(train_xor, call="train_xor()")
        c.require(isinstance(model, torch.nn.Module),
                  f"train_xor() should return a torch.nn.Module, not {type(model).__name__}.", returned=model)
        model.eval()
        with torch.no_grad():
            logits = c.call(model, torch.from_numpy(X), call="model(X)",
                            inputs={"X": "400 noisy XOR points, float32, shape (400, 2)"})
        logits = c.array(logits, what="model(X)", shape=(400, 2))
        rows_sum_to_one = np.allclose(logits.astype(np.float64).sum(axis=1), 1.0, atol=1e-4)
        c.require(not (np.all(logits >= 0) and rows_sum_to_one),
                  "model(X) returns probabilities (every row is >= 0 and sums to 1): the model "
                  "ends in a softmax, but the exercise asks for logits.",
                  inputs={"X": "400 noisy XOR points, float32, shape (400, 2)"},
                  expected=Text("logits: one raw score per class, any real numbers"),
                  returned=logits[:3],
                  hint="Drop the final softmax. nn.functional.cross_entropy applies log-softmax "
                       "itself, so training on softmax outputs squashes the scores twice.")
        acc = float((logits.argmax(axis=1) == y).mean())
        c.require(acc >= 0.95, f"test accuracy is {acc:.1%}; at least 95% is needed.",
                  inputs={"X": "400 fresh noisy XOR points (seed 123)"},
                  hint="A model without a non-linearity cannot do much better than chance on XOR. Use a "
                       "hidden layer with ReLU (or tanh), and train until the training loss is small.")
