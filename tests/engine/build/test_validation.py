"""Bad input gets a clear error naming the parameter, the value and what is allowed, before heavy work starts."""
import numpy as np
import pytest

from engine import (CurrentSource, Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor,
                    SpikeSource, StateMonitor)
from engine.network.connectivity import FixedProbability, OneToOne
from engine.network.distributions import Uniform


@pytest.mark.parametrize("param, value, match", [
    ("tau_m", 0.0, r"tau_m = 0.0 ms .* must be > 0"),
    ("tau_m", -5.0, r"tau_m = -5.0 ms"),
    ("C_m", -1.0, r"C_m = -1.0 pF .* capacitance must be > 0"),
    ("tau_syn_ex", 0.0, r"tau_syn_ex = 0.0 ms"),
    ("tau_syn_in", -2.0, r"tau_syn_in = -2.0 ms"),
    ("t_ref", -1.0, r"t_ref = -1.0 ms .* must be >= 0"),
    ("V_reset", -50.0, r"V_reset = -50.0 mV >= V_th = -50.0 mV"),
    ("E_L", float("nan"), r"E_L = nan mV .* must be finite"),
    ("tau_m", float("inf"), r"tau_m = inf ms .* must be finite"),
    ("model", "hh", r"model = 'hh' is not allowed; choose one of"),
    ("size", 0, r"size = 0 is not allowed; it must be an integer >= 1"),
    ("size", 2.5, r"size = 2.5 is not allowed"),
    ("I_e", [1.0, 2.0], r"I_e has shape \(2,\); expected \(3,\)"),
    ("I_e", [1.0, np.nan, 2.0], r"I_e contains nan"),
    ("V_init", (-50.0, -60.0), r"low <= high"),
    ("V_init", np.zeros(4), r"V_init has shape \(4,\); expected \(3,\)"),
    ("positions", np.zeros((3, 2)), r"positions has shape \(3, 2\); expected \(3, 3\)"),
    ("tau_m", "ten", r"tau_m = 'ten' must be a number"),
])
def test_population_rules(param, value, match):
    kw = {"name": "p", "size": 3, param: value}
    with pytest.raises((ValueError, TypeError), match=match):
        Population(**kw)


def test_population_replace_is_all_or_nothing():
    p = Population("p", 3, V_th=-50.0, V_reset=-60.0)
    with pytest.raises(ValueError, match="V_reset"):
        p.replace(V_reset=-40.0)
    assert p.V_reset == -60.0
    assert p.replace(V_th=-45.0).V_th == -45.0


def test_bad_names_and_duplicates():
    with pytest.raises(ValueError, match="name = 'a b'"):
        Population("a b", 2)
    net = Network().add(Population("a", 2))
    with pytest.raises(ValueError, match="'a' is used twice"):
        net.add(PoissonSource("a", 2, rate=1.0))
    with pytest.raises(TypeError, match="cannot add"):
        net.add("a string")


@pytest.mark.parametrize("kw, match", [
    ({"dt": 0.0}, r"dt = 0.0 ms .* must be > 0"),
    ({"dt": -0.1}, r"dt = -0.1 ms"),
    ({"seed": -1}, r"seed = -1 is not allowed"),
    ({"seed": 1.5}, r"seed = 1.5 is not allowed"),
])
def test_network_rules(kw, match):
    with pytest.raises(ValueError, match=match):
        Network(**kw)


def test_dt_larger_than_time_constant():
    net = Network(dt=1.0).add(Population("p", 2, tau_syn_ex=0.5))
    with pytest.raises(ValueError, match=r"tau_syn_ex = 0.5 ms is shorter than dt = 1.0 ms"):
        Simulator(net)


def test_t_ref_off_grid():
    net = Network(dt=0.1).add(Population("p", 2, t_ref=0.25))
    with pytest.raises(ValueError, match=r"t_ref = 0.25 ms is not a multiple of dt = 0.1 ms"):
        Simulator(net)


def _pair(**proj):
    net = Network(dt=0.1).add(Population("a", 5), Population("b", 5))
    net.add(Projection("a", "b", proj.pop("rule", OneToOne()), **proj))
    return net


