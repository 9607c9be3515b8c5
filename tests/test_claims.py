"""The claims page (back/claims.md): every claim links to the book, every chapter's claim is on it.

A claim tested in a chapter is a paragraph starting with ``**Claim: "...``; the
line just above it is its MyST label, ``(claim-<slug>)=``, and the claims page
must link to that label with ``{ref}``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "back" / "claims.md"
VERDICTS = ("true", "false", "half true", "depends")
REF = re.compile(r"\{ref\}`(?:[^`<]*<)?([^`<>]+)>?`")
DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`<>]+)>?`")
LABEL = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$", re.M)


def book_pages() -> list[Path]:
    return [p for folder in ("chapters", "back", "front") for p in sorted((ROOT / folder).glob("*.md"))]


def labels() -> dict[str, Path]:
    found = {}
    for page in book_pages():
        for label in LABEL.findall(page.read_text(encoding="utf-8")):
            found[label] = page
    return found


def chapter_claims() -> list[tuple[Path, int, str, str | None]]:
    """(chapter, line number, claim text, label above it or None) for every **Claim: paragraph."""
    out = []
    for chapter in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md")):
        lines = chapter.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("**Claim:"):
                above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
                match = LABEL.match(above)
                out.append((chapter, i + 1, line, match.group(1) if match else None))
    return out


def entries() -> list[tuple[str, str]]:
    """(heading, body) for every claim on the page: each '### ' section is one claim."""
    text = PAGE.read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.M)[1:]
    return [(part.splitlines()[0].strip(), "\n".join(part.splitlines()[1:]).split("\n## ")[0])
            for part in parts]


def test_the_page_has_the_claims_of_the_issue():
    headings = " | ".join(h.lower() for h, _ in entries())
    for words in ("hahnloser", "saturates", "vanishing gradient", "sparsity", "kink", "never recover",
                  "exploding gradients", "linear model", "always the best", "derivative at 0"):
        assert words in headings, f"no claim about {words!r} on the claims page"


@pytest.mark.parametrize("heading, body", entries(), ids=[h[:40] for h, _ in entries()])
def test_every_claim_has_a_verdict_and_a_link_that_exists(heading, body):
    verdict = re.search(r"\*\*Verdict: ([a-z ]+)\.\*\*", body)
    assert verdict and verdict.group(1) in VERDICTS, f"{heading!r}: no verdict among {VERDICTS}"
    shown = body.split("**Shown in:**")
    assert len(shown) == 2, f"{heading!r}: no 'Shown in:' line"
    refs, docs = REF.findall(shown[1]), DOC.findall(shown[1])
    assert refs or docs, f"{heading!r} links to nothing"
    known = labels()
    for ref in REF.findall(body):
        assert ref in known, f"{heading!r} links to {ref!r}, which is no label in the book"
    for doc in DOC.findall(body):
        assert (PAGE.parent / f"{doc}.md").resolve().exists(), f"{heading!r}: no page {doc!r}"


def test_every_chapter_claim_is_labelled_and_on_the_page():
    claims = chapter_claims()
    assert len(claims) >= 10
    linked = set(REF.findall(PAGE.read_text(encoding="utf-8")))
    for chapter, line, text, label in claims:
        where = f"{chapter.name}:{line} {text[:60]!r}"
        assert label is not None, f"{where}: put a label line (claim-<slug>)= directly above it"
        assert label.startswith("claim-"), f"{where}: its label {label!r} should start with 'claim-'"
        assert label in linked, f"{where}: the claims page (back/claims.md) does not link to {label!r}"


def test_claims_page_and_chapter_6_link_to_each_other():
    page = PAGE.read_text(encoding="utf-8")
    chapter = (ROOT / "chapters" / "06_troubleshooting.md").read_text(encoding="utf-8")
    assert "../chapters/06_troubleshooting" in DOC.findall(page)
    assert "../back/claims" in DOC.findall(chapter)
    assert "claims" in (ROOT / "_toc.yml").read_text(encoding="utf-8")
