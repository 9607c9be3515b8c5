"""The checker framework itself: messages, error handling, display without traceback."""

import contextlib
import io

import numpy as np
import pytest

from helpers import expect_fail, expect_pass
from relucourse.checking import Check, CheckFailed, describe, format_float


def _checker(fn):
    with Check("demo") as c:
        x = np.array([1.0, -2.0, np.nan], dtype=np.float32)
        c.close(c.call(fn, x, call="f(x)", inputs={"x": x}), np.array([2.0, -4.0, np.nan], np.float32),
                inputs={"x": x}, check_dtype=True)


def test_passes_and_counts():
    assert expect_pass(_checker, lambda x: 2 * x) == "✅ demo: all 1 checks passed.\n"


@pytest.mark.parametrize("wrong, fragment", [
    (lambda x: x + x + 1, "2 of 3 values differ"),              # wrong values (NaN stays NaN)
    (lambda x: (2 * x).astype(np.float64), "dtype float64"),   # upcast
    (lambda x: 2 * x[:2], "shape (2,)"),                       # wrong shape
    (lambda x: np.nan_to_num(2 * x), "values differ"),         # NaN not propagated
])
def test_wrong_answers_are_explained(wrong, fragment):
    msg = expect_fail(_checker, wrong, mentions=(fragment,), values=False)
    assert "Input     x = array([ 1., -2., nan], dtype=float32)" in msg


def test_values_shown_for_value_mismatch():
    expect_fail(_checker, lambda x: 3 * x, mentions=("first at index (0,)",))


@pytest.mark.parametrize("answer, fragment", [
    (None, "expected a function"),
    (lambda x: None, "is None"),
    (lambda x: "two", "str"),
    (lambda x: 1 / 0, "ZeroDivisionError"),
    (lambda x: np.log(-np.ones(3)), "RuntimeWarning"),
])
def test_malformed_answers(answer, fragment):
    expect_fail(_checker, answer, mentions=(fragment,), values=False)


def test_stub_is_reported_as_unsolved():
    def stub(x):
        raise NotImplementedError()
    expect_fail(_checker, stub, mentions=("not solved yet",), values=False)


def test_checker_bug_is_reported_as_such():
    def broken_checker(fn):
        with Check("demo"):
            raise KeyError("oops")
    with pytest.raises(CheckFailed, match="checker itself failed"):
        broken_checker(None)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_an_interrupt_is_not_reported_as_a_checker_bug(interrupt):
    """Ctrl-C, or nbgrader's timeout interrupting the kernel, passes through unchanged."""
    with pytest.raises(interrupt):
        with Check("demo", quiet=True):
            raise interrupt()


def test_a_0d_array_reads_as_a_number():
    assert describe(np.array(2 / 3)) == "0.6666666667  (float64)"
    assert describe(np.array(2.0, dtype=np.float32)) == "2.0  (float32)"
    assert describe(np.array(3)) == "3  (int64)"
    assert describe(np.array(True)) == "True  (bool)"
    import torch
    assert describe(torch.tensor(0.5)) == "tensor 0.5  (float32)"
    for text in map(describe, (np.array(0.25), torch.tensor(1.0))):
        assert "array(" not in text and "shape" not in text, text


def test_jupyter_shows_message_without_traceback():
    err = CheckFailed("❌ line one\n   line two")
    assert err._render_traceback_() == ["❌ line one", "   line two"]


def test_describe_is_deterministic_and_short():
    assert describe(np.arange(100.0)).count(",") < 12
    assert describe(1.5) == "1.5  (float)"
    import torch
    assert describe(torch.tensor([1.0])).startswith("tensor array([1.]")


def test_number_and_equal():
    with Check("n", quiet=True) as c:
        assert c.number(np.float32(2.5)) == 2.5
        c.equal((1, 2), (1, 2))
    with pytest.raises(CheckFailed, match="single number"):
        with Check("n", quiet=True) as c:
            c.number(np.ones(2))
    with pytest.raises(CheckFailed, match="not a finite number"):
        with Check("n", quiet=True) as c:
            c.number(float("inf"))


# -- what a first-time reader stumbled on (issue 13) --------------------------------------------
def test_a_long_array_states_its_shape_once():
    """NumPy 2 puts "shape=(66,)" into the repr of a summarised array; describe gives it once."""
    text = describe(np.arange(66.0))
    assert "shape=" not in text and text.count("(66,)") == 1, text
    assert text.endswith("dtype=float64)  (shape (66,))"), text
    text = describe(np.zeros((3, 40), dtype=np.float32))
    assert "shape=" not in text and text.endswith("dtype=float32)  (shape (3, 40))"), text


