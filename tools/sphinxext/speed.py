"""Page-speed fixes made on the written HTML, once the build has finished.

* **Icons as inline SVG.** The theme draws its icons (``<i class="fa-solid
  fa-bars">``) with Font Awesome's script, 1.5 MB that turns each ``<i>`` into an
  ``<svg>`` after the page has loaded. Here each icon becomes that same ``<svg>``
  at build time, its path read from the theme's own copy of Font Awesome (Free,
  CC BY 4.0 icons), and _templates/layout.html no longer loads the script.
* **The theme's icon font cut to what its stylesheets draw.** A few icons are drawn
  by the stylesheets as text in Font Awesome's solid font (156 KB, fetched by every
  page): the font is cut (fontTools) to those glyphs.
* **Images with their size, loaded when needed.** Every ``<img>`` of a page gets
  ``width`` and ``height`` (read from the image file; the stylesheet keeps
  ``height: auto`` so the ratio holds at any width): the browser reserves its box
  and nothing moves when it arrives. Images after the first screenful of the
  article get ``loading="lazy"`` (fetched when the reader scrolls near them); the
  first one, which can be the largest paint, loads at once.
* **Pictures inside the page, far down, moved to files.** An explorable's static figure
  comes from its notebook output as a PNG inside the HTML (``src="data:..."``, 26-32
  KB of base64 that gzip cannot shrink, on chapters 1, 3, 4 and 5): the phone downloaded it with
  the page's text, before the first paint, though the figure sits far below the first
  screen. Such an image after the first screenful is written to
  ``_images/inline-<hash>.<ext>`` and the page points at it; it then loads lazily as
  the other images do (its width and height stay on the tag: no shift).

* **The theme's stylesheets cut to the selectors the site uses.** The theme ships
  397 KB of CSS (Bootstrap and its own), about 91% of which no page uses; every page
  fetches it before its first paint, and the browser matches every page's
  elements against all of it. After the build, PurgeCSS (npm, tools/package.json)
  keeps the rules whose classes, ids and tags occur in some page of the site or in
  a string of the site's scripts (the classes they toggle: ``show``, ``active``,
  dark mode's ``data-theme``, the search results'), plus :data:`SAFELIST`. One
  trimmed stylesheet serves every page (the browser caches it across pages).
  tests/test_page_speed.py checks that no class a page uses lost its rules.

* **Scripts after the text.** Sphinx and its extensions put their scripts in the
  page's head without ``defer`` (copy buttons, toggles, tabs, the theme's): each one
  stopped the browser's reading of the page until it was fetched and run. They are
  deferred (run in the same order, after the page is read), but for Sphinx's 1 KB of
  options that the theme's inline scripts extend; the other inline scripts between
  them only set configuration that the deferred ones read when they run.

* **Tab stops on scrollable boxes without laying out the whole page.** When a page
  has loaded, pydata-sphinx-theme gives each code block and output that scrolls a tab
  stop (keyboard users can scroll it). It read each box's size right after changing
  the previous one's ``tabIndex``, so the browser laid out the whole page again for
  every box (13 full layouts, half a second of a phone's main thread on chapter 2),
  including the parts it had not drawn yet. Now every such box has ``tabindex="0"``
  in the HTML (reachable by keyboard before any script runs), and the theme's script,
  patched in ``_static``, measures the boxes the browser has drawn, all reads before
  the writes (one layout), then the boxes of any part drawn later
  (``contentvisibilityautostatechange``): a box that does not scroll loses its stop.

* **One stylesheet per page instead of fifteen.** Each page linked 14 stylesheets
  (the theme's, Sphinx's, each extension's, KaTeX's, the course's), and the theme's
  ``theme.css`` imported a fifteenth: 15 requests the browser had to finish before
  the first paint, 1-3 KB each but each one a request (on a phone's network a round
  trip, and on HTTP/1.1 one of six connections at a time). After the trimming, the
  page's local stylesheets are joined in their order (``@import`` inlined, each
  ``url()`` rewritten to point from ``_static/`` where the joined file lives) into
  ``_static/css/<name>.css``, named by the list it joins (pages that link the same
  sheets share it, and the browser caches it across pages), with ``?v=`` its
  content's hash. The separate sheets stay in ``_static`` (the theme's scripts and
  Thebe do not look for them; the tests read them).

* **Tooltips made when first wanted.** Bootstrap's script (the theme's) made a
  Tooltip object for each of the header's buttons (10-13 on a page) as the page
  loaded: reading each one's configuration from its attributes and hooking its events
  took 20-33 ms of the main thread in two profiles of chapter 6 (on the loaded 2-core
  development machine, no CPU slowdown; Lighthouse's phone multiplies it by 4), most of
  the script's run after the first paint. ``_static/scripts/bootstrap.js`` is patched
  to make a button's Tooltip the first time the pointer comes over it or it takes the
  keyboard focus (listening on the document, in the capture phase: the Tooltip hooks
  its events on the button before the same event reaches the button, so it shows for
  that first hover or focus as it did). Until then the button keeps its ``title``,
  which gives it its accessible name as the Tooltip's ``aria-label`` does after.

* **The colour theme written once.** The theme's script set ``data-mode`` and
  ``data-theme`` on ``<html>`` as it ran, after the first paint, even to the values
  they held; with "auto" it changed the theme from "auto" to "light" or "dark", which
  made the browser restyle every element of the page (and, in dark mode, drew the page
  light first). _templates/layout.html now settles the theme in the head, as the
  script would (the reader's choice, or the system's with "auto"), and the script,
  patched, writes the attributes only when they change. The template also no longer
  preloads the theme's two deferred scripts: fetched first at high priority, they
  shared a phone's slow network with the stylesheets the first paint waits for.

Pages are rewritten in place; the rewrite is idempotent (an incremental build
rewrites what it wrote and leaves the rest as it is).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
from functools import lru_cache
from pathlib import Path

from sphinx.errors import ExtensionError

#: Article text (characters of HTML) that fits, roughly, in the first screenful
#: of a phone: an image starting later is lazy.
FIRST_SCREEN_CHARS = 2500
SKIP = ("_static/", "_sources/", "_images/", "_downloads/")

_ICON = re.compile(r'<i class="([^"]*\b(fa-solid|fa-brands|fa-regular|fas|fab|far)\b[^"]*)"([^>]*)>\s*</i>')
_IMG = re.compile(r"<img\b[^>]*>")
_ATTR = re.compile(r'\s([a-zA-Z-]+)="([^"]*)"')
_STYLES = {"fa-solid": "fas", "fa-brands": "fab", "fa-regular": "far", "fas": "fas", "fab": "fab",
           "far": "far"}


# --- icons ------------------------------------------------------------------------------

def fontawesome_js() -> Path:
    import pydata_sphinx_theme

    return (Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme"
            / "static" / "scripts" / "fontawesome.js")


@lru_cache(maxsize=None)
def _icon_sets() -> dict[str, str]:
    """Font Awesome's script cut into its style's icon tables: "fas"/"fab"/"far" -> text."""
    text = fontawesome_js().read_text(encoding="utf-8")
    sets, start = {}, 0
    for m in re.finditer(r'\(function\(\)\{d\("(fa[bsr])",p\)', text):
        sets[m.group(1)] = text[start:m.start()]
        start = m.end()
    if set(sets) != {"fas", "fab", "far"}:
        raise ExtensionError(f"cannot read the icon tables of {fontawesome_js()} (found {sorted(sets)}); "
                             "has the theme's Font Awesome changed?")
    return sets


@lru_cache(maxsize=None)
def icon(style: str, name: str) -> tuple[int, int, str]:
    """(width, height, SVG path) of one Font Awesome icon, from the theme's own script.

    Raises:
        ExtensionError: no such icon in that style.
    """
    table = _icon_sets()[_STYLES[style]]
    m = None
    key = rf'(?:"{re.escape(name)}"|(?<=[{{,]){re.escape(name)})'   # the minifier drops quotes
    for m in re.finditer(key + r':\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]*","([^"]+)"\]', table):
        pass                                    # the last definition wins, as in the script
    if m is None:
        raise ExtensionError(f"the theme's Font Awesome has no {style} icon {name!r}")
    return int(m.group(1)), int(m.group(2)), m.group(3)


def _svg(match: re.Match) -> str:
    classes, style, rest = match.group(1).split(), match.group(2), match.group(3)
    names = [c[3:] for c in classes if c.startswith("fa-") and c[3:] not in
             ("solid", "brands", "regular", "lg", "xs", "sm", "xl", "fw", "2x", "3x")
             and c not in _STYLES]
    if len(names) != 1:
        raise ExtensionError(f"cannot tell which icon {match.group(0)!r} is")
    width, height, path = icon(style, names[0])
    attrs = dict(_ATTR.findall(rest))
    attrs.setdefault("aria-hidden", "true")
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    # Without the style classes (fa-solid, fab, ...): the theme's stylesheet gives those
    # Font Awesome's web fonts, which the browser would then fetch for nothing.
    kept = [c for c in classes if c not in _STYLES]
    return (f'<svg class="{" ".join(kept)} svg-inline--fa" viewBox="0 0 {width} {height}"'
            f' focusable="false"{extra}><path fill="currentColor" d="{path}"/></svg>')


def inline_icons(text: str) -> str:
    """Every Font Awesome ``<i>`` of a page as an inline ``<svg>``."""
    return _ICON.sub(_svg, text)


def icon_font_codepoints(static: Path) -> set[int]:
    """The Font Awesome glyphs the site's stylesheets still draw as text (``::before``).

    The theme draws a few icons with Font Awesome's solid web font in CSS (the sidebar's
    chevrons, admonition and external-link marks). Font Awesome's own class list
    (``.fa-NAME:before{content:...}``) is left out: it served ``<i>`` icons, which are
    inline SVG now.
    """
    found: set[int] = set()
    for css in static.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="ignore")
        text = re.sub(r'(?:\.fa-[a-z0-9-]+:{1,2}(?:before|after),?)+\{content:"[^"]*"\}', "", text)
        for m in re.finditer(r'\\(f[0-9a-fA-F]{3})\b|([\uf000-\uf8ff])', text):
            found.add(int(m.group(1), 16) if m.group(1) else ord(m.group(2)))
    return found


def subset_icon_font(outdir: Path) -> None:
    """Replace the theme's 156 KB solid icon font by the glyphs the stylesheets use."""
    from fontTools import subset

    font_path = outdir / "_static" / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.woff2"
    if not font_path.is_file():
        return
    original = fontawesome_js().parent.parent / "vendor" / "fontawesome" / "webfonts" / font_path.name
    source = original if original.is_file() else font_path
    codepoints = icon_font_codepoints(outdir / "_static")
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["*"]
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    subset.save_font(font, str(font_path), options)


