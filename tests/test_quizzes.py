"""The quick quizzes: every quiz file is well-formed, and the renderer is honest.

Each question has exactly one right option (unless it says ``multiple``),
feedback for every option, and the page shows each option's feedback only
after that option is chosen. The browser side (keyboard, axe) is in
tests/test_explorables.py, which loads the built pages.
"""

from __future__ import annotations

import glob
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from relucourse import quiz

ROOT = Path(__file__).resolve().parent.parent
QUIZ_FILES = sorted((ROOT / "relucourse" / "quizzes").glob("*.yml"))
CHAPTERS = sorted(int(p.name[:2]) for p in QUIZ_FILES)


def test_every_chapter_has_a_quiz_and_its_page_shows_it():
    chapters = sorted(int(Path(p).name[:2]) for p in glob.glob(str(ROOT / "chapters/0*.md")))
    assert set(range(1, 6)) <= set(CHAPTERS)
    for n in CHAPTERS:
        if n not in chapters:                # written ahead of its chapter's merge
            continue
        chapter = next((ROOT / "chapters").glob(f"{n:02d}_*.md"))
        assert f"quiz.show({n})" in chapter.read_text(encoding="utf-8"), \
            f"chapter {n} does not show its quiz"
        assert (ROOT / "relucourse" / "quizzes" / f"{chapter.stem}.yml").is_file(), \
            "a quiz file is named like its chapter"


@pytest.mark.parametrize("path", QUIZ_FILES, ids=lambda p: p.name)
def test_quiz_file_is_well_formed(path):
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = quiz.load(int(path.name[:2]))
    assert len(questions) == len(raw["questions"]) >= 2
    for q in questions:
        right = [o for o in q.options if o.correct]
        assert len(right) == 1 or q.multiple, q.id
        assert len(q.options) >= 3, f"{q.id}: a quick check needs at least two wrong options"
        for o in q.options:
            assert len(o.feedback.split()) >= 5, f"{q.id}: feedback too short for {o.text!r}"
            # the feedback explains; it does not just repeat the verdict
            assert o.feedback.lower() not in {"correct.", "wrong.", "right.", "no."}


def test_ids_are_unique_across_the_book():
    ids = [q.id for n in CHAPTERS for q in quiz.load(n)]
    assert len(ids) == len(set(ids))


def _good():
    return {"questions": [{"id": "q1", "prompt": "Which?", "options": [
        {"text": "a", "correct": True, "feedback": "because a"},
        {"text": "b", "feedback": "b is wrong because"}]}]}


@pytest.mark.parametrize("break_it, message", [
    (lambda d: d["questions"][0]["options"][1].update(correct=True), "exactly one"),
    (lambda d: d["questions"][0]["options"][0].update(correct=False), "exactly one"),
    (lambda d: d["questions"][0]["options"][1].pop("feedback"), "feedback"),
    (lambda d: d["questions"][0]["options"][1].update(feedback="  "), "feedback"),
    (lambda d: d["questions"][0]["options"].pop(), "at least two"),
    (lambda d: d["questions"].append(d["questions"][0]), "duplicate id"),
    (lambda d: d["questions"][0].update(colour="red"), "unknown keys"),
    (lambda d: d["questions"][0]["options"][0].update(correct="yes"), "true or false"),
    (lambda d: d["questions"][0]["options"][1].update(text="a"), "same text"),
    (lambda d: d["questions"][0].update(id="Q 1"), "lower-case"),
    (lambda d: d.pop("questions"), "questions"),
])
def test_bad_quiz_data_is_rejected_with_a_clear_message(break_it, message):
    data = _good()
    quiz.parse(data)                       # the unbroken one is fine
    break_it(data)
    with pytest.raises(quiz.QuizError, match=message):
        quiz.parse(data)


def test_several_right_options_need_multiple():
    data = _good()
    data["questions"][0]["options"][1]["correct"] = True
    data["questions"][0]["multiple"] = True
    (q,) = quiz.parse(data)
    assert q.multiple and 'type="checkbox"' in quiz.Quiz(1, (q,)).to_html()


def test_bad_chapter_numbers_are_rejected():
    for bad in (0, -1, "1", True, 99):
        with pytest.raises(quiz.QuizError):
            quiz.show(bad)


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs, self.labels, self.scripts = [], [], 0
        self._tags = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
        if tag == "label":
            self.labels.append(a.get("for"))
        if tag == "script":
            self.scripts += 1


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_rendered_quiz_is_plain_accessible_html(chapter):
    q = quiz.show(chapter)
    page = q.to_html()
    p = _Collect()
    p.feed(page)
    assert p.scripts == 0, "the quiz works without JavaScript"
    n_options = sum(len(x.options) for x in q.questions)
    assert len(p.inputs) == n_options
    # every input has a label pointing at it, ids unique
    ids = [i["id"] for i in p.inputs]
    assert len(set(ids)) == len(ids) and sorted(ids) == sorted(p.labels)
    # one radio group per question
    assert len({i["name"] for i in p.inputs}) == len(q.questions)
    # feedback: one per option, right ones marked right
    assert page.count('class="rq-feedback rq-right"') == sum(
        o.correct for x in q.questions for o in x.options)
    assert page.count("class=\"rq-feedback ") == n_options
    # the CSS hides feedback until its option is checked
    assert re.search(r"\.rq-feedback > p \{ display: none;", page)
    assert "input:checked ~ .rq-feedback > p { display: block; }" in page
    # text fallback (PDF) lists the answers
    assert q.to_text().count("Answer:") == len(q.questions)


