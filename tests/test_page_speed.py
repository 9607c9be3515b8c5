"""What page speed changed in the built site and must not break (issue 19).

Checked on the files of the built site (``_build/html``, or BOOK_HTML's first folder),
without a browser: the scores themselves vary with the machine and are a benchmark
(``python -m tools bench``), not a test.

* the theme's stylesheets, trimmed by PurgeCSS (tools/sphinxext/speed.py), keep every
  rule whose classes, ids and elements occur in a page (or, classes, in a script);
* the scripts in each page's head are deferred (none stops the reading of the page),
  but for Sphinx's documentation_options.js, which the page's inline scripts extend.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools import browser_audit as ba
from tools.sphinxext import speed

ROOT = Path(__file__).resolve().parent.parent

_CLASS_ATTR = re.compile(r'\bclass="([^"]*)"')
_JS_STRING = re.compile(r"""["'`]([A-Za-z0-9_ -]{1,200})["'`]""")
_CSS_NOISE = re.compile(r'url\([^)]*\)|"[^"]*"|\'[^\']*\'|/\*.*?\*/', re.S)


@pytest.fixture(scope="module")
def site() -> Path:
    found = ba.site_dirs()[0]
    if not (found / "index.html").is_file():
        pytest.fail(f"no built book at {found}: build it first with `python -m tools build`",
                    pytrace=False)
    return found


def _pages(site: Path) -> list[Path]:
    return [p for p in site.rglob("*.html")
            if not p.relative_to(site).as_posix().startswith(speed.SKIP)]


def _selectors(text: str) -> set[str]:
    """The selectors of a stylesheet's rules (media queries' included), spaces removed."""
    text = _CSS_NOISE.sub("", text)
    found = set()
    for group in re.findall(r"([^{}]+)\{", text):
        if group.lstrip().startswith("@"):
            continue
        found.update(re.sub(r"\s+", "", sel) for sel in group.split(","))
    return found


def _needed(selector: str, used: dict[str, set[str]]) -> bool:
    """Whether every class, id and element the selector names occurs in the site (such a
    rule can match, so it must survive the trimming). Selectors with attribute tests or
    functional pseudo-classes are left to the browser tests."""
    if "[" in selector or "(" in selector or selector.startswith(("@", "from", "to")):
        return False
    bare = re.sub(r"::?[a-zA-Z-]+", "", selector)
    classes = set(re.findall(r"\.(-?[A-Za-z_][\w-]*)", bare))
    ids = set(re.findall(r"#(-?[A-Za-z_][\w-]*)", bare))
    tags = set(re.findall(r"(?:^|[\s>+~])([a-z][a-z0-9]*)", re.sub(r"[.#][\w-]+", " ", bare)))
    return classes <= used["class"] and ids <= used["id"] and tags <= used["tag"]


def _original(name: str) -> Path | None:
    """The theme's or extension's own copy of a trimmed stylesheet."""
    import importlib.util

    where = {
        "pydata-sphinx-theme.css": ("pydata_sphinx_theme",
                                    "theme/pydata_sphinx_theme/static/styles"),
        "sphinx-book-theme.css": ("sphinx_book_theme", "theme/sphinx_book_theme/static/styles"),
        "sphinx-design.min.css": ("sphinx_design", "static"),
        "togglebutton.css": ("sphinx_togglebutton", "_static"),
        "copybutton.css": ("sphinx_copybutton", "_static"),
        "sphinx-thebe.css": ("sphinx_thebe", "_static"),
        "exercise.css": ("sphinx_exercise", "assets/html"),
    }
    if name.startswith("mystnb.") and name.endswith(".css"):
        name, where[name] = "mystnb.css", ("myst_nb", "static")
    if name not in where:
        return None
    package, folder = where[name]
    spec = importlib.util.find_spec(package)
    path = Path(spec.origin).parent / folder / name if spec and spec.origin else None
    return path if path and path.is_file() else None


def test_trimmed_css_keeps_every_rule_the_site_can_match(site):
    static = site / "_static"
    used: dict[str, set[str]] = {"class": set(), "id": set(), "tag": {"html", "body"}}
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        for m in _CLASS_ATTR.finditer(text):
            used["class"].update(m.group(1).split())
        used["id"].update(re.findall(r'\bid="([^"]+)"', text))
        used["tag"].update(t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", text))
    for js in static.rglob("*.js"):
        if "relucourse-vega" in js.parts:
            continue
        for m in _JS_STRING.finditer(js.read_text(encoding="utf-8", errors="ignore")):
            used["class"].update(m.group(1).split())
    checked, lost = 0, []
    for pattern in speed.TRIMMED_CSS:
        for sheet in static.glob(pattern):
            original = _original(sheet.name)
            if original is None:
                continue
            checked += 1
            kept = _selectors(sheet.read_text(encoding="utf-8"))
            lost += [f"{sheet.name}: {sel}" for sel in
                     sorted(_selectors(original.read_text(encoding="utf-8")) - kept)
                     if _needed(sel, used)]
            assert len(sheet.read_bytes()) <= len(original.read_bytes()), sheet
    assert checked >= 4, f"only {checked} trimmed stylesheets found in {static}"
    assert not lost, (f"{len(lost)} rules that can match an element of the site were cut from "
                      "the trimmed CSS (add them to speed.SAFELIST):\n" + "\n".join(lost[:50]))


def test_theme_stylesheet_is_trimmed(site):
    sheet = site / "_static" / "styles" / "pydata-sphinx-theme.css"
    original = _original(sheet.name)
    assert original is not None
    assert sheet.stat().st_size < 0.5 * original.stat().st_size, (
        f"{sheet} is {sheet.stat().st_size:,} bytes, the theme's {original.stat().st_size:,}: "
        "was it trimmed (tools/sphinxext/speed.py, trim_css)?")
    text = sheet.read_text(encoding="utf-8")
    # dark mode, print and the states scripts toggle survive the trimming
    for kept in ('[data-theme=dark]', "@media print", ".show", ".active"):
        assert kept in text.replace('"', ""), f"{kept} is missing from the trimmed {sheet.name}"


def test_head_scripts_are_deferred(site):
    blocking = []
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        head = text[:text.find("</head>")]
        for tag in re.findall(r"<script\b[^>]*\bsrc=[^>]*>", head):
            if not re.search(r"\b(defer|async)\b", tag) and "documentation_options" not in tag:
                blocking.append(f"{page.relative_to(site)}: {tag}")
    assert not blocking, "scripts that stop the page's reading:\n" + "\n".join(blocking)
