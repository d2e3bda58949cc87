"""Spike encoders: statistics and inverses, the two output formats, determinism over batches and threads, errors."""
import doctest

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import readouts
from engine.network.grid import step_times
from reservoirs.adapters import (CallableFeatures, DeltaEncoder, LatencyEncoder, PopulationEncoder, RateEncoder,
                                 spike_counts)
from reservoirs.adapters import encoders as enc_module


def _rows(n=12, d=5, seed=0):
    return np.random.default_rng(seed).random((n, d))


def _same_trains(a, b):
    assert len(a) == len(b)
    for (ta, ca), (tb, cb) in zip(a, b):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(ca, cb)


# --- rate coding ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["poisson", "bernoulli"])
def test_rate_counts_match_rates_and_decode_recovers_values(method):
    X = np.linspace(0, 1, 9)[None, :].repeat(40, axis=0)  # 40 trials of the same 9 values
    enc = RateEncoder(max_rate=200.0, duration=500.0, dt=1.0, method=method, value_range=(0, 1), seed=3,
                      output="counts").fit(X)
    counts = enc.transform(X)
    assert counts.shape == (40, 500, 9) and counts.dtype == np.int32
    if method == "bernoulli":
        assert counts.max() <= 1
    total = counts.sum(axis=1)  # (trials, channels)
    expected = 200.0 * X[0] * 0.5  # rate * 0.5 s
    # mean over 40 trials: SD of the mean <= sqrt(100 / 40) ~ 1.6 spikes; 5 SD
    np.testing.assert_allclose(total.mean(axis=0), expected, atol=8.0)
    assert total[:, 0].sum() == 0  # value 0: rate 0, never fires
    if method == "poisson":  # Fano factor of a Poisson count is 1
        fano = total[:, 4:].var(axis=0, ddof=1) / total[:, 4:].mean(axis=0)
        assert np.all((fano > 0.4) & (fano < 1.9))
    decoded = enc.decode(counts)
    assert decoded.shape == X.shape
    np.testing.assert_allclose(decoded.mean(axis=0), X[0], atol=0.05)


def test_rate_times_and_counts_are_the_same_spikes():
    X = _rows()
    kw = dict(max_rate=300.0, duration=50.0, dt=0.5, seed=11)
    trains = RateEncoder(**kw).fit(X).transform(X)
    counts = RateEncoder(output="counts", **kw).fit(X).transform(X)
    np.testing.assert_array_equal(spike_counts(trains, 5, 100, 0.5), counts)
    for t, c in trains:  # time order, channels ascending within a step, times on the grid as the engine stamps them
        k = np.rint(t / 0.5).astype(np.int64)
        np.testing.assert_array_equal(t, step_times(k, 0.5))
        order = np.lexsort((c, k))
        np.testing.assert_array_equal(order, np.arange(t.size))
        assert t.dtype == np.float64 and c.dtype == np.int64
        assert t.size == 0 or (t.min() >= 0 and t.max() < 50.0)


@pytest.mark.parametrize("cls", [RateEncoder, PopulationEncoder])
def test_same_seed_same_spikes_for_any_batch_and_threads(cls):
    X = _rows(n=30)
    enc = cls(max_rate=150.0, duration=40.0, seed=5, n_jobs=1).fit(X)
    whole = enc.transform(X)
    parallel = clone(enc).set_params(n_jobs=2).fit(X).transform(X)
    _same_trains(whole, parallel)
    chunks = []
    for a in range(0, 30, 7):  # chunks keep their trial ids: the same spikes as one call
        chunks += enc.encode(X[a:a + 7], trials=np.arange(a, min(a + 7, 30)))
    _same_trains(whole, chunks)
    alone = enc.encode(X[17:18], trials=[17])
    _same_trains(whole[17:18], alone)
    counts = clone(enc).set_params(output="counts", n_jobs=2).fit(X).transform(X)
    np.testing.assert_array_equal(counts, spike_counts(whole, enc.n_channels_, 40))
    other = clone(enc).set_params(seed=6).fit(X).transform(X)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(whole, other))


def test_seed_none_draws_one_seed_and_keeps_it():
    X = _rows()
    enc = RateEncoder(max_rate=500.0).fit(X)
    assert isinstance(enc.seed_, int)
    _same_trains(enc.transform(X), enc.transform(X))


