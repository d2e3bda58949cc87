"""One network on every core: block-parallel runs of a single trial give the spikes of a one-thread run, for any
number of target blocks; named random streams keep each projection's draws when others are added or reordered."""
import functools

import numba
import numpy as np
import pytest

import engine.run.clock as clock_module
from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor, StateMonitor
from engine.build.builder import build
from engine.network.connectivity import FixedInDegree, FixedProbability
from engine.network.distributions import Normal, Uniform
from engine.network.library import cuba
from engine.models.synapses import TsodyksMarkram
from engine.run.clock import ClockSimulator

needs_two = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs numba to allow two threads")


def brunel_small(seed=4, n=2000):
    """Brunel's network A-like regime at a fifth of the size: delta synapses, 1.5 ms delay, Poisson drive."""
    ne, ni = int(0.8 * n), n - int(0.8 * n)
    kw = dict(model="iaf_psc_delta", tau_m=20.0, E_L=0.0, V_reset=10.0, V_th=20.0, t_ref=2.0, V_init=(0.0, 20.0))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", ne, **kw), Population("inh", ni, **kw),
            PoissonSource("drive", n, rate=18_000.0),
            Projection("drive", "exc", _one_to_one(0, ne), weight=0.1, delay=1.5),
            Projection("drive", "inh", _one_to_one(ne, n), weight=0.1, delay=1.5, name="drive_inh"),
            Projection("exc", "exc", FixedInDegree(ne // 10), weight=0.1, delay=1.5),
            Projection("exc", "inh", FixedInDegree(ne // 10), weight=0.1, delay=1.5),
            Projection("inh", "exc", FixedInDegree(ni // 10), weight=-0.5, delay=1.5),
            Projection("inh", "inh", FixedInDegree(ni // 10), weight=-0.5, delay=1.5),
            SpikeMonitor("exc"), SpikeMonitor("inh"))
    return net


def _one_to_one(lo, hi):
    from engine.network.connectivity import Explicit

    return Explicit(np.arange(lo, hi), np.arange(hi - lo))


def dynamic_random(seed=6):
    """A random network with per-synapse delays and Tsodyks–Markram synapses drawn per synapse."""
    net = Network(dt=0.1, seed=seed)
    kw = dict(tau_m=20.0, V_th=-50.0, V_reset=-65.0, E_L=-65.0, t_ref=2.0, V_init=(-65.0, -50.0))
    net.add(Population("exc", 800, **kw), Population("inh", 200, **kw), PoissonSource("noise", 200, rate=40.0),
            Projection("noise", "exc", FixedProbability(0.1), weight=Normal(250.0, 50.0), delay=Uniform(0.5, 3.0)),
            Projection("noise", "inh", FixedProbability(0.1), weight=250.0, delay=1.0),
            Projection("exc", "exc", FixedProbability(0.05), weight=300.0, delay=Uniform(0.5, 3.0),
                       synapse=TsodyksMarkram(U=Normal(0.5, 0.25), tau_rec=Normal(800.0, 400.0))),
            Projection("exc", "inh", FixedProbability(0.05), weight=300.0, delay=Uniform(0.5, 3.0),
                       synapse=TsodyksMarkram(U=0.05, tau_rec=125.0, tau_fac=1200.0)),
            Projection("inh", "exc", FixedProbability(0.1), weight=-600.0, delay=Uniform(0.5, 3.0)),
            SpikeMonitor("exc"), SpikeMonitor("inh"), StateMonitor("exc", ["V", "I_ex"], indices=[0, 500, 799]))
    return net


def _run(net, n_jobs, duration, n_blocks=None, monkeypatch=None):
    if n_blocks is not None:
        monkeypatch.setattr(clock_module, "build", functools.partial(build, n_blocks=n_blocks))
    sim = Simulator(net, n_jobs=n_jobs).run(duration)
    return sim


def _same(a, b, names=("exc", "inh")):
    total = 0
    for name in names:
        sa, ia = a.spike_steps(name)
        sb, ib = b.spike_steps(name)
        np.testing.assert_array_equal(sa, sb)
        np.testing.assert_array_equal(ia, ib)
        total += sa.size
    assert total > 50, "the network must spike for the comparison to mean anything"


@needs_two
@pytest.mark.parametrize("make, duration", [(lambda: cuba(seed=3, scale=0.5), 200.0),
                                            (brunel_small, 200.0),
                                            (dynamic_random, 300.0)], ids=["cuba", "brunel", "dynamic-random"])
def test_one_trial_on_two_threads_gives_the_one_thread_spikes(make, duration):
    one = _run(make(), 1, duration)
    two = _run(make(), 2, duration)
    assert one.last_plan == ("trials", 1, 1)
    assert two.last_plan[0] == "blocks" and two.last_plan[1] == 2
    _same(one, two)
    np.testing.assert_array_equal(one.V, two.V)
    if one.stp_u.size:
        np.testing.assert_array_equal(one.stp_u, two.stp_u)
        np.testing.assert_array_equal(one.stp_x, two.stp_x)


@pytest.mark.parametrize("n_blocks", [1, 3, 7])
def test_the_number_of_target_blocks_never_changes_spikes_states_or_synapses(monkeypatch, n_blocks):
    ref = _run(dynamic_random(), 1, 200.0, n_blocks=2, monkeypatch=monkeypatch)
    other = _run(dynamic_random(), 1, 200.0, n_blocks=n_blocks, monkeypatch=monkeypatch)
    assert other.built.blk_lo.size == n_blocks
    _same(ref, other)
    np.testing.assert_array_equal(ref.state("exc", "V")[1], other.state("exc", "V")[1])
    assert _synapse_table(ref.built) == _synapse_table(other.built)


@needs_two
def test_block_parallel_runs_keep_chunking_and_queue_growth_invisible(monkeypatch):
    """Small chunks, a one-entry queue that must grow, and a record that fills: the same spikes as one thread."""
    ref = _run(dynamic_random(), 1, 150.0)
    monkeypatch.setattr(ClockSimulator, "_QUEUE_START", 1)
    monkeypatch.setattr(ClockSimulator, "_MIN_RECORD_CAPACITY", 8)
    small = Simulator(dynamic_random(), n_jobs=2, chunk_ms=7.3 - 7.3 % 0.1).run(150.0)
    assert small.last_plan[0] == "blocks"
    assert small._queues.q_tgt.shape[3] > 1
    _same(ref, small)


def test_small_networks_stay_on_one_thread_unless_asked():
    sim = Simulator(cuba(seed=1, scale=0.25)).run(1.0)  # 1000 neurons, delay one step: too little work to share
    assert sim.last_plan == ("trials", 1, 1)
    batch = Simulator(cuba(seed=1, scale=0.25), trials=3).run(1.0)
    assert batch.last_plan[0] == "trials"


# ---------------------------------------------------------------------------------------------- named streams
def _synapse_table(built, lo=0, hi=None):
    """Every synapse as (pre, target, weight, delay, U, tau_rec, tau_fac), sorted: independent of storage order."""
    rows = []
    for group in ("static", "dynamic"):
        if group == "static":
            indptr, tg, w = built.indptr, built.targets, built.w_syn
            r = np.repeat(np.arange(built.n_pre), np.diff(indptr))
            w = w if w.size else built.w_row[r]
            d = built.d_syn if built.d_syn.size else built.d_row[r]
            extra = [np.zeros(tg.size)] * 3
        else:
            st = built.stp
            indptr, tg, w = st["indptr"], st["targets"], st["w"]
            r = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
            d = st["d_syn"] if st["d_syn"].size else st["d_row"][r]
            extra = [st["U"], st["tau_rec"], st["tau_fac"]]
        rows += list(zip(r.tolist(), tg.tolist(), w.tolist(), np.asarray(d).tolist(), *(e.tolist() for e in extra)))
    return sorted(rows)


def test_reordering_projections_leaves_every_projections_synapses_unchanged():
    net = dynamic_random()
    shuffled = dynamic_random()
    shuffled.projections = shuffled.projections[::-1]
    assert _synapse_table(build(net)) == _synapse_table(build(shuffled))


def test_adding_a_projection_leaves_the_others_unchanged():
    net = dynamic_random()
    more = dynamic_random()
    more.projections.insert(0, Projection("inh", "inh", FixedProbability(0.1), weight=-7.0, delay=Uniform(1.0, 2.0)))
    before = _synapse_table(build(net))
    after = [row for row in _synapse_table(build(more)) if row[2] != np.float32(-7.0)]
    assert after == before


def test_populations_and_sources_draw_from_their_own_streams():
    """Initial potentials and Poisson spikes follow the population's or source's name, not its position."""
    def net(order):
        n = Network(dt=0.1, seed=2)
        pops = {"a": Population("a", 50, V_init=(-70.0, -50.0)), "b": Population("b", 30, V_init=(-70.0, -50.0))}
        srcs = {"p": PoissonSource("p", 20, rate=300.0), "q": PoissonSource("q", 10, rate=300.0)}
        n.add(*(pops[k] for k in order), *(srcs[k] for k in ("pq" if order == "ab" else "qp")),
              SpikeMonitor("p"), SpikeMonitor("q"))
        return n
    x = Simulator(net("ab")).run(50.0)
    y = Simulator(net("ba")).run(50.0)
    np.testing.assert_array_equal(x.V0[0, :50], y.V0[0, 30:])
    np.testing.assert_array_equal(x.V0[0, 50:], y.V0[0, :30])
    for name in ("p", "q"):
        np.testing.assert_array_equal(x.spike_steps(name)[0], y.spike_steps(name)[0])
        np.testing.assert_array_equal(x.spike_steps(name)[1], y.spike_steps(name)[1])
