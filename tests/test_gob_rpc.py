"""The gob RPC format (minirpc.gob.rpc) on a stream, over a socketpair."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import pytest

from minirpc import codec, gob
from minirpc.errors import BodyError
from minirpc.format import Request, Response
from minirpc.gob import GobError


@dataclass
class Args:
    A: int = 0
    B: int = 0


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    client, server = codec.client_codec("gob", a), codec.server_codec("gob", b, max_message=4096)
    yield client, server, a, b
    client.close()
    server.close()


def test_request_header_and_body_arrive(pair):
    client, server, *_ = pair
    client.write_request(Request("Arith.Add", 7), Args(7, 8))
    assert server.read_request_header() == Request("Arith.Add", 7)
    assert server.read_request_body(Args) == Args(7, 8)


def test_response_header_and_body_arrive(pair):
    client, server, *_ = pair
    server.write_response(Response("Arith.Add", 7), 15)
    assert client.read_response_header() == Response("Arith.Add", 7, "")
    assert client.read_response_body(int) == 15


def test_error_reply_carries_an_empty_struct_body_like_go(pair):
    client, server, _, b = pair
    server.write_response(Response("Arith.Div", 5, "divide by zero"), None)
    assert client.read_response_header() == Response("Arith.Div", 5, "divide by zero")
    assert client.read_response_body(None) == {}


def test_error_reply_bytes_match_go():
    a, b = socket.socketpair()
    with a, b:
        server = codec.server_codec("gob", b)
        server.write_response(Response("Arith.Div", 5, "divide by zero"), 123)
        data = a.recv(1000)
    want_body = bytes.fromhex("0a ff 83 03 01 02 ff 84 00 00 00 03 ff 84 00")
    assert data.endswith(want_body)


def test_header_uses_go_type_names(pair):
    client, _, _, b = pair
    client.write_request(Request("Arith.Add", 0), 3)
    assert b"Request" in b.recv(1000)


def test_body_of_the_wrong_type_is_a_body_error_and_the_stream_stays_in_step(pair):
    client, server, *_ = pair
    client.write_request(Request("Arith.Add", 0), "not args")
    client.write_request(Request("Arith.Add", 1), Args(1, 2))
    server.read_request_header()
    with pytest.raises(BodyError, match="want struct type Args"):
        server.read_request_body(Args)
    assert server.read_request_header() == Request("Arith.Add", 1)
    assert server.read_request_body(Args) == Args(1, 2)


def test_clean_eof_between_messages_is_eof_error(pair):
    client, server, a, _ = pair
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(EOFError):
        server.read_request_header()


def test_eof_inside_a_message_is_unexpected_eof(pair):
    _, server, a, _ = pair
    a.sendall(gob.encode(Request("X.Y", 1))[:10])
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(EOFError, match="unexpected EOF"):
        server.read_request_header()


def test_oversized_message_is_refused_before_it_is_read(pair):
    _, server, a, _ = pair
    a.sendall(bytes.fromhex("fd 01 00 00"))  # announces 65536 bytes, sends none
    with pytest.raises(GobError, match="invalid message length 65536"):
        server.read_request_header()


def test_garbage_header_is_a_protocol_error(pair):
    _, server, a, _ = pair
    a.sendall(bytes.fromhex("03 ff 82 00"))
    with pytest.raises(GobError, match="unknown type id"):
        server.read_request_header()


def test_body_that_cannot_be_encoded_sends_nothing(pair):
    client, server, a, b = pair
    with pytest.raises(GobError):
        client.write_request(Request("Arith.Add", 0), Args("x", 1))
    client.write_request(Request("Arith.Add", 1), Args(1, 2))
    assert server.read_request_header() == Request("Arith.Add", 1)


def test_explicit_body_type_allows_empty_lists(pair):
    client, server, *_ = pair
    server.write_response(Response("S.M", 1), [], body_type=list[str])
    client.read_response_header()
    assert client.read_response_body(list[str]) == []


def test_close_is_safe_twice(pair):
    client, *_ = pair
    client.close()
    client.close()


def test_close_wakes_a_reader_blocked_on_the_connection(pair):
    client, *_ = pair
    outcome = []

    def read():
        try:
            client.read_response_header()
        except (EOFError, OSError, ValueError) as e:
            outcome.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    client.close()
    reader.join(timeout=10)
    assert not reader.is_alive() and outcome


def test_concurrent_writers_keep_each_header_with_its_body(pair):
    client, server, *_ = pair
    kinds = [(Args, lambda i: Args(i, -i)), (int, lambda i: i), (str, lambda i: str(i)),
             (list[int], lambda i: [i, i]), (dict[str, int], lambda i: {"k": i})]

    def write(i):
        tp, make = kinds[i % len(kinds)]
        server.write_response(Response(f"S.M{i % len(kinds)}", i), make(i), body_type=tp)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    got = {}
    for _ in range(50):
        header = client.read_response_header()
        tp, make = kinds[int(header.service_method[3:])]
        got[header.seq] = client.read_response_body(tp) == make(header.seq)
    for t in threads:
        t.join()
    assert got == {i: True for i in range(50)}


# -- the steady state: the per-type writers and readers fixed after the first message


def test_a_stream_fed_byte_by_byte_and_whole_gives_the_same_messages():
    client = gob.FORMAT.client(1 << 20)
    data = b"".join(client.encode(Request("Arith.Add", seq), Args(seq, -seq)) for seq in range(1, 4))
    for chunks in ([data], [data[i:i + 1] for i in range(len(data))], [bytearray(data[:5]), data[5:]]):
        server = gob.FORMAT.server(1 << 20)
        got = []
        for chunk in chunks:
            server.receive_data(chunk)
            if isinstance(chunk, bytearray):
                chunk[:] = b"\xff" * len(chunk)  # the caller reuses its buffer: the format kept a copy
            while (message := server.next_message()) is not gob.rpc.NEED_DATA:
                got.append((message.header, server.decode_body(message, Args), message.data))
        assert [(h.seq, a) for h, a, _ in got] == [(s, Args(s, -s)) for s in range(1, 4)]
        assert b"".join(d for *_, d in got) == data


def test_a_failed_first_message_leaves_no_header_type_behind():
    client = gob.FORMAT.client(1 << 20)
    with pytest.raises(GobError):
        client.encode(Request("Arith.Add", 1), Args("seven", 8))
    first = client.encode(Request("Arith.Add", 1), Args(7, 8))
    assert first == gob.FORMAT.client(1 << 20).encode(Request("Arith.Add", 1), Args(7, 8))  # definitions again


def test_steady_state_messages_match_a_fresh_encoder_and_long_ones_get_long_lengths():
    client = gob.FORMAT.client(1 << 20)
    client.encode(Request("Arith.Add", 1), Args(7, 8))
    for request in (Request("Arith.Add", 2), Request("S." + "m" * 300, 1 << 40), Request("", 0)):
        expected = gob.Encoder()
        expected.encode(request)  # (the definition goes out once)
        header = expected.encode(request)
        expected.encode(Args(1, 2))
        assert client.encode(request, Args(1, 2)) == header + expected.encode(Args(1, 2))
    with pytest.raises(GobError, match="Request.seq"):
        client.encode(Request("Arith.Add", -1), Args(1, 2))
    assert client.encode(Request("Arith.Add", 3), Args()) == b"\x10\xff\x82\x01\x09Arith.Add\x01\x03\x00\x03\xff\x84\x00"


HEADER_SEQS = [0, 1, 2, 127, 128, 255, 256, 65535, 65536, 1 << 32, (1 << 64) - 1]
HEADER_METHODS = ["", "A.B", "Arith.Add", "Ünïcødé.Méthod", "S.\udcff", "S." + "m" * 100, "S." + "m" * 110,
                  "S." + "m" * 130]


@pytest.mark.parametrize("method", HEADER_METHODS, ids=lambda m: f"{len(m)} chars")
def test_request_headers_from_the_kept_bytes_match_the_encoders_writer(method):
    client, expected = gob.FORMAT.client(1 << 20), gob.Encoder()
    client.encode(Request("Warm.Up", 1), Args(1, 2))
    expected.encode(Request("Warm.Up", 1)), expected.encode(Args(1, 2))
    for seq in HEADER_SEQS * 2:  # (the second time round, from the bytes kept for the method)
        assert client.encode(Request(method, seq), Args(1, 2)) == \
            expected.encode(Request(method, seq)) + expected.encode(Args(1, 2)), seq


@pytest.mark.parametrize("method", HEADER_METHODS, ids=lambda m: f"{len(m)} chars")
def test_response_headers_from_the_kept_bytes_match_the_encoders_writer(method):
    server, expected = gob.FORMAT.server(1 << 20), gob.Encoder()
    server.encode(Response("Warm.Up", 1), 3)
    expected.encode(Response("Warm.Up", 1)), expected.encode(3)
    for seq in HEADER_SEQS * 2:
        for error, body in (("", 3), ("boom", gob.rpc.InvalidRequest())):
            assert server.encode(Response(method, seq, error), 3) == \
                expected.encode(Response(method, seq, error)) + expected.encode(body), (seq, error)


def test_a_format_keeps_header_bytes_for_a_bounded_number_of_methods():
    server, client = gob.FORMAT.server(1 << 20), gob.FORMAT.client(1 << 20)
    for i in range(gob.rpc.MAX_HEADS + 100):
        client.receive_data(server.encode(Response(f"S.M{i}", i + 1), i))
        message = client.next_message()
        assert (message.header, client.decode_body(message, int)) == (Response(f"S.M{i}", i + 1), i)
    assert len(server._heads) == gob.rpc.MAX_HEADS
