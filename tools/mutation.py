"""Mutation test of the exercise checks: every small wrong version of a model answer must fail a check.

For every ``solutions/NN_*.ipynb`` this finds the graded solution regions (the
code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a cell with
nbgrader ``solution: true`` whose names a later ``grade: true`` cell passes to
its checker), makes small wrong versions of that code with :mod:`ast`
(operators, constants, max/min-like calls, the returned value, a unary minus,
``True``/``False``) and runs the check cells on each in one Jupyter kernel per
notebook. A mutant is *killed* when a check cell raises (``CheckFailed``, or
any other error: the kind is recorded), or when it runs past its time limit;
it *survives* when every check cell passes. Survivors fail the test unless
``tests/mutation_equivalents.yml`` lists them, with a reason, as equivalent:
unable to change any answer the exercise allows.

Run it
------
``pytest -p no:nbval tests/test_mutation.py`` (all notebooks, two at a time),
``... -k 03`` (one notebook), ``-m "not mutation"`` (skip it), or as a command
that prints the table without failing: ``python -m tools mutation [03 05 ...]
[--list] [-v]`` (``--list`` shows the mutants without running them).

Design: the notebook's cells run once, in order, up to each region; then per
mutant the mutated solution cell and the region's check cells run, and the
model answer is put back. A mutant that runs past its time limit is
interrupted, or the kernel is restarted and the notebook replayed. Mutants are
deterministic; only regions listed in REGION_CAPS are sampled (seeded, every
operator kind kept).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import copy
import dataclasses
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents.yml"

#: At most this many mutants per solution region (sampled, seeded, every operator kind kept).
CAP = 50
#: Smaller caps for regions whose every run is slow, named by a function the region defines
#: (a name, not a measured time, so that the set of mutants is the same on every machine).
#: measure_speedup times code for about 2 s per mutant, and its mutants that make the timing
#: longer run into the time limit.
REGION_CAPS = {"measure_speedup": 12}
#: Notebooks mutated two at a time (the machine has two cores).
WORKERS = 2
#: Time limit of one mutant: this many times the unmutated run of its region, at least MIN_TIMEOUT.
TIMEOUT_FACTOR = 5.0
MIN_TIMEOUT = 10.0

KINDS = ("compare", "arithmetic", "constant", "call", "return", "unary", "boolean")

_CMP_SWAPS = {
    ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt, ast.GtE), ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,), ast.In: (ast.NotIn,), ast.NotIn: (ast.In,),
}
_BIN_SWAPS = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div, ast.Pow), ast.Div: (ast.Mult,),
    ast.Pow: (ast.Mult,), ast.FloorDiv: (ast.Div,), ast.BitOr: (ast.BitAnd,), ast.BitAnd: (ast.BitOr,),
}
_OP_TEXT = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//", ast.BitOr: "|",
    ast.BitAnd: "&",
}
#: Function or method names swapped for their counterpart (both directions).
_CALL_PAIRS = [("maximum", "minimum"), ("max", "min"), ("amax", "amin"), ("fmax", "fmin"),
               ("clamp_min", "clamp_max"), ("any", "all"), ("argmax", "argmin"),
               ("floor", "ceil"), ("sum", "mean")]
_CALL_SWAPS = {a: b for a, b in _CALL_PAIRS} | {b: a for a, b in _CALL_PAIRS}
#: Keyword arguments swapped in calls of clamp/clip.
_KEYWORD_SWAPS = {"min": "max", "max": "min"}
#: A minus added in front of the argument of these one-argument functions.
_NEGATABLE_CALLS = {"exp", "expm1", "log1p", "tanh", "sigmoid", "erf", "erfc", "relu", "silu",
                    "selu", "softplus"}


# -- finding the graded regions -----------------------------------------------------------
@dataclasses.dataclass
class Region:
    """One solution cell with graded code, and the check cells that grade it."""

    notebook: str           # stem, e.g. "03_derivatives"
    cell: int               # index of the solution cell
    source: str             # its source
    checks: list[int]       # indices of the grade cells that test names it defines
    spans: list[tuple[int, int]]  # (first, last) 1-based line numbers strictly inside BEGIN/END
    names: list[str]        # names it defines that the checks use
    check_sources: list[str] = dataclasses.field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.notebook} cell {self.cell} ({', '.join(self.names)})"


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _defined_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def _solution_spans(source: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == "### BEGIN SOLUTION":
            start = number
        elif line.strip() == "### END SOLUTION" and start is not None:
            if number - start > 1:
                spans.append((start + 1, number - 1))
            start = None
    return spans


def load_notebook(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    return cells


def find_regions(path: Path, cells: list[dict] | None = None) -> list[Region]:
    """The graded solution regions of a notebook, in cell order.

    A grade cell grades the latest solution cell before it that defines a name
    the grade cell uses (``check_x(answer)`` grades the cell that defines
    ``answer``), so an ungraded solution cell in between changes nothing.
    """
    cells = load_notebook(path) if cells is None else cells
    defined: dict[str, int] = {}
    regions: dict[int, Region] = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        meta = _nbgrader(cell)
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:     # IPython magics: not a solution or check cell
            continue
        if meta.get("grade") and not meta.get("solution"):
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            for name in sorted(used & defined.keys()):
                owner = defined[name]
                region = regions.setdefault(owner, Region(
                    path.stem, owner, cells[owner]["source"], [],
                    _solution_spans(cells[owner]["source"]), []))
                if index not in region.checks:
                    region.checks.append(index)
                    region.check_sources.append(cell["source"].strip())
                if name not in region.names:
                    region.names.append(name)
        if meta.get("solution") and "### BEGIN SOLUTION" in cell["source"]:
            for name in _defined_names(tree):
                defined[name] = index
    return [regions[i] for i in sorted(regions) if regions[i].spans]


# -- making mutants --------------------------------------------------------------------------
@dataclasses.dataclass
class Mutant:
    region: Region
    kind: str               # one of KINDS
    operator: str           # e.g. "< -> <="
    where: str              # the enclosing function, e.g. "SwiGLU.forward"
    line: str               # the original line(s), stripped
    mutated: str            # the mutated line(s), stripped
    source: str             # the whole mutated cell

    @property
    def key(self) -> tuple[str, str, str, str]:
        """How the equivalents file names a mutant: line numbers change too often, and
        comments and spacing do not matter."""
        return _key(self.region.notebook, self.where, self.line, self.mutated)

    def describe(self) -> str:
        return (f"{self.region.notebook}, cell {self.region.cell}, {self.where}: "
                f"[{self.kind}: {self.operator}]\n      - {self.line}\n      + {self.mutated}")


def _code_only(line: str) -> str:
    """``line`` without its comment (a # outside string literals) and with single spaces."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote and line[i - 1] != "\\":
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            line = line[:i]
            break
    return " ".join(line.split())


def _key(notebook: str, where: str, line: str, mutated: str) -> tuple[str, str, str, str]:
    return (notebook, where, _code_only(line), _code_only(mutated))


# Operator precedence, lowest first, to decide whether a replacement needs parentheses.
_PREC = [(ast.Lambda,), (ast.IfExp,), (ast.BoolOp,), (ast.Compare,), ((ast.BitOr,),),
         ((ast.BitXor,),), ((ast.BitAnd,),), ((ast.LShift, ast.RShift),), ((ast.Add, ast.Sub),),
         ((ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.MatMult),), (ast.UnaryOp,), ((ast.Pow,),)]


def _precedence(node: ast.AST) -> int:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return 3      # `not` binds looser than comparisons
    for level, kinds in enumerate(_PREC):
        if isinstance(kinds[0], tuple):
            if isinstance(node, ast.BinOp) and isinstance(node.op, kinds[0]):
                return level
        elif isinstance(node, kinds):
            return level
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and node.value < 0:
        return 10
    return len(_PREC)  # atoms


class _Parents:
    def __init__(self, tree):
        self.parent: dict[ast.AST, ast.AST] = {}
        self.function: dict[ast.AST, str] = {}
        self._walk(tree, None, [])

    def _walk(self, node, parent, scope):
        if parent is not None:
            self.parent[node] = parent
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = scope + [node.name]
        self.function[node] = ".".join(scope) or "(cell)"
        for child in ast.iter_child_nodes(node):
            self._walk(child, node, scope)


def _is_number(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and type(node.value) in (int, float)) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float))


