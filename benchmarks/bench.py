#!/usr/bin/env python
"""How fast is minirpc?  One command, one run:  python benchmarks/bench.py

Every server runs in its own process (``bench.py --serve KIND``), the client
here or in Go.  The service is Go's ``Arith.Add(Args{A, B}) -> int``.  Rows:

* the floor: a plain Python socket echo round trip of a 64-byte message;
* the yardsticks: ``toy.py`` (a minimal threaded JSON-RPC server and Go-style
  client, its own client against its own server) and an 8-line server that
  answers one request at a time (driven by minirpc's client and by Go's);
* minirpc JSON and gob over TCP, a Unix socket and the HTTP CONNECT tunnel;
* peers: Python's xmlrpc, grpcio (generic handlers), RPyC, Go's net/rpc (its
  own client against its own server, gob and JSON), Go's client against the
  toy and the minirpc servers, minirpc's client against Go's servers.

Each row gives sequential ``call`` latency p50/p99 and calls/s, and, where the
client can have many calls outstanding, calls/s with 64 in flight on one
connection (``go``).  Then a targets table prints the ratios two issues ask
for, (a)-(h), naming the two rows each ratio divides, with MET/MISSED.

Noise: the rows are measured in rounds -- every row once, then every row
again... (A, B, C, A, B, C, ...) -- so that machine noise drifting over time
hits all of them alike; a figure is the median over the rounds, printed with
its spread (min-max of the per-round figures).  Within a round the rows a
target compares are measured one right after the other (MEASURE_FIRST), and
a target's ratio is the median of the ratios taken within each round: a slow
moment of the machine then lands on both sides of one ratio rather than on
one side of the medians.  Each mode is run in turn:
``pinned`` (client and server on one CPU with ``os.sched_setaffinity``: fair,
as nobody gets a core of their own, and steadier: the headline), then
``unpinned``.

Options: ``--quick`` (tiny counts, a smoke check), ``--n N`` (calls per
latency run), ``--rounds R``, ``--modes pinned,unpinned``, ``--json PATH``,
``--plot PATH`` / ``--no-plot``.  Internal: ``--serve KIND`` runs one server,
prints ``ADDR <address>`` (or ``ERR <reason>``) and serves until its standard
input closes.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing
sys.path.insert(0, str(HERE))  # toy.py

import minirpc  # noqa: E402
import toy  # noqa: E402
from minirpc.examples import Args  # noqa: E402

INFLIGHT = 64
ECHO_SIZE = 64
ROUNDS = 11  # each figure is the median over this many rounds (--quick: 2)
N = 2000  # calls per sequential run (--quick: 300); twice as many with INFLIGHT in flight


class Arith:
    """The benchmark service: Go's Arith.Add, Python spelling."""

    def Add(self, args: Args) -> int:
        return args.A + args.B


# ---------------------------------------------------------------------------
# Servers: each runs in a subprocess started by python_server()


def serve(kind: str, codec: str, network: str, address: str) -> None:
    """Start one server, print ``ADDR <address>``, serve until stdin closes."""
    try:
        addr = start_server(kind, codec, network, address)
    except Exception as e:  # e.g. a codec or a package that is not there: the parent skips the row
        print("ERR", f"{type(e).__name__}: {e}".replace("\n", " "), flush=True)
        os._exit(1)
    print("ADDR", addr, flush=True)
    sys.stdin.buffer.read()  # the parent closes our stdin when it is done
    os._exit(0)


_KEEP = []  # servers that stop when garbage-collected (grpc's) live here until the process exits


