"""minirpc.aio against a real Go net/rpc peer, both directions, gob and jsonrpc.

The same Go program as test_go_interop.py (``goapp``): as a server it serves
Go's Arith, Echo and BuiltinTypes; as a client it runs its scripted calls
against us and prints Go's own verdict for each.  Here the Python side is the
asyncio one, so these tests show that minirpc.aio writes and reads Go's bytes.
"""

from __future__ import annotations

import asyncio
import json

import pytest

import minirpc
from minirpc import aio
from minirpc.errors import ServerError

from gotypes import Args, Ints, Nested, Quotient
from test_aio import on_loop
from test_go_interop import CODECS, GO_CLIENT_CHECKS, GO_ERROR_TEXTS, SAMPLE_INTS, UNICODE, Arith, Echo, sample_nested
from test_go_interop import go_server, goapp  # noqa: F401  (pytest fixtures: a Go server per codec, the Go peer)


# ---------------------------------------------------------------- the asyncio client -> Go's server


@on_loop
async def test_the_asyncio_client_gets_replies_from_go(go_server):
    codec, address = go_server
    async with await aio.dial(address, codec=codec) as client:
        assert await client.call("Arith.Add", Args(7, 8), reply_type=int) == 15
        assert await client.call("Arith.Mul", Args(7, 8), reply_type=int) == 56  # a pointer argument in Go
        assert await client.call("Arith.Div", Args(17, 5), reply_type=Quotient) == Quotient(3, 2)


@pytest.mark.parametrize("name, args, text", [
    ("Arith.Div", Args(7, 0), "divide by zero"),
    ("Arith.Nope", Args(), "rpc: can't find method Arith.Nope"),
    ("Nope.Add", Args(), "rpc: can't find service Nope.Add"),
])
@on_loop
async def test_the_asyncio_client_gets_gos_error_texts_and_the_connection_goes_on(go_server, name, args, text):
    codec, address = go_server
    async with await aio.dial(address, codec=codec) as client:
        with pytest.raises(ServerError) as error:
            await client.call(name, args, reply_type=int)
        assert str(error.value) == text
        assert await client.call("Arith.Add", Args(1, 1), reply_type=int) == 2


@on_loop
async def test_a_hundred_asyncio_calls_in_flight_to_go_all_match_and_finish_out_of_order(go_server):
    codec, address = go_server
    async with await aio.dial(address, codec=codec) as client:
        finished = []
        calls = []
        for i in range(100):
            call = client.go("Arith.Sleep", (100 - i) % 10 * 5, reply_type=int)
            call.add_done_callback(lambda _, i=i: finished.append(i))
            calls.append(call)
        assert await asyncio.gather(*calls) == [(100 - i) % 10 * 5 for i in range(100)]
        assert sorted(finished) == list(range(100)) and finished != sorted(finished)


@pytest.mark.parametrize("name, value, type_", [
    ("Echo.Nested", sample_nested(), Nested),
    ("Echo.Nested", Nested(), Nested),
    ("Echo.Ints", SAMPLE_INTS, Ints),
    ("Echo.String", UNICODE, str),
    ("Echo.Bytes", bytes(range(256)) * 4096, bytes),
], ids=["nested", "zero_struct", "extreme_ints", "unicode", "one_mib_bytes"])
@on_loop
async def test_a_value_round_trips_through_go_from_the_asyncio_client(go_server, name, value, type_):
    codec, address = go_server
    async with await aio.dial(address, codec=codec) as client:
        assert await client.call(name, value, reply_type=type_) == value


# ---------------------------------------------------------------- Go's client -> the asyncio server


class AsyncArith(Arith):
    """Go's Arith, with Sleep awaited on the loop: Go's calls reach both kinds of method."""

    @aio.async_method
    async def Sleep(self, ms: int) -> int:
        await asyncio.sleep(ms / 1000)
        return ms


_RESULTS: dict[str, dict] = {}


def go_client_results(goapp, codec: str) -> dict:
    """Run goapp's scripted client against a minirpc.aio server (once per codec)."""
    if codec not in _RESULTS:
        async def main():
            server = minirpc.Server()
            server.register_name("Arith", AsyncArith())
            server.register(Echo())
            server.register_name("net.rpc.Arith", AsyncArith())
            try:
                async with await aio.start(server, "127.0.0.1:0", codec=codec) as serving:
                    go = await asyncio.create_subprocess_exec(
                        str(goapp), "client", "-codec", codec, "-addr", serving.address,
                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
                    out, err = await asyncio.wait_for(go.communicate(), 120)
            finally:
                server.close()
            assert go.returncode == 0, err.decode()
            return {r["name"]: r for r in map(json.loads, out.decode().splitlines())}
        _RESULTS[codec] = asyncio.run(main())
    return _RESULTS[codec]


@pytest.mark.parametrize("name, codec", [(name, codec) for name in GO_CLIENT_CHECKS for codec in CODECS])
def test_gos_client_gets_correct_replies_from_the_asyncio_server(goapp, codec, name):
    result = go_client_results(goapp, codec)[name]
    assert result["ok"], result


def test_gos_client_sends_nan_and_infinities_through_gob_to_the_asyncio_server(goapp):
    result = go_client_results(goapp, "gob")["nan_inf_floats"]
    assert result["ok"], result


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("name, text", GO_ERROR_TEXTS)
def test_gos_client_sees_gos_error_texts_from_the_asyncio_server(goapp, codec, name, text):
    assert go_client_results(goapp, codec)[name]["error"] == text


@pytest.mark.parametrize("codec", CODECS)
def test_gos_client_sees_a_type_error_for_wrong_args_from_the_asyncio_server(goapp, codec):
    assert "type" in go_client_results(goapp, codec)["wrong_arg_type"]["error"]
