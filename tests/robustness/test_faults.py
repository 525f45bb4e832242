"""Things going wrong around a call: a server stopping, a client leaving, bad handlers.

Every test runs with each codec.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from minirpc import client as mclient
from minirpc import net as mnet
from minirpc.errors import CallTimeout, ConnectionLost, RPCError, ServerError, ShutdownError

from .support import DEADLINE, Args, bystander, close_with_deadline, codec_params, wait_until

pytestmark = pytest.mark.parametrize("codec", codec_params())

PROMPTLY = 5.0  # seconds; "promptly" means long before any test deadline


def enter_hang(target, client, n: int = 1):
    """Start ``n`` Hang calls and wait until each is running on the server."""
    calls = [client.go("Robust.Hang", i, reply_type=int) for i in range(n)]
    for _ in range(n):
        assert target.service.hanging.acquire(timeout=DEADLINE), "Hang never started on the server"
    return calls


def test_server_stopped_mid_call_fails_every_pending_call_promptly(robust, codec):
    target = robust(codec)
    client = target.dial()
    try:
        calls = enter_hang(target, client, 5)
        closing = threading.Thread(target=target.serving.close, name="closing serving")
        closing.start()
        for call in calls:
            error = call.exception(timeout=PROMPTLY)  # not after the handlers finish
            assert isinstance(error, (ConnectionLost, ShutdownError)), repr(error)
            assert str(error)
        target.service.release.set()  # the handlers may finish now; close() waits for them
        closing.join(DEADLINE)
        assert not closing.is_alive()
        with pytest.raises(ShutdownError):
            client.call("Robust.Add", Args(1, 2), reply_type=int)
    finally:
        client.close()


def test_server_stopped_mid_call_fails_a_blocking_call_with_a_clear_error(robust, codec):
    target = robust(codec)
    client = target.dial()
    errors: list = []

    def blocking_call():
        try:
            client.call("Robust.Hang", 1, reply_type=int)
        except RPCError as e:
            errors.append(e)

    caller = threading.Thread(target=blocking_call)
    caller.start()
    try:
        assert target.service.hanging.acquire(timeout=DEADLINE)
        threading.Thread(target=target.serving.close, daemon=True).start()
        caller.join(PROMPTLY)
        assert not caller.is_alive(), "a blocking call did not notice the server going away"
        assert len(errors) == 1 and isinstance(errors[0], (ConnectionLost, ShutdownError))
    finally:
        target.service.release.set()
        caller.join(DEADLINE)
        client.close()


def test_client_closed_mid_call_fails_the_call_and_the_server_carries_on(robust, codec):
    target = robust(codec)
    with bystander(target):
        client = target.dial()
        calls = enter_hang(target, client, 3)
        close_with_deadline(client.close, "Client.close()")
        for call in calls:
            assert isinstance(call.exception(timeout=PROMPTLY), ShutdownError)
        target.service.release.set()  # the replies now go to a closed connection
    assert wait_until(lambda: not target.server.connections())


def test_half_closed_client_still_gets_its_reply(robust, codec):
    """Go's TestShutdown: CloseWrite while a call runs; the reply must still arrive."""
    target = robust(codec)
    conn = mnet.connect("tcp", target.address, timeout=DEADLINE)
    client = mclient.new_client(conn, codec=codec)
    try:
        call = client.go("Robust.Sleep", 0.05, reply_type=int)
        conn.shutdown(socket.SHUT_WR)
        assert call.result(timeout=DEADLINE) == 1
    finally:
        client.close()


def test_handler_that_raises_sends_its_text_and_the_server_carries_on(robust, codec):
    target = robust(codec)
    with target.dial() as client:
        with pytest.raises(ServerError) as info:
            client.call("Robust.Fail", "it broke", reply_type=int)
        assert str(info.value) == "it broke"
        assert client.call("Robust.Add", Args(2, 3), reply_type=int) == 5


def test_handler_that_hangs_times_out_at_the_client_and_the_server_carries_on(robust, codec):
    target = robust(codec)
    with bystander(target), target.dial() as client:
        with pytest.raises(CallTimeout):
            client.call("Robust.Hang", 1, reply_type=int, timeout=0.1)
        # the same connection still works while the handler is stuck
        assert client.call("Robust.Add", Args(2, 3), reply_type=int, timeout=DEADLINE) == 5
        target.service.release.set()
        # the late reply is dropped, not delivered to a later call
        assert client.call("Robust.Add", Args(4, 4), reply_type=int, timeout=DEADLINE) == 8