def start_server(kind: str, codec: str, network: str, address: str) -> str:
    """Start a server of ``kind`` serving ``Arith`` in the background; return its address."""
    host, _, port = address.rpartition(":")
    if kind == "echo":
        return _serve_plain(address, _echo)
    if kind == "tinyjson":
        return _serve_plain(address, _tiny_json)
    if kind == "toy":
        return toy.serve(address, Arith())
    if kind == "minirpc":
        server = minirpc.Server(workers=int(os.environ.get("MINIRPC_BENCH_WORKERS", "32")))
        server.register(Arith())
        return server.start(address, network=network, codec=codec).address
    if kind == "minirpc-http":
        from minirpc import http as mhttp

        server = minirpc.Server()
        server.register(Arith())
        return mhttp.start_http(server, address, codec=codec).address
    if kind == "xmlrpc":
        from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

        class KeepAlive(SimpleXMLRPCRequestHandler):
            protocol_version = "HTTP/1.1"  # reuse the connection: xmlrpc at its fastest

        xserver = SimpleXMLRPCServer((host, int(port)), KeepAlive, logRequests=False)
        xserver.register_function(lambda a, b: a + b, "add")
        threading.Thread(target=xserver.serve_forever, daemon=True).start()
        return "%s:%d" % xserver.server_address[:2]
    if kind == "grpc":
        from concurrent.futures import ThreadPoolExecutor

        import grpc

        gserver = grpc.server(ThreadPoolExecutor(max_workers=4))
        add = grpc.unary_unary_rpc_method_handler(
            lambda request, context: request["A"] + request["B"],
            request_deserializer=json.loads,
            response_serializer=lambda reply: json.dumps(reply).encode(),
        )
        gserver.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("Arith", {"Add": add})])
        bound = gserver.add_insecure_port(address)
        gserver.start()
        _KEEP.append(gserver)
        return f"{host}:{bound}"
    if kind == "rpyc":
        import rpyc
        from rpyc.utils.server import ThreadedServer

        class ArithService(rpyc.Service):
            def exposed_add(self, a, b):
                return a + b

        rserver = ThreadedServer(ArithService, hostname=host, port=int(port), auto_register=False)
        threading.Thread(target=rserver.start, daemon=True).start()
        while not rserver.active:  # start() calls listen(): until then a connect is refused
            time.sleep(0.001)
        return f"{host}:{rserver.port}"
    raise ValueError(f"unknown server kind {kind!r}")


def _serve_plain(address: str, handler) -> str:
    """A thread per connection running ``handler(conn)``."""
    host, _, port = address.rpartition(":")
    listener = socket.create_server((host, int(port)))

    def accept():
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return "%s:%d" % listener.getsockname()[:2]


def _echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def _tiny_json(conn: socket.socket) -> None:
    """The least a Python JSON-RPC server can do: readline, loads, add, dumps, sendall (one request at a time)."""
    rfile = conn.makefile("rb")
    while line := rfile.readline():
        request = json.loads(line)
        args = request["params"][0]
        reply = {"id": request["id"], "result": args["A"] + args["B"], "error": None}
        conn.sendall(json.dumps(reply).encode() + b"\n")


class Skip(Exception):
    """A row that cannot be measured here (a package, a codec or Go is missing)."""


