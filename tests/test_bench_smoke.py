"""benchmarks/: bench.py still runs and prints every ratio it can, scale.py and sizes.py print their
figures, and the toy yardstick is a real JSON-RPC peer.

No timing is checked anywhere: figures on a shared machine are not specifications.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from goenv import REQUIRED as GO_REQUIRED

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
BENCH = BENCHMARKS / "bench.py"
sys.path.insert(0, str(BENCHMARKS))

import bench  # noqa: E402
import toy  # noqa: E402
from minirpc.examples import Args  # noqa: E402

PYTHON_ROWS = ["socket echo (floor)", "toy -> toy server", "minirpc -> tiny 8-line server", "minirpc json tcp",
               "minirpc json unix", "minirpc json http", "minirpc gob tcp", "minirpc gob unix", "minirpc gob http",
               "xmlrpc (keep-alive)"]
GO_ROWS = ["Go gob: Go -> Go server", "Go json: Go -> Go server", "Go -> toy server", "Go -> minirpc json server", "Go -> tiny 8-line server",
           "minirpc json -> Go server"]
PYTHON_TARGETS = ["a", "c", "e", "g", "h"]  # need nothing but minirpc and the toy
GO_TARGETS = ["b", "b'", "f", "f'"]
HAVE_GO = shutil.which("go") is not None


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``bench.py --quick`` run with tiny counts, shared by the tests below: (process, figures)."""
    figures = tmp_path_factory.mktemp("bench") / "figures.json"
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--n", "30", "--modes", "unpinned", "--no-plot", "--json", str(figures)],
        capture_output=True, text=True, timeout=180,
    )
    return result, json.loads(figures.read_text()) if figures.exists() else None


def _rows(quick_run):
    return {row["name"]: row for row in quick_run[1]["rows"]["unpinned"]}


def _targets(quick_run):
    return {target["key"]: target for target in quick_run[1]["targets"]["unpinned"]}


def test_quick_run_exits_cleanly_and_writes_its_figures(quick_run):
    result, figures = quick_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert figures is not None and figures["rounds"] == 2


def test_the_figures_name_the_machine_they_were_measured_on(quick_run):
    result, figures = quick_run
    assert figures["cpus"] == os.cpu_count() and figures["cpu"] == bench.cpu_model() != ""
    assert f"{os.cpu_count()} CPUs ({bench.cpu_model()})" in result.stdout


def test_every_python_row_has_figures_from_every_round(quick_run):
    rows = _rows(quick_run)
    for name in PYTHON_ROWS:
        assert len(rows[name]["runs"]) == 2 and rows[name]["p50_us"] > 0, (name, rows[name]["note"])


def test_pipelined_rows_have_a_throughput(quick_run):
    rows = _rows(quick_run)
    for name in ("toy -> toy server", "minirpc json tcp", "minirpc gob tcp"):
        assert rows[name]["inflight_per_s"] > 0, name


def test_targets_that_need_only_python_all_have_a_ratio(quick_run):
    targets = _targets(quick_run)
    for key in PYTHON_TARGETS:
        assert targets[key]["value"] > 0 and targets[key]["met"] in (True, False), (key, targets[key].get("note"))


def test_rpyc_target_has_a_ratio_or_says_rpyc_is_missing(quick_run):
    target = _targets(quick_run)["d"]
    if importlib.util.find_spec("rpyc"):
        assert target["value"] > 0, target.get("note")
    else:
        assert target["value"] is None and "rpyc not installed" in target["note"]


@pytest.mark.skipif(not HAVE_GO and not GO_REQUIRED, reason="Go is not installed: bench.py skips its Go rows")
def test_go_rows_and_targets_have_figures_when_go_is_installed(quick_run):
    rows, targets = _rows(quick_run), _targets(quick_run)
    for name in GO_ROWS:
        assert rows[name]["p50_us"] > 0, (name, rows[name]["note"])
    for key in GO_TARGETS:
        assert targets[key]["value"] > 0, (key, targets[key].get("note"))


def test_targets_table_prints_each_ratio_with_its_two_rows_and_a_verdict(quick_run):
    out = quick_run[0].stdout
    table = out[out.index("== targets"):]
    for key, target in _targets(quick_run).items():
        block = table[table.index(f"({key}) "):]
        (top, _), (bottom, _) = target["top"], target["bottom"]
        header, rows_line, mode_line = block.splitlines()[:3]
        assert top in rows_line and bottom in rows_line, rows_line
        if target["value"] is None:
            assert "n/a" in mode_line, mode_line
        else:
            assert f"{target['value']:.2f}" in mode_line and ("MET" in mode_line or "MISSED" in mode_line), mode_line


