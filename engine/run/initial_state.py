"""What the clock-driven and the event-driven simulators share before a run: the checked trial ids and run settings,
and the initial membrane potentials, so both start a trial from the same bits."""
from __future__ import annotations

import numpy as np

from engine.network.distributions import DISTRIBUTIONS
from engine.kernels.state import init_draw, init_uniform, stream_keys
from engine.network.description import Network
from engine.random import named_stream


def check_run_settings(owner: str, trials, n_jobs, chunk_ms) -> np.ndarray:
    """The trial ids of ``trials`` (a count >= 1 or distinct ids >= 0), after checking ``n_jobs`` (an integer >= 1
    or None) and ``chunk_ms`` (> 0); a ValueError names the first bad one."""
    if isinstance(trials, (int, np.integer)) and not isinstance(trials, bool):
        if trials < 1:
            raise ValueError(f"{owner}: trials = {trials} is not allowed; it must be >= 1")
        trial_ids = np.arange(trials, dtype=np.int64)
    else:
        trial_ids = np.asarray(trials, dtype=np.int64).ravel()
        if trial_ids.size == 0 or trial_ids.min() < 0 or np.unique(trial_ids).size != trial_ids.size:
            raise ValueError(f"{owner}: trials = {list(trials)} is not allowed; give distinct trial ids >= 0")
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
        raise ValueError(f"{owner}: n_jobs = {n_jobs!r} is not allowed; it must be an integer >= 1 or None")
    if not chunk_ms > 0:
        raise ValueError(f"{owner}: chunk_ms = {chunk_ms!r} is not allowed; it must be > 0")
    return trial_ids


def initial_potentials(net: Network, trial_ids: np.ndarray) -> np.ndarray:
    """``V_init`` of every neuron (populations in order) for every trial, float64 of shape ``(trials, neurons)``.

    A number or an array is the same in every trial; a ``(low, high)`` range or a distribution is drawn per neuron
    from the population's named stream ``("population", name, "V_init")`` and the trial id, so trial ``k`` starts
    from the same values in any batch.
    """
    ids = np.asarray(trial_ids, dtype=np.int64)
    out = np.empty((ids.size, net.size), dtype=np.float64)
    lo = 0
    for pop in net.populations:
        hi = lo + pop.size
        v = pop.V_init
        if isinstance(v, tuple) or isinstance(v, DISTRIBUTIONS):
            keys = stream_keys(net.seed, named_stream("population", pop.name, "V_init"), 1, ids)[:, 0].copy()
            block = np.empty((ids.size, pop.size), dtype=np.float64)
            if isinstance(v, tuple):
                init_uniform(block, keys, v[0], v[1])
            else:
                init_draw(block, keys, *v._kernel_args())
            out[:, lo:hi] = block
        else:
            out[:, lo:hi] = v
        lo = hi
    return out
