"""Checkers for the exercises of chapter 2 (ReLU, the function).

Each ``check_*`` function takes the student's answer, runs it on inputs it
chooses (fixed seeds, so feedback is reproducible), and either prints one line
starting with ✅ or raises :class:`relucourse.checking.CheckFailed` with the
failing input, the expected and the returned value.
"""

from __future__ import annotations

import math
import time
import timeit

import numpy as np

from ..checking import Check, Text

__all__ = ["check_relu", "check_relu_inplace", "check_max_via_relu", "check_clip_via_relu",
           "check_relu_gaussian_stats", "check_simulated_stats", "check_relu_scalar", "check_relu_list",
           "check_speedup", "check_block"]

# No name in this module returns an exercise's answer (students import this module):
# references live inside the checker bodies or are stored expected values. The tests
# keep their own reference answers in tests/answers_ch01_02.py.

_NAN_HINT = ("Every comparison with NaN is False, so `np.where(x > 0, x, 0)` or `x if x > 0 else 0` turns NaN "
             "into 0. np.maximum propagates NaN; so does a comparison written the other way round, x <= 0.")


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, dtype and values (NaN equal to NaN)."""
    return (a.shape == b.shape and a.dtype == b.dtype
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f")))


# -- Exercise 2.1 -------------------------------------------------------------------
def _relu_hint(x: np.ndarray, out) -> str | None:
    """The hint that fits how ``out`` differs from relu(x), or None when nothing specific fits."""
    try:
        got = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if got.shape != x.shape:
        return None
    xf = x.astype(np.float64)
    expected = np.maximum(xf, 0)
    with np.errstate(invalid="ignore"):
        wrong = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    if not wrong.any():
        return None
    if (wrong & np.isnan(xf)).any() and not (wrong & ~np.isnan(xf)).any():
        return _NAN_HINT
    if (wrong & np.isinf(xf) & np.isnan(got)).any():
        return ("Your result is NaN at an infinite input: the formula computes with inf, and "
                "inf - inf or inf * 0 is NaN (as in (x + |x|) / 2 at -inf, or x * (x > 0)). "
                "np.maximum(x, 0) or np.where(x > 0, x, 0) pick a value instead of computing one.")
    if x.dtype.kind in "iu":
        return ("Integer arithmetic wraps around: |-128| is -128 in int8, and x + |x| overflows "
                "for large x. Pick values (np.maximum) rather than computing with them.")
    return None


def _relu_cases():
    rng = np.random.default_rng(21)
    special = np.array([-2.0, -0.0, 0.0, 1.5, np.inf, -np.inf, np.nan, 1e300])
    yield "float64 vector with special values", special
    m = rng.standard_normal((3, 4)).astype(np.float32)
    m[1, 2] = np.nan
    yield "float32 3x4 matrix with a NaN", m
    yield "float16 vector", np.array([-1.5, 0.0, 2.25, -np.inf, np.nan], dtype=np.float16)
    yield "0-d float64 array", np.array(-1.5)
    yield "float32 array of shape (2, 3, 4)", rng.standard_normal((2, 3, 4)).astype(np.float32)
    yield "int8 vector", np.array([-128, -1, 0, 1, 127], dtype=np.int8)
    yield "int64 2x3 matrix", np.array([[-5, 0, 7], [3, -2, -9]], dtype=np.int64)
    yield "empty float32 vector", np.zeros(0, dtype=np.float32)


def check_relu(relu) -> None:
    """``relu(x)``: a new array of x's shape and dtype with max(x, 0); NaN propagates; x is not changed."""
    with Check("Exercise 2.1 (ReLU for arrays)") as c:
        c.own_code(relu, call="relu(x)")
        for label, x in _relu_cases():
            inputs = {f"x ({label})": x}
            arg = x.copy()
            out = c.call(relu, arg, call="relu(x)", inputs=inputs)
            c.require(_same(arg, x), "relu(x) changed its input x.", inputs=inputs,
                      expected=Text("x left as it was"), returned=arg,
                      hint="Return a new array; do not assign into x.")
            expected = np.maximum(x, np.zeros((), dtype=x.dtype))
            c.close(out, expected, inputs=inputs, rtol=0, atol=0, check_dtype=True,
                    what="the result", hint=_relu_hint(x, out))


