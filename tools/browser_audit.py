"""Open every page of a built book in headless Chromium and record what a reader meets.

Used by tests/test_browser.py (the checks) and runnable on its own to print a report:

    .venv/bin/python -m tools audit [SITE_DIR ...]

The site is served from a thread on 127.0.0.1 with gzip, as GitHub Pages serves it, and
opened in Debian's Chromium (both through tools/site.py); every request to any other
host is recorded and fails (the browser's proxy refuses it), as for a reader offline.
Each page's bytes are counted twice: as first loaded (lazy images and the explorables' Vega not fetched yet) and
once everything has been fetched. Pages are checked at 1280 px; the
sidebar toggles at 390/768/1280/1920 px and the dark theme's colour contrast on one
page per folder (chapters, exercises, back matter). One browser is shared; pages are
audited a few at a time, each in a fresh browser context (so each is a first visit).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html.parser
import os
import posixpath
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from tools import site as site_harness
from tools.site import LOOPBACK

ROOT = Path(__file__).resolve().parent.parent
WIDE = 1280                       # the window width of the layout checks
NARROW = 390                      # a phone
NAV_WIDTHS = (390, 768, 1280, 1920)
CONCURRENCY = 3
FIGURE_MIN_SCALE = 0.8


def site_dirs() -> list[Path]:
    """The built sites to test: $BOOK_HTML (os.pathsep-separated) or _build/html."""
    env = os.environ.get("BOOK_HTML")
    if env:
        return [Path(p).resolve() for p in env.split(os.pathsep) if p]
    return [ROOT / "_build" / "html"]


def pages_of(site: Path) -> list[str]:
    """Site-relative paths of the book's pages (not Sphinx's search or index pages)."""
    skip = {"search.html", "genindex.html", "py-modindex.html"}
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel in skip or rel.startswith(("_static/", "_sources/", "_images/", "_downloads/")):
            continue
        head = path.read_text(encoding="utf-8", errors="replace")[:400]
        if len(head) < 400 and 'http-equiv="Refresh"' in head:
            continue                      # a redirect stub (index.html -> the first page)
        pages.append(rel)
    return pages


class _Ids(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def ids_in(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


@dataclass
class PageReport:
    site: str
    page: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    unrendered_math: list[str] = field(default_factory=list)
    math_count: int = 0
    axe: list[str] = field(default_factory=list)
    axe_nodes: int = 0
    clipped: list[str] = field(default_factory=list)
    nav_problems: list[str] = field(default_factory=list)
    bad_links: list[str] = field(default_factory=list)
    small_figures: list[str] = field(default_factory=list)
    weight: int = 0
    weight_parts: dict[str, int] = field(default_factory=dict)
    first_load: int = 0                    # bytes before lazy images and explorables load
    first_load_parts: dict[str, int] = field(default_factory=dict)
    scripts: list[str] = field(default_factory=list)      # every script URL the page loaded
    lazy_problems: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)   # time spent per phase
    errors: list[str] = field(default_factory=list)   # the audit itself broke

    @property
    def name(self) -> str:
        edition = "student" if "student" in Path(self.site).parts else "book"
        return f"{edition}:{self.page}"


# --- JavaScript run in the page -------------------------------------------------------

# Formulas are rendered when the book is built (KaTeX); this waits for the fonts.
WAIT_FOR_MATH = """async () => {
  // every <img> loads now (lazy ones too), so sizes and weight are complete
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null :
      new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })));
  await document.fonts.ready;
}"""

UNRENDERED_MATH = """() => Array.from(document.querySelectorAll('span.math, div.math'))
  .filter(el => !el.querySelector('.katex'))
  .map(el => el.textContent.trim().slice(0, 80))"""

MATH_COUNT = "() => document.querySelectorAll('span.math, div.math').length"

# Code cells, outputs and display equations whose content is wider than their box.
CLIPPED = """() => {
  const out = [];
  const seen = new Set();
  const texOf = el => {
    const tex = el.querySelector('annotation[encoding="application/x-tex"]');
    return tex ? tex.textContent : el.textContent;
  };
  const visible = el => el.offsetParent !== null && el.clientWidth > 0;
  const check = (el, kind, text) => {
    if (seen.has(el) || !visible(el)) return;
    seen.add(el);
    const excess = el.scrollWidth - el.clientWidth;
    if (excess > 1) out.push({kind, excess, text: text.replace(/\\s+/g, ' ').trim().slice(0, 110)});
  };
  const longest = pre => pre.textContent.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '');
  document.querySelectorAll('.bd-article div.cell_input pre, .bd-article div.cell_input .highlight')
    .forEach(el => check(el, 'code cell', longest(el)));
  document.querySelectorAll('.bd-article div.cell_output pre, .bd-article div.cell_output .output')
    .forEach(el => check(el, 'output', longest(el)));
  document.querySelectorAll('.bd-article div.highlight pre')
    .forEach(el => check(el, 'code block', longest(el)));
  // KaTeX's display formula scrolls (overflow-x: auto on .katex-html) inside div.math
  document.querySelectorAll('.bd-article .katex-display .katex-html, .bd-article div.math')
    .forEach(el => check(el, 'display equation', texOf(el)));
  document.querySelectorAll('.bd-article table')
    .forEach(el => { const box = el.closest('.pst-scrollable-table-container') || el.parentElement;
                     check(box, 'table', el.textContent.slice(0, 110)); });
  return out;
}"""

SMALL_FIGURES = """(minScale) => Array.from(document.querySelectorAll('.bd-article img'))
  .filter(img => img.naturalWidth > 0 && img.offsetParent !== null)
  .map(img => ({src: img.getAttribute('src'), shown: img.clientWidth, natural: img.naturalWidth}))
  .filter(f => f.shown < minScale * f.natural)"""

# Images of the article: each has width and height; each below the first screen is lazy
# (images inside the page, data: URIs, cost no request and are exempt).
LAZY_IMAGES = """() => {
  const out = [];
  const fold = window.innerHeight;
  document.querySelectorAll('.bd-article img').forEach(img => {
    const src = (img.getAttribute('src') || '').slice(0, 70);
    if (!img.hasAttribute('width') || !img.hasAttribute('height')) out.push(`no width/height: ${src}`);
    const top = img.getBoundingClientRect().top + window.scrollY;
    if (top > fold && img.getAttribute('loading') !== 'lazy' && !src.startsWith('data:'))
      out.push(`below the fold (${Math.round(top)} px) but not lazy: ${src}`);
  });
  return out;
}"""

SCRIPTS = """() => [...document.scripts].filter(s => s.src).map(s => s.src)
  .concat(performance.getEntriesByType('resource').filter(r => r.initiatorType === 'script')
          .map(r => r.name))"""

LINKS = """() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"""

WEIGHT = """() => {
  const parts = {};
  const add = (kind, n) => { parts[kind] = (parts[kind] || 0) + (n || 0); };
  const nav = performance.getEntriesByType('navigation')[0];
  add('html', nav ? (nav.encodedBodySize || nav.transferSize) : document.documentElement.outerHTML.length);
  for (const r of performance.getEntriesByType('resource')) {
    const ext = (new URL(r.name).pathname.split('.').pop() || '').toLowerCase();
    const kind = r.name.includes('/relucourse-vega/') ? 'vega'
               : ['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico'].includes(ext) ? 'images'
               : ext === 'js' ? 'scripts' : ext === 'css' ? 'css'
               : ['woff', 'woff2', 'ttf', 'otf'].includes(ext) ? 'fonts' : 'other';
    add(kind, r.encodedBodySize || r.transferSize);
  }
  return parts;
}"""

# Is the sidebar visible to a reader (on screen, with some width)?
SIDEBAR_SHOWN = """(which) => {
  const dialog = document.getElementById(`pst-${which}-sidebar-modal`);
  if (dialog && dialog.open) return true;
  const el = document.getElementById(`pst-${which}-sidebar`) ||
             document.querySelector(`.bd-sidebar-${which}`);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 20 && r.right > 20
         && r.left < window.innerWidth - 20;
}"""

VISIBLE_TOGGLE = """(which) => {
  const all = Array.from(document.querySelectorAll(`button.${which}-toggle`));
  const shown = all.filter(b => { const r = b.getBoundingClientRect();
      return b.offsetParent !== null && r.width > 0 && r.height > 0; });
  shown.forEach((b, i) => b.setAttribute('data-audit-toggle', `${which}-${i}`));
  return shown.length;
}"""


# axe-core with its experimental rules too (label-content-name-mismatch is one of them).
# Its CSS preload resolves @import against the page (a false 404), so it is off.
# color-contrast is by far the slowest rule (thousands of highlighted code tokens and
# KaTeX glyphs): it runs on the whole page for one page per folder (the nav pages) and
# elsewhere on everything but code blocks and formulas, whose colours come from the theme.
AXE_RUN = """(contrastEverywhere) => {
  const base = {resultTypes: ['violations'], preload: false};
  const rules = Object.fromEntries(axe.getRules(['experimental']).map(r => [r.ruleId, {enabled: true}]));
  rules['color-contrast'] = {enabled: false};
  const where = contrastEverywhere ? document : {exclude: [['div.highlight'], ['.katex']]};
  // one run at a time: axe refuses to start while another run is going
  return axe.run(document, {...base, rules}).then(a =>
    axe.run(where, {...base, runOnly: {type: 'rule', values: ['color-contrast']}}).then(c =>
      ({violations: a.violations.concat(c.violations)})));
}"""


NAV_FOLDERS = ("chapters", "exercises", "back")


def nav_pages(pages: list[str]) -> set[str]:
    """The pages whose sidebar toggles are tried at every width: the same templates make
    every page, so the first page of a chapter, of the exercises and of the back matter
    stand for all (a page with sections, one with a notebook, one without math)."""
    chosen = {}
    for rel in pages:
        folder = rel.split("/", 1)[0]
        if folder in NAV_FOLDERS and folder not in chosen:
            chosen[folder] = rel
    return set(chosen.values())


# --- the audit --------------------------------------------------------------------------

@contextlib.contextmanager
def _offline() -> Iterator[dict]:
    """Playwright's ``proxy`` setting for a browser that reaches no host but this machine:
    every request to another host goes to a port of 127.0.0.1 that refuses connections
    (bound here, never listening); requests to this machine bypass it.

    This blocks in the browser itself what routing each request through Playwright
    (a round trip to Python for every file of every page) blocked before; the requests
    to other hosts are recorded as they are made (:func:`_new_context`).
    """
    import socket

    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        yield {"server": f"http://127.0.0.1:{refusing.getsockname()[1]}", "bypass": ",".join(LOOPBACK)}


async def _new_context(browser, report: PageReport, width: int, color_scheme: str = "light"):
    context = await browser.new_context(viewport={"width": width, "height": 900},
                                        color_scheme=color_scheme)

    def on_request(request):
        host = urllib.parse.urlsplit(request.url).hostname or ""
        if host not in LOOPBACK and not request.url.startswith(("data:", "blob:")):
            report.external_requests.append(request.url)  # and the browser cannot reach it

    context.on("request", on_request)
    return context


def _watch(page, report: PageReport, where: str) -> None:
    def on_console(msg):
        if msg.type == "error":
            report.console_errors.append(f"{where}: {msg.text}")

    def on_failed(request):
        host = urllib.parse.urlsplit(request.url).hostname or ""
        if host in LOOPBACK:
            report.failed_requests.append(f"{where}: {request.url} ({request.failure})")

    def on_response(response):
        if response.status >= 400:
            referer = response.request.headers.get("referer", "?")
            report.failed_requests.append(
                f"{where}: {response.url} (HTTP {response.status}, asked for by {referer})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: report.console_errors.append(f"{where}: uncaught {exc}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)


async def _open(browser, report, url, width, where, color_scheme="light", first_load=False):
    context = await _new_context(browser, report, width, color_scheme)
    page = await context.new_page()
    _watch(page, report, where)
    await page.goto(url, wait_until="load", timeout=30_000)
    if first_load:    # what a first visit fetches before the reader scrolls
        with contextlib.suppress(Exception):
            await page.wait_for_load_state("networkidle", timeout=5_000)
        parts = await page.evaluate(WEIGHT)
        report.first_load_parts = {k: int(v) for k, v in parts.items()}
        report.first_load = sum(report.first_load_parts.values())
        report.lazy_problems = await page.evaluate(LAZY_IMAGES)
    await page.evaluate(WAIT_FOR_MATH)
    if first_load:    # the explorables draw when the reader comes near them
        for box in await page.query_selector_all(".relucourse-explorable"):
            await box.scroll_into_view_if_needed()
        with contextlib.suppress(Exception):
            await page.wait_for_function(
                "() => [...document.querySelectorAll('.relucourse-explorable')]"
                ".every(b => ['live', 'static'].includes(b.dataset.state))", timeout=20_000)
        report.scripts = await page.evaluate(SCRIPTS)
    return context, page


async def _settled(page, which: str, old) -> object:
    """The sidebar's state once it differs from ``old`` (or after 1.5 s if it never does),
    plus the theme's .25 s transition."""
    try:
        await page.wait_for_function(f"(old) => ({SIDEBAR_SHOWN})('{which}') !== old", arg=old,
                                     timeout=1_500, polling=50)
    except Exception:  # noqa: BLE001 - a timeout: the state did not change
        pass
    await page.wait_for_timeout(100)
    return await page.evaluate(SIDEBAR_SHOWN, which)


