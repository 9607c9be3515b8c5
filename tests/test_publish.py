"""The published book: chapter notebooks for the launch buttons, launch URLs, the PDF.

The launch-URL and PDF tests read the book built by the README's first command
(``_build/html``; in a full run ``tests/test_book.py`` rebuilds it first when it is not
current, and otherwise this file may run beside it, on the other worker: see conftest.py).
The PDF test prints the whole book with headless Chromium: about a minute on 2 cores.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
import yaml

from tools import chapter_notebooks, pdf
from tools.authoring import setup_cell_source

ROOT = Path(__file__).resolve().parent.parent

SITE = ROOT / "_build" / "html"
CHAPTERS = chapter_notebooks.chapter_paths()


def _built_site() -> Path:
    if not (SITE / "index.html").exists():
        pytest.fail("no built book in _build/html: run the README's first command "
                    "(or .venv/bin/python -m tools build) first")
    return SITE


def _repository() -> tuple[str, str, str]:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    org, repo = urlparse(cfg["repository"]["url"]).path.strip("/").split("/")[:2]
    return org, repo, cfg["repository"].get("branch", "main")


# --- notebooks/: generated, in sync, runnable ----------------------------------------------------

def test_every_chapter_has_its_notebook_and_it_is_up_to_date():
    expected = chapter_notebooks.expected_files()
    assert sorted(p.name for p in expected) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    stale = [p.name for p, text in expected.items() if p.read_text(encoding="utf-8") != text]
    assert not stale, (f"out of date: {stale}; run .venv/bin/python -m tools regen "
                       "after editing a chapter")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_notebook_is_valid_without_outputs_and_starts_with_the_set_up_cell(chapter):
    nb = nbformat.read(chapter_notebooks.notebook_path(chapter), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == setup_cell_source()
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    # Every code cell of the chapter is there, in order, after the set-up cell; no
    # cell of the chapter needs the book (its "at a glance" box is text, from the front matter).
    source = chapter.read_text(encoding="utf-8")
    n_code = len(re.findall(r"^```\{code-cell\}", source, re.M))
    assert len(code) == n_code + 1
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "**At a glance.**" in text and "{course-header}" not in text


DEMO = """---
kernelspec:
  name: python3
  display_name: Python 3
course:
  objectives: [Compute one thing, Derive another, Compare both]
  prerequisites: ["{doc}`../chapters/09_demo`"]
  minutes: 5
  exercise_minutes: 10
---

# Demo

```{course-header}
```

(sec-demo)=
Text with $x$, a {term}`dead unit <Dead unit>`, {cite:t}`he2015delving` and
{cite:p}`nair2010rectified,glorot2011deep`; see {doc}`../chapters/09_demo`.

```{code-cell} ipython3
x = 1
```

```{exercise} Question 9.1
:label: ch9-q1
:nonumber:

Why?
```

```{solution} ch9-q1
:class: dropdown

Because.
```

