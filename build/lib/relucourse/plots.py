"""Plotting helpers that are not the point of any lesson.

>>> import numpy as np, matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> X = np.array([[0.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1])
>>> decision_boundary(ax, lambda P: (P[:, 0] > 0.5).astype(int), X, y)
>>> plt.close(fig)
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .style import COLORS


def decision_boundary(ax, predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, *,
                      title: str | None = None, resolution: int = 200, pad: float = 0.3) -> None:
    """Shade the regions a 2-D classifier assigns to each class and scatter the data on top.

    ``predict`` maps an (m, 2) float32 array of points to m class labels (0 or 1).
    """
    from matplotlib.colors import ListedColormap

    lo = X.min(axis=0) - pad
    hi = X.max(axis=0) + pad
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    labels = np.asarray(predict(grid)).reshape(gx.shape)
    cmap = ListedColormap([COLORS["class0"], COLORS["class1"]])
    ax.contourf(gx, gy, labels, levels=[-0.5, 0.5, 1.5], cmap=cmap, alpha=0.18)
    ax.contour(gx, gy, labels, levels=[0.5], colors="#333333", linewidths=1.0)
    for cls, marker in ((0, "o"), (1, "s")):
        pts = X[y == cls]
        ax.scatter(pts[:, 0], pts[:, 1], s=12, marker=marker, color=COLORS[f"class{cls}"],
                   edgecolors="white", linewidths=0.3, label=f"class {cls}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
