"""Checkers for the exercises of chapter 3 (derivatives, backpropagation, gradient flow through depth).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value.
"""

from __future__ import annotations

import numpy as np

from ..checking import COURSE_CODE, NO_TORCH, Check, Text

NUMPY_ARRAY = (np.ndarray, np.generic)   # an ndarray, or NumPy's scalar for a 0-d input

__all__ = ["check_relu_backward", "check_sigmoid_derivative", "check_tanh_derivative", "check_mlp_backward",
           "check_he_std", "check_layer_gain", "check_predict_scale", "check_measure_scale",
           "check_vanishing_depth"]


# -- Exercise 3.1 -----------------------------------------------------------------
def _relu_backward_cases():
    rng = np.random.default_rng(31)
    x = np.array([-2.0, -0.0, 0.0, 1e-300, 0.5, 3.0, -1e-300])
    yield "1-D float64 with exact zeros", x, rng.standard_normal(x.shape)
    x2 = rng.standard_normal((4, 5)).astype(np.float32)
    x2[1, 2] = 0.0
    x2[3, 0] = 0.0
    yield "2-D float32 with zeros", x2, rng.standard_normal((4, 5)).astype(np.float32)
    yield "0-d array (positive)", np.array(1.5), np.array(-2.0)
    yield "0-d array (zero)", np.array(0.0), np.array(4.0)
    x3 = rng.standard_normal((3, 2, 4))
    yield "3-D float64", x3, rng.uniform(1.0, 2.0, (3, 2, 4))


def check_relu_backward(relu_backward) -> None:
    """``relu_backward(grad_out, x)``: grad_out where x > 0, 0 where x <= 0 (ReLU'(0) = 0, as in PyTorch)."""
    with Check("Exercise 3.1 (ReLU's backward pass)") as c:
        for label, x, g in _relu_backward_cases():
            inputs = {f"x ({label})": x, "grad_out": g}
            out = c.call(relu_backward, g.copy(), x.copy(), call="relu_backward(grad_out, x)", inputs=inputs)
            expected = np.where(x > 0, g, 0).astype(g.dtype)
            c.close(out, expected, inputs=inputs, rtol=0, atol=0, what="the gradient with respect to x",
                    hint="The chain rule: multiply the incoming gradient by ReLU'(x), which is 1 where "
                         "x > 0 and 0 where x < 0. Use 0 at exactly x = 0, as PyTorch does.")


# -- Exercise 3.2 -----------------------------------------------------------------
def _autograd_derivative(fn_name: str, x: np.ndarray) -> np.ndarray:
    import torch

    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    getattr(torch, fn_name)(t).sum().backward()
    return t.grad.numpy()


def _derivative_inputs():
    yield "float64 grid on [-30, 30]", np.linspace(-30, 30, 121)
    yield "float64 points near 0", np.array([0.0, 1e-8, -1e-8, 0.1, -0.1, 1.0, -1.0])
    yield "float64 2-D array", np.random.default_rng(32).normal(0, 4, (3, 5))


def _check_derivative(name: str, student, fn_name: str, call: str, hint: str) -> None:
    # The statement allows the course's sigmoid and tanh (and np.tanh), not their *_grad
    # functions, and not torch.
    with Check(name, forbid={**COURSE_CODE, **NO_TORCH},
               allow=("relucourse.activations.sigmoid", "relucourse.activations.tanh")) as c:
        c.own_code(student, call=call,
                   hint=f"Write {call} yourself with `def`, from the formula you derived; the library's "
                        f"own derivative (relucourse.activations.{fn_name}_grad, torch) does not count.")
        for label, x in _derivative_inputs():
            inputs = {f"x ({label})": x}
            out = c.call(student, x.copy(), call=call, inputs=inputs)
            c.kind(out, NUMPY_ARRAY, asked="a NumPy array (numpy.ndarray)", what="your derivative",
                   inputs=inputs, hint="Compute with NumPy on the array you are given and return "
                                       "a NumPy array, not a torch tensor or a list.")
            c.close(out, _autograd_derivative(fn_name, x), inputs=inputs, rtol=1e-7, atol=1e-12,
                    what="your derivative (compared with PyTorch autograd)", hint=hint)


