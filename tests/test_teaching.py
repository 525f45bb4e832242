"""The teaching aids (minirpc.teaching), driven headless: no browser, no kernel.

Widgets are pressed with ``button.click()`` and read through their values,
exactly as the lessons do it in a cell.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import minirpc
from minirpc.examples import Args, Arith, Quotient
from minirpc.teaching import WireTap, hexdump, plots, show_source


@pytest.fixture
def server():
    server = minirpc.Server()
    server.register(Arith())
    yield server
    server.close()


@pytest.fixture
def json_serving(server):
    with server.start("127.0.0.1:0", codec="json") as serving:
        yield serving


@pytest.fixture
def gob_serving(server):
    with server.start("127.0.0.1:0", codec="gob") as serving:
        yield serving


# ---------------------------------------------------------------- optional dependencies


def test_importing_minirpc_and_teaching_needs_neither_ipywidgets_nor_matplotlib():
    code = ("import sys, minirpc, minirpc.teaching; "
            "bad = [m for m in ('ipywidgets', 'matplotlib') if m in sys.modules]; "
            "sys.exit(f'imported: {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_minirpc_does_not_import_teaching():
    code = "import sys, minirpc; sys.exit('minirpc.teaching' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------- wire tap


def test_wiretap_records_the_exact_json_bytes_of_a_call(json_serving):
    tap = WireTap("json")
    with minirpc.dial("tcp", json_serving.address, codec=tap.client_codec) as client:
        client.call("Arith.Multiply", Args(7, 8))
    exchange = tap.last()
    assert exchange.request == b'{"method":"Arith.Multiply","params":[{"A":7,"B":8}],"id":0}\n'
    assert exchange.reply == b'{"id":0,"result":56,"error":null}\n'


def test_wiretap_files_each_exchange_under_its_call_seq(json_serving):
    tap = WireTap("json")
    with minirpc.dial("tcp", json_serving.address, codec=tap.client_codec) as client:
        calls = [client.go("Arith.Multiply", Args(i, 2)) for i in range(5)]
        for call in calls:
            call.result(timeout=5)
    for i, call in enumerate(calls):
        assert json.loads(tap.get(call).reply)["result"] == 2 * i


def test_wiretap_records_the_error_text_of_a_failed_call(json_serving):
    tap = WireTap("json")
    with minirpc.dial("tcp", json_serving.address, codec=tap.client_codec) as client:
        with pytest.raises(minirpc.ServerError):
            client.call("Arith.Divide", Args(1, 0))
    assert tap.last().error == "divide by zero"


def test_wiretap_shows_gob_type_definitions_only_with_the_first_call(gob_serving):
    tap = WireTap("gob")
    with minirpc.dial("tcp", gob_serving.address, codec=tap.client_codec) as client:
        client.call("Arith.Multiply", Args(7, 8))
        client.call("Arith.Multiply", Args(6, 7))
    first, second = tap.exchanges.values()
    assert "struct Args {A int; B int}" in first.annotate()
    assert "struct Args" in second.annotate() and "definition" not in second.annotate()
    assert len(second.request) < len(first.request)


def test_wiretap_annotates_a_later_gob_call_with_the_stream_numbering(gob_serving):
    tap = WireTap("gob")
    with minirpc.dial("tcp", gob_serving.address, codec=tap.client_codec) as client:
        client.call("Arith.Multiply", Args(7, 8))
        client.call("Arith.Multiply", Args(6, 7))
    listing = tap.last().annotate()
    assert "message 5:" in listing and "message 1:" not in listing
    assert "A = 6" in listing and "value = 42" in listing


def test_wiretap_on_the_server_side_records_requests_it_served(server):
    tap = WireTap("json")
    with server.start("127.0.0.1:0", codec=tap.server_codec) as serving:
        with minirpc.dial("tcp", serving.address, codec="json") as client:
            client.call("Arith.Multiply", Args(3, 4))
    exchange = tap.last()
    assert b'"params":[{"A":3,"B":4}]' in exchange.request
    assert b'"result":12' in exchange.reply


def test_wiretap_shows_an_unknown_codec_as_a_hexdump(json_serving):
    from minirpc import jsonrpc
    from minirpc.format import WireFormat

    tap = WireTap(WireFormat("my-json", jsonrpc.ServerFormat, jsonrpc.ClientFormat))  # a format of your own
    with minirpc.dial("tcp", json_serving.address, codec=tap.client_codec) as client:
        client.call("Arith.Multiply", Args(7, 8))
    assert tap.kind == "bytes"
    assert tap.last().annotate().splitlines()[1].startswith("0000  7b 22 6d 65")


def test_side_by_side_puts_each_exchange_in_its_own_column(json_serving):
    from minirpc.teaching import side_by_side

    tap = WireTap("json")
    with minirpc.dial("tcp", json_serving.address, codec=tap.client_codec) as client:
        client.call("Arith.Multiply", Args(7, 8))
    view = side_by_side(tap.last(), tap.last(), titles=("left",))
    assert view._repr_html_().count("<td") == 2
    assert repr(view).startswith("== left ==\n-> request  seq 0") and "== json, seq 0 ==" in repr(view)


def test_hexdump_prints_offset_hex_and_printable_text():
    assert hexdump(b"AB\x00") == "0000  41 42 00" + " " * 41 + "AB."
    assert hexdump(bytes(range(65, 65 + 17))).splitlines()[1] == "0010  51" + " " * 47 + "Q"


# ---------------------------------------------------------------- source quoting


def test_show_source_names_the_object_file_and_lines():
    text = repr(show_source(minirpc.registry.Registry.lookup))
    assert text.startswith("minirpc.registry.Registry.lookup  (minirpc/registry.py, lines ")


def test_show_source_quotes_the_live_source():
    import inspect

    source = show_source(minirpc.registry.Registry.lookup)
    assert source.text.rstrip("\n") == inspect.getsource(minirpc.registry.Registry.lookup).rstrip("\n")


def test_show_source_html_is_wrapped_in_the_sanitizer_markers():
    html = show_source(minirpc.registry.Registry.lookup)._repr_html_()
    assert html.startswith("<!-- minirpc-source -->") and html.endswith("<!-- /minirpc-source -->")
    assert "lookup" in html and 'href="' in html


def test_show_source_can_cut_an_excerpt_between_two_markers():
    source = show_source(minirpc.jsonrpc, start="class ServerFormat", end="class ClientFormat")
    assert source.text.startswith("class ServerFormat") and "class ClientFormat" not in source.text


def test_show_source_can_quote_only_a_module_docstring():
    source = show_source(minirpc.registry, docstring=True)
    assert source.first_line == 1 and source.text.startswith('"""') and "import" not in source.text


