"""Spike encoders: feature vectors and time series to spike trains, in the input format of ``reservoirs.LSM``.

Every encoder is a scikit-learn transformer. ``fit`` learns the range of each input feature (unless a fixed
``value_range`` is given), ``transform`` returns spike trains in one of two formats chosen by ``output``:

``"times"`` (default)
    a list with one ``(times, channels)`` pair per trial: spike times in ms (float64, on the grid of ``dt``, the
    float nearest ``k·dt`` as the engine stamps them) and channel indices (int64), in time order, channels ascending
    within a step; a channel that fires ``m`` times in one step appears ``m`` times.
``"counts"``
    an int32 array ``(trials, steps, channels)`` of spikes per step.

Both are the input formats of ``reservoirs.LSM``; the spike lists also go straight into
``engine.Simulator.set_spikes`` (one pair per trial of a batch, on the network's ``dt`` grid when ``dt`` is a multiple
of it). :func:`spike_counts` turns either into counts, and each encoder has a ``decode`` that recovers its input
from the spikes (the statistic its tests use).

Randomness (rate and population coding) uses the engine's counter-based streams (:mod:`engine.random`): the spikes of
a trial are a pure function of ``(seed, trial id, its values)``. They do not depend on the batch size, on the other
trials or on the thread count. The trial id of row ``i`` is ``i`` in ``transform``; pass ``trials=`` to
:meth:`~RateEncoder.encode` to encode a large set in chunks with the ids of the whole (the same spikes as one call).
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager
from typing import Union

import numba
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from engine.network.grid import grid_steps, step_times
from engine.build.memory import check_fits
from engine.random import named_seed
from readouts import register, save
from readouts.validation import (Interval, Options, as_float_array, check_array, check_fields, check_finite,
                                 check_fitted, check_n_features, restore_params, validate_params)
from reservoirs.adapters import _kernels as _k

#: Output formats (``output``).
OUTPUTS = ("times", "counts")
#: Rate-coding methods: a Poisson count or a Bernoulli spike per step.
RATE_METHODS = ("poisson", "bernoulli")
#: Latency codes: linear or logarithmic (RC-circuit) time to first spike.
LATENCY_METHODS = ("linear", "log")
#: Largest mean number of spikes per step (``max_rate * dt / 1000``) for each rate method.
MAX_MEAN_PER_STEP = {"poisson": 10.0, "bernoulli": 1.0}
#: Bytes per spike of a spike list while it is made: int64 step and channel, float64 time.
SPIKE_LIST_BYTES = 24
#: Grid points on the scaled range [0, 1] over which :meth:`PopulationEncoder.decode` maximises the likelihood.
DECODE_GRID = 1001

#: Spike trains in either format.
SpikeTrains = Union[list, np.ndarray]

_SEED_MAX = 2**63 - 1


@contextmanager
def _threads(n_jobs):
    """Numba's thread count set to ``n_jobs`` (None: all) for the block, restored afterwards; yields the count."""
    old = numba.get_num_threads()
    n = numba.config.NUMBA_NUM_THREADS if n_jobs is None else min(int(n_jobs), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    try:
        yield n
    finally:
        numba.set_num_threads(old)


def _kernel(name, parallel):
    return _k.KERNELS[name][1 if parallel else 0]


def _pack(n, steps, channels, offsets, dt):
    """The flat (step, channel) arrays split per trial into ``(times_ms, channels)`` pairs."""
    times = step_times(steps, dt)
    return [(times[offsets[i]:offsets[i + 1]], channels[offsets[i]:offsets[i + 1]]) for i in range(n)]


def _two_pass(owner, n, totals_fn, fill_fn, dt):
    """Spike lists from a counting kernel and a filling kernel (see :mod:`reservoirs.adapters._kernels`)."""
    totals = np.zeros(n, dtype=np.int64)
    totals_fn(totals)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(totals, out=offsets[1:])
    total = int(offsets[-1])
    check_fits(SPIKE_LIST_BYTES * total, f"{owner}: {total} spikes",
               "encode fewer trials at a time (encode(X[a:b], trials=...)).")
    out_steps = np.empty(total, dtype=np.int64)
    out_channels = np.empty(total, dtype=np.int64)
    fill_fn(offsets, out_steps, out_channels)
    return _pack(n, out_steps, out_channels, offsets, dt)


def _alloc_counts(owner, n, steps, channels):
    check_fits(4 * n * steps * channels, f"{owner}: a ({n}, {steps}, {channels}) count array",
               "use output='times' or encode fewer trials at a time.")
    return np.zeros((n, steps, channels), dtype=np.int32)


def spike_counts(spikes: SpikeTrains, n_channels: int, n_steps: int, dt: float = 1.0) -> np.ndarray:
    """Spike trains in either format as an int64 count array ``(trials, steps, channels)``.

    Parameters
    ----------
    spikes : list of (times, channels) pairs, or array of shape (trials, steps, channels)
        Spike times in ms (on the grid of ``dt``, in ``[0, n_steps * dt)``) and channel indices, per trial.
    n_channels : int
        Number of channels, >= 1.
    n_steps : int
        Number of steps of the window, >= 1.
    dt : float, default=1.0
        Step (ms), > 0.

    Returns
    -------
    ndarray of int64, shape (trials, n_steps, n_channels)

    Raises
    ------
    ValueError
        A count array of another shape or with negative counts; a pair that is not two equal-length 1-D arrays; a
        time off the grid or outside the window; a channel out of range.

    Examples
    --------
    >>> spike_counts([(np.array([0.0, 2.0, 2.0]), np.array([1, 0, 0]))], n_channels=2, n_steps=3)[0]
    array([[0, 1],
           [0, 0],
           [2, 0]])
    """
    if isinstance(spikes, np.ndarray):
        if spikes.ndim != 3 or spikes.shape[1:] != (n_steps, n_channels):
            raise ValueError(f"spike_counts: a count array must have shape (trials, {n_steps}, {n_channels}); "
                             f"got {spikes.shape}")
        if spikes.dtype.kind not in "iub":
            raise ValueError(f"spike_counts: a count array must hold integers; got dtype {spikes.dtype}")
        if spikes.size and spikes.min() < 0:
            raise ValueError("spike_counts: a count array holds a negative count")
        return spikes.astype(np.int64)
    if not isinstance(spikes, (list, tuple)):
        raise ValueError(f"spike_counts: spikes must be a list of (times, channels) pairs or a (trials, steps, "
                         f"channels) count array; got {type(spikes).__name__}")
    out = np.zeros((len(spikes), n_steps, n_channels), dtype=np.int64)
    for i, pair in enumerate(spikes):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"spike_counts: trial {i} must be a (times, channels) pair; got {type(pair).__name__}")
        t = np.asarray(pair[0], dtype=np.float64).ravel()
        c = np.asarray(pair[1])
        if c.size and c.dtype.kind not in "iu":
            raise ValueError(f"spike_counts: trial {i}: channels must be integers; got dtype {c.dtype}")
        c = c.astype(np.int64).ravel()
        if t.shape != c.shape:
            raise ValueError(f"spike_counts: trial {i}: {t.size} times but {c.size} channels; they must match")
        k = grid_steps("spike_counts", f"trial {i} spike time", t, dt)
        if k.size and (k.min() < 0 or k.max() >= n_steps):
            raise ValueError(f"spike_counts: trial {i} has a spike at {t[(k < 0) | (k >= n_steps)][0]} ms, outside "
                             f"the window [0, {float(step_times(n_steps, dt))}) ms")
        if c.size and (c.min() < 0 or c.max() >= n_channels):
            raise ValueError(f"spike_counts: trial {i} has channel {c[(c < 0) | (c >= n_channels)][0]}; channels lie "
                             f"in [0, {n_channels})")
        np.add.at(out[i], (k, c), 1)
    return out


