"""relucourse: the small Python package behind the ReLU course.

Modules
-------
checking     the checker framework that exercise notebooks call
exercises    one module of checkers per chapter (``exercises.ch01`` ...)
activations  NumPy reference implementations of activations and their derivatives
style        the plotting style every figure uses
data         seeded datasets: generated 2-D sets and scikit-learn's bundled digits
training     small MLPs and a seeded training loop for CPU-sized experiments
syllabus     chapter metadata (objectives, prerequisites, time) read from front matter
authoring    generates exercises/ from solutions/ with nbgrader's preprocessors
"""

__version__ = "0.1.0"
