"""The gob RPC codec: Go net/rpc's default wire format, byte for byte.

Every request is two gob values on the connection's one gob stream: the header
``Request{ServiceMethod string; Seq uint64}`` and then the argument.  Every
response is ``Response{ServiceMethod string; Seq uint64; Error string}`` and
then the reply -- or, when ``Error`` is set, an empty ``struct{}{}`` that the
client reads and drops, exactly as Go does.

Each connection has one ``gob.Encoder`` (writing) and one ``gob.Decoder``
(reading), so each type definition crosses the connection once per direction.
The Go type names "Request" and "Response" matter: they are inside the type
definitions, so using Go's names keeps our bytes identical to Go's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from . import codec, gob
from .codec import close_conn, DEFAULT_MAX_MESSAGE, BodyError
from .gob import GobError, Uint

__all__ = ["ServerCodec", "ClientCodec", "new_server_codec", "new_client_codec"]


@dataclass
class Request:  # Go's rpc.Request, as it goes on the wire
    ServiceMethod: str = ""
    Seq: Uint = 0


@dataclass
class Response:  # Go's rpc.Response
    ServiceMethod: str = ""
    Seq: Uint = 0
    Error: str = ""


@dataclass
class InvalidRequest:  # Go's ``invalidRequest = struct{}{}``: the body of an error reply
    __gob_name__ = ""  # an anonymous struct type has no name


class _GobConn:
    """What both codecs share: one connection, one gob stream each way."""

    def __init__(self, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE):
        self.conn = conn
        self._rfile = conn.makefile("rb")
        self._decoder = gob.Decoder(max_message=max_message)  # used by the single reading thread
        self._encoder = gob.Encoder()
        # protects the encoder's per-stream state and keeps each header+body one write
        self._write_lock = threading.Lock()

    def _write(self, header: Any, body: Any, body_type: Any = None) -> None:
        with self._write_lock:
            encoder = self._encoder
            saved = encoder.checkpoint()
            try:
                data = encoder.encode(header) + encoder.encode(body, body_type)
            except BaseException:
                encoder.rollback(saved)  # nothing was sent, so the peer learned no types
                raise
            self.conn.sendall(data)

    def _read_payload(self, at_boundary: bool) -> bytes:
        """One message's bytes (length prefix stripped); the size is checked before reading it."""
        rfile = self._rfile
        first = rfile.read(1)
        if not first:
            raise EOFError() if at_boundary else EOFError("unexpected EOF")
        prefix = first
        if first[0] >= 0x80:
            count = 256 - first[0]
            if count > 8:
                raise GobError("gob: encoded unsigned integer out of range")
            prefix += rfile.read(count)
            if len(prefix) != count + 1:
                raise EOFError("unexpected EOF")
        length, _ = gob.get_uint(prefix, 0)
        self._decoder.check_length(length)
        payload = rfile.read(length)
        if len(payload) != length:
            raise EOFError("unexpected EOF")
        return payload

    def _read_value(self, type: Any, at_boundary: bool, is_body: bool) -> Any:
        """Read type definitions until a value arrives; decode it into ``type``."""
        while True:
            payload = self._read_payload(at_boundary)
            at_boundary = False
            if gob.is_type_definition(payload):
                self._decoder.read_message(payload)
                continue
            if not is_body:
                return self._decoder.read_message(payload, type)[1]
            try:  # the whole body has been read, so the stream stays in step
                return self._decoder.read_message(payload, type)[1]
            except GobError as e:
                raise BodyError(str(e)) from None

    def close(self) -> None:
        """Close the connection, waking a reader blocked on it; safe to call twice."""
        close_conn(self.conn, self._rfile)


class ServerCodec(_GobConn):
    """Reads Go-style requests, writes Go-style responses."""

    def read_request_header(self) -> codec.Request:
        header = self._read_value(Request, at_boundary=True, is_body=False)
        return codec.Request(header.ServiceMethod, header.Seq)

    def read_request_body(self, arg_type: Any) -> Any:
        return self._read_value(arg_type, at_boundary=False, is_body=True)

    def write_response(self, response: codec.Response, body: Any, body_type: Any = None) -> None:
        header = Response(response.service_method, response.seq, response.error)
        body_type = body_type or response.reply_type
        if response.error or body is None:
            body, body_type = InvalidRequest(), None
        self._write(header, body, body_type)


class ClientCodec(_GobConn):
    """Writes Go-style requests, reads Go-style responses."""

    def write_request(self, request: codec.Request, body: Any, body_type: Any = None) -> None:
        self._write(Request(request.service_method, request.seq), body, body_type)

    def read_response_header(self) -> codec.Response:
        header = self._read_value(Response, at_boundary=True, is_body=False)
        return codec.Response(header.ServiceMethod, header.Seq, header.Error)

    def read_response_body(self, reply_type: Any) -> Any:
        return self._read_value(reply_type, at_boundary=False, is_body=True)


def new_server_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ServerCodec:
    return ServerCodec(conn, max_message)


def new_client_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ClientCodec:
    return ClientCodec(conn, max_message)
