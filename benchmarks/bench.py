#!/usr/bin/env python
"""How fast is minirpc?  One command, one run:  python benchmarks/bench.py

What is measured (every server runs in its own process, the client here):

* the floor: a plain Python socket echo round trip of a 64-byte message;
* minirpc ``call`` latency p50/p99 (JSON and gob; TCP, Unix socket, HTTP
  tunnel) and throughput with 64 calls in flight on one connection (``go``);
* encode/decode microseconds per message for JSON and gob;
* peers: Python's xmlrpc, grpcio (generic handlers), Go's net/rpc with gob and
  jsonrpc (Go's own client, and minirpc's client against the Go server).

Each measurement is taken twice: first with the client and the server pinned
to one CPU (``os.sched_setaffinity``; fair to compare, as nobody gets a core
of their own), then unpinned.  The table shows medians (p50) and ratios
against the targets; ``benchmarks/results.png`` shows the same as bars.

Options: ``--quick`` (tiny counts, < 30 s), ``--n N`` (calls per latency
run), ``--modes pinned,unpinned``, ``--plot PATH`` / ``--no-plot``.
Internal: ``--serve KIND`` runs one server, prints ``ADDR <address>`` and
serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import collections
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
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from minirpc import client as mclient  # noqa: E402
from minirpc import net as mnet  # noqa: E402
from minirpc import server as mserver  # noqa: E402
from minirpc.examples import Args  # noqa: E402

INFLIGHT = 64
ECHO_SIZE = 64
REPEAT = 3  # each figure is the median of this many runs (--quick: 1)


class Arith:
    """The benchmark service: Go's Arith.Add, Python spelling."""

    def Add(self, args: Args) -> int:
        return args.A + args.B


# ---------------------------------------------------------------------------
# Servers: each runs in a subprocess started by start_server()


def serve(kind: str, codec: str, network: str, address: str) -> None:
    """Start one server, print ``ADDR <address>``, serve until stdin closes."""
    if kind == "echo":
        listener = mnet.listen(network, address)
        threading.Thread(target=_accept, args=(listener, _echo), daemon=True).start()
        addr = mnet.format_address(listener.getsockname())
    elif kind == "tinyjson":
        listener = mnet.listen(network, address)
        threading.Thread(target=_accept, args=(listener, _tiny_json), daemon=True).start()
        addr = mnet.format_address(listener.getsockname())
    elif kind == "minirpc":
        server = mserver.Server()
        server.register(Arith())
        addr = server.start(address, network=network, codec=codec).address
    elif kind == "minirpc-http":
        from minirpc import http as mhttp

        server = mserver.Server()
        server.register(Arith())
        addr = mhttp.start_http(server, address, codec=codec).address
    elif kind == "xmlrpc":
        from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

        class KeepAlive(SimpleXMLRPCRequestHandler):
            protocol_version = "HTTP/1.1"  # reuse the connection: xmlrpc at its fastest

        host, _, port = address.rpartition(":")
        xserver = SimpleXMLRPCServer((host, int(port)), KeepAlive, logRequests=False)
        xserver.register_function(lambda a, b: a + b, "add")
        threading.Thread(target=xserver.serve_forever, daemon=True).start()
        addr = mnet.format_address(xserver.server_address)
    elif kind == "grpc":
        from concurrent.futures import ThreadPoolExecutor

        import grpc

        gserver = grpc.server(ThreadPoolExecutor(max_workers=4))
        add = grpc.unary_unary_rpc_method_handler(
            lambda request, context: request["A"] + request["B"],
            request_deserializer=json.loads,
            response_serializer=lambda reply: json.dumps(reply).encode(),
        )
        gserver.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("Arith", {"Add": add})])
        port = gserver.add_insecure_port(address)
        gserver.start()
        addr = f"{address.rpartition(':')[0]}:{port}"
    else:
        raise SystemExit(f"unknown server kind {kind!r}")
    print("ADDR", addr, flush=True)
    sys.stdin.buffer.read()  # the parent closes our stdin when it is done
    os._exit(0)


def _accept(listener: socket.socket, handler) -> None:
    while True:
        conn, _ = listener.accept()
        mnet.tune(conn)
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


def _echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


def _tiny_json(conn: socket.socket) -> None:
    """The least a Python JSON-RPC server can do: readline, loads, add, dumps, sendall."""
    rfile = conn.makefile("rb")
    while line := rfile.readline():
        request = json.loads(line)
        args = request["params"][0]
        reply = {"id": request["id"], "result": args["A"] + args["B"], "error": None}
        conn.sendall(json.dumps(reply).encode() + b"\n")


