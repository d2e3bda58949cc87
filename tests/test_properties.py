"""Property tests on random small networks: results never depend on chunking, batching or the thread count."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor, SpikeSource
from engine.connectivity import FixedInDegree, FixedProbability
from engine.distributions import Normal, Uniform


@st.composite
def networks(draw):
    seed = draw(st.integers(0, 2**31))
    n_a, n_b = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    model_b = draw(st.sampled_from(["iaf_psc_exp", "iaf_psc_delta"]))
    delta = model_b == "iaf_psc_delta"
    net = Network(dt=0.1, seed=seed)
    times = draw(st.lists(st.floats(0.0, 40.0), max_size=10))
    net.add(Population("a", n_a, tau_m=draw(st.sampled_from([5.0, 10.0, 20.0])),
                       t_ref=draw(st.sampled_from([0.0, 0.1, 2.0])), V_init=(-70.0, -50.0),
                       I_e=draw(st.sampled_from([0.0, 200.0, 400.0]))),
            Population("b", n_b, model=model_b, V_init=(-70.0, -50.0), tau_syn_ex=draw(st.sampled_from([2.0, 10.0]))),
            PoissonSource("p", draw(st.integers(1, 10)), rate=draw(st.sampled_from([10.0, 500.0, 5000.0]))),
            SpikeSource("g", 3, times=times, indices=draw(st.lists(st.integers(0, 2), min_size=len(times),
                                                                   max_size=len(times)))))
    w = (lambda lo, hi: Uniform(lo / 100, hi / 100)) if delta else Uniform
    delay = draw(st.sampled_from([0.1, 1.5, Uniform(0.1, 3.0)]))  # one delay per row, or per synapse
    for pre, post in (("p", "a"), ("p", "b"), ("g", "a"), ("a", "b"), ("b", "a"), ("a", "a")):
        weight = w(-150.0, 300.0) if pre not in "pg" else w(50.0, 400.0)
        if pre == "b" and post == "a":
            weight = Normal(-80.0, 30.0)
        rule = FixedProbability(draw(st.sampled_from([0.1, 0.5]))) if pre != "b" else FixedInDegree(1)
        net.add(Projection(pre, post, rule, weight=weight, delay=delay))
    net.add(SpikeMonitor("a"), SpikeMonitor("b"), SpikeMonitor("p"))
    return net


def _spikes(sim, trial):
    return [sim.spike_steps(n, trial) for n in ("a", "b", "p")]


def _same(x, y):
    for (s1, i1), (s2, i2) in zip(x, y):
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(i1, i2)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), chunk=st.floats(0.3, 30.0), split=st.integers(1, 499))
def test_chunking_batching_and_threads_never_change_spikes(net, chunk, split):
    ref = Simulator(net, trials=2, n_jobs=1).run(50.0)
    chunk = max(0.1, round(chunk, 1))
    pieces = Simulator(net, trials=[1], chunk_ms=chunk)
    pieces.run(split * 0.1).run(50.0 - split * 0.1)
    _same(_spikes(ref, 1), _spikes(pieces, 1))
    threads = Simulator(net, trials=2, n_jobs=2).run(50.0)
    _same(_spikes(ref, 0), _spikes(threads, 0))
    _same(_spikes(ref, 1), _spikes(threads, 1))
