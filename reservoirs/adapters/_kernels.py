"""Numba kernels of the spike encoders (numpy, numba and the engine's public counter-based RNG only).

Randomness: the draw of trial ``i`` (its trial id, not its row in the batch), channel ``c`` and step ``k`` is
``uniform(stream_key(seed, trial_ids[i], c), k)``, so a trial's spikes depend only on the seed, its id and its
values, never on the batch it came in, the thread that ran it or the other trials. Each trial writes only its own
output rows (counts) or its own range of the flat outputs (spike lists), so the parallel variants are bit-identical
to the serial ones.

Spike lists come from two passes over the same draws: ``*_totals`` counts each trial's spikes, the caller turns the
counts into offsets and allocates, ``*_fill`` writes (step, channel) pairs in time order, channels ascending within a
step, a channel repeated when it fires more than once in a step.

Send-on-delta keeps, per feature, the signed number of thresholds ``net`` its reference has moved from the first
sample (``N_on - N_off``), not a running float reference: with ``q = (x[t] - x[0]) / threshold``, step ``t`` fires
``floor(q) - net`` ON spikes when ``q >= net + 1`` and ``net - ceil(q)`` OFF spikes when ``q <= net - 1``, and sets
``net`` to that bound. That is "fire while the sample is at least one threshold from ``x[0] + threshold * net``"
counted in one step, so the work per sample does not grow with the jump, and a threshold below the float spacing
of the signal (where adding it to a float reference leaves the reference unchanged) cannot stall the loop. The
caller checks that every ``|q|`` stays below 2**53, where ``net`` and the comparisons are exact.

Every loop here is bounded: steps, channels and trials by the array shapes, the Poisson search by ``_MAX_COUNT``,
the spikes written by the totals counted first.
"""
import types

import numpy as np
from numba import njit, prange

from engine.random import stream_key, uniform

#: Largest Poisson count drawn in one step (the inverse-CDF search stops there; the encoders keep the mean per step
#: at or below 1, where reaching it has probability below 1e-300).
_MAX_COUNT = 1000


@njit(cache=True, inline="always")
def _count(key, k, lam, emlam, poisson):
    """Spikes in step ``k`` of stream ``key``: Bernoulli(``lam``), or Poisson(``lam``) by inverse CDF (one uniform
    per step either way); ``emlam`` is ``exp(-lam)``."""
    if lam <= 0.0:
        return 0
    u = uniform(key, k)
    if not poisson:
        return 1 if u < lam else 0
    n = 0
    p = emlam
    cdf = p
    while u >= cdf and n < _MAX_COUNT:
        n += 1
        p *= lam / n
        if p == 0.0:
            break
        cdf += p
    return n


def _py_rate_counts(lam, emlam, trial_ids, seed, steps, poisson, out):
    """``out[i, k, c]``: spikes of trial ``i``, channel ``c`` in step ``k`` at mean ``lam[i, c]`` per step."""
    n, n_ch = lam.shape
    for i in prange(n):
        keys = np.empty(n_ch, dtype=np.uint64)
        for c in range(n_ch):
            keys[c] = stream_key(seed, trial_ids[i], c)
        for k in range(steps):
            for c in range(n_ch):
                out[i, k, c] = _count(keys[c], k, lam[i, c], emlam[i, c], poisson)


def _py_rate_totals(lam, emlam, trial_ids, seed, steps, poisson, totals):
    """``totals[i]``: the number of spikes of trial ``i`` (same draws as :func:`rate_counts`)."""
    n, n_ch = lam.shape
    for i in prange(n):
        s = 0
        for c in range(n_ch):
            key = stream_key(seed, trial_ids[i], c)
            for k in range(steps):
                s += _count(key, k, lam[i, c], emlam[i, c], poisson)
        totals[i] = s


def _py_rate_fill(lam, emlam, trial_ids, seed, steps, poisson, offsets, out_steps, out_channels):
    """Trial ``i``'s spikes as (step, channel) pairs in ``[offsets[i], offsets[i + 1])``, in time order."""
    n, n_ch = lam.shape
    for i in prange(n):
        keys = np.empty(n_ch, dtype=np.uint64)
        for c in range(n_ch):
            keys[c] = stream_key(seed, trial_ids[i], c)
        pos = offsets[i]
        for k in range(steps):
            for c in range(n_ch):
                m = _count(keys[c], k, lam[i, c], emlam[i, c], poisson)
                for _ in range(m):
                    out_steps[pos] = k
                    out_channels[pos] = c
                    pos += 1