# --- images -----------------------------------------------------------------------------

def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in pixels of a PNG, GIF, JPEG or SVG file; None if unknown."""
    try:
        head = path.read_bytes()[:64 * 1024]
    except OSError:
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return struct.unpack(">II", head[16:24])
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", head[6:10])
    if head[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(head):
            if head[i] != 0xFF:
                return None
            marker, length = head[i + 1], struct.unpack(">H", head[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", head[i + 5:i + 9])
                return w, h
            i += 2 + length
        return None
    if path.suffix == ".svg":
        m = re.search(rb'<svg\b[^>]*\bwidth="([\d.]+)(?:px|pt)?"[^>]*\bheight="([\d.]+)(?:px|pt)?"', head)
        if m:
            return round(float(m.group(1))), round(float(m.group(2)))
    return None


def _article(text: str) -> tuple[int, int] | None:
    """Where the page's article (the book's text, not the theme's frame) starts and ends."""
    start = text.find('<article class="bd-article"')
    end = text.find("</article>", start)
    return None if start < 0 or end < 0 else (start, end)


_DATA_IMAGE = re.compile(r'(<img\b[^>]*\bsrc=")data:image/(png|jpeg|gif|webp);base64,([^"]+)"')


def inline_images_to_files(text: str, page: Path, outdir: Path) -> str:
    """Each ``data:`` image of the article after the first screenful written to a file of
    ``_images`` (named by its content), and the page pointing at it."""
    import base64

    span = _article(text)
    if span is None:
        return text
    start, end = span

    def move(match: re.Match) -> str:
        if match.start() <= FIRST_SCREEN_CHARS:          # (a position in the article)
            return match.group(0)
        data = base64.b64decode(match.group(3))
        ext = "jpg" if match.group(2) == "jpeg" else match.group(2)
        name = f"inline-{hashlib.sha256(data).hexdigest()[:16]}.{ext}"
        target = outdir / "_images" / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        rel = os.path.relpath(target, page.parent).replace(os.sep, "/")
        return f'{match.group(1)}{rel}"'

    body = _DATA_IMAGE.sub(move, text[start:end])
    # size_images marked them eager while they were inside the page: lazy now
    body = re.sub(r'(<img\b[^>]*\bsrc="[^"]*_images/inline-[0-9a-f]{16}\.\w+"[^>]*?)'
                  r'\sloading="eager"', r'\1 loading="lazy"', body)
    return text[:start] + body + text[end:]


