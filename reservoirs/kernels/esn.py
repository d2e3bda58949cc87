"""Echo state network kernels: the whole time loop runs inside these functions.

Every kernel computes, for each unit ``i`` and each step, in this fixed order::

    r   = 0;  for k in row i (columns ascending):  r += W[i, c_k] * x[c_k]
    d   = 0;  for j in inputs:                    d += W_in[i, j] * u[j]
    f   = 0;  for j in feedback:                  f += W_fb[i, j] * y_prev[j]
    pre = ((r + d) + f) + b[i]
    x[i] = (1 - a) * x[i] + a * g(pre)

so the state of one sequence is bit-identical whichever kernel (dense, sliced
ELL, one sequence or lanes of a batch) and whichever thread ran it. Without
``fastmath`` LLVM neither reorders nor contracts these sums, and adding an
explicit ``0 * x`` (dense layout, ELL padding) leaves a sum unchanged.

Kernel arguments are arrays and scalars only; all arrays are float64 except the
column indices (int32) and slice offsets (int64).
"""
import numba as nb
import numpy as np
from numba import njit, prange

from reservoirs.kernels.simd import slice_gather8, slice_lanes16

#: Lanes (sequences) advanced together by the batch kernel: two 8-wide float64
#: vectors per row (must match the ``slice_lanes16`` intrinsic). The batch
#: dimension is innermost, so the sparse product is a contiguous vector
#: multiply-add over lanes, each weight loaded once for 16 sequences.
LANES = 16
#: Rows per slice of the sliced-ELL layout (the unrolled kernels assume 8).
SLICE = 8

#: Activation codes used by the kernels (looked up once in Python).
ACT_TANH = 0
ACT_IDENTITY = 1

_TANH_CLIP = 20.0  # tanh(20) = 1 - 8.5e-18: rounds to 1.0 in float64
_INV_256 = 1.0 / 256.0


@njit(nb.float64(nb.float64), cache=True, inline="always", error_model="numpy")
def tanh(x):
    """Vectorisable tanh, absolute (and relative) error ~1e-15.

    ``tanh(x) = sign(x) m / (m + 2)`` with ``m = expm1(2|x|)``. ``expm1`` is
    computed from a degree-10 Taylor polynomial at ``r = 2|x| / 256`` and then
    squared up eight times with ``expm1(2r) = expm1(r) (expm1(r) + 2)``, which
    keeps the relative error small for tiny and large arguments alike. Only
    ``+ - * /``, ``abs`` and ``min`` are used, so LLVM vectorises the loops
    that call it (``np.tanh`` compiles to a scalar libm call).
    """
    ax = min(abs(x), _TANH_CLIP)
    r = (2.0 * ax) * _INV_256
    m = r * (1.0 + r * (1.0 / 2.0 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (
        1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0 + r * (
            1.0 / 40320.0 + r * (1.0 / 362880.0 + r * (1.0 / 3628800.0))))))))))
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    t = m / (m + 2.0)
    return t if x >= 0.0 else -t


@njit(cache=True, error_model="numpy")
def tanh_array(x):
    """Apply :func:`tanh` element-wise to a 1-D float64 array (tests, tools)."""
    out = np.empty(x.shape[0], dtype=np.float64)
    for i in range(x.shape[0]):
        out[i] = tanh(x[i])
    return out


@njit(cache=True, inline="always", error_model="numpy")
def _finish_single(x, rec, drv, fb, bias, n, leak, act):
    oma = 1.0 - leak
    if act == ACT_TANH:
        for p in range(n):
            v = ((rec[p] + drv[p]) + fb[p]) + bias[p]
            x[p] = oma * x[p] + leak * tanh(v)
    else:
        for p in range(n):
            v = ((rec[p] + drv[p]) + fb[p]) + bias[p]
            x[p] = oma * x[p] + leak * v


@njit(cache=True, inline="always", error_model="numpy")
def _drive_single(u_t, WinT, drv, n):
    for p in range(n):
        drv[p] = 0.0
    for j in range(WinT.shape[0]):
        uj = u_t[j]
        for p in range(n):
            drv[p] += WinT[j, p] * uj


