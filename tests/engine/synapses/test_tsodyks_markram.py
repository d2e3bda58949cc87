"""Tsodyks–Markram short-term plasticity: the efficacy sequence against the closed-form recurrence, against NEST's
``tsodyks2_synapse``, the first-spike conventions, multiplicity, distributions and validation."""
import math

import numpy as np
import pytest
from conftest import reference_tool

from engine import (Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor, SpikeSource,
                    StateMonitor)
from engine.network.connectivity import AllToAll, OneToOne
from engine.network.distributions import Normal
from engine.models.synapses import StaticSynapse, TsodyksMarkram

DT = 0.1


def recurrence(times_ms, U, tau_rec, tau_fac, u0=None, x0=1.0):
    """Markram's recurrence as NEST's tsodyks2 writes it, in plain Python (the independent reference): the first
    spike has u_1 = u0 (default U) and x_1 = x0."""
    u, x, out = (U if u0 is None else u0), x0, []
    for n, t in enumerate(times_ms):
        if n > 0:
            h = t - times_ms[n - 1]
            x_decay = np.exp(-h / tau_rec)
            u_decay = 0.0 if tau_fac == 0 else np.exp(-h / tau_fac)
            x = 1.0 + (x - x * u - 1.0) * x_decay
            u = U + u * (1.0 - U) * u_decay
        out.append(u * x)
    return np.array(out)


def efficacies(times_ms, syn, target_model="iaf_psc_delta", weight=1.0):
    """Drive one synapse with a spike train and read each spike's efficacy off the target's input.

    An iaf_psc_delta target with an enormous membrane time constant and threshold integrates its input, so the jump
    of V at each arrival is the delivered efficacy; an iaf_psc_exp target's I_ex jumps by it."""
    net = Network(dt=DT, seed=1)
    pop = Population("n", 1, model=target_model, tau_m=1e12, C_m=1.0, E_L=0.0, V_reset=-1e9, V_th=1e9, V_init=0.0,
                     tau_syn_ex=1e12, tau_syn_in=1e12)
    net.add(pop, SpikeSource("pre", 1, times=times_ms, indices=np.zeros(len(times_ms), int)),
            Projection("pre", "n", OneToOne(), weight=weight, delay=DT, synapse=syn),
            StateMonitor("n", ["V", "I_ex", "I_in"]))
    sim = Simulator(net).run(float(np.max(times_ms)) + 5 * DT)
    var = "V" if target_model == "iaf_psc_delta" else ("I_ex" if weight >= 0 else "I_in")
    trace = sim.state("n", var)[1][0, :, 0]
    jumps = np.diff(np.r_[0.0, trace])
    return jumps[np.abs(jumps) > 1e-9]  # the (1e12 ms) leak moves V by ~1e-13 per step


REGULAR = np.arange(1, 21) * 25.0  # 40 Hz
IRREGULAR = np.cumsum(np.random.default_rng(4).exponential(30.0, 25)).round(1) + 1.0


@pytest.mark.parametrize("times", [REGULAR, IRREGULAR], ids=["regular", "irregular"])
@pytest.mark.parametrize("params", [dict(U=0.5, tau_rec=800.0, tau_fac=0.0),  # depressing
                                    dict(U=0.05, tau_rec=125.0, tau_fac=1200.0),  # facilitating (Maass EI)
                                    dict(U=0.25, tau_rec=700.0, tau_fac=20.0)])
