"""Your own copies of the exercise notebooks, in a folder no course command writes to.

``exercises/`` is generated from ``solutions/`` and is overwritten whenever an
exercise changes, so answers written there can be lost. This command copies
the exercise notebooks into ``my-work/`` (a folder git ignores) and never
overwrites a notebook that is already there: running it again adds only
notebooks that are new, for example a chapter published after you started.
``my-work/`` sits next to ``exercises/``, so the notebooks' links to the
chapters (``../chapters/...``) work from there too.

Command line (from the repository root, also in JupyterLab's terminal)::

    .venv/bin/python -m tools workspace          # copy new notebooks, say how to open them
    .venv/bin/python -m tools workspace --lab    # ... and start JupyterLab there
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The student's folder, relative to the repository root (listed in .gitignore).
FOLDER = "my-work"


def exercise_notebooks(root: Path = ROOT) -> list[Path]:
    """The generated exercise notebooks, in chapter order."""
    return sorted((Path(root) / "exercises").glob("[0-9][0-9]_*.ipynb"))


def update(root: Path, folder: str = FOLDER) -> tuple[list[Path], list[Path]]:
    """Copy every exercise notebook that ``root/folder`` does not have yet.

    Returns ``(copied, kept)``: the notebooks copied now and the ones already
    there (left exactly as they are). Raises ``FileNotFoundError`` when
    ``root`` has no exercise notebooks (for example when the package was
    installed without the repository).
    """
    if not isinstance(root, (str, os.PathLike)) or not isinstance(folder, (str, os.PathLike)):
        raise TypeError("root and folder must be paths")
    root = Path(root)
    sources = exercise_notebooks(root)
    if not sources:
        raise FileNotFoundError(f"no exercise notebooks in {root / 'exercises'}: run this command in a clone "
                                "of the course repository")
    target = root / folder
    target.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for source in sources:
        dest = target / source.name
        if dest.exists():
            kept.append(dest)
            continue
        # Exclusive creation: never replace a file, even one created meanwhile.
        with open(source, "rb") as src, open(dest, "xb") as out:
            shutil.copyfileobj(src, out)
        copied.append(dest)
    return copied, kept


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(root: Path = ROOT, folder: str = FOLDER, *, as_root: bool | None = None) -> list[str]:
    """The command that starts JupyterLab at the repository root, showing ``folder``.

    The root stays the repository so that links from the notebooks to the
    chapters (``../chapters/...``) open too. Run as root (``as_root``; by
    default: is this process root?), as in many containers, the command has
    ``--allow-root``, without which Jupyter refuses to start.
    """
    if as_root is None:
        as_root = _is_root()
    jupyter = Path(sys.executable).parent / "jupyter"
    command = [str(jupyter), "lab", f"--ServerApp.root_dir={Path(root).resolve()}",
               f"--FileContentsManager.preferred_dir={folder}"]
    if as_root:
        command.append("--allow-root")
    return command


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a list of strings")
    parser = argparse.ArgumentParser(prog="python -m tools workspace",
                                     description="Copy the exercise notebooks into your own folder, my-work/, "
                                                 "without ever overwriting a notebook that is already there.")
    parser.add_argument("--lab", action="store_true", help="then start JupyterLab showing that folder")
    args = parser.parse_args(argv)
    try:
        copied, kept = update(ROOT)
    except FileNotFoundError as exc:
        parser.error(str(exc))
    try:
        code = _report(copied, kept, lab=args.lab)
        sys.stdout.flush()  # a broken pipe shows here, not at the interpreter's exit
        return code
    except BrokenPipeError:
        # The reader went away (``... | head``): stop quietly. Point stdout at
        # devnull so that the interpreter's final flush does not fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 0


def _report(copied: list[Path], kept: list[Path], *, lab: bool) -> int:
    for path in copied:
        print(f"copied: {FOLDER}/{path.name}")
    if kept:
        print(f"kept as they are: {len(kept)} notebook(s) already in {FOLDER}/")
    command = lab_command(ROOT)
    if lab:
        print("starting JupyterLab (stop it with Ctrl-C) ...", flush=True)
        os.execv(command[0], command)
    print(f"Work in {ROOT / FOLDER}; no course command writes there. Open it in JupyterLab with")
    print("  " + " ".join(command))
    print(f"or, in a JupyterLab that is already running, open the folder {FOLDER}/ in the file browser.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
