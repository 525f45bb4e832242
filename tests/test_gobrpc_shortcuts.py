"""The gob RPC codec's header short cuts (minirpc.gobrpc) agree with the general gob way.

Once a header type is known on a stream, gobrpc writes and reads headers
directly.  These tests hold the short cuts to the general encoder/decoder and
to bytes captured from real Go: same bytes out, same values in, and every bad
header still refused with the general decoder's error.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from minirpc import gob, gobrpc
from minirpc.codec import Request, Response
from minirpc.gob import GobError, Uint

from gotypes import Args

GOLDEN = Path(__file__).parent / "interop" / "golden"
GO_CALLS = [("Arith.Add", Args(7, 8)), ("Arith.Div", Args(7, 0)), ("Arith.Add", Args(1, 2)),
            ("Arith.Nope", Args())]


def golden(name: str) -> bytes:
    return bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def received(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_client_codec_writes_what_a_go_client_writes(pair):
    a, b = pair
    client = gobrpc.new_client_codec(a)
    for seq, (method, args) in enumerate(GO_CALLS):
        client.write_request(Request(method, seq), args)
    assert client._sent_header_id == b"\xff\x82"  # calls 1-3 took the short cut (Request is id 65)
    want = golden("rpc_client_to_server")
    assert received(b, len(want)) == want


def test_server_codec_reads_a_go_client_stream(pair):
    a, b = pair
    a.sendall(golden("rpc_client_to_server"))
    server = gobrpc.new_server_codec(b)
    got = [(server.read_request_header(), server.read_request_body(Args)) for _ in GO_CALLS]
    assert got == [(Request(method, seq), args) for seq, (method, args) in enumerate(GO_CALLS)]


def test_client_codec_reads_a_go_server_stream_with_ids_from_67(pair):
    a, b = pair
    b.sendall(golden("rpc_server_to_client"))
    client = gobrpc.new_client_codec(a)
    replies = []
    for _ in range(4):
        header = client.read_response_header()
        replies.append((header.seq, header.error, client.read_response_body(None if header.error else int)))
    assert replies == [(0, "", 15), (1, "divide by zero", {}), (2, "", 3),
                       (3, "rpc: can't find method Arith.Nope", {})]
    assert client._received_header_id not in (None, b"\xff\x82")  # Go's Response id, not 65


def header_id(encoder: gob.Encoder, cls) -> bytes:
    out = bytearray()
    gob.put_int(out, encoder.defined_id(cls))
    return bytes(out)


@pytest.mark.parametrize("cls", [gobrpc.Request, gobrpc.Response])
def test_header_short_cut_writes_the_general_encoders_bytes(cls):
    rng = random.Random(7)
    texts = ["", "a", "Arith.Add", "é世\x00\udcff", "x" * 127, "y" * 128, "z" * 300]
    seqs = [0, 1, 127, 128, 255, 256, 2**32, 2**63, 2**64 - 1]
    encoder = gob.Encoder()
    encoder.encode(cls())  # the definition goes out, as on a real stream
    type_id = header_id(encoder, cls)
    for _ in range(500):
        values = (rng.choice(texts), rng.choice(seqs)) + ((rng.choice(texts),) if cls is gobrpc.Response else ())
        assert gobrpc._header_message(type_id, *values) == encoder.encode(cls(*values)), values


@pytest.mark.parametrize("values", [("x", -1), ("x", 2**64), ("x", True), ("x", 1.0), (b"x", 1), ("x", 1, None)])
def test_header_short_cut_leaves_bad_values_to_the_general_encoder(values):
    assert gobrpc._header_message(b"\xff\x82", *values) is None


def served_stream(pair):
    """A server codec that has read one request, so its short cut is in use; and the Request id."""
    a, b = pair
    encoder = gob.Encoder()
    a.sendall(encoder.encode(gobrpc.Request("A.B", 1)) + encoder.encode(Args(1, 2)))
    server = gobrpc.new_server_codec(b)
    assert server.read_request_header() == Request("A.B", 1)
    server.read_request_body(Args)
    type_id = header_id(encoder, gobrpc.Request)
    assert server._received_header_id == type_id  # the short cut is armed
    return server, type_id


def frame(payload: bytes) -> bytes:
    out = bytearray()
    gob.put_uint(out, len(payload))
    return bytes(out) + payload


@pytest.mark.parametrize("fields, error", [
    (b"\x01\x03A.", "string length 3 exceeds"),  # the message ends inside the string
    (b"\x01\x03A.B", "truncated"),  # the message ends before the struct does
    (b"\x01\x40A.B\x00", "string length 64 exceeds"),  # a length that lies
    (b"\x01\x03A.B\x00\x00", "extra data"),
    (b"\x03\x05\x00", "field number out of range"),  # Request has no field 2
    (b"\x01\x03A.B\x01\xf7" + b"\x01" * 9 + b"\x00", "out of range"),  # a nine-byte uint
])
def test_bad_headers_are_refused_once_the_short_cut_is_in_use(pair, fields, error):
    server, type_id = served_stream(pair)
    pair[0].sendall(frame(type_id + fields))
    with pytest.raises(GobError, match=error):
        server.read_request_header()


def test_unusual_but_valid_headers_still_decode_once_the_short_cut_is_in_use(pair):
    server, type_id = served_stream(pair)
    long_delta = b"\xff\x01"  # delta 1 in a needless two-byte form: gob accepts it
    pair[0].sendall(frame(type_id + long_delta + b"\x03A.B\x01\x02\x00"))
    assert server.read_request_header() == Request("A.B", 2)


def test_a_peer_header_type_with_another_layout_goes_the_general_way(pair):
    @dataclass
    class SwappedRequest:  # the fields in another order: the short cut must not guess
        __gob_name__ = "Request"
        Seq: Uint = 0
        ServiceMethod: str = ""

    a, b = pair
    encoder = gob.Encoder()
    a.sendall(b"".join(encoder.encode(SwappedRequest(seq, f"S.M{seq}")) + encoder.encode(seq, int)
                       for seq in range(3)))
    server = gobrpc.new_server_codec(b)
    for seq in range(3):
        assert server.read_request_header() == Request(f"S.M{seq}", seq)
        assert server.read_request_body(int) == seq
    assert server._received_header_id is None
