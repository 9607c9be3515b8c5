"""Build the book: the full edition, or the student edition without solutions.

    .venv/bin/python -m tools build              -> _build/html
    .venv/bin/python -m tools build --student    -> _build/student/_build/html
    .venv/bin/python -m tools build --all        (re-render every page)
    .venv/bin/python -m tools build --output /tmp/mybook   (a private build and cache)
    .venv/bin/python -m tools clean              (remove _build, execution cache included)

Both editions are built with Sphinx warnings as errors, nit-picky references and
--keep-going (so all warnings are listed before failing), and share one
execution cache, so a page whose code did not change is not executed again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
STUDENT_OUT = BUILD / "student"
HIDDEN_IN_STUDENT_EDITION = "Solutions"
#: What the book's notebook kernels find in their environment (they inherit the build's).
#: One thread for NumPy's and PyTorch's thread pools: the pages train tiny models, which
#: run fastest on one thread, and their timings compare one core with one core. A setting
#: of the build, not of the pages, so that readers do not copy it into their own work.
KERNEL_ENV = {"OMP_NUM_THREADS": "1"}


def student_toc() -> Path:
    """Write the student edition's table of contents: the main one without the Solutions part."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    toc["parts"] = [p for p in toc["parts"] if p.get("caption") != HIDDEN_IN_STUDENT_EDITION]
    path = BUILD / "_toc_student.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")
    return path


def edition_config(student: bool, cache: Path, folder: Path = BUILD) -> Path:
    """A copy of _config.yml with the execution cache at ``cache`` (and the student title)."""
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    cfg["execute"]["cache"] = str(cache)
    local = cfg.get("sphinx", {}).get("local_extensions") or {}
    for name, where in local.items():  # relative to the config file, which is written elsewhere
        local[name] = str((ROOT / where).resolve())
    if student:
        cfg["title"] = cfg["title"] + " (student edition)"
        sphinx = cfg.setdefault("sphinx", {})  # tag `student` for {only} blocks
        sphinx["extra_extensions"] = [*sphinx.get("extra_extensions", []), "tools.sphinxext.edition"]
    path = folder / f"_config_{'student' if student else 'custom'}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def static_changed(html: Path) -> bool:
    """Whether a file in _static differs from its copy in the built site ``html``.

    Sphinx copies _static only when some page is rewritten, so an edit to a
    stylesheet alone would not reach the built book; such a build re-renders all
    pages (nothing is executed again).
    """
    static = ROOT / "_static"
    if not (html / "_static").is_dir():
        return False
    for src in static.rglob("*"):
        if src.is_file():
            copy = html / "_static" / src.relative_to(static)
            if not copy.is_file() or copy.read_bytes() != src.read_bytes():
                return True
    return False


#: The pages with code, which the build executes (exercises/ are excluded in _config.yml).
EXECUTED = ("chapters/*.md", "back/*.md", "solutions/*.ipynb")
#: Seconds: what one page may take to execute, and every page from scratch on two cores
#: (the execution-statistics page shows both beside the build's own times).
PAGE_BUDGET, BOOK_BUDGET = 20, 120
#: Where pre_execute notes the wall time of its last run over every page (in the cache folder).
FRESH_RUN = "fresh_run.json"
#: Pages whose asserts compare timings: executed with the machine to themselves, so that
#: another page's work does not disturb what they measure.
ALONE = ("chapters/02_relu_function.md",)
#: How myst-nb reads each kind of page (jupyter-cache's reader plugins).
READERS = {".md": {"type": "plugin", "name": "myst_nb_md"}, ".ipynb": {"type": "plugin", "name": "nbformat"}}


def _execute_config() -> dict:
    """The ``execute:`` section of _config.yml."""
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["execute"]


def _read(path: Path):
    """The notebook of a page, read as myst-nb reads it (so that the cache's hashes match)."""
    import nbformat
    from myst_nb.core.read import read_myst_markdown_notebook

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        return read_myst_markdown_notebook(text, add_source_map=True, path=str(path))
    return nbformat.reads(text, as_version=4)


def _execute(path: Path):
    """Run one page in its own folder as the build does: (path, executed notebook or None, seconds)."""
    from jupyter_cache.executors.utils import single_nb_execution

    try:
        result = single_nb_execution(_read(path), cwd=str(path.parent), timeout=_execute_config()["timeout"],
                                     allow_errors=False, meta_override=True)
    except Exception:  # noqa: BLE001 - a kernel that would not start: the build reports it
        return path, None, 0.0
    return path, (None if result.err else result.nb), result.time


