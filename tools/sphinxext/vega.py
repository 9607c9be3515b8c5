"""Serve the explorables' Vega scripts from ``_static`` (no CDN).

Copies the three scripts (vega, vega-lite, vega-embed, shipped as files by a
PyPI package; see :func:`relucourse.explorables.vega_sources`) into
``_static/relucourse-vega`` and adds them only to pages that contain an
explorable.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from relucourse.explorables import BOOK_BUILD_ENV, STATIC_DIR, VEGA_FILES, vega_sources


def _add_scripts(app, pagename, templatename, context, doctree) -> None:
    if "relucourse-explorable" in (context.get("body") or ""):
        for name in VEGA_FILES:
            app.add_js_file(f"{STATIC_DIR}/{name}")


def _copy_scripts(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STATIC_DIR
    target.mkdir(parents=True, exist_ok=True)
    for ours, src in vega_sources().items():
        shutil.copyfile(src, target / ours)


def setup(app):
    """Serve Vega from ``_static``.

    Copies the three scripts into ``_static/relucourse-vega`` and adds them
    only to pages that contain an explorable; tells the notebooks executed
    by this build (through an environment variable their kernels inherit)
    to emit the book's HTML.
    """
    vega_sources()                          # fail early if not installed
    os.environ[BOOK_BUILD_ENV] = "1"
    app.connect("html-page-context", _add_scripts)
    app.connect("build-finished", _copy_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
