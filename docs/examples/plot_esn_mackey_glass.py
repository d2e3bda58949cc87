"""
Echo state network on Mackey-Glass
==================================

One-step-ahead prediction of the Mackey-Glass series (:math:`\\tau = 17`) with an echo state network and a ridge
readout, the classic reservoir-computing benchmark (Jaeger & Haas 2004). The reservoir is smaller and the series
shorter than in the README, so the example runs in a second.
"""

import matplotlib.pyplot as plt
import numpy as np

from readouts import Ridge, nrmse
from reservoirs import ESN
from reservoirs.datasets import mackey_glass

X = mackey_glass(4001)  # shape (4001, 1)
esn = ESN(units=300, spectral_radius=1.25, leak_rate=0.3, connectivity=0.1, seed=0).fit(n_features=1)
S = esn.transform(X[:-1])  # reservoir states, (4000, 300)

# %%
# Train on the first 3000 steps (after 100 warm-up steps), test on the rest.
train, warm = 3000, 100
readout = Ridge(alpha=1e-6).fit(S[warm:train], X[warm + 1:train + 1])
prediction = readout.predict(S[train:])
error = nrmse(X[train + 1:], prediction)
print(f"test NRMSE: {error:.2e}")

# %%
# The prediction lies on the series; the error is plotted beneath on its own scale.
t = np.arange(train + 1, X.shape[0])
fig, (ax, ax_err) = plt.subplots(2, 1, sharex=True, figsize=(8, 4.5), gridspec_kw={"height_ratios": [3, 1]})
ax.plot(t, X[train + 1:, 0], color="0.6", lw=3, label="Mackey-Glass")
ax.plot(t, prediction[:, 0], color="tab:blue", lw=1, label="ESN prediction")
ax.set_ylabel("x(t)")
ax.legend(loc="upper right", frameon=False)
ax_err.plot(t, prediction[:, 0] - X[train + 1:, 0], color="tab:red", lw=1)
ax_err.set_ylabel("error")
ax_err.set_xlabel("time step")
fig.suptitle(f"ESN, 300 units: one-step prediction, NRMSE {error:.1e}")
fig.tight_layout()
plt.show()
