"""The debug page: what a server offers and how often each method was called.

Go's net/rpc serves a small HTML page at ``/debug/rpc`` (see Go's debug.go):
one table per service, services sorted by name, one row per method with its
signature and its live call count.  minirpc serves the same page, and the same
data as JSON (``/debug/rpc?format=json`` or ``/debug/rpc.json``) for scripts,
notebooks and widgets::

    {"services": [{"name": "Arith",
                   "methods": [{"name": "Multiply", "signature": "Multiply(Args) -> int",
                                "arg_type": "Args", "reply_type": "int", "calls": 3}]}]}

Everything taken from the server is HTML-escaped before it goes into the page
(Go's ``html/template`` does this too): a service name is data, not markup.
"""

from __future__ import annotations

import json
from html import escape

from .values import type_name


def describe(server) -> list[dict]:
    """A snapshot of ``server.services()`` as plain, JSON-ready data."""
    services = []
    for service in sorted(server.services(), key=lambda s: s.name):
        methods = [
            {"name": m.name, "signature": m.signature(), "arg_type": type_name(m.arg_type),
             "reply_type": type_name(m.reply_type), "calls": m.num_calls}
            for m in sorted(service.methods.values(), key=lambda m: m.name)
        ]
        services.append({"name": service.name, "methods": methods})
    return services


def render_json(services: list[dict]) -> str:
    """The JSON form of ``describe(server)``."""
    return json.dumps({"services": services}, indent=2) + "\n"


def render_html(services: list[dict]) -> str:
    """The HTML page, laid out like Go's: title "Services", a table per service."""
    parts = ["<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Services</title></head>\n<body>\n"]
    for service in services:
        parts.append(f"<hr>\nService {escape(service['name'])}\n<hr>\n<table>\n")
        parts.append('<tr><th align="center">Method</th><th align="center">Calls</th></tr>\n')
        for m in service["methods"]:
            parts.append(f'<tr><td align="left"><code>{escape(m["signature"])}</code></td>'
                         f'<td align="center">{m["calls"]}</td></tr>\n')
        parts.append("</table>\n")
    if not services:
        parts.append("<p>No services registered.</p>\n")
    parts.append("</body>\n</html>\n")
    return "".join(parts)
