"""End-to-end behaviour of server and client, ported from Go's net/rpc server_test.go
and client_test.go, for every codec."""

from __future__ import annotations

import gc
import math
import socket
import threading
import time
import weakref
from concurrent import futures
from dataclasses import dataclass

import pytest

import minirpc
from minirpc import jsonrpc
from minirpc.errors import ProtocolError
from minirpc.format import Request, WireFormat

from conftest import Args, Arith, Quotient


def test_sync_call_returns_the_reply(client):
    assert client.call("Arith.Add", Args(7, 8)) == 15


def test_reply_decodes_into_the_given_type(client):
    assert client.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


def test_reply_without_a_type_is_plain_values(client):
    assert client.call("Arith.Div", Args(17, 5)) == {"Quo": 3, "Rem": 2}


def test_server_error_carries_the_exact_text(client):
    with pytest.raises(minirpc.ServerError) as error:
        client.call("Arith.Div", Args(1, 0))
    assert str(error.value) == "divide by zero"


def test_unknown_method_uses_gos_text(client):
    with pytest.raises(minirpc.ServerError, match=r"^rpc: can't find method Arith\.Nope$"):
        client.call("Arith.Nope", Args(1, 2))


def test_unknown_service_uses_gos_text(client):
    with pytest.raises(minirpc.ServerError, match=r"^rpc: can't find service Nope\.Add$"):
        client.call("Nope.Add", Args(1, 2))


def test_ill_formed_name_uses_gos_text(client):
    with pytest.raises(minirpc.ServerError, match="^rpc: service/method request ill-formed: NoDot$"):
        client.call("NoDot", Args(1, 2))


def test_connection_survives_errors(client):
    with pytest.raises(minirpc.ServerError):
        client.call("Arith.Nope", Args())
    with pytest.raises(minirpc.ServerError):
        client.call("Arith.Div", Args(1, 0))
    assert client.call("Arith.Add", Args(1, 1)) == 2


def test_wrong_argument_type_is_an_error_naming_the_type(client):
    with pytest.raises(minirpc.ServerError, match="Args|type|struct|expected"):
        client.call("Arith.Add", "not args")
    assert client.call("Arith.Add", Args(2, 2)) == 4


def test_string_argument_and_string_reply(client):
    assert client.call("Arith.String", Args(1, 2)) == "1+2=3"
    assert client.call("Arith.Scan", "42") == 42


def test_dotted_service_name(client):
    assert client.call("net.rpc.Arith.Add", Args(3, 4)) == 7


def test_builtin_map_and_slice_replies(client):
    assert client.call("BuiltinTypes.Map", Args(7, 8), reply_type=dict[int, int]) == {7: 8}
    assert client.call("BuiltinTypes.Slice", Args(7, 8), reply_type=list[int]) == [7, 8]


def test_go_calls_can_be_awaited_in_reverse_order(client):
    mul = client.go("Arith.Mul", Args(7, 8))
    add = client.go("Arith.Add", Args(7, 8))
    assert add.result(10) == 15
    assert mul.result(10) == 56
    assert (mul.service_method, mul.args, mul.reply, mul.error) == ("Arith.Mul", Args(7, 8), 56, None)


def test_a_slow_call_does_not_hold_up_a_fast_one(client):
    slow = client.go("Arith.SleepMilli", 500)
    fast = client.go("Arith.Add", Args(1, 1))
    assert fast.result(10) == 2
    assert not slow.done()
    assert slow.result(10) == 500


def test_replies_arrive_in_the_order_calls_finish(client):
    calls = [client.go("Arith.SleepMilli", ms) for ms in (300, 200, 100, 0)]
    finished = [c.result() for c in futures.as_completed(calls, timeout=10)]
    assert finished == [0, 100, 200, 300]


def test_many_calls_in_flight_on_one_connection_all_match(client):
    calls = [client.go("Arith.Add", Args(i, i)) for i in range(500)]
    assert [c.result(30) for c in calls] == [2 * i for i in range(500)]


def test_many_threads_share_one_client(client):
    results = {}

    def worker(n):
        results[n] = [client.call("Arith.Mul", Args(n, k)) for k in range(50)]

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {n: [n * k for k in range(50)] for n in range(8)}


def test_waiting_on_many_calls_at_once_like_gos_done_channel(client):
    calls = [client.go("Arith.Add", Args(i, 1)) for i in range(10)]
    done, not_done = futures.wait(calls, timeout=10)
    assert not not_done and sorted(c.reply for c in done) == list(range(1, 11))