# --- population coding ------------------------------------------------------------------------------------------------
def test_population_tuning_and_maximum_likelihood_decoding():
    rng = np.random.default_rng(1)
    X = rng.uniform(-2, 3, size=(50, 3))
    enc = PopulationEncoder(n_neurons=10, width=1.0, max_rate=200.0, duration=500.0, seed=2, output="counts")
    counts = enc.fit(X).transform(X)
    assert enc.n_channels_ == 30 and counts.shape == (50, 500, 30)
    totals = counts.sum(axis=1).reshape(50, 3, 10)
    # the channel whose centre is nearest the value fires most (on average over the features of a trial)
    S = (X - enc.data_min_) / (enc.data_max_ - enc.data_min_)
    nearest = np.argmin(np.abs(S[..., None] - enc.centers_), axis=-1)
    assert np.mean(np.abs(np.argmax(totals, axis=-1) - nearest) <= 1) > 0.95
    decoded = enc.decode(counts)
    err = np.abs(decoded - X) / (enc.data_max_ - enc.data_min_)
    assert np.median(err) < 0.02 and err.max() < 0.1


# --- latency coding ---------------------------------------------------------------------------------------------------
def test_linear_latency_inverse_within_half_a_step():
    X = np.random.default_rng(2).random((20, 7))
    enc = LatencyEncoder(duration=100.0, dt=1.0, method="linear", threshold=0.0, value_range=(0, 1)).fit(X)
    trains = enc.transform(X)
    for (t, c), x in zip(trains, X):
        assert np.unique(c).size == c.size  # at most one spike per channel
        # larger values fire earlier
        order = np.argsort(t, kind="stable")
        assert np.all(np.diff(x[c[order]]) <= 1.0 / 99 + 1e-12)
    decoded = enc.decode(trains)
    np.testing.assert_allclose(decoded, X, atol=0.5 / 99 + 1e-12)


def test_log_latency_inverse_and_silence_below_threshold():
    X = np.array([[0.0, 0.05, 0.2, 0.5, 0.9, 1.0]])
    enc = LatencyEncoder(duration=200.0, dt=0.1, method="log", tau=20.0, threshold=0.1, value_range=(0, 1),
                         output="counts").fit(X)
    counts = enc.transform(X)
    fired = counts[0].sum(axis=0)
    np.testing.assert_array_equal(fired, [0, 0, 1, 1, 1, 1])  # at or below the threshold: silent
    steps = np.argmax(counts[0] > 0, axis=0)[2:]
    t = 20.0 * np.log(X[0, 2:] / (X[0, 2:] - 0.1))  # RC-circuit time to threshold
    np.testing.assert_allclose(steps * 0.1, t, atol=0.05 + 1e-9)
    decoded = enc.decode(counts)[0]
    np.testing.assert_allclose(decoded[2:], X[0, 2:], rtol=0.02)
    assert decoded[0] == 0.0 and decoded[1] == 0.0
    # re-encoding the decoded values gives the same spikes
    np.testing.assert_array_equal(enc.transform(decoded[None]), counts)


# --- send-on-delta ----------------------------------------------------------------------------------------------------
def test_delta_reconstruction_error_below_threshold():
    rng = np.random.default_rng(3)
    t = np.arange(400) * 0.01
    X = np.stack([np.sin(2 * np.pi * (t + rng.random()))[:, None] * [1.0, 0.3] + 0.2 * rng.standard_normal((400, 2))
                  for _ in range(6)])  # (6, 400, 2)
    enc = DeltaEncoder(threshold=0.05, dt=0.5).fit(X)
    trains = enc.transform(X)
    counts = clone(enc).set_params(output="counts").fit(X).transform(X)
    assert counts.shape == (6, 400, 4)
    np.testing.assert_array_equal(spike_counts(trains, 4, 400, 0.5), counts)
    rec = enc.decode(counts, X[:, 0])
    assert rec.shape == X.shape
    assert np.abs(rec - X).max() < 0.05
    np.testing.assert_array_equal(enc.decode(trains, X[:, 0], n_steps=400), rec)
    # rises fire ON (channels 0, 1), falls OFF (2, 3)
    d = np.diff(X, axis=1)
    assert counts[:, 1:, :2][d > 0.1].min() >= 1 and counts[:, 1:, 2:][d < -0.1].min() >= 1
    # threads and batch do not matter (deterministic, but the parallel kernel must agree)
    serial = clone(enc).set_params(n_jobs=1).fit(X).transform(X)
    _same_trains(trains, serial)
    _same_trains(trains[2:3], enc.transform(X[2:3]))


def test_delta_jump_of_several_thresholds_fires_several_spikes():
    X = np.array([[[0.0], [0.35], [0.35], [0.0]]])
    enc = DeltaEncoder(threshold=0.1).fit(X)
    (t, c), = enc.transform(X)
    np.testing.assert_array_equal(t, [1, 1, 1, 3, 3, 3])
    np.testing.assert_array_equal(c, [0, 0, 0, 1, 1, 1])


