"""Our gob bytes against bytes captured from real Go (tests/interop/golden/*.hex).

The fixtures come from ``go run gen.go`` in tests/interop/golden; every case ran
in a fresh Go process, so Go's type ids start at 65 as ours do.  These tests
need no Go: they only read the checked-in files.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from minirpc import gob
from minirpc.format import Request, Response
from minirpc.gob import rpc as gobrpc
from minirpc.gob import Uint

from gotypes import Args, Inner, Ints, Nested, Node, Point, WithArray

GOLDEN = Path(__file__).parent / "interop" / "golden"


def golden(name: str) -> bytes:
    return bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip())


@dataclass
class Empty:
    pass


@dataclass
class Anonymous:
    __gob_name__ = ""  # Go's struct{}{}


GO_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]  # the bits of Go's math.NaN()


def sample_nested() -> Nested:
    return Nested(
        ID=-42, Label="nested ✓",
        In=Inner("in", ["a", "b"], {"x": 1}),
        Items=[Inner("i0"), Inner(), Inner(Tags=[""], Scores={"z": 0})],
        Index={"k": Inner("v", ["t"])},
        Ptr=Inner("ptr"), Data=bytes([0, 1, 2, 255]), Flag=True, Ratio=0.5, U=2**64 - 1,
    )


# name -> [(value, type)] in the order Go encoded them with one Encoder
CASES = {
    "int_3": [(3, int)],
    "int_0": [(0, int)],
    "int_neg129": [(-129, int)],
    "int_extremes": [(-(2**63), int), (2**63 - 1, int)],
    "uint_values": [(v, Uint) for v in (0, 7, 255, 256, 2**63, 2**64 - 1)],
    "float_values": [(v, float) for v in (17.0, -0.0, 0.5, math.inf, -math.inf, GO_NAN, 1.7976931348623157e308)],
    "bool_values": [(True, bool), (False, bool)],
    "string_hi": [("hi", str)],
    "string_unicode": [("héllo, 世界 🌍", str)],
    "bytes_value": [(bytes([0, 1, 2, 255]), bytes)],
    "complex_value": [(complex(1.5, -2), complex)],
    "point": [(Point(22, 33), Point)],
    "point_twice": [(Point(22, 33), Point), (Point(1, 0), Point)],
    "point_zero": [(Point(), Point)],
    "empty_struct": [(Anonymous(), Anonymous)],
    "named_empty": [(Empty(), Empty)],
    "slice_string": [(["a", "", "b"], list[str])],
    "slice_points": [([Point(1, 2), Point()], list[Point])],
    "map_string_int": [({"a": 1}, dict[str, int])],
    "nested": [(sample_nested(), Nested)],
    "nested_zero": [(Nested(), Nested)],
    "ints": [(Ints(-(2**63), 2**63 - 1, -1, 2**64 - 1, -(2**31)), Ints)],
    "recursive": [(Node(1, [Node(2), Node(3, [Node(4)])]), Node)],
    "array": [(WithArray((1, 0, 3)), WithArray)],
    "array_zero": [(WithArray(), WithArray)],  # an array field is sent even when all zero
    "array_points": [((Point(1, 2), Point()), tuple[Point, Point])],
    "request_args": [(Request("Arith.Add", 0), Request), (Args(7, 8), Args),
                     (Request("Arith.Add", 1), Request), (Args(0, -1), Args)],
    "response_error": [(Response("Arith.Div", 5, "divide by zero"), Response),
                       (gobrpc.InvalidRequest(), gobrpc.InvalidRequest)],
}


def same(a, b) -> bool:
    """Equality that treats NaN as equal to NaN and tells -0.0 from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    return a == b


@pytest.mark.parametrize("name", sorted(CASES))
def test_encoder_writes_the_same_bytes_as_go(name):
    encoder = gob.Encoder()
    ours = b"".join(encoder.encode(value, tp) for value, tp in CASES[name])
    assert ours.hex() == golden(name).hex()


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoder_reads_go_bytes_into_typed_values(name):
    decoder = gob.Decoder()
    decoder.feed(golden(name))
    for value, tp in CASES[name]:
        assert same(decoder.decode(tp), value)
    with pytest.raises(EOFError):
        decoder.decode()


def test_decoder_reads_go_bytes_into_plain_values():
    decoder = gob.Decoder()
    decoder.feed(golden("nested"))
    plain = decoder.decode()
    assert plain["In"] == {"Name": "in", "Tags": ["a", "b"], "Scores": {"x": 1}}
    assert plain["Items"] == [{"Name": "i0"}, {}, {"Tags": [""], "Scores": {"z": 0}}]
    assert plain["Ptr"] == {"Name": "ptr"} and plain["U"] == 2**64 - 1


def test_decoder_reads_a_go_array_as_a_list():
    assert gob.decode(golden("array")) == {"A": [1, 0, 3]}


def test_decoder_reads_a_go_array_into_a_list_field():
    @dataclass
    class WithArray:
        A: list[int] = field(default_factory=list)

    assert gob.decode(golden("array"), WithArray) == WithArray([1, 0, 3])


def test_decoder_follows_a_real_go_client_stream():
    decoder = gob.Decoder()
    decoder.feed(golden("rpc_client_to_server"))
    seen = []
    while True:
        try:
            header = decoder.decode(Request)
        except EOFError:
            break
        seen.append((header.service_method, header.seq, decoder.decode(Args)))
    assert seen == [("Arith.Add", 0, Args(7, 8)), ("Arith.Div", 1, Args(7, 0)),
                    ("Arith.Add", 2, Args(1, 2)), ("Arith.Nope", 3, Args())]


def test_decoder_follows_a_real_go_server_stream_with_ids_from_67():
    decoder = gob.Decoder()
    decoder.feed(golden("rpc_server_to_client"))
    replies = []
    for _ in range(4):
        header = decoder.decode(Response)
        replies.append((header.seq, header.error, decoder.decode(None if header.error else int)))
    assert replies == [(0, "", 15), (1, "divide by zero", {}), (2, "", 3),
                       (3, "rpc: can't find method Arith.Nope", {})]
    assert min(t for t in decoder.wire_types if t > 64) > 65  # Go's ids are process-wide


def test_client_codec_bytes_match_a_real_go_client():
    encoder = gob.Encoder()
    calls = [("Arith.Add", Args(7, 8)), ("Arith.Div", Args(7, 0)), ("Arith.Add", Args(1, 2)),
             ("Arith.Nope", Args())]
    ours = b"".join(encoder.encode(Request(sm, seq)) + encoder.encode(args)
                    for seq, (sm, args) in enumerate(calls))
    assert ours == golden("rpc_client_to_server")
