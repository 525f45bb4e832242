"""A wire tap: the exact bytes that crossed the wire, call by call.

Every message minirpc sends or reads goes through a ``Stream``
(``minirpc.stream``), and a stream tells its *taps* about each whole message
with its exact bytes.  A ``WireTap`` is such a tap: it files the request and
the reply of each call together, by sequence number::

    tap = WireTap("gob")                      # the codec to put on the wire
    client = minirpc.dial("tcp", address, codec=tap.client_codec)
    client.call("Arith.Multiply", Args(7, 8))
    print(tap.last().annotate())              # request and reply, byte by byte

``tap.client_codec`` and ``tap.server_codec`` are ordinary codec factories
(``conn -> codec``), so they go wherever a codec goes: ``dial``,
``new_client``, ``http.dial_http``, ``Server.start``, ``Server.serve_conn``.
They are minirpc's own codecs with the tap attached; nothing is decoded twice.
Whoever builds a stream itself takes ``tap.client_taps`` (the simulated
network does: ``net.dial("kv", codec=tap.format, taps=tap.client_taps)``).

One tap watches one stream per direction: tap one connection with it.  It keeps
the whole stream in memory (a gob call can only be read in the light of the
type definitions sent before it), so it is a teaching tool, not a production
logger.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .. import gob
from ..codec import StreamClientCodec, StreamServerCodec, wire_format
from ..stream import Stream

__all__ = ["WireTap", "Exchange", "hexdump", "side_by_side"]


@dataclass
class Exchange:
    """One call as it crossed the wire: the request's bytes and the reply's."""

    seq: int
    service_method: str
    kind: str  # "gob", "json" or "bytes": how to annotate
    request: bytes = b""
    reply: bytes = b""
    error: str = ""
    sent_at: float = 0.0  # time.perf_counter() after the request was written
    replied_at: float = 0.0  # ... after the reply was read whole (0.0: not yet)
    # where the two messages sit in their streams, to annotate gob in context
    _out: bytearray = field(default_factory=bytearray, repr=False)
    _out_span: tuple[int, int] = (0, 0)
    _in: bytearray = field(default_factory=bytearray, repr=False)
    _in_span: tuple[int, int] = (0, 0)

    @property
    def wire_seconds(self) -> float | None:
        """From request written to reply read, or ``None`` while pending."""
        return self.replied_at - self.sent_at if self.replied_at else None

    def annotate(self) -> str:
        """The request and the reply, readable: JSON as text, gob decoded message by message."""
        parts = [f"-> request  seq {self.seq}, {len(self.request)} bytes"]
        parts.append(_annotate(self.kind, self.request, self._out, self._out_span))
        if self.replied_at:
            parts.append(f"<- reply    seq {self.seq}, {len(self.reply)} bytes" + (f" (error: {self.error})" if self.error else ""))
            parts.append(_annotate(self.kind, self.reply, self._in, self._in_span))
        else:
            parts.append("<- (no reply yet)")
        return "\n".join(parts)


def _annotate(kind: str, data: bytes, stream: bytearray, span: tuple[int, int]) -> str:
    if kind == "json":
        return "   " + data.decode("utf-8", "replace").rstrip("\n")
    if kind == "gob":
        return gob_listing(bytes(stream[: span[1]]), span[0])
    return hexdump(data)


def gob_listing(stream: bytes, start: int = 0) -> str:
    """``gob.dump`` of a stream, listing only the messages that begin at or after ``start``.

    The earlier messages are still read (silently): they may hold the type
    definitions that the later ones need."""
    return gob.dump(stream, start)


class SideBySide:
    """Annotated exchanges in columns (HTML in Jupyter, one after another as text)."""

    def __init__(self, columns: list[tuple[str, str]]):
        self.columns = columns  # (title, annotated text)

    def __repr__(self) -> str:
        return "\n\n".join(f"== {title} ==\n{text}" for title, text in self.columns)

    def _repr_html_(self) -> str:
        import html

        cells = "".join(f'<td style="vertical-align:top;text-align:left"><b>{html.escape(title)}</b>'
                        f'<pre style="font-size:80%">{html.escape(text)}</pre></td>' for title, text in self.columns)
        return f"<table><tr>{cells}</tr></table>"


def side_by_side(*exchanges: Exchange, titles: tuple[str, ...] = ()) -> SideBySide:
    """The same call through different codecs, annotated next to each other."""
    names = list(titles) + [f"{e.kind}, seq {e.seq}" for e in exchanges[len(titles):]]
    return SideBySide([(name, e.annotate()) for name, e in zip(names, exchanges)])


def hexdump(data: bytes, width: int = 16) -> str:
    """Offset, hex bytes and printable ASCII, ``width`` bytes a line."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:04x}  {chunk.hex(' '):<{width * 3}} {text}")
    return "\n".join(lines)


