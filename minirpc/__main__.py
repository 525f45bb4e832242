"""Command line: serve Python objects over RPC, or call a method from a shell.

    python -m minirpc serve minirpc.examples:Arith
    python -m minirpc call 127.0.0.1:1234 Arith.Multiply '{"A": 7, "B": 8}'

Run ``python -m minirpc --help`` (or ``serve --help``, ``call --help``) for
every option.  ``serve`` prints ``LISTEN host:port`` as its first line, so a
script can start it on port 0 and read which port it got.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import signal
import ssl
import sys
import threading
import typing

from . import net
from .values import from_plain, to_plain

EXAMPLES = """\
examples:
  # serve the Arith example on a port of the system's choosing (plain TCP)
  python -m minirpc serve minirpc.examples:Arith
  #   -> LISTEN 127.0.0.1:40123
  python -m minirpc call 127.0.0.1:40123 Arith.Multiply '{"A": 7, "B": 8}'
  #   -> 56
  python -m minirpc call 127.0.0.1:40123 Arith.Divide '{"A": 1, "B": 0}'
  #   -> error: divide by zero        (on stderr, exit status 1)

  # the same over HTTP (Go's rpc.HandleHTTP), guarded by a token;
  # the debug page is then at http://127.0.0.1:1234/debug/rpc
  python -m minirpc serve minirpc.examples:Arith --address 127.0.0.1:1234 --http --token s3cret
  python -m minirpc call 127.0.0.1:1234 Arith.Multiply '{"A": 7, "B": 8}' --http --token s3cret

  # TLS (plain TCP or --http): the server needs a certificate, the client the CA that signed it
  python -m minirpc serve minirpc.examples:Arith --certfile server.pem --keyfile server.key
  python -m minirpc call 127.0.0.1:40123 Arith.Multiply '{"A": 7, "B": 8}' --cafile ca.pem
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.command is None:
        parser.print_help()
        return 2
    if options.token and not options.http:
        parser.error("--token needs --http: only the HTTP handshake has headers to check a token in")
    return options.run(options)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minirpc", description="Serve Python objects over Go-compatible RPC, or call them.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{serve,call}")

    serve = commands.add_parser(
        "serve", help="register objects and serve them until Ctrl-C", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Create one object of each class (with no arguments), register it under its class "
                    "name, print 'LISTEN host:port', then serve until interrupted (Ctrl-C or SIGTERM).")
    serve.add_argument("classes", nargs="+", metavar="MODULE:Class",
                       help="a class to serve, e.g. minirpc.examples:Arith")
    serve.add_argument("--address", default="127.0.0.1:0",
                       help="host:port to listen on (default 127.0.0.1:0 = any free port)")
    serve.add_argument("--certfile", help="serve TLS with this certificate chain (PEM)")
    serve.add_argument("--keyfile", help="the private key for --certfile (PEM)")
    serve.set_defaults(run=_serve)

    call = commands.add_parser(
        "call", help="call one method and print the reply as JSON", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Call Service.Method at ADDRESS with JSON-ARGS; print the reply as JSON, or the error "
                    "on stderr with exit status 1.")
    call.add_argument("address", metavar="ADDRESS", help="host:port of the server")
    call.add_argument("method", metavar="Service.Method", help="e.g. Arith.Multiply")
    call.add_argument("args", metavar="JSON-ARGS", help='the argument as JSON, e.g. \'{"A": 7, "B": 8}\'')
    call.add_argument("--arg-type", metavar="MODULE:Type",
                      help="build the argument as this type first (e.g. minirpc.examples:Args); without it "
                           "a JSON object is sent as a struct with the same field names")
    call.add_argument("--timeout", type=float, help="give up after this many seconds")
    call.add_argument("--cafile", help="use TLS, trusting the CA certificates in this PEM file")
    call.set_defaults(run=_call)

    for sub in (serve, call):
        sub.add_argument("--http", action="store_true",
                         help="speak through an HTTP CONNECT tunnel, as Go's rpc.HandleHTTP/DialHTTP")
        sub.add_argument("--codec", choices=sorted(net.CODECS),
                         help=f"wire format (default {net.DEFAULT_CODEC}, as Go)")
        sub.add_argument("--token", default=os.environ.get("MINIRPC_TOKEN"),
                         help="with --http: the bearer token the server demands / the client sends "
                              "(default: $MINIRPC_TOKEN, which other users cannot see in `ps`)")
    return parser


def _import(spec: str):
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise SystemExit(f"error: {spec!r} should look like MODULE:Name, e.g. minirpc.examples:Arith")
    value = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def _serve(options) -> int:
    from .http import bearer_token, start_http
    from .server import Server

    server = Server()
    for spec in options.classes:
        server.register(_import(spec)())
    context = None
    if options.certfile:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options.certfile, options.keyfile)
    if options.http:
        auth = bearer_token(options.token) if options.token else None
        serving = start_http(server, options.address, auth=auth, codec=options.codec, ssl_context=context)
    else:
        serving = server.start(options.address, codec=options.codec, ssl_context=context)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print("LISTEN", serving.address, flush=True)
    if options.http:
        print(f"debug page: {serving.url}/debug/rpc", flush=True)
    while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
        pass
    serving.close()
    server.close()
    return 0


def _call(options) -> int:
    from .client import dial
    from .errors import RPCError
    from .http import bearer_headers, dial_http

    try:
        args = json.loads(options.args)
        if options.arg_type:
            args = from_plain(args, _import(options.arg_type), "args")
        else:
            args = _as_struct(args)
    except ValueError as e:
        print(f"error: JSON-ARGS: {e}", file=sys.stderr)
        return 2
    context = ssl.create_default_context(cafile=options.cafile) if options.cafile else None
    try:
        if options.http:
            headers = bearer_headers(options.token) if options.token else None
            client = dial_http("tcp", options.address, headers=headers, codec=options.codec,
                               timeout=options.timeout, ssl_context=context)
        else:
            client = dial("tcp", options.address, codec=options.codec, timeout=options.timeout, ssl_context=context)
        with client:
            reply = client.call(options.method, args, timeout=options.timeout)
    except (RPCError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(to_plain(reply), default=_bytes_as_text))
    return 0


def _as_struct(value, name="Args"):
    """Turn a JSON object into a dataclass instance with the same fields, so
    that gob sends it as a struct (a Go server matches struct fields by name).
    A JSON object whose keys are not identifiers stays a dict (a Go map)."""
    if isinstance(value, list):
        return [_as_struct(v, name) for v in value]
    if not isinstance(value, dict) or not all(k.isidentifier() for k in value):
        return value
    fields = {k: _as_struct(v, k.capitalize()) for k, v in value.items()}
    cls = dataclasses.make_dataclass(name, [(k, _type_of(v)) for k, v in fields.items()])
    return cls(**fields)


def _type_of(value):
    if isinstance(value, list):
        return list[_type_of(value[0])] if value else list[typing.Any]
    return typing.Any if value is None else type(value)


def _bytes_as_text(value):
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


if __name__ == "__main__":
    sys.exit(main())
