"""minirpc.aio: the same wire formats on asyncio, served and called, for every codec.

The behaviours of tests/test_rpc.py and tests/test_client_failures.py, ported to
the asyncio client and server, plus what is asyncio's own: which methods run on
the loop and which on a thread, push-back, and talking to the threaded side.

No test here waits on the clock: a call that must still be running waits on a
gate (``Gate``, ``Latch``) that the test opens when it chooses.  Every test runs
in its own ``asyncio.run`` and must leave no task behind (``on_loop``) and no
thread (conftest's check).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import textwrap
import threading
from dataclasses import dataclass

import pytest

import minirpc
from minirpc import aio
from minirpc.codec import wire_format
from minirpc.errors import CallCancelled, CallTimeout, ConnectionLost, ServerError, ShutdownError
from minirpc.format import NEED_DATA, Request, Response

from conftest import Args, Arith, Quotient, tls_contexts

HANG_GUARD = 30.0  # seconds: a test that takes longer than this has found a hang


def on_loop(test):
    """Run an ``async def`` test in its own event loop; it must leave no task behind."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        async def checked():
            await asyncio.wait_for(test(*args, **kwargs), HANG_GUARD)
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            assert not left, f"tasks left behind: {left}"
        asyncio.run(checked())
    return run


async def eventually(predicate, timeout: float = 10.0) -> bool:
    """Poll ``predicate`` (letting the loop run) until it holds or ``timeout`` s pass."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


# ---------------------------------------------------------------- the services


class Gate:
    """Async calls that wait until the test opens their key: the test, not the clock, orders them."""

    def __init__(self):
        self.keys: dict[int, asyncio.Event] = {}
        self.entered = 0

    def key(self, key: int) -> asyncio.Event:
        return self.keys.setdefault(key, asyncio.Event())

    @aio.async_method
    async def Hold(self, key: int) -> int:
        self.entered += 1
        await self.key(key).wait()
        return key


class Latch:
    """A plain method that blocks its thread until the test lets it go."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def Wait(self, n: int) -> int:
        self.entered.set()
        self.release.wait(HANG_GUARD)
        return n


class Where:
    """Says which thread ran it."""

    @aio.async_method
    async def Async(self, _: int) -> str:
        return threading.current_thread().name

    def Plain(self, _: int) -> str:
        return threading.current_thread().name


class Faulty:
    @aio.async_method
    async def Raise(self, text: str) -> int:
        raise RuntimeError(text)

    def PlainRaise(self, _: int) -> int:
        raise KeyError

    @aio.async_method
    async def Unencodable(self, _: int) -> int:
        return object()  # the annotation lies

    @aio.async_method
    async def Cancelled(self, _: int) -> int:
        raise asyncio.CancelledError  # (what awaiting a cancelled future of its own would do)


@dataclass
class Secret:
    _msg: bytes = b""  # no exported field: Go's gob refuses the type


class Store:
    def __init__(self):
        self.items: list[str] = []

    @aio.async_method
    async def Put(self, item: str) -> None:  # no reply
        self.items.append(item)

    def Hidden(self, _: int) -> Secret:
        return Secret(b"x")


class Big:
    def __init__(self):
        self.served = 0

    @aio.async_method
    async def Blob(self, n: int) -> bytes:
        self.served += 1
        return bytes(n)


class Services:
    """A minirpc.Server with every service above registered."""

    def __init__(self, **options):
        self.server = minirpc.Server(**options)
        self.gate, self.latch, self.big, self.store = Gate(), Latch(), Big(), Store()
        for receiver in (Arith(), self.gate, self.latch, Where(), Faulty(), self.big, self.store):
            self.server.register(receiver)
        self.server.register_name("net.rpc.Arith", Arith())


@contextlib.asynccontextmanager
async def served(codec: str, **options):
    """The services on an asyncio serving at 127.0.0.1 port 0, and an asyncio client of it."""
    services = Services(**options)
    serving = await aio.start(services.server, "127.0.0.1:0", codec=codec)
    try:
        async with await aio.dial(serving.address, codec=codec) as client:
            yield client, services, serving
    finally:
        services.latch.release.set()
        await serving.close()
        services.server.close()