class WireTap:
    """Records every call on one tapped connection as an ``Exchange``."""

    def __init__(self, codec: Any = None, keep: int = 10_000):
        self.codec = codec  # a codec name ("gob", "json") or a WireFormat
        self.format = wire_format(codec)
        if self.format is None:
            raise ValueError("a WireTap taps one of minirpc's formats: give a codec name or a WireFormat")
        self.kind = self.format.name if self.format.name in ("gob", "json") else "bytes"
        self.keep = keep  # exchanges remembered; the oldest are forgotten first
        self.exchanges: dict[int, Exchange] = {}  # seq -> Exchange, oldest first
        self._lock = threading.Lock()  # protects exchanges and the streams (sender and reader threads)
        self._out, self._in = bytearray(), bytearray()  # every byte of each direction, in order

    # -- factories: pass these wherever a codec goes -------------------------

    def client_codec(self, conn: Any) -> StreamClientCodec:
        return StreamClientCodec(Stream(conn, self.format.client(gob.DEFAULT_MAX_MESSAGE), taps=(self._client_tap,)))

    def server_codec(self, conn: Any) -> StreamServerCodec:
        return StreamServerCodec(Stream(conn, self.format.server(gob.DEFAULT_MAX_MESSAGE), taps=(self._server_tap,)))

    @property
    def client_taps(self) -> tuple:
        """The tap for a client's stream, for whoever builds the stream (``lossy.Network.dial(taps=)``)."""
        return (self._client_tap,)

    @property
    def server_taps(self) -> tuple:
        return (self._server_tap,)

    # -- reading the record ---------------------------------------------------

    def get(self, call_or_seq: Any) -> Exchange | None:
        """The exchange of a ``Call`` (or a sequence number)."""
        seq = call_or_seq if isinstance(call_or_seq, int) else call_or_seq.seq
        with self._lock:
            return self.exchanges.get(seq)

    def last(self) -> Exchange | None:
        with self._lock:
            return next(reversed(self.exchanges.values()), None)

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    # -- the taps: told of every message on the stream ----------------------------

    def _client_tap(self, direction: str, header: Any, data: bytes) -> None:
        if direction == "out":  # a request, told before it is written: its reply may come at once
            self._request(header, data, self._out)
        else:
            self._reply(header, data, self._in)

    def _server_tap(self, direction: str, header: Any, data: bytes) -> None:
        if direction == "in":  # on a server, requests come in and replies go out
            self._request(header, data, self._in)
        else:
            self._reply(header, data, self._out)

    def _request(self, header: Any, data: bytes, stream: bytearray) -> None:
        with self._lock:
            start = len(stream)
            stream += data
            exchange = Exchange(header.seq, header.service_method, self.kind, request=data,
                                sent_at=time.perf_counter(), _out=stream, _out_span=(start, len(stream)))
            self.exchanges[header.seq] = exchange
            while len(self.exchanges) > self.keep:
                del self.exchanges[next(iter(self.exchanges))]

    def _reply(self, header: Any, data: bytes, stream: bytearray) -> None:
        with self._lock:
            start = len(stream)
            stream += data
            exchange = self.exchanges.get(header.seq)
            if exchange is None:  # a reply to a request we never saw
                return
            exchange.reply, exchange.error = data, header.error
            exchange._in, exchange._in_span = stream, (start, len(stream))
            exchange.replied_at = time.perf_counter()