def test_a_call_can_be_awaited_from_asyncio(client):
    import asyncio

    async def main():
        return await client.go("Arith.Add", Args(20, 22)), await asyncio.gather(*(client.go("Arith.Add", Args(i, 0)) for i in range(3)))

    assert asyncio.run(main()) == (42, [0, 1, 2])


def test_a_method_that_raises_never_kills_the_server(serving, codec):
    class Boom:
        def Explode(self, args: int) -> int:
            raise RuntimeError("kaboom")

        def Silent(self, args: int) -> int:
            raise KeyError

    serving.server.register(Boom())
    with minirpc.dial("tcp", serving.address, codec=codec) as client:
        with pytest.raises(minirpc.ServerError, match="^kaboom$"):
            client.call("Boom.Explode", 1)
        with pytest.raises(minirpc.ServerError, match="^KeyError$"):
            client.call("Boom.Silent", 1)
        assert client.call("Arith.Add", Args(1, 1)) == 2


def test_a_reply_that_cannot_be_encoded_becomes_an_error(serving, codec):
    class Bad:
        def Reply(self, args: int) -> int:
            return object()  # the annotation lies

    serving.server.register(Bad())
    with minirpc.dial("tcp", serving.address, codec=codec) as client:
        with pytest.raises(minirpc.ServerError, match="cannot encode reply"):
            client.call("Bad.Reply", 1)
        assert client.call("Arith.Add", Args(1, 1)) == 2


def test_half_closed_client_still_gets_its_reply(serving, codec):
    # Go's TestShutdown: the client closes its write side while a call runs
    client = minirpc.dial("tcp", serving.address, codec=codec)
    try:
        call = client.go("Arith.SleepMilli", 200)
        client.codec.stream.sock.shutdown(socket.SHUT_WR)
        assert call.result(10) == 200
    finally:
        client.close()


def test_call_after_close_is_shutdown_error(serving, codec):
    # TestErrorAfterClientClose
    client = minirpc.dial("tcp", serving.address, codec=codec)
    client.close()
    with pytest.raises(minirpc.ShutdownError, match="^connection is shut down$"):
        client.call("Arith.Add", Args(1, 1))


def test_second_close_is_shutdown_error(serving, codec):
    client = minirpc.dial("tcp", serving.address, codec=codec)
    client.close()
    with pytest.raises(minirpc.ShutdownError):
        client.close()


def test_closing_fails_pending_calls_at_once(serving, codec):
    client = minirpc.dial("tcp", serving.address, codec=codec)
    call = client.go("Arith.SleepMilli", 2000)
    client.close()
    assert isinstance(call.exception(timeout=1), minirpc.ShutdownError)


def test_server_going_away_fails_every_pending_call(server, codec):
    serving = server.start(codec=codec)
    client = minirpc.dial("tcp", serving.address, codec=codec)
    try:
        calls = [client.go("Arith.SleepMilli", 1000) for _ in range(3)]
        time.sleep(0.1)
        for connection in server.connections():
            connection.close()
        for call in calls:
            error = call.exception(timeout=10)
            assert isinstance(error, minirpc.ConnectionLost), error
        with pytest.raises(minirpc.ShutdownError):
            client.call("Arith.Add", Args())
    finally:
        client.close()
        serving.close()


def test_timeout_raises_and_the_late_reply_is_dropped(client):
    with pytest.raises(minirpc.CallTimeout):
        client.call("Arith.SleepMilli", 300, timeout=0.05)
    assert client.call("Arith.Add", Args(2, 3)) == 5
    time.sleep(0.4)  # the late reply arrives and must disturb nobody
    assert client.call("Arith.Add", Args(3, 3)) == 6


class Hold:
    """A method that answers only when the test lets it."""

    def __init__(self):
        self.release = threading.Event()

    def Wait(self, n: int) -> int:
        self.release.wait(10)
        return n


@pytest.mark.parametrize("give_up", ["call timeout", "go timeout", "cancel"])
def test_calls_given_up_leave_nothing_kept_in_the_json_codec(server, give_up):
    # JSON-RPC's replies do not name their method, so the client format keeps each request's
    # name until its reply (as Go's client does): a call given up must not leave its name behind,
    # or a long-lived client of a server that stops answering grows without end.
    hold = Hold()
    server.register(hold)
    with server.start("127.0.0.1:0", codec="json") as serving, \
            minirpc.dial("tcp", serving.address, codec="json") as client:
        for i in range(20):
            if give_up == "call timeout":
                with pytest.raises(minirpc.CallTimeout):
                    client.call("Hold.Wait", i, timeout=0.01)
            elif give_up == "go timeout":
                assert isinstance(client.go("Hold.Wait", i, timeout=0.01).exception(timeout=10), minirpc.CallTimeout)
            else:
                assert client.go("Hold.Wait", i).cancel()
        assert client.codec.stream.format._methods == {}
        hold.release.set()  # the late replies come, are read and dropped
        assert client.call("Arith.Add", Args(2, 3)) == 5
        assert client.codec.stream.format._methods == {}


