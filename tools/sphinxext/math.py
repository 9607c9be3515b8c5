"""Every formula rendered when the book is built: KaTeX through Node.js, no script in the page.

sphinxcontrib-katex (PyPI) registers the math renderer and, with
``katex_prerender``, hands each formula to KaTeX running in Node.js
(``katex.renderToString``). This module configures it so that

* KaTeX is the npm package ``katex`` (tools/package.json, installed by
  tools/bootstrap.py with ``npm ci``), the same version for the renderer, its
  stylesheet and its fonts;
* the stylesheet and the fonts (woff2) are served from ``_static/katex`` (no CDN),
  and the two fonts nearly every formula uses are preloaded on pages with math (with
  any other font a formula of the first screenful uses);
* each formula arrives as HTML for the eye plus MathML for screen readers
  (KaTeX's ``htmlAndMathml`` output; the MathML keeps the TeX source as an
  ``annotation``, which tests/test_browser.py compares with the sources);
* TeX that KaTeX cannot render stops the build with the page, line and formula
  (``throwOnError``): no formula is ever shown raw or in KaTeX's red error text.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
KATEX_DIST = ROOT / "tools" / "node_modules" / "katex" / "dist"
STATIC_DIR = "katex"
RENDERER = "katex-build"
#: The fonts of ordinary text and of math italics, used by nearly every formula.
PRELOAD = ("KaTeX_Main-Regular.woff2", "KaTeX_Math-Italic.woff2")
#: KaTeX's class in the rendered HTML -> the font it draws with: a page preloads the fonts
#: its formulas use, so that they arrive before the first layout (a font that arrives
#: later changes the formulas' widths and moves the text around them).
FONT_OF_CLASS = {
    "mathbf": "KaTeX_Main-Bold.woff2", "textbf": "KaTeX_Main-Bold.woff2",
    "mathit": "KaTeX_Main-Italic.woff2", "textit": "KaTeX_Main-Italic.woff2",
    "boldsymbol": "KaTeX_Math-BoldItalic.woff2",
    "amsrm": "KaTeX_AMS-Regular.woff2", "mathbb": "KaTeX_AMS-Regular.woff2",
    "mathcal": "KaTeX_Caligraphic-Regular.woff2", "mathsf": "KaTeX_SansSerif-Regular.woff2",
    "mathtt": "KaTeX_Typewriter-Regular.woff2",
    "size1": "KaTeX_Size1-Regular.woff2", "size2": "KaTeX_Size2-Regular.woff2",
    "size3": "KaTeX_Size3-Regular.woff2", "size4": "KaTeX_Size4-Regular.woff2",
}
#: HTML of a page's body (KaTeX's markup is verbose) that is, roughly, its first screenful.
FIRST_SCREEN_HTML = 20_000
_CLASS = re.compile(r'class="([^"]*)"')
#: KaTeX's options for every formula (display formulas add ``displayMode``).
OPTIONS = {"throwOnError": True, "output": "htmlAndMathml", "strict": "warn"}
_OTHER_FORMATS = re.compile(r',url\(fonts/[^)]+\.(?:woff|ttf)\) format\("(?:woff|truetype)"\)')


def _katex():
    try:
        import sphinxcontrib.katex as katex
    except ImportError as exc:  # pragma: no cover - a missing install
        raise ExtensionError("sphinxcontrib-katex is missing: pip install -r requirements.txt") from exc
    return katex


def _check_installed() -> None:
    if not (KATEX_DIST / "katex.min.js").is_file():
        raise ExtensionError(f"KaTeX is not installed at {KATEX_DIST}: run `npm ci --prefix tools` "
                             "(tools/bootstrap.py does it); Node.js renders the formulas at build time")
    if shutil.which("node") is None:
        raise ExtensionError("Node.js (`node`) is needed to render the formulas at build time")


def _where(translator, node) -> str:
    doc = getattr(translator.builder, "current_docname", None) or "?"
    return f"{doc}:{node.line or '?'}"


def _checked(visit):
    katex = _katex()

    def visitor(self, node):
        try:
            visit(self, node)
        except katex.KaTeXError as err:
            raise ExtensionError(f"{_where(self, node)}: KaTeX cannot render "
                                 f"{node.astext()!r}: {err}") from None
    return visitor


def _start_server(cls, rundir: Path, timeout: float):
    """Start KaTeX's Node.js server on a Unix socket in ``rundir``; connect once it listens."""
    import socket
    import subprocess
    import time

    path = rundir / "katex.sock"
    process = subprocess.Popen(cls.build_command(socket=path), stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, cwd=rundir)
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return process, sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise cls.timeout_error(timeout) from None
            time.sleep(0.01)