def _number_value(node: ast.AST):
    return node.value if isinstance(node, ast.Constant) else -node.operand.value


def _number_node(value) -> ast.AST:
    if value < 0 or (value == 0 and str(value).startswith("-")):
        return ast.UnaryOp(ast.USub(), ast.Constant(-value))
    return ast.Constant(value)


def _callee_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_numeric_return(value: ast.AST, function: ast.AST | None) -> bool:
    """Whether ``return value`` plausibly returns a number or an array (worth scaling)."""
    if isinstance(value, (ast.Dict, ast.List, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp,
                          ast.Lambda, ast.JoinedStr, ast.Tuple, ast.GeneratorExp)):
        return False
    if isinstance(value, ast.Constant) and type(value.value) not in (int, float):
        return False
    if isinstance(value, ast.Name) and function is not None:
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == value.id for t in node.targets):
                rhs = node.value
                if isinstance(rhs, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp)):
                    return False
                if isinstance(rhs, ast.Call):
                    name = _callee_name(rhs)
                    if name and name[0].isupper():    # an object: nn.Sequential(...), a class
                        return False
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == value.id:
                return False
    return True


def _replace(source: str, node: ast.AST, new_text: str) -> tuple[str, str, str]:
    """Replace ``node``'s span in ``source`` by ``new_text``: (new source, old lines, new lines)."""
    lines = source.splitlines(keepends=True)
    first, last = node.lineno - 1, node.end_lineno - 1
    start = lines[first].encode()[:node.col_offset]
    end = lines[last].encode()[node.end_col_offset:]
    new_block = (start + new_text.encode() + end).decode()
    new_lines = lines[:first] + [new_block] + lines[last + 1:]
    old = " / ".join(line.strip() for line in lines[first:last + 1])
    new = " / ".join(line.strip() for line in new_block.splitlines())
    return "".join(new_lines), old, new


