"""Reading gob: messages off a stream, type definitions, and one compiled op per type.

A ``Decoder`` belongs to one stream.  It is fed bytes (``feed``) and cuts
them into messages (``next_frame``); a definition is absorbed into its table
of the peer's types (``define``), a value is decoded (``read_value``) by an
*op* compiled once per (wire type, Python target) pair: ``op(data, pos,
depth) -> (value, position after it)``.  Type ids are the stream's own, but
an op depends only on what the definitions say (``_shape``), so streams whose
peers define the same types -- every client of one program -- share their ops
(a recursive type gets ops of its own, running shared generated code): a new
connection's first message is not a compile, and its ops cost no memory.

Fields the target does not have are *skipped* by ops that walk the bytes and
build nothing (Go's ``ignore*`` ops), so a value the method ignores costs no
memory however much of it there is.

Limits (a decoder reads bytes from strangers): a message longer than
``max_message`` is refused from its length prefix, before its bytes are
waited for; every count and length is checked against the bytes left before
anything is allocated; nesting deeper than ``max_depth`` is refused; a
stream may define at most ``max_types`` types in at most ``max_type_bytes``
bytes of definitions, so the decoder's table of types stays small (it is kept
as tuples, a few times the definitions' wire size).  Every failure raises
``GobError``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import struct
import threading
from typing import Any

from ..errors import GobError
from ..format import DEFAULT_MAX_MESSAGE, NEED_DATA
from ..values import FLOAT32_MAX
from .types import (BOOTSTRAP, BUILTIN_IDS, BUILTIN_NAMES, FIRST_USER_ID, INTERFACE, WIRE_TYPE, GoType, Mismatch, WireType,
                    go_type, wire_type_from_plain)

DEFAULT_MAX_DEPTH = 100  # Go allows 10000; Python's stack is smaller
DEFAULT_MAX_TYPES = 1000  # type definitions accepted per stream
DEFAULT_MAX_TYPE_BYTES = 1024 * 1024  # bytes of type definitions accepted per stream

# ---------------------------------------------------------------- numbers


def get_uint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a uint at ``pos``; return (value, position after it)."""
    b = data[pos]  # IndexError at the end: read_value reports a short message
    if b < 0x80:
        return b, pos + 1
    n = 256 - b
    if n == 1:  # 128..255, the next most common: type ids, short lengths
        return data[pos + 1], pos + 2
    if n > 8:  # a uint is at most 8 bytes: anything longer is corrupt
        raise GobError("gob: encoded unsigned integer out of range")
    if pos + 1 + n > len(data):
        raise IndexError
    return int.from_bytes(data[pos + 1:pos + 1 + n], "big"), pos + 1 + n


def get_int(data: bytes, pos: int) -> tuple[int, int]:
    u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos  # zig-zag


def uint_to_float(u: int) -> float:
    return struct.unpack("<d", u.to_bytes(8, "big"))[0]


# ---------------------------------------------------------------- ops for the built-in types
# An op is function(data, pos, depth) -> (value, position after it); a skip is
# function(data, pos, depth) -> position after it.  Reading past the end of
# ``data`` raises IndexError, which the Decoder reports as GobError.


def _length(data, pos, what):
    """A count or length, checked against the bytes left: a length is a claim, not a fact."""
    n, pos = get_uint(data, pos)
    if n > len(data) - pos:
        raise GobError(f"gob: {what} {n} exceeds input size")
    return n, pos


def _op_bool(data, pos, depth):
    u, pos = get_uint(data, pos)
    return u != 0, pos


def _op_int(data, pos, depth):
    u = data[pos]
    if u < 0x80:  # one byte: -64..63
        pos += 1
    elif u == 0xFE:  # two bytes follow: the next most common
        u, pos = data[pos + 1] << 8 | data[pos + 2], pos + 3
    else:
        u, pos = get_uint(data, pos)
    return (~(u >> 1) if u & 1 else u >> 1), pos  # zig-zag


