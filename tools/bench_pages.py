"""Page-speed benchmark: Lighthouse on every page of the built book, served with gzip.

    python -m tools bench                       # every page, mobile and desktop
    python -m tools bench intro.html chapters/05_variants.html --profile mobile
    python -m tools bench --site DIR --runs 2 --json out.json
    python -m tools bench chapters/06_troubleshooting.html --keep /tmp/lh   # whole reports
    python -m tools bench --work /tmp/lh/*.json      # where their main thread's time went

Runs Lighthouse 12.2.3 (npm, installed into tools/node_modules by ``npm ci
--prefix tools``; tools/bootstrap.py does it) with Node.js against the built
site served from 127.0.0.1 with gzip (tools/site.py), in Debian's Chromium
(``--chrome-path``, the CHROMIUM setting). Lighthouse's default mobile profile
simulates a slow 4G network and a 4x slower CPU; ``desktop`` is its desktop
preset. It prints one row per page and profile with the budget of issue 19
beside each number (performance >= 90 on mobile and >= 98 on desktop, largest
paint <= 2.5 s, blocking time <= 200 ms, layout shift <= 0.1, bytes <= 400 KB
for a page without figures and <= 1 MB for a chapter).

A benchmark, not a test: the scores move with the machine's load (each row
gives the load average when it ran; with ``--runs N`` the median run of N is
kept). The byte budgets, which do not vary, are tests (tests/test_browser.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools import site as site_harness

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "tools" / "node_modules" / "lighthouse" / "cli" / "index.js"
KB = 1024
#: (metric, Lighthouse audit, unit, budget, higher is better)
BUDGETS = {
    "performance": (90, True),
    "fcp_s": (None, False),
    "lcp_s": (2.5, False),
    "tbt_ms": (200, False),
    "cls": (0.1, False),
}
DESKTOP_SCORE = 98


def byte_budget(page: str) -> int:
    """Bytes allowed on first load: 1 MB for a chapter or notebook page, else 400 KB."""
    return 1000 * KB if page.startswith(("chapters/", "exercises/", "solutions/")) else 400 * KB


def lighthouse(url: str, profile: str, chromium: str, keep: Path | None = None) -> dict:
    """One Lighthouse run; the numbers of the table (and its whole report in ``keep``)."""
    if not LIGHTHOUSE.is_file():
        raise SystemExit(f"Lighthouse is not installed ({LIGHTHOUSE}): run `npm ci --prefix tools`")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = ["node", str(LIGHTHOUSE), url, "--output=json", f"--output-path={out}", "--quiet",
               "--only-categories=performance", f"--chrome-path={chromium}",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-quic",
               "--disable-full-page-screenshot"]
        if profile == "desktop":
            cmd.append("--preset=desktop")
        subprocess.run(cmd, check=True, env=dict(os.environ, CHROME_PATH=chromium),
                       stdout=subprocess.DEVNULL, timeout=300)
        report = json.loads(out.read_text(encoding="utf-8"))
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, keep)
    audits = report["audits"]
    value = lambda key: audits[key].get("numericValue") or 0.0  # noqa: E731
    return {
        "performance": round(100 * (report["categories"]["performance"]["score"] or 0)),
        "fcp_s": value("first-contentful-paint") / 1000,
        "lcp_s": value("largest-contentful-paint") / 1000,
        "tbt_ms": value("total-blocking-time"),
        "cls": value("cumulative-layout-shift"),
        "kb": value("total-byte-weight") / KB,
        "load": os.getloadavg()[0],
    }


def _kept(keep: Path | None, page: str, profile: str, i: int) -> Path | None:
    if keep is None:
        return None
    return keep / f"{page.replace('/', '_').removesuffix('.html')}-{profile}-{i + 1}.json"


def run(site: Path, pages: list[str], profiles: list[str], runs: int = 1, log=print,
        keep: Path | None = None) -> list[dict]:
    chromium = site_harness.chromium_path()
    rows = []
    with site_harness.serve(site, gzip=True) as base:
        for page in pages:
            for profile in profiles:
                found = [lighthouse(base + page, profile, chromium, _kept(keep, page, profile, i))
                         for i in range(runs)]
                found.sort(key=lambda r: r["performance"])
                row = dict(found[len(found) // 2], page=page, profile=profile)
                rows.append(row)
                log(format_row(row), flush=True)
    return rows


FIRST_LOAD = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  let total = nav ? nav.encodedBodySize : 0;
  for (const r of performance.getEntriesByType('resource')) total += r.encodedBodySize || 0;
  return total;
}"""


def first_load_bytes(site: Path, pages: list[str], width: int = 412, height: int = 823) -> dict[str, int]:
    """Bytes (gzip, as served) each page fetches on a first visit at a phone's size, before
    the reader scrolls; the explorables' Vega is added when it loads on scrolling."""
    from playwright.sync_api import sync_playwright

    found = {}
    with site_harness.serve(site, gzip=True) as base, sync_playwright() as pw:
        browser = site_harness.launch(pw)
        for page_name in pages:
            context = browser.new_context(viewport={"width": width, "height": height})
            page = context.new_page()
            page.goto(base + page_name, wait_until="load")
            try:
                page.wait_for_load_state("networkidle", timeout=10_000)
            except Exception:  # noqa: BLE001 - count what arrived
                pass
            first = page.evaluate(FIRST_LOAD)
            boxes = page.locator(".relucourse-explorable")
            for i in range(boxes.count()):
                boxes.nth(i).scroll_into_view_if_needed()
            if boxes.count():
                page.wait_for_timeout(3000)
            vega = page.evaluate("() => performance.getEntriesByType('resource')"
                                 ".filter(r => r.name.includes('/relucourse-vega/'))"
                                 ".reduce((n, r) => n + (r.encodedBodySize || 0), 0)")
            found[page_name] = first + vega
            context.close()
        browser.close()
    return found


