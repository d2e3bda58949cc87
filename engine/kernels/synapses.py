"""Synapse-model kernels: what one synapse does with a presynaptic spike, as functions of scalars.

A synapse group is a CSR over the presynaptic space whose rows are cut into target blocks: segment ``blk`` of row
``pre`` is ``row_ptr[pre, blk] .. row_ptr[pre, blk + 1]`` and holds only synapses onto block ``blk``'s neurons, in
the order the projections generated them. The loops over those segments are written out in
:mod:`engine.kernels.network`; the per-synapse update lives here and takes and returns scalars only, because numba
adds two atomic reference-count operations per array argument to every call of an inlined function inside such a
loop (about 45 ns for six arrays, more than the synapse's own work). A new synapse model adds its update here and its
branch where the segment loops are.
"""
import math

from numba import njit


@njit(cache=True, inline="always")
def tm_update(u, x, U, tau_rec, tau_fac, h_ms, mult):
    r"""Tsodyks–Markram synapse state ``(u, x)`` after ``mult`` presynaptic spikes, the first ``h_ms`` after the
    previous spike (``h_ms < 0``: the synapse's first spike, which uses ``u``, ``x`` as they are) and the others in
    the same step; returns ``(u, x, efficacy)`` with the efficacy :math:`\sum u_n x_n` (NEST's
    ``tsodyks2_synapse`` recurrence, :mod:`engine.models.synapses`)."""
    if h_ms >= 0.0:
        x_decay = math.exp(-h_ms / tau_rec)
        u_decay = 0.0 if tau_fac == 0.0 else math.exp(-h_ms / tau_fac)
        x = 1.0 + (x - x * u - 1.0) * x_decay
        u = U + u * (1.0 - U) * u_decay
    eff = x * u
    same = 0.0 if tau_fac == 0.0 else 1.0
    for _ in range(1, mult):  # further spikes of the same step: no time has passed
        x = 1.0 + (x - x * u - 1.0)
        u = U + u * (1.0 - U) * same
        eff += x * u
    return u, x, eff


@njit(cache=True, inline="always")
def elapsed_ms(last_step, step, dt):
    """Milliseconds since a source's previous spike at ``last_step`` (-1.0 when it had none: ``last_step < 0``)."""
    return (step - last_step) * dt if last_step >= 0 else -1.0