@pytest.mark.subprocess
def test_delta_threshold_below_the_float_spacing_counts_every_crossing():
    """Issue 25: at 1.7e12 the float spacing (2.4e-4) exceeds the threshold, so ``ref += threshold`` never moved and
    the encoder spun forever (deaf to Ctrl-C); the crossings are now counted at once. Run in a child process so that
    a stuck kernel fails the test instead of hanging the suite."""
    import subprocess
    import sys

    code = ("import numpy as np; from reservoirs.adapters import DeltaEncoder\n"
            "X = np.array([[[1.7e12], [1.7e12 + 1.0]], [[0.0], [0.0]]])\n"
            "for out in ('times', 'counts'):\n"
            "    s = DeltaEncoder(threshold=1e-4, output=out).fit(X).transform(X)\n"
            "    if out == 'times':\n"
            "        print(len(s[0][0]), int(s[0][1].max()), len(s[1][0]), sorted(set(s[0][0].tolist())))\n"
            "    else:\n"
            "        print(int(s[0, 1, 0]), int(s[0, :, 1].sum()), int(s[1].sum()))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    times_line, counts_line = res.stdout.split("\n")[:2]
    n, top, n_flat, steps = times_line.split(" ", 3)
    assert 9999 <= int(n) <= 10001 and int(top) == 0 and int(n_flat) == 0 and steps == "[1.0]"
    on, off, flat = map(int, counts_line.split())
    assert on == int(n) and off == 0 and flat == 0


@pytest.mark.parametrize("n_jobs", [1, None])
@pytest.mark.parametrize("output", ["times", "counts"])
def test_delta_fires_at_exactly_one_threshold(output, n_jobs):
    """A move of exactly one threshold (exact in binary) fires, ON and OFF alike (kills ``>=`` -> ``>`` in the
    kernel's comparisons); two trials so that the parallel variant runs too."""
    x = np.array([0.0, 0.25, 0.5, 0.25, 0.0, 0.75, 0.75, -0.25])
    X = np.stack([x, -x])[:, :, None]
    enc = DeltaEncoder(threshold=0.25, output=output, n_jobs=n_jobs).fit(X)
    counts = spike_counts(enc.transform(X), 2, 8) if output == "times" else enc.transform(X)
    np.testing.assert_array_equal(counts[0, :, 0], [0, 1, 1, 0, 0, 3, 0, 0])  # ON
    np.testing.assert_array_equal(counts[0, :, 1], [0, 0, 0, 1, 1, 0, 0, 4])  # OFF
    np.testing.assert_array_equal(counts[1], counts[0][:, ::-1])
    np.testing.assert_array_equal(enc.decode(counts, X[:, 0])[..., 0], X[..., 0])


def test_delta_refuses_a_threshold_too_small_for_exact_counts():
    X = np.array([[[0.0], [1e300]]])
    with pytest.raises(ValueError, match=r"threshold=1e-300 is too small for X"):
        DeltaEncoder(threshold=1e-300).fit(X).transform(X)
    X = np.array([[[0.0], [1.0]]])
    with pytest.raises(ValueError, match=r"output='counts' puts up to 1e\+12 spikes in one step"):
        DeltaEncoder(threshold=1e-12, output="counts").fit(X).transform(X)
    with pytest.raises(MemoryError, match=r"DeltaEncoder: 1000000000000 spikes"):
        DeltaEncoder(threshold=1e-12).fit(X).transform(X)


@pytest.mark.parametrize("dt", [0.1, 0.3, 0.25])
def test_every_emitted_time_follows_the_engine_grid_rule(dt):
    """Issue 25: one rule for every time the encoders emit or print, the engine's (engine.network.grid.step_times),
    for any dt, 1/dt an integer or not (the window in spike_counts' message was n_steps * dt: 999.8000000000001)."""
    X = np.linspace(0.0, 1.0, 6)[None, :]
    for enc in (LatencyEncoder(duration=600 * dt, dt=dt, value_range=(0, 1)),
                RateEncoder(max_rate=1000.0 * 0.1 / dt, duration=600 * dt, dt=dt, value_range=(0, 1), seed=0)):
        (t, c), = enc.fit(X).transform(X)
        k = np.rint(t / dt).astype(np.int64)
        np.testing.assert_array_equal(t, step_times(k, dt))
    series = np.cumsum(np.full((1, 40, 1), 0.5), axis=1)
    (t, c), = DeltaEncoder(threshold=0.4, dt=dt).fit(series).transform(series)
    np.testing.assert_array_equal(t, step_times(np.rint(t / dt).astype(np.int64), dt))
    end = float(step_times(9998, dt))
    with pytest.raises(ValueError, match=rf"outside the window \[0, {end}\) ms"):
        spike_counts([(np.array([float(step_times(10000, dt))]), np.array([0]))], n_channels=1, n_steps=9998, dt=dt)


@pytest.mark.parametrize("cls", [RateEncoder, PopulationEncoder])
def test_rate_output_too_large_is_refused_from_its_mean_before_counting(cls, monkeypatch):
    """Issue 25: about 3e11 spikes were counted for minutes before the refusal; the mean is known at once."""
    from conftest import allocates_at_most

    def counted(*args):
        raise AssertionError("the kernels started counting spikes")

    for kernel in ("rate_totals", "rate_fill"):
        monkeypatch.setitem(enc_module._k.KERNELS, kernel, (counted, counted))
    X = np.ones((100, 3000))
    enc = cls(max_rate=1000.0, duration=1e6, method="bernoulli", value_range=(0, 1), seed=0)
    if cls is PopulationEncoder:
        enc.set_params(n_neurons=2, width=100.0)  # both channels near the peak rate
    with allocates_at_most(), pytest.raises(MemoryError, match=rf"{cls.__name__}: about [36].*e\+11 spikes \(the mean"):
        enc.fit(X).transform(X)


def test_spike_lists_drive_an_engine_batch_unchanged():
    """The list format is what ``Simulator.set_spikes`` takes: every spike (repeats in a step too) comes through."""
    from engine import Network, Population, Projection, Simulator, SpikeMonitor, SpikeSource
    from engine.network.connectivity import AllToAll

    X = _rows(n=3, d=4)
    trains = RateEncoder(max_rate=3000.0, duration=30.0, dt=1.0, value_range=(0, 1), seed=1).fit(X).transform(X)
    assert any(np.any(np.diff(t) == 0) for t, _ in trains)  # some channel fires twice in a step
    net = Network(dt=0.5, seed=1)
    net.add(SpikeSource("in", 4), Population("p", 2), Projection("in", "p", AllToAll(), weight=10.0, delay=1.0),
            SpikeMonitor("in"))
    sim = Simulator(net, trials=3)
    sim.set_spikes("in", trains)
    sim.run(30.0)
    for b in range(3):
        t, i = sim.spikes("in", trial=b)
        order = np.lexsort((i, t))
        np.testing.assert_array_equal(t[order], trains[b][0])
        np.testing.assert_array_equal(i[order], trains[b][1])


# --- pipelines, saving ------------------------------------------------------------------------------------------------
def test_encoder_in_a_pipeline_after_features():
    X = _rows(n=8, d=4)
    pipe = Pipeline([("features", CallableFeatures(lambda b: b ** 2)),
                     ("spikes", RateEncoder(max_rate=100.0, duration=20.0, seed=0))])
    out = pipe.fit_transform(X)
    assert isinstance(out, list) and len(out) == 8
    _same_trains(out, pipe.transform(X))


@pytest.mark.parametrize("ext", ["npz", "h5"])
@pytest.mark.parametrize("make", [
    lambda: RateEncoder(max_rate=100.0, duration=30.0, seed=4),
    lambda: PopulationEncoder(n_neurons=4, duration=30.0),
    lambda: LatencyEncoder(method="log", value_range=(0.0, 2.0)),
])
def test_save_load_gives_the_same_spikes(tmp_path, ext, make):
    X = _rows()
    enc = make().fit(X)
    path = tmp_path / f"enc.{ext}"
    enc.save(path)
    back = readouts.load(path)
    as_lists = {k: list(v) if isinstance(v, tuple) else v for k, v in enc.get_params().items()}
    assert type(back) is type(enc) and back.get_params() == as_lists
    _same_trains(enc.transform(X), back.transform(X))
    readouts.load(path)  # unfitted encoders save too
    clone(enc).save(tmp_path / f"raw.{ext}")
    assert not hasattr(readouts.load(tmp_path / f"raw.{ext}"), "n_features_in_")


def test_tampered_encoder_file_is_refused(tmp_path):
    X = _rows()
    path = tmp_path / "enc.npz"
    RateEncoder(seed=1).fit(X).save(path)
    with np.load(path) as z:
        data = dict(z)
    data["obj0/data_min_"] = data["obj0/data_min_"][:2]
    np.savez(path, **data)
    with pytest.raises(ValueError, match="data_min_ must have shape"):
        readouts.load(path)


# --- errors -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, X, match", [
    (lambda: RateEncoder(), np.array([[0.0, np.nan]]), "NaN"),
    (lambda: RateEncoder(), np.zeros(3), "2-D array"),
    (lambda: RateEncoder(), np.zeros((2, 3, 1)), "2-D array"),
    (lambda: DeltaEncoder(), np.zeros((4, 2)), "3-D array"),
    (lambda: RateEncoder(max_rate=-1.0), np.zeros((2, 2)), "max_rate=-1.0"),
    (lambda: RateEncoder(method="gauss"), np.zeros((2, 2)), "method='gauss'"),
    (lambda: RateEncoder(output="raster"), np.zeros((2, 2)), "output='raster'"),
    (lambda: RateEncoder(max_rate=2000.0, method="bernoulli"), np.zeros((2, 2)), "at most 1"),
    (lambda: RateEncoder(max_rate=20000.0), np.zeros((2, 2)), "at most 10"),
    (lambda: RateEncoder(duration=10.05, dt=0.1), np.zeros((2, 2)), "not a multiple of dt"),
    (lambda: RateEncoder(value_range=(1.0, 0.0)), np.zeros((2, 2)), "value_range"),
    (lambda: RateEncoder(value_range=(0.0, np.inf)), np.zeros((2, 2)), "value_range"),
    (lambda: RateEncoder(seed=-1), np.zeros((2, 2)), "seed=-1"),
    (lambda: RateEncoder(n_jobs=0), np.zeros((2, 2)), "n_jobs=0"),
    (lambda: PopulationEncoder(n_neurons=1), np.zeros((2, 2)), "n_neurons=1"),
    (lambda: PopulationEncoder(width=0.0), np.zeros((2, 2)), "width=0.0"),
    (lambda: LatencyEncoder(method="log", threshold=0.0), np.zeros((2, 2)), "threshold in \\(0, 1\\)"),
    (lambda: LatencyEncoder(threshold=1.0), np.zeros((2, 2)), "threshold=1.0"),
    (lambda: LatencyEncoder(duration=1.0), np.zeros((2, 2)), "at least 2 steps"),
    (lambda: DeltaEncoder(threshold=0.0), np.zeros((2, 3, 1)), "threshold=0.0"),
    (lambda: RateEncoder(), np.array([["a", "b"]]), "cannot be converted"),
])
def test_bad_parameters_and_inputs_are_refused_in_fit(make, X, match):
    with pytest.raises(ValueError, match=match):
        make().fit(X)


