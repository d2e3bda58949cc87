"""
CUBA network: raster and population rate
========================================

The current-based network of Vogels & Abbott (2005) as in Brian2's ``examples/CUBA.py``: 3200 excitatory and 800
inhibitory LIF neurons, 2 % random connectivity, no external input (the initial potentials start the activity).
:func:`engine.network.library.cuba` describes it once for the command line, the benchmarks and the tests; this
is the network ``pond demo`` runs.
"""

import matplotlib.pyplot as plt
import numpy as np

from engine import Simulator
from engine.network.library import cuba

net = cuba(seed=1)
print(net)

# %%
# Build and run half a second of biological time. The connectivity (about 320,000 synapses) is generated in
# compiled code; the first run also compiles (or loads from Numba's cache) the simulation kernel.
sim = Simulator(net).run(500.0, progress=False)
print(sim)
print(f"{sim.last_run.spikes:,} spikes in {sim.last_run.wall_s:.3f} s of wall time "
      f"(real-time factor {sim.last_run.realtime_factor:.0f})")

# %%
# A raster of every spike, excitatory neurons below the inhibitory ones, with the population rate beneath
# (:meth:`~engine.run.simulator.Simulator.rate` gives it in Hz for every step; here it is averaged over 1 ms bins).
fig, (ax, ax_rate) = plt.subplots(2, 1, sharex=True, figsize=(8, 5), gridspec_kw={"height_ratios": [3, 1]})
offset = 0
for name, color in (("exc", "tab:blue"), ("inh", "tab:red")):
    t, i = sim.spikes(name)
    ax.plot(t, i + offset, ",", color=color, rasterized=True)
    offset += net.get(name).size
    rate = sim.rate(name)[0]
    binned = rate.reshape(-1, 10).mean(axis=1)  # 10 steps of 0.1 ms = 1 ms
    ax_rate.plot(np.arange(binned.size) + 0.5, binned, color=color, lw=1, label=name)
ax.set_ylabel("neuron")
ax.set_ylim(0, offset)
ax_rate.set_xlabel("time (ms)")
ax_rate.set_ylabel("rate (Hz)")
ax_rate.legend(loc="upper right", ncol=2, frameon=False)
fig.suptitle("CUBA (Vogels & Abbott 2005), 4000 LIF neurons")
fig.tight_layout()
plt.show()