def _text(replacement: ast.AST, original: ast.AST, parent: ast.AST | None = None) -> str:
    """Source for ``replacement`` put where ``original`` was (in parentheses when needed)."""
    text = ast.unparse(ast.fix_missing_locations(replacement))
    if _is_number(replacement) and _is_number(original):
        # -c where c was: only `c ** x` and `c.attr` would bind differently
        wrap = (isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Pow)
                and parent.left is original) or (isinstance(parent, ast.Attribute)
                                                  and parent.value is original)
    else:
        operator_context = isinstance(parent, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp,
                                               ast.Attribute, ast.Subscript, ast.Await))
        wrap = operator_context and _precedence(replacement) < _precedence(original)
    return f"({text})" if wrap else text


def generate_mutants(region: Region) -> list[Mutant]:
    """Every mutant of the region's solution code, in source order, without duplicates."""
    source = region.source
    tree = ast.parse(source)
    info = _Parents(tree)
    inside = lambda n: any(a <= n.lineno and n.end_lineno <= b for a, b in region.spans)  # noqa: E731
    skip: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Expr) and isinstance(
                getattr(node, "value", None), ast.Constant)):
            skip |= set(ast.walk(node))     # f-strings and docstrings/comments-as-strings
    out: list[Mutant] = []
    seen = {source}

    def add(kind, operator, node, replacement):
        text = (replacement if isinstance(replacement, str)
                else _text(replacement, node, info.parent.get(node)))
        new_source, old, new = _replace(source, node, text)
        if new_source in seen:
            return
        try:
            ast.parse(new_source)
        except SyntaxError:
            return
        seen.add(new_source)
        out.append(Mutant(region, kind, operator, info.function[node], old, new, new_source))

    def enclosing_function(node):
        while node in info.parent:
            node = info.parent[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None

    nodes = [n for n in ast.walk(tree) if hasattr(n, "lineno") and n not in skip and inside(n)]
    nodes.sort(key=lambda n: (n.lineno, n.col_offset, -n.end_lineno, -n.end_col_offset))
    for node in nodes:
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for new_op in _CMP_SWAPS.get(type(op), ()):
                    repl = copy.deepcopy(node)
                    repl.ops[i] = new_op()
                    add("compare", f"{_OP_TEXT[type(op)]} -> {_OP_TEXT[new_op]}", node, repl)
        elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAPS:
            for new_op in _BIN_SWAPS[type(node.op)]:
                repl = copy.deepcopy(node)
                repl.op = new_op()
                add("arithmetic", f"{_OP_TEXT[type(node.op)]} -> {_OP_TEXT[new_op]}", node, repl)
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BIN_SWAPS:
            for new_op in _BIN_SWAPS[type(node.op)]:
                repl = copy.deepcopy(node)
                repl.op = new_op()
                add("arithmetic", f"{_OP_TEXT[type(node.op)]}= -> {_OP_TEXT[new_op]}=", node,
                    ast.unparse(repl))
        if _is_number(node) and not (isinstance(node, ast.Constant) and _is_number(
                info.parent.get(node)) and isinstance(info.parent.get(node), ast.UnaryOp)):
            value = _number_value(node)
            candidates = [value + 1, -value, 2 * value]
            if value == 0:
                candidates.insert(0, type(value)(1))
            if value == 1:
                candidates.insert(0, type(value)(0))
            done = {value}
            for new in candidates:
                if new in done:
                    continue
                done.add(new)
                add("constant", f"{value!r} -> {new!r}", node,
                    _number_node(new))
        if isinstance(node, ast.Constant) and type(node.value) is bool:
            add("boolean", f"{node.value} -> {not node.value}", node, ast.Constant(not node.value))
        if isinstance(node, ast.Call):
            name = _callee_name(node)
            if name in _CALL_SWAPS:
                repl = copy.deepcopy(node)
                if isinstance(repl.func, ast.Name):
                    repl.func.id = _CALL_SWAPS[name]
                else:
                    repl.func.attr = _CALL_SWAPS[name]
                add("call", f"{name} -> {_CALL_SWAPS[name]}", node, repl)
            if name in ("clamp", "clip", "clamp_"):
                for i, kw in enumerate(node.keywords):
                    if kw.arg in _KEYWORD_SWAPS:
                        repl = copy.deepcopy(node)
                        repl.keywords[i].arg = _KEYWORD_SWAPS[kw.arg]
                        add("call", f"{name}({kw.arg}=) -> {name}({_KEYWORD_SWAPS[kw.arg]}=)", node,
                            repl)
            if name in _NEGATABLE_CALLS and len(node.args) == 1 and not node.keywords:
                arg = node.args[0]
                if not (isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub)):
                    add("unary", "minus added to the argument", arg,
                        _text(ast.UnaryOp(ast.USub(), copy.deepcopy(arg)), arg, node))
        if isinstance(node, ast.UnaryOp) and not _is_number(node):
            if isinstance(node.op, (ast.USub, ast.Invert, ast.Not)):
                symbol = {ast.USub: "-", ast.Invert: "~", ast.Not: "not"}[type(node.op)]
                add("unary", f"{symbol} dropped", node, copy.deepcopy(node.operand))
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            for value in values:
                if _is_number(value) or not _is_numeric_return(value, enclosing_function(node)):
                    continue
                what = "returned value" if len(values) == 1 else "a returned element"
                add("return", f"{what} doubled", value,
                    ast.BinOp(ast.Constant(2), ast.Mult(), copy.deepcopy(value)))
                if not (isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)):
                    add("return", f"{what} negated", value,
                        ast.UnaryOp(ast.USub(), copy.deepcopy(value)))
    return out


