"""Grade submitted lab notebooks: run each one, count the checks that pass.

    python exercises/grade.py SUBMISSIONS [--csv scores.csv] [--feedback DIR] [--jobs 4]
                              [--timeout 600] [--cell-timeout 120]

Every ``*.ipynb`` under SUBMISSIONS (any layout; the first folder under it is
the student's id, e.g. ``submissions/ada/lab1.ipynb`` is ``ada``) is graded
against the teacher's copy of its lab, which is read into memory before any
submission runs:

* the lab is found from the notebook's metadata (or, when that was stripped,
  from its cells); a notebook whose lab cannot be told, or whose check cells
  were removed, is *refused*: 0 points and the reason;
* the notebook that runs is the teacher's, with the learner's answer cells
  (and any cells they added) in their places: check cells, the check helpers
  and the set-up cells are the teacher's, whatever the submission holds;
* it runs in a fresh kernel in an empty temporary folder, with a time limit
  per cell and for the whole notebook, limits on memory, file size and
  processes, and every process it started is killed at the end;
* a check passes only when the kernel's reply to its cell is ``ok``, the
  grader's runtime inside the kernel (``gradekernel.py``) reported that the
  teacher's check ran to the end with nothing it relies on replaced, and the
  cell wrote nothing to stderr (nbgrader scores such a cell 0 too).

Output: a table (checks and points per notebook, then each failure in full),
``--csv`` (one row per notebook: student, totals, one column per check),
``--feedback`` (one HTML page per notebook for the student: every cell as it
ran, with the checks' output), and *flags*: lines of learner code that reach
into the kernel, the interpreter or the file system (``get_ipython``, ``sys``,
``gc``, ``os._exit``, ``__eq__`` ...), which an honest answer never needs.
``exercises/README.md`` says exactly what the grader guarantees and what not.
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import html
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import symtable
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
MIME = "application/vnd.minirpc.check+json"  # what gradekernel.py publishes when a check ran to the end
MAX_NOTEBOOK_BYTES = 20 << 20  # a submission larger than this is refused unread
MAX_CELL_OUTPUT = 100_000  # characters of output kept per cell (the rest is cut, with a note)
DEFAULT_CELL_SECONDS = 120.0
DEFAULT_NOTEBOOK_SECONDS = 600.0

# CPython 3.11's ast.parse keeps its recursion counter in the interpreter's AST state, one for every thread:
# two threads parsing at once, with the garbage collector running Python code in between (a finalizer, a gc
# callback), can trip it, and the parse fails with "SystemError: AST constructor recursion depth mismatch".
# With --jobs N the grader works on N notebooks in N threads, so by design (1) the teacher's cells are parsed
# once, in load_labs, before any thread starts, and (2) the one parse left in the threads, of the learner's
# code for the flags, goes through _parse, under this lock.  Parse nowhere else.
_PARSING = threading.Lock()


def _parse(source: str) -> ast.Module:
    """ast.parse(source), one thread at a time (see _PARSING)."""
    with _PARSING:
        return ast.parse(source)


# -- the teacher's copy -----------------------------------------------------------------------------------------

def is_check(cell) -> bool:
    return cell.cell_type == "code" and (
        "check" in cell.metadata.get("tags", []) or bool(cell.metadata.get("nbgrader", {}).get("grade", False)))


def is_answer(cell) -> bool:
    nbgrader = cell.metadata.get("nbgrader", {})
    return bool(nbgrader.get("solution", False)) and not (cell.cell_type == "code" and nbgrader.get("grade"))


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@dataclass
class CheckSpec:
    grade_id: str
    points: float
    source: str
    seconds: float | None  # the cell's own time limit, if the teacher set one


@dataclass
class Lab:
    """One lab as the teacher wrote it: solution.ipynb, read once."""

    name: str
    solution: nbformat.NotebookNode
    checks: list[CheckSpec]
    answers: set[str]  # grade_ids of the learner's cells
    stubs: dict[str, nbformat.NotebookNode]  # grade_id -> the student copy's cell (used when a learner deleted one)
    requires: list[str] = field(default_factory=list)  # programs the lab needs on the grading machine, e.g. ["go"]
    serial: bool = False  # timing-sensitive: graded alone, with no other notebook running
    # What the teacher's own cells (set-up, helpers, demos: not answers, not checks) do, read once here so that
    # no grading thread parses them (see _PARSING):
    binds: dict[str, list[str]] = field(default_factory=dict)  # a cell's source -> the top-level names it binds
    imports: list[str] = field(default_factory=list)  # the modules they and the checks import
    reads: list[str] = field(default_factory=list)  # names their functions and the checks read, but the answers' own

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


def _make_student():
    sys.path.insert(0, str(HERE))
    try:
        import make_student
    finally:
        sys.path.remove(str(HERE))
    return make_student


def load_labs(labs_dir: Path = HERE) -> dict[str, Lab]:
    """Every lab under ``labs_dir`` (a folder holding a solution.ipynb), read into memory."""
    make_student = _make_student()
    labs = {}
    for path in sorted(labs_dir.glob("*/solution.ipynb")):
        solution = nbformat.read(path, as_version=4)
        student = make_student.make_student(solution)
        meta = solution.metadata.get("minirpc", {})
        name = meta.get("lab", path.parent.name)
        checks = [CheckSpec(grade_id(c), float(c.metadata["nbgrader"].get("points", 1)), c.source,
                            c.metadata.get("minirpc", {}).get("timeout")) for c in solution.cells if is_check(c)]
        teacher = [c.source for c in solution.cells if is_teacher_code(c)]
        not_answers = [c.source for c in solution.cells if c.cell_type == "code" and not is_answer(c)]
        answer_names = {name for c in solution.cells if c.cell_type == "code" and is_answer(c)
                        for name in _bound_names(c.source)}
        labs[name] = Lab(name, solution, checks, {grade_id(c) for c in solution.cells if is_answer(c)},
                         {grade_id(c): c for c in student.cells if grade_id(c)}, list(meta.get("requires", [])),
                         bool(meta.get("serial", False)), binds={source: _bound_names(source) for source in teacher},
                         imports=_imports(not_answers),
                         reads=sorted(set(_global_reads(teacher, [c.source for c in checks])) - answer_names))
    return labs


def is_teacher_code(cell) -> bool:
    """A code cell of the teacher's that runs in the notebook's own namespace: not an answer, not a check."""
    return cell.cell_type == "code" and not is_answer(cell) and not is_check(cell)


def _bound_names(source: str) -> list[str]:
    """Top-level names a (teacher's) cell binds."""
    try:
        tree = _parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"]
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return names


def _imports(sources: list[str]) -> list[str]:
    """The modules these cells import (imported before any learner code runs, for a true fingerprint)."""
    modules = []
    for source in sources:
        try:
            tree = _parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.append(node.module)
    return sorted(set(modules))


def _global_reads(teacher: list[str], checks: list[str]) -> list[str]:
    """The names the teacher's code looks up in the notebook's namespace while a check runs.

    That is the globals read by the functions and methods the teacher's cells define (they find their globals
    in the notebook's namespace when they are called), and the names a check cell reads at its top level or in
    the functions it defines, but not the names it binds itself.  While a check runs, the grader's runtime
    gives these names what the teacher's cells bound them to, or the built-in (gradekernel.Runtime.run).  A
    name a function declares ``global`` and assigns is its own state, and is left out.
    """
    names = set()

    def function_reads(table, inside_function=False):
        found = set()
        if inside_function:
            found |= {s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced()
                      and not (s.is_declared_global() and s.is_assigned())}
        for child in table.get_children():
            found |= function_reads(child, inside_function or child.get_type() == "function")
        return found

    for source, is_check_cell in [(t, False) for t in teacher] + [(c, True) for c in checks]:
        try:
            with _PARSING:
                table = symtable.symtable(source, "<cell>", "exec")
        except SyntaxError:
            continue
        found = function_reads(table)
        if is_check_cell:  # a check runs at its top level, in a namespace of its own
            found |= {s.get_name() for s in table.get_symbols() if s.is_referenced() and not s.is_local()}
            found -= {s.get_name() for s in table.get_symbols() if s.is_local()}
        names |= found
    return sorted(names)


# -- results ----------------------------------------------------------------------------------------------------

@dataclass
class Check:
    grade_id: str
    points: float
    passed: bool = False
    why: str = "not run"  # the failure in full ("" when passed)
    seconds: float = 0.0


@dataclass
class Flag:
    cell: str  # the answer cell's grade_id, or "added cell N"
    line: int
    text: str
    why: str


@dataclass
class Result:
    path: Path
    student: str
    lab: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "ok"  # "ok", "timeout in CELL (N s)", "kernel died in CELL", "refused: ...", "not graded: ..."
    notes: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    graded: nbformat.NotebookNode | None = None  # the notebook as it ran, for the feedback page
    feedback: Path | None = None

    @property
    def counted(self) -> bool:
        return not self.status.startswith("not graded")

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks if c.passed)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


