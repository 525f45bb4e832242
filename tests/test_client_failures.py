"""How a client fails: a stream that ends mid-reply, Ctrl-C, and time limits that hold.

Each test here once failed: a call that hung forever when the server hung up
between a reply's header and its body; a client broken for good by one Ctrl-C;
``dial(timeout=)`` that did not bound the TLS or the HTTP handshake.
"""

from __future__ import annotations

import signal
import socket
import ssl
import threading

import pytest

import minirpc
from minirpc.errors import ConnectionLost, ShutdownError
from minirpc import codec as mcodec
from minirpc.format import NEED_DATA, Response
from minirpc.gob import rpc as gobrpc
from minirpc.http import dial_http

from conftest import Args

HANG_GUARD = 10.0  # seconds: a test that takes longer than this has found a hang


class Peer:
    """A listening socket on 127.0.0.1 whose connections a test drives by hand."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []

    def accept(self) -> socket.socket:
        self.listener.settimeout(HANG_GUARD)
        conn, _ = self.listener.accept()
        conn.settimeout(HANG_GUARD)
        self.conns.append(conn)
        return conn

    def close(self):
        for conn in self.conns:
            conn.close()
        self.listener.close()


@pytest.fixture
def peer():
    p = Peer()
    yield p
    p.close()


def read_requests(conn: socket.socket, n: int, codec: str = "gob") -> None:
    """Read n whole requests off a connection, with minirpc's own format."""
    fmt = mcodec.wire_format(codec).server(1 << 20)
    while n:
        message = fmt.next_message()
        if message is NEED_DATA:
            fmt.receive_data(conn.recv(65536))
        else:
            n -= 1


def in_thread(fn, *args):
    """Run fn in a thread; return (thread, box) where box gets the result or the exception."""
    box: list = []

    def run():
        try:
            box.append(fn(*args))
        except BaseException as e:  # noqa: BLE001 - the test looks at it
            box.append(e)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


# ------------------------------------------------------------------ a reply cut short


def test_a_stream_that_ends_between_a_replys_header_and_its_body_fails_the_call_like_go(peer):
    client = minirpc.dial(peer.address, codec="gob")
    try:
        thread, box = in_thread(client.call, "Arith.Add", Args(1, 2))
        conn = peer.accept()
        read_requests(conn, 1)
        header = gobrpc.ServerFormat().encode(Response("Arith.Add", 0), 3, int)
        conn.sendall(header[:-4])  # the whole header message, and the body's message cut short
        conn.close()
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), "the call hung after the stream ended mid-reply"
        assert isinstance(box[0], ConnectionLost) and str(box[0]) == "reading body unexpected EOF"
        with pytest.raises(ShutdownError):
            client.call("Arith.Add", Args(1, 2))
    finally:
        client.close()


def test_every_pending_call_fails_when_the_stream_ends_mid_reply(peer):
    client = minirpc.dial(peer.address, codec="gob")
    try:
        calls = [client.go("Arith.Add", Args(i, 1)) for i in range(3)]
        conn = peer.accept()
        read_requests(conn, 3)
        fmt = gobrpc.ServerFormat()
        whole = fmt.encode(Response("Arith.Add", 2), 3, int)
        conn.sendall(whole[:len(whole) - 3])
        conn.close()
        errors = [call.exception(timeout=HANG_GUARD) for call in calls]
        assert all(isinstance(e, ConnectionLost) and str(e) == "reading body unexpected EOF" for e in errors)
    finally:
        client.close()


def test_a_stream_that_ends_between_replies_is_an_unexpected_eof(peer):
    client = minirpc.dial(peer.address, codec="json")
    try:
        call = client.go("Arith.Add", Args(1, 2))
        conn = peer.accept()
        read_requests(conn, 1, codec="json")
        conn.close()  # a clean hang-up: FIN, not a reset (the request was read)
        assert str(call.exception(timeout=HANG_GUARD)) == "unexpected EOF"
    finally:
        client.close()


# ------------------------------------------------------------------ Ctrl-C


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
@pytest.mark.parametrize("codec", ["json", "gob"])
def test_ctrl_c_during_a_call_abandons_that_call_and_the_client_goes_on(serving, codec):
    client = minirpc.dial(serving.address, codec=codec)
    try:
        main = threading.main_thread().ident
        timer = threading.Timer(0.2, signal.pthread_kill, args=(main, signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.call("Arith.SleepMilli", 2000)  # interrupted, like a Jupyter "interrupt kernel"
        finally:
            timer.join()
        # the client still works, and the interrupted call's late reply is dropped on the way
        assert client.call("Arith.Add", Args(2, 3), timeout=HANG_GUARD) == 5
        assert client.call("Arith.SleepMilli", 1, timeout=HANG_GUARD) == 1
    finally:
        client.close()


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals go to the main thread")
def test_ctrl_c_while_another_thread_reads_abandons_the_call_too(serving, codec):
    client = minirpc.dial(serving.address, codec=codec)
    try:
        busy = client.go("Arith.SleepMilli", 600)  # the pump thread is reading now
        main = threading.main_thread().ident
        timer = threading.Timer(0.2, signal.pthread_kill, args=(main, signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.call("Arith.SleepMilli", 2000)
        finally:
            timer.join()
        assert busy.result(timeout=HANG_GUARD) == 600
        assert client.call("Arith.Add", Args(2, 3), timeout=HANG_GUARD) == 5
    finally:
        client.close()


# ------------------------------------------------------------------ time limits that hold


def test_dial_timeout_bounds_a_tls_handshake_that_never_comes(peer):
    context = ssl.create_default_context()
    thread, box = in_thread(lambda: minirpc.dial(peer.address, timeout=0.3, ssl_context=context))
    peer.accept()  # accepted, and then silence: no ServerHello ever
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "dial(timeout=) did not bound the TLS handshake"
    assert isinstance(box[0], TimeoutError) and "TLS handshake" in str(box[0])


def test_dial_http_timeout_bounds_a_connect_request_that_is_never_answered(peer):
    thread, box = in_thread(lambda: dial_http(peer.address, timeout=0.3))
    conn = peer.accept()
    thread.join(HANG_GUARD)
    assert not thread.is_alive(), "dial_http(timeout=) did not bound the HTTP handshake"
    assert isinstance(box[0], TimeoutError) and "no answer to CONNECT" in str(box[0])
    assert conn.recv(100).startswith(b"CONNECT /_goRPC_ HTTP/1.0")


def test_dial_http_timeout_bounds_tls_and_the_handshake_together(peer):
    context = ssl.create_default_context()
    thread, box = in_thread(lambda: dial_http(peer.address, timeout=0.3, ssl_context=context))
    peer.accept()
    thread.join(HANG_GUARD)
    assert not thread.is_alive() and isinstance(box[0], TimeoutError)


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(peer, timeout):
    with pytest.raises(ValueError, match="above 0"):
        minirpc.dial(peer.address, timeout=timeout)
