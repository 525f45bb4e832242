"""Command line: serve Python objects over RPC, or call a method from a shell.

    python -m minirpc serve minirpc.examples:Arith
    python -m minirpc call 127.0.0.1:1234 Arith.Multiply '{"A": 7, "B": 8}'

Run ``python -m minirpc --help`` (or ``serve --help``, ``call --help``) for
every option.  ``serve`` prints ``LISTEN host:port`` as its first line, so a
script can start it on port 0 and read which port it got.

The command line is for people trying things out, so it has three promises:

* **It never hangs.**  ``call`` has a deadline for the whole command
  (connect, TLS, HTTP handshake and the reply): ``--timeout``, 10 s unless
  you say otherwise.  The work runs on a worker thread and the main thread
  simply stops waiting at the deadline, so no step can outlive it, whatever
  the library's own timeouts cover.
* **A mistake gets one line, not a traceback**: ``error: what went wrong:
  what to try`` on stderr.  Exit status 1 when the work failed, 2 when the
  command line itself is wrong (nothing was tried), 130 after Ctrl-C.
  ``--debug`` (or ``MINIRPC_DEBUG=1``) adds the Python traceback.
* **A hint is only given when it was seen.**  When the server does not answer
  as expected, ``call`` asks it, in parallel and for at most
  ``PROBE_BUDGET`` seconds, what it speaks: each probe is a request for the
  ill-formed method name ``minirpc-probe`` (a Go or minirpc server rejects
  it without calling anything), sent in gob and in JSON, over plain TCP and
  through HTTP CONNECT, with and without TLS.  A proper error reply in one
  of those settings shows what the server speaks, and the hint names the
  option to change.  Probes never carry your token.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import errno
import importlib
import inspect
import json
import keyword
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import typing

from .codec import DEFAULT_FORMAT, FORMATS
from .client import dial
from .errors import ConnectionLost, ProtocolError, RegistrationError, ServerError
from .http import HTTPTunnelError, bearer_headers, bearer_token, dial_http, start_http
from .server import Server
from .values import from_plain, to_plain

DEFAULT_TIMEOUT = 10.0  # seconds for a whole `call`, unless --timeout says otherwise
TIMEOUT_RANGE = (0.01, 86400.0)  # what --timeout accepts: 10 ms to a day
PROBE_AFTER = 1.0  # seconds without a reply before call starts asking the server what it speaks
PROBE_BUDGET = 2.0  # seconds the probes may still take once the call has failed
PROBE_METHOD = "minirpc-probe"  # no dot: every Go/minirpc server refuses it without calling anything
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
CODEC_NAMES = {"gob": "gob", "json": "JSON-RPC"}

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

when something goes wrong:
  Every error is one line on stderr: what went wrong, and what to try.  Exit status:
  0 done, 1 failed, 2 the command line is wrong (nothing was tried), 130 interrupted (Ctrl-C).
  --debug (or MINIRPC_DEBUG=1) prints the Python traceback as well.
"""

CALL_NOTES = f"""\
how JSON-ARGS is sent:
  A JSON object becomes a struct with the same field names (--arg-type picks a type instead).
  As in Go, the server matches fields by their exact name ("a" is not "A"), ignores fields it
  does not have, and sets the ones you leave out to zero: '{{"A": 7}}' calls Arith.Multiply
  with B = 0, so it prints 0.  Put JSON-ARGS in single quotes: the shell keeps the double quotes.

time limits:
  The whole command (connect, TLS, the HTTP handshake and the reply) must finish within
  --timeout seconds: {DEFAULT_TIMEOUT:g} by default, {TIMEOUT_RANGE[0]:g} to {TIMEOUT_RANGE[1]:g} allowed.  When the server does
  not answer as expected ({PROBE_AFTER:g} s without a reply, or the call failed), call asks it, for
  at most {PROBE_BUDGET:g} s more, whether it speaks gob or JSON, plain TCP or HTTP, TLS or not, and
  names the option to change ("try --codec gob", "add --http").

{EXAMPLES}"""


class UsageError(Exception):
    """The command line is wrong; nothing was tried (exit status 2)."""