def size_images(text: str, page: Path) -> str:
    """``width``/``height`` on every image of ``page``; ``loading="lazy"`` after the first screen."""
    start, end = _article(text) or (-1, -1)

    def fix(match: re.Match) -> str:
        tag = match.group(0)
        if not start <= match.start() < end:
            # the theme's own (the launch menu's logos, hidden until the menu opens):
            # sized by its CSS, fetched when shown
            return tag if "loading=" in tag else tag.replace("<img ", '<img loading="lazy" ', 1)
        attrs = dict(_ATTR.findall(tag))
        add = {}
        src = html.unescape(attrs.get("src", ""))
        if ("width" not in attrs or "height" not in attrs) and src:
            size = None
            if src.startswith("data:image/png;base64,"):
                import base64

                head = base64.b64decode(src[22:22 + 44])
                if head[:8] == b"\x89PNG\r\n\x1a\n":
                    size = struct.unpack(">II", head[16:24])
            elif not src.startswith(("http:", "https:", "//", "data:")):
                size = image_size((page.parent / src.split("#")[0].split("?")[0]).resolve())
            if size:
                w, h = size
                if "width" in attrs and attrs["width"].isdigit():   # keep an author's width
                    w, h = int(attrs["width"]), round(int(attrs["width"]) * h / w)
                add["width"], add["height"] = str(w), str(h)
        if "loading" not in attrs and src.startswith("data:"):
            add["loading"] = "eager"              # inside the page already: nothing to defer
        elif "loading" not in attrs:
            add["loading"] = "lazy" if match.start() - start > FIRST_SCREEN_CHARS else "eager"
        if "decoding" not in attrs:
            add["decoding"] = "async"
        if not add:
            return tag
        for key in ("width", "height"):
            tag = re.sub(rf'\s{key}="[^"]*"', "", tag) if key in add else tag
        extra = "".join(f' {k}="{v}"' for k, v in add.items())
        return tag[:-2].rstrip() + extra + " />" if tag.endswith("/>") else tag[:-1] + extra + ">"

    return _IMG.sub(fix, text)