@njit(cache=True, error_model="numpy")
def _positions(perm, N):
    """Internal position of every unit (``perm`` maps internal position -> unit, padding rows >= N)."""
    pos = np.empty(N, dtype=np.int64)
    for p in range(perm.shape[0]):
        if perm[p] < N:
            pos[perm[p]] = p
    return pos


@njit(cache=True, error_model="numpy")
def _load_state(x0, perm):
    """Initial state in internal order (zero on padding rows)."""
    x = np.zeros(perm.shape[0], dtype=np.float64)
    for p in range(perm.shape[0]):
        if perm[p] < x0.shape[0]:
            x[p] = x0[perm[p]]
    return x


@njit(cache=True, error_model="numpy")
def _store_state(x, x0, perm):
    """Write the internal-order state back into ``x0`` in unit order."""
    for p in range(perm.shape[0]):
        if perm[p] < x0.shape[0]:
            x0[perm[p]] = x[p]


@njit(cache=True, error_model="numpy")
def run_single(U, Y, WinT, WfbT, bias, vals, cols, slice_ptr, slice_len, S,
               dense, perm, leak, act, washout, x0, out):
    """Run one sequence through the reservoir, all time steps in one call.

    Parameters
    ----------
    U : float64[T, D]
        Inputs.
    Y : float64[T, F]
        Feedback teacher signal; the unit sees ``Y[t - 1]`` at step ``t``
        (zero at ``t = 0``). ``F = 0`` disables feedback.
    WinT, WfbT : float64[D, Np], float64[F, Np]
        Transposed input and feedback weights in internal (permuted) order.
    bias : float64[Np]
    vals, cols, slice_ptr, slice_len, S : sliced ELL recurrent matrix
        Slice ``s`` holds rows ``s*8 .. s*8+7`` (internal order; ``S`` must be
        ``SLICE`` = 8); its entry ``k`` of row ``r`` is at
        ``slice_ptr[s] + k*8 + r``. The eight rows of a slice are accumulated
        in registers (eight independent chains, no store per term); the batch
        kernel accumulates 4 rows x 8 lanes in registers.
    dense : float64[Np, Np]
        Transposed dense recurrent matrix (``dense[c, r] = W[r, c]``) used
        when it has rows, in which case the ELL arrays are ignored.
    perm : int32[Np]
        Internal position -> unit index (``>= N`` for padding rows).
    leak, act, washout : float, int, int
    x0 : float64[N]
        Initial state (unit order); overwritten with the final state.
    out : float64[T - washout, N]
        Recorded states.
    """
    T = U.shape[0]
    n = perm.shape[0]
    N = x0.shape[0]
    F = WfbT.shape[0]
    x = _load_state(x0, perm)
    rec = np.zeros(n, dtype=np.float64)
    drv = np.zeros(n, dtype=np.float64)
    fb = np.zeros(n, dtype=np.float64)
    use_dense = dense.shape[0] > 0
    pos = _positions(perm, N)
    for t in range(T):
        if use_dense:
            for p in range(n):
                rec[p] = 0.0
            for c in range(n):
                xc = x[c]
                for p in range(n):
                    rec[p] += dense[c, p] * xc
        else:
            for s in range(slice_len.shape[0]):
                slice_gather8(rec, s * 8, vals, cols, slice_ptr[s], slice_len[s], x)
        _drive_single(U[t], WinT, drv, n)
        if F > 0 and t > 0:
            for p in range(n):
                fb[p] = 0.0
            for j in range(F):
                yj = Y[t - 1, j]
                for p in range(n):
                    fb[p] += WfbT[j, p] * yj
        _finish_single(x, rec, drv, fb, bias, n, leak, act)
        if t >= washout:
            row = out[t - washout]
            for q in range(N):
                row[q] = x[pos[q]]
    _store_state(x, x0, perm)