def test_codec_micro_benchmark_prints_figures_for_both_formats(quick_run):
    out = quick_run[0].stdout
    section = out[out.index("encode/decode"):out.index("== unpinned")]
    for name in ("json", "gob"):
        assert re.search(rf"{name} +request encode +[0-9.]+ µs +decode +[0-9.]+ µs +reply encode", section), section


@pytest.mark.parametrize("codec", ["json", "gob"])
def test_scale_run_prints_every_figure_with_small_counts(codec):
    result = subprocess.run([sys.executable, str(BENCHMARKS / "scale.py"), "--connections", "40", "--burst", "10",
                             "--pipelined", "10", "--codec", codec], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"burst of 10 clients: all 10 replied within", out), out
    assert re.search(r"40 connections opened one after the other, one call each: [0-9.]+ s", out), out
    assert re.search(r"40 idle connections: \d+ server threads", out), out
    assert re.search(r"10 connections x 50 pipelined calls: every reply in [0-9.]+ s, at most \d+ server threads", out)
    assert re.search(r"all closed: \d+ server threads", out), out
    assert f"server ({codec})" in out, out


def test_sizes_run_echoes_each_size_in_each_codec_and_prints_its_cost_per_mib():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "sizes.py"), "--sizes", "1,2"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = re.findall(r"^(json|gob) +(bytes|str) +(\d+) MiB echoed: +[0-9.]+ ms \( *[0-9.]+ ms per MiB\)$",
                      result.stdout, re.M)
    assert sorted(rows) == sorted((codec, kind, size) for codec in ("json", "gob") for kind in ("bytes", "str")
                                  for size in ("1", "2")), result.stdout


@pytest.mark.skipif(not HAVE_GO and not GO_REQUIRED, reason="Go is not installed: percall.py floor needs its server")
def test_percall_floor_prints_each_client_as_a_fraction_of_gos_pair():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "percall.py"), "floor", "--n", "100", "--rounds", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("one thread, the format alone", "one thread, and a Future per call", "minirpc's client (go)",
                 "Go's gob client and server"):
        assert re.search(rf"{re.escape(name)} +[0-9]+ calls/s +[0-9.]+ x Go's gob pair", result.stdout), result.stdout


def test_percall_ceiling_prints_each_client_as_a_multiple_of_minirpcs_sequential_rate():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "percall.py"), "ceiling", "--n", "100", "--rounds", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("minirpc's client, sequential (call)", "one thread, the format alone, sequential",
                 "minirpc's client, 64 in flight (go)", "one thread, the format alone, 64 in flight",
                 "... and a Future per call"):
        assert re.search(rf"{re.escape(name)} +[0-9]+ calls/s +[0-9.]+ x minirpc's sequential rate",
                         result.stdout), result.stdout


# The toy: the yardstick must be a real JSON-RPC 1.0 peer, or beating it means nothing.


@pytest.fixture(scope="module")
def toy_server():
    with bench.python_server("toy") as srv:
        yield srv.address


@pytest.fixture
def toy_client(toy_server):
    client = toy.Client(toy_server)
    yield client
    client.close()


def test_toy_client_calls_a_method_of_the_toy_server(toy_client):
    assert toy_client.call("Arith.Add", Args(7, 8)) == 15


def test_toy_client_has_many_calls_in_flight_on_one_connection(toy_client):
    futures = [toy_client.go("Arith.Add", Args(i, 1)) for i in range(64)]
    assert [f.result(timeout=10) for f in futures] == [i + 1 for i in range(64)]


def test_toy_server_sends_an_unknown_method_back_as_an_error(toy_client):
    with pytest.raises(RuntimeError, match="rpc: can't find method Arith.Nope"):
        toy_client.call("Arith.Nope", Args(1, 2))


def test_toy_server_speaks_go_jsonrpc_wire_format(toy_server):
    host, _, port = toy_server.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b'{"method":"Arith.Add","params":[{"A":7,"B":8}],"id":0}\n')
        reply = sock.makefile("rb").readline()
    assert json.loads(reply) == {"id": 0, "result": 15, "error": None}
