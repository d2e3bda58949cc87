"""Single-neuron dynamics against closed-form solutions (E_L = 0, so V is the deviation from rest)."""
import math

import numpy as np
import pytest

from engine import CurrentSource, Network, Population, Projection, Simulator, SpikeMonitor, SpikeSource, StateMonitor
from engine.network.connectivity import OneToOne

TAU, C = 10.0, 250.0


def neuron(**kw) -> Population:
    params = dict(tau_m=TAU, C_m=C, E_L=0.0, V_reset=0.0, V_th=1e6, t_ref=2.0, V_init=0.0)
    params.update(kw)
    return Population("n", 1, **params)


@pytest.mark.parametrize("dt", [0.01, 0.1, 0.5])
@pytest.mark.parametrize("duration", [20.0, 100.0])
def test_membrane_under_constant_current(dt, duration):
    """V(t) = I·τ/C·(1 − exp(−t/τ)) at every sampled time, to 1e-9 relative."""
    I = 100.0
    net = Network(dt=dt).add(neuron(I_e=I), StateMonitor("n", ("V",)))
    t, V = Simulator(net).run(duration).state("n", "V")
    expected = I * TAU / C * (1.0 - np.exp(-t / TAU))
    assert t.size == round(duration / dt)
    np.testing.assert_allclose(V[0, :, 0], expected, rtol=1e-9)


@pytest.mark.parametrize("dt", [0.01, 0.1])
@pytest.mark.parametrize("I", [500.0, 1000.0, 3000.0])
def test_firing_rate_under_constant_current(dt, I):
    """First spike at T* = −τ ln(1 − C V_th/(τ I)); inter-spike interval t_ref + T* (on the step grid)."""
    V_th, t_ref = 15.0, 2.0
    net = Network(dt=dt).add(neuron(I_e=I, V_th=V_th, t_ref=t_ref), SpikeMonitor("n"))
    sim = Simulator(net).run(500.0)
    steps, _ = sim.spike_steps("n")
    t_star = -TAU * math.log(1.0 - C * V_th / (TAU * I))
    m = math.ceil(t_star / dt - 1e-9)  # integration steps until V >= V_th
    # step j takes V to time (j + 1)·dt; a spike at step s holds V for R − 1 steps, integration resumes at s + R
    assert steps[0] == m - 1
    assert np.all(np.diff(steps) == round(t_ref / dt) + m - 1)
    isi = np.diff(steps).mean() * dt
    assert isi == pytest.approx(t_ref + t_star, abs=dt)


def _one_input(model, weight, tau_syn, dt=0.1, delay=1.5, t_spike=2.0, duration=60.0):
    net = Network(dt=dt)
    syn = dict(tau_syn_ex=tau_syn, tau_syn_in=tau_syn) if model == "iaf_psc_exp" else {}  # delta has none
    net.add(neuron(model=model, **syn), SpikeSource("s", 1, times=[t_spike],
                                                                                   indices=[0]),
            Projection("s", "n", OneToOne(), weight=weight, delay=delay), StateMonitor("n", ("V", "I_ex", "I_in")))
    sim = Simulator(net).run(duration)
    arrival = t_spike + delay + dt  # queued at the end of step (spike + delay) → value at the next grid time
    return sim, arrival


@pytest.mark.parametrize("tau_syn", [2.0, 5.0, TAU, TAU * (1 + 1e-9)])
def test_exponential_psc_and_psp(tau_syn):
    """I(t) = w e^{−s/τs};  V(t) = w/C · τmτs/(τm − τs) (e^{−s/τm} − e^{−s/τs}) (limit w/C · s e^{−s/τ})."""
    w = 200.0
    sim, ta = _one_input("iaf_psc_exp", w, tau_syn)
    t, I = sim.state("n", "I_ex")
    _, V = sim.state("n", "V")
    after = t >= ta - 1e-9
    s = t[after] - ta
    np.testing.assert_allclose(I[0, after, 0], w * np.exp(-s / tau_syn), rtol=1e-9)
    assert np.all(I[0, ~after, 0] == 0) and np.all(V[0, ~after, 0] == 0)
    v_ref = np.array([_psp_reference(w, tau_syn, x) for x in s])
    np.testing.assert_allclose(V[0, after, 0][1:], v_ref[1:], rtol=1e-9)


