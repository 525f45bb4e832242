"""Go's gob wire format, sans-IO: bytes in, Python values out (and back).

gob is Go's own self-describing binary format and net/rpc's default codec.
This package speaks it byte for byte; the specification is
``$(go env GOROOT)/src/encoding/gob/doc.go``.  Its parts, as in Go's
``encoding/gob``:

    types.py    which Go type a Python annotation stands for; the wire's type definitions
    encoder.py  numbers, type definitions and compiled plans: values -> bytes
    decoder.py  framing, definitions and compiled ops: bytes -> values (and limits)
    rpc.py      net/rpc's request and response messages over gob (a format)
    dump.py     an annotated listing of a stream, for reading the format

1. The stream
-------------
A gob stream is a sequence of messages, each ``uint(length)`` then
``int(type id)`` then the payload::

    message  = uint(length) int(id) payload
    id < 0   the payload is the *definition* of type -id (a ``wireType`` struct)
    id > 0   the payload is a *value* of type id

An encoder sends each type's definition once per stream, just before the first
value that needs it, so both ends keep a table of ids per stream and per
direction.  Ids 1..63 are built in (bool 1, int 2, uint 3, float 4, []byte 5,
string 6, complex 7, interface 8; the types that describe types are 16..24);
user types start at 65.  Go hands ids out process-wide, so a decoder must
accept any id the peer defines, not just 65, 66, ...

2. Numbers (everything is built from these)
-------------------------------------------
::

    uint   < 128: one byte.  Otherwise a byte holding -(byte count), then the
           value big-endian with no leading zeros: 256 -> FE 01 00.
    int    zig-zag into a uint: i >= 0 -> i<<1, i < 0 -> (~i<<1)|1.
    float  the float64 bits with their bytes reversed, sent as a uint, so
           "round" numbers are short: 17.0 -> FE 31 40.
    bool   uint 0 or 1.   string, []byte: uint length then the raw bytes.

3. Composite values
-------------------
A slice is a count then every element; a map is a count then key, value,
key, value...; a struct is a list of (field delta, value) pairs ended by a 0
delta.  The delta is how far the field number moved (numbering starts at -1),
so fields holding their zero value are simply left out.  A value that is not a
struct is sent at top level as if it were field 0 of a struct: a 0 byte, then
the value (a "singleton").  Pointers are invisible: a nil pointer is a
left-out field.

4. Python values
----------------
``types.py`` has the table (``int`` is Go's int, ``Uint`` its uint64, a
dataclass a struct, ``list[T]`` a slice...).  Decoding with ``type=None``
gives plain values (structs become dicts keyed by Go field name).  Decoding
into a dataclass fills the fields present on the wire; the rest get their zero
value, or their default when the sender's type lacks them; wire fields the
dataclass lacks are skipped without being built.  An ``int`` target accepts
wire int and uint; other kinds must match.  Strings use UTF-8 with
"surrogateescape", so any Go byte string round-trips.  Interface values are
refused (an interface field is fine while nil, or skipped); empty dicts in
struct fields are left out, like Go's nil maps.

Example (the Point of doc.go)::

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     X: int = 0
    ...     Y: int = 0
    >>> data = Encoder().encode(Point(22, 33))   # the definition, then 07 ff 82 01 2c 01 42 00
    >>> decode(data, Point), decode(data)
    (Point(X=22, Y=33), {'X': 22, 'Y': 33})
    >>> listing = dump(data)                     # an annotated listing, message by message

5. Limits
---------
A decoder reads bytes from strangers; ``decoder.py`` lists what it refuses.
Every failure raises ``GobError``.
"""

from __future__ import annotations

from ..errors import GobError
from ..format import DEFAULT_MAX_MESSAGE
from ..values import Float32, Int32, Uint, Uint32
from .decoder import Decoder, get_int, get_uint
from .dump import dump
from .encoder import Encoder, put_int, put_uint
from .rpc import FORMAT
from .types import WireType

__all__ = ["DEFAULT_MAX_MESSAGE", "Decoder", "Encoder", "FORMAT", "Float32", "GobError", "Int32", "Uint",
           "Uint32", "WireType", "decode", "dump", "encode", "get_int", "get_uint", "put_int", "put_uint"]


def encode(value, type=None) -> bytes:
    """Encode one value on a fresh stream (its type definitions included)."""
    return Encoder().encode(value, type)


def decode(data: bytes, type=None):
    """Decode exactly one value (and its type definitions) from a fresh stream."""
    decoder = Decoder()
    decoder.feed(data)
    try:
        value = decoder.decode(type)
    except EOFError:
        raise GobError("gob: truncated stream: no complete value") from None
    if decoder.peek(1):
        raise GobError("gob: extra data after the value")
    return value
