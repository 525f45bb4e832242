"""The exceptions minirpc raises. Every one of them is an ``RPCError``.

Go's net/rpc reports everything as a plain ``error`` value; Python callers want
to catch by kind, so each of Go's error situations gets its own class here:

* ``ServerError``   -- the remote method failed; ``str(err)`` is exactly the
  text the server sent (Go's ``rpc.ServerError``).
* ``ShutdownError`` -- the client is closed or its connection broke before the
  call was sent (Go's ``rpc.ErrShutdown``: "connection is shut down").
* ``ConnectionLost`` -- the connection broke while the call was in flight;
  the message says why (Go hands back the raw read error, e.g. "unexpected EOF").
* ``CallTimeout``   -- the caller's ``timeout=`` ran out (beyond Go).
* ``CallCancelled`` -- the caller cancelled the call (beyond Go).
* ``RegistrationError`` -- ``Server.register`` refused an object.
* ``ProtocolError`` -- bytes on the wire that a codec cannot make sense of;
  ``GobError`` is the gob codec's kind (also for values gob cannot encode).
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


class CallTimeout(RPCError, TimeoutError):
    """No reply arrived within the call's ``timeout``; a late reply is dropped."""


class CallCancelled(RPCError):
    """The call was cancelled by the caller before its reply arrived."""


class RegistrationError(RPCError):
    """``register``/``register_name`` refused an object (Go's ``Register`` error)."""


class ProtocolError(RPCError, ValueError):
    """Bytes that break the codec's rules: malformed, oversized or out of order."""


class GobError(ProtocolError):
    """Bytes that are not valid gob, or a value that cannot be gob-encoded."""
