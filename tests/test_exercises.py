"""The labs in exercises/: generated student notebooks fail for the right reason.

Each lab's solution.ipynb is run by nbval (strict output comparison) through
pyproject's addopts.  These tests cover the rest of the promise:

* every student.ipynb is exactly what exercises/make_student.py makes now;
* in a student notebook every check fails, and fails *because of a stub*
  (NotImplementedError, or the check's own CheckFailed feedback), while
  every other cell runs cleanly;
* the grader's checks fail on a stub for the stub's reason, through grade.py
  itself (tests/test_grading.py covers the grader; test_grading_nbgrader.py
  nbgrader).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from labscripts import EXERCISES, load

make_student = load("make_student")
grade = load("grade")
labcheck = load("labcheck")
LABS = make_student.labs(EXERCISES)
LAB_MATERIAL = grade.load_labs(EXERCISES)
LAB_IDS = [lab.name for lab in LABS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def test_there_are_at_least_eight_labs():
    assert len(LABS) >= 8, LAB_IDS


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_student_notebook_is_what_the_generator_makes_now(lab):
    if lab.name in make_student.PENDING_REWRITE:
        pytest.skip(f"{lab.name} waits for its rewrite (make_student.PENDING_REWRITE): the generator leaves it alone")
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
def test_every_check_in_the_student_notebook_fails_because_of_a_stub(lab):
    result = grade.grade(lab / "student.ipynb", LAB_MATERIAL, lab, cell_seconds=90)
    if result.status.startswith("not graded"):
        if os.environ.get("MINIRPC_REQUIRE_GO") == "1":
            pytest.fail(f"MINIRPC_REQUIRE_GO=1 but {result.status}")
        pytest.skip(result.status)
    assert result.status == "ok", result.status
    for check in result.checks:
        ename, _, evalue = check.why.partition(": ")
        assert not check.passed, f"this check passes on the stub: {check.grade_id}"
        assert _failed_because_of_a_stub({"ename": ename, "evalue": evalue}), f"{check.grade_id}: {check.why}"
    for index, cell in enumerate(result.graded.cells):
        if cell.cell_type == "code" and not grade.is_check(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{errors[0]['ename']}: {errors[0]['evalue']}\ncell {index}:\n{cell.source[:300]}"


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
        "    raise NotImplementedError(\"not implemented yet -- HINT: add one\")\n")


def test_hidden_tests_are_removed():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert make_student.strip_code(source) == "a = 1\nb = 2"


# ---------------------------------------------------------------- links: labs, lessons, the labs' README

REPO = EXERCISES.parent
LAB_NOTEBOOKS = [lab / name for lab in LABS for name in ("solution.ipynb", "student.ipynb")]


def _links(text: str) -> list[str]:
    """Markdown link targets and HTML hrefs in ``text`` (as tests/test_lessons.py reads them)."""
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'href="([^"]+)"', text)


def _local(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:|^#|^//", target)


def _texts(path: Path) -> list[str]:
    """What a reader can click in ``path``: its markdown, and the HTML of stored outputs (show_source links)."""
    if path.suffix != ".ipynb":
        return [path.read_text()]
    notebook = _read(path)
    texts = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts.append(output.get("data", {}).get("text/html", ""))
    return texts


def _broken_links(path: Path) -> list[str]:
    broken = []
    for target in {t for text in _texts(path) for t in _links(text) if _local(t)}:
        file = (path.parent / unquote(urlsplit(target).path)).resolve()
        if not file.exists():
            broken.append(target)
        elif REPO not in file.parents:
            broken.append(f"{target} (outside the repository: the lab command cannot serve it)")
    return sorted(broken)


@pytest.mark.parametrize("path", [*LAB_NOTEBOOKS, EXERCISES / "README.md"],
                         ids=[str(p.relative_to(EXERCISES)) for p in [*LAB_NOTEBOOKS, EXERCISES / "README.md"]])
def test_every_relative_link_in_the_labs_resolves_to_a_file(path):
    assert _broken_links(path) == [], f"{path.relative_to(REPO)}: broken links"


def _goes_with(lab: Path) -> list[Path]:
    """The lessons the lab's first cell links in its "Goes with:" paragraph."""
    first = _read(lab / "solution.ipynb").cells[0].source
    assert "**Goes with:**" in first, f"{lab.name}: the first cell names no lesson (**Goes with:**)"
    paragraph = first.split("**Goes with:**", 1)[1].split("\n\n", 1)[0]
    return [(lab / unquote(t)).resolve() for t in _links(paragraph) if _local(t) and "notebooks/" in t]


@pytest.mark.parametrize("lab", LABS, ids=LAB_IDS)
def test_every_lab_names_a_lesson_whose_course_map_links_it_back(lab):
    lessons = _goes_with(lab)
    assert lessons and all(p.is_file() for p in lessons), f"{lab.name}: goes with {lessons}"
    student = (lab / "student.ipynb").resolve()
    linking = [p.name for p in lessons
               if student in {(p.parent / unquote(t)).resolve() for t in _links(_read(p).cells[0].source) if _local(t)}]
    assert linking, f"none of {[p.name for p in lessons]} links {lab.name}/student.ipynb in its course map (first cell)"
