"""minirpc on asyncio: the same wire formats, driven by an event loop instead of threads.

The formats (``minirpc.format``) never touch a socket: they are fed bytes and
hand back messages.  So the bytes can come from anywhere -- from the threaded
``minirpc.stream``, or, here, from asyncio's streams.  This module is that
second driver, and it is small because the formats do the hard part::

    import asyncio, minirpc, minirpc.aio
    from minirpc.examples import Arith, Args

    class Clock:
        @minirpc.aio.async_method                 # awaited on the loop (see below)
        async def Sleep(self, ms: int) -> int:
            await asyncio.sleep(ms / 1000)
            return ms

    async def main():
        server = minirpc.Server()                 # the same Server: its registry and its limits
        server.register(Arith())
        server.register(Clock())
        serving = await minirpc.aio.start(server, "127.0.0.1:0", codec="json")
        async with serving, await minirpc.aio.dial(serving.address, codec="json") as client:
            print(await client.call("Arith.Multiply", Args(7, 8)))        # 56
            calls = [client.go("Clock.Sleep", ms) for ms in (30, 10, 20)]
            print(await asyncio.gather(*calls))                          # [30, 10, 20]
        server.close()

    asyncio.run(main())

The bytes are the threaded code's, so either side talks to the other, and to
Go's ``net/rpc``, in gob or JSON-RPC.

What it shares with the threaded code: the formats (unchanged: one per
connection and side); the ``Server``'s registry, its method lookup and Go's
error texts, and its limits (``max_message``, ``max_in_flight``,
``max_reply_backlog``); ``minirpc.connection``'s steps around a call
(``prepare``: find the method, decode the argument or answer an error;
``reply_safely``: a reply that cannot be encoded becomes an error reply); the
error classes of ``minirpc.errors``, with the same texts (``unexpected EOF``,
``reading body ...``); ``minirpc.net``'s addresses.

What it does not: ``minirpc.stream`` -- asyncio's transports buffer and
write, and no send lock is needed, because one thread encodes and writes each
message with no ``await`` in between (so gob's type definitions still leave
in the order they were numbered); ``minirpc.workers`` and
``minirpc.connection`` -- the loop watches the sockets, and push-back is two
awaits; the client's pump thread and timer thread -- one reader task per
connection and ``loop.call_later``; the client's writer thread -- a request
started while others are in flight waits in ``_outbox`` for the loop's next
turn (``call_soon``), so a burst of ``go`` calls leaves in one write, as in
the threaded client, and a lone call is written at once.  Not here: codecs
of your own (their four methods block) and the HTTP tunnel.

Connections as the threaded server keeps them: past the ``Server``'s
``max_connections`` (counted per serving) a client's first call is answered
with ``rpc: too many connections ...`` and the connection closed; with an
``idle_timeout``, a connection that has sent nothing and has no call running
for that long is closed.

Which methods run where.  An ``async def`` method is awaited on the loop.  A
plain method runs on a thread of the serving's pool (``workers`` threads, the
threaded server's count by default): a plain method may block -- sleep, read
a file, wait on a lock -- and on the loop it would stall every connection.
The registry publishes plain methods only (the threaded server cannot await),
so an async one is marked ``@async_method``: the registry then sees a plain
method with the same signature, and checks it by its usual rules.  (The
threaded server answers calls to it with an error naming this module.)

Push-back, as in the threaded server: a connection is not read while it has
``max_in_flight`` calls unanswered, or ``max_reply_backlog`` bytes of replies
the client has not taken (``drain``); TCP then slows that client down, and
``serving.connections()`` show which are ``paused``, and why.  Nor does a call
read already start while that backlog is full: it waits (``parked``) until
the client takes its replies, and never runs if the client leaves first.

The client pushes back as well.  ``go`` never waits: what the server has
not read yet waits in the transport's buffer.  ``call`` waits, before it
writes, while that buffer holds more than the transport's high-water mark
(``drain``) -- as the threaded client's write waits on a full socket -- so a
server that stops reading cannot make many callers fill memory; a call's
``timeout`` counts that wait too (``CallTimeout``: not sent).

Cancelling is asyncio's: ``call.cancel()``, or cancelling the task awaiting
``client.call``, forgets the call (its late reply is dropped), and awaiting
it raises ``asyncio.CancelledError`` -- what ``TaskGroup``, ``wait_for`` and
``timeout()`` rely on; ``call.error`` names it ``CallCancelled``, as the
threaded ``Call`` does.  A client and a serving belong to the loop that made
them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import socket
from typing import Any

from . import net
from .codec import CodecChoice, wire_format
from .connection import REFUSED_LINGER, prepare, reply_safely, report, too_many_connections
from .errors import (BodyError, CallCancelled, CallTimeout, ConnectionLost, ServerError, ShutdownError,
                     TruncatedMessage)
from .format import DEFAULT_MAX_MESSAGE, NEED_DATA, Message, Request, Response, WireFormat

__all__ = ["dial", "start", "async_method", "Client", "Call", "Serving"]

log = logging.getLogger("minirpc")
RECEIVE_SIZE = 64 * 1024  # bytes taken from a stream at a time (as minirpc.stream reads)


# ---------------------------------------------------------------- methods


def async_method(function: Any) -> Any:
    """Mark an ``async def`` method for publishing; the asyncio server awaits it on the loop."""
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"async_method wants an async def method, got {function.__qualname__}")

    @functools.wraps(function)  # the same name, signature and annotations: the registry's rules apply
    def method(self: Any, args: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop on this thread: the threaded server is calling
            raise TypeError(f"{function.__qualname__} is async: serve it with minirpc.aio.start") from None
        return function(self, args)
    return method


def awaited(method: Any) -> bool:
    """Is a registered method awaited on the loop (an ``async def``, marked or not)?"""
    return inspect.iscoroutinefunction(inspect.unwrap(method.function))


def _wire_format(codec: CodecChoice) -> WireFormat:
    fmt = wire_format(codec)
    if fmt is None:
        raise TypeError("minirpc.aio drives formats (codec='gob', 'json' or a WireFormat); a codec of your "
                        "own blocks on its socket: serve it with Server.start, call it with minirpc.dial")
    return fmt


def _tune(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        net.tune(sock)  # Go's keepalive (asyncio sets TCP_NODELAY itself)


# ---------------------------------------------------------------- the client


class Call(asyncio.Future):
    """One call in flight (Go's ``rpc.Call``), and an asyncio Future for its reply."""

    def __init__(self, loop: asyncio.AbstractEventLoop, service_method: str, args: Any, reply_type: Any):
        super().__init__(loop=loop)
        self.service_method, self.args, self.reply_type = service_method, args, reply_type
        self.seq: int | None = None

    @property
    def reply(self) -> Any:
        """The reply once the call succeeded, else ``None`` (Go's ``Call.Reply``)."""
        return self.result() if self.done() and not self.cancelled() and self.exception() is None else None

    @property
    def error(self) -> BaseException | None:
        """The error once the call failed, else ``None`` (Go's ``Call.Error``)."""
        if not self.done():
            return None
        return CallCancelled("call cancelled") if self.cancelled() else self.exception()


class Client:
    """Go's ``rpc.Client`` on asyncio: one connection, one reader task, many calls in flight."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fmt: Any):
        self.format = fmt
        self._format_forget = getattr(fmt, "forget", None)  # optional (minirpc.format)
        self._reader, self._writer = reader, writer
        self._loop = asyncio.get_running_loop()
        self._seq = 0
        self._pending: dict[int, Call] = {}  # seq -> the call its reply settles
        self._closing = False  # the user called close()
        self._broken: BaseException | None = None  # why the connection failed
        self._outbox = bytearray()  # requests started while others were in flight, for _flush
        self._high_water = writer.transport.get_write_buffer_limits()[1]  # more waiting to go: call() waits
        self._reading = self._loop.create_task(self._read_replies(), name="minirpc-aio-client-reader")

    async def call(self, service_method: str, args: Any = None, *, reply_type: Any = None,
                   timeout: float | None = None) -> Any:
        """Call and wait for the reply; raise ``ServerError`` etc. on failure.  While the
        server is not taking the requests sent already, this one waits to be sent (push-back)."""
        deadline = None if timeout is None else net.Deadline(timeout)
        try:
            if self._backlogged():
                await self._room(deadline)
        except (TimeoutError, asyncio.TimeoutError):  # (Deadline's once it has passed; wait_for's)
            raise CallTimeout(f"{service_method}: not sent within {timeout:g} s: "
                              "the server is not taking requests") from None
        return await self._start(service_method, args, reply_type, deadline)

    def _backlogged(self) -> bool:
        """More than the transport's high-water mark waits to be sent (its buffer and our outbox)."""
        return self._writer.transport.get_write_buffer_size() + len(self._outbox) > self._high_water

    async def _room(self, deadline: net.Deadline | None) -> None:
        """Wait while the requests sent already are backlogged (push-back)."""
        while self._backlogged() and not (self._closing or self._broken):
            if not self._writer.transport.get_write_buffer_size():  # (the outbox goes at the loop's next turn)
                await asyncio.sleep(0)
                continue
            try:  # (over the mark, the transport has paused us: drain waits until it is well below)
                await asyncio.wait_for(self._writer.drain(), None if deadline is None else deadline.left())
            except ConnectionError:
                return  # the connection is gone: the call fails as any call then does

    def go(self, service_method: str, args: Any = None, *, reply_type: Any = None,
           timeout: float | None = None) -> Call:
        """Send the request now and return its ``Call`` at once (await it for the reply).

        ``go`` never waits: what the server has not read yet waits in the transport's buffer.
        A request started while others are in flight goes at the loop's next turn, with the
        others started meanwhile, in one write."""
        return self._start(service_method, args, reply_type, None if timeout is None else net.Deadline(timeout))

    def _start(self, service_method: str, args: Any, reply_type: Any, deadline: net.Deadline | None) -> Call:
        call = Call(self._loop, service_method, args, reply_type)
        if self._closing or self._broken:
            call.set_exception(ShutdownError())
            return call
        call.seq, self._seq = self._seq, self._seq + 1
        try:
            data = self.format.encode(Request(service_method, call.seq), args)
        except Exception as e:  # e.g. args the format cannot encode; Go returns it as is
            call.set_exception(e)
            return call
        self._pending[call.seq] = call
        call.add_done_callback(self._forget)  # settled, timed out or cancelled: a late reply is dropped
        if len(self._pending) > 1 or self._outbox:  # others in flight: with the rest of the burst
            if not self._outbox:
                self._loop.call_soon(self._flush)
            self._outbox += data
        else:
            self._writer.write(data)  # (no await between encode and write: messages never interleave)
        if deadline is not None:
            timer = self._loop.call_later(deadline.remaining(), self._time_out, call, deadline.timeout)
            call.add_done_callback(lambda _: timer.cancel())
        return call

    def _flush(self) -> None:
        data, self._outbox = self._outbox, bytearray()  # (a new one: the transport may keep data as it is)
        if not (self._closing or self._broken):
            self._writer.write(data)

    def _forget(self, call: Call) -> None:
        if self._pending.pop(call.seq, None) is not None and self._format_forget is not None:
            self._format_forget(call.seq)  # given up before its reply: the format drops what it keeps for it

    def _time_out(self, call: Call, timeout: float) -> None:
        if not call.done():
            call.set_exception(CallTimeout(f"{call.service_method}: no reply within {timeout:g} s"))

    async def _read_replies(self) -> None:
        """The reader task: feed the format, settle the call each reply names."""
        fmt = self.format
        try:
            while True:
                message = fmt.next_message()
                if message is NEED_DATA:
                    fmt.receive_data(await self._reader.read(RECEIVE_SIZE))  # b"": the server closed
                    continue
                self._settle(message)
        except Exception as e:  # EOF, a reset, bytes we cannot follow: every pending call fails
            self._fail_all(e)

    def _settle(self, message: Message) -> None:
        header = message.header
        call = self._pending.pop(header.seq, None)
        if call is None or call.done():  # (a cancelled call's _forget may not have run yet)
            return  # timed out or cancelled: dropped (the message is whole, nothing is left to read)
        if header.error:
            call.set_exception(ServerError(header.error))
            return
        try:
            call.set_result(self.format.decode_body(message, call.reply_type))
        except BodyError as e:  # the body was whole: only this call fails
            call.set_exception(BodyError(f"reading body {e}"))

    def _fail_all(self, cause: BaseException) -> None:
        self._broken = self._broken or cause
        in_body = isinstance(cause, TruncatedMessage) and cause.header is not None  # gob sends the header apart
        error = ShutdownError() if self._closing else ConnectionLost.because(cause, in_body)
        calls, self._pending = list(self._pending.values()), {}
        for call in calls:
            if not call.done():
                call.set_exception(error)
        self._writer.transport.abort()

    async def close(self) -> None:
        """Close the connection; pending calls fail with ``ShutdownError``.
        A second ``close()`` raises ``ShutdownError``, as in Go."""
        if self._closing:
            raise ShutdownError()
        self._closing = True
        self._reading.cancel()
        self._writer.transport.abort()  # requests not sent yet are moot: their calls fail now
        await asyncio.wait([self._reading])
        self._fail_all(ShutdownError())
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not self._closing:
            await self.close()


async def dial(network: str, address: str | None = None, *, codec: CodecChoice = None,
               timeout: float | None = None, ssl_context: Any = None, server_hostname: str | None = None,
               max_message: int = DEFAULT_MAX_MESSAGE) -> Client:
    """Connect (Go's ``rpc.Dial``): ``await dial("127.0.0.1:1234")`` or ``await dial("unix", path)``.

    ``timeout`` bounds the connect and the TLS handshake together."""
    if address is None:
        network, address = "tcp", network
    fmt = _wire_format(codec)
    family, where = net.split_address(network, address)
    net.Deadline(timeout)  # (says what is wrong with a bad timeout)
    tls = {"ssl": ssl_context, "server_hostname": server_hostname} if ssl_context is not None else {}
    if family == socket.AF_UNIX:
        connecting = asyncio.open_unix_connection(where, **tls)
    else:
        connecting = asyncio.open_connection(*where, family=family, **tls)
    try:
        reader, writer = await asyncio.wait_for(connecting, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"dial {network} {address}: timed out after {timeout:g} s") from None
    _tune(writer)
    return Client(reader, writer, fmt.client(max_message))


# ---------------------------------------------------------------- the server


async def start(server: Any, address: str = "127.0.0.1:0", network: str = "tcp", codec: CodecChoice = None, *,
                ssl_context: Any = None, workers: int | None = None) -> Serving:
    """Serve a ``minirpc.Server``'s services on this loop; ``await close()`` the result to stop
    (``Server.close()`` does not: it cannot await).  ``workers`` threads run the plain methods
    (default: as many as the threaded server has)."""
    fmt = _wire_format(codec)
    serving = Serving(server, net.listen(network, address), fmt, workers or server.pool.size)
    try:
        serving.listener = await asyncio.start_server(
            serving._serve, sock=serving.socket, backlog=net.backlog(), ssl=ssl_context,
            ssl_handshake_timeout=server.handshake_timeout if ssl_context is not None else None)
    except BaseException:
        serving.socket.close()
        serving.executor.shutdown()
        raise
    return serving


class Serving:
    """A listener whose connections are served on the loop (see ``start``)."""

    def __init__(self, server: Any, sock: socket.socket, fmt: WireFormat, workers: int):
        self.server, self.socket, self.format = server, sock, fmt
        self.network = "unix" if isinstance(sock.getsockname(), str) else "tcp"
        self.address = net.format_address(sock.getsockname())
        self.executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="minirpc-aio-worker")
        self.listener: asyncio.AbstractServer | None = None
        self.abandoned: list[str] = []  # the calls close() gave up waiting for
        self.closed = False
        self._connections: set[_Connection] = set()
        self._refused: set[asyncio.Transport] = set()  # told why, closed REFUSED_LINGER s later

    def connections(self) -> list[_Connection]:
        return list(self._connections)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """asyncio runs this in a task of its own for every connection accepted."""
        if self.closed:
            return writer.transport.abort()
        if len(self._connections) >= self.server.max_connections:
            return self._refuse(writer)
        connection = _Connection(self, reader, writer)
        self._connections.add(connection)
        try:
            await connection.serve()
        finally:
            self._connections.discard(connection)

    def _refuse(self, writer: asyncio.StreamWriter) -> None:
        """Past max_connections: answer the client's first call with an error, then hang up."""
        text = too_many_connections(self.server.max_connections)
        writer.write(self.format.server(self.server.max_message).encode(Response("", 0, text), None))
        if writer.can_write_eof():
            writer.write_eof()
        transport = writer.transport
        self._refused.add(transport)  # (closed a little later, so the client can read it)
        asyncio.get_running_loop().call_later(REFUSED_LINGER, self._hang_up, transport)

    def _hang_up(self, transport: asyncio.Transport) -> None:
        self._refused.discard(transport)
        transport.close()

    async def close(self, timeout: float | None = None) -> None:
        """Stop accepting, close every connection (its client's pending calls fail at once), wait
        for the methods still running at most ``timeout`` s, then cancel them: they are logged
        and named in ``self.abandoned`` (a plain method's thread finishes it on its own)."""
        if self.closed:
            return
        self.closed = True
        self.listener.close()
        for transport in list(self._refused):
            transport.abort()
        connections = self.connections()
        for connection in connections:
            connection.writer.transport.abort()  # the reader sees the end; running calls go on
        tasks = [connection.task for connection in connections]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self.abandoned = sorted(name for connection in connections for call, name in connection.calls.items()
                                if not call.done())
        for connection in connections:
            for call in connection.calls:
                call.cancel()
        if tasks:
            await asyncio.wait(tasks)  # each ends once its calls are done
        report(self.abandoned)
        self.executor.shutdown(wait=not self.abandoned, cancel_futures=True)  # (idle threads: at once)
        await self.listener.wait_closed()

    async def __aenter__(self) -> Serving:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close(self.server.close_timeout)

    def __repr__(self) -> str:
        return f"<aio Serving {self.network} {self.address}>"


