"""Writing gob: numbers, type definitions, and one compiled plan per type.

An ``Encoder`` belongs to one stream.  The first time a type is sent it
writes the type's definition (and those of the types inside it), then the
value; after that only values.  Each value is written by a *plan*: a function
``plan(out, value)`` compiled once per Go type (``_plan``), so encoding is a
walk over prebuilt functions rather than a fresh look at the dataclass.
"""

from __future__ import annotations

import functools
import struct
import threading
from typing import Any

from ..errors import GobError
from ..values import FLOAT32_MAX
from .types import FIRST_USER_ID, GoType, Mismatch, WireType, class_go_type, go_type, infer_go_type

# ---------------------------------------------------------------- numbers


def put_uint(out: bytearray, u: int) -> None:
    """An unsigned integer: < 128 in one byte, else -(byte count) and the bytes, big-endian."""
    if u < 0x80:
        out.append(u)
    else:
        n = (u.bit_length() + 7) >> 3
        out.append(256 - n)  # the negated byte count, as a signed byte
        out += u.to_bytes(n, "big")


def put_int(out: bytearray, i: int) -> None:
    """A signed integer, zig-zagged into a uint: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ..."""
    put_uint(out, i << 1 if i >= 0 else (~i << 1) | 1)


def float_to_uint(f: float) -> int:
    """A float64's bits with their bytes reversed, so "round" numbers are short: 17.0 -> FE 31 40."""
    return int.from_bytes(struct.pack("<d", f), "big")


# ---------------------------------------------------------------- type definitions
# A definition is a gob value of Go's ``wireType`` (see types.BOOTSTRAP).  Its few
# shapes are written here by hand; reading one uses the ordinary decoder.


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


def definition(t: WireType) -> bytes:
    """A whole definition message: length, int(-id), then the wireType struct."""
    return _definition(t.kind, t.name, t.id, t.fields, t.elem, t.key, t.len)


@functools.lru_cache(maxsize=512)
def _definition(*fields) -> bytes:
    # Every new stream sends the same first definitions (its types get the same ids, in
    # the order they are first sent): written once, for all of them.
    t = WireType(*fields)
    payload = bytearray()
    put_int(payload, -t.id)
    common = (t.name, t.id)
    inner = {"array": (common, t.elem, t.len), "slice": (common, t.elem),
             "struct": (common, list(t.fields)), "map": (common, t.key, t.elem)}[t.kind]
    _put_plain_struct(payload, [inner if kind == t.kind else None for kind in ("array", "slice", "struct", "map")])
    out = bytearray()
    put_uint(out, len(payload))
    return bytes(out + payload)


def _wrong(want: str, v) -> Mismatch:
    return Mismatch(f"expected {want}, got {type(v).__name__}")


# ---------------------------------------------------------------- plans
# A plan is function(out: bytearray, value): it checks the value's type and appends
# its bytes.  Plans depend only on the Python type, so all streams share them.


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
            raise Mismatch(f"{v} out of range for {gname}")
        u = (v << 1 if v >= 0 else (~v << 1) | 1) if signed else v
        if u < 0x80:
            out.append(u)
        elif u < 0x10000:  # one or two bytes, after their negated count (FF or FE)
            out += (u | 0xFF00).to_bytes(2, "big") if u < 0x100 else (u | 0xFE0000).to_bytes(3, "big")
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
            raise Mismatch(f"{v} out of range for float32")
        put_uint(out, float_to_uint(v))
    return enc_float


def _enc_collection(spec: GoType):
    """A slice or array is its count then each element; a map its count then key, value, key, value..."""
    is_map, length = spec.kind == "map", spec.length if spec.kind == "array" else -1
    key, elem = _plan(spec.key) if is_map else None, _plan(spec.elem)
    accepted, want = (dict, "dict") if is_map else ((list, tuple), "list")

    def enc_collection(out, v):
        if not isinstance(v, accepted):
            raise _wrong(want, v)
        if length >= 0 and len(v) != length:
            raise Mismatch(f"expected {length} elements for {spec.go_string()}, got {len(v)}")
        put_uint(out, len(v))
        for k, x in v.items() if is_map else enumerate(v):
            try:
                if is_map:
                    key(out, k)
                elem(out, x)
            except Mismatch as e:
                e.path.insert(0, f"[{k!r}]")  # where in the value the bad element sits
                raise
    return enc_collection


# A struct's plan is written out as Python source for that one class -- the way ``dataclasses``
# writes each class's ``__init__`` -- with the common scalars encoded in place, and compiled
# once (the decoder does the same).  Only field numbers, number limits and the class's own
# attribute names (identifiers, checked by dataclasses) go into the source.  ``plan.source``
# shows what was generated.

_PUT_UINT = """\
if {u} < 0x80:  # a uint under 128 is its own byte
    out.append({u})
elif {u} < 0x10000:  # one or two bytes, after their negated count (FF or FE)
    out += ({u} | 0xFF00).to_bytes(2, "big") if {u} < 0x100 else ({u} | 0xFE0000).to_bytes(3, "big")
else:
    put_uint(out, {u})"""