# -- Exercise 2.2 -------------------------------------------------------------------
def _inplace_cases():
    rng = np.random.default_rng(22)
    yield "float32 vector with NaN and infinities", np.array([-2.0, 3.0, np.nan, -np.inf, np.inf, -0.5],
                                                             dtype=np.float32)
    yield "float64 3x4 matrix", rng.standard_normal((3, 4))
    yield "int32 vector", np.array([-7, 0, 4, -1], dtype=np.int32)
    yield "0-d float64 array", np.array(-3.0)


def check_relu_inplace(relu_inplace) -> None:
    """``relu_inplace(x)`` overwrites x with max(x, 0) and returns the very same array object."""
    with Check("Exercise 2.2 (in-place ReLU)") as c:
        c.own_code(relu_inplace, call="relu_inplace(x)")
        cases = list(_inplace_cases())
        base = np.random.default_rng(23).standard_normal((3, 5))
        cases.append(("every second column of a 3x5 float64 matrix (a view)", base))
        for label, x in cases:
            is_view = label.startswith("every second")
            parent = x.copy()
            arg = parent[:, ::2] if is_view else parent
            inputs = {f"x ({label})": x[:, ::2] if is_view else x}
            expected = np.maximum(arg, np.zeros((), dtype=arg.dtype))
            out = c.call(relu_inplace, arg, call="relu_inplace(x)", inputs=inputs, in_place=True)
            c.require(out is arg, "relu_inplace(x) should return the same array object x that it was given.",
                      inputs=inputs, expected=Text("the object x itself (the check uses `result is x`)"),
                      returned=out,
                      hint="`x = np.maximum(x, 0)` makes a new array and leaves the caller's x unchanged; "
                           "write into x instead (out=x, or assignment into x[...]) and return x.")
            c.close(arg, expected, inputs=inputs, rtol=0, atol=0, check_dtype=True,
                    what="x after the call", hint=_NAN_HINT)
            if is_view:
                untouched = parent[:, 1::2]
                c.close(untouched, x[:, 1::2], inputs=inputs, rtol=0, atol=0,
                        what="the columns of the parent matrix that are not in the view",
                        hint="Only the elements of x may change.")


# -- Exercise 2.3 -------------------------------------------------------------------
class _Counting:
    """Wraps the function handed to the student's code (here: a ReLU) and counts its calls."""

    def __init__(self, fn, name: str):
        self.fn, self.name, self.calls = fn, name, 0

    def __call__(self, v):
        self.calls += 1
        return self.fn(v)

    def __repr__(self):
        return self.name


def _pairs():
    rng = np.random.default_rng(231)
    yield "vectors", rng.standard_normal(7) * 10, rng.standard_normal(7) * 10
    yield "equal entries", np.array([1.0, -2.0, 0.0]), np.array([1.0, -2.0, 0.0])
    yield "2x3 matrices", rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    yield "scalars (0-d arrays)", np.array(-4.0), np.array(-6.5)


def check_max_via_relu(max_via_relu) -> None:
    """``max_via_relu(a, b, relu)`` equals np.maximum(a, b), built from relu."""
    with Check("Exercise 2.3a (max from ReLU)") as c:
        for label, a, b in _pairs():
            relu = _Counting(lambda v: np.maximum(v, 0), "relu")
            inputs = {f"a ({label})": a, "b": b}
            out = c.call(max_via_relu, a.copy(), b.copy(), relu, call="max_via_relu(a, b, relu)", inputs=inputs)
            c.close(out, np.maximum(a, b), inputs=inputs, rtol=1e-12, atol=1e-12, what="the result",
                    hint="max(a, b) is b plus however much a exceeds b, and 'however much, if positive' "
                         "is a ReLU.")
            c.require(relu.calls > 0, "the result is right, but the function never called relu.",
                      inputs=inputs, expected=Text("at least one call of the relu argument"),
                      returned=Text("0 calls"), hint="Build max from the relu you are given, not np.maximum.")


def _clip_cases():
    rng = np.random.default_rng(232)
    x = np.concatenate([np.linspace(-4, 4, 17), rng.standard_normal(5) * 3])
    yield "a vector", x, -1.0, 2.0
    yield "a vector, interval away from 0", x, 0.5, 3.0
    yield "a vector, negative interval", x, -3.0, -2.5
    yield "a vector, lo == hi", x, 1.0, 1.0
    yield "a 2x3 matrix", rng.standard_normal((2, 3)), -0.5, 0.5


