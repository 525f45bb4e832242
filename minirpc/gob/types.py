"""gob's types: the Go type a Python annotation stands for, and the wire's own type definitions.

gob is typed: every value on the wire belongs to a Go type that the stream
has described.  Python values carry no such thing (an ``int`` could be Go's
``int``, ``int32`` or ``uint64``), so the gob codec first maps each Python
annotation to the Go type it stands for -- a ``GoType`` -- and works from
that (Go's ``type.go`` does the same with ``reflect.Type``).

The table
---------
::

    Python               gob / Go
    dataclass            struct named cls.__name__ (or cls.__gob_name__); fields
                         matched by exact name, like Go; "_names" are not sent
    int                  int (int64); annotate Uint (uint64), Uint32, Int32
    float                float64;     annotate Float32
    bool, str, bytes     bool, string, []byte
    complex              complex128
    list[T]              []T  (Go arrays [N]T decode into lists too)
    tuple[T, T, T]       [3]T, a Go array (tuple[T, ...] is a slice)
    dict[K, V]           map[K]V
    Optional[T]          *T: None is a left-out struct field

With no annotation (``type=None``) the type is inferred from the value: a
dataclass instance is a struct, a list a slice, a dict a *map* (never a
struct); empty lists and dicts need an explicit type.

Refused: interface values (``Any``, ``object``, unions other than
``Optional[T]``).  On the wire a Go interface names a type registered by the
sender, and resolving names from strangers into Python classes is unsafe.
Also refused, as Go refuses it: a struct whose fields are all unexported
("gob: type T has no exported fields").

The other direction: a gob stream describes its own types, in Go's terms.
``WireType`` is one such definition (Go's ``wireType``, flattened); the ids
1..24 are built in and known to every decoder without being sent.
"""

from __future__ import annotations

import dataclasses
import types as _types
import typing
from typing import Annotated, Any

from ..errors import GobError
from ..values import GO_NUMBERS, GoKind, field_types, go_name, is_struct

# The type ids every gob stream knows without being told (Go's bootstrap ids):
BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX, INTERFACE = range(1, 9)
WIRE_TYPE, ARRAY_TYPE, COMMON_TYPE, SLICE_TYPE, STRUCT_TYPE, FIELD_TYPE, FIELD_SLICE, MAP_TYPE, \
    GOB_ENCODER_TYPE = range(16, 25)
FIRST_USER_ID = 65  # Go's firstUserId is 64; the first type a program defines gets 65
BUILTIN_IDS = {"bool": BOOL, "int": INT, "uint": UINT, "float": FLOAT, "bytes": BYTES, "string": STRING,
               "complex": COMPLEX}  # by GoType.kind
BUILTIN_NAMES = {BOOL: "bool", INT: "int", UINT: "uint", FLOAT: "float", BYTES: "[]byte", STRING: "string",
                 COMPLEX: "complex", INTERFACE: "interface"}


@dataclasses.dataclass(eq=False)
class Field:
    """One dataclass field as gob sees it."""

    name: str  # on the wire: Go's name (``metadata={"go": ...}``), else the attribute's
    attr: str  # the dataclass attribute
    spec: GoType
    optional: bool  # Optional[T]: a Go pointer, None is a left-out field
    default: Any  # a factory, for decoding into a class whose wire type lacks the field


_GO_NAMES = {("bool", 64): "bool", ("string", 64): "string", ("bytes", 64): "[]uint8",
             ("complex", 64): "complex128", ("int", 64): "int"}
_ZEROS = {"bool": False, "int": 0, "uint": 0, "float": 0.0, "complex": 0j, "string": "", "bytes": b""}


