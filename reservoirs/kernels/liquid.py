"""Liquid-state features from spikes as they arrive: exponentially filtered spike trains sampled at given steps,
and spike counts in the window before each sample (numpy and numba imports only).

State per (trial, column): ``tr[c]``, the trace just after column ``c``'s last spike (that spike included), and
``last[c]``, the step of that spike (-1: none yet). The trace at sample step ``m`` (time ``m · dt``) is

    tr[c] · exp(-(m - last[c]) · dt / tau)        (0 when column c has not spiked before step m),

the sum of ``exp(-(m - k) dt / tau)`` over the column's spikes at steps ``k < m``: a spike in the step that starts
at the sample time is not counted (the sample is the state at the end of the step that ends there, as the engine's
StateMonitor samples). Every operation depends only on the column's own spikes in time order and on the sample
steps, so the features are the same bits however the spikes are cut into chunks.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True)
def finalize(out, tr, last, cols, sample_steps, j0, j1, dt_tau):
    """Write the traces of columns ``cols`` at samples ``j0 .. j1 - 1`` into ``out[j, c]``."""
    for j in range(j0, j1):
        m = sample_steps[j]
        for i in range(cols.shape[0]):
            c = cols[i]
            if last[c] >= 0:
                out[j, c] = tr[c] * math.exp(-(m - last[c]) * dt_tau)
            else:
                out[j, c] = 0.0


@njit(cache=True)
def feed_spikes(steps, local, cols, sample_steps, j, tr, last, out, dt_tau, counts, bin_steps):
    """Add one population's spikes (``steps`` non-decreasing, ``local`` indices into ``cols``) of one trial.

    Samples before a spike's step are finalised first (their traces see only earlier spikes); ``counts[j, c]``
    counts the spikes at steps ``k`` with ``m_j - bin_steps <= k < m_j`` when ``bin_steps > 0``, with
    ``m_{j-1} <= k < m_j`` (``m_{-1} = 0``) when ``bin_steps < 0``, none when 0. Returns the index of the first
    sample not yet finalised.
    """
    S = sample_steps.shape[0]
    for i in range(steps.shape[0]):
        k = steps[i]
        c = cols[local[i]]
        while j < S and sample_steps[j] <= k:
            finalize(out, tr, last, cols, sample_steps, j, j + 1, dt_tau)
            j += 1
        if last[c] >= 0:
            tr[c] = tr[c] * math.exp(-(k - last[c]) * dt_tau) + 1.0
        else:
            tr[c] = 1.0
        last[c] = k
        if bin_steps > 0:
            a = np.searchsorted(sample_steps, k, side="right")
            b = np.searchsorted(sample_steps, k + bin_steps, side="right")
            for jj in range(a, b):
                counts[jj, c] += 1
        elif bin_steps < 0:  # bins between consecutive samples: the spike counts at the first sample after it
            a = np.searchsorted(sample_steps, k, side="right")
            if a < S:
                counts[a, c] += 1
    return j


@njit(cache=True)
def filtered_at(steps, ids, n, sample_steps, dt_tau, bin_steps):
    """Traces and counts of ``n`` columns from one full spike record (``steps`` non-decreasing)."""
    S = sample_steps.shape[0]
    out = np.zeros((S, n), dtype=np.float64)
    counts = np.zeros((S, n), dtype=np.int64)
    tr = np.zeros(n, dtype=np.float64)
    last = np.full(n, -1, dtype=np.int64)
    cols = np.arange(n)
    j = feed_spikes(steps, ids, cols, sample_steps, 0, tr, last, out, dt_tau, counts, bin_steps)
    finalize(out, tr, last, cols, sample_steps, j, S, dt_tau)
    return out, counts
