"""Hostile bytes against a gob RPC server.

gob is a binary, self-describing, *stateful* format: a stream carries type
definitions (negative ids) before values, and every message starts with a
length.  So an attacker can lie about lengths, counts, types and nesting.
Allowed answers: an error reply, or the connection closed.  Not allowed: a
hang, a crash, memory that grows with the lie, a thread left behind, or the
bystander being starved.
"""

from __future__ import annotations

import random
import socket
import threading
from dataclasses import dataclass, field

import pytest

from .support import (
    DEADLINE,
    Args,
    SMALL_MESSAGE_LIMIT,
    bounded_memory,
    bystander,
    read_until_closed,
    send_quietly,
)

from minirpc import codec as mcodec
from minirpc import gob
from minirpc.errors import ProtocolError
from minirpc.format import Request
from minirpc.gob import encoder as gob_encoder

MEMORY_LIMIT = 24 * 2**20


# -- building gob bytes by hand ---------------------------------------------


def uint(u: int) -> bytes:
    out = bytearray()
    gob.put_uint(out, u)
    return bytes(out)


def int_(i: int) -> bytes:
    out = bytearray()
    gob.put_int(out, i)
    return bytes(out)


def frame(payload: bytes) -> bytes:
    """A message on the wire: uint(length) then the payload."""
    return uint(len(payload)) + payload


def slice_definition(type_id: int, elem_id: int) -> bytes:
    """The payload defining ``type_id`` as ``[]elem``: wireType{SliceT: {CommonType{Name, Id}, Elem}}."""
    name = b"[]T"
    return (int_(-type_id) + b"\x02" + b"\x01" + b"\x01" + uint(len(name)) + name + b"\x01" + int_(type_id)
            + b"\x00" + b"\x01" + int_(elem_id) + b"\x00" + b"\x00")


def valid_request(method: str, body, body_type=None, seq: int = 1, encoder=None) -> bytes:
    encoder = encoder or gob.Encoder()
    return encoder.encode(Request(method, seq)) + encoder.encode(body, body_type)


def request_header(method: str, seq: int = 1) -> bytes:
    """The Request type definition and one Request value (a fresh stream's first bytes)."""
    return gob.Encoder().encode(Request(method, seq))


# -- reading what the server says ---------------------------------------------


def attack(target, payload: bytes, *, close_write: bool = True) -> list:
    """Send ``payload``, half-close, and return the response headers read before the server closed."""
    sock = target.raw()
    codec = mcodec.client_codec("gob", sock)
    try:
        send_quietly(sock, payload)
        if close_write:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        headers = []
        while True:
            try:
                header = codec.read_response_header()
                codec.read_response_body(None)
            except (EOFError, ConnectionResetError):
                return headers
            except socket.timeout:
                pytest.fail(f"the server neither answered nor closed within {DEADLINE} s")
            headers.append(header)
    finally:
        codec.close()


def assert_all_errors(headers: list) -> None:
    for header in headers:
        assert header.error, f"expected an error reply, got {header!r}"


# -- the battery ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_get_an_error_or_a_closed_connection(robust, seed):
    target = robust("gob")
    rng = random.Random(seed)
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000, 100_000])))
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