class Subprocess:
    """A server process; ``address`` is what it printed; stop() closes its stdin.

    A child process inherits the CPU affinity of the thread that starts it, so
    a server started while this thread is pinned is pinned too, with every
    thread it starts.  (No ``preexec_fn``: Python would then fork() rather than
    vfork(), and grpcio's fork handlers print errors into the child.)"""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().split(maxsplit=1)
        if len(line) != 2 or line[0] != "ADDR":
            self.stop()
            if line and line[0] == "ERR":
                raise Skip(f"skipped: server did not start: {line[1].strip()}")
            raise RuntimeError(f"server {argv} did not start (said {line!r})")
        self.address = line[1].strip()

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def python_server(kind: str, codec: str = "json", network: str = "tcp", address: str = "127.0.0.1:0") -> Subprocess:
    """``bench.py --serve kind`` in a subprocess (pinned if this thread is)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--codec", codec,
            "--network", network, "--address", address]
    return Subprocess(argv)


# ---------------------------------------------------------------------------
# Measuring: a runner does one run (sequential calls, then calls in flight)


@dataclass
class Run:
    """One run of one row."""

    p50_us: float
    p99_us: float
    calls_per_s: float  # sequential
    inflight_per_s: float | None = None  # INFLIGHT calls in flight on one connection


@dataclass
class Row:
    """One measured thing; its figures are medians over its runs (one per round)."""

    name: str
    section: str
    runs: list[Run] = field(default_factory=list)
    note: str = ""

    def values(self, attr: str) -> list[float]:
        return [getattr(run, attr) for run in self.runs if getattr(run, attr) is not None]

    def median(self, attr: str) -> float | None:
        values = self.values(attr)
        return statistics.median(values) if values else None

    @property
    def p50_us(self):
        return self.median("p50_us")

    @property
    def p99_us(self):
        return self.median("p99_us")


Runner = Callable[[int], Run]


def one_run(call, n: int) -> tuple[float, float, float]:
    """Run ``call()`` n times after a warm-up; return (p50 µs, p99 µs, calls/s)."""
    for _ in range(max(10, n // 10)):
        call()
    times = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(n):
        t0 = clock()
        call()
        times.append(clock() - t0)
    elapsed = (clock() - start) / 1e9
    times.sort()
    return times[n // 2] / 1e3, times[min(n - 1, n * 99 // 100)] / 1e3, n / elapsed


def inflight_rate(go, total: int, window: int = INFLIGHT) -> float:
    """Calls/s with ``window`` calls outstanding on one connection.

    ``go(i)`` starts ``Arith.Add(Args(i, 1))`` and returns something with
    ``result(timeout)`` (a minirpc ``Call``, a ``Future``)."""
    pending: deque = deque()
    start = time.perf_counter()
    sent = 0
    for _ in range(total):
        while sent < total and len(pending) < window:
            pending.append((sent, go(sent)))
            sent += 1
        i, call = pending.popleft()
        if (reply := call.result(timeout=30)) != i + 1:
            raise AssertionError(f"call {i}: wrong reply {reply!r}")
    return total / (time.perf_counter() - start)


def python_runner(call, go=None) -> Runner:
    """Sequential ``call()``; then, if ``go`` is given, 2n calls with INFLIGHT in flight."""

    def run(n: int) -> Run:
        p50, p99, rate = one_run(call, n)
        return Run(p50, p99, rate, inflight_rate(go, 2 * n) if go else None)

    return run


def adder(call_add):
    """``call()`` for one_run: ``call_add(i)`` must return i + 1."""
    counter = itertools.count()

    def call():
        i = next(counter)
        if (reply := call_add(i)) != i + 1:
            raise AssertionError(f"wrong reply {reply!r} to Add({i}, 1)")

    return call


def minirpc_runner(client, pipelined: bool = True) -> Runner:
    return python_runner(
        adder(lambda i: client.call("Arith.Add", Args(i, 1), reply_type=int)),
        (lambda i: client.go("Arith.Add", Args(i, 1), reply_type=int)) if pipelined else None,
    )


# ---------------------------------------------------------------------------
# The rows.  Each setup starts what it needs on ``stack`` and returns a runner.


def setup_echo(stack) -> Runner:
    srv = stack.enter_context(python_server("echo"))
    host, _, port = srv.address.rpartition(":")
    sock = stack.enter_context(socket.create_connection((host, int(port))))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = b"x" * ECHO_SIZE

    def one():
        sock.sendall(message)
        got = 0
        while got < ECHO_SIZE:
            got += len(sock.recv(65536))

    return python_runner(one)


def setup_tiny(stack) -> Runner:
    srv = stack.enter_context(python_server("tinyjson"))
    client = stack.enter_context(minirpc.dial("tcp", srv.address, codec="json"))
    return minirpc_runner(client, pipelined=False)  # it answers one request at a time: not comparable


def setup_toy(stack) -> Runner:
    srv = stack.enter_context(python_server("toy"))
    client = toy.Client(srv.address)
    stack.callback(client.close)
    return python_runner(adder(lambda i: client.call("Arith.Add", Args(i, 1))),
                         lambda i: client.go("Arith.Add", Args(i, 1)))


def setup_minirpc(codec: str, network: str):
    def setup(stack) -> Runner:
        if network == "unix":
            path = os.path.join(stack.enter_context(tempfile.TemporaryDirectory()), "bench.sock")
            stack.enter_context(python_server("minirpc", codec, "unix", path))
            return minirpc_runner(stack.enter_context(minirpc.dial("unix", path, codec=codec)))
        if network == "http":
            try:
                from minirpc import http as mhttp
            except ImportError as e:
                raise Skip(f"skipped: minirpc.http not importable ({e})") from None
            srv = stack.enter_context(python_server("minirpc-http", codec))
            return minirpc_runner(stack.enter_context(mhttp.dial_http("tcp", srv.address, codec=codec)))
        srv = stack.enter_context(python_server("minirpc", codec))
        return minirpc_runner(stack.enter_context(minirpc.dial("tcp", srv.address, codec=codec)))

    return setup


def setup_xmlrpc(stack) -> Runner:
    import xmlrpc.client

    srv = stack.enter_context(python_server("xmlrpc"))
    proxy = xmlrpc.client.ServerProxy(f"http://{srv.address}/")
    stack.callback(proxy("close"))
    return python_runner(adder(lambda i: proxy.add(i, 1)))


def setup_grpc(stack) -> Runner:
    try:
        import grpc
    except ImportError:
        raise Skip("skipped: grpcio not installed (pip install grpcio)") from None
    srv = stack.enter_context(python_server("grpc"))
    channel = stack.enter_context(grpc.insecure_channel(srv.address))
    add = channel.unary_unary("/Arith/Add", request_serializer=lambda r: json.dumps(r).encode(),
                              response_deserializer=json.loads)
    return python_runner(adder(lambda i: add({"A": i, "B": 1})))


def setup_rpyc(lookup_each_call: bool):
    def setup(stack) -> Runner:
        try:
            import rpyc
        except ImportError:
            raise Skip("skipped: rpyc not installed (pip install rpyc)") from None
        srv = stack.enter_context(python_server("rpyc"))
        host, _, port = srv.address.rpartition(":")
        conn = rpyc.connect(host, int(port))
        stack.callback(conn.close)
        if lookup_each_call:  # RPyC's documented spelling: the attribute lookup is a round trip too
            return python_runner(adder(lambda i: conn.root.add(i, 1)))
        add = conn.root.add
        return python_runner(adder(lambda i: add(i, 1)))

    return setup


def setup_go_server(codec: str, client: str):
    """A Go net/rpc server, driven by Go's client or by minirpc's."""

    def setup(stack, gobench) -> Runner:
        srv = stack.enter_context(Subprocess([gobench, "server", "-codec", codec]))
        if client == "go":
            return go_client_runner(gobench, codec, srv.address)
        return minirpc_runner(stack.enter_context(minirpc.dial("tcp", srv.address, codec=codec)))

    return setup


def setup_go_client(kind: str, pipelined: bool = True):
    """Go's jsonrpc client driving a Python server of ``kind``."""

    def setup(stack, gobench) -> Runner:
        srv = stack.enter_context(python_server(kind, "json"))
        return go_client_runner(gobench, "json", srv.address, pipelined)

    return setup


