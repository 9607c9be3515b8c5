"""Explorables: interactive figures that work in the static, offline book.

Each explorable is a Vega-Lite chart (written with Altair) whose every
reachable state is computed here, in Python, by the same package code as the
chapter's numbers: the browser only picks the precomputed state that the
reader's controls select (Vega-Lite ``filter`` transforms driven by
parameters bound to range sliders, radio buttons and drop-down lists). There
is no hand-written JavaScript: the page calls vega-embed with the spec.

Where it shows:

The display object returns one bundle wherever it is shown, whatever the
environment (nothing here reads an environment variable):

* ``text/html``: a block with the static figure (a PNG inside the page), a text
  description for everyone (screen readers included), the Vega-Lite spec as
  JSON and no script. The book picks this (``nb_mime_priority_overrides`` in
  _config.yml); on the book's pages a small script of the site
  (``_static/relucourse-vega/loader.js``, added by tools/sphinxext/vega.py) loads
  Vega, Vega-Lite and vega-embed from the site's own ``_static/relucourse-vega``
  (copied from the ``django-js-lib-vega-embed`` package on PyPI, never a CDN)
  only when the reader comes near the figure, and draws the interactive chart
  in place of the static one. In JupyterLab, Colab or an nbconvert export the
  same block shows the static figure with a note saying how to get the
  interactive one: nothing is fetched from the internet, so it works offline.
* ``image/png`` and ``text/plain``: the static figure and the description.

In JupyterLab, :meth:`Explorable.interactive` returns the chart alone as a
Vega-Lite spec (``application/vnd.vegalite.v5+json``), which JupyterLab draws
with its own Vega, offline. (It is not in the bundle above: JupyterLab prefers
``text/html`` to it, and the book would have to skip it.)

>>> e = signal_through_depth(weight_vars=(1.0, 2.0), depth=3, width=16)
>>> sorted(e.spec()["params"][0]["bind"])
['input', 'max', 'min', 'name', 'step']
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import altair as alt
import numpy as np

from . import style

__all__ = [
    "Explorable", "activation_explorer", "relu_fit", "dying_relu_vs_lr",
    "signal_through_depth", "ACTIVATION_STATES", "VegaLite", "VEGALITE_MIME",
]

#: Folder under the site's ``_static`` that holds the three scripts.
STATIC_DIR = "relucourse-vega"
#: Files copied into ``_static/relucourse-vega``: our name -> the package's name.
VEGA_FILES = {
    "vega.min.js": "vega5.js",
    "vega-lite.min.js": "vega-lite5.js",
    "vega-embed.min.js": "vega-embed6.js",
}
#: Options handed to vega-embed: SVG output (readable by screen readers and
#: by tests), no export menu (its editor link would leave the offline site).
EMBED_OPTIONS = {"renderer": "svg", "actions": False}

#: The mime type of a Vega-Lite 5 spec (JupyterLab, nteract and VS Code draw it).
VEGALITE_MIME = "application/vnd.vegalite.v5+json"

# The book's palette (relucourse.style): an activation has its colour everywhere;
# series that are not activations (weight scales, layers) take the palette in order.
_C = style.COLORS
_BLUE, _ORANGE, _GREEN = style.PALETTE[0], style.PALETTE[1], style.PALETTE[2]
_GREY = _C["linear"]
# px per panel of the stacked (vconcat) charts, which cannot follow their
# container's width in Vega-Lite 5: with the axes they fit a 390 px phone.
# Single-panel charts use the column's width ("container").
_WIDTH = 280
# "container" width: the whole chart, axes included, fits the column
_FIT = alt.AutoSizeParams(type="fit", contains="padding")


# --------------------------------------------------------------------------
# the display object
# --------------------------------------------------------------------------

_CSS = """
.relucourse-explorable { margin: 1em 0; }
.relucourse-explorable .relucourse-vega { overflow-x: auto; }
.relucourse-explorable .relucourse-vega.vega-embed { display: block;
  width: 100%; }
