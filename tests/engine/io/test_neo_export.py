"""engine.io.neo_export: spike files and simulators as neo.Blocks, the round trip back to arrays, Elephant's statistics
and ``pond info --stats``."""
from __future__ import annotations

import json
import re
import warnings

import h5py
import numpy as np
import pytest
from conftest import reference_tool

from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor
from engine.network.connectivity import FixedProbability
from engine.io.spikefile import SpikeFileReader, SpikeFileWriter, file_info
from pond.cli import main

neo = reference_tool("neo")
elephant_statistics = reference_tool("elephant.statistics")
pq = reference_tool("quantities")
from engine.io.neo_export import STATISTICS, from_neo, spike_statistics, to_neo  # noqa: E402

DURATION = 200.0


@pytest.fixture(scope="module")
def batch_file(tmp_path_factory):
    """``pond run noise`` for 200 ms x 3 trials (the default file)."""
    path = tmp_path_factory.mktemp("neo") / "noise.h5"
    assert main(["run", "noise", "--duration", f"{DURATION:g}", "--trials", "3", "-o", str(path), "-q"]) == 0
    return path


def _lexsorted(t, ids):
    order = np.lexsort((ids, t))
    return t[order], ids[order]


def test_block_layout(batch_file):
    block = to_neo(batch_file)
    assert [seg.annotations["trial"] for seg in block.segments] == [0, 1, 2]
    assert [seg.name for seg in block.segments] == ["trial 0", "trial 1", "trial 2"]
    assert block.annotations["dt_ms"] == 0.1 and block.annotations["duration_ms"] == DURATION
    assert block.annotations["complete"] is True and block.annotations["n_trials"] == 3
    for k, seg in enumerate(block.segments):
        assert len(seg.spiketrains) == 400
        for i, st in enumerate(seg.spiketrains):
            assert st.annotations == {"population": "lif", "node_id": i, "trial": k}
            assert st.units == pq.ms and float(st.t_start) == 0.0 and float(st.t_stop) == DURATION
            assert np.all(np.diff(st.magnitude) >= 0)
    (group,) = block.groups
    assert group.name == "lif" and group.annotations == {"population": "lif", "size": 400}
    assert len(group.spiketrains) == 3 * 400


def test_round_trip_keeps_every_spike(batch_file):
    back = from_neo(to_neo(batch_file))
    assert list(back) == ["lif"] and len(back["lif"]) == 3
    with SpikeFileReader(batch_file) as r:
        for k in range(3):
            t, ids = _lexsorted(*r.read("lif", k))
            assert t.size > 0
            np.testing.assert_array_equal(back["lif"][k][0], t)  # the same floats, bit for bit
            np.testing.assert_array_equal(back["lif"][k][1], ids)
    # a selection of trials in a chosen order
    sub = to_neo(batch_file, trials=[2, 0], populations="lif")
    assert [seg.annotations["trial"] for seg in sub.segments] == [2, 0]
    np.testing.assert_array_equal(from_neo(sub)["lif"][0][0], back["lif"][2][0])


def _small_net(monitor: bool = True) -> Network:
    net = Network(dt=0.1, seed=5)
    net.add(Population("exc", 40, tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0,
                       V_init=(-65.0, -50.0)),
            Population("inh", 10, tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0),
            PoissonSource("drive", 50, rate=80.0),
            Projection("drive", "exc", FixedProbability(0.3), weight=180.0, delay=1.0),
            Projection("drive", "inh", FixedProbability(0.3), weight=180.0, delay=1.0),
            Projection("exc", "inh", FixedProbability(0.2), weight=40.0, delay=1.5))
    if monitor:
        net.add(SpikeMonitor("exc"), SpikeMonitor("inh"))
    return net


