"""relucourse: what a student's or practitioner's kernel imports in the ReLU course.

Installed with pip, it needs numpy and torch (``relucourse[course]`` adds what the
chapters use: matplotlib, scipy, scikit-learn, PyYAML, Altair). Importing the
package imports none of its modules; import the one you need.

Modules
-------
activations  NumPy reference implementations of activations and their derivatives
gradients    gradient statistics through depth (second moments, per-layer norms)
diagnostics  dead units in any PyTorch model: ``dead_units``, ``DeadUnitRecorder``
health       the one-call activation and gradient health report: ``health_report``
inspection   the inspection core both of them are views of (one recorder, one pass)
health_zoo   the report's calibration zoo and fault table (needs transformers)
training     small MLPs and a seeded training loop for CPU-sized experiments
experiments  the chapters' multi-seed runs on scikit-learn's digits
data         seeded datasets: generated 2-D sets and scikit-learn's bundled digits
benchmark    timing helpers and a one-line description of the machine
style        the plotting style and palette every figure uses
plots        the figures the chapters share
explorables  interactive figures (Vega-Lite, served offline)
quiz         the chapters' quick quizzes (questions in ``quizzes/*.yml``)
checking     the checker framework that exercise notebooks call
exercises    one module of checkers per chapter (``exercises.ch01`` ...)

Repository-only code (building the book, generating exercises, grading,
the syllabus) lives in the repository's ``tools/`` and is not installed.
"""

__version__ = "0.1.0"
