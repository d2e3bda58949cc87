"""Direct tests of the kernel's pieces: the neuron update of one step, the Tsodyks–Markram update, the stable cut of
rows into target blocks, and the barrier the workers of one trial meet at."""
import math

import numba
import numpy as np
import pytest
from numba import njit, prange

from engine.build.builder import propagators
from engine.kernels.connect import ROWS_CSR
from engine.kernels.csr import count_row_blocks, fill_rows, segment_pointers
from engine.kernels.neurons import DELTA, EXP, N_PAR, update_range
from engine.models.neurons.lif import PAR_C0, PAR_P11EX, PAR_P11IN, PAR_P20, PAR_P21EX, PAR_P21IN, PAR_P22, \
    PAR_VRESET, PAR_VTH
from engine.kernels.synapses import elapsed_ms, tm_update
from engine.kernels.sync import atomic_add, atomic_load, barrier
from engine.network.description import Population


@njit
def _step(pop_lo, pop_hi, model, use_iext, par, ref_steps, V, Iex, Iin, ref, Iext, flags, lo, hi):
    update_range(pop_lo, pop_hi, model, use_iext, par, ref_steps, V, Iex, Iin, ref, Iext, flags, lo, hi)


def _table(pop, dt):
    pr = propagators(pop, dt)
    par = np.zeros((1, N_PAR))
    par[0, PAR_C0] = pop.E_L * (1 - pr["P22"])
    par[0, PAR_VTH], par[0, PAR_VRESET] = pop.V_th, pop.V_reset
    for key, col in (("P22", PAR_P22), ("P20", PAR_P20), ("P21ex", PAR_P21EX), ("P21in", PAR_P21IN),
                     ("P11ex", PAR_P11EX), ("P11in", PAR_P11IN)):
        par[0, col] = pr[key]
    return par, pr


def test_one_exp_step_is_the_exact_propagator_and_thresholds_reset_and_hold():
    pop = Population("n", 5, tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-70.0, tau_syn_ex=5.0,
                     tau_syn_in=10.0)
    par, pr = _table(pop, 0.1)
    V = np.array([-65.0, -50.01, -60.0, -70.0, -55.0])  # neuron 3 refractory, held at V_reset
    Iex = np.array([0.0, 3000.0, 100.0, 0.0, 50.0])
    Iin = np.array([0.0, 0.0, -50.0, 0.0, 0.0])
    ref = np.array([0, 0, 0, 3, 0], dtype=np.int32)
    Iext = np.array([0.0, 0.0, 0.0, 0.0, 200.0])
    flags = np.zeros(64, np.uint8)
    want = pop.E_L * (1 - pr["P22"]) + V * pr["P22"] + Iex * pr["P21ex"] + Iin * pr["P21in"] + Iext * pr["P20"]
    V0, Iex0, Iin0 = V.copy(), Iex.copy(), Iin.copy()
    _step(np.array([0]), np.array([5]), np.array([EXP], np.int8), np.array([True]), par, np.array([19], np.int32),
          V, Iex, Iin, ref, Iext, flags, 0, 5)
    assert flags[:5].tolist() == [0, 1, 0, 0, 0]
    assert V[1] == pop.V_reset and ref[1] == 19  # spiked: reset and held for R - 1 steps
    assert V[3] == V0[3] and ref[3] == 2  # refractory: V held, counter down
    for i in (0, 2, 4):
        assert V[i] == pytest.approx(want[i], rel=1e-15)
    np.testing.assert_allclose(Iex, Iex0 * pr["P11ex"], rtol=1e-15)
    np.testing.assert_allclose(Iin, Iin0 * pr["P11in"], rtol=1e-15)


