"""Reference answers for the exercises of chapters 1 and 2, kept out of the package.

The checkers in ``relucourse.exercises.ch01``/``ch02`` do not ship these (no name
importable from ``relucourse`` may return an exercise's answer); they compare with
expected values stored at authoring time, with local functions inside the checker
bodies, or with properties. The tests use the functions here as right answers and
to confirm that the stored expected values are right.
"""

from __future__ import annotations

import math

import numpy as np


# -- chapter 1 ---------------------------------------------------------------------
def sigmoid_reference(x):
    """Stable sigmoid, keeping x's dtype."""
    x = np.asarray(x)
    e = np.exp(-np.abs(x.astype(np.float64)))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def tanh_reference(x):
    """Stable tanh from exponentials, keeping x's dtype."""
    x = np.asarray(x)
    a = np.abs(x.astype(np.float64))
    return (np.sign(x) * -np.expm1(-2 * a) / (1 + np.exp(-2 * a))).astype(x.dtype)


def count_pieces_reference(w, b, v, lo, hi) -> int:
    """Maximal linear pieces of sum_j v_j relu(w_j x + b_j) on [lo, hi]."""
    w, b, v = (np.asarray(a, dtype=np.float64) for a in (w, b, v))
    active = (w != 0) & (v != 0)
    t = -b[active] / w[active]
    jump = v[active] * np.abs(w[active])
    kinks: dict[float, float] = {}
    for tj, jj in zip(t, jump):
        if lo < tj < hi:
            kinks[tj] = kinks.get(tj, 0.0) + jj
    return 1 + sum(1 for s in kinks.values() if s != 0)


# -- chapter 2 ---------------------------------------------------------------------
def relu_reference(x):
    """max(x, 0) as a new array of x's dtype; NaN propagates."""
    return np.maximum(x, np.zeros((), dtype=np.asarray(x).dtype))


def _Phi(u: float) -> float:
    return 0.5 * math.erfc(-u / math.sqrt(2))


def _phi(u: float) -> float:
    return math.exp(-u * u / 2) / math.sqrt(2 * math.pi)


def relu_gaussian_stats_reference(mu: float, sigma: float) -> tuple[float, float]:
    """(P(relu(z) = 0), E[relu(z)]) for z ~ N(mu, sigma^2)."""
    u = mu / sigma
    return _Phi(-u), mu * _Phi(u) + sigma * _phi(u)


def relu_gaussian_second_moment(mu: float, sigma: float) -> float:
    """E[relu(z)^2] for z ~ N(mu, sigma^2)."""
    u = mu / sigma
    return (mu * mu + sigma * sigma) * _Phi(u) + mu * sigma * _phi(u)


def speedup_reference(n: int) -> float:
    """time(list comprehension) / time(np.maximum) for n float64 numbers."""
    from relucourse.benchmark import best_time

    x = np.random.default_rng(0).standard_normal(n)
    values = x.tolist()
    t_loop = best_time(lambda: [v if v > 0 else 0.0 for v in values],
                       repeat=3, min_time=0.02)
    t_numpy = best_time(lambda: np.maximum(x, 0), repeat=3, min_time=0.02)
    return t_loop / t_numpy


def block_reference(x, w):
    """y = x + relu(tanh(relu(x) @ w)), without in-place operations."""
    import torch

    return x + torch.relu(torch.tanh(torch.relu(x) @ w))
