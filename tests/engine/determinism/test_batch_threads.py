"""Same seed, same result: batch runs equal single runs bit for bit, for any thread count and chunking."""
import numba
import numpy as np
import pytest

from conftest import recurrent_network
from engine import Network, PoissonSource, Population, Projection, RateMonitor, Simulator, SpikeMonitor, StateMonitor
from engine.network.connectivity import FixedProbability
from engine.network.distributions import Uniform
from engine.run.clock import ClockSimulator

NAMES = ("exc", "inh", "noise")


def _spikes(sim, trial):
    return {n: sim.spike_steps(n, trial) for n in NAMES}


def _assert_same(a, b):
    for n in NAMES:
        np.testing.assert_array_equal(a[n][0], b[n][0])
        np.testing.assert_array_equal(a[n][1], b[n][1])


@pytest.fixture(scope="module")
def batch():
    net = recurrent_network(seed=11)
    sim = Simulator(net, trials=4).run(300.0)
    return net, sim


def test_batch_equals_single_runs(batch):
    net, sim = batch
    for trial in (0, 2, 3):
        single = Simulator(net, trials=[trial]).run(300.0)
        _assert_same(_spikes(sim, trial), _spikes(single, trial))
        np.testing.assert_array_equal(sim.V[trial], single.V[0])


def test_trials_differ(batch):
    _, sim = batch
    a, b = sim.spike_steps("exc", 0), sim.spike_steps("exc", 1)
    assert a[0].size > 100 and (a[0].size != b[0].size or not np.array_equal(a[1], b[1]))


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_does_not_change_results(batch, threads):
    net, sim = batch
    if threads > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("not enough threads")
    other = Simulator(net, trials=4, n_jobs=threads).run(300.0)
    for trial in range(4):
        _assert_same(_spikes(sim, trial), _spikes(other, trial))


def test_chunking_and_continuation_do_not_change_results(batch):
    net, sim = batch
    pieces = Simulator(net, trials=[1], chunk_ms=7.3)
    pieces.run(100.0).run(150.0).run(50.0)
    _assert_same(_spikes(sim, 1), _spikes(pieces, 1))


def test_same_seed_same_spikes_and_other_seed_differs():
    a = Simulator(recurrent_network(seed=5)).run(200.0).spike_steps("exc")
    b = Simulator(recurrent_network(seed=5)).run(200.0).spike_steps("exc")
    c = Simulator(recurrent_network(seed=6)).run(200.0).spike_steps("exc")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].size != c[0].size or not np.array_equal(a[1], c[1])


def test_queue_growth_and_small_record_buffer_keep_every_spike(monkeypatch):
    """Growing the run queue mid-step and draining a full record buffer lose nothing."""
    net = recurrent_network(seed=2)
    ref = Simulator(net).run(200.0)
    monkeypatch.setattr(ClockSimulator, "_MIN_RECORD_CAPACITY", 1)
    small = Simulator(net)
    q = small._queues
    assert q.r_lo.shape[3] > 0  # static synapses with per-synapse delays: the run queue
    small._queues = q._replace(r_lo=q.r_lo[..., :1].copy(), r_len=q.r_len[..., :1].copy(), r_w=q.r_w[..., :1].copy())
    small.run(200.0)
    assert small._queues.r_lo.shape[3] > 1
    _assert_same(_spikes(ref, 0), _spikes(small, 0))


class _InterruptingSink:
    """A sink that raises KeyboardInterrupt (as Ctrl-C would) after a number of chunks (``advance`` is also called
    once before the first chunk)."""

    def __init__(self, after: int):
        self.after, self.calls, self.spikes = after, 0, []

    def write(self, population, trial, times, ids):
        self.spikes.append((population, times.copy(), ids.copy()))

    def advance(self, t_ms):
        self.calls += 1
        if self.calls == self.after + 1:
            raise KeyboardInterrupt


def test_interrupted_run_keeps_every_spike_and_can_continue():
    net = recurrent_network(seed=4)
    ref = Simulator(net, chunk_ms=20.0).run(200.0)
    sim = Simulator(net, chunk_ms=20.0)
    sink = _InterruptingSink(after=3)
    with pytest.raises(KeyboardInterrupt):
        sim.run(200.0, sinks=[sink])
    assert sim.t == pytest.approx(60.0)
    t, i = sim.spikes("exc")
    rt, ri = ref.spikes("exc")
    np.testing.assert_array_equal(t, rt[rt < 60.0])
    streamed = np.concatenate([x[1] for x in sink.spikes if x[0] == "exc"])
    np.testing.assert_array_equal(streamed, t)
    sim.run(140.0)
    _assert_same(_spikes(ref, 0), _spikes(sim, 0))