@pytest.mark.parametrize("target", ["iaf_psc_delta", "iaf_psc_exp"])
def test_efficacy_sequence_equals_the_closed_form_recurrence(times, params, target):
    got = efficacies(times, TsodyksMarkram(**params), target)
    expected = recurrence(times, **params)
    assert got.size == times.size
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_the_first_spike_uses_u0_and_x0_as_they_are_whenever_it_comes():
    for first in (0.5, 30.0, 400.0):
        times = first + np.array([0.0, 10.0, 20.0])
        markram = efficacies(times, TsodyksMarkram(U=0.2, tau_rec=100.0, tau_fac=50.0))
        assert markram[0] == pytest.approx(0.2, abs=1e-15)  # u_1 = U, x_1 = 1
        given = efficacies(times, TsodyksMarkram(U=0.2, tau_rec=100.0, tau_fac=50.0, u0=0.6, x0=0.5))
        assert given[0] == pytest.approx(0.3, abs=1e-15)
        np.testing.assert_allclose(given, recurrence(times, 0.2, 100.0, 50.0, 0.6, 0.5), atol=1e-12)


def test_inhibitory_weights_scale_the_same_efficacy():
    times = REGULAR[:8]
    exc = efficacies(times, TsodyksMarkram(U=0.3, tau_rec=200.0, tau_fac=10.0), "iaf_psc_exp", weight=2.0)
    inh = efficacies(times, TsodyksMarkram(U=0.3, tau_rec=200.0, tau_fac=10.0), "iaf_psc_exp", weight=-2.0)
    np.testing.assert_allclose(inh, -exc, rtol=0, atol=0)


def test_spikes_in_the_same_step_are_updates_in_sequence():
    """Two spikes of one source in one step: two updates with h = 0, not one update delivered twice."""
    syn = TsodyksMarkram(U=0.4, tau_rec=300.0, tau_fac=0.0)
    got = efficacies(np.array([10.0, 10.0, 30.0]), syn)
    x1, u = 1.0, 0.4
    e1 = u * x1
    x2 = x1 - x1 * u
    e2 = u * x2
    x3 = 1.0 + (x2 - x2 * u - 1.0) * np.exp(-20.0 / 300.0)
    np.testing.assert_allclose(got, [e1 + e2, u * x3], atol=1e-12)


def test_static_synapse_is_the_default_and_tm_state_is_per_trial_and_synapse():
    net = Network(dt=DT, seed=2)
    net.add(Population("n", 3), SpikeSource("pre", 2, times=[5.0, 6.0], indices=[0, 1]),
            Projection("pre", "n", AllToAll(), weight=10.0, delay=1.0, synapse=TsodyksMarkram()))
    assert isinstance(Projection("pre", "n", AllToAll()).synapse, StaticSynapse)
    sim = Simulator(net, trials=3).run(20.0)
    assert sim.stp_u.shape == sim.stp_x.shape == (3, 6)
    assert np.all(sim.stp_u == 0.5) and np.all(sim.stp_x == 1.0)  # one spike each: u_1 = U, x_1 = 1
    assert np.all(sim._stp_last[:, :, 3] == 50) and np.all(sim._stp_last[:, :, 4] == 60)  # steps of the last spikes