# Parts of a page far from the screen are not drawn (content-visibility: auto, see
# _static/course.css), and axe hit-tests the elements it checks (colour contrast looks
# for what lies behind a text): in an undrawn part it finds the placeholder, not the
# text, and reports false violations. What is audited is the content, not how much of
# it the browser has drawn yet, so every part is drawn before axe runs. The promise
# resolves after two frames: the style is applied and laid out.
DRAW_EVERYTHING = """() => {
  const style = document.createElement('style');
  style.id = 'audit-draw-everything';
  style.textContent = '* { content-visibility: visible !important; }';
  if (!document.getElementById(style.id)) document.head.append(style);
  return new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""


async def _draw_everything(page) -> None:
    """Every part of the page drawn (see DRAW_EVERYTHING): just before axe runs."""
    await page.evaluate(DRAW_EVERYTHING)


DARK_CONTRAST = """() => axe.run(document, {resultTypes: ['violations'], preload: false,
                                     runOnly: {type: 'rule', values: ['color-contrast']}})"""


async def _check_dark(page, report, axe_script: str) -> None:
    """The theme's dark mode (following the system's setting): colour contrast everywhere."""
    await page.set_viewport_size({"width": WIDE, "height": 900})
    await page.emulate_media(color_scheme="dark")
    try:
        await page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'",
                                     timeout=3_000)
    except Exception:  # noqa: BLE001 - reported below
        report.axe.append("dark mode: the page did not switch to the dark theme")
        return
    await _draw_everything(page)
    await page.evaluate(axe_script)
    for v in (await page.evaluate(DARK_CONTRAST))["violations"]:
        if v.get("impact") in ("serious", "critical"):
            report.axe_nodes += len(v["nodes"])
            report.axe.append(f"dark mode: {v['id']} ({v['impact']}) x{len(v['nodes'])}, "
                              f"e.g. {v['nodes'][0]['target'] if v['nodes'] else ''}")


async def _check_nav(browser, report, url, axe_script: str) -> None:
    """At each width, each visible sidebar toggle opens its sidebar and closes it again
    (or, where the sidebar starts open, closes and reopens it). One page, resized."""
    context, page = await _open(browser, report, url, NAV_WIDTHS[0], "nav")
    try:
        for width in NAV_WIDTHS:
            await page.set_viewport_size({"width": width, "height": 900})
            await page.mouse.move(5, 895)
            await page.wait_for_timeout(150)
            for which in ("primary", "secondary"):
                n = await page.evaluate(VISIBLE_TOGGLE, which)
                if n == 0:
                    if which == "primary":
                        report.nav_problems.append(f"{width}px: no visible primary sidebar toggle")
                    continue
                button = page.locator(f'[data-audit-toggle="{which}-0"]')
                before = await page.evaluate(SIDEBAR_SHOWN, which)
                await button.click(timeout=5_000)
                after = await _settled(page, which, before)
                if after == before:
                    report.nav_problems.append(
                        f"{width}px: clicking the visible {which} toggle did not "
                        f"{'open' if not before else 'close'} the sidebar")
                    continue
                # a modal sidebar closes with Escape, an inline one with the button again
                modal = await page.evaluate(
                    f"() => !!document.getElementById('pst-{which}-sidebar-modal')?.open")
                if modal:
                    await page.keyboard.press("Escape")
                else:
                    await button.click(timeout=5_000)
                await page.mouse.move(5, 895)       # off the buttons: their tooltips close
                if await _settled(page, which, after) != before:
                    report.nav_problems.append(
                        f"{width}px: the {which} sidebar could not be toggled back")
        await _check_dark(page, report, axe_script)
    finally:
        await context.close()


def _check_links(report: PageReport, site: Path, base: str, hrefs: list[str]) -> None:
    for href in sorted(set(hrefs)):
        parts = urllib.parse.urlsplit(href)
        if not href.startswith(base) or parts.scheme not in ("http", "https"):
            continue
        rel = urllib.parse.unquote(parts.path[len(urllib.parse.urlsplit(base).path):])
        target = site / posixpath.normpath(rel) if rel else site / "index.html"
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            report.bad_links.append(f"{href[len(base):]} (no such file)")
            continue
        if parts.fragment and target.suffix == ".html":
            frag = urllib.parse.unquote(parts.fragment)
            if frag not in ids_in(target):
                report.bad_links.append(f"{href[len(base):]} (no #{frag} in {target.name})")


async def audit_page(browser, axe_script: str, site: Path, base: str, rel: str, full: bool,
                     shots: Path | None = None, nav: bool = False) -> PageReport:
    report = PageReport(site=str(site), page=rel)
    url = base + rel
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[phase] = report.seconds.get(phase, 0.0) + now - clock
        clock = now

    try:
        context, page = await _open(browser, report, url, WIDE, f"{WIDE}px", first_load=True)
        lap("load")
        try:
            report.math_count = await page.evaluate(MATH_COUNT)
            report.unrendered_math = await page.evaluate(UNRENDERED_MATH)
            _check_links(report, site, base, await page.evaluate(LINKS))
            parts = await page.evaluate(WEIGHT)
            report.weight_parts = {k: int(v) for k, v in parts.items()}
            report.weight = sum(report.weight_parts.values())
            if full:
                for c in await page.evaluate(CLIPPED):
                    report.clipped.append(f"{c['kind']} {c['excess']}px too wide: {c['text']}")
                for f in await page.evaluate(SMALL_FIGURES, FIGURE_MIN_SCALE):
                    report.small_figures.append(
                        f"{f['src']} shown {f['shown']}px of {f['natural']}px "
                        f"({f['shown'] / f['natural']:.2f})")
                lap("layout")
                await _draw_everything(page)
                await page.evaluate(axe_script)
                result = await page.evaluate(AXE_RUN, nav)
                for v in result["violations"]:
                    if v.get("impact") in ("serious", "critical"):
                        report.axe_nodes += len(v["nodes"])
                        first = v["nodes"][0]["target"] if v["nodes"] else ""
                        report.axe.append(f"{v['id']} ({v['impact']}) x{len(v['nodes'])}, e.g. {first}")
                lap("axe")
            if shots is not None:
                await page.screenshot(path=str(shots / (rel.replace('/', '_') + f"-{WIDE}.png")))
        finally:
            await context.close()
        if full and nav:
            await _check_nav(browser, report, url, axe_script)
            lap("nav")
    except Exception as exc:  # the audit itself failed: report it as a failure of this page
        report.errors.append(f"{type(exc).__name__}: {exc}")
    return report


SEARCH_TERM = "dying"


async def audit_search(browser, site: Path, base: str) -> PageReport:
    """Sphinx's search page, offline: searching finds pages (its index comes with the site)."""
    report = PageReport(site=str(site), page=f"search.html?q={SEARCH_TERM}")
    try:
        context, page = await _open(browser, report, f"{base}search.html?q={SEARCH_TERM}", WIDE, "search")
        try:
            await page.wait_for_selector("#search-results ul.search li", timeout=20_000)
            found = await page.locator("#search-results ul.search li").count()
            if found == 0:
                report.errors.append(f"searching for {SEARCH_TERM!r} found nothing")
            report.weight_parts = {k: int(v) for k, v in (await page.evaluate(WEIGHT)).items()}
            report.weight = sum(report.weight_parts.values())
        finally:
            await context.close()
    except Exception as exc:  # noqa: BLE001 - reported as this page's failure
        report.errors.append(f"search for {SEARCH_TERM!r} showed no results: {type(exc).__name__}: {exc}")
    return report


