"""exercises/grade.py: what a teacher gets, and what a learner cannot change.

Every trick a learner might use to earn marks without solving is kept here
as a submission that must score 0 (or, where one kernel cannot stop it, must
be flagged for the teacher; exercises/README.md lists which is which).  All
submissions are graded in one batch (``grade_all``, two at a time), then each
test reads its own result.
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import shutil
import threading
import time
import types
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
from labscripts import EXERCISES, load

grade = load("grade")
gradekernel = load("gradekernel")
LABS = grade.load_labs(EXERCISES)
LAB1, LAB3, LAB4, LAB6 = "01-first-service", "03-handshake-by-hand", "04-fan-out-fan-in", "06-measure-it"
LAB_DIRS = {p.parent.name: p.parent for p in EXERCISES.glob("*/solution.ipynb")}


def _student(lab=LAB1):
    return nbformat.read(LAB_DIRS[lab] / "student.ipynb", as_version=4)


def _solution(lab=LAB1):
    return nbformat.read(LAB_DIRS[lab] / "solution.ipynb", as_version=4)


def _answer_cell(nb, index=0):
    return [c for c in nb.cells if grade.is_answer(c) and c.cell_type == "code"][index]


def _prepend(nb, code, index=0):
    """Put ``code`` at the top of the learner's answer cell number ``index``."""
    cell = _answer_cell(nb, index)
    cell.source = code + "\n" + cell.source
    return nb


def _append_cell(nb, code, after=None):
    cell = nbformat.v4.new_code_cell(code)
    position = len(nb.cells) if after is None else nb.cells.index(after) + 1
    nb.cells.insert(position, cell)
    return nb


def _checks(nb):
    return [c for c in nb.cells if grade.is_check(c)]


# -- the submissions --------------------------------------------------------------------------------------------
# name -> a function that returns the notebook to hand in (or bytes, for a file that is not a notebook)

SILENCE = "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"

