"""reservoirs.LSM's weight scaling and regime (issue 24): the column keeps the paper's weights bit for bit, other
liquids scale them by 1/sqrt(K) of the expected in-degree, input_A='auto' keeps a neuron's expected input at the
column's, and LSM.regime tells a liquid in the asynchronous irregular regime from one driven into regular firing."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import poisson_trials
from reservoirs import LSM
from reservoirs.lsm import (COLUMN_A, COLUMN_INPUT_A, COLUMN_INPUT_RATE, expected_in_degree, input_weights,
                            recurrent_weights)

pytest.importorskip("neo")


def test_the_column_keeps_the_papers_weights_bit_for_bit():
    assert recurrent_weights() == COLUMN_A
    default = LSM(n_inputs=2, duration=100.0, seed=4).fit()
    paper = LSM(A=COLUMN_A, n_inputs=2, duration=100.0, seed=4).fit()
    assert default.A_ == COLUMN_A and default.input_A_ == COLUMN_INPUT_A
    for name, (s, t, w) in paper.connections_.items():
        s2, t2, w2 = default.connections_[name]
        assert np.array_equal(s, s2) and np.array_equal(t, t2) and np.array_equal(w, w2), name


def test_other_liquids_scale_by_the_square_root_of_the_in_degree():
    K_col, K = expected_in_degree(), expected_in_degree((8, 8, 8))
    A = recurrent_weights((8, 8, 8))
    assert np.allclose(np.array(A) / np.array(COLUMN_A), np.sqrt(K_col / K), rtol=1e-12)
    lsm = LSM(grid=(8, 8, 8), n_inputs=1, duration=100.0, seed=0).fit()
    assert lsm.A_ == A
    # the expected in-degree is the one the connectivity draws
    inh = lsm.inhibitory_
    n = {"E": int((~inh).sum()), "I": int(inh.sum())}
    for k, pair in enumerate(("EE", "EI", "IE")):  # II: about 60 synapses, too few for a 10 % check
        drawn = lsm.connections_[pair][0].size / n[pair[1]]
        assert drawn == pytest.approx(K[k], rel=0.1), pair
    # with weight_cv = 0 every recurrent weight is A_ itself
    flat = LSM(grid=(4, 4, 4), weight_cv=0.0, n_inputs=1, duration=100.0, seed=0).fit()
    assert np.all(flat.connections_["EE"][2] == recurrent_weights((4, 4, 4))[0])
    # an explicit A is used as given
    assert LSM(grid=(8, 8, 8), A=COLUMN_A, n_inputs=1, duration=100.0).fit().A_ == COLUMN_A


def test_auto_input_weights_keep_the_columns_expected_input():
    assert input_weights(20.0, 4) == COLUMN_INPUT_A
    X = poisson_trials(3, 32, 200.0, 50.0, seed=1)
    lsm = LSM(grid=(4, 4, 4), input_A="auto", duration=200.0, seed=0).fit(X)
    rate = sum(c.size for _, c in X) / (3 * 32 * 0.2)
    assert lsm.input_A_ == pytest.approx(input_weights(rate, 32))
    nu = 0.3 * 32 * rate
    assert lsm.input_A_[0] * nu == pytest.approx(COLUMN_INPUT_A[0] * COLUMN_INPUT_RATE)
    with pytest.raises(ValueError, match="input_A='auto'.*fit needs the spike trains"):
        LSM(grid=(3, 3, 3), input_A="auto", n_inputs=2).fit()
    with pytest.raises(ValueError, match="input_A='auto'.*fit needs the spike trains"):
        LSM(grid=(3, 3, 3), input_A="auto").fit(np.ones((1, 10, 2)))
    with pytest.raises(ValueError, match="input_A="):
        LSM(grid=(3, 3, 3), input_A="scaled", n_inputs=2).fit()
    with pytest.raises(ValueError, match="input_weights"):
        input_weights(0.0, 4)


def test_regime_tells_asynchronous_irregular_from_regular_firing():
    """A 512-neuron liquid fed 64 channels at 40 Hz: with the scaling rules it fires asynchronously and irregularly;
    with the column's per-synapse input weights (made for 4 channels at 20 Hz) it is driven into regular firing."""
    X = poisson_trials(2, 64, 600.0, 40.0, seed=3)
    healthy = LSM(grid=(8, 8, 8), input_A="auto", duration=600.0, seed=1).fit(X).regime(X)
    print("healthy", {k: healthy[k] for k in ("rate_hz", "cv", "spike_contrast")})
    assert 3.0 <= healthy["rate_hz"] <= 40.0
    assert 0.5 <= healthy["cv"] <= 1.5
    assert healthy["spike_contrast"] <= 0.4
    assert healthy["n_trials"] == 2 and healthy["duration_ms"] == 600.0 and set(healthy["populations"]) == {"exc",
                                                                                                             "inh"}
    driven = LSM(grid=(8, 8, 8), duration=600.0, seed=1).fit(X).regime(X)
    print("driven", {k: driven[k] for k in ("rate_hz", "cv", "spike_contrast")})
    assert driven["rate_hz"] > 100.0 and driven["cv"] < 0.35 and driven["cv"] < healthy["cv"] - 0.3


def test_regime_equals_the_statistics_of_the_liquids_spikes(tmp_path):
    from engine import Simulator
    from engine.io.neo_export import spike_statistics, to_neo

    X = poisson_trials(2, 4, 300.0, 20.0, seed=2)
    lsm = LSM(grid=(5, 3, 3), duration=300.0, seed=5).fit(X)
    r = lsm.regime(X, trial_ids=[4, 9])
    sim = Simulator(lsm.network("spikes"), trials=[4, 9])
    sim.set_spikes("input", X)
    sim.run(300.0, progress=False)
    pops = spike_statistics(to_neo(sim, progress=False), progress=False)
    assert r["populations"] == pops
    n = sum(p["n_spikes"] for p in pops.values())
    assert r["n_spikes"] == n
    assert r["rate_hz"] == pytest.approx(n / (lsm.n_neurons_ * 2 * 0.3))
    with pytest.raises(ValueError, match="trial_ids"):
        lsm.regime(X, trial_ids=[1, 1])
    with pytest.raises(ValueError, match="fit saw spike trains"):
        lsm.regime(np.ones((1, 10, 4)))
