"""pond.pynn against PyNN's own system-test scenarios, and the backend's own promises.

The scenarios ship in PyNN's source distribution (``test/system/scenarios/``); the first run fetches it once with
``pip download`` into ``tests/.cache`` (gitignored). Every scenario runs against ``pond.pynn``; those that need what
pond does not simulate are listed in ``SKIPPED`` with the reason, and for those the test checks that pond *refuses*
(raises ``PondNotSupportedError``) instead of running a substitute.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import reference_tool

reference_tool("pyNN")  # PyNN is the dev extra's: a skip outside CI, an error in CI when absent
import pond.pynn as sim  # noqa: E402
from pyNN.random import NumpyRNG, RandomDistribution  # noqa: E402

PYNN_VERSION = "0.13.0"
CACHE = Path(__file__).resolve().parent / ".cache"
SCENARIO_DIR = CACHE / f"pynn-{PYNN_VERSION}" / "test" / "system" / "scenarios"

#: Scenarios pond does not run, and why. "refused": pond raises PondNotSupportedError (checked below).
#: "not run": the scenario cannot run here for reasons outside pond (its own skip, or a result pond does not claim).
_COND = "IF_cond_exp/IF_cond_alpha (conductance-based synapses)"
SKIPPED = {
    "test_run_until": ("refused", _COND),
    "test_EIF_cond_alpha_isfa_ista": ("refused", "EIF_cond_alpha_isfa_ista (adaptive, conductance-based)"),
    "test_HH_cond_exp": ("refused", "HH_cond_exp (Hodgkin-Huxley)"),
    "test_SpikeSourceGamma": ("refused", "SpikeSourceGamma"),
    "test_SpikeSourcePoissonRefractory": ("refused", "SpikeSourcePoissonRefractory"),
    "test_composed_neuron_model_homogeneous_receptors": ("refused", "composed PointNeuron/AdExp cell types"),
    "test_connection_access_weight_and_delay": ("refused", _COND),
    "test_connections_attribute": ("refused", _COND),
    "test_issue652": ("refused", _COND + " and STDP"),
    "test_all_to_all_static_no_self": ("refused", _COND),
    "test_all_to_all_tsodyksmarkram": ("refused", _COND),
    "test_fixed_number_post_no_replacement": ("refused", _COND),
    "test_fixed_number_post_with_replacement": ("refused", _COND),
    "test_fixed_number_post_with_replacement_heterogeneous_parameters": ("refused", _COND),
    "test_fixed_number_pre_no_replacement": ("refused", _COND),
    "test_fixed_number_pre_with_replacement": ("refused", _COND),
    "test_fixed_number_pre_with_replacement_heterogeneous_parameters": ("refused", _COND),
    "test_issue309": ("refused", _COND),
    "test_issue622": ("refused", _COND),
    "test_issue165": ("refused", _COND),
    "test_issue321": ("refused", "IF_curr_alpha (alpha-shaped currents)"),
    "test_issue437": ("refused", "IF_curr_alpha and NoisyCurrentSource"),
    "test_issue442": ("refused", "IF_curr_alpha and ACSource"),
    "test_issue445": ("refused", "ACSource"),
    "test_issue497": ("refused", "ACSource"),
    "test_issue631": ("refused", "ACSource and NoisyCurrentSource"),
    "test_issue_465_474_630": ("refused", "ACSource and NoisyCurrentSource"),
    "test_ticket226": ("refused", "IF_curr_alpha (alpha-shaped currents)"),
    "test_issue759": ("refused", "new change times of a StepCurrentSource after run() (without reset)"),
    "test_issue231": ("refused", _COND),
    "test_issue274": ("refused", _COND),
    "test_issue302": ("refused", _COND),
    "test_issue505": ("refused", _COND),
    "test_set_synaptic_parameters_fully_connected": ("refused", _COND),
    "test_set_synaptic_parameters_multiply_connected": ("refused", _COND),
    "test_set_synaptic_parameters_partially_connected": ("refused", _COND),
    "test_ticket195": ("refused", _COND),
    "test_mix_procedural_and_oo": ("refused", _COND),
    "test_record_vm_and_gsyn_from_assembly": ("refused", _COND + " and gsyn recording"),
    "test_reset_recording": ("refused", _COND),
    "test_sampling_interval": ("refused", _COND),
    "test_scenario1": ("refused", _COND),
    "test_scenario1a": ("refused", _COND),
    "test_scenario3": ("refused", _COND + " and STDP"),
    "test_scenario4": ("refused", "EIF_cond_exp_isfa_ista (adaptive, conductance-based)"),
    "test_simple_stochastic_synapse": ("refused", _COND + " and SimpleStochasticSynapse"),
    "test_ticket166": ("refused", _COND),
    "test_issue259": ("not run", "off-grid spike times (0.075 ms at dt = 0.05 ms): pond's spikes lie on the grid"),
    "test_scenario5": ("not run", "multi-compartment morphologies (Arbor/NEURON only; needs morphio)"),
}


def _fetch_scenarios() -> Path:
    """The scenarios directory of PyNN's sdist, downloaded once into tests/.cache."""
    if SCENARIO_DIR.is_dir():
        return SCENARIO_DIR
    CACHE.mkdir(exist_ok=True)
    archive = CACHE / f"pynn-{PYNN_VERSION}.tar.gz"
    if not archive.exists():
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               f"pynn=={PYNN_VERSION}", "-d", str(CACHE)], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0 or not archive.exists():
            message = f"could not download PyNN {PYNN_VERSION}'s sdist: {proc.stderr.strip()[-300:]}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
    prefix = f"pynn-{PYNN_VERSION}/test/system/scenarios/"
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, members=[m for m in tar.getmembers() if m.name.startswith(prefix)
                                       and m.isfile()], filter="data")
    return SCENARIO_DIR


