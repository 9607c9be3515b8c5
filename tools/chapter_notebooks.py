"""Chapters as runnable notebooks, for the launch buttons (Colab, Binder).

    .venv/bin/python -m tools regen            # also writes notebooks/NN_topic.ipynb
    .venv/bin/python -m tools regen --check    # exit 1 if any is out of date

The chapters are MyST Markdown notebooks (``chapters/NN_topic.md``), which Colab
cannot open. This writes a Jupyter notebook copy of each, ``notebooks/NN_topic.ipynb``,
which the chapter pages' launch buttons open (see ``tools/sphinxext/launch.py``):

* the chapter's cells as jupytext reads them, without outputs;
* the same first code cell as the exercise notebooks, the set-up cell of
  :func:`tools.authoring.setup_cell_source` (installs the course package
  in Colab or Binder), right after the title;
* the chapter's "at a glance" box (the ``{course-header}`` directive) written
  out from the front matter (tools/syllabus.py), and its "Check your
  understanding" questions (``{quiz-questions}``) from its quiz file
  (tools/sphinxext/quiz.py), as the book shows them;
* the book's MyST markup in the text rewritten as plain Markdown that Jupyter
  and Colab render: citations as "He et al. (2015)" / "(He et al., 2015)" (the
  book's labels), glossary terms and page references as their text, questions
  with their answers folded (``<details>``), admonitions as bold titles;
* deterministic cell ids, so that the files change only when a chapter does.

Run it after editing a chapter; ``tests/test_publish.py`` fails while a copy is
out of date. Never edit ``notebooks/`` by hand.
"""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path

import jupytext
import nbformat

from tools.authoring import NB_VERSION, ROOT, dumps, setup_cell_source
from tools.myst import roles_as_text
from tools.sphinxext.quiz import NAME as QUIZ_DIRECTIVE
from tools.sphinxext.quiz import questions_markdown
from tools.syllabus import header_markdown, read_chapter

CHAPTERS, NOTEBOOKS = ROOT / "chapters", ROOT / "notebooks"
#: The directive that shows the chapter's front matter in the book.
HEADER = re.compile(r"^(```+|:::+)\{course-header\}[ \t]*\n\1[ \t]*$", re.M)
#: The directive that shows the chapter's questions, from its quiz file.
QUESTIONS = re.compile(rf"^(```+|:::+)\{{{QUIZ_DIRECTIVE}\}}[ \t]*\n\1[ \t]*$", re.M)


def chapter_paths(root: Path = ROOT) -> list[Path]:
    """Every chapter, in order."""
    return sorted((root / "chapters").glob("[0-9][0-9]_*.md"))


def notebook_path(chapter: Path | str, root: Path = ROOT) -> Path:
    """``chapters/NN_topic.md`` -> ``notebooks/NN_topic.ipynb``."""
    return root / "notebooks" / (Path(chapter).stem + ".ipynb")


@functools.lru_cache(maxsize=None)
def citation_labels(bib: Path = ROOT / "references.bib") -> dict[str, str]:
    """Citation key -> the book's label ("He et al., 2015"), as the bibliography shows it."""
    from pybtex.database import parse_file

    from tools.sphinxext.bibstyle import RectifiedStyle

    entries = RectifiedStyle().format_bibliography(parse_file(str(bib)))
    return {entry.key: entry.label for entry in entries}


def _cite(kind: str, keys: str) -> str:
    labels = citation_labels()
    found = [labels.get(k.strip(), k.strip()) for k in keys.split(",")]
    if kind == "t":  # "He et al. (2015)"
        return "; ".join(f"{lab.rsplit(', ', 1)[0]} ({lab.rsplit(', ', 1)[-1]})" for lab in found)
    return "(" + "; ".join(found) + ")"


def _title_of(chapter: Path, target: str) -> str:
    """The title of the page a {doc} reference points at (its first heading)."""
    base = (chapter.parent / target).resolve()
    for path in (base.with_suffix(".md"), base.with_suffix(".ipynb")):
        if path.exists():
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ipynb":
                text = "\n".join(c.source for c in nbformat.reads(text, as_version=NB_VERSION).cells[:1])
            m = re.search(r"^# (.+)$", text, re.M)
            if m:
                return m.group(1).strip()
    return Path(target).name


