"""nbgrader from start to end, with nbgrader's own commands, on every assignment.

One temporary nbgrader course holds every ``solutions/NN_topic.ipynb`` as an
assignment (``tools.grading.init``), and then, with the virtual environment's
``bin`` folder NOT on PATH (the way the README's commands are typed):

1. ``nbgrader generate_assignment "ex*"`` releases the student versions;
2. three synthetic submissions of each assignment are written into
   ``submitted/`` (what ``nbgrader collect`` produces):

   * ``correct``: every answer from the solutions;
   * ``odd`` and ``even``: the graded answers at odd (even) positions broken,
     the others right. Each broken answer is broken in one of these ways, in
     turn: it forgets to ``return`` (a plausible wrong answer: the function
     returns None), it raises, it loops forever (stopped by nbgrader's
     timeout; ``odd`` only), it is wrong and also defines its own
     ``check_...`` that always passes, it is wrong and also replaces the
     checker in ``relucourse.exercises.chNN``, it is wrong and its check
     cell is edited to print a success message. Each of these submissions
     also deletes the check cell of one right answer.

3. ``nbgrader autograde exNN`` grades them, one command per assignment, the
   six at once (so that the endless loops' timeouts overlap), and
   ``nbgrader generate_feedback "ex*"`` writes all the feedback;
4. every check cell's score is asserted: full points when its answers are
   right, zero when one of them is broken, however it was broken; edited and
   deleted check cells are back, verbatim, in the graded notebooks; each
   assignment's feedback is opened at 1280 px, offline, in one Chromium (a
   fresh browser context for each page).

Then the instructor's path on chapter 1 (the ``instructor`` fixture), step by step as
back/instructors.md describes it: init twice around an edited configuration, release,
zip_collect from platform-style names (a renamed copy, a per-student folder in a zip, a
stranger's file), a second collection with --force, autograde, export, feedback. And the
zip_collect patterns on names of every form the guide lists.
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
#: Seconds a cell may run before nbgrader stops it, in the test's course (an instructor's
#: default stays 60). The longest real cell, check_xor_model in 1.6, uses 2.2 s of CPU
#: (measured in its kernel with time.process_time; 2.3 s wall alone, 12.6 s wall with the
#: load average at 11 on two cores); 30 s leaves more than twice that. The waits for the
#: endless loops overlap, because every assignment is autograded at the same time.
TIMEOUT = 30
#: One ``nbgrader autograde`` per assignment, all at once.
WORKERS = len(SOLUTIONS)
#: The test course's gradebook: SQLite waits up to two minutes for a lock, not 5 s, because
#: the autogrades of all the assignments write to it at the same time.
GRADEBOOK = "sqlite:///{course}/gradebook.db?timeout=120"
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


#: What nbgrader prints when a kernel dies as it starts, before any cell runs. jupyter_client
#: picks a kernel's TCP ports free in the grading process and the kernel binds them a moment
#: later, so processes that start kernels at the same time (six autogrades here, and the
#: other worker's tests) can pick the same port; that kernel dies (seen once in a fresh
#: clone's run). No submission can cause it: it happens before the notebook's first cell.
KERNEL_START_FAILED = "Kernel died before replying to kernel_info"


def _run(course: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader *args`` in ``course``, as the README's commands are typed (see _env)."""
    def once():
        return subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=_env(),
                              capture_output=True, text=True, timeout=900)

    result = once()
    if (result.returncode != 0 and args[0] == "autograde"
            and KERNEL_START_FAILED in result.stdout + result.stderr):
        # nbgrader removed the submission it could not grade and keeps the others: the
        # same command again grades only that one, on a new kernel.
        result = once()
    return result


def _nbgrader(course: Path, *args: str) -> str:
    result = _run(course, *args)
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