SUBMISSIONS = {
    "solved": lambda: _solution(),
    "stub": lambda: _student(),
    # hiding errors
    "custom_exc": lambda: _prepend(_student(), SILENCE),
    "showtraceback_patched": lambda: _prepend(_student(), "get_ipython().showtraceback = lambda *a, **k: None"),
    "excepthook": lambda: _prepend(_student(), "import sys; sys.excepthook = lambda *a: None"),
    "input_transformer": lambda: _prepend(_student(), (
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])")),
    "ast_transformer": lambda: _prepend(_student(), (
        "import ast\nclass Gut(ast.NodeTransformer):\n    def visit_Module(self, node):\n"
        "        return ast.Module(body=[ast.Pass()], type_ignores=[])\n"
        "get_ipython().ast_transformers.append(Gut())")),
    "run_cell_patched": lambda: _prepend(_student(), (
        "shell = get_ipython()\nreal = shell.run_cell\n"
        "shell.run_cell = lambda raw, *a, **k: real('pass', *a, **k) if 'check' in raw or 'grading' in raw else real(raw, *a, **k)")),
    # printing a pass
    "fake_pass_lines": lambda: _prepend(_student(), 'print("✓ Put then Get returns the value\\nPASS 5/5")'),
    "fake_outputs_in_file": lambda: _fake_outputs(_student()),
    "fake_token": lambda: _prepend(_student(), (
        "from IPython.display import display\n"
        "for gid in ('check_kv_local', 'check_registered', 'check_calls'):\n"
        f"    display({{{grade.MIME!r}: {{'check': gid, 'token': '0' * 32}}}}, raw=True)")),
    "printer_thread": lambda: _prepend(_student(), (
        "import threading, time\n"
        "threading.Thread(target=lambda: [print('✓ ok') or time.sleep(0.01) for _ in range(500)], daemon=True).start()")),
    # the check helpers
    "helpers_redefined": lambda: _prepend(_student(), (
        "import contextlib\n@contextlib.contextmanager\ndef check(title, *a, **k):\n    try:\n        yield\n"
        "    except BaseException:\n        pass\n"
        "def expect(*a, **k): pass\ndef expect_true(*a, **k): pass\ndef expect_error(*a, **k): pass\n"
        "class CheckFailed(Exception): pass")),
    "helpers_rebound_during_check": lambda: _rebind_during_check(_student()),
    "always_equal": lambda: _always_equal(_student()),
    # the machinery the checks lean on
    "builtins_patched": lambda: _prepend(_student(), (
        "import builtins\nbuiltins.sorted = lambda items, **k: ['Delete(str) -> None', 'Get(str) -> str', 'Put(PutArgs) -> None']")),
    "builtins_broken": lambda: _prepend(_student(), (
        "import builtins\nbuiltins.NotImplementedError = type('NotImplementedError', (BaseException,), {})\n"
        "builtins.isinstance = lambda *a: True")),
    "minirpc_patched": lambda: _prepend(_solution_but_broken_kv(), (
        "import minirpc\nminirpc.Client.call = lambda self, method, args, **k: 'Go'")),
    "code_object_swapped": lambda: _prepend(_student(), (
        "import minirpc\nminirpc.Server.services.__code__ = (lambda self: []).__code__")),
    "runtime_replaced": lambda: _prepend(_student(), (
        "import sys, types\nfake = types.ModuleType('_minirpc_grading')\nfake.run = lambda gid: None\n"
        "fake.protect = lambda names: None\nsys.modules['_minirpc_grading'] = fake")),
    "teacher_name_rebound": lambda: _prepend(_student(), "PutArgs = dict"),
    # the notebook file
    "checks_edited": lambda: _edit_checks(_student(), "pass  # fixed the check"),
    "check_deleted": lambda: _delete_check(_solution(), "check_kv_local"),
    "all_checks_deleted": lambda: _delete_all_checks(_solution()),
    "checks_moved_first": lambda: _move_checks_first(_student()),
    "own_cell_tagged_check": lambda: _own_check(_student()),
    "points_raised": lambda: _raise_points(_student()),
    "lab_metadata_stripped": lambda: _strip_lab(_student()),
    "lab_metadata_stripped_solved": lambda: _strip_lab(_solution()),
    "lab_metadata_other_lab": lambda: _other_lab(_student()),
    "no_lab_at_all": lambda: nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')")]),
    "not_json": lambda: b"{this is not a notebook",
    "answer_cell_deleted": lambda: _delete_answer(_solution(), "client_functions"),
    # the kernel
    "os_exit": lambda: _prepend(_solution(), "import os; os._exit(0)", index=1),
    "exit": lambda: _prepend(_student(), "exit()", index=1),
    "sys_exit_in_check": lambda: _sys_exit_inside(_student()),
    "sleeps_forever": lambda: _prepend(_solution(), "import time; time.sleep(3600)", index=1),
    "ignores_interrupt": lambda: _prepend(_solution(), (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(3600)"), index=1),
    "forks_a_child": lambda: _prepend(_student(), (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(120)\n    os._exit(0)")),
    "writes_files": lambda: _prepend(_student(), (
        "import os\nopen('lab.ipynb', 'w').write('overwritten')\nopen('written-by-kernel.txt', 'w').write(os.getcwd())")),
    "floods_output": lambda: _prepend(_student(), "print('x' * 5_000_000)"),
    # wrong solutions that only fit the shape of the old checks
    "lab1_client_side_cache": lambda: _replace_answer(_solution(), "client_functions", (
        "_cache = {}\n\ndef remember(client, key, value):\n    _cache[key] = value\n\n"
        "def recall(client, key, default=None):\n    return _cache.get(key, default)\n\n"
        "def rename(client, old, new):\n    _cache[new] = _cache.pop(old)\n"), keep=("check_kv_local", "check_registered")),
    "lab3_buffered_handshake": lambda: _replace_answer(_solution(LAB3), "tunnel", (
        "def open_tunnel(address, path='/_goRPC_'):\n    sock = socket.create_connection(address, timeout=5)\n"
        "    sock.sendall(f'CONNECT {path} HTTP/1.0\\n\\n'.encode())\n    rfile = sock.makefile('rb')\n"
        "    first = rfile.readline().decode().strip()\n    rfile.readline()\n"
        "    if first != 'HTTP/1.0 200 Connected to Go RPC':\n        sock.close()\n"
        "        raise ConnectionError(f'unexpected HTTP response: {first}')\n    sock.settimeout(None)\n    return sock\n"),
        keep=("check_raw_calls",)),
    "lab4_hard_coded": lambda: _replace_answer(_solution(LAB4), "fan_out", (
        "def fan_out(clients, method, args, timeout):\n"
        "    return {n: minirpc.CallTimeout('x') if n.startswith('slow') else minirpc.ConnectionLost('x')\n"
        "            if n.startswith(('dead', 'down')) else f'{n}:{args.word}' for n in clients}\n"),
        keep=("check_merge", "check_first_reply")),
    "lab4_first_client_wins": lambda: _replace_answer(_solution(LAB4), "first_reply", (
        "def first_reply(clients, method, args, timeout):\n"
        "    if not clients or all(getattr(c, 'closed', False) for c in clients.values()):\n"
        "        raise RuntimeError('no replica answered')\n"
        "    name = next(iter(clients))  # the healthy one used to be started first\n"
        "    return name, clients[name].call(method, args, timeout=timeout)\n"),
        keep=("check_fan_out", "check_merge")),
    "builtin_shadowed": lambda: _shadow_sorted(),
    "stderr_in_check": lambda: _stderr_in_rename(),
    "lab6_fake_plot": lambda: _replace_answer(_solution(LAB6), "plot", (
        "PERCENTILES = [50, 75, 90, 95, 99, 99.9, 100]\n\ndef slow_calls(samples, threshold_ms):\n"
        "    return sum(1 for s in samples if s > threshold_ms)\n\ndef plot_percentiles(results):\n"
        "    fig, ax = plt.subplots()\n    for name in results:\n        ax.plot([1, 2, 3], [1, 10, 100], label=name)\n"
        "    ax.set_yscale('log'); ax.set_ylabel('ms'); ax.legend()\n    return fig\n"),
        keep=("check_percentiles", "check_measure")),
    # reading the answer from the teacher's copy (cannot be stopped in-process: must be flagged)
    "reads_solution": lambda: _prepend(_student(), (
        "import json, minirpc, pathlib\n"
        "_src = pathlib.Path(minirpc.__file__).parents[1] / 'exercises' / '01-first-service' / 'solution.ipynb'\n"
        "for _c in json.loads(_src.read_text())['cells']:\n"
        "    if _c['metadata'].get('nbgrader', {}).get('solution'):\n"
        "        exec(''.join(_c['source']))")),
}


def _replace_answer(nb, gid, source, keep=()):
    """The solution with one answer cell replaced; ``keep`` names the checks that still pass."""
    for cell in nb.cells:
        if grade.grade_id(cell) == gid:
            cell.source = source
    nb.metadata["expected_passes"] = list(keep)
    return nb


def _shadow_sorted():
    """A KV without Delete, and a global ``sorted`` that gives check_registered the signatures it wants."""
    nb = _solution()
    cell = _answer_cell(nb, 0)
    cell.source = ("sorted = lambda items, **k: ['Delete(str) -> None', 'Get(str) -> str', 'Put(PutArgs) -> None']\n\n"
                   + cell.source[:cell.source.index("    def Delete")].rstrip() + "\n")
    return nb


def _stderr_in_rename():
    """The solution, but rename (called only by check_calls) reports on stderr what it did."""
    nb = _solution()
    cell = next(c for c in nb.cells if grade.grade_id(c) == "client_functions")
    done = '    client.call("KV.Delete", old)\n'
    assert cell.source.count(done) == 1
    cell.source = cell.source.replace(done, done + (
        '    import sys\n    print(f"renamed {old} to {new}", file=sys.stderr)\n    print("done", file=sys.stderr)\n'))
    return nb


def _silenced(lab):
    nb = _student(lab)
    if all(shutil.which(t) for t in LABS[lab].requires):
        return _prepend(nb, SILENCE)
    return nb


def _fake_outputs(nb):
    for cell in _checks(nb):
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓ everything\n")]
        cell.execution_count = 1
    return nb


def _rebind_during_check(nb):
    cell = _answer_cell(nb, 0)  # class KV: its methods run inside the check
    cell.source = cell.source.replace(
        "raise NotImplementedError", "globals().update(expect=lambda *a, **k: None, expect_error=lambda *a, **k: None)\n"
        "        return 'Go'\n        raise NotImplementedError", 1)
    return nb


class _Marker:
    pass


def _always_equal(nb):
    """A KV that stores nothing, whose Get returns a str equal to everything."""
    cell = _answer_cell(nb, 0)
    cell.source = ("class Anything(str):\n    def __eq__(self, other): return True\n"
                   "    def __ne__(self, other): return False\n    __hash__ = str.__hash__\n\n\n"
                   "class KV:\n    def __init__(self):\n        self.data, self.lock = {}, None\n\n"
                   "    def Put(self, args: PutArgs) -> None:\n        pass\n\n"
                   "    def Get(self, key: str) -> str:\n        return Anything('')\n\n"
                   "    def Delete(self, key: str) -> None:\n        pass\n")
    return nb


def _solution_but_broken_kv():
    nb = _solution()
    cell = _answer_cell(nb, 0)
    cell.source = cell.source.replace("self.data[args.Key] = args.Value", "pass")
    return nb


def _edit_checks(nb, source):
    for cell in _checks(nb):
        cell.source = source
    return nb


def _delete_check(nb, gid):
    nb.cells = [c for c in nb.cells if grade.grade_id(c) != gid]
    return nb


def _delete_all_checks(nb):
    nb.cells = [c for c in nb.cells if not grade.is_check(c)]
    return nb


def _delete_answer(nb, gid):
    nb.cells = [c for c in nb.cells if grade.grade_id(c) != gid]
    return nb


def _move_checks_first(nb):
    checks = _checks(nb)
    nb.cells = checks + [c for c in nb.cells if c not in checks]
    return nb


def _own_check(nb):
    cell = nbformat.v4.new_code_cell("print('✓ my own check')", metadata={
        "tags": ["check"], "nbgrader": {"grade": True, "grade_id": "my_check", "points": 100, "solution": False,
                                        "locked": True, "schema_version": 3}})
    nb.cells.insert(3, cell)
    return nb


def _raise_points(nb):
    for cell in _checks(nb):
        cell.metadata["nbgrader"]["points"] = 100
    return nb


def _strip_lab(nb):
    nb.metadata.pop("minirpc", None)
    return nb


def _other_lab(nb):
    nb.metadata["minirpc"] = {"lab": "06-measure-it"}
    return nb


def _sys_exit_inside(nb):
    cell = _answer_cell(nb, 0)
    cell.source = cell.source.replace("raise NotImplementedError", "import sys; sys.exit(0)\n        raise NotImplementedError", 1)
    return nb


SUBMISSIONS.update({f"silenced-{lab}": (lambda lab=lab: _silenced(lab)) for lab in LABS})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every submission above in one batch; {name: Result}."""
    root = tmp_path_factory.mktemp("submissions")
    for name, make in SUBMISSIONS.items():
        folder = root / name
        folder.mkdir()
        made = make()
        if isinstance(made, bytes):
            (folder / "lab.ipynb").write_bytes(made)
        else:
            nbformat.write(made, folder / "lab.ipynb")
    started = time.monotonic()
    markers = []  # each grading kernel's marker: its processes, and every process they start, carry it
    real = grade.Kernel

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            try:
                super().__init__(*args, **kwargs)
            finally:
                markers.append(getattr(self, "marker", None))

    grade.Kernel = Recorded
    try:
        results = grade.grade_all(grade.find_notebooks(root), LABS, root, jobs=2, cell_seconds=20, notebook_seconds=90)
    finally:
        grade.Kernel = real
    by_name = {r.student: r for r in results}
    by_name["_root"] = root
    by_name["_seconds"] = time.monotonic() - started
    by_name["_markers"] = [m for m in markers if m]
    return by_name


FULL = LABS[LAB1].max_points


def test_the_solved_notebook_scores_full_marks(graded):
    assert graded["solved"].points == FULL and graded["solved"].status == "ok", graded["solved"].checks


def test_the_unsolved_notebook_scores_zero(graded):
    assert graded["stub"].points == 0 and graded["stub"].max_points == FULL


WRONG = ["lab1_client_side_cache", "lab3_buffered_handshake", "lab4_hard_coded", "lab4_first_client_wins", "lab6_fake_plot"]
PARTLY_SOLVED = ("answer_cell_deleted", "sleeps_forever", "ignores_interrupt", "os_exit", *WRONG, "builtin_shadowed",
                 "stderr_in_check")
CHEATS = [name for name in SUBMISSIONS
          if not name.startswith("silenced-") and name not in ("solved", "stub", "lab_metadata_stripped_solved", "reads_solution", *PARTLY_SOLVED)]


@pytest.mark.parametrize("name", CHEATS)
def test_a_trick_earns_nothing(graded, name):
    result = graded[name]
    assert result.points == 0, [(c.grade_id, c.passed, c.why) for c in result.checks]
    if not result.status.startswith("refused"):
        assert result.max_points == FULL, "the points come from the teacher's copy"


@pytest.mark.parametrize("name", WRONG)
def test_a_wrong_solution_fails_the_check_of_its_skill(graded, name):
    result = graded[name]
    expected = nbformat.read(result.path, as_version=4).metadata["expected_passes"]
    assert [c.grade_id for c in result.checks if c.passed] == expected, [(c.grade_id, c.why) for c in result.checks]


@pytest.mark.parametrize("lab", sorted(LABS))
def test_one_pasted_line_that_hides_errors_earns_nothing_in_any_lab(graded, lab):
    result = graded[f"silenced-{lab}"]
    assert result.points == 0 and result.max_points == LABS[lab].max_points, result.checks


@pytest.mark.parametrize("name", ["custom_exc", "fake_token", "runtime_replaced", "input_transformer", "ast_transformer"])
def test_a_hidden_failure_is_reported_as_a_check_that_did_not_finish(graded, name):
    assert all(not c.passed and c.why for c in graded[name].checks)


def test_replacing_what_the_checks_rely_on_is_named(graded):
    assert any("minirpc.client.Client.call" in c.why for c in graded["minirpc_patched"].checks), graded["minirpc_patched"].checks
    assert any("builtins.sorted" in c.why for c in graded["builtins_patched"].checks)
    assert any("Server.services.__code__" in c.why for c in graded["code_object_swapped"].checks)


def test_an_object_equal_to_everything_is_not_the_value(graded):
    why = next(c.why for c in graded["always_equal"].checks if c.grade_id == "check_kv_local")
    assert "expected a str, got a Anything" in why, why


def test_a_global_that_hides_a_builtin_does_not_reach_the_checks(graded):
    # A KV without Delete, whose answer cell binds its own ``sorted``: check_registered sorts the signatures.
    result = graded["builtin_shadowed"]
    assert [c.grade_id for c in result.checks if c.passed] == ["check_calls"], [(c.grade_id, c.why) for c in result.checks]
    why = next(c.why for c in result.checks if c.grade_id == "check_registered")
    assert "method signatures" in why and "got      ['Get(str) -> str', 'Put(PutArgs) -> None']" in why, why


def test_a_check_that_writes_to_stderr_scores_0_as_in_nbgrader(graded):
    result = graded["stderr_in_check"]
    assert {c.grade_id: c.passed for c in result.checks} == {
        "check_kv_local": True, "check_registered": True, "check_calls": False}, [(c.grade_id, c.why) for c in result.checks]
    why = next(c.why for c in result.checks if c.grade_id == "check_calls")
    assert why.startswith("the check wrote to stderr: 'renamed ") and "and 1 more line." in why, why
    assert "scores 0, as nbgrader scores it" in why, why


def test_a_removed_check_cell_is_refused_with_the_reason(graded):
    for name in ("check_deleted", "all_checks_deleted"):
        assert graded[name].status.startswith("refused: check cells were removed"), graded[name].status
    assert "check_kv_local" in graded["check_deleted"].status


def test_a_notebook_without_a_lab_is_refused_with_the_reason(graded):
    assert graded["no_lab_at_all"].status.startswith("refused: the notebook does not say which lab")
    assert graded["not_json"].status.startswith("refused: the notebook cannot be read")
    assert graded["lab_metadata_other_lab"].status.startswith("refused: check cells were removed")


def test_a_notebook_whose_lab_metadata_was_stripped_is_found_from_its_cells(graded):
    result = graded["lab_metadata_stripped_solved"]
    assert result.lab == LAB1 and result.points == FULL
    assert any("lab found from the notebook's cells" in n for n in result.notes)


def test_a_learners_own_check_cell_counts_for_nothing(graded):
    assert [c.grade_id for c in graded["own_cell_tagged_check"].checks] == [c.grade_id for c in LABS[LAB1].checks]


def test_a_deleted_answer_cell_runs_as_the_empty_stub(graded):
    result = graded["answer_cell_deleted"]
    assert {c.grade_id: c.passed for c in result.checks} == {"check_kv_local": True, "check_registered": True,
                                                             "check_calls": False}
    assert any("client_functions is not in the notebook" in n for n in result.notes)


def test_a_kernel_that_exits_scores_zero_for_what_did_not_run(graded):
    for name in ("os_exit",):
        result = graded[name]
        passed = {c.grade_id: c.passed for c in result.checks}
        assert passed == {"check_kv_local": True, "check_registered": False, "check_calls": False}, result.checks
        assert "kernel died in serve" in result.status, result.status


def test_a_cell_that_runs_forever_is_named_and_the_rest_still_runs(graded):
    result = graded["sleeps_forever"]
    assert result.status == "timeout in serve (20 s)", result.status
    passed = {c.grade_id: c.passed for c in result.checks}
    assert passed["check_kv_local"] and not passed["check_registered"], result.checks


def test_a_kernel_that_ignores_the_interrupt_is_stopped(graded):
    result = graded["ignores_interrupt"]
    assert result.status.startswith("timeout in serve"), result.status
    assert all("not run" in c.why for c in result.checks if c.grade_id != "check_kv_local"), result.checks


def test_no_process_outlives_its_grading(graded):
    # Only this batch's markers: other grading runs on the machine (another test session) are not ours.  A
    # process that died and was not reaped yet has no environment, so it is not read as a survivor.
    markers = {f"MINIRPC_GRADING_RUN={m}".encode() for m in graded["_markers"]}
    ran = [r for k, r in graded.items() if not k.startswith("_") and not r.status.startswith(("refused", "not graded"))]
    assert len(markers) == len(ran), "each notebook that ran had a kernel, with a marker of its own"
    survivors = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if markers & set((entry / "environ").read_bytes().split(b"\0")):
                    survivors.append((entry.name, (entry / "cmdline").read_bytes().replace(b"\0", b" ")[:120]))
            except OSError:
                pass
    assert survivors == []


def test_the_kernel_runs_in_an_empty_folder_not_the_submission(graded):
    root = graded["_root"]
    assert nbformat.read(root / "writes_files" / "lab.ipynb", as_version=4).cells
    assert not (root / "writes_files" / "written-by-kernel.txt").exists()


def test_a_flood_of_output_is_cut(graded):
    cells = graded["floods_output"].graded.cells
    assert sum(len(json.dumps(c.get("outputs", []))) for c in cells) < 50 * grade.MAX_CELL_OUTPUT


@pytest.mark.parametrize("name, word", [
    ("custom_exc", "get_ipython"), ("input_transformer", "get_ipython"), ("builtins_patched", "builtins"),
    ("helpers_redefined", "check"), ("always_equal", "__eq__"), ("os_exit", "os"), ("reads_solution", "exec"),
    ("helpers_rebound_during_check", "globals"), ("exit", "exit"), ("forks_a_child", "fork")])
def test_code_that_reaches_into_the_machinery_is_flagged(graded, name, word):
    flags = graded[name].flags
    assert any(f.why.startswith(word) for f in flags), [(f.text, f.why) for f in flags]


def test_an_honest_solution_has_no_flags(graded):
    assert graded["solved"].flags == []


def test_reading_the_solution_from_disk_is_a_known_limit_and_flagged(graded):
    # A kernel runs as the grader's user, so it can read the teacher's files: the README says so.
    result = graded["reads_solution"]
    assert any("solution.ipynb" in f.why or f.why.startswith("exec") for f in result.flags), result.flags


# -- the grader's runtime and parsing, on their own ------------------------------------------------------------

class _Shell:
    """What the runtime uses of IPython's shell: the notebook's namespace."""

    def __init__(self):
        self.user_ns = {"__name__": "__main__"}


def _runtime(check_source, reads):
    """A runtime for one check ("c"), with the teacher's cell below run and protected; (user_ns, runtime, tokens)."""
    shell, published = _Shell(), []
    runtime = gradekernel.Runtime(shell, {"c": "token-c"}, {"c": check_source}, "",
                                  lambda data, metadata: published.append(data), reads)
    exec(TEACHER_CELL, shell.user_ns)
    runtime.protect(["LIMIT", "within", "top"])
    return shell.user_ns, runtime, published


TEACHER_CELL = "LIMIT = 3\n\ndef within(n):\n    return n <= LIMIT\n\ndef top(xs):\n    return sorted(xs)[-1]\n"
READS = ["LIMIT", "sorted", "seen", "within", "top"]  # what grade.load_labs finds the teacher's code reads
TOKEN = [{gradekernel.MIME: {"check": "c", "token": "token-c"}}]


def test_while_a_check_runs_the_set_up_functions_read_the_teachers_names_and_builtins():
    user_ns, runtime, published = _runtime("seen.append((within(50), top([3, 1])))", READS)
    seen = []
    user_ns.update(LIMIT=100, sorted=lambda xs: [0], seen=seen)  # the learner's rebinding; a global hiding a built-in
    runtime.run("c")
    assert seen == [(False, 3)] and published == TOKEN


def test_after_a_check_the_learners_bindings_and_their_absence_are_back():
    user_ns, runtime, published = _runtime("seen.append(within(3))", READS)
    mine = lambda xs: [0]  # noqa: E731
    del user_ns["LIMIT"]
    user_ns.update(sorted=mine, seen=[])
    runtime.run("c")
    assert "LIMIT" not in user_ns and user_ns["sorted"] is mine and user_ns["seen"] == [True]


def test_rebinding_a_teachers_name_while_a_check_runs_is_refused():
    user_ns, runtime, published = _runtime("sneak()\nwithin(50)", READS)
    exec("def sneak():\n    globals()['LIMIT'] = 100\n", user_ns)  # a learner's function the check calls
    with pytest.raises(gradekernel.GradingRefused, match="rebound names the checks rely on while this check ran: LIMIT"):
        runtime.run("c")
    assert published == [] and user_ns["LIMIT"] == 3


def test_a_bound_method_made_anew_is_the_same_routine_and_another_is_a_change():
    class Shell:
        def excepthook(self, *args):
            pass

    shell, module = Shell(), types.ModuleType("hooks")
    module.excepthook = shell.excepthook
    fingerprint = gradekernel.Fingerprint()
    fingerprint.add_module(module)
    module.excepthook = shell.excepthook  # what IPython does with sys.excepthook for every request
    assert fingerprint.changes() == []
    module.excepthook = lambda *args: None
    assert fingerprint.changes() == ["hooks.excepthook"]


def test_the_grader_parses_learner_code_from_many_threads_at_once():
    # CPython 3.11's ast.parse shares one recursion counter among threads (see grade._PARSING).  Python code run
    # by the garbage collector in the middle of a parse (here a gc callback; in a grading process, finalizers)
    # lets another thread start its parse: without the grader's lock, "AST constructor recursion depth mismatch".
    source = "\n\n".join(c.source for c in _solution("08-build-the-dispatcher").cells if grade.is_answer(c))
    errors = []

    def flag_often():
        for _ in range(25):
            try:
                grade.flag_code(source, "cell")
            except Exception as e:  # noqa: BLE001 -- any error is the failure
                errors.append(e)
                return

    def collecting(phase, info):
        pass

    gc.callbacks.append(collecting)
    try:
        threads = [threading.Thread(target=flag_often) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.callbacks.remove(collecting)
    assert errors == []


def test_a_set_up_cell_that_imports_sys_does_not_refuse_the_checks(tmp_path):
    # IPython sets sys.excepthook anew for every request, and sys.last_type when it shows an exception.
    nb = _solution()
    setup = next(c for c in nb.cells if grade.grade_id(c) == "setup")
    setup.source = "import sys\n" + setup.source
    (tmp_path / "labs" / LAB1).mkdir(parents=True)
    nbformat.write(nb, tmp_path / "labs" / LAB1 / "solution.ipynb")
    labs = grade.load_labs(tmp_path / "labs")
    assert "sys" in labs[LAB1].binds[setup.source]
    kv = _answer_cell(nb, 0)  # and one check fails first, with an exception IPython shows
    kv.source = kv.source.replace("            del self.data[key]", "            raise NotImplementedError(\"not implemented yet\")")
    (tmp_path / "ada").mkdir()
    nbformat.write(nb, tmp_path / "ada" / "lab.ipynb")
    result = grade.grade(tmp_path / "ada" / "lab.ipynb", labs, tmp_path, cell_seconds=30)
    assert {c.grade_id: c.passed for c in result.checks} == {
        "check_kv_local": False, "check_registered": True, "check_calls": True}, [(c.grade_id, c.why) for c in result.checks]


# -- the teacher's outputs --------------------------------------------------------------------------------------

def _main(root: Path, *args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert grade.main([str(root), "--cell-timeout", "30", *args]) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    for student, nb in (("ada", _solution()), ("bob", _student())):
        (root / student).mkdir()
        nbformat.write(nb, root / student / "lab1.ipynb")
    out = tmp_path_factory.mktemp("out")
    table = _main(root, "--csv", str(out / "scores.csv"), "--feedback", str(out / "feedback"), "--jobs", "2")
    return root, out, table


def test_the_csv_has_one_row_per_student_and_one_column_per_check(teacher_run):
    _, out, _ = teacher_run
    rows = list(csv.DictReader(open(out / "scores.csv")))
    assert [r["student"] for r in rows] == ["ada", "bob"]
    columns = [f"{LAB1}/{c.grade_id}" for c in LABS[LAB1].checks]
    assert [rows[0][c] for c in columns] == [f"{c.points:g}" for c in LABS[LAB1].checks]
    assert [rows[1][c] for c in columns] == ["0"] * len(columns)
    assert rows[0]["points"] == f"{FULL:g}" and rows[1]["points"] == "0"


def test_the_table_gives_each_failure_in_full(teacher_run):
    _, _, table = teacher_run
    failures = table.split("failed checks:")[1]
    assert "bob/lab1.ipynb  check_calls:" in failures
    assert "NotImplementedError: not implemented yet" in failures


def test_each_student_gets_a_feedback_page_with_the_checks_output(teacher_run):
    _, out, _ = teacher_run
    ada = (out / "feedback" / "ada" / "lab1.html").read_text()
    bob = (out / "feedback" / "bob" / "lab1.html").read_text()
    assert f"{FULL:g} of {FULL:g} points" in ada and "✓ Put then Get returns the value" in ada
    assert "0 of" in bob and "NotImplementedError" in bob
    assert grade.MIME not in ada and "token" not in bob.lower().split("</style>")[-1]


def test_the_feedback_page_shows_no_hidden_test_and_no_answer_key(teacher_run):
    _, out, _ = teacher_run
    page = (out / "feedback" / "bob" / "lab1.html").read_text()
    assert "fifty concurrent Puts" not in page and "BEGIN HIDDEN TESTS" not in page
    assert "Answer key" in page and "MARK SCHEME" not in page and "dummy argument" not in page


# -- a check that waits forever fails on its own, and says where ------------------------------------------------

def test_a_check_that_waits_forever_fails_at_its_time_limit_and_says_where(tmp_path):
    nb = _solution(LAB3)
    for cell in nb.cells:
        if grade.grade_id(cell) == "tunnel":  # waits for a CRLF blank line that never comes
            cell.source = cell.source.replace(
                'while not (answer.endswith(b"\\n\\n") or answer.endswith(b"\\r\\n\\r\\n")):',
                'while not answer.endswith(b"\\r\\n\\r\\n"):').replace("timeout=5", "timeout=None")
    nbformat.write(nb, tmp_path / "lab.ipynb")
    # check_tunnel's checks give up after 10 s each, under the cell's limit (15 s): the first one's limit runs
    # out first, and says where.  check_raw_calls waits outside its checks: its cell's limit stops it (5 s, the
    # lab's own limit for that cell here, to keep this test short).
    lab = dataclasses.replace(LABS[LAB3], checks=[dataclasses.replace(c, seconds=5) if c.grade_id == "check_raw_calls"
                                                  else c for c in LABS[LAB3].checks])
    started = time.monotonic()
    result = grade.grade(tmp_path / "lab.ipynb", {**LABS, LAB3: lab}, tmp_path, cell_seconds=15)
    why = {c.grade_id: c.why for c in result.checks}
    assert "no result after 10 s (your code was still waiting in open_tunnel, line" in why["check_tunnel"], (
        why, [(c.grade_id, c.seconds) for c in result.checks])
    assert result.points == 0 and time.monotonic() - started < 150
    assert result.status == "timeout in check_raw_calls (5 s)", result.status  # a cell of many such checks
