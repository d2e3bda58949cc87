"""The README's command-line block runs as written, in order, in a fresh directory (a new user's first day)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
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


#: What each Python block's comments say beyond what it prints, as code run after the block (keyed by a line that
#: picks the block). A block without an entry is only run, and checked for what its print lines say they print.
CLAIMS = {
    "sim = Simulator(net, trials=8).run(1000.0)": """
        import numpy as np
        alone = Simulator(net, trials=[3]).run(1000.0).spikes("exc")  # "identical to Simulator(net, trials=[3])"
        assert np.array_equal(times, alone[0]) and np.array_equal(neurons, alone[1]) and times.size > 0
    """,
    "X = mackey_glass(10001)": """
        assert X.shape == (10001, 1) and S.shape == (10000, 1000)
    """,
    "lsm = LSM(duration=200.0": """
        from readouts.io import load
        assert F.shape == (40, 2 * 135)
        lsm2, clf2 = load("lsm.h5")  # "gives (lsm, clf) back"
        assert np.array_equal(lsm2.transform(X[30:], trial_ids=range(30, 40)), F[30:])  # trial k draws from (seed, k)
        assert np.array_equal(clf2.predict(F), clf.predict(F))
    """,
    "digits_split()": """
        assert len(X_test) == 540 and cnn.transform(X_test).shape == (540, 128) and len(spikes) == 540
    """,
    "batch = run_trials(net, 500.0": """
        if __name__ == "__main__":
            import numpy as np
            from engine import Simulator
            local = Simulator(net, trials=8)  # "= a local Simulator after set_rates, bit for bit"
            local.set_rates("noise", rates)
            local_times, local_neurons = local.run(500.0).spikes("exc", trial=3)
            assert np.array_equal(times, local_times) and np.array_equal(neurons, local_neurons)
            local_search = GridSearchCV(pipe, search.param_grid, cv=2).fit(u, y)  # "... of the local search"
            assert local_search.best_params_ == search.best_params_
            assert np.allclose(local_search.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"],
                               rtol=1e-12, atol=0)
    """,
}
PYTHON_BLOCKS = _blocks(README, "python")


def _stated_prints(code: str) -> list[tuple[str, str | None]]:
    """Each print line of a block with the value its comment says it prints ("about 1.2e-3", ": 1.0"), or None."""
    out = []
    for line in code.splitlines():
        if line.lstrip().startswith("print("):
            m = re.search(r"#.*?(?:\babout|:)\s*([-+]?\d[\d.]*(?:e[-+]?\d+)?)\s*$", line)
            out.append((line.strip(), m.group(1) if m else None))
    return out


def _agrees(printed: str, stated: str) -> bool:
    """``printed`` rounds to ``stated`` at the digits ``stated`` gives (1.2e-3: two significant digits)."""
    value = float(printed)
    if "e" in stated.lower():
        digits = len(stated.lower().split("e")[0].replace("-", "").replace("+", "").replace(".", "").lstrip("0"))
        return float(f"{value:.{max(digits, 1) - 1}e}") == float(stated)
    decimals = len(stated.split(".")[1]) if "." in stated else 0
    return round(value, decimals) == float(stated)


def test_every_python_block_is_checked():
    """A new README block gets an entry in CLAIMS (or a print line stating its value) or this test says so."""
    assert len(PYTHON_BLOCKS) >= 3
    picked = {key: [b for b in PYTHON_BLOCKS if key in b] for key in CLAIMS}
    assert all(len(blocks) == 1 for blocks in picked.values()), {k: len(v) for k, v in picked.items()}
    unchecked = [b.splitlines()[0] for b in PYTHON_BLOCKS
                 if not any(key in b for key in CLAIMS) and not any(v for _, v in _stated_prints(b))
                 and "import pond.pynn" not in b and "from mpi4py import MPI" not in b]
    assert not unchecked, f"README Python blocks that nothing checks: {unchecked}"


@pytest.mark.subprocess
@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[b.splitlines()[0][:40] for b in PYTHON_BLOCKS])
def test_python_block_runs_as_written_and_says_what_it_prints(tmp_path, code):
    """Every Python example in the README runs, in a fresh interpreter, as a user would paste it (blocks fenced
    ``py`` instead of ``python`` are fragments that need what no test machine has, such as a batch system); what its
    comments say holds (:data:`CLAIMS`), and a print line whose comment states a value prints that value."""
    if "import onnxruntime" in code or "reservoirs.adapters" in code:
        pytest.importorskip("onnxruntime")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), MPLBACKEND="Agg")
    checks = [textwrap.dedent(claim) for key, claim in CLAIMS.items() if key in code]
    proc = subprocess.run([sys.executable, "-c", code + "\n" + "".join(checks)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=1200)  # a hang guard: cold kernels on a busy machine
    assert proc.returncode == 0, f"{code}\n{proc.stderr[-3000:]}"
    printed = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    stated = _stated_prints(code)
    for (line, value), out in zip(stated, printed[-len(stated):] if stated else []):
        if value is not None:
            assert _agrees(out.split()[-1], value), f"README: {line!r}; printed {out!r}"