def sample(mutants: list[Mutant], cap: int, seed: str) -> list[Mutant]:
    """At most ``cap`` mutants, deterministically: one of every operator (kind and swap) first."""
    if len(mutants) <= cap:
        return mutants
    rng = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    order = mutants[:]
    rng.shuffle(order)
    chosen, ops = [], set()
    for m in order:                      # every kind, then every operator once
        if m.kind not in {c.kind for c in chosen}:
            chosen.append(m)
    for m in order:
        op = (m.kind, re.sub(r"-?[\d.e+]+", "N", m.operator))
        if op not in ops and m not in chosen and len(chosen) < cap:
            chosen.append(m)
        ops.add(op)
    for m in order:
        if len(chosen) >= cap:
            break
        if m not in chosen:
            chosen.append(m)
    return sorted(chosen, key=mutants.index)


def cap_for(region: Region) -> int:
    return min([CAP] + [REGION_CAPS[n] for n in region.names if n in REGION_CAPS])


def mutants_of(region: Region) -> list[Mutant]:
    return sample(generate_mutants(region), cap_for(region), region.label)


# -- equivalent mutants ------------------------------------------------------------------------
def load_equivalents(path: Path = EQUIVALENTS) -> dict[tuple[str, str, str, str], str]:
    """{(notebook, where, line, mutated line): reason} from the reviewed file."""
    import yaml

    entries = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    out = {}
    for entry in entries or []:
        key = _key(entry["notebook"], entry["where"], entry["line"], entry["mutant"])
        reason = str(entry.get("reason", "")).strip()
        if not reason:
            raise ValueError(f"{path.name}: the entry for {key} gives no reason")
        out[key] = reason
    return out


