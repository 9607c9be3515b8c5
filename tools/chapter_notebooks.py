"""Chapters as runnable notebooks, for the launch buttons (Colab, Binder).

    .venv/bin/python tools/chapter_notebooks.py           # write notebooks/NN_topic.ipynb
    .venv/bin/python tools/chapter_notebooks.py --check   # exit 1 if any is out of date

The chapters are MyST Markdown notebooks (``chapters/NN_topic.md``), which Colab
cannot open. This writes a Jupyter notebook copy of each, ``notebooks/NN_topic.ipynb``,
which the chapter pages' launch buttons open (see ``tools/sphinx_launch.py``):

* the chapter's cells as jupytext reads them, without outputs;
* the same first code cell as the exercise notebooks, the set-up cell of
  :func:`relucourse.authoring.setup_cell_source` (installs the course package
  in Colab or Binder), right after the title;
* without the cell that shows the chapter's "at a glance" box: it reads the
  chapter's Markdown file, which is not there when the notebook runs on its own;
* deterministic cell ids, so that the files change only when a chapter does.

Run it after editing a chapter; ``tests/test_publish.py`` fails while a copy is
out of date. Never edit ``notebooks/`` by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # relucourse from this checkout, also when run as a script

from relucourse.authoring import NB_VERSION, dumps, setup_cell_source  # noqa: E402

CHAPTERS, NOTEBOOKS = ROOT / "chapters", ROOT / "notebooks"
#: A code cell containing this only makes sense inside the book (it reads the chapter file).
BOOK_ONLY = "chapter_header("


def chapter_paths(root: Path = ROOT) -> list[Path]:
    """Every chapter, in order."""
    return sorted((root / "chapters").glob("[0-9][0-9]_*.md"))


def notebook_path(chapter: Path | str, root: Path = ROOT) -> Path:
    """``chapters/NN_topic.md`` -> ``notebooks/NN_topic.ipynb``."""
    return root / "notebooks" / (Path(chapter).stem + ".ipynb")


def _note(chapter: Path) -> str:
    return (f"*This notebook is generated from `chapters/{chapter.name}` of the book; run it "
            "from the top. Some of the book's markup (figures with captions, cross-references, "
            "citations, glossary terms) shows here as plain text: the book renders it.*")


def make_notebook(chapter: Path) -> nbformat.NotebookNode:
    """The runnable notebook copy of one chapter (no outputs, set-up cell first)."""
    source = jupytext.reads(chapter.read_text(encoding="utf-8"), fmt="md:myst")
    cells = [c for c in source.cells if not (c.cell_type == "code" and BOOK_ONLY in c.source)]
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
               else nbformat.v4.new_markdown_cell(cell.source))
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


if __name__ == "__main__":
    raise SystemExit(main())
