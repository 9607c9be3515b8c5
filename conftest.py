"""pytest configuration for the whole repository.

`pytest` alone runs every test, including nbval's strict re-execution of the
solutions notebooks (testpaths in pyproject.toml include solutions/). nbval is
switched on here rather than in addopts so that `-p no:nbval` still works for a
quick run of the Python tests only.
"""


def pytest_configure(config):
    option = config.option
    if hasattr(option, "nbval") and not option.nbval_lax:
        option.nbval = True             # strict comparison of stored outputs
        option.nbval_current_env = True  # run notebooks with this environment's Python


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print the score table of tests/test_mutation.py (kept in config.mutation_reports) at the end."""
    for text in getattr(config, "mutation_reports", []):
        terminalreporter.section("mutation test of the exercise checks")
        terminalreporter.write_line(text)
