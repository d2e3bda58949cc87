"""Reader semantics that a mutation would break: the time window is half-open, [t_start, t_stop), in every reading
path, and a population without a ``sorting`` attribute is not assumed to be sorted by time."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from engine.io.spikefile import SpikeFileReader, SpikeFileWriter, read_spikes

TIMES = np.array([1.0, 2.0, 2.0, 3.0, 4.0])


@pytest.fixture
def pond_file(tmp_path):
    path = tmp_path / "sorted.h5"
    with SpikeFileWriter(path, {"a": 5}, dt_ms=0.1, duration_ms=10.0, seed=1, chunk_rows=2) as w:
        w.write("a", 0, TIMES, np.arange(5))
    return path


@pytest.fixture
def unsorted_file(tmp_path):
    """A foreign file: spikes by neuron, not by time, and no ``sorting`` attribute at all."""
    path = tmp_path / "unsorted.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("spikes/a")
        g.create_dataset("timestamps", data=[4.0, 2.0, 3.0, 1.0, 2.0])
        g.create_dataset("node_ids", data=np.array([0, 1, 2, 3, 4], np.uint64))
    return path


@pytest.mark.parametrize("fixture", ["pond_file", "unsorted_file"])
@pytest.mark.parametrize("t0, t1, n", [(2.0, 3.0, 2), (1.0, 4.0, 4), (2.0, 2.0, 0), (0.0, 1.0, 0), (4.0, 5.0, 1),
                                       (None, 3.0, 3), (3.0, None, 2)])
def test_window_is_half_open(request, fixture, t0, t1, n):
    path = request.getfixturevalue(fixture)
    with SpikeFileReader(path) as r:
        assert r.count("a", 0, t0, t1) == n
        t, _ = r.read("a", 0, t0, t1)
        assert t.size == n
        assert np.all(t >= (t0 if t0 is not None else -np.inf)) and np.all(t < (t1 if t1 is not None else np.inf))
        assert sum(b[0].size for b in r.iter_blocks("a", 0, t0, t1, block_rows=1)) == n


def test_missing_sorting_attribute_is_not_by_time(unsorted_file):
    with SpikeFileReader(unsorted_file) as r:
        assert r.sorting("a") == "none"
        t, ids = r.read("a", t_start=2.0, t_stop=4.0)
    assert sorted(zip(t.tolist(), ids.tolist())) == [(2.0, 1), (2.0, 4), (3.0, 2)]
    t, _ = read_spikes(unsorted_file, t_start=3.5)
    assert t.tolist() == [4.0]
