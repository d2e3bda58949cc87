"""The state of a pond.pynn simulation: what the PyNN script has declared, and the engine Simulator that runs it.

PyNN builds a model piece by piece (populations, projections, current sources, recorders) and may run, change
things and run again; pond's engine builds a whole :class:`engine.Network` and then a :class:`engine.Simulator`.
:class:`State` bridges the two:

- the PyNN objects keep their own parameters and connections (in PyNN's units, in numpy arrays), so ``get`` and
  ``set`` work before anything is simulated;
- the first :func:`run` translates them into one engine ``Network`` (:mod:`pond.pynn.translate`) and builds the
  ``Simulator``; later runs continue that Simulator, so spikes in flight, refractory clocks and synaptic currents carry
  over exactly;
- between runs, the changes the engine takes in flight are applied to it (spike times of a ``SpikeSourceArray``,
  rates of a ``SpikeSourcePoisson``, amplitudes of current sources); any other change after a run (neuron or synapse
  parameters, new populations or projections, what is recorded) is refused at the next :func:`run` with
  :class:`PondNotSupportedError`, unless :func:`reset` comes first;
- :func:`reset` drops the Simulator: the next run rebuilds it from the declared model at t = 0 with the initial
  values, which is PyNN's reset (structure and parameters kept, state and time restarted, a new Neo segment).
"""
from __future__ import annotations

import math

import numpy as np
from pyNN import common, errors

from engine.network.grid import step_times

name = "pond"


class PondNotSupportedError(errors.NoModelAvailableError, NotImplementedError):
    """pond cannot run what was asked (a cell type, synapse type, current source or change it does not simulate).

    It is both PyNN's ``NoModelAvailableError`` and ``NotImplementedError`` (the error of PyNN's
    ``ModelNotAvailable`` placeholders), so scripts that catch either see it.
    """


class NestOnlyError(PondNotSupportedError, AttributeError):
    """A name of ``pyNN.nest`` that belongs to NEST itself (its modules, native models, recording devices).

    Also an ``AttributeError``, so ``hasattr(pond.pynn, name)`` and ``getattr(pond.pynn, name, default)`` keep
    their meaning.
    """


class ID(int, common.IDMixin):
    """A cell of a pond.pynn population (an int, its global id, with PyNN's per-cell access)."""

    def __init__(self, n):
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Simulation time, step, the declared model and the engine Simulator built from it (``None`` until the first
    :func:`run` and after :func:`reset`)."""

    def __init__(self):
        common.control.BaseState.__init__(self)
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay = "auto"
        self.max_delay = "auto"
        self.rng_seed = 0
        self.threads = None
        self.segment_counter = -1
        #: ``builder(state) -> (Simulator, Translation)``, the translation of the declared model
        #: (:func:`pond.pynn.translate.build_simulator`), set by :mod:`pond.pynn.control`: this bottom module of
        #: pond.pynn imports none of the modules above it
        self.builder = None
        self.clear()

    # ------------------------------------------------------------------ model registry
    def clear(self) -> None:
        """Forget the whole model (``setup`` starts from here)."""
        self.recorders = set()
        self.write_on_end = []
        self.populations = []
        self.projections = []
        self.current_sources = []
        self.id_counter = 0
        self.segment_counter = -1
        self.sim = None
        self.translation = None
        self.pending = []
        self.reset()

    def changed(self, what: str) -> None:
        """Note a change the running Simulator cannot take; the next :func:`run` refuses it unless :func:`reset`
        (which rebuilds from the declared model) comes first."""
        if self.sim is not None:
            self.pending.append(what)

    # ------------------------------------------------------------------ time
    @property
    def t(self) -> float:
        """Current time (ms)."""
        return self.sim.t if self.sim is not None else 0.0

    @property
    def step(self) -> int:
        return self.sim.step if self.sim is not None else 0

    def steps(self, t_ms: float, what: str) -> int:
        """``t_ms`` as a whole number of steps (refused when it is off the time grid by more than rounding)."""
        k = int(round(t_ms / self.dt))
        if abs(k * self.dt - t_ms) > 1e-6 * max(1.0, abs(t_ms)):
            raise ValueError(f"pond.pynn: {what} = {t_ms} ms is not a multiple of the time step {self.dt} ms")
        return k

    def run(self, simtime: float) -> None:
        """Advance by ``simtime`` ms (building the Simulator first if there is none)."""
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        if self.sim is None:
            self.sim, self.translation = self.builder(self)
            self.pending = []
        elif self.pending:
            changes = "; ".join(dict.fromkeys(self.pending))
            raise PondNotSupportedError(
                f"pond.pynn cannot apply these changes to a simulation in progress: {changes}. Call reset() first "
                "(the next run then rebuilds the network with them at t = 0), or make them before the first run()")
        n = int(round(tstop / self.dt)) - self.sim.step
        if n > 0:
            self.sim.run(n * self.dt, progress=False)
        self.running = True

    def reset(self) -> None:
        """Back to t = 0: drop the Simulator (the next run rebuilds it with the initial values)."""
        self.sim = None
        self.translation = None
        self.pending = []
        self.running = False
        self.t_start = 0
        self.segment_counter += 1

    # ------------------------------------------------------------------ delays
    def resolved_min_delay(self) -> float:
        """The minimum delay (ms): the one given to ``setup``, or ``dt`` when it is ``'auto'`` (every delay pond
        accepts is >= dt)."""
        return self.dt if self.min_delay == "auto" else float(self.min_delay)

    def round_delays(self, delays: np.ndarray) -> np.ndarray:
        """Delays rounded to the nearest whole step, as NEST and PyNN's Brian 2 backend round them; a delay below
        one step is refused (pond's delays are >= dt)."""
        d = np.asarray(delays, dtype=np.float64)
        steps = np.rint(d / self.dt)
        if d.size and (not np.all(np.isfinite(d)) or steps.min() < 1):
            bad = d[~np.isfinite(d) | (steps < 1)].ravel()[0]
            raise errors.ConnectionError(f"pond.pynn: delay = {bad} ms is not allowed; delays must be >= the time "
                                         f"step {self.dt} ms")
        return step_times(steps.astype(np.int64), self.dt)  # 0.3, not 0.30000000000000004


def check_timestep(timestep: float) -> float:
    """The time step of ``setup``: a positive, finite number of ms."""
    try:
        dt = float(timestep)
    except (TypeError, ValueError):
        raise ValueError(f"pond.pynn.setup: timestep = {timestep!r} must be a number (ms)") from None
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"pond.pynn.setup: timestep = {timestep!r} is not allowed; it must be > 0 ms")
    return dt


state = State()
