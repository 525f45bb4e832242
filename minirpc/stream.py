"""The stream layer: one connection's socket and format, and the rules around them.

Below this layer everything is sans-IO: a format (``minirpc.format``) turns
bytes into messages and back and never touches a socket.  Above it, the
server, the client and the HTTP tunnel never touch bytes: they ask a
``Stream`` for the next message, or give it one to send.  This is the one
place where the two meet::

    stream = Stream(sock, jsonrpc.ClientFormat())
    stream.send(Request("Arith.Multiply", 0), Args(7, 8))   # encode, then write it whole
    message = stream.read_message()                          # read until a message is whole
    stream.format.decode_body(message, int)                  # -> 56

What the stream owns:

* **buffering** -- it reads what the socket has (up to ``RECEIVE_SIZE`` at a
  time) and feeds the format, which keeps what is not yet a whole message;
  the format refuses a message over its ``max_message`` as soon as it can tell;
* **the write lock** -- a message is encoded and written under ``send_lock``,
  so messages from many threads never interleave, and gob's type definitions
  go out in the order they were numbered;
* **blocking or not** -- a blocking stream's ``send`` writes everything (a
  client); a non-blocking one's writes what the socket takes now and keeps the
  rest in ``outbox`` for ``flush()`` (the server, which must never wait on a
  client that does not read);
* **several messages in one write** -- ``send(..., later=True)`` only adds the
  message to ``outbox``, for the next ``flush()`` (a client's requests started
  back to back); ``cork()`` holds every message back until ``uncork()`` (a
  server's replies to a batch).  A message sent now goes after those waiting;
* **deadlines** -- ``read_message(deadline)`` gives up when time runs out
  (``ReadTimeout``), and so do a blocking stream's ``send`` and ``flush``
  given ``deadline=``: they raise ``WriteTimeout``, which says how many bytes
  went out (a peer that does not read fills the socket's buffers, and then a
  write waits);
* **taps** -- callables told of every whole message read or sent, with its
  exact bytes: the wire tap of the lessons is one;
* **close** -- idempotent, and it wakes a thread blocked reading, or writing
  to a peer that does not read.

TLS is a socket like any other here (``ssl.SSLSocket``); its handshake is done
by whoever makes the socket (``net``, the server's accept path).
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, Callable

from . import net
from .format import NEED_DATA, Message

RECEIVE_SIZE = 64 * 1024
#: What a non-blocking socket raises when it has nothing to give or take right now.
WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

Tap = Callable[[str, Any, bytes], None]  # tap("in" or "out", header, the message's bytes)
TLS_RECORD = 16 * 1024  # the most a TLS record holds: what a writable TLS socket is given at a time


class ReadTimeout(TimeoutError):
    """``read_message``'s deadline passed before a whole message came."""


class WriteTimeout(TimeoutError):
    """A blocking write gave up at its deadline; ``written`` of the bytes went out (0: none,
    and the stream is as it was; more: the peer has part of a message, so the stream is spoilt)."""

    def __init__(self, written: int):
        super().__init__(f"write timed out with {written} bytes written")
        self.written = written


