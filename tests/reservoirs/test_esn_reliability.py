"""ESN reliability (issue 7): tampered files, input checks, memory refusal, fast spectral radius, washout in
pipelines, feedback through step/generate against a plain-NumPy reference."""
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline

from conftest import allocates_at_most, assert_tampered_file_refused
from readouts import Ridge, load
from reservoirs import ESN
from reservoirs.datasets import narma10
from reservoirs.esn import POWER_RTOL, random_sparse, spectral_radius


# ------------------------------------------------------------------ tampered files
def _item(key, index, value):
    def tamper(h, a):
        a[key] = a[key].copy()
        a[key][index] = value
    return tamper


def _replace(key, fn):
    def tamper(h, a):
        a[key] = fn(a[key])
    return tamper


def _param(key, value):
    def tamper(h, a):
        h["objects"][0]["params"][key] = value
    return tamper


E = "obj0/"  # the ESN; obj1 is its Ridge readout
ESN_TAMPERINGS = {
    "index 2e9": (_item(E + "W_indices", 0, 2_000_000_000), "W_indices"),
    "index 1e6": (_item(E + "W_indices", 5, 1_000_000), "W_indices"),
    "index negative": (_item(E + "W_indices", 3, -1), "W_indices"),
    "indptr falls": (_item(E + "W_indptr", 4, 10**6), "W_indptr"),
    "indptr short": (_replace(E + "W_indptr", lambda v: v[:-1]), "W_indptr"),
    "indices length": (_replace(E + "W_indices", lambda v: v[:-1]), "W_indices"),
    "shape non-square": (_replace(E + "W_shape", lambda v: v + [0, 1]), "W_shape|square"),
    "shape larger": (_replace(E + "W_shape", lambda v: v + 1), "W_indptr"),
    "shape 3 entries": (_replace(E + "W_shape", lambda v: np.append(v, 1)), "W_shape"),
    "W_in_ rows": (_replace(E + "W_in_", lambda v: v[:-1]), "W_in_"),
    "W_in_ 1-D": (_replace(E + "W_in_", lambda v: v[:, 0]), "W_in_"),
    "bias_ shape": (_replace(E + "bias_", lambda v: v[:, None]), "bias_"),
    "W_fb_ rows": (_replace(E + "W_fb_", lambda v: v[1:]), "W_fb_"),
    "W_data int": (_replace(E + "W_data", lambda v: v.astype(np.int64)), "W_data"),
    "W_indices float": (_replace(E + "W_indices", lambda v: v.astype(np.float64)), "W_indices"),
    "W_in_ strings": (_replace(E + "W_in_", lambda v: v.astype("S8")), "W_in_"),
    "W_shape float": (_replace(E + "W_shape", lambda v: v.astype(np.float64)), "W_shape"),
    "W_data NaN": (_item(E + "W_data", 0, np.nan), "W_data"),
    "W_data inf": (_item(E + "W_data", 1, np.inf), "W_data"),
    "W_in_ NaN": (_item(E + "W_in_", (0, 0), np.nan), "W_in_"),
    "bias_ inf": (_item(E + "bias_", 2, -np.inf), "bias_"),
    "W_fb_ NaN": (_item(E + "W_fb_", (1, 0), np.nan), "W_fb_"),
    "spectral_radius_ inf": (_replace(E + "spectral_radius_", lambda v: np.array(np.inf)), "spectral_radius_"),
    "spectral_radius_ negative": (_replace(E + "spectral_radius_", lambda v: np.array(-0.9)), "spectral_radius_"),
    "readout coef_ NaN": (_item("obj1/coef_", 0, np.nan), "coef_"),
    "readout intercept_ inf": (_replace("obj1/intercept_", lambda v: np.array(np.inf)), "intercept_"),
    "leak_rate 7.5": (_param("leak_rate", 7.5), "leak_rate"),
    "spectral_radius -1": (_param("spectral_radius", -1.0), "spectral_radius"),
    "spectral_radius NaN": (_param("spectral_radius", float("nan")), "spectral_radius"),
    "activation relu": (_param("activation", "relu"), "activation"),
    "units string": (_param("units", "100"), "units"),
    "unknown key": (_param("W_out", 1), "W_out"),
    "missing key": (lambda h, a: h["objects"][0]["params"].pop("leak_rate"), "leak_rate"),
    "user matrix key": (_param("W", [[1.0]]), "'W'"),
    "missing array": (lambda h, a: a.pop(E + "bias_"), "bias_"),
    "format version": (lambda h, a: h.__setitem__("format_version", 0), "format version"),
    "format version string": (lambda h, a: h.__setitem__("format_version", "1"), "format version"),
    "magic": (lambda h, a: h.__setitem__("magic", "other"), "not a pond"),
    "objects not a list": (lambda h, a: h.__setitem__("objects", {}), "objects"),
    "object keys": (lambda h, a: h["objects"][0].pop("arrays"), "arrays"),
}


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    U = np.random.default_rng(0).uniform(-1, 1, (120, 2))
    Y = np.random.default_rng(1).normal(size=(120, 1))
    esn = ESN(units=40, leak_rate=0.5, n_feedback=1, bias_scaling=0.2, seed=3).fit(U)
    S = esn.transform(U, y_feedback=Y)
    r = Ridge(alpha=1e-3).fit(S, Y)
    paths = {}
    for ext in ("npz", "h5"):
        paths[ext] = d / f"model.{ext}"
        esn.save(paths[ext], r)
    return paths, U, Y, r.predict(S)


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_untampered_model_round_trips(saved_model, ext):
    paths, U, Y, pred = saved_model
    esn, r = load(paths[ext])
    np.testing.assert_array_equal(r.predict(esn.transform(U, y_feedback=Y)), pred)


