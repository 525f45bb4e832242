"""Plain values <-> typed values: how minirpc translates Go's static types.

In Go a method's argument has a static type, and the codec decodes the wire
into it.  In Python the method says its type with an annotation::

    def Multiply(self, args: Args) -> int

A format such as JSON only knows plain values (dict, list, str, int, ...), so
two small functions sit between the codec and the method:

* ``from_plain(value, Args)`` checks a plain value against a type and builds
  it: a dict becomes the ``Args`` dataclass, ``list[int]`` checks each item,
  and a mismatch raises ``ValueError`` naming the path: ``args.B: expected
  int, got str``.
* ``to_plain(value)`` turns dataclasses back into dicts for the encoder.

The value types are Go's, in Python spelling:

    Go                  Python
    bool                bool
    int, int64, uint..  int
    float64             float
    string              str
    []byte              bytes  (JSON carries it as base64 text, as Go does)
    []T                 list[T]
    map[K]V             dict[K, V]   (JSON object keys are text; K decides)
    struct              a @dataclass
    *T                  Optional[T]  (None is nil)
    interface{}         typing.Any  (no checking at all)

``Annotated[T, ...]`` counts as ``T`` (the gob codec uses it to say "uint").
Like Go's encoding/json, a dataclass field also matches a key that differs
only in case (``"a"`` fills field ``A``); unknown keys are ignored, missing
fields keep their defaults, and ``null`` means the zero value (Go writes
``null`` for a nil slice or map).
"""

from __future__ import annotations

import base64
import dataclasses
import sys
import types
import typing
from typing import Any, Callable

_NONE = type(None)


def is_value_type(tp: Any) -> str | None:
    """Return ``None`` if ``tp`` is a type minirpc can carry, else why not."""
    tp = strip_annotated(tp)
    if tp is Any or tp in (bool, int, float, str, bytes, _NONE):
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        for f in dataclasses.fields(tp):
            why = is_value_type(_field_types(tp)[f.name])
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
        for p in params:
            why = is_value_type(p)
            if why:
                return why
        return None
    return f"{type_name(tp)} is not a value type (use bool, int, float, str, bytes, list[T], dict[K, V] or a dataclass)"


def strip_annotated(tp: Any) -> Any:
    """``Annotated[int, "uint"]`` -> ``int``."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def type_name(tp: Any) -> str:
    """A short readable name: ``Args``, ``list[int]``, ``Optional[str]``."""
    tp = strip_annotated(tp)
    if tp is _NONE:
        return "None"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return repr(tp).replace("typing.", "")


def to_plain(value: Any) -> Any:
    """Dataclasses become dicts (recursively); everything else is left as is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def from_plain(value: Any, tp: Any, where: str = "value") -> Any:
    """Check ``value`` against ``tp`` and build it; ``ValueError`` names ``where``."""
    try:
        return converter(tp)(value)
    except _Mismatch as e:
        raise ValueError(f"{where}{''.join(reversed(e.path))}: {e.detail}") from None


class _Mismatch(Exception):
    """A value that does not fit; each enclosing converter adds its path step."""

    def __init__(self, detail: str):
        self.detail, self.path = detail, []


def _wrong(tp: Any, value: Any) -> _Mismatch:
    return _Mismatch(f"expected {type_name(tp)}, got {type(value).__name__}")


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {}


def converter(tp: Any) -> Callable[[Any], Any]:
    """The function that checks and builds values of ``tp``, made once per type.

    A request is converted on every call, so the decisions that depend only on
    the type (which kind is it? which fields?) are taken here, once.
    """
    conv = _CONVERTERS.get(tp)
    if conv is None:
        conv = _CONVERTERS[tp] = _make_converter(strip_annotated(tp))
    return conv


def _make_converter(tp: Any) -> Callable[[Any], Any]:
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
        def integer(value):
            if type(value) is int:
                return value
            if type(value) is float and value.is_integer():  # JSON writers may say 15.0
                return int(value)
            if value is None:
                return 0
            raise _wrong(tp, value)
        return integer
    if tp is float:
        def real(value):
            if type(value) in (float, int):
                return float(value)
            if value is None:
                return 0.0
            raise _wrong(tp, value)
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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
            convert_key, convert = converter(key_type), converter(value_type)
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
        return key_type(key)
    except ValueError:
        raise _Mismatch(f"map key {key!r} is not a {key_type.__name__}") from None


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


def _dataclass_converter(cls: type) -> Callable[[Any], Any]:
    def build(value):
        if type(value) is not dict:
            if isinstance(value, cls):
                return value
            if value is None:
                return zero_value(cls)
            raise _Mismatch(f"expected an object for type {cls.__name__}, got {type(value).__name__}")
        types_, folded = _fields(cls)
        kwargs = {}
        for key, item in value.items():
            name = key if key in types_ else folded.get(str(key).lower())
            if name is not None:  # unknown keys are ignored, like Go
                try:
                    kwargs[name] = converter(types_[name])(item)
                except _Mismatch as e:
                    e.path.append(f".{name}")
                    raise
        try:
            return cls(**kwargs)
        except TypeError as e:  # a field without a default was missing
            raise _Mismatch(f"cannot build {cls.__name__}: {e}") from None
    return build


_HINTS: dict[type, dict[str, Any]] = {}
_FIELDS: dict[type, tuple[dict[str, Any], dict[str, str]]] = {}


def _fields(cls: type) -> tuple[dict[str, Any], dict[str, str]]:
    """(init field name -> type, lower-case name -> name), cached per class."""
    fields = _FIELDS.get(cls)
    if fields is None:
        hints = _field_types(cls)
        types_ = {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}
        fields = _FIELDS[cls] = (types_, {n.lower(): n for n in types_})
    return fields


def field_types(cls: type) -> dict[str, Any]:
    """Resolved field annotations of a dataclass (cached; strings evaluated)."""
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
    if origin is typing.Annotated:
        return typing.Annotated[(resolved[0], *tp.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[resolved]
    return origin[resolved]


_field_types = field_types


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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _field_types(tp)
        return tp(**{f.name: zero_value(hints[f.name]) for f in dataclasses.fields(tp) if f.init})
    return None
