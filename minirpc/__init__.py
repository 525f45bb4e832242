'''minirpc: Go's net/rpc, rebuilt in small, readable Python.

A remote procedure call looks like a method call, but the method runs in
another process, maybe on another machine.  minirpc does what Go's
``net/rpc`` does, speaks its wire formats, and talks to real Go programs.

1. Write a service: a class whose public methods take one annotated argument
   and return the reply (raise to send an error)::

       from dataclasses import dataclass
       import minirpc

       @dataclass
       class Args:
           A: int
           B: int

       class Arith:
           def Multiply(self, args: Args) -> int:
               return args.A * args.B

           def Divide(self, args: Args) -> float:
               if args.B == 0:
                   raise ValueError("divide by zero")
               return args.A / args.B

2. Register it and serve it::

       server = minirpc.Server()
       server.register(Arith())            # methods become "Arith.Multiply", ...
       serving = server.start("127.0.0.1:0")   # listen + serve in the background

3. Dial and call::

       client = minirpc.dial("tcp", serving.address)
       client.call("Arith.Multiply", Args(7, 8))            # -> 56
       call = client.go("Arith.Multiply", Args(6, 7))       # many in flight
       call.result()                                        # -> 42
       client.call("Arith.Divide", Args(1, 0))              # raises ServerError("divide by zero")

4. Stop: ``client.close()``, then ``server.close()``.

The rules for which methods are published are in ``minirpc.registry``; the
Python <-> wire types in ``minirpc.values``; the codec seam (four methods a
side) in ``minirpc.codec``; the formats in ``minirpc.gob`` (Go's default) and
``minirpc.jsonrpc``; the two roles in ``minirpc.server`` and
``minirpc.client``.  Read them in that order: each is short.
'''

from .codec import DEFAULT_MAX_MESSAGE, BodyError, ClientCodec, Request, Response, ServerCodec
from .errors import (
    CallCancelled,
    CallTimeout,
    ConnectionLost,
    ProtocolError,
    RegistrationError,
    RPCError,
    ServerError,
    ShutdownError,
)
from .client import Call, Client, dial, new_client, new_client_with_codec
from .server import (
    DEFAULT_SERVER,
    Server,
    Serving,
    accept,
    handle_http,
    register,
    register_name,
    serve_codec,
    serve_conn,
    serve_request,
)



def dial_http(network: str, address: str, **options):
    """Go's ``DialHTTP``: dial an RPC server behind an HTTP CONNECT tunnel (see ``minirpc.http``)."""
    from . import http

    return http.dial_http(network, address, **options)


def dial_http_path(network: str, address: str, path: str, **options):
    """Go's ``DialHTTPPath``: ``dial_http`` on a path of your choice."""
    from . import http

    return http.dial_http(network, address, path=path, **options)


__all__ = [
    "Call", "Client", "dial", "new_client", "new_client_with_codec",
    "Server", "Serving", "DEFAULT_SERVER", "handle_http", "dial_http", "dial_http_path", "register", "register_name", "serve_conn", "serve_codec", "serve_request", "accept",
    "Request", "Response", "ServerCodec", "ClientCodec", "BodyError", "DEFAULT_MAX_MESSAGE",
    "RPCError", "ServerError", "ShutdownError", "ConnectionLost", "CallTimeout", "CallCancelled", "RegistrationError", "ProtocolError",
]