def _psp_reference(w, tau_syn, s):
    """The closed-form PSP in 50-digit arithmetic (mpmath), so the reference itself has no cancellation error."""
    import mpmath

    with mpmath.workdps(50):
        tm, ts, s = mpmath.mpf(TAU), mpmath.mpf(tau_syn), mpmath.mpf(s)
        if tm == ts:
            return float(w / mpmath.mpf(C) * s * mpmath.exp(-s / tm))
        return float(w / mpmath.mpf(C) * tm * ts / (tm - ts) * (mpmath.exp(-s / tm) - mpmath.exp(-s / ts)))


def test_inhibitory_weight_goes_to_inhibitory_current():
    sim, ta = _one_input("iaf_psc_exp", -150.0, 5.0)
    t, I_in = sim.state("n", "I_in")
    _, I_ex = sim.state("n", "I_ex")
    assert np.all(I_ex == 0)
    assert I_in[0, np.searchsorted(t, ta - 1e-9), 0] == pytest.approx(-150.0)


def test_delta_synapse_jump_and_decay():
    """V jumps by w at arrival, then decays as w e^{−s/τm}."""
    w = 0.75  # exactly representable: weights are stored as float32
    sim, ta = _one_input("iaf_psc_delta", w, 2.0)
    t, V = sim.state("n", "V")
    after = t >= ta - 1e-9
    np.testing.assert_allclose(V[0, after, 0], w * np.exp(-(t[after] - ta) / TAU), rtol=1e-9)
    assert np.all(V[0, ~after, 0] == 0)


def test_delta_input_dropped_while_refractory():
    """NEST's iaf_psc_delta discards spikes that arrive during the refractory period."""
    net = Network(dt=0.1)
    net.add(Population("n", 1, model="iaf_psc_delta", tau_m=TAU, C_m=C, E_L=0.0, V_reset=0.0, V_th=1.0, t_ref=5.0,
                       V_init=0.0),
            SpikeSource("s", 1, times=[1.0, 2.0], indices=[0, 0]),
            Projection("s", "n", OneToOne(), weight=[1.5], delay=1.0),
            SpikeMonitor("n"), StateMonitor("n", ("V",)))
    sim = Simulator(net).run(20.0)
    steps, _ = sim.spike_steps("n")
    assert steps.tolist() == [20]  # first input fires it; the second arrives while refractory and is lost
    _, V = sim.state("n", "V")
    assert np.all(V[0] == 0.0)


@pytest.mark.parametrize("I_e", [0.0, 50.0])
def test_piecewise_current_source(I_e):
    """A current step from 0 to I at t0 and back to 0 at t1 (on top of a constant I_e): charge then discharge."""
    I, t0, t1 = 200.0, 10.0, 40.0
    net = Network(dt=0.1).add(neuron(I_e=I_e, V_init=I_e * TAU / C),
                              CurrentSource("step", "n", amplitude=[I / 2, 0.0], times=[t0, t1]),
                              CurrentSource("step2", "n", amplitude=[I / 2], times=[t0]),
                              CurrentSource("off", "n", amplitude=[-I / 2], times=[t1]),
                              StateMonitor("n", ("V",)))
    t, V = Simulator(net).run(80.0).state("n", "V")
    v = V[0, :, 0] - I_e * TAU / C  # I_e alone holds V at its steady state
    # the current applies from the step starting at t0, so V(t) charges from t0 on
    on = (t > t0) & (t <= t1)
    np.testing.assert_allclose(v[on], I * TAU / C * (1 - np.exp(-(t[on] - t0) / TAU)), rtol=1e-9, atol=1e-12)
    v1 = I * TAU / C * (1 - math.exp(-(t1 - t0) / TAU))
    off = t > t1
    np.testing.assert_allclose(v[off], v1 * np.exp(-(t[off] - t1) / TAU), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v[t <= t0], 0.0, atol=1e-12)


def test_refractory_clamp_duration():
    """After a spike at step s, V stays at V_reset through step s + R − 1 and integrates again from s + R."""
    dt, t_ref = 0.1, 3.0
    net = Network(dt=dt).add(neuron(I_e=5000.0, V_th=10.0, t_ref=t_ref), SpikeMonitor("n"),
                             StateMonitor("n", ("V",)))
    sim = Simulator(net).run(20.0)
    steps, _ = sim.spike_steps("n")
    _, V = sim.state("n", "V")
    s, R = steps[0], round(t_ref / dt)
    assert np.all(V[0, s:s + R, 0] == 0.0)  # rows s..s+R-1 are the states after steps s..s+R-1
    assert V[0, s + R, 0] > 0.0
