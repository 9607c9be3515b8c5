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
prints a plain-text syllabus for instructors. The values are written once, in
the front matter.
"""

from __future__ import annotations

import sys
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


def main(argv: list[str] | None = None) -> int:
    """Print a plain-text syllabus: ``python -m relucourse.syllabus [chapters-folder]``."""
    argv = sys.argv[1:] if argv is None else argv
    folder = argv[0] if argv else "chapters"
    total = 0
    for ch in chapters(folder):
        total += ch.minutes + ch.exercise_minutes
        print(f"{ch.number}. {ch.title}  ({ch.minutes} + {ch.exercise_minutes} min)")
        for o in ch.objectives:
            print(f"   - {o}")
        print(f"   prerequisites: {'; '.join(ch.prerequisites) or 'none'}")
    print(f"Total: about {total / 60:.1f} hours")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
