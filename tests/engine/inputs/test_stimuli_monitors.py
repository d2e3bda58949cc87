"""Stimuli (Poisson, spike generators, per-trial inputs) and monitors (state, rate) behave as documented."""
import math

import numpy as np
import pytest

from conftest import recurrent_network
from engine import Network, PoissonSource, Population, Projection, RateMonitor, Simulator, SpikeMonitor, \
    SpikeSource, StateMonitor
from engine.network.connectivity import OneToOne


def _poisson_counts(rate, n=400, duration=1000.0, dt=0.1, rate_times=None, trials=1):
    net = Network(dt=dt, seed=4)
    net.add(Population("sink", 1), PoissonSource("p", n, rate=rate, rate_times=rate_times), SpikeMonitor("p"))
    return Simulator(net, trials=trials).run(duration)


def test_poisson_rate_and_fano_factor():
    sim = _poisson_counts(20.0)
    t, ids = sim.spikes("p")
    counts = np.bincount(ids, minlength=400)
    assert counts.mean() == pytest.approx(20.0, rel=0.05)  # 400 channels x 20 expected spikes
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("tabulated", [True, False])
def test_poisson_counts_per_step_follow_the_poisson_law_at_high_rates(monkeypatch, tabulated):
    """At 5 kHz and dt = 0.1 ms, lambda = 0.5 spikes per step: P(k) must be Poisson(0.5), multiplicity included,
    with the tabulated CDF and with the running sum used when there are too many distinct rates to tabulate."""
    import engine.build.builder

    if not tabulated:
        monkeypatch.setattr(engine.build.builder, "_MAX_POISSON_TABLE", 0)
    sim = _poisson_counts(5000.0, n=50, duration=200.0)
    assert (sim.built.pois["cdf"].shape[0] > 0) == tabulated
    steps, ids = sim.spike_steps("p")
    per_cell = np.bincount(steps * 50 + ids, minlength=2000 * 50)
    observed = np.bincount(per_cell, minlength=5)[:5] / per_cell.size
    lam = 0.5
    expected = np.array([math.exp(-lam) * lam**k / math.factorial(k) for k in range(5)])
    np.testing.assert_allclose(observed, expected, atol=0.005)


def test_piecewise_poisson_rates():
    sim = _poisson_counts(np.array([10.0, 80.0, 0.0]), rate_times=[0.0, 500.0, 800.0], duration=1200.0)
    t, _ = sim.spikes("p")
    assert np.sum(t < 500) / 400 / 0.5 == pytest.approx(10.0, rel=0.1)
    assert np.sum((t >= 500) & (t < 800)) / 400 / 0.3 == pytest.approx(80.0, rel=0.1)
    assert np.sum(t >= 800) == 0


def test_poisson_trials_are_independent_and_reproducible():
    sim = _poisson_counts(30.0, n=20, duration=200.0, trials=3)
    a, b = sim.spike_steps("p", 0), sim.spike_steps("p", 1)
    assert a[0].size != b[0].size or not np.array_equal(a[0], b[0])
    alone = _poisson_counts(30.0, n=20, duration=200.0, trials=1)
    np.testing.assert_array_equal(alone.spike_steps("p", 0)[0], a[0])


def test_sources_in_any_order():
    """A SpikeSource added before a PoissonSource works: sources are laid out by kind, looked up by name."""
    net = Network(dt=0.1, seed=4)
    net.add(Population("n", 1), SpikeSource("g", 2, times=[1.0, 2.0], indices=[1, 0]), PoissonSource("p", 3, rate=500.0),
            SpikeMonitor("g"), SpikeMonitor("p"))
    sim = Simulator(net).run(10.0)
    assert sim.spikes("g")[1].tolist() == [1, 0]
    _, ids = sim.spikes("p")
    assert ids.size > 0 and ids.max() < 3


