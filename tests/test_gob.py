"""The gob format (minirpc.gob): exact bytes from Go's spec, round trips, errors, limits, dump."""

from __future__ import annotations

import math
import dataclasses
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from minirpc import gob
from minirpc.errors import ProtocolError
from minirpc.gob import Decoder, Encoder, GobError, Int32, Uint
from minirpc.gob import decoder as gob_decoder
from minirpc.gob import encoder as gob_encoder


@dataclass
class Point:
    X: int = 0
    Y: int = 0


@dataclass
class Node:
    Value: int = 0
    Kids: list["Node"] = field(default_factory=list)


def uint_bytes(u: int) -> str:
    out = bytearray()
    gob.put_uint(out, u)
    return out.hex(" ")


def int_bytes(i: int) -> str:
    out = bytearray()
    gob.put_int(out, i)
    return out.hex(" ")


def value_part(data: bytes) -> bytes:
    """The last message's payload after its type id (skips definitions)."""
    pos, last = 0, b""
    while pos < len(data):
        length, start = gob.get_uint(data, pos)
        last, pos = data[start:start + length], start + length
    return last[gob.get_int(last, 0)[1]:]


# ---------------------------------------------------------------- numbers (doc.go, codec_test.go)
@pytest.mark.parametrize("u, want", [(0, "00"), (7, "07"), (127, "7f"), (128, "ff 80"), (255, "ff ff"),
                                     (256, "fe 01 00"), (0xFFFF, "fe ff ff"),
                                     (1 << 63, "f8 80 00 00 00 00 00 00 00"),
                                     (2**64 - 1, "f8 ff ff ff ff ff ff ff ff")])
def test_uint_encoding_matches_go(u, want):
    assert uint_bytes(u) == want


@pytest.mark.parametrize("i, want", [(0, "00"), (1, "02"), (-1, "01"), (3, "06"), (-129, "fe 01 01"),
                                     (2**63 - 1, "f8 ff ff ff ff ff ff ff fe"),
                                     (-(2**63), "f8 ff ff ff ff ff ff ff ff")])
def test_int_encoding_matches_go(i, want):
    assert int_bytes(i) == want


@pytest.mark.parametrize("i", [0, 1, -1, 63, -64, 64, -65, 2**31, -(2**31), 2**63 - 1, -(2**63)])
def test_int_encoding_round_trips(i):
    out = bytearray()
    gob.put_int(out, i)
    assert gob.get_int(bytes(out), 0) == (i, len(out))


def test_float_is_sent_as_byte_reversed_bits():
    assert value_part(gob.encode(17.0)).hex(" ") == "00 fe 31 40"


def test_top_level_int_is_a_singleton():
    assert gob.encode(3).hex(" ") == "03 04 00 06"


def test_top_level_string_is_a_singleton():
    assert gob.encode("hi").hex(" ") == "05 0c 00 02 68 69"


def test_point_matches_the_doc_go_example():
    want = ("1f ff 81 03 01 01 05 50 6f 69 6e 74 01 ff 82 00 01 02 01 01 58 01 04 00 01 01 59 01 04 00 00 00"
            " 07 ff 82 01 2c 01 42 00")
    assert gob.encode(Point(22, 33)).hex(" ") == want


# codec_test.go's scalar instructions: the interesting field is number 6, so its delta is 7
@pytest.mark.parametrize("tp, value, want", [(bool, True, "07 01 00"), (int, 17, "07 22 00"),
                                             (float, 17.0, "07 fe 31 40 00"), (str, "hello", "07 05 68 65 6c 6c 6f 00"),
                                             (bytes, b"hello", "07 05 68 65 6c 6c 6f 00")])
def test_field_delta_skips_zero_fields(tp, value, want):
    cls = dataclass(type("Seventh", (), {"__annotations__": {**{f"F{i}": int for i in range(6)}, "V": tp}}))
    fields = {f"F{i}": 0 for i in range(6)}
    assert value_part(gob.encode(cls(**fields, V=value))).hex(" ") == want


def test_zero_fields_are_left_out():
    assert value_part(gob.encode(Point(0, 5))).hex(" ") == "02 0a 00"


def test_all_zero_struct_is_a_single_end_byte():
    assert value_part(gob.encode(Point())) == b"\x00"


def test_type_is_defined_once_per_stream():
    enc = Encoder()
    first, second = enc.encode(Point(1, 2)), enc.encode(Point(1, 2))
    assert len(first) > len(second) and second == bytes.fromhex("07 ff 82 01 02 01 04 00")


