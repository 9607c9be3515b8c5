"""Sphinx extension for how the book meets its readers (named in _config.yml).

It lives in the package (not in a folder of the book) so that every build finds it,
whichever folder its configuration file is written to.

- Bibliography labels in the form the chapters cite in ("He et al., 2015"), with the
  plain style's DOI/arXiv/URL links: the pybtex style ``rectified``.
- Markup fixes for assistive technology and a clean console, made at build time so
  they hold without JavaScript too:
  * each script is included once (sphinx-thebe's and sphinx-togglebutton's inline
    configuration scripts were added twice; the second ``const THEBE_JS_URL`` threw);
  * the bibliography's entries are list items of its ``role="list"`` (they were
    ``doc-biblioentry``, which a list may not contain);
  * "Show code cell source" toggles are named by what they show (their aria-label
    "Toggle hidden content" did not contain the visible text);
  * a table whose top-left header cell is empty has row headings in its first
    column: those cells become ``<th scope="row">`` (each data cell then has a header).
- The nbgrader hidden-test region of a check cell (``### BEGIN HIDDEN TESTS`` to
  ``### END HIDDEN TESTS``), which only graded runs need, is left out of the pages:
  a reader of a solutions page sees the check call, as a student does.
"""

from __future__ import annotations

import re
from collections import Counter

from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    """A person's last name(s) as plain text ("von Neumann", "LeCun")."""
    return " ".join(part.render_as("text") for part in person.rich_prelast_names + person.rich_last_names)


class AuthorYearLabels(BaseLabelStyle):
    """Labels as the chapters cite: "Fukushima, 1969", "Nair and Hinton, 2010",
    "He et al., 2015"; "2015a", "2015b" where two would read the same."""

    def format_label(self, entry) -> str:
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_surname(p) for p in people]
        if not names:
            who = entry.fields.get("organization") or entry.fields.get("key") or entry.key
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        if len(people) == 2 and str(people[1]) == "others":
            who = f"{names[0]} et al."
        return f"{who}, {entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self.format_label(e) for e in sorted_entries]
        count = Counter(labels)
        seen: Counter = Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label]]
                seen[label] += 1


class RectifiedStyle(PlainStyle):
    """pybtex's plain style (with its doi:/arXiv:/URL links) and author-year labels."""

    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.formatting", "rectified", RectifiedStyle)

_BIBLIOENTRY = re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"')
_TOGGLE_LABEL = '<summary aria-label="Toggle hidden content">'
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
        body = _TABLE.sub(_row_headings, body)
        context["body"] = body


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
    """Register with Sphinx: fix each HTML page's scripts and markup before it is written."""
    app.connect("html-page-context", _page_context, priority=900)
    app.connect("doctree-read", _drop_hidden_tests)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
