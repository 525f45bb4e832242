r"""One served connection: reading requests, push-back, writing replies, closing.

``Server`` (``minirpc.server``) accepts connections; each then lives here, as a
``Connection`` driven by the worker pool (``minirpc.workers``).  Its read side
is a small state machine, so that exactly one worker reads it at a time::

    HANDSHAKE --TLS done--> ARMED --readable--> READING --> ARMED      (the usual loop)
                                                  ^    |-> PAUSED     (push-back: too much in flight)
                                                  |    |-> DONE       (EOF, bad bytes, close)
                                                  +----+   (kept: a lone request, read again after its reply)

A worker that finds the socket readable reads what has arrived and takes every
whole request from the format (up to ``max_in_flight`` unanswered ones).

* Several (a client with many calls in flight): it arms the socket again, so
  that other workers read what comes next, and runs them as a ``Batch``: one
  after the other, their replies held back ("corked") to leave in one write --
  one system call instead of one per reply, no hand-off to other threads.
* One (a client calling in a loop): it *keeps* the socket -- disarmed, nobody
  else reads it -- runs the call, and once the reply is out reads the socket
  again itself.  Such a client has usually sent its next request by then, and
  this worker takes it without waking another thread (a wake-up and a fight
  over the GIL, each call: on an idle 2-core machine they were two fifths of
  a sequential call's latency).  Nothing there: it arms the socket and goes.
  It keeps a connection only while another worker watches the sockets, so
  that a few busy clients cannot take every worker from the others.

Calls must not wait for each other (Go runs each in a goroutine): if a call is
still running ``RESCUE_AFTER`` seconds after it began, a timer lets the socket
go (a kept one) or sends what a batch has done and hands its calls not started
to idle workers.  (A kept connection has one such timer at a time, not one per
call: when it fires for a call long answered, it looks again at the one kept now.)

Push-back: a connection is not read while it has ``max_in_flight`` calls
unanswered or ``max_reply_backlog`` bytes of replies its client has not taken
(PAUSED: TCP then slows the client).  Nor does a call read earlier *start*
while the backlog is over the limit: it waits, *parked* (a request is small, a
reply may be megabytes), and runs once the client takes its replies.  So a
client that never reads costs the backlog, plus the replies of the calls that
were running already -- not ``max_in_flight`` replies.

Replies are written by whichever worker finishes a call; what the socket does
not take at once waits in the stream's outbox, watched through a second file
descriptor so that arming it never re-arms the read side (only the reader may
do that: two readers would tear the stream apart).

A codec of your own (four blocking methods) cannot be driven this way: its
connection gets a reading thread of its own (``serve_codec``), its calls still
run on the workers.
"""

from __future__ import annotations

import collections
import logging
import os
import ssl
import threading
import time
from typing import Any, Protocol

from .errors import BodyError
from .format import NEED_DATA, Request, Response
from .stream import WOULD_BLOCK, Stream
from .workers import READ, WRITE

log = logging.getLogger("minirpc")

class Server(Protocol):
    """What a connection needs of the server that accepted it (``minirpc.server.Server``)."""

    pool: Any
    max_in_flight: int
    max_reply_backlog: int
    idle_timeout: float | None
    handshake_timeout: float

    def lookup(self, header: Request) -> Any: ...
    def run(self, header: Request, method: Any, args: Any, reply: Any) -> None: ...
    def _forget(self, connection: "Connection") -> None: ...


# The read side of a connection: who may read it now.
HANDSHAKE, ARMED, READING, PAUSED, DONE = "handshake", "armed", "reading", "paused", "done"


def too_many_connections(limit: int) -> str:
    """The error a client past ``max_connections`` reads in answer to its first call."""
    return f"rpc: too many connections (this server takes {limit}); try again later"


REFUSED_LINGER = 2.0  # seconds a refused connection stays open, so its client can read why


def report(abandoned: list[str]) -> list[str]:
    if abandoned:
        log.warning("minirpc: closed with calls still running: %s", ", ".join(abandoned))
    return abandoned


def drain(connections: list[Connection], deadline: float | None) -> list[str]:
    """Close the connections now (their clients' calls fail at once), then wait until the
    deadline for the methods still running; return those that did not finish."""
    for connection in connections:
        connection.close()
    abandoned = []
    for connection in connections:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not connection.finished.wait(left):
            abandoned += connection.running_calls()
    return abandoned