# -- running mutants in a kernel -------------------------------------------------------------------
class Kernel:
    """One IPython kernel, started in the notebook's directory with one thread per library."""

    def __init__(self, cwd: Path):
        from jupyter_client.manager import KernelManager

        # RELUCOURSE_STRICT_CHECKS: a failed check raises, as under nbgrader (in a student's
        # own kernel it only reports, so that Run All goes on).
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", PYDEVD_DISABLE_FILE_VALIDATION="1",
                   MPLBACKEND="Agg", RELUCOURSE_STRICT_CHECKS="1")
        # IPC sockets in a private directory: no open TCP port, no warning about one
        # (Windows has no IPC transport: TCP there).
        self._sockets = tempfile.TemporaryDirectory(prefix="mutation-kernel-")
        if os.name == "posix":
            self.km = KernelManager(kernel_name="python3", transport="ipc",
                                    ip=os.path.join(self._sockets.name, "kernel"))
        else:
            self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(cwd), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float) -> tuple[str, str, str]:
        """Execute ``code``: ("ok" | "error" | "timeout", error name, error message)."""
        errors = []

        def hook(msg):
            if msg["msg_type"] == "error":
                errors.append(msg["content"])

        try:
            reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook,
                                                store_history=False, allow_stdin=False)
        except TimeoutError:
            return "timeout", "Timeout", f"no result within {timeout:.0f} s"
        content = reply["content"]
        if content["status"] == "ok":
            return "ok", "", ""
        err = errors[0] if errors else content
        message = "\n".join(err.get("traceback", [])) if err.get("ename") == "CheckFailed" else ""
        return "error", err.get("ename", "?"), (err.get("evalue", "") or message)

    def interrupt(self, wait: float = 10.0) -> bool:
        """Interrupt a running cell; True when the kernel answers again within ``wait`` seconds."""
        self.km.interrupt_kernel()
        try:
            return self.run("pass", timeout=wait)[0] == "ok"
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self._sockets.cleanup()

    @staticmethod
    def close_event_loop():
        """Close the asyncio loop jupyter_client made for this thread (else: ResourceWarning)."""
        from jupyter_core.utils import ensure_event_loop

        ensure_event_loop().close()


@dataclasses.dataclass
class Outcome:
    mutant: Mutant
    status: str             # "killed", "survived" or "equivalent"
    how: str                # how it was killed, e.g. "check (CheckFailed)" or "timeout"
    seconds: float
    equivalent_reason: str = ""


@dataclasses.dataclass
class NotebookResult:
    notebook: str
    outcomes: list[Outcome]
    seconds: float
    problems: list[str]     # harness problems: unmutated code failing its check, replay errors
    stale: list[tuple]      # entries of the equivalents file that match no mutant of this notebook
    empty: list[str] = dataclasses.field(default_factory=list)   # graded regions without mutants

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def _kill_kind(cell: str, status: str, ename: str, evalue: str) -> str:
    if status == "timeout":
        return f"timeout in {cell}"
    if ename == "CheckFailed":
        if "checker itself failed" in evalue:
            return "checker crashed (CheckFailed: the checker itself failed)"
        raised = re.search(r"raised (\w+)", evalue)
        if raised and "NotImplementedError" not in evalue:
            return f"check: the answer raised {raised.group(1)}"
        return "check failed"
    return f"{ename} in {cell}"


