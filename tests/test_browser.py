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
import os
import re
import resource
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
    start, cpu = time.perf_counter(), _children_cpu()
    found = asyncio.run(ba.audit_sites(sites))
    TIMING.update(wall=time.perf_counter() - start, cpu=_children_cpu() - cpu)
    assert len(found) >= 10, f"only {len(found)} pages found in {[str(s) for s, _ in sites]}"
    return found


TIMING: dict[str, float] = {}


def _children_cpu() -> float:
    """CPU seconds of finished child processes (the browser, once it has closed)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
        print(f"{len(reports)} pages audited in {TIMING.get('wall', 0):.0f} s wall time, "
              f"{TIMING.get('cpu', 0):.0f} s of browser CPU time (on a busy machine the wall time is longer)")
        for r in reports:
            parts = ", ".join(f"{k} {v / 1024:.0f}K" for k, v in sorted(r.weight_parts.items()))
            print(f"  {r.name}: {r.weight / 1024:.0f}K ({parts})")
    assert all(r.weight > 0 for r in reports if not r.errors)
