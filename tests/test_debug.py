"""The debug page (Go's debug.go): services, signatures, live call counts; HTML and JSON."""

from __future__ import annotations

import json
import urllib.request

import pytest

import minirpc
from minirpc import debug
from minirpc.examples import Args, Arith
from minirpc.http import dial_http, start_http


class Zeta:
    def Last(self, n: int) -> int:
        return n

    def First(self, n: int) -> int:
        return n


@pytest.fixture
def server():
    server = minirpc.Server()
    server.register(Zeta())
    server.register(Arith())
    yield server
    server.close()


@pytest.fixture
def serving(server):
    with start_http(server) as serving:
        yield serving


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_services_and_methods_are_sorted_by_name(server):
    described = debug.describe(server)
    assert [s["name"] for s in described] == ["Arith", "Zeta"]
    assert [m["name"] for m in described[1]["methods"]] == ["First", "Last"]


def test_each_method_has_its_signature_and_types(server):
    multiply = debug.describe(server)[0]["methods"][1]
    assert multiply == {"name": "Multiply", "signature": "Multiply(Args) -> int",
                        "arg_type": "Args", "reply_type": "int", "calls": 0}


def test_call_counts_are_live(serving):
    with dial_http("tcp", serving.address) as client:
        for i in range(3):
            client.call("Arith.Multiply", Args(i, i), reply_type=int)
    _, body = get(serving.url + "/debug/rpc?format=json")
    arith = json.loads(body)["services"][0]
    assert {m["name"]: m["calls"] for m in arith["methods"]} == {"Divide": 0, "Multiply": 3}


def test_html_page_lists_services_like_go(serving):
    content_type, page = get(serving.url + "/debug/rpc")
    assert content_type == "text/html; charset=utf-8"
    assert "<title>Services</title>" in page
    assert page.index("Service Arith") < page.index("Service Zeta")
    assert "<code>Multiply(Args) -&gt; int</code></td><td align=\"center\">0</td>" in page


def test_json_is_served_at_both_addresses(serving):
    content_type, by_query = get(serving.url + "/debug/rpc?format=json")
    assert content_type == "application/json"
    assert get(serving.url + "/debug/rpc.json")[1] == by_query
    assert json.loads(by_query)["services"][0]["name"] == "Arith"


def test_debug_page_follows_its_path(server):
    with start_http(server, debug_path="/status") as serving:
        assert "Service Arith" in get(serving.url + "/status")[1]


def test_names_are_escaped_in_html():
    page = debug.render_html([{"name": "<script>alert(1)</script>", "methods": [
        {"name": "M", "signature": "M(A&B) -> <C>", "arg_type": "A&B", "reply_type": "<C>", "calls": 1}]}])
    assert "<script>" not in page and "<C>" not in page
    assert "&lt;script&gt;" in page and "M(A&amp;B) -&gt; &lt;C&gt;" in page


def test_empty_server_says_so():
    assert "No services registered" in debug.render_html([])
    assert json.loads(debug.render_json([])) == {"services": []}


def test_head_gets_headers_without_a_body(serving):
    request = urllib.request.Request(serving.url + "/debug/rpc", method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read() == b""
