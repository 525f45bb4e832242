"""Widgets for the lessons: a call console and a live latency view.

``CallConsole`` is a small RPC workbench in a notebook cell::

    console = CallConsole(server, serving.address)   # or a debug-page URL / its JSON
    console                                          # shows it

Pick ``Service.Method`` (from the server's registry, or from a remote
server's debug JSON), fill in the argument (a form built from the argument
dataclass's fields, or JSON text), and press **Call** (one synchronous call)
or **Go ×N** (N asynchronous calls in flight at once).  It shows the reply or
the error, the latency, the bytes that crossed the wire for that call (it
dials through a ``WireTap``), and a latency histogram that grows as you
click.

Everything it shows lives in widget values on the kernel side
(``console.reply.value``, ``console.latency.value``, ``console.wire.value``,
``console.log.outputs``), so it can be driven and checked without a browser:
``console.call_button.click()`` runs a call right there.

ipywidgets and matplotlib are imported when this module is imported; the rest
of minirpc never imports it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
import typing
import urllib.request
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import ipywidgets as w

from .. import client as _client
from .. import values
from . import plots
from .wiretap import WireTap

__all__ = ["CallConsole", "LatencyView", "MethodInfo"]


@dataclass
class MethodInfo:
    """What the console knows about one method: Python types if local, names if remote."""

    name: str  # "Arith.Multiply"
    signature: str  # "Multiply(Args) -> int"
    arg_type: Any = None  # a Python type, or None when only the debug JSON is known
    reply_type: Any = None
    arg_type_name: str = ""  # the type's name as the debug JSON gives it, e.g. "Args"


def methods_of(source: Any) -> dict[str, MethodInfo]:
    """``Service.Method`` -> MethodInfo, from a Server, a list of Services,
    debug JSON (a dict, its text, or an http(s) URL of ``/debug/rpc.json``)."""
    if hasattr(source, "services"):
        source = source.services()
    if isinstance(source, str):
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=5) as response:
                source = response.read().decode()
        source = json.loads(source)
    found: dict[str, MethodInfo] = {}
    if isinstance(source, dict):  # the debug page's JSON
        for service in source["services"]:
            for m in service["methods"]:
                name = f"{service['name']}.{m['name']}"
                found[name] = MethodInfo(name, m["signature"], arg_type_name=m.get("arg_type", ""))
        return found
    for service in source:  # registry.Service objects
        for m in service.methods.values():
            found[f"{service.name}.{m.name}"] = MethodInfo(f"{service.name}.{m.name}", m.signature(), m.arg_type, m.reply_type)
    return found


class LatencyView:
    """A histogram of call latencies that grows as calls are added."""

    def __init__(self, title: str = "console calls", max_samples: int = 10_000):
        self.samples = plots.Samples(title)
        self.max_samples = max_samples
        self.summary = w.Label(value=f"{title}: no calls yet")
        self.image = w.Image(format="png", layout=w.Layout(width="560px"))
        self.box = w.VBox([self.summary, self.image])

    def add(self, *seconds: float) -> None:
        """Record latencies (in seconds) and redraw."""
        self.samples.seconds.extend(seconds)
        del self.samples.seconds[: -self.max_samples]
        self.refresh()

    def clear(self) -> None:
        self.samples.seconds.clear()
        self.summary.value = f"{self.samples.label}: no calls yet"
        self.image.value = b""

    def refresh(self) -> None:
        if not self.samples.seconds:
            return
        self.summary.value = self.samples.summary()
        self.image.value = plots.histogram(self.samples, bins=30, title="latency of the console's calls")._repr_png_()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"LatencyView({self.samples.label!r})"  # stable, unlike a widget's repr
        return bundle


class CallConsole:
    """Pick a method, fill in its argument, Call or Go ×N; see reply, latency, bytes."""

    def __init__(self, services: Any, address: str | None = None, *, client: Any = None, tap: WireTap | None = None,
                 codec: Any = None, network: str = "tcp", timeout: float = 5.0, go_count: int = 10,
                 method: str | None = None):
        self.methods = methods_of(services)
        if not self.methods:
            raise ValueError("no methods to call")
        self.timeout = timeout
        self._own_client = client is None
        if client is None:
            if address is None:
                raise ValueError("give the server's address, or a client")
            tap = tap or WireTap(codec)
            client = _client.dial(network, address, codec=tap.client_codec, timeout=timeout)
        self.client, self.tap = client, tap
        self.history: list[dict] = []  # one entry per finished call, oldest first

        names = sorted(self.methods)
        self.method = w.Dropdown(options=names, value=method or names[0], description="method")
        self.signature = w.HTML()
        self.as_json = w.Checkbox(value=False, description="edit as JSON", indent=False)
        self.args_json = w.Textarea(layout=w.Layout(width="420px", height="4em"))
        self.fields: dict[str, w.Widget] = {}
        self.form = w.VBox()
        self.call_button = w.Button(description="Call", button_style="primary", tooltip="client.call(...)")
        self.go_count = w.BoundedIntText(value=go_count, min=1, max=1000, description="N", layout=w.Layout(width="130px"))
        self.go_button = w.Button(description=f"Go ×{go_count}", tooltip="N × client.go(...), then wait for all")
        self.reply = w.Label(value="reply: (none yet)")
        self.latency = w.Label(value="")
        self.wire = w.HTML(value="", layout=w.Layout(max_height="24em", overflow="auto"))
        self.log = w.Output(layout=w.Layout(max_height="10em", overflow="auto"))
        self.view = LatencyView()

        self.method.observe(lambda _change: self._build_form(), names="value")
        self.as_json.observe(lambda _change: self._switch_editor(), names="value")
        self.go_count.observe(lambda change: setattr(self.go_button, "description", f"Go ×{change['new']}"), names="value")
        self.call_button.on_click(self._on_call)
        self.go_button.on_click(self._on_go)
        self.box = w.VBox([
            w.HBox([self.method, self.signature]),
            self.as_json, self.form,
            w.HBox([self.call_button, self.go_button, self.go_count]),
            self.reply, self.latency,
            w.Accordion([self.wire], titles=("bytes on the wire (last call)",), selected_index=0),
            self.view.box, self.log,
        ])
        self._build_form()

    # -- arguments ----------------------------------------------------------

    def _build_form(self) -> None:
        info = self.methods[self.method.value]
        self.signature.value = f"<code>{html.escape(info.signature)}</code>"
        self.fields = _form_fields(info.arg_type)
        if info.arg_type is None or not self.fields:  # a remote method, or an argument with no simple form
            self.args_json.value = json.dumps(_example(info.arg_type))
            self.as_json.value = True
        self._switch_editor()

    def _switch_editor(self) -> None:
        if self.as_json.value:
            if self.fields:
                self.args_json.value = json.dumps(values.to_plain(self._form_value()))
            self.form.children = (self.args_json,)
        else:
            if not self.fields:  # nothing to show as a form: stay in JSON
                self.as_json.value = True
                return
            self.form.children = tuple(self.fields.values())

    def set_args(self, value: Any) -> None:
        """Fill in the argument from a plain value (a dict for a dataclass)."""
        if self.as_json.value or not self.fields:
            self.args_json.value = json.dumps(values.to_plain(value))
            return
        plain = values.to_plain(value)
        if set(self.fields) == {""}:
            self.fields[""].value = plain
        else:
            for name, widget in self.fields.items():
                if name in plain:
                    widget.value = plain[name] if not isinstance(widget, w.Text) or isinstance(plain[name], str) else json.dumps(plain[name])

    def args(self) -> Any:
        """The argument as the form or the JSON text says (raises ValueError if it does not fit)."""
        info = self.methods[self.method.value]
        if self.as_json.value:
            try:
                plain = json.loads(self.args_json.value or "null")
            except json.JSONDecodeError as e:
                raise ValueError(f"arguments are not valid JSON: {e}") from None
            if info.arg_type is None:
                return _as_struct(plain, info.arg_type_name)
            return values.from_plain(plain, info.arg_type, "args")
        return self._form_value()

    def _form_value(self) -> Any:
        info = self.methods[self.method.value]
        if set(self.fields) == {""}:
            return self.fields[""].value
        plain = {}
        for name, widget in self.fields.items():
            value = widget.value
            if getattr(widget, "_minirpc_json", False):
                value = json.loads(value or "null")
            plain[name] = value
        return values.from_plain(plain, info.arg_type, "args")

    # -- calling ------------------------------------------------------------

    def _on_call(self, _button: Any = None) -> None:
        info = self.methods[self.method.value]
        try:
            args = self.args()
        except ValueError as e:
            return self._show(info.name, None, None, e, None)
        t0 = time.perf_counter()
        try:
            reply, error = self.client.call(info.name, args, reply_type=info.reply_type, timeout=self.timeout), None
        except Exception as e:  # a failed call is a result to show, not a crash
            reply, error = None, e
        seconds = time.perf_counter() - t0
        exchange = self.tap.last() if self.tap is not None else None
        self._show(info.name, args, reply, error, seconds, exchange)

    def _on_go(self, _button: Any = None) -> None:
        info = self.methods[self.method.value]
        try:
            args = self.args()
        except ValueError as e:
            return self._show(info.name, None, None, e, None)
        n = self.go_count.value
        # (seq, time done), appended by whichever thread completes a call; list.append is atomic in CPython
        finished: list[tuple[int, float]] = []
        t0 = time.perf_counter()
        calls = []
        for _ in range(n):
            call = self.client.go(info.name, args, reply_type=info.reply_type, timeout=self.timeout)
            call.add_done_callback(lambda c: finished.append((c.seq, time.perf_counter())))
            calls.append(call)
        futures.wait(calls, timeout=self.timeout + 1)
        total = time.perf_counter() - t0
        failed = [c for c in calls if not c.done() or c.error is not None]
        latencies = [done - t0 for _, done in finished]
        order = [seq for seq, _ in finished]
        self.last_batch = {"calls": calls, "completion_order": order, "seconds": total}
        first_error = next((c.error for c in failed if c.done()), None)
        shown = calls[-1]
        text = f"Go ×{n}: {n - len(failed)} ok, {len(failed)} failed"
        if first_error is not None:
            text += f" (first error: {type(first_error).__name__}: {first_error})"
        elif shown.done():
            text += f"; last reply: {shown.reply!r}"
        self.reply.value = text
        self.reply.style.text_color = "green" if not failed else "#b00"
        self.latency.value = (f"all {n} done in {plots.format_seconds(total)} "
                              f"({plots.format_seconds(total / n)} per call); replies arrived as seq {_short(order)}")
        exchange = self.tap.get(shown) if self.tap is not None and shown.seq is not None else None
        self.wire.value = _wire_html(exchange)
        done_at = dict(finished)
        self.history.extend({"method": info.name, "args": args, "reply": c.reply, "error": c.error,
                             "seconds": done_at[c.seq] - t0 if c.seq in done_at else None} for c in calls)
        self.log.append_stdout(f"{text}\n")
        self.view.add(*latencies)

    def _show(self, name: str, args: Any, reply: Any, error: BaseException | None, seconds: float | None,
              exchange: Any = None) -> None:
        if error is None:
            self.reply.value = f"reply: {reply!r}"
            self.reply.style.text_color = "green"
        else:
            self.reply.value = f"error: {type(error).__name__}: {error}"
            self.reply.style.text_color = "#b00"
        self.latency.value = "" if seconds is None else f"latency: {plots.format_seconds(seconds)}"
        self.wire.value = _wire_html(exchange)
        self.history.append({"method": name, "args": args, "reply": reply, "error": error, "seconds": seconds})
        self.log.append_stdout(f"{name}({args!r}) -> {self.reply.value}\n")
        if seconds is not None and args is not None:
            self.view.add(seconds)

    # -- display and clean-up ----------------------------------------------

    def close(self) -> None:
        """Close the client the console dialled (not one you passed in)."""
        if self._own_client:
            try:
                self.client.close()
            except Exception:
                pass  # closed already

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"CallConsole({len(self.methods)} methods: {', '.join(sorted(self.methods))})"
        return bundle


_NOT_STRUCTS = {"bool", "int", "float", "str", "bytes", "None", "Any", "complex"}


def _as_struct(plain: Any, type_name: str) -> Any:
    """For a remote method known only by its debug JSON: a JSON object meant
    for a struct argument becomes a dataclass of that name, so that gob sends
    a struct (a dict would go as a map).  Top-level scalar fields only."""
    if not (isinstance(plain, dict) and type_name.isidentifier() and type_name not in _NOT_STRUCTS):
        return plain
    if not all(isinstance(k, str) and k.isidentifier() and type(v) in (bool, int, float, str) for k, v in plain.items()):
        return plain
    cls = dataclasses.make_dataclass(type_name, [(k, type(v)) for k, v in plain.items()])
    return cls(**plain)


def _short(seqs: list[int], limit: int = 20) -> str:
    text = " ".join(map(str, seqs[:limit]))
    return text + (" …" if len(seqs) > limit else "")


def _wire_html(exchange: Any) -> str:
    if exchange is None:
        return "<i>(no wire tap on this client)</i>"
    return f'<pre style="font-size:85%;line-height:1.25">{html.escape(exchange.annotate())}</pre>'


def _form_fields(arg_type: Any) -> dict[str, w.Widget]:
    """One input per field of a dataclass argument; ``{"": widget}`` for a simple argument."""
    tp = values.strip_annotated(arg_type)
    if tp is None:
        return {}
    simple = _input_for(tp, "args", values.zero_value(tp))
    if simple is not None:
        return {"": simple}
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return {}
    hints = typing.get_type_hints(tp, include_extras=True)
    zero = values.zero_value(tp)
    found = {}
    for f in dataclasses.fields(tp):
        widget = _input_for(values.strip_annotated(hints[f.name]), f.name, getattr(zero, f.name, None))
        if widget is None:  # a nested value: edit it as JSON text
            widget = w.Text(value=json.dumps(values.to_plain(getattr(zero, f.name, None))), description=f.name)
            widget._minirpc_json = True
        found[f.name] = widget
    return found


def _input_for(tp: Any, label: str, default: Any) -> w.Widget | None:
    if tp is bool:
        return w.Checkbox(value=bool(default), description=label)
    if tp is int:
        return w.IntText(value=default or 0, description=label)
    if tp is float:
        return w.FloatText(value=default or 0.0, description=label)
    if tp is str:
        return w.Text(value=default or "", description=label)
    return None


def _example(arg_type: Any) -> Any:
    return None if arg_type is None else values.to_plain(values.zero_value(arg_type))
