"""Brunel's regimes on a reduced network: AI is asynchronous-irregular and SR synchronous-regular, measured with the
analysis of ``benchmarks/brunel.py --regimes`` (whose figures for the full network sit beside NEST's there).

The reduced network has N_E = 2000, N_I = 500 and the full model's in-degrees (C_E = 1000, C_I = 250, so eps = 0.5):
every neuron's mean input and input fluctuations (Brunel's mu and sigma) are those of the 12,500-neuron network;
only the share of common input grows, which raises the AI state's synchrony a little (chi^2 0.04-0.06 over seeds
here, 0.01 at full size). The analysis itself is checked first on spike trains whose statistics are known exactly.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import brunel  # noqa: E402

REDUCED = dict(n_e=2000, n_i=500, c_e=1000, c_i=250)
TRANSIENT, T_MS = 200.0, 700.0


def test_stats_of_poisson_trains():
    """Independent Poisson trains: CV about 1, chi^2 about 1/n, the rate as drawn."""
    rng = np.random.default_rng(0)
    n, rate, length = 4000, 40.0, 2000.0
    k = rng.poisson(rate * length / 1000.0, n)
    ids = np.repeat(np.arange(n), k)
    times = np.floor(rng.uniform(0.0, length, k.sum()) * 10.0) / 10.0                 # on the 0.1 ms grid
    st = brunel.spike_stats(times, ids, n, 0.0, length)
    assert st["rate_hz"] == pytest.approx(k.sum() / n / 2.0)
    assert st["cv"] == pytest.approx(1.0, abs=0.03)
    assert st["cv_neurons"] == np.count_nonzero(k >= 3)
    assert st["chi2"] == pytest.approx(1.0 / n, rel=0.15)
    assert brunel.classify(st["cv"], st["chi2"]) == "AI"


def test_stats_of_synchronous_regular_trains():
    """Every neuron fires every 4 ms in step: CV 0, chi^2 1, main frequency 250 Hz; the window and the CV's
    minimum spike count are applied."""
    n = 50
    times = np.tile(np.arange(0.0, 1000.0, 4.0), n)
    ids = np.repeat(np.arange(n), 250)
    st = brunel.spike_stats(times, ids, n, 100.0, 900.0)
    assert st["rate_hz"] == pytest.approx(250.0)
    assert st["cv"] == 0.0 and st["cv_neurons"] == n
    assert st["chi2"] == pytest.approx(1.0)
    assert st["osc_hz"] == pytest.approx(250.0)
    assert brunel.classify(st["cv"], st["chi2"]) == "SR"
    sparse = brunel.spike_stats(np.array([1.0, 5.0, 9.0, 2.0, 7.0]), np.array([0, 0, 0, 1, 1]), 3, 0.0, 10.0)
    assert sparse["cv_neurons"] == 1 and sparse["cv"] == 0.0      # neuron 1 has two spikes only: no CV


def test_chi2_is_the_ratio_of_variances():
    """chi^2 equals Var(mean count) / mean(Var(count)) computed on the dense (neuron, bin) count matrix."""
    rng = np.random.default_rng(1)
    n, nbins = 30, 200
    times = rng.uniform(0.0, nbins, 3000)
    times[:1500] = np.floor(times[:1500] / 10.0) * 10.0 + 0.5                # half the spikes in every 10th bin
    ids = rng.integers(0, n, times.size)
    dense = np.zeros((n, nbins))
    np.add.at(dense, (ids, times.astype(int)), 1.0)
    expected = dense.mean(axis=0).var() / dense.var(axis=1).mean()
    assert brunel.spike_stats(times, ids, n, 0.0, float(nbins))["chi2"] == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def reduced():
    """AI and SR on the reduced network, 700 ms, the first 200 ms discarded."""
    n = REDUCED["n_e"] + REDUCED["n_i"]
    out = {}
    for name in ("AI", "SR"):
        g, eta = brunel.REGIMES[name]
        res = brunel.run_pond_regime(g, eta, 1, T_MS, threads=None, **REDUCED)
        out[name] = brunel.spike_stats(res["times"], res["ids"], n, TRANSIENT, T_MS)
    return out


@pytest.mark.slow
def test_ai_is_asynchronous_irregular(reduced):
    st = reduced["AI"]
    assert 25.0 < st["rate_hz"] < 55.0                   # mean-field (mu above threshold, V_r = 10 mV): about 38 Hz
    assert st["cv_neurons"] == REDUCED["n_e"] + REDUCED["n_i"]
    assert st["cv"] > 0.35                               # irregular (the mean input is just above threshold)
    assert st["chi2"] < 0.1                              # asynchronous: 1/n = 4e-4, full synchrony 1
    assert brunel.classify(st["cv"], st["chi2"]) == "AI"


@pytest.mark.slow
def test_sr_is_synchronous_regular(reduced):
    st = reduced["SR"]
    assert st["rate_hz"] > 250.0                         # close to saturation (one spike per ~3 ms)
    assert st["cv"] < 0.05                               # regular
    assert st["chi2"] > 0.2                              # synchronous (two clusters alternating every D = 1.5 ms)
    assert st["chi2"] > 4 * reduced["AI"]["chi2"]
    assert brunel.classify(st["cv"], st["chi2"]) == "SR"
