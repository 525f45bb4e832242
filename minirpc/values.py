"""Value types: what a Python annotation means on the wire (Go's reflect, in Python).

In Go a method's argument has a static type, and the codec decodes the wire
into it; Go's encoders learn the type from package ``reflect``.  In Python the
method says its type with an annotation::

    def Multiply(self, args: Args) -> int

and this module is where minirpc reads annotations.  The value types are Go's,
in Python spelling:

    Go                  Python
    bool                bool
    int (int64)         int;   Uint (uint64), Uint32, Int32 for the others
    float64             float; Float32
    string              str
    []byte              bytes  (JSON carries it as base64 text, as Go does)
    []T                 list[T]
    [N]T                tuple[T, T, ...] with N items (tuple[T, ...] is a slice)
    map[K]V             dict[K, V]   (JSON object keys are text; K decides)
    struct              a @dataclass
    *T                  Optional[T]  (None is nil)
    interface{}         typing.Any  (JSON only: no checking at all)

``Uint`` and friends are ``Annotated[int, GoKind("uint64")]``: still a plain
``int`` to Python, but range-checked on the wire like Go's type.

Every format and the registry read annotations through this module:

* ``is_value_type(tp)`` says why a type cannot travel (or ``None``: it can);
* ``field_types(cls)`` gives a dataclass's resolved field annotations;
* ``zero_value(tp)`` is Go's zero value;
* ``from_plain(value, tp)`` checks a plain JSON value against a type and
  builds it, with Go's ``encoding/json`` rules: a dict becomes the dataclass,
  a key matches a field that differs only in case (``"a"`` fills ``A``),
  unknown keys are ignored, missing fields keep their defaults, ``_private``
  fields are never on the wire (Go's unexported fields), ``null`` is the zero
  value, and a mismatch raises ``ValueError`` naming the path
  (``args.B: expected int, got str``);
* ``to_plain(value)`` turns dataclasses back into dicts.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import sys
import types
import typing
from typing import Annotated, Any, Callable

_NONE = type(None)


# ---------------------------------------------------------------- Go's number types


@dataclasses.dataclass(frozen=True)
class GoKind:
    """Marks a Python int/float as a specific Go number type: ``Annotated[int, GoKind("uint64")]``."""

    name: str


Uint = Annotated[int, GoKind("uint64")]
Uint32 = Annotated[int, GoKind("uint32")]
Int32 = Annotated[int, GoKind("int32")]
Float32 = Annotated[float, GoKind("float32")]

#: Go number type -> (Python type, the range [lo, hi) an int must lie in)
GO_NUMBERS = {"int": (int, -(1 << 63), 1 << 63), "int64": (int, -(1 << 63), 1 << 63),
              "int32": (int, -(1 << 31), 1 << 31), "uint": (int, 0, 1 << 64), "uint64": (int, 0, 1 << 64),
              "uint32": (int, 0, 1 << 32), "float64": (float, 0, 0), "float32": (float, 0, 0)}
FLOAT32_MAX = 3.4028234663852886e38


def go_number(tp: Any) -> str | None:
    """The Go number type an annotation stands for: ``int`` -> "int", ``Uint`` -> "uint64"."""
    kinds = [m for m in getattr(tp, "__metadata__", ()) if isinstance(m, GoKind)]
    if kinds:
        return kinds[0].name
    tp = strip_annotated(tp)
    return "int" if tp is int else "float64" if tp is float else None


class LongNumber:
    """A JSON number with more digits than Python converts (``sys.int_info``'s
    limit): kept as text, so the value that holds it can be refused politely."""

    def __init__(self, digits: str):
        self.digits = digits

    def __repr__(self) -> str:
        return f"LongNumber({self.digits[:12]}... {len(self.digits)} digits)"


# ---------------------------------------------------------------- reading annotations


def strip_annotated(tp: Any) -> Any:
    """``Annotated[int, ...]`` -> ``int``."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def type_name(tp: Any) -> str:
    """A short readable name: ``Args``, ``list[int]``, ``Optional[str]``, ``Uint``."""
    number = go_number(tp)
    tp = strip_annotated(tp)
    if number not in (None, "int", "float64"):
        return {"uint64": "Uint", "uint32": "Uint32", "int32": "Int32", "float32": "Float32"}[number]
    if tp is _NONE:
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def go_name(f: dataclasses.Field) -> str:
    """A field's name on the wire: Go's name for it when ``metadata={"go": ...}`` gives one
    (``service_method: str = field(metadata={"go": "ServiceMethod"})``), else its own."""
    return f.metadata.get("go", f.name)