class GoType:
    """A Python type normalised to the Go type it stands for (one interned object per Go type)."""

    def __init__(self, kind, bits=64, elem=None, key=None, cls=None, length=0):
        self.kind, self.bits, self.elem, self.key, self.cls = kind, bits, elem, key, cls
        self.length = length  # arrays: [length]elem
        self.builtin_id = BUILTIN_IDS.get(kind, 0)  # int32 is sent as int: only the range differs
        # [lo, hi) for sized integers
        self.range = (-(1 << (bits - 1)), 1 << (bits - 1)) if kind == "int" else (0, 1 << bits)
        self._fields = None

    @property
    def name(self) -> str:
        """Go's reflect Name(): only our structs are named types."""
        return getattr(self.cls, "__gob_name__", self.cls.__name__) if self.kind == "struct" else ""

    def go_string(self, package: str = "") -> str:
        """Go's reflect String(), which Go uses as the name of unnamed field types."""
        if self.kind == "struct":
            return f"{package}.{self.name}" if package else self.name
        if self.kind in ("slice", "array"):
            return f"[{self.length if self.kind == 'array' else ''}]{self.elem.go_string(package)}"
        if self.kind == "map":
            return f"map[{self.key.go_string(package)}]{self.elem.go_string(package)}"
        return _GO_NAMES.get((self.kind, self.bits)) or f"{self.kind}{self.bits}"  # e.g. uint32

    def fields(self) -> list[Field]:
        if self._fields is None:  # computed lazily so recursive dataclasses work
            hints = field_types(self.cls)  # annotations evaluated, forward references too
            fields, every = [], dataclasses.fields(self.cls)
            for f in every:
                if f.name.startswith("_") or not f.init:
                    continue
                tp, optional = _unwrap_optional(hints[f.name])
                try:
                    spec = go_type(tp)
                except GobError as e:
                    detail = str(e).removeprefix("gob: ")
                    raise GobError(f"gob: field {self.cls.__name__}.{f.name}: {detail}") from None
                default = (f.default_factory if f.default_factory is not dataclasses.MISSING
                           else (lambda d=f.default: d) if f.default is not dataclasses.MISSING else None)
                fields.append(Field(go_name(f), f.name, spec, optional, default))
            if every and not fields:  # Go: a struct with fields, none of them exported
                raise GobError(f"gob: type {self.name} has no exported fields")
            self._fields = fields
        return self._fields

    def zero(self, optional: bool = False):
        """A factory for this type's zero value (None for a pointer)."""
        if optional:
            return lambda: None
        if self.kind in ("slice", "map"):
            return list if self.kind == "slice" else dict
        if self.kind == "struct":
            return lambda: self.cls(**{f.attr: f.spec.zero(f.optional)() for f in self.fields()})
        if self.kind == "array":
            return lambda: tuple(self.elem.zero()() for _ in range(self.length))
        return lambda value=_ZEROS[self.kind]: value


_INTERNED: dict = {}  # (kind, bits, elem, key, cls, length) -> GoType
_BY_TYPE: dict = {}  # Python annotation -> GoType
_SIMPLE = {bool: "bool", int: "int", float: "float", complex: "complex", str: "string",
           bytes: "bytes", bytearray: "bytes"}


def _intern(kind, bits=64, elem=None, key=None, cls=None, length=0) -> GoType:
    k = (kind, bits, elem, key, cls, length)
    spec = _INTERNED.get(k)
    if spec is None:  # setdefault: two threads asking at once still get one object
        spec = _INTERNED.setdefault(k, GoType(kind, bits, elem, key, cls, length))
    return spec


def _unwrap_optional(tp) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, _types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
        raise GobError(f"gob: union {tp!r} has no gob equivalent (interfaces are not supported)")
    return tp, False


def _number(name: str) -> GoType:
    python, _, _ = GO_NUMBERS[name]
    if python is float:
        return _intern("float", 32 if name == "float32" else 64)
    return _intern("uint" if name.startswith("uint") else "int", 32 if name.endswith("32") else 64)


def go_type(tp) -> GoType:
    """The Go type a Python annotation stands for."""
    try:
        return _BY_TYPE[tp]
    except (KeyError, TypeError):  # TypeError: an unhashable annotation, never cached
        pass
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        kinds = [m for m in tp.__metadata__ if isinstance(m, GoKind)]
        spec = _number(kinds[0].name) if kinds else go_type(args[0])
    elif origin in (typing.Union, _types.UnionType):
        spec = go_type(_unwrap_optional(tp)[0])  # pointers are transparent
    elif tp in _SIMPLE:
        spec = _intern(_SIMPLE[tp])
    elif origin is list and args:
        spec = _intern("slice", elem=go_type(args[0]))
    elif origin is tuple and args[-1:] == (...,) and len(args) == 2:  # tuple[T, ...]: any length
        spec = _intern("slice", elem=go_type(args[0]))
    elif origin is tuple and args and len(set(args)) == 1:  # tuple[T, T, T]: Go's [3]T
        spec = _intern("array", elem=go_type(args[0]), length=len(args))
    elif origin is dict and len(args) == 2:
        spec = _intern("map", key=go_type(args[0]), elem=go_type(args[1]))
    elif is_struct(tp):
        spec = _intern("struct", cls=tp)
    elif tp is Any or tp is object:
        raise GobError("gob: interface values are not supported; use a concrete type")
    else:
        raise GobError(f"gob: no gob type for {tp!r}")
    try:
        _BY_TYPE[tp] = spec
    except TypeError:
        pass
    return spec


def class_go_type(cls) -> GoType | None:
    """The Go type of every value of class ``cls``, when the class alone decides it (a scalar,
    a dataclass); None when it does not (a list, tuple or dict: their elements decide)."""
    if cls in _SIMPLE or dataclasses.is_dataclass(cls):
        return go_type(cls)
    return None


