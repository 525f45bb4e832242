"""minirpc against a real Go net/rpc peer, both directions, gob and jsonrpc.

``goapp`` (tests/interop/goapp, standard library only) is built once per
session.  As a server it prints "LISTEN 127.0.0.1:PORT" and exits when its
stdin closes; as a client it runs a scripted set of calls against us and
prints one JSON line per call, with Go's own verdict in "ok".
"""

from __future__ import annotations

import json
import math
import struct
import subprocess
import threading
from pathlib import Path

import pytest

import minirpc
from minirpc.errors import ServerError

from gotypes import Args, Inner, Ints, Nested, Quotient, WithArray

from conftest import Arith as GoTestArith
from goenv import go_build, stop_by_closing_stdin

GOAPP = Path(__file__).parent / "goapp"
CODECS = ["gob", "json"]


# ---------------------------------------------------------------- the Go types, in Python


def sample_nested() -> Nested:  # the same value as SampleNested() in goapp
    return Nested(
        ID=-42, Label="nested ✓",
        In=Inner("in", ["a", "b"], {"x": 1, "y": -2}),
        Items=[Inner("i0"), Inner(), Inner(Tags=[""], Scores={"z": 0})],
        Index={"k": Inner("v", ["t"])},
        Ptr=Inner("ptr"), Data=bytes([0, 1, 2, 255]), Flag=True, Ratio=0.5, U=2**64 - 1,
    )


SAMPLE_INTS = Ints(-(2**63), 2**63 - 1, -1, 2**64 - 1, -(2**31))
UNICODE = "héllo, 世界 🌍 \x00 end"


# ---------------------------------------------------------------- the same services, in Python
class Arith(GoTestArith):  # Add, Mul, Div, ... as in Go's server_test.go
    def Sleep(self, ms: int) -> int:
        threading.Event().wait(ms / 1000)
        return ms


class Echo:
    def Nested(self, n: Nested) -> Nested:
        return n

    def Bytes(self, b: bytes) -> bytes:
        return b

    def String(self, s: str) -> str:
        return s

    def Floats(self, f: list[float]) -> list[float]:
        return f

    def Ints(self, v: Ints) -> Ints:
        return v

    def Array(self, a: WithArray) -> WithArray:
        return a


# ---------------------------------------------------------------- fixtures (test_aio_go.py uses them too)
@pytest.fixture(scope="session")
def goapp() -> Path:
    return go_build(GOAPP)


