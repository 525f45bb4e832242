"""Talking to a server over a raw socket with minirpc's own formats: requests written in
one go (so that the server reads them together), replies read back as {seq: body}."""

from __future__ import annotations

import socket

from minirpc.codec import wire_format
from minirpc.format import NEED_DATA, Request

DEADLINE = 10.0


def connect(address: str, timeout: float = DEADLINE) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def client_format(codec: str):
    return wire_format(codec).client(1 << 20)


def requests(fmt, calls, start: int = 0) -> bytes:
    """The bytes of ``calls`` ([(service_method, args)...]) numbered from ``start``."""
    return b"".join(fmt.encode(Request(name, seq), body) for seq, (name, body) in enumerate(calls, start))


def read_replies(sock: socket.socket, fmt, n: int) -> dict[int, object]:
    """n replies off the socket, as {seq: body}; an error reply fails the test."""
    got = {}
    while len(got) < n:
        message = fmt.next_message()
        if message is NEED_DATA:
            data = sock.recv(1 << 16)
            assert data, f"the server closed after {len(got)} of {n} replies"
            fmt.receive_data(data)
            continue
        assert not message.header.error, message.header.error
        got[message.header.seq] = fmt.decode_body(message, None)
    return got