def go_client_runner(gobench: str, codec: str, address: str, pipelined: bool = True) -> Runner:
    """One ``gobench client`` process per run: Go times its own loop."""

    def run(n: int) -> Run:
        argv = [gobench, "client", "-codec", codec, "-addr", address, "-n", str(n),
                "-inflight", str(INFLIGHT if pipelined else 0)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"gobench client failed: {done.stderr.strip()[-300:]}")
        figures = json.loads(done.stdout)
        return Run(figures["p50_us"], figures["p99_us"], figures["seq_calls_per_s"],
                   figures.get("inflight_calls_per_s"))

    return run


PY = "Python clients and servers (client -> server)"
GO_CLIENT = "Go's jsonrpc/gob client (Go times its own loop)"
GO_SERVER = "minirpc's client, Go's server"

# (name, section, setup, needs Go), in the order they are printed.  The targets below refer to rows
# by these names.
ROWS = [
    ("socket echo (floor)", PY, setup_echo, False),
    ("toy -> toy server", PY, setup_toy, False),
    ("minirpc json tcp", PY, setup_minirpc("json", "tcp"), False),
    ("minirpc gob tcp", PY, setup_minirpc("gob", "tcp"), False),
    ("rpyc conn.root.add(a, b)", PY, setup_rpyc(lookup_each_call=True), False),
    ("rpyc, add looked up once", PY, setup_rpyc(lookup_each_call=False), False),
    ("minirpc -> tiny 8-line server", PY, setup_tiny, False),
    ("minirpc json unix", PY, setup_minirpc("json", "unix"), False),
    ("minirpc gob unix", PY, setup_minirpc("gob", "unix"), False),
    ("minirpc json http", PY, setup_minirpc("json", "http"), False),
    ("minirpc gob http", PY, setup_minirpc("gob", "http"), False),
    ("xmlrpc (keep-alive)", PY, setup_xmlrpc, False),
    ("grpcio (generic handler)", PY, setup_grpc, False),
    ("Go -> toy server", GO_CLIENT, setup_go_client("toy"), True),
    ("Go -> minirpc json server", GO_CLIENT, setup_go_client("minirpc"), True),
    ("Go -> tiny 8-line server", GO_CLIENT, setup_go_client("tinyjson", pipelined=False), True),
    ("Go gob: Go -> Go server", GO_CLIENT, setup_go_server("gob", "go"), True),
    ("Go json: Go -> Go server", GO_CLIENT, setup_go_server("json", "go"), True),
    ("minirpc gob -> Go server", GO_SERVER, setup_go_server("gob", "minirpc"), True),
    ("minirpc json -> Go server", GO_SERVER, setup_go_server("json", "minirpc"), True),
]