def test_one_delta_step_adds_buffered_input_and_drops_it_while_refractory():
    pop = Population("n", 3, model="iaf_psc_delta", tau_m=10.0, E_L=0.0, V_th=20.0, V_reset=10.0)
    par, pr = _table(pop, 0.1)
    V = np.array([5.0, 19.5, 15.0])
    buf_ex = np.array([1.0, 0.8, 2.0])
    buf_in = np.array([-0.5, 0.0, 0.0])
    ref = np.array([0, 0, 4], dtype=np.int32)
    flags = np.zeros(64, np.uint8)
    _step(np.array([0]), np.array([3]), np.array([DELTA], np.int8), np.array([False]), par,
          np.array([19], np.int32), V, buf_ex, buf_in, ref, np.zeros(3), flags, 0, 3)
    assert V[0] == pytest.approx(5.0 * pr["P22"] + 0.5, rel=1e-15)
    assert flags[1] == 1 and V[1] == 10.0  # 19.5·P22 + 0.8 crosses 20 mV
    assert V[2] == 15.0 and ref[2] == 3  # refractory: input dropped
    assert not buf_ex.any() and not buf_in.any()  # buffers consumed


def test_update_range_touches_only_its_neurons():
    pop = Population("n", 128)
    par, _ = _table(pop, 0.1)
    V = np.full(128, -60.0)
    _step(np.array([0]), np.array([128]), np.array([EXP], np.int8), np.array([False]), par,
          np.array([19], np.int32), V, np.zeros(128), np.zeros(128), np.zeros(128, np.int32), np.zeros(128),
          np.zeros(128, np.uint8), 64, 128)
    assert np.all(V[:64] == -60.0) and np.all(V[64:] != -60.0)


@pytest.mark.parametrize("h, mult", [(-1.0, 1), (12.5, 1), (0.3, 3), (-1.0, 2)])
def test_tm_update_is_the_recurrence(h, mult):
    U, tau_rec, tau_fac, u, x = 0.3, 400.0, 60.0, 0.45, 0.7
    eff_sum, uu, xx = 0.0, u, x
    for n in range(mult):
        hn = h if n == 0 else 0.0
        if hn >= 0.0:
            xx = 1.0 + (xx - xx * uu - 1.0) * math.exp(-hn / tau_rec)
            uu = U + uu * (1.0 - U) * math.exp(-hn / tau_fac)
        eff_sum += uu * xx
    got = njit(lambda: tm_update(u, x, U, tau_rec, tau_fac, h, mult))()
    assert got == pytest.approx((uu, xx, eff_sum), abs=1e-15)


def test_tm_update_without_facilitation_resets_u_to_U():
    got = njit(lambda: tm_update(0.9, 0.5, 0.2, 100.0, 0.0, 5.0, 2))()
    assert got[0] == 0.2


def test_elapsed_counts_whole_steps():
    f = njit(lambda last, step: elapsed_ms(last, step, 0.1))
    assert f(-1, 50) == -1.0 and f(20, 50) == 30 * 0.1


