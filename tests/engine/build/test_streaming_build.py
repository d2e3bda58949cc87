"""The streaming build (engine.kernels.csr): synapses do not depend on chunking or threads, peak memory is the result's,
and drawn values are checked."""
import json
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import engine.build.builder
from engine import Network, PoissonSource, Population, Projection
from engine.build.builder import build
from engine.network.connectivity import (AllToAll, DistanceDependent, Explicit, FixedInDegree, FixedOutDegree,
                                 FixedProbability, FixedTotalNumber, OneToOne)
from engine.network.distributions import Gamma, Normal, Uniform
from engine.models.synapses import TsodyksMarkram

FIELDS = ("indptr", "row_ptr", "targets", "w_syn", "w_row", "d_syn", "d_row", "max_delay", "min_delay", "row_delays")


def _net(seed=3):
    rng = np.random.default_rng(0)
    net = Network(dt=0.1, seed=seed)
    net.add(Population("a", 300, positions=rng.random((300, 3)) * 4),
            Population("b", 257, model="iaf_psc_delta", positions=rng.random((257, 3)) * 4),
            PoissonSource("p", 50, rate=10.0))
    net.add(Projection("a", "b", FixedOutDegree(40), weight=Normal(1.0, 0.3), delay=Uniform(0.2, 4.0)),
            Projection("a", "a", FixedProbability(0.1), weight=-2.0, delay=Normal(1.5, 0.75, low=0.1),
                       allow_autapses=False),
            Projection("b", "a", FixedInDegree(12), weight=Gamma(2.0, 0.5), delay=1.0),
            Projection("b", "b", FixedTotalNumber(3000), weight=0.5, delay=2.0,
                       synapse=TsodyksMarkram(U=Uniform(0.1, 0.9), tau_rec=Normal(100.0, 20.0))),
            Projection("a", "b", DistanceDependent(0.6, 1.5), weight=0.3, delay=1.0, name="dd",
                       synapse=TsodyksMarkram()),
            Projection("p", "a", AllToAll(), weight=0.1, delay=0.5),
            Projection("a", "a", OneToOne(), weight=0.1, delay=0.5, name="one"),
            Projection("b", "b", Explicit(np.array([0, 3, 3]), np.array([5, 1, 2])), weight=[1.0, 2.0, 3.0],
                       delay=[0.1, 0.2, 0.3], name="ex"))
    return net


