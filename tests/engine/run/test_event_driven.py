"""The exact event-driven mode (engine.run.event_driven): NEST's iaf_psc_delta_ps, closed-form solutions, convergence of
the clock-driven mode as dt shrinks, and the same-seed-same-result promise across chunks, batches and threads."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from conftest import reference_tool
from engine import (CurrentSource, Network, PoissonSource, Population, Projection, RateMonitor, Simulator,
                    SpikeMonitor, SpikeSource, StateMonitor)
from engine.network.connectivity import Explicit, FixedProbability, OneToOne
from engine.network.distributions import Uniform
from engine.run.event_driven import EventSimulator
from engine.io.spikefile import SpikeFileWriter, read_spikes
from engine.models.synapses import TsodyksMarkram

PAR = dict(model="iaf_psc_delta", tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0)


def recurrent(N=100, T=1000.0, seed=5, delay=1.0):
    """Neurons driven one to one by Poisson-like trains at off-grid times, every fifth one also by a current that
    holds V_inf above threshold, coupled at random with mixed-sign weights: spikes come from inputs, from
    simultaneous inputs and from current-driven threshold crossings."""
    rng = np.random.default_rng(seed)
    trains = [np.sort(rng.uniform(0.05, T, rng.poisson(T * 0.08))) for _ in range(N)]
    I_e = np.where(np.arange(N) % 5 == 0, 700.0, 0.0)
    net = Network(dt=0.1, seed=seed)
    net.add(Population("n", N, I_e=I_e, V_init=Uniform(-65.0, -51.0), **PAR),
            SpikeSource("in", N, times=np.concatenate(trains),
                        indices=np.concatenate([np.full(t.size, k) for k, t in enumerate(trains)])),
            Projection("in", "n", OneToOne(), weight=6.0, delay=1.0),
            Projection("n", "n", FixedProbability(0.1), weight=Uniform(-3.0, 2.5), delay=delay, name="rec"),
            SpikeMonitor("n"))
    return net, trains, I_e


NEST_SCRIPT = """
import json, sys
import numpy as np
import nest
d = json.load(open(sys.argv[1]))
nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.SetKernelStatus({"resolution": 0.1})
n = nest.Create("iaf_psc_delta_ps", len(d["V0"]), params=d["params"])
n.set(V_m=d["V0"], I_e=d["I_e"])
g = nest.Create("spike_generator", len(d["V0"]), params={"precise_times": True})
for k, t in enumerate(d["inputs"]):
    g[k].set(spike_times=t)
nest.Connect(g, n, "one_to_one", {"weight": 6.0, "delay": 1.0})
g0 = n[0].global_id
nest.Connect(np.asarray(d["pre"]) + g0, np.asarray(d["post"]) + g0, "one_to_one",
             {"weight": np.asarray(d["w"]), "delay": np.asarray(d["d"])})
