"""Small, honest timing helpers for the chapters that measure cost.

Timings vary from run to run and machine to machine, so chapters report ratios
(which transfer between machines) next to the machine that produced them, and
timing cells are excluded from nbval's output comparison.

>>> t = best_time(lambda: sum(range(100)), repeat=3, min_time=0.001)
>>> t > 0
True
>>> sorted(time_in_turns({"a": lambda: None, "b": lambda: 1}, min_time=0.001))
['a', 'b']
>>> "cores" in machine_description()
True
"""

from __future__ import annotations

import math
import os
import platform
import timeit
from typing import Callable


def machine_description() -> str:
    """One line naming the CPU, core count and library versions that produced a measurement."""
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [cpu, f"{os.cpu_count()} cores", f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    try:
        import torch

        threads = torch.get_num_threads()
        parts.append(f"PyTorch {torch.__version__} ({threads} thread{'s' if threads != 1 else ''})")
    except ImportError:  # pragma: no cover - torch is a course dependency
        pass
    return ", ".join(parts)


def calls_for(fn: Callable[[], object], min_time: float = 0.05) -> int:
    """How many calls of ``fn()`` last at least ``min_time`` seconds, from one warm-up and one timed call."""
    timer = timeit.Timer(fn)
    timer.timeit(1)                      # warm-up: first-call allocation, caches, lazy imports
    once = timer.timeit(1)
    return max(1, math.ceil(min_time / once)) if once > 0 else 1 << 20


def best_time(fn: Callable[[], object], *, repeat: int = 5, min_time: float = 0.05) -> float:
    """Seconds per call of ``fn()``: the best of ``repeat`` rounds of :func:`timeit.Timer.repeat`.

    Each round calls ``fn`` enough times to last at least ``min_time`` seconds
    (:func:`calls_for`), and its time is divided by that count. The minimum is
    the least disturbed by other work on the machine.
    """
    number = calls_for(fn, min_time)
    return min(timeit.Timer(fn).repeat(repeat=repeat, number=number)) / number


def time_in_turns(functions: dict[str, Callable[[], object]], *, rounds: int = 3,
                  min_time: float = 0.05) -> dict[str, float]:
    """Best seconds per call of each function, the functions taking turns round after round.

    Args:
        functions: name -> a function of no arguments.
        rounds: how many times each function is timed; the best round counts.
        min_time: each timing lasts at least this long (the count is calibrated once).

    Returns:
        name -> seconds per call. Taking turns means that a busy moment on the
        machine slows one round of every function, not all rounds of one.
    """
    timers = {name: (timeit.Timer(fn), calls_for(fn, min_time)) for name, fn in functions.items()}
    best = dict.fromkeys(functions, math.inf)
    for _ in range(rounds):
        for name, (timer, number) in timers.items():
            best[name] = min(best[name], timer.timeit(number) / number)
    return best
