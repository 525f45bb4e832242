"""The HTTP tunnel against real Go: Go's DialHTTP -> us, our dial_http -> Go's HandleHTTP.

``gohttp`` (tests/interop/gohttp, standard library only) is built once per
session.  Go's net/rpc tunnel always speaks gob; the "json" runs use the same
CONNECT handshake followed by Go's jsonrpc codec on both ends.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from minirpc.errors import ServerError
from minirpc.examples import Args, Quotient
from minirpc.http import HTTPTunnelError, dial_http, start_http

from goenv import go_build, stop_by_closing_stdin

GOHTTP = Path(__file__).parent / "gohttp"
CODECS = ["gob", "json"]
EXPECTED = {"multiply": 56, "divide": {"Quo": 3, "Rem": 2}, "divide_error": "divide by zero"}


@pytest.fixture(scope="session")
def gohttp() -> Path:
    return go_build(GOHTTP)


def run_go(binary, *args) -> str:
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def go_server(gohttp, request):
    """Go's rpc.HandleHTTP server on 127.0.0.1:0; yields its address."""
    process = subprocess.Popen([str(gohttp), "server", request.param], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("LISTEN "), line
        yield request.param, line.split()[1]
    finally:
        stop_by_closing_stdin(process)


# ---------------------------------------------------------------- Go client -> our server


@pytest.mark.parametrize("codec", CODECS)
def test_go_dialhttp_client_calls_our_server(gohttp, server, codec):
    with start_http(server, codec=codec) as serving:
        assert json.loads(run_go(gohttp, "client", serving.address, codec)) == EXPECTED


def test_go_dialhttppath_wrong_path_gets_404_from_us(gohttp, server):
    with start_http(server) as serving:
        out = run_go(gohttp, "dialpath", serving.address, "/nope")
    assert out == f"dial-http tcp {serving.address}: unexpected HTTP response: 404 Not Found\n"


def test_go_fetches_our_debug_page(gohttp, server):
    with start_http(server) as serving:
        with dial_http("tcp", serving.address) as client:
            client.call("Arith.Multiply", Args(1, 2), reply_type=int)
        status, content_type, body = run_go(gohttp, "get", serving.url + "/debug/rpc").split("\n", 2)
    assert (status, content_type) == ("200 OK", "text/html; charset=utf-8")
    assert "Service Arith" in body and "<code>Multiply(Args) -&gt; int</code></td><td align=\"center\">1</td>" in body


def test_go_get_on_rpc_path_gets_the_405_go_would_send(gohttp, server):
    with start_http(server) as serving:
        out = run_go(gohttp, "get", serving.url + "/_goRPC_")
    assert out == "405 Method Not Allowed\ntext/plain; charset=utf-8\n405 must CONNECT\n"


# ---------------------------------------------------------------- our client -> Go server


@pytest.mark.parametrize("go_server", CODECS, indirect=True)
def test_our_dial_http_calls_go_handlehttp(go_server):
    codec, address = go_server
    with dial_http("tcp", address, codec=codec, timeout=10) as client:
        assert client.call("Arith.Multiply", Args(7, 8), reply_type=int) == 56
        assert client.call("Arith.Divide", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)
        with pytest.raises(ServerError, match="^divide by zero$"):
            client.call("Arith.Divide", Args(1, 0), reply_type=Quotient)


@pytest.mark.parametrize("go_server", ["gob"], indirect=True)
def test_our_dial_http_wrong_path_matches_go_text(go_server):
    _, address = go_server
    with pytest.raises(HTTPTunnelError) as caught:
        dial_http("tcp", address, path="/nope", timeout=10)
    assert str(caught.value) == f"dial-http tcp {address}: unexpected HTTP response: 404 Not Found"


@pytest.mark.parametrize("go_server", ["gob"], indirect=True)
def test_go_405_is_what_we_send(go_server):
    _, address = go_server
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://{address}/_goRPC_", timeout=10)
    assert caught.value.code == 405
    assert caught.value.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert caught.value.read() == b"405 must CONNECT\n"


@pytest.mark.parametrize("go_server", ["gob"], indirect=True)
def test_cli_calls_go_over_http(go_server):
    _, address = go_server
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root))
    result = subprocess.run([sys.executable, "-m", "minirpc", "call", address, "Arith.Divide", '{"A": 17, "B": 5}',
                             "--http", "--timeout", "10"], capture_output=True, text=True, timeout=60, env=env)
    assert (result.returncode, json.loads(result.stdout or "null")) == (0, {"Quo": 3, "Rem": 2}), result.stderr
