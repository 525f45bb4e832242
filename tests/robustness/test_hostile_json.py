"""Hostile bytes against a JSON-RPC server.

Each test sends one kind of bad input on a raw socket while a well-behaved
client keeps calling.  Allowed answers to the attacker: an error reply, or the
connection closed.  Not allowed: a hang, a crash, unbounded memory, a thread
left behind, or the bystander being starved.
"""

from __future__ import annotations

import json
import random
import socket
import threading

import pytest

from .support import (
    DEADLINE,
    SMALL_MESSAGE_LIMIT,
    bounded_memory,
    bystander,
    read_until_closed,
    send_quietly,
    wait_until,
)

MEMORY_LIMIT = 24 * 2**20  # generous: 1 MiB messages, a few copies, plus tracemalloc's own


def request(method: str, params, id_=1) -> bytes:
    return json.dumps({"method": method, "params": params, "id": id_}).encode() + b"\n"


def replies(data: bytes) -> list[dict]:
    """The JSON replies in what the server sent before closing (a huge number stays text)."""
    decode = json.JSONDecoder(parse_int=lambda digits: int(digits) if len(digits) < 4000 else digits).decode
    return [decode(line.decode()) for line in data.splitlines() if line.strip()]


def attack(target, payload: bytes, *, close_write: bool = True) -> list[dict]:
    """Send ``payload``, half-close, and return the replies the server sent before closing."""
    with target.raw() as sock:
        send_quietly(sock, payload)
        if close_write:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return replies(read_until_closed(sock))


def assert_all_errors(answers: list[dict]) -> None:
    for answer in answers:
        assert answer.get("error"), f"expected an error reply, got {answer!r}"
        assert answer.get("result") is None


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_get_an_error_or_a_closed_connection(robust, seed):
    target = robust("json")
    rng = random.Random(seed)
    payload = bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000, 100_000])))
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, payload))


def test_random_printable_lines_get_an_error_or_a_closed_connection(robust):
    target = robust("json")
    rng = random.Random(42)
    alphabet = '{}[]":,0123456789.eE-+ abcnulltruefalse\\'
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 80))) for _ in range(200)]
    with bystander(target):
        assert_all_errors(attack(target, "\n".join(lines).encode() + b"\n"))