def test_timeout_on_an_async_call(client):
    call = client.go("Arith.SleepMilli", 300, timeout=0.05)
    assert isinstance(call.exception(timeout=10), minirpc.CallTimeout)
    assert isinstance(call.error, TimeoutError)


def test_a_go_call_done_before_its_timeout_is_not_kept_until_then(client):
    call = client.go("Arith.String", Args(1, 2), timeout=60)
    assert call.result(timeout=10) == "1+2=3"
    kept = weakref.ref(call)
    del call
    gc.collect()
    assert kept() is None  # (nor its reply: a client making big calls with long timeouts kept them all)


def test_the_deadlines_of_go_calls_done_early_do_not_pile_up(client):
    for i in range(500):
        assert client.go("Arith.Add", Args(i, 1), timeout=60).result(timeout=10) == i + 1
    assert len(client._deadlines) < 100  # about the calls still waiting (none), not the 500 made


def test_a_go_call_with_an_earlier_deadline_than_those_waiting_still_times_out_on_time(client):
    first = client.go("Arith.SleepMilli", 500, timeout=60)
    second = client.go("Arith.SleepMilli", 500, timeout=0.05)
    assert isinstance(second.exception(timeout=10), minirpc.CallTimeout)
    assert not first.done()
    first.cancel()


def test_cancelled_call_reports_cancelled_and_others_continue(client):
    call = client.go("Arith.SleepMilli", 200)
    assert call.cancel()
    assert call.cancelled() and isinstance(call.error, minirpc.CallCancelled)
    assert client.call("Arith.Add", Args(1, 2)) == 3


def test_a_cancelled_call_counts_as_done_for_wait_and_as_completed(client):
    slow, fast = client.go("Arith.SleepMilli", 300), client.go("Arith.Add", Args(1, 2))
    slow.cancel()
    done, not_done = futures.wait([slow, fast], timeout=10)
    assert done == {slow, fast} and not not_done
    assert set(futures.as_completed([slow, fast], timeout=10)) == {slow, fast}


def test_unix_socket_transport(server, codec, tmp_path):
    path = str(tmp_path / "rpc.sock")
    with server.start(path, network="unix", codec=codec) as serving:
        assert serving.address == path
        with minirpc.dial("unix", path, codec=codec) as client:
            assert client.call("Arith.Add", Args(1, 2)) == 3


def test_tcp6_transport(server, codec):
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        serving = server.start("[::1]:0", network="tcp6", codec=codec)
    except OSError as e:
        pytest.skip(f"no IPv6 loopback: {e}")
    with serving, minirpc.dial("tcp6", serving.address, codec=codec) as client:
        assert client.call("Arith.Add", Args(1, 2)) == 3


def test_dial_refused_fails_clearly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        minirpc.dial("tcp", f"127.0.0.1:{port}", timeout=5)


def test_dial_rejects_unknown_networks_and_codecs():
    with pytest.raises(ValueError, match="unknown network"):
        minirpc.dial("udp", "127.0.0.1:1")
    with pytest.raises(ValueError, match="unknown codec"):
        minirpc.new_client(socket.socket(), codec="xml")


def test_accept_returns_when_the_listener_closes(server):
    # TestAcceptExitAfterListenerClose
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    thread = threading.Thread(target=server.accept, args=(listener,))
    thread.start()
    listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(10)
    assert not thread.is_alive()


def test_serve_conn_on_a_socketpair(server, codec):
    ours, theirs = socket.socketpair()
    thread = threading.Thread(target=server.serve_conn, args=(ours, codec))
    thread.start()
    with minirpc.new_client(theirs, codec=codec) as client:
        assert client.call("Arith.Mul", Args(6, 7)) == 42
    thread.join(10)
    assert not thread.is_alive()


# -- fake codecs: the seam itself (TestServeRequest, TestSendDeadlock, ...)


class CodecEmulator:
    """A server codec fed from Python values (Go's CodecEmulator)."""

    def __init__(self, service_method, args):
        self.request, self.args, self.response, self.reply = Request(service_method, 1), args, None, None

    def read_request_header(self):
        if self.request is None:
            raise EOFError
        request, self.request = self.request, None
        return request

    def read_request_body(self, arg_type):
        return self.args

    def write_response(self, response, body):
        self.response, self.reply = response, body

    def close(self):
        pass


