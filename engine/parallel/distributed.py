"""Batches of trials over a ``dask.distributed`` cluster, with the same bits as one local batch.

Many independent runs of one network (dataset samples, trials with their own inputs) go out over Dask: a
:class:`~distributed.LocalCluster` on this machine by default, or any cluster a ``distributed.Client`` reaches (a
scheduler address, ``dask_jobqueue.SLURMCluster`` / ``PBSCluster``). The trials are cut into blocks; each block runs
as one batch :class:`~engine.run.simulator.Simulator` on a worker, with its trials' own inputs, and its spikes come back
to the client, which puts them in trial order and hands them to the sinks (a
:class:`~engine.io.spikefile.SpikeFileWriter`) as the blocks arrive.

Why the results equal a local batch bit for bit: every random number of trial ``k`` is keyed by ``(seed, k)``, so
``Simulator(net, trials=[ids of a block])`` reproduces those trials of any batch exactly, and the network's
connectivity is generated from the seed alone, so every worker builds the same one.

The network reaches each worker once (it is a task of its own, so a worker that replaces a lost one fetches it or it
is recomputed from the graph) and is built once per worker process: :func:`block_simulator` keeps the built arrays
of the last few networks, keyed by the network's content, so later blocks on that worker only allocate their
trials' state. Compiled kernels come from Numba's on-disk cache (``cache=True``), so a fresh worker loads them
instead of compiling (see :attr:`TrialBatch.blocks`, ``compile_s``).

Faults: a worker that dies mid-run loses only the block it was running; the scheduler runs that block again on
another worker (``distributed``'s own retry of tasks whose worker was lost), and every block already finished is on
the client already. A block that takes down ``distributed.scheduler.allowed-failures`` workers (3 by default) is
given up with ``KilledWorker``, which :func:`run_trials` raises after the sinks have every finished trial. Ctrl-C
on the client cancels the blocks not yet finished; the sinks keep every finished trial.

Dask is an optional dependency (``pip install pond[distributed]``); this module imports it only when a function
needs it, and ``import engine`` never imports it.
"""
from __future__ import annotations

import hashlib
import math
import os
import pickle
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from engine.network.grid import grid_offset, step_times
from engine.network.description import (CurrentSource, Network, PoissonSource, RateMonitor, SpikeMonitor, SpikeSource,
                                        StateMonitor)
from engine.run import inputs as _inputs

__all__ = ["TrialBatch", "run_trials", "map_trial_blocks", "block_simulator", "worker_cache_info", "default_client",
           "default_block_size", "network_key"]

_CACHE_SIZE = 2  # built networks kept per worker process (a sweep alternates between few networks)
_built_cache: OrderedDict = OrderedDict()  # content key -> Built, most recently used last
_cache_stats = {"builds": 0, "hits": 0}
_cache_lock = threading.Lock()
_POLL_S = 0.02  # client's wait between looks for finished blocks (and for Ctrl-C)


# ---------------------------------------------------------------------------------------------------------- clients
def _require_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("engine.parallel.distributed needs dask.distributed; install it with "
                          "pip install 'pond[distributed]'") from None
    return distributed