# Within a round these rows are measured first, in this order, so that the rows each target compares
# are measured one right after the other (or two apart): the targets (a), (c)-(h) all divide by or
# into "minirpc json tcp", (b) compares two of Go's client rows.  The rest follow in ROWS' order.
MEASURE_FIRST = [
    "Go json: Go -> Go server",  # (f')
    "Go gob: Go -> Go server",  # (f)
    "toy -> toy server",  # (a), (e)
    "minirpc json tcp",
    "minirpc gob tcp",  # (c), (h)
    "rpyc conn.root.add(a, b)",  # (d)
    "Go -> toy server",  # (b)
    "Go -> minirpc json server",
    "Go -> tiny 8-line server",  # (b')
]


def measuring_order(rows: list[Row]) -> list[Row]:
    first = {name: i for i, name in enumerate(MEASURE_FIRST)}
    return sorted(rows, key=lambda r: first.get(r.name, len(first)))  # a stable sort: the rest keep ROWS' order


def build_go() -> tuple[str | None, str]:
    """Build benchmarks/go into a temporary directory; return (binary, note)."""
    go = shutil.which("go")
    if go is None:
        return None, "skipped: `go` not found"
    out = os.path.join(tempfile.mkdtemp(prefix="minirpc-gobench-"), "gobench")
    result = subprocess.run([go, "build", "-o", out, "."], cwd=HERE / "go", capture_output=True, text=True)
    if result.returncode != 0:
        return None, "skipped: go build failed: " + result.stderr.strip()[:200]
    return out, ""


def run_mode(mode: str, n: int, rounds: int, gobench: str | None, go_note: str) -> list[Row]:
    """Set every row up, run ``rounds`` rounds of every row in turn, tear down."""
    all_cpus = os.sched_getaffinity(0)
    # This thread, and every thread and process it starts from now on (servers, Go's client), inherit it:
    os.sched_setaffinity(0, {min(all_cpus)} if mode == "pinned" else all_cpus)
    rows, runners = [], {}
    try:
        with contextlib.ExitStack() as stack:
            for name, section, setup, needs_go in ROWS:
                row = Row(name, section)
                rows.append(row)
                if needs_go and not gobench:
                    row.note = go_note
                    continue
                try:
                    runners[name] = setup(stack, gobench) if needs_go else setup(stack)
                except Skip as e:
                    row.note = str(e)
                except Exception as e:  # a broken setup is reported in its row; the others still run
                    row.note = failure("FAILED to start", e)
            order = measuring_order(rows)
            for _ in range(rounds):
                for row in order:
                    if row.name not in runners:
                        continue
                    try:
                        row.runs.append(runners[row.name](n))
                    except Exception as e:  # report it and go on: one broken row must not lose the run
                        row.note = failure("FAILED", e)
                        del runners[row.name]
    finally:
        os.sched_setaffinity(0, all_cpus)
    return rows


