"""Benchmark time series: Mackey-Glass and NARMA10."""
import numpy as np


def _mg_step(xt, xtau, a, b, n, h):
    """One step of ReservoirPy 0.4's Mackey-Glass scheme (kept for comparability)."""
    bh = -b * h
    k1 = bh * xt + a * xtau / (1 + xtau ** n)
    k2 = 2 * k1 + bh * k1
    k3 = 2 * k1 + bh * k2
    k4 = k1 + bh * k3
    return xt + (k1 + k2 + k3 + k4) / 6


def mackey_glass(n_timesteps, tau=17, a=0.2, b=0.1, n=10, x0=1.2, h=1.0, seed=0):
    r"""Mackey-Glass delay differential equation, sampled every ``h``.

    .. math::

        \frac{dx}{dt} = \frac{a\,x(t-\tau)}{1 + x(t-\tau)^n} - b\,x(t)

    Discretised exactly as ReservoirPy 0.4.2 does (its ``_mg_rk4`` update,
    the delayed term held fixed over a step), so that the benchmark series is
    the one ReservoirPy's published figures use; the history before t = 0 is
    ``x0 + 0.2 (U[0, 1) - 0.5)`` drawn from ``seed``. Returns
    ``(n_timesteps, 1)`` float64.
    """
    rng = np.random.default_rng(seed)
    hist = int(np.floor(tau / h))
    X = np.empty(hist + n_timesteps)
    X[:hist] = x0 + 0.2 * (rng.random(hist) - 0.5)
    xt = x0
    for i in range(hist, hist + n_timesteps):
        X[i] = xt
        xtau = X[i - hist] if tau > 0 else 0.0
        xt = _mg_step(xt, xtau, a, b, n, h)
    return X[hist:].reshape(-1, 1)


def narma10(n_timesteps, seed=0, max_tries=100):
    r"""NARMA10 task: input ``u ~ U[0, 0.5]`` and target ``y``.

    .. math::

        y_{t+1} = 0.3\,y_t + 0.05\,y_t \sum_{i=0}^{9} y_{t-i} + 1.5\,u_{t-9}u_t + 0.1

    Sequences whose output diverges (non-finite or > 1) are rejected and
    redrawn. Returns ``u, y`` each ``(n_timesteps, 1)``; ``y[t]`` is the target
    the model should output after seeing ``u[:t + 1]``.
    """
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        u = rng.uniform(0.0, 0.5, n_timesteps + 1)
        y = np.zeros(n_timesteps + 1)
        for t in range(9, n_timesteps):
            y[t + 1] = 0.3 * y[t] + 0.05 * y[t] * y[t - 9:t + 1].sum() + 1.5 * u[t - 9] * u[t] + 0.1
        if np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0:
            return u[:-1].reshape(-1, 1), y[1:].reshape(-1, 1)
    raise RuntimeError("narma10: every draw diverged.")
