"""RPC through an HTTP port: Go's CONNECT tunnel, the debug page, and pages of your own.

Go's net/rpc can share a port with a web server.  The client opens a TCP
connection and sends one HTTP request with the CONNECT method::

    CONNECT /_goRPC_ HTTP/1.0\\n\\n

The server answers ``HTTP/1.0 200 Connected to Go RPC\\n\\n`` and from then on
the connection is no longer HTTP at all: both sides speak the RPC codec over
the same socket ("hijacking" it).  Any other method on that path gets
``405 must CONNECT``; other paths are ordinary web pages, such as the debug
page at ``/debug/rpc``.

Why a tunnel is a good place for a gate: the HTTP request arrives *before* any
RPC byte, so its headers can be checked (``auth=``) and a stranger is turned
away with ``401`` before a format ever reads from them.  A plain TCP server
has no such moment: its format parses whatever the peer sends first, so every
decoder bug is reachable by anyone who can connect.  ``bearer_token("s3cret")``
checks ``Authorization: Bearer s3cret`` in constant time; any callable
``auth(headers) -> bool`` works too.  A token crosses the network as plain
text unless you also pass ``ssl_context=`` (TLS) to both ends.

The hand-over is sans-IO too: the request head is read through a ``Stream``
like any message (``_Head`` is its format), and whatever bytes came after
the blank line are handed to the RPC format, so nothing is lost however the
bytes were split.  The head has a size limit and a deadline, so a peer that
sends garbage, sends forever or says nothing is cut off without hurting anyone
else.  Connections are served by a small pool of workers, as RPC connections
are (``minirpc.workers``), so idle and slow peers cost no thread.

Several RPC servers can share one port on different paths, as Go's
``HandleHTTP(rpcPath, debugPath)`` allows::

    web = HTTPServer()                                # or start_http(server) for one server
    web.handle_rpc("/_goRPC_", server_a); web.handle_debug("/debug/rpc", server_a)
    web.handle_rpc("/b", server_b, codec="json")
    web.handle("/hello", lambda request: (200, "text/plain", b"hello\\n"))   # a page of your own
    serving = web.start("127.0.0.1:0")                # close() it, or close the servers
    client = dial_http("tcp", serving.address, path="/b", codec="json")
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from . import debug, net
from .client import Client, tls_wrap
from .codec import CodecChoice, StreamClientCodec, wire_format
from .errors import ProtocolError, RPCError, TruncatedMessage
from .format import DEFAULT_MAX_MESSAGE, NEED_DATA, Message
from .stream import WOULD_BLOCK, Stream
from .workers import READ, WRITE, WorkerPool

DEFAULT_RPC_PATH = "/_goRPC_"  # Go's rpc.DefaultRPCPath
DEFAULT_DEBUG_PATH = "/debug/rpc"  # Go's rpc.DefaultDebugPath
CONNECTED = "200 Connected to Go RPC"  # the exact status Go's client insists on
DEFAULT_HANDSHAKE_TIMEOUT = 5.0  # seconds a peer gets to send its whole request
MAX_HEADER_BYTES = 64 * 1024  # request line + headers; more gets 431
MAX_BODY_BYTES = 1024 * 1024  # a request body for a page of your own
MAX_HANDSHAKES = 1024  # connections still speaking HTTP at once; more are hung up on at once
DEFAULT_WORKERS = 4
log = logging.getLogger("minirpc.http")


class HTTPTunnelError(RPCError, ConnectionError):
    """``dial_http`` got something other than ``200 Connected to Go RPC``; ``status`` is the
    HTTP status the server answered with ("401 Unauthorized"), or None when it gave none."""

    def __init__(self, message: str, status: str | None = None):
        super().__init__(message)
        self.status = status


def _check_token(token: str) -> str:
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("a bearer token must be printable ASCII with no spaces, and not empty")
    return token


def bearer_token(token: str) -> Callable[[dict], bool]:
    """An ``auth=`` check that wants the header ``Authorization: Bearer <token>``."""
    expected = ("Bearer " + _check_token(token)).encode()

    def check(headers) -> bool:
        given = (headers.get("Authorization") or "").encode("latin-1", "replace")
        return hmac.compare_digest(given, expected)  # constant time: no timing hints
    return check


def bearer_headers(token: str) -> dict:
    """The ``headers=`` for ``dial_http`` that ``bearer_token(token)`` accepts."""
    return {"Authorization": "Bearer " + _check_token(token)}


# ---------------------------------------------------------------- an HTTP head, sans-IO


class _HeadTooLarge(ProtocolError):
    pass


class Headers(dict):
    """Header names -> values; ``get`` ignores case, as HTTP does."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")


