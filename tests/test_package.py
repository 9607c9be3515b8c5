"""The course package: doctests of every module, and the behaviour chapters rely on."""

import doctest
import inspect
import signal
import importlib
import pkgutil

import numpy as np
import pytest

import relucourse
from relucourse import activations, data

MODULES = sorted(m.name for m in pkgutil.walk_packages(relucourse.__path__, "relucourse."))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_have_docstrings(name):
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no module docstring"
    for attr, obj in vars(module).items():
        if attr.startswith("_") or not callable(obj) or getattr(obj, "__module__", None) != name:
            continue
        assert obj.__doc__, f"{name}.{attr} has no docstring"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_tanh_stable_and_accurate(dtype):
    x = np.array([-1e4, -745, -100, -1, 0, 1e-8, 1, 100, 1e4, -np.inf, np.inf], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, t = activations.sigmoid(x), activations.tanh(x)
    assert s.dtype == dtype and t.dtype == dtype
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))
    assert np.allclose(s, exact.astype(np.float64), rtol=1e-6, atol=np.finfo(dtype).tiny)
    assert np.allclose(2 * activations.sigmoid(2 * x.astype(np.float64)) - 1, np.tanh(x.astype(np.float64)),
                       atol=1e-15)


def test_relu_and_grad():
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan])
    assert np.array_equal(activations.relu(x), [0, 0, 0, 3, np.nan], equal_nan=True)
    assert activations.relu(np.array([1, -1])).dtype == np.float64
    assert np.array_equal(activations.relu_grad(x[:4]), [0, 0, 0, 1])
    assert activations.relu_grad(np.array([0.0]), at_zero=1.0)[0] == 1.0


def test_generated_data_is_seeded_and_balanced():
    for make in (data.xor, data.circles, data.spirals):
        X1, y1 = make(200, seed=3)
        X2, y2 = make(200, seed=3)
        assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
        assert X1.dtype == np.float32 and y1.dtype == np.int64
        assert 0.35 < y1.mean() < 0.65


def test_digits_standardized_from_training_set():
    d = data.digits(seed=0)
    assert abs(d.X_train.mean()) < 1e-5
    raw = data.digits(seed=0, standardize=False)
    assert raw.X_train.max() == 16 and raw.n_features == 64


# ---------------------------------------------------------------------------------------------
# No answers handed out: no name importable from the package passes an exercise's check.
# ---------------------------------------------------------------------------------------------

def _def_wrapper(fn):
    def answer(*args, **kwargs):
        return fn(*args, **kwargs)
    return answer


def _package_names(wrapped: bool = False) -> dict[str, object]:
    """Every module-level callable and constant defined in a relucourse module, private ones included.

    Constants are also offered wrapped in a function (an answer may be asked for as
    ``def predicted_ratio(): ...``). With ``wrapped``, every callable is offered only
    inside two wrappers of the student's own, ``lambda *a, **k: name(*a, **k)`` and a
    ``def`` that does the same (issue 17: one-line wrappers passed where the name itself
    failed).
    """
    names: dict[str, object] = {}
    for name in MODULES + ["relucourse"]:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if attr.startswith("__") or inspect.ismodule(obj):
                continue
            if callable(obj):
                # Command-line entry points take argv and act on the repository (regenerate the
                # exercises, copy notebooks); main([]) would do that for real. They return exit codes.
                if getattr(obj, "__module__", None) == name and attr != "main":
                    if wrapped:
                        names[f"lambda *a, **k: {name}.{attr}(*a, **k)"] = (
                            lambda fn: lambda *args, **kwargs: fn(*args, **kwargs))(obj)
                        names[f"def wrapping {name}.{attr}"] = _def_wrapper(obj)
                    else:
                        names[f"{name}.{attr}"] = obj
            elif not attr.startswith("__") and not wrapped:
                names[f"{name}.{attr}"] = obj
                names[f"lambda: {name}.{attr}"] = (lambda value: lambda *args, **kwargs: value)(obj)
    return names


def _checks() -> list[tuple[str, object]]:
    found = []
    for name in MODULES:
        if name.startswith("relucourse.exercises."):
            module = importlib.import_module(name)
            found += [(f"{name}.{attr}", obj) for attr, obj in sorted(vars(module).items())
                      if attr.startswith("check_") and callable(obj) and obj.__module__ == name]
    return found


CHECKS = _checks()
#: Names a check may accept, each with the reason it is not an answer handed out.
ALLOWED = {
    ("check_repair", "lambda: relucourse.exercises.ch04.BASELINE"):
        "BASELINE is the healthy run that exercises 4.4 and 4.5 print in their statement, and "
        "BROKEN is defined in the open as BASELINE with two settings changed; returning to the "
        "baseline is the repair, and the exercise is about finding which change broke it",
}
SECONDS_PER_NAME = 10.0  # generous, so that a busy machine does not turn a pass into a timeout


@pytest.mark.parametrize("wrapped", [False, True], ids=["as it is", "wrapped"])
@pytest.mark.parametrize("check", [c for _, c in CHECKS], ids=[n.split(".", 2)[2] for n, _ in CHECKS])
def test_no_package_name_passes_a_check(check, wrapped, monkeypatch, tmp_path):
    """Graded use must not hand out answers: every name of the package, given as the answer, fails.

    ``wrapped``: every callable of the package inside a lambda and inside a def of the
    student's own, which the checks catch by watching the calls the answer makes.
    """
    # A function that writes to a path it is given (say "") writes into a scratch folder.
    monkeypatch.chdir(tmp_path)
    import contextlib
    import io
    import warnings

    from relucourse.checking import CheckFailed

    n_args = sum(1 for p in inspect.signature(check).parameters.values()
                 if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD)
    def too_slow(signum, frame):
        # Inside a garbage-collector callback (a weak reference's) an exception cannot reach
        # the check: Python reports it as "unraisable" instead. Try again a moment later.
        if frame is not None and frame.f_code.co_filename.endswith(("weakref.py", "_weakrefset.py")):
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        raise TimeoutError("stopped after the time limit")

    passed = []
    previous = signal.signal(signal.SIGALRM, too_slow)
    try:
        for name, candidate in _package_names(wrapped).items():
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # A name that runs long with the check's arguments (say, trains for 20,000 epochs)
                # is stopped: the checker reports the TimeoutError as a failure, which is right.
                signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_NAME)
                try:
                    check(*[candidate] * n_args)
                except (CheckFailed, TimeoutError):
                    continue
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            if (check.__name__, name) not in ALLOWED:
                passed.append(name)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not passed, f"{check.__name__} accepts {', '.join(passed)} from the package as the answer"