def test_parameters_drawn_per_synapse_keep_their_sign_and_stay_in_range():
    net = Network(dt=DT, seed=3)
    syn = TsodyksMarkram(U=Normal(0.5, 0.25), tau_rec=Normal(1100.0, 550.0), tau_fac=Normal(50.0, 25.0))
    net.add(Population("n", 200), SpikeSource("pre", 200, times=[], indices=[]),
            Projection("pre", "n", AllToAll(), weight=1.0, synapse=syn))
    st = Simulator(net).built.stp
    assert st["U"].size == 40_000
    assert 0 < st["U"].min() and st["U"].max() <= 1.0
    assert st["tau_rec"].min() > 0 and st["tau_fac"].min() > 0
    assert abs(np.median(st["tau_rec"]) - 1100.0) < 30.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(U=1.5), r"U = 1.5 is not allowed; it must lie in \[0, 1\]"),
    (dict(U=-0.1), r"U = -0.1 is not allowed"),
    (dict(tau_rec=0.0), r"tau_rec \(ms\) = 0.0 is not allowed; it must lie in \(0, inf\]"),
    (dict(tau_fac=-1.0), r"tau_fac \(ms\) = -1.0 is not allowed"),
    (dict(u0=2.0), r"u0 = 2.0 is not allowed"),
    (dict(x0=float("nan")), r"x0 = nan is not allowed; give a finite number or a distribution"),
    (dict(U="big"), r"U = 'big' is not allowed"),
])
def test_bad_parameters_are_refused_with_the_rule(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TsodyksMarkram(**kwargs)


def test_a_projection_refuses_a_synapse_that_is_not_a_model():
    with pytest.raises(TypeError, match="synapse = 'tm' is not allowed; give one of"):
        Projection("a", "b", AllToAll(), synapse="tm")


NEST_SCRIPT = """
import json, sys
import numpy as np
import nest
dt, times, params, u0, x0 = json.loads(sys.argv[1])
nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.resolution = dt
gen = nest.Create("spike_generator", params={"spike_times": times})
parrot = nest.Create("parrot_neuron")
post = nest.Create("iaf_psc_delta", params={"tau_m": 1e12, "C_m": 1.0, "E_L": 0.0, "V_reset": -1e9, "V_th": 1e9,
                                            "V_m": 0.0, "t_ref": dt, "I_e": 0.0})
vm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
nest.Connect(gen, parrot)
nest.Connect(parrot, post, syn_spec=dict(synapse_model="tsodyks2_synapse", weight=1.0, delay=dt, u=u0, x=x0,
                                         **params))
nest.Connect(vm, post)
nest.Simulate(float(max(times)) + 5.0)
print(json.dumps([nest.__version__, list(map(float, vm.get("events")["V_m"]))]))
"""


@pytest.mark.subprocess
@pytest.mark.reference
def test_same_postsynaptic_effect_as_nest_tsodyks2():
    """NEST's tsodyks2_synapse onto an iaf_psc_delta neuron that only integrates: the jumps of V equal pond's.

    NEST 3 takes a synapse's ``u`` and ``x`` as the values at its first spike (no update before it), as pond does
    with ``u0`` and ``x0``; the initial values here are not the defaults, to see that both treat them alike. NEST
    runs in a child process (its OpenMP runtime and Numba's threading layer do not share a process safely)."""
    import json
    import subprocess
    import sys

    reference_tool("nest")
    params = dict(U=0.1, tau_rec=300.0, tau_fac=150.0)
    u0, x0 = 0.3, 0.8
    arg = json.dumps([DT, IRREGULAR.tolist(), params, u0, x0])
    out = subprocess.run([sys.executable, "-c", NEST_SCRIPT, arg], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    version, v = json.loads(out.stdout.strip().splitlines()[-1])
    assert version.startswith("3.")
    nest_jumps = np.diff(np.r_[0.0, v])
    nest_jumps = nest_jumps[np.abs(nest_jumps) > 1e-9]
    assert nest_jumps.size == IRREGULAR.size
    np.testing.assert_allclose(nest_jumps, recurrence(IRREGULAR, u0=u0, x0=x0, **params), rtol=0, atol=1e-12)
    pond_jumps = efficacies(IRREGULAR, TsodyksMarkram(u0=u0, x0=x0, **params))
    np.testing.assert_allclose(pond_jumps, nest_jumps, rtol=0, atol=1e-12)


def test_model_files_describe_dynamic_synapses():
    from engine.io.modelfile import ModelFileError, loads_model

    text = """
[network]
dt = 0.1
[[population]]
name = "n"
size = 20
[[spike_source]]
name = "pre"
size = 1
times = [5.0, 10.0, 15.0]
indices = [0, 0, 0]
[[projection]]
source = "pre"
target = "n"
rule = "all_to_all"
weight = 100.0
[projection.synapse]
type = "tsodyks_markram"
U = {dist = "normal", mean = 0.5, std = 0.25}
tau_rec = "1.1 s"
tau_fac = "50 ms"
[[projection]]
source = "pre"
target = "n"
rule = "all_to_all"
name = "plain"
synapse = "static"
"""
    net, _ = loads_model(text)
    syn = net.projections[0].synapse
    assert isinstance(syn, TsodyksMarkram) and syn.tau_rec == 1100.0 and syn.tau_fac == 50.0
    assert isinstance(syn.U, Normal) and syn.U.mean == 0.5
    assert isinstance(net.projections[1].synapse, StaticSynapse)
    sim = Simulator(net).run(20.0)
    assert sim.stp_u.shape == (1, 20) and np.all(sim._stp_last[0, :, net.size] == 150)
    with pytest.raises(ModelFileError, match=r"synapse\.U.*U = 1.5 is not allowed"):
        loads_model(text.replace('U = {dist = "normal", mean = 0.5, std = 0.25}', "U = 1.5"))
    with pytest.raises(ModelFileError, match="tau_rek"):
        loads_model(text.replace("tau_rec", "tau_rek"))
    with pytest.raises(ModelFileError, match=r"tau_rec.*mV"):
        loads_model(text.replace('"1.1 s"', '"1.1 mV"'))


def test_a_first_spike_at_step_zero_is_a_first_spike_only_once():
    """A source spiking at t = 0 (step 0) has a previous spike from then on: the second spike, 5 ms later, decays
    u and x over those 5 ms (issue 25's mutant ``last_step >= 0`` -> ``> 0`` took step 0 for 'no spike yet')."""
    times = np.array([0.0, 5.0, 9.0, 9.5])
    params = dict(U=0.3, tau_rec=100.0, tau_fac=40.0)
    np.testing.assert_allclose(efficacies(times, TsodyksMarkram(**params)), recurrence(times, **params),
                               rtol=0, atol=1e-12)


def test_same_step_spikes_update_the_state_bit_for_bit():
    """A 5 kHz Poisson source spikes up to several times in one 0.1 ms step (one queue entry of multiplicity m).
    After every step the synapse's ``u`` and ``x`` equal NEST's tsodyks2 recurrence evaluated with the same float
    operations, bit for bit: a rewrite such as ``x - x * u`` for ``1 + (x - x * u - 1)`` changes the last bits
    whenever ``x < 0.5`` (then ``1 + (y - 1)`` rounds ``y`` to the spacing of numbers near 1) and is caught here,
    not by a tolerance (a later spike's update would round the difference away, so the state is read every step)."""
    U, tau_rec, tau_fac = 0.37, 123.4, 56.7
    net = Network(dt=DT, seed=1)
    net.add(Population("n", 1, model="iaf_psc_delta", V_th=1e9, V_reset=-1e9), PoissonSource("p", 1, rate=5000.0),
            Projection("p", "n", OneToOne(), weight=1.0, delay=DT,
                       synapse=TsodyksMarkram(U=U, tau_rec=tau_rec, tau_fac=tau_fac)), SpikeMonitor("p"))
    sim = Simulator(net)
    got = []
    for _ in range(300):
        sim.run(DT)
        got.append((float(sim.stp_u[0, 0]), float(sim.stp_x[0, 0])))
    steps = sim.spike_steps("p")[0].tolist()
    assert max(np.unique(steps, return_counts=True)[1]) >= 3  # steps of multiplicity 2 and 3 are in the train
    u, x, last, want = U, 1.0, None, []
    k = 0
    for now in range(300):
        while k < len(steps) and steps[k] == now:
            if last is not None and steps[k] != last:
                h = (steps[k] - last) * DT
                x = 1.0 + (x - x * u - 1.0) * math.exp(-h / tau_rec)  # (libm's exp, as the kernel's)
                u = U + u * (1.0 - U) * math.exp(-h / tau_fac)
            elif last is not None:
                x = 1.0 + (x - x * u - 1.0)
                u = U + u * (1.0 - U)
            last = steps[k]
            k += 1
        want.append((u, x))
    assert got == want
