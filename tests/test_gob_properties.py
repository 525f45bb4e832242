"""Property tests and a bounded fuzz test for minirpc.gob."""

from __future__ import annotations

import random
from dataclasses import make_dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from minirpc import gob
from minirpc.gob import GobError, Uint

INT64 = st.integers(-(2**63), 2**63 - 1)
SCALARS = {
    int: INT64,
    Uint: st.integers(0, 2**64 - 1),
    float: st.floats(allow_nan=False),
    bool: st.booleans(),
    str: st.text(),
    bytes: st.binary(),
}


@st.composite
def typed_values(draw, depth=0):
    """A (python type, value strategy) pair: scalars, lists, arrays, maps and generated dataclasses."""
    choice = draw(st.sampled_from(["scalar"] * 3 + (["list", "array", "map", "struct"] if depth < 3 else [])))
    if choice == "scalar":
        tp = draw(st.sampled_from(list(SCALARS)))
        return tp, SCALARS[tp]
    if choice == "list":
        tp, values = draw(typed_values(depth + 1))
        return list[tp], st.lists(values, max_size=4)
    if choice == "array":  # tuple[T, T, T] is Go's [3]T
        tp, values = draw(typed_values(depth + 1))
        n = draw(st.integers(1, 3))
        return tuple[(tp,) * n], st.tuples(*[values] * n)
    if choice == "map":
        key = draw(st.sampled_from([int, str]))
        tp, values = draw(typed_values(depth + 1))
        return dict[key, tp], st.dictionaries(SCALARS[key], values, max_size=4)
    fields = [(f"F{i}", *draw(typed_values(depth + 1))) for i in range(draw(st.integers(0, 4)))]
    cls = make_dataclass(f"Gen{depth}", [(name, tp) for name, tp, _ in fields])
    return cls, st.builds(cls, **{name: values for name, _, values in fields})


@st.composite
def typed_value(draw):
    tp, values = draw(typed_values())
    return tp, draw(values)


@settings(max_examples=300, deadline=None)
@given(typed_value())
def test_generated_types_and_values_round_trip(pair):
    tp, value = pair
    assert gob.decode(gob.encode(value, tp), tp) == value


@settings(max_examples=200, deadline=None)
@given(st.recursive(INT64 | st.text() | st.binary() | st.booleans(),
                    lambda inner: st.lists(inner, min_size=1, max_size=3), max_leaves=10))
def test_plain_values_round_trip_when_homogeneous(value):
    try:
        data = gob.encode(value)
    except GobError:
        return  # mixed element types cannot be inferred; that is the documented rule
    assert gob.decode(data) == value


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_every_uint64_round_trips(u):
    out = bytearray()
    gob.put_uint(out, u)
    assert gob.get_uint(bytes(out), 0) == (u, len(out))


GOLDEN = Path(__file__).parent / "interop" / "golden"
SEEDS = [bytes.fromhex(p.read_text().strip().splitlines()[0]) for p in sorted(GOLDEN.glob("*.hex"))]


def mutate(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        pos = rng.randrange(len(data) or 1)
        if kind < 0.5 and data:
            data[pos] = rng.randrange(256)
        elif kind < 0.7:
            data.insert(pos, rng.randrange(256))
        elif kind < 0.85 and data:
            del data[pos]
        else:
            data = data[:pos]
    return bytes(data)


def test_fuzzed_streams_only_ever_raise_gob_errors():
    """Random and mutated streams: decoding either works or raises GobError, never anything else."""
    rng = random.Random(20261122)
    inputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(1500)]
    inputs += [mutate(rng, rng.choice(SEEDS)) for _ in range(4000)]
    for data in inputs:
        decoder = gob.Decoder(max_message=1 << 16)
        try:
            decoder.feed(data)
            while True:
                decoder.decode()
        except (GobError, EOFError):
            pass
        gob.dump(data)  # the dump never raises either