def test_show_source_refuses_a_marker_that_is_not_there():
    with pytest.raises(ValueError, match="not found"):
        show_source(minirpc.registry.Registry.lookup, start="no such line")


# ---------------------------------------------------------------- measuring and plotting


def test_percentile_interpolates_between_samples():
    assert plots.percentile([4, 1, 3, 2], 50) == 2.5
    assert plots.percentile([1, 2, 3, 4, 5], 100) == 5


def test_format_seconds_picks_a_readable_unit():
    assert [plots.format_seconds(s) for s in (0.0000481, 0.0123, 2.5)] == ["48.1 µs", "12.3 ms", "2.5 s"]


def test_measure_runs_warmup_calls_untimed():
    calls = []
    samples = plots.measure(lambda: calls.append(1), n=7, warmup=3, label="x")
    assert len(calls) == 10 and samples.n == 7


def test_measure_batches_records_time_per_call():
    samples = plots.measure_batches(lambda: None, size=4, n=3, warmup=0)
    assert samples.n == 3 and not samples.per_call


def test_summary_reports_n_p50_and_p99():
    samples = plots.Samples("rpc", [0.001] * 99 + [0.1])
    assert samples.summary() == "rpc: n=100  p50 1 ms  p99 1.99 ms"


def test_compare_draws_a_png_named_after_its_samples():
    pytest.importorskip("matplotlib")
    a, b = plots.Samples("a", [1e-4, 2e-4, 3e-4]), plots.Samples("b", [1e-3, 2e-3])
    picture = plots.compare(a, b, title="t")
    assert repr(picture) == "<Plot 't': a (n=3); b (n=2)>"
    assert picture._repr_png_().startswith(b"\x89PNG")


