"""
Liquid state machine: separation and the template task
======================================================

The Maass, Natschläger & Markram (2002) column (135 LIF neurons on a 15 × 3 × 3 grid, Tsodyks–Markram synapses;
:class:`reservoirs.LSM` with its defaults) in its two classic experiments, smaller than in the paper so the example
runs in seconds:

- **separation** (Maass 2002, Fig. 2): pairs of 20 Hz Poisson inputs at a distance :math:`d(u, v)`
  (:func:`reservoirs.lsm.spike_train_distance`) drive the liquid; the distance of the liquid states grows with the
  distance of the inputs, and inputs at :math:`d = 0` (the same spikes, different initial states) stay closest;
- **template task** (the LSM toolbox's segment protocol): four segments of 250 ms, each one of two Poisson
  templates; a linear readout of the liquid state at the end (filtered spike trains and membrane potentials) names
  the template of the last segment and, from the liquid's fading memory, of the segment before it.
"""

import matplotlib.pyplot as plt
import numpy as np

from readouts import RidgeClassifier
from reservoirs import LSM
from reservoirs.lsm import plot_state_distance, spike_train_pair, state_distance

lsm = LSM(duration=500.0, sample_times=np.arange(1, 51) * 10.0, n_inputs=1, seed=11).fit()
print(f"{lsm.n_neurons_} neurons; weights A = {lsm.A_} pA (the paper's)")

curves = {}
for d in (0.0, 0.1, 0.2, 0.4):
    U, V = [], []
    for p in range(25):
        u, v = spike_train_pair(d, seed=1000 * int(d * 10) + p)
        U.append((u, np.zeros(u.size, np.int64)))
        V.append((v, np.zeros(v.size, np.int64)))
    F = lsm.transform(U + V, trial_ids=np.arange(50))
    curves[f"d(u, v) = {d}"] = state_distance(F[:25], F[25:])
    print(f"d = {d}: mean state distance after 50 ms {curves[f'd(u, v) = {d}'][:, 5:].mean():.3f}")

# %%
# The template task: 4 channels, 2 templates per segment, 4 ms jitter per trial.


def poisson(n_channels, duration, rate, rng):
    n = rng.poisson(rate * duration * 1e-3 * n_channels)
    return np.round(rng.uniform(0, duration, n), 1), rng.integers(0, n_channels, n)


rng = np.random.default_rng(5)
templates = [[poisson(4, 250.0, 20.0, rng) for _ in range(2)] for _ in range(4)]


def trials(n):
    X, y = [], []
    for _ in range(n):
        bits = rng.integers(0, 2, 4)
        t = np.concatenate([templates[s][b][0] + 250.0 * s for s, b in enumerate(bits)])
        c = np.concatenate([templates[s][b][1] for s, b in enumerate(bits)])
        X.append((np.clip(np.round(t + rng.normal(0, 4.0, t.size), 1), 0.0, 999.9), c))
        y.append(bits)
    return X, np.array(y)


Xtr, ytr = trials(200)
Xte, yte = trials(100)
column = LSM(duration=1000.0, n_inputs=4, seed=2, output="flat", features=("trace", "V")).fit()
Ftr, Fte = column.transform(Xtr), column.transform(Xte, trial_ids=np.arange(1000, 1100))
accuracy = [RidgeClassifier(alpha=0.1).fit(Ftr, ytr[:, s]).score(Fte, yte[:, s]) for s in range(4)]
print("template of segment 1..4 read at 1000 ms:", [f"{a:.0%}" for a in accuracy])

# %%
# Separation (left) and the memory of the segments (right).
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
plot_state_distance(lsm.sample_times, curves, ax=ax0)
ax0.set_title("separation (Maass 2002, Fig. 2)")
ax1.bar(range(1, 5), np.array(accuracy) * 100, color="tab:blue")
ax1.axhline(50, color="0.5", ls=":", label="chance")
ax1.set(xlabel="segment (the last one ends at the readout)", ylabel="held-out accuracy (%)", ylim=(0, 100),
        xticks=range(1, 5), title="template task: fading memory")
ax1.legend(loc="upper left")
fig.tight_layout()
plt.show()