def _same(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert (np.array_equal(x, y) and x.dtype == y.dtype) if isinstance(x, np.ndarray) else x == y, f
    assert a.stp.keys() == b.stp.keys()
    for k in a.stp:
        assert np.array_equal(a.stp[k], b.stp[k]), k
    assert a.proj_slices == b.proj_slices


@pytest.mark.parametrize("n_blocks", [1, 3])
def test_synapses_do_not_depend_on_chunks_or_threads(monkeypatch, n_blocks):
    ref = build(_net(), n_blocks=n_blocks)
    assert ref.n_synapses > 20000 and ref.stp["targets"].size > 3000
    monkeypatch.setattr(engine.build.builder, "_ROW_CHUNK", 7)
    _same(ref, build(_net(), n_blocks=n_blocks))
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _same(ref, build(_net(), n_blocks=n_blocks))
    finally:
        numba.set_num_threads(old)


def test_segments_hold_their_block_and_rows_their_synapses():
    b = build(_net(), n_blocks=3)
    for r in range(b.n_pre):
        for blk in range(3):
            seg = b.targets[b.row_ptr[r, blk]:b.row_ptr[r, blk + 1]]
            assert np.all((seg >= b.blk_lo[blk]) & (seg < b.blk_hi[blk]))
    assert np.array_equal(b.row_ptr[:, 0], b.indptr[:-1]) and np.array_equal(b.row_ptr[:, -1], b.indptr[1:])


def test_bytes_per_synapse():
    net = Network(dt=0.1, seed=1).add(Population("n", 2000))
    net.add(Projection("n", "n", FixedOutDegree(1000), weight=Normal(0.2, 0.05), delay=Uniform(0.5, 3.0)))
    b = build(net)
    assert b.d_syn.dtype == np.uint8 and b.bytes_per_synapse() <= 9.1
    net = Network(dt=0.1, seed=1).add(Population("n", 2000))
    net.add(Projection("n", "n", FixedOutDegree(1000), weight=0.2, delay=1.5))
    assert build(net).bytes_per_synapse() <= 4.1


def test_delay_dtype_from_the_distribution_support():
    def d_dtype(delay):
        net = Network(dt=0.1).add(Population("n", 50), Projection("n", "n", FixedOutDegree(5), delay=delay))
        return build(net).d_syn.dtype
    assert d_dtype(Normal(1.5, 0.75, low=0.1)) == np.uint8
    assert d_dtype(Uniform(0.5, 30.0)) == np.uint16  # up to 300 steps


def test_uniform_delay_below_dt_is_refused_before_any_synapse(monkeypatch):
    def no_pass(*args):
        raise AssertionError("synapses were generated before the delay was checked")
    monkeypatch.setattr("engine.kernels.csr.count_row_blocks", no_pass)
    net = Network(dt=0.1).add(Population("n", 50), Projection("n", "n", FixedOutDegree(5), delay=Uniform(0.05, 1.0)))
    with pytest.raises(ValueError, match=r"draws down to 0.05 ms, which is not allowed; delays must be >= dt"):
        build(net)
    net = Network(dt=0.1).add(Population("n", 50), Projection("n", "n", FixedOutDegree(5), delay=Uniform(1.0, 7000)))
    with pytest.raises(ValueError, match=r"draws up to 7000.0 ms, which is not allowed; delays must be at most 65535"):
        build(net)


def test_drawn_values_out_of_range_are_refused():
    net = Network(dt=0.1).add(Population("n", 200), Projection("n", "n", FixedOutDegree(50),
                                                                delay=Normal(0.3, 1.0), name="p"))
    with pytest.raises(ValueError, match=r"Projection 'p': delay = Normal.* drew \d+ values outside \[dt, 65535 dt\]"):
        build(net)
    net = Network(dt=0.1).add(Population("n", 200), Projection(
        "n", "n", FixedOutDegree(50), name="p", synapse=TsodyksMarkram(tau_fac=Normal(0.0, 5.0, low=-1.0))))
    with pytest.raises(ValueError, match=r"Projection 'p': the synapse's tau_rec or tau_fac drew \d+ values"):
        build(net)


PEAK_SCRIPT = textwrap.dedent("""
    import json
    from engine import Network, Population, Projection
    from engine.build.builder import build
    from engine.network.connectivity import FixedOutDegree
    from engine.network.distributions import Normal, Uniform

    def net(n):
        return Network(dt=0.1, seed=2).add(Population("n", n), Projection(
            "n", "n", FixedOutDegree(100), weight=Normal(0.2, 0.05), delay=Uniform(0.5, 3.0)))
    def status(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
    build(net(200))  # kernels compiled or loaded (compiling has its own high-water mark)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident size (VmHWM) to the current one
    base = status("VmRSS")
    b = build(net(100000))
    print(json.dumps({"base": base, "peak": status("VmHWM"), "final": b.connectivity_bytes(), "syn": b.n_synapses}))
""")


@pytest.mark.subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resets the peak RSS in /proc/self")
def test_peak_memory_of_a_1e7_synapse_build_is_the_result():
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["syn"] == 10**7
    # whatever the process held before (interpreter, numpy, numba, compiled kernels) plus the arrays, within 10 %
    assert r["peak"] <= r["base"] + 1.1 * r["final"], r


def _state_run(net, monkeypatch, run_queue=True, sort=True, n_jobs=None):
    from engine import Simulator, StateMonitor
    from engine.run.clock import ClockSimulator

    monkeypatch.setattr(ClockSimulator, "_RUN_QUEUE", run_queue)
    if not sort:
        monkeypatch.setattr("engine.kernels.csr.sort_segments_by_delay", lambda *a: None)
    net.add(StateMonitor("exc", "V", indices=np.arange(0, 400, 7)))
    sim = Simulator(net, n_jobs=n_jobs).run(150.0)
    monkeypatch.undo()
    return sim


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_delta"])
def test_run_queue_equals_one_event_per_synapse(monkeypatch, model):
    """Per-synapse delays: queueing one run per delay (segments sorted by delay) gives the spikes and membrane
    potentials, bit for bit, of one event per synapse, on sorted and on unsorted segments, on one and two threads."""
    from conftest import recurrent_network

    runs = _state_run(recurrent_network(seed=4, model=model), monkeypatch)
    assert runs._queues.r_lo.shape[3] > 0 and runs._queues.q_tgt.shape[3] == 0
    for kw in ({"run_queue": False}, {"run_queue": False, "sort": False}, {"n_jobs": 2}):
        other = _state_run(recurrent_network(seed=4, model=model), monkeypatch, **kw)
        for name in ("exc", "inh"):
            np.testing.assert_array_equal(runs.spike_steps(name)[0], other.spike_steps(name)[0])
            np.testing.assert_array_equal(runs.spike_steps(name)[1], other.spike_steps(name)[1])
        np.testing.assert_array_equal(runs.state("exc", "V")[1], other.state("exc", "V")[1])
    assert runs.spike_steps("exc")[0].size > 100


def test_static_segments_are_sorted_by_delay():
    b = build(_net(), n_blocks=3)
    assert b.d_syn.size
    for r in range(b.n_pre):
        for blk in range(3):
            lo, hi = b.row_ptr[r, blk], b.row_ptr[r, blk + 1]
            assert np.all(np.diff(b.d_syn[lo:hi].astype(np.int64)) >= 0)
