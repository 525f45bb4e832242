#!/usr/bin/env python
"""gob vs JSON, per call: steadier figures than bench.py for comparing codecs.

    python benchmarks/percall.py cpu       # CPU µs per call, client and server in one thread
    python benchmarks/percall.py latency   # pinned p50 of minirpc json/gob tcp, interleaved runs
    python benchmarks/percall.py loop --codec gob --n 2000   # just run calls (for valgrind)
    python benchmarks/percall.py inflight  # the client alone: CPU per call with 64 in flight, Go's server
    python benchmarks/percall.py floor     # the leanest Python pipelining loops beside minirpc's client
    python benchmarks/percall.py ceiling   # how far above its own sequential rate pipelining can go, pinned

``cpu`` runs a whole call -- ``Client._send``, the server's ``serve_request``
(read, run, reply), ``Client._read_until`` -- on one thread over a socketpair, so no
thread or process switch is timed: what is left is the Python work of both
sides plus the send/recv syscalls.  It also times the client's and the
server's share separately.  ``--profile`` prints a cProfile of the gob loop.

``latency`` measures what bench.py's rows "minirpc json tcp" and "minirpc gob
tcp" measure (pinned mode), alternating the two codecs ``--rounds`` times so
that a noisy neighbour hurts both alike, and prints the median p50 and ratio.

``inflight`` isolates the client's share of pipelining (target (f) of bench.py):
minirpc's client keeps 64 calls in flight against Go's own server (built from
``benchmarks/go``; needs Go), and ``getrusage`` gives the client process's CPU
per call, its kernel part and its context switches per call, for each codec,
pinned (client and server on one CPU) and unpinned.

``floor`` asks how far a Python client could go at all: pinned, 64 in flight
against Go's JSON server, it runs minirpc's client beside the leanest pipelining
loop Python allows (one thread, no locks, the JSON format alone; then the same
with a ``concurrent.futures.Future`` per call, as any client that hands out
futures has), and prints each as a fraction of Go's gob pair.

``ceiling`` asks the same of bench.py's target (g), 64 in flight at 3x minirpc's
own sequential rate: pinned, against minirpc's JSON server, it sets the leanest
pipelining loop (and the leanest sequential one: one thread, the format alone,
a request, its reply) beside minirpc's client, sequential and pipelined.  The
leanest loop over minirpc's sequential call is as high as (g) can go, pinned,
for any Python client of that server.

On a shared VM even ``cpu`` moves by ±30 %.  Instruction counts do not:
``loop`` runs the ``cpu`` loop ``--n`` times and nothing else, so

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python benchmarks/percall.py loop --codec gob --n 2000

run with two values of ``--n`` gives instructions per call from the difference
of the two "Collected" totals (startup cancels out).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import sys
import time
from concurrent import futures
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from minirpc import client as mclient  # noqa: E402
from minirpc import codec as mcodec  # noqa: E402
from minirpc import jsonrpc as mjsonrpc  # noqa: E402
from minirpc import server as mserver  # noqa: E402
from minirpc.format import NEED_DATA, Request  # noqa: E402
from minirpc.examples import Args  # noqa: E402


def one_thread_loop(codec: str):
    """A function running one whole call on this thread; returns (client ns, server ns)."""
    a, b = socket.socketpair()
    client = mclient.Client(mcodec.client_codec(codec, a))
    server = mserver.Server()
    server.register(bench.Arith())
    server_codec = mcodec.server_codec(codec, b)
    clock = time.perf_counter_ns
    counter = iter(range(10**9))

    def call():
        i = next(counter)
        t0 = clock()
        pending = client._send(mclient._SyncCall("Arith.Add", Args(i, 1), int))
        t1 = clock()
        server.serve_request(server_codec)
        t2 = clock()
        client._read_until(pending)
        t3 = clock()
        if pending.reply != i + 1:
            raise AssertionError("wrong reply")
        return (t1 - t0) + (t3 - t2), t2 - t1

    return call


def cpu(n: int, rounds: int) -> None:
    loops = {codec: one_thread_loop(codec) for codec in ("json", "gob")}
    results = {codec: [] for codec in loops}
    for _ in range(rounds):
        for codec, call in loops.items():  # interleaved: both see the same machine
            for _ in range(n // 10):
                call()
            times = [call() for _ in range(n)]
            results[codec].append((statistics.median(c for c, _ in times) / 1e3,
                                   statistics.median(s for _, s in times) / 1e3))
    print(f"CPU µs per call, one thread over a socketpair (median of {rounds} rounds of {n} calls):")
    totals = {}
    for codec, runs in results.items():
        client_us = statistics.median(c for c, _ in runs)
        server_us = statistics.median(s for _, s in runs)
        totals[codec] = client_us + server_us
        print(f"  {codec:5} client {client_us:6.1f}  server {server_us:6.1f}  total {totals[codec]:6.1f}")
    print(f"  gob / json total: {totals['gob'] / totals['json']:.2f}")


def profile(n: int) -> None:
    import cProfile
    import pstats

    call = one_thread_loop("gob")
    for _ in range(100):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(n):
        call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def latency(n: int, rounds: int) -> None:
    cpu_id = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu_id})
    p50s = {"json": [], "gob": []}
    for _ in range(rounds):
        for codec in p50s:
            with bench.python_server("minirpc", codec) as srv:
                with mclient.dial("tcp", srv.address, codec=codec) as client:
                    counter = iter(range(10**9))

                    def one():
                        i = next(counter)
                        if client.call("Arith.Add", Args(i, 1), reply_type=int) != i + 1:
                            raise AssertionError("wrong reply")

                    p50s[codec].append(bench.one_run(one, n)[0])
    print(f"pinned p50 µs, minirpc tcp, {rounds} interleaved runs of {n} calls:")
    for codec, runs in p50s.items():
        print(f"  {codec:5} median {statistics.median(runs):6.1f}   runs {' '.join(f'{x:.0f}' for x in runs)}")
    ratios = [g / j for g, j in zip(p50s["gob"], p50s["json"])]
    print(f"  gob / json: median of medians {statistics.median(p50s['gob']) / statistics.median(p50s['json']):.2f}, "
          f"per-run ratios {' '.join(f'{r:.2f}' for r in ratios)}")


def inflight(n: int, rounds: int) -> None:
    gobench, note = bench.build_go()
    if gobench is None:
        raise SystemExit(f"inflight needs Go: {note}")
    print(f"minirpc's client, {bench.INFLIGHT} in flight against Go's server: CPU µs per call "
          f"(median of {rounds} runs of {n} calls)")
    all_cpus = os.sched_getaffinity(0)
    for mode, cpus in (("pinned", {min(all_cpus)}), ("unpinned", all_cpus)):
        os.sched_setaffinity(0, cpus)  # the Go server started below inherits it
        for codec in ("json", "gob"):
            server = bench.Subprocess([gobench, "server", "-codec", codec])
            runs = []
            try:
                with mclient.dial("tcp", server.address, codec=codec) as client:
                    def go(i):
                        return client.go("Arith.Add", Args(i, 1), reply_type=int)

                    bench.inflight_rate(go, n // 10)  # warm up
                    for _ in range(rounds):
                        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                        bench.inflight_rate(go, n)
                        after, took = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - start
                        runs.append((n / took, (after.ru_utime - before.ru_utime) / n * 1e6,
                                     (after.ru_stime - before.ru_stime) / n * 1e6,
                                     (after.ru_nvcsw - before.ru_nvcsw + after.ru_nivcsw - before.ru_nivcsw) / n))
            finally:
                server.stop()
            rate, user, kernel, switches = (statistics.median(r[k] for r in runs) for k in range(4))
            print(f"  {mode:8} {codec:4} {rate:8.0f} calls/s   CPU {user + kernel:5.1f} µs "
                  f"(user {user:4.1f}, kernel {kernel:4.1f})   context switches {switches:.2f} per call")
    os.sched_setaffinity(0, all_cpus)


def _bare_pipeline(address: str, n: int, with_futures: bool) -> float:
    """Calls/s of the leanest pipelining client Python allows: one thread, no locks, the JSON
    format alone -- encode up to INFLIGHT requests, send them in one write, read what came
    back, parse every reply (and, ``with_futures``, settle and read a Future per call)."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fmt, sent, done, waiting = mjsonrpc.ClientFormat(), 0, 0, {}
        start = time.perf_counter()
        while done < n:
            out = bytearray()
            while sent < n and sent - done < bench.INFLIGHT:
                out += fmt.encode(Request("Arith.Add", sent), Args(sent, 1))
                if with_futures:
                    waiting[sent] = futures.Future()
                sent += 1
            if out:
                sock.sendall(out)
            fmt.receive_data(sock.recv(1 << 16))
            while (message := fmt.next_message()) is not NEED_DATA:
                reply = fmt.decode_body(message, int)
                if with_futures:
                    future = waiting.pop(message.header.seq)
                    future.set_result(reply)
                    reply = future.result()
                if reply != message.header.seq + 1:
                    raise AssertionError(f"wrong reply {reply!r} to call {message.header.seq}")
                done += 1
        return n / (time.perf_counter() - start)