def test_simulator_export_equals_its_spikes():
    sim = Simulator(_small_net(), trials=[4, 7]).run(100.0)
    block = to_neo(sim)
    assert [seg.annotations["trial"] for seg in block.segments] == [4, 7]
    assert block.annotations["seed"] == 5 and block.annotations["duration_ms"] == 100.0
    back = from_neo(block)
    assert sorted(back) == ["exc", "inh"]
    n = 0
    for p in ("exc", "inh"):
        for s, k in enumerate((4, 7)):
            t, ids = _lexsorted(*sim.spikes(p, trial=k))
            np.testing.assert_array_equal(back[p][s][0], t)
            np.testing.assert_array_equal(back[p][s][1], ids)
            n += t.size
    assert n > 0
    assert all(float(st.t_stop) == 100.0 for seg in block.segments for st in seg.spiketrains)
    assert len(block.segments[0].spiketrains) == 50


def _rates_printed(out: str) -> dict[str, float]:
    """The 'rate (Hz)' column of ``pond info``."""
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if "rate (Hz)" in line)
    rates = {}
    for line in lines[head + 1:]:
        cells = line.split()
        if len(cells) != 7:
            break
        rates[cells[0]] = float(cells[5])
    return rates


def test_elephant_rates_equal_pond_info(batch_file, tmp_path, capsys):
    cuba = tmp_path / "cuba.h5"
    assert main(["run", "cuba", "--duration", "100ms", "-o", str(cuba), "-q"]) == 0
    for path in (batch_file, cuba):
        block = to_neo(path)
        capsys.readouterr()
        assert main(["info", str(path)]) == 0
        printed = _rates_printed(capsys.readouterr().out)
        exact = {p: v["mean_rate_hz"] for p, v in file_info(path)["populations"].items()}
        assert set(printed) == set(exact) == {st.annotations["population"] for st in block.segments[0].spiketrains}
        for p in printed:
            rates = [elephant_statistics.mean_firing_rate(st).rescale(pq.Hz).magnitude
                     for seg in block.segments for st in seg.spiketrains if st.annotations["population"] == p]
            elephant_rate = float(np.mean(rates))
            assert elephant_rate == pytest.approx(exact[p], rel=1e-12)
            assert f"{elephant_rate:.4g}" == f"{printed[p]:.4g}"


