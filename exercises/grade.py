"""Grade submitted lab notebooks: run each one, count the checks that pass.

    python exercises/grade.py SUBMISSIONS_DIR [--timeout 120] [--jobs 4] [--csv scores.csv]

Every ``*.ipynb`` under SUBMISSIONS_DIR (any layout, e.g. one folder per
learner) is executed in a fresh kernel, in its own folder, with a time limit
for the whole notebook.  A *check* is a cell tagged ``check`` (nbgrader:
``grade: true``); it passes when it runs without an error.  Before running,
each check cell is replaced by the one in the lab's solution.ipynb (found
through the notebook's ``metadata.minirpc.lab``), so the hidden tests run too
and an edited check counts for nothing; ``--as-submitted`` turns that off.

The table shows checks passed and points per notebook, then the first line
of each failure so you can see at a glance what went wrong.  Submitted
notebooks are code: run this where running the learners' code is acceptable.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

HERE = Path(__file__).resolve().parent


@dataclass
class Check:
    grade_id: str
    points: float
    passed: bool = False
    why: str = "not run"  # the failure, on one line


@dataclass
class Result:
    path: Path
    lab: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0
    status: str = "ok"  # or "timeout", "kernel died", "unreadable: ..."

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks if c.passed)

    @property
    def max_points(self) -> float:
        return sum(c.points for c in self.checks)


def is_check(cell) -> bool:
    return cell.cell_type == "code" and (
        "check" in cell.metadata.get("tags", []) or cell.metadata.get("nbgrader", {}).get("grade", False)
    )


def grade_id(cell, index: int) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {index}"


def restore_checks(nb, lab: str, labs_dir: Path = HERE) -> list[Check]:
    """Put the solution's check cells (with hidden tests) back; return the ones missing."""
    source_path = labs_dir / lab / "solution.ipynb"
    if not lab or not source_path.exists():
        return []
    source = nbformat.read(source_path, as_version=4)
    wanted = {grade_id(c, i): c for i, c in enumerate(source.cells) if is_check(c)}
    seen = set()
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell, i)
        if gid in wanted and is_check(cell):
            cell.source = wanted[gid].source
            seen.add(gid)
    return [Check(gid, float(cell.metadata.get("nbgrader", {}).get("points", 1)), False, "check cell missing from the notebook")
            for gid, cell in wanted.items() if gid not in seen]


def kernel_env() -> dict:
    """The learners' environment, plus this checkout on the path if it holds minirpc."""
    env = dict(os.environ)
    root = HERE.parent
    if (root / "minirpc" / "__init__.py").exists():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


def run_notebook(nb, cwd: Path, timeout: float) -> str:
    """Execute ``nb`` in place (errors are kept as outputs); return a status."""
    ran_out = {"ename": "Timeout", "evalue": f"the notebook's {timeout:g} s ran out in this cell", "traceback": []}
    client = NotebookClient(nb, timeout=math.ceil(timeout), allow_errors=True, kernel_name="python3",
                            record_timing=False, interrupt_on_timeout=True, error_on_timeout=ran_out,
                            resources={"metadata": {"path": str(cwd)}})
    deadline = time.monotonic() + timeout

    async def run() -> str:
        client.reset_execution_trackers()
        async with client.async_setup_kernel(cwd=str(cwd), env=kernel_env()):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                client.timeout = max(1, math.ceil(left))  # runs out at the deadline, not before
                try:
                    await client.async_execute_cell(cell, index)
                except CellTimeoutError:
                    return "timeout"
                except DeadKernelError:
                    return "kernel died"
                if time.monotonic() >= deadline:  # the kernel was interrupted in this cell
                    cell.outputs.append(nbformat.v4.new_output("error", **ran_out))
                    return "timeout"
        return "ok"

    return asyncio.run(run())


def first_error(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = " ".join(f"{output.get('ename')}: {output.get('evalue')}".split())  # one line
            return text if len(text) <= 160 else text[:157] + "..."
    return None


def grade(path: Path, timeout: float = 120.0, as_submitted: bool = False, labs_dir: Path = HERE) -> Result:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        return Result(path, "?", status=f"unreadable: {e}")
    lab = nb.metadata.get("minirpc", {}).get("lab", "")
    missing = [] if as_submitted else restore_checks(nb, lab, labs_dir)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    result = Result(path, lab or "?")
    start = time.monotonic()
    try:
        result.status = run_notebook(nb, path.parent, timeout)
    except Exception as e:  # a kernel that would not start, ...
        result.status = f"error: {type(e).__name__}: {e}"
    result.seconds = time.monotonic() - start
    for i, cell in enumerate(nb.cells):
        if is_check(cell):
            check = Check(grade_id(cell, i), float(cell.metadata.get("nbgrader", {}).get("points", 1)))
            ran = cell.get("execution_count") is not None
            error = first_error(cell)
            check.passed = ran and error is None
            check.why = error or ("" if ran else f"not run ({result.status})")
            result.checks.append(check)
    result.checks += missing
    return result


def find_notebooks(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def _num(x: float) -> str:
    return f"{x:g}"


def print_table(results: list[Result], root: Path, out=None) -> None:
    out = out or sys.stdout
    rows = [("notebook", "lab", "checks", "points", "time", "status")]
    for r in results:
        rows.append((str(r.path.relative_to(root)), r.lab, f"{r.passed}/{len(r.checks)}",
                     f"{_num(r.points)}/{_num(r.max_points)}", f"{r.seconds:.1f} s", r.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
    failures = [(r, c) for r in results for c in r.checks if not c.passed]
    if failures:
        print("\nfailed checks:", file=out)
        for r, c in failures:
            print(f"  {str(r.path.relative_to(root)).ljust(widths[0])}  {c.grade_id}: {c.why}", file=out)


def write_csv(results: list[Result], root: Path, path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["notebook", "lab", "checks_passed", "checks", "points", "max_points", "status"])
        for r in results:
            writer.writerow([r.path.relative_to(root), r.lab, r.passed, len(r.checks), r.points, r.max_points, r.status])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder searched for *.ipynb")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per notebook (default 120)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at the same time (default 1)")
    parser.add_argument("--csv", type=Path, help="also write the scores to this CSV file")
    parser.add_argument("--as-submitted", action="store_true", help="run the check cells as the learner left them")
    args = parser.parse_args(argv)
    root = args.submissions.resolve()
    notebooks = find_notebooks(root)
    if not notebooks:
        print(f"no notebooks under {root}", file=sys.stderr)
        return 2
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:  # each notebook gets its own kernel
        results = list(pool.map(lambda p: grade(p, args.timeout, args.as_submitted), notebooks))
    print_table(results, root)
    if args.csv:
        write_csv(results, root, args.csv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