def reply_safely(stream_send, response: Response, body: Any, body_type: Any) -> int:
    """Send a reply; a body that cannot be encoded becomes an error reply (nothing was written yet)."""
    try:
        return stream_send(response, body, body_type)
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        response.error = f"rpc: cannot encode reply: {e}"
        return stream_send(response, None, None)


class Connection:
    """One connection served by the workers: its stream and where it stands."""

    def __init__(self, server: Server, stream: Stream, origin: Any, tls: bool):
        self.server, self.stream, self.origin = server, stream, origin
        self.fd = stream.fileno()
        self.write_fd = os.dup(self.fd)  # writability is watched through its own fd: see _arm_write
        self.finished = threading.Event()  # set once the connection is closed and its calls are done
        self.lock = threading.Lock()  # protects everything below
        self.state = HANDSHAKE if tls else ARMED
        self.deadline = time.monotonic() + server.handshake_timeout if tls else None
        self.in_flight = 0  # requests read and not yet answered
        self.running: dict[int, str] = {}  # seq -> "Service.Method" of the requests in flight
        self.batches: set[Batch] = set()  # batches running now (what they answered is booked at their end)
        self.parked: list[tuple] = []  # calls read, not started: the client has not taken its replies
        self.kept: tuple | None = None  # READING, this lone call running: its worker reads again after it
        self.kept_at = 0.0  # when the call kept now began
        self.rescue_due = False  # a timer (_let_go) will look at the kept call
        self.write_armed = False
        self.closed = False
        self.active = time.monotonic()  # when a request or reply last went by, for idle_timeout

    def __repr__(self) -> str:
        return f"<minirpc connection fd={self.fd} {self.state} in_flight={self.in_flight}>"

    # -- the read side: ARMED -> READING -> ARMED (or PAUSED, or DONE)

    def start(self, pending: bool) -> None:
        pool = self.server.pool
        pool.add(self.write_fd, self._on_writable, 0)
        pool.add(self.fd, self._on_readable, 0)
        if self.stream.outbox:  # a greeting the socket did not take at once
            with self.lock:
                self._arm_write()
        if pending:  # bytes arrived with the socket: read them before waiting for more
            self.state = READING
            pool.submit(self._read, False)
        else:
            pool.arm(self.fd, READ)

    def _on_readable(self, events: int) -> None:
        with self.lock:
            if self.state == HANDSHAKE:
                return self._handshake()
            if self.state != ARMED:
                return  # a stale event (the socket was re-armed meanwhile)
            self.state = READING
        self._read(True)

    def _read(self, from_socket: bool) -> None:
        """Read what has arrived, take every whole request (up to the in-flight limit), and run
        them; while they come one at a time, answer each and read again (``_run_kept``)."""
        while True:
            jobs = self._read_requests(from_socket)
            if not (len(jobs) == 1 and self.kept is jobs[0]):  # (if a rescue came first: run it as any other)
                break
            if not self._run_kept(jobs[0]):
                return
            from_socket = True
        if len(jobs) == 1:
            self.server.run(*jobs[0], self.reply)
        elif jobs:
            Batch(self, jobs).run()

    def _read_requests(self, from_socket: bool) -> list:
        """Read (if ``from_socket``), take the whole requests, and arm the socket again (or
        pause, or finish) -- or keep it, for a request that came alone."""
        eof = False  # (a peer that closed is seen by the format: whole requests before it still count)
        if from_socket:
            try:
                if self.stream.receive():
                    while self.stream.has_buffered():  # TLS holds decrypted bytes back
                        self.stream.receive()
            except WOULD_BLOCK:
                pass
            except OSError:  # reset by the peer
                eof = True
            except Exception as e:  # the format refused the bytes (a format of your own may, in receive_data)
                log.debug("minirpc: closing a connection: %s", e)
                eof = True
        jobs, decode = [], self.stream.format.decode_body
        while True:
            messages, eof, full = self._take_requests(eof)
            if messages:
                with self.lock:  # in flight before any is answered (prepare answers a bad one at once)
                    self.in_flight += len(messages)
                    for message in messages:
                        self.running[message.header.seq] = message.header.service_method
                for message in messages:
                    job = prepare(self.server, message.header, lambda t, m=message: decode(m, t), self.reply)
                    if job is not None:
                        jobs.append(job)
            if not self._after_reading(eof, full, jobs[0] if len(jobs) == 1 else None):
                break
        return jobs

    def _run_kept(self, job: tuple) -> bool:
        """Run a lone request with the socket kept; True: read it again now."""
        self.server.run(*job, self.reply)
        with self.lock:
            if self.kept is not job:
                return False  # let go meanwhile: armed, and maybe read by another worker already
            self.kept = None
            if self.state == DONE:  # stop_reading or close came meanwhile
                self._finish_if_done()
                return False
            return True

    def _keep(self, job: tuple) -> None:  # (called holding the lock)
        self.kept, self.kept_at = job, self.active  # READING still: this worker reads again after the reply
        if not self.rescue_due:
            self.rescue_due = True
            self.server.pool.call_later(RESCUE_AFTER, self._let_go, slack=RESCUE_AFTER)

    def _let_go(self) -> None:
        """The rescue timer: if the kept call runs long, arm the socket, so that the requests
        behind it are read; if another call is kept now, look at it when it is due."""
        with self.lock:
            self.rescue_due = False
            if self.kept is None or self.state != READING:
                return  # nothing kept now: the next keep sets a timer again
            wait = self.kept_at + RESCUE_AFTER - time.monotonic()
            if wait > 0:
                self.rescue_due = True
                self.server.pool.call_later(wait, self._let_go, slack=RESCUE_AFTER)
            else:
                self.kept, self.state = None, ARMED
                self.server.pool.arm(self.fd, READ)

    def _take_requests(self, eof: bool) -> tuple[list, bool, bool]:
        """The whole requests buffered, no more than the in-flight limit allows: (requests, eof,
        stopped at the limit).  (``in_flight`` is read without the lock: a soft limit.)"""
        messages, room = [], self.server.max_in_flight - self.in_flight
        while not eof:
            if len(messages) >= room:
                return messages, eof, True
            try:
                message = self.stream.next_message()
            except Exception as e:  # EOF, or bytes we cannot follow: stop reading, as Go does
                if not isinstance(e, EOFError):
                    log.debug("minirpc: closing a connection: %s", e)
                eof = True
                break
            if message is NEED_DATA:
                break
            messages.append(message)
        return messages, eof, False

    def _after_reading(self, eof: bool, full: bool, lone: tuple | None) -> bool:
        """Arm the socket again (or keep it, for a ``lone`` request's job), pause (push-back)
        or finish; True: go on reading what is buffered."""
        with self.lock:
            self.active = time.monotonic()
            if eof or self.state == DONE:
                self.state = DONE
                self._finish_if_done()
            elif not self._may_read():
                self.state = PAUSED  # push-back: whoever sends the next reply resumes reading
            elif full:
                return True  # replies went out meanwhile: there is room again
            elif lone and not self.stream.outbox and self.server.pool.watching:  # (see the module doc)
                self._keep(lone)
            else:
                self.state = ARMED
                self.server.pool.arm(self.fd, READ)
            return False

    def _may_read(self) -> bool:
        return self.in_flight < self.server.max_in_flight and not self.backlogged()

    def backlogged(self) -> bool:
        """Too many reply bytes wait for the client: read nothing more, start no call."""
        return len(self.stream.outbox) >= self.server.max_reply_backlog

    def run_or_park(self, job: tuple) -> None:
        """Run a call read earlier -- or, while the client is not taking its replies, park it."""
        if self.backlogged() and self.park([job]):
            return
        self.server.run(*job, self.reply)

    def park(self, jobs: list) -> bool:
        """Keep calls that have not started until the backlog drains (``_book`` restarts them);
        False if it drained meanwhile (run them now).  (Under the lock, so a drain is not missed:
        whoever drains the outbox books it after, under the same lock.)"""
        with self.lock:
            if not self.backlogged() or self.closed:
                return False
            self.parked += jobs
            return True

    def _unpark(self) -> None:  # (called holding the lock)
        if self.parked and not self.backlogged() and not self.closed:
            jobs, self.parked = self.parked, []
            self.server.pool.submit(Batch(self, jobs).run)

    def _resume_if_paused(self) -> None:  # (called holding the lock)
        if self.state == PAUSED and self._may_read():
            self.state = READING
            self.server.pool.submit(self._read, False)  # whole requests may already be buffered

    def stop_reading(self) -> None:
        """Read no more requests; the connection closes when its running calls are answered."""
        with self.lock:
            if self.closed:
                return
            if self.state in (ARMED, PAUSED, HANDSHAKE):
                self.server.pool.arm(self.fd, 0)
                self.state = DONE
                self._finish_if_done()
            elif self.state == READING:
                self.state = DONE  # the reader sees it when it is done

    def _handshake(self) -> None:  # (called holding the lock)
        try:
            self.stream.sock.do_handshake()
        except ssl.SSLWantReadError:
            return self.server.pool.arm(self.fd, READ)
        except ssl.SSLWantWriteError:
            self.write_armed = True
            return self.server.pool.arm(self.write_fd, WRITE)
        except (ssl.SSLError, OSError) as e:
            log.debug("minirpc: TLS handshake failed: %s", e)
            self.state = DONE
            return self._finish_if_done()
        self.state, self.deadline = READING, None
        self.server.pool.submit(self._read, True)

    # -- replies

    def reply(self, response: Response, body: Any, body_type: Any) -> None:
        """Send one reply (any thread); the request it answers is no longer in flight."""
        try:
            left = reply_safely(self.stream.send, response, body, body_type)
        except OSError:  # the client is gone (or we closed): nothing more to send or read
            left = -1
        self._book((response.seq,), left)

    def _book(self, answered: Any, left: int, batch: Batch | None = None) -> None:
        """After a write: the requests ``answered`` (their seqs) are no longer in flight, and
        ``left`` bytes wait in the outbox (-1: the socket failed); ``batch`` is over."""
        with self.lock:
            if left < 0:
                self._break()
            self.batches.discard(batch)
            self.in_flight -= len(answered)
            for seq in answered:
                self.running.pop(seq, None)
            self.active = time.monotonic()
            if left > 0:
                self._arm_write()
            self._unpark()  # (before reading more: these were read first)
            self._resume_if_paused()
            self._finish_if_done()
            if self.closed and self.in_flight == 0:
                self.finished.set()

    def _arm_write(self) -> None:  # (called holding the lock)
        # The write side has an fd of its own (a dup of the socket's) so that arming it
        # never re-arms the read side: only the reader may arm that, or two could read.
        if not self.write_armed and not self.closed:
            self.write_armed = True
            self.server.pool.arm(self.write_fd, WRITE)

    def _on_writable(self, events: int) -> None:
        with self.lock:
            self.write_armed = False
            if self.state == HANDSHAKE:
                return self._handshake()
        self._write(self.stream.flush)

    def _write(self, flush, answered: Any = (), batch: Batch | None = None) -> None:
        """Write what waits in the outbox with ``flush`` (``stream.flush`` or ``stream.uncork``),
        then book it (and what ``batch``, now over, ``answered``)."""
        try:
            left = flush()
        except OSError:
            left = -1
        self._book(answered, left, batch)

    # -- the end

    def _break(self) -> None:  # (called holding the lock)
        self.state = DONE
        if not self.closed:
            self._close_locked()

    def _finish_if_done(self) -> None:  # (called holding the lock)
        if self.state == DONE and self.in_flight == 0 and not self.stream.outbox and not self.closed:
            self._close_locked()

    def close(self) -> None:
        """Close now, whatever is running (its replies will find the socket closed)."""
        with self.lock:
            self.state = DONE
            if not self.closed:
                self._close_locked()

    def _close_locked(self) -> None:
        self.closed = True
        for header, _, _ in self.parked:  # never started, and now never will: not in flight any more
            self.running.pop(header.seq, None)
        self.in_flight -= len(self.parked)
        self.parked = []
        self.server.pool.remove(self.fd)
        self.server.pool.remove(self.write_fd)
        os.close(self.write_fd)
        self.stream.close()
        self.server._forget(self)
        if self.in_flight == 0:  # else the last reply sets it
            self.finished.set()

    def running_calls(self) -> list[str]:
        with self.lock:
            answered = {seq for batch in self.batches for seq in batch.answered}  # (not booked yet)
            return [f"{name} (seq {seq})" for seq, name in sorted(self.running.items()) if seq not in answered]

    def sweep(self, now: float) -> None:
        with self.lock:
            if self.state == HANDSHAKE and self.deadline is not None and now > self.deadline:
                log.debug("minirpc: TLS handshake took too long")
            elif not (self.server.idle_timeout is not None and self.state == ARMED and not self.in_flight
                      and not self.stream.outbox and now - self.active > self.server.idle_timeout):
                return
            self.state = DONE
            self._close_locked()