@pytest.mark.parametrize("value, text", [
    (0.0, "0.0  (float)"), (-0.0, "-0.0  (float)"), (2.0, "2.0  (float)"),
    (np.float32(0.0), "0.0  (float32)"), (1e20, "1e+20  (float)"), (float("nan"), "nan  (float)"),
    (0.1, "0.1  (float)"), (3, "3  (int)"),
])
def test_a_float_reads_as_a_float(value, text):
    assert describe(value) == text
    assert format_float(0.0) == "0.0"


def _named(call):
    def checker(fn):
        with Check("demo") as c:
            x = np.array([1.0, -2.0])
            c.close(c.call(fn, x, call=call), 2 * x, inputs={"x": x})
    return checker


def test_the_call_is_shown_with_the_function_s_name():
    def sigmoid(x):
        raise ValueError("boom")
    msg = expect_fail(_named("your function(x)"), sigmoid, values=False)
    assert "sigmoid(x) raised ValueError: boom" in msg and "your function" not in msg, msg
    # a lambda has no name worth showing
    msg = expect_fail(_named("your function(x)"), lambda x: 1 / 0, values=False)
    assert "your function(x) raised ZeroDivisionError" in msg, msg
    # a label the checker wrote stays as it is
    msg = expect_fail(_named("relu(x)"), sigmoid, values=False)
    assert "relu(x) raised ValueError" in msg, msg


def test_the_inputs_are_shown_when_the_checker_names_none():
    def checker(fn):
        with Check("demo") as c:
            c.call(fn, 3.0, 0.0, call="ratio(a, b)")
    msg = expect_fail(checker, lambda a, b: a / b, values=False)
    assert "Input     a = 3.0  (float)" in msg and "Input     b = 0.0  (float)" in msg, msg

    def literal(fn):                   # the label shows the values itself: no input lines
        with Check("demo") as c:
            c.call(fn, 3.0, 0.0, call="ratio(3, 0)")
    assert "Input" not in expect_fail(literal, lambda a, b: a / b, values=False)


def _warns_checker(x):
    def checker(fn):
        with Check("demo") as c:
            c.call(fn, x.copy(), call="your function(x)", inputs={"x": x})
    return checker


def test_a_warning_names_the_element_that_causes_it():
    def naive_sigmoid(x):
        print("called")
        return 1 / (1 + np.exp(-x))
    x = np.array([0.0, 1.0, -1000.0, 5.0, -2000.0])
    shown = io.StringIO()              # the student's print is not repeated by the search
    with contextlib.redirect_stdout(shown), pytest.raises(CheckFailed):
        _warns_checker(x)(naive_sigmoid)
    assert shown.getvalue() == "called\n"
    msg = expect_fail(_warns_checker(x), naive_sigmoid, values=False,
                      mentions=("naive_sigmoid(x) emitted a RuntimeWarning: overflow encountered in exp.",
                                "The first element that warns on its own: x[2] = -1000.0."))
    assert "Input     x = array(" in msg
    m = np.array([[1.0, 2.0], [800.0, 3.0]])
    expect_fail(_warns_checker(m), np.exp, values=False, mentions=("x[(1, 0)] = 800.0",))


def test_a_warning_of_the_whole_array_names_no_element():
    """exp(sum(x)) overflows for the array, never for one element: no element is blamed."""
    x = np.array([400.0, 400.0])
    msg = expect_fail(_warns_checker(x), lambda v: np.exp(v.sum()), values=False,
                      mentions=("emitted a RuntimeWarning",))
    assert "warns on its own" not in msg, msg


# -- Issue 17: calls the answer makes, inputs changed in place, types, digits, Run All ----------------
import functools
import sys

from relucourse import activations
from relucourse.checking import COURSE_CODE, NO_TORCH, NotAnswered, format_pair, library_versions


def _relu_checker(fn, **options):
    with Check("demo", **options) as c:
        x = np.array([1.0, -2.0, 0.5])
        c.close(c.call(fn, x, call="relu(x)", inputs={"x": x}), np.maximum(x, 0), inputs={"x": x})


def _relu_wrapper(x):
    return activations.relu(x)


class _Callable:
    def __call__(self, x):
        return activations.relu(x)


@pytest.mark.parametrize("answer", [
    lambda x: activations.relu(x),                               # a lambda
    _relu_wrapper,                                               # a def
    functools.partial(activations.relu),                         # a partial (no frame of its own)
    _Callable(),                                                 # a callable object
    lambda x: np.vectorize(lambda v: float(activations.relu(np.array(v))))(x),  # called by NumPy
    activations.relu,                                            # handed over as it is
])
def test_a_call_into_the_course_code_is_named(answer):
    expect_fail(_relu_checker, answer, values=False,
                mentions=("relu(x) calls relucourse.activations.relu", "Write the computation yourself"))


