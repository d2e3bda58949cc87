"""Spikes as Neo objects, and population statistics computed by Elephant.

`Neo <https://neo.readthedocs.io>`_ is the data model that the field's analysis tools share: PyNN records to it and
`Elephant <https://elephant.readthedocs.io>`_ analyses it. :func:`to_neo` turns a spike file, or a
:class:`~engine.run.simulator.Simulator`'s recorded spikes, into a :class:`neo.Block`:

- one :class:`neo.Segment` per trial (``segment.annotations["trial"]`` is the trial id),
- in each segment, one :class:`neo.SpikeTrain` per neuron of every population (times in ms, ``t_start`` 0 ms,
  ``t_stop`` the run's duration), annotated with ``population``, ``node_id`` (local, 0-based, as in the spike file)
  and ``trial``,
- one :class:`neo.Group` per population holding its spike trains of every trial.

:func:`from_neo` turns such a block back into spike arrays, and :func:`spike_statistics` computes per-population
statistics as Elephant's functions of the same names define them (``pond info --stats`` prints them).

Both work on all spikes of a population and trial at once (one sort, one split; the statistics as array reductions
over every spike train together) rather than with Python calls per spike train, and show a progress bar when a
person is watching (see :func:`engine.progress.interactive`).

Neo is optional: ``pip install 'pond[neo]'`` (installs neo and elephant). This module imports it only when a
function runs.
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Any, Sequence

import numpy as np

__all__ = ["to_neo", "from_neo", "spike_statistics", "STATISTICS"]

#: The statistics of :func:`spike_statistics`, under the names of the Elephant functions that compute them.
STATISTICS = ("mean_firing_rate", "cv", "fanofactor", "spike_contrast")


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module.split('.')[0]} is not installed; it is an optional dependency of pond: "
                          f"pip install 'pond[neo]' (installs neo and elephant)") from e


def _check_selection(what: str, value, allowed: list) -> list:
    """``value`` (None, one item or a sequence) as a list of items of ``allowed``, in the order given."""
    if value is None:
        return list(allowed)
    items = [value] if isinstance(value, (str, int, np.integer)) else list(value)
    if not items:
        raise ValueError(f"{what} = {value!r} is empty; choose from {allowed}")
    for x in items:
        if isinstance(x, (bool, np.bool_)) or x not in allowed:
            raise ValueError(f"{what} = {value!r} is not allowed: {x!r} is not one of {allowed}")
    if len(set(items)) != len(items):
        raise ValueError(f"{what} = {value!r} names an item twice")
    return [int(x) if isinstance(x, (int, np.integer)) else x for x in items]


def _check_time(name: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} = {value!r} must be a number of ms or None")
    v = float(value)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} = {value!r} is not allowed; it must be a finite time > 0 (ms)")
    return v


def _is_simulator(source) -> bool:
    return all(hasattr(source, a) for a in ("spikes", "network", "trial_ids", "t"))


def _collect_file(path: str, populations, trials, t_stop):
    """Spikes, sizes, trial ids, duration and metadata of a spike file."""
    from engine.io.spikefile import SpikeFileReader

    with SpikeFileReader(path) as r:
        pops = _check_selection("populations", populations, r.populations)
        recorded_trials, recorded = r.recorded_trials()
        trial_ids = _check_selection("trials", trials, list(range(r.n_trials))) if trials is not None else \
            recorded_trials
        unfinished = [k for k in trial_ids if k not in recorded_trials]
        if unfinished:
            raise ValueError(f"trials = {trials!r}: trial {unfinished[0]} of {path!r} did not finish (the run was "
                             f"interrupted); its finished trials are {recorded_trials}")
        attrs = r.attrs
        complete = r.complete
        n_finished = len(r.finished_trials)
        spikes = {(p, k): r.read(p, k) for p in pops for k in trial_ids}
        sizes = {p: r.size(p) for p in pops}
    last = max((float(t[-1]) for t, _ in spikes.values() if t.size), default=0.0)
    if t_stop is None:
        if recorded is None:  # a SONATA file of another tool states no duration: up to its last spike
            recorded = last if last > 0 else None
        if recorded is None:
            raise ValueError(f"{path!r} states no duration and holds no spike; pass t_stop (ms)")
        t_stop = float(recorded)
    elif last > t_stop:
        raise ValueError(f"t_stop = {t_stop:g} ms is before the last spike of {path!r} ({last:g} ms); give "
                         "t_stop >= the last spike time")
    meta = {k: attrs[k] for k in ("dt_ms", "duration_ms", "seed", "pond_version", "model_file", "created",
                                  "complete", "t_recorded_ms", "n_trials") if k in attrs}
    meta["complete"] = complete
    meta["n_trials_finished"] = n_finished
    return spikes, sizes, trial_ids, t_stop, meta, os.path.basename(path), path


def _collect_simulator(sim, populations, trials, t_stop):
    """Spikes, sizes, trial ids, duration and metadata of a Simulator's spike monitors (kept in memory)."""
    from engine.network.description import SpikeMonitor

    recorded = list(dict.fromkeys(m.source for m in sim.network.monitors if isinstance(m, SpikeMonitor)))
    if not recorded:
        raise ValueError("the simulator has no SpikeMonitor, so there are no spikes to export; add "
                         "SpikeMonitor(population) to the network")
    pops = _check_selection("populations", populations, recorded)
    trial_ids = _check_selection("trials", trials, [int(k) for k in sim.trial_ids])
    spikes = {(p, k): sim.spikes(p, trial=k) for p in pops for k in trial_ids}
    sizes = {p: int(sim.network.get(p).size) for p in pops}
    if t_stop is None:
        t_stop = float(sim.t)
        if t_stop <= 0:
            raise ValueError("the simulator has not run yet (t = 0 ms); call run() first, or pass t_stop (ms)")
    last = max((float(t[-1]) for t, _ in spikes.values() if t.size), default=0.0)
    if last > t_stop:
        raise ValueError(f"t_stop = {t_stop:g} ms is before the last recorded spike ({last:g} ms)")
    from engine._version import pond_version

    meta = {"dt_ms": float(sim.network.dt), "duration_ms": float(sim.t), "seed": sim.network.seed,
            "pond_version": pond_version(), "n_trials": int(len(sim.trial_ids))}
    return spikes, sizes, trial_ids, t_stop, meta, "pond simulation", None


