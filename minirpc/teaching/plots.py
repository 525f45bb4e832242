"""Latency, measured properly and plotted honestly.

Three habits make a latency number mean something:

1. **Warm up first.**  The first calls pay for connecting, importing, filling
   caches and (for gob) sending type definitions.  ``measure`` runs
   ``warmup`` calls and throws their timings away.
2. **Look at the distribution, not the mean.**  Latency has a long tail: one
   scheduling hiccup of 5 ms among a thousand 50 µs calls moves the mean by
   10 %, and the mean describes no call that really happened.  Report
   percentiles: p50 (the typical call) and p99 (one call in a hundred is
   slower than this).
3. **Say how many samples.**  A p99 from 100 samples is one sample.  Every
   plot here prints ``n`` next to p50 and p99.

::

    from minirpc.teaching import plots
    sync = plots.measure(lambda: client.call("Arith.Multiply", args), n=2000, label="call")
    print(sync.summary())             # call: n=2000  p50 48.1 µs  p99 97.3 µs
    plots.compare(sync, other)        # histogram + percentile curve, side by side

The plot functions return a ``Plot``: Jupyter shows it as a small PNG (drawn
at ``DPI`` and reduced to a 64-colour palette when Pillow is there, so the
lessons stay small), ``repr()`` names what is plotted, and ``.figure`` is the
matplotlib ``Figure`` for your own changes.  matplotlib is imported only when
a plot is drawn, and no figure is left open in pyplot.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

__all__ = ["Samples", "measure", "measure_batches", "percentile", "format_seconds",
           "Plot", "histogram", "percentiles", "compare", "png_bytes", "DPI"]

DPI = 80  # small images keep notebooks small


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation; ``values`` need not be sorted."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def format_seconds(seconds: float) -> str:
    """``0.0000481`` -> ``48.1 µs``; ``0.0123`` -> ``12.3 ms``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


@dataclass
class Samples:
    """Latencies of one experiment, in seconds, with a label for legends."""

    label: str
    seconds: list[float] = field(default_factory=list)
    per_call: bool = True  # False when each sample covers a batch (see measure_batches)

    @property
    def n(self) -> int:
        return len(self.seconds)

    def p(self, q: float) -> float:
        return percentile(self.seconds, q)

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p99(self) -> float:
        return self.p(99)

    def summary(self) -> str:
        """``label: n=2000  p50 48.1 µs  p99 97.3 µs``"""
        if not self.seconds:
            return f"{self.label}: n=0"
        return f"{self.label}: n={self.n}  p50 {format_seconds(self.p50)}  p99 {format_seconds(self.p99)}"


def measure(fn: Callable[[], object], n: int = 1000, warmup: int = 100, label: str = "",
            budget: float | None = None) -> Samples:
    """Time ``n`` calls of ``fn()`` one after another, after ``warmup`` untimed ones.

    ``budget`` (seconds) stops early once that much time was spent timing, so
    a slow setting cannot make a lesson cell run for minutes."""
    for _ in range(warmup):
        fn()
    samples = Samples(label or getattr(fn, "__name__", "fn"))
    clock = time.perf_counter
    stop = None if budget is None else clock() + budget
    for _ in range(n):
        t0 = clock()
        fn()
        t1 = clock()
        samples.seconds.append(t1 - t0)
        if stop is not None and t1 > stop:
            break
    return samples


def measure_batches(batch: Callable[[], object], size: int, n: int = 100, warmup: int = 10,
                    label: str = "") -> Samples:
    """Time ``n`` runs of ``batch()`` (which makes ``size`` calls) and record
    the time *per call*: how fast calls go when many are in flight."""
    raw = measure(batch, n=n, warmup=warmup, label=label)
    return Samples(raw.label, [s / size for s in raw.seconds], per_call=False)


# ---------------------------------------------------------------- plots


class Plot:
    """A drawn figure: displayed as a compact PNG, described by its ``repr``."""

    def __init__(self, figure, title: str, samples: Iterable[Samples]):
        self.figure, self.title = figure, title
        self.labels = [f"{s.label} (n={s.n})" for s in samples]

    def __repr__(self) -> str:
        return f"<Plot {self.title!r}: {'; '.join(self.labels)}>"

    def _repr_png_(self) -> bytes:
        return png_bytes(self.figure)

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(png_bytes(self.figure))


def _figure(ncols: int, width: float, height: float):
    import matplotlib.pyplot as plt  # lazily: `import minirpc` never needs matplotlib

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=DPI, squeeze=False)
    plt.close(fig)  # pyplot forgets it: the cell's result displays it exactly once
    return fig, list(axes[0])


