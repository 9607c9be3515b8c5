"""pytest configuration for the whole repository.

`pytest` alone runs every test, including nbval's strict re-execution of the
solutions notebooks (testpaths in pyproject.toml include solutions/). nbval is
switched on here rather than in addopts so that `-p no:nbval` still works for a
quick run of the Python tests only. `-n 0` runs everything in one process.
"""

import pytest


def pytest_configure(config):
    import os

    from tools.book import KERNEL_ENV

    # Every kernel the tests start (nbval's, nbgrader's, the mutation test's, the workspace
    # test's) inherits this: one thread each, as the book's build runs its pages.
    os.environ.update(KERNEL_ENV)
    option = config.option
    if hasattr(option, "nbval") and not option.nbval_lax:
        option.nbval = True             # strict comparison of stored outputs
        option.nbval_current_env = True  # run notebooks with this environment's Python


MUTATION_REPORTS: list[str] = []


def pytest_runtest_logreport(report):
    """Keep the score table that tests/test_mutation.py hands on as a user property."""
    if report.when == "call":           # the teardown's report carries the same properties
        MUTATION_REPORTS.extend(value for name, value in report.user_properties
                                if name == "mutation report")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the score table of tests/test_mutation.py at the end."""
    for text in MUTATION_REPORTS:
        terminalreporter.section("mutation test of the exercise checks")
        terminalreporter.write_line(text)


# ---------------------------------------------------------------------------------------------
# Two workers (pytest-xdist, `-n 2` in pyproject.toml): the CI machine has two cores.
# A test file is one unit of work, so its module fixtures (a built course, a browser) are
# made once; the files that read the built book form one unit with tests/test_book.py,
# which builds it (and is the first to build the student edition), so nothing reads a
# page while it is written. When the full edition is current (its build record matches
# the sources: tools/book.py current_record), tests/test_book.py only reads it and builds
# just the student edition, which only tests/test_browser.py reads: then the files that
# read the full edition alone (SITE_READERS) are units of their own, free to run on the
# other worker. The units start longest first, so both workers end together.
# ---------------------------------------------------------------------------------------------

#: Files that use the built book, in the order they run (one after another, on one worker).
SITE = ("tests/test_book.py", "tests/test_browser.py", "tests/test_explorables.py", "tests/test_publish.py")
#: Files of SITE that read only the full edition (_build/html), and never write it.
SITE_READERS = ("tests/test_explorables.py", "tests/test_publish.py")
#: tests/test_nbgrader.py is two units: the tests of every assignment's autograding (these
#: use its ``results`` fixture) and the instructor's path (the ``instructor`` fixture and the
#: rest). A test of the first kind left out here still passes, at the cost of a second
#: ``results`` on the other worker.
NBGRADER_RESULTS = ("test_autograde_scores_every_check_exactly",
                    "test_edited_and_deleted_check_cells_are_restored",
                    "test_feedback_is_generated_for_every_submission",
                    "test_a_loop_is_stopped_by_the_timeout",
                    "test_every_assignments_feedback_typesets_offline_and_fits")
#: Units that take longest, longest first (measured with --durations=0); the rest follow in
#: the usual order.
LONGEST = ("tests/test_nbgrader.py", "site", "nbgrader: the instructor's path", "tests/test_package.py",
           "tests/test_mutation.py", "tests/test_workspace.py", "tests/test_pipeline.py")


def unit_of(nodeid: str, full_edition_current: bool = False) -> str:
    """The unit of work a test belongs to: its file, or a unit named above. The files of
    SITE_READERS are units of their own when the full edition is current (see above)."""
    path, _, test = nodeid.partition("::")
    if path in SITE_READERS and full_edition_current:
        return path
    if path in SITE:
        return "site"
    if path == "tests/test_nbgrader.py" and not test.startswith(NBGRADER_RESULTS):
        return "nbgrader: the instructor's path"
    return path


def pytest_collection_modifyitems(session, config, items):
    rank = {unit: i for i, unit in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(unit_of(item.nodeid), len(rank)))  # stable sort


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    from tools import book

    # Decided once, here (the controller), before any test runs: tests/test_book.py builds
    # the full edition again only if this finds it stale (the sources would have to change
    # while the tests run for the two to disagree).
    current = book.current_record(student=False) is not None

    class Units(LoadScopeScheduling):
        """xdist's per-file scheduling, with the SITE files as one unit (or, when the full
        edition is current, SITE_READERS as units of their own), in collection order."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid, current)

    config.option.loadscopereorder = False      # keep LONGEST's order, not "most tests first"
    return Units(config, log)