#: Scenarios that run against pond.pynn and must pass.
RUN = ["test_reset", "test_reset_with_clear", "test_reset_with_spikes", "test_setup", "test_SpikeSourcePoisson",
       "test_issue511", "test_update_SpikeSourceArray", "test_issue672", "test_changing_electrode", "test_issue451",
       "test_issue483", "test_issue487", "test_issue512", "test_issue241", "test_issue499",
       "test_record_with_filename", "test_scenario2"]


def _scenario_functions() -> dict[str, str]:
    """Function name -> module of every scenario in the sdist."""
    out = {}
    for path in sorted(_fetch_scenarios().glob("test_*.py")):
        for line in path.read_text().splitlines():
            if line.startswith("def test_"):
                out[line[4:line.index("(")]] = path.stem
    return out


def _scenario(name: str):
    root = _fetch_scenarios()
    if "pynn_scenarios" not in sys.modules:
        spec = importlib.util.spec_from_file_location("pynn_scenarios", root / "__init__.py",
                                                      submodule_search_locations=[str(root)])
        pkg = importlib.util.module_from_spec(spec)
        sys.modules["pynn_scenarios"] = pkg
        spec.loader.exec_module(pkg)
    return getattr(importlib.import_module(f"pynn_scenarios.{_scenario_functions()[name]}"), name)


@pytest.mark.subprocess
@pytest.mark.parametrize("name", RUN)
def test_pynn_system_scenario_passes(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _scenario(name)(sim)


@pytest.mark.subprocess
@pytest.mark.parametrize("name", sorted(n for n, (kind, _) in SKIPPED.items() if kind == "refused"))
def test_pynn_system_scenario_is_refused_not_substituted(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(), pytest.raises(sim.PondNotSupportedError):
        warnings.simplefilter("ignore")
        _scenario(name)(sim)


@pytest.mark.subprocess
def test_every_scenario_is_run_or_listed():
    names = set(_scenario_functions())
    assert names == set(RUN) | set(SKIPPED), (names - set(RUN) - set(SKIPPED), (set(RUN) | set(SKIPPED)) - names)
    assert not set(RUN) & set(SKIPPED)


# ------------------------------------------------------------------------------------------------ own checks
def _cuba_like(seed_rng, rng_factory=NumpyRNG, n=60):
    sim.setup(timestep=0.1, rng_seed=3)
    exc = sim.Population(n, sim.IF_curr_exp(tau_m=20.0, v_rest=-49.0, v_thresh=-50.0, v_reset=-60.0,
                                              tau_refrac=5.0, tau_syn_E=5.0, tau_syn_I=10.0), label="exc")
    rng = rng_factory(seed=seed_rng)
    exc.initialize(v=RandomDistribution("uniform", low=-60.0, high=-50.0, rng=rng))
    prj = sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.1, rng=rng),
                         sim.StaticSynapse(weight=RandomDistribution("uniform", low=0.1, high=0.3, rng=rng),
                                           delay=0.5))
    return exc, prj


