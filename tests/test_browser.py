"""Lesson 4 in a real browser: JupyterLab in headless Chromium, driven by Playwright.

The test starts JupyterLab on a free port (token auth, config and settings in a
temporary directory) with a *copy* of notebooks/04-async-calls.ipynb minus its
last cell (the clean-up, which would stop the server the console talks to),
runs all cells, types a new argument into the call console,
presses **Call** and reads the reply on the page.  A screenshot goes to
``test-artifacts/lesson4-console.png``.

Skips when Chromium or Playwright is missing, unless ``MINIRPC_REQUIRE_BROWSER=1``
(CI sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "notebooks" / "04-async-calls.ipynb"
ARTIFACTS = REPO / "test-artifacts"
REQUIRED = os.environ.get("MINIRPC_REQUIRE_BROWSER") == "1"
TOKEN = "minirpc-browser-test"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"MINIRPC_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    _skip_or_fail("Chromium is not installed (Debian: apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


@pytest.fixture
def chromium():
    """Chromium's path, once Chromium and Playwright are both known to be there."""
    path = _chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("Playwright is not installed (pip install playwright)")
    return path


@pytest.fixture
def lab(chromium, tmp_path):
    """A JupyterLab server serving a temporary root that holds a copy of lesson 4."""
    root = tmp_path / "lab"
    root.mkdir()
    notebook = json.loads(NOTEBOOK.read_text())
    assert "server.close()" in "".join(notebook["cells"][-1]["source"]), "lesson 4 should end with its clean-up cell"
    del notebook["cells"][-1]  # keep the server running for the click; the kernel is shut down at the end
    (root / NOTEBOOK.name).write_text(json.dumps(notebook))
    settings = tmp_path / "settings"
    for plugin, values in {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                           "docmanager-extension/plugin": {"autosave": False}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    port = _free_port()
    log = open(tmp_path / "lab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
         "--ServerApp.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status?token={TOKEN}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.25)
        yield base
    finally:
        _shutdown_kernels(base)
        server.send_signal(signal.SIGTERM)  # the server shuts its kernels down too
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        try:
            os.killpg(server.pid, signal.SIGKILL)  # anything left in its session (a stray kernel)
        except ProcessLookupError:
            pass
        log.close()


def _shutdown_kernels(base: str) -> None:
    try:
        sessions = json.loads(_get(f"{base}/api/sessions?token={TOKEN}"))
    except OSError:
        return
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={TOKEN}", method="DELETE")
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except OSError:
            pass


def _start_session(base: str) -> None:
    """Start the notebook's kernel through the REST API, so the page finds it
    running and never asks which kernel to use."""
    body = json.dumps({"path": NOTEBOOK.name, "type": "notebook", "name": NOTEBOOK.name,
                       "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(f"{base}/api/sessions?token={TOKEN}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).close()


def _run_lesson_and_call(page, base: str) -> str:
    """Open the notebook, run all cells, call from the console."""
    from playwright.sync_api import expect

    _start_session(base)
    page.goto(f"{base}/lab/tree/{NOTEBOOK.name}?token={TOKEN}&reset")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    select_kernel = page.locator(".jp-Dialog button", has_text="Select")
    if select_kernel.count():  # seen once on a cold start: accept the notebook's own kernel
        select_kernel.first.click()
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.click("#jp-MainMenu >> text=Run")
    page.click("li[data-command='runmenu:run-all']")

    call = page.get_by_role("button", name="Call", exact=True)
    call.wait_for()
    expect(page.locator(".widget-label", has_text="reply: 42")).to_be_visible()  # the cell that clicks from code
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")

    field_a = page.locator(".widget-text:has(label:text-is('A')) input")
    field_a.fill("11")
    field_a.press("Enter")  # an IntText sends its value on Enter
    call.click()
    reply = page.locator(".widget-label", has_text="reply: 77")  # 11 × 7
    expect(reply).to_be_visible()
    call.scroll_into_view_if_needed()
    return reply.inner_text()


def test_call_console_answers_a_click_in_jupyterlab(chromium, lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        for attempt in (1, 2):  # one retry: a fresh page and a fresh kernel
            context = p.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="minirpc-chromium-"), executable_path=chromium, headless=True,
                args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            try:
                text = _run_lesson_and_call(page, lab)
                page.screenshot(path=str(ARTIFACTS / "lesson4-console.png"))
                break
            except Exception:
                page.screenshot(path=str(ARTIFACTS / f"lesson4-failed-attempt{attempt}.png"))
                if attempt == 2:
                    raise
                _shutdown_kernels(lab)
            finally:
                context.close()
    assert text == "reply: 77"
