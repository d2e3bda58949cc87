"""pond and Brian2 give the same spikes (same neuron, same step) on the same model, inputs and initial state."""
import numpy as np
import pytest

from conftest import recurrent_network, sorted_spikes
from engine import Simulator

b2 = pytest.importorskip("brian2")
from engine.brian2_bridge import run_brian2  # noqa: E402

pytestmark = [pytest.mark.brian2, pytest.mark.reference]


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_delta"])
def test_same_spikes_as_brian2(model):
    """500 neurons, Poisson input, heterogeneous weights and delays, refractoriness, 1 s of biological time."""
    net = recurrent_network(model=model, rate=50.0 if model == "iaf_psc_exp" else 60.0)
    sim = Simulator(net).run(1000.0)
    ref = run_brian2(net, 1000.0, sim.V0[0], {"noise": sim.spikes("noise")}, target="numpy", built=sim.built)
    total = 0
    for name in ("exc", "inh"):
        ps, pi = sorted_spikes(*sim.spike_steps(name))
        bs, bi = sorted_spikes(*ref[name])
        assert ps.size > 200, "the network must be active for the comparison to mean anything"
        assert ps.size == bs.size
        np.testing.assert_array_equal(ps, bs)
        np.testing.assert_array_equal(pi, bi)
        total += ps.size
    assert total > 1000
