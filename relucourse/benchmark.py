"""Small, honest timing helpers for the chapters that measure cost.

Timings vary from run to run and machine to machine, so chapters report ratios
(which transfer between machines) next to the machine that produced them, and
timing cells are excluded from nbval's output comparison.

>>> t = best_time(lambda: sum(range(100)), repeat=3, min_time=0.001)
>>> t > 0
True
>>> "cores" in machine_description()
True
"""

from __future__ import annotations

import os
import platform
import time
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


def best_time(fn: Callable[[], object], *, repeat: int = 5, min_time: float = 0.05) -> float:
    """Seconds per call of ``fn()``: the minimum over ``repeat`` rounds.

    Each round calls ``fn`` enough times to last at least ``min_time`` seconds
    (the count is calibrated once), and the round's time is divided by the
    count. The minimum is the least disturbed by other work on the machine.
    """
    fn()  # warm-up: first-call allocation, caches, lazy imports
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1 << 30:
            break
        number *= 2 if elapsed == 0 else max(2, min(10, int(min_time / elapsed * 1.2) + 1))
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best