def _op_uint(data, pos, depth):
    u = data[pos]
    if u < 0x80:
        return u, pos + 1
    if u == 0xFE:  # two bytes follow
        return data[pos + 1] << 8 | data[pos + 2], pos + 3
    return get_uint(data, pos)


def _op_float(data, pos, depth):
    u, pos = get_uint(data, pos)
    return uint_to_float(u), pos


def _op_complex(data, pos, depth):
    re, pos = _op_float(data, pos, depth)
    im, pos = _op_float(data, pos, depth)
    return complex(re, im), pos


def _op_bytes(data, pos, depth):
    n, pos = _length(data, pos, "byte slice length")
    return data[pos:pos + n], pos + n


def _op_string(data, pos, depth):
    n, pos = _length(data, pos, "string length")
    return data[pos:pos + n].decode("utf-8", "surrogateescape"), pos + n


def _skip_number(data, pos, depth):
    return get_uint(data, pos)[1]


def _skip_complex(data, pos, depth):
    return get_uint(data, get_uint(data, pos)[1])[1]


def _skip_bytes(data, pos, depth):
    n, pos = _length(data, pos, "length")
    return pos + n


def _skip_interface(data, pos, depth):
    """An interface value: the concrete type's name, then its id, byte count and bytes."""
    n, pos = _length(data, pos, "interface type name length")
    if n == 0:
        return pos  # nil
    type_id, pos = get_int(data, pos + n)
    if type_id < 0:
        raise GobError("gob: interface values carrying type definitions are not supported")
    n, pos = _length(data, pos, "interface value length")
    return pos + n


# wire id -> (the kind of target it fits, op, skip)
_SCALARS = {BUILTIN_IDS[kind]: (kind, op, skip) for kind, op, skip in (
    ("bool", _op_bool, _skip_number), ("int", _op_int, _skip_number), ("uint", _op_uint, _skip_number),
    ("float", _op_float, _skip_number), ("bytes", _op_bytes, _skip_bytes),
    ("string", _op_string, _skip_bytes), ("complex", _op_complex, _skip_complex))}


def _ranged(op, spec: GoType):
    """Wrap an integer/float op with the range check of a sized target (Int32, Uint, Float32...)."""
    (lo, hi), name, is_float = spec.range, spec.go_string(), spec.kind == "float"

    def ranged(data, pos, depth):
        v, pos = op(data, pos, depth)
        if FLOAT32_MAX < abs(v) < float("inf") if is_float else not lo <= v < hi:
            raise GobError(f"gob: value {v} out of range for {name}")
        return v, pos
    return ranged


def _op_interface(data, pos, depth):
    raise GobError("gob: interface values are not supported")


# ---------------------------------------------------------------- struct ops, generated
# Most of a message is structs, and most of a struct is small numbers and strings.  So the op
# for a struct is written out as Python source for that one (wire type, class) pair -- the way
# ``dataclasses`` writes each class's ``__init__`` -- with the common scalars read in place,
# and compiled once.  Only integer positions and our own code go into the source: no name
# from the wire ever does.  ``op.source`` shows what was generated.

_READ_UINT = """\
{v} = data[pos]
if {v} < 0x80:  # a uint under 128 is its own byte
    pos += 1
elif {v} == 0xFE:  # two bytes follow (the next most common: 256..65535)
    {v}, pos = data[pos + 1] << 8 | data[pos + 2], pos + 3
elif {v} == 0xFF:  # one byte follows: 128..255
    {v}, pos = data[pos + 1], pos + 2
else:
    {v}, pos = get_uint(data, pos)"""
_INLINE = {  # the plain scalar ops, and what follows _READ_UINT to finish their value
    _op_uint: "",
    _op_int: "{v} = ~({v} >> 1) if {v} & 1 else {v} >> 1  # zig-zag",
    _op_bool: "{v} = {v} != 0",
    _op_string: """\
if {v} > len(data) - pos:
    raise GobError("gob: string length %d exceeds input size" % {v})
{v}, pos = data[pos:pos + {v}].decode("utf-8", "surrogateescape"), pos + {v}""",
}


