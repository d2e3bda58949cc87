"""Initial membrane potentials, shared by the clock-driven and the event-driven simulators so both start a trial
from the same bits."""
from __future__ import annotations

import numpy as np

from engine.distributions import DISTRIBUTIONS
from engine.kernels.state import init_draw, init_uniform, stream_keys
from engine.model import Network
from engine.streams import named_stream


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
