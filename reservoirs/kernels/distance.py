r"""Distance-dependent connectivity on a regular grid in time proportional to the neighbourhood, not to N².

The rule (:class:`engine.network.connectivity.DistanceDependent`) keeps pair ``(i, j)`` when
``u(i, j) < C · exp(-(D(i, j) / λ)²)``, with ``u(i, j) = uniform(stream_key(seed, stream, i), j)`` the engine's
counter-based draw (:mod:`engine.random`) and ``D`` the Euclidean distance. The engine tests all ``n_pre · n_post``
pairs; these kernels give the same matrix, bit for bit, while testing only

* the pairs inside a sphere of squared radius ``R² = λ² (ln C + 53 ln 2 + 1)`` around each source, enumerated from
  the grid (outside it ``p = C · exp(-(D/λ)²) < 2**-53 / e``), and
* the pairs outside the sphere whose draw is exactly 0. ``uniform`` is ``(z >> 11) · 2**-53`` with
  ``z = mix64(key + j · φ)``, so every nonzero draw is at least ``2**-53 > p`` there and only ``z < 2**11`` can
  connect. ``mix64`` (SplitMix64's finaliser) and ``j ↦ key + j · φ`` are bijections of 64-bit words, so the 2048
  counters with ``z < 2**11`` are found by inverting them: ``j = (mix64⁻¹(z) - key) · φ⁻¹ mod 2**64``, kept when
  ``j < n_post``, the pair lies outside the sphere and ``p > 0`` (nearly never: about ``2048 n_post / 2**64``
  per source).

Both parts evaluate ``p`` with the engine's expression from the same position arrays, so a kept pair is kept
exactly when the engine keeps it. Rows are written in ascending target order, as the engine writes them.

Rows run in ``prange``, each writing only its own size or its own slice of ``targets``: the same bits on any number
of threads. The caller runs the rows in chunks (progress, Ctrl-C between chunks).
"""
import numpy as np
from numba import njit, prange

from engine.random import stream_key, uniform

_PHI = np.uint64(0x9E3779B97F4A7C15)  # the Weyl increment of engine.random.uniform
_PHI_INV = np.uint64(pow(0x9E3779B97F4A7C15, -1, 1 << 64))
_M1_INV = np.uint64(pow(0xBF58476D1CE4E5B9, -1, 1 << 64))  # inverses of mix64's multipliers modulo 2**64
_M2_INV = np.uint64(pow(0x94D049BB133111EB, -1, 1 << 64))
#: Draws equal to 0: ``z >> 11 == 0``, i.e. the 2**11 smallest outputs of mix64.
ZERO_DRAWS = 1 << 11


@njit(cache=True, inline="always")
def _unshift(z, s):
    """Inverse of ``y = z ^ (z >> s)`` on 64-bit words for ``22 <= s < 32``: ``y ^ (y >> s) ^ (y >> 2s)`` is
    ``z ^ (z >> 3s)``, and ``z >> 3s`` is 0."""
    return z ^ (z >> np.uint64(s)) ^ (z >> np.uint64(2 * s))


@njit(cache=True)
def unmix64(z):
    """Inverse of ``engine.random.mix64``: ``mix64(unmix64(z)) == z`` for every 64-bit ``z``."""
    z = np.uint64(z)
    z = _unshift(z, 31)
    z = z * _M2_INV
    z = _unshift(z, 27)
    z = z * _M1_INV
    return _unshift(z, 30)


@njit(cache=True)
def zero_words():
    """The 64-bit words ``w`` with ``uniform``'s draw 0, ``mix64(w) < 2**11``, as ``mix64⁻¹(0 .. 2**11 - 1)``."""
    out = np.empty(ZERO_DRAWS, dtype=np.uint64)
    for z in range(ZERO_DRAWS):
        out[z] = unmix64(np.uint64(z))
    return out