# ---------------------------------------------------------------- replies and Go's error texts


@on_loop
async def test_call_returns_the_reply(codec):
    async with served(codec) as (client, _, _):
        assert await client.call("Arith.Add", Args(7, 8)) == 15


@on_loop
async def test_reply_decodes_into_the_given_type(codec):
    async with served(codec) as (client, _, _):
        assert await client.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


@on_loop
async def test_reply_without_a_type_is_plain_values(codec):
    async with served(codec) as (client, _, _):
        assert await client.call("Arith.Div", Args(17, 5)) == {"Quo": 3, "Rem": 2}


@on_loop
async def test_server_error_carries_the_exact_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^divide by zero$"):
            await client.call("Arith.Div", Args(1, 0))


@on_loop
async def test_unknown_method_uses_gos_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match=r"^rpc: can't find method Arith\.Nope$"):
            await client.call("Arith.Nope", Args(1, 2))


@on_loop
async def test_unknown_service_uses_gos_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match=r"^rpc: can't find service Nope\.Add$"):
            await client.call("Nope.Add", Args(1, 2))


@on_loop
async def test_ill_formed_name_uses_gos_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^rpc: service/method request ill-formed: NoDot$"):
            await client.call("NoDot", Args(1, 2))


@on_loop
async def test_wrong_argument_type_is_an_error_and_the_connection_goes_on(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="Args|type|struct|expected"):
            await client.call("Arith.Add", "not args")
        assert await client.call("Arith.Add", Args(2, 2)) == 4


@on_loop
async def test_dotted_service_name(codec):
    async with served(codec) as (client, _, _):
        assert await client.call("net.rpc.Arith.Add", Args(3, 4)) == 7


@on_loop
async def test_a_go_call_is_a_future_with_gos_call_fields(codec):
    async with served(codec) as (client, _, _):
        call = client.go("Arith.Mul", Args(7, 8))
        assert isinstance(call, asyncio.Future) and await call == 56
        assert (call.service_method, call.args, call.seq, call.reply, call.error) == \
            ("Arith.Mul", Args(7, 8), 0, 56, None)


@on_loop
async def test_a_method_with_no_reply_answers_none(codec):
    async with served(codec) as (client, services, _):
        assert await client.call("Store.Put", "x", reply_type=type(None)) is None
        assert await client.call("Store.Put", "y") in (None, {})  # no type given: Go's empty struct, as plain data
        assert services.store.items == ["x", "y"]


