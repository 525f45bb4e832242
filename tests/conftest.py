"""Shared fixtures: example services, servers on 127.0.0.1 port 0, and a thread-leak check."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

import minirpc
import minirpc.examples
from minirpc.examples import Args, Quotient  # Go's Args{A, B} and Quotient{Quo, Rem}


class Arith(minirpc.examples.Arith):
    """The service Go's own tests use (net/rpc/server_test.go), in Python,
    plus the docs' Multiply and Divide from ``minirpc.examples``."""

    def Add(self, args: Args) -> int:
        return args.A + args.B

    def Mul(self, args: Args) -> int:
        return args.A * args.B

    def Div(self, args: Args) -> Quotient:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")
        return Quotient(args.A // args.B, args.A % args.B)

    def String(self, args: Args) -> str:
        return f"{args.A}+{args.B}={args.A + args.B}"

    def Scan(self, text: str) -> int:
        return int(text)

    def SleepMilli(self, ms: int) -> int:
        time.sleep(ms / 1000)
        return ms


class BuiltinTypes:
    def Map(self, args: Args) -> dict[int, int]:
        return {args.A: args.B}

    def Slice(self, args: Args) -> list[int]:
        return [args.A, args.B]


@dataclass
class Post:
    ID: int = 0
    Title: str = ""
    Tags: list[str] = field(default_factory=list)


CODECS = ["json", "gob"]


@pytest.fixture
def server():
    server = minirpc.Server()
    server.register(Arith())
    server.register(BuiltinTypes())
    server.register_name("net.rpc.Arith", Arith())
    yield server
    server.close()


@pytest.fixture(params=CODECS)
def codec(request):
    return request.param


@pytest.fixture
def serving(server, codec):
    with server.start("127.0.0.1:0", codec=codec) as serving:
        yield serving


@pytest.fixture
def client(serving, codec):
    with minirpc.dial("tcp", serving.address, codec=codec) as client:
        yield client


class FourMethods:
    """A codec of one's own: Go's ClientCodec and nothing more (no queue_request, flush, forget
    or deadlines), around one of minirpc's; ``writers`` names the thread of every write."""

    def __init__(self, inner):
        self.inner, self.writers = inner, []

    def write_request(self, request, body):
        self.writers.append(threading.current_thread().name)
        self.inner.write_request(request, body)

    def read_response_header(self):
        return self.inner.read_response_header()

    def read_response_body(self, reply_type):
        return self.inner.read_response_body(reply_type)

    def close(self):
        self.inner.close()


def tls_contexts():
    """(server context, client context) for 127.0.0.1, signed by a throwaway CA (trustme)."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return server_context, client_context


def _minirpc_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("minirpc") and "default-server" not in t.name}


@pytest.fixture(autouse=True)
def no_thread_left_behind():
    """Every test must stop what it started: no minirpc thread survives it."""
    before = _minirpc_threads()
    yield
    deadline = time.monotonic() + 5
    while (left := _minirpc_threads() - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"threads left behind: {sorted(t.name for t in left)}"


class CountingSearch:
    """A compiled pattern that counts the bytes its searches look at (up to each
    match): a parser that searches again from the start of its buffer for every piece shows.
    """

    def __init__(self, pattern):
        self.pattern, self.looked_at = pattern, 0

    def search(self, buffer, pos=0, endpos=None):
        endpos = len(buffer) if endpos is None else min(endpos, len(buffer))
        found = self.pattern.search(buffer, pos, endpos)
        self.looked_at += (found.end() if found else endpos) - pos
        return found
