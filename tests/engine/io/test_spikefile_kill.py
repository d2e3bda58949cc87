"""A killed writer leaves every population and trial recorded up to the one time the file states (issue 7)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.io.spikefile import SpikeFileReader, SpikeFileWriter, file_info
from engine.io.spikefile import writer as sf_writer
from conftest import REPO

POPS = {"exc": 8, "inh": 2}
TRIALS = 2


def _chunk(pop: str, trial: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of chunk c ([100 c, 100 c + 100) ms): one per ms, the last at 100 c + 99.9."""
    t = 100.0 * c + np.append(np.arange(99.0), 99.9)
    return t, (np.arange(t.size) + c + trial + (pop == "inh")) % POPS[pop]


# A driver like the simulator: advance(t0), then per chunk every (population, trial), then advance(t_end). The kill
# comes in chunk 1 (see MODE), after chunk 0 was flushed; flush_interval_s=0 flushes whenever the writer may.
_CHILD = textwrap.dedent("""
    import os, sys
    import h5py
    from engine.io.spikefile import SpikeFileWriter
    from engine.io.spikefile import writer as sf_writer
    from test_spikefile_kill import POPS, TRIALS, _chunk
    path, mode = sys.argv[1], sys.argv[2]
    w = SpikeFileWriter(path, POPS, n_trials=TRIALS, dt_ms=0.1, duration_ms=1000.0, seed=1, flush_interval_s=0.0)
    w.advance(0.0)
    for c in range(2):
        if c == 1 and mode == "mid_flush":  # die inside the flush, once exc is on disk and before inh is
            resize = h5py.Dataset.resize
            def dying_resize(ds, size):
                if ds.name.startswith("/spikes/inh"):
                    ds.file.flush()
                    os._exit(9)
                return resize(ds, size)
            h5py.Dataset.resize = dying_resize
        if c == 1 and mode == "memory":  # a flush forced by the buffer limit, between populations
            sf_writer._MAX_BUFFER_ROWS = 1
        for trial in range(TRIALS):
            for pop in POPS:
                w.write(pop, trial, *_chunk(pop, trial, c))
                if c == 1 and pop == "exc" and trial == 0 and mode != "mid_flush":
                    os._exit(9)  # killed between the populations of one chunk
        w.advance(100.0 * (c + 1))
""")


@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["between_populations", "mid_flush", "memory"])
def test_kill_leaves_every_population_at_the_stated_time(tmp_path, mode):
    path = tmp_path / f"{mode}.h5"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), str(Path(__file__).parent),
                                                   os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), mode], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 9, proc.stderr
    if mode != "between_populations":  # exc (trial 0) really is on disk past the stated time
        with h5py.File(path, "r") as f:
            assert f["spikes/exc/timestamps"][-1] > 100.0
    with SpikeFileReader(path) as r:
        assert not r.complete and r.attrs["t_recorded_ms"] == 100.0
        for trial in range(TRIALS):
            for pop in POPS:
                t, ids = r.read(pop, trial)
                et, eids = _chunk(pop, trial, 0)
                np.testing.assert_array_equal(t, et)
                np.testing.assert_array_equal(ids, eids)
                assert r.count(pop, trial) == r.count(pop, trial, 0.0, 1000.0) == et.size
    info = file_info(path)
    for p in info["populations"].values():
        assert p["n_spikes_per_trial"] == [100] * TRIALS and p["t_last_ms"] == 99.9


def test_stated_time_moves_only_after_the_spikes_before_it_are_on_disk(tmp_path, monkeypatch):
    """Within a flush, every dataset is written and flushed before t_recorded_ms changes."""
    order = []
    w = SpikeFileWriter(tmp_path / "order.h5", POPS, dt_ms=0.1, duration_ms=1000.0, seed=1, flush_interval_s=1e9)
    w.advance(0.0)
    for pop in POPS:
        w.write(pop, 0, *_chunk(pop, 0, 0))
    w.advance(100.0)
    file_flush = w._file.flush
    attrs = w._file.attrs
    set_attr = type(attrs).__setitem__
    monkeypatch.setattr(w._file, "flush", lambda: (order.append("flush"), file_flush())[1])
    monkeypatch.setattr(type(attrs), "__setitem__",
                        lambda self, k, v: (order.append(k), set_attr(self, k, v))[1])
    w.flush()
    w.close(complete=False)
    assert order[:3] == ["flush", "t_recorded_ms", "flush"]


def test_writer_never_advanced_states_its_last_spike(tmp_path):
    """A writer used on its own (no advance) states the end of its last spike's step: nothing written is hidden."""
    path = tmp_path / "plain.h5"
    w = SpikeFileWriter(path, {"a": 3}, dt_ms=0.1, duration_ms=1000.0, seed=1, flush_interval_s=1e9)
    w.write("a", 0, np.array([1.0, 2.5]), np.array([0, 1]))
    w.close(complete=False)
    with SpikeFileReader(path) as r:
        assert r.attrs["t_recorded_ms"] == pytest.approx(2.6)
        np.testing.assert_array_equal(r.read("a")[0], [1.0, 2.5])


def test_memory_flush_does_not_advance_the_stated_time(tmp_path, monkeypatch):
    monkeypatch.setattr(sf_writer, "_MAX_BUFFER_ROWS", 1)
    path = tmp_path / "mem.h5"
    w = SpikeFileWriter(path, POPS, dt_ms=0.1, duration_ms=1000.0, seed=1, flush_interval_s=1e9)
    w.advance(0.0)
    w.write("exc", 0, *_chunk("exc", 0, 0))
    assert w._n_written[("exc", 0)] == 100  # flushed for memory ...
    assert w._stated_ms == 0.0  # ... without claiming any time
    w.close(complete=False)
    with SpikeFileReader(path) as r:
        assert r.count("exc") == 0 and r.count("inh") == 0
