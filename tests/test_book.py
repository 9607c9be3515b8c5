"""Both editions of the book build with Sphinx warnings as errors (using the execution cache).

The README's first command already built the full edition from scratch. Each build
writes a record next to its site (tools/book.py ``current_record``): its exit code, its
warnings and a fingerprint of everything it read (the repository's files, the installed
packages, the execution cache). An edition whose record is current and clean is not built
again; any other is built here (fast: nothing is re-executed unless code changed). Then
both editions' contents are checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools import book

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "_build" / "html"
STUDENT = ROOT / "_build" / "student" / "_build" / "html"
STEMS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))


def _build(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "book.py"), "build", *extra], cwd=ROOT,
                          capture_output=True, text=True)


def _current_or_build(student: bool) -> subprocess.CompletedProcess:
    """The edition's last build if it is current and clean (see the module's docstring),
    else a new build, as the result of a `tools/book.py build` command."""
    extra = ("--student",) if student else ()
    record = book.current_record(student=student)
    if record is None:
        return _build(*extra)
    log = "\n".join(record["tail"])
    return subprocess.CompletedProcess(
        ["tools/book.py", "build", *extra], record["returncode"],
        f"{record['edition']} is current: built in {record['seconds']} s with no warnings "
        f"from the sources, packages and execution cache as they are now\n{log}", "")


@pytest.fixture(scope="module")
def builds():
    full, student = _current_or_build(False), _current_or_build(True)
    return full, student


def test_full_edition_builds_without_warnings(builds):
    full, _ = builds
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    for folder in ("chapters", "exercises", "solutions"):
        for stem in STEMS:
            assert (FULL / folder / f"{stem}.html").exists(), f"{folder}/{stem}.html missing"
    for page in ("intro", "front/how_to_use", "back/glossary", "back/instructors", "back/bibliography",
                 "back/execution_statistics"):
        assert (FULL / f"{page}.html").exists()


def test_student_edition_has_no_solutions(builds):
    _, student = builds
    assert student.returncode == 0, student.stdout[-3000:] + student.stderr[-3000:]
    assert not (STUDENT / "solutions").exists()
    for stem in STEMS:
        assert (STUDENT / "chapters" / f"{stem}.html").exists()
        assert (STUDENT / "exercises" / f"{stem}.html").exists()
    link = re.compile(r'href="[^"]*solutions/[^"]*\.html')
    for page in STUDENT.rglob("*.html"):
        assert not link.search(page.read_text(encoding="utf-8")), f"{page} links to a solutions page"


def test_pages_show_no_errors_or_warnings(builds):
    for page in FULL.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        assert "Warning:" not in text and "UserWarning" not in text, page


def test_landing_page_lists_every_chapter(builds):
    text = (FULL / "intro.html").read_text(encoding="utf-8")
    for stem in STEMS:
        assert f"chapters/{stem}.html" in text


def test_every_page_executes_within_its_budget(builds):
    """The execution cache records how long each page took when it last ran (on this machine).

    The budget is 20 s a page on two quiet cores (tools/book.py's PAGE_BUDGET, shown on the
    execution-statistics page with the verdict); this test fails at twice that, which no
    ordinary load explains.
    """
    latest = book.execution_seconds(ROOT / "_build" / ".jupyter_cache")
    pages = [f"chapters/{s}.md" for s in STEMS] + [f"solutions/{s}.ipynb" for s in STEMS]
    pages.append("back/health_calibration.md")
    limit = 2 * book.PAGE_BUDGET
    for page in pages:
        seconds = latest[page]
        assert seconds is not None and seconds < limit, f"{page} took {seconds:.0f} s to execute"


def test_statistics_page_shows_the_budget(builds):
    text = _text(FULL / "back" / "execution_statistics.html")
    assert f"sum over the {len(STEMS) * 2 + 1} pages" in text
    assert "chapters/" in text and ("within" in text or "over" in text)


def _text(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_each_edition_says_where_the_solutions_are(builds):
    """The student edition never sends readers to a Solutions part it does not have."""
    for page in ("intro", "front/how_to_use", "back/instructors"):
        full, student = _text(FULL / f"{page}.html"), _text(STUDENT / f"{page}.html")
        assert "Solutions part" not in student.replace("the full edition also has a Solutions part", ""), page
    assert "are in the Solutions part" in _text(FULL / "front" / "how_to_use.html")
    assert "This edition of the book has no worked solutions" in _text(STUDENT / "front" / "how_to_use.html")


def test_instructors_guide_lists_every_chapter_and_assignment(builds):
    for folder in (FULL, STUDENT):
        text = _text(folder / "back" / "instructors.html")
        for stem in STEMS:
            assert f"ex{stem[:2]}" in text
        assert "{doc}" not in text and "automatic checks" in text and "by hand" in text


def test_paths_in_the_docs_are_real():
    """Every _build/... path named in the docs is one the tools really write."""
    real = {"_build", "_build/html", "_build/student/_build/html", "_build/.jupyter_cache",
            "_build/html/index.html", "_build/pdf", "_build/pdf/rectified.pdf", "_build/build-record.json",
            "_build/student/_build/build-record.json"}
    docs = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "intro.md", *ROOT.glob("front/*.md"),
            *ROOT.glob("back/*.md")]
    for doc in docs:
        for path in re.findall(r"_build(?:/[\w.-]+)*", doc.read_text(encoding="utf-8")):
            assert path in real, f"{doc.name} names {path}, which no tool writes"
