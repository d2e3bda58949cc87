"""Memory estimate before build: parts close to what is allocated, refusal before allocation, ``pond run
--dry-run``, and the POND_MEMORY_LIMIT setting."""
import subprocess
import sys

import numpy as np
import pytest
from conftest import no_heavy_work

from engine import Network, PoissonSource, Population, Projection, Simulator, estimate_memory
from engine.network.connectivity import FixedInDegree, FixedProbability
from engine.network.distributions import Normal, Uniform
from engine.build.memory import available_bytes
from engine.network.library import cuba
from engine.models.synapses import TsodyksMarkram


def dynamic_net(n=2000):
    net = Network(dt=0.1, seed=1)
    net.add(Population("exc", n), Population("inh", n // 4), PoissonSource("p", 500, rate=5.0),
            Projection("p", "exc", FixedInDegree(20), weight=Normal(50.0, 10.0), delay=Uniform(0.5, 2.0)),
            Projection("exc", "exc", FixedProbability(0.05), weight=30.0, delay=1.5,
                       synapse=TsodyksMarkram(U=Normal(0.5, 0.25))),
            Projection("exc", "inh", FixedProbability(0.05), weight=30.0, delay=0.8),
            Projection("inh", "exc", FixedProbability(0.1), weight=-60.0, delay=0.8))
    return net


@pytest.mark.parametrize("make, trials", [(lambda: cuba(seed=2), 1), (dynamic_net, 3)], ids=["cuba", "dynamic"])
def test_the_estimate_matches_what_is_allocated(make, trials):
    net = make()
    est = estimate_memory(net, trials=trials)
    sim = Simulator(net, trials=trials)
    b = sim.built
    assert est.synapses == pytest.approx(b.n_synapses, rel=0.02)
    assert est.parts["connectivity"] + est.parts["synapse parameters"] == pytest.approx(
        b.connectivity_bytes(), rel=0.15)
    state = sim.stp_u.nbytes + sim.stp_x.nbytes + sim._stp_last.nbytes
    assert est.parts["synapse state"] == pytest.approx(state, rel=0.05, abs=1024)
    neurons = sum(a.nbytes for a in (sim._V, sim._I_ex, sim._I_in, sim._ref, sim._I_ext, sim._flags))
    assert est.parts["neuron state"] == pytest.approx(neurons, rel=0.05)
    assert est.parts["spike record"] == sim._spk_step.nbytes + sim._spk_id.nbytes
    assert est.total > 0 and est.peak >= est.total and est.available == pytest.approx(available_bytes(), rel=0.1)
    text = str(est)
    for part in est.parts:
        assert part in text
    assert est.to_dict()["fits"] is True


def test_a_model_over_a_lowered_limit_is_refused_with_the_estimate_before_any_synapse(monkeypatch):
    net = dynamic_net(n=20_000)  # about 3.5e7 synapses, 1.7 GiB: fits this machine, not the lowered limit
    assert estimate_memory(net).fits
    monkeypatch.setenv("POND_MEMORY_LIMIT", "200M")
    assert not estimate_memory(net).fits
    with no_heavy_work(monkeypatch), pytest.raises(
            MemoryError, match=r"(?s)needs about [\d.]+ GiB but only 0.195 GiB of memory is available.*"
                               r"connectivity.*DOES NOT FIT"):
        Simulator(net)


@pytest.mark.parametrize("value", ["lots", "-2G", "0"])
def test_a_bad_memory_limit_setting_is_refused(monkeypatch, value):
    monkeypatch.setenv("POND_MEMORY_LIMIT", value)
    with pytest.raises(ValueError, match=f"POND_MEMORY_LIMIT = '{value}' is not allowed; give a positive number"):
        available_bytes()


def test_memory_limit_accepts_suffixes(monkeypatch):
    monkeypatch.setenv("POND_MEMORY_LIMIT", "1.5M")
    assert available_bytes() == int(1.5 * 2**20)


def test_estimate_refuses_bad_trials():
    with pytest.raises(ValueError, match="trials = 0 is not allowed"):
        estimate_memory(cuba(), trials=0)


@pytest.mark.subprocess
@pytest.mark.parametrize("limit, rc", [(None, 0), ("10M", 1)])
def test_pond_run_dry_run_prints_the_estimate_and_writes_nothing(tmp_path, limit, rc):
    env = {"POND_MEMORY_LIMIT": limit} if limit else {}
    import os

    proc = subprocess.run([sys.executable, "-m", "pond", "run", "brunel", "--dry-run", "-o", str(tmp_path / "x.h5")],
                          capture_output=True, text=True, cwd=tmp_path, env={**os.environ, **env}, timeout=120)
    assert proc.returncode == rc, proc.stderr
    assert "memory estimate for 1 trial(s)" in proc.stdout and "connectivity" in proc.stdout
    assert ("DOES NOT FIT" in proc.stdout) == (rc == 1)
    assert list(tmp_path.iterdir()) == []
    np.testing.assert_equal(proc.stderr, "")
