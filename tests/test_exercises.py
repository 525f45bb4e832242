"""The labs in exercises/: generated student notebooks fail for the right reason.

Each lab's solution.ipynb is run by nbval (strict output comparison) through
pyproject's addopts.  These tests cover the rest of the promise:

* every student.ipynb is exactly what exercises/make_student.py makes now;
* in a student notebook every check fails, and fails *because of a stub*
  (NotImplementedError, or the check's own CheckFailed feedback), while
  every other cell runs cleanly;
* exercises/grade.py scores a solved notebook full marks and a stub zero.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import shutil
import sys
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

EXERCISES = Path(__file__).resolve().parent.parent / "exercises"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"exercises_{name}", EXERCISES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_student = _load("make_student")
grade = _load("grade")
labcheck = _load("labcheck")
LABS = make_student.labs(EXERCISES)
LAB_IDS = [lab.name for lab in LABS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_there_are_at_least_six_labs():
    assert len(LABS) >= 6, LAB_IDS


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_student_notebook_is_what_the_generator_makes_now(lab):
    solution = _read(lab / "solution.ipynb")
    assert not make_student.sync_labcheck(copy.deepcopy(solution)), (
        "the labcheck cell differs from exercises/labcheck.py: run python exercises/make_student.py")
    expected = make_student.dumps(make_student.make_student(solution))
    assert (lab / "student.ipynb").read_text() == expected, "run python exercises/make_student.py"


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_student_notebook_holds_no_solution_hidden_test_or_output(lab):
    for cell in _read(lab / "student.ipynb").cells:
        assert "### BEGIN" not in cell.source and "### END" not in cell.source, cell.source
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_solution_has_checks_with_nbgrader_metadata(lab):
    cells = _read(lab / "solution.ipynb").cells
    checks = [c for c in cells if grade.is_check(c)]
    solutions = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert checks and solutions
    ids = [c.metadata["nbgrader"]["grade_id"] for c in checks + solutions]
    assert len(ids) == len(set(ids)), ids
    assert all("### BEGIN SOLUTION" in c.source for c in solutions)


def _failed_because_of_a_stub(output) -> bool:
    ename, evalue = output["ename"], output["evalue"]
    if ename == "NotImplementedError":
        return True
    if ename == "CheckFailed":  # the check's own feedback, unless it reports an unrelated crash
        return labcheck.STUB in evalue or "your code raised" not in evalue
    return False


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_every_check_in_the_student_notebook_fails_because_of_a_stub(lab, tmp_path):
    nb = _read(lab / "student.ipynb")
    status = grade.run_notebook(nb, lab, timeout=90)
    assert status == "ok"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        where = f"cell {index}:\n{cell.source[:300]}"
        if grade.is_check(cell):
            assert errors, f"this check passes on the stub: {where}"
            assert _failed_because_of_a_stub(errors[0]), f"{errors[0]['ename']}: {errors[0]['evalue']}\n{where}"
        else:
            assert not errors, f"{errors[0]['ename']}: {errors[0]['evalue']}\n{where}"


def _grade(root: Path, *args: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert grade.main([str(root), "--timeout", "60", *args]) == 0
    return out.getvalue()


def _row(table: str, name: str) -> list[str]:
    return next(line.split() for line in table.splitlines() if line.startswith(name))


def test_grading_gives_a_solved_notebook_every_check_and_a_stub_none(tmp_path):
    lab = LABS[0]
    total = sum(grade.is_check(c) for c in _read(lab / "solution.ipynb").cells)
    (tmp_path / "ada").mkdir()
    (tmp_path / "bob").mkdir()
    shutil.copy(lab / "solution.ipynb", tmp_path / "ada" / "lab.ipynb")
    shutil.copy(lab / "student.ipynb", tmp_path / "bob" / "lab.ipynb")
    table = _grade(tmp_path, "--csv", str(tmp_path / "scores.csv"))
    assert _row(table, "ada/lab.ipynb")[2] == f"{total}/{total}", table
    assert _row(table, "bob/lab.ipynb")[2] == f"0/{total}", table
    assert "bob/lab.ipynb  " in table.split("failed checks:")[1]
    assert (tmp_path / "scores.csv").read_text().count("\n") == 3


def test_grading_runs_the_solution_checks_not_the_submitted_ones(tmp_path):
    lab = LABS[0]
    nb = _read(lab / "student.ipynb")
    for cell in nb.cells:
        if grade.is_check(cell):
            cell.source = "pass  # a learner 'fixed' the check"
    nbformat.write(nb, tmp_path / "sneaky.ipynb")
    assert _row(_grade(tmp_path), "sneaky.ipynb")[2].startswith("0/")
    assert _row(_grade(tmp_path, "--as-submitted"), "sneaky.ipynb")[2] != _row(_grade(tmp_path), "sneaky.ipynb")[2]


def test_grading_counts_a_deleted_check_cell_as_failed(tmp_path):
    lab = LABS[0]
    nb = _read(lab / "solution.ipynb")
    total = sum(grade.is_check(c) for c in nb.cells)
    nb.cells = [c for c in nb.cells if grade.grade_id(c, 0) != "check_kv_local"]
    nbformat.write(nb, tmp_path / "short.ipynb")
    table = _grade(tmp_path)
    assert _row(table, "short.ipynb")[2] == f"{total - 1}/{total}", table
    assert "check_kv_local: check cell missing from the notebook" in table


def test_grading_stops_a_notebook_at_its_time_limit(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time; time.sleep(30)"),
        nbformat.v4.new_code_cell("pass", metadata={"tags": ["check"]}),
    ])
    nbformat.write(nb, tmp_path / "slow.ipynb")
    row = _row(_grade(tmp_path, "--timeout", "2"), "slow.ipynb")
    assert row[2] == "0/1" and row[-1] == "timeout", row


def test_check_feedback_says_what_was_expected_and_what_came_back():
    with pytest.raises(labcheck.CheckFailed) as e:
        labcheck.expect([1, 2], [1, 2, 3], "the list")
    assert "expected [1, 2, 3]" in str(e.value) and "got      [1, 2]" in str(e.value)


def test_check_feedback_names_an_unexpected_error_and_the_check():
    with pytest.raises(labcheck.CheckFailed, match="✗ sums: your code raised KeyError: 'x'"):
        with labcheck.check("sums"):
            {}["x"]


def test_check_feedback_for_a_missing_error_shows_the_return_value():
    with pytest.raises(labcheck.CheckFailed, match="expected LookupError to be raised\n    got      the return value 3"):
        labcheck.expect_error(LookupError, lambda: 3, what="get")


def test_a_stub_passes_through_a_check_as_not_implemented():
    with pytest.raises(NotImplementedError):
        with labcheck.check("stub"):
            raise NotImplementedError(labcheck.STUB)


def test_the_stub_names_the_hint_from_the_solution_region():
    source = "def f():\n    ### BEGIN SOLUTION\n    # HINT: add one\n    return 1\n    ### END SOLUTION\n"
    assert make_student.strip_code(source) == (
        "def f():\n    # YOUR CODE HERE\n    # HINT: add one\n"
        "    raise NotImplementedError('not implemented yet -- HINT: add one')\n")


def test_hidden_tests_are_removed():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert make_student.strip_code(source) == "a = 1\nb = 2"
