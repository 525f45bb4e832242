#!/usr/bin/env python
"""What do many connections cost the server?  python benchmarks/scale.py

The server runs in its own process (``bench.py --serve minirpc``, or
``--serve go`` for Go's net/rpc server built from benchmarks/go), so that its
threads and memory can be read from ``/proc/<pid>/status`` with nothing of the
client's mixed in.  Then, in order:

1. a burst: ``--burst`` clients (default 100) connect at once, each from its own
   thread, and make one call: how long until every one had its reply;
2. ``--connections`` (default 2,000) connections, opened one after the other, each
   making one call (so each was accepted and served): how long that took;
3. those connections idle: the server's threads and resident memory, against
   its figures before any connection; then a new client's call latency, with
   all of them still open;
4. ``--pipelined`` (default 200) connections each sending 50 calls in one write:
   the most threads the server had while answering them;
5. everything closed: the server's threads again.

Figures are printed, not judged: compare them with Go's (``--server go``).
The JSON codec throughout (Go's server speaks it too), or gob with ``--codec gob``:
there every connection starts with type definitions, which a server must read
(and compile for) before its first call.
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
from minirpc.examples import Args  # noqa: E402
from minirpc.format import NEED_DATA, Request  # noqa: E402
from minirpc.gob.rpc import ClientFormat as GobClientFormat  # noqa: E402
from minirpc.jsonrpc import ClientFormat as JSONClientFormat  # noqa: E402

FORMATS = {"json": JSONClientFormat, "gob": GobClientFormat}

TIMEOUT = 30.0


def status(pid: int) -> dict[str, int]:
    """Threads and VmRSS (KiB) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {"threads": int(fields["Threads"]), "rss_kib": int(fields["VmRSS"].split()[0])}


class Conn:
    """A raw connection: send calls, read replies (no client library in the way)."""

    codec = "json"

    def __init__(self, address: str):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fmt, self.seq = FORMATS[self.codec](), 0

    def send(self, n: int = 1) -> None:
        data = b"".join(self.fmt.encode(Request("Arith.Add", self.seq + i), Args(self.seq + i, 1)) for i in range(n))
        self.seq += n
        self.sock.sendall(data)

    def replies(self, n: int = 1) -> None:
        got = 0
        while got < n:
            message = self.fmt.next_message()
            if message is NEED_DATA:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError(f"server closed after {got} of {n} replies")
                self.fmt.receive_data(data)
                continue
            if message.header.error:
                raise RuntimeError(message.header.error)
            got += 1

    def call(self) -> None:
        self.send()
        self.replies()

    def close(self) -> None:
        self.sock.close()


def burst(address: str, n: int) -> list[float]:
    """n clients connect at once and call once; the seconds each waited for its reply."""
    start, waits, errors = threading.Barrier(n + 1), [], []

    def one():
        start.wait()
        t0 = time.perf_counter()
        try:
            conn = Conn(address)
            conn.call()
            waits.append(time.perf_counter() - t0)
            conn.close()
        except Exception as e:  # reported, not raised: the figure is how many made it
            errors.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join()
    if errors:
        print(f"   {len(errors)} of {n} failed, e.g. {errors[0]}")
    return sorted(waits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["minirpc", "go"], default="minirpc")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--pipelined", type=int, default=200)
    parser.add_argument("--codec", choices=sorted(FORMATS), default="json")
    args = parser.parse_args()
    Conn.codec = args.codec
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 3 * args.connections + 100)), hard))

    if args.server == "go":
        gobench, note = bench.build_go()
        if gobench is None:
            sys.exit(note)
        server = bench.Subprocess([gobench, "server", "-codec", args.codec])
    else:
        server = bench.python_server("minirpc", args.codec)
    pid = server.proc.pid
    try:
        time.sleep(0.2)
        before = status(pid)
        print(f"{args.server} server ({args.codec}), pid {pid}: {before['threads']} threads, {before['rss_kib'] / 1024:.1f} MiB "
              "resident before any connection")

        waits = burst(server.address, args.burst)
        if waits:
            print(f"1. burst of {args.burst} clients: all {len(waits)} replied within {waits[-1] * 1000:.1f} ms "
                  f"(median {statistics.median(waits) * 1000:.1f} ms); "
                  f"{sum(w >= 1.0 for w in waits)} waited 1 s or more")

        t0 = time.perf_counter()
        conns = []
        for _ in range(args.connections):
            conn = Conn(server.address)
            conn.call()
            conns.append(conn)
        took = time.perf_counter() - t0
        print(f"2. {args.connections} connections opened one after the other, one call each: {took:.2f} s")

        time.sleep(0.5)  # idle now
        idle = status(pid)
        print(f"3. {args.connections} idle connections: {idle['threads']} server threads "
              f"(before: {before['threads']}), {idle['rss_kib'] / 1024:.1f} MiB resident "
              f"(+{(idle['rss_kib'] - before['rss_kib']) / args.connections:.1f} KiB per connection)")
        fresh, latencies = Conn(server.address), []
        for _ in range(200):
            t = time.perf_counter()
            fresh.call()
            latencies.append(time.perf_counter() - t)
        fresh.close()
        print(f"   a new client meanwhile: p50 {statistics.median(latencies) * 1e6:.0f} µs over 200 calls")

        for conn in conns:
            conn.close()
        conns, peak = [], [0]
        piped = [Conn(server.address) for _ in range(args.pipelined)]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], status(pid)["threads"])
                time.sleep(0.002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        t0 = time.perf_counter()
        for conn in piped:
            conn.send(50)
        for conn in piped:
            conn.replies(50)
        took = time.perf_counter() - t0
        done.set()
        watcher.join()
        print(f"4. {args.pipelined} connections x 50 pipelined calls: every reply in {took:.2f} s, "
              f"at most {peak[0]} server threads")
        for conn in piped:
            conn.close()
        time.sleep(0.5)
        print(f"5. all closed: {status(pid)['threads']} server threads")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
