"""Connectivity generation kernels: every rule builds a CSR matrix by source (``indptr`` int64, ``targets`` int32).

Randomness: row (or column, for in-degree rules) ``r`` draws only from stream ``stream_key(seed, stream, r)``, counter
by counter, so every row is a pure function of ``(seed, stream, r)`` and the rule. Parallel loops (``prange``) write
only their own row, and the transposition used by in-degree, total-number and explicit rules is a *stable* counting
sort whose output does not depend on how the input was split into chunks. Hence: same seed, same bits, any thread
count.

Variable-size rules (fixed probability, distance-dependent) run two passes over the same streams: the first counts
each row's size, a prefix sum gives ``indptr``, the second regenerates and writes the rows.
"""
import numpy as np
from numba import njit, prange

from engine.kernels.rng import stream_key, uniform, uniform_open

#: Above this connection probability a per-pair Bernoulli test (one uniform per pair) is cheaper than geometric
#: skipping (one uniform and one log per synapse).
DENSE_P = 0.2


@njit(cache=True, inline="always")
def _randint(key, counter, m):
    """Uniform integer in [0, m) from the ``counter``-th draw of ``key`` (53 random bits; m < 2**53)."""
    v = np.int64(uniform(key, counter) * m)
    return v if v < m else m - 1


@njit(cache=True)
def _sample_sorted(key, k, m, replace, sort, out):
    """Fill ``out[:k]`` with ``k`` draws from ``range(m)`` using stream ``key``; ascending when ``sort``.

    With ``replace`` the draws are independent (multapses possible); sorted ones come directly in order, as
    ``floor(m · S_t / S_{k+1})`` with ``S_t`` partial sums of exponentials (the order statistics of ``k`` uniforms).
    Without, the ``k`` values are distinct: when
    ``2k > m`` by selection sampling (Knuth's algorithm S, O(m), output already sorted), otherwise by drawing,
    sorting, removing duplicates and drawing the missing ones again (expected O(k log k)). Distinct output is
    always sorted.
    """
    if k == 0:
        return
    if replace:
        if sort:  # sorted i.i.d. uniforms as normalised partial sums of k + 1 exponentials: no sort needed
            total = 0.0
            for t in range(k + 1):
                total -= np.log(uniform_open(key, t))
            scale = m / total
            acc = 0.0
            for t in range(k):
                acc -= np.log(uniform_open(key, t))
                v = np.int64(acc * scale)
                out[t] = v if v < m else m - 1
        else:
            for t in range(k):
                out[t] = _randint(key, t, m)
        return
    if 2 * k > m:
        need = k
        for v in range(m):
            if need == 0:
                break
            if uniform(key, v) * (m - v) < need:
                out[k - need] = v
                need -= 1
        return
    counter = 0
    have = 0
    while have < k:
        for t in range(have, k):
            out[t] = _randint(key, counter, m)
            counter += 1
        out[:k].sort()
        u = 1
        for t in range(1, k):
            if out[t] != out[u - 1]:
                out[u] = out[t]
                u += 1
        have = u


@njit(cache=True, inline="always")
def _skip_self(out, k, i):
    """Map draws from ``range(m - 1)`` to ``range(m)`` minus ``{i}`` (order preserving)."""
    for t in range(k):
        if out[t] >= i:
            out[t] += 1


@njit(cache=True, parallel=True)
def all_to_all(n_pre, n_post, skip_diag):
    """Every pair; without ``i -> i`` when ``skip_diag``."""
    m = n_post - 1 if skip_diag else n_post
    indptr = np.arange(n_pre + 1).astype(np.int64) * m
    targets = np.empty(n_pre * m, dtype=np.int32)
    for i in prange(n_pre):
        base = i * m
        t = 0
        for j in range(n_post):
            if skip_diag and j == i:
                continue
            targets[base + t] = j
            t += 1
    return indptr, targets


@njit(cache=True, parallel=True)
def fixed_out_degree(n_pre, n_post, k, replace, skip_diag, seed, stream):
    """``k`` targets per source, row ``i`` from stream ``(seed, stream, i)``."""
    m = n_post - 1 if skip_diag else n_post
    indptr = np.arange(n_pre + 1).astype(np.int64) * k
    targets = np.empty(n_pre * k, dtype=np.int32)
    for i in prange(n_pre):
        row = targets[i * k:(i + 1) * k]
        _sample_sorted(stream_key(seed, stream, i), k, m, replace, True, row)
        if skip_diag:
            _skip_self(row, k, i)
    return indptr, targets


