"""Requests that arrive in one read run as a batch on the worker that read them
(minirpc.connection.Batch), their replies corked into one write; a request that
arrives alone runs on the worker that read it, which keeps the connection to read
it again after the reply.  Both must still behave as if every call ran on its
own, as Go's goroutines do."""

from __future__ import annotations

import socket
import threading

import pytest

import minirpc
from conftest import Args
from rawwire import client_format, connect, read_replies, requests

DEADLINE = 10.0


class Gate:
    """Calls that wait for each other: Wait returns once Open was called."""

    def __init__(self):
        self.opened = threading.Event()
        self.waiting = threading.Event()  # a Wait call is running

    def Wait(self, n: int) -> int:
        self.waiting.set()
        if not self.opened.wait(DEADLINE):
            raise RuntimeError("never opened")
        return n

    def Open(self, n: int) -> int:
        self.opened.set()
        return n

    def Add(self, args: Args) -> int:
        return args.A + args.B


@pytest.fixture
def gate():
    gate = Gate()
    yield gate
    gate.opened.set()  # whatever a test did, no call is left waiting


@pytest.fixture
def gate_serving(gate, codec):
    server = minirpc.Server()
    server.register(gate)
    with server, server.start("127.0.0.1:0", codec=codec) as serving:
        yield serving


def send_in_one_write(address: str, codec: str, calls: list) -> tuple:
    """Send every request in one sendall, so that the server reads them together."""
    sock, fmt = connect(address), client_format(codec)
    sock.sendall(requests(fmt, calls))
    return sock, fmt


def test_a_call_waiting_for_a_later_call_of_the_same_read_is_not_deadlocked(gate_serving, codec):
    sock, fmt = send_in_one_write(gate_serving.address, codec, [("Gate.Wait", 1), ("Gate.Open", 2)])
    with sock:
        assert read_replies(sock, fmt, 2) == {0: 1, 1: 2}


def test_replies_of_a_read_leave_although_one_of_its_calls_never_ends(gate_serving, codec, gate):
    calls = [("Gate.Add", Args(1, 1)), ("Gate.Wait", 0), ("Gate.Add", Args(2, 2)), ("Gate.Add", Args(3, 3))]
    sock, fmt = send_in_one_write(gate_serving.address, codec, calls)
    with sock:
        assert read_replies(sock, fmt, 3) == {0: 2, 2: 4, 3: 6}  # while Wait still waits
        assert not gate.opened.is_set()
        gate.opened.set()
        assert read_replies(sock, fmt, 1) == {1: 0}


def test_every_reply_of_a_large_read_arrives_once(gate_serving, codec):
    calls = [("Gate.Add", Args(i, 1)) for i in range(128)]  # the server's max_in_flight
    sock, fmt = send_in_one_write(gate_serving.address, codec, calls)
    with sock:
        assert read_replies(sock, fmt, 128) == {i: i + 1 for i in range(128)}
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # and nothing more


def test_a_client_gone_in_the_middle_of_a_batch_leaves_the_server_serving(gate_serving, codec, gate):
    sock, _ = send_in_one_write(gate_serving.address, codec, [("Gate.Wait", 0), ("Gate.Add", Args(1, 1))])
    sock.close()
    gate.opened.set()
    with minirpc.dial("tcp", gate_serving.address, codec=codec) as client:
        assert client.call("Gate.Add", Args(5, 5)) == 10


def test_a_server_closing_during_a_batch_names_only_its_calls_still_running(gate, codec):
    server = minirpc.Server()
    server.register(gate)
    serving = server.start("127.0.0.1:0", codec=codec)
    try:
        calls = [("Gate.Add", Args(1, 1)), ("Gate.Wait", 0), ("Gate.Add", Args(2, 2))]
        sock, fmt = send_in_one_write(serving.address, codec, calls)
        with sock:
            assert read_replies(sock, fmt, 2) == {0: 2, 2: 4}  # the batch goes on: Wait still waits
            abandoned = server.close_connections(timeout=0.1)
    finally:
        gate.opened.set()
        server.close()
    assert [name.split(" ")[0] for name in abandoned] == ["Gate.Wait"]


