"""Chapter metadata for readers and instructors, read from each chapter's front matter.

Every chapter page (``chapters/NN_topic.md``) carries a ``course`` block in its
YAML front matter::

    course:
      objectives: [Compute ..., Derive ..., ...]   # 3-6, each starting with a verb
      prerequisites: ["{doc}`01_why_activations`", "basic NumPy"]
      minutes: 60            # reading and running the chapter
      exercise_minutes: 45   # the exercise notebook

The chapter shows it in a box (:func:`chapter_header`), the landing page lists
all chapters (:func:`chapter_table`), and ``python -m relucourse.syllabus``
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


def _markdown(text: str):
    from IPython.display import Markdown

    return Markdown(text)


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


def chapter_header(filename: str | Path):
    """Display the "at a glance" box of the chapter in ``filename`` (run from ``chapters/``)."""
    return _markdown(header_markdown(read_chapter(filename)))


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


def chapter_table(folder: str | Path = "chapters"):
    """Display the table of all chapters (used on the landing page)."""
    return _markdown(table_markdown(chapters(folder)))


_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")


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

    def replace(match: re.Match) -> str:
        body = match.group("body")
        explicit = re.fullmatch(r"(?P<text>.*?)\s*<(?P<target>[^>]*)>", body, re.DOTALL)
        if explicit:
            return explicit.group("text")
        if match.group("role") == "doc":
            return names.get(Path(body).name, body)
        return body

    return _ROLE.sub(replace, text)


def syllabus_text(chapter_list: list[Chapter], width: int = 79) -> str:
    """A plain-text syllabus: per chapter its title, time, objectives and prerequisites."""
    lines, total = [], 0
    for ch in chapter_list:
        total += ch.minutes + ch.exercise_minutes
        lines.append(f"{ch.number}. {ch.title}")
        lines.append(f"   Time: about {ch.minutes} min to read and run + {ch.exercise_minutes} min of exercises")
        lines += [textwrap.fill(plain_text(o, chapter_list), width, initial_indent="   - ",
                                subsequent_indent="     ") for o in ch.objectives]
        prereq = "; ".join(plain_text(p, chapter_list) for p in ch.prerequisites) or "none"
        lines.append(textwrap.fill(f"Prerequisites: {prereq}", width, initial_indent="   ",
                                   subsequent_indent="     "))
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
                  "*Prerequisites:* "
                  + ("; ".join(plain_text(p, chapter_list) for p in ch.prerequisites) or "none") + ".", "",
                  "*After this chapter you can:*", ""]
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


def main(argv: list[str] | None = None) -> int:
    """Print a syllabus: ``python -m relucourse.syllabus [chapters-folder] [--format text|markdown|csv]``."""
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a list of strings")
    parser = argparse.ArgumentParser(
        prog="python -m relucourse.syllabus",
        description="Print the course syllabus (objectives, prerequisites and times of every chapter), "
                    "read from the chapters' front matter.")
    parser.add_argument("folder", nargs="?", default="chapters",
                        help="the folder with the chapter pages NN_topic.md (default: chapters)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="plain text (default), a Markdown document or CSV")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
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