@njit(cache=True, inline="always")
def _p(pre_pos, post_pos, i, j, c0, inv_lam2):
    """The engine's connection probability of ``(i, j)``, the same expression in the same order."""
    dx = post_pos[j, 0] - pre_pos[i, 0]
    dy = post_pos[j, 1] - pre_pos[i, 1]
    dz = post_pos[j, 2] - pre_pos[i, 2]
    return c0 * np.exp(-(dx * dx + dy * dy + dz * dz) * inv_lam2)


@njit(cache=True, inline="always")
def _inside(ax, ay, az, bx, by, bz, spacing2, r2):
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    return (dx * dx + dy * dy + dz * dz) * spacing2 <= r2


@njit(cache=True, inline="always")
def _row(i, pre_grid, post_local, post_grid, pre_pos, post_pos, nx, ny, nz, spacing2, r2, reach, c0, inv_lam2,
         skip, seed, stream, zeros, out, base, write):
    """Row ``i``: its size, and its targets in ascending order at ``out[base:]`` when ``write``."""
    key = stream_key(seed, stream, i)
    g = pre_grid[i]
    gx = g % nx
    gy = (g // nx) % ny
    gz = g // (nx * ny)
    n_post = post_pos.shape[0]
    cnt = 0
    # inside the sphere: every pair, walked in grid order (z, y, x), which is ascending target order
    for z in range(max(gz - reach, 0), min(gz + reach + 1, nz)):
        for y in range(max(gy - reach, 0), min(gy + reach + 1, ny)):
            for x in range(max(gx - reach, 0), min(gx + reach + 1, nx)):
                if not _inside(x, y, z, gx, gy, gz, spacing2, r2):
                    continue
                j = post_local[x + nx * (y + ny * z)]
                if j < 0 or j == skip:
                    continue
                if uniform(key, j) < _p(pre_pos, post_pos, i, j, c0, inv_lam2):
                    if write:
                        out[base + cnt] = j
                    cnt += 1
    # outside the sphere: only the counters whose draw is 0
    for zero in range(zeros.shape[0]):
        jj = (zeros[zero] - key) * _PHI_INV
        if jj >= np.uint64(n_post):
            continue
        j = np.int64(jj)
        h = post_grid[j]
        if j == skip or _inside(h % nx, (h // nx) % ny, h // (nx * ny), gx, gy, gz, spacing2, r2):
            continue
        if _p(pre_pos, post_pos, i, j, c0, inv_lam2) > 0.0:
            if write:
                k = base + cnt  # insertion into the sorted row
                while k > base and out[k - 1] > j:
                    out[k] = out[k - 1]
                    k -= 1
                out[k] = j
            cnt += 1
    return cnt


@njit(cache=True, parallel=True)
def row_sizes(r0, r1, pre_grid, post_local, post_grid, pre_pos, post_pos, nx, ny, nz, spacing2, r2, reach, c0,
              inv_lam2, skip_diag, seed, stream, zeros, sizes):
    """``sizes[i]`` for rows ``r0 <= i < r1``."""
    dummy = np.empty(0, dtype=np.int32)
    for i in prange(r0, r1):
        skip = i if skip_diag else -1
        sizes[i] = _row(i, pre_grid, post_local, post_grid, pre_pos, post_pos, nx, ny, nz, spacing2, r2, reach, c0,
                        inv_lam2, skip, seed, stream, zeros, dummy, 0, False)


@njit(cache=True, parallel=True)
def fill_rows(r0, r1, pre_grid, post_local, post_grid, pre_pos, post_pos, nx, ny, nz, spacing2, r2, reach, c0,
              inv_lam2, skip_diag, seed, stream, zeros, indptr, targets):
    """Targets of rows ``r0 <= i < r1`` at ``targets[indptr[i]:indptr[i + 1]]``."""
    for i in prange(r0, r1):
        skip = i if skip_diag else -1
        _row(i, pre_grid, post_local, post_grid, pre_pos, post_pos, nx, ny, nz, spacing2, r2, reach, c0, inv_lam2,
             skip, seed, stream, zeros, targets, indptr[i], True)
