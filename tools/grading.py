"""Set up an nbgrader course from this repository's solutions notebooks.

Every ``solutions/NN_topic.ipynb`` is an nbgrader *source* notebook (see
:mod:`tools.authoring`). This command lays them out the way nbgrader
expects, one assignment per chapter (``ex01``, ``ex02``, ...)::

    nbgrader-course/
        nbgrader_config.py          yours: written once, never overwritten
        course_settings.py          the course's: rewritten by every init
        source/ex01/01_why_activations.ipynb
        source/ex02/02_relu_function.ipynb
        ...

``nbgrader_config.py`` (:data:`CONFIG_TEMPLATE`) holds what an instructor
sets: the course id, the timeout, the pattern for ``zip_collect``, the
exchange. It is written only when the folder has none, so running ``init``
again after the exercises change keeps every edit. Its first line loads
``course_settings.py`` (:data:`SETTINGS_TEMPLATE`), which ``init`` rewrites
each time and which holds what the course needs from nbgrader:

* the folder of the Python that runs nbgrader on ``PATH``: nbgrader creates
  its gradebook by running the program ``alembic``
  (``nbgrader.api.get_alembic_version`` calls ``alembic heads`` through
  ``subprocess``), found only when the virtual environment's ``bin`` folder is
  on ``PATH``. With this line, ``.venv/bin/nbgrader ...`` works with or
  without an activated environment;
* check cells that a student deleted are put back
  (``OverwriteCells.add_missing_cells``; edited ones are always restored);
* the three SQLAlchemy warnings that nbgrader 0.9 triggers for every
  submission ``autograde`` adds to the gradebook are silenced, by their
  exact text (see the template);
* ``zip_collect`` collects renamed copies under the released name and
  reports files it cannot place, ``autograde`` names every notebook it would
  skip, and ``generate_feedback`` uses the course's page
  (:mod:`tools.nbgrader_course`).

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
CONFIG, SETTINGS = "nbgrader_config.py", "course_settings.py"
#: The line of nbgrader_config.py that loads the course's settings (traitlets' load_subconfig,
#: which nbgrader's config files can call; later lines of the file override what it sets).
LOAD_LINE = f'load_subconfig("{SETTINGS}")  # noqa: F821 (the course\'s settings; keep this line first)'

#: What a browser or platform adds to the name of a renamed copy of a notebook: " (1)" or
#: "(2)" (browsers, when the file exists already), "-1" (platforms that keep every upload).
RENAMED_SUFFIX = r"(?: ?\(\d+\)|-\d+)"
#: A notebook's name as this course releases it ("01_why_activations.ipynb"), possibly renamed.
_NOTEBOOK = rf"\d\d_[a-z0-9_]+?{RENAMED_SUFFIX}?\.ipynb"

#: ``named_regexp`` values for ``nbgrader zip_collect``, written into a new nbgrader_config.py
#: (tested in tests/test_nbgrader.py on the names each comment shows). Student ids may contain
#: underscores: the file's part is found from the end, by the form of the course's notebook
#: names (two digits, an underscore, lower case). They live here, not in tools.nbgrader_course,
#: so that ``grade init`` does not import nbgrader (about 1 s of CPU).
LMS_REGEXPS = {
    # jane_doe_01_why_activations.ipynb, or a folder per student: jane_doe/01_why_activations.ipynb
    "plain": rf"^(?:.*/)?(?P<student_id>[^/]+?)[_/](?P<file_id>{_NOTEBOOK})$",
    # numbers (and LATE) between the name and the file: janedoe_LATE_1234_5678_01_why_activations.ipynb;
    # the name is the student id (so an id must not end in _<digits>)
    "numbered": rf"^(?:.*/)?(?P<student_id>[^/]+?)(?:_LATE|_late)?(?:_\d+)+_(?P<file_id>{_NOTEBOOK})$",
    # nbgrader's documented example form: <assignment>_<student>_attempt_<time>_<file>,
    # ex01_jane_doe_attempt_2026-03-01-09-30-00_01_why_activations.ipynb (assignment without "_")
    "attempt": (r"^(?:.*/)?[^/_]+_(?P<student_id>[^/]+?)_attempt_(?P<timestamp>\d{4}(?:-\d\d){5})_"
                rf"(?P<file_id>{_NOTEBOOK})$"),
}


CONFIG_TEMPLATE = '''\
# nbgrader settings of this course folder. Written once by `python -m tools grade init`,
# which never overwrites it: edit it as you like. The course's own settings are in
# course_settings.py, which init rewrites; settings below override them.
{load_line}

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)

c.CourseDirectory.course_id = {course_id!r}

# A cell that runs longer than this (an endless loop) is stopped; the check that needs it scores 0.
c.Execute.timeout = {timeout}

# On a shared server (JupyterHub), students fetch and submit through nbgrader's exchange
# folder; uncomment and set it (nbgrader's default is /usr/local/share/nbgrader/exchange).
# c.Exchange.root = "/usr/local/share/nbgrader/exchange"

# `nbgrader zip_collect exNN` reads downloaded/exNN/archive/ (zip files or notebooks) and finds
# the student and the notebook in each file's full path with this pattern. It suits names like
# jane_doe_01_why_activations.ipynb and jane_doe/01_why_activations.ipynb (ids may contain "_").
c.FileNameCollectorPlugin.named_regexp = r"{plain}"
# Names with numbers (and LATE) between the name and the file, janedoe_1234_5678_01_why_activations.ipynb:
# c.FileNameCollectorPlugin.named_regexp = r"{numbered}"
# nbgrader's documented form <assignment>_<student>_attempt_<time>_<file>:
# c.FileNameCollectorPlugin.named_regexp = r"{attempt}"
'''

SETTINGS_TEMPLATE = '''\
# The course's nbgrader settings, rewritten by every `python -m tools grade init` (edit
# nbgrader_config.py instead: it loads this file first, and what it sets wins).
import os
import sys
import warnings

c = get_config()  # noqa: F821 (provided by nbgrader when it reads this file)

# nbgrader runs the program `alembic` to create its gradebook; it lives next to the Python that
# runs nbgrader (the virtual environment's bin folder), which is on PATH only in an activated
# environment. Put it there in any case.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# Put back check cells that a student deleted (edited ones are always restored).
c.OverwriteCells.add_missing_cells = True

# nbgrader 0.9's Gradebook.add_submission links a new submission to its assignment and student
# before adding it to the database session, then loops over assignment.notebooks to create its
# notebooks and grades; that read flushes the session, and SQLAlchemy 2 (which no longer cascades
# along those back-references) warns three times that the submission is not in the session yet.
# nbgrader adds it, with its notebooks and grades, right after the loop, so nothing is lost
# (tests/test_nbgrader.py checks every score); only these three messages are silenced.
warnings.filterwarnings(
    "ignore", message=r"Object of type <Submitted(Assignment|Notebook)> not in session, add operation along",
    module=r"nbgrader\\.api")

# The course's plugins (tools/nbgrader_course.py in the repository).
_repository = {repository!r}
if _repository not in sys.path:
    sys.path.insert(0, _repository)
c.ZipCollectApp.collector_plugin = "tools.nbgrader_course.CourseCollector"
c.Autograde.pre_convert_hook = "tools.nbgrader_course.report_renamed"
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "tools.nbgrader_course.CourseFeedback",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.template_name = "relu_feedback"
c.HTMLExporter.template_file = "relu_feedback.html.j2"
c.HTMLExporter.extra_template_basedirs = [
    os.path.join(os.path.dirname(__import__("nbgrader").__file__), "server_extensions", "formgrader", "templates"),
    {templates!r},
]
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
    current ones, and ``course_settings.py`` is rewritten; an existing
    ``nbgrader_config.py`` is kept as it is (``course_id`` and ``timeout``
    only fill a new one), and nothing else in the folder (the gradebook,
    submissions, grades, feedback) is touched.
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
    config = folder / CONFIG
    if not config.exists():
        config.write_text(CONFIG_TEMPLATE.format(load_line=LOAD_LINE, course_id=course_id, timeout=int(timeout),
                                                 **LMS_REGEXPS), encoding="utf-8")
    (folder / SETTINGS).write_text(SETTINGS_TEMPLATE.format(
        repository=str(ROOT), templates=str(Path(__file__).resolve().parent / "nbgrader_templates")),
        encoding="utf-8")
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
    p.add_argument("--course-id", help="nbgrader's course id for a new nbgrader_config.py (default: relu)")
    p.add_argument("--timeout", type=int,
                   help="seconds a cell may run when autograding, for a new nbgrader_config.py (default: 60)")
    p.add_argument("--chapters", nargs="+", metavar="NN", help="only these chapters (default: all)")
    args = parser.parse_args(argv)
    config = args.folder / CONFIG
    kept = config.exists()
    try:
        ids = init(args.folder, course_id=args.course_id or "relu", timeout=args.timeout or 60,
                   chapters=args.chapters)
    except ValueError as exc:
        parser.error(str(exc))
    folder = args.folder.resolve()
    nbgrader = _nbgrader_command(folder)
    print(f"nbgrader course in {folder}: assignments {', '.join(ids)}.")
    if kept:
        print(f"Kept your {CONFIG}; rewrote {SETTINGS}.")
        if args.course_id or args.timeout:
            print(f"  --course-id and --timeout only fill a new {CONFIG}: change them there.")
        if f'load_subconfig("{SETTINGS}")' not in config.read_text(encoding="utf-8"):
            print(f"WARNING: {CONFIG} does not load the course's settings. Add this as its first line:\n"
                  f"  {LOAD_LINE}", file=sys.stderr)
    print("Next, from that folder (for example the first assignment):")
    print(f"  cd {folder}")
    print(f"  {nbgrader} generate_assignment {ids[0]}    # student version in release/{ids[0]}/")
    print(f"  {nbgrader} autograde {ids[0]}              # grades submitted/<student>/{ids[0]}/")
    print(f"  {nbgrader} export                    # every score in grades.csv")
    print(f"  {nbgrader} generate_feedback {ids[0]}      # feedback/<student>/{ids[0]}/*.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
