"""CSR assembly kernels: merging per-projection matrices into the network's one presynaptic CSR matrix."""
import numpy as np
from numba import njit


@njit(cache=True)
def scatter_rows(fill, pre_lo, indptr, targets, post_lo, out_targets, w_vals, out_w, d_vals, out_d):
    """Append every row ``r`` of one projection at ``fill[pre_lo + r]`` of the merged arrays, advancing ``fill``.

    Targets are shifted by ``post_lo`` into the global neuron space; weights and delays are copied only when the
    merged matrix stores them per synapse (non-empty ``out_w`` / ``out_d``).
    """
    n_rows = indptr.size - 1
    copy_w = out_w.size > 0
    copy_d = out_d.size > 0
    for r in range(n_rows):
        pos = fill[pre_lo + r]
        for s in range(indptr[r], indptr[r + 1]):
            out_targets[pos] = targets[s] + post_lo
            if copy_w:
                out_w[pos] = w_vals[s]
            if copy_d:
                out_d[pos] = d_vals[s]
            pos += 1
        fill[pre_lo + r] = pos


@njit(cache=True)
def block_order(indptr, targets, block_size, n_blocks):
    """Stable order of every row's synapses by target block (``target // block_size``, at most ``n_blocks - 1``).

    Returns ``row_ptr`` of shape ``(n_rows, n_blocks + 1)`` (absolute positions: segment ``blk`` of row ``r`` is
    ``row_ptr[r, blk] .. row_ptr[r, blk + 1]`` in the reordered arrays) and ``perm``, the position in the input of
    each reordered synapse. Within a segment synapses keep their input order, so each target sees its synapses in
    the same order as before.
    """
    n_rows = indptr.size - 1
    row_ptr = np.empty((n_rows, n_blocks + 1), dtype=np.int64)
    perm = np.empty(targets.size, dtype=np.int64)
    fill = np.empty(n_blocks, dtype=np.int64)
    for r in range(n_rows):
        lo = indptr[r]
        hi = indptr[r + 1]
        fill[:] = 0
        for s in range(lo, hi):
            fill[min(np.int64(targets[s]) // block_size, n_blocks - 1)] += 1
        pos = lo
        for blk in range(n_blocks):
            row_ptr[r, blk] = pos
            c = fill[blk]
            fill[blk] = pos
            pos += c
        row_ptr[r, n_blocks] = hi
        for s in range(lo, hi):
            blk = min(np.int64(targets[s]) // block_size, n_blocks - 1)
            perm[fill[blk]] = s
            fill[blk] += 1
    return row_ptr, perm