GENERATE_UP_TO = 32  # fields; a wider struct gets the table-driven op (and no huge source to compile)
COMPILED_KEPT = 512  # struct ops' compiled code kept for later streams (the most recently used)


def _indent(text: str, spaces: int) -> list[str]:
    return [" " * spaces + line for line in text.splitlines()]


def _generate_struct_op(slots: list[tuple[int, Any]], build: "_Builder", max_depth: int, name: str):
    """The op for one struct: ``slots[i]`` says where wire field i goes and which op reads it.

    Gob sends a struct's fields in increasing order (each preceded by how far the field
    number moved, 0 ending the struct), so the op is straight-line code: one block per wire
    field, in order, each run only if that field came.  Every ``__init__`` argument is a
    local variable (``a0``, ``a1``...), starting as its zero value.
    """
    # Only the shape goes into the source: where each field goes and whether it is read in
    # place (an _INLINE scalar), in a call to its op, or skipped.  The ops themselves, the
    # class and the zero values are the stream's own, given to the code as its globals.
    shape = tuple((slot, op if slot >= 0 and op in _INLINE else None) for slot, op in slots)
    source, code = _struct_code(shape, len(build.template), bool(build.later or build.keywords), name)
    namespace = {"get_uint": get_uint, "GobError": GobError, "max_depth": max_depth, "build": build,
                 "cls": build.cls, "template": tuple(build.template), "ops": [op for _, op in slots]}
    exec(code, namespace)
    op = namespace["op_struct"]
    op.source = source
    return op


@functools.lru_cache(maxsize=COMPILED_KEPT)
def _struct_code(shape: tuple, nargs: int, via_build: bool, name: str) -> tuple[str, Any]:
    """The source of a struct's op, and its code, written and compiled once for every stream.

    Each stream numbers its types itself, so each compiles its own ops; but the source
    depends only on the shape, not on the stream, and writing and compiling it was most
    of what a new connection's first message cost (about a millisecond a struct)."""
    args = [f"a{k}" for k in range(nargs)]
    lines = ["    if depth >= max_depth:",
             '        raise GobError("gob: invalid nesting depth")',
             "    depth += 1",
             *([f"    {', '.join(args)}, = template  # every argument's zero value, or _LATER"] if args else []),
             *_indent(_READ_UINT.format(v="delta"), 4),
             "    field = delta - 1"]
    for i, (slot, inline) in enumerate(shape):
        lines.append(f"    if field == {i}:")
        if slot < 0:
            lines.append(f"        pos = ops[{i}](data, pos, depth)  # a field the class does not have")
        elif inline is not None:
            lines += _indent(_READ_UINT.format(v=f"a{slot}") + "\n" + _INLINE[inline].format(v=f"a{slot}"), 8)
        else:
            lines.append(f"        a{slot}, pos = ops[{i}](data, pos, depth)")
        lines += [*_indent(_READ_UINT.format(v="delta"), 8),
                  "        field += delta"]
    lines += ["    if delta:  # a field past the last, or the struct did not end",
              '        raise GobError("gob: field number out of range")',
              *([f"    value = build([{', '.join(args)}])"] if via_build else
                ["    try:",
                 f"        value = cls({', '.join(args)})",
                 "    except (TypeError, ValueError) as e:  # e.g. the class's own __post_init__ check",
                 '        raise GobError(f"gob: cannot build {cls.__name__}: {e}") from None'])]
    source = "\n".join(line.rstrip() for line in ["def op_struct(data, pos, depth):", *lines,
                                                   "    return value, pos"]) + "\n"
    return source, compile(source, f"<gob op for struct {name}>", "exec")


_LATER = object()  # in a builder's template: "made by a factory when the value did not come"


