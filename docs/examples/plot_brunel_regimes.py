"""
Brunel's four regimes
=====================

Brunel (2000) showed that a sparsely connected network of excitatory and inhibitory integrate-and-fire neurons
settles into one of four states depending on the relative strength of inhibition :math:`g` and the external drive
:math:`\\eta = \\nu_{ext} / \\nu_{thr}`: synchronous regular (SR), synchronous irregular with fast oscillations
(SI fast), asynchronous irregular (AI) and synchronous irregular with slow oscillations (SI slow) -- the four panels
of his Fig. 8.

The network here is Brunel's model at 40 % of its size, so that the four runs take seconds: :math:`N_E = 4000`,
:math:`N_I = 1000` ``iaf_psc_delta`` neurons (:math:`\\tau_m = 20` ms, :math:`\\theta = 20` mV, :math:`V_r = 10`
mV, :math:`t_{ref} = 2` ms), :math:`C_E = 400` and :math:`C_I = 100` inputs per neuron (fixed in-degree,
:math:`\\epsilon = 0.1`), delay :math:`D = 1.5` ms. The weight :math:`J = 0.25` mV keeps :math:`J C_E` -- and with
it the threshold rate :math:`\\nu_{thr} = \\theta / (J C_E \\tau_m) = 10` Hz -- at the full model's value, so the
regimes sit at the same :math:`(g, \\eta)`. The shipped ``pond run brunel`` is the full AI network.
"""

import matplotlib.pyplot as plt
import numpy as np

from engine import Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor
from engine.network.connectivity import FixedInDegree, OneToOne

N_E, N_I, C_E, C_I = 4000, 1000, 400, 100
J, D, THETA, TAU_M = 0.25, 1.5, 20.0, 20.0
NU_THR = THETA / (J * C_E * TAU_M) * 1000.0  # Hz


def brunel(g: float, eta: float, seed: int = 1) -> Network:
    """Brunel's network with relative inhibition ``g`` and external drive ``eta`` (in units of nu_thr)."""
    neuron = dict(model="iaf_psc_delta", tau_m=TAU_M, C_m=1.0, E_L=0.0, V_th=THETA, V_reset=10.0, t_ref=2.0,
                  V_init=(0.0, THETA))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", N_E, **neuron), Population("inh", N_I, **neuron),
            PoissonSource("ext_exc", N_E, rate=eta * NU_THR * C_E),
            PoissonSource("ext_inh", N_I, rate=eta * NU_THR * C_E))
    for target in ("exc", "inh"):
        net.add(Projection(f"ext_{target}", target, OneToOne(), weight=J, delay=D),
                Projection("exc", target, FixedInDegree(C_E), weight=J, delay=D),
                Projection("inh", target, FixedInDegree(C_I), weight=-g * J, delay=D))
    net.add(SpikeMonitor("exc"))
    return net


REGIMES = [("SR: synchronous regular", 3.0, 2.0), ("SI fast: synchronous irregular", 6.0, 4.0),
           ("AI: asynchronous irregular", 5.0, 2.0), ("SI slow: synchronous irregular", 4.5, 0.9)]

# %%
# Run each regime for 300 ms and keep the spikes of the excitatory population.
T, SHOW = 300.0, (200.0, 300.0)
results = {}
for title, g, eta in REGIMES:
    sim = Simulator(brunel(g, eta)).run(T, progress=False)
    t, i = sim.spikes("exc")
    rate = t.size / (N_E * T * 1e-3)
    results[title] = (t, i)
    print(f"{title:32s} g = {g:3.1f}, eta = {eta:3.1f}: mean rate {rate:6.1f} Hz, "
          f"{sim.last_run.wall_s:.2f} s wall")

# %%
# The last 100 ms of each run: spikes of 50 excitatory neurons and the excitatory population rate (0.5 ms bins),
# arranged as in Brunel's Fig. 8.
fig = plt.figure(figsize=(9, 6), layout="constrained")
for sub, (title, g, eta) in zip(fig.subfigures(2, 2).ravel(), REGIMES):
    t, i = results[title]
    ax, ax_rate = sub.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    keep = (i < 50) & (t >= SHOW[0]) & (t < SHOW[1])
    ax.plot(t[keep], i[keep], "|", ms=3, color="k")
    ax.set_ylim(-1, 50)
    ax.set_title(f"{title}\ng = {g:g}, $\\eta$ = {eta:g}", fontsize=9)
    ax.set_ylabel("neuron", fontsize=8)
    edges = np.arange(SHOW[0], SHOW[1] + 0.25, 0.5)
    counts, _ = np.histogram(t, bins=edges)
    ax_rate.plot(edges[:-1], counts / (N_E * 0.5e-3), color="tab:blue", lw=0.8)
    ax_rate.set_ylabel("Hz", fontsize=8)
    ax_rate.set_xlabel("time (ms)", fontsize=8)
    for a in (ax, ax_rate):
        a.tick_params(labelsize=7)
plt.show()