class _Encoder(TransformerMixin, BaseEstimator):
    """Shared machinery: parameter and input checks, the learned value range, trial ids, threads, save."""

    _ndim = 2  # input dimensions: (trials, features); the delta encoder takes (trials, steps, features)
    _random = False  # True: the encoder draws random numbers (has ``seed``)

    # --- checks ---------------------------------------------------------------------------------------------------
    def _validate(self):
        validate_params(self)
        vr = getattr(self, "value_range", None)
        if vr is not None:
            ok = isinstance(vr, (tuple, list)) and len(vr) == 2 and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in vr)
            if not ok or not vr[0] < vr[1]:
                raise ValueError(f"{type(self).__name__}: parameter value_range={vr!r} is invalid; it must be None "
                                 f"(learned per feature in fit) or a pair (low, high) of finite numbers with "
                                 f"low < high.")
        self._check_params()

    def _check_params(self):
        pass

    def _n_steps(self):
        return int(grid_steps(type(self).__name__, "duration", self.duration, self.dt))

    def _check_X(self, X):
        name = type(self).__name__
        X = as_float_array(X, name)
        if X.ndim != self._ndim:
            want = "(trials, features)" if self._ndim == 2 else "(trials, steps, features)"
            hint = "; for one sample use X[None]" if X.ndim == self._ndim - 1 else ""
            raise ValueError(f"{name}: X must be a {self._ndim}-D array {want}; got shape {X.shape}{hint}.")
        check_finite(name, X)
        return X

    def _trial_ids(self, trials, n):
        name = type(self).__name__
        if trials is None:
            return np.arange(n, dtype=np.int64)
        ids = np.asarray(trials)
        if ids.ndim != 1 or ids.shape[0] != n:
            raise ValueError(f"{name}: trials must be a 1-D array of {n} trial ids, one per row of X; got shape "
                             f"{ids.shape}.")
        if ids.size and ids.dtype.kind not in "iu":
            raise ValueError(f"{name}: trials must hold integer trial ids; got dtype {ids.dtype}.")
        if ids.size and (ids.min() < 0 or ids.max() > _SEED_MAX):
            raise ValueError(f"{name}: trials contains {ids[(ids < 0) | (ids > _SEED_MAX)][0]}; trial ids must "
                             f"lie in [0, 2**63).")
        return ids.astype(np.int64)

    # --- range ----------------------------------------------------------------------------------------------------
    def _fit_range(self, X):
        flat = X.reshape(-1, X.shape[-1])
        if self.value_range is None:
            self.data_min_, self.data_max_ = flat.min(axis=0), flat.max(axis=0)
        else:
            self.data_min_ = np.full(X.shape[-1], float(self.value_range[0]))
            self.data_max_ = np.full(X.shape[-1], float(self.value_range[1]))

    def _scale(self, X):
        """X mapped to [0, 1] per feature (clipped); a feature of zero width maps to 0."""
        width = self.data_max_ - self.data_min_
        safe = np.where(width > 0, width, 1.0)
        return np.where(width > 0, np.clip((X - self.data_min_) / safe, 0.0, 1.0), 0.0)

    def _unscale(self, S):
        return self.data_min_ + S * (self.data_max_ - self.data_min_)

    # --- API ------------------------------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Check the parameters and learn the number of features and (``value_range=None``) each one's range.

        Parameters
        ----------
        X : array-like of shape (trials, features) (the delta encoder: (trials, steps, features))
            Training data, finite.
        y : ignored

        Returns
        -------
        self
        """
        self._validate()
        X = self._check_X(X)
        self.n_features_in_ = X.shape[-1]
        self._fit_range(X)
        if self._random:
            self.seed_ = int(np.random.default_rng().integers(_SEED_MAX)) if self.seed is None else int(self.seed)
        return self

    def transform(self, X) -> SpikeTrains:
        """Spike trains of the rows of ``X`` (trial ids ``0 .. len(X) - 1``); see :meth:`encode`."""
        return self.encode(X)

    def encode(self, X, trials=None) -> SpikeTrains:
        """Spike trains of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (trials, features) (the delta encoder: (trials, steps, features))
            Finite values; the number of features seen in ``fit``.
        trials : array-like of int, shape (trials,), optional
            Trial id of each row, in ``[0, 2**63)``, which keys its random stream; default ``0 .. len(X) - 1``.
            Encoding ``X[a:b]`` with ``trials=range(a, b)`` gives the same spikes as rows ``a:b`` of one call.

        Returns
        -------
        list of (times, channels) pairs or ndarray of int32, shape (trials, steps, channels)
            As ``output`` says (see the module docstring).
        """
        check_fitted(self, "n_features_in_")
        self._validate()
        X = self._check_X(X)
        check_n_features(type(self).__name__, X.shape[-1], self.n_features_in_)
        ids = self._trial_ids(trials, X.shape[0])
        return self._encode(X, ids)

    @property
    def n_channels_(self) -> int:
        """Number of output channels."""
        check_fitted(self, "n_features_in_")
        return self._n_channels()

    def _n_channels(self):
        return self.n_features_in_

    def save(self, path):
        """Save the parameters and the learned range to ``.npz`` or ``.h5`` (``readouts.load`` reads it back)."""
        save(path, self)

    def _get_state(self):
        params = self.get_params()
        arrays = {}
        if hasattr(self, "n_features_in_"):
            arrays = {"data_min_": self.data_min_, "data_max_": self.data_max_,
                      "n_features_in_": np.array(self.n_features_in_, dtype=np.int64)}
            if self._random:
                arrays["seed_"] = np.array(self.seed_, dtype=np.int64)
        return params, arrays

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params)
        est._validate()
        if arrays:
            name = cls.__name__
            fields = ["data_min_", "data_max_", "n_features_in_"] + (["seed_"] if cls._random else [])
            check_fields(name, arrays, fields)
            n = int(check_array(name, "n_features_in_", arrays["n_features_in_"], kind="i", shape=()))
            if n < 1:
                raise ValueError(f"{name}: n_features_in_ must be >= 1; got {n}.")
            lo = check_array(name, "data_min_", arrays["data_min_"], shape=(n,))
            hi = check_array(name, "data_max_", arrays["data_max_"], shape=(n,))
            if np.any(hi < lo):
                raise ValueError(f"{name}: data_max_ must be >= data_min_ for every feature.")
            est.n_features_in_, est.data_min_, est.data_max_ = n, lo, hi
            if cls._random:
                seed = int(check_array(name, "seed_", arrays["seed_"], kind="i", shape=()))
                if seed < 0:
                    raise ValueError(f"{name}: seed_ must be >= 0; got {seed}.")
                est.seed_ = seed
        return est


class _RateBased(_Encoder):
    """Spikes drawn per step from per-channel rates (Poisson counts or Bernoulli spikes)."""

    _random = True

    def _check_params(self):
        lam = self.max_rate * self.dt / 1000.0
        if lam > MAX_MEAN_PER_STEP[self.method]:
            raise ValueError(f"{type(self).__name__}: max_rate * dt = {self.max_rate} Hz * {self.dt} ms gives "
                             f"{lam:g} spikes per step at most; method={self.method!r} allows at most "
                             f"{MAX_MEAN_PER_STEP[self.method]:g} (lower max_rate or dt).")
        self._n_steps()

    def _spikes(self, rates, ids):
        """Spike trains of per-trial, per-channel ``rates`` (Hz, shape (trials, channels))."""
        name = type(self).__name__
        n, n_ch = rates.shape
        steps = self._n_steps()
        lam = np.ascontiguousarray(rates * (self.dt / 1000.0), dtype=np.float64)
        emlam = np.exp(-lam)
        poisson = self.method == "poisson"
        seed = named_seed(self.seed_, f"reservoirs.adapters.{name}")
        if self.output == "times":  # the mean number of spikes, before the kernels spend minutes counting them
            expected = steps * float(lam.sum())
            check_fits(SPIKE_LIST_BYTES * expected, f"{name}: about {expected:.3g} spikes (the mean)",
                       "encode fewer trials at a time (encode(X[a:b], trials=...)), or lower max_rate or duration.")
        with _threads(self.n_jobs) as nt:
            par = nt > 1 and n > 1
            if self.output == "counts":
                out = _alloc_counts(name, n, steps, n_ch)
                _kernel("rate_counts", par)(lam, emlam, ids, seed, steps, poisson, out)
                return out
            return _two_pass(
                name, n, lambda tot: _kernel("rate_totals", par)(lam, emlam, ids, seed, steps, poisson, tot),
                lambda off, s, c: _kernel("rate_fill", par)(lam, emlam, ids, seed, steps, poisson, off, s, c),
                self.dt)

    def _rates_from_spikes(self, spikes):
        """Mean rate (Hz) per trial and channel over the window."""
        steps = self._n_steps()
        counts = spike_counts(spikes, self._n_channels(), steps, self.dt)
        return counts.sum(axis=1) * (1000.0 / (steps * self.dt))


@register
class RateEncoder(_RateBased):
    r"""Rate coding: each feature drives one channel at a rate proportional to its value.

    .. math::

        r_j = r_{max}\,\tilde x_j, \qquad \tilde x_j = \mathrm{clip}\!\left(\frac{x_j - a_j}{b_j - a_j}, 0, 1\right),

    where :math:`[a_j, b_j]` is feature :math:`j`'s range (learned in ``fit`` or ``value_range``). In every step of
    length :math:`\Delta t` channel :math:`j` fires a Poisson number of spikes with mean
    :math:`\lambda_j = r_j \Delta t / 1000` (``method="poisson"``) or one spike with probability :math:`\lambda_j`
    (``method="bernoulli"``), one uniform draw of the engine's counter-based stream per step either way.

    Parameters
    ----------
    max_rate : float, default=100.0
        Rate (Hz) at the top of the range, > 0; ``max_rate * dt / 1000`` must not exceed 1 (Bernoulli) or 10
        (Poisson).
    duration : float, default=100.0
        Length (ms) of each trial's spike train, a multiple of ``dt``, > 0.
    dt : float, default=1.0
        Step (ms), > 0: the LSM's ``dt`` or a multiple of it.
    method : {'poisson', 'bernoulli'}, default='poisson'
    value_range : (float, float) or None, default=None
        Fixed input range ``(low, high)``; None learns each feature's min and max in ``fit``. Values outside are
        clipped; a feature of zero width never fires.
    output : {'times', 'counts'}, default='times'
        Spike lists per trial or a ``(trials, steps, channels)`` count array (see the module docstring).
    seed : int or None, default=None
        Seed of the random streams, in ``[0, 2**63)``; None draws one in ``fit`` (kept as ``seed_``).
    n_jobs : int or None, default=None
        Threads (trials run in parallel); None uses all of Numba's. The spikes do not depend on it.

    Attributes
    ----------
    n_features_in_ : int
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        The input range mapped to ``[0, max_rate]``.
    seed_ : int
        The seed used.

    See Also
    --------
    PopulationEncoder : several channels per feature with Gaussian tuning.
    LatencyEncoder : one spike per channel, earlier for larger values.

    Notes
    -----
    :meth:`decode` inverts the code with the rate estimate :math:`\hat r_j = N_j / T` (spike count over the
    duration); its standard deviation is :math:`\sqrt{r_j / T}` for Poisson spikes.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.5, 1.0]])
    >>> enc = RateEncoder(max_rate=200.0, duration=1000.0, value_range=(0, 1), seed=0).fit(X)
    >>> times, channels = enc.transform(X)[0]
    >>> np.bincount(channels, minlength=3)          # about 0, 100 and 200 spikes in 1 s
    array([  0,  99, 192])
    >>> np.round(enc.decode(enc.transform(X)), 2)
    array([[0.  , 0.5 , 0.96]])
    """

    _parameter_constraints = {
        "max_rate": [Interval("real", 0, None, closed="neither")],
        "duration": [Interval("real", 0, None, closed="neither")],
        "dt": [Interval("real", 0, None, closed="neither")],
        "method": [Options(*RATE_METHODS)],
        "value_range": [None, tuple, list],
        "output": [Options(*OUTPUTS)],
        "seed": [None, Interval("int", 0, _SEED_MAX)],
        "n_jobs": [None, Interval("int", 1, None)],
    }

    def __init__(self, max_rate: float = 100.0, duration: float = 100.0, dt: float = 1.0, method: str = "poisson",
                 value_range=None, output: str = "times", seed: int | None = None, n_jobs: int | None = None):
        self.max_rate = max_rate
        self.duration = duration
        self.dt = dt
        self.method = method
        self.value_range = value_range
        self.output = output
        self.seed = seed
        self.n_jobs = n_jobs

    def _encode(self, X, ids):
        return self._spikes(self.max_rate * self._scale(X), ids)

    def decode(self, spikes: SpikeTrains) -> np.ndarray:
        """Values recovered from the spike counts: ``a + (b - a) * min(N / (T * max_rate), 1)``.

        Parameters
        ----------
        spikes : list of (times, channels) pairs or count array (trials, steps, channels)
            Output of :meth:`transform` (either format).

        Returns
        -------
        ndarray of shape (trials, n_features_in_)
        """
        check_fitted(self, "n_features_in_")
        return self._unscale(np.clip(self._rates_from_spikes(spikes) / self.max_rate, 0.0, 1.0))


@register
class PopulationEncoder(_RateBased):
    r"""Population coding with Gaussian receptive fields: each feature drives ``n_neurons`` channels with tuning
    curves tiled over its range.

    .. math::

        r_{jq} = r_{max} \exp\!\left(-\frac{(\tilde x_j - c_q)^2}{2\sigma^2}\right), \qquad
        c_q = \frac{q}{m - 1}, \quad \sigma = \frac{w}{m - 1}, \quad q = 0 \dots m - 1,

    with :math:`\tilde x_j` the feature scaled to [0, 1] (as in :class:`RateEncoder`), :math:`m` = ``n_neurons`` and
    :math:`w` = ``width``. Channel ``j * n_neurons + q`` carries :math:`r_{jq}`; spikes are drawn per step as in
    :class:`RateEncoder` (Poisson or Bernoulli, the engine's counter-based streams).

    Parameters
    ----------
    n_neurons : int, default=8
        Channels per feature, >= 2.
    width : float, default=1.0
        Tuning width :math:`w` in units of the spacing of the centres, > 0.
    max_rate : float, default=100.0
        Peak rate (Hz), > 0; ``max_rate * dt / 1000`` at most 1 (Bernoulli) or 10 (Poisson).
    duration : float, default=100.0
        Length (ms) of each trial, a multiple of ``dt``, > 0.
    dt : float, default=1.0
        Step (ms), > 0.
    method : {'poisson', 'bernoulli'}, default='poisson'
    value_range : (float, float) or None, default=None
        Fixed input range; None learns each feature's min and max in ``fit``.
    output : {'times', 'counts'}, default='times'
    seed : int or None, default=None
        Seed of the random streams, in ``[0, 2**63)``; None draws one in ``fit``.
    n_jobs : int or None, default=None
        Threads; the spikes do not depend on it.

    Attributes
    ----------
    n_features_in_ : int
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
    seed_ : int
    centers_ : ndarray of shape (n_neurons,)
        Tuning-curve centres :math:`c_q` on the scaled range [0, 1].

    Notes
    -----
    :meth:`decode` is the maximum-likelihood estimate under Poisson spiking: for each feature it maximises
    :math:`\sum_q N_q \log r_q(\tilde x) - T \sum_q r_q(\tilde x)` over ``DECODE_GRID`` points of [0, 1].

    References
    ----------
    Bohte, Kok & La Poutré (2002), Error-backpropagation in temporally encoded networks of spiking neurons,
    Neurocomputing 48, 17-37 (Gaussian receptive fields).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.2], [0.7]])
    >>> enc = PopulationEncoder(n_neurons=6, duration=500.0, value_range=(0, 1), seed=0).fit(X)
    >>> np.round(enc.decode(enc.transform(X)), 2)
    array([[0.23],
           [0.7 ]])
    """

    _parameter_constraints = {
        "n_neurons": [Interval("int", 2, None)],
        "width": [Interval("real", 0, None, closed="neither")],
        **RateEncoder._parameter_constraints,
    }

    def __init__(self, n_neurons: int = 8, width: float = 1.0, max_rate: float = 100.0, duration: float = 100.0,
                 dt: float = 1.0, method: str = "poisson", value_range=None, output: str = "times",
                 seed: int | None = None, n_jobs: int | None = None):
        self.n_neurons = n_neurons
        self.width = width
        self.max_rate = max_rate
        self.duration = duration
        self.dt = dt
        self.method = method
        self.value_range = value_range
        self.output = output
        self.seed = seed
        self.n_jobs = n_jobs

    @property
    def centers_(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.n_neurons)

    def _n_channels(self):
        return self.n_features_in_ * self.n_neurons

    def _tuning(self, S):
        """Rates (Hz) of every channel for scaled values ``S`` of any shape: shape ``S.shape + (n_neurons,)``."""
        sigma = self.width / (self.n_neurons - 1)
        return self.max_rate * np.exp(-0.5 * ((S[..., None] - self.centers_) / sigma) ** 2)

    def _encode(self, X, ids):
        rates = self._tuning(self._scale(X)).reshape(X.shape[0], -1)
        return self._spikes(rates, ids)

    def decode(self, spikes: SpikeTrains) -> np.ndarray:
        """Maximum-likelihood values from the spike counts of each feature's channels (see Notes).

        Parameters
        ----------
        spikes : list of (times, channels) pairs or count array (trials, steps, channels)

        Returns
        -------
        ndarray of shape (trials, n_features_in_)
        """
        check_fitted(self, "n_features_in_")
        steps = self._n_steps()
        T = steps * self.dt / 1000.0  # s
        counts = spike_counts(spikes, self._n_channels(), steps, self.dt).sum(axis=1)
        counts = counts.reshape(counts.shape[0], self.n_features_in_, self.n_neurons).astype(np.float64)
        grid = np.linspace(0.0, 1.0, DECODE_GRID)
        rates = self._tuning(grid)  # (G, m)
        loglik_w = np.log(np.maximum(rates, 1e-300)).T  # (m, G)
        penalty = T * rates.sum(axis=1)  # (G,)
        S = np.empty(counts.shape[:2])
        for a in range(0, counts.shape[0], 256):  # chunks bound the (chunk, d, G) likelihood table
            ll = counts[a:a + 256] @ loglik_w - penalty
            S[a:a + 256] = grid[np.argmax(ll, axis=-1)]
        return self._unscale(S)


@register
class LatencyEncoder(_Encoder):
    r"""Latency (time-to-first-spike) coding: each feature fires one spike, earlier for larger values.

    With :math:`\tilde x` the feature scaled to [0, 1] (as in :class:`RateEncoder`), :math:`\theta` = ``threshold``,
    :math:`K` = ``duration / dt`` steps and :math:`\tau` = ``tau``:

    .. math::

        \text{linear:}\quad k = \mathrm{round}\!\left(\frac{1 - \tilde x}{1 - \theta}\,(K - 1)\right), \qquad
        \text{log:}\quad k = \mathrm{round}\!\left(\frac{\tau}{\Delta t}
        \ln\frac{\tilde x}{\tilde x - \theta}\right),

    the spike's step; a feature with :math:`\tilde x \le \theta` does not fire, nor does one whose logarithmic
    latency falls outside the window. The logarithmic code is the time an RC circuit driven by a constant current
    :math:`\tilde x` takes to reach the threshold :math:`\theta` (snnTorch's ``latency(log=True)``): large values
    crowd at the start, small values spread out. Deterministic: no random numbers.

    Parameters
    ----------
    duration : float, default=100.0
        Window (ms), a multiple of ``dt``, at least two steps.
    dt : float, default=1.0
        Step (ms), > 0.
    method : {'linear', 'log'}, default='linear'
    tau : float, default=20.0
        Time constant (ms) of the logarithmic code, > 0 (unused by 'linear').
    threshold : float, default=0.01
        Scaled value :math:`\theta` at or below which a feature does not fire, in [0, 1) ('log': in (0, 1)).
    value_range : (float, float) or None, default=None
        Fixed input range; None learns each feature's min and max in ``fit``.
    output : {'times', 'counts'}, default='times'

    Attributes
    ----------
    n_features_in_ : int
    data_min_, data_max_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    :meth:`decode` inverts the latency of each channel's first spike: the linear code to within half a step,
    :math:`(1 - \theta) / (2 (K - 1))` of the scaled range; the logarithmic code through
    :math:`\tilde x = \theta / (1 - e^{-t/\tau})` (a spike at step 0 decodes as the top of the range). Silent
    channels decode as the bottom of the range.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.5, 1.0]])
    >>> enc = LatencyEncoder(duration=11.0, threshold=0.0, value_range=(0, 1)).fit(X)
    >>> enc.transform(X)[0]
    (array([0., 5.]), array([2, 1]))
    >>> enc.decode(enc.transform(X))
    array([[0. , 0.5, 1. ]])
    """

    _parameter_constraints = {
        "duration": [Interval("real", 0, None, closed="neither")],
        "dt": [Interval("real", 0, None, closed="neither")],
        "method": [Options(*LATENCY_METHODS)],
        "tau": [Interval("real", 0, None, closed="neither")],
        "threshold": [Interval("real", 0, 1, closed="left")],
        "value_range": [None, tuple, list],
        "output": [Options(*OUTPUTS)],
    }

    def __init__(self, duration: float = 100.0, dt: float = 1.0, method: str = "linear", tau: float = 20.0,
                 threshold: float = 0.01, value_range=None, output: str = "times"):
        self.duration = duration
        self.dt = dt
        self.method = method
        self.tau = tau
        self.threshold = threshold
        self.value_range = value_range
        self.output = output

    def _check_params(self):
        name = type(self).__name__
        if self._n_steps() < 2:
            raise ValueError(f"{name}: duration={self.duration} ms is {self._n_steps()} step(s) of dt={self.dt} ms; "
                             f"a latency code needs at least 2 steps.")
        if self.method == "log" and self.threshold <= 0:
            raise ValueError(f"{name}: threshold={self.threshold} with method='log'; the logarithmic code needs a "
                             f"threshold in (0, 1).")

    def _latency_steps(self, S):
        """Spike step of each scaled value (-1: no spike)."""
        K = self._n_steps()
        th = self.threshold
        fire = S > th
        Sf = np.where(fire, S, 1.0)
        if self.method == "linear":
            k = np.rint((1.0 - Sf) / (1.0 - th) * (K - 1))
        else:
            with np.errstate(divide="ignore"):
                k = np.rint(self.tau / self.dt * np.log(Sf / (Sf - th)))
            fire &= k < K
        return np.where(fire, k, -1).astype(np.int64)

    def _encode(self, X, ids):
        name = type(self).__name__
        n, d = X.shape
        k = self._latency_steps(self._scale(X))
        trial, chan = np.nonzero(k >= 0)
        steps = k[trial, chan]
        if self.output == "counts":
            out = _alloc_counts(name, n, self._n_steps(), d)
            out[trial, steps, chan] = 1
            return out
        order = np.lexsort((chan, steps, trial))
        offsets = np.searchsorted(trial[order], np.arange(n + 1))
        return _pack(n, steps[order], chan[order].astype(np.int64), offsets, self.dt)

    def decode(self, spikes: SpikeTrains) -> np.ndarray:
        """Values recovered from each channel's first spike (see Notes).

        Parameters
        ----------
        spikes : list of (times, channels) pairs or count array (trials, steps, channels)

        Returns
        -------
        ndarray of shape (trials, n_features_in_)
        """
        check_fitted(self, "n_features_in_")
        K = self._n_steps()
        counts = spike_counts(spikes, self.n_features_in_, K, self.dt)
        fired = counts.any(axis=1)
        k = np.argmax(counts > 0, axis=1).astype(np.float64)
        th = self.threshold
        if self.method == "linear":
            S = 1.0 - k / (K - 1) * (1.0 - th)
        else:
            with np.errstate(divide="ignore"):
                S = np.minimum(th / -np.expm1(-k * self.dt / self.tau), 1.0)
        return self._unscale(np.where(fired, S, 0.0))


@register
class DeltaEncoder(_Encoder):
    r"""Send-on-delta coding of time series with ON and OFF channels.

    Each feature keeps a reference level :math:`r_j = x_j(0) + \delta\,n_j`, where :math:`n_j` (starting at 0) is
    the number of ON minus OFF spikes so far. At every step :math:`t \ge 1`, while :math:`x_j(t) - r_j \ge \delta`
    channel :math:`j` (ON) fires and :math:`n_j` grows by one; while :math:`r_j - x_j(t) \ge \delta` channel
    :math:`d + j` (OFF) fires and :math:`n_j` falls by one. With :math:`q = (x_j(t) - x_j(0)) / \delta` that is
    :math:`\lfloor q \rfloor - n_j` ON spikes when :math:`q \ge n_j + 1` and :math:`n_j - \lceil q \rceil` OFF spikes
    when :math:`q \le n_j - 1`, counted at once (the work per sample does not grow with the jump, and a threshold
    below the float spacing of the signal, which a float reference could not move by, gives the right count). So

    .. math::

        \hat x_j(t) = x_j(0) + \delta \left(N^{ON}_j(t) - N^{OFF}_j(t)\right), \qquad |x_j(t) - \hat x_j(t)| < \delta,

    with :math:`N(t)` the spikes up to step :math:`t`. A jump of several :math:`\delta` fires several spikes in one
    step. Sample :math:`t` of the input is step :math:`t` of the output (time :math:`t \cdot \Delta t`).
    Deterministic: no random numbers.

    Parameters
    ----------
    threshold : float, default=0.1
        :math:`\delta`, in the input's units, > 0. ``transform`` refuses (ValueError) a threshold so small that a
        feature moves 2**53 thresholds or more from its first sample (spike counts are no longer exact there), and
        with ``output='counts'`` one that puts 2**31 or more spikes in one step of a channel (the int32 array).
    dt : float, default=1.0
        Time (ms) between samples, > 0.
    output : {'times', 'counts'}, default='times'
    n_jobs : int or None, default=None
        Threads (trials run in parallel); None uses all of Numba's. The spikes do not depend on it.

    Attributes
    ----------
    n_features_in_ : int
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        Range of each feature in the training data (for reference; the code uses ``threshold`` only).

    Notes
    -----
    Input is ``(trials, steps, features)``; output has ``2 * features`` channels (ON ``0 .. d-1``, OFF
    ``d .. 2d-1``) over ``steps * dt`` ms. :meth:`decode` is the reconstruction above; it needs the first sample.

    References
    ----------
    Miskowicz (2006), Send-on-delta concept: an event-based data reporting strategy, Sensors 6, 49-63.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[[0.0], [0.25], [0.1], [0.1]]])
    >>> enc = DeltaEncoder(threshold=0.1).fit(X)
    >>> enc.transform(X)[0]
    (array([1., 1., 2.]), array([0, 0, 1]))
    >>> enc.decode(enc.transform(X), X[:, 0], n_steps=4)[0, :, 0]
    array([0. , 0.2, 0.1, 0.1])
    """

    _ndim = 3
    _parameter_constraints = {
        "threshold": [Interval("real", 0, None, closed="neither")],
        "dt": [Interval("real", 0, None, closed="neither")],
        "output": [Options(*OUTPUTS)],
        "n_jobs": [None, Interval("int", 1, None)],
    }

    def __init__(self, threshold: float = 0.1, dt: float = 1.0, output: str = "times", n_jobs: int | None = None):
        self.threshold = threshold
        self.dt = dt
        self.output = output
        self.n_jobs = n_jobs

    value_range = None  # the range is only recorded

    def _n_channels(self):
        return 2 * self.n_features_in_

    def _check_thresholds(self, X):
        """ValueError when a feature moves 2**53 thresholds or more from its first sample, or (counts output) a
        channel would fire 2**31 or more spikes in one step; run in blocks of trials, before any kernel."""
        th = float(self.threshold)
        n, steps, d = X.shape
        block = max(1, (1 << 22) // max(1, steps * d))
        worst = worst_step = 0.0
        for a in range(0, n, block):
            with np.errstate(over="ignore", invalid="ignore"):
                q = (X[a:a + block] - X[a:a + block, :1]) / th  # what the kernel computes
            worst = max(worst, float(np.max(np.abs(q))))
            if steps > 1:
                worst_step = max(worst_step, float(np.max(np.abs(np.diff(q, axis=1)))))
        if not worst < 2.0**53:
            raise ValueError(f"{type(self).__name__}: threshold={self.threshold!r} is too small for X: a feature moves "
                             f"{worst:.3g} thresholds from its first sample, and spike counts are exact only below "
                             f"2**53 (about 9e15) thresholds; use a larger threshold or rescale X.")
        if self.output == "counts" and not worst_step + 1.0 < 2.0**31:
            raise ValueError(f"{type(self).__name__}: threshold={self.threshold!r} with output='counts' puts up to "
                             f"{worst_step + 1:.3g} spikes in one step of a channel, more than the int32 count array "
                             f"holds (2**31 - 1); use a larger threshold or output='times'.")

    def _encode(self, X, ids):
        name = type(self).__name__
        n, steps, d = X.shape
        X = np.ascontiguousarray(X)
        self._check_thresholds(X)
        th = float(self.threshold)
        with _threads(self.n_jobs) as nt:
            par = nt > 1 and n > 1
            if self.output == "counts":
                out = _alloc_counts(name, n, steps, 2 * d)
                _kernel("delta_counts", par)(X, th, out)
                return out
            return _two_pass(name, n, lambda tot: _kernel("delta_totals", par)(X, th, tot),
                             lambda off, s, c: _kernel("delta_fill", par)(X, th, off, s, c), self.dt)

    def decode(self, spikes: SpikeTrains, x0, n_steps: int | None = None) -> np.ndarray:
        """The reconstruction :math:`x(0) + \\delta (N^{ON}(t) - N^{OFF}(t))`.

        Parameters
        ----------
        spikes : list of (times, channels) pairs or count array (trials, steps, 2 * features)
        x0 : array-like of shape (trials, features)
            The first sample of each series.
        n_steps : int, optional
            Steps to reconstruct; a count array gives it, spike lists need it unless the last spike ends the series
            (default for lists: one past the last spike).

        Returns
        -------
        ndarray of shape (trials, steps, n_features_in_)
        """
        check_fitted(self, "n_features_in_")
        name = type(self).__name__
        x0 = as_float_array(x0, name, "x0")
        d = self.n_features_in_
        if x0.ndim != 2 or x0.shape[1] != d:
            raise ValueError(f"{name}: x0 must have shape (trials, {d}); got {x0.shape}.")
        if n_steps is None:
            if isinstance(spikes, np.ndarray):
                n_steps = spikes.shape[1] if spikes.ndim == 3 else 1
            else:
                last = max((float(np.max(t)) for t, _ in spikes if len(t)), default=0.0)
                n_steps = int(round(last / self.dt)) + 1
        counts = spike_counts(spikes, 2 * d, n_steps, self.dt)
        if counts.shape[0] != x0.shape[0]:
            raise ValueError(f"{name}: spikes hold {counts.shape[0]} trials but x0 has {x0.shape[0]} rows.")
        net = np.cumsum(counts[:, :, :d] - counts[:, :, d:], axis=1)
        return x0[:, None, :] + self.threshold * net