def test_each_stream_hands_out_its_own_ids():
    assert Encoder().encode(Point(1, 2)) == Encoder().encode(Point(1, 2))


# ---------------------------------------------------------------- round trips
@dataclass
class Inner:
    Name: str = ""
    Tags: list[str] = field(default_factory=list)


@dataclass
class Everything:
    I: int = 0
    U: Uint = 0
    S32: Int32 = 0
    F: float = 0.0
    B: bool = False
    S: str = ""
    Raw: bytes = b""
    C: complex = 0j
    L: list[int] = field(default_factory=list)
    M: dict[str, float] = field(default_factory=dict)
    In: Inner = field(default_factory=Inner)
    Many: list[Inner] = field(default_factory=list)
    ByName: dict[str, Inner] = field(default_factory=dict)
    Ptr: Optional[Inner] = None


EVERYTHING = Everything(-5, 2**64 - 1, -(2**31), 2.5, True, "héllo 🌍", b"\x00\xff", 1 - 2j, [1, -2, 0],
                        {"a": 0.5}, Inner("in", ["x"]), [Inner(), Inner("b")], {"k": Inner("v")}, Inner("p"))


def test_dataclass_round_trips():
    assert gob.decode(gob.encode(EVERYTHING), Everything) == EVERYTHING


def test_zero_dataclass_round_trips():
    assert gob.decode(gob.encode(Everything()), Everything) == Everything()


def test_recursive_dataclass_round_trips():
    tree = Node(1, [Node(2), Node(3, [Node(4)])])
    assert gob.decode(gob.encode(tree), Node) == tree


def test_decoding_without_a_type_gives_plain_values():
    assert gob.decode(gob.encode(Everything(I=1, In=Inner("n"), Many=[Inner()]))) == {
        "I": 1, "In": {"Name": "n"}, "Many": [{}]}


@pytest.mark.parametrize("value", [0, -1, 2**62, 1.5, True, False, "", "text", b"", b"\x00", 1j,
                                   [1, 2], ["a"], {"a": 1}, {1: [2.5]}, [[1], [2, 3]]])
def test_plain_values_round_trip(value):
    assert gob.decode(gob.encode(value)) == value


def test_nan_round_trips():
    assert math.isnan(gob.decode(gob.encode(math.nan)))


def test_dict_is_encoded_as_a_map_not_a_struct():
    assert gob.decode(gob.encode({"X": 1}), dict[str, int]) == {"X": 1}


def test_fields_are_matched_by_name_in_any_order():
    @dataclass
    class Reordered:
        Y: int = 0
        X: int = 0
    assert gob.decode(gob.encode(Point(1, 2)), Reordered) == Reordered(Y=2, X=1)


def test_extra_wire_fields_are_ignored_and_missing_ones_get_defaults():
    @dataclass
    class Partial:
        X: int = 0
        Z: str = "default"
    assert gob.decode(gob.encode(Point(1, 2)), Partial) == Partial(1, "default")


def test_fields_left_out_as_zero_decode_as_zero_not_default():
    @dataclass
    class Defaults:
        X: int = 7
        Y: int = 7
    assert gob.decode(gob.encode(Point(0, 1)), Defaults) == Defaults(0, 1)


def test_underscore_fields_are_not_sent():
    @dataclass
    class Private:
        X: int = 0
        _cache: int = 0
    assert gob.decode(gob.encode(Private(1, 99))) == {"X": 1}


def test_int_target_accepts_a_wire_uint():
    assert gob.decode(gob.encode(5, Uint), int) == 5


# ---------------------------------------------------------------- encoding errors
def test_int_out_of_range_names_the_field():
    with pytest.raises(GobError, match=r"Point\.X: 9223372036854775808 out of range for int"):
        gob.encode(Point(2**63, 0))


def test_wrong_field_type_names_the_field():
    with pytest.raises(GobError, match=r"Point\.Y: expected int, got str"):
        gob.encode(Point(1, "2"))


def test_wrong_type_in_a_nested_list_names_the_path():
    with pytest.raises(GobError, match=r"Everything\.Many\[1\]\.Name: expected str, got int"):
        gob.encode(Everything(Many=[Inner(), Inner(Name=5)]))


def test_negative_uint_is_refused():
    with pytest.raises(GobError, match="out of range for uint64"):
        gob.encode(-1, Uint)