@njit(cache=True)
def _prefix(sizes):
    """``indptr`` (int64, length ``sizes.size + 1``) of rows with these sizes."""
    indptr = np.zeros(sizes.size + 1, dtype=np.int64)
    for r in range(sizes.size):
        indptr[r + 1] = indptr[r] + sizes[r]
    return indptr


@njit(cache=True, parallel=True)
def _chunk_offsets(rows, n_rows, nchunks):
    """Stable counting sort, pass 1: ``indptr`` and the first output slot of every (chunk, row)."""
    n = rows.size
    offs = np.zeros((nchunks, n_rows), dtype=np.int64)
    for c in prange(nchunks):
        for e in range(c * n // nchunks, (c + 1) * n // nchunks):
            offs[c, rows[e]] += 1
    sizes = np.zeros(n_rows, dtype=np.int64)
    for r in prange(n_rows):
        s = 0
        for c in range(nchunks):
            s += offs[c, r]
        sizes[r] = s
    indptr = _prefix(sizes)
    for r in prange(n_rows):
        pos = indptr[r]
        for c in range(nchunks):
            t = offs[c, r]
            offs[c, r] = pos
            pos += t
    return indptr, offs


@njit(cache=True, parallel=True)
def group_by_row_blocks(rows, block, n_rows, nchunks):
    """CSR by ``rows`` of entries whose column is ``e // block`` (entry order kept inside each row)."""
    indptr, offs = _chunk_offsets(rows, n_rows, nchunks)
    n = rows.size
    targets = np.empty(n, dtype=np.int32)
    for c in prange(nchunks):
        for e in range(c * n // nchunks, (c + 1) * n // nchunks):
            r = rows[e]
            p = offs[c, r]
            targets[p] = e // block
            offs[c, r] = p + 1
    return indptr, targets


@njit(cache=True, parallel=True)
def group_by_row(rows, cols, n_rows, nchunks):
    """CSR by ``rows`` of the entries ``(rows[e], cols[e])``, entry order kept inside each row."""
    indptr, offs = _chunk_offsets(rows, n_rows, nchunks)
    n = rows.size
    targets = np.empty(n, dtype=np.int32)
    for c in prange(nchunks):
        for e in range(c * n // nchunks, (c + 1) * n // nchunks):
            r = rows[e]
            p = offs[c, r]
            targets[p] = cols[e]
            offs[c, r] = p + 1
    return indptr, targets


@njit(cache=True, parallel=True)
def sort_rows(indptr, targets):
    """Sort every CSR row in place."""
    for r in prange(indptr.size - 1):
        targets[indptr[r]:indptr[r + 1]].sort()


@njit(cache=True, parallel=True)
def count_row_duplicates(indptr, targets):
    """Number of entries equal to their predecessor in a row (rows must be sorted)."""
    n_rows = indptr.size - 1
    dup = np.zeros(n_rows, dtype=np.int64)
    for r in prange(n_rows):
        for s in range(indptr[r] + 1, indptr[r + 1]):
            if targets[s] == targets[s - 1]:
                dup[r] += 1
    return dup.sum()


@njit(cache=True, parallel=True)
def fixed_in_degree_sources(n_pre, n_post, k, replace, skip_diag, seed, stream):
    """``k`` sources per target ``j`` (from stream ``(seed, stream, j)``), stored column after column."""
    m = n_pre - 1 if skip_diag else n_pre
    src = np.empty(n_post * k, dtype=np.int32)
    for j in prange(n_post):
        col = src[j * k:(j + 1) * k]
        _sample_sorted(stream_key(seed, stream, j), k, m, replace, False, col)
        if skip_diag:
            _skip_self(col, k, j)
    return src


@njit(cache=True, parallel=True)
def total_number_replace(n, n_pre, n_post, skip_diag, seed, stream, nchunks):
    """``n`` independent uniform pairs (multapses possible), generated row by row.

    Source of pair ``t`` is draw ``t`` of stream ``(seed, stream, 0)``; the histogram of sources (a multinomial,
    :func:`total_number_sizes`) gives the row sizes, then row ``i`` draws its targets, sorted, from stream
    ``(seed, stream, 1 + i)``. Same distribution as drawing the pairs one by one, without storing or sorting them;
    independent of ``nchunks``.
    """
    indptr = total_number_sizes(n, n_pre, seed, stream, nchunks)
    m = n_post - 1 if skip_diag else n_post
    targets = np.empty(n, dtype=np.int32)
    for i in prange(n_pre):
        k = indptr[i + 1] - indptr[i]
        row = targets[indptr[i]:indptr[i + 1]]
        _sample_sorted(stream_key(seed, stream, 1 + i), k, m, True, True, row)
        if skip_diag:
            _skip_self(row, k, i)
    return indptr, targets


@njit(cache=True)
def total_number_distinct(n, n_pre, n_post, skip_diag, seed, stream):
    """``n`` distinct pairs, as sorted linear indices ``i · m + j'`` drawn without replacement; CSR directly."""
    key = stream_key(seed, stream, 0)
    m = n_post - 1 if skip_diag else n_post
    lin = np.empty(n, dtype=np.int64)
    _sample_sorted(key, n, np.int64(n_pre) * m, False, True, lin)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    targets = np.empty(n, dtype=np.int32)
    for t in range(n):
        i = lin[t] // m
        j = lin[t] - i * m
        if skip_diag and j >= i:
            j += 1
        indptr[i + 1] += 1
        targets[t] = j
    for i in range(n_pre):
        indptr[i + 1] += indptr[i]
    return indptr, targets


@njit(cache=True, inline="always")
def _fp_row(key, p, logq, n_post, skip, out, base, write):
    """Row of a fixed-probability matrix: its size, and its targets at ``out[base:]`` when ``write``."""
    cnt = 0
    if p >= DENSE_P:
        for j in range(n_post):
            if j != skip and uniform(key, j) < p:
                if write:
                    out[base + cnt] = j
                cnt += 1
    else:
        j = -1
        c = 0
        while True:
            g = np.floor(np.log(uniform_open(key, c)) / logq)
            c += 1
            if g >= n_post - j - 1:
                break
            j += np.int64(g) + 1
            if j != skip:
                if write:
                    out[base + cnt] = j
                cnt += 1
    return cnt


@njit(cache=True, parallel=True)
def fixed_probability(n_pre, n_post, p, skip_diag, seed, stream):
    """Each pair independently with probability ``0 < p < 1``: geometric skipping (cost ∝ synapses) when
    ``p < DENSE_P``, one Bernoulli test per pair above. Targets come out sorted."""
    logq = np.log1p(-p)
    sizes = np.empty(n_pre, dtype=np.int64)
    dummy = np.empty(0, dtype=np.int32)
    for i in prange(n_pre):
        skip = i if skip_diag else -1
        sizes[i] = _fp_row(stream_key(seed, stream, i), p, logq, n_post, skip, dummy, 0, False)
    indptr = _prefix(sizes)
    targets = np.empty(indptr[n_pre], dtype=np.int32)
    for i in prange(n_pre):
        skip = i if skip_diag else -1
        _fp_row(stream_key(seed, stream, i), p, logq, n_post, skip, targets, indptr[i], True)
    return indptr, targets


@njit(cache=True, inline="always")
def _dd_row(key, i, pre_pos, post_pos, c0, inv_lam2, skip, out, base, write):
    """Row of a distance-dependent matrix: pair ``(i, j)`` kept when ``u_j < C · exp(-(D/λ)²)``."""
    cnt = 0
    x = pre_pos[i, 0]
    y = pre_pos[i, 1]
    z = pre_pos[i, 2]
    for j in range(post_pos.shape[0]):
        if j == skip:
            continue
        dx = post_pos[j, 0] - x
        dy = post_pos[j, 1] - y
        dz = post_pos[j, 2] - z
        if uniform(key, j) < c0 * np.exp(-(dx * dx + dy * dy + dz * dz) * inv_lam2):
            if write:
                out[base + cnt] = j
            cnt += 1
    return cnt


@njit(cache=True, parallel=True)
def distance_dependent(pre_pos, post_pos, c0, lam, skip_diag, seed, stream):
    """Each pair independently with probability ``C · exp(-(D/λ)²)``; O(n_pre · n_post), two passes."""
    n_pre = pre_pos.shape[0]
    inv_lam2 = 1.0 / (lam * lam)
    sizes = np.empty(n_pre, dtype=np.int64)
    dummy = np.empty(0, dtype=np.int32)
    for i in prange(n_pre):
        skip = i if skip_diag else -1
        sizes[i] = _dd_row(stream_key(seed, stream, i), i, pre_pos, post_pos, c0, inv_lam2, skip, dummy, 0, False)
    indptr = _prefix(sizes)
    targets = np.empty(indptr[n_pre], dtype=np.int32)
    for i in prange(n_pre):
        skip = i if skip_diag else -1
        _dd_row(stream_key(seed, stream, i), i, pre_pos, post_pos, c0, inv_lam2, skip, targets, indptr[i], True)
    return indptr, targets


# Row sources of the streaming build (:mod:`engine.kernels.csr`): how row ``i`` of a projection is (re)generated.
ROWS_CSR = 0  # copied from a generated CSR matrix (rules that are not row by row: in-degree, total distinct, explicit)
ROWS_ALL = 1  # every target (ip: n_post, skip_diag)
ROWS_ONE = 2  # i -> i
ROWS_OUT = 3  # fixed out-degree (ip: n_post, skip_diag, seed, stream, k, replace)
ROWS_PROB = 4  # fixed probability (ip: n_post, skip_diag, seed, stream; fp: p)
ROWS_TOTAL = 5  # fixed total number with multapses: row sizes in ``indptr`` (ip: n_post, skip_diag, seed, stream)
ROWS_DIST = 6  # distance-dependent (ip: n_post, skip_diag, seed, stream; fp: C, lam)


@njit(cache=True, inline="always")
def _sorted_with_replacement(key, k, m, out, sums):
    """:func:`_sample_sorted` with replacement and sorting, one logarithm per draw instead of two: the partial sums
    are kept in ``sums`` (float64, length >= k) rather than recomputed; the same operations in the same order, so
    the same bits."""
    total = 0.0
    for t in range(k + 1):
        total -= np.log(uniform_open(key, t))
        if t < k:
            sums[t] = total
    scale = m / total
    for t in range(k):
        v = np.int64(sums[t] * scale)
        out[t] = v if v < m else m - 1


@njit(cache=True, inline="always")
def known_row_size(kind, i, ip, indptr):
    """Row ``i``'s size when the rule fixes it without drawing, else -1."""
    if kind == ROWS_CSR or kind == ROWS_TOTAL:
        return indptr[i + 1] - indptr[i]
    if kind == ROWS_ALL:
        return ip[0] - 1 if ip[1] else ip[0]
    if kind == ROWS_ONE:
        return 1
    if kind == ROWS_OUT:
        return ip[4]
    return -1


@njit(cache=True)
def gen_row(kind, i, ip, fp, indptr, targets, pre_pos, post_pos, out, sums):
    """Write row ``i`` of a projection (targets in the projection's own index space, ascending) to ``out``;
    return its size. The row is a pure function of the rule, seed, stream and ``i``: the same bits as the
    whole-matrix kernels above produce for that row. ``sums`` is float64 scratch as long as ``out``."""
    n_post = ip[0]
    skip = i if ip[1] else -1
    if kind == ROWS_CSR:
        lo = indptr[i]
        n = indptr[i + 1] - lo
        for t in range(n):
            out[t] = targets[lo + t]
        return n
    if kind == ROWS_ALL:
        t = 0
        for j in range(n_post):
            if j != skip:
                out[t] = j
                t += 1
        return t
    if kind == ROWS_ONE:
        out[0] = i
        return 1
    key = stream_key(ip[2], ip[3], i)
    m = n_post - 1 if ip[1] else n_post
    if kind == ROWS_OUT:
        k = ip[4]
        if ip[5] != 0 and k > 0:
            _sorted_with_replacement(key, k, m, out, sums)
        else:
            _sample_sorted(key, k, m, ip[5] != 0, True, out[:k])
        if ip[1]:
            _skip_self(out, k, i)
        return k
    if kind == ROWS_PROB:
        return _fp_row(key, fp[0], np.log1p(-fp[0]), n_post, skip, out, 0, True)
    if kind == ROWS_TOTAL:
        k = indptr[i + 1] - indptr[i]
        if k > 0:
            _sorted_with_replacement(stream_key(ip[2], ip[3], 1 + i), k, m, out, sums)
        if ip[1]:
            _skip_self(out, k, i)
        return k
    return _dd_row(key, i, pre_pos, post_pos, fp[0], 1.0 / (fp[1] * fp[1]), skip, out, 0, True)


@njit(cache=True, parallel=True)
def total_number_sizes(n, n_pre, seed, stream, nchunks):
    """Row pointers of :func:`total_number_replace` (the multinomial histogram of ``n`` uniform sources) without
    generating the targets."""
    key = stream_key(seed, stream, 0)
    counts = np.zeros((nchunks, n_pre), dtype=np.int64)
    for c in prange(nchunks):
        for t in range(c * n // nchunks, (c + 1) * n // nchunks):
            counts[c, _randint(key, t, n_pre)] += 1
    sizes = np.zeros(n_pre, dtype=np.int64)
    for i in prange(n_pre):
        s = 0
        for c in range(nchunks):
            s += counts[c, i]
        sizes[i] = s
    return _prefix(sizes)
