"""Chapter metadata for readers and instructors, read from each chapter's front matter.

Every chapter page (``chapters/NN_topic.md``) carries a ``course`` block in its
YAML front matter::

    course:
      objectives: [Compute ..., Derive ..., ...]   # 3-6, each starting with a verb
      prerequisites: ["{doc}`01_why_activations`", "basic NumPy"]
      minutes: 60            # reading and running the chapter
      exercise_minutes: 45   # the exercise notebook

The book shows it through the directives of tools/sphinxext/syllabus.py: a box
under each chapter's title (``{course-header}``), the table of chapters on the
landing page (``{chapter-table}``), and the instructor's guide's tables
(``{syllabus-table}``, ``{assignment-table}``); ``python -m tools syllabus``
prints a syllabus for instructors (plain text, ``--format markdown`` or
``--format csv``). The values are written once, in
the front matter.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools.myst import roles_as_text


@dataclass(frozen=True)
class Chapter:
    """The metadata of one chapter page."""

    path: Path
    title: str
    objectives: tuple[str, ...]
    prerequisites: tuple[str, ...]
    minutes: int
    exercise_minutes: int

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def number(self) -> int:
        return int(self.stem.split("_", 1)[0])


def read_chapter(path: str | Path) -> Chapter:
    """Parse a chapter's front matter and title (its first ``# `` heading)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{path} has no YAML front matter")
    header, body = text[4:].split("\n---\n", 1)
    meta = yaml.safe_load(header) or {}
    course = meta.get("course")
    if not course:
        raise ValueError(f"{path}: front matter has no 'course' block")
    title = next((line[2:].strip() for line in body.splitlines() if line.startswith("# ")), path.stem)
    objectives = tuple(course.get("objectives", ()))
    if not 3 <= len(objectives) <= 6:
        raise ValueError(f"{path}: expected 3 to 6 learning objectives, found {len(objectives)}")
    return Chapter(path, title, objectives, tuple(course.get("prerequisites", ())),
                   int(course["minutes"]), int(course["exercise_minutes"]))


def chapters(folder: str | Path = "chapters") -> list[Chapter]:
    """All chapters in ``folder``, in numeric order."""
    return [read_chapter(p) for p in sorted(Path(folder).glob("[0-9][0-9]_*.md"))]


def header_markdown(chapter: Chapter) -> str:
    """The MyST text of a chapter's "at a glance" box."""
    lines = [":::{admonition} At a glance", ":class: tip", "",
             "**After this chapter you can:**", ""]
    lines += [f"- {o}" for o in chapter.objectives]
    prereq = "; ".join(chapter.prerequisites) if chapter.prerequisites else "none"
    lines += ["", f"**Prerequisites:** {prereq}.", "",
              f"**Time:** about {chapter.minutes} minutes to read and run, plus about "
              f"{chapter.exercise_minutes} minutes for the {{doc}}`exercises <../exercises/{chapter.stem}>`.",
              ":::"]
    return "\n".join(lines)


def table_markdown(chapter_list: list[Chapter], *, link_prefix: str = "chapters/") -> str:
    """A MyST list-table of chapters: title (linked), objectives, time."""
    rows = [":::{list-table}", ":header-rows: 1", ":widths: 30 55 15", "",
            "* - Chapter", "  - After it you can", "  - Time (read + exercises)"]
    for ch in chapter_list:
        rows.append(f"* - {ch.number}\\. {{doc}}`{ch.title} <{link_prefix}{ch.stem}>`")
        rows.append(f"  - - {ch.objectives[0]}")
        rows += [f"    - {o}" for o in ch.objectives[1:]]
        rows.append(f"  - {ch.minutes} + {ch.exercise_minutes} min")
    rows.append(":::")
    return "\n".join(rows)


@dataclass(frozen=True)
class Exercise:
    """One exercise of a solutions notebook, as an instructor assigns it."""

    number: str          # "1.2"
    title: str
    stars: int           # difficulty, 1 to 3
    automatic: float     # points from check cells (nbgrader autograder tests)
    by_hand: float       # points from written answers (graded by hand)

    @property
    def grading(self) -> str:
        """How the exercise is graded, in words."""
        parts = []
        if self.automatic:
            parts.append(f"automatic checks, {self.automatic:g} point{'s' * (self.automatic != 1)}")
        if self.by_hand:
            parts.append(f"written answer graded by hand, {self.by_hand:g} point{'s' * (self.by_hand != 1)}")
        return "; ".join(parts) or "not graded"