class _Builder:
    """How to make an instance of a dataclass from the values of one wire struct type.

    ``template`` holds every ``__init__`` argument in order: the zero value (or, for a field
    the sender's type lacks, our default), or ``_LATER`` for values that must be made fresh
    each time (lists, dicts, structs).  Calling the builder fills those in and calls the class.
    """

    def __init__(self, spec: GoType, on_wire: set[str]):
        self.cls = spec.cls
        gob_fields = {f.attr: f for f in spec.fields()}
        self.template, self.position, self.later, self.keywords = [], {}, [], []
        for f in dataclasses.fields(spec.cls):
            if not f.init:
                continue
            if f.kw_only:
                self.keywords.append(f.name)
            field = gob_fields.get(f.name)
            if field is None:  # not sent by gob (a _private field): the class's own default
                make = f.default_factory if f.default_factory is not dataclasses.MISSING else \
                    (lambda d=f.default: d) if f.default is not dataclasses.MISSING else None
            else:
                self.position[field.name] = len(self.template)
                make = field.default if (field.name not in on_wire and field.default) else \
                    field.spec.zero(field.optional)
            value = make() if make is not None else _LATER
            if make is None or isinstance(value, (list, dict)) or dataclasses.is_dataclass(value):
                self.later.append((len(self.template), make))  # fresh each time (or missing)
                value = _LATER
            self.template.append(value)

    def __call__(self, values: list):
        for slot, make in self.later:
            if values[slot] is _LATER:
                if make is None:
                    raise GobError(f"gob: cannot build {self.cls.__name__}: a field without a default is missing")
                values[slot] = make()
        try:
            if self.keywords:  # keyword-only fields cannot be passed in order
                names = [f.name for f in dataclasses.fields(self.cls) if f.init]
                return self.cls(**dict(zip(names, values)))
            return self.cls(*values)
        except (TypeError, ValueError) as e:  # e.g. the class's own __post_init__ check
            raise GobError(f"gob: cannot build {self.cls.__name__}: {e}") from None


# ---------------------------------------------------------------- the decoder


class _Kept:
    """The ``size`` most recently used values by key, for every thread (a bounded dict)."""

    def __init__(self, size: int):
        self.size, self._values, self._lock = size, collections.OrderedDict(), threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._values[key] = value
            if len(self._values) > self.size:
                self._values.popitem(last=False)


# Ops shared by streams whose definitions are the same (every client of one program sends the
# same): a connection then makes none of its own, and keeps none for the garbage collector to
# walk.  Bounded, for peers that define type after type.
_SHARED_OPS = _Kept(COMPILED_KEPT)  # (shape, target GoType, max_depth) -> op
_SHARED_READERS = _Kept(COMPILED_KEPT)  # (shape, Python type, max_depth) -> a top-level reader


