"""nbgrader from start to end, with nbgrader's own commands, on every assignment.

For each ``solutions/NN_topic.ipynb`` a temporary nbgrader course is made with
``tools.grading.init`` (one course per assignment, so they run in
parallel), and then, with the virtual environment's ``bin`` folder NOT on PATH
(the way the README's commands are typed):

1. ``nbgrader generate_assignment exNN`` releases the student version;
2. three synthetic submissions are written into ``submitted/`` (what
   ``nbgrader collect`` produces):

   * ``correct``: every answer from the solutions;
   * ``odd`` and ``even``: the graded answers at odd (even) positions broken,
     the others right. Each broken answer is broken in one of these ways, in
     turn: it forgets to ``return`` (a plausible wrong answer: the function
     returns None), it raises, it loops forever (stopped by nbgrader's
     timeout; ``even`` only), it is wrong and also defines its own
     ``check_...`` that always passes, it is wrong and also replaces the
     checker in ``relucourse.exercises.chNN``, it is wrong and its check
     cell is edited to print a success message. Each of these submissions
     also deletes the check cell of one right answer.

3. ``nbgrader autograde exNN`` grades them, ``nbgrader generate_feedback exNN``
   writes the feedback;
4. every check cell's score is asserted: full points when its answers are
   right, zero when one of them is broken, however it was broken; edited and
   deleted check cells are back, verbatim, in the graded notebooks.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tools import authoring, grading

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = authoring.solution_paths(ROOT)
BIN = Path(sys.executable).parent
#: Seconds a cell may run before nbgrader stops it. The longest real cell takes about 8 s
#: on an idle machine; the margin is for a busy one. The waits for the endless loops
#: overlap, because every assignment is graded at the same time, in its own course.
TIMEOUT = 60
WORKERS = 6
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.MULTILINE | re.DOTALL)
#: How a broken answer is broken: the answer itself (the first three), or a wrong answer
#: (forgot to return; for "edits check cell": raises) plus an attempt to get past its check.
KINDS = ["loops", "redefines check", "patches checker", "edits check cell", "no return", "raises"]
BASE = {"loops": "loops", "no return": "no return", "raises": "raises", "redefines check": "no return",
        "patches checker": "no return", "edits check cell": "raises"}


def _env() -> dict:
    """This process's environment without the virtual environment's bin folder on PATH."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != BIN.resolve()]
    # One thread per kernel: the notebooks train tiny models, and several kernels run at once.
    env = dict(os.environ, PATH=os.pathsep.join(path), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("VIRTUAL_ENV", None)
    return env


def _nbgrader(course: Path, *args: str) -> str:
    result = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=_env(),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# Reading the source notebook: which answer cells each check depends on
# ---------------------------------------------------------------------------------------------

def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _defined_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _check_calls(source: str) -> list[tuple[str, set[str]]]:
    """(checker name, names of its arguments) for every check_...(...) call in a check cell."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("check_"):
            args = {n.id for a in [*node.args, *(k.value for k in node.keywords)]
                    for n in ast.walk(a) if isinstance(n, ast.Name)}
            calls.append((node.func.id, args))
    return calls


def _free_names(source: str) -> set[str]:
    """Names a cell reads but does not bind anywhere (parameters, assignments, imports, defs)."""
    tree = ast.parse(source)
    bound, used = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (used if isinstance(n.ctx, ast.Load) else bound).add(n.id)
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
        elif isinstance(n, ast.alias):
            bound.add((n.asname or n.name).split(".")[0])
    return used - bound


def dependencies(source_nb) -> dict[str, dict]:
    """For every check cell: its points, checker names and the answer cells it needs.

    An answer cell needs the answer cells that define names it uses (2.5b's
    ``relu_list`` calls 2.5a's ``relu_scalar``), so a check needs those too.
    """
    defined_by: dict[str, str] = {}
    needs: dict[str, set[str]] = {}
    checks = {}
    for cell in source_nb.cells:
        gid = _grade_id(cell)
        if cell.cell_type != "code" or gid is None:
            continue
        if gid.startswith("answer-"):
            needs[gid] = {gid}
            for name in _free_names(cell.source):
                if name in defined_by:
                    needs[gid] |= needs[defined_by[name]]
            for name in _defined_names(cell.source):
                defined_by[name] = gid
        elif gid.startswith("check-"):
            calls = _check_calls(cell.source)
            answers = set().union(*[needs[defined_by[a]] for _, args in calls for a in args if a in defined_by])
            assert answers, f"{gid}: no answer cell defines the arguments of {cell.source!r}"
            checks[gid] = {"points": cell.metadata["nbgrader"]["points"], "answers": answers,
                           "checkers": [name for name, _ in calls], "source": cell.source}
    return checks


# ---------------------------------------------------------------------------------------------
# Writing the submissions
# ---------------------------------------------------------------------------------------------

def solved(source: str) -> str:
    """A solution cell as a student would write it: the solution without nbgrader's markers."""
    return REGION.sub(lambda m: m.group(2), source)


def broken(source: str, kind: str) -> str:
    """A solution cell broken in one way (inside the solution regions, i.e. in the function bodies)."""
    def no_return(match: re.Match) -> str:
        body = re.sub(r"^([ \t]*)return\b[ \t]*(?=\S)", r"\1_ = ", match.group(2), flags=re.MULTILINE)
        return re.sub(r"^([ \t]*)return[ \t]*$", r"\1pass", body, flags=re.MULTILINE)

    def prepend(code: str):
        def add(match: re.Match) -> str:
            indent = match.group(1)
            return "".join(f"{indent}{line}\n" for line in code.splitlines()) + match.group(2)
        return add

    if kind == "no return":
        out = REGION.sub(no_return, source)
        if out != solved(source):
            return out
        kind = "raises"  # no return statement to forget: crash instead
    if kind == "raises":
        return REGION.sub(prepend("scale = 1 / 0  # ZeroDivisionError"), source)
    if kind == "loops":
        return REGION.sub(prepend("import time\nwhile True:  # never ends\n    time.sleep(0.01)"), source)
    raise ValueError(kind)


def submission(source_nb, release_nb, *, broken_kinds: dict[str, str], delete: set[str],
               fill_optional: bool) -> tuple[nbformat.NotebookNode, dict[str, str]]:
    """The released notebook with answers filled in; returns it and how each check cell was tampered with."""
    source_cells = {_grade_id(c): c for c in source_nb.cells if _grade_id(c)}
    checks = dependencies(source_nb)
    module = f"relucourse.exercises.ch{source_nb_number(source_nb)}"
    nb = nbformat.from_dict(release_nb)
    cells, tampered = [], {}
    for cell in nb.cells:
        gid = _grade_id(cell)
        src = source_cells.get(gid)
        if gid and gid.startswith("answer-"):
            kind = broken_kinds.get(gid)
            graded = any(gid in c["answers"] for c in checks.values())
            if kind is None and (graded or fill_optional):
                cell.source = solved(src.source)
            elif kind is not None:
                cell.source = broken(src.source, BASE[kind])
                mine = [name for c in checks.values() if gid in c["answers"] for name in c["checkers"]]
                if kind == "redefines check":
                    cell.source += "".join(f"\n\n\ndef {name}(*args, **kwargs):\n    print('✅ passed')"
                                           for name in mine)
                elif kind == "patches checker":
                    cell.source += f"\n\nimport {module}\n" + "".join(
                        f"{module}.{name} = lambda *args, **kwargs: print('✅ passed')\n" for name in mine)
                elif kind == "edits check cell":
                    for check_id, c in checks.items():
                        if gid in c["answers"]:
                            tampered[check_id] = "edited"
        elif gid and gid.startswith("written-"):
            cell.source = "Each layer is affine, so the network is one affine map."
        elif gid and gid.startswith("check-"):
            if gid in delete:
                tampered[gid] = "deleted"
                continue
            if tampered.get(gid) == "edited":
                cell.source = "print('✅ passed')"
        cells.append(cell)
    nb.cells = cells
    return nb, tampered


def source_nb_number(source_nb) -> str:
    title = source_nb.cells[0].source
    match = re.match(r"# Exercises (\d+)", title)
    assert match, title
    return f"{int(match.group(1)):02d}"


def plan(source_nb) -> dict[str, dict]:
    """The three submissions of one assignment: which answers are broken how, which checks are deleted.

    The graded answers, in order, are broken in the ways of :data:`KINDS` in turn;
    the first, third, ... go into submission ``odd``, the others into ``even``.
    """
    checks = dependencies(source_nb)
    graded = sorted({a for c in checks.values() for a in c["answers"]}, key=lambda g: int(g.split("-")[1]))
    assert len(graded) >= len(KINDS) - 1, "too few graded answers to try every kind of breakage"
    plans = {"correct": {"broken_kinds": {}, "delete": set(), "fill_optional": True}}
    for name, parity in (("odd", 0), ("even", 1)):
        # One endless loop per assignment (each costs TIMEOUT seconds); then the other kinds in turn.
        chosen = {gid: KINDS[0] if i == 0 else KINDS[1 + (i - 1) % (len(KINDS) - 1)]
                  for i, gid in enumerate(graded) if i % 2 == parity}
        intact = [cid for cid, c in checks.items() if not c["answers"] & set(chosen)]
        plans[name] = {"broken_kinds": chosen, "delete": set(intact[:1]), "fill_optional": False}
    return plans


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------

def grade_assignment(solution: Path, tmp: Path) -> dict:
    """Run the whole nbgrader workflow for one assignment; return what is needed for the asserts."""
    course = tmp / solution.stem
    (aid,) = grading.init(course, course_id="relu", timeout=TIMEOUT, solutions=[solution])
    _nbgrader(course, "generate_assignment", aid)
    source_nb = nbformat.read(course / "source" / aid / solution.name, as_version=4)
    release_nb = nbformat.read(course / "release" / aid / solution.name, as_version=4)
    plans = plan(source_nb)
    tampered = {}
    for student, kw in plans.items():
        nb, tampered[student] = submission(source_nb, release_nb, **kw)
        folder = course / "submitted" / student / aid
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / solution.name)
    _nbgrader(course, "autograde", aid)
    _nbgrader(course, "generate_feedback", aid)

    from nbgrader.api import Gradebook

    notebook = solution.stem
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in plans:
            for cid in dependencies(source_nb):
                grade = gb.find_grade(cid, notebook, aid, student)
                scores[student, cid] = grade.score
    graded_nbs = {s: nbformat.read(course / "autograded" / s / aid / solution.name, as_version=4) for s in plans}
    feedback = {s: course / "feedback" / s / aid / f"{notebook}.html" for s in plans}
    return {"source": source_nb, "plans": plans, "tampered": tampered, "scores": scores,
            "graded": graded_nbs, "feedback": feedback}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nbgrader")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {p.stem: pool.submit(grade_assignment, p, tmp) for p in SOLUTIONS}
        return {stem: f.result() for stem, f in futures.items()}


@pytest.mark.parametrize("stem", [p.stem for p in SOLUTIONS])
def test_autograde_scores_every_check_exactly(results, stem):
    r = results[stem]
    checks = dependencies(r["source"])
    for student, p in r["plans"].items():
        for cid, c in checks.items():
            broken_by = sorted(p["broken_kinds"][a] for a in c["answers"] if a in p["broken_kinds"])
            expected = 0 if broken_by else c["points"]
            got = r["scores"][student, cid]
            how = f"{', '.join(broken_by) or 'right'}; check cell {r['tampered'][student].get(cid, 'untouched')}"
            assert got == expected, f"{student}: {cid} ({how}) scored {got}, expected {expected}"
    total = sum(c["points"] for c in checks.values())
    assert sum(r["scores"]["correct", cid] for cid in checks) == total
    kinds = {k for p in r["plans"].values() for k in p["broken_kinds"].values()}
    assert {BASE[k] for k in kinds} == {"loops", "no return", "raises"}
    assert {"redefines check", "patches checker", "edits check cell"} <= kinds


@pytest.mark.parametrize("stem", [p.stem for p in SOLUTIONS])
def test_edited_and_deleted_check_cells_are_restored(results, stem):
    r = results[stem]
    checks = dependencies(r["source"])
    for student, graded in r["graded"].items():
        cells = {_grade_id(c): c for c in graded.cells if _grade_id(c)}
        for cid, c in checks.items():
            assert cid in cells, f"{student}: {cid} missing from the graded notebook"
            assert cells[cid].source.endswith(c["source"]), f"{student}: {cid} not restored"
            assert "### BEGIN HIDDEN TESTS" in cells[cid].source  # graded with the hidden tests
        assert set(r["tampered"][student].values()) <= {"edited", "deleted"}
    tampering = {t for student in ("odd", "even") for t in r["tampered"][student].values()}
    assert tampering == {"edited", "deleted"}


@pytest.mark.parametrize("stem", [p.stem for p in SOLUTIONS])
def test_feedback_is_generated_for_every_submission(results, stem):
    for student, path in results[stem]["feedback"].items():
        assert path.exists(), f"no feedback for {student}"
        assert "Score" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("stem", [p.stem for p in SOLUTIONS])
def test_a_loop_is_stopped_by_the_timeout(results, stem):
    r = results[stem]
    (student,) = [s for s, p in r["plans"].items() if "loops" in p["broken_kinds"].values()]
    outputs = [o for c in r["graded"][student].cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert any(o.ename in ("KeyboardInterrupt", "CellTimeoutError") for o in outputs)


def test_init_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tools", "grade", "init", str(tmp_path / "c"),
                             "--chapters", SOLUTIONS[0].name[:2]], capture_output=True, text=True, env=_env(),
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    source = tmp_path / "c" / "source" / f"ex{SOLUTIONS[0].name[:2]}" / SOLUTIONS[0].name
    # The source notebook is the solutions notebook with the students' title
    # ("# Exercises N"), so released notebooks and feedback carry that title.
    ours, theirs = nbformat.read(SOLUTIONS[0], as_version=4), nbformat.read(source, as_version=4)
    assert theirs.cells[0].source.startswith("# Exercises ")
    assert theirs.cells[0].source == ours.cells[0].source.replace("# Solutions ", "# Exercises ", 1)
    assert theirs.cells[1:] == ours.cells[1:]
    assert "nbgrader generate_assignment" in result.stdout
    config = (tmp_path / "c" / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "add_missing_cells = True" in config and 'os.environ["PATH"]' in config
    bad = subprocess.run([sys.executable, "-m", "tools", "grade", "init", str(tmp_path / "d"),
                          "--chapters", "99"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "no solutions notebook for chapter(s) 99" in bad.stderr
