"""The README's command-line block runs as written, in order, in a fresh directory (a new user's first day)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from engine.io.spikefile import file_info
from conftest import REPO

README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end >= 0 else None]


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, flags=re.S | re.M)


@pytest.mark.subprocess
def test_command_line_block_runs_as_written(tmp_path):
    pytest.importorskip("matplotlib")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "pond").exists():
        pytest.skip("pond is not installed as a console script next to this Python")
    section = _section("Command line")
    (commands,) = _blocks(section, "bash")  # nothing prepared: the commands write the model file they run
    env = dict(os.environ, PATH=str(bin_dir) + os.pathsep + os.environ["PATH"], MPLBACKEND="Agg")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    lines = [ln for ln in commands.splitlines() if ln.strip()]
    assert len(lines) >= 7 and all(ln.startswith("pond ") for ln in lines)
    for line in lines:
        proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=300)
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        for word in shlex.split(line.split("#")[0]):  # every file a command names as output now exists
            if word.endswith((".h5", ".png")):
                assert (tmp_path / word).exists(), (line, word)
    assert file_info(tmp_path / "spikes.h5")["n_trials"] == 10
    assert file_info(tmp_path / "cuba_spikes.h5")["complete"]


def test_readme_model_file_is_valid():
    """Cheap guard without subprocesses: the README's model file loads and names the file the commands use."""
    from engine.io.modelfile import loads_model

    section = _section("Command line")
    (model,) = _blocks(section, "toml")
    net, run = loads_model(model, source="README.md")
    assert net.size > 0 and run.duration > 0
    shipped = (REPO / "pond" / "examples" / "noise.toml").read_text()
    assert shipped.endswith(model), "the README shows the shipped example that 'pond example noise' writes"
    commands = _blocks(section, "bash")[0]
    assert "pond example noise -o my_model.toml" in commands and "pond run my_model.toml" in commands


@pytest.mark.subprocess
def test_python_blocks_run_as_written(tmp_path):
    """Every Python example in the README runs, in a fresh interpreter, as a user would paste it (blocks fenced
    ``py`` instead of ``python`` are fragments that need what no test machine has, such as a batch system)."""
    blocks = _blocks(README, "python")
    assert len(blocks) >= 3
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    for code in blocks:
        if "import onnxruntime" in code or "reservoirs.adapters" in code:
            pytest.importorskip("onnxruntime")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=600)
        assert proc.returncode == 0, f"{code}\n{proc.stderr[-3000:]}"
