"""Go's gob wire format, sans-IO: bytes in, Python values out (and back).

gob is Go's own self-describing binary format and net/rpc's default codec.
This module speaks it byte for byte (see ``$(go env GOROOT)/src/encoding/gob/doc.go``).

The stream is a sequence of messages.  Each message is ``uint(length)`` then
``int(type id)`` then the payload.  A *negative* id means "here is the
definition of type -id" (a ``wireType`` struct); a positive id means "here is
a value of that type".  An encoder sends each type's definition once per
stream, just before its first value, and both sides remember the ids per
stream and per direction (Go's order: the outer type's definition first, then
those of its fields or elements).  Ids 1..63 are built in (bool 1, int 2, uint 3,
float 4, []byte 5, string 6, complex 7, interface 8, wireType 16 ... 24);
users' types start at 65.  Go hands ids out process-wide, so a decoder must
accept any id the peer defines, not just 65, 66, ...

Numbers::

    uint   < 128: one byte.  Otherwise a byte holding -(byte count), then the
           value big-endian with no leading zeros: 256 -> FE 01 00.
    int    zig-zag into a uint: i >= 0 -> i<<1, i < 0 -> (~i<<1)|1.
    float  the float64 bits with their bytes reversed, sent as a uint, so
           "round" numbers are short: 17.0 -> FE 31 40.
    bool   uint 0 or 1.   string, []byte: uint length then the raw bytes.

Composites: a slice is a count then every element; a map is a count then
key, value, key, value...; a struct is a list of (field delta, value) pairs
ended by a 0 delta.  The delta is how far the field number moved (numbering
starts at -1), so fields holding their zero value are simply left out.  A
value that is not a struct is sent at top level as if it were field 0 of a
struct, i.e. a 0 byte and then the value ("singleton").  Pointers are
invisible on the wire: a nil pointer is a left-out field.

Python <-> gob types (for ``Encoder.encode(value, type)`` and ``decode(type)``)::

    dataclass            struct, Go type name = cls.__name__ (or cls.__gob_name__);
                         fields matched by exact name, like Go.  Fields whose
                         names start with "_" are not sent.
    int                  int (int64); annotate Uint (uint64), Uint32, Int32 for others
    float                float64;     annotate Float32 for float32
    bool, str, bytes     bool, string, []byte
    complex              complex128
    list[T]              []T  (Go arrays [N]T decode into lists too)
    dict[K, V]           map[K]V
    Optional[T]          *T: None is a left-out struct field

With ``type=None`` the encoder infers: bool/int/float/str/bytes/complex as
above, a dataclass instance is a struct, a list is a slice and a dict is a
*map* (never a struct); empty lists/dicts need an explicit type.  Decoding
with ``type=None`` gives plain values: structs become dicts keyed by Go field
name.  Decoding into a dataclass fills fields present on the wire and gives
the rest their zero value (or their default if the wire type lacks them).
An ``int`` target accepts wire int and uint; other kinds must match.
Strings use UTF-8 with "surrogateescape", so any Go byte string round-trips.
Interface values are not supported (an interface field is fine while nil).
Empty dicts in struct fields are left out like Go's nil maps.

Example (the Point of doc.go)::

    >>> @dataclasses.dataclass
    ... class Point:
    ...     X: int = 0
    ...     Y: int = 0
    >>> data = Encoder().encode(Point(22, 33))   # the definition, then 07 ff 82 01 2c 01 42 00
    >>> decode(data, Point), decode(data)
    (Point(X=22, Y=33), {'X': 22, 'Y': 33})
    >>> listing = dump(data)                     # an annotated listing, message by message

Safety: messages longer than ``max_message`` are refused from their length
prefix; counts are checked against the bytes left before anything is
allocated; nesting deeper than ``max_depth`` and more than ``max_types``
definitions per stream are refused; unknown ids are rejected.  Every decoding
failure raises ``GobError``.
"""

from __future__ import annotations

import dataclasses
import struct
import threading
import types as _types
import typing
from typing import Annotated, Any

from .errors import ProtocolError

__all__ = ["GobError", "Encoder", "Decoder", "WireType", "Uint", "Uint32", "Int32",
           "Float32", "encode", "decode", "dump", "DEFAULT_MAX_MESSAGE"]

DEFAULT_MAX_MESSAGE = 32 * 1024 * 1024
DEFAULT_MAX_DEPTH = 100  # Go allows 10000; Python's stack is smaller
DEFAULT_MAX_TYPES = 1000  # type definitions accepted per stream
FIRST_USER_ID = 65


class GobError(ProtocolError):
    """Bytes that are not valid gob, or a value that cannot be gob-encoded."""