@njit(cache=True, inline="always")
def _delta_step(x, t, x0, net, j, threshold):
    """Send-on-delta at step ``t`` for feature ``j``: (ON, OFF) spike counts; moves ``net[j]`` to the whole number
    of thresholds the sample lies above the first one (see the module docstring), in O(1) whatever the jump."""
    q = (x[t, j] - x0[j]) / threshold
    n = net[j]
    if q >= n + 1:
        k = np.int64(np.floor(q))
        net[j] = k
        return k - n, np.int64(0)
    if q <= n - 1:
        k = np.int64(np.ceil(q))
        net[j] = k
        return np.int64(0), n - k
    return np.int64(0), np.int64(0)


def _py_delta_counts(x, threshold, out):
    """``out[i, t, j]`` ON and ``out[i, t, d + j]`` OFF spikes of trial ``i``, feature ``j`` at step ``t``."""
    n, steps, d = x.shape
    for i in prange(n):
        x0 = x[i, 0, :]
        net = np.zeros(d, dtype=np.int64)
        for t in range(1, steps):
            for j in range(d):
                on, off = _delta_step(x[i], t, x0, net, j, threshold)
                out[i, t, j] = on
                out[i, t, d + j] = off


def _py_delta_totals(x, threshold, totals):
    """``totals[i]``: the number of ON and OFF spikes of trial ``i``."""
    n, steps, d = x.shape
    for i in prange(n):
        x0 = x[i, 0, :]
        net = np.zeros(d, dtype=np.int64)
        s = 0
        for t in range(1, steps):
            for j in range(d):
                on, off = _delta_step(x[i], t, x0, net, j, threshold)
                s += on + off
        totals[i] = s


def _py_delta_fill(x, threshold, offsets, out_steps, out_channels):
    """Trial ``i``'s ON (channel ``j``) and OFF (channel ``d + j``) spikes in time order, ON channels first."""
    n, steps, d = x.shape
    for i in prange(n):
        x0 = x[i, 0, :]
        net = np.zeros(d, dtype=np.int64)
        pos = offsets[i]
        offs = np.zeros(d, dtype=np.int64)
        for t in range(1, steps):
            for j in range(d):
                on, off = _delta_step(x[i], t, x0, net, j, threshold)
                offs[j] = off
                for _ in range(on):
                    out_steps[pos] = t
                    out_channels[pos] = j
                    pos += 1
            for j in range(d):
                for _ in range(offs[j]):
                    out_steps[pos] = t
                    out_channels[pos] = d + j
                    pos += 1


def _renamed(fn, name):
    """A copy of ``fn`` under another name: Numba's disk cache keys a kernel by its function's qualified name, not by
    its compile options, so a serial and a parallel variant of one function must not share a name."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = fn.__doc__
    return copy


def _variants(fn):
    """A serial and a parallel compiled variant of one Python function (same draws, same bits)."""
    base = fn.__name__.removeprefix("_py_")
    return (njit(cache=True)(_renamed(fn, base + "_serial")),
            njit(cache=True, parallel=True)(_renamed(fn, base + "_parallel")))


rate_counts, rate_counts_parallel = _variants(_py_rate_counts)
rate_totals, rate_totals_parallel = _variants(_py_rate_totals)
rate_fill, rate_fill_parallel = _variants(_py_rate_fill)
delta_counts, delta_counts_parallel = _variants(_py_delta_counts)
delta_totals, delta_totals_parallel = _variants(_py_delta_totals)
delta_fill, delta_fill_parallel = _variants(_py_delta_fill)

#: kernel name -> (serial, parallel), looked up once in Python.
KERNELS = {
    "rate_counts": (rate_counts, rate_counts_parallel),
    "rate_totals": (rate_totals, rate_totals_parallel),
    "rate_fill": (rate_fill, rate_fill_parallel),
    "delta_counts": (delta_counts, delta_counts_parallel),
    "delta_totals": (delta_totals, delta_totals_parallel),
    "delta_fill": (delta_fill, delta_fill_parallel),
}
