"""The exercise pipeline: solutions/ is the single source, exercises/ is generated from it.

1. exercises are in sync with solutions (byte-identical on regeneration);
2. generated exercises contain no outputs and no solution text, and keep every check cell;
3. executed as a student would, every check cell of every exercise notebook fails on the stubs,
   with the checker's own message (CheckFailed), not an unrelated error.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from relucourse import authoring

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = authoring.solution_paths(ROOT)
IDS = [p.stem for p in SOLUTIONS]


def test_every_chapter_has_solutions_and_exercises():
    chapters = sorted(p.stem for p in (ROOT / "chapters").glob("[0-9][0-9]_*.md"))
    assert chapters == IDS
    assert sorted(p.stem for p in (ROOT / "exercises").glob("*.ipynb")) == IDS


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_exercises_in_sync(path):
    for target, text in authoring.expected_files(path).items():
        assert target.read_text(encoding="utf-8") == text, (
            f"{target.relative_to(ROOT)} is out of date: run `python -m relucourse.authoring`")


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_solutions_were_executed(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"unexecuted cell:\n{cell.source[:200]}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_generated_exercise_is_a_student_notebook(path):
    sol = nbformat.read(path, as_version=4)
    ex = nbformat.read(authoring.exercise_path(path), as_version=4)
    assert len(ex.cells) == len(sol.cells)
    assert sol.cells[0].source.startswith(authoring.SOLUTIONS_TITLE)
    assert ex.cells[0].source.startswith(authoring.STUDENT_TITLE)
    n_checks = 0
    for s, e in zip(sol.cells, ex.cells):
        meta = s.metadata.get("nbgrader", {})
        assert "BEGIN SOLUTION" not in e.source and "END SOLUTION" not in e.source
        if e.cell_type == "code":
            assert e.outputs == [] and e.execution_count is None
        if meta.get("solution") and s.cell_type == "code":
            assert "raise NotImplementedError()" in e.source
            body = s.source.split(authoring.BEGIN)[1].split(authoring.END)[0].strip()
            assert body not in e.source
        elif meta.get("solution"):
            assert "YOUR ANSWER HERE" in e.source
        elif meta.get("grade"):
            n_checks += 1
            assert e.source == s.source, "check cells are kept verbatim"
            assert e.metadata["nbgrader"]["locked"] is True
    assert n_checks >= 5


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_every_check_fails_on_the_unsolved_exercise(path):
    ex_path = authoring.exercise_path(path)
    nb = nbformat.read(ex_path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ex_path.parent)}}).execute()
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert checks
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors, f"this check passed on the unsolved notebook:\n{cell.source}"
        assert errors[0].ename == "CheckFailed", (
            f"check failed with {errors[0].ename} instead of a checker message:\n{cell.source}\n{errors[0].evalue}")
        assert "not solved yet" in errors[0].evalue or "❌" in errors[0].evalue
    # The set-up cell and the statement cells run cleanly: only solution stubs and checks may fail.
    for cell in nb.cells:
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            assert cell.metadata.get("nbgrader", {}).get("solution"), f"non-stub cell failed:\n{cell.source}"
            assert errors[0].ename == "NotImplementedError"


def test_nbgrader_itself_generates_the_same_student_notebooks(tmp_path):
    """An instructor who loads solutions/ into nbgrader gets exactly exercises/ (up to the title line)."""
    import os
    import subprocess
    import sys

    source = tmp_path / "source" / "course"
    source.mkdir(parents=True)
    for path in SOLUTIONS:
        (source / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "relu"\n')
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "course", "--force"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for path in SOLUTIONS:
        theirs = nbformat.read(tmp_path / "release" / "course" / path.name, as_version=4)
        ours = nbformat.read(authoring.exercise_path(path), as_version=4)
        theirs.cells[0].source = theirs.cells[0].source.replace(authoring.SOLUTIONS_TITLE, authoring.STUDENT_TITLE, 1)
        assert [(c.cell_type, c.source, c.metadata) for c in theirs.cells] == \
               [(c.cell_type, c.source, c.metadata) for c in ours.cells], path.name