@on_loop
async def test_arguments_the_format_cannot_encode_fail_that_call_only(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises((TypeError, ValueError)):
            await client.call("Arith.Add", object())
        assert await client.call("Arith.Add", Args(1, 1)) == 2


# ---------------------------------------------------------------- which methods run where


@on_loop
async def test_an_async_method_is_awaited_on_the_loop(codec):
    async with served(codec) as (client, _, _):
        assert await client.call("Where.Async", 0) == threading.current_thread().name


@on_loop
async def test_a_plain_method_runs_on_a_worker_thread(codec):
    async with served(codec) as (client, _, _):
        assert (await client.call("Where.Plain", 0)).startswith("minirpc-aio-worker")


@on_loop
async def test_a_blocking_plain_method_does_not_stall_the_loop(codec):
    async with served(codec) as (client, services, _):
        blocked = client.go("Latch.Wait", 7)
        assert await client.call("Where.Async", 0) and await client.call("Arith.Add", Args(1, 1)) == 2
        assert not blocked.done()
        services.latch.release.set()
        assert await blocked == 7


def test_an_async_method_is_held_to_the_registrys_rules():
    class Mixed:
        @aio.async_method
        async def Two(self, a: int, b: int) -> int:
            return a + b

        @aio.async_method
        async def One(self, a: int) -> int:
            return a

    with minirpc.Server() as server:
        service = server.register(Mixed())
    assert list(service.methods) == ["One"]
    assert service.skipped == [("Two", "takes 2 arguments after self; needs exactly one")]


def test_async_method_refuses_a_plain_function():
    with pytest.raises(TypeError, match="async def"):
        aio.async_method(lambda self, args: args)


def test_the_threaded_server_answers_an_async_method_with_an_error_naming_minirpc_aio(codec):
    services = Services()
    try:
        with services.server.start(codec=codec) as serving, minirpc.dial(serving.address, codec=codec) as client:
            with pytest.raises(ServerError, match=r"^Gate\.Hold is async: serve it with minirpc\.aio\.start$"):
                client.call("Gate.Hold", 1)
            assert client.call("Arith.Add", Args(1, 2)) == 3
    finally:
        services.server.close()


# ---------------------------------------------------------------- a method that fails never kills the server


@on_loop
async def test_an_async_method_that_raises_answers_with_its_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^kaboom$"):
            await client.call("Faulty.Raise", "kaboom")
        assert await client.call("Arith.Add", Args(1, 1)) == 2


@on_loop
async def test_a_plain_method_that_raises_answers_with_the_exceptions_name_when_it_has_no_text(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^KeyError$"):
            await client.call("Faulty.PlainRaise", 1)
        assert await client.call("Arith.Add", Args(1, 1)) == 2


@on_loop
async def test_an_async_method_that_raises_cancelled_error_still_answers(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^CancelledError$"):
            await client.call("Faulty.Cancelled", 1)
        assert await client.call("Arith.Add", Args(1, 1)) == 2


@on_loop
async def test_a_reply_that_cannot_be_encoded_becomes_an_error_reply(codec):
    async with served(codec) as (client, _, _):
        with pytest.raises(ServerError, match="^rpc: cannot encode reply: "):
            await client.call("Faulty.Unencodable", 1)
        assert await client.call("Arith.Add", Args(1, 1)) == 2


@on_loop
async def test_a_gob_reply_that_cannot_be_encoded_is_an_error_and_the_stream_stays_in_step():
    async with served("gob") as (client, _, _):
        with pytest.raises(ServerError, match="^rpc: cannot encode reply: gob: type Secret has no exported fields$"):
            await client.call("Store.Hidden", 1)
        assert await client.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


# ---------------------------------------------------------------- many calls in flight


@on_loop
async def test_many_calls_in_flight_on_one_connection_all_match(codec):
    async with served(codec) as (client, _, _):
        calls = [client.go("Arith.Add", Args(i, i)) for i in range(500)]
        assert await asyncio.gather(*calls) == [2 * i for i in range(500)]


@on_loop
async def test_many_tasks_share_one_client(codec):
    async with served(codec) as (client, _, _):
        async def worker(n):
            return [await client.call("Arith.Mul", Args(n, k)) for k in range(20)]
        assert await asyncio.gather(*(worker(n) for n in range(8))) == [[n * k for k in range(20)] for n in range(8)]


@on_loop
async def test_a_slow_call_does_not_hold_up_a_fast_one(codec):
    async with served(codec) as (client, services, _):
        slow = client.go("Gate.Hold", 1)
        assert await client.call("Arith.Add", Args(1, 1)) == 2
        assert not slow.done()
        services.gate.key(1).set()
        assert await slow == 1


@on_loop
async def test_replies_arrive_in_the_order_calls_finish(codec):
    async with served(codec) as (client, services, _):
        calls = {key: client.go("Gate.Hold", key) for key in range(4)}
        finished = []
        for key in (2, 0, 3, 1):
            services.gate.key(key).set()
            done, _ = await asyncio.wait(set(calls.values()) - set(finished), return_when=asyncio.FIRST_COMPLETED)
            finished += done
        assert [call.result() for call in finished] == [2, 0, 3, 1]


# ---------------------------------------------------------------- time limits and cancelling


@on_loop
async def test_a_call_that_times_out_raises_call_timeout_and_its_late_reply_is_dropped(codec):
    async with served(codec) as (client, services, _):
        with pytest.raises(CallTimeout, match=r"^Gate\.Hold: no reply within 0\.05 s$"):
            await client.call("Gate.Hold", 1, timeout=0.05)
        services.gate.key(1).set()  # the late reply now comes, before the next call's
        assert await client.call("Arith.Add", Args(2, 3)) == 5


@on_loop
async def test_a_go_call_that_times_out_reports_call_timeout(codec):
    async with served(codec) as (client, services, _):
        call = client.go("Gate.Hold", 1, timeout=0.05)
        with pytest.raises(CallTimeout):
            await call
        assert isinstance(call.error, TimeoutError)
        services.gate.key(1).set()


@contextlib.asynccontextmanager
async def not_reading(codec: str):
    """A client connected to a peer that accepts and reads nothing (until ``read_all`` is
    called): (client, read_all, received) -- ``received`` collects what the peer then reads."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted, received, stop = [], bytearray(), threading.Event()
    acceptor = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    acceptor.start()
    client = await aio.dial("%s:%d" % listener.getsockname(), codec=codec)
    acceptor.join(HANG_GUARD)
    peer = accepted[0]

    def read_all():
        peer.settimeout(0.05)
        while not stop.is_set():
            try:
                data = peer.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                return
            received.extend(data)

    reader = threading.Thread(target=read_all)
    try:
        yield client, reader.start, received
    finally:
        stop.set()
        if reader.is_alive() or reader.ident is not None:
            reader.join(HANG_GUARD)
        await client.close()
        peer.close()
        listener.close()


@on_loop
async def test_calls_to_a_server_that_does_not_read_wait_to_be_sent_and_memory_stays_bounded(codec):
    async with not_reading(codec) as (client, _, _):
        payload = "x" * (1 << 20)
        outcomes = await asyncio.gather(*(client.call("Big.Echo", payload, timeout=0.3) for _ in range(100)),
                                        return_exceptions=True)
        assert all(isinstance(e, CallTimeout) for e in outcomes)
        assert any("not sent within 0.3 s" in str(e) for e in outcomes)
        assert client._writer.transport.get_write_buffer_size() < 16 << 20  # not the 100 MiB asked for


@on_loop
async def test_a_call_waiting_to_be_sent_goes_once_the_server_reads(codec):
    async with not_reading(codec) as (client, read_all, received):
        first = client.go("Big.Echo", "x" * (4 << 20))  # more than the socket holds: the rest waits in the transport
        waiting = asyncio.ensure_future(client.call("Then.This", Args(1, 2)))
        await asyncio.sleep(0.05)
        assert not waiting.done() and client._seq == 1  # it waits before it is numbered and written
        read_all()
        assert await eventually(lambda: b"Then.This" in received)
        first.cancel()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)


@on_loop
async def test_a_cancelled_call_reports_cancelled_and_others_continue(codec):
    async with served(codec) as (client, services, _):
        call = client.go("Gate.Hold", 1)
        assert call.cancel()
        assert call.cancelled() and isinstance(call.error, CallCancelled)
        with pytest.raises(asyncio.CancelledError):
            await call
        services.gate.key(1).set()  # its late reply is dropped
        assert await client.call("Arith.Add", Args(1, 2)) == 3


@on_loop
async def test_calls_given_up_leave_nothing_kept_in_the_json_format():
    # (JSON-RPC's client format keeps each request's method name until its reply: see test_rpc.py)
    async with served("json") as (client, services, _):
        for key in range(10):
            with pytest.raises(CallTimeout):
                await client.call("Gate.Hold", key, timeout=0.01)
            assert client.go("Gate.Hold", 100 + key).cancel()
        await asyncio.sleep(0)  # (a cancelled call's done-callbacks run on the loop's next turn)
        assert client.format._methods == {}
        for key in [*range(10), *range(100, 110)]:
            services.gate.key(key).set()  # the late replies come, are read and dropped
        assert await client.call("Arith.Add", Args(1, 2)) == 3
        assert client.format._methods == {}


@on_loop
async def test_cancelling_the_task_that_awaits_a_call_cancels_the_call(codec):
    async with served(codec) as (client, services, _):
        task = asyncio.create_task(client.call("Gate.Hold", 1))
        assert await eventually(lambda: services.gate.entered == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        services.gate.key(1).set()
        assert await client.call("Arith.Add", Args(1, 2)) == 3


# ---------------------------------------------------------------- closing


@on_loop
async def test_call_after_close_is_shutdown_error(codec):
    async with served(codec) as (client, _, serving):
        other = await aio.dial(serving.address, codec=codec)
        await other.close()
        with pytest.raises(ShutdownError, match="^connection is shut down$"):
            await other.call("Arith.Add", Args(1, 1))


@on_loop
async def test_second_close_is_shutdown_error(codec):
    async with served(codec) as (client, _, _):
        await client.close()
        with pytest.raises(ShutdownError):
            await client.close()


@on_loop
async def test_closing_fails_pending_calls_at_once(codec):
    async with served(codec) as (client, services, _):
        call = client.go("Gate.Hold", 1)
        await client.close()
        assert isinstance(call.exception(), ShutdownError)
        services.gate.key(1).set()


@on_loop
async def test_the_server_going_away_fails_every_pending_call(codec):
    async with served(codec) as (client, services, serving):
        calls = [client.go("Gate.Hold", 1) for _ in range(3)]
        assert await eventually(lambda: services.gate.entered == 3)
        await serving.close(timeout=0)
        for call in calls:
            with pytest.raises(ConnectionLost):
                await call
        with pytest.raises(ShutdownError):
            await client.call("Arith.Add", Args())


@on_loop
async def test_close_with_a_timeout_cancels_calls_still_running_and_names_them(codec):
    async with served(codec) as (client, services, serving):
        call = client.go("Gate.Hold", 1)
        assert await eventually(lambda: services.gate.entered == 1)
        await serving.close(timeout=0.01)
        assert len(serving.abandoned) == 1 and serving.abandoned[0].startswith("Gate.Hold (seq ")
        with pytest.raises(ConnectionLost):
            await call


@on_loop
async def test_close_without_a_timeout_waits_for_running_calls(codec):
    async with served(codec) as (client, services, serving):
        call = client.go("Latch.Wait", 1)
        assert await eventually(services.latch.entered.is_set)
        closing = asyncio.create_task(serving.close())
        await asyncio.wait([closing], timeout=0.05)
        assert not closing.done()
        services.latch.release.set()
        await closing
        assert serving.abandoned == []
        with pytest.raises(ConnectionLost):  # its connection closed at once: the reply had nowhere to go
            await call


@on_loop
async def test_a_half_closed_client_still_gets_its_reply(codec):
    async with served(codec) as (_, services, serving):
        reader, writer = await asyncio.open_connection(*serving.address.rsplit(":", 1))
        fmt = wire_format(codec).client(1 << 20)
        writer.write(fmt.encode(Request("Gate.Hold", 0), 1))
        writer.write_eof()  # Go's TestShutdown: the client closes its write side while the call runs
        assert await eventually(lambda: services.gate.entered == 1)
        services.gate.key(1).set()
        while (message := fmt.next_message()) is NEED_DATA:
            fmt.receive_data(await reader.read(65536))
        assert fmt.decode_body(message, int) == 1
        writer.close()


# ---------------------------------------------------------------- push-back


@on_loop
async def test_a_connection_is_not_read_while_max_in_flight_calls_are_unanswered(codec):
    async with served(codec, max_in_flight=4) as (client, services, serving):
        calls = [client.go("Gate.Hold", 1) for _ in range(10)]
        assert await eventually(lambda: serving.connections()[0].paused == "calls" and services.gate.entered == 4)
        assert len(serving.connections()[0].calls) == 4
        services.gate.key(1).set()
        assert await asyncio.gather(*calls) == [1] * 10


@on_loop
async def test_a_client_that_never_reads_is_pushed_back_and_others_are_still_served(codec):
    in_flight, backlog, reply = 8, 64 * 1024, 16 * 1024
    async with served(codec, max_in_flight=in_flight, max_reply_backlog=backlog) as (client, services, serving):
        host, port = serving.address.rsplit(":", 1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window, never read
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        _, writer = await asyncio.open_connection(sock=sock)
        fmt = wire_format(codec).client(1 << 20)
        writer.write(b"".join(fmt.encode(Request("Big.Blob", seq), reply) for seq in range(2000)))
        try:
            assert await eventually(lambda: any(c.paused == "replies" for c in serving.connections()))
            flooded = next(c for c in serving.connections() if c.paused)  # (paused for good: nobody reads)
            assert await client.call("Arith.Add", Args(1, 2)) == 3  # another client is served meanwhile
            assert len(flooded.calls) <= in_flight
            assert flooded.writer.transport.get_write_buffer_size() <= backlog + in_flight * 2 * reply
            assert services.big.served < 2000  # the rest waits unread, in the client's kernel buffers
        finally:
            writer.transport.abort()


@on_loop
async def test_calls_of_a_client_that_does_not_read_wait_and_run_once_it_reads(codec):
    calls, size = 64, 256 * 1024  # 16 MiB of replies or more: past what the kernels' buffers take
    async with served(codec, max_reply_backlog=64 * 1024) as (_, services, serving):
        reader, writer = await asyncio.open_connection(*serving.address.rsplit(":", 1))
        fmt = wire_format(codec).client(1 << 20)
        writer.write(b"".join(fmt.encode(Request("Big.Blob", seq), size) for seq in range(calls)))
        assert await eventually(lambda: sum(c.parked for c in serving.connections()) + services.big.served == calls)
        assert services.big.served <= calls * 3 // 4  # the rest wait, parked: not run for a client that does not read
        replies = 0
        while replies < calls:  # the client reads at last: the parked calls run, every reply arrives
            message = fmt.next_message()
            if message is NEED_DATA:
                fmt.receive_data(await reader.read(1 << 16))
                continue
            assert len(fmt.decode_body(message, bytes)) == size
            replies += 1
        assert services.big.served == calls and not any(c.parked for c in serving.connections())
        writer.close()


# ---------------------------------------------------------------- a stream that breaks under the client


@contextlib.asynccontextmanager
async def peer(handle):
    """A listener on 127.0.0.1 whose connections ``handle(reader, writer)`` drives by hand."""
    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield "127.0.0.1:%d" % listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        await listener.wait_closed()


async def read_requests(reader, n: int, codec: str):
    """Read n whole requests with minirpc's own format; return the format and the messages."""
    fmt, messages = wire_format(codec).server(1 << 20), []
    while len(messages) < n:
        message = fmt.next_message()
        if message is NEED_DATA:
            fmt.receive_data(await reader.read(65536))
        else:
            messages.append(message)
    return fmt, messages


@on_loop
async def test_a_stream_that_ends_between_a_gob_replys_header_and_its_body_is_reading_body_unexpected_eof():
    async def handle(reader, writer):
        fmt, (request,) = await read_requests(reader, 1, "gob")
        whole = fmt.encode(Response(request.header.service_method, request.header.seq), 3, int)
        writer.write(whole[:-4])  # the whole header message, and the body's message cut short
        writer.close()

    async with peer(handle) as address:
        async with await aio.dial(address, codec="gob") as client:
            calls = [client.go("Arith.Add", Args(i, 1)) for i in range(3)]
            for call in calls:
                with pytest.raises(ConnectionLost, match="^reading body unexpected EOF$"):
                    await call
            with pytest.raises(ShutdownError):
                await client.call("Arith.Add", Args(1, 2))


@on_loop
async def test_a_stream_that_ends_between_replies_is_an_unexpected_eof(codec):
    async def handle(reader, writer):
        await read_requests(reader, 1, codec)
        writer.close()  # a clean hang-up, the request read

    async with peer(handle) as address:
        async with await aio.dial(address, codec=codec) as client:
            with pytest.raises(ConnectionLost, match="^unexpected EOF$"):
                await client.call("Arith.Add", Args(1, 2))


@on_loop
async def test_bytes_the_client_cannot_follow_fail_its_pending_calls(codec):
    async def handle(reader, writer):
        await read_requests(reader, 1, codec)
        writer.write(b"\x05\xff\xff\xff\xff\xff" if codec == "gob" else b"[1, 2]\n")
        writer.close()

    async with peer(handle) as address:
        async with await aio.dial(address, codec=codec) as client:
            with pytest.raises(ConnectionLost):
                await client.call("Arith.Add", Args(1, 2))


# ---------------------------------------------------------------- bad bytes on the server


@on_loop
async def test_bytes_that_break_the_format_close_only_that_connection(codec):
    async with served(codec) as (client, _, serving):
        reader, writer = await asyncio.open_connection(*serving.address.rsplit(":", 1))
        writer.write(b"\x05\xff\xff\xff\xff\xff" if codec == "gob" else b"[not, json\n")
        assert await reader.read() == b""  # closed: no hang, no reply
        writer.close()
        assert await client.call("Arith.Add", Args(1, 2)) == 3


# ---------------------------------------------------------------- the threaded side, both ways


@on_loop
async def test_the_threaded_client_calls_the_asyncio_server(codec):
    async with served(codec) as (_, _, serving):
        def threaded():
            with minirpc.dial(serving.address, codec=codec) as client:
                calls = [client.go("Arith.Add", Args(i, i)) for i in range(100)]
                try:
                    client.call("Arith.Div", Args(1, 0))
                except ServerError as e:
                    error = str(e)
                return client.call("Where.Async", 0), [c.result(10) for c in calls], error

        loop_thread = threading.current_thread().name
        assert await asyncio.to_thread(threaded) == (loop_thread, [2 * i for i in range(100)], "divide by zero")


@on_loop
async def test_the_asyncio_client_calls_the_threaded_server(codec):
    services = Services()
    try:
        with services.server.start(codec=codec) as serving:
            async with await aio.dial(serving.address, codec=codec) as client:
                calls = [client.go("Arith.Add", Args(i, i)) for i in range(100)]
                with pytest.raises(ServerError, match="^divide by zero$"):
                    await client.call("Arith.Div", Args(1, 0))
                assert await client.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)
                assert await asyncio.gather(*calls) == [2 * i for i in range(100)]
    finally:
        services.server.close()


# ---------------------------------------------------------------- dialling and listening


@on_loop
async def test_dial_takes_a_network_and_an_address(codec):
    async with served(codec) as (_, _, serving):
        async with await aio.dial("tcp", serving.address, codec=codec) as client:
            assert await client.call("Arith.Add", Args(1, 2)) == 3


@on_loop
async def test_unix_socket_transport(codec, tmp_path):
    services = Services()
    path = str(tmp_path / "rpc.sock")
    try:
        async with await aio.start(services.server, path, network="unix", codec=codec) as serving:
            assert (serving.network, serving.address) == ("unix", path)
            async with await aio.dial("unix", path, codec=codec) as client:
                assert await client.call("Arith.Add", Args(1, 2)) == 3
    finally:
        services.server.close()


@on_loop
async def test_dial_refused_fails_clearly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % sock.getsockname()[1]  # nobody listens there
    with pytest.raises(ConnectionRefusedError):
        await aio.dial(address)


@on_loop
async def test_dial_and_start_take_formats_only():
    with pytest.raises(ValueError, match="unknown codec 'xml'"):
        await aio.dial("127.0.0.1:1", codec="xml")
    with pytest.raises(TypeError, match="codec of your own"):
        await aio.dial("127.0.0.1:1", codec=lambda conn: conn)
    with minirpc.Server() as server, pytest.raises(TypeError, match="codec of your own"):
        await aio.start(server, codec=lambda conn: conn)


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def contexts():
    pytest.importorskip("trustme")
    return tls_contexts()


@on_loop
async def test_a_call_over_tls_from_the_asyncio_client_to_the_asyncio_server(codec, contexts):
    server_context, client_context = contexts
    services = Services()
    try:
        async with await aio.start(services.server, codec=codec, ssl_context=server_context) as serving:
            async with await aio.dial(serving.address, codec=codec, ssl_context=client_context) as client:
                assert await client.call("Arith.Add", Args(1, 2)) == 3
    finally:
        services.server.close()


@on_loop
async def test_dial_timeout_bounds_a_tls_handshake_that_never_comes(contexts):
    async def silent(reader, writer):
        await reader.read()  # accepted, and then silence: no ServerHello ever
        writer.close()

    async with peer(silent) as address:
        with pytest.raises(TimeoutError, match=r"^dial tcp 127\.0\.0\.1:\d+: timed out after 0\.2 s$"):
            await aio.dial(address, timeout=0.2, ssl_context=contexts[1])


# ---------------------------------------------------------------- the lesson


def test_the_module_docstrings_tutorial_runs_as_written(capsys):
    tutorial = aio.__doc__.split("::\n\n", 1)[1].split("\n\n" + "The bytes", 1)[0]
    exec(compile(textwrap.dedent(tutorial), "minirpc.aio tutorial", "exec"), {})
    assert capsys.readouterr().out == "56\n[30, 10, 20]\n"


def recorded_writes(client) -> list[bytes]:
    """Record every write the client makes to its transport from now on."""
    writes, write = [], client._writer.write

    def recording(data):
        writes.append(bytes(data))
        write(data)

    client._writer.write = recording
    return writes


@on_loop
async def test_a_lone_go_call_is_written_before_go_returns(codec):
    async with served(codec) as (client, _, _):
        writes = recorded_writes(client)
        call = client.go("Arith.Add", Args(1, 2))
        assert len(writes) == 1
        assert await call == 3


@on_loop
async def test_go_calls_started_back_to_back_leave_in_one_write_in_order(codec):
    async with served(codec) as (client, _, _):
        writes = recorded_writes(client)
        calls = [client.go("Arith.Add", Args(i, 1)) for i in range(50)]
        assert len(writes) == 1  # the first; the other 49 wait for the loop's next turn
        assert await asyncio.gather(*calls) == [i + 1 for i in range(50)]
        assert len(writes) == 2
        fmt = aio._wire_format(codec).server(1 << 20)  # (the JSON server renumbers: count the methods)
        fmt.receive_data(b"".join(writes))
        bodies = []
        while (message := fmt.next_message()) is not NEED_DATA:
            bodies.append(fmt.decode_body(message, Args).A)
        assert bodies == list(range(50))


@on_loop
async def test_requests_waiting_for_the_next_turn_are_dropped_when_the_client_closes(codec):
    async with served(codec) as (client, _, _):
        first = client.go("Arith.Add", Args(1, 1))
        waiting = client.go("Arith.Add", Args(2, 2))
        await client.close()
        for call in (first, waiting):
            with pytest.raises(ShutdownError):
                await call


@on_loop
async def test_past_the_connection_cap_a_client_gets_a_clear_error(codec):
    async with served(codec, max_connections=2) as (client, _, serving):
        async with await aio.dial(serving.address, codec=codec) as second:
            assert await second.call("Arith.Add", Args(1, 1)) == 2
            async with await aio.dial(serving.address, codec=codec) as refused:
                with pytest.raises(minirpc.ServerError, match=r"too many connections \(this server takes 2\)"):
                    await refused.call("Arith.Add", Args(1, 1), timeout=HANG_GUARD)
        assert await client.call("Arith.Add", Args(2, 2)) == 4  # those within the cap are served on
        assert await eventually(lambda: len(serving.connections()) == 1)
        async with await aio.dial(serving.address, codec=codec) as later:  # a place came free
            assert await later.call("Arith.Add", Args(3, 3)) == 6


@on_loop
async def test_an_idle_connection_is_closed_after_the_idle_timeout(codec):
    async with served(codec, idle_timeout=0.3) as (_, _, serving):
        host, port = serving.address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        assert await asyncio.wait_for(reader.read(1), HANG_GUARD) == b""  # it said nothing: hung up on
        writer.close()
        await writer.wait_closed()


@on_loop
async def test_a_connection_whose_call_outlasts_the_idle_timeout_is_not_idle(codec):
    async with served(codec, idle_timeout=0.2) as (client, services, _):
        call = client.go("Gate.Hold", 1)
        await asyncio.sleep(0.5)  # (more than the idle timeout, with the call running)
        services.gate.key(1).set()
        assert await call == 1
        assert await client.call("Arith.Add", Args(1, 2)) == 3