def run_notebook(path: Path, log=None, *, timeout: float | None = None,
                 equivalents_file: Path = EQUIVALENTS) -> NotebookResult:
    """Mutate every graded region of one notebook and run its checks on every mutant.

    ``timeout`` fixes every mutant's time limit (default: TIMEOUT_FACTOR times
    the unmutated region's time, at least MIN_TIMEOUT seconds).
    """
    started = time.perf_counter()
    cells = load_notebook(path)
    regions = find_regions(path, cells)
    equivalents = load_equivalents(equivalents_file)
    outcomes: list[Outcome] = []
    problems: list[str] = []
    kernel = Kernel(path.parent)
    done = 0                                  # cells [0, done) have run in the kernel

    def replay(upto: int, quiet: tuple[int, ...] = ()) -> dict[int, tuple[str, str, str]]:
        """Run the unmutated cells up to ``upto``; failures are problems, except in ``quiet``
        cells, whose results are returned."""
        nonlocal done
        results = {}
        for index in range(done, upto):
            cell = cells[index]
            if cell["cell_type"] != "code" or not cell["source"].strip():
                continue
            status, ename, evalue = kernel.run(cell["source"], timeout=300)
            results[index] = (status, ename, evalue)
            tags = cell.get("metadata", {}).get("tags", [])
            if status != "ok" and "raises-exception" not in tags and index not in quiet:
                problems.append(f"cell {index} of the unmutated notebook: {status} {ename}: "
                                f"{evalue[:200]}")
        done = max(done, upto)
        return results

    def passes(index: int) -> tuple[bool, tuple[str, str, str]]:
        """Run check cell ``index`` on the model answer; a second try if the first fails
        (a timing check may fail once on a loaded machine)."""
        for _ in range(2):
            result = kernel.run(cells[index]["source"], 300)
            if result[0] == "ok":
                return True, result
        return False, result

    def restart(upto: int) -> None:
        nonlocal kernel, done
        kernel.shutdown()
        kernel = Kernel(path.parent)
        done = 0
        replay(upto)

    try:
        for region in regions:
            replay(region.cell)
            # The unmutated region must pass, and gives the time limit of its mutants.
            t0 = time.perf_counter()
            first = replay(max(region.checks) + 1, quiet=tuple(region.checks))
            baseline = time.perf_counter() - t0
            failed = []
            for index in region.checks:
                if first.get(index, ("ok",))[0] == "ok":
                    continue
                ok, (status, ename, evalue) = passes(index)
                if not ok:
                    failed.append(f"check cell {index} ({ename}: {evalue[:300]})")
            if failed:
                problems.append(f"{region.label}: the model answer fails {'; '.join(failed)}")
                continue
            limit = timeout or max(MIN_TIMEOUT, TIMEOUT_FACTOR * baseline)
            for mutant in mutants_of(region):
                t1 = time.perf_counter()
                how = ""
                status, ename, evalue = kernel.run(mutant.source, limit)
                if status != "ok":
                    how = _kill_kind(f"the solution cell {region.cell}", status, ename, evalue)
                else:
                    for index in region.checks:
                        status, ename, evalue = kernel.run(cells[index]["source"], limit)
                        if status != "ok":
                            how = _kill_kind(f"check cell {index}", status, ename, evalue)
                            break
                if status == "timeout" and not kernel.interrupt(wait=min(10.0, limit)):
                    restart(region.cell)
                if kernel.run(region.source, 300)[0] != "ok":   # put the model answer back
                    problems.append(f"{region.label}: restoring the model answer failed")
                    restart(region.cell + 1)
                reason = equivalents.get(mutant.key, "")
                result = "killed" if how else ("equivalent" if reason else "survived")
                outcomes.append(Outcome(mutant, result, how, time.perf_counter() - t1, reason))
                if log:
                    log(f"{path.stem[:2]} c{region.cell:<3d} {time.perf_counter() - t1:5.2f}s {result:10s} "
                        f"{how or '-':30.30s} {mutant.mutated[:60]}")
            # The model answer, put back, must pass again: no mutant may leave state behind
            # that decides later outcomes.
            for index in region.checks:
                ok, (status, ename, evalue) = passes(index)
                if not ok:
                    problems.append(f"{region.label}: after its mutants the model answer fails "
                                    f"check cell {index} ({ename}); a mutant left state behind")
    finally:
        kernel.shutdown()
        Kernel.close_event_loop()
    made = {m.key for region in regions for m in generate_mutants(region)}   # before sampling
    stale = [key for key in equivalents if key[0] == path.stem and key not in made]
    empty = [r.label for r in regions if not generate_mutants(r)]
    return NotebookResult(path.stem, outcomes, time.perf_counter() - started, problems, stale, empty)


def _estimated_cost(path: Path) -> int:
    """Mutants to run, those of slow regions counted four times (only sets the order)."""
    return sum(len(mutants_of(r)) * (4 if cap_for(r) < CAP else 1) for r in find_regions(path))


def run_all(paths: list[Path], workers: int = WORKERS, log=None) -> list[NotebookResult]:
    """Run notebooks in parallel, the most expensive first."""
    order = sorted(paths, key=lambda p: -_estimated_cost(p))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {p: pool.submit(run_notebook, p, log) for p in order}
        return [futures[p].result() for p in sorted(paths)]