@pytest.mark.parametrize("seed", range(3))
def test_random_mutations_of_a_valid_request_get_an_error_or_a_closed_connection(robust, seed):
    target = robust("gob")
    rng = random.Random(seed)
    whole = bytearray(valid_request("Robust.Add", {"A": 1, "B": 2}, dict[str, int]))
    payload = b""
    for _ in range(50):
        mutated = bytearray(whole)
        for _ in range(rng.randrange(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        payload += bytes(mutated)
    with bystander(target):
        attack(target, payload)  # any mix of replies and errors, then a close: no hang, no crash


def test_truncated_message_then_eof_closes_the_connection(robust):
    target = robust("gob")
    whole = valid_request("Robust.Add", 5, int)
    with bystander(target):
        for cut in (1, 10, len(whole) // 2, len(whole) - 1):
            assert attack(target, whole[:cut]) == []


@pytest.mark.parametrize(
    "prefix",
    [uint(1 << 30), uint(8 << 30), uint((1 << 64) - 1), b"\xf7" + b"\xff" * 9],
    ids=["1GiB", "8GiB", "2^64-1", "nine-byte-uint"],
)
def test_length_prefix_claiming_gigabytes_closes_at_once(robust, prefix):
    target = robust("gob")
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        # No half-close: the server must refuse from the prefix alone, not wait for the bytes.
        assert attack(target, prefix + b"\x00" * 100, close_write=False) == []


def test_length_just_over_the_limit_closes_without_reading_it(robust):
    target = robust("gob")
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert attack(target, uint(SMALL_MESSAGE_LIMIT + 1) + b"\x01", close_write=False) == []


def test_zero_length_message_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    assert attack(target, b"\x00" * 10) == []


def test_deeply_nested_type_definitions_get_an_error_or_a_closed_connection(robust):
    """A chain []([]([](...int))) 500 deep, then a value of it as the argument of a method taking Any."""
    target = robust("gob")
    depth, first = 500, 70
    definitions = b"".join(frame(slice_definition(first + i, first + i + 1)) for i in range(depth - 1))
    definitions += frame(slice_definition(first + depth - 1, 2))  # innermost: []int
    value = int_(first) + b"\x00" + b"\x01" * depth + b"\x00"  # one element per level, then an empty []int
    payload = request_header("Robust.Swallow") + definitions + frame(value)
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


def test_self_recursive_slice_type_with_deep_value_gets_an_error_or_a_closed_connection(robust):
    """type T []T, and a value nested 100 000 levels deep (one byte per level)."""
    target = robust("gob")
    depth = 100_000
    value = int_(70) + b"\x00" + b"\x01" * depth + b"\x00"
    payload = request_header("Robust.Swallow") + frame(slice_definition(70, 70)) + frame(value)
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


def test_more_type_definitions_than_allowed_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    payload = request_header("Robust.Swallow") + b"".join(frame(slice_definition(70 + i, 2)) for i in range(5000))
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


def test_duplicate_type_definition_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    payload = request_header("Robust.Swallow") + frame(slice_definition(70, 2)) * 2 + frame(int_(70) + b"\x00\x00")
    assert_all_errors(attack(target, payload))


def test_undefined_type_id_in_the_header_closes_the_connection(robust):
    target = robust("gob")
    assert attack(target, frame(int_(99) + b"\x01\x03abc\x00")) == []


def test_undefined_type_id_in_the_body_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    payload = request_header("Robust.Swallow") + frame(int_(99) + b"\x00\x05")
    assert_all_errors(attack(target, payload))


def test_type_definition_naming_an_undefined_element_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    payload = request_header("Robust.Swallow") + frame(slice_definition(70, 12345)) + frame(int_(70) + b"\x00\x01\x02")
    assert_all_errors(attack(target, payload))


@pytest.mark.parametrize("count", [1 << 20, 1 << 40, (1 << 64) - 1])
def test_slice_count_larger_than_the_message_gets_an_error_without_allocating_it(robust, count):
    target = robust("gob")
    payload = request_header("Robust.Swallow") + frame(slice_definition(70, 2)) + frame(int_(70) + b"\x00" + uint(count) + b"\x02")
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


def test_string_length_larger_than_the_message_gets_an_error_or_a_closed_connection(robust):
    target = robust("gob")
    first = gob.Encoder().encode(Request("x", 0))
    length, start = gob.get_uint(first, 0)
    definition = first[: start + length]  # the Request type definition message only
    type_id = -gob.get_int(definition, start)[0]
    header_value = int_(type_id) + b"\x01" + uint(1 << 30) + b"Robust.Echo" + b"\x00"
    with bounded_memory(MEMORY_LIMIT):
        assert attack(target, definition + frame(header_value)) == []


def test_invalid_utf8_method_name_gets_an_error_reply(robust):
    target = robust("gob")
    method = b"Robust.\xff\xfe"
    header = request_header("Robust.XX")  # same length: patch the name in place
    payload = header.replace(b"Robust.XX", method) + gob.Encoder().encode(1, int)
    headers = attack(target, payload)
    assert len(headers) == 1
    assert_all_errors(headers)


def test_invalid_utf8_argument_is_echoed_or_refused(robust):
    """Go strings are bytes: echoing them back unchanged, or an error, are both fine."""
    target = robust("gob")
    header = request_header("Robust.Echo")
    body = frame(int_(6) + b"\x00" + uint(3) + b"\xff\xfe\xc3")  # a top-level string (type id 6)
    headers = attack(target, header + body)
    assert len(headers) == 1


@pytest.mark.parametrize("body,body_type", [("x", str), ([1, 2], list[int]), (3.5, float), ({"A": "x"}, dict[str, str])])
def test_wrong_argument_type_gets_an_error_and_the_connection_stays_usable(robust, body, body_type):
    target = robust("gob")
    encoder = gob.Encoder()
    payload = valid_request("Robust.Add", body, body_type, 1, encoder)
    payload += encoder.encode(Request("Robust.Echo", 2)) + encoder.encode("still here", str)
    headers = attack(target, payload)
    assert [h.seq for h in headers] == [1, 2]
    assert headers[0].error and not headers[1].error


def test_unknown_methods_at_a_high_rate_are_all_answered(robust):
    target = robust("gob")
    count = 5_000
    encoder = gob.Encoder()
    payload = b"".join(encoder.encode(Request(f"Nope{i % 7}.Method", i)) + encoder.encode(i, int)
                       for i in range(count))
    sock = target.raw()
    codec = mcodec.client_codec("gob", sock)
    seqs: list[int] = []
    errors: list[str] = []

    def read_all():
        try:
            while True:
                header = codec.read_response_header()
                codec.read_response_body(None)
                seqs.append(header.seq)
                errors.append(header.error)
        except (EOFError, OSError, ProtocolError):
            pass

    try:
        with bystander(target), bounded_memory(MEMORY_LIMIT):
            reader = threading.Thread(target=read_all)  # read while sending, or both sides block
            reader.start()
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            reader.join(DEADLINE * 3)
            assert not reader.is_alive(), "the server did not answer every unknown method"
    finally:
        codec.close()
    assert sorted(seqs) == list(range(count))
    assert all(e.startswith("rpc: can't find") for e in errors)


def test_a_client_that_sends_half_a_message_and_stalls_does_not_block_others(robust):
    target = robust("gob")
    whole = valid_request("Robust.Add", 5, int)
    stalled = target.raw()
    try:
        with bystander(target):
            stalled.sendall(whole[: len(whole) // 2])
            with target.dial() as other:
                assert other.call("Robust.Echo", "hi", reply_type=str, timeout=DEADLINE) == "hi"
        target.serving.close()  # must not wait for the rest of the message
        assert read_until_closed(stalled) == b""
    finally:
        stalled.close()


# -- memory a decoder holds stays a small multiple of what it was sent ------------------


@dataclass
class Empty:
    pass


@dataclass
class Padded:  # what the attacker sends: an Add argument with a huge field Add does not have
    A: int = 0
    B: int = 0
    Junk: list[Empty] = field(default_factory=list)


def test_a_huge_field_the_method_ignores_is_skipped_without_being_built(robust):
    target = robust("gob")
    junk = Padded(2, 3, [Empty()] * 200_000)
    payload = valid_request("Robust.Add", junk, Padded)
    assert len(payload) < SMALL_MESSAGE_LIMIT
    with bystander(target), bounded_memory(8 * len(payload)):
        headers = attack(target, payload)
    assert [h.error for h in headers] == [""]  # answered: 5, and Junk never became 200,000 objects


def test_type_definitions_beyond_the_per_stream_budget_close_the_connection(robust):
    target = robust("gob")
    fields = tuple((f"Field{i:05d}", 2) for i in range(3000))  # ~36 KiB a definition
    definitions = b"".join(gob_encoder.definition(gob.WireType("struct", f"Wide{n}", 65 + n, fields))
                           for n in range(40))  # 1.4 MiB in all: past the 1 MiB budget
    payload = definitions + valid_request("Robust.Add", Args(1, 2))
    with bystander(target), bounded_memory(16 * SMALL_MESSAGE_LIMIT):
        headers = attack(target, payload)
    assert headers == []  # closed before the request that followed the definitions
