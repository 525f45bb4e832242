"""Fixtures for the robustness battery; the helpers live in ``support.py``."""

from __future__ import annotations

import signal
import threading

import pytest

from .support import robust  # noqa: F401 - a fixture

TEST_DEADLINE = 40  # seconds for one test, set-up and teardown included


class Hung(Exception):
    """Raised in the main thread when a test runs past TEST_DEADLINE (a hang in the code under test)."""


@pytest.fixture(autouse=True)
def hang_guard():
    """Turn a hang into a failure of this test only (SIGALRM interrupts blocking waits)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise Hung(f"test still running after {TEST_DEADLINE} s: a hang")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_DEADLINE)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
