"""Counter-based random numbers for kernels.

Every random draw is a pure function of ``(seed, stream indices, counter)``: a 64-bit key is derived from the seed and
the stream indices (trial, source, row, ...) and the ``counter``-th number of that stream is ``mix64(key + counter·φ)``
(the SplitMix64 output function applied to a Weyl sequence). No draw depends on which thread made it or on how many
draws other streams made, which is what makes batch runs and parallel loops bit-reproducible.
"""
import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: a bijective avalanche hash of a 64-bit word."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def stream_prefix(seed: int, a: int) -> np.uint64:
    """The part of :func:`stream_key` that depends on ``(seed, a)`` only: hoisted out of loops over ``b``."""
    h = mix64(np.uint64(seed) + _GOLDEN)
    return mix64(h ^ (np.uint64(a) * _M1 + _GOLDEN))


@njit(cache=True, inline="always")
def stream_key_at(prefix: np.uint64, b: int) -> np.uint64:
    """:func:`stream_key` ``(seed, a, b)`` from ``stream_prefix(seed, a)``."""
    return mix64(prefix ^ (np.uint64(b) * _M2 + _GOLDEN))


@njit(cache=True, inline="always")
def stream_key(seed: int, a: int, b: int) -> np.uint64:
    """Key of the random stream indexed by ``(seed, a, b)``; all three must be >= 0."""
    return stream_key_at(stream_prefix(seed, a), b)


@njit(cache=True, inline="always")
def uniform(key: np.uint64, counter: int) -> float:
    """The ``counter``-th uniform double in [0, 1) of stream ``key`` (53 random bits)."""
    z = mix64(key + np.uint64(counter) * _GOLDEN)
    return float(z >> _S11) * _INV53


@njit(cache=True, inline="always")
def uniform_open(key: np.uint64, counter: int) -> float:
    """Like :func:`uniform` but in (0, 1], safe for ``log``."""
    z = mix64(key + np.uint64(counter) * _GOLDEN)
    return (float(z >> _S11) + 1.0) * _INV53
