"""A call's ``timeout=`` bounds writing its request too, and a synchronous call with a timeout
reads its own reply (minirpc.client's module doc).

A server that stops reading fills the socket's buffers, and then a write waits: in Go for
ever.  Here a call with a timeout that could not start writing in time fails with
``CallTimeout`` and sends nothing, the connection untouched; one whose request went out
in part fails, and the connection is closed, since half a message cannot be taken back.
The stream underneath (``Stream.send``/``flush`` with ``deadline=``) says which it was."""

from __future__ import annotations

import socket
import threading

import pytest

import minirpc
from minirpc import jsonrpc, net
from minirpc.codec import wire_format
from minirpc.format import Response
from minirpc.stream import ReadTimeout, Stream, WriteTimeout

from conftest import Args, FourMethods, tls_contexts
from robustness.support import wait_until

DEADLINE = 10.0  # how long a test waits for what must happen (a hang fails the test, not CI)
BIG = "x" * (8 << 20)  # far more than a socket's buffers hold: its write waits for the peer


def fill(sock: socket.socket) -> None:
    """Write to ``sock`` until it takes not one byte more (nobody reads the other end)."""
    for size in (1 << 16, 1 << 10, 1):
        while True:
            try:
                sock.send(b"\0" * size, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break


def drain(sock: socket.socket, stop: threading.Event, into: bytearray) -> threading.Thread:
    """Read ``sock`` into ``into`` on a thread until ``stop`` is set and nothing more comes."""
    def read():
        sock.settimeout(0.05)
        while True:
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                if stop.is_set():
                    return
                continue
            except OSError:
                return
            if not data:
                return
            into.extend(data)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def in_a_thread(fn):
    """Run ``fn()`` on a thread; return what it returned or raised, failing if it hangs."""
    outcome = []

    def run():
        try:
            outcome.append(fn())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the call waits past its timeout"
    return outcome[0]


# -- the client


def test_a_call_with_a_timeout_to_a_server_that_does_not_read_fails_instead_of_waiting(codec):
    a, b = socket.socketpair()  # nobody reads b
    with minirpc.new_client(a, codec) as client:
        error = in_a_thread(lambda: client.call("Big.Echo", BIG, timeout=0.2))
        assert isinstance(error, minirpc.CallTimeout)
        assert "only part of the request was sent within 0.2 s" in str(error)
    b.close()


def test_after_a_request_went_out_in_part_the_connection_is_closed_and_every_call_fails(codec):
    a, b = socket.socketpair()
    client = minirpc.new_client(a, codec)
    waiting = client.go("Arith.Add", Args(1, 2))  # written whole: it waits for a reply
    in_a_thread(lambda: client.call("Big.Echo", BIG, timeout=0.2))
    assert isinstance(waiting.exception(DEADLINE), minirpc.ConnectionLost)
    assert "could not be written within its timeout" in str(waiting.exception())
    with pytest.raises(minirpc.ShutdownError):
        client.call("Arith.Add", Args(1, 2), timeout=1)
    client.close()  # (as in Go, closing a client whose connection broke is no error)
    b.close()


def test_a_go_call_with_a_timeout_that_goes_out_in_part_fails_the_same_way(codec):
    a, b = socket.socketpair()
    with minirpc.new_client(a, codec) as client:
        call = in_a_thread(lambda: client.go("Big.Echo", BIG, timeout=0.2))
        assert isinstance(call.exception(DEADLINE), minirpc.CallTimeout)
        assert "only part of the request" in str(call.exception())
    b.close()


def test_a_call_that_cannot_start_writing_in_time_fails_and_sends_nothing(codec):
    a, b = socket.socketpair()
    client = minirpc.new_client(a, codec)
    writer = threading.Thread(target=lambda: client.go("Big.Echo", BIG), daemon=True)
    writer.start()  # no timeout: it waits, as in Go, holding the one way onto the wire
    assert wait_until(client._sending.locked)
    error = in_a_thread(lambda: client.call("Never.Sent", Args(1, 2), timeout=0.2))
    assert isinstance(error, minirpc.CallTimeout)
    assert "not sent within 0.2 s: another request was still being written" in str(error)
    stop, received = threading.Event(), bytearray()
    reader = drain(b, stop, received)  # the server reads again: the big request goes, then the next
    writer.join(DEADLINE)
    client.go("After.Wards", Args(3, 4))
    assert wait_until(lambda: b"After.Wards" in received)
    stop.set()
    reader.join(DEADLINE)
    client.close()
    b.close()
    assert b"Never.Sent" not in received


def test_a_call_timed_out_before_writing_leaves_the_connection_in_step(serving, codec):
    host, port = serving.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    with minirpc.new_client(sock, codec) as client:
        client._sending.acquire()  # (as a writer blocked on a full socket holds it)
        try:
            with pytest.raises(minirpc.CallTimeout, match="not sent"):
                client.call("Arith.Add", Args(1, 2), timeout=0.05)
            late = client.go("Arith.Add", Args(5, 6), timeout=0.05)
            assert isinstance(late.exception(DEADLINE), minirpc.CallTimeout)
        finally:
            client._sending.release()
        assert client.call("Arith.Add", Args(7, 8), timeout=DEADLINE) == 15
        assert client.call("Arith.Mul", Args(7, 8)) == 56


def test_a_call_with_a_timeout_over_tls_to_a_server_that_does_not_read_fails_instead_of_waiting():
    server_context, client_context = tls_contexts()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        accepted = []

        def handshake_then_never_read():
            conn, _ = listener.accept()
            accepted.append(server_context.wrap_socket(conn, server_side=True))

        peer = threading.Thread(target=handshake_then_never_read)
        peer.start()
        sock = client_context.wrap_socket(socket.create_connection(listener.getsockname()),
                                          server_hostname="127.0.0.1")
        peer.join(DEADLINE)
        with minirpc.new_client(sock, "json") as client:
            error = in_a_thread(lambda: client.call("Big.Echo", BIG, timeout=0.2))
            assert isinstance(error, minirpc.CallTimeout)
        accepted[0].close()


def test_a_call_with_a_timeout_reads_its_own_reply_on_its_own_thread(client):
    assert client.call("Arith.Add", Args(1, 2), timeout=DEADLINE) == 3
    assert client._pump.thread is None  # no thread was woken to read it (a hand-off per call)


def test_a_call_waiting_on_a_reader_whose_call_times_out_still_gets_its_reply(client):
    outcomes = {}

    def timing_out():
        try:
            client.call("Arith.SleepMilli", 400, timeout=0.05)
        except minirpc.CallTimeout as e:
            outcomes["first"] = e

    first = threading.Thread(target=timing_out)
    first.start()  # it reads (if it got there first), and gives up after 0.05 s
    outcomes["second"] = in_a_thread(lambda: client.call("Arith.SleepMilli", 200, timeout=DEADLINE))
    first.join(DEADLINE)
    assert isinstance(outcomes["first"], minirpc.CallTimeout) and outcomes["second"] == 200


def test_a_reply_half_read_when_its_call_timed_out_is_finished_by_the_next_reader(codec):
    a, b = socket.socketpair()
    if codec == "json":  # (the JSON server format answers the ids of requests it read: written by hand)
        first, second = b'{"id":0,"result":5,"error":null}\n', b'{"id":1,"result":6,"error":null}\n'
    else:
        replies = wire_format(codec).server(1 << 20)
        first = replies.encode(Response("A.B", 0, ""), 5, int)
        second = replies.encode(Response("A.B", 1, ""), 6, int)
    with minirpc.new_client(a, codec) as client:
        b.sendall(first[:len(first) // 2])  # half a reply, and then nothing until the call gives up
        with pytest.raises(minirpc.CallTimeout, match="no reply within 0.1 s"):
            client.call("A.B", 1, reply_type=int, timeout=0.1)
        b.sendall(first[len(first) // 2:] + second)  # the rest of it (dropped: its call is gone), then the next
        assert client.call("A.B", 2, reply_type=int, timeout=DEADLINE) == 6
    b.close()


def test_a_call_with_a_timeout_through_a_codec_without_deadlines_is_read_by_the_pump(serving, codec):
    host, port = serving.address.rsplit(":", 1)
    own = FourMethods(minirpc.codec.client_codec(codec, socket.create_connection((host, int(port)))))
    with minirpc.new_client_with_codec(own) as client:
        assert client.call("Arith.Add", Args(1, 2), timeout=DEADLINE) == 3
        assert client._pump.thread is not None
        with pytest.raises(minirpc.CallTimeout):
            client.call("Arith.SleepMilli", 300, timeout=0.05)


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_a_call_timeout_that_is_not_a_positive_number_is_refused(timeout):
    a, b = socket.socketpair()
    with minirpc.new_client(a, "json") as client:
        with pytest.raises(ValueError, match="above 0"):
            client.call("Arith.Add", Args(1, 2), timeout=timeout)
        with pytest.raises(ValueError, match="above 0"):
            client.go("Arith.Add", Args(1, 2), timeout=timeout)
    b.close()


# -- the stream underneath


@pytest.fixture
def pair():
    """A blocking JSON client stream on one end of a socketpair, and the other end (the peer)."""
    a, b = socket.socketpair()
    stream = Stream(a, jsonrpc.ClientFormat())
    yield stream, b
    stream.close()
    b.close()


def test_a_write_with_a_deadline_to_a_full_socket_gives_up_having_written_nothing(pair):
    stream, _ = pair
    fill(stream.sock)
    with pytest.raises(WriteTimeout) as raised:
        stream.send(minirpc.Request("A.B", 1), 1, deadline=net.Deadline(0.05))
    assert raised.value.written == 0
    assert not stream.outbox  # nothing kept to go out later either


def test_a_write_with_a_deadline_that_gives_up_midway_says_how_much_went(pair):
    stream, _ = pair
    with pytest.raises(WriteTimeout) as raised:
        stream.send(minirpc.Request("A.B", 1), BIG, deadline=net.Deadline(0.05))
    assert 0 < raised.value.written < len(BIG)


def test_a_flush_that_gives_up_having_written_nothing_keeps_what_waits_in_order(pair):
    stream, peer = pair
    fill(stream.sock)
    stream.send(minirpc.Request("A.B", 0), 1, later=True)
    stream.send(minirpc.Request("A.B", 1), 2, later=True)
    waiting = bytes(stream.outbox)
    with pytest.raises(WriteTimeout) as raised:
        stream.flush(deadline=net.Deadline(0.05))
    assert raised.value.written == 0
    assert bytes(stream.outbox) == waiting
    received, stop = bytearray(), threading.Event()
    reader = drain(peer, stop, received)  # the peer reads again: they go, whole and in order
    stream.send(minirpc.Request("A.B", 2), 3, deadline=net.Deadline(DEADLINE))
    assert wait_until(lambda: received.endswith(b'"id":2}\n'))
    stop.set()
    reader.join(DEADLINE)
    assert received.lstrip(b"\0") == waiting + b'{"method":"A.B","params":[3],"id":2}\n'


def test_a_read_with_a_deadline_gives_up_and_keeps_what_came_for_the_next_read(pair):
    stream, peer = pair
    stream.send(minirpc.Request("A.B", 3), 1)
    peer.sendall(b'{"id":3,"result":')
    with pytest.raises(ReadTimeout):
        stream.read_message(net.Deadline(0.05))
    peer.sendall(b'4,"error":null}\n')
    message = stream.read_message(net.Deadline(DEADLINE))
    assert message.header.seq == 3 and stream.format.decode_body(message, int) == 4


def test_a_write_with_a_deadline_that_the_socket_takes_at_once_is_one_send(pair):
    stream, peer = pair
    assert stream.send(minirpc.Request("A.B", 7), 1, deadline=net.Deadline(DEADLINE)) == 0
    assert peer.recv(1024) == b'{"method":"A.B","params":[1],"id":7}\n'
