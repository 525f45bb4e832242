"""The codec seam: the only place where minirpc knows about bytes.

A codec turns RPC messages into bytes on a connection and back.  The server and
the client never look at bytes themselves; they talk to a codec through exactly
four methods each, as in Go's net/rpc:

    ServerCodec                         ClientCodec
    -----------                         -----------
    read_request_header() -> Request    write_request(Request, body)
    read_request_body(type) -> args     read_response_header() -> Response
    write_response(Response, body)      read_response_body(type) -> reply
    close()                             close()

``read_*_body(type)`` decodes the body into ``type`` (``None`` means "plain
Python values, or discard if you like"); it must be called after each header,
even when the body is unwanted, so the codec stays in step with the stream.

A codec raises ``EOFError`` when the peer closed the stream cleanly between
messages, ``ProtocolError`` for bytes it cannot make sense of, and lets
``OSError`` from the socket through.  ``read_request_body`` raises
``BodyError`` when the body was read whole but does not fit ``type``: the
stream is still in step, so the server answers with an error and carries on.

Plug in your own format by writing these four methods; ``minirpc.jsonrpc`` and
``minirpc.gobrpc`` are the two that ship.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import ProtocolError

#: The largest message a codec accepts by default (Go has no limit; we do).
DEFAULT_MAX_MESSAGE = 32 * 1024 * 1024


@dataclass
class Request:
    """The header that precedes every request body (Go's ``rpc.Request``)."""

    service_method: str = ""  # "Service.Method"
    seq: int = 0  # chosen by the client, echoed in the Response


@dataclass
class Response:
    """The header that precedes every response body (Go's ``rpc.Response``)."""

    service_method: str = ""  # echoes the request
    seq: int = 0  # echoes the request
    error: str = ""  # "" means success; otherwise the body is meaningless
    # Not sent: the method's declared reply type, for codecs that write types
    # on the wire (gob must say "[]int" even for an empty list).
    reply_type: Any = field(default=None, compare=False, repr=False)


class BodyError(ProtocolError):
    """A body arrived whole but could not be decoded into the wanted type."""


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


def close_conn(conn: Any, *files: Any) -> None:
    """Close a connection so that a thread blocked reading it wakes up.

    ``close()`` alone does not wake a reader on Linux; ``shutdown()`` does.
    Safe to call more than once and from any thread.
    """
    try:
        conn.shutdown(2)  # socket.SHUT_RDWR
    except (OSError, ValueError):
        pass  # already closed, or never connected
    for f in files:
        try:
            f.close()
        except (OSError, ValueError):
            pass
    conn.close()
