"""What a wire format is: the two headers, a message, and the sans-IO contract.

Every RPC is two messages: a request (a ``Request`` header plus the argument)
and a response (a ``Response`` header plus the reply).  A *format* -- JSON-RPC
in ``minirpc.jsonrpc``, gob in ``minirpc.gob.rpc`` -- decides how those
become bytes.  It never touches a socket (it is "sans-IO", like h11): it is
fed the bytes someone else read, hands back whole messages, and turns
messages into bytes for someone else to write::

    fmt = jsonrpc.ServerFormat()           # one per connection and side
    fmt.receive_data(b'{"method":"Arith.Multiply","par')
    fmt.next_message()                     # -> NEED_DATA: not a whole message yet
    fmt.receive_data(b'ams":[{"A":7,"B":8}],"id":0}\\n')
    message = fmt.next_message()           # -> Message(header=Request("Arith.Multiply", 1), ...)
    args = fmt.decode_body(message, Args)  # -> Args(A=7, B=8)
    fmt.encode(Response("Arith.Multiply", 1), 56)   # -> b'{"id":0,"result":56,"error":null}\\n'

The contract every format keeps (its callers: ``minirpc.stream`` under the
threaded server and client, ``minirpc.aio`` under asyncio):

``receive_data(data)``
    Append bytes read from the peer; ``b""`` means the peer closed.
``next_message() -> Message | NEED_DATA``
    The next whole message, or ``NEED_DATA`` until more bytes arrive.  Raises
    ``ProtocolError`` for bytes that break the rules (including a message over
    ``max_message`` bytes, refused as soon as that is known), a bare
    ``EOFError`` at a clean end of stream, ``TruncatedMessage`` when the
    stream ended inside a message.  After raising, the format is unusable.
``decode_body(message, type)``
    The message's body decoded into ``type`` (``None``: plain values).  Raises
    ``BodyError`` when the body does not fit: the stream is still in step.
    Calling it is optional (a reply nobody waits for is dropped undecoded):
    ``next_message`` has already taken the whole message off the stream.
``encode(header, body, body_type=None) -> bytes``
    The bytes of one whole message.  Raises (``TypeError``, ``ValueError``,
    ``GobError``) for a body it cannot encode, and then leaves its state as if
    it had never been called, so a caller may send something else instead.

A client format may also keep ``forget(seq)``: the call with that ``seq`` was
given up (timed out, cancelled, never written), so whatever the format keeps
for it until its reply -- JSON-RPC's method name -- must go now: a server
that never answers must not make a long-lived client grow.  Its reply, if it
comes, is still read (the stream stays in step), with less in its header.

A server reads requests and encodes responses; a client the other way round.
Reading and writing may happen on two threads at once, but each of the two
is done by one thread at a time (the stream layer sees to that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Union

from .values import Uint

#: The largest message a format accepts by default (Go has no limit; we do).
DEFAULT_MAX_MESSAGE = 32 * 1024 * 1024


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: What ``next_message`` returns while the bytes so far hold no whole message.
NEED_DATA = _NeedData()


@dataclass
class Request:
    """The header that precedes every request body (Go's ``rpc.Request``; a format that
    sends Go's struct as it is -- gob -- uses the Go names in ``metadata``)."""

    service_method: str = field(default="", metadata={"go": "ServiceMethod"})  # "Service.Method"
    seq: Uint = field(default=0, metadata={"go": "Seq"})  # chosen by the client, echoed in the Response


@dataclass
class Response:
    """The header that precedes every response body (Go's ``rpc.Response``)."""

    service_method: str = field(default="", metadata={"go": "ServiceMethod"})  # echoes the request
    seq: Uint = field(default=0, metadata={"go": "Seq"})  # echoes the request
    error: str = field(default="", metadata={"go": "Error"})  # "" means success; otherwise the body is meaningless


class Message:
    """One whole message as a format read it."""

    __slots__ = ("header", "body", "data", "setup", "call")

    def __init__(self, header: Union[Request, Response], body: Any, data: bytes = b"", setup: bytes = b"",
                 call: bytes | None = None):
        self.header = header
        self.body = body  # the format's own form of the body, for decode_body
        self.data = data  # every byte the message took on the wire, in order
        # The part of ``data`` that is stream state rather than this call: gob's type
        # definitions, which later messages need even if this one is lost.  ``call``
        # is the rest (all of ``data`` when there is no setup).
        self.setup = setup
        self.call = data if call is None else call

    def __repr__(self) -> str:
        return f"Message(header={self.header!r}, body={self.body!r}, data={self.data!r})"


class Format(Protocol):
    """One side of one connection in some wire format (see the module docstring)."""

    max_message: int

    def receive_data(self, data: bytes) -> None: ...
    def next_message(self) -> Union[Message, _NeedData]: ...
    def decode_body(self, message: Message, type: Any) -> Any: ...
    def encode(self, header: Union[Request, Response], body: Any, body_type: Any = None) -> bytes: ...


@dataclass(frozen=True)
class WireFormat:
    """A format by name, with its two sides: ``server(max_message)`` and ``client(max_message)``."""

    name: str
    server: Any  # callable(max_message) -> Format that reads requests
    client: Any  # callable(max_message) -> Format that reads responses

    def __repr__(self) -> str:
        return f"<WireFormat {self.name}>"