def check_clip_via_relu(clip_via_relu) -> None:
    """``clip_via_relu(x, lo, hi, relu)`` equals np.clip(x, lo, hi), built from relu."""
    with Check("Exercise 2.3b (clip from ReLU)") as c:
        for label, x, lo, hi in _clip_cases():
            relu = _Counting(lambda v: np.maximum(v, 0), "relu")
            inputs = {f"x ({label})": x, "lo": lo, "hi": hi}
            out = c.call(clip_via_relu, x.copy(), lo, hi, relu, call="clip_via_relu(x, lo, hi, relu)",
                         inputs=inputs)
            c.close(out, np.clip(x, lo, hi), inputs=inputs, rtol=1e-12, atol=1e-12, what="the result",
                    hint="Start at lo, climb with slope 1 from lo on, and stop climbing at hi: "
                         "one ReLU switches the climb on, a second one cancels it.")
            c.require(relu.calls > 0, "the result is right, but the function never called relu.",
                      inputs=inputs, expected=Text("at least one call of the relu argument"),
                      returned=Text("0 calls"), hint="Build the clip from the relu you are given, not np.clip.")


def _close_number(c: Check, got: float, expected: float, *, what: str, atol: float, rtol: float, inputs,
                  hint: str) -> None:
    """Compare one number and name it in the message (Check.close does not say which quantity differs)."""
    ok = abs(got - expected) <= atol + rtol * abs(expected)
    c.require(ok, f"{what} is {got:.8g}, but it should be {expected:.8g} "
                  f"(allowed difference {atol + rtol * abs(expected):.2g}).",
              inputs=inputs, expected=expected, returned=got, hint=hint)


# -- Exercise 2.4 -------------------------------------------------------------------
#: (mu, sigma) -> (P(relu(z) = 0), E[relu(z)]) for z ~ N(mu, sigma^2), worked out when the
#: exercise was written (tests/test_ch02_checkers.py recomputes them from the closed form).
_GAUSSIANS = {
    (0.0, 1.0): (0.5, 0.3989422804014327),
    (0.0, 3.0): (0.5, 1.1968268412042982),
    (1.0, 1.0): (0.15865525393145707, 1.0833154705876864),
    (-2.0, 0.5): (0.9999683287581669, 3.572629216202754e-06),
    (0.5, 2.0): (0.4012936743170763, 1.0726893964471604),
    (3.0, 0.25): (1.776482112077702e-33, 3.0),
    (-1.0, 4.0): (0.5987063256829237, 1.1453787928943209),
}
#: (mu, sigma) -> (P(relu(z) = 0), E[relu(z)], E[relu(z)^2]) for the simulation check.
_SIMULATED = {
    (0.0, 1.0): (0.5, 0.3989422804014327, 0.5),
    (1.0, 2.0): (0.3085375387259869, 1.3955931148026122, 4.161442959898665),
    (-1.0, 0.5): (0.9772498680518208, 0.004245351308414812, 0.0014421816786299932),
}


def _pair(c: Check, value, name: str, inputs) -> tuple[float, float]:
    c.require(isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2,
              f"{name} should return two numbers: (fraction of zeros, mean).", inputs=inputs,
              expected=Text("a pair (fraction_zero, mean)"), returned=value)
    return (c.number(value[0], what="the fraction of zeros", inputs=inputs),
            c.number(value[1], what="the mean", inputs=inputs))


def check_relu_gaussian_stats(relu_gaussian_stats) -> None:
    """``relu_gaussian_stats(mu, sigma) -> (fraction_zero, mean)`` in closed form."""
    with Check("Exercise 2.4a (ReLU of a Gaussian, exactly)") as c:
        for (mu, sigma), (p0, mean) in _GAUSSIANS.items():
            inputs = {"mu": mu, "sigma": sigma}
            got = _pair(c, c.call(relu_gaussian_stats, mu, sigma, call="relu_gaussian_stats(mu, sigma)",
                                  inputs=inputs), "relu_gaussian_stats", inputs)
            _close_number(c, got[0], p0, inputs=inputs, rtol=1e-6, atol=1e-12, what="the fraction of zeros",
                    hint="relu(z) = 0 exactly when z <= 0, and P(z <= 0) = Phi((0 - mu) / sigma); "
                         "Phi(t) = (1 + erf(t / sqrt(2))) / 2.")
            _close_number(c, got[1], mean, inputs=inputs, rtol=1e-6, atol=1e-12, what="the mean",
                    hint="Write z = mu + sigma*u and integrate over u > -mu/sigma: the result has a term "
                         "mu * Phi(mu/sigma) and a term sigma * phi(mu/sigma). sigma is the standard "
                         "deviation, not the variance.")


