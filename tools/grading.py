"""Set up an nbgrader course from this repository's solutions notebooks.

Every ``solutions/NN_topic.ipynb`` is an nbgrader *source* notebook (see
:mod:`tools.authoring`). This command lays them out the way nbgrader
expects, one assignment per chapter (``ex01``, ``ex02``, ...)::

    nbgrader-course/
        nbgrader_config.py          written here (see below)
        source/ex01/01_why_activations.ipynb
        source/ex02/02_relu_function.ipynb
        ...

and writes an ``nbgrader_config.py`` that

* puts the folder of the Python that runs nbgrader on ``PATH``. nbgrader
  creates its gradebook by running the program ``alembic``
  (``nbgrader.api.get_alembic_version`` calls ``alembic heads`` through
  ``subprocess``), which is found only when the virtual environment's ``bin``
  folder is on ``PATH``. With this line, ``.venv/bin/nbgrader ...`` works with
  or without an activated environment;
* restores check cells that a student deleted
  (``OverwriteCells.add_missing_cells``; edited ones are always restored);
* stops a cell that runs longer than ``--timeout`` seconds (an endless loop
  scores zero for that check; the rest of the notebook is still graded).

Command line (from the repository root)::

    .venv/bin/python -m tools grade init                 # -> nbgrader-course/
    .venv/bin/python -m tools grade init /srv/relu --course-id relu2026

Then, in the course folder, nbgrader's own commands, e.g.
``../.venv/bin/nbgrader generate_assignment ex01`` (the command prints them
with the right paths).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import nbformat

from .authoring import ROOT, SOLUTIONS_TITLE, STUDENT_TITLE, dumps, solution_paths

#: The default course folder (inside the repository, ignored by git).
DEFAULT_FOLDER = ROOT / "nbgrader-course"

CONFIG_TEMPLATE = '''\
# nbgrader settings for the ReLU course, written by `python -m tools grade init`.
import os
import sys

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = {course_id!r}

# nbgrader runs the program `alembic` to create its gradebook; it lives next to
# the Python that runs nbgrader (the virtual environment's bin folder), which is
# on PATH only in an activated environment. Put it there in any case.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# A cell that runs longer than this (an endless loop) is stopped and scores zero.
c.Execute.timeout = {timeout}

# Put back check cells that a student deleted (edited ones are always restored).
c.OverwriteCells.add_missing_cells = True

# On a shared server (JupyterHub), students fetch and submit through nbgrader's
# exchange folder; uncomment and set it (the default is /srv/nbgrader/exchange).
# c.Exchange.root = "/srv/nbgrader/exchange"

# `nbgrader zip_collect` reads downloaded/<assignment>/archive/ and needs a
# pattern for the file names there, e.g. jdoe_01_why_activations.ipynb:
# c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+\\.ipynb)$"
'''


def assignment_id(solution: Path) -> str:
    """``solutions/01_why_activations.ipynb`` -> ``ex01``."""
    return f"ex{solution.name[:2]}"


def _write_source(solution: Path, target: Path) -> None:
    """Copy a solutions notebook to ``target``, its title turned into the students' one.

    nbgrader releases the source notebook's cells as they are, so the heading
    "# Solutions N" becomes "# Exercises N" here (the same change
    :func:`tools.authoring.make_exercise` makes), and the released
    notebooks and the feedback say "Exercises N". Nothing else changes.
    """
    solution, target = Path(solution), Path(target)  # not a file descriptor, say
    nb = nbformat.read(solution, as_version=4)
    title = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
    if title is not None and title.source.startswith(SOLUTIONS_TITLE):
        title.source = STUDENT_TITLE + title.source[len(SOLUTIONS_TITLE):]
        target.write_text(dumps(nb), encoding="utf-8")
    else:
        shutil.copyfile(solution, target)


def init(folder: Path, *, course_id: str = "relu", timeout: int = 60,
         chapters: list[str] | None = None, solutions: list[Path] | None = None) -> list[str]:
    """Create (or update) an nbgrader course folder; return the assignment ids.

    Source notebooks already in the folder are replaced by the repository's
    current ones; nothing else in the folder (the gradebook, submissions,
    grades, feedback) is touched.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    if not isinstance(timeout, int) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    paths = solution_paths() if solutions is None else list(solutions)
    if chapters:
        unknown = set(chapters) - {p.name[:2] for p in paths}
        if unknown:
            raise ValueError(f"no solutions notebook for chapter(s) {', '.join(sorted(unknown))}")
        paths = [p for p in paths if p.name[:2] in chapters]
    if not paths:
        raise ValueError("no solutions notebooks found")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(
        CONFIG_TEMPLATE.format(course_id=course_id, timeout=int(timeout)), encoding="utf-8")
    ids = []
    for path in paths:
        target = folder / "source" / assignment_id(path)
        target.mkdir(parents=True, exist_ok=True)
        _write_source(path, target / path.name)
        ids.append(assignment_id(path))
    return ids


def _nbgrader_command(folder: Path) -> str:
    """How to call this environment's nbgrader from inside ``folder``."""
    nbgrader = Path(sys.executable).parent / "nbgrader"
    try:
        return str(Path("..") / nbgrader.relative_to(folder.resolve().parent))
    except ValueError:
        return str(nbgrader)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a list of strings")
    parser = argparse.ArgumentParser(prog="python -m tools grade",
                                     description="Set up an nbgrader course from the solutions notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="create or update an nbgrader course folder")
    p.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER,
                   help="the course folder (default: nbgrader-course/ in the repository, ignored by git)")
    p.add_argument("--course-id", default="relu", help="nbgrader's course id (default: relu)")
    p.add_argument("--timeout", type=int, default=60,
                   help="seconds a cell may run when autograding (default: 60)")
    p.add_argument("--chapters", nargs="+", metavar="NN", help="only these chapters (default: all)")
    args = parser.parse_args(argv)
    try:
        ids = init(args.folder, course_id=args.course_id, timeout=args.timeout, chapters=args.chapters)
    except ValueError as exc:
        parser.error(str(exc))
    folder = args.folder.resolve()
    nbgrader = _nbgrader_command(folder)
    print(f"nbgrader course in {folder}: assignments {', '.join(ids)}.")
    print("Next, from that folder (for example the first assignment):")
    print(f"  cd {folder}")
    print(f"  {nbgrader} generate_assignment {ids[0]}    # student version in release/{ids[0]}/")
    print(f"  {nbgrader} autograde {ids[0]}              # grades submitted/<student>/{ids[0]}/")
    print(f"  {nbgrader} generate_feedback {ids[0]}      # feedback/<student>/{ids[0]}/*.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