def to_neo(source: Any, *, populations: str | Sequence[str] | None = None,
           trials: int | Sequence[int] | None = None, t_stop: float | None = None, progress: bool | None = None):
    """Spikes of a spike file or a simulator as a :class:`neo.Block`: one Segment per trial, one SpikeTrain per
    neuron.

    Parameters
    ----------
    source : str, os.PathLike or Simulator
        A SONATA spike file (pond's, or another tool's ``/spikes/<population>`` layout), or a
        :class:`~engine.run.simulator.Simulator` that has run with ``keep=True`` (its :class:`~engine.network.description.SpikeMonitor`
        populations are exported).
    populations : str or sequence of str, optional
        Populations to export (default: all of the file, or every population a SpikeMonitor records).
    trials : int or sequence of int, optional
        Trials to export, in this order (default: all). For a file these are ``0 .. n_trials - 1``; for a
        simulator its trial ids. Of an interrupted batch of whole trials only the finished ones can be exported,
        and they are the default (see :meth:`~engine.io.spikefile.SpikeFileReader.recorded_trials`).
    t_stop : float, optional
        End of every spike train (ms), > 0 and not before the last spike. Default: the run's duration
        (``duration_ms`` of a complete file or of the finished trials of an interrupted batch, the recorded time
        ``t_recorded_ms`` of an interrupted run of all trials together, the simulator's current time ``t``); for a
        file of another tool without a duration, its last spike time.
    progress : bool, optional
        Show a progress bar over the spike trains (default: when a person is watching, see
        :func:`engine.progress.interactive`).

    Returns
    -------
    block : neo.Block
        ``block.segments[i]`` is trial ``trials[i]`` (annotation ``trial``); its ``spiketrains`` hold, population
        after population, one :class:`neo.SpikeTrain` per neuron (``units="ms"``, ``t_start=0 ms``,
        ``t_stop=t_stop``, annotations ``population``, ``node_id``, ``trial``). ``block.groups`` has one
        :class:`neo.Group` per population (annotations ``population``, ``size``) with its trains of every trial.
        ``block.annotations`` hold the run's metadata (``dt_ms``, ``duration_ms``, ``seed``, ``pond_version``,
        ``n_trials``, ``n_trials_finished``, ...).

    Raises
    ------
    ImportError
        Neo is not installed (``pip install 'pond[neo]'``).
    ValueError
        An unknown population or trial, an unfinished trial of an interrupted batch, a ``t_stop`` before the last
        spike, or a simulator with no spike monitor.

    See Also
    --------
    from_neo : the spikes of such a block as arrays again.
    spike_statistics : Elephant's statistics of each population.

    Notes
    -----
    A spike train holds the spike times as a float64 array in ms, exactly as stored in the file (no rounding to
    the time grid). Each neuron of each trial gets an object, so a 12,500-neuron network over 10 trials makes
    125,000 spike trains: select ``populations`` and ``trials`` for large runs. The trains of one population and
    trial are slices of one array, checked once (Neo checks each new SpikeTrain's times against its ``t_start``
    and ``t_stop``), and a segment's or group's list of trains is made in one go rather than train by train (Neo's
    ``append`` searches the list each time).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from engine.io.spikefile import SpikeFileWriter
    >>> path = os.path.join(tempfile.mkdtemp(), "spikes.h5")
    >>> with SpikeFileWriter(path, {"exc": 3}, n_trials=2, dt_ms=0.1, duration_ms=100.0, seed=1) as w:
    ...     w.write("exc", 0, np.array([1.0, 2.5, 7.0]), np.array([2, 0, 2]))
    ...     w.write("exc", 1, np.array([4.0]), np.array([1]))
    >>> block = to_neo(path)
    >>> [len(seg.spiketrains) for seg in block.segments]
    [3, 3]
    >>> st = block.segments[0].spiketrains[2]
    >>> st.annotations["population"], st.annotations["node_id"], st.times.magnitude.tolist(), float(st.t_stop)
    ('exc', 2, [1.0, 7.0], 100.0)
    """
    neo = _require("neo")
    import quantities as pq

    t_stop = _check_time("t_stop", t_stop)
    if _is_simulator(source):
        collected = _collect_simulator(source, populations, trials, t_stop)
    else:
        try:
            path = os.fspath(source)
        except TypeError:
            raise TypeError(f"source = {source!r} must be a spike file path or a Simulator") from None
        collected = _collect_file(path, populations, trials, t_stop)
    spikes, sizes, trial_ids, t_stop, meta, name, file_origin = collected
    from neo.core.spiketrainlist import SpikeTrainList

    block = neo.Block(name=name, file_origin=file_origin, **{k: v for k, v in meta.items() if v is not None})
    groups = {p: neo.Group(name=p, population=p, size=sizes[p]) for p in sizes}
    group_trains: dict[str, list] = {p: [] for p in sizes}
    block.groups.extend(groups.values())
    t_start_q, t_stop_q = 0.0 * pq.ms, t_stop * pq.ms
    bar = _progress_bar(len(trial_ids) * sum(sizes.values()), "to_neo", progress)
    try:
        for k in trial_ids:
            seg = neo.Segment(name=f"trial {k}", index=k, trial=k)
            seg.block = block
            block.segments.append(seg)
            seg_trains = []
            for p, size in sizes.items():
                t, ids = spikes[(p, k)]
                order = np.argsort(ids, kind="stable")  # time order kept within each neuron
                t, ids = t[order], ids[order]
                bounds = np.searchsorted(ids, np.arange(size + 1), side="left")
                whole = neo.SpikeTrain(t[:bounds[-1]], units=pq.ms, t_start=t_start_q, t_stop=t_stop_q)
                trains = []
                for i in range(size):
                    st = whole[bounds[i]:bounds[i + 1]]
                    st.name = f"{p}[{i}]"
                    st.annotations = {"population": p, "node_id": i, "trial": k}
                    st.segment = seg
                    trains.append(st)
                seg_trains.extend(trains)
                group_trains[p].extend(trains)
                if bar is not None:
                    bar.update(size)
            seg.spiketrains = SpikeTrainList(items=seg_trains, parent=seg)
    finally:
        if bar is not None:
            bar.close()
    for p, group in groups.items():
        group.spiketrains = SpikeTrainList(items=group_trains[p])
    return block


