"""The server side: read requests, run methods concurrently, write replies.

One connection is served like this (Go's ``ServeCodec``)::

    loop: read header -> find method -> read body -> run the method -> write reply
                                                     \\___ concurrently ___/

A slow call holds up a fast one on the same connection for at most a few
milliseconds (requests read together run as a batch, a request read alone
keeps its connection to itself, and a timer hands the rest to idle workers
after ``connection.RESCUE_AFTER``; with every worker busy, until one is free),
and replies go out in the order calls *finish*.  When the client hangs up,
calls still running finish and their replies are still sent (a half-closed
client gets its answer); bytes that break the format end the connection, as
in Go.

Threads.  A fixed pool of ``workers`` threads does all the work, however many
connections there are (``minirpc.workers`` explains the leader/followers
design): an idle connection costs no thread, and the worker that reads a
request runs it and writes its reply itself, so a lone synchronous call never
waits for a thread hand-off -- and it then reads the connection again, so that
a client calling in a loop is served by one worker, not woken for in turn.  At
most ``workers`` calls run at once; more wait their turn.  (One exception: a
codec of your own -- ``codec=`` a factory, not a format -- reads its socket
itself, blocking, so each of its connections takes a thread of its own, as in
Go; they count against ``max_connections``, which bounds them, and ``close()``
closes them.)

Push-back, beyond Go.  Go reads requests as fast as they come and starts a
goroutine for each, so a client that sends and never reads makes the server
queue replies without end.  Here a connection stops being read while it has
``max_in_flight`` requests unanswered, or ``max_reply_backlog`` bytes of
replies the client has not taken: TCP then slows the client down, and other
clients do not notice.  Calls read already do not start while that backlog is
full either: they wait (a request is small, a reply may be megabytes) and run
once the client reads.  So a client that never reads costs the backlog and the
replies of the calls running when it filled (at most ``workers``), not
``max_in_flight`` replies, nor CPU for replies nobody takes.

Also beyond Go: a method that raises never kills the server (its text goes
back as the error), a reply that cannot be encoded is answered with an error,
connections past ``max_connections`` are refused with a clear error, idle
ones may be closed after ``idle_timeout`` seconds, and ``close(timeout=)``
stops everything and says which calls it abandoned.
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import threading
import time
from typing import Any

from . import net
from .codec import CodecChoice, StreamServerCodec, wire_format
from .connection import REFUSED_LINGER, Connection, drain, prepare, report, too_many_connections, write_reply
from .connection import serve_codec as serve_codec_loop
from .format import DEFAULT_MAX_MESSAGE, Request, Response
from .registry import Method, Registry, Service
from .stream import Stream
from .workers import READ, WorkerPool

log = logging.getLogger("minirpc")

DEFAULT_WORKERS = 32  # calls that may run at once: plenty for I/O-bound methods on a small machine
DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_MAX_IN_FLIGHT = 128  # unanswered requests per connection before it stops being read
DEFAULT_MAX_REPLY_BACKLOG = 1024 * 1024  # reply bytes a client has not taken before ... the same
DEFAULT_HANDSHAKE_TIMEOUT = 5.0  # seconds a TLS client gets to finish its handshake
ACCEPT_BATCH = 64  # connections accepted per turn, so one listener cannot starve the rest

class Server:
    """Go's ``rpc.Server``: a registry of services plus the machinery that serves them."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, *, workers: int = DEFAULT_WORKERS,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
                 max_reply_backlog: int = DEFAULT_MAX_REPLY_BACKLOG, idle_timeout: float | None = None,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT, close_timeout: float | None = None,
                 name: str = "minirpc-server"):
        self.registry = Registry()
        self.max_message, self.max_connections = max_message, max_connections
        self.max_in_flight, self.max_reply_backlog = max_in_flight, max_reply_backlog
        self.idle_timeout, self.handshake_timeout = idle_timeout, handshake_timeout
        self.close_timeout = close_timeout  # how long leaving a ``with`` block waits for running calls
        self.pool = WorkerPool(workers, f"{name}-worker")
        self.pool.every_second(self._sweep)
        self._lock = threading.Lock()  # protects the four below
        self._connections: set[Connection] = set()
        self._own_codecs: dict[int, tuple[Any, Any]] = {}  # id -> (origin, close) of a codec of your own served
        self._servings: list[Serving] = []
        self._fronts: list[Any] = []  # HTTP servers tunnelling into this one (minirpc.http)
        self._closed = False
        self.abandoned: list[str] = []  # the calls the last close() gave up waiting for

    # -- registration -----------------------------------------------------

    def register(self, receiver: Any) -> Service:
        """Publish the receiver's suitable methods as ``ClassName.Method``."""
        return self.registry.register(receiver)

    def register_name(self, name: str, receiver: Any) -> Service:
        """Publish the receiver's suitable methods as ``name.Method``."""
        return self.registry.register(receiver, name)

    def services(self) -> list[Service]:
        return self.registry.services()

    # -- serving one connection (Go's blocking functions) ---------------------

    def serve_conn(self, conn: Any, codec: CodecChoice = None) -> None:
        """Serve one connected socket until the client hangs up (Go's ``ServeConn``)."""
        fmt = wire_format(codec)
        if fmt is None:
            return self.serve_codec(codec(conn))
        self.adopt(conn, fmt).finished.wait()

    def serve_codec(self, codec: Any) -> None:
        """Serve one codec until it ends; blocks, like Go's ``ServeCodec``.

        A codec of minirpc's own is served by the workers; one of your own is
        read on this thread (its calls still run on the workers)."""
        if isinstance(codec, StreamServerCodec):
            stream = codec.stream
            return self.adopt(stream.sock, None, stream=stream).finished.wait()
        if self._take_own(codec, codec.close):
            self._run_own(codec, codec)

    # -- codecs of your own: a thread each, counted among the connections

    def _take_own(self, key: Any, close: Any, origin: Any = None) -> bool:
        """Count a codec of your own (or the socket it is to have) among the connections, for
        ``max_connections`` and ``close()``; a closed server hangs up on it at once (False)."""
        with self._lock:
            if not self._closed:
                self._own_codecs[id(key)] = (origin, close)
                return True
        close()
        return False

    def _forget_own(self, key: Any) -> None:
        with self._lock:
            self._own_codecs.pop(id(key), None)

    def _close_own(self, origin: Any = None) -> None:
        """Close the codecs of your own that came from ``origin`` (None: all).  Each one's
        thread, blocked reading, wakes and ends once the calls it started are answered."""
        with self._lock:
            closers = [close for o, close in self._own_codecs.values() if origin is None or o is origin]
        for close in closers:
            try:
                close()
            except Exception as e:
                log.debug("minirpc: closing a codec of your own failed: %s", e)

    def _start_own(self, sock: Any, factory: Any, origin: Any) -> None:
        """Serve an accepted socket with a codec of your own, on a thread of its own."""
        if self._take_own(sock, lambda: net.close(sock), origin):
            threading.Thread(target=self._serve_own, args=(sock, factory), daemon=True,
                             name="minirpc-server-codec").start()

    def _serve_own(self, sock: Any, factory: Any) -> None:
        try:
            sock.setblocking(True)
            if isinstance(sock, ssl.SSLSocket):  # here, not on the accepting thread: a slow client stalls only this one
                sock.settimeout(self.handshake_timeout)
                sock.do_handshake()
                sock.settimeout(None)
            codec = factory(sock)
        except Exception as e:  # a failed handshake, a factory that raised: this client is hung up on
            log.warning("minirpc: cannot serve a connection with a codec of your own: %r", e)
            net.close(sock)
            self._forget_own(sock)
            return
        self._run_own(sock, codec)

    def _run_own(self, key: Any, codec: Any) -> None:
        """Go's ServeCodec loop on this thread; then the codec no longer counts (``key``: what
        ``_take_own`` counted it by)."""
        try:
            serve_codec_loop(self, codec)
        finally:
            self._forget_own(key)

    def serve_request(self, codec: Any) -> None:
        """Read, run and answer exactly one request on this thread (Go's ``ServeRequest``).
        Does not close the codec.  Raises ``EOFError`` at the end of the stream,
        ``ProtocolError`` on bytes it cannot read."""
        header = codec.read_request_header()
        job = prepare(self, header, codec.read_request_body, lambda *reply: write_reply(codec, *reply))
        if job is not None:
            self.run(*job, lambda *reply: write_reply(codec, *reply))

    def adopt(self, sock: Any, fmt: Any, *, origin: Any = None, stream: Stream | None = None,
              received: bytes = b"", greeting: bytes = b"", tls: bool = False) -> Connection:
        """Serve an accepted socket in the background.  The HTTP tunnel hands its sockets over
        here, with the bytes it ``received`` past its handshake and the ``greeting`` to send
        first (its "200 Connected"): sent only once the connection counts, so that a client
        that got it is one the connection cap has seen."""
        sock.setblocking(False)
        stream = stream or Stream(sock, fmt.server(self.max_message))
        stream.blocking = False
        if received:
            stream.format.receive_data(received)
        connection = Connection(self, stream, origin, tls)
        with self._lock:
            if self._closed or (origin is not None and origin.closed):
                refused = True
            else:
                refused = False
                self._connections.add(connection)
        if refused:  # accepted while closing: hang up at once
            connection.close()
        else:
            if greeting:
                try:
                    stream.send_bytes(greeting)  # what the socket does not take waits in the outbox
                except OSError:
                    connection.close()
                    return connection
            connection.start(pending=bool(received))
        return connection

    # -- running calls ----------------------------------------------------------

    def lookup(self, header: Request) -> Method:
        return self.registry.lookup(header.service_method)

    def run(self, header: Request, method: Method, args: Any, reply) -> None:
        """Run one call and hand its reply to ``reply(response, body, body_type)``."""
        try:
            body, error = method.call(args), ""
        except Exception as e:  # never let a method kill the server
            body, error = None, str(e) or type(e).__name__
        reply(Response(header.service_method, header.seq, error), body, method.reply_type)

    # -- listening ---------------------------------------------------------------

    def start(self, address: str = "127.0.0.1:0", network: str = "tcp", codec: CodecChoice = None,
              ssl_context: Any = None) -> Serving:
        """Listen and serve in the background; ``close()`` the result to stop."""
        serving = Serving(self, net.listen(network, address), codec, ssl_context)
        with self._lock:
            closed = self._closed
            if not closed:
                self._servings.append(serving)
        if closed:
            serving.close()
            raise RuntimeError("the server is closed")
        serving.listen()
        return serving

    def accept(self, listener: Any, codec: CodecChoice = None, ssl_context: Any = None) -> None:
        """Serve every connection the listener accepts, until it is closed (Go's ``Accept``).

        It accepts on this thread, and takes each connection as ``start`` does (the connection
        cap, TLS, codecs of your own); the connections outlive it, as in Go, until ``close()``."""
        try:
            serving = Serving(self, listener, codec, ssl_context)
            listener.settimeout(0.5)  # so a listener closed by another thread is noticed
        except OSError:
            return  # closed already
        with self._lock:
            self._servings.append(serving)  # (its sweep closes the refused sockets)
        try:
            while listener.fileno() >= 0 and not serving.closed:
                try:
                    sock, _ = listener.accept()
                except (socket.timeout, BlockingIOError):
                    continue
                except OSError:  # the listener was closed: stop, as Go's Accept does
                    return
                serving._take(sock)
        finally:
            with self._lock:
                if serving in self._servings:
                    self._servings.remove(serving)
            serving.hang_up_on_refused()

    def at_capacity(self) -> bool:
        """Is the server serving ``max_connections`` already (a new one would be refused)?"""
        return len(self._connections) + len(self._own_codecs) >= self.max_connections

    def connections(self, origin: Any = None) -> list[Connection]:
        with self._lock:
            return [c for c in self._connections if origin is None or c.origin is origin]

    def _attach(self, front: Any) -> None:
        """An HTTP server hands its tunnels to this one: close its routes to us when we close."""
        with self._lock:
            self._fronts.append(front)

    def close_connections(self, origin: Any = None, timeout: float | None = None) -> list[str]:
        """Close the connections that came from ``origin`` (a Serving, an HTTP server; None:
        all), and wait for their running methods at most ``timeout`` s; returns the calls abandoned."""
        return report(drain(self.connections(origin), None if timeout is None else time.monotonic() + timeout))

    def _forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _sweep(self) -> None:
        """About once a second: close handshakes that took too long and idle connections."""
        now = time.monotonic()
        for connection in self.connections():
            connection.sweep(now)
        with self._lock:
            servings = list(self._servings)
        for serving in servings:
            serving.sweep()

    def close(self, timeout: float | None = None) -> None:
        """Stop listening, close every connection (calls still waiting on the other side fail
        at once), wait for the methods still running -- at most ``timeout`` seconds -- and stop
        the workers.  The calls abandoned because the time ran out ("Arith.Sleep (seq 3)") are
        logged, and listed in ``self.abandoned``."""
        with self._lock:
            self._closed = True  # from now on, adopt hangs up at once
            servings, self._servings = self._servings, []
            fronts, self._fronts = self._fronts, []
        for front in fronts:
            front.unmount(self)
        self._close_own()
        deadline = None if timeout is None else time.monotonic() + timeout
        abandoned = []
        for serving in servings:
            abandoned += serving._shut(None if deadline is None else max(0.0, deadline - time.monotonic()))
        abandoned += drain(self.connections(), deadline)
        self.pool.stop(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.abandoned = report(abandoned)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(self.close_timeout)


class Serving:
    """A listener served by the workers in the background (see ``Server.start``)."""

    def __init__(self, server: Server, listener: Any, codec: CodecChoice, ssl_context: Any):
        self.server, self.listener, self.ssl_context = server, listener, ssl_context
        self.codec, self.format = codec, wire_format(codec)
        self.closed = False
        self.abandoned: list[str] = []  # the calls close() gave up waiting for
        self.network = "unix" if isinstance(listener.getsockname(), str) else "tcp"
        self.address = net.format_address(listener.getsockname())
        self._lock = threading.Lock()  # protects _lingering
        self._lingering: list[tuple[float, Any]] = []  # refused sockets, closed a moment later
        self._paused = False  # accept failed (out of file descriptors): try again on the next sweep
        listener.setblocking(False)

    def listen(self) -> None:
        self.server.pool.add(self.listener.fileno(), self._on_ready, READ)

    def _on_ready(self, events: int) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                break
            except OSError as e:
                if self.closed:
                    return
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("minirpc: cannot accept: %s; trying again in a second", e)
                    self._paused = True
                    return
                continue  # e.g. the client reset the connection before we took it
            self._take(sock)
        if not self.closed:
            self.server.pool.arm(self.listener.fileno(), READ)

    def _take(self, sock: Any) -> None:
        net.tune(sock)
        if self.server.at_capacity():
            return self._refuse(sock)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        if self.format is None:  # a codec of your own reads its socket itself: it needs a thread
            return self.server._start_own(sock, self.codec, origin=self)
        self.server.adopt(sock, self.format, origin=self, tls=self.ssl_context is not None)

    def _refuse(self, sock: Any) -> None:
        """Past max_connections: answer the client's first call with an error, then hang up."""
        text = too_many_connections(self.server.max_connections)
        try:
            if self.ssl_context is None and self.format is not None:
                sock.setblocking(False)
                sock.send(self.format.server(self.server.max_message).encode(Response("", 0, text), None))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:  # closed a little later, so the client can read it (closing now may reset it)
            self._lingering.append((time.monotonic() + REFUSED_LINGER, sock))

    def hang_up_on_refused(self) -> None:
        """Close the refused sockets now, without waiting for their moment."""
        with self._lock:
            lingering, self._lingering = self._lingering, []
        for _, sock in lingering:
            sock.close()

    def sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [s for t, s in self._lingering if t <= now]
            self._lingering = [(t, s) for t, s in self._lingering if t > now]
        for sock in due:
            sock.close()
        if self._paused and not self.closed:
            self._paused = False
            self.server.pool.arm(self.listener.fileno(), READ)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting, close this listener's connections, and wait for their running
        methods at most ``timeout`` s; the calls abandoned are logged and in ``self.abandoned``."""
        self.abandoned = report(self._shut(timeout))

    def _shut(self, timeout: float | None) -> list[str]:
        with self.server._lock:
            if self.closed:
                return []
            self.closed = True  # a connection accepted from now on is hung up at once
        self.server.pool.remove(self.listener.fileno())
        net.close(self.listener)
        self.hang_up_on_refused()
        self.server._close_own(origin=self)
        deadline = None if timeout is None else time.monotonic() + timeout
        return drain(self.server.connections(origin=self), deadline)

    def __enter__(self) -> Serving:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(self.server.close_timeout)

    def __repr__(self) -> str:
        return f"<Serving {self.network} {self.address}>"


DEFAULT_SERVER = Server(name="minirpc-default-server")
register = DEFAULT_SERVER.register
register_name = DEFAULT_SERVER.register_name
serve_conn = DEFAULT_SERVER.serve_conn
serve_codec = DEFAULT_SERVER.serve_codec
serve_request = DEFAULT_SERVER.serve_request
accept = DEFAULT_SERVER.accept