def check_simulated_stats(simulate_relu_stats) -> None:
    """``simulate_relu_stats(mu, sigma, n, seed) -> (fraction_zero, mean)`` from n seeded samples."""
    with Check("Exercise 2.4b (ReLU of a Gaussian, simulated)") as c:
        n = 200_000
        for (mu, sigma), (p0, mean, second) in _SIMULATED.items():
            inputs = {"mu": mu, "sigma": sigma, "n": n, "seed": 3}
            got = _pair(c, c.call(simulate_relu_stats, mu, sigma, n, 3,
                                  call="simulate_relu_stats(mu, sigma, n, seed)", inputs=inputs),
                        "simulate_relu_stats", inputs)
            se_p = math.sqrt(p0 * (1 - p0) / n)
            se_m = math.sqrt(max(second - mean * mean, 0.0) / n)
            _close_number(c, got[0], p0, inputs=inputs, rtol=0, atol=6 * se_p + 1e-9,
                          what="the simulated fraction of zeros",
                    hint="Count the samples whose ReLU is exactly 0 (equivalently z <= 0), as a fraction of n. "
                               "normal(mu, sigma, n) takes the standard deviation, not the variance.")
            _close_number(c, got[1], mean, inputs=inputs, rtol=0, atol=6 * se_m + 1e-9, what="the simulated mean",
                    hint="Average relu(z), not z. np.random.default_rng(seed).normal(mu, sigma, n) takes the "
                         "standard deviation, not the variance.")
            again = _pair(c, c.call(simulate_relu_stats, mu, sigma, n, 3,
                                    call="simulate_relu_stats(mu, sigma, n, seed)", inputs=inputs),
                          "simulate_relu_stats", inputs)
            c.require(again == got, "two calls with the same seed gave different results.", inputs=inputs,
                      expected=got, returned=again,
                      hint="Draw the samples from np.random.default_rng(seed), not from the global generator.")
        small = {"mu": 0.0, "sigma": 1.0, "n": 1000}
        first = _pair(c, c.call(simulate_relu_stats, 0.0, 1.0, 1000, 1, call="simulate_relu_stats(0, 1, 1000, 1)",
                                inputs=small), "simulate_relu_stats", small)
        second = _pair(c, c.call(simulate_relu_stats, 0.0, 1.0, 1000, 2, call="simulate_relu_stats(0, 1, 1000, 2)",
                                 inputs=small), "simulate_relu_stats", small)
        c.require(first != second, "seeds 1 and 2 gave exactly the same result for 1000 samples.", inputs=small,
                  expected=Text("two slightly different estimates"), returned=(first, second),
                  hint="Use the seed argument to create the generator, and really simulate: do not return "
                       "the closed-form values.")
        tiny = {"mu": 0.0, "sigma": 1.0, "n": 7, "seed": 4}
        got = _pair(c, c.call(simulate_relu_stats, 0.0, 1.0, 7, 4, call="simulate_relu_stats(0, 1, 7, 4)",
                              inputs=tiny), "simulate_relu_stats", tiny)
        zeros = got[0] * 7
        c.require(abs(zeros - round(zeros)) < 1e-4,
                  f"with n = 7 samples the fraction of zeros must be a whole number of sevenths, but it is "
                  f"{got[0]:.6g} ({zeros:.4g} sevenths).", inputs=tiny,
                  expected=Text("k / 7 for a whole number k"), returned=got[0],
                  hint="Draw exactly n samples: the argument n sets the sample size.")


# -- Exercise 2.5 -------------------------------------------------------------------
_SCALARS = [-2.0, -0.0, 0.0, 1e-300, 3.5, -1e300, math.inf, -math.inf, math.nan]


