"""Shared pieces of the robustness battery.

Every test here starts its own in-process server (so thread counts and
``tracemalloc`` see the server), attacks it or breaks something, and checks
four things:

1. the attacker gets a clear error or a closed connection -- never a hang;
2. a well-behaved client keeps being served *during* the attack (``bystander``);
3. memory stays bounded (``bounded_memory``);
4. no thread is left behind once the server is closed (the ``robust`` fixture
   polls ``threading.active_count()`` against the baseline, with a deadline).

Nothing sleeps a fixed time to "let things settle": waits poll a condition
with a deadline (``wait_until``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest

from minirpc import client as mclient
from minirpc import net as mnet
from minirpc import server as mserver

SMALL_MESSAGE_LIMIT = 1 << 20  # the servers under attack accept messages up to 1 MiB
DEADLINE = 10.0  # seconds: anything slower than this is a hang


def codec_params():
    """Both formats minirpc ships."""
    return ["json", "gob"]


def wait_until(predicate, timeout: float = DEADLINE, interval: float = 0.005) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class Args:
    A: int = 0
    B: int = 0


class Robust:
    """The service under attack: well-behaved methods and badly behaved ones."""

    def __init__(self):
        self.release = threading.Event()  # set at teardown: frees every Hang call
        self.hanging = threading.Semaphore(0)  # one release per Hang call entered

    def Add(self, args: Args) -> int:
        return args.A + args.B

    def Echo(self, text: str) -> str:
        return text

    def Sleep(self, seconds: float) -> int:
        time.sleep(seconds)
        return 1

    def Hang(self, n: int) -> int:
        self.hanging.release()
        self.release.wait(DEADLINE)
        return n

    def Swallow(self, value: Any) -> int:
        return 0

    def Fail(self, text: str) -> int:
        raise RuntimeError(text)

    def Unencodable(self, kind: str) -> Any:
        return {"object": object(), "nan": float("nan"), "set": {1, 2}}[kind]


@dataclass
class Target:
    """A running server under test."""

    server: mserver.Server
    serving: Any
    service: Robust
    codec: str

    @property
    def address(self) -> str:
        return self.serving.address

    def dial(self, **options) -> mclient.Client:
        return mclient.dial("tcp", self.address, codec=self.codec, timeout=DEADLINE, **options)

    def raw(self) -> socket.socket:
        """A plain socket to the server, for sending bytes by hand."""
        sock = mnet.connect("tcp", self.address, timeout=DEADLINE)
        sock.settimeout(DEADLINE)
        return sock


def close_with_deadline(fn, what: str, timeout: float = DEADLINE) -> None:
    """Run ``fn`` (a close) on a helper thread; fail the test if it hangs."""
    done = threading.Event()
    errors: list = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            done.set()

    threading.Thread(target=run, name=f"closing {what}", daemon=True).start()
    if not done.wait(timeout):
        pytest.fail(f"{what} did not finish within {timeout} s (a hang in the core)")
    if errors:
        raise errors[0]


def threads_back_to(baseline: int, timeout: float = DEADLINE) -> bool:
    return wait_until(lambda: threading.active_count() <= baseline, timeout)


def start_target(codec: str, max_message: int = SMALL_MESSAGE_LIMIT) -> Target:
    server = mserver.Server(max_message=max_message)
    service = Robust()
    server.register(service)
    serving = server.start("127.0.0.1:0", codec=codec)
    return Target(server, serving, service, codec)


def stop_target(target: Target) -> None:
    target.service.release.set()
    close_with_deadline(target.serving.close, "Serving.close()")
    close_with_deadline(target.server.close, "Server.close()")


@pytest.fixture
def robust(request):
    """A factory: ``robust("json")`` -> a started Target, stopped and leak-checked at teardown."""
    baseline = threading.active_count()
    targets: list[Target] = []

    def make(codec: str, **options) -> Target:
        target = start_target(codec, **options)
        targets.append(target)
        return target

    yield make
    for target in targets:
        stop_target(target)
    if not threads_back_to(baseline):
        names = sorted(t.name for t in threading.enumerate())
        pytest.fail(f"threads leaked: {threading.active_count()} alive, {baseline} before: {names}")


class Bystander:
    """A well-behaved client calling ``Robust.Add`` in a loop on its own thread."""

    def __init__(self, target: Target):
        self.client = target.dial()
        self.calls = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bystander", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            try:
                if self.client.call("Robust.Add", Args(i, 1), reply_type=int, timeout=DEADLINE) != i + 1:
                    raise AssertionError(f"wrong reply to Add({i}, 1)")
                self.calls += 1
            except BaseException as e:  # noqa: BLE001 - reported by check()
                self.errors.append(e)
                return
            i += 1

    def served_more(self, at_least: int = 20) -> bool:
        """Wait until ``at_least`` more calls succeed from now on."""
        start = self.calls
        return wait_until(lambda: self.calls >= start + at_least or self.errors)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(DEADLINE)
        self.client.close()


@contextlib.contextmanager
def bystander(target: Target):
    """Keep a well-behaved client busy during the block; check it was served throughout."""
    b = Bystander(target)
    try:
        assert b.served_more(), "the bystander could not even start"
        yield b
        assert b.served_more(), f"the server stopped serving the bystander ({b.calls} calls)"
        assert not b.errors, f"the bystander got errors: {b.errors!r}"
    finally:
        b.stop()


@contextlib.contextmanager
def bounded_memory(limit_bytes: int):
    """Fail if Python allocations (any thread) peak above ``limit_bytes`` during the block."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= limit_bytes, f"allocations peaked at {peak / 2**20:.1f} MiB (limit {limit_bytes / 2**20:.1f} MiB)"


def read_until_closed(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything the server sends until it closes (a timeout here is a hang)."""
    chunks, total = [], 0
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        except socket.timeout:
            pytest.fail(f"the server neither answered nor closed within {DEADLINE} s")
        if not data:
            break
        chunks.append(data)
        total += len(data)
        if total > limit:
            pytest.fail("the server keeps sending")
    return b"".join(chunks)


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send, ignoring the server hanging up half-way (that is an allowed answer)."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