def send_alone_and_wait_until_it_runs(address: str, codec: str, gate: Gate, call: tuple) -> tuple:
    """Send one request by itself and return once the server runs it (a lone request)."""
    sock, fmt = send_in_one_write(address, codec, [call])
    assert gate.waiting.wait(DEADLINE)
    return sock, fmt


def test_a_lone_call_waiting_for_a_later_request_on_its_connection_is_not_deadlocked(gate_serving, codec, gate):
    sock, fmt = send_alone_and_wait_until_it_runs(gate_serving.address, codec, gate, ("Gate.Wait", 1))
    with sock:
        sock.sendall(requests(fmt, [("Gate.Open", 2)], start=1))  # read only if the server lets the socket go
        assert read_replies(sock, fmt, 2) == {0: 1, 1: 2}


def test_requests_behind_a_lone_call_that_never_ends_are_answered(gate_serving, codec, gate):
    sock, fmt = send_alone_and_wait_until_it_runs(gate_serving.address, codec, gate, ("Gate.Wait", 0))
    with sock:
        for seq in range(1, 4):  # one write each: lone requests too
            sock.sendall(requests(fmt, [("Gate.Add", Args(seq, seq))], start=seq))
            assert read_replies(sock, fmt, 1) == {seq: 2 * seq}
        assert not gate.opened.is_set()  # answered while Wait still waits
        gate.opened.set()
        assert read_replies(sock, fmt, 1) == {0: 0}


def test_a_client_calling_in_a_loop_gets_every_reply_in_order(gate_serving, codec):
    sock, fmt = connect(gate_serving.address), client_format(codec)
    with sock:
        for seq in range(200):
            sock.sendall(requests(fmt, [("Gate.Add", Args(seq, 1))], start=seq))
            assert read_replies(sock, fmt, 1) == {seq: seq + 1}


def drain(sock: socket.socket) -> None:
    """Read and drop whatever comes, until the socket closes."""
    try:
        while sock.recv(1 << 16):
            pass
    except OSError:
        pass


class Relay:
    """Next(n) sends request n + 1 on the relay's own connection before it returns, so that a
    worker that reads that connection again after each reply always finds one request there."""

    LIMIT = 400

    def __init__(self, codec: str):
        self.sock, self.fmt = None, client_format(codec)
        self.ran = 0
        self.started = threading.Event()
        self.ran_when_other_ran: int | None = None

    def Next(self, n: int) -> int:
        self.ran = n
        self.started.set()
        if self.ran_when_other_ran is None and n < self.LIMIT:
            self.sock.sendall(requests(self.fmt, [("Relay.Next", n + 1)], start=n + 1))
        return n

    def Other(self, n: int) -> int:
        self.ran_when_other_ran = self.ran
        return n


def test_a_worker_lets_a_connection_go_that_always_has_a_request_ready(codec):
    relay = Relay(codec)
    server = minirpc.Server(workers=1)  # one worker: while it keeps one connection, nobody reads another
    server.register(relay)
    with server, server.start("127.0.0.1:0", codec=codec) as serving:
        relay.sock, other = connect(serving.address), connect(serving.address)
        drained = threading.Thread(target=drain, args=(relay.sock,), daemon=True)  # (so that push-back never steps in)
        try:
            drained.start()
            relay.sock.sendall(requests(relay.fmt, [("Relay.Next", 0)]))
            assert relay.started.wait(DEADLINE)
            fmt = client_format(codec)
            other.sendall(requests(fmt, [("Relay.Other", 7)]))
            assert read_replies(other, fmt, 1) == {0: 7}
            assert relay.ran_when_other_ran < Relay.LIMIT // 2  # served long before the relay ran dry
        finally:
            relay.ran_when_other_ran = relay.ran_when_other_ran or 0
            relay.sock.shutdown(socket.SHUT_RDWR)  # (close alone would not wake the drain in recv)
            relay.sock.close()
            other.close()
            drained.join(DEADLINE)
        assert not drained.is_alive()