RESCUE_AFTER = 0.002  # seconds a batch (a kept call) may run before others may read its connection


class Batch:
    """Requests read together, run in order by the worker that read them, replies corked.

    ``rescue`` (a timer, ``RESCUE_AFTER`` seconds on) ends the batch early -- a slow
    call must not hold back the calls behind it -- and whichever of ``rescue`` and
    the end of ``run`` comes first uncorks the stream, exactly once.  The replies
    ``run`` sends are booked (no longer in flight) together when the batch ends:
    one turn of the connection's lock per batch, not one per reply.
    """

    def __init__(self, connection: Connection, jobs: list):
        self.connection = connection
        self.jobs = collections.deque(jobs)  # taken one by one by run, or all at once by rescue
        self.answered: list[int] = []  # seqs replied to by run: booked together at the end
        self.lock = threading.Lock()  # protects open
        self.open = True  # neither rescued nor finished: the stream is still corked

    def run(self) -> None:
        connection, jobs = self.connection, self.jobs
        run = connection.server.run
        with connection.lock:
            connection.batches.add(self)
        connection.stream.cork()
        timer = connection.server.pool.call_later(RESCUE_AFTER, self.rescue, slack=RESCUE_AFTER)
        while self.open:  # (rescue may close it any time: the deque gives each job to one taker)
            if connection.backlogged():  # the client is not taking its replies: the rest wait
                self._park_the_rest()
                break
            try:
                job = jobs.popleft()
            except IndexError:
                break
            run(*job, self._reply)
        with self.lock:
            last, self.open = self.open, False
        if last:  # not rescued: this worker uncorks
            timer.cancel()
        connection._write(connection.stream.uncork if last else connection.stream.flush, self.answered, self)

    def _reply(self, response: Response, body: Any, body_type: Any) -> None:
        """A reply from run: into the (corked) stream now, booked at the end of the batch."""
        try:
            reply_safely(self.connection.stream.send, response, body, body_type)
        except OSError:
            pass  # the socket is gone: the flush at the end finds out and breaks the connection
        self.answered.append(response.seq)

    def _take_the_rest(self) -> list:
        rest = []
        while self.jobs:
            try:
                rest.append(self.jobs.popleft())
            except IndexError:
                break
        return rest

    def _park_the_rest(self) -> None:
        rest = self._take_the_rest()
        if rest and not self.connection.park(rest):  # drained meanwhile: they go to other workers
            for job in rest:
                self.connection.server.pool.submit(self.connection.run_or_park, job)

    def rescue(self) -> None:
        with self.lock:
            if not self.open:
                return
            self.open = False
        rest = self._take_the_rest()
        connection = self.connection
        connection._write(connection.stream.uncork)  # the replies done so far leave now
        for job in rest:
            connection.server.pool.submit(connection.run_or_park, job)


