"""Keep solutions/ and exercises/ in step: the exercise pipeline.

``solutions/NN_topic.ipynb`` is the single source of an exercise set. This
module

1. *annotates* it: gives every cell the nbgrader metadata it needs, derived
   from the cell's content, so that an instructor can load the notebook into
   nbgrader as a source assignment unchanged:

   * a code cell with a ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region is
     an nbgrader solution cell (``answer-K``);
   * a Markdown cell with such a region (written ``<!-- ### BEGIN SOLUTION -->``
     so that the marker does not render) is a manually graded answer
     (``written-K``);
   * a code cell that calls a checker (a line starting with ``check_...(`` or
     ``<module>.check_...(``) is a locked autograder-test cell (``check-K``);
   * the first code cell is the canonical set-up cell (:data:`SETUP_CELL`),
     which installs the course package in Colab or Binder when it is missing;

2. *generates* ``exercises/NN_topic.ipynb`` from it with nbgrader's own
   preprocessors (``LockCells``, ``ClearSolutions``, ``ClearOutput``,
   ``ClearHiddenTests``, ``ClearMarkScheme``, ``ComputeChecksums``,
   ``CheckCellMetadata``): no outputs, every solution region replaced by a stub
   that raises ``NotImplementedError`` (code) or "YOUR ANSWER HERE" (text),
   every check cell kept; the notebook's title "# Solutions N: ..." becomes
   "# Exercises N: ..." (the only change not made by nbgrader);

3. optionally *executes* the solutions notebook first, storing its outputs
   (which nbval later compares strictly).

Command line (from the repository root)::

    python -m tools regen                 # annotate solutions, regenerate exercises (and chapter notebooks)
    python -m tools regen --execute 02    # re-run solutions/02_*.ipynb, regenerate only chapter 2
    python -m tools regen --check         # exit 1 if anything is out of date
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NB_VERSION = 4

#: Where the set-up cell installs the package from in Colab/Binder (read from _config.yml).
def _repository() -> tuple[str, str]:
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = cfg["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def setup_cell_source() -> str:
    """The canonical first code cell of every exercise and solutions notebook."""
    url, branch = _repository()
    # Every line fits the book's 74-character code column (IPython expands {source}).
    return (
        "# Set-up: in Colab or Binder, installs the course package (first run).\n"
        "try:\n"
        "    import relucourse\n"
        "except ModuleNotFoundError:\n"
        "    print(\"Installing the course package 'relucourse' (first run only)\")\n"
        f"    source = \"git+{url}@{branch}\"\n"
        "    %pip install --quiet \"relucourse[course] @ {source}\"\n"
        "    import relucourse\n"
        "print(f\"relucourse {relucourse.__version__} is ready.\")"
    )


SETUP_MARKER = "# Set-up: in Colab or Binder"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_RELOAD_COMMENT = "# Graded runs reload the checkers: nothing changed above survives."
_IMPORT_LINE = re.compile(r"^from relucourse\.exercises\.\w+ import .*$\n?", re.MULTILINE)
_HIDDEN_REGION = re.compile(rf"^{HIDDEN_BEGIN}$.*?^{HIDDEN_END}$\n?", re.MULTILINE | re.DOTALL)
_CALLED_CHECK = re.compile(r"^\s*(check_\w+)\(", re.MULTILINE)
SOLUTIONS_TITLE, STUDENT_TITLE = "# Solutions ", "# Exercises "
_CHECK_CALL = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\.)?check_\w+\(", re.MULTILINE)
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def checker_module(name: str, chapter: str) -> str:
    """The module of ``relucourse.exercises`` that defines the checker ``name``.

    The chapter's own module (``relucourse.exercises.chNN``) is tried first.
    """
    import importlib
    import pkgutil

    import relucourse.exercises as package

    candidates = [f"relucourse.exercises.ch{chapter}"]
    candidates += [m.name for m in pkgutil.iter_modules(package.__path__, "relucourse.exercises.")
                   if m.name not in candidates]
    for module in candidates:
        try:
            if callable(getattr(importlib.import_module(module), name, None)):
                return module
        except ModuleNotFoundError:
            continue
    raise ValueError(f"no module in relucourse.exercises defines {name}()")


def plain_check(source: str) -> str:
    """The check cell as the author wrote it: only the ``check_...(...)`` call(s).

    Undoes :func:`canonical_check`, so that rewriting is idempotent.
    """
    source = _HIDDEN_REGION.sub("", source)
    source = _IMPORT_LINE.sub("", source)
    return source.strip("\n")


def canonical_check(source: str, chapter: str) -> str:
    """Rewrite a check cell so that neither a student's answer nor a patch can replace the checker.

    ``check_relu(relu)`` becomes::

        ### BEGIN HIDDEN TESTS
        # Graded runs reload the checkers: nothing changed above survives.
        import importlib, relucourse.checking, relucourse.exercises.ch02
        importlib.reload(relucourse.checking)
        importlib.reload(relucourse.exercises.ch02)
        ### END HIDDEN TESTS
        from relucourse.exercises.ch02 import check_relu
        check_relu(relu)

    The import right before the call undoes an answer cell that defines its
    own ``check_relu``. The hidden region (which nbgrader removes from the
    student's notebook and puts back when it autogrades) reloads the checker
    modules, which undoes an answer that patched them
    (``relucourse.exercises.ch02.check_relu = ...``).
    """
    body = plain_check(source)
    names = list(dict.fromkeys(_CALLED_CHECK.findall(body)))
    if not names:
        raise ValueError(f"a check cell must call a check_... function:\n{source[:300]}")
    modules: dict[str, list[str]] = {}
    for name in names:
        modules.setdefault(checker_module(name, chapter), []).append(name)
    hidden = [HIDDEN_BEGIN, _RELOAD_COMMENT,
              "import importlib, relucourse.checking, " + ", ".join(modules),
              "importlib.reload(relucourse.checking)"]
    hidden += [f"importlib.reload({module})" for module in modules]
    hidden.append(HIDDEN_END)
    imports = [f"from {module} import {', '.join(found)}" for module, found in modules.items()]
    return "\n".join(hidden + imports + [body])


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points if points is not None else 1
    return meta


def annotate(nb: nbformat.NotebookNode, chapter: str = "") -> nbformat.NotebookNode:
    """Return a copy of a solutions notebook with nbgrader metadata set on every cell.

    Raises ``ValueError`` for a notebook that breaks the conventions (no set-up
    cell, unbalanced solution markers, a check cell that also holds a solution).
    """
    nb = copy.deepcopy(nb)
    counters = {"answer": 0, "written": 0, "check": 0}
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    if not code_cells or not code_cells[0].source.startswith(SETUP_MARKER):
        raise ValueError("the first code cell must be the set-up cell (see tools.authoring.setup_cell_source)")
    code_cells[0].source = setup_cell_source()
    for cell in nb.cells:
        old = cell.metadata.get("nbgrader", {})
        cell.metadata.pop("nbgrader", None)
        n_begin, n_end = cell.source.count(BEGIN), cell.source.count(END)
        if n_begin != n_end:
            raise ValueError(f"unbalanced solution markers in cell:\n{cell.source[:300]}")
        is_check = cell.cell_type == "code" and bool(_CHECK_CALL.search(cell.source))
        if n_begin and is_check:
            raise ValueError(f"a cell cannot be both a solution and a check:\n{cell.source[:300]}")
        if n_begin and cell.cell_type == "code":
            counters["answer"] += 1
            cell.metadata["nbgrader"] = _nbgrader(f"answer-{counters['answer']}", solution=True,
                                                  grade=False, locked=False)
        elif n_begin:
            counters["written"] += 1
            cell.metadata["nbgrader"] = _nbgrader(f"written-{counters['written']}", solution=True,
                                                  grade=True, locked=False, points=old.get("points"))
        elif is_check:
            counters["check"] += 1
            cell.source = canonical_check(cell.source, chapter)
            cell.metadata["nbgrader"] = _nbgrader(f"check-{counters['check']}", solution=False,
                                                  grade=True, locked=True, points=old.get("points"))
    if counters["check"] == 0:
        raise ValueError("the notebook has no check cells")
    return nb


def make_exercise(solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student notebook generated from an annotated solutions notebook by nbgrader's preprocessors."""
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                        ClearSolutions, ComputeChecksums, LockCells)

    nb = copy.deepcopy(solution_nb)
    resources: dict = {}
    for pre in (CheckCellMetadata(), LockCells(), ClearSolutions(), ClearOutput(), ClearHiddenTests(),
                ClearMarkScheme(), ComputeChecksums(), CheckCellMetadata()):
        nb, resources = pre.preprocess(nb, resources)
    title = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
    if title is not None and title.source.startswith(SOLUTIONS_TITLE):
        title.source = STUDENT_TITLE + title.source[len(SOLUTIONS_TITLE):]
    return nb


