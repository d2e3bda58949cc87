"""Readout metrics: NRMSE, accuracy, memory capacity."""
import numpy as np

_NORMS = {
    "std": lambda y: np.std(y, axis=0),
    "range": lambda y: np.ptp(y, axis=0),
    "mean": lambda y: np.abs(np.mean(y, axis=0)),
}


def nrmse(y_true, y_pred, normalization="std"):
    r"""Normalised root mean squared error.

    .. math::

        \mathrm{NRMSE} = \frac{\sqrt{\tfrac{1}{T}\sum_t (y_t - \hat y_t)^2}}{s(y)}

    with :math:`s(y)` the population standard deviation of ``y_true``
    (``normalization='std'``, default; ddof = 0), its range max − min
    (``'range'``) or its absolute mean (``'mean'``). Multi-output arrays
    ``(T, m)`` give the mean of the per-column NRMSEs.
    """
    if normalization not in _NORMS:
        raise ValueError(f"nrmse: normalization={normalization!r} is invalid; it must be one of "
                         f"{', '.join(map(repr, _NORMS))}.")
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.shape != yp.shape:
        raise ValueError(f"nrmse: y_true {yt.shape} and y_pred {yp.shape} differ in shape.")
    yt = yt.reshape(yt.shape[0], -1) if yt.ndim > 1 else yt[:, None]
    yp = yp.reshape(yt.shape)
    rmse = np.sqrt(np.mean((yt - yp) ** 2, axis=0))
    return float(np.mean(rmse / _NORMS[normalization](yt)))


def accuracy(y_true, y_pred):
    """Fraction of labels predicted exactly."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"accuracy: y_true {yt.shape} and y_pred {yp.shape} differ in shape.")
    return float(np.mean(yt == yp))


def memory_capacity(states, u, max_delay, washout=0, train_fraction=0.5, alpha=1e-8,
                    return_per_delay=False):
    r"""Short-term memory capacity (Jaeger 2001).

    .. math::

        MC = \sum_{k=1}^{k_{max}} \frac{\mathrm{cov}^2(u_{t-k}, y_k(t))}
                                 {\mathrm{var}(u_t)\,\mathrm{var}(y_k(t))}

    :math:`y_k` is a ridge readout (penalty ``alpha``) trained on the first
    ``train_fraction`` of the steps after ``washout`` to output
    :math:`u_{t-k}`; the squared correlation is measured on the rest. All
    delays share one system of normal equations. Bounded above by the number
    of units for i.i.d. input.

    Parameters
    ----------
    states : array-like (T, N)
        Reservoir states driven by ``u``.
    u : array-like (T,) or (T, 1)
        Scalar input sequence (i.i.d. for the classical measure).
    max_delay : int
        Largest delay k_max, >= 1.
    washout : int, default=0
        Initial steps skipped (>= max_delay recommended).
    train_fraction : float, default=0.5
    alpha : float, default=1e-8
    return_per_delay : bool, default=False
        Also return MC_k for k = 1..k_max.

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152, 2001.
    """
    from readouts._ridge import Ridge

    X = np.asarray(states, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != u.shape[0]:
        raise ValueError(f"memory_capacity: states must be (T, N) with T = len(u) = {u.shape[0]}; "
                         f"got {X.shape}.")
    if int(max_delay) < 1:
        raise ValueError(f"memory_capacity: max_delay={max_delay!r} must be >= 1.")
    start = max(int(washout), int(max_delay))
    T = X.shape[0]
    idx = np.arange(start, T)
    Y = np.stack([u[idx - k] for k in range(1, max_delay + 1)], axis=1)
    Xs = X[idx]
    ntr = int(train_fraction * len(idx))
    r = Ridge(alpha=alpha).fit(Xs[:ntr], Y[:ntr])
    P = r.predict(Xs[ntr:])
    Yt = Y[ntr:]
    Pc, Yc = P - P.mean(axis=0), Yt - Yt.mean(axis=0)
    mc = (Pc * Yc).sum(axis=0) ** 2 / ((Pc * Pc).sum(axis=0) * (Yc * Yc).sum(axis=0))
    return (float(mc.sum()), mc) if return_per_delay else float(mc.sum())