def failure(what: str, e: Exception) -> str:
    return " ".join(f"{what}: {type(e).__name__}: {e}".split())[:200]


# ---------------------------------------------------------------------------
# The two issues' targets


@dataclass
class Target:
    key: str
    issue: str
    what: str
    top: tuple[str, str]  # (row name, figure)
    bottom: tuple[str, str]
    want: float
    higher_is_better: bool


P50, SEQ, FLY = "p50_us", "calls_per_s", "inflight_per_s"
TARGETS = [
    Target("a", "seam", "sequential JSON call: minirpc vs the toy (client and server)",
           ("minirpc json tcp", P50), ("toy -> toy server", P50), 1.0, False),
    Target("b", "seam", "server only: Go's client drives the minirpc server and the toy server",
           ("Go -> minirpc json server", P50), ("Go -> toy server", P50), 1.1, False),
    Target("b'", "seam", "(reference for b, not a target) the same against the 8-line server",
           ("Go -> minirpc json server", P50), ("Go -> tiny 8-line server", P50), 1.1, False),
    Target("c", "seam", "gob at least as fast as JSON",
           ("minirpc gob tcp", P50), ("minirpc json tcp", P50), 1.0, False),
    Target("d", "seam", "at least 2x better than RPyC",
           ("rpyc conn.root.add(a, b)", P50), ("minirpc json tcp", P50), 2.0, True),
    Target("e", "scale", "64 in flight: minirpc JSON vs the toy (also pipelined)",
           ("minirpc json tcp", FLY), ("toy -> toy server", FLY), 1.2, True),
    Target("f", "scale", "64 in flight: minirpc JSON vs Go's gob (Go client, Go server)",
           ("minirpc json tcp", FLY), ("Go gob: Go -> Go server", FLY), 0.6, True),
    Target("f'", "scale", "(reference for f, not a target) the same against Go's JSON pair",
           ("minirpc json tcp", FLY), ("Go json: Go -> Go server", FLY), 0.6, True),
    Target("g", "scale", "64 in flight vs minirpc's own sequential rate",
           ("minirpc json tcp", FLY), ("minirpc json tcp", SEQ), 3.0, True),
    Target("h", "scale", "64 in flight: gob vs JSON",
           ("minirpc gob tcp", FLY), ("minirpc json tcp", FLY), 1.0, True),
]
UNITS = {P50: "µs", SEQ: "calls/s", FLY: "calls/s"}
LABELS = {P50: "p50", SEQ: "sequential calls/s", FLY: f"{INFLIGHT}-in-flight calls/s"}


def evaluate(target: Target, rows: list[Row]) -> dict:
    """The median of the per-round ratios, whether it is met, and the figures behind it."""
    by_name = {r.name: r for r in rows}
    result = {"key": target.key, "top": list(target.top), "bottom": list(target.bottom), "want": target.want,
              "higher_is_better": target.higher_is_better, "value": None, "met": None}
    sides = []
    for name, attr in (target.top, target.bottom):
        row = by_name.get(name)
        values = row.values(attr) if row else []
        if not values:
            result["note"] = f"n/a: {name!r} has no {LABELS[attr]}" + (f" ({row.note})" if row and row.note else "")
            return result
        sides.append(values)
    (top, bottom) = sides
    per_round = [t / b for t, b in zip(top, bottom)]  # same round: measured side by side
    value = statistics.median(per_round)
    result.update(value=value, met=value >= target.want if target.higher_is_better else value <= target.want,
                  top_median=statistics.median(top), top_spread=[min(top), max(top)],
                  bottom_median=statistics.median(bottom), bottom_spread=[min(bottom), max(bottom)],
                  per_round_spread=[min(per_round), max(per_round)],
                  ratio_of_medians=statistics.median(top) / statistics.median(bottom))
    return result