def executed_pages(student: bool = False) -> dict[Path, object]:
    """The pages the build executes, each with its notebook: :data:`EXECUTED`, without text pages
    (Markdown without a kernel) and, for the student edition, without solutions."""
    pages = {}
    for pattern in EXECUTED[:2] if student else EXECUTED:
        for path in sorted(ROOT.glob(pattern)):
            nb = _read(path)
            if path.suffix == ".ipynb" or nb.metadata.get("kernelspec"):
                pages[path] = nb
    return pages


def execution_seconds(cache_path: Path) -> dict[str, float | None]:
    """Each page the build executes now (relative path) -> seconds of its latest run in the cache.

    None when that run recorded no time. Records of pages that have gone, or no longer run
    code, are left out; a page never run into this cache is missing.
    """
    from jupyter_cache import get_cache

    latest: dict[str, tuple] = {}
    for record in get_cache(str(cache_path)).list_cache_records():
        if record.uri not in latest or record.created > latest[record.uri][0]:
            latest[record.uri] = (record.created, record.data.get("execution_seconds"))
    current = {path.as_posix() for path in executed_pages()}
    return {Path(uri).relative_to(ROOT).as_posix(): seconds
            for uri, (_, seconds) in latest.items() if Path(uri).as_posix() in current}


def pre_execute(cache_path: Path, student: bool = False, workers: int = 2) -> None:
    """Execute the pages missing from the execution cache, ``workers`` at a time, and cache them.

    jupyter-book executes pages one after another while Sphinx reads them,
    which leaves all cores but one idle. Pages found in the cache are not run
    again by the build, and the execution-statistics page shows the time each
    page took here. A page that fails is not cached: the build runs it again
    and reports the error as usual. Pages in :data:`ALONE` run first, one at a
    time; then the others in the order of :data:`EXECUTED` (the longest, chapters,
    first), so that the two workers end together. The student edition has no solutions.
    """
    from concurrent.futures import ProcessPoolExecutor

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    if _execute_config()["execute_notebooks"] != "cache":
        return                                          # only the cache mode reads what this writes
    cache = get_cache(str(cache_path))
    todo, pages = [], executed_pages(student)
    for path, nb in pages.items():
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            todo.append(path)
    if not todo:
        return
    alone = [path for path in todo if str(path.relative_to(ROOT)) in ALONE]
    print(f"executing {len(todo)} pages, {workers} at a time ({len(alone)} alone)", flush=True)

    def store(path: Path, nb, seconds: float) -> None:
        print(f"  {path.relative_to(ROOT)}: {seconds:.1f} s{'' if nb else ' FAILED'}", flush=True)
        if nb is not None:
            uri = cache.add_nb_to_project(str(path), read_data=READERS[path.suffix]).uri
            cache.cache_notebook_bundle(CacheBundleIn(nb, uri, data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)

    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for path in alone:
            store(*pool.submit(_execute, path).result())
        for result in pool.map(_execute, [path for path in todo if path not in alone]):
            store(*result)
    wall = time.perf_counter() - start
    print(f"executed in {wall:.0f} s", flush=True)
    if len(todo) == len(pages):                         # every page, from scratch
        import datetime
        import json

        (cache_path / FRESH_RUN).write_text(json.dumps({
            "pages": len(pages), "workers": workers, "wall": round(wall, 1),
            "date": datetime.date.today().isoformat()}), encoding="utf-8")


def build(student: bool = False, rebuild_all: bool = False, output: Path | None = None) -> int:
    """Run jupyter-book with warnings as errors; return its exit code.

    The student edition shares the execution cache of the build it belongs to;
    ``output`` gives a build (and cache) of its own, for building in parallel.
    """
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(ROOT), "--warningiserror", "--nitpick", "--keep-going"]
    out, cache = _edition_paths(student, output)
    if student:
        cmd += ["--toc", str(student_toc())]
    if output is not None:
        cmd += ["--config", str(edition_config(student, cache, output.resolve())), "--path-output", str(out)]
    elif student:
        cmd += ["--config", str(edition_config(True, cache)), "--path-output", str(out)]
    if rebuild_all or static_changed(out / "_build" / "html"):
        cmd.append("--all")
    start = time.perf_counter()
    os.environ.update(KERNEL_ENV)                       # for pre_execute's kernels
    sources = source_fingerprint(student)               # what the build is about to read
    record_path(out).unlink(missing_ok=True)            # no record while the site is rewritten
    pre_execute(cache, student)
    code, log = _run_and_keep_log(cmd)                  # its kernels inherit KERNEL_ENV
    seconds = time.perf_counter() - start
    edition = "student edition" if student else "full edition"
    print(f"{edition}: {'built' if code == 0 else 'FAILED'} in {seconds:.0f} s", flush=True)
    warnings = [line for line in log if WARNING_LINE.search(line)]
    record_path(out).parent.mkdir(parents=True, exist_ok=True)
    record_path(out).write_text(json.dumps({
        "edition": edition, "returncode": code, "seconds": round(seconds, 1),
        "inputs": sources + "+" + cache_fingerprint(cache), "warnings": warnings,
        "tail": log[-40:]}, indent=1), encoding="utf-8")
    return code


