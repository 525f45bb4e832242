"""Re-execute lessons in place, the way they are committed: outputs, widget state, no machine paths.

    python notebooks/execute.py                      # every lesson (notebooks/0*.ipynb)
    python notebooks/execute.py notebooks/02-codecs.ipynb

Each notebook runs top to bottom in a fresh kernel started in its own folder
(as JupyterLab and nbval start it), with the widget state stored in the file
so that an opened notebook shows its consoles, not their text form.  Then the
outputs are cleaned of anything that belongs to the machine that ran them:
absolute paths in tracebacks and text become relative to the repository
(``minirpc/registry.py``) or are shortened (``…/site-packages/``,
``…/python3.11/``, ``/tmp/…``).  The run time of each lesson is printed.

Run it from the repository root with the Python that has the ``lab`` extra;
the kernel imports minirpc from this repository (``PYTHONPATH`` is set).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
LESSONS = sorted((REPO / "notebooks").glob("0*.ipynb"))


def machine_free(text: str) -> str:
    """``text`` without the absolute paths of this machine."""
    for root in {str(REPO), os.path.realpath(REPO)}:
        text = text.replace(root + os.sep, "").replace(root, ".")
    text = re.sub(r"~?(?:/[^\s:'\"()\[\]]+)?/(site-packages|dist-packages)/", r"…/\1/", text)
    text = re.sub(r"~?(?:/[^\s:'\"()\[\]]+)?/(python3\.\d+)/", r"…/\1/", text)
    text = re.sub(r"/tmp/[^\s'\":]+", "/tmp/…", text)
    return re.sub(r"/home/[^/\s]+/", "~/", text)


def clean_outputs(notebook) -> None:
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if "traceback" in output:
                output["traceback"] = [machine_free(line) for line in output["traceback"]]
            if "evalue" in output:
                output["evalue"] = machine_free(output["evalue"])
            if "text" in output:
                output["text"] = machine_free(output["text"])
            for mime, value in output.get("data", {}).items():
                if mime in ("text/plain", "text/html") and isinstance(value, str):
                    output["data"][mime] = machine_free(value)


def execute(path: Path, timeout: int = 600) -> float:
    """Run one notebook in place; return the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    t0 = time.perf_counter()
    client.execute(env=env)
    seconds = time.perf_counter() - t0
    clean_outputs(notebook)
    nbformat.write(notebook, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every lesson")
    args = parser.parse_args(argv)
    total = 0.0
    for path in args.notebooks or LESSONS:
        seconds = execute(path.resolve())
        total += seconds
        print(f"{path.name:32} {seconds:6.1f} s")
    print(f"{'total':32} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