:::{admonition} Note
:class: tip
Short.
:::
"""


def test_generator_writes_the_header_adds_the_set_up_cell_and_plain_markdown(tmp_path):
    (tmp_path / "chapters").mkdir()
    chapter = tmp_path / "chapters" / "09_demo.md"
    chapter.write_text(DEMO, encoding="utf-8")
    nb = chapter_notebooks.make_notebook(chapter)
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code", "markdown", "code", "markdown"]
    assert nb.cells[2].source == setup_cell_source() and nb.cells[4].source == "x = 1"
    box, _, text = nb.cells[3].source.partition("\n\nText with")
    assert box.startswith("**At a glance.** **After this chapter you can:**")
    assert "- Compute one thing" in box and "**Prerequisites:** *Demo*." in box
    assert "about 5 minutes to read and run, plus about 10 minutes" in box
    text = "Text with" + text
    assert text.startswith("Text with $x$, a dead unit, He et al. (2015) and\n(Nair and Hinton, 2010; "
                           "Glorot et al., 2011); see *Demo*.")
    rest = nb.cells[5].source
    assert rest.startswith("**Question 9.1.** Why?")
    assert "<details>\n<summary>Answer</summary>\n\nBecause.\n\n</details>" in rest
    assert rest.endswith("**Note.** Short.")
    assert "{" not in text + rest and ":label:" not in rest and "(sec-demo)=" not in text
    assert chapter_notebooks.make_notebook(chapter) == nb  # deterministic (cell ids included)


# --- launch buttons ------------------------------------------------------------------------------

LAUNCH = re.compile(r'href="(https://(?:colab\.research\.google\.com|mybinder\.org)[^"]*)"')


def _repo_path(url: str) -> str:
    """The file in the repository a Colab or Binder launch URL opens."""
    org, repo, branch = _repository()
    url = html.unescape(url)
    if url.startswith("https://colab.research.google.com/"):
        prefix = f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/"
        assert url.startswith(prefix), url
        return url[len(prefix):]
    prefix = f"https://mybinder.org/v2/gh/{org}/{repo}/{branch}?urlpath=lab/tree/"
    assert url.startswith(prefix), url
    return url[len(prefix):]


def test_every_launch_button_opens_a_notebook_that_exists_and_starts_with_the_set_up_cell():
    site = _built_site()
    launched: dict[str, set[str]] = {}
    for page in sorted(site.rglob("*.html")):
        for url in LAUNCH.findall(page.read_text(encoding="utf-8")):
            launched.setdefault(page.relative_to(site).as_posix(), set()).add(_repo_path(url))
    for chapter in CHAPTERS:  # every chapter page has Colab and Binder buttons, both on its notebook
        page = f"chapters/{chapter.stem}.html"
        assert launched.get(page) == {f"notebooks/{chapter.stem}.ipynb"}, (page, launched.get(page))
        assert len(LAUNCH.findall((site / page).read_text(encoding="utf-8"))) == 2
    for folder in ("exercises", "solutions"):
        for chapter in CHAPTERS:
            assert launched.get(f"{folder}/{chapter.stem}.html") == {f"{folder}/{chapter.stem}.ipynb"}
    for page, paths in launched.items():
        for path in paths:
            assert path.endswith(".ipynb") and (ROOT / path).exists(), f"{page} launches {path}"
            nb = nbformat.read(ROOT / path, as_version=4)
            nbformat.validate(nb)
            first = next(c for c in nb.cells if c.cell_type == "code")
            assert first.source == setup_cell_source(), f"{path}: first code cell is not the set-up cell"


# --- the PDF -------------------------------------------------------------------------------------

def test_reading_order_follows_the_table_of_contents():
    docs = pdf.reading_order(_built_site())
    hrefs = [d.href for d in docs]
    assert hrefs[0] == "intro.html"
    chapters = [h for h in hrefs if h.startswith("chapters/")]
    assert chapters == [f"chapters/{c.stem}.html" for c in CHAPTERS]
    assert {d.part for d in docs if d.href.startswith("chapters/")} == {"Chapters"}


def test_pdf_of_the_whole_book_has_contents_and_one_bookmark_per_chapter(tmp_path):
    """Prints the whole book (about a minute). Every formula was rendered when the book was
    built (KaTeX); the printer refuses a page with a formula that was not (tested below)."""
    from pypdf import PdfReader

    site = _built_site()
    out = pdf.build_pdf(site, tmp_path / "book.pdf", log=lambda *a: None)
    reader = PdfReader(out)
    docs = pdf.reading_order(site)
    assert len(reader.pages) > 2 * len(docs)
    outline = reader.outline
    parts = {str(item.title): outline[i + 1] for i, item in enumerate(outline)
             if not isinstance(item, list) and i + 1 < len(outline) and isinstance(outline[i + 1], list)}
    assert {"Chapters", "Exercises", "Reference"} <= set(parts)
    chapters = [item for item in parts["Chapters"] if not isinstance(item, list)]
    titles = {d.href: d.title for d in docs}
    assert [str(c.title) for c in chapters] == [titles[f"chapters/{c.stem}.html"] for c in CHAPTERS]
    # The contents pages list every chapter; no link points at the temporary local server.
    contents = " ".join(reader.pages[i].extract_text() for i in range(3)).replace("\n", " ")
    for chapter in chapters:
        assert str(chapter.title)[:30] in contents
    for page in reader.pages:
        for annot in page.get("/Annots", []) or []:
            action = annot.get_object().get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            assert "127.0.0.1" not in uri


def _tiny_site(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "index.html").write_text(f"<!doctype html><title>T</title><main>{body}</main>", encoding="utf-8")
    return folder


def test_pdf_refuses_formulas_left_as_tex_and_content_wider_than_the_paper(tmp_path):
    site = _tiny_site(tmp_path / "math", r'<p><span class="math">\\(x^2\\)</span></p>')
    with pytest.raises(SystemExit, match="formulas not rendered"):
        pdf.build_pdf(site, tmp_path / "math.pdf", log=lambda *a: None)
    site = _tiny_site(tmp_path / "wide", '<table><tr><td style="min-width: 2000px">x</td></tr></table>')
    with pytest.raises(SystemExit, match="wider than the paper"):
        pdf.build_pdf(site, tmp_path / "wide.pdf", log=lambda *a: None)
