"""Synapse-model kernels: what one synapse does with a presynaptic spike, as functions of scalars.

A synapse group is a CSR over the presynaptic space whose rows are cut into target blocks: segment ``blk`` of row
``pre`` is ``row_ptr[pre, blk] .. row_ptr[pre, blk + 1]`` and holds only synapses onto block ``blk``'s neurons, in
the order the projections generated them. The loops over those segments are written out in
:mod:`engine.kernels.network`; each per-synapse update takes and returns scalars only, because numba
adds two atomic reference-count operations per array argument to every call of an inlined function inside such a
loop (about 45 ns for six arrays, more than the synapse's own work). A synapse model's update lives in its own
module of :mod:`engine.models.synapses`; this module lists the updates the segment loops call (the compiled dispatch
list of synapse models), so a new dynamic model adds its import here and its branch where the segment loops are.
"""
from numba import njit

from engine.models.synapses.tsodyks_markram import tm_update

__all__ = ["elapsed_ms", "tm_update"]


@njit(cache=True, inline="always")
def elapsed_ms(last_step, step, dt):
    """Milliseconds since a source's previous spike at ``last_step`` (-1.0 when it had none: ``last_step < 0``)."""
    return (step - last_step) * dt if last_step >= 0 else -1.0
