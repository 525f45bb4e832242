"""Widgets for the lessons: a call console, one on a lossy network, a latency view.

``CallConsole`` is a small RPC workbench in a notebook cell::

    console = CallConsole(server)        # serves `server` on a listener of its own
    console                              # shows it

    CallConsole(server, "127.0.0.1:1234")                      # or dial an address
    CallConsole(debug_url, dial=lambda tap: dial_http(address, codec=tap.client_codec))

Pick ``Service.Method`` (from the server's registry, or from a remote
server's debug JSON), fill in the argument (a form built from the argument
dataclass's fields, or JSON text), and press **Call** (one synchronous call)
or **Go ×N** (N asynchronous calls in flight at once).  It shows the reply or
the error, the latency, the bytes that crossed the wire for that call (it
dials through a ``WireTap``), and a latency histogram that grows as you
click.

A console keeps working whatever the notebook does around it: given a
``Server`` it listens on a port of its own (so a lesson's clean-up, which
closes the lesson's own listener and client, leaves it alone), and when its
connection is gone it dials again on the next click.  A call that was never
sent (``ShutdownError``) is sent again on the new connection, and the reply
says so; a call lost with its connection (``ConnectionLost``) is not, since it
may have run.  ``console.close()`` closes what the console opened.

``NetworkConsole`` is a console whose calls cross a simulated network
(``minirpc.lossy``), with switches for its faults (drop, duplicate, delay,
jitter, reorder, disconnect), retries with exponential backoff and jitter,
and a timeline of what the network did to each message of the last click.

Everything they show lives in widget values on the kernel side
(``console.reply.value``, ``console.latency.value``, ``console.wire.value``,
``console.log.outputs``), so they can be driven and checked without a
browser: ``console.call_button.click()`` runs a call right there.
``live_consoles()`` lists the consoles of this process.

ipywidgets and matplotlib are imported when this module is imported; the rest
of minirpc never imports it.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import random
import time
import typing
import urllib.request
import weakref
from concurrent import futures
from dataclasses import dataclass
from typing import Any, Callable

import ipywidgets as w

from .. import client as _client
from .. import values
from ..errors import CallTimeout, ConnectionLost, ShutdownError
from . import plots
from .wiretap import WireTap

__all__ = ["CallConsole", "NetworkConsole", "LatencyView", "MethodInfo", "live_consoles"]

_CONSOLES: "weakref.WeakValueDictionary[int, CallConsole]" = weakref.WeakValueDictionary()
_numbers = itertools.count(1)


def live_consoles() -> list["CallConsole"]:
    """Every console made in this process and not yet garbage, oldest first."""
    return [console for _, console in sorted(_CONSOLES.items())]


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
        self.image.value = plots.histogram(self.samples, bins=30, title="latency of the console's calls",
                                           density=False)._repr_png_()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"LatencyView({self.samples.label!r})"  # stable, unlike a widget's repr
        return bundle


class CallConsole:
    """Pick a method, fill in its argument, Call or Go ×N; see reply, latency, bytes.

    Where the calls go, in order of preference:

    * ``dial``: a function ``dial(tap) -> Client`` that connects, putting the
      ``WireTap`` ``tap`` on the client (e.g. ``codec=tap.client_codec``); the
      console calls it again whenever its connection is gone;
    * ``address``: dial that address (``network``, ``codec``);
    * a ``Server`` as ``services``: listen on a port of the console's own
      (``server.start("127.0.0.1:0", codec=codec)``) and dial it;
    * ``client``: a client you made (it cannot be dialled again).
    """

    def __init__(self, services: Any, address: str | None = None, *, dial: Callable[[Any], Any] | None = None,
                 client: Any = None, tap: WireTap | None = None, codec: Any = None, network: str = "tcp",
                 timeout: float = 5.0, go_count: int = 10, method: str | None = None):
        self.methods = methods_of(services)
        if not self.methods:
            raise ValueError("no methods to call")
        self.timeout = timeout
        self.codec = codec
        self.serving = None  # the listener the console started, if it started one
        if dial is None and client is None:
            if address is None:
                if not hasattr(services, "start"):
                    raise ValueError("give the server's address, a dial function, or a Server to listen for")
                self.serving = services.start("127.0.0.1:0", codec=codec)
                address = self.serving.address
            dial = self._dialler(network, address, codec, timeout)
        self._dial = dial
        self.client, self.tap = client, tap
        self.reconnects = 0  # how often the console dialled again
        self._broken = False  # the connection broke under a call: dial again before the next
        self.history: list[dict] = []  # one entry per finished call, oldest first
        self.last_batch: dict = {}
        if self.client is None:
            self._connect()

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
        self.box = w.VBox(self._layout())
        self._build_form()
        _CONSOLES[next(_numbers)] = self

    @staticmethod
    def _dialler(network: str, address: str, codec: Any, timeout: float) -> Callable[[Any], Any]:
        def dial(tap: WireTap | None) -> Any:
            return _client.dial(network, address, codec=tap.client_codec if tap else codec, timeout=timeout)
        return dial

    def _layout(self) -> list:
        return [
            w.HBox([self.method, self.signature]),
            self.as_json, self.form,
            w.HBox([self.call_button, self.go_button, self.go_count]),
            self.reply, self.latency,
            w.Accordion([self.wire], titles=("bytes on the wire (last call)",), selected_index=0),
            self.view.box, self.log,
        ]

    # -- the connection ------------------------------------------------------

    def _connect(self) -> None:
        """Dial (again): a fresh client and a fresh tap (a tap follows one connection)."""
        if self._dial is None:
            raise ShutdownError("connection is shut down (this console was given a client: "
                                "make a new console, or give it dial=)")
        try:
            tap = WireTap(self.codec)
        except ValueError:  # a codec of your own that is not a WireFormat: no tap
            tap = None
        old = self.client
        self.client, self.tap, self._broken = self._dial(tap), tap, False
        if old is not None:
            self.reconnects += 1
            try:
                old.close()
            except Exception:
                pass  # closed already

    def _ready(self) -> str:
        """Dial again if the connection broke; the note to show when it did."""
        if self._broken:
            self._connect()
            return " (the connection had broken: dialled again)"
        return ""

    def _note_failure(self, error: BaseException) -> None:
        if isinstance(error, (ConnectionLost, ShutdownError)):
            self._broken = True  # dial again on the next click

    # -- arguments ----------------------------------------------------------

    def _build_form(self) -> None:
        info = self.methods[self.method.value]
        self.signature.value = f"<code>{html.escape(info.signature)}</code>"
        self.fields = _form_fields(info.arg_type)
        if info.arg_type is None or not self.fields:  # a remote method, or an argument with no simple form
            self.args_json.value = json.dumps(_example(info.arg_type, info.arg_type_name))
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
        if (ready := self._prepare()) is None:
            return
        info, args, note = ready
        self._call_note = ""
        reply, error, seconds, exchange = self._call(info, args)
        if isinstance(error, ShutdownError) and self._dial is not None:
            # Shut down before it was sent (the client was closed): sending it again is safe.
            try:
                self._connect()
            except Exception as e:
                error = _cannot_dial(e)
            else:
                note = " (the connection had been shut down: dialled again and sent it)"
                reply, error, seconds, exchange = self._call(info, args)
        self._note_failure(error)
        self._show(info.name, args, reply, error, seconds, exchange, self._call_note + note)

    def _prepare(self) -> tuple[MethodInfo, Any, str] | None:
        """Before a click's calls: (the method, its arguments, a note on the connection), or None when
        something is wrong already (bad arguments, a closed console, a server it cannot dial), shown."""
        info, args = self.methods[self.method.value], None
        try:
            args = self.args()
            if self.closed:
                raise ShutdownError("this console is closed")
        except (ValueError, ShutdownError) as e:
            self._show(info.name, args, None, e, None)
            return None
        try:
            return info, args, self._ready()
        except Exception as e:
            self._show(info.name, args, None, _cannot_dial(e), None)
            return None

    def _call(self, info: MethodInfo, args: Any) -> tuple[Any, BaseException | None, float, Any]:
        """One ``client.call``: (reply, error, seconds, the exchange that crossed the wire or None)."""
        before = self.tap.last() if self.tap is not None else None
        t0 = time.perf_counter()
        try:
            reply, error = self.client.call(info.name, args, reply_type=info.reply_type, timeout=self.timeout), None
        except Exception as e:  # a failed call is a result to show, not a crash
            reply, error = None, e
        seconds = time.perf_counter() - t0
        exchange = self.tap.last() if self.tap is not None else None
        return reply, error, seconds, (None if exchange is before else exchange)

    def _on_go(self, _button: Any = None) -> None:
        if (ready := self._prepare()) is None:
            return
        info, args, note = ready
        n = self.go_count.value
        batch = self._go(info, args, n)
        if all(isinstance(c.error, ShutdownError) for c in batch[0]) and self._dial is not None:
            try:  # none was sent: dial again and send them
                self._connect()
            except Exception as e:
                return self._show(info.name, args, None, _cannot_dial(e), None)
            note = " (the connection had been shut down: dialled again and sent them)"
            batch = self._go(info, args, n)
        calls, finished, total = batch
        failed = [c for c in calls if not c.done() or c.error is not None]
        latencies = [done for _, done in finished]
        order = [seq for seq, _ in finished]
        self.last_batch = {"calls": calls, "completion_order": order, "seconds": total}
        first_error = next((c.error for c in failed if c.done()), None)
        for c in failed:
            if c.done():
                self._note_failure(c.error)
        shown = calls[-1]
        text = f"Go ×{n}: {n - len(failed)} ok, {len(failed)} failed"
        if first_error is not None:
            text += f" (first error: {type(first_error).__name__}: {first_error})"
        elif shown.done():
            text += f"; last reply: {shown.reply!r}"
        self.reply.value = text + note
        self.reply.style.text_color = "green" if not failed else "#b00"
        self.latency.value = (f"all {n} done in {plots.format_seconds(total)} "
                              f"({plots.format_seconds(total / n)} per call); replies arrived as seq {_short(order)}")
        exchange = self.tap.get(shown) if self.tap is not None and shown.seq is not None else None
        self.wire.value = _wire_html(exchange, self.tap is not None)
        done_at = dict(finished)
        self.history.extend({"method": info.name, "args": args, "reply": c.reply, "error": c.error,
                             "seconds": done_at.get(c.seq)} for c in calls)
        self.log.append_stdout(f"{text}{note}\n")
        if latencies:
            self.view.add(*latencies)
        self._after_batch(calls)

    def _go(self, info: MethodInfo, args: Any, n: int) -> tuple[list, list, float]:
        """N ``client.go`` calls, waited for: (calls, [(seq, seconds to reply)], total seconds)."""
        # (seq, seconds) of each call that succeeded, appended by whichever thread completed it
        # (list.append is atomic in CPython)
        finished: list[tuple[int, float]] = []
        t0 = time.perf_counter()

        def done(call: Any) -> None:
            if call.error is None:
                finished.append((call.seq, time.perf_counter() - t0))

        calls = []
        for _ in range(n):
            call = self.client.go(info.name, args, reply_type=info.reply_type, timeout=self.timeout)
            call.add_done_callback(done)
            calls.append(call)
        futures.wait(calls, timeout=self.timeout + 1)
        return calls, finished, time.perf_counter() - t0

    def _after_batch(self, calls: list) -> None:
        """Called after each Go ×N (the network console draws its timeline here)."""

    def _show(self, name: str, args: Any, reply: Any, error: BaseException | None, seconds: float | None,
              exchange: Any = None, note: str = "") -> None:
        if error is None:
            self.reply.value = f"reply: {reply!r}{note}"
            self.reply.style.text_color = "green"
        else:
            self.reply.value = f"error: {type(error).__name__}: {error}{note}"
            self.reply.style.text_color = "#b00"
        self.latency.value = "" if seconds is None else f"latency: {plots.format_seconds(seconds)}"
        self.wire.value = _wire_html(exchange, self.tap is not None)
        self.history.append({"method": name, "args": args, "reply": reply, "error": error, "seconds": seconds})
        self.log.append_stdout(f"{name}({args!r}) -> {self.reply.value}\n")
        if seconds is not None and args is not None and error is None:
            self.view.add(seconds)

    # -- display and clean-up ----------------------------------------------

    closed = False

    def close(self) -> None:
        """Close what the console opened: its client and its listener (a client you passed in stays open)."""
        self.closed = True
        if self._dial is not None and self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass  # closed already
        if self.serving is not None:
            self.serving.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = self.box._repr_mimebundle_(**kwargs)
        count = f"{len(self.methods)} method{'s' if len(self.methods) != 1 else ''}"
        bundle["text/plain"] = f"{type(self).__name__}({count}: {', '.join(sorted(self.methods))})"
        return bundle


class NetworkConsole(CallConsole):
    """A call console whose calls cross a simulated network (``minirpc.lossy``).

    ::

        console = NetworkConsole(server, lossy.Network(seed=1))   # the console's own network
        console                                    # sliders for the faults, Call, Go ×N
        console.network.set(drop=0.3)              # ... or set them from code

    The console puts ``server`` on ``network`` (which starts a listener on it)
    and closes the network when it is closed, so give it a network of its own.

    Every call has a ``timeout`` (the network may lose it).  With ``retries``
    above 0 a call that timed out is sent again after an exponential backoff
    with full jitter -- a sleep of ``uniform(0, min(cap, base × 2^attempt))``
    -- as a *new* call: whether that is safe depends on the method (is it
    idempotent?).  After each click the timeline shows what the network did
    to every message of it, and the counters what it did so far."""

    def __init__(self, server: Any, network: Any, *, codec: Any = None, timeout: float = 0.5, retries: int = 0,
                 backoff: float = 0.02, backoff_cap: float = 0.5, go_count: int = 10, method: str | None = None):
        self.network = network  # a minirpc.lossy.Network (not imported here: teaching sits beside lossy)
        self.network.add_server("server", server, codec=codec)
        self.backoff, self.backoff_cap = backoff, backoff_cap
        self._random = random.Random(network.seed)  # the backoff's jitter, repeatable like the network's faults
        self._call_started = 0.0
        slider = dict(min=0.0, max=1.0, step=0.05, readout_format=".2f", continuous_update=False,
                      style={"description_width": "90px"}, layout=w.Layout(width="300px"))
        self.drop = w.FloatSlider(description="drop", **slider)
        self.duplicate = w.FloatSlider(description="duplicate", **slider)
        self.reorder = w.FloatSlider(description="reorder", **slider)
        ms = dict(min=0, max=200, step=1, continuous_update=False, style={"description_width": "90px"},
                  layout=w.Layout(width="300px"))
        self.delay_ms = w.IntSlider(description="delay (ms)", **ms)
        self.jitter_ms = w.IntSlider(description="jitter (ms)", **ms)
        self.disconnected = w.ToggleButton(value=False, description="disconnect the server", icon="unlink",
                                           tooltip="network.disconnect('server'): every message to or from it is lost")
        self.perfect = w.Button(description="perfect network", tooltip="network.reliable()")
        self.retries = w.BoundedIntText(value=retries, min=0, max=10, description="retries",
                                        layout=w.Layout(width="150px"))
        self.timeline = w.Image(format="png", layout=w.Layout(width="640px"))
        self.counters = w.HTML()
        for widget, name, scale in ((self.drop, "drop", 1), (self.duplicate, "duplicate", 1),
                                    (self.reorder, "reorder", 1), (self.delay_ms, "delay", 1e-3),
                                    (self.jitter_ms, "jitter", 1e-3)):
            widget.observe(lambda change, name=name, scale=scale: self.network.set(**{name: change["new"] * scale}),
                           names="value")
        self.disconnected.observe(lambda change: (self.network.disconnect if change["new"] else
                                                  self.network.reconnect)("server"), names="value")
        self.perfect.on_click(lambda _button: self.set_faults())
        super().__init__(server, dial=self._dial_through_network, codec=codec, timeout=timeout,
                         go_count=go_count, method=method)

    def _dial_through_network(self, tap: WireTap | None) -> Any:
        return self.network.dial("server", codec=tap.format if tap else self.codec,
                                 taps=tap.client_taps if tap else ())

    def set_faults(self, *, drop: float = 0.0, duplicate: float = 0.0, reorder: float = 0.0, delay: float = 0.0,
                   jitter: float = 0.0, disconnected: bool = False) -> None:
        """Move the switches (delays in seconds); no arguments: a perfect network."""
        self.network.reliable()
        self.drop.value, self.duplicate.value, self.reorder.value = drop, duplicate, reorder
        self.delay_ms.value, self.jitter_ms.value = round(delay * 1000), round(jitter * 1000)
        self.disconnected.value = disconnected

    def _layout(self) -> list:
        faults = w.VBox([w.HTML("<b>the network</b>"),
                         w.HBox([w.VBox([self.drop, self.duplicate, self.reorder]),
                                 w.VBox([self.delay_ms, self.jitter_ms, w.HBox([self.disconnected, self.perfect])])]),
                         w.HBox([self.retries, w.HTML(f"&nbsp;a call that times out ({self.timeout:g} s) is sent "
                                                      "again after a backoff with jitter")])])
        return [faults, *super()._layout()[:-2],
                w.Accordion([w.VBox([self.timeline, self.counters])],
                            titles=("what the network did (last click)",), selected_index=0),
                self.view.box, self.log]

    # -- calling, with retries, and the timeline of each click ---------------

    def _call(self, info: MethodInfo, args: Any) -> tuple[Any, BaseException | None, float, Any]:
        since, t0, attempts = self.network.now(), time.perf_counter(), []
        outcomes = {}
        for attempt in range(self.retries.value + 1):
            reply, error, _, exchange = super()._call(info, args)
            attempts.append("ok" if error is None else type(error).__name__)
            if exchange is not None:  # the tap knows the attempt's seq
                outcomes[exchange.seq] = attempts[-1]
            if not isinstance(error, CallTimeout) or attempt == self.retries.value:
                break
            time.sleep(self._random.uniform(0, min(self.backoff_cap, self.backoff * 2 ** attempt)))
        self._call_note = f" (after {len(attempts)} attempts: {', '.join(attempts)})" if len(attempts) > 1 else ""
        self._draw(since, outcomes)
        return reply, error, time.perf_counter() - t0, exchange

    def _go(self, info: MethodInfo, args: Any, n: int) -> tuple[list, list, float]:
        self._call_started = self.network.now()
        return super()._go(info, args, n)

    def _after_batch(self, calls: list) -> None:
        self._draw(self._call_started, {c.seq: "ok" if c.error is None else type(c.error).__name__
                                        for c in calls if c.done() and c.seq is not None})

    def _draw(self, since: float, outcomes: dict) -> None:
        events = [e for e in self.network.events(since=since) if e.seq in outcomes]
        self.counters.value = f"<pre style='font-size:80%'>{html.escape(self.network.report())}</pre>"
        if events:
            self.timeline.value = plots.timeline(events, outcomes=outcomes,
                                                 title="what the network did to the last click's calls")._repr_png_()

    def close(self) -> None:
        """Close the console's client and its network (the network's listener on the server too)."""
        super().close()
        self.network.close()


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


def _cannot_dial(error: BaseException) -> ShutdownError:
    return ShutdownError(f"cannot dial the server again ({type(error).__name__}: {error}): is it still running? "
                         "Run the notebook again from the top")


def _wire_html(exchange: Any, tapped: bool = True) -> str:
    if not tapped:
        return "<i>(no wire tap on this client)</i>"
    if exchange is None:
        return "<i>(no bytes crossed the wire for this call)</i>"
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


_REMOTE_EXAMPLES = {"int": 0, "float": 0.0, "str": "", "bool": False, "bytes": ""}


def _example(arg_type: Any, type_name: str = "") -> Any:
    """A value to start editing from: the zero value, or for a method known only by name, a
    guess from its type's name (``{}`` for a struct, whose fields the debug page does not list)."""
    if arg_type is not None:
        return values.to_plain(values.zero_value(arg_type))
    if type_name in _REMOTE_EXAMPLES:
        return _REMOTE_EXAMPLES[type_name]
    return {} if type_name.isidentifier() and type_name not in _NOT_STRUCTS else None
