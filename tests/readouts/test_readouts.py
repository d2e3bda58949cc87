"""readouts: checked against closed forms, scikit-learn and brute-force searches."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge as SkRidge
from sklearn.linear_model import RidgeClassifier as SkRidgeClassifier
from sklearn.linear_model import RidgeCV as SkRidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from readouts import (FORCE, FORMAT_VERSION, LMS, RLS, Ridge, RidgeClassifier, accuracy, load, memory_capacity,
                      nrmse, save)


def _data(n=120, p=8, m=3, seed=0, noise=0.3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) + rng.normal(size=p)
    W = rng.normal(size=(p, m))
    Y = X @ W + 0.7 + noise * rng.normal(size=(n, m))
    return X, Y


def _closed_form(X, Y, alpha, intercept=True):
    if intercept:
        mx, my = X.mean(0), Y.mean(0)
        Xc, Yc = X - mx, Y - my
    else:
        Xc, Yc, mx, my = X, Y, np.zeros(X.shape[1]), np.zeros(Y.shape[1])
    W = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ Yc)
    return W.T, my - mx @ W


# ---------------------------------------------------------------- Ridge
@pytest.mark.parametrize("solver", ["auto", "cholesky", "eigen", "dual"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_ridge_matches_closed_form_and_sklearn(solver, intercept, seed):
    X, Y = _data(seed=seed)
    r = Ridge(alpha=2.5, fit_intercept=intercept, solver=solver).fit(X, Y)
    W, b = _closed_form(X, Y, 2.5, intercept)
    np.testing.assert_allclose(r.coef_, W, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(r.intercept_, b, rtol=1e-10, atol=1e-10)
    sk = SkRidge(alpha=2.5, fit_intercept=intercept, solver="cholesky").fit(X, Y)
    np.testing.assert_allclose(r.coef_, sk.coef_, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(r.predict(X), sk.predict(X), rtol=1e-9, atol=1e-9)


def test_ridge_single_output_shapes_match_sklearn():
    X, Y = _data(m=1)
    y = Y[:, 0]
    r, sk = Ridge(alpha=0.3).fit(X, y), SkRidge(alpha=0.3).fit(X, y)
    assert r.coef_.shape == sk.coef_.shape and np.ndim(r.intercept_) == 0
    np.testing.assert_allclose(r.predict(X), sk.predict(X), rtol=1e-10)
    assert r.score(X, y) == pytest.approx(sk.score(X, y), rel=1e-10)


def test_ridge_dual_for_wide_data_matches_sklearn():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(30, 400)), rng.normal(size=(30, 2))
    r = Ridge(alpha=0.5).fit(X, y)  # auto -> dual (n < p)
    assert r._dual
    sk = SkRidge(alpha=0.5).fit(X, y)
    np.testing.assert_allclose(r.coef_, sk.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(r.intercept_, sk.intercept_, rtol=1e-8, atol=1e-10)


def test_streamed_fit_equals_one_shot():
    X, Y = _data(n=300)
    full = Ridge(alpha=0.1).fit(X, Y)
    s = Ridge(alpha=0.1)
    for chunk in np.array_split(np.arange(300), 7):
        s.partial_fit(X[chunk], Y[chunk])
    np.testing.assert_allclose(s.coef_, full.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(s.intercept_, full.intercept_, rtol=1e-10, atol=1e-12)


def test_sequences_3d_and_list_equal_concatenation():
    X, Y = _data(n=120)
    flat = Ridge(alpha=0.1).fit(X, Y)
    r3 = Ridge(alpha=0.1).fit(X.reshape(4, 30, -1), Y.reshape(4, 30, -1))
    rl = Ridge(alpha=0.1).fit(list(X.reshape(4, 30, -1)), list(Y.reshape(4, 30, -1)))
    np.testing.assert_allclose(r3.coef_, flat.coef_, rtol=1e-12)
    np.testing.assert_allclose(rl.coef_, flat.coef_, rtol=1e-12)
    assert r3.predict(X.reshape(4, 30, -1)).shape == (4, 30, 3)


ALPHAS = np.logspace(-4, 3, 15)


def test_loo_cv_picks_bruteforce_and_sklearn_alpha():
    X, Y = _data(n=40, p=6, m=2, noise=1.0)
    r = Ridge(alpha=ALPHAS, cv="loo").fit(X, Y)
    brute = []
    for a in ALPHAS:
        err = 0.0
        for i in range(len(X)):
            keep = np.arange(len(X)) != i
            W, b = _closed_form(X[keep], Y[keep], a)
            err += np.sum((Y[i] - X[i] @ W.T - b) ** 2)
        brute.append(err / Y.size)
    np.testing.assert_allclose(r.cv_scores_, brute, rtol=1e-8)
    assert r.alpha_ == ALPHAS[int(np.argmin(brute))]
    assert r.alpha_ == SkRidgeCV(alphas=ALPHAS).fit(X, Y).alpha_
    np.testing.assert_allclose(r.coef_, _closed_form(X, Y, r.alpha_)[0], rtol=1e-8)


def test_loo_cv_dual_matches_primal():
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(25, 60)), rng.normal(size=25)
    a = Ridge(alpha=ALPHAS, cv="loo", solver="dual").fit(X, y)
    b = Ridge(alpha=ALPHAS, cv="loo", solver="eigen").fit(X, y)
    np.testing.assert_allclose(a.cv_scores_, b.cv_scores_, rtol=1e-7)
    assert a.alpha_ == b.alpha_ == SkRidgeCV(alphas=ALPHAS).fit(X, y).alpha_


def test_gcv_matches_explicit_hat_matrix():
    X, Y = _data(n=50, p=5, m=1, noise=1.0)
    r = Ridge(alpha=ALPHAS, cv="gcv").fit(X, Y)
    n = len(X)
    Z = np.hstack([X, np.ones((n, 1))])
    ref = []
    for a in ALPHAS:
        P = np.diag([a] * X.shape[1] + [0.0])
        H = Z @ np.linalg.solve(Z.T @ Z + P, Z.T)
        R = Y - H @ Y
        ref.append(np.mean(R ** 2) / (1 - np.trace(H) / n) ** 2)
    np.testing.assert_allclose(r.cv_scores_, ref, rtol=1e-8)


def test_block_cv_picks_exhaustive_held_out_alpha():
    X, Y = _data(n=200, p=10, m=2, noise=2.0, seed=4)
    seqX, seqY = X.reshape(10, 20, -1), Y.reshape(10, 20, -1)
    r = Ridge(alpha=ALPHAS, cv=5).fit(seqX, seqY)
    errs = []
    for a in ALPHAS:
        e = 0.0
        for f in range(5):
            test = np.zeros(10, bool)
            test[2 * f:2 * f + 2] = True
            sk = SkRidge(alpha=a).fit(seqX[~test].reshape(-1, 10), seqY[~test].reshape(-1, 2))
            e += np.sum((sk.predict(seqX[test].reshape(-1, 10)) - seqY[test].reshape(-1, 2)) ** 2)
        errs.append(e / Y.size)
    np.testing.assert_allclose(r.cv_scores_, errs, rtol=1e-7)
    assert r.alpha_ == ALPHAS[int(np.argmin(errs))]
    # streaming: one partial_fit per block gives the same choice and scores
    s = Ridge(alpha=ALPHAS, cv=5)
    for f in range(5):
        s.partial_fit(seqX[2 * f:2 * f + 2], seqY[2 * f:2 * f + 2])
    np.testing.assert_allclose(s.cv_scores_, errs, rtol=1e-7)
    np.testing.assert_allclose(s.coef_, r.coef_, rtol=1e-9)


# -------------------------------------------------------- RidgeClassifier
def test_ridge_classifier_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 5))
    y = np.array(["a", "b", "c"])[np.argmax(X[:, :3] + 0.5 * rng.normal(size=(150, 3)), axis=1)]
    ours = RidgeClassifier(alpha=1.0).fit(X, y)
    sk = SkRidgeClassifier(alpha=1.0).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.score(X, y) == sk.score(X, y)
    # sklearn uses ±1 targets: its scores are 2 * ours - 1
    np.testing.assert_allclose(2 * ours.decision_function(X) - 1, sk.decision_function(X), atol=1e-9)


def _seq_data(B=60, T=12, p=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, B)
    X = rng.normal(size=(B, T, p))
    X[np.arange(B), :, y] += 1.5
    return X, y


@pytest.mark.parametrize("strategy", ["last", "mean", "vote"])
def test_ridge_classifier_sequence_strategies(strategy):
    X, y = _seq_data()
    clf = RidgeClassifier(alpha=1e-3, strategy=strategy).fit(X, y)
    acc = accuracy(y, clf.predict(X))
    assert acc >= (0.7 if strategy == "last" else 0.95)
    if strategy == "mean":  # equals a plain classifier on mean states
        ref = RidgeClassifier(alpha=1e-3).fit(X.mean(1), y)
        np.testing.assert_array_equal(clf.predict(X), ref.predict(X.mean(1)))
    if strategy == "vote":  # majority of per-step predictions
        step = RidgeClassifier(alpha=1e-3).fit(X.reshape(-1, 4), np.repeat(y, 12))
        per = step.predict(X.reshape(-1, 4)).reshape(60, 12)
        maj = np.array([np.bincount(r, minlength=3).argmax() for r in per])
        counts = np.array([np.sort(np.bincount(r, minlength=3))[-2:] for r in per])
        clear = counts[:, 1] > counts[:, 0]
        np.testing.assert_array_equal(clf.predict(X)[clear], maj[clear])
    # list input of variable length works
    assert len(clf.predict([X[0], X[1][:5]])) == 2


def test_ridge_classifier_partial_fit_equals_fit():
    X, y = _seq_data()
    full = RidgeClassifier(alpha=0.1, strategy="mean").fit(X, y)
    s = RidgeClassifier(alpha=0.1, strategy="mean")
    for i in range(0, 60, 20):
        s.partial_fit(X[i:i + 20], y[i:i + 20], classes=[0, 1, 2])
    np.testing.assert_allclose(s.decision_function(X), full.decision_function(X), atol=1e-10)


# ----------------------------------------------------------------- online
def test_rls_equals_ridge_with_penalised_intercept():
    X, Y = _data(n=200, p=5, m=2)
    r = RLS(alpha=0.5).fit(X, Y)
    Z = np.hstack([X, np.ones((200, 1))])
    W = np.linalg.solve(Z.T @ Z + 0.5 * np.eye(6), Z.T @ Y).T
    np.testing.assert_allclose(r.W_, W, rtol=1e-8, atol=1e-10)
    # streamed
    s = RLS(alpha=0.5)
    for c in np.array_split(np.arange(200), 3):
        s.partial_fit(X[c], Y[c])
    np.testing.assert_allclose(s.W_, r.W_, rtol=1e-12, atol=1e-13)


def test_rls_forgetting_equals_weighted_ridge():
    X, Y = _data(n=100, p=4, m=1)
    lam, a = 0.97, 0.1
    r = RLS(alpha=a, forgetting_factor=lam, fit_intercept=False).fit(X, Y[:, 0])
    w = lam ** np.arange(99, -1, -1)
    W = np.linalg.solve((X * w[:, None]).T @ X + a * lam ** 100 * np.eye(4), (X * w[:, None]).T @ Y[:, 0])
    np.testing.assert_allclose(r.coef_, W, rtol=1e-8)


def test_lms_converges_to_linear_map():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 3))
    y = X @ [0.5, -1.0, 2.0] + 0.25
    m = LMS(learning_rate=0.02).fit(X, y)
    np.testing.assert_allclose(m.coef_, [0.5, -1.0, 2.0], atol=1e-6)
    assert m.intercept_ == pytest.approx(0.25, abs=1e-6)


# ---------------------------------------------------------------- metrics
def test_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = y + np.array([0.1, -0.1, 0.1, -0.1])
    assert nrmse(y, p) == pytest.approx(0.1 / np.std(y))
    assert nrmse(y, p, normalization="range") == pytest.approx(0.1 / 3)
    assert nrmse(y, p, normalization="mean") == pytest.approx(0.1 / 2.5)
    assert accuracy([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="normalization"):
        nrmse(y, p, normalization="max")
    with pytest.raises(ValueError, match="shape"):
        nrmse(y, p[:3])


def test_memory_capacity_of_delay_line_equals_its_length():
    # states = the last 10 inputs exactly: MC_k = 1 for k <= 10, 0 beyond
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, 3000)
    S = np.stack([np.roll(u, k) for k in range(1, 11)], axis=1)
    mc, per = memory_capacity(S, u, max_delay=15, washout=20, return_per_delay=True)
    np.testing.assert_allclose(per[:10], 1.0, atol=1e-6)
    assert per[10:].max() < 0.01
    assert 10 - 1e-5 < mc < 10.05


# ---------------------------------------------------------- sklearn API
def test_sklearn_api_clone_pipeline_gridsearch():
    X, Y = _data(n=100, m=1)
    r = Ridge(alpha=0.5, solver="eigen")
    assert clone(r).get_params() == r.get_params()
    assert r.set_params(alpha=0.7).alpha == 0.7
    gs = GridSearchCV(Pipeline([("s", StandardScaler()), ("r", Ridge())]), {"r__alpha": [1e-3, 1.0, 100.0]}, cv=3)
    gs.fit(X, Y[:, 0])
    assert gs.best_params_["r__alpha"] in (1e-3, 1.0, 100.0)
    for est in (RidgeClassifier(strategy="vote"), RLS(alpha=2.0), FORCE(alpha=3.0), LMS(learning_rate=0.1)):
        assert clone(est).get_params() == est.get_params()


# -------------------------------------------------------------- save/load
@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_save_load_readouts(tmp_path, ext):
    X, Y = _data(n=80)
    ests = [Ridge(alpha=ALPHAS).fit(X, Y), RidgeClassifier(alpha=0.1).fit(X, (Y[:, 0] > 0.7).astype(int)),
            RLS(alpha=0.3).fit(X, Y), LMS(learning_rate=0.001).fit(X, Y[:, 0])]
    for i, est in enumerate(ests):
        path = tmp_path / f"m{i}.{ext}"
        save(path, est)
        back = load(path)
        assert type(back) is type(est) and back.get_params().keys() == est.get_params().keys()
        np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_load_rejects_other_version_and_truncated(tmp_path):
    X, Y = _data(n=50)
    p = tmp_path / "r.npz"
    save(p, Ridge().fit(X, Y))
    import json

    with np.load(p) as z:
        d = {k: z[k] for k in z.files}
    h = json.loads(str(d["__header__"]))
    h["format_version"] = FORMAT_VERSION + 1
    d["__header__"] = np.array(json.dumps(h))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **d)
    with pytest.raises(ValueError, match="format version"):
        load(bad)
    raw = p.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated|corrupt|not a readable"):
        load(trunc)
    h5 = tmp_path / "r.h5"
    save(h5, Ridge().fit(X, Y))
    raw = h5.read_bytes()
    (tmp_path / "t.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated|corrupt|not a readable"):
        load(tmp_path / "t.h5")
    with pytest.raises(ValueError, match="extension"):
        save(tmp_path / "x.pkl", Ridge().fit(X, Y))


# ----------------------------------------------------------------- errors
@pytest.mark.parametrize("est,param,value", [
    (Ridge, "alpha", -1.0), (Ridge, "alpha", [1.0, np.nan]), (Ridge, "solver", "lsqr"), (Ridge, "cv", 1),
    (Ridge, "cv", "kfold"), (Ridge, "fit_intercept", "yes"), (RidgeClassifier, "strategy", "first"),
    (RLS, "forgetting_factor", 0.0), (RLS, "forgetting_factor", 1.5), (RLS, "alpha", 0.0),
    (LMS, "learning_rate", -0.1),
])
def test_invalid_parameters_name_parameter_and_value(est, param, value):
    X, Y = _data(n=30)
    y = Y[:, 0] > 0.7 if est is RidgeClassifier else Y
    with pytest.raises(ValueError, match=param):
        est(**{param: value}).fit(X, y)


def test_input_errors():
    X, Y = _data(n=30)
    for est in (Ridge(), RidgeClassifier(), RLS(), LMS()):
        with pytest.raises(NotFittedError):
            est.predict(X)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(Xn, Y)
    with pytest.raises(ValueError, match="one row per sample"):
        Ridge().fit(X, Y[:-1])
    with pytest.raises(ValueError, match="features"):
        Ridge().fit(X, Y).predict(X[:, :3])
    with pytest.raises(ValueError, match="2-D|3-D"):
        Ridge().fit(X[0], Y[0])
    with pytest.raises(ValueError, match="partial_fit"):
        Ridge(alpha=[0.1, 1.0], cv="loo").partial_fit(X, Y)
    with pytest.raises(ValueError, match="classes"):
        RidgeClassifier().partial_fit(X, Y[:, 0] > 0)