def check_sigmoid_derivative(dsigmoid) -> None:
    """``dsigmoid(x)``: the derivative of the sigmoid, element-wise, compared with autograd."""
    _check_derivative("Exercise 3.2a (derivative of the sigmoid)", dsigmoid, "sigmoid", "dsigmoid(x)",
                      "Differentiate 1 / (1 + e^(-x)) with the chain rule, then write the result in terms "
                      "of s = sigmoid(x). Its maximum is 1/4, at x = 0.")


def check_tanh_derivative(dtanh) -> None:
    """``dtanh(x)``: the derivative of tanh, element-wise, compared with autograd."""
    _check_derivative("Exercise 3.2b (derivative of tanh)", dtanh, "tanh", "dtanh(x)",
                      "Use the quotient rule on (e^x - e^-x) / (e^x + e^-x), then write the result in terms "
                      "of t = tanh(x). Its maximum is 1, at x = 0.")


# -- Exercise 3.3 -----------------------------------------------------------------
def _mlp_cases():
    rng = np.random.default_rng(33)
    for n, d, h, k in [(6, 4, 5, 3), (10, 3, 8, 4), (1, 5, 2, 2)]:
        X = rng.standard_normal((n, d))
        y = rng.integers(0, k, n)
        yield (f"batch of {n}, {d} inputs, {h} hidden, {k} classes", X, y, rng.standard_normal((h, d)),
               rng.standard_normal(h), rng.standard_normal((k, h)), rng.standard_normal(k))
    # Exact zeros in the pre-activations: zero inputs and zero biases for some units.
    X = rng.standard_normal((5, 3))
    X[1] = 0.0
    W1 = rng.standard_normal((4, 3))
    b1 = np.array([0.0, 0.5, 0.0, -0.5])
    yield ("pre-activations with exact zeros (row 1 of X is 0)", X, np.array([0, 1, 2, 1, 0]), W1, b1,
           rng.standard_normal((3, 4)), rng.standard_normal(3))
    # Large logits (about 100 to 2500), as cross_entropy allows: exp overflows unless each row is
    # shifted by its maximum (shifting by the minimum or adding the maximum overflows too).
    X = rng.standard_normal((6, 4))
    yield ("large logits (about 100 to 2500)", X, np.array([0, 1, 2, 0, 1, 2]), rng.standard_normal((5, 4)),
           rng.standard_normal(5), 300 * rng.standard_normal((3, 5)), 1000 + rng.standard_normal(3))


def check_mlp_backward(mlp_backward) -> None:
    """``mlp_backward(X, y, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)`` in NumPy, matching autograd to about 1e-10."""
    import torch

    def autograd_gradients(X, y, W1, b1, W2, b2):
        """The expected (dW1, db1, dW2, db2): PyTorch autograd in float64 (local: not importable)."""
        params = [torch.tensor(np.asarray(p, dtype=np.float64), requires_grad=True) for p in (W1, b1, W2, b2)]
        tW1, tb1, tW2, tb2 = params
        logits = torch.relu(torch.tensor(X, dtype=torch.float64) @ tW1.T + tb1) @ tW2.T + tb2
        torch.nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.int64)).backward()
        return tuple(p.grad.numpy() for p in params)

    names = ("dW1", "db1", "dW2", "db2")
    # By hand means in NumPy: autograd would do the derivation the exercise asks for.
    with Check("Exercise 3.3 (backpropagation by hand)", forbid={**COURSE_CODE, **NO_TORCH}) as c:
        for label, X, y, W1, b1, W2, b2 in _mlp_cases():
            inputs = {"case": Text(label), "X": X, "y": y}
            args = [a.copy() for a in (X, y, W1, b1, W2, b2)]
            large = label.startswith("large logits")   # an overflow there is judged by the NaNs it gives
            got = c.call(mlp_backward, *args, call="mlp_backward(X, y, W1, b1, W2, b2)", inputs=inputs,
                         allow_warnings=large)
            c.require(isinstance(got, (tuple, list)) and len(got) == 4,
                      "mlp_backward should return four gradients (dW1, db1, dW2, db2).",
                      inputs=inputs, expected=Text("a tuple of 4 arrays"), returned=got)
            for name, g, e in zip(names, got, autograd_gradients(X, y, W1, b1, W2, b2)):
                hint = ("dlogits = (softmax(logits) - onehot(y)) / n (the loss is a mean); then "
                        "dW2 = dlogits.T @ A1, db2 = column sums, dA1 = dlogits @ W2, "
                        "dZ1 = dA1 * (Z1 > 0) (ReLU'(0) = 0), dW1 = dZ1.T @ X, db1 = column sums. "
                        "Each gradient has the shape of its parameter.")
                if large:
                    hint = ("With logits in the thousands, np.exp overflows to inf (and inf / inf is NaN). "
                            "Softmax does not change when each row is shifted by a constant: subtract each "
                            "row's maximum, logits - logits.max(axis=1, keepdims=True), before np.exp. "
                            + hint)
                c.close(g, e, inputs=inputs, rtol=1e-8, atol=1e-10, what=f"{name}", hint=hint)


