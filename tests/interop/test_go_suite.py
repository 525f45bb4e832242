"""Go's own net/rpc and net/rpc/jsonrpc tests, run against minirpc servers.

``gosuite/`` (standard library only) holds adapted copies of every test in Go
1.19's ``net/rpc/server_test.go``, ``client_test.go`` and
``jsonrpc/all_test.go`` that can talk to an external server: the client side
is Go's real ``net/rpc`` / ``net/rpc/jsonrpc`` (or raw bytes on a socket,
where Go writes hand-made requests), and the server is whatever the
environment names (see the header of each Go file).  The test binaries are
built once per session; each Go test or benchmark runs in its own process as
one pytest case:

* ``test_go_test_against_minirpc``: minirpc servers serving Go's fixtures
  (below, in Python) over gob, over JSON and behind the HTTP tunnel.
* ``test_go_test_against_go_server``: the same binaries against real Go's
  servers (``gosuite -serve``).  This checks the adaptation itself: every
  adapted test must pass against the server Go's tests were written for.

Go's output is shown when a test fails.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import minirpc
from minirpc.http import handle_http

from goenv import require_go, stop_by_closing_stdin

GOSUITE = Path(__file__).parent / "gosuite"

RPC_TESTS = ["TestRPC", "TestHTTP", "TestBuiltinTypes", "TestCountMallocs", "TestCountMallocsOverHTTP",
             "TestTCPClose", "TestErrorAfterClientClose", "TestShutdown", "TestGobError"]
RPC_BENCHMARKS = ["BenchmarkEndToEnd", "BenchmarkEndToEndHTTP", "BenchmarkEndToEndAsync", "BenchmarkEndToEndAsyncHTTP"]
JSONRPC_TESTS = ["TestServerNoParams", "TestServerEmptyMessage", "TestServer", "TestClient", "TestBuiltinTypes",
                 "TestMalformedInput", "TestMalformedOutput", "TestServerErrorHasNullResult", "TestUnexpectedError"]
SUITE = [("rpc", name) for name in RPC_TESTS + RPC_BENCHMARKS] + [("jsonrpc", name) for name in JSONRPC_TESTS]
SUITE_IDS = [f"{package}/{name}" for package, name in SUITE]
# Where minirpc goes further than Go, on purpose: a reply gob cannot encode is answered with an
# error (TestGobErrorIsAnswered) where Go's server closes the connection (TestGobError).
MINIRPC_SUITE = [(p, "TestGobErrorIsAnswered" if n == "TestGobError" else n) for p, n in SUITE]
MINIRPC_IDS = [f"{package}/{name}" for package, name in MINIRPC_SUITE]

GO_TIMEOUT = "10s"  # -test.timeout: Go panics with a stack dump if a test hangs
BENCHTIME = "200x"  # each benchmark makes 200 calls (plus 1 in its trial run): a smoke check, no timing


# ---------------------------------------------------------------- Go's fixtures, in Python
# net/rpc/server_test.go


@dataclass
class Args:
    A: int = 0
    B: int = 0


@dataclass
class Reply:
    C: int = 0


def go_quotient(a: int, b: int) -> int:
    """Go's a / b on ints: truncated toward zero (Python's // rounds down)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


class Arith:
    """Go's ``Arith`` from server_test.go, method for method."""

    def Add(self, args: Args) -> Reply:
        return Reply(args.A + args.B)

    def Mul(self, args: Args) -> Reply:
        return Reply(args.A * args.B)

    def Div(self, args: Args) -> Reply:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")
        return Reply(go_quotient(args.A, args.B))

    def String(self, args: Args) -> str:
        return f"{args.A}+{args.B}={args.A + args.B}"

    def Scan(self, args: str) -> Reply:
        """``fmt.Sscan(args, &reply.C)``: the first word, as an integer."""
        words = args.split()
        if not words:
            raise ValueError("unexpected EOF")
        return Reply(int(words[0]))

    def Error(self, args: Args) -> Reply:
        raise RuntimeError("ERROR")  # Go's panics; no test calls it

    def SleepMilli(self, args: Args) -> Reply:
        time.sleep(args.A / 1000)
        return Reply()


class _hidden:
    """Go's unexported ``hidden`` type..."""

    def Exported(self, args: Args) -> Reply:
        return Reply(args.A + args.B)


class Embed(_hidden):
    """...embedded in ``Embed{hidden}``, so ``Embed.Exported`` is promoted from it."""


