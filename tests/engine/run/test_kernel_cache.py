"""Numba's disk cache of the kernels sees edits of the modules a kernel inlines (engine.kernels.cache)."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

pytestmark = pytest.mark.subprocess  # a child process per cache probe

# state.stream_keys inlines rng.stream_key and rng.mix64: an edit of rng.py changes what it computes
PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    from engine.kernels import state
    assert state.__file__.startswith(sys.argv[1]), state.__file__
    keys = state.stream_keys(7, 0, 3, np.arange(2, dtype=np.int64))
    print(json.dumps({"keys": [int(k) for k in keys.ravel()],
                      "hits": sum(state.stream_keys.stats.cache_hits.values())}))
""")


def _probe(src, cache) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", PROBE, str(src)], cwd=src, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_edit_of_an_inlined_kernel_module_recompiles_the_kernels_that_inline_it(tmp_path):
    """Numba keyed a cached kernel by its own file only: after an edit of rng.py, state.stream_keys (which inlines
    rng's functions, as the network kernel inlines synapses.py) loaded the machine code of the old rng.py."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "engine" / "kernels", src / "engine" / "kernels",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (src / "engine" / "__init__.py").write_text("")
    cache = tmp_path / "cache"
    first = _probe(src, cache)  # compiles and saves
    again = _probe(src, cache)  # loads
    assert again == {"keys": first["keys"], "hits": 1}
    rng = src / "engine" / "kernels" / "rng.py"
    text = rng.read_text()
    edited = text.replace("_GOLDEN = np.uint64(0x9E3779B97F4A7C15)", "_GOLDEN = np.uint64(0x9E3779B97F4A7C17)")
    assert edited != text
    rng.write_text(edited)
    fresh = _probe(src, tmp_path / "fresh_cache")  # what the edited sources compute
    assert fresh["keys"] != first["keys"]
    after = _probe(src, cache)
    assert after == {"keys": fresh["keys"], "hits": 0}, "a kernel compiled from the old rng.py was loaded"
    assert _probe(src, cache) == {"keys": fresh["keys"], "hits": 1}  # and the new one is cached in its place


# the neuron dispatch list inlines each model's update, which lives in engine/models
MODEL_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    from engine.kernels import neurons
    assert neurons.__file__.startswith(sys.argv[1]), neurons.__file__
    V = np.full(4, -60.0)
    par = np.zeros((1, neurons.N_PAR))
    par[0, :4] = (1.0, 100.0, -70.0, 0.5)  # c0, V_th, V_reset, P22 of the LIF row
    args = (np.array([0]), np.array([4]), np.array([neurons.EXP], np.int8), np.array([False]), par,
            np.array([0], np.int32), V, np.zeros(4), np.zeros(4), np.zeros(4, np.int32), np.zeros(4),
            np.zeros(64, np.uint8), 0, 4)
    neurons.update_range(*args)
    print(json.dumps({"keys": V.tolist(), "hits": sum(neurons.update_range.stats.cache_hits.values())}))
""")


def test_an_edit_of_a_model_module_recompiles_the_dispatch_that_inlines_its_update(tmp_path):
    """A model's update lives in engine/models; the kernels that inline it are keyed by its source too."""
    global PROBE
    src = tmp_path / "src"
    for pkg in ("kernels", "models"):
        shutil.copytree(REPO / "engine" / pkg, src / "engine" / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "engine" / "__init__.py").write_text("")
    cache = tmp_path / "cache"
    probe, PROBE = PROBE, MODEL_PROBE
    try:
        first = _probe(src, cache)
        assert _probe(src, cache) == {"keys": first["keys"], "hits": 1}
        model = src / "engine" / "models" / "neurons" / "iaf_psc_exp.py"
        text = model.read_text()
        edited = text.replace("vn = c0 + v * p22 + ie", "vn = c0 + 2.0 * v * p22 + ie")
        assert edited != text
        model.write_text(edited)
        after = _probe(src, cache)
        assert after["hits"] == 0 and after["keys"] != first["keys"], "a kernel compiled from the old model was loaded"
    finally:
        PROBE = probe