# -- which lab, and the notebook that runs ----------------------------------------------------------------------

def identify(nb, labs: dict[str, Lab]) -> tuple[Lab | None, str]:
    """The submission's lab, and a note (or the reason it cannot be told)."""
    named = nb.metadata.get("minirpc", {}).get("lab") if isinstance(nb.metadata.get("minirpc"), dict) else None
    ids = {grade_id(c) for c in nb.cells if grade_id(c)}
    if named in labs:
        return labs[named], ""
    matches = [lab for lab in labs.values() if ids and {c.grade_id for c in lab.checks} <= ids]
    if len(matches) == 1:
        how = f"the notebook's metadata names {named!r}, an unknown lab" if named else "its lab metadata was removed"
        return matches[0], f"lab found from the notebook's cells ({how})"
    if named:
        return None, f"the notebook names lab {named!r}, which is not one of {', '.join(sorted(labs))}"
    return None, ("the notebook does not say which lab it is (metadata.minirpc.lab was removed) and its cells do "
                  "not match one lab: hand in the lab's notebook, with its cells")


def assemble(nb, lab: Lab) -> tuple[nbformat.NotebookNode | None, list[str], str]:
    """The notebook to run: the teacher's cells, the learner's answers in place.

    Returns (notebook, notes, refusal).  Learner cells are matched by their
    nbgrader grade_id; cells they added are kept after the cell they followed.
    """
    notes = []
    by_id: dict[str, list] = {}
    for cell in nb.cells:
        if grade_id(cell):
            by_id.setdefault(grade_id(cell), []).append(cell)
    missing = [c.grade_id for c in lab.checks if not any(is_check(x) or x.cell_type == "code" for x in by_id.get(c.grade_id, []))]
    if missing:
        return None, notes, ("check cells were removed from the notebook: " + ", ".join(missing)
                             + " (start again from the lab's notebook and copy your answers in)")
    teacher_ids = {c.get("id") for c in lab.solution.cells if c.get("id")}
    teacher_gids = {grade_id(c) for c in lab.solution.cells if grade_id(c)}
    # Cells the learner added, keyed by the teacher cell (id or grade_id) they follow.
    added: dict[str, list] = {}
    anchor = "<start>"
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in teacher_gids:
            anchor = f"gid:{gid}"
        elif cell.get("id") in teacher_ids and not gid:
            anchor = f"id:{cell.get('id')}"
        elif cell.cell_type == "code" and cell.source.strip():
            added.setdefault(anchor, []).append(cell)
    out = nbformat.v4.new_notebook(metadata=copy.deepcopy(lab.solution.metadata))
    out.cells = []

    def add_after(key):
        for extra in added.pop(key, []):
            cell = nbformat.v4.new_code_cell(extra.source)
            cell.metadata["minirpc_added"] = True
            out.cells.append(cell)

    add_after("<start>")
    for cell in lab.solution.cells:
        gid = grade_id(cell)
        if gid in lab.answers:
            theirs = [c for c in by_id.get(gid, []) if c.cell_type == cell.cell_type]
            if theirs:
                new = copy.deepcopy(cell)
                new.source = theirs[0].source
            else:
                new = copy.deepcopy(lab.stubs.get(gid, cell))
                notes.append(f"answer cell {gid} is not in the notebook: the lab's empty version of it ran")
            if len(theirs) > 1:
                notes.append(f"answer cell {gid} appears {len(theirs)} times: the first one ran")
        else:
            new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        out.cells.append(new)
        add_after(f"gid:{gid}" if gid else f"id:{cell.get('id')}")
    for rest in list(added):
        add_after(rest)
    return out, notes, ""


