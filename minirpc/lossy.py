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

    Client --write_request--> [LossyCodec] --(drop? delay? twice?)--> real codec --TCP--> Server
    Client <--read_response-- [inbox] <--(drop? delay? twice?)-- pump thread <-- real codec <--TCP--

Each ``dial`` makes one *link*.  The link wraps the real client codec (JSON,
gob, or your own) at the codec seam, so it works for any codec: the network
sees whole messages -- a ``Request`` header plus its body -- never bytes.

* A request the network *drops* is never written; a dropped reply is read off
  the socket and thrown away.  Either way the call never completes by itself:
  the caller must pass ``timeout=`` and handle ``CallTimeout``.  That is the
  lesson: on a real network, "no answer" is the only failure you are promised.
* *delay* and *jitter* hold a message back for ``delay + uniform(0, jitter)``
  seconds; with jitter, messages overtake each other (they are reordered).
  *reorder* holds a message back by up to ``reorder_delay`` extra seconds, so
  later messages overtake it.
* *duplicate* delivers a message twice: the server runs the method twice
  (is your method idempotent?) and the client gets a reply for a call it has
  already finished, which it must ignore.
* ``cut(client)``, ``disconnect("kv")`` and ``partition({"a","b"}, {"c"})``
  drop everything on the links they affect, until ``restore``/``reconnect``/
  ``heal``.

Everything random comes from one ``seed``: each link gets its own random
stream (one for requests, one for replies) named after the link, so a
sequential program sees the same losses on every run.  Counters record
messages and bytes per link and per server (``net.stats()``).

Replies are read with ``read_response_body(None)`` (plain values) so that they
can be held back, then converted to the caller's ``reply_type`` with
``values.from_plain`` when delivered.  ``net.close()`` closes every client,
link, thread and server the network started.
"""

from __future__ import annotations

import heapq
import io
import itertools
import queue
import random
import socket
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable

from . import client as _client
from . import net as _net
from . import values as _values
from .codec import BodyError, Request, Response

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
    bytes_sent: int = 0  # request bytes actually written to the socket
    bytes_received: int = 0  # reply bytes actually read from the socket

    def add(self, other: "Counters") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class _EndOfStream:
    """Put in a link's inbox when its connection is gone; carries the reason."""

    def __init__(self, error: BaseException):
        self.error = error


class _CountingReader(io.RawIOBase):
    """The raw file under ``makefile("rb")``: reads the socket and counts bytes."""

    def __init__(self, conn: "_CountingConn"):
        self._conn = conn

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._conn.sock.recv_into(buffer)
        self._conn.bytes_received += n  # only the link's pump thread reads
        return n


