"""The checker framework itself: messages, error handling, display without traceback."""

import numpy as np
import pytest

from helpers import expect_fail, expect_pass
from relucourse.checking import Check, CheckFailed, describe


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
