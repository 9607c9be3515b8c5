"""The student's workspace (`python -m tools workspace`) and "Run All" in it.

1. The command copies the exercise notebooks into ``my-work/`` and never overwrites one
   that is there; git ignores the folder.
2. Course commands (regenerating the exercises, the workspace command itself, collecting
   the tests, cleaning the book) leave a student's edited notebooks byte-identical, and
   the book's configuration does not pick the folder up.
3. "Run All" on each exercise notebook in the workspace, with only the graded answers
   filled in and the optional cells as students get them, passes every check and leaves
   no file behind (so restarting the kernel and running again always works).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from tools import authoring, workspace
from test_nbgrader import _grade_id, dependencies, solved

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = authoring.solution_paths(ROOT)
IDS = [p.stem for p in SOLUTIONS]


def _copy_exercises(root: Path, paths=None) -> None:
    (root / "exercises").mkdir(parents=True, exist_ok=True)
    for path in paths or workspace.exercise_notebooks(ROOT):
        shutil.copyfile(path, root / "exercises" / path.name)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_update_copies_once_and_never_overwrites(tmp_path):
    notebooks = workspace.exercise_notebooks(ROOT)
    _copy_exercises(tmp_path, notebooks[:-1])
    copied, kept = workspace.update(tmp_path)
    assert [p.name for p in copied] == [p.name for p in notebooks[:-1]] and kept == []
    mine = tmp_path / workspace.FOLDER / notebooks[0].name
    mine.write_text(mine.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 42"),
                    encoding="utf-8")
    before = _digests(tmp_path / workspace.FOLDER)
    _copy_exercises(tmp_path)  # a new chapter is published, and every exercise regenerated
    copied, kept = workspace.update(tmp_path)
    assert [p.name for p in copied] == [notebooks[-1].name]
    after = _digests(tmp_path / workspace.FOLDER)
    assert {k: after[k] for k in before} == before


def test_update_explains_a_missing_exercises_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="clone of the course repository"):
        workspace.update(tmp_path)
    with pytest.raises(TypeError):
        workspace.update(3.0)


def test_command_line_prints_how_to_open_jupyterlab():
    result = subprocess.run([sys.executable, "-m", "tools", "workspace", "--help"], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0 and "--lab" in result.stdout
    command = workspace.lab_command()
    assert command[1] == "lab" and f"--FileContentsManager.preferred_dir={workspace.FOLDER}" in command


def test_lab_command_allows_root_only_as_root(monkeypatch):
    """Jupyter refuses to start as root ("Use --allow-root"), as in many containers."""
    assert "--allow-root" in workspace.lab_command(as_root=True)
    assert "--allow-root" not in workspace.lab_command(as_root=False)
    monkeypatch.setattr(workspace.os, "geteuid", lambda: 0, raising=False)
    assert workspace.lab_command()[-1] == "--allow-root"
    monkeypatch.setattr(workspace.os, "geteuid", lambda: 1000, raising=False)
    assert "--allow-root" not in workspace.lab_command()


@pytest.mark.parametrize("root", [True, False])
def test_printed_and_started_commands_allow_root_as_root(tmp_path, monkeypatch, capsys, root):
    _copy_exercises(tmp_path, workspace.exercise_notebooks(ROOT)[:1])
    monkeypatch.setattr(workspace, "ROOT", tmp_path)
    monkeypatch.setattr(workspace.os, "geteuid", lambda: 0 if root else 1000, raising=False)
    assert workspace.main([]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if " lab " in line]
    assert len(printed) == 1 and printed[0].endswith("--allow-root") == root
    started = []
    monkeypatch.setattr(workspace.os, "execv", lambda path, args: started.append(args))
    workspace.main(["--lab"])
    assert len(started) == 1 and ("--allow-root" in started[0]) == root


def test_a_closed_pipe_is_handled_quietly(tmp_path):
    """`python -m tools workspace | head`: no BrokenPipeError traceback."""
    _copy_exercises(tmp_path)
    script = ("import pathlib, sys\nfrom tools import workspace\n"
              "workspace.ROOT = pathlib.Path(sys.argv[1])\nraise SystemExit(workspace.main([]))\n")
    # The reader closes its end before the command writes anything.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], stdout=writer,
                                stderr=subprocess.PIPE, text=True, timeout=60, cwd=ROOT)
    finally:
        os.close(writer)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert len(list((tmp_path / workspace.FOLDER).glob("*.ipynb"))) == len(workspace.exercise_notebooks(ROOT))


def test_git_and_the_book_ignore_my_work():
    for folder in (workspace.FOLDER, "nbgrader-course"):
        result = subprocess.run(["git", "check-ignore", "-q", f"{folder}/01_why_activations.ipynb"], cwd=ROOT)
        assert result.returncode == 0, f"{folder}/ is not ignored by git"
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["only_build_toc_files"] is True
    assert workspace.FOLDER in config["exclude_patterns"]
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert workspace.FOLDER not in toc


def _tracked_copy(dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def test_course_commands_leave_the_students_notebooks_alone(tmp_path):
    """In a copy of the repository: regenerate exercises, rerun the workspace, collect the tests."""
    repo = _tracked_copy(tmp_path / "repo")
    run = dict(cwd=repo, capture_output=True, text=True)  # `python -m` in repo imports repo/tools
    first = subprocess.run([sys.executable, "-m", "tools", "workspace"], **run)
    assert first.returncode == 0 and str(repo / workspace.FOLDER) in first.stdout, first.stdout + first.stderr
    mine = repo / workspace.FOLDER
    for path in mine.glob("*.ipynb"):  # the student writes answers
        path.write_text(path.read_text(encoding="utf-8").replace("raise NotImplementedError()", "return 0"),
                        encoding="utf-8")
    before = _digests(mine)
    # An author changes every solutions notebook and regenerates the exercises.
    for path in (repo / "solutions").glob("*.ipynb"):
        path.write_text(path.read_text(encoding="utf-8").replace("These exercises go with",
                                                                 "These exercises belong to"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "tools", "regen"], **run)
    assert result.returncode == 0 and "written: exercises/" in result.stdout, result.stdout + result.stderr
    assert subprocess.run([sys.executable, "-m", "tools", "workspace"], **run).returncode == 0
    collect = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q"], **run)
    assert collect.returncode == 0, collect.stdout[-2000:] + collect.stderr[-2000:]
    assert workspace.FOLDER not in collect.stdout
    assert subprocess.run([sys.executable, "-m", "tools", "clean"], **run).returncode == 0
    assert _digests(mine) == before


@pytest.fixture(scope="module")
def my_work(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    _copy_exercises(root)
    workspace.update(root)
    return root / workspace.FOLDER


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_run_all_with_the_graded_answers_filled_in(my_work, solution):
    """Every check passes when only the graded answers are written; optional cells stay as given."""
    source = nbformat.read(solution, as_version=4)
    answers = {_grade_id(c): c.source for c in source.cells if _grade_id(c)}
    graded = set().union(*(c["answers"] for c in dependencies(source).values()))
    path = my_work / solution.name
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if _grade_id(cell) in graded:
            cell.source = solved(answers[_grade_id(cell)])
    files_before = sorted(p.name for p in my_work.iterdir())
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(my_work)}}).execute()
    for cell in nb.cells:
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        kind = "optional (not graded) cell" if cell.metadata.get("nbgrader", {}).get("solution") else "cell"
        assert not errors, f"Run All stops at this {kind}:\n{cell.source[:300]}\n{errors[0].ename}: " \
                           f"{errors[0].evalue[:300]}"
    checks = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert checks
    for cell in checks:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert "✅" in text, cell.source
    assert sorted(p.name for p in my_work.iterdir()) == files_before, "the notebook left files behind"