@contextmanager
def default_client(client=None):
    """Yield ``client``; a client of the scheduler at ``client`` when it is an address (``"tcp://host:8786"``); or,
    when it is None, a client of a new :class:`~distributed.LocalCluster` sized to this machine (one
    single-threaded worker process per core). Clients made here are closed on leaving the block; anything else is
    refused with a TypeError.

    Workers run one task at a time on one thread each: a block's trials then run serially in that process, and the
    cores are shared out by processes rather than by Numba threads (which would compete with one another).
    """
    if isinstance(client, str):  # a scheduler's address, "tcp://host:8786": a client of it for this call
        distributed = _require_distributed()
        own = distributed.Client(client, set_as_default=False)
        try:
            yield own
        finally:
            own.close()
        return
    if client is not None:
        if not all(callable(getattr(client, name, None)) for name in ("submit", "nthreads", "gather")):
            raise TypeError(f"client = {client!r} is not allowed; give a dask.distributed Client, a scheduler address "
                            f"such as 'tcp://127.0.0.1:8786', or None (a local cluster)")
        yield client
        return
    distributed = _require_distributed()
    cluster = distributed.LocalCluster(n_workers=max(1, os.cpu_count() or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
    own = distributed.Client(cluster, set_as_default=False)  # the caller's default client stays the default
    try:
        yield own
    finally:
        own.close()
        cluster.close()


def default_block_size(n_trials: int, n_threads: int) -> int:
    """Trials per block when none is given: about four blocks per worker thread, so the load balances and a lost
    worker costs a small share of the run, and no fewer than one trial."""
    return max(1, math.ceil(n_trials / (4 * max(1, n_threads))))


def _check_block_size(block_size) -> int | None:
    if block_size is None:
        return None
    if isinstance(block_size, (bool, np.bool_)) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size = {block_size!r} is not allowed; it must be an integer >= 1 or None")
    return int(block_size)


def _check_trial_ids(trials) -> np.ndarray:
    """The trial ids of ``trials`` (a count or a sequence of ids), with the rules of :class:`Simulator`."""
    if isinstance(trials, (int, np.integer)) and not isinstance(trials, (bool, np.bool_)):
        if trials < 1:
            raise ValueError(f"trials = {trials} is not allowed; it must be >= 1")
        return np.arange(int(trials), dtype=np.int64)
    try:
        ids = np.asarray(trials).ravel()
    except (TypeError, ValueError):
        ids = np.zeros(0)
    if ids.size == 0 or ids.dtype.kind not in "iu" or ids.min() < 0 or np.unique(ids).size != ids.size:
        raise ValueError(f"trials = {trials!r} is not allowed; give a count >= 1 or distinct integer trial ids >= 0")
    return ids.astype(np.int64)


def network_key(network: Any) -> str:
    """Content key of a network (or of any picklable model): equal models give equal keys."""
    return hashlib.sha256(pickle.dumps(network, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()


# ---------------------------------------------------------------------------------------------------------- workers
def block_simulator(network: Network, trials: Sequence[int], *, key: str | None = None, n_jobs: int | None = 1,
                    chunk_ms: float = 100.0):
    """A :class:`~engine.run.simulator.Simulator` of ``trials`` of ``network`` that reuses this process's build of it.

    The built arrays (connectivity, propagators, stimulus tables) depend on the network alone, never on the trials,
    so the first call in a process builds them and later calls with the same ``key`` (default: the network's content
    key) only allocate the trials' state. The last two networks are kept.
    """
    from engine.build.builder import build
    from engine.run.simulator import Simulator

    key = network_key(network) if key is None else key
    with _cache_lock:
        built = _built_cache.get(key)
        if built is None:
            built = build(network)
            _built_cache[key] = built
            _cache_stats["builds"] += 1
            while len(_built_cache) > _CACHE_SIZE:
                _built_cache.popitem(last=False)
        else:
            _built_cache.move_to_end(key)
            _cache_stats["hits"] += 1
    return Simulator(network, trials=trials, n_jobs=n_jobs, chunk_ms=chunk_ms, built=built)


def worker_cache_info() -> dict:
    """Builds and cache hits of :func:`block_simulator` in this process, and the networks held (for the tests and
    for checking that a worker builds each network once: ``client.run(worker_cache_info)``)."""
    with _cache_lock:
        return {"builds": _cache_stats["builds"], "hits": _cache_stats["hits"], "networks": len(_built_cache)}


def _identity(x):
    return x


# ---------------------------------------------------------------------------------------------------------- blocks
def map_trial_blocks(task: Callable, shared: Any, trial_ids: Sequence[int], per_trial: dict | None = None, *,
                     client=None, block_size: int | None = None, on_block: Callable | None = None,
                     progress: bool | None = None, desc: str = "trials") -> list:
    """Run ``task(shared, ids, inputs)`` on blocks of ``trial_ids`` over a Dask client; results in block order.

    Parameters
    ----------
    task : callable, importable by the workers (a module-level function)
        Called as ``task(shared, ids, inputs)`` with ``ids`` an int64 array of the block's trial ids and ``inputs``
        the block's slice of every ``per_trial`` entry (same keys).
    shared : picklable
        What every block needs (the network, an estimator): sent to each worker once, as one task's result.
    trial_ids : sequence of int
        Distinct trial ids >= 0, in the order the results follow.
    per_trial : dict of str to sequence, optional
        Per-trial data, each of length ``len(trial_ids)``; entry ``k`` belongs to ``trial_ids[k]``.
    client : distributed.Client or str, optional
        A client, or a scheduler's address (``"tcp://host:8786"``: a client of it for this call). Default: a
        :class:`~distributed.LocalCluster` sized to this machine, made here and closed at the end.
    block_size : int, optional
        Trials per block, >= 1. Default :func:`default_block_size` of the cluster's worker threads.
    on_block : callable, optional
        ``on_block(index, ids, result)``, called on the client as each block arrives (in arrival order).
    progress : bool, optional
        A tqdm bar over trials; default when someone watches (a terminal or a notebook).
    desc : str
        The bar's label.

    Returns
    -------
    list
        The block results, block ``i`` holding ``trial_ids[i·block_size : (i+1)·block_size]``.
    """
    ids = _check_trial_ids(list(trial_ids) if not isinstance(trial_ids, np.ndarray) else trial_ids)
    size = _check_block_size(block_size)
    per_trial = dict(per_trial or {})
    for name, values in per_trial.items():
        if len(values) != ids.size:
            raise ValueError(f"{name}: got {len(values)} entries for {ids.size} trials; give one per trial")
    from engine.interrupt import deferred_interrupts
    from engine.progress import interactive

    if progress is None:
        progress = interactive()
    with default_client(client) as cl:
        distributed = _require_distributed()
        if size is None:
            size = default_block_size(ids.size, sum(cl.nthreads().values()))
        starts = range(0, ids.size, size)
        token = network_key(shared)[:16]
        run = os.urandom(4).hex()  # keys of this call only: a repeated call never meets a block being released
        shared_f = cl.submit(_identity, shared, key=f"pond-shared-{token}-{run}", pure=False)
        futures = {}
        for i, lo in enumerate(starts):
            block_in = {name: _take(values, lo, lo + size) for name, values in per_trial.items()}
            f = cl.submit(task, shared_f, ids[lo:lo + size], block_in, pure=False,
                          key=f"pond-block-{token}-{run}-{i}")
            futures[f] = i
        results: list = [None] * len(futures)
        bar = _bar(ids.size, progress, desc)
        try:
            with deferred_interrupts() as signals:  # Ctrl-C between blocks, never inside a sink's write
                arrivals = distributed.as_completed(list(futures))
                while not arrivals.is_empty():
                    done = arrivals.next_batch(block=False)
                    if not done:
                        time.sleep(_POLL_S)
                    for f in done:
                        i = futures.pop(f)
                        results[i] = f.result()
                        f.release()
                        if on_block is not None:
                            on_block(i, ids[i * size:(i + 1) * size], results[i])
                        if bar is not None:
                            bar.update(min(size, ids.size - i * size))
                    signals.check()
        finally:
            if futures:  # interrupted or failed: the unfinished blocks are dropped, the finished ones are kept
                cl.cancel(list(futures))
            shared_f.release()
            if bar is not None:
                bar.close()
    return results


def _take(values, lo: int, hi: int):
    return values[lo:hi] if isinstance(values, np.ndarray) else list(values[lo:hi])


def _bar(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="trial", desc=desc, leave=False)


# ---------------------------------------------------------------------------------------------------------- trials
@dataclass(repr=False)
class TrialBatch:
    """Spikes (and rate-monitor counts) of a batch of trials run by :func:`run_trials`, in trial order.

    Attributes
    ----------
    trial_ids : ndarray of int64
        The trials, in the order the results follow.
    dt : float
        Time step (ms).
    blocks : list of dict
        Per block, in block order: ``trials`` (ids), ``worker`` (address), ``wall_s`` (the block's run),
        ``compile_s`` (kernel compilation or cache load in that block) and ``built`` (whether that block built the
        network or found it in the worker's cache).
    """

    trial_ids: np.ndarray
    dt: float
    blocks: list
    _spikes: dict
    _counts: dict

    def __repr__(self) -> str:
        """One line: the trials, dt, and the blocks and workers that ran them."""
        ids = self.trial_ids.tolist()
        trials = str(ids) if len(ids) <= 8 else f"[{', '.join(map(str, ids[:8]))}, ...] ({len(ids)} trials)"
        workers = len({b["worker"] for b in self.blocks})
        return f"TrialBatch(trials={trials}, dt={self.dt:g} ms, {len(self.blocks)} blocks on {workers} workers)"

    def spike_steps(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Step indices (int64) and local neuron indices (int64) of the spikes of ``name`` in trial ``trial`` (a
        trial id; default the first), as :meth:`Simulator.spike_steps` gives them."""
        trial = int(self.trial_ids[0]) if trial is None else int(trial)
        if (name, trial) not in self._spikes:
            names = sorted({n for n, _ in self._spikes})
            raise KeyError(f"no spikes recorded for {name!r}, trial {trial}; SpikeMonitors record {names} for "
                           f"trials {self.trial_ids.tolist()}")
        return self._spikes[(name, trial)]

    def spikes(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (ms) and local neuron indices, as :meth:`Simulator.spikes` gives them."""
        steps, ids = self.spike_steps(name, trial)
        return step_times(steps, self.dt), ids

    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes per step of a :class:`RateMonitor` target, int32 of shape ``(trials, steps)`` in trial order."""
        if name not in self._counts:
            raise KeyError(f"no RateMonitor on {name!r}; rate monitors record {sorted(self._counts)}")
        return self._counts[name]


def _trial_block(shared: tuple, ids: np.ndarray, inputs: dict) -> dict:
    """Worker side of :func:`run_trials`: one batch Simulator of the block's trials, its inputs set, its spikes."""
    key, network, duration_ms, chunk_ms = shared
    t0 = time.perf_counter()
    builds = _cache_stats["builds"]
    sim = block_simulator(network, ids, key=key, n_jobs=1, chunk_ms=chunk_ms)
    built = _cache_stats["builds"] > builds
    for (kind, source), values in inputs.items():
        getattr(sim, f"set_{kind}")(source, values)
    sim.run(duration_ms, progress=False)
    spike_names = list(dict.fromkeys(m.source for m in network.monitors if isinstance(m, SpikeMonitor)))
    rate_names = list(dict.fromkeys(m.target for m in network.monitors if isinstance(m, RateMonitor)))
    spikes = {(name, int(t)): sim.spike_steps(name, int(t)) for name in spike_names for t in ids}
    counts = {name: np.array(sim.spike_counts(name)) for name in rate_names}
    worker = _worker_address()
    return {"spikes": spikes, "counts": counts,
            "stats": {"trials": ids.tolist(), "worker": worker, "wall_s": time.perf_counter() - t0,
                      "compile_s": sim.compile_s, "built": built}}


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


_INPUT_KINDS = {"spikes": SpikeSource, "rates": PoissonSource, "currents": CurrentSource}


_CLIENT_CHECKS = {  # the checks Simulator.set_spikes / set_rates / set_currents make, by run_trials' argument name
    "spikes": lambda net, ids, source, values: _inputs.spike_trains(net, ids, source, values, on_grid=True),
    "rates": _inputs.rates,
    "currents": _inputs.amplitudes,
}


def run_trials(network: Network, duration_ms: float, trials: int | Sequence[int] = 1, *, client=None,
               block_size: int | None = None, spikes: dict | None = None, rates: dict | None = None,
               currents: dict | None = None, sinks: Iterable = (), chunk_ms: float = 100.0,
               progress: bool | None = None) -> TrialBatch:
    """Run trials of ``network`` over a Dask cluster in blocks; the spikes equal ``Simulator(network,
    trials).run(duration_ms)`` bit for bit.

    Parameters
    ----------
    network : Network
        The model; every worker builds it once from its seed (identical connectivity everywhere).
    duration_ms : float
        Run length (ms), a multiple of ``dt``.
    trials : int or sequence of int, default=1
        Number of trials, or the trial ids (distinct, >= 0), as for :class:`~engine.run.simulator.Simulator`.
    client : distributed.Client or str, optional
        The cluster to use (a ``LocalCluster``'s, a ``dask_jobqueue`` cluster's), or a scheduler's address
        (``"tcp://host:8786"``, connected for this call). Default: a
        ``LocalCluster`` of one single-threaded worker per core, started here and closed at the end.
    block_size : int, optional
        Trials per block (one batch Simulator on one worker), >= 1. Default: about four blocks per worker thread
        (:func:`default_block_size`). Results never depend on it.
    spikes : dict of str to list, optional
        ``{source: trains}``: per-trial spike trains of a :class:`SpikeSource`, ``trains[k] = (times_ms, indices)``
        for the ``k``-th trial (as :meth:`Simulator.set_spikes`).
    rates : dict of str to array, optional
        ``{source: rates}``: per-trial rates (Hz) of a :class:`PoissonSource`, first axis the trials (as
        :meth:`Simulator.set_rates`).
    currents : dict of str to list, optional
        ``{source: amplitudes}``: per-trial amplitudes (pA) of a :class:`CurrentSource` (as
        :meth:`Simulator.set_currents`).
    sinks : iterable
        Objects with ``write(population, trial, times_ms, node_ids)`` (e.g. a
        :class:`~engine.io.spikefile.SpikeFileWriter` with ``n_trials`` above the largest trial id): each block's
        spikes are written on the client as the block arrives, every population of a trial at once, and
        ``end_trial(trial)`` is called after each trial when the sink has it, so an interrupted run leaves every
        finished trial in the file, marked as such.
    chunk_ms : float, default=100.0
        Biological time per kernel call on the workers (results never depend on it).
    progress : bool, optional
        A tqdm bar over trials; default when someone watches (a terminal or a notebook).

    Returns
    -------
    TrialBatch
        Spikes of every :class:`SpikeMonitor` and counts of every :class:`RateMonitor`, per trial id.

    Raises
    ------
    ValueError
        A bad trial count or id list, block size, duration, or per-trial inputs that name a source of another
        kind or hold a number of entries other than the number of trials, before anything is sent to a worker.
    KeyboardInterrupt
        Ctrl-C (:class:`~engine.interrupt.Interrupted`): the unfinished blocks are cancelled; the sinks hold every
        trial of the finished blocks.

    Examples
    --------
    >>> from engine import Network, Population, PoissonSource, Projection, SpikeMonitor, Simulator
    >>> from engine.network.connectivity import OneToOne
    >>> from engine.parallel.distributed import run_trials
    >>> net = Network(dt=0.1, seed=3)
    >>> _ = net.add(Population("n", 10, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=15.0, V_init=0.0),
    ...             PoissonSource("drive", 10, rate=2000.0),
    ...             Projection("drive", "n", OneToOne(), weight=1.0, delay=1.0), SpikeMonitor("n"))
    >>> batch = run_trials(net, 200.0, trials=8, block_size=2)  # doctest: +SKIP
    >>> local = Simulator(net, trials=8).run(200.0)  # doctest: +SKIP
    >>> all((batch.spikes("n", k)[0] == local.spikes("n", k)[0]).all() for k in range(8))  # doctest: +SKIP
    True
    """
    ids = _check_trial_ids(trials)
    size = _check_block_size(block_size)
    if isinstance(duration_ms, (bool, np.bool_)) or not isinstance(duration_ms, (int, float, np.number)) or \
            not math.isfinite(duration_ms) or duration_ms < 0:
        raise ValueError(f"duration_ms = {duration_ms!r} is not allowed; it must be a number of ms >= 0")
    if grid_offset(float(duration_ms) / network.dt) > 0:
        raise ValueError(f"duration_ms = {duration_ms} is not allowed; it must be a multiple of dt = {network.dt} ms")
    if not chunk_ms > 0:
        raise ValueError(f"chunk_ms = {chunk_ms!r} is not allowed; it must be > 0")
    per_trial = {}
    for kind, given in (("spikes", spikes), ("rates", rates), ("currents", currents)):
        for source, values in (given or {}).items():
            try:
                src = network.get(source)
            except (KeyError, ValueError):
                src = None
            if not isinstance(src, _INPUT_KINDS[kind]):
                raise ValueError(f"{kind}[{source!r}]: {source!r} is not a {_INPUT_KINDS[kind].__name__} of the "
                                 f"network; {kind} go to {_INPUT_KINDS[kind].__name__}s")
            if kind == "rates":
                values = np.asarray(values, dtype=np.float64)
            if len(values) != ids.size:
                raise ValueError(f"{kind}[{source!r}]: got {len(values)} entries for {ids.size} trials; give one "
                                 f"per trial, in the order of the trial ids")
            # checked here, on the client, as the workers' simulators would (NaN rates, off-grid spike times, ...):
            # a bad value is one clear error before any block is sent, not a traceback per block
            _CLIENT_CHECKS[kind](network, ids, source, values)
            per_trial[(kind, source)] = values
    states = [m.target for m in network.monitors if isinstance(m, StateMonitor)]
    if states:
        raise ValueError(f"run_trials: the network has StateMonitor(s) on {states}; a TrialBatch carries spikes and "
                         f"rate counts only, so they would be dropped: remove them, or run the trials that need "
                         f"state samples with Simulator(network, trials=...)")
    sinks = list(sinks)
    for sink in sinks:  # a sink that cannot hold every trial refuses before any block runs, not after
        check = getattr(sink, "check_trials", None)
        if check is not None:
            check(ids)
    spike_names = list(dict.fromkeys(m.source for m in network.monitors if isinstance(m, SpikeMonitor)))
    spikes_out: dict = {}
    counts_parts: dict = {}
    blocks: list = []

    def arrived(i, block_ids, res):
        spikes_out.update(res["spikes"])
        for t in block_ids:
            for name in spike_names:
                st, nid = res["spikes"][(name, int(t))]
                for sink in sinks:
                    sink.write(name, int(t), step_times(st, network.dt), nid)
            for sink in sinks:
                if hasattr(sink, "end_trial"):
                    sink.end_trial(int(t))
        counts_parts[i] = res["counts"]
        blocks.append((i, res["stats"]))

    map_trial_blocks(_trial_block, (network_key(network), network, float(duration_ms), float(chunk_ms)), ids,
                     per_trial, client=client, block_size=size, on_block=arrived, progress=progress)
    rate_names = list(dict.fromkeys(m.target for m in network.monitors if isinstance(m, RateMonitor)))
    counts = {name: np.concatenate([counts_parts[i][name] for i in sorted(counts_parts)], axis=0)
              for name in rate_names}
    return TrialBatch(ids, float(network.dt), [s for _, s in sorted(blocks, key=lambda b: b[0])], spikes_out, counts)
