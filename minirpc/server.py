"""The server side: read requests, run methods concurrently, write replies.

One connection is served like this (Go's ``ServeCodec``)::

    loop: read header -> find method -> read body -> run the method -> write reply
                                                     \\___ concurrently ___/

Every request runs on its own thread, so a slow call never holds up a fast
one on the same connection, and replies go out in the order calls *finish*.
Each reply (header + body) is written whole under the connection's
``sending`` lock.  When the client hangs up, calls still running finish and
their replies are still sent (a half-closed client gets its answer).

Threads come from a small pool (``_Workers`` below) and take turns,
*leader/follower* style: the thread that has just read a request hands
the job of reading the next one to a pool thread, and runs the call itself.
So a reply never waits for a thread hand-off, which matters at the scale of
tens of microseconds (see ``benchmarks/``).

Beyond Go: a method that raises never kills the server -- its text goes back
as the error -- and ``Server.close()`` stops everything the server started.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Callable

from . import net
from .codec import DEFAULT_MAX_MESSAGE, BodyError, Request, Response
from .registry import Method, Registry, Service

_SKIP = object()  # a request that was answered with an error while reading it


class _Workers:
    """Daemon threads started on demand, reused while busy, retired when idle.

    Go starts a goroutine per request; we reuse threads because starting one
    costs ~50 µs.  Why not ``concurrent.futures.ThreadPoolExecutor``?  Its
    threads hold up interpreter exit until they finish, and a thread reading
    an idle connection may never finish; and every job would pay for a Future
    nobody reads.
    """

    def __init__(self, name: str, idle_seconds: float = 30.0):
        self.name, self.idle_seconds = name, idle_seconds
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()  # protects idle and threads
        self.idle = 0  # threads waiting for a job that no queued job has claimed yet
        self.threads: set[threading.Thread] = set()
        self.started = 0

    def submit(self, fn: Callable, *args: Any) -> None:
        with self.lock:
            thread = None
            if self.idle:
                self.idle -= 1  # that thread will take this job
            else:
                self.started += 1
                thread = threading.Thread(target=self._work, name=f"{self.name}_{self.started}", daemon=True)
                self.threads.add(thread)
        self.jobs.put((fn, args))
        if thread:
            thread.start()

    def _work(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self.lock:
                    if self.idle:  # nobody has claimed this thread: retire it
                        self.idle -= 1
                        self.threads.discard(threading.current_thread())
                        return
                continue  # a job is on its way to this thread
            if job is None:
                return
            fn, args = job
            try:
                fn(*args)
            except Exception:
                logging.getLogger("minirpc").exception("rpc: internal error")
            with self.lock:
                self.idle += 1

    def shutdown(self) -> None:
        with self.lock:
            threads, self.threads = self.threads, set()
        for _ in threads:
            self.jobs.put(None)
        for thread in threads:
            thread.join()


class _Connection:
    """The state of one served connection."""

    def __init__(self, codec: Any, on_finish: Callable[["_Connection"], None], origin: Any = None):
        self.codec = codec
        self.origin = origin  # the Serving that accepted it, if any
        self.on_finish = on_finish
        self.sending = threading.Lock()  # one response (header + body) on the wire at a time
        self.lock = threading.Lock()  # protects busy
        self.busy = 1  # the reader, plus every call still running
        self.finished = threading.Event()  # set when busy drops to 0 and the codec is closed

    def release(self) -> None:
        with self.lock:
            self.busy -= 1
            last = self.busy == 0
        if last:
            self.codec.close()
            self.on_finish(self)
            self.finished.set()


class Server:
    """Go's ``rpc.Server``: a registry of services plus the loops that serve them."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, name: str = "minirpc-server"):
        self.registry = Registry()
        self.max_message = max_message
        self._pool = _Workers(name)
        self._lock = threading.Lock()  # protects _connections, _servings, _closed and Serving.closed
        self._connections: set[_Connection] = set()
        self._servings: list[Serving] = []
        self._closed = False

    # -- registration -----------------------------------------------------

    def register(self, receiver: Any) -> Service:
        """Publish the receiver's suitable methods as ``ClassName.Method``."""
        return self.registry.register(receiver)

    def register_name(self, name: str, receiver: Any) -> Service:
        """Publish the receiver's suitable methods as ``name.Method``."""
        return self.registry.register(receiver, name)

    def services(self) -> list[Service]:
        return self.registry.services()

    def handle_http(self, rpc_path: str = "/_goRPC_", debug_path: str = "/debug/rpc", **options: Any) -> Any:
        """Go's ``HandleHTTP``: an ``http.server`` handler class serving RPC
        tunnels on ``rpc_path`` and the debug page on ``debug_path``; see
        ``minirpc.http`` (serve it with ``minirpc.http.start_http``)."""
        from . import http  # the tunnel is a layer above the server

        return http.handle_http(self, rpc_path, debug_path, **options)

    # -- serving ------------------------------------------------------------

    def serve_conn(self, conn: Any, codec: Any = None) -> None:
        """Serve one connection until the client hangs up (Go's ``ServeConn``)."""
        self.serve_codec(net.server_codec(codec, conn, self.max_message))

    def serve_codec(self, codec: Any) -> None:
        """Serve one codec until it ends; blocks, like Go's ``ServeCodec``."""
        self._start(codec).finished.wait()

    def serve_request(self, codec: Any) -> None:
        """Read, run and answer exactly one request on this thread (Go's
        ``ServeRequest``).  Does not close the codec.  Raises ``EOFError`` at
        the end of the stream, ``ProtocolError`` on bytes it cannot read."""
        connection = _Connection(codec, lambda c: None)
        job = self._read_request(connection, raise_errors=True)
        if job is not _SKIP:
            self._run(connection, *job)

    def _start(self, codec: Any, origin: Any = None) -> _Connection:
        connection = _Connection(codec, self._forget, origin)
        with self._lock:
            closed = self._closed or (origin is not None and origin.closed)
            if not closed:
                self._connections.add(connection)
        if closed:  # accepted while closing: hang up at once
            connection.release()
        else:
            self._pool.submit(self._lead, connection)
        return connection

    def _forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _lead(self, connection: _Connection) -> None:
        """Read requests until one needs running; hand reading on; run it."""
        while True:
            job = self._read_request(connection)
            if job is None:  # end of stream, or bytes we cannot follow
                connection.release()
                return
            if job is not _SKIP:
                break
        with connection.lock:
            connection.busy += 1
        self._pool.submit(self._lead, connection)  # a follower reads the next request
        try:
            self._run(connection, *job)
        finally:
            connection.release()

    def _read_request(self, connection: _Connection, raise_errors: bool = False) -> Any:
        """Return (header, method, args), ``_SKIP`` if answered already, or
        ``None`` when the connection must end."""
        codec = connection.codec
        try:
            header = codec.read_request_header()
            try:
                method = self.registry.lookup(header.service_method)
            except LookupError as e:
                try:
                    codec.read_request_body(None)  # keep the stream in step
                except BodyError:
                    pass  # the body is unwanted anyway
                self._reply(connection, header, None, str(e))
                return _SKIP
            try:
                args = codec.read_request_body(method.arg_type)
            except BodyError as e:  # the body was read whole, so carry on
                self._reply(connection, header, None, str(e))
                return _SKIP
            return header, method, args
        except Exception:  # EOF, a socket error, bytes we cannot read (or a codec bug)
            if raise_errors:
                raise
            return None  # close this connection only

    def _run(self, connection: _Connection, header: Request, method: Method, args: Any) -> None:
        try:
            reply, error = method.call(args), ""
        except Exception as e:  # never let a method kill the server
            reply, error = None, str(e) or type(e).__name__
        self._reply(connection, header, reply, error, method.reply_type)

    def _reply(self, connection: _Connection, header: Request, body: Any, error: str, reply_type: Any = None) -> None:
        response = Response(header.service_method, header.seq, error, reply_type)
        with connection.sending:
            try:
                connection.codec.write_response(response, body)
            except (TypeError, ValueError, OverflowError) as e:  # nothing was written yet
                response.error = f"rpc: cannot encode reply: {e}"
                try:
                    connection.codec.write_response(response, None)
                except OSError:
                    pass
            except OSError:
                pass  # the client is gone; the reader will notice and end

    # -- listening ------------------------------------------------------

    def accept(self, listener: Any, codec: Any = None, ssl_context: Any = None, _origin: Any = None) -> None:
        """Serve every connection the listener accepts, until it is closed."""
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:  # the listener was closed: stop, as Go's Accept does
                return
            self._pool.submit(self._open, sock, codec, ssl_context, _origin)

    def _open(self, sock: Any, codec: Any, ssl_context: Any, origin: Any) -> None:
        try:
            net.tune(sock)
            if ssl_context is not None:  # the TLS handshake happens here, off the accept loop
                sock = ssl_context.wrap_socket(sock, server_side=True)
            self._start(net.server_codec(codec, sock, self.max_message), origin)
        except (OSError, ValueError):
            sock.close()

    def connections(self, origin: Any = None) -> list[_Connection]:
        with self._lock:
            return [c for c in self._connections if origin is None or c.origin is origin]

    def start(
        self, address: str = "127.0.0.1:0", network: str = "tcp", codec: Any = None, ssl_context: Any = None
    ) -> "Serving":
        """Listen and serve in the background; ``close()`` the result to stop."""
        serving = Serving(self, net.listen(network, address), codec, ssl_context)
        with self._lock:
            self._servings.append(serving)
        return serving

    def close(self) -> None:
        """Stop listening, close every connection, wait for running calls."""
        with self._lock:
            self._closed = True  # from now on, _start hangs up at once
            servings, self._servings = self._servings, []
        for serving in servings:
            serving.close()
        for connection in self.connections():
            connection.codec.close()  # wakes its reader; running calls finish
            connection.finished.wait()
        self._pool.shutdown()


