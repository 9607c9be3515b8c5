"""Markup fixes for assistive technology and a clean console, made at build time.

They hold without JavaScript too:

* each script is included once (sphinx-thebe's and sphinx-togglebutton's inline
  configuration scripts were added twice; the second ``const THEBE_JS_URL`` threw);
* the bibliography's entries are list items of its ``role="list"`` (they were
  ``doc-biblioentry``, which a list may not contain);
* "Show code cell source" toggles are named by what they show (their aria-label
  "Toggle hidden content" did not contain the visible text);
* the content of each exercise and solution box is a section with a class instead of
  the same ``id`` on every box (sphinx-exercise gave them all ``exercise-content`` or
  ``solution-content``; an id must be unique in a page);
* a table whose top-left header cell is empty has row headings in its first
  column: those cells become ``<th scope="row">`` (each data cell then has a header).
"""

from __future__ import annotations

import re

_BIBLIOENTRY = re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"')
_TOGGLE_LABEL = '<summary aria-label="Toggle hidden content">'
_BOX_CONTENT = re.compile(r'<section id="(exercise|solution)-content">')
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_EMPTY_CORNER = re.compile(r'<thead>\s*<tr[^>]*>\s*<th class="head"[^>]*>(<p></p>)?</th>')
_FIRST_CELL = re.compile(r'(<tr class="row-(?:odd|even)">\s*)<td>(.*?)</td>', re.S)


def _row_headings(match: re.Match) -> str:
    table = match.group(0)
    if not _EMPTY_CORNER.search(table) or "<tbody>" not in table:
        return table
    head, body = table.split("<tbody>", 1)
    return head + "<tbody>" + _FIRST_CELL.sub(r'\1<th scope="row">\2</th>', body)


def _page_context(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        seen, unique = set(), []
        for js in scripts:
            # the same inline script is added once with filename None and once with ''
            key = (getattr(js, "filename", js) or "",
                   tuple(sorted((getattr(js, "attributes", None) or {}).items())))
            if key not in seen:
                seen.add(key)
                unique.append(js)
        context["script_files"] = unique
    body = context.get("body")
    if body:
        body = _BIBLIOENTRY.sub(r'\1 role="listitem"', body)
        body = body.replace(_TOGGLE_LABEL, "<summary>")
        body = _BOX_CONTENT.sub(r'<section class="\1-content">', body)
        body = _TABLE.sub(_row_headings, body)
        context["body"] = body


def setup(app):
    """Fix each HTML page's scripts and markup before it is written."""
    app.connect("html-page-context", _page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