def test_text_is_escaped_and_code_marked():
    data = _good()
    data["questions"][0]["prompt"] = "Is `a < b` <b>bold</b>?"
    (q,) = quiz.parse(data)
    page = quiz.Quiz(1, (q,)).to_html()
    assert "<code>a &lt; b</code> &lt;b&gt;bold&lt;/b&gt;?" in page
    data["questions"][0]["prompt"] = "unbalanced `tick"
    (q,) = quiz.parse(data)
    with pytest.raises(quiz.QuizError, match="backticks"):
        quiz.Quiz(1, (q,)).to_html()


def _right_positions() -> list[int]:
    return [next(k for k, o in enumerate(q.shown()) if o.correct)
            for n in CHAPTERS for q in quiz.load(n)]


def test_the_right_option_is_not_always_in_the_same_place():
    # The files are written with the right option first (easy to review); the
    # reader sees them shuffled, so the place of an option gives nothing away.
    positions = _right_positions()
    assert len(positions) >= 15
    assert len(set(positions)) >= 3, positions
    assert positions.count(0) <= len(positions) // 2, positions
    # the text fallback (the PDF) names different letters, not "a" for all
    letters = re.findall(r"Answer: (\w)", "\n".join(quiz.show(n).to_text() for n in CHAPTERS))
    assert len(letters) == len(positions) and len(set(letters)) >= 3, letters


def test_the_shown_order_is_fixed_and_complete():
    import subprocess
    import sys

    for n in CHAPTERS:
        for q in quiz.load(n):
            assert sorted(o.text for o in q.shown()) == sorted(o.text for o in q.options)
            assert q.shown() == q.shown()
    # the same order in another process with another hash seed (no use of hash())
    code = ("from relucourse import quiz; print([[o.text for o in q.shown()] "
            f"for n in {CHAPTERS} for q in quiz.load(n)])")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1
    # the page and the text list the options in the shown order
    q = quiz.load(CHAPTERS[0])[0]
    page = quiz.Quiz(CHAPTERS[0], (q,)).to_html()
    where = [page.index(f">{quiz._inline(o.text)}</label>") for o in q.shown()]
    assert where == sorted(where)


# --- one source: the chapter's "Check your understanding" is drawn from the quiz file ---------

def _section(chapter: Path) -> str:
    text = chapter.read_text(encoding="utf-8")
    start = text.index("## Check your understanding")
    return text[start:text.index("\n## ", start + 1)]


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("0*.md")), ids=lambda p: p.stem)
def test_each_question_is_written_once(chapter):
    from tools.sphinxext import quiz as directive

    section = _section(chapter)
    # the questions come from the quiz file, none is written in the chapter as well
    assert "```{quiz-questions}\n```" in section
    assert "{exercise}" not in section and "{solution}" not in section
    questions = quiz.load(int(chapter.name[:2]))
    assert all(q.answer for q in questions), "every question has its worked answer"
    text = directive.questions_markdown(chapter)
    for k, q in enumerate(questions, start=1):
        label = f"ch{int(chapter.name[:2])}-q{k}"
        assert f":label: {label}\n:nonumber:\n\n{q.prompt}\n```" in text
        assert f"```{{solution}} {label}\n:class: dropdown\n\n{q.answer}\n```" in text


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("0*.md")), ids=lambda p: p.stem)
def test_the_colab_notebook_shows_every_question_with_its_answer(chapter):
    from tools import chapter_notebooks

    nb = chapter_notebooks.make_notebook(chapter)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{quiz-questions}" not in text
    n = int(chapter.name[:2])
    for k, q in enumerate(quiz.load(n), start=1):
        assert f"**Question {n}.{k}.** {q.prompt}" in text
        assert f"<details>\n<summary>Answer</summary>\n\n{q.answer}\n\n</details>" in text


def test_the_directive_renders_exercises_and_dropdowns_in_sphinx(tmp_path):
    """A two-page Sphinx project with the book's MyST set-up and the directive."""
    from sphinx.application import Sphinx

    (tmp_path / "chapters").mkdir()
    (tmp_path / "conf.py").write_text(
        "extensions = ['myst_parser', 'sphinx_exercise', 'tools.sphinxext.quiz']\n"
        "myst_enable_extensions = ['amsmath', 'colon_fence', 'dollarmath']\n"
        "exclude_patterns = ['_build']\n", encoding="utf-8")
    (tmp_path / "index.md").write_text("# Book\n\n```{toctree}\nchapters/03_derivatives\n```\n",
                                       encoding="utf-8")
    (tmp_path / "chapters" / "03_derivatives.md").write_text(
        "# Derivatives\n\n## Check your understanding\n\n```{quiz-questions}\n```\n", encoding="utf-8")
    out = tmp_path / "_build"
    app = Sphinx(str(tmp_path), str(tmp_path), str(out), str(out / ".doctrees"), "html",
                 status=None, warningiserror=True, freshenv=True)
    app.build()
    page = (out / "chapters" / "03_derivatives.html").read_text(encoding="utf-8")
    questions = quiz.load(3)
    assert page.count('class="exercise admonition"') == len(questions)
    assert page.count('class="solution dropdown admonition"') == len(questions)
    for k, q in enumerate(questions, start=1):
        assert f'id="ch3-q{k}"' in page
        assert f"Question 3.{k}" in page
    assert "0.0707" in page and r"\sqrt{2/400}" in page   # an answer's text and its formula