def _fig(x: float) -> str:
    return f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def print_targets(results: dict[str, list[Row]], rounds: int) -> dict[str, list[dict]]:
    evaluated = {mode: [evaluate(t, rows) for t in TARGETS] for mode, rows in results.items()}
    modes = sorted(results, key=lambda m: m != "pinned")  # the headline first
    print(f"\n== targets: the ratios the 'seam' and 'scale' issues ask for ({rounds} rounds; "
          f"headline: {modes[0] if modes else '-'}) ==")
    print("   a ratio is the median over the rounds of the first row's figure divided by the second's, both taken")
    print("   in the same round ('rounds': their spread); beside it, each row's median [and min-max] over the rounds")
    for i, target in enumerate(TARGETS):
        (top, tattr), (bottom, battr) = target.top, target.bottom
        sign = "≥" if target.higher_is_better else "≤"
        print(f"({target.key}) {target.issue}: {target.what}   want {sign} {target.want:.1f}")
        print(f"      {top} {LABELS[tattr]}  /  {bottom} {LABELS[battr]}")
        for mode in modes:
            r = evaluated[mode][i]
            if r["value"] is None:
                print(f"      {mode:9} n/a     {r['note']}")
                continue
            lo, hi = r["per_round_spread"]
            print(f"      {mode:9} {r['value']:5.2f}  {'MET' if r['met'] else 'MISSED':6}  "
                  f"= {_fig(r['top_median'])} [{_fig(r['top_spread'][0])}-{_fig(r['top_spread'][1])}] / "
                  f"{_fig(r['bottom_median'])} [{_fig(r['bottom_spread'][0])}-{_fig(r['bottom_spread'][1])}] "
                  f"{UNITS[battr]}   rounds {lo:.2f}-{hi:.2f}")
    return evaluated


def print_table(mode: str, rows: list[Row]) -> None:
    floor = next((r.p50_us for r in rows if r.name == "socket echo (floor)" and r.runs), None)
    print(f"\n== {mode} ==")
    print(f"{'measurement':31} {'p50 µs':>7} {'[min-max]':>13} {'p99 µs':>8} {'calls/s':>8} "
          f"{f'{INFLIGHT}-fly/s':>8} {'[min-max]':>13} {'×floor':>6}")
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            print(f"-- {section}")
        if not r.runs:
            print(f"{r.name:31} {r.note}")
            continue
        p50s, flys = r.values(P50), r.values(FLY)
        fly = (f"{r.median(FLY):8.0f} {f'[{min(flys):.0f}-{max(flys):.0f}]':>13}" if flys else f"{'-':>8} {'':13}")
        print(f"{r.name:31} {r.p50_us:7.1f} {f'[{min(p50s):.1f}-{max(p50s):.1f}]':>13} {r.p99_us:8.1f} "
              f"{r.median(SEQ):8.0f} {fly} {(r.p50_us / floor) if floor else float('nan'):6.2f}"
              + (f"  {r.note}" if r.note else ""))


# ---------------------------------------------------------------------------
# Encode/decode micro-benchmark: the sans-IO formats alone, no socket


