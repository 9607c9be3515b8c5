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
