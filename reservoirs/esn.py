"""Echo state network: leaky tanh units with a batched Numba time loop."""

import sys

import numba
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackNoConvergence, eigs
from sklearn.base import BaseEstimator, TransformerMixin
from tqdm.auto import tqdm

from engine.build.memory import check_fits
from engine.progress import interactive
from readouts.io import register, save
from readouts.validation import (ArrayLike, Interval, Options, as_float_array, check_array, check_fields,
                                 check_finite, check_fitted, check_n_features, check_param, restore_params,
                                 validate_params)
from reservoirs.kernels import esn as _k

#: Activation name -> kernel code (looked up once in Python).
ACTIVATIONS = {"tanh": _k.ACT_TANH, "identity": _k.ACT_IDENTITY}
#: From this many units, one sequence is split by rows over the threads (one parallel region per step costs about
#: a microsecond, which smaller reservoirs do not earn back).
_ROWS_PARALLEL_MIN_UNITS = 256

#: At or below this many units "auto" uses the dense layout (the vectorised sliced ELL wins at all sizes measured).
DENSE_MAX_UNITS = 0
#: Rows per slice of the sliced-ELL layout.
ELL_SLICE = _k.SLICE

#: Spectral-radius methods (``sr_method``). Above this many units "auto" uses "power" instead of "arpack".
SR_METHODS = ("auto", "arpack", "power")
SR_EXACT_MAX_UNITS = 2000
#: Power iteration: steps discarded while the start vector aligns, then steps whose growth rate is averaged.
POWER_BURN_IN, POWER_STEPS = 100, 200
#: Stated accuracy of "power" on the i.i.d. random W that the ESN draws: relative error to ARPACK's radius.
POWER_RTOL = 0.02
#: Peak bytes per recurrent weight while W is drawn, scaled and converted to the kernel layout (positions,
#: rows and values while drawing, CSR, sliced ELL); measured about 50, kept with a margin.
SETUP_BYTES_PER_WEIGHT = 64
#: Setup shows a progress bar (stderr is a terminal) once it has taken this many seconds.
PROGRESS_DELAY_S = 2.0

#: Constructor parameters holding user matrices: stored as learned arrays in a saved file, not as parameters.
_USER_MATRICES = ("W", "W_in", "bias", "W_fb")
#: Arrays in a saved file (all or none).
_STATE_ARRAYS = ("W_data", "W_indices", "W_indptr", "W_shape", "W_in_", "bias_", "W_fb_", "spectral_radius_")


def _bernoulli_positions(n_rows, n_cols, density, rng):
    """Flat positions of a Bernoulli(density) mask, sorted, without an n_rows*n_cols array."""
    total = n_rows * n_cols
    if density >= 1.0:
        return np.arange(total, dtype=np.int64)
    parts, last = [], -1
    while True:
        span = total - last
        # A gap of at least ``span`` ends the mask, so gaps are capped there: the running sum then passes ``span``
        # (< 2**62) before it could wrap around int64. Uncapped, a tiny density (1e-300: gaps of 2**63 - 1)
        # wrapped to negative positions and the loop never ended.
        steps = np.cumsum(np.minimum(rng.geometric(density, size=int(density * span * 1.05) + 64), span))
        end = np.flatnonzero(steps >= span)
        if end.size:
            pos = last + steps[:end[0]]
            parts.append(pos)
            break
        parts.append(last + steps)
        last = last + int(steps[-1])
    return np.concatenate(parts)


def random_sparse(n_rows, n_cols, density, rng, dist="normal", scale=1.0):
    """Random CSR matrix: each entry present with probability ``density``.

    Values are ``scale * N(0, 1)`` (``dist='normal'``), ``scale * U[-1, 1]``
    (``'uniform'``) or ``±scale`` with equal probability (``'bernoulli'``).
    """
    pos = _bernoulli_positions(n_rows, n_cols, density, rng)
    rows = pos // n_cols
    cols = (pos % n_cols).astype(np.int32)
    if dist == "normal":
        vals = rng.standard_normal(pos.size)
    elif dist == "uniform":
        vals = rng.uniform(-1.0, 1.0, pos.size)
    else:
        vals = np.where(rng.random(pos.size) < 0.5, -1.0, 1.0)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return sp.csr_matrix((scale * vals, cols, indptr), shape=(n_rows, n_cols))