def is_struct(tp: Any) -> bool:
    """Is ``tp`` a dataclass type (a Go struct)?"""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def is_value_type(tp: Any) -> str | None:
    """Return ``None`` if ``tp`` is a type minirpc can carry, else why not."""
    tp = strip_annotated(tp)
    if tp is Any or tp in (bool, int, float, str, bytes, _NONE):
        return None
    if is_struct(tp):
        hints = field_types(tp)
        for f in dataclasses.fields(tp):
            why = is_value_type(hints[f.name])
            if why:
                return f"field {tp.__name__}.{f.name}: {why}"
        return None
    origin, params = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and len(params) == 1:
        return is_value_type(params[0])
    if origin is tuple and params:  # tuple[T, ...] is a slice, tuple[T, T, T] a Go array [3]T
        if len(set(p for p in params if p is not Ellipsis)) != 1:
            return f"{type_name(tp)} is not a value type (a tuple stands for a Go array: one element type)"
        return is_value_type(params[0])
    if origin is dict and len(params) == 2:
        return is_value_type(params[0]) or is_value_type(params[1])
    if origin in (typing.Union, types.UnionType):
        return next(filter(None, map(is_value_type, params)), None)
    return f"{type_name(tp)} is not a value type (use bool, int, float, str, bytes, list[T], dict[K, V] or a dataclass)"


_HINTS: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's field annotations, resolved (strings evaluated) and cached."""
    hints = _HINTS.get(cls)
    if hints is None:
        namespace = {**vars(sys.modules.get(cls.__module__, typing)), cls.__name__: cls}
        hints = typing.get_type_hints(cls, include_extras=True)
        hints = _HINTS[cls] = {name: _resolve(tp, namespace) for name, tp in hints.items()}
    return hints


