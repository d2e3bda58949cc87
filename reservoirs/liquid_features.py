r"""Liquid-state features computed while the network runs: a spike sink for :meth:`engine.Simulator.run`.

For column (neuron) :math:`c`, trial :math:`b` and sample time :math:`t_j` (ms),

.. math::

    x_{b,j,c} = \sum_{t^{(f)}_{b,c} < t_j} e^{-(t_j - t^{(f)}_{b,c}) / \tau}, \qquad
    n_{b,j,c} = \#\{f : t_j - \Delta \le t^{(f)}_{b,c} < t_j\}
    \quad\text{or}\quad \#\{f : t_{j-1} \le t^{(f)}_{b,c} < t_j\}\ (t_{-1} = 0)

with :math:`t^{(f)}` the spike times (ms), :math:`\tau` the trace time constant (ms, default 30, Maass et al.
2002) and :math:`\Delta` the count window (ms), or, with ``bin_ms="samples"``, the bins between consecutive
sample times (each spike before the last sample counted once). A spike at exactly :math:`t_j` is *not* counted: the
sample is the state at the end of the step that ends at :math:`t_j` (the spike belongs to the step that starts there),
the convention of the engine's :class:`~engine.network.description.StateMonitor`. Sample times are multiples of ``dt`` and the trace
is exact (no time discretisation beyond the spike times themselves).

Only the features and one trace value and last-spike step per (trial, neuron) are kept: spike lists are never
stored. The per-spike work is a Numba kernel; the result for a trial depends only on its spikes, so it is the same
bits for any batch size, thread count or chunk length, and equal to :func:`filtered_spike_trains` on the full spike
record of the same run.

References
----------
Maass W, Natschläger T, Markram H (2002) Real-time computing without stable states. Neural Comput 14:2531-2560.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from engine.network.grid import grid_steps
from reservoirs.kernels import liquid as _k

__all__ = ["LiquidStateSink", "filtered_spike_trains"]


def _sample_steps(owner: str, sample_times, dt: float, n_trials: int, duration: float | None) -> np.ndarray:
    """Sample times (ms) as int64 steps of shape (n_trials, S), checked: on the grid, increasing, in (0, duration]."""
    t = np.asarray(sample_times, dtype=np.float64)
    if t.ndim == 1:
        t = np.broadcast_to(t, (n_trials, t.size))
    if t.ndim != 2 or t.shape[0] != n_trials or t.shape[1] == 0:
        raise ValueError(f"{owner}: sample_times has shape {np.shape(sample_times)}; give (S,) times for every "
                         f"trial or ({n_trials}, S), S >= 1")
    if not np.isfinite(t).all():
        raise ValueError(f"{owner}: sample_times contains {t[~np.isfinite(t)][0]}; every time must be finite (ms)")
    steps = grid_steps(owner, "sample_times", t, dt)
    if np.any(steps <= 0) or (duration is not None and np.any(t > duration + 1e-9 * max(duration, 1.0))):
        bad = t[(steps <= 0) | (t > (duration if duration is not None else np.inf) + 1e-9)].ravel()[0]
        rng = f"(0, {duration}]" if duration is not None else "(0, inf)"
        raise ValueError(f"{owner}: sample_times contains {bad} ms, outside the run; sample times must lie in "
                         f"{rng} ms")
    if np.any(np.diff(steps, axis=1) <= 0):
        raise ValueError(f"{owner}: sample_times must be strictly increasing within each trial")
    return np.ascontiguousarray(steps)


def _bin_steps(owner: str, bin_ms, dt: float) -> int:
    """0: no counts, -1: bins between samples, k > 0: a window of k steps."""
    if bin_ms is None:
        return 0
    if isinstance(bin_ms, str) and bin_ms == "samples":
        return -1
    if isinstance(bin_ms, str) or not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"{owner}: bin_ms = {bin_ms!r} is not allowed; give a window > 0 ms, 'samples' or None")
    return int(grid_steps(owner, "bin_ms", bin_ms, dt))


class LiquidStateSink:
    r"""A sink for :meth:`engine.Simulator.run` that turns spikes into liquid-state features during the run.

    Parameters
    ----------
    columns : mapping of str to array of int
        For each recorded population, the feature column of each of its neurons (local index -> column in
        ``[0, n_columns)``). Populations not named are ignored.
    n_columns : int
        Number of feature columns N (>= 1).
    trial_ids : sequence of int
        The simulator's trial ids; row ``b`` of the features is ``trial_ids[b]``.
    sample_times : array of shape (S,) or (trials, S)
        Sample times (ms), multiples of ``dt``, strictly increasing, > 0.
    dt : float
        The network's step (ms).
    tau : float, default=30.0
        Trace time constant (ms), > 0.
    bin_ms : float or 'samples', optional
        Count window :math:`\Delta` (ms, a multiple of ``dt``, > 0), or ``"samples"``: the bins between consecutive
        sample times of each trial (the first from 0); None: no counts.

    Attributes
    ----------
    traces : ndarray of float64, shape (trials, S, N)
    counts : ndarray of int64, shape (trials, S, N), or None

    Examples
    --------
    >>> import numpy as np
    >>> sink = LiquidStateSink({"n": np.arange(2)}, 2, [0], sample_times=[10.0, 20.0], dt=0.1, tau=10.0)
    >>> sink.write("n", 0, np.array([5.0, 10.0]), np.array([0, 1]))
    >>> sink.advance(20.0)
    >>> np.round(sink.traces[0], 4)
    array([[0.6065, 0.    ],
           [0.2231, 0.3679]])
    """

    def __init__(self, columns: Mapping[str, Sequence[int]], n_columns: int, trial_ids: Sequence[int],
                 sample_times, dt: float, tau: float = 30.0, bin_ms: float | str | None = None):
        owner = "LiquidStateSink"
        if not (isinstance(tau, (int, float)) and np.isfinite(tau) and tau > 0):
            raise ValueError(f"{owner}: tau = {tau!r} is not allowed; the trace time constant must be > 0 ms")
        self.dt = float(dt)
        self.trial_ids = [int(t) for t in trial_ids]
        self._row = {t: b for b, t in enumerate(self.trial_ids)}
        B = len(self.trial_ids)
        self.sample_steps = _sample_steps(owner, sample_times, self.dt, B, None)
        S = self.sample_steps.shape[1]
        self.columns = {name: np.ascontiguousarray(np.asarray(c, dtype=np.int64)) for name, c in columns.items()}
        for name, c in self.columns.items():
            if c.ndim != 1 or (c.size and (c.min() < 0 or c.max() >= n_columns)):
                raise ValueError(f"{owner}: columns[{name!r}] must be 1-D indices in [0, {n_columns})")
        self._dt_tau = self.dt / float(tau)
        self._bin = _bin_steps(owner, bin_ms, self.dt)
        self.traces = np.zeros((B, S, n_columns), dtype=np.float64)
        self.counts = np.zeros((B, S, n_columns), dtype=np.int64) if self._bin else None
        self._counts = self.counts if self.counts is not None else np.zeros((B, S, n_columns), dtype=np.int64)[:, :0]
        self._tr = np.zeros((B, n_columns), dtype=np.float64)
        self._last = np.full((B, n_columns), -1, dtype=np.int64)
        self._next = {name: np.zeros(B, dtype=np.int64) for name in self.columns}

    def write(self, population: str, trial: int, times_ms: np.ndarray, node_ids: np.ndarray) -> None:
        """Take one chunk's spikes of ``population`` in ``trial`` (times non-decreasing, as the simulator gives)."""
        cols = self.columns.get(population)
        if cols is None or trial not in self._row:
            return
        b = self._row[trial]
        steps = np.rint(np.asarray(times_ms, dtype=np.float64) / self.dt).astype(np.int64)
        counts = self._counts[b]
        self._next[population][b] = _k.feed_spikes(steps, np.asarray(node_ids, dtype=np.int64), cols,
                                                   self.sample_steps[b], int(self._next[population][b]), self._tr[b],
                                                   self._last[b], self.traces[b], self._dt_tau, counts, self._bin)

    def advance(self, t_ms: float) -> None:
        """Every spike before ``t_ms`` has been written: finalise the samples at times <= ``t_ms``."""
        m = int(round(t_ms / self.dt))
        for name, cols in self.columns.items():
            nxt = self._next[name]
            for b in range(len(self.trial_ids)):
                j1 = int(np.searchsorted(self.sample_steps[b], m, side="right"))
                if j1 > nxt[b]:
                    _k.finalize(self.traces[b], self._tr[b], self._last[b], cols, self.sample_steps[b], int(nxt[b]),
                                j1, self._dt_tau)
                    nxt[b] = j1