def spectral_radius(W, tol=None, method="arpack", progress=False):
    r"""Largest eigenvalue modulus :math:`\rho(W)` of ``W`` (dense or sparse).

    Parameters
    ----------
    W : ndarray or sparse matrix (n, n)
    tol : float, optional
        'arpack' only: relative accuracy asked of ARPACK (default 1e-10 up to
        2000 units, 1e-3 above).
    method : {'arpack', 'power'}, default='arpack'
        'arpack': exact. Up to 500 units a dense eigensolver, above that the
        implicitly restarted Arnoldi method (``scipy.sparse.linalg.eigs``)
        with a wide Krylov space; minutes for 10^5 units and more.
        'power': the growth rate of power iteration,
        :math:`\exp\big(\frac{1}{K}\sum_{k=B}^{B+K-1}\log\lVert W v_k\rVert\big)`
        with :math:`v_{k+1} = W v_k / \lVert W v_k\rVert`, B = ``POWER_BURN_IN``,
        K = ``POWER_STEPS`` (300 sparse products in all, about a second for
        10^6 weights). For the i.i.d. random W an ESN draws it is within
        ``POWER_RTOL`` (2 %) of the exact radius (0.2-0.8 % measured for
        1,000-20,000 units; it tends to fall slightly below, as the circular
        law's :math:`\sqrt{N c}\,\sigma` does). Not an exact method: a
        matrix whose largest eigenvalues are nearly tied in modulus with a
        non-normal structure can converge more slowly.
    progress : bool, default=False
        'power' only: show a tqdm bar once it has run ``PROGRESS_DELAY_S`` seconds.

    Returns
    -------
    float
    """
    if method not in ("arpack", "power"):
        raise ValueError(f"spectral_radius: method={method!r} is invalid; it must be 'arpack' or 'power'.")
    n = W.shape[0]
    if method == "power":
        return _radius_power(sp.csr_matrix(W), progress) if n else 0.0
    if n <= 500:
        A = W.toarray() if sp.issparse(W) else np.asarray(W)
        return float(np.max(np.abs(np.linalg.eigvals(A)))) if n else 0.0
    if tol is None:
        tol = 1e-10 if n <= 2000 else 1e-3
    ncv = min(n - 1, 100)
    try:
        ev = eigs(sp.csr_matrix(W), k=1, which="LM", ncv=ncv, tol=tol, maxiter=20 * n,
                  return_eigenvectors=False, v0=np.ones(n, dtype=np.float64))
    except ArpackNoConvergence as e:  # keep what converged, else retry with a looser tolerance
        if len(e.eigenvalues):
            ev = e.eigenvalues
        elif tol < 1e-2:
            return spectral_radius(W, tol=1e-2)
        else:
            raise
    return float(np.max(np.abs(ev)))


def _radius_power(W, progress):
    """Growth rate of power iteration (see :func:`spectral_radius`); 0 when ``W^k v`` vanishes."""
    v = np.random.default_rng(0).standard_normal(W.shape[0])
    v /= np.linalg.norm(v)
    log_growth = 0.0
    steps = tqdm(range(POWER_BURN_IN + POWER_STEPS), desc="ESN spectral radius (power)", unit="step",
                 delay=PROGRESS_DELAY_S, disable=not progress, file=sys.stderr, leave=False)
    for k in steps:
        v = W @ v
        norm = np.linalg.norm(v)
        if norm == 0.0:
            return 0.0
        if k >= POWER_BURN_IN:
            log_growth += np.log(norm)
        v /= norm
    return float(np.exp(log_growth / POWER_STEPS))


def _check_setup_memory(name, N, D, F, connectivity):
    """Refuse (MemoryError, with the figures) a random reservoir whose setup would not fit in memory."""
    weights = float(N) * N * connectivity
    need = weights * SETUP_BYTES_PER_WEIGHT + 8.0 * N * (3 * (D + F) + 16)
    check_fits(int(need), f"{name}: units={N} at connectivity={connectivity} (about {weights:.3g} recurrent "
                          f"weights)", "reduce units or connectivity")