def test_connectors_with_a_numpy_rng_draw_the_connections_pyNN_defines(tmp_path):
    import pyNN.mock as mock

    conn_file = tmp_path / "connections.txt"
    np.savetxt(conn_file, np.array([[0, 1, 0.5, 1.0], [3, 2, 0.25, 2.0], [29, 19, 0.125, 0.3]]),
               header="columns = ['i', 'j', 'weight', 'delay']")

    def build(backend, connector_factory, synapse):
        backend.setup(timestep=0.1, min_delay=0.1)
        a = backend.Population(30, backend.IF_curr_exp())
        b = backend.Population(20, backend.IF_curr_exp())
        connector = connector_factory(backend)
        prj = backend.Projection(a, b, connector, synapse(backend))
        again = backend.Projection(a, b, connector, synapse(backend))  # the same connector (and generator) again
        return np.array(prj.get(["weight", "delay"], format="list") + again.get(["weight", "delay"], format="list"))

    def random_weights(s):
        return s.StaticSynapse(weight=RandomDistribution("uniform", low=0.1, high=0.2, rng=NumpyRNG(seed=11)),
                               delay=0.5)

    def constant(s):  # pond draws FixedProbabilityConnector's matrix in one call here
        return s.StaticSynapse(weight=0.25, delay=1.0)

    cases = [
        (lambda s: s.FixedProbabilityConnector(0.2, rng=NumpyRNG(seed=5)), constant),
        (lambda s: s.FixedProbabilityConnector(0.2, rng=NumpyRNG(seed=5)), random_weights),
        (lambda s: s.FixedNumberPreConnector(4, rng=NumpyRNG(seed=6)), random_weights),
        (lambda s: s.FixedNumberPostConnector(3, with_replacement=True, rng=NumpyRNG(seed=7)), random_weights),
        (lambda s: s.FixedTotalNumberConnector(50, rng=NumpyRNG(seed=8)), constant),
        (lambda s: s.DistanceDependentProbabilityConnector("exp(-d/10)", rng=NumpyRNG(seed=9)), random_weights),
        (lambda s: s.FromListConnector([(0, 1, 0.5, 1.0), (3, 2, 0.25, 2.0), (3, 2, 0.75, 0.5)],
                                       column_names=["weight", "delay"]), constant),
        (lambda s: s.ArrayConnector(np.arange(600).reshape(30, 20) % 7 == 0), random_weights),
        (lambda s: s.FromFileConnector(str(conn_file)), constant),
    ]
    for make, synapse in cases:
        ours, theirs = build(sim, make, synapse), build(mock, make, synapse)
        assert ours.shape == theirs.shape and ours.shape[0] > 0
        np.testing.assert_array_equal(ours, theirs)


def test_fast_path_connections_are_the_ones_simulated():
    """Without an rng, FixedProbabilityConnector is pond's compiled rule: materialising the connections (get)
    gives exactly what the engine simulates (same spikes as a network that never looked at them)."""
    def run(look: bool):
        sim.setup(timestep=0.1, rng_seed=7)
        src = sim.Population(50, sim.SpikeSourcePoisson(rate=40.0))
        post = sim.Population(30, sim.IF_curr_exp(tau_syn_E=2.0))
        prj = sim.Projection(src, post, sim.FixedProbabilityConnector(0.3), sim.StaticSynapse(weight=0.8))
        if look:
            assert len(prj) == len(prj.get("weight", format="list")) > 0
        post.record("spikes")
        sim.run(200.0)
        return [np.asarray(st) for st in post.get_data().segments[0].spiketrains]

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)


