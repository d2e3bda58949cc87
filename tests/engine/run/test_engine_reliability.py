"""Engine regressions from the reliability review: interrupts, memory refusal, the time grid, exact thresholds,
distinct synaptic time constants, per-trial inputs between runs on several threads, and the kernel cache."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from engine import (CurrentSource, Interrupted, Network, PoissonSource, Population, Projection, Simulator,
                    SpikeMonitor, SpikeSource, StateMonitor)
from engine.network.connectivity import FixedProbability, OneToOne
from engine.network.grid import step_times
from conftest import REPO, no_heavy_work

ROOT = REPO


def _child(code: str, env: dict | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, **kw)


# ------------------------------------------------------------------ interrupts
BUILD_SCRIPT = """
    import sys
    from engine import Interrupted, Network, Population, Projection, Simulator
    from engine.network.connectivity import FixedProbability
    net = Network(dt=0.1, seed=1)
    net.add(Population("a", 3000))
    for k in range(100):  # about 5 s of connectivity generation
        net.add(Projection("a", "a", FixedProbability(0.1), weight=1.0, delay=1.0, name=f"p{k}"))
    Simulator(Network(dt=0.1).add(Population("warm", 10), Projection("warm", "warm", FixedProbability(0.5),
                                                                       weight=1.0, delay=1.0)))
    print("building", flush=True)
    try:
        Simulator(net)
    except Interrupted as exc:
        print("interrupted", exc.signum, flush=True)
        sys.exit(3)
    print("built", flush=True)
