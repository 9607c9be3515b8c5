"""The built book as a reader meets it, in headless Chromium (Debian's), offline.

Every page of the built site (`_build/html`, and the student edition when it has been
built) is served on 127.0.0.1 and opened with every request to another host aborted.
The pages are opened once (tools/browser_audit.py); each test below checks one thing
over all of them and names every page and element that fails. The page weights are
printed (run pytest with -s, or see the captured output of test_page_weight).

Another build: BOOK_HTML=/tmp/mybook/_build/html pytest tests/test_browser.py
(several folders separated by ':'; the first one gets every check).
"""

from __future__ import annotations

import asyncio
import html.parser
import os
import re
import time
from pathlib import Path

import pytest

from tools import browser_audit as ba

ROOT = Path(__file__).resolve().parent.parent
STUDENT = ROOT / "_build" / "student" / "_build" / "html"


def _sites() -> list[tuple[Path, bool]]:
    """(site, full checks?) pairs: the full edition gets every check, the student edition
    (when built, and not chosen by BOOK_HTML) the load, math, request and link checks."""
    sites = [(s, i == 0) for i, s in enumerate(ba.site_dirs())]
    if not os.environ.get("BOOK_HTML") and (STUDENT / "index.html").is_file():
        sites.append((STUDENT, False))
    return sites


@pytest.fixture(scope="module")
def reports() -> list[ba.PageReport]:
    problem = ba.chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    try:
        import axe_playwright_python  # noqa: F401
        import playwright  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"{exc}: install the pinned packages with "
                    "`.venv/bin/python -m pip install -r requirements.txt`", pytrace=False)
    sites = _sites()
    for site, _ in sites:
        if not (site / "index.html").is_file():
            pytest.fail(f"no built book at {site}: build it first with "
                        "`.venv/bin/python tools/book.py build`", pytrace=False)
    start = time.perf_counter()
    found = asyncio.run(ba.audit_sites(sites))
    TIMING.update(wall=time.perf_counter() - start)
    assert len(found) >= 10, f"only {len(found)} pages found in {[str(s) for s, _ in sites]}"
    return found


TIMING: dict[str, float] = {}


def _fail_on(reports, attr: str, what: str) -> None:
    bad = [(r, getattr(r, attr)) for r in reports if getattr(r, attr)]
    broken = [r for r in reports if r.errors and not r.page.startswith("search.html")]
    lines = [f"{r.name}: {len(items)} {what}:\n" + "\n".join(f"    {i}" for i in items)
             for r, items in bad]
    lines += [f"{r.name}: the audit failed: {'; '.join(r.errors)}" for r in broken]
    assert not lines, f"{len(bad) + len(broken)} page(s) with {what}:\n" + "\n".join(lines)


def test_pages_load_without_errors(reports):
    _fail_on(reports, "console_errors", "console errors")


def test_no_failed_requests(reports):
    _fail_on(reports, "failed_requests", "failed requests")


def test_everything_comes_with_the_site(reports):
    """Offline: a page asks no other host for anything (links may point out, loads may not)."""
    _fail_on(reports, "external_requests", "requests to other hosts (blocked)")


def test_search_works_offline(reports):
    searches = [r for r in reports if r.page.startswith("search.html")]
    assert searches, "the search page was not tried"
    for r in searches:
        assert not r.errors, f"{r.name}: {'; '.join(r.errors)}"


def test_every_formula_is_rendered(reports):
    assert sum(r.math_count for r in reports) > 100, "the book has hundreds of formulas; found few"
    _fail_on(reports, "unrendered_math", "formulas shown as raw TeX")


def test_no_serious_accessibility_violations(reports):
    _fail_on(reports, "axe", "serious or critical axe-core violations")


def test_nothing_clipped_at_1280px(reports):
    _fail_on(reports, "clipped", "clipped code cells, outputs or equations at 1280 px")


def test_sidebar_toggles_work_at_every_width(reports):
    _fail_on(reports, "nav_problems", "navigation toggle problems")


def test_internal_links_and_anchors_resolve(reports):
    _fail_on(reports, "bad_links", "broken internal links")


def test_figures_shown_near_natural_size(reports):
    _fail_on(reports, "small_figures", f"figures shown below {ba.FIGURE_MIN_SCALE} of natural width")


