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
    assert histogram.get_xlabel() == "latency (µs, log scale)" and histogram.get_ylabel() == "calls"
    assert curve.get_xlabel() == "percentile" and curve.get_ylabel() == "latency (µs, log scale)"


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
