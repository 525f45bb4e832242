"""Who writes a client's requests (minirpc.client's module doc): a lone call is written by
its caller before go()/call() returns; go() calls started while others are in flight are
kept back and leave together, written by the client's writer thread, in the order they
were started.  A request that cannot be written fails its own call."""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time

import pytest

import minirpc
from minirpc import jsonrpc
from minirpc.codec import wire_format
from minirpc.format import NEED_DATA
from minirpc.stream import Stream

from conftest import Args, FourMethods, tls_contexts

DEADLINE = 10.0


class RecordingSocket:
    """A socket that records every write made on it: the writing thread's name and the bytes."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.writes: list[tuple[str, bytes]] = []

    def sendall(self, data) -> None:
        self.writes.append((threading.current_thread().name, bytes(data)))
        self._sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self._sock, name)


@pytest.fixture
def recorded(serving, codec):
    """A client whose socket records its writes, connected to the test server."""
    host, port = serving.address.rsplit(":", 1)
    sock = RecordingSocket(socket.create_connection((host, int(port))))
    with minirpc.new_client(sock, codec) as client:
        yield client, sock


@pytest.fixture
def long_switch_interval():
    """The GIL stays with the running thread until it waits (not taken away every 5 ms)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    yield
    sys.setswitchinterval(before)


def sequence_numbers(codec: str, writes: list[tuple[str, bytes]]) -> list[int]:
    """The requests' sequence numbers, in the order the bytes of ``writes`` carry them."""
    data = b"".join(data for _, data in writes)
    if codec == "json":  # (the JSON server format numbers requests its own way: read the ids)
        return [json.loads(line)["id"] for line in data.splitlines()]
    fmt = wire_format(codec).server(1 << 20)
    fmt.receive_data(data)
    seqs = []
    while (message := fmt.next_message()) is not NEED_DATA:
        seqs.append(message.header.seq)
    return seqs


def test_a_lone_go_call_is_written_by_its_caller_before_go_returns(recorded):
    client, sock = recorded
    call = client.go("Arith.Add", Args(1, 2))
    assert [name for name, _ in sock.writes] == [threading.current_thread().name]
    assert call.result(DEADLINE) == 3


def test_a_lone_synchronous_call_is_written_by_its_caller(recorded):
    client, sock = recorded
    assert client.call("Arith.Add", Args(1, 2)) == 3
    assert [name for name, _ in sock.writes] == [threading.current_thread().name]


def test_go_calls_started_back_to_back_leave_in_fewer_writes_than_calls(recorded, codec, long_switch_interval):
    client, sock = recorded
    calls = [client.go("Arith.Add", Args(i, 1)) for i in range(50)]
    assert [c.result(DEADLINE) for c in calls] == [i + 1 for i in range(50)]
    assert len(sock.writes) < 25
    assert "minirpc-client-writer" in {name for name, _ in sock.writes}


def requests_per_write(codec: str, writes: list[tuple[str, bytes]]) -> list[int]:
    """How many whole requests each write carried (a write never splits one)."""
    fmt, counts = wire_format(codec).server(1 << 20), []
    for _, data in writes:
        fmt.receive_data(data)
        counts.append(0)
        while fmt.next_message() is not NEED_DATA:
            counts[-1] += 1
    return counts


def test_a_long_burst_leaves_in_writes_of_at_most_max_held_requests(recorded, codec, long_switch_interval):
    client, sock = recorded
    n = 1 + 5 * minirpc.client.MAX_HELD
    calls = [client.go("Arith.Add", Args(i, 1)) for i in range(n)]
    assert [c.result(DEADLINE) for c in calls] == [i + 1 for i in range(n)]
    counts = requests_per_write(codec, sock.writes)
    assert sum(counts) == n
    assert max(counts) <= minirpc.client.MAX_HELD
    assert len(counts) < n // 4  # (and still far fewer writes than requests)


def test_requests_kept_back_leave_in_the_order_they_were_started(recorded, codec):
    client, sock = recorded
    calls = [client.go("Arith.Add", Args(i, 1)) for i in range(200)]
    calls.append(client.go("Arith.Add", Args(200, 1)))
    assert client.call("Arith.Add", Args(201, 1)) == 202  # behind the ones kept back
    assert [c.result(DEADLINE) for c in calls] == [i + 1 for i in range(201)]
    assert sequence_numbers(codec, sock.writes) == list(range(202))


