"""Streaming CSR assembly: every projection's synapses generated straight into the network's final arrays.

A synapse group is one CSR matrix over the presynaptic space whose rows are cut into target blocks: segment ``blk``
of row ``r`` is ``row_ptr[r, blk] .. row_ptr[r, blk + 1]`` (an MPI rank keeps only its own blocks' segments and
columns, ``blk`` counted from its first block); inside a segment, synapses come projection by projection
(in the order the projections were added), each projection's in its own row order. Building it takes two passes
over each projection's rows, which are regenerated from their random streams (:func:`engine.kernels.connect.gen_row`)
rather than stored: :func:`count_row_blocks` counts every (row, block) segment, then :func:`fill_rows` writes each
synapse's target, weight, delay and parameters at its final position. Nothing of size "synapses" exists besides
the final arrays, so the build's peak memory is the result's. With per-synapse delays, :func:`sort_segments_by_delay`
then orders each segment of static synapses by delay (stably), for the simulation's run queue.

Values (weights, delays, synapse parameters) are given per quantity ``v`` by ``vmode[v]``: 0 a constant
``vconst[v]``; 1 a draw of distribution ``vdist[v]`` (kind, a, b, low, high) from stream ``(seed, vstream[v], s)``,
``s`` the synapse's index in its projection's own CSR order (so it equals
:func:`engine.network.distributions.resolve_values`' sample ``s``); 2 row ``vconst[v]`` of ``varr`` at ``s``; 3 the value of
quantity 2 (a Tsodyks–Markram ``u0`` that follows ``U``). Quantity 0 is the weight, 1 the delay (in ms when drawn,
in steps otherwise), 2.. the synapse model's parameters.
"""
import numpy as np
from numba import njit, prange

from engine.kernels.connect import gen_row, known_row_size
from engine.kernels.distributions import draw
from engine.kernels.rng import stream_key_at, stream_prefix

_MAX_DELAY_STEPS = 65535


@njit(cache=True, inline="always")
def _chunks(n_rows):
    """Row chunks of a parallel pass (each with its own scratch row); results do not depend on their number."""
    return max(1, min(n_rows, 256))