@pytest.mark.parametrize("proj, match", [
    ({"delay": 0.15}, r"delay = 0.15 ms is not a multiple of dt = 0.1 ms"),
    ({"delay": 0.0}, r"delay = 0.0 ms is not allowed; delays must be >= dt"),
    ({"delay": [0.1, 0.2, 0.3, 0.4, 0.45]}, r"delay = 0.45 ms is not a multiple of dt = 0.1 ms.*e.g. 0.4 or 0.5 ms"),
        ({"delay": 0.05}, r"delay = 0.05 ms is not allowed; delays must be >= dt = 0.1 ms"),
        ({"delay": 7000.0}, r"delay = 7000.0 ms is not allowed; delays must be at most 65535 steps"),
        ({"delay": 1e9}, r"delay = 1000000000.0 ms is not allowed; delays must be at most 65535 steps"),
        ({"delay": [0.1, 0.2, 0.3, 0.4, 1e5]}, r"delay = 100000.0 ms is not allowed"),
    ({"delay": Uniform(0.0, 0.04)}, r"delays must be >= dt"),
    ({"weight": [1.0, 2.0]}, r"weight"),
    ({"weight": [1.0, np.nan, 1.0, 1.0, 1.0]}, r"weight"),
    ({"rule": FixedProbability(0.5), "delay": float("nan")}, r"delay"),
])
def test_projection_values(proj, match):
    with pytest.raises(ValueError, match=match):
        Simulator(_pair(**proj))


def test_projection_unknown_endpoints():
    net = Network().add(Population("a", 2), Projection("a", "zz", OneToOne()))
    with pytest.raises(ValueError, match=r"target = 'zz' is not a population of this network; choose from \['a'\]"):
        Simulator(net)
    net = Network().add(Population("a", 2), Projection("q", "a", OneToOne()))
    with pytest.raises(ValueError, match=r"source = 'q' is not a population or source"):
        Simulator(net)


def test_projection_rule_type_and_flags():
    with pytest.raises(TypeError, match="is not a connectivity rule"):
        Projection("a", "b", 0.1)
    with pytest.raises(TypeError, match="allow_autapses = 'yes' must be True or False"):
        Projection("a", "b", OneToOne(), allow_autapses="yes")


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_probability_outside_unit_interval(p):
    with pytest.raises(ValueError, match="p"):
        net = _pair(rule=FixedProbability(p))
        Simulator(net)


@pytest.mark.parametrize("kw, match", [
    ({"rate": -1.0}, r"rates must be >= 0"),
    ({"rate": [1.0, 2.0]}, r"rate has shape \(2,\); expected \(3,\)"),
    ({"rate": np.nan}, r"rate contains nan"),
    ({"rate": [1.0, 2.0], "rate_times": [5.0, 10.0]}, r"starting at 0 ms"),
    ({"rate": [1.0], "rate_times": [0.0, 10.0]}, r"rate has shape \(1,\); expected \(2,\)"),
])
def test_poisson_source_rules(kw, match):
    with pytest.raises(ValueError, match=match):
        PoissonSource("s", 3, **kw)


def test_poisson_rate_too_high_for_dt():
    net = Network(dt=1.0).add(Population("a", 2, tau_syn_ex=2.0, tau_syn_in=2.0), PoissonSource("s", 2, rate=2e5))
    with pytest.raises(ValueError, match="spikes per step"):
        Simulator(net)


@pytest.mark.parametrize("kw, match", [
    ({"times": [1.0, 2.0], "indices": [0]}, r"times has 2 entries but indices has 1"),
    ({"times": [1.0], "indices": [5]}, r"indices contains 5; channel indices must lie in \[0, 3\)"),
    ({"times": [-1.0], "indices": [0]}, r"spike times must be >= 0"),
    ({"times": [np.nan], "indices": [0]}, r"times contains nan"),
    ({"times": [1.0], "indices": [0.5]}, r"must be integers"),
])
def test_spike_source_rules(kw, match):
    with pytest.raises(ValueError, match=match):
        SpikeSource("s", 3, **kw)


def test_current_source_rules():
    with pytest.raises(ValueError, match=r"strictly increasing"):
        CurrentSource("c", "a", amplitude=[1.0, 2.0], times=[5.0, 1.0])
    with pytest.raises(ValueError, match=r"amplitude has shape \(3,\); with 2 change times"):
        CurrentSource("c", "a", amplitude=[1.0, 2.0, 3.0], times=[0.0, 1.0])
    net = Network().add(Population("a", 2), CurrentSource("c", "a", amplitude=1.0, indices=[4]))
    with pytest.raises(ValueError, match=r"indices contains 4; neuron indices must lie in \[0, 2\)"):
        Simulator(net)
    net = Network().add(Population("a", 2), CurrentSource("c", "zz", amplitude=1.0))
    with pytest.raises(ValueError, match=r"target = 'zz' is not a population"):
        Simulator(net)


