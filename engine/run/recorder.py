"""What the monitors record, the same for both simulators: the plan, the drains and the results.

The **plan** turns a network's monitors into the arrays a kernel records with: which presynaptic indices (neurons
and source channels, populations first) a :class:`~engine.network.description.SpikeMonitor` or
:class:`~engine.network.description.RateMonitor` covers, and which neuron and state variable each column of the
state record samples (one column block per monitored ``(population, variable)``, only the variables asked for).
The **drains** take a kernel's spike record (per trial: stamps and presynaptic indices, in the order they
happened) between kernel calls, split it by population and keep it and/or hand it to the sinks. The **results**
(:meth:`Recorder.spikes`, :meth:`~Recorder.spike_counts`, :meth:`~Recorder.rate`, :meth:`~Recorder.state`) are what
:class:`~engine.run.simulator.Simulator` returns.

A spike's stamp is its step (int64) in the clock-driven mode (:class:`StepRecorder`) and its exact time in the
event-driven mode (:class:`TimeRecorder`), as that kernel counts time: a float number of steps, integer on the grid
(:func:`engine.network.grid.to_steps`). Either way a spike in step ``k`` (``k · dt <= t < (k + 1) · dt``) counts
in bin ``k`` of :meth:`~Recorder.spike_counts`, and the state sample ``k`` (from 0) is stamped ``(k + 1) · every ·
dt``, the float nearest the decimal value (:func:`engine.network.grid.step_times`).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Callable, Sequence

import numpy as np

from engine.build.memory import check_fits
from engine.network.description import RateMonitor, SpikeMonitor, StateMonitor
from engine.network.grid import from_steps, step_times


class Recorder(ABC):
    """The monitors of ``network`` for a batch of trials (see the module docstring).

    Parameters
    ----------
    network : Network
        The model; its monitors are checked here (names, indices, one ``every``), with a ValueError naming the first
        bad one.
    trial_ids : ndarray of int64
        The trials, in batch order (row ``b`` of every record is trial ``trial_ids[b]``).
    names : sequence of str
        Presynaptic names in index order: the populations, then the sources.
    bounds : ndarray of int64
        ``bounds[g]:bounds[g + 1]`` are the presynaptic indices of ``names[g]``.
    variable_index : callable
        ``variable_index(population, variable)``: the kernel's index of a state variable of a population, or a
        ValueError naming what the population's model records.

    Attributes
    ----------
    spike_names, rate_names : list of str
        Targets of the spike monitors (in index order) and of the rate monitors (in monitor order).
    st_idx : ndarray of int64
        Neuron sampled by each column of the state record.
    st_var : ndarray of int8
        Kernel index of the variable each column samples.
    st_every : int
        Steps between two state samples (the one ``every`` of all state monitors).
    rate_parts, state_parts : list of ndarray
        The rate-count and state record blocks of the runs so far, joined on first read (:func:`joined`).
    total_spikes : int
        Spikes drained so far (monitored or not, every trial).
    """

    def __init__(self, network, trial_ids: np.ndarray, names: Sequence[str], bounds: np.ndarray,
                 variable_index: Callable[[str, str], int]):
        self.dt = network.dt
        self.trial_ids = trial_ids
        self.names = list(names)
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self._variable_index = variable_index
        populations = [p.name for p in network.populations]
        self._n_populations = len(populations)
        for m in network.monitors:
            name = m.source if isinstance(m, SpikeMonitor) else m.target
            if name not in self.names:
                raise ValueError(f"{type(m).__name__}: {name!r} is not a population or source of this network; "
                                 f"choose from {self.names}")
        self.spike_names = sorted({m.source for m in network.monitors if isinstance(m, SpikeMonitor)},
                                  key=self.names.index)
        self.rate_names = list(dict.fromkeys(m.target for m in network.monitors if isinstance(m, RateMonitor)))
        idx, var, blocks = [], [], {}
        for m in network.monitors:
            if not isinstance(m, StateMonitor):
                continue
            if m.target not in populations:
                raise ValueError(f"StateMonitor: target = {m.target!r} is not a population; choose from "
                                 f"{populations}")
            lo, size = self._span(m.target)
            local = np.arange(size, dtype=np.int64) if m.indices is None else m.indices
            if local.size and (local.min() < 0 or local.max() >= size):
                raise ValueError(f"StateMonitor on {m.target!r}: indices contains {local.max()}; "
                                 f"neuron indices must lie in [0, {size})")
            for v in m.variables:  # one column block per (target, variable): only what was asked is stored
                if (m.target, v) in blocks:
                    raise ValueError(f"StateMonitor: {v!r} of {m.target!r} is recorded by two monitors; merge them "
                                     f"into one (indices=...)")
                k = variable_index(m.target, v)
                blocks[(m.target, v)] = (sum(a.size for a in idx), local.size)
                idx.append(local + lo)
                var.append(np.full(local.size, k, dtype=np.int8))
        every = {m.every for m in network.monitors if isinstance(m, StateMonitor)}
        if len(every) > 1:
            raise ValueError(f"StateMonitor: every = {sorted(every)} differ; all state monitors must share one every")
        self.st_every = every.pop() if every else 1
        self.st_idx = np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64)
        self.st_var = np.concatenate(var) if var else np.zeros(0, np.int8)
        self._st_blocks = blocks
        self._spikes = {(name, int(t)): ([], []) for name in self._kept_names() for t in trial_ids}
        self.rate_parts: list[np.ndarray] = []  # one (trials, steps, rate names) block per run
        self.state_parts: list[np.ndarray] = []  # one (trials, samples, columns) block per run
        self.total_spikes = 0

    def _kept_names(self) -> list[str]:
        """The populations whose spikes the drains keep (in index order)."""
        return self.spike_names

    def _span(self, name: str) -> tuple[int, int]:
        """First presynaptic index and size of ``name``."""
        g = self.names.index(name)
        return int(self.bounds[g]), int(self.bounds[g + 1] - self.bounds[g])

    # ------------------------------------------------------------------ the plan
    def mask(self, names: Sequence[str], n_pre: int) -> np.ndarray:
        """uint8 flag per presynaptic index (at least one): 1 for the indices of ``names``."""
        out = np.zeros(max(n_pre, 1), dtype=np.uint8)
        for name in names:
            lo, size = self._span(name)
            out[lo:lo + size] = 1
        return out

    def rate_columns(self, n_pre: int) -> np.ndarray:
        """int32 per presynaptic index: its column of the rate record, or -1."""
        out = np.full(n_pre, -1, dtype=np.int32)
        for col, name in enumerate(self.rate_names):
            lo, size = self._span(name)
            out[lo:lo + size] = col
        return out

    def new_blocks(self, owner: str, span: str, rate_steps: int, state_rows: int, fill: float
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Rate-count (int32, ``(trials, rate_steps, rate names)``) and state (float64, ``(trials, state_rows,
        columns)``, filled with ``fill``) record blocks of a run (``span``: its length, for the message), refused
        with the figures (MemoryError) before allocation when they would not fit in memory."""
        B = self.trial_ids.size
        shapes = ((B, rate_steps, len(self.rate_names)), (B, state_rows, self.st_idx.size))
        need = 4 * int(np.prod(shapes[0])) + 8 * int(np.prod(shapes[1]))
        check_fits(need, f"{owner}: recording {len(self.rate_names)} RateMonitor(s) and {self.st_idx.size} "
                         f"StateMonitor column(s) for {span} of {B} trial(s)",
                   "record fewer neurons or variables, sample less often (StateMonitor every=...), or run shorter "
                   "pieces and read the records in between")
        return np.zeros(shapes[0], dtype=np.int32), np.full(shapes[1], fill)

    # ------------------------------------------------------------------ the drains
    def drain(self, counts: np.ndarray, stamps: np.ndarray, ids: np.ndarray, sinks: list, keep: bool) -> None:
        """Take the kernel's spike record: ``counts[b]`` spikes of trial row ``b``, with ``stamps[b, :n]`` and
        presynaptic indices ``ids[b, :n]``; keep those of the monitored populations (``keep``) and hand the spike
        monitors' ones to ``sinks`` (``write(population, trial, times_ms, local_ids)``)."""
        kept = self._kept_names()
        for b, trial in enumerate(self.trial_ids):
            n = int(counts[b])
            self.total_spikes += n
            if n == 0:
                continue
            st = stamps[b, :n]
            pre = ids[b, :n].astype(np.int64)
            group = np.searchsorted(self.bounds, pre, side="right") - 1
            order = np.argsort(group, kind="stable")
            cuts = np.searchsorted(group[order], np.arange(len(self.names) + 1))
            for name in kept:
                g = self.names.index(name)
                sel = order[cuts[g]:cuts[g + 1]]
                if sel.size == 0:
                    continue
                s, local = st[sel], pre[sel] - self.bounds[g]
                if keep or name not in self.spike_names:
                    self._spikes[(name, int(trial))][0].append(s)
                    self._spikes[(name, int(trial))][1].append(local)
                if name in self.spike_names:
                    for sink in sinks:
                        sink.write(name, int(trial), self._times(s), local)

    @abstractmethod
    def _times(self, stamps: np.ndarray) -> np.ndarray:
        """Times (ms, float64) of spike stamps."""

    @abstractmethod
    def _steps(self, stamps: np.ndarray) -> np.ndarray:
        """Steps (int64) of spike stamps."""

    # ------------------------------------------------------------------ the results
    def _stamps(self, name: str, trial: int | None) -> tuple[np.ndarray, np.ndarray]:
        trial = int(self.trial_ids[0]) if trial is None else int(trial)
        if name not in self.spike_names or (name, trial) not in self._spikes:
            raise KeyError(f"no spikes recorded for {name!r}, trial {trial}; SpikeMonitors record "
                           f"{self.spike_names} for trials {self.trial_ids.tolist()}")
        return self._joined_spikes(name, trial)

    def _joined_spikes(self, name: str, trial: int) -> tuple[np.ndarray, np.ndarray]:
        stamps, ids = self._spikes[(name, trial)]
        return (np.concatenate(stamps) if stamps else np.zeros(0, self._stamp_dtype),
                np.concatenate(ids) if ids else np.zeros(0, np.int64))

    def spikes(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (ms, float64) and neuron indices (int64, local to ``name``) of trial id ``trial`` (default:
        the first)."""
        stamps, ids = self._stamps(name, trial)
        return self._times(stamps), ids

    def spike_steps(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`spikes` but with the step (int64) of each spike instead of its time."""
        stamps, ids = self._stamps(name, trial)
        return self._steps(stamps), ids

    def _check_rate_name(self, name: str) -> None:
        if name not in self.rate_names:
            raise KeyError(f"no RateMonitor on {name!r}; rate monitors record {self.rate_names}")

    @abstractmethod
    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes of a RateMonitor target in every step, int32 ``(trials, steps)``."""

    def rate(self, name: str) -> np.ndarray:
        """Population rate (Hz) of a RateMonitor target per step: :meth:`spike_counts` over ``size · dt``."""
        counts = self.spike_counts(name)
        return counts / (self._span(name)[1] * self.dt * 1e-3)

    def state(self, target: str, variable: str = "V") -> tuple[np.ndarray, np.ndarray]:
        """Times (ms) and values (float64, ``(trials, samples, n_indices)``, a view: no copy) of ``variable`` of the
        StateMonitor on ``target``; a ValueError when ``target``'s model has no such variable."""
        if target in self.names[:self._n_populations]:
            self._variable_index(target, variable)
        if (target, variable) not in self._st_blocks:
            raise KeyError(f"no StateMonitor records {variable!r} of {target!r}")
        col, n = self._st_blocks[(target, variable)]
        data = joined(self.state_parts, (self.trial_ids.size, 0, self.st_idx.size), np.float64)
        values = data[:, :, col:col + n]
        times = step_times((np.arange(values.shape[1], dtype=np.int64) + 1) * self.st_every, self.dt)
        return times, values


class StepRecorder(Recorder):
    """The clock-driven mode's records: spikes stamped with their step, per-step counts recorded by the kernel."""

    _stamp_dtype = np.int64

    def _times(self, stamps: np.ndarray) -> np.ndarray:
        return step_times(stamps, self.dt)

    def _steps(self, stamps: np.ndarray) -> np.ndarray:
        return stamps

    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes of a RateMonitor target in every step, int32 ``(trials, steps)`` (a view of the record)."""
        self._check_rate_name(name)
        data = joined(self.rate_parts, (self.trial_ids.size, 0, len(self.rate_names)), np.int32)
        return data[:, :, self.rate_names.index(name)]


class TimeRecorder(Recorder):
    """The event-driven mode's records: spikes stamped with their exact time in steps of ``dt`` (float64); per-step
    counts binned from the spikes of the rate monitors' populations (kept for that even when ``keep`` is False) up
    to :attr:`reached`."""

    _stamp_dtype = np.float64

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.reached = 0.0  # the time (in steps) the records reach, set by the simulator

    def _kept_names(self) -> list[str]:
        return sorted(set(self.spike_names) | set(self.rate_names), key=self.names.index)

    def _times(self, stamps: np.ndarray) -> np.ndarray:
        return from_steps(stamps, self.dt)

    def _steps(self, stamps: np.ndarray) -> np.ndarray:
        return np.floor(stamps).astype(np.int64)

    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes of a RateMonitor target in every step begun before :attr:`reached`, int32 ``(trials, steps)``."""
        self._check_rate_name(name)
        n_bins = int(math.ceil(self.reached - 1e-9))
        out = np.zeros((self.trial_ids.size, n_bins), np.int32)
        for b, trial in enumerate(self.trial_ids):
            steps = self._joined_spikes(name, int(trial))[0]
            if steps.size:
                out[b] = np.bincount(np.minimum(self._steps(steps), n_bins - 1), minlength=n_bins)
        return out


def joined(parts: list, empty_shape: tuple, dtype) -> np.ndarray:
    """The record blocks of successive runs as one array along the time axis; the blocks are replaced by the joined
    array, so asking again costs no copy."""
    if not parts:
        return np.zeros(empty_shape, dtype=dtype)
    if len(parts) > 1:
        parts[:] = [np.concatenate(parts, axis=1)]
    return parts[0]
