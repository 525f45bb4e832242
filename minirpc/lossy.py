"""A simulated lossy network for lessons, in the spirit of MIT 6.824's labrpc.

Real networks lose, delay, duplicate and reorder messages, and sometimes cut a
machine off entirely.  On a laptop, TCP over 127.0.0.1 never does any of that,
so code that "works" may only work because the network is perfect.  This
module puts a *simulated* network between minirpc clients and servers so you
can watch what happens when it is not::

    from minirpc import lossy
    net = lossy.Network(seed=1)
    net.add_server("kv", server)          # a minirpc Server, or a "host:port" string
    client = net.dial("kv")               # an ordinary minirpc Client ...
    net.set(drop=0.1, delay=0.005, jitter=0.002)   # ... on a bad network
    client.call("KV.Get", "x", timeout=0.5)        # may raise CallTimeout

How it works (one picture)::

    Client --bytes--> [socketpair] --> link: cut into messages --(drop? delay? twice?)--> TCP --> Server
    Client <--bytes-- [socketpair] <-- link: cut into messages <--(drop? delay? twice?)-- TCP <-- Server

Each ``dial`` makes one *link*.  The client is a real minirpc client on a real
socket; the link reads the bytes it writes, cuts them into whole messages with
the real format (JSON, gob, or one of your own), and forwards each message's
exact bytes -- or not.  The replies come back the same way, and the client's
own format decodes them, so a value arrives exactly as it would directly.

* A message the network *drops* is never forwarded; the call never completes
  by itself, so the caller must pass ``timeout=`` and handle ``CallTimeout``.
  That is the lesson: on a real network, "no answer" is the only failure you
  are promised.
* *delay* and *jitter* hold a message back for ``delay + uniform(0, jitter)``
  seconds; with jitter, messages overtake each other (they are reordered).
  *reorder* holds a message back by up to ``reorder_delay`` extra seconds, so
  later messages overtake it.
* *duplicate* delivers a message twice: the server runs the method twice
  (is your method idempotent?) and the client gets a reply for a call it has
  already finished, which it ignores.
* ``cut(client)``, ``disconnect("kv")`` and ``partition({"a","b"}, {"c"})``
  drop everything on the links they affect, until ``restore``/``reconnect``/
  ``heal``.

gob's type definitions are state of the connection, not messages of a call:
they are forwarded at once and in order even when their message is dropped or
held back, so the messages that follow can still be read.

Everything random comes from one ``seed``: each link gets its own random
stream (one for requests, one for replies) named after the link, so a
sequential program sees the same losses on every run.  Counters record
messages and bytes per link and per server (``net.stats()``).
``net.close()`` closes every client, link, thread and server the network started.
"""

from __future__ import annotations

import heapq
import itertools
import random
import socket
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable

from . import net as _net
from .client import Client
from .codec import StreamClientCodec, wire_format
from .format import DEFAULT_MAX_MESSAGE
from .stream import Stream

__all__ = ["Faults", "Counters", "Link", "Network"]