def test_pond_info_stats(batch_file, capsys):
    assert main(["info", str(batch_file), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "Elephant" in out
    header = next(line for line in out.splitlines() if "mean_firing_rate" in line)
    assert header.split()[:2] == ["population", "mean_firing_rate"]
    for name in ("cv", "fanofactor", "spike_contrast"):
        assert name in header
    row = next(line for line in out.splitlines() if line.split()[:1] == ["lif"] and len(line.split()) == 5)
    assert all(re.fullmatch(r"[0-9.e+-]+", c) for c in row.split()[1:]), row
    assert main(["info", str(batch_file), "--stats", "--json", "--window", "50"]) == 0
    info = json.loads(capsys.readouterr().out)
    s = info["statistics"]["lif"]
    assert s["mean_firing_rate"] == pytest.approx(info["populations"]["lif"]["mean_rate_hz"], rel=1e-12)
    assert s["fanofactor_window_ms"] == 50.0 and s["fanofactor_counts"] == 3 * 4
    assert 0.0 < s["cv"] < 2.0 and s["fanofactor"] > 0.0 and 0.0 <= s["spike_contrast"] <= 1.0
    assert set(STATISTICS) <= set(s)


def _block(trains_per_trial, t_stop=100.0):
    block = neo.Block()
    for k, trains in enumerate(trains_per_trial):
        seg = neo.Segment(trial=k)
        for i, t in enumerate(trains):
            seg.spiketrains.append(neo.SpikeTrain(t, units="ms", t_stop=t_stop * pq.ms, population="a", node_id=i))
        block.segments.append(seg)
    return block


def test_statistics_on_known_trains():
    # regular firing: cv 0; counts 2, 2 per 50 ms window: fanofactor 0; every train alike: synchronous
    regular = [[10.0, 30.0, 50.0, 70.0]] * 3
    s = spike_statistics(_block([regular]), window_ms=50.0)["a"]
    assert s["mean_firing_rate"] == pytest.approx(40.0)
    assert s["cv"] == pytest.approx(0.0) and s["cv_neurons"] == 3
    assert s["fanofactor"] == pytest.approx(0.0) and s["fanofactor_counts"] == 2
    assert s["spike_contrast"] == pytest.approx(1.0, abs=0.05)
    # across trials (window = whole trial): counts 1, 3 for neuron 0 -> var 1 / mean 2
    s = spike_statistics(_block([[[5.0]], [[5.0, 25.0, 45.0]]]))["a"]
    assert s["fanofactor"] == pytest.approx(0.5) and s["fanofactor_counts"] == 2
    assert s["cv"] == pytest.approx(0.0) and s["cv_neurons"] == 1
    assert s["spike_contrast"] is None  # one spike train per trial
    # too few spikes for any statistic but the rate
    s = spike_statistics(_block([[[5.0], []]]))["a"]
    assert s["mean_firing_rate"] == pytest.approx(5.0) and s["cv"] is None and s["fanofactor"] is None


def test_incomplete_and_foreign_files(tmp_path):
    path = tmp_path / "cut.h5"
    w = SpikeFileWriter(path, {"a": 2}, dt_ms=0.1, duration_ms=1000.0, seed=1)
    w.advance(0.0)
    w.write("a", 0, np.array([1.0, 20.0]), np.array([0, 1]))
    w.advance(50.0)
    w.close(complete=False)
    block = to_neo(path)
    assert float(block.segments[0].spiketrains[0].t_stop) == 50.0 and block.annotations["complete"] is False
    # another tool's file: no duration, no sizes -> up to its last spike, or the t_stop given
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        g = f.create_group("spikes/v1")
        g.create_dataset("timestamps", data=np.array([3.0, 1.0, 7.5]))
        g.create_dataset("node_ids", data=np.array([4, 0, 4], dtype=np.uint64))
    block = to_neo(other)
    assert len(block.segments) == 1 and len(block.segments[0].spiketrains) == 5
    assert float(block.segments[0].spiketrains[4].t_stop) == 7.5
    assert block.segments[0].spiketrains[4].magnitude.tolist() == [3.0, 7.5]
    assert float(to_neo(other, t_stop=10.0).segments[0].spiketrains[0].t_stop) == 10.0


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(populations="nope"), ValueError, ["populations", "'nope'", "lif"]),
    (dict(populations=[]), ValueError, ["populations", "empty"]),
    (dict(populations=["lif", "lif"]), ValueError, ["populations", "twice"]),
    (dict(trials=3), ValueError, ["trials", "3", "[0, 1, 2]"]),
    (dict(trials=True), ValueError, ["trials", "True"]),
    (dict(t_stop=0.0), ValueError, ["t_stop", "> 0"]),
    (dict(t_stop=float("nan")), ValueError, ["t_stop", "finite"]),
    (dict(t_stop="1 s"), TypeError, ["t_stop", "number"]),
    (dict(t_stop=10.0), ValueError, ["t_stop", "last spike"]),
])
def test_to_neo_errors(batch_file, kwargs, error, words):
    with pytest.raises(error) as e:
        to_neo(batch_file, **kwargs)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_other_errors(tmp_path):
    with pytest.raises(TypeError, match="source = 3 must be a spike file path or a Simulator"):
        to_neo(3)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        to_neo(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="no SpikeMonitor"):
        to_neo(Simulator(_small_net(monitor=False)))
    with pytest.raises(ValueError, match="has not run yet"):
        to_neo(Simulator(_small_net()))
    bare = neo.Block()
    bare.segments.append(neo.Segment())
    bare.segments[0].spiketrains.append(neo.SpikeTrain([1.0], units="ms", t_stop=2.0 * pq.ms, name="x"))
    with pytest.raises(ValueError, match="'x' of segment 0 has no 'population' and 'node_id'"):
        from_neo(bare)
    with pytest.raises(ValueError, match="'x' of segment 0 has no 'population' annotation"):
        spike_statistics(bare)
    with pytest.raises(ValueError, match="window_ms = -1.0 is not allowed"):
        spike_statistics(_block([[[1.0]]]), window_ms=-1.0)


