"""Raster plots of spike files (extra ``plot``: matplotlib), safe on millions of spikes.

The raster is drawn from at most ``max_points`` spikes (a uniform random subsample with a fixed seed when the window
holds more, rasterized in the vector output), while the population rate histogram beneath it counts every spike. The
file is read block by block, so memory is bounded by ``max_points`` and the block size, never by the file.
"""
from __future__ import annotations

import math
import os

import numpy as np

from engine.io.spikefile import SpikeFileReader

__all__ = ["raster_plot"]

#: Bounds that keep a mistyped option from allocating without limit: the image is 10 x 6 inches, so 1200 dpi is
#: 12000 x 7200 pixels (350 MB); a rate histogram of more bins than that has more bins than pixels.
_MAX_DPI = 1200
_MAX_BINS = 100_000
_COLOURS = ["#1f4e9c", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d", "#d35400"]


def _require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install 'pond[plot]'") from None
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure


def raster_plot(path, out, *, population: str | None = None, trial: int = 0, t_start: float | None = None,
                t_stop: float | None = None, max_points: int = 200_000, bin_ms: float | None = None,
                dpi: int = 150, seed: int = 0) -> dict:
    """Save a spike raster with the population rate histogram beneath it.

    Parameters
    ----------
    path : str or os.PathLike
        Spike file (see :mod:`engine.io.spikefile`).
    out : str or os.PathLike
        Image file; the format follows the extension (png, pdf, svg, ...).
    population : str or None, default=None
        One population, or all of them stacked (ids offset by the sizes of the populations above).
    trial : int, default=0
    t_start, t_stop : float or None
        Window (ms); defaults: 0 and the recorded duration (else the last spike).
    max_points : int, default=200000
        Most spikes drawn in the raster (>= 1); more are subsampled uniformly at random.
    bin_ms : float or None
        Histogram bin (ms), > 0, and at most 100 000 bins in the window; default: window / 200, at least dt.
    dpi : int, default=150
        Image resolution, 1 <= dpi <= 1200.
    seed : int, default=0
        Seed of the subsampling.

    Returns
    -------
    summary : dict
        ``n_spikes`` (in the window), ``n_plotted``, ``t_start``, ``t_stop``, ``bin_ms``, ``out``.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points = {max_points!r} is not allowed; it must be an integer >= 1")
    if bin_ms is not None and not (isinstance(bin_ms, (int, float)) and math.isfinite(bin_ms) and bin_ms > 0):
        raise ValueError(f"bin_ms = {bin_ms!r} is not allowed; it must be a finite number > 0")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or not 1 <= dpi <= _MAX_DPI:
        raise ValueError(f"dpi = {dpi!r} is not allowed; it must be an integer from 1 to {_MAX_DPI} (the image is "
                         f"10 x 6 inches)")
    if t_start is not None and t_stop is not None and t_stop < t_start:
        raise ValueError(f"t_stop = {t_stop} ms is before t_start = {t_start} ms")
    out = os.fspath(out)
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"cannot write {out!r}: directory {out_dir!r} does not exist")
    Figure = _require_matplotlib()
    rng = np.random.default_rng(seed)
    with SpikeFileReader(path) as r:
        pops = r.populations if population is None else [population]
        attrs = r.attrs
        info_t = None
        if t_stop is None:
            info_t = attrs.get("duration_ms") if r.complete else attrs.get("t_recorded_ms") or attrs.get("duration_ms")
        a = 0.0 if t_start is None else float(t_start)
        sizes = {name: r.size(name) for name in pops}
        stop = t_stop
        if t_stop is not None:
            b = float(t_stop)
        elif info_t:
            b = float(info_t)
        else:  # foreign file without duration: up to the last spike in the window
            b = a
            for name in pops:
                for t, _ in r.iter_blocks(name, trial, t_start, None):
                    b = max(b, float(t.max()))
            b = b if b > a else a + 1.0
        stop = t_stop  # None: every spike from a on (a spike at exactly b lands in the last, closed, bin)
        if b <= a:
            raise ValueError(f"empty time window: t_start = {a} ms, t_stop = {b} ms")
        if bin_ms is None:
            dt = attrs.get("dt_ms") or 0.0
            bin_ms = max((b - a) / 200.0, float(dt))
        elif (b - a) / bin_ms > _MAX_BINS:
            raise ValueError(f"bin_ms = {bin_ms:g} is not allowed for the {b - a:g} ms window: it makes "
                             f"{(b - a) / bin_ms:.3g} bins, at most {_MAX_BINS} are allowed (bin_ms >= "
                             f"{(b - a) / _MAX_BINS:g})")
        edges = np.arange(a, b + bin_ms, bin_ms)
        if edges[-1] < b:
            edges = np.append(edges, b)
        edges = edges[edges <= b + 1e-12 * max(1.0, abs(b))]
        if edges.size < 2:
            edges = np.array([a, b])
        counts = {name: r.count(name, trial, a, stop) for name in pops}
        total = sum(counts.values())
        keep_p = min(1.0, max_points / total) if total else 1.0
        raster, hists = {}, {}
        for name in pops:
            xs, ys = [], []
            h = np.zeros(edges.size - 1, dtype=np.int64)
            for t, ids in r.iter_blocks(name, trial, a, stop):
                h += np.histogram(t, bins=edges)[0]
                if keep_p < 1.0:
                    m = rng.random(t.size) < keep_p
                    t, ids = t[m], ids[m]
                xs.append(t)
                ys.append(ids)
            raster[name] = (np.concatenate(xs) if xs else np.empty(0), np.concatenate(ys) if ys else np.empty(0))
            hists[name] = h

    fig = Figure(figsize=(10, 6), dpi=dpi, layout="constrained")
    gs = fig.add_gridspec(2, 1, height_ratios=[3, 1])
    ax = fig.add_subplot(gs[0])
    axr = fig.add_subplot(gs[1], sharex=ax)
    offset = 0
    n_plotted = 0
    n_neurons = sum(sizes.values())
    ms = 2.0 if keep_p >= 1.0 and total < 20_000 else 0.6
    ticks, labels = [], []
    for k, name in enumerate(pops):
        colour = _COLOURS[k % len(_COLOURS)]
        t, ids = raster[name]
        n_plotted += t.size
        ax.plot(t, ids + offset, linestyle="none", marker=".", markersize=ms, markeredgewidth=0, color=colour,
                rasterized=True, label=name)
        widths = np.diff(edges) * 1e-3
        rate = hists[name] / (sizes[name] * widths)
        axr.stairs(rate, edges, color=colour, label=name)
        ticks.append(offset + sizes[name] / 2)
        labels.append(name)
        offset += sizes[name]
        if k < len(pops) - 1:
            ax.axhline(offset - 0.5, color="0.8", linewidth=0.5)
    ax.set_xlim(a, b)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_ylabel("neuron")
    if len(pops) > 1:
        sec = ax.secondary_yaxis("right")
        sec.set_yticks(ticks, labels)
    shown = "" if n_plotted == total else f", {n_plotted:,} drawn"
    ax.set_title(f"{os.path.basename(os.fspath(path))}, trial {trial}: {total:,} spikes{shown}", fontsize=10)
    ax.tick_params(labelbottom=False)
    axr.set_xlabel("time (ms)")
    axr.set_ylabel("rate (Hz)")
    if len(pops) > 1:
        axr.legend(loc="upper right", fontsize=8, ncol=len(pops), framealpha=0.8)
    try:
        fig.savefig(out)
    except ValueError as e:  # unknown extension
        raise ValueError(f"cannot save plot {out!r}: {e}") from None
    return {"n_spikes": int(total), "n_plotted": int(n_plotted), "t_start": a, "t_stop": b, "bin_ms": float(bin_ms),
            "out": out}