def test_plots_label_both_axes_with_units():
    pytest.importorskip("matplotlib")
    picture = plots.compare(plots.Samples("a", [1e-4, 2e-4]))
    histogram, curve = picture.figure.axes
    assert histogram.get_xlabel() == "latency (µs, log scale)" and histogram.get_ylabel() == "share of calls"
    assert curve.get_xlabel() == "percentile" and curve.get_ylabel() == "latency (µs, log scale)"


def test_histogram_bars_are_shares_so_runs_of_different_sizes_compare():
    pytest.importorskip("matplotlib")
    small, large = plots.Samples("small", [1e-4] * 60), plots.Samples("large", [1e-4] * 2000)
    ax = plots.histogram(small, large).figure.axes[0]
    heights = [max(p.get_path().vertices[:, 1]) for p in ax.patches]
    assert heights == pytest.approx([1.0, 1.0])  # each run's calls all in one bin: 100 % each


def test_histogram_can_count_calls_instead():
    pytest.importorskip("matplotlib")
    ax = plots.histogram(plots.Samples("a", [1e-4] * 7), density=False).figure.axes[0]
    assert ax.get_ylabel() == "calls" and max(ax.patches[0].get_path().vertices[:, 1]) == 7


def test_rounds_measure_every_experiment_in_every_round_taking_turns():
    order = []
    experiments = {name: (lambda name=name: order.append(name)) for name in "abc"}
    measured = plots.rounds(experiments, rounds=3, n=2, warmup=0)
    assert [r.label for r in measured] == ["a", "b", "c"]
    assert [len(r.rounds) for r in measured] == [3, 3, 3] and measured[0].rounds[0].n == 2
    timed = order[2 * 3:]  # after the warm-up (at least 2 calls each)
    firsts = [timed[i] for i in range(0, len(timed), len(timed) // 3)]
    assert firsts == ["a", "b", "c"]  # the order rotates from round to round


def test_rounds_time_a_batch_per_call():
    measured = plots.rounds({"batch": (lambda: None, 32)}, rounds=1, n=64, warmup=0)
    assert not measured[0].rounds[0].per_call and measured[0].rounds[0].n == 20  # at least 20 batches


def test_rounds_report_the_spread_of_a_percentile_across_rounds():
    r = plots.Rounds("x", [plots.Samples("x", [s]) for s in (3e-6, 1e-6, 2e-6)])
    assert r.spread(50) == (1e-6, 2e-6, 3e-6)
    assert r.summary() == "x: 3 rounds of n=1  p50 2 µs (1 µs-3 µs)  p99 2 µs (1 µs-3 µs)"


def test_rounds_that_overlap_show_no_difference():
    def rounds(*values):
        return plots.Rounds("r", [plots.Samples("r", [v]) for v in values])
    assert rounds(1, 3).overlaps(rounds(2, 4)) and not rounds(1, 2).overlaps(rounds(3, 4))


def test_open_loop_response_time_counts_the_wait_behind_a_stall():
    import time

    calls = []

    def stalls_once():
        calls.append(1)
        if len(calls) == 3:
            time.sleep(0.05)

    service, response = plots.measure_open_loop(stalls_once, rate=1000, n=10, warmup=0)
    assert service.n == response.n == 10
    assert all(r >= s for r, s in zip(response.seconds, service.seconds))
    assert sum(s > 0.04 for s in service.seconds) == 1  # one call stalled ...
    assert sum(r > 0.04 for r in response.seconds) > 1  # ... and the calls due during it waited


def test_summary_chart_has_a_row_per_experiment():
    pytest.importorskip("matplotlib")
    a = plots.Rounds("a", [plots.Samples("a", [1e-4, 2e-4]), plots.Samples("a", [2e-4, 3e-4])])
    picture = plots.summary_chart(a, plots.Samples("b", [1e-3]), title="t")
    assert repr(picture) == "<Plot 't': a (n=4); b (n=1)>"
    assert [t.get_text() for t in picture.figure.axes[0].get_yticklabels()] == ["b (n=1)", "a (2 rounds × 2)"]


def test_rate_plots_one_panel_per_series():
    pytest.importorskip("matplotlib")
    picture = plots.rate({"x": [0.001, 0.002, 0.015], "y": [0.03]}, bin=0.01, title="t")
    assert repr(picture) == "<Plot 't': x; y>" and len(picture.figure.axes) == 2
    assert [p.get_height() for p in picture.figure.axes[0].patches][:2] == [2, 1]


def test_plot_legends_carry_n_p50_and_p99():
    pytest.importorskip("matplotlib")
    picture = plots.histogram(plots.Samples("a", [1e-4, 2e-4, 3e-4]))
    (legend,) = picture.figure.legends
    (legend_text,) = [t.get_text() for t in legend.get_texts()]
    assert legend_text == "a: n=3, p50 200 µs, p99 298 µs"


# ---------------------------------------------------------------- the call console


@pytest.fixture
def console(server, gob_serving):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from minirpc.teaching import CallConsole

    console = CallConsole(server, gob_serving.address, method="Arith.Multiply")
    yield console
    console.close()


def test_console_offers_every_registered_method(console):
    assert list(console.method.options) == ["Arith.Divide", "Arith.Multiply"]


def test_console_builds_a_form_from_the_argument_dataclass(console):
    assert list(console.fields) == ["A", "B"]
    assert "Multiply(Args) -&gt; int" in console.signature.value


def test_console_call_button_shows_the_reply(console):
    console.fields["A"].value, console.fields["B"].value = 6, 7
    console.call_button.click()
    assert console.reply.value == "reply: 42"


def test_console_shows_the_latency_of_a_call(console):
    console.call_button.click()
    assert console.latency.value.startswith("latency: ")


def test_console_shows_the_bytes_of_the_last_call(console):
    console.set_args(Args(6, 7))
    console.call_button.click()
    assert "Arith.Multiply" in console.wire.value and "A = 6" in console.wire.value


def test_console_shows_a_server_error(console):
    console.method.value = "Arith.Divide"
    console.set_args(Args(1, 0))
    console.call_button.click()
    assert console.reply.value == "error: ServerError: divide by zero"


def test_console_decodes_the_reply_into_the_reply_type(console):
    console.method.value = "Arith.Divide"
    console.set_args(Args(17, 5))
    console.call_button.click()
    assert console.reply.value == f"reply: {Quotient(3, 2)!r}"


def test_console_json_editor_starts_from_the_form_values(console):
    console.set_args(Args(2, 3))
    console.as_json.value = True
    assert json.loads(console.args_json.value) == {"A": 2, "B": 3}


def test_console_reports_arguments_that_do_not_fit_without_calling(console):
    console.as_json.value = True
    console.args_json.value = '{"A": "x", "B": 1}'
    console.call_button.click()
    assert console.reply.value == "error: ValueError: args.A: expected int, got str"
    assert console.history[-1]["seconds"] is None


def test_console_go_button_runs_n_calls(console):
    console.set_args(Args(2, 21))
    console.go_count.value = 5
    console.go_button.click()
    assert console.reply.value == "Go ×5: 5 ok, 0 failed; last reply: 42"
    assert len(console.last_batch["completion_order"]) == 5


def test_console_go_button_label_follows_n(console):
    console.go_count.value = 3
    assert console.go_button.description == "Go ×3"


def test_console_latency_view_grows_with_each_call(console):
    console.call_button.click()
    console.call_button.click()
    assert console.view.samples.n == 2
    assert console.view.summary.value.startswith("console calls: n=2  p50 ")
    assert bytes(console.view.image.value).startswith(b"\x89PNG")


def test_console_logs_calls_to_its_output_widget(console):
    console.set_args(Args(1, 1))
    console.call_button.click()
    assert console.log.outputs[-1]["text"] == "Arith.Multiply(Args(A=1, B=1)) -> reply: 1\n"


def test_console_repr_is_one_stable_line(console):
    bundle = console._repr_mimebundle_()
    assert bundle["text/plain"] == "CallConsole(2 methods: Arith.Divide, Arith.Multiply)"
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_console_close_closes_the_client_it_dialled(console):
    console.close()
    with pytest.raises(minirpc.ShutdownError):
        console.client.call("Arith.Multiply", Args(1, 1))


def test_a_closed_console_says_so_when_clicked(console):
    console.close()
    console.call_button.click()
    assert console.reply.value == "error: ShutdownError: this console is closed"


def test_console_dials_again_when_its_client_was_shut_down_and_says_so(console):
    console.set_args(Args(6, 7))
    console.client.close()
    console.call_button.click()
    assert console.reply.value == "reply: 42 (the connection had been shut down: dialled again and sent it)"
    assert console.reconnects == 1


def test_console_go_dials_again_when_its_client_was_shut_down(console):
    console.set_args(Args(6, 7))
    console.client.close()
    console.go_count.value = 3
    console.go_button.click()
    assert console.reply.value.startswith("Go ×3: 3 ok, 0 failed; last reply: 42 (the connection had been shut down")


def test_console_does_not_resend_a_call_lost_with_its_connection_but_dials_again_next_time(server):
    pytest.importorskip("ipywidgets")
    import threading
    import time

    from minirpc.teaching import CallConsole

    running = threading.Event()

    class Slow:
        def Sleep(self, ms: int) -> int:
            running.set()
            time.sleep(ms / 1000)
            return ms

    server.register(Slow())
    console = CallConsole(server, method="Slow.Sleep")
    try:
        console.set_args(200)
        # the connection dies under the call: once the server runs it (a fixed delay races a loaded machine)
        killer = threading.Thread(target=lambda: running.wait(10) and server.close_connections())
        killer.start()
        console.call_button.click()
        killer.join()
        assert console.reply.value.startswith("error: ConnectionLost")
        console.set_args(1)
        console.call_button.click()
        assert console.reply.value == "reply: 1 (the connection had broken: dialled again)"
    finally:
        console.close()


def test_console_given_a_server_listens_on_its_own_port(server):
    pytest.importorskip("ipywidgets")
    from minirpc.teaching import CallConsole

    lesson = server.start("127.0.0.1:0")
    console = CallConsole(server, method="Arith.Multiply")
    try:
        assert console.serving is not None and console.serving.address != lesson.address
        lesson.close()  # a lesson's clean-up closes its own listener: the console does not notice
        console.set_args(Args(2, 3))
        console.call_button.click()
        assert console.reply.value == "reply: 6"
    finally:
        console.close()
    assert console.serving.closed  # close() closes the listener it started


def test_a_call_that_never_crossed_the_wire_leaves_no_old_bytes_in_the_panel(server, gob_serving):
    pytest.importorskip("ipywidgets")
    from minirpc.teaching import CallConsole

    tap = WireTap("gob")
    client = minirpc.dial("tcp", gob_serving.address, codec=tap.client_codec)
    console = CallConsole(server, client=client, tap=tap, method="Arith.Multiply")  # cannot dial again
    console.set_args(Args(6, 7))
    console.call_button.click()
    assert "A = 6" in console.wire.value
    client.close()
    console.call_button.click()
    assert console.reply.value.startswith("error: ShutdownError")
    assert console.wire.value == "<i>(no bytes crossed the wire for this call)</i>"


def test_a_failed_call_that_crossed_the_wire_shows_its_own_bytes(console):
    console.set_args(Args(6, 7))
    console.call_button.click()
    console.method.value = "Arith.Divide"
    console.set_args(Args(1, 0))
    console.call_button.click()
    assert "divide by zero" in console.wire.value and "A = 6" not in console.wire.value


def test_live_consoles_lists_the_consoles_of_this_process(console):
    from minirpc.teaching import live_consoles

    assert console in live_consoles()


def test_a_remote_console_starts_a_struct_argument_from_an_empty_object(server):
    pytest.importorskip("ipywidgets")
    from minirpc.http import dial_http, start_http
    from minirpc.teaching import CallConsole

    with start_http(server, "127.0.0.1:0") as web:
        console = CallConsole(f"http://{web.address}/debug/rpc.json", method="Arith.Multiply",
                              dial=lambda tap: dial_http("tcp", web.address, codec=tap.client_codec))
        try:
            assert console.args_json.value == "{}"
            console.call_button.click()
            assert console.reply.value == "reply: 0"  # an empty struct is Args{0, 0}
        finally:
            console.close()


# ---------------------------------------------------------------- the network console


@pytest.fixture
def network_console(server):
    pytest.importorskip("ipywidgets")
    pytest.importorskip("matplotlib")
    from minirpc import lossy
    from minirpc.teaching import NetworkConsole

    console = NetworkConsole(server, lossy.Network(seed=1), timeout=0.2, method="Arith.Multiply")
    console.set_args(Args(6, 7))
    yield console
    console.close()


def test_network_console_calls_across_its_network(network_console):
    network_console.call_button.click()
    assert network_console.reply.value == "reply: 42"
    assert "sent" in network_console.network.timeline() and "client-&gt;server#1" in network_console.counters.value


def test_network_console_sliders_set_the_faults(network_console):
    network_console.drop.value = 0.25
    network_console.delay_ms.value = 5
    assert (network_console.network.faults.drop, network_console.network.faults.delay) == (0.25, 0.005)


def test_network_console_shows_a_lost_call_as_a_timeout(network_console):
    network_console.drop.value = 1.0
    network_console.call_button.click()
    assert network_console.reply.value == "error: CallTimeout: Arith.Multiply: no reply within 0.2 s"


def test_network_console_retries_a_timed_out_call_and_says_how_often(network_console):
    network_console.drop.value = 1.0
    network_console.retries.value = 2
    network_console.call_button.click()
    assert network_console.reply.value.endswith("(after 3 attempts: CallTimeout, CallTimeout, CallTimeout)")


def test_network_console_disconnect_and_perfect_network_switches(network_console):
    network_console.disconnected.value = True
    assert not network_console.network.can_talk(None, "server")
    network_console.drop.value = 0.5
    network_console.perfect.click()
    assert network_console.network.can_talk(None, "server") and network_console.drop.value == 0.0
    network_console.go_button.click()
    assert network_console.reply.value == "Go ×10: 10 ok, 0 failed; last reply: 42"


def test_network_console_draws_a_timeline_of_the_last_click(network_console):
    network_console.go_count.value = 3
    network_console.go_button.click()
    assert bytes(network_console.timeline.value).startswith(b"\x89PNG")


def test_network_console_close_stops_its_network(server):
    pytest.importorskip("ipywidgets")
    import threading

    from minirpc import lossy
    from minirpc.teaching import NetworkConsole

    console = NetworkConsole(server, lossy.Network(seed=1), method="Arith.Multiply")
    console.call_button.click()
    console.close()
    assert not [t.name for t in threading.enumerate() if t.name.startswith(("lossy-", "minirpc-client"))]


def test_console_calls_a_gob_server_known_only_by_its_debug_json(server):
    pytest.importorskip("ipywidgets")
    from minirpc import debug
    from minirpc.http import dial_http, start_http
    from minirpc.teaching import CallConsole

    listing = json.loads(debug.render_json(debug.describe(server)))
    with start_http(server, "127.0.0.1:0") as web:
        console = CallConsole(listing, client=dial_http("tcp", web.address), method="Arith.Divide")
        try:
            assert console.as_json.value  # no Python types: JSON it is
            console.args_json.value = '{"A": 22, "B": 7}'
            console.call_button.click()
            assert console.reply.value == "reply: {'Quo': 3, 'Rem': 1}"
        finally:
            console.client.close()


def test_console_reads_the_debug_page_url(server):
    pytest.importorskip("ipywidgets")
    from minirpc.http import start_http
    from minirpc.teaching.widgets import methods_of

    with start_http(server, "127.0.0.1:0") as web:
        methods = methods_of(f"http://{web.address}/debug/rpc.json")
    assert methods["Arith.Multiply"].signature == "Multiply(Args) -> int"
