"""Worker threads that take turns watching every connection, and run what they find.

How many threads does a server need?  The classic answers (in the words of
*Pattern-Oriented Software Architecture*, vol. 2):

* **Thread per connection** (Python's ``socketserver``): simple, but an idle
  connection costs a thread, so 2,000 clients cost 2,000 threads.
* **Half-sync/half-async**: one I/O thread (a *reactor*) watches every socket
  and queues whole requests for a pool of workers.  Threads are bounded and
  the queue is a natural place for push-back, but every call pays a hand-off
  from the I/O thread to a worker -- tens of microseconds in CPython, on the
  critical path of every synchronous call.
* **Leader/followers**: a pool of threads take turns waiting for I/O.  The one
  that wakes (the leader) handles the event itself -- reads the request, runs
  the call, writes the reply -- while another waits for the next event.  No
  hand-off on the critical path, idle connections cost nothing, and the pool
  size bounds the threads.

minirpc uses leader/followers.  On Linux the kernel does the turn-taking:
every idle worker waits in the same ``epoll`` set, each socket registered
``EPOLLONESHOT``, so a ready socket wakes exactly one worker and stays
disarmed until that worker arms it again -- no two workers ever read one
socket at once.  Elsewhere a ``selectors`` selector and a lock do the same:
the worker holding the lock selects, the others wait for it.

Besides sockets, a worker runs *jobs*: a worker that read several requests in
one go keeps one and queues the rest (``submit``), and idle workers take
queued jobs before they wait on sockets again.  ``call_later`` runs a function
on some worker after a delay (the pollers wait no longer than the first timer,
and a poller that gets busy wakes another that would sleep past it),
and ``every_second`` functions run about once a second (the server's
idle-timeout sweep).
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import os
import select
import selectors
import socket
import threading
import time
from typing import Any, Callable

READ, WRITE = 1, 2
WAKE = -1  # what a poller reports for a wake-up (there are jobs), instead of a socket
log = logging.getLogger("minirpc")


#: Called on a worker thread with READ and/or WRITE when its socket is ready; the socket
#: is then disarmed until armed again.  It must tolerate a call when nothing is ready.
Handler = Callable[[int], None]


class _EpollPoller:
    """Many threads wait on one epoll set; each event goes to one of them (Linux)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        # Wake-ups for queued jobs: edge-triggered, so one write wakes one worker (level-
        # triggered would wake every waiter while the count is unread: a thundering herd).
        self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN | select.EPOLLET)
        # Stopping: a pipe that stays readable, level-triggered, so it wakes every worker.
        self._stop_r, self._stop_w = os.pipe()
        self._epoll.register(self._stop_r, select.EPOLLIN)

    @staticmethod
    def _mask(events: int) -> int:
        return select.EPOLLONESHOT | (select.EPOLLIN if events & READ else 0) | \
            (select.EPOLLOUT if events & WRITE else 0)

    def add(self, fd: int, events: int) -> None:
        self._epoll.register(fd, self._mask(events))

    def arm(self, fd: int, events: int) -> None:
        try:
            self._epoll.modify(fd, self._mask(events))
        except (FileNotFoundError, ValueError, OSError) as e:
            if getattr(e, "errno", None) not in (None, 2, 9):  # ENOENT, EBADF: closed meanwhile
                raise

    def remove(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except (OSError, ValueError):
            pass  # closed already: epoll forgot it

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        events = []
        for fd, mask in self._epoll.poll(timeout, 1):  # one event per waiter spreads the work
            if fd == self._wake_fd:
                try:
                    os.eventfd_read(self._wake_fd)
                except BlockingIOError:
                    pass
                events.append((WAKE, 0))
                continue
            if fd == self._stop_r:
                continue  # the pool is stopping: the worker sees it when wait returns
            events.append((fd, (READ if mask & ~select.EPOLLOUT else 0) | (WRITE if mask & select.EPOLLOUT else 0)))
        return events

    def wake(self) -> None:
        os.eventfd_write(self._wake_fd, 1)

    def stop(self) -> None:
        os.write(self._stop_w, b"x")

    def close(self) -> None:
        self._epoll.close()
        for fd in (self._wake_fd, self._stop_r, self._stop_w):
            os.close(fd)


class _SelectorPoller:
    """The portable leader/followers: one thread selects (holding ``_leader``), the others wait for it.

    A selector is not safe to change while another thread selects, so changes
    are queued and applied by the leader (the wake-up socket interrupts it)."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._leader = threading.Lock()  # held by the one thread in select()
        self._lock = threading.Lock()  # protects _changes
        self._changes: list[tuple[int, int]] = []  # (fd, events; -1 removes)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self.closing = False

    def add(self, fd: int, events: int) -> None:
        self.arm(fd, events)

    def arm(self, fd: int, events: int) -> None:
        with self._lock:
            self._changes.append((fd, events))
        self._interrupt()

    def remove(self, fd: int) -> None:
        with self._lock:
            self._changes.append((fd, -1))
        self._interrupt()

    def _interrupt(self) -> None:
        try:
            self._wake_w.send(b"x")
        except BlockingIOError:
            pass  # the leader will wake anyway: the socket is full of wake-ups

    def _apply(self) -> None:
        with self._lock:
            changes, self._changes = self._changes, []
        for fd, events in changes:
            if fd in self._selector.get_map():
                self._selector.unregister(fd)
            if events > 0:
                try:
                    self._selector.register(fd, (selectors.EVENT_READ if events & READ else 0) |
                                            (selectors.EVENT_WRITE if events & WRITE else 0))
                except (OSError, ValueError):
                    pass  # closed meanwhile

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        if not self._leader.acquire(timeout=timeout):
            return []
        try:
            if self.closing:
                return []
            self._apply()
            ready = []
            for key, mask in self._selector.select(timeout):
                if key.fileobj is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                        ready.append((WAKE, 0))
                    except BlockingIOError:
                        pass
                    continue
                self._selector.unregister(key.fd)  # one shot, like EPOLLONESHOT
                ready.append((key.fd, (READ if mask & selectors.EVENT_READ else 0) |
                              (WRITE if mask & selectors.EVENT_WRITE else 0)))
            return ready
        finally:
            self._leader.release()

    def wake(self) -> None:
        self._interrupt()

    def stop(self) -> None:
        self.closing = True
        self._interrupt()

    def close(self) -> None:
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


class Timer:
    """``WorkerPool.call_later``'s handle: ``cancel()`` it if it is no longer needed."""

    __slots__ = ("at", "fn", "cancelled")

    def __init__(self, at: float, fn: Callable[[], None]):
        self.at, self.fn, self.cancelled = at, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class WorkerPool:
    """``size`` threads that wait on sockets and run jobs; nothing else ever runs server code.

    At most ``MAX_POLLING`` of the idle workers wait on the sockets; the others wait on
    ``_cond`` (followers) until a job or the need for a new watcher wakes one.  Few
    watchers matter in CPython: the kernel hands events to its waiters in turn, and each
    hand-over between threads is a context switch and a fight for the GIL."""

    MAX_POLLING = 2
    IDLE_WAIT = 1.0  # seconds a poller waits with nothing due (so every_second ticks run on time)

    def __init__(self, size: int, name: str = "minirpc-worker", portable: bool = False):
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size, self.name = size, name
        self._poller = _SelectorPoller() if portable or not hasattr(select, "epoll") else _EpollPoller()
        self._handlers: dict[int, Handler] = {}  # fd -> handler (a dict read is atomic: workers read it freely)
        self._jobs: collections.deque = collections.deque()  # (atomic appends and pops)
        self._cond = threading.Condition()  # protects the three below; followers wait on it
        self._polling: dict[int, float] = {}  # the workers waiting on the sockets now: when each will wake
        self._idle = 0  # followers waiting on _cond
        self._waking = False  # a wake-up is on its way to some worker (at most one at a time)
        self._alarm = False  # a wake-up is on its way to the pollers, for the first timer
        self._timers: list = []  # a heap of (when, n, Timer): pollers wake for the first
        self._timer_ids = itertools.count()
        self._lock = threading.Lock()  # protects _threads, _running, _stopping, _signalled and _handlers changes
        self._threads: list[threading.Thread] = []
        self._running = 0  # threads in _work
        self._stopping = False
        self._signalled = False  # stop() has written to the poller's stop pipe: the poller may close
        self._ticks: list[Callable[[], None]] = []
        self._tick_lock = threading.Lock()  # held by the worker running the ticks
        self._next_tick = 0.0

    # -- sockets
    def add(self, fd: int, handler: Handler, events: int) -> None:
        """Watch ``fd`` for ``events``, once: after an event it is disarmed until ``arm``."""
        with self._lock:
            self._handlers[fd] = handler
        self._start()
        self._poller.add(fd, events)

    def arm(self, fd: int, events: int) -> None:
        """Watch ``fd`` again (``events`` 0: stay disarmed).  Call it only while nobody else can."""
        self._poller.arm(fd, events)

    def remove(self, fd: int) -> None:
        with self._lock:
            self._handlers.pop(fd, None)
        self._poller.remove(fd)

    # -- jobs
    def submit(self, fn: Callable, *args: Any) -> None:
        """Run ``fn(*args)`` on the next idle worker."""
        self._start()
        self._jobs.append((fn, args))
        self._wake_one()

    def _wake_one(self) -> None:
        # Waking a thread costs a context switch.  So wake one worker only, and only if no
        # wake-up is already on its way: busy workers take queued jobs as they finish, and a
        # worker that takes a job while more wait wakes the next one (_take_job).
        with self._cond:
            if self._waking:
                return
            if self._idle:
                self._waking = True
                self._cond.notify()
            elif self._polling:
                self._waking = True
                self._poller.wake()
            # else every worker is busy: the first to finish takes the job

    def every_second(self, fn: Callable[[], None]) -> None:
        self._ticks.append(fn)

    def call_later(self, delay: float, fn: Callable[[], None], slack: float = 0.0) -> Timer:
        """Run ``fn()`` on some worker after ``delay`` seconds, unless cancelled first.

        ``fn`` may run up to ``slack`` seconds late: then no poller is woken for it if one
        wakes by then anyway.  (A busy server sets such a timer for every batch and kept
        connection, and cancels nearly all of them: with slack, the pollers wake once per
        ``delay`` or so for all of them, not once for each.)"""
        timer = Timer(time.monotonic() + delay, fn)
        latest = timer.at + slack
        with self._cond:
            heapq.heappush(self._timers, (latest, next(self._timer_ids), timer))  # the pollers' alarm clock
            wake = self._sleeps_past(latest)
        if wake:
            self._poller.wake()
        return timer

    def _sleeps_past(self, latest: float) -> bool:  # (called holding _cond)
        """Would every poller sleep past ``latest``?  Then one must be woken, to wait again until
        the first timer: True (once; until a poller takes the wake-up, later timers ride on it).
        Which poller wakes is the kernel's choice, so ``_polling`` keeps when each really wakes."""
        if not self._polling or self._alarm or latest >= min(self._polling.values()):
            return False
        self._alarm = True
        return True

    def _run_timers(self) -> None:
        # The heap is in the order of the latest time each timer may run; a poller woken by
        # the first runs every timer from the front that is due, so that timers with slack,
        # set one after the other, are run (or dropped, if cancelled) together.
        due, now = [], time.monotonic()
        if not self._timers or self._timers[0][2].at > now:
            return
        with self._cond:
            while self._timers and self._timers[0][2].at <= now:
                timer = heapq.heappop(self._timers)[2]
                if not timer.cancelled:
                    due.append(timer.fn)
        for fn in due:
            self._run(fn)

    def _start(self) -> None:
        if len(self._threads) == self.size:
            return
        with self._lock:
            while not self._stopping and len(self._threads) < self.size:
                thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads) + 1}",
                                          daemon=True)
                self._threads.append(thread)
                self._running += 1
                thread.start()

    # -- a worker's life
    def _work(self) -> None:
        try:
            self._serve()
        finally:
            with self._lock:
                self._running -= 1
                last = self._signalled and self._running == 0
            if last:  # the last worker out closes the poller (if stop() is done with it)
                self._poller.close()

    def _serve(self) -> None:
        while not self._stopping:
            job = self._take_job()
            if job is not None:
                self._run(job[0], *job[1])
                self._run_timers()  # (in case no worker is left to poll)
            elif (wake_at := self._become_poller()) is not None:
                events = self._poller.wait(max(0.0, wake_at - time.monotonic()))
                woken = any(fd == WAKE for fd, _ in events)
                self._leave_poller(polled=True, woken=woken, busy=len(events) > woken)
                for fd, ready in events:
                    if fd != WAKE and (handler := self._handlers.get(fd)) is not None:
                        self._run(handler, ready)
                self._run_timers()
                self._tick()

    def _take_job(self) -> tuple | None:
        try:
            job = self._jobs.popleft()
        except IndexError:
            return None
        if self._jobs:  # more wait: let another worker start on them
            self._wake_one()
        elif not self._polling or self._timers:  # this worker will be busy: somebody must watch the
            self._leave_poller()                  # sockets, and wake for the timers
        return job

    def _become_poller(self) -> float | None:
        """Wait on the sockets (return until when: the first timer, at most IDLE_WAIT from now), or
        else as a follower until woken (return None)."""
        with self._cond:
            if self._jobs or self._stopping:
                return None
            if len(self._polling) < self.MAX_POLLING:
                wake_at = time.monotonic() + self.IDLE_WAIT
                if self._timers:
                    wake_at = min(wake_at, self._timers[0][0])
                    self._alarm = False  # (this poller wakes for the first timer)
                self._polling[threading.get_ident()] = wake_at
                return wake_at
            self._idle += 1
            self._cond.wait()
            self._idle -= 1
            self._waking = False
            return None

    def _leave_poller(self, polled: bool = False, woken: bool = False, busy: bool = True) -> None:
        """A poller woke (``polled``; ``woken``: by a wake-up, which it takes), or a worker is
        about to get ``busy``: if nobody would watch the sockets, promote a follower; if the
        pollers left would sleep past the first timer, wake one."""
        with self._cond:
            if polled:
                del self._polling[threading.get_ident()]
            if woken:
                self._waking = self._alarm = False
            if not self._polling:
                if self._idle and not self._waking:  # nobody would watch: promote one
                    self._waking = True
                    self._cond.notify()
            elif busy and self._timers and self._sleeps_past(self._timers[0][0]):
                self._poller.wake()

    @staticmethod
    def _run(fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # a bug must not take a worker away
            log.exception("minirpc: internal error in a worker")

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_tick or not self._ticks or not self._tick_lock.acquire(blocking=False):
            return
        try:
            self._next_tick = now + 1.0
            for fn in list(self._ticks):
                self._run(fn)
        finally:
            self._tick_lock.release()

    def stop(self, timeout: float | None = None) -> None:
        """Stop every worker (after the job or event each is handling) and wait for them, at
        most ``timeout`` seconds: a worker still running a call then finishes it on its own."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            threads = list(self._threads)
        with self._cond:
            self._cond.notify_all()
        self._poller.stop()  # wakes every worker, whatever it is waiting on
        with self._lock:
            self._signalled = True
            last = self._running == 0
        if last:  # every worker is out already (or none ever started): nobody else will close it
            self._poller.close()
        current, deadline = threading.current_thread(), None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            if thread is not current:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        return self._stopping

    @property
    def watching(self) -> bool:
        """Whether some worker waits on the sockets now (read without the lock: a hint)."""
        return bool(self._polling)

    @property
    def threads(self) -> int:
        return len(self._threads)