# -- flags: learner code that reaches into the machinery --------------------------------------------------------

_FLAG_NAMES = {
    "get_ipython": "touches the kernel", "IPython": "touches the kernel", "ipykernel": "touches the kernel",
    "sys": "touches the interpreter", "gc": "reaches every object in the process", "ctypes": "rewrites memory",
    "builtins": "changes Python's built-ins", "__builtins__": "changes Python's built-ins",
    "inspect": "reads frames and sources", "importlib": "re-imports modules", "__import__": "imports by name",
    "exec": "runs code made at run time", "eval": "runs code made at run time", "compile": "makes code at run time",
    "globals": "rewrites names", "locals": "rewrites names", "vars": "rewrites names", "setattr": "changes objects by name",
    "delattr": "changes objects by name", "os": "reaches the operating system", "subprocess": "starts programs",
    "signal": "changes signal handling", "atexit": "runs code at exit", "open": "reads or writes files",
    "pathlib": "reads or writes files", "shutil": "reads or writes files", "exit": "stops the kernel",
    "quit": "stops the kernel", "labcheck": "touches the check helpers", "_minirpc_grading": "touches the grader",
    "check": "redefines a check helper", "expect": "redefines a check helper", "expect_true": "redefines a check helper",
    "expect_error": "redefines a check helper", "CheckFailed": "redefines a check helper", "same": "redefines a check helper",
}
_REDEFINE_ONLY = {"check", "expect", "expect_true", "expect_error", "CheckFailed", "same"}
_FLAG_DUNDERS = {"__eq__": "an object that may claim to equal anything", "__ne__": "an object that may claim to equal anything",
                 "__bool__": "an object that may claim to be true", "__hash__": "an object that may claim to equal anything",
                 "__getattr__": "an object that answers every attribute", "__getattribute__": "an object that answers every attribute",
                 "__instancecheck__": "lies to isinstance", "__class__": "changes what class an object is",
                 "__code__": "rewrites a function", "__globals__": "reaches a function's names",
                 "__closure__": "reaches a function's variables", "__dict__": "rewrites an object's attributes",
                 "__subclasses__": "walks every class", "__mro__": "walks classes", "__del__": "runs code when collected",
                 "__lt__": "an object that may claim any order", "__gt__": "an object that may claim any order",
                 "__le__": "an object that may claim any order", "__ge__": "an object that may claim any order",
                 "__str__": "an object that chooses its own text", "__repr__": "an object that chooses its own text",
                 "__float__": "an object that pretends to be a number", "__index__": "an object that pretends to be a number",
                 "f_globals": "reaches a caller's names", "f_locals": "reaches a caller's names", "f_back": "walks the stack",
                 "_getframe": "walks the stack", "tb_frame": "walks the stack", "_exit": "kills the kernel",
                 "fork": "starts processes", "kill": "sends signals", "setitimer": "changes signal handling"}


