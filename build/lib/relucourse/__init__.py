"""relucourse: what a student's or practitioner's kernel imports in the ReLU course.

Installed with pip, it needs numpy and torch (``relucourse[course]`` adds what the
chapters use: matplotlib, scipy, scikit-learn, PyYAML, Altair). Importing the
package imports none of its modules; import the one you need.

Modules
-------
activations  NumPy reference implementations of activations and their derivatives
gradients    gradient statistics through depth (second moments, per-layer norms)
inspection   the inspection core both tools are views of: every activation, however written
diagnostics  dead units in any PyTorch model: ``dead_units``, ``DeadUnitRecorder``
health       the one-call activation and gradient health report: ``health_report``
health_zoo   the report's calibration zoo (needs ``relucourse[zoo]``: transformers)
training     the one MLP builder (``mlp``) and training loop (``train_classifier``; several
             seeds side by side: ``train_classifiers``)
experiments  the chapters' multi-seed runs on scikit-learn's digits (``digits_runs``)
data         seeded datasets: generated 2-D sets and scikit-learn's bundled digits (cached)
benchmark    timing helpers built on ``timeit`` and a one-line description of the machine
style        the plotting style and palette every figure uses
plots        the figures the chapters share
explorables  interactive figures (Vega-Lite, served offline)
quiz         the chapters' quick quizzes (questions in ``quizzes/*.yml``)
checking     the checker framework that exercise notebooks call
exercises    one module of checkers per chapter (``exercises.ch01`` ...); ``exercises.settings``
             validates the settings dicts that exercises 4.4, 4.5 and 6.1 ask for

Repository-only code (building the book, generating exercises, grading,
the syllabus) lives in the repository's ``tools/`` and is not installed.
"""

__version__ = "0.1.0"