sr = nest.Create("spike_recorder")
nest.Connect(n, sr)
nest.Simulate(d["T"])
ev = sr.get("events")
print(json.dumps([list(map(float, ev["times"])), list(map(int, ev["senders"] - g0))]))
"""


@pytest.mark.reference
@pytest.mark.subprocess
def test_spike_times_match_nest_iaf_psc_delta_ps_for_one_second(tmp_path):
    """NEST (child process: its OpenMP runtime and Numba's threads do not share a process) runs the same neurons,
    inputs and synapses with its precise-spike-time model: every spike agrees to 1e-6 ms over 1 s."""
    reference_tool("nest")
    T = 1000.0
    net, trains, I_e = recurrent(T=T, delay=Uniform(0.95, 2.05))  # drawn delays: NEST needs them on its grid
    sim = EventSimulator(net)
    csr = sim._csr
    rows = np.repeat(np.arange(sim.n_pre), np.diff(sim.indptr))
    rec = rows < sim.n_neurons
    order = np.lexsort((csr.tgt[rec], rows[rec]))  # an explicit list in the order Explicit keeps (by pre, then post)
    pre, post, w = rows[rec][order], csr.tgt[rec][order], csr.w[rec][order]
    on_grid = np.round(csr.d[rec][order] * 0.1, 1)  # drawn delays (in steps) are exact; NEST needs them on its grid
    pars = {k: v for k, v in PAR.items() if k != "model"}
    net_grid = Network(dt=0.1, seed=5)  # the same synapses as an explicit list with on-grid delays
    net_grid.add(net.get("n"), net.get("in"), net.projections[0],
                 Projection("n", "n", Explicit(pre, post), weight=w, delay=on_grid,
                            name="rec"), SpikeMonitor("n"))
    sim = EventSimulator(net_grid).run(T)
    times, ids = sim.spikes("n")
    data = dict(V0=sim.V0[0].tolist(), params=pars, I_e=I_e.tolist(), inputs=[t.tolist() for t in trains], T=T,
                pre=pre.tolist(), post=post.tolist(), w=w.tolist(), d=on_grid.tolist())
    path = tmp_path / "net.json"
    path.write_text(json.dumps(data))
    out = subprocess.run([sys.executable, "-c", NEST_SCRIPT, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    nest_t, nest_i = (np.asarray(a) for a in json.loads(out.stdout.strip().splitlines()[-1]))
    assert times.size > 2000 and nest_t.size == times.size
    a, b = np.lexsort((times, ids)), np.lexsort((nest_t, nest_i))
    np.testing.assert_array_equal(ids[a], nest_i[b])
    assert np.abs(times[a] - nest_t[b]).max() < 1e-6


def test_constant_current_fires_at_the_closed_form_times():
    """V_inf above threshold and no input: the first spike at tau ln((V_inf - V0)/(V_inf - V_th)), then one every
    t_ref + tau ln((V_inf - V_reset)/(V_inf - V_th)); V between spikes is the closed-form relaxation."""
    I_e, V0 = 800.0, -60.0
    net = Network(dt=0.1)
    net.add(Population("n", 1, I_e=I_e, V_init=V0, **dict(PAR, t_ref=2.3)), SpikeMonitor("n"),
            StateMonitor("n", every=7))
    sim = EventSimulator(net).run(300.0)
    v_inf, tau = -65.0 + I_e * 20.0 / 250.0, 20.0
    first = tau * math.log((v_inf - V0) / (v_inf - -50.0))
    period = 2.3 + tau * math.log((v_inf - -65.0) / (v_inf - -50.0))
    expected = first + period * np.arange(int((300.0 - first) / period) + 1)
    times, _ = sim.spikes("n")
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-9)
    ts, V = sim.state("n")
    assert ts[0] == pytest.approx(0.7) and ts.size == int(299.9 / 0.7)
    last = times[np.searchsorted(times, ts, side="right") - 1]  # the spike before each sample (or the start)
    since = np.where(ts < first, ts, ts - last - 2.3)
    start = np.where(ts < first, V0, -65.0)
    want = np.where(since < 0, -65.0, v_inf + (start - v_inf) * np.exp(-np.maximum(since, 0) / tau))
    np.testing.assert_allclose(V[0, :, 0], want, atol=1e-9)


def test_off_grid_inputs_delays_and_refractory_periods():
    """Times, delays and t_ref need no grid: a suprathreshold input spikes the neuron at input time + delay; an
    input inside the refractory period (which ends exactly t_ref later) is dropped."""
    net = Network(dt=0.1)
    net.add(Population("n", 1, V_init=-65.0, **dict(PAR, t_ref=1.234)),
            SpikeSource("in", 1, times=[1.0003, 2.2, 2.3, 10.0], indices=[0, 0, 0, 0]),
            Projection("in", "n", OneToOne(), weight=20.0, delay=0.777), SpikeMonitor("n"))
    times, _ = EventSimulator(net).run(20.0).spikes("n")
    # 2.2 + 0.777 = 2.977 is inside [1.7773, 3.0113): dropped; 2.3 + 0.777 = 3.077 is after it
    np.testing.assert_allclose(times, [1.0003 + 0.777, 2.3 + 0.777, 10.0 + 0.777], rtol=0, atol=1e-12)


def test_clock_mode_converges_to_the_event_mode_as_dt_shrinks():
    """Feed-forward neurons (inputs on the 0.1 ms grid, currents near threshold): the clock-driven mode's spike times
    approach the exact ones as dt shrinks (errors of order dt), with the same spike counts at small dt. (t_ref ends
    off the inputs' grid: an input arriving exactly as the refractory period ends is taken by the exact mode and
    dropped by the clock mode, NEST's iaf_psc_delta convention, at every dt.)"""
    rng = np.random.default_rng(3)
    N, T = 30, 300.0
    times = np.round(rng.uniform(0, T - 5, 600), 1)
    idx = rng.integers(0, N, times.size)
    I_e = rng.uniform(250.0, 800.0, N)

    def net(dt):
        n = Network(dt=dt, seed=1)
        n.add(Population("n", N, I_e=I_e, V_init=-65.0, **dict(PAR, t_ref=2.05)),
              SpikeSource("in", N, times=times, indices=idx),
              Projection("in", "n", OneToOne(), weight=Uniform(-4.0, 6.0), delay=1.0), SpikeMonitor("n"))
        return n

    exact_t, exact_i = EventSimulator(net(0.05)).run(T).spikes("n")
    assert exact_t.size > 300
    agree, errors = [], []
    for dt in (0.05, 0.0125, 0.003125):
        t, i = Simulator(net(dt)).run(T).spikes("n")
        good, err = 0, []
        for k in range(N):
            a, b = exact_t[exact_i == k], t[i == k]
            if a.size == b.size:
                good += 1
                err.append(np.abs(a - b))
        agree.append(good)
        errors.append(float(np.mean(np.concatenate(err))))
    # the clock mode stamps a spike at the start of its step and counts t_ref from there, so a current-driven train
    # drifts by up to dt per spike; a train can also differ in count where an input lands within a step of a
    # threshold crossing (the clock mode cannot order the two). Both shrink with dt.
    assert agree[-1] >= 0.9 * N and agree[-1] >= agree[0], agree
    assert errors[2] < errors[1] < errors[0] and errors[2] < errors[0] / 8, errors


def test_same_result_for_any_chunking_batch_and_thread_count(monkeypatch):
    """Trial 1 alone equals trial 1 of a batch of three, run in one piece or in odd chunks, on one or two threads,
    with a record buffer so small that the kernel stops to drain it many times, and a heap that must grow."""
    import engine.run.event_driven as ed

    rng_net = Network(dt=0.1, seed=11)
    rng_net.add(Population("n", 200, I_e=np.linspace(300.0, 700.0, 200), V_init=Uniform(-65.0, -50.0), **PAR),
                PoissonSource("drive", 200, rate=800.0), Projection("drive", "n", OneToOne(), weight=2.0, delay=0.5),
                Projection("n", "n", FixedProbability(0.1), weight=Uniform(-2.0, 1.5), delay=Uniform(0.5, 4.0)),
                SpikeMonitor("n"), RateMonitor("n"), StateMonitor("n", indices=[3, 7], every=5))
    batch = EventSimulator(rng_net, trials=3, n_jobs=2).run(400.0)
    ref_t, ref_i = batch.spikes("n", trial=1)
    assert ref_t.size > 1000 and np.all(np.diff(ref_t) >= 0)
    monkeypatch.setattr(ed, "_RECORD", 64)
    monkeypatch.setattr(ed, "_HEAP_SPARE", 2)
    alone = EventSimulator(rng_net, trials=[1], n_jobs=1, chunk_ms=7.3)
    for d in (13.7, 100.0, 0.0, 286.3):
        alone.run(d)
    assert alone._heap.t.shape[1] > 2 + 200 + 200  # grew from its initial size
    t, i = alone.spikes("n", trial=1)
    np.testing.assert_array_equal(t, ref_t)
    np.testing.assert_array_equal(i, ref_i)
    np.testing.assert_array_equal(alone.spike_counts("n")[0], batch.spike_counts("n")[1])
    np.testing.assert_array_equal(alone.state("n")[1][0], batch.state("n")[1][1])
    assert not np.array_equal(batch.spikes("n", trial=0)[0][:50], ref_t[:50])  # trials differ


def test_spike_file_holds_the_exact_times(tmp_path):
    net, _, _ = recurrent(N=40, T=200.0)
    sim = EventSimulator(net)
    path = tmp_path / "spikes.h5"
    with SpikeFileWriter(path, {"n": 40}, dt_ms=0.1, duration_ms=200.0, seed=5) as w:
        sim.run(200.0, sinks=[w])
    t, i = read_spikes(path, "n")
    mt, mi = sim.spikes("n")
    np.testing.assert_array_equal(t, mt)
    np.testing.assert_array_equal(i, mi)


def test_simulator_method_event_dispatches_and_refuses_what_it_cannot_run():
    net, _, _ = recurrent(N=10, T=50.0)
    sim = Simulator(net, method="event")
    assert isinstance(sim, EventSimulator) and sim.method == "event"
    with pytest.raises(ValueError, match="method = 'euler'"):
        Simulator(net, method="euler")

    def refused(*objs, match):
        n = Network(dt=0.1)
        n.add(*objs)
        with pytest.raises(ValueError, match=match):
            Simulator(n, method="event")

    pop = Population("n", 3, **PAR)
    refused(Population("e", 3), match="Population 'e' has model = 'iaf_psc_exp'")
    refused(pop, CurrentSource("c", "n", amplitude=[10.0, 0.0], times=[0.0, 5.0]), match="CurrentSource 'c'")
    refused(pop, Projection("n", "n", OneToOne(), synapse=TsodyksMarkram()), match="static synapses only")
    refused(pop, PoissonSource("p", 3, rate=[5.0, 0.0], rate_times=[0.0, 10.0]), match="constant rates")
    refused(pop, StateMonitor("n", variables=("V", "I_ex")), match="only state variable is 'V'")
    with pytest.raises(RuntimeError, match="before the first run"):
        EventSimulator(net).run(1.0).set_spikes("in", [([1.0], [0])])


def test_liquid_state_features_take_the_event_modes_spikes():
    """The LSM's feature sink runs on the event mode's spikes unchanged: its traces are those of the spike times
    rounded to its dt grid (the grid its sample times live on)."""
    from reservoirs.liquid_features import LiquidStateSink, filtered_spike_trains

    net, _, _ = recurrent(N=30, T=200.0)
    sim = EventSimulator(net, trials=2)
    sink = LiquidStateSink({"n": np.arange(30)}, 30, [0, 1], sample_times=[50.0, 120.0, 199.0], dt=0.1, tau=30.0,
                           bin_ms="samples")
    sim.run(200.0, sinks=[sink])
    for b in (0, 1):
        t, i = sim.spikes("n", trial=b)
        tr, cnt = filtered_spike_trains(np.round(t, 1), i, 30, [50.0, 120.0, 199.0], dt=0.1, tau=30.0,
                                        bin_ms="samples")
        np.testing.assert_allclose(sink.traces[b], tr, rtol=1e-12)
        np.testing.assert_array_equal(sink.counts[b], cnt)
        assert cnt.sum() > 50


MODEL_TOML = """
[network]
dt = 0.1
seed = 2
[[population]]
name = "n"
size = 50
model = "iaf_psc_delta"
E_L = 0.0
V_reset = 0.0
V_th = 20.0
V_init = {dist = "uniform", low = 0.0, high = 15.0}
[[poisson]]
name = "drive"
size = 50
rate = 3000.0
[[projection]]
source = "drive"
target = "n"
rule = {type = "one_to_one"}
weight = 1.0
delay = 1.0
[[projection]]
source = "n"
target = "n"
rule = {type = "fixed_probability", p = 0.1}
weight = -0.5
delay = 1.5
[[monitor]]
type = "spikes"
source = "n"
[run]
duration = 300.0
method = "event"
"""


def test_model_file_and_command_line_choose_the_event_mode(tmp_path):
    """``[run] method = "event"`` in a model file (or ``pond run --method event``) runs the exact mode: the spike file
    holds the EventSimulator's float times; ``--method clock`` overrides the file."""
    from engine.io.modelfile import load_model
    from pond.cli import main

    path = tmp_path / "m.toml"
    path.write_text(MODEL_TOML)
    net, cfg = load_model(path)
    assert cfg.method == "event"
    want_t, want_i = Simulator(net, method="event").run(300.0).spikes("n")
    assert main(["run", str(path), "-o", str(tmp_path / "e.h5"), "--quiet"]) == 0
    t, i = read_spikes(tmp_path / "e.h5", "n")
    np.testing.assert_array_equal(t, want_t)
    np.testing.assert_array_equal(i, want_i)
    assert main(["run", str(path), "-o", str(tmp_path / "c.h5"), "--quiet", "--method", "clock"]) == 0
    t, _ = read_spikes(tmp_path / "c.h5", "n")
    np.testing.assert_array_equal(t, np.round(t, 1))  # clock-driven: every time on the grid
    assert not np.array_equal(np.round(want_t, 1), want_t)


SIMULTANEOUS_NEST = """
import json, sys
import nest
nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.SetKernelStatus({"resolution": 0.1})
out = []
for w1, w2 in json.loads(sys.argv[1]):
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1})
    n = nest.Create("iaf_psc_delta_ps", params={"E_L": 0.0, "V_reset": 0.0, "V_th": 15.0, "V_m": 0.0})
    g1 = nest.Create("spike_generator", params={"spike_times": [0.7], "precise_times": True})
    g2 = nest.Create("spike_generator", params={"spike_times": [0.5], "precise_times": True})
    nest.Connect(g1, n, syn_spec={"weight": w1, "delay": 0.1})
    nest.Connect(g2, n, syn_spec={"weight": w2, "delay": 0.3})
    sr = nest.Create("spike_recorder")
    nest.Connect(n, sr)
    nest.Simulate(5.0)
    out.append(list(map(float, sr.get("events")["times"])))
print(json.dumps(out))
"""


def _two_generators(method: str, w1: float, w2: float):
    """One iaf_psc_delta neuron; g1 spikes at 0.7 ms through a 0.1 ms delay, g2 at 0.5 ms through 0.3 ms: both
    arrive at step 8, where 0.7 + 0.1 is 0.7999999999999999 and 0.5 + 0.3 is 0.8 in floats."""
    net = Network(dt=0.1)
    net.add(Population("n", 1, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=15.0, V_init=0.0),
            SpikeSource("g1", 1, times=[0.7], indices=[0]), SpikeSource("g2", 1, times=[0.5], indices=[0]),
            Projection("g1", "n", OneToOne(), weight=w1, delay=0.1),
            Projection("g2", "n", OneToOne(), weight=w2, delay=0.3), SpikeMonitor("n"), StateMonitor("n"))
    return Simulator(net, method=method).run(5.0)


@pytest.mark.parametrize("w1, w2", [(20.0, -10.0), (-10.0, 20.0)])
def test_inputs_at_one_grid_time_are_summed_whatever_float_addition_gives(w1, w2):
    """Critical 3 of issue 25: the two inputs arrive together and sum to +10 mV (below V_th = 15), in either
    order: no spike in the event mode, as in the clock mode (and NEST, see the reference test below); V jumps once
    to 10 mV at 0.8 ms."""
    event, clock = _two_generators("event", w1, w2), _two_generators("clock", w1, w2)
    assert event.spikes("n")[0].size == 0 and clock.spikes("n")[0].size == 0
    ts, V = event.state("n")
    k = int(np.flatnonzero(ts == 0.9)[0])  # the first sample after the arrival (a sample at 0.8 comes before it)
    assert V[0, k - 1, 0] == 0.0
    assert V[0, k, 0] == pytest.approx(10.0 * math.exp(-0.1 / 10.0), abs=1e-12)


@pytest.mark.reference
@pytest.mark.subprocess
def test_inputs_at_one_grid_time_as_nest_iaf_psc_delta_ps():
    """NEST's iaf_psc_delta_ps (grid step plus offset) takes the two inputs as simultaneous: no spike in either
    order, like pond's event mode."""
    reference_tool("nest")
    orders = [[20.0, -10.0], [-10.0, 20.0]]
    out = subprocess.run([sys.executable, "-c", SIMULTANEOUS_NEST, json.dumps(orders)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    nest_spikes = json.loads(out.stdout.strip().splitlines()[-1])
    assert nest_spikes == [[], []]
    assert [_two_generators("event", *w).spikes("n")[0].tolist() for w in orders] == nest_spikes


def _one_neuron(times, weights, delay=0.1, t_ref=2.0, monitors=()):
    """One iaf_psc_delta neuron at rest (E_L = V_reset = 0, V_th = 15) fed by one generator per input."""
    net = Network(dt=0.1)
    net.add(Population("n", 1, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=15.0, V_init=0.0, t_ref=t_ref),
            SpikeMonitor("n"), *monitors)
    for k, (t, w) in enumerate(zip(times, weights)):
        net.add(SpikeSource(f"g{k}", 1, times=[t], indices=[0]),
                Projection(f"g{k}", "n", OneToOne(), weight=w, delay=delay))
    return EventSimulator(net).run(10.0)


def test_an_input_at_the_end_of_the_refractory_period_counts():
    """The neuron spikes at 1.0 ms (input at 0.9 + 0.1) and is refractory for 2 ms; an input arriving exactly at
    3.0 ms (2.9 + 0.1: the grid makes both ends exact) is not dropped and fires it again; one arriving at 2.9 ms
    is dropped."""
    times, _ = _one_neuron([0.9, 2.9], [20.0, 20.0]).spikes("n")
    np.testing.assert_array_equal(times, [1.0, 3.0])
    times, _ = _one_neuron([0.9, 2.8], [20.0, 20.0]).spikes("n")
    np.testing.assert_array_equal(times, [1.0])


def test_a_summed_jump_onto_the_threshold_is_a_spike():
    """Two inputs at one time sum to exactly V_th = 15 mV (10 + 5): ``V >= V_th`` after the jump is a spike."""
    times, _ = _one_neuron([0.5, 0.5], [10.0, 5.0]).spikes("n")
    np.testing.assert_array_equal(times, [0.6])
    times, _ = _one_neuron([0.5, 0.5], [10.0, 4.999]).spikes("n")
    assert times.size == 0


def test_poisson_intervals_draw_a_new_number_each():
    """Each channel's intervals are -ln(u_k) / r with a new counter-based u_k per spike: no interval repeats, and
    their mean is 1 / r (10,000 intervals: within 4 standard errors)."""
    net = Network(dt=0.1, seed=4)
    net.add(Population("n", 1, model="iaf_psc_delta"), PoissonSource("p", 20, rate=200.0), SpikeMonitor("p"))
    times, ids = EventSimulator(net).run(2500.0).spikes("p")
    gaps = []
    for ch in range(20):
        t = np.sort(times[ids == ch])
        gaps.append(np.diff(np.concatenate([[0.0], t])))
        assert np.unique(gaps[-1]).size == gaps[-1].size, ch
    gaps = np.concatenate(gaps)
    assert gaps.size > 9000
    assert abs(gaps.mean() - 5.0) < 4 * 5.0 / math.sqrt(gaps.size)
