"""The teacher's scripts of exercises/ (grade.py, make_student.py, labcheck.py ...), imported by path.

exercises/ is not a package the tests can import by name, so each script is
loaded from its file once, as ``exercises_<name>``, and shared by every test
file that asks for it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXERCISES = Path(__file__).resolve().parent.parent / "exercises"


def load(name: str):
    """exercises/<name>.py as a module."""
    module_name = f"exercises_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, EXERCISES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]
