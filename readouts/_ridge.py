"""Ridge regression readouts: streamed normal equations, efficient CV, dual form."""
import numbers
import warnings

import numpy as np
import scipy.linalg as sla
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from readouts.io import register
from readouts.validation import (ArrayLike, Interval, Options, as_float_array, check_array, check_fields,
                                 check_finite, check_fitted, check_n_features, check_param, restore_params,
                                 validate_params)

_EIG_RTOL = 1e-12


# ----------------------------------------------------------------- inputs
def _flatten_X(X, name, n_features=None):
    """(n, p), (B, T, p) or list of (T_i, p) -> (float64 (n, p), lengths or None, kind)."""
    if isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) == 2:
        lens = [len(x) for x in X]
        X2 = np.concatenate([as_float_array(x, name) for x in X])
        kind = "list"
    else:
        X = as_float_array(X, name)
        if X.ndim == 2:
            X2, lens, kind = X, None, "2d"
        elif X.ndim == 3:
            lens, kind = [X.shape[1]] * X.shape[0], "3d"
            X2 = X.reshape(-1, X.shape[2])
        else:
            raise ValueError(f"{name}: X must be 2-D (samples, features), 3-D (sequences, time, features) "
                             f"or a list of 2-D arrays; got shape {X.shape}. Reshape your data with "
                             "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample.")
    check_n_features(name, X2.shape[1], n_features)
    check_finite(name, X2, "X")
    return X2, lens, kind


def _flatten_y(y, n, name, lens=None):
    """Targets -> (float64 (n, m), one_d), aligned to the end of X.

    Washout rule: a target sequence longer than its feature sequence keeps only
    its last steps (the first ``len(y) - len(X)`` are dropped), so the targets
    of a reservoir whose ``washout`` dropped its first states line up with the
    states in a Pipeline. This applies to 2-D X with a longer 1-D/2-D ``y``, to
    3-D X with a 3-D ``y`` of more time steps, and to lists sequence by
    sequence (``lens`` gives X's sequence lengths). A shorter ``y`` is an error.
    """
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) >= 1 and not np.isscalar(y[0]):
        parts = [as_float_array(v, name, "y") for v in y]
        if lens is not None and len(parts) == len(lens):
            parts = [v[max(len(v) - t, 0):] for v, t in zip(parts, lens)]
        y = np.concatenate(parts)
    y = as_float_array(y, name, "y")
    if y.ndim == 3:
        if lens is not None and y.shape[0] == len(lens) and y.shape[1] > lens[0]:
            y = y[:, y.shape[1] - lens[0]:]
        y = y.reshape(-1, y.shape[2])
    elif lens is None and y.ndim in (1, 2) and y.shape[0] > n:
        y = y[y.shape[0] - n:]
    one_d = y.ndim == 1
    Y = y.reshape(-1, 1) if one_d else y
    if Y.ndim != 2 or Y.shape[0] != n:
        raise ValueError(f"{name}: y must have one row per sample of X ({n}); got shape {np.shape(y)}.")
    check_finite(name, Y, "y")
    return Y, one_d


# ---------------------------------------------------------- sufficient stats
class _Stats:
    """Sums over samples: ZᵀZ and ZᵀY for Z = [X, 1], Σ y², n."""

    def __init__(self, p, m):
        self.A = np.zeros((p + 1, p + 1))
        self.B = np.zeros((p + 1, m))
        self.yy = np.zeros(m)
        self.n = 0

    def add(self, X, Y):
        p = X.shape[1]
        self.A[:p, :p] += X.T @ X
        s = X.sum(axis=0)
        self.A[:p, p] += s
        self.A[p, :p] += s
        self.A[p, p] += X.shape[0]
        self.B[:p] += X.T @ Y
        self.B[p] += Y.sum(axis=0)
        self.yy += np.einsum("ij,ij->j", Y, Y)
        self.n += X.shape[0]

    def minus(self, other):
        out = _Stats(self.A.shape[0] - 1, self.B.shape[1])
        out.A, out.B, out.yy, out.n = self.A - other.A, self.B - other.B, self.yy - other.yy, self.n - other.n
        return out

    def centred(self, fit_intercept):
        """(C, Cxy, x_mean, y_mean) of the normal equations."""
        p = self.A.shape[0] - 1
        if not fit_intercept:
            return self.A[:p, :p], self.B[:p], np.zeros(p), np.zeros(self.B.shape[1])
        n = max(self.n, 1)
        mx = self.A[p, :p] / n
        my = self.B[p] / n
        C = self.A[:p, :p] - n * np.outer(mx, mx)
        Cxy = self.B[:p] - n * np.outer(mx, my)
        return C, Cxy, mx, my

    def sse(self, W, b):
        """Σ ||y - W x - b||² over the samples summarised (W: (p, m))."""
        Wa = np.vstack([W, b[None, :]])
        return float(np.sum(self.yy - 2.0 * np.einsum("ij,ij->j", Wa, self.B)
                            + np.einsum("ij,ij->j", Wa, self.A @ Wa)))


