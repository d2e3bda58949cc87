"""One driver for both simulation methods: one Simulator family with one interface, no import cycle, and what the
driver promises in the event-driven mode as in the clock-driven one (memory refused before allocation, the last
state sample, spikes counted in their step, refusals by name), and one trial of a batch written by its trial id."""
import ast

import numpy as np
import pytest

from conftest import REPO, allocates_at_most
from engine import (Network, Population, PoissonSource, Projection, RateMonitor, Simulator, SpikeMonitor,
                    SpikeSource, StateMonitor)
from engine.io.spikefile import SpikeFileReader, SpikeFileWriter, read_spikes
from engine.network.connectivity import OneToOne
from engine.network.grid import step_times
from engine.run.clock import ClockSimulator
from engine.run.event_driven import EventSimulator

DELTA = dict(model="iaf_psc_delta", tau_m=20.0, C_m=250.0, E_L=0.0, V_th=15.0, V_reset=0.0, t_ref=2.0, V_init=0.0)


def _net(n=5):
    net = Network(dt=0.1, seed=2)
    net.add(Population("n", n, **DELTA), PoissonSource("drive", n, rate=3000.0),
            Projection("drive", "n", OneToOne(), weight=2.0, delay=1.0), SpikeMonitor("n"), RateMonitor("n"),
            StateMonitor("n", indices=[0]))
    return net


def test_both_methods_are_simulators_with_one_interface():
    clock, event = Simulator(_net()), Simulator(_net(), method="event")
    assert isinstance(clock, Simulator) and isinstance(clock, ClockSimulator) and clock.method == "clock"
    assert isinstance(event, Simulator) and isinstance(event, EventSimulator) and event.method == "event"
    assert isinstance(EventSimulator(_net()), Simulator)
    for sim in (clock, event):
        assert isinstance(sim.compile(), float)
        sim.run(20.0)
        times, ids = sim.spikes("n")
        steps, ids2 = sim.spike_steps("n")
        assert times.dtype == np.float64 and steps.dtype == np.int64 and np.array_equal(ids, ids2)
        assert sim.spike_counts("n").shape == sim.rate("n").shape == (1, 200)
        assert sim.state("n")[1].shape == (1, 200, 1) and sim.t == 20.0 and sim.last_run.duration_ms == 20.0
        assert set(sim.memory_report()) >= {"synapses", "connectivity_bytes", "state_bytes"}
    with pytest.raises(ValueError, match="method = 'euler' is not allowed; choose 'clock' or 'event'"):
        Simulator(_net(), method="euler")
    with pytest.raises(ValueError, match="EventSimulator: method = 'clock' is not allowed"):
        EventSimulator(_net(), method="clock")


def test_the_event_mode_refuses_what_it_cannot_run_by_name():
    sim = Simulator(_net(), method="event")
    with pytest.raises(ValueError, match=r"set_currents\('c'\): the exact event-driven mode \(method='event'\) runs "
                                         r"no CurrentSource"):
        sim.set_currents("c", [[1.0]])
    for kw in ("comm", "built"):
        with pytest.raises(ValueError, match=f"EventSimulator: {kw} = .* is not supported; the exact event-driven "
                                             f"mode runs in one process"):
            Simulator(_net(), method="event", **{kw: object()})


def test_the_run_package_has_no_import_cycle():
    """The shared driver (base, recorder, inputs) imports neither method; the methods import the driver, never each
    other or the module that gathers them (engine.run.simulator)."""
    run = REPO / "engine" / "run"
    graph = {}
    for path in run.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("engine.run"):
                deps |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("engine.run")}
        graph[f"engine.run.{path.stem}"] = {d for d in deps if d.removeprefix("engine.run.") in
                                            {p.stem for p in run.glob("*.py")}}
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            mod = todo.pop()
            assert mod != start, f"import cycle through {start}"
            if mod not in seen:
                seen.add(mod)
                todo += graph.get(mod, ())
    assert not graph["engine.run.base"] & {"engine.run.clock", "engine.run.event_driven", "engine.run.simulator"}


def test_event_state_monitors_keep_the_last_sample_stamped_on_the_grid():
    """1000 ms sampled every step: 10,000 samples, the last at 1000.0 ms (not 9,999 ending at 999.9000000000001);
    the sample at a run's end is the one a longer run takes there, however the runs are cut."""
    net = Network(dt=0.1, seed=1)
    net.add(Population("n", 1, **dict(DELTA, I_e=400.0)), SpikeSource("in", 1, times=[3.0, 500.0], indices=[0, 0]),
            Projection("in", "n", OneToOne(), weight=4.0, delay=0.5), StateMonitor("n"))
    whole = Simulator(net, method="event").run(1000.0)
    t, V = whole.state("n")
    assert t.size == V.shape[1] == 10_000 and t[-1] == 1000.0
    np.testing.assert_array_equal(t, step_times(np.arange(1, 10_001), 0.1))
    cut = Simulator(net, method="event", chunk_ms=7.3)
    for d in (499.5, 0.5, 0.0, 0.25, 0.25, 499.5):  # a run ends where an input arrives (500.5 ms) and off the grid
        cut.run(d)
    np.testing.assert_array_equal(cut.state("n")[1], V)
    longer = Simulator(net, method="event").run(1200.0)
    np.testing.assert_array_equal(longer.state("n")[1][:, :10_000], V)


