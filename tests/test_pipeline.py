"""The exercise pipeline: solutions/ is the single source, exercises/ is generated from it.

1. exercises are in sync with solutions (byte-identical on regeneration);
2. generated exercises contain no outputs and no solution text, and keep every check cell;
3. executed as nbgrader grades it, every check cell of every exercise notebook fails on the
   stubs, with the checker's own message (CheckFailed), not an unrelated error; executed as
   "Run All" in a student's own Jupyter, every check reports "not answered yet" and the run
   reaches the end; on a partly solved notebook, "Run All" runs every check whose answer is
   written (right ones pass, wrong ones show their message), while nbgrader still fails each
   unanswered or wrong check;
4. check cells are rewritten canonically (the checker imported right before the call, and a
   hidden-tests region that reloads it for nbgrader's graded runs), idempotently, from a plain
   ``check_x(answer)`` cell;
5. with only the graded answers filled in (optional cells as students get them), "Run All"
   passes every check, and leaves no file behind (so restarting and running again works).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import authoring

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
            f"{target.relative_to(ROOT)} is out of date: run `python -m tools regen`")


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
            assert e.source == authoring._HIDDEN_REGION.sub("", s.source), "check cells are kept (less hidden tests)"
            assert authoring.HIDDEN_BEGIN in s.source and authoring.HIDDEN_BEGIN not in e.source
            assert e.metadata["nbgrader"]["locked"] is True
    assert n_checks >= 5


def _outputs(cell, kind: str) -> str:
    """The text a cell printed: kind "stdout" or "stderr"."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == kind)


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_every_check_fails_on_the_unsolved_exercise(path, monkeypatch):
    """As nbgrader runs it (NBGRADER_EXECUTION in the kernel): every check cell fails."""
    ex_path = authoring.exercise_path(path)
    nb = nbformat.read(ex_path, as_version=4)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")      # the kernel inherits it
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ex_path.parent)}}).execute()
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert checks
    for cell in checks:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors, f"this check passed on the unsolved notebook:\n{cell.source}"
        # NotAnswered is the CheckFailed of a stub (relucourse.checking.NotAnswered).
        assert errors[0].ename in ("CheckFailed", "NotAnswered"), (
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


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_run_all_on_the_unsolved_exercise_reaches_the_end(path, monkeypatch):
    """In a student's own Jupyter (no nbgrader): Run All stops nowhere; each check says it is unanswered."""
    ex_path = authoring.exercise_path(path)
    nb = nbformat.read(ex_path, as_version=4)
    for name in ("NBGRADER_EXECUTION", "RELUCOURSE_STRICT_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    # allow_errors=False: the first error would stop the run, as Run All does.
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ex_path.parent)}}).execute()
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert checks
    for cell in checks:
        assert not _errors(cell), cell.source
        out = _outputs(cell, "stdout")
        assert "✅" not in out, f"this check passed on the unsolved notebook:\n{cell.source}"
        assert "⏳" in out and "not answered yet" in out, f"{cell.source}\n{out}\n{_outputs(cell, 'stderr')}"


def _partly_solved_chapter_5() -> nbformat.NotebookNode:
    """Exercises 5.1a and 5.3 (SiLU, Mish) answered right, 5.4 answered wrong, the rest unanswered."""
    from test_nbgrader import _grade_id, solved

    sol = nbformat.read(ROOT / "solutions" / "05_variants.ipynb", as_version=4)
    answers = {_grade_id(c): c.source for c in sol.cells if _grade_id(c)}
    nb = nbformat.read(ROOT / "exercises" / "05_variants.ipynb", as_version=4)
    written = {}
    for cell in nb.cells:
        source = answers.get(_grade_id(cell), "")
        if source.startswith(("def leaky_relu", "def silu", "def mish")):
            cell.source = solved(source)
            written[source.split("(")[0][4:]] = "right"
        elif source.startswith("def swish_grad"):
            cell.source = "def swish_grad(x, beta):\n    return 1 / (1 + np.exp(-beta * x))\n"
            written["swish_grad"] = "wrong"
    assert written == {"leaky_relu": "right", "silu": "right", "mish": "right", "swish_grad": "wrong"}
    return nb