# -- Exercise 3.4 -----------------------------------------------------------------
_FAN_INS = [1, 3, 64, 400, 4096]


def check_he_std(he_std) -> None:
    """``he_std(fan_in)``: the standard deviation sqrt(2 / fan_in) of He initialisation."""
    with Check("Exercise 3.4a (He initialisation)") as c:
        for fan_in in _FAN_INS:
            inputs = {"fan_in": fan_in}
            got = c.number(c.call(he_std, fan_in, call=f"he_std({fan_in})", inputs=inputs),
                           what=f"he_std({fan_in})", inputs=inputs)
            c.close(got, np.sqrt(2.0 / fan_in), inputs=inputs, rtol=1e-6, atol=0,
                    what=f"he_std({fan_in})",
                    hint="He initialisation sets the *variance* to 2 / fan_in; return its square root.")


def check_layer_gain(layer_gain) -> None:
    """``layer_gain(weight_std, fan_in)``: the per-layer factor fan_in * weight_std**2 / 2 of a ReLU layer."""
    with Check("Exercise 3.4b (the per-layer gain)") as c:
        for std, fan_in in [(0.1, 100), (np.sqrt(2 / 64), 64), (0.05, 400), (1.0, 3), (0.02, 4096)]:
            inputs = {"weight_std": std, "fan_in": fan_in}
            got = c.number(c.call(layer_gain, std, fan_in, call="layer_gain(weight_std, fan_in)",
                                  inputs=inputs), what="the gain", inputs=inputs)
            c.close(got, fan_in * std ** 2 / 2, inputs=inputs, rtol=1e-6, atol=0, what="the gain",
                    hint="Var(y) = fan_in * Var(w) * E[x^2], and ReLU keeps half of a symmetric "
                         "input's second moment: E[relu(z)^2] = Var(z) / 2. The weight's variance is std**2.")


# -- Exercise 3.5 -----------------------------------------------------------------
def check_predict_scale(predict_scale) -> None:
    """``predict_scale(weight_std, width, depth)``: (width * weight_std**2 / 2) ** depth."""
    with Check("Exercise 3.5a (predict the activation scale)") as c:
        for std, width, depth in [(np.sqrt(2 / 256), 256, 30), (np.sqrt(1 / 256), 256, 30),
                                  (np.sqrt(3 / 256), 256, 30), (0.1, 100, 10), (0.05, 512, 1)]:
            inputs = {"weight_std": std, "width": width, "depth": depth}
            got = c.number(c.call(predict_scale, std, width, depth, call="predict_scale(weight_std, width, depth)",
                                  inputs=inputs), what="the predicted mean square", inputs=inputs)
            c.close(got, (width * std ** 2 / 2) ** depth, inputs=inputs, rtol=1e-5, atol=0,
                    what="the predicted mean square",
                    hint="The inputs have mean square 1 and every layer multiplies the mean square by "
                         "the same gain width * std**2 / 2, so after `depth` layers it is gain ** depth.")


def _loglinear_factor(q: np.ndarray) -> float:
    return float(np.exp(np.polyfit(np.arange(len(q)), np.log(q), 1)[0]))


