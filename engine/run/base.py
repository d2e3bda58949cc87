"""The driver both simulators share: the factory, the run loop between kernel calls, the per-trial inputs and the
results.

:class:`Simulator` chooses its method in ``__new__`` (``Simulator(net, method="event")`` is an
:class:`~engine.run.event_driven.EventSimulator`, which is a :class:`Simulator`); a method is a subclass that
registers under its name (``class EventSimulator(Simulator, method="event")``) and supplies how time advances in
one chunk (:meth:`Simulator._advance`) and what a run needs first. Everything else is here, once: the chunk loop
with its sinks, progress bar, thread count and Ctrl-C checks (:meth:`Simulator.run`), the setters of per-trial
inputs, and the results, read from the simulator's :class:`~engine.run.recorder.Recorder`. The documented home of
both classes is :mod:`engine.run.simulator`.
"""
from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Iterable, Iterator, Sequence

import numba
import numpy as np

from engine.interrupt import deferred_interrupts
from engine.network.description import Network
from engine.progress import interactive, progress_bar
from engine.run import inputs
from engine.run.initial_state import check_run_settings
from engine.run.recorder import Recorder


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


class Simulator(ABC):
    """Run ``trials`` independent trials of ``network`` (shared connectivity, own stimuli, state and seed each).

    Python regains control only between chunks (``chunk_ms`` of biological time, default 100 ms, or earlier when a
    record buffer fills) to hand recorded spikes to the in-memory monitors and to any sinks (such as
    :class:`engine.io.spikefile.SpikeFileWriter`), update the progress bar and check for Ctrl-C. Each trial's
    random numbers are keyed by ``(seed, trial id, ...)``, so trial ``k`` gives the same spikes whether it runs
    alone or in a batch, on any number of threads, in any chunks.

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
        only; sinks are given on rank 0 alone, which writes them. See :mod:`engine.parallel.mpi`. Clock-driven
        mode only.
    built : Built, optional
        The arrays :func:`engine.build.builder.build` made of this network earlier (a cache of them, as
        :func:`engine.parallel.distributed.block_simulator` keeps on each Dask worker): the network is not built
        again. They depend on the network alone, never on the trials. Not with ``comm``; clock-driven mode only.
    method : {"clock", "event"}, default="clock"
        ``"clock"``: a :class:`~engine.run.clock.ClockSimulator` (exact propagators on the grid of ``dt``).
        ``"event"``: an :class:`~engine.run.event_driven.EventSimulator`, exact in continuous time for networks of
        ``iaf_psc_delta`` neurons with constant currents and static synapses (a ValueError names what else it
        cannot run). Both are Simulators with this one interface; what a method cannot do (``comm`` and ``built``,
        :meth:`set_currents` in the event-driven mode) is refused by name.

    Attributes
    ----------
    network : Network
        The model.
    trial_ids : ndarray of int64
        The trials, in batch order: row ``b`` of every record is trial ``trial_ids[b]``.
    method : str
        ``"clock"`` or ``"event"``.
    t : float
        Current simulation time (ms).
    V0 : ndarray of shape (trials, n_neurons)
        Initial membrane potentials (mV) of every trial.
    V : ndarray of shape (trials, n_neurons)
        Current membrane potentials (mV), a view of the arrays the kernel updates.
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
    >>> exact = Simulator(net, method="event").run(200.0)
    >>> isinstance(exact, Simulator), exact.method
    (True, 'event')
    """

    _METHODS: ClassVar[dict[str, type]] = {}
    _name: ClassVar[str] = "Simulator"  # in messages and the repr
    _no_currents: ClassVar[str | None] = None  # why the method runs no CurrentSource (set_currents refused), if so
    method: ClassVar[str]

    def __init_subclass__(cls, method: str | None = None, **kw):
        super().__init_subclass__(**kw)
        if method is not None:
            cls.method = method
            Simulator._METHODS[method] = cls

    def __new__(cls, *args, method: str | None = None, **kw):
        if cls is Simulator:  # (no required arguments here: pickle and copy call __new__(cls) alone)
            method = "clock" if method is None else method
            if method not in Simulator._METHODS:
                raise ValueError(f"Simulator: method = {method!r} is not allowed; choose "
                                 f"{' or '.join(repr(m) for m in Simulator._METHODS)}")
            cls = Simulator._METHODS[method]
        elif method is not None and method != getattr(cls, "method", None):
            raise ValueError(f"{cls.__name__}: method = {method!r} is not allowed; it runs method = "
                             f"{getattr(cls, 'method', None)!r} (or call Simulator(..., method={method!r}))")
        return super().__new__(cls)

    def __init__(self, network: Network, trials: int | Sequence[int] = 1, *, n_jobs: int | None = None,
                 chunk_ms: float = 100.0):
        self.network = network
        self.trial_ids = check_run_settings(self._name, trials, n_jobs, chunk_ms)
        self.n_jobs = n_jobs
        self.compile_s: float | None = None
        self.last_run: RunStats | None = None
        self._mpi = None  # the spike exchange of a network split over MPI ranks (clock-driven mode)
        self._recorder: Recorder | None = None  # made by the method once it knows the presynaptic layout

    # ------------------------------------------------------------------ what a method supplies
    @property
    @abstractmethod
    def t(self) -> float:
        """Current simulation time (ms)."""

    @abstractmethod
    def compile(self) -> float:
        """Compile the simulation kernel (or load it from Numba's cache) without advancing time; returns the
        seconds compilation has taken so far. :meth:`run` calls it first, so its timings never include
        compilation."""

    @abstractmethod
    def _run_length(self, duration_ms: float) -> tuple:
        """The run's length in the method's unit of time (steps, or ms) and in ms, after checking
        ``duration_ms``."""

    @abstractmethod
    def _now(self):
        """The time reached, in the method's unit."""

    @abstractmethod
    def _ms(self, when) -> float:
        """A time in the method's unit, in ms (as the sinks get it)."""

    @abstractmethod
    def _chunk(self):
        """The length of one chunk, in the method's unit."""

    @abstractmethod
    def _prepare_run(self, length) -> None:
        """Everything a run of ``length`` needs before its first chunk (record blocks refused before allocation
        when they cannot fit, inputs, compilation)."""

    @abstractmethod
    def _advance(self, end, sinks: list, keep: bool) -> None:
        """Advance every trial to ``end`` (the method's unit), draining the records into the recorder and
        ``sinks``."""

    @abstractmethod
    def _end_run(self) -> None:
        """Keep the run's records (what every trial reached, when interrupted); runs however the run ended."""

    @abstractmethod
    def _events(self) -> int:
        """Synaptic events so far (this process)."""

    def _threads(self) -> int | None:
        """Threads for the next run (None: leave Numba's setting)."""
        if not self.n_jobs:
            return None
        return min(int(self.n_jobs), numba.config.NUMBA_NUM_THREADS)

    def _open_run(self, sinks: list, progress: bool) -> bool:
        """Checks of a run before anything moves (every sink can take every trial); returns whether this process
        shows the bar."""
        problem = self._sink_problem(sinks)
        if problem:
            raise ValueError(problem)
        return progress

    def _sink_problem(self, sinks: list) -> str | None:
        """Why one of ``sinks`` cannot take the spikes of this simulator's trials (its ``check_trials`` refuses), or
        None."""
        for sink in sinks:
            check = getattr(sink, "check_trials", None)
            if check is not None:
                try:
                    check(self.trial_ids)
                except ValueError as e:
                    return str(e)
        return None

    def _close_run(self, events: int) -> int:
        """After a run: the synaptic events of the run (all processes)."""
        return events

    def _check_signals(self, signals: deferred_interrupts) -> None:
        """Raise :class:`~engine.interrupt.Interrupted` if Ctrl-C or SIGTERM arrived."""
        signals.check()

    # ------------------------------------------------------------------ running
    def run(self, duration_ms: float, *, sinks: Iterable = (), keep: bool = True, progress: bool | None = None
            ) -> "Simulator":
        """Advance every trial by ``duration_ms`` (ms; a multiple of dt in the clock-driven mode, any number >= 0 in
        the event-driven one); continues from where the last run ended.

        Parameters
        ----------
        sinks : iterable of objects with ``write(population, trial, times_ms, node_ids)``
            Receive the spikes of every :class:`SpikeMonitor` after each chunk, ``trial`` being the trial id (e.g.
            :class:`engine.io.spikefile.SpikeFileWriter`); ``advance(t_ms)`` is called after each chunk when the sink
            has it, and ``check_trials(trial_ids)`` before anything runs (a ValueError there refuses the run). If the
            run is interrupted (Ctrl-C), every spike simulated so far has been handed over.
        keep : bool, default=True
            Keep recorded spikes in memory (set False on long runs that stream to a sink).
        progress : bool, optional
            Show a tqdm bar (biological time, real-time factor, events/s). Default: when stderr is a terminal or
            the code runs in a Jupyter notebook, and only once the run has lasted two seconds.
        """
        if isinstance(duration_ms, (bool, np.bool_)) or not isinstance(duration_ms, (int, float, np.number)):
            raise TypeError(f"run: duration_ms = {duration_ms!r} is not allowed; it must be a number of ms "
                            f"(got {type(duration_ms).__name__})")
        length, duration_ms = self._run_length(float(duration_ms))
        sinks = list(sinks)
        progress = interactive() if progress is None else progress
        # from here on (over MPI: every collective) Ctrl-C waits for a check; over MPI ranks only a check all ranks
        # agree on stops the run (a rank that stopped alone would leave the others waiting), see _check_signals
        with deferred_interrupts(carry=self._mpi is not None) as signals:
            progress = self._open_run(sinks, progress)
            start = self._now()
            stop = start + length
            self._prepare_run(length)
            self._check_signals(signals)
            events0, spikes0 = self._events(), self._recorder.total_spikes
            t0 = time.perf_counter()
            start_ms = self._ms(start)
            bar = progress_bar(duration_ms, progress)
            old_threads = numba.get_num_threads()
            advancing = [sink for sink in sinks if hasattr(sink, "advance")]
            try:
                threads = self._threads()
                if threads:
                    numba.set_num_threads(threads)
                for sink in advancing:  # the time reached so far, before the first chunk adds to it
                    sink.advance(start_ms)
                for end in self._chunk_ends(stop):
                    before = self._ms(self._now())
                    self._advance(end, sinks, keep)
                    end_ms = self._ms(end)
                    for sink in advancing:  # lets a file sink flush on its wall-clock schedule, spikes or none
                        sink.advance(end_ms)
                    if bar is not None:
                        wall = max(time.perf_counter() - t0, 1e-9)
                        bar.update(end_ms - before)
                        bar.set_postfix(rtf=f"{(end_ms - start_ms) * 1e-3 / wall:.2f}",
                                        ev_s=f"{(self._events() - events0) / wall:.3g}")
                    self._check_signals(signals)  # between chunks, with every spike so far handed over
            finally:
                self._end_run()
                numba.set_num_threads(old_threads)
                if bar is not None:
                    bar.close()
            events = self._close_run(self._events() - events0)  # (over MPI: collectives, so still deferred)
        self.last_run = RunStats(duration_ms=duration_ms, wall_s=time.perf_counter() - t0,
                                 spikes=self._recorder.total_spikes - spikes0, synaptic_events=events)
        return self

    def _chunk_ends(self, stop) -> Iterator:
        """The end of each chunk up to ``stop``, from the time reached (which :meth:`_advance` moves)."""
        while self._now() < stop:
            yield min(self._now() + self._chunk(), stop)

    # ------------------------------------------------------------------ per-trial inputs
    def set_spikes(self, source: str, spikes: Sequence[tuple]) -> None:
        """Give a :class:`SpikeSource` different spike trains per trial: ``spikes[b] = (times_ms, indices)``.

        Clock-driven mode: times on the grid of ``dt``; spikes before the current time are ignored; applies from
        the next :meth:`run` on. Event-driven mode: any float times >= 0, before the first run only.
        """
        self._check_inputs_open("set_spikes")
        self._set_spikes(source, inputs.spike_trains(self.network, self.trial_ids, source, spikes,
                                                     on_grid=self.method == "clock"))

    def set_rates(self, source: str, rates) -> None:
        """Give a :class:`PoissonSource` different rates (Hz) per trial.

        ``rates[b]`` has the shape of the source's own ``rate``: a number, one rate per channel, or, when the source
        has ``rate_times``, one row per change time. Trial ``b`` then draws its spikes at ``rates[b]`` (from its
        own random stream, as always). Applies from the next :meth:`run` on (event-driven mode: before the first
        run only).
        """
        self._check_inputs_open("set_rates")
        self._set_rates(source, inputs.rates(self.network, self.trial_ids, source, rates))

    def set_currents(self, source: str, amplitudes: Sequence) -> None:
        """Give a :class:`CurrentSource` different amplitudes (pA) per trial: ``amplitudes[b]`` has the shape of the
        source's own ``amplitude``. Applies from the next :meth:`run` on (the current then is as if these
        amplitudes had always been there). Clock-driven mode only (the event-driven mode runs no CurrentSource)."""
        if self._no_currents:
            raise ValueError(f"set_currents({source!r}): {self._no_currents}")
        self._check_inputs_open("set_currents")
        self._set_currents(source, inputs.amplitudes(self.network, self.trial_ids, source, amplitudes))

    def _check_inputs_open(self, what: str) -> None:
        """Raise when this simulator takes no per-trial inputs of kind ``what`` now."""

    @abstractmethod
    def _set_spikes(self, source: str, trains: list) -> None:
        """Use per-trial spike trains (checked) of ``source``."""

    @abstractmethod
    def _set_rates(self, source: str, rates: np.ndarray) -> None:
        """Use per-trial rates (checked) of ``source``."""

    def _set_currents(self, source: str, amplitudes: list) -> None:
        """Use per-trial amplitudes (checked) of ``source`` (a method that runs current sources supplies it)."""
        raise NotImplementedError(f"{type(self).__name__} runs current sources but does not set them per trial")

    # ------------------------------------------------------------------ results
    def spikes(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Spike times (ms, float64) and neuron indices (int64, local to ``name``) recorded from ``name``, in the
        order they happened. ``trial`` is a trial id (default: the first trial).

        Clock-driven mode: a spike in step ``k`` has time ``k · dt`` (Brian2's convention; state samples are
        stamped at the end of their step instead, see :meth:`state`), computed as the float nearest the decimal
        value (999.8, not 999.8000000000001). Event-driven mode: the exact times.
        """
        return self._recorder.spikes(name, trial)

    def spike_steps(self, name: str, trial: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`spikes` but with integer step indices (int64) instead of times: the step ``k`` with ``k · dt
        <= t < (k + 1) · dt`` of each spike (a time within float noise of a grid point is on it)."""
        return self._recorder.spike_steps(name, trial)

    def spike_counts(self, name: str) -> np.ndarray:
        """Spikes of a :class:`RateMonitor` target in every step, int32 of shape ``(trials, steps)``: row ``b`` is
        trial ``trial_ids[b]``, column ``k`` counts the spikes of step ``k`` (``k · dt <= t < (k + 1) · dt``)."""
        return self._recorder.spike_counts(name)

    def rate(self, name: str) -> np.ndarray:
        """Population rate (Hz) of a :class:`RateMonitor` target in every step, float64 of shape ``(trials,
        steps)``: spikes in the step divided by ``size · dt`` (Brian2's ``PopulationRateMonitor.rate``). See
        :meth:`spike_counts` for the integer counts."""
        return self._recorder.rate(name)

    def state(self, target: str, variable: str = "V") -> tuple[np.ndarray, np.ndarray]:
        """Samples of ``variable`` from the StateMonitor on ``target``: times (ms) and values, float64 of shape
        ``(trials, samples, n_indices)`` (a view of the record: no copy).

        The sample at time ``t`` is the state at the end of the step that ends at ``t``, before the inputs arriving
        at ``t``: sample ``k`` (from 0) is stamped ``(k + 1) · every · dt``, as NEST's multimeter does (a spike in
        step ``k`` is stamped ``k · dt``).
        """
        return self._recorder.state(target, variable)

    @property
    def exchange(self):
        """The :class:`engine.parallel.mpi.SpikeExchange` of a network split over MPI ranks (its calls, bytes and
        seconds so far), or None in one process."""
        return self._mpi

    @abstractmethod
    def memory_report(self) -> dict:
        """Bytes of connectivity (and per synapse) and of the simulation state; under MPI (``comm``) those of this
        rank, with its ``rank`` and the number of ``ranks``."""

    def _trials_repr(self) -> str:
        ids = [int(k) for k in self.trial_ids]
        return str(len(ids)) if ids == list(range(len(ids))) else (
            str(ids) if len(ids) <= 8 else f"[{', '.join(map(str, ids[:8]))}, ...] ({len(ids)} trials)")
