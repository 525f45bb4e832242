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
4. **Repeat, and interleave.**  The same measurement run twice on a busy
   machine differs, often by more than the effect you are after.  ``rounds``
   measures several experiments in turns, a few rounds each, and reports the
   spread of p50 and p99 across rounds: a difference smaller than that spread
   is not a difference you have shown.
5. **Do not let a stall hide itself** (*coordinated omission*).  A caller that
   waits for each reply before sending the next sends nothing while the
   server stalls, so the stall shows up as one slow call instead of the many
   that real users, arriving on their own schedule, would have waited.
   ``measure_open_loop`` sends on a fixed schedule and times each call from
   when it *should* have started.

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

__all__ = ["Samples", "Rounds", "measure", "measure_batches", "measure_open_loop", "rounds", "percentile",
           "format_seconds", "Plot", "histogram", "percentiles", "compare", "summary_chart", "timeline", "rate",
           "png_bytes", "DPI"]

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


def measure_open_loop(fn: Callable[[], object], rate: float, n: int = 1000, warmup: int = 50,
                      label: str = "") -> tuple[Samples, Samples]:
    """Call ``fn()`` on a fixed schedule, ``rate`` calls a second, one at a time.

    Returns two ``Samples`` of the same calls: the *service time* (from the
    moment each call really started) and the *response time* (from the moment
    the schedule said it should start).  When a call overruns its slot the
    next ones start late; a closed-loop measurement never sees that waiting,
    the response time does -- as a user arriving on schedule would."""
    for _ in range(warmup):
        fn()
    label = label or getattr(fn, "__name__", "fn")
    service, response = Samples(f"{label}: service time"), Samples(f"{label}: response time")
    clock, interval = time.perf_counter, 1.0 / rate
    start = clock()
    for i in range(n):
        due = start + i * interval
        while (now := clock()) < due:
            time.sleep(min(due - now, 0.001) if due - now > 0.0002 else 0)
        t0 = clock()
        fn()
        t1 = clock()
        service.seconds.append(t1 - t0)
        response.seconds.append(t1 - due)
    return service, response


@dataclass
class Rounds:
    """One experiment measured in several rounds (``rounds``): one ``Samples`` per round."""

    label: str
    rounds: list[Samples] = field(default_factory=list)

    @property
    def all(self) -> Samples:
        """Every round's samples together."""
        return Samples(self.label, [x for r in self.rounds for x in r.seconds],
                       per_call=all(r.per_call for r in self.rounds))

    def spread(self, q: float = 50) -> tuple[float, float, float]:
        """(lowest, median, highest) of the rounds' ``q``-th percentiles."""
        values = sorted(r.p(q) for r in self.rounds)
        return values[0], percentile(values, 50), values[-1]

    def summary(self) -> str:
        """``label: 5 rounds of n=300  p50 48.1 µs (45.2-52 µs)  p99 97.3 µs (80-120 µs)``"""
        parts = [f"{self.label}: {len(self.rounds)} rounds of n={self.rounds[0].n}" if self.rounds
                 else f"{self.label}: no rounds"]
        for q in (50, 99):
            if self.rounds:
                lo, mid, hi = self.spread(q)
                parts.append(f"p{q} {format_seconds(mid)} ({format_seconds(lo)}-{format_seconds(hi)})")
        return "  ".join(parts)

    def overlaps(self, other: "Rounds", q: float = 50) -> bool:
        """Do the two experiments' ranges of p``q`` across rounds overlap?"""
        lo, _, hi = self.spread(q)
        other_lo, _, other_hi = other.spread(q)
        return lo <= other_hi and other_lo <= hi


