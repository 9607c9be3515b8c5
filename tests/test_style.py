"""Reader-facing conventions that are easy to check mechanically."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.md"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
#: Code and printed output lines wider than this need sideways scrolling in the book's
#: text column at a 1280 px window (the convention agreed for every chapter).
MAX_CODE_LINE = 74
MAX_OUTPUT_LINE = 74


def _chapter_code_cells(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    cells = re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```$", text, flags=re.S | re.M)
    # drop each cell's YAML header (between --- lines) and :option: lines
    cleaned = []
    for cell in cells:
        header = cell.split("\n---\n", 1)[0] if cell.startswith("---\n") else cell[:200]
        if re.search(r"remove-(cell|input)", header):
            continue  # the reader never sees this code
        cell = re.sub(r"\A---\n.*?\n---\n", "", cell, flags=re.S)
        cleaned.append("\n".join(line for line in cell.splitlines() if not line.startswith(":")))
    return cleaned




def _sources(path: Path) -> list[str]:
    if path.suffix == ".md":
        return _chapter_code_cells(path)
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: p.name)
def test_code_lines_fit_the_column(path):
    long = [line for src in _sources(path) for line in src.splitlines()
            if len(line) > MAX_CODE_LINE]
    assert not long, f"{len(long)} code lines longer than {MAX_CODE_LINE} characters, e.g.\n" + "\n".join(long[:5])


def _output_lines(cell) -> list[str]:
    """The lines a reader sees in a code cell's stored outputs (streams and text/plain)."""
    lines = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text = out.get("text", "")
        elif out.get("output_type") in ("execute_result", "display_data"):
            text = out.get("data", {}).get("text/plain", "")
            if "image/png" in out.get("data", {}) or "text/html" in out.get("data", {}):
                continue  # a figure or a table: its text/plain repr is not shown
        elif out.get("output_type") == "error":
            text = "\n".join(out.get("traceback", []))
        else:
            continue
        if isinstance(text, list):
            text = "".join(text)
        lines.extend(text.splitlines())
    return lines


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_stored_outputs_fit_the_column(path):
    long = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            long += [line for line in _output_lines(cell) if len(line) > MAX_OUTPUT_LINE]
    assert not long, (f"{len(long)} stored output lines longer than {MAX_OUTPUT_LINE} characters, "
                      "e.g.\n" + "\n".join(long[:5]))


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: p.name)
def test_randomness_is_seeded(path):
    code = "\n".join(_sources(path))
    if re.search(r"torch\.(rand|randn|randint|randperm)\b|nn\.(Linear|Conv)|default_rng|np\.random\.", code):
        assert "manual_seed" in code or "seed=" in code or "default_rng(" in code, f"{path.name}: unseeded randomness?"
    assert "np.random.seed(" not in code, "use np.random.default_rng(seed), not the legacy global seed"
    assert not re.search(r"default_rng\(\s*\)", code), "default_rng() without a seed"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_only_timing_cells_skip_output_comparison(path):
    for cell in nbformat.read(path, as_version=4).cells:
        tags = cell.metadata.get("tags", [])
        if "nbval-ignore-output" in tags or "nbval-skip" in tags:
            first = cell.source.splitlines()[0].lower()
            assert first.startswith("#") and ("timing" in first or "time" in first), (
                f"{path.name}: a cell excluded from nbval must start with a comment saying why "
                f"(timings only):\n{cell.source[:200]}")


def test_style_sizes_fit_the_column():
    from relucourse import style

    assert style.MAX_WIDTH == 7.0
    for rows in (1, 2, 3):
        for cols in (1, 2):
            width, height = style.figsize(rows, cols)
            assert width <= style.MAX_WIDTH and 0 < height <= 3.2 * rows + 0.6
    assert len(style.LINESTYLES) >= 6 and len(set(map(str, style.LINESTYLES.values()))) == len(style.LINESTYLES)
    assert len(set(style.MARKERS)) == len(style.MARKERS) >= 6


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS, ids=lambda p: p.name)
def test_figures_fit_the_column(path):
    """A literal figsize is at most style.MAX_WIDTH inches wide (wider figures are scaled
    down in the column and their text shrinks below a readable size)."""
    from relucourse.style import MAX_WIDTH

    code = "\n".join(_sources(path))
    widths = [float(w) for w in re.findall(r"figsize\s*=\s*\(\s*([0-9.]+)\s*,", code)]
    wide = [w for w in widths if w > MAX_WIDTH]
    assert not wide, f"{path.name}: figures {wide} inches wide; use style.figsize(rows, cols)"
