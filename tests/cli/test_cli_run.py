"""``pond run``, ``pond bench`` and ``pond demo`` as subprocesses on the shipped examples, and Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import REPO, one_line_error

from engine.io.spikefile import SpikeFileReader, file_info, read_spikes

PNG = b"\x89PNG\r\n\x1a\n"


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def pond(*args, cwd, timeout=120):
    return subprocess.run([sys.executable, "-m", "pond", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=_env(), cwd=str(cwd))


@pytest.mark.subprocess
@pytest.mark.parametrize("name, duration, sizes", [
    ("cuba", "50", {"exc": 3200, "inh": 800}),
    ("brunel", "20ms", {"exc": 10000, "inh": 2500}),
    ("column", "0.05s", {"exc": 108, "inh": 27, "pattern": 4}),
])
def test_run_each_example(tmp_path, name, duration, sizes):
    out = tmp_path / f"{name}.h5"
    proc = pond("run", REPO / "pond" / "examples" / f"{name}.toml", "-o", out, "--duration", duration, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for word in ("neurons", "synapses", "spikes", "Hz", "real-time factor", "synaptic events/s", "bytes/synapse"):
        assert word in proc.stdout
    info = file_info(out)
    assert info["complete"]
    meta = info["metadata"]
    assert meta["duration_ms"] == pytest.approx(50.0 if name != "brunel" else 20.0)
    assert meta["dt_ms"] == 0.1 and meta["model_file"] == f"{name}.toml"
    assert {p: v["size"] for p, v in info["populations"].items()} == sizes
    with h5py.File(out, "r") as f:
        model = json.loads(f.attrs["model_json"])
        assert f.attrs["seed"] == model["network"]["seed"]
    assert "[network]" in model["model_toml"] and len(model["network"]["populations"]) == 2
    t, ids = read_spikes(out, "exc")
    assert t.size > 0 and t.max() < meta["duration_ms"] and ids.max() < sizes["exc"]
    assert np.all(np.diff(t) >= 0)


@pytest.mark.subprocess
def test_run_options_seed_trials_plot_and_overwrite(tmp_path):
    pytest.importorskip("matplotlib")
    proc = pond("run", "column", "--duration", "30", "--trials", "2", "--seed", "5", "--threads", "2",
                "--plot", "r.png", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""
    out = tmp_path / "column_spikes.h5"  # default name: MODEL_spikes.h5 in the current directory
    with SpikeFileReader(out) as r:
        assert r.complete and r.attrs["n_trials"] == 2 and r.attrs["seed"] == 5
        assert r.count("exc", trial=1) > 0
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG
    line = one_line_error(pond("run", "column", "--duration", "30", cwd=tmp_path))
    assert "already exists" in line and "--overwrite" in line
    proc = pond("run", "column", "--duration", "30", "--seed", "6", "--overwrite", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with SpikeFileReader(out) as r:
        assert r.attrs["seed"] == 6 and r.attrs["n_trials"] == 1


@pytest.mark.subprocess
def test_run_errors_are_one_line(tmp_path):
    model = tmp_path / "typo.toml"
    text = (REPO / "pond" / "examples" / "cuba.toml").read_text().replace("tau_m = 20.0", "taum = 20.0", 1)
    model.write_text(text)
    line = one_line_error(pond("run", model, cwd=tmp_path))
    lineno = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("taum"))
    assert f"typo.toml:{lineno}:" in line and "did you mean 'tau_m'" in line
    proc = pond("run", model, "--debug", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" in proc.stderr
    assert "does not exist" in one_line_error(pond("run", "missing.toml", cwd=tmp_path))
    assert "multiple of dt" in one_line_error(pond("run", "cuba", "--duration", "0.05", cwd=tmp_path))
    one_line_error(pond("run", "cuba", "--duration", "soon", cwd=tmp_path), rc=2)
    one_line_error(pond("run", "cuba", "--threads", "0", cwd=tmp_path), rc=2)
    assert not list(tmp_path.glob("*.h5"))


@pytest.mark.subprocess
def test_bench_json(tmp_path):
    proc = pond("bench", "cuba", "--duration", "200", "--json", cwd=tmp_path)  # ms, as everywhere
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["model"] == "cuba" and r["neurons"] == 4000 and r["duration_s"] == pytest.approx(0.2)
    assert r["synapses"] > 300_000 and r["spikes"] > 0 and 1.0 < r["rate_hz"] < 50.0
    for key in ("s_per_simulated_s", "realtime_factor", "events_per_s", "bytes_per_synapse", "build_s",
                "first_call_s", "loop_s"):
        assert r[key] > 0
    assert r["realtime_factor"] == pytest.approx(1.0 / r["s_per_simulated_s"])
    proc = pond("bench", "--duration", "100ms", cwd=tmp_path)
    assert proc.returncode == 0 and "real-time factor" in proc.stdout and "events/s" in proc.stdout


@pytest.mark.subprocess
def test_demo_cuba(tmp_path):
    proc = pond("demo", "cuba", "--outdir", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    spikes = tmp_path / "out" / "cuba_spikes.h5"
    info = file_info(spikes)
    assert info["complete"] and info["metadata"]["duration_ms"] == 1000.0 and info["n_spikes"] > 1000
    if (tmp_path / "out" / "cuba_raster.png").exists():
        assert (tmp_path / "out" / "cuba_raster.png").read_bytes()[:8] == PNG
    else:
        assert "matplotlib" in proc.stderr
    assert "cuba_spikes.h5" in proc.stdout
    again = pond("demo", "cuba", "--outdir", tmp_path / "out", "--quiet", cwd=tmp_path)
    assert again.returncode == 1 and "pass --overwrite" in again.stderr  # kept, as pond run keeps its outputs
    assert pond("demo", "cuba", "--outdir", tmp_path / "out", "--quiet", "--overwrite", cwd=tmp_path).returncode == 0


@pytest.mark.subprocess
@pytest.mark.parametrize("command, words", [
    ("run", ["--output", "--duration", "bare number is ms", "--seed", "--threads", "--trials", "--quiet", "--overwrite", "--plot",
             "--debug", "brunel"]),
    ("bench", ["--duration", "bare number is ms", "--json", "--threads", "--seed"]),
    ("demo", ["--outdir", "--duration", "bare number is ms", "cuba_raster.png", "digits_lsm_spikes.h5",
              "digits_demo.png", "liquid state machine", "echo state network"]),
])
def test_help(tmp_path, command, words):
    proc = pond(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())  # argparse wraps lines
    for w in words:
        assert w in text, w


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess")
def test_ctrl_c_keeps_the_spikes(tmp_path):
    out = tmp_path / "long.h5"
    proc = subprocess.Popen([sys.executable, "-m", "pond", "run", "cuba", "--duration", "2000s", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert out.exists(), proc.communicate()
        # wait for the first flush of simulated time (compilation is over by then)
        while _recorded_ms(out) <= 0 and time.monotonic() < deadline + 60 and proc.poll() is None:
            time.sleep(0.1)
        assert _recorded_ms(out) > 0, "the run never flushed"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pond: interrupted by SIGINT at") and "Traceback" not in stderr
    with SpikeFileReader(out) as r:
        assert not r.complete
        t_rec = float(r.attrs["t_recorded_ms"])
        t, ids = r.read("exc")
        assert 0 < t_rec < 2_000_000.0
        assert t.size > 0 and t.max() <= t_rec
    n = int(lines[0].split("; ")[1].split()[0])
    assert n == r_total(out)


def _recorded_ms(path) -> float:
    """Simulated time the file holds so far (0 while it cannot be read yet)."""
    try:
        with SpikeFileReader(path) as r:
            return float(r.attrs.get("t_recorded_ms", 0.0))
    except Exception:  # created but not flushed yet, or mid-flush
        return 0.0


def r_total(path) -> int:
    with SpikeFileReader(path) as r:
        return r.count("exc") + r.count("inh")


def test_example_writes_each_shipped_model_and_never_overwrites(tmp_path, capsys):
    """`pond example NAME -o FILE` writes the shipped file (which loads), refuses an existing FILE without
    --overwrite, and prints the file without -o."""
    from engine.io.modelfile import load_model
    from pond.cli import _EXAMPLES, main

    for name in _EXAMPLES:
        out = tmp_path / f"{name}.toml"
        assert main(["example", name, "-o", str(out)]) == 0
        assert out.read_text() == (REPO / "pond" / "examples" / f"{name}.toml").read_text()
        net, _ = load_model(out)
        assert net.size > 0
    out.write_text("mine")
    assert main(["example", "cuba", "-o", str(out)]) == 1
    assert out.read_text() == "mine" and "--overwrite" in capsys.readouterr().err
    assert main(["example", "cuba", "-o", str(out), "--overwrite"]) == 0 and out.read_text() != "mine"
    capsys.readouterr()
    assert main(["example", "noise"]) == 0 and "[[population]]" in capsys.readouterr().out