def test_the_answer_stops_at_its_first_forbidden_call():
    # A wrapper around a slow course function (training, say) fails at once: what it would
    # do next never runs, and an `except Exception` in the answer does not swallow the stop.
    after = []

    def answer(x):
        try:
            out = activations.relu(x)
        except Exception:  # noqa: BLE001 - what a student might write
            out = np.maximum(x, 0)
        after.append("ran on")
        return out
    expect_fail(_relu_checker, answer, values=False,
                mentions=("relu(x) calls relucourse.activations.relu",))
    assert after == [] and sys.getprofile() is None

    # Checks inside checks: the inner check's stop is its own, the outer one still watches.
    def outer(fn):
        with Check("outer") as c:
            c.call(lambda: _relu_checker(fn), call="inner()")
    expect_fail(outer, answer, values=False, mentions=("relu(x) calls relucourse.activations.relu",))
    assert after == [] and sys.getprofile() is None


def test_a_forbidden_call_inside_a_finaliser_is_not_an_unraisable_error():
    # The garbage collector closes a generator while the answer runs; its clean-up makes
    # the first forbidden call. The answer cannot be stopped there; the check still fails.
    import gc

    def batches():
        try:
            yield 1
        finally:
            activations.relu(np.zeros(1))

    def answer(x):
        started = batches()
        next(started)
        del started
        gc.collect()
        return np.maximum(x, 0)
    seen = []
    previous, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        expect_fail(_relu_checker, answer, values=False,
                    mentions=("relu(x) calls relucourse.activations.relu",))
    finally:
        sys.unraisablehook = previous
    assert seen == []


def test_a_forbidden_library_function_is_named_and_others_are_allowed():
    import torch
    import torch.nn.functional as F

    no_torch = {**COURSE_CODE, **NO_TORCH}
    expect_fail(functools.partial(_relu_checker, forbid=no_torch),
                lambda x: torch.relu(torch.from_numpy(x)).numpy(), values=False,
                mentions=("calls torch.from_numpy",))
    only_relu = {**COURSE_CODE, **library_versions("relu", "ReLU")}
    for wrapper, named in [(lambda x: torch.relu(torch.from_numpy(x)).numpy(), "torch.relu"),
                           (lambda x: torch.from_numpy(x).relu().numpy(), "torch.Tensor.relu"),
                           (lambda x: F.relu(torch.from_numpy(x)).numpy(), "torch.nn.functional.relu"),
                           (lambda x: torch.nn.ReLU()(torch.from_numpy(x)).numpy(),
                            "torch.nn.modules.activation.ReLU")]:
        expect_fail(functools.partial(_relu_checker, forbid=only_relu), wrapper, values=False,
                    mentions=(f"calls {named}",))
    # Other PyTorch operations, NumPy and the allowed parts of the package are fine.
    expect_pass(functools.partial(_relu_checker, forbid=only_relu),
                lambda x: torch.clamp(torch.from_numpy(x), min=0).numpy())
    expect_pass(_relu_checker, lambda x: np.maximum(x, 0))
    expect_pass(functools.partial(_relu_checker, allow=("relucourse.activations.relu",)),
                lambda x: activations.relu(x))
    expect_pass(functools.partial(_relu_checker, forbid={}), lambda x: activations.relu(x))


def test_the_checkers_own_calls_and_allowed_functions_inner_calls_do_not_count():
    # relucourse.activations.sigmoid (allowed) calls _float_array (not allowed) inside itself;
    # the checker calls the course code itself outside the answer.
    def checker(fn):
        with Check("demo", allow=("relucourse.activations.sigmoid",)) as c:
            x = np.array([0.5, -1.0])
            expected = activations.sigmoid_grad(x)                    # the checker's own call
            c.close(c.call(fn, x, call="dsigmoid(x)"), expected, inputs={"x": x})
    expect_pass(checker, lambda x: activations.sigmoid(x) * (1 - activations.sigmoid(x)))
    expect_fail(checker, lambda x: activations.sigmoid_grad(x), values=False,
                mentions=("calls relucourse.activations.sigmoid_grad",))
    assert sys.getprofile() is None, "the watch is removed after the call"


def test_a_changed_input_is_reported_unless_in_place_is_asked():
    def in_place(x):
        x[x < 0] = 0
        return x
    msg = expect_fail(_relu_checker, in_place, mentions=("relu(x) changed its input x in place",
                                                         "x before the call"))
    assert "Expected  x unchanged" in msg

    def checker(fn):
        with Check("demo") as c:
            x = np.array([1.0, -2.0])
            c.close(c.call(fn, x, call="relu(x)", in_place=True), np.array([1.0, 0.0]))
    expect_pass(checker, in_place)


