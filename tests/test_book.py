"""Both editions of the book build with Sphinx warnings as errors (using the execution cache).

The README's first command already built the full edition from scratch; here both
editions are built again (fast: nothing is re-executed unless code changed) and
their contents checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "_build" / "html"
STUDENT = ROOT / "_build" / "student" / "_build" / "html"
STEMS = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))


def _build(*extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "book.py"), "build", *extra], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def builds():
    full, student = _build(), _build("--student")
    return full, student


def test_full_edition_builds_without_warnings(builds):
    full, _ = builds
    assert full.returncode == 0, full.stdout[-3000:] + full.stderr[-3000:]
    for folder in ("chapters", "exercises", "solutions"):
        for stem in STEMS:
            assert (FULL / folder / f"{stem}.html").exists(), f"{folder}/{stem}.html missing"
    for page in ("intro", "front/how_to_use", "back/glossary", "back/bibliography", "back/execution_statistics"):
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


def test_every_page_executes_in_under_a_minute(builds):
    """The execution cache records how long each page took when it last ran (on this machine)."""
    from jupyter_cache import get_cache

    latest: dict[str, tuple] = {}
    for record in get_cache(str(ROOT / "_build" / ".jupyter_cache")).list_cache_records():
        if record.uri not in latest or record.created > latest[record.uri][0]:
            latest[record.uri] = (record.created, record.data.get("execution_seconds"))
    pages = [f"chapters/{s}.md" for s in STEMS] + [f"solutions/{s}.ipynb" for s in STEMS]
    for page in pages:
        created, seconds = latest[str(ROOT / page)]
        assert seconds is not None and seconds < 60, f"{page} took {seconds:.0f} s to execute"
