"""Directives that show the chapters' front matter (tools/syllabus.py) in the book.

``{course-header}``   under a chapter's title: objectives, prerequisites, time.
``{chapter-table}``   the landing page's table of chapters.
``{syllabus-table}``  the instructor's guide: objectives, prerequisites, times.
``{assignment-table}`` the instructor's guide: one nbgrader assignment per chapter.

Each renders the MyST text that tools/syllabus.py writes, at build time: no
notebook kernel runs for it, and the chapter notebooks for Colab render the
same header as text (tools/chapter_notebooks.py). A page that uses one is read
again when a chapter's front matter (or a solutions notebook) changes.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from tools import syllabus

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS, SOLUTIONS = ROOT / "chapters", ROOT / "solutions"


class _MystTable(SphinxDirective):
    """Parse the MyST text of :meth:`text` in place of the directive."""

    has_content = False

    def text(self) -> str:
        raise NotImplementedError

    def depends_on(self) -> list[Path]:
        return sorted(CHAPTERS.glob("[0-9][0-9]_*.md"))

    def run(self) -> list[nodes.Node]:
        for path in self.depends_on():
            self.env.note_dependency(str(path))
        box = nodes.container()
        lines = StringList(self.text().splitlines(), source=self.env.docname)
        self.state.nested_parse(lines, self.content_offset, box)
        return box.children

    def relative(self, folder: Path) -> str:
        """``folder`` as a path relative to the page that holds the directive."""
        page = Path(self.env.doc2path(self.env.docname)).parent
        return Path(*([".."] * len(page.relative_to(ROOT).parts)), folder.relative_to(ROOT)).as_posix()


class CourseHeader(_MystTable):
    def depends_on(self) -> list[Path]:
        return [Path(self.env.doc2path(self.env.docname))]

    def text(self) -> str:
        return syllabus.header_markdown(syllabus.read_chapter(self.depends_on()[0]))


class ChapterTable(_MystTable):
    def text(self) -> str:
        return syllabus.table_markdown(syllabus.chapters(CHAPTERS),
                                       link_prefix=self.relative(CHAPTERS) + "/")


class SyllabusTable(_MystTable):
    def text(self) -> str:
        return syllabus.syllabus_table_markdown(CHAPTERS, link_folder=self.relative(CHAPTERS))


class AssignmentTable(_MystTable):
    def depends_on(self) -> list[Path]:
        return super().depends_on() + sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))

    def text(self) -> str:
        return syllabus.assignments_markdown(SOLUTIONS, CHAPTERS)


def setup(app):
    app.add_directive("course-header", CourseHeader)
    app.add_directive("chapter-table", ChapterTable)
    app.add_directive("syllabus-table", SyllabusTable)
    app.add_directive("assignment-table", AssignmentTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
