"""Print the built book to one PDF, offline, with headless Chromium.

    .venv/bin/python tools/pdf.py                        # _build/html -> _build/pdf/rectified.pdf
    .venv/bin/python tools/pdf.py --html DIR --output FILE.pdf

Build the HTML first (the README's first command, or ``tools/book.py build``).
This serves the built site on 127.0.0.1 and opens every page in reading order (the
book's own "next" links, from the landing page to the last page) in Debian's
Chromium through Playwright (both through tools/site.py), with every request that
does not go to 127.0.0.1 blocked. It waits for the fonts (KaTeX's among them: the
formulas were rendered when the book was built) and for every image, lazy ones
included, fails if any formula is not rendered, and prints the page with the book's
print styles (``_static/print.css``).
The pages are then joined with pypdf into one PDF with

* a title and contents page (parts, pages and their sections, with page numbers
  and links),
* PDF bookmarks: part > page > section,
* a running footer with the page's title and the book's page number,
* links between pages of the book turned into links inside the PDF.

Chromium is found at ``/usr/bin/chromium`` (Debian's package ``chromium``) or
given with ``--chromium`` or the ``CHROMIUM`` environment variable.
"""

from __future__ import annotations

import argparse
import html
import io
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

from tools import site as site_harness

ROOT = Path(__file__).resolve().parent.parent
PAGE_FORMAT, MARGIN = "A4", {"top": "16mm", "bottom": "18mm", "left": "16mm", "right": "16mm"}
#: The printable width of an A4 page with these margins, in CSS pixels (96 per inch): the
#: pages are laid out at this width to find anything wider than the paper.
PRINT_WIDTH = round((210 - 16 - 16) / 25.4 * 96)