def test_an_on_grid_spike_counts_in_its_step_as_in_the_clock_mode():
    """A generator spike at 0.7 ms through a 0.1 ms delay fires the neuron at 0.8 ms (0.7 + 0.1 is 0.7999999999999999
    in floats): step 8 in both modes."""
    net = Network(dt=0.1)
    net.add(Population("n", 1, **DELTA), SpikeSource("g", 1, times=[0.7], indices=[0]),
            Projection("g", "n", OneToOne(), weight=20.0, delay=0.1), SpikeMonitor("n"), RateMonitor("n"))
    clock, event = Simulator(net).run(2.0), Simulator(net, method="event").run(2.0)
    assert event.spikes("n")[0].tolist() == [0.8] and event.spike_steps("n")[0].tolist() == [8]
    np.testing.assert_array_equal(event.spike_counts("n"), clock.spike_counts("n"))
    assert clock.spike_counts("n")[0, 8] == 1


def test_the_event_mode_refuses_a_network_beyond_memory_before_allocation(monkeypatch):
    """POND_MEMORY_LIMIT=200M: 2e6 neurons x 4 trials (about 0.6 GiB of neuron state) is refused with the figures,
    as the clock mode refuses it, before anything is allocated."""
    monkeypatch.setenv("POND_MEMORY_LIMIT", "200M")
    net = Network(dt=0.1).add(Population("n", 2_000_000, **DELTA))
    with allocates_at_most(), pytest.raises(MemoryError, match=r"EventSimulator: 4 trial\(s\) of 2000000 neurons "
                                                                r".*GiB.*available"):
        Simulator(net, method="event", trials=4)
    with pytest.raises(MemoryError, match="2000000 neurons"):
        Simulator(net, trials=4)


def test_the_event_mode_refuses_a_state_record_beyond_memory_before_the_run():
    """A StateMonitor on 100,000 neurons over 1e6 ms (about 7e3 GiB): the engine's refusal naming the record, not
    numpy's 'Unable to allocate', and the simulator stays at t = 0."""
    net = Network(dt=0.1).add(Population("n", 100_000, **DELTA), StateMonitor("n"))
    sim = Simulator(net, method="event")
    with allocates_at_most(), pytest.raises(MemoryError, match=r"StateMonitor column.*GiB.*every="):
        sim.run(1e6)
    assert sim.t == 0.0


@pytest.mark.parametrize("method", ["clock", "event"])
def test_one_trial_of_a_batch_writes_a_one_trial_file_by_its_trial_id(tmp_path, method):
    """Simulator(net, trials=[3]) with a one-trial SpikeFileWriter: refused before anything runs unless the writer
    maps trial id 3 to its one trial (trial_ids=[3]); then the file's trial 0 holds trial 3's spikes."""
    sim = Simulator(_net(), trials=[3], method=method)
    kw = dict(dt_ms=0.1, duration_ms=50.0, seed=2)
    with pytest.raises(ValueError, match=r"runs trial ids \[3\]; trial = 3 is out of range; this file has trials "
                                         r"0..0; create the writer with trial_ids=\[3\]"):
        with SpikeFileWriter(tmp_path / "a.h5", {"n": 5}, **kw) as w:
            sim.run(50.0, sinks=[w])
    assert sim.t == 0.0 and sim.compile_s is None  # nothing ran
    with SpikeFileWriter(tmp_path / "b.h5", {"n": 5}, trial_ids=[3], **kw) as w:
        sim.run(50.0, sinks=[w])
    times, ids = read_spikes(tmp_path / "b.h5", "n", trial=0)
    want_t, want_i = sim.spikes("n", trial=3)
    assert times.size > 10
    np.testing.assert_array_equal(times, want_t)
    np.testing.assert_array_equal(ids, want_i)
    with SpikeFileReader(tmp_path / "b.h5") as r:
        assert r.n_trials == 1 and r.trial_ids == [3]
    with pytest.raises(ValueError, match=r"trial = 0 is not in this file; it holds trial ids \[4, 7\]"):
        with SpikeFileWriter(tmp_path / "c.h5", {"n": 5}, trial_ids=[4, 7], **kw) as w:
            w.write("n", 0, np.array([1.0]), np.array([0]))
    with pytest.raises(ValueError, match=r"trial_ids = \[1, 1\] is not allowed; give distinct trial ids >= 0"):
        SpikeFileWriter(tmp_path / "d.h5", {"n": 5}, trial_ids=[1, 1], **kw)