# ------------------------------------------------------------------ solvers
def _pinv_weights(d, scale, alpha):
    """1/d per (shifted) eigenvalue d = λ + α, 0 where d <= _EIG_RTOL·scale (numerically null directions of the
    normal matrix, whose largest eigenvalue is ``scale``): the minimum-norm solution."""
    null = d <= _EIG_RTOL * max(scale, 1e-300)
    if null.any():
        warnings.warn(f"Ridge: the normal equations are singular or ill-conditioned at alpha={alpha:g} (collinear "
                      f"features?); {int(null.sum())} direction(s) with eigenvalue below {_EIG_RTOL:g} of the "
                      f"largest are treated as zero, which gives the minimum-norm least-squares solution.",
                      sla.LinAlgWarning, stacklevel=5)
    return np.where(null, 0.0, 1.0 / np.where(null, 1.0, d))


def _solve_psd(A, B, alpha):
    """A⁻¹B for symmetric positive semi-definite ``A`` (the normal matrix with ``alpha`` on its diagonal).

    Cholesky when A's reciprocal condition number (LAPACK ``dpocon``) is at least ``_EIG_RTOL``; otherwise
    (alpha = 0 with collinear features, or alpha too small to fix it) the pseudo-inverse solution from an
    eigendecomposition, with a warning.
    """
    try:
        c, lower = sla.cho_factor(A, lower=True, check_finite=False)
        rcond, info = sla.lapack.dpocon(c, np.abs(A).sum(axis=0).max(initial=0.0), uplo="L")
        if info == 0 and rcond >= _EIG_RTOL:
            return sla.cho_solve((c, lower), B, check_finite=False)
    except np.linalg.LinAlgError:
        pass
    lam, V = np.linalg.eigh(A)
    return V @ ((V.T @ B) * _pinv_weights(lam, lam.max(initial=0.0), alpha)[:, None])


def _solve_cholesky(C, Cxy, alpha):
    """W = (C + αI)⁻¹ Cxy by Cholesky (minimum-norm solution when singular, see :func:`_solve_psd`)."""
    return _solve_psd(C + alpha * np.eye(C.shape[0]), Cxy, alpha)


def _solve_eigen(C, Cxy, alphas):
    """W(α) = V diag(1/(λ+α)) Vᵀ Cxy for every α from one eigendecomposition of C (null directions: 0)."""
    lam, V = np.linalg.eigh(C)
    lam = np.maximum(lam, 0.0)
    VtC = V.T @ Cxy
    return [V @ (VtC * _pinv_weights(lam + a, lam.max(initial=0.0), a)[:, None]) for a in alphas]


def _solve_dual(Xc, Yc, alpha):
    """W = Xcᵀ (Xc Xcᵀ + αI)⁻¹ Yc (kernel form, n_samples << n_features; minimum-norm when singular)."""
    K = Xc @ Xc.T
    K[np.diag_indices_from(K)] += alpha
    return Xc.T @ _solve_psd(K, Yc, alpha)


#: ``1 - H_ii`` (or ``1 - tr H / n``) at or below which α = 0 counts as an interpolating fit (see _loo_scores).
_INTERPOLATES = 1e-9