"""


@pytest.mark.subprocess
@pytest.mark.slow
@pytest.mark.parametrize("sig, wait", [(signal.SIGINT, 0.05), (signal.SIGINT, 0.4), (signal.SIGINT, 1.0),
                                       (signal.SIGTERM, 0.2), (signal.SIGTERM, 0.7)])
def test_signal_during_build_stops_cleanly(sig, wait):
    """Ctrl-C or SIGTERM while connectivity is generated: Interrupted between two compiled calls, never a crash
    (it segfaulted 7 times in 9 before, or gave 'returned a result with an exception set')."""
    proc = _child(BUILD_SCRIPT)
    assert proc.stdout.readline().strip() == "building", proc.stderr.read()
    time.sleep(wait)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, (proc.returncode, out, err[-2000:])
    assert out.strip() == f"interrupted {int(sig)}"
    assert "SystemError" not in err and "Exception ignored" not in err


def test_sigterm_during_run_stops_at_a_chunk_boundary_and_restores_handlers():
    net = Network(dt=0.1, seed=2).add(Population("n", 20, I_e=400.0), SpikeMonitor("n"))
    sim = Simulator(net, chunk_ms=10.0)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)

    class Killer:
        def write(self, *args):
            pass

        def advance(self, t_ms):
            if t_ms >= 50.0:
                signal.raise_signal(signal.SIGTERM)

    with pytest.raises(Interrupted) as info:
        sim.run(1000.0, sinks=[Killer()])
    assert info.value.signum == signal.SIGTERM and isinstance(info.value, KeyboardInterrupt)
    assert sim.t == pytest.approx(50.0)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    whole = Simulator(net).run(50.0)
    np.testing.assert_array_equal(sim.spike_steps("n")[0], whole.spike_steps("n")[0])


# ------------------------------------------------------------------ memory before allocation
def _refused_before_heavy_work(monkeypatch, fn, match):
    with no_heavy_work(monkeypatch), pytest.raises(MemoryError, match=match):
        fn()


def test_a_billion_neurons_are_refused_before_allocation(monkeypatch):
    net = Network().add(Population("huge", 10**9))
    _refused_before_heavy_work(monkeypatch, lambda: Simulator(net),
                               r"Network: building 1000000000 neurons.*GiB.*available")


def test_twenty_billion_synapses_are_refused_before_generation(monkeypatch):
    """80 GB of targets alone: more than a machine like this one holds (the streaming build needs little more)."""
    net = Network().add(Population("a", 200_000), Projection("a", "a", FixedProbability(0.5), weight=1.0, delay=1.0))
    _refused_before_heavy_work(monkeypatch, lambda: Simulator(net), r"about 2e\+10 synapses needs about .* GiB")


def test_a_state_record_that_cannot_fit_is_refused_before_the_run(monkeypatch):
    net = Network().add(Population("n", 100_000), StateMonitor("n", ["V", "I_ex"]))
    sim = Simulator(net)

    def compile(plan=None):
        raise AssertionError("heavy work started: the kernel is being compiled or run")

    monkeypatch.setattr(sim, "compile", compile)
    _refused_before_heavy_work(monkeypatch, lambda: sim.run(1e6), r"StateMonitor column.*GiB.*every=")
    assert sim.t == 0.0


def test_a_state_monitor_stores_only_the_variables_asked():
    net = Network().add(Population("n", 50, I_e=300.0), StateMonitor("n", ["V"]))
    sim = Simulator(net).run(100.0)
    t, V = sim.state("n", "V")
    assert V.shape == (1, 1000, 50) and sum(p.nbytes for p in sim._recorder.state_parts) == V.nbytes
    assert np.shares_memory(V, sim.state("n", "V")[1])  # a view: asking again copies nothing
    with pytest.raises(KeyError, match="no StateMonitor records 'I_ex'"):
        sim.state("n", "I_ex")


@pytest.mark.parametrize("kw, match", [
    ({"delay": 100000.0}, r"delay = 100000.0 ms is not allowed; delays must be at most 65535 steps"),
    ({"delay": 1e9}, r"delays must be at most 65535 steps"),
    ({"delay": 1.5, "dt": 1e-9}, r"delays must be at most 65535 steps of dt = 1e-09 ms"),
])
def test_long_delays_are_refused_with_the_limit(kw, match):
    dt = kw.pop("dt", 0.1)
    net = Network(dt=dt).add(Population("n", 100, tau_m=20.0, t_ref=0.0),
                             Projection("n", "n", FixedProbability(0.1), weight=1.0, **kw))
    with pytest.raises(ValueError, match=match):
        Simulator(net)


def test_queues_start_small_and_long_delays_cost_no_upfront_memory():
    """A 6-second delay (65,000 slots) on 100 neurons: the queue is sized by what is in flight, not 1024 entries
    per slot (7.6 GiB before)."""
    net = Network(dt=0.1, seed=1).add(Population("n", 100, I_e=400.0, t_ref=2.0),
                                      Projection("n", "n", FixedProbability(0.1), weight=1.0, delay=6000.0),
                                      SpikeMonitor("n"))
    sim = Simulator(net).run(6100.0)
    assert sim.memory_report()["state_bytes"] < 200e6
    assert sim._queues.sq_pre.nbytes < 100e6


# ------------------------------------------------------------------ the time grid
def test_spike_times_are_the_nearest_float_to_the_decimal_value():
    assert 9998 * 0.1 != 999.8  # the naive product is 999.8000000000001
    net = Network(dt=0.1).add(Population("n", 1, model="iaf_psc_delta", V_th=-69.0, E_L=-70.0, V_reset=-70.0,
                                         V_init=-70.0, t_ref=0.1),
                              SpikeSource("s", 1, times=[999.7], indices=[0]),
                              Projection("s", "n", OneToOne(), weight=5.0, delay=0.1), SpikeMonitor("n"))
    t, _ = Simulator(net).run(1000.0).spikes("n")
    assert t.tolist() == [999.8]
    np.testing.assert_array_equal(step_times(np.arange(20000), 0.1), [float(f"{k / 10}") for k in range(20000)])


def test_off_grid_spike_times_are_refused_like_off_grid_delays():
    net = Network(dt=0.1).add(Population("n", 1), SpikeSource("s", 1, times=[1.0, 1.05], indices=[0, 0]),
                              Projection("s", "n", OneToOne(), weight=1.0, delay=1.0))
    with pytest.raises(ValueError, match=r"SpikeSource 's': times = 1.05 ms is not a multiple of dt = 0.1 ms.*"
                                         r"e.g. 1.0 or 1.1 ms"):
        Simulator(net)
    net = Network(dt=0.1).add(Population("n", 1), SpikeSource("s", 1),
                              Projection("s", "n", OneToOne(), weight=1.0, delay=1.0))
    sim = Simulator(net, trials=2)
    with pytest.raises(ValueError, match=r"set_spikes\('s'\) trial 1: times = 1.04 ms is not a multiple"):
        sim.set_spikes("s", [([1.0], [0]), ([1.04], [0])])


@pytest.mark.parametrize("value, error", [("100", TypeError), (None, TypeError), (True, TypeError),
                                          (-1.0, ValueError), (float("nan"), ValueError), (0.05, ValueError)])
def test_run_duration_errors_name_the_argument(value, error):
    sim = Simulator(Network().add(Population("n", 1)))
    with pytest.raises(error, match=r"run: duration_ms = .* (must be|is not allowed)"):
        sim.run(value)


# ------------------------------------------------------------------ exact dynamics that mutations slipped past
def test_v_equal_to_threshold_fires():
    """NEST and Brian2 fire at V >= V_th: a delta jump that lands exactly on V_th (1.0 from 0.0, exact in
    float) spikes; one a float step below does not."""
    spikes = []
    for w in (1.0, float(np.float32(np.nextafter(np.float32(1.0), np.float32(0.0))))):
        net = Network(dt=0.1).add(Population("n", 1, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=1.0,
                                             V_init=0.0, tau_m=1e9),
                                  SpikeSource("s", 1, times=[1.0], indices=[0]),
                                  Projection("s", "n", OneToOne(), weight=w, delay=1.0), SpikeMonitor("n"))
        spikes.append(Simulator(net).run(5.0).spike_steps("n")[0].tolist())
    assert spikes == [[20], []]


def test_excitatory_and_inhibitory_currents_decay_with_their_own_time_constants():
    """tau_syn_ex = 2 ms, tau_syn_in = 8 ms: I_ex(s) = w_e e^{-s/2}, I_in(s) = w_i e^{-s/8}, and V is the sum of
    the two closed-form PSPs (each with its own tau)."""
    tau_m, C, te, ti, we, wi = 10.0, 250.0, 2.0, 8.0, 300.0, -200.0
    net = Network(dt=0.1).add(
        Population("n", 1, tau_m=tau_m, C_m=C, E_L=0.0, V_reset=0.0, V_th=1e6, V_init=0.0, tau_syn_ex=te,
                   tau_syn_in=ti),
        SpikeSource("e", 1, times=[1.0], indices=[0]), SpikeSource("i", 1, times=[1.0], indices=[0]),
        Projection("e", "n", OneToOne(), weight=we, delay=1.0), Projection("i", "n", OneToOne(), weight=wi, delay=1.0),
        StateMonitor("n", ["V", "I_ex", "I_in"]))
    sim = Simulator(net).run(60.0)
    t, V = sim.state("n", "V")
    s = t - 2.1  # input queued at the end of step 20 -> the value at 2.1 ms
    on = s >= -1e-9
    np.testing.assert_allclose(sim.state("n", "I_ex")[1][0, on, 0], we * np.exp(-s[on] / te), rtol=1e-9)
    np.testing.assert_allclose(sim.state("n", "I_in")[1][0, on, 0], wi * np.exp(-s[on] / ti), rtol=1e-9)

    def psp(w, ts):
        return w / C * tau_m * ts / (tau_m - ts) * (np.exp(-s[on] / tau_m) - np.exp(-s[on] / ts))
    np.testing.assert_allclose(V[0, on, 0], psp(we, te) + psp(wi, ti), rtol=1e-8, atol=1e-12)


# ------------------------------------------------------------------ per-trial inputs
def _input_net():
    net = Network(dt=0.1, seed=4)
    net.add(Population("n", 40, V_init=(-70.0, -55.0), t_ref=2.0),
            PoissonSource("p", 10, rate=100.0), SpikeSource("g", 2),
            CurrentSource("c", "n", amplitude=100.0),
            Projection("p", "n", FixedProbability(0.3), weight=300.0, delay=0.5),
            Projection("g", "n", FixedProbability(0.5), weight=500.0, delay=1.0),
            Projection("n", "n", FixedProbability(0.1), weight=-50.0, delay=1.5),
            SpikeMonitor("n"), StateMonitor("n", ["V"], indices=[0, 5]))
    return net


def _apply_inputs(sim, trials, phase):
    sim.set_rates("p", [50.0 * (1 + k + phase) for k in trials])
    sim.set_currents("c", [100.0 + 60.0 * k - 30.0 * phase for k in trials])
    sim.set_spikes("g", [(np.array([2.0, 3.5]) + 10.0 * k + 50.0 * phase, [k % 2, 1]) for k in trials])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_every_per_trial_input_in_batches_between_runs_equals_single_trials(n_jobs):
    trials = [0, 1, 2]
    batch = Simulator(_input_net(), trials=3, n_jobs=n_jobs)
    for phase in (0, 1):
        _apply_inputs(batch, trials, phase)
        batch.run(50.0)
    for k in trials:
        alone = Simulator(_input_net(), trials=[k])
        for phase in (0, 1):
            _apply_inputs(alone, [k], phase)
            alone.run(50.0)
        np.testing.assert_array_equal(alone.spike_steps("n")[0], batch.spike_steps("n", k)[0])
        np.testing.assert_array_equal(alone.spike_steps("n")[1], batch.spike_steps("n", k)[1])
        np.testing.assert_array_equal(alone.state("n", "V")[1][0], batch.state("n", "V")[1][k])
    assert len({batch.spike_steps("n", k)[0].size for k in trials}) > 1, "inputs must differ between trials"


# ------------------------------------------------------------------ the kernel cache
CACHE_SCRIPT = """
    import json
    from engine import Network, Population, PoissonSource, Projection, Simulator
    from engine.network.connectivity import FixedProbability
    from engine.kernels import network

    def scheduled(kernel):  # per compiled (or loaded) overload: does its code call numba's parallel scheduler?
        return [("do_scheduling" in str(res.library._shared_module)) for res in kernel.overloads.values()]

    net = Network(dt=0.1, seed=1).add(Population("n", 400, V_init=(-70.0, -50.0)), PoissonSource("p", 200, rate=50.0),
                                      Projection("p", "n", FixedProbability(0.2), weight=60.0, delay=1.0),
                                      Projection("n", "n", FixedProbability(0.02), weight=5.0, delay=1.5))
    alone = Simulator(net, n_jobs=1).run(1.0)  # a one-trial run first: the serial kernel compiles (or loads) first
    batch = Simulator(net, trials=2, n_jobs=2).run(1.0)
    print(json.dumps({"plans": [alone.last_plan, batch.last_plan], "serial": scheduled(network.run_trials_serial),
                      "parallel": scheduled(network.run_trials_parallel),
                      "serial_hits": sum(network.run_trials_serial.stats.cache_hits.values()),
                      "parallel_hits": sum(network.run_trials_parallel.stats.cache_hits.values())}))
