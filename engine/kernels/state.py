"""Kernels that set up per-trial state: random initial values and per-channel random stream keys."""
import numpy as np
from numba import njit

from engine.kernels.distributions import draw
from engine.kernels.rng import mix64, stream_key, uniform


@njit(cache=True)
def init_uniform(out, keys, low, high):
    """``out[b, i] = low + (high - low) · u`` with ``u`` the ``i``-th draw of trial ``b``'s stream ``keys[b]``."""
    for b in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[b, i] = low + (high - low) * uniform(keys[b], i)


@njit(cache=True)
def init_draw(out, keys, kind, a, b, low, high):
    """``out[b, i]``: a :func:`~engine.kernels.distributions.draw` from the stream whose key is the ``i``-th 64-bit
    output of trial ``b``'s stream ``keys[b]``."""
    for t in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[t, i] = draw(kind, a, b, low, high, mix64(keys[t] + np.uint64(i) * np.uint64(0x9E3779B97F4A7C15)))


@njit(cache=True)
def stream_keys(seed, first_stream, n_streams, trial_ids):
    """Keys of streams ``(seed, first_stream + c, trial)`` for every trial id and channel ``c < n_streams``."""
    out = np.empty((trial_ids.size, n_streams), dtype=np.uint64)
    for b in range(trial_ids.size):
        for c in range(n_streams):
            out[b, c] = stream_key(seed, first_stream + c, trial_ids[b])
    return out
