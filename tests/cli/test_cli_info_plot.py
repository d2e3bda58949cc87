"""The ``pond`` command line (info, plot, version, stubs) as subprocesses and in-process, and pond.plotting."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.io.spikefile import SpikeFileWriter, file_info
from pond import __version__
from pond.cli import main

pytest.importorskip("matplotlib")
from conftest import REPO, one_line_error

from pond.plotting import raster_plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def pond(*args, timeout=60):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([sys.executable, "-m", "pond", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(REPO))


@pytest.fixture(scope="module")
def spike_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "spikes.h5"
    rng = np.random.default_rng(0)
    with SpikeFileWriter(path, {"exc": 80, "inh": 20}, n_trials=2, dt_ms=0.1, duration_ms=500.0, seed=42,
                         model={"name": "toy", "populations": {"exc": 80, "inh": 20}}) as w:
        for c in range(50):
            for pop, n in w.populations.items():
                for trial in range(2):
                    k = int(rng.poisson(n * 0.1))
                    w.write(pop, trial, np.sort(rng.uniform(10 * c, 10 * (c + 1), k)), rng.integers(0, n, k))
    return path


@pytest.fixture(scope="module")
def million_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "million.h5"
    rng = np.random.default_rng(1)
    with SpikeFileWriter(path, {"exc": 100_000}, dt_ms=0.1, duration_ms=1000.0, seed=1) as w:
        for c in range(100):
            t = np.sort(rng.uniform(10 * c, 10 * (c + 1), 10_000))
            w.write("exc", 0, t, rng.integers(0, 100_000, t.size))
    return path


# ---------------------------------------------------------------------------------------------------------------------
# subprocess: every subcommand
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.subprocess
def test_version_and_help():
    proc = pond("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"pond {__version__}"
    proc = pond("--help")
    assert proc.returncode == 0
    for cmd in ("run", "info", "plot", "bench", "demo"):
        assert cmd in proc.stdout
    for cmd, option in (("info", "--json"), ("plot", "--t-start"), ("run", "MODEL.toml"), ("bench", "--json"),
                        ("demo", "--debug")):
        sub = pond(cmd, "--help")
        assert sub.returncode == 0 and option in sub.stdout, sub.stdout


@pytest.mark.subprocess
def test_no_command_is_usage_error():
    proc = pond()
    assert proc.returncode == 2 and "usage" in proc.stderr


@pytest.mark.subprocess
def test_info_subprocess(spike_file):
    proc = pond("info", spike_file)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "complete" in out and "INCOMPLETE" not in out
    assert "seed 42" in out and "dt 0.1 ms" in out and "duration 500 ms" in out and "trials 2" in out
    info = file_info(spike_file)
    for name, p in info["populations"].items():
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        assert str(p["size"]) in line and str(p["n_spikes"]) in line and "by_time" in line
    assert "model: name, populations" in out
    proc = pond("info", spike_file, "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert data["populations"]["exc"]["n_spikes"] == info["populations"]["exc"]["n_spikes"]
    assert data["metadata"]["model"]["name"] == "toy" and data["metadata"]["seed"] == 42


@pytest.mark.subprocess
def test_plot_subprocess(spike_file, tmp_path):
    out = tmp_path / "raster.png"
    proc = pond("plot", spike_file, "-o", out, "--population", "exc", "--t-start", "100", "--t-stop", "200",
                "--trial", "1")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG
    assert "wrote" in proc.stdout and "100-200 ms" in proc.stdout


@pytest.mark.subprocess
def test_plot_million_spikes_is_fast_and_capped(million_file, tmp_path):
    out = tmp_path / "million.png"
    proc = pond("plot", million_file, "-o", out, "--max-points", "50000", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == PNG
    assert "1000000 spikes" in proc.stdout and "drawn" in proc.stdout


@pytest.mark.subprocess
def test_run_without_model_is_a_usage_error():
    # run, bench and demo themselves are tested in test_cli_run.py
    one_line_error(pond("run"), rc=2)
    one_line_error(pond("bench", "nonesuch"), rc=2)


@pytest.mark.subprocess
def test_errors_are_one_line_without_traceback(tmp_path, spike_file):
    line = one_line_error(pond("info", tmp_path / "missing.h5"))
    assert "missing.h5" in line and "does not exist" in line
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    one_line_error(pond("info", junk))
    one_line_error(pond("plot", spike_file, "-o", tmp_path / "x.png", "--population", "nope"))
    one_line_error(pond("plot", spike_file, "-o", tmp_path / "x.png", "--t-start", "abc"), rc=2)
    one_line_error(pond("plot", spike_file), rc=2)  # -o missing
    one_line_error(pond("frobnicate"), rc=2)


@pytest.mark.subprocess
def test_debug_shows_traceback(tmp_path):
    proc = pond("--debug", "info", tmp_path / "missing.h5")
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "FileNotFoundError" in proc.stderr
    proc = pond("info", tmp_path / "missing.h5", "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


# ---------------------------------------------------------------------------------------------------------------------
# in-process: options and error paths
# ---------------------------------------------------------------------------------------------------------------------
def test_info_incomplete_file(tmp_path, capsys):
    path = tmp_path / "partial.h5"
    w = SpikeFileWriter(path, {"a": 10}, dt_ms=0.1, duration_ms=1000.0, seed=None, extra_attrs={"note": "x"})
    w.write("a", 0, np.array([1.0, 2.0]), np.array([0, 1]))
    w.advance(100.0)
    w.close(complete=False)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "recorded 100 ms" in out and "note: x" in out and "seed" not in out
    assert "2" in out and "2 spikes" in out


@pytest.mark.parametrize("argv, match", [
    (["--population", "nope"], "population 'nope' is not in"),
    (["--t-start", "300", "--t-stop", "200"], "before t_start"),
    (["--trial", "5"], "out of range"),
    (["--t-start", "500", "--t-stop", "500"], "empty time window"),
])
def test_plot_errors_in_process(spike_file, tmp_path, capsys, argv, match):
    assert main(["plot", str(spike_file), "-o", str(tmp_path / "p.png"), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pond: error:") and match in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--max-points", "0"], ["--bin-ms", "-1"], ["--trial", "-1"], ["--dpi", "x"],
                                  ["--t-stop", "nan"]])
def test_plot_usage_errors(spike_file, tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(["plot", str(spike_file), "-o", str(tmp_path / "p.png"), *argv])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err


def test_plot_bad_output(spike_file, tmp_path, capsys):
    assert main(["plot", str(spike_file), "-o", str(tmp_path / "no_dir" / "p.png")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["plot", str(spike_file), "-o", str(tmp_path / "p.xyz")]) == 1
    assert "cannot save plot" in capsys.readouterr().err


def test_no_command_in_process(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# pond.plotting
# ---------------------------------------------------------------------------------------------------------------------
def test_raster_plot_all_populations(spike_file, tmp_path):
    s = raster_plot(spike_file, tmp_path / "all.png")
    info = file_info(spike_file)
    assert s["n_spikes"] == info["populations"]["exc"]["n_spikes_per_trial"][0] + \
        info["populations"]["inh"]["n_spikes_per_trial"][0]
    assert s["n_plotted"] == s["n_spikes"] and s["t_start"] == 0.0 and s["t_stop"] == 500.0
    assert s["bin_ms"] == pytest.approx(2.5)
    assert (tmp_path / "all.png").read_bytes()[:8] == PNG


def test_raster_plot_downsamples(million_file, tmp_path):
    s = raster_plot(million_file, tmp_path / "m.svg", max_points=1000, t_start=100.0, t_stop=300.0, bin_ms=5.0)
    assert 190_000 < s["n_spikes"] < 210_000
    assert 500 < s["n_plotted"] < 1500
    assert (tmp_path / "m.svg").stat().st_size < 2_000_000  # rasterized, not 200 000 vector markers


def test_raster_plot_foreign_and_empty(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        g = f.create_group("spikes/V1")
        g.attrs["sorting"] = "none"
        g.create_dataset("timestamps", data=[30.0, 10.0, 20.0])
        g.create_dataset("node_ids", data=np.array([2, 0, 1], np.uint64))
    s = raster_plot(foreign, tmp_path / "f.png")
    assert s["n_spikes"] == 3 and s["t_stop"] == 30.0
    empty = tmp_path / "empty.h5"
    SpikeFileWriter(empty, {"a": 3}, dt_ms=0.1, duration_ms=10.0, seed=0).close()
    s = raster_plot(empty, tmp_path / "e.png")
    assert s["n_spikes"] == 0 and s["t_stop"] == 10.0


@pytest.mark.parametrize("kw, exc, match", [
    (dict(max_points=0), ValueError, "max_points"),
    (dict(max_points=1.5), ValueError, "max_points"),
    (dict(bin_ms=0.0), ValueError, "bin_ms"),
    (dict(bin_ms=float("inf")), ValueError, "bin_ms"),
])
def test_raster_plot_validation(spike_file, tmp_path, kw, exc, match):
    with pytest.raises(exc, match=match):
        raster_plot(spike_file, tmp_path / "v.png", **kw)


def test_raster_plot_missing_directory(spike_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        raster_plot(spike_file, tmp_path / "nope" / "v.png")
