"""What page speed changed in the built site and must not break (issue 19).

Checked on the files of the built site (``_build/html``, or BOOK_HTML's first folder),
without a browser: the scores themselves vary with the machine and are a benchmark
(``python -m tools bench``), not a test.

* the theme's stylesheets, trimmed by PurgeCSS (tools/sphinxext/speed.py), keep every
  rule whose classes, ids and elements occur in a page (or, classes, in a script);
* the scripts in each page's head are deferred (none stops the reading of the page),
  but for Sphinx's documentation_options.js, which the page's inline scripts extend;
* the parts of a page drawn only when the reader comes near them (content-visibility,
  _static/course.css) are there on the screen, not in print, and never hold an
  explorable (Vega measures its box as it draws): read from the stylesheet, then, in
  Chromium, from the computed style of every element of every page;
* each page links one stylesheet, the site's sheets joined (every ``url()`` in it
  names a file of the site), and the theme's scripts carry speed.py's patches: the
  header's tooltips, made on first use, still show on hover and on keyboard focus.
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


def _course_css(site: Path) -> str:
    return _CSS_NOISE.sub("", (site / "_static" / "course.css").read_text(encoding="utf-8"))


def test_parts_far_from_the_screen_wait_to_be_drawn(site):
    css = _course_css(site)
    rules = re.findall(r"([^{}]+)\{[^{}]*content-visibility:\s*auto[^{}]*\}", css)
    assert rules, "course.css no longer defers drawing (content-visibility: auto)"
    screen = css.find("@media screen")
    assert screen >= 0 and css.find("content-visibility") > screen, (
        "content-visibility must stay inside @media screen (print draws everything)")
    sized = re.findall(r"content-visibility:\s*auto;[^{}]*"
                       r"contain-intrinsic-(?:block-)?size:\s*auto\s+\d+px", css)
    assert len(sized) == len(rules), (
        "each deferred part needs contain-intrinsic-size: auto <estimate> "
        "(remembered once drawn: the scrollbar does not jump)")
    for rule in rules:
        for selector in rule.split(","):
            assert ":not(:has(.relucourse-explorable))" in selector, (
                f"{selector.strip()!r} may leave an explorable undrawn")


#: Per page: how many elements wait to be drawn, and the explorables inside one.
UNDRAWN = """() => {
  const waiting = [...document.querySelectorAll('*')].filter(
    el => getComputedStyle(el).contentVisibility === 'auto');
  const explorables = [...document.querySelectorAll('.relucourse-explorable')];
  return {waiting: waiting.length, explorables: explorables.length,
          held: explorables.filter(x => waiting.some(w => w.contains(x))).map(x => x.id)};
}"""


def test_no_explorable_waits_to_be_drawn(site):
    from tools import site as site_harness

    problem = site_harness.chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    found, held = {}, []
    with sync_playwright() as pw:
        browser = site_harness.launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900},
                                java_script_enabled=False)
        for rel in ba.pages_of(site):
            # "load": the stylesheets are in (with scripts off, DOMContentLoaded can come first,
            # and a page read then has no content-visibility yet: chapter 6 once counted 0)
            page.goto((site / rel).as_uri(), wait_until="load")
            seen = page.evaluate(UNDRAWN)
            found[rel] = seen
            held += [f"{rel}: #{name}" for name in seen["held"]]
        browser.close()
    assert not held, "explorables in a part that waits to be drawn:\n" + "\n".join(held)
    chapters = {rel: seen for rel, seen in found.items() if rel.startswith("chapters/")}
    assert chapters and all(seen["waiting"] for seen in chapters.values()), (
        f"chapter pages with no part waiting to be drawn: {chapters}")
    assert sum(seen["explorables"] for seen in found.values()) > 0, (
        "no explorable found: the check above checked nothing")


def test_each_page_links_one_joined_stylesheet(site):
    """The page's local stylesheets are joined into one file (speed.join_stylesheets):
    every page links it and no other local sheet, it holds each sheet it lists, and
    every relative url() in it names a file of the site."""
    import json

    index = json.loads((site / speed.JOINED_INDEX).read_text(encoding="utf-8"))
    assert index, f"{speed.JOINED_INDEX} lists no joined stylesheet"
    unjoined, used = [], set()
    for page in _pages(site):
        head = page.read_text(encoding="utf-8").split("</head>")[0]
        links = [dict(speed._ATTR.findall(tag)) for tag in speed._LINK.findall(head)]
        local = [a["href"] for a in links if a.get("rel") == "stylesheet"
                 and speed._local_sheet(a.get("href", ""), page, site)]
        joined = [h for h in local if f"{speed.JOINED_DIR}/" in h]
        if len(local) > 1 or (local and not joined):
            unjoined.append(f"{page.relative_to(site)}: {local}")
        used.update(h.split("?")[0].rsplit("/", 1)[-1].removesuffix(".css") for h in joined)
    assert not unjoined, "pages that link separate stylesheets:\n" + "\n".join(unjoined)
    assert used <= set(index), f"pages link joined sheets {used - set(index)} the index lacks"
    folder = site / speed.JOINED_DIR
    for name in used:
        text = (folder / f"{name}.css").read_text(encoding="utf-8")
        for sheet in index[name]:
            assert f"/* {sheet} */" in text, f"{name}.css lacks {sheet}"
        assert "@import" not in text, f"{name}.css still imports a stylesheet"
        missing = sorted({u for _, u in speed._CSS_URL.findall(text)
                          if not u.startswith(("data:", "http", "#", "/"))
                          and not (folder / u.split("?")[0].split("#")[0]).is_file()})
        assert not missing, f"{name}.css points at files the site does not have: {missing}"


def test_theme_scripts_patched(site):
    """Bootstrap makes the header's tooltips when first wanted, and the theme's script
    writes <html>'s colour attributes only when they change (speed.py)."""
    bootstrap = (site / "_static" / speed.BOOTSTRAP_JS).read_text(encoding="utf-8")
    assert speed._TOOLTIPS_LAZY in bootstrap and speed._TOOLTIPS_AT_LOAD not in bootstrap
    theme = (site / "_static" / speed.THEME_JS).read_text(encoding="utf-8")
    assert all(new in theme for new in speed._MODE_WRITES.values())