def _check_cell(nb, name: str):
    return next(c for c in nb.cells if c.cell_type == "code" and f"\n{name}(" in "\n" + c.source
                and c.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.parametrize("graded", [False, True], ids=["student's Run All", "nbgrader"])
def test_a_partly_solved_notebook(graded, monkeypatch):
    """Issue 17: a student who solved 5.1a and 5.3 but not 5.2 sees 5.3's check run.

    Run All in the student's own Jupyter reaches every check: written answers are checked
    (right ones pass, the wrong one shows its ❌ message on stderr), unanswered ones say so.
    Under nbgrader the same notebook fails every unanswered or wrong check cell (score 0).
    """
    nb = _partly_solved_chapter_5()
    for name in ("NBGRADER_EXECUTION", "RELUCOURSE_STRICT_CHECKS"):
        monkeypatch.delenv(name, raising=False)
    if graded:
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=graded,
                   resources={"metadata": {"path": str(ROOT / "exercises")}}).execute()
    for name in ("check_leaky_relu", "check_silu", "check_mish"):
        cell = _check_cell(nb, name)
        assert not _errors(cell) and "✅" in _outputs(cell, "stdout"), name
    unanswered = ["check_elu", "check_gelu", "check_softplus", "check_selu_simulation",
                  "check_matched_hidden", "check_swiglu"]
    wrong = _check_cell(nb, "check_swish_grad")
    if graded:
        for name in unanswered:
            errors = _errors(_check_cell(nb, name))
            assert errors and errors[0].ename == "NotAnswered" and "not solved yet" in errors[0].evalue, name
        errors = _errors(wrong)
        assert errors and errors[0].ename == "CheckFailed" and "❌ Exercise 5.4" in errors[0].evalue
    else:
        assert not any(_errors(c) for c in nb.cells)
        for name in unanswered:
            assert "⏳" in _outputs(_check_cell(nb, name), "stdout"), name
        assert _outputs(wrong, "stderr").startswith("❌ Exercise 5.4")
        assert "Run All goes on" in _outputs(wrong, "stderr") and "✅" not in _outputs(wrong, "stdout")


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


def test_check_cells_are_rewritten_canonically_and_idempotently():
    plain = "check_relu(relu)"
    once = authoring.canonical_check(plain, "02")
    assert once == authoring.canonical_check(once, "02"), "rewriting is idempotent"
    assert authoring.plain_check(once) == plain
    lines = once.splitlines()
    assert lines[-2:] == ["from relucourse.exercises.ch02 import check_relu", "check_relu(relu)"]
    hidden = once.split(authoring.HIDDEN_BEGIN)[1].split(authoring.HIDDEN_END)[0]
    assert "importlib.reload(relucourse.checking)" in hidden
    assert "importlib.reload(relucourse.exercises.ch02)" in hidden
    assert all(len(line) <= 74 for line in lines)
    two = authoring.canonical_check("check_kill_and_fix(kill, fix)\ncheck_repair(r)", "04")
    assert "from relucourse.exercises.ch04 import check_kill_and_fix, check_repair" in two
    with pytest.raises(ValueError, match="defines check_nothing"):
        authoring.canonical_check("check_nothing(x)", "01")


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_every_check_cell_is_canonical(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            assert cell.source == authoring.canonical_check(cell.source, path.name[:2])


def _defeat(source: str, check_names: list[str], module: str) -> str:
    """An answer cell that also replaces the checkers, in the two ways a student might."""
    fake = "lambda *args, **kwargs: print('✅ passed')"
    return source + "".join(f"\n{name} = {fake}" for name in check_names) + f"\nimport {module}\n" + "".join(
        f"{module}.{name} = {fake}\n" for name in check_names)


def test_a_redefined_checker_does_not_pass_and_hidden_tests_undo_a_patched_one(monkeypatch):
    """Redefining check_x in an answer cell fails the visible check; patching the module fails the hidden one."""
    # As nbgrader runs it: a failed check raises (in a student's own kernel it only reports).
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb = nbformat.v4.new_notebook()
    module = "relucourse.exercises.ch01"
    canonical = authoring.canonical_check("check_collapse(collapse)", "01")
    answer = "def collapse(W1, b1, W2, b2):\n    return None\n"
    nb.cells = [nbformat.v4.new_code_cell(_defeat(answer, ["check_collapse"], module)),
                nbformat.v4.new_code_cell(authoring._HIDDEN_REGION.sub("", canonical)),  # as the student sees it
                nbformat.v4.new_code_cell(canonical)]                                   # as nbgrader grades it
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    student_view, graded = nb.cells[1], nb.cells[2]
    # The student's own view passes only because the module itself was patched: a self-check
    # cannot prevent that in the same process (the instructor's guide says so) ...
    assert not [o for o in student_view.outputs if o.output_type == "error"]
    # ... and nbgrader's graded run reloads the checker and fails the wrong answer.
    errors = [o for o in graded.outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "CheckFailed"

    nb.cells[0].source = answer + "\n\ndef check_collapse(*args, **kwargs):\n    print('✅ passed')\n"
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    errors = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert errors and errors[0].ename == "CheckFailed", "a check_collapse defined in an answer cell is not used"
