"""Load: many clients, many calls in flight, both codecs at once, in bounded time.

This is a correctness test, not a benchmark: every reply must match its own
call (nothing lost, duplicated or crossed).  Figures are printed, never
asserted (run with ``-s`` to see them).
"""

from __future__ import annotations

import collections
import threading
import time

import pytest


from .support import DEADLINE, Args, close_with_deadline, start_target, stop_target, threads_back_to

CLIENTS_PER_CODEC = 4
CALLS_PER_CLIENT = 600
WINDOW = 32  # calls in flight per asynchronous caller


def available_codecs() -> list[str]:
    return ["json", "gob"]


def async_caller(client, base: int, count: int, results: dict, errors: list) -> None:
    """Keep WINDOW ``go`` calls in flight; check each reply against its own arguments."""
    pending: collections.deque = collections.deque()
    try:
        for i in range(count):
            pending.append((base + i, client.go("Robust.Add", Args(base + i, 1), reply_type=int, timeout=DEADLINE)))
            if len(pending) >= WINDOW:
                check(*pending.popleft(), results)
        while pending:
            check(*pending.popleft(), results)
    except BaseException as e:  # noqa: BLE001 - reported by the test
        errors.append(e)


def sync_caller(client, base: int, count: int, results: dict, errors: list) -> None:
    """Blocking calls from one of several threads sharing the client."""
    try:
        for i in range(count):
            reply = client.call("Robust.Add", Args(base + i, 1), reply_type=int, timeout=DEADLINE)
            results[base + i] = reply
            assert reply == base + i + 1, f"call {base + i} got the reply {reply}"
    except BaseException as e:  # noqa: BLE001
        errors.append(e)


def check(key: int, call, results: dict) -> None:
    reply = call.result(timeout=DEADLINE)
    assert reply == key + 1, f"call {key} got the reply {reply} (someone else's?)"
    assert key not in results, f"call {key} answered twice"
    results[key] = reply


def test_many_clients_many_calls_in_flight_mixed_codecs_every_reply_matches(capsys):
    codecs = available_codecs()
    baseline = threading.active_count()
    targets = {codec: start_target(codec) for codec in codecs}
    clients, threads = [], []
    results: dict[int, int] = {}  # one dict, disjoint keys: each thread writes its own range
    errors: list[BaseException] = []
    try:
        base = 0
        for codec, target in targets.items():
            for _ in range(CLIENTS_PER_CODEC):
                client = target.dial()
                clients.append(client)
                # per client: two async callers and two sync callers sharing the connection
                for worker in (async_caller, async_caller, sync_caller, sync_caller):
                    count = CALLS_PER_CLIENT // 4
                    threads.append(threading.Thread(target=worker, args=(client, base, count, results, errors)))
                    base += count
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE * 3)
        elapsed = time.perf_counter() - started
        assert not any(t.is_alive() for t in threads), "a caller is stuck: a reply was lost"
        assert not errors, errors[:3]
        assert sorted(results) == list(range(base)), "some calls were never answered"
        served = sum(t.server.registry.lookup("Robust.Add").num_calls for t in targets.values())
        assert served == base, f"the servers ran Add {served} times for {base} calls"
        with capsys.disabled():
            print(f"\n[load] {len(clients)} clients ({', '.join(codecs)}), {base} calls, "
                  f"{len(threads)} caller threads: {base / elapsed:.0f} calls/s")
    finally:
        for client in clients:
            close_with_deadline(client.close, "Client.close()")
        for target in targets.values():
            stop_target(target)
    assert threads_back_to(baseline), "threads leaked"


@pytest.mark.parametrize("codec", ["json", "gob"])
def test_many_connections_open_and_close_while_calls_run(codec):
    """Connections come and go (each does a few calls) while a steady client keeps calling."""
    baseline = threading.active_count()
    target = start_target(codec)
    errors: list[BaseException] = []
    try:
        steady = target.dial()
        steady_results: dict = {}
        steady_thread = threading.Thread(target=sync_caller, args=(steady, 0, 300, steady_results, errors))
        steady_thread.start()
        for round_ in range(30):
            with target.dial() as c:
                calls = [c.go("Robust.Add", Args(i, round_), reply_type=int) for i in range(10)]
                if round_ % 3 == 0:
                    continue  # leave with calls in flight: they fail, the server carries on
                assert [call.result(timeout=DEADLINE) for call in calls] == [i + round_ for i in range(10)]
        steady_thread.join(DEADLINE * 3)
        assert not steady_thread.is_alive() and not errors, errors[:3]
        assert len(steady_results) == 300
        close_with_deadline(steady.close, "Client.close()")
    finally:
        stop_target(target)
    assert threads_back_to(baseline), "threads leaked"