_EXERCISE = re.compile(r"^## Exercise (?P<number>\d+\.\d+)\s+(?P<stars>★+)\s+(?P<title>.+)$", re.MULTILINE)


def exercises(path: str | Path) -> list[Exercise]:
    """The exercises of a solutions notebook with their nbgrader points.

    An exercise starts at a Markdown heading ``## Exercise N.K ★★ Title``; the
    points of the graded cells that follow it (nbgrader metadata, as set by
    :mod:`tools.authoring`) are added up until the next exercise.
    """
    import nbformat

    nb = nbformat.read(Path(path), as_version=4)
    found: list[dict] = []
    for cell in nb.cells:
        heading = _EXERCISE.search(cell.source) if cell.cell_type == "markdown" else None
        if heading:
            found.append({"number": heading["number"], "title": heading["title"].strip(),
                          "stars": len(heading["stars"]), "automatic": 0.0, "by_hand": 0.0})
            continue
        meta = cell.metadata.get("nbgrader", {})
        if found and meta.get("grade"):
            kind = "automatic" if cell.cell_type == "code" else "by_hand"
            found[-1][kind] += float(meta.get("points", 0))
    return [Exercise(**e) for e in found]


def assignments_markdown(solutions: str | Path = "solutions", chapters_folder: str | Path = "chapters") -> str:
    """A MyST list-table of the suggested assignments: one per solutions notebook.

    Per chapter: the nbgrader assignment id (``exNN``), every exercise with its
    difficulty and how it is graded, the chapter's exercise time from its
    front matter, and the points.
    """
    by_stem = {ch.stem: ch for ch in chapters(chapters_folder)}
    rows = [":::{list-table}", ":header-rows: 1", ":widths: 18 62 20", "",
            "* - Assignment", "  - Exercises (difficulty; how graded)", "  - Effort and points"]
    for path in sorted(Path(solutions).glob("[0-9][0-9]_*.ipynb")):
        found = exercises(path)
        chapter = by_stem.get(path.stem)
        name = f"{chapter.number}. {chapter.title}" if chapter else path.stem
        rows.append(f"* - `ex{path.name[:2]}`: {name}")
        if found:
            rows.append(f"  - - {found[0].number} {'★' * found[0].stars} {found[0].title} ({found[0].grading})")
            rows += [f"    - {e.number} {'★' * e.stars} {e.title} ({e.grading})" for e in found[1:]]
        else:
            rows.append("  - (no exercises found)")
        auto = sum(e.automatic for e in found)
        hand = sum(e.by_hand for e in found)
        effort = f"about {chapter.exercise_minutes} min; " if chapter else ""
        rows.append(f"  - {effort}{auto:g} automatic + {hand:g} by hand")
    rows.append(":::")
    return "\n".join(rows)


def syllabus_table_markdown(folder: str | Path = "chapters", *, link_folder: str | None = None) -> str:
    """A MyST list-table of objectives, prerequisites and times of every chapter.

    Titles link to the chapters in ``link_folder`` (a path relative to the
    page; default ``folder``). Prerequisites and objectives are shown as plain
    text, because their ``{doc}`` links are relative to the chapters' folder.
    """
    chapter_list = chapters(folder)
    rows = [":::{list-table}", ":header-rows: 1", ":widths: 22 48 30", "",
            "* - Chapter and time", "  - Objectives", "  - Prerequisites"]
    for ch in chapter_list:
        link = f"{{doc}}`{ch.title} <{link_folder or Path(folder).as_posix()}/{ch.stem}>`"
        rows.append(f"* - {ch.number}\\. {link} ({ch.minutes} + {ch.exercise_minutes} min)")
        rows.append(f"  - - {plain_text(ch.objectives[0], chapter_list)}")
        rows += [f"    - {plain_text(o, chapter_list)}" for o in ch.objectives[1:]]
        prereqs = [plain_text(p, chapter_list) for p in ch.prerequisites] or ["none"]
        rows.append(f"  - - {prereqs[0]}")
        rows += [f"    - {p}" for p in prereqs[1:]]
    rows.append(":::")
    return "\n".join(rows)


def plain_text(text: str, chapter_list: list[Chapter] = ()) -> str:
    """Replace MyST roles by what a reader sees.

    ``{doc}`02_relu_function``` becomes "chapter 2 (ReLU, the function)" when
    that chapter is in ``chapter_list`` (its own title otherwise the target),
    ``{doc}`the text <target>``` becomes "the text", and any other role
    (``{term}``, ``{cite:t}``, ...) becomes its text.

    >>> plain_text("{term}`ReLU` and {doc}`the basics <01_x>`")
    'ReLU and the basics'
    """
    names = {ch.stem: f"chapter {ch.number} ({ch.title})" for ch in chapter_list}

    def doc(target: str, shown: str | None) -> str:
        return shown if shown is not None else names.get(Path(target).name, target)

    return roles_as_text(text, doc=doc)


