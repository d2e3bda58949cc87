"""Shared fixtures: small networks used across the engine tests, and the rule for reference tools."""
import importlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from engine import Network, PoissonSource, Population, Projection, SpikeMonitor
from engine.network.connectivity import FixedProbability
from engine.network.distributions import Uniform

#: the repository's root (tests live in feature folders below tests/)
REPO = Path(__file__).resolve().parents[1]


def recurrent_network(seed: int = 3, n_exc: int = 400, n_inh: int = 100, rate: float = 50.0,
                      model: str = "iaf_psc_exp") -> Network:
    """A 500-neuron E/I network with Poisson drive, heterogeneous weights and delays, refractoriness."""
    exp = model == "iaf_psc_exp"
    common = dict(model=model, tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0,
                  V_init=(-65.0, -50.0), **(dict(tau_syn_ex=2.0, tau_syn_in=5.0) if exp else {}))
    w_in, w_e, w_i = (Uniform(100.0, 200.0), Uniform(10.0, 40.0), Uniform(-160.0, -40.0)) if exp else \
        (Uniform(0.8, 1.6), Uniform(0.1, 0.3), Uniform(-1.2, -0.3))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", n_exc, **common), Population("inh", n_inh, **common),
            PoissonSource("noise", 200, rate=rate))
    for pre, w in (("noise", w_in), ("exc", w_e), ("inh", w_i)):
        for post in ("exc", "inh"):
            delay = Uniform(0.5, 2.0) if pre == "noise" else Uniform(0.5, 3.0)
            net.add(Projection(pre, post, FixedProbability(0.1), weight=w, delay=delay))
    net.add(SpikeMonitor("exc"), SpikeMonitor("inh"), SpikeMonitor("noise"))
    return net


def poisson_trials(n_trials, n_channels, duration, rate, seed):
    """``n_trials`` LSM inputs: Poisson spike times (ms, on the 0.1 ms grid) on ``n_channels`` channels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_trials):
        n = rng.poisson(rate * duration * 1e-3 * n_channels)
        out.append((np.round(rng.uniform(0, duration, n), 1), rng.integers(0, n_channels, n)))
    return out


@pytest.fixture
def small_net() -> Network:
    return recurrent_network()


def sorted_spikes(steps: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def one_line_error(proc, rc=1):
    """A CLI failure: exit code ``rc``, one stderr line naming pond and the error, no traceback."""
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pond") and "error" in lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def reference_tool(module: str):
    """Import an independent reference (Brian2, NEST, ReservoirPy, libsonata, ...). Outside CI a missing tool skips
    the test; in CI (``CI`` set, where the dev extra installs every tool) it is an error, so reference checks never
    skip silently there."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def dump_estimator_file(path):
    """The header and every stored array of a ``readouts.save`` file (npz or HDF5), for tampering tests."""
    if path.suffix == ".npz":
        with np.load(path) as z:
            return json.loads(str(z["__header__"])), {k: z[k] for k in z.files if k != "__header__"}
    import h5py

    with h5py.File(path, "r") as f:
        arrays = {}
        f.visititems(lambda k, d: arrays.__setitem__(k, d[()]) if hasattr(d, "shape") else None)
        return json.loads(f.attrs["header"]), arrays


def write_estimator_file(path, header, arrays):
    """Write ``header`` and ``arrays`` back in the layout :func:`dump_estimator_file` reads."""
    if path.suffix == ".npz":
        np.savez(path, __header__=np.array(json.dumps(header)), **arrays)
        return
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["header"] = json.dumps(header)
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def assert_tampered_file_refused(good, bad, tamper, field: str) -> None:
    """Copy the estimator file ``good`` to ``bad`` through ``tamper(header, arrays)``; loading it must raise a
    ValueError that names ``field``."""
    from readouts import load

    header, arrays = dump_estimator_file(good)
    tamper(header, arrays)
    write_estimator_file(bad, header, arrays)
    with pytest.raises(ValueError, match=field):
        load(bad)
