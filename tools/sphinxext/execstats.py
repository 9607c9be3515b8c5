"""``{execution-budget}``: how long the build's pages took to execute, against the budget.

The execution cache keeps the seconds each page took when it last ran
(``tools/book.py`` stores them when it runs the pages, two at a time, before
Sphinx reads them). ``tools/book.py`` also notes the wall time of the last run
that executed every page from scratch (:data:`tools.book.FRESH_RUN`). The
directive turns both into a short table, each number beside its budget: every
page at most :data:`tools.book.PAGE_BUDGET` seconds, the whole book at most
:data:`tools.book.BOOK_BUDGET` seconds on two cores. The page that holds it is
read again on every build, so the numbers are those of the cache as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

from tools import book


def budget_markdown(cache_path: Path) -> str:
    """The MyST text of the directive: the fresh run's wall time, then the slowest pages."""
    seconds = {page: value for page, value in book.execution_seconds(cache_path).items()
               if value is not None}
    if not seconds:
        return "No page has been executed into this build's cache yet."
    fresh_file = cache_path / book.FRESH_RUN
    fresh = json.loads(fresh_file.read_text(encoding="utf-8")) if fresh_file.is_file() else None
    mark = {True: "within", False: "**over**"}
    lines = ["| measure | seconds | budget | verdict |", "| --- | --- | --- | --- |"]
    if fresh:
        lines.append(f"| every page from scratch, {fresh['workers']} at a time "
                     f"({fresh['pages']} pages, {fresh['date']}) | {fresh['wall']:.1f} | "
                     f"{book.BOOK_BUDGET} | {mark[fresh['wall'] <= book.BOOK_BUDGET]} |")
    lines.append(f"| sum over the {len(seconds)} pages | {sum(seconds.values()):.0f} | none | - |")
    for page, value in sorted(seconds.items(), key=lambda item: -item[1])[:5]:
        lines.append(f"| {page} | {value:.1f} | {book.PAGE_BUDGET} | {mark[value <= book.PAGE_BUDGET]} |")
    return "\n".join(lines)


class ExecutionBudget(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        self.env.execution_budget_pages = getattr(self.env, "execution_budget_pages", set()) | {
            self.env.docname}
        cache = Path(self.config.nb_execution_cache_path or Path(self.env.app.outdir).parent
                     / ".jupyter_cache")
        box = nodes.container()
        text = budget_markdown(cache)
        self.state.nested_parse(StringList(text.splitlines(), source=self.env.docname),
                                self.content_offset, box)
        return box.children


def _always_read(app, env, added, changed, removed):
    return sorted(getattr(env, "execution_budget_pages", set()) - added - changed - removed)


def setup(app):
    app.add_directive("execution-budget", ExecutionBudget)
    app.connect("env-get-outdated", _always_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
