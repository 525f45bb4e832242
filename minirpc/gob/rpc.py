"""net/rpc over gob: Go's default wire format, byte for byte, as a sans-IO format.

Every request is two gob values on the connection's one gob stream: the header
``Request{ServiceMethod string; Seq uint64}`` and then the argument.  Every
response is ``Response{ServiceMethod string; Seq uint64; Error string}`` and
then the reply -- or, when ``Error`` is set, an empty ``struct{}{}`` that the
client reads and drops, exactly as Go does.  Type definitions go before the
first value that needs them, so the first call on a connection is longer.

Each side of a connection has one ``Encoder`` (writing) and one ``Decoder``
(reading), so each type definition crosses the connection once per direction.
The headers are ``minirpc.format``'s own ``Request`` and ``Response``: their
class names and their fields' Go names (``ServiceMethod``, ``Seq``, ``Error``)
are inside the type definitions, so our bytes are identical to Go's.  A side's
header type never changes, so once its definition is out (or in) the format keeps
the encoder's writer (the decoder's reader) for it rather than look it up per message.

A header's message changes from call to call only in ``Seq`` when ``Error`` is
empty, as it nearly always is.  So the format keeps, per service method, the
bytes the encoder's writer gave before ``Seq`` and writes only ``Seq`` and the
end of the struct itself (``_head``) -- as the JSON format keeps the text
before the body.  A header with ``Seq`` 0 (left out, as zero fields are) or
an ``Error`` goes through the writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BodyError, GobError, ProtocolError, TruncatedMessage
from ..format import DEFAULT_MAX_MESSAGE, NEED_DATA, Message, Request, Response, WireFormat
from .decoder import Decoder
from .encoder import Encoder, put_uint
from .types import go_type

__all__ = ["ServerFormat", "ClientFormat", "FORMAT"]
_NONE = type(None)
_UNKNOWN = object()
MAX_HEADS = 256  # service methods whose header bytes a format keeps (a server's are its methods)


@dataclass
class InvalidRequest:  # Go's ``invalidRequest = struct{}{}``: the body of an error reply
    __gob_name__ = ""  # an anonymous struct type has no name


class _GobFormat:
    """What both sides share: one gob stream each way; a message is a header value then a body value."""

    _reads: type  # the header type this side reads (Request or Response)
    _writes: type  # and the one it writes

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self._decoder = Decoder(max_message=max_message)
        self._encoder = Encoder()
        self._write_header: Any = None  # the encoder's writer for _writes, once that type is defined
        self._heads: dict[str, bytes | None] = {}  # service method -> its header's bytes before Seq (_head)
        self.receive_data = self._decoder.feed
        self._header_id, self._read_header = None, None  # the peer's header type, and its reader
        # the message being read: its header once decoded, and its frames so far
        self._header: Any = None
        self._header_frame = b""
        self._data: list[bytes] = []  # every frame so far, in order, while definitions are among them
        self._setup: list[bytes] = []  # the definitions among them
        self._started = False

    def next_message(self) -> Any:
        """Read frames until a header and its body are in: definitions are absorbed on the way."""
        if not self._started:
            self._check_http()
        while True:
            try:
                frame = self._decoder.next_frame()
            except EOFError as e:
                if self._header is not None or self._data:  # the stream ended inside a message
                    raise TruncatedMessage("unexpected EOF", self._header) from None
                raise EOFError() if not e.args else TruncatedMessage("unexpected EOF") from None
            if frame is NEED_DATA:
                return NEED_DATA
            type_id, raw, pos = frame
            if type_id < 0:  # a type definition: stream state, not part of the call
                self._started = True
                if not self._data and self._header is not None:
                    self._data.append(self._header_frame)
                self._data.append(raw)
                self._setup.append(raw)
                self._decoder.define(-type_id, raw, pos)
            elif self._header is None:
                self._started = True
                if type_id != self._header_id:  # (in practice once: the peer's header type never changes)
                    self._header_id, self._read_header = type_id, self._decoder.reader(type_id, self._reads)
                self._header = self._read_header(raw, pos)
                self._header_frame = raw
                if self._data:
                    self._data.append(raw)
            else:
                call = self._header_frame + raw  # the header's message and the body's
                if self._setup:  # the first calls of a stream: definitions came with them
                    self._data.append(raw)
                    data, setup = b"".join(self._data), b"".join(self._setup)
                    self._data, self._setup = [], []
                else:
                    data, setup = call, b""
                message = Message(self._header, frame, data, setup, call)  # (frame: the body, for decode_body)
                self._header = None
                return message

    def decode_body(self, message: Message, type: Any) -> Any:
        type_id, raw, pos = message.body
        try:  # the whole body has been read, so the stream stays in step
            if type is _NONE:  # "no reply" (-> None): whatever was sent, the answer is None
                self._decoder.read_value(type_id, raw, pos, None)
                return None
            return self._decoder.read_value(type_id, raw, pos, type)
        except GobError as e:
            raise BodyError(str(e)) from None

    def encode(self, header: Any, body: Any, body_type: Any = None) -> bytes:
        """The header's message then the body's; if the body cannot be encoded, nothing changes
        (the header may have defined its type: that is undone too)."""
        out = bytearray()
        if type(header) is self._writes and self._write_header is not None:  # the usual case: nothing to undo
            seq, method, head = header.seq, header.service_method, None
            if type(seq) is int and 0 < seq < 1 << 64 and type(method) is str and \
                    (self._writes is Request or not header.error):
                head = self._heads.get(method, _UNKNOWN)
                if head is _UNKNOWN:
                    head = self._head(header)
            if head is not None:  # the message's length, the bytes kept, Seq, the end of the struct
                out += head
                if seq < 0x80:  # (put_uint's cases, the short ones in place)
                    out.append(seq)
                elif seq < 0x10000:
                    out += (seq | 0xFF00).to_bytes(2, "big") if seq < 0x100 else (seq | 0xFE0000).to_bytes(3, "big")
                else:
                    put_uint(out, seq)
                out.append(0)
                out[0] = len(out) - 1
            else:
                self._write_header(out, header)
            self._encoder.encode_into(out, body, body_type)
            return b"" + out  # (bytes: quicker than bytes(out))
        saved = self._encoder.checkpoint()
        self._encoder.encode_into(out, header)
        try:
            self._encoder.encode_into(out, body, body_type)
        except BaseException:
            self._encoder.rollback(saved)
            raise
        self._write_header = self._encoder.writer(go_type(self._writes))  # the same every time from now on
        return b"" + out

    def _head(self, header: Any) -> bytes | None:
        """The first bytes of ``header``'s message, up to its ``Seq``, as the writer writes them:
        a length byte (to be filled in), the type id, ``ServiceMethod``, and ``Seq``'s field delta.
        None if the message may be 128 bytes or more (a longer length) or too many are kept."""
        out = bytearray()
        self._write_header(out, type(header)(header.service_method, 1))  # ... Seq's delta, Seq = 1, the end: 01 01 00
        head = bytes(out[:-2]) if len(out) < 0x80 - 10 else None  # (room for the longest Seq, 9 bytes)
        if len(self._heads) < MAX_HEADS:
            self._heads[header.service_method] = head
        return head

    def _check_http(self) -> None:
        """gob bytes never start with "HTTP/": a stream that does is an HTTP server talking."""
        head = self._decoder.peek(40)
        if head.startswith(b"HTTP/"):
            line = head.split(b"\n")[0].strip().decode("latin-1")
            raise ProtocolError(f"gob: the peer answered in HTTP ({line!r}): is it an HTTP server? "
                                "Dial it through the tunnel (dial_http)") from None


class ServerFormat(_GobFormat):
    """Reads Go-style requests, writes Go-style responses."""

    _reads, _writes = Request, Response

    def encode(self, response: Response, body: Any, body_type: Any = None) -> bytes:
        if response.error or body is None:  # no reply: Go's empty struct, as for an error
            body, body_type = InvalidRequest(), None
        return _GobFormat.encode(self, response, body, body_type)


class ClientFormat(_GobFormat):
    """Writes Go-style requests, reads Go-style responses."""

    _reads, _writes = Response, Request


FORMAT = WireFormat("gob", ServerFormat, ClientFormat)
