"""MyST roles as the text a reader sees: one function for every plain-text copy.

The syllabus command (plain text, Markdown, CSV) and the chapter notebooks for
Colab (tools/chapter_notebooks.py) both turn the book's roles into text with
:func:`roles_as_text`; each says only how a page reference and a citation read.
"""

from __future__ import annotations

import re
from typing import Callable

ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<body>[^`]*)`")
_EXPLICIT = re.compile(r"(?P<text>.*?)\s*<(?P<target>[^<>]*)>", re.S)


def roles_as_text(text: str, *,
                  doc: Callable[[str, str | None], str] | None = None,
                  cite: Callable[[str, str], str] | None = None) -> str:
    """Replace every MyST role in ``text`` by its reading.

    Args:
        text: MyST Markdown.
        doc: how ``{doc}`` reads, given the target and the explicit text (or
            None); default: the explicit text, else the target.
        cite: how ``{cite:t}``/``{cite:p}`` read, given "t" or "p" and the keys;
            default: the keys.

    Returns:
        The text with every role replaced; any other role (``{term}``, ...)
        reads as its explicit text, else its content.

    >>> roles_as_text("{term}`ReLU` and {doc}`the basics <01_x>`")
    'ReLU and the basics'
    """

    def replace(match: re.Match) -> str:
        role, body = match.group("role"), match.group("body")
        if role.startswith("cite"):
            kind = role.partition(":")[2] or "p"
            return cite(kind, body) if cite else body
        explicit = _EXPLICIT.fullmatch(body)
        shown, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, body)
        if role == "doc" and doc is not None:
            return doc(target, shown)
        return shown if shown is not None else body

    return ROLE.sub(replace, text)