def _loo_scores(Xc, Yc, alphas, fit_intercept, gcv):
    """Mean squared leave-one-out (or GCV) error for each α, from one eigendecomposition.

    With ``U`` (n×r, orthonormal) and ``s`` the non-zero eigenvalues of
    ``Xc Xcᵀ`` the hat matrix is ``H(α) = 11ᵀ/n + U diag(s/(s+α)) Uᵀ`` (the
    first term only with an intercept) and the LOO residual is
    ``(y_i - ŷ_i) / (1 - H_ii)``. GCV replaces ``H_ii`` by ``tr H / n``.

    At α = 0 a fit that interpolates (samples <= features) has ``y_i = ŷ_i`` and ``H_ii = 1``: the ratio is 0/0.
    Its value there is the limit α → 0⁺, finite and continuous with the scores of small α: both terms are
    proportional to α, so the ratio is ``(U diag(1/s) Uᵀ y)_i / (U² (1/s))_i`` (GCV: the mean square of the
    numerator over ``(Σ 1/s / n)²``).
    """
    n, p = Xc.shape
    if n <= p:
        s, U = np.linalg.eigh(Xc @ Xc.T)
    else:
        lam, V = np.linalg.eigh(Xc.T @ Xc)
        keep = lam > _EIG_RTOL * max(lam.max(), 1e-300)
        s, V = lam[keep], V[:, keep]
        U = (Xc @ V) / np.sqrt(s)
    keep = s > _EIG_RTOL * max(s.max(), 1e-300)
    s, U = s[keep], U[:, keep]
    U2 = U * U
    UtY = U.T @ Yc
    h0 = 1.0 / n if fit_intercept else 0.0
    scores = []
    limit = U @ (UtY / s[:, None])  # R / α as α -> 0⁺ where the fit interpolates
    inv_s = 1.0 / s
    for a in alphas:
        f = s / (s + a)
        R = Yc - U @ (f[:, None] * UtY)
        if gcv:
            d = 1.0 - (h0 * n + f.sum()) / n
            if a == 0 and d <= _INTERPOLATES:
                scores.append(np.mean(limit * limit) / (inv_s.sum() / n) ** 2)
            else:
                scores.append(np.mean(R * R) / d ** 2)
        else:
            d = 1.0 - (h0 + U2 @ f)
            if a == 0:
                flat = d <= _INTERPOLATES
                R = np.where(flat[:, None], limit, R)
                d = np.where(flat, U2 @ inv_s, d)
            scores.append(np.mean((R / d[:, None]) ** 2))
    return np.array(scores)


