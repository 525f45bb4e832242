"""JSON-RPC 1.0 as Go's ``net/rpc/jsonrpc`` speaks it: a sans-IO format.

Every message is one JSON object; Go writes each followed by a newline::

    -> {"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}
    <- {"id":0,"result":56,"error":null}
    <- {"id":1,"result":null,"error":"divide by zero"}

Framing.  Go reads with ``json.Decoder``: a *stream* of JSON values, with
any whitespace between them -- or none.  The newline is only what Go's
encoder happens to write, so a reader must never wait for it: two messages
may share one read, and one message may arrive in pieces.  ``_Values`` below
finds where each value ends.

The rules of the messages, as Go has them:

* ``params`` is an array whose element 0 is the argument (extra elements are
  ignored; ``[]`` and ``[null]`` mean the zero argument); no params is an
  error, ``jsonrpc: request body missing params``.
* The server echoes the request's ``id`` exactly (any JSON value, ``null``
  when missing) and uses its own sequence numbers inside; the client sends
  its sequence number.
* An error reply carries ``"result":null``; a success ``"error":null``.  A
  reply with neither is refused: ``invalid error <nil>``.
* Keys match case-insensitively (``"METHOD"`` works), like Go's decoder.
* Encoding is Go's: compact, struct fields in order, map keys sorted, floats
  printed the way Go prints them (``100``, ``1e+21``, ``-0``), ``[]byte`` as
  base64, and ``<``, ``>``, ``&`` escaped as ``\\u003c`` etc.  What a type
  needs is decided once per type (``encoder_for``), as decoding does.

The typed half (a JSON object into an ``Args`` dataclass) is
``minirpc.values.from_plain``.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import decimal
import json
import math
import re
import sys
import types
import typing
from typing import Any

from . import values
from .errors import BodyError, ProtocolError, TruncatedMessage
from .format import DEFAULT_MAX_MESSAGE, NEED_DATA, Message, Request, Response, WireFormat

__all__ = ["ServerFormat", "ClientFormat", "FORMAT", "MAX_DEPTH", "encode_value", "encoder_for"]

MAX_DEPTH = 512  # how deeply a message's arrays and objects may nest

# ---------------------------------------------------------------- framing: a stream of JSON values

_SPACE = re.compile(rb"[ \t\r\n]*")
# What the end-of-value scanner must see: outside strings brackets and quotes, inside them
# the closing quote; and escapes, whose next byte is never either (\" is not a quote).
_OUTSIDE, _IN_STRING = re.compile(rb'[][{}"\\]'), re.compile(rb'["\\]')
_OPEN, _QUOTE, _BACKSLASH, _OPEN_BRACE = frozenset(b"{["), ord('"'), ord("\\"), ord("{")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; Go does not


_MAX_DIGITS = getattr(sys, "get_int_max_str_digits", lambda: 0)()  # Python's own limit (0: none)


def _parse_int(digits: str) -> Any:
    if digits == "-0":
        return -0.0  # Go keeps the sign of -0 (a float64 for an interface{})
    if _MAX_DIGITS and len(digits.lstrip("-")) > _MAX_DIGITS:
        return values.LongNumber(digits)
    return int(digits)


_decode = json.JSONDecoder(parse_constant=_refuse_constant).raw_decode
_decode_carefully = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_parse_int).raw_decode


def _parse(text: str, start: int = 0) -> tuple[Any, int]:
    """One JSON value at ``start`` -> (value, end).  Raises ValueError (or RecursionError)."""
    try:
        value, end = _decode(text, start)
    except json.JSONDecodeError:
        raise
    except ValueError:  # more digits than Python converts: read them as text instead
        return _decode_carefully(text, start)
    if text.find("-0", start, end) >= 0:  # Python reads -0 as the integer 0
        return _decode_carefully(text, start)
    return value, end


class _Values:
    """Reads JSON values off a stream of bytes (Go's ``json.Decoder`` framing).

    The usual case is one whole value per read: Python's C parser reads it
    from the start and says where it ended.  When that fails -- the value is
    incomplete, invalid, or not ASCII -- a small scanner follows brackets and
    strings to find the end, carrying on from where it stopped when more
    bytes come, so each byte is scanned once.
    """

    def __init__(self, max_message: int, name: str):
        self.max_message, self.name = max_message, name
        self._buffer: bytes | bytearray = b""  # bytes received; those before _pos are taken
        self._pos = 0
        self._text: str | None = None  # the buffer as text, when it is ASCII
        self._scan: tuple[int, int, bool] | None = None  # (resume at, depth, in a string)
        self._eof = False
        self.values_read = 0

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        if self._pos == len(self._buffer):  # all was taken (the usual case): the bytes read are
            self._buffer = bytes(data)       # the buffer, not copied (bytes(b) is b)
        else:  # a value in pieces: append (to a bytearray, so that appending is cheap)
            if type(self._buffer) is bytes:
                self._buffer = bytearray(self._buffer)
            if self._pos:  # drop what was taken; the scan's positions move with the rest
                del self._buffer[:self._pos]
                if self._scan is not None:
                    self._scan = (self._scan[0] - self._pos, *self._scan[1:])
            self._buffer += data
        self._pos = 0
        self._text = None

    def next_value(self) -> Any:
        """(value, its bytes) or NEED_DATA; EOFError/TruncatedMessage at the end."""
        buffer, start = self._buffer, self._pos
        if start < len(buffer) and buffer[start] != _OPEN_BRACE:  # whitespace first? skip it
            start = _SPACE.match(buffer, start).end()
        if start == len(buffer):
            self._pos = start
            if self._eof:
                raise EOFError()
            return NEED_DATA
        if buffer[start] != _OPEN_BRACE:  # a request or a response must be an object: fail at once
            raise self._not_an_object(bytes(buffer[start:start + 40]))
        end, value = self._find_end(buffer, start)
        if end < 0:
            if len(buffer) - start > self.max_message:
                raise ProtocolError(f"{self.name}: message larger than {self.max_message} bytes")
            if self._eof:
                raise TruncatedMessage("unexpected EOF")
            self._pos = start
            return NEED_DATA
        if end - start > self.max_message:
            raise ProtocolError(f"{self.name}: message larger than {self.max_message} bytes")
        if buffer[end:end + 1] == b"\n":  # the newline Go's encoder writes after each value
            end += 1
        self._pos = end
        self.values_read += 1
        return value, bytes(buffer[start:end])  # (the buffer itself, when it is bytes and all of it)

    def _find_end(self, buffer: bytes, start: int) -> tuple[int, Any]:
        """(where the object at ``start`` ends, its value), or (-1, None) while incomplete."""
        if self._scan is None:  # the fast way first
            text = self._text
            if text is None and buffer.isascii():
                text = self._text = buffer.decode("ascii")
            if text is not None:
                try:
                    value, end = _parse(text, start)
                except (ValueError, RecursionError):
                    pass  # incomplete, invalid or too deep: the scanner will tell which
                else:  # too deep? that needs more than MAX_DEPTH brackets: count them, then measure
                    if end - start > MAX_DEPTH and \
                            text.count("{", start, end) + text.count("[", start, end) > MAX_DEPTH:
                        self._scan_for_end(buffer, start)
                    return end, value
        end = self._scan_for_end(buffer, start)
        if end < 0:
            return -1, None
        try:
            return end, _parse(buffer[start:end].decode("utf-8", "replace"))[0]
        except (ValueError, RecursionError) as e:
            raise ProtocolError(f"{self.name}: invalid JSON: {e}") from None

    def _scan_for_end(self, buffer: bytes, start: int) -> int:
        """Where the value at ``start`` ends, or -1 (and where to go on from, kept in ``_scan``).

        Each search jumps to the next byte that matters -- inside a string only its end or
        an escape, outside it brackets and quotes -- so a long string costs one search, and
        no byte is looked at twice however many pieces the value comes in."""
        pos, depth, in_string = self._scan or (start, 0, False)
        size = len(buffer)
        while True:
            found = (_IN_STRING if in_string else _OUTSIDE).search(buffer, pos)
            if found is None:
                pos = size
                break
            at = found.start()
            char = buffer[at]
            if char == _BACKSLASH:  # an escape: the byte after it is not a quote or a bracket
                if at + 1 == size:
                    pos = at  # that byte has not come yet: look at the backslash again then
                    break
                pos = at + 2
                continue
            pos = at + 1
            if in_string:  # (the string's closing quote)
                in_string = False
            elif char == _QUOTE:
                in_string = True
            elif char in _OPEN:
                depth += 1
                if depth > MAX_DEPTH:
                    raise ProtocolError(f"{self.name}: nesting deeper than {MAX_DEPTH}")
            else:
                depth -= 1
                if depth == 0:
                    self._scan = None
                    return pos
        self._scan = (pos, depth, in_string)
        return -1

    def _not_an_object(self, head: bytes) -> ProtocolError:
        if head.startswith(b"HTTP/") and not self.values_read:
            line = head.split(b"\n")[0].strip().decode("latin-1")
            return ProtocolError(f"{self.name}: the peer answered in HTTP ({line!r}): "
                                 "is it an HTTP server? Dial it through the tunnel (dial_http)")
        return ProtocolError(f"{self.name}: invalid message: expected a JSON object, got {head!r}")


def _get(message: dict, names: tuple[str, str, str], exact: frozenset) -> tuple:
    """The values of the three ``names`` in a decoded object, matching keys as Go does:
    exactly, or else ignoring case (a later key wins)."""
    a, b, c = names
    if message.keys() <= exact:  # the usual case: every key is one of the names, exactly
        return message.get(a), message.get(b), message.get(c)
    found = [message.get(a), message.get(b), message.get(c)]
    for key, value in message.items():
        folded = key.lower()
        if folded in exact and (key == folded or key not in exact):
            found[names.index(folded)] = value
    return tuple(found)


_REQUEST_KEYS, _RESPONSE_KEYS = ("method", "params", "id"), ("id", "result", "error")
_EXACT_REQUEST_KEYS, _EXACT_RESPONSE_KEYS = frozenset(_REQUEST_KEYS), frozenset(_RESPONSE_KEYS)


# ---------------------------------------------------------------- encoding, as Go's json.Encoder does


def go_float(f: float) -> str:
    """A float64 as Go's encoding/json prints it: shortest digits, ``e`` notation
    only below 1e-6 or from 1e21, no ``.0``, ``-0`` for negative zero."""
    if not math.isfinite(f):
        raise ValueError(f"json: unsupported value: {'NaN' if f != f else '+Inf' if f > 0 else '-Inf'}")
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    text = repr(f)
    if 1e-6 <= abs(f) < 1e21:
        if "e" in text:
            return format(decimal.Decimal(text), "f")
        return text[:-2] if text.endswith(".0") else text
    return text.replace("e-0", "e-")  # both write 1e-07; Go then cleans it up to 1e-7


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
               "\\b": "\\u0008", "\\f": "\\u000c"}
_MAY_NEED_ESCAPE = re.compile("[<>&\\\\\u2028\u2029]")  # one character class: a fast first look
_ESCAPES = re.compile("\\\\\\\\|\\\\[bf]|[<>&\u2028\u2029]")  # \\ is matched whole, so \\b is not \b


def _go_escapes(text: str) -> str:
    if _MAY_NEED_ESCAPE.search(text):
        text = _ESCAPES.sub(lambda m: _GO_ESCAPES.get(m.group(), m.group()), text)
    return text


def _default(value: Any) -> Any:
    """What the C encoder asks about: structs and []byte."""
    as_dict = _AS_DICT.get(type(value))
    if as_dict is not None:
        return as_dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _as_dict(type(value))(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


_AS_DICT: dict[type, Any] = {}  # struct class -> its function "value -> {wire name: field value}"


def _as_dict(cls: type) -> Any:
    """Make (once per class) a function that turns a struct into the dict Go would print:
    for ``Args``, ``lambda v: {"A": v.A, "B": v.B}``."""
    body = ", ".join(f"{wire!r}: v.{attr}" for attr, wire in _field_names(cls))
    _AS_DICT[cls] = as_dict = eval(f"lambda v: {{{body}}}")  # (attrs are identifiers: dataclass fields)
    return as_dict


_FIELD_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


def _field_names(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, name on the wire) of a dataclass's fields, in order (cached)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple((f.name, values.go_name(f)) for f in dataclasses.fields(cls)
                                          if not f.name.startswith("_"))  # Go sends no unexported field
    return names


def _make_c_encode():
    """Python's C encoder, made once (``JSONEncoder.encode`` makes a new one on every call)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default).encode
    encoder = make(None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda value: "".join(encoder(value, 0))


_c_encode = _make_c_encode()  # compact, UTF-8 kept, NaN refused; then _go_escapes
_string = json.encoder.encode_basestring  # "text" with Python's escapes, fixed up by _go_escapes


def _go_encode(value: Any, out: list) -> None:
    """The general encoder: everything Python's C encoder prints differently from Go."""
    if value is None or value is True or value is False or type(value) is int or type(value) is str:
        out.append(_c_encode(value))
    elif type(value) is float:
        out.append(go_float(value))
    elif isinstance(value, dict):  # Go sorts map keys (as text)
        items = sorted(((k if type(k) is str else _go_key(k)), v) for k, v in value.items())
        out.append("{")
        for i, (key, item) in enumerate(items):
            out.append("," + _string(key) + ":" if i else _string(key) + ":")
            _go_encode(item, out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _go_encode(item, out)
        out.append("]")
    elif isinstance(value, values.LongNumber):  # an id we could not read as a number: echo it as it came
        out.append(value.digits)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.append("{")
        for i, (attr, wire) in enumerate(_field_names(type(value))):
            out.append(',"' + wire + '":' if i else '"' + wire + '":')
            _go_encode(getattr(value, attr), out)
        out.append("}")
    else:
        out.append(_c_encode(value))  # ints of other types, bytes, and the errors for the rest


def _go_key(key: Any) -> str:
    if type(key) is float:
        return go_float(key)
    if isinstance(key, (bool, int, float, str)) and not isinstance(key, bool):
        return str(int(key)) if isinstance(key, int) else str(key)
    raise TypeError(f"json: unsupported map key type: {type(key).__name__}")


_PLAIN_TYPES = (type(None), bool, int, str, bytes)
_SIMPLE: dict[Any, bool] = {}  # class or annotation -> does the C encoder print it as Go does?


def _simple(value: Any) -> bool:
    """True when the C encoder prints ``value`` as Go would: no float, no map of two keys or
    more (Go sorts them), nothing unknown.  Structs are judged by their class, once."""
    cls = type(value)
    if cls in _PLAIN_TYPES:
        return True
    if cls is list or cls is tuple:
        return all(map(_simple, value))
    if cls is dict:
        return len(value) < 2 and all(map(_simple, value.values()))
    simple = _SIMPLE.get(cls)
    if simple is None:
        simple = _SIMPLE[cls] = values.is_struct(cls) and _simple_type(cls)
    return simple


def _simple_type(tp: Any, seen: frozenset = frozenset()) -> bool:
    """The same, judged from an annotation (cached)."""
    known = _SIMPLE.get(tp)
    if known is not None:
        return known
    bare = values.strip_annotated(tp)
    if bare in _PLAIN_TYPES or bare in seen:
        return True
    if values.is_struct(bare):
        simple = all(_simple_type(t, seen | {bare}) for t in values.field_types(bare).values())
    else:
        args = [a for a in typing.get_args(bare) if a is not Ellipsis]
        simple = typing.get_origin(bare) in (list, tuple, typing.Union, types.UnionType) and \
            all(_simple_type(a, seen) for a in args)
    try:
        _SIMPLE[tp] = simple
    except TypeError:
        pass  # an unhashable annotation
    return simple


def encode_value(value: Any) -> str:
    """One JSON value as Go's encoder writes it (no newline)."""
    return _go_escapes(_encode(value))


def _encode(value: Any) -> str:
    """Go's JSON for ``value``, before ``_go_escapes``: Python's C encoder when it prints
    the value as Go would (no floats or maps in it), else ``_go_encode``."""
    try:
        if _simple(value):
            return _c_encode(value)
        out: list[str] = []
        _go_encode(value, out)
        return "".join(out)
    except RecursionError:
        raise ValueError("json: value nested too deeply to encode") from None


# ---------------------------------------------------------------- encode plans: decided once per type
#
# The general path above asks about every value it writes: is it simple enough for the C
# encoder?  a float?  a struct?  But a server knows its reply's declared type, and a client's
# argument is nearly always a dataclass: the answers follow from the type, so encoder_for(tp)
# takes them once and keeps a *plan*, a function that just writes.  For Args it is, in effect,
#
#     lambda v: '{"A":' + plan_int(v.A) + ',"B":' + plan_int(v.B) + '}'
#
# Python does not enforce annotations (an int field may hold True, 2.5 or "x"), so each plan
# checks the type of every value it meets.  When one is not what the type promised, the plan
# gives up (_Unexpected) and encode_value writes the whole value: a plan writes exactly what
# encode_value would, only faster, and never has a rule of its own.  (What a plan accepts --
# exact bools, ints, floats, strings, None, lists, structs -- the general path writes the same
# way in C and in _go_encode; maps, bytes, Any and unions are left to it.)


class _Unexpected(Exception):
    """A value whose type is not the one its plan was made for."""


def _unplanned(value: Any) -> str:
    raise _Unexpected  # the plan of a type with no plan: Any, unions, maps, bytes, recursive types...


def _scalar(cls: type, write: Any) -> Any:
    """The plan for one plain type: ``write`` the value if it is exactly a ``cls``."""
    def plan(value: Any) -> str:
        if type(value) is not cls:  # a bool is not an int here, nor an IntEnum
            raise _Unexpected
        return write(value)
    return plan


_PLANS: dict[Any, Any] = {  # type -> its plan, value -> Go's JSON text (raises _Unexpected)
    type(None): _scalar(type(None), lambda _: "null"),
    bool: _scalar(bool, lambda value: "true" if value else "false"),
    int: _scalar(int, int.__repr__),  # what the C encoder writes for an int
    float: _scalar(float, go_float),
    str: _scalar(str, lambda text: _go_escapes(_string(text))),
}


def _plan(tp: Any, outer: frozenset = frozenset()) -> Any:
    """The plan for ``tp`` (cached); ``outer``: the structs it is inside, to notice a type
    that contains itself (its values may nest without end: the general path writes them)."""
    plan = _PLANS.get(tp)
    if plan is None:
        plan = _PLANS[tp] = _make_plan(values.strip_annotated(tp), outer)  # Uint gets int's plan
    return plan


def _make_plan(tp: Any, outer: frozenset) -> Any:
    if tp in _PLANS:
        return _PLANS[tp]
    if values.is_struct(tp):
        return _unplanned if tp in outer else _struct_plan(tp, outer | {tp})
    items = {a for a in typing.get_args(tp) if a is not Ellipsis}  # list[T], tuple[T, ...]
    if typing.get_origin(tp) in (list, tuple) and len(items) == 1:
        return _list_plan(_plan(items.pop(), outer))
    return _unplanned


def _struct_plan(cls: type, outer: frozenset) -> Any:
    """A struct's fields' plans, joined in order: made as one lambda (see above), as
    ``_as_dict`` makes its function."""
    hints, plans, parts = values.field_types(cls), {}, []
    for i, (attr, wire) in enumerate(_field_names(cls)):
        plans[f"plan_{i}"] = _plan(hints[attr], outer)
        parts.append(repr(("," if i else "{") + _string(wire) + ":") + f" + plan_{i}(v.{attr})")
    if _unplanned in plans.values():
        return _unplanned  # one field the general path must write: it writes the struct
    body = " + ".join(parts) + " + '}'" if parts else "'{}'"
    return eval(f"lambda v: {body} if type(v) is cls else _unplanned(v)",
                {"cls": cls, "_unplanned": _unplanned, **plans})


def _list_plan(item: Any) -> Any:
    if item is _unplanned:
        return _unplanned

    def plan(value: Any) -> str:
        if type(value) is not list and type(value) is not tuple:
            raise _Unexpected
        return "[" + ",".join(map(item, value)) + "]"
    return plan


_ENCODERS: dict[Any, Any] = {}  # type -> its plan, with the general path behind it


def encoder_for(tp: Any) -> Any:
    """The function that writes values declared ``tp`` as Go's JSON, made once per type:
    ``encoder_for(Args)(Args(7, 8))`` -> ``'{"A":7,"B":8}'``, the text ``encode_value`` writes."""
    encode = _ENCODERS.get(tp)
    if encode is None:
        encode = _ENCODERS[tp] = _with_fallback(_plan(tp))
    return encode


def _with_fallback(plan: Any) -> Any:
    """``plan``, or ``encode_value`` for the values it does not expect."""
    if plan is _unplanned:
        return encode_value  # nothing to plan: the general path, without a detour

    def encode(value: Any) -> str:
        try:
            return plan(value)
        except _Unexpected:
            return encode_value(value)
    return encode


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates ("\\ud800", or bytes that were not UTF-8): Go writes U+FFFD
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


# ---------------------------------------------------------------- the two sides


class ServerFormat:
    """Go's ``jsonrpc.NewServerCodec``, sans-IO: reads requests, writes responses."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self._values = _Values(max_message, "jsonrpc")
        self.receive_data = self._values.receive_data
        self._seq = 0  # the reader's own: one thread reads
        # our seq -> the client's id, to echo back.  The reader adds, writers take; each is one
        # dict operation, which is atomic in Python (Go's codec needs a mutex for its map).
        self._ids: dict[int, Any] = {}

    def next_message(self) -> Any:
        got = self._values.next_value()
        if got is NEED_DATA:
            return got
        value, data = got
        method, params, id_ = _get(value, _REQUEST_KEYS, _EXACT_REQUEST_KEYS)
        if type(method) is not str:
            if method is not None:  # Go's decoder refuses it; then the connection ends
                raise ProtocolError(f"json: cannot unmarshal {_kind(method)} into Go struct field "
                                    "serverRequest.method of type string")
            method = ""
        self._seq += 1
        self._ids[self._seq] = id_
        return Message(Request(method, self._seq), params, data)

    def decode_body(self, message: Message, type: Any) -> Any:
        """Go reads ``params`` into a one-element array, then element 0 into the argument."""
        if type is None:
            return None  # nobody wants it (an unknown method)
        params = message.body
        if params is None:
            raise BodyError("jsonrpc: request body missing params")
        if not isinstance(params, list):
            raise BodyError(f"json: cannot unmarshal {_kind(params)} into Go value of type [1]interface {{}}")
        if not params or params[0] is None:
            return values.zero_value(type)
        try:
            return values.from_plain(params[0], type, "args")
        except ValueError as e:
            raise BodyError(str(e)) from None

    def encode(self, response: Response, body: Any, body_type: Any = None) -> bytes:
        # {"id":...,"result":...,"error":...}: the fixed parts are constants around the values,
        # each value written by the plan for its type (the reply's: the method's declared type)
        id_ = self._ids.get(response.seq)
        head = '{"id":' + encoder_for(type(id_))(id_)  # the client's id, any JSON value, as it came
        if response.error:
            text = head + ',"result":null,"error":' + encoder_for(str)(response.error) + "}\n"
        elif body is None:  # no reply: Go's empty struct (null would mean "no result")
            text = head + ',"result":{},"error":null}\n'
        else:
            encode = encoder_for(type(body) if body_type is None else body_type)
            text = head + ',"result":' + encode(body) + ',"error":null}\n'
        data = _utf8(text)
        self._ids.pop(response.seq, None)  # encoded: only now is the id used up
        return data


@functools.lru_cache(maxsize=256)
def _request_head(service_method: str) -> bytes:
    return _utf8('{"method":' + encode_value(service_method) + ',"params":[')


class ClientFormat:
    """Go's ``jsonrpc.NewClientCodec``, sans-IO: writes requests, reads responses."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self._values = _Values(max_message, "jsonrpc")
        self.receive_data = self._values.receive_data
        self._methods: dict[int, str] = {}  # seq -> service method, as Go's client keeps it (atomic dict ops)

    def encode(self, request: Request, body: Any, body_type: Any = None) -> bytes:
        # {"method":...,"params":[body],"id":seq} -- the part before the body is the same for
        # every call of a method: it is encoded once; the body by the plan for its type
        body_text = encoder_for(type(body) if body_type is None else body_type)(body)
        data = _request_head(request.service_method) + _utf8(body_text) + b'],"id":%d}\n' % request.seq
        self._methods[request.seq] = request.service_method
        return data

    def forget(self, seq: int) -> None:
        """The call ``seq`` was given up: its method name need not wait for a reply."""
        self._methods.pop(seq, None)

    def next_message(self) -> Any:
        got = self._values.next_value()
        if got is NEED_DATA:
            return got
        value, data = got
        seq, result, error = _get(value, _RESPONSE_KEYS, _EXACT_RESPONSE_KEYS)
        if seq is None:
            seq = 0  # Go decodes null into its uint64 as 0
        elif type(seq) is not int or seq < 0:
            raise ProtocolError(f"json: cannot unmarshal {_kind(seq)} {seq!r:.40} into Go struct field "
                                "clientResponse.id of type uint64")
        response = Response(self._methods.pop(seq, ""), seq)
        if error is not None or result is None:
            if type(error) is not str:
                raise ProtocolError(f"invalid error {'<nil>' if error is None else error}")
            response.error = error or "unspecified error"
        return Message(response, result, data)

    def decode_body(self, message: Message, type: Any) -> Any:
        try:
            return values.from_plain(message.body, type, "reply")
        except ValueError as e:
            raise BodyError(str(e)) from None


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "bool", int: "number",
            float: "number"}.get(type(value), "value")


FORMAT = WireFormat("json", ServerFormat, ClientFormat)