class _Head:
    """The format of an HTTP/1.x head: a start line and headers, up to a blank line.

    ``next_message`` gives ``Message(header=(start line, Headers), body=None)``;
    ``rest()`` is whatever came after the blank line (a body, or RPC bytes)."""

    def __init__(self, max_bytes: int = MAX_HEADER_BYTES):
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._searched = 0  # no blank line starts before this: each search goes on from here
        self._eof = False
        self._end = -1

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
        self._buffer += data

    def next_message(self) -> Any:
        end = _END_OF_HEAD.search(self._buffer, self._searched, self.max_bytes + 4)
        if end is None:
            # (the last 3 bytes may begin a blank line that the next bytes finish: a head
            # sent a byte at a time must not be searched from its start on every byte)
            self._searched = max(0, len(self._buffer) - 3)
            if len(self._buffer) > self.max_bytes:
                raise _HeadTooLarge(f"HTTP head larger than {self.max_bytes} bytes")
            if self._eof:
                raise TruncatedMessage("unexpected EOF") if self._buffer else EOFError()
            return NEED_DATA
        self._end = end.end()
        raw = bytes(self._buffer[:end.start()])
        lines = raw.decode("latin-1").splitlines()
        headers = Headers()
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        return Message((lines[0] if lines else "", headers), None, bytes(self._buffer[:self._end]))

    def rest(self) -> bytes:
        return bytes(self._buffer[self._end:])


# ---------------------------------------------------------------- the server


