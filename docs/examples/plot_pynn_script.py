"""
A PyNN script on pond
=====================

An unchanged PyNN script (`PyNN <https://neuralensemble.org/PyNN/>`_ 0.13) runs on pond by importing
``pond.pynn`` as the simulator: a population of current-based LIF cells, each driven by its own Poisson source,
with recurrent excitation, recording spikes and membrane potentials into a Neo block in PyNN's units. (Needs the
``pynn`` extra.)
"""

import matplotlib.pyplot as plt
import numpy as np

import pond.pynn as sim  # was: import pyNN.nest as sim

sim.setup(timestep=0.1)
noise = sim.Population(100, sim.SpikeSourcePoisson(rate=1000.0))
cells = sim.Population(100, sim.IF_curr_exp(tau_syn_E=2.0), label="cells")
sim.Projection(noise, cells, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.5, delay=1.0))
sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.1), sim.StaticSynapse(weight=0.1, delay=1.5),
               receptor_type="excitatory")
cells.record(["spikes", "v"])
sim.run(500.0)
block = cells.get_data()
sim.end()

segment = block.segments[0]
rates = [len(st) / 0.5 for st in segment.spiketrains]
print(f"{len(segment.spiketrains)} spike trains, mean rate {np.mean(rates):.1f} Hz")

# %%
# Spikes and the membrane potential of three cells, straight from the Neo block.
v = segment.analogsignals[0]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
for k, st in enumerate(segment.spiketrains):
    ax0.plot(st.times.magnitude, np.full(len(st), k), "|", color="k", ms=3)
ax0.set(xlabel="time (ms)", ylabel="cell", title="spikes")
ax1.plot(v.times.magnitude, v.magnitude[:, :3])
ax1.set(xlabel="time (ms)", ylabel=f"v ({v.units.dimensionality})", title="membrane potential, three cells")
fig.tight_layout()
plt.show()