def syllabus_text(chapter_list: list[Chapter], width: int = 79) -> str:
    """A plain-text syllabus: per chapter its title, time, objectives and prerequisites."""
    lines, total = [], 0
    for ch in chapter_list:
        total += ch.minutes + ch.exercise_minutes
        lines.append(f"{ch.number}. {ch.title}")
        lines.append(f"   Time: about {ch.minutes} min to read and run + {ch.exercise_minutes} min of exercises")
        lines += [textwrap.fill(plain_text(o, chapter_list), width, initial_indent="   - ",
                                subsequent_indent="     ") for o in ch.objectives]
        # One prerequisite a line: each starts with a capital, so joined into a
        # sentence they would read oddly ("...functions; Matrix-vector ...").
        if ch.prerequisites:
            lines.append("   Prerequisites:")
            lines += [textwrap.fill(plain_text(p, chapter_list), width, initial_indent="     * ",
                                    subsequent_indent="       ") for p in ch.prerequisites]
        else:
            lines.append("   Prerequisites: none")
    lines.append(f"Total: about {total / 60:.1f} hours ({len(chapter_list)} chapters)")
    return "\n".join(lines)


def syllabus_markdown(chapter_list: list[Chapter]) -> str:
    """The syllabus as a Markdown document (plain Markdown, no MyST roles)."""
    total = sum(ch.minutes + ch.exercise_minutes for ch in chapter_list)
    lines = ["# Syllabus", "",
             f"{len(chapter_list)} chapters, about {total / 60:.1f} hours in all "
             "(reading and running the chapters, plus the exercises).", ""]
    for ch in chapter_list:
        lines += [f"## {ch.number}. {ch.title}", "",
                  f"*Time:* about {ch.minutes} minutes to read and run, "
                  f"plus {ch.exercise_minutes} minutes of exercises.", "",
                  "*Prerequisites:*" + ("" if ch.prerequisites else " none."), ""]
        if ch.prerequisites:
            lines += [f"- {plain_text(p, chapter_list)}" for p in ch.prerequisites] + [""]
        lines += ["*After this chapter you can:*", ""]
        lines += [f"- {plain_text(o, chapter_list)}" for o in ch.objectives]
        lines.append("")
    return "\n".join(lines)


def syllabus_csv(chapter_list: list[Chapter]) -> str:
    """The syllabus as CSV: one row per chapter; objectives and prerequisites joined by " | "."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["chapter", "title", "minutes", "exercise_minutes", "objectives", "prerequisites"])
    for ch in chapter_list:
        writer.writerow([ch.number, ch.title, ch.minutes, ch.exercise_minutes,
                         " | ".join(plain_text(o, chapter_list) for o in ch.objectives),
                         " | ".join(plain_text(p, chapter_list) for p in ch.prerequisites)])
    return buffer.getvalue()


FORMATS = {"text": syllabus_text, "markdown": syllabus_markdown, "csv": syllabus_csv}


def default_folder() -> Path:
    """``chapters`` in the current folder if there is one, else the repository's.

    The repository is the folder that holds ``tools/``, so the command also
    works from a subfolder such as ``nbgrader-course/``.
    """
    here = Path("chapters")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "chapters"


def main(argv: list[str] | None = None) -> int:
    """Print a syllabus: ``python -m tools syllabus [chapters-folder] [--format text|markdown|csv]``."""
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a list of strings")
    parser = argparse.ArgumentParser(
        prog="python -m tools syllabus",
        description="Print the course syllabus (objectives, prerequisites and times of every chapter), "
                    "read from the chapters' front matter.")
    parser.add_argument("folder", nargs="?", default=None,
                        help="the folder with the chapter pages NN_topic.md (default: chapters/ in "
                             "the current folder, else the course repository's chapters/)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="plain text (default), a Markdown document or CSV")
    args = parser.parse_args(argv)
    folder = Path(args.folder) if args.folder is not None else default_folder()
    if not folder.is_dir():
        parser.error(f"no such folder: {folder}")
    try:
        chapter_list = chapters(folder)
    except ValueError as exc:
        parser.error(str(exc))
    if not chapter_list:
        parser.error(f"no chapter pages (NN_topic.md) in {folder}")
    sys.stdout.write(FORMATS[args.format](chapter_list).rstrip("\n") + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
