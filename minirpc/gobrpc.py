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

Speed: every call sends and receives a header, and the general gob machinery
(plans, dataclasses) costs several microseconds for each.  So once the
header's type is known on a stream, headers take a short cut (``_header_message``
and ``_parse_header``): a header is a flat struct of two strings and a uint, so
its bytes are written and read directly.  Anything the short cut does not
expect goes the general way, which also reports every error: the short cut
never decides that bytes are bad, it only steps aside.
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


# The header structs' fields as Go defines them, in Go's order: (name, gob type id);
# 6 is string, 3 is uint.  The short cuts below rely on exactly this layout.
_FIELDS = {Request: (("ServiceMethod", 6), ("Seq", 3)),
           Response: (("ServiceMethod", 6), ("Seq", 3), ("Error", 6))}
_SEQ = 1  # the field number of Seq; the other fields are strings
_UINT64_END = 1 << 64


def _header_message(type_id: bytes, service_method: str, seq: int, error: str = "") -> bytes | None:
    """A whole header message (length, type id, fields), as ``Encoder.encode`` would write it.

    ``type_id`` is the header type's id, already gob-encoded.  Returns None for
    values the general encoder must see (and refuse, or convert): a short cut
    must not send what the general way would not.
    """
    if type(service_method) is not str or type(error) is not str or type(seq) is not int \
            or not 0 <= seq < _UINT64_END:
        return None
    message = bytearray(type_id)
    delta = 1  # how far the field number moves from the last field sent (-1 at the start) to this one
    if service_method:  # field 0; zero values are left out, as gob does
        raw = service_method.encode("utf-8", "surrogateescape")
        message.append(delta)
        gob.put_uint(message, len(raw))
        message += raw
        delta = 0
    delta += 1
    if seq:  # field 1
        message.append(delta)
        gob.put_uint(message, seq)
        delta = 0
    delta += 1
    if error:  # field 2, in a Response only
        raw = error.encode("utf-8", "surrogateescape")
        message.append(delta)
        gob.put_uint(message, len(raw))
        message += raw
    message.append(0)  # the end of the struct
    prefix = bytearray()
    gob.put_uint(prefix, len(message))
    return bytes(prefix + message)


def _parse_header(payload: bytes, pos: int, nfields: int) -> list | None:
    """[ServiceMethod, Seq, Error] from a header value laid out as ``_FIELDS`` says.

    ``pos`` is just past the type id.  Returns None for anything unusual
    (truncated, a field out of range, bytes left over, a long-form delta):
    the general decoder then reads the same payload and names the problem.
    """
    values = ["", 0, ""]
    field, end = -1, len(payload)
    try:
        while True:
            delta = payload[pos]
            pos += 1
            if delta == 0:  # the end of the struct
                break
            field += delta  # (a long-form delta, >= 0x80, lands out of range)
            if field >= nfields:
                return None
            u = payload[pos]  # Seq, or a string's length
            if u < 0x80:  # get_uint inlined for the one-byte case
                pos += 1
            else:
                u, pos = gob.get_uint(payload, pos)
            if field == _SEQ:
                values[field] = u
            elif pos + u <= end:
                values[field] = payload[pos:pos + u].decode("utf-8", "surrogateescape")
                pos += u
            else:
                return None
    except (IndexError, GobError):
        return None
    return values if pos == end else None


