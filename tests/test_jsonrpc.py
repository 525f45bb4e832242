"""JSON-RPC 1.0 as Go's net/rpc/jsonrpc speaks it: exact bytes, and Go's all_test.go."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

import minirpc
from minirpc import jsonrpc
from minirpc.errors import BodyError, ProtocolError, TruncatedMessage
from minirpc.format import NEED_DATA, Request, Response
from minirpc.values import Uint

from conftest import Args, CountingSearch, Quotient


def server_format(*chunks: bytes) -> jsonrpc.ServerFormat:
    fmt = jsonrpc.ServerFormat()
    for chunk in chunks:
        fmt.receive_data(chunk)
    return fmt


def request(fmt: jsonrpc.ServerFormat, data: bytes = b"") -> "tuple[Request, object]":
    """Feed a request (with the id 0) and encode nothing: returns (header, message)."""
    if data:
        fmt.receive_data(data)
    message = fmt.next_message()
    return message.header, message


def encode_response(id_json: bytes, response: Response, body) -> bytes:
    """Go's serverCodec.WriteResponse for a request whose id was ``id_json``."""
    fmt = server_format(b'{"method":"' + response.service_method.encode() + b'","params":[],"id":' + id_json + b"}")
    response.seq = fmt.next_message().header.seq
    return fmt.encode(response, body)


def client_reply(data: bytes):
    fmt = jsonrpc.ClientFormat()
    fmt.receive_data(data)
    return fmt.next_message()


# -- what the client format keeps per call ------------------------------


def test_a_reply_header_names_the_method_of_its_request_as_gos_client_does():
    fmt = jsonrpc.ClientFormat()
    fmt.encode(Request("Arith.Add", 7), Args(1, 2))
    fmt.receive_data(b'{"id":7,"result":3,"error":null}\n')
    assert fmt.next_message().header == Response("Arith.Add", 7)


def test_a_forgotten_call_leaves_nothing_kept_and_its_late_reply_still_reads():
    fmt = jsonrpc.ClientFormat()
    for seq in range(100):
        fmt.encode(Request("Gate.Hold", seq), 1)
        fmt.forget(seq)  # (the client gave the call up: it timed out, say)
    assert fmt._methods == {}
    fmt.receive_data(b'{"id":3,"result":1,"error":null}\n{"id":4,"result":null,"error":"late"}\n')
    assert fmt.next_message().header == Response("", 3)
    assert fmt.next_message().header == Response("", 4, "late")


def test_forgetting_a_call_never_made_or_already_answered_is_harmless():
    fmt = jsonrpc.ClientFormat()
    fmt.encode(Request("Arith.Add", 0), Args(1, 2))
    fmt.receive_data(b'{"id":0,"result":3,"error":null}\n')
    fmt.next_message()
    fmt.forget(0)
    fmt.forget(99)
    assert fmt._methods == {}


# -- exact bytes, as Go's json.Encoder writes them ------------------------


def test_request_bytes_match_go():
    assert jsonrpc.ClientFormat().encode(Request("Arith.Add", 0), Args(7, 8)) == (
        b'{"method":"Arith.Add","params":[{"A":7,"B":8}],"id":0}\n'
    )


def test_success_response_bytes_match_go():
    assert encode_response(b"0", Response("Arith.Add"), Quotient(3, 1)) == (
        b'{"id":0,"result":{"Quo":3,"Rem":1},"error":null}\n'
    )


def test_error_response_has_null_result_like_go():
    assert encode_response(b'"x"', Response("Arith.Div", 0, "divide by zero"), None) == (
        b'{"id":"x","result":null,"error":"divide by zero"}\n'
    )


def test_html_characters_are_escaped_like_go():
    assert jsonrpc.encode_value({"s": "<a&b>"}) == '{"s":"\\u003ca\\u0026b\\u003e"}'


def test_backspace_and_form_feed_are_escaped_like_go():
    assert jsonrpc.encode_value("\b\f\\b") == '"\\u0008\\u000c\\\\b"'


