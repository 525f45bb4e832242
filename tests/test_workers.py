"""The worker pool (minirpc.workers): jobs, timers and the turn-taking on sockets."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from minirpc.workers import READ, WorkerPool

DEADLINE = 10.0


@pytest.fixture
def pool():
    pool = WorkerPool(4, "test-worker")
    pool.submit(lambda: None)  # the threads start with the first job
    yield pool
    pool.stop(DEADLINE)


def test_a_submitted_job_runs_on_a_worker(pool):
    ran = []
    done = threading.Event()
    pool.submit(lambda: (ran.append(threading.current_thread().name), done.set()))
    assert done.wait(DEADLINE)
    assert ran[0].startswith("test-worker")


def test_a_timer_runs_once_and_not_before_its_delay(pool):
    runs, done = [], threading.Event()
    start = time.monotonic()
    pool.call_later(0.05, lambda: (runs.append(time.monotonic() - start), done.set()))
    assert done.wait(DEADLINE)
    time.sleep(0.1)
    assert len(runs) == 1 and runs[0] >= 0.05


def test_a_cancelled_timer_does_not_run(pool):
    ran = threading.Event()
    pool.call_later(0.05, ran.set).cancel()
    later = threading.Event()
    pool.call_later(0.1, later.set)
    assert later.wait(DEADLINE)  # the pool went past the cancelled timer's time
    assert not ran.is_set()


def test_timers_run_in_the_order_they_fall_due(pool):
    order, done = [], threading.Event()
    for delay, name in ((0.15, "third"), (0.05, "first"), (0.1, "second")):
        pool.call_later(delay, lambda name=name: (order.append(name), len(order) == 3 and done.set()))
    assert done.wait(DEADLINE)
    assert order == ["first", "second", "third"]


def test_a_timer_does_not_wait_for_the_pollers_idle_wait():
    class Sleepy(WorkerPool):
        IDLE_WAIT = 60.0  # with nothing due, the pollers sleep a minute

    pool = Sleepy(2, "sleepy-worker")
    pool.submit(lambda: None)
    try:
        time.sleep(0.1)  # ... and they are asleep now
        ran = threading.Event()
        pool.call_later(0.01, ran.set)
        assert ran.wait(DEADLINE)
    finally:
        pool.stop(DEADLINE)


def test_a_timer_with_slack_does_not_wait_for_the_pollers_idle_wait_either():
    class Sleepy(WorkerPool):
        IDLE_WAIT = 60.0

    pool = Sleepy(2, "sleepy-worker")
    pool.submit(lambda: None)
    try:
        time.sleep(0.1)
        ran = threading.Event()
        pool.call_later(0.01, ran.set, slack=0.01)  # late by 10 ms at most: not by a minute
        assert ran.wait(DEADLINE)
    finally:
        pool.stop(DEADLINE)


@pytest.mark.parametrize("attempt", range(12))  # (the race goes either way: try it often)
def test_a_timer_runs_while_the_poller_that_took_its_wake_up_is_busy(attempt):
    # A timer wakes one of the (two) pollers to wait again until it is due; which one wakes
    # is the kernel's choice.  If that one then takes a socket and runs something long, the
    # other, asleep for a minute, must be woken for the timer: a server's rescue timers hang
    # on this (a fast call once waited 300 ms behind a slow one for want of it).
    class Sleepy(WorkerPool):
        IDLE_WAIT = 60.0

    pool = Sleepy(3, "sleepy-worker")
    ours, theirs = socket.socketpair()
    ran, handler_saw = threading.Event(), []

    def busy(events):
        ours.recv(1)
        handler_saw.append(ran.wait(DEADLINE))  # busy until the timer has run (or for 10 s)

    pool.add(ours.fileno(), busy, READ)
    try:
        time.sleep(0.1)  # both pollers asleep, for a minute
        pool.call_later(0.01, ran.set)
        theirs.send(b"x")  # to whichever poller: maybe the one the timer woke
        assert ran.wait(DEADLINE)
        theirs.close()
    finally:
        pool.stop(DEADLINE)
        ours.close()
    assert handler_saw == [True]


def test_timers_with_slack_set_back_to_back_all_run(pool):
    runs, done = [], threading.Event()
    for i in range(100):  # what a busy server does: one per call, most cancelled
        timer = pool.call_later(0.002, lambda i=i: (runs.append(i), len(runs) == 50 and done.set()), slack=0.002)
        if i % 2:
            timer.cancel()
    assert done.wait(DEADLINE)
    time.sleep(0.05)
    assert sorted(runs) == list(range(0, 100, 2))


def test_a_job_that_raises_does_not_take_a_worker_away(pool, caplog):
    pool.submit(lambda: 1 / 0)
    done = [threading.Event() for _ in range(pool.size)]
    blockers = threading.Event()
    for event in done:  # every worker is still there: all of them can be busy at once
        pool.submit(lambda event=event: (event.set(), blockers.wait(DEADLINE)))
    try:
        assert all(event.wait(DEADLINE) for event in done)
    finally:
        blockers.set()
    assert "internal error in a worker" in caplog.text


def test_stop_waits_for_the_workers_and_they_are_gone():
    pool = WorkerPool(3, "stopping-worker")
    pool.submit(lambda: None)
    pool.stop(DEADLINE)
    assert not [t for t in threading.enumerate() if t.name.startswith("stopping-worker")]


def test_stop_closes_the_poller_once_and_after_waking_every_worker(monkeypatch):
    # The last worker out used to close the poller (its stop pipe too) while stop() was
    # still about to write to that pipe: "Bad file descriptor", or a byte in a reused fd.
    for _ in range(200):
        pool = WorkerPool(4, "racing-worker")
        pool.submit(lambda: None)
        closes, writes = [], []
        close, stop = pool._poller.close, pool._poller.stop
        monkeypatch.setattr(pool._poller, "close", lambda: (closes.append(list(writes)), close()))
        monkeypatch.setattr(pool._poller, "stop", lambda: (stop(), writes.append("stop")))
        pool.stop(DEADLINE)
        deadline = time.monotonic() + DEADLINE
        while not closes and time.monotonic() < deadline:
            time.sleep(0.001)
        assert closes == [["stop"]]  # closed exactly once, after the stop was written
