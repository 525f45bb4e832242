"""The client side: send requests, match replies to calls, many calls in flight.

Every request gets a sequence number (0, 1, 2, ... as in Go) and waits in
``pending`` until the reply with the same number arrives.  Replies may come
back in any order; the number says which call each one answers::

    client.call("Arith.Multiply", Args(7, 8))      # synchronous: returns 56
    c = client.go("Arith.Multiply", Args(7, 8))    # asynchronous: a Call
    c.result()                                     # ... wait for it later
    await c                                        # ... or from asyncio

A ``Call`` is a ``concurrent.futures.Future``.  Go hands many calls one
``done`` channel; here you wait on many futures at once with the standard
library: ``concurrent.futures.wait(calls)``, ``as_completed(calls)``, or
``asyncio.gather(*calls)``.

Who reads the replies?  Go dedicates a goroutine.  A Python thread hand-off
costs tens of microseconds, so here a synchronous caller reads the socket
itself when nobody else is reading (*leader/follower*): it reads until its own
reply arrives, delivering other calls' replies on the way.  Asynchronous
calls, and callers that arrive while someone else reads, are served by a
background *pump* thread, started on first need.  The rule that keeps this
correct: whoever stops reading while calls are still pending wakes the pump.
After the reply to a ``go`` call the pump stays on the socket, waiting for the
next reply as Go's reader goroutine does: a stream of ``go`` calls then costs
no wake-ups, and a server that hangs up is noticed before the next call.  A
synchronous call's reply sends it back to sleep, so that the next synchronous
caller reads for itself again.

Who writes the requests?  The caller, at once -- except a ``go`` call started
while others are in flight.  That request is kept back, and a background
*writer* thread sends all that were kept, in one write, as soon as it runs:
under the GIL that is when the caller next waits (or after
``sys.getswitchinterval()``, 5 ms, of the caller's running).  It is Nagle's
rule without his timer: a lone call never waits, a stream of ``go`` calls
costs one system call per burst instead of one per request, and the server
reads the burst in one go too.  (Go writes each request as it comes: to Go a
write is cheap next to the rest of a call; here a system call and a server
wake-up per request are a large part of it.)  Two exceptions keep it honest:
a long burst is cut every ``MAX_HELD`` requests, written by the caller, so
that its first requests do not wait for its last and a server on another
core starts on them meanwhile; and a synchronous call, which may read its
own reply, is never kept back -- it writes what was kept, then its own
request.  Only a codec with ``queue_request`` and ``flush`` can keep
requests back (``minirpc.codec``).

When the connection breaks, every pending call fails with Go's text:
``unexpected EOF`` when the server hung up, ``reading body ...`` when it
hung up (or sent garbage) between a reply's header and its body; later calls
fail with ``ShutdownError``.

Beyond Go: ``timeout=`` per call (``CallTimeout``; a late reply is dropped),
``Call.cancel()``, ``dial(timeout=)`` bounding connect, TLS and handshake, and
Ctrl-C: interrupting a synchronous call abandons that call (like a cancel)
and leaves the client working.

A call's ``timeout=`` counts from the moment it is made, and covers writing
its request as well as waiting for the reply: a server that stops reading
fills the socket's buffers, and then a write waits -- in Go, for ever.  Here a
call that could not even start writing by its deadline (another request is
still being written) fails with ``CallTimeout`` and nothing of it is sent;
one whose request went out in part fails too, and the connection is closed,
since half a message cannot be taken back: the other pending calls fail with
``ConnectionLost``, later ones with ``ShutdownError``.  (A codec of your own
bounds its writes only if it says ``takes_deadlines``: ``minirpc.codec``.)
Calls without a timeout wait as in Go, until the server reads or ``close()``.
A synchronous call with a timeout reads its own reply, as one without does,
and stops at its deadline: what it read of a reply so far stays with the
format, for whoever reads next.
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
from concurrent import futures
from typing import Any

from . import net, values
from .codec import CodecChoice, client_codec
from .errors import (BodyError, CallCancelled, CallTimeout, ConnectionLost, ServerError, ShutdownError,
                     TruncatedMessage)
from .format import DEFAULT_MAX_MESSAGE, Request
from .registry import signatures
from .stream import ReadTimeout, WriteTimeout


MAX_HELD = 32  # requests kept back for one write, at most: then the caller writes them itself


def _queue_of(codec: Any) -> Any:
    """The codec's ``queue_request``, if it has one and ``flush``, and they come from the class
    that says how its requests are written (a subclass that changed ``write_request`` but not
    ``queue_request`` gets every request through its ``write_request``)."""
    if not (callable(getattr(codec, "queue_request", None)) and callable(getattr(codec, "flush", None))):
        return None
    def owner(name: str) -> Any:
        return next((k for k in type(codec).__mro__ if name in vars(k)), None)
    return codec.queue_request if owner("queue_request") is owner("write_request") else None


class Call(futures.Future):
    """One call in flight (Go's ``rpc.Call``), and a Future for its reply."""

    def __init__(self, client: "Client", service_method: str, args: Any, reply_type: Any):
        super().__init__()
        self.client = client
        self.service_method = service_method
        self.args = args
        self.reply_type = reply_type
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

    def cancel(self) -> bool:
        """Give up on the call; its reply, if it ever comes, is dropped."""
        self.client._forget(self)
        if not super().cancel():
            return False
        self.set_running_or_notify_cancel()  # (what an executor would do: wait() and as_completed see it)
        return True

    def __await__(self):
        return asyncio.wrap_future(self).__await__()

    def _settle(self, reply: Any = None, error: BaseException | None = None) -> None:
        try:
            if error is None:
                self.set_result(reply)
            else:
                self.set_exception(error)
        except futures.InvalidStateError:
            pass  # cancelled or timed out already

    def __repr__(self) -> str:
        state = "pending" if not self.done() else ("failed" if self.error else "done")
        return f"<Call {self.service_method} seq={self.seq} {state}>"


class _SyncCall:
    """What a synchronous ``call`` waits on: no Future, only a lock that whoever settles it releases."""

    __slots__ = ("service_method", "args", "reply_type", "seq", "reply", "error", "_unsettled", "_done")

    def __init__(self, service_method: str, args: Any, reply_type: Any):
        self.service_method, self.args, self.reply_type = service_method, args, reply_type
        self.seq: int | None = None
        self.reply, self.error = None, None
        self._unsettled = threading.Lock()  # taken by the first _settle: a call is settled once
        self._done = threading.Lock()  # held until the call is settled
        self._done.acquire()

    def _settle(self, reply: Any = None, error: BaseException | None = None) -> None:
        if self._unsettled.acquire(blocking=False):
            self.reply, self.error = reply, error
            self._done.release()

    def done(self) -> bool:
        return not self._done.locked()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until settled (at most ``timeout`` seconds); True if it is."""
        if self._done.acquire(timeout=-1 if timeout is None else timeout):
            self._done.release()
            return True
        return False


class _OnDemand:
    """A background thread started on first need, that runs ``work()`` each time it is wanted
    and sleeps between: the client's pump and its writer are each one.  Everything here is
    protected by the client's lock: ``want`` and ``wake`` are called holding it.  The thread
    ends once ``ended()`` says so (the client closed or broke), when it is next woken."""

    def __init__(self, lock: threading.Lock, name: str, work: Any, ended: Any):
        self._due = threading.Condition(lock)
        self._name, self._work, self._ended = name, work, ended
        self.thread: threading.Thread | None = None
        self._wanted = False  # work waits: the thread must (go on) run it
        self._idle = False  # the thread waits on _due, and nobody has woken it yet

    def want(self) -> None:
        if self._wanted:
            return  # asked already, and not yet begun: that run will do this work too
        self._wanted = True
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self.thread.start()
        else:
            self.wake()

    def wake(self) -> None:
        if self._idle:
            self._idle = False  # (woken once is enough)
            self._due.notify()

    def _loop(self) -> None:
        while True:
            with self._due:
                while not (self._wanted or self._ended()):
                    self._idle = True
                    self._due.wait()
                self._idle = self._wanted = False
                if self._ended():
                    return  # (work left undone fails with the client's calls)
            self._work()


class Client:
    """Go's ``rpc.Client``: one connection, many calls in flight."""

    def __init__(self, codec: Any):
        self.codec = codec
        self._sending = threading.Lock()  # one request (header + body) through the codec at a time; protects _held
        self._held: list[Call] = []  # calls whose requests the codec keeps back, for the writer to flush
        self._queue = _queue_of(codec)
        self._takes_deadlines = getattr(codec, "takes_deadlines", False) is True  # (minirpc.codec)
        self._codec_forget = getattr(codec, "forget", None)  # optional (minirpc.codec)
        self._reading = threading.Lock()  # held by the one thread reading replies now
        self._lock = threading.Lock()  # protects everything below
        self._wake = threading.Condition(self._lock)  # for the timer thread
        self._seq = 0
        self._pending: dict[int, Call] = {}
        self._closing = False  # the user called close()
        self._broken: BaseException | None = None  # why the connection failed
        self._pump = _OnDemand(self._lock, "minirpc-client-pump", self._pump_round, self._ended)
        self._writer = _OnDemand(self._lock, "minirpc-client-writer", self._writer_round, self._ended)
        self._timer: threading.Thread | None = None
        self._deadlines: list[list] = []  # a heap of [deadline, seq, call (None once done), timeout]
        self._timed = 0  # the entries in it whose call is not done yet

    # -- calling ------------------------------------------------------------

    def call(self, service_method: str, args: Any = None, *, reply_type: Any = None,
             timeout: float | None = None) -> Any:
        """Call and wait for the reply; raise ``ServerError`` etc. on failure."""
        deadline = None if timeout is None else net.Deadline(timeout)
        call = self._send(_SyncCall(service_method, args, reply_type), deadline=deadline)
        try:
            self._read_until(call, deadline)
        except BaseException:  # Ctrl-C (or any interruption): this call is abandoned, the client lives on
            self._forget(call)
            call._settle(error=CallCancelled("call interrupted"))
            raise
        if call.error is not None:
            raise call.error
        return call.reply

    def go(self, service_method: str, args: Any = None, *, reply_type: Any = None,
           timeout: float | None = None) -> Call:
        """Start a call and return at once; the ``Call`` completes later."""
        deadline = None if timeout is None else net.Deadline(timeout)
        call = self._send(Call(self, service_method, args, reply_type), want_reader=True, deadline=deadline)
        if deadline is not None and not call.done():
            self._add_deadline(call, deadline)
        return call

    def _send(self, call: Any, want_reader: bool = False, deadline: net.Deadline | None = None) -> Any:
        """Number the call, file it in ``pending``, write the request (and for an asynchronous
        call make sure someone will read its reply) -- by ``deadline``, if it has one."""
        unwritten: list = []  # calls kept back whose write failed: failed once _sending is let go
        if deadline is None:
            self._sending.acquire()  # one request at a time through the codec (Go's reqMutex)
        elif not self._sending.acquire(timeout=deadline.remaining()):
            call._settle(error=CallTimeout(f"{call.service_method}: not sent within {deadline.timeout:g} s: "
                                           "another request was still being written (is the server reading?)"))
            return call
        try:
            with self._lock:
                if self._closing or self._broken:
                    call._settle(error=ShutdownError())
                    return call
                call.seq, self._seq = self._seq, self._seq + 1
                self._pending[call.seq] = call
                if want_reader:
                    self._pump.want()
                # kept back: a go() call while others are in flight (or kept back)
                later = self._queue is not None and want_reader and bool(self._held or len(self._pending) > 1)
                if later:
                    self._writer.want()  # (it flushes once we let go of _sending)
            by = deadline if self._takes_deadlines else None
            try:
                if later:
                    self._queue(Request(call.service_method, call.seq), call.args)
                    self._held.append(call)
                    if len(self._held) >= MAX_HELD:  # a long burst: the caller writes these now
                        try:
                            unwritten = self._flush_held(by)
                        except WriteTimeout as e:
                            if e.written:
                                raise
                            # none went: they stay kept back for the writer, this call among them
                            # (go() has returned it; its timer fails it if no reply comes in time)
                else:
                    if self._held:  # (a synchronous call behind some kept back: they go first)
                        unwritten = self._flush_held(by)
                    if by is None:
                        self.codec.write_request(Request(call.service_method, call.seq), call.args)
                    else:
                        self.codec.write_request(Request(call.service_method, call.seq), call.args, deadline=by)
            except WriteTimeout as e:  # (before Exception: a TimeoutError is an OSError)
                self._gave_up_writing(call, e.written, deadline.timeout)
            except Exception as e:  # e.g. args the codec cannot encode; Go returns it as is
                self._forget(call)
                call._settle(error=e)
        finally:
            self._sending.release()
        if unwritten:
            self._fail_unwritten(unwritten)
        return call

    def _gave_up_writing(self, call: Any, written: int, timeout: float) -> None:  # (called holding _sending)
        """The deadline passed while writing: the call fails; if part of a message went out,
        the stream is spoilt, and the connection with it."""
        self._forget(call)
        if not written:  # nothing went: the connection is as it was
            call._settle(error=CallTimeout(f"{call.service_method}: not sent within {timeout:g} s: "
                                           "the server is not taking requests"))
            return
        call._settle(error=CallTimeout(f"{call.service_method}: only part of the request was sent within "
                                       f"{timeout:g} s; the connection is closed (half a message cannot be "
                                       "taken back)"))
        self._fail_all(ConnectionError("connection closed: a request could not be written within its timeout"))
        self.codec.close()  # (wakes the pump, blocked reading)

    def _writer_round(self) -> None:
        with self._sending:
            unwritten = self._flush_held()
        self._fail_unwritten(unwritten)

    def _flush_held(self, deadline: net.Deadline | None = None) -> list:  # (called holding _sending)
        """Write the requests kept back; return [(call, error)] for those whose write failed.
        Past ``deadline`` it raises ``WriteTimeout``; if none of them went, they stay kept back."""
        held, self._held = self._held, []
        try:
            if deadline is None:
                self.codec.flush()
            else:
                self.codec.flush(deadline=deadline)
        except WriteTimeout as e:
            if not e.written:  # they stay kept back: the writer round wanted when they were kept sends them
                self._held = held
            raise
        except Exception as e:  # these requests were not written: their calls fail, as in Go
            return [(call, e) for call in held]
        return []

    def _fail_unwritten(self, unwritten: list) -> None:
        # (not holding _sending: a failed call's done-callback may well start another call)
        for call, error in unwritten:
            self._forget(call)
            call._settle(error=error)

    def _forget(self, call: Any) -> None:
        """The call is given up (or failed unwritten): a reply to it, if one comes, is dropped."""
        with self._lock:
            self._pending.pop(call.seq, None)
        if self._codec_forget is not None:
            self._codec_forget(call.seq)  # (what the codec keeps for it must not pile up)

    # -- reading replies ------------------------------------------------

    def _read_until(self, call: _SyncCall, deadline: net.Deadline | None = None) -> None:
        """Read replies on this thread until ``call`` is done, if nobody else reads -- or
        until its ``deadline`` passes, and then it times out."""
        if deadline is not None and not self._takes_deadlines:  # (a codec of your own: it may block)
            self._want_reader()
            return self._wait(call, deadline)
        if not self._reading.acquire(blocking=False):
            return self._wait(call, deadline)  # the reader delivers it, or hands over to the pump
        try:
            while not call.done():
                self._read_one(deadline)
        except ReadTimeout:
            self._time_out(call, deadline.timeout)
        finally:
            self._reading.release()
            self._hand_over()

    def _wait(self, call: _SyncCall, deadline: net.Deadline | None) -> None:
        if deadline is None:
            call.wait()
        elif not call.wait(deadline.remaining()):
            self._time_out(call, deadline.timeout)

    def _hand_over(self) -> None:
        """Called after releasing ``_reading``: if calls wait, someone must read."""
        with self._lock:
            if self._pending and not self._broken:
                self._pump.want()

    def _want_reader(self) -> None:
        with self._lock:
            self._pump.want()

    def _pump_round(self) -> None:
        with self._reading:
            stay = True  # after the reply to a go() call, wait on the socket for the next reply
            while not (self._closing or self._broken) and (self._pending or stay):  # (no lock needed)
                stay = isinstance(self._read_one(), Call)
        self._hand_over()

    def _ended(self) -> bool:
        return bool(self._closing or self._broken)

    def _read_one(self, deadline: net.Deadline | None = None) -> Any:
        """Read one reply and settle its call (and return it); on a broken stream fail them all.
        Past ``deadline`` (if given) it raises ``ReadTimeout``, having taken nothing."""
        codec, call = self.codec, None
        try:
            if deadline is None:
                header = codec.read_response_header()
            else:
                header = codec.read_response_header(deadline=deadline)
            with self._lock:
                call = self._pending.pop(header.seq, None)
            if call is None or header.error:
                codec.read_response_body(None)  # read and drop: the stream stays in step
                if call is not None:
                    call._settle(error=ServerError(header.error))
                return call
            try:
                reply = codec.read_response_body(call.reply_type)
            except BodyError as e:  # the body was read whole: only this call fails
                call._settle(error=BodyError(f"reading body {e}"))
            else:
                call._settle(reply)
        except ReadTimeout:
            raise  # (only with a deadline: the stream is as it was, the call times out)
        except Exception as e:  # EOF, a socket error, bytes we cannot read
            header_read = call is not None or (isinstance(e, TruncatedMessage) and e.header is not None)
            self._fail_all(e, call, header_read)
        return call

    def _fail_all(self, cause: BaseException, call: Call | None = None, header_read: bool = False) -> None:
        with self._lock:
            if self._broken is None:
                self._broken = cause
            calls, self._pending = list(self._pending.values()), {}
            closing = self._closing
            self._wake.notify_all()
            self._pump.wake()
            self._writer.wake()
        if call is not None:
            calls.append(call)  # its header was read: it is no longer pending, but it is not done
        error = ShutdownError() if closing else ConnectionLost.because(cause, header_read)
        for c in calls:
            c._settle(error=error)

    # -- timeouts -------------------------------------------------------

    def _time_out(self, call: Any, timeout: float) -> None:
        self._forget(call)
        call._settle(error=CallTimeout(f"{call.service_method}: no reply within {timeout:g} s"))

    def _add_deadline(self, call: Call, deadline: net.Deadline) -> None:
        """File the call's deadline for the timer thread.  A call done before its deadline lets
        go of its entry (``_forget_deadline``), so neither the call nor its reply is kept until
        then; and when most entries are such, they are swept out, so the heap holds about the
        calls still waiting, not every call started within the longest timeout."""
        entry = [deadline.at, call.seq, call, deadline.timeout]
        with self._lock:
            heapq.heappush(self._deadlines, entry)
            self._timed += 1
            if len(self._deadlines) > 2 * self._timed + 64:
                self._deadlines = [e for e in self._deadlines if e[2] is not None]
                heapq.heapify(self._deadlines)
            if self._timer is None:
                self._timer = threading.Thread(target=self._timer_loop, name="minirpc-client-timer", daemon=True)
                self._timer.start()
            elif self._deadlines[0] is entry:  # earlier than the one the timer waits for: wake it
                self._wake.notify_all()  # (a later one, it comes to in time)
        call.add_done_callback(lambda _: self._forget_deadline(entry))

    def _forget_deadline(self, entry: list) -> None:
        """The call is done (replied, failed, timed out, cancelled): its entry lets go of it."""
        with self._lock:
            if entry[2] is not None:
                entry[2] = None
                self._timed -= 1

    def _timer_loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._closing or self._broken:
                        return
                    now = time.monotonic()
                    if self._deadlines and self._deadlines[0][0] <= now:
                        _, _, call, timeout = heapq.heappop(self._deadlines)
                        if call is None:
                            continue  # done before its deadline
                        break
                    self._wake.wait(self._deadlines[0][0] - now if self._deadlines else None)
            if not call.done():
                self._time_out(call, timeout)

    # -- typed calls ----------------------------------------------------

    def proxy(self, service: type, name: str | None = None) -> "Proxy":
        """Calls with types, from the service's class (or a ``typing.Protocol`` of it)::

            arith = client.proxy(Arith)
            arith.Multiply(Args(7, 8))          # -> 56, an int
            arith.Divide({"A": 7, "B": 2})      # -> Quotient(Quo=3, Rem=1): a dict argument is converted
            arith.Divide.go(Args(7, 2))         # -> a Call; every method takes timeout= too

        The methods are the class's suitable ones (``minirpc.registry``'s rules), published as
        ``name.Method`` (``name`` defaults to the class name, as ``Server.register`` does).  Share
        the class between client and server: Go's advice to share one package of types."""
        return Proxy(self, service, name)

    # -- closing --------------------------------------------------------

    def close(self) -> None:
        """Close the connection; pending calls fail with ``ShutdownError``.
        A second ``close()`` raises ``ShutdownError``, as in Go."""
        with self._lock:
            if self._closing:
                raise ShutdownError()
            self._closing = True
            self._wake.notify_all()
            self._pump.wake()
            self._writer.wake()
        self.codec.close()  # wakes a reader blocked on the socket
        for thread in (self._pump.thread, self._writer.thread, self._timer):
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        self._fail_all(ShutdownError())

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._closing:
            self.close()


class Proxy:
    """A service's methods as Python methods on a client (see ``Client.proxy``)."""

    def __init__(self, client: Client, service: type, name: str | None = None):
        found, _ = signatures(service)
        if not found:
            raise TypeError(f"{service.__name__} has no methods a server would publish "
                            "(see minirpc.registry for the rules)")
        name = name or service.__name__
        for method, (arg_type, reply_type) in found.items():
            setattr(self, method, _ProxyMethod(client, f"{name}.{method}", arg_type, reply_type))
        self._methods = sorted(found)
        self._name = name

    def __repr__(self) -> str:
        return f"<Proxy {self._name}: {', '.join(self._methods)}>"


class _ProxyMethod:
    """One remote method: call it, or ``.go(...)`` it."""

    def __init__(self, client: Client, service_method: str, arg_type: Any, reply_type: Any):
        self.client, self.service_method = client, service_method
        self.arg_type, self.reply_type = arg_type, reply_type

    def _args(self, args: Any) -> Any:
        if isinstance(args, dict) and values.is_struct(values.strip_annotated(self.arg_type)):
            return values.from_plain(args, self.arg_type, "args")  # a dict for a dataclass: build it here
        return args

    def __call__(self, args: Any = None, *, timeout: float | None = None) -> Any:
        return self.client.call(self.service_method, self._args(args), reply_type=self.reply_type, timeout=timeout)

    def go(self, args: Any = None, *, timeout: float | None = None) -> Call:
        return self.client.go(self.service_method, self._args(args), reply_type=self.reply_type, timeout=timeout)

    def __repr__(self) -> str:
        return f"<remote {self.service_method}({values.type_name(self.arg_type)}) -> {values.type_name(self.reply_type)}>"


def dial(network: str, address: str | None = None, *, codec: CodecChoice = None, timeout: float | None = None,
         ssl_context: Any = None, server_hostname: str | None = None,
         max_message: int = DEFAULT_MAX_MESSAGE) -> Client:
    """Connect to a server (Go's ``rpc.Dial``): ``dial("127.0.0.1:1234")`` or ``dial("tcp", address)``.

    ``timeout`` bounds the connect and the TLS handshake together."""
    if address is None:
        network, address = "tcp", network
    deadline = net.Deadline(timeout)
    conn = net.connect(network, address, deadline)
    if ssl_context is not None:
        conn = tls_wrap(conn, ssl_context, server_hostname or net.split_address(network, address)[1][0], deadline)
    return Client(client_codec(codec, conn, max_message))


def tls_wrap(conn: Any, ssl_context: Any, host: str, deadline: net.Deadline) -> Any:
    """The client's TLS handshake, within the deadline; the socket is returned blocking."""
    try:
        conn.settimeout(deadline.left())
        conn = ssl_context.wrap_socket(conn, server_hostname=host)
        conn.settimeout(None)
        return conn
    except TimeoutError:
        conn.close()
        raise TimeoutError(f"TLS handshake with {host}: timed out after {deadline.timeout:g} s") from None
    except BaseException:
        conn.close()
        raise


def new_client(conn: Any, codec: CodecChoice = None, max_message: int = DEFAULT_MAX_MESSAGE) -> Client:
    """A client on a connected socket (Go's ``rpc.NewClient``)."""
    return Client(client_codec(codec, conn, max_message))


def new_client_with_codec(codec: Any) -> Client:
    """A client on a codec of your own (Go's ``rpc.NewClientWithCodec``)."""
    return Client(codec)