def _scalar_ok(got, x) -> bool:
    if not isinstance(got, float):
        return False
    if math.isnan(x):
        return math.isnan(got)
    return got == (x if x > 0 else 0.0)


def check_relu_scalar(relu_scalar) -> None:
    """``relu_scalar(x)`` for a Python float: x if x > 0, 0.0 if x <= 0, NaN for NaN; always a float."""
    with Check("Exercise 2.5a (fix the scalar ReLU)") as c:
        for x in _SCALARS:
            inputs = {"x": x}
            got = c.call(relu_scalar, x, call="relu_scalar(x)", inputs=inputs)
            expected = x if (x > 0 or math.isnan(x)) else 0.0
            hint = None
            if got is None:
                hint = "A path through the function reaches its end without `return`: which inputs take it?"
            elif not isinstance(got, float):
                hint = "Return 0.0 (a float), not 0 (an int): the type should not depend on the sign."
            elif math.isnan(x):
                hint = _NAN_HINT
            c.require(_scalar_ok(got, x), f"relu_scalar({x!r}) should be the float {expected!r}.",
                      inputs=inputs, expected=expected, returned=got, hint=hint)


def check_relu_list(relu_list) -> None:
    """``relu_list(values)``: a new list with the ReLU of every float in the list ``values``."""
    rng = np.random.default_rng(25)
    cases = [("empty list", []), ("one element", [-1.0]), ("one element", [2.5]),
             ("special values", [-1.0, 2.0, 0.0, math.nan, math.inf, -math.inf, -0.0]),
             ("1000 random numbers", rng.standard_normal(1000).tolist())]
    with Check("Exercise 2.5b (fix the list ReLU)") as c:
        for label, values in cases:
            inputs = {f"values ({label})": Text(_short(values))}
            arg = list(values)
            got = c.call(relu_list, arg, call="relu_list(values)", inputs=inputs)
            expected = [v if (v > 0 or math.isnan(v)) else 0.0 for v in values]
            c.require(isinstance(got, (list, tuple)), "relu_list should return a list.", inputs=inputs,
                      expected=Text(_short(expected)), returned=got,
                      hint="Return the list itself; a generator or map object is not a list."
                      if got is not None else "Your function returned None. If the `return` is inside the "
                      "loop, an empty list never reaches it.")
            c.require(len(got) == len(values), f"the result has {len(got)} elements, the input {len(values)}.",
                      inputs=inputs, expected=Text(_short(expected)), returned=Text(_short(list(got))),
                      hint="Is the `return` inside the loop? Then the function returns after the first element.")
            bad = [i for i, (g, v) in enumerate(zip(got, values)) if not _scalar_ok(g, v)]
            c.require(not bad, f"{len(bad)} elements are wrong, the first at index {bad[0] if bad else 0}.",
                      inputs=inputs, expected=Text(_short(expected)), returned=Text(_short(list(got))),
                      hint="Every element should be a float: x if x > 0, 0.0 if x <= 0, NaN for NaN.")
            c.require(arg == values or (len(arg) == len(values) and all(
                      (a == b) or (a != a and b != b) for a, b in zip(arg, values))),
                      "relu_list changed the list it was given.", inputs=inputs,
                      expected=Text("values left as they were"), returned=Text(_short(arg)),
                      hint="Build and return a new list.")


def _short(values, k: int = 7) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:k])
    more = f", ... ({len(values)} elements)" if len(values) > k else ""
    return f"[{shown}{more}]"


# -- Exercise 2.6 -------------------------------------------------------------------
SPEEDUP_RANGE = (5.0, 5000.0)
SPEEDUP_FACTOR = 10.0  # how far an answer may be from the checker's own measurement, either way
SPEEDUP_SMALL_N = 100  # at this size NumPy's fixed cost per call dominates: the ratio is much smaller
#: Rounds of measurement, each: the student's function at n = 20 000, the checker's own measurement
#: right after it, then the student's function at SPEEDUP_SMALL_N. The conditions use the medians of
#: the per-round values, so that one round disturbed by other work on the machine decides nothing.
SPEEDUP_ROUNDS = 3