def cpu_model() -> str:
    """The processor's name, as Linux gives it: the ratios move with the host more than the
    code does (target (f) was 0.45 on one 2-CPU VM and 0.63 on another, same code)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine() or "unknown CPU"


def codec_microbench(n: int) -> None:
    """Print µs per message for each format: a request encoded by the client side and
    decoded by the server side, and the reply the other way (steady state: gob's types sent)."""
    print("encode/decode of one message by the formats alone (minirpc.format, no socket):")
    for name, enc, dec, reply_enc, reply_dec in _codec_rows(n):
        print(f"  {name:5} request encode {enc:5.2f} µs  decode {dec:5.2f} µs   "
              f"reply encode {reply_enc:5.2f} µs  decode {reply_dec:5.2f} µs")


def _codec_rows(n: int) -> list[tuple]:
    from minirpc.codec import FORMATS
    from minirpc.format import Request, Response

    number, rows = max(1000, n * 10), []
    for name, fmt in sorted(FORMATS.items(), reverse=True):  # json, then gob
        client, server = fmt.client(1 << 20), fmt.server(1 << 20)
        request, args = Request("Arith.Add", 7), Args(7, 8)
        server.receive_data(client.encode(request, args))  # the first message carries gob's types
        first = server.next_message()
        server.decode_body(first, Args)
        client.receive_data(server.encode(Response("Arith.Add", first.header.seq), 15, int))
        client.decode_body(client.next_message(), int)
        data = client.encode(request, args)

        def decode_request():
            server.receive_data(data)
            return server.decode_body(server.next_message(), Args)

        def encode_reply():
            return server.encode(Response("Arith.Add", first.header.seq), 15, int)

        reply = encode_reply()

        def decode_reply():
            client.receive_data(reply)
            return client.decode_body(client.next_message(), int)

        rows.append((name, _us(lambda: client.encode(request, args), number), _us(decode_request, number),
                     _us(encode_reply, number), _us(decode_reply, number)))
    return rows


def _us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


# ---------------------------------------------------------------------------


def plot(results: dict[str, list[Row]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no figure)")
        return
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 6), squeeze=False)
    for ax, (mode, rows) in zip(axes[0], results.items()):
        rows = [r for r in rows if r.runs]
        names = [r.name for r in rows]
        ax.barh(names, [r.p50_us for r in rows], color="tab:blue", label="p50")
        ax.barh(names, [r.p99_us - r.p50_us for r in rows], left=[r.p50_us for r in rows], color="tab:blue",
                alpha=0.3, label="p99")
        ax.set_xlabel("round-trip latency, µs")
        ax.set_title(mode)
        ax.invert_yaxis()
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"figure saved to {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, 2 rounds: a smoke check, not figures")
    parser.add_argument("--n", type=int, help=f"calls per latency run (default {N}, --quick 300)")
    parser.add_argument("--rounds", type=int, help=f"rounds of every row (default {ROUNDS}, --quick 2)")
    parser.add_argument("--modes", default="pinned,unpinned")
    parser.add_argument("--plot", default=str(HERE / "results.png"))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--json", help="also write every run and target to this JSON file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--codec", default="json", help=argparse.SUPPRESS)
    parser.add_argument("--network", default="tcp", help=argparse.SUPPRESS)
    parser.add_argument("--address", default="127.0.0.1:0", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.codec, args.network, args.address)

    n = args.n or (300 if args.quick else N)
    rounds = args.rounds or (2 if args.quick else ROUNDS)
    modes = [m for m in args.modes.split(",") if m]
    if "pinned" in modes and not hasattr(os, "sched_setaffinity"):
        print("(no os.sched_setaffinity here: skipping the pinned mode)")
        modes.remove("pinned")
    started = time.perf_counter()
    gobench, go_note = build_go()
    print(f"minirpc benchmark: {n} calls per latency run ({2 * n} with {INFLIGHT} in flight), {rounds} rounds, "
          f"modes {','.join(modes)}, {os.cpu_count()} CPUs ({cpu_model()}), Python {sys.version.split()[0]}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    codec_microbench(n)
    results = {}
    for mode in modes:
        results[mode] = run_mode(mode, n, rounds, gobench, go_note)
        print_table(mode, results[mode])
    evaluated = print_targets(results, rounds)
    if gobench:
        shutil.rmtree(os.path.dirname(gobench), ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "n": n, "rounds": rounds, "cpu": cpu_model(), "cpus": os.cpu_count(),
            "rows": {m: [dict(asdict(r), p50_us=r.p50_us, p99_us=r.p99_us, calls_per_s=r.median(SEQ),
                              inflight_per_s=r.median(FLY)) for r in rows] for m, rows in results.items()},
            "targets": evaluated,
        }, indent=1))
    if not args.no_plot and results:
        plot(results, args.plot)
    print(f"total time {time.perf_counter() - started:.1f} s, "
          f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
