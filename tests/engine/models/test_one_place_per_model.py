"""A neuron model is one place: a toy model written in a temporary module and registered there builds, runs in the
clock mode, records, is refused by name where it cannot run (the exact event mode, the Brian2 bridge), loads from a
model file and enters the memory estimate, without any other file of pond knowing it."""
import importlib.util
import textwrap

import numpy as np
import pytest

from conftest import reference_tool
from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor, StateMonitor, \
    estimate_memory
from engine.io.brian2_bridge import build_brian2
from engine.io.modelfile import loads_model
from engine.kernels.neurons import KERNELS
from engine.models.neurons import NEURON_MODELS, register_neuron_model
from engine.network.connectivity import FixedProbability

TOY = '''
"""toy_lif: iaf_psc_exp written with a leak conductance g_L (nS) instead of C_m and one synaptic time constant."""
from types import SimpleNamespace

from engine.models.neurons import iaf_psc_exp, lif
from engine.models.spec import NeuronModel, Parameter


def _row(pop, dt, constant_input):
    same = SimpleNamespace(tau_m=pop.tau_m, C_m=pop.tau_m * pop.g_L, E_L=pop.E_L, V_th=pop.V_th,
                           V_reset=pop.V_reset, I_e=pop.I_e, tau_syn_ex=pop.tau_syn, tau_syn_in=pop.tau_syn)
    return lif.parameter_row(same, dt, constant_input)


MODEL = NeuronModel(
    name="toy_lif", summary="LIF with a leak conductance",
    parameters=(lif.MEMBRANE[0], Parameter("g_L", 25.0, "nS", "leak conductance", "positive")) + lif.MEMBRANE[2:]
    + (Parameter("tau_syn", 2.0, "ms", "synaptic time constant", "positive", time_constant=True),),
    state=lif.STATE, weight_unit="pA", input_in_update=False, kernel=iaf_psc_exp.KERNEL, parameter_row=_row,
    check=lif.check_reset_below_threshold, bytes_per_neuron=36)
'''


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy_lif.py"
    path.write_text(textwrap.dedent(TOY))
    spec = importlib.util.spec_from_file_location("toy_lif", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield register_neuron_model(module.MODEL)
    NEURON_MODELS.pop("toy_lif")


def _net(model: str, **params) -> Network:
    net = Network(dt=0.1, seed=5)
    net.add(Population("p", 200, model=model, tau_m=20.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0,
                       V_init=(-65.0, -50.0), **params),
            PoissonSource("noise", 50, rate=80.0),
            Projection("noise", "p", FixedProbability(0.2), weight=120.0, delay=1.0),
            Projection("p", "p", FixedProbability(0.1), weight=-30.0, delay=1.5),
            SpikeMonitor("p"), StateMonitor("p", ("V", "I_in"), indices=[0, 7]))
    return net


def test_toy_model_runs_and_records_as_the_model_it_rewrites(toy):
    toy_sim = Simulator(_net("toy_lif", g_L=12.5, tau_syn=3.0)).run(200.0)
    ref_sim = Simulator(_net("iaf_psc_exp", C_m=250.0, tau_syn_ex=3.0, tau_syn_in=3.0)).run(200.0)
    steps, ids = toy_sim.spikes("p")
    assert steps.size > 50
    np.testing.assert_array_equal(steps, ref_sim.spikes("p")[0])
    np.testing.assert_array_equal(ids, ref_sim.spikes("p")[1])
    for var in ("V", "I_in"):
        np.testing.assert_array_equal(toy_sim.state("p", var)[1], ref_sim.state("p", var)[1])


def test_toy_model_parameters_are_checked_by_its_spec(toy):
    with pytest.raises(ValueError, match="'C_m' is not a parameter of model 'toy_lif'.*g_L"):
        Population("p", 3, model="toy_lif", C_m=250.0)
    with pytest.raises(ValueError, match="g_L = -1.0 nS is not allowed; the leak conductance must be > 0"):
        Population("p", 3, model="toy_lif", g_L=-1.0)
    with pytest.raises(ValueError, match="tau_syn = 0.05 ms is shorter than dt"):
        Simulator(_net("toy_lif", tau_syn=0.05))


def test_toy_model_is_refused_by_name_in_the_exact_event_mode(toy):
    with pytest.raises(ValueError, match="model = 'toy_lif'.*'iaf_psc_delta'"):
        Simulator(_net("toy_lif"), method="event")


@pytest.mark.reference
@pytest.mark.subprocess  # Brian2 asks the system about its compiler when it loads
def test_toy_model_is_refused_by_name_in_the_brian2_bridge(toy):
    reference_tool("brian2")
    net = _net("toy_lif")
    with pytest.raises(ValueError, match="'toy_lif', which has no Brian2 form"):
        build_brian2(net, np.zeros(net.size), {})


def test_toy_model_loads_from_a_model_file(toy):
    net, _ = loads_model("""
        [network]
        dt = 0.1
        [[population]]
        name = "p"
        size = 10
        model = "toy_lif"
        g_L = "0.0125 uS"
        tau_syn = 3.0
        [[monitor]]
        type = "state"
        target = "p"
        variables = ["V"]
    """)
    assert net.populations[0].g_L == pytest.approx(12.5) and net.populations[0].tau_syn == 3.0
    with pytest.raises(ValueError, match="C_m"):
        loads_model('[[population]]\nname = "p"\nsize = 1\nmodel = "toy_lif"\nC_m = 250.0\n')


def test_toy_model_enters_the_memory_estimate(toy):
    toy_est = estimate_memory(_net("toy_lif"), trials=3)
    ref_est = estimate_memory(_net("iaf_psc_exp"), trials=3)
    assert toy_est.parts["neuron state"] == ref_est.parts["neuron state"] > 0


def test_registry_rules():
    assert {m.kernel for m in NEURON_MODELS.values()} == set(KERNELS)  # the dispatch list has each model's update
    with pytest.raises(ValueError, match="registered already"):
        register_neuron_model(NEURON_MODELS["iaf_psc_exp"].__class__(**{
            **NEURON_MODELS["iaf_psc_exp"].__dict__, "summary": "another"}))
    with pytest.raises(ValueError, match="kernel = 99"):
        register_neuron_model(NEURON_MODELS["iaf_psc_exp"].__class__(**{
            **NEURON_MODELS["iaf_psc_exp"].__dict__, "name": "x", "kernel": 99}))
    for model in NEURON_MODELS.values():  # every spec's state lives in the kernel's state arrays
        assert {s.slot for s in model.state} <= {0, 1, 2}
