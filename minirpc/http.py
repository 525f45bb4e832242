"""RPC through an HTTP port: Go's CONNECT tunnel, plus the debug page.

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
away with ``401`` before the codec ever reads from them.  A plain TCP server
has no such moment: its codec parses whatever the peer sends first, so every
decoder bug is reachable by anyone who can connect.  ``bearer_token("s3cret")``
checks ``Authorization: Bearer s3cret`` in constant time; any callable
``auth(headers) -> bool`` works too.  A token crosses the network as plain
text unless you also pass ``ssl_context=`` (TLS) to both ends.

Two details keep the handshake safe.  The request line and headers are read
one byte at a time, so no RPC byte can be swallowed into an HTTP read buffer;
and the whole handshake has a size limit and a deadline, so a peer that sends
garbage, sends forever or says nothing is cut off without hurting anyone else.

    Server side                           Client side
    handler = handle_http(server)         client = dial_http("tcp", "127.0.0.1:8080")
    ThreadingHTTPServer(addr, handler)    client.call("Arith.Multiply", Args(7, 8))
    with start_http(server) as serving: ...   (runs it in the background for you)

To add your own pages, subclass the handler and fall back to ``super()``::

    class MyHandler(handle_http(server)):
        def do_GET(self):
            if self.path == "/hello":
                return self.send_text(200, "hello\\n")
            super().do_GET()
"""

from __future__ import annotations

import hmac
import logging
import socket
import socketserver
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import debug, net
from .client import new_client
from .errors import RPCError

DEFAULT_RPC_PATH = "/_goRPC_"  # Go's rpc.DefaultRPCPath
DEFAULT_DEBUG_PATH = "/debug/rpc"  # Go's rpc.DefaultDebugPath
CONNECTED = "200 Connected to Go RPC"  # the exact status Go's client insists on
DEFAULT_HANDSHAKE_TIMEOUT = 5.0  # seconds a peer gets to send its whole request
MAX_HEADER_BYTES = 64 * 1024  # request line + headers; more gets 431
log = logging.getLogger("minirpc.http")


class HTTPTunnelError(RPCError, ConnectionError):
    """``dial_http`` got something other than ``200 Connected to Go RPC``."""


def bearer_token(token: str):
    """An ``auth=`` check that wants the header ``Authorization: Bearer <token>``."""
    expected = ("Bearer " + token).encode()

    def check(headers) -> bool:
        given = (headers.get("Authorization") or "").encode("latin-1", "replace")
        return hmac.compare_digest(given, expected)  # constant time: no timing hints
    return check


def bearer_headers(token: str) -> dict:
    """The ``headers=`` for ``dial_http`` that ``bearer_token(token)`` accepts."""
    return {"Authorization": "Bearer " + token}


class _HeadersTooLarge(Exception):
    pass


class _HandshakeReader:
    """Reads the HTTP request byte by byte (nothing past the blank line is
    consumed), within a byte budget and a deadline for the whole request."""

    def __init__(self, sock, max_bytes, timeout):
        self.sock, self.left = sock, max_bytes
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def readline(self, limit=-1):
        line = bytearray()
        while not line.endswith(b"\n") and (limit < 0 or len(line) < limit):
            if self.left <= 0:
                raise _HeadersTooLarge()
            if self.deadline is not None:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("HTTP handshake took too long")
                self.sock.settimeout(remaining)
            byte = self.sock.recv(1)
            if not byte:
                break  # the peer closed; http.server treats a short line as the end
            line += byte
            self.left -= 1
        return bytes(line)

    def close(self):
        pass


