"""Sphinx extension that marks the student edition of the book.

``python -m tools build --student`` loads it; it sets the Sphinx tag ``student``,
so pages can say different things in the two editions::

    ```{only} student
    This edition has no worked solutions.
    ```
    ```{only} not student
    The worked solutions are in the Solutions part.
    ```
"""

from __future__ import annotations


def setup(app) -> dict:
    """Add the tag ``student`` (called by Sphinx when it loads the extension)."""
    app.tags.add("student")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
