"""Make each lab's student.ipynb from its solution.ipynb (the one source).

    python exercises/make_student.py           # (re)write every student.ipynb
    python exercises/make_student.py --check   # exit 1 if any is out of date

The markers are nbgrader's, so nbgrader can use the sources as they are, and
its release is this file's student copy (with ``exercises/nbgrader_config.py``'s
stub, nbgrader's ``generate_assignment`` makes the same cells):

* ``### BEGIN SOLUTION`` .. ``### END SOLUTION`` in a code cell becomes a stub
  at the same indentation::

      # YOUR CODE HERE
      raise NotImplementedError("not implemented yet")

  Hints go *outside* the region (a ``# HINT:`` comment above it, and the task
  text: a first hint, then a second one in a collapsed ``<details>``), so both
  tools keep them.  (Older labs put ``# HINT:`` lines inside the region: they
  become the stub's comment and message.)  In a markdown cell the region
  becomes "YOUR ANSWER HERE".
* ``### BEGIN HIDDEN TESTS`` .. ``### END HIDDEN TESTS`` is removed, and so is
  ``### BEGIN MARK SCHEME`` .. ``### END MARK SCHEME`` (the teacher's answer
  key in a markdown cell).
* Every output and execution count is cleared.  Check cells (tag ``check``)
  get the tag ``raises-exception``, so "Run All" shows every failing check
  instead of stopping at the first.  Cells nbgrader calls ``locked`` (checks,
  the check helper, set-up code) are made read-only and undeletable, as
  nbgrader's release does.

Each solution's cell tagged ``labcheck`` is first refreshed from
``exercises/labcheck.py``, so every lab carries the same check helper and a
student notebook needs no other file.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
STUB = "not implemented yet"
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_BEGIN_HIDDEN, _END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
_BEGIN_KEY, _END_KEY = "### BEGIN MARK SCHEME", "### END MARK SCHEME"
# Labs whose notebooks wait for a rewrite: left exactly as they are, neither refreshed nor regenerated, until
# the rewrite lands.  Remove a lab from here with its rewrite.  (None waits now.)
PENDING_REWRITE: set[str] = set()
_HINT = re.compile(r"^\s*#\s*HINT:\s*(.*)$")


def labs(root: Path = HERE) -> list[Path]:
    """Every lab folder: one that holds a solution.ipynb."""
    return sorted(p.parent for p in root.glob("*/solution.ipynb"))


def maintained(root: Path = HERE) -> list[Path]:
    """The labs this generator keeps up to date (all but those in PENDING_REWRITE)."""
    return [lab for lab in labs(root) if lab.name not in PENDING_REWRITE]


def strip_code(source: str) -> str:
    """Solution regions -> stubs; hidden tests -> nothing."""
    out: list[str] = []
    region: list[str] | None = None  # lines of the solution region being read
    hidden = False
    indent = ""
    for line in source.split("\n"):
        marker = line.strip()
        if marker == _BEGIN_HIDDEN:
            hidden = True
        elif marker == _END_HIDDEN:
            hidden = False
        elif hidden:
            continue
        elif marker == _BEGIN:
            region, indent = [], line[: len(line) - len(line.lstrip())]
        elif marker == _END:
            hints = [m.group(1).strip() for m in map(_HINT.match, region or []) if m]
            message = STUB + (" -- HINT: " + " ".join(hints) if hints else "")
            out.append(indent + "# YOUR CODE HERE")
            out.extend(indent + "# HINT: " + hint for hint in hints)
            literal = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'  # as nbgrader writes it
            out.append(indent + f"raise NotImplementedError({literal})")
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None or hidden:
        raise ValueError("a BEGIN marker has no END marker in:\n" + source)
    return "\n".join(out)


def strip_markdown(source: str) -> str:
    kept, in_key = [], False
    for line in source.split("\n"):  # line by line, as nbgrader's ClearMarkScheme does
        if line.strip() == _BEGIN_KEY:
            in_key = True
        elif line.strip() == _END_KEY:
            in_key = False
        elif not in_key:
            kept.append(line)
    source = "\n".join(kept)
    return re.sub(rf"{_BEGIN}.*?{_END}", "YOUR ANSWER HERE", source, flags=re.S)


def make_student(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of a solution notebook (the solution is not changed)."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            tags = cell.metadata.get("tags", [])
            if "check" in tags and "raises-exception" not in tags:
                cell.metadata["tags"] = tags + ["raises-exception"]
        elif cell.cell_type == "markdown":
            cell.source = strip_markdown(cell.source)
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("locked") and not nbgrader.get("solution"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    nb.metadata.pop("widgets", None)
    return nb


def sync_labcheck(solution: nbformat.NotebookNode) -> bool:
    """Refresh the cell tagged ``labcheck`` from labcheck.py; True if it changed."""
    helper = (HERE / "labcheck.py").read_text().rstrip("\n")
    changed = False
    for cell in solution.cells:
        if "labcheck" in cell.metadata.get("tags", []) and cell.source != helper:
            cell.source, changed = helper, True
    return changed


def dumps(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str]) -> int:
    check_only = "--check" in argv
    stale = []
    for lab in maintained():
        solution_path, student_path = lab / "solution.ipynb", lab / "student.ipynb"
        solution = nbformat.read(solution_path, as_version=4)
        if sync_labcheck(solution):
            stale.append(solution_path)
            if not check_only:
                solution_path.write_text(dumps(solution))
        text = dumps(make_student(solution))
        if not student_path.exists() or student_path.read_text() != text:
            stale.append(student_path)
            if not check_only:
                student_path.write_text(text)
    for path in stale:
        print(("out of date: " if check_only else "wrote ") + str(path.relative_to(HERE.parent)))
    if check_only and stale:
        print("run: python exercises/make_student.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
