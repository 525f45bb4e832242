"""The codec seam: Go's four methods a side, and the codecs minirpc builds from formats.

Go's net/rpc never looks at bytes: its server and client talk to a *codec*
through exactly four methods each, and so do minirpc's::

    ServerCodec                         ClientCodec
    -----------                         -----------
    read_request_header() -> Request    write_request(Request, body)
    read_request_body(type) -> args     read_response_header() -> Response
    write_response(Response, body)      read_response_body(type) -> reply
    close()                             close()

The contract, as Go's documentation has it and as every caller here keeps it:

* Reads come in pairs: after each ``read_*_header`` the caller reads that
  message's body with ``read_*_body`` -- even an unwanted one, with
  ``type=None``, which reads it and throws it away -- so the codec stays in
  step with the stream.  One thread reads at a time.
* ``write_*`` may be called from many threads; each call writes one whole
  message, never interleaved with another (the codec serialises them).
* ``close()`` may be called more than once and from any thread, and wakes a
  thread blocked reading.
* Errors: ``EOFError`` when the peer closed cleanly between messages
  (``TruncatedMessage`` inside one), ``ProtocolError`` for bytes that break
  the format, ``OSError`` from the socket.  ``read_*_body`` raises
  ``BodyError`` when the body was read whole but does not fit ``type``: the
  stream is still in step, so the caller carries on.

A client codec may offer two more methods, and minirpc's own do:
``queue_request(Request, body)`` encodes a request and keeps it back, and
``flush()`` writes all that was kept, in order, in one write.  The client
uses them to send requests started back to back together (the client's
module doc says when); a codec without them gets one write per request.
And ``forget(seq)``: the client gave up the call ``seq`` (a timeout, a
cancel), so the codec may drop what it keeps for it (``minirpc.format``).
A codec whose ``write_request``, ``flush`` and ``read_response_header``
take ``deadline=`` (a ``net.Deadline``), and then raise
``stream.WriteTimeout`` or ``stream.ReadTimeout`` rather than wait past it,
says so with ``takes_deadlines = True``: the client then bounds a call's
writes by the call's ``timeout=`` too, and a synchronous call with a timeout
reads its own reply rather than hand the reading to a thread.

minirpc's own codecs are a *format* (``minirpc.format``: sans-IO, bytes in,
messages out) on a ``Stream`` (``minirpc.stream``: the socket).  You can plug
in a format of your own (a ``WireFormat``), or a whole codec of your own: any
callable ``conn -> codec`` with these four methods.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Union

from . import gob, jsonrpc
from .format import DEFAULT_MAX_MESSAGE, Message, Request, Response, WireFormat
from .stream import Stream

FORMATS = {"gob": gob.FORMAT, "json": jsonrpc.FORMAT}
DEFAULT_FORMAT = "gob"  # Go's default


class ServerCodec(Protocol):
    def read_request_header(self) -> Request: ...
    def read_request_body(self, arg_type: Any) -> Any: ...
    def write_response(self, response: Response, body: Any) -> None: ...
    def close(self) -> None: ...


class ClientCodec(Protocol):
    def write_request(self, request: Request, body: Any) -> None: ...
    def read_response_header(self) -> Response: ...
    def read_response_body(self, reply_type: Any) -> Any: ...
    def close(self) -> None: ...


CodecChoice = Union[str, WireFormat, Callable[[Any], Any], None]


def wire_format(codec: CodecChoice) -> WireFormat | None:
    """The format a ``codec=`` argument names, or None for a codec factory of the user's own."""
    if codec is None or isinstance(codec, str):
        try:
            return FORMATS[codec or DEFAULT_FORMAT]
        except KeyError:
            raise ValueError(f"unknown codec {codec!r}; known: {', '.join(sorted(FORMATS))}") from None
    return codec if isinstance(codec, WireFormat) else None


class StreamServerCodec:
    """A ``ServerCodec`` made of a format on a stream."""

    def __init__(self, stream: Stream):
        self.stream = stream
        self._message: Message | None = None  # the request whose header was read last

    def read_request_header(self) -> Request:
        self._message = self.stream.read_message()
        return self._message.header

    def read_request_body(self, arg_type: Any) -> Any:
        message, self._message = self._message, None
        return self.stream.format.decode_body(message, arg_type)

    def write_response(self, response: Response, body: Any, body_type: Any = None) -> None:
        self.stream.send(response, body, body_type)

    def close(self) -> None:
        self.stream.close()


class StreamClientCodec:
    """A ``ClientCodec`` made of a format on a stream."""

    takes_deadlines = True

    def __init__(self, stream: Stream):
        self.stream = stream
        self._message: Message | None = None  # the response whose header was read last

    def write_request(self, request: Request, body: Any, deadline: Any = None) -> None:
        self.stream.send(request, body, deadline=deadline)  # (behind any request kept back: the order is kept)

    def queue_request(self, request: Request, body: Any) -> None:
        self.stream.send(request, body, later=True)

    def flush(self, deadline: Any = None) -> None:
        self.stream.flush(deadline)

    def forget(self, seq: int) -> None:
        forget = getattr(self.stream.format, "forget", None)
        if forget is not None:
            forget(seq)

    def read_response_header(self, deadline: Any = None) -> Response:
        self._message = self.stream.read_message(deadline)
        return self._message.header

    def read_response_body(self, reply_type: Any) -> Any:
        message, self._message = self._message, None
        return self.stream.format.decode_body(message, reply_type)

    def close(self) -> None:
        self.stream.close()


def server_codec(codec: CodecChoice, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> Any:
    """The server side of ``codec`` (a name, a WireFormat or a factory) on a connected socket."""
    fmt = wire_format(codec)
    return StreamServerCodec(Stream(conn, fmt.server(max_message))) if fmt else codec(conn)


def client_codec(codec: CodecChoice, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> Any:
    """The client side of ``codec`` (a name, a WireFormat or a factory) on a connected socket."""
    fmt = wire_format(codec)
    return StreamClientCodec(Stream(conn, fmt.client(max_message))) if fmt else codec(conn)