class Decoder:
    """Decodes one stream: the peer's type definitions, and ops compiled for them."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE, max_depth: int = DEFAULT_MAX_DEPTH,
                 max_types: int = DEFAULT_MAX_TYPES, max_type_bytes: int = DEFAULT_MAX_TYPE_BYTES):
        self.max_message, self.max_depth = max_message, max_depth
        self.max_types, self.max_type_bytes = max_types, max_type_bytes
        self.wire_types: dict[int, WireType] = dict(BOOTSTRAP)  # id -> definition
        self._defined, self._defined_bytes = 0, 0  # definitions received, for the limits
        self._ops: dict = {}  # (wire id, target GoType or None) -> op
        self._skips: dict = {}  # wire id -> skip
        self._shapes: dict = {}  # wire id -> its shape, for the ops streams share (_shape)
        self._top: dict = {}  # (wire id, Python type) -> the reader of a top-level value (_top_plan)
        self._buffer, self._pos = bytearray(), 0  # bytes fed; those before _pos are taken
        self._eof = False

    # -- framing: bytes in, messages out
    def feed(self, data: bytes) -> None:
        """Append bytes read from the stream; ``b""`` means the stream ended."""
        if not data:
            self._eof = True
            return
        if self._pos == len(self._buffer):  # all taken (the usual case): these bytes are the buffer
            self._buffer = data if type(data) is bytes else bytearray(data)  # (bytes cannot change: kept)
        elif type(self._buffer) is bytes:  # part of a message waits for the rest: a buffer to add to
            self._buffer = bytearray(memoryview(self._buffer)[self._pos:])  # (one copy of the part)
            self._buffer += data
        else:
            del self._buffer[:self._pos]
            self._buffer += data
        self._pos = 0

    def next_frame(self) -> Any:
        """The next whole message as (type id, its bytes, where its contents start), or NEED_DATA.

        A length over ``max_message`` is refused as soon as it is seen.  At the
        end of the stream: ``EOFError`` between messages, ``EOFError("unexpected
        EOF")`` inside one.
        """
        buffer, start = self._buffer, self._pos
        size = len(buffer)
        if start < size:
            length = buffer[start]
            if length < 0x80:  # the usual case: a message under 128 bytes, its length one byte
                pos = start + 1
            else:
                try:
                    length, pos = get_uint(buffer, start)
                except IndexError:
                    length = None  # the length's own bytes are not all here yet
            if length is not None:
                if not 0 < length <= self.max_message:  # 0 or too big: refused as soon as seen
                    self.check_length(length)
                end = pos + length
                if end <= size:
                    self._pos = end
                    frame = buffer[start:end]  # (all of a bytes buffer is the buffer itself: no copy)
                    if type(frame) is not bytes:
                        frame = bytes(frame)
                    at = pos - start
                    u = frame[at]  # the type id (a message of length > 0 has its first byte)
                    if u < 0x80:
                        at += 1
                    elif u == 0xFF and length > 1:  # two bytes: the ids 64..127 (the first user types), -65..-128
                        u, at = frame[at + 1], at + 2
                    else:
                        try:
                            u, at = get_uint(frame, at)
                        except IndexError:
                            raise GobError("gob: message is shorter than its type id") from None
                    return (~(u >> 1) if u & 1 else u >> 1), frame, at  # zig-zag
        if self._eof:
            raise EOFError("unexpected EOF") if start < size else EOFError()
        return NEED_DATA

    def peek(self, n: int) -> bytes:
        """Up to ``n`` of the bytes fed but not yet taken."""
        return bytes(self._buffer[self._pos:self._pos + n])

    def check_length(self, length: int) -> None:
        if length == 0 or length > self.max_message:
            raise GobError(f"gob: invalid message length {length} (limit {self.max_message})")

    # -- messages
    def define(self, type_id: int, data: bytes, pos: int) -> WireType:
        """Absorb the definition of type ``type_id`` (the wireType value at ``data[pos:]``)."""
        if type_id < FIRST_USER_ID - 1 or type_id in self.wire_types:  # ids below 64 are Go's own
            raise GobError("gob: duplicate type received")
        if self._defined >= self.max_types:
            raise GobError(f"gob: more than {self.max_types} type definitions on one stream")
        self._defined_bytes += len(data)
        if self._defined_bytes > self.max_type_bytes:
            raise GobError(f"gob: more than {self.max_type_bytes} bytes of type definitions on one stream")
        plain = self._read(WIRE_TYPE, data, pos, None)  # a wireType struct, as a dict
        wire = self.wire_types[type_id] = wire_type_from_plain(type_id, plain)
        self._defined += 1
        return wire

    def read_value(self, type_id: int, data: bytes, pos: int, type=None):
        """Decode the value of type ``type_id`` at ``data[pos:]`` into ``type`` (None: plain values)."""
        try:  # the usual case: the reader is compiled already
            read = self._top[type_id, type]
        except (KeyError, TypeError):
            read = self.reader(type_id, type)
        return read(data, pos)

    def reader(self, type_id: int, type=None):
        """``read(data, pos) -> value``: ``read_value`` for one (type id, type), compiled once."""
        if type_id <= 0:
            raise GobError(f"gob: invalid value type id {type_id}")
        try:
            return self._top[type_id, type]
        except KeyError:
            shape = self._shape(type_id)  # (streams share readers as they share ops)
            shared = (shape, type, self.max_depth) if shape is not None else None
            read = _SHARED_READERS.get(shared) if shared is not None else None
            if read is None:
                read = self._top_plan(type_id, type)
                if shared is not None:
                    _SHARED_READERS.put(shared, read)
            self._top[type_id, type] = read
            return read
        except TypeError:  # an unhashable annotation: plan it every time
            return self._top_plan(type_id, type)

    def read_message(self, payload: bytes, type=None) -> tuple[int, Any]:
        """Decode one message given without its length prefix: (-id, WireType) for a
        definition, (id, value) for a value."""
        type_id, pos = self._guard(get_int, payload, 0)
        if type_id < 0:
            return type_id, self.define(-type_id, payload, pos)
        return type_id, self.read_value(type_id, payload, pos, type)

    def decode(self, type=None):
        """The next value from the fed bytes (definitions are absorbed on the way);
        EOFError if no whole value is buffered yet."""
        while True:
            frame = self.next_frame()
            if frame is NEED_DATA:
                raise EOFError("no complete gob message buffered")
            type_id, data, pos = frame
            if type_id < 0:
                self.define(-type_id, data, pos)
            else:
                return self.read_value(type_id, data, pos, type)

    def _read(self, type_id, data, pos, spec):
        return self._read_with(self._op(type_id, spec, 0), data, pos)

    def _read_with(self, op, data, pos):
        value, pos = self._guard(op, data, pos, 0)
        if pos != len(data):
            raise GobError("gob: extra data after value")
        return value

    @staticmethod
    def _guard(fn, *args):
        try:
            return fn(*args)
        except IndexError:
            raise GobError("gob: message is shorter than its contents (truncated data)") from None
        except RecursionError:
            raise GobError("gob: invalid nesting depth") from None

    def _top_plan(self, type_id: int, type):
        """``read(data, pos) -> value`` for a top-level value, with Go's texts for type mismatches."""
        spec = None if type is None or type is Any or type is object else go_type(type)
        wire = self.wire_types.get(type_id)
        if wire is None and type_id not in _SCALARS:
            raise GobError(f"gob: unknown type id {type_id}")
        try:
            op = self._op(type_id, spec, 0)
        except Mismatch as e:
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
        singleton = not is_struct  # a value that is not a struct travels as field 0 of an unnamed struct
        def read(data: bytes, pos: int):
            try:
                if singleton:
                    if data[pos] == 0:  # (the delta 0, in its one byte)
                        pos += 1
                    elif get_uint(data, pos)[0] != 0:
                        raise GobError("gob: corrupted data: non-zero delta for singleton")
                    else:
                        pos = get_uint(data, pos)[1]
                value, pos = op(data, pos, 0)
            except IndexError:
                raise GobError("gob: message is shorter than its contents (truncated data)") from None
            except RecursionError:
                raise GobError("gob: invalid nesting depth") from None
            if pos != len(data):
                raise GobError("gob: extra data after value")
            return value
        return read

    # -- compiling ops for (wire type, Python target) pairs
    def _op(self, type_id: int, spec, depth: int):
        key = (type_id, spec)
        op = self._ops.get(key)
        if op is None:
            if depth > self.max_depth:  # a definition nested too deep to compile
                raise GobError("gob: invalid nesting depth")
            # Another stream may have made this op already: the same definitions (under ids of
            # its own) read into the same target make the same op (see _shape); and Go's own
            # types -- those that read definitions, say -- are the same on every stream.
            shape = self._shape(type_id)
            shared = (shape, spec, self.max_depth) if shape is not None else None
            op = _SHARED_OPS.get(shared) if shared is not None else None
            if op is not None:
                self._ops[key] = op
                return op
            cell = []  # recursive types meet this forwarder while compiling
            self._ops[key] = lambda d, p, n: cell[0](d, p, n)
            try:
                cell.append(self._compile(type_id, spec, depth))
            except BaseException:
                del self._ops[key]
                raise
            op = self._ops[key] = cell[0]
            if shared is not None:
                _SHARED_OPS.put(shared, op)
        return op

    def _shape(self, type_id: int, visiting: tuple = ()) -> Any:
        """What an op for ``type_id`` depends on, with no stream's ids in it: its definition,
        each id in it replaced by that type's shape (Go's own types keep their ids, the same on
        every stream).  None for a recursive type (and any that holds one), one nested deeper
        than ``max_depth``, or an unknown id: those streams make their own ops."""
        if not self._own(type_id):
            return type_id if type_id in _SCALARS or type_id == INTERFACE or type_id in BOOTSTRAP else None
        if type_id in self._shapes:
            return self._shapes[type_id]
        wire = self.wire_types[type_id]
        if type_id in visiting or len(visiting) >= self.max_depth:
            return None
        inner = (*visiting, type_id)
        parts = tuple(self._shape(i, inner) if i else 0 for i in (*(i for _, i in wire.fields), wire.elem, wire.key))
        shape = None if None in parts else (wire.kind, wire.name, tuple(name for name, _ in wire.fields), parts,
                                            wire.len)
        self._shapes[type_id] = shape  # (None too: a type that reaches one being visited is on a cycle)
        return shape

    def _own(self, type_id: int) -> bool:
        """A type this stream's peer defined (its id means something on this stream only)."""
        return type_id in self.wire_types and type_id not in BOOTSTRAP

    def _compile(self, type_id: int, spec, depth: int):
        want = spec.go_string() if spec is not None else ""
        if type_id == INTERFACE:
            if spec is not None:
                raise Mismatch(f"got interface, want {want}")
            return _op_interface
        if type_id in _SCALARS:
            kind, op, _ = _SCALARS[type_id]
            if spec is None:
                return op
            if spec.kind != kind and not (spec.kind in ("int", "uint") and kind in ("int", "uint")):
                raise Mismatch(f"got {BUILTIN_NAMES[type_id]}, want {want}")
            if spec.bits == 64 and (spec.kind == kind or spec.kind == "int"):
                return op  # a Python int holds any int64 or uint64
            return _ranged(op, spec)
        wire = self._wire(type_id)
        if wire.kind == "struct":
            return self._compile_struct(wire, spec, depth)
        if wire.kind in ("gobencoder", "binary", "text"):  # a Go type's own encoding: opaque bytes
            if spec is not None and spec.kind != "bytes":
                raise Mismatch(f"got {wire.kind} {wire.name}, want {want}")
            return _op_bytes
        fits = ("map",) if wire.kind == "map" else ("slice", "array") if wire.kind == "array" else ("slice",)
        if spec is not None and (spec.kind not in fits or spec.kind == "array" and spec.length != wire.len):
            raise Mismatch(f"got {wire.describe()}, want {want}")  # a Go array fits a list or a same-size tuple
        elem = self._op(wire.elem, spec and spec.elem, depth + 1)
        key = self._op(wire.key, spec and spec.key, depth + 1) if wire.kind == "map" else None
        max_depth, array_len = self.max_depth, wire.len if wire.kind == "array" else -1
        as_tuple = spec is not None and spec.kind == "array"

        def op_collection(data, pos, depth):
            # every element takes at least one byte (a map entry two): checked before anything is built
            n, pos = _length(data, pos, "map size" if key else "slice length")
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
            raise Mismatch(f"got struct {wire.name}, want {spec.go_string()}")
        local = {f.name: f for f in spec.fields()} if spec is not None else {}
        fields = []  # by wire field number: (its name, the op that reads it -- or skips it)
        for name, fid in wire.fields:
            target = local.get(name)
            if spec is not None and target is None:  # the target has no such field: skip it
                fields.append((name, self._skip(fid, depth + 1)))
                continue
            try:
                fields.append((name, self._op(fid, target.spec if target else None, depth + 1)))
            except Mismatch as e:
                e.path.insert(0, name)
                raise
        nfields, max_depth = len(fields), self.max_depth
        if spec is None:
            def op_plain_struct(data, pos, depth):  # a dict of the fields that were sent
                if depth >= max_depth:
                    raise GobError("gob: invalid nesting depth")
                values, field = {}, -1
                while True:
                    delta, pos = get_uint(data, pos)
                    if delta == 0:  # the end of the struct
                        return values, pos
                    field += delta
                    if field >= nfields:
                        raise GobError("gob: field number out of range")
                    name, op = fields[field]
                    values[name], pos = op(data, pos, depth + 1)
            return op_plain_struct
        build = _Builder(spec, {name for name, _ in wire.fields})
        # by wire field number: (position among the class's __init__ arguments or -1 to skip, op)
        slots = [(build.position.get(name, -1), op) for name, op in fields]
        if len(slots) <= GENERATE_UP_TO:
            return _generate_struct_op(slots, build, max_depth, spec.cls.__name__)

        def op_struct(data, pos, depth):  # a wide struct: one loop over a table of ops
            if depth >= max_depth:
                raise GobError("gob: invalid nesting depth")
            values, field = build.template.copy(), -1
            while True:
                delta, pos = get_uint(data, pos)
                if delta == 0:  # the end of the struct
                    return build(values), pos
                field += delta
                if field >= nfields:
                    raise GobError("gob: field number out of range")
                slot, op = slots[field]
                if slot < 0:
                    pos = op(data, pos, depth + 1)
                else:
                    values[slot], pos = op(data, pos, depth + 1)
        return op_struct

    def _skip(self, type_id: int, depth: int):  # noqa: C901 (one op per wire kind)
        """The op that walks past a value of ``type_id`` without building it (Go's ignore ops)."""
        skip = self._skips.get(type_id)
        if skip is not None:
            return skip
        if depth > self.max_depth:
            raise GobError("gob: invalid nesting depth")
        if type_id == INTERFACE:
            return _skip_interface
        if type_id in _SCALARS:
            return _SCALARS[type_id][2]
        cell = []  # a recursive type's skip calls itself through this forwarder
        self._skips[type_id] = lambda d, p, n: cell[0](d, p, n)
        wire, max_depth = self._wire(type_id), self.max_depth
        if wire.kind == "struct":
            skips = [self._skip(fid, depth + 1) for _, fid in wire.fields]

            def skip(data, pos, depth):
                if depth >= max_depth:
                    raise GobError("gob: invalid nesting depth")
                field = -1
                while True:
                    delta, pos = get_uint(data, pos)
                    if delta == 0:
                        return pos
                    field += delta
                    if field >= len(skips):
                        raise GobError("gob: field number out of range")
                    pos = skips[field](data, pos, depth + 1)
        elif wire.kind in ("gobencoder", "binary", "text"):
            skip = _skip_bytes
        else:
            elem = self._skip(wire.elem, depth + 1)
            key = self._skip(wire.key, depth + 1) if wire.kind == "map" else None

            def skip(data, pos, depth):
                if depth >= max_depth:
                    raise GobError("gob: invalid nesting depth")
                n, pos = _length(data, pos, "map size" if key else "slice length")
                for _ in range(n):
                    if key is not None:
                        pos = key(data, pos, depth + 1)
                    pos = elem(data, pos, depth + 1)
                return pos
        cell.append(skip)
        self._skips[type_id] = skip
        return skip

    def _wire(self, type_id: int) -> WireType:
        wire = self.wire_types.get(type_id)
        if wire is None:
            raise GobError(f"gob: unknown type id {type_id}")
        return wire
