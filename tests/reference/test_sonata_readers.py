"""The default spike file of ``pond run`` opens in libsonata's PyPI wheel (the reference SONATA reader), for every
shipped example and for trial 0 of a batch file, and follows the SONATA spike-file specification field by field."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import REPO, reference_tool

from engine.io.spikefile import SpikeFileReader, read_spikes
from pond.cli import main

# every shipped example but the full-scale microcircuit (0.3 billion synapses: its reduced form is tested in
# tests/test_microcircuit.py)
EXAMPLES = sorted(p.stem for p in (REPO / "pond" / "examples").glob("*.toml")
                  if p.stem != "microcircuit")
DURATION = "20ms"  # short runs; brunel's build (12.5 million synapses) is most of the time
RUN_MS = {"brunel": "20ms"}  # the others run 50 ms, long enough for every example to spike (column starts slowly)


def _pond_run(*args) -> None:
    assert main(["run", *map(str, args), "--quiet"]) == 0


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    """The default output of ``pond run NAME`` for every shipped example (run once for the module)."""
    d = tmp_path_factory.mktemp("sonata")
    files = {}
    for name in EXAMPLES:
        files[name] = d / f"{name}.h5"
        _pond_run(name, "--duration", RUN_MS.get(name, "50ms"), "-o", files[name])
    return files


def _assert_sonata_spec(path) -> None:
    """Attributes, dtypes and filters of the SONATA spike-file specification (SONATA_DEVELOPER_GUIDE, "Spike
    file" and "HDF5" conventions)."""
    with h5py.File(path, "r") as f:
        magic = f.attrs.get_id("magic")
        assert magic.dtype == np.dtype("<u4") and magic.shape == () and f.attrs["magic"] == 0x0A7A
        version = f.attrs.get_id("version")
        assert version.dtype == np.dtype("<u4") and version.shape == (2,)
        assert isinstance(f["spikes"], h5py.Group) and len(f["spikes"]) > 0
        for name, g in f["spikes"].items():
            assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {"none": 0, "by_id": 1, "by_time": 2}
            ts, ids = g["timestamps"], g["node_ids"]
            assert ts.dtype == np.dtype("<f8") and ids.dtype == np.dtype("<u8")  # H5T_IEEE_F64LE, H5T_STD_U64LE
            assert ts.shape == ids.shape and ts.ndim == 1
            units = ts.attrs.get_id("units")
            assert units.dtype.kind in "OS" and h5py.check_string_dtype(units.dtype).encoding == "utf-8"
            assert ts.attrs["units"] == "ms"
            for ds in (ts, ids):  # no filter that an HDF5 build without plugins (libsonata's wheels) lacks
                assert ds.compression is None and not ds.shuffle and not ds.fletcher32, (name, ds.name)


def _assert_libsonata_equals_pond(libsonata, path, trial: int = 0) -> int:
    """Every population as libsonata reads it equals pond's reader on ``trial``; returns the spikes compared."""
    reader = libsonata.SpikeReader(str(path))
    with SpikeFileReader(path) as r:
        assert sorted(reader.get_population_names()) == sorted(r.populations)
        n = 0
        for name in r.populations:
            pop = reader[name]
            assert pop.sorting == "by_time" and pop.time_units == "ms"
            t, ids = r.read(name, trial)
            d = pop.get_dict()
            np.testing.assert_array_equal(d["timestamps"], t)
            np.testing.assert_array_equal(d["node_ids"].astype(np.int64), ids)
            if t.size:
                assert pop.times == (t[0], t[-1])
                mid = float(t[t.size // 2])  # a time window, read by libsonata with its own binary search
                sel = (t >= mid) & (t <= t[-1])
                window = pop.get(tstart=mid, tstop=float(t[-1]))
                assert [(int(i), float(x)) for i, x in window] == list(zip(ids[sel].tolist(), t[sel].tolist()))
            n += t.size
    return n


@pytest.mark.reference
@pytest.mark.parametrize("name", EXAMPLES)
def test_libsonata_reads_default_output_of_every_example(example_files, name):
    libsonata = reference_tool("libsonata")
    path = example_files[name]
    _assert_sonata_spec(path)
    assert _assert_libsonata_equals_pond(libsonata, path) > 0  # the run produced spikes to compare


@pytest.mark.reference
def test_libsonata_reads_trial_0_of_a_batch_file(tmp_path):
    libsonata = reference_tool("libsonata")
    path = tmp_path / "batch.h5"
    _pond_run("noise", "--duration", DURATION, "--trials", 3, "-o", path)
    _assert_sonata_spec(path)
    n0 = _assert_libsonata_equals_pond(libsonata, path, trial=0)
    assert n0 > 0
    # the other trials stay out of the standard place, under /trials/<k>/spikes with the same layout
    with h5py.File(path, "r") as f:
        assert sorted(f["trials"]) == ["1", "2"]
    for k in (1, 2):
        t, _ = read_spikes(path, "lif", trial=k)
        assert t.size > 0
    single = tmp_path / "single.h5"
    _pond_run("noise", "--duration", DURATION, "-o", single)
    np.testing.assert_array_equal(libsonata.SpikeReader(str(single))["lif"].get_dict()["timestamps"],
                                  libsonata.SpikeReader(str(path))["lif"].get_dict()["timestamps"])


def test_compression_is_an_explicit_option(tmp_path):
    """``--compression gzip`` (and SpikeFileWriter(compression="gzip")) shrink the file for readers with zlib; the
    spikes are the same."""
    plain, packed = tmp_path / "plain.h5", tmp_path / "packed.h5"
    _pond_run("noise", "--duration", DURATION, "-o", plain)
    _pond_run("noise", "--duration", DURATION, "-o", packed, "--compression", "gzip")
    with h5py.File(packed, "r") as f:
        assert f["spikes/lif/timestamps"].compression == "gzip" and f["spikes/lif/node_ids"].compression == "gzip"
    for a, b in zip(read_spikes(plain), read_spikes(packed)):
        np.testing.assert_array_equal(a, b)
    assert packed.stat().st_size < plain.stat().st_size


def test_compression_option_refuses_unknown_filter(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "noise", "--duration", DURATION, "-o", str(tmp_path / "x.h5"), "--compression", "zstd"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--compression" in err and "zstd" in err and "gzip" in err
    assert not (tmp_path / "x.h5").exists()
