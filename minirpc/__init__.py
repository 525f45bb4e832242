'''minirpc: Go's net/rpc, rebuilt in small, readable Python.

A remote procedure call looks like a method call, but the method runs in
another process, maybe on another machine.  minirpc does what Go's
``net/rpc`` does, speaks its wire formats, and talks to real Go programs.

1. Write a service: a class whose methods take one annotated argument and
   return the reply (raise to send an error)::

       from dataclasses import dataclass
       import minirpc

       @dataclass
       class Args:
           A: int
           B: int

       @dataclass
       class Quotient:
           Quo: int
           Rem: int

       class Arith:
           def Multiply(self, args: Args) -> int:
               return args.A * args.B

           def Divide(self, args: Args) -> Quotient:
               if args.B == 0:
                   raise ZeroDivisionError("divide by zero")   # the caller sees this text
               quo, rem = divmod(abs(args.A), abs(args.B))       # Go's / and % truncate toward 0
               sign = -1 if (args.A < 0) != (args.B < 0) else 1
               return Quotient(sign * quo, -rem if args.A < 0 else rem)

   (``minirpc.examples.Arith`` is this service.)

2. Register it and serve it::

       server = minirpc.Server()
       server.register(Arith())                # methods become "Arith.Multiply", ...
       serving = server.start("127.0.0.1:0")   # listen and serve in the background

3. Dial and call::

       client = minirpc.dial(serving.address)
       client.call("Arith.Multiply", Args(7, 8))                  # -> 56
       client.call("Arith.Divide", Args(7, 2), reply_type=Quotient)   # -> Quotient(Quo=3, Rem=1)
       client.call("Arith.Divide", Args(1, 0))                    # raises ServerError("divide by zero")

   Without ``reply_type`` a struct reply comes back as plain values (a dict).

4. Many calls in flight, and time limits::

       call = client.go("Arith.Multiply", Args(6, 7))   # returns at once: a Call (a Future)
       call.result()                                    # -> 42, when it arrives
       await call                                       # ... or from asyncio
       client.call("Arith.Multiply", Args(1, 2), timeout=0.5)   # CallTimeout after 0.5 s

   Go has no timeouts; ``dial(address, timeout=2)`` also bounds connecting.

5. Choose the wire format: gob is Go's default; JSON-RPC is readable::

       serving = server.start("127.0.0.1:0", codec="json")
       client = minirpc.dial(serving.address, codec="json")

6. Share a port with a web server, through Go's HTTP CONNECT tunnel (the
   debug page is then at ``/debug/rpc``)::

       web = minirpc.http.start_http(server, "127.0.0.1:0")
       client = minirpc.dial_http(web.address)

7. Stop: ``client.close()``, then ``server.close()`` (which closes what it
   started, the HTTP server too).

The rules for which methods are published are in ``minirpc.registry``; the
Python <-> wire types in ``minirpc.values``; what a wire format is in
``minirpc.format``, and the two formats in ``minirpc.gob`` and
``minirpc.jsonrpc``; the socket under them in ``minirpc.stream``; Go's
four-method codec seam in ``minirpc.codec``; the two roles in
``minirpc.server`` (with ``minirpc.workers``, the threads, and
``minirpc.connection``, one served connection) and ``minirpc.client``; the
tunnel in ``minirpc.http``.  Read them in that order: each is short.  Then
``minirpc.aio``: the same formats on asyncio, an async client and a
``Server``'s services on an event loop, in one file.  A wire
format of your own is a ``WireFormat`` (see ``minirpc.format``): pass it as
``codec=`` to ``Server.start`` and ``dial``.
'''

from .client import Call, Client, dial, new_client, new_client_with_codec
from .codec import ClientCodec, ServerCodec
from .errors import (BodyError, CallCancelled, CallTimeout, ConnectionLost, ProtocolError, RegistrationError,
                     RPCError, ServerError, ShutdownError)
from .format import DEFAULT_MAX_MESSAGE, Request, Response, WireFormat
from .http import dial_http, dial_http_path, handle_http
from .server import (DEFAULT_SERVER, Server, Serving, accept, register, register_name, serve_codec, serve_conn,
                     serve_request)
from . import http  # noqa: E402  (minirpc.http.start_http and friends)

__all__ = [
    "Call", "Client", "dial", "new_client", "new_client_with_codec",
    "Server", "Serving", "DEFAULT_SERVER", "handle_http", "dial_http", "dial_http_path", "register",
    "register_name", "serve_conn", "serve_codec", "serve_request", "accept", "http",
    "Request", "Response", "WireFormat", "ServerCodec", "ClientCodec", "BodyError", "DEFAULT_MAX_MESSAGE",
    "RPCError", "ServerError", "ShutdownError", "ConnectionLost", "CallTimeout", "CallCancelled",
    "RegistrationError", "ProtocolError",
]
