"""
A classical net feeding a liquid
================================

The shipped CNN of the model zoo (:func:`reservoirs.adapters.zoo.shipped_features`, ONNX, no torch) turns 8×8
digits into 128 features; a :class:`~reservoirs.adapters.RateEncoder` turns each feature into a Poisson spike train
of 20 ms per digit; digits shown one after another make a stream that drives a liquid of 512 LIF neurons. The
liquid's weights follow pond's scaling rules: recurrent weights scaled from the Maass column's by :math:`1/\\sqrt{K}`
of the expected in-degree (``A=None``), input weights scaled so that a neuron's expected input is the column's
(``input_A='auto'``). :meth:`~reservoirs.LSM.regime` reports the activity: asynchronous and irregular. The same
liquid with the column's per-synapse input weights, made for 4 input channels at 20 Hz, is driven by 128 channels
into regular firing near its refractory limit. (Needs the ``onnx`` and ``neo`` extras.)
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import Pipeline

from reservoirs import LSM
from reservoirs.adapters import RateEncoder
from reservoirs.adapters.zoo import digits_split, shipped_features
from reservoirs.lsm import plot_raster

X_train, X_test, y_train, y_test = digits_split()
encode = Pipeline([("cnn", shipped_features("digits_cnn")),
                   ("rate", RateEncoder(max_rate=400.0, duration=20.0, dt=0.1, seed=0))]).fit(X_train)


def streams(X, items=25, window=20.0):
    """Each digit's spike train shifted to its slot, ``items`` digits per stream."""
    trains = encode.transform(X)
    return [(np.concatenate([t + i * window for i, (t, _) in enumerate(trains[s:s + items])]),
             np.concatenate([c for _, c in trains[s:s + items]])) for s in range(0, len(trains), items)]


S = streams(X_test[:75])  # three streams of 25 digits, 500 ms each
liquid = LSM(grid=(8, 8, 8), input_A="auto", n_inputs=128, duration=500.0, seed=0).fit(S)
print(f"input weights {liquid.input_A_[0]:.0f} / {liquid.input_A_[1]:.0f} pA (the column's: 18000 / 9000)")
driven = LSM(grid=(8, 8, 8), n_inputs=128, duration=500.0, seed=0).fit(S)

# %%
# The regime, with the scaling rules and with the column's input weights.
regimes = {"input_A='auto'": liquid.regime(S), "column's input weights": driven.regime(S)}
for name, r in regimes.items():
    print(f"{name:24s} rate {r['rate_hz']:6.1f} Hz, ISI CV {r['cv']:.2f}, spike contrast {r['spike_contrast']:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, lsm, (name, r) in zip(axes, (liquid, driven), regimes.items()):
    plot_raster(lsm, S[0], ax=ax)
    ax.set_title(f"{name}: {r['rate_hz']:.0f} Hz, ISI CV {r['cv']:.2f}")
fig.tight_layout()
plt.show()
