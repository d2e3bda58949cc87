"""Property tests on random small networks: results (spikes, rate and state records) never depend on chunking,
batching, record-buffer drains, queue growth or the thread count, whether the threads share trials or one trial's
target blocks."""
import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import (Network, PoissonSource, Population, Projection, RateMonitor, Simulator, SpikeMonitor, SpikeSource,
                    StateMonitor)
from engine.network.connectivity import FixedInDegree, FixedProbability
from engine.network.distributions import Normal, Uniform
from engine.run.clock import ClockSimulator


@st.composite
def networks(draw, sizes=(1, 30)):
    seed = draw(st.integers(0, 2**31))
    n_a, n_b = draw(st.integers(*sizes)), draw(st.integers(*sizes))
    model_b = draw(st.sampled_from(["iaf_psc_exp", "iaf_psc_delta"]))
    delta = model_b == "iaf_psc_delta"
    net = Network(dt=0.1, seed=seed)
    times = [k * 0.1 for k in draw(st.lists(st.integers(0, 400), max_size=10))]  # on the grid of dt
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
    every = draw(st.sampled_from([1, 3, 10]))
    net.add(SpikeMonitor("a"), SpikeMonitor("b"), SpikeMonitor("p"), RateMonitor("a"), RateMonitor("p"),
            StateMonitor("a", ["V", "I_in"], indices=[0], every=every),
            StateMonitor("b", ["I_ex"], indices=None, every=every))
    return net


class _TinyBuffers(ClockSimulator):
    """Drains the spike record after (almost) every step and starts the delivery queues at one entry per slot, so
    that every run resumes trials mid-step and at different steps."""

    _MIN_RECORD_CAPACITY = 1
    _QUEUE_START = 1


def _records(sim, k):
    """Everything trial index ``k`` of ``sim`` recorded: spikes, per-step counts and state samples."""
    out = [sim.spike_steps(n, int(sim.trial_ids[k])) for n in ("a", "b", "p")]
    out += [(sim.spike_counts(n)[k], sim.rate(n)[k]) for n in ("a", "p")]
    out += [sim.state("a", v)[1][k] for v in ("V", "I_in")] + [sim.state("b", "I_ex")[1][k]]
    out += [sim.state("b", "I_ex")[0]]
    return out


def _same(x, y):
    assert len(x) == len(y)
    for a, b in zip(x, y):
        if isinstance(a, tuple):
            _same(a, b)
        else:
            assert a.shape == b.shape and not np.isnan(a).any()
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@given(net=networks(), chunk=st.floats(0.3, 30.0), split=st.integers(1, 499))
def test_chunking_batching_and_threads_never_change_any_record(net, chunk, split):
    alone = [Simulator(net, trials=[k]).run(50.0) for k in (0, 1, 2)]
    chunk = max(0.1, round(chunk, 1))
    pieces = Simulator(net, trials=[1], chunk_ms=chunk)
    pieces.run(split * 0.1).run(50.0 - split * 0.1)
    _same(_records(alone[1], 0), _records(pieces, 0))
    for sim in (Simulator(net, trials=3, n_jobs=1).run(50.0), Simulator(net, trials=3, n_jobs=2).run(50.0),
                _TinyBuffers(net, trials=3, n_jobs=2, chunk_ms=chunk).run(split * 0.1).run(50.0 - split * 0.1)):
        for k in range(3):
            _same(_records(alone[k], 0), _records(sim, k))


@pytest.mark.slow
@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs numba to allow two threads")
@given(net=networks(sizes=(40, 110)), chunk=st.floats(0.3, 30.0), split=st.integers(1, 499))
def test_one_trial_on_two_threads_never_changes_any_record(net, chunk, split):
    """Networks of 80-220 neurons span two target blocks: with n_jobs=2 a single trial runs block-parallel (the
    workers meet once per minimum delay), and every record equals the one-thread run's."""
    one = Simulator(net, trials=[1], n_jobs=1).run(50.0)
    chunk = max(0.1, round(chunk, 1))
    two = Simulator(net, trials=[1], n_jobs=2).run(50.0)
    tiny = _TinyBuffers(net, trials=[1], n_jobs=2, chunk_ms=chunk).run(split * 0.1).run(50.0 - split * 0.1)
    assert two.last_plan[0] == "blocks" and tiny.last_plan[0] == "blocks"
    for sim in (two, tiny):
        _same(_records(one, 0), _records(sim, 0))