class Failure(Exception):
    """The work failed; ``str()`` is the one line for the user (exit status 1).
    ``cause`` (an exception) or ``stack`` (text) is what ``--debug`` shows."""

    def __init__(self, message: str, cause: BaseException | None = None, stack: str = ""):
        super().__init__(message)
        self.cause, self.stack = cause, stack


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("MINIRPC_DEBUG", "") not in ("", "0")
    try:
        parser = _parser()
        options = _parse(parser, argv)
        if options.command is None:
            parser.print_help()
            return EXIT_USAGE
        return options.run(options)
    except UsageError as e:
        _say(f"error: {e}")
        return EXIT_USAGE
    except Failure as e:
        if debug and e.cause is not None:
            traceback.print_exception(e.cause)
        elif debug and e.stack:
            print(e.stack, end="", file=sys.stderr)
        _say(f"error: {e}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say("error: interrupted")
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug in minirpc, not the user's mistake: still one line, unless --debug
        if debug:
            traceback.print_exc()
        _say(f"error: {type(e).__name__}: {e} (a bug in minirpc? --debug shows the traceback)")
        return EXIT_FAILED


def _say(line: str) -> None:
    """Print one line on stderr: newlines inside become spaces."""
    print(" ".join(line.split("\n")), file=sys.stderr, flush=True)


# -- the command line ---------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (argparse prints the usage too)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m minirpc", description="Serve Python objects over Go-compatible RPC, or call them.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{serve,call}")

    serve = commands.add_parser(
        "serve", help="register objects and serve them until Ctrl-C", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Create one object of each class (with no arguments), register it under its class "
                    "name, print 'LISTEN host:port', then serve until interrupted (Ctrl-C or SIGTERM).")
    serve.add_argument("classes", nargs="+", metavar="MODULE:Class",
                       help="a class to serve, e.g. minirpc.examples:Arith (MODULE is imported from the "
                            "current folder or PYTHONPATH)")
    serve.add_argument("--address", default="127.0.0.1:0", type=_listen_address,
                       help="host:port to listen on (default 127.0.0.1:0: this machine only, any free port; "
                            "0.0.0.0:PORT listens on every interface)")
    serve.add_argument("--certfile", help="serve TLS with this certificate chain (PEM)")
    serve.add_argument("--keyfile", help="the private key for --certfile (PEM; not needed if --certfile holds it)")
    serve.set_defaults(run=_serve)

    call = commands.add_parser(
        "call", help="call one method and print the reply as JSON", epilog=CALL_NOTES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Call Service.Method at ADDRESS with JSON-ARGS; print the reply as JSON, or one line "
                    "saying what went wrong on stderr with exit status 1.")
    call.add_argument("address", metavar="ADDRESS", type=_call_address,
                      help="host:port of the server, as serve printed it after LISTEN (e.g. 127.0.0.1:40123)")
    call.add_argument("method", metavar="Service.Method", type=_service_method,
                      help="e.g. Arith.Multiply (names are case-sensitive)")
    call.add_argument("args", metavar="JSON-ARGS", help='the argument as JSON, e.g. \'{"A": 7, "B": 8}\'')
    call.add_argument("--arg-type", metavar="MODULE:Type",
                      help="build the argument as this type first (e.g. minirpc.examples:Args); without it "
                           "a JSON object is sent as a struct with the same field names")
    call.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                      help=f"give up after this many seconds, for the whole command (default {DEFAULT_TIMEOUT:g})")
    call.add_argument("--cafile", help="use TLS, trusting the CA certificates in this PEM file")
    call.set_defaults(run=_call)

    for sub in (serve, call):
        sub.add_argument("--http", action="store_true",
                         help="speak through an HTTP CONNECT tunnel, as Go's rpc.HandleHTTP/DialHTTP")
        sub.add_argument("--codec", choices=sorted(FORMATS),
                         help=f"wire format (default {DEFAULT_FORMAT}, as Go)")
        sub.add_argument("--token",
                         help="with --http: the bearer token the server demands / the client sends "
                              "(default: $MINIRPC_TOKEN when --http is given; other users cannot see it in `ps`)")
        sub.add_argument("--debug", action="store_true", help="print the Python traceback of an error too "
                                                              "(or set MINIRPC_DEBUG=1)")
    parser.option_names = {name: sorted(set(re.findall(r"--[\w-]+", sub.format_usage())))  # for "did you mean"
                           for name, sub in (("serve", serve), ("call", call))}
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    options, extra = parser.parse_known_args(argv)
    if extra:
        if options.command == "call" and not any(word.startswith("-") for word in extra):
            words = " ".join([options.args, *extra])
            raise UsageError(f"JSON-ARGS arrived as {len(extra) + 1} words ({words}): the shell split it; "
                             f"put it in single quotes, e.g. '{{\"A\": 7, \"B\": 8}}'")
        known = parser.option_names.get(options.command, [])
        guesses = [g for word in extra if word.startswith("--")
                   for g in difflib.get_close_matches(word.split("=")[0], known, n=1)]
        also = f"; did you mean {' '.join(guesses)}?" if guesses else ""
        command = f"python -m minirpc {options.command}" if options.command else "python -m minirpc"
        raise UsageError(f"unrecognized arguments: {' '.join(extra)}{also} (see {command} --help)")
    if options.command is None:
        return options
    # A token only means something in the HTTP handshake: $MINIRPC_TOKEN applies
    # with --http only, and --token without --http is a mistake worth saying.
    options.token_source = "--token"
    if options.token is not None:
        if not options.http:
            raise UsageError("--token needs --http: only the HTTP handshake has headers to carry a token")
        if not options.token:
            raise UsageError("--token is empty: give the token, or leave --token out")
    elif options.http and os.environ.get("MINIRPC_TOKEN"):
        options.token, options.token_source = os.environ["MINIRPC_TOKEN"], "$MINIRPC_TOKEN"
    if options.token and not (options.token.isascii() and options.token.isprintable()):
        raise UsageError(f"{options.token_source} must be one line of printable ASCII (it goes into an HTTP header)")
    if options.command == "serve" and options.keyfile and not options.certfile:
        raise UsageError("--keyfile needs --certfile: the key belongs to a certificate")
    return options


