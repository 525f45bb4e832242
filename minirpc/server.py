"""The server side: read requests, run methods concurrently, write replies.

One connection is served like this (Go's ``ServeCodec``)::

    loop: read header -> find method -> read body -> run the method -> write reply
                                                     \\___ concurrently ___/

A slow call never holds up a fast one on the same connection, and replies go
out in the order calls *finish*.  When the client hangs up, calls still
running finish and their replies are still sent (a half-closed client gets
its answer); bytes that break the format end the connection, as in Go.

Threads.  A fixed pool of ``workers`` threads does all the work, however many
connections there are (``minirpc.workers`` explains the leader/followers
design): an idle connection costs no thread, and the worker that reads a
request runs it and writes its reply itself, so a lone synchronous call never
waits for a thread hand-off.  At most ``workers`` calls run at once; more
wait their turn.

Push-back, beyond Go.  Go reads requests as fast as they come and starts a
goroutine for each, so a client that sends and never reads makes the server
queue replies without end.  Here a connection stops being read while it has
``max_in_flight`` requests unanswered, or ``max_reply_backlog`` bytes of
replies the client has not taken: TCP then slows the client down, and other
clients do not notice.  Memory per connection stays within a small multiple
of the message limit.

Also beyond Go: a method that raises never kills the server (its text goes
back as the error), a reply that cannot be encoded is answered with an error,
connections past ``max_connections`` are refused with a clear error, idle
ones may be closed after ``idle_timeout`` seconds, and ``close(timeout=)``
stops everything and says which calls it abandoned.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
import threading
import time
from typing import Any

from . import net
from .codec import CodecChoice, StreamServerCodec, wire_format
from .errors import BodyError
from .format import DEFAULT_MAX_MESSAGE, NEED_DATA, Request, Response
from .registry import Method, Registry, Service
from .stream import WOULD_BLOCK, Stream
from .workers import READ, WRITE, WorkerPool

log = logging.getLogger("minirpc")

DEFAULT_WORKERS = 32  # calls that may run at once: plenty for I/O-bound methods on a small machine
DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_MAX_IN_FLIGHT = 128  # unanswered requests per connection before it stops being read
DEFAULT_MAX_REPLY_BACKLOG = 1024 * 1024  # reply bytes a client has not taken before ... the same
DEFAULT_HANDSHAKE_TIMEOUT = 5.0  # seconds a TLS client gets to finish its handshake
ACCEPT_BATCH = 64  # connections accepted per turn, so one listener cannot starve the rest

# The read side of a connection: who may read it now.
HANDSHAKE, ARMED, READING, PAUSED, DONE = "handshake", "armed", "reading", "paused", "done"


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
        self._lock = threading.Lock()  # protects the three below
        self._connections: set[_Connection] = set()
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
        _serve_codec(self, codec)

    def serve_request(self, codec: Any) -> None:
        """Read, run and answer exactly one request on this thread (Go's ``ServeRequest``).
        Does not close the codec.  Raises ``EOFError`` at the end of the stream,
        ``ProtocolError`` on bytes it cannot read."""
        header = codec.read_request_header()
        job = _prepare(self, header, codec.read_request_body, lambda *reply: _write(codec, *reply))
        if job is not None:
            self.run(*job, lambda *reply: _write(codec, *reply))

    def adopt(self, sock: Any, fmt: Any, *, origin: Any = None, stream: Stream | None = None,
              received: bytes = b"", tls: bool = False) -> _Connection:
        """Serve an accepted socket in the background (the HTTP tunnel hands its sockets over
        here, with the bytes it ``received`` past its handshake)."""
        sock.setblocking(False)
        stream = stream or Stream(sock, fmt.server(self.max_message))
        stream.blocking = False
        if received:
            stream.format.receive_data(received)
        connection = _Connection(self, stream, origin, tls)
        with self._lock:
            if self._closed or (origin is not None and origin.closed):
                refused = True
            else:
                refused = False
                self._connections.add(connection)
        if refused:  # accepted while closing: hang up at once
            connection.close()
        else:
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
        """Serve every connection the listener accepts, until it is closed (Go's ``Accept``)."""
        fmt = wire_format(codec)
        try:
            listener.settimeout(0.5)  # so a listener closed by another thread is noticed
        except OSError:
            return  # closed already
        while listener.fileno() >= 0:
            try:
                sock, _ = listener.accept()
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:  # the listener was closed: stop, as Go's Accept does
                return
            net.tune(sock)
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            if fmt is None:
                threading.Thread(target=_serve_codec, args=(self, codec(sock)), daemon=True,
                                 name="minirpc-server-codec").start()
            else:
                self.adopt(sock, fmt, tls=ssl_context is not None)

    def at_capacity(self) -> bool:
        """Is the server serving ``max_connections`` already (a new one would be refused)?"""
        return len(self._connections) >= self.max_connections

    def connections(self, origin: Any = None) -> list[_Connection]:
        with self._lock:
            return [c for c in self._connections if origin is None or c.origin is origin]

    def _attach(self, front: Any) -> None:
        """An HTTP server hands its tunnels to this one: close its routes to us when we close."""
        with self._lock:
            self._fronts.append(front)

    def close_connections(self, origin: Any = None, timeout: float | None = None) -> list[str]:
        """Close the connections that came from ``origin`` (a Serving, an HTTP server; None:
        all), and wait for their running methods at most ``timeout`` s; returns the calls abandoned."""
        return _report(_drain(self.connections(origin), None if timeout is None else time.monotonic() + timeout))

    def _forget(self, connection: _Connection) -> None:
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
        deadline = None if timeout is None else time.monotonic() + timeout
        abandoned = []
        for serving in servings:
            abandoned += serving._shut(None if deadline is None else max(0.0, deadline - time.monotonic()))
        abandoned += _drain(self.connections(), deadline)
        self.pool.stop(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.abandoned = _report(abandoned)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(self.close_timeout)


def _report(abandoned: list[str]) -> list[str]:
    if abandoned:
        log.warning("minirpc: closed with calls still running: %s", ", ".join(abandoned))
    return abandoned


def _drain(connections: list[_Connection], deadline: float | None) -> list[str]:
    """Close the connections now (their clients' calls fail at once), then wait until the
    deadline for the methods still running; return those that did not finish."""
    for connection in connections:
        connection.close()
    abandoned = []
    for connection in connections:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not connection.finished.wait(left):
            abandoned += connection.running_calls()
    return abandoned


def _reply_safely(stream_send, response: Response, body: Any, body_type: Any) -> int:
    """Send a reply; a body that cannot be encoded becomes an error reply (nothing was written yet)."""
    try:
        return stream_send(response, body, body_type)
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        response.error = f"rpc: cannot encode reply: {e}"
        return stream_send(response, None, None)


class _Connection:
    """One connection served by the workers: its stream and where it stands."""

    def __init__(self, server: Server, stream: Stream, origin: Any, tls: bool):
        self.server, self.stream, self.origin = server, stream, origin
        self.fd = stream.fileno()
        self.write_fd = os.dup(self.fd)  # writability is watched through its own fd: see _arm_write
        self.finished = threading.Event()  # set once the connection is closed and its calls are done
        self.lock = threading.Lock()  # protects everything below
        self.state = HANDSHAKE if tls else ARMED
        self.deadline = time.monotonic() + server.handshake_timeout if tls else None
        self.in_flight = 0  # requests read and not yet answered
        self.running: dict[int, str] = {}  # seq -> "Service.Method" of the requests in flight
        self.write_armed = False
        self.closed = False
        self.active = time.monotonic()  # when a request or reply last went by, for idle_timeout

    def __repr__(self) -> str:
        return f"<minirpc connection fd={self.fd} {self.state} in_flight={self.in_flight}>"

    # -- the read side: ARMED -> READING -> ARMED (or PAUSED, or DONE)

    def start(self, pending: bool) -> None:
        pool = self.server.pool
        pool.add(self.write_fd, self._on_writable, 0)
        pool.add(self.fd, self._on_readable, 0)
        if pending:  # bytes arrived with the socket: read them before waiting for more
            self.state = READING
            pool.submit(self._read, False)
        else:
            pool.arm(self.fd, READ)

    def _on_readable(self, events: int) -> None:
        with self.lock:
            if self.state == HANDSHAKE:
                return self._handshake()
            if self.state != ARMED:
                return  # a stale event (the socket was re-armed meanwhile)
            self.state = READING
        self._read(True)

    def _read(self, from_socket: bool) -> None:
        """Read what has arrived, take every whole request (up to the in-flight limit), and run them."""
        eof = False  # (a peer that closed is seen by the format: whole requests before it still count)
        if from_socket:
            try:
                if self.stream.receive():
                    while self.stream.has_buffered():  # TLS holds decrypted bytes back
                        self.stream.receive()
            except WOULD_BLOCK:
                pass
            except OSError:  # reset by the peer
                eof = True
        jobs, decode = [], self.stream.format.decode_body
        while True:
            full = False  # stopped at the in-flight limit (whole requests may still be buffered)
            while not eof:
                if self.in_flight >= self.server.max_in_flight:  # (read without the lock: a soft limit)
                    full = True
                    break
                try:
                    message = self.stream.next_message()
                except Exception as e:  # EOF, or bytes we cannot follow: stop reading, as Go does
                    if not isinstance(e, EOFError):
                        log.debug("minirpc: closing a connection: %s", e)
                    eof = True
                    break
                if message is NEED_DATA:
                    break
                header = message.header
                with self.lock:
                    self.in_flight += 1
                    self.running[header.seq] = header.service_method
                job = _prepare(self.server, header, lambda t, m=message: decode(m, t), self.reply)
                if job is not None:
                    jobs.append(job)
            if not self._after_reading(eof, full):
                break
        run, reply = self.server.run, self.reply
        for job in jobs[1:]:  # the others go to idle workers; this worker runs the first itself
            self.server.pool.submit(run, *job, reply)
        if jobs:
            run(*jobs[0], reply)

    def _after_reading(self, eof: bool, full: bool) -> bool:
        """Arm the socket again, pause (push-back) or finish; True: go on reading what is buffered."""
        with self.lock:
            self.active = time.monotonic()
            if eof or self.state == DONE:
                self.state = DONE
                self._finish_if_done()
            elif not self._may_read():
                self.state = PAUSED  # push-back: whoever sends the next reply resumes reading
            elif full:
                return True  # replies went out meanwhile: there is room again
            else:
                self.state = ARMED
                self.server.pool.arm(self.fd, READ)
            return False

    def _may_read(self) -> bool:
        return self.in_flight < self.server.max_in_flight and len(self.stream.outbox) < self.server.max_reply_backlog

    def _resume_if_paused(self) -> None:  # (called holding the lock)
        if self.state == PAUSED and self._may_read():
            self.state = READING
            self.server.pool.submit(self._read, False)  # whole requests may already be buffered

    def stop_reading(self) -> None:
        """Read no more requests; the connection closes when its running calls are answered."""
        with self.lock:
            if self.closed:
                return
            if self.state in (ARMED, PAUSED, HANDSHAKE):
                self.server.pool.arm(self.fd, 0)
                self.state = DONE
                self._finish_if_done()
            elif self.state == READING:
                self.state = DONE  # the reader sees it when it is done

    def _handshake(self) -> None:  # (called holding the lock)
        try:
            self.stream.sock.do_handshake()
        except ssl.SSLWantReadError:
            return self.server.pool.arm(self.fd, READ)
        except ssl.SSLWantWriteError:
            self.write_armed = True
            return self.server.pool.arm(self.write_fd, WRITE)
        except (ssl.SSLError, OSError) as e:
            log.debug("minirpc: TLS handshake failed: %s", e)
            self.state = DONE
            return self._finish_if_done()
        self.state, self.deadline = READING, None
        self.server.pool.submit(self._read, True)

    # -- replies

    def reply(self, response: Response, body: Any, body_type: Any) -> None:
        """Send one reply (any thread); the request it answers is no longer in flight."""
        try:
            left = _reply_safely(self.stream.send, response, body, body_type)
        except OSError:  # the client is gone (or we closed): nothing more to send or read
            left = -1
        with self.lock:
            if left < 0:
                self._break()
            self.in_flight -= 1
            self.running.pop(response.seq, None)
            self.active = time.monotonic()
            if left:
                self._arm_write()
            self._resume_if_paused()
            self._finish_if_done()
            if self.closed and self.in_flight == 0:
                self.finished.set()

    def _arm_write(self) -> None:  # (called holding the lock)
        # The write side has an fd of its own (a dup of the socket's) so that arming it
        # never re-arms the read side: only the reader may arm that, or two could read.
        if not self.write_armed and not self.closed:
            self.write_armed = True
            self.server.pool.arm(self.write_fd, WRITE)

    def _on_writable(self, events: int) -> None:
        with self.lock:
            self.write_armed = False
            if self.state == HANDSHAKE:
                return self._handshake()
        try:
            left = self.stream.flush()
        except OSError:
            left = -1
        with self.lock:
            if left < 0:
                return self._break()
            if left:
                self._arm_write()
            self._resume_if_paused()
            self._finish_if_done()

    # -- the end

    def _break(self) -> None:  # (called holding the lock)
        self.state = DONE
        if not self.closed:
            self._close_locked()

    def _finish_if_done(self) -> None:  # (called holding the lock)
        if self.state == DONE and self.in_flight == 0 and not self.stream.outbox and not self.closed:
            self._close_locked()

    def close(self) -> None:
        """Close now, whatever is running (its replies will find the socket closed)."""
        with self.lock:
            self.state = DONE
            if not self.closed:
                self._close_locked()

    def _close_locked(self) -> None:
        self.closed = True
        self.server.pool.remove(self.fd)
        self.server.pool.remove(self.write_fd)
        os.close(self.write_fd)
        self.stream.close()
        self.server._forget(self)
        if self.in_flight == 0:  # else the last reply sets it
            self.finished.set()

    def running_calls(self) -> list[str]:
        with self.lock:
            return [f"{name} (seq {seq})" for seq, name in sorted(self.running.items())]

    def sweep(self, now: float) -> None:
        with self.lock:
            if self.state == HANDSHAKE and self.deadline is not None and now > self.deadline:
                log.debug("minirpc: TLS handshake took too long")
            elif not (self.server.idle_timeout is not None and self.state == ARMED and not self.in_flight
                      and not self.stream.outbox and now - self.active > self.server.idle_timeout):
                return
            self.state = DONE
            self._close_locked()


def _prepare(server: Server, header: Request, read_body, reply):
    """Find the method a request names and decode its body with ``read_body(type)``: (header,
    method, args) to run, or None when the request was answered with an error already."""
    try:
        method = server.lookup(header)
    except LookupError as e:
        try:
            read_body(None)  # read and drop it, as Go does: the stream stays in step
        except BodyError:
            pass
        reply(Response(header.service_method, header.seq, str(e)), None, None)
        return None
    try:
        args = read_body(method.arg_type)
    except BodyError as e:  # the body was read whole, so carry on
        reply(Response(header.service_method, header.seq, str(e)), None, None)
        return None
    return header, method, args


def _write(codec: Any, response: Response, body: Any, body_type: Any) -> None:
    """Write a reply through a four-method codec (a codec of your own never sees body_type)."""
    def send(response, body, body_type):
        codec.write_response(response, body)
        return 0
    try:
        _reply_safely(send, response, body, body_type)
    except OSError:
        pass  # the client is gone; the reader will notice and end


def _serve_codec(server: Server, codec: Any) -> None:
    """Go's ServeCodec loop, for a codec of your own: this thread reads, the workers run the calls."""
    sending = threading.Lock()  # one reply at a time through the codec
    done = threading.Condition()  # protects in_flight
    in_flight = [0]

    def reply(response, body, body_type):
        with sending:
            _write(codec, response, body, body_type)
        with done:
            in_flight[0] -= 1
            done.notify_all()

    def run(header, method, args):
        server.run(header, method, args, reply)

    while True:
        with done:  # push-back, as for minirpc's own connections
            while in_flight[0] >= server.max_in_flight:
                done.wait()
        try:
            header = codec.read_request_header()
        except Exception:  # EOF, a socket error, bytes we cannot read: end this connection
            break
        with done:
            in_flight[0] += 1
        try:
            job = _prepare(server, header, codec.read_request_body, reply)
        except Exception:
            break
        if job is not None:
            server.pool.submit(run, *job)
    with done:
        while in_flight[0] > 0:
            done.wait()
    codec.close()


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
        if self.format is None:  # a codec of your own reads its socket itself: it needs a thread
            sock.setblocking(True)
            threading.Thread(target=_serve_codec, args=(self.server, self.codec(sock)), daemon=True,
                             name="minirpc-server-codec").start()
            return
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.server.adopt(sock, self.format, origin=self, tls=self.ssl_context is not None)

    def _refuse(self, sock: Any) -> None:
        """Past max_connections: answer the client's first call with an error, then hang up."""
        text = f"rpc: too many connections (this server takes {self.server.max_connections}); try again later"
        try:
            if self.ssl_context is None and self.format is not None:
                sock.setblocking(False)
                sock.send(self.format.server(self.server.max_message).encode(Response("", 0, text), None))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self._lock:  # closed a little later, so the client can read it (closing now may reset it)
            self._lingering.append((time.monotonic() + 2.0, sock))

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
        self.abandoned = _report(self._shut(timeout))

    def _shut(self, timeout: float | None) -> list[str]:
        with self.server._lock:
            if self.closed:
                return []
            self.closed = True  # a connection accepted from now on is hung up at once
        self.server.pool.remove(self.listener.fileno())
        net.close(self.listener)
        with self._lock:
            lingering, self._lingering = self._lingering, []
        for _, sock in lingering:
            sock.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        return _drain(self.server.connections(origin=self), deadline)

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