@pytest.mark.parametrize("ext", ["npz", "h5"])
@pytest.mark.parametrize("case", sorted(ESN_TAMPERINGS))
def test_tampered_esn_file_is_refused_naming_the_field(saved_model, tmp_path, ext, case):
    """Before: out-of-range indices segfaulted or read out of bounds; bad params and NaNs loaded silently."""
    paths, *_ = saved_model
    assert_tampered_file_refused(paths[ext], tmp_path / f"bad.{ext}", *ESN_TAMPERINGS[case])


def test_h5_index_changed_in_place_is_refused(saved_model, tmp_path):
    """The issue's recipe: change one stored W index to 2e9 with h5py."""
    import h5py

    paths, *_ = saved_model
    bad = tmp_path / "inplace.h5"
    bad.write_bytes(paths["h5"].read_bytes())
    with h5py.File(bad, "r+") as f:
        f["obj0/W_indices"][0] = 2_000_000_000
    with pytest.raises(ValueError, match="W_indices"):
        load(bad)


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_truncated_and_foreign_files(saved_model, tmp_path, ext):
    paths, *_ = saved_model
    raw = paths[ext].read_bytes()
    for n in (len(raw) // 2, 50, 0):
        trunc = tmp_path / f"trunc{n}.{ext}"
        trunc.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="truncated|corrupt|not a readable"):
            load(trunc)
    foreign = tmp_path / f"foreign.{ext}"
    if ext == "npz":
        np.savez(foreign, x=np.arange(3))
    else:
        import h5py

        with h5py.File(foreign, "w") as f:
            f.create_dataset("x", data=np.arange(3))
    with pytest.raises(ValueError, match="not a pond"):
        load(foreign)
    text = tmp_path / f"text.{ext}"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable"):
        load(text)


# ------------------------------------------------------------------ arguments and memory
@pytest.mark.parametrize("n_features", [-1, 0, 1.5, "2"])
def test_fit_n_features_checked(n_features):
    with pytest.raises(ValueError, match="n_features"):
        ESN(units=10).fit(n_features=n_features)