def test_streaming_passes_cut_each_row_stably_into_target_blocks():
    """count_row_blocks + segment_pointers + fill_rows on rows copied from a CSR: every segment holds its block's
    targets in input order, each synapse carries its own value (quantity 0 given per synapse)."""
    rng = np.random.default_rng(0)
    indptr = np.array([0, 6, 6, 11], dtype=np.int64)
    targets = rng.integers(0, 300, 11).astype(np.int32)
    ip = np.array([300, 0, 0, 0, 0, 0], dtype=np.int64)
    none = np.zeros((0, 3))
    counts = np.zeros((3, 3), dtype=np.int64)
    sizes = np.empty(3, dtype=np.int64)
    count_row_blocks(ROWS_CSR, ip, np.zeros(0), indptr, targets, none, none, 0, 3, 6, 0, 0, 128, 3, counts, sizes)
    assert sizes.tolist() == [6, 0, 5]
    row_ptr, ptr = segment_pointers(counts)
    assert np.array_equal(ptr, indptr) and np.array_equal(row_ptr[:, 0], indptr[:-1])
    assert np.array_equal(row_ptr[:, 3], indptr[1:])
    out_t = np.empty(11, np.int32)
    out_w = np.empty(11, np.float32)
    vmode = np.array([2, 0], np.int64)  # weight: given per synapse (its input position); delay: constant 3 steps
    vconst = np.array([0.0, 3.0])
    varr = np.arange(11, dtype=np.float64)[None, :]
    out_d = np.empty(11, np.uint8)
    fill = row_ptr[:, :3].copy()
    stats = fill_rows(ROWS_CSR, ip, np.zeros(0), indptr, targets, none, none, 0, 3, 6, indptr, 0, 0, 128, 3, fill, 0,
                      vmode, vconst, np.zeros((2, 5)), np.zeros(2, np.int64), varr, np.zeros(0, np.bool_), 0.1, 1,
                      out_t, out_w, out_d, np.zeros((0, 11)))
    assert np.array_equal(fill, row_ptr[:, 1:]) and stats[:, 2:].sum() == 0
    assert np.all(out_d == 2) and stats[:, 0].min() == 2  # stored one step shorter (d_off = 1)
    perm = out_w.astype(np.int64)  # each synapse's input position
    assert np.array_equal(out_t, targets[perm])
    for r in range(3):
        assert sorted(perm[indptr[r]:indptr[r + 1]]) == list(range(indptr[r], indptr[r + 1]))
        for blk in range(3):
            part = perm[row_ptr[r, blk]:row_ptr[r, blk + 1]]
            assert np.all(np.minimum(targets[part] // 128, 2) == blk)
            assert np.all(np.diff(part) > 0)  # input order kept inside a segment


@njit(parallel=True)
def _rounds(T, n):
    state = np.zeros(2, np.int64)
    shared = np.zeros(T, np.int64)
    seen = np.zeros((T, n), np.int64)
    ok = np.ones(T, np.int64)
    for w in prange(T):
        for k in range(n):
            shared[w] = k * (w + 1)
            if not barrier(state, T):
                ok[w] = 0
            s = 0
            for v in range(T):
                s += shared[v]
            seen[w, k] = s
            if not barrier(state, T):
                ok[w] = 0
    return seen, ok


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_barrier_makes_every_workers_writes_visible_to_all():
    old = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        seen, ok = _rounds(2, 2000)
    finally:
        numba.set_num_threads(old)
    assert ok.all()
    expected = np.arange(2000) * 3  # k·1 + k·2
    assert np.array_equal(seen[0], expected) and np.array_equal(seen[1], expected)


def test_atomics_add_and_load():
    @njit
    def f(a):
        old = atomic_add(a, 1, 5)
        return old, atomic_load(a, 1)
    a = np.array([0, 7], np.int64)
    assert f(a) == (7, 12) and a[1] == 12


def test_every_neuron_model_has_a_spec_with_a_kernel_branch_and_a_parameter_row():
    from engine.kernels.neurons import KERNELS
    from engine.models.neurons import NEURON_MODELS

    assert sorted(spec.kernel for spec in NEURON_MODELS.values()) == sorted(KERNELS)
    for name, spec in NEURON_MODELS.items():
        pop = Population("n", 1, model=name)
        row = spec.parameter_row(pop, 0.1, True)
        assert row.shape[0] <= N_PAR and np.isfinite(row).all() and "V" in spec.state_names
        with pytest.raises(ValueError, match="tau_m = 10.0 ms is shorter than dt = 20.0 ms"):
            spec.check_time_constants(pop, 20.0)


def test_prefetch_is_only_a_hint():
    from engine.kernels.hints import prefetch

    @njit
    def total(a):
        s = 0.0
        for i in range(a.size):
            if i + 8 < a.size:
                prefetch(a, i + 8)
            s += a[i]
        return s
    a = np.arange(1000, dtype=np.float64)
    assert total(a) == a.sum()
