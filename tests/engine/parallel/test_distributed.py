"""Trials, liquid-state features and parameter sweeps over a dask.distributed LocalCluster equal the local runs bit
for bit (issue 13): spikes and features in trial order, the SONATA file, the sweep's choice, and a worker killed
mid-run losing nothing. One 2-worker cluster serves the module."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
from conftest import REPO, poisson_trials, recurrent_network, reference_tool
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline

from engine import Interrupted, Network, Simulator, SpikeMonitor, StateMonitor
from engine.parallel.distributed import block_simulator, run_trials, worker_cache_info
from engine.io.spikefile import SpikeFileReader, SpikeFileWriter, file_info
from readouts import Ridge, RidgeClassifier
from reservoirs import ESN, LSM
from reservoirs.datasets import narma10
from reservoirs.sweeps import fit_with_progress, n_fits

DURATION = 100.0
IDS = [0, 3, 4, 7, 9, 12, 20]  # not contiguous, and a last block shorter than the others


@pytest.fixture(scope="module")
def client():
    distributed = reference_tool("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def net():
    return recurrent_network(n_exc=160, n_inh=40)


def _rates(n):
    return 40.0 + 5.0 * np.arange(n)  # one rate per trial for the 'noise' source


@pytest.fixture(scope="module")
def local(net):
    sim = Simulator(net, trials=IDS)
    sim.set_rates("noise", _rates(len(IDS)))
    return sim.run(DURATION)


def _assert_same_spikes(net, batch, local, ids=IDS):
    for name in ("exc", "inh", "noise"):
        for k in ids:
            a, b = local.spike_steps(name, k), batch.spike_steps(name, k)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (name, k)


@pytest.mark.subprocess
def test_batch_equals_local_batch(client, net, local):
    batch = run_trials(net, DURATION, IDS, client=client, block_size=2, rates={"noise": _rates(len(IDS))},
                       progress=False)
    assert batch.trial_ids.tolist() == IDS
    assert repr(batch).startswith("TrialBatch(trials=[0, 3, 4, 7, 9, 12, 20], dt=0.1 ms, 4 blocks on ")
    _assert_same_spikes(net, batch, local)
    assert [b["trials"] for b in batch.blocks] == [IDS[0:2], IDS[2:4], IDS[4:6], IDS[6:7]]
    # each worker built the network at most once; the other blocks found it in the worker's cache
    assert sum(b["built"] for b in batch.blocks) <= 2
    assert all(info["builds"] <= info["hits"] + 2 for info in client.run(worker_cache_info).values())
    # a second run on the same workers builds nothing where the network was built before (the scheduler may send
    # a block to a worker that got none of the first run's)
    had = {b["worker"] for b in batch.blocks}
    again = run_trials(net, DURATION, IDS, client=client, block_size=3, rates={"noise": _rates(len(IDS))},
                       progress=False)
    assert not any(b["built"] for b in again.blocks if b["worker"] in had)
    _assert_same_spikes(net, again, local)


@pytest.mark.subprocess
def test_spike_file_equals_local_file(client, net, local, tmp_path):
    sizes = {"exc": 160, "inh": 40, "noise": 200}
    kw = dict(n_trials=max(IDS) + 1, dt_ms=net.dt, duration_ms=DURATION, seed=net.seed)
    with SpikeFileWriter(tmp_path / "local.h5", sizes, **kw) as w:
        sim = Simulator(net, trials=IDS)
        sim.set_rates("noise", _rates(len(IDS)))
        sim.run(DURATION, sinks=[w], keep=False)
    with SpikeFileWriter(tmp_path / "dask.h5", sizes, **kw) as w:
        run_trials(net, DURATION, IDS, client=client, block_size=3, rates={"noise": _rates(len(IDS))},
                   sinks=[w], progress=True)  # the bar over trials, drawn on stderr
    with SpikeFileReader(tmp_path / "local.h5") as a, SpikeFileReader(tmp_path / "dask.h5") as b:
        assert a.complete and b.complete
        for name in sizes:
            for k in range(max(IDS) + 1):
                ta, ia = a.read(name, k)
                tb, ib = b.read(name, k)
                assert np.array_equal(ta, tb) and np.array_equal(ia, ib), (name, k)
                assert (k in IDS) == (ta.size > 0)
        a_attrs, b_attrs = ({k: v for k, v in f.attrs.items() if k != "created"} for f in (a, b))
        assert a_attrs == b_attrs


@pytest.mark.subprocess
def test_lsm_features_equal_local(client):
    X = poisson_trials(5, 2, 100.0, 40.0, seed=2)
    lsm = LSM(grid=(4, 3, 3), duration=100.0, sample_times=[50.0, 100.0], features=("trace", "counts", "V"),
              seed=1).fit(X)
    ids = [2, 0, 5, 6, 1]
    local = lsm.transform(X, trial_ids=ids)
    remote = lsm.transform(X, trial_ids=ids, client=client, block_size=2)
    assert remote.shape == local.shape == (5, 2, 3 * 36)
    assert np.array_equal(local, remote)
    # analog input: per-trial currents (Simulator.set_currents on the workers), flat output
    U = np.random.default_rng(0).uniform(0.0, 1.0, size=(3, 20, 2))
    analog = LSM(grid=(4, 3, 3), input_dt=5.0, output="flat", seed=2).fit(U)
    assert np.array_equal(analog.transform(U), analog.transform(U, client=client))


@pytest.mark.subprocess
def test_sweeps_on_dask_pick_the_local_parameters(client, capfd):
    joblib = reference_tool("joblib")
    u, y = narma10(400, seed=1)
    esn = Pipeline([("esn", ESN(units=30, input_scaling=0.5, washout=20, seed=0)), ("ridge", Ridge(alpha=1e-6))])
    grid = {"esn__spectral_radius": [0.5, 0.9], "ridge__alpha": [1e-6, 1e-2]}
    X = poisson_trials(8, 2, 100.0, 40.0, seed=4)
    labels = [0, 1] * 4
    lsm = Pipeline([("lsm", LSM(grid=(4, 3, 3), duration=100.0, output="flat", seed=0)), ("clf", RidgeClassifier())])
    searches = {
        "esn": (lambda: GridSearchCV(esn, grid, cv=2), u, y),
        "lsm": (lambda: RandomizedSearchCV(lsm, {"lsm__lam": [1.0, 2.0, 3.0], "lsm__tau": [10.0, 30.0]}, n_iter=2,
                                           cv=2, random_state=0), X, labels),
    }
    for name, (make, data, target) in searches.items():
        local = make().fit(data, target)
        with joblib.parallel_config(backend="dask"):
            remote = make().set_params(n_jobs=-1)
            fit_with_progress(remote, data, target, client=client)
        total = n_fits(remote, data, target)
        assert f"{total}/{total}" in capfd.readouterr().err, name  # the bar counted every fit on the workers
        assert remote.best_params_ == local.best_params_, name
        assert np.array_equal(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]), name
        assert remote.scoring is None  # the wrapped scorer is only there during the fit
    assert n_fits(GridSearchCV(esn, grid, cv=2), u, y) == 8


@pytest.mark.subprocess
def test_killed_worker_loses_no_block(client, net, local):
    pids = client.run(os.getpid)

    class KillAfterFirstBlock:
        """A sink that SIGKILLs one worker once the first trial has come back."""

        def __init__(self):
            self.killed = None
            self.trials = []

        def write(self, population, trial, times, ids):
            pass

        def end_trial(self, trial):
            self.trials.append(trial)
            if self.killed is None:
                self.killed = sorted(pids.values())[0]
                os.kill(self.killed, signal.SIGKILL)

    sink = KillAfterFirstBlock()
    batch = run_trials(net, DURATION, IDS, client=client, block_size=1, rates={"noise": _rates(len(IDS))},
                       sinks=[sink], progress=False)
    assert sink.killed is not None and sorted(sink.trials) == IDS
    _assert_same_spikes(net, batch, local)
    client.wait_for_workers(2, timeout=60)  # the nanny replaced the killed process
    assert sink.killed not in client.run(os.getpid).values()


@pytest.mark.subprocess
def test_interrupt_keeps_finished_trials_in_the_file(client, net, local, tmp_path):
    class CtrlCAfterFirstTrial:
        def write(self, population, trial, times, ids):
            pass

        def end_trial(self, trial):
            signal.raise_signal(signal.SIGINT)  # taken at the next safe point, after this block is written

    path = tmp_path / "cut.h5"
    with pytest.raises(Interrupted):
        with SpikeFileWriter(path, {"exc": 160, "inh": 40, "noise": 200}, n_trials=max(IDS) + 1, dt_ms=net.dt,
                             duration_ms=DURATION, seed=net.seed) as w:
            run_trials(net, DURATION, IDS, client=client, block_size=1, rates={"noise": _rates(len(IDS))},
                       sinks=[w, CtrlCAfterFirstTrial()], progress=False)
    assert not file_info(path)["complete"]
    with h5py.File(path, "r") as f:
        done = [k for k in range(max(IDS) + 1) if f["/spikes" if k == 0 else f"/trials/{k}/spikes"].attrs.get(
            "complete", False)]
    assert done and set(done) <= set(IDS)  # the blocks that arrived before Ctrl-C was taken (on a busy machine, all)
    with SpikeFileReader(path) as r:
        for k in IDS:
            t, i = r.read("exc", k)
            if k in done:  # a finished trial reads in full although the file states no recorded time
                ref = local.spikes("exc", k)
                assert np.array_equal(t, ref[0]) and np.array_equal(i, ref[1]), k
            else:
                assert t.size == 0


def test_block_simulator_reuses_the_build(net):
    before = worker_cache_info()
    a = block_simulator(net, [1, 2])
    b = block_simulator(net, [5])
    after = worker_cache_info()
    assert after["builds"] - before["builds"] <= 1 and after["hits"] - before["hits"] >= 1
    assert a.built is b.built
    a.run(20.0)
    ref = Simulator(net, trials=[1, 2]).run(20.0)
    assert np.array_equal(a.spike_steps("exc", 2)[0], ref.spike_steps("exc", 2)[0])


@pytest.mark.parametrize("kw, match", [
    (dict(block_size=0), "block_size = 0"),
    (dict(block_size=2.5), "block_size = 2.5"),
    (dict(block_size=True), "block_size = True"),
    (dict(trials=[]), "trials = \\[\\]"),
    (dict(trials=[1, 1]), "distinct"),
    (dict(trials=[-1, 2]), "trials = "),
    (dict(trials=0), "trials = 0"),
    (dict(rates={"noise": [10.0, 20.0]}), "got 2 entries for 7 trials"),
    (dict(spikes={"noise": [([], [])] * 7}), "not a SpikeSource"),
    (dict(currents={"nowhere": [0.0] * 7}), "not a CurrentSource"),
    (dict(duration_ms=10.05), "multiple of dt"),
    (dict(duration_ms=-1.0), "duration_ms = -1.0"),
])
def test_bad_arguments_are_refused_before_any_work(net, kw, match):
    args = dict(duration_ms=DURATION, trials=IDS)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        run_trials(net, args.pop("duration_ms"), args.pop("trials"), client=object(), progress=False, **args)


@pytest.mark.subprocess
def test_without_a_client_a_local_cluster_is_made_and_closed(client, net, local):
    reference_tool("distributed")
    batch = run_trials(net, 20.0, IDS[:3], block_size=2, progress=False)
    ref = Simulator(net, trials=IDS[:3]).run(20.0)
    for k in IDS[:3]:
        assert np.array_equal(batch.spike_steps("exc", k)[0], ref.spike_steps("exc", k)[0])
    workers = {b["worker"] for b in batch.blocks}
    assert workers and not workers & set(client.nthreads())  # not the module's cluster: its own, closed by now


@pytest.mark.subprocess
def test_a_block_that_fails_on_a_worker_raises_its_error_here(client, net):
    with pytest.raises(ValueError, match="rates has shape"):  # set_rates' own check, made here before any block
        run_trials(net, DURATION, IDS, client=client, block_size=3, rates={"noise": np.ones((len(IDS), 3))},
                   progress=False)


def test_lsm_block_size_needs_a_client():
    X = poisson_trials(2, 2, 50.0, 40.0, seed=1)
    lsm = LSM(grid=(3, 3, 3), duration=50.0, seed=1).fit(X)
    with pytest.raises(ValueError, match="block_size = 4 is only used with a Dask client"):
        lsm.transform(X, block_size=4)


@pytest.mark.subprocess
def test_importing_engine_does_not_import_dask():
    code = ("import sys, engine, engine.parallel.distributed; from engine import Simulator; "
            "assert not {'dask', 'distributed'} & set(sys.modules), sorted(m for m in sys.modules if 'dask' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(REPO))


def _spike_source_net():
    from engine import Population, Projection, SpikeSource
    from engine.network.connectivity import OneToOne

    return Network(dt=0.1, seed=1).add(Population("n", 2), SpikeSource("in", 2, times=[1.0], indices=[0]),
                                       Projection("in", "n", OneToOne(), weight=100.0, delay=1.0), SpikeMonitor("n"))


def test_inputs_sinks_and_monitors_are_checked_on_the_client_before_any_block(net, tmp_path):
    """Issue 25 (minor): NaN rates and off-grid spike times are refused here, as Simulator.set_rates/set_spikes
    would refuse them, instead of one "Compute Failed" traceback per block; a sink with too few trials is refused
    before the blocks run, not after; StateMonitors are refused instead of dropped from the TrialBatch. The client
    here is no client: reaching it would raise a TypeError."""
    nan_rates = np.full(len(IDS), np.nan)
    with pytest.raises(ValueError, match=r"set_rates\('noise'\): rates must be finite"):
        run_trials(net, DURATION, IDS, client=object(), rates={"noise": nan_rates}, progress=False)
    with pytest.raises(ValueError, match=r"times = 1.05 ms is not a multiple of dt"):
        run_trials(_spike_source_net(), 10.0, [0, 1], client=object(), progress=False,
                   spikes={"in": [([1.0], [0]), ([1.05], [1])]})
    with SpikeFileWriter(tmp_path / "one.h5", {"exc": 160, "inh": 40, "noise": 200}, n_trials=1, dt_ms=0.1,
                         duration_ms=DURATION, seed=3) as one_trial:
        with pytest.raises(ValueError, match=r"create the writer with trial_ids="):
            run_trials(net, DURATION, IDS, client=object(), sinks=[one_trial], progress=False)
    watched = Network(dt=0.1).add(*net.populations, StateMonitor("exc", indices=[0]))
    with pytest.raises(ValueError, match=r"StateMonitor\(s\) on \['exc'\].*would be dropped"):
        run_trials(watched, DURATION, IDS, client=object(), progress=False)
    with pytest.raises(TypeError, match=r"client = 42 is not allowed; give a dask.distributed Client, a scheduler "
                                        r"address"):
        run_trials(net, DURATION, IDS, client=42, progress=False)


@pytest.mark.subprocess
def test_a_scheduler_address_is_a_client(client, net, local):
    """Issue 25 (minor): ``client="tcp://..."`` raised AttributeError: 'str' object has no attribute 'nthreads';
    an address now connects for the call."""
    batch = run_trials(net, DURATION, IDS, client=client.scheduler.address, block_size=4,
                       rates={"noise": _rates(len(IDS))}, progress=False)
    _assert_same_spikes(net, batch, local)