.relucourse-explorable .relucourse-vega svg { background: #fff; }
.relucourse-explorable .vega-bindings { display: flex; flex-wrap: wrap;
  gap: .25em 1.5em; margin-top: .5em; }
.relucourse-explorable .vega-bind label,
.relucourse-explorable .vega-bind-name { font-size: .95em; }
.relucourse-explorable .vega-bind input[type=range] { width: 11em;
  vertical-align: middle; }
.relucourse-explorable .vega-bind select { font-size: .95em; }
.relucourse-explorable .vega-bind-radio label { margin-right: .9em;
  white-space: nowrap; }
.relucourse-explorable .vega-bind-radio input { margin: 0 .3em 0 .5em; }
.relucourse-explorable .relucourse-fallback { margin: 0; }
.relucourse-explorable .relucourse-fallback img { max-width: 100%;
  height: auto; background: #fff; }
.relucourse-explorable:has(.relucourse-vega svg) .relucourse-fallback,
.relucourse-explorable:has(.relucourse-vega svg) .relucourse-note {
  display: none; }
.relucourse-explorable .relucourse-note { font-size: .9em; }
@media print {
  .relucourse-explorable .relucourse-note { display: none; }
  .relucourse-explorable .relucourse-vega,
  .relucourse-explorable .relucourse-vega.vega-embed { display: none !important; }
  .relucourse-explorable .relucourse-fallback { display: block !important; }
}
"""


@dataclass
class Explorable:
    """An interactive figure: an Altair chart, a static fallback and a description.

    ``chart`` holds every state the reader can reach; ``fallback`` is a PNG
    (bytes) of one representative state; ``description`` says in words what
    the figure shows and what to look for (shown under it, read by screen
    readers, used as the fallback's alt text's complement); ``alt`` is the
    fallback image's alt text. ``data`` keeps the computed numbers for tests.
    """

    name: str
    chart: alt.TopLevelMixin
    fallback: bytes
    alt: str
    description: str
    data: dict = field(default_factory=dict)

    def spec(self) -> dict:
        """The Vega-Lite spec, validated against the Vega-Lite schema by Altair.

        Its ``description`` becomes the drawn SVG's accessible name.
        """
        spec = self.chart.to_dict(validate=True)
        spec.setdefault("description", self.description)
        return spec

    def to_html(self) -> str:
        """The block the book shows: static figure, note, description and spec; no script.

        The book's loader (``_static/relucourse-vega/loader.js``) draws the chart into
        ``#vis-NAME`` from ``#spec-NAME`` when the reader comes near it; the static
        figure stays for print, for readers without JavaScript and in notebooks.
        """
        spec = json.dumps(self.spec(), separators=(",", ":"), allow_nan=False)
        spec = spec.replace("</", "<\\/")          # cannot close the script
        png = base64.b64encode(self.fallback).decode("ascii")
        width, height = _png_size(self.fallback)
        n = html.escape(self.name)
        opts = html.escape(json.dumps(EMBED_OPTIONS), quote=True)
        return (
            f'<div class="relucourse-explorable" id="explorable-{n}" data-embed="{opts}">'
            f"<style>{_CSS}</style>"
            f'<figure class="relucourse-fallback"><img alt="{html.escape(self.alt)}" '
            f'width="{width}" height="{height}" '
            f'src="data:image/png;base64,{png}"><figcaption>Static version (the '
            f'interactive figure needs a browser): {html.escape(self.alt)}'
            f"</figcaption></figure>"
            f'<div class="relucourse-vega" id="vis-{n}" role="group" '
            f'aria-label="Interactive figure; description below" '
            f'aria-describedby="desc-{n}"></div>'
            f'<p class="relucourse-note">This is the static figure. The interactive '
            f"one is drawn in the book's web pages; in JupyterLab, "
            f"<code>{_NOTEBOOK_HINT.get(self.name, 'explorable')}.interactive()</code> "
            f"draws it with JupyterLab's own Vega (offline).</p>"
            f'<p class="relucourse-description" id="desc-{n}">'
            f"{html.escape(self.description)}</p>"
            f'<script type="application/json" class="relucourse-spec" id="spec-{n}">'
            f"{spec}</script></div>"
        )

    def interactive(self) -> "VegaLite":
        """The chart alone, as a Vega-Lite spec that JupyterLab draws with its own Vega.

        Returns:
            An object whose only rich output is ``application/vnd.vegalite.v5+json``.
        """
        return VegaLite(self.spec(), self.description)

    def _repr_mimebundle_(self, include=None, exclude=None):
        """One bundle everywhere: the book's block, the PNG and the description."""
        png = base64.b64encode(self.fallback).decode("ascii")
        return {"text/html": self.to_html(), "image/png": png, "text/plain": self.description}


@dataclass
class VegaLite:
    """A Vega-Lite spec shown by the notebook's own renderer (JupyterLab's Vega)."""

    spec: dict
    description: str = ""

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {VEGALITE_MIME: self.spec, "text/plain": self.description}


#: The call a chapter makes for each explorable, for the note in notebooks.
_NOTEBOOK_HINT = {
    "activation-explorer": "explorables.activation_explorer()",
    "relu-fit": "explorables.relu_fit(...)",
    "dying-relu-vs-lr": "explorables.dying_relu_vs_lr()",
    "signal-through-depth": "explorables.signal_through_depth()",
}


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG (its IHDR chunk)."""
    import struct

    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("the fallback figure must be a PNG")
    return struct.unpack(">II", png[16:24])


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=64)
    plt.close(fig)
    return buf.getvalue()


def _csv(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    """Inline CSV (much smaller than JSON objects); NaN and inf become empty."""
    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "" if not math.isfinite(v) else f"{float(v):.4g}"
        return str(v)
    lines = [",".join(header)]
    lines += [",".join(cell(v) for v in row) for row in rows]
    return "\n".join(lines)


def _data(rows, header) -> alt.Data:
    """Inline CSV data; numeric columns are declared so (CSV is text)."""
    numeric = {h: "number" for j, h in enumerate(header)
               if rows and all(isinstance(r[j], (int, float, np.integer, np.floating))
                               and not isinstance(r[j], bool) for r in rows)}
    return alt.Data(values=_csv(rows, header),
                    format=alt.DataFormat(type="csv", parse=numeric))


def _claim(holds: bool, what: str) -> None:
    """Guard a sentence of a description: the build fails when it stops being true."""
    if not holds:
        raise RuntimeError(f"the description says {what!r}, which the computed data "
                           "no longer show: update the description")


def _check_grid(name: str, values, *, minimum: float | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {list(values)}")
    if minimum is not None and np.any(arr < minimum):
        raise ValueError(f"{name} must be at least {minimum}, got {list(values)}")
    return arr


# --------------------------------------------------------------------------
# chapter 5: activation explorer
# --------------------------------------------------------------------------

def _activation_states() -> list[tuple[str, str, float, Callable, Callable]]:
    """(name, parameter kind, parameter value, function, derivative) for every state."""
    from . import activations as A

    states = [("ReLU", "", 0.0, A.relu, A.relu_grad)]
    for s in np.round(np.arange(0.0, 0.501, 0.05), 2):
        states.append(("LeakyReLU", "slope", s, lambda x, s=s: A.leaky_relu(x, s),
                       lambda x, s=s: A.leaky_relu_grad(x, s)))
    for name, f, g in (("ELU", A.elu, A.elu_grad), ("CELU", A.celu, A.celu_grad)):
        for a in np.round(np.arange(0.25, 2.001, 0.25), 2):
            states.append((name, "alpha", a, lambda x, a=a, f=f: f(x, a),
                           lambda x, a=a, g=g: g(x, a)))
    states.append(("SELU", "", 0.0, A.selu, A.selu_grad))
    for code, approx in ((0.0, "none"), (1.0, "tanh")):
        states.append(("GELU", "approx", code, lambda x, m=approx: A.gelu(x, m),
                       lambda x, m=approx: A.gelu_grad(x, m)))
    for name, f, g in (("Swish", A.swish, A.swish_grad),
                       ("Softplus", A.softplus, A.softplus_grad)):
        for b in np.round(np.arange(0.5, 5.001, 0.5), 2):
            states.append((name, "beta", b, lambda x, b=b, f=f: f(x, b),
                           lambda x, b=b, g=g: g(x, b)))
    states += [
        ("SiLU", "", 0.0, A.silu, A.silu_grad),
        ("Mish", "", 0.0, A.mish, A.mish_grad),
        ("ReLU6", "", 0.0, A.relu6, A.relu6_grad),
        ("Hardsigmoid", "", 0.0, A.hardsigmoid, A.hardsigmoid_grad),
        ("Hardswish", "", 0.0, A.hardswish, A.hardswish_grad),
        ("Squared ReLU", "", 0.0, A.squared_relu, A.squared_relu_grad),
        ("Sigmoid", "", 0.0, A.sigmoid, A.sigmoid_grad),
        ("Tanh", "", 0.0, A.tanh, A.tanh_grad),
    ]
    return states


#: Every (activation, parameter kind, parameter value) the explorer holds.
ACTIVATION_STATES = [(n, k, float(v)) for n, k, v, _, _ in _activation_states()]


def activation_explorer(*, n_samples: int = 200_000, seed: int = 0) -> Explorable:
    """Chapter 5: most activations of the book, with their parameters.

    (Not PReLU, RReLU or the gated units: chapter 5 says so.)

    Shows the function and its derivative on [-4, 4] (from
    :mod:`relucourse.activations`), the histogram of its outputs for
    ``n_samples`` standard normal inputs (seeded), and their mean and fraction
    of exact zeros. Controls: the activation, LeakyReLU's negative slope, the
    alpha of ELU and CELU, the beta of Swish and Softplus, GELU's approximation.
    """
    if n_samples < 1000:
        raise ValueError(f"n_samples must be at least 1000, got {n_samples}")
    states = _activation_states()
    names = list(dict.fromkeys(s[0] for s in states))
    x = np.linspace(-4, 4, 65)           # step 1/8: exact in binary
    z = np.random.default_rng(seed).standard_normal(n_samples)
    bin_width = 0.2
    edges = -2 + bin_width * np.arange(31)
    curves, hist, stats = [], [], []
    for i, (name, kind, p, f, g) in enumerate(states):
        y, d = f(x), g(x)
        out = f(z)
        curves += [(i, yv, dv) for yv, dv in zip(y, d)]   # x from the row number
        counts, _ = np.histogram(np.clip(out, edges[0], edges[-1]), edges)
        dens = counts / (n_samples * bin_width)
        hist += [(i, lo, h) for lo, h in zip(edges[:-1], dens) if h > 0]
        stats.append((i, float(out.mean()), float(np.mean(out == 0.0))))
    slope = alt.param(name="slope", value=0.05, bind=alt.binding_range(
        min=0, max=0.5, step=0.05, name="LeakyReLU negative slope "))
    alpha = alt.param(name="alpha", value=1.0, bind=alt.binding_range(
        min=0.25, max=2, step=0.25, name="ELU / CELU alpha "))
    beta = alt.param(name="beta", value=1.0, bind=alt.binding_range(
        min=0.5, max=5, step=0.5, name="Swish / Softplus beta "))
    approx = alt.param(name="approx", value="none", bind=alt.binding_radio(
        options=["none", "tanh"], name="GELU approximation "))
    which = alt.param(name="activation", value="ReLU", bind=alt.binding_select(
        options=names, name="Activation "))
    # the parameter value each activation's state is selected by
    param_expr = {"slope": "slope", "alpha": "alpha", "beta": "beta",
                  "approx": "(approx == 'tanh' ? 1 : 0)"}
    kinds = {s[0]: s[1] for s in states}
    want = " : ".join(f"activation == '{n}' ? {param_expr[k]}"
                      for n, k in kinds.items() if k) + " : 0"
    # a lookup table: state index -> (activation, parameter)
    index_rows = [(i, n, float(v)) for i, (n, k, v, _, _) in enumerate(states)]
    lookup = alt.LookupData(data=_data(index_rows, ["s", "n", "p"]), key="s",
                            fields=["n", "p"])
    base_x = alt.X("x:Q", title="input x", scale=alt.Scale(domain=[-4, 4]))
    lines = (
        alt.Chart(_data(curves, ["s", "y", "d"]))
        .transform_lookup(lookup="s", from_=lookup)
        .transform_calculate(want=want)
        .transform_filter("datum.n == activation && abs(datum.p - datum.want) < 1e-6")
        # the rows of a state are x = -4, -3.875, ..., 4 in order
        .transform_window(row="row_number()")
        .transform_calculate(x=f"{x[0]} + {x[1] - x[0]} * (datum.row - 1)")
        .transform_fold(["y", "d"], as_=["series", "value"])
        .transform_calculate(series="datum.series == 'y' ? 'function f(x)' : "
                                    "'derivative f\\'(x)'")
        .mark_line(strokeWidth=2, clip=True)
        .encode(
            x=base_x,
            y=alt.Y("value:Q", title="output", scale=alt.Scale(domain=[-2, 4])),
            color=alt.Color("series:N", title=None, scale=alt.Scale(
                range=[_ORANGE, _BLUE]), legend=alt.Legend(orient="bottom")),
            strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(
                range=[[5, 3], [1, 0]]), legend=alt.Legend(orient="bottom")),
        )
        .properties(width=_WIDTH, height=200,
                    title="Function and derivative")
    )
    bars = (
        alt.Chart(_data(hist, ["s", "lo", "density"]))
        .transform_lookup(lookup="s", from_=lookup)
        .transform_calculate(want=want)
        .transform_filter("datum.n == activation && abs(datum.p - datum.want) < 1e-6")
        .transform_calculate(hi=f"datum.lo + {bin_width}")
        .mark_rect(color=_BLUE, opacity=0.8, clip=True)
        .encode(x=alt.X("lo:Q", title="output f(z), z ~ N(0, 1) "
                                      "(clipped to [-2, 4])",
                        scale=alt.Scale(domain=[-2, 4])),
                x2="hi:Q",
                y=alt.Y("density:Q", title="density",
                        scale=alt.Scale(domain=[0, 4], clamp=True)))
    )
    stats_chart = (
        alt.Chart(_data(stats, ["s", "mean", "zeros"]))
        .transform_lookup(lookup="s", from_=lookup)
        .transform_calculate(want=want)
        .transform_filter("datum.n == activation && abs(datum.p - datum.want) < 1e-6")
        .transform_calculate(
            mean_text="'mean ' + format(datum.mean, '.3f')",
            zeros_text="'exact zeros ' + format(datum.zeros, '.1%')")
    )
    text = (
        stats_chart.mark_text(align="right", baseline="top", fontSize=12,
                              x=_WIDTH - 4, y=4).encode(text="mean_text:N")
        + stats_chart.mark_text(align="right", baseline="top", fontSize=12,
                                x=_WIDTH - 4, y=20).encode(text="zeros_text:N")
    )
    hist_panel = (bars + text).properties(
        width=_WIDTH, height=160, title="Outputs for standard normal inputs")
    chart = (
        alt.vconcat(lines, hist_panel)
        .add_params(which, slope, alpha, beta, approx)
        .configure_view(stroke=None)
        .properties(background="white")
    )
    by_state = {states[i][:3]: (m, zf) for i, m, zf in stats}
    _claim(abs(by_state[("ReLU", "", 0.0)][1] - 0.5) < 0.01,
           "ReLU sends half of them to exactly 0")
    _claim(all(zf == 0 for (n, k, v), (m, zf) in by_state.items()
               if (n == "LeakyReLU" and v > 0) or n in ("GELU", "SiLU", "Swish", "Mish")),
           "a negative slope or a smooth gate leaves none at exactly 0")
        # the static fallback: ReLU, LeakyReLU(0.1), GELU, SiLU
    fallback = _activation_fallback(x, z)
    return Explorable(
        name="activation-explorer", chart=chart, fallback=fallback,
        alt="Four activations (ReLU, LeakyReLU with slope 0.1, GELU, SiLU) and "
            "their derivatives on [-4, 4].",
        description=(
            "Choose an activation and its parameter. The top panel draws the "
            "function (solid) and its derivative (dashed) on [-4, 4]; the "
            "bottom panel is the histogram of its outputs when the inputs are "
            f"{n_samples:,} standard normal numbers, with their mean and the "
            "fraction of outputs that are exactly zero. ReLU sends half of "
            "them to exactly 0; a negative slope or a smooth gate leaves none "
            "at exactly 0 and moves the mean."),
        data={"states": ACTIVATION_STATES, "stats": stats, "x": x},
    )


def _activation_fallback(x, z) -> bytes:
    import matplotlib.pyplot as plt

    from . import activations as A
    from . import style

    style.use()
    fig, axes = plt.subplots(1, 2, figsize=style.figsize(1, 2, height=3.0))
    for (label, f, g), c, ls in zip(
            [("ReLU", A.relu, A.relu_grad),
             ("LeakyReLU 0.1", lambda v: A.leaky_relu(v, 0.1),
              lambda v: A.leaky_relu_grad(v, 0.1)),
             ("GELU", A.gelu, A.gelu_grad), ("SiLU", A.silu, A.silu_grad)],
            [_C["relu"], _C["leaky_relu"], _C["gelu"], _C["silu"]],
            [style.LINESTYLES[k] for k in ("relu", "leaky_relu", "gelu", "silu")]):
        axes[0].plot(x, f(x), color=c, linestyle=ls, label=label)
        axes[1].plot(x, g(x), color=c, linestyle=ls, label=label)
    axes[0].set(xlabel="x", ylabel="f(x)", title="function")
    axes[1].set(xlabel="x", ylabel="f'(x)", title="derivative")
    axes[0].legend(fontsize=9)

    return _png(fig)


# --------------------------------------------------------------------------
# chapter 1: a ReLU network's fit
# --------------------------------------------------------------------------

def relu_fit(interpolant: Callable, net: Callable, target: Callable, *,
             units: Sequence[int] = tuple(range(1, 17)), lo: float = -3.0,
             hi: float = 3.0) -> Explorable:
    """Chapter 1: the number of hidden units -> the piecewise-linear fit and its knots.

    ``interpolant(target, knots)`` returns the network's parameters and
    ``net(x, *params)`` evaluates it (the chapter's own ``relu_interpolant``
    and ``relu_net``); ``target`` is the function fitted on [lo, hi]. For
    every k in ``units`` the net with k hidden units (k + 1 equally spaced
    knots) is evaluated on a grid, with its maximum error on that grid.
    """
    ks = [int(k) for k in units]
    if not ks or min(ks) < 1 or len(set(ks)) != len(ks):
        raise ValueError(f"units must be distinct positive integers, got {units}")
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"need finite lo < hi, got {lo}, {hi}")
    grid = np.linspace(lo, hi, 241)
    t = np.asarray(target(grid), dtype=float)
    fits, knot_rows, errors = [], [], {}
    for k in ks:
        knots = np.linspace(lo, hi, k + 1)
        params = interpolant(target, knots)
        y = np.asarray(net(grid, *params), dtype=float)
        if y.shape != grid.shape:
            raise ValueError(f"net returned shape {y.shape} for {grid.shape} inputs")
        errors[k] = float(np.abs(y - t).max())
        fits += [(k, xv, yv) for xv, yv in zip(grid, y)]
        yk = np.asarray(net(knots, *params), dtype=float)
        knot_rows += [(k, xv, yv) for xv, yv in zip(knots, yk)]
    k_param = alt.param(name="units", value=ks[min(5, len(ks) - 1)],
                        bind=alt.binding_range(min=min(ks), max=max(ks), step=1,
                                               name="hidden ReLU units "))
    x = alt.X("x:Q", title="input x", scale=alt.Scale(domain=[lo, hi]))
    y = alt.Y("y:Q", title="output")
    tgt = (alt.Chart(_data([(xv, yv) for xv, yv in zip(grid, t)], ["x", "y"]))
           .transform_calculate(series="'target'")
           .mark_line(strokeWidth=2, strokeDash=[5, 3])
           .encode(x=x, y=y, color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom"),
                   scale=alt.Scale(domain=["target", "ReLU network", "knots"],
                                   range=[_GREY, _BLUE, _ORANGE]))))
    fit = (alt.Chart(_data(fits, ["k", "x", "y"]))
           .transform_filter("datum.k == units")
           .transform_calculate(series="'ReLU network'")
           .mark_line(strokeWidth=2).encode(x=x, y=y, color="series:N"))
    pts = (alt.Chart(_data(knot_rows, ["k", "x", "y"]))
           .transform_filter("datum.k == units")
           .transform_calculate(series="'knots'")
           .mark_point(filled=True, size=45, shape="diamond")
           .encode(x=x, y=y, color="series:N"))
    err = (alt.Chart(_data([(k, e) for k, e in errors.items()], ["k", "e"]))
           .transform_filter("datum.k == units")
           .transform_calculate(label="datum.k + ' units: max error ' + "
                                      "format(datum.e, '.2e')")
           .mark_text(align="left", baseline="top", fontSize=13, x=4, y=4)
           .encode(text="label:N"))
    chart = ((tgt + fit + pts + err).add_params(k_param)
             .properties(width="container", height=290, background="white",
                         autosize=_FIT)
             .configure_view(stroke=None))
    if 8 in errors and 16 in errors:
        _claim(3 < errors[8] / errors[16] < 5,
               "it falls roughly fourfold each time k doubles")
    fallback = _fit_fallback(grid, t, fits, knot_rows, [k for k in (2, 6) if k in ks] or ks[:1])
    return Explorable(
        name="relu-fit", chart=chart, fallback=fallback,
        alt="The target and ReLU networks with 2 and 6 hidden units that "
            "interpolate it linearly between equally spaced knots.",
        description=(
            "Move the number of hidden ReLU units k. The network (solid) "
            "interpolates the target (dashed) linearly between k + 1 equally "
            f"spaced knots (diamonds) on [{lo:g}, {hi:g}], bending only at the "
            "knots; the largest error on the grid is printed, and it falls "
            "roughly fourfold each time k doubles."),
        data={"errors": errors},
    )


def _fit_fallback(grid, t, fits, knot_rows, show) -> bytes:
    import matplotlib.pyplot as plt

    from . import style

    style.use()
    fig, ax = plt.subplots(figsize=style.figsize(1, 1, height=3.2))
    ax.plot(grid, t, color=_GREY, linestyle="--", label="target")
    for k, c, ls in zip(show, [_ORANGE, _BLUE], [":", "-"]):
        xs = [r[1] for r in fits if r[0] == k]
        ys = [r[2] for r in fits if r[0] == k]
        ax.plot(xs, ys, color=c, linestyle=ls, label=f"{k} ReLU units")
        kx = [r[1] for r in knot_rows if r[0] == k]
        ky = [r[2] for r in knot_rows if r[0] == k]
        ax.plot(kx, ky, "D", color=c, markersize=4)
    ax.set(xlabel="input x", ylabel="output")
    ax.legend(fontsize=9)

    return _png(fig)


# --------------------------------------------------------------------------
# chapter 3: signal through depth
# --------------------------------------------------------------------------

def signal_through_depth(*, weight_vars: Sequence[float] = tuple(
        np.round(np.arange(0.5, 3.001, 0.25), 2)), depth: int = 30, width: int = 256,
        n_inputs: int = 128, seed: int = 0) -> Explorable:
    """Chapter 3: weight scale -> activations' mean square per layer, ReLU and tanh.

    Uses :func:`relucourse.gradients.second_moments` (the chapter's own
    measurement) with weights drawn from N(0, c / width), for every c in
    ``weight_vars``; c = 2 is He initialisation, c = 1 Xavier's.
    """
    import torch

    from .gradients import second_moments
    from .training import torch_threads

    cs = _check_grid("weight_vars", weight_vars, minimum=1e-6)
    if depth < 1 or width < 1 or n_inputs < 1:
        raise ValueError("depth, width and n_inputs must be positive integers")
    rows, q = [], {}
    with torch_threads(1):                  # small matrices: one thread is faster
        for c in cs:
            for label, fn in (("ReLU", torch.relu), ("tanh", torch.tanh)):
                m = second_moments(depth, width, float(c), n_inputs=n_inputs,
                                   seed=seed, activation=fn)
                q[(label, float(c))] = m
                rows += [(round(float(c), 4), label, layer, v)
                         for layer, v in enumerate(m)]
    he = 2.0 if any(abs(c - 2.0) < 1e-9 for c in cs) else float(cs[len(cs) // 2])
    c_param = alt.param(name="c", value=he, bind=alt.binding_range(
        min=float(cs.min()), max=float(cs.max()),
        step=float(np.round(np.diff(cs).min(), 6)) if len(cs) > 1 else 1.0,
        name="fan_in × Var(w) (He: 2) "))
    x = alt.X("layer:Q", title="layer")
    y = alt.Y("q:Q", title="mean square of activations (log scale)",
              scale=alt.Scale(type="log", domain=[1e-4, 1e4], clamp=True))
    color = alt.Color("act:N", title=None, legend=alt.Legend(orient="bottom"),
                      scale=alt.Scale(domain=["ReLU", "tanh", "ReLU, He (c = 2)"],
                                      range=[_C["relu"], _C["tanh"], _GREY]))
    dash = alt.StrokeDash("act:N", legend=alt.Legend(orient="bottom"),
                          scale=alt.Scale(domain=["ReLU", "tanh", "ReLU, He (c = 2)"],
                                          range=[[1, 0], [6, 3], [2, 2]]))
    data = _data(rows, ["c", "act", "layer", "q"])
    ref = (alt.Chart(data).transform_filter(f"datum.c == {he} && datum.act == 'ReLU'")
           .transform_calculate(act="'ReLU, He (c = 2)'")
           .mark_line(strokeWidth=1.5).encode(x=x, y=y, color=color, strokeDash=dash))
    cur = (alt.Chart(data).transform_filter("abs(datum.c - c) < 1e-6")
           .mark_line(strokeWidth=2.5, point=True).encode(x=x, y=y, color=color,
                                                          strokeDash=dash))
    chart = ((ref + cur).add_params(c_param)
             .properties(width="container", height=300, background="white",
                         autosize=_FIT)
             .configure_view(stroke=None))
    last = {k: float(v[-1]) for k, v in q.items()}
    if depth >= 20:
        _claim(all(v < 0.1 for (a, c), v in last.items() if a == "ReLU" and c <= 1.5)
               and all(v > 10 for (a, c), v in last.items() if a == "ReLU" and c >= 2.5),
               "below 2 the ReLU signal shrinks and above 2 it grows")
        _claim(all(v < 0.1 for (a, c), v in last.items() if a == "tanh" and c <= 0.8)
               and all(0.05 < v < 1 for (a, c), v in last.items() if a == "tanh" and c >= 1.5),
               "tanh shrinks for c up to about 1 and settles to a fixed level above it")
    fallback = _depth_fallback(q, depth, [v for v in (1.0, 2.0, 3.0) if (("ReLU", v) in q)])
    return Explorable(
        name="signal-through-depth", chart=chart, fallback=fallback,
        alt="Mean square of the activations per layer of a deep network, on a "
            "log scale, for ReLU and tanh at three weight scales.",
        description=(
            f"Move c, the weight variance times the fan-in, in a stack of {depth} "
            f"layers of {width} units without biases. The mean square of the "
            "activations per layer is drawn on a log scale for ReLU and for "
            "tanh; the grey line is ReLU at He's value c = 2, where the signal "
            "keeps its scale. Below 2 the ReLU signal shrinks geometrically "
            "with depth and above 2 it grows; tanh shrinks for c up to about 1 "
            "and settles to a fixed level above it."),
        data={"moments": q, "last": last},
    )


def _depth_fallback(q, depth, cs) -> bytes:
    import matplotlib.pyplot as plt

    from . import style

    style.use()
    fig, axes = plt.subplots(1, 2, figsize=style.figsize(1, 2, height=3.0),
                             sharey=True)
    for ax, act in zip(axes, ("ReLU", "tanh")):
        for c, col, ls in zip(cs, [_ORANGE, _BLUE, _GREEN], ["--", "-", "-."]):
            ax.semilogy(np.arange(depth + 1), q[(act, c)], color=col,
                        linestyle=ls, label=f"c = {c:g}")
        ax.set(xlabel="layer", title=act)
    axes[0].set_ylabel("mean square")
    axes[0].legend(fontsize=9)

    return _png(fig)


# --------------------------------------------------------------------------
# chapter 4: dying ReLU against the learning rate
# --------------------------------------------------------------------------

def dying_relu_vs_lr(*, lrs: Sequence[float] = (0.1, 0.5, 1.0, 1.5, 2.0),
                     seeds: Sequence[int] = (0, 1, 2), epochs: int = 10,
                     hidden: tuple[int, ...] = (32, 32)) -> Explorable:
    """Chapter 4: learning rate -> dead fraction per layer and test accuracy per epoch.

    Real training runs on the digits, made by
    :func:`relucourse.experiments.digits_runs` (plain SGD, the chapter's
    tool counting dead units on the training inputs before training and after
    every epoch), for every learning rate and seed, all trained side by side
    in one stacked computation. The chart shows the mean
    over seeds and the band from the lowest to the highest seed. Chaotic runs
    differ between CPUs: the figure shows what this build computed.
    """
    from .experiments import build_mlp, digits_runs
    from .training import torch_threads

    lr_arr = _check_grid("lrs", lrs, minimum=1e-9)
    seeds = [int(s) for s in seeds]
    if not seeds or epochs < 1:
        raise ValueError("need at least one seed and one epoch")
    with torch_threads(1):
        dead_rows, acc_rows, runs = [], [], {}
        # every (learning rate, seed) network trains side by side in one
        # stacked computation, each with its own rate (plain SGD)
        keys = [(float(lr), seed) for lr in lr_arr for seed in seeds]
        models = [build_mlp(tuple(hidden), seed=seed) for _, seed in keys]
        stacked = digits_runs([seed for _, seed in keys], models,
                              lr=[lr for lr, _ in keys], epochs=epochs)
        for (lr, seed), run in zip(keys, stacked):
            runs[(lr, seed)] = run
            for layer, values in run.recorder.history.items():
                dead_rows += [(lr, seed, layer, e, v)
                              for e, v in zip(run.recorder.epochs, values)]
            acc_rows += [(lr, seed, e + 1, a)
                         for e, a in enumerate(run.history["test_acc"])]
    lr_param = alt.param(name="lr", value=float(lr_arr[-1]), bind=alt.binding_radio(
        options=[float(v) for v in lr_arr], name="learning rate "))
    sel = "abs(datum.lr - lr) < 1e-9"
    layers = list(dict.fromkeys(r[2] for r in dead_rows))
    ep = alt.X("epoch:Q", title="epoch", scale=alt.Scale(domain=[0, epochs]),
               axis=alt.Axis(tickMinStep=1))
    layer_colors = alt.Scale(domain=layers, range=[_BLUE, _ORANGE, _GREEN][:len(layers)])
    color = alt.Color("layer:N", title="layer", scale=layer_colors,
                      legend=alt.Legend(orient="bottom", symbolType="stroke",
                                        symbolOpacity=1, symbolStrokeWidth=2))
    dash = alt.StrokeDash("layer:N", legend=alt.Legend(orient="bottom"),
                          scale=alt.Scale(domain=layers,
                                          range=[[1, 0], [6, 3], [2, 2]][:len(layers)]))
    dead = (alt.Chart(_data(dead_rows, ["lr", "seed", "layer", "epoch", "dead"]))
            .transform_filter(sel)
            .transform_aggregate(mean="mean(dead)", lo="min(dead)", hi="max(dead)",
                                 groupby=["layer", "epoch"]))
    dead_panel = (
        dead.mark_area(opacity=0.25).encode(x=ep, y=alt.Y("lo:Q", title="dead fraction",
                                            scale=alt.Scale(domain=[0, 1])),
                                            y2="hi:Q", color=color)
        + dead.mark_line(point=True).encode(x=ep, y="mean:Q", color=color,
                                            strokeDash=dash)
    ).properties(width=_WIDTH, height=170,
                 title="Dead units per layer (band: range over seeds)")
    acc = (alt.Chart(_data(acc_rows, ["lr", "seed", "epoch", "acc"]))
           .transform_filter(sel)
           .transform_aggregate(mean="mean(acc)", lo="min(acc)", hi="max(acc)",
                                groupby=["epoch"]))
    acc_panel = (
        acc.mark_area(opacity=0.25, color=_GREY).encode(
            x=ep, y=alt.Y("lo:Q", title="test accuracy", scale=alt.Scale(domain=[0, 1])),
            y2="hi:Q")
        + acc.mark_line(point=True, color="#333333").encode(x=ep, y="mean:Q")
    ).properties(width=_WIDTH, height=150,
                 title=f"Test accuracy ({len(seeds)} seeds)")
    chart = (alt.vconcat(dead_panel, acc_panel).add_params(lr_param)
             .properties(background="white").configure_view(stroke=None))
    summary = {k: {"dead": r.dead, "test_acc": r.test_acc, "diverged": r.diverged}
               for k, r in runs.items()}
    fallback = _dying_fallback(dead_rows, acc_rows, lr_arr, layers, epochs)
    return Explorable(
        name="dying-relu-vs-lr", chart=chart, fallback=fallback,
        alt="Dead fraction per layer and test accuracy per epoch for the "
            "smallest and the largest learning rate.",
        description=(
            f"Choose the learning rate of plain SGD for a {len(hidden)}-hidden-layer "
            f"ReLU network ({' and '.join(map(str, hidden))} units) trained for "
            f"{epochs} epochs on the digits with {len(seeds)} seeds. The top "
            "panel shows, per epoch, the fraction of each ReLU layer's units "
            f"(layers {' and '.join(layers)}, named as model.named_modules() "
            "names them) that are dead on every training input (line: mean over the seeds, "
            "band: lowest to highest); the bottom panel the test accuracy. "
            "These are the runs made when this page was built; a chaotic run "
            "can come out differently on another processor."),
        data={"runs": summary, "dead_rows": dead_rows, "acc_rows": acc_rows},
    )


def _dying_fallback(dead_rows, acc_rows, lr_arr, layers, epochs) -> bytes:
    import matplotlib.pyplot as plt

    from . import style

    style.use()
    fig, axes = plt.subplots(1, 2, figsize=style.figsize(1, 2, height=3.0))
    for lr, ls in zip((lr_arr[0], lr_arr[-1]), ["-", "--"]):
        for layer, col in zip(layers, [_BLUE, _ORANGE, _GREEN]):
            ys = [np.mean([r[4] for r in dead_rows if r[0] == lr and r[2] == layer
                           and r[3] == e]) for e in range(epochs + 1)]
            axes[0].plot(range(epochs + 1), ys, color=col, linestyle=ls,
                         label=f"lr {lr:g}, {layer}")
        ys = [np.mean([r[3] for r in acc_rows if r[0] == lr and r[2] == e])
              for e in range(1, epochs + 1)]
        axes[1].plot(range(1, epochs + 1), ys, color="#333333", linestyle=ls,
                     label=f"lr {lr:g}")
    axes[0].set(xlabel="epoch", ylabel="dead fraction", ylim=(0, 1))
    axes[1].set(xlabel="epoch", ylabel="test accuracy", ylim=(0, 1))
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)

    return _png(fig)


# --------------------------------------------------------------------------
# the Vega scripts, for the book (tools/sphinxext/vega.py serves them)
# --------------------------------------------------------------------------

def vega_sources() -> dict[str, Path]:
    """Where the installed ``django-js-lib-vega-embed`` keeps each script."""
    import js_lib_vega_embed

    folder = Path(js_lib_vega_embed.__file__).parent / "static" / "js_lib_vega_embed"
    paths = {ours: folder / theirs for ours, theirs in VEGA_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"Vega scripts missing: {missing}; reinstall "
                                "django-js-lib-vega-embed from requirements.txt")
    return paths