def test_info_stats_without_neo_is_one_clear_error(batch_file, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "neo", None)
    assert main(["info", str(batch_file), "--stats"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'pond[neo]'" in err and "neo" in err


def _interrupted_batch(path):
    """4 whole trials of 10 neurons over 100 ms, interrupted after trials 0 and 1 (marked finished; the others
    empty): every neuron fires at 20, 40, 60, 80 ms in trial 0 and at 10, 30, 50, 70, 90 ms in trial 1."""
    w = SpikeFileWriter(path, {"a": 10}, n_trials=4, dt_ms=0.1, duration_ms=100.0, seed=1)
    for k, first in ((0, 20.0), (1, 10.0)):
        t = np.arange(first, 100.0, 20.0)
        w.write("a", k, np.repeat(t, 10), np.tile(np.arange(10), t.size))
        w.end_trial(k)
    w.close(complete=False)
    return path


def test_interrupted_batch_exports_and_counts_the_finished_trials_only(tmp_path, capsys):
    path = _interrupted_batch(tmp_path / "cut.h5")
    block = to_neo(path)
    assert [seg.annotations["trial"] for seg in block.segments] == [0, 1]
    assert block.annotations["n_trials_finished"] == 2
    assert float(block.segments[1].spiketrains[0].t_stop) == 100.0
    with pytest.raises(ValueError, match="trial 2 of .* did not finish .* finished trials are \\[0, 1\\]"):
        to_neo(path, trials=[0, 2])
    s = spike_statistics(block, window_ms=100.0)["a"]
    assert s["n_trials"] == 2 and s["mean_firing_rate"] == pytest.approx(45.0)  # (4 + 5) spikes / 0.2 s
    assert s["fanofactor"] == pytest.approx(0.25 / 4.5)  # counts 4 and 5, not 4, 5, 0, 0 (2.31)
    assert main(["info", str(path), "--stats", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_trials_finished"] == 2 and info["trials_used"] == [0, 1]
    assert info["populations"]["a"]["mean_rate_hz"] == pytest.approx(45.0)
    assert info["statistics"]["a"]["mean_firing_rate"] == pytest.approx(45.0)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trials 4 (2 finished)" in out and "over the 2 finished trials only (0-1)" in out


def _elephant_statistics(block, window_ms):
    """The statistics of a block computed train by train with Elephant's own functions."""
    sync = reference_tool("elephant.spike_train_synchrony")
    out = {}
    for p in sorted({st.annotations["population"] for seg in block.segments for st in seg.spiketrains}):
        per_trial = [[st for st in seg.spiketrains if st.annotations["population"] == p] for seg in block.segments]
        trains = [st for x in per_trial for st in x]
        counts: dict = {}
        for st in trains:
            t0, t1 = float(st.t_start.rescale(pq.ms)), float(st.t_stop.rescale(pq.ms))
            n_win = max(1, int(np.floor((t1 - t0) / window_ms + 1e-9)))
            edges = t0 + ((t1 - t0) / n_win if n_win == 1 else window_ms) * np.arange(n_win + 1)
            t = st.times.rescale(pq.ms).magnitude
            pieces = np.split(t, np.searchsorted(t, edges[1:-1], side="left"))
            pieces[-1] = pieces[-1][pieces[-1] < edges[-1]] if n_win > 1 else pieces[-1]
            counts.setdefault(st.annotations["node_id"], []).extend(pieces)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Elephant's warning of unequal durations
            ffs = [elephant_statistics.fanofactor(x) for x in counts.values() if any(len(c) for c in x)]
        contrasts = []
        for x in per_trial:
            if sum(1 for st in x if len(st)) >= 2:
                try:
                    contrasts.append(sync.spike_contrast(x))
                except ValueError:
                    pass
        cvs = [elephant_statistics.cv(elephant_statistics.isi(st.magnitude)) for st in trains if len(st) >= 3]
        n_counts = len(counts[trains[-1].annotations["node_id"]])  # the counts of the last train's neuron
        out[p] = {"mean_firing_rate": np.mean([elephant_statistics.mean_firing_rate(st).rescale(pq.Hz).magnitude
                                               for st in trains]),
                  "cv": np.mean(cvs) if cvs else None, "cv_neurons": len(cvs),
                  "fanofactor": np.mean(ffs) if ffs and n_counts >= 2 else None, "fanofactor_counts": n_counts,
                  "spike_contrast": np.mean(contrasts) if contrasts else None}
    return out


@pytest.mark.parametrize("seed", range(12))
def test_statistics_equal_elephants_functions(seed):
    rng = np.random.default_rng(seed)
    units = ("ms", "s")[seed % 2]
    duration = float(rng.choice([35.0, 100.0, 250.0, 1000.0]))
    block = neo.Block()
    for k in range(int(rng.integers(1, 4))):
        seg = neo.Segment(trial=k)
        for i in range(int(rng.integers(1, 30))):
            n = rng.poisson(rng.choice([0.5, 3.0, 20.0]))
            t = np.sort(np.round(rng.uniform(0.0, duration, n), 1 + seed % 3))
            scale = 1e-3 if units == "s" else 1.0
            seg.spiketrains.append(neo.SpikeTrain(t * scale, units=units, t_stop=duration * scale,
                                                  population="ab"[i % 2], node_id=i))
        block.segments.append(seg)
    window = float(rng.choice([10.0, 50.0, 100.0, 400.0, 2000.0]))
    ours, theirs = spike_statistics(block, window_ms=window, progress=False), _elephant_statistics(block, window)
    assert set(ours) == set(theirs)
    for p, expected in theirs.items():
        for name, value in expected.items():
            if value is None:
                assert ours[p][name] is None, (p, name)
            else:
                assert ours[p][name] == pytest.approx(float(value), rel=1e-10, abs=1e-12), (p, name)


def test_docstring_examples_run():
    import doctest

    import engine.io.neo_export

    result = doctest.testmod(engine.io.neo_export, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_to_neo_makes_one_checked_spike_train_per_population_and_trial(tmp_path, monkeypatch):
    """The trains are slices of one SpikeTrain per population and trial (Neo checks the times once), and each
    segment's and group's list is made in one go: no per-train construction or append (quadratic in Neo)."""
    made = []

    class Counted(neo.SpikeTrain):
        def __new__(cls, *args, **kwargs):
            made.append(1)
            return super().__new__(cls, *args, **kwargs)

    path = tmp_path / "two.h5"
    with SpikeFileWriter(path, {"a": 300, "b": 200}, n_trials=3, dt_ms=0.1, duration_ms=100.0, seed=1) as w:
        for k in range(3):
            w.write("a", k, np.arange(300) * 0.1, np.arange(300))
            w.write("b", k, np.array([5.0, 6.0]), np.array([7, 7]))
    monkeypatch.setattr(neo, "SpikeTrain", Counted)
    monkeypatch.setattr(neo.core.spiketrainlist.SpikeTrainList, "append",
                        lambda *a: pytest.fail("a spike train appended one by one"))
    block = to_neo(path, progress=False)
    assert len(made) == 2 * 3 and sum(len(seg.spiketrains) for seg in block.segments) == 3 * 500
    assert [len(g.spiketrains) for g in block.groups] == [900, 600]
    st = block.segments[2].spiketrains[300 + 7]
    assert st.magnitude.tolist() == [5.0, 6.0] and st.annotations == {"population": "b", "node_id": 7, "trial": 2}