def _service_method(text: str) -> str:
    service, dot, method = text.rpartition(".")
    if not dot or not service or not method:
        raise argparse.ArgumentTypeError(f"{text!r} should look like Service.Method, e.g. Arith.Multiply")
    return text


def _seconds(text: str) -> float:
    low, high = TIMEOUT_RANGE
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from {low:g} to {high:g}, "
                                         f"e.g. --timeout 30")
    return seconds


def _call_address(text: str) -> str:
    return _check_address(text, listening=False)


def _listen_address(text: str) -> str:
    return _check_address(text, listening=True)


def _check_address(text: str, listening: bool) -> str:
    """Check ``host:port`` the way Go's ``net.SplitHostPort`` reads it, and
    say how to write it when it is not.  The host is checked later, by DNS."""
    def wrong(why: str) -> argparse.ArgumentTypeError:
        return argparse.ArgumentTypeError(f"{text!r} {why}")

    if "://" in text:
        scheme, _, rest = text.partition("://")
        host_port = rest.split("/", 1)[0] or "127.0.0.1:1234"
        also = "; add --http for an HTTP server" if scheme.lower() == "http" else \
            "; add --http --cafile CA.pem for an HTTPS server" if scheme.lower() == "https" else ""
        raise wrong(f"is a URL: write only host:port ({host_port}){also}")
    if "/" in text:
        raise wrong(f"has a path: write only host:port ({text.split('/', 1)[0]}); an RPC address has no path")
    if text.startswith("["):  # [IPv6]:port
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise wrong("has no closing ']': write an IPv6 address as [::1]:1234")
        if not rest.startswith(":") or rest == ":":
            raise wrong(f"has no port: write [{host}]:PORT, e.g. [{host}]:1234")
        port = rest[1:]
    else:
        host, colon, port = text.rpartition(":")
        if not colon:
            raise wrong(f"has no port: write host:port, e.g. {text or 'localhost'}:1234")
        if ":" in host:
            raise wrong(f"has too many colons: write an IPv6 address in brackets, e.g. [{host}]:{port or 1234}")
        if not port:
            raise wrong(f"has no port: write host:port, e.g. {host or 'localhost'}:1234")
    if not (port.isascii() and port.isdigit()):
        raise wrong(f"has a port that is not a number ({port!r}): write host:port, e.g. {host or 'localhost'}:1234")
    if int(port) > 65535:
        raise wrong(f"has a port out of range ({int(port)}): ports go from 1 to 65535")
    if int(port) == 0 and not listening:
        raise wrong("has port 0, which means 'any free port' and only makes sense for serve: "
                    "use the port serve printed after LISTEN")
    return text