_FENCE = re.compile(r"^(```+|:::+)\{(exercise|solution|admonition)\}[ \t]*(.*?)\n(.*?)^\1[ \t]*$", re.M | re.S)
_OPTION = re.compile(r"^:(\w+):[ \t]*(.*)$")


def plain_markdown(text: str, chapter: Path) -> str:
    """The book's MyST markup in one Markdown cell, rewritten as Markdown Jupyter renders."""

    def doc(target: str, shown: str | None) -> str:
        return f"*{shown if shown is not None else _title_of(chapter, target)}*"

    def fence(m: re.Match) -> str:
        name, argument, body = m.group(2), m.group(3).strip(), m.group(4)
        lines = body.split("\n")
        options = {}
        while lines and _OPTION.match(lines[0]):
            key, value = _OPTION.match(lines[0]).groups()
            options[key] = value.strip()
            lines.pop(0)
        body = "\n".join(lines).strip("\n")
        if name == "solution" or "dropdown" in options.get("class", ""):
            summary = "Answer" if name == "solution" else argument
            return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"
        stop = "" if argument[-1:] in ".?!:" else "."
        return f"**{argument}{stop}** {body}" if argument else body

    if HEADER.search(text):
        text = HEADER.sub(lambda m: header_markdown(read_chapter(chapter)), text)
    if QUESTIONS.search(text):
        text = QUESTIONS.sub(lambda m: questions_markdown(chapter), text)
    text = _FENCE.sub(fence, text)
    text = re.sub(r"^\([\w-]+\)=[ \t]*\n", "", text, flags=re.M)  # targets: (label)=
    return roles_as_text(text, doc=doc, cite=_cite)


def _note(chapter: Path) -> str:
    return (f"*This notebook is generated from `chapters/{chapter.name}` of the book; run it "
            "from the top. Figure captions, numbered cross-references and the glossary are in the "
            "book.*")


def make_notebook(chapter: Path) -> nbformat.NotebookNode:
    """The runnable notebook copy of one chapter (no outputs, set-up cell first)."""
    source = jupytext.reads(chapter.read_text(encoding="utf-8"), fmt="md:myst")
    cells = list(source.cells)
    if cells and cells[0].cell_type == "markdown":
        # the title alone in the first cell; what follows it (the header box) after the set-up
        first, _, rest = cells[0].source.partition("\n")
        if rest.strip():
            cells[0:1] = [nbformat.v4.new_markdown_cell(first), nbformat.v4.new_markdown_cell(rest.strip("\n"))]
    title = 1 if cells and cells[0].cell_type == "markdown" else 0
    cells[title:title] = [nbformat.v4.new_markdown_cell(_note(chapter)),
                          nbformat.v4.new_code_cell(setup_cell_source())]
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": source.metadata.get("kernelspec",
                                                      {"display_name": "Python 3", "language": "python",
                                                       "name": "python3"}),
                   "language_info": {"name": "python"}}
    for i, cell in enumerate(cells):
        new = (nbformat.v4.new_code_cell(cell.source) if cell.cell_type == "code"
               else nbformat.v4.new_markdown_cell(plain_markdown(cell.source, chapter)))
        tags = cell.metadata.get("tags")
        if tags:
            new.metadata["tags"] = list(tags)
        new.id = f"{chapter.stem[:2]}-{i:03d}"
        nb.cells.append(new)
    nbformat.validate(nb)
    return nb


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    """What every generated notebook should contain, byte for byte."""
    return {notebook_path(ch, root): dumps(make_notebook(ch)) for ch in chapter_paths(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    expected = expected_files()
    stale = [p for p, text in expected.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = sorted(set((ROOT / "notebooks").glob("*.ipynb")) - set(expected))
    for path in stale:
        if not args.check:
            path.parent.mkdir(exist_ok=True)
            path.write_text(expected[path], encoding="utf-8")
        print(f"{'out of date' if args.check else 'written'}: {path.relative_to(ROOT)}")
    for path in extra:
        if not args.check:
            path.unlink()
        print(f"{'no chapter for' if args.check else 'removed'}: {path.relative_to(ROOT)}")
    return 1 if args.check and (stale or extra) else 0