class RPCHandler(BaseHTTPRequestHandler):
    """Serves the RPC tunnel, the debug page, and 404 for everything else.

    ``handle_http`` makes a subclass with the class attributes filled in."""

    rpc_server = None  # the minirpc Server whose serve_conn runs the tunnel
    rpc_path, debug_path = DEFAULT_RPC_PATH, DEFAULT_DEBUG_PATH
    auth = None  # None, or a callable(headers) -> bool, checked before RPC
    codec = None  # codec name or factory for serve_conn; None = the default, as Go
    handshake_timeout = DEFAULT_HANDSHAKE_TIMEOUT
    max_header_bytes = MAX_HEADER_BYTES
    server_version = "minirpc"
    default_request_version = "HTTP/1.0"  # so even errors get a status line
    # protocol_version stays "HTTP/1.0": one request per connection, so no
    # read buffer can ever hold the start of a following request.

    def setup(self):
        super().setup()
        self.rfile.close()  # replaced: read the handshake unbuffered instead
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(self.handshake_timeout)
            try:
                self.connection.do_handshake()
            except ssl.SSLError as e:
                if e.reason in ("HTTP_REQUEST", "HTTPS_PROXY_REQUEST"):  # plain HTTP to TLS: say so, like Go
                    socket.socket.sendall(self.connection, b"HTTP/1.0 400 Bad Request\r\n\r\n"
                                          b"Client sent an HTTP request to an HTTPS server.\n")
                raise
        self.rfile = _HandshakeReader(self.connection, self.max_header_bytes, self.handshake_timeout)

    def handle_one_request(self):
        self.requestline, self.command, self.request_version = "", "", "HTTP/1.0"
        self.refused = False
        try:
            super().handle_one_request()
        except _HeadersTooLarge:
            self.send_text(431, "431 Request Header Fields Too Large\n")
        self.close_connection = True
        if self.refused:
            self.linger()

    def linger(self, seconds=0.5, max_bytes=256 * 1024):
        """Before closing on an error, briefly read and drop what the peer is
        still sending: closing with unread input sends a TCP reset, which can
        destroy our error response before the peer reads it (Go lingers too)."""
        deadline = time.monotonic() + seconds
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while max_bytes > 0 and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(4096)
                if not chunk:
                    break
                max_bytes -= len(chunk)
        except OSError:
            pass

    def parse_request(self):
        if not super().parse_request():
            return False
        # Headers are in; what follows is a body (ordinary routes) or RPC (tunnel).
        self.connection.settimeout(self.handshake_timeout)
        self.rfile = self.connection.makefile("rb")  # nothing buffered yet
        return True

    def send_text(self, code: int, text: str, content_type="text/plain; charset=utf-8", headers=()):
        """Send a complete small response, as Go's ``http.Error`` does."""
        body = text.encode()
        self.refused = code >= 400
        self.send_response(code)
        for name, value in [("Content-Type", content_type), ("X-Content-Type-Options", "nosniff"),
                            ("Content-Length", str(len(body))), *headers]:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        """http.server's errors (400, 414, 501, ...) as plain text, like Go's."""
        self.close_connection = True
        self.send_text(code, f"{code} {message or self.responses.get(code, ('',))[0]}\n")

    def authorized(self) -> bool:
        """True when there is no ``auth`` check or these headers pass it."""
        return self.auth is None or bool(type(self).auth(self.headers))

    def route(self):
        path = urlsplit(self.path).path
        if path == self.rpc_path:
            if self.command != "CONNECT":
                return self.send_text(405, "405 must CONNECT\n")
            if not self.authorized():
                return self.send_text(401, "401 unauthorized\n", headers=[("WWW-Authenticate", "Bearer")])
            return self.tunnel()
        if path in (self.debug_path, self.debug_path + ".json") and self.command in ("GET", "HEAD"):
            if not self.authorized():
                return self.send_text(401, "401 unauthorized\n", headers=[("WWW-Authenticate", "Bearer")])
            services = debug.describe(self.rpc_server)
            if path.endswith(".json") or parse_qs(urlsplit(self.path).query).get("format") == ["json"]:
                return self.send_text(200, debug.render_json(services), "application/json")
            return self.send_text(200, debug.render_html(services), "text/html; charset=utf-8")
        self.send_text(404, "404 page not found\n")

    do_CONNECT = do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = route

    def tunnel(self):
        """Hijack the connection: answer like Go, then it is RPC until EOF."""
        self.connection.sendall(b"HTTP/1.0 " + CONNECTED.encode() + b"\n\n")
        self.log_request(200)
        self.connection.settimeout(None)  # an RPC connection may idle for as long as it likes
        net.tune(self.connection)  # small RPC messages must leave at once
        self.rpc_server.serve_conn(self.connection, codec=type(self).codec)

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)


def handle_http(server, rpc_path=DEFAULT_RPC_PATH, debug_path=DEFAULT_DEBUG_PATH, auth=None, *,
                codec=None, handshake_timeout=DEFAULT_HANDSHAKE_TIMEOUT, max_header_bytes=MAX_HEADER_BYTES):
    """Go's ``HandleHTTP``: a handler class for ``http.server`` serving RPC on
    ``rpc_path`` (CONNECT only) and the debug page on ``debug_path``."""
    options = dict(rpc_server=server, rpc_path=rpc_path, debug_path=debug_path, codec=codec,
                   auth=auth, handshake_timeout=handshake_timeout, max_header_bytes=max_header_bytes)
    return type("RPCHandler", (RPCHandler,), options)


