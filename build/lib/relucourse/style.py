"""One plotting style for every figure in the course.

Call :func:`use` once at the top of a notebook. It sets readable font sizes, a
colour-blind-safe palette (Okabe and Ito's eight colours), light grids and a
fixed figure size and resolution, so that figures look the same in every
chapter and are byte-for-byte reproducible.

>>> import relucourse.style as style
>>> style.use()
>>> style.COLORS["relu"]
'#0072B2'
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib import cycler

#: Okabe & Ito (2008) colour-blind-safe palette, in the order used by the colour cycle.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

#: Fixed colours for recurring curves, so one activation has one colour across the book.
COLORS = {
    "relu": PALETTE[0],
    "sigmoid": PALETTE[1],
    "tanh": PALETTE[2],
    "leaky_relu": PALETTE[3],
    "gelu": PALETTE[4],
    "silu": PALETTE[5],
    "elu": PALETTE[7],
    "linear": "#777777",
    "class0": PALETTE[0],
    "class1": PALETTE[3],
}

#: Line styles and markers that go with the colours, so that series stay apart in
#: greyscale print and for colour-blind readers: pair ``COLORS[k]`` with ``LINESTYLES[k]``.
LINESTYLES = {
    "relu": "-",
    "sigmoid": "--",
    "tanh": "-.",
    "leaky_relu": ":",
    "gelu": (0, (5, 1.5, 1, 1.5, 1, 1.5)),
    "silu": (0, (8, 2)),
    "elu": (0, (2, 1)),
    "linear": (0, (1, 2)),
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

#: Widest figure, in inches at ``figure.dpi`` = 100 (so 700 px). The book's text
#: column is about this wide at a 1280 px window, so a figure no wider than this is
#: shown at (nearly) its natural size and its 10-11 pt text stays at 11 px or more.
#: Two panels side by side share this width; more than two panels go in rows.
MAX_WIDTH = 7.0


def figsize(rows: int = 1, cols: int = 1, *, height: float | None = None) -> tuple[float, float]:
    """A figure size that fits the text column: ``MAX_WIDTH`` wide, about 3 in per row of panels.

    >>> figsize(1, 2)
    (7.0, 3.2)
    """
    if height is None:
        height = {1: 3.2 if cols > 1 else 3.8}.get(rows, 2.9 * rows)
    return (MAX_WIDTH, height)


RC = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=PALETTE),
    "lines.linewidth": 2.0,
    "legend.frameon": False,
    "image.cmap": "cividis",
    "svg.hashsalt": "relucourse",
}


def use() -> None:
    """Apply the course style to matplotlib (idempotent)."""
    mpl.rcParams.update(RC)


def zero_axes(ax) -> None:
    """Draw thin lines through the origin, which helps when reading activation plots."""
    ax.axhline(0, color="#444444", lw=0.8, zorder=0)
    ax.axvline(0, color="#444444", lw=0.8, zorder=0)