def _checked_csr(name, data, indices, indptr, shape, fields):
    """A square CSR matrix from its parts, after checking dtypes, lengths, index ranges and finiteness.

    ``fields`` names the four parts (data, indices, indptr, shape) in error messages.
    """
    f_data, f_indices, f_indptr, f_shape = fields
    shape = tuple(int(v) for v in shape)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"{name}: W must be square; got shape {shape} ({f_shape}).")
    n = shape[0]
    if not 1 <= n < 2**31:
        raise ValueError(f"{name}: {f_shape}={shape} is invalid; W needs between 1 and 2**31 - 1 units.")
    data = check_array(name, f_data, data, shape=(None,))
    indices = check_array(name, f_indices, indices, kind="i", shape=(data.shape[0],))
    indptr = check_array(name, f_indptr, indptr, kind="i", shape=(n + 1,))
    if indptr[0] != 0 or indptr[-1] != data.shape[0] or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{name}: {f_indptr} must rise from 0 to the number of weights ({data.shape[0]}) "
                         f"without falling; got {indptr[0]} .. {indptr[-1]}.")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{name}: {f_indices} must lie in [0, {n - 1}]; got values from {indices.min()} to "
                         f"{indices.max()}.")
    W = sp.csr_matrix((data, indices.astype(np.int32), indptr), shape=shape)
    W.sort_indices()
    return W


def _as_sequences(X, n_features=None, name="ESN", what="X"):
    """Return (list of 2-D float64 arrays, kind) with kind in {'2d', '3d', 'list'}."""
    if isinstance(X, (list, tuple)) and len(X) and np.ndim(X[0]) == 2:
        seqs = [np.ascontiguousarray(as_float_array(x, name, what)) for x in X]
        kind = "list"
    else:
        X = as_float_array(X, name, what)
        if X.ndim == 2:
            seqs, kind = [np.ascontiguousarray(X)], "2d"
        elif X.ndim == 3:
            seqs, kind = np.ascontiguousarray(X), "3d"
        else:
            raise ValueError(f"{name}: {what} must be 2-D (time, features), 3-D (batch, time, features) "
                             f"or a list of 2-D arrays; got shape {X.shape}. Reshape your data with "
                             f"{what}.reshape(-1, 1) for a single feature.")
    for s in seqs:
        if s.ndim != 2:
            raise ValueError(f"{name}: every sequence in {what} must be 2-D (time, features); got {s.shape}.")
        check_n_features(name, s.shape[1], n_features, what)
        check_finite(name, s, what)
    return seqs, kind


