"""reservoirs.ESN: against ReservoirPy, a NumPy reference, benchmarks tasks and theory."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline

from conftest import reference_tool
from readouts import FORCE, FORMAT_VERSION, Ridge, RidgeClassifier, load, memory_capacity, nrmse
from reservoirs import ESN
from reservoirs.datasets import mackey_glass, narma10
from reservoirs.esn import spectral_radius
from reservoirs.kernels.esn import tanh_array


def _reference(esn, U, Y=None):
    """Plain NumPy loop with np.tanh: the update equation as written."""
    W, Win, b, Wfb = esn.W_.toarray(), esn.W_in_, esn.bias_, esn.W_fb_
    x = np.zeros(W.shape[0])
    out = []
    for t in range(len(U)):
        pre = W @ x + Win @ U[t] + b
        if Y is not None and t > 0:
            pre = pre + Wfb @ Y[t - 1]
        f = np.tanh(pre) if esn.activation == "tanh" else pre
        x = (1 - esn.leak_rate) * x + esn.leak_rate * f
        out.append(x)
    return np.array(out)


def test_vectorised_tanh_matches_numpy_over_wide_range():
    x = np.concatenate([np.linspace(-40, 40, 400_001), np.logspace(-300, 3, 3000), -np.logspace(-300, 3, 3000),
                        [0.0, -0.0, 1e308, -1e308, 19.999, 20.0, 20.001]])
    y = tanh_array(x)
    ref = np.tanh(x)
    assert np.max(np.abs(y - ref)) < 1e-14
    tiny = np.abs(x) < 1.0
    assert np.max(np.abs(y[tiny] - ref[tiny]) / np.maximum(np.abs(ref[tiny]), 1e-300)) < 1e-14
    assert np.all(np.abs(y) <= 1.0)


@pytest.mark.reference
@pytest.mark.parametrize("units,D,lr,layout", [(100, 1, 0.3, "auto"), (300, 3, 1.0, "sparse"),
                                                (120, 2, 0.7, "dense")])
def test_states_equal_reservoirpy(units, D, lr, layout):
    rpn = reference_tool("reservoirpy.nodes")
    esn = ESN(units=units, spectral_radius=1.1, leak_rate=lr, input_connectivity=0.5, bias_scaling=0.3,
              layout=layout, seed=7).fit(n_features=D)
    U = np.random.default_rng(1).uniform(-1, 1, (400, D))
    ref = rpn.Reservoir(W=esn.W_, Win=esn.W_in_, bias=esn.bias_, lr=lr).run(U)
    states = esn.transform(U)
    assert np.max(np.abs(states - ref)) < 1e-10
    # and given the same matrices as user input, a fresh ESN is identical
    esn2 = ESN(W=esn.W_, W_in=esn.W_in_, bias=esn.bias_, leak_rate=lr).fit(U)
    np.testing.assert_array_equal(esn2.transform(U), states)


def test_states_equal_numpy_reference_with_feedback():
    esn = ESN(units=80, spectral_radius=0.9, leak_rate=0.5, n_feedback=2, bias_scaling=0.1, seed=3)
    U = np.random.default_rng(0).normal(size=(200, 2))
    Y = np.random.default_rng(1).normal(size=(200, 2))
    esn.fit(U)
    np.testing.assert_allclose(esn.transform(U, y_feedback=Y), _reference(esn, U, Y), atol=1e-12)
    lin = ESN(units=60, activation="identity", spectral_radius=0.8, seed=2).fit(U)
    np.testing.assert_allclose(lin.transform(U), _reference(lin, U), atol=1e-12)


@pytest.mark.slow
def test_bit_identical_across_batch_size_threads_and_layout():
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (19, 150, 2))
    Y = rng.uniform(-1, 1, (19, 150, 1))
    kw = dict(units=250, spectral_radius=1.2, leak_rate=0.4, n_feedback=1, bias_scaling=0.2, seed=11)
    a = ESN(**kw, layout="sparse", n_jobs=1).fit(U)
    full = a.transform(U, y_feedback=Y)
    for b in (1, 2, 7, 19):  # one sequence, partial lane block, different lane positions
        idx = np.arange(19)[-b:]
        part = a.transform(U[idx], y_feedback=Y[idx])
        np.testing.assert_array_equal(part.reshape(b, 150, -1), full[idx])
    np.testing.assert_array_equal(clone(a).set_params(n_jobs=2).fit(U).transform(U, y_feedback=Y), full)
    np.testing.assert_array_equal(clone(a).set_params(layout="dense").fit(U).transform(U, y_feedback=Y), full)
    # list input of different lengths equals the corresponding prefixes
    lst = a.transform([U[0][:50], U[1]], y_feedback=[Y[0][:50], Y[1]])
    np.testing.assert_array_equal(lst[0], full[0, :50])
    np.testing.assert_array_equal(lst[1], full[1])


@pytest.mark.slow
def test_same_seed_same_matrices_and_spectral_radius():
    a, b = ESN(units=600, spectral_radius=0.95, seed=5).fit(n_features=1), ESN(units=600, spectral_radius=0.95,
                                                                                seed=5).fit(n_features=1)
    assert (a.W_ != b.W_).nnz == 0 and np.array_equal(a.W_in_, b.W_in_)
    rho = np.max(np.abs(np.linalg.eigvals(a.W_.toarray())))
    assert rho == pytest.approx(0.95, rel=1e-8)
    assert a.W_.nnz == pytest.approx(0.1 * 600 * 600, rel=0.05)
    W = sp.random(700, 700, density=0.05, random_state=1, format="csr")
    assert spectral_radius(W) == pytest.approx(np.max(np.abs(np.linalg.eigvals(W.toarray()))), rel=1e-8)


def test_washout_initial_state_and_final_state():
    esn = ESN(units=50, seed=0, washout=10).fit(n_features=1)
    U = np.random.default_rng(0).normal(size=(40, 1))
    s, xf = esn.transform(U, return_final_state=True)
    assert s.shape == (30, 50)
    np.testing.assert_array_equal(xf, s[-1])
    full = clone(esn).set_params(washout=0).fit(U).transform(U)
    np.testing.assert_array_equal(full[10:], s)
    # continuing from a state equals one long run
    first, x1 = clone(esn).set_params(washout=0).fit(U).transform(U[:25], return_final_state=True)
    rest = clone(esn).set_params(washout=0).fit(U).transform(U[25:], initial_state=x1)
    np.testing.assert_array_equal(np.vstack([first, rest]), full)


@pytest.mark.slow
def test_mackey_glass_one_step_prediction():
    X = mackey_glass(10001)  # tau = 17
    esn = ESN(units=1000, spectral_radius=1.25, leak_rate=0.3, connectivity=0.1, seed=0).fit(n_features=1)
    S = esn.transform(X[:-1])
    r = Ridge(alpha=1e-6).fit(S[100:8000], X[101:8001])
    err = nrmse(X[8001:10001], r.predict(S[8000:10000]))  # RMSE / std
    assert err <= 1.6e-3


@pytest.mark.reference
def test_mackey_glass_matches_reservoirpy_generator():
    ds = reference_tool("reservoirpy.datasets")
    # same discretisation: feed the same history through both
    rng = np.random.default_rng(0)
    hist = 1.2 + 0.2 * (rng.random(17) - 0.5)
    np.testing.assert_allclose(mackey_glass(300, seed=0), ds.mackey_glass(300, history=hist), rtol=1e-12)


def test_narma10():
    u, y = narma10(3000, seed=0)
    assert 0 <= u.min() and u.max() <= 0.5 and np.all(np.isfinite(y))
    esn = ESN(units=400, spectral_radius=0.95, leak_rate=1.0, input_scaling=0.5, input_connectivity=1.0,
              seed=0).fit(u)
    S = esn.transform(u)
    r = Ridge(alpha=1e-8).fit(S[100:2000], y[100:2000])
    assert nrmse(y[2000:], r.predict(S[2000:])) <= 0.25


def test_memory_capacity_linear_orthogonal_reservoir():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    esn = ESN(W=0.95 * Q, W_in=rng.uniform(-1, 1, (50, 1)), activation="identity").fit(n_features=1)
    u = rng.uniform(-1, 1, 6000)
    mc = memory_capacity(esn.transform(u[:, None]), u, max_delay=100, washout=200)
    assert 40 <= mc <= 50 + 1e-6


def test_force_generates_sine_in_closed_loop():
    y = np.sin(2 * np.pi * np.arange(2500) / 50)[:, None]
    esn = ESN(units=200, spectral_radius=1.5, leak_rate=0.2, n_feedback=1, seed=0).fit(n_features=1)
    x0 = np.random.default_rng(0).uniform(-0.5, 0.5, 200)
    f = FORCE(alpha=1.0).fit_closed_loop(esn, y[:2000], initial_state=x0)
    gen, _ = esn.generate(f, 500, f.state_, f.output_)
    assert nrmse(y[2000:2500], gen) < 0.15


def test_pipeline_esn_ridge_and_classifier():
    u, y = narma10(1200, seed=1)
    pipe = Pipeline([("esn", ESN(units=100, spectral_radius=0.9, input_scaling=0.5, seed=0)),
                     ("ridge", Ridge(alpha=1e-6))])
    pipe.fit(u[None], y[None])
    pred = pipe.predict(u[None])
    direct = Ridge(alpha=1e-6).fit(ESN(units=100, spectral_radius=0.9, input_scaling=0.5, seed=0).fit_transform(
        u[None]), y[None])
    np.testing.assert_allclose(pred, direct.predict(ESN(units=100, spectral_radius=0.9, input_scaling=0.5,
                                                        seed=0).fit_transform(u[None])), atol=1e-10)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 40)
    X = rng.normal(size=(40, 30, 1)) * 0.1 + labels[:, None, None]
    clf = Pipeline([("esn", ESN(units=50, seed=0)), ("clf", RidgeClassifier(alpha=1e-3, strategy="mean"))])
    assert clf.fit(X, labels).score(X, labels) == 1.0


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_save_load_esn_with_readout(tmp_path, ext):
    u, y = narma10(600, seed=2)
    esn = ESN(units=300, spectral_radius=0.9, n_feedback=1, seed=4).fit(u)
    S = esn.transform(u, y_feedback=y)
    r = Ridge(alpha=1e-6).fit(S, y)
    path = tmp_path / f"model.{ext}"
    esn.save(path, r)
    esn2, r2 = load(path)
    assert esn2.get_params() == esn.get_params()
    np.testing.assert_array_equal(r2.predict(esn2.transform(u, y_feedback=y)), r.predict(S))
    from readouts import save

    save(path.with_name("alone." + ext), r)
    np.testing.assert_array_equal(load(path.with_name("alone." + ext)).predict(S), r.predict(S))


def test_setup_time_and_errors_are_clear(tmp_path):
    U = np.zeros((10, 1))
    for param, value in [("spectral_radius", 0.0), ("spectral_radius", -1.0), ("leak_rate", 0.0),
                         ("leak_rate", 1.5), ("units", 0), ("connectivity", 0.0), ("activation", "relu"),
                         ("layout", "csr"), ("washout", -1), ("input_scaling", -1.0)]:
        with pytest.raises(ValueError, match=param):
            ESN(**{param: value}).fit(U)
    with pytest.raises(NotFittedError):
        ESN().transform(U)
    esn = ESN(units=20, seed=0).fit(U)
    with pytest.raises(ValueError, match="features"):
        esn.transform(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="2-D"):
        esn.transform(np.zeros(10))
    bad = U.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        esn.transform(bad)
    with pytest.raises(ValueError, match="W_in"):
        ESN(W=np.eye(5), W_in=np.ones((4, 1))).fit(U)
    with pytest.raises(ValueError, match="square"):
        ESN(W=np.ones((5, 4))).fit(U)
    with pytest.raises(ValueError, match="y_feedback"):
        ESN(units=20, n_feedback=1).fit(U).transform(U)
    with pytest.raises(ValueError, match="initial_state"):
        esn.transform(U, initial_state=np.zeros(7))
    p = tmp_path / "e.npz"
    esn.save(p)
    raw = p.read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[:100])
    with pytest.raises(ValueError, match="truncated|corrupt|not a readable"):
        load(tmp_path / "t.npz")
    assert FORMAT_VERSION == 1


def test_step_equals_transform_and_threads_restored():
    import numba

    esn = ESN(units=64, seed=1, leak_rate=0.5, n_jobs=1).fit(n_features=2)
    rng = np.random.default_rng(0)
    x0, u = rng.uniform(-1, 1, 64), rng.normal(size=2)
    before = numba.get_num_threads()
    np.testing.assert_array_equal(esn.step(x0, u), esn.transform(u[None], initial_state=x0)[0])
    esn.transform(rng.normal(size=(20, 5, 2)))
    assert numba.get_num_threads() == before


def test_single_sequence_split_by_rows_equals_one_thread():
    """From 256 units one sequence runs row-parallel; its states must not depend on the thread count."""
    X = mackey_glass(600)
    one = ESN(units=300, spectral_radius=1.25, leak_rate=0.3, seed=3, n_jobs=1).fit(n_features=1).transform(X)
    two = ESN(units=300, spectral_radius=1.25, leak_rate=0.3, seed=3, n_jobs=2).fit(n_features=1).transform(X)
    np.testing.assert_array_equal(one, two)
    Y = np.sin(np.arange(600.0))[:, None]
    fb1 = ESN(units=300, n_feedback=1, seed=3, n_jobs=1).fit(n_features=1)
    fb2 = ESN(units=300, n_feedback=1, seed=3, n_jobs=2).fit(n_features=1)
    np.testing.assert_array_equal(fb1.transform(X, y_feedback=Y), fb2.transform(X, y_feedback=Y))
