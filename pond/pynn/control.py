"""Set-up and control of a pond.pynn simulation: ``setup``, ``run``, ``run_until``, ``reset``, ``end`` and PyNN's
state queries (see :mod:`pond.pynn.simulator` for how runs map onto the engine Simulator)."""
from __future__ import annotations

import warnings

from pyNN import common, errors
from pyNN.common.control import DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from pond.pynn import simulator
from pond.pynn.simulator import check_timestep


def _build_simulator(state):
    """The first ``run()`` translates the declared model (see :mod:`pond.pynn.simulator`); the translation and the
    engine's simulator are imported then, so ``import pond.pynn`` stays light."""
    from pond.pynn.translate import build_simulator

    return build_simulator(state)


simulator.state.builder = _build_simulator


def setup(timestep=DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY, **extra_params):
    """Start a new model (any previous one is forgotten).

    Parameters
    ----------
    timestep : float, default=0.1
        Integration step (ms), > 0.
    min_delay : float or 'auto', default='auto'
        Smallest synaptic delay (ms), the default delay of synapse types; 'auto' means one time step.
    max_delay : float or 'auto', optional
        Accepted for compatibility (pond's delay queue has no fixed bound).
    rng_seed : int, default=0
        Seed of every draw pond makes itself: Poisson spikes and fast-path connectivity (see
        :mod:`pond.pynn.projections`). Draws made with a PyNN ``NumpyRNG`` follow that generator's seed.
    threads : int, optional
        Threads of the engine's parallel loops (results do not depend on it).
    spike_precision : {'on_grid', 'off_grid'}, default='on_grid'
        pond computes spike times on the time grid; 'off_grid' is accepted with a ``RoundingWarning``.

    Other keyword arguments of other backends (``verbosity``, ``t_flush``, ...) are accepted and ignored.
    """
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    state.clear()
    state.dt = check_timestep(timestep)
    state.min_delay = min_delay
    state.max_delay = extra_params.get("max_delay", "auto")
    seed = extra_params.get("rng_seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"pond.pynn.setup: rng_seed = {seed!r} is not allowed; it must be an integer in "
                         "[0, 2**63)")
    state.rng_seed = seed
    threads = extra_params.get("threads")
    state.threads = None if threads is None else int(threads)
    if extra_params.get("spike_precision", "on_grid") == "off_grid":
        warnings.warn("pond.pynn computes spike times on the time grid (spike_precision='on_grid')",
                      errors.RoundingWarning, stacklevel=2)
    return rank()


def end(compatible_output=True):
    """Write the data of ``record(..., to_file=...)`` to their files; the recorded data stay readable."""
    state = simulator.state
    for population, variables, filename in state.write_on_end:
        population.write_data(get_io(filename), variables)
    state.write_on_end = []


run, run_until = common.build_run(simulator)
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize


def get_current_time() -> float:
    """The current time of the simulation (ms)."""
    return simulator.state.t


def get_time_step() -> float:
    """The integration time step (ms)."""
    return simulator.state.dt


def get_min_delay() -> float:
    """The minimum synaptic delay (ms): the one given to ``setup``, or one time step."""
    return simulator.state.resolved_min_delay()


def get_max_delay():
    """The ``max_delay`` given to ``setup`` ('auto' when none was: pond's delays have no fixed bound)."""
    return simulator.state.max_delay


def num_processes() -> int:
    """Number of MPI processes (pond.pynn runs in one)."""
    return 1


def rank() -> int:
    """MPI rank of this process (always 0)."""
    return 0