def _progress_bar(total: int, desc: str, enabled: bool | None):
    """A tqdm bar over ``total`` spike trains that appears after two seconds, or None when not ``enabled`` (None:
    when a person is watching)."""
    if enabled is None:
        from engine.progress import interactive

        enabled = interactive()
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="train", delay=2.0, leave=False, desc=desc)


def from_neo(block) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The spikes of a :class:`neo.Block` made by :func:`to_neo` (or of the same shape) as arrays.

    Parameters
    ----------
    block : neo.Block
        One Segment per trial; every SpikeTrain annotated with ``population`` and ``node_id``.

    Returns
    -------
    spikes : dict of str to list of (ndarray, ndarray)
        Population -> one ``(times_ms, node_ids)`` pair per segment, in segment order: float64 times in ms and
        int64 node ids, sorted by time (then node id), the order of a pond spike file.

    Raises
    ------
    ValueError
        A spike train without the ``population`` or ``node_id`` annotation.
    """
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for s, seg in enumerate(block.segments):
        parts: dict[str, tuple[list, list]] = {}
        for st in seg.spiketrains:
            ann = st.annotations
            if "population" not in ann or "node_id" not in ann:
                raise ValueError(f"spike train {st.name!r} of segment {s} has no 'population' and 'node_id' "
                                 "annotations; from_neo reads blocks made by to_neo")
            t = np.asarray(st.times.rescale("ms").magnitude, dtype=np.float64)
            parts.setdefault(ann["population"], ([], []))
            parts[ann["population"]][0].append(t)
            parts[ann["population"]][1].append(np.full(t.size, int(ann["node_id"]), dtype=np.int64))
        for p in list(out) + [p for p in parts if p not in out]:
            ts, ids = parts.get(p, ([], []))
            t = np.concatenate(ts) if ts else np.zeros(0, np.float64)
            i = np.concatenate(ids) if ids else np.zeros(0, np.int64)
            order = np.lexsort((i, t))
            out.setdefault(p, [(np.zeros(0, np.float64), np.zeros(0, np.int64))] * s).append((t[order], i[order]))
    return out


def spike_statistics(block, *, window_ms: float = 100.0, progress: bool | None = None) -> dict[str, dict[str, Any]]:
    """Per-population statistics of a :func:`to_neo` block, each as the Elephant function of its name defines it.

    - ``mean_firing_rate`` (Hz): :func:`elephant.statistics.mean_firing_rate` of every neuron in every trial
      (spikes / (t_stop - t_start)), averaged over neurons and trials: the rate ``pond info`` prints.
    - ``cv``: :func:`elephant.statistics.cv` (standard deviation over mean) of the inter-spike intervals
      (:func:`elephant.statistics.isi`) of each neuron in each trial with at least three spikes, averaged over
      those; 1 for a Poisson process, about 0 for regular firing.
    - ``fanofactor``: :func:`elephant.statistics.fanofactor` (variance over mean) of each neuron's spike counts in
      consecutive windows of ``window_ms`` in every trial (the classic across-trial Fano factor when the windows span
      whole trials), averaged over the neurons that spiked; 1 for a Poisson process.
    - ``spike_contrast``: :func:`elephant.spike_train_synchrony.spike_contrast` (Ciba et al. 2018) of the
      population's spike trains in each trial, averaged over trials; from 0 (asynchronous) to 1 (synchronous).

    The statistics are computed here, on every spike train of a population at once (array reductions over all
    their spikes, and for spike_contrast one histogram of all trains per bin size where Elephant makes one per
    train); the tests check them against Elephant's functions.

    Parameters
    ----------
    block : neo.Block
        From :func:`to_neo`: one Segment per trial, SpikeTrains annotated with ``population``, spike times sorted
        within each train.
    window_ms : float, default=100.0
        Counting window of the Fano factor (ms), > 0. Each trial is cut into ``floor((t_stop - t_start) /
        window_ms)`` whole windows (at least one, the whole trial, when the trial is shorter).
    progress : bool, optional
        Show a progress bar over the spike trains (default: when a person is watching, see
        :func:`engine.progress.interactive`).

    Returns
    -------
    stats : dict of str to dict
        Population -> ``{"size", "n_trials", "n_spikes", "mean_firing_rate", "cv", "cv_neurons",
        "fanofactor", "fanofactor_window_ms", "fanofactor_counts", "spike_contrast"}``. A statistic that the data do
        not define (no neuron with three spikes, fewer than two counts per neuron, fewer than two spike trains with
        spikes for spike_contrast) is None. ``cv_neurons`` is the number of (neuron, trial) trains the CV averages,
        ``fanofactor_counts`` the number of counts per neuron.

    Raises
    ------
    ImportError
        quantities (installed with Neo) is missing (``pip install 'pond[neo]'``).
    ValueError
        ``window_ms`` not > 0, or spike trains without a ``population`` annotation.

    References
    ----------
    Ciba M, Isomura T, Jimbo Y, Bahmer A, Thielemann C (2018). Spike-contrast: a novel time scale independent and
    multivariate measure of spike train synchrony. J Neurosci Methods 293:136-143.

    Examples
    --------
    >>> import neo, quantities as pq
    >>> seg = neo.Segment()
    >>> seg.spiketrains = [neo.SpikeTrain([10.0, 30.0, 50.0, 70.0], units="ms", t_stop=100.0 * pq.ms,
    ...                                   population="a", node_id=0)]
    >>> block = neo.Block(); block.segments.append(seg)
    >>> s = spike_statistics(block, window_ms=50.0)["a"]
    >>> s["mean_firing_rate"], s["cv"], s["fanofactor"]
    (40.0, 0.0, 0.0)
    """
    pq = _require("quantities")

    window_ms = _check_time("window_ms", window_ms)
    by_pop: dict[str, list[list]] = {}  # population -> one list of spike trains per segment
    for s, seg in enumerate(block.segments):
        for st in seg.spiketrains:
            p = st.annotations.get("population")
            if p is None:
                raise ValueError(f"spike train {st.name!r} of segment {s} has no 'population' annotation; "
                                 "spike_statistics reads blocks made by to_neo")
            trains = by_pop.setdefault(p, [[] for _ in block.segments])
            trains[s].append(st)
    bar = _progress_bar(sum(len(t) for per_trial in by_pop.values() for t in per_trial), "spike_statistics",
                        progress)
    ms_per_unit: dict[str, float] = {}
    out = {}
    try:
        for p, per_trial in by_pop.items():
            parts = [_Trains.of(seg_trains, pq, ms_per_unit) for seg_trains in per_trial]
            allt = _Trains.join(parts)
            with np.errstate(divide="ignore", invalid="ignore"):
                rates = allt.counts / (allt.t_stop - allt.t_start) * 1000.0
                cvs = allt.isi_cv()
                ffs, n_windows = allt.fano_factors(window_ms)
            contrasts = []
            for part in parts:
                if np.count_nonzero(part.counts) >= 2:
                    c = part.spike_contrast()
                    if c is not None:
                        contrasts.append(c)
                if bar is not None:
                    bar.update(part.counts.size)
            out[p] = {
                "size": len(per_trial[0]) if per_trial else 0,
                "n_trials": len(per_trial),
                "n_spikes": int(allt.counts.sum()),
                "mean_firing_rate": float(np.mean(rates)) if rates.size else None,
                "cv": float(np.mean(cvs)) if cvs.size else None,
                "cv_neurons": int(cvs.size),
                "fanofactor": float(np.mean(ffs)) if ffs.size else None,
                "fanofactor_window_ms": float(window_ms),
                "fanofactor_counts": n_windows,
                "spike_contrast": float(np.mean(contrasts)) if contrasts else None,
            }
    finally:
        if bar is not None:
            bar.close()
    return out


class _Trains:
    """Spike trains as arrays: every spike time (ms) in one array, train after train, with each train's count,
    ``t_start``, ``t_stop`` (ms) and neuron key (its ``node_id`` annotation)."""

    def __init__(self, counts: np.ndarray, t_start: np.ndarray, t_stop: np.ndarray, keys: list, times: np.ndarray):
        self.counts, self.t_start, self.t_stop, self.keys, self.times = counts, t_start, t_stop, keys, times

    @classmethod
    def of(cls, trains: list, pq, ms_per_unit: dict) -> "_Trains":
        """The arrays of Neo spike trains, in ms whatever their units (``ms_per_unit`` caches the factors)."""
        n = len(trains)
        counts = np.fromiter((len(st) for st in trains), dtype=np.int64, count=n)
        t_start, t_stop, times = np.empty(n), np.empty(n), []
        for j, st in enumerate(trains):
            f = _ms_per(st, pq, ms_per_unit)
            times.append(st.magnitude if f == 1.0 else st.magnitude * f)
            t_start[j] = float(st.t_start.magnitude) * _ms_per(st.t_start, pq, ms_per_unit)
            t_stop[j] = float(st.t_stop.magnitude) * _ms_per(st.t_stop, pq, ms_per_unit)
        keys = [st.annotations.get("node_id", id(st)) for st in trains]
        return cls(counts, t_start, t_stop, keys, np.concatenate(times).astype(np.float64, copy=False) if times
                   else np.zeros(0))

    @classmethod
    def join(cls, parts: list) -> "_Trains":
        """The trains of ``parts`` (a non-empty list), one after the other."""
        return cls(*(np.concatenate([getattr(x, a) for x in parts]) for a in ("counts", "t_start", "t_stop")),
                   [k for x in parts for k in x.keys], np.concatenate([x.times for x in parts]))

    def train_of_spike(self) -> np.ndarray:
        return np.repeat(np.arange(self.counts.size), self.counts)

    def isi_cv(self) -> np.ndarray:
        """CV of the inter-spike intervals of each train with at least three spikes, in train order."""
        tr = self.train_of_spike()
        same = tr[1:] == tr[:-1]
        d, dtr = np.diff(self.times)[same], tr[1:][same]
        m = np.maximum(self.counts - 1, 1).astype(np.float64)
        mean = np.bincount(dtr, d, minlength=self.counts.size) / m
        var = np.bincount(dtr, (d - mean[dtr]) ** 2, minlength=self.counts.size) / m
        sel = self.counts >= 3
        return np.sqrt(var[sel]) / mean[sel]

    def fano_factors(self, window_ms: float) -> tuple[np.ndarray, int]:
        """Fano factor of each neuron's counts in whole windows of every trial (neurons that spiked, in the order
        of their first train), and the number of counts per neuron (of the last train's neuron)."""
        if self.counts.size == 0:
            return np.zeros(0), 0
        t0, dur = self.t_start, self.t_stop - self.t_start
        n_win = np.maximum(1, np.floor(dur / window_ms + 1e-9)).astype(np.int64)
        win = np.where(n_win == 1, dur / n_win, window_ms)
        tr = self.train_of_spike()
        t, s0, w, nw = self.times, t0[tr], win[tr], n_win[tr]
        # window j of a spike: t0 + win * j <= t < t0 + win * (j + 1), the division's rounding corrected
        j = np.clip(np.floor((t - s0) / w), 0, nw - 1).astype(np.int64)
        j += (j + 1 <= nw - 1) & (s0 + w * (j + 1) <= t)
        j -= (j >= 1) & (s0 + w * j > t)
        keep = (nw == 1) | (t < s0 + w * nw)  # the time after the last whole window is left out
        first = np.concatenate([[0], np.cumsum(n_win)[:-1]])
        counts = np.bincount(first[tr[keep]] + j[keep], minlength=int(n_win.sum())).astype(np.float64)
        codes: dict = {}
        key_code = np.fromiter((codes.setdefault(k, len(codes)) for k in self.keys), dtype=np.int64,
                               count=len(self.keys))
        wkey = np.repeat(key_code, n_win)
        n_k = np.bincount(wkey, minlength=len(codes))
        total = np.bincount(wkey, counts, minlength=len(codes))
        n_windows = int(n_k[key_code[-1]])
        if n_windows < 2:
            return np.zeros(0), n_windows
        mean = total / n_k
        var = np.bincount(wkey, (counts - mean[wkey]) ** 2, minlength=len(codes)) / n_k
        spiked = total > 0
        return var[spiked] / mean[spiked], n_windows

    def spike_contrast(self, min_bin_ms: float = 10.0, bin_shrink_factor: float = 0.9) -> float | None:
        """Elephant's ``spike_contrast`` of these trains (its defaults), or None where it raises (no train with
        two spikes, or a trial shorter than two smallest bins)."""
        tr = self.train_of_spike()
        order = np.lexsort((self.times, tr))  # time order within each train: a train's bins never go back
        t, tr = self.times[order], tr[order]
        t_start, t_stop = float(self.t_start.min()), float(self.t_stop.max())
        inside = (t >= t_start) & (t <= t_stop)
        t, tr = t[inside], tr[inside]
        n_trains, n_total = self.counts.size, t.size
        same = tr[1:] == tr[:-1]
        if not np.any(same):
            return None
        isi_min = float(np.diff(t)[same].min())
        bin_min = max(isi_min / 2, min_bin_ms)
        bin_size = (t_stop - t_start) / 2
        t_start, t_stop = t_start - isi_min, t_stop + isi_min
        rel, t_lo, t_hi = t - t_start, t.min(), t.max()
        new_train = np.r_[True, ~same]
        best = None
        while bin_size >= bin_min:
            step = bin_size / 2
            edges = np.arange(t_start, t_stop + step, step)
            nb = edges.size - 1
            # np.histogram's bins: edges[i] <= t < edges[i + 1], the last one closed; the quotient's rounding fixed
            raw = np.divide(rel, step).astype(np.int64)  # rel >= 0
            np.minimum(raw, nb - 1, out=raw)
            raw -= t < edges[raw]
            up = raw < nb - 1
            up &= t >= edges[raw + 1]
            raw += up
            tr_in, raw_in = tr, raw
            if t_lo < edges[0] or t_hi > edges[-1]:  # outside every bin: not counted
                ok = (t >= edges[0]) & (t <= edges[-1])
                tr_in, raw_in = tr[ok], raw[ok]
                first = np.r_[True, tr_in[1:] != tr_in[:-1]] if tr_in.size else np.zeros(0, bool)
            else:
                first = new_train
            hist = np.bincount(raw_in, minlength=nb)
            theta = hist[:-1] + hist[1:]  # half-overlapping bins
            # trains with a spike in bin i or i + 1: the (train, bin) pairs, counted once (times sorted per train)
            distinct = first.copy()
            distinct[1:] |= raw_in[1:] != raw_in[:-1]
            ru, tu = raw_in[distinct], tr_in[distinct]
            occupied = np.bincount(ru, minlength=nb)
            pair = (tu[1:] == tu[:-1]) & (ru[1:] == ru[:-1] + 1)
            both = np.bincount(ru[:-1][pair], minlength=nb)
            n_active = occupied[:-1] + occupied[1:] - both[:-1]
            active_st = (np.sum(n_active * theta) / np.sum(theta) - 1) / (n_trains - 1)
            contrast = np.sum(np.abs(np.diff(theta))) / (2 * n_total)
            synchrony = contrast * active_st
            best = synchrony if best is None else max(best, synchrony)
            bin_size *= bin_shrink_factor
        return None if best is None else float(best)


def _ms_per(q, pq, cache: dict) -> float:
    """Milliseconds per unit of the quantity ``q`` (1.0 for ms), cached by unit and by object: the trains of
    :func:`to_neo` share their ``t_start`` and ``t_stop`` (the cache holds them, so their ids stay theirs)."""
    hit = cache.get(id(q))
    if hit is not None and hit[0] is q:
        return hit[1]
    unit = q.dimensionality.string
    f = cache.get(unit)
    if f is None:
        f = cache[unit] = float(pq.Quantity(1.0, unit).rescale(pq.ms).magnitude)
    cache[id(q)] = (q, f)
    return f