def _import(spec: str, what: str = "class"):
    """``"package.module:Name"`` -> the object, or one line saying why not."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise UsageError(f"{spec!r} should look like MODULE:{what.capitalize()}, e.g. minirpc.examples:Arith")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise Failure(f"no module named {e.name!r} (for {spec}): run from the folder that holds it, "
                          f"or add that folder to PYTHONPATH", e) from e
        raise Failure(f"importing {module_name} failed {_where(e)}: {type(e).__name__}: {e} "
                      f"(--debug shows the traceback)", e) from e
    except Exception as e:  # an error inside the user's module, e.g. a SyntaxError
        raise Failure(f"importing {module_name} failed {_where(e)}: {type(e).__name__}: {e} "
                      f"(--debug shows the traceback)", e) from e
    value, path = module, module_name
    for part in attribute.split("."):
        if not hasattr(value, part):
            if value is module:
                classes = sorted(n for n, v in vars(module).items()
                                 if isinstance(v, type) and not n.startswith("_") and v.__module__ == module.__name__)
                known = f"; it has {', '.join(classes)}" if classes else "; it defines no classes"
                raise Failure(f"module {module_name} has no {what} {part!r}{known}")
            raise Failure(f"{path} has no attribute {part!r}")
        value, path = getattr(value, part), f"{path}.{part}"
    return value


def _where(error: BaseException) -> str:
    """``at path/file.py:LINE`` for an exception: its own place, or its last frame."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"at {error.filename}:{error.lineno}"
    frames = traceback.extract_tb(error.__traceback__)
    return f"at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""


def _readable(path: str, option: str) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise Failure(f"cannot read {option} {path}: {e.strerror or e}") from e


# -- serve ------------------------------------------------------------------------


def _serve(options) -> int:
    receivers = [(spec, _instantiate(spec)) for spec in options.classes]
    context = _server_tls(options.certfile, options.keyfile) if options.certfile else None
    server = Server()
    try:
        for spec, receiver in receivers:
            try:
                server.register(receiver)
            except RegistrationError as e:
                first, *reasons = str(e).splitlines()
                text = " ".join([first, "; ".join(r.strip() for r in reasons)]).strip()
                hint = ("a method to serve looks like: def Multiply(self, args: Args) -> int"
                        if "suitable type" in text else "serve each class once")
                raise Failure(f"cannot serve {spec}: {text}: {hint}", e) from e
        try:
            if options.http:
                auth = bearer_token(options.token) if options.token else None
                serving = start_http(server, options.address, auth=auth, codec=options.codec, ssl_context=context)
            else:
                serving = server.start(options.address, codec=options.codec, ssl_context=context)
        except OSError as e:
            raise Failure(_listen_problem(e, options.address), e) from e

        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        print("LISTEN", serving.address, flush=True)
        if options.http:
            print(f"debug page: {serving.url}/debug/rpc", flush=True)
        while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
            pass
        serving.close()
    finally:
        server.close()
    return 0


def _instantiate(spec: str):
    """Import a class and make one object of it with no arguments."""
    cls = _import(spec)
    if not isinstance(cls, type):
        kind = type(cls).__name__
        raise Failure(f"{spec} is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a class: "
                      f"serve makes one object of each class")
    try:
        inspect.signature(cls).bind()
    except TypeError as e:
        raise Failure(f"{spec}() needs arguments ({e}): serve makes each object with no arguments, "
                      f"so give them default values") from e
    except ValueError:
        pass  # no signature to read (some built-in types): just try
    try:
        return cls()
    except Exception as e:
        raise Failure(f"creating {spec}() failed {_where(e)}: {type(e).__name__}: {e} "
                      f"(--debug shows the traceback)", e) from e


def _no_password():
    raise Failure("--keyfile is encrypted and serve cannot ask for its password: "
                  "decrypt it first (openssl pkey -in KEY -out PLAIN-KEY)")