def test_none_in_a_non_optional_field_is_refused():
    with pytest.raises(GobError, match=r"Point\.X: expected a value, got None"):
        gob.encode(Point(None, 1))


def test_empty_list_without_a_type_is_refused():
    with pytest.raises(GobError, match="pass type="):
        gob.encode([])


def test_empty_list_with_a_type_is_fine():
    assert gob.decode(gob.encode([], list[str]), list[str]) == []


def test_a_fixed_size_tuple_is_a_go_array():
    @dataclass
    class Grid:
        Row: tuple[int, int, int] = (0, 0, 0)

    data = gob.encode(Grid((1, 0, 3)))
    assert "[3]int" in gob.dump(data)
    assert gob.decode(data, Grid) == Grid((1, 0, 3))
    assert gob.decode(data) == {"Row": [1, 0, 3]}


def test_a_go_array_decodes_into_a_list_or_a_tuple_of_its_size():
    data = gob.encode(("a", "b"), tuple[str, str])
    assert gob.decode(data, list[str]) == ["a", "b"]
    assert gob.decode(data, tuple[str, str]) == ("a", "b")
    with pytest.raises(GobError, match=r"got \[2\]string, want \[3\]string"):
        gob.decode(data, tuple[str, str, str])


def test_a_go_slice_does_not_decode_into_an_array():
    with pytest.raises(GobError, match="type mismatch"):
        gob.decode(gob.encode(["a", "b"]), tuple[str, str])


def test_an_array_of_the_wrong_length_is_refused_naming_the_field():
    @dataclass
    class Grid:
        Row: tuple[int, int, int] = (0, 0, 0)

    with pytest.raises(GobError, match=r"Grid\.Row: expected 3 elements for \[3\]int, got 2"):
        gob.encode(Grid((1, 2)))


def test_a_variable_tuple_is_a_slice():
    assert gob.encode((1, 2), tuple[int, ...]) == gob.encode([1, 2], list[int])


def test_a_tuple_of_mixed_types_is_refused():
    with pytest.raises(GobError, match="no gob type"):
        gob.encode((1, "a"), tuple[int, str])


def test_interfaces_are_refused_clearly():
    @dataclass
    class WithAny:
        V: Any = None
    with pytest.raises(GobError, match="interface values are not supported"):
        gob.encode(WithAny(1))


def test_failed_encode_leaves_the_stream_state_unchanged():
    enc = Encoder()
    with pytest.raises(GobError):
        enc.encode(Point("x", 1))
    assert enc.encode(Point(22, 33)) == gob.encode(Point(22, 33))


# ---------------------------------------------------------------- decoding errors
def test_type_mismatch_names_the_field():
    @dataclass
    class Wrong:
        X: str = ""
    with pytest.raises(GobError, match=r"wrong type for received field Point\.X: got int, want string"):
        gob.decode(gob.encode(Point(1, 2)), Wrong)


def test_struct_into_non_struct_is_a_type_mismatch():
    with pytest.raises(GobError, match="type mismatch"):
        gob.decode(gob.encode(Point(1, 2)), int)


def test_non_struct_into_struct_uses_go_text():
    with pytest.raises(GobError, match="want struct type Point; got non-struct"):
        gob.decode(gob.encode("x"), Point)


def test_no_matching_fields_is_an_error_as_in_go():
    @dataclass
    class Other:
        Q: int = 0
    with pytest.raises(GobError, match="no fields matched compiling decoder for Other"):
        gob.decode(gob.encode(Point(1, 2)), Other)


def test_value_out_of_range_for_a_sized_target():
    with pytest.raises(GobError, match="out of range for int32"):
        gob.decode(gob.encode(2**40), Int32)


def test_gob_error_is_a_protocol_error():
    assert issubclass(GobError, ProtocolError) and issubclass(GobError, ValueError)


# ---------------------------------------------------------------- safety limits
def test_message_longer_than_the_limit_is_refused_from_its_prefix():
    dec = Decoder(max_message=100)
    dec.feed(bytes.fromhex("fe 03 e8"))  # only the length prefix has arrived
    with pytest.raises(GobError, match="invalid message length 1000"):
        dec.next_frame()


def test_zero_length_message_is_refused():
    with pytest.raises(GobError, match="invalid message length 0"):
        gob.decode(b"\x00")


def test_unknown_type_id_is_refused():
    with pytest.raises(GobError, match="unknown type id 65"):
        gob.decode(bytes.fromhex("03 ff 82 00"))


