"""``pond demo``: the end-to-end job, on a task with time in it. Handwritten digits are shown one after another, and
the question is which digit was shown *one item back*: a readout of what is on screen now cannot know it, a
reservoir's fading memory can. Three paths, each one scikit-learn :class:`~sklearn.pipeline.Pipeline` whose rows are
the items of the stream, in order:

- **features alone**: scikit-learn's 8×8 digits → the shipped CNN's 128 features (ONNX, no torch) → ridge
  classifier; it sees only the current item, so it stays at chance (10 %) for any earlier item;
- **through the LSM**: the same features → Poisson rate code (``MAX_RATE_HZ`` at the top of each feature's range,
  ``ITEM_MS`` per item) → the items of each stream of ``STREAM_ITEMS`` concatenated into one spike train → a liquid
  state machine of 1000 LIF neurons with Tsodyks–Markram synapses (the Maass 2002 column's rules on a 10×10×10 grid,
  recurrent weights scaled from the column's by :math:`1/\\sqrt{K}` of the expected in-degree, input weights scaled so
  that a neuron's expected input is the column's: :func:`reservoirs.lsm.recurrent_weights`,
  :func:`reservoirs.lsm.input_weights`) → its filtered spike trains (τ = 30 ms) at the end of each item → ridge
  classifier;
- **through the ESN**: the same features scaled to [0, 1], each item held for ``ESN_STEPS`` steps of one sequence per
  stream → an echo state network of 1000 tanh units → its state at the end of each item → ridge classifier.

The training streams are made of the digits' training part, the test streams of the 30 % held out (the split the
shipped CNN was trained without), in the split's (shuffled) order. Each readout's penalty is chosen by leave-one-out
cross-validation on the training items. Accuracy counts the items from the ``WARMUP`` th of each stream on (earlier
items' past lies in another stream). The memory curve reads every lag 0..``max(LAGS)`` from the same reservoir states
with one more readout per lag. The liquid's regime (mean rate, ISI CV, spike-contrast synchrony,
:meth:`reservoirs.LSM.regime`) is measured on the first test streams, whose spikes are written to a SONATA file; the
figure shows one stream's raster and the memory curves.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

#: Ridge penalties the readouts choose from (leave-one-out CV on the training part).
ALPHAS = np.logspace(-3, 3, 13)
#: The task: how many items back the main readout names, and the lags of the memory curve.
TASK_LAG = 1
LAGS = (0, 1, 2, 3)
#: Items per stream (one LSM trial, one ESN sequence) and the first item of each stream that is scored.
STREAM_ITEMS = 30
WARMUP = max(LAGS)
#: The LSM path's settings.
LSM_GRID = (10, 10, 10)
ITEM_MS = 20.0
MAX_RATE_HZ = 400.0
#: The ESN path's settings.
ESN_UNITS = 1000
ESN_STEPS = 2
#: What ``run_digits`` writes to its output directory: the liquid's spikes and the figure.
SPIKE_FILE, FIGURE = "digits_lsm_spikes.h5", "digits_demo.png"


def _spike_streams(trains: list, items: int, window: float) -> list:
    """Per-item spike trains (times in ``[0, window)``) as streams: ``items`` consecutive items per trial, item ``i``
    shifted to ``[i · window, (i + 1) · window)``."""
    if len(trains) % items:
        raise ValueError(f"pond demo: {len(trains)} items do not make whole streams of {items}; give a multiple")
    out = []
    for s in range(0, len(trains), items):
        part = trains[s:s + items]
        out.append((np.concatenate([t + i * window for i, (t, _) in enumerate(part)]),
                    np.concatenate([c for _, c in part])))
    return out


def _item_rows(F: np.ndarray) -> np.ndarray:
    """Reservoir states ``(streams, items, n)`` as one row per item ``(streams · items, n)``."""
    return np.asarray(F).reshape(-1, np.asarray(F).shape[-1])


def _held_streams(F: np.ndarray, items: int, steps: int) -> np.ndarray:
    """Item features ``(n, f)`` as sequences: each item held for ``steps`` steps, ``items`` items per sequence."""
    F = np.asarray(F, dtype=np.float64)
    if F.shape[0] % items:
        raise ValueError(f"pond demo: {F.shape[0]} items do not make whole streams of {items}; give a multiple")
    return np.repeat(F, steps, axis=0).reshape(F.shape[0] // items, items * steps, F.shape[1])


def _item_ends(S: np.ndarray, steps: int) -> np.ndarray:
    """The ESN's state at the last step of each item, one row per item."""
    return _item_rows(np.asarray(S)[:, steps - 1::steps, :])


