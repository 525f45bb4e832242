"""The set-up files agree with each other and with the README."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parent.parent


def _requirement_names(requirements):
    return {re.split(r"[<>=!~\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def _environment_names():
    names, in_deps = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and re.match(r"^  - [A-Za-z]", line):
            names.add(re.split(r"[<>=! ]", line[4:].split("#")[0].strip(), maxsplit=1)[0].lower())
    return names


def test_environment_yml_has_every_lab_and_test_requirement():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    wanted = _requirement_names(extras["lab"] + extras["test"]) - {"minirpc"}
    missing = wanted - _environment_names()
    assert not missing, f"environment.yml lacks {sorted(missing)} (pyproject extras have them)"


def test_environment_yml_pins_python_and_installs_the_package():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^  - python=3\.\d+$", text, re.M), "pin python (Binder defaults to an old one otherwise)"
    assert re.search(r"^      - -e \.$", text, re.M), "the package itself must be in the pip section"


def test_the_library_needs_nothing_outside_the_standard_library():
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"] == []
    code = "import sys, minirpc, minirpc.http, minirpc.lossy; print(sorted(m for m in ('ipywidgets','matplotlib','IPython') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]", "importing minirpc must not pull in the optional teaching dependencies"


def _readme_block(marker):
    text = (ROOT / "README.md").read_text()
    return re.search(rf"<!-- {marker} -->\s*```sh\n(.+?)\n```", text, re.S).group(1)


def test_readme_quickstart_has_two_one_line_commands():
    for marker in ("lab-command", "test-command"):
        assert "\n" not in _readme_block(marker)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and 'bash -c "$cmd"' in ci
    assert "MINIRPC_REQUIRE_GO=1" in ci
