"""Packing and unpacking of the spike buffers that MPI ranks exchange once per interval (:mod:`engine.parallel.mpi`).

After phase 1 of an interval of ``Lk`` steps each rank holds the spikes of its own target blocks (see
:mod:`engine.kernels.network`). :func:`pack` writes them as one int32 message, block after block: the ``Lk × 3``
section ends (neurons, Poisson channels, generators of each step), then the ``n`` presynaptic ids, then their ``n``
counts. The ranks' messages, joined in rank order, hold every block in block order; :func:`unpack` copies the other
ranks' blocks into this rank's buffers and computes, from this rank's own row segments, what phase 1 computes for an
own block: the entries the interval adds to this rank's queues and the spikes it records. Every rank then takes its
queue decisions from its own figures and its record decisions from figures every rank shares.
"""
import numpy as np
from numba import njit

_NO_LIMIT = np.int64(1) << np.int64(62)  # the headroom of another rank's block: this rank queues nothing there


@njit(cache=True)
def packed_size(b, parity, o_lo, o_hi, Lk, ends):
    """Length (int32 entries) of this rank's message for blocks ``o_lo .. o_hi - 1``."""
    n = 0
    for blk in range(o_lo, o_hi):
        n += 3 * Lk + 2 * ends[b, parity, blk, Lk - 1, 2]
    return n


@njit(cache=True)
def pack(b, parity, o_lo, o_hi, Lk, ids, mult, ends, out):
    """Write blocks ``o_lo .. o_hi - 1`` of trial ``b``'s buffers (parity ``parity``) into ``out`` (int32, of
    :func:`packed_size`)."""
    pos = 0
    for blk in range(o_lo, o_hi):
        for i in range(Lk):
            for sec in range(3):
                out[pos] = ends[b, parity, blk, i, sec]
                pos += 1
        n = ends[b, parity, blk, Lk - 1, 2]
        for e in range(n):
            out[pos + e] = ids[b, parity, blk, e]
            out[pos + n + e] = mult[b, parity, blk, e]
        pos += 2 * n


@njit(cache=True)
def unpack(b, parity, o_lo, o_hi, Lk, msg, ids, mult, ends, row_ptr, t_ptr, rec_mask, D, runs, bneed, bnrec, bnsp,
           headroom):
    """Copy every block outside ``o_lo .. o_hi - 1`` from the joined message ``msg`` into trial ``b``'s buffers,
    with its queue entries (``bneed``: events onto this rank's targets; ``bnsp``: runs when ``runs``, else spikes)
    and recorded spikes (``bnrec``), counted as phase 1 counts them; another rank's block has no headroom limit."""
    NB = ends.shape[2]
    nbk = row_ptr.shape[1] - 1
    has_tm = t_ptr.shape[0] > 0
    pos = 0
    for blk in range(NB):
        n = msg[pos + 3 * Lk - 1]
        if o_lo <= blk < o_hi:
            pos += 3 * Lk + 2 * n
            continue
        for i in range(Lk):
            for sec in range(3):
                ends[b, parity, blk, i, sec] = msg[pos]
                pos += 1
        need = 0
        nrec = 0
        nrun = 0
        for e in range(n):
            pre = msg[pos + e]
            m = msg[pos + n + e]
            ids[b, parity, blk, e] = pre
            mult[b, parity, blk, e] = m
            size = row_ptr[pre, nbk] - row_ptr[pre, 0]
            need += size
            nrun += min(size, D)
            if has_tm:
                need += t_ptr[pre, nbk] - t_ptr[pre, 0]
            if rec_mask[pre]:
                nrec += m
        pos += 2 * n
        bneed[b, parity, blk] = need
        bnrec[b, parity, blk] = nrec
        bnsp[b, parity, blk] = nrun if runs else n
        headroom[b, parity, blk] = _NO_LIMIT
