"""First command of the README: create .venv, install everything, build the book.

Usage (from the repository root, with Python 3.11):

    python3.11 tools/bootstrap.py

It is safe to run again: an existing .venv is reused and pip only installs what
is missing. The book's build also needs Node.js (KaTeX renders every formula when
the book is built): ``npm ci`` installs the pinned npm packages of tools/package.json
into tools/node_modules (KaTeX; without ``--omit=dev`` also Lighthouse, for the
page-speed benchmark ``python -m tools bench``). The browser tests (tests/test_browser.py) need Debian's Chromium: when
/usr/bin/chromium is missing it is installed with apt-get if this runs as root,
and otherwise the command to install it is printed. It ends by printing where the
built book's index.html is.
Only the standard library is used here, since nothing else is installed yet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests when it is missing (as root)."""
    if CHROMIUM.exists():
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if is_root and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, env=env)
    else:
        print(f"\nChromium is missing at {CHROMIUM}; the browser tests will fail until it is installed:\n"
              f"    sudo sh -c '{CHROMIUM_INSTALL}'\n", flush=True)


#: Installed by pip with jsonschema's "format-nongpl" extra (jupyter-events asks for it), used
#: by nothing here, and slow to import: it builds some 35 Earley parsers when imported, and
#: jsonschema imports it whenever it is installed. Every process that imports jsonschema (each
#: page's kernel, through myst-nb's glue or altair; nbformat; every nbgrader command) paid
#: 1.5-2.5 s of CPU for it. Without it jsonschema only skips checking the "iri" formats.
UNUSED_AND_SLOW = ("rfc3987-syntax",)

NODE_DIR = ROOT / "tools"

#: pip compiles every installed module to bytecode one file after another (about 50 s of
#: CPU here, most of it torch); skipping it only moves the cost into the first kernels of
#: the build. So pip installs with --no-compile and the standard library's compileall does
#: the same work on every core. As with pip, a file that does not compile (torch ships a
#: test helper in Python 3.12 syntax) is skipped, not an error.
COMPILE = ("import compileall, os, sysconfig; "
           "[compileall.compile_dir(d, quiet=2, workers=os.cpu_count() or 1) "
           "for d in sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})]")


def compile_bytecode() -> None:
    """Compile the virtual environment's packages to bytecode, in parallel."""
    print("+ compileall (every core) on the virtual environment's site-packages", flush=True)
    subprocess.run([str(PY), "-c", COMPILE], cwd=ROOT, check=True)


def ensure_node_packages() -> None:
    """``npm ci`` in tools/ when its packages are missing or older than the lock file."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("Node.js and npm are needed to build the book (KaTeX renders the formulas "
                         "at build time): install Node.js 20 (Debian: apt-get install nodejs npm)")
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    run(npm, "ci", "--prefix", NODE_DIR, "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error")


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print(f"warning: the course is pinned and tested on Python 3.11; this is {sys.version.split()[0]}",
              flush=True)
    start = time.perf_counter()
    if not PY.exists():
        print(f"creating the virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "-r", "requirements.txt")
    run(PY, "-m", "pip", "uninstall", "--quiet", "--yes", *UNUSED_AND_SLOW)
    compile_bytecode()
    ensure_chromium()
    ensure_node_packages()
    run(PY, "-m", "tools", "build")
    print(f"\nSet-up and build took {time.perf_counter() - start:.0f} s.")
    print(f"The book is at {ROOT / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except subprocess.CalledProcessError as err:
        print(f"\nfailed: {' '.join(map(str, err.cmd))} (exit code {err.returncode})", file=sys.stderr)
        raise SystemExit(1)
