"""One driver for both simulation methods: one Simulator family with one interface, and no import cycle."""
import ast

import numpy as np
import pytest

from conftest import REPO
from engine import Network, Population, PoissonSource, Projection, RateMonitor, Simulator, SpikeMonitor, StateMonitor
from engine.network.connectivity import OneToOne
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
        assert sim.state("n")[1].shape[::2] == (1, 1) and sim.t == 20.0 and sim.last_run.duration_ms == 20.0
        assert set(sim.memory_report()) >= {"synapses", "connectivity_bytes", "state_bytes"}
    with pytest.raises(ValueError, match="method = 'euler' is not allowed; choose 'clock' or 'event'"):
        Simulator(_net(), method="euler")
    with pytest.raises(ValueError, match="EventSimulator: method = 'clock' is not allowed"):
        EventSimulator(_net(), method="clock")


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
