"""The compiled dispatch list of neuron models: one step of a range of neurons, population by population.

Numba compiles one call per model, so the list of model updates is static: this module, beside the model's own
module in :mod:`engine.models.neurons`, is the one other place a neuron model with a new update appears. Each
model's ``update`` (threshold, reset and refractoriness branch-free, so that LLVM vectorises its loop) takes the
state arrays of one trial and its population's row of the parameter table.
"""
import numpy as np
from numba import njit

from engine.models.neurons import iaf_psc_delta, iaf_psc_exp
from engine.models.neurons.lif import N_PAR as _LIF_PAR

EXP = iaf_psc_exp.KERNEL
DELTA = iaf_psc_delta.KERNEL
#: kernel codes in this list, by the model that brought them
KERNELS = {EXP: "iaf_psc_exp", DELTA: "iaf_psc_delta"}
#: columns of the parameter table: the longest row of any model
N_PAR = _LIF_PAR


@njit(cache=True, inline="always")
def update_range(pop_lo, pop_hi, model, use_iext, par, ref_steps, V, Iex, Iin, ref, Iext, flags, lo, hi):
    """Advance neurons ``[lo, hi)`` of one trial by one step, population by population.

    One loop over the populations per model, each calling one update: a single loop dispatching to both models
    made LLVM's code for the neuron loop about 20 % slower (measured on CUBA's 4000 neurons)."""
    for p in range(pop_lo.size):
        a = max(pop_lo[p], lo)
        z = min(pop_hi[p], hi)
        if a >= z or model[p] != EXP:
            continue
        iaf_psc_exp.update(V, Iex, Iin, ref, Iext, flags, np.uint64(a), z - a, par[p], np.int64(ref_steps[p]),
                           use_iext[p])
    for p in range(pop_lo.size):
        a = max(pop_lo[p], lo)
        z = min(pop_hi[p], hi)
        if a >= z or model[p] != DELTA:
            continue
        iaf_psc_delta.update(V, Iex, Iin, ref, Iext, flags, np.uint64(a), z - a, par[p], np.int64(ref_steps[p]),
                             use_iext[p])