@pytest.fixture(scope="module", params=CODECS)
def go_server(request, goapp):
    """A Go net/rpc server process; yields (codec, address); stopped by closing its stdin."""
    codec = request.param
    proc = subprocess.Popen([str(goapp), "server", "-codec", codec], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("LISTEN "), f"goapp server said {line!r}"
        yield codec, line.split()[1]
    finally:
        stop_by_closing_stdin(proc, timeout=5)


@pytest.fixture
def client(go_server):
    codec, address = go_server
    with minirpc.dial("tcp", address, codec=codec) as c:
        yield c, codec


_GO_CLIENT_RESULTS: dict[str, dict] = {}


def go_client_results(goapp: Path, codec: str) -> dict:
    """Run goapp's scripted client against a minirpc server (once per codec)."""
    if codec not in _GO_CLIENT_RESULTS:
        server = minirpc.Server()
        server.register(Arith())
        server.register(Echo())
        server.register_name("net.rpc.Arith", Arith())
        try:
            with server.start("127.0.0.1:0", codec=codec) as serving:
                done = subprocess.run([str(goapp), "client", "-codec", codec, "-addr", serving.address],
                                      capture_output=True, text=True, timeout=120)
        finally:
            server.close()
        assert done.returncode == 0, done.stderr
        _GO_CLIENT_RESULTS[codec] = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    return _GO_CLIENT_RESULTS[codec]


# ---------------------------------------------------------------- Go client -> minirpc server
GO_CLIENT_CHECKS = ["add", "mul", "div", "register_name", "async_out_of_order", "nested", "zero_struct",
                    "one_mib_bytes", "unicode", "extreme_ints", "array"]


@pytest.mark.parametrize("name, codec", [(name, codec) for name in GO_CLIENT_CHECKS for codec in CODECS])
def test_go_client_gets_correct_replies_from_minirpc(goapp, codec, name):
    result = go_client_results(goapp, codec)[name]
    assert result["ok"], result


def test_go_client_sends_nan_and_infinities_through_gob(goapp):
    result = go_client_results(goapp, "gob")["nan_inf_floats"]
    assert result["ok"], result


GO_ERROR_TEXTS = [  # goapp's client checks whose Go error text a server must send exactly
    ("div_by_zero", "divide by zero"),
    ("unknown_method", "rpc: can't find method Arith.Nope"),
    ("unknown_service", "rpc: can't find service Nope.Add"),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("name, text", GO_ERROR_TEXTS)
def test_go_client_sees_go_error_texts_from_minirpc(goapp, codec, name, text):
    assert go_client_results(goapp, codec)[name]["error"] == text


@pytest.mark.parametrize("codec", ["gob", "json"])
def test_go_client_sees_a_type_error_for_wrong_args(goapp, codec):
    assert "type" in go_client_results(goapp, codec)["wrong_arg_type"]["error"]


# ---------------------------------------------------------------- minirpc client -> Go server
def test_sync_call_to_go_server(client):
    c, _ = client
    assert c.call("Arith.Add", Args(7, 8), reply_type=int) == 15


def test_pointer_args_method_of_go_server(client):
    c, _ = client
    assert c.call("Arith.Mul", Args(7, 8), reply_type=int) == 56


def test_struct_reply_from_go_server(client):
    c, _ = client
    assert c.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


def test_server_error_text_from_go_server(client):
    c, _ = client
    with pytest.raises(ServerError) as e:
        c.call("Arith.Div", Args(7, 0), reply_type=Quotient)
    assert str(e.value) == "divide by zero"


def test_unknown_method_text_from_go_server(client):
    c, _ = client
    with pytest.raises(ServerError) as e:
        c.call("Arith.Nope", Args(), reply_type=int)
    assert str(e.value) == "rpc: can't find method Arith.Nope"


def test_unknown_service_text_from_go_server(client):
    c, _ = client
    with pytest.raises(ServerError) as e:
        c.call("Nope.Add", Args(), reply_type=int)
    assert str(e.value) == "rpc: can't find service Nope.Add"


def test_connection_survives_errors_from_go_server(client):
    c, _ = client
    with pytest.raises(ServerError):
        c.call("Arith.Div", Args(7, 0), reply_type=Quotient)
    assert c.call("Arith.Add", Args(1, 1), reply_type=int) == 2


def test_wrong_arg_type_is_a_type_error_from_go_server(client):
    c, _ = client
    with pytest.raises(ServerError) as e:
        c.call("Arith.Add", "not args", reply_type=int)
    assert "type" in str(e.value)


def test_register_name_with_dots_on_go_server(client):
    c, _ = client
    assert c.call("net.rpc.Arith.Add", Args(1, 2), reply_type=int) == 3


def test_hundred_concurrent_calls_to_go_server_complete_out_of_order(client):
    c, _ = client
    finished, lock = [], threading.Lock()

    def note(i):
        def done(_call):
            with lock:
                finished.append(i)
        return done

    calls = []
    for i in range(100):
        call = c.go("Arith.Sleep", (100 - i) % 10 * 5, reply_type=int)
        call.add_done_callback(note(i))
        calls.append(call)
    assert [call.result(timeout=30) for call in calls] == [(100 - i) % 10 * 5 for i in range(100)]
    assert sorted(finished) == list(range(100)) and finished != sorted(finished)


def test_nested_structs_slices_and_maps_round_trip_through_go(client):
    c, _ = client
    assert c.call("Echo.Nested", sample_nested(), reply_type=Nested) == sample_nested()


def test_all_zero_struct_round_trips_through_go(client):
    c, _ = client
    assert c.call("Echo.Nested", Nested(), reply_type=Nested) == Nested()


def test_one_mib_of_bytes_round_trips_through_go(client):
    c, _ = client
    data = bytes(range(256)) * 4096
    assert c.call("Echo.Bytes", data, reply_type=bytes) == data


def test_unicode_string_round_trips_through_go(client):
    c, _ = client
    assert c.call("Echo.String", UNICODE, reply_type=str) == UNICODE


def test_extreme_ints_round_trip_through_go(client):
    c, _ = client
    assert c.call("Echo.Ints", SAMPLE_INTS, reply_type=Ints) == SAMPLE_INTS


def test_nan_and_infinities_round_trip_through_go_gob_and_json_refuses_them(client):
    c, codec = client
    values = [math.nan, math.inf, -math.inf, -0.0, 1.5, 5e-324]
    if codec == "json":  # JSON has no NaN or infinities: refused before sending, as Go's encoder does
        with pytest.raises(ValueError, match=r"^json: unsupported value: NaN$"):
            c.call("Echo.Floats", values, reply_type=list[float])
        values = values[3:]
    back = c.call("Echo.Floats", values, reply_type=list[float])
    assert [struct.pack("<d", v) for v in back] == [struct.pack("<d", v) for v in values]


# ---------------------------------------------------------------- the golden fixtures are still Go's bytes
def test_golden_fixtures_match_what_go_writes_today(tmp_path):
    source = tmp_path / "gen"
    source.mkdir()
    golden = Path(__file__).parent / "golden"
    (source / "gen.go").write_text((golden / "gen.go").read_text())
    (source / "go.mod").write_text("module minirpc/interop/golden\n\ngo 1.19\n")
    binary = go_build(source)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([str(binary)], cwd=out, check=True, capture_output=True, timeout=120)
    fresh = {p.name: p.read_text() for p in out.glob("*.hex")}
    checked_in = {p.name: p.read_text() for p in golden.glob("*.hex")}
    assert fresh == checked_in


def test_map_reply_from_go_server(client):
    c, _ = client
    assert c.call("BuiltinTypes.Map", Args(7, 8), reply_type=dict[int, int]) == {7: 8}


def test_slice_reply_from_go_server(client):
    c, _ = client
    assert c.call("BuiltinTypes.Slice", Args(7, 8), reply_type=list[int]) == [7, 8]


def test_array_reply_from_go_server_arrives_as_a_list(client):
    c, _ = client
    assert c.call("BuiltinTypes.Array", Args(7, 8), reply_type=list[int]) == [7, 8]


def test_array_reply_from_go_server_arrives_as_a_tuple_of_its_size(client):
    c, _ = client
    assert c.call("BuiltinTypes.Array", Args(7, 8), reply_type=tuple[int, int]) == (7, 8)


def test_struct_with_an_array_field_round_trips_through_go(client):
    c, _ = client
    sent = WithArray((1, 0, -3))
    assert c.call("Echo.Array", sent, reply_type=WithArray) == sent


# ---------------------------------------------------------------- typed proxies against Go


def test_a_typed_proxy_calls_the_go_server(client):
    c, _ = client
    arith = c.proxy(Arith)  # the Python class stands in for Go's shared types
    assert arith.Add(Args(7, 8)) == 15
    assert arith.Div(Args(17, 5)) == Quotient(3, 2)
    assert arith.Div({"A": 17, "B": 5}) == Quotient(3, 2)  # a dict for a struct argument is converted
    with pytest.raises(ServerError, match="^divide by zero$"):
        arith.Div(Args(1, 0))
    assert arith.Mul.go(Args(6, 7)).result(timeout=10) == 42


def test_a_typed_proxy_under_another_name_calls_the_go_server(client):
    c, _ = client
    assert c.proxy(Arith, name="net.rpc.Arith").Add(Args(1, 2)) == 3