@dataclass
class Request:
    """A request for a page of your own (``HTTPServer.handle``)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    body: bytes = b""


@dataclass
class _Route:
    kind: str  # "rpc", "debug" or "page"
    server: Any = None
    codec: CodecChoice = None
    page: Callable[[Request], tuple] | None = None
    auth: Any = field(default=None)


class HTTPServer:
    """Paths -> RPC tunnels, debug pages and pages of your own; ``start()`` serves them."""

    def __init__(self, *, auth: Callable[[dict], bool] | None = None, workers: int = DEFAULT_WORKERS,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT, max_header_bytes: int = MAX_HEADER_BYTES,
                 max_handshakes: int = MAX_HANDSHAKES, name: str = "minirpc-http"):
        self.auth, self.handshake_timeout, self.max_header_bytes = auth, handshake_timeout, max_header_bytes
        self.max_handshakes = max_handshakes
        self.routes: dict[str, _Route] = {}
        self.pool = WorkerPool(workers, f"{name}-worker")
        self.pool.every_second(self._sweep)
        self._lock = threading.Lock()  # protects the two below
        self._connections: set[_HTTPConnection] = set()
        self._servings: list[HTTPServing] = []
        self.abandoned: list[str] = []  # calls in its tunnels that close() gave up waiting for

    # -- routes (Go's Handle and HandleHTTP)
    def handle_rpc(self, path: str, server: Any, codec: CodecChoice = None) -> None:
        """Tunnel CONNECTs on ``path`` into ``server`` (Go's ``HandleHTTP``'s RPC half)."""
        if wire_format(codec) is None:  # (an unknown codec name fails in there, not on the first client)
            raise TypeError("the HTTP tunnel hands its connections to formats (codec='gob', 'json' or a "
                            "WireFormat); a codec of your own reads its socket itself and would miss the bytes "
                            "already read with the request: serve it with Server.start")
        self.routes[path] = _Route("rpc", server, codec)
        server._attach(self)

    def handle_debug(self, path: str, server: Any) -> None:
        """Serve ``server``'s debug page on ``path`` (HTML; JSON with ``?format=json`` or ``.json``)."""
        self.routes[path] = _Route("debug", server)
        self.routes[path + ".json"] = _Route("debug", server)

    def handle(self, path: str, page: Callable[[Request], tuple]) -> None:
        """Serve ``page(request) -> (status, content type, body bytes)`` on ``path``."""
        self.routes[path] = _Route("page", page=page)

    def start(self, address: str = "127.0.0.1:0", ssl_context: Any = None) -> HTTPServing:
        serving = HTTPServing(self, net.listen("tcp", address), ssl_context)
        with self._lock:
            self._servings.append(serving)
        self.pool.add(serving.listener.fileno(), serving._on_ready, READ)
        return serving

    def unmount(self, server: Any) -> None:
        """Forget ``server``'s routes (it is closing); stop serving when no route is left."""
        for path, route in list(self.routes.items()):
            if route.server is server:
                del self.routes[path]
        if not any(route.kind == "rpc" for route in self.routes.values()):
            self.close()

    def close(self, timeout: float | None = None) -> None:
        """Stop every listener, close the connections still speaking HTTP, and the tunnels
        handed to the RPC servers (their calls get at most ``timeout`` s); the calls abandoned
        are logged by the servers and listed in ``self.abandoned``."""
        with self._lock:
            servings, self._servings = self._servings, []
            connections = list(self._connections)
        for serving in servings:
            serving.close_listener()
        for connection in connections:
            connection.close()
        self.abandoned = []
        for server in {id(r.server): r.server for r in self.routes.values() if r.kind == "rpc"}.values():
            self.abandoned += server.close_connections(origin=self, timeout=timeout)
        self.pool.stop()

    @property
    def closed(self) -> bool:
        return self.pool.stopped

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            if now > connection.deadline:
                connection.close()

    # -- one request
    def respond(self, connection: _HTTPConnection, start_line: str, headers: Headers) -> None:
        method, _, rest = start_line.partition(" ")
        target, _, version = rest.partition(" ")
        if not method.isalpha() or not target.startswith("/") or not version.startswith("HTTP/1."):
            return connection.answer(400, "400 Bad Request\n")
        path = urlsplit(target).path
        route = self.routes.get(path)
        if route is None:
            return connection.answer(404, "404 page not found\n")
        if route.kind == "rpc" and method != "CONNECT":
            return connection.answer(405, "405 must CONNECT\n")
        if self.auth is not None and not self.auth(headers):
            return connection.answer(401, "401 unauthorized\n", [("WWW-Authenticate", "Bearer")])
        if route.kind == "rpc":
            if route.server.at_capacity():
                return connection.answer(503, "503 too many connections: try again later\n")
            return connection.tunnel(route.server, wire_format(route.codec))
        if route.kind == "debug":
            services = debug.describe(route.server)
            if path.endswith(".json") or parse_qs(urlsplit(target).query).get("format") == ["json"]:
                return connection.answer(200, debug.render_json(services), content_type="application/json",
                                         head_only=method == "HEAD")
            return connection.answer(200, debug.render_html(services), content_type="text/html; charset=utf-8",
                                     head_only=method == "HEAD")
        connection.page(route.page, Request(method, path, parse_qs(urlsplit(target).query), headers))