def check_speedup(measure_speedup, *, _reference=None) -> None:
    """``measure_speedup(n)``: time(Python loop) / time(NumPy) for a ReLU of n floats.

    A timing cannot be checked tightly, so the check tests what can be tested,
    over ``SPEEDUP_ROUNDS`` rounds in which the student's function and the
    checker's own measurement run in turns (load on the machine then hits both
    alike) and medians over the rounds: the ratio at n = 20 000 lies in
    ``SPEEDUP_RANGE`` and within ``SPEEDUP_FACTOR`` of the checker's measurement
    of the same round; the median call lasts at least half as long as one pass of the
    Python loop over n numbers (the fastest of ten: so the loop really ran); and the ratio for
    ``SPEEDUP_SMALL_N`` numbers is less than half of the one for 20 000 measured in
    the same round (as it must be when both versions are timed on the same,
    smaller data: NumPy's fixed cost per call then dominates). A call over 30 s
    fails at once. ``_reference`` replaces the checker's own measurement (for the
    tests). An answer off by a factor well below ``SPEEDUP_FACTOR`` (say 2) is not
    caught: on a loaded machine two right measurements differ by up to about 4x.
    """
    from ..benchmark import best_time

    def loop_seconds(n: int) -> float:
        """Best time of one pass of the list comprehension over n numbers, here and now."""
        values = np.random.default_rng(0).standard_normal(n).tolist()
        return best_time(lambda: [v if v > 0 else 0.0 for v in values], repeat=3, min_time=0.01)

    def one_pass_seconds(n: int, passes: int = 10) -> float:
        """Fastest of ``passes`` single passes of the loop: the least disturbed by other work."""
        values = np.random.default_rng(0).standard_normal(n).tolist()
        return min(timeit.repeat(lambda: [v if v > 0 else 0.0 for v in values], number=1, repeat=passes))

    def own_measurement(n: int) -> float:
        x = np.random.default_rng(0).standard_normal(n)
        return loop_seconds(n) / best_time(lambda: np.maximum(x, 0), repeat=3, min_time=0.02)

    lo, hi = SPEEDUP_RANGE
    n, small, f = 20_000, SPEEDUP_SMALL_N, SPEEDUP_FACTOR
    rounds = SPEEDUP_ROUNDS
    per = f"median of {rounds} measurements" if rounds > 1 else "measurement"
    # No call watching here (forbid={}): profiling every call would slow the loop being timed,
    # and the exercise allows relucourse.benchmark; nothing in the package returns the ratio.
    with Check("Exercise 2.6 (Python loop against NumPy)", forbid={}) as c:

        def timed(size):
            start = time.perf_counter()
            value = c.call(measure_speedup, size, call="measure_speedup(n)", inputs={"n": size})
            seconds = time.perf_counter() - start
            c.require(seconds < 30, f"measure_speedup({size}) took {seconds:.0f} s; a few seconds are enough.",
                      inputs={"n": size}, expected=Text("under 30 s"), returned=Text(f"{seconds:.0f} s"))
            return value, c.number(value, what="the measured speed-up", inputs={"n": size}), seconds

        big, refs, smalls, durations, values = [], [], [], [], []
        for _ in range(rounds):
            value, ratio, seconds = timed(n)
            values.append(value)
            big.append(ratio)
            durations.append(seconds)
            refs.append(own_measurement(n) if _reference is None else _reference)
            smalls.append(timed(small)[1])
        big, refs, smalls = np.array(big), np.array(refs), np.array(smalls)
        ratio, ref = float(np.median(big)), float(np.median(refs))
        shown = values[0] if rounds == 1 else Text(", ".join(f"{r:.3g}" for r in big))

        c.require(lo <= ratio <= hi,
                  f"a speed-up of {ratio:.3g} ({per}) is outside the range [{lo:g}, {hi:g}] that any "
                  "ordinary machine gives.",
                  inputs={"n": n}, expected=Text(f"a ratio between {lo:g} and {hi:g}"), returned=shown,
                  hint="Return (time of the Python loop) / (time of NumPy), both for the same n elements. "
                       "A ratio below 1 is upside down; a tiny number is probably a time in seconds.")
        # The median call: one call stretched by the machine's other work (a preempted
        # process) must not make an answer that never ran the loop look as if it had.
        once, typical = one_pass_seconds(n), float(np.median(durations))
        c.require(typical >= 0.5 * once,
                  f"measure_speedup({n}) returned after {typical * 1e3:.2g} ms ({per} of the "
                  f"call's duration), but one pass of the Python loop over {n:,} numbers takes "
                  f"{once * 1e3:.2g} ms here: it cannot have timed the loop.",
                  inputs={"n": n}, expected=Text(f"a call lasting at least {once * 1e3:.2g} ms"),
                  returned=Text(f"{values[0]!r} after {durations[0] * 1e3:.2g} ms, the first time"),
                  hint="Measure the ratio each time the function is called (on n numbers), rather "
                       "than returning a number found earlier.")
        off = float(np.median(big / refs))
        c.require(1 / f <= off <= f,
                  f"your speed-up is {off:.3g} times the one the checker has just measured on this machine "
                  f"({per}, each right after yours): more than {f:g} times away.",
                  inputs={"n": n},
                  expected=Text(f"about the checker's {ref:.3g} (between {ref / f:.3g} and {ref * f:.3g})"),
                  returned=shown,
                  hint="Time both versions on the same n elements and compare time per call with time "
                       "per call: if the two were run a different number of times (timeit's number=...), "
                       "divide each total by its own count.")
        drop = float(np.median(smalls / big))
        c.require(drop < 0.5,
                  f"the speed-up for n = {small} ({float(np.median(smalls)):.3g}) is not much smaller than "
                  f"for n = {n:,} ({ratio:.3g}; {per} each, in turns). For {small} numbers NumPy's fixed "
                  "cost per call (about a microsecond) dominates, so the ratio must drop well below that "
                  f"for {n:,} numbers.",
                  inputs={"n": f"{small} and {n:,}"},
                  expected=Text(f"a ratio below half of the one for n = {n:,}"),
                  returned=Text(", ".join(f"{r:.3g}" for r in smalls)),
                  hint="Build the array and the list from n inside the function and time both "
                       "versions on them; a fixed size or a fixed number does not follow n.")