# --- a record of each build, so that a test can tell whether a site is current ------------------
#
# The README's first command builds the full edition; the tests (tests/test_book.py) must know
# that it built without warnings from the sources as they are, without building it again. Each
# build writes, next to its site (``_build/build-record.json``; the student edition's in
# ``_build/student/_build/``), its exit code, its warnings and a fingerprint of what it read:
# every file of the repository that git tracks or would track (contents; tests/ aside, which
# the build excludes and nothing it runs imports), the installed
# packages, the edition, and the execution cache's records. :func:`current_record` returns the
# record when all of these are unchanged, and None when the site must be built again.

#: A line of the build's output that is a warning or an error (ANSI colours removed first).
WARNING_LINE = re.compile(r"WARNING:|ERROR:|Error:|Traceback")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _edition_paths(student: bool, output: Path | None) -> tuple[Path, Path]:
    """(the folder an edition is built into, its site in ``_build/html`` below it; the execution
    cache it uses): the repository's own, or a private build's below ``output``."""
    if output is None:
        return (STUDENT_OUT if student else ROOT), BUILD / ".jupyter_cache"
    output = output.resolve()
    return (output / "student" if student else output), output / ".jupyter_cache"


def record_path(out: Path) -> Path:
    """Where the build into ``out`` (its site is ``out/_build/html``) writes its record."""
    return out / "_build" / "build-record.json"


def _run_and_keep_log(cmd: list[str]) -> tuple[int, list[str]]:
    """Run ``cmd``, printing its output as it comes; return its exit code and output lines."""
    log: list[str] = []
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace", bufsize=1) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            log.append(_ANSI.sub("", line.rstrip("\n")))
    sys.stdout.flush()
    return proc.returncode, log


def source_fingerprint(student: bool) -> str:
    """A hash of what a build reads besides the execution cache (see the section's comment)."""
    import hashlib
    from importlib import metadata

    digest = hashlib.sha256(f"{sys.version}|{Path(sys.prefix).resolve()}|student={student}".encode())
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout
    for name in sorted(set(listed.decode().split("\0")) - {""}):
        if name.startswith("tests/"):
            continue
        path = ROOT / name
        digest.update(name.encode() + b"\0")
        if path.is_file():                              # a tracked file may have been deleted
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    # a set: an editable install is found twice when the repository is on sys.path (its
    # egg-info there, its dist-info in site-packages), once otherwise
    packages = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()})
    digest.update("\n".join(packages).encode())
    return digest.hexdigest()


def cache_fingerprint(cache_path: Path) -> str:
    """A hash of the execution cache's records (not of when each was last read) and of the
    note of its last run from scratch, which the execution-statistics page shows."""
    import hashlib

    from jupyter_cache import get_cache

    digest = hashlib.sha256()
    for r in sorted(get_cache(str(cache_path)).list_cache_records(), key=lambda r: r.pk):
        digest.update(json.dumps([r.pk, r.hashkey, r.uri, str(r.created), r.data],
                                 sort_keys=True, default=str).encode())
    fresh = cache_path / FRESH_RUN
    digest.update(fresh.read_bytes() if fresh.is_file() else b"")
    return digest.hexdigest()


def current_record(student: bool = False, output: Path | None = None) -> dict | None:
    """The record of the last successful build of this edition if it was built from the
    sources, packages and execution cache as they are now; else None (build it again)."""
    out, cache = _edition_paths(student, output)
    try:
        record = json.loads(record_path(out).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if record.get("returncode") != 0 or record.get("warnings"):
        return None                                     # build it again, to show what was wrong
    if not (out / "_build" / "html" / "index.html").is_file() or static_changed(out / "_build" / "html"):
        return None
    try:
        now = source_fingerprint(student) + "+" + cache_fingerprint(cache)
    except (OSError, subprocess.CalledProcessError):   # no git here: cannot tell, so stale
        return None
    return record if record.get("inputs") == now else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the HTML book")
    b.add_argument("--student", action="store_true", help="leave out the solutions part")
    b.add_argument("--all", action="store_true", help="re-render all pages (execution cache still used)")
    b.add_argument("--output", type=Path, default=None, help="build into this folder, with its own cache")
    sub.add_parser("clean", help="remove _build (including the execution cache)")
    args = parser.parse_args(argv)
    if args.command == "clean":
        shutil.rmtree(BUILD, ignore_errors=True)
        return 0
    return build(student=args.student, rebuild_all=args.all, output=args.output)


if __name__ == "__main__":
    raise SystemExit(main())