def _native_vs_pynn(times_in, pairs, weights, delays, tm=None):
    from engine import Network, Population, Projection, Simulator, SpikeMonitor, SpikeSource
    from engine.network.connectivity import Explicit
    from engine.models.synapses import TsodyksMarkram

    sim.setup(timestep=0.1, min_delay=0.1)
    src = sim.Population(len(times_in), sim.SpikeSourceArray(spike_times=[list(t) for t in times_in]))
    post = sim.Population(4, sim.IF_curr_exp(tau_m=10.0, cm=0.25, v_rest=-65.0, v_reset=-65.0, v_thresh=-55.0,
                                             tau_refrac=2.0, tau_syn_E=2.0, tau_syn_I=2.0))
    conn = [(i, j, w, d) for (i, j), w, d in zip(pairs, weights, delays)]
    synapse = sim.StaticSynapse() if tm is None else sim.TsodyksMarkramSynapse(**tm)
    sim.Projection(src, post, sim.FromListConnector(conn, column_names=["weight", "delay"]), synapse)
    post.record(["spikes", "v"])
    sim.run(150.0)
    seg = post.get_data().segments[0]
    pynn_spikes = [np.asarray(st) for st in seg.spiketrains]
    pynn_v = np.asarray(seg.analogsignals[0])

    net = Network(dt=0.1, seed=0)
    t = np.concatenate([np.asarray(x, float) for x in times_in])
    idx = np.concatenate([np.full(len(x), i) for i, x in enumerate(times_in)])
    pre = np.array([p[0] for p in pairs])
    tgt = np.array([p[1] for p in pairs])
    order = np.lexsort((tgt, pre))
    net.add(SpikeSource("src", len(times_in), times=t, indices=idx),
            Population("post", 4, tau_m=10.0, C_m=250.0, E_L=-65.0, V_reset=-65.0, V_th=-55.0, t_ref=2.1,
                       tau_syn_ex=2.0, tau_syn_in=2.0, V_init=-65.0),
            Projection("src", "post", Explicit(pre[order], tgt[order]), weight=np.array(weights)[order] * 1000.0,
                       delay=np.array(delays)[order], synapse=None if tm is None else TsodyksMarkram(
                           U=tm["U"], tau_rec=tm["tau_rec"], tau_fac=tm["tau_facil"])),
            SpikeMonitor("post"))
    from engine import StateMonitor
    net.add(StateMonitor("post", variables=("V",)))
    native = Simulator(net).run(150.0)
    times, ids = native.spikes("post")
    _, v = native.state("post", "V")
    return pynn_spikes, pynn_v, [times[ids == i] for i in range(4)], v[0]


@pytest.mark.parametrize("tm", [None, {"U": 0.3, "tau_rec": 150.0, "tau_facil": 40.0}])
def test_a_pynn_script_and_the_pond_native_model_give_identical_spikes(tm):
    rng = np.random.default_rng(2)
    times_in = [np.round(np.sort(rng.uniform(1, 140, 25)), 1) for _ in range(6)]
    pairs = [(i, j) for i in range(6) for j in range(4) if (i + j) % 3 != 0]
    weights = list(np.round(rng.uniform(0.2, 1.5 if tm is None else 4.0, len(pairs)), 3))
    if tm is None:
        weights = [-w if k % 4 == 0 else w for k, w in enumerate(weights)]  # inhibitory ones too
    delays = list(np.round(rng.uniform(0.1, 3.0, len(pairs)), 1))
    pynn_spikes, pynn_v, native_spikes, native_v = _native_vs_pynn(times_in, pairs, weights, delays, tm)
    assert sum(s.size for s in pynn_spikes) > 5
    for a, b in zip(pynn_spikes, native_spikes):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pynn_v[1:], native_v)  # PyNN's signal starts with the initial value


def test_parameters_set_after_creation_take_effect():
    def rate(**changes):
        sim.setup(timestep=0.1)
        p = sim.Population(3, sim.IF_curr_exp())
        for key, value in changes.items():
            if key == "v":
                p.initialize(v=value)
            else:
                p.set(**{key: value})
        p.record("spikes")
        sim.run(200.0)
        return [len(st) for st in p.get_data().segments[0].spiketrains]

    assert rate() == [0, 0, 0]
    assert rate(i_offset=[0.0, 1.0, 2.0])[0] == 0 and 0 < rate(i_offset=[0.0, 1.0, 2.0])[1] < rate(
        i_offset=[0.0, 1.0, 2.0])[2]
    assert rate(i_offset=1.0, tau_refrac=20.0)[0] < rate(i_offset=1.0)[0]
    assert rate(v=-49.0) == [1, 1, 1]  # starts above threshold (-50 mV): one spike, then rest at -65 mV