class HTTPServing:
    """One listener of an ``HTTPServer``: ``.address`` is "127.0.0.1:PORT", ``.url`` its URL."""

    def __init__(self, http_server: HTTPServer, listener: Any, ssl_context: Any):
        self.http_server, self.listener, self.ssl_context = http_server, listener, ssl_context
        self.address = net.format_address(listener.getsockname())
        self.url = ("https" if ssl_context else "http") + "://" + self.address
        self.closed = False
        listener.setblocking(False)

    def _on_ready(self, events: int) -> None:
        for _ in range(64):
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                break
            except OSError:
                if self.closed:
                    return
                break
            net.tune(sock)
            if len(self.http_server._connections) >= self.http_server.max_handshakes:
                sock.close()  # too many still in their handshake: a flood, not clients
                continue
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            _HTTPConnection(self.http_server, sock, self.ssl_context is not None).start()
        if not self.closed:
            self.http_server.pool.arm(self.listener.fileno(), READ)

    def close_listener(self) -> None:
        if not self.closed:
            self.closed = True
            self.http_server.pool.remove(self.listener.fileno())
            net.close(self.listener)

    def close(self, timeout: float | None = None) -> None:
        """Stop the HTTP server, and the RPC connections it tunnelled into its servers
        (their running calls get at most ``timeout`` seconds; see ``abandoned``)."""
        self.http_server.close(timeout)

    @property
    def abandoned(self) -> list[str]:
        return self.http_server.abandoned

    def __enter__(self) -> HTTPServing:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _HTTPConnection:
    """One connection still speaking HTTP: read the head, answer or hand the socket over."""

    def __init__(self, http_server: HTTPServer, sock: Any, tls: bool):
        self.http_server, self.tls = http_server, tls
        sock.setblocking(False)
        self.head = _Head(http_server.max_header_bytes)
        self.stream = Stream(sock, self.head)
        self.fd, self.write_fd = sock.fileno(), os.dup(sock.fileno())
        self.deadline = time.monotonic() + http_server.handshake_timeout
        self.lock = threading.Lock()  # protects the state
        self.state = "tls" if tls else "head"  # -> "answering" -> closed, or -> "handed over"
        self.then: Callable[[], None] | None = None  # what to do once the answer is written
        self.request: Request | None = None  # a page request whose body is still arriving
        self.body_length = 0

    def start(self) -> None:
        with self.http_server._lock:
            self.http_server._connections.add(self)
        pool = self.http_server.pool
        pool.add(self.write_fd, self._on_writable, 0)
        pool.add(self.fd, self._on_readable, READ)

    def _on_readable(self, events: int) -> None:
        with self.lock:
            if self.state == "tls":
                return self._handshake()
            if self.state == "answering":
                return self._drain()
            if self.state not in ("head", "body"):
                return
        try:
            if self.stream.receive():
                while self.stream.has_buffered():
                    self.stream.receive()
            message = self.stream.next_message() if self.state == "head" else None
        except WOULD_BLOCK:
            return self.http_server.pool.arm(self.fd, READ)
        except _HeadTooLarge:
            return self.answer(431, "431 Request Header Fields Too Large\n")
        except (OSError, EOFError, ProtocolError):
            return self.close()
        if self.state == "body":
            return self._body()
        if message is NEED_DATA:
            return self.http_server.pool.arm(self.fd, READ)
        start_line, headers = message.header
        self.http_server.respond(self, start_line, headers)

    def _handshake(self) -> None:  # (holding the lock)
        sock = self.stream.sock
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            return self.http_server.pool.arm(self.fd, READ)
        except ssl.SSLWantWriteError:
            return self.http_server.pool.arm(self.write_fd, WRITE)
        except ssl.SSLError as e:
            if e.reason in ("HTTP_REQUEST", "HTTPS_PROXY_REQUEST"):  # plain HTTP to TLS: say so, like Go
                try:
                    socket.socket.send(sock, b"HTTP/1.0 400 Bad Request\r\n\r\n"
                                             b"Client sent an HTTP request to an HTTPS server.\n")
                except OSError:
                    pass
            return self._close_locked()
        except OSError:
            return self._close_locked()
        self.state = "head"
        self.http_server.pool.submit(self._on_readable, READ)

    # -- answers
    def answer(self, code: int, text: str, headers: list | tuple = (), content_type: str = "text/plain; charset=utf-8",
               head_only: bool = False) -> None:
        """Send a complete small response, as Go's ``http.Error`` does, then hang up."""
        body = text.encode() if isinstance(text, str) else text
        reason = _REASONS.get(code, "")
        lines = [f"HTTP/1.0 {code} {reason}", f"Content-Type: {content_type}", "X-Content-Type-Options: nosniff",
                 f"Content-Length: {len(body)}", *(f"{name}: {value}" for name, value in headers)]
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body), self._hang_up)

    def tunnel(self, server: Any, fmt: Any) -> None:
        """The connection is RPC from now on: the server takes it, with any bytes already read,
        and answers like Go (it sends the "200 Connected" itself, once the connection counts)."""
        with self.lock:
            self.state = "handed over"
        self._forget()
        server.adopt(self.stream.sock, fmt, received=self.head.rest(), origin=self.http_server,
                     greeting=b"HTTP/1.0 " + CONNECTED.encode() + b"\n\n")

    def page(self, page: Callable, request: Request) -> None:
        """A page of your own: read the body (``Content-Length`` bytes), then call ``page``."""
        length = request.headers.get("Content-Length")
        if request.headers.get("Transfer-Encoding"):
            return self.answer(501, "501 chunked request bodies are not supported\n")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return self.answer(413, "413 Request Entity Too Large\n")
        self.request, self.body_length, self.state = request, int(length or 0), "body"
        self.page_function = page
        self._body()

    def _body(self) -> None:
        rest = self.head.rest()
        if len(rest) < self.body_length:
            return self.http_server.pool.arm(self.fd, READ)
        request = self.request
        request.body = rest[:self.body_length]
        try:
            code, content_type, body = self.page_function(request)
        except Exception as e:  # a page of your own that fails is a 500, not a dead server
            log.exception("minirpc.http: page %s failed", request.path)
            return self.answer(500, f"500 {type(e).__name__}: {e}\n")
        self.answer(code, body, content_type=content_type, head_only=request.method == "HEAD")

    def _send(self, data: bytes, then: Callable[[], None]) -> None:
        with self.lock:
            self.state, self.then = "answering", then
        try:
            left = self.stream.send_bytes(data)
        except OSError:
            return self.close()
        if left:
            return self.http_server.pool.arm(self.write_fd, WRITE)
        then()

    def _on_writable(self, events: int) -> None:
        with self.lock:
            if self.state == "tls":
                return self._handshake()
        try:
            left = self.stream.flush()
        except OSError:
            return self.close()
        if left:
            return self.http_server.pool.arm(self.write_fd, WRITE)
        if self.then is not None:
            self.then()

    def _hang_up(self) -> None:
        """After an answer: stop sending, then read and drop what the peer still sends for a
        moment, because closing with unread input sends a reset that can destroy the answer
        before the peer reads it (Go lingers too)."""
        try:
            self.stream.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return self.close()
        self.deadline = min(self.deadline, time.monotonic() + 0.5)
        self.http_server.pool.arm(self.fd, READ)

    def _drain(self) -> None:  # (holding the lock)
        try:
            while self.stream.sock.recv(65536):
                pass
            return self._close_locked()  # the peer closed too
        except WOULD_BLOCK:
            self.http_server.pool.arm(self.fd, READ)
        except OSError:
            self._close_locked()

    # -- the end
    def _forget(self) -> None:
        with self.http_server._lock:
            self.http_server._connections.discard(self)
        pool = self.http_server.pool
        pool.remove(self.fd)
        pool.remove(self.write_fd)
        os.close(self.write_fd)

    def close(self) -> None:
        with self.lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self.state in ("closed", "handed over"):
            return
        self.state = "closed"
        self._forget()
        self.stream.close()


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Request Entity Too Large", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def handle_http(server: Any, rpc_path: str = DEFAULT_RPC_PATH, debug_path: str = DEFAULT_DEBUG_PATH, *,
                codec: CodecChoice = None, http_server: HTTPServer | None = None, **options: Any) -> HTTPServer:
    """Go's ``HandleHTTP``: route ``rpc_path`` and ``debug_path`` to ``server`` on an
    ``HTTPServer`` (a new one unless given); ``start()`` it to serve."""
    http_server = http_server or HTTPServer(**options)
    http_server.handle_rpc(rpc_path, server, codec)
    if debug_path:
        http_server.handle_debug(debug_path, server)
    return http_server