_INLINE = {  # kind -> the lines that check x and write it
    "int": """\
if type(x) is not int:
    x = as_int(x, {i})
if not {lo} <= x < {hi}:
    raise out_of_range({i}, x)
u = x << 1 if x >= 0 else (~x << 1) | 1  # zig-zag
""" + _PUT_UINT.format(u="u"),
    "uint": """\
if type(x) is not int:
    x = as_int(x, {i})
if not {lo} <= x < {hi}:
    raise out_of_range({i}, x)
""" + _PUT_UINT.format(u="x"),
    "string": """\
if type(x) is not str:
    raise wrong("str", x, {i})
x = x.encode("utf-8", "surrogateescape")
n = len(x)
""" + _PUT_UINT.format(u="n") + "\nout += x",
    "bool": """\
if type(x) is not bool:
    raise wrong("bool", x, {i})
out.append(1)  # (False is zero: left out)""",
}


def _enc_struct(spec: GoType):
    cls, fields = spec.cls, spec.fields()
    if len(fields) > GENERATE_UP_TO:
        return _enc_wide_struct(spec)
    lines = ["    if type(v) is not cls and not isinstance(v, cls):",
             "        raise wrong(cls.__name__, v)",
             "    last = -1"]
    for i, f in enumerate(fields):
        inline = _INLINE.get(f.spec.kind) if f.spec.bits == 64 or f.spec.kind in ("int", "uint") else None
        always_sent = f.spec.kind in ("struct", "array")  # (nested structs and arrays are sent even when zero)
        lines += [f"    x = v.{f.attr}  # field {i}: {f.name}",
                  "    if x is not None:" if always_sent else "    if x:",
                  f"        out.append({i} - last)  # the field delta" if i < 0x80 else
                  f"        put_uint(out, {i} - last)  # the field delta",
                  f"        last = {i}"]
        if inline:
            lo, hi = f.spec.range
            lines += ["        " + line for line in inline.format(i=i, lo=lo, hi=hi).splitlines()]
        else:
            lines += ["        try:",
                      f"            plans[{i}](out, x)",
                      "        except Mismatch as e:",
                      f"            e.path.insert(0, names[{i}])",
                      "            raise"]
        if not f.optional:  # zero values are left out; None only where Optional[...] says so
            lines += ["    elif x is None:", f"        raise missing({i})"]
    lines.append("    out.append(0)  # the end of the struct")
    source = "\n".join(["def enc_struct(out, v):", *lines]) + "\n"
    names = [f.attr for f in fields]

    def wrong(want, x, i=None):
        e = _wrong(want, x)
        if i is not None:
            e.path.append(names[i])
        return e

    def out_of_range(i, x):
        e = Mismatch(f"{x} out of range for {fields[i].spec.go_string()}")
        e.path.append(names[i])
        return e

    def missing(i):
        e = Mismatch("expected a value, got None (annotate it Optional[...])")
        e.path.append(names[i])
        return e

    def as_int(x, i):  # an int that is not exactly int (an IntEnum): fine; a bool or anything else: not
        if not isinstance(x, int) or isinstance(x, bool):
            raise wrong("int", x, i)
        return int(x)

    namespace = {"cls": cls, "put_uint": put_uint, "Mismatch": Mismatch, "wrong": wrong, "names": names,
                 "out_of_range": out_of_range, "missing": missing, "as_int": as_int,
                 "plans": [_plan(f.spec) for f in fields]}
    exec(compile(source, f"<gob plan for struct {cls.__name__}>", "exec"), namespace)
    plan = namespace["enc_struct"]
    plan.source = source
    return plan


@functools.lru_cache(maxsize=512)
def _value_writer(spec: GoType, type_id: int):
    """``write(out, value)``: one value message of ``spec``, sent as ``type_id``.  The message
    is written straight into ``out`` behind a one-byte length, which is filled in at the end
    (a message of 128 bytes or more has a longer length: it is put in then)."""
    start = bytearray(1)  # the length's place
    put_int(start, type_id)
    if spec.kind != "struct":
        start.append(0)  # a value that is not a struct is field 0 of one ("singleton")
    start, plan, name = bytes(start), _plan(spec), spec.name or spec.go_string()

    def write(out: bytearray, value) -> None:
        mark = len(out)
        out += start
        try:
            plan(out, value)
        except Mismatch as e:  # nothing of a message that failed half-way is left in out
            del out[mark:]
            raise GobError(f"gob: cannot encode {e.where(name)}: {e.detail}") from None
        except BaseException:
            del out[mark:]
            raise
        n = len(out) - mark - 1
        if n < 0x80:  # most messages are short: the length is the one byte saved for it
            out[mark] = n
        else:
            _put_length(out, mark, n)
    return write


def _put_length(out: bytearray, mark: int, n: int) -> None:
    """A message of 128 bytes or more: its length takes more than the one byte saved at ``mark``."""
    length = bytearray()
    put_uint(length, n)
    out[mark:mark + 1] = length


GENERATE_UP_TO = 32  # fields; a wider struct gets the table-driven plan below