def prepare(server: Server, header: Request, read_body, reply):
    """Find the method a request names and decode its body with ``read_body(type)``: (header,
    method, args) to run, or None when the request was answered with an error already."""
    try:
        method = server.lookup(header)
    except LookupError as e:
        try:
            read_body(None)  # read and drop it, as Go does: the stream stays in step
        except BodyError:
            pass
        reply(Response(header.service_method, header.seq, str(e)), None, None)
        return None
    try:
        args = read_body(method.arg_type)
    except BodyError as e:  # the body was read whole, so carry on
        reply(Response(header.service_method, header.seq, str(e)), None, None)
        return None
    return header, method, args


def write_reply(codec: Any, response: Response, body: Any, body_type: Any) -> None:
    """Write a reply through a four-method codec (a codec of your own never sees body_type)."""
    def send(response, body, body_type):
        codec.write_response(response, body)
        return 0
    try:
        reply_safely(send, response, body, body_type)
    except OSError:
        pass  # the client is gone; the reader will notice and end


def serve_codec(server: Server, codec: Any) -> None:
    """Go's ServeCodec loop, for a codec of your own: this thread reads, the workers run the calls."""
    sending = threading.Lock()  # one reply at a time through the codec
    done = threading.Condition()  # protects in_flight
    in_flight = [0]

    def reply(response, body, body_type):
        with sending:
            write_reply(codec, response, body, body_type)
        with done:
            in_flight[0] -= 1
            done.notify_all()

    def run(header, method, args):
        server.run(header, method, args, reply)

    while True:
        with done:  # push-back, as for minirpc's own connections
            while in_flight[0] >= server.max_in_flight:
                done.wait()
        try:
            header = codec.read_request_header()
        except Exception:  # EOF, a socket error, bytes we cannot read: end this connection
            break
        with done:
            in_flight[0] += 1
        try:
            job = prepare(server, header, codec.read_request_body, reply)
        except Exception:
            break
        if job is not None:
            server.pool.submit(run, *job)
    with done:
        while in_flight[0] > 0:
            done.wait()
    codec.close()