def flag_code(source: str, where: str) -> list[Flag]:
    """Lines of learner code that an honest answer does not need (reported, not scored)."""
    flags = []
    lines = source.split("\n")
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            flags.append(Flag(where, number, line.strip(), "an IPython magic or shell command"))
    try:
        tree = _parse("\n".join("pass" if l.lstrip().startswith(("%", "!")) else l for l in lines))
    except SyntaxError as e:
        return flags + [Flag(where, e.lineno or 0, (e.text or "").strip(), "not valid Python")]
    seen = set()
    for node in ast.walk(tree):
        name, why = None, None
        if isinstance(node, ast.Name) and node.id in _FLAG_NAMES:
            if node.id in _REDEFINE_ONLY and not isinstance(node.ctx, (ast.Store, ast.Del)):
                continue
            name, why = node.id, _FLAG_NAMES[node.id]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            bad = [m for m in modules if m.split(".")[0] in _FLAG_NAMES]
            if bad:
                name, why = bad[0], _FLAG_NAMES[bad[0].split(".")[0]]
        elif isinstance(node, ast.Attribute) and node.attr in _FLAG_DUNDERS:
            name, why = node.attr, _FLAG_DUNDERS[node.attr]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in _FLAG_DUNDERS:
            name, why = node.name, _FLAG_DUNDERS[node.name]
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in _REDEFINE_ONLY:
            name, why = node.name, _FLAG_NAMES[node.name]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                "solution.ipynb" in node.value or "_minirpc_grading" in node.value or MIME in node.value):
            name, why = node.value[:40], "names the grader's or the teacher's files"
        if name is not None and (node.lineno, name) not in seen:
            seen.add((node.lineno, name))
            flags.append(Flag(where, node.lineno, lines[node.lineno - 1].strip(), f"{name}: {why}"))
    return sorted(flags, key=lambda f: f.line)


def flags_for(nb) -> list[Flag]:
    flags = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("minirpc_added"):
            flags += flag_code(cell.source, f"added cell {index}")
        elif is_answer(cell):
            flags += flag_code(cell.source, grade_id(cell))
    return flags


# -- running one notebook in a kernel ---------------------------------------------------------------------------

class KernelGone(Exception):
    """The kernel died or exited."""


