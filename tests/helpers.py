"""Shared helpers for the checker tests: run a checker, assert it passes or fails clearly."""

from __future__ import annotations

import contextlib
import io

import pytest

from relucourse.checking import CheckFailed


def expect_pass(checker, *answers) -> str:
    """Run ``checker(*answers)``; it must print a ✅ line and raise nothing. Returns the printed text."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        checker(*answers)
    out = buf.getvalue()
    assert out.startswith("✅"), out
    return out


def expect_fail(checker, *answers, mentions=(), values: bool = True) -> str:
    """Run ``checker(*answers)``; it must raise CheckFailed (nothing else) with a complete message.

    ``values``: the message must show an input and the expected and returned values.
    ``mentions``: further fragments the message must contain.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(CheckFailed) as info:
            checker(*answers)
    msg = str(info.value)
    assert msg.startswith("❌"), msg
    assert "checker itself failed" not in msg, msg
    if values:
        for part in ("Input", "Expected", "Returned"):
            assert part in msg, f"message lacks {part!r}:\n{msg}"
    for part in mentions:
        assert part in msg, f"message lacks {part!r}:\n{msg}"
    return msg


def stub(*args, **kwargs):
    """What an unsolved exercise does."""
    raise NotImplementedError()


def returns_none(*args, **kwargs):
    return None


def returns_text(*args, **kwargs):
    return "I am not sure"


def raises_value_error(*args, **kwargs):
    raise ValueError("something went wrong in the student's code")


#: Malformed answers that every checker must reject with a clear message.
MALFORMED = {
    "unsolved stub": (stub, "NotImplementedError"),
    "returns None": (returns_none, "None"),
    "returns a string": (returns_text, "str"),
    "raises ValueError": (raises_value_error, "ValueError"),
}


def assert_rejects_malformed(checker) -> None:
    """Every malformed answer gets CheckFailed with a message that names the problem."""
    for name, (answer, fragment) in MALFORMED.items():
        msg = expect_fail(checker, answer, mentions=(fragment,), values=False)
        assert "Traceback" not in msg, (name, msg)