def _first_layer_hint(q: np.ndarray, gain: float) -> str:
    """The most likely cause of a wrong first entry, judged from the value returned."""
    if abs(q[0] - 1) < 0.15:
        return ("Your first value is about 1, the inputs' own mean square: the list looks shifted by one "
                "layer. Entry l - 1 is measured after layer l, so append after each ReLU, not before the "
                "first layer (and return exactly `depth` values).")
    if abs(q[0] / (2 * gain) - 1) < 0.15:
        return ("Your first value is about twice the gain: that is the mean square *before* the ReLU. "
                "Measure h**2 after applying the ReLU.")
    ratio = q[0] / gain
    if abs(ratio - (1 - 1 / np.pi)) < 0.1:
        # relu(z) for z ~ N(0, 2 gain) has mean square gain and variance gain (1 - 1/pi).
        return ("Your first value is about (1 - 1/pi) times the gain: the variance of the ReLU's "
                "output, not its mean square. h.var() subtracts the mean; use (h**2).mean().")
    if ratio > 1.15:
        return ("Your first value is larger than a layer with independent random weights gives. "
                "Are the weights drawn independently of the inputs? A generator created again with "
                "the same seed (np.random.default_rng(seed) inside the loop, or once for the inputs "
                "and again for the weights) repeats the same random numbers, so W matches h. Create "
                "one generator before the loop and draw the inputs and every layer's weights from it.")
    return ("Your first value is smaller than the gain. Draw the weights with standard deviation "
            "weight_std (np.random.default_rng(seed).normal(0, weight_std, ...), not weight_std**2), "
            "take standard normal inputs, and measure after the ReLU.")


def check_measure_scale(measure_scale) -> None:
    """``measure_scale(weight_std, width, depth, seed)``: measured mean squares after each ReLU layer.

    Random, so checked against the prediction with tolerances that a correct
    measurement meets for any seed: the first layer within 15%, the per-layer
    factor (from a straight-line fit to the logarithm) within 12%, and the last
    layer within a factor of 10.
    """
    width, depth = 256, 30
    with Check("Exercise 3.5b (measure the activation scale)") as c:
        for c_value, seed in [(2.0, 0), (1.0, 1), (3.0, 2)]:
            std = float(np.sqrt(c_value / width))
            gain = c_value / 2
            inputs = {"weight_std": std, "width": width, "depth": depth, "seed": seed}
            got = c.call(measure_scale, std, width, depth, seed, call="measure_scale(weight_std, width, depth, seed)",
                         inputs=inputs)
            q = np.ravel(c.array(got, what="the measured mean squares", inputs=inputs, shape=(depth,),
                                 hint="Return one number per layer: the mean square after layer 1, 2, ..., "
                                      "depth (not the input's).")).astype(np.float64)
            c.require(bool(np.all(np.isfinite(q)) and np.all(q > 0)),
                      "every mean square should be a positive, finite number.", inputs=inputs,
                      expected=Text("positive numbers"), returned=q)
            c.require(abs(q[0] / gain - 1) < 0.15,
                      f"after the first layer the mean square should be close to the gain {gain:g}.",
                      inputs=inputs, expected=gain, returned=q[0], hint=_first_layer_hint(q, gain))
            factor = _loglinear_factor(q)
            c.require(abs(factor / gain - 1) < 0.12,
                      "the mean square should change by the same factor at every layer, close to the gain.",
                      inputs=inputs, expected=gain, returned=factor,
                      hint="Apply ReLU after every layer and draw a new weight matrix for every layer.")
            c.require(0.1 < q[-1] / gain ** depth < 10,
                      "the last layer's mean square is far from the prediction gain ** depth.",
                      inputs=inputs, expected=gain ** depth, returned=q[-1])


# -- Exercise 3.6 -----------------------------------------------------------------
#: First-layer weight-gradient norm of the exercise's sigmoid networks, depth 1 .. 20 (float64, first 256
#: training images, ``mlp(..., nn.Sigmoid, seed=0)``), computed when the exercise was written and stored
#: (8 significant digits), so that no importable function computes the answer;
#: tests/answers_ch03_04.py recomputes them.
_FIRST_LAYER_NORMS = (1.75893704e-01, 2.62306354e-02, 3.66207960e-03, 4.50532344e-04, 8.00522628e-05,
                      1.16033774e-05, 2.23115421e-06, 2.25603791e-07, 2.78883928e-08, 4.10347544e-09,
                      6.26650497e-10, 1.01042208e-10, 9.70282946e-12, 1.75658132e-12, 2.08526096e-13,
                      2.85015917e-14, 4.78021813e-15, 7.49115120e-16, 1.17000930e-16, 1.62424442e-17)


