"""Online readouts: recursive least squares (RLS), FORCE and least mean squares (LMS)."""
import numpy as np
from numba import njit
from sklearn.base import BaseEstimator, RegressorMixin

from readouts.io import register
from readouts._ridge import _flatten_X, _flatten_y
from readouts.validation import (Interval, check_array, check_fields, check_fitted, restore_params,
                                 validate_params)


@njit(cache=True, error_model="numpy")
def _rls_kernel(X, Y, W, P, lam, pred):
    """RLS over all rows of X (float64); W (m, p) and P (p, p) updated in place.

    Per sample: ``k = P x / (λ + xᵀ P x)``, ``e = y - W x`` (a-priori),
    ``W += e kᵀ``, ``P = (P - k (P x)ᵀ) / λ``. ``pred`` gets the a-priori output.
    """
    n, p = X.shape
    m = Y.shape[1]
    Px = np.empty(p, dtype=np.float64)
    for t in range(n):
        x = X[t]
        for i in range(p):
            s = 0.0
            for j in range(p):
                s += P[i, j] * x[j]
            Px[i] = s
        den = lam
        for i in range(p):
            den += x[i] * Px[i]
        for o in range(m):
            z = 0.0
            for j in range(p):
                z += W[o, j] * x[j]
            pred[t, o] = z
            e = Y[t, o] - z
            for j in range(p):
                W[o, j] += e * Px[j] / den
        inv = 1.0 / lam
        for i in range(p):
            ki = Px[i] / den
            for j in range(p):
                P[i, j] = (P[i, j] - ki * Px[j]) * inv


@njit(cache=True, error_model="numpy")
def _lms_kernel(X, Y, W, eta, pred):
    """LMS over all rows: ``e = y - W x``, ``W += η e xᵀ``."""
    n, p = X.shape
    m = Y.shape[1]
    for t in range(n):
        for o in range(m):
            z = 0.0
            for j in range(p):
                z += W[o, j] * X[t, j]
            pred[t, o] = z
            e = eta * (Y[t, o] - z)
            for j in range(p):
                W[o, j] += e * X[t, j]


class _OnlineBase(RegressorMixin, BaseEstimator):
    """Shared plumbing: augmented features, streaming, predict, save/load."""

    def _aug(self, X2):
        return np.hstack([X2, np.ones((X2.shape[0], 1))]) if self.fit_intercept else X2

    def fit(self, X, y):
        """Reset and run the update rule once over all samples (in order)."""
        for a in ("W_", "P_"):
            if hasattr(self, a):
                delattr(self, a)
        return self.partial_fit(X, y)

    def partial_fit(self, X, y):
        """Continue the update rule over more samples (time order kept)."""
        validate_params(self)
        name = type(self).__name__
        X2, lens, _ = _flatten_X(X, name, getattr(self, "n_features_in_", None) if hasattr(self, "W_") else None)
        Y, one_d = _flatten_y(y, X2.shape[0], name, lens)
        Z = np.ascontiguousarray(self._aug(X2))
        if not hasattr(self, "W_"):
            self._start(Z.shape[1], Y.shape[1])
            self._one_d = one_d
            self.n_features_in_ = X2.shape[1]
        pred = np.empty((Z.shape[0], Y.shape[1]))
        self._update(Z, np.ascontiguousarray(Y), pred)
        return self

    @property
    def coef_(self):
        check_fitted(self, "W_")
        W = self.W_[:, :self.n_features_in_]
        return W[0] if getattr(self, "_one_d", False) else W

    @property
    def intercept_(self):
        check_fitted(self, "W_")
        b = self.W_[:, self.n_features_in_] if self.fit_intercept else np.zeros(self.W_.shape[0])
        return float(b[0]) if getattr(self, "_one_d", False) else b

    def score(self, X, y, sample_weight=None):
        """R² of the prediction; a longer ``y`` (ESN washout) is aligned to the end of X as in :class:`Ridge`."""
        from sklearn.metrics import r2_score

        check_fitted(self, "W_")
        name = type(self).__name__
        X2, lens, _ = _flatten_X(X, name, self.n_features_in_)
        Y, _ = _flatten_y(y, X2.shape[0], name, lens)
        return r2_score(Y, self._aug(X2) @ self.W_.T, sample_weight=sample_weight)

    def predict(self, X):
        """Outputs ``W x + b`` with the current weights."""
        check_fitted(self, "W_")
        X2, lens, kind = _flatten_X(X, type(self).__name__, self.n_features_in_)
        out = self._aug(X2) @ self.W_.T
        if getattr(self, "_one_d", False):
            out = out[:, 0]
        if kind == "3d":
            return out.reshape(len(lens), lens[0], *out.shape[1:])
        return out

    def _get_state(self):
        arrays = {}
        if hasattr(self, "W_"):
            arrays = {"W_": self.W_, "n_features_in_": np.asarray(self.n_features_in_),
                      "one_d": np.asarray(self._one_d)}
            if hasattr(self, "P_"):
                arrays["P_"] = self.P_
        return self.get_params(), arrays

    _STATE_ARRAYS = ("W_", "n_features_in_", "one_d")

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params)
        validate_params(est)
        if arrays:
            name = cls.__name__
            check_fields(name, arrays, cls._STATE_ARRAYS)
            nf = int(check_array(name, "n_features_in_", arrays["n_features_in_"], kind="i", shape=()))
            if nf < 1:
                raise ValueError(f"{name}: n_features_in_ must be >= 1; got {nf}.")
            p = nf + bool(est.fit_intercept)
            W = check_array(name, "W_", arrays["W_"], shape=(None, p))
            one_d = bool(check_array(name, "one_d", arrays["one_d"], kind="b", shape=()))
            if W.shape[0] < 1 or (one_d and W.shape[0] != 1):
                raise ValueError(f"{name}: W_ must have {'1' if one_d else '>= 1'} row(s); got shape {W.shape}.")
            if "P_" in cls._STATE_ARRAYS:
                est.P_ = check_array(name, "P_", arrays["P_"], shape=(p, p))
            est.W_, est.n_features_in_, est._one_d = W, nf, one_d
        return est