def _log_axis(axis) -> None:
    """Log scale labelled 1, 2, 5, 10, 20, 50 ... in plain numbers (no 3x10^1 clutter)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend(samples: Samples) -> str:
    per = "" if samples.per_call else " (per call, batched)"
    return f"{samples.label}{per}: n={samples.n}, p50 {format_seconds(samples.p50)}, p99 {format_seconds(samples.p99)}"


def _draw_histogram(ax, all_samples: list[Samples], bins: int) -> list:
    lo = min(min(s.seconds) for s in all_samples) * 1e6
    hi = max(max(s.seconds) for s in all_samples) * 1e6
    lo, hi = max(lo, 1e-3) * 0.9, hi * 1.1
    edges = [lo * (hi / lo) ** (i / bins) for i in range(bins + 1)]  # log-spaced: the tail stays visible
    handles = []
    for i, s in enumerate(all_samples):
        colour = f"C{i}"
        _, _, patches = ax.hist([x * 1e6 for x in s.seconds], bins=edges, alpha=0.55, color=colour)
        handles.append(patches[0])
        for q, style in ((50, "-"), (99, "--")):
            ax.axvline(s.p(q) * 1e6, color=colour, linestyle=style, linewidth=1)
    ax.set_xscale("log")
    _log_axis(ax.xaxis)
    ax.set_xlabel("latency (µs, log scale)")
    ax.set_ylabel("calls")
    return handles


def _draw_percentiles(ax, all_samples: list[Samples]) -> list:
    # x is "how many nines": 0 -> p0, 1 -> p90, 2 -> p99, 3 -> p99.9
    handles = []
    for i, s in enumerate(all_samples):
        ordered = sorted(s.seconds)
        n = len(ordered)
        xs = [-math.log10(1 - (k + 0.5) / n) for k in range(n)]
        (line,) = ax.plot(xs, [x * 1e6 for x in ordered], color=f"C{i}")
        handles.append(line)
        for q in (50, 99):
            ax.plot([-math.log10(1 - q / 100)], [s.p(q) * 1e6], "o", color=f"C{i}", markersize=4)
    ticks = [0, math.log10(2), 1, 2, 3]
    ax.set_xticks(ticks, ["p0", "p50", "p90", "p99", "p99.9"])
    ax.set_xlim(0, max(3.0, ax.get_xlim()[1]))
    ax.set_yscale("log")
    _log_axis(ax.yaxis)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (µs, log scale)")
    ax.grid(True, which="major", alpha=0.3)
    return handles


def _finish(fig, handles: list, samples: list[Samples], title: str) -> None:
    """One legend under the axes (n, p50, p99 for every experiment), then the layout."""
    width, height = fig.get_size_inches()
    line = 0.17  # inches per legend entry at fontsize 8
    fig.set_size_inches(width, height + line * len(samples))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.legend(handles, [_legend(s) for s in samples], loc="lower center", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, (line * len(samples) + 0.1) / (height + line * len(samples)), 1, 1))


def _usable(samples: Iterable[Samples]) -> list[Samples]:
    kept = [s for s in samples if s.seconds]
    if not kept:
        raise ValueError("nothing to plot: every Samples is empty")
    return kept


def histogram(*samples: Samples, bins: int = 50, title: str = "Latency histogram") -> Plot:
    """A histogram of each ``Samples`` on log-spaced bins, p50 (solid) and p99 (dashed) marked."""
    samples = _usable(samples)
    fig, (ax,) = _figure(1, 7.0, 2.6)
    handles = _draw_histogram(ax, samples, bins)
    ax.set_title("solid line: p50, dashed: p99", fontsize=8)
    _finish(fig, handles, samples, title)
    return Plot(fig, title, samples)


def percentiles(*samples: Samples, title: str = "Latency by percentile") -> Plot:
    """Latency against percentile (p0 ... p99.9): the tail, stretched out."""
    samples = _usable(samples)
    fig, (ax,) = _figure(1, 7.0, 2.6)
    handles = _draw_percentiles(ax, samples)
    _finish(fig, handles, samples, title)
    return Plot(fig, title, samples)


def compare(*samples: Samples, title: str = "", bins: int = 50) -> Plot:
    """Histogram and percentile curve side by side: the lessons' standard view."""
    samples = _usable(samples)
    fig, (left, right) = _figure(2, 10.0, 2.8)
    _draw_histogram(left, samples, bins)
    handles = _draw_percentiles(right, samples)
    left.set_title("histogram (solid line: p50, dashed: p99)", fontsize=9)
    right.set_title("percentiles", fontsize=9)
    _finish(fig, handles, samples, title)
    return Plot(fig, title or "comparison", samples)


def png_bytes(fig) -> bytes:
    """A figure as compact PNG bytes: ``DPI``, and a 64-colour palette if Pillow is installed."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    try:
        from PIL import Image
    except ImportError:
        return buffer.getvalue()
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(small, format="PNG", optimize=True)
    return small.getvalue()