class HTTPServing(ThreadingHTTPServer):
    """An HTTP RPC server running in a background thread (see ``start_http``).

    Unlike a bare ThreadingHTTPServer it can stop completely: it remembers
    live connections, so ``close()`` can end long-lived tunnels, and it joins
    every handler thread.  ``.address`` is "127.0.0.1:PORT", ``.url`` its URL."""

    daemon_threads = False  # server_close() joins the handler threads

    def __init__(self, address: str, handler, ssl_context=None):
        self.address_family, host_port = net.split_address("tcp", address)
        self.ssl_context = ssl_context
        self._live = set()  # accepted sockets not yet shut down
        self._live_lock = threading.Lock()  # protects _live
        super().__init__(host_port, handler)
        self.address = net.format_address(self.server_address)
        self.url = ("https" if ssl_context else "http") + "://" + self.address
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), name="minirpc-http", daemon=True)
        self._thread.start()

    def server_bind(self):  # as HTTPServer's, minus a slow reverse DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, peer = super().get_request()
        if self.ssl_context is not None:  # the TLS handshake runs later, in the handler thread
            sock = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, peer

    def process_request(self, request, client_address):
        with self._live_lock:
            self._live.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._live_lock:
            self._live.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close(self):
        """Stop accepting, end live connections (tunnels too), join all threads."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        with self._live_lock:
            live = list(self._live)
        for sock in live:  # shutdown() wakes a thread blocked reading the socket
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()

    def __exit__(self, *exc):
        self.close()


def start_http(server, address="127.0.0.1:0", *, handler=None, ssl_context=None, **options) -> HTTPServing:
    """Serve ``handle_http(server, **options)`` (or your ``handler`` class) on
    ``address`` from a background thread; use as a context manager."""
    return HTTPServing(address, handler or handle_http(server, **options), ssl_context)


def dial_http(network, address, *, path=DEFAULT_RPC_PATH, headers=None, codec=None, timeout=None,
              ssl_context=None, server_hostname=None):
    """Go's ``DialHTTPPath``: connect, ask for the tunnel, return a Client.

    ``timeout`` bounds the connect and the handshake; ``ssl_context`` makes it
    HTTPS (``server_hostname`` defaults to the address's host).  Raises
    ``HTTPTunnelError`` ("unexpected HTTP response: 404 Not Found") when the
    server says anything but ``200 Connected to Go RPC``."""
    sock = net.connect(network, address, timeout=timeout)
    try:
        if ssl_context is not None:
            host = server_hostname or address.rpartition(":")[0].strip("[]")
            sock = ssl_context.wrap_socket(sock, server_hostname=host)
        try:
            status = _ask_for_tunnel(sock, path, headers or {})
        except ConnectionError as e:  # reset or broken pipe mid-handshake
            raise HTTPTunnelError(f"dial-http {network} {address}: {e.strerror or e}") from e
        if status != CONNECTED:
            raise HTTPTunnelError(f"dial-http {network} {address}: {status}")
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return new_client(sock, codec=codec)


def dial_http_path(network, address, path, **options):
    """``dial_http`` with the path given positionally, like Go's ``DialHTTPPath``."""
    return dial_http(network, address, path=path, **options)


def _ask_for_tunnel(sock, path, headers) -> str:
    """Send the CONNECT request; return CONNECTED or an error text."""
    lines = [f"CONNECT {path} HTTP/1.0"] + [f"{name}: {value}" for name, value in headers.items()]
    if any(ch in line for line in lines for ch in "\r\n"):
        raise ValueError("line breaks are not allowed in the path or headers")
    sock.sendall(("\n".join(lines) + "\n\n").encode("latin-1"))
    reader = _HandshakeReader(sock, MAX_HEADER_BYTES, None)  # unbuffered: RPC bytes may follow
    try:
        status_line = reader.readline().decode("latin-1").rstrip("\r\n")
        while reader.readline() not in (b"\n", b"\r\n", b""):
            pass  # skip the response headers
    except _HeadersTooLarge:
        return "HTTP response headers too large"
    version, _, status = status_line.partition(" ")
    if not version.startswith("HTTP/"):
        return "unexpected EOF" if not status_line else f"malformed HTTP response {status_line!r}"
    return status if status == CONNECTED else "unexpected HTTP response: " + status
