"""The course as a learner meets it: the lab command, the start page, the links, the lessons.

Most checks read the committed notebooks (START.ipynb and notebooks/0*.ipynb).
The last one executes every lesson that has a call console in a kernel of its
own, top to bottom as *Run All* does, and then presses every console's
buttons in that same kernel: after Run All, after the clean-up cell ran a
second time, after the console cell ran again, and after each console's own
connection was closed under it.  (nbval, run by the README's test command,
checks the stored outputs themselves.)
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
START = REPO / "START.ipynb"
LESSONS = sorted((REPO / "notebooks").glob("0*.ipynb"))
LABS = sorted((REPO / "exercises").glob("*/student.ipynb"))
COURSE = [START, *LESSONS]
MAX_CODE_LINE = 99  # characters: a JupyterLab cell at 1280 px, file browser open, shows ~110

nbformat = pytest.importorskip("nbformat")


def _notebook(path: Path):
    return nbformat.read(path, as_version=4)


def _ids(paths):
    return [p.name for p in paths]


def _code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def _markdown(notebook) -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def _links(text: str) -> list[str]:
    """Markdown link targets and HTML hrefs in ``text``."""
    return re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'href="([^"]+)"', text)


def _local(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:|^#|^//", target)


def _readme_block(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    match = re.search(re.escape(marker) + r"\s*```sh\n(.*?)```", text, re.S)
    assert match, f"README.md has no ```sh block after {marker}"
    return match.group(1).strip()


# ---------------------------------------------------------------- the way in


def _command_args(command: str, program: str) -> list[str]:
    """The arguments of the step of a ``a && b && c`` command that runs ``program``."""
    steps = [step.split() for step in command.split("&&")]
    found = [step[step.index(program.split()[-1]) + 1:] for step in steps if program in " ".join(step)]
    assert len(found) == 1, f"{program!r} should run once in {command!r}"
    return found[0]


def test_the_readme_lab_command_opens_the_start_page_at_the_repository_root():
    command = _readme_block("<!-- lab-command -->")
    opened = _command_args(command, "jupyter lab")
    assert opened == ["START.ipynb"], command
    # `jupyter lab FILE` serves FILE's folder: the repository root, so every lesson, lab and source
    # file is reachable from the page it opens.
    assert (REPO / opened[0]).is_file() and (REPO / opened[0]).parent == REPO


def _trusted(patterns: list[str]) -> set[Path]:
    return {p.resolve() for pattern in patterns for p in REPO.glob(pattern)}


def test_the_readme_lab_command_trusts_every_lesson_so_its_stored_consoles_show():
    # JupyterLab draws a widget from stored state only in a trusted notebook.
    trusted = _trusted(_command_args(_readme_block("<!-- lab-command -->"), "jupyter trust"))
    assert [p.name for p in LESSONS if p.resolve() not in trusted] == []


def test_binder_builds_from_the_environment_file_and_trusts_every_lesson():
    assert (REPO / "environment.yml").is_file() and not (REPO / "binder").exists() \
        and not (REPO / ".binder").exists(), "repo2docker reads the repository root only without a binder/ folder"
    post_build = REPO / "postBuild"
    assert post_build.is_file() and os.access(post_build, os.X_OK), "repo2docker runs postBuild only if executable"
    steps = [line for line in post_build.read_text().splitlines() if line.startswith("jupyter trust ")]
    trusted = _trusted([arg for line in steps for arg in line.split()[2:]])
    assert [p.name for p in LESSONS if p.resolve() not in trusted] == []


def test_the_readme_binder_link_lands_on_the_start_page():
    text = (REPO / "README.md").read_text()
    links = re.findall(r"https://mybinder\.org/v2/[^\s)\]]+", text)
    assert links, "README.md has no Binder link"
    for link in links:
        assert "urlpath=lab/tree/START.ipynb" in link, link


def test_the_start_page_links_every_lesson_and_every_lab():
    linked = {(REPO / unquote(t)).resolve() for t in _links(_markdown(_notebook(START))) if _local(t)}
    missing = [p.relative_to(REPO) for p in [*LESSONS, *LABS] if p.resolve() not in linked]
    assert not missing, f"START.ipynb does not link {missing}"


def test_the_notebooks_readme_maps_every_lesson():
    text = (REPO / "notebooks" / "README.md").read_text()
    assert [p.name for p in LESSONS if p.name not in text] == []


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_every_relative_link_resolves_to_a_file(path):
    notebook = _notebook(path)
    texts = [_markdown(notebook)]
    for cell in _code_cells(notebook):  # show_source links, relative to the notebook's folder
        for output in cell.get("outputs", []):
            texts.append(output.get("data", {}).get("text/html", ""))
    broken = []
    for target in {t for text in texts for t in _links(text) if _local(t)}:
        file = (path.parent / unquote(urlsplit(target).path)).resolve()
        if not file.exists():
            broken.append(target)
        elif REPO not in file.parents and file != REPO:
            broken.append(f"{target} (outside the repository: the lab command cannot serve it)")
    assert not broken, f"{path.name}: {sorted(broken)}"


# ---------------------------------------------------------------- what every lesson owes its reader


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_lesson_states_what_it_needs_how_long_it_takes_and_its_goals(path):
    first = _notebook(path).cells[0].source
    assert "**You need:**" in first and "**Goals.**" in first
    assert re.search(r"\*\*Time:\*\* \d+–\d+ minutes", first), "state a realistic range, e.g. 40–50 minutes"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_lesson_answers_its_questions_in_a_folded_cell(path):
    cells = [c.source for c in _notebook(path).cells if c.cell_type == "markdown"]
    asked = next(i for i, text in enumerate(cells) if "## Questions" in text)
    questions = re.findall(r"^(\d+)\. ", cells[asked].split("## Questions", 1)[1], re.M)
    answers_cell = cells[asked + 1]
    assert answers_cell.lstrip().startswith("<details>") and "Answers" in answers_cell
    assert re.findall(r"^(\d+)\. ", answers_cell, re.M) == questions


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_code_line_fits_a_cell(path):
    long = [(i, line) for i, cell in enumerate(_notebook(path).cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if len(line) > MAX_CODE_LINE]
    assert not long, f"{len(long)} lines over {MAX_CODE_LINE} characters, e.g. cell {long[0][0]}: {long[0][1]!r}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_every_lesson_is_stored_run_top_to_bottom(path):
    counts = [c.execution_count for c in _code_cells(_notebook(path))]
    assert None not in counts, "a code cell was never run"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), "cells were run out of order"


_MACHINE_PATH = re.compile(r"(?<![\w.…~])/(?:home|root|work|usr|opt|var|srv|Users|private)/|[A-Z]:\\\\")


@pytest.mark.parametrize("path", COURSE, ids=_ids(COURSE))
def test_stored_outputs_carry_no_paths_of_the_machine_that_ran_them(path):
    found = []
    for i, cell in enumerate(_code_cells(_notebook(path))):
        for output in cell.get("outputs", []):
            texts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", []),
                     *(v for v in output.get("data", {}).values() if isinstance(v, str))]
            found += [(i, m.group()) for text in texts for m in _MACHINE_PATH.finditer(text)]
    assert not found, f"machine paths in stored outputs (run notebooks/execute.py): {found[:5]}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_a_displayed_widget_has_its_state_stored(path):
    notebook = _notebook(path)
    shown = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
             for cell in _code_cells(notebook) for o in cell.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert [m for m in shown if m not in state.get("state", {})] == [], \
        "an opened notebook would show the widget's text form: re-execute with notebooks/execute.py"


# ---------------------------------------------------------------- the consoles, after Run All

CONSOLE_LESSONS = [p for p in LESSONS if "Console(" in "".join(c.source for c in _code_cells(_notebook(p)))]

PRESS_EVERY_BUTTON = """
import json as _json
from minirpc.teaching import live_consoles as _live_consoles

