"""Teaching aids used by the lessons in ``notebooks/``.

* ``show_source(obj)``  -- minirpc's real source, highlighted, numbered and
  linked (``teaching.source``; needs nothing, uses pygments when present).
* ``WireTap``           -- a codec factory that records the exact bytes of
  every call (``teaching.wiretap``; standard library only).
* ``plots``             -- measuring latency properly and plotting it
  (``teaching.plots``; matplotlib is imported only when a plot is drawn).
* ``CallConsole``, ``NetworkConsole``, ``LatencyView`` -- ipywidgets for
  calling a server by clicking, directly or across a simulated lossy network
  (``teaching.widgets``; imported on first use, needs ipywidgets).

``import minirpc`` never imports this package, and importing this package
needs neither ipywidgets nor matplotlib.
"""

from __future__ import annotations

from typing import Any

from . import plots
from .source import Source, show_source
from .wiretap import Exchange, WireTap, hexdump, side_by_side

__all__ = ["show_source", "Source", "WireTap", "Exchange", "hexdump", "side_by_side", "plots",
           "CallConsole", "NetworkConsole", "LatencyView", "live_consoles"]


def __getattr__(name: str) -> Any:  # the widgets only when asked for: they need ipywidgets
    if name in ("CallConsole", "NetworkConsole", "LatencyView", "live_consoles", "widgets"):
        import importlib

        widgets = importlib.import_module(".widgets", __name__)  # not "from . import": that asks __getattr__ again
        return widgets if name == "widgets" else getattr(widgets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