def _server_tls(certfile: str, keyfile: str | None) -> ssl.SSLContext:
    _readable(certfile, "--certfile")
    if keyfile:
        _readable(keyfile, "--keyfile")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_password)
    except ssl.SSLError as e:
        with open(certfile, "rb") as f:
            cert_text = f.read()
        key_text = cert_text if not keyfile else open(keyfile, "rb").read()
        if b"-----BEGIN CERTIFICATE-----" not in cert_text:
            why = f"--certfile {certfile} holds no PEM certificate"
        elif b"PRIVATE KEY-----" not in key_text:
            why = f"--keyfile {keyfile} holds no PEM private key" if keyfile else \
                f"--certfile {certfile} holds no private key: add --keyfile KEY.pem"
        elif e.reason == "KEY_VALUES_MISMATCH":
            why = f"--keyfile {keyfile or certfile} is not the key of the certificate in --certfile {certfile}"
        else:
            why = f"cannot use --certfile {certfile}{' and --keyfile ' + keyfile if keyfile else ''}: {e.reason or e}"
        raise Failure(why, e) from e
    return context


def _listen_problem(error: OSError, address: str) -> str:
    host = address.rpartition(":")[0].strip("[]")
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {address}: cannot find host {host!r} ({error.strerror})"
    if error.errno == errno.EADDRINUSE:
        return (f"cannot listen on {address}: the port is in use (by another server?): pick another port, "
                f"or port 0 for any free one")
    if error.errno == errno.EACCES:
        return f"cannot listen on {address}: permission denied (ports below 1024 need root): use a port above 1023"
    if error.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {address}: {host} is not an address of this machine: use 127.0.0.1 "
                f"(this machine only) or 0.0.0.0 (every interface)")
    return f"cannot listen on {address}: {error.strerror or error}"


# -- call -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    """One way to talk to a server: what ``call``'s options choose."""

    tls: bool
    http: bool
    codec: str

    def differences(self, theirs: "Setting") -> list[tuple[str, str]]:
        """(what the server does, what to change) for each way ``theirs`` differs."""
        found = []
        if theirs.tls != self.tls:
            found.append(("speaks TLS", "add --cafile CA.pem (the CA that signed its certificate)") if theirs.tls
                         else ("does not speak TLS", "drop --cafile"))
        if theirs.http != self.http:
            found.append(("answered like an HTTP server", "add --http") if theirs.http
                         else ("is a plain RPC server, not an HTTP one", "drop --http"))
        if theirs.codec != self.codec:
            found.append((f"speaks {CODEC_NAMES.get(theirs.codec, theirs.codec)}", f"try --codec {theirs.codec}"))
        return found


@dataclasses.dataclass
class Target:
    """Where and how ``call`` talks: the address, the setting, and what goes with it."""

    address: str
    setting: Setting
    context: ssl.SSLContext | None = None  # TLS, when --cafile is given
    token: str | None = None
    token_source: str = "--token"

    def connect(self, timeout: float, setting: Setting | None = None, context=None, token=None):
        """Dial with our setting, TLS context and token, or with the ones given; return a Client."""
        if setting is None:
            setting, context, token = self.setting, self.context, self.token
        if setting.http:
            headers = bearer_headers(token) if token else None
            return dial_http("tcp", self.address, headers=headers, codec=setting.codec, timeout=timeout,
                             ssl_context=context)
        return dial("tcp", self.address, codec=setting.codec, timeout=timeout, ssl_context=context)


class Worker:
    """Runs ``work(worker)`` on a daemon thread, so that the main thread can
    stop waiting at a deadline, whichever step is stuck.  A worker left behind
    dies with the process.  ``stage`` says what it is doing now."""

    def __init__(self, work, name: str):
        self.stage = "connect"
        self.result = self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(work,), name=name, daemon=True)
        self.thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work(self)
        except BaseException as e:
            self.error = e
        finally:
            self.done.set()

    def stack(self) -> str:
        """Where the worker is stuck, for --debug."""
        frame = sys._current_frames().get(self.thread.ident)
        return "".join(["the call was waiting here:\n", *traceback.format_stack(frame)]) if frame else ""


