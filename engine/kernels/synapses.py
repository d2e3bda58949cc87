"""Synapse-model kernels: the Tsodyks–Markram update and the walks over one row segment of a synapse group.

A synapse group is a CSR over the presynaptic space whose rows are cut into target blocks: segment ``blk`` of row
``pre`` is ``row_ptr[pre, blk] .. row_ptr[pre, blk + 1]`` and holds only synapses onto block ``blk``'s neurons, in
the order the projections generated them. A worker owning a block walks only that block's segments, so each target
receives its additions in one fixed order whatever the number of workers. Static synapses deliver ``w`` per spike;
Tsodyks–Markram synapses deliver ``w·u·x`` and update ``u``, ``x`` per (trial, synapse) when their source spikes.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def tm_efficacy(stp, b, s, h_ms, mult):
    r"""Update synapse ``s`` of trial ``b`` for ``mult`` presynaptic spikes, the first ``h_ms`` after the previous
    one (``h_ms < 0``: the synapse's first spike, which uses the initial ``u``, ``x`` as they are) and the others
    in the same step, and return the summed efficacy :math:`\sum u_n x_n` (NEST's ``tsodyks2_synapse``
    recurrence; ``u``, ``x`` hold the values of the last spike)."""
    U = stp.U[s]
    tau_fac = stp.tau_fac[s]
    uu = stp.u[b, s]
    xx = stp.x[b, s]
    if h_ms >= 0.0:
        x_decay = math.exp(-h_ms / stp.tau_rec[s])
        u_decay = 0.0 if tau_fac == 0.0 else math.exp(-h_ms / tau_fac)
        xx = 1.0 + (xx - xx * uu - 1.0) * x_decay
        uu = U + uu * (1.0 - U) * u_decay
    eff = xx * uu
    same = 0.0 if tau_fac == 0.0 else 1.0
    for _ in range(1, mult):  # further spikes of the same step: no time has passed
        xx = 1.0 + (xx - xx * uu - 1.0)
        uu = U + uu * (1.0 - U) * same
        eff += xx * uu
    stp.u[b, s] = uu
    stp.x[b, s] = xx
    return eff


@njit(cache=True, inline="always")
def push_static(conn, q, b, blk, pre, mult, slot, D):
    """Queue the events of ``pre``'s static segment ``blk`` (``mult`` spikes) into block ``blk``'s event queue."""
    per_syn_d = conn.d_syn.size > 0
    per_syn_w = conn.w_syn.size > 0
    fmult = np.float64(mult)
    w_row = np.float64(conn.w_row[pre]) * fmult
    d_row = np.int64(conn.d_row[pre])
    for s in range(conn.row_ptr[pre, blk], conn.row_ptr[pre, blk + 1]):
        e_slot = slot + (np.int64(conn.d_syn[s]) if per_syn_d else d_row)
        if e_slot >= D:
            e_slot -= D
        e = q.q_n[b, blk, e_slot]
        q.q_tgt[b, blk, e_slot, e] = conn.targets[s]
        q.q_w[b, blk, e_slot, e] = np.float64(conn.w_syn[s]) * fmult if per_syn_w else w_row
        q.q_n[b, blk, e_slot] = e + 1


@njit(cache=True, inline="always")
def push_tm(stp, q, b, blk, pre, mult, slot, D, step, dt):
    """Queue the events of ``pre``'s Tsodyks–Markram segment ``blk``, updating each synapse's ``u``, ``x``."""
    last = stp.last[b, blk, pre]
    h_ms = (step - last) * dt if last >= 0 else -1.0  # last < 0: no spike yet
    stp.last[b, blk, pre] = step
    per_syn_d = stp.d_syn.size > 0
    d_row = np.int64(stp.d_row[pre])
    for s in range(stp.row_ptr[pre, blk], stp.row_ptr[pre, blk + 1]):
        w = np.float64(stp.w[s]) * tm_efficacy(stp, b, s, h_ms, mult)
        e_slot = slot + (np.int64(stp.d_syn[s]) if per_syn_d else d_row)
        if e_slot >= D:
            e_slot -= D
        e = q.q_n[b, blk, e_slot]
        q.q_tgt[b, blk, e_slot, e] = stp.targets[s]
        q.q_w[b, blk, e_slot, e] = w
        q.q_n[b, blk, e_slot] = e + 1


@njit(cache=True, inline="always")
def add_static(conn, Iex, Iin, pre, blk, mult):
    """Add ``pre``'s static segment ``blk`` (``mult`` spikes) to the targets' input: ``w >= 0`` to ``Iex``."""
    lo = conn.row_ptr[pre, blk]
    hi = conn.row_ptr[pre, blk + 1]
    fmult = np.float64(mult)
    if conn.w_syn.size > 0:
        for s in range(lo, hi):
            w = np.float64(conn.w_syn[s]) * fmult
            if w >= 0:
                Iex[conn.targets[s]] += w
            else:
                Iin[conn.targets[s]] += w
    else:
        w = np.float64(conn.w_row[pre]) * fmult
        if w >= 0:
            for s in range(lo, hi):
                Iex[conn.targets[s]] += w
        else:
            for s in range(lo, hi):
                Iin[conn.targets[s]] += w


@njit(cache=True, inline="always")
def add_tm(stp, Iex, Iin, b, pre, blk, mult, step_emitted, dt):
    """Add ``pre``'s Tsodyks–Markram segment ``blk`` to the targets' input, for spikes emitted at
    ``step_emitted`` (the row's delay before now), updating each synapse's ``u``, ``x``."""
    last = stp.last[b, blk, pre]
    h_ms = (step_emitted - last) * dt if last >= 0 else -1.0  # last < 0: no spike yet
    stp.last[b, blk, pre] = step_emitted
    for s in range(stp.row_ptr[pre, blk], stp.row_ptr[pre, blk + 1]):
        w = np.float64(stp.w[s]) * tm_efficacy(stp, b, s, h_ms, mult)
        if stp.w[s] >= 0:
            Iex[stp.targets[s]] += w
        else:
            Iin[stp.targets[s]] += w