def test_many_calls_time_out_independently(robust, codec):
    target = robust(codec)
    with target.dial() as client:
        calls = [client.go("Robust.Hang", i, reply_type=int, timeout=0.05) for i in range(20)]
        for call in calls:
            assert isinstance(call.exception(timeout=PROMPTLY), CallTimeout)
        assert client.call("Robust.Add", Args(1, 1), reply_type=int, timeout=DEADLINE) == 2


@pytest.mark.parametrize("kind", ["object", "nan", "set"])
def test_handler_returning_an_unencodable_value_gets_an_error_and_the_connection_survives(robust, codec, kind):
    target = robust(codec)
    with target.dial() as client:
        try:
            client.call("Robust.Unencodable", kind, timeout=DEADLINE)
        except ServerError as e:
            assert str(e)  # a clear error ...
        except ConnectionLost:
            pytest.fail("the server dropped the connection instead of answering with an error")
        else:
            if kind != "nan" or codec == "json":  # gob can carry NaN; JSON and Go's encoder cannot
                pytest.fail(f"an unencodable {kind} was sent as a reply")
        # ... and the stream is still in step
        assert client.call("Robust.Add", Args(2, 3), reply_type=int, timeout=DEADLINE) == 5


def test_unencodable_arguments_fail_the_call_and_the_client_carries_on(robust, codec):
    target = robust(codec)
    with target.dial() as client:
        with pytest.raises((TypeError, ValueError, RPCError)):
            client.call("Robust.Echo", object(), timeout=DEADLINE)
        assert client.call("Robust.Add", Args(2, 3), reply_type=int, timeout=DEADLINE) == 5


def test_calls_after_the_server_went_away_fail_at_once(robust, codec):
    target = robust(codec)
    client = target.dial()
    try:
        assert client.call("Robust.Add", Args(1, 1), reply_type=int) == 2
        target.serving.close()
        started = time.monotonic()
        for _ in range(3):  # a write error (Go returns it as is) or the read's EOF
            with pytest.raises((ConnectionLost, ShutdownError, OSError)):
                client.call("Robust.Add", Args(1, 1), reply_type=int)
        assert time.monotonic() - started < PROMPTLY
    finally:
        client.close()


def test_server_close_returns_while_clients_stay_connected(robust, codec):
    target = robust(codec)
    clients = [target.dial() for _ in range(5)]
    try:
        for c in clients:
            assert c.call("Robust.Add", Args(1, 1), reply_type=int) == 2
        close_with_deadline(target.serving.close, "Serving.close() with idle clients")
        for c in clients:
            with pytest.raises((ConnectionLost, ShutdownError)):
                c.call("Robust.Add", Args(1, 1), reply_type=int, timeout=DEADLINE)
    finally:
        for c in clients:
            c.close()


def test_client_closed_while_a_blocking_call_reads_the_socket_fails_that_call_promptly(robust, codec):
    """The blocked caller is the one reading replies (leader/follower): close() must wake it."""
    target = robust(codec)
    client = target.dial()
    errors: list = []

    def blocking_call():
        try:
            client.call("Robust.Hang", 1, reply_type=int)
        except RPCError as e:
            errors.append(e)

    caller = threading.Thread(target=blocking_call)
    caller.start()
    assert target.service.hanging.acquire(timeout=DEADLINE)
    close_with_deadline(client.close, "Client.close() with a blocked caller")
    caller.join(PROMPTLY)
    assert not caller.is_alive(), "the blocked call was not woken by close()"
    assert len(errors) == 1 and isinstance(errors[0], ShutdownError), errors


def test_a_timed_out_call_does_not_strand_a_blocking_call_behind_it(robust, codec):
    """Thread A reads the socket for its slow call; thread B's call, with a timeout, must still complete."""
    target = robust(codec)
    with target.dial() as client:
        slow = threading.Thread(target=lambda: client.call("Robust.Sleep", 0.3, reply_type=int))
        slow.start()
        for i in range(20):
            assert client.call("Robust.Add", Args(i, 1), reply_type=int, timeout=DEADLINE) == i + 1
        with pytest.raises(CallTimeout):
            client.call("Robust.Hang", 0, reply_type=int, timeout=0.05)
        assert client.call("Robust.Add", Args(5, 5), reply_type=int, timeout=DEADLINE) == 10
        slow.join(DEADLINE)
        assert not slow.is_alive()