class BuiltinTypes:
    def Map(self, args: Args) -> dict[int, int]:
        return {args.A: args.B}

    def Slice(self, args: Args) -> list[int]:
        return [args.A, args.B]

    def Array(self, args: Args) -> tuple[int, int]:  # Go's [2]int
        return (args.A, args.B)


# net/rpc/client_test.go


@dataclass
class Empty:
    """Go's ``struct{}``."""


@dataclass
class R:
    _msg: bytes = b""  # Not exported, so R does not work with gob (Go: "gob: type R has no exported fields").


class S:
    def Recv(self, nul: Empty) -> R:
        return R(b"foo")


# net/rpc/jsonrpc/all_test.go: the same names, different methods


class JSONArith:
    """jsonrpc's ``Arith`` (registered as "Arith")."""

    def Add(self, args: Args) -> Reply:
        return Reply(args.A + args.B)

    def Mul(self, args: Args) -> Reply:
        return Reply(args.A * args.B)

    def Div(self, args: Args) -> Reply:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")
        return Reply(go_quotient(args.A, args.B))

    def Error(self, args: Args) -> Reply:
        raise RuntimeError("ERROR")  # Go's panics; no test calls it


class JSONBuiltinTypes:
    """jsonrpc's ``BuiltinTypes`` (registered as "BuiltinTypes"): int args."""

    def Map(self, i: int) -> dict[int, int]:
        return {i: i}

    def Slice(self, i: int) -> list[int]:
        return [i]

    def Array(self, i: int) -> tuple[int]:  # Go's [1]int
        return (i,)


# ---------------------------------------------------------------- TestMalformedOutput's peer


class MalformedPeer:
    """The server end of jsonrpc's TestMalformedOutput, on a real socket: to
    each connection it writes a reply with neither result nor error, then
    reads until the client hangs up.

    As in Go's test it writes at once; with ``after_request=True`` it first
    waits for the request's first bytes, so the reply always answers a call
    in flight (a client reading early could otherwise fail with "connection
    is shut down" instead, in Go as well)."""

    REPLY = b'{"id":0,"result":null,"error":null}'

    def __init__(self, after_request: bool = False):
        self.after_request = after_request
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)  # accept() wakes up to notice close()
        self.address = "%s:%d" % self.listener.getsockname()[:2]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()  # protects _threads and _conns
        self._accepting = threading.Thread(target=self._accept, name="minirpc-test-malformed-peer", daemon=True)
        self._accepting.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), name="minirpc-test-malformed-conn", daemon=True)
            with self._lock:
                self._conns.add(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn):
        try:
            conn.settimeout(None)
            if self.after_request:
                conn.recv(1)
            conn.sendall(self.REPLY)
            while conn.recv(4096):
                pass
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def close(self):
        self._stop.set()
        self._accepting.join()
        self.listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:  # wakes a thread still reading
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- servers


@contextmanager
def minirpc_servers():
    """Go's test servers, as minirpc servers on 127.0.0.1 port 0; yields their addresses."""
    default = minirpc.Server()  # Go's DefaultServer in server_test.go (+ S from client_test.go)
    default.register(Arith())
    default.register(Embed())
    default.register_name("net.rpc.Arith", Arith())
    default.register(BuiltinTypes())
    default.register(S())
    new = minirpc.Server()  # Go's newServer
    new.register(Arith())
    new.register(Embed())
    new.register_name("net.rpc.Arith", Arith())
    new.register_name("newServer.Arith", Arith())
    json_server = minirpc.Server()  # jsonrpc's DefaultServer in all_test.go
    json_server.register_name("Arith", JSONArith())
    json_server.register_name("BuiltinTypes", JSONBuiltinTypes())
    # Go's TestHTTP: DefaultServer.HandleHTTP on the default paths and newServer.HandleHTTP("/foo",
    # "/bar") share Go's DefaultServeMux, so one HTTP server serves both, as here.
    web = handle_http(default, codec="gob")
    handle_http(new, "/foo", "/bar", codec="gob", http_server=web)
    with ExitStack() as stack:
        for server in (default, new, json_server):
            stack.callback(server.close)
        http_address = stack.enter_context(web.start("127.0.0.1:0")).address
        yield {
            "MINIRPC_GOB_ADDR": stack.enter_context(default.start("127.0.0.1:0", codec="gob")).address,
            "MINIRPC_GOB_NEW_ADDR": stack.enter_context(new.start("127.0.0.1:0", codec="gob")).address,
            "MINIRPC_HTTP_ADDR": http_address,
            "MINIRPC_HTTP_FOO_ADDR": http_address,
            "MINIRPC_JSON_ADDR": stack.enter_context(json_server.start("127.0.0.1:0", codec="json")).address,
            "MINIRPC_JSON_MALFORMED_ADDR": stack.enter_context(MalformedPeer()).address,
        }


