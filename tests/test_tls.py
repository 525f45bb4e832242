"""TLS for plain TCP and for the HTTP tunnel, with a throwaway CA from trustme."""

from __future__ import annotations

import ssl
import urllib.request

import pytest

import minirpc
from minirpc.examples import Args, Arith
from minirpc.http import HTTPTunnelError, bearer_headers, bearer_token, dial_http, start_http

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def stranger_context():
    """Trusts a different CA: the server's certificate means nothing to it."""
    context = ssl.create_default_context()
    trustme.CA().configure_trust(context)
    return context


@pytest.fixture
def server():
    server = minirpc.Server()
    server.register(Arith())
    yield server
    server.close()


def multiply(client) -> int:
    with client:
        return client.call("Arith.Multiply", Args(7, 8), reply_type=int)


# ------------------------------------------------------------------ plain TCP


def test_plain_tcp_call_over_tls(server, server_context, client_context):
    with server.start(ssl_context=server_context) as serving:
        assert multiply(minirpc.dial("tcp", serving.address, ssl_context=client_context)) == 56


class OwnGobCodec:
    """A codec of one's own (Go's ServerCodec shape), reading its socket itself."""

    def __init__(self, conn):
        self._inner = minirpc.codec.server_codec("gob", conn)
        self.read_request_header = self._inner.read_request_header
        self.read_request_body = self._inner.read_request_body
        self.write_response = self._inner.write_response
        self.close = self._inner.close


def test_a_codec_of_your_own_is_served_over_tls_too(server, server_context, client_context):
    with server.start(codec=OwnGobCodec, ssl_context=server_context) as serving:
        assert multiply(minirpc.dial("tcp", serving.address, ssl_context=client_context)) == 56
        with minirpc.dial("tcp", serving.address, timeout=10) as plain:  # no TLS: never answered in the clear
            with pytest.raises((minirpc.ConnectionLost, minirpc.CallTimeout)):
                plain.call("Arith.Multiply", Args(7, 8), timeout=2)


def test_plain_tcp_refuses_a_server_from_the_wrong_ca(server, server_context, stranger_context, client_context):
    with server.start(ssl_context=server_context) as serving:
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            minirpc.dial("tcp", serving.address, ssl_context=stranger_context, timeout=10)
        assert multiply(minirpc.dial("tcp", serving.address, ssl_context=client_context)) == 56


def test_plain_tcp_refuses_the_wrong_hostname(server, server_context, client_context):
    with server.start(ssl_context=server_context) as serving:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch|doesn't match"):
            minirpc.dial("tcp", serving.address, ssl_context=client_context, server_hostname="example.com")


# ------------------------------------------------------------------ HTTP tunnel


@pytest.fixture
def https(server, server_context):
    with start_http(server, ssl_context=server_context, handshake_timeout=2) as serving:
        yield serving


def test_tunnel_over_tls(https, client_context):
    assert https.url.startswith("https://")
    assert multiply(dial_http("tcp", https.address, ssl_context=client_context)) == 56


def test_debug_page_over_https(https, client_context):
    with urllib.request.urlopen(https.url + "/debug/rpc", context=client_context, timeout=10) as response:
        assert b"Service Arith" in response.read()


def test_tunnel_refuses_a_server_from_the_wrong_ca(https, stranger_context, client_context):
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        dial_http("tcp", https.address, ssl_context=stranger_context, timeout=10)
    assert multiply(dial_http("tcp", https.address, ssl_context=client_context)) == 56


def test_plain_http_client_to_a_tls_server_fails_clearly(https, client_context):
    with pytest.raises(HTTPTunnelError, match="unexpected HTTP response: 400 Bad Request$"):
        dial_http("tcp", https.address, timeout=10)
    assert multiply(dial_http("tcp", https.address, ssl_context=client_context)) == 56


def test_token_and_tls_together(server, server_context, client_context):
    with start_http(server, ssl_context=server_context, auth=bearer_token("t0ken")) as serving:
        with pytest.raises(HTTPTunnelError, match="401 Unauthorized$"):
            dial_http("tcp", serving.address, ssl_context=client_context, headers=bearer_headers("nope"))
        with pytest.raises(HTTPTunnelError, match="401 Unauthorized$"):
            dial_http("tcp", serving.address, ssl_context=client_context)
        client = dial_http("tcp", serving.address, ssl_context=client_context, headers=bearer_headers("t0ken"))
        assert multiply(client) == 56