# Runs in the page: load every image (lazy ones too) and the web fonts; count formulas
# that were not rendered at build time (a span.math or div.math without KaTeX's output).
SETTLE = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null :
    new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await document.fonts.ready;
  const raw = [...document.querySelectorAll('span.math, div.math')]
    .filter(el => !el.querySelector('.katex')).length;
  // Anything in the article wider than the paper (laid out at the printable width): boxes
  // whose content overflows them or the page; formulas reaching past the page's edge.
  const right = document.documentElement.clientWidth + 1;
  const label = el => el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + ': ' +
                      el.textContent.trim().slice(0, 60);
  const boxes = [...document.querySelectorAll('main pre, main div.highlight, main .cell_output, ' +
                                              'main table, main img, main figure')]
    .filter(el => el.getClientRects().length &&
                  (el.getBoundingClientRect().right > right || el.scrollWidth > el.clientWidth + 1));
  const formulas = [...document.querySelectorAll('main .katex-display > .katex, main div.math')]
    .filter(el => el.getClientRects().length && el.getBoundingClientRect().right > right);
  const wide = boxes.concat(formulas).map(label);
  return {raw, wide};
}"""

# Runs in the page (print media): its printed headings in order, and for every element id
# the heading of the section it is in (for links into the page).
HEADINGS = """() => {
  const clean = h => h.textContent.replace(/[#\\u00b6]/g, '').replace(/\\s+/g, ' ').trim();
  const shown = el => el.getClientRects().length > 0;
  const all = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(shown);
  const index = new Map(all.map((h, i) => [h, i]));
  const anchors = {};
  for (const el of document.querySelectorAll('main [id]')) {
    const sec = el.closest('section');
    const h = sec && sec.querySelector(':scope > h1, :scope > h2, :scope > h3, :scope > h4');
    if (h && index.has(h)) anchors[el.id] = index.get(h);
  }
  return {headings: all.map(h => [+h.tagName[1], clean(h)]), anchors};
}"""


@dataclass
class Doc:
    """One page of the book and what printing it gave."""
    href: str                  # relative to the site root, e.g. "chapters/01_why_activations.html"
    title: str
    part: str | None = None
    pdf: bytes = b""
    first_page: int = 0        # index in the final PDF
    n_pages: int = 0
    sections: list[tuple[int, str, int]] = field(default_factory=list)  # (level, title, page in doc)
    headings: list[tuple[int, str]] = field(default_factory=list)        # (level, text) as printed
    anchors: dict[str, int] = field(default_factory=dict)                # element id -> heading index


def _link(text: str, rel: str) -> str | None:
    m = re.search(rf'<link[^>]*rel="{rel}"[^>]*>', text)
    if not m:
        return None
    href = re.search(r'href="([^"]*)"', m.group(0))
    return html.unescape(href.group(1)) if href else None


def _title(text: str) -> str:
    m = re.search(r"<title>(.*?)</title>", text, re.S)
    title = html.unescape(m.group(1)).strip() if m else ""
    return re.sub(r"\s+[—–-]\s+[^—–-]*$", "", title) or title  # drop " — Book title"


def reading_order(site: Path) -> list[Doc]:
    """The book's pages from the landing page on, following each page's rel="next" link."""
    start = "index.html"
    text = (site / start).read_text(encoding="utf-8")
    refresh = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text, re.I)
    if refresh:  # Jupyter Book's index.html only redirects to the root page
        start = refresh.group(1)
    docs, seen, href = [], set(), start
    while href and href not in seen:
        seen.add(href)
        path = site / href
        if not path.exists():
            raise SystemExit(f"{path} is missing: build the book first")
        text = path.read_text(encoding="utf-8")
        docs.append(Doc(href=href, title=_title(text)))
        nxt = _link(text, "next")
        href = urlparse(urljoin("http://x/" + href, nxt)).path.lstrip("/") if nxt else None
    parts = _parts(site / start)
    for doc in docs:
        doc.part = parts.get(doc.href)
    return docs


def _parts(page: Path) -> dict[str, str]:
    """href -> caption of its part, from the navigation sidebar of a page."""
    text = page.read_text(encoding="utf-8")
    parts, caption = {}, None
    for m in re.finditer(r'<span class="caption-text">(.*?)</span>|<li class="toctree-l1[^"]*">\s*'
                         r'<a class="reference internal" href="([^"#]*)"', text):
        if m.group(1) is not None:
            caption = html.unescape(m.group(1)).strip()
        elif caption and m.group(2):
            parts.setdefault(urlparse(urljoin("http://x/" + page.name, m.group(2))).path.lstrip("/"), caption)
    return parts


def print_pages(docs: list[Doc], base: str, browser, log=print) -> None:
    """Print every page to its own PDF (Chromium ``browser``, print media, light theme, offline)."""
    host = urlparse(base).netloc
    context = browser.new_context(color_scheme="light", viewport={"width": PRINT_WIDTH, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).netloc == host
                  else route.abort())
    context.add_init_script("try { localStorage.setItem('theme', 'light'); "
                            "localStorage.setItem('mode', 'light'); } catch (e) {}")
    page = context.new_page()
    page.emulate_media(media="print")
    problems = []
    for doc in docs:
        t0 = time.perf_counter()
        page.goto(base + doc.href, wait_until="load")
        found = page.evaluate(SETTLE)
        if found["raw"]:
            problems.append(f"{doc.href}: {found['raw']} formulas not rendered (the book renders them "
                            "when it is built: tools/sphinxext/math.py)")
        problems += [f"{doc.href}: wider than the paper: {what}" for what in found["wide"]]
        found = page.evaluate(HEADINGS)
        doc.headings = [tuple(h) for h in found["headings"]]
        doc.anchors = found["anchors"]
        doc.pdf = page.pdf(format=PAGE_FORMAT, margin=MARGIN, print_background=True, outline=True)
        log(f"  {doc.href}: {time.perf_counter() - t0:.1f} s")
    context.close()
    if problems:
        raise SystemExit("the book does not print well:\n  " + "\n  ".join(problems))


def _footers(labels: list[str], browser) -> bytes:
    """One blank page per label with that label as a footer (overlaid on the printed pages)."""
    pages = "".join(f'<div class="p"><div class="f">{html.escape(t)}</div></div>' for t in labels)
    doc = ("<!doctype html><meta charset=utf-8><style>@page { size: A4; margin: 0 }"
           "html, body { margin: 0 } .p { height: 297mm; position: relative; break-after: page;"
           " overflow: hidden } .f { position: absolute; bottom: 7mm; left: 16mm; right: 16mm;"
           " font: 8pt sans-serif; color: #555; text-align: center }</style>" + pages)
    page = browser.new_page()
    page.set_content(doc)
    out = page.pdf(format=PAGE_FORMAT, margin={"top": "0", "bottom": "0", "left": "0", "right": "0"},
                   prefer_css_page_size=True)
    page.close()
    return out


def _sections(reader, headings: list[tuple[int, str]]) -> list[tuple[int, str, int]]:
    """(level, title, page in the page's PDF) of each printed heading.

    Chromium's outline (made from the headings) gives the pages; the titles come
    from the page itself, since Chromium's outline titles repeat numbered headings'
    text and lose spaces at line breaks. If the two disagree in number, Chromium's
    titles are used as they are.
    """
    found: list[tuple[int, str, int]] = []

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                found.append((level, str(item.title).strip(), reader.get_destination_page_number(item)))

    walk(reader.outline, 1)
    if len(found) != len(headings):
        return found
    return [(level, text, page) for (level, text), (_, _, page) in zip(headings, found)]


def contents_html(title: str, docs: list[Doc], base: str, offset: int) -> str:
    """The title and contents page: parts, pages and their sections, with page numbers."""
    rows, part = [], None
    for doc in docs:
        if doc.part != part and doc.part:
            part = doc.part
            rows.append(f'<h2>{html.escape(part)}</h2>')
        rows.append(f'<p class="l1"><a href="{base}{doc.href}">{html.escape(doc.title)}</a>'
                    f'<span>{doc.first_page + offset + 1}</span></p>')
        if doc.part == "Chapters":
            first_id = {}
            for key, index in doc.anchors.items():
                first_id.setdefault(index, key)
            for i, (level, name, page) in enumerate(doc.sections):
                if level == 2:
                    anchor = first_id.get(i, "")
                    rows.append(f'<p class="l2"><a href="{base}{doc.href}#{anchor}">{html.escape(name)}</a>'
                                f'<span>{doc.first_page + page + offset + 1}</span></p>')
    return ("<!doctype html><meta charset=utf-8><style>"
            "body { font: 11pt/1.45 sans-serif; color: #222 } h1 { font-size: 22pt; margin: 0 0 4mm }"
            ".sub { color: #555; margin-bottom: 10mm } h2 { font-size: 13pt; margin: 6mm 0 2mm;"
            " break-after: avoid } p { margin: 0; display: flex; gap: 2mm }"
            "p a { color: inherit; text-decoration: none } p span { margin-left: auto }"
            "p a::after { content: ''; flex: 1 } .l2 { padding-left: 7mm; font-size: 10pt; color: #444 }"
            "</style>"
            f"<h1>{html.escape(title)}</h1><div class=sub>Contents</div>" + "".join(rows))


def _print_book(docs: list[Doc], base: str, browser, book_title: str, log=print):
    """Print the pages, the contents and the running footers with one ``browser``.

    Returns the contents page(s), each page's PDF (in reading order) and the footers,
    one page per page of the book (each doc's ``first_page`` is then its first page in
    the book, contents included), all as pypdf readers.
    """
    from pypdf import PdfReader

    print_pages(docs, base, browser, log)
    readers, page = [], 0
    for doc in docs:
        reader = PdfReader(io.BytesIO(doc.pdf))
        doc.first_page, doc.n_pages = page, len(reader.pages)
        doc.sections = _sections(reader, doc.headings)
        readers.append(reader)
        page += doc.n_pages
    # The contents page(s): print once to count them, then again with the final numbers.
    tab = browser.new_page()
    n_front = 0
    for _ in range(3):
        tab.set_content(contents_html(book_title, docs, base, n_front))
        front = tab.pdf(format=PAGE_FORMAT, margin=MARGIN)
        n = len(PdfReader(io.BytesIO(front)).pages)
        if n == n_front:
            break
        n_front = n
    tab.close()
    for doc in docs:
        doc.first_page += n_front

    # Running footers: page title and page number, overlaid on every printed page.
    short_title = book_title.split(":")[0]
    labels = [f"{i + 1}" for i in range(n_front)]
    for doc in docs:
        labels += [f"{short_title}  ·  {doc.title}  ·  {doc.first_page + k + 1}" for k in range(doc.n_pages)]
    footers = PdfReader(io.BytesIO(_footers(labels, browser)))
    return PdfReader(io.BytesIO(front)), readers, footers


def build_pdf(site: Path, output: Path, chromium: str | None = None, log=print) -> Path:
    """Print the book built in ``site`` to ``output``; return ``output``."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, NameObject, NullObject, NumberObject

    problem = site_harness.chromium_problem(chromium)
    if problem:
        raise SystemExit(problem)
    exe = site_harness.chromium_path(chromium)
    docs = reading_order(site)
    book_title = _book_title(site)
    # One browser prints the pages, the contents and the footers.
    with site_harness.serve(site) as base, sync_playwright() as pw:
        browser = site_harness.launch(pw, exe)
        log(f"printing {len(docs)} pages of {site} with {exe}")
        try:
            front, readers, footers = _print_book(docs, base, browser, book_title, log)
        finally:
            browser.close()
    writer = PdfWriter()
    writer.append(front, import_outline=False)
    for reader in readers:
        writer.append(reader, import_outline=False)
    total = len(writer.pages)
    for i, page_obj in enumerate(writer.pages):
        page_obj.merge_page(footers.pages[i])
    n_front = len(front.pages)

    # Bookmarks: part > page > sections (h2) of the page.
    parent_of_part: dict[str | None, object] = {}
    for doc in docs:
        parent = None
        if doc.part:
            if doc.part not in parent_of_part:
                parent_of_part[doc.part] = writer.add_outline_item(title=doc.part, page_number=doc.first_page)
            parent = parent_of_part[doc.part]
        item = writer.add_outline_item(title=doc.title, page_number=doc.first_page, parent=parent)
        for level, name, k in doc.sections:
            if level == 2:
                writer.add_outline_item(title=name, page_number=doc.first_page + k, parent=item)

    # Links to pages of the book (http://127.0.0.1:port/...) become links inside the PDF.
    where = {doc.href: doc for doc in docs}
    for page_obj in writer.pages:
        for annot in page_obj.get("/Annots", []) or []:
            annot = annot.get_object()
            action = annot.get("/A")
            uri = action.get_object().get("/URI") if action is not None else None
            if not uri or not str(uri).startswith(base):
                continue
            path, fragment = urldefrag(str(uri)[len(base):])
            doc = where.get(unquote(path)) or where.get(unquote(path) + "index.html")
            target = None
            if doc is not None:
                target = doc.first_page
                index = doc.anchors.get(fragment)
                if index is not None and len(doc.sections) == len(doc.headings):
                    target = doc.first_page + doc.sections[index][2]
            del annot[NameObject("/A")]
            if target is not None:
                annot[NameObject("/Dest")] = ArrayObject([writer.pages[target].indirect_reference,
                                                          NameObject("/XYZ"), NullObject(), NullObject(),
                                                          NumberObject(0)])
    writer.add_metadata({"/Title": book_title, "/Creator": "tools/pdf.py (Chromium, pypdf)"})
    writer.page_mode = "/UseOutlines"
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as fh:
        writer.write(fh)
    log(f"{output}: {total} pages ({n_front} contents, {len(docs)} book pages)")
    return output


def _book_title(site: Path) -> str:
    """The book's title as the built site shows it (the student edition says so)."""
    text = (site / "index.html").read_text(encoding="utf-8")
    refresh = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', text, re.I)
    if refresh:
        text = (site / refresh.group(1)).read_text(encoding="utf-8")
    m = re.search(r'logo__title">(.*?)<', text, re.S)
    return html.unescape(m.group(1)).strip() if m else "Book"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built book")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "pdf" / "rectified.pdf")
    parser.add_argument("--chromium", default=None, help="Chromium executable (default /usr/bin/chromium)")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").exists():
        raise SystemExit(f"no book in {args.html}: build it first (.venv/bin/python tools/book.py build)")
    t0 = time.perf_counter()
    build_pdf(args.html, args.output, args.chromium)
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
