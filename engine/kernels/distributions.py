"""Sampling kernels for value distributions (weights, delays, initial states).

Sample ``i`` is a pure function of ``(seed, stream, i)``: it draws from stream ``stream_key(seed, stream, i)``,
counters 0, 1, 2, ... (rejection methods use as many as they need). So the first ``n`` samples do not depend on how
many are drawn in all, nor on the thread that drew them.
"""
import numpy as np
from numba import njit, prange

from engine.kernels.rng import stream_key_at, stream_prefix, uniform, uniform_open

UNIFORM = 0
NORMAL = 1
GAMMA = 2
LOGNORMAL = 3

_TWO_PI = 2.0 * np.pi


@njit(cache=True, inline="always")
def _std_normal(key, c):
    """Standard normal from counters ``c`` and ``c + 1`` (Box–Muller, cosine branch)."""
    r = np.sqrt(-2.0 * np.log(uniform_open(key, c)))
    return r * np.cos(_TWO_PI * uniform(key, c + 1))


@njit(cache=True, inline="always")
def _normal_within(key, mean, std, low, high):
    """``mean + std · N(0, 1)``, redrawn while outside ``[low, high]``."""
    c = 0
    while True:
        x = mean + std * _std_normal(key, c)
        c += 2
        if low <= x <= high:
            return x


@njit(cache=True, inline="always")
def _gamma(key, shape, scale):
    """Gamma(shape, scale) by Marsaglia & Tsang (2000); ``shape < 1`` via ``G(shape + 1) · U^(1/shape)``."""
    a = shape if shape >= 1.0 else shape + 1.0
    d = a - 1.0 / 3.0
    cc = 1.0 / np.sqrt(9.0 * d)
    c = 0
    while True:
        x = _std_normal(key, c)
        u = uniform_open(key, c + 2)
        c += 3
        v = 1.0 + cc * x
        if v <= 0.0:
            continue
        v = v * v * v
        if np.log(u) < 0.5 * x * x + d - d * v + d * np.log(v):
            g = d * v
            if shape < 1.0:
                g *= uniform_open(key, c) ** (1.0 / shape)
            return g * scale


@njit(cache=True, inline="always")
def draw(kind, a, b, low, high, key):
    """One sample of distribution ``kind`` with parameters ``(a, b)`` from stream ``key``: UNIFORM (low, high),
    NORMAL (mean, std; redrawn outside ``[low, high]``), GAMMA (shape, scale), LOGNORMAL (mu, sigma)."""
    if kind == UNIFORM:
        return a + (b - a) * uniform(key, 0)
    if kind == NORMAL:
        return _normal_within(key, a, b, low, high)
    if kind == GAMMA:
        return _gamma(key, a, b)
    return np.exp(a + b * _std_normal(key, 0))


@njit(cache=True, parallel=True)
def sample(kind, a, b, low, high, n, seed, stream):
    """``n`` float64 samples of :func:`draw`, sample ``i`` from stream ``(seed, stream, i)``."""
    out = np.empty(n, dtype=np.float64)
    prefix = stream_prefix(seed, stream)
    for i in prange(n):
        out[i] = draw(kind, a, b, low, high, stream_key_at(prefix, i))
    return out