def kernel_env(marker: str) -> dict:
    """The learners' environment, this checkout on the path if it holds minirpc, and a marker for clean-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JPY_", "MINIRPC_GRADING"))}
    root = HERE.parent
    if (root / "minirpc" / "__init__.py").exists():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    env["MINIRPC_GRADING_RUN"] = marker
    env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return env


def _limits(cpu_seconds: int):
    """Limits for the kernel and everything it starts (set in the child, before the kernel runs)."""
    def apply():
        import resource
        for limit, value in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, 256 << 20),
                             (resource.RLIMIT_AS, 6 << 30), (resource.RLIMIT_CPU, cpu_seconds),
                             (resource.RLIMIT_NPROC, 2048)):
            try:
                soft, hard = resource.getrlimit(limit)
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(limit, (value, hard))
            except (ValueError, OSError):
                pass
    return apply


def _kill_marked(marker: str) -> int:
    """Kill every process still carrying this run's marker (children that left the process group); return
    how many there were.  (A process that has died and not been reaped has no environment: not counted.)"""
    proc = Path("/proc")
    if not proc.is_dir():
        return 0
    needle = f"MINIRPC_GRADING_RUN={marker}".encode()
    found = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                found += 1
        except (OSError, ValueError):
            pass
    return found


class Kernel:
    """One grading kernel: start, run cells with a time limit each, stop everything it started."""

    def __init__(self, cwd: Path, cpu_seconds: int):
        # The kernel's channels are Unix sockets in a folder of the grader's own: TCP ports would be picked by
        # binding and releasing them, and kernels started at once (--jobs, or a teacher's JupyterLab) can pick
        # the same one, which kills the kernel before it replies to kernel_info.  A start that still fails is
        # tried once more: no learner code has run yet, so it is never the learner's doing.
        for attempt in (1, 2):
            try:
                self._start(cwd, cpu_seconds)
                return
            except Exception as e:
                if attempt == 2:
                    raise
                print(f"grade.py: a kernel did not start ({type(e).__name__}: {e}); starting another",
                      file=sys.stderr)

    def _start(self, cwd: Path, cpu_seconds: int) -> None:
        from jupyter_client.manager import KernelManager
        self.marker = secrets.token_hex(8)
        self.sockets = tempfile.mkdtemp(prefix="minirpc-kernel-")
        self.km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(self.sockets, "kernel"))
        self.km.start_kernel(cwd=str(cwd), env=kernel_env(self.marker), preexec_fn=_limits(cpu_seconds),
                             stderr=subprocess.DEVNULL)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=60)
        except Exception:
            self.stop()
            raise

    def execute(self, code: str, seconds: float, silent: bool = False) -> dict:
        """Run ``code``; return {status, ename, evalue, outputs, tokens, timed_out, stderr}.  Raises KernelGone."""
        msg_id = self.kc.execute(code, silent=silent, store_history=not silent, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + seconds
        result = {"status": None, "ename": "", "evalue": "", "outputs": [], "tokens": [], "timed_out": False,
                  "stderr": None}  # what the cell wrote to stderr (None: nothing), kept even where outputs are cut
        idle = reply = False
        interrupted_at = None
        size = 0
        while not (idle and reply):
            now = time.monotonic()
            if now > deadline and interrupted_at is None:
                result["timed_out"] = True
                interrupted_at = now
                try:
                    self.km.interrupt_kernel()
                except Exception:
                    raise KernelGone("the kernel could not be interrupted") from None
            if interrupted_at is not None and now > interrupted_at + 5:
                raise KernelGone("the kernel did not stop when interrupted")
            if not self.km.is_alive():
                raise KernelGone("the kernel died")
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                msg = None
            if msg is not None and msg["parent_header"].get("msg_id") == msg_id:
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content.get("execution_state") == "idle":
                    idle = True
                elif kind == "display_data" and MIME in content.get("data", {}):
                    result["tokens"].append(content["data"][MIME])
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    if kind == "stream" and content.get("name") == "stderr":
                        result["stderr"] = ((result["stderr"] or "") + content.get("text", ""))[:MAX_CELL_OUTPUT]
                    size += len(json.dumps(content))
                    if size <= MAX_CELL_OUTPUT:
                        result["outputs"].append(nbformat.v4.output_from_msg(msg))
                    elif size - len(json.dumps(content)) <= MAX_CELL_OUTPUT:
                        result["outputs"].append(nbformat.v4.new_output(
                            "stream", name="stderr", text=f"\n[grader: output over {MAX_CELL_OUTPUT} characters cut]\n"))
                elif kind == "clear_output":
                    result["outputs"], size, result["stderr"] = [], 0, None
            if not reply:
                try:
                    shell = self.kc.get_shell_msg(timeout=0)
                except queue.Empty:
                    shell = None
                if shell is not None and shell["parent_header"].get("msg_id") == msg_id:
                    reply = True
                    content = shell["content"]
                    result.update(status=content.get("status"), ename=content.get("ename", ""),
                                  evalue=content.get("evalue", ""))
        return result

    def stop(self) -> None:
        pid = None
        try:
            pid = self.km.provisioner.process.pid if self.km.provisioner and self.km.provisioner.process else None
        except Exception:
            pass
        try:
            self.kc.stop_channels()
        except Exception:
            pass
        try:
            self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)  # the kernel leads its own process group
            except OSError:
                pass
        # SIGKILL takes effect when the process next runs, which on a loaded machine may be a while: return
        # only once no process of this run is left (or after 5 s), so that "stopped" means gone.
        deadline = time.monotonic() + 5
        while _kill_marked(self.marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        shutil.rmtree(self.sockets, ignore_errors=True)


def _cell_name(cell, index: int) -> str:
    if grade_id(cell):
        return grade_id(cell)
    if cell.metadata.get("minirpc_added"):
        return f"added cell {index}"
    return f"cell {index}"


def _stderr_why(text: str) -> str:
    """Why a check that ran to the end scores 0: what it wrote to stderr."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = repr(lines[0]) if lines else "an empty line"
    more = f" and {len(lines) - 1} more line{'s' if len(lines) > 2 else ''}" if len(lines) > 1 else ""
    return (f"the check wrote to stderr: {first}{more}.  A check cell with output on stderr scores 0, "
            f"as nbgrader scores it (a warning, a traceback printed by a thread, print(..., file=sys.stderr))")


