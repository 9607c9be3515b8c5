"""`python -m tools syllabus`: a real command-line interface, plain output, Markdown and CSV."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

from tools import syllabus

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
N_CHAPTERS = len(list(CHAPTERS.glob("[0-9][0-9]_*.md")))


def run(*args: str) -> subprocess.CompletedProcess:
    """The command as documented: run from the repository's root."""
    return subprocess.run([sys.executable, "-m", "tools", "syllabus", *args], cwd=ROOT,
                          capture_output=True, text=True)


def test_help():
    result = run("--help")
    assert result.returncode == 0
    assert "--format" in result.stdout and "front matter" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown", "csv"])
def test_output_has_every_chapter_and_no_myst(fmt):
    result = run("--format", fmt)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for ch in syllabus.chapters(CHAPTERS):
        assert ch.title in out
        assert ch.objectives[0].split()[0] in out
    assert "{doc}" not in out and "{term}" not in out and "`01_why_activations`" not in out
    assert "}`" not in out


def test_text_names_chapters_instead_of_roles():
    out = run().stdout
    first = syllabus.chapters(CHAPTERS)[0]
    assert f"chapter 1 ({first.title})" in out
    assert out.rstrip().splitlines()[-1].startswith("Total: about ")
    assert max(len(line) for line in out.splitlines()) <= 100


def test_csv_is_one_row_per_chapter():
    rows = list(csv.DictReader(io.StringIO(run("--format", "csv").stdout)))
    assert len(rows) == N_CHAPTERS
    assert [int(r["chapter"]) for r in rows] == list(range(1, N_CHAPTERS + 1))
    assert all(int(r["minutes"]) > 0 and int(r["exercise_minutes"]) > 0 for r in rows)


def test_markdown_is_a_document():
    out = run("--format", "markdown").stdout
    assert out.startswith("# Syllabus\n")
    assert out.count("\n## ") == N_CHAPTERS


def test_folder_argument_and_default_from_elsewhere(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert syllabus.main([str(CHAPTERS)]) == 0
    assert "Total: about" in capsys.readouterr().out


def test_default_folder_from_a_subfolder_of_the_repository(tmp_path, monkeypatch, capsys):
    """From a folder without chapters/ (nbgrader-course/) the repository's chapters are used."""
    sub = tmp_path / "nbgrader-course"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert syllabus.main([]) == 0
    assert capsys.readouterr().out == run().stdout


def test_every_chapter_is_read_and_has_a_header_and_a_row():
    """(Moved from tests/test_package.py with the module.)"""
    chapters = syllabus.chapters(CHAPTERS)
    assert [c.number for c in chapters] == list(range(1, len(chapters) + 1))
    for ch in chapters:
        assert 3 <= len(ch.objectives) <= 6
        assert ch.minutes > 0 and ch.exercise_minutes > 0
        assert "{doc}`exercises" in syllabus.header_markdown(ch)
    table = syllabus.table_markdown(chapters)
    assert table.count("* - ") == len(chapters) + 1


def test_missing_front_matter_is_rejected(tmp_path):
    """(Moved from tests/test_package.py with the module.)"""
    p = tmp_path / "01_x.md"
    p.write_text("# Title\n")
    with pytest.raises(ValueError, match="front matter"):
        syllabus.read_chapter(p)


def test_roles_read_as_text_in_one_place():
    """The syllabus and the chapter notebooks share tools.myst.roles_as_text."""
    from tools.myst import roles_as_text

    assert roles_as_text("{term}`ReLU` and {doc}`the basics <01_x>`") == "ReLU and the basics"
    assert roles_as_text("{cite:t}`a,b`", cite=lambda kind, keys: f"{kind}:{keys}") == "t:a,b"
    assert roles_as_text("{doc}`01_x`", doc=lambda target, shown: target.upper()) == "01_X"
    assert syllabus.plain_text("{doc}`x <01_y>`") == "x"


def test_prerequisites_are_a_list_one_per_line():
    out = run().stdout
    first = syllabus.chapters(CHAPTERS)[0]
    assert len(first.prerequisites) > 1
    for prereq in first.prerequisites:
        text = syllabus.plain_text(prereq, syllabus.chapters(CHAPTERS))
        assert f"\n     * {text}" in out or f"\n     * {text[:40]}" in out
    assert "; " + syllabus.plain_text(first.prerequisites[1])[:20] not in out
    md = run("--format", "markdown").stdout
    assert f"\n- {syllabus.plain_text(first.prerequisites[1], syllabus.chapters(CHAPTERS))}\n" in md


@pytest.mark.parametrize("case", ["missing folder", "empty folder", "no front matter", "no course block",
                                  "bad format"])
def test_errors_are_clear_and_exit_non_zero(tmp_path, case):
    args = [str(tmp_path)]
    if case == "missing folder":
        args = [str(tmp_path / "nope")]
    elif case == "no front matter":
        (tmp_path / "01_x.md").write_text("# Title\n")
    elif case == "no course block":
        (tmp_path / "01_x.md").write_text("---\ntitle: x\n---\n# Title\n")
    elif case == "bad format":
        args += ["--format", "pdf"]
        (tmp_path / "01_x.md").write_text("# Title\n")
    result = run(*args)
    assert result.returncode == 2, result.stdout
    assert "Total" not in result.stdout
    expected = {"missing folder": "no such folder", "empty folder": "no chapter pages",
                "no front matter": "no YAML front matter", "no course block": "no 'course' block",
                "bad format": "invalid choice"}[case]
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_plain_text_of_roles():
    chapters = syllabus.chapters(CHAPTERS)
    assert syllabus.plain_text("{doc}`01_why_activations`", chapters) == f"chapter 1 ({chapters[0].title})"
    assert syllabus.plain_text("{doc}`../chapters/02_relu_function`", chapters).startswith("chapter 2 (")
    assert syllabus.plain_text("{doc}`the start <01_why_activations>`, {cite:t}`nair2010`") == "the start, nair2010"
    assert syllabus.plain_text("no roles, `code` stays") == "no roles, `code` stays"
