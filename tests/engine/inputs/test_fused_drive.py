"""Poisson drives fused into their targets (engine.build.builder._fusable_drives): one-to-one, static, constant weight and
delay, unmonitored Poisson sources are drawn where their targets are updated, with the counts the queued path draws."""
import numpy as np
import pytest

from engine import (Network, PoissonSource, Population, Projection, RateMonitor, Simulator, SpikeMonitor,
                    StateMonitor)
from engine.network.connectivity import FixedProbability, OneToOne
from engine.network.distributions import Uniform


def _driven(model, monitor_drive, recurrent=False, seed=2):
    exp = model == "iaf_psc_exp"
    net = Network(dt=0.1, seed=seed)
    net.add(Population("n", 300, model=model, tau_m=10.0, C_m=250.0 if exp else 1.0, E_L=-65.0, V_th=-50.0,
                       V_reset=-65.0, t_ref=2.0, tau_syn_ex=0.5, V_init=(-65.0, -50.0)),
            PoissonSource("drive", 300, rate=np.linspace(2000.0, 9000.0, 300)),
            Projection("drive", "n", OneToOne(), weight=87.8 if exp else 0.9, delay=1.5, name="bg"),
            SpikeMonitor("n"), StateMonitor("n", "V", indices=np.arange(0, 300, 11)), RateMonitor("n"))
    if recurrent:
        net.add(Projection("n", "n", FixedProbability(0.1), weight=Uniform(-300.0, 100.0) if exp else
                           Uniform(-2.0, 0.5), delay=Uniform(0.5, 2.0)))
    if monitor_drive:
        net.add(SpikeMonitor("drive"))
    return net


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_delta"])
def test_a_fused_drive_draws_the_counts_of_the_queued_one(model):
    """Without other input the drive is each neuron's only addition in a step, so fused and queued (the drive
    recorded: not fused) runs agree bit for bit."""
    fused = Simulator(_driven(model, False)).run(300.0)
    queued = Simulator(_driven(model, True)).run(300.0)
    assert fused.built.fused["tgt"].size == 300 and queued.built.fused["tgt"].size == 0
    assert fused.built.n_synapses == queued.built.n_synapses == 300
    assert fused.built.proj_slices["bg"] == queued.built.proj_slices["bg"]
    np.testing.assert_array_equal(fused.spike_steps("n")[0], queued.spike_steps("n")[0])
    np.testing.assert_array_equal(fused.spike_steps("n")[1], queued.spike_steps("n")[1])
    np.testing.assert_array_equal(fused.state("n", "V")[1], queued.state("n", "V")[1])
    assert fused.spike_steps("n")[0].size > 300
    # the queued path counts an event when its spike is queued, the fused one when it arrives: they differ by the
    # drive's spikes still in flight at the end (one delay's worth)
    assert fused.last_run.synaptic_events == pytest.approx(queued.last_run.synaptic_events, rel=0.02)


def test_fused_drives_keep_thread_batch_and_chunk_invariance():
    net = _driven("iaf_psc_exp", False, recurrent=True)
    ref = Simulator(net, n_jobs=1).run(200.0)
    assert ref.built.fused["tgt"].size == 300
    for sim in (Simulator(_driven("iaf_psc_exp", False, recurrent=True), n_jobs=2),
                Simulator(_driven("iaf_psc_exp", False, recurrent=True), chunk_ms=3.7 - 3.7 % 0.1)):
        sim.run(200.0)
        np.testing.assert_array_equal(ref.spike_steps("n")[1], sim.spike_steps("n")[1])
        np.testing.assert_array_equal(ref.state("n", "V")[1], sim.state("n", "V")[1])
        np.testing.assert_array_equal(ref.spike_counts("n"), sim.spike_counts("n"))
    batch = Simulator(_driven("iaf_psc_exp", False, recurrent=True), trials=2).run(200.0)
    np.testing.assert_array_equal(ref.spike_steps("n")[1], batch.spike_steps("n", trial=0)[1])
    np.testing.assert_array_equal(ref.state("n", "V")[1][0], batch.state("n", "V")[1][0])
    np.testing.assert_array_equal(ref.spike_counts("n")[0], batch.spike_counts("n")[0])


def test_only_plain_one_to_one_drives_are_fused():
    def fused(**kw):
        src = {"rate": 100.0, **kw.pop("src", {})}
        net = Network(dt=0.1).add(Population("n", 10), PoissonSource("p", 10, **src))
        net.add(Projection("p", "n", kw.pop("rule", OneToOne()), **kw))
        return Simulator(net).built.fused["tgt"].size
    assert fused() == 10
    assert fused(delay=Uniform(1.0, 2.0)) == 0
    assert fused(weight=[1.0] * 10) == 0
    assert fused(rule=FixedProbability(0.5)) == 0
    assert fused(src={"rate_times": [0.0, 50.0], "rate": [100.0, 10.0]}) == 0


def test_a_fused_drive_follows_per_trial_rates():
    """set_rates gives each trial its own drive rates; fused and queued draw the same counts in every trial."""
    sims = []
    for monitor in (False, True):
        sim = Simulator(_driven("iaf_psc_exp", monitor), trials=2)
        sim.set_rates("drive", [np.full(300, 3000.0), np.full(300, 8000.0)])
        sims.append(sim.run(200.0))
    fused, queued = sims
    assert fused.built.fused["tgt"].size == 300
    counts = []
    for trial in (0, 1):
        np.testing.assert_array_equal(fused.spike_steps("n", trial=trial)[1], queued.spike_steps("n", trial=trial)[1])
        counts.append(fused.spike_steps("n", trial=trial)[0].size)
    assert counts[1] > 1.5 * counts[0]  # the faster drive makes more spikes
