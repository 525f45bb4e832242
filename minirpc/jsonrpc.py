"""JSON-RPC 1.0, byte-compatible with Go's ``net/rpc/jsonrpc``.

Every message is one JSON object followed by a newline::

    -> {"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}
    <- {"id":0,"result":56,"error":null}
    <- {"id":1,"result":null,"error":"divide by zero"}

* ``params`` is an array of exactly one element (extra elements are ignored,
  ``[]`` and ``[null]`` mean "zero arguments"), as in Go.
* The server echoes the request's ``id`` exactly as sent (any JSON value) and
  uses its own sequence numbers inside; the client sends its sequence number.
* Every error reply carries ``"result":null``; every success ``"error":null``.
* ``[]byte`` travels as base64 text; ``<``, ``>`` and ``&`` are escaped as
  ``\\u003c`` etc., as Go's encoder does.

The first half of this module is sans-IO: functions from values to bytes and
from parsed messages to headers, testable without a socket.  The second half,
``ServerCodec`` and ``ClientCodec``, does the reading and writing.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
from typing import Any

from .codec import DEFAULT_MAX_MESSAGE, BodyError, Request, Response, close_conn
from .errors import ProtocolError
from .values import from_plain, zero_value

# --------------------------------------------------------------------------
# Sans-IO: values <-> bytes


def _default(value: Any) -> Any:
    """Teach json what Go's encoder knows: structs and []byte."""
    names = _FIELD_NAMES.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: getattr(value, name) for name in names}
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


MAX_DEPTH = 512  # nesting a multi-line message may have (one-line messages: Python's limit)
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass -> its field names, cached
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default).encode
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_NEEDS_ESCAPE = re.compile("[<>&\u2028\u2029]")


def encode(message: dict) -> bytes:
    """One message as Go's ``json.Encoder`` writes it: compact, escaped, ``\\n``."""
    try:
        text = _encode(message)
    except ValueError as e:  # NaN or infinity: Go refuses them too
        raise ValueError(f"json: unsupported value: {e}") from None
    if _NEEDS_ESCAPE.search(text):
        text = _NEEDS_ESCAPE.sub(lambda m: _GO_ESCAPES[m.group()], text)
    return text.encode("utf-8") + b"\n"


def encode_request(request: Request, body: Any) -> bytes:
    return encode({"method": request.service_method, "params": [body], "id": request.seq})


def encode_response(id_: Any, response: Response, body: Any) -> bytes:
    if response.error:
        return encode({"id": id_, "result": None, "error": response.error})
    return encode({"id": id_, "result": {} if body is None else body, "error": None})


def parse_request(message: Any) -> tuple[str, Any, Any]:
    """``{"method", "params", "id"}`` -> (service_method, id, params)."""
    if not isinstance(message, dict):
        raise ProtocolError(f"jsonrpc: request is not an object: {message!r:.60}")
    method = message.get("method", "")
    if not isinstance(method, str):
        raise ProtocolError(f"jsonrpc: method is not a string: {method!r:.60}")
    return method, message.get("id"), message.get("params")


def params_to_args(params: Any, arg_type: Any) -> Any:
    """Go reads ``params`` into a one-element array, then element 0 into args."""
    if params is None:
        raise BodyError("jsonrpc: request body missing params")
    if not isinstance(params, list):
        raise BodyError(f"json: cannot unmarshal {_json_kind(params)} into Go value of type [1]interface {{}}")
    if not params or params[0] is None:
        return zero_value(arg_type)
    try:
        return from_plain(params[0], arg_type, "args")
    except ValueError as e:
        raise BodyError(str(e)) from None


def parse_response(message: Any) -> tuple[Response, Any]:
    """``{"id", "result", "error"}`` -> (Response header, result), as Go's client reads it."""
    if not isinstance(message, dict):
        raise ProtocolError(f"jsonrpc: response is not an object: {message!r:.60}")
    seq = message.get("id")
    if type(seq) is not int or seq < 0:
        raise ProtocolError(f"jsonrpc: response id is not a sequence number: {seq!r:.60}")
    error, result = message.get("error"), message.get("result")
    response = Response(seq=seq)
    if error is not None or result is None:
        if not isinstance(error, str):
            raise ProtocolError(f"invalid error {'<nil>' if error is None else error}")
        response.error = error or "unspecified error"
    return response, result


def _json_kind(value: Any) -> str:
    return {dict: "object", str: "string", bool: "bool", int: "number", float: "number"}.get(type(value), "value")


# --------------------------------------------------------------------------
# I/O: reading whole JSON values off a byte stream