def test_every_page_has_its_favicon(reports):
    """Browsers ask for /favicon.ico (a 404 in the console) unless the page names an icon."""
    missing = []
    for r in reports:
        if r.page.startswith("search.html"):
            continue
        page = Path(r.site) / r.page
        m = re.search(r'<link rel="icon" href="([^"]+)"', page.read_text(encoding="utf-8"))
        if not m or not (page.parent / m.group(1)).is_file():
            missing.append(r.name)
    assert not missing, f"pages without an existing favicon: {missing}"


def test_page_weight(reports, capsys):
    """Prints each page's weight (HTML + images + scripts, styles and fonts it loads)."""
    with capsys.disabled():
        print("\n" + ba.summary(reports))
        # (no CPU figure: the rusage of finished children misses Chromium's renderer
        # processes, which reported a fifth of the browser's real CPU time)
        print(f"{len(reports)} pages audited in {TIMING.get('wall', 0):.0f} s wall time")
        for r in reports:
            parts = ", ".join(f"{k} {v / 1024:.0f}K" for k, v in sorted(r.weight_parts.items()))
            print(f"  {r.name}: {r.weight / 1024:.0f}K ({parts})")
    assert all(r.weight > 0 for r in reports if not r.errors)


# --- page speed (issue 19): what does not vary with the machine's load -----------------------
# The timings (Lighthouse) are a benchmark, not a test: python -m tools bench.

KB = 1024
#: A page with figures or explorables may bring 1 MB on first load, any other page 400 KB
#: (gzip-compressed, as GitHub Pages serves the site; the explorables' Vega counted).
BUDGET_WITH_FIGURES, BUDGET_PLAIN = 1000 * KB, 400 * KB
FORBIDDEN_SCRIPTS = re.compile(r"mathjax|tex-chtml|tex-svg|katex(\.min)?\.js|auto-render|fontawesome",
                               re.I)


def _built_pages() -> list[tuple[Path, str]]:
    return [(site, rel) for site, _ in _sites() for rel in ba.pages_of(site) + ["search.html"]]


def test_bytes_per_page_within_budget(reports):
    over = []
    for r in reports:
        if r.page.startswith("search.html") or r.errors:
            continue
        text = (Path(r.site) / r.page).read_text(encoding="utf-8")
        figures = "<img" in text.split('<article class="bd-article"', 1)[-1] or "relucourse-explorable" in text
        budget = BUDGET_WITH_FIGURES if figures else BUDGET_PLAIN
        vega = r.weight_parts.get("vega", 0)
        total = r.first_load + vega
        if total > budget:
            over.append(f"{r.name}: {total / KB:.0f} KB (first load {r.first_load / KB:.0f} KB "
                        f"{r.first_load_parts}, Vega {vega / KB:.0f} KB) > {budget / KB:.0f} KB")
    assert not over, "pages over their byte budget:\n" + "\n".join(over)


def test_no_math_typesetting_or_icon_font_script(reports):
    """Formulas arrive rendered and icons as inline SVG: no page loads a script for either."""
    bad = [f"{r.name}: {src}" for r in reports for src in r.scripts if FORBIDDEN_SCRIPTS.search(src)]
    for site, rel in _built_pages():
        text = (site / rel).read_text(encoding="utf-8")
        bad += [f"{rel}: <script src={src}>" for src in re.findall(r'<script[^>]*\ssrc="([^"]+)"', text)
                if FORBIDDEN_SCRIPTS.search(src)]
        if '<i class="fa' in text:
            bad.append(f"{rel}: a Font Awesome <i> icon left for a script to draw")
    assert not bad, "\n".join(sorted(set(bad)))


def test_images_below_the_fold_are_lazy_with_their_size(reports):
    _fail_on(reports, "lazy_problems", "images without size, or not lazy below the fold")


class _Formulas(html.parser.HTMLParser):
    """The TeX that KaTeX rendered, formula by formula, and the text outside formulas."""

    SKIP = {"script", "style", "pre", "code", "textarea", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool, bool]] = []   # (tag, opens a formula, skipped)
        self.formulas: list[list[str]] = []             # per span.math/div.math: its annotations
        self.annotation: list[str] | None = None
        self.outside: list[str] = []

    def _in(self, which: int) -> bool:
        return any(entry[which] for entry in self.stack)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        formula = tag in ("span", "div") and "math" in classes and not self._in(1)
        if formula:
            self.formulas.append([])
        skipped = tag in self.SKIP or "katex" in classes
        if tag == "annotation" and a.get("encoding") == "application/x-tex":
            self.annotation = []
        if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr", "source", "col"):
            self.stack.append((tag, formula, skipped))

    def handle_endtag(self, tag):
        if tag == "annotation" and self.annotation is not None:
            if self.formulas:
                self.formulas[-1].append("".join(self.annotation))
            self.annotation = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.annotation is not None:
            self.annotation.append(data)
        elif not self._in(2) and not self._in(1):
            self.outside.append(data)


