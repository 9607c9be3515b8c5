"""Bibliography labels in the form the chapters cite: "He et al., 2015".

The pybtex style ``rectified`` is pybtex's plain style (with its doi:/arXiv:/URL
links) and author-year labels ("Fukushima, 1969", "Nair and Hinton, 2010",
"He et al., 2015"; "2015a", "2015b" where two would read the same). The book
selects it with ``bibtex_default_style: rectified``; the chapter notebooks use
the same labels (tools/chapter_notebooks.py).
"""

from __future__ import annotations


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


def setup(app):
    """Nothing to connect: importing the module registers the pybtex style."""
    return {"parallel_read_safe": True, "parallel_write_safe": True}