@pytest.mark.parametrize("bad", ["sr_method", "units"])
def test_new_parameter_limits(bad):
    kw = {"sr_method": "lanczos"} if bad == "sr_method" else {"units": 2**31}
    with pytest.raises(ValueError, match=bad):
        ESN(**kw).fit(n_features=1)


def test_absurd_reservoir_refused_before_allocation():
    with allocates_at_most(), pytest.raises(MemoryError, match=r"GiB.*available"):
        ESN(units=10**7, connectivity=0.1).fit(n_features=1)


def test_available_memory_falls_back_to_sysconf(monkeypatch):
    import builtins

    import engine.build.memory

    real_open = builtins.open

    def no_proc(path, *a, **k):
        if str(path) == "/proc/meminfo":
            raise OSError("no /proc")
        return real_open(path, *a, **k)

    monkeypatch.setattr(builtins, "open", no_proc)
    assert engine.build.memory.available_bytes() > 0
    monkeypatch.setattr(engine.build.memory, "available_bytes", lambda: 2**20)  # 1 MiB free
    with pytest.raises(MemoryError, match="units=1000"):
        ESN(units=1000).fit(n_features=1)


# ------------------------------------------------------------------ spectral radius
@pytest.mark.parametrize("n,k", [(1000, 10), (4000, 10), (2000, 50)])
def test_power_estimate_within_stated_tolerance_of_arpack(n, k):
    W = random_sparse(n, n, k / n, np.random.default_rng(n + k))
    exact = spectral_radius(W, tol=1e-8)
    assert abs(spectral_radius(W, method="power") / exact - 1) < POWER_RTOL


def test_sr_method_auto_exact_small_power_large():
    small = ESN(units=300, spectral_radius=0.8, seed=1).fit(n_features=1)
    assert np.max(np.abs(np.linalg.eigvals(small.W_.toarray()))) == pytest.approx(0.8, rel=1e-8)
    big = ESN(units=3000, connectivity=10 / 3000, spectral_radius=0.8, seed=1)
    W_auto = big.fit(n_features=1).W_
    W_power = ESN(**dict(big.get_params(), sr_method="power")).fit(n_features=1).W_
    assert (W_auto != W_power).nnz == 0
    assert spectral_radius(W_auto, tol=1e-8) == pytest.approx(0.8, rel=POWER_RTOL)
    W_arpack = ESN(**dict(big.get_params(), sr_method="arpack")).fit(n_features=1).W_
    assert spectral_radius(W_arpack, tol=1e-8) == pytest.approx(0.8, rel=1e-3)  # ARPACK asked for 1e-3 here


# ------------------------------------------------------------------ washout in pipelines
def test_washout_in_pipeline_fit_predict_score():
    X, y = narma10(1200, seed=1)  # (T, 1) each
    kw = dict(units=80, spectral_radius=0.9, input_scaling=0.5, washout=100, seed=0)
    pipe = Pipeline([("esn", ESN(**kw)), ("ridge", Ridge(alpha=1e-6))]).fit(X, y)
    S = ESN(**kw).fit(X).transform(X)
    r = Ridge(alpha=1e-6).fit(S, y[100:])
    pred = pipe.predict(X)
    assert pred.shape == (1100, 1)
    np.testing.assert_allclose(pred, r.predict(S), atol=1e-10)
    assert pipe.score(X, y) == pytest.approx(r.score(S, y[100:]), abs=1e-10)
    # 3-D (sequences, time, features) with 3-D targets: trimmed per sequence
    p3 = Pipeline([("esn", ESN(**kw)), ("ridge", Ridge(alpha=1e-6))]).fit(X[None], y[None])
    np.testing.assert_allclose(p3.predict(X[None])[0], pred, atol=1e-10)
    # a list of sequences of different lengths: trimmed sequence by sequence
    pl = Pipeline([("esn", ESN(**kw)), ("ridge", Ridge(alpha=1e-6))]).fit([X[:700], X[700:]], [y[:700], y[700:]])
    assert [len(p) for p in pl.predict([X[:700], X[700:]])] == [600, 400]
    with pytest.raises(ValueError, match="one row per sample"):
        Ridge().fit(S, y[:500])  # fewer targets than states stays an error


