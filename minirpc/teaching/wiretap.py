"""A wire tap: the exact bytes that crossed the wire, call by call.

A codec reads through ``conn.makefile("rb")`` and writes with
``conn.sendall`` (see ``minirpc.codec``).  So a tap can sit between the codec
and the socket: it hands the codec a stand-in ``conn`` that remembers every
byte written and every byte the codec *took* from the stream, and it wraps the
codec's four methods so it knows which call those bytes belong to::

    tap = WireTap("gob")                      # the codec to put on the wire
    client = minirpc.dial("tcp", address, codec=tap.client_codec)
    client.call("Arith.Multiply", Args(7, 8))
    print(tap.last().annotate())              # request and reply, byte by byte

``tap.client_codec`` and ``tap.server_codec`` are ordinary codec factories
(``conn -> codec``), so they go wherever a codec name goes: ``dial``,
``new_client``, ``http.dial_http``, ``Server.start``, ``Server.serve_conn``.

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

from .. import net

__all__ = ["WireTap", "Exchange", "hexdump", "side_by_side"]


class _TapReader:
    """A read-only file over the real one that remembers what the codec took."""

    def __init__(self, rfile: Any, log: bytearray):
        self._rfile, self._log = rfile, log

    def read(self, *args: Any) -> bytes:
        data = self._rfile.read(*args)
        self._log += data
        return data

    def read1(self, *args: Any) -> bytes:
        data = self._rfile.read1(*args)
        self._log += data
        return data

    def readline(self, *args: Any) -> bytes:
        data = self._rfile.readline(*args)
        self._log += data
        return data

    def readinto(self, buffer: Any) -> int:
        n = self._rfile.readinto(buffer)
        self._log += bytes(memoryview(buffer)[:n])
        return n

    def __getattr__(self, name: str) -> Any:  # close, peek, closed, ... as the real file
        return getattr(self._rfile, name)


class _TapConn:
    """The stand-in socket a tapped codec gets: it records, then passes on."""

    def __init__(self, sock: Any):
        self.sock = sock
        self.sent = bytearray()  # every byte written, in order
        self.received = bytearray()  # every byte the codec read, in order

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)
        self.sent += data

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
        return _TapReader(self.sock.makefile(mode, *args, **kwargs), self.received)

    def __getattr__(self, name: str) -> Any:  # close, shutdown, settimeout, ... as the socket
        return getattr(self.sock, name)


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
    """``gob.dump`` of a stream, keeping only the messages that begin at or after ``start``.

    The earlier messages are still decoded (silently): they may hold the type
    definitions that the later ones need."""
    from .. import gob

    wanted, pos, number = set(), 0, 0
    while pos < len(stream):
        number += 1
        length, body = gob.get_uint(stream, pos)
        if pos >= start:
            wanted.add(number)
        pos = body + length
    blocks, keep = [], False
    for line in gob.dump(stream).splitlines():
        if line.startswith("message "):
            keep = int(line.split()[1].rstrip(":")) in wanted
        if keep:
            blocks.append(line)
    return "\n".join(blocks)


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


def _kind_of(codec: Any) -> str:
    if isinstance(codec, tuple):  # (server factory, client factory)
        codec = codec[1]
    if codec is None:
        codec = net.DEFAULT_CODEC
    if isinstance(codec, str):
        return codec if codec in ("gob", "json") else "bytes"
    module = getattr(codec, "__module__", "") or ""
    return "gob" if module.endswith("gobrpc") else "json" if module.endswith("jsonrpc") else "bytes"


class WireTap:
    """Records every call on one tapped connection as an ``Exchange``."""

    def __init__(self, codec: Any = None, keep: int = 10_000):
        # a codec name ("gob", "json"), a client factory conn -> codec, or a
        # pair (server factory, client factory) for a codec of your own
        self.codec = codec
        self.kind = _kind_of(codec)
        self.keep = keep  # exchanges remembered; the oldest are forgotten first
        self.exchanges: dict[int, Exchange] = {}  # seq -> Exchange, oldest first
        self._lock = threading.Lock()  # protects exchanges (written by sender and reader threads)

    # -- factories: pass these wherever a codec goes -------------------------

    def client_codec(self, conn: Any) -> "TappedClientCodec":
        return TappedClientCodec(self, conn)

    def server_codec(self, conn: Any) -> "TappedServerCodec":
        return TappedServerCodec(self, conn)

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

    # -- called by the tapped codecs --------------------------------------------

    def _begin(self, seq: int, service_method: str) -> None:
        """A request is about to go out.  Filed *before* it is written: its
        reply may be read (on another thread) before ``write`` returns."""
        exchange = Exchange(seq, service_method, self.kind, sent_at=time.perf_counter())
        with self._lock:
            self.exchanges[seq] = exchange
            while len(self.exchanges) > self.keep:
                del self.exchanges[next(iter(self.exchanges))]

    def _sent(self, seq: int, stream: bytearray, start: int) -> None:
        with self._lock:
            exchange = self.exchanges.get(seq)
            if exchange is not None:
                exchange.request, exchange._out, exchange._out_span = bytes(stream[start:]), stream, (start, len(stream))

    def _received(self, seq: int, service_method: str, error: str, stream: bytearray, start: int) -> None:
        with self._lock:
            exchange = self.exchanges.get(seq)
            if exchange is None:  # a reply to a request we never saw (server side: a reply we send)
                return
            exchange.reply, exchange.error = bytes(stream[start:]), error
            exchange._in, exchange._in_span = stream, (start, len(stream))
            exchange.replied_at = time.perf_counter()


class TappedClientCodec:
    """A client codec that tells its ``WireTap`` the bytes of every call."""

    def __init__(self, tap: WireTap, conn: Any):
        self.tap = tap
        self.conn = _TapConn(conn)
        codec = tap.codec[1] if isinstance(tap.codec, tuple) else tap.codec
        self.inner = net.client_codec(codec, self.conn)
        self._header: Any = None
        self._start = 0

    def write_request(self, request: Any, body: Any) -> None:
        start = len(self.conn.sent)  # the client sends one request at a time
        self.tap._begin(request.seq, request.service_method)
        self.inner.write_request(request, body)
        self.tap._sent(request.seq, self.conn.sent, start)

    def read_response_header(self) -> Any:
        self._start = len(self.conn.received)  # one reader at a time, too
        self._header = self.inner.read_response_header()
        return self._header

    def read_response_body(self, reply_type: Any) -> Any:
        try:
            return self.inner.read_response_body(reply_type)
        finally:
            h = self._header
            self.tap._received(h.seq, h.service_method, h.error, self.conn.received, self._start)

    def close(self) -> None:
        self.inner.close()


class TappedServerCodec:
    """A server codec that tells its ``WireTap`` the bytes of every request it serves."""

    def __init__(self, tap: WireTap, conn: Any):
        self.tap = tap
        self.conn = _TapConn(conn)
        codec = tap.codec[0] if isinstance(tap.codec, tuple) else tap.codec
        self.inner = net.server_codec(codec, self.conn)
        self._header: Any = None
        self._start = 0

    def read_request_header(self) -> Any:
        self._start = len(self.conn.received)  # the server reads one request at a time
        self._header = self.inner.read_request_header()
        return self._header

    def read_request_body(self, arg_type: Any) -> Any:
        try:
            return self.inner.read_request_body(arg_type)
        finally:
            h = self._header
            self.tap._begin(h.seq, h.service_method)
            self.tap._sent(h.seq, self.conn.received, self._start)

    def write_response(self, response: Any, body: Any) -> None:
        start = len(self.conn.sent)  # the server writes one response at a time
        self.inner.write_response(response, body)
        self.tap._received(response.seq, response.service_method, response.error, self.conn.sent, start)

    def close(self) -> None:
        self.inner.close()
