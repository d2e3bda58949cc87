"""Streaming SONATA spike files: round trips, layout, windowed reads, interruption, error paths."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import REPO, reference_tool
from engine.io.spikefile import _format as sf_format
from engine.io.spikefile import reader as sf_reader
from engine.io.spikefile import writer as sf
from engine.io.spikefile import (SORTING_DTYPE, SpikeFileError, SpikeFileReader, SpikeFileWriter, file_info,
                              read_spikes, spike_trains)



def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kw(**over):
    kw = dict(dt_ms=0.1, duration_ms=1000.0, seed=7)
    kw.update(over)
    return kw


def _random_run(rng, n_chunks, sizes, n_trials=1, chunk_ms=10.0, rate=100):
    """Deterministic chunks: {(pop, trial): [(t, ids), ...]} sorted in time within and across chunks."""
    out = {}
    for pop, n in sizes.items():
        for trial in range(n_trials):
            chunks = []
            for c in range(n_chunks):
                k = int(rng.poisson(rate))
                t = np.sort(rng.uniform(c * chunk_ms, (c + 1) * chunk_ms, k))
                chunks.append((t, rng.integers(0, n, k)))
            out[(pop, trial)] = chunks
    return out


def _write(path, sizes, chunks, n_trials=1, **kw):
    with SpikeFileWriter(path, sizes, n_trials=n_trials, **_kw(**kw)) as w:
        n_chunks = len(next(iter(chunks.values())))
        for c in range(n_chunks):  # interleave populations and trials like the engine does
            for key, lst in chunks.items():
                w.write(key[0], key[1], *lst[c])
    return w


def _concat(lst):
    return np.concatenate([c[0] for c in lst]), np.concatenate([c[1] for c in lst])


# ---------------------------------------------------------------------------------------------------------------------
# round trips and layout
# ---------------------------------------------------------------------------------------------------------------------
def test_round_trip_populations_and_trials(tmp_path):
    rng = np.random.default_rng(1)
    sizes = {"exc": 80, "inh": 20}
    chunks = _random_run(rng, 30, sizes, n_trials=3)
    path = tmp_path / "run.h5"
    _write(path, sizes, chunks, n_trials=3, chunk_rows=128)
    for (pop, trial), lst in chunks.items():
        t, ids = read_spikes(path, pop, trial)
        et, eids = _concat(lst)
        np.testing.assert_array_equal(t, et)
        np.testing.assert_array_equal(ids, eids)
        assert t.dtype == np.float64 and ids.dtype == np.int64
        trains = spike_trains(path, pop, trial)
        assert len(trains) == sizes[pop]
        for k, train in enumerate(trains):
            np.testing.assert_array_equal(train, np.sort(et[eids == k]))


def test_single_population_default_and_empty(tmp_path):
    path = tmp_path / "one.h5"
    with SpikeFileWriter(path, {"exc": 5}, **_kw()) as w:
        w.write("exc", 0, np.empty(0), np.empty(0, dtype=np.int64))
    t, ids = read_spikes(path)
    assert t.shape == (0,) and ids.shape == (0,)
    assert [len(x) for x in spike_trains(path)] == [0] * 5
    info = file_info(path)
    assert info["populations"]["exc"]["n_spikes"] == 0
    assert info["populations"]["exc"]["t_first_ms"] is None
    assert info["populations"]["exc"]["mean_rate_hz"] == 0.0


def test_sonata_layout_field_by_field(tmp_path):
    path = tmp_path / "layout.h5"
    model = {"populations": {"exc": {"size": 4, "tau_m": np.float64(20.0)}}, "w": np.arange(3)}
    with SpikeFileWriter(path, {"exc": 4, "inh": 2}, n_trials=2, model=model, chunk_rows=16,
                         extra_attrs={"note": "hello"}, **_kw(seed=123)) as w:
        w.write("exc", 0, np.array([0.5, 1.0, 1.0]), np.array([3, 0, 1]))
        w.write("exc", 1, np.array([2.0]), np.array([2]))
    with h5py.File(path, "r") as f:
        a = f.attrs
        assert a["magic"] == 0x0A7A and list(a["version"]) == [0, 1]
        assert a["format"] == "pond-spikes" and a["format_version"] == 1
        assert a["dt_ms"] == 0.1 and a["duration_ms"] == 1000.0 and a["seed"] == 123
        assert a["n_trials"] == 2 and bool(a["complete"]) is True
        assert isinstance(a["pond_version"], str) and a["pond_version"]
        assert json.loads(a["model_json"]) == {"populations": {"exc": {"size": 4, "tau_m": 20.0}}, "w": [0, 1, 2]}
        assert [x.decode() if isinstance(x, bytes) else x for x in a["population_names"]] == ["exc", "inh"]
        assert list(a["population_sizes"]) == [4, 2]
        assert "T" in a["created"] and a["created"].endswith("+00:00")
        assert a["note"] == "hello"
        assert set(f["spikes"]) == {"exc", "inh"}
        assert set(f["trials"]) == {"1"} and set(f["trials/1/spikes"]) == {"exc", "inh"}
        for root in ("spikes", "trials/1/spikes"):
            for pop, size in (("exc", 4), ("inh", 2)):
                g = f[f"{root}/{pop}"]
                assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {"none": 0, "by_id": 1,
                                                                                     "by_time": 2}
                assert g.attrs["sorting"] == 2
                assert g.attrs["size"] == size
                ts, ids = g["timestamps"], g["node_ids"]
                assert ts.dtype == np.float64 and ids.dtype == np.uint64
                assert ts.attrs["units"] == "ms"
                for ds in (ts, ids):
                    assert ds.chunks == (16,) and ds.maxshape == (None,) and ds.compression is None
        np.testing.assert_array_equal(f["spikes/exc/timestamps"][:], [0.5, 1.0, 1.0])
        np.testing.assert_array_equal(f["spikes/exc/node_ids"][:], [3, 0, 1])
        assert f["spikes/exc"].attrs["n_spikes"] == 3
        np.testing.assert_array_equal(f["trials/1/spikes/exc/timestamps"][:], [2.0])
    info = file_info(path)
    assert info["complete"] and info["n_trials"] == 2
    assert info["metadata"]["model"]["w"] == [0, 1, 2] and info["metadata"]["seed"] == 123
    assert info["populations"]["exc"]["n_spikes_per_trial"] == [3, 1]
    assert info["populations"]["exc"]["mean_rate_hz"] == pytest.approx(4 / (2 * 4 * 1.0))
    assert info["populations"]["exc"]["t_first_ms"] == 0.5 and info["populations"]["exc"]["t_last_ms"] == 2.0


def test_seed_none_and_lzf_and_uncompressed(tmp_path):
    for comp in (None, "gzip", "lzf"):
        path = tmp_path / f"c{comp}.h5"
        with SpikeFileWriter(path, {"a": 3}, compression=comp, **_kw(seed=None)) as w:
            w.write("a", 0, np.array([1.0, 2.0]), np.array([0, 2]))
        with h5py.File(path, "r") as f:
            assert "seed" not in f.attrs
            assert f["spikes/a/timestamps"].compression == comp
        assert file_info(path)["metadata"].get("seed") is None
        np.testing.assert_array_equal(read_spikes(path)[1], [0, 2])


@pytest.mark.reference
def test_libsonata_reads_back(tmp_path):
    libsonata = reference_tool("libsonata")
    path = tmp_path / "sonata.h5"
    # PyPI libsonata wheels are built without the deflate filter, so the check uses uncompressed datasets.
    with SpikeFileWriter(path, {"exc": 10, "inh": 5}, n_trials=2, compression=None, chunk_rows=4, **_kw()) as w:
        w.write("exc", 0, np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), np.array([0, 1, 2, 3, 4, 9]))
        w.write("inh", 0, np.array([1.5]), np.array([4]))
        w.write("exc", 1, np.array([7.0]), np.array([8]))
    r = libsonata.SpikeReader(str(path))
    assert sorted(r.get_population_names()) == ["exc", "inh"]
    pop = r["exc"]
    assert pop.sorting == "by_time"
    assert pop.times == (1.0, 6.0)
    assert pop.get() == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0), (9, 6.0)]
    assert pop.get(node_ids=[9]) == [(9, 6.0)]
    assert r["inh"].get() == [(4, 1.5)]


# ---------------------------------------------------------------------------------------------------------------------
# chunked streaming and windowed reads
# ---------------------------------------------------------------------------------------------------------------------
def test_many_more_spikes_than_chunk_rows(tmp_path):
    rng = np.random.default_rng(2)
    sizes = {"exc": 1000}
    chunks = _random_run(rng, 200, sizes, rate=300)  # ~60 000 spikes, chunk 256 -> ~230 chunks
    path = tmp_path / "big.h5"
    _write(path, sizes, chunks, chunk_rows=256, flush_interval_s=0.0)
    et, eids = _concat(chunks[("exc", 0)])
    assert et.size > 200 * 256
    with h5py.File(path, "r") as f:
        ds = f["spikes/exc/timestamps"]
        assert ds.chunks == (256,) and ds.shape == (et.size,)
    t, ids = read_spikes(path)
    np.testing.assert_array_equal(t, et)
    np.testing.assert_array_equal(ids, eids)
    with SpikeFileReader(path) as r:
        blocks = list(r.iter_blocks(block_rows=1000))
    assert all(b[0].size <= 1000 for b in blocks)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in blocks]), et)


def test_buffer_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(sf, "_MAX_BUFFER_ROWS", 1000)
    path = tmp_path / "bounded.h5"
    w = SpikeFileWriter(path, {"a": 10}, flush_interval_s=3600.0, **_kw())
    for c in range(20):
        w.write("a", 0, np.full(300, float(c)), np.arange(300) % 10)
        assert w._n_buffered < 1000
    assert w.n_spikes[("a", 0)] == 6000
    w.close()
    assert read_spikes(path)[0].size == 6000


@pytest.mark.parametrize("chunk_rows", [1, 7, 64])
def test_window_matches_numpy(tmp_path, chunk_rows):
    rng = np.random.default_rng(chunk_rows)
    t_all = np.sort(np.round(rng.uniform(0, 100, 500), 1))  # many duplicates, across chunk boundaries
    ids_all = rng.integers(0, 50, t_all.size)
    path = tmp_path / "win.h5"
    with SpikeFileWriter(path, {"p": 50}, chunk_rows=chunk_rows, **_kw(duration_ms=100.0)) as w:
        for s in range(0, t_all.size, 37):
            w.write("p", 0, t_all[s:s + 37], ids_all[s:s + 37])
    windows = [(None, None), (None, 50.0), (50.0, None), (-5.0, 0.0), (100.0, 200.0), (33.3, 33.3)]
    windows += [tuple(sorted(rng.choice(t_all, 2))) for _ in range(20)]
    windows += [tuple(sorted(rng.uniform(-1, 101, 2))) for _ in range(20)]
    for a, b in windows:
        t, ids = read_spikes(path, "p", 0, a, b)
        m = np.ones(t_all.size, bool)
        if a is not None:
            m &= t_all >= a
        if b is not None:
            m &= t_all < b
        np.testing.assert_array_equal(t, t_all[m])
        np.testing.assert_array_equal(ids, ids_all[m])
        trains = spike_trains(path, "p", 0, a, b)
        assert sum(len(x) for x in trains) == m.sum()


class _CountingDataset:
    def __init__(self, data, chunk):
        self.data, self.chunks, self.elements_read = data, (chunk,), 0

    def __getitem__(self, key):
        out = self.data[key]
        self.elements_read += np.size(out)
        return out


def test_window_search_reads_few_chunks():
    data = np.sort(np.random.default_rng(0).uniform(0, 1000, 1_000_000))
    ds = _CountingDataset(data, 1000)
    for v in (-1.0, 0.0, 123.456, 999.9, 2000.0):
        ds.elements_read = 0
        for side in ("left", "right"):
            assert sf_reader._search_sorted(ds, data.size, v, side) == np.searchsorted(data, v, side)
        assert ds.elements_read <= 2 * (12 + 1000)  # log2(1000 blocks) probes + one block per side


def test_reads_foreign_sonata_files(tmp_path):
    """String, integer and enum ``sorting``; unsorted and by_id files; ``gids``; no pond attributes."""
    t = np.array([3.0, 1.0, 2.0, 5.0, 4.0])
    ids = np.array([0, 2, 1, 2, 0], dtype=np.uint64)
    cases = {"by_time": "by_time", b"none": "none", "by_id": "by_id", "time": "by_time", 1: "by_id", 0: "none"}
    for k, (value, expected) in enumerate(cases.items()):
        path = tmp_path / f"foreign{k}.h5"
        order = np.argsort(t, kind="stable") if expected == "by_time" else (
            np.lexsort((t, ids)) if expected == "by_id" else np.arange(t.size))
        with h5py.File(path, "w") as f:
            g = f.create_group("spikes/V1")
            g.attrs["sorting"] = value
            g.create_dataset("timestamps", data=t[order])
            g.create_dataset("gids" if k == 0 else "node_ids", data=ids[order])
        with SpikeFileReader(path) as r:
            assert r.sorting() == expected
            assert r.complete  # no pond format marker: nothing says it is partial
            assert r.size() == 3
            tt, ii = r.read(t_start=2.0, t_stop=4.5)
            assert sorted(zip(tt.tolist(), ii.tolist())) == [(2.0, 1), (3.0, 0), (4.0, 0)]
        info = file_info(path)["populations"]["V1"]
        assert info["t_first_ms"] == 1.0 and info["t_last_ms"] == 5.0 and info["n_spikes"] == 5
        assert info["mean_rate_hz"] == pytest.approx(5 / (3 * 5.0e-3))
    path = tmp_path / "enum.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("spikes/V1")
        g.attrs.create("sorting", 1, dtype=h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i4"))
        g.create_dataset("timestamps", data=[1.0])
        g.create_dataset("node_ids", data=np.array([0], np.uint64))
    with SpikeFileReader(path) as r:
        assert r.sorting("V1") == "by_id"


# ---------------------------------------------------------------------------------------------------------------------
# durability: close, context manager, interruption, kill, full disk
# ---------------------------------------------------------------------------------------------------------------------
def test_incomplete_when_block_raises(tmp_path):
    path = tmp_path / "err.h5"
    with pytest.raises(RuntimeError, match="boom"):
        with SpikeFileWriter(path, {"a": 3}, flush_interval_s=3600.0, **_kw()) as w:
            w.write("a", 0, np.array([1.0, 2.0]), np.array([0, 1]))
            w.advance(2.5)
            raise RuntimeError("boom")
    assert w.closed
    info = file_info(path)
    assert info["complete"] is False and info["n_spikes"] == 2
    assert info["metadata"]["t_recorded_ms"] == 2.5
    assert info["populations"]["a"]["mean_rate_hz"] == pytest.approx(2 / (3 * 2.5e-3))
    w.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        w.write("a", 0, np.array([3.0]), np.array([0]))


def test_explicit_close_complete_false(tmp_path):
    path = tmp_path / "cf.h5"
    w = SpikeFileWriter(path, {"a": 3}, flush_interval_s=3600.0, **_kw())
    w.write("a", 0, np.array([1.0]), np.array([0]))
    w.close(complete=False)
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["complete"]) is False and f["spikes/a/timestamps"].shape == (1,)
    assert "SpikeFileWriter" in repr(w) and "closed" in repr(w)


def _interrupted_batch(path, finished=(0, 1), n_trials=4, duration=100.0):
    """A batch of whole trials (as run_trials writes them) interrupted after ``finished``: those trials hold
    spikes at 50 Hz for 10 neurons over ``duration`` ms and are marked finished; the others are empty."""
    w = SpikeFileWriter(path, {"a": 10}, n_trials=n_trials, **_kw(duration_ms=duration))
    for k in finished:
        t = np.repeat(np.arange(5) * 20.0 + 1.0 + k, 10)  # 5 spikes per neuron in 100 ms: 50 Hz
        w.write("a", k, t, np.tile(np.arange(10), 5))
        w.end_trial(k)
    w.close(complete=False)
    return path


def test_info_of_an_interrupted_batch_covers_the_finished_trials_only(tmp_path):
    info = file_info(_interrupted_batch(tmp_path / "cut.h5"))
    assert info["complete"] is False and info["n_trials"] == 4
    assert info["n_trials_finished"] == 2 and info["trials_used"] == [0, 1] and info["recorded_ms"] == 100.0
    a = info["populations"]["a"]
    assert a["n_spikes_per_trial"] == [50, 50, 0, 0]
    assert a["mean_rate_hz"] == pytest.approx(50.0)  # not 50 * 2 / 4 over t_recorded_ms, the last spike + dt
    with SpikeFileReader(tmp_path / "cut.h5") as r:
        assert r.finished_trials == [0, 1] and r.recorded_trials() == ([0, 1], 100.0)


def test_info_of_trials_run_together_and_interrupted_covers_every_trial_up_to_the_stated_time(tmp_path):
    path = tmp_path / "lockstep.h5"
    w = SpikeFileWriter(path, {"a": 10}, n_trials=2, **_kw())
    w.advance(0.0)
    for k in range(2):
        w.write("a", k, np.array([1.0, 2.0]), np.array([0, 1]))
    w.advance(10.0)
    w.close(complete=False)
    info = file_info(path)
    assert info["n_trials_finished"] == 0 and info["trials_used"] == [0, 1] and info["recorded_ms"] == 10.0
    assert info["populations"]["a"]["mean_rate_hz"] == pytest.approx(2 / (10 * 10e-3))


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from engine.io.spikefile import SpikeFileWriter
    path, mode = sys.argv[1], sys.argv[2]

    def chunk(c):
        t = c * 10.0 + np.arange(50) * 0.2
        return t, (np.arange(50) * 7 + c) % 100

    w = SpikeFileWriter(path, {"exc": 100}, dt_ms=0.1, duration_ms=1e6, seed=1,
                        flush_interval_s=0.05, chunk_rows=64)
    with w:
        c = 0
        while True:
            w.write("exc", 0, *chunk(c))
            c += 1
            flushed = sum(w._n_written.values())
            print(f"{c} {sum(w.n_spikes.values())} {flushed}", flush=True)
            time.sleep(0.01)
""")