def _resolve(tp: Any, namespace: dict) -> Any:
    """Evaluate forward references left inside ``list["Node"]`` (Python 3.10 leaves them)."""
    if isinstance(tp, (str, typing.ForwardRef)):  # an annotation the class's own module wrote
        return eval(getattr(tp, "__forward_arg__", tp), namespace)
    args = typing.get_args(tp)
    if not args or not any(isinstance(a, (str, typing.ForwardRef)) or typing.get_args(a) for a in args):
        return tp
    origin = typing.get_origin(tp)
    resolved = tuple(_resolve(a, namespace) for a in args)
    if origin is Annotated:
        return Annotated[(resolved[0], *tp.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[resolved]
    return origin[resolved]


def zero_value(tp: Any) -> Any:
    """Go's zero value for a type: 0, "", b"", [], {}, a zeroed dataclass, None."""
    tp = strip_annotated(tp)
    if tp in (bool, int, float, str, bytes):
        return tp()
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        return origin()
    if origin is tuple:  # a Go array's zero value is all zeros; tuple[T, ...] is an empty slice
        params = typing.get_args(tp)
        return () if params[-1] is Ellipsis else tuple(zero_value(p) for p in params)
    if is_struct(tp):
        hints = field_types(tp)
        return tp(**{f.name: zero_value(hints[f.name]) for f in dataclasses.fields(tp) if f.init})
    return None


def to_plain(value: Any) -> Any:
    """Dataclasses become dicts (recursively); everything else is left as is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {go_name(f): to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- plain values -> typed values


def from_plain(value: Any, tp: Any, where: str = "value") -> Any:
    """Check ``value`` against ``tp`` and build it; ``ValueError`` names ``where``."""
    try:
        return (_CONVERTERS.get(tp) or converter(tp))(value)
    except _Mismatch as e:
        raise ValueError(f"{where}{''.join(reversed(e.path))}: {e.detail}") from None
    except RecursionError:
        raise ValueError(f"{where}: nested too deeply") from None


class _Mismatch(Exception):
    """A value that does not fit; each enclosing converter adds its path step."""

    def __init__(self, detail: str):
        self.detail, self.path = detail, []


def _wrong(tp: Any, value: Any) -> _Mismatch:
    if isinstance(value, LongNumber):
        return _Mismatch(f"number with {len(value.digits)} digits does not fit {type_name(tp)}")
    return _Mismatch(f"expected {type_name(tp)}, got {type(value).__name__}")


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {}


def converter(tp: Any) -> Callable[[Any], Any]:
    """The function that checks and builds values of ``tp``, made once per type.

    A request is converted on every call, so the decisions that depend only on
    the type (which kind is it? which fields?) are taken here, once.
    """
    conv = _CONVERTERS.get(tp)
    if conv is None:
        conv = _CONVERTERS[tp] = _make_converter(tp)
    return conv


def _make_converter(annotated: Any) -> Callable[[Any], Any]:
    tp, number = strip_annotated(annotated), go_number(annotated)
    if tp is Any or tp is None:
        return lambda value: value
    if tp is _NONE:  # "no reply": nil, or Go's empty struct{} placeholder
        def none(value):
            if value is None or value == {}:
                return None
            raise _wrong(tp, value)
        return none
    origin, params = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return _union_converter(tp, params)
    if tp in (bool, str):  # exact: True is not an int here, 1 is not a bool
        def exact(value):
            if type(value) is tp:
                return value
            if value is None:
                return tp()
            raise _wrong(tp, value)
        return exact
    if tp is int:
        _, lo, hi = GO_NUMBERS[number]

        def integer(value):
            if type(value) is not int:
                if type(value) is float and value.is_integer():  # JSON writers may say 15.0
                    value = int(value)
                elif value is None:
                    return 0
                else:
                    raise _wrong(annotated, value)
            if lo <= value < hi:
                return value
            raise _Mismatch(f"{value} out of range for {number}")
        return integer
    if tp is float:
        limit = FLOAT32_MAX if number == "float32" else sys.float_info.max

        def real(value):
            if type(value) not in (float, int):
                if value is None:
                    return 0.0
                raise _wrong(annotated, value)
            value = float(value)
            if abs(value) > limit:  # JSON has no infinity: this number was too big to hold
                raise _Mismatch(f"number out of range for {number}")
            return value
        return real
    if tp is bytes:
        def binary(value):
            if isinstance(value, (bytes, bytearray)):
                return bytes(value)
            if isinstance(value, str):  # JSON carries []byte as base64, like Go
                try:
                    return base64.b64decode(value, validate=True)
                except ValueError:
                    raise _Mismatch("expected base64 text for bytes") from None
            if value is None:
                return b""
            raise _wrong(tp, value)
        return binary
    if is_struct(tp):
        return _dataclass_converter(tp)
    if origin is list:
        def sequence(value, elem=params[0]):
            if type(value) is not list:
                if value is None:
                    return []
                raise _wrong(tp, value)
            convert, out = converter(elem), []  # looked up here: a type may contain itself
            try:
                for item in value:
                    out.append(convert(item))
            except _Mismatch as e:
                e.path.append(f"[{len(out)}]")
                raise
            return out
        return sequence
    if origin is tuple:
        length = None if params[-1] is Ellipsis else len(params)

        def array(value, items=converter(list[params[0]])):
            if value is None:
                return zero_value(tp)
            if length is not None and type(value) is list and len(value) != length:
                raise _Mismatch(f"expected {length} elements for {type_name(tp)}, got {len(value)}")
            return tuple(items(value))
        return array
    if origin is dict:
        key_type = strip_annotated(params[0])

        def mapping(value, value_type=params[1]):
            if type(value) is not dict:
                if value is None:
                    return {}
                raise _wrong(tp, value)
            convert_key, convert = converter(params[0]), converter(value_type)
            out = {}
            for key, item in value.items():
                try:
                    if type(key) is str and key_type in (int, float):  # JSON keys are text: "7" for 7
                        key = _parse_key(key, key_type)
                    out[convert_key(key)] = convert(item)
                except _Mismatch as e:
                    e.path.append(f"[{key!r}]")
                    raise
            return out
        return mapping
    raise ValueError(f"{type_name(tp)} is not a value type")


def _parse_key(key: str, key_type: type) -> Any:
    try:
        value = key_type(key)
    except ValueError:
        raise _Mismatch(f"map key {key!r} is not a {key_type.__name__}") from None
    if key_type is float and math.isinf(value):
        raise _Mismatch(f"map key {key!r} is out of range for float64")
    return value


def _union_converter(tp: Any, params: tuple) -> Callable[[Any], Any]:
    members = [p for p in params if p is not _NONE]

    def union(value):
        if value is None and len(members) < len(params):
            return None
        errors = []
        for member in members:
            try:
                return converter(member)(value)
            except _Mismatch as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else _wrong(tp, value)
    return union


def _fields(cls: type) -> dict[str, tuple[str, Any]]:
    """Wire name -> (attribute, type) for the fields ``__init__`` takes (``_private`` ones are
    not on the wire, as Go's unexported fields are not)."""
    hints = field_types(cls)
    return {go_name(f): (f.name, hints[f.name]) for f in dataclasses.fields(cls)
            if f.init and not f.name.startswith("_")}


def _dataclass_converter(cls: type) -> Callable[[Any], Any]:
    fields: dict[str, tuple[str, Callable]] = {}  # wire name -> (attribute, its converter)
    folded: dict[str, str] = {}  # lower-case wire name -> wire name
    # (filled on first use: a class may contain itself, and its converter must exist first)

    def build(value):
        if type(value) is not dict:
            if isinstance(value, cls):
                return value
            if value is None:
                return zero_value(cls)
            raise _Mismatch(f"expected an object for type {cls.__name__}, got {type(value).__name__}")
        if not fields and not folded:
            for wire, (attr, tp) in _fields(cls).items():
                fields[wire] = (attr, converter(tp))
                folded[wire.lower()] = wire
        kwargs = {}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                wire = folded.get(str(key).lower())
                if wire is None:
                    continue  # unknown keys are ignored, like Go
                field = fields[wire]
            try:
                kwargs[field[0]] = field[1](item)
            except _Mismatch as e:
                e.path.append(f".{field[0]}")
                raise
        try:
            return cls(**kwargs)
        except TypeError as e:  # a field without a default was missing
            raise _Mismatch(f"cannot build {cls.__name__}: {e}") from None
    return build
