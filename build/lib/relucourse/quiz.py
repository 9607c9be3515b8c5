"""Quick quizzes: multiple-choice questions with feedback on every option.

The questions live as data in ``relucourse/quizzes/NN_topic.yml`` (one file
per chapter, named like ``chapters/NN_topic.md``; package data, so a chapter
notebook opened in Colab finds its quiz). :func:`show` renders a chapter's
quiz as plain HTML and CSS: radio buttons (check boxes where a question has
several right options) whose feedback appears as soon as an option is
chosen. There is no JavaScript at all, so the quiz works in the static,
offline book, in JupyterLab and in Colab, and with the keyboard (Tab to a
question, arrow keys between options). Without HTML (the PDF) the quiz
prints as text with the answers listed.

The options are shown in an order fixed by the question's id and the
options' texts (:meth:`Question.shown`), not in the file's order, so that an
author can write the right option first and a reader cannot guess it by its
place. The order is the same on every run and every machine.

File format::

    chapter: 1
    questions:
      - id: ch1-rank
        prompt: A network has layers of widths ...
        answer: |-               # the model answer (MyST Markdown, formulas allowed)
          3. The network computes $W_3 W_2 W_1$, ...
        multiple: false          # optional; true allows several right options
        options:
          - text: "3"
            correct: true
            feedback: Why this is right.
          - text: "10"
            feedback: The misconception this answer reveals.

Prompts, options and feedback may contain `inline code` in backticks;
everything else is escaped. The ``answer`` is not part of the quiz: it is the
worked answer that the chapter's "Check your understanding" shows under each
question, in a dropdown, rendered at build time from this same file (the
directive ``{quiz-questions}``, tools/sphinxext/quiz.py), so a question is
written once.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Option", "Question", "Quiz", "QuizError", "QUIZ_DIR", "load", "show"]

#: Where the quiz files are: ``relucourse/quizzes/``, package data, so that a
#: chapter notebook opened in Colab (with the package installed) shows its quiz.
QUIZ_DIR = Path(__file__).resolve().parent / "quizzes"


class QuizError(ValueError):
    """A quiz file that does not follow the format."""


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool
    feedback: str


@dataclass(frozen=True)
class Question:
    id: str
    prompt: str
    options: tuple[Option, ...]
    multiple: bool = False
    answer: str = ""

    def shown(self) -> tuple[Option, ...]:
        """The options in the order a reader sees them.

        Sorted by a hash of the question's id and each option's text: a fixed,
        per-question shuffle that does not depend on the file's order (where
        the right option is often first), on Python's hash seed or on the
        machine. Editing an option's text may move it.
        """
        def key(option: Option) -> str:
            return hashlib.sha256(f"{self.id}\0{option.text}".encode("utf-8")).hexdigest()
        return tuple(sorted(self.options, key=key))


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QuizError(f"{where}: expected non-empty text, got {value!r}")
    return " ".join(value.split())


def parse(data: dict, source: str = "quiz") -> list[Question]:
    """Check one quiz file's content and return its questions."""
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuizError(f"{source}: needs a top-level 'questions' list")
    questions, seen = [], set()
    for n, q in enumerate(data["questions"], start=1):
        where = f"{source}, question {n}"
        if not isinstance(q, dict):
            raise QuizError(f"{where}: expected a mapping")
        unknown = set(q) - {"id", "prompt", "options", "multiple", "answer"}
        if unknown:
            raise QuizError(f"{where}: unknown keys {sorted(unknown)}")
        qid = _text(q.get("id"), f"{where} id")
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", qid):
            raise QuizError(f"{where}: id {qid!r} must be lower-case letters, digits, '-'")
        if qid in seen:
            raise QuizError(f"{where}: duplicate id {qid!r}")
        seen.add(qid)
        multiple = q.get("multiple", False)
        if not isinstance(multiple, bool):
            raise QuizError(f"{where}: 'multiple' must be true or false")
        raw = q.get("options")
        if not isinstance(raw, list) or len(raw) < 2:
            raise QuizError(f"{where}: needs at least two options")
        options = []
        for k, o in enumerate(raw, start=1):
            ow = f"{where}, option {k}"
            if not isinstance(o, dict) or set(o) - {"text", "correct", "feedback"}:
                raise QuizError(f"{ow}: expected text, correct (optional), feedback")
            correct = o.get("correct", False)
            if not isinstance(correct, bool):
                raise QuizError(f"{ow}: 'correct' must be true or false")
            options.append(Option(_text(o.get("text"), f"{ow} text"), correct,
                                  _text(o.get("feedback"), f"{ow} feedback")))
        n_right = sum(o.correct for o in options)
        if not multiple and n_right != 1:
            raise QuizError(f"{where}: exactly one option must be correct, found {n_right}"
                            " (set 'multiple: true' for several)")
        if multiple and n_right < 1:
            raise QuizError(f"{where}: no option is correct")
        texts = [o.text for o in options]
        if len(set(texts)) != len(texts):
            raise QuizError(f"{where}: two options have the same text")
        answer = q.get("answer", "")
        if not isinstance(answer, str):
            raise QuizError(f"{where}: 'answer' must be text")
        questions.append(Question(qid, _text(q.get("prompt"), f"{where} prompt"),
                                  tuple(options), multiple, answer.strip()))
    if not questions:
        raise QuizError(f"{source}: no questions")
    return questions