_pressed = []
for _console in _live_consoles():
    _console.call_button.click()
    _call = _console.reply.value
    _console.go_button.click()
    _pressed.append({"console": type(_console).__name__, "method": _console.method.value,
                     "call": _call, "go": _console.reply.value,
                     "bytes shown": "request" in _console.wire.value})
print(_json.dumps(_pressed))
"""

CLOSE_EVERY_CONSOLES_CLIENT = """
for _console in _live_consoles():
    _console.client.close()
"""


def _run(client, source: str):
    """Run ``source`` as one more cell in the notebook's kernel; its last stdout line as JSON."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells.append(cell)
    client.execute_cell(cell, len(client.nb.cells) - 1)
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1]) if text.strip() else None


def _assert_every_console_answers(pressed: list, when: str, note: str = "") -> None:
    assert pressed, f"{when}: no live console found"
    for console in pressed:
        assert console["call"].startswith("reply: "), f"{when}: Call showed {console['call']!r}"
        assert re.match(r"Go ×(\d+): \1 ok, 0 failed", console["go"]), f"{when}: Go showed {console['go']!r}"
        assert console["bytes shown"], f"{when}: the bytes panel is empty after a call that went through"
        assert note in console["call"], f"{when}: expected {note!r} in {console['call']!r}"


@pytest.mark.parametrize("path", CONSOLE_LESSONS, ids=_ids(CONSOLE_LESSONS))
def test_every_console_answers_after_run_all_and_after_the_clean_up_runs_again(path):
    pytest.importorskip("ipywidgets")
    from nbclient import NotebookClient

    notebook = _notebook(path)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    console_cell = next(i for i, c in code if "Console(" in c.source)
    with client.setup_kernel(env=env):
        for i, cell in code:  # Run All
            client.execute_cell(cell, i)
        _assert_every_console_answers(_run(client, PRESS_EVERY_BUTTON), "after Run All")

        client.execute_cell(notebook.cells[code[-1][0]], code[-1][0])  # the clean-up, a second time
        _assert_every_console_answers(_run(client, PRESS_EVERY_BUTTON), "after the clean-up ran twice")

        client.execute_cell(notebook.cells[console_cell], console_cell)  # the console cell again
        _assert_every_console_answers(_run(client, PRESS_EVERY_BUTTON), "after the console cell ran again")

        _run(client, CLOSE_EVERY_CONSOLES_CLIENT)
        _assert_every_console_answers(_run(client, PRESS_EVERY_BUTTON),
                                      "after each console's connection was closed", note="dialled again")