def test_weights_set_on_a_projection_take_effect():
    def spikes(w_after):
        sim.setup(timestep=0.1)
        src = sim.Population(1, sim.SpikeSourceArray(spike_times=[10.0, 20.0, 30.0]))
        post = sim.Population(2, sim.IF_curr_exp(tau_syn_E=5.0))
        prj = sim.Projection(src, post, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=1.0))
        if w_after is not None:
            prj.set(weight=w_after)
        post.record("spikes")
        sim.run(60.0)
        return [len(st) for st in post.get_data().segments[0].spiketrains]

    assert spikes(None) == [0, 0]
    quiet, driven = spikes(np.array([[0.1, 20.0]]))
    assert quiet == 0 and driven >= 3


def test_changes_in_flight_and_refused_changes():
    sim.setup(timestep=0.1)
    src = sim.Population(1, sim.SpikeSourcePoisson(rate=0.0))
    post = sim.Population(1, sim.IF_curr_exp())
    sim.Projection(src, post, sim.OneToOneConnector(), sim.StaticSynapse(weight=5.0))
    post.record("spikes")
    sim.run(100.0)
    src.set(rate=500.0)  # taken in flight
    sim.run(100.0)
    train = post.get_data().segments[0].spiketrains[0]
    assert len(train) > 0 and train.min() > 100.0
    post.set(tau_m=10.0)
    with pytest.raises(sim.PondNotSupportedError, match="tau_m"):
        sim.run(10.0)
    sim.reset()
    sim.run(10.0)  # rebuilt with the new value
    assert post.get("tau_m") == 10.0


def test_reset_restarts_from_the_initial_values_in_a_new_segment():
    sim.setup(timestep=0.1, rng_seed=4)
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=100.0))
    post = sim.Population(5, sim.IF_curr_exp())
    sim.Projection(src, post, sim.FixedProbabilityConnector(0.5), sim.StaticSynapse(weight=0.5))
    post.record(["spikes", "v"])
    sim.run(100.0)
    sim.reset()
    sim.run(100.0)
    block = post.get_data()
    assert len(block.segments) == 2
    a, b = (np.asarray(s.analogsignals[0]) for s in block.segments)
    np.testing.assert_array_equal(a, b)  # same seed, same draws: identical segments


def test_refusals_name_what_pond_cannot_run():
    sim.setup()
    with pytest.raises(NotImplementedError, match="conductance"):
        sim.IF_cond_exp()
    from pyNN.errors import NoModelAvailableError
    with pytest.raises(NoModelAvailableError, match="STDPMechanism"):
        sim.STDPMechanism()
    with pytest.raises(sim.PondNotSupportedError, match="ACSource"):
        sim.ACSource(amplitude=1.0)
    p = sim.Population(4, sim.IF_curr_exp())
    p[:2].set(tau_m=5.0)
    p.record("v")
    with pytest.raises(sim.PondNotSupportedError, match="tau_m"):
        sim.run(1.0)


def test_recording_units_and_sampling():
    sim.setup(timestep=0.1)
    p = sim.Population(2, sim.IF_curr_exp(i_offset=0.5))
    p.record("v", sampling_interval=1.0)
    p.record("isyn_exc")
    sim.run(20.0)
    seg = p.get_data().segments[0]
    v = seg.filter(name="v")[0]
    assert v.shape == (21, 2) and str(v.units.dimensionality) == "mV"
    assert float(v.sampling_period) == 1.0 and float(v[0, 0]) == -65.0
    isyn = seg.filter(name="isyn_exc")[0]
    assert isyn.shape == (21, 2) and str(isyn.units.dimensionality) == "nA"


def test_write_data_to_a_neo_file(tmp_path):
    sim.setup(timestep=0.1)
    p = sim.Population(2, sim.IF_curr_exp(i_offset=[0.0, 1.0]))
    p.record(["spikes", "v"])
    sim.run(50.0)
    path = tmp_path / "out.pkl"
    p.write_data(str(path))
    from neo.io import PickleIO
    block = PickleIO(str(path)).read_block()
    assert len(block.segments[0].spiketrains[1]) == len(p.get_data().segments[0].spiketrains[1]) > 0


def test_a_view_whose_cells_record_no_v_reads_and_writes_without_error(tmp_path):
    """PyNN's VAbenchmarks CUBA --use-views: v recorded on cells outside the view."""
    sim.setup(timestep=0.1)
    p = sim.Population(10, sim.IF_curr_exp(i_offset=1.0))
    p[5:].record("v")
    view = p[:5]
    view.record("spikes")
    sim.run(20.0)
    seg = view.get_data().segments[0]
    assert seg.filter(name="v") == [] and len(seg.spiketrains) == 5
    view.write_data(str(tmp_path / "view.pkl"))
    assert p.get_data().segments[0].filter(name="v")[0].shape == (201, 5)


