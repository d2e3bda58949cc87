"""Simulator: holds the state of B trials of one built network and runs them in chunks of many steps.

Python regains control only between chunks (``chunk_ms`` of biological time, default 100 ms, or earlier when a
spike record buffer fills) to hand recorded spikes to the in-memory monitors and to any sinks (such as
:class:`engine.io.spikefile.SpikeFileWriter`), update the progress bar and check for Ctrl-C. Each trial's random
numbers are keyed by ``(seed, trial id, ...)``, so trial ``k`` gives the same spikes whether it runs alone or in a
batch, on any number of threads.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numba
import numpy as np

from engine.build.builder import Built, build, current_events, poisson_sampler, segment_rates, spike_generator_events
from engine.network.grid import grid_offset, grid_steps, step_times
from engine.interrupt import deferred_interrupts
from engine.progress import interactive, progress_bar
from engine.build.memory import check_fits
from engine.kernels.network import (EXCHANGE, QUEUE_FULL, RECORD_FULL, STALLED, Buffers, Conn, Control, Inputs,
                                    Neurons, Queues, Records, State, Stp, run_blocks_parallel, run_trials_parallel,
                                    run_trials_serial)
from engine.kernels.state import stream_keys
from engine.run.initial_state import check_run_settings, initial_potentials
from engine.random import named_stream
from engine.network.description import (CurrentSource, Network, PoissonSource, RateMonitor, SpikeMonitor,
                          SpikeSource, StateMonitor, check_spike_arrays, state_variables)

_BLOCK_MIN_WORK = 50_000  # neuron-steps per interval below which one trial on several threads waits more than works
_MAX_INTERVAL = 64  # steps per exchange interval of block-parallel runs (bounds the spike buffers)


@dataclass
class RunStats:
    """Figures of the last :meth:`Simulator.run` call."""

    duration_ms: float
    wall_s: float
    spikes: int
    synaptic_events: int

    @property
    def realtime_factor(self) -> float:
        """Biological time per wall-clock time (> 1: faster than real time)."""
        return self.duration_ms * 1e-3 / self.wall_s if self.wall_s > 0 else math.inf

    @property
    def events_per_second(self) -> float:
        return self.synaptic_events / self.wall_s if self.wall_s > 0 else math.inf


class Simulator:
    """Run ``trials`` independent trials of ``network`` (shared connectivity, own stimuli, state and seed each).

    Parameters
    ----------
    network : Network
        The model; it is built once here (connectivity generated in compiled code).
    trials : int or sequence of int, default=1
        Number of trials, or the trial ids to run. Trial id ``k`` seeds its random initial state and Poisson input
        with ``(network.seed, k)``, so ``Simulator(net, trials=[3])`` reproduces trial 3 of any batch bit for bit.
    n_jobs : int, optional
        Threads for the parallel loop over trials (default: numba's default). Results never depend on it.
    chunk_ms : float, default=100.0
        Biological time per kernel call.
    comm : mpi4py communicator, optional
        Split this one network over the ranks of ``comm`` (every rank creates the Simulator with the same network
        and calls the same methods): each rank owns a contiguous run of neurons and stores only the synapses onto
        them, and the ranks exchange spikes once per minimum delay; spikes, rates and state samples equal one
        process's bit for bit, on every rank, and ``n_jobs`` is the threads of each rank (default 1). One trial
        only; sinks are given on rank 0 alone, which writes them. See :mod:`engine.parallel.mpi`.
    built : Built, optional
        The arrays :func:`engine.build.builder.build` made of this network earlier (a cache of them, as
        :func:`engine.parallel.distributed.block_simulator` keeps on each Dask worker): the network is not built again. They
        depend on the network alone, never on the trials. Not with ``comm``.
    method : {"clock", "event"}, default="clock"
        ``"clock"``: this clock-driven simulator (exact propagators on the grid of ``dt``). ``"event"``: an
        :class:`engine.run.event_driven.EventSimulator` instead, exact in continuous time for networks of
        ``iaf_psc_delta`` neurons with constant currents and static synapses (a ValueError names what else it
        cannot run); it takes ``trials``, ``n_jobs`` and ``chunk_ms``.

    Attributes
    ----------
    built : Built
        The flat arrays (connectivity, propagators, stimulus tables).
    t : float
        Current simulation time (ms).
    V0 : ndarray of shape (trials, n_neurons)
        Initial membrane potentials (mV) of every trial.
    V, I_ex, I_in, I_ext : ndarray of shape (trials, n_neurons)
        Current state (mV, pA), views of the arrays the kernel updates.
    last_run : RunStats
        Wall time, spikes and synaptic events of the last :meth:`run` (compilation excluded).
    compile_s : float or None
        Seconds the kernel took to compile or load from cache, once :meth:`compile` (or :meth:`run`) has run.

    Examples
    --------
    >>> from engine import Network, Population, PoissonSource, Projection, SpikeMonitor, Simulator
    >>> from engine.network.connectivity import OneToOne
    >>> net = Network(dt=0.1, seed=3)
    >>> _ = net.add(Population("n", 10, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=15.0, V_init=0.0),
    ...             PoissonSource("drive", 10, rate=2000.0),
    ...             Projection("drive", "n", OneToOne(), weight=1.0, delay=1.0), SpikeMonitor("n"))
    >>> batch = Simulator(net, trials=4).run(200.0)
    >>> alone = Simulator(net, trials=[2]).run(200.0)
    >>> bool((batch.spikes("n", trial=2)[0] == alone.spikes("n", trial=2)[0]).all())
    True
    """

    _MIN_RECORD_CAPACITY = 1 << 18  # spikes per trial held between two drains
    _QUEUE_START = 64  # entries per delay slot of the spike or event queue before it first grows
    _RUN_QUEUE = True  # static per-synapse delays go through the run queue (False: one event per synapse; the same)

    def __new__(cls, *args, method: str = "clock", **kw):
        if method == "event":  # (no required arguments here: pickle and copy call __new__(cls) alone)
            from engine.run.event_driven import EventSimulator

            return EventSimulator(*args, **kw)
        if method != "clock":
            raise ValueError(f"Simulator: method = {method!r} is not allowed; choose 'clock' or 'event'")
        return super().__new__(cls)

    def __init__(self, network: Network, trials: int | Sequence[int] = 1, *, n_jobs: int | None = None,
                 chunk_ms: float = 100.0, comm=None, method: str = "clock", built: Built | None = None):
        trial_ids = check_run_settings("Simulator", trials, n_jobs, chunk_ms)
        if built is not None and (not isinstance(built, Built) or built.n_neurons != network.size
                                  or built.dt != network.dt or comm is not None):
            raise ValueError("Simulator: built must be what engine.build.builder.build(network) returned for this network "
                             "(same neurons and dt), and cannot be combined with comm (each rank builds its own share)")
        self.network = network
        self.trial_ids = trial_ids
        self.n_jobs = n_jobs
        self.chunk_steps = max(1, int(round(chunk_ms / network.dt)))
        n_blocks, own, self._mpi = None, None, None
        if comm is not None:
            from engine.parallel.mpi import SpikeExchange, check_comm

            n_blocks, *own = check_comm(comm, network.size, 1 if n_jobs is None else int(n_jobs), trial_ids.size,
                                        network=network, settings={"chunk_ms": chunk_ms})
            self._mpi = SpikeExchange(comm, *own)
        with deferred_interrupts():  # Ctrl-C or SIGTERM during the build: Interrupted between kernel calls
            self.built: Built = built if built is not None else \
                build(network) if own is None else build(network, n_blocks, tuple(own))
            if self._mpi is not None:  # a rank without synapses of some delay still runs every rank's intervals
                self.built.min_delay = int(comm.allreduce(self.built.min_delay, op=_mpi_op("MIN")))
                self.built.max_delay = int(comm.allreduce(self.built.max_delay, op=_mpi_op("MAX")))
            self._own = (0, self.built.blk_lo.size) if own is None else tuple(own)
            self._monitors()
            self._allocate()
        self._spike_overrides: list[dict] = [{} for _ in trial_ids]
        self._sg_dirty = True
        self.step = 0
        self._total_spikes = 0
        self._interrupted_at: np.ndarray | None = None
        self.compile_s: float | None = None
        self.last_run: RunStats | None = None
        self.last_plan: tuple | None = None  # how the last run used the threads (see _plan)

    # ------------------------------------------------------------------ set-up
    def _monitors(self) -> None:
        b = self.built
        names = b.names_pre()
        self._rec_names = sorted({m.source for m in self.network.monitors if isinstance(m, SpikeMonitor)},
                                 key=names.index)
        self.rec_mask = np.zeros(b.n_pre, dtype=np.uint8)
        bounds = b.pre_bounds()
        for name in self._rec_names:
            k = names.index(name)
            self.rec_mask[bounds[k]:bounds[k + 1]] = 1
        self._rate_names = list(dict.fromkeys(m.target for m in self.network.monitors
                                              if isinstance(m, RateMonitor)))
        self.rate_col = np.full(b.n_pre, -1, dtype=np.int32)  # rate-record column of each presynaptic index
        for col, name in enumerate(self._rate_names):
            k = names.index(name)
            self.rate_col[bounds[k]:bounds[k + 1]] = col
        idx, var, blocks = [], [], {}
        for m in self.network.monitors:
            if not isinstance(m, StateMonitor):
                continue
            if m.target not in b.pop_names:
                raise ValueError(f"StateMonitor: target = {m.target!r} is not a population; choose from {b.pop_names}")
            k = b.pop_names.index(m.target)
            size = int(b.pop_hi[k] - b.pop_lo[k])
            local = np.arange(size, dtype=np.int64) if m.indices is None else m.indices
            if local.size and (local.min() < 0 or local.max() >= size):
                raise ValueError(f"StateMonitor on {m.target!r}: indices contains {local.max()}; "
                                 f"neuron indices must lie in [0, {size})")
            for v in m.variables:  # one column block per (target, variable): only what was asked is stored
                if (m.target, v) in blocks:
                    raise ValueError(f"StateMonitor: {v!r} of {m.target!r} is recorded by two monitors; merge them "
                                     f"into one (indices=...)")
                blocks[(m.target, v)] = (sum(a.size for a in idx), local.size)
                idx.append(local + b.pop_lo[k])
                var.append(np.full(local.size, self.network.get(m.target).spec.slot(v), dtype=np.int8))
        every = {m.every for m in self.network.monitors if isinstance(m, StateMonitor)}
        if len(every) > 1:
            raise ValueError(f"StateMonitor: every = {sorted(every)} differ; all state monitors must share one every")
        self.st_every = every.pop() if every else 1
        self.st_idx = np.concatenate(idx).astype(np.int64) if idx else np.zeros(0, np.int64)
        self.st_var = np.concatenate(var) if var else np.zeros(0, np.int8)
        self._st_blocks = blocks
        self._spikes = {(name, int(t)): ([], []) for name in self._rec_names for t in self.trial_ids}
        self._rate_parts: list[np.ndarray] = []  # one (trials, steps, names) block per run
        self._state_parts: list[np.ndarray] = []  # one (trials, samples, columns) block per run

    def _allocate(self) -> None:
        b, B = self.built, self.trial_ids.size
        N = b.n_neurons
        NB = self._own[1] - self._own[0]  # the blocks this process owns: each has its queues
        n_pad = -(-N // 16) * 16  # rows of whole 64-byte lines, so every trial's row stays aligned
        D = b.max_delay + 1
        n_tm = b.stp["targets"].size
        check_fits(B * NB * D * (self._QUEUE_START * 20 + 16) + 5 * 8 * B * n_pad + 16 * B * n_tm
                   + 8 * B * NB * (b.n_pre if n_tm else 0),
                   f"Simulator: the state of {B} trial(s) of {N} neurons and {n_tm} dynamic synapses with a queue of "
                   f"{D} delay slots", "use shorter delays, a larger dt or fewer trials")
        self._V = _placed_zeros((B, n_pad), np.float64, 0)
        self.V = self._V[:, :N]
        self.V[:] = initial_potentials(self.network, self.trial_ids)
        self.V0 = self.V.copy()
        self._I_ex = _placed_zeros((B, n_pad), np.float64, 1)
        self._I_in = _placed_zeros((B, n_pad), np.float64, 2)
        self._ref = _placed_zeros((B, n_pad), np.int32, 3)
        self._I_ext = _placed_zeros((B, n_pad), np.float64, 4)
        self.I_ex, self.I_in, self.I_ext = self._I_ex[:, :N], self._I_in[:, :N], self._I_ext[:, :N]
        self.I_ext[:] = b.I_e
        self._flags = _placed_zeros((B, -(-N // 64) * 64), np.uint8, 5)  # whole 64-flag blocks for the scan
        # one queue per target block is in use, sized by what is in flight: it starts small and doubles when an
        # interval would overflow it (the kernel returns, the driver grows it, the trial resumes where it stopped)
        # per-synapse delays: runs of one delay (segments sorted by delay) when every synapse is static, else one
        # event per synapse (dynamic synapses compute their efficacy as the spike leaves); one delay per row: spikes
        queue = "spikes" if b.row_delays else ("events" if n_tm or not self._RUN_QUEUE else "runs")
        cap = self._QUEUE_START

        def sized(kind):
            return cap if queue == kind else 0
        self._queues = Queues(
            q_tgt=np.zeros((B, NB, D, sized("events")), dtype=np.int32),  # event queue: (target, weight)
            q_w=np.zeros((B, NB, D, sized("events")), dtype=np.float64),
            q_n=np.zeros((B, NB, D), dtype=np.int64),  # entries of the event or run queue per slot
            sq_pre=np.zeros((B, 1, D, sized("spikes")), dtype=np.int32),  # spike queue: (spike, count),
            sq_mult=np.zeros((B, 1, D, sized("spikes")), dtype=np.int32),  # one copy per worker
            sq_n=np.zeros((B, 1, D), dtype=np.int64),
            r_lo=np.zeros((B, NB, D, sized("runs")), dtype=np.int64),  # run queue: (first synapse, length, weight)
            r_len=np.zeros((B, NB, D, sized("runs")), dtype=np.int32),
            r_w=np.zeros((B, NB, D, sized("runs")), dtype=np.float64))
        st = b.stp
        self.stp_u = np.repeat(st["u0"][None, :], B, axis=0) if n_tm else np.zeros((B, 0))
        self.stp_x = np.repeat(st["x0"][None, :], B, axis=0) if n_tm else np.zeros((B, 0))
        self._stp_last = np.full((B, NB, b.n_pre if n_tm else 0), -1, dtype=np.int64)  # step of the last spike
        keys = [stream_keys(self.network.seed, named_stream("source", name, "spikes"), hi - lo, self.trial_ids)
                for name, (lo, hi) in b.pois["channels"].items()]
        self.pois_key = np.ascontiguousarray(np.concatenate(keys, axis=1)) if keys else \
            np.zeros((B, 0), dtype=np.uint64)
        self._current_overrides: list[dict] = [{} for _ in range(B)]
        self.n_events = np.zeros((B, 1 + b.blk_lo.size), dtype=np.int64)  # queued events; fused drives' per block
        fz = b.fused
        self._pois_skip = np.zeros(b.pois["n"] if fz["ch"].size else 0, dtype=np.uint8)
        self._pois_skip[fz["ch"]] = 1
        self._sampler = {k: b.pois[k] for k in ("p0", "lam3", "kmax", "cdf", "tab_idx", "guide")}  # all trials
        self._rate_overrides: dict[str, np.ndarray] = {}
        self._ctl = Control(t_start=np.zeros(B, np.int64), status=np.zeros(B, np.int64), resume=np.zeros(B, np.int64),
                            parity=np.zeros(B, np.int64), ilen=np.zeros(B, np.int64), bar=np.zeros((B, 2), np.int64),
                            dt=float(b.dt), own_lo=int(self._own[0]), own_hi=int(self._own[1]),
                            exchange=int(self._mpi is not None))
        self._spk_n = np.zeros(B, dtype=np.int64)
        self._spk_step = np.empty((B, self._MIN_RECORD_CAPACITY), dtype=np.int64)
        self._spk_id = np.empty((B, self._MIN_RECORD_CAPACITY), dtype=np.int32)
        self._sg = None
        self._buffers: Buffers | None = None
        self._buffer_shape: tuple | None = None
        self._compiled: set = set()

    def _nrn(self) -> Neurons:
        b, pa = self.built, self.built.pop_arrays
        return Neurons(b.pop_lo, b.pop_hi, pa["model"], pa["use_iext"], pa["par"], pa["ref_steps"], b.blk_lo, b.blk_hi)

    def _groups(self) -> tuple:
        b, st = self.built, self.built.stp
        conn = Conn(b.row_ptr, b.targets, b.w_syn, b.w_row, b.d_syn, b.d_row)
        stp = Stp(st["row_ptr"], st["targets"], st["w"], st["d_syn"], st["d_row"], st["U"], st["tau_rec"],
                  st["tau_fac"], self.stp_u, self.stp_x, self._stp_last)
        return conn, stp

    def _plan(self) -> tuple[str, int, int]:
        """How the next run uses the threads: ``("trials", threads, 1)`` runs trials side by side, ``("blocks", T,
        L)`` runs each trial with ``T`` workers exchanging spikes every ``L`` steps. Small networks stay on one
        thread: a barrier per interval costs more than the work it shares."""
        b = self.built
        if self._mpi is not None:  # this rank's blocks, one thread each, exchanging every interval
            T = self._own[1] - self._own[0]
            return ("blocks" if T > 1 else "trials"), T, int(min(max(b.min_delay, 1), _MAX_INTERVAL))
        avail = numba.config.NUMBA_NUM_THREADS if self.n_jobs is None else min(self.n_jobs,
                                                                                numba.config.NUMBA_NUM_THREADS)
        B = self.trial_ids.size
        if B > 1 or avail == 1:
            return "trials", max(1, min(avail, B)), 1
        L = int(min(max(b.min_delay, 1), _MAX_INTERVAL))
        T = min(avail, b.blk_lo.size)
        workers = int(np.count_nonzero(b.blk_hi > b.blk_lo))
        if T < 2 or workers < 2 or (self.n_jobs is None and b.n_neurons * L < _BLOCK_MIN_WORK):
            return "trials", 1, 1
        return "blocks", T, L

    def _ensure_buffers(self, L: int) -> Buffers:
        """Spike buffers of one interval of ``L`` steps per (trial, parity, block)."""
        b, B, NB = self.built, self.trial_ids.size, self.built.blk_lo.size
        n_ch = b.pois["n"]
        per_step = _max_events_per_step(self._sg) if self._sg is not None else 0
        sizes = (b.blk_hi - b.blk_lo) + (np.arange(1, NB + 1) * n_ch // NB - np.arange(NB) * n_ch // NB)
        cap = int(L * (int(sizes.max()) + per_step))
        shape = (B, NB, L, cap)
        if self._buffer_shape != shape:
            check_fits(B * 2 * NB * cap * 8, f"Simulator: spike buffers of {L} steps for {B} trial(s)",
                       "use fewer trials per Simulator")
            self._buffers = Buffers(ids=np.zeros((B, 2, NB, cap), np.int32), mult=np.zeros((B, 2, NB, cap), np.int32),
                                    ends=np.zeros((B, 2, NB, L, 3), np.int64), need=np.zeros((B, 2, NB), np.int64),
                                    nrec=np.zeros((B, 2, NB), np.int64), nsp=np.zeros((B, 2, NB), np.int64),
                                    headroom=np.zeros((B, 2, NB), np.int64))
            self._buffer_shape = shape
        return self._buffers

    # ------------------------------------------------------------------ inputs
    def set_spikes(self, source: str, spikes: Sequence[tuple]) -> None:
        """Give a :class:`SpikeSource` different spike trains per trial: ``spikes[b] = (times_ms, indices)``.

        Spikes before the current time are ignored; call before :meth:`run`.
        """
        src = self.network.get(source)
        if not isinstance(src, SpikeSource):
            raise ValueError(f"set_spikes: {source!r} is a {type(src).__name__}, not a SpikeSource")
        if len(spikes) != self.trial_ids.size:
            raise ValueError(f"set_spikes: got spike trains for {len(spikes)} trials; this simulator runs "
                             f"{self.trial_ids.size}")
        for b, (times, indices) in enumerate(spikes):
            owner = f"set_spikes({source!r}) trial {b}"
            t, i = check_spike_arrays(owner, times, indices, src.size)
            grid_steps(owner, "times", t, self.network.dt)
            self._spike_overrides[b][source] = (t, i)
        self._sg_dirty = True

    def set_rates(self, source: str, rates) -> None:
        """Give a :class:`PoissonSource` different rates (Hz) per trial.

        ``rates[b]`` has the shape of the source's own ``rate``: a number, one rate per channel, or, when the source
        has ``rate_times``, one row per change time. Trial ``b`` then draws its spikes at ``rates[b]`` (from its
        own random stream, as always). Applies from the next :meth:`run` on.
        """
        src = self.network.get(source)
        if not isinstance(src, PoissonSource):
            raise ValueError(f"set_rates: {source!r} is a {type(src).__name__}, not a PoissonSource")
        B = self.trial_ids.size
        try:
            arr = np.asarray(rates, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"set_rates({source!r}): rates must be numbers (Hz)") from None
        n_t = None if src.rate_times is None else src.rate_times.size
        allowed = [(B,), (B, src.size)] if n_t is None else [(B, n_t), (B, n_t, src.size)]
        if arr.shape not in allowed:
            raise ValueError(f"set_rates({source!r}): rates has shape {arr.shape}; with {B} trials it must be one of "
                             f"{allowed}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"set_rates({source!r}): rates must be finite and >= 0 Hz")
        self._rate_overrides[source] = arr
        self._sampler = None  # rebuilt (and checked against dt) by the next run
        self._sg_dirty = True

    def set_currents(self, source: str, amplitudes: Sequence) -> None:
        """Give a :class:`CurrentSource` different amplitudes (pA) per trial: ``amplitudes[b]`` has the shape of the
        source's own ``amplitude``. Applies from the next :meth:`run` on (the current then is as if these
        amplitudes had always been there)."""
        src = self.network.get(source)
        if not isinstance(src, CurrentSource):
            raise ValueError(f"set_currents: {source!r} is a {type(src).__name__}, not a CurrentSource")
        if len(amplitudes) != self.trial_ids.size:
            raise ValueError(f"set_currents: got amplitudes for {len(amplitudes)} trials; this simulator runs "
                             f"{self.trial_ids.size}")
        for b, amp in enumerate(amplitudes):
            arr = np.asarray(amp, dtype=np.float64)
            if arr.shape != src.amplitude.shape:
                raise ValueError(f"set_currents({source!r}) trial {b}: amplitude has shape {arr.shape}; it must have "
                                 f"the source's shape {src.amplitude.shape}")
            src.replace(amplitude=arr)  # the source's own checks (finite values)
            self._current_overrides[b][source] = arr
        self._sg_dirty = True

    def _current_inputs(self) -> None:
        """Per-trial current events (shared when no trial has its own amplitudes), and ``I_ext`` as it stands at the
        current step: events before it are applied here, the kernel takes over from there."""
        B = self.trial_ids.size
        if any(self._current_overrides):
            per_trial = [current_events(self.network, self.built, ov) for ov in self._current_overrides]
        else:
            per_trial = [self.built.currents]
        self._cur = {k: np.concatenate([e[k] for e in per_trial]) for k in ("step", "idx", "val")}
        ends = np.cumsum([e["step"].size for e in per_trial])
        starts = ends - np.array([e["step"].size for e in per_trial])
        if len(per_trial) == 1:
            starts, ends = np.repeat(starts, B), np.repeat(ends, B)
        self._cur_pos = np.empty(B, dtype=np.int64)
        self._cur_end = ends.astype(np.int64)
        self.I_ext[:] = self.built.I_e
        for k in range(B):
            lo, hi = int(starts[k]), int(ends[k])
            past = lo + int(np.searchsorted(self._cur["step"][lo:hi], self.step, side="left"))
            self.I_ext[k, self._cur["idx"][lo:past]] = self._cur["val"][lo:past]  # later events overwrite earlier
            self._cur_pos[k] = past

    def _poisson_sampler(self) -> dict:
        """Sampler tables for per-trial rates: the shared means, with each overridden source's rows replaced."""
        b = self.built
        p = b.pois
        lam = np.repeat(p["lam"][None], self.trial_ids.size, axis=0)
        for name, rates in self._rate_overrides.items():
            src = self.network.get(name)
            lo, hi = p["channels"][name]
            for k in range(self.trial_ids.size):
                lam[k, :, lo:hi] = segment_rates(src, rates[k], p["seg_step"], b.dt) * b.dt * 1e-3
        return poisson_sampler(lam, b.dt)

    def _prepare_inputs(self) -> None:
        """Flatten spike-generator events and build per-trial Poisson tables."""
        if self._sampler is None:
            self._sampler = self._poisson_sampler()
        self._current_inputs()
        self._sg = spike_generator_events(self.network, self.built, self._spike_overrides, self.step)
        self._sg_cur = self._sg[2][:-1].copy()
        self._sg_dirty = False
        self._buffer_shape = None  # resized for the generators' busiest step by the next run

    # ------------------------------------------------------------------ running
    @property
    def t(self) -> float:
        """Current simulation time (ms)."""
        return self.step * self.network.dt

    def run(self, duration_ms: float, *, sinks: Iterable = (), keep: bool = True, progress: bool | None = None
            ) -> "Simulator":
        """Advance every trial by ``duration_ms`` (ms, a multiple of dt); continues from where the last run ended.

        Parameters
        ----------
        sinks : iterable of objects with ``write(population, trial, times_ms, node_ids)``
            Receive the spikes of every :class:`SpikeMonitor` after each chunk (e.g.
            :class:`engine.io.spikefile.SpikeFileWriter`); ``advance(t_ms)`` is called after each chunk when the sink
            has it. If the run is interrupted (Ctrl-C), every spike simulated so far has been handed over.
        keep : bool, default=True
            Keep recorded spikes in memory (set False on long runs that stream to a sink).
        progress : bool, optional
            Show a tqdm bar (biological time, real-time factor, events/s). Default: when stderr is a terminal or
            the code runs in a Jupyter notebook, and only once the run has lasted two seconds.
        """
        dt = self.network.dt
        if isinstance(duration_ms, (bool, np.bool_)) or not isinstance(duration_ms, (int, float, np.number)):
            raise TypeError(f"run: duration_ms = {duration_ms!r} is not allowed; it must be a number of ms "
                            f"(got {type(duration_ms).__name__})")
        duration_ms = float(duration_ms)
        n_steps = int(round(duration_ms / dt)) if math.isfinite(duration_ms) else -1
        if n_steps < 0 or grid_offset(duration_ms / dt) > 0:  # off by a millionth of a step, however long
            raise ValueError(f"run: duration_ms = {duration_ms} is not allowed; it must be a non-negative multiple "
                             f"of dt = {dt} ms")
        if self._interrupted_at is not None:
            raise RuntimeError(f"run: an earlier run was interrupted while trials were at different steps "
                               f"({self._interrupted_at.tolist()}); create a new Simulator to continue")
        sinks = list(sinks)
        if progress is None:
            progress = interactive()
        if self._mpi is not None and progress:
            progress = self._mpi.comm.Get_rank() == 0  # one bar, on rank 0
        with deferred_interrupts() as signals:  # from here on (over MPI: every collective) Ctrl-C waits for a check
            if self._mpi is not None:  # decided together: a rank that stopped alone would leave the others waiting
                given = self._mpi.comm.allgather(bool(sinks))
                if any(given[1:]):
                    raise ValueError(f"run: sinks were given on MPI rank(s) "
                                     f"{[r for r in range(1, len(given)) if given[r]]}; that is not allowed: rank 0 "
                                     f"holds every spike and writes the sinks alone, so pass sinks=[] on the other "
                                     f"ranks")
            if self._sg_dirty:
                self._prepare_inputs()
            plan = self._plan()
            record = self._new_record(n_steps)  # refused here, before compiling, when it cannot fit
            self.compile(plan)
            self._check_signals(signals)
            events0 = int(self.n_events.sum())
            spikes0 = self._total_spikes
            t0 = time.perf_counter()
            t_stop = self.step + n_steps
            bar = progress_bar(n_steps * dt, progress)
            old_threads = numba.get_num_threads()
            self._record = record
            advancing = [sink for sink in sinks if hasattr(sink, "advance")]
            try:
                numba.set_num_threads(plan[1])
                for sink in advancing:  # the time reached so far, before the first chunk adds to it
                    sink.advance(float(step_times(self.step, dt)))
                while self.step < t_stop:
                    t_end = min(self.step + self.chunk_steps, t_stop)
                    chunk_ms = (t_end - self.step) * dt
                    self._run_until(t_end, sinks, keep, plan)
                    for sink in advancing:  # lets a file sink flush on its wall-clock schedule, spikes or none
                        sink.advance(float(step_times(t_end, dt)))
                    if bar is not None:
                        wall = max(time.perf_counter() - t0, 1e-9)
                        bar.update(chunk_ms)
                        bar.set_postfix(rtf=f"{(t_end - t_stop + n_steps) * dt * 1e-3 / wall:.2f}",
                                        ev_s=f"{(self.n_events.sum() - events0) / wall:.3g}")
                    self._check_signals(signals)  # between chunks, with every spike so far handed over
            finally:
                self._keep_record(self._record)
                numba.set_num_threads(old_threads)
                if bar is not None:
                    bar.close()
        events = int(self.n_events.sum()) - events0
        if self._mpi is not None:  # every rank: the other ranks' neurons, events onto every rank's targets
            lo, hi = self.built.blk_lo[self._own[0]], self.built.blk_hi[self._own[1] - 1]
            self._mpi.gather_neurons([self.V, self.I_ex, self.I_in], int(lo), int(hi))
            events = self._mpi.allreduce_sum(events)
        self.last_plan = plan
        self.last_run = RunStats(duration_ms=n_steps * dt, wall_s=time.perf_counter() - t0,
                                 spikes=self._total_spikes - spikes0, synaptic_events=events)
        return self

    def _check_signals(self, signals: deferred_interrupts) -> None:
        """Raise :class:`~engine.interrupt.Interrupted` if Ctrl-C or SIGTERM arrived; over MPI ranks if it arrived
        at any rank, on every rank (decided together: a rank that stopped alone would leave the others waiting in
        an exchange)."""
        if self._mpi is not None:
            signals.signum = self._mpi.comm.allreduce(signals.signum or 0, op=_mpi_op("MAX")) or None
        signals.check()

    def _run_until(self, t_end: int, sinks: list, keep: bool, plan: tuple) -> None:
        t_start = self._ctl.t_start
        t_start[:] = self.step
        try:
            self._run_trials(t_end, sinks, keep, plan)
        finally:  # after an interruption: continue from where every trial is, if they agree
            if np.all(t_start == t_start[0]) and not self._ctl.resume.any():
                self.step = int(t_start[0])
            else:
                self._interrupted_at = t_start.copy()

    def _run_trials(self, t_end: int, sinks: list, keep: bool, plan: tuple) -> None:
        """Call the kernel until every trial reaches ``t_end``, draining the spike record after each call and
        growing the queue (or the record) when a trial stopped because it was full; that trial resumes in the
        interval it stopped in."""
        ctl = self._ctl
        while int(ctl.t_start.min()) < t_end or ctl.resume.any():
            try:
                call = self._kernel_call(t_end, self._record, plan)
                call()
                while ctl.status[0] == EXCHANGE:  # one trial over MPI ranks: one exchange per interval
                    self._exchange()
                    call()
            finally:  # hand over what was recorded even when interrupted
                self._drain(sinks, keep)
            if np.any(ctl.status == STALLED):
                raise RuntimeError(f"Simulator: the {plan[1]} workers of a block-parallel run did not all start; "
                                   f"numba runs fewer threads than asked ({numba.get_num_threads()}); pass n_jobs=1")
            if np.any(ctl.status == QUEUE_FULL):
                self._grow_queue()
            if np.any(ctl.status == RECORD_FULL):
                self._grow_record()

    def _new_record(self, n_steps: int) -> tuple:
        """Rate and state record blocks for the next ``n_steps`` steps, which the kernel fills at absolute rows;
        refused with the figures before allocation when they would not fit in memory."""
        B = self.trial_ids.size
        rows = (self.step + n_steps) // self.st_every - self.step // self.st_every if self.st_idx.size else 0
        shapes = ((B, n_steps if self._rate_names else 0, len(self._rate_names)), (B, rows, self.st_idx.size))
        need = 4 * int(np.prod(shapes[0])) + 8 * int(np.prod(shapes[1]))
        check_fits(need, f"Simulator.run: recording {len(self._rate_names)} RateMonitor(s) and "
                         f"{self.st_idx.size} StateMonitor column(s) for {n_steps} steps of {B} trial(s)",
                   "record fewer neurons or variables, sample less often (StateMonitor every=...), or run shorter "
                   "pieces and read the records in between")
        return (np.zeros(shapes[0], dtype=np.int32), self.step, np.full(shapes[1], np.nan),
                self.step // self.st_every)

    def _keep_record(self, record: tuple) -> None:
        """Keep the rows of ``record`` that every trial has reached (all of them unless interrupted)."""
        rate, rate_base, state, st_base = record
        reached = self.step if self._interrupted_at is None else int(self._interrupted_at.min())
        if rate.shape[1]:
            self._rate_parts.append(rate[:, :reached - rate_base])
        if state.shape[1]:
            if self._mpi is not None:  # each rank sampled its own neurons
                b = self.built
                lo, hi = b.blk_lo[self._own[0]], b.blk_hi[self._own[1] - 1]
                state = self._mpi.gather_columns(state, (self.st_idx >= lo) & (self.st_idx < hi))
            self._state_parts.append(state[:, :reached // self.st_every - st_base])

    def _exchange(self) -> None:
        """Join the interval's spike buffers of every rank (:class:`engine.parallel.mpi.SpikeExchange`)."""
        b, q, ctl = self.built, self._queues, self._ctl
        self._mpi(int(ctl.parity[0]), int(ctl.ilen[0]), self._buffers, b.row_ptr, b.stp["row_ptr"], self.rec_mask,
                  b.max_delay + 1, q.r_lo.shape[3] > 0)

    def _call_kernel(self, t_end: int, record: tuple, plan: tuple) -> None:
        self._kernel_call(t_end, record, plan)()

    def _kernel_call(self, t_end: int, record: tuple, plan: tuple):
        """The kernel call towards ``t_end`` as a function of no arguments (called again after each exchange)."""
        p, sm, fz = self.built.pois, self._sampler, self.built.fused
        rate, rate_base, state, st_base = record
        mode, T, L = plan
        conn, stp = self._groups()
        inputs = Inputs(p["pre0"], self.pois_key, p["seg_step"], sm["p0"], sm["lam3"], sm["kmax"], sm["cdf"],
                        sm["tab_idx"], self._sg[0], self._sg[1], self._sg[2], self._sg_cur, self._cur["step"],
                        self._cur["idx"], self._cur["val"], self._cur_pos, self._cur_end, self._pois_skip, fz["ptr"],
                        fz["tgt"], fz["ch"], fz["w"], fz["d"], sm["guide"])
        rec = Records(self.rec_mask, self._spk_step, self._spk_id, self._spk_n, self.n_events, self.rate_col,
                      rate_base, rate, self.st_idx, self.st_var, self.st_every, st_base, state)
        state_arrays = State(self._V, self._I_ex, self._I_in, self._ref, self._I_ext, self._flags)
        queues = self._spike_queue_copies(T if mode == "blocks" else 1)
        args = (t_end, L, self._ctl, self._nrn(), state_arrays, conn, stp, inputs, queues, self._ensure_buffers(L), rec)
        if mode == "blocks":
            return lambda: run_blocks_parallel(T, *args)
        return lambda: (run_trials_parallel if T > 1 else run_trials_serial)(*args)

    def compile(self, plan: tuple | None = None) -> float:
        """Compile the simulation kernel for this network and the way the next run uses the threads (or load it
        from Numba's cache) without advancing time; returns the seconds compilation has taken so far. :meth:`run`
        calls it first, so its timings never include compilation."""
        if self._sg_dirty:
            self._prepare_inputs()
        plan = self._plan() if plan is None else plan
        key = (plan[0], plan[1] > 1)
        if key not in self._compiled:
            t0 = time.perf_counter()
            self._ctl.t_start[:] = self.step
            self._call_kernel(self.step, self._new_record(0), plan)
            self._compiled.add(key)
            self.compile_s = (self.compile_s or 0.0) + time.perf_counter() - t0
        return self.compile_s

    def _spike_queue_copies(self, copies: int) -> Queues:
        """The queues, with one spike-queue copy per worker (every copy holds the same spikes between calls)."""
        q = self._queues
        if q.sq_n.shape[1] != copies:
            self._queues = q = q._replace(**{name: np.ascontiguousarray(np.repeat(getattr(q, name)[:, :1], copies, 1))
                                             for name in ("sq_pre", "sq_mult", "sq_n")})
        return q

    def _grow_queue(self) -> None:
        """Double the capacity of the queue in use (the event queue with per-synapse delays, else the spike
        queue) until every stopped trial's interval fits, keeping what is in flight."""
        q, ctl, buf = self._queues, self._ctl, self._buffers
        events, runs = q.q_tgt.shape[3] > 0, q.r_lo.shape[3] > 0
        fills = q.q_n if events or runs else q.sq_n
        names = ("q_tgt", "q_w") if events else (("r_lo", "r_len", "r_w") if runs else ("sq_pre", "sq_mult"))
        cap = getattr(q, names[0]).shape[3]
        need = cap
        for k in np.flatnonzero(ctl.status == QUEUE_FULL):
            par = int(ctl.parity[k])
            add = int((buf.need if events else buf.nsp)[k, par].sum())
            need = max(need, int(fills[k].max()) + add)
        new_cap = cap
        while new_cap < need:
            new_cap *= 2
        if new_cap == cap:
            return
        grown = {}
        for name in names:
            old = getattr(q, name)
            B, NB, D, _ = old.shape
            check_fits(B * NB * D * new_cap * old.itemsize, f"Simulator: the spike delivery queue ({D} delay slots)",
                       "use shorter delays or fewer trials per Simulator")
            arr = np.zeros((B, NB, D, new_cap), dtype=old.dtype)
            arr[..., :cap] = old
            grown[name] = arr
        self._queues = q._replace(**grown)

    def _grow_record(self) -> None:
        """Make the spike record hold the largest pending interval of a stopped trial (it was drained already)."""
        ctl, buf = self._ctl, self._buffers
        need = max(int(buf.nrec[k, int(ctl.parity[k])].sum()) for k in np.flatnonzero(ctl.status == RECORD_FULL))
        if need > self._spk_step.shape[1]:
            B = self.trial_ids.size
            cap = max(2 * self._spk_step.shape[1], need)
            check_fits(B * cap * 12, "Simulator: the spike record", "record fewer populations")
            self._spk_step = np.empty((B, cap), dtype=np.int64)
            self._spk_id = np.empty((B, cap), dtype=np.int32)

    def _drain(self, sinks: list, keep: bool) -> None:
        b = self.built
        spk_n = self._spk_n.copy()
        self._spk_n[:] = 0
        names = b.names_pre()
        bounds = b.pre_bounds()
        dt = self.network.dt
        total = 0
        for k, trial in enumerate(self.trial_ids):
            n = int(spk_n[k])
            total += n
            if n == 0:
                continue
            steps = self._spk_step[k, :n]
            ids = self._spk_id[k, :n].astype(np.int64)
            group = np.searchsorted(bounds, ids, side="right") - 1
            order = np.argsort(group, kind="stable")
            g_sorted = group[order]
            cuts = np.searchsorted(g_sorted, np.arange(len(names) + 1))
            for name in self._rec_names:
                g = names.index(name)
                sel = order[cuts[g]:cuts[g + 1]]
                if sel.size == 0:
                    continue
                st = steps[sel].copy()
                local = ids[sel] - bounds[g]
                if keep:
                    self._spikes[(name, int(trial))][0].append(st)
                    self._spikes[(name, int(trial))][1].append(local)
                for sink in sinks:
                    sink.write(name, int(trial), step_times(st, dt), local)
        self._total_spikes += total

    # ------------------------------------------------------------------ results
    def spikes(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (ms, float64) and neuron indices (int64, local to ``name``) recorded from ``name``.

        A spike in step ``k`` has time ``k · dt`` (Brian2's convention; state samples are stamped at the end of
        their step instead, see :meth:`state`), computed as the float nearest the decimal value (999.8, not
        999.8000000000001). ``trial`` is a trial id (default: the first trial).
        """
        steps, ids = self.spike_steps(name, trial)
        return step_times(steps, self.network.dt), ids

    def spike_steps(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`spikes` but with integer step indices (int64) instead of times."""
        trial = int(self.trial_ids[0]) if trial is None else int(trial)
        if (name, trial) not in self._spikes:
            raise KeyError(f"no spikes recorded for {name!r}, trial {trial}; SpikeMonitors record "
                           f"{self._rec_names} for trials {self.trial_ids.tolist()}")
        steps, ids = self._spikes[(name, trial)]
        return (np.concatenate(steps) if steps else np.zeros(0, np.int64),
                np.concatenate(ids) if ids else np.zeros(0, np.int64))

    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes of a :class:`RateMonitor` target in every step, int32 of shape ``(trials, steps)``: row ``b`` is
        trial ``trial_ids[b]``, column ``k`` counts the spikes at time ``k · dt``. A view of the record."""
        if name not in self._rate_names:
            raise KeyError(f"no RateMonitor on {name!r}; rate monitors record {self._rate_names}")
        data = _joined(self._rate_parts, (self.trial_ids.size, 0, len(self._rate_names)), np.int32)
        return data[:, :, self._rate_names.index(name)]

    def rate(self, name: str) -> np.ndarray:
        """Population rate (Hz) of a :class:`RateMonitor` target in every step, float64 of shape ``(trials,
        steps)``: spikes in the step divided by ``size · dt`` (Brian2's ``PopulationRateMonitor.rate``). See
        :meth:`spike_counts` for the integer counts."""
        counts = self.spike_counts(name)
        k = self.built.names_pre().index(name)
        size = int(np.diff(self.built.pre_bounds())[k])
        return counts / (size * self.network.dt * 1e-3)

    def state(self, target: str, variable: str = "V") -> tuple[np.ndarray, np.ndarray]:
        """Samples of ``variable`` from the StateMonitor on ``target``: times (ms) and values, float64 of shape
        ``(trials, samples, n_indices)`` (a view of the record: no copy).

        The sample at time ``t`` is the state at the end of the step that ends at ``t``: samples are stamped
        ``(k + 1) · dt`` for step ``k`` (a spike in step ``k`` is stamped ``k · dt``), as NEST's multimeter does.
        """
        if variable not in state_variables():
            raise ValueError(f"state: variable = {variable!r} is not allowed; choose from {state_variables()}")
        if (target, variable) not in self._st_blocks:
            raise KeyError(f"no StateMonitor records {variable!r} of {target!r}")
        col, n = self._st_blocks[(target, variable)]
        data = _joined(self._state_parts, (self.trial_ids.size, 0, self.st_idx.size), np.float64)
        values = data[:, :, col:col + n]
        times = step_times((np.arange(values.shape[1], dtype=np.int64) + 1) * self.st_every, self.network.dt)
        return times, values

    @property
    def exchange(self):
        """The :class:`engine.parallel.mpi.SpikeExchange` of a network split over MPI ranks (its calls, bytes and seconds so
        far), or None in one process."""
        return self._mpi

    def memory_report(self) -> dict:
        """Bytes of connectivity (and per synapse) and of the simulation state; under MPI (``comm``) those of this
        rank, with its ``rank`` and the number of ``ranks``."""
        b = self.built
        state = sum(a.nbytes for a in (self._V, self._I_ex, self._I_in, self._ref, self._I_ext, self.stp_u,
                                       self.stp_x, self._stp_last, *self._queues))
        out = {"synapses": b.n_synapses, "connectivity_bytes": b.connectivity_bytes(),
               "bytes_per_synapse": b.bytes_per_synapse(), "state_bytes": int(state)}
        if self._mpi is not None:
            out.update(rank=self._mpi.comm.Get_rank(), ranks=self._mpi.comm.Get_size())
        return out

    def __repr__(self) -> str:
        """One line: neurons per population, synapses, dt, trials and the time reached."""
        net = self.network
        pops = ", ".join(f"{p.name} {p.size:,}" for p in net.populations[:4])
        pops += f", ... ({len(net.populations)} in all)" if len(net.populations) > 4 else ""
        synapses = getattr(getattr(self, "built", None), "n_synapses", None)
        ids = [int(k) for k in self.trial_ids]
        trials = str(len(ids)) if ids == list(range(len(ids))) else (
            str(ids) if len(ids) <= 8 else f"[{', '.join(map(str, ids[:8]))}, ...] ({len(ids)} trials)")
        return (f"Simulator({net.size:,} neurons ({pops}), "
                + (f"{int(synapses):,} synapses, " if synapses is not None else "")
                + f"dt={net.dt:g} ms, trials={trials}, t={self.t:g} ms)")


def _mpi_op(name: str):
    """An mpi4py reduction (``MIN``, ``MAX``); mpi4py is imported only when a communicator is in use."""
    from mpi4py import MPI

    return getattr(MPI, name)


def _placed_zeros(shape: tuple, dtype, slot: int) -> np.ndarray:
    """Zeros whose data start on a 64-byte boundary (no AVX-512 load splits a cache line), at ``slot`` · 576 bytes
    modulo 4 KiB, so that the per-neuron arrays one loop streams through never alias each other in the store
    buffer (4K aliasing). Both effects changed the neuron loop's speed by up to 15 % from run to run."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(nbytes + 8192, dtype=np.uint8)
    start = (-raw.ctypes.data + slot * 576) % 4096
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _joined(parts: list, empty_shape: tuple, dtype) -> np.ndarray:
    """The record blocks of successive runs as one array along the time axis; the blocks are replaced by the joined
    array, so asking again costs no copy."""
    if not parts:
        return np.zeros(empty_shape, dtype=dtype)
    if len(parts) > 1:
        parts[:] = [np.concatenate(parts, axis=1)]
    return parts[0]


def _max_events_per_step(sg: tuple) -> int:
    """Largest number of spike-generator events falling on one step of one trial."""
    pre, steps, ptr = sg
    best = 0
    for b in range(ptr.size - 1):
        st = steps[ptr[b]:ptr[b + 1]]
        if st.size:
            best = max(best, int(np.unique(st, return_counts=True)[1].max()))
    return best
