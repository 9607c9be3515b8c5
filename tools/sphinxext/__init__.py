"""The book's own Sphinx extensions, loaded as one: ``local_extensions: {tools.sphinxext: ./}``.

bibstyle      bibliography labels as the chapters cite ("He et al., 2015")
markup        build-time HTML fixes for assistive technology and a clean console
hidden_tests  nbgrader's hidden-test regions left out of the pages
launch        chapter pages launch notebooks/NN_topic.ipynb in Colab and Binder
vega          the explorables' Vega scripts served from _static, loaded when needed
math          every formula rendered at build time (KaTeX through Node.js), fonts from _static
speed         page speed on the written pages: icons as inline SVG, images sized and lazy
syllabus      directives that show the chapters' front matter ({course-header}, ...)
quiz          a chapter's "Check your understanding" from its quiz file ({quiz-questions})
execstats     the pages' execution times against the budget ({execution-budget})
edition       the tag ``student`` (loaded by ``python -m tools build --student`` only)
"""

from __future__ import annotations

PARTS = ("bibstyle", "markup", "hidden_tests", "launch", "vega", "syllabus", "quiz", "execstats", "math", "speed")


def setup(app):
    for part in PARTS:
        app.setup_extension(f"tools.sphinxext.{part}")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