def test_serve_request_runs_one_request_through_a_codec(server):
    codec = CodecEmulator("Arith.Add", Args(7, 8))
    server.serve_request(codec)
    assert (codec.response.error, codec.reply) == ("", 15)


def test_serve_request_with_no_args_reports_the_error(server):
    codec = CodecEmulator("Arith.Add", None)
    server.serve_request(codec)
    assert codec.response.error and codec.reply is None


def test_serve_request_at_end_of_stream_raises_eof(server):
    codec = CodecEmulator("Arith.Add", Args())
    server.serve_request(codec)
    with pytest.raises(EOFError):
        server.serve_request(codec)


class WriteFailCodec:
    def __init__(self):
        self.closed = threading.Event()

    def write_request(self, request, body):
        raise OSError("fake write failure")

    def read_response_header(self):
        self.closed.wait()  # never answers: only the write error can end a call
        raise EOFError

    def read_response_body(self, reply_type):
        return None

    def close(self):
        self.closed.set()  # like a real codec: closing wakes a blocked reader


def test_write_failure_is_returned_exactly_and_never_deadlocks():
    # TestSendDeadlock + TestClientWriteError
    client = minirpc.new_client_with_codec(WriteFailCodec())
    for _ in range(2):
        with pytest.raises(OSError, match="^fake write failure$"):
            client.call("Arith.Add", Args(1, 2), timeout=5)
    client.close()


class ClosedCodec:
    def __init__(self):
        self.closed = 0

    def write_request(self, request, body):
        pass

    def read_response_header(self):
        raise EOFError

    def read_response_body(self, reply_type):
        return None

    def close(self):
        self.closed += 1


def test_close_calls_the_codecs_close_even_after_the_reader_failed():
    # TestCloseCodec
    codec = ClosedCodec()
    client = minirpc.new_client_with_codec(codec)
    with pytest.raises(minirpc.ConnectionLost, match="unexpected EOF"):
        client.call("Arith.Add", Args())
    client.close()
    assert codec.closed == 1


def test_module_level_functions_use_the_default_server():
    assert minirpc.register == minirpc.DEFAULT_SERVER.register
    assert minirpc.serve_conn == minirpc.DEFAULT_SERVER.serve_conn


class Store:
    def __init__(self):
        self.items: list[str] = []

    def Put(self, item: str) -> None:  # no reply
        self.items.append(item)


def test_a_method_with_no_reply_answers_none(codec):
    server, store = minirpc.Server(), Store()
    server.register(store)
    try:
        with server.start(codec=codec) as serving, minirpc.dial(serving.address, codec=codec) as client:
            assert client.call("Store.Put", "x", reply_type=type(None)) is None
            assert client.call("Store.Put", "y") in (None, {})  # no type given: Go's empty struct, as plain data
            assert store.items == ["x", "y"]
    finally:
        server.close()


@dataclass
class Counted:
    N: int = 7  # a default that is not the zero value


@dataclass
class Secret:
    _msg: bytes = b""  # no exported field: Go's gob refuses the type


class Values:
    def Zero(self, n: int) -> Counted:
        return Counted(N=n)

    def Negate(self, x: float) -> float:
        return -x

    def Hidden(self, n: int) -> Secret:
        return Secret(b"x")


@pytest.fixture
def values_client(codec):
    server = minirpc.Server()
    server.register(Values())
    with server.start(codec=codec) as serving, minirpc.dial(serving.address, codec=codec) as client:
        yield client
    server.close()


def test_a_zero_field_arrives_as_zero_not_as_the_default(values_client):
    assert values_client.call("Values.Zero", 0, reply_type=Counted) == Counted(N=0)


def test_negative_zero_keeps_its_sign(values_client):
    reply = values_client.call("Values.Negate", 0.0, reply_type=float)
    assert reply == 0 and math.copysign(1, reply) == -1


def test_a_reply_that_cannot_be_encoded_is_an_error_and_the_connection_goes_on(values_client, codec):
    if codec == "gob":
        with pytest.raises(minirpc.ServerError, match="^rpc: cannot encode reply: gob: type Secret has no exported fields$"):
            values_client.call("Values.Hidden", 1)
    else:  # JSON, like Go's encoding/json, writes a struct with no exported fields as {}
        assert values_client.call("Values.Hidden", 1) == {}
    assert values_client.call("Values.Zero", 3, reply_type=Counted) == Counted(3)