class _Connection:
    """One served connection: a reader loop (Go's ``ServeCodec``) and a task per call."""

    def __init__(self, serving: Serving, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.serving, self.server, self.reader, self.writer = serving, serving.server, reader, writer
        self.format = serving.format.server(self.server.max_message)
        self.task = asyncio.current_task()
        self.calls: dict[asyncio.Task, str] = {}  # the calls running -> "Service.Method (seq N)"
        self.paused = ""  # push-back: why the reader waits ("calls", "replies"), or ""
        self.parked = 0  # calls read but not started: the client has not taken its replies
        self._draining = asyncio.Lock()  # one drain() at a time (the others wait their turn here)
        self.active = asyncio.get_running_loop().time()  # when the client last sent, or a call last ended
        writer.transport.set_write_buffer_limits(high=self.server.max_reply_backlog)  # drain() waits above
        _tune(writer)

    async def serve(self) -> None:
        """Read requests and start them, until the end of the stream; then answer what runs."""
        try:
            while True:
                message = self.format.next_message()
                if message is NEED_DATA:
                    self.format.receive_data(await self._receive())  # b"": the client closed (or idled)
                    continue
                self.start(message)
                while len(self.calls) >= self.server.max_in_flight:  # push-back: read no more while
                    self.paused = "calls"  # too many calls are unanswered ...
                    await asyncio.wait(self.calls, return_when=asyncio.FIRST_COMPLETED)
                if self.writer.transport.get_write_buffer_size() > self.server.max_reply_backlog:
                    self.paused = "replies"  # ... or the client has not taken our replies
                    await self.writer.drain()
                self.paused = ""
        except Exception as e:  # EOF, a reset, bytes we cannot follow: stop reading, as Go does
            if not isinstance(e, EOFError):
                log.debug("minirpc: closing a connection: %s", e)
        if self.calls:  # running calls are still answered: a half-closed client gets its replies
            await asyncio.wait(self.calls)
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def _receive(self) -> bytes:
        """The next bytes the client sends; with an ``idle_timeout``, ``b""`` (as if it had closed)
        once it has sent nothing, and had no call running, for that long."""
        idle, loop = self.server.idle_timeout, asyncio.get_running_loop()
        if idle is None:
            return await self.reader.read(RECEIVE_SIZE)
        while True:
            busy = self.calls or self.writer.transport.get_write_buffer_size()  # (replies not yet taken)
            wait = max(idle, 0.05) if busy else max(self.active + idle - loop.time(), 0.001)
            try:
                data = await asyncio.wait_for(self.reader.read(RECEIVE_SIZE), wait)
            except asyncio.TimeoutError:
                busy = self.calls or self.writer.transport.get_write_buffer_size()
                if not busy and loop.time() - self.active >= idle:
                    log.debug("minirpc: closing a connection idle for %g s", idle)
                    return b""
                continue
            self.active = loop.time()
            return data

    def start(self, message: Message) -> None:
        """Find the method and decode its argument; a call task runs it (an error is answered now)."""
        job = prepare(self.server, message.header, lambda type: self.format.decode_body(message, type), self.reply)
        if job is None:
            return  # answered with Go's error text already; the message was whole: the stream is in step
        header, method, args = job
        task = asyncio.get_running_loop().create_task(self.run(header, method, args))
        self.calls[task] = f"{header.service_method} (seq {header.seq})"
        task.add_done_callback(self.calls.pop)

    async def run(self, header: Request, method: Any, args: Any) -> None:
        if self.writer.transport.get_write_buffer_size() >= self.server.max_reply_backlog:
            if not await self._replies_taken():
                return  # the client is gone: the call never runs (nobody could read its reply)
        try:
            if awaited(method):
                body = await method.call(args)
            else:  # it may block: on a thread, so the loop goes on
                body = await asyncio.get_running_loop().run_in_executor(self.serving.executor, method.call, args)
            error = ""
        except asyncio.CancelledError:
            if self.writer.is_closing():
                raise  # the serving is closing: nobody is left to answer
            body, error = None, "CancelledError"  # the method's own doing: an error like any other
        except Exception as e:  # never let a method kill the server
            body, error = None, str(e) or type(e).__name__
        self.reply(Response(header.service_method, header.seq, error), body, method.reply_type)
        self.active = asyncio.get_running_loop().time()

    async def _replies_taken(self) -> bool:
        """Wait, parked, until the client has taken enough of its replies (as the threaded
        server does: a request is small, a reply may be megabytes); False if it is gone."""
        self.parked += 1
        try:
            async with self._draining:
                await self.writer.drain()
        except ConnectionError:
            return False
        finally:
            self.parked -= 1
        return not self.writer.is_closing()

    def reply(self, response: Response, body: Any, body_type: Any) -> None:
        if self.writer.is_closing():
            return  # the client is gone, or we are closing
        reply_safely(self._write, response, body, body_type)

    def _write(self, response: Response, body: Any, body_type: Any) -> int:
        data = self.format.encode(response, body, body_type)  # (raises before anything is written)
        self.writer.write(data)
        return len(data)

    def __repr__(self) -> str:
        return (f"<aio connection {'paused: ' + self.paused if self.paused else 'reading'} in_flight={len(self.calls)}"
                f"{f' parked={self.parked}' if self.parked else ''}>")