class Subprocess:
    """A server process; ``address`` is what it printed; stop() closes its stdin."""

    def __init__(self, argv: list[str], cpu: int | None):
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, preexec_fn=pin)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "ADDR":
            self.stop()
            raise RuntimeError(f"server {argv} did not start (said {line!r})")
        self.address = line[1]

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


def python_server(kind: str, cpu: int | None, codec: str = "json", network: str = "tcp", address: str = "127.0.0.1:0"):
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--codec", codec,
            "--network", network, "--address", address]
    return Subprocess(argv, cpu)


# ---------------------------------------------------------------------------
# Measuring


@dataclass
class Row:
    name: str
    p50_us: float | None = None
    p99_us: float | None = None
    calls_per_s: float | None = None  # sequential
    inflight_per_s: float | None = None  # INFLIGHT calls in flight
    note: str = ""
    extra: dict = field(default_factory=dict)


def latencies(call, n: int) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, calls/s): each the median over REPEAT runs of ``one_run``."""
    runs = [one_run(call, n) for _ in range(REPEAT)]
    return tuple(statistics.median(run[i] for run in runs) for i in range(3))


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


def inflight_rate(client, total: int, window: int = INFLIGHT) -> float:
    """Calls/s with ``window`` calls outstanding on one connection, via ``go``."""
    pending: collections.deque = collections.deque()
    start = time.perf_counter()
    sent = 0
    for done in range(total):
        while sent < total and len(pending) < window:
            pending.append((sent, client.go("Arith.Add", Args(sent, 1), reply_type=int)))
            sent += 1
        i, call = pending.popleft()
        if call.result(timeout=30) != i + 1:
            raise AssertionError(f"call {i}: wrong reply {call.result()!r}")
    return total / (time.perf_counter() - start)


def bench_minirpc(name: str, client, n: int) -> Row:
    counter = iter(range(10**9))

    def one():
        i = next(counter)
        if client.call("Arith.Add", Args(i, 1), reply_type=int) != i + 1:
            raise AssertionError("wrong reply")

    p50, p99, rate = latencies(one, n)
    inflight = statistics.median(inflight_rate(client, 2 * n) for _ in range(REPEAT))
    return Row(name, p50, p99, rate, inflight)


def bench_echo(cpu, n) -> Row:
    with python_server("echo", cpu) as srv:
        sock = mnet.connect("tcp", srv.address)
        message = b"x" * ECHO_SIZE

        def one():
            sock.sendall(message)
            got = 0
            while got < ECHO_SIZE:
                got += len(sock.recv(65536))

        try:
            return Row("socket echo (floor)", *latencies(one, n))
        finally:
            sock.close()


def bench_tiny_json(cpu, n) -> Row:
    with python_server("tinyjson", cpu) as srv:
        with mclient.dial("tcp", srv.address, codec="json") as client:
            row = bench_minirpc("minimal Python JSON server", client, n)
    row.inflight_per_s = None  # it answers one request at a time: not comparable
    return row


def bench_minirpc_servers(cpu, n, codecs) -> list[Row]:
    rows = []
    for codec in codecs:
        with python_server("minirpc", cpu, codec) as srv:
            with mclient.dial("tcp", srv.address, codec=codec) as client:
                rows.append(bench_minirpc(f"minirpc {codec} tcp", client, n))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bench.sock")
            with python_server("minirpc", cpu, codec, "unix", path) as srv:
                with mclient.dial("unix", path, codec=codec) as client:
                    rows.append(bench_minirpc(f"minirpc {codec} unix", client, n))
        try:
            from minirpc import http as mhttp
        except ImportError:
            rows.append(Row(f"minirpc {codec} http", note="skipped: minirpc.http not present"))
            continue
        with python_server("minirpc-http", cpu, codec) as srv:
            with mhttp.dial_http("tcp", srv.address, codec=codec) as client:
                rows.append(bench_minirpc(f"minirpc {codec} http", client, n))
    return rows


def bench_xmlrpc(cpu, n) -> Row:
    import xmlrpc.client

    with python_server("xmlrpc", cpu) as srv:
        proxy = xmlrpc.client.ServerProxy(f"http://{srv.address}/")
        try:
            return Row("xmlrpc (keep-alive)", *latencies(lambda: proxy.add(1, 2), n))
        finally:
            proxy("close")()


def bench_grpc(cpu, n) -> Row:
    try:
        import grpc
    except ImportError:
        return Row("grpcio", note="skipped: grpcio not installed (pip install grpcio)")
    with python_server("grpc", cpu) as srv:
        with grpc.insecure_channel(srv.address) as channel:
            add = channel.unary_unary("/Arith/Add", request_serializer=lambda r: json.dumps(r).encode(),
                                      response_deserializer=json.loads)
            return Row("grpcio (generic handler)", *latencies(lambda: add({"A": 1, "B": 2}), n))


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


def bench_go(gobench, cpu, n, codecs) -> list[Row]:
    rows = []
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    for codec in ("gob", "json"):
        with Subprocess([gobench, "server", "-codec", codec], cpu) as srv:
            out = subprocess.run([gobench, "client", "-codec", codec, "-addr", srv.address, "-n", str(n),
                                  "-inflight", str(INFLIGHT)], capture_output=True, text=True, check=True,
                                 preexec_fn=pin).stdout
            figures = json.loads(out)
            rows.append(Row(f"Go net/rpc {codec} (Go client)", figures["p50_us"], figures["p99_us"],
                            figures["seq_calls_per_s"], figures["inflight_calls_per_s"]))
            if codec in codecs:
                with mclient.dial("tcp", srv.address, codec=codec) as client:
                    rows.append(bench_minirpc(f"minirpc {codec} -> Go server", client, n))
    return rows


def bench_codecs(n: int) -> list[tuple[str, float, float]]:
    """(codec, encode µs, decode µs) for one request message ``Arith.Add(Args(7, 8))``."""
    from minirpc import jsonrpc
    from minirpc.codec import Request

    request, args = Request("Arith.Add", 7), Args(7, 8)
    data = jsonrpc.encode_request(request, args)

    def json_decode():
        method, _, params = jsonrpc.parse_request(json.loads(data))
        return jsonrpc.params_to_args(params, Args)

    number = max(1000, n * 10)
    rows = [("json", _us(lambda: jsonrpc.encode_request(request, args), number), _us(json_decode, number))]
    gob_row = bench_gob_codec(request, args, number)
    if gob_row:
        rows.append(gob_row)
    return rows


def bench_gob_codec(request, args, number):
    """Encode/decode a request with the gob format itself (steady state: types already sent)."""
    try:
        from minirpc import gob, gobrpc
    except ImportError:
        return None
    header = gobrpc.Request(request.service_method, request.seq)
    encoder, decoder = gob.Encoder(), gob.Decoder()
    first = encoder.encode(header) + encoder.encode(args)  # carries the type definitions
    decoder.feed(first)
    decoder.decode(gobrpc.Request), decoder.decode(Args)
    data = encoder.encode(header) + encoder.encode(args)  # what every later request looks like
    length, start = gob.get_uint(data, 0)
    header_payload, body_payload = data[start:start + length], None
    rest = data[start + length:]
    length, start = gob.get_uint(rest, 0)
    body_payload = rest[start:start + length]

    def decode():
        decoder.read_message(header_payload, gobrpc.Request)
        return decoder.read_message(body_payload, Args)

    return ("gob", _us(lambda: encoder.encode(header) + encoder.encode(args), number), _us(decode, number))


def _us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6


# ---------------------------------------------------------------------------
# One mode (pinned or unpinned): every measurement


def run_mode(mode: str, n: int, gobench: str | None, go_note: str) -> list[Row]:
    all_cpus = os.sched_getaffinity(0)
    cpu = min(all_cpus) if mode == "pinned" else None
    os.sched_setaffinity(0, {cpu} if cpu is not None else all_cpus)  # this thread and threads it starts
    codecs = [c for c in ("json", "gob") if c in mnet.CODECS]
    rows = [bench_echo(cpu, n), bench_tiny_json(cpu, n)]
    rows += bench_minirpc_servers(cpu, n, codecs)
    if "gob" not in codecs:
        rows.append(Row("minirpc gob", note="skipped: gob codec not present"))
    rows.append(bench_xmlrpc(cpu, n))
    rows.append(bench_grpc(cpu, n))
    if gobench:
        rows += bench_go(gobench, cpu, n, codecs)
    else:
        rows.append(Row("Go net/rpc", note=go_note))
    os.sched_setaffinity(0, all_cpus)
    return rows


def find(rows: list[Row], name: str) -> Row | None:
    return next((r for r in rows if r.name == name and r.p50_us is not None), None)


def targets(rows: list[Row]) -> list[tuple[str, float | None, float, bool]]:
    """(target, measured ratio, limit, higher_is_better) for every target we can check."""
    floor = find(rows, "socket echo (floor)")
    js, gob = find(rows, "minirpc json tcp"), find(rows, "minirpc gob tcp")
    go_gob = find(rows, "Go net/rpc gob (Go client)")
    peers = [r for r in rows if r.name.startswith(("xmlrpc", "grpcio")) and r.p50_us]
    fastest_peer = min(peers, key=lambda r: r.p50_us) if peers else None
    best = gob or js

    def ratio(a, b, attr="p50_us"):
        return getattr(a, attr) / getattr(b, attr) if a and b else None

    return [
        ("JSON p50 / socket floor p50", ratio(js, floor), 2.0, False),
        ("gob p50 / JSON p50", ratio(gob, js), 1.3, False),
        ("gob p50 / Go gob p50", ratio(gob, go_gob), 1.5, False),
        (f"fastest Python peer p50 / minirpc p50 ({fastest_peer.name if fastest_peer else '-'})",
         ratio(fastest_peer, best), 2.0, True),
        ("64-in-flight calls/s / own sequential calls/s", ratio(best, best, "inflight_per_s") and
         best.inflight_per_s / best.calls_per_s, 1.5, True),
        ("64-in-flight calls/s / Go gob 64-in-flight", ratio(best, go_gob, "inflight_per_s"), 0.6, True),
    ]


def print_table(mode: str, rows: list[Row]) -> None:
    floor = find(rows, "socket echo (floor)")
    go_gob = find(rows, "Go net/rpc gob (Go client)")
    print(f"\n== {mode} ==")
    peers = [r for r in rows if r.name.startswith(("xmlrpc", "grpcio")) and r.p50_us]
    peer = min(peers, key=lambda r: r.p50_us) if peers else None
    print(f"{'measurement':34} {'p50 µs':>8} {'p99 µs':>8} {'calls/s':>8} {f'{INFLIGHT}-fly/s':>9} "
          f"{'×floor':>7} {'×Go gob':>7} {'×py peer':>8}")
    for r in rows:
        if r.p50_us is None:
            print(f"{r.name:34} {r.note}")
            continue
        inflight = f"{r.inflight_per_s:9.0f}" if r.inflight_per_s else f"{'-':>9}"
        print(f"{r.name:34} {r.p50_us:8.1f} {r.p99_us:8.1f} {r.calls_per_s:8.0f} "
              f"{inflight} {r.p50_us / floor.p50_us:7.2f} "
              f"{(r.p50_us / go_gob.p50_us) if go_gob else float('nan'):7.2f} "
              f"{(r.p50_us / peer.p50_us) if peer else float('nan'):8.2f}")
    print(f"(×py peer: p50 relative to the fastest Python peer, {peer.name if peer else 'none'})")
    print("targets (on TCP; 'minirpc' = gob when present, else JSON):")
    for label, value, limit, higher in targets(rows):
        if value is None:
            print(f"  {label:58} n/a")
        else:
            ok = value >= limit if higher else value <= limit
            print(f"  {label:58} {value:6.2f}  want {'≥' if higher else '≤'} {limit}  {'MET' if ok else 'MISSED'}")


def plot(results: dict[str, list[Row]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no figure)")
        return
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 5), squeeze=False)
    for ax, (mode, rows) in zip(axes[0], results.items()):
        rows = [r for r in rows if r.p50_us is not None]
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
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, finishes in < 30 s")
    parser.add_argument("--n", type=int, help="calls per latency measurement")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="runs per figure (the median is shown)")
    parser.add_argument("--modes", default="pinned,unpinned")
    parser.add_argument("--plot", default=str(HERE / "results.png"))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--codec", default="json", help=argparse.SUPPRESS)
    parser.add_argument("--network", default="tcp", help=argparse.SUPPRESS)
    parser.add_argument("--address", default="127.0.0.1:0", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve, args.codec, args.network, args.address)

    n = args.n or (300 if args.quick else 3000)
    REPEAT = 1 if args.quick else args.repeat
    modes = [m for m in args.modes.split(",") if m]
    if "pinned" in modes and not hasattr(os, "sched_setaffinity"):
        print("(no os.sched_setaffinity here: skipping the pinned mode)")
        modes.remove("pinned")
    started = time.perf_counter()
    gobench, go_note = build_go()
    print(f"minirpc benchmark: {n} calls per latency run, median of {REPEAT} runs, {INFLIGHT} in flight, "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print("encode/decode of one request message:")
    for codec, enc, dec in bench_codecs(n):
        print(f"  {codec:5} encode {enc:6.2f} µs   decode {dec:6.2f} µs")
    results = {}
    for mode in modes:
        results[mode] = run_mode(mode, n, gobench, go_note)
        print_table(mode, results[mode])
    if gobench:
        shutil.rmtree(os.path.dirname(gobench), ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({m: [r.__dict__ for r in rows] for m, rows in results.items()}, indent=1))
    if not args.no_plot and results:
        plot(results, args.plot)
    print(f"total time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