@register
class RLS(_OnlineBase):
    r"""Recursive least squares readout with a forgetting factor.

    .. math::

        \mathbf{k}_t = \frac{P_{t-1}\mathbf{x}_t}{\lambda + \mathbf{x}_t^\top P_{t-1}\mathbf{x}_t},\quad
        W_t = W_{t-1} + (\mathbf{y}_t - W_{t-1}\mathbf{x}_t)\,\mathbf{k}_t^\top,\quad
        P_t = \lambda^{-1}(P_{t-1} - \mathbf{k}_t\mathbf{x}_t^\top P_{t-1}),\quad P_0 = I/\alpha

    :math:`\mathbf{x}_t` features (with a constant 1 appended when
    ``fit_intercept``), :math:`\mathbf{y}_t` targets, :math:`\lambda` the
    forgetting factor, :math:`\alpha` the initial regularisation. With λ = 1
    the weights equal ridge regression with penalty α (intercept penalised).

    Parameters
    ----------
    alpha : float, default=1.0
        Initial regularisation α (P₀ = I/α), > 0.
    forgetting_factor : float, default=1.0
        λ in (0, 1]; past samples are weighted by λ^age.
    fit_intercept : bool, default=True

    Attributes
    ----------
    W_ : ndarray (n_targets, n_features [+ 1])
    P_ : ndarray (n_features [+ 1], n_features [+ 1])
        Inverse correlation matrix estimate.
    coef_, intercept_ : views of W_
    n_features_in_ : int

    See Also
    --------
    FORCE, LMS, Ridge

    References
    ----------
    S. Haykin, Adaptive Filter Theory, 4th ed., ch. 9, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from readouts import RLS
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> RLS(alpha=1e-6).fit(X, X @ [1.0, 2.0, 3.0]).coef_.round(4)
    array([1., 2., 3.])
    """

    _parameter_constraints = {
        "alpha": [Interval("real", 0, None, closed="neither")],
        "forgetting_factor": [Interval("real", 0, 1, closed="right")],
        "fit_intercept": [bool],
    }
    _STATE_ARRAYS = _OnlineBase._STATE_ARRAYS + ("P_",)

    def __init__(self, alpha=1.0, forgetting_factor=1.0, fit_intercept=True):
        self.alpha = alpha
        self.forgetting_factor = forgetting_factor
        self.fit_intercept = fit_intercept

    def _start(self, p, m):
        self.W_ = np.zeros((m, p))
        self.P_ = np.eye(p) / self.alpha

    def _update(self, Z, Y, pred):
        _rls_kernel(Z, Y, self.W_, self.P_, float(self.forgetting_factor), pred)