def _call(options) -> int:
    args = _json_args(options)
    context = _client_tls(options.cafile) if options.cafile else None
    target = Target(options.address, Setting(bool(context), options.http, options.codec or DEFAULT_FORMAT),
                    context, options.token, options.token_source)
    start = time.monotonic()
    deadline = start + options.timeout

    def work(worker: Worker):
        client = target.connect(timeout=max(deadline - time.monotonic(), 0.001))
        worker.stage = "call"
        with client:
            return client.call(options.method, args, timeout=max(deadline - time.monotonic(), 0.001))

    attempt = Worker(work, "minirpc-cli-call")
    probe = None
    while not attempt.done.wait(min(0.05, max(deadline - time.monotonic(), 0))):
        now = time.monotonic()
        if now >= deadline:
            break
        if probe is None and now - start >= PROBE_AFTER:
            probe = Probe(target)
        if probe is not None and probe.contradicts(target.setting):
            break  # the server answers in another setting: ours will never get a reply
    if attempt.done.is_set() and attempt.error is None:
        print(json.dumps(to_plain(attempt.result), default=_bytes_as_text))
        return 0
    problem = _explain(attempt, target, options, time.monotonic() - start)
    hint = problem.hint
    if problem.probe:
        probe = probe or Probe(target)
        probe.wait(PROBE_BUDGET)
        hint = probe.verdict(target) or problem.hint
        if hint == SAME:
            hint = problem.if_same
    raise Failure(f"{problem.what}: {hint}" if hint else problem.what,
                  attempt.error, "" if attempt.done.is_set() else attempt.stack())


def _json_args(options):
    try:
        args = json.loads(options.args)
    except ValueError as e:
        raise UsageError(f"JSON-ARGS {options.args!r} is not JSON ({e}): write it in single quotes with double-quoted "
                         f"names, e.g. '{{\"A\": 7, \"B\": 8}}'") from e
    if not options.arg_type:
        return _as_struct(args)
    arg_type = _import(options.arg_type, "type")
    if dataclasses.is_dataclass(arg_type) and isinstance(args, dict):
        fields = [f.name for f in dataclasses.fields(arg_type)]
        unknown = [k for k in args if k not in fields]
        if unknown:
            raise UsageError(f"JSON-ARGS has {', '.join(map(repr, unknown))}, which {arg_type.__name__} does not "
                             f"have (its fields: {', '.join(fields)}; names are case-sensitive)")
    try:
        return from_plain(args, arg_type, "args")
    except (ValueError, TypeError) as e:
        raise UsageError(f"JSON-ARGS does not fit {options.arg_type}: {e}") from e


def _client_tls(cafile: str) -> ssl.SSLContext:
    _readable(cafile, "--cafile")
    try:
        return ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as e:
        raise Failure(f"--cafile {cafile} holds no PEM certificate: give the CA certificate that signed the "
                      f"server's certificate", e) from e


@dataclasses.dataclass
class Problem:
    """What went wrong, and what to say after it: ``hint``; or, with
    ``probe``, whatever the probes show (``hint`` if they show nothing,
    ``if_same`` if the server answers in our very setting)."""

    what: str
    hint: str = ""
    probe: bool = False
    if_same: str = ""


SILENT = ("the server accepted the connection but answered none of the probes (gob and JSON, plain TCP and HTTP, "
          "with and without TLS): is it a Go or minirpc RPC server? is it overloaded?")
CLOSED = "see the server's own output for the reason"


