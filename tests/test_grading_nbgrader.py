"""nbgrader, for real: every lab through ``generate_assignment`` and ``autograde``.

A teacher may grade with nbgrader instead of exercises/grade.py.  For every
lab this builds an nbgrader course (the lab's solution.ipynb as the source,
exercises/nbgrader_config.py as the configuration), releases it, and
autogrades two submissions: the solution (full marks) and the released copy
untouched (zero), and a few more made for one rule (``EXTRA``).  grade.py
then grades the same files: the scores must agree.  The released copy must be the student copy make_student.py writes:
the same cells, hints kept, check and helper cells locked.

nbgrader is in the ``test`` extra; it runs in a subprocess with the venv's
bin on PATH (it calls ``alembic``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from labscripts import EXERCISES, load

ROOT = EXERCISES.parent


grade = load("grade")
make_student = load("make_student")
LABS = grade.load_labs(EXERCISES)
LAB_DIRS = {lab.name: lab for lab in make_student.labs(EXERCISES)}
GRADABLE = [name for name, lab in LABS.items() if all(shutil.which(t) for t in lab.requires)]

_SCRIPT = textwrap.dedent('''
    import json, os, shutil, sys
    from nbgrader.apps import NbGrader, NbGraderAPI
    from nbgrader.api import Gradebook
    root, extra, labs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
    os.chdir(root)
    app = NbGrader()
    app.initialize([])  # reads nbgrader_config.py from the course folder, as the command line does
    api = NbGraderAPI(config=app.config)
    report = {}
    for lab in labs:
        made = api.generate_assignment(lab, force=True, create=True)
        if not made["success"]:
            raise SystemExit(f"generate_assignment {lab}: {made['error']}\\n{made['log']}")
        for student, folder in (("solved", "source"), ("released", "release")):
            target = os.path.join(root, "submitted", student, lab)
            os.makedirs(target, exist_ok=True)
            shutil.copy(os.path.join(root, folder, lab, "lab.ipynb"), os.path.join(target, "lab.ipynb"))
        for student in ["solved", "released", *extra.get(lab, [])]:  # extra ones are in submitted/ already
            graded = api.autograde(lab, student, force=True, create=True)
            if not graded["success"]:
                raise SystemExit(f"autograde {lab} {student}: {graded['error']}\\n{graded['log']}")
    with Gradebook("sqlite:///" + os.path.join(root, "gradebook.db")) as gradebook:
        for lab in labs:
            for student in ["solved", "released", *extra.get(lab, [])]:
                notebook = gradebook.find_submission_notebook("lab", lab, student)
                report[f"{lab}/{student}"] = {g.name: g.auto_score for g in notebook.grades if g.auto_score is not None}
    print(json.dumps(report))
''')


def _stderr_in_rename(nb):
    """Lab 1 solved, but rename (which only check_calls calls) also writes a line to stderr."""
    cell = next(c for c in nb.cells if grade.grade_id(c) == "client_functions")
    done = '    client.call("KV.Delete", old)\n'
    assert cell.source.count(done) == 1
    cell.source = cell.source.replace(done, done + '    import sys\n    print(f"renamed {old}", file=sys.stderr)\n')
    return nb


LAB1 = "01-first-service"
EXTRA = {(LAB1, "stderr"): _stderr_in_rename}  # (lab, student): the lab's solution, changed


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One nbgrader course holding every lab, released and autograded; returns (root, scores)."""
    pytest.importorskip("nbgrader", reason="nbgrader is in the test extra: pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("course")
    for name in GRADABLE:
        (root / "source" / name).mkdir(parents=True)
        shutil.copy(LAB_DIRS[name] / "solution.ipynb", root / "source" / name / "lab.ipynb")
    extra = {}
    for (lab, student), change in EXTRA.items():
        (root / "submitted" / student / lab).mkdir(parents=True)
        nbformat.write(change(nbformat.read(LAB_DIRS[lab] / "solution.ipynb", as_version=4)),
                       root / "submitted" / student / lab / "lab.ipynb")
        extra.setdefault(lab, []).append(student)
    config = (EXERCISES / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(config + f"\nc.CourseDirectory.root = {str(root)!r}\n")
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(root), json.dumps(extra), *GRADABLE], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root, json.loads(done.stdout.strip().splitlines()[-1])


def test_every_lab_is_graded_here_when_ci_requires_go():
    skipped = sorted(set(LABS) - set(GRADABLE))
    if skipped and os.environ.get("MINIRPC_REQUIRE_GO") == "1":
        pytest.fail(f"MINIRPC_REQUIRE_GO=1 but these labs cannot run here: {skipped}")


def _auto(scores, lab, student):
    """nbgrader's scores for the lab's checks (a written answer, graded by hand, is left out)."""
    return {gid: score for gid, score in scores[f"{lab}/{student}"].items() if gid in _code_checks(lab)}


def _code_checks(lab):
    return {c.grade_id: c.points for c in LABS[lab].checks}


@pytest.mark.parametrize("lab", GRADABLE)
def test_nbgrader_gives_the_solution_every_point(course, lab):
    _, scores = course
    assert _auto(scores, lab, "solved") == _code_checks(lab)


@pytest.mark.parametrize("lab", GRADABLE)
def test_nbgrader_gives_the_released_copy_nothing(course, lab):
    _, scores = course
    assert _auto(scores, lab, "released") == {gid: 0.0 for gid in _code_checks(lab)}


@pytest.mark.parametrize("lab", GRADABLE)
def test_grade_py_and_nbgrader_agree_on_the_same_files(course, lab):
    root, scores = course
    for student in ("solved", "released"):
        result = grade.grade(root / "submitted" / student / lab / "lab.ipynb", LABS, root)
        assert {c.grade_id: (c.points if c.passed else 0.0) for c in result.checks} == _auto(scores, lab, student), (
            student, [(c.grade_id, c.why) for c in result.checks])


def test_a_check_that_writes_to_stderr_scores_0_in_nbgrader_and_in_grade_py(course):
    root, scores = course
    expected = {**_code_checks(LAB1), "check_calls": 0.0}
    assert _auto(scores, LAB1, "stderr") == expected, "nbgrader: output on stderr scores the check cell 0"
    result = grade.grade(root / "submitted" / "stderr" / LAB1 / "lab.ipynb", LABS, root)
    assert {c.grade_id: (c.points if c.passed else 0.0) for c in result.checks} == expected, [
        (c.grade_id, c.why) for c in result.checks]


def _cells(nb):
    return [(c.cell_type, c.source) for c in nb.cells]


@pytest.mark.parametrize("lab", [name for name in GRADABLE if name not in make_student.PENDING_REWRITE])
def test_the_released_copy_is_the_student_copy(course, lab):
    root, _ = course
    released = nbformat.read(root / "release" / lab / "lab.ipynb", as_version=4)
    student = nbformat.read(LAB_DIRS[lab] / "student.ipynb", as_version=4)
    assert _cells(released) == _cells(student)


@pytest.mark.parametrize("lab", [name for name in GRADABLE if name not in make_student.PENDING_REWRITE])
def test_check_and_helper_cells_are_locked_and_hints_kept(course, lab):
    root, _ = course
    released = nbformat.read(root / "release" / lab / "lab.ipynb", as_version=4)
    for cell in released.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if grade.is_check(cell) or "labcheck" in cell.metadata.get("tags", []):
            assert nbgrader.get("locked") and cell.metadata.get("editable") is False, cell.source[:80]
            assert cell.metadata.get("deletable") is False
    stubs = [c.source for c in released.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    assert stubs and all("# HINT:" in s for s in stubs), "every answer cell keeps a hint outside its solution region"
    tasks = "\n".join(c.source for c in released.cells if c.cell_type == "markdown")
    assert "<details>" in tasks, "a second hint, collapsed, in the task text"