def _configure(app, config) -> None:
    _check_installed()
    katex = _katex()
    katex.KATEX_DEFAULT_OPTIONS.clear()
    katex.KATEX_DEFAULT_OPTIONS.update(OPTIONS)
    katex.RENDER_TIMEOUT = max(katex.RENDER_TIMEOUT, 30.0)   # a busy machine
    katex.STARTUP_TIMEOUT = max(katex.STARTUP_TIMEOUT, 30.0)
    # Its Unix-socket start connects once, as soon as the socket file exists, which on a
    # busy machine can be before Node listens (ConnectionRefusedError): retry until it does.
    katex.KaTeXServer.start_server_process = classmethod(_start_server)
    config.html_math_renderer = RENDERER
    config.katex_prerender = True
    config.katex_js_path = str(KATEX_DIST / "katex.min.js")
    katex.KaTeXServer.katex_path = config.katex_js_path   # (sphinxcontrib-katex sets it too)
    config.katex_css_path = f"{STATIC_DIR}/katex.min.css"


def _preload(app, pagename, templatename, context, doctree) -> None:
    if app.builder.format != "html" or doctree is None:
        return
    from docutils import nodes

    if next(iter(doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))), None) is None:
        return
    fonts = list(PRELOAD)
    # The other fonts only for the formulas of the first screenful: a preload competes with
    # the stylesheets for a phone's bandwidth, and a later formula's font is fetched when
    # the browser draws it (below the first screen, where nothing visible moves).
    body = (context.get("body") or "")[:FIRST_SCREEN_HTML]
    classes = {c for m in _CLASS.finditer(body) for c in m.group(1).split()}
    fonts += sorted({font for cls, font in FONT_OF_CLASS.items() if cls in classes} - set(fonts))
    depth = pagename.count("/")
    prefix = "../" * depth + f"_static/{STATIC_DIR}/fonts/"
    links = "".join(f'<link rel="preload" href="{prefix}{name}" as="font" type="font/woff2" crossorigin>\n'
                    for name in fonts)
    context["metatags"] = context.get("metatags", "") + links


def _copy(app, exception) -> None:
    """KaTeX's stylesheet (woff2 fonts only: every browser that runs the theme reads them)."""
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / STATIC_DIR
    (target / "fonts").mkdir(parents=True, exist_ok=True)
    css = (KATEX_DIST / "katex.min.css").read_text(encoding="utf-8")
    (target / "katex.min.css").write_text(_OTHER_FORMATS.sub("", css), encoding="utf-8")
    for font in (KATEX_DIST / "fonts").glob("*.woff2"):
        shutil.copyfile(font, target / "fonts" / font.name)


def setup(app):
    """Render math with KaTeX at build time (see the module's description)."""
    katex = _katex()
    app.setup_extension("sphinxcontrib.katex")
    app.add_html_math_renderer(RENDERER, inline_renderers=(_checked(katex.html_visit_math), None),
                               block_renderers=(_checked(katex.html_visit_displaymath), None))
    app.connect("config-inited", _configure, priority=100)
    app.connect("html-page-context", _preload)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
