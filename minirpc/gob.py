"""Go's gob wire format, sans-IO: bytes in, Python values out (and back).

gob is Go's own self-describing binary format and net/rpc's default codec.
This module speaks it byte for byte; the spec is
``$(go env GOROOT)/src/encoding/gob/doc.go``.  Read it top to bottom:
numbers, type definitions, encoding, decoding.  Which Go type stands for
which Python type is decided next door, in ``minirpc.gobtypes``.

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
Which Go type a Python annotation stands for (``int`` is Go's int, ``Uint``
its uint64, a dataclass a struct, ``list[T]`` a slice...) is the job of
``minirpc.gobtypes``; its docstring has the table.  Decoding with
``type=None`` gives plain values (structs become dicts keyed by Go field
name).  Decoding into a dataclass fills the fields present on the wire; the
rest get their zero value, or their default when the sender's type lacks
them.  An ``int`` target accepts wire int and uint; other kinds must match.
Strings use UTF-8 with "surrogateescape", so any Go byte string round-trips.
Interface values are refused (an interface field is fine while nil); empty
dicts in struct fields are left out, like Go's nil maps.

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

5. Limits (a decoder reads bytes from strangers)
------------------------------------------------
Messages longer than ``max_message`` are refused from their length prefix;
every count and length is checked against the bytes left before anything is
allocated; nesting deeper than ``max_depth`` and more than ``max_types``
definitions per stream are refused; unknown type ids are rejected.  Every
decoding failure raises ``GobError``.

Speed: each (type, target) pair is compiled once into a plan -- a closure
that writes or reads that one type -- so encoding a value is a walk over
prebuilt functions, not a fresh inspection of the dataclass.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from .errors import GobError
from .gobtypes import BOOTSTRAP, BUILTIN_IDS, BUILTIN_NAMES, INTERFACE, GoType, WireType, wire_type_from_plain
from .gobtypes import Float32, Int32, Uint, Uint32, go_type, infer_go_type  # noqa: F401 (Uint... re-exported)

__all__ = ["DEFAULT_MAX_MESSAGE", "Decoder", "Encoder", "Float32", "GobError", "Int32", "Uint",
           "Uint32", "WireType", "decode", "dump", "encode"]

DEFAULT_MAX_MESSAGE = 32 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100  # Go allows 10000; Python's stack is smaller
DEFAULT_MAX_TYPES = 1000  # type definitions accepted per stream
FIRST_USER_ID = 65
FLOAT32_MAX = 3.4028234663852886e38


# ---------------------------------------------------------------- numbers


def put_uint(out: bytearray, u: int) -> None:
    if u < 0x80:
        out.append(u)
    else:
        n = (u.bit_length() + 7) >> 3
        out.append(256 - n)  # the negated byte count, as a signed byte
        out += u.to_bytes(n, "big")


def put_int(out: bytearray, i: int) -> None:
    put_uint(out, i << 1 if i >= 0 else (~i << 1) | 1)


def get_uint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a uint at ``pos``; return (value, position after it)."""
    b = data[pos]  # IndexError at the end: the Decoder reports a short message
    if b < 0x80:
        return b, pos + 1
    n = 256 - b
    if n > 8:  # a uint is at most 8 bytes: anything longer is corrupt
        raise GobError("gob: encoded unsigned integer out of range")
    if pos + 1 + n > len(data):
        raise IndexError
    return int.from_bytes(data[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def get_int(data: bytes, pos: int) -> tuple[int, int]:
    u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos


def is_type_definition(payload: bytes) -> bool:
    """Does this message payload start with a negative type id (a definition)?"""
    b = payload[0] if payload else 0
    last = b if b < 0x80 else (payload[256 - b] if 256 - b < len(payload) else 0)
    return bool(last & 1)  # a negative int has the low bit of its zig-zag form set


def float_to_uint(f: float) -> int:
    return int.from_bytes(struct.pack("<d", f), "big")  # = the bits with their bytes reversed


def uint_to_float(u: int) -> float:
    return struct.unpack("<d", u.to_bytes(8, "big"))[0]


# ---------------------------------------------------------------- type definitions
# A definition is a gob value of Go's ``wireType`` (see gobtypes.BOOTSTRAP).  Its
# few shapes are written here by hand; reading one uses the ordinary decoder.


def _put_plain_struct(out: bytearray, values) -> None:
    """Encode a bootstrap struct given its field values in order: ints, strs,
    tuples (nested structs) and lists of tuples (slices of structs).  Zero
    values are left out, exactly as for any other struct."""
    last = -1
    for i, v in enumerate(values):
        if v is None or (not v and not isinstance(v, tuple)):
            continue
        out.append(i - last)  # the field delta (always < 128 here)
        last = i
        if isinstance(v, int):
            put_int(out, v)
        elif isinstance(v, str):
            put_uint(out, len(v.encode()))
            out += v.encode()
        elif isinstance(v, tuple):
            _put_plain_struct(out, v)
        else:
            put_uint(out, len(v))
            for item in v:
                _put_plain_struct(out, item)
    out.append(0)


def _wire_type_bytes(t: WireType) -> bytes:
    """A definition message's payload: int(-id), then the wireType struct."""
    out = bytearray()
    put_int(out, -t.id)
    common = (t.name, t.id)
    inner = {"array": (common, t.elem, t.len), "slice": (common, t.elem),
             "struct": (common, t.fields), "map": (common, t.key, t.elem)}[t.kind]
    _put_plain_struct(out, [inner if kind == t.kind else None for kind in ("array", "slice", "struct", "map")])
    return bytes(out)


# ---------------------------------------------------------------- values that do not fit


class _Mismatch(GobError):
    """A value or wire type that does not fit; ``path`` says where (filled in on the way up)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []

    def where(self, top: str) -> str:
        return top + "".join(p if p.startswith("[") else "." + p for p in self.path)


def _wrong(want: str, v) -> _Mismatch:
    return _Mismatch(f"expected {want}, got {type(v).__name__}")


# ---------------------------------------------------------------- encoding plans
# A plan is function(out: bytearray, value): it checks the value's type and appends
# its bytes.  Plans depend only on the Python type, so they are shared by all streams.

def _enc_bool(out, v):
    if type(v) is not bool:
        raise _wrong("bool", v)
    out.append(v)


def _enc_complex(out, v):
    if not isinstance(v, (int, float, complex)) or isinstance(v, bool):
        raise _wrong("complex", v)
    v = complex(v)
    put_uint(out, float_to_uint(v.real))
    put_uint(out, float_to_uint(v.imag))


def _enc_string(out, v):
    if type(v) is not str:
        raise _wrong("str", v)
    raw = v.encode("utf-8", "surrogateescape")
    put_uint(out, len(raw))
    out += raw


def _enc_bytes(out, v):
    if not isinstance(v, (bytes, bytearray, memoryview)):
        raise _wrong("bytes", v)
    put_uint(out, len(v))
    out += v


def _enc_integer(spec: GoType):
    (lo, hi), signed, gname = spec.range, spec.kind == "int", spec.go_string()

    def enc_integer(out, v):
        if type(v) is not int:
            if not isinstance(v, int) or isinstance(v, bool):
                raise _wrong("int", v)
            v = int(v)
        if not lo <= v < hi:
            raise _Mismatch(f"{v} out of range for {gname}")
        u = (v << 1 if v >= 0 else (~v << 1) | 1) if signed else v
        if u < 0x80:  # put_uint inlined for speed
            out.append(u)
        else:
            put_uint(out, u)
    return enc_integer


def _enc_float(spec: GoType):
    limit = FLOAT32_MAX if spec.bits == 32 else float("inf")

    def enc_float(out, v):
        if type(v) is not float:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise _wrong("float", v)
            v = float(v)
        if limit < abs(v) < float("inf"):
            raise _Mismatch(f"{v} out of range for float32")
        put_uint(out, float_to_uint(v))
    return enc_float


def _enc_collection(spec: GoType):
    """A slice or array is its count then each element; a map its count then key, value, key, value..."""
    is_map, length = spec.kind == "map", spec.length if spec.kind == "array" else -1
    key, elem = _enc_plan(spec.key) if is_map else None, _enc_plan(spec.elem)
    accepted, want = (dict, "dict") if is_map else ((list, tuple), "list")

    def enc_collection(out, v):
        if not isinstance(v, accepted):
            raise _wrong(want, v)
        if length >= 0 and len(v) != length:
            raise _Mismatch(f"expected {length} elements for {spec.go_string()}, got {len(v)}")
        put_uint(out, len(v))
        for k, x in v.items() if is_map else enumerate(v):
            try:
                if is_map:
                    key(out, k)
                elem(out, x)
            except _Mismatch as e:
                e.path.insert(0, f"[{k!r}]")  # where in the value the bad element sits
                raise
    return enc_collection


def _enc_struct(spec: GoType):
    cls = spec.cls
    plan = [(i, f.name, _enc_plan(f.spec), f.spec.kind in ("struct", "array"), f.optional)
            for i, f in enumerate(spec.fields())]

    def enc_struct(out, v):
        if type(v) is not cls and not isinstance(v, cls):
            raise _wrong(cls.__name__, v)
        last = -1
        for i, name, enc, always_sent, optional in plan:
            x = getattr(v, name)
            if not x:  # zero values are left out; nested structs and arrays are always sent
                if x is None:
                    if optional:
                        continue
                    e = _Mismatch("expected a value, got None (annotate it Optional[...])")
                    e.path.append(name)
                    raise e
                if not always_sent:
                    continue
            delta = i - last  # how far the field number moved
            if delta < 0x80:  # (put_uint inlined: this is the hottest loop)
                out.append(delta)
            else:
                put_uint(out, delta)
            last = i
            try:
                enc(out, x)
            except _Mismatch as e:
                e.path.insert(0, name)
                raise
        out.append(0)
    return enc_struct


# Plans are looked up by kind: fixed functions for the simple kinds, makers for the rest.
_ENC_MAKERS = {"int": _enc_integer, "uint": _enc_integer, "float": _enc_float,
               "slice": _enc_collection, "array": _enc_collection, "map": _enc_collection,
               "struct": _enc_struct}
_ENC_PLANS: dict = {go_type(t): plan for t, plan in  # GoType -> plan
                    ((bool, _enc_bool), (complex, _enc_complex), (str, _enc_string), (bytes, _enc_bytes))}
# protects _BUILDING and the building of plans: connections encode on many threads.  A
# recursive type's half-built plan (a forwarder) lives in _BUILDING, seen only under the lock.
_PLAN_LOCK = threading.RLock()
_BUILDING: dict = {}


def _enc_plan(spec: GoType):
    plan = _ENC_PLANS.get(spec)
    if plan is None:
        with _PLAN_LOCK:
            plan = _ENC_PLANS.get(spec) or _BUILDING.get(spec)
            if plan is None:
                cell = []  # a recursive type's plan calls itself through this forwarder
                _BUILDING[spec] = lambda out, v: cell[0](out, v)
                try:
                    cell.append(_ENC_MAKERS[spec.kind](spec))
                finally:
                    del _BUILDING[spec]
                plan = _ENC_PLANS[spec] = cell[0]
    return plan


class Encoder:
    """Encodes values for one stream, remembering which types it already described.

    ``package`` is the Go package name used in the names Go would give unnamed
    field types (``[]main.Point``); names are informational only.
    """

    def __init__(self, package: str = "main"):
        self.package = package
        self._types: dict[GoType, WireType] = {}  # types defined on this stream (ordered, for rollback)
        self._next_id = FIRST_USER_ID

    def encode(self, value, type=None) -> bytes:
        """All messages for ``value``: any new type definitions, then the value."""
        spec = infer_go_type(value) if type is None or type is Any or type is object else go_type(type)
        defined = spec.builtin_id or spec in self._types  # usually: nothing new to describe
        saved = None if defined else self.checkpoint()
        out, msg = bytearray(), bytearray()
        try:
            if not defined:
                new: list[WireType] = []
                self._type_id(spec, spec.name, new)
                for t in new:  # a definition message each: length, then int(-id) and the wireType
                    payload = _wire_type_bytes(t)
                    put_uint(out, len(payload))
                    out += payload
            put_int(msg, spec.builtin_id or self._types[spec].id)
            if spec.kind != "struct":
                msg.append(0)  # a singleton is sent as field 0 of an unnamed struct
            _enc_plan(spec)(msg, value)
        except BaseException as e:
            if saved is not None:
                self.rollback(saved)  # leave the stream state as it was
            if isinstance(e, _Mismatch):
                raise GobError(f"gob: cannot encode {e.where(spec.name or spec.go_string())}: "
                               f"{e.detail}") from None
            raise
        put_uint(out, len(msg))
        out += msg
        return bytes(out)

    def defined_id(self, type) -> int | None:
        """The id this stream gave ``type``'s definition, or None while it is not yet sent."""
        t = self._types.get(go_type(type))
        return t.id if t is not None else None

    def checkpoint(self):
        """The stream state, for ``rollback`` when encoded bytes end up not being sent."""
        return len(self._types), self._next_id  # _types only ever grows

    def rollback(self, saved) -> None:
        for spec in list(self._types)[saved[0]:]:
            del self._types[spec]
        self._next_id = saved[1]

    def _type_id(self, spec: GoType, name: str, new: list) -> int:
        """The id of ``spec`` on this stream; a new type (and those inside it) gets one and is listed in ``new``.

        Go's two orders differ, and the bytes must match: a struct takes its id
        before its fields do, a slice or map after its elements; but the
        definitions go out outer type first, then the inner ones in field order.
        """
        if spec.builtin_id:
            return spec.builtin_id
        if spec in self._types:
            return self._types[spec].id
        t = self._types[spec] = WireType(spec.kind, name)
        new.append(t)  # listed now (outer first); its id may come after its elements'
        if spec.kind == "struct":
            t.id = self._new_id()  # first, so a recursive field can refer to it
            t.fields = [(f.name, self._type_id(f.spec, f.spec.name or f.spec.go_string(self.package), new))
                        for f in spec.fields()]
            return t.id
        if spec.kind == "map":
            t.key = self._type_id(spec.key, "", new)
            t.elem = self._type_id(spec.elem, "", new)
        elif spec.kind == "slice":
            t.elem = self._type_id(spec.elem, spec.elem.name, new)
        else:  # an array: Go leaves its element type unnamed, as it does a map's
            t.elem, t.len = self._type_id(spec.elem, "", new), spec.length
        t.id = self._new_id()
        return t.id

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


# ---------------------------------------------------------------- decoding plans
# An op is function(data, pos, depth) -> (value, position after it).  Reading past
# the end of ``data`` raises IndexError, which the Decoder reports as GobError.


def _op_int(data, pos, depth):
    u = data[pos]
    if u < 0x80:  # the common one-byte case, inlined for speed
        pos += 1
    else:
        u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos


def _op_float(data, pos, depth):
    u, pos = get_uint(data, pos)
    return uint_to_float(u), pos


def _op_complex(data, pos, depth):
    re, pos = _op_float(data, pos, depth)
    im, pos = _op_float(data, pos, depth)
    return complex(re, im), pos


def _op_bytes(data, pos, depth):
    n, pos = get_uint(data, pos)
    if pos + n > len(data):  # checked before slicing: a length is a claim, not a fact
        raise GobError(f"gob: byte slice length {n} exceeds input size")
    return data[pos:pos + n], pos + n


def _op_string(data, pos, depth):
    n = data[pos]
    if n < 0x80:  # the common one-byte length, inlined for speed
        pos += 1
    else:
        n, pos = get_uint(data, pos)
    if pos + n > len(data):
        raise GobError(f"gob: string length {n} exceeds input size")
    return data[pos:pos + n].decode("utf-8", "surrogateescape"), pos + n


def _op_bool(data, pos, depth):
    u, pos = get_uint(data, pos)
    return u != 0, pos


def _op_uint(data, pos, depth):
    return get_uint(data, pos)


# wire id -> (the kind of target it fits, op)
_SCALAR_OPS = {BUILTIN_IDS[kind]: (kind, op) for kind, op in (
    ("bool", _op_bool), ("int", _op_int), ("uint", _op_uint), ("float", _op_float),
    ("bytes", _op_bytes), ("string", _op_string), ("complex", _op_complex))}


def _ranged(op, spec: GoType):
    """Wrap an integer/float op with the range check of a sized target (Int32, Uint, Float32...)."""
    (lo, hi), name = spec.range, spec.go_string()

    def ranged(data, pos, depth):
        v, pos = op(data, pos, depth)
        if FLOAT32_MAX < abs(v) < float("inf") if spec.kind == "float" else not lo <= v < hi:
            raise GobError(f"gob: value {v} out of range for {name}")
        return v, pos
    return ranged


class Decoder:
    """Decodes one stream: remembers the peer's type definitions and compiled plans."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_types: int = DEFAULT_MAX_TYPES):
        self.max_message, self.max_depth, self.max_types = max_message, max_depth, max_types
        self.wire_types: dict[int, WireType] = dict(BOOTSTRAP)  # id -> definition
        self._received = 0  # definitions received, for max_types
        self._ops: dict = {}  # (wire id, target GoType or None) -> op
        self._top: dict = {}  # (wire id, Python type) -> (op, is singleton) for top-level values
        self._buffer = bytearray()

    # -- streaming: feed bytes, take values
    def feed(self, data: bytes) -> None:
        self._buffer += data
        try:
            length, _ = get_uint(self._buffer, 0)
        except IndexError:
            return
        self.check_length(length)  # refuse a huge message before waiting for its bytes

    def decode(self, type=None):
        """The next value from the fed bytes; EOFError if no whole value is buffered yet."""
        while True:
            buf = self._buffer
            try:
                length, start = get_uint(buf, 0)
            except IndexError:
                raise EOFError("no complete gob message buffered") from None
            self.check_length(length)
            if len(buf) - start < length:
                raise EOFError("no complete gob message buffered")
            payload = bytes(buf[start:start + length])
            del buf[:start + length]
            type_id, value = self.read_message(payload, type)
            if type_id > 0:  # a definition is absorbed; keep reading
                return value

    def check_length(self, length: int) -> None:
        if length == 0 or length > self.max_message:
            raise GobError(f"gob: invalid message length {length} (limit {self.max_message})")

    # -- message based
    def read_message(self, payload: bytes, type=None) -> tuple[int, Any]:
        """Decode one message (without its length prefix).

        Returns (-id, WireType) for a type definition, (id, value) for a value.
        """
        try:
            type_id, pos = get_int(payload, 0)
            if type_id < 0:
                return type_id, self._define(-type_id, payload, pos)
            return type_id, self._decode_value(type_id, payload, pos, type)
        except IndexError:
            raise GobError("gob: message is shorter than its contents (truncated data)") from None
        except RecursionError:
            raise GobError("gob: invalid nesting depth") from None

    def _define(self, type_id: int, payload: bytes, pos: int) -> WireType:
        # Ids below 64 are Go's own; a stream may define each id once.
        if type_id < FIRST_USER_ID - 1 or type_id in self.wire_types:
            raise GobError("gob: duplicate type received")
        if self._received >= self.max_types:
            raise GobError(f"gob: more than {self.max_types} type definitions on one stream")
        plain, pos = self._op(16, None, 0)(payload, pos, 0)  # a wireType struct, as a dict
        if pos != len(payload):
            raise GobError("gob: extra data in buffer")
        wire = self.wire_types[type_id] = wire_type_from_plain(type_id, plain)
        self._received += 1
        return wire

    def _decode_value(self, type_id: int, payload: bytes, pos: int, type):
        try:
            op, singleton = self._top[type_id, type]
        except KeyError:
            op, singleton = self._top[type_id, type] = self._top_plan(type_id, type)
        except TypeError:  # an unhashable annotation: plan it every time
            op, singleton = self._top_plan(type_id, type)
        if singleton:  # a non-struct value travels as field 0 of an unnamed struct
            delta, pos = get_uint(payload, pos)
            if delta != 0:
                raise GobError("gob: corrupted data: non-zero delta for singleton")
        value, pos = op(payload, pos, 0)
        if pos != len(payload):
            raise GobError("gob: extra data after value")
        return value

    def _top_plan(self, type_id: int, type):
        """(op, is singleton) for a top-level value, with Go's texts for type mismatches."""
        spec = None if type is None or type is Any or type is object else go_type(type)
        wire = self.wire_types.get(type_id)
        if wire is None and type_id not in _SCALAR_OPS:
            raise GobError(f"gob: unknown type id {type_id}")
        try:
            op = self._op(type_id, spec, 0)
        except _Mismatch as e:
            if not e.path and spec is not None and spec.kind == "struct":
                raise GobError(f"gob: type mismatch in decoder: want struct type {spec.name}; "
                               "got non-struct") from None
            if not e.path:
                raise GobError(f"gob: type mismatch: {e.detail}") from None
            raise GobError(f"gob: wrong type for received field {e.where(wire.name)}: {e.detail}") from None
        is_struct = wire is not None and wire.kind == "struct"
        if is_struct and spec is not None:  # Go refuses a struct sharing no field with the target
            local, on_wire = {f.name for f in spec.fields()}, {name for name, _ in wire.fields}
            if local and on_wire and not local & on_wire:
                raise GobError(f"gob: type mismatch: no fields matched compiling decoder for {spec.name}")
        return op, not is_struct

    # -- compiling ops for (wire type, Python target) pairs
    def _op(self, type_id: int, spec, depth: int):
        key = (type_id, spec)
        op = self._ops.get(key)
        if op is None:
            if depth > self.max_depth:  # a definition nested too deep to compile
                raise GobError("gob: invalid nesting depth")
            cell = []  # recursive types meet this forwarder while compiling
            self._ops[key] = lambda d, p, n: cell[0](d, p, n)
            try:
                cell.append(self._compile(type_id, spec, depth))
            except BaseException:
                del self._ops[key]
                raise
            op = self._ops[key] = cell[0]
        return op

    def _compile(self, type_id: int, spec, depth: int):
        want = spec.go_string() if spec is not None else ""
        if type_id == INTERFACE:
            if spec is not None:
                raise _Mismatch(f"got interface, want {want}")
            return _op_interface
        if type_id in _SCALAR_OPS:
            kind, op = _SCALAR_OPS[type_id]
            if spec is None:
                return op
            if spec.kind != kind and not (spec.kind in ("int", "uint") and kind in ("int", "uint")):
                raise _Mismatch(f"got {BUILTIN_NAMES[type_id]}, want {want}")
            if spec.bits == 64 and (spec.kind == kind or spec.kind == "int"):
                return op  # a Python int holds any int64 or uint64
            return _ranged(op, spec)
        wire = self.wire_types.get(type_id)
        if wire is None:
            raise GobError(f"gob: unknown type id {type_id}")
        if wire.kind == "struct":
            return self._compile_struct(wire, spec, depth)
        if wire.kind in ("gobencoder", "binary", "text"):  # a Go type's own encoding: opaque bytes
            if spec is not None and spec.kind != "bytes":
                raise _Mismatch(f"got {wire.kind} {wire.name}, want {want}")
            return _op_bytes
        fits = ("map",) if wire.kind == "map" else ("slice", "array") if wire.kind == "array" else ("slice",)
        if spec is not None and (spec.kind not in fits or spec.kind == "array" and spec.length != wire.len):
            raise _Mismatch(f"got {wire.describe()}, want {want}")  # a Go array fits a list or a same-size tuple
        elem = self._op(wire.elem, spec and spec.elem, depth + 1)
        key = self._op(wire.key, spec and spec.key, depth + 1) if wire.kind == "map" else None
        max_depth, array_len = self.max_depth, wire.len if wire.kind == "array" else -1
        as_tuple = spec is not None and spec.kind == "array"

        def op_collection(data, pos, depth):
            n, pos = get_uint(data, pos)
            # every element takes at least one byte (a map entry two): check before allocating
            if n * (2 if key else 1) > len(data) - pos:
                raise GobError(f"gob: {'map size' if key else 'slice length'} {n} exceeds input size")
            if array_len >= 0 and n != array_len:
                raise GobError(f"gob: array length {n}, want {array_len}")
            if depth >= max_depth:
                raise GobError("gob: invalid nesting depth")
            depth += 1
            if key is None:
                result = []
                for _ in range(n):
                    v, pos = elem(data, pos, depth)
                    result.append(v)
                return (tuple(result) if as_tuple else result), pos
            result = {}
            for _ in range(n):
                k, pos = key(data, pos, depth)
                v, pos = elem(data, pos, depth)
                try:
                    result[k] = v
                except TypeError:
                    raise GobError("gob: map key cannot be a Python dict; decode into a "
                                   "frozen dataclass") from None
            return result, pos
        return op_collection

    def _compile_struct(self, wire: WireType, spec, depth):
        if spec is not None and spec.kind != "struct":
            raise _Mismatch(f"got struct {wire.name}, want {spec.go_string()}")
        local = {f.name: f for f in spec.fields()} if spec is not None else {}
        fields = []  # by wire field number: (name to store under, or None to skip; op)
        for name, fid in wire.fields:
            target = local.get(name)
            try:
                op = self._op(fid, target.spec if target else None, depth + 1)
            except _Mismatch as e:
                e.path.insert(0, name)
                raise
            fields.append((name if (spec is None or target) else None, op))
        nfields, max_depth = len(fields), self.max_depth
        cls = spec.cls if spec is not None else None
        # A field the sender left out is zero; a field the sender's type lacks gets our default.
        on_wire = {name for name, _ in wire.fields}
        missing = [(f.name, f.default if (f.name not in on_wire and f.default) else
                    f.spec.zero(f.optional)) for f in local.values()]

        def op_struct(data, pos, depth):
            if depth >= max_depth:
                raise GobError("gob: invalid nesting depth")
            depth += 1
            values, field = {}, -1
            while True:
                delta = data[pos]
                if delta < 0x80:
                    pos += 1
                else:
                    delta, pos = get_uint(data, pos)
                if delta == 0:  # the end of the struct
                    break
                field += delta
                if field >= nfields:
                    raise GobError("gob: field number out of range")
                name, op = fields[field]
                value, pos = op(data, pos, depth)
                if name is not None:
                    values[name] = value
            if cls is None:
                return values, pos  # plain: a dict of the fields that were sent
            if len(values) != len(missing):
                for name, factory in missing:
                    if name not in values:
                        values[name] = factory()
            try:
                return cls(**values), pos
            except (TypeError, ValueError) as e:  # e.g. the class's own __post_init__ check
                raise GobError(f"gob: cannot build {cls.__name__}: {e}") from None
        return op_struct


def _op_interface(data, pos, depth):
    raise GobError("gob: interface values are not supported")


# ---------------------------------------------------------------- one-shot helpers


def encode(value, type=None) -> bytes:
    """Encode one value on a fresh stream (its type definitions included)."""
    return Encoder().encode(value, type)


def decode(data: bytes, type=None):
    """Decode exactly one value (and its type definitions) from a fresh stream."""
    dec = Decoder()
    dec.feed(data)
    try:
        value = dec.decode(type)
    except EOFError:
        raise GobError("gob: truncated stream: no complete value") from None
    if dec._buffer:
        raise GobError("gob: extra data after the value")
    return value


def dump(data: bytes) -> str:
    """An annotated listing of a gob stream: one block per message, hex on the left.

    The walker lives in ``minirpc.gobdump``; it is a reader's aid, not part of the format.
    """
    from .gobdump import dump as _dump
    return _dump(data)