def test_a_changed_tensor_is_reported():
    import torch

    def checker(fn):
        with Check("demo") as c:
            x = torch.tensor([1.0, -2.0])
            c.close(c.call(fn, x, call="relu(x)"), np.array([1.0, 0.0]))
    expect_fail(checker, lambda x: x.clamp_(min=0), mentions=("changed its input x in place",))
    expect_pass(checker, lambda x: x.clamp(min=0))


def test_kind_names_the_type_returned():
    import torch

    def checker(fn):
        with Check("demo") as c:
            c.kind(fn(), (np.ndarray, np.generic), asked="a NumPy array (numpy.ndarray)", what="the result")
    expect_pass(checker, lambda: np.zeros(2))
    expect_pass(checker, lambda: np.float64(1.0))
    expect_fail(checker, lambda: torch.zeros(2), values=False,
                mentions=("the result should be a NumPy array (numpy.ndarray), but it is a torch.Tensor",))
    expect_fail(checker, lambda: [0.0], values=False, mentions=("but it is a list",))

    def counts(fn):
        with Check("demo") as c:
            c.kind(fn(), int, asked="an int (a Python int)", what="count", returns=True)
    expect_pass(counts, lambda: 3)
    expect_fail(counts, lambda: np.int64(3), values=False,
                mentions=("count should return an int (a Python int), but it returned a numpy.int64",))
    expect_fail(counts, lambda: True, values=False, mentions=("returned a bool",))


def test_numbers_that_differ_are_shown_with_enough_digits():
    assert format_pair(20.0, 20.000000002061153) == ("20", "20.000000002")
    shown = format_pair(0.1, 0.1 + 2 ** -55)
    assert shown[0] != shown[1] and float(shown[0]) == 0.1 and float(shown[1]) == 0.1 + 2 ** -55

    def checker(fn):
        with Check("demo") as c:
            x = np.array([1.0, 20.0])
            c.close(c.call(fn, x), np.array([1.0, 20.000000002061153]), rtol=1e-12, inputs={"x": x})
    expect_fail(checker, lambda x: x, mentions=("expected 20.000000002, got 20)",))


def test_an_unsolved_stub_is_not_answered():
    def stub(x):
        raise NotImplementedError()
    with pytest.raises(NotAnswered, match="not solved yet"):
        with contextlib.redirect_stdout(io.StringIO()):
            _checker(stub)


@pytest.mark.parametrize("environment", [{}, {"NBGRADER_EXECUTION": "autograde"},
                                         {"NBGRADER_EXECUTION": "validate"}, {"RELUCOURSE_STRICT_CHECKS": "1"}])
def test_in_a_students_kernel_a_check_reports_and_returns(monkeypatch, capsys, environment):
    """Jupyter kernel without nbgrader: report and return; under nbgrader (or strict): raise."""
    import IPython

    class Kernel:                       # what get_ipython() is in a Jupyter kernel: it has a kernel
        kernel = object()
    monkeypatch.setattr(IPython, "get_ipython", lambda: Kernel())
    for name in ("NBGRADER_EXECUTION", "RELUCOURSE_STRICT_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    def stub(x):
        raise NotImplementedError()
    wrong = lambda x: 3 * x                                      # noqa: E731
    if environment:
        with pytest.raises(NotAnswered):
            _checker(stub)
        with pytest.raises(CheckFailed, match="values differ"):
            _checker(wrong)
        return
    _checker(stub)
    out = capsys.readouterr()
    assert out.out.startswith("⏳ demo: not answered yet.") and out.err == ""
    _checker(wrong)
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("❌ demo: not yet right.") and "values differ" in out.err
    assert "Run All goes on" in out.err
    _checker(lambda x: 2 * x)
    assert capsys.readouterr().out.startswith("✅")


def test_outside_a_kernel_a_check_raises():
    from relucourse.checking import reports_instead_of_raising
    assert not reports_instead_of_raising()          # pytest: no IPython kernel


def test_not_answered_names_another_exercises_stub(monkeypatch, capsys):
    """2.5b's relu_list may call 2.5a's relu_scalar: the report names the stub that raised."""
    import IPython

    def relu_scalar(x):
        raise NotImplementedError()

    def relu(x):
        return relu_scalar(x)

    with pytest.raises(NotAnswered, match="from relu_scalar, which is still a stub"):
        with contextlib.redirect_stdout(io.StringIO()):
            _relu_checker(relu)

    class Kernel:
        kernel = object()
    monkeypatch.setattr(IPython, "get_ipython", lambda: Kernel())
    for name in ("NBGRADER_EXECUTION", "RELUCOURSE_STRICT_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    _relu_checker(relu)
    assert capsys.readouterr().out.startswith("⏳ demo: not answered yet (relu_scalar is still a stub).")