def grade_all(tmp: Path) -> dict:
    """Run the whole nbgrader workflow on every assignment; return what the asserts need, by stem.

    One course holds all six assignments, as an instructor's does: one
    ``generate_assignment`` and one ``generate_feedback`` for all of them (their
    assignment argument is a pattern, "ex*"), and one ``autograde`` per
    assignment, the six at once, so that the endless loops' timeouts overlap.
    The six write to the one gradebook; the test course's gradebook URL gives
    SQLite a long wait for its lock (an instructor grades one thing at a time).
    """
    course = tmp / "course"
    ids = grading.init(course, course_id="relu", timeout=TIMEOUT, solutions=SOLUTIONS)
    with open(course / grading.CONFIG, "a", encoding="utf-8") as config:
        config.write(f"\nc.CourseDirectory.db_url = {GRADEBOOK.format(course=course)!r}\n")
    _nbgrader(course, "generate_assignment", "ex*")
    out = {}
    for solution, aid in zip(SOLUTIONS, ids):
        source_nb = nbformat.read(course / "source" / aid / solution.name, as_version=4)
        release_nb = nbformat.read(course / "release" / aid / solution.name, as_version=4)
        plans = plan(source_nb)
        tampered = {}
        for student, kw in plans.items():
            nb, tampered[student] = submission(source_nb, release_nb, **kw)
            folder = course / "submitted" / student / aid
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / solution.name)
        out[solution.stem] = {"source": source_nb, "plans": plans, "tampered": tampered}
    from nbgrader.api import Gradebook

    # The students are in the gradebook before the autogrades start: each would otherwise
    # add the same three, and two adding one at the same moment is a unique-key error.
    with Gradebook(GRADEBOOK.format(course=course), "relu") as gb:
        for student in {s for r in out.values() for s in r["plans"]}:
            gb.update_or_create_student(student)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for done in [pool.submit(_nbgrader, course, "autograde", aid) for aid in ids]:
            done.result()
    _nbgrader(course, "generate_feedback", "ex*")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for solution, aid in zip(SOLUTIONS, ids):
            r, notebook = out[solution.stem], solution.stem
            r["scores"] = {(student, cid): gb.find_grade(cid, notebook, aid, student).score
                           for student in r["plans"] for cid in dependencies(r["source"])}
            r["graded"] = {s: nbformat.read(course / "autograded" / s / aid / solution.name, as_version=4)
                           for s in r["plans"]}
            r["feedback"] = {s: course / "feedback" / s / aid / f"{notebook}.html" for s in r["plans"]}
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return grade_all(tmp_path_factory.mktemp("nbgrader"))


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
    settings = (tmp_path / "c" / "course_settings.py").read_text(encoding="utf-8")
    assert config.splitlines()[3] == grading.LOAD_LINE
    assert "add_missing_cells = True" in settings and 'os.environ["PATH"]' in settings
    # nbgrader's default exchange since 0.8.0 (nbgrader/exchange/default/exchange.py)
    assert "/usr/local/share/nbgrader/exchange" in config and "/srv/nbgrader" not in config + settings
    bad = subprocess.run([sys.executable, "-m", "tools", "grade", "init", str(tmp_path / "d"),
                          "--chapters", "99"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "no solutions notebook for chapter(s) 99" in bad.stderr


# ---------------------------------------------------------------------------------------------
# The instructor's path, as the instructor's guide tells it (back/instructors.md describes
# exactly these steps): init twice with an edited configuration, release, zip_collect from
# learning-platform names (a renamed file among them), a second collection, autograde, export,
# feedback.
# ---------------------------------------------------------------------------------------------

PATH_SOLUTION = SOLUTIONS[0]  # chapter 1: the quickest to autograde


def _answers(source_nb, release_nb, broken_kind: str | None = None):
    """The released notebook with every answer from the solutions (or every graded one broken)."""
    checks = dependencies(source_nb)
    graded = {a for c in checks.values() for a in c["answers"]}
    kinds = {gid: broken_kind for gid in graded} if broken_kind else {}
    nb, _ = submission(source_nb, release_nb, broken_kinds=kinds, delete=set(), fill_optional=True)
    return nb


@pytest.fixture(scope="module")
def instructor(tmp_path_factory):
    import shutil
    import zipfile

    tmp = tmp_path_factory.mktemp("instructor")
    course = tmp / "course"
    aid = grading.assignment_id(PATH_SOLUTION)
    name = PATH_SOLUTION.name
    init = [sys.executable, "-m", "tools", "grade", "init", str(course), "--chapters", name[:2]]
    log = {}

    # 1. init, the instructor edits nbgrader_config.py, init again (after the exercises changed)
    first = subprocess.run(init, capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert first.returncode == 0, first.stderr
    config = course / grading.CONFIG
    edited = config.read_text(encoding="utf-8").replace("c.Execute.timeout = 60", "c.Execute.timeout = 90")
    edited += "\n# my own note\nc.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__']\n"
    config.write_text(edited, encoding="utf-8")
    (course / grading.SETTINGS).write_text("raise RuntimeError('stale settings')\n", encoding="utf-8")
    second = subprocess.run(init + ["--timeout", "5"], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert second.returncode == 0, second.stderr
    log["init"] = second.stdout + second.stderr
    log["config"] = config.read_text(encoding="utf-8")
    log["edited"] = edited

    # 2. release: the student version, and through an exchange folder
    _nbgrader(course, "generate_assignment", aid)
    (tmp / "exchange").mkdir()
    _nbgrader(course, "release_assignment", aid, f"--Exchange.root={tmp / 'exchange'}")
    source_nb = nbformat.read(course / "source" / aid / name, as_version=4)
    release_nb = nbformat.read(course / "release" / aid / name, as_version=4)
    right, wrong = _answers(source_nb, release_nb), _answers(source_nb, release_nb, "no return")
    stem = PATH_SOLUTION.stem

    # 3. the platform's download: loose notebooks and a zip of per-student folders
    archive = course / "downloaded" / aid / "archive"
    archive.mkdir(parents=True)
    nbformat.write(right, archive / f"jane_doe_{stem} (1).ipynb")      # renamed by a browser
    nbformat.write(right, archive / f"bob_{stem[:3]}{stem[3:].replace('_', '')}.ipynb")  # not ours
    with zipfile.ZipFile(archive / "submissions.zip", "w") as z:
        z.writestr(f"j_smith/{name}", nbformat.writes(release_nb))       # handed in unsolved
    first_collect = _run(course, "zip_collect", aid)
    log["collect 1"] = first_collect.stdout + first_collect.stderr
    assert first_collect.returncode == 0, log["collect 1"]
    log["after collect 1"] = sorted(str(p.relative_to(course / "submitted"))
                                    for p in (course / "submitted").rglob("*.ipynb"))

    # 4. a second collection: the new download replaces the old one
    shutil.rmtree(archive)
    archive.mkdir()
    nbformat.write(wrong, archive / f"jane_doe_{stem}-1.ipynb")          # a resubmission, renamed
    nbformat.write(right, archive / f"li_wei_{stem}.ipynb")              # a late one
    again = _run(course, "zip_collect", aid)
    log["collect 2 without --force"] = (again.returncode, again.stdout + again.stderr)
    forced = _run(course, "zip_collect", "--force", aid)
    log["collect 2"] = forced.stdout + forced.stderr
    assert forced.returncode == 0, log["collect 2"]

    # 5. autograde, export, feedback
    log["autograde"] = _nbgrader(course, "autograde", aid)
    log["export"] = _nbgrader(course, "export")
    log["feedback"] = _nbgrader(course, "generate_feedback", aid)
    import csv

    with open(course / "grades.csv", encoding="utf-8") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f)}
    return {"course": course, "aid": aid, "log": log, "grades": grades, "source": source_nb,
            "submitted": {p.parent.parent.name: p for p in (course / "submitted").rglob("*.ipynb")},
            "feedback": {s: course / "feedback" / s / aid / f"{stem}.html" for s in grades}}


def test_init_keeps_the_instructors_config_and_rewrites_the_course_settings(instructor):
    log = instructor["log"]
    assert log["config"] == log["edited"]                      # kept byte for byte
    assert "Kept your nbgrader_config.py" in log["init"] and "--timeout only fill a new" in log["init"]
    settings = (instructor["course"] / grading.SETTINGS).read_text(encoding="utf-8")
    assert "stale settings" not in settings and "add_missing_cells = True" in settings
    assert log["config"].splitlines()[3] == grading.LOAD_LINE   # the settings load first
    # the edited timeout (90) is the one nbgrader uses, over the course's settings
    from traitlets.config import PyFileConfigLoader

    cfg = PyFileConfigLoader(grading.CONFIG, path=str(instructor["course"])).load_config()
    assert cfg.Execute.timeout == 90 and cfg.OverwriteCells.add_missing_cells is True


def test_release_and_zip_collect_from_platform_names(instructor):
    course, aid, log = instructor["course"], instructor["aid"], instructor["log"]
    name = PATH_SOLUTION.name
    assert (course.parent / "exchange" / "relu" / "outbound" / aid / name).is_file()
    # first collection: the renamed copy under the released name, the per-student folder,
    # and the notebook that is not the assignment's reported and left out
    assert log["after collect 1"] == [f"j_smith/{aid}/{name}", f"jane_doe/{aid}/{name}"]
    assert f"collected as {name} for jane_doe" in log["collect 1"]
    assert "NOT COLLECTED" in log["collect 1"] and "bob scores 0" in log["collect 1"]
    # second collection: refused without --force (the guide says so), then done with it
    code, text = log["collect 2 without --force"]
    assert code != 0 and "Directory not empty" in text and "--force" in text
    assert sorted(instructor["submitted"]) == ["j_smith", "jane_doe", "li_wei"]
    jane = nbformat.read(instructor["submitted"]["jane_doe"], as_version=4)
    assert "_ = " in "".join(c.source for c in jane.cells)  # the resubmission replaced the first


def test_autograde_export_and_scores(instructor):
    log, grades = instructor["log"], instructor["grades"]
    assert "SAWarning" not in log["autograde"] and "not in session" not in log["autograde"]
    auto = sum(c["points"] for c in dependencies(instructor["source"]).values())
    assert set(grades) == {"j_smith", "jane_doe", "li_wei"}
    assert float(grades["li_wei"]["raw_score"]) == auto      # every check right
    assert float(grades["jane_doe"]["raw_score"]) == 0        # her resubmission forgets every return
    assert float(grades["j_smith"]["raw_score"]) == 0         # unsolved
    assert float(grades["li_wei"]["max_score"]) == auto + 1   # and the written answer, graded by hand


def test_feedback_names_exercises_hides_the_reload_and_needs_no_network(instructor):
    for student, path in instructor["feedback"].items():
        page = path.read_text(encoding="utf-8")
        assert f"feedback/{student}/{instructor['aid']}/" in path.as_posix()
        assert "Test cell" not in page and "Written response" not in page
        assert re.search(r">Exercise 1\.1 [^<]*: check_\w+</a>", page), student
        assert "Exercise 1.7 In your own words: written answer" in page
        assert "HIDDEN TESTS" not in page and "importlib.reload" not in page
        assert not re.findall(r"<script[^>]+src=", page)          # nothing loaded from elsewhere
        assert "cdnjs" not in page and "MathJax" in page
        assert "white-space: pre-wrap" in page
        assert 1.5e6 < path.stat().st_size < 3e6               # the guide: "about 2 MB"


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for every feedback page of a unit of tests (each page in its own context)."""
    from tools import site

    problem = site.chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = site.launch(pw)     # the one harness: Debian's Chromium, $CHROMIUM honoured
        yield browser
        browser.close()


def _in_chromium(browser, path: Path) -> dict:
    """Open a feedback page at 1280 px with every request that is not the file itself blocked.

    The page gets a fresh browser context (no cache, storage or routes of another page).
    """
    requests = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.route("**/*", lambda route: (requests.append(route.request.url), route.abort())
                   if route.request.url != path.as_uri() else route.continue_())
        page.goto(path.as_uri())
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
        found = page.evaluate("""() => ({
            math: document.querySelectorAll('mjx-container svg').length,
            errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
            raw: [...document.querySelectorAll('.rendered_html')].map(e => e.innerText)
                 .filter(t => /\\$[^$\\s][^$]*\\$/.test(t)).slice(0, 3),
            cut: [...document.querySelectorAll('pre')].filter(e => e.scrollWidth > e.clientWidth + 1)
                 .map(e => e.innerText.slice(0, 80)).slice(0, 3),
            wide: document.documentElement.scrollWidth > window.innerWidth,
            failed: document.body.innerText.includes('Expected') })""")
    finally:
        context.close()
    found["requests"] = requests
    return found


def test_feedback_in_a_browser_at_1280_px(instructor, chromium):
    """Offline: formulas typeset, no message cut at the right edge, no request leaves the file."""
    found = _in_chromium(chromium, instructor["feedback"]["jane_doe"])   # every check fails: long messages
    assert found["requests"] == []
    assert found["math"] >= 3 and found["errors"] == 0 and found["raw"] == [], found
    assert found["cut"] == [] and not found["wide"], found
    assert found["failed"], "the page shows the checks' messages"


@pytest.mark.parametrize("stem", [p.stem for p in SOLUTIONS])
def test_every_assignments_feedback_typesets_offline_and_fits(results, chromium, stem):
    found = _in_chromium(chromium, results[stem]["feedback"]["odd"])      # half the checks fail
    assert found["requests"] == []
    assert found["math"] >= 1 and found["errors"] == 0 and found["raw"] == [], found
    assert found["cut"] == [] and not found["wide"], found


#: (regexp, a path inside downloaded/exNN/extracted/, the student, the notebook it stands for)
PLATFORM_NAMES = [
    ("plain", "jane_doe_01_why_activations.ipynb", "jane_doe", "01_why_activations.ipynb"),
    ("plain", "submissions/j_smith/01_why_activations.ipynb", "j_smith", "01_why_activations.ipynb"),
    ("plain", "jane_doe_01_why_activations (1).ipynb", "jane_doe", "01_why_activations.ipynb"),
    ("plain", "a_b_c_05_variants(3).ipynb", "a_b_c", "05_variants.ipynb"),
    ("plain", "s1234567_02_relu_function-2.ipynb", "s1234567", "02_relu_function.ipynb"),
    ("plain", "Jane Doe_123_assignsubmission_file_/03_derivatives.ipynb",
     "Jane Doe_123_assignsubmission_file_", "03_derivatives.ipynb"),
    ("numbered", "doejane_1234_5678_01_why_activations.ipynb", "doejane", "01_why_activations.ipynb"),
    ("numbered", "doejane_LATE_1234_5678_01_why_activations-1.ipynb", "doejane", "01_why_activations.ipynb"),
    ("numbered", "mary_ann_lee_42_99_06_troubleshooting.ipynb", "mary_ann_lee", "06_troubleshooting.ipynb"),
    ("attempt", "ex01_jane_doe_attempt_2026-03-01-09-30-00_01_why_activations.ipynb", "jane_doe",
     "01_why_activations.ipynb"),
]
RELEASED = {p.name for p in SOLUTIONS}


@pytest.mark.parametrize("kind, path, student, notebook", PLATFORM_NAMES)
def test_zip_collect_patterns_read_platform_names(kind, path, student, notebook):
    from nbgrader.utils import parse_utc
    from tools import nbgrader_course

    full = f"/srv/course/downloaded/ex01/extracted/{path}"
    match = re.match(grading.LMS_REGEXPS[kind], full)
    assert match, f"{kind} does not match {path}"
    assert match["student_id"] == student
    assert nbgrader_course.released_name(match["file_id"], RELEASED) == notebook
    if "timestamp" in match.groupdict():
        assert parse_utc(match["timestamp"]).year == 2026


def test_zip_collect_patterns_leave_other_files_alone():
    from tools import nbgrader_course

    plain = grading.LMS_REGEXPS["plain"]
    for path in ("jane_doe_notes.txt", "jane_doe_01_why_activations.py", "jane_doe_my_answers.ipynb"):
        match = re.match(plain, f"/c/downloaded/ex01/extracted/{path}")
        assert match is None or nbgrader_course.released_name(match["file_id"], RELEASED) is None, path
    assert nbgrader_course.released_name("01_why_activations (2).ipynb", {"02_relu_function.ipynb"}) is None
    for extra in ("jane/.ipynb_checkpoints/01_why_activations-checkpoint.ipynb",
                  "__MACOSX/jane/._01_why_activations.ipynb", "._jane_01_why_activations.ipynb"):
        assert nbgrader_course.ignored(f"/c/downloaded/ex01/extracted/{extra}"), extra
    assert not nbgrader_course.ignored("/c/downloaded/ex01/extracted/jane/01_why_activations.ipynb")


def test_autograde_names_a_renamed_notebook(tmp_path):
    from tools import nbgrader_course

    (tmp_path / "release" / "ex01").mkdir(parents=True)
    (tmp_path / "release" / "ex01" / "01_why_activations.ipynb").write_text("{}")
    folder = tmp_path / "submitted" / "jane_doe" / "ex01"
    renamed = folder / "01_why_activations (1).ipynb"
    (problem,) = nbgrader_course.skipped_notebooks([str(renamed)])
    assert problem.startswith("jane_doe: 01_why_activations (1).ipynb will not be graded")
    assert f'mv "{renamed}" "{folder / "01_why_activations.ipynb"}"' in problem
    assert "autograde ex01 --student jane_doe --force" in problem
    assert nbgrader_course.skipped_notebooks([str(folder / "01_why_activations.ipynb")]) == []
