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

Every message's fate is written in an event log, so you can see what
happened to each call rather than guess::

    print(net.timeline())                 # one line per event, oldest first
        time  link          message  seq  method    what
      0.2 ms  client->kv#1  request    0  KV.Get    sent
      0.2 ms  client->kv#1  request    0  KV.Get    dropped (at random)
    ...
    net.events(seq=0)                     # the same as Event records

A message is *sent* when the link takes it from its sender; then it is
*dropped* (at random, or because its link is cut), or *delivered* once -- or
twice, when it is *duplicated* -- or *lost* when its link is cut while it is
still in the air.  Requests and replies are named by the call's sequence
number and method, as the client sent them.  The log keeps the newest
``max_events`` events.

Everything random comes from one ``seed``: each link gets its own random
stream (one for requests, one for replies) named after the link, so a
sequential program sees the same losses on every run.  Counters record
messages and bytes per link and per server (``net.stats()``).
``net.close()`` closes every client, link, thread and server the network started.
"""

from __future__ import annotations

import collections
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

__all__ = ["Faults", "Counters", "Event", "Link", "Network"]

DEFAULT_MAX_EVENTS = 10_000  # events the log keeps; the oldest go first


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


@dataclass(frozen=True)
class Event:
    """One thing that happened to one message on the network (see ``Network.events``)."""

    time: float  # seconds since the network was made
    message: int  # numbers the messages: the events of one message share it
    link: str  # "client->kv#1"
    direction: str  # "request" or "reply"
    seq: int | None  # the call's sequence number, as the client sent it
    method: str  # "KV.Get"
    what: str  # "sent", "dropped", "duplicated", "delivered" or "lost"
    detail: str = ""  # why it was dropped or lost; how long a delivered copy took

    def __str__(self) -> str:
        what = f"{self.what} ({self.detail})" if self.detail else self.what
        return f"{_ms(self.time)}  {self.link}  {self.direction}  seq {_seq(self.seq)}  {self.method}  {what}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _seq(seq: int | None) -> str:
    return "?" if seq is None else str(seq)


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
        # The headers of the requests the client wrote, in order (its stream's tap adds them,
        # the request pump takes them): the log names each request as the client did.
        self._written: collections.deque = collections.deque()
        self._methods: dict[int, str] = {}  # seq -> method of recent requests, to name replies
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

    def client_tap(self, direction: str, header: Any, data: bytes) -> None:
        """The tap on the client's own stream: told of each request before it is written."""
        if direction == "out":
            self._written.append((header.seq, header.service_method))
            with self._lock:
                self._methods[header.seq] = header.service_method
                while len(self._methods) > 1000:
                    del self._methods[next(iter(self._methods))]

    def _name(self, direction: str, header: Any) -> tuple[int | None, str]:
        """(seq, method) of a message, as the client knows it."""
        if direction == "requests":
            try:
                return self._written.popleft()
            except IndexError:  # (cannot happen for a client from Network.dial)
                return getattr(header, "seq", None), getattr(header, "service_method", "")
        seq = getattr(header, "seq", None)
        with self._lock:
            return seq, getattr(header, "service_method", "") or self._methods.get(seq, "")

    # -- the fate of one message ------------------------------------------
    def _plan(self, rng: random.Random, direction: str) -> tuple[list[float], str]:
        """Count one message and decide its fate: a list of delays, one per copy, and
        why it is dropped when that list is empty."""
        faults = self.faults or self.network.faults
        with self._lock:
            self._count(direction)
            if not self.connected():
                self._count(direction + "_dropped")
                return [], "link cut" if not self.enabled else "disconnected or partitioned"
            if rng.random() < faults.drop:
                self._count(direction + "_dropped")
                return [], "at random"
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
            return delays, ""

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
            seq, method = self._name(direction, message.header)
            note = self.network._note
            number = note(self, direction, seq, method, "sent")
            delays, why = self._plan(rng, direction)
            if not delays:
                note(self, direction, seq, method, "dropped", why, number)
            elif len(delays) == 2:
                note(self, direction, seq, method, "duplicated", "", number)
            for delay in delays:
                named = (number, seq, method, delay)
                if delay == 0:
                    self._forward(sink, message.call, direction, check=False, named=named)
                else:
                    self.network.clock.after(delay, self._forward, sink, message.call, direction, True, named)
        sink.close()  # the other side sees the end too
        source.close()

    def _forward(self, sink: Stream, data: bytes, direction: str, check: bool = True,
                 named: tuple | None = None) -> None:
        """Write one message on; ``named`` is (message number, seq, method, delay) for the log."""
        note = self.network._note
        if check and not self.connected():  # the link was cut while the message was in the air
            with self._lock:
                self._count(direction + "_dropped")
            if named:
                note(self, direction, named[1], named[2], "lost", "link cut while in the air", named[0])
            return
        # Noted and counted before it is written: once written, the reply may be read, and the
        # log or the stats asked about it, before this thread runs again.
        delivered = named and self.network._note(self, direction, named[1], named[2], "delivered",
                                                 f"after {_ms(named[3])}" if named[3] else "", named[0])
        if direction == "requests":
            with self._lock:
                self._count("bytes_sent", len(data))
        try:
            sink.send_bytes(data)
        except OSError:  # the connection is gone: the pump notices and ends
            if direction == "requests":
                with self._lock:
                    self._count("bytes_sent", -len(data))
            if named:
                self.network._unnote(delivered)
                note(self, direction, named[1], named[2], "lost", "connection closed", named[0])
            return

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

    def __init__(self, seed: int = 0, max_events: int = DEFAULT_MAX_EVENTS, **faults):
        self.seed = seed
        self.faults = Faults(**faults)
        self.clock = _Scheduler()
        self.started = time.monotonic()  # event times count from here
        self._events: collections.deque = collections.deque(maxlen=max_events)  # guarded by _events_lock
        self._events_lock = threading.Lock()
        self._message_numbers = itertools.count(1)
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
             max_message: int | None = None, taps: tuple = ()) -> Client:
        """Return a minirpc ``Client`` for server ``name`` whose messages cross this network.

        ``src`` names the server the client lives on (for ``partition`` and
        ``disconnect``); leave it ``None`` for an outside client.  ``taps``
        go on the client's stream (``minirpc.stream``), e.g. a wire tap's.
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
        client = Client(StreamClientCodec(Stream(client_end, fmt.client(max_message),
                                                 taps=(link.client_tap, *taps))))
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

    # -- the event log ----------------------------------------------------
    def now(self) -> float:
        """Seconds since the network was made: the clock of the event log."""
        return time.monotonic() - self.started

    def _note(self, link: Link, direction: str, seq: int | None, method: str, what: str, detail: str = "",
              number: int | None = None) -> Any:
        """Add one event to the log, now.  Returns the new message number for "sent", else the event."""
        number = next(self._message_numbers) if number is None else number
        event = Event(self.now(), number, link.name,
                      "request" if direction == "requests" else "reply", seq, method, what, detail)
        with self._events_lock:
            self._events.append(event)
        return number if what == "sent" else event

    def _unnote(self, event: Event) -> None:
        """Take back an event noted too early (a delivery whose write failed)."""
        with self._events_lock:
            try:
                self._events.remove(event)
            except ValueError:
                pass  # the log has forgotten it already

    def events(self, *, link: Any = None, seq: int | None = None, since: float = 0.0) -> list[Event]:
        """The log, oldest first: every event, or those of one link (a name or a client
        from ``dial``), one call's ``seq``, or from ``since`` (a ``now()`` reading) on."""
        if link is not None and not isinstance(link, str):
            link = self.link(link).name
        with self._events_lock:
            events = sorted(self._events, key=lambda e: e.time)  # (threads may note out of turn)
        return [e for e in events if (link is None or e.link == link) and (seq is None or e.seq == seq)
                and e.time >= since]

    def clear_events(self) -> None:
        with self._events_lock:
            self._events.clear()

    def timeline(self, **which) -> str:
        """``events(**which)`` as a text table, one line per event."""
        events = self.events(**which)
        rows = [("time", "link", "message", "seq", "method", "what")]
        rows += [(_ms(e.time), e.link, e.direction, _seq(e.seq), e.method,
                  f"{e.what} ({e.detail})" if e.detail else e.what) for e in events]
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        widths[0] = 10  # fixed, so the header does not move with the times (which vary)
        return "\n".join(f"{r[0]:>{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]:>{widths[3]}}  "
                         f"{r[4]:<{widths[4]}}  {r[5]}".rstrip() for r in rows)

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