def quiz_file(chapter: int) -> Path:
    """The quiz file of chapter ``chapter`` (``quizzes/NN_*.yml``)."""
    if isinstance(chapter, bool) or not isinstance(chapter, int) or chapter < 1:
        raise QuizError(f"chapter must be a positive integer, got {chapter!r}")
    found = sorted(QUIZ_DIR.glob(f"{chapter:02d}_*.yml"))
    if len(found) != 1:
        raise QuizError(f"expected one quiz file {QUIZ_DIR}/{chapter:02d}_*.yml, "
                        f"found {len(found)}")
    return found[0]


def load(chapter: int) -> list[Question]:
    """Read and check chapter ``chapter``'s questions."""
    path = quiz_file(chapter)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and data.get("chapter") != chapter:
        raise QuizError(f"{path.name}: says chapter {data.get('chapter')!r}, not {chapter}")
    return parse(data, path.name)


def _inline(text: str) -> str:
    """Escape text; `backticks` become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        raise QuizError(f"unbalanced backticks in {text!r}")
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p)
                   for i, p in enumerate(parts))


_CSS = """
.relucourse-quiz { margin: 1em 0; }
.relucourse-quiz fieldset { border: 1px solid var(--pst-color-border, #ccc);
  border-radius: .4em; padding: .6em 1em .8em; margin: 0 0 1em; }
.relucourse-quiz legend { padding: 0 .3em; font-size: 1em; line-height: 1.5;
  float: none; width: auto; margin: 0; }
.relucourse-quiz .rq-num { font-weight: 600; }
.relucourse-quiz .rq-option { margin: .35em 0; }
.relucourse-quiz .rq-option input { margin-right: .5em; }
.relucourse-quiz .rq-option label { display: inline; cursor: pointer; }
.relucourse-quiz .rq-feedback > p { display: none; margin: .3em 0 .5em 1.6em;
  padding: .3em .6em; border-left: .3em solid; }
.relucourse-quiz .rq-option input:checked ~ .rq-feedback > p { display: block; }
.relucourse-quiz .rq-right > p { border-color: var(--pst-color-success, #1a7f37); }
.relucourse-quiz .rq-wrong > p { border-color: var(--pst-color-danger, #c62828); }
.relucourse-quiz .rq-hint { font-size: .9em; margin: 0 0 .4em; }
@media print { .relucourse-quiz { display: none; } }
"""


@dataclass(frozen=True)
class Quiz:
    chapter: int
    questions: tuple[Question, ...]

    def to_html(self) -> str:
        out = [f'<div class="relucourse-quiz" id="quiz-ch{self.chapter}">',
               f"<style>{_CSS}</style>"]
        for n, q in enumerate(self.questions, start=1):
            kind = "checkbox" if q.multiple else "radio"
            qid = html.escape(q.id)
            hint = ("Choose every right answer; feedback appears under each choice."
                    if q.multiple else "Choose one; feedback appears under your choice.")
            out.append(
                f'<fieldset class="rq-question" id="quiz-{qid}">'
                f'<legend><span class="rq-num">Quick check {self.chapter}.{n}.'
                f'</span> {_inline(q.prompt)}</legend>'
                f'<p class="rq-hint">{hint}</p>')
            for k, o in enumerate(q.shown()):
                oid = f"quiz-{qid}-{k}"
                verdict = "Right." if o.correct else "Not quite."
                out.append(
                    f'<div class="rq-option"><input type="{kind}" name="quiz-{qid}" '
                    f'id="{oid}" value="{k}"><label for="{oid}">{_inline(o.text)}'
                    f'</label><div class="rq-feedback '
                    f'{"rq-right" if o.correct else "rq-wrong"}" aria-live="polite">'
                    f"<p><strong>{verdict}</strong> {_inline(o.feedback)}</p></div></div>")
            out.append("</fieldset>")
        out.append("</div>")
        return "".join(out)

    def to_text(self) -> str:
        lines = []
        for n, q in enumerate(self.questions, start=1):
            lines.append(f"Quick check {self.chapter}.{n}: {q.prompt}")
            shown = q.shown()
            for k, o in enumerate(shown):
                lines.append(f"  {'abcdefgh'[k]}) {o.text}")
            right = ", ".join("abcdefgh"[k] for k, o in enumerate(shown) if o.correct)
            lines.append(f"  Answer: {right}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return self.to_text()


def show(chapter: int) -> Quiz:
    """Chapter ``chapter``'s quiz, ready to display in a notebook or the book."""
    return Quiz(chapter, tuple(load(chapter)))