def _explain(attempt: Worker, target: Target, options, elapsed: float) -> Problem:
    """Turn the attempt's error (or the missed deadline) into words."""
    error, address, timeout = attempt.error, target.address, options.timeout
    host = address.rpartition(":")[0].strip("[]") or "localhost"
    if error is None or isinstance(error, TimeoutError):  # our deadline, a CallTimeout, a connect timeout
        if not attempt.done.is_set() and elapsed < timeout:  # stopped early: a probe showed a mismatch
            return Problem(f"no reply after {elapsed:.1f} s", probe=True)
        if attempt.stage == "call":
            return Problem(f"no reply within {timeout:g} s", SILENT, probe=True,
                           if_same=f"the server answers in this setting, so {options.method} itself took longer "
                                   f"(or the server is busy): try a longer --timeout")
        return Problem(f"no answer from {address} within {timeout:g} s while connecting", SILENT, probe=True,
                       if_same=f"the server answers in this setting, so {timeout:g} s was too short for it (is it "
                               f"busy?): try a longer --timeout")
    if isinstance(error, ServerError):
        return Problem(str(error), _server_error_hint(str(error), target))
    if isinstance(error, socket.gaierror):
        return Problem(f"cannot find host {host!r} ({error.strerror})",
                       "check the name, or use an IP address such as 127.0.0.1")
    if isinstance(error, ConnectionRefusedError):
        return Problem(f"nothing listens at {address} (connection refused)",
                       "is the server running? serve prints its address after LISTEN")
    if isinstance(error, ssl.SSLCertVerificationError):
        if "mismatch" in str(error):
            return Problem(f"certificate verify failed: the server's certificate is not for {host!r}",
                           "connect with a name or IP address that the certificate was issued for")
        return Problem(f"certificate verify failed: the server's certificate is not trusted ({error.verify_message})",
                       f"give --cafile the CA certificate that signed it (not {options.cafile})")
    if isinstance(error, ssl.SSLError):
        return Problem(f"the TLS handshake with {address} failed ({error.reason or error})", probe=True)
    if isinstance(error, HTTPTunnelError):
        status = _http_status(error)
        if status.startswith("401"):
            if target.token:
                return Problem(f"the server refused the token from {target.token_source} ({status})",
                               "check the token the server was started with")
            return Problem(f"the server wants a token ({status})", "pass --token TOKEN, or set $MINIRPC_TOKEN")
        what = (f"the server answered the HTTP CONNECT handshake with {status}" if status else
                f"the HTTP CONNECT handshake failed ({str(error).partition(': ')[2] or error})")
        return Problem(what, "it is not a Go or minirpc HTTP RPC server (those answer 200 Connected to Go RPC)",
                       probe=True)
    if isinstance(error, ConnectionLost):
        what = ("the server closed the connection without a reply" if str(error) == "unexpected EOF" else
                "the server reset the connection" if "reset by peer" in str(error) else
                f"the connection broke before the reply ({error})")
        return Problem(what, CLOSED, probe=True, if_same=f"the server speaks this setting: {CLOSED}")
    if isinstance(error, ProtocolError):  # raised while writing the request: the argument cannot be encoded
        null = options.args.strip() == "null"
        return Problem(f"cannot send JSON-ARGS: {error}",
                       "gob has no null: send {} for an empty struct, or use --codec json" if null else "")
    if isinstance(error, (ConnectionError, EOFError)):
        how = "reset" if isinstance(error, ConnectionResetError) else "closed"
        return Problem(f"the server {how} the connection", CLOSED, probe=True,
                       if_same=f"the server speaks this setting: {CLOSED}")
    if isinstance(error, OSError):
        return Problem(f"cannot reach {address}: {error.strerror or error}",
                       "check the address, and that this machine has a route to it")
    raise error  # not a mistake we know: main() reports it as a bug


def _http_status(error: BaseException) -> str:
    match = re.search(r"unexpected HTTP response: (\d{3}.*)$", str(error))
    return match.group(1) if match else ""


def _server_error_hint(text: str, target: Target) -> str:
    """Errors from the RPC layer (not the method's own) deserve a hint."""
    if text.startswith(("rpc: can't find service", "rpc: can't find method")):
        where = (f"; the server lists its methods at http{'s' if target.context else ''}://{target.address}/debug/rpc"
                 if target.setting.http else "")
        return f"names are case-sensitive, as in Go{where}"
    if "no fields matched" in text:
        return "JSON-ARGS names no field of the server's argument type (field names are case-sensitive)"
    if "want struct" in text:
        return "the method takes a struct: give JSON-ARGS as an object of its fields, e.g. '{\"A\": 7, \"B\": 8}'"
    if re.search(r"got u?int\w*, want float", text):
        return "gob does not turn integers into floats: write the number with a decimal point (5.0, not 5)"
    return ""


SAME = "the server answers in the very setting we used"  # what Probe.verdict says when it saw no mismatch