# ------------------------------------------------------------------ typed proxies (beyond Go)


def test_a_proxy_returns_typed_replies(client):
    arith = client.proxy(Arith)
    assert arith.Multiply(Args(7, 8)) == 56
    assert arith.Divide(Args(7, 2)) == Quotient(3, 1)  # a dataclass, not a dict


def test_a_proxy_converts_a_dict_argument_for_a_dataclass(client):
    assert client.proxy(Arith).Divide({"A": -7, "B": 2}) == Quotient(-3, -1)  # and Go's truncation


def test_a_proxy_method_goes_asynchronously_too(client):
    calls = [client.proxy(Arith).Mul.go(Args(i, 3)) for i in range(10)]
    assert [c.result(timeout=10) for c in calls] == [3 * i for i in range(10)]


def test_a_proxy_passes_server_errors_through(client):
    with pytest.raises(minirpc.ServerError, match="^divide by zero$"):
        client.proxy(Arith).Div(Args(1, 0))


def test_a_proxy_takes_a_service_name(client):
    assert client.proxy(Arith, name="net.rpc.Arith").Add(Args(2, 3)) == 5


def test_a_proxy_can_be_built_from_a_protocol(client):
    import typing

    class Multiplier(typing.Protocol):
        def Multiply(self, args: Args) -> int: ...

    assert client.proxy(Multiplier, name="Arith").Multiply(Args(6, 7)) == 42


def test_a_proxy_of_a_class_with_nothing_to_call_says_so(client):
    class Nothing:
        def helper(self):
            pass

    with pytest.raises(TypeError, match="no methods a server would publish"):
        client.proxy(Nothing)


def test_dial_takes_just_an_address(serving, codec):
    with minirpc.dial(serving.address, codec=codec) as client:
        assert client.call("Arith.Add", Args(1, 2)) == 3


# ------------------------------------------------------------------ closing, bounded (beyond Go)


class Sleepy:
    def __init__(self):
        self.release = threading.Event()

    def Nap(self, seconds: float) -> int:
        self.release.wait(seconds)
        return 1


def test_close_with_a_timeout_abandons_calls_still_running_and_names_them():
    server, sleepy = minirpc.Server(), Sleepy()
    server.register(sleepy)
    serving = server.start()
    client = minirpc.dial(serving.address)
    try:
        call = client.go("Sleepy.Nap", 30.0)
        assert wait_for(lambda: server.connections() and server.connections()[0].running)
        server.close(timeout=0.1)
        assert server.abandoned == ["Sleepy.Nap (seq 0)"]
        assert isinstance(call.exception(timeout=10), (minirpc.ConnectionLost, minirpc.ShutdownError))
    finally:
        sleepy.release.set()
        client.close()


def test_leaving_a_with_block_waits_at_most_the_servers_close_timeout():
    server, sleepy = minirpc.Server(close_timeout=0.1), Sleepy()
    server.register(sleepy)
    try:
        with server.start() as serving, minirpc.dial(serving.address) as client:
            client.go("Sleepy.Nap", 30.0)
            assert wait_for(lambda: server.connections() and server.connections()[0].running)
        assert serving.abandoned == ["Sleepy.Nap (seq 0)"]
    finally:
        sleepy.release.set()
        server.close()


def test_close_without_a_timeout_waits_for_running_calls():
    server, sleepy = minirpc.Server(), Sleepy()
    server.register(sleepy)
    serving = server.start()
    with minirpc.dial(serving.address) as client:
        client.go("Sleepy.Nap", 0.2)
        assert wait_for(lambda: server.connections() and server.connections()[0].running)
        server.close()
    assert server.abandoned == []


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return bool(predicate())


class _PickyFormat(jsonrpc.ServerFormat):
    """A format of one's own that refuses some bytes as soon as they arrive."""

    def __init__(self, max_message: int):
        super().__init__(max_message)
        take = self.receive_data

        def receive_data(data: bytes) -> None:
            if b"BOOM" in data:
                raise ProtocolError("picky: I do not take BOOM")
            take(data)

        self.receive_data = receive_data


def test_a_format_that_refuses_bytes_on_arrival_closes_only_that_connection(server):
    picky = WireFormat("picky", _PickyFormat, jsonrpc.ClientFormat)
    with server.start("127.0.0.1:0", codec=picky) as serving:
        host, port = serving.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b'{"method": "BOOM"}\n')
            assert sock.recv(1) == b""  # closed: no hang, no reply
        with minirpc.dial("tcp", serving.address, codec=picky) as client:
            assert client.call("Arith.Add", Args(1, 2)) == 3
