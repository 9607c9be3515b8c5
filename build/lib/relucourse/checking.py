"""The checker framework that every exercise notebook calls.

A check cell in an exercise notebook calls one ``check_*`` function from
:mod:`relucourse.exercises`. That function opens a :class:`Check`, calls the
student's code through it and compares what comes back with a reference. The
outcome is one of two things:

* every comparison agrees: one line starting with ``✅`` is printed;
* something is wrong: :class:`CheckFailed` is raised. Jupyter shows only its
  message (which input, what was expected, what came back, a hint), not a
  traceback through this module.

In a student's own Jupyter kernel (not under nbgrader, see
:func:`reports_instead_of_raising`) a check does not raise: it prints its ❌
message to stderr (shown in a red box) or, for an exercise whose stub has not
been replaced yet, a line saying it is not answered yet, and returns, so that
"Run All" goes on to the next exercise. Under nbgrader (which sets
``NBGRADER_EXECUTION`` in the kernel it starts), in scripts and in tests it
raises, so that a failed or unanswered check scores 0.

While a check runs the student's code (:meth:`Check.call`) it watches the
calls that code makes: a call into the course's own reference code, or into a
library that the exercise forbids, fails the check with the function's name.

Student code that raises, returns ``None``, returns the wrong type or the wrong
shape, or emits a warning is reported the same way, so a student never has to
read a traceback from inside a checker.

Example
-------
>>> import numpy as np
>>> def check_double(fn):
...     with Check("Exercise 0.1 (double)") as c:
...         x = np.array([1.0, -2.0])
...         c.close(c.call(fn, x, call="double(x)"), 2 * x, inputs={"x": x})
>>> check_double(lambda x: x + x)
✅ Exercise 0.1 (double): all 1 checks passed.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
import re
import sys
import warnings
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["Check", "CheckFailed", "NotAnswered", "Text", "COURSE_CODE", "NO_TORCH", "describe",
           "format_float", "format_pair", "library_versions", "reports_instead_of_raising",
           "to_numpy"]

#: What no answer may call while its check runs it, unless the check allows it: the course
#: package (reference implementations, gradients, diagnostics, ...). The checker framework
#: and the checkers themselves are never counted (a checker may hand its own helpers to an
#: answer, such as the ``relu`` of exercise 2.3).
COURSE_CODE = {"relucourse": "the course's own code, which the exercise does not allow here"}
#: For exercises that ask for NumPy code (or a derivation) where PyTorch has the answer.
NO_TORCH = {"torch": "PyTorch, which this exercise does not allow (write it with NumPy)"}


def library_versions(name: str, module_class: str) -> dict[str, str]:
    """PyTorch's own implementations of the activation ``name``, to forbid in an exercise that asks for it.

    ``library_versions("gelu", "GELU")`` covers ``F.gelu`` (a Python function or a
    built-in, depending on the function), ``torch.gelu``, the tensor method and the
    module ``nn.GELU``.
    """
    why = f"PyTorch's own {name}, the function this exercise asks you to write"
    return {prefix: why for prefix in (f"torch.nn.functional.{name}", f"torch._C._nn.{name}",
                                       f"torch.{name}", f"torch.Tensor.{name}",
                                       f"torch.nn.modules.activation.{module_class}")}


_NEVER_WATCHED = ("relucourse.checking", "relucourse.exercises")
#: Environment variables that make a check raise even in a Jupyter kernel: nbgrader sets the
#: first in the kernels it starts (``autograde``, ``validate``); the second is the course's own.
STRICT_ENVIRONMENT = ("NBGRADER_EXECUTION", "RELUCOURSE_STRICT_CHECKS")

_MISSING = object()


class Text(str):
    """A string shown as it is in a feedback message (not quoted), e.g. ``Text("an array of shape (3,)")``."""


class CheckFailed(AssertionError):
    """A check found a problem with the student's answer.

    The message is complete on its own. In IPython and Jupyter the exception is
    displayed as that message alone (``_render_traceback_``), without the
    frames of the checker that raised it.
    """

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


class NotAnswered(CheckFailed):
    """The answer is still the stub: it raised ``NotImplementedError``.

    ``stub`` is the name of the function that raised it (the answer itself, or
    another exercise's function that the answer calls).
    """

    def __init__(self, message: str, stub: str | None = None):
        super().__init__(message)
        self.stub = stub


def reports_instead_of_raising() -> bool:
    """True in a student's own Jupyter kernel: a check then reports a failure and returns.

    False under nbgrader (``NBGRADER_EXECUTION`` is set in the kernel it
    starts for autograding and validating), when ``RELUCOURSE_STRICT_CHECKS``
    is set, and outside a Jupyter kernel (scripts, pytest, a plain IPython
    shell): there a failed check raises :class:`CheckFailed`.
    """
    if any(os.environ.get(name) for name in STRICT_ENVIRONMENT):
        return False
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _c_name(fn: Any) -> str:
    """The dotted name of a built-in function or method, e.g. ``torch.relu``, ``torch.Tensor.relu``."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "?")
    if owner is None or isinstance(owner, type(sys)):
        module = owner.__name__ if owner is not None else (getattr(fn, "__module__", None) or "")
        return f"{module}.{name}"
    kind = owner if isinstance(owner, type) else type(owner)
    return f"{kind.__module__}.{kind.__qualname__}.{name}"


class _CallWatch:
    """A profile function that stops the answer at its first forbidden call, and records it.

    A call counts when the function called is under a forbidden prefix (and not
    under an allowed one) and the code that calls it is not itself part of the
    course package or of the forbidden library (so a library's internal calls,
    and the calls an allowed function makes, do not count).
    """

    def __init__(self, forbid: Mapping[str, str], allow: tuple[str, ...], outer=None, origin=None):
        self.origin = origin        # the checker's frame that calls the answer: its calls count
        self.rules = tuple(forbid.items())
        # What can be found at all: a forbidden prefix inside an allowed one cannot (and with
        # nothing left to watch, the answer runs without the profile's cost).
        self.prefixes = tuple(p for p in forbid if not any(_under(p, a) for a in allow))
        self.roots = tuple({p.split(".")[0] for p in forbid})
        self.allow = tuple(allow) + _NEVER_WATCHED
        self.outer = outer
        self.found: tuple[str, str] | None = None
        self.importing = None       # the module being imported: calls made while it runs do not count

    def reason(self, name: str) -> str | None:
        for prefix, why in self.rules:
            if _under(name, prefix):
                return None if any(_under(name, a) for a in self.allow) else why
        return None

    def inside(self, module: str) -> bool:
        return (_under(module, "relucourse") or module.startswith("importlib")
                or any(_under(module, root) for root in self.roots))

    def __call__(self, frame, event, arg):
        if self.found is None:
            try:
                self.watch(frame, event, arg)
            except Exception:  # noqa: BLE001 - a bug here must not stop the answer
                pass
            if self.found is not None:
                # Stop the answer at once (the innermost check first): the check fails whatever
                # it would return, and a wrapper around a function that trains for seconds
                # should not make it wait.
                raise _Stopped(self)
        if self.outer is not None:
            self.outer(frame, event, arg)

    def watch(self, frame, event, arg) -> None:
        """Record ``found`` = (name, reason) at the first forbidden call."""
        if self.found is not None:
            return
        if self.importing is not None:
            if event == "return" and frame is self.importing:
                self.importing = None
            return
        if event == "call":
            code = frame.f_code
            if code.co_name == "<module>":      # an import runs the module's code (and dataclasses')
                self.importing = frame
                return
            module = frame.f_globals.get("__name__") or ""
            if not module.startswith(self.roots):
                return
            name = f"{module}.{code.co_qualname}"
            calling = frame.f_back
        elif event == "c_call":
            name = _c_name(arg)
            if not name.startswith(self.prefixes):
                return
            calling = frame
        else:
            return
        why = self.reason(name)
        if why is None:
            return
        caller = calling.f_globals.get("__name__") or "" if calling is not None else ""
        if calling is self.origin or not self.inside(caller):
            self.found = (name, why)


class _Stopped(BaseException):
    """Raised by a :class:`_CallWatch` at the first forbidden call, to end the answer's run.

    A ``BaseException``, so that an answer's ``except Exception`` does not swallow it.
    """

    def __init__(self, watch: _CallWatch):
        super().__init__(watch.found)
        self.watch = watch


def _quiet_stop(hook, unraisable) -> None:
    """An unraisable-exception hook that drops a :class:`_Stopped` (passes on the others).

    A forbidden call made inside a finaliser (a generator closed by the garbage
    collector, a weak reference's callback) cannot stop the answer: Python reports
    the exception as "ignored" and goes on. The call is recorded all the same, and
    the check fails when the answer returns.
    """
    if not isinstance(unraisable.exc_value, _Stopped):
        hook(unraisable)


def _snapshot(args: tuple, kwargs: Mapping[str, Any]) -> list[tuple[int | str, Any, np.ndarray]]:
    """Copies of the arrays and tensors among the arguments: (position or name, object, copy)."""
    out = []
    for key, value in [*enumerate(args), *kwargs.items()]:
        if isinstance(value, np.ndarray) or _is_tensor(value):
            out.append((key, value, to_numpy(value).copy()))
    return out


def _unchanged(value: Any, before: np.ndarray) -> bool:
    now = to_numpy(value)
    if now.shape != before.shape or now.dtype != before.dtype:
        return False
    return bool(np.array_equal(now, before, equal_nan=before.dtype.kind in "fc"))


def describe(value: Any, *, max_items: int = 8) -> str:
    """A short, deterministic description of a value for a feedback message.

    Arrays and tensors show their values (at most ``max_items`` of them), dtype
    and shape (a 0-d array, its number and dtype); other objects show their
    type and ``repr``.

    >>> describe(np.array([0.5, 1.0], dtype=np.float32))
    'array([0.5, 1. ], dtype=float32)  (shape (2,))'
    >>> describe(np.array(2 / 3))
    '0.6666666667  (float64)'
    >>> describe(None)
    'None'
    """
    if value is None:
        return "None"
    if isinstance(value, Text):
        return str(value)
    if _is_tensor(value):
        arr = value.detach().cpu().numpy()
        return "tensor " + describe(arr, max_items=max_items)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        # A 0-d array (e.g. ``np.mean(x)`` kept as an array, or a scalar tensor)
        # reads as the number it holds, with its dtype.
        item = value.item()
        text = format_float(item) if isinstance(item, float) else repr(item)
        return f"{text}  ({value.dtype})"
    if isinstance(value, np.ndarray):
        with np.printoptions(precision=6, threshold=max_items, edgeitems=3, suppress=False):
            text = repr(value)
        text = " ".join(text.split())
        # NumPy 2 writes "shape=(66,)" into the repr of a summarised array; the shape is
        # given once, at the end, for every array.
        text = re.sub(r",\s*shape=\([0-9, ]*\)", "", text)
        if "dtype" not in text:
            text = f"{text[:-1]}, dtype={value.dtype})"
        return f"{text}  (shape {value.shape})"
    if isinstance(value, (float, np.floating)):
        return f"{format_float(value)}  ({type(value).__name__})"
    if isinstance(value, (bool, np.bool_, numbers.Integral, str)):
        return f"{value!r}  ({type(value).__name__})"
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{text}  ({type(value).__name__})"


def format_float(value: Any) -> str:
    """A float with up to 10 significant digits that still reads as a float.

    >>> [format_float(v) for v in (0.0, -0.0, 2.0, 0.1, 1e20, float("nan"))]
    ['0.0', '-0.0', '2.0', '0.1', '1e+20', 'nan']
    """
    text = f"{float(value):.10g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def _is_tensor(value: Any) -> bool:
    # Avoid importing torch just to ask.
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def to_numpy(value: Any) -> np.ndarray:
    """Convert a tensor, array, list or number to a NumPy array (no copy when possible).

    >>> to_numpy([1, 2]).dtype.kind
    'i'
    """
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


class Check:
    """One exercise's check: a context manager that collects comparisons.

    ``Check(name)`` is used as ``with Check(name) as c: ...``. Inside, use
    :meth:`call` to run student code, then :meth:`close`, :meth:`equal` or
    :meth:`require` to compare. Leaving the block without an error prints the
    success line; every failure raises :class:`CheckFailed` at once.

    ``quiet=True`` suppresses the success line (used when one checker is
    built from others).

    ``forbid`` maps dotted-name prefixes of functions the answer may not call
    while :meth:`call` runs it to the reason shown (default :data:`COURSE_CODE`:
    the course package); ``allow`` lists prefixes under those that the
    exercise's statement allows (e.g. ``"relucourse.training.mlp"``).
    """

    _depth = 0          # how many Check blocks are open (only the outermost one reports)

    def __init__(self, name: str, *, quiet: bool = False, forbid: Mapping[str, str] | None = None,
                 allow: tuple[str, ...] = ()):
        self.name = name
        self.quiet = quiet
        self.count = 0
        self.forbid = dict(COURSE_CODE if forbid is None else forbid)
        self.allow = tuple(allow)

    # -- context manager -------------------------------------------------
    def __enter__(self) -> "Check":
        Check._depth += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        Check._depth -= 1
        if exc_type is None:
            if not self.quiet:
                print(f"✅ {self.name}: all {self.count} checks passed.")
            return False
        if not issubclass(exc_type, Exception):
            # KeyboardInterrupt (Ctrl-C, or nbgrader's cell timeout interrupting
            # the kernel), SystemExit and the like pass through unchanged.
            return False
        if not issubclass(exc_type, CheckFailed):
            # An unexpected error inside the checker itself: still give the student
            # a message rather than a traceback, but say whose fault it is.
            failure = CheckFailed(self._message(
                problem=f"the checker itself failed with {exc_type.__name__}: {exc}",
                hint="This is probably a bug in the course, not in your answer. "
                "Please report it together with your code."))
            failure.__cause__ = exc
        else:
            failure = exc
        if Check._depth > 0 or not reports_instead_of_raising():
            if failure is exc:
                return False
            raise failure
        # The student's own Jupyter kernel: report, and let "Run All" go on.
        if isinstance(failure, NotAnswered):
            stub = f" ({failure.stub} is still a stub)" if failure.stub else ""
            print(f"⏳ {self.name}: not answered yet{stub}.\n"
                  "   Write your answer in place of `raise NotImplementedError()`,\n"
                  "   run that cell, then this one. (Graded, it scores 0 until then.)")
        else:
            print(f"{failure}\n   (Run All goes on to the next exercise; graded, this check\n"
                  "   scores 0 until it passes.)", file=sys.stderr)
        return True

    # -- building messages ---------------------------------------------------
    def _message(
        self,
        *,
        problem: str,
        inputs: Mapping[str, Any] | None = None,
        expected: Any = _MISSING,
        returned: Any = _MISSING,
        hint: str | None = None,
    ) -> str:
        lines = [f"❌ {self.name}: not yet right."]
        for key, val in (inputs or {}).items():
            lines.append(f"   Input     {key} = {describe(val)}")
        if expected is not _MISSING:
            lines.append(f"   Expected  {describe(expected)}")
        if returned is not _MISSING:
            lines.append(f"   Returned  {describe(returned)}")
        lines.append(f"   Problem   {problem}")
        if hint:
            lines.append(f"   Hint      {hint}")
        return "\n".join(lines)

    def fail(self, problem: str, *, inputs=None, expected=_MISSING, returned=_MISSING,
             hint: str | None = None):
        """Raise :class:`CheckFailed` with a formatted message.

        ``expected`` and ``returned`` are shown when given (``None`` is shown as None).
        """
        raise CheckFailed(self._message(problem=problem, inputs=inputs, expected=expected,
                                        returned=returned, hint=hint))

    # -- running student code ----------------------------------------------
    def call(self, fn: Callable, *args, call: str | None = None, inputs: Mapping[str, Any] | None = None,
             allow_warnings: bool = False, in_place: bool = False, in_place_hint: str | None = None,
             **kwargs):
        """Call ``fn(*args, **kwargs)`` and return its result.

        Exceptions raised by the student's code (including the
        ``NotImplementedError`` of an unsolved stub, as :class:`NotAnswered`)
        and, unless ``allow_warnings``, any warning become :class:`CheckFailed`
        with the inputs that caused them. ``call`` is how the call is shown, for
        example ``"relu(x)"``; a leading "your function" in it is replaced by the
        function's own name when it has one. Without ``inputs``, the arguments
        are shown under the names in ``call``. A warning's message names the
        first element of an array argument that causes it on its own.

        A call of a forbidden function (see the class) made by ``fn`` fails,
        naming the function; so does a change to an array or tensor argument,
        unless ``in_place`` (the exercise asks for in-place work).
        """
        label = _call_label(fn, call)
        if inputs is None:
            inputs = _inputs_from_call(label, args, kwargs)
        if not callable(fn):
            self.fail(f"expected a function to call as {label}, but got {describe(fn)}.",
                      hint="Did you overwrite the function's name with a value?")
        before = [] if in_place else _snapshot(args, kwargs)
        outer = sys.getprofile()
        watch = _CallWatch(self.forbid, self.allow, outer if isinstance(outer, _CallWatch) else None,
                           sys._getframe())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _numpy_errors_as_warnings(allow_warnings):
                try:
                    if watch.prefixes:      # nothing to watch: no profiling (it slows every call)
                        sys.setprofile(watch)
                    hook = sys.unraisablehook
                    sys.unraisablehook = functools.partial(_quiet_stop, hook)
                    try:
                        result = fn(*args, **kwargs)
                    finally:
                        sys.setprofile(outer)
                        sys.unraisablehook = hook
                except _Stopped as stop:
                    if stop.watch is not watch:
                        raise                           # an enclosing check's watch: its own
                    self._forbidden(watch, label, inputs)
                except NotImplementedError as err:
                    tb, depth = err.__traceback__, 0
                    while tb.tb_next is not None:
                        tb, depth = tb.tb_next, depth + 1
                    stub = tb.tb_frame.f_code.co_name
                    # The answer's own stub: raised right below this frame, or a method of
                    # the answer's class (an nn.Module's __init__ or forward).
                    own = depth <= 1 or stub in (label.split("(")[0], "<lambda>", "__init__",
                                                 "forward", "__call__")
                    where = "" if own else f" (from {stub}, which is still a stub)"
                    raise NotAnswered(self._message(
                        problem=f"{label} raised NotImplementedError{where}: this exercise is not "
                                "solved yet.",
                        inputs=inputs,
                        hint="Replace `raise NotImplementedError()` with your code, "
                             "run that cell, then run this check again."),
                        None if own else stub) from None
                except CheckFailed:
                    raise
                except Exception as err:  # noqa: BLE001 - any student error is reported
                    self._forbidden(watch, label, inputs)
                    self.fail(f"{label} raised {type(err).__name__}: {err}", inputs=inputs)
        self._forbidden(watch, label, inputs)
        names = _argument_names(label, len(args))
        for key, value, copy in before:
            if not _unchanged(value, copy):
                name = names[key] if isinstance(key, int) and names else (
                    key if isinstance(key, str) else f"argument {key + 1}")
                self.fail(f"{label} changed its input {name} in place; the exercise asks for "
                          "a result that leaves its inputs as they were.",
                          inputs={**(inputs or {}), f"{name} before the call": Text(describe(copy))},
                          expected=Text(f"{name} unchanged"), returned=value,
                          hint=in_place_hint or "Work on new arrays (np.where, arithmetic, x.copy()) "
                               "instead of assigning into the one you were given (x[...] = ..., "
                               "x *= ..., out=x, inplace=True).")
        if caught and not allow_warnings:
            first = caught[0]
            culprit = _first_warning_element(fn, label, args, kwargs)
            self.fail(f"{label} emitted a {first.category.__name__}: {first.message}."
                      + (f" {culprit}" if culprit else ""),
                      inputs=inputs,
                      hint="A warning usually means an overflow, a division by zero or a NaN "
                           "was produced along the way; rewrite the computation to avoid it.")
        return result

    def _forbidden(self, watch: "_CallWatch", label: str, inputs) -> None:
        if watch.found is not None:
            name, why = watch.found
            self.fail(f"{label} calls {name}: {why}.", inputs=inputs,
                      hint="Write the computation yourself, with what the exercise's statement "
                           "allows; a function that calls a ready-made answer does not count, "
                           "even when its result is right.")

    def kind(self, value: Any, types: type | tuple[type, ...], *, asked: str, what: str = "your answer",
             returns: bool = False, inputs=None, hint: str | None = None) -> None:
        """Require ``isinstance(value, types)`` (bools never count as numbers).

        ``asked`` names the type for the student, e.g. ``"a NumPy array (numpy.ndarray)"``;
        the message names the type that came back: "<what> should be <asked>, but it is
        a <type>", or with ``returns`` (``what`` is then a function's name) "<what> should
        return <asked>, but it returned a <type>".
        """
        ok = isinstance(value, types)
        if isinstance(value, (bool, np.bool_)):
            ok = ok and any(t in (bool, np.bool_) for t in (types if isinstance(types, tuple) else (types,)))
        if not ok:
            got = type(value)
            shown = got.__qualname__ if got.__module__ == "builtins" else f"{got.__module__}.{got.__qualname__}"
            problem = (f"{what} should return {asked}, but it returned a {shown}." if returns
                       else f"{what} should be {asked}, but it is a {shown}.")
            self.fail(problem, inputs=inputs,
                      expected=Text(asked), returned=value, hint=hint)
        self.count += 1

    def own_code(self, fn: Any, *, call: str, forbidden: tuple[str, ...] = (
                 "numpy", "torch", "scipy", "math", "relucourse", "sklearn"),
                 hint: str | None = None) -> None:
        """Require ``fn`` to be the student's own function, not a library's passed as it is.

        An exercise that asks to *implement* something that a library already
        has (``np.tanh``, ``torch.relu``, the course's own reference code) is
        not answered by handing over the library function. This catches the
        direct hand-over (``my_tanh = np.tanh``) before anything runs; a wrapper
        around a forbidden call is caught by :meth:`call`, which watches the calls
        the answer makes. (A student who patches the checker or the libraries in
        the same Python process can still get past both: see the instructor's guide.)
        """
        module = getattr(fn, "__module__", None) or type(fn).__module__ or ""
        if isinstance(fn, np.ufunc):
            module = "numpy"
        root = module.split(".")[0]
        if root in forbidden or root == "builtins" and not isinstance(fn, type(lambda: 0)):
            name = getattr(fn, "__name__", None) or repr(fn)
            self.fail(f"{call} is the library function {module}.{name}, passed as it is; "
                      "this exercise asks you to write it yourself.",
                      hint=hint or "Define a function with `def` whose body computes the result "
                                   "with the operations the exercise allows.")
        self.count += 1

    # -- comparisons ---------------------------------------------------------
    def array(self, value: Any, *, what: str = "your answer", inputs=None, shape=None,
              dtype=None, hint: str | None = None) -> np.ndarray:
        """Turn ``value`` into a NumPy array, failing clearly when that is impossible.

        ``shape`` and ``dtype``, when given, must match exactly.
        """
        if value is None:
            self.fail(f"{what} is None.", inputs=inputs, returned=None,
                      hint="Did you forget a `return` statement?")
        if isinstance(value, (str, bytes, dict, set)) or callable(value):
            self.fail(f"{what} should be an array or a number, but it is a {type(value).__name__}.",
                      inputs=inputs, returned=value)
        try:
            arr = to_numpy(value)
        except Exception as err:  # noqa: BLE001
            self.fail(f"{what} could not be converted to an array ({type(err).__name__}: {err}).",
                      inputs=inputs)
        if arr.dtype == object:
            self.fail(f"{what} is not a numeric array (it has dtype object).", inputs=inputs,
                      returned=value)
        if shape is not None and arr.shape != tuple(shape):
            self.fail(f"{what} has shape {arr.shape}, expected shape {tuple(shape)}.",
                      inputs=inputs, expected=Text(f"an array of shape {tuple(shape)}"), returned=value,
                      hint=hint)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            self.fail(f"{what} has dtype {arr.dtype}, expected dtype {np.dtype(dtype)}.",
                      inputs=inputs, expected=Text(f"an array of dtype {np.dtype(dtype)}"), returned=value,
                      hint="Keep the input's dtype: avoid mixing in Python floats or "
                           "float64 constants that upcast the result.")
        return arr

    def close(self, returned: Any, expected: Any, *, inputs: Mapping[str, Any] | None = None,
              rtol: float = 1e-6, atol: float = 1e-9, what: str = "your answer",
              check_dtype: bool = False, equal_nan: bool = True, hint: str | None = None) -> None:
        """Require ``returned`` to match ``expected`` element-wise.

        Shapes must be equal (no broadcasting), values must satisfy
        ``|returned - expected| <= atol + rtol * |expected|``, NaN must sit where
        the expected NaN sits (with ``equal_nan``), infinities must match in sign,
        and with ``check_dtype`` the dtype must be the expected one.
        """
        expected = to_numpy(expected)
        got = self.array(returned, what=what, inputs=inputs, shape=expected.shape,
                         dtype=expected.dtype if check_dtype else None, hint=hint)
        if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
            self.fail(f"{what} has dtype {got.dtype}; a real-valued numeric array was expected.",
                      inputs=inputs)
        g = got.astype(np.float64)
        e = expected.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
        ok |= (g == e)  # equal infinities
        if not np.all(ok):
            bad = np.argwhere(~ok) if ok.ndim else np.zeros((1, 0), dtype=int)
            first = tuple(int(i) for i in bad[0])
            where = ""
            if ok.ndim:
                shown_e, shown_g = format_pair(e[first], g[first])
                where = f" (first at index {first}: expected {shown_e}, got {shown_g})"
            self.fail(f"{what}: {int((~ok).sum())} of {ok.size} values differ{where}; "
                      f"tolerance rtol={rtol:g}, atol={atol:g}.",
                      inputs=inputs, expected=expected, returned=got, hint=hint)
        self.count += 1

    def equal(self, returned: Any, expected: Any, *, inputs: Mapping[str, Any] | None = None,
              what: str = "your answer", hint: str | None = None) -> None:
        """Require ``returned == expected`` for plain values (ints, strings, tuples, bools)."""
        if expected is None or returned is None:
            same = returned is expected
        else:
            try:
                same = bool(returned == expected)
            except Exception:  # noqa: BLE001 - e.g. an array compared with an int
                same = False
        if not same:
            self.fail(f"{what} is not the expected value.", inputs=inputs,
                      expected=expected, returned=returned, hint=hint)
        self.count += 1

    def require(self, condition: bool, problem: str, *, inputs: Mapping[str, Any] | None = None,
                expected: Any = _MISSING, returned: Any = _MISSING, hint: str | None = None) -> None:
        """Require an arbitrary condition; ``problem`` says what is wrong if it is false."""
        if not condition:
            self.fail(problem, inputs=inputs, expected=expected, returned=returned, hint=hint)
        self.count += 1

    def number(self, value: Any, *, what: str = "your answer", inputs=None) -> float:
        """Turn ``value`` into a finite Python float, failing clearly otherwise."""
        if value is None or isinstance(value, (str, bytes, bool, np.bool_)) or callable(value):
            self.fail(f"{what} should be a number, but it is {describe(value)}.", inputs=inputs, returned=value,
                      hint="Did you forget a `return` statement?" if value is None else None)
        try:
            arr = to_numpy(value)
            if arr.size != 1:
                raise ValueError(f"it has {arr.size} elements")
            out = float(arr.reshape(-1)[0])
        except Exception as err:  # noqa: BLE001
            self.fail(f"{what} should be a single number, but {err}.", inputs=inputs)
        if not np.isfinite(out):
            self.fail(f"{what} is {out}, not a finite number.", inputs=inputs)
        return out


def format_pair(a: float, b: float) -> tuple[str, str]:
    """Two numbers written with enough significant digits (10 to 17) to look different if they are.

    >>> format_pair(20.0, 20.000000002061153)
    ('20', '20.000000002')
    """
    for digits in range(10, 18):
        sa, sb = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if sa != sb:
            return sa, sb
    return sa, sb


def _call_label(fn: Callable, call: str | None) -> str:
    """How a call is shown: ``call``, with "your function" replaced by the function's own name."""
    name = getattr(fn, "__name__", None)
    if not (isinstance(name, str) and name.isidentifier()):
        name = None                    # lambdas, partials, callable objects
    if call is None:
        return f"{name or 'your function'}(...)"
    if name and call.startswith("your function"):
        return name + call[len("your function"):]
    return call


def _argument_names(label: str, count: int) -> list[str] | None:
    """The names in ``"relu(x, alpha)"`` when there are ``count`` of them and all are names."""
    match = re.fullmatch(r"\s*[\w.]+\((.*)\)\s*", label)
    if not match:
        return None
    names = [part.strip() for part in match.group(1).split(",")] if match.group(1).strip() else []
    if len(names) != count or not all(n.isidentifier() for n in names):
        return None
    return names


def _inputs_from_call(label: str, args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """Inputs to show when a checker gave none: the arguments, named as in ``label``.

    A label that shows values itself (``"simulate(0, 1, 7)"``) or a call
    without arguments needs no input lines.
    """
    if not args and not kwargs:
        return None
    names = _argument_names(label, len(args))
    if names is None:
        inner = re.fullmatch(r"\s*[\w.]+\((.*)\)\s*", label)
        if inner and inner.group(1).strip() and inner.group(1).strip() != "...":
            return None                # the label already shows the arguments
        names = [f"argument {i + 1}" for i in range(len(args))]
    return {**dict(zip(names, args)), **dict(kwargs)}


def _first_warning_element(fn: Callable, label: str, args: tuple, kwargs: Mapping[str, Any],
                           *, max_elements: int = 4096, budget: float = 1.0) -> str:
    """Which element of the (single) array argument makes ``fn`` warn on its own, as a sentence.

    Calls ``fn`` again on one element at a time (a copy of shape (1, ..., 1),
    same dtype), at most ``max_elements`` of them and for at most ``budget``
    seconds; returns "" when there is no single array argument or no single
    element warns (the warning may need the whole array).
    """
    import io
    import time

    arrays = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.size >= 2]
    if len(arrays) != 1 or args[arrays[0]].size > max_elements:
        return ""
    position = arrays[0]
    arr = args[position]
    names = _argument_names(label, len(args))
    name = names[position] if names else f"argument {position + 1}"
    flat = arr.reshape(-1)
    start, failures = time.perf_counter(), 0
    for i in range(flat.size):
        if time.perf_counter() - start > budget or failures >= 3:
            break
        one = flat[i:i + 1].copy().reshape((1,) * arr.ndim)
        trial = args[:position] + (one,) + args[position + 1:]
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(io.StringIO()), _numpy_errors_as_warnings(False):
            warnings.simplefilter("always")
            try:
                fn(*trial, **kwargs)
            except Exception:  # noqa: BLE001 - the function may need the whole array
                failures += 1
                continue
        if caught:
            index = tuple(int(k) for k in np.unravel_index(i, arr.shape))
            where = index[0] if len(index) == 1 else index
            value = flat[i].item()
            shown = format_float(value) if isinstance(value, float) else repr(value)
            return f"The first element that warns on its own: {name}[{where}] = {shown}."
    return ""


@contextlib.contextmanager
def _numpy_errors_as_warnings(allow: bool):
    """Make NumPy floating-point errors show up as RuntimeWarnings while student code runs."""
    if allow:
        with np.errstate(all="ignore"):
            yield
    else:
        with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            yield