def infer_go_type(value) -> GoType:
    """The Go type for a plain value when no annotation was given."""
    t = type(value)
    spec = _BY_TYPE.get(t)
    if spec is not None:
        return spec
    if t in _SIMPLE or dataclasses.is_dataclass(value):
        return go_type(t)
    if isinstance(value, (list, tuple)):
        return _intern("slice", elem=_one_type(value, "list"))
    if isinstance(value, dict):
        return _intern("map", key=_one_type(value.keys(), "dict key"),
                       elem=_one_type(value.values(), "dict value"))
    if isinstance(value, int) and not isinstance(value, bool):  # e.g. an IntEnum
        return go_type(int)
    raise GobError(f"gob: cannot encode a value of type {t.__name__}")


def _one_type(values, what) -> GoType:
    specs = {infer_go_type(v) for v in values}
    if len(specs) != 1:
        raise GobError(f"gob: cannot infer the {what} type from {'no' if not specs else 'mixed'} "
                       "elements; pass type=")
    return specs.pop()


# ---------------------------------------------------------------- values that do not fit their type


class Mismatch(GobError):
    """A value or wire type that does not fit; ``path`` says where (filled in on the way up)."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail
        self.path: list[str] = []

    def where(self, top: str) -> str:
        return top + "".join(p if p.startswith("[") else "." + p for p in self.path)


# ---------------------------------------------------------------- the wire's own description of types


@dataclasses.dataclass
class WireType:
    """A type definition as sent on the wire (Go's ``wireType``), flattened."""

    kind: str  # "struct", "slice", "array", "map", "gobencoder", "binary", "text"
    name: str = ""
    id: int = 0
    fields: tuple = ()  # ((name, type id), ...) for structs
    elem: int = 0  # slices, arrays, maps
    key: int = 0  # maps
    len: int = 0  # arrays

    def describe(self, known: dict | None = None) -> str:
        """Go-like text, e.g. ``struct Point {X int; Y int}``; ``known`` names other ids."""
        def name(i):
            other = (known or {}).get(i)
            return BUILTIN_NAMES.get(i) or (other and (other.name or other.describe(known))) or f"type{i}"
        if self.kind == "struct":
            return f"struct {self.name} {{{'; '.join(f'{n} {name(i)}' for n, i in self.fields)}}}"
        if self.kind == "map":
            return f"map[{name(self.key)}]{name(self.elem)}"
        if self.kind in ("slice", "array"):
            return f"[{self.len if self.kind == 'array' else ''}]{name(self.elem)}"
        return f"{self.kind} {self.name}"


# A definition is itself a gob value: a wireType struct with exactly one field set,
# saying which kind of type it defines.  wireType's own field names, in order:
WIRE_FIELDS = ("ArrayT", "SliceT", "StructT", "MapT", "GobEncoderT", "BinaryMarshalerT", "TextMarshalerT")
WIRE_KINDS = ("array", "slice", "struct", "map", "gobencoder", "binary", "text")
# The types that describe types are never sent: every decoder knows them (the bootstrap).
BOOTSTRAP = {
    WIRE_TYPE: WireType("struct", "wireType", WIRE_TYPE, tuple(zip(WIRE_FIELDS, (17, 19, 20, 23, 24, 24, 24)))),
    ARRAY_TYPE: WireType("struct", "arrayType", ARRAY_TYPE, (("CommonType", 18), ("Elem", INT), ("Len", INT))),
    COMMON_TYPE: WireType("struct", "CommonType", COMMON_TYPE, (("Name", STRING), ("Id", INT))),
    SLICE_TYPE: WireType("struct", "sliceType", SLICE_TYPE, (("CommonType", 18), ("Elem", INT))),
    STRUCT_TYPE: WireType("struct", "structType", STRUCT_TYPE, (("CommonType", 18), ("Field", 22))),
    FIELD_TYPE: WireType("struct", "fieldType", FIELD_TYPE, (("Name", STRING), ("Id", INT))),
    FIELD_SLICE: WireType("slice", "", FIELD_SLICE, elem=21),
    MAP_TYPE: WireType("struct", "mapType", MAP_TYPE, (("CommonType", 18), ("Key", INT), ("Elem", INT))),
    GOB_ENCODER_TYPE: WireType("struct", "gobEncoderType", GOB_ENCODER_TYPE, (("CommonType", 18),)),
}


def wire_type_from_plain(tid: int, w: dict) -> WireType:
    """Turn a decoded ``wireType`` struct (as a dict) into a WireType."""
    present = [k for k in WIRE_FIELDS if k in w]
    if len(present) != 1:
        raise GobError(f"gob: type definition {tid} must describe exactly one kind of type")
    body = w[present[0]]
    fields = tuple((f.get("Name", ""), f.get("Id", 0)) for f in body.get("Field", ()))
    if any(not name for name, _ in fields):
        raise GobError(f"gob: empty field name in type definition {tid}")
    return WireType(WIRE_KINDS[WIRE_FIELDS.index(present[0])], body.get("CommonType", {}).get("Name", ""), tid,
                    fields, body.get("Elem", 0), body.get("Key", 0), body.get("Len", 0))