def test_spike_generator_per_trial_inputs():
    net = Network(dt=0.1)
    net.add(Population("n", 2, E_L=0.0, V_reset=0.0, V_th=5.0, V_init=0.0, model="iaf_psc_delta"),
            SpikeSource("in", 2), Projection("in", "n", OneToOne(), weight=10.0, delay=1.0), SpikeMonitor("n"),
            SpikeMonitor("in"))
    sim = Simulator(net, trials=2)
    sim.set_spikes("in", [([2.0, 5.0], [0, 1]), ([7.0], [1])])
    sim.run(20.0)
    t0, i0 = sim.spikes("n", 0)
    t1, i1 = sim.spikes("n", 1)
    # input at t, delay 1 ms: the delta neuron fires in the step that takes input at t + 1
    assert t0.tolist() == pytest.approx([3.0, 6.0]) and i0.tolist() == [0, 1]
    assert t1.tolist() == pytest.approx([8.0]) and i1.tolist() == [1]
    assert sim.spikes("in", 1)[0].tolist() == pytest.approx([7.0])


def test_rate_monitor_counts_every_spike():
    net = recurrent_network(seed=1)
    net.add(RateMonitor("exc"), RateMonitor("noise"))
    sim = Simulator(net, chunk_ms=33.3).run(200.0)
    for name in ("exc", "noise"):
        counts = sim.spike_counts(name)
        steps, _ = sim.spike_steps(name)
        assert counts.shape == (1, 2000) and counts.dtype == np.int32
        np.testing.assert_array_equal(counts[0], np.bincount(steps, minlength=2000))
        size = net.get(name).size
        np.testing.assert_allclose(sim.rate(name), counts / (size * 0.1e-3), rtol=1e-15)  # Hz


def test_state_monitor_subsampling_and_indices():
    base = recurrent_network(seed=1)
    fine = Simulator(recurrent_network(seed=1).add(StateMonitor("exc", ("V", "I_ex"), indices=[3, 7, 11])))
    coarse_net = recurrent_network(seed=1).add(StateMonitor("exc", ("V",), indices=[7], every=10))
    fine.run(100.0)
    coarse = Simulator(coarse_net, chunk_ms=17.0).run(100.0)
    t1, v1 = fine.state("exc", "V")
    t10, v10 = coarse.state("exc", "V")
    assert t1.size == 1000 and t10.size == 100
    np.testing.assert_allclose(t10, t1[9::10])
    np.testing.assert_array_equal(v10[0, :, 0], v1[0, 9::10, 1])
    _, iex = fine.state("exc", "I_ex")
    assert iex.shape == (1, 1000, 3) and np.any(iex > 0)
    assert base.size == 500
    with pytest.raises(KeyError, match="no StateMonitor records"):
        coarse.state("exc", "I_in")


def test_memory_report_counts_bytes_per_synapse():
    sim = Simulator(recurrent_network(seed=1))
    rep = sim.memory_report()
    assert rep["synapses"] == sim.built.n_synapses > 0
    # per-synapse targets (4 B), weights (4 B) and delays (1 B), plus the per-row arrays (row pointers, one per
    # target block and one more, row weights and delays) amortised over the synapses
    b = sim.built
    per_row = 8 + 8 * (b.blk_lo.size + 1) + 4 + 4
    expected = 9.0 + (per_row * b.n_pre + 8) / b.n_synapses
    assert rep["bytes_per_synapse"] == pytest.approx(expected, rel=1e-3)


def _rate_net(rate_times=None, rate=20.0):
    net = Network(dt=0.1, seed=8)
    net.add(Population("n", 1), PoissonSource("p", 200, rate=rate, rate_times=rate_times), SpikeMonitor("p"))
    return net


def test_poisson_rates_per_trial():
    sim = Simulator(_rate_net(), trials=3)
    sim.set_rates("p", [0.0, 20.0, 200.0])
    sim.run(500.0)
    counts = [sim.spikes("p", trial=k)[0].size / 200 / 0.5 for k in range(3)]
    assert counts[0] == 0
    assert counts[1] == pytest.approx(20.0, rel=0.1)
    assert counts[2] == pytest.approx(200.0, rel=0.05)