class Stream:
    """A socket and a format, used by one reader and many writers at a time."""

    def __init__(self, sock: Any, format: Any, taps: tuple[Tap, ...] = ()):
        self.sock = sock
        self.format = format
        self.taps = list(taps)
        self.blocking = sock.getblocking()
        self.send_lock = threading.Lock()  # one message on the wire at a time; protects outbox and closed
        self.outbox = bytearray()  # encoded bytes the socket has not taken yet (non-blocking streams)
        self.corks = 0  # while above 0, messages wait in outbox (to go out together at uncork)
        self.closed = False

    def fileno(self) -> int:
        return self.sock.fileno()

    # -- reading (one reader at a time)

    def read_message(self, deadline: net.Deadline | None = None) -> Message:
        """The next whole message, reading the socket as often as needed.

        Raises what the format raises (``EOFError``, ``ProtocolError``...),
        ``OSError`` from the socket, ``ReadTimeout`` (a ``TimeoutError``) when the
        deadline passes: what was read so far stays with the format, so the next
        read goes on from there.  (The socket's own timeout is left alone: another
        thread may be writing to it.  On TLS, once bytes have come, the rest of their
        record is waited for.)"""
        while True:
            message = self.format.next_message()  # (next_message, one call fewer per message)
            if message is not NEED_DATA:
                if self.taps:
                    self._tell_taps(message)
                return message
            if deadline is not None and deadline.at is not None and not self.has_buffered():
                try:
                    ready = net.wait_readable(self.sock, deadline.left())
                except TimeoutError:  # (left() says it has passed)
                    ready = False
                if not ready:
                    raise ReadTimeout(f"no whole message within {deadline.timeout:g} s")
            self.receive()

    def receive(self) -> int:
        """Read once and feed the format; return the byte count (0: the peer closed).
        A non-blocking stream raises one of ``WOULD_BLOCK`` when nothing is there."""
        data = self.sock.recv(RECEIVE_SIZE)
        self.format.receive_data(data)
        return len(data)

    def has_buffered(self) -> bool:
        """Bytes TLS has decrypted but nobody has read (the socket will not say it is readable)."""
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def next_message(self) -> Any:
        """The next whole message from the bytes already received, or NEED_DATA."""
        message = self.format.next_message()
        if message is not NEED_DATA and self.taps:
            self._tell_taps(message)
        return message

    def _tell_taps(self, message: Message) -> None:
        for tap in self.taps:
            tap("in", message.header, message.data)

    # -- writing (any thread)

    def send(self, header: Any, body: Any, body_type: Any = None, *, later: bool = False,
             deadline: net.Deadline | None = None) -> int:
        """Encode one message and write it; return the bytes left waiting in ``outbox``.

        ``later=True`` only adds it to ``outbox``, to go with the next ``flush()``.
        If the body cannot be encoded the format raises and nothing is written.
        A blocking stream given a ``deadline`` raises ``WriteTimeout`` when it passes."""
        with self.send_lock:
            data = self.format.encode(header, body, body_type)
            for tap in self.taps:
                tap("out", header, data)
            return self._write(data, later, deadline)

    def send_bytes(self, data: bytes) -> int:
        """Write bytes that are already a whole message (the lossy network forwards such)."""
        with self.send_lock:
            return self._write(data)

    def _write(self, data: bytes, later: bool = False, deadline: net.Deadline | None = None) -> int:
        if self.closed:
            raise OSError("stream is closed")
        if self.corks or later:  # held back, to go out with the others (uncork or flush sends them)
            self.outbox += data
            return 0 if self.corks else len(self.outbox)
        if self.blocking:  # what waits goes first (and if none of it could go, nor does this)
            self._flush(deadline)
            self._send_all(data, deadline)
            return 0
        if self.outbox:  # behind what waits already, which goes when the socket is writable
            self.outbox += data
            return len(self.outbox)
        try:  # usually all of it goes at once
            sent = self.sock.send(data)
        except WOULD_BLOCK:
            sent = 0
        if sent < len(data):
            self.outbox += memoryview(data)[sent:]
        return len(self.outbox)

    def cork(self) -> None:
        """Hold messages back until ``uncork``: several replies then go out in one write."""
        with self.send_lock:
            self.corks += 1

    def uncork(self) -> int:
        """Undo one ``cork``; at the last one, write what waits (see ``flush``)."""
        with self.send_lock:
            self.corks -= 1
        return self.flush()

    def flush(self, deadline: net.Deadline | None = None) -> int:
        """Write what waits in ``outbox``: all of it on a blocking stream (by ``deadline``, if
        given, or ``WriteTimeout``), else what the socket takes now; return what is left."""
        with self.send_lock:
            return self._flush(deadline)

    def _flush(self, deadline: net.Deadline | None = None) -> int:
        if self.corks or not self.outbox:
            return 0
        if self.blocking:  # all of it, or none again: written, or failed with its calls
            data, self.outbox = self.outbox, bytearray()  # (a new one: a failed TLS write may hold on to data)
            try:
                self._send_all(data, deadline)
            except WriteTimeout as e:
                if e.written == 0:
                    self.outbox = data  # none of it went: it waits as it did
                raise
            return 0
        while self.outbox:
            try:
                sent = self.sock.send(self.outbox)
            except WOULD_BLOCK:
                break
            del self.outbox[:sent]
        return len(self.outbox)

    def _send_all(self, data: Any, deadline: net.Deadline | None) -> None:
        """``sendall`` on a blocking socket; with a deadline, never waiting past it.  The
        socket stays blocking (another thread may be reading it): each piece is sent with
        ``MSG_DONTWAIT`` -- or, on TLS, which takes no flags, a record at a time once the
        socket says it is writable."""
        if deadline is None or deadline.at is None:  # (a Deadline(None) is no deadline)
            self.sock.sendall(data)
            return
        view, written = memoryview(data).cast("B"), 0
        dontwait = getattr(socket, "MSG_DONTWAIT", 0) if not isinstance(self.sock, ssl.SSLSocket) else 0
        while written < len(view):
            if dontwait:
                try:
                    written += self.sock.send(view[written:], dontwait)
                    continue
                except WOULD_BLOCK:
                    pass
            try:
                writable = net.wait_writable(self.sock, deadline.left())
            except TimeoutError:  # (left() says the deadline has passed)
                writable = False
            if not writable:
                raise WriteTimeout(written)
            if not dontwait:
                written += self.sock.send(view[written:written + TLS_RECORD])

    # -- closing

    def close(self) -> None:
        """Close the socket, waking a reader blocked on it and a writer blocked on a peer
        that does not read (which holds ``send_lock`` meanwhile); safe to call twice."""
        net.shutdown(self.sock)
        with self.send_lock:
            self.closed = True
            self.outbox = bytearray()
        net.close(self.sock)