@register
class Ridge(RegressorMixin, BaseEstimator):
    r"""Ridge regression readout with streamed normal equations and efficient CV.

    .. math::

        \min_{W, \mathbf{b}} \sum_t \lVert \mathbf{y}_t - W\mathbf{x}_t - \mathbf{b}\rVert^2
            + \alpha \lVert W \rVert_F^2, \qquad
        W^\top = (X_c^\top X_c + \alpha I)^{-1} X_c^\top Y_c, \quad
        \mathbf{b} = \bar{\mathbf{y}} - W\bar{\mathbf{x}}

    :math:`\mathbf{x}_t` features (e.g. reservoir states), :math:`\mathbf{y}_t`
    targets, :math:`X_c, Y_c` centred data (the intercept is not penalised,
    as in scikit-learn). ``partial_fit`` accumulates :math:`Z^\top Z` and
    :math:`Z^\top Y` for :math:`Z = [X, 1]`, so data larger than memory can be
    fitted chunk by chunk; ``fit`` equals one ``partial_fit`` on all the data.

    Parameters
    ----------
    alpha : float or array-like of floats, default=1.0
        Regularisation α >= 0. Several values: α is chosen by cross-validation
        (``cv``) and stored in ``alpha_``.
    fit_intercept : bool, default=True
        Learn the unpenalised bias b.
    solver : {'auto', 'cholesky', 'eigen', 'dual'}, default='auto'
        'cholesky' solves the primal normal equations; 'eigen' uses an
        eigendecomposition (one for all α); 'dual' solves the kernel form
        :math:`W^\top = X_c^\top (X_c X_c^\top + \alpha I)^{-1} Y_c`, cheaper when
        n_samples << n_features (``fit`` only). 'auto': dual when ``fit`` gets
        fewer samples than features, otherwise cholesky (eigen for a grid).
    cv : {'auto', 'loo', 'gcv'} or int, default='auto'
        Used when ``alpha`` is a grid. 'loo': exact leave-one-out error (needs
        the data in memory, ``fit``); 'gcv': generalised CV; int k >= 2: k
        held-out blocks (contiguous blocks of sequences/samples in ``fit``;
        ``partial_fit`` call i goes to block i mod k), computed from per-block
        sufficient statistics; until two blocks hold data the largest α is
        used. 'auto': 'loo' in ``fit``, 5 blocks in
        ``partial_fit``.

    Attributes
    ----------
    coef_ : ndarray (n_targets, n_features) or (n_features,)
    intercept_ : ndarray (n_targets,) or float
    alpha_ : float
        α used (chosen by CV for a grid).
    cv_scores_ : ndarray (n_alphas,)
        Mean squared CV error per α (grid only).
    n_features_in_ : int

    See Also
    --------
    RidgeClassifier, RLS

    Notes
    -----
    Accepts 2-D ``(samples, features)`` data, 3-D ``(sequences, time,
    features)`` states with 3-D targets, or lists of 2-D arrays; sequences are
    concatenated along time. The CV criterion is the mean squared error over
    all targets, as in scikit-learn's ``RidgeCV``.

    Targets are aligned to the end of X: when ``y`` (or a sequence of it) has
    more steps than X, only its last steps are used, the first
    ``len(y) - len(X)`` dropped. This is what an :class:`reservoirs.ESN` with
    ``washout`` needs in a Pipeline (it returns ``T - washout`` states for
    ``T`` inputs); ``predict`` returns one row per row of X. Fewer targets
    than samples is an error.

    With ``alpha=0`` (or an α too small to make :math:`X_c^\top X_c + \alpha I`
    well conditioned, reciprocal condition number below 1e-12) and collinear
    features, the normal equations are singular. Then the minimum-norm
    least-squares solution is returned (as ``numpy.linalg.lstsq`` and
    scikit-learn's ``LinearRegression`` give): eigen-directions with
    eigenvalue below 1e-12 of the largest are treated as zero, with a
    ``scipy.linalg.LinAlgWarning`` saying so.

    References
    ----------
    G. H. Golub, M. Heath, G. Wahba, "Generalized cross-validation as a method
    for choosing a good ridge parameter", Technometrics 21, 1979.

    Examples
    --------
    >>> import numpy as np
    >>> from readouts import Ridge
    >>> X = np.random.default_rng(0).normal(size=(50, 2)); y = X @ [1.0, -2.0] + 3.0
    >>> r = Ridge(alpha=1e-9).fit(X, y)
    >>> r.coef_.round(6), round(r.intercept_, 6)
    (array([ 1., -2.]), 3.0)
    >>> Ridge(alpha=np.logspace(-6, 2, 9)).fit(X, y).alpha_  # chosen by leave-one-out
    1e-06
    """

    _parameter_constraints = {
        "alpha": [Interval("real", 0, None), ArrayLike()],
        "fit_intercept": [bool],
        "solver": [Options("auto", "cholesky", "eigen", "dual")],
        "cv": [Options("auto", "loo", "gcv"), Interval("int", 2, None)],
    }

    def __init__(self, alpha=1.0, fit_intercept=True, solver="auto", cv="auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.cv = cv

    def _alphas(self):
        a = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ValueError(f"{type(self).__name__}: parameter alpha={self.alpha!r} is invalid; it must be a "
                             f"float >= 0 or a non-empty 1-D array of floats >= 0.")
        return a

    def _check(self):
        validate_params(self)
        return self._alphas()

    # -------------------------------------------------------------- fitting
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # one column of W per output
        return tags

    def fit(self, X, y):
        """Fit on all the data at once.

        Parameters
        ----------
        X : array-like (n, p), (B, T, p) or list of (T_i, p)
        y : array-like (n,), (n, m), (B, T, m) or list of (T_i, m)

        Returns
        -------
        self : Ridge
        """
        alphas = self._check()
        name = type(self).__name__
        X2, lens, _ = _flatten_X(X, name)
        Y, one_d = _flatten_y(y, X2.shape[0], name, lens)
        n, p = X2.shape
        self._reset(p, Y.shape[1], one_d)
        dual = self.solver == "dual" or (self.solver == "auto" and n < p)
        if alphas.size > 1 and self.cv in ("auto", "loo", "gcv") or dual:
            mx = X2.mean(axis=0) if self.fit_intercept else np.zeros(p)
            my = Y.mean(axis=0) if self.fit_intercept else np.zeros(Y.shape[1])
            Xc, Yc = X2 - mx, Y - my
            if alphas.size > 1 and self.cv in ("auto", "loo", "gcv"):
                self.cv_scores_ = _loo_scores(Xc, Yc, alphas, self.fit_intercept, self.cv == "gcv")
                self.alpha_ = float(alphas[int(np.argmin(self.cv_scores_))])
            else:
                self.alpha_ = float(alphas[0])
            if dual:
                self._set_coef(_solve_dual(Xc, Yc, self.alpha_), mx, my)
                self._dual = True
                return self
        # primal, from sufficient statistics (blocks for k-fold CV)
        if alphas.size > 1 and isinstance(self.cv, numbers.Integral):
            k = int(self.cv)
            if lens is not None and len(lens) >= k:
                bounds = np.concatenate([[0], np.cumsum(lens)])
                cuts = bounds[np.linspace(0, len(lens), k + 1).round().astype(int)]
            else:
                cuts = np.linspace(0, n, k + 1).round().astype(int)
            for i in range(k):
                self._add_block(X2[cuts[i]:cuts[i + 1]], Y[cuts[i]:cuts[i + 1]], i, k)
        else:
            self._stats.add(X2, Y)
        if hasattr(self, "cv_scores_"):  # alpha already chosen by LOO/GCV
            self._solve_at(self.alpha_, eigen=self.solver == "eigen")
        else:
            self._solve(alphas)
        return self

    def _reset(self, p, m, one_d):
        self._stats = _Stats(p, m)
        self._folds = []
        self._n_calls = 0
        self._one_d = one_d
        self._dual = False
        self.n_features_in_ = p
        for a in ("cv_scores_",):
            if hasattr(self, a):
                delattr(self, a)

    def _add_block(self, X2, Y, i, k):
        while len(self._folds) < k:
            self._folds.append(_Stats(X2.shape[1], Y.shape[1]))
        self._folds[i].add(X2, Y)
        self._stats.add(X2, Y)

    def partial_fit(self, X, y):
        """Add a chunk (samples or sequences) to the normal equations and re-solve.

        Parameters
        ----------
        X, y : as in :meth:`fit`

        Returns
        -------
        self : Ridge
        """
        alphas = self._check()
        name = type(self).__name__
        first = not hasattr(self, "_stats")
        if not first and getattr(self, "_dual", False):
            raise ValueError(f"{name}: partial_fit cannot continue a dual-form fit (it keeps no XᵀX); "
                             f"call fit, or partial_fit on a fresh estimator.")
        X2, lens, _ = _flatten_X(X, name, None if first else self.n_features_in_)
        Y, one_d = _flatten_y(y, X2.shape[0], name, lens)
        if first:
            self._reset(X2.shape[1], Y.shape[1], one_d)
        elif Y.shape[1] != self._stats.B.shape[1]:
            raise ValueError(f"{name}: y has {Y.shape[1]} targets, earlier chunks had {self._stats.B.shape[1]}.")
        if alphas.size > 1:
            if self.cv in ("loo", "gcv"):
                raise ValueError(f"{name}: cv={self.cv!r} needs all data in memory; use fit, or an int cv "
                                 f"(held-out blocks) with partial_fit.")
            k = 5 if self.cv == "auto" else int(self.cv)
            self._add_block(X2, Y, self._n_calls % k, k)
        else:
            self._stats.add(X2, Y)
        self._n_calls += 1
        self._solve(alphas)
        return self

    def _solve(self, alphas):
        st = self._stats
        if alphas.size > 1:
            folds = [f for f in self._folds if f.n > 0]
            if len(folds) < 2:  # streaming has not reached a second block yet
                self.alpha_ = float(alphas.max())
                self._solve_at(self.alpha_, eigen=self.solver != "cholesky")
                return
            scores = np.zeros(alphas.size)
            for f in folds:
                C, Cxy, mx, my = st.minus(f).centred(self.fit_intercept)
                for j, W in enumerate(_solve_eigen(C, Cxy, alphas)):
                    scores[j] += f.sse(W, my - mx @ W)
            self.cv_scores_ = scores / (st.n * st.B.shape[1])
            self.alpha_ = float(alphas[int(np.argmin(scores))])
        else:
            self.alpha_ = float(alphas[0])
        self._solve_at(self.alpha_, eigen=self.solver == "eigen" or (self.solver == "auto" and alphas.size > 1))

    def _solve_at(self, alpha, eigen):
        C, Cxy, mx, my = self._stats.centred(self.fit_intercept)
        if eigen:
            W = _solve_eigen(C, Cxy, [alpha])[0]
        else:
            W = _solve_cholesky(C, Cxy, alpha)
        self._set_coef(W, mx, my)

    def _set_coef(self, W, mx, my):
        b = my - mx @ W if self.fit_intercept else np.zeros(W.shape[1])
        if self._one_d:
            self.coef_, self.intercept_ = W[:, 0].copy(), float(b[0])
        else:
            self.coef_, self.intercept_ = np.ascontiguousarray(W.T), b

    # ----------------------------------------------------------- predicting
    def predict(self, X):
        """Predict targets; output follows the layout of X (2-D, 3-D or list)."""
        check_fitted(self, "coef_")
        X2, lens, kind = _flatten_X(X, type(self).__name__, self.n_features_in_)
        out = X2 @ self.coef_.T + self.intercept_
        if kind == "3d":
            return out.reshape(len(lens), lens[0], *out.shape[1:])
        if kind == "list":
            return np.split(out, np.cumsum(lens)[:-1])
        return out

    def score(self, X, y, sample_weight=None):
        """R² of the prediction (sequences flattened, uniform average over targets).

        ``y`` may be longer than ``X`` (an ESN washout); it is aligned to the end of ``X`` as in :meth:`fit`.
        """
        from sklearn.metrics import r2_score

        check_fitted(self, "coef_")
        X2, lens, _ = _flatten_X(X, type(self).__name__, self.n_features_in_)
        P = (X2 @ self.coef_.T + self.intercept_).reshape(X2.shape[0], -1)
        Y, _ = _flatten_y(y, X2.shape[0], type(self).__name__, lens)
        return r2_score(Y, P, sample_weight=sample_weight)

    # ------------------------------------------------------------ save/load
    def _get_state(self):
        params = self.get_params()
        arrays = {}
        if hasattr(self, "coef_"):
            arrays = {"coef_": np.asarray(self.coef_), "intercept_": np.asarray(self.intercept_),
                      "alpha_": np.asarray(self.alpha_), "n_features_in_": np.asarray(self.n_features_in_)}
        return params, arrays

    _STATE_ARRAYS = ("coef_", "intercept_", "alpha_", "n_features_in_")

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params)
        est._check()
        if arrays:
            name = cls.__name__
            check_fields(name, arrays, cls._STATE_ARRAYS)
            coef = check_array(name, "coef_", arrays["coef_"])
            if coef.ndim not in (1, 2) or coef.shape[-1] == 0 or coef.size == 0:
                raise ValueError(f"{name}: coef_ must have shape (n_features,) or (n_targets, n_features) with "
                                 f"at least one of each; got {coef.shape}.")
            ic = check_array(name, "intercept_", arrays["intercept_"], shape=() if coef.ndim == 1 else coef.shape[:1])
            alpha = check_array(name, "alpha_", arrays["alpha_"], shape=())
            check_param(name, "alpha_", float(alpha), cls._parameter_constraints["alpha"][:1])
            nf = check_array(name, "n_features_in_", arrays["n_features_in_"], kind="i", shape=())
            if int(nf) != coef.shape[-1]:
                raise ValueError(f"{name}: n_features_in_={int(nf)} does not match coef_ of shape {coef.shape}.")
            est.coef_ = coef
            est.intercept_ = float(ic) if ic.ndim == 0 else ic
            est.alpha_ = float(alpha)
            est.n_features_in_ = int(nf)
        return est