@dataclass(frozen=True)
class Faults:
    """What the network does to each message.  Probabilities are 0..1, times in seconds."""

    drop: float = 0.0  # chance a message is lost
    delay: float = 0.0  # fixed one-way delay
    jitter: float = 0.0  # extra delay, uniform in [0, jitter]
    duplicate: float = 0.0  # chance a message is delivered twice
    reorder: float = 0.0  # chance a message is held back by up to reorder_delay
    reorder_delay: float = 0.05

    def __post_init__(self):
        for name in ("drop", "duplicate", "reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        for name in ("delay", "jitter", "reorder_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")


@dataclass
class Counters:
    """Messages and bytes seen by one link (or summed over a server's links)."""

    requests: int = 0  # requests the client handed to the network
    requests_dropped: int = 0
    requests_duplicated: int = 0
    replies: int = 0  # replies the server sent back over the link
    replies_dropped: int = 0
    replies_duplicated: int = 0
    bytes_sent: int = 0  # request bytes actually forwarded to the server
    bytes_received: int = 0  # reply bytes actually read from the server

    def add(self, other: "Counters") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class _Scheduler:
    """One thread that runs ``fn(*args)`` after a delay: the network's clock."""

    def __init__(self):
        self._heap: list = []  # (due, tie_breaker, fn, args); guarded by _cond
        self._counter = itertools.count()
        self._cond = threading.Condition()  # protects _heap, _thread and _closed
        self._thread: threading.Thread | None = None
        self._closed = False

    def after(self, delay: float, fn: Callable, *args) -> None:
        with self._cond:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + delay, next(self._counter), fn, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lossy-clock", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._closed:
                    return
                _, _, fn, args = heapq.heappop(self._heap)
            try:
                fn(*args)  # outside the lock: it writes to a socket
            except Exception:  # noqa: BLE001 - a message that fails to go out is lost, like any other
                pass

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()  # messages still "in the air" are lost
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()


class Link:
    """One client's connection through the network, from ``src`` to server ``dst``.

    Two streams cut the bytes into messages: ``requests`` reads what the client
    writes (with the server side of the format), ``replies`` what the server
    writes (with the client side).  Messages go on with ``_forward``."""

    def __init__(self, network: "Network", name: str, src: str | None, dst: str, fmt: Any,
                 client_end: socket.socket, server_conn: socket.socket, max_message: int):
        self.network, self.name, self.src, self.dst = network, name, src, dst
        self.enabled = True  # False after net.cut(client)
        self.faults: Faults | None = None  # None: use the network's faults
        self.counters = Counters()
        self._lock = threading.Lock()  # protects counters and the two random streams
        self._requests_rng = random.Random(f"{network.seed}/{name}/requests")
        self._replies_rng = random.Random(f"{network.seed}/{name}/replies")
        self._requests = Stream(client_end, fmt.server(max_message))  # client -> link
        self._replies = Stream(server_conn, fmt.client(max_message))  # server -> link
        self._closed = False
        self._pumps = [threading.Thread(target=self._pump, args=args, name=f"lossy-{direction} {name}", daemon=True)
                       for args, direction in (((self._requests, self._replies, "requests"), "requests"),
                                               ((self._replies, self._requests, "replies"), "replies"))]
        for pump in self._pumps:
            pump.start()

    def set(self, **changes) -> None:
        """Change this link's faults only, e.g. ``link.set(drop=1.0)``."""
        self.faults = replace(self.faults or self.network.faults, **changes)

    def connected(self) -> bool:
        return self.enabled and self.network.can_talk(self.src, self.dst)

    # -- the fate of one message ------------------------------------------
    def _plan(self, rng: random.Random, direction: str) -> list[float]:
        """Count one message and decide its fate: a list of delays, one per copy ([] = dropped)."""
        faults = self.faults or self.network.faults
        with self._lock:
            self._count(direction)
            if not self.connected() or rng.random() < faults.drop:
                self._count(direction + "_dropped")
                return []
            copies = 1
            if faults.duplicate and rng.random() < faults.duplicate:
                copies = 2
                self._count(direction + "_duplicated")
            delays = []
            for _ in range(copies):
                delay = faults.delay + (rng.uniform(0, faults.jitter) if faults.jitter else 0.0)
                if faults.reorder and rng.random() < faults.reorder:
                    delay += rng.uniform(0, faults.reorder_delay)
                delays.append(delay)
            return delays

    def _count(self, counter: str, n: int = 1) -> None:
        setattr(self.counters, counter, getattr(self.counters, counter) + n)

    # -- carrying messages --------------------------------------------------
    def _pump(self, source: Stream, sink: Stream, direction: str) -> None:
        """Read whole messages from ``source`` and give each its fate on the way to ``sink``."""
        rng = self._requests_rng if direction == "requests" else self._replies_rng
        while True:
            try:
                message = source.read_message()
            except Exception:  # EOF, a broken socket, bytes the format refuses: this side is over
                break
            if direction == "replies":
                with self._lock:
                    self._count("bytes_received", len(message.data))
            if message.setup:  # type definitions go on at once, whatever happens to the call
                self._forward(sink, message.setup, direction, check=False)
            for delay in self._plan(rng, direction):
                if delay == 0:
                    self._forward(sink, message.call, direction, check=False)
                else:
                    self.network.clock.after(delay, self._forward, sink, message.call, direction)
        sink.close()  # the other side sees the end too
        source.close()

    def _forward(self, sink: Stream, data: bytes, direction: str, check: bool = True) -> None:
        if check and not self.connected():  # the link was cut while the message was in the air
            with self._lock:
                self._count(direction + "_dropped")
            return
        try:
            sink.send_bytes(data)
        except OSError:
            return  # the connection is gone: the pump notices and ends
        if direction == "requests":
            with self._lock:
                self._count("bytes_sent", len(data))

    def close(self) -> None:
        """Close both sides and stop the pump threads (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._requests.close()
        self._replies.close()
        for pump in self._pumps:
            if pump is not threading.current_thread():
                pump.join()


class Network:
    """A simulated network of named servers.  See the module docstring."""

    def __init__(self, seed: int = 0, **faults):
        self.seed = seed
        self.faults = Faults(**faults)
        self.clock = _Scheduler()
        self._lock = threading.Lock()  # protects the tables below
        self._servers: dict[str, tuple[str, str, Any]] = {}  # name -> (network, address, codec)
        self._servings: list = []  # Serving objects this network started
        self._links: list[Link] = []
        self._clients: dict[int, tuple[Any, Link]] = {}  # id(client) -> (client, link)
        self._link_numbers: dict[tuple, itertools.count] = {}
        self._down: set[str] = set()  # disconnected servers
        self._groups: list[set[str]] | None = None  # partition, or None

    # -- building the network ---------------------------------------------
    def add_server(self, name: str, target, *, network: str = "tcp", codec=None,
                   address: str = "127.0.0.1:0") -> str:
        """Attach a server under ``name``: a minirpc ``Server`` (started here) or an address.

        Returns the server's real address.  ``codec`` is the codec the server
        speaks; clients dialled through the network use it too.
        """
        if isinstance(target, str):
            real_address = target
        else:
            serving = target.start(address, network=network, codec=codec)
            self._servings.append(serving)
            real_address = serving.address
        with self._lock:
            self._servers[name] = (network, real_address, codec)
        return real_address

    def dial(self, name: str, *, src: str | None = None, codec=None, timeout: float | None = 5.0,
             max_message: int | None = None) -> Client:
        """Return a minirpc ``Client`` for server ``name`` whose messages cross this network.

        ``src`` names the server the client lives on (for ``partition`` and
        ``disconnect``); leave it ``None`` for an outside client.
        """
        with self._lock:
            network, address, server_codec = self._servers[name]
            numbers = self._link_numbers.setdefault((src, name), itertools.count(1))
            link_name = f"{src or 'client'}->{name}#{next(numbers)}"
        fmt = wire_format(codec if codec is not None else server_codec)
        if fmt is None:
            raise ValueError("the lossy network cuts messages with a format: give a codec name or a WireFormat")
        max_message = max_message or DEFAULT_MAX_MESSAGE
        server_conn = _net.connect(network, address, _net.Deadline(timeout))
        client_end, link_end = socket.socketpair()
        link = Link(self, link_name, src, name, fmt, link_end, server_conn, max_message)
        client = Client(StreamClientCodec(Stream(client_end, fmt.client(max_message))))
        with self._lock:
            self._links.append(link)
            self._clients[id(client)] = (client, link)
        return client

    # -- switching faults at run time -------------------------------------
    def set(self, **changes) -> Faults:
        """Change the faults of every link without its own, e.g. ``net.set(drop=0.1)``."""
        self.faults = replace(self.faults, **changes)
        return self.faults

    def reliable(self) -> None:
        """Back to a perfect network: no faults, no cuts, no partition."""
        self.faults = Faults()
        with self._lock:
            self._down.clear()
            self._groups = None
            links = list(self._links)
        for link in links:
            link.faults, link.enabled = None, True

    def link(self, client) -> Link:
        """The link a client from ``dial`` talks through."""
        return self._clients[id(client)][1]

    def cut(self, client) -> None:
        """Drop every message on this client's link (until ``restore``)."""
        self.link(client).enabled = False

    def restore(self, client) -> None:
        self.link(client).enabled = True

    def disconnect(self, server: str) -> None:
        """Cut every link to or from ``server``, like pulling its network cable."""
        with self._lock:
            self._down.add(server)

    def reconnect(self, server: str) -> None:
        with self._lock:
            self._down.discard(server)

    def partition(self, *groups) -> None:
        """Only servers in the same group can talk, e.g. ``partition({"a", "b"}, {"c"})``.

        Outside clients (``src=None``) still reach every server.
        """
        with self._lock:
            self._groups = [set(group) for group in groups]

    def heal(self) -> None:
        with self._lock:
            self._groups = None

    def can_talk(self, src: str | None, dst: str) -> bool:
        with self._lock:
            if dst in self._down or src in self._down:
                return False
            if src is None or self._groups is None:
                return True
            return any(src in group and dst in group for group in self._groups)

    # -- counters ---------------------------------------------------------
    def stats(self) -> dict:
        """``{"links": {name: {...}}, "servers": {name: {...}}}`` of message and byte counts."""
        with self._lock:
            links = list(self._links)
        per_server: dict[str, Counters] = {}
        per_link = {}
        for link in links:
            with link._lock:
                snapshot = replace(link.counters)
            per_link[link.name] = asdict(snapshot)
            per_server.setdefault(link.dst, Counters()).add(snapshot)
        return {"links": per_link, "servers": {name: asdict(c) for name, c in per_server.items()}}

    def report(self) -> str:
        """The link counters as a small text table (handy in a notebook)."""
        names = [f.name for f in fields(Counters)]
        rows = [["link"] + names]
        for name, counts in self.stats()["links"].items():
            rows.append([name] + [str(counts[n]) for n in names])
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows)

    # -- shutting down ----------------------------------------------------
    def close(self) -> None:
        """Close every client and link, stop the clock, and stop servers started here."""
        with self._lock:
            clients = [client for client, _ in self._clients.values()]
            links = list(self._links)
            servings, self._servings = self._servings, []
        for client in clients:
            try:
                client.close()
            except Exception:
                pass  # already closed: Go's second Close returns ErrShutdown
        for link in links:
            link.close()
        self.clock.close()
        for serving in servings:
            serving.close()

    def __enter__(self) -> "Network":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
