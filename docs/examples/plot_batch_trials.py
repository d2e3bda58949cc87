"""
Batch trials with per-trial inputs
==================================

One network, eight trials run in parallel, each driven by its own input rate -- the way a stimulus set is
presented to a spiking reservoir. Connectivity is built once and shared; every trial has its own initial state
and Poisson input. Trial ``k`` of the batch is bit-identical to trial ``k`` run on its own, for any number of
threads. The spikes then go to Neo and Elephant (:mod:`engine.io.neo_export`) for analysis.
"""

import matplotlib.pyplot as plt
import numpy as np

from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor
from engine.network.connectivity import FixedProbability
from engine.network.distributions import Uniform

net = Network(dt=0.1, seed=7)
lif = dict(tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0, V_init=(-65.0, -50.0))
net.add(Population("exc", 400, **lif), Population("inh", 100, **lif),
        PoissonSource("input", 200, rate=20.0),
        Projection("input", "exc", FixedProbability(0.1), weight=Uniform(100.0, 200.0), delay=1.0),
        Projection("input", "inh", FixedProbability(0.1), weight=Uniform(100.0, 200.0), delay=1.0),
        Projection("exc", "exc", FixedProbability(0.1), weight=20.0, delay=1.5),
        Projection("exc", "inh", FixedProbability(0.1), weight=40.0, delay=1.5),
        Projection("inh", "exc", FixedProbability(0.2), weight=-120.0, delay=1.0),
        Projection("inh", "inh", FixedProbability(0.2), weight=-120.0, delay=1.0),
        SpikeMonitor("exc"), SpikeMonitor("inh"))

# %%
# Eight trials, input rates from 20 to 90 Hz: :meth:`~engine.run.simulator.Simulator.set_rates` takes one rate per trial.
input_rates = np.linspace(20.0, 90.0, 8)
sim = Simulator(net, trials=8)
sim.set_rates("input", input_rates)
sim.run(500.0, progress=False)
print(sim)

# %%
# Trial 5 on its own gives exactly the same spikes as trial 5 of the batch.
alone = Simulator(net, trials=[5])
alone.set_rates("input", input_rates[[5]])
alone.run(500.0, progress=False)
same = all(np.array_equal(a, b) for a, b in zip(sim.spikes("exc", trial=5), alone.spikes("exc", trial=5)))
print("trial 5 alone == trial 5 of the batch:", same)

# %%
# The batch as a ``neo.Block`` (one Segment per trial, one SpikeTrain per neuron) and Elephant's statistics of each
# trial: the response rate grows with the input rate, the firing stays irregular.
from elephant.statistics import mean_firing_rate  # noqa: E402

from engine.io.neo_export import spike_statistics, to_neo  # noqa: E402

block = to_neo(sim)
rates = {"exc": [], "inh": []}
for seg in block.segments:
    for name in rates:
        trains = [st for st in seg.spiketrains if st.annotations["population"] == name]
        rates[name].append(np.mean([float(mean_firing_rate(st).rescale("Hz")) for st in trains]))
stats = spike_statistics(block)
for name, s in stats.items():
    print(f"{name}: mean_firing_rate {s['mean_firing_rate']:.1f} Hz, cv {s['cv']:.2f}, "
          f"fanofactor {s['fanofactor']:.2f}, spike_contrast {s['spike_contrast']:.2f}")

fig, (ax_in, ax_lo, ax_hi) = plt.subplots(1, 3, figsize=(10, 3.4), layout="constrained")
for name, color in (("exc", "tab:blue"), ("inh", "tab:red")):
    ax_in.plot(input_rates, rates[name], "o-", color=color, label=name)
ax_in.set_xlabel("input rate (Hz)")
ax_in.set_ylabel("response rate (Hz)")
ax_in.legend(frameon=False)
ax_in.set_title("rate per trial (Elephant)", fontsize=10)
for ax, k in ((ax_lo, 0), (ax_hi, 7)):
    t, i = sim.spikes("exc", trial=k)
    ax.plot(t, i, ",", color="tab:blue", rasterized=True)
    ax.set_title(f"trial {k}: input {input_rates[k]:g} Hz", fontsize=10)
    ax.set_xlabel("time (ms)")
    ax.set_ylim(0, 400)
ax_lo.set_ylabel("exc neuron")
plt.show()