def _mark(ok: bool) -> str:
    return "" if ok else " ✗"


def format_row(r: dict) -> str:
    score_budget = DESKTOP_SCORE if r["profile"] == "desktop" else 90
    kb_budget = byte_budget(r["page"]) / KB
    return (f"| {r['page']} | {r['profile']} "
            f"| {r['performance']} (≥ {score_budget}){_mark(r['performance'] >= score_budget)} "
            f"| {r['fcp_s']:.1f} s "
            f"| {r['lcp_s']:.1f} s (≤ 2.5){_mark(r['lcp_s'] <= 2.5)} "
            f"| {r['tbt_ms']:,.0f} ms (≤ 200){_mark(r['tbt_ms'] <= 200)} "
            f"| {r['cls']:.3f} (≤ 0.1){_mark(r['cls'] <= 0.1)} "
            f"| {r['kb']:,.0f} KB (≤ {kb_budget:,.0f}){_mark(r['kb'] <= kb_budget)} "
            f"| {r['load']:.1f} |")


HEADER = ("| page | profile | performance | first paint | largest paint | blocking time "
          "| layout shift | transferred | load avg |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="site-relative pages (default: every page)")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--profile", choices=["mobile", "desktop", "both"], default="both")
    parser.add_argument("--runs", type=int, default=1, help="runs per page and profile (median kept)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep each run's whole Lighthouse report (JSON) in DIR")
    parser.add_argument("--work", type=Path, nargs="+", metavar="REPORT",
                        help="only print where the main thread's time went in these "
                             "kept reports (no run)")
    parser.add_argument("--bytes", action="store_true",
                        help="only the bytes of a first visit per page (Chromium, no Lighthouse)")
    args = parser.parse_args(argv)
    from tools.browser_audit import pages_of

    if args.work:
        for path in args.work:
            print(main_thread_work(json.loads(path.read_text(encoding="utf-8")), path.name))
        return 0
    pages = args.pages or pages_of(args.site) + ["search.html"]
    if args.bytes:
        print("| page | first visit (+ Vega when scrolled to) | budget |\n| --- | --- | --- |")
        for page_name, n in first_load_bytes(args.site.resolve(), pages).items():
            budget = byte_budget(page_name)
            print(f"| {page_name} | {n / KB:,.0f} KB | {budget / KB:,.0f} KB{_mark(n <= budget)} |")
        return 0
    profiles = ["mobile", "desktop"] if args.profile == "both" else [args.profile]
    start = time.perf_counter()
    print(f"Lighthouse 12.2.3, {site_harness.chromium_path()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n{HEADER}", flush=True)
    rows = run(args.site.resolve(), pages, profiles, args.runs, keep=args.keep)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"\n{len(rows)} runs in {time.perf_counter() - start:.0f} s, load average "
          f"{os.getloadavg()[0]:.1f} at the end; over budget (scores move with load):")
    for line in over_budget(rows):
        print(f"- {line}")
    return 0


def main_thread_work(report: dict, name: str = "") -> str:
    """Where a Lighthouse run's main-thread time went: its kinds of work, the longest
    tasks (with the script they are charged to) and the page's element count."""
    audits = report["audits"]
    lines = [f"{name}: score {round(100 * (report['categories']['performance']['score'] or 0))}, "
             f"blocking {audits['total-blocking-time'].get('numericValue', 0):,.0f} ms, "
             f"largest paint {audits['largest-contentful-paint'].get('numericValue', 0) / 1000:.2f} s, "
             f"{audits['dom-size'].get('numericValue', 0):,.0f} elements"]
    work = audits["mainthread-work-breakdown"].get("details", {}).get("items", [])
    lines.append("  main thread: " + ", ".join(
        f"{w['groupLabel']} {w['duration']:,.0f} ms" for w in work))
    for task in audits["long-tasks"].get("details", {}).get("items", [])[:6]:
        lines.append(f"  long task at {task.get('startTime', 0):,.0f} ms: "
                     f"{task['duration']:,.0f} ms, {task.get('url', '')}")
    for item in audits.get("bootup-time", {}).get("details", {}).get("items", [])[:6]:
        lines.append(f"  script {item['url'].rsplit('/', 1)[-1][:50]}: "
                     f"evaluation {item.get('scripting', 0):,.0f} ms, "
                     f"total {item.get('total', 0):,.0f} ms")
    lcp = audits.get("largest-contentful-paint-element", {}).get("details", {}).get("items", [])
    if lcp and lcp[0].get("items"):
        node = lcp[0]["items"][0].get("node", {})
        lines.append(f"  largest paint: {node.get('snippet', '')[:100]}")
    return "\n".join(lines)


def over_budget(rows: list[dict]) -> list[str]:
    """One line per budget: how many rows miss it, and which."""
    checks = {
        "performance (mobile >= 90, desktop >= 98)":
            lambda r: r["performance"] >= (DESKTOP_SCORE if r["profile"] == "desktop" else 90),
        "largest paint <= 2.5 s": lambda r: r["lcp_s"] <= 2.5,
        "blocking time <= 200 ms": lambda r: r["tbt_ms"] <= 200,
        "layout shift <= 0.1": lambda r: r["cls"] <= 0.1,
        "bytes": lambda r: r["kb"] * KB <= byte_budget(r["page"]),
    }
    lines = []
    for name, ok in checks.items():
        bad = [f"{r['page']} ({r['profile']})" for r in rows if not ok(r)]
        lines.append(f"{name}: {len(bad)} of {len(rows)}" + (f": {', '.join(bad)}" if bad else ""))
    return lines


if __name__ == "__main__":
    sys.exit(main())
