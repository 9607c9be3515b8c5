"""Validation of a settings dict that an exercise answer returns (exercises 4.4, 4.5 and 6.1).

Those exercises ask for the changes to a training script as data, such as
``{"lr": 0.05, "init": "he"}``. :func:`validate_settings` checks such a dict
inside a :class:`relucourse.checking.Check` and fails with the same kind of
message for every exercise: the key that may not be changed, the value that
is not one of the choices, the number out of range.

>>> is_real(3), is_real(2.5), is_real(True), is_real("1")
(True, True, False, False)
"""

from __future__ import annotations

import math
import numbers
from typing import Collection, Mapping

import numpy as np

from ..checking import Check, Text


def is_real(value) -> bool:
    """A real number: int, float or a NumPy scalar, but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _describe(low: float, high: float) -> str:
    if high == math.inf:
        return "a finite number" + ("" if low == -math.inf else f" > {low:g}")
    return f"a number between {low:g} and {high:g}"


def validate_settings(c: Check, settings, *, what: str, allowed: Collection[str],
                      choices: Mapping[str, tuple], ranges: Mapping[str, tuple[float, float]],
                      optional: Collection[str] = (), example: str = "{'lr': 0.05}",
                      fixed: str = "") -> dict:
    """Check a settings dict inside ``c``; return it with its numbers as Python floats.

    Args:
        c: the running check (failures are reported through it).
        settings: what the student's function returned.
        what: the call that returned it, for the messages (``"kill()"``).
        allowed: the keys that may be set.
        choices: key -> the allowed values; a value must equal one of them and have its type.
        ranges: key -> ``(low, high)``: a finite number with ``low < value <= high``.
        optional: keys of ``ranges`` that may also be None.
        example: a valid dict, shown when ``settings`` is not a dict.
        fixed: a hint naming what stays fixed, shown for a key that may not be set.

    Returns:
        ``settings`` with every number in ``ranges`` converted to ``float``.

    Raises:
        relucourse.checking.CheckFailed: for the first problem found.
    """
    inputs = {"function": Text(what)}
    c.require(isinstance(settings, dict), f"{what} should return a dict of settings, not "
              f"{type(settings).__name__}.", inputs=inputs, expected=Text(f"a dict such as {example}"),
              returned=settings)
    for key, value in settings.items():
        c.require(key in allowed, f"{what}: {key!r} is not a setting you may change.", inputs=inputs,
                  expected=Text(f"keys among {sorted(allowed)}"), returned=settings, hint=fixed)
        if key in choices:
            c.require(any(value == v and type(value) is type(v) for v in choices[key]),
                      f"{what}: {key}={value!r} is not one of {choices[key]}.", inputs=inputs,
                      expected=Text(f"one of {choices[key]}"), returned=settings)
        elif key in ranges:
            low, high = ranges[key]
            wanted = ("None or " if key in optional else "") + _describe(low, high)
            ok = (value is None and key in optional) or (
                is_real(value) and math.isfinite(value) and low < value <= high)
            c.require(ok, f"{what}: {key} must be {wanted}.", inputs=inputs, expected=Text(wanted),
                      returned=settings)
    return {k: (float(v) if k in ranges and is_real(v) else v) for k, v in settings.items()}
