"""What nbgrader runs for this course: collecting, autograding and feedback.

``python -m tools grade init`` writes ``course_settings.py`` into the course
folder, which the folder's ``nbgrader_config.py`` loads; that file puts the
repository on ``sys.path`` and points nbgrader at the pieces below (see
:data:`tools.grading.SETTINGS_TEMPLATE`):

* :class:`CourseCollector`, the ``zip_collect`` plugin: files whose names a
  browser or a learning platform changed ("01_why_activations (1).ipynb",
  "01_why_activations-2.ipynb") are collected under the released name, and a
  notebook that matches no released name is not collected and reported as an
  error, instead of being copied and then skipped by ``autograde``;
* :func:`report_renamed`, run by ``autograde`` before each submission: an
  error naming every notebook in ``submitted/`` that ``autograde`` would skip,
  and what to do about it;
* :class:`CourseFeedback` and the template ``nbgrader_templates/relu_feedback``
  for ``generate_feedback``: items named by exercise, the hidden-test region
  left out, long messages wrapped, formulas typeset with no network access.

Everything here runs inside nbgrader's own process; nothing in ``relucourse``
imports it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.plugins.zipcollect import FileNameCollectorPlugin
from traitlets import Bool, Unicode

from tools.authoring import HIDDEN_BEGIN, plain_check
from tools.grading import RENAMED_SUFFIX

#: nbgrader's template folder for the course's feedback page.
TEMPLATES = Path(__file__).resolve().parent / "nbgrader_templates"

#: A copy of a released notebook's name that a browser or platform renamed: "name (1).ipynb",
#: "name(2).ipynb" (browsers, when the file exists already), "name-1.ipynb" (platforms that keep
#: every upload).
RENAMED = re.compile(rf"^(?P<stem>.+?){RENAMED_SUFFIX}(?P<ext>\.ipynb)$")


def ignored(path: str) -> bool:
    """Files that come with a download but are nobody's submission: Jupyter's checkpoints, and
    the ``__MACOSX/`` folder and ``._`` files that macOS adds to a zip."""
    parts = Path(path).parts
    return ".ipynb_checkpoints" in parts or "__MACOSX" in parts or parts[-1].startswith("._")


def released_name(name: str, released: set[str]) -> str | None:
    """The released notebook a submitted file name stands for, or None.

    ``"01_x (1).ipynb"`` -> ``"01_x.ipynb"`` when that is released; a released name is itself.
    """
    if name in released:
        return name
    match = RENAMED.match(name)
    if match and match["stem"] + match["ext"] in released:
        return match["stem"] + match["ext"]
    return None


class CourseCollector(FileNameCollectorPlugin):
    """``zip_collect``'s file-name plugin: renamed copies collected under the released name.

    nbgrader's own plugin copies "01_why_activations (1).ipynb" into ``submitted/`` with a
    warning, and ``autograde`` then skips it: the student scores 0 with nothing but a line in a
    long log to show why. Here such a file is collected as "01_why_activations.ipynb" (with a
    warning naming both), and a notebook whose name matches no released notebook, or no part of
    ``named_regexp``, is not collected and is reported as an error. Checkpoints and macOS's zip
    extras are passed over (:func:`ignored`).
    """

    def _released(self) -> set[str]:
        coursedir = self.parent.coursedir
        folder = Path(coursedir.format_path(coursedir.release_directory, ".", coursedir.assignment_id))
        return {p.name for p in folder.glob("*.ipynb")}

    def collect(self, submitted_file: str) -> dict | None:
        if ignored(submitted_file):
            self.log.info("Ignored (not a submission): %s", submitted_file)
            return None
        info = super().collect(submitted_file)
        if not submitted_file.endswith(".ipynb"):
            return info
        if info is None:
            self.log.error("NOT COLLECTED (its name does not match named_regexp): %s", submitted_file)
            return None
        if info["student_id"] == getattr(self.parent, "extracted_directory", None):
            self.log.error("NOT COLLECTED (no student in its name or folder): %s", submitted_file)
            return None
        released = self._released()
        name = released_name(info["file_id"], released)
        if name is None:
            self.log.error(
                "NOT COLLECTED: %s is not a notebook of this assignment (%s). Rename it to the released "
                "name and run `nbgrader zip_collect --force` again; until then %s scores 0 for it.",
                submitted_file, ", ".join(sorted(released)) or "nothing released", info["student_id"])
            return None
        if name != info["file_id"]:
            self.log.warning("Renamed copy %s collected as %s for %s", os.path.basename(submitted_file),
                             name, info["student_id"])
            info = dict(info, file_id=name)
        return info


def skipped_notebooks(notebooks: list[str]) -> list[str]:
    """What is wrong with a submission folder that ``autograde`` would not see: one line each.

    ``notebooks`` are the paths nbgrader found in ``submitted/<student>/<assignment>/``; the
    released names are read from ``release/<assignment>/`` next to ``submitted/``.
    """
    if not notebooks:
        return []
    folder = Path(notebooks[0]).parent
    root = folder.parents[2]
    released = {p.name for p in (root / "release" / folder.name).glob("*.ipynb")}
    present = {Path(n).name for n in notebooks}
    problems = []
    for name in sorted(present - released) if released else []:
        stands_for = released_name(name, released)
        fix = (f'rename it: mv "{folder / name}" "{folder / stands_for}"'
               if stands_for and stands_for not in present
               else f"its name is not one of {', '.join(sorted(released))}")
        problems.append(f"{folder.parent.name}: {name} will not be graded and counts as missing (score 0); "
                        f"{fix}, then run `nbgrader autograde {folder.name} --student {folder.parent.name} "
                        "--force`.")
    return problems


def report_renamed(assignment: str, student: str, notebooks: list[str]) -> None:
    """``Autograde.pre_convert_hook``: an error for each notebook ``autograde`` is about to skip.

    nbgrader grades only notebooks named as released; a renamed one is skipped ("Skipping
    unknown notebook") and the missing one scores 0. This names the file and the fix
    (:func:`skipped_notebooks`). nbgrader calls the hook with the assignment and student
    *patterns* of the command line, so the submission's folder is read from the paths.
    """
    from traitlets.config import Application

    problems = skipped_notebooks(notebooks)
    if problems:
        app = Application.instance()
        log = getattr(getattr(app, "subapp", None), "log", None) or app.log
        for line in problems:
            log.error(line)


class CourseFeedback(Preprocessor):
    """``generate_feedback``: name each graded item by its exercise, hide the hidden tests.

    * every graded or answer cell gets ``metadata.relu_label``, e.g. "Exercise 2.1 A ReLU for
      arrays: check_relu", "Exercise 2.1 A ReLU for arrays: your code" or "Exercise 1.7 In your
      own words: written answer", from the exercise heading above it, which the template
      shows instead of "Test cell" and "Student's answer";
    * a check cell shows only its ``check_...(...)`` call: the hidden region (the checker
      reload that nbgrader puts back for grading) and the import are left out;
    * ``resources["relu_mathjax"]``: MathJax 3 (tex-svg-full), read from the copy that
      sphinx-mathjax-offline installs, for the template to write into the page.
    """

    enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off unless enabled
    heading = Unicode(r"^#{1,6}\s*(Exercise\s+\d+\.\d+\w*)\s*[★☆*]*\s*(.*)$").tag(config=True)

    def preprocess(self, nb, resources):
        exercise, counts = None, {}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "markdown":
                match = re.search(self.heading, cell.source, re.MULTILINE)
                if match:
                    title = re.sub(r"[`*_]", "", match.group(2)).strip()
                    exercise = f"{match.group(1)} {title}".strip()
            if not (meta.get("grade") or meta.get("solution")):
                continue
            where = exercise or "Exercise"
            if cell.cell_type == "code" and not meta.get("solution"):
                called = re.findall(r"^\s*(check_\w+)\(", cell.source, re.MULTILINE)
                what = ", ".join(dict.fromkeys(called)) or "automatic check"
            else:
                kind = "written answer" if cell.cell_type == "markdown" else "your code"
                counts[where, kind] = counts.get((where, kind), 0) + 1
                what = kind if counts[where, kind] == 1 else f"{kind} {counts[where, kind]}"
            cell.metadata["relu_label"] = f"{where}: {what}"
            if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
                cell.source = plain_check(cell.source)
        resources["relu_mathjax"] = mathjax_source()
        return nb, resources


def mathjax_source() -> str:
    """MathJax 3's single-file TeX-to-SVG build, as installed with the book (sphinx-mathjax-offline)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("sphinx-mathjax-offline is not installed; it ships the MathJax the feedback uses")
    # the "full" build holds every TeX extension, so nothing is fetched later for a rarer macro
    path = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "tex-svg-full.js"
    # "</script>" inside the file would end the inline script early
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")