"""


@pytest.mark.subprocess
@pytest.mark.slow
def test_batches_run_on_several_threads_whichever_kernel_compiled_first(tmp_path):
    """Numba's disk cache keyed both variants by one function name, so after any one-trial run on a fresh cache
    every batch ran on the serial kernel (loaded under the parallel kernel's name). Each variant now has its own
    cache entry: a batch is planned on two threads and runs code that calls numba's parallel scheduler, compiled
    (cold cache) or loaded (warm cache); the one-trial run's code does not."""
    env = {"NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_NUM_THREADS": "2"}
    runs = []
    for _ in range(2):  # a cold cache (compile serial, then parallel), then a warm one (both load)
        proc = _child(CACHE_SCRIPT, env)
        out, err = proc.communicate(timeout=1200)  # a hang guard: two cold compiles on a busy machine
        assert proc.returncode == 0, err[-3000:]
        runs.append(json.loads(out.strip().splitlines()[-1]))
    names = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    assert {"network.run_trials_serial", "network.run_trials_parallel"} <= names
    assert runs[1]["serial_hits"] >= 1 and runs[1]["parallel_hits"] >= 1
    for r in runs:
        assert r["plans"] == [["trials", 1, 1], ["trials", 2, 1]], r
        assert r["serial"] and not any(r["serial"]) and r["parallel"] and all(r["parallel"]), r


def test_simulator_reuses_a_build_of_the_same_network_and_refuses_another():
    """``Simulator(net, built=build(net))`` (what engine.parallel.distributed caches per worker) gives the spikes of a fresh
    build; a build of another network is refused before anything runs."""
    from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor
    from engine.build.builder import build
    from engine.network.connectivity import FixedProbability

    def net(n):
        m = Network(dt=0.1, seed=4)
        m.add(Population("p", n, V_init=(-65.0, -50.0)), PoissonSource("d", 20, rate=80.0),
              Projection("d", "p", FixedProbability(0.2), weight=300.0, delay=1.0), SpikeMonitor("p"))
        return m

    a = net(30)
    fresh = Simulator(a, trials=2).run(100.0)
    reused = Simulator(a, trials=2, built=build(a)).run(100.0)
    for k in (0, 1):
        assert np.array_equal(fresh.spikes("p", k)[0], reused.spikes("p", k)[0])
    with pytest.raises(ValueError, match="built must be what engine.build.builder.build"):
        Simulator(a, built=build(net(31)))