def _bare_sequential(address: str, n: int) -> float:
    """Calls/s of the leanest sequential client: one thread, the JSON format alone, one
    request written, its reply read, then the next."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fmt = mjsonrpc.ClientFormat()
        start = time.perf_counter()
        for seq in range(n):
            sock.sendall(fmt.encode(Request("Arith.Add", seq), Args(seq, 1)))
            while (message := fmt.next_message()) is NEED_DATA:
                fmt.receive_data(sock.recv(1 << 16))
            if fmt.decode_body(message, int) != seq + 1:
                raise AssertionError(f"wrong reply to call {seq}")
        return n / (time.perf_counter() - start)


def ceiling(n: int, rounds: int) -> None:
    """Pinned, against minirpc's JSON server: the leanest loops, sequential and pipelined,
    beside minirpc's client, each as a multiple of minirpc's own sequential rate (target (g))."""
    all_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(all_cpus)})  # pinned: client and server share one CPU
    server = bench.python_server("minirpc", "json")
    try:
        with mclient.dial("tcp", server.address, codec="json") as client:
            def go(i):
                return client.go("Arith.Add", Args(i, 1), reply_type=int)
            call = bench.adder(lambda i: client.call("Arith.Add", Args(i, 1), reply_type=int))

            rows = {
                "minirpc's client, sequential (call)": lambda: bench.one_run(call, n // 4)[2],
                "one thread, the format alone, sequential": lambda: _bare_sequential(server.address, n // 4),
                f"minirpc's client, {bench.INFLIGHT} in flight (go)": lambda: bench.inflight_rate(go, n),
                f"one thread, the format alone, {bench.INFLIGHT} in flight":
                    lambda: _bare_pipeline(server.address, n, False),
                "  ... and a Future per call": lambda: _bare_pipeline(server.address, n, True),
            }
            figures = {name: [] for name in rows}
            for _ in range(rounds):
                for name, run in rows.items():
                    figures[name].append(run())
    finally:
        server.stop()
        os.sched_setaffinity(0, all_cpus)
    sequential = figures["minirpc's client, sequential (call)"]
    print(f"pinned, against minirpc's JSON server (median of {rounds} per-round ratios):")
    for name, rates in figures.items():
        ratio = statistics.median(r / s for r, s in zip(rates, sequential))  # same round, side by side
        print(f"  {name:44} {statistics.median(rates):8.0f} calls/s   {ratio:4.2f} x minirpc's sequential rate")


def floor(n: int, rounds: int) -> None:
    """Pinned, 64 in flight against Go's JSON server: minirpc's client beside the leanest
    Python clients, and Go's gob pair (the yardstick of bench.py's target (f))."""
    gobench, note = bench.build_go()
    if gobench is None:
        raise SystemExit(f"floor needs Go: {note}")
    all_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(all_cpus)})  # pinned: client and server share one CPU
    json_server = bench.Subprocess([gobench, "server", "-codec", "json"])
    gob_server = bench.Subprocess([gobench, "server", "-codec", "gob"])
    try:
        with mclient.dial("tcp", json_server.address, codec="json") as client:
            def go(i):
                return client.go("Arith.Add", Args(i, 1), reply_type=int)

            rows = {
                "one thread, the format alone": lambda: _bare_pipeline(json_server.address, n, False),
                "one thread, and a Future per call": lambda: _bare_pipeline(json_server.address, n, True),
                "minirpc's client (go)": lambda: bench.inflight_rate(go, n),
                "Go's gob client and server": lambda: bench.go_client_runner(
                    gobench, "gob", gob_server.address)(n // 2).inflight_per_s,
            }
            figures = {name: [] for name in rows}
            for _ in range(rounds):
                for name, run in rows.items():
                    figures[name].append(run())
    finally:
        json_server.stop()
        gob_server.stop()
        os.sched_setaffinity(0, all_cpus)
    go_pair = statistics.median(figures["Go's gob client and server"])
    print(f"{bench.INFLIGHT} in flight on one connection, pinned, against Go's JSON server (median of {rounds}):")
    for name, rates in figures.items():
        rate = statistics.median(rates)
        print(f"  {name:36} {rate:8.0f} calls/s   {rate / go_pair:4.2f} x Go's gob pair")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["cpu", "latency", "loop", "inflight", "floor", "ceiling"])
    parser.add_argument("--codec", default="gob", help="loop: which codec")
    parser.add_argument("--n", type=int, default=3000, help="calls per run")
    parser.add_argument("--rounds", type=int, default=7, help="runs per codec (the median is shown)")
    parser.add_argument("--profile", action="store_true", help="cpu: also print a cProfile of the gob loop")
    args = parser.parse_args()
    if args.what == "cpu":
        cpu(args.n, args.rounds)
        if args.profile:
            profile(args.n)
    elif args.what == "loop":
        call = one_thread_loop(args.codec)
        for _ in range(args.n):
            call()
    elif args.what == "inflight":
        inflight(args.n * 5, args.rounds)
    elif args.what == "floor":
        floor(args.n * 5, args.rounds)
    elif args.what == "ceiling":
        ceiling(args.n * 5, args.rounds)
    else:
        latency(args.n, args.rounds)


if __name__ == "__main__":
    main()
