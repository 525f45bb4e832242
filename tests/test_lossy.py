"""minirpc.lossy: a simulated network that drops, delays, duplicates and partitions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from minirpc import lossy
from minirpc import server as mserver
from minirpc.errors import CallTimeout

CODECS = ["json", "gob"]
SHORT = 0.25  # a timeout for calls we expect to be lost (generous: a busy CI machine must not fake a loss)
LONG = 10.0  # a timeout for calls we expect to succeed (a hang guard only)


@dataclass
class Args:
    A: int = 0
    B: int = 0


class Arith:
    def Add(self, args: Args) -> int:
        return args.A + args.B


def wait_until(predicate, timeout: float = LONG) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def world():
    """A factory for Networks; everything they started is closed and leak-checked afterwards."""
    baseline = threading.active_count()
    made = []

    def make(*names, codec="json", seed=1, **faults):
        net = lossy.Network(seed=seed, **faults)
        servers = {}
        for name in names:
            server = mserver.Server()
            server.register(Arith())
            net.add_server(name, server, codec=codec)
            servers[name] = server
        made.append((net, servers))
        return net, servers

    yield make
    for net, servers in made:
        net.close()
        for server in servers.values():
            server.close()
    assert wait_until(lambda: threading.active_count() <= baseline), \
        f"threads leaked: {sorted(t.name for t in threading.enumerate())}"


def add_calls(server) -> int:
    return server.registry.lookup("Arith.Add").num_calls


def outcomes(client, n: int) -> list[str]:
    result = []
    for i in range(n):
        try:
            assert client.call("Arith.Add", Args(i, 1), reply_type=int, timeout=SHORT) == i + 1
            result.append("ok")
        except CallTimeout:
            result.append("lost")
    return result


@pytest.mark.parametrize("codec", CODECS)
def test_a_reliable_network_delivers_every_call(world, codec):
    net, _ = world("kv", codec=codec)
    client = net.dial("kv")
    assert [client.call("Arith.Add", Args(i, i), reply_type=int) for i in range(20)] == [2 * i for i in range(20)]


@pytest.mark.parametrize("codec", CODECS)
def test_dropped_requests_never_reach_the_server_and_the_call_times_out(world, codec):
    net, servers = world("kv", codec=codec, drop=1.0)
    client = net.dial("kv")
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=SHORT)
    assert add_calls(servers["kv"]) == 0
    assert net.stats()["links"]["client->kv#1"]["requests_dropped"] == 1


def test_faults_can_be_switched_at_run_time(world):
    net, _ = world("kv")
    client = net.dial("kv")
    net.set(drop=1.0)
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=SHORT)
    net.set(drop=0.0)
    assert client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3


def test_the_same_seed_loses_the_same_calls(world):
    runs = []
    for _ in range(2):
        net, _ = world("kv", seed=7, drop=0.3)
        runs.append((outcomes(net.dial("kv"), 20), net.stats()["links"]))
    assert runs[0] == runs[1]
    assert "ok" in runs[0][0] and "lost" in runs[0][0]


def test_a_request_is_counted_in_the_stats_before_the_server_can_answer_it(world):
    net, servers = world("kv")
    seen = []

    class Peek:
        def Stats(self, args: Args) -> int:  # runs once the request was forwarded
            seen.append(net.stats()["links"]["client->kv#1"]["bytes_sent"])
            return 0

    servers["kv"].register(Peek())
    client = net.dial("kv")
    for i in range(20):
        assert client.call("Peek.Stats", Args(i, 1), reply_type=int, timeout=LONG) == 0
    final = net.stats()["links"]["client->kv#1"]["bytes_sent"]
    assert all(b > a for a, b in zip(seen, seen[1:])) and seen[-1] == final


def test_a_different_seed_loses_different_calls(world):
    first, _ = world("kv", seed=1, drop=0.3)
    second, _ = world("kv", seed=2, drop=0.3)
    assert outcomes(first.dial("kv"), 20) != outcomes(second.dial("kv"), 20)


def test_a_delay_longer_than_the_timeout_loses_the_call_and_its_late_reply_is_ignored(world):
    net, servers = world("kv", delay=0.2)
    client = net.dial("kv")
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=0.05)
    assert client.call("Arith.Add", Args(5, 5), reply_type=int, timeout=LONG) == 10
    assert add_calls(servers["kv"]) == 2


@pytest.mark.parametrize("codec", CODECS)
def test_duplicated_requests_run_twice_but_each_call_gets_one_right_reply(world, codec):
    net, servers = world("kv", codec=codec, duplicate=1.0)
    client = net.dial("kv")
    for i in range(10):
        assert client.call("Arith.Add", Args(i, 100), reply_type=int, timeout=LONG) == i + 100
    assert wait_until(lambda: add_calls(servers["kv"]) == 20)
    counts = net.stats()["links"]["client->kv#1"]
    assert counts["requests_duplicated"] == 10
    assert wait_until(lambda: net.stats()["links"]["client->kv#1"]["replies"] == 20)


@pytest.mark.parametrize("codec", CODECS)
def test_reordered_replies_still_reach_their_own_calls(world, codec):
    net, _ = world("kv", codec=codec, delay=0.001, jitter=0.02, reorder=0.3, reorder_delay=0.03)
    client = net.dial("kv")
    calls = [client.go("Arith.Add", Args(i, 1000), reply_type=int) for i in range(100)]
    assert [c.result(timeout=LONG) for c in calls] == [i + 1000 for i in range(100)]


def test_a_cut_link_loses_everything_until_it_is_restored(world):
    net, _ = world("kv")
    client, other = net.dial("kv"), net.dial("kv")
    net.cut(client)
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=SHORT)
    assert other.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3
    net.restore(client)
    assert client.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3


def test_a_reply_in_the_air_is_lost_when_the_link_is_cut(world):
    net, servers = world("kv", delay=0.3)
    client = net.dial("kv")
    call = client.go("Arith.Add", Args(1, 2), reply_type=int, timeout=1.5)
    assert wait_until(lambda: add_calls(servers["kv"]) == 1)  # the server has run it; the reply is delayed
    net.cut(client)
    assert isinstance(call.exception(timeout=LONG), CallTimeout)


def test_a_disconnected_server_is_unreachable_until_reconnected(world):
    net, _ = world("a", "b")
    to_a, to_b = net.dial("a"), net.dial("b")
    net.disconnect("a")
    with pytest.raises(CallTimeout):
        to_a.call("Arith.Add", Args(1, 2), reply_type=int, timeout=SHORT)
    assert to_b.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3
    net.reconnect("a")
    assert to_a.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3


def test_a_partition_separates_servers_but_not_outside_clients(world):
    net, _ = world("a", "b", "c")
    a_to_b, a_to_c, outside_to_c = net.dial("b", src="a"), net.dial("c", src="a"), net.dial("c")
    net.partition({"a", "b"}, {"c"})
    assert a_to_b.call("Arith.Add", Args(1, 1), reply_type=int, timeout=LONG) == 2
    with pytest.raises(CallTimeout):
        a_to_c.call("Arith.Add", Args(1, 1), reply_type=int, timeout=SHORT)
    assert outside_to_c.call("Arith.Add", Args(1, 1), reply_type=int, timeout=LONG) == 2
    net.heal()
    assert a_to_c.call("Arith.Add", Args(1, 1), reply_type=int, timeout=LONG) == 2


def test_one_link_can_have_its_own_faults(world):
    net, _ = world("kv")
    bad, good = net.dial("kv"), net.dial("kv")
    net.link(bad).set(drop=1.0)
    with pytest.raises(CallTimeout):
        bad.call("Arith.Add", Args(1, 2), reply_type=int, timeout=SHORT)
    assert good.call("Arith.Add", Args(1, 2), reply_type=int, timeout=LONG) == 3


@pytest.mark.parametrize("codec", CODECS)
def test_counters_record_messages_and_bytes_per_link_and_per_server(world, codec):
    net, _ = world("a", "b", codec=codec)
    a1, a2, b1 = net.dial("a"), net.dial("a"), net.dial("b")
    for client, n in ((a1, 3), (a2, 2), (b1, 4)):
        for i in range(n):
            client.call("Arith.Add", Args(i, i), reply_type=int)
    stats = net.stats()
    assert {name: c["requests"] for name, c in stats["links"].items()} == {
        "client->a#1": 3, "client->a#2": 2, "client->b#1": 4}
    assert stats["servers"]["a"]["replies"] == 5 and stats["servers"]["b"]["replies"] == 4
    assert all(c["bytes_sent"] > 0 and c["bytes_received"] > 0 for c in stats["links"].values())
    assert stats["servers"]["a"]["bytes_sent"] == sum(stats["links"][n]["bytes_sent"] for n in ("client->a#1", "client->a#2"))
    assert "client->a#2" in net.report()


def test_a_real_address_can_be_put_behind_the_network(world):
    server = mserver.Server()
    server.register(Arith())
    serving = server.start(codec="json")
    try:
        net, _ = world()
        net.add_server("outside", serving.address, codec="json")
        client = net.dial("outside")
        assert client.call("Arith.Add", Args(2, 2), reply_type=int, timeout=LONG) == 4
        net.set(drop=1.0)
        with pytest.raises(CallTimeout):
            client.call("Arith.Add", Args(2, 2), reply_type=int, timeout=SHORT)
        net.close()
    finally:
        serving.close()
        server.close()


def test_closing_the_network_fails_pending_calls_and_stops_every_thread(world):
    net, _ = world("kv", delay=5.0)
    client = net.dial("kv")
    call = client.go("Arith.Add", Args(1, 2), reply_type=int)
    net.close()
    assert call.exception(timeout=LONG) is not None
    # the world fixture checks that no thread is left


@pytest.mark.parametrize("bad", [{"drop": 1.5}, {"duplicate": -0.1}, {"delay": -1}, {"jitter": -0.5}])
def test_impossible_faults_are_refused(bad):
    with pytest.raises(ValueError):
        lossy.Network(**bad)


def test_a_lossy_network_with_retries_gets_every_answer_eventually(world):
    """The lesson in one test: with drops, a caller that retries on timeout gets through."""
    net, _ = world("kv", seed=3, drop=0.3, delay=0.002, jitter=0.002)
    client = net.dial("kv")
    for i in range(20):
        for _attempt in range(50):
            try:
                assert client.call("Arith.Add", Args(i, 1), reply_type=int, timeout=0.05) == i + 1
                break
            except CallTimeout:
                continue
        else:
            pytest.fail(f"call {i} never got through")


@dataclass
class Counted:
    N: int = 7  # a default that is not the zero value


class Values:
    def Zero(self, n: int) -> Counted:
        return Counted(N=n)


@pytest.mark.parametrize("codec", CODECS)
def test_values_cross_the_lossy_network_exactly_as_they_cross_a_real_one(world, codec):
    """The link forwards real bytes and the client's own format decodes them (gob leaves a
    zero field out: decoded with the wrong rules, N=0 would come back as the default 7)."""
    net = lossy.Network(seed=1)
    server = mserver.Server()
    server.register(Values())
    try:
        net.add_server("v", server, codec=codec)
        client = net.dial("v")
        assert client.call("Values.Zero", 0, reply_type=Counted, timeout=LONG) == Counted(N=0)
        assert client.call("Values.Zero", 5, reply_type=Counted, timeout=LONG) == Counted(N=5)
    finally:
        net.close()
        server.close()


@pytest.mark.parametrize("codec", CODECS)
def test_duplicated_and_reordered_messages_keep_gob_streams_readable(world, codec):
    """Type definitions are stream state: they go through even when their message is held back."""
    net, servers = world("kv", codec=codec, seed=3, duplicate=0.5, reorder=0.5, reorder_delay=0.02)
    client = net.dial("kv")
    results = [client.go("Arith.Add", Args(i, 1), reply_type=int, timeout=LONG) for i in range(30)]
    assert [r.result(timeout=LONG) for r in results] == [i + 1 for i in range(30)]
    duplicated = net.stats()["links"]["client->kv#1"]["requests_duplicated"]
    assert duplicated > 0  # (a late copy may still be on its way: wait for it)
    assert wait_until(lambda: add_calls(servers["kv"]) == 30 + duplicated)