@njit(cache=True, parallel=True)
def count_row_blocks(kind, ip, fp, indptr, targets, pre_pos, post_pos, r0, r1, scratch_len, pre_lo, post_lo,
                     block_size, n_blocks, counts, sizes, own_lo=0, own_hi=1 << 62):
    """Pass 1, rows ``r0 .. r1 - 1``: add each row's synapses per target block ``blk`` in ``own_lo .. own_hi - 1``
    (an MPI rank's blocks; all by default) to ``counts[pre_lo + i, blk - own_lo]`` and store the row's whole size
    in ``sizes[i]``."""
    n_rows = r1 - r0
    nch = _chunks(n_rows)
    last = n_blocks - 1
    for c in prange(nch):
        out = np.empty(scratch_len, dtype=np.int32)
        sums = np.empty(scratch_len, dtype=np.float64)
        for i in range(r0 + c * n_rows // nch, r0 + (c + 1) * n_rows // nch):
            r = pre_lo + i
            if n_blocks == 1:  # one block: only the size matters, and most rules know it without drawing
                n = known_row_size(kind, i, ip, indptr)
                if n < 0:
                    n = gen_row(kind, i, ip, fp, indptr, targets, pre_pos, post_pos, out, sums)
                sizes[i] = n
                counts[r, 0] += n
                continue
            n = gen_row(kind, i, ip, fp, indptr, targets, pre_pos, post_pos, out, sums)
            sizes[i] = n
            for t in range(n):
                blk = min((np.int64(out[t]) + post_lo) // block_size, last)
                if own_lo <= blk < own_hi:
                    counts[r, blk - own_lo] += 1


@njit(cache=True)
def segment_pointers(counts):
    """``row_ptr[r, blk]`` (absolute start of each segment, ``row_ptr[r, n_blocks]`` the row's end) and ``indptr``
    from the per-segment counts."""
    n_rows, nb = counts.shape
    row_ptr = np.empty((n_rows, nb + 1), dtype=np.int64)
    indptr = np.empty(n_rows + 1, dtype=np.int64)
    pos = 0
    for r in range(n_rows):
        indptr[r] = pos
        for blk in range(nb):
            row_ptr[r, blk] = pos
            pos += counts[r, blk]
        row_ptr[r, nb] = pos
    indptr[n_rows] = pos
    return row_ptr, indptr


@njit(cache=True, inline="always")
def _scalar_value(mode, const, kind, a, b, low, high, key, given, first):
    """A quantity's value at one synapse from scalars only (a helper taking arrays would cost atomic reference
    counts per call): the constant, a draw from ``key``, the ``given`` value, or ``first``."""
    if mode == 0:
        return const
    if mode == 1:
        return draw(kind, a, b, low, high, key)
    if mode == 2:
        return given
    return first


@njit(cache=True, parallel=True)
def fill_rows(kind, ip, fp, indptr, targets, pre_pos, post_pos, r0, r1, scratch_len, p_indptr, pre_lo, post_lo,
              block_size, n_blocks, fill, seed, vmode, vconst, vdist, vstream, varr, clip, dt, d_off,
              out_t, out_w, out_d, out_p, own_lo=0, own_hi=1 << 62):
    """Pass 2, rows ``r0 .. r1 - 1``: write every synapse of the projection's rows at ``fill[pre_lo + i, blk]``
    (advancing it): target (shifted by ``post_lo``), weight (when ``out_w`` is not empty), delay steps minus
    ``d_off`` (when ``out_d`` is not empty) and the parameters ``out_p[q]`` (quantity ``2 + q``; clipped to [0, 1]
    where ``clip[q]``). Only synapses onto blocks ``own_lo .. own_hi - 1`` are written (an MPI rank's share;
    ``fill``'s columns are those blocks); the delays and parameters of the others are still drawn and checked, so
    every rank reports the same delay range and refuses the same bad draws.

    Returns per chunk: the smallest and largest stored delay, the number of drawn delays off the allowed range
    ``[dt, 65535 dt]``, and the number of drawn ``tau_rec <= 0`` (parameter 1) or ``tau_fac < 0`` (parameter 2).
    """
    n_rows = r1 - r0
    nch = _chunks(n_rows)
    stats = np.zeros((nch, 4), dtype=np.int64)
    last = n_blocks - 1
    write_w = out_w.size > 0
    write_d = out_d.size > 0
    n_par = out_p.shape[0]
    lo_ok = dt * (1.0 - 1e-9)
    hi_ok = _MAX_DELAY_STEPS * dt * (1.0 + 1e-9)
    vkey = np.empty(vmode.size, dtype=np.uint64)  # each quantity's stream prefix, hoisted
    for v in range(vmode.size):
        vkey[v] = stream_prefix(seed, vstream[v])
    wm, wk, wkey, wrow = vmode[0], np.int64(vdist[0, 0]), vkey[0], np.int64(vconst[0])  # weight and delay: scalars
    dm, dk, dkey, drow = vmode[1], np.int64(vdist[1, 0]), vkey[1], np.int64(vconst[1])
    for c in prange(nch):
        out = np.empty(scratch_len, dtype=np.int32)
        sums = np.empty(scratch_len, dtype=np.float64)
        dmin = _MAX_DELAY_STEPS
        dmax = 0
        bad_d = 0
        bad_p = 0
        for i in range(r0 + c * n_rows // nch, r0 + (c + 1) * n_rows // nch):
            n = gen_row(kind, i, ip, fp, indptr, targets, pre_pos, post_pos, out, sums)
            r = pre_lo + i
            s0 = p_indptr[i]
            for t in range(n):
                tgt = np.int64(out[t]) + post_lo
                blk = min(tgt // block_size, last)
                mine = own_lo <= blk < own_hi
                pos = 0
                if mine:
                    pos = fill[r, blk - own_lo]
                    fill[r, blk - own_lo] = pos + 1
                    out_t[pos] = tgt
                s = s0 + t
                if write_w and mine:
                    out_w[pos] = _scalar_value(wm, vconst[0], wk, vdist[0, 1], vdist[0, 2], vdist[0, 3], vdist[0, 4],
                                               stream_key_at(wkey, s), varr[wrow, s] if wm == 2 else 0.0, 0.0)
                if write_d:
                    if dm == 1:
                        x = draw(dk, vdist[1, 1], vdist[1, 2], vdist[1, 3], vdist[1, 4], stream_key_at(dkey, s))
                        if x < lo_ok or x > hi_ok:
                            bad_d += 1
                        d = min(max(np.int64(np.rint(x / dt)), 1), _MAX_DELAY_STEPS) - d_off
                    else:
                        d = np.int64(varr[drow, s] if dm == 2 else vconst[1]) - d_off
                    if mine:
                        out_d[pos] = d
                    dmin = min(dmin, d)
                    dmax = max(dmax, d)
                first = 0.0
                for q in range(n_par):
                    v = 2 + q
                    m = vmode[v]
                    x = _scalar_value(m, vconst[v], np.int64(vdist[v, 0]), vdist[v, 1], vdist[v, 2], vdist[v, 3],
                                      vdist[v, 4], stream_key_at(vkey[v], s),
                                      varr[np.int64(vconst[v]), s] if m == 2 else 0.0, first)
                    if clip[q]:
                        x = min(max(x, 0.0), 1.0)
                    elif (q == 1 and x <= 0.0) or (q == 2 and x < 0.0):
                        bad_p += 1
                    if q == 0:
                        first = x
                    if mine:
                        out_p[q, pos] = x
        stats[c, 0] = dmin
        stats[c, 1] = dmax
        stats[c, 2] = bad_d
        stats[c, 3] = bad_p
    return stats


@njit(cache=True, parallel=True)
def sort_segments_by_delay(row_ptr, targets, w, d):
    """Stable-sort every (row, block) segment by delay (targets, per-synapse weights and delays move together), so
    that a spike's synapses of one delay lie side by side: the simulation queues one run per delay instead of one
    event per synapse. Synapses of equal delay keep their order, so each target still receives its additions in the
    same order."""
    n_rows = row_ptr.shape[0]
    nb = row_ptr.shape[1] - 1
    longest = 0
    for r in range(n_rows):
        for blk in range(nb):
            longest = max(longest, row_ptr[r, blk + 1] - row_ptr[r, blk])
    has_w = w.size > 0
    nch = _chunks(n_rows)
    for c in prange(nch):
        tt = np.empty(longest, dtype=targets.dtype)
        ww = np.empty(longest if has_w else 0, dtype=w.dtype)
        dd = np.empty(longest, dtype=d.dtype)
        cnt = np.zeros(_MAX_DELAY_STEPS + 2, dtype=np.int64)
        for r in range(c * n_rows // nch, (c + 1) * n_rows // nch):
            for blk in range(nb):
                lo = row_ptr[r, blk]
                hi = row_ptr[r, blk + 1]
                ordered = True
                dmin = _MAX_DELAY_STEPS
                dmax = 0
                for s in range(lo, hi):
                    v = np.int64(d[s])
                    dmin = min(dmin, v)
                    dmax = max(dmax, v)
                    if s > lo and v < d[s - 1]:
                        ordered = False
                if ordered:
                    continue
                for v in range(dmax - dmin + 2):
                    cnt[v] = 0
                for s in range(lo, hi):
                    cnt[np.int64(d[s]) - dmin + 1] += 1
                for v in range(1, dmax - dmin + 2):
                    cnt[v] += cnt[v - 1]
                for s in range(lo, hi):
                    v = np.int64(d[s]) - dmin
                    p = cnt[v]
                    cnt[v] = p + 1
                    tt[p] = targets[s]
                    dd[p] = d[s]
                    if has_w:
                        ww[p] = w[s]
                for p in range(hi - lo):
                    targets[lo + p] = tt[p]
                    d[lo + p] = dd[p]
                    if has_w:
                        w[lo + p] = ww[p]