def test_truncated_message_then_eof_closes_the_connection(robust):
    target = robust("json")
    whole = request("Robust.Add", [{"A": 1, "B": 2}])
    with bystander(target):
        for cut in (1, len(whole) // 2, len(whole) - 2):
            assert attack(target, whole[:cut]) == []


def test_message_larger_than_the_limit_is_refused_without_buffering_it(robust):
    target = robust("json")
    # An unterminated string that never ends: the server must stop at its limit.
    payload = b'{"method":"Robust.Echo","params":["' + b"a" * (4 * SMALL_MESSAGE_LIMIT)
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert attack(target, payload) == []


def test_one_value_spread_over_many_lines_is_read_in_linear_time(robust):
    target = robust("json")
    # A flat array, one element per line, never finished: 60 kB in all.  Reading
    # it must not re-parse everything read so far on every line (quadratic time
    # holding the GIL starves every other client): the deadline is a hang check.
    payload = b'{"method":"Robust.Echo","params":[[' + b"1,\n" * 20_000
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert attack(target, payload) == []


def test_deeply_nested_json_over_many_lines_gets_an_error_or_a_closed_connection(robust):
    target = robust("json")
    payload = b'{"method":"Robust.Echo","params":[' + b"[\n" * 20_000
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert attack(target, payload) == []


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_gets_an_error_or_a_closed_connection(robust, depth):
    target = robust("json")
    bomb = b"[" * depth + b"]" * depth
    with bystander(target), bounded_memory(MEMORY_LIMIT):
        assert_all_errors(attack(target, bomb + b"\n"))


def test_deeply_nested_params_get_an_error_or_a_closed_connection(robust):
    target = robust("json")
    depth = 100_000
    payload = b'{"method":"Robust.Echo","params":[' + b"[" * depth + b"]" * depth + b'],"id":1}\n'
    with bystander(target):
        assert_all_errors(attack(target, payload))


def test_huge_integer_id_is_echoed_back_exactly_like_go(robust):
    target = robust("json")
    payload = b'{"method":"Robust.Add","params":[{"A":1,"B":2}],"id":' + b"9" * 10_000 + b"}\n"
    with bystander(target):
        assert attack(target, payload) == [{"id": "9" * 10_000, "result": 3, "error": None}]


def test_huge_integer_argument_gets_an_error_or_a_closed_connection(robust):
    target = robust("json")
    payload = b'{"method":"Robust.Add","params":[{"A":' + b"9" * 10_000 + b',"B":2}],"id":1}\n'
    with bystander(target):
        assert_all_errors(attack(target, payload))


def test_float_overflow_argument_gets_an_error_reply(robust):
    target = robust("json")
    answers = attack(target, b'{"method":"Robust.Add","params":[{"A":1e999,"B":2}],"id":7}\n')
    assert len(answers) == 1 and answers[0]["id"] == 7
    assert_all_errors(answers)


def test_invalid_utf8_in_a_string_reads_as_replacement_characters_like_go(robust):
    target = robust("json")
    with bystander(target):
        answers = attack(target, b'{"method":"Robust.Echo","params":["\xff\xfe\xc3"],"id":1}\n')
    assert answers == [{"id": 1, "result": "\ufffd\ufffd\ufffd", "error": None}]


def test_lone_surrogate_in_a_string_is_echoed_as_a_replacement_character_like_go(robust):
    """Valid JSON (an escaped lone surrogate): Go reads it as U+FFFD, and so does the echo."""
    target = robust("json")
    answers = attack(target, b'{"method":"Robust.Echo","params":["\\ud800"],"id":3}\n')
    assert answers == [{"id": 3, "result": "\ufffd", "error": None}]


@pytest.mark.parametrize(
    "params",
    [["x"], [{"A": "x", "B": 2}], [{"A": [1], "B": 2}], [{"A": None, "B": {}}], {"A": 1}, "str", 5],
    ids=["string-for-struct", "string-field", "list-field", "null-and-object", "object-params", "string-params", "number-params"],
)
def test_wrong_argument_type_gets_an_error_and_the_connection_stays_usable(robust, params):
    target = robust("json")
    payload = request("Robust.Add", params, 1) + request("Robust.Add", [{"A": 2, "B": 3}], 2)
    answers = attack(target, payload)
    assert [a["id"] for a in answers] == [1, 2]
    assert answers[0]["error"] and answers[0]["result"] is None
    assert answers[1] == {"id": 2, "result": 5, "error": None}


@pytest.mark.parametrize("message", [b"{}", b"[1,2]", b'"text"', b"null", b"42", b'{"method":5,"id":1}'])
def test_messages_that_are_not_requests_get_an_error_or_a_closed_connection(robust, message):
    target = robust("json")
    assert_all_errors(attack(target, message + b"\n"))


def test_unknown_methods_at_a_high_rate_are_all_answered(robust):
    target = robust("json")
    count = 5_000
    payload = b"".join(request(f"Nope{i % 7}.Method", [1], i) for i in range(count))
    with bystander(target), bounded_memory(MEMORY_LIMIT), target.raw() as sock:
        # Read while sending: otherwise both sides' buffers fill up and block.
        data: list[bytes] = []
        reader = threading.Thread(target=lambda: data.append(read_until_closed(sock, limit=1 << 30)))
        reader.start()
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        reader.join(DEADLINE * 3)
        assert not reader.is_alive(), "the server did not answer every unknown method"
    answers = replies(data[0])
    assert sorted(a["id"] for a in answers) == list(range(count))
    assert all(a["error"].startswith("rpc: can't find") for a in answers)


def test_a_client_that_sends_half_a_message_and_stalls_does_not_block_others(robust):
    target = robust("json")
    stalled = target.raw()
    try:
        with bystander(target):
            stalled.sendall(b'{"method":"Robust.Add","params":[{"A":1,')
            other = target.dial()
            try:
                assert other.call("Robust.Add", {"A": 2, "B": 2}, reply_type=int, timeout=DEADLINE) == 4
            finally:
                other.close()
        # Closing the server must not wait for the stalled client to finish its message.
        target.serving.close()
        assert read_until_closed(stalled) == b""
    finally:
        stalled.close()


def test_many_connections_that_say_nothing_do_not_block_others(robust):
    target = robust("json")
    silent = [target.raw() for _ in range(50)]
    try:
        with bystander(target) as b:
            assert b.served_more(50)
    finally:
        for sock in silent:
            sock.close()
    assert wait_until(lambda: len(target.server.connections()) <= 1)
