"""Seeded datasets that need no download.

* Generated 2-D classification sets (XOR, circles, spirals) for pictures of
  decision boundaries.
* scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 10
  classes), which ship inside the scikit-learn package: no network needed.

Every function takes a ``seed`` and returns the same arrays for the same seed.

>>> X, y = xor(8, seed=0)
>>> X.shape, y.shape, X.dtype
((8, 2), (8,), dtype('float32'))
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def xor(n: int = 400, *, noise: float = 0.15, seed: int = 0):
    """Noisy XOR: points around the four corners (+-1, +-1); class 1 where the signs differ.

    Returns ``X`` (n, 2) float32 and ``y`` (n,) int64 in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    X = corners + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] != corners[:, 1]).astype(np.int64)
    return X.astype(np.float32), y


def circles(n: int = 400, *, noise: float = 0.08, ratio: float = 0.5, seed: int = 0):
    """Two concentric rings: class 0 on the outer ring (radius 1), class 1 inside (radius ``ratio``)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 1, ratio, 1.0)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n, 2))
    return X.astype(np.float32), y


def spirals(n: int = 400, *, turns: float = 1.5, noise: float = 0.05, seed: int = 0):
    """Two interleaved spirals, one per class; no line and no single ring separates them."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    t = np.sqrt(rng.uniform(0.02, 1.0, n)) * turns * 2 * np.pi
    sign = np.where(y == 1, -1.0, 1.0)
    X = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) / (turns * 2 * np.pi)
    X += noise * rng.standard_normal((n, 2))
    return X.astype(np.float32), y


@dataclass(frozen=True)
class Split:
    """A train/test split of float32 features and int64 labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def tensors(self):
        """``(X_train, y_train, X_test, y_test)`` as PyTorch tensors (sharing memory with the arrays)."""
        import torch

        return tuple(torch.as_tensor(a) for a in (self.X_train, self.y_train, self.X_test, self.y_test))


def digits(*, seed: int = 0, test_fraction: float = 0.25, standardize: bool = True) -> Split:
    """scikit-learn's bundled 8x8 digits, split into train and test sets with a fixed seed.

    With ``standardize`` (the default) each pixel is shifted and scaled by the
    *training* mean and standard deviation (pixels that are constant in the
    training set are only shifted), so the features have mean 0 and variance 1.
    Without it the raw pixel intensities 0..16 are returned.

    The split is computed once per setting and cached; every call returns its
    own copy of the arrays, so changing them in place changes nothing else.

    >>> d = digits()
    >>> d.X_train.shape, d.X_test.shape, d.n_classes
    ((1348, 64), (449, 64), 10)
    """
    cached = _digits(seed, test_fraction, standardize)
    return Split(*(a.copy() for a in (cached.X_train, cached.y_train, cached.X_test, cached.y_test)))


@lru_cache(maxsize=None)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as float64 pixels (1797, 64) and int64 labels, read once.

    The file is the one ``sklearn.datasets.load_digits`` reads, found without
    importing scikit-learn (which takes a second or more of every page that
    uses the digits); ``load_digits`` itself if the file is not where it was.
    """
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                table = np.loadtxt(fh, delimiter=",")
            return table[:, :-1], table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)


@lru_cache(maxsize=None)
def _digits(seed: int, test_fraction: float, standardize: bool) -> Split:
    X, y = _digits_arrays()
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    X_train, X_test = X[train], X[test]
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0] = 1.0
        X_train = (X_train - mean) / std
        X_test = (X_test - mean) / std
    return Split(X_train.astype(np.float32), y[train], X_test.astype(np.float32), y[test])