def _enc_wide_struct(spec: GoType):
    """A struct's plan as one loop over a table of field plans."""
    cls = spec.cls
    plan = [(i, f.attr, _plan(f.spec), f.spec.kind in ("struct", "array"), f.optional)
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
                    e = Mismatch("expected a value, got None (annotate it Optional[...])")
                    e.path.append(name)
                    raise e
                if not always_sent:
                    continue
            put_uint(out, i - last)  # the field delta: how far the field number moved
            last = i
            try:
                enc(out, x)
            except Mismatch as e:
                e.path.insert(0, name)
                raise
        out.append(0)
    return enc_struct


# Plans are found by kind: fixed functions for the simple kinds, makers for the rest.
_MAKERS = {"int": _enc_integer, "uint": _enc_integer, "float": _enc_float,
           "slice": _enc_collection, "array": _enc_collection, "map": _enc_collection, "struct": _enc_struct}
_PLANS: dict = {go_type(t): plan for t, plan in  # GoType -> plan
                ((bool, _enc_bool), (complex, _enc_complex), (str, _enc_string), (bytes, _enc_bytes))}
# protects _BUILDING and the building of plans: connections encode on many threads.  A
# recursive type's half-built plan (a forwarder) lives in _BUILDING, seen only under the lock.
_PLAN_LOCK = threading.RLock()
_BUILDING: dict = {}


def _plan(spec: GoType):
    plan = _PLANS.get(spec)
    if plan is None:
        with _PLAN_LOCK:
            plan = _PLANS.get(spec) or _BUILDING.get(spec)
            if plan is None:
                cell = []  # a recursive type's plan calls itself through this forwarder
                _BUILDING[spec] = lambda out, v: cell[0](out, v)
                try:
                    cell.append(_MAKERS[spec.kind](spec))
                finally:
                    del _BUILDING[spec]
                plan = _PLANS[spec] = cell[0]
    return plan


# ---------------------------------------------------------------- the encoder


class Encoder:
    """Encodes values for one stream, remembering which types it already described.

    ``package`` is the Go package name used in the names Go would give unnamed
    field types (``[]main.Point``); names are informational only.
    """

    def __init__(self, package: str = "main"):
        self.package = package
        self._types: dict[GoType, WireType] = {}  # types defined on this stream (ordered, for rollback)
        self._writers: dict = {}  # GoType -> how its value messages are written (see _writer)
        self._by_key: dict = {}  # annotation, or a class that decides its Go type -> the same writers
        self._next_id = FIRST_USER_ID

    def encode(self, value, type=None) -> bytes:
        """All messages for ``value``: any new type definitions, then the value."""
        out = bytearray()
        self.encode_into(out, value, type)
        return b"" + out  # (bytes, as bytes(out) would give: quicker)

    def encode_into(self, out: bytearray, value, type=None) -> None:
        """``encode``, appending to ``out``; on failure ``out`` and the stream are as they were."""
        key = value.__class__ if type is None else type
        try:  # the usual case: a type sent before, found by its annotation (or the value's class)
            write = self._by_key.get(key)
        except TypeError:  # an unhashable annotation
            write, key = None, None
        if write is not None:
            return write(out, value)
        spec = infer_go_type(value) if type is None or type is Any or type is object else go_type(type)
        write = self._writers.get(spec)
        if write is not None:  # the type is described already
            # (a class stands for its Go type only if that is all infer_go_type looks at)
            if key is not None and key is not Any and key is not object and \
                    (type is not None or class_go_type(key) is spec):
                self._by_key[key] = write
            return write(out, value)
        if spec.builtin_id or spec in self._types:  # nothing new to describe
            return self._writer(spec)(out, value)
        saved, size = self.checkpoint(), len(out)
        try:
            new: list[WireType] = []
            self._type_id(spec, spec.name, new)
            for t in new:
                out += definition(t)
            self._writer(spec)(out, value)
        except BaseException:
            self.rollback(saved)  # nothing is sent, so the peer learns no types
            del out[size:]
            raise

    def writer(self, spec: GoType):
        """``write(out, value)``, which appends one value message of ``spec`` (no definitions): for
        a caller that sends one type over and over.  None until the type's definition is sent."""
        return self._writers.get(spec)

    def _writer(self, spec: GoType):
        """The function that writes one value message of ``spec``: length, type id, then the value.

        All but the value is the same every time, so it is worked out once per type and id --
        for every stream that gives the type the same id (``_value_writer``).
        """
        write = self._writers[spec] = _value_writer(spec, spec.builtin_id or self._types[spec].id)
        return write

    def checkpoint(self):
        """The stream state, for ``rollback`` when encoded bytes end up not being sent."""
        return len(self._types), self._next_id  # _types only ever grows

    def rollback(self, saved) -> None:
        self._by_key.clear()
        for spec in list(self._types)[saved[0]:]:
            del self._types[spec]
            self._writers.pop(spec, None)
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
            t.fields = tuple((f.name, self._type_id(f.spec, f.spec.name or f.spec.go_string(self.package), new))
                             for f in spec.fields())
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
