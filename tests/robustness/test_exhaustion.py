"""Resource exhaustion: idle connections must not use up what other clients need.

Go serves each connection on a goroutine, which costs a few kilobytes, so idle
connections are nearly free.  minirpc serves each connection on a thread that
sits in a blocking read while the peer says nothing; these tests check that
many such connections neither starve a new client nor leave threads behind.
"""

from __future__ import annotations

import threading

import pytest

from minirpc import client as mclient
from minirpc import net as mnet
from minirpc.errors import CallTimeout

from .support import DEADLINE, Args, codec_params, wait_until

IDLE_CONNECTIONS = 200


@pytest.mark.parametrize("codec", codec_params())
def test_many_idle_connections_do_not_starve_a_new_client(robust, codec):
    target = robust(codec)
    silent = [mnet.connect("tcp", target.address, timeout=DEADLINE) for _ in range(IDLE_CONNECTIONS)]
    try:
        assert wait_until(lambda: len(target.server.connections()) >= IDLE_CONNECTIONS)
        with mclient.dial("tcp", target.address, codec=codec, timeout=DEADLINE) as client:
            try:
                assert client.call("Robust.Add", Args(1, 2), reply_type=int, timeout=DEADLINE) == 3
            except CallTimeout:
                pytest.fail(f"{IDLE_CONNECTIONS} idle connections starved a new client")
    finally:
        for sock in silent:
            sock.close()
    assert wait_until(lambda: not target.server.connections()), "idle connections were never cleaned up"


@pytest.mark.parametrize("codec", codec_params())
def test_threads_of_closed_connections_are_returned_when_the_server_closes(robust, codec):
    """The ``robust`` fixture checks the thread count after ``Server.close()``."""
    target = robust(codec)
    before = threading.active_count()
    clients = [mclient.dial("tcp", target.address, codec=codec, timeout=DEADLINE) for _ in range(50)]
    for c in clients:  # (go: each client starts its pump thread, and the count must come back down)
        assert c.go("Robust.Add", Args(1, 1), reply_type=int, timeout=DEADLINE).result(DEADLINE) == 2
    assert threading.active_count() > before
    for c in clients:
        c.close()