_STRATEGIES = ("last", "mean", "vote")


@register
class RidgeClassifier(ClassifierMixin, BaseEstimator):
    r"""Ridge regression on one-hot targets, for samples or whole sequences.

    .. math::

        W = \arg\min \lVert Y - XW^\top - \mathbf{1}\mathbf{b}^\top\rVert^2
            + \alpha\lVert W\rVert^2, \quad
        Y_{ic} = [\,y_i = c\,], \quad \hat{y} = \arg\max_c (W\mathbf{x} + \mathbf{b})_c

    Parameters
    ----------
    alpha, fit_intercept, solver, cv
        As in :class:`Ridge`.
    strategy : {'last', 'mean', 'vote'}, default='last'
        Sequence-to-label rule when X is 3-D ``(sequences, time, features)`` or
        a list of sequences and y holds one label per sequence: 'last' state,
        'mean' state over time, or 'vote' (train on every step, predict the
        majority of per-step labels; ties go to the larger summed score).
        Ignored for 2-D X.

    Attributes
    ----------
    classes_ : ndarray (n_classes,)
    ridge_ : Ridge
        The fitted regression on one-hot targets.
    n_features_in_ : int

    See Also
    --------
    Ridge

    Examples
    --------
    >>> import numpy as np
    >>> from readouts import RidgeClassifier
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]])
    >>> RidgeClassifier(alpha=1e-6).fit(X, ["a", "a", "b", "b"]).predict([[0.05], [1.05]])
    array(['a', 'b'], dtype='<U1')
    """

    _parameter_constraints = dict(Ridge._parameter_constraints, strategy=[Options(*_STRATEGIES)])

    def __init__(self, alpha=1.0, fit_intercept=True, solver="auto", cv="auto", strategy="last"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.cv = cv
        self.strategy = strategy

    def _features(self, X, for_fit):
        """-> (2-D features, lengths of sequences for 'vote' or None, whether X held one row per sample)."""
        name = type(self).__name__
        if isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) == 2:
            seqs = [as_float_array(s, name) for s in X]
        else:
            X = as_float_array(X, name)
            if X.ndim != 3:
                X2, _, _ = _flatten_X(X, name, getattr(self, "n_features_in_", None) if not for_fit else None)
                return X2, None, X.ndim == 2
            seqs = list(X)
        for s in seqs:
            if s.shape[0] == 0:
                raise ValueError(f"{name}: empty sequence in X.")
            check_finite(name, s, "X")
        if self.strategy == "last":
            return np.stack([s[-1] for s in seqs]), None, False
        if self.strategy == "mean":
            return np.stack([s.mean(axis=0) for s in seqs]), None, False
        return np.concatenate(seqs), [len(s) for s in seqs], False

    def _onehot(self, y):
        idx = np.searchsorted(self.classes_, y)
        Y = np.zeros((len(y), len(self.classes_)))
        Y[np.arange(len(y)), idx] = 1.0
        return Y

    def _params(self):
        return dict(alpha=self.alpha, fit_intercept=self.fit_intercept, solver=self.solver, cv=self.cv)

    def _labels(self, y):
        """One label per sample or sequence: a column vector is flattened (with scikit-learn's warning);
        continuous values, NaN and infinity are refused."""
        from sklearn.exceptions import DataConversionWarning
        from sklearn.utils.multiclass import type_of_target

        name = type(self).__name__
        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None.")
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is flattened.",
                          DataConversionWarning, stacklevel=3)
            y = y.ravel()
        if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
            raise ValueError(f"{name}: Input y contains NaN or infinity.")
        kind = type_of_target(y) if y.ndim == 1 and y.size else "unknown"
        if kind.startswith("continuous"):
            raise ValueError(f"{name}: Unknown label type: {kind}; y must hold class labels, not continuous values.")
        return y

    @staticmethod
    def _aligned(F, per_sample, y):
        """Per-sample labels (2-D X) longer than X keep their last ``len(X)`` entries: the washout rule of
        :class:`Ridge` (a reservoir that dropped its first states in a Pipeline leaves the leading labels over)."""
        if per_sample and y.ndim == 1 and y.shape[0] > F.shape[0]:
            return y[y.shape[0] - F.shape[0]:]
        return y

    def fit(self, X, y):
        """Fit on samples (2-D X, y per sample) or sequences (y per sequence). Per-sample labels longer than X
        are aligned to its end (an ESN ``washout`` in a Pipeline), as :class:`Ridge` aligns its targets."""
        validate_params(self)
        y = self._labels(y)
        F, lens, per_sample = self._features(X, True)
        y = self._aligned(F, per_sample, y)
        self.classes_ = np.unique(y)
        if y.ndim != 1 or len(y) != (len(lens) if lens is not None else F.shape[0]):
            raise ValueError(f"{type(self).__name__}: y must hold one label per sample or sequence; got shape "
                             f"{y.shape} for {len(lens) if lens is not None else F.shape[0]} items.")
        Y = self._onehot(y)
        if lens is not None:
            Y = np.repeat(Y, lens, axis=0)
        self.ridge_ = Ridge(**self._params()).fit(F, Y)
        self.n_features_in_ = F.shape[1]
        return self

    def partial_fit(self, X, y, classes=None):
        """Stream a chunk; ``classes`` (all labels) is required on the first call."""
        validate_params(self)
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError(f"{type(self).__name__}: the first partial_fit call needs classes=.")
            self.classes_ = np.unique(np.asarray(classes))
            self.ridge_ = Ridge(**self._params())
        y = self._labels(y)
        F, lens, per_sample = self._features(X, True)
        y = self._aligned(F, per_sample, y)
        if not np.all(np.isin(y, self.classes_)):
            raise ValueError(f"{type(self).__name__}: y has labels outside classes {self.classes_.tolist()}.")
        Y = self._onehot(y)
        if lens is not None:
            Y = np.repeat(Y, lens, axis=0)
        self.ridge_.partial_fit(F, Y)
        self.n_features_in_ = F.shape[1]
        return self

    def decision_function(self, X):
        """Scores (n, n_classes); for 'vote' the mean per-step score of each sequence. With two classes, as in
        scikit-learn, one score per sample: positive means ``classes_[1]``."""
        check_fitted(self, "ridge_")
        F, lens, _ = self._features(X, False)
        S = self.ridge_.predict(F)
        if lens is not None:
            S = np.stack([c.mean(axis=0) for c in np.split(S, np.cumsum(lens)[:-1])])
        return S[:, 1] - S[:, 0] if S.shape[1] == 2 else S

    def predict(self, X):
        """Predicted labels."""
        check_fitted(self, "ridge_")
        F, lens, _ = self._features(X, False)
        S = self.ridge_.predict(F)
        if lens is None:
            return self.classes_[np.argmax(S, axis=1)]
        out = []
        nc = len(self.classes_)
        for c in np.split(S, np.cumsum(lens)[:-1]):
            votes = np.bincount(np.argmax(c, axis=1), minlength=nc).astype(np.float64)
            best = votes == votes.max()
            tot = np.where(best, c.sum(axis=0), -np.inf)
            out.append(int(np.argmax(tot)))
        return self.classes_[np.array(out)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy; per-sample labels longer than X are aligned to its end, as in :meth:`fit`."""
        check_fitted(self, "ridge_")
        F, _, per_sample = self._features(X, False)
        y = self._aligned(F, per_sample, self._labels(y))
        return super().score(X, y, sample_weight=sample_weight)

    def _get_state(self):
        params = self.get_params()
        arrays = {}
        if hasattr(self, "ridge_"):
            _, arrays = self.ridge_._get_state()
            arrays = dict(arrays, classes_=np.asarray(self.classes_))
        return params, arrays

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params)
        validate_params(est)
        if arrays:
            name = cls.__name__
            check_fields(name, arrays, Ridge._STATE_ARRAYS + ("classes_",))
            classes = np.asarray(arrays["classes_"])
            if classes.ndim != 1 or classes.size == 0 or classes.dtype.kind not in "biufU":
                raise ValueError(f"{name}: classes_ must be a non-empty 1-D array of numbers or strings; got "
                                 f"dtype {classes.dtype}, shape {classes.shape}.")
            if classes.dtype.kind == "f":
                check_finite(name, classes, "classes_")
            if classes.size != np.unique(classes).size or np.any(np.unique(classes) != classes):
                raise ValueError(f"{name}: classes_ must be sorted and distinct; got {classes.tolist()!r:.200}.")
            est.ridge_ = Ridge._from_state(est._params(), {k: arrays[k] for k in Ridge._STATE_ARRAYS})
            if est.ridge_.coef_.ndim != 2 or est.ridge_.coef_.shape[0] != classes.size:
                raise ValueError(f"{name}: coef_ must have one row per class ({classes.size}); got shape "
                                 f"{est.ridge_.coef_.shape}.")
            est.classes_ = classes
            est.n_features_in_ = est.ridge_.n_features_in_
        return est
