"""Issue 7 on the command line: signals, messages, outputs checked before the run, monitors, trials, units."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from conftest import REPO, allocates_at_most, one_line_error

from engine.interrupt import Interrupted
from engine.io.modelfile import load_model
from engine.run.simulator import Simulator
from engine.io.spikefile import SpikeFileReader, SpikeFileWriter
from pond import cli

EXAMPLES = REPO / "pond" / "examples"


def pond(*args, cwd, timeout=120):
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pond", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(cwd))


def _refused_before_the_build(monkeypatch, capsys, cwd, *argv) -> str:
    """``pond run *argv`` in this process (in ``cwd``), failing the test if it gets as far as building the network;
    returns its one-line error (:func:`conftest.one_line_error`)."""
    import engine.run.simulator

    def simulator(*args, **kwargs):
        raise AssertionError("heavy work started: the network is being built")

    monkeypatch.setattr(engine.run.simulator, "Simulator", simulator)
    monkeypatch.chdir(cwd)
    rc = cli.main(["run", *map(str, argv)])
    out = capsys.readouterr()
    return one_line_error(SimpleNamespace(returncode=rc, stdout=out.out, stderr=out.err))


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rel") / "small.h5"
    with SpikeFileWriter(path, {"a": 10}, dt_ms=0.1, duration_ms=500.0, seed=1) as w:
        w.write("a", 0, np.array([1.0, 250.0]), np.array([0, 3]))
    return path


# ---------------------------------------------------------------------------------------------------------------------
# SIGTERM and SIGKILL: the file holds every population up to the time it states, equal to an uninterrupted run
# ---------------------------------------------------------------------------------------------------------------------
def _recorded_ms(path) -> float:
    try:
        with SpikeFileReader(path) as r:
            return float(r.attrs.get("t_recorded_ms", 0.0))
    except Exception:  # created but not flushed yet
        return 0.0


@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signal_leaves_every_population_at_the_stated_time(tmp_path, sig):
    out = tmp_path / "long.h5"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "pond", "run", "cuba", "--duration", "2000s", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(tmp_path))
    try:
        deadline = time.monotonic() + 120
        while _recorded_ms(out) <= 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert _recorded_ms(out) > 0, "the run never flushed"
        time.sleep(1.2)  # past another flush, so the signal may land anywhere in a flush cycle
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if sig == signal.SIGTERM:
        assert proc.returncode == 143, stderr
        line = stderr.strip()
        assert line.startswith("pond: interrupted by SIGTERM at") and "\n" not in line and "incomplete" in line
    else:
        assert proc.returncode == -signal.SIGKILL
    with SpikeFileReader(out) as r:
        assert not r.complete
        t_rec = float(r.attrs["t_recorded_ms"])
        got = {name: r.read(name) for name in ("exc", "inh")}
    net, _ = load_model(EXAMPLES / "cuba.toml")
    sim = Simulator(net).run(round(t_rec / net.dt) * net.dt, progress=False)
    for name, (t, ids) in got.items():  # every population exactly as an uninterrupted run up to t_rec
        et, eids = sim.spikes(name)
        np.testing.assert_array_equal(t, et, err_msg=name)
        np.testing.assert_array_equal(ids, eids, err_msg=name)


@pytest.mark.parametrize("exc, rc, name", [(KeyboardInterrupt(), 130, "SIGINT"),
                                           (Interrupted(signal.SIGINT), 130, "SIGINT"),
                                           (Interrupted(signal.SIGTERM), 143, "SIGTERM")])
def test_interrupt_exit_status(monkeypatch, capsys, small_file, exc, rc, name):
    def raise_it(args):
        raise exc

    monkeypatch.setitem(cli._COMMANDS, "info", raise_it)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["info", str(small_file)]) == rc
    assert capsys.readouterr().err == f"pond: interrupted by {name}\n"
    assert signal.getsignal(signal.SIGTERM) is before  # main() restores the handler it replaced


def test_sigterm_outside_the_engine_raises_interrupted(monkeypatch, small_file):
    """Between engine calls (here inside a command), SIGTERM becomes Interrupted(SIGTERM), exit 143."""
    def send(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        return 0

    monkeypatch.setitem(cli._COMMANDS, "info", send)
    assert cli.main(["info", str(small_file)]) == 143


# ---------------------------------------------------------------------------------------------------------------------
# messages that say what is wrong and what is allowed
# ---------------------------------------------------------------------------------------------------------------------
def test_truncated_file_is_not_called_locked(tmp_path, small_file, capsys):
    data = small_file.read_bytes()
    bad = tmp_path / "truncated.h5"
    bad.write_bytes(data[: len(data) // 2])
    assert cli.main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "locked" not in err and "truncated" in err and str(bad) in err


@pytest.mark.parametrize("value", ["-3", "0"])
def test_trials_message_says_what_is_allowed(capsys, value):
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "cuba", "--trials", value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--trials" in err and value in err and "integer >= 1" in err and ">= 0" not in err


@pytest.mark.parametrize("argv, words", [
    (["--bin-ms", "1e-9"], ["bin_ms = 1e-09", "at most 100000", "bin_ms >= 0.005"]),
    (["--dpi", "100000"], ["dpi = 100000", "from 1 to 1200"]),
])
def test_plot_bounds(small_file, tmp_path, capsys, monkeypatch, argv, words):
    pytest.importorskip("matplotlib")

    def figure(*args, **kwargs):
        raise AssertionError("heavy work started: a figure is being drawn")

    monkeypatch.setattr("matplotlib.figure.Figure", figure)
    with allocates_at_most():  # refused, not attempted: no 5e11 histogram bins, no 1e6 x 6e5 pixel image
        assert cli.main(["plot", str(small_file), "-o", str(tmp_path / "p.png"), *argv]) == 1
    err = capsys.readouterr().err
    for w in words:
        assert w in err, err
    assert not (tmp_path / "p.png").exists()


def test_duration_is_ms_in_every_command():
    p = cli.build_parser()
    for argv in (["run", "cuba"], ["bench"], ["demo"]):
        assert p.parse_args(argv + ["--duration", "10"]).duration == 10.0
        assert p.parse_args(argv + ["--duration", "2s"]).duration == 2000.0
        assert p.parse_args(argv + ["--duration", "200ms"]).duration == 200.0


@pytest.mark.subprocess
def test_threads_cap_is_reported(tmp_path):
    proc = pond("run", "column", "--duration", "20", "--threads", "1000", "-o", "c.h5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--threads 1000 capped at the" in proc.stdout


# ---------------------------------------------------------------------------------------------------------------------
# outputs: checked before the run, never an input
# ---------------------------------------------------------------------------------------------------------------------
def test_plot_refuses_existing_output_and_its_input(small_file, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "existing.png"
    png.write_bytes(b"keep me")
    assert cli.main(["plot", str(small_file), "-o", str(png)]) == 1
    assert "already exists" in capsys.readouterr().err and png.read_bytes() == b"keep me"
    assert cli.main(["plot", str(small_file), "-o", str(png), "--overwrite"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    before = small_file.read_bytes()
    assert cli.main(["plot", str(small_file), "-o", str(small_file), "--overwrite"]) == 1
    assert "input file" in capsys.readouterr().err and small_file.read_bytes() == before


@pytest.mark.subprocess
def test_run_never_writes_over_the_model_file(tmp_path):
    model = tmp_path / "model.toml"
    model.write_text((EXAMPLES / "column.toml").read_text())
    before = model.read_text()
    for argv in (["-o", model], ["-o", "x.h5", "--plot", model]):
        line = one_line_error(pond("run", model, "--duration", "10", "--overwrite", *argv, cwd=tmp_path))
        assert "input file" in line and "model.toml" in line
    assert model.read_text() == before
    line = one_line_error(pond("run", model, "-o", "same.h5", "--plot", "same.h5", cwd=tmp_path))
    assert "also the spike file" in line


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_plot_path_is_found_before_the_run(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        line = _refused_before_the_build(monkeypatch, capsys, tmp_path, "column", "-o", "c.h5", "--plot",
                                         locked / "r.png")
        assert "permission denied" in line and "plot file" in line
        line = _refused_before_the_build(monkeypatch, capsys, tmp_path, "column", "-o", "c.h5", "--plot",
                                         tmp_path / "nope" / "r.png")
        assert "does not exist" in line
    finally:
        locked.chmod(0o755)
    assert not (tmp_path / "c.h5").exists()  # nothing was run


# ---------------------------------------------------------------------------------------------------------------------
# rate and state monitors are recorded, not dropped
# ---------------------------------------------------------------------------------------------------------------------
_MONITORS = """
[[monitor]]
type = "rate"
target = "inh"
"""


@pytest.mark.subprocess
def test_run_records_rate_and_state_monitors(tmp_path):
    model = tmp_path / "mon.toml"
    model.write_text((EXAMPLES / "column.toml").read_text() + _MONITORS)
    proc = pond("run", model, "--duration", "50", "--trials", "2", "-o", "m.h5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(tmp_path / "m.h5", "r") as f:
        counts = f["monitors/rate/inh"][()]
        v = f["monitors/state/exc/V"]
        assert v.shape == (2, 50, 3) and v.attrs["units"] == "mV" and list(v.attrs["indices"]) == [0, 1, 2]
        assert f["monitors/state/exc/times"][-1] == 50.0 and np.all(np.isfinite(v[()]))
    assert counts.shape == (2, 500)
    with SpikeFileReader(tmp_path / "m.h5") as r:
        assert [int(counts[k].sum()) for k in range(2)] == [r.count("inh", k) for k in range(2)]


def test_monitor_memory_refused_before_the_build(tmp_path, monkeypatch, capsys):
    model = tmp_path / "big.toml"
    model.write_text((EXAMPLES / "brunel.toml").read_text() + '\n[[monitor]]\ntype = "state"\ntarget = "exc"\n'
                     'variables = ["V", "I_ex"]\n')
    line = _refused_before_the_build(monkeypatch, capsys, tmp_path, model, "--duration", "10s")
    assert "state of 'exc'" in line and "every" in line and "indices" in line
    assert not list(tmp_path.glob("*.h5"))


# ---------------------------------------------------------------------------------------------------------------------
# every trial's file content equals the in-memory run, trial by trial
# ---------------------------------------------------------------------------------------------------------------------
def _memory_run(trials: int, duration: float) -> Simulator:
    net, _ = load_model(EXAMPLES / "column.toml")
    return Simulator(net, trials=trials).run(duration, progress=False)


@pytest.mark.subprocess
def test_pond_run_trials_equal_the_in_memory_run(tmp_path):
    proc = pond("run", "column", "--duration", "100", "--trials", "3", "-o", "t.h5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    sim = _memory_run(3, 100.0)
    with SpikeFileReader(tmp_path / "t.h5") as r:
        assert r.n_trials == 3
        for name in ("exc", "inh", "pattern"):
            for k in range(3):
                t, ids = r.read(name, k)
                et, eids = sim.spikes(name, trial=k)
                np.testing.assert_array_equal(t, et, err_msg=f"{name} trial {k}")
                np.testing.assert_array_equal(ids, eids, err_msg=f"{name} trial {k}")
    # the trials differ, so a shifted trial cannot pass
    assert not np.array_equal(sim.spikes("exc", trial=0)[0], sim.spikes("exc", trial=1)[0])


def test_simulator_sink_trials_equal_the_in_memory_run(tmp_path):
    net, _ = load_model(EXAMPLES / "column.toml")
    sim = Simulator(net, trials=3)
    sizes = {p.name: p.size for p in net.populations}
    sizes["pattern"] = net.get("pattern").size
    with SpikeFileWriter(tmp_path / "s.h5", sizes, n_trials=3, dt_ms=net.dt, duration_ms=100.0, seed=net.seed) as w:
        sim.run(100.0, sinks=[w], progress=False)
    with SpikeFileReader(tmp_path / "s.h5") as r:
        for name in sizes:
            for k in range(3):
                t, ids = r.read(name, k)
                np.testing.assert_array_equal(t, sim.spikes(name, trial=k)[0])
                np.testing.assert_array_equal(ids, sim.spikes(name, trial=k)[1])


def test_demo_keeps_existing_outputs_unless_overwrite(tmp_path, monkeypatch, capsys):
    import pond.demo

    def no_work(*args, **kwargs):
        raise AssertionError("the demo started although its outputs exist")

    monkeypatch.setattr(pond.demo, "run_digits", no_work)
    (tmp_path / "digits_demo.png").write_bytes(b"mine")
    assert cli.main(["demo", "--outdir", str(tmp_path)]) == 1
    assert "digits_demo.png' already exists; pass --overwrite" in capsys.readouterr().err
    (tmp_path / "cuba_spikes.h5").write_bytes(b"mine")
    assert cli.main(["demo", "cuba", "--outdir", str(tmp_path), "--duration", "5"]) == 1
    assert "cuba_spikes.h5' already exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "cuba_spikes.h5").read_bytes() == b"mine"
    assert cli.main(["demo", "cuba", "--outdir", str(tmp_path), "--duration", "5", "--overwrite", "-q"]) == 0
    assert (tmp_path / "cuba_spikes.h5").read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_demo_help_shows_a_percent_sign(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "30 % of the digits" in out and "%%" not in out and "--overwrite" in out


def test_example_to_a_dash_goes_to_standard_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["example", "column", "-o", "-"]) == 0
    text = (REPO / "pond" / "examples" / "column.toml").read_text()
    assert capsys.readouterr().out == text and not (tmp_path / "-").exists()


def test_pond_imports_no_private_module_of_another_package():
    """pond reads its version from pond._version, not engine._version (nobody imports another package's ``_x``)."""
    import ast

    bad = []
    for path in sorted((REPO / "pond").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for name in names:
                parts = name.split(".")
                if parts[0] != "pond" and any(p.startswith("_") for p in parts[1:]):
                    bad.append(f"{path.relative_to(REPO)}:{node.lineno}: {name}")
    assert not bad, bad
