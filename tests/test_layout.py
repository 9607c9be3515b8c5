"""The tree shows its three audiences, and imports go one way (README, "Layout and architecture").

- ``relucourse/`` is what a kernel imports: it never imports ``tools`` and never
  reaches for the repository around it, so it works the same when pip installs it;
  every third-party module it imports is declared in pyproject.toml (numpy and torch
  as requirements, the rest in extras), and every declared one is used.
- ``relucourse/__init__.py``'s map names every module.
- ``tests/`` holds tests and their data only.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "relucourse"
SOURCES = sorted(PACKAGE.rglob("*.py"))
#: import name -> distribution name, where they differ
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "pyyaml", "js_lib_vega_embed": "django-js-lib-vega-embed"}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, anywhere in the file (absolute imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements):
        return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}

    extras = set().union(*map(names, project.get("optional-dependencies", {}).values()))
    return names(project["dependencies"]), extras


def _third_party(path: Path) -> set[str]:
    return {name for name in _imports(path)
            if name not in sys.stdlib_module_names and name not in ("relucourse", "__future__")}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_package_never_imports_the_repository_tools(path):
    assert "tools" not in _imports(path), f"{path.relative_to(ROOT)} imports tools/"
    text = path.read_text(encoding="utf-8")
    # a path built from the package's own location upwards points into site-packages once installed
    assert not re.search(r"__file__\)?(\.resolve\(\))?\.parent\.parent|parents\[\d\]", text), \
        f"{path.relative_to(ROOT)} looks for the repository around the package"


def test_every_third_party_import_is_declared_and_every_declared_one_used():
    required, extras = _declared()
    used = set().union(*(_third_party(p) for p in SOURCES))
    used_dists = {DISTRIBUTIONS.get(name, name).lower() for name in used}
    assert required == {"numpy", "torch"}
    assert used_dists <= required | extras, f"imported but not declared: {used_dists - required - extras}"
    assert required | extras <= used_dists, f"declared but never imported: {(required | extras) - used_dists}"


def test_the_package_map_names_every_module():
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")))
    listed = set(re.findall(r"^(\w+)\s{2,}", doc, re.M))
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    modules |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert listed == modules, f"missing from the map: {modules - listed}; not modules: {listed - modules}"


def test_tests_hold_tests_only():
    support = {"conftest.py", "helpers.py"}
    for path in (ROOT / "tests").glob("*.py"):
        name = path.name
        assert name.startswith("test_") or name in support or name.startswith("answers_"), \
            f"tests/{name} is not a test module (tools belong in tools/)"
    # no command-line entry point in tests/
    entry = "__name__ == " + '"__main__"'
    for path in (ROOT / "tests").glob("*.py"):
        assert entry not in path.read_text(encoding="utf-8"), path.name


def test_one_command_line_for_the_repository_tools():
    import subprocess

    from tools.__main__ import COMMANDS

    shown = subprocess.run([sys.executable, "-m", "tools", "--help"], cwd=ROOT, capture_output=True,
                           text=True)
    assert shown.returncode == 0 and all(name in shown.stdout for name in COMMANDS)
    wrong = subprocess.run([sys.executable, "-m", "tools", "nope"], cwd=ROOT, capture_output=True,
                           text=True)
    assert wrong.returncode == 2 and "unknown command 'nope'" in wrong.stderr
    import importlib

    for name, (module, _) in COMMANDS.items():
        if module is not None:
            assert callable(importlib.import_module(f"tools.{module}").main), name
    for name in ("syllabus", "workspace", "grade", "regen", "pdf", "try", "mutation", "audit"):
        result = subprocess.run([sys.executable, "-m", "tools", name, "--help"], cwd=ROOT,
                                capture_output=True, text=True)
        assert result.returncode == 0 and "usage" in result.stdout.lower(), (name, result.stderr[-500:])


def test_no_slow_unused_package_in_the_environment():
    """tools/bootstrap.py removes what pip installs but nothing uses and that is slow to import."""
    import importlib.util

    from tools import bootstrap

    for name in bootstrap.UNUSED_AND_SLOW:
        module = name.replace("-", "_")
        assert importlib.util.find_spec(module) is None, (
            f"{name} is installed: every process that imports jsonschema then spends seconds "
            f"importing it; run `python3.11 tools/bootstrap.py` (or `pip uninstall {name}`)")


def test_installed_packages_are_compiled_to_bytecode():
    """pip installs with --no-compile and tools/bootstrap.py compiles on every core instead.
    Checked on modules that nothing in the course imports (so no import wrote their bytecode
    on the way): only the compile step of the installation can have."""
    import importlib.util

    for module in ("matplotlib.backends.backend_pgf", "torch.utils.bundled_inputs"):
        spec = importlib.util.find_spec(module)
        cached = Path(importlib.util.cache_from_source(spec.origin))
        assert cached.is_file(), (
            f"{module} has no bytecode ({cached}): run `python3.11 tools/bootstrap.py`")