async def audit_sites(sites: list[tuple[Path, bool]], concurrency: int = CONCURRENCY,
                      shots: Path | None = None) -> list[PageReport]:
    """Audit every page of each (site, full) pair; ``full`` adds axe, layout and nav checks."""
    from playwright.async_api import async_playwright

    import axe_playwright_python

    axe_script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
    reports: list[PageReport] = []
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(site_harness.serve(site, gzip=True)) for site, _ in sites]
        proxy = stack.enter_context(_offline())
        async with async_playwright() as pw:
            browser = await site_harness.launch(pw, proxy=proxy)
            try:
                gate = asyncio.Semaphore(concurrency)

                async def one(site, base, rel, full, nav):
                    async with gate:
                        return await audit_page(browser, axe_script, site, base, rel, full, shots, nav)

                jobs = []
                for (site, full), base in zip(sites, bases):
                    pages = pages_of(site)
                    with_nav = nav_pages(pages)
                    jobs += [one(site, base, rel, full, rel in with_nav) for rel in pages]
                    if full:
                        jobs.append(audit_search(browser, site, base))
                reports = list(await asyncio.gather(*jobs))
            finally:
                await browser.close()
    return reports


def chromium_problem() -> str | None:
    """None when Chromium can be launched, else a message that says how to install it."""
    return site_harness.chromium_problem()


