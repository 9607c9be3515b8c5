"""Repository-only code of the course: everything that is not imported by a notebook's kernel.

Run from the repository root as one command line, ``python -m tools <command>``
(``python -m tools --help`` lists them). Imports go one way: ``tools`` imports
``relucourse`` (the package students and practitioners install), never the
reverse; nothing here is installed by pip.

Modules
-------
bootstrap        the README's first command (standard library only; a script)
book             build the book, full or student edition (``build``)
authoring        solutions/ -> exercises/ with nbgrader's preprocessors (``regen``)
chapter_notebooks chapters/ -> notebooks/ for Colab and Binder (``regen``)
grading          an nbgrader course folder from solutions/ (``grade``)
nbgrader_course  what nbgrader runs for the course: zip_collect plugin, feedback page
workspace        the student's my-work/ folder (``workspace``)
syllabus         chapters' front matter as a syllabus (``syllabus``)
myst             MyST roles as plain text (syllabus, chapter notebooks)
site             serve a built site on 127.0.0.1 (gzip on request) and launch Chromium ($CHROMIUM)
pdf              the built book as one PDF (``pdf``)
browser_audit    opens every built page in Chromium: console, axe, layout (``audit``)
bench_pages      Lighthouse page-speed table, mobile and desktop (``bench``)
mutation         the mutation test engine of the exercise checks (``mutation``)
try_page         run one page's cells and print what each printed (``try``)
sphinxext        the book's Sphinx extensions (one package, loaded by _config.yml)
"""