def run_graded(nb, lab: Lab, result: Result, cell_seconds: float, notebook_seconds: float) -> None:
    """Execute the assembled notebook; fill ``result.checks`` and ``result.status``."""
    tokens = {c.grade_id: secrets.token_hex(16) for c in lab.checks}
    specs = {c.grade_id: c for c in lab.checks}
    checks = {c.grade_id: Check(c.grade_id, c.points) for c in lab.checks}
    result.checks = list(checks.values())
    workdir = Path(tempfile.mkdtemp(prefix="minirpc-grade-"))
    deadline = time.monotonic() + notebook_seconds
    kernel = None
    stopped = ""  # why the rest did not run
    try:
        kernel = Kernel(workdir, int(notebook_seconds * 2) + 60)
        runtime = (HERE / "gradekernel.py").read_text()
        helpers = (HERE / "labcheck.py").read_text()
        setup = (f"exec(compile({runtime!r}, 'gradekernel.py', 'exec'), _g := {{'__name__': '_minirpc_gradekernel'}})\n"
                 f"_g['install']({tokens!r}, {dict((c.grade_id, c.source) for c in lab.checks)!r}, {helpers!r}, "
                 f"{lab.imports!r}, {lab.reads!r})\n"
                 f"del _g\n")
        installed = kernel.execute(setup, 60, silent=True)
        if installed["status"] != "ok":
            raise RuntimeError(f"the grader's runtime did not start: {installed['ename']}: {installed['evalue']}")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            name = _cell_name(cell, index)
            if stopped:
                if is_check(cell):
                    checks[grade_id(cell)].why = f"not run: {stopped}"
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                stopped = f"the notebook's {notebook_seconds:g} s ran out before {name}"
                result.status = f"timeout before {name} ({notebook_seconds:g} s for the notebook)"
                if is_check(cell):
                    checks[grade_id(cell)].why = f"not run: {stopped}"
                continue
            own = specs[grade_id(cell)].seconds if is_check(cell) and grade_id(cell) in specs else None
            limit = min(left, own or cell_seconds)
            code = (f'__import__("sys").modules["_minirpc_grading"].run({grade_id(cell)!r})' if is_check(cell)
                    else cell.source)
            started = time.monotonic()
            try:
                reply = kernel.execute(code, limit)
            except KernelGone as e:
                stopped = f"{e} in {name}"
                result.status = f"kernel died in {name}" if "died" in str(e) else f"timeout in {name} ({limit:g} s)"
                if is_check(cell):
                    checks[grade_id(cell)].why = f"failed: {stopped}"
                continue
            cell.outputs = reply["outputs"]
            if reply["timed_out"]:
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"\n[grader: {name} ran out of its {limit:g} s and was interrupted]\n"))
                if result.status == "ok":
                    result.status = f"timeout in {name} ({limit:g} s)"
            if is_check(cell):
                check = checks[grade_id(cell)]
                check.seconds = time.monotonic() - started
                genuine = [t for t in reply["tokens"] if t == {"check": check.grade_id, "token": tokens[check.grade_id]}]
                check.passed = (reply["status"] == "ok" and len(genuine) == 1 and not reply["timed_out"]
                                and reply["stderr"] is None)  # nbgrader's rule: output on stderr scores 0
                if check.passed:
                    check.why = ""
                elif reply["timed_out"]:
                    check.why = f"ran out of its {limit:g} s (the cell's time limit) and was interrupted"
                elif reply["status"] != "ok":
                    check.why = f"{reply['ename']}: {reply['evalue']}".strip()
                elif reply["stderr"] is not None and genuine:
                    check.why = _stderr_why(reply["stderr"])
                else:
                    check.why = ("the check did not run to the end: something in the notebook stopped it "
                                 "without an error (the grader's runtime never reported it finished)")
            elif is_teacher_code(cell) and not cell.metadata.get("minirpc_added") and reply["status"] == "ok":
                names = lab.binds[cell.source]  # read in load_labs: no parsing here (see _PARSING)
                if names:
                    kernel.execute(f'__import__("sys").modules["_minirpc_grading"].protect({names!r})', 30, silent=True)
    except KernelGone as e:
        result.status = f"kernel died ({e})"
    except Exception as e:  # a kernel that would not start, ...
        result.status = f"error: {type(e).__name__}: {e}"
        for check in checks.values():
            if check.why == "not run":
                check.why = f"not run: {result.status}"
    finally:
        if kernel is not None:
            kernel.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for check in checks.values():
        if check.why == "not run" and stopped:
            check.why = f"not run: {stopped}"


