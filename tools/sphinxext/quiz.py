"""``{quiz-questions}``: a chapter's "Check your understanding", from its quiz file.

Each question is written once, in ``relucourse/quizzes/NN_topic.yml``: the
prompt, the options with their feedback (the quick quiz that the chapter's
``quiz.show(N)`` cell renders) and the worked ``answer``. This directive, placed
under the chapter's "Check your understanding" heading, renders every question
as a sphinx-exercise ``{exercise}`` with its answer in a ``{solution}``
dropdown, labelled ``chN-qK``. The chapter notebooks for Colab get the same
text (tools/chapter_notebooks.py calls :func:`questions_markdown`).
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from relucourse import quiz

#: The directive as it stands in a chapter (opened and closed, no content).
NAME = "quiz-questions"


def quiz_path(chapter: Path | str) -> Path:
    """``chapters/03_derivatives.md`` -> ``relucourse/quizzes/03_derivatives.yml``."""
    return quiz.QUIZ_DIR / (Path(chapter).stem + ".yml")


def questions_markdown(chapter: Path | str) -> str:
    """The MyST text of a chapter's questions: ``{exercise}`` + ``{solution}`` pairs."""
    number = int(Path(chapter).stem[:2])
    if quiz.quiz_file(number) != quiz_path(chapter):
        raise quiz.QuizError(f"no quiz file named like {Path(chapter).name}: {quiz_path(chapter)}")
    blocks = []
    for k, q in enumerate(quiz.load(number), start=1):
        if not q.answer:
            raise quiz.QuizError(f"{quiz_path(chapter).name}: question {q.id} has no 'answer'")
        label = f"ch{number}-q{k}"
        blocks.append(f"```{{exercise}} Question {number}.{k}\n:label: {label}\n:nonumber:\n\n"
                      f"{q.prompt}\n```\n\n"
                      f"```{{solution}} {label}\n:class: dropdown\n\n{q.answer}\n```")
    return "\n\n".join(blocks)


class QuizQuestions(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        chapter = Path(self.env.doc2path(self.env.docname))
        self.env.note_dependency(str(quiz_path(chapter)))
        box = nodes.container()
        lines = StringList(questions_markdown(chapter).splitlines(), source=self.env.docname)
        self.state.nested_parse(lines, self.content_offset, box)
        return box.children


def setup(app):
    app.add_directive(NAME, QuizQuestions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