def test_a_request_kept_back_that_cannot_be_written_fails_its_own_call(codec):
    a, b = socket.socketpair()
    with minirpc.new_client(a, codec) as client:
        first = client.go("Arith.Add", Args(1, 1))  # written: it waits for a reply that never comes
        b.shutdown(socket.SHUT_RD)  # from now on writes to the peer fail (EPIPE)
        second = client.go("Arith.Add", Args(2, 2))  # kept back, then the writer's write fails
        assert isinstance(second.exception(DEADLINE), BrokenPipeError)
        assert not first.done()  # its request went out: it still waits, as in Go
    assert isinstance(first.exception(DEADLINE), minirpc.ShutdownError)
    b.close()


def test_a_synchronous_call_behind_a_failed_write_fails_rather_than_waits(codec):
    a, b = socket.socketpair()
    with minirpc.new_client(a, codec) as client:
        client.go("Arith.Add", Args(1, 1))  # written
        b.shutdown(socket.SHUT_RD)
        kept = client.go("Arith.Add", Args(2, 2))  # kept back
        raised = []

        def synchronous_call():  # (it reads its own reply: a request never written would leave it waiting)
            try:
                client.call("Arith.Add", Args(3, 3))
            except Exception as e:
                raised.append(e)

        caller = threading.Thread(target=synchronous_call)
        caller.start()
        caller.join(DEADLINE)
        assert not caller.is_alive(), "the synchronous call waits for a reply to a request never written"
        assert isinstance(raised[0], BrokenPipeError)
        assert isinstance(kept.exception(DEADLINE), BrokenPipeError)
    caller.join()
    b.close()


def test_closing_a_client_wakes_a_caller_blocked_writing_to_a_peer_that_does_not_read(codec):
    a, b = socket.socketpair()  # nobody reads b
    client = minirpc.new_client(a, codec)
    calls = []
    caller = threading.Thread(target=lambda: calls.append(client.go("X.Y", "x" * (8 << 20))), daemon=True)
    caller.start()  # (8 MiB: far more than the socket's buffers hold, so its write blocks)
    deadline = time.monotonic() + DEADLINE
    while not client.codec.stream.send_lock.locked() and time.monotonic() < deadline:
        time.sleep(0.001)
    closer = threading.Thread(target=client.close, daemon=True)
    closer.start()
    closer.join(DEADLINE)
    caller.join(DEADLINE)
    assert not closer.is_alive(), "close() waits for a write that can never finish"
    assert not caller.is_alive()
    # the call fails: its write, on a socket shut, or (if close() got there first) as Go's pending calls do
    assert isinstance(calls[0].exception(DEADLINE), (OSError, minirpc.ShutdownError))
    b.close()


def test_a_codec_of_ones_own_gets_every_request_written_by_its_caller(serving, codec):
    host, port = serving.address.rsplit(":", 1)
    own = FourMethods(minirpc.codec.client_codec(codec, socket.create_connection((host, int(port)))))
    with minirpc.new_client_with_codec(own) as client:
        calls = [client.go("Arith.Add", Args(i, 1)) for i in range(20)]
        assert [c.result(DEADLINE) for c in calls] == [i + 1 for i in range(20)]
    assert own.writers == [threading.current_thread().name] * 20


def test_a_message_sent_later_waits_in_the_outbox_until_flush():
    a, b = socket.socketpair()
    stream = Stream(a, jsonrpc.ClientFormat())
    b.setblocking(False)
    try:
        assert stream.send(minirpc.Request("Arith.Add", 0), Args(1, 2), later=True) > 0
        with pytest.raises(BlockingIOError):
            b.recv(1024)
        assert stream.flush() == 0
        assert b.recv(1024) == b'{"method":"Arith.Add","params":[{"A":1,"B":2}],"id":0}\n'
    finally:
        stream.close()
        b.close()