def test_per_trial_rates_equal_the_single_trial_run():
    """Trial 2 of a batch with its own rates is trial 2 run alone with the same rates, bit for bit."""
    rates = np.array([[10.0, 50.0], [80.0, 0.0], [30.0, 3000.0]])  # (trials, segments)
    net = _rate_net(rate_times=[0.0, 100.0], rate=[5.0, 5.0])
    batch = Simulator(net, trials=3)
    batch.set_rates("p", rates)
    batch.run(200.0)
    alone = Simulator(net, trials=[2])
    alone.set_rates("p", rates[2:])
    alone.run(200.0)
    np.testing.assert_array_equal(batch.spike_steps("p", 2)[0], alone.spike_steps("p", 2)[0])
    np.testing.assert_array_equal(batch.spike_steps("p", 2)[1], alone.spike_steps("p", 2)[1])
    t, _ = batch.spikes("p", 1)
    assert np.sum(t >= 100.0) == 0 and np.sum(t < 100.0) > 0


def test_set_rates_rules():
    sim = Simulator(_rate_net(), trials=2)
    with pytest.raises(ValueError, match=r"rates has shape \(3,\); with 2 trials it must be one of"):
        sim.set_rates("p", [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite and >= 0"):
        sim.set_rates("p", [1.0, -2.0])
    with pytest.raises(ValueError, match="is a Population, not a PoissonSource"):
        sim.set_rates("n", [1.0, 2.0])
    sim.set_rates("p", [1.0, 2e6])
    with pytest.raises(ValueError, match="spikes per step"):
        sim.run(1.0)


def _current_net():
    from engine import CurrentSource

    net = Network(dt=0.1)
    net.add(Population("n", 2, tau_m=10.0, C_m=250.0, E_L=0.0, V_reset=0.0, V_th=1e6, V_init=0.0, I_e=20.0),
            CurrentSource("step", "n", amplitude=[100.0, 0.0], times=[5.0, 30.0]), StateMonitor("n", ("V",)))
    return net


def test_current_amplitudes_per_trial():
    """Each trial gets its own step amplitude on top of I_e; trial k alone with the same amplitude is identical."""
    sim = Simulator(_current_net(), trials=3)
    sim.set_currents("step", [[0.0, 0.0], [100.0, 0.0], [300.0, -20.0]])
    t, V = sim.run(60.0).state("n", "V")
    v_e = 20.0 * 10.0 / 250.0 * (1 - np.exp(-t / 10.0))  # I_e alone
    np.testing.assert_allclose(V[0, :, 0], v_e, rtol=1e-9)
    on = (t > 5.0) & (t <= 30.0)
    extra = 300.0 * 10.0 / 250.0 * (1 - np.exp(-(t[on] - 5.0) / 10.0))
    np.testing.assert_allclose(V[2, on, 0], v_e[on] + extra, rtol=1e-9)
    alone = Simulator(_current_net(), trials=[1])
    alone.set_currents("step", [[100.0, 0.0]])
    np.testing.assert_array_equal(alone.run(60.0).state("n", "V")[1][0], V[1])
    np.testing.assert_array_equal(V[1], Simulator(_current_net()).run(60.0).state("n", "V")[1][0])


def test_set_currents_between_runs_applies_from_then_on():
    sim = Simulator(_current_net(), trials=1)
    sim.run(10.0)
    sim.set_currents("step", [[0.0, 0.0]])  # switch the step off from 10 ms on: only I_e drives V afterwards
    t, V = sim.run(50.0).state("n", "V")
    later = t > 10.0 + 1e-9
    v10 = V[0, np.argmin(np.abs(t - 10.0)), 0]
    v_inf = 20.0 * 10.0 / 250.0
    np.testing.assert_allclose(V[0, later, 0], v_inf + (v10 - v_inf) * np.exp(-(t[later] - 10.0) / 10.0), rtol=1e-9)


def test_set_currents_rules():
    sim = Simulator(_current_net(), trials=2)
    with pytest.raises(ValueError, match="got amplitudes for 1 trials; this simulator runs 2"):
        sim.set_currents("step", [[1.0, 2.0]])
    with pytest.raises(ValueError, match=r"amplitude has shape \(3,\); it must have the source's shape \(2,\)"):
        sim.set_currents("step", [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="amplitude contains nan"):
        sim.set_currents("step", [[1.0, np.nan], [1.0, 2.0]])
    with pytest.raises(ValueError, match="is a Population, not a CurrentSource"):
        sim.set_currents("n", [[1.0], [2.0]])