def rounds(experiments: dict, rounds: int = 5, n: int = 300, warmup: int = 50) -> list[Rounds]:
    """Measure every experiment ``rounds`` times, taking turns.

    ``experiments`` maps a label to ``fn`` (one call per ``fn()``) or to
    ``(fn, size)`` when each ``fn()`` makes ``size`` calls in flight together
    (the time is then per call, and ``max(20, n // size)`` batches are timed).
    Each round runs every experiment once -- ``n`` timed calls after a short
    re-warm-up -- in an order that rotates from round to round, so a drift of
    the machine (another program, the CPU's clock) falls on all of them alike."""
    names = list(experiments)
    plans = {name: (e, 1) if callable(e) else tuple(e) for name, e in experiments.items()}
    results = {name: Rounds(name) for name in names}
    for name in names:  # a first, full warm-up
        fn, size = plans[name]
        for _ in range(max(warmup // size, 2)):
            fn()
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn, size = plans[name]
            if size == 1:
                samples = measure(fn, n=n, warmup=max(warmup // 10, 1), label=name)
            else:
                samples = measure_batches(fn, size, n=max(20, n // size), warmup=2, label=name)
            results[name].rounds.append(samples)
    return [results[name] for name in names]


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


def _log_axis(axis, lo: float = 1.0, hi: float = 10.0) -> None:
    """Log scale labelled in plain numbers (no 3x10^1 clutter): 1, 2, 5, 10, 20, 50 ... over a
    short range, 1, 10, 100 ... over a long one (``lo``..``hi``), so labels never collide."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if hi / max(lo, 1e-9) < 300 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _legend(samples: Samples) -> str:
    per = "" if samples.per_call else " (per call, batched)"
    return f"{samples.label}{per}: n={samples.n}, p50 {format_seconds(samples.p50)}, p99 {format_seconds(samples.p99)}"


def _draw_histogram(ax, all_samples: list[Samples], bins: int, density: bool = True) -> list:
    lo = min(min(s.seconds) for s in all_samples) * 1e6
    hi = max(max(s.seconds) for s in all_samples) * 1e6
    lo, hi = max(lo, 1e-3) * 0.9, hi * 1.1
    edges = [lo * (hi / lo) ** (i / bins) for i in range(bins + 1)]  # log-spaced: the tail stays visible
    handles = []
    for i, s in enumerate(all_samples):
        colour = f"C{i}"
        weights = [1 / s.n] * s.n if density else None  # each bar: the share of this experiment's calls
        _, _, patches = ax.hist([x * 1e6 for x in s.seconds], bins=edges, weights=weights, alpha=0.55,
                                color=colour, histtype="stepfilled", edgecolor=colour)
        handles.append(patches[0])
        for q, style in ((50, "-"), (99, "--")):
            ax.axvline(s.p(q) * 1e6, color=colour, linestyle=style, linewidth=1)
    ax.set_xscale("log")
    _log_axis(ax.xaxis, lo, hi)
    ax.set_xlabel("latency (µs, log scale)")
    ax.set_ylabel("share of calls" if density else "calls")
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    if density:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole calls
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
    everything = [x for s in all_samples for x in s.seconds]
    _log_axis(ax.yaxis, min(everything) * 1e6, max(everything) * 1e6)
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


def histogram(*samples: Samples, bins: int = 50, title: str = "Latency histogram", density: bool = True) -> Plot:
    """A histogram of each ``Samples`` on log-spaced bins, p50 (solid) and p99 (dashed) marked.

    ``density``: each bar is the *share* of that experiment's calls (so a
    run of 60 calls and one of 2000 are drawn to the same scale); False
    counts calls."""
    samples = _usable(samples)
    fig, (ax,) = _figure(1, 7.0, 2.6)
    handles = _draw_histogram(ax, samples, bins, density)
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


def compare(*samples: Samples, title: str = "", bins: int = 50, density: bool = True) -> Plot:
    """Histogram (shares of calls, see ``histogram``) and percentile curve side by side:
    the lessons' standard view."""
    samples = _usable(samples)
    fig, (left, right) = _figure(2, 10.0, 2.8)
    _draw_histogram(left, samples, bins, density)
    handles = _draw_percentiles(right, samples)
    left.set_title("histogram (solid line: p50, dashed: p99)", fontsize=9)
    right.set_title("percentiles", fontsize=9)
    _finish(fig, handles, samples, title)
    return Plot(fig, title or "comparison", samples)


def summary_chart(*experiments, title: str = "Every experiment: p50 and p99") -> Plot:
    """One row per experiment (a ``Samples`` or a ``Rounds``): p50 as a filled dot, p99
    as a hollow one, on a log scale, the two figures written beside them.  For ``Rounds``
    each round is a tick and a bar spans the rounds' range, so you can see which
    differences are bigger than the noise."""
    items = [e for e in experiments if (e.rounds if isinstance(e, Rounds) else e.seconds)]
    if not items:
        raise ValueError("nothing to plot: every experiment is empty")
    fig, (ax,) = _figure(1, 10.0, 0.36 * len(items) + 1.1)
    labels, lo, hi = [], float("inf"), 0.0
    for row, item in enumerate(reversed(items)):
        rounds_ = item.rounds if isinstance(item, Rounds) else [item]
        for q, colour in ((50, "C0"), (99, "C3")):
            values = [r.p(q) * 1e6 for r in rounds_]
            lo, hi = min(lo, min(values)), max(hi, max(values))
            if len(values) > 1:
                ax.plot([min(values), max(values)], [row, row], color=colour, linewidth=4, alpha=0.3,
                        solid_capstyle="butt")
                ax.plot(values, [row] * len(values), "|", color=colour, markersize=8)
            ax.plot([percentile(values, 50)], [row], "o", markersize=7, markeredgecolor=colour,
                    markerfacecolor=colour if q == 50 else "white")
        p50 = percentile([r.p50 for r in rounds_], 50)
        p99 = percentile([r.p99 for r in rounds_], 50)
        right = max(r.p99 for r in rounds_) * 1e6
        ax.annotate(f"p50 {format_seconds(p50)}, p99 {format_seconds(p99)}", (right, row), xytext=(8, 0),
                    textcoords="offset points", va="center", fontsize=8)
        n = rounds_[0].n
        count = f"{len(rounds_)} rounds × {n}" if len(rounds_) > 1 else f"n={n}"
        per = ", per call" if not rounds_[0].per_call else ""
        labels.append(f"{item.label} ({count}{per})")
    ax.set_yticks(range(len(items)), labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(lo / 1.6, hi * 30)  # room for the figures on the right
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(subs=(1.0,)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_seconds(v * 1e-6)))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("latency, log scale (filled dot: p50, hollow: p99; ticks and bars: the rounds)", fontsize=9)
    ax.grid(True, axis="x", which="major", alpha=0.3)
    ax.set_ylim(-0.6, len(items) - 0.4)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return Plot(fig, title, [r.all if isinstance(r, Rounds) else r for r in items])


_FATE_STYLE = {"dropped": ("x", "C3"), "lost": ("x", "C3")}


def timeline(events, outcomes: dict | None = None, title: str = "What the network did to each call") -> Plot:
    """The messages of ``lossy.Network.events()``, one row per call (its seq).

    A request is drawn from when the link took it to when it was delivered
    (blue), a reply likewise (green); a dropped or lost message is a red
    cross; a duplicated one has two arrows.  ``outcomes`` (seq -> text, e.g.
    "ok" or "timeout") is written at the right of each row."""
    events = list(events)
    if not events:
        raise ValueError("no events to draw")
    t0 = min(e.time for e in events)
    sent = {e.message: e for e in events if e.what == "sent"}
    seqs = sorted({e.seq for e in events if e.seq is not None})
    rows = {seq: i for i, seq in enumerate(reversed(seqs))}
    fig, (ax,) = _figure(1, 8.0, 0.32 * len(seqs) + 1.2)
    shown, right = set(), 0.0
    for e in events:
        start = sent.get(e.message)
        if e.seq not in rows or start is None or e.what in ("sent", "duplicated"):
            continue
        y = rows[e.seq] + (0.12 if e.direction == "request" else -0.12)
        x0, x1 = (start.time - t0) * 1e3, (e.time - t0) * 1e3
        right = max(right, x1)
        colour = "C0" if e.direction == "request" else "C2"
        if e.what == "delivered":
            label = f"{e.direction} delivered"
            ax.annotate("", xy=(x1, y), xytext=(x0, y),
                        arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.2, shrinkA=0, shrinkB=0))
            ax.plot([x0], [y], "o", color=colour, markersize=3, label=None if label in shown else label)
            shown.add(label)
        else:
            label = f"{e.direction} {e.what}"
            ax.plot([x1], [y], "x", color="C3", markersize=7, mew=2, label=None if "lost" in shown else
                    "dropped or lost")
            ax.plot([x0, x1], [y, y], ":", color="C3", lw=1)
            shown.add("lost")
    ax.set_yticks(range(len(seqs)), [f"seq {seq}" + (f": {outcomes[seq]}" if outcomes and seq in outcomes
                                                      else "") for seq in reversed(seqs)], fontsize=8)
    ax.set_ylim(-0.6, len(seqs) - 0.4)
    ax.set_xlim(-0.03 * (right or 1.0), 1.04 * (right or 1.0))  # (arrows do not widen the axes by themselves)
    ax.set_xlabel("time (ms) since the first message shown")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plot = Plot(fig, title, [])
    plot.labels = [f"{len(seqs)} calls"]
    return plot


def rate(series: dict, bin: float = 0.01, title: str = "Events over time", what: str = "calls") -> Plot:
    """How many events fell in each ``bin`` seconds, one panel per series (label -> times in
    seconds from a common start), on one time axis: waves and bursts become visible."""
    if not series or not any(series.values()):
        raise ValueError("nothing to plot: no events")
    end = max(max(times) for times in series.values() if times)
    bins = max(int(end / bin) + 1, 1)
    import matplotlib.pyplot as plt  # lazily, as everywhere here

    fig, axes = plt.subplots(len(series), 1, figsize=(8.0, 1.1 * len(series) + 0.9), dpi=DPI, sharex=True,
                             squeeze=False)
    plt.close(fig)
    for i, ((label, times), (ax,)) in enumerate(zip(series.items(), axes)):
        counts = [0] * bins
        for t in times:
            counts[min(int(t / bin), bins - 1)] += 1
        ax.bar([k * bin * 1e3 for k in range(bins)], counts, width=bin * 1e3, align="edge", color=f"C{i}")
        ax.set_ylabel(what, fontsize=8)
        ax.set_title(f"{label}: {len(times)} {what}, the last at {format_seconds(max(times))}" if times else label,
                     fontsize=9, loc="left")
    axes[-1][0].set_xlabel(f"time (ms); each bar: {format_seconds(bin)}")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plot = Plot(fig, title, [])
    plot.labels = list(series)
    return plot


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