def student_of(path: Path, root: Path) -> str:
    """The student's id: the first folder under the submissions folder, or the file's name."""
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def grade(path: Path, labs: dict[str, Lab], root: Path | None = None, cell_seconds: float = DEFAULT_CELL_SECONDS,
          notebook_seconds: float = DEFAULT_NOTEBOOK_SECONDS) -> Result:
    """Grade one submitted notebook."""
    root = root or path.parent
    result = Result(path, student_of(path, root), "?")
    start = time.monotonic()
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            raise ValueError(f"the file is over {MAX_NOTEBOOK_BYTES >> 20} MB")
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        result.status = f"refused: the notebook cannot be read ({type(e).__name__}: {e})"
        return result
    lab, note = identify(nb, labs)
    if lab is None:
        result.status = f"refused: {note}"
        return result
    result.lab = lab.name
    if note:
        result.notes.append(note)
    graded, notes, refusal = assemble(nb, lab)
    result.notes += notes
    if refusal:
        result.status = f"refused: {refusal}"
        result.checks = [Check(c.grade_id, c.points, False, f"refused: {refusal}") for c in lab.checks]
        return result
    result.flags = flags_for(graded)
    missing = [tool for tool in lab.requires if shutil.which(tool) is None]
    if missing:
        result.status = f"not graded: this lab needs {', '.join(missing)} on the grading machine"
        result.checks = [Check(c.grade_id, c.points, False, result.status) for c in lab.checks]
        return result
    run_graded(graded, lab, result, cell_seconds, notebook_seconds)
    result.graded = graded
    result.seconds = time.monotonic() - start
    return result


def grade_all(notebooks: list[Path], labs: dict[str, Lab], root: Path, jobs: int = 1, **options) -> list[Result]:
    """Grade every notebook, ``jobs`` at a time; timing-sensitive labs alone, after the others."""
    def lab_of(path):
        try:
            nb = nbformat.read(path, as_version=4) if path.stat().st_size <= MAX_NOTEBOOK_BYTES else None
        except Exception:
            return None
        return identify(nb, labs)[0] if nb is not None else None

    serial = [p for p in notebooks if getattr(lab_of(p), "serial", False)]
    parallel = [p for p in notebooks if p not in serial]
    results = {}
    with ThreadPoolExecutor(max(1, jobs)) as pool:  # each notebook gets its own kernel
        for path, result in zip(parallel, pool.map(lambda p: grade(p, labs, root, **options), parallel)):
            results[path] = result
    for path in serial:
        results[path] = grade(path, labs, root, **options)
    return [results[p] for p in notebooks]


# -- reports ----------------------------------------------------------------------------------------------------

def find_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _num(x: float) -> str:
    return f"{x:g}"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines()) if text else prefix.rstrip()


def print_table(results: list[Result], root: Path, out=None) -> None:
    out = out or sys.stdout
    rows = [("notebook", "student", "lab", "checks", "points", "flags", "time", "status")]
    for r in results:
        points = f"{_num(r.points)}/{_num(r.max_points)}" if r.counted else "-"
        rows.append((str(r.path.relative_to(root)), r.student, r.lab, f"{r.passed}/{len(r.checks)}", points,
                     str(len(r.flags)), f"{r.seconds:.1f} s", r.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths + [0])).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths + [6]), file=out)
    failures = [(r, c) for r in results for c in r.checks if not c.passed and r.counted]
    if failures:
        print("\nfailed checks:", file=out)
        for r, c in failures:
            print(f"  {r.path.relative_to(root)}  {c.grade_id}:", file=out)
            print(_indent(c.why, "      "), file=out)
    notes = [(r, n) for r in results for n in r.notes]
    if notes:
        print("\nnotes:", file=out)
        for r, n in notes:
            print(f"  {r.path.relative_to(root)}  {n}", file=out)
    flags = [(r, f) for r in results for f in r.flags]
    if flags:
        print("\nflags (code an answer does not need: read it before you trust the score):", file=out)
        for r, f in flags:
            print(f"  {r.path.relative_to(root)}  {f.cell} line {f.line}: {f.text}   <- {f.why}", file=out)