def _doctree_math(site: Path, rel: str) -> list[str] | None:
    """The TeX of every formula of a page, from Sphinx's doctree of its source (None: none)."""
    import pickle

    from docutils import nodes

    doctree = site.parent / ".doctrees" / (rel[:-len(".html")] + ".doctree")
    if not doctree.is_file():
        return None
    with doctree.open("rb") as fh:
        tree = pickle.load(fh)
    return [n.astext() for n in tree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))]


RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\begin\{|(?<![\w$])\$[^$\s][^$]*\\[a-zA-Z]+[^$]*\$")


def test_every_formula_is_rendered_at_build_time():
    """Each formula of each page's source is in the page, rendered by KaTeX, in order, with its
    MathML (KaTeX keeps the TeX as an annotation); no TeX is left raw outside formulas."""
    problems, checked = [], 0
    norm = lambda tex: " ".join(tex.split())  # noqa: E731
    for site, rel in _built_pages():
        parser = _Formulas()
        parser.feed((site / rel).read_text(encoding="utf-8"))
        rendered = [f[0] if len(f) == 1 else None for f in parser.formulas]
        not_rendered = sum(1 for f in parser.formulas if len(f) != 1)
        if not_rendered:
            problems.append(f"{rel}: {not_rendered} formulas without exactly one KaTeX rendering")
        source = _doctree_math(site, rel)
        if source is not None:
            if [norm(t) for t in source] != [norm(t) if t else t for t in rendered]:
                missing = [t for t in source if norm(t) not in {norm(r) for r in rendered if r}]
                problems.append(f"{rel}: {len(source)} formulas in the source, {len(rendered)} rendered; "
                                f"missing or different: {missing[:3]}")
            checked += len(source)
        raw = RAW_TEX.findall(" ".join(parser.outside))
        if raw:
            problems.append(f"{rel}: TeX left raw: {raw[:3]}")
    assert checked > 200, f"only {checked} formulas compared: are the doctrees next to the site?"
    assert not problems, "\n".join(problems)


def test_ids_are_unique_and_every_form_can_be_submitted():
    problems = []
    for site, rel in _built_pages():
        text = (site / rel).read_text(encoding="utf-8")
        ids = re.findall(r'\sid="([^"]+)"', text)
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"{rel}: duplicate ids {dupes[:5]}")
        for form in re.findall(r"<form\b.*?</form>", text, re.S):
            if not re.search(r'<button(?![^>]*type="(?:button|reset)")|<input[^>]*type="submit"', form):
                problems.append(f"{rel}: a form without a submit button: {form[:80]!r}")
    assert not problems, "\n".join(problems)


def test_tex_that_katex_cannot_render_stops_the_build():
    """The build's renderer: HTML with MathML for amsmath environments; unknown TeX raises,
    and the book's wrapper names the page, the line and the formula."""
    from docutils import nodes
    from sphinx.errors import ExtensionError

    from tools.sphinxext import math as book_math

    katex = book_math._katex()
    book_math._configure(None, type("Config", (), {})())
    out = katex.render_latex(r"\begin{aligned} f(x) &= \max(0, x) \\ f'(x) &= [x > 0] \end{aligned}",
                             {"displayMode": True})
    assert "<math" in out and 'encoding="application/x-tex"' in out and "katex-html" in out
    with pytest.raises(katex.KaTeXError):
        katex.render_latex(r"\notacommand{x}")

    node = nodes.math(r"\notacommand{x}", r"\notacommand{x}")
    node.line = 7
    builder = type("B", (), {"current_docname": "chapters/09_demo",
                             "config": type("C", (), {"katex_prerender": True})()})()
    translator = type("T", (), {"builder": builder, "body": [],
                                "starttag": lambda self, *a, **k: "<span>"})()
    visit = book_math._checked(katex.html_visit_math)
    try:
        with pytest.raises(ExtensionError, match=r"chapters/09_demo:7: KaTeX cannot render '\\\\notacommand"):
            visit(translator, node)
    finally:   # stop the Node.js renderer (here, not at exit) and close its pipes
        import atexit

        server, katex.KaTeXServer.katex_server = katex.KaTeXServer.katex_server, None
        if server is not None:
            atexit.unregister(katex.KaTeXServer.terminate)
            server.terminate()
            for pipe in (server.process.stdin, server.process.stdout):
                pipe.close()
