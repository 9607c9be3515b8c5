"""Sphinx extension: chapter pages launch their notebook copy, not their Markdown source.

sphinx-book-theme 1.x builds each launch URL (in its ``html-page-context``
handler ``add_launch_buttons``, priority 501) from the page's own source path,
``<path_to_book>/<pagename><suffix>``, so a chapter page would open
``chapters/NN_topic.md`` in Colab, which cannot read MyST Markdown. It only
switches to ``.ipynb`` when a notebook of the same name sits next to the source,
which would make Sphinx see two documents. This handler runs after the theme's
(priority 502) and rewrites, on chapter pages only, every launch URL from
``chapters/NN_topic.md`` to ``notebooks/NN_topic.ipynb``, the copy written by
``python -m tools regen``. A missing copy fails the build. Other Markdown
pages with code cells (the landing page) lose their launch buttons: Colab cannot
open them and they hold nothing for a reader to run.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ExtensionError

from tools.chapter_notebooks import ROOT, notebook_path


def _launch_group(context: dict) -> dict | None:
    for button in context.get("header_buttons", []):
        if button.get("label") == "launch-buttons":
            return button
    return None


def point_chapters_at_notebooks(app, pagename, templatename, context, doctree) -> None:
    group = _launch_group(context)
    if group is None:
        return
    source = Path(app.env.doc2path(pagename))
    if source.suffix == ".ipynb":  # exercises and solutions: the theme's links are right
        return
    if not pagename.startswith("chapters/"):
        # Another Markdown page with code (the landing page runs only the book's own table
        # of chapters): nothing a reader would run, and Colab cannot open it; no buttons.
        context["header_buttons"].remove(group)
        return
    notebook = notebook_path(source)
    if not notebook.exists():
        raise ExtensionError(f"{notebook.relative_to(ROOT)} is missing: run "
                             ".venv/bin/python -m tools regen")
    prefix = app.config.html_theme_options.get("path_to_docs", "").strip("/")
    prefix = prefix + "/" if prefix else ""
    old = f"{prefix}{pagename}{source.suffix}"
    new = f"{prefix}{notebook.relative_to(ROOT).as_posix()}"
    for button in group.get("buttons", []):
        if "url" in button:
            if old not in button["url"]:
                raise ExtensionError(f"launch URL {button['url']!r} does not contain {old!r}: "
                                     "sphinx-book-theme changed how it builds launch URLs")
            button["url"] = button["url"].replace(old, new)


def setup(app):
    app.connect("html-page-context", point_chapters_at_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