def test_unicode_is_written_as_utf8_like_go():
    assert jsonrpc.ClientFormat().encode(Request("S.M", 0), "héllo 世界") == \
        '{"method":"S.M","params":["héllo 世界"],"id":0}\n'.encode()


def test_bytes_are_written_as_base64_like_go():
    assert jsonrpc.encode_value({"b": b"hi"}) == '{"b":"aGk="}'


def test_map_keys_are_sorted_like_go():
    assert jsonrpc.encode_value({"b": 1, "a": 2, "10": 3, "9": 4}) == '{"10":3,"9":4,"a":2,"b":1}'


def test_struct_fields_keep_their_order():
    assert jsonrpc.encode_value(Quotient(Quo=1, Rem=2)) == '{"Quo":1,"Rem":2}'


@pytest.mark.parametrize("value, text", [(100.0, "100"), (0.1, "0.1"), (-0.0, "-0"), (1e21, "1e+21"),
                                         (1e20, "100000000000000000000"), (1.5e-7, "1.5e-7"),
                                         (1e-6, "0.000001"), (123456.789, "123456.789")])
def test_floats_are_written_as_go_writes_them(value, text):
    assert jsonrpc.encode_value([value]) == f"[{text}]"


@pytest.mark.parametrize("value, go_text", [(float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf")])
def test_nan_and_infinities_are_refused_with_gos_text(value, go_text):
    with pytest.raises(ValueError) as error:
        jsonrpc.encode_value({"f": value})
    assert str(error.value) == f"json: unsupported value: {go_text}"


def test_no_reply_is_sent_as_an_empty_struct_like_go():
    assert encode_response(b"3", Response("Store.Put"), None) == b'{"id":3,"result":{},"error":null}\n'


# -- encode plans: written once per type, the same bytes as the general path --


@dataclass
class Note:
    Text: str = ""
    Count: Uint = 0
    Score: float = 0.0
    Where: Args = field(default_factory=Args)
    Tags: list[str] = field(default_factory=list)


@dataclass
class Tree:  # contains itself: no plan, the general path writes it
    Value: int = 0
    Kids: list[Tree] = field(default_factory=list)


def request_body(body) -> bytes:
    data = jsonrpc.ClientFormat().encode(Request("S.M", 0), body)
    assert data.startswith(b'{"method":"S.M","params":[') and data.endswith(b'],"id":0}\n')
    return data[len(b'{"method":"S.M","params":['):-len(b'],"id":0}\n')]


@pytest.mark.parametrize("value, text", [
    (Args(True, 2), '{"A":true,"B":2}'),  # a field declared int may hold anything: Python does not check
    (Args(2.5, None), '{"A":2.5,"B":null}'),
    (Args("<x>", [1]), '{"A":"\\u003cx\\u003e","B":[1]}'),
    (Args({"b": 1, "a": 2}, 0), '{"A":{"b":1,"a":2},"B":0}'),  # (the general path trusts Args's fields)
])
def test_a_plan_hands_a_value_it_did_not_expect_to_the_general_path(value, text):
    assert jsonrpc.encode_value(value) == text
    assert jsonrpc.encoder_for(Args)(value) == text
    assert request_body(value) == text.encode()


def test_a_plan_escapes_strings_as_go_does():
    note = Note(Text="<a&b>\u2028\u2029\b", Count=3, Score=100.0, Where=Args(1, 2), Tags=["&", "é"])
    text = ('{"Text":"\\u003ca\\u0026b\\u003e\\u2028\\u2029\\u0008","Count":3,"Score":100,'
            '"Where":{"A":1,"B":2},"Tags":["\\u0026","é"]}')
    assert jsonrpc.encode_value(note) == text
    assert jsonrpc.encoder_for(Note)(note) == text
    assert request_body(note) == text.encode()


@pytest.mark.parametrize("value", [
    Note(), Note(Where=Args(True, 1.5)), Note(Where=None), Note(Tags=("a", "b")), Note(Tags=["a", 1]),
    Note(Count=True), Note(Score=3), Note(Score=-0.0), Note(Score=1e21), Note(Text=None), Tree(1, [Tree(2)]),
    [Args(1, 2), Args(3, 4)], [Args(1, 2), None], 56, True, None, "s", 1.5, b"hi", {"a": 1.0},
])
@pytest.mark.parametrize("declared", [Note, Args, Tree, list[Args], int, str, float, bool, type(None), Uint, Any])
def test_a_plan_writes_what_the_general_path_writes(value, declared):
    assert jsonrpc.encoder_for(declared)(value) == jsonrpc.encode_value(value)


def test_a_plan_refuses_what_the_general_path_refuses_with_gos_words():
    with pytest.raises(ValueError, match="^json: unsupported value: NaN$"):
        jsonrpc.encoder_for(Note)(Note(Score=float("nan")))
    with pytest.raises(TypeError, match="^json: unsupported type: object$"):
        jsonrpc.encoder_for(Note)(Note(Tags=[object()]))
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="^json: value nested too deeply to encode$"):
        jsonrpc.encoder_for(Note)(Note(Tags=deep))


def test_a_lone_surrogate_in_a_planned_string_is_sent_as_u_fffd_like_go():
    assert request_body(Note(Text="a\ud800b")).startswith('{"Text":"a\ufffdb",'.encode())


def test_a_reply_declared_int_that_is_a_float_is_written_as_go_writes_floats():
    fmt = server_format(b'{"method":"A.M","params":[],"id":4}')
    assert fmt.encode(Response("A.M", fmt.next_message().header.seq), 100.0, int) == \
        b'{"id":4,"result":100,"error":null}\n'


@pytest.mark.parametrize("declared", [None, Quotient, int, Any])
def test_a_reply_is_written_the_same_whatever_its_declared_type(declared):
    for body in (Quotient(3, 1), 56, 2.5, "<", {"b": 1, "a": 2}, None):
        fmt = server_format(b'{"method":"A.M","params":[],"id":"x"}')
        seq = fmt.next_message().header.seq
        result = "{}" if body is None else jsonrpc.encode_value(body)
        assert fmt.encode(Response("A.M", seq), body, declared) == \
            f'{{"id":"x","result":{result},"error":null}}\n'.encode()


# -- framing: Go's json.Decoder reads a stream of values --------------------


def test_a_request_without_a_newline_is_read():
    header, _ = request(server_format(b'{"method":"Arith.Add","params":[{"A":1,"B":2}],"id":0}'))
    assert header.service_method == "Arith.Add"


def test_two_requests_with_nothing_between_them_are_two_messages():
    fmt = server_format(b'{"method":"A.B","params":[1],"id":1}{"method":"C.D","params":[2],"id":2}')
    assert [fmt.next_message().header.service_method for _ in range(2)] == ["A.B", "C.D"]
    assert fmt.next_message() is NEED_DATA


def test_any_whitespace_may_separate_requests():
    fmt = server_format(b' \t\r\n{"method":"A.B","params":[1],"id":1} \n\n\t {"method":"C.D","params":[2],"id":2}\r\n')
    assert [fmt.next_message().header.service_method for _ in range(2)] == ["A.B", "C.D"]


def test_a_request_split_anywhere_is_read_when_whole():
    data = '{"method":"Arith.Add","params":[{"A":1,"B":"\\"}x\\\\"}],"id":"héllo"}'.encode()
    for cut in range(1, len(data)):
        fmt = server_format(data[:cut])
        assert fmt.next_message() is NEED_DATA, cut
        fmt.receive_data(data[cut:])
        message = fmt.next_message()
        assert message.body == [{"A": 1, "B": '"}x\\'}] and message.data == data, cut


def test_a_request_arriving_byte_by_byte_is_read_once_whole():
    data = b'{"method":"Arith.Add","params":[{"A":1,"B":2}],"id":7}'
    fmt = jsonrpc.ServerFormat()
    for i in range(len(data) - 1):
        fmt.receive_data(data[i:i + 1])
        assert fmt.next_message() is NEED_DATA
    fmt.receive_data(data[-1:])
    assert fmt.next_message().header.service_method == "Arith.Add"


def test_a_message_in_many_pieces_is_scanned_once_not_once_per_piece(monkeypatch):
    searches = [CountingSearch(jsonrpc._OUTSIDE), CountingSearch(jsonrpc._IN_STRING)]
    monkeypatch.setattr(jsonrpc, "_OUTSIDE", searches[0])
    monkeypatch.setattr(jsonrpc, "_IN_STRING", searches[1])
    text = "y" * 100_000 + '\\"}]{[\\\\' + "z" * 100_000  # a long string, with escapes and brackets in it
    data = json.dumps({"method": "Echo.Text", "params": [{"Text": text}], "id": 1}).encode()
    fmt = jsonrpc.ServerFormat()
    for i in range(0, len(data), 1000):
        assert fmt.next_message() is NEED_DATA
        fmt.receive_data(data[i:i + 1000])
    assert fmt.next_message().body == [{"Text": text}]
    looked_at = sum(search.looked_at for search in searches)
    assert looked_at <= len(data) + len(data) // 1000  # (an escape cut off)


def test_an_escape_cut_from_the_byte_it_escapes_is_still_an_escape():
    data = b'{"method":"A.B","params":["\\"}]\\\\", {"x": "\\\\"}],"id":1}'
    fmt = jsonrpc.ServerFormat()
    for i in range(len(data) - 1):
        fmt.receive_data(data[i:i + 1])
        assert fmt.next_message() is NEED_DATA, data[:i + 1]
    fmt.receive_data(data[-1:])
    assert fmt.next_message().body == ['"}]\\', {"x": "\\"}]


def test_a_message_over_the_limit_is_refused_before_it_ends():
    fmt = jsonrpc.ServerFormat(max_message=100)
    fmt.receive_data(b'{"method":"Arith.Add","params":["' + b"x" * 200)
    with pytest.raises(ProtocolError, match="larger than 100 bytes"):
        fmt.next_message()


def test_nesting_deeper_than_the_limit_is_refused():
    with pytest.raises(ProtocolError, match="nesting deeper than"):
        server_format(b'{"params":' + b"[" * (jsonrpc.MAX_DEPTH + 1) + b"]" * (jsonrpc.MAX_DEPTH + 1) + b"}").next_message()


def test_nesting_within_the_limit_is_read():
    depth = jsonrpc.MAX_DEPTH - 2
    message = server_format(b'{"params":' + b"[" * depth + b"]" * depth + b"}").next_message()
    assert isinstance(message.body, list)


def test_a_message_that_is_not_an_object_is_refused_at_once():
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        server_format(b"[1, 2").next_message()


def test_an_http_answer_is_named_as_such():
    with pytest.raises(ProtocolError, match="answered in HTTP"):
        server_format(b"HTTP/1.0 400 Bad Request\r\n\r\n").next_message()


def test_the_end_of_the_stream_between_messages_is_a_clean_eof():
    fmt = server_format(b'{"method":"A.B","params":[],"id":1}\n', b"")
    fmt.next_message()
    with pytest.raises(EOFError) as info:
        fmt.next_message()
    assert not isinstance(info.value, TruncatedMessage)


def test_the_end_of_the_stream_inside_a_message_is_unexpected():
    with pytest.raises(TruncatedMessage, match="unexpected EOF"):
        server_format(b'{"method":"A.B","par', b"").next_message()


def test_keys_match_case_insensitively_like_go():
    header, message = request(server_format(b'{"METHOD":"Arith.Add","Params":[{"A":1}],"iD":5}'))
    assert header.service_method == "Arith.Add" and message.body == [{"A": 1}]


def test_a_method_that_is_not_a_string_ends_the_connection_like_go():
    with pytest.raises(ProtocolError, match="serverRequest.method of type string"):
        server_format(b'{"method":7,"params":[],"id":1}').next_message()


def test_nan_and_infinity_are_not_json():
    with pytest.raises(ProtocolError, match="invalid JSON"):
        server_format(b'{"method":"A.B","params":[NaN],"id":1}').next_message()


# -- bodies ------------------------------------------------------------------


def body(params: bytes, type_):
    fmt = server_format(b'{"method":"A.B","params":' + params + b',"id":1}')
    return fmt.decode_body(fmt.next_message(), type_)


def test_params_must_be_present():
    with pytest.raises(BodyError, match="^jsonrpc: request body missing params$"):
        body(b"null", Args)


def test_object_params_are_refused_with_gos_text():
    with pytest.raises(BodyError, match=r"cannot unmarshal object into Go value of type \[1\]interface \{\}"):
        body(b'{"A": 1}', Args)


@pytest.mark.parametrize("params", [b"[]", b"[null]"])
def test_empty_params_decode_to_zero_args_like_go(params):
    assert body(params, Args) == Args(0, 0)


def test_extra_params_are_ignored_like_go():
    assert body(b'[{"A":1},"extra"]', Args) == Args(1, 0)


def test_negative_zero_keeps_its_sign_like_go():
    value = body(b"[-0]", float)
    assert value == 0 and str(value) == "-0.0"


def test_a_huge_integer_is_a_body_error_not_a_broken_stream():
    with pytest.raises(BodyError, match="5000 digits does not fit int"):
        body(b"[" + b"7" * 5000 + b"]", int)


def test_an_integer_out_of_int64_range_is_refused_like_go():
    with pytest.raises(BodyError, match="out of range for int"):
        body(b"[9223372036854775808]", int)


def test_a_float_too_big_for_float64_is_refused_like_go():
    with pytest.raises(BodyError, match="out of range for float64"):
        body(b"[1e400]", float)


def test_reply_with_null_result_and_null_error_is_malformed_like_go():
    with pytest.raises(ProtocolError, match=r"^invalid error <nil>$"):
        client_reply(b'{"id":0,"result":null,"error":null}')


def test_non_string_error_is_malformed_like_go():
    with pytest.raises(ProtocolError, match="^invalid error 42$"):
        client_reply(b'{"id":0,"result":null,"error":42}')


def test_empty_error_text_becomes_unspecified_error_like_go():
    assert client_reply(b'{"id":0,"result":null,"error":""}').header.error == "unspecified error"


def test_a_null_reply_id_reads_as_zero_like_go():
    assert client_reply(b'{"id":null,"result":1,"error":null}').header.seq == 0


def test_a_reply_id_that_is_not_a_sequence_number_is_refused():
    with pytest.raises(ProtocolError, match="clientResponse.id of type uint64"):
        client_reply(b'{"id":"seven","result":1,"error":null}')


# -- a live server, spoken to with raw bytes (Go's all_test.go) ------------


@pytest.fixture
def json_serving(server):
    with server.start("127.0.0.1:0", codec="json") as serving:
        yield serving


@pytest.fixture
def raw(json_serving):
    host, port = json_serving.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    yield sock, sock.makefile("rb")
    sock.close()


def exchange(raw, line: bytes) -> dict:
    sock, rfile = raw
    sock.sendall(line)
    return json.loads(rfile.readline())


def test_server_echoes_string_ids_and_answers(raw):
    # TestServer: ten requests with ids "\u000N"
    for i in range(10):
        reply = exchange(raw, json.dumps({"method": "Arith.Add", "id": chr(i), "params": [{"A": i, "B": i + 1}]}).encode() + b"\n")
        assert reply == {"id": chr(i), "result": 2 * i + 1, "error": None}


def test_server_echoes_any_json_id(raw):
    reply = exchange(raw, b'{"method":"Arith.Add","params":[{"A":1,"B":2}],"id":[1,"two"]}\n')
    assert reply["id"] == [1, "two"]


def test_server_answers_missing_id_with_null(raw):
    assert exchange(raw, b'{"method":"Arith.Add","params":[{"A":1,"B":2}]}\n')["id"] is None


def test_server_no_params_is_an_error(raw):
    # TestServerNoParams
    reply = exchange(raw, b'{"method":"Arith.Add","id":"123"}\n')
    assert reply == {"id": "123", "result": None, "error": "jsonrpc: request body missing params"}


def test_server_empty_message_is_an_error(raw):
    # TestServerEmptyMessage
    reply = exchange(raw, b"{}\n")
    assert reply["error"] == "rpc: service/method request ill-formed: " and reply["result"] is None


def test_server_error_has_null_result(raw):
    # TestServerErrorHasNullResult
    reply = exchange(raw, b'{"method":"Arith.Div","params":[{"A":1,"B":0}],"id":1}\n')
    assert reply == {"id": 1, "result": None, "error": "divide by zero"}


def test_server_answers_a_request_with_no_newline(raw):
    sock, rfile = raw
    sock.sendall(b'{"method":"Arith.Add","params":[{"A":1,"B":2}],"id":1}')
    assert json.loads(rfile.readline())["result"] == 3


def test_client_reads_a_reply_with_no_newline():
    ours, theirs = socket.socketpair()
    client = minirpc.new_client(ours, codec="json")
    try:
        call = client.go("Arith.Add", Args(1, 2))
        theirs.makefile("rb").readline()
        theirs.sendall(b'{"id":0,"result":3,"error":null}')
        assert call.result(timeout=10) == 3
    finally:
        client.close()
        theirs.close()


def test_server_reads_a_message_split_over_lines_and_two_on_one_line(raw):
    sock, rfile = raw
    sock.sendall(b'{"method":"Arith.Add",\n"params":[{"A":1,"B":2}],"id":1}{"method":"Arith.Add","params":[{"A":2,"B":2}],"id":2}\n')
    replies = sorted((json.loads(rfile.readline()) for _ in range(2)), key=lambda r: r["id"])
    assert [r["result"] for r in replies] == [3, 4]


def test_malformed_input_closes_the_connection(raw):
    # TestMalformedInput: ServeConn returns on bytes that are not JSON
    sock, rfile = raw
    sock.sendall(b"{id:1}\n")
    assert rfile.readline() == b""


def test_wrong_argument_type_is_an_error_and_the_connection_lives(raw):
    reply = exchange(raw, b'{"method":"Arith.Add","params":["seven"],"id":1}\n')
    assert reply["error"] == "args: expected an object for type Args, got str"
    assert exchange(raw, b'{"method":"Arith.Add","params":[{"A":1,"B":1}],"id":2}\n')["result"] == 2


def test_builtin_types_as_replies(raw):
    # TestBuiltinTypes: map and slice replies
    assert exchange(raw, b'{"method":"BuiltinTypes.Map","params":[{"A":7,"B":8}],"id":1}\n')["result"] == {"7": 8}
    assert exchange(raw, b'{"method":"BuiltinTypes.Slice","params":[{"A":7,"B":8}],"id":2}\n')["result"] == [7, 8]


def test_oversized_message_closes_the_connection(server):
    small = minirpc.Server(max_message=1000)
    small.register(type(server.registry.services()[0].receiver)())
    try:
        with small.start(codec="json") as serving:
            host, port = serving.address.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(b'{"method":"Arith.Add","params":["' + b"x" * 5000 + b'"],"id":1}\n')
                assert sock.makefile("rb").readline() == b""
    finally:
        small.close()


# -- the client against bytes we write (TestMalformedOutput, TestUnexpectedError)


def test_client_fails_a_call_on_malformed_output():
    ours, theirs = socket.socketpair()
    client = minirpc.new_client(ours, codec="json")
    try:
        call = client.go("Arith.Add", Args(1, 2))
        theirs.makefile("rb").readline()
        theirs.sendall(b'{"id":0,"result":null,"error":null}\n')
        with pytest.raises(minirpc.ConnectionLost, match="invalid error <nil>"):
            call.result(timeout=10)
    finally:
        client.close()
        theirs.close()


def test_serve_conn_returns_when_the_reader_fails(server):
    # TestUnexpectedError: a broken connection ends ServeConn
    ours, theirs = socket.socketpair()
    done = threading.Event()
    thread = threading.Thread(target=lambda: (server.serve_conn(ours, codec="json"), done.set()))
    thread.start()
    theirs.sendall(b"\xff\xfe garbage\n")
    thread.join(10)
    theirs.close()
    assert done.is_set()