class GoKind:
    """Marks a Python int/float as a specific Go number type: ``Annotated[int, GoKind("uint64")]``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"GoKind({self.name!r})"


Uint = Annotated[int, GoKind("uint64")]
Uint32 = Annotated[int, GoKind("uint32")]
Int32 = Annotated[int, GoKind("int32")]
Float32 = Annotated[float, GoKind("float32")]

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
    b = data[pos]  # IndexError at the end: the caller reports a short message
    if b < 0x80:
        return b, pos + 1
    n = 256 - b
    end = pos + 1 + n
    if n > 8:
        raise GobError("gob: encoded unsigned integer out of range")
    if end > len(data):
        raise IndexError
    return int.from_bytes(data[pos + 1:end], "big"), end


def get_int(data: bytes, pos: int) -> tuple[int, int]:
    u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos


def is_type_definition(payload: bytes) -> bool:
    """Does this message payload start with a negative type id (a definition)?"""
    b = payload[0] if payload else 0
    last = b if b < 0x80 else (payload[256 - b] if 256 - b < len(payload) else 0)
    return bool(last & 1)  # a negative int has the low bit of its uint form set


def float_to_uint(f: float) -> int:
    return int.from_bytes(struct.pack("<d", f), "big")  # = bits with bytes reversed


def uint_to_float(u: int) -> float:
    return struct.unpack("<d", u.to_bytes(8, "big"))[0]


# ---------------------------------------------------------------- wire types


@dataclasses.dataclass
class WireType:
    """A type definition as sent on the wire (Go's ``wireType``), flattened."""

    kind: str  # "struct", "slice", "array", "map", "gobencoder", "binary", "text"
    name: str = ""
    id: int = 0
    fields: list = dataclasses.field(default_factory=list)  # [(name, type id)] for structs
    elem: int = 0  # slices, arrays, maps
    key: int = 0  # maps
    len: int = 0  # arrays

    def describe(self, known: dict | None = None) -> str:
        """Go-like text, e.g. ``struct Point {X int; Y int}``; ``known`` names other ids."""
        def name(i):
            other = (known or {}).get(i)
            return _BUILTIN_NAMES.get(i) or (other and (other.name or other.describe(known))) or f"type{i}"
        if self.kind == "struct":
            return f"struct {self.name} {{{'; '.join(f'{n} {name(i)}' for n, i in self.fields)}}}"
        if self.kind == "map":
            return f"map[{name(self.key)}]{name(self.elem)}"
        if self.kind in ("slice", "array"):
            return f"[{self.len if self.kind == 'array' else ''}]{name(self.elem)}"
        return f"{self.kind} {self.name}"


_BOOL, _INT, _UINT, _FLOAT, _BYTES, _STRING, _COMPLEX, _INTERFACE = range(1, 9)
_BUILTIN_NAMES = {1: "bool", 2: "int", 3: "uint", 4: "float", 5: "[]byte", 6: "string",
                  7: "complex", 8: "interface"}
# The type definitions themselves are gob structs with fixed ids (the bootstrap).
_KIND_FIELDS = ("array", "slice", "struct", "map", "gobencoder", "binary", "text")
_WIRE_FIELDS = ("ArrayT", "SliceT", "StructT", "MapT", "GobEncoderT", "BinaryMarshalerT", "TextMarshalerT")
_BOOTSTRAP = {
    16: WireType("struct", "wireType", 16, [("ArrayT", 17), ("SliceT", 19), ("StructT", 20), ("MapT", 23),
                                           ("GobEncoderT", 24), ("BinaryMarshalerT", 24), ("TextMarshalerT", 24)]),
    17: WireType("struct", "arrayType", 17, [("CommonType", 18), ("Elem", _INT), ("Len", _INT)]),
    18: WireType("struct", "CommonType", 18, [("Name", _STRING), ("Id", _INT)]),
    19: WireType("struct", "sliceType", 19, [("CommonType", 18), ("Elem", _INT)]),
    20: WireType("struct", "structType", 20, [("CommonType", 18), ("Field", 22)]),
    21: WireType("struct", "fieldType", 21, [("Name", _STRING), ("Id", _INT)]),
    22: WireType("slice", "", 22, elem=21),
    23: WireType("struct", "mapType", 23, [("CommonType", 18), ("Key", _INT), ("Elem", _INT)]),
    24: WireType("struct", "gobEncoderType", 24, [("CommonType", 18)]),
}


def _wire_type_from_plain(tid: int, w: dict) -> WireType:
    """Turn a decoded ``wireType`` struct (as a dict) into a WireType."""
    present = [k for k in _WIRE_FIELDS if k in w]
    if len(present) != 1:
        raise GobError(f"gob: type definition {tid} must describe exactly one kind of type")
    body = w[present[0]]
    common = body.get("CommonType", {})
    t = WireType(_KIND_FIELDS[_WIRE_FIELDS.index(present[0])], common.get("Name", ""), tid)
    t.fields = [(f.get("Name", ""), f.get("Id", 0)) for f in body.get("Field", [])]
    t.elem, t.key, t.len = body.get("Elem", 0), body.get("Key", 0), body.get("Len", 0)
    if any(not name for name, _ in t.fields):
        raise GobError(f"gob: empty field name in type definition {tid}")
    return t


def _wire_type_bytes(t: WireType) -> bytes:
    """Encode a type definition message payload: int(-id) then the wireType struct."""
    out = bytearray()
    put_int(out, -t.id)
    out.append(1 + ("array", "slice", "struct", "map").index(t.kind))  # which wireType field
    out.append(1)  # field 0 of the inner type: CommonType
    if t.name:
        out.append(1)
        put_uint(out, len(t.name.encode()))
        out += t.name.encode()
    out.append(1 if t.name else 2)  # Id (delta 2 when Name was left out)
    put_int(out, t.id)
    out.append(0)  # end of CommonType
    if t.kind == "struct" and t.fields:
        out.append(1)  # Field []fieldType
        put_uint(out, len(t.fields))
        for name, fid in t.fields:
            raw = name.encode()
            out.append(1)
            put_uint(out, len(raw))
            out += raw
            out.append(1)
            put_int(out, fid)
            out.append(0)
    elif t.kind in ("slice", "array"):
        out.append(1)
        put_int(out, t.elem)
        if t.kind == "array" and t.len:
            out.append(1)
            put_int(out, t.len)
    elif t.kind == "map":
        out += b"\x01"
        put_int(out, t.key)
        out += b"\x01"
        put_int(out, t.elem)
    out += b"\x00\x00"  # end of the inner type, end of wireType
    return bytes(out)


# ---------------------------------------------------------------- Python types


class _Mismatch(GobError):
    """A value or wire type that does not fit; ``path`` says where (filled in on the way up)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []

    def where(self, top: str) -> str:
        return top + "".join(p if p.startswith("[") else "." + p for p in self.path)


@dataclasses.dataclass(eq=False)
class _Field:
    name: str
    spec: "_Spec"
    optional: bool  # Optional[T]: a Go pointer, None is a left-out field
    default: Any  # for decoding into a class whose wire type lacks the field


class _Spec:
    """A Python type normalised to the Go type it stands for (one object per Go type)."""

    def __init__(self, kind, bits=64, elem=None, key=None, cls=None):
        self.kind, self.bits, self.elem, self.key, self.cls = kind, bits, elem, key, cls
        self.builtin_id = {"bool": 1, "int": 2, "uint": 3, "float": 4, "bytes": 5, "string": 6,
                           "complex": 7}.get(kind, 0)
        self._fields = None

    @property
    def name(self) -> str:
        """Go's reflect Name(): only our structs are named types."""
        return getattr(self.cls, "__gob_name__", self.cls.__name__) if self.kind == "struct" else ""

    def go_string(self, package: str) -> str:
        """Go's reflect String(), used by Go as the name of unnamed field types."""
        if self.kind == "struct":
            return f"{package}.{self.name}" if package else self.name
        if self.kind == "slice":
            return "[]" + self.elem.go_string(package)
        if self.kind == "map":
            return f"map[{self.key.go_string(package)}]{self.elem.go_string(package)}"
        simple = {"bool": "bool", "string": "string", "bytes": "[]uint8", "complex": "complex128"}
        if self.kind in simple:
            return simple[self.kind]
        return "int" if (self.kind, self.bits) == ("int", 64) else f"{self.kind}{self.bits}"

    def fields(self) -> list[_Field]:
        if self._fields is None:  # computed lazily so recursive dataclasses work
            hints = typing.get_type_hints(self.cls, include_extras=True)
            fields = []
            for f in dataclasses.fields(self.cls):
                if f.name.startswith("_") or not f.init:
                    continue
                tp, optional = _unwrap_optional(hints[f.name])
                try:
                    spec = spec_of(tp)
                except GobError as e:
                    detail = str(e).removeprefix("gob: ")
                    raise GobError(f"gob: field {self.cls.__name__}.{f.name}: {detail}") from None
                default = (f.default_factory if f.default_factory is not dataclasses.MISSING
                           else (lambda d=f.default: d) if f.default is not dataclasses.MISSING else None)
                fields.append(_Field(f.name, spec, optional, default))
            self._fields = fields
        return self._fields

    def describe(self) -> str:
        return self.go_string("")


_INTERNED: dict = {}
_BY_TYPE: dict = {}
_GO_KINDS = {"int": ("int", 64), "int64": ("int", 64), "int32": ("int", 32), "uint": ("uint", 64),
             "uint64": ("uint", 64), "uint32": ("uint", 32), "float64": ("float", 64), "float32": ("float", 32)}


def _intern(kind, bits=64, elem=None, key=None, cls=None) -> _Spec:
    k = (kind, bits, elem, key, cls)
    spec = _INTERNED.get(k)
    if spec is None:
        spec = _INTERNED[k] = _Spec(kind, bits, elem, key, cls)
    return spec


def _unwrap_optional(tp) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, _types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        raise GobError(f"gob: union {tp!r} has no gob equivalent (interfaces are not supported)")
    return tp, False


def spec_of(tp) -> _Spec:
    """The Go type a Python annotation stands for."""
    try:
        return _BY_TYPE[tp]
    except (KeyError, TypeError):
        pass
    spec = _make_spec(tp)
    try:
        _BY_TYPE[tp] = spec
    except TypeError:
        pass
    return spec


def _make_spec(tp) -> _Spec:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        kinds = [m for m in tp.__metadata__ if isinstance(m, GoKind)]
        return _intern(*_GO_KINDS[kinds[0].name]) if kinds else spec_of(args[0])
    if origin in (typing.Union, _types.UnionType):
        return spec_of(_unwrap_optional(tp)[0])  # pointers are transparent
    simple = {bool: "bool", int: "int", float: "float", complex: "complex", str: "string",
              bytes: "bytes", bytearray: "bytes"}
    if tp in simple:
        return _intern(simple[tp])
    if origin is list and args:
        return _intern("slice", elem=spec_of(args[0]))
    if origin is dict and len(args) == 2:
        return _intern("map", key=spec_of(args[0]), elem=spec_of(args[1]))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _intern("struct", cls=tp)
    if tp is Any or tp is object:
        raise GobError("gob: interface values are not supported; use a concrete type")
    raise GobError(f"gob: no gob type for {tp!r}")


def infer_spec(value) -> _Spec:
    """The Go type for a plain value when no annotation was given."""
    t = type(value)
    spec = _BY_TYPE.get(t)
    if spec is not None:
        return spec
    if t in (bool, int, float, complex, str, bytes, bytearray):
        return spec_of(t)
    if dataclasses.is_dataclass(value):
        return spec_of(t)
    if isinstance(value, (list, tuple)):
        return _intern("slice", elem=_one_spec(value, "list"))
    if isinstance(value, dict):
        return _intern("map", key=_one_spec(value.keys(), "dict key"),
                       elem=_one_spec(value.values(), "dict value"))
    if isinstance(value, int) and not isinstance(value, bool):
        return spec_of(int)
    raise GobError(f"gob: cannot encode a value of type {t.__name__}")


def _one_spec(values, what) -> _Spec:
    specs = {infer_spec(v) for v in values}
    if len(specs) != 1:
        raise GobError(f"gob: cannot infer the {what} type from {'no' if not specs else 'mixed'} "
                       "elements; pass type=")
    return specs.pop()


# ---------------------------------------------------------------- encoding plans

_ENC_PLANS: dict = {}  # _Spec -> function(out: bytearray, value); the same for every stream


# protects _BUILDING and the building of plans: connections encode on many threads.  A
# recursive type's half-built plan (a forwarder) lives in _BUILDING, seen only under the lock.
_PLAN_LOCK = threading.RLock()
_BUILDING: dict = {}


def _enc_plan(spec: _Spec):
    plan = _ENC_PLANS.get(spec)
    if plan is None:
        with _PLAN_LOCK:
            plan = _ENC_PLANS.get(spec) or _BUILDING.get(spec)
            if plan is None:
                cell = []
                _BUILDING[spec] = lambda out, v: cell[0](out, v)
                try:
                    cell.append(_make_enc_plan(spec))
                finally:
                    del _BUILDING[spec]
                plan = _ENC_PLANS[spec] = cell[0]
    return plan


def _wrong(want: str, v) -> _Mismatch:
    return _Mismatch(f"expected {want}, got {type(v).__name__}")


def _make_enc_plan(spec: _Spec):
    kind = spec.kind
    if kind in ("int", "uint"):
        lo, hi = (-(1 << (spec.bits - 1)), 1 << (spec.bits - 1)) if kind == "int" else (0, 1 << spec.bits)
        gname = spec.go_string("")

        def enc_integer(out, v):
            if type(v) is not int:
                if not isinstance(v, int) or isinstance(v, bool):
                    raise _wrong("int", v)
                v = int(v)
            if not lo <= v < hi:
                raise _Mismatch(f"{v} out of range for {gname}")
            u = v if kind == "uint" else (v << 1 if v >= 0 else (~v << 1) | 1)
            if u < 0x80:
                out.append(u)
            else:
                n = (u.bit_length() + 7) >> 3
                out.append(256 - n)
                out += u.to_bytes(n, "big")
        return enc_integer
    if kind == "float":
        limit = 3.4028234663852886e38 if spec.bits == 32 else None

        def enc_float(out, v):
            if type(v) is not float:
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    raise _wrong("float", v)
                v = float(v)
            if limit and abs(v) > limit and abs(v) != float("inf"):
                raise _Mismatch(f"{v} out of range for float32")
            put_uint(out, float_to_uint(v))
        return enc_float
    if kind == "bool":
        def enc_bool(out, v):
            if type(v) is not bool:
                raise _wrong("bool", v)
            out.append(v)
        return enc_bool
    if kind == "complex":
        def enc_complex(out, v):
            if not isinstance(v, (int, float, complex)) or isinstance(v, bool):
                raise _wrong("complex", v)
            v = complex(v)
            put_uint(out, float_to_uint(v.real))
            put_uint(out, float_to_uint(v.imag))
        return enc_complex
    if kind == "string":
        def enc_string(out, v):
            if type(v) is not str:
                raise _wrong("str", v)
            raw = v.encode("utf-8", "surrogateescape")
            put_uint(out, len(raw))
            out += raw
        return enc_string
    if kind == "bytes":
        def enc_bytes(out, v):
            if not isinstance(v, (bytes, bytearray, memoryview)):
                raise _wrong("bytes", v)
            put_uint(out, len(v))
            out += v
        return enc_bytes
    if kind == "slice":
        elem = _enc_plan(spec.elem)

        def enc_slice(out, v):
            if not isinstance(v, (list, tuple)):
                raise _wrong("list", v)
            put_uint(out, len(v))
            for i, x in enumerate(v):
                try:
                    elem(out, x)
                except _Mismatch as e:
                    e.path.insert(0, f"[{i}]")
                    raise
        return enc_slice
    if kind == "map":
        key, elem = _enc_plan(spec.key), _enc_plan(spec.elem)

        def enc_map(out, v):
            if not isinstance(v, dict):
                raise _wrong("dict", v)
            put_uint(out, len(v))
            for k, x in v.items():
                try:
                    key(out, k)
                    elem(out, x)
                except _Mismatch as e:
                    e.path.insert(0, f"[{k!r}]")
                    raise
        return enc_map
    return _make_struct_encoder(spec)


def _make_struct_encoder(spec: _Spec):
    cls = spec.cls
    plan = [(i, f.name, _enc_plan(f.spec), f.spec.kind == "struct", f.optional)
            for i, f in enumerate(spec.fields())]

    def enc_struct(out, v):
        if type(v) is not cls and not isinstance(v, cls):
            raise _wrong(cls.__name__, v)
        last = -1
        for i, name, enc, is_struct, optional in plan:
            x = getattr(v, name)
            if not x:  # zero values are left out; nested structs are always sent
                if x is None:
                    if optional:
                        continue
                    e = _Mismatch("expected a value, got None (annotate it Optional[...])")
                    e.path.append(name)
                    raise e
                if not is_struct:
                    continue
            delta = i - last
            if delta < 0x80:
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


# ---------------------------------------------------------------- Encoder


class Encoder:
    """Encodes values for one stream, remembering which types it already described.

    ``package`` is the Go package name used in the names Go would give unnamed
    field types (``[]main.Point``); names are informational only.
    """

    def __init__(self, package: str = "main"):
        self.package = package
        self._types: dict[_Spec, WireType] = {}  # types given an id on this stream
        self._sent: dict[_Spec, None] = {}  # types whose definition went out (ordered, for rollback)
        self._next_id = FIRST_USER_ID

    def encode(self, value, type=None) -> bytes:
        """All messages for ``value``: any new type definitions, then the value."""
        spec = infer_spec(value) if type is None or type is Any or type is object else spec_of(type)
        defined = spec.builtin_id or spec in self._sent  # usually: nothing new to describe
        saved = None if defined else self.checkpoint()
        out, msg = bytearray(), bytearray()
        try:
            if not defined:
                self._build(spec, spec.name)
                self._send(spec, out)
            put_int(msg, spec.builtin_id or self._types[spec].id)
            if spec.kind != "struct":
                msg.append(0)  # a singleton is sent as field 0 of an unnamed struct
            _enc_plan(spec)(msg, value)
        except BaseException as e:
            if saved is not None:
                self.rollback(saved)  # leave the stream state as it was
            if isinstance(e, _Mismatch):
                raise GobError(f"gob: cannot encode {e.where(spec.name or spec.go_string(''))}: "
                               f"{e.detail}") from None
            raise
        put_uint(out, len(msg))
        out += msg
        return bytes(out)

    def checkpoint(self):
        """The stream state, for ``rollback`` when encoded bytes end up not being sent."""
        return len(self._types), len(self._sent), self._next_id  # both dicts only ever grow

    def rollback(self, saved) -> None:
        for table, keep in ((self._types, saved[0]), (self._sent, saved[1])):
            for spec in list(table)[keep:]:
                del table[spec]
        self._next_id = saved[2]

    def _build(self, spec: _Spec, name: str) -> int:
        """Hand out ids the way Go does: a struct before its fields, a slice or map after its elements."""
        if spec.builtin_id:
            return spec.builtin_id
        if spec in self._types:
            return self._types[spec].id
        t = self._types[spec] = WireType(spec.kind, name)
        if spec.kind == "struct":
            t.id = self._new_id()
            for f in spec.fields():
                t.fields.append((f.name, self._build(f.spec, f.spec.name or f.spec.go_string(self.package))))
        elif spec.kind == "slice":
            t.elem = self._build(spec.elem, spec.elem.name)
            t.id = self._new_id()
        else:  # map
            t.key = self._build(spec.key, "")
            t.elem = self._build(spec.elem, "")
            t.id = self._new_id()
        return t.id

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _send(self, spec: _Spec, out: bytearray) -> None:
        """Send a definition, then those of its inner types (Go's order)."""
        if spec.builtin_id or spec in self._sent:
            return
        self._sent[spec] = None
        payload = _wire_type_bytes(self._types[spec])
        put_uint(out, len(payload))
        out += payload
        inner = [f.spec for f in spec.fields()] if spec.kind == "struct" else [spec.key, spec.elem]
        for s in inner:
            if s is not None:
                self._send(s, out)



# ---------------------------------------------------------------- decoding plans
# A decoding op is function(data, pos, depth) -> (value, new pos).  Reading past
# the end of ``data`` raises IndexError, which the Decoder reports as GobError.


def _op_bool(data, pos, depth):
    u, pos = get_uint(data, pos)
    return u != 0, pos


def _op_int(data, pos, depth):
    u = data[pos]
    if u < 0x80:  # the common one-byte case, inlined for speed
        pos += 1
    else:
        u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos


def _op_uint(data, pos, depth):
    return get_uint(data, pos)


def _op_float(data, pos, depth):
    u, pos = get_uint(data, pos)
    return uint_to_float(u), pos


def _op_complex(data, pos, depth):
    re, pos = get_uint(data, pos)
    im, pos = get_uint(data, pos)
    return complex(uint_to_float(re), uint_to_float(im)), pos


def _op_bytes(data, pos, depth):
    n, pos = get_uint(data, pos)
    end = pos + n
    if end > len(data):
        raise GobError(f"gob: byte slice length {n} exceeds input size")
    return data[pos:end], end


def _op_string(data, pos, depth):
    n = data[pos]
    if n < 0x80:
        pos += 1
    else:
        n, pos = get_uint(data, pos)
    end = pos + n
    if end > len(data):
        raise GobError(f"gob: string length {n} exceeds input size")
    return data[pos:end].decode("utf-8", "surrogateescape"), end


def _op_interface(data, pos, depth):
    raise GobError("gob: interface values are not supported")


_SCALAR_OPS = {_BOOL: ("bool", _op_bool), _INT: ("int", _op_int), _UINT: ("uint", _op_uint),
               _FLOAT: ("float", _op_float), _BYTES: ("bytes", _op_bytes),
               _STRING: ("string", _op_string), _COMPLEX: ("complex", _op_complex)}


def _ranged(op, spec: _Spec):
    """Wrap an integer/float op with the range check of a sized target (Int32, Uint, Float32...)."""
    if spec.kind == "float":
        def check(v):
            return abs(v) <= 3.4028234663852886e38 or v != v or abs(v) == float("inf")
    else:
        lo, hi = (-(1 << (spec.bits - 1)), 1 << (spec.bits - 1)) if spec.kind == "int" else (0, 1 << spec.bits)

        def check(v):
            return lo <= v < hi
    name = spec.go_string("")

    def ranged(data, pos, depth):
        v, pos = op(data, pos, depth)
        if not check(v):
            raise GobError(f"gob: value {v} out of range for {name}")
        return v, pos
    return ranged


def _zero_factory(spec: _Spec, optional: bool):
    if optional:
        return lambda: None
    if spec.kind in ("slice", "map"):
        return list if spec.kind == "slice" else dict
    if spec.kind == "struct":
        return lambda: spec.cls(**{f.name: _zero_factory(f.spec, f.optional)() for f in spec.fields()})
    zero = {"bool": False, "int": 0, "uint": 0, "float": 0.0, "complex": 0j, "string": "", "bytes": b""}
    value = zero[spec.kind]
    return lambda: value


class Decoder:
    """Decodes one stream: remembers the peer's type definitions and compiled plans."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_types: int = DEFAULT_MAX_TYPES):
        self.max_message, self.max_depth, self.max_types = max_message, max_depth, max_types
        self.wire_types: dict[int, WireType] = dict(_BOOTSTRAP)  # id -> definition
        self._received = 0
        self._ops: dict = {}  # (wire id, target _Spec or None) -> op
        self._no_match: dict = {}  # (wire id, target) -> True if no field matched
        self._top: dict = {}  # (wire id, Python type) -> (op, is singleton) for top-level values
        self._buffer = bytearray()

    # -- streaming: feed bytes, take values
    def feed(self, data: bytes) -> None:
        self._buffer += data
        try:
            length, _ = get_uint(self._buffer, 0)
        except IndexError:
            return
        self.check_length(length)

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
            if type_id > 0:
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
        if type_id < FIRST_USER_ID - 1 or type_id in self.wire_types:
            raise GobError("gob: duplicate type received")
        if self._received >= self.max_types:
            raise GobError(f"gob: more than {self.max_types} type definitions on one stream")
        plain, pos = self._op(16, None, 0)(payload, pos, 0)
        if pos != len(payload):
            raise GobError("gob: extra data in buffer")
        wire = _wire_type_from_plain(type_id, plain)
        self.wire_types[type_id] = wire
        self._received += 1
        return wire

    def _decode_value(self, type_id: int, payload: bytes, pos: int, type):
        try:
            op, singleton = self._top[type_id, type]
        except KeyError:
            op, singleton = self._top[type_id, type] = self._top_plan(type_id, type)
        except TypeError:  # an unhashable annotation: plan it every time
            op, singleton = self._top_plan(type_id, type)
        if singleton:
            delta, pos = get_uint(payload, pos)
            if delta != 0:
                raise GobError("gob: corrupted data: non-zero delta for singleton")
        value, pos = op(payload, pos, 0)
        if pos != len(payload):
            raise GobError("gob: extra data after value")
        return value

    def _top_plan(self, type_id: int, type):
        """(op, is singleton) for a top-level value, with Go's texts for type mismatches."""
        spec = None if type is None or type is Any or type is object else spec_of(type)
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
        if is_struct and self._no_match.get((type_id, spec)):
            raise GobError(f"gob: type mismatch: no fields matched compiling decoder for {spec.name}")
        return op, not is_struct

    # -- compiling plans for (wire type, Python target) pairs
    def _op(self, type_id: int, spec, depth: int):
        key = (type_id, spec)
        op = self._ops.get(key)
        if op is None:
            if depth > self.max_depth:
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
        want = spec.describe() if spec is not None else ""
        if type_id == _INTERFACE:
            if spec is not None:
                raise _Mismatch(f"got interface, want {want}")
            return _op_interface
        if type_id in _SCALAR_OPS:
            kind, op = _SCALAR_OPS[type_id]
            if spec is None:
                return op
            ok = spec.kind == kind or (spec.kind in ("int", "uint") and kind in ("int", "uint"))
            if not ok:
                raise _Mismatch(f"got {_BUILTIN_NAMES[type_id]}, want {want}")
            if spec.bits == 64 and (spec.kind == kind or spec.kind == "int"):
                return op  # a Python int holds any int64 or uint64
            return _ranged(op, spec)
        wire = self.wire_types.get(type_id)
        if wire is None:
            raise GobError(f"gob: unknown type id {type_id}")
        if wire.kind == "struct":
            return self._compile_struct(type_id, wire, spec, depth)
        if wire.kind in ("gobencoder", "binary", "text"):
            if spec is not None and spec.kind != "bytes":
                raise _Mismatch(f"got {wire.kind} {wire.name}, want {want}")
            return _op_bytes
        if spec is not None and spec.kind != ("map" if wire.kind == "map" else "slice"):
            raise _Mismatch(f"got {wire.describe()}, want {want}")
        max_depth = self.max_depth
        elem = self._op(wire.elem, spec and spec.elem, depth + 1)
        if wire.kind == "map":
            key = self._op(wire.key, spec and spec.key, depth + 1)

            def op_map(data, pos, depth):
                n, pos = get_uint(data, pos)
                if n * 2 > len(data) - pos:
                    raise GobError(f"gob: map size {n} exceeds input size")
                if depth >= max_depth:
                    raise GobError("gob: invalid nesting depth")
                result = {}
                for _ in range(n):
                    k, pos = key(data, pos, depth + 1)
                    v, pos = elem(data, pos, depth + 1)
                    try:
                        result[k] = v
                    except TypeError:
                        raise GobError("gob: map key cannot be a Python dict; decode into a "
                                       "frozen dataclass") from None
                return result, pos
            return op_map
        length = wire.len if wire.kind == "array" else -1

        def op_slice(data, pos, depth):
            n, pos = get_uint(data, pos)
            if n > len(data) - pos:
                raise GobError(f"gob: slice length {n} exceeds input size")
            if length >= 0 and n != length:
                raise GobError(f"gob: array length {n}, want {length}")
            if depth >= max_depth:
                raise GobError("gob: invalid nesting depth")
            depth += 1
            result = []
            append = result.append
            for _ in range(n):
                v, pos = elem(data, pos, depth)
                append(v)
            return result, pos
        return op_slice

    def _compile_struct(self, type_id, wire: WireType, spec, depth):
        if spec is not None and spec.kind != "struct":
            raise _Mismatch(f"got struct {wire.name}, want {spec.describe()}")
        local = {f.name: f for f in spec.fields()} if spec is not None else {}
        fields = []  # by wire field number: (name to store under or None, op)
        for name, fid in wire.fields:
            target = local.get(name)
            try:
                op = self._op(fid, target.spec if target else None, depth + 1)
            except _Mismatch as e:
                e.path.insert(0, name)
                raise
            fields.append((name if (spec is None or target) else None, op))
        nfields, max_depth = len(fields), self.max_depth

        def read_fields(data, pos, depth, into):
            if depth >= max_depth:
                raise GobError("gob: invalid nesting depth")
            depth += 1
            field = -1
            while True:
                delta = data[pos]
                if delta < 0x80:
                    pos += 1
                else:
                    delta, pos = get_uint(data, pos)
                if delta == 0:
                    return pos
                field += delta
                if field >= nfields:
                    raise GobError("gob: field number out of range")
                name, op = fields[field]
                value, pos = op(data, pos, depth)
                if name is not None:
                    into[name] = value

        if spec is None:
            def op_plain_struct(data, pos, depth):
                result = {}
                return result, read_fields(data, pos, depth, result)
            return op_plain_struct

        cls = spec.cls
        on_wire = {name for name, _ in wire.fields}
        self._no_match[(type_id, spec)] = bool(local and wire.fields and not (on_wire & local.keys()))
        # A field the sender left out is zero; a field its type lacks gets our default.
        missing = [(f.name, f.default if (f.name not in on_wire and f.default) else
                    _zero_factory(f.spec, f.optional)) for f in local.values()]
        nlocal = len(missing)

        def op_struct(data, pos, depth):
            kwargs = {}
            pos = read_fields(data, pos, depth, kwargs)
            if len(kwargs) != nlocal:
                for name, factory in missing:
                    if name not in kwargs:
                        kwargs[name] = factory()
            try:
                return cls(**kwargs), pos
            except (TypeError, ValueError) as e:  # e.g. the class's own __post_init__ check
                raise GobError(f"gob: cannot build {cls.__name__}: {e}") from None
        return op_struct


# ---------------------------------------------------------------- one-shot helpers and dump


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


def _hex(b: bytes, limit: int = 12) -> str:
    text = b[:limit].hex(" ")
    return text + " …" if len(b) > limit else text


def dump(data: bytes) -> str:
    """An annotated listing of a gob stream: one block per message, hex on the left."""
    dec, lines, pos, n = Decoder(), [], 0, 0
    try:
        while pos < len(data):
            n += 1
            length, start = get_uint(data, pos)
            payload = bytes(data[start:start + length])
            lines.append(f"message {n}: {length} bytes")
            lines.append(f"  {_hex(data[pos:start]):<38} length {length}")
            if len(payload) < length:
                lines.append(f"  (truncated: only {len(payload)} bytes left)")
                break
            type_id, p = get_int(payload, 0)
            if type_id < 0:
                lines.append(f"  {_hex(payload[:p]):<38} type id {type_id}: a definition of type {-type_id}")
                wire = dec.read_message(payload)[1]
                lines.append(f"  {_hex(payload[p:]):<38} {wire.describe(dec.wire_types)}")
            else:
                lines.append(f"  {_hex(payload[:p]):<38} type id {type_id}: a value")
                _walk(dec, type_id, payload, p, "value", "  ", lines, top=True)
            pos = start + length
    except (GobError, IndexError) as e:
        lines.append(f"  error: {e or 'truncated data'}")
    return "\n".join(lines)


def _walk(dec: Decoder, type_id, data, pos, label, indent, lines, top=False) -> int:
    """Annotate one value at ``pos`` and return the position after it."""
    wire = dec.wire_types.get(type_id)
    if wire is None or wire.kind != "struct":
        if top:
            lines.append(f"  {_hex(data[pos:pos + 1]):<38} {indent}singleton (field delta 0)")
            pos += 1
        if wire is None or wire.kind in ("gobencoder", "binary", "text"):
            value, end = dec._op(type_id, None, 0)(data, pos, 0)
            lines.append(f"  {_hex(data[pos:end]):<38} {indent}{label} = {value!r}")
            return end
        count, end = get_uint(data, pos)
        lines.append(f"  {_hex(data[pos:end]):<38} {indent}{label}: {wire.describe(dec.wire_types)}, "
                     f"count {count}")
        pos = end
        for i in range(count):
            if wire.kind == "map":
                pos = _walk(dec, wire.key, data, pos, f"key {i}", indent + "  ", lines)
            pos = _walk(dec, wire.elem, data, pos, f"[{i}]", indent + "  ", lines)
        return pos
    lines.append(f"  {'':<38} {indent}{label}: struct {wire.name or '{}'}")
    field = -1
    while True:
        delta, end = get_uint(data, pos)
        if delta == 0:
            lines.append(f"  {_hex(data[pos:end]):<38} {indent}end of {wire.name or 'struct'}")
            return end
        field += delta
        if field >= len(wire.fields):
            raise GobError("gob: field number out of range")
        name, fid = wire.fields[field]
        lines.append(f"  {_hex(data[pos:end]):<38} {indent}  field +{delta} -> {name}")
        pos = _walk(dec, fid, data, end, name, indent + "    ", lines)

