"""Target blocks: how a network's neurons are cut into the contiguous ranges that workers own.

Shared by the builder (which cuts each row of the connectivity into per-block segments), the memory estimate (which
counts the row pointers) and the MPI split (which hands blocks to ranks). Results never depend on the cut.
"""
from __future__ import annotations

import numpy as np

#: target blocks of the row segments: the most workers one trial can use
MAX_BLOCKS = 16
#: target blocks a network split over MPI ranks may have (row pointers take 8 bytes per row and block on every rank)
MAX_RANK_BLOCKS = 1024


def default_blocks() -> int:
    """Target blocks a network is cut into: one per thread numba may use (at most 16). Results never depend on it."""
    import numba

    return max(1, min(int(numba.config.NUMBA_NUM_THREADS), MAX_BLOCKS))


def block_bounds(n_neurons: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Target blocks: neurons ``lo[k]`` to ``hi[k] - 1`` of block ``k``, contiguous runs of a multiple of 64 neurons
    (the last takes the rest; trailing blocks are empty when there are fewer than ``64 · n_blocks`` neurons)."""
    N, NB = int(n_neurons), int(n_blocks)
    lo = np.minimum(np.arange(NB, dtype=np.int64) * block_size(N, NB), N)
    hi = np.minimum(lo + block_size(N, NB), N)
    hi[-1] = N
    return lo, hi


def block_size(n_neurons: int, n_blocks: int) -> int:
    """Neurons per target block: a multiple of 64 (one word of spike flags), at least 64."""
    return max(64, -(-n_neurons // (n_blocks * 64)) * 64)
