"""Exact event-driven mode: continuous-time LIF neurons with delta synapses, cost per event, no time grid.

``Simulator(net, method="event")`` (or :class:`EventSimulator` directly) runs a network of ``iaf_psc_delta``
populations with constant currents, static synapses, Poisson and spike-generator sources exactly in continuous time
(the dynamics and the event queue are described in :mod:`engine.kernels.events`): spike times are floats, not grid
steps; delays, refractory periods and generator times need not lie on a grid; a spike caused by the constant current
happens at the exact crossing time. The work is proportional to the number of events (spikes, synaptic deliveries,
threshold crossings), not to neurons × steps, so sparse activity in large networks runs much faster than in the
clock-driven mode — and dense activity slower (``benchmarks/event_vs_clock.py`` measures the crossover).

What carries over unchanged from the clock-driven :class:`~engine.run.simulator.Simulator`: the connectivity, weights
and delays (the same named random streams; delays drawn from a distribution are not rounded to ``dt``), initial
potentials, monitors (``spikes``, ``spike_counts``/``rate`` binned by ``dt``, ``state`` of ``V`` sampled every
``every · dt``), sinks (SONATA files), trials and their per-trial inputs. Poisson trains are drawn as exponential
inter-spike intervals from each channel's own counter-based stream (not the clock mode's per-step counts), so a
channel's train depends only on seed, trial and channel. The result is bit-identical for any chunking, thread count
or batch size.

How times are formed: the kernel counts time in steps of ``dt`` (float64), NEST's grid step plus offset in one
number (:func:`engine.network.grid.to_steps`). Every time the model gives (delays, refractory periods, generator
times, run durations) becomes the exact integer of its grid point when it lies on the grid, else ``t / dt``; a
spike's arrival is its time plus the delay in steps. Sums of grid times are exact, so inputs NEST treats as
simultaneous (a spike at 0.7 ms through a 0.1 ms delay and one at 0.5 ms through 0.3 ms, both step 8) arrive at
one time and are summed into one jump, where ms floats would differ (0.7999999999999999 and 0.8). Times handed
out are ms again (:func:`engine.network.grid.from_steps`: a grid time is the float nearest its decimal value).
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from engine.build.memory import check_fits
from engine.interrupt import deferred_interrupts
from engine.kernels.events import (DONE, HEAP_FULL, EHeap, ECsr, EInputs, ENeurons, ERecord, EState, fill_rows,
                                   run_events, sort_rows, start_trials)
from engine.kernels.state import stream_keys
from engine.models.neurons import NEURON_MODELS
from engine.network.connectivity import build_connectivity, expected_synapses
from engine.network.description import Network, PoissonSource, SpikeSource, StateMonitor
from engine.network.distributions import resolve_values
from engine.network.grid import from_steps, to_steps
from engine.random import named_stream
from engine.run.base import Simulator
from engine.run.initial_state import initial_potentials
from engine.run.recorder import TimeRecorder

_RECORD = 1 << 16  # spikes per trial held between two drains
_HEAP_SPARE = 1024  # heap entries beyond the first events; the heap doubles when an event might not fit
_HEAP_ENTRY = 6 * 8  # bytes per heap entry and trial: time, slot, origin, payload, cursor, free-list entry
_NEURON = 8 * 8 + 4 + 8  # bytes per neuron and trial: the state row, the pending list, V0
_SYNAPSE = 2 * (4 + 8 + 8)  # bytes per synapse while connecting: the merged rows and each projection's own arrays


def check_event_network(net: Network) -> None:
    """Raise a ValueError naming what the exact event-driven mode cannot run: a population other than
    ``iaf_psc_delta``, a current source, a dynamic synapse, a time-varying Poisson rate, a delay <= 0, or a state
    variable other than ``V``."""
    if not net.populations:
        raise ValueError("Network: it has no Population; add at least one before building")
    for pop in net.populations:
        if not pop.spec.exact_event:
            runs = [m.name for m in NEURON_MODELS.values() if m.exact_event]
            raise ValueError(f"method='event': Population {pop.name!r} has model = {pop.model!r}; the exact "
                             f"event-driven mode runs {', '.join(map(repr, runs))} (delta synapses, constant current) "
                             "only")
    for cur in net.currents:
        raise ValueError(f"method='event': CurrentSource {cur.name!r} is not supported; the exact event-driven mode "
                         "needs constant currents (use the population's I_e)")
    for proj in net.projections:
        if proj.synapse.dynamic:
            raise ValueError(f"method='event': Projection {proj.name!r} has synapse = {proj.synapse!r}; the exact "
                             "event-driven mode runs static synapses only")
    for src in net.sources:
        if isinstance(src, PoissonSource) and src.rate_times is not None:
            raise ValueError(f"method='event': PoissonSource {src.name!r} has rate_times; the exact event-driven mode "
                             "needs constant rates")
    for mon in net.monitors:
        if isinstance(mon, StateMonitor) and tuple(mon.variables) != ("V",):
            raise ValueError(f"method='event': StateMonitor on {mon.target!r} records {list(mon.variables)}; with "
                             "delta synapses the only state variable is 'V'")


class EventSimulator(Simulator, method="event"):
    """The exact event-driven :class:`~engine.run.simulator.Simulator` (``method="event"``, see the module
    docstring); its parameters are the Simulator's.

    Parameters
    ----------
    network : Network
        ``iaf_psc_delta`` populations, static projections with delays > 0, constant-rate Poisson sources, spike
        sources (any float times), Spike/Rate/State(V) monitors; anything else raises a ValueError naming it.
    trials : int or sequence of int, default=1
        Number of trials, or the trial ids to run (trial ``k`` is the same whether run alone or in a batch).
    n_jobs : int, optional
        Threads for the parallel loop over trials. Results never depend on it.
    chunk_ms : float, default=100.0
        Biological time per kernel call (sinks, progress and Ctrl-C are handled between calls).
    comm, built
        Not supported (a ValueError says so): the exact mode runs in one process and builds its own rows.

    Attributes
    ----------
    V0 : ndarray of shape (trials, n_neurons)
        Initial potentials (mV), the same as the clock-driven Simulator's.
    last_run : RunStats
        Wall time, spikes and synaptic events of the last :meth:`run` (compilation excluded).
    compile_s : float or None
        Seconds the kernels took to compile or load from cache, once :meth:`compile` (or :meth:`run`) has run.

    Examples
    --------
    >>> from engine import Network, Population, PoissonSource, Projection, SpikeMonitor, Simulator
    >>> from engine.network.connectivity import OneToOne
    >>> net = Network(dt=0.1, seed=3)
    >>> _ = net.add(Population("n", 10, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=15.0, V_init=0.0),
    ...             PoissonSource("drive", 10, rate=2000.0),
    ...             Projection("drive", "n", OneToOne(), weight=1.0, delay=1.25), SpikeMonitor("n"))
    >>> sim = Simulator(net, method="event").run(200.0)
    >>> times, ids = sim.spikes("n")
    >>> bool(times.size > 0 and times.dtype == np.float64)
    True
    """

    _name = "EventSimulator"
    _no_currents = ("the exact event-driven mode (method='event') runs no CurrentSource, only constant currents (a "
                    "Population's I_e); use method='clock' for per-trial currents")

    def __init__(self, network: Network, trials: int | Sequence[int] = 1, *, n_jobs: int | None = None,
                 chunk_ms: float = 100.0, comm=None, built=None, method: str = "event"):
        for name, value in (("comm", comm), ("built", built)):
            if value is not None:
                raise ValueError(f"EventSimulator: {name} = {value!r} is not supported; the exact event-driven mode "
                                 f"runs in one process and builds its own rows (use method='clock' for {name})")
        super().__init__(network, trials, n_jobs=n_jobs, chunk_ms=chunk_ms)
        ids = self.trial_ids
        check_event_network(network)
        self.chunk_ms = float(chunk_ms)
        _check_memory(network, ids.size)
        with deferred_interrupts():
            self._layout()
            self._monitors()
            self._connect()
        self._pois_rate = np.repeat(self._rate0[None, :], ids.size, axis=0)
        self._gen = {name: [(src.times, src.indices)] * ids.size for name, src in self._generators.items()}
        self._t_steps = 0.0  # the time reached, in steps of dt (as the kernel counts it)
        self._t_ms = 0.0  # the same in ms
        self._started = False

    # ------------------------------------------------------------------ build
    def _layout(self) -> None:
        net = self.network
        pops = net.populations
        sizes = [p.size for p in pops]
        self.pop_lo = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        N = int(self.pop_lo[-1])
        pois = [s for s in net.sources if isinstance(s, PoissonSource)]
        gens = [s for s in net.sources if isinstance(s, SpikeSource)]
        names, lo = [p.name for p in pops], list(self.pop_lo[:-1])
        start = N
        for s in pois + gens:
            names.append(s.name)
            lo.append(start)
            start += s.size
        self.names, self.bounds = names, np.array(lo + [start], dtype=np.int64)
        self.n_neurons, self.n_pre = N, start
        if start >= 2**31:
            raise ValueError(f"Network: {start} neurons and source channels exceed the int32 index range")
        self._pois_lo = N
        self._gen_lo = N + sum(s.size for s in pois)
        self._rate0 = np.concatenate([np.broadcast_to(np.asarray(s.rate, np.float64), (s.size,)) for s in pois]) \
            if pois else np.zeros(0)
        self._poisson = {s.name: s for s in pois}
        self._generators = {s.name: s for s in gens}
        B = self.trial_ids.size
        par = np.zeros((len(pops), 4))  # tau_m, V_th, V_reset, t_ref per population (times in steps of dt)
        x = np.zeros((B, N, 8))  # one row per neuron and trial: see engine.kernels.events
        x[:, :, 2] = -np.inf  # never refractory yet
        for k, p in enumerate(pops):
            sl = slice(self.pop_lo[k], self.pop_lo[k + 1])
            par[k] = p.tau_m / net.dt, p.V_th, p.V_reset, float(to_steps(p.t_ref, net.dt))
            x[:, sl, 6] = p.E_L + np.asarray(p.I_e, np.float64) * p.tau_m / p.C_m  # V_inf
            x[:, sl, 7] = k
        self._nrn = ENeurons(par=par)
        self.V = x[:, :, 0]
        self.V[:] = initial_potentials(net, self.trial_ids)
        self.V0 = self.V.copy()
        self._state = EState(x=x, pend=np.zeros((B, N), np.int32), n_pend=np.zeros(B, np.int64), t_pend=np.zeros(B))

    def _monitors(self) -> None:
        self._recorder = rec = TimeRecorder(self.network, self.trial_ids, self.names, self.bounds,
                                            lambda target, v: self.network.get(target).spec.slot(v))
        self.rec_mask = rec.mask(rec.spike_names + rec.rate_names, self.n_pre)
        self.st_idx, self.st_every = rec.st_idx, rec.st_every  # samples every st_every steps
        self._samples = 0  # state samples taken so far

    def _connect(self) -> None:
        """One CSR over the presynaptic space, every row sorted by delay (stable: projection order, then the rule's
        order), weights and delays float64 from the projections' named streams."""
        net = self.network
        index = {n: (int(self.bounds[k]), int(self.bounds[k + 1] - self.bounds[k])) for k, n in enumerate(self.names)}
        parts, counts = [], np.zeros(self.n_pre, dtype=np.int64)
        for proj in net.projections:
            owner = f"Projection {proj.name!r}"
            for ref, kind in ((proj.source, "source"), (proj.target, "target")):
                if ref not in index or (kind == "target" and index[ref][0] >= self.n_neurons):
                    raise ValueError(f"{owner}: {kind} = {ref!r} is not a {'population' if kind == 'target' else ''} "
                                     f"{'or source ' if kind == 'source' else ''}of this network")
            (pre_lo, n_src), (post_lo, n_tgt) = index[proj.source], index[proj.target]
            pre = net.get(proj.source)
            indptr, targets = build_connectivity(
                proj.rule, n_src, n_tgt, seed=net.seed, stream=named_stream("projection", proj.name, "connectivity"),
                allow_autapses=proj.allow_autapses, allow_multapses=proj.allow_multapses,
                same_population=proj.source == proj.target, pre_positions=getattr(pre, "positions", None),
                post_positions=net.get(proj.target).positions)
            nnz = int(indptr[-1])
            values = []
            for q in ("weight", "delay"):
                const, arr = resolve_values(getattr(proj, q), nnz, seed=net.seed,
                                            stream=named_stream("projection", proj.name, q), name=f"{owner} {q}")
                values.append(np.full(nnz, const) if arr is None else np.asarray(arr, np.float64))
            if nnz and values[1].min() <= 0:
                raise ValueError(f"{owner}: delay = {values[1].min()} ms is not allowed; delays must be > 0")
            parts.append((pre_lo, indptr, targets, values[0], to_steps(values[1], net.dt), post_lo))
            counts[pre_lo:pre_lo + n_src] += np.diff(indptr)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        S = int(self.indptr[-1])
        tgt, w, d = np.empty(S, np.int32), np.empty(S), np.empty(S)
        fill = self.indptr[:-1].copy()
        for pre_lo, indptr, targets, wv, dv, post_lo in parts:
            fill_rows(self.indptr, fill, tgt, w, d, pre_lo, indptr, targets, wv, dv, post_lo)
        sort_rows(self.indptr, tgt, w, d)
        if self.n_pre == 0:
            self.indptr = np.zeros(2, np.int64)
        self._csr = ECsr(self.indptr, tgt, w, d)

    @property
    def n_synapses(self) -> int:
        return int(self.indptr[-1])

    @property
    def n_synapses(self) -> int:
        return int(self.indptr[-1])

    # ------------------------------------------------------------------ per-trial inputs
    def _check_inputs_open(self, what: str) -> None:
        if self._started:
            raise RuntimeError(f"{what}: the exact event-driven mode takes per-trial inputs before the first run "
                               f"only (t = {self.t} ms now); create a new simulator")

    def _set_spikes(self, source: str, trains: list) -> None:
        self._gen[source] = trains

    def _set_rates(self, source: str, rates: np.ndarray) -> None:
        lo = self.bounds[self.names.index(source)] - self._pois_lo
        self._pois_rate[:, lo:lo + self._poisson[source].size] = rates if rates.ndim == 2 else rates[:, None]

    def _start(self) -> None:
        B = self.trial_ids.size
        keys = [stream_keys(self.network.seed, named_stream("source", name, "event spikes"), s.size, self.trial_ids)
                for name, s in self._poisson.items()]
        pois_key = np.ascontiguousarray(np.concatenate(keys, axis=1)) if keys else np.zeros((B, 0), np.uint64)
        n_gen = self.n_pre - self._gen_lo
        ptr, end, flat, base = np.zeros((B, n_gen), np.int64), np.zeros((B, n_gen), np.int64), [], 0
        for b in range(B):
            for name, src in self._generators.items():
                times, idx = self._gen[name][b]
                ch0 = self.bounds[self.names.index(name)] - self._gen_lo
                counts = np.bincount(idx, minlength=src.size)
                ptr[b, ch0:ch0 + src.size] = base + np.concatenate([[0], np.cumsum(counts)[:-1]])
                end[b, ch0:ch0 + src.size] = ptr[b, ch0:ch0 + src.size] + counts
                flat.append(times[np.lexsort((times, idx))])  # by channel, then time
                base += times.size
        self._inputs = EInputs(pois_lo=self._pois_lo, pois_key=pois_key,
                               pois_rate=self._pois_rate * (self.network.dt * 1e-3),  # spikes per step
                               gen_lo=self._gen_lo, gen_ptr=ptr, gen_end=end,
                               gen_t=to_steps(np.concatenate(flat), self.network.dt) if flat else np.zeros(0))
        cap = _HEAP_SPARE + 1 + int(np.count_nonzero(self._pois_rate, axis=1).max(initial=0)) + n_gen + self.n_neurons
        self._heap = _new_heap(B, cap)
        start_trials(0.0, self._nrn, self._csr, self._inputs, self._heap, self._state)
        self._started = True

    def _new_record(self, n_samples: int) -> ERecord:
        """The spike record and a state block of ``n_samples`` samples (refused before allocation when it cannot
        fit)."""
        B = self.trial_ids.size
        _, st_out = self._recorder.new_blocks("EventSimulator.run", f"{n_samples * self.st_every} steps", 0,
                                              n_samples, np.nan)
        return ERecord(mask=self.rec_mask, t=np.empty((B, _RECORD)), ids=np.empty((B, _RECORD), np.int32),
                       n=np.zeros(B, np.int64), events=np.zeros(B, np.int64), st_idx=self.st_idx,
                       st_every=float(self.st_every), st_base=np.full(B, self._samples, np.int64),
                       st_next=np.full(B, self._samples, np.int64), st_out=st_out)

    # ------------------------------------------------------------------ running
    @property
    def t(self) -> float:
        """Current simulation time (ms)."""
        return self._t_ms

    def _now(self) -> float:
        return self._t_steps

    def _ms(self, when: float) -> float:
        return float(from_steps(when, self.network.dt))

    def _chunk(self) -> float:
        return float(to_steps(self.chunk_ms, self.network.dt))

    def _events(self) -> int:
        return int(self._record.events.sum())

    def _run_length(self, duration_ms: float) -> tuple[float, float]:
        if not (math.isfinite(duration_ms) and duration_ms >= 0):
            raise ValueError(f"run: duration_ms = {duration_ms} is not allowed; it must be finite and >= 0")
        return float(to_steps(duration_ms, self.network.dt)), duration_ms

    def _prepare_run(self, length: float) -> None:
        t_stop = self._t_steps + length
        n_samples = 0
        if self.st_idx.size:  # samples at (k + 1) * every steps for k >= self._samples, up to t_stop
            while (self._samples + n_samples + 1) * self.st_every <= t_stop:
                n_samples += 1
        self._record = self._new_record(n_samples)  # refused here, before compiling, when it cannot fit
        self._status = np.zeros(self.trial_ids.size, np.int64)
        self.compile()

    def compile(self) -> float:
        """Compile the kernels (or load them from Numba's cache) without simulating; returns the seconds it took."""
        if self.compile_s is None:
            t0 = time.perf_counter()
            with deferred_interrupts():
                if not self._started:
                    self._start()
                run_events(-np.inf, self._nrn, self._csr, self._inputs, self._heap, self._state,
                           self._new_record(0), np.zeros(self.trial_ids.size, np.int64))  # returns at once
            self.compile_s = time.perf_counter() - t0
        return self.compile_s

    def _advance(self, t_end: float, sinks: list, keep: bool) -> None:
        rec, status = self._record, self._status
        while True:
            run_events(t_end, self._nrn, self._csr, self._inputs, self._heap, self._state, rec, status)
            self._drain(sinks, keep)
            if (status == DONE).all():
                break
            if (status == HEAP_FULL).any():
                self._grow_heap()
        self._t_steps, self._t_ms = t_end, float(from_steps(t_end, self.network.dt))
        self._recorder.reached = t_end

    def _end_run(self) -> None:
        """Take the samples due at the time reached and keep the samples taken. The kernel takes a sample before
        the events at its time and leaves the events at the end of a call to the next one, so a call with an empty
        view of the heap up to just past that time takes the sample due then and handles no event."""
        rec = self._record
        if rec.st_out.shape[1] and (self._status == DONE).all() and not self._state.n_pend.any():
            # (not after a call that stopped early with inputs pending, which only the real heap may take on)
            empty = self._heap._replace(n=np.zeros_like(self._heap.n))
            run_events(np.nextafter(self._t_steps, np.inf), self._nrn, self._csr, self._inputs, empty, self._state,
                       rec, np.zeros(self.trial_ids.size, np.int64))
        taken = int(rec.st_next.min())
        self._recorder.state_parts.append(rec.st_out[:, :taken - self._samples])
        self._samples = taken

    def _grow_heap(self) -> None:
        """Double every trial's heap: entries and payload slots keep their places, the new slots join the free
        stack."""
        h = self._heap
        B, cap = h.t.shape
        new = _new_heap(B, 2 * cap)
        for name in ("t", "slot", "origin", "a", "cursor"):
            getattr(new, name)[:, :cap] = getattr(h, name)
        for b in range(B):
            free = cap - int(h.n[b])  # the old free slots, then the new ones, on top of the stack
            new.free[b, :cap] = np.arange(2 * cap - 1, cap - 1, -1)
            new.free[b, cap:cap + free] = h.free[b, :free]
        new.n[:] = h.n
        self._heap = new

    def _drain(self, sinks: list, keep: bool) -> None:
        rec = self._record
        self._recorder.drain(rec.n, rec.t, rec.ids, sinks, keep)
        rec.n[:] = 0

    # ------------------------------------------------------------------ results
    def memory_report(self) -> dict:
        """Bytes of connectivity (and per synapse) and of the simulation state (heap included)."""
        conn = sum(a.nbytes for a in self._csr)
        state = sum(a.nbytes for a in self._state) + (sum(a.nbytes for a in self._heap) if self._started else 0)
        return {"synapses": self.n_synapses, "connectivity_bytes": int(conn),
                "bytes_per_synapse": conn / max(self.n_synapses, 1), "state_bytes": int(state)}

    def __repr__(self) -> str:
        return (f"EventSimulator({self.n_neurons:,} neurons, {self.n_synapses:,} synapses, "
                f"trials={self._trials_repr()}, t={self.t:g} ms)")


