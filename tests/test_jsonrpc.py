"""JSON-RPC 1.0 as Go's net/rpc/jsonrpc speaks it: exact bytes, and Go's all_test.go."""

from __future__ import annotations

import json
import socket
import threading

import pytest

import minirpc
from minirpc import jsonrpc
from minirpc.codec import BodyError, Request, Response
from minirpc.errors import ProtocolError

from conftest import Args, Quotient


# -- exact bytes, as Go's json.Encoder writes them ------------------------


def test_request_bytes_match_go():
    assert jsonrpc.encode_request(Request("Arith.Add", 0), Args(7, 8)) == (
        b'{"method":"Arith.Add","params":[{"A":7,"B":8}],"id":0}\n'
    )


def test_success_response_bytes_match_go():
    assert jsonrpc.encode_response(0, Response("Arith.Add", 1), Quotient(3, 1)) == (
        b'{"id":0,"result":{"Quo":3,"Rem":1},"error":null}\n'
    )


def test_error_response_has_null_result_like_go():
    assert jsonrpc.encode_response("x", Response("Arith.Div", 1, "divide by zero"), None) == (
        b'{"id":"x","result":null,"error":"divide by zero"}\n'
    )


def test_html_characters_are_escaped_like_go():
    assert jsonrpc.encode({"s": "<a&b>"}) == b'{"s":"\\u003ca\\u0026b\\u003e"}\n'


def test_unicode_is_written_as_utf8_like_go():
    assert jsonrpc.encode({"s": "héllo 世界"}) == '{"s":"héllo 世界"}\n'.encode()


def test_bytes_are_written_as_base64_like_go():
    assert jsonrpc.encode({"b": b"hi"}) == b'{"b":"aGk="}\n'


def test_nan_cannot_be_encoded_like_go():
    with pytest.raises(ValueError, match="unsupported value"):
        jsonrpc.encode({"f": float("nan")})


def test_no_reply_is_sent_as_an_empty_struct():
    assert jsonrpc.encode_response(3, Response("Store.Put", 1), None) == b'{"id":3,"result":{},"error":null}\n'


# -- sans-IO parsing ------------------------------------------------------


def test_params_must_be_present():
    with pytest.raises(BodyError, match="^jsonrpc: request body missing params$"):
        jsonrpc.params_to_args(None, Args)


def test_object_params_are_refused_with_gos_text():
    with pytest.raises(BodyError, match=r"cannot unmarshal object into Go value of type \[1\]interface \{\}"):
        jsonrpc.params_to_args({"A": 1}, Args)


@pytest.mark.parametrize("params", [[], [None]])
def test_empty_params_decode_to_zero_args_like_go(params):
    assert jsonrpc.params_to_args(params, Args) == Args(0, 0)


def test_extra_params_are_ignored_like_go():
    assert jsonrpc.params_to_args([{"A": 1}, "extra"], Args) == Args(1, 0)


def test_reply_with_null_result_and_null_error_is_malformed_like_go():
    with pytest.raises(ProtocolError, match=r"^invalid error <nil>$"):
        jsonrpc.parse_response({"id": 0, "result": None, "error": None})


def test_non_string_error_is_malformed_like_go():
    with pytest.raises(ProtocolError, match="^invalid error 42$"):
        jsonrpc.parse_response({"id": 0, "result": None, "error": 42})


def test_empty_error_text_becomes_unspecified_error_like_go():
    response, _ = jsonrpc.parse_response({"id": 0, "result": None, "error": ""})
    assert response.error == "unspecified error"


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
    client = jsonrpc.new_client(ours)
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
    thread = threading.Thread(target=lambda: (jsonrpc.serve_conn(ours, server), done.set()))
    thread.start()
    theirs.sendall(b"\xff\xfe garbage\n")
    thread.join(10)
    theirs.close()
    assert done.is_set()