# -- the report ---------------------------------------------------------------------------------
def report(results: list[NotebookResult], seconds: float | None = None) -> str:
    lines = ["Mutation test of the exercise checks",
             f"{'notebook':22s} {'mutants':>7s} {'killed':>6s} {'equiv.':>6s} {'survived':>8s}"
             f" {'score':>7s} {'time':>6s}"]
    totals = [0, 0, 0, 0]
    for r in results:
        n, k, e, s = len(r.outcomes), r.count("killed"), r.count("equivalent"), r.count("survived")
        totals = [a + b for a, b in zip(totals, (n, k, e, s))]
        score = f"{100 * k / (k + s):.0f}%" if k + s else "-"
        lines.append(f"{r.notebook:22s} {n:7d} {k:6d} {e:6d} {s:8d} {score:>7s} {r.seconds:5.0f}s")
    n, k, e, s = totals
    score = f"{100 * k / (k + s):.1f}%" if k + s else "-"
    lines.append(f"{'all':22s} {n:7d} {k:6d} {e:6d} {s:8d} {score:>7s}"
                 + (f" {seconds:5.0f}s wall" if seconds is not None else ""))
    lines.append(f"score = killed / (killed + survived) = {k}/{k + s}; {e} equivalent mutants "
                 f"(listed with reasons in tests/{EQUIVALENTS.name}) are not counted.")
    kinds: dict[str, int] = {}
    for o in (o for r in results for o in r.outcomes if o.status == "killed"):
        kind = re.sub(r" in (check cell|the solution cell) \d+", r" in \1", o.how)
        kinds[kind] = kinds.get(kind, 0) + 1
    if kinds:
        lines.append("killed by: " + ", ".join(f"{kind} {n}" for kind, n in
                                                sorted(kinds.items(), key=lambda kv: -kv[1])))
    empty = [label for r in results for label in r.empty]
    if empty:
        lines.append("graded regions with nothing to mutate: " + "; ".join(empty))
    survivors = [o for r in results for o in r.outcomes if o.status == "survived"]
    if survivors:
        lines.append("")
        lines.append(f"{len(survivors)} surviving mutant(s): every check cell passed on this wrong "
                     "code. Strengthen the check so that it fails, or, if the mutant cannot change "
                     "any answer the exercise allows, add it with a reason to "
                     f"tests/{EQUIVALENTS.name}:")
        for o in survivors:
            lines.append("  " + o.mutant.describe())
            passed = "; ".join(f"{src} (cell {i})" for i, src in
                               zip(o.mutant.region.checks, o.mutant.region.check_sources))
            lines.append(f"      passed by: {passed}")
            lines.append(textwrap.indent(_yaml_entry(o.mutant), "      "))
    killed = [o for r in results for o in r.outcomes if o.status == "killed" and o.equivalent_reason]
    stale = [key for r in results for key in r.stale]
    if killed or stale:
        lines.append("")
        lines.append(f"Review tests/{EQUIVALENTS.name} (these do not fail the test):")
        for o in killed:
            lines.append(f"  listed as equivalent but killed ({o.how}): not equivalent, or the "
                         f"check is flaky, or (a timeout) only slower: {o.mutant.describe()}")
        for key in stale:
            lines.append(f"  listed but no longer generated (the solution changed): {key}")
    problems = [p for r in results for p in r.problems]
    if problems:
        lines.append("")
        lines.append("Problems with the unmutated notebooks (fix these first):")
        lines += [f"  {p}" for p in problems]
    return "\n".join(lines)


def _yaml_entry(m: Mutant) -> str:
    import yaml

    entry = [{"notebook": m.region.notebook, "where": m.where, "line": m.line, "mutant": m.mutated,
              "reason": "WHY this cannot change any answer the exercise allows"}]
    return yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, width=1000).rstrip()


def notebooks(selection: list[str] | None = None) -> list[Path]:
    paths = sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
    if selection:
        paths = [p for p in paths if any(p.stem.startswith(s) or s in p.stem for s in selection)]
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or names, e.g. 03 05 (default: all)")
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every outcome")
    args = parser.parse_args(argv)
    paths = notebooks(args.notebooks)
    if args.list:
        for path in paths:
            for region in find_regions(path):
                every = generate_mutants(region)
                chosen = mutants_of(region)
                print(f"{region.label}: {len(chosen)} of {len(every)} mutants, checks "
                      f"{region.checks}")
                for m in chosen:
                    print("  " + m.describe())
        return 0
    t0 = time.perf_counter()
    results = run_all(paths, log=print if args.verbose else None)
    print(report(results, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