def summary(reports: list[PageReport]) -> str:
    lines = [f"{'page':52} {'axe s/c':>7} {'console':>7} {'clipped':>7} {'first':>7} {'weight':>9}"]
    for r in reports:
        lines.append(f"{r.name:52} {r.axe_nodes:7d} {len(r.console_errors):7d} "
                     f"{len(r.clipped):7d} {r.first_load / 1024:6.0f}K {r.weight / 1024:8.0f}K")
    total = lambda f: sum(f(r) for r in reports)  # noqa: E731
    lines.append(f"{'TOTAL':52} {total(lambda r: r.axe_nodes):7d} "
                 f"{total(lambda r: len(r.console_errors)):7d} {total(lambda r: len(r.clipped)):7d} "
                 f"{total(lambda r: r.weight) / 1024:8.0f}K")
    phases = sorted({k for r in reports for k in r.seconds})
    lines.append("browser time per phase, summed over pages: " + ", ".join(
        f"{k} {sum(r.seconds.get(k, 0) for r in reports):.0f} s" for k in phases))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="*", help="built sites (default: both editions in _build/)")
    args = parser.parse_args(argv)
    sites = [Path(a).resolve() for a in args.sites] or site_dirs()
    start = time.perf_counter()
    shots = Path(os.environ["SHOTS"]) if os.environ.get("SHOTS") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    reports = asyncio.run(audit_sites([(s, True) for s in sites], shots=shots))
    for r in reports:
        problems = {k: getattr(r, k) for k in ("console_errors", "failed_requests", "external_requests",
                                               "unrendered_math", "axe", "clipped", "nav_problems",
                                               "lazy_problems",
                                               "bad_links", "small_figures", "errors") if getattr(r, k)}
        if problems:
            print(f"\n== {r.name}  weight {r.weight / 1024:.0f}K {r.weight_parts}")
            for k, v in problems.items():
                print(f"  {k} ({len(v)}):")
                for item in v[:40]:
                    print(f"    - {item}")
    print()
    print(summary(reports))
    import resource

    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\naudited {len(reports)} pages in {time.perf_counter() - start:.0f} s "
          f"(browser CPU time {cpu.ru_utime + cpu.ru_stime:.0f} s)")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