def _expected_prefix(n):
    t = np.concatenate([c * 10.0 + np.arange(50) * 0.2 for c in range(n // 50 + 1)])
    ids = np.concatenate([(np.arange(50) * 7 + c) % 100 for c in range(n // 50 + 1)])
    return t[:n], ids[:n]


def _run_child(tmp_path, mode, stop_after_flushes=3):
    path = tmp_path / f"{mode}.h5"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(), cwd=str(REPO))
    last = None
    flush_values = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        last = tuple(int(x) for x in line.split())
        flush_values.add(last[2])
        if len(flush_values - {0}) >= stop_after_flushes:
            break
    assert last is not None, proc.stderr.read()
    proc.send_signal(signal.SIGKILL if mode == "kill" else signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    for ln in out.splitlines():  # lines printed between our last read and the signal
        if ln.strip():
            last = tuple(int(x) for x in ln.split())
    return path, proc.returncode, last, err


@pytest.mark.subprocess
def test_read_while_a_run_is_writing(tmp_path):
    script = tmp_path / "live.py"
    script.write_text(textwrap.dedent('''
        import sys, time
        import numpy as np
        from engine.io.spikefile import SpikeFileWriter
        w = SpikeFileWriter(sys.argv[1], {"a": 3}, dt_ms=0.1, duration_ms=10.0, seed=1, flush_interval_s=0.0)
        w.write("a", 0, np.array([1.0, 2.0]), np.array([0, 2]))
        print("flushed", flush=True)
        sys.stdin.readline()
        w.close()
    '''))
    path = tmp_path / "live.h5"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=_env(), cwd=str(REPO))
    try:
        assert proc.stdout.readline().strip() == "flushed"
        info = file_info(path)  # the writer holds the HDF5 lock
        assert info["complete"] is False and info["n_spikes"] == 2
        np.testing.assert_array_equal(read_spikes(path)[1], [0, 2])
    finally:
        proc.communicate("\n", timeout=30)
    assert proc.returncode == 0 and file_info(path)["complete"] is True


@pytest.mark.subprocess
def test_sigkill_leaves_readable_file_up_to_last_flush(tmp_path):
    path, rc, (chunks, accepted, flushed), _ = _run_child(tmp_path, "kill")
    assert rc == -signal.SIGKILL
    assert flushed > 0  # the time-based flush ran on its own
    with h5py.File(path, "r") as f:  # h5py opens it
        assert bool(f.attrs["complete"]) is False
    t, ids = read_spikes(path, "exc")
    assert flushed <= t.size <= accepted
    et, eids = _expected_prefix(t.size)
    np.testing.assert_array_equal(t, et)
    np.testing.assert_array_equal(ids, eids)
    assert file_info(path)["complete"] is False


@pytest.mark.subprocess
def test_sigint_keeps_every_spike(tmp_path):
    path, rc, (chunks, accepted, flushed), err = _run_child(tmp_path, "int")
    assert rc != 0 and "KeyboardInterrupt" in err
    t, ids = read_spikes(path, "exc")
    assert t.size >= accepted  # everything accepted before the interruption, not just up to the last flush
    et, eids = _expected_prefix(t.size)
    np.testing.assert_array_equal(t, et)
    np.testing.assert_array_equal(ids, eids)
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["complete"]) is False and bool(f.attrs["closed"]) is True


_FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np
    from engine.io.spikefile import SpikeFileWriter, SpikeFileError
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))
    w = SpikeFileWriter(sys.argv[1], {"a": 1000}, dt_ms=0.1, duration_ms=1e6, seed=1, compression=None,
                        flush_interval_s=0.0, chunk_rows=1024)
    try:
        for c in range(10_000):
            w.write("a", 0, c + np.arange(1000) * 1e-4, np.arange(1000))
        w.close()
    except SpikeFileError as e:
        print("ERROR", e)
        sys.exit(3)
""")


@pytest.mark.subprocess
@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_full_disk_raises_clear_error_and_file_not_complete(tmp_path):
    path = tmp_path / "full.h5"
    script = tmp_path / "full.py"
    script.write_text(_FULL_DISK)
    proc = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True, env=_env(),
                          cwd=str(REPO), timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert str(path) in proc.stdout and "no room" in proc.stdout and "complete=False" in proc.stdout
    info = file_info(path)  # detected before HDF5 wrote: the file stays readable up to the last flush
    assert info["complete"] is False
    n = info["n_spikes"]
    assert 0 < n < 10_000 * 1000 and n % 1000 == 0
    t, ids = read_spikes(path)
    np.testing.assert_array_equal(ids, np.tile(np.arange(1000), n // 1000))
    np.testing.assert_array_equal(t[:1000], np.arange(1000) * 1e-4)


def test_write_error_is_wrapped_and_sticky(tmp_path, monkeypatch):
    path = tmp_path / "enospc.h5"
    w = SpikeFileWriter(path, {"a": 3}, flush_interval_s=3600.0, **_kw())
    w.write("a", 0, np.array([1.0]), np.array([0]))

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(w._file, "flush", full)
    with pytest.raises(SpikeFileError, match="No space left on device"):
        w.flush()
    assert w.closed
    with pytest.raises(SpikeFileError, match="unusable"):
        w.write("a", 0, np.array([2.0]), np.array([0]))
    w.close()  # no-op after failure
    leaked = sf_format._FAILED_FILES.pop()  # kept open on purpose after a real HDF5 failure; this one is safe to close
    monkeypatch.undo()
    leaked.close()
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["complete"]) is False


def test_no_room_on_disk_is_detected_before_writing(tmp_path, monkeypatch):
    path = tmp_path / "nospace.h5"
    w = SpikeFileWriter(path, {"a": 3}, flush_interval_s=3600.0, **_kw())
    w.write("a", 0, np.array([1.0]), np.array([0]))
    w.flush()
    w.write("a", 0, np.array([2.0]), np.array([1]))

    class _St:
        f_bavail, f_frsize = 1, 4096

    monkeypatch.setattr(sf.os, "statvfs", lambda d: _St())
    with pytest.raises(SpikeFileError, match="no room to write spike file .* free on the disk"):
        w.close()
    monkeypatch.undo()
    assert w.closed
    info = file_info(path)
    assert info["complete"] is False and info["n_spikes"] == 1


# ---------------------------------------------------------------------------------------------------------------------
# path errors
# ---------------------------------------------------------------------------------------------------------------------
def test_refuses_existing_path(tmp_path):
    path = tmp_path / "exists.h5"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=str(path)):
        SpikeFileWriter(path, {"a": 1}, **_kw())
    assert path.read_bytes() == b"keep me"
    with SpikeFileWriter(path, {"a": 1}, overwrite=True, **_kw()) as w:
        w.write("a", 0, np.array([1.0]), np.array([0]))
    assert read_spikes(path)[0].tolist() == [1.0]


def test_unwritable_path(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    path = blocker / "spikes.h5"  # parent is a regular file: cannot be created, even as root
    with pytest.raises(SpikeFileError, match="cannot create spike file"):
        SpikeFileWriter(path, {"a": 1}, **_kw())
    with pytest.raises(SpikeFileError, match=str(tmp_path / "missing_dir")):
        SpikeFileWriter(tmp_path / "missing_dir" / "s.h5", {"a": 1}, **_kw())
    assert not (tmp_path / "missing_dir").exists()


def test_directory_path(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        SpikeFileWriter(tmp_path, {"a": 1}, **_kw())


def test_unstorable_extra_attr_removes_file(tmp_path):
    path = tmp_path / "x.h5"
    with pytest.raises(TypeError, match="extra_attrs"):
        SpikeFileWriter(path, {"a": 1}, extra_attrs={"obj": object()}, **_kw())
    assert not path.exists()


# ---------------------------------------------------------------------------------------------------------------------
# validation errors: constructor, write, reader
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("over, exc, match", [
    (dict(path=3.5), TypeError, "path"),
    (dict(populations=[("a", 1)]), TypeError, "populations must be a dict"),
    (dict(populations={}), ValueError, "populations is empty"),
    (dict(populations={1: 3}), TypeError, "population name 1"),
    (dict(populations={"a/b": 3}), ValueError, "'a/b'"),
    (dict(populations={"": 3}), ValueError, "non-empty"),
    (dict(populations={"a": 0}), ValueError, r"populations\['a'\]"),
    (dict(populations={"a": 2.0}), TypeError, "integer"),
    (dict(n_trials=0), ValueError, "n_trials"),
    (dict(n_trials=1.0), TypeError, "n_trials"),
    (dict(dt_ms=0.0), ValueError, "dt_ms"),
    (dict(dt_ms=float("nan")), ValueError, "finite"),
    (dict(dt_ms="0.1"), TypeError, "dt_ms"),
    (dict(duration_ms=-1.0), ValueError, "duration_ms"),
    (dict(seed=1.5), TypeError, "seed"),
    (dict(seed=2 ** 64), ValueError, "64 bits"),
    (dict(model=[1, 2]), TypeError, "model must be a dict"),
    (dict(model={"f": object()}), TypeError, "JSON"),
    (dict(overwrite="yes"), TypeError, "overwrite"),
    (dict(flush_interval_s=-1.0), ValueError, "flush_interval_s"),
    (dict(compression="zstd"), ValueError, "compression"),
    (dict(chunk_rows=0), ValueError, "chunk_rows"),
    (dict(extra_attrs=[1]), TypeError, "extra_attrs must be a dict"),
    (dict(extra_attrs={"complete": True}), ValueError, "reserved"),
    (dict(extra_attrs={3: 1}), TypeError, "extra_attrs key"),
])
def test_writer_validation(tmp_path, over, exc, match):
    kw = dict(path=tmp_path / "v.h5", populations={"a": 3}, **_kw())
    kw.update(over)
    with pytest.raises(exc, match=match):
        SpikeFileWriter(kw.pop("path"), kw.pop("populations"), **kw)
    assert not (tmp_path / "v.h5").exists()


@pytest.mark.parametrize("args, exc, match", [
    (("b", 0, [1.0], [0]), ValueError, "population 'b' is unknown"),
    (("a", 1.0, [1.0], [0]), TypeError, "trial"),
    (("a", 2, [1.0], [0]), ValueError, "out of range"),
    (("a", -1, [1.0], [0]), ValueError, "out of range"),
    (("a", 0, [[1.0]], [[0]]), ValueError, "1-D"),
    (("a", 0, [1.0, 2.0], [0]), ValueError, "differ in length"),
    (("a", 0, ["x"], [0]), TypeError, "real numbers"),
    (("a", 0, [1.0], [0.5]), TypeError, "integers"),
    (("a", 0, [np.inf], [0]), ValueError, "non-finite"),
    (("a", 0, [-1.0], [0]), ValueError, ">= 0"),
    (("a", 0, [2.0, 1.0], [0, 0]), ValueError, "non-decreasing"),
    (("a", 0, [4.0], [0]), ValueError, "before the last spike"),
    (("a", 0, [6.0], [3]), ValueError, "node id 3 is out of range"),
    (("a", 0, [6.0], [-1]), ValueError, "node id -1"),
])
def test_write_validation(tmp_path, args, exc, match):
    w = SpikeFileWriter(tmp_path / "w.h5", {"a": 3}, n_trials=2, **_kw())
    w.write("a", 0, np.array([5.0]), np.array([1]))
    pop, trial, t, ids = args
    with pytest.raises(exc, match=match):
        w.write(pop, trial, np.array(t), np.array(ids))
    w.close()
    assert read_spikes(tmp_path / "w.h5", "a").__getitem__(0).tolist() == [5.0]


def test_advance_validation(tmp_path):
    with SpikeFileWriter(tmp_path / "adv.h5", {"a": 3}, **_kw()) as w:
        with pytest.raises(ValueError, match="t_ms"):
            w.advance(-1.0)


@pytest.fixture
def two_pop_file(tmp_path):
    path = tmp_path / "two.h5"
    with SpikeFileWriter(path, {"e": 4, "i": 2}, n_trials=2, **_kw()) as w:
        w.write("e", 0, np.array([1.0, 2.0]), np.array([0, 3]))
    return path


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(), ValueError, "choose one with population="),
    (dict(population=3), TypeError, "population = 3"),
    (dict(population="x"), ValueError, "population 'x' is not in"),
    (dict(population="e", trial=2), ValueError, "trials 0..1"),
    (dict(population="e", trial="0"), TypeError, "trial"),
    (dict(population="e", t_start=5.0, t_stop=1.0), ValueError, "before t_start"),
    (dict(population="e", t_start=float("nan")), ValueError, "finite"),
])
def test_reader_validation(two_pop_file, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        read_spikes(two_pop_file, **kwargs)


def test_reader_block_rows_validation(two_pop_file):
    with SpikeFileReader(two_pop_file) as r, pytest.raises(ValueError, match="block_rows"):
        list(r.iter_blocks("e", block_rows=0))


def test_reader_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_spikes(tmp_path / "nope.h5")
    with pytest.raises(IsADirectoryError):
        file_info(tmp_path)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(SpikeFileError, match="cannot open"):
        file_info(junk)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("other")
    with pytest.raises(SpikeFileError, match="no /spikes group"):
        spike_trains(empty)
    broken = tmp_path / "broken.h5"
    with h5py.File(broken, "w") as f:
        f.create_group("spikes/a")
    with pytest.raises(SpikeFileError, match="no timestamps"):
        read_spikes(broken)
    with h5py.File(broken, "a") as f:
        f["spikes/a/timestamps"] = [1.0]
    with pytest.raises(SpikeFileError, match="no node_ids"):
        read_spikes(broken)


def test_sorting_dtype_is_libsonata_enum():
    assert h5py.check_enum_dtype(SORTING_DTYPE) == {"none": 0, "by_id": 1, "by_time": 2}


# ---------------------------------------------------------------------------------------------------------------------
# NWB export
# ---------------------------------------------------------------------------------------------------------------------
def test_nwb_round_trip(tmp_path):
    pynwb = reference_tool("pynwb")
    from engine.io.nwb import export_nwb

    rng = np.random.default_rng(5)
    sizes = {"exc": 8, "inh": 3}
    chunks = _random_run(rng, 5, sizes, n_trials=2, rate=10)
    path = tmp_path / "src.h5"
    _write(path, sizes, chunks, n_trials=2, model={"name": "toy"})
    out = export_nwb(path, tmp_path / "out.nwb", trial=1)
    with pynwb.NWBHDF5IO(out, "r") as io:
        nwb = io.read()
        units = nwb.units
        assert len(units) == 11
        assert list(units["population"][:]) == ["exc"] * 8 + ["inh"] * 3
        assert list(units["node_id"][:]) == list(range(8)) + list(range(3))
        row = 0
        for pop in ("exc", "inh"):
            expected = spike_trains(path, pop, 1)
            for k in range(sizes[pop]):
                np.testing.assert_allclose(units["spike_times"][row], expected[k] / 1000.0)
                row += 1
        assert json.loads(nwb.notes)["model"] == {"name": "toy"}
    with h5py.File(out, "r") as f:  # the NWB layout itself
        assert "spike_times" in f["units"] and "spike_times_index" in f["units"]
    with pytest.raises(FileExistsError, match="out.nwb"):
        export_nwb(path, tmp_path / "out.nwb")
    export_nwb(path, tmp_path / "out.nwb", population="inh", overwrite=True)
    with pynwb.NWBHDF5IO(str(tmp_path / "out.nwb"), "r") as io:
        assert len(io.read().units) == 3


def test_nwb_from_arrays_and_validation(tmp_path):
    pynwb = reference_tool("pynwb")
    from engine.io.nwb import write_nwb_units

    out = write_nwb_units(tmp_path / "a.nwb", np.array([5.0, 1.0, 3.0]), np.array([2, 0, 2]), 4, population="p")
    with pynwb.NWBHDF5IO(out, "r") as io:
        u = io.read().units
        assert [list(u["spike_times"][i]) for i in range(4)] == [[0.001], [], [0.003, 0.005], []]
    with pytest.raises(ValueError, match="equal length"):
        write_nwb_units(tmp_path / "b.nwb", np.array([1.0]), np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="n_units"):
        write_nwb_units(tmp_path / "b.nwb", np.array([1.0]), np.array([0]), 0)
    with pytest.raises(TypeError, match="integers"):
        write_nwb_units(tmp_path / "b.nwb", np.array([1.0]), np.array([0.5]), 2)
    with pytest.raises(ValueError, match="node ids must lie"):
        write_nwb_units(tmp_path / "b.nwb", np.array([1.0]), np.array([2]), 2)
    with pytest.raises(TypeError, match="overwrite"):
        write_nwb_units(tmp_path / "b.nwb", np.array([1.0]), np.array([0]), 2, overwrite="yes")


def test_many_trials_get_shorter_chunks(tmp_path, monkeypatch):
    w = SpikeFileWriter(tmp_path / "batch.h5", {"e": 4, "i": 2}, n_trials=200, chunk_rows=65536, **_kw())
    assert w.chunk_rows == (1 << 22) // 400
    w.close()
    with h5py.File(tmp_path / "batch.h5", "r") as f:
        assert f["trials/199/spikes/i/node_ids"].chunks == ((1 << 22) // 400,)
    monkeypatch.setattr(sf, "_CHUNK_ROWS_BUDGET", 10_000)
    w = SpikeFileWriter(tmp_path / "huge.h5", {"e": 4}, n_trials=20, chunk_rows=65536, compression=None, **_kw())
    assert w.chunk_rows == 1024  # 10 000 / 20 = 500 is below the floor
    w.close()


def test_advance_flushes_on_interval(tmp_path):
    w = SpikeFileWriter(tmp_path / "adv.h5", {"a": 3}, flush_interval_s=0.0, **_kw())
    w.write("a", 0, np.array([1.0]), np.array([0]))
    w._buffers[("a", 0)].append((np.array([2.0]), np.array([1])))  # as if the interval had not passed yet
    w._n_buffered += 1
    w.advance(5.0)
    assert w._n_buffered == 0 and w._n_written[("a", 0)] == 2
    with h5py.File(tmp_path / "adv.h5", "r") as f:
        assert f.attrs["t_recorded_ms"] == 5.0
    w.close()


@pytest.mark.parametrize("damage, words", [
    ("node_id", r"row 1 has node id 7 \(the population has 5 nodes\); the file is damaged"),
    ("nan", r"row 1 has timestamp nan; the file is damaged"),
    ("lengths", r"has 3 timestamps but 2 node ids; a complete file holds one node id per timestamp"),
])
def test_damaged_spikes_are_refused_by_every_reader(tmp_path, damage, words):
    """Issue 25 (minor): a node id outside the population, a NaN timestamp or unequal datasets in a complete file
    passed ``info`` and ``plot``, and ``to_neo`` dropped the bad spike silently; every read now names the row."""
    from engine.io.neo_export import to_neo

    path = tmp_path / "s.h5"
    with SpikeFileWriter(path, {"p": 5}, dt_ms=0.1, duration_ms=10.0, seed=1) as w:
        w.write("p", 0, np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2]))
    with h5py.File(path, "r+") as f:
        g = f["spikes/p"]
        if damage == "node_id":
            g["node_ids"][1] = 7
        elif damage == "nan":
            g["timestamps"][1] = np.nan
        else:
            ids = g["node_ids"][:2]
            del g["node_ids"]
            g.create_dataset("node_ids", data=ids)
    for read in (lambda: file_info(path), lambda: read_spikes(path, "p"), lambda: to_neo(path)):
        with pytest.raises(SpikeFileError, match=words):
            read()