# --- stylesheets ------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tools"
#: The stylesheets trimmed (site-relative, under _static/); a missing one is skipped.
TRIMMED_CSS = ("styles/pydata-sphinx-theme.css", "styles/sphinx-book-theme.css",
               "sphinx-design.min.css", "basic.css", "pygments.css", "togglebutton.css",
               "copybutton.css", "sphinx-thebe.css", "exercise.css", "mystnb.*.css")
#: Kept whatever the pages contain: classes that scripts build from parts (Bootstrap's
#: popovers and tooltips), the states they toggle, what the launch button's live kernel
#: (Thebe, Jupyter widgets, CodeMirror) and the search results add, colour modes.
SAFELIST = {
    "standard": [r"^show$", r"^showing$", r"^hiding$", r"^active$", r"^disabled$",
                 r"^collaps", r"^fade$", r"^modal", r"^offcanvas", r"^dropdown",
                 r"^was-validated$", r"^focus", r"^highlighted$", r"^hidden$"],
    "greedy": [r"data-theme", r"data-mode", r"^bs-", r"tooltip", r"popover", r"^thebe",
               r"^jp-", r"^cm-", r"^CodeMirror", r"^toggle", r"^search", r"^sd-tab",
               r"^katex", r"^pst-", r"^bd-search"],
}
_PURGE_JS = r"""
const fs = require('fs');
const {PurgeCSS} = require('purgecss');
const cfg = JSON.parse(fs.readFileSync(0, 'utf8'));
const re = (list) => list.map((s) => new RegExp(s));
new PurgeCSS().purge({
  content: cfg.content, css: cfg.css,
  safelist: {standard: re(cfg.safelist.standard), greedy: re(cfg.safelist.greedy)},
  fontFace: false, keyframes: false, variables: false,
}).then((results) => {
  for (const r of results) fs.writeFileSync(r.file, r.css);
  process.stdout.write(JSON.stringify(results.map((r) => r.file)));
}).catch((err) => { console.error(err); process.exit(1); });
"""