class Serving:
    """A listener being served in the background (see ``Server.start``)."""

    def __init__(self, server: Server, listener: Any, codec: Any, ssl_context: Any):
        self.server, self.listener = server, listener
        self.closed = False
        self.network = "unix" if isinstance(listener.getsockname(), str) else "tcp"
        self.address = net.format_address(listener.getsockname())
        self._thread = threading.Thread(
            target=server.accept, args=(listener, codec, ssl_context, self), name=f"minirpc-accept {self.address}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        from .codec import close_conn

        with self.server._lock:
            self.closed = True  # a connection accepted from now on is hung up at once
        close_conn(self.listener)  # shutdown() wakes the blocked accept()
        self._thread.join()
        for connection in self.server.connections(origin=self):
            connection.codec.close()  # wakes its reader; running calls finish
            connection.finished.wait()

    def __enter__(self) -> "Serving":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Serving {self.network} {self.address}>"


DEFAULT_SERVER = Server(name="minirpc-default-server")
register = DEFAULT_SERVER.register
register_name = DEFAULT_SERVER.register_name
serve_conn = DEFAULT_SERVER.serve_conn
serve_codec = DEFAULT_SERVER.serve_codec
serve_request = DEFAULT_SERVER.serve_request
accept = DEFAULT_SERVER.accept
handle_http = DEFAULT_SERVER.handle_http