class _CountingConn:
    """A socket stand-in handed to the real codec, so the link can count bytes."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.bytes_sent = 0  # written under the link's write lock
        self.bytes_received = 0

    def sendall(self, data) -> None:
        self.sock.sendall(data)
        self.bytes_sent += len(data)

    def makefile(self, mode: str = "rb", *args, **kwargs):
        if "r" in mode:
            return io.BufferedReader(_CountingReader(self))
        return self.sock.makefile(mode, *args, **kwargs)

    def __getattr__(self, name):  # close, shutdown, settimeout, ... go to the socket
        return getattr(self.sock, name)


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
                fn(*args)  # outside the lock: it may write to a socket
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
    """One client's connection through the network, from ``src`` to server ``dst``."""

    def __init__(self, network: "Network", name: str, src: str | None, dst: str, real_codec, conn):
        self.network = network
        self.name = name
        self.src = src
        self.dst = dst
        self.enabled = True  # False after net.cut(client)
        self.faults: Faults | None = None  # None: use the network's faults
        self.counters = Counters()
        self._real = real_codec
        self._conn = conn
        self._lock = threading.Lock()  # protects counters and the two random streams
        self._write_lock = threading.Lock()  # one writer at a time on the real codec
        self._requests_rng = random.Random(f"{network.seed}/{name}/requests")
        self._replies_rng = random.Random(f"{network.seed}/{name}/replies")
        self.inbox: queue.Queue = queue.Queue()  # delivered replies, read by LossyCodec
        self._closed = False
        self._pump = threading.Thread(target=self._pump_replies, name=f"lossy-pump {name}", daemon=True)
        self._pump.start()

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
            setattr(self.counters, direction, getattr(self.counters, direction) + 1)
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

    def _count(self, counter: str) -> None:
        setattr(self.counters, counter, getattr(self.counters, counter) + 1)

    # -- requests: client -> server ---------------------------------------
    def send_request(self, request: Request, body: Any) -> None:
        for delay in self._plan(self._requests_rng, "requests"):
            if delay == 0:
                self._write(request, body)  # errors reach the caller, as with a real codec
            else:
                self.network.clock.after(delay, self._write_late, request, body)

    def _write(self, request: Request, body: Any) -> None:
        with self._write_lock:
            before = self._conn.bytes_sent
            try:
                self._real.write_request(request, body)
            finally:
                with self._lock:
                    self.counters.bytes_sent += self._conn.bytes_sent - before

    def _write_late(self, request: Request, body: Any) -> None:
        if not self.connected():  # the link was cut while the message was in the air
            with self._lock:
                self._count("requests_dropped")
            return
        try:
            self._write(request, body)
        except Exception:  # noqa: BLE001 - a broken connection (the pump will notice) or bad args:
            pass  # either way this message is lost, and the caller's timeout tells them

    # -- replies: server -> client ----------------------------------------
    def _pump_replies(self) -> None:
        """Read every reply off the real codec and hand it to the network."""
        while True:
            try:
                before = self._conn.bytes_received
                header = self._real.read_response_header()
                body = self._real.read_response_body(None)  # plain values, converted on delivery
                with self._lock:
                    self.counters.bytes_received += self._conn.bytes_received - before
            except Exception as err:  # EOF, OSError, ProtocolError: the stream is over
                self.inbox.put(_EndOfStream(err))
                return
            for delay in self._plan(self._replies_rng, "replies"):
                if delay == 0:
                    self.inbox.put((header, body))
                else:
                    self.network.clock.after(delay, self._deliver_late, header, body)

    def _deliver_late(self, header: Response, body: Any) -> None:
        if not self.connected():
            with self._lock:
                self._count("replies_dropped")
            return
        self.inbox.put((header, body))

    def close(self) -> None:
        """Close the real connection and stop the pump thread (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the pump's blocking read
        except OSError:
            pass
        self._real.close()
        self.inbox.put(_EndOfStream(EOFError("lossy link closed")))
        if self._pump is not threading.current_thread():
            self._pump.join()


class LossyCodec:
    """The ClientCodec a lossy client uses: it hands messages to its link."""

    def __init__(self, link: Link):
        self.link = link
        self._body: Any = None  # the body of the reply whose header was just returned
        self._end: _EndOfStream | None = None

    def write_request(self, request: Request, body: Any) -> None:
        if self._end is not None:
            raise OSError("lossy link closed")
        self.link.send_request(request, body)

    def read_response_header(self) -> Response:
        item = self._end or self.link.inbox.get()
        if isinstance(item, _EndOfStream):
            self._end = item
            raise item.error
        header, self._body = item
        return header

    def read_response_body(self, reply_type: Any) -> Any:
        body, self._body = self._body, None
        if reply_type is None:
            return body
        try:
            return _values.from_plain(body, reply_type, where="reply")
        except (TypeError, ValueError) as err:
            raise BodyError(str(err)) from err

    def close(self) -> None:
        self.link.close()


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

    def dial(self, name: str, *, src: str | None = None, codec=None, timeout: float | None = 5.0):
        """Return a minirpc ``Client`` for server ``name`` whose messages cross this network.

        ``src`` names the server the client lives on (for ``partition`` and
        ``disconnect``); leave it ``None`` for an outside client.
        """
        with self._lock:
            network, address, server_codec = self._servers[name]
            numbers = self._link_numbers.setdefault((src, name), itertools.count(1))
            link_name = f"{src or 'client'}->{name}#{next(numbers)}"
        sock = _net.connect(network, address, timeout=timeout)
        sock.settimeout(None)
        conn = _CountingConn(sock)
        real = _net.client_codec(codec if codec is not None else server_codec or _net.DEFAULT_CODEC, conn)
        link = Link(self, link_name, src, name, real, conn)
        client = _client.new_client_with_codec(LossyCodec(link))
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