#: Round thresholds (far from every norm), tried first: they give the clearest messages.
_THRESHOLDS = (1e-3, 1e-6, 1e-9, 1e-12)
#: Depths whose norm the check pins with thresholds _PIN_MARGIN above and below it. A network that
#: differs from the prescribed one (another width, number of outputs or seed) has norms 0.4% to 40%
#: away from these, while float64 or float32 recomputations of the prescribed one agree to 1e-5.
_PINNED_DEPTHS = (1, 4, 11, 18)
_PIN_MARGIN = 0.002
#: Above the norm of every candidate network (depth 1: 0.176), and above that of a network with no
#: hidden layer (about 1.40), which is not a candidate: the answer is 1.
_ABOVE_ALL = 2.0


def check_vanishing_depth(vanishing_depth) -> None:
    """``vanishing_depth(threshold)``: the smallest depth whose first-layer gradient norm is below threshold.

    Tries round thresholds, one above every network's norm (answer 1), and thresholds 0.2% above and
    below the stored norms of a few depths, which pin the network down exactly.
    """
    def cases(norms: np.ndarray):
        """(threshold, expected depth, hint) for every threshold tried (local: not importable)."""
        out = []
        for threshold in _THRESHOLDS:
            d = int(np.argmax(norms < threshold)) + 1
            out.append((threshold, d,
                          f"Depth {d} has a first-layer gradient norm of {norms[d - 1]:.3g}"
                          + (f" and depth {d - 1} has {norms[d - 2]:.3g}" if d > 1 else "")
                          + ". Use the first Linear layer's weight gradient, the mean cross-entropy, "
                            "float64, and return the smallest depth below the threshold."))
        out.append((_ABOVE_ALL, 1,
                      f"Every candidate network has a norm below {_ABOVE_ALL:g} (depth 1: {norms[0]:.3g}), so the "
                      "answer is 1. Try the depths 1, 2, ..., 20 in turn: a network with no hidden layer "
                      "(depth 0) is not a candidate."))
        pin = ("This threshold is only {pct:g}% {side} the norm of depth {d} ({norm:.6g}), so it tells apart "
               "networks that differ only slightly. Build exactly the prescribed network for every depth: "
               "mlp([64] + [32] * depth + [10], nn.Sigmoid, seed=0) in float64 (10 outputs, hidden width 32, "
               "seed 0), on X_probe and y_probe, and start the search at depth 1.")
        for d in _PINNED_DEPTHS:
            out.append((norms[d - 1] * (1 + _PIN_MARGIN), d,
                          pin.format(pct=100 * _PIN_MARGIN, side="above", d=d, norm=norms[d - 1])))
            out.append((norms[d - 1] * (1 - _PIN_MARGIN), d + 1,
                          pin.format(pct=100 * _PIN_MARGIN, side="below", d=d, norm=norms[d - 1])))
        return out

    norms = np.array(_FIRST_LAYER_NORMS)
    with Check("Exercise 3.6 (the depth where gradients vanish)",
               allow=("relucourse.training", "relucourse.data", "relucourse.gradients")) as c:
        for threshold, expected, hint in cases(norms):
            inputs = {"threshold": threshold}
            got = c.call(vanishing_depth, threshold, call=f"vanishing_depth({threshold:.6g})", inputs=inputs)
            if got is None:
                c.fail(f"vanishing_depth({threshold:.6g}) returned None.", inputs=inputs,
                       expected=expected, returned=None,
                       hint="No depth from 1 to 20 reached the threshold, so the loop ended "
                            "without a `return`. The norm that vanishes is the *first* layer's "
                            "(the Linear next to the input: model[0].weight.grad); the last "
                            "layer's gradient stays large at every depth.")
            c.kind(got, int, asked="an int (a Python int)", what="vanishing_depth", returns=True,
                   inputs=inputs, hint="A depth taken from NumPy (np.argmax, an array's item) "
                                       "is a NumPy integer; return int(...) of it.")
            c.equal(int(got), expected, inputs=inputs, what="the depth", hint=hint)