def test_names_of_pynn_nest_import_or_are_refused():
    from pond.pynn import ArrayParameter, Sequence  # noqa: F401  (pyNN.nest exports them)

    sim.setup(timestep=0.1)
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[Sequence([1.0, 2.0]), Sequence([3.0])]))
    src.record("spikes")
    sim.run(5.0)
    assert [len(st) for st in src.get_data().segments[0].spiketrains] == [2, 1]
    for name in ("AlphaPSR", "ExpPSR", "BetaPSR"):
        with pytest.raises(sim.PondNotSupportedError, match="conductance"):
            getattr(sim, name)()
    for name in ("nest", "native_cell_type", "SpikeDetector", "Multimeter"):
        with pytest.raises(sim.PondNotSupportedError, match=f"no {name}: .*specific to pyNN.nest"):
            getattr(sim, name)
        assert not hasattr(sim, name)  # also an AttributeError
    with pytest.raises(AttributeError, match="nonesuch") as e:
        sim.nonesuch
    assert not isinstance(e.value, sim.PondNotSupportedError)


@pytest.mark.parametrize("connector", ["all", "numpy_rng", "list"])
@pytest.mark.parametrize("weight", [float("nan"), float("inf")])
def test_a_non_finite_weight_is_refused_as_such(connector, weight):
    sim.setup(timestep=0.1)
    a, b = sim.Population(3, sim.IF_curr_exp()), sim.Population(3, sim.IF_curr_exp())
    conn = {"all": sim.AllToAllConnector(), "numpy_rng": sim.FixedProbabilityConnector(0.5, rng=NumpyRNG(1)),
            "list": sim.FromListConnector([(0, 1)])}[connector]
    with pytest.raises(ValueError, match=f"weight = {weight} is not allowed; weights must be finite") as e:
        sim.Projection(a, b, conn, sim.StaticSynapse(weight=weight), receptor_type="excitatory")
    assert "receptor_type" not in str(e.value)
    prj = sim.Projection(a, b, sim.FromListConnector([(0, 1)]), sim.StaticSynapse(weight=0.5))
    with pytest.raises(ValueError, match="weights must be finite"):
        prj.set(weight=weight)


def test_spike_times_within_rounding_of_a_step_stay_on_it():
    """0.1 + 0.2 ms at dt 0.1 is step 3 (0.30000000000000004 / 0.1 = 3.0000000000000004): rounding error, not a
    time after the step; times really between steps move up to the next one (NEST's allow_offgrid_times)."""
    from engine.network.grid import step_times

    sim.setup(timestep=0.1)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[0.1 + 0.2, 0.6000000000000001, 1.1, 3.05, 4.04]))
    src.record("spikes")
    sim.run(10.0)
    np.testing.assert_array_equal(np.asarray(src.get_data().segments[0].spiketrains[0]),
                                  step_times(np.array([3, 6, 11, 31, 41]), 0.1))


def test_a_poisson_source_fires_from_start_for_its_duration_only():
    sim.setup(timestep=0.1, rng_seed=3)
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=200.0, start=20.0, duration=30.0))
    src.record("spikes")
    sim.run(200.0)
    t = np.concatenate([np.asarray(st) for st in src.get_data().segments[0].spiketrains])
    assert t.size > 60 and t.min() >= 20.0 and t.max() < 50.0  # about 20 x 200 Hz x 30 ms = 120 spikes


def test_the_modules_of_pond_pynn_import_one_way():
    """No cycle among pond.pynn's modules, lazy (function-level) imports included."""
    import ast

    package = Path(sim.__file__).parent
    modules = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in modules:
        edges = set()
        for node in ast.walk(ast.parse((package / f"{name}.py").read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "pond.pynn":
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pond.pynn."):
                edges.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                edges |= {a.name.split(".")[2] for a in node.names if a.name.startswith("pond.pynn.")}
        graph[name] = edges - {name}
    state: dict = {}

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            assert state.get(n) != "open", f"import cycle: {' -> '.join(path + [m, n])}"
            if n not in state:
                visit(n, path + [m])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert graph["simulator"] == set()  # the shared state is the bottom layer