def test_transform_checks_features_and_trial_ids():
    enc = RateEncoder(seed=0).fit(_rows(d=5))
    with pytest.raises(ValueError, match="X has 4 features, but RateEncoder is expecting 5"):
        enc.transform(_rows(d=4))
    with pytest.raises(ValueError, match="one per row"):
        enc.encode(_rows(n=3), trials=[0, 1])
    with pytest.raises(ValueError, match="integer trial ids"):
        enc.encode(_rows(n=2), trials=[0.5, 1.5])
    with pytest.raises(ValueError, match="trials contains -1"):
        enc.encode(_rows(n=2), trials=[-1, 0])
    with pytest.raises(Exception, match="not fitted"):
        RateEncoder().transform(_rows())


@pytest.mark.parametrize("spikes, match", [
    (np.zeros((1, 4, 3), dtype=np.int32), "shape \\(trials, 5, 2\\)"),
    (np.zeros((1, 5, 2)), "integers"),
    (-np.ones((1, 5, 2), dtype=np.int64), "negative"),
    ([(np.array([0.5]), np.array([0]))], "not a multiple of dt"),
    ([(np.array([5.0]), np.array([0]))], "outside the window"),
    ([(np.array([1.0]), np.array([2]))], "channels lie in \\[0, 2\\)"),
    ([(np.array([1.0, 2.0]), np.array([0]))], "must match"),
    ([(np.array([1.0]),)], "pair"),
    ("spikes", "list of \\(times, channels\\) pairs"),
])
def test_spike_counts_refuses_malformed_spikes(spikes, match):
    with pytest.raises(ValueError, match=match):
        spike_counts(spikes, n_channels=2, n_steps=5, dt=1.0)


def test_decode_checks_its_input():
    X = np.zeros((2, 3, 1))
    enc = DeltaEncoder().fit(X)
    with pytest.raises(ValueError, match="x0 must have shape \\(trials, 1\\)"):
        enc.decode(enc.transform(X), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="spikes hold 2 trials but x0 has 3 rows"):
        enc.decode(enc.transform(X), np.zeros((3, 1)), n_steps=3)


def test_docstring_examples():
    result = doctest.testmod(enc_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
