"""The clock-driven mode: B trials of one built network on the grid of ``dt`` (exact propagators), advanced by the
compiled network kernel (:mod:`engine.kernels.network`) in chunks of many steps.

:class:`ClockSimulator` is what ``Simulator(net)`` (``method="clock"``, the default) returns; the run loop, the
per-trial input setters and the results are the shared driver's (:mod:`engine.run.base`). Here: the state arrays
and queues of every trial, the kernel call towards the end of a chunk (resumed after the queue or the spike record
grew, or after each spike exchange of a network split over MPI ranks), how a run uses the threads (trials side by
side, or one trial's target blocks on several threads), and the per-trial input tables.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numba
import numpy as np

from engine.build.builder import Built, build, current_events, poisson_sampler, segment_rates, spike_generator_events
from engine.build.memory import check_fits
from engine.interrupt import Interrupted, deferred_interrupts
from engine.kernels.network import (EXCHANGE, QUEUE_FULL, RECORD_FULL, STALLED, Buffers, Conn, Control, Inputs,
                                    Neurons, Queues, Records, State, Stp, run_blocks_parallel, run_trials_parallel,
                                    run_trials_serial)
from engine.kernels.state import stream_keys
from engine.network.description import Network
from engine.network.grid import grid_offset, step_times
from engine.random import named_stream
from engine.run.base import Simulator
from engine.run.initial_state import initial_potentials
from engine.run.recorder import StepRecorder

_BLOCK_MIN_WORK = 50_000  # neuron-steps per interval below which one trial on several threads waits more than works
_MAX_INTERVAL = 64  # steps per exchange interval of block-parallel runs (bounds the spike buffers)


class ClockSimulator(Simulator, method="clock"):
    """The clock-driven :class:`~engine.run.simulator.Simulator` (``method="clock"``); its parameters are the
    Simulator's.

    Attributes
    ----------
    built : Built
        The flat arrays (connectivity, propagators, stimulus tables).
    step : int
        Steps simulated so far.
    V, I_ex, I_in, I_ext : ndarray of shape (trials, n_neurons)
        Current state (mV, pA), views of the arrays the kernel updates.
    last_plan : tuple or None
        How the last run used the threads: ``("trials", threads, 1)`` or ``("blocks", workers, interval)``.
    """

    _MIN_RECORD_CAPACITY = 1 << 18  # spikes per trial held between two drains
    _QUEUE_START = 64  # entries per delay slot of the spike or event queue before it first grows
    _RUN_QUEUE = True  # static per-synapse delays go through the run queue (False: one event per synapse; the same)

    def __init__(self, network: Network, trials: int | Sequence[int] = 1, *, n_jobs: int | None = None,
                 chunk_ms: float = 100.0, comm=None, method: str = "clock", built: Built | None = None):
        super().__init__(network, trials, n_jobs=n_jobs, chunk_ms=chunk_ms)
        trial_ids = self.trial_ids
        if built is not None and (not isinstance(built, Built) or built.n_neurons != network.size
                                  or built.dt != network.dt or comm is not None):
            raise ValueError("Simulator: built must be what engine.build.builder.build(network) returned for this "
                             "network (same neurons and dt), and cannot be combined with comm (each rank builds its "
                             "own share)")
        self.chunk_steps = max(1, int(round(chunk_ms / network.dt)))
        n_blocks, own = None, None
        if comm is not None:
            from engine.parallel.mpi import SpikeExchange, check_comm

            n_blocks, *own = check_comm(comm, network.size, 1 if n_jobs is None else int(n_jobs), trial_ids.size,
                                        network=network, settings={"chunk_ms": chunk_ms})
            self._mpi = SpikeExchange(comm, *own)
        # Ctrl-C or SIGTERM during the build: Interrupted between kernel calls; over MPI ranks carried into the first
        # run's check, where every rank takes it together (one rank stopping alone would leave the others waiting)
        with deferred_interrupts(carry=comm is not None):
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
        self._interrupted_at: np.ndarray | None = None
        self.last_plan: tuple | None = None  # how the last run used the threads (see _plan)

    # ------------------------------------------------------------------ set-up
    def _monitors(self) -> None:
        b = self.built
        self._recorder = rec = StepRecorder(self.network, self.trial_ids, b.names_pre(), b.pre_bounds(),
                                            lambda target, v: self.network.get(target).spec.slot(v))
        self.rec_mask = rec.mask(rec.spike_names, b.n_pre)
        self.rate_col = rec.rate_columns(b.n_pre)  # rate-record column of each presynaptic index

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
    def _check_inputs_open(self, what: str) -> None:
        """Per-trial inputs apply from the next run on, at any time."""

    def _set_spikes(self, source: str, trains: list) -> None:
        for b, train in enumerate(trains):
            self._spike_overrides[b][source] = train
        self._sg_dirty = True

    def _set_rates(self, source: str, rates: np.ndarray) -> None:
        self._rate_overrides[source] = rates
        self._sampler = None  # rebuilt (and checked against dt) by the next run
        self._sg_dirty = True

    def _set_currents(self, source: str, amplitudes: list) -> None:
        for b, arr in enumerate(amplitudes):
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

    def _now(self) -> int:
        return self.step

    def _ms(self, when: int) -> float:
        return float(step_times(when, self.network.dt))

    def _chunk(self) -> int:
        return self.chunk_steps

    def _events(self) -> int:
        return int(self.n_events.sum())

    def _threads(self) -> int:
        return self._run_plan[1]

    def _run_length(self, duration_ms: float) -> tuple[int, float]:
        dt = self.network.dt
        n_steps = int(round(duration_ms / dt)) if math.isfinite(duration_ms) else -1
        if n_steps < 0 or grid_offset(duration_ms / dt) > 0:  # off by a millionth of a step, however long
            raise ValueError(f"run: duration_ms = {duration_ms} is not allowed; it must be a non-negative multiple "
                             f"of dt = {dt} ms")
        if self._interrupted_at is not None:
            raise RuntimeError(f"run: an earlier run was interrupted while trials were at different steps "
                               f"({self._interrupted_at.tolist()}); create a new Simulator to continue")
        return n_steps, n_steps * dt

    def _open_run(self, sinks: list, progress: bool) -> bool:
        if self._mpi is None:
            return super()._open_run(sinks, progress)
        # decided together: a rank that stopped alone would leave the others waiting
        given = self._mpi.comm.allgather((bool(sinks), self._sink_problem(sinks)))
        if any(has for has, _ in given[1:]):
            raise ValueError(f"run: sinks were given on MPI rank(s) {[r for r in range(1, len(given)) if given[r][0]]};"
                             f" that is not allowed: rank 0 holds every spike and writes the sinks alone, so pass "
                             f"sinks=[] on the other ranks")
        if given[0][1]:
            raise ValueError(given[0][1])
        return progress and self._mpi.comm.Get_rank() == 0  # one bar, on rank 0

    def _prepare_run(self, n_steps: int) -> None:
        if self._sg_dirty:
            self._prepare_inputs()
        self._run_plan = self._plan()
        self._record = self._new_record(n_steps)  # refused here, before compiling, when it cannot fit
        self.compile()

    def _close_run(self, events: int) -> int:
        if self._mpi is not None:  # every rank: the other ranks' neurons, events onto every rank's targets
            lo, hi = self.built.blk_lo[self._own[0]], self.built.blk_hi[self._own[1] - 1]
            self._mpi.gather_neurons([self.V, self.I_ex, self.I_in], int(lo), int(hi))
            events = self._mpi.allreduce_sum(events)
        self.last_plan = self._run_plan
        return events

    def _check_signals(self, signals: deferred_interrupts) -> None:
        """Raise :class:`~engine.interrupt.Interrupted` if Ctrl-C or SIGTERM arrived; over MPI ranks if it arrived
        at any rank, on every rank (decided together: a rank that stopped alone would leave the others waiting in
        an exchange)."""
        if self._mpi is None:
            signals.check()
            return
        # what this rank contributes is read once: a signal that arrives during or after the allreduce waits for the
        # next check (reading it again after the allreduce let one rank stop alone and the others hang in the next
        # exchange: issue 25, major 13)
        mine = signals.signum
        agreed = self._mpi.comm.allreduce(mine or 0, op=_mpi_op("MAX"))
        if agreed:
            signals.signum = None  # taken now, by every rank
            raise Interrupted(agreed)

    def _advance(self, t_end: int, sinks: list, keep: bool) -> None:
        t_start = self._ctl.t_start
        t_start[:] = self.step
        try:
            self._run_trials(t_end, sinks, keep, self._run_plan)
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
        rec = self._recorder
        rows = (self.step + n_steps) // rec.st_every - self.step // rec.st_every if rec.st_idx.size else 0
        rate, state = rec.new_blocks("Simulator.run", f"{n_steps} steps", n_steps if rec.rate_names else 0, rows,
                                     np.nan)
        return rate, self.step, state, self.step // rec.st_every

    def _end_run(self) -> None:
        """Keep the rows of the run's record blocks that every trial has reached (all of them unless
        interrupted)."""
        rate, rate_base, state, st_base = self._record
        rec = self._recorder
        reached = self.step if self._interrupted_at is None else int(self._interrupted_at.min())
        if rate.shape[1]:
            rec.rate_parts.append(rate[:, :reached - rate_base])
        if state.shape[1]:
            if self._mpi is not None:  # each rank sampled its own neurons
                b = self.built
                lo, hi = b.blk_lo[self._own[0]], b.blk_hi[self._own[1] - 1]
                state = self._mpi.gather_columns(state, (rec.st_idx >= lo) & (rec.st_idx < hi))
            rec.state_parts.append(state[:, :reached // rec.st_every - st_base])

    def _exchange(self) -> None:
        """Join the interval's spike buffers of every rank (:class:`engine.parallel.mpi.SpikeExchange`)."""
        b, q, ctl = self.built, self._queues, self._ctl
        self._mpi(int(ctl.parity[0]), int(ctl.ilen[0]), self._buffers, b.row_ptr, b.stp["row_ptr"], self.rec_mask,
                  b.max_delay + 1, q.r_lo.shape[3] > 0)

    def _kernel_call(self, t_end: int, record: tuple, plan: tuple):
        """The kernel call towards ``t_end`` as a function of no arguments (called again after each exchange)."""
        p, sm, fz = self.built.pois, self._sampler, self.built.fused
        rate, rate_base, state, st_base = record
        mode, T, L = plan
        conn, stp = self._groups()
        rec = self._recorder
        inputs = Inputs(p["pre0"], self.pois_key, p["seg_step"], sm["p0"], sm["lam3"], sm["kmax"], sm["cdf"],
                        sm["tab_idx"], self._sg[0], self._sg[1], self._sg[2], self._sg_cur, self._cur["step"],
                        self._cur["idx"], self._cur["val"], self._cur_pos, self._cur_end, self._pois_skip, fz["ptr"],
                        fz["tgt"], fz["ch"], fz["w"], fz["d"], sm["guide"])
        records = Records(self.rec_mask, self._spk_step, self._spk_id, self._spk_n, self.n_events, self.rate_col,
                          rate_base, rate, rec.st_idx, rec.st_var, rec.st_every, st_base, state)
        state_arrays = State(self._V, self._I_ex, self._I_in, self._ref, self._I_ext, self._flags)
        queues = self._spike_queue_copies(T if mode == "blocks" else 1)
        args = (t_end, L, self._ctl, self._nrn(), state_arrays, conn, stp, inputs, queues, self._ensure_buffers(L),
                records)
        if mode == "blocks":
            return lambda: run_blocks_parallel(T, *args)
        return lambda: (run_trials_parallel if T > 1 else run_trials_serial)(*args)

    def compile(self) -> float:
        """Compile the kernel variant the next run uses (:meth:`_plan`: trials side by side or one trial's blocks,
        serial or parallel), or load it from Numba's cache, without advancing time; returns the seconds compilation
        has taken so far. :meth:`run` calls it first, so its timings never include compilation."""
        if self._sg_dirty:
            self._prepare_inputs()
        plan = self._plan()
        key = (plan[0], plan[1] > 1)
        if key not in self._compiled:
            t0 = time.perf_counter()
            self._ctl.t_start[:] = self.step
            self._kernel_call(self.step, self._new_record(0), plan)()
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
        self._recorder.drain(self._spk_n, self._spk_step, self._spk_id, sinks, keep)
        self._spk_n[:] = 0

    # ------------------------------------------------------------------ results
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
        return (f"Simulator({net.size:,} neurons ({pops}), "
                + (f"{int(synapses):,} synapses, " if synapses is not None else "")
                + f"dt={net.dt:g} ms, trials={self._trials_repr()}, t={self.t:g} ms)")


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


def _max_events_per_step(sg: tuple) -> int:
    """Largest number of spike-generator events falling on one step of one trial."""
    pre, steps, ptr = sg
    best = 0
    for b in range(ptr.size - 1):
        st = steps[ptr[b]:ptr[b + 1]]
        if st.size:
            best = max(best, int(np.unique(st, return_counts=True)[1].max()))
    return best