def _check_memory(net: Network, trials: int) -> None:
    """Refuse (MemoryError, before anything is allocated) a network whose neuron state, event heaps, spike record and
    connectivity would not fit in the memory available now."""
    sizes = {o.name: o.size for o in (*net.populations, *net.sources)}
    N, n_pre = net.size, sum(sizes.values())
    n_pois = sum(s.size for s in net.sources if isinstance(s, PoissonSource))
    synapses = sum(expected_synapses(p.rule, sizes.get(p.source, 0), sizes.get(p.target, 0)) or 0.0
                   for p in net.projections)
    heap = trials * (_HEAP_SPARE + 1 + n_pre) * _HEAP_ENTRY
    state = trials * (N * _NEURON + n_pois * 3 * 8 + _RECORD * 12)
    connectivity = synapses * _SYNAPSE + n_pre * 16
    check_fits(int(heap + state + connectivity),
               f"EventSimulator: {trials} trial(s) of {N} neurons and about {synapses:.3g} synapses (neuron state and "
               f"records {state / 2**30:.3g} GiB, event heaps {heap / 2**30:.3g} GiB, connectivity "
               f"{connectivity / 2**30:.3g} GiB)", "use fewer neurons or trials, or sparser connectivity")


def _new_heap(trials: int, cap: int) -> EHeap:
    """Empty heaps of ``cap`` entries, every slot free."""
    return EHeap(t=np.zeros((trials, cap)), slot=np.zeros((trials, cap), np.int64), origin=np.zeros((trials, cap)),
                 a=np.zeros((trials, cap), np.int64), cursor=np.zeros((trials, cap), np.int64),
                 free=np.repeat(np.arange(cap - 1, -1, -1, dtype=np.int64)[None, :], trials, axis=0),
                 n=np.zeros(trials, np.int64))
