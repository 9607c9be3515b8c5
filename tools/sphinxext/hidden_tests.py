"""Leave nbgrader's hidden-test regions out of the pages.

The region of a check cell from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN
TESTS`` only matters to graded runs: a reader of a solutions page sees the
check call, as a student does.
"""

from __future__ import annotations

import re

_HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?",
                           re.S | re.M)


def _drop_hidden_tests(app, doctree) -> None:
    """Leave nbgrader's hidden-test regions out of the code shown on a page."""
    from docutils import nodes

    for block in list(doctree.findall(nodes.literal_block)):
        text = block.astext()
        if "### BEGIN HIDDEN TESTS" not in text:
            continue
        shown = _HIDDEN_TESTS.sub("", text)
        block.children = [nodes.Text(shown)]
        block.rawsource = shown


def setup(app):
    app.connect("doctree-read", _drop_hidden_tests)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