def lagged(y: np.ndarray, lag: int) -> np.ndarray:
    """Targets ``lag`` items back: ``y[i - lag]`` (the first ``lag`` items take the stream's last, never scored)."""
    return np.roll(np.asarray(y), lag)


def scored(n: int, items: int = STREAM_ITEMS, warmup: int = WARMUP) -> np.ndarray:
    """Which of ``n`` items are scored: those from the ``warmup``-th of each stream on."""
    return np.arange(n) % items >= warmup


def pipelines(seed: int = 0, grid: tuple = LSM_GRID, esn_units: int = ESN_UNITS) -> dict:
    """The three scikit-learn pipelines of the demo, unfitted: ``features``, ``lsm`` and ``esn``. Their input is the
    items of whole streams in order (``(n, 64)`` images, ``n`` a multiple of ``STREAM_ITEMS``), their output one
    prediction per item."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler

    from readouts import RidgeClassifier
    from reservoirs.adapters import RateEncoder
    from reservoirs.adapters.zoo import shipped_features
    from reservoirs.esn import ESN
    from reservoirs.lsm import LSM

    def cnn():
        return ("cnn", shipped_features("digits_cnn"))

    duration = STREAM_ITEMS * ITEM_MS
    return {
        "features": Pipeline([cnn(), ("readout", RidgeClassifier(alpha=ALPHAS))]),
        "lsm": Pipeline([cnn(),
                         ("encode", RateEncoder(max_rate=MAX_RATE_HZ, duration=ITEM_MS, dt=0.1, seed=seed)),
                         ("stream", FunctionTransformer(_spike_streams,
                                                        kw_args={"items": STREAM_ITEMS, "window": ITEM_MS})),
                         ("liquid", LSM(grid=grid, input_A="auto", n_inputs=128, duration=duration,
                                        sample_times=ITEM_MS * np.arange(1, STREAM_ITEMS + 1), seed=seed)),
                         ("items", FunctionTransformer(_item_rows)),
                         ("readout", RidgeClassifier(alpha=ALPHAS))]),
        "esn": Pipeline([cnn(), ("scale", MaxAbsScaler()),
                         ("stream", FunctionTransformer(_held_streams,
                                                        kw_args={"items": STREAM_ITEMS, "steps": ESN_STEPS})),
                         ("esn", ESN(units=esn_units, spectral_radius=0.9, input_scaling=0.5, input_connectivity=0.2,
                                     seed=seed)),
                         ("items", FunctionTransformer(_item_ends, kw_args={"steps": ESN_STEPS})),
                         ("readout", RidgeClassifier(alpha=ALPHAS))]),
    }


def _whole_streams(n: int) -> int:
    return n - n % STREAM_ITEMS


def run_digits(outdir: str = ".", *, seed: int = 0, grid: tuple = LSM_GRID, esn_units: int = ESN_UNITS,
               n_train: int | None = None, n_test: int | None = None, n_spike_trials: int = 3, plot: bool = True,
               quiet: bool = False, overwrite: bool = False) -> dict:
    """Fit the three pipelines on streams of the digits' training part for the item ``TASK_LAG`` back, score them on
    streams of the held-out part, read the memory curve (accuracy at each lag of ``LAGS``), measure the liquid's
    regime, write the LSM's spikes (``digits_lsm_spikes.h5``, the first ``n_spike_trials`` test streams) and the
    figure (``digits_demo.png``) to ``outdir``; returns the results.

    ``n_train``, ``n_test``: use only the first items of each part (whole streams; default: all whole streams).
    Existing output files are refused (FileExistsError, before any work) unless ``overwrite`` is True."""
    from sklearn.base import clone

    from reservoirs.adapters.zoo import digits_split

    os.makedirs(outdir, exist_ok=True)
    spikes_path, figure_path = os.path.join(outdir, SPIKE_FILE), os.path.join(outdir, FIGURE)
    for path in [spikes_path] + ([figure_path] if plot else []):
        if not overwrite and os.path.lexists(path):
            raise FileExistsError(f"{path!r} already exists; pass overwrite=True to replace it")
    X_train, X_test, y_train, y_test = digits_split()
    n_tr = _whole_streams(len(X_train) if n_train is None else min(n_train, len(X_train)))
    n_te = _whole_streams(len(X_test) if n_test is None else min(n_test, len(X_test)))
    if n_tr == 0 or n_te == 0:
        raise ValueError(f"pond demo: n_train={n_train!r} and n_test={n_test!r} must each give at least one stream "
                         f"of {STREAM_ITEMS} items")
    X_train, y_train, X_test, y_test = X_train[:n_tr], y_train[:n_tr], X_test[:n_te], y_test[:n_te]
    keep = scored(n_te)
    results = {"lags": LAGS, "task_lag": TASK_LAG, "chance": float(np.bincount(y_test[keep]).max() / keep.sum())}
    pipes = pipelines(seed, grid, esn_units)
    bar = _Progress(len(pipes), quiet)
    for name, pipe in pipes.items():
        # pipe.fit(X, y) and pipe.predict(X), with the reservoir run once per part for all the lags' readouts
        t0 = time.perf_counter()
        S_train = pipe[:-1].fit_transform(X_train, lagged(y_train, TASK_LAG))
        pipe[-1].fit(S_train, lagged(y_train, TASK_LAG))
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        S_test = pipe[:-1].transform(X_test)
        pred = pipe[-1].predict(S_test)
        predict_s = time.perf_counter() - t0
        curve = []
        for lag in LAGS:
            if lag == TASK_LAG:
                p = pred
            else:
                p = clone(pipe[-1]).fit(S_train, lagged(y_train, lag)).predict(S_test)
            curve.append(float(np.mean(p[keep] == lagged(y_test, lag)[keep])))
        results[name] = {"accuracy": curve[LAGS.index(TASK_LAG)], "memory": curve, "fit_s": fit_s,
                         "predict_s": predict_s, "pred": pred}
        bar.step(name)
    bar.close()
    lsm = pipes["lsm"]
    first = lsm[:3].transform(X_test[:n_spike_trials * STREAM_ITEMS])  # the first test streams' spike trains
    liquid = lsm.named_steps["liquid"]
    results["regime"] = _regime(liquid, first)
    _write_lsm_spikes(liquid, first, spikes_path, seed)
    results["spikes_file"] = spikes_path
    if plot:
        results["figure"] = _figure(spikes_path, y_test, results, figure_path)
    results["y_test"] = y_test
    results["scored"] = int(keep.sum())
    return results


def _regime(liquid, trains: list) -> dict | None:
    """:meth:`reservoirs.LSM.regime` on ``trains``; None (with a note) without Neo."""
    try:
        return liquid.regime(trains)
    except ImportError:
        print("pond demo: Neo is not installed; skipping the liquid's regime (pip install 'pond[neo]')",
              file=sys.stderr)
        return None


def _write_lsm_spikes(lsm, trains: list, path: str, seed: int) -> None:
    """Run the fitted liquid on ``trains`` (one trial per stream) with a SONATA spike-file sink."""
    from engine import Simulator
    from engine.io.spikefile import SpikeFileWriter

    net = lsm.network("spikes")
    sim = Simulator(net, trials=len(trains))
    sim.set_spikes("input", trains)
    sizes = {p.name: p.size for p in net.populations}
    duration = float(lsm.duration)
    with SpikeFileWriter(path, sizes, n_trials=len(trains), dt_ms=net.dt, duration_ms=duration, seed=seed,
                         overwrite=True) as writer:
        sim.run(duration, sinks=[writer], keep=False, progress=False)


def _figure(spikes_path: str, y_test, results: dict, out: str) -> str | None:
    """Raster of the first test stream's liquid with its regime, and the memory curves; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("pond demo: matplotlib is not installed; skipping the figure (pip install 'pond[plot]')",
              file=sys.stderr)
        return None
    from engine.io.spikefile import read_spikes

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1.7, 1]})
    offset = 0
    for name, color in (("exc", "tab:blue"), ("inh", "tab:red")):
        t, ids = read_spikes(spikes_path, name, trial=0)
        ax0.plot(t, ids + offset, ".", ms=1.0, color=color, label=name)
        offset += int(ids.max()) + 1 if ids.size else 0
    for i in range(STREAM_ITEMS):
        ax0.axvline(i * ITEM_MS, color="0.85", lw=0.5, zorder=0)
        ax0.text((i + 0.5) * ITEM_MS, offset * 1.01, str(int(y_test[i])), ha="center", va="bottom", fontsize=7)
    reg = results.get("regime")
    title = "liquid's spikes, first test stream (digits shown above)"
    if reg is not None:
        title += "\n" + regime_line(reg)
    ax0.set(xlabel="time (ms)", ylabel="neuron", title=title, xlim=(0, STREAM_ITEMS * ITEM_MS),
            ylim=(0, offset * 1.06))
    ax0.legend(loc="lower right", markerscale=8, fontsize=8)
    lags = list(results["lags"])
    for key, label, style in (("features", "features alone", "o--"), ("lsm", "through the LSM", "s-"),
                              ("esn", "through the ESN", "^-")):
        ax1.plot(lags, np.array(results[key]["memory"]) * 100, style, label=label)
    ax1.axhline(results["chance"] * 100, color="0.5", ls=":", label="chance")
    ax1.set(xlabel="items back", ylabel="held-out accuracy (%)", xticks=lags, ylim=(0, 102),
            title="memory curve: the digit k items back")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def regime_line(reg: dict) -> str:
    """The liquid's regime in one line: mean rate, ISI CV, spike contrast."""
    def f(v, spec):
        return "-" if v is None else format(v, spec)

    return (f"mean rate {f(reg['rate_hz'], '.1f')} Hz, ISI CV {f(reg['cv'], '.2f')}, "
            f"spike contrast {f(reg['spike_contrast'], '.2f')}")


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
    """The printed table: held-out accuracy on the task (the digit ``TASK_LAG`` items back) against chance, the
    memory curve, times, and the liquid's regime."""
    rows = [("features alone (CNN -> ridge)", "features"), ("through the LSM", "lsm"), ("through the ESN", "esn")]
    lags = results["lags"]
    lag = results["task_lag"]
    head = "  ".join(f"{k} back" for k in lags)
    lines = [f"task: which digit was shown {lag} item{'s' if lag != 1 else ''} back? (chance "
             f"{results['chance']:.1%}, {results.get('scored', '')} held-out items)",
             f"{'path':32s} {'accuracy':>9s}   memory: {head}   {'fit s':>6s} {'predict s':>9s}"]
    for label, key in rows:
        r = results[key]
        mem = "  ".join(f"{a:6.1%}" for a in r["memory"])
        lines.append(f"{label:32s} {r['accuracy']:9.1%}           {mem}   {r['fit_s']:6.1f} {r['predict_s']:9.1f}")
    reg = results.get("regime")
    if reg is not None:
        lines.append(f"liquid's regime ({reg['n_trials']} test streams of {reg['duration_ms']:.0f} ms): "
                     f"{regime_line(reg)}")
    return "\n".join(lines)
