"""CSR assembly kernels: merging per-projection matrices into the network's one presynaptic CSR matrix."""
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