def start_http(server: Any, address: str = "127.0.0.1:0", *, ssl_context: Any = None, rpc_path: str = DEFAULT_RPC_PATH,
               debug_path: str = DEFAULT_DEBUG_PATH, codec: CodecChoice = None, **options: Any) -> HTTPServing:
    """Serve ``server`` over HTTP on ``address`` in the background: the tunnel on ``rpc_path``,
    the debug page on ``debug_path``.  Use it as a context manager, or close it; closing the
    RPC server closes it too."""
    return handle_http(server, rpc_path, debug_path, codec=codec, **options).start(address, ssl_context)


# ---------------------------------------------------------------- the client


def dial_http(network: str, address: str | None = None, *, path: str = DEFAULT_RPC_PATH, headers: dict | None = None,
              codec: CodecChoice = None, timeout: float | None = None, ssl_context: Any = None,
              server_hostname: str | None = None, max_message: int = DEFAULT_MAX_MESSAGE) -> Client:
    """Go's ``DialHTTPPath``: connect, ask for the tunnel, return a Client.

    ``timeout`` bounds the connect, the TLS handshake and the HTTP handshake
    together; ``ssl_context`` makes it HTTPS (``server_hostname`` defaults to
    the address's host).  Raises ``HTTPTunnelError`` ("unexpected HTTP
    response: 404 Not Found") when the server says anything but ``200
    Connected to Go RPC``, ``TimeoutError`` when it does not answer in time."""
    if address is None:
        network, address = "tcp", network
    lines = [f"CONNECT {path} HTTP/1.0"] + [f"{name}: {value}" for name, value in (headers or {}).items()]
    if any(ch in line for line in lines for ch in "\r\n"):
        raise ValueError("line breaks are not allowed in the path or headers")
    deadline = net.Deadline(timeout)
    sock = net.connect(network, address, deadline)
    try:
        if ssl_context is not None:
            sock = tls_wrap(sock, ssl_context, server_hostname or net.split_address(network, address)[1][0], deadline)
        head = _Head()
        stream = Stream(sock, head)
        sock.settimeout(deadline.left())
        try:
            sock.sendall(("\n".join(lines) + "\n\n").encode("latin-1"))
            status = _status(stream.read_message(deadline).header[0])
        except (TimeoutError, socket.timeout):
            raise TimeoutError(f"dial-http {network} {address}: no answer to CONNECT within {timeout:g} s "
                               "(is it a plain RPC server? then dial it without HTTP)") from None
        except (EOFError, ConnectionError) as e:
            detail = "unexpected EOF" if isinstance(e, EOFError) else (e.strerror or str(e))
            raise HTTPTunnelError(f"dial-http {network} {address}: {detail}") from None
        except ProtocolError:
            status = "HTTP response headers too large"
        if status != CONNECTED:
            answered = status.removeprefix("unexpected HTTP response: ") if status.startswith("unexpected") else None
            raise HTTPTunnelError(f"dial-http {network} {address}: {status}", answered)
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    fmt = wire_format(codec)
    if fmt is None:  # a codec of your own reads the socket itself: nothing may be buffered
        return Client(codec(sock))
    rpc = Stream(sock, fmt.client(max_message))
    if head.rest():
        rpc.format.receive_data(head.rest())
    return Client(StreamClientCodec(rpc))


def dial_http_path(network: str, address: str, path: str, **options: Any) -> Client:
    """``dial_http`` with the path given positionally, like Go's ``DialHTTPPath``."""
    return dial_http(network, address, path=path, **options)


def _status(start_line: str) -> str:
    version, _, status = start_line.partition(" ")
    if not version.startswith("HTTP/"):
        return f"malformed HTTP response {start_line!r}"
    return status if status == CONNECTED else "unexpected HTTP response: " + status