def test_washout_gridsearch_timeseries_split():
    u, y = narma10(900, seed=2)  # (T, 1) each
    pipe = Pipeline([("esn", ESN(units=60, input_scaling=0.5, washout=50, seed=0)), ("ridge", Ridge())])
    grid = {"esn__spectral_radius": [0.5, 0.95], "esn__washout": [50, 100], "ridge__alpha": [1e-6, 1e-2]}
    gs = GridSearchCV(pipe, grid, cv=TimeSeriesSplit(n_splits=3)).fit(u, y)
    assert np.all(np.isfinite(gs.cv_results_["mean_test_score"]))
    assert gs.best_score_ > 0.3
    assert gs.predict(u).shape == (900 - gs.best_params_["esn__washout"], 1)


# ------------------------------------------------------------------ feedback against NumPy
def _ref_step(esn, x, u, y_prev):
    """x' = (1 - a) x + a tanh(W x + W_in u + W_fb y_prev + b), the documented update."""
    pre = esn.W_.toarray() @ x + esn.W_in_ @ u + esn.W_fb_ @ y_prev + esn.bias_
    return (1 - esn.leak_rate) * x + esn.leak_rate * np.tanh(pre)


def test_feedback_step_and_generate_match_numpy_reference():
    rng = np.random.default_rng(0)
    esn = ESN(units=40, leak_rate=0.6, n_feedback=2, feedback_scaling=0.8, bias_scaling=0.2, seed=5)
    esn.fit(n_features=3)
    x0, u, yp = rng.uniform(-1, 1, 40), rng.normal(size=3), rng.normal(size=2)
    np.testing.assert_allclose(esn.step(x0, u, yp), _ref_step(esn, x0, u, yp), atol=1e-12)
    readout = Ridge(alpha=1e-2).fit(rng.normal(size=(50, 40)), rng.normal(size=(50, 2)))
    U = rng.normal(size=(25, 3))
    ys, xs = esn.generate(readout, 25, x0, yp, u=U)
    x, y = x0, yp
    for t in range(25):
        x = _ref_step(esn, x, U[t], y)
        y = readout.coef_ @ x + readout.intercept_
        np.testing.assert_allclose(xs[t], x, atol=1e-10)
        np.testing.assert_allclose(ys[t], y, atol=1e-10)


@pytest.mark.subprocess
def test_tiny_connectivity_ends_and_is_refused_with_a_message():
    """Issue 25 (audit of unbounded loops): the geometric gaps of density 1e-300 are 2**63 - 1, their sum wrapped to
    negative positions and drawing W never ended; an empty W then reached ARPACK ("starting vector is zero")."""
    import subprocess
    import sys

    code = ("import numpy as np; from reservoirs.esn import _bernoulli_positions\n"
            "print(_bernoulli_positions(1000, 1000, 1e-300, np.random.default_rng(0)).size)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.split() == ["0"], res.stderr
    with pytest.raises(ValueError, match="spectral radius 0.0; increase connectivity"):
        ESN(units=1000, connectivity=1e-300, seed=0).fit(n_features=1)


def test_one_dimensional_W_in_is_one_input_column():
    """Issue 25: ESN(W_in=1-D).fit() crashed reading the input count from W_in.shape[1]."""
    w = np.linspace(-1.0, 1.0, 20)
    esn = ESN(units=20, W_in=w, seed=0).fit()
    assert esn.n_features_in_ == 1 and np.array_equal(esn.W_in_[:, 0], w)
    U = np.random.default_rng(0).standard_normal((30, 1))
    np.testing.assert_array_equal(esn.transform(U), ESN(units=20, W_in=w[:, None], seed=0).fit(U).transform(U))