def write_csv(results: list[Result], root: Path, path: Path) -> None:
    columns = []
    for r in results:
        for c in r.checks:
            key = f"{r.lab}/{c.grade_id}"
            if key not in columns:
                columns.append(key)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "notebook", "lab", "status", "points", "max_points", "checks_passed", "checks",
                         "flags", "feedback", *columns])
        for r in results:
            earned = {f"{r.lab}/{c.grade_id}": (_num(c.points) if c.passed else "0") for c in r.checks}
            writer.writerow([r.student, r.path.relative_to(root), r.lab, r.status,
                             _num(r.points) if r.counted else "", _num(r.max_points) if r.counted else "",
                             r.passed, len(r.checks), len(r.flags), r.feedback or "",
                             *[earned.get(k, "") if r.counted else "" for k in columns]])


def feedback_notebook(r: Result) -> nbformat.NotebookNode:
    """The notebook as it ran, with a summary on top: what the student reads."""
    lines = [f"# Feedback: {r.path.name} ({r.lab})", "",
             f"**{_num(r.points)} of {_num(r.max_points)} points**, {r.passed} of {len(r.checks)} checks passed."
             if r.counted else f"**Not graded**: {r.status}", ""]
    if r.status != "ok":
        lines += [f"Status: {r.status}", ""]
    lines += ["| check | points | result |", "|---|---|---|"]
    for c in r.checks:
        first = c.why.splitlines()[0] if c.why else ""
        lines.append(f"| {c.grade_id} | {_num(c.points if c.passed else 0)}/{_num(c.points)} | "
                     f"{'passed' if c.passed else html.escape(first).replace('|', '&#124;')} |")
    for n in r.notes:
        lines += ["", f"*Note:* {n}"]
    if r.flags:
        lines += ["", "Lines your teacher will read (code an answer does not need):", ""]
        lines += [f"* `{f.cell}` line {f.line}: `{f.text}` ({f.why})" for f in r.flags]
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(r.graded.metadata) if r.graded else {})
    nb.cells = [nbformat.v4.new_markdown_cell("\n".join(lines))]
    make_student = _make_student()
    for cell in (r.graded.cells if r.graded else []):
        cell = copy.deepcopy(cell)
        if not is_answer(cell) and not cell.metadata.get("minirpc_added"):  # no hidden tests, no answer keys
            cell.source = (make_student.strip_code(cell.source) if cell.cell_type == "code"
                           else make_student.strip_markdown(cell.source))
        if is_check(cell) and not any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            c = next((c for c in r.checks if c.grade_id == grade_id(cell)), None)
            if c is not None and not c.passed:
                cell.outputs.append(nbformat.v4.new_output("error", ename="not passed", evalue=c.why, traceback=[c.why]))
        nb.cells.append(cell)
    return nb


def write_feedback(r: Result, root: Path, out_dir: Path) -> Path:
    from nbconvert import HTMLExporter
    relative = r.path.relative_to(root).with_suffix(".html")
    target = out_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    body, _ = HTMLExporter().from_notebook_node(feedback_notebook(r))
    target.write_text(body)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder searched for *.ipynb")
    parser.add_argument("--timeout", type=float, default=DEFAULT_NOTEBOOK_SECONDS,
                        help=f"seconds per notebook (default {DEFAULT_NOTEBOOK_SECONDS:g})")
    parser.add_argument("--cell-timeout", type=float, default=DEFAULT_CELL_SECONDS,
                        help=f"seconds per cell, unless the lab sets its own (default {DEFAULT_CELL_SECONDS:g})")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default 1); "
                        "timing-sensitive labs still run alone")
    parser.add_argument("--csv", type=Path, help="write one row per notebook, one column per check")
    parser.add_argument("--feedback", type=Path, help="write one HTML page per notebook for the student")
    parser.add_argument("--labs", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.submissions.resolve()
    notebooks = find_notebooks(root)
    if not notebooks:
        print(f"no notebooks under {root}", file=sys.stderr)
        return 2
    labs = load_labs(args.labs)
    results = grade_all(notebooks, labs, root, args.jobs, cell_seconds=args.cell_timeout,
                        notebook_seconds=args.timeout)
    if args.feedback:
        for r in results:
            r.feedback = write_feedback(r, root, args.feedback.resolve())
    print_table(results, root)
    if args.csv:
        write_csv(results, root, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
