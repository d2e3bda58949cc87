"""``pond demo``: the end-to-end job. Handwritten digits go through a classical net, into reservoirs and out through
trained readouts, each path one scikit-learn :class:`~sklearn.pipeline.Pipeline`:

- **features alone**: scikit-learn's 8×8 digits → the shipped CNN's 128 features (ONNX, no torch) → ridge
  classifier;
- **through the LSM**: the same features → Poisson rate code (400 Hz at the top of the range, 100 ms) → a liquid
  state machine of 1000 LIF neurons with Tsodyks–Markram synapses (the Maass 2002 column's rules on a 10×10×10
  grid, its recurrent weights a quarter of the column's, which keeps this larger liquid from firing near
  saturation: 97.0 % held out against 96.9 % at half the column's scale and 95.7 % at its full scale with 200 Hz
  input and four samples) → filtered spike trains (τ = 30 ms) every 12.5 ms → ridge classifier;
- **through the ESN**: the same features, scaled to [0, 1] and held for 5 steps → an echo state network of 1000
  tanh units → its last state → ridge classifier.

Each readout's penalty is chosen by leave-one-out cross-validation on the training part; accuracy is measured on the
30 % held out (the split the shipped CNN was trained without). The LSM's spikes for the first test digits are
written to a SONATA HDF5 file, and a figure shows one digit's raster and the LSM's confusion matrix.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

#: Ridge penalties the readouts choose from (leave-one-out CV on the training part).
ALPHAS = np.logspace(-3, 3, 13)
#: The LSM path's settings.
LSM_GRID = (10, 10, 10)
DURATION_MS = 100.0
SAMPLE_TIMES = tuple(12.5 * k for k in range(1, 9))
MAX_RATE_HZ = 400.0
#: Recurrent weight scales A (pA) for EE, EI, IE, II: a quarter of the Maass column's.
LSM_A = (7500.0, 15000.0, -4750.0, -4750.0)
#: The ESN path's settings.
ESN_UNITS = 1000
ESN_STEPS = 5
#: What ``run_digits`` writes to its output directory: the liquid's spikes and the figure.
SPIKE_FILE, FIGURE = "digits_lsm_spikes.h5", "digits_demo.png"


def _hold(F: np.ndarray) -> np.ndarray:
    """Static features as sequences: each sample held for ``ESN_STEPS`` steps, shape (n, steps, features)."""
    return np.repeat(np.asarray(F, dtype=np.float64)[:, None, :], ESN_STEPS, axis=1)


def _last(S: np.ndarray) -> np.ndarray:
    """The reservoir's state after the last step of each sequence."""
    return S[:, -1, :]


