"""The package is built in layers that import only downwards, checked by import-linter.

The contracts live in pyproject.toml ([tool.importlinter]); lazy imports inside
functions count as much as those at the top of a module.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"import-linter is not installed next to {sys.executable} (it is in the [test] extra)")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def test_every_layer_imports_only_the_layers_below_it():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The check can fail: a lower layer (values) importing a higher one (server) lazily."""
    shutil.copytree(ROOT / "minirpc", tmp_path / "minirpc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    values = tmp_path / "minirpc" / "values.py"
    values.write_text(values.read_text() + "\n\ndef _sneaky():\n    from . import server\n    return server\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "minirpc.values -> minirpc.server" in result.stdout
