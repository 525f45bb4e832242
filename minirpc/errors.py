"""The exceptions minirpc raises. Every one of them is an ``RPCError``.

Go's net/rpc reports everything as a plain ``error`` value; Python callers want
to catch by kind, so each of Go's error situations gets its own class here:

* ``ServerError``   -- the remote method failed; ``str(err)`` is exactly the
  text the server sent (Go's ``rpc.ServerError``).
* ``ShutdownError`` -- the client is closed or its connection broke before the
  call was sent (Go's ``rpc.ErrShutdown``: "connection is shut down").
* ``ConnectionLost`` -- the connection broke while the call was in flight;
  the message says why, in Go's words ("unexpected EOF", "reading body ...").
* ``CallTimeout``   -- the caller's ``timeout=`` ran out (beyond Go).
* ``CallCancelled`` -- the caller cancelled the call (beyond Go).
* ``RegistrationError`` -- ``Server.register`` refused an object.
* ``ProtocolError`` -- bytes on the wire that a format cannot make sense of.
  ``GobError`` is the gob format's kind (also for values gob cannot encode);
  ``BodyError`` says a body arrived whole but does not fit the wanted type
  (the stream is still in step, so only that call fails).

Formats signal the end of the stream with the built-in ``EOFError``: a bare
one between messages (the peer hung up cleanly), ``TruncatedMessage`` when the
stream stopped in the middle of a message.
"""


class RPCError(Exception):
    """Base class of every error minirpc raises."""


class ServerError(RPCError):
    """The server answered with an error; ``str(err)`` is the server's exact text."""


class ShutdownError(RPCError):
    """Go's ``ErrShutdown``: the client is closed, so the call was never sent."""

    def __init__(self, message: str = "connection is shut down"):
        super().__init__(message)


class ConnectionLost(RPCError, ConnectionError):
    """The connection broke while the call was pending; the text says why."""

    @classmethod
    def because(cls, cause: BaseException, header_read: bool = False) -> "ConnectionLost":
        """In Go's words: ``unexpected EOF`` for an early end, else the cause's text; after
        ``reading body`` when the reply's header had been read (Go: ``reading body unexpected EOF``)."""
        text = "unexpected EOF" if isinstance(cause, EOFError) else str(cause) or type(cause).__name__
        return cls(f"reading body {text}" if header_read else text)


class CallTimeout(RPCError, TimeoutError):
    """No reply arrived within the call's ``timeout``; a late reply is dropped."""


class CallCancelled(RPCError):
    """The call was cancelled by the caller before its reply arrived."""


class RegistrationError(RPCError):
    """``register``/``register_name`` refused an object (Go's ``Register`` error)."""


class ProtocolError(RPCError, ValueError):
    """Bytes that break a format's rules: malformed, oversized or out of order."""


class BodyError(ProtocolError):
    """A body arrived whole but could not be decoded into the wanted type."""


class GobError(ProtocolError):
    """Bytes that are not valid gob, or a value that cannot be gob-encoded."""


class TruncatedMessage(RPCError, EOFError):
    """The stream ended inside a message.  ``header`` is the message's header
    when it had been read whole (gob sends it apart from the body), else None."""

    def __init__(self, message: str = "unexpected EOF", header: object = None):
        super().__init__(message)
        self.header = header