@register
class ESN(TransformerMixin, BaseEstimator):
    r"""Echo state network: a leaky-integrator tanh reservoir (transformer).

    .. math::

        \mathbf{x}[t] = (1 - a)\,\mathbf{x}[t-1]
            + a\,f\big(W\mathbf{x}[t-1] + W_{in}\mathbf{u}[t] + \mathbf{b}
            + W_{fb}\mathbf{y}[t-1]\big)

    :math:`\mathbf{x}\in\mathbb{R}^N` reservoir state (zero at the start of a
    sequence unless ``initial_state`` is given), :math:`\mathbf{u}[t]` input,
    :math:`\mathbf{y}[t-1]` previous output (teacher signal during training,
    own prediction in closed loop), :math:`a` leak rate, :math:`f` the
    activation (tanh), :math:`W` (N×N, sparse, scaled to spectral radius
    :math:`\rho`), :math:`W_{in}` (N×D), :math:`\mathbf{b}` (N), :math:`W_{fb}`
    (N×F). Dimensionless; one step is one sample.

    ``transform`` maps inputs ``(T, D)``, ``(B, T, D)`` or a list of
    ``(T_i, D)`` arrays to states ``(T - washout, N)``, ``(B, T - washout, N)``
    or a list. The whole time loop runs in one Numba kernel; a batch is run
    16 sequences at a time (batch innermost, explicit SIMD) in parallel over
    groups of 16. Every sequence's states are bit-identical whatever the batch
    size, the batch position, the layout or the number of threads.

    Parameters
    ----------
    units : int, default=100
        Number of reservoir units N, >= 1. Ignored when ``W`` is given.
    spectral_radius : float, default=0.9
        Spectral radius ρ that the random W is scaled to, > 0.
    leak_rate : float, default=1.0
        Leak rate a, in (0, 1].
    input_scaling : float, default=1.0
        W_in entries are ±input_scaling, > 0.
    input_connectivity : float, default=0.1
        Probability that an input reaches a unit, in (0, 1].
    connectivity : float, default=0.1
        Density of W, in (0, 1].
    bias_scaling : float, default=0.0
        Bias entries are ``bias_scaling * U[-1, 1]``, >= 0.
    n_feedback : int, default=0
        Output feedback dimension F (0: no feedback), >= 0.
    feedback_scaling : float, default=1.0
        W_fb entries are ``feedback_scaling * U[-1, 1]``, > 0.
    W, W_in, bias, W_fb : array-like or sparse matrix, default=None
        User-supplied matrices, used unchanged (no spectral-radius or input
        scaling), e.g. to run the same network as ReservoirPy.
    activation : {'tanh', 'identity'}, default='tanh'
        f. 'tanh' uses a vectorised tanh within 1e-15 of ``np.tanh``.
    washout : int, default=0
        Initial steps of each sequence left out of the returned states, >= 0.
    layout : {'auto', 'dense', 'sparse'}, default='auto'
        Recurrent product: sliced ELLPACK with explicit SIMD (auto) or a dense
        transposed matrix. Results are bit-identical for both layouts.
    sr_method : {'auto', 'arpack', 'power'}, default='auto'
        How the random W's spectral radius is found before scaling (see
        :func:`spectral_radius`): 'arpack' exact (minutes from about 10^5
        units), 'power' a 300-step power-iteration estimate within 2 % (about
        a second for 10^6 weights), 'auto' exact up to ``SR_EXACT_MAX_UNITS``
        (2000) units and 'power' above. With 'power' the scaled W's radius is
        ``spectral_radius`` within that tolerance. A setup of more than
        ``PROGRESS_DELAY_S`` seconds shows a progress bar when stderr is a
        terminal.
    n_jobs : int, default=None
        Threads for batches (None: Numba's default).
    seed : int or None, default=None
        Seed; W_in, W, bias and W_fb each get a spawned child stream.

    Attributes
    ----------
    W_ : scipy.sparse.csr_matrix (N, N)
    W_in_ : ndarray (N, D)
    bias_ : ndarray (N,)
    W_fb_ : ndarray (N, F)
    n_features_in_ : int
    units_ : int
    spectral_radius_ : float
        Spectral radius of W_ (computed for the random W; NaN when user-supplied).

    See Also
    --------
    readouts.Ridge : linear readout trained on the states.

    Notes
    -----
    Update order and floating-point summation follow ReservoirPy 0.4.2
    (``(1 - lr) * x + lr * f(W @ x + Win @ u + bias)``) so that given the same
    matrices the states agree to ~1e-15.

    Before drawing W, ``fit`` estimates the memory the setup needs
    (``SETUP_BYTES_PER_WEIGHT`` bytes per expected weight plus the dense
    matrices) and raises ``MemoryError`` with the figure in GiB when it
    exceeds the available memory (:func:`engine.build.memory.available_bytes`, the
    same check the spiking engine makes). W is drawn row-sorted from geometric gaps, without any
    dense N×N intermediate.

    In a :class:`sklearn.pipeline.Pipeline`, ``washout`` drops the first
    steps of each sequence; pond's readouts then drop the same leading rows
    of ``y`` (they align ``y`` to the end of the states), so
    ``Pipeline([("esn", ESN(washout=100)), ("ridge", Ridge())])`` fits,
    predicts (``T - washout`` rows) and scores as expected.

    References
    ----------
    H. Jaeger, "The echo state approach to analysing and training recurrent
    neural networks", GMD Report 148, 2001.

    Examples
    --------
    >>> import numpy as np
    >>> from reservoirs import ESN
    >>> esn = ESN(units=50, spectral_radius=0.9, leak_rate=0.3, seed=0)
    >>> states = esn.fit_transform(np.zeros((10, 1)))
    >>> states.shape
    (10, 50)
    """

    _parameter_constraints = {
        "units": [Interval("int", 1, 2**31 - 1)],
        "spectral_radius": [Interval("real", 0, None, closed="neither")],
        "leak_rate": [Interval("real", 0, 1, closed="right")],
        "input_scaling": [Interval("real", 0, None, closed="neither")],
        "input_connectivity": [Interval("real", 0, 1, closed="right")],
        "connectivity": [Interval("real", 0, 1, closed="right")],
        "bias_scaling": [Interval("real", 0, None)],
        "n_feedback": [Interval("int", 0, None)],
        "feedback_scaling": [Interval("real", 0, None, closed="neither")],
        "W": [None, ArrayLike()],
        "W_in": [None, ArrayLike()],
        "bias": [None, ArrayLike()],
        "W_fb": [None, ArrayLike()],
        "activation": [Options(*ACTIVATIONS)],
        "washout": [Interval("int", 0, None)],
        "layout": [Options("auto", "dense", "sparse")],
        "sr_method": [Options(*SR_METHODS)],
        "n_jobs": [None, Interval("int", 1, None)],
        "seed": [None, Interval("int", 0, None)],
    }

    def __init__(self, units=100, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0,
                 input_connectivity=0.1, connectivity=0.1, bias_scaling=0.0, n_feedback=0,
                 feedback_scaling=1.0, W=None, W_in=None, bias=None, W_fb=None,
                 activation="tanh", washout=0, layout="auto", sr_method="auto", n_jobs=None, seed=None):
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.input_connectivity = input_connectivity
        self.connectivity = connectivity
        self.bias_scaling = bias_scaling
        self.n_feedback = n_feedback
        self.feedback_scaling = feedback_scaling
        self.W = W
        self.W_in = W_in
        self.bias = bias
        self.W_fb = W_fb
        self.activation = activation
        self.washout = washout
        self.layout = layout
        self.sr_method = sr_method
        self.n_jobs = n_jobs
        self.seed = seed

    # ------------------------------------------------------------------ setup
    def fit(self, X=None, y=None, n_features=None):
        """Draw (or take) the matrices and build the kernel layout.

        Parameters
        ----------
        X : array-like, optional
            Inputs (only their feature count is used).
        y : ignored
        n_features : int, optional
            Input dimension D (>= 1) when ``X`` is not given.

        Returns
        -------
        self : ESN

        Raises
        ------
        ValueError
            A parameter, ``n_features`` or a user matrix is invalid (the message names it).
        MemoryError
            Drawing the random W would need more than the available memory (checked before allocating).
        """
        validate_params(self)
        name = type(self).__name__
        if X is not None:
            seqs, _ = _as_sequences(X, name=name)
            D = seqs[0].shape[1]
        elif n_features is not None:
            check_param(name, "n_features", n_features, [Interval("int", 1, None)])
            D = int(n_features)
        elif self.W_in is not None:
            shape = self.W_in.shape if sp.issparse(self.W_in) else np.shape(self.W_in)
            D = shape[1] if len(shape) == 2 else 1  # a 1-D W_in is one input column
        else:
            raise ValueError(f"{name}: fit needs X, n_features or W_in to know the input dimension.")
        rng = np.random.default_rng(self.seed)
        rng_in, rng_w, rng_b, rng_fb = rng.spawn(4)
        if self.W is not None:
            W = sp.csr_matrix(self.W, dtype=np.float64)
            W = _checked_csr(name, W.data, W.indices, W.indptr, W.shape, ("W", "W.indices", "W.indptr", "W.shape"))
            N = W.shape[0]
            rho_ = float("nan")
        else:
            N = self.units
            _check_setup_memory(name, N, D, self.n_feedback, self.connectivity)
            W = random_sparse(N, N, self.connectivity, rng_w, "normal")
            method = self.sr_method
            if method == "auto":
                method = "arpack" if N <= SR_EXACT_MAX_UNITS else "power"
            progress = interactive()
            rho = spectral_radius(W, method=method, progress=progress) if W.nnz else 0.0
            if rho <= 0:
                raise ValueError(f"{name}: the random W has spectral radius {rho}; increase connectivity "
                                 f"({self.connectivity}) or units ({N}).")
            W.data *= self.spectral_radius / rho
            rho_ = float(self.spectral_radius)
        if self.W_in is not None:
            W_in = np.array(self.W_in.toarray() if sp.issparse(self.W_in) else self.W_in, dtype=np.float64)
            if W_in.ndim == 1:
                W_in = W_in[:, None]
        else:
            W_in = random_sparse(N, D, self.input_connectivity, rng_in, "bernoulli",
                                 self.input_scaling).toarray()
        if self.bias is not None:
            bias = np.array(np.asarray(self.bias.toarray() if sp.issparse(self.bias) else self.bias,
                                       dtype=np.float64).reshape(-1))
        else:
            bias = self.bias_scaling * rng_b.uniform(-1.0, 1.0, N)
        if self.W_fb is not None:
            W_fb = np.array(self.W_fb.toarray() if sp.issparse(self.W_fb) else self.W_fb, dtype=np.float64)
            if W_fb.ndim == 1:
                W_fb = W_fb[:, None]
        else:
            W_fb = self.feedback_scaling * rng_fb.uniform(-1.0, 1.0, (N, self.n_feedback))
        self._set_matrices(W, W_in, bias, W_fb, rho_, D)
        return self

    def _set_matrices(self, W, W_in, bias, W_fb, rho, D=None, suffix=""):
        """Check the matrices' shapes and values (fit and load alike), store them and build the layout.

        ``W`` is a checked CSR matrix; ``D`` the input dimension when known; ``suffix`` is appended to the
        names in error messages ("_" for a loaded file's arrays).
        """
        name = type(self).__name__
        N = W.shape[0]
        W_in = check_array(name, "W_in" + suffix, W_in, shape=(N, D))
        if W_in.shape[1] == 0:
            raise ValueError(f"{name}: W_in{suffix} must have at least one column (input); got shape {W_in.shape}.")
        bias = check_array(name, "bias" + suffix, bias, shape=(N,))
        W_fb = check_array(name, "W_fb" + suffix, W_fb, shape=(N, None))
        if not (np.isnan(rho) or rho > 0 and np.isfinite(rho)):
            raise ValueError(f"{name}: spectral_radius_={rho} is invalid; it must be > 0 and finite, or NaN "
                             f"for a user-supplied W.")
        self.W_, self.W_in_, self.bias_, self.W_fb_ = W, W_in, bias, W_fb
        self.spectral_radius_ = float(rho)
        self.n_features_in_ = W_in.shape[1]
        self.units_ = N
        self._build_layout()

    def _build_layout(self):
        """Flatten the matrices into the kernel's internal (permuted) arrays."""
        W, N = self.W_, self.units_
        dense = self.layout == "dense" or (self.layout == "auto" and N <= DENSE_MAX_UNITS)
        if dense:
            perm = np.arange(N, dtype=np.int32)
            self._dense = np.ascontiguousarray(W.toarray().T)
            self._ell = (np.zeros(0, np.float64), np.zeros(0, np.int32), np.zeros(1, np.int64),
                         np.zeros(0, np.int32), 1)
        else:
            S = ELL_SLICE
            perm, vals, cols, ptr, lens = _k.build_sliced_ell(
                W.indptr.astype(np.int64), W.indices.astype(np.int64), W.data.astype(np.float64, copy=False), N, S)
            if perm.shape[0] <= np.iinfo(np.uint16).max + 1:
                cols = cols.astype(np.uint16)  # 2-byte indices: W stays in cache longer
            self._dense = np.zeros((0, 0), dtype=np.float64)
            self._ell = (vals, cols, ptr, lens, S)
        n = perm.shape[0]
        real = perm < N
        src = np.where(real, perm, 0)

        def internal(M):  # (N, k) -> (k, n) transposed, padded rows zero
            out = np.zeros((M.shape[1], n), dtype=np.float64)
            out[:, real] = M[src[real]].T
            return out

        self._perm = perm
        self._WinT = internal(self.W_in_)
        self._WfbT = internal(self.W_fb_)
        self._bias = internal(self.bias_[:, None])[0].copy()
        self._WinfbT = np.ascontiguousarray(np.vstack([self._WinT, self._WfbT]))
        self._no_fb = np.zeros((1, 0), dtype=np.float64)
        self._no_fbT = np.zeros((0, n), dtype=np.float64)

    # -------------------------------------------------------------- running
    def _run(self, seqs, Y, x0, washout):
        """Run a list of sequences (or a 3-D array) and return states."""
        vals, cols, ptr, lens, S = self._ell
        act = ACTIVATIONS[self.activation]
        a = float(self.leak_rate)
        N = self.units_
        F = self._WfbT.shape[0]
        common = (self._WinT, self._WfbT, self._bias, vals, cols, ptr, lens, S, self._dense, self._perm, a, act)
        old = numba.get_num_threads()
        if self.n_jobs is not None:
            numba.set_num_threads(min(self.n_jobs, numba.config.NUMBA_NUM_THREADS))
        try:
            if isinstance(seqs, np.ndarray) and seqs.shape[0] > 1:
                B, T = seqs.shape[:2]
                Yb = np.zeros((B, T, F)) if Y is None else Y
                out = np.empty((B, max(T - washout, 0), N), dtype=np.float64)
                _k.run_batch(seqs, Yb, *common, washout, x0, out)
                return [out]
            outs = []
            for i, s in enumerate(seqs):
                T = s.shape[0]
                Ys = np.zeros((T, F)) if Y is None else Y[i]
                out = np.empty((max(T - washout, 0), N), dtype=np.float64)
                threads = numba.get_num_threads()
                if threads > 1 and self._dense.shape[0] == 0 and N >= _ROWS_PARALLEL_MIN_UNITS:
                    _k.run_single_rows(s, Ys, self._WinT, self._WfbT, self._bias, vals, cols, ptr, lens, S,
                                       self._perm, a, act, washout, x0[i], out, threads)
                else:
                    _k.run_single(s, Ys, *common, washout, x0[i], out)
                outs.append(out)
            return outs
        finally:
            numba.set_num_threads(old)

    def transform(self, X, y_feedback=None, initial_state=None, return_final_state=False):
        """Run the reservoir over the inputs and return its states.

        Parameters
        ----------
        X : array-like (T, D), (B, T, D) or list of (T_i, D)
            Inputs.
        y_feedback : array-like, same layout as X with F features, optional
            Teacher signal fed back (step t sees ``y_feedback[t - 1]``).
            Required when the ESN has feedback (F > 0).
        initial_state : array-like (N,) or (B, N), optional
            State before the first step (default zeros).
        return_final_state : bool, default=False
            Also return the state after the last step ((N,) or (B, N)).

        Returns
        -------
        states : ndarray (T - washout, N), (B, T - washout, N) or list
        """
        check_fitted(self, "W_")
        name = type(self).__name__
        seqs, kind = _as_sequences(X, self.n_features_in_, name)
        F = self._WfbT.shape[0]
        Y = None
        if F > 0:
            if y_feedback is None:
                raise ValueError(f"{name}: this ESN has output feedback (n_feedback={F}); pass y_feedback.")
            Y, _ = _as_sequences(y_feedback, F, name, "y_feedback")
            if len(Y) != len(seqs) or any(y.shape[0] != s.shape[0] for y, s in zip(Y, seqs)):
                raise ValueError(f"{name}: y_feedback must have the same sequences and lengths as X.")
            if kind == "3d":
                Y = np.ascontiguousarray(Y)
        nseq = len(seqs)
        N = self.units_
        if initial_state is None:
            x0 = np.zeros((nseq, N), dtype=np.float64)
        else:
            x0 = np.array(initial_state, dtype=np.float64).reshape(-1, N) if np.size(initial_state) % N == 0 \
                else None
            if x0 is None or x0.shape[0] not in (1, nseq):
                raise ValueError(f"{name}: initial_state must have shape ({N},) or ({nseq}, {N}); "
                                 f"got {np.shape(initial_state)}.")
            x0 = np.array(np.broadcast_to(x0, (nseq, N)), dtype=np.float64, order="C")
            check_finite(name, x0, "initial_state")
        outs = self._run(seqs, Y, x0, self.washout)
        if kind == "2d":
            res = outs[0]
        elif kind == "3d":  # (B, T - washout, N), also for B = 1 (run one sequence at a time)
            res = outs[0] if outs[0].ndim == 3 else np.stack(outs)
        else:
            res = outs
        if return_final_state:
            return res, (x0[0] if kind == "2d" else x0)
        return res

    def fit_transform(self, X, y=None, **kw):
        """``fit(X)`` then ``transform(X, **kw)``."""
        return self.fit(X).transform(X, **kw)

    def step(self, state, u=None, y_prev=None):
        """Advance one sequence by one step and return the new state (N,).

        ``x' = (1 - a) x + a f(W x + [W_in W_fb] [u; y_prev] + b)``; used for
        closed-loop runs (FORCE training, generation). The input and feedback
        terms are summed as one product here, so a step may differ from
        :meth:`transform` in the last bit.
        """
        check_fitted(self, "W_")
        D, F = self.n_features_in_, self._WfbT.shape[0]
        z = np.zeros((1, D + F), dtype=np.float64)
        if u is not None:
            z[0, :D] = np.asarray(u, dtype=np.float64).reshape(D)
        if F > 0 and y_prev is not None:
            z[0, D:] = np.asarray(y_prev, dtype=np.float64).reshape(F)
        x = np.array(state, dtype=np.float64).reshape(self.units_)
        out = np.empty((1, self.units_), dtype=np.float64)
        vals, cols, ptr, lens, S = self._ell
        _k.run_single(z, self._no_fb, self._WinfbT, self._no_fbT, self._bias, vals, cols, ptr, lens, S,
                      self._dense, self._perm, float(self.leak_rate), ACTIVATIONS[self.activation], 0, x, out)
        return out[0]

    def generate(self, readout, n_steps, initial_state, y0, u=None):
        """Closed-loop generation: the readout's prediction is fed back.

        ``x[t] = step(x[t-1], u[t], y[t-1])``, ``y[t] = readout.predict(x[t])``.

        Returns
        -------
        y : ndarray (n_steps, F)
        states : ndarray (n_steps, N)
        """
        check_fitted(self, "W_")
        x = np.array(initial_state, dtype=np.float64)
        y = np.asarray(y0, dtype=np.float64).reshape(-1)
        ys, xs = [], []
        for t in range(n_steps):
            x = self.step(x, None if u is None else u[t], y)
            y = np.asarray(readout.predict(x[None, :]), dtype=np.float64).reshape(-1)
            ys.append(y)
            xs.append(x)
        return np.array(ys), np.array(xs)

    # ------------------------------------------------------------- save/load
    def _get_state(self):
        params = {k: v for k, v in self.get_params().items() if k not in _USER_MATRICES}
        arrays = {}
        if hasattr(self, "W_"):
            W = self.W_
            arrays = {"W_data": W.data, "W_indices": W.indices, "W_indptr": W.indptr,
                      "W_shape": np.array(W.shape), "W_in_": self.W_in_, "bias_": self.bias_,
                      "W_fb_": self.W_fb_, "spectral_radius_": np.array(self.spectral_radius_)}
        return params, arrays

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params, skip=_USER_MATRICES)
        validate_params(est)
        if arrays:
            name = cls.__name__
            check_fields(name, arrays, _STATE_ARRAYS)
            shape = check_array(name, "W_shape", arrays["W_shape"], kind="i", shape=(2,))
            W = _checked_csr(name, arrays["W_data"], arrays["W_indices"], arrays["W_indptr"], shape,
                             ("W_data", "W_indices", "W_indptr", "W_shape"))
            rho = check_array(name, "spectral_radius_", arrays["spectral_radius_"], shape=(), finite=False)
            est._set_matrices(W, arrays["W_in_"], arrays["bias_"], arrays["W_fb_"], float(rho), suffix="_")
        return est

    def save(self, path, readout=None):
        """Save this ESN (and optionally its trained readout) to ``.h5``/``.hdf5`` or ``.npz``.

        Parameters
        ----------
        path : str or os.PathLike
        readout : estimator, optional
            A fitted pond readout saved alongside (``esn, readout = readouts.load(path)``).
        """
        save(path, self, readout)
