"""readouts reliability (issue 7): singular least squares, missing files, tampered readout files, alpha used."""
import warnings

import numpy as np
import pytest
from scipy.linalg import LinAlgWarning
from sklearn.linear_model import RidgeClassifier as SkRidgeClassifier

from conftest import assert_tampered_file_refused, dump_estimator_file, write_estimator_file
from readouts import LMS, RLS, Ridge, RidgeClassifier, load, save


def _collinear(n=60, p=6, m=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 5] = X[:, 0] + X[:, 1]  # exactly dependent columns
    X[:, 4] = 2.0 * X[:, 2]
    Y = rng.normal(size=(n, m))
    return X, Y


def _min_norm(X, Y, intercept):
    mx, my = (X.mean(0), Y.mean(0)) if intercept else (np.zeros(X.shape[1]), np.zeros(Y.shape[1]))
    W = np.linalg.lstsq(X - mx, Y - my, rcond=None)[0]
    return W.T, my - mx @ W


@pytest.mark.parametrize("solver", ["auto", "cholesky", "eigen", "dual"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize("shape", [(60, 6), (8, 20)])  # tall with collinear columns; wide (n < p)
def test_alpha_zero_singular_gives_lstsq_min_norm_solution(solver, intercept, shape):
    X, Y = _collinear(n=shape[0], p=max(shape[1], 6))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = Ridge(alpha=0.0, solver=solver, fit_intercept=intercept).fit(X, Y)
    # singular except the wide, uncentred kernel form: X Xᵀ of 8 random rows is invertible
    singular = not (shape[0] < shape[1] and not intercept and solver in ("auto", "dual"))
    warned = [w for w in caught if issubclass(w.category, LinAlgWarning) and "minimum-norm" in str(w.message)]
    assert bool(warned) == singular
    W, b = _min_norm(X, Y, intercept)
    assert np.all(np.isfinite(r.coef_))
    np.testing.assert_allclose(r.coef_, W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r.intercept_, b, rtol=1e-6, atol=1e-8)


def test_alpha_zero_singular_streamed_and_grid():
    X, Y = _collinear()
    W, b = _min_norm(X, Y, True)
    s = Ridge(alpha=0.0)
    with pytest.warns(LinAlgWarning):
        for chunk in np.array_split(np.arange(60), 3):
            s.partial_fit(X[chunk], Y[chunk])
    np.testing.assert_allclose(s.coef_, W, rtol=1e-6, atol=1e-8)
    with pytest.warns(LinAlgWarning):
        g = Ridge(alpha=[0.0, 1e3], cv=3).fit(X, Y)
    assert np.all(np.isfinite(g.cv_scores_)) and np.all(np.isfinite(g.coef_))


def test_alpha_zero_full_rank_is_plain_least_squares_without_warning():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(50, 4)), rng.normal(size=(50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = Ridge(alpha=0.0).fit(X, Y)
    np.testing.assert_allclose(r.coef_, _min_norm(X, Y, True)[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("alpha", [1e-3, 30.0])
def test_ridge_classifier_uses_alpha(alpha):
    """A classifier that ignored alpha (fitting with the default 1.0) fails at both values."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = np.array(["a", "b", "c"])[np.argmax(X[:, :3] + 0.5 * rng.normal(size=(80, 3)), axis=1)]
    ours = RidgeClassifier(alpha=alpha).fit(X, y)
    sk = SkRidgeClassifier(alpha=alpha).fit(X, y)
    np.testing.assert_allclose(2 * ours.decision_function(X) - 1, sk.decision_function(X), atol=1e-9)
    assert ours.ridge_.alpha_ == alpha


@pytest.mark.parametrize("ext", ["npz", "h5", "hdf5"])
def test_load_missing_file_is_file_not_found(tmp_path, ext):
    path = tmp_path / f"missing.{ext}"
    with pytest.raises(FileNotFoundError, match="missing"):
        load(path)


# ---------------------------------------------------------- tampered readout files
def _set(key, value):
    def tamper(h, a):
        a[key] = np.asarray(value)
    return tamper


def _param(key, value):
    def tamper(h, a):
        h["objects"][0]["params"][key] = value
    return tamper


READOUT_TAMPERINGS = {
    "coef_ NaN": (lambda h, a: a["obj0/coef_"].__setitem__((0, 0), np.nan), "coef_"),
    "coef_ inf": (lambda h, a: a["obj0/coef_"].__setitem__((1, 2), np.inf), "coef_"),
    "intercept_ NaN": (lambda h, a: a["obj0/intercept_"].__setitem__(0, np.nan), "intercept_"),
    "alpha_ inf": (_set("obj0/alpha_", np.inf), "alpha_"),
    "alpha_ negative": (_set("obj0/alpha_", -1.0), "alpha_"),
    "coef_ 3-D": (lambda h, a: a.__setitem__("obj0/coef_", a["obj0/coef_"][None]), "coef_"),
    "intercept_ shape": (lambda h, a: a.__setitem__("obj0/intercept_", a["obj0/intercept_"][:1]), "intercept_"),
    "coef_ int dtype": (lambda h, a: a.__setitem__("obj0/coef_", a["obj0/coef_"].astype(np.int64)), "coef_"),
    "n_features_in_ float": (_set("obj0/n_features_in_", 3.0), "n_features_in_"),
    "n_features_in_ mismatch": (_set("obj0/n_features_in_", 7), "n_features_in_"),
    "param alpha negative": (_param("alpha", -1.0), "alpha"),
    "param solver unknown": (_param("solver", "lsqr"), "solver"),
    "param unknown key": (_param("tol", 1e-3), "tol"),
    "param missing key": (lambda h, a: h["objects"][0]["params"].pop("fit_intercept"), "fit_intercept"),
    "missing array": (lambda h, a: a.pop("obj0/coef_"), "coef_"),
    "extra array": (_set("obj0/extra", [1.0]), "extra"),
    "format version": (lambda h, a: h.__setitem__("format_version", 2), "format version"),
    "header key unknown": (lambda h, a: h.__setitem__("comment", "x"), "comment"),
    "class outside pond": (lambda h, a: h["objects"][0].__setitem__("class", "os.system"), "refusing"),
    "class unknown": (lambda h, a: h["objects"][0].__setitem__("class", "readouts.Nope"), "unknown class"),
}


@pytest.mark.parametrize("ext", ["npz", "h5"])
@pytest.mark.parametrize("case", sorted(READOUT_TAMPERINGS))
def test_tampered_ridge_file_is_refused_naming_the_field(tmp_path, ext, case):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 6)), rng.normal(size=(40, 3))
    good = tmp_path / f"good.{ext}"
    save(good, Ridge(alpha=0.5).fit(X, Y))
    assert_tampered_file_refused(good, tmp_path / f"bad.{ext}", *READOUT_TAMPERINGS[case])


@pytest.mark.parametrize("ext", ["npz", "h5"])
def test_tampered_classifier_and_online_files_are_refused(tmp_path, ext):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 4)), rng.normal(size=(40, 2))
    cases = [(RidgeClassifier().fit(X, np.arange(40) % 3), "obj0/classes_", np.array([2, 1, 0]), "classes_"),
             (RidgeClassifier().fit(X, np.arange(40) % 3), "obj0/classes_", np.array([0, 1]), "class"),
             (RLS().fit(X, Y), "obj0/P_", np.eye(3), "P_"),
             (RLS().fit(X, Y), "obj0/W_", np.full((2, 5), np.nan), "W_"),
             (LMS().fit(X, Y[:, 0]), "obj0/one_d", np.array(2), "one_d"),
             (LMS().fit(X, Y), "obj0/W_", np.ones((2, 9)), "W_")]
    for i, (est, key, value, field) in enumerate(cases):
        good = tmp_path / f"g{i}.{ext}"
        save(good, est)
        back = load(good)
        np.testing.assert_array_equal(back.predict(X), est.predict(X))
        header, arrays = dump_estimator_file(good)
        arrays[key] = value
        bad = tmp_path / f"b{i}.{ext}"
        write_estimator_file(bad, header, arrays)
        with pytest.raises(ValueError, match=field):
            load(bad)


@pytest.mark.parametrize("cv", ["loo", "gcv"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loo_and_gcv_at_alpha_zero_with_fewer_samples_than_features(cv, fit_intercept):
    """Issue 25: at alpha = 0 an interpolating fit has H_ii = 1 and the scores divided by zero; they are now the
    limit alpha -> 0+, continuous with small alphas, without a warning."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 10)), rng.standard_normal(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = Ridge(alpha=[0.0, 1e-7, 1.0], cv=cv, fit_intercept=fit_intercept).fit(X, y).cv_scores_
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[0], scores[1], rtol=1e-5)


def test_ridge_classifier_drops_leading_labels_under_a_washout():
    """Issue 25: Ridge aligned a longer y to the end of X (an ESN washout in a Pipeline), RidgeClassifier refused
    it; both now follow the same rule, in fit, partial_fit and score."""
    rng = np.random.default_rng(0)
    S, y = rng.standard_normal((40, 3)), rng.integers(0, 3, 50)
    trimmed = RidgeClassifier(alpha=1e-3).fit(S, y[10:])
    washed = RidgeClassifier(alpha=1e-3).fit(S, y)
    np.testing.assert_array_equal(washed.ridge_.coef_, trimmed.ridge_.coef_)
    assert washed.score(S, y) == trimmed.score(S, y[10:])
    streamed = RidgeClassifier(alpha=1e-3).partial_fit(S, y, classes=[0, 1, 2])
    np.testing.assert_allclose(streamed.ridge_.coef_, trimmed.ridge_.coef_, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="one label per sample"):
        RidgeClassifier().fit(S, y[:30])  # shorter is still an error