def test_spike_queue_holds_every_neuron_firing_every_step_with_two_delays():
    """A queue slot collects spikes of several steps when rows have different delays; with every neuron firing
    in every step nothing may be lost: the spike queue (one delay per row) equals the event queue (per synapse)."""
    from engine import Network, Population, Projection, StateMonitor
    from engine.network.connectivity import AllToAll

    def net(per_synapse: bool):
        n = Network(dt=0.1)
        n.add(Population("a", 50, I_e=1e6, t_ref=0.0), Population("b", 50, I_e=1e6, t_ref=0.0), Population("c", 5),
              StateMonitor("c", ("I_ex",)))
        for pre, d in (("a", 0.2), ("b", 0.1)):
            n.add(Projection(pre, "c", AllToAll(), weight=1.0, delay=[d] * 250 if per_synapse else d))
        return n

    spike_queue = Simulator(net(False)).run(40.0)
    event_queue = Simulator(net(True)).run(40.0)
    assert spike_queue.built.d_syn.size == 0 and event_queue.built.d_syn.size > 0
    _, a = spike_queue.state("c", "I_ex")
    _, b = event_queue.state("c", "I_ex")
    np.testing.assert_array_equal(a, b)
    p11 = np.exp(-0.1 / 2.0)
    assert a[0, -1, 0] == pytest.approx(100.0 / (1 - p11), rel=1e-3)  # 100 spikes of weight 1 arrive every step


def test_sigint_stops_the_run_at_a_chunk_boundary():
    """A real SIGINT during a run ends it cleanly at the next chunk boundary, with KeyboardInterrupt."""
    import signal

    class Pinch:
        calls = 0

        def write(self, *args):
            pass

        def advance(self, t_ms):
            Pinch.calls += 1
            if Pinch.calls == 3:  # the call before the first chunk, then after chunks 1 and 2
                signal.raise_signal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    sim = Simulator(recurrent_network(seed=4), chunk_ms=20.0)
    with pytest.raises(KeyboardInterrupt):
        sim.run(200.0, sinks=[Pinch()])
    assert sim.t == pytest.approx(40.0)
    assert signal.getsignal(signal.SIGINT) is before  # the handler in place before the run is back


def _issue_network() -> Network:
    """800 LIF neurons, Poisson input with per-synapse delays, a recurrent projection, rate and state monitors: the
    event queue grows mid-run, at different steps in different trials."""
    net = Network(dt=0.1, seed=1)
    net.add(Population("n", 800, tau_m=20.0, C_m=250.0, V_th=-50.0, V_reset=-65.0, E_L=-65.0, t_ref=2.0,
                       V_init=(-65.0, -50.0)),
            PoissonSource("noise", 200, rate=50.0),
            Projection("noise", "n", FixedProbability(0.1), weight=Uniform(100.0, 200.0), delay=Uniform(0.5, 2.0)),
            Projection("n", "n", FixedProbability(0.1), weight=20.0, delay=1.5),
            RateMonitor("n"), StateMonitor("n", ["V"], indices=[0]), SpikeMonitor("n"))
    return net


def test_batch_rate_and_state_monitors_equal_single_trials_after_queue_growth(monkeypatch):
    net = _issue_network()
    monkeypatch.setattr(ClockSimulator, "_QUEUE_START", 2)
    batch = Simulator(net, trials=2).run(300.0)
    assert batch._queues.r_lo.shape[3] > 2  # the (run) queue did grow during the run
    t, V = batch.state("n", "V")
    assert V.shape == (2, 3000, 1) and not np.isnan(V).any()
    assert t[-1] == 300.0 and batch.spike_counts("n").shape == (2, 3000)
    for k in (0, 1):
        alone = Simulator(net, trials=[k]).run(300.0)
        np.testing.assert_array_equal(alone.state("n", "V")[1][0], V[k])
        np.testing.assert_array_equal(alone.spike_counts("n")[0], batch.spike_counts("n")[k])
        np.testing.assert_array_equal(alone.spike_steps("n")[0], batch.spike_steps("n", k)[0])
