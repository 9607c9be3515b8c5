"""``python -m tools <command> [arguments]``: the repository's one command line.

Each command is a module of this package; ``python -m tools <command> --help``
shows its own arguments.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "build": ("book", "build the book (full or --student edition) into _build/"),
    "clean": ("book", "remove _build/, the execution cache included"),
    "regen": (None, "regenerate exercises/ from solutions/ and notebooks/ from chapters/"),
    "grade": ("grading", "lay out an nbgrader course folder from solutions/ (grade init)"),
    "workspace": ("workspace", "copy the exercises into my-work/ (a student's own folder)"),
    "syllabus": ("syllabus", "print objectives, prerequisites and times of every chapter"),
    "pdf": ("pdf", "print the built book to one PDF"),
    "audit": ("browser_audit", "open every built page in Chromium and report problems"),
    "bench": ("bench_pages", "Lighthouse page-speed table of the built book (mobile and desktop)"),
    "mutation": ("mutation", "mutation test of the exercise checks (prints the table)"),
    "try": ("try_page", "run one page's cells and print each cell's output"),
    "bench-health": ("bench_health", "time and peak memory of the health report vs a plain pass"),
}


def regen(argv: list[str]) -> int:
    """Exercises from solutions (tools.authoring), then chapter notebooks (tools.chapter_notebooks).

    ``--check`` reports what is out of date (exit 1) and writes nothing;
    ``--execute [NN ...]`` re-runs those solutions notebooks first.
    """
    from tools import authoring, chapter_notebooks

    first = authoring.main(argv)
    second = chapter_notebooks.main(["--check"] if "--check" in argv else [])
    return first or second


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: python -m tools <command> [arguments]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = COMMANDS[name][0]
    if module is None:
        return regen(rest)
    main_of = importlib.import_module(f"tools.{module}").main
    sys.argv[0] = f"python -m tools {name}"
    if module == "book":  # its own command line has the subcommands build and clean
        rest = [name, *rest]
    return main_of(rest) or 0


if __name__ == "__main__":
    raise SystemExit(main())
