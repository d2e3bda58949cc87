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
statistics with Elephant (``pond info --stats`` prints them).

Neo and Elephant are optional: ``pip install 'pond[neo]'``. This module imports them only when a function runs.
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
        trial_ids = _check_selection("trials", trials, list(range(r.n_trials)))
        attrs = r.attrs
        complete = r.complete
        spikes = {(p, k): r.read(p, k) for p in pops for k in trial_ids}
        sizes = {p: r.size(p) for p in pops}
    duration = attrs.get("duration_ms")
    recorded = duration if complete else attrs.get("t_recorded_ms", duration)
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
           trials: int | Sequence[int] | None = None, t_stop: float | None = None):
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
        simulator its trial ids.
    t_stop : float, optional
        End of every spike train (ms), > 0 and not before the last spike. Default: the run's duration
        (``duration_ms`` of a complete file, the recorded time ``t_recorded_ms`` of an interrupted one, the
        simulator's current time ``t``); for a file of another tool without a duration, its last spike time.

    Returns
    -------
    block : neo.Block
        ``block.segments[i]`` is trial ``trials[i]`` (annotation ``trial``); its ``spiketrains`` hold, population
        after population, one :class:`neo.SpikeTrain` per neuron (``units="ms"``, ``t_start=0 ms``,
        ``t_stop=t_stop``, annotations ``population``, ``node_id``, ``trial``). ``block.groups`` has one
        :class:`neo.Group` per population (annotations ``population``, ``size``) with its trains of every trial.
        ``block.annotations`` hold the run's metadata (``dt_ms``, ``duration_ms``, ``seed``, ``pond_version``,
        ``n_trials``, ...).

    Raises
    ------
    ImportError
        Neo is not installed (``pip install 'pond[neo]'``).
    ValueError
        An unknown population or trial, a ``t_stop`` before the last spike, or a simulator with no spike monitor.

    See Also
    --------
    from_neo : the spikes of such a block as arrays again.
    spike_statistics : Elephant's statistics of each population.

    Notes
    -----
    A spike train holds the spike times as a float64 array in ms, exactly as stored in the file (no rounding to
    the time grid). Each neuron of each trial gets an object, so a 12,500-neuron network over 10 trials makes
    125,000 spike trains: select ``populations`` and ``trials`` for large runs.

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
    block = neo.Block(name=name, file_origin=file_origin, **{k: v for k, v in meta.items() if v is not None})
    groups = {p: neo.Group(name=p, population=p, size=sizes[p]) for p in sizes}
    block.groups.extend(groups.values())
    t_stop_q = t_stop * pq.ms
    for k in trial_ids:
        seg = neo.Segment(name=f"trial {k}", index=k, trial=k)
        seg.block = block
        block.segments.append(seg)
        for p, size in sizes.items():
            t, ids = spikes[(p, k)]
            order = np.argsort(ids, kind="stable")  # time order kept within each neuron
            t, ids = t[order], ids[order]
            bounds = np.searchsorted(ids, np.arange(size + 1), side="left")
            for i in range(size):
                st = neo.SpikeTrain(t[bounds[i]:bounds[i + 1]], units=pq.ms, t_start=0.0 * pq.ms, t_stop=t_stop_q,
                                    name=f"{p}[{i}]", population=p, node_id=i, trial=k)
                st.segment = seg
                seg.spiketrains.append(st)
                groups[p].add(st)
    return block


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


def spike_statistics(block, *, window_ms: float = 100.0) -> dict[str, dict[str, Any]]:
    """Per-population statistics of a :func:`to_neo` block, each computed by the Elephant function of its name.

    - ``mean_firing_rate`` (Hz): :func:`elephant.statistics.mean_firing_rate` of every neuron in every trial
      (spikes / (t_stop - t_start)), averaged over neurons and trials: the rate ``pond info`` prints.
    - ``cv``: :func:`elephant.statistics.cv` of the inter-spike intervals (:func:`elephant.statistics.isi`) of each
      neuron in each trial with at least three spikes, averaged over those; 1 for a Poisson process, about 0 for
      regular firing.
    - ``fanofactor``: :func:`elephant.statistics.fanofactor` of each neuron's spike counts in consecutive windows of
      ``window_ms`` in every trial (the classic across-trial Fano factor when the windows span whole trials),
      averaged over the neurons that spiked; 1 for a Poisson process.
    - ``spike_contrast``: :func:`elephant.spike_train_synchrony.spike_contrast` (Ciba et al. 2018) of the
      population's spike trains in each trial, averaged over trials; from 0 (asynchronous) to 1 (synchronous).

    Parameters
    ----------
    block : neo.Block
        From :func:`to_neo`: one Segment per trial, SpikeTrains annotated with ``population``.
    window_ms : float, default=100.0
        Counting window of the Fano factor (ms), > 0. Each trial is cut into ``floor((t_stop - t_start) /
        window_ms)`` whole windows (at least one, the whole trial, when the trial is shorter).

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
        Elephant is not installed (``pip install 'pond[neo]'``).
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
    _require("neo")
    stats_mod = _require("elephant.statistics")
    sync_mod = _require("elephant.spike_train_synchrony")
    import quantities as pq

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
    out = {}
    for p, per_trial in by_pop.items():
        trains = [st for seg_trains in per_trial for st in seg_trains]
        rates = [float(stats_mod.mean_firing_rate(st).rescale(pq.Hz).magnitude) for st in trains]
        cvs = [float(stats_mod.cv(stats_mod.isi(st.magnitude))) for st in trains if len(st) >= 3]
        # Fano factor: each neuron's counts in whole windows of every trial
        counts_per_neuron: dict[Any, list] = {}
        n_windows = 0
        for st in trains:
            t0, t1 = float(st.t_start.rescale(pq.ms)), float(st.t_stop.rescale(pq.ms))
            n_win = max(1, int(math.floor((t1 - t0) / window_ms + 1e-9)))
            win = (t1 - t0) / n_win if n_win == 1 else window_ms
            edges = t0 + win * np.arange(n_win + 1)
            t = st.times.rescale(pq.ms).magnitude
            pieces = np.split(t, np.searchsorted(t, edges[1:-1], side="left"))
            pieces[-1] = pieces[-1][pieces[-1] < edges[-1]] if n_win > 1 else pieces[-1]
            key = st.annotations.get("node_id", id(st))
            counts_per_neuron.setdefault(key, []).extend(pieces)
            n_windows = len(counts_per_neuron[key])
        ffs = []
        if n_windows >= 2:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                for pieces in counts_per_neuron.values():
                    if any(len(x) for x in pieces):
                        ffs.append(float(stats_mod.fanofactor(pieces)))
        contrasts = []
        for seg_trains in per_trial:
            if sum(1 for st in seg_trains if len(st)) >= 2:
                try:
                    contrasts.append(float(sync_mod.spike_contrast(seg_trains)))
                except ValueError:  # too short for its smallest bin
                    pass
        out[p] = {
            "size": len(per_trial[0]) if per_trial else 0,
            "n_trials": len(per_trial),
            "n_spikes": int(sum(len(st) for st in trains)),
            "mean_firing_rate": float(np.mean(rates)) if rates else None,
            "cv": float(np.mean(cvs)) if cvs else None,
            "cv_neurons": len(cvs),
            "fanofactor": float(np.mean(ffs)) if ffs else None,
            "fanofactor_window_ms": float(window_ms),
            "fanofactor_counts": n_windows,
            "spike_contrast": float(np.mean(contrasts)) if contrasts else None,
        }
    return out
