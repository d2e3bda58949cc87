"""pond's iaf_psc_exp and iaf_psc_delta against NEST's models of the same name (single neuron, same input).

Time labels differ by one step: NEST labels a spike and the state after a step with the step's end, pond (like
Brian2) labels a spike with the step's start. So a spike pond records at ``t`` is NEST's ``t + dt``; the membrane
potential sampled at time ``t`` is the same quantity in both. Both hold V for ``t_ref`` from their spike label, so
NEST's refractory period ends one step later than pond's; pond with ``t_ref + dt`` is NEST with ``t_ref``.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import reference_tool
from engine import Network, Population, Projection, Simulator, SpikeMonitor, SpikeSource, StateMonitor
from engine.network.connectivity import AllToAll

reference_tool("nest")
pytestmark = [pytest.mark.reference, pytest.mark.subprocess]  # NEST runs in a child process

NEST_SCRIPT = """
import json, sys
import numpy as np
import nest
model, w_ex, w_in, duration, delay, dt, params, times = json.loads(sys.argv[1])
times = np.asarray(times)
nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.SetKernelStatus({"resolution": dt})
n = nest.Create(model, params=dict(params, V_m=-70.0))
for t, w in ((times, w_ex), (times[::3] + 1.0, w_in)):
    g = nest.Create("spike_generator", params={"spike_times": (t + dt).tolist()})
    nest.Connect(g, n, syn_spec={"weight": w, "delay": delay})
mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
sr = nest.Create("spike_recorder")
nest.Connect(mm, n)
nest.Connect(n, sr)
nest.Simulate(duration + dt)
ev = mm.get("events")
print(json.dumps([list(map(float, ev["times"])), list(map(float, ev["V_m"])),
                  list(map(float, sr.get("events")["times"]))]))
"""


def _run_nest(model, w_ex, w_in, duration, delay):
    """NEST in a child process: NEST's OpenMP runtime and Numba's threading layer do not share a process safely.

    pond's spike generator time ``t`` is NEST's ``t + dt``."""
    params = {k: v for k, v in PARAMS.items() if model == "iaf_psc_exp" or not k.startswith("tau_syn")}
    arg = json.dumps([model, w_ex, w_in, duration, delay, DT, params, INPUT_TIMES.tolist()])
    out = subprocess.run([sys.executable, "-c", NEST_SCRIPT, arg], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    t, v, spikes = json.loads(out.stdout.strip().splitlines()[-1])
    return np.asarray(t), np.asarray(v), np.asarray(spikes)

DT = 0.1
PARAMS = dict(tau_m=15.0, C_m=200.0, E_L=-70.0, V_th=-55.0, V_reset=-70.0, t_ref=2.0, tau_syn_ex=3.0,
              tau_syn_in=6.0, I_e=150.0)
INPUT_TIMES = np.array([5.0, 7.5, 9.0, 20.0, 20.1, 31.3, 45.0, 46.0, 47.0, 48.0, 60.2])


@pytest.mark.parametrize("model, w_ex, w_in", [("iaf_psc_exp", 600.0, -400.0), ("iaf_psc_delta", 4.0, -2.5)])
def test_membrane_trace_and_spikes_match_nest(model, w_ex, w_in):
    duration, delay = 100.0, 1.0
    params = dict(PARAMS, model=model, t_ref=PARAMS["t_ref"] + DT)
    net = Network(dt=DT)
    net.add(Population("n", 1, V_init=-70.0, **params),
            SpikeSource("ex", 1, times=INPUT_TIMES, indices=np.zeros(INPUT_TIMES.size, dtype=int)),
            SpikeSource("inh", 1, times=INPUT_TIMES[::3] + 1.0, indices=np.zeros(INPUT_TIMES[::3].size, dtype=int)),
            Projection("ex", "n", AllToAll(), weight=w_ex, delay=delay),
            Projection("inh", "n", AllToAll(), weight=w_in, delay=delay),
            SpikeMonitor("n"), StateMonitor("n", ("V",)))
    sim = Simulator(net).run(duration)
    t, V = sim.state("n", "V")
    pond_spikes, _ = sim.spikes("n")

    nest_t, nest_v, nest_spikes = _run_nest(model, w_ex, w_in, duration, delay)
    nest_spikes = nest_spikes - DT

    assert pond_spikes.size >= 2, "the input must make the neuron fire"
    np.testing.assert_allclose(pond_spikes, nest_spikes, atol=1e-9)
    nest_at = dict(zip(np.round(nest_t, 6), nest_v))
    assert all(round(x, 6) in nest_at for x in t)
    np.testing.assert_allclose(V[0, :, 0], [nest_at[round(x, 6)] for x in t], rtol=1e-9, atol=1e-9)