@pytest.fixture(scope="session")
def binaries(tmp_path_factory) -> dict[str, Path]:
    """Build ``gosuite`` and the two test binaries once: {"gosuite", "rpc", "jsonrpc"} -> path."""
    go = require_go()
    out = tmp_path_factory.mktemp("gosuite")
    env = dict(os.environ, GOFLAGS="-mod=mod", GO111MODULE="on", GOPROXY="off")
    env.setdefault("GOCACHE", str(out / "gocache"))
    env.setdefault("GOPATH", str(out / "gopath"))
    commands = {"gosuite": ["build", "-o", str(out / "gosuite"), "."],
                "rpc": ["test", "-c", "-o", str(out / "rpc.test"), "./rpc"],
                "jsonrpc": ["test", "-c", "-o", str(out / "jsonrpc.test"), "./jsonrpc"]}
    for args in commands.values():
        done = subprocess.run([go, *args], cwd=GOSUITE, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"go {' '.join(args)} failed:\n{done.stderr}"
    return {"gosuite": out / "gosuite", "rpc": out / "rpc.test", "jsonrpc": out / "jsonrpc.test"}


@pytest.fixture(scope="module")
def go_servers(binaries):
    """Real Go's test servers (``gosuite -serve``); yields their addresses."""
    process = subprocess.Popen([str(binaries["gosuite"]), "-serve"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(30, process.kill)  # a gosuite that never says READY is stopped
    watchdog.start()
    try:
        addresses = {}
        for line in process.stdout:
            if line.strip() == "READY":
                break
            name, _, address = line.strip().partition("=")
            addresses[name] = address
        else:
            pytest.fail(f"gosuite -serve stopped before READY (it said {addresses})")
        watchdog.cancel()
        yield addresses
    finally:
        watchdog.cancel()
        stop_by_closing_stdin(process)


# ---------------------------------------------------------------- running one Go test


def run_go_test(binary: Path, name: str, addresses: dict[str, str]) -> None:
    """Run Go's test or benchmark ``name`` alone against ``addresses``; fail with Go's output unless it passed."""
    if name.startswith("Benchmark"):
        selection = ["-test.run", "^$", "-test.bench", f"^{name}$", "-test.benchtime", BENCHTIME]
        passed = re.compile(rf"^{name}-\d+\s+\d+\s+\S+ ns/op", re.M)
    else:
        selection = ["-test.run", f"^{name}$"]
        passed = re.compile(rf"^--- PASS: {name} \(", re.M)  # not SKIP, and not "no tests to run"
    env = dict(os.environ, **addresses)
    if name.startswith("TestCountMallocs"):
        env["GOMAXPROCS"] = "1"  # Go skips these when GOMAXPROCS>1; they print, assert replies, time nothing
    command = [str(binary), "-test.v", "-test.timeout", GO_TIMEOUT, *selection]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"Go's {name} did not finish in {e.timeout} s:\n{e.stdout or ''}{e.stderr or ''}")
    if done.returncode != 0 or not passed.search(done.stdout):
        pytest.fail(f"Go's {name} failed (exit status {done.returncode}):\n{done.stdout}{done.stderr}", pytrace=False)


@pytest.mark.parametrize("package, name", MINIRPC_SUITE, ids=MINIRPC_IDS)
def test_go_test_against_minirpc(binaries, package, name):
    with minirpc_servers() as addresses:
        run_go_test(binaries[package], name, addresses)


@pytest.mark.parametrize("package, name", SUITE, ids=SUITE_IDS)
def test_go_test_against_go_server(binaries, go_servers, package, name):
    """The adaptation is faithful: against Go's own servers, every adapted test passes."""
    run_go_test(binaries[package], name, go_servers)


def test_minirpc_client_fails_a_reply_without_result_or_error_like_go():
    """TestMalformedOutput for minirpc's client: the reply that Go's client
    rejects fails the call with the text Go's jsonrpc client gives."""
    with MalformedPeer(after_request=True) as peer, minirpc.dial("tcp", peer.address, codec="json") as client:
        with pytest.raises(minirpc.RPCError) as caught:
            client.call("Arith.Add", Args(7, 8), reply_type=Reply, timeout=3)
    assert str(caught.value) == "invalid error <nil>"