class Probe:
    """Ask the server, in every setting at once, whether it answers.

    Each probe dials with one ``Setting`` and calls ``minirpc-probe``; the
    server's error reply ("service/method request ill-formed") is the proof
    that it speaks that setting.  Through HTTP, an HTTP status is a finding
    too (``401``: it wants a token).  TLS probes do not check the certificate
    (they only look, and send no secret: never the token).  One more probe
    only opens a TCP connection, to tell "unreachable" from "silent"."""

    def __init__(self, target: Target):
        self.target = target
        self.settings = [Setting(tls, http, codec) for tls in (False, True) for http in (False, True)
                         for codec in sorted(FORMATS)]
        self.answers: dict[Setting, tuple[str, str] | None] = {}  # setting -> (kind, detail), or None
        self.reachable: bool | OSError | None = None  # did a bare TCP connection open?
        self.changed = threading.Condition()
        unverified = ssl.create_default_context()
        unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
        for setting in self.settings:
            Worker(lambda _, s=setting: self._ask(s, unverified), f"minirpc-cli-probe {setting}")
        Worker(lambda _: self._reach(), "minirpc-cli-probe tcp")

    def _ask(self, setting: Setting, unverified: ssl.SSLContext) -> None:
        answer = None
        try:
            with self.target.connect(PROBE_BUDGET, setting, unverified if setting.tls else None) as client:
                client.call(PROBE_METHOD, 0, timeout=PROBE_BUDGET)
            answer = ("rpc", "")  # no server should accept the probe; still, it answered
        except ServerError:
            answer = ("rpc", "")
        except HTTPTunnelError as e:
            if status := _http_status(e):
                answer = ("auth" if status.startswith("401") else "http", status)
        except Exception:
            pass  # no answer in this setting
        with self.changed:
            self.answers[setting] = answer
            self.changed.notify_all()

    def _reach(self) -> None:
        host, _, port = self.target.address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=PROBE_BUDGET).close()
            reachable = True
        except OSError as e:
            reachable = e
        with self.changed:
            self.reachable = reachable
            self.changed.notify_all()

    def _found(self, *kinds: str) -> list[Setting]:
        return [s for s in self.settings if (self.answers.get(s) or ("",))[0] in kinds]

    def contradicts(self, ours: Setting) -> bool:
        """True once the server answered in a setting other than ours: as RPC,
        asking for a token, or (when ours is not HTTP) with any HTTP status."""
        with self.changed:
            return any(s != ours for s in self._found("rpc", "auth", *([] if ours.http else ["http"])))

    def wait(self, seconds: float) -> None:
        """Until one probe is answered as RPC or with 401 (either tells what the
        server is), or all are done, or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        with self.changed:
            while not self._found("rpc", "auth") and (len(self.answers) < len(self.settings) or self.reachable is None):
                if not self.changed.wait(deadline - time.monotonic()) and time.monotonic() >= deadline:
                    return

    def verdict(self, target: Target) -> str:
        """The hint the answers support: what to change, ``SAME`` when the
        server answers in our setting, or "" when no probe showed anything."""
        ours = target.setting
        with self.changed:
            rpc, auth, http, answers = self._found("rpc"), self._found("auth"), self._found("http"), dict(self.answers)
            reachable = self.reachable
        if ours in rpc or (ours in auth and target.token):
            return SAME
        closest = sorted(rpc or auth, key=lambda s: len(ours.differences(s)))
        if closest:
            theirs = closest[0]
            found = ours.differences(theirs)
            if theirs in auth:  # an HTTP server that turned the probe away: it wants a token (codec unknown)
                found = [f for f in found if f[1] != "add --http" and not f[1].startswith("try --codec")]
                found.append(("is an HTTP RPC server that wants a token", ("add --http --token TOKEN" if not ours.http
                              else "add --token TOKEN") + " (or set $MINIRPC_TOKEN)"))
            facts, actions = zip(*found)
            return f"the server {' and '.join(facts)}: {', '.join(actions)}"
        if http:
            said = "" if ours.http else f" (it answered CONNECT /_goRPC_ with {answers[http[0]][1]})"
            return f"it is an HTTP server, but not a Go or minirpc RPC server{said}"
        if isinstance(reachable, OSError):
            why = "timed out" if isinstance(reachable, TimeoutError) else (reachable.strerror or str(reachable))
            return f"not even a TCP connection opens ({why}): is the host up, and the port open?"
        return ""


def _as_struct(value, name="Args"):
    """Turn a JSON object into a dataclass instance with the same fields, so
    that gob sends it as a struct (a Go server matches struct fields by name).
    A JSON object whose keys are not identifiers stays a dict (a Go map)."""
    if isinstance(value, list):
        return [_as_struct(v, name) for v in value]
    if not isinstance(value, dict) or not all(k.isidentifier() and not keyword.iskeyword(k) for k in value):
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
