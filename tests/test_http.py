"""The HTTP CONNECT tunnel (Go's HandleHTTP / DialHTTP), auth, and hostile peers."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest

import minirpc
import minirpc.examples
import minirpc.jsonrpc
from minirpc.errors import RPCError, ServerError, ShutdownError, ConnectionLost
from minirpc.examples import Args, Quotient
from minirpc.http import (
    DEFAULT_RPC_PATH,
    HTTPTunnelError,
    bearer_headers,
    bearer_token,
    dial_http,
    dial_http_path,
    handle_http,
    start_http,
)

from conftest import CODECS, CountingSearch

SHORT = 0.5  # handshake timeout for tests about silent or slow peers


@pytest.fixture
def serving(server):
    with start_http(server, handshake_timeout=SHORT) as serving:
        yield serving


def connect(serving) -> socket.socket:
    host, port = serving.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_all(sock) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def read_until(sock, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def still_serving(serving, **options) -> None:
    with dial_http("tcp", serving.address, timeout=10, **options) as client:
        assert client.call("Arith.Multiply", Args(6, 7), reply_type=int) == 42


# ------------------------------------------------------------------ the tunnel


@pytest.mark.parametrize("codec", CODECS)
def test_call_through_the_tunnel(server, codec):
    with start_http(server, codec=codec) as serving, dial_http("tcp", serving.address, codec=codec) as client:
        assert client.call("Arith.Multiply", Args(7, 8), reply_type=int) == 56
        assert client.call("Arith.Divide", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


def test_server_error_comes_through_the_tunnel(serving):
    with dial_http("tcp", serving.address) as client, pytest.raises(ServerError, match="^divide by zero$"):
        client.call("Arith.Divide", Args(1, 0), reply_type=Quotient)


def test_server_answers_connect_with_go_status_line(serving):
    with connect(serving) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\n\n")
        assert read_until(sock, b"\n\n") == b"HTTP/1.0 200 Connected to Go RPC\n\n"


def test_rpc_bytes_sent_with_the_handshake_are_not_lost(server):
    """A client that does not wait for the 200 still gets its call served."""
    request = minirpc.jsonrpc.ClientFormat().encode(minirpc.Request("Arith.Multiply", 0), Args(3, 4))
    with start_http(server, codec="json") as serving, connect(serving) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\n\n" + request)
        read_until(sock, b"\n\n")
        reply = json.loads(read_until(sock, b"\n"))
    assert reply == {"id": 0, "result": 12, "error": None}


def test_many_tunnels_at_once(serving):
    clients = [dial_http("tcp", serving.address) for _ in range(5)]
    try:
        calls = [c.go("Arith.Multiply", Args(i, 2), reply_type=int) for i, c in enumerate(clients)]
        assert [call.result(timeout=10) for call in calls] == [0, 2, 4, 6, 8]
    finally:
        for c in clients:
            c.close()


def test_dial_http_path_takes_the_path_positionally(server):
    with start_http(server, rpc_path="/rpc") as serving, dial_http_path("tcp", serving.address, "/rpc") as client:
        assert client.call("Arith.Multiply", Args(2, 3), reply_type=int) == 6


def test_closing_the_serving_ends_open_tunnels(server):
    serving = start_http(server)
    client = dial_http("tcp", serving.address)
    assert client.call("Arith.Multiply", Args(1, 1), reply_type=int) == 1
    serving.close()
    with pytest.raises((ShutdownError, ConnectionLost)):
        client.call("Arith.Multiply", Args(1, 1), reply_type=int, timeout=10)
    client.close()


# ------------------------------------------------------------- Go's HTTP answers


def test_other_method_on_rpc_path_gets_405_must_connect(serving):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(serving.url + DEFAULT_RPC_PATH, timeout=10)
    assert caught.value.code == 405
    assert caught.value.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert caught.value.read() == b"405 must CONNECT\n"


def test_connect_to_unknown_path_gets_404(serving):
    with connect(serving) as sock:
        sock.sendall(b"CONNECT /nope HTTP/1.0\n\n")
        assert read_all(sock).startswith(b"HTTP/1.0 404 Not Found\r\n")


def test_dial_http_wrong_path_fails_like_go(serving):
    with pytest.raises(HTTPTunnelError) as caught:
        dial_http("tcp", serving.address, path="/nope")
    assert str(caught.value) == f"dial-http tcp {serving.address}: unexpected HTTP response: 404 Not Found"


def test_tunnel_error_is_an_rpc_error_and_a_connection_error():
    assert issubclass(HTTPTunnelError, RPCError) and issubclass(HTTPTunnelError, ConnectionError)


def test_dial_http_to_a_peer_that_hangs_up_says_unexpected_eof():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        def read_then_hang_up():
            conn = listener.accept()[0]
            read_until(conn, b"\n\n")
            conn.close()

        thread = threading.Thread(target=read_then_hang_up)
        thread.start()
        with pytest.raises(HTTPTunnelError, match="unexpected EOF$"):
            dial_http("tcp", address, timeout=10)
        thread.join()


def test_dial_http_refuses_line_breaks_in_headers(serving):
    with pytest.raises(ValueError):
        dial_http("tcp", serving.address, headers={"X-Evil": "a\r\nInjected: yes"})


# ------------------------------------------------------------------ your own routes


def test_pages_of_your_own_share_the_port_with_rpc(server):
    web = handle_http(server)
    web.handle("/hello", lambda request: (200, "text/plain", b"hello\n"))
    web.handle("/echo", lambda request: (200, "application/octet-stream", request.body))
    with web.start("127.0.0.1:0") as serving:
        assert urllib.request.urlopen(serving.url + "/hello", timeout=10).read() == b"hello\n"
        assert urllib.request.urlopen(serving.url + "/echo", data=b"x" * 100_000, timeout=10).read() == b"x" * 100_000
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(serving.url + "/other", timeout=10)
        still_serving(serving)


def test_a_page_that_raises_is_a_500_and_the_server_lives(server):
    web = handle_http(server)
    web.handle("/boom", lambda request: 1 / 0)
    with web.start("127.0.0.1:0") as serving:
        with pytest.raises(urllib.error.HTTPError, match="500"):
            urllib.request.urlopen(serving.url + "/boom", timeout=10)
        still_serving(serving)


def test_two_servers_share_one_port_on_different_paths(server):
    # Go: HandleHTTP twice, with other paths; DialHTTPPath picks one
    other = minirpc.Server()
    other.register_name("Other", minirpc.examples.Arith())
    web = handle_http(server)
    handle_http(other, "/other", "/debug/other", codec="json", http_server=web)
    try:
        with web.start("127.0.0.1:0") as serving:
            with dial_http_path("tcp", serving.address, "/other", codec="json") as client:
                assert client.call("Other.Multiply", Args(6, 7), reply_type=int) == 42
                with pytest.raises(ServerError, match="can't find service Arith.Multiply"):
                    client.call("Arith.Multiply", Args(6, 7))
            still_serving(serving)
            assert b"Service Other" in urllib.request.urlopen(serving.url + "/debug/other", timeout=10).read()
    finally:
        other.close()


def test_closing_the_rpc_server_closes_its_http_server(server):
    serving = minirpc.http.start_http(server)
    server.close()
    with pytest.raises(OSError):
        dial_http("tcp", serving.address, timeout=2)


# ------------------------------------------------------------------ authentication


@pytest.fixture
def guarded(server):
    with start_http(server, auth=bearer_token("s3cret"), handshake_timeout=SHORT) as serving:
        yield serving


def test_right_bearer_token_gets_the_tunnel(guarded):
    still_serving(guarded, headers=bearer_headers("s3cret"))


@pytest.mark.parametrize("headers", [None, bearer_headers("wrong"), {"Authorization": "s3cret"}])
def test_wrong_or_missing_token_gets_401(guarded, headers):
    with pytest.raises(HTTPTunnelError, match="unexpected HTTP response: 401 Unauthorized$"):
        dial_http("tcp", guarded.address, headers=headers)


def test_refused_client_is_disconnected_before_any_rpc_byte(guarded):
    """RPC bytes sent after a refused CONNECT are never answered: the server hangs up."""
    request = minirpc.jsonrpc.ClientFormat().encode(minirpc.Request("Arith.Multiply", 0), Args(3, 4))
    with connect(guarded) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\n\n" + request)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.0 401 Unauthorized\r\n")
    assert answer.endswith(b"\r\n\r\n401 unauthorized\n")


def test_custom_auth_sees_the_connect_headers(server):
    seen = []

    def auth(headers):
        seen.append(headers.get("X-Team"))
        return headers.get("X-Team") == "blue"

    with start_http(server, auth=auth) as serving:
        still_serving(serving, headers={"X-Team": "blue"})
        with pytest.raises(HTTPTunnelError, match="401"):
            dial_http("tcp", serving.address, headers={"X-Team": "red"})
    assert seen == ["blue", "red"]


def test_debug_page_needs_the_token_too(guarded):
    with pytest.raises(urllib.error.HTTPError, match="401"):
        urllib.request.urlopen(guarded.url + "/debug/rpc", timeout=10)
    request = urllib.request.Request(guarded.url + "/debug/rpc", headers=bearer_headers("s3cret"))
    assert b"Service Arith" in urllib.request.urlopen(request, timeout=10).read()


# ------------------------------------------------------------------ hostile peers


def test_garbled_request_line_gets_400(serving):
    with connect(serving) as sock:
        sock.sendall(b"\x16\x03\x01 garbage garbage garbage garbage\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.0 400 ")
    still_serving(serving)


def test_endless_request_line_gets_431(serving):
    with connect(serving) as sock:
        try:
            sock.sendall(b"CONNECT /" + b"a" * 200_000)
        except OSError:
            pass  # the server may hang up before we finish sending
        assert read_all(sock).startswith(b"HTTP/1.0 431 ")
    still_serving(serving)


def test_headers_that_never_end_get_431(serving):
    with connect(serving) as sock:
        try:
            sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\r\n" + b"X-More: yes\r\n" * 20_000)
        except OSError:
            pass
        assert read_all(sock).startswith(b"HTTP/1.0 431 ")
    still_serving(serving)


def test_oversized_header_block_gets_431(server):
    with start_http(server, max_header_bytes=1024) as serving, connect(serving) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\r\nX-Big: " + b"b" * 2000 + b"\r\n\r\n")
        assert read_all(sock).startswith(b"HTTP/1.0 431 ")
        still_serving(serving)


def test_a_head_sent_a_few_bytes_at_a_time_is_searched_once_not_once_per_piece(monkeypatch):
    search = CountingSearch(minirpc.http._END_OF_HEAD)
    monkeypatch.setattr(minirpc.http, "_END_OF_HEAD", search)
    head = b"CONNECT /_goRPC_ HTTP/1.0\r\nX-Pad: " + b"a" * 30_000 + b"\r\n\r\n"
    parser = minirpc.http._Head()
    for i in range(0, len(head), 10):
        parser.receive_data(head[i:i + 10])
        message = parser.next_message()
    assert message.header[0] == "CONNECT /_goRPC_ HTTP/1.0" and message.header[1]["x-pad"] == "a" * 30_000
    assert search.looked_at <= 2 * len(head)  # (each piece looks again at the 3 bytes before it)


def test_silent_client_is_disconnected_while_others_are_served(serving):
    with connect(serving) as sock:
        still_serving(serving)  # served while the silent one waits
        assert read_all(sock) == b""  # then the handshake timeout hangs up on it


def test_client_dripping_headers_is_cut_off_at_the_deadline(serving):
    with connect(serving) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTTP/1.0\r\n")
        stop = threading.Event()

        def drip():  # one header line every 0.1 s, forever (until cut off)
            try:
                while not stop.wait(0.1):
                    sock.sendall(b"X-Drip: 1\r\n")
            except OSError:
                pass

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            still_serving(serving)
            assert read_all(sock) == b""
        finally:
            stop.set()
            dripper.join()


def test_client_that_hangs_up_mid_request_does_not_hurt_the_server(serving):
    with connect(serving) as sock:
        sock.sendall(b"CONNECT /_goRPC_ HTT")
    still_serving(serving)


def test_a_refused_tunnel_says_the_status_it_got(guarded):
    with pytest.raises(HTTPTunnelError) as caught:
        dial_http("tcp", guarded.address)
    assert caught.value.status == "401 Unauthorized"


@pytest.mark.parametrize("token", ["", "two words", "naïve", "line\nbreak"])
def test_a_token_that_cannot_travel_in_a_header_is_refused_at_once(token):
    with pytest.raises(ValueError, match="printable ASCII"):
        bearer_token(token)
    with pytest.raises(ValueError, match="printable ASCII"):
        bearer_headers(token)


def test_a_tunnel_refuses_a_codec_of_your_own_when_it_is_mounted(server):
    def own_codec(conn):  # a Go-style ServerCodec factory: it would read the socket itself
        raise AssertionError("never called")

    web = minirpc.http.HTTPServer()
    with pytest.raises(TypeError, match="a codec of your own reads its socket itself.*Server.start"):
        web.handle_rpc("/own", server, codec=own_codec)
    assert "/own" not in web.routes
    with pytest.raises(ValueError, match="unknown codec 'xml'"):
        web.handle_rpc("/xml", server, codec="xml")