@njit(cache=True, parallel=True, error_model="numpy")
def run_single_rows(U, Y, WinT, WfbT, bias, vals, cols, slice_ptr, slice_len, S,
                    perm, leak, act, washout, x0, out, n_chunks):
    """:func:`run_single` for a sliced-ELL reservoir with its rows split over ``n_chunks`` threads.

    Each step is one parallel region: every chunk computes the new state of its own slices (recurrent product,
    drive, feedback, activation) from the previous state into a second buffer, then the buffers swap. A unit's
    arithmetic is exactly :func:`run_single`'s, so the states are bit-identical for any ``n_chunks``.
    """
    T = U.shape[0]
    n = perm.shape[0]
    N = x0.shape[0]
    F = WfbT.shape[0]
    D = WinT.shape[0]
    n_slices = slice_len.shape[0]
    x = _load_state(x0, perm)
    x_new = np.zeros(n, dtype=np.float64)
    rec = np.zeros(n, dtype=np.float64)
    drv = np.zeros(n, dtype=np.float64)
    fb = np.zeros(n, dtype=np.float64)
    oma = 1.0 - leak
    pos = _positions(perm, N)
    for t in range(T):
        u_t = U[t]
        use_fb = F > 0 and t > 0
        for c in prange(n_chunks):
            s_lo = c * n_slices // n_chunks
            s_hi = (c + 1) * n_slices // n_chunks
            for s in range(s_lo, s_hi):
                slice_gather8(rec, s * 8, vals, cols, slice_ptr[s], slice_len[s], x)
            p_lo = s_lo * 8
            p_hi = min(s_hi * 8, n)
            for p in range(p_lo, p_hi):  # the same loops as _drive_single and _finish_single, on this chunk's rows
                drv[p] = 0.0
            for j in range(D):
                uj = u_t[j]
                for p in range(p_lo, p_hi):
                    drv[p] += WinT[j, p] * uj
            if use_fb:
                for p in range(p_lo, p_hi):
                    fb[p] = 0.0
                for j in range(F):
                    yj = Y[t - 1, j]
                    for p in range(p_lo, p_hi):
                        fb[p] += WfbT[j, p] * yj
            if act == ACT_TANH:
                for p in range(p_lo, p_hi):
                    x_new[p] = oma * x[p] + leak * tanh(((rec[p] + drv[p]) + fb[p]) + bias[p])
            else:
                for p in range(p_lo, p_hi):
                    x_new[p] = oma * x[p] + leak * (((rec[p] + drv[p]) + fb[p]) + bias[p])
        x, x_new = x_new, x
        if t >= washout:
            row = out[t - washout]
            for q in range(N):
                row[q] = x[pos[q]]
    _store_state(x, x0, perm)