class _Reader:
    """Reads one JSON value at a time from a buffered file, with a size limit.

    Go's peers write one value per line: the fast path parses each line as it
    comes.  A value spread over many lines (or several on one line) is
    collected while a small scanner follows brackets and strings, so each byte
    is looked at once and the value is parsed once, when it is complete.
    """

    _TOKENS = re.compile(rb'[][{}"]|\\.', re.S)

    def __init__(self, rfile: Any, max_message: int):
        self.rfile, self.max_message = rfile, max_message
        self.chunks: list[bytes] = []  # the lines of an unfinished value
        self.size = 0
        self.depth, self.in_string = 0, False  # the scanner's state
        self.pushback = b""  # bytes read past the end of the last value

    def read(self) -> Any:
        while True:
            line, self.pushback = self.pushback or self.rfile.readline(self.max_message + 1 - self.size), b""
            if not line:
                if self.chunks:
                    raise ProtocolError("jsonrpc: unexpected EOF in the middle of a message")
                raise EOFError
            if self.size + len(line) > self.max_message:
                raise ProtocolError(f"jsonrpc: message larger than {self.max_message} bytes")
            if not self.chunks:
                if not line.strip():
                    continue
                try:  # the fast path: one whole value on one line
                    return json.loads(line.decode())
                except (ValueError, RecursionError):
                    pass  # incomplete, several values, or invalid: scan it
            end = self._scan(line)
            self.chunks.append(line[:end] if end >= 0 else line)
            self.size += len(line)
            if end >= 0:
                data, self.chunks, self.size, self.pushback = b"".join(self.chunks), [], 0, line[end:]
                return _loads(data)

    def _scan(self, line: bytes) -> int:
        """Follow brackets; return where the top-level value ends, or -1."""
        if not self.chunks and not self.depth and line.lstrip()[:1] not in (b"{", b"["):
            raise ProtocolError(f"jsonrpc: invalid JSON: {line[:60]!r}")
        for token in self._TOKENS.finditer(line):
            char = token.group()
            if self.in_string:
                self.in_string = char != b'"'
            elif char == b'"':
                self.in_string = True
            elif char in (b"{", b"["):
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise ProtocolError(f"jsonrpc: nesting deeper than {MAX_DEPTH}")
            elif char in (b"}", b"]"):
                self.depth -= 1
                if self.depth == 0:
                    return token.end()
        return -1


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(f"jsonrpc: invalid JSON: {e}") from None


class ServerCodec:
    """Go's ``jsonrpc.NewServerCodec``: reads requests, writes responses."""

    def __init__(self, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE):
        self.conn, self.rfile = conn, conn.makefile("rb")
        self.reader = _Reader(self.rfile, max_message)
        self.params: Any = None  # the body of the request whose header was read last
        self.seq = 0
        self.ids: dict[int, Any] = {}  # our seq -> the client's id, echoed back
        self.lock = threading.Lock()  # protects seq and ids (reader vs. writers)

    def read_request_header(self) -> Request:
        method, id_, self.params = parse_request(self.reader.read())
        with self.lock:
            self.seq += 1
            self.ids[self.seq] = id_
            return Request(method, self.seq)

    def read_request_body(self, arg_type: Any) -> Any:
        return params_to_args(self.params, arg_type)

    def write_response(self, response: Response, body: Any) -> None:
        with self.lock:
            id_ = self.ids.get(response.seq)
        data = encode_response(id_, response, body)  # may raise: then nothing is sent
        with self.lock:
            del self.ids[response.seq]
        self.conn.sendall(data)

    def close(self) -> None:
        close_conn(self.conn, self.rfile)


class ClientCodec:
    """Go's ``jsonrpc.NewClientCodec``: writes requests, reads responses."""

    def __init__(self, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE):
        self.conn, self.rfile = conn, conn.makefile("rb")
        self.reader = _Reader(self.rfile, max_message)
        self.result: Any = None  # the body of the response whose header was read last

    def write_request(self, request: Request, body: Any) -> None:
        self.conn.sendall(encode_request(request, body))

    def read_response_header(self) -> Response:
        response, self.result = parse_response(self.reader.read())
        return response

    def read_response_body(self, reply_type: Any) -> Any:
        try:
            return from_plain(self.result, reply_type, "reply")
        except ValueError as e:
            raise BodyError(str(e)) from None

    def close(self) -> None:
        close_conn(self.conn, self.rfile)


def new_server_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ServerCodec:
    return ServerCodec(conn, max_message)


def new_client_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ClientCodec:
    return ClientCodec(conn, max_message)


# Go's jsonrpc package functions, in Python spelling.


def dial(network: str, address: str, timeout: float | None = None):
    from .client import dial as _dial

    return _dial(network, address, codec="json", timeout=timeout)


def new_client(conn: Any):
    from .client import new_client_with_codec

    return new_client_with_codec(ClientCodec(conn))


def serve_conn(conn: Any, server: Any = None) -> None:
    from .server import DEFAULT_SERVER

    (server or DEFAULT_SERVER).serve_codec(ServerCodec(conn))