def test_invalid_type_id_from_go_test_is_refused():
    with pytest.raises(GobError):
        gob.decode(bytes.fromhex("01 00 01 00"))


def test_bytes_length_beyond_the_message_is_refused_before_allocating():
    data = bytearray(gob.encode(b"ab"))  # 05 0a 00 02 61 62
    data[3] = 0x50
    with pytest.raises(GobError, match="byte slice length 80 exceeds input size"):
        gob.decode(bytes(data))


def test_list_count_beyond_the_message_is_refused_before_allocating():
    data = bytearray(gob.encode([1, 2, 3]))
    data[-4] = 0x7F  # the count 3 becomes 127, with 3 bytes left
    with pytest.raises(GobError, match="slice length 127 exceeds input size"):
        gob.decode(bytes(data))


def test_string_length_beyond_the_message_is_refused():
    data = bytearray(gob.encode("hi"))
    data[3] = 0x50
    with pytest.raises(GobError, match="string length 80 exceeds input size"):
        gob.decode(bytes(data))


def test_nesting_deeper_than_the_limit_is_refused():
    deep = Node()
    for _ in range(30):
        deep = Node(0, [deep])
    dec = Decoder(max_depth=20)
    dec.feed(gob.encode(deep))
    with pytest.raises(GobError, match="nesting depth"):
        dec.decode(Node)


def test_nesting_within_the_limit_is_fine():
    deep = Node()
    for _ in range(30):
        deep = Node(0, [deep])
    assert gob.decode(gob.encode(deep), Node) == deep


def test_too_many_type_definitions_are_refused():
    enc = Encoder()
    stream = enc.encode([[1]], list[list[int]]) + enc.encode(Point(1, 1))  # two definitions, then one
    dec = Decoder(max_types=2)
    dec.feed(stream)
    dec.decode()
    with pytest.raises(GobError, match="more than 2 type definitions"):
        dec.decode()


def test_duplicate_type_definition_is_refused():
    definition = gob.encode(Point(1, 2))[:32]
    with pytest.raises(GobError, match="duplicate type"):
        gob.decode(definition + definition)


def test_field_number_out_of_range_is_refused():
    data = bytearray(gob.encode(Point(1, 2)))
    data[-3] = 0x05  # Y's delta 1 becomes 5: field 5 of 2
    with pytest.raises(GobError, match="field number out of range"):
        gob.decode(bytes(data))


def test_non_zero_singleton_delta_is_refused():
    with pytest.raises(GobError, match="non-zero delta for singleton"):
        gob.decode(bytes.fromhex("03 04 01 06"))


def test_uint_longer_than_eight_bytes_is_refused():
    with pytest.raises(GobError, match="out of range"):
        gob.decode(bytes.fromhex("03 04 00 f7"))


def test_extra_data_after_a_value_is_refused():
    with pytest.raises(GobError, match="extra data"):
        gob.decode(bytes.fromhex("04 04 00 06 06"))


def test_truncated_message_is_a_gob_error():
    with pytest.raises(GobError):
        gob.decode(gob.encode(Point(1, 2))[:-2])


# ---------------------------------------------------------------- streaming API
def test_decoder_waits_for_a_whole_message():
    data, dec = gob.encode(Point(22, 33)), Decoder()
    dec.feed(data[:35])
    with pytest.raises(EOFError):
        dec.decode(Point)
    dec.feed(data[35:])
    assert dec.decode(Point) == Point(22, 33)


def test_read_message_reports_definitions_with_negative_ids():
    data, dec = gob.encode(Point(1, 2)), Decoder()
    type_id, wire = dec.read_message(data[1:32])
    assert type_id == -65 and wire.kind == "struct" and wire.fields == (("X", 2), ("Y", 2))


# ---------------------------------------------------------------- dump
def test_dump_lists_the_definition_and_each_field():
    text = gob.dump(gob.encode(Point(22, 33)))
    assert "message 1: 31 bytes" in text and "struct Point {X int; Y int}" in text
    assert "field +1 -> X" in text and "X = 22" in text and "Y = 33" in text and "end of Point" in text


def test_dump_shows_singletons_and_counts():
    text = gob.dump(gob.encode([5, 6]))
    assert "singleton" in text and "count 2" in text and "[1] = 6" in text


def test_dump_reports_bad_bytes_instead_of_raising():
    assert "error" in gob.dump(bytes.fromhex("03 ff 82 00"))