def test_a_message_sent_now_goes_out_after_those_waiting():
    a, b = socket.socketpair()
    stream = Stream(a, jsonrpc.ClientFormat())
    try:
        stream.send(minirpc.Request("A.B", 0), 1, later=True)
        stream.send(minirpc.Request("A.B", 1), 2, later=True)
        assert stream.send(minirpc.Request("A.B", 2), 3) == 0
        expected = b"".join(b'{"method":"A.B","params":[%d],"id":%d}\n' % (i + 1, i) for i in range(3))
        got = b""
        while len(got) < len(expected):
            got += b.recv(1024)
        assert got == expected
    finally:
        stream.close()
        b.close()


def test_messages_whose_write_failed_are_not_written_again_with_the_next():
    class FailingOnce(RecordingSocket):
        def sendall(self, data):
            if not self.writes:
                self.writes.append(("failed", bytes(data)))
                raise OSError("the first write fails")
            super().sendall(data)

    a, b = socket.socketpair()
    sock = FailingOnce(a)
    stream = Stream(sock, jsonrpc.ClientFormat())
    try:
        stream.send(minirpc.Request("A.B", 0), 1, later=True)
        with pytest.raises(OSError, match="first write fails"):
            stream.flush()  # (its call fails with this error: the request must not go out later)
        stream.send(minirpc.Request("A.B", 1), 2)
        assert [data for _, data in sock.writes[1:]] == [b'{"method":"A.B","params":[2],"id":1}\n']
    finally:
        stream.close()
        b.close()


def test_a_kept_back_call_that_fails_may_start_another_call_from_its_done_callback(codec, long_switch_interval):
    a, b = socket.socketpair()
    with minirpc.new_client(a, codec) as client:
        client.go("Arith.Add", Args(1, 1))  # written
        b.shutdown(socket.SHUT_RD)  # from now on writes to the peer fail (EPIPE)
        kept = client.go("Arith.Add", Args(2, 2))  # kept back: its caller has it, and may add callbacks
        retried = []
        kept.add_done_callback(lambda call: retried.append(client.go("Arith.Add", Args(3, 3))))  # a retry
        # (the writer's write fails: the callback runs, and calls again)
        assert isinstance(kept.exception(DEADLINE), BrokenPipeError)
        assert isinstance(retried[0].exception(DEADLINE), BrokenPipeError)  # it ran, and did not hang
    b.close()


def test_a_codec_that_changes_write_request_gets_every_request_through_it(serving, codec):
    class Counting(minirpc.codec.StreamClientCodec):
        written = 0

        def write_request(self, request, body):
            Counting.written += 1
            super().write_request(request, body)

    host, port = serving.address.rsplit(":", 1)
    own = Counting(Stream(socket.create_connection((host, int(port))), wire_format(codec).client(1 << 20)))
    with minirpc.new_client_with_codec(own) as client:
        calls = [client.go("Arith.Add", Args(i, 1)) for i in range(20)]
        assert [c.result(DEADLINE) for c in calls] == [i + 1 for i in range(20)]
    assert Counting.written == 20  # none went round it through the inherited queue_request


def test_a_failed_flush_on_tls_raises_the_write_error_and_keeps_nothing_to_resend():
    server_context, client_context = tls_contexts()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def reset_after_the_handshake():
            conn, _ = listener.accept()
            tls = server_context.wrap_socket(conn, server_side=True)
            tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            tls.close()  # with SO_LINGER 0: a reset

        peer = threading.Thread(target=reset_after_the_handshake)
        peer.start()
        sock = client_context.wrap_socket(socket.create_connection(listener.getsockname()),
                                          server_hostname="127.0.0.1")
        peer.join(DEADLINE)
        stream = Stream(sock, jsonrpc.ClientFormat())
        try:
            for seq in range(3):
                stream.send(minirpc.Request("A.B", seq), 1, later=True)
                with pytest.raises(OSError):  # the write's own error (ssl's, a reset, a broken pipe)
                    deadline = time.monotonic() + DEADLINE
                    while time.monotonic() < deadline:  # (the reset may take a moment to arrive)
                        stream.flush()
                        stream.send(minirpc.Request("A.B", seq), 1, later=True)
                assert len(stream.outbox) == 0  # nothing left to go out with the next message
        finally:
            stream.close()  # and close() is clean
