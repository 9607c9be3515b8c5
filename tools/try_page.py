"""Authoring aid: execute one chapter page (MyST Markdown) and print what each cell printed.

    .venv/bin/python tools/try_page.py chapters/02_relu_function.md [--images DIR]

Faster than a book build while writing. Prints, per code cell, its text output,
anything written to stderr (which would fail the book build), errors, and the
cell's run time; with --images, saves every figure as DIR/cell-NN.png for looking at.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

try:
    from tools.book import KERNEL_ENV
except ModuleNotFoundError:                # run as tools/try_page.py
    from book import KERNEL_ENV


def main(argv: list[str] | None = None) -> int:
    """Run the page and report."""
    parser = argparse.ArgumentParser()
    parser.add_argument("page")
    parser.add_argument("--images", default=None)
    args = parser.parse_args(argv)
    page = Path(args.page).resolve()
    os.environ.update(KERNEL_ENV)          # the kernel runs as the book's build runs it
    nb = jupytext.read(page)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(page.parent)}})
    start = time.perf_counter()
    client.execute()
    total = time.perf_counter() - start
    failed = False
    images = Path(args.images) if args.images else None
    if images:
        images.mkdir(parents=True, exist_ok=True)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        print(f"--- cell {i}: {cell.source.splitlines()[0][:70] if cell.source else ''}")
        for out in cell.outputs:
            if out.output_type == "stream":
                tag = "STDERR " if out.name == "stderr" else ""
                failed |= out.name == "stderr"
                print(tag + out.text.rstrip())
            elif out.output_type == "error":
                failed = True
                print(f"ERROR {out.ename}: {out.evalue}")
            elif "text/markdown" in out.get("data", {}):
                print(out.data["text/markdown"][:400])
            elif "image/png" in out.get("data", {}):
                if images:
                    (images / f"cell-{i:02d}.png").write_bytes(base64.b64decode(out.data["image/png"]))
                print("[figure]")
            elif "text/plain" in out.get("data", {}):
                print(out.data["text/plain"][:400])
    print(f"=== executed in {total:.1f} s; {'PROBLEMS above' if failed else 'no errors, no stderr'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