def test_monitor_rules():
    with pytest.raises(ValueError, match=r"variable 'U' is not allowed"):
        StateMonitor("a", ("U",))
    with pytest.raises(ValueError, match=r"every = 0 is not allowed"):
        StateMonitor("a", every=0)
    net = Network().add(Population("a", 2), StateMonitor("a", indices=[3]))
    with pytest.raises(ValueError, match=r"indices contains 3; neuron indices must lie in \[0, 2\)"):
        Simulator(net)
    net = Network().add(Population("a", 2), SpikeMonitor("nope"))
    with pytest.raises(ValueError, match=r"'nope' is not a population or source"):
        Simulator(net)


def test_simulator_arguments():
    net = Network().add(Population("a", 2))
    with pytest.raises(ValueError, match="trials = 0"):
        Simulator(net, trials=0)
    with pytest.raises(ValueError, match="distinct trial ids"):
        Simulator(net, trials=[1, 1])
    with pytest.raises(ValueError, match="n_jobs = 0"):
        Simulator(net, n_jobs=0)
    sim = Simulator(net)
    with pytest.raises(ValueError, match=r"duration_ms = 0.05 is not allowed; it must be a non-negative multiple"):
        sim.run(0.05)
    with pytest.raises(ValueError, match=r"duration_ms = -1"):
        sim.run(-1.0)
    with pytest.raises(ValueError, match="has no Population"):
        Simulator(Network())
    with pytest.raises(KeyError, match="no spikes recorded"):
        sim.spikes("a")


def test_set_spikes_rules():
    net = Network().add(Population("a", 2), SpikeSource("s", 2), PoissonSource("p", 2, rate=1.0))
    sim = Simulator(net, trials=2)
    with pytest.raises(ValueError, match="got spike trains for 1 trials; this simulator runs 2"):
        sim.set_spikes("s", [([1.0], [0])])
    with pytest.raises(ValueError, match="is a PoissonSource, not a SpikeSource"):
        sim.set_spikes("p", [([1.0], [0])] * 2)
    with pytest.raises(ValueError, match=r"indices contains 7"):
        sim.set_spikes("s", [([1.0], [7])] * 2)


def test_impossible_degree_is_refused_before_building():
    from engine.network.connectivity import FixedInDegree

    net = Network().add(Population("a", 5), Projection("a", "a", FixedInDegree(5), allow_autapses=False,
                                                       allow_multapses=False))
    with pytest.raises(ValueError, match="k = 5"):
        Simulator(net)


def test_constant_delay_and_weight_checked_before_generating_synapses(monkeypatch):
    """An off-grid delay or a NaN weight in the last projection fails before the first projection is generated."""
    import engine.build.builder

    def no_generation(*args, **kwargs):
        raise AssertionError("connectivity was generated before the parameters were checked")

    monkeypatch.setattr(engine.build.builder, "row_source", no_generation)
    for bad, match in (({"delay": 0.25}, "not a multiple of dt"), ({"weight": float("nan")}, "weight")):
        net = Network(dt=0.1).add(Population("a", 5), Projection("a", "a", OneToOne()),
                                  Projection("a", "a", OneToOne(), name="last", **bad))
        with pytest.raises(ValueError, match=match):
            Simulator(net)


def test_off_grid_times_are_refused_however_long():
    """Issue 25, major 10: the grid tolerance is a millionth of a step, not a millionth of the time, so times past
    5e5 steps half a step off the grid are refused instead of rounded (50000.05 ms once became 50000.0, and
    run(60000.07) left t = 60000.100000000006); times on the grid that far out still pass."""
    from engine.network.grid import grid_steps

    with pytest.raises(ValueError, match=r"times = 50000.05 ms is not a multiple of dt = 0.1 ms.*50000.0 or 50000.1"):
        grid_steps("SpikeSource 's'", "times", [50000.05], 0.1)
    assert grid_steps("SpikeSource 's'", "times", [50000.1, 0.3, 1e7 + 0.1], 0.1).tolist() == [500001, 3, 100000001]
    with pytest.raises(ValueError, match="must be finite"):
        grid_steps("SpikeSource 's'", "times", [float("nan")], 0.1)
    net = Network(dt=0.1).add(Population("a", 1), SpikeSource("s", 1, times=[50000.05], indices=[0]),
                              Projection("s", "a", OneToOne(), weight=1.0, delay=1.0))
    with pytest.raises(ValueError, match=r"SpikeSource 's': times = 50000.05 ms is not a multiple of dt"):
        Simulator(net)
    sim = Simulator(Network(dt=0.1).add(Population("a", 2)))
    with pytest.raises(ValueError, match=r"duration_ms = 60000.07 is not allowed; it must be a non-negative multiple"):
        sim.run(60000.07)
    assert sim.t == 0.0
