"""Serve a built site on 127.0.0.1 and launch Debian's Chromium: the one harness.

Used by tools/pdf.py (printing), tools/browser_audit.py (tests/test_browser.py),
tests/test_explorables.py and tools/bench_pages.py (Lighthouse):

    with serve(site, gzip=True) as base:      # base = "http://127.0.0.1:PORT/"
        browser = launch(playwright)          # sync or async Playwright

Chromium is the ``CHROMIUM`` environment setting, or ``/usr/bin/chromium``
(Debian's package ``chromium``); Playwright never downloads a browser here.
With ``gzip=True`` text files (HTML, CSS, JavaScript, JSON, SVG) are sent
gzip-compressed to a client that accepts it, as GitHub Pages serves them, so
that byte counts and Lighthouse's timings are those a reader gets.
"""

from __future__ import annotations

import contextlib
import functools
import gzip as gzip_module
import http.server
import io
import os
import shutil
import threading
from pathlib import Path
from typing import Iterator

DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
INSTALL_HINT = (
    "Debian's Chromium is needed and was not found at {path}. "
    "Install it with `python3.11 tools/bootstrap.py` (as root it runs "
    "`apt-get update && apt-get install -y chromium`), or run those two commands "
    "yourself (with sudo if you are not root), or point the CHROMIUM environment "
    "variable at a Chromium executable."
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
#: What a static host compresses (GitHub Pages compresses these types; fonts
#: in woff2 and PNG images are compressed already).
COMPRESSED = {".html", ".css", ".js", ".json", ".svg", ".txt", ".map", ".xml", ".inv"}


def chromium_path(explicit: str | os.PathLike | None = None) -> str:
    """The Chromium executable: ``explicit``, else $CHROMIUM, else /usr/bin/chromium."""
    return str(explicit or os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM)


def chromium_problem(explicit: str | None = None) -> str | None:
    """None when Chromium is there, else a message that says how to install it."""
    exe = chromium_path(explicit)
    if shutil.which(exe) is None and not Path(exe).is_file():
        return INSTALL_HINT.format(path=exe)
    return None


def launch(playwright, explicit: str | None = None, **options):
    """``playwright.chromium.launch`` with Debian's Chromium and the harness's flags.

    Works with the sync and the async API (await the result of the latter).

    Raises:
        SystemExit: Chromium is not installed (with how to install it).
    """
    problem = chromium_problem(explicit)
    if problem:
        raise SystemExit(problem)
    options.setdefault("headless", True)
    return playwright.chromium.launch(executable_path=chromium_path(explicit),
                                      args=LAUNCH_ARGS, **options)


class _Handler(http.server.SimpleHTTPRequestHandler):
    gzip = False
    _cache: dict = {}

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (self.gzip and accepts and path.suffix in COMPRESSED and path.is_file()):
            return super().send_head()
        key = (str(path), path.stat().st_mtime_ns)
        body = self._cache.get(key)
        if body is None:
            body = gzip_module.compress(path.read_bytes(), compresslevel=6, mtime=0)
            self._cache[key] = body
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(folder: str | os.PathLike, *, gzip: bool = False) -> Iterator[str]:
    """Serve ``folder`` from a thread on a free port of 127.0.0.1; yield its base URL.

    Args:
        folder: the built site (the folder with index.html).
        gzip: compress text files for clients that accept gzip.
    Yields:
        The base URL, ending in "/".
    """
    handler = type("Handler", (_Handler,), {"gzip": gzip, "_cache": {}})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.site [SITE] [--gzip]``: serve a built site until Ctrl+C."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("site", nargs="?", default=str(Path(__file__).resolve().parent.parent
                                                        / "_build" / "html"))
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args(argv)
    with serve(args.site, gzip=args.gzip) as base:
        print(f"serving {args.site} at {base} (Ctrl+C stops)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