def execute(path: Path, *, timeout: int = 300) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in its own folder and return it with fresh outputs."""
    import os

    from nbclient import NotebookClient

    from tools.book import KERNEL_ENV

    nb = nbformat.read(path, as_version=NB_VERSION)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, **KERNEL_ENV})    # one thread, as the book's build runs it
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """Serialise exactly as ``nbformat.write`` does (used to compare files byte for byte)."""
    return nbformat.writes(nb, version=NB_VERSION) + "\n"


def exercise_path(solution_path: Path) -> Path:
    """``solutions/NN_topic.ipynb`` -> ``exercises/NN_topic.ipynb``."""
    return solution_path.parent.parent / "exercises" / solution_path.name


def solution_paths(root: Path = ROOT) -> list[Path]:
    """Every solutions notebook, in chapter order."""
    return sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))


def expected_files(solution_path: Path) -> dict[Path, str]:
    """What the annotated solutions file and its exercise file should contain."""
    annotated = annotate(nbformat.read(solution_path, as_version=NB_VERSION), solution_path.name[:2])
    return {solution_path: dumps(annotated), exercise_path(solution_path): dumps(make_exercise(annotated))}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a list of strings")
    parser = argparse.ArgumentParser(prog="python -m tools regen", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    parser.add_argument("--execute", nargs="*", metavar="NN",
                        help="re-run these solutions notebooks (by number, or all if none given) first")
    args = parser.parse_args(argv)
    paths = solution_paths()
    if args.execute:  # only the named chapters: leave the others' files alone
        paths = [p for p in paths if p.name[:2] in set(args.execute)]
    if args.execute is not None:
        for path in paths:
            print(f"executing {path.relative_to(ROOT)} ...", flush=True)
            nb = annotate(nbformat.read(path, as_version=NB_VERSION), path.name[:2])
            nbformat.write(nb, path)
            path.write_text(dumps(execute(path)), encoding="utf-8")
    stale = []
    for path in paths:
        for target, text in expected_files(path).items():
            current = target.read_text(encoding="utf-8") if target.exists() else None
            if current != text:
                stale.append(target.relative_to(ROOT))
                if not args.check:
                    target.write_text(text, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for p in stale:
        print(f"{verb}: {p}")
    if not stale:
        print("solutions and exercises are in step.")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