#: Hover, then keyboard focus, on a header button: its tooltip shows both times.
VISIBLE_TOOLTIP_BUTTON = '.article-header-buttons [data-bs-toggle="tooltip"]:visible'
TOOLTIP_SHOWN = "() => !!document.querySelector('.tooltip.show')"


def test_header_tooltips_show_on_hover_and_focus(site):
    from tools import site as site_harness

    problem = site_harness.chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, site_harness.serve(site) as base:
        browser = site_harness.launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "intro.html", wait_until="load")
        button = page.locator(VISIBLE_TOOLTIP_BUTTON).first
        assert not page.evaluate(TOOLTIP_SHOWN)
        button.hover()
        page.wait_for_function(TOOLTIP_SHOWN, timeout=5000)
        page.mouse.move(5, 895)
        page.wait_for_function(f"() => !({TOOLTIP_SHOWN[6:]})", timeout=5000)
        page.reload(wait_until="load")
        page.locator(VISIBLE_TOOLTIP_BUTTON).first.focus()
        page.wait_for_function(TOOLTIP_SHOWN, timeout=5000)
        browser.close()


def test_inline_pictures_below_the_first_screen_move_to_files(tmp_path):
    """A ``data:`` image of the article after its first screenful (FIRST_SCREEN_CHARS of the
    article, however long the page's head and frame) is written to ``_images`` and loads
    lazily; one in the first screenful stays in the page. Idempotent."""
    import base64

    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    img = f'<img alt="x" src="data:image/png;base64,{base64.b64encode(png).decode()}" />'
    frame = "<nav>" + "n" * (3 * speed.FIRST_SCREEN_CHARS) + "</nav>"
    early, late = "e" * 100, "l" * (speed.FIRST_SCREEN_CHARS + 100)
    text = (f'<html><head></head><body>{frame}<article class="bd-article">{early}{img}'
            f"{late}{img}</article></body></html>")
    (tmp_path / "chapters").mkdir()
    page = tmp_path / "chapters" / "p.html"
    page.write_text(text, encoding="utf-8")
    assert speed.rewrite(page, tmp_path)
    out = page.read_text(encoding="utf-8")
    assert out.count('src="data:image/png') == 1 and out.index('src="data:') < out.index(late)
    moved = re.findall(r'<img\b[^>]*src="\.\./_images/inline-[0-9a-f]{16}\.png"[^>]*>', out)
    assert len(moved) == 1 and 'loading="lazy"' in moved[0] and 'width="1"' in moved[0], out[-400:]
    assert len(list((tmp_path / "_images").glob("inline-*.png"))) == 1
    assert not speed.rewrite(page, tmp_path)