@register
class FORCE(RLS):
    r"""FORCE learning (Sussillo & Abbott 2009): RLS in closed loop with output feedback.

    .. math::

        z_t = W_{t-1}\mathbf{x}_t,\qquad
        \mathbf{x}_{t+1} = \mathrm{step}(\mathbf{x}_t, \mathbf{u}_{t+1}, z_t),\qquad
        W_t = W_{t-1} - (z_t - \mathbf{f}_t)\,(P_t\mathbf{x}_t)^\top

    with :math:`P` updated as in :class:`RLS` (λ = 1, :math:`P_0 = I/\alpha`).
    The reservoir is driven by the readout's own output :math:`z_t`, not by
    the target :math:`\mathbf{f}_t`, so the weights are learnt under the
    closed-loop dynamics; strong, fast updates keep the error small from the
    start.

    Parameters
    ----------
    alpha : float, default=1.0
        Learning rate / initial regularisation (P₀ = I/α), > 0.
    fit_intercept : bool, default=False
    forgetting_factor : float, default=1.0
        As in RLS (1 in the original method).

    Attributes
    ----------
    W_, P_, coef_, intercept_, n_features_in_ : as in RLS
    state_ : ndarray (N,)
        Reservoir state after training (to start closed-loop generation).
    output_ : ndarray (n_targets,)
        Last output fed back.

    See Also
    --------
    RLS, reservoirs.ESN.generate

    References
    ----------
    D. Sussillo, L. F. Abbott, "Generating coherent patterns of activity from
    chaotic neural networks", Neuron 63(4), 2009.
    """

    def __init__(self, alpha=1.0, forgetting_factor=1.0, fit_intercept=False):
        super().__init__(alpha=alpha, forgetting_factor=forgetting_factor, fit_intercept=fit_intercept)

    def fit_closed_loop(self, reservoir, y, u=None, initial_state=None):
        """Train in closed loop on a reservoir with output feedback.

        Parameters
        ----------
        reservoir : object
            Fitted reservoir with ``units_`` and ``step(state, u, y_prev)``
            returning the next state (e.g. :class:`reservoirs.ESN` with
            ``n_feedback = n_targets``).
        y : array-like (T, n_targets) or (T,)
            Target output f_t.
        u : array-like (T, D), optional
            External input.
        initial_state : array-like (N,), optional

        Returns
        -------
        self : FORCE
        """
        validate_params(self)
        Y, one_d = _flatten_y(y, np.shape(y)[0], type(self).__name__)
        N = reservoir.units_
        x = np.zeros(N) if initial_state is None else np.array(initial_state, dtype=np.float64)
        p = N + (1 if self.fit_intercept else 0)
        self._start(p, Y.shape[1])
        self._one_d = one_d
        self.n_features_in_ = N
        z = np.zeros(Y.shape[1])
        pred = np.empty((1, Y.shape[1]))
        for t in range(Y.shape[0]):
            x = reservoir.step(x, None if u is None else u[t], z)
            Z = np.ascontiguousarray(self._aug(x[None, :]))
            self._update(Z, Y[t:t + 1], pred)
            z = pred[0].copy()
        self.state_ = x
        self.output_ = z
        return self


@register
class LMS(_OnlineBase):
    r"""Least mean squares (Widrow–Hoff) readout.

    .. math::

        W_t = W_{t-1} + \eta\,(\mathbf{y}_t - W_{t-1}\mathbf{x}_t)\,\mathbf{x}_t^\top

    Parameters
    ----------
    learning_rate : float, default=0.01
        η > 0 (stable for η < 2 / λ_max(E[x xᵀ])).
    fit_intercept : bool, default=True

    Attributes
    ----------
    W_, coef_, intercept_, n_features_in_ : as in RLS

    See Also
    --------
    RLS

    References
    ----------
    B. Widrow, M. E. Hoff, "Adaptive switching circuits", IRE WESCON, 1960.
    """

    _parameter_constraints = {
        "learning_rate": [Interval("real", 0, None, closed="neither")],
        "fit_intercept": [bool],
    }

    def __init__(self, learning_rate=0.01, fit_intercept=True):
        self.learning_rate = learning_rate
        self.fit_intercept = fit_intercept

    def _start(self, p, m):
        self.W_ = np.zeros((m, p))

    def _update(self, Z, Y, pred):
        _lms_kernel(Z, Y, self.W_, float(self.learning_rate), pred)