class _GobConn:
    """What both codecs share: one connection, one gob stream each way."""

    _sends: type  # the header type this side writes (Request or Response)
    _receives: type  # and the one it reads

    def __init__(self, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE):
        self.conn = conn
        self._rfile = conn.makefile("rb")
        self._decoder = gob.Decoder(max_message=max_message)  # used by the single reading thread
        self._encoder = gob.Encoder()
        # protects the encoder's per-stream state and keeps each header+body one write
        self._write_lock = threading.Lock()
        # The gob-encoded ids of the header types once they are known on this stream, for
        # the short cuts: ours once its definition went out, the peer's once it arrived
        # with Go's layout (Go may give it any id).  A stream never redefines an id.
        self._sent_header_id: bytes | None = None
        self._received_header_id: bytes | None = None

    # -- writing

    def _write(self, header: tuple, body: Any, body_type: Any = None) -> None:
        """Send the header (its field values, in Go's order) and the body in one write."""
        with self._write_lock:
            encoder = self._encoder
            saved = encoder.checkpoint()
            try:
                data = None
                if self._sent_header_id is not None:
                    data = _header_message(self._sent_header_id, *header)
                if data is None:  # the first header on this stream, or a value to refuse
                    data = encoder.encode(self._sends(*header))
                data += encoder.encode(body, body_type)
            except BaseException:
                encoder.rollback(saved)  # nothing was sent, so the peer learned no types
                raise
            self.conn.sendall(data)
            if self._sent_header_id is None:  # its definition is out: take the short cut from now on
                out = bytearray()
                gob.put_int(out, encoder.defined_id(self._sends))
                self._sent_header_id = bytes(out)

    # -- reading

    def _read_payload(self, at_boundary: bool) -> bytes:
        """One message's bytes (length prefix stripped); the size is checked before reading it."""
        rfile = self._rfile
        first = rfile.read(1)
        if not first:
            raise EOFError() if at_boundary else EOFError("unexpected EOF")
        length = first[0]
        if length >= 0x80:
            count = 256 - length
            if count > 8:
                raise GobError("gob: encoded unsigned integer out of range")
            prefix = first + rfile.read(count)
            if len(prefix) != count + 1:
                raise EOFError("unexpected EOF")
            length, _ = gob.get_uint(prefix, 0)
        self._decoder.check_length(length)
        payload = rfile.read(length)
        if len(payload) != length:
            raise EOFError("unexpected EOF")
        return payload

    def _read_header(self) -> list:
        """The next header's [ServiceMethod, Seq, Error] (Error is "" for a Request)."""
        payload = self._read_payload(at_boundary=True)
        known = self._received_header_id
        if known is not None and payload.startswith(known):  # (an int's encoding is prefix-free)
            values = _parse_header(payload, len(known), len(_FIELDS[self._receives]))
            if values is not None:
                return values
        # The general way: type definitions first (on a new stream), then the header value.
        decoder = self._decoder
        while gob.is_type_definition(payload):
            decoder.read_message(payload)
            payload = self._read_payload(at_boundary=False)
        type_id, header = decoder.read_message(payload, self._receives)
        wire = decoder.wire_types.get(type_id)
        if known is None and wire is not None and wire.kind == "struct" \
                and tuple(wire.fields) == _FIELDS[self._receives]:
            out = bytearray()
            gob.put_int(out, type_id)
            self._received_header_id = bytes(out)
        return [header.ServiceMethod, header.Seq, getattr(header, "Error", "")]

    def _read_body(self, type: Any) -> Any:
        """Read type definitions until the body arrives; decode it into ``type``."""
        while True:
            payload = self._read_payload(at_boundary=False)
            if not gob.is_type_definition(payload):
                break
            self._decoder.read_message(payload)
        try:  # the whole body has been read, so the stream stays in step
            return self._decoder.read_message(payload, type)[1]
        except GobError as e:
            raise BodyError(str(e)) from None

    def close(self) -> None:
        """Close the connection, waking a reader blocked on it; safe to call twice."""
        close_conn(self.conn, self._rfile)


class ServerCodec(_GobConn):
    """Reads Go-style requests, writes Go-style responses."""

    _sends, _receives = Response, Request

    def read_request_header(self) -> codec.Request:
        service_method, seq, _ = self._read_header()
        return codec.Request(service_method, seq)

    def read_request_body(self, arg_type: Any) -> Any:
        return self._read_body(arg_type)

    def write_response(self, response: codec.Response, body: Any, body_type: Any = None) -> None:
        body_type = body_type or response.reply_type
        if response.error or body is None:
            body, body_type = InvalidRequest(), None
        self._write((response.service_method, response.seq, response.error), body, body_type)


class ClientCodec(_GobConn):
    """Writes Go-style requests, reads Go-style responses."""

    _sends, _receives = Request, Response

    def write_request(self, request: codec.Request, body: Any, body_type: Any = None) -> None:
        self._write((request.service_method, request.seq), body, body_type)

    def read_response_header(self) -> codec.Response:
        return codec.Response(*self._read_header())

    def read_response_body(self, reply_type: Any) -> Any:
        return self._read_body(reply_type)


def new_server_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ServerCodec:
    return ServerCodec(conn, max_message)


def new_client_codec(conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> ClientCodec:
    return ClientCodec(conn, max_message)
