"""minirpc.lossy's event log: what the network did to each message, as lesson 5 shows it.

Every message is *sent* (the link took it), then *dropped*, *delivered* (once, or
twice when *duplicated*) or *lost* (its link was cut while it was in the air).
"""

from __future__ import annotations

import threading

import pytest

from minirpc import lossy
from minirpc import server as mserver
from minirpc.errors import CallTimeout

from test_lossy import LONG, SHORT, Args, Arith, wait_until  # the same service and timeouts


@pytest.fixture
def network():
    """A factory: a Network with one Arith server "kv" speaking ``codec``; all closed afterwards."""
    baseline = threading.active_count()
    made = []

    def make(codec="json", seed=1, **options):
        net = lossy.Network(seed=seed, **options)
        server = mserver.Server()
        server.register(Arith())
        net.add_server("kv", server, codec=codec)
        made.append((net, server))
        return net

    yield make
    for net, server in made:
        net.close()
        server.close()
    assert wait_until(lambda: threading.active_count() <= baseline), \
        f"threads leaked: {sorted(t.name for t in threading.enumerate())}"


def fates(net, seq: int) -> list[tuple[str, str]]:
    return [(e.direction, e.what) for e in net.events(seq=seq)]


@pytest.mark.parametrize("codec", ["json", "gob"])
def test_a_delivered_call_logs_request_and_reply_each_sent_then_delivered(network, codec):
    net = network(codec)
    client = net.dial("kv")
    assert client.call("Arith.Add", Args(1, 2), timeout=LONG) == 3
    assert fates(net, 0) == [("request", "sent"), ("request", "delivered"), ("reply", "sent"),
                             ("reply", "delivered")]
    assert {e.method for e in net.events(seq=0)} == {"Arith.Add"}


@pytest.mark.parametrize("codec", ["json", "gob"])
def test_the_log_names_each_message_by_the_clients_seq_and_method(network, codec):
    net = network(codec)
    client = net.dial("kv")
    for i in range(3):
        client.call("Arith.Add", Args(i, 1), timeout=LONG)
    assert sorted({(e.seq, e.method) for e in net.events()}) == [(0, "Arith.Add"), (1, "Arith.Add"),
                                                                  (2, "Arith.Add")]


def test_a_dropped_request_is_logged_as_dropped_at_random_and_gets_no_reply(network):
    net = network(drop=1.0)
    client = net.dial("kv")
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), timeout=SHORT)
    assert fates(net, 0) == [("request", "sent"), ("request", "dropped")]
    assert net.events(seq=0)[1].detail == "at random"


def test_a_duplicated_request_is_delivered_twice_and_answered_twice(network):
    net = network(duplicate=1.0)
    client = net.dial("kv")
    assert client.call("Arith.Add", Args(1, 2), timeout=LONG) == 3
    assert wait_until(lambda: [f for f in fates(net, 0) if f == ("reply", "delivered")] == [("reply", "delivered")] * 4)
    requests = [what for direction, what in fates(net, 0) if direction == "request"]
    assert requests == ["sent", "duplicated", "delivered", "delivered"]


def test_a_message_sent_while_its_server_is_disconnected_is_dropped_with_the_reason(network):
    net = network()
    client = net.dial("kv")
    net.disconnect("kv")
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), timeout=SHORT)
    assert net.events(seq=0)[-1].what == "dropped"
    assert net.events(seq=0)[-1].detail == "disconnected or partitioned"


def test_a_message_in_the_air_when_its_link_is_cut_is_logged_as_lost(network):
    net = network(delay=0.2)
    client = net.dial("kv")
    call = client.go("Arith.Add", Args(1, 2), timeout=LONG)
    assert wait_until(lambda: fates(net, 0) == [("request", "sent")])
    net.cut(client)
    assert wait_until(lambda: ("request", "lost") in fates(net, 0))
    assert net.events(seq=0)[-1].detail == "link cut while in the air"
    call.cancel()


def test_a_delayed_delivery_says_how_long_it_took(network):
    net = network(delay=0.01)
    client = net.dial("kv")
    client.call("Arith.Add", Args(1, 2), timeout=LONG)
    delivered = [e for e in net.events(seq=0) if e.what == "delivered"]
    assert [e.detail for e in delivered] == ["after 10.0 ms", "after 10.0 ms"]


def test_events_can_be_chosen_by_link_seq_and_time(network):
    net = network()
    first, second = net.dial("kv"), net.dial("kv")
    first.call("Arith.Add", Args(1, 1), timeout=LONG)
    since = net.now()
    second.call("Arith.Add", Args(2, 2), timeout=LONG)
    assert {e.link for e in net.events(link=first)} == {"client->kv#1"}
    assert {e.link for e in net.events(since=since)} == {"client->kv#2"}
    assert len(net.events(link="client->kv#2", seq=0)) == 4


def test_the_log_keeps_only_the_newest_events(network):
    net = network(max_events=6)
    client = net.dial("kv")
    for i in range(3):
        client.call("Arith.Add", Args(i, 1), timeout=LONG)
    assert wait_until(lambda: len(net.events()) == 6 and {e.seq for e in net.events()} == {1, 2})


def test_clear_events_empties_the_log(network):
    net = network()
    net.dial("kv").call("Arith.Add", Args(1, 1), timeout=LONG)
    net.clear_events()
    assert net.events() == []


def test_timeline_is_a_table_with_one_line_per_event_under_a_fixed_header(network):
    net = network(drop=1.0)
    client = net.dial("kv")
    with pytest.raises(CallTimeout):
        client.call("Arith.Add", Args(1, 2), timeout=SHORT)
    lines = net.timeline().splitlines()
    assert lines[0] == "      time  link          message  seq  method     what"
    assert lines[1].endswith("client->kv#1  request    0  Arith.Add  sent")
    assert lines[2].endswith("client->kv#1  request    0  Arith.Add  dropped (at random)")


def test_dial_puts_extra_taps_on_the_clients_stream(network):
    net = network()
    seen = []
    client = net.dial("kv", taps=(lambda direction, header, data: seen.append((direction, header.seq)),))
    client.call("Arith.Add", Args(1, 2), timeout=LONG)
    assert seen == [("out", 0), ("in", 0)]