def pipelines(seed: int = 0, grid: tuple = LSM_GRID, esn_units: int = ESN_UNITS) -> dict:
    """The three scikit-learn pipelines of the demo, unfitted: ``features``, ``lsm`` and ``esn``."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

    from readouts import RidgeClassifier
    from reservoirs.adapters import RateEncoder
    from reservoirs.adapters.zoo import shipped_features
    from reservoirs.esn import ESN
    from reservoirs.lsm import LSM

    def cnn():
        return ("cnn", shipped_features("digits_cnn"))

    return {
        "features": Pipeline([cnn(), ("readout", RidgeClassifier(alpha=ALPHAS))]),
        "lsm": Pipeline([cnn(),
                         ("encode", RateEncoder(max_rate=MAX_RATE_HZ, duration=DURATION_MS, dt=0.1, seed=seed)),
                         ("liquid", LSM(grid=grid, A=LSM_A, n_inputs=128, duration=DURATION_MS,
                                        sample_times=SAMPLE_TIMES, output="flat", seed=seed)),
                         ("readout", RidgeClassifier(alpha=ALPHAS))]),
        "esn": Pipeline([cnn(), ("scale", MaxAbsScaler()), ("hold", FunctionTransformer(_hold)),
                         ("esn", ESN(units=esn_units, spectral_radius=0.9, input_scaling=0.5, input_connectivity=0.2,
                                     seed=seed)),
                         ("last", FunctionTransformer(_last)), ("readout", RidgeClassifier(alpha=ALPHAS))]),
    }


def run_digits(outdir: str = ".", *, seed: int = 0, grid: tuple = LSM_GRID, esn_units: int = ESN_UNITS,
               n_spike_trials: int = 10, plot: bool = True, quiet: bool = False, overwrite: bool = False) -> dict:
    """Fit the three pipelines on the digits' training part, score them on the held-out part, write the LSM's
    spikes (``digits_lsm_spikes.h5``) and the figure (``digits_demo.png``) to ``outdir``; returns the results.

    Existing output files are refused (FileExistsError, before any work) unless ``overwrite`` is True."""
    from reservoirs.adapters.zoo import digits_split

    os.makedirs(outdir, exist_ok=True)
    spikes_path, figure_path = os.path.join(outdir, SPIKE_FILE), os.path.join(outdir, FIGURE)
    for path in [spikes_path] + ([figure_path] if plot else []):
        if not overwrite and os.path.lexists(path):
            raise FileExistsError(f"{path!r} already exists; pass overwrite=True to replace it")
    X_train, X_test, y_train, y_test = digits_split()
    results = {}
    pipes = pipelines(seed, grid, esn_units)
    bar = _Progress(len(pipes), quiet)
    for name, pipe in pipes.items():
        t0 = time.perf_counter()
        pipe.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = pipe.predict(X_test)
        results[name] = {"accuracy": float(np.mean(pred == y_test)), "fit_s": fit_s,
                         "predict_s": time.perf_counter() - t0, "pred": pred}
        bar.step(name)
    bar.close()
    lsm = pipes["lsm"]
    first = lsm[:-2].transform(X_test[:n_spike_trials])  # the encoded spike trains of the first test digits
    _write_lsm_spikes(lsm.named_steps["liquid"], first, spikes_path, seed)
    results["spikes_file"] = spikes_path
    if plot:
        results["figure"] = _figure(spikes_path, y_test, results["lsm"]["pred"],
                                    figure_path)
    results["y_test"] = y_test
    return results


def _write_lsm_spikes(lsm, trains: list, path: str, seed: int) -> None:
    """Run the fitted liquid on ``trains`` (one trial per digit) with a SONATA spike-file sink."""
    from engine import Simulator
    from engine.io.spikefile import SpikeFileWriter

    net = lsm.network("spikes")
    sim = Simulator(net, trials=len(trains))
    sim.set_spikes("input", trains)
    sizes = {p.name: p.size for p in net.populations}
    with SpikeFileWriter(path, sizes, n_trials=len(trains), dt_ms=net.dt, duration_ms=DURATION_MS, seed=seed,
                         overwrite=True) as writer:
        sim.run(DURATION_MS, sinks=[writer], keep=False, progress=False)


def _figure(spikes_path: str, y_true, y_pred, out: str) -> str | None:
    """Raster of the first test digit's liquid and the LSM readout's confusion matrix; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("pond demo: matplotlib is not installed; skipping the figure (pip install 'pond[plot]')",
              file=sys.stderr)
        return None
    from engine.io.spikefile import read_spikes

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]})
    offset = 0
    for name, color in (("exc", "tab:blue"), ("inh", "tab:red")):
        t, ids = read_spikes(spikes_path, name, trial=0)
        ax0.plot(t, ids + offset, ".", ms=1.5, color=color, label=name)
        offset += int(ids.max()) + 1 if ids.size else 0
    ax0.set(xlabel="time (ms)", ylabel="neuron", title=f"liquid's spikes, first test digit ({int(y_true[0])})")
    ax0.legend(loc="upper right", markerscale=6)
    cm = np.zeros((10, 10), dtype=int)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    ax1.imshow(cm, cmap="Blues")
    ax1.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
            title=f"LSM readout, accuracy {np.trace(cm) / cm.sum():.1%}")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax1.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                         color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


class _Progress:
    """A tqdm bar over the pipelines (in a terminal or a notebook)."""

    def __init__(self, n: int, quiet: bool):
        from engine.progress import interactive

        self.bar = None
        if not quiet and interactive():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n, desc="pond demo", unit="pipeline", leave=False)

    def step(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(f"{name} done")
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def summary_table(results: dict) -> str:
    """The printed table: held-out accuracy and times of each path."""
    rows = [("features alone (CNN -> ridge)", "features"), ("through the LSM", "lsm"), ("through the ESN", "esn")]
    lines = [f"{'path':34s} {'accuracy':>9s} {'fit s':>7s} {'predict s':>10s}"]
    for label, key in rows:
        r = results[key]
        lines.append(f"{label:34s} {r['accuracy']:9.1%} {r['fit_s']:7.1f} {r['predict_s']:10.1f}")
    return "\n".join(lines)
