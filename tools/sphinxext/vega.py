"""The explorables' Vega scripts, served from ``_static`` (no CDN) and loaded when needed.

Copies the three scripts (vega, vega-lite, vega-embed, shipped as files by a
PyPI package; see :func:`relucourse.explorables.vega_sources`) into
``_static/relucourse-vega``, with the book's loader (``loader.js``, from
explorables-loader.js beside this module). A page that contains an explorable
gets that one small deferred script, which loads the three
only when the reader comes near an explorable (IntersectionObserver) and draws
it in place of its static figure. Pages without one load nothing.

What the notebooks' cells return does not depend on this build: the book picks
the ``text/html`` of each explorable's bundle by mime priority (_config.yml).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from relucourse.explorables import STATIC_DIR, vega_sources

LOADER = Path(__file__).with_name("explorables-loader.js")


def _add_loader(app, pagename, templatename, context, doctree) -> None:
    """The loader at the end of the page's body, on pages with an explorable only.

    (``app.add_js_file`` from this event adds the file to every later page as well.)
    """
    body = context.get("body") or ""
    if "relucourse-explorable" in body:
        src = context["pathto"](f"_static/{STATIC_DIR}/loader.js", 1)
        context["body"] = body + f'<script defer src="{src}"></script>'


def _copy_scripts(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STATIC_DIR
    target.mkdir(parents=True, exist_ok=True)
    for ours, src in vega_sources().items():
        shutil.copyfile(src, target / ours)
    shutil.copyfile(LOADER, target / "loader.js")


def setup(app):
    """Serve Vega from ``_static``; add the loader to pages with an explorable."""
    vega_sources()                          # fail early if not installed
    app.connect("html-page-context", _add_loader)
    app.connect("build-finished", _copy_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