def test_module_docstring_example_runs():
    import doctest

    assert doctest.testmod(gob).failed == 0


def test_a_dataclass_that_rejects_its_fields_gives_a_gob_error():
    @dataclass
    class Positive:
        X: int = 1

        def __post_init__(self):
            if self.X <= 0:
                raise ValueError("X must be positive")
    with pytest.raises(GobError, match="cannot build Positive: X must be positive"):
        gob.decode(gob.encode(Point(-1, 0)), Positive)


# ---------------------------------------------------------------- Go's refusals and the decoder's bounds


@dataclass
class OnlyPrivate:
    _msg: bytes = b""


def test_a_struct_with_fields_but_none_exported_is_refused_like_go():
    with pytest.raises(GobError, match="^gob: type OnlyPrivate has no exported fields$"):
        gob.encode(OnlyPrivate(b"foo"))


def test_a_struct_with_no_fields_at_all_is_fine_like_go():
    @dataclass
    class Nothing:
        pass

    assert gob.decode(gob.encode(Nothing()), Nothing) == Nothing()


@dataclass
class Empty:
    pass


@dataclass
class Wide:
    A: int = 0
    Ignored: list[Empty] = field(default_factory=list)
    Note: str = ""


@dataclass
class Narrow:
    A: int = 0


def test_fields_the_target_lacks_are_skipped_without_being_built():
    data = gob.encode(Wide(5, [Empty()] * 200_000, "n"))
    tracemalloc.start()
    try:
        assert gob.decode(data, Narrow) == Narrow(5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(data), f"peak {peak} bytes for a {len(data)}-byte message"


def test_a_skipped_field_is_still_checked():
    data = bytearray(gob.encode(Wide(5, [Empty()] * 3)))
    data[data.rindex(b"\x03\x00\x00\x00\x00")] = 0x7F  # the slice count now claims more elements than bytes
    with pytest.raises(GobError, match="exceeds input size"):
        gob.decode(bytes(data), Narrow)


def test_type_definitions_past_the_byte_budget_are_refused():
    dec = Decoder(max_type_bytes=50)
    dec.feed(gob.encode(Wide()))
    with pytest.raises(GobError, match="more than 50 bytes of type definitions"):
        dec.decode(Wide)


def test_type_definitions_are_kept_compactly():
    fields_ = {f"Field{i}": (int, 0) for i in range(2000)}
    cls = dataclasses.make_dataclass("Many", [(name, tp, dataclasses.field(default=d)) for name, (tp, d) in fields_.items()])
    data = gob.encode(cls())
    dec = Decoder()
    tracemalloc.start()
    try:
        dec.feed(data)
        dec.decode(None)
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 40 * len(data), f"{kept} bytes kept for {len(data)} bytes of definitions"


def test_an_ignored_interface_field_is_skipped():
    # struct{A int; I interface{}} holding I = int(5): Go writes the concrete type's name,
    # its type id, the byte count, then the value (here a singleton: 00 0a)
    definition = gob_encoder.definition(gob.WireType("struct", "WithIface", 65, (("A", 2), ("I", 8))))
    payload = bytes.fromhex("ff 82 01 0a 01 03") + b"int" + bytes.fromhex("04 02 00 0a 00")
    data = definition + bytes([len(payload)]) + payload
    assert gob.decode(data, Narrow) == Narrow(5)
    with pytest.raises(GobError, match="interface values are not supported"):
        gob.decode(data)


# ---------------------------------------------------------------- what streams share
# Each stream numbers its own types; what depends only on the types' shapes -- the ops (but
# for recursive types), their generated code, the definitions' bytes -- streams share.
@dataclass
class Holder:
    P: Point = field(default_factory=Point)
    Name: str = ""


def _generated_ops(decoder: Decoder) -> dict:
    return {op.source: op for op in decoder._ops.values() if hasattr(op, "source")}


def _decode_all(data: bytes, type) -> list:
    decoder, values = Decoder(), []
    decoder.feed(data)
    while True:
        try:
            values.append(decoder.decode(type))
        except EOFError:
            return values


def test_a_new_stream_reads_with_what_an_earlier_stream_made_for_the_same_definitions():
    first, second = Decoder(), Decoder()
    for decoder in (first, second):
        decoder.feed(gob.encode(Point(1, 2)))
        assert decoder.decode(Point) == Point(1, 2)
    assert second.reader(65, Point) is first.reader(65, Point)  # (the first id a stream gives)
    assert not _generated_ops(second)  # nothing compiled of its own


def test_a_recursive_type_gets_ops_of_its_own_that_run_shared_code():
    first, second = Decoder(), Decoder()
    tree = Node(1, [Node(2), Node(3, [Node(4)])])
    for decoder in (first, second):
        decoder.feed(gob.encode(tree))
        assert decoder.decode(Node) == tree
    (source, op), = _generated_ops(first).items()
    assert _generated_ops(second)[source] is not op and _generated_ops(second)[source].__code__ is op.__code__


def test_the_ops_kept_for_other_streams_are_bounded():
    for i in range(gob_decoder.COMPILED_KEPT + 20):  # a peer that defines type after type
        cls = dataclasses.make_dataclass(f"Type{i}", [(f"Field{i}", int, 0)])
        decoder = Decoder()
        decoder.feed(gob.encode(cls(i)))
        assert decoder.decode(cls) == cls(i)
    assert len(gob_decoder._SHARED_OPS._values) <= gob_decoder.COMPILED_KEPT


def test_streams_sharing_code_still_read_their_own_type_ids():
    # Point is type 66 on one stream (inside Holder) and 65 on the other (sent first).
    nested_first = Encoder().encode(Holder(Point(1, 2), "a"))
    point_first = Encoder()
    point_first_bytes = point_first.encode(Point(3, 4)) + point_first.encode(Holder(Point(5, 6), "b"))
    assert _decode_all(nested_first, Holder) == [Holder(Point(1, 2), "a")]
    first, second = _decode_all(point_first_bytes, None)
    assert (first, second) == ({"X": 3, "Y": 4}, {"P": {"X": 5, "Y": 6}, "Name": "b"})
    decoder = Decoder()
    decoder.feed(point_first_bytes)
    assert (decoder.decode(Point), decoder.decode(Holder)) == (Point(3, 4), Holder(Point(5, 6), "b"))


def test_the_same_id_on_two_streams_may_be_two_different_types():
    @dataclass
    class Other:
        Name: str = ""
    assert _decode_all(gob.encode(Point(1, 2)), Point) == [Point(1, 2)]  # 65 is Point here ...
    assert _decode_all(gob.encode(Other("x")), Other) == [Other("x")]  # ... and Other here
    assert _decode_all(gob.encode(Other("y")), None) == [{"Name": "y"}]
    assert _decode_all(gob.encode(Point(3, 4)), None) == [{"X": 3, "Y": 4}]
    with pytest.raises(GobError, match="type mismatch"):
        _decode_all(gob.encode(Other("z")), Point)


def test_id_64_is_the_streams_own_type_too():
    # Ids below 64 are Go's own, the same on every stream; 64 itself a peer may define.
    def stream(definition: gob.WireType, value: bytes) -> bytes:
        head = bytearray()
        gob.put_int(head, 64)
        payload = bytes(head) + value
        length = bytearray()
        gob.put_uint(length, len(payload))
        return gob_encoder.definition(definition) + bytes(length) + payload
    point = stream(gob.WireType("struct", "Point", 64, (("X", 2), ("Y", 2))), value_part(gob.encode(Point(1, 2))))
    named = stream(gob.WireType("struct", "Named", 64, (("Name", 6),)), value_part(gob.encode(Inner("y"))))
    assert _decode_all(point, None) == [{"X": 1, "Y": 2}]
    assert _decode_all(named, None) == [{"Name": "y"}]


def test_streams_sharing_code_still_read_their_own_field_orders():
    @dataclass
    class Reordered:  # the same fields as Point, sent Y first
        Y: int = 0
        X: int = 0
    assert _decode_all(gob.encode(Point(1, 2)), Point) == [Point(1, 2)]
    assert _decode_all(gob.encode(Reordered(Y=2, X=1)), Point) == [Point(1, 2)]
    assert _decode_all(gob.encode(Point(1, 2)), Reordered) == [Reordered(Y=2, X=1)]


def test_a_definition_names_the_id_its_own_stream_gave_the_type():
    @dataclass
    class Other:
        N: int = 0
    alone, after_another = Encoder(), Encoder()
    after_another.encode(Other(1))  # type 65 on this stream
    assert gob.get_int(alone.encode(Point(1, 2)), 1)[0] == -65  # (after the length byte: -id)
    assert gob.get_int(after_another.encode(Point(1, 2)), 1)[0] == -66