def trim_css(outdir: Path) -> list[Path]:
    """Cut the theme's stylesheets in ``outdir/_static`` to what the site uses (PurgeCSS).

    Raises:
        ExtensionError: PurgeCSS is not installed or failed.
    """
    static = outdir / "_static"
    sheets = sorted({p for pattern in TRIMMED_CSS for p in static.glob(pattern)})
    if not sheets:
        return []
    if not (NODE_DIR / "node_modules" / "purgecss").is_dir() or shutil.which("node") is None:
        raise ExtensionError("PurgeCSS (npm) trims the theme's CSS: run `npm ci --prefix tools` "
                             "(tools/bootstrap.py does it)")
    content = [str(p) for p in outdir.rglob("*.html")
               if not p.relative_to(outdir).as_posix().startswith(SKIP[1:])]
    content += [str(p) for p in static.rglob("*.js") if "relucourse-vega" not in p.parts]
    # (Vega draws its own elements with its own inline styles; its 0.8 MB of script
    # would only add words.)
    config = {"content": content, "css": [str(p) for p in sheets], "safelist": SAFELIST}
    done = subprocess.run(["node", "-e", _PURGE_JS], cwd=NODE_DIR, input=json.dumps(config),
                          capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise ExtensionError(f"PurgeCSS failed on the theme's stylesheets:\n{done.stderr[-2000:]}")
    return sheets


# --- one stylesheet per page --------------------------------------------------------

JOINED_DIR = "_static/css"
#: Which sheets each joined stylesheet holds (site-relative), kept beside them: an
#: incremental build rewrites the pages Sphinx wrote again and refreshes the rest.
JOINED_INDEX = "_static/css/joined.json"
_LINK = re.compile(r"<link\b[^>]*>")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?(['"]?)([^'")\s;]+)\1\s*\)?\s*([^;]*);""")
_CHARSET = re.compile(r"""@charset\s+["'][^"']*["']\s*;""")


def _local_sheet(href: str, page: Path, outdir: Path) -> str | None:
    """Site-relative path of a stylesheet link's file under _static, else None."""
    href = html.unescape(href)
    if href.startswith(("http:", "https:", "//", "data:", "/")):
        return None
    path = (page.parent / href.split("?")[0].split("#")[0]).resolve()
    try:
        rel = path.relative_to(outdir.resolve()).as_posix()
    except ValueError:
        return None
    return rel if rel.startswith("_static/") and path.is_file() else None


def _sheet_text(path: Path, into: Path, seen: tuple[Path, ...] = ()) -> str:
    """A stylesheet's text to sit in a file of folder ``into``: its imports inlined, its
    relative ``url()``s rewritten from its own folder to ``into``.

    Raises:
        ExtensionError: an import loops or names a missing file.
    """
    if path in seen:
        raise ExtensionError(f"stylesheets import each other in a loop: {path}")
    text = _CHARSET.sub("", path.read_text(encoding="utf-8"))

    def moved(match: re.Match) -> str:
        quote, url = match.group(1), match.group(2).strip()
        if url.startswith(("data:", "http:", "https:", "//", "/", "#")):
            return match.group(0)
        cut = min([i for i in (url.find("?"), url.find("#")) if i >= 0], default=len(url))
        target = os.path.relpath((path.parent / url[:cut]).resolve(), into.resolve())
        return f"url({quote}{Path(target).as_posix()}{url[cut:]}{quote})"

    def inline(match: re.Match) -> str:
        url, media = match.group(2), match.group(3).strip()
        if url.startswith(("http:", "https:", "//", "/")):
            raise ExtensionError(f"{path}: cannot join a stylesheet that imports {url}")
        target = (path.parent / url.split("?")[0]).resolve()
        if not target.is_file():
            raise ExtensionError(f"{path} imports {url}, which is not in the site")
        body = _sheet_text(target, into, seen + (path,))
        return f"@media {media} {{\n{body}\n}}" if media else body

    return _CSS_URL.sub(moved, _CSS_IMPORT.sub(inline, text))


def _joined_name(sheets: list[str]) -> str:
    return hashlib.sha256("\n".join(sheets).encode()).hexdigest()[:12]


def _write_joined(outdir: Path, sheets: list[str]) -> str:
    """Write the joined stylesheet of ``sheets``; its content hash."""
    folder = outdir / JOINED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    parts = [f"/* {name} */\n" + _sheet_text(outdir / name, folder) for name in sheets]
    text = '@charset "UTF-8";\n' + "\n".join(parts) + "\n"
    (folder / f"{_joined_name(sheets)}.css").write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def join_stylesheets(outdir: Path) -> int:
    """Each page's local stylesheets joined into one (see the module's description);
    the number of pages that link a joined stylesheet."""
    index_path = outdir / JOINED_INDEX
    joined: dict[str, list[str]] = (json.loads(index_path.read_text(encoding="utf-8"))
                                    if index_path.is_file() else {})
    pages: list[tuple[Path, str, list[tuple[int, int]], str]] = []
    for page in outdir.rglob("*.html"):
        if page.relative_to(outdir).as_posix().startswith(SKIP):
            continue
        text = page.read_text(encoding="utf-8")
        name, sheets, spans = None, [], []
        for m in _LINK.finditer(text, 0, max(text.find("</head>"), 0)):
            attrs = dict(_ATTR.findall(m.group(0)))
            if attrs.get("rel") != "stylesheet" or attrs.get("media", "all") != "all":
                continue
            href = attrs.get("href", "").split("?")[0]
            if f"{JOINED_DIR}/" in href:                # joined by an earlier build
                name, spans = href.rsplit("/", 1)[-1].removesuffix(".css"), [m.span()]
                break
            rel = _local_sheet(attrs.get("href", ""), page, outdir)
            if rel is not None:
                sheets.append(rel)
                spans.append(m.span())
        if name is None and len(sheets) >= 2:
            name = _joined_name(sheets)
            joined[name] = sheets
        if name is not None:
            pages.append((page, name, spans, text))
    versions = {name: _write_joined(outdir, sheets) for name, sheets in joined.items()}
    index_path.write_text(json.dumps(joined, indent=1, sort_keys=True), encoding="utf-8")
    for page, name, spans, text in pages:
        if name not in versions:
            raise ExtensionError(f"{page} links the joined stylesheet {name}, which "
                                 f"{index_path} does not list: build again with --all")
        up = os.path.relpath(outdir / JOINED_DIR, page.parent).replace(os.sep, "/")
        link = f'<link rel="stylesheet" href="{up}/{name}.css?v={versions[name]}" />'
        new = text
        for a, b in reversed(spans[1:]):            # the others go, with their line
            line = new.rfind("\n", 0, a) + 1
            if not new[line:a].strip() and new[b:b + 1] == "\n":
                a, b = line, b + 1
            new = new[:a] + new[b:]
        a, b = spans[0]
        new = new[:a] + link + new[b:]
        if new != text:
            page.write_text(new, encoding="utf-8")
    return len(pages)


# --- scripts ----------------------------------------------------------------------------

#: Scripts that the page's inline scripts use as they are read: not deferred (the theme's
#: ``DOCUMENTATION_OPTIONS.pagename = ...`` needs Sphinx's 1 KB of options first).
KEPT_IN_ORDER = ("documentation_options.js",)


def defer_scripts(app, pagename, templatename, context, doctree) -> None:
    """Every external script of the page's head deferred (order kept)."""
    from sphinx.builders.html._assets import _JavaScript

    scripts = context.get("script_files")
    if not scripts:
        return
    deferred = []
    for js in scripts:
        attrs = dict(getattr(js, "attributes", None) or {})
        filename = getattr(js, "filename", js)
        if (filename and "async" not in attrs and "defer" not in attrs and not attrs.get("type")
                and not str(filename).endswith(KEPT_IN_ORDER)):
            attrs["defer"] = "defer"
            js = _JavaScript(filename, priority=getattr(js, "priority", 500), **attrs)
        deferred.append(js)
    context["script_files"] = deferred


# --- the theme's script ----------------------------------------------------------------

THEME_JS = "scripts/pydata-sphinx-theme.js"
#: The theme's (0.16) scan: measure a box, write its tabIndex, measure the next ...
_SCAN_START = 'const e=()=>{document.querySelectorAll(["pre",'
_SCAN_END = ".forEach(e=>{e.tabIndex=e.scrollWidth>e.clientWidth||e.scrollHeight>e.clientHeight?0:-1})}"
#: ... replaced by: the drawn boxes (of ``r``, an element, or the page) measured, then written.
_SCAN_NEW = (
    "const e=(r)=>{const l=[...(r instanceof Element?r:document).querySelectorAll(S)]"
    ".filter(x=>!x.checkVisibility||x.checkVisibility({contentVisibilityAuto:!0})),"
    "v=l.map(x=>x.scrollWidth>x.clientWidth||x.scrollHeight>x.clientHeight?0:-1);"
    "l.forEach((x,i)=>{x.tabIndex!==v[i]&&(x.tabIndex=v[i])})},"
    "cvq=document.addEventListener(\"contentvisibilityautostatechange\","
    "(x)=>{x.skipped||e(x.target)},!0)"
)
#: The boxes the theme scans: they get ``tabindex="0"`` in the HTML.
_SCROLL_BOXES = re.compile(r'<pre\b(?![^>]*\btabindex=)|'
                           r'(?<=<div class="cell_output docutils container">)\s*<div class="output\b'
                           r'|<div class="pst-scrollable-table-container"(?![^>]*\btabindex=)')


def tab_stops(text: str) -> str:
    """``tabindex="0"`` on each box of the article the theme's script may find scrolling."""
    span = _article(text)
    if span is None:
        return text
    start, end = span

    def stop(match: re.Match) -> str:
        box = match.group(0)
        if box.lstrip().startswith('<div class="output'):   # the attribute goes before class
            return box.replace('<div class="output', '<div tabindex="0" class="output')
        return box + ' tabindex="0"'

    return text[:start] + _SCROLL_BOXES.sub(stop, text[start:end]) + text[end:]


#: The theme's colour-mode setter writes the mode and theme attributes of <html> even
#: when they hold those values already (_templates/layout.html sets them before the
#: first paint): written only when they change.
_MODE_WRITES = {
    "document.documentElement.dataset.mode=e;":
        "document.documentElement.dataset.mode!==e&&(document.documentElement.dataset.mode=e);",
    "document.documentElement.dataset.theme=n,":
        "document.documentElement.dataset.theme!==n&&(document.documentElement.dataset.theme=n),",
}


class _ScriptChanged(Exception):
    """A script of the theme no longer holds the code a patch below replaces."""


def _patch_static(outdir: Path, rel: str, patch) -> None:
    """Rewrite the site's ``_static/<rel>`` with ``patch`` (its text -> the new text; the
    same text when it is patched already).

    Raises:
        ExtensionError: the script no longer has what the patch replaces.
    """
    path = outdir / "_static" / rel
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    try:
        new = patch(text)
    except _ScriptChanged as exc:
        raise ExtensionError(f"{path}: {exc} has changed; update tools/sphinxext/speed.py "
                             f"({patch.__name__})") from None
    if new != text:
        path.write_text(new, encoding="utf-8")


def _mode_written_on_change(text: str) -> str:
    for old, new in _MODE_WRITES.items():
        if new not in text:
            if text.count(old) != 1:
                raise _ScriptChanged("the theme's colour-mode setter")
            text = text.replace(old, new)
    return text


def patch_theme_mode(outdir: Path) -> None:
    """The theme's script writes <html>'s colour attributes only when they change."""
    _patch_static(outdir, THEME_JS, _mode_written_on_change)


def _scan_drawn_boxes(text: str) -> str:
    if "contentvisibilityautostatechange" in text:
        return text
    at = text.find(_SCAN_START)
    end = text.find(_SCAN_END, at)
    if at < 0 or end < 0:
        raise _ScriptChanged("the theme's tab-stop scan")
    selector = text[at + len(_SCAN_START) - len('["pre",'):end - 1]   # [...].join(", ")
    new = _SCAN_NEW.replace("(S)", f"({selector})")
    return text[:at] + new + text[end + len(_SCAN_END):]


def patch_theme_js(outdir: Path) -> None:
    """The theme's tab-stop scan, drawn boxes only (see the module's description)."""
    _patch_static(outdir, THEME_JS, _scan_drawn_boxes)


BOOTSTRAP_JS = "scripts/bootstrap.js"
#: Bootstrap's (5.3, as the theme 0.16 bundles it) Tooltip for every tooltip button at load ...
_TOOLTIPS_AT_LOAD = ("go(function(){[].slice.call(document.querySelectorAll("
                     "'[data-bs-toggle=\"tooltip\"]')).map(function(t){return new ps(t,"
                     "{delay:{show:500,hide:100}})})})")
#: ... replaced by: a button's Tooltip made when the pointer or the focus first reaches it.
_TOOLTIPS_LAZY = ("go(function(){const s='[data-bs-toggle=\"tooltip\"]',o=x=>{"
                  "const t=x.target instanceof Element&&x.target.closest(s);"
                  "t&&!ps.getInstance(t)&&new ps(t,{delay:{show:500,hide:100}})};"
                  "document.addEventListener(\"mouseover\",o,!0);"
                  "document.addEventListener(\"focusin\",o,!0)})")


def _tooltips_when_wanted(text: str) -> str:
    if _TOOLTIPS_LAZY in text:
        return text
    if text.count(_TOOLTIPS_AT_LOAD) != 1:
        raise _ScriptChanged("Bootstrap's tooltip start-up")
    return text.replace(_TOOLTIPS_AT_LOAD, _TOOLTIPS_LAZY)


def patch_bootstrap_js(outdir: Path) -> None:
    """The header's tooltips made when first wanted (see the module's description)."""
    _patch_static(outdir, BOOTSTRAP_JS, _tooltips_when_wanted)


# --- the pass ---------------------------------------------------------------------------

def rewrite(page: Path, outdir: Path | None = None) -> bool:
    """Apply the fixes to one written page of the site in ``outdir``; True if it changed."""
    text = page.read_text(encoding="utf-8")
    new = text
    if outdir is not None:
        new = inline_images_to_files(new, page, outdir)
    new = tab_stops(size_images(inline_icons(new), page))
    if new != text:
        page.write_text(new, encoding="utf-8")
        return True
    return False


def _finished(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    subset_icon_font(out)            # reads the stylesheets before they are trimmed
    for page in out.rglob("*.html"):
        if not page.relative_to(out).as_posix().startswith(SKIP):
            rewrite(page, out)
    trim_css(out)
    join_stylesheets(out)            # after the trimming: joins the trimmed sheets
    patch_theme_js(out)
    patch_theme_mode(out)
    patch_bootstrap_js(out)


def setup(app):
    """Inline the icons and size the images of every page after the build."""
    app.connect("build-finished", _finished, priority=900)
    app.connect("html-page-context", defer_scripts, priority=950)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