def filtered_spike_trains(times_ms, ids, n: int, sample_times, dt: float, tau: float = 30.0,
                          bin_ms: float | str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Traces :math:`x_{j,c}` and counts :math:`n_{j,c}` (see the module docstring) of one full spike record.

    Parameters
    ----------
    times_ms : array of float
        Spike times (ms), on the grid of ``dt``; any order (sorted stably here).
    ids : array of int
        Column of each spike, in ``[0, n)``.
    n : int
        Number of columns.
    sample_times : array of float, shape (S,)
        Sample times (ms), multiples of ``dt``, strictly increasing, > 0.
    dt : float
        Step (ms) of the time grid.
    tau : float, default=30.0
        Trace time constant (ms), > 0.
    bin_ms : float or 'samples', optional
        Count window (ms), or ``"samples"`` for the bins between consecutive sample times; None: no counts.

    Returns
    -------
    traces : ndarray of float64, shape (S, n)
    counts : ndarray of int64, shape (S, n), or None

    Examples
    --------
    >>> tr, _ = filtered_spike_trains([0.0, 30.0], [0, 0], 1, [30.0, 60.0], dt=0.1)
    >>> np.round(tr[:, 0], 4)
    array([0.3679, 0.5032])
    """
    owner = "filtered_spike_trains"
    times = np.asarray(times_ms, dtype=np.float64).ravel()
    idx = np.asarray(ids, dtype=np.int64).ravel()
    if times.shape != idx.shape:
        raise ValueError(f"{owner}: times_ms has {times.size} entries but ids has {idx.size}; they must match")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{owner}: ids must lie in [0, {n}); got {idx.min()}..{idx.max()}")
    if not (np.isfinite(tau) and tau > 0):
        raise ValueError(f"{owner}: tau = {tau!r} is not allowed; the trace time constant must be > 0 ms")
    steps = grid_steps(owner, "times_ms", times, dt)
    order = np.argsort(steps, kind="stable")
    sample = _sample_steps(owner, sample_times, dt, 1, None)[0]
    bin_steps = _bin_steps(owner, bin_ms, dt)
    out, counts = _k.filtered_at(steps[order], idx[order], int(n), sample, float(dt) / float(tau), bin_steps)
    return out, (counts if bin_ms is not None else None)