# -- Exercise 2.7 -------------------------------------------------------------------
def check_block(block) -> None:
    """``block(x, w)`` computes x + relu(tanh(relu(x) @ w)), leaves x alone, and supports backward()."""
    import torch

    def reference(x, w):
        return x + torch.relu(torch.tanh(torch.relu(x) @ w))

    gen = torch.Generator().manual_seed(27)
    x0 = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    x0[:, 0] = x0[:, 0].abs() + 0.1          # every row has a positive entry
    w0 = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    v = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    inputs = {"x": x0, "w": w0}
    with Check("Exercise 2.7 (in-place ReLU and autograd)") as c:
        x = x0.clone()
        with torch.no_grad():
            w = w0.clone()
            # x is compared below, with a hint about inplace=True; w must stay as it was too.
            y = c.call(block, x, w, call="block(x, w)", inputs=inputs, in_place=True)
        expected = reference(x0, w0)
        c.require(torch.equal(x, x0), "block(x, w) changed the caller's tensor x.", inputs=inputs,
                  expected=x0, returned=x,
                  hint="F.relu(x, inplace=True) overwrites x itself, and the skip connection then adds "
                       "relu(x) instead of x.")
        c.require(torch.equal(w, w0), "block(x, w) changed the caller's tensor w.", inputs=inputs,
                  expected=w0, returned=w, hint="Leave the weights alone: compute new tensors.")
        c.close(y, expected, inputs=inputs, rtol=1e-10, atol=1e-12, what="block(x, w)")

        xg, wg = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)

        def forward_backward():
            out = block(xg, wg)
            c.array(out, what="block(x, w)", inputs=inputs, shape=tuple(x0.shape))
            (out * v).sum().backward()
            return out

        c.call(forward_backward, call="(block(x, w) * v).sum().backward()", inputs=inputs)
        xr, wr = x0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
        (reference(xr, wr) * v).sum().backward()
        hint = ("A gradient that is None or wrong usually means part of the computation was detached "
                "(.detach(), .data, torch.no_grad()) instead of written without inplace=True.")
        c.close(xg.grad, xr.grad, inputs=inputs, rtol=1e-10, atol=1e-12, what="the gradient with respect to x",
                hint=hint)
        c.close(wg.grad, wr.grad, inputs=inputs, rtol=1e-10, atol=1e-12, what="the gradient with respect to w",
                hint=hint)

