"""Who reads a client's replies (minirpc.client's module doc): a lone synchronous caller
reads its own; go() calls are read by the pump, which stays on the socket while replies
to go() calls keep coming, and steps back after a synchronous call's reply."""

from __future__ import annotations

import threading

import pytest

import minirpc
from minirpc.errors import ShutdownError

from conftest import Args

DEADLINE = 10.0


def readers(client) -> list[str]:
    """Record the name of the thread that reads each reply header from now on."""
    names, read = [], client.codec.read_response_header

    def recording():
        names.append(threading.current_thread().name)
        return read()

    client.codec.read_response_header = recording
    return names


def test_a_lone_synchronous_call_reads_its_own_reply(client):
    names = readers(client)
    assert client.call("Arith.Add", Args(1, 2)) == 3
    assert names == [threading.current_thread().name]


def test_replies_to_go_calls_are_read_by_the_pump(client):
    names = readers(client)
    assert [client.go("Arith.Add", Args(i, 1)).result(DEADLINE) for i in range(3)] == [1, 2, 3]
    assert set(names) == {"minirpc-client-pump"}


def test_after_go_calls_a_synchronous_caller_reads_for_itself_again(client):
    client.go("Arith.Add", Args(1, 1)).result(DEADLINE)
    assert client.call("Arith.Add", Args(2, 2)) == 4  # the pump, still on the socket, reads this one
    names = readers(client)
    assert client.call("Arith.Add", Args(3, 3)) == 6
    assert names == [threading.current_thread().name]


def test_a_server_gone_while_the_pump_waits_is_seen_before_the_next_call_like_go(server, codec):
    serving = server.start("127.0.0.1:0", codec=codec)
    with minirpc.dial("tcp", serving.address, codec=codec) as client:
        client.go("Arith.Add", Args(1, 1)).result(DEADLINE)  # the pump now waits on the socket
        pump = next(t for t in threading.enumerate() if t.name == "minirpc-client-pump")
        serving.close()
        server.close()
        pump.join(DEADLINE)  # it read the EOF: the client is shut down, as Go's is
        assert not pump.is_alive()
        with pytest.raises(ShutdownError):
            client.call("Arith.Add", Args(1, 1))