@njit(cache=True, parallel=True, error_model="numpy")
def run_batch(U, Y, WinT, WfbT, bias, vals, cols, slice_ptr, slice_len, S,
              dense, perm, leak, act, washout, x0, out):
    """Run ``B`` sequences, ``LANES`` at a time, in parallel over lane blocks.

    Same arguments as :func:`run_single` with a leading batch axis on ``U``,
    ``Y``, ``x0`` and ``out``. Each lane's arithmetic is exactly that of
    :func:`run_single`, so results do not depend on the batch size, on the
    lane a sequence lands in, or on the number of threads.
    """
    B = U.shape[0]
    T = U.shape[1]
    D = U.shape[2]
    n = perm.shape[0]
    N = x0.shape[1]
    F = WfbT.shape[0]
    L = LANES
    nblk = (B + L - 1) // L
    oma = 1.0 - leak
    use_dense = dense.shape[0] > 0
    pos = _positions(perm, N)
    for blk in prange(nblk):
        b0 = blk * L
        nl = min(L, B - b0)
        # flat [position * L + lane] arrays: unit stride over lanes, no 2-D strides
        x = np.zeros(n * L, dtype=np.float64)
        rec = np.zeros(n * L, dtype=np.float64)
        drv = np.zeros(n * L, dtype=np.float64)
        fb = np.zeros(n * L, dtype=np.float64)
        bl = np.empty(n * L, dtype=np.float64)
        ut = np.zeros(D * L, dtype=np.float64)
        yt = np.zeros(max(F, 1) * L, dtype=np.float64)
        for p in range(n):
            for l in range(L):
                bl[p * L + l] = bias[p]
            q = perm[p]
            if q < N:
                for l in range(nl):
                    x[p * L + l] = x0[b0 + l, q]
        for t in range(T):
            if use_dense:
                for i in range(n * L):
                    rec[i] = 0.0
                for c in range(n):
                    for p in range(n):
                        w = dense[c, p]
                        for l in range(L):
                            rec[p * L + l] += w * x[c * L + l]
            else:
                for s in range(slice_len.shape[0]):
                    slice_lanes16(rec, s * 8 * L, x, vals, cols, slice_ptr[s], slice_len[s])
            for j in range(D):
                for l in range(nl):
                    ut[j * L + l] = U[b0 + l, t, j]
            for i in range(n * L):
                drv[i] = 0.0
            for j in range(D):
                for p in range(n):
                    w = WinT[j, p]
                    for l in range(L):
                        drv[p * L + l] += w * ut[j * L + l]
            if F > 0 and t > 0:
                for j in range(F):
                    for l in range(nl):
                        yt[j * L + l] = Y[b0 + l, t - 1, j]
                for i in range(n * L):
                    fb[i] = 0.0
                for j in range(F):
                    for p in range(n):
                        w = WfbT[j, p]
                        for l in range(L):
                            fb[p * L + l] += w * yt[j * L + l]
            if act == ACT_TANH:
                for i in range(n * L):
                    v = ((rec[i] + drv[i]) + fb[i]) + bl[i]
                    x[i] = oma * x[i] + leak * tanh(v)
            else:
                for i in range(n * L):
                    v = ((rec[i] + drv[i]) + fb[i]) + bl[i]
                    x[i] = oma * x[i] + leak * v
            if t >= washout:
                tt = t - washout
                for l in range(nl):
                    row = out[b0 + l, tt]
                    for q in range(N):  # sequential stores: no read-for-ownership stalls
                        row[q] = x[pos[q] * L + l]
        for p in range(n):
            q = perm[p]
            if q < N:
                for l in range(nl):
                    x0[b0 + l, q] = x[p * L + l]


@njit(cache=True, error_model="numpy")
def build_sliced_ell(indptr, indices, data, N, S):
    """Convert a CSR matrix (columns sorted in each row) to sliced ELL.

    Rows are sorted by decreasing length (stable), grouped in slices of ``S``
    rows, each slice padded to its longest row with zero weights pointing at
    column position 0. Returns ``perm, vals, cols, slice_ptr, slice_len`` with
    columns translated to internal positions.
    """
    n_slices = (N + S - 1) // S
    n = n_slices * S
    lens = np.zeros(n, dtype=np.int64)
    for i in range(N):
        lens[i] = indptr[i + 1] - indptr[i]
    order = np.argsort(-lens, kind="mergesort")
    perm = np.empty(n, dtype=np.int32)
    pos = np.empty(n, dtype=np.int64)
    for p in range(n):
        perm[p] = order[p]
        pos[order[p]] = p
    slice_len = np.zeros(n_slices, dtype=np.int32)
    slice_ptr = np.zeros(n_slices + 1, dtype=np.int64)
    for s in range(n_slices):
        m = 0
        for r in range(S):
            m = max(m, lens[order[s * S + r]])
        slice_len[s] = m
        slice_ptr[s + 1] = slice_ptr[s] + m * S
    total = slice_ptr[n_slices]
    vals = np.zeros(total, dtype=np.float64)
    cols = np.zeros(total, dtype=np.int32)
    for s in range(n_slices):
        for r in range(S):
            row = order[s * S + r]
            if row >= N:
                continue
            k = 0
            for jj in range(indptr[row], indptr[row + 1]):
                o = slice_ptr[s] + k * S + r
                vals[o] = data[jj]
                cols[o] = pos[indices[jj]]
                k += 1
    return perm, vals, cols, slice_ptr, slice_len
