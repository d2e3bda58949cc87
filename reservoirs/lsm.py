r"""Liquid state machines on the spiking engine: the Maass, Natschläger & Markram (2002) column by default.

:class:`LSM` builds an :mod:`engine` network of leaky integrate-and-fire neurons on a 3-D grid, runs a batch of input
trials through it and returns liquid-state features computed while the network runs
(:mod:`reservoirs.liquid_features`). The analysis functions measure the separation property (state distance between
the responses to two inputs, Maass et al. 2002, Fig. 2) and the kernel-quality and generalisation ranks of
Legenstein & Maass (2007).

References
----------
Maass W, Natschläger T, Markram H (2002) Real-time computing without stable states: a new framework for neural
computation based on perturbations. Neural Comput 14:2531-2560.
Legenstein R, Maass W (2007) Edge of chaos and prediction of computational performance for neural circuit models.
Neural Networks 20:323-334.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from engine.interrupt import checkpoint, deferred_interrupts
from engine.network.connectivity import Explicit, FixedProbability, build_connectivity, grid_positions
from engine.network.distributions import Gamma, Normal, resolve_values
from engine.network.grid import grid_steps, step_times
from engine.build.memory import check_fits
from engine.network.description import CurrentSource, Network, Population, Projection, SpikeMonitor, SpikeSource, StateMonitor
from engine.random import named_stream
from engine.models.synapses import StaticSynapse, TsodyksMarkram
from engine.progress import interactive
from readouts.io import register, save
from readouts.validation import check_array, check_fields, check_fitted, restore_params
from reservoirs.kernels import distance as _dist
from reservoirs.liquid_features import LiquidStateSink, _sample_steps

__all__ = ["LSM", "spike_train_distance", "spike_train_pair", "state_distance", "state_rank", "kernel_quality",
           "generalization_rank", "plot_raster", "plot_state_distance", "expected_in_degree",
           "recurrent_weights", "input_weights"]

PAIRS = ("EE", "EI", "IE", "II")  # (source type, target type) of the recurrent projections
FEATURES = ("trace", "counts", "V")
INPUT_TYPES = ("auto", "spikes", "counts", "current")
#: What an input kind drives: spike lists and counts drive the input SpikeSource, analog rows inject current.
INPUT_FAMILY = {"spikes": "spikes", "counts": "spikes", "current": "current"}
_FAMILY_CODE = {None: 0, "spikes": 1, "current": 2}  # input_kind_ in a saved file
#: Peak bytes per neuron and per synapse while :meth:`LSM.fit` draws the liquid (positions, E/I draw, currents,
#: index maps; per synapse the int32 target of the CSR build, int64 source and target, float64 weight and the gamma
#: draw), for the memory check before anything is allocated.
FIT_BYTES_PER_NEURON = 160
FIT_BYTES_PER_SYNAPSE = 48
#: Bytes per entry of the dense analog-input matrix ``W_current_`` while it is drawn (int64 draw, float64 result).
CURRENT_BYTES_PER_ENTRY = 16
#: Pairs tested per chunk of the distance-dependent connectivity (progress and Ctrl-C between chunks).
PAIRS_PER_CHUNK = 1 << 24
_FAMILY_TEXT = {"spikes": "spike trains (a list of (times_ms, channels) pairs or an int count array)",
                "current": "analog current (a float array, one row per input_dt)"}


#: The Maass 2002 column: its grid and its weight scales (pA) for EE, EI, IE, II and for the input onto E, I.
COLUMN_GRID = (15, 3, 3)
COLUMN_A = (30000.0, 60000.0, -19000.0, -19000.0)
COLUMN_INPUT_A = (18000.0, 9000.0)
#: Expected input spikes per neuron and second that ``COLUMN_INPUT_A`` is made for: the column's protocol of 4 input
#: channels at 20 Hz, each reaching a neuron with probability 0.3 (``input_p``).
COLUMN_INPUT_RATE = 0.3 * 4 * 20.0


def expected_in_degree(grid=COLUMN_GRID, spacing: float = 1.0, lam: float = 2.0, C=(0.3, 0.2, 0.4, 0.1),
                       inh_fraction: float = 0.2) -> np.ndarray:
    r"""Expected recurrent synapses onto one neuron of an LSM liquid, per pair EE, EI, IE, II.

    .. math::

        K_{ab} = C_{ab}\, f_a\, S, \qquad S = \frac{1}{N} \sum_i \sum_{j \ne i} e^{-(D_{ij}/\lambda)^2}

    with :math:`f_a` the fraction of neurons of type :math:`a` (``1 - inh_fraction`` or ``inh_fraction``) and
    :math:`D_{ij}` the grid distance; :math:`S` factorises over the grid's axes (the mean over :math:`i` of a product
    of per-axis sums is the product of their means), so it costs :math:`O(n_x + n_y + n_z)`, not :math:`O(N^2)`.

    Returns
    -------
    ndarray of shape (4,)
        :math:`K_{EE}, K_{EI}, K_{IE}, K_{II}` (synapses per target neuron).

    Examples
    --------
    >>> np.round(expected_in_degree(), 2)          # the Maass column, 15 x 3 x 3
    array([3.88, 2.58, 1.29, 0.32])
    >>> np.round(expected_in_degree((10, 10, 10)), 2)
    array([7.35, 4.9 , 2.45, 0.61])
    """
    sp, lam = float(spacing), float(lam)
    S = 1.0
    for n in (int(g) for g in grid):
        d = np.arange(1, min(n - 1, int(np.ceil(40.0 * lam / sp))) + 1, dtype=np.float64)
        S *= (n + 2.0 * float(np.sum((n - d) * np.exp(-(d * sp / lam) ** 2)))) / n
    S -= 1.0
    frac = {"E": 1.0 - float(inh_fraction), "I": float(inh_fraction)}
    return np.array([float(C[k]) * frac[p[0]] * S for k, p in enumerate(PAIRS)])


def recurrent_weights(grid=COLUMN_GRID, spacing: float = 1.0, lam: float = 2.0, C=(0.3, 0.2, 0.4, 0.1),
                      inh_fraction: float = 0.2) -> tuple:
    r"""The LSM's default recurrent weight scales A (pA) for a liquid: the column's, scaled as :math:`1/\sqrt{K}`.

    .. math::

        A_{ab} = A^{\mathrm{col}}_{ab} \sqrt{K^{\mathrm{col}}_{ab} / K_{ab}}

    with :math:`K_{ab}` the expected in-degree (:func:`expected_in_degree`) of this liquid and
    :math:`K^{\mathrm{col}}_{ab}` that of the Maass 2002 column (15 × 3 × 3, λ = 2, its C and inhibitory fraction),
    :math:`A^{\mathrm{col}}` the column's (30, 60, -19, -19) nA. This is the balanced-network scaling (van Vreeswijk &
    Sompolinsky 1996; Brunel 2000): the mean recurrent input of a neuron grows as :math:`\sqrt{K}` and its
    fluctuations stay the same, so a larger or denser liquid keeps the column's asynchronous irregular activity instead
    of firing in synchronous volleys. At the column's own parameters the factor is exactly 1 (the paper's weights, bit
    for bit). A pair without expected synapses keeps the column's value.

    Examples
    --------
    >>> recurrent_weights()
    (30000.0, 60000.0, -19000.0, -19000.0)
    >>> [round(a) for a in recurrent_weights((10, 10, 10))]
    [21793, 43586, -13802, -13802]
    """
    K = expected_in_degree(grid, spacing, lam, C, inh_fraction)
    K_col = expected_in_degree()
    return tuple(float(a) * (math.sqrt(float(kc) / float(k)) if k > 0 else 1.0)
                 for a, kc, k in zip(COLUMN_A, K_col, K))


def input_weights(rate_hz: float, n_inputs: int, input_p: float = 0.3) -> tuple:
    r"""Input weight scales (pA onto E, I) that give a neuron the column's expected input.

    .. math::

        A^{\mathrm{in}} = A^{\mathrm{in,col}}\, \frac{\nu^{\mathrm{col}}}{\nu}, \qquad
        \nu = p_{\mathrm{in}}\, n_{\mathrm{in}}\, \bar r

    :math:`\nu` is the expected number of input spikes a neuron receives per second (``input_p`` · ``n_inputs`` ·
    the mean channel rate :math:`\bar r` in Hz); :math:`\nu^{\mathrm{col}}` = 24 /s is the column's protocol (4
    channels at 20 Hz, ``input_p`` 0.3) for which :math:`A^{\mathrm{in,col}}` = (18, 9) nA is made. The expected input
    current per neuron is then the column's whatever the code: 128 channels at a mean 140 Hz get weights 224 times
    smaller than 4 channels at 20 Hz (without this the liquid is driven to its refractory limit, regular and
    synchronous).
    ``LSM(input_A='auto')`` applies it with :math:`\bar r` measured on the spike trains given to :meth:`LSM.fit`.

    Examples
    --------
    >>> input_weights(20.0, 4)
    (18000.0, 9000.0)
    """
    if not (_is_real(rate_hz) and rate_hz > 0 and isinstance(n_inputs, numbers.Integral) and n_inputs >= 1
            and _is_real(input_p) and 0 < input_p <= 1):
        raise ValueError(f"input_weights: rate_hz={rate_hz!r}, n_inputs={n_inputs!r}, input_p={input_p!r} are "
                         f"invalid; the rate must be > 0 Hz, n_inputs an int >= 1 and input_p in (0, 1].")
    nu = float(input_p) * int(n_inputs) * float(rate_hz)
    return tuple(a * (COLUMN_INPUT_RATE / nu) for a in COLUMN_INPUT_A)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(float(v))


def _check_real(key: str, v, rule: str, ok) -> float:
    if not _is_real(v) or not ok(float(v)):
        raise ValueError(f"LSM: parameter {key}={v!r} is invalid; it must be {rule}.")
    return float(v)


def _check_seq(key: str, v, n: int, rule: str, ok) -> tuple:
    if not isinstance(v, (tuple, list, np.ndarray)) or len(v) != n or not all(_is_real(x) and ok(float(x))
                                                                                for x in v):
        raise ValueError(f"LSM: parameter {key}={v!r} is invalid; it must be {n} numbers, each {rule}.")
    return tuple(float(x) for x in v)


def _check_choice(key: str, v, options) -> None:
    if not isinstance(v, str) or v not in options:
        raise ValueError(f"LSM: parameter {key}={v!r} is invalid; it must be one of {', '.join(map(repr, options))}.")


@register
class LSM(TransformerMixin, BaseEstimator):
    r"""Liquid state machine: a spiking column of LIF neurons with dynamic synapses, as a transformer.

    Each neuron (Maass et al. 2002, Appendix) follows

    .. math::

        \tau_m \frac{dV}{dt} = -V + R\,(I_b + I_{syn}(t) + I_{inj}(t)), \qquad
        V \ge V_{th} \Rightarrow V \leftarrow V_{reset} \text{ for } t_{ref}

    with :math:`V` in mV (rest 0), :math:`R` in MΩ, currents in pA (:math:`C_m = \tau_m / R`). A synapse from
    :math:`a` to :math:`b` exists with probability :math:`C_{ab}\,e^{-(D(a, b)/\lambda)^2}` (:math:`D` the Euclidean
    distance on the grid), adds :math:`A\,u_n x_n` (Tsodyks–Markram, :mod:`engine.models.synapses`) to an exponentially
    decaying current (:math:`\tau_s` 3 ms excitatory, 6 ms inhibitory) after its delay. The liquid state of trial
    :math:`b` at sample time :math:`t_j` is the vector of filtered spike trains
    :math:`x_{b,j,c} = \sum_{t^{(f)}_c < t_j} e^{-(t_j - t^{(f)}_c)/\tau}` (:mod:`reservoirs.liquid_features`),
    optionally with spike counts in a window before :math:`t_j` and the membrane potential at :math:`t_j`.

    Defaults (the Maass 2002 column; "MNM02" is Maass, Natschläger & Markram 2002, Neural Comput 14, Appendix
    "Details of the cortical microcircuit models"):

    ==================  ==============================  ====================================================  ==========
    Parameter           Default                         Meaning                                               Source
    ==================  ==============================  ====================================================  ==========
    ``grid``            (15, 3, 3)                      neurons on integer grid points, x fastest             MNM02
    ``spacing``         1.0                             grid spacing (length unit of λ)                       MNM02
    ``inh_fraction``    0.2                             fraction of neurons inhibitory, chosen at random      MNM02
    ``lam``             2.0                             λ of the connection probability                       MNM02
    ``C``               (0.3, 0.2, 0.4, 0.1)            C for EE, EI, IE, II                                  MNM02
    ``A``               (30e3, 60e3, -19e3, -19e3) pA   mean weight scale A for EE, EI, IE, II                MNM02 [3]_
    ``weight_cv``       1.0                             SD / mean of A (gamma distribution)                   MNM02
    ``U``               (0.5, 0.05, 0.25, 0.32)         mean utilisation U for EE, EI, IE, II                 MNM02
    ``tau_rec``         (1100, 125, 700, 144) ms        mean depression time constant D                       MNM02
    ``tau_fac``         (50, 1200, 20, 60) ms           mean facilitation time constant F                     MNM02
    ``stp_cv``          0.5                             SD / mean of U, D, F (normal, sign kept by redraw)    MNM02
    ``delays``          (1.5, 0.8, 0.8, 0.8) ms         transmission delay EE, EI, IE, II                     MNM02
    ``tau_m``           30 ms                           membrane time constant                                MNM02
    ``R``               1 MΩ                            input resistance                                      MNM02
    ``V_th``            15 mV                           threshold (rest 0)                                    MNM02
    ``V_reset``         13.5 mV                         reset potential                                       MNM02
    ``t_ref``           (3, 2) ms                       refractory period E, I                                MNM02
    ``tau_syn``         (3, 6) ms                       synaptic current decay, excitatory, inhibitory        MNM02
    ``I_background``    13.5e3 pA                       background current I_b; ``(low, high)``: uniform per  MNM02 [1]_
                                                        neuron
    ``V_init``          (13.5, 15.0) mV                 initial V, uniform per neuron and trial               MNM02
    ``input_A``         (18e3, 9e3) pA                  input weight scale onto E, I (gamma, ``weight_cv``);  MNM02 [3]_
                                                        ``'auto'``: scaled to the input's rate
    ``input_p``         0.3                             probability that an input channel reaches a neuron    pond [2]_
    ``input_synapse``   "static"                        input synapses static (each spike delivers its        pond [2]_
                                                        weight); "dynamic": Tsodyks–Markram, EE / EI values
    ``input_delay``     0.8 ms                          input delay                                           pond [2]_
    ``current_scale``   3e3 pA                          analog input: injected pA per input unit              pond
    ``tau``             30 ms                           trace time constant of the liquid state               MNM02
    ``dt``              0.1 ms                          integration step (exact integration)                  pond
    ==================  ==============================  ====================================================  ==========

    .. [1] The Neural Computation paper gives a constant :math:`I_b` = 13.5 nA; Maass, Natschläger & Markram's NIPS
       2002 version of the column draws :math:`I_b` per neuron from [13.5, 14.5] nA (pass ``(13.5e3, 14.5e3)``).
    .. [2] The paper gives the input weights but not the input connection probability or delay, and this check could
       not settle whether its input synapses were dynamic; these are pond's choices (probability and delay those of
       ``pond/examples/column.toml``; static input synapses keep the column responsive, see ``input_synapse``).
    .. [3] At the column's grid. ``A=None`` (the default) scales the column's weights to any other liquid by the
       balanced-network rule :math:`A_{ab} \propto 1/\sqrt{K_{ab}}` of the expected in-degree
       (:func:`recurrent_weights`); ``input_A='auto'`` scales the input weights so that a neuron's expected input is
       the column's whatever the number and rate of the input channels (:func:`input_weights`). See Notes.

    Parameters
    ----------
    grid : tuple of 3 int, default=(15, 3, 3)
        Grid points along x, y, z, each >= 1; N = nx · ny · nz neurons.
    spacing : float, default=1.0
        Grid spacing, > 0.
    inh_fraction : float, default=0.2
        Fraction of inhibitory neurons, in [0, 1]; round(N · inh_fraction) grid points are chosen at random.
    lam : float, default=2.0
        λ (grid units), > 0.
    C : tuple of 4 float, default=(0.3, 0.2, 0.4, 0.1)
        Connection probability at distance 0 for EE, EI, IE, II, each in [0, 1].
    A : tuple of 4 float or None, default=None
        Mean weight scale (pA) for EE, EI, IE, II; EE and EI > 0, IE and II < 0. None: the column's (30000, 60000,
        -19000, -19000) scaled to this liquid's expected in-degree, :math:`\sqrt{K^{col}/K}`
        (:func:`recurrent_weights`; exactly the column's values at the column's grid, λ, C and inh_fraction).
    weight_cv : float, default=1.0
        Coefficient of variation of the gamma-distributed weights (shape 1/cv², scale ``abs(A)``·cv²), >= 0 (0: every
        weight is ``A``).
    synapse : {'dynamic', 'static'}, default='dynamic'
        Tsodyks–Markram synapses, or static ones delivering A·U (the first spike's efficacy of the dynamic synapse).
    U, tau_rec, tau_fac : tuple of 4 float
        Means of U (in (0, 1]), D (ms, > 0) and F (ms, >= 0) for EE, EI, IE, II.
    stp_cv : float, default=0.5
        SD / mean of U, D, F, >= 0; drawn per synapse from a normal that redraws values of the wrong sign
        (:class:`engine.network.distributions.Normal`); U above 1 is set to 1.
    delays : tuple of 4 float, default=(1.5, 0.8, 0.8, 0.8)
        Delays (ms, multiples of ``dt``, >= ``dt``) for EE, EI, IE, II.
    tau_m : float, default=30.0
        Membrane time constant (ms), > 0.
    R : float, default=1.0
        Input resistance (MΩ), > 0.
    V_th, V_reset : float, default=15.0, 13.5
        Threshold and reset (mV), ``V_reset < V_th``.
    t_ref : tuple of 2 float, default=(3.0, 2.0)
        Refractory periods (ms, multiples of ``dt``, >= 0) of E and I neurons.
    tau_syn : tuple of 2 float, default=(3.0, 6.0)
        Decay (ms, > 0) of excitatory and inhibitory synaptic currents.
    I_background : float or tuple of 2 float, default=13500.0
        Background current (pA), or ``(low, high)`` for a uniform draw per neuron.
    V_init : tuple of 2 float, default=(13.5, 15.0)
        Initial V (mV) drawn uniformly per neuron and trial (keyed by the trial id: trials are independent).
    input_p : float, default=0.3
        Probability that an input channel reaches a neuron (spike input and analog input), in [0, 1].
    input_A : tuple of 2 float or 'auto', default=(18000, 9000)
        Mean input weight scale (pA, > 0) onto E and I neurons: the column's, made for its protocol of 4 channels at
        20 Hz. 'auto': scaled so that a neuron's expected input is that protocol's, from the mean channel rate of the
        spike trains (or counts) given to :meth:`fit` (:func:`input_weights`); fit then needs spike input.
    input_synapse : {'static', 'dynamic'}, default='static'
        Static input synapses (each input spike delivers its drawn weight, mean ``input_A``), or Tsodyks–Markram ones
        with the EE (onto E) and EI (onto I) parameters (efficacy w·u·x). With dynamic input synapses (D = 1.1 s) a
        20 Hz input depresses to about a twelfth of its first efficacy within 200 ms and the column falls almost
        silent (0.1-0.3 Hz against 12-15 Hz with static ones), so static is the default.
    input_delay : float, default=0.8
        Input delay (ms, a multiple of ``dt``, >= ``dt``).
    current_scale : float, default=3000.0
        Analog input: each (neuron, channel) link, present with probability ``input_p``, injects
        ``current_scale · u(t)`` pA, > 0.
    input_dt : float, default=1.0
        Analog input: duration (ms, a multiple of ``dt``) of one row of ``X[b]``.
    input_type : {'auto', 'spikes', 'counts', 'current'}, default='auto'
        How ``X`` is read; 'auto': a list is spike trains, an integer array counts per step, a float array current.
        :meth:`transform` refuses input of the other family than the one seen in :meth:`fit` (spike trains and
        counts drive the input spike source, current is injected): ``np.asarray`` of a list of spike trains is a
        float array and would otherwise be injected as current.
    n_inputs : int, optional
        Number of input channels; default: from ``X`` in :meth:`fit`.
    duration : float, optional
        Run length (ms, a multiple of ``dt``). Default: the input's length (counts: steps · dt, current: T ·
        input_dt); spike-train input needs it.
    sample_times : array of float, optional
        Sample times (ms) of the features, shape (S,), multiples of ``dt`` in (0, duration]; default: [duration].
        :meth:`transform` also takes per-trial times.
    tau : float, default=30.0
        Trace time constant (ms), > 0.
    bin_ms : float, default=None
        Window (ms) of the ``'counts'`` feature: spikes in ``[t_j - bin_ms, t_j)``; default: the bins between
        consecutive sample times of each trial, ``[t_{j-1}, t_j)`` with ``t_{-1} = 0``.
    features : tuple of str, default=('trace',)
        Any of 'trace', 'counts', 'V', concatenated along the last axis in this order.
    output : {'3d', 'flat'}, default='3d'
        ``(trials, samples, N · k)`` or ``(trials, samples · N · k)``.
    dt : float, default=0.1
        Step (ms), > 0.
    batch_size : int, default=256
        Trials per simulator (each trial reserves a spike buffer of about 3 MB of address space, of which only the
        pages one chunk's spikes fill are touched). Results never depend on it.
    chunk_ms : float, default=100.0
        Biological time between feature updates (results never depend on it).
    n_jobs : int, optional
        Threads (results never depend on it).
    seed : int or None, default=None
        Seed of the liquid (E/I assignment, connectivity, weights, synapse parameters, initial states); None draws
        one at :meth:`fit` (``seed_``).

    Attributes
    ----------
    seed_ : int
        The seed used.
    n_neurons_ : int
    n_inputs_ : int
    A_ : tuple of 4 float
        Recurrent weight scales (pA) used by :meth:`fit` (``A``, or :func:`recurrent_weights` for ``A=None``).
    input_A_ : tuple of 2 float
        Input weight scales (pA) used by :meth:`fit` (``input_A``, or :func:`input_weights` for ``'auto'``).
    input_kind_ : {'spikes', 'current'} or None
        The input family seen in :meth:`fit` ('spikes' for spike trains and counts); None when ``fit`` got no ``X``
        and ``input_type='auto'``, in which case :meth:`transform` takes either.
    inhibitory_ : ndarray of bool, shape (N,)
        Which grid points are inhibitory.
    positions_ : ndarray of shape (N, 3)
    I_background_ : ndarray of shape (N,)
        Background current per neuron (pA).
    connections_ : dict
        ``"EE"`` ... ``"II"``, ``"in_E"``, ``"in_I"``: ``(sources, targets, weights)`` in local indices of the
        source and target populations (E, I neurons in grid order; input channels).
    W_current_ : ndarray of shape (N, n_inputs)
        Analog input weights (pA per input unit): drawn from ``seed_`` at :meth:`fit` for analog input, on first use
        otherwise; spike input never allocates this dense matrix, and a file does not store it (``n_inputs_``).

    See Also
    --------
    reservoirs.liquid_features.LiquidStateSink : the features, computed during the run.
    reservoirs.ESN : the rate-based reservoir.

    Notes
    -----
    **Weight scaling.** The column's weights are tuned for its 135 neurons and its input. A liquid of another size
    with the same weights gets more recurrent synapses per neuron (3.9 EE synapses in the column, 7.4 on a 10 × 10 × 10
    grid) and, driven by many fast channels, far more input; unscaled, a 1000-neuron liquid fed 128 channels fires in
    synchronous volleys near its refractory limit. With ``A=None`` the recurrent weights follow
    :math:`A \propto 1/\sqrt{K}` (:func:`recurrent_weights`), and with ``input_A='auto'`` the input weights keep the
    expected input per neuron at the column's (:func:`input_weights`). :meth:`regime` reports the resulting activity:
    mean rate, ISI CV and spike-contrast synchrony (asynchronous irregular: CV near 1, low synchrony).

    Trial ``k`` of a batch (``trial_ids[k]``, default ``k``) draws its initial state from ``(seed_, trial id)``: its
    features are the same bits whether it runs alone or in any batch, on any number of threads, with any
    ``chunk_ms`` or ``batch_size``. Input spike times are rounded to the nearest multiple of ``dt``. Every check
    (shapes, channel counts, sample times, NaN) runs before any simulation.

    References
    ----------
    Maass W, Natschläger T, Markram H (2002) Neural Comput 14:2531-2560.

    Examples
    --------
    >>> import numpy as np
    >>> from reservoirs import LSM
    >>> X = [(np.array([5.0, 20.0]), np.array([0, 1]))] * 2
    >>> lsm = LSM(grid=(3, 3, 3), duration=50.0, sample_times=[25.0, 50.0], seed=1).fit(X)
    >>> lsm.transform(X).shape
    (2, 2, 27)
    """

    def __init__(self, grid=(15, 3, 3), spacing=1.0, inh_fraction=0.2, lam=2.0, C=(0.3, 0.2, 0.4, 0.1),
                 A=None, weight_cv=1.0, synapse="dynamic",
                 U=(0.5, 0.05, 0.25, 0.32), tau_rec=(1100.0, 125.0, 700.0, 144.0), tau_fac=(50.0, 1200.0, 20.0, 60.0),
                 stp_cv=0.5, delays=(1.5, 0.8, 0.8, 0.8), tau_m=30.0, R=1.0, V_th=15.0, V_reset=13.5,
                 t_ref=(3.0, 2.0), tau_syn=(3.0, 6.0), I_background=13500.0, V_init=(13.5, 15.0), input_p=0.3,
                 input_A=(18000.0, 9000.0), input_synapse="static", input_delay=0.8, current_scale=3000.0,
                 input_dt=1.0, input_type="auto", n_inputs=None, duration=None, sample_times=None, tau=30.0,
                 bin_ms=None, features=("trace",), output="3d", dt=0.1, batch_size=256, chunk_ms=100.0, n_jobs=None,
                 seed=None):
        self.grid = grid
        self.spacing = spacing
        self.inh_fraction = inh_fraction
        self.lam = lam
        self.C = C
        self.A = A
        self.weight_cv = weight_cv
        self.synapse = synapse
        self.U = U
        self.tau_rec = tau_rec
        self.tau_fac = tau_fac
        self.stp_cv = stp_cv
        self.delays = delays
        self.tau_m = tau_m
        self.R = R
        self.V_th = V_th
        self.V_reset = V_reset
        self.t_ref = t_ref
        self.tau_syn = tau_syn
        self.I_background = I_background
        self.V_init = V_init
        self.input_p = input_p
        self.input_A = input_A
        self.input_synapse = input_synapse
        self.input_delay = input_delay
        self.current_scale = current_scale
        self.input_dt = input_dt
        self.input_type = input_type
        self.n_inputs = n_inputs
        self.duration = duration
        self.sample_times = sample_times
        self.tau = tau
        self.bin_ms = bin_ms
        self.features = features
        self.output = output
        self.dt = dt
        self.batch_size = batch_size
        self.chunk_ms = chunk_ms
        self.n_jobs = n_jobs
        self.seed = seed

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Every parameter against its rule (ValueError naming parameter, value and what is allowed)."""
        g = self.grid
        if not isinstance(g, (tuple, list)) or len(g) != 3 or not all(
                isinstance(x, numbers.Integral) and not isinstance(x, bool) and x >= 1 for x in g):
            raise ValueError(f"LSM: parameter grid={g!r} is invalid; it must be 3 integers >= 1 (nx, ny, nz); an "
                             f"empty grid has no neurons.")
        pos = lambda v: v > 0  # noqa: E731
        _check_real("spacing", self.spacing, "finite and > 0", pos)
        _check_real("inh_fraction", self.inh_fraction, "in [0, 1]", lambda v: 0 <= v <= 1)
        _check_real("lam", self.lam, "finite and > 0 (grid units)", pos)
        _check_seq("C", self.C, 4, "a probability in [0, 1] (EE, EI, IE, II)", lambda v: 0 <= v <= 1)
        A = (1.0, 1.0, -1.0, -1.0) if self.A is None else _check_seq("A", self.A, 4, "None or finite (pA)",
                                                                       lambda v: True)
        if not (A[0] > 0 and A[1] > 0 and A[2] < 0 and A[3] < 0):
            raise ValueError(f"LSM: parameter A={self.A!r} is invalid; EE and EI must be > 0 (excitatory), IE and "
                             f"II < 0 (inhibitory), in pA.")
        _check_real("weight_cv", self.weight_cv, "finite and >= 0", lambda v: v >= 0)
        _check_choice("synapse", self.synapse, ("dynamic", "static"))
        _check_seq("U", self.U, 4, "in (0, 1]", lambda v: 0 < v <= 1)
        _check_seq("tau_rec", self.tau_rec, 4, "> 0 (ms)", pos)
        _check_seq("tau_fac", self.tau_fac, 4, ">= 0 (ms)", lambda v: v >= 0)
        _check_real("stp_cv", self.stp_cv, "finite and >= 0", lambda v: v >= 0)
        dt = _check_real("dt", self.dt, "finite and > 0 (ms)", pos)
        delays = _check_seq("delays", self.delays, 4, f">= dt = {dt} ms", lambda v: v >= dt * (1 - 1e-9))
        grid_steps("LSM", "delays", delays, dt)
        _check_real("tau_m", self.tau_m, "> 0 (ms)", pos)
        _check_real("R", self.R, "> 0 (MOhm)", pos)
        vth = _check_real("V_th", self.V_th, "finite (mV)", lambda v: True)
        _check_real("V_reset", self.V_reset, f"< V_th = {vth} mV", lambda v: v < vth)
        grid_steps("LSM", "t_ref", _check_seq("t_ref", self.t_ref, 2, ">= 0 (ms)", lambda v: v >= 0), dt)
        _check_seq("tau_syn", self.tau_syn, 2, "> 0 (ms)", pos)
        ib = self.I_background
        if isinstance(ib, (tuple, list)):
            lo, hi = _check_seq("I_background", ib, 2, "finite (pA)", lambda v: True)
            if lo > hi:
                raise ValueError(f"LSM: parameter I_background={ib!r} is invalid; a range needs low <= high.")
        else:
            _check_real("I_background", ib, "a finite number or (low, high) (pA)", lambda v: True)
        lo, hi = _check_seq("V_init", self.V_init, 2, "finite (mV)", lambda v: True)
        if lo > hi:
            raise ValueError(f"LSM: parameter V_init={self.V_init!r} is invalid; a range needs low <= high.")
        _check_real("input_p", self.input_p, "in [0, 1]", lambda v: 0 <= v <= 1)
        if not (isinstance(self.input_A, str) and self.input_A == "auto"):
            _check_seq("input_A", self.input_A, 2, "> 0 (pA), or 'auto'", pos)
        _check_choice("input_synapse", self.input_synapse, ("dynamic", "static"))
        grid_steps("LSM", "input_delay", _check_real("input_delay", self.input_delay, f">= dt = {dt} ms",
                                                     lambda v: v >= dt * (1 - 1e-9)), dt)
        _check_real("current_scale", self.current_scale, "finite and > 0 (pA)", pos)
        grid_steps("LSM", "input_dt", _check_real("input_dt", self.input_dt, "> 0 (ms)", pos), dt)
        _check_choice("input_type", self.input_type, INPUT_TYPES)
        if self.n_inputs is not None and not (isinstance(self.n_inputs, numbers.Integral)
                                              and not isinstance(self.n_inputs, bool) and self.n_inputs >= 1):
            raise ValueError(f"LSM: parameter n_inputs={self.n_inputs!r} is invalid; it must be None or an int >= 1.")
        if self.duration is not None:
            d = _check_real("duration", self.duration, "None or > 0 (ms)", pos)
            grid_steps("LSM", "duration", d, dt)
        if self.sample_times is not None:
            _sample_steps("LSM", self.sample_times, dt, 1, self.duration)
        _check_real("tau", self.tau, "> 0 (ms)", pos)
        if self.bin_ms is not None:
            grid_steps("LSM", "bin_ms", _check_real("bin_ms", self.bin_ms, "None or > 0 (ms)", pos), dt)
        f = self.features
        if not isinstance(f, (tuple, list)) or not f or not all(isinstance(x, str) and x in FEATURES for x in f) \
                or len(set(f)) != len(f):
            raise ValueError(f"LSM: parameter features={f!r} is invalid; it must be a non-empty tuple of distinct "
                             f"names from {FEATURES}.")
        _check_choice("output", self.output, ("3d", "flat"))
        for key in ("batch_size",):
            v = getattr(self, key)
            if not (isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1):
                raise ValueError(f"LSM: parameter {key}={v!r} is invalid; it must be an int >= 1.")
        _check_real("chunk_ms", self.chunk_ms, "> 0 (ms)", pos)
        if self.n_jobs is not None and not (isinstance(self.n_jobs, numbers.Integral)
                                            and not isinstance(self.n_jobs, bool) and self.n_jobs >= 1):
            raise ValueError(f"LSM: parameter n_jobs={self.n_jobs!r} is invalid; it must be None or an int >= 1.")
        if self.seed is not None and not (isinstance(self.seed, numbers.Integral) and not isinstance(self.seed, bool)
                                          and 0 <= self.seed < 2**63):
            raise ValueError(f"LSM: parameter seed={self.seed!r} is invalid; it must be None or an int in "
                             f"[0, 2**63).")

    # ------------------------------------------------------------------ inputs
    def _input_kind(self, X) -> str:
        if self.input_type != "auto":
            return self.input_type
        if isinstance(X, (list, tuple)):
            return "spikes"
        arr = np.asarray(X)
        if arr.dtype.kind in "iub":
            return "counts"
        return "current"

    def _read_input(self, X, n_inputs: int | None) -> tuple[str, list, float, int]:
        """Check ``X`` and turn it into per-trial data; returns (kind, data, duration, n_channels)."""
        kind = self._input_kind(X)
        dt = float(self.dt)
        if kind == "spikes":
            if not isinstance(X, (list, tuple)) or len(X) == 0:
                raise ValueError(f"LSM: spike-train input X must be a non-empty list of (times_ms, channels) "
                                 f"pairs, one per trial; got {type(X).__name__}.")
            data, top = [], -1
            for b, tr in enumerate(X):
                if not isinstance(tr, (tuple, list)) or len(tr) != 2:
                    raise ValueError(f"LSM: X[{b}] must be a (times_ms, channels) pair; got {type(tr).__name__}.")
                t = np.asarray(tr[0], dtype=np.float64).ravel()
                c = np.asarray(tr[1]).ravel()
                if c.size and c.dtype.kind not in "iu":
                    raise ValueError(f"LSM: X[{b}] channels have dtype {c.dtype}; they must be integers.")
                c = c.astype(np.int64)
                if t.shape != c.shape:
                    raise ValueError(f"LSM: X[{b}] has {t.size} times but {c.size} channels; they must match.")
                if not np.isfinite(t).all() or (t.size and t.min() < 0):
                    raise ValueError(f"LSM: X[{b}] times must be finite and >= 0 ms.")
                if t.size and not t.max() / dt < 2.0**62:  # beyond int64 steps (it wrapped to -9.2e17 ms)
                    raise ValueError(f"LSM: X[{b}] times contain {t.max():g} ms, more than 2**62 steps of dt = {dt} "
                                     f"ms; spike times must lie in [0, {2.0**62 * dt:g}) ms.")
                if c.size and c.min() < 0:
                    raise ValueError(f"LSM: X[{b}] channels contain {c.min()}; channels must be >= 0.")
                if c.size:
                    top = max(top, int(c.max()))
                if n_inputs is not None and c.size and c.max() >= n_inputs:
                    raise ValueError(f"LSM: X[{b}] uses channel {int(c.max())}, but the input projection has "
                                     f"{n_inputs} channels (0..{n_inputs - 1}); the channel count must match.")
                steps = np.rint(t / dt).astype(np.int64)
                order = np.lexsort((c, steps))  # one canonical order: by step, then channel
                data.append((step_times(steps[order], dt), c[order]))
            if self.duration is None:
                raise ValueError("LSM: duration=None; spike-train input needs the run length (ms): pass duration=...")
            return kind, data, float(self.duration), top + 1
        arr = np.asarray(X)
        if arr.ndim != 3 or 0 in arr.shape:
            raise ValueError(f"LSM: {kind} input X must be a non-empty 3-D array (trials, steps, channels); got shape "
                             f"{arr.shape}.")
        if n_inputs is not None and arr.shape[2] != n_inputs:
            raise ValueError(f"LSM: X has {arr.shape[2]} channels, but the input projection has {n_inputs}; the "
                             f"channel count must match.")
        if kind == "counts":
            if arr.dtype.kind not in "iub":
                if not (np.isfinite(arr).all() and np.all(arr == np.round(arr))):
                    raise ValueError("LSM: count input X must hold whole numbers of spikes per step.")
            arr = arr.astype(np.int64)
            if arr.min() < 0:
                raise ValueError(f"LSM: count input X contains {arr.min()}; spike counts must be >= 0.")
            data = []
            for b in range(arr.shape[0]):
                k, ch = np.nonzero(arr[b])
                rep = arr[b][k, ch]
                data.append((step_times(np.repeat(k, rep), dt), np.repeat(ch, rep).astype(np.int64)))
            dur = arr.shape[1] * dt
        else:
            arr = np.asarray(arr, dtype=np.float64)
            if not np.isfinite(arr).all():
                bad = arr[~np.isfinite(arr)].ravel()[0]
                raise ValueError(f"LSM: analog input X contains {bad}; every value must be finite.")
            data = list(arr)
            dur = arr.shape[1] * float(self.input_dt)
        duration = float(self.duration) if self.duration is not None else dur
        return kind, data, duration, arr.shape[2]

    # ------------------------------------------------------------------ fit
    def fit(self, X=None, y=None):
        r"""Build the liquid: E/I assignment, background currents, connectivity and weights.

        Parameters
        ----------
        X : input, optional
            Input in any form :meth:`transform` takes; only its channel count is used (or give ``n_inputs``).
        y : ignored

        Returns
        -------
        self : LSM

        Raises
        ------
        ValueError
            A parameter or ``X`` is invalid (the message names it).
        MemoryError
            The liquid (neurons, expected synapses, and for analog input the dense ``W_current_``) would not fit in
            the memory available (:func:`engine.build.memory.check_fits`, which honours ``POND_MEMORY_LIMIT``);
            checked before anything is allocated.
        engine.interrupt.Interrupted
            Ctrl-C or SIGTERM while the connectivity is drawn (taken between chunks of rows); the LSM is left as it
            was.

        Notes
        -----
        The recurrent connectivity tests only the pairs whose probability can beat a draw
        (:mod:`reservoirs.kernels.distance`): the same synapses as testing all N² pairs, in time proportional to
        N times the neighbourhood within about :math:`\lambda\sqrt{\ln C + 37}` grid units. It runs in chunks of
        rows, with a progress bar after two seconds in a terminal or notebook. The dense analog-input matrix
        ``W_current_`` (N × n_inputs) is drawn only for analog input: at ``fit`` when ``X`` (or ``input_type``) is
        current, else on first use; spike input never allocates it.
        """
        self._check_params()
        family = None if self.input_type == "auto" else INPUT_FAMILY[self.input_type]
        if X is not None:
            kind, _, _, n_in = self._read_input(X, self.n_inputs)
            family = INPUT_FAMILY[kind]
            n_in = self.n_inputs if self.n_inputs is not None else max(n_in, 1)
        elif self.n_inputs is not None:
            n_in = int(self.n_inputs)
        else:
            raise ValueError("LSM: fit needs X or n_inputs to know the number of input channels.")
        seed = int(self.seed) if self.seed is not None else int(np.random.SeedSequence().generate_state(1,
                                                                                                       np.uint64)[0]
                                                                 >> np.uint64(1))
        N = int(np.prod(self.grid))
        self._check_fit_memory(N, int(n_in), family)
        rng = np.random.default_rng(seed)
        r_ei, r_ib, _ = rng.spawn(3)  # the third child draws W_current_ (_draw_W_current)
        positions = grid_positions(tuple(int(g) for g in self.grid), float(self.spacing))
        self.A_, self.input_A_ = self._weight_scales(X, int(n_in))
        n_inh = int(round(N * float(self.inh_fraction)))
        inh = np.zeros(N, dtype=bool)
        inh[r_ei.permutation(N)[:n_inh]] = True
        if isinstance(self.I_background, (tuple, list)):
            ib = r_ib.uniform(float(self.I_background[0]), float(self.I_background[1]), N)
        else:
            ib = np.full(N, float(self.I_background))
        with deferred_interrupts():
            conns = self._connect(seed, n_in, inh, positions)
        draw = (float(self.input_p), float(self.current_scale))
        W_current = _draw_W_current(seed, N, n_in, *draw) if family == "current" else None
        self._set_liquid(seed, n_in, inh, positions, ib, conns, W_current, family, draw)
        return self

    def _expected_synapses(self, N: int, n_in: int) -> float:
        r"""Expected recurrent and input synapses of the liquid, from the grid without drawing anything:
        :math:`\sum_{i \ne j} C_{ab}\,e^{-(D_{ij}/\lambda)^2}` factorises over the axes of the grid."""
        lam, sp = float(self.lam), float(self.spacing)
        total = 1.0
        for n in (int(g) for g in self.grid):
            d = np.arange(1, min(n - 1, int(np.ceil(30.0 * lam / sp))) + 1, dtype=np.float64)
            total *= n + 2.0 * float(np.sum((n - d) * np.exp(-(d * sp / lam) ** 2)))
        pairs = max(total - N, 0.0)  # ordered pairs i != j, weighted by exp(-(D/lam)^2)
        fi = float(self.inh_fraction)
        frac = {"E": 1.0 - fi, "I": fi}
        recurrent = sum(float(self.C[k]) * frac[p[0]] * frac[p[1]] for k, p in enumerate(PAIRS)) * pairs
        return recurrent + float(self.input_p) * n_in * N

    def _check_fit_memory(self, N: int, n_in: int, family) -> None:
        """MemoryError before any allocation when the liquid cannot fit (see :meth:`fit`)."""
        syn = self._expected_synapses(N, n_in)
        need = FIT_BYTES_PER_NEURON * float(N) + FIT_BYTES_PER_SYNAPSE * syn
        what = f"LSM.fit: a liquid of {N} neurons with about {syn:.3g} synapses"
        if family == "current":
            need += CURRENT_BYTES_PER_ENTRY * float(N) * n_in
            what += f" and a dense ({N}, {n_in}) analog-input matrix"
        check_fits(need, what, "use a smaller grid, lam, C or input_p, or fewer input channels.")

    def _connect(self, seed: int, n_in: int, inh: np.ndarray, positions: np.ndarray) -> dict:
        """Synapses (local sources, local targets, weights) of the recurrent and input projections."""
        groups = {"E": np.flatnonzero(~inh), "I": np.flatnonzero(inh)}
        cv = float(self.weight_cv)
        conns = {}

        def weights(name, A, n):
            if cv == 0 or n == 0:
                return np.full(n, float(A))
            _, w = resolve_values(Gamma(1.0 / cv**2, abs(A) * cv**2), n, seed=seed,
                                  stream=named_stream("lsm", name, "weight"), name=f"LSM {name} weight")
            return np.sign(A) * w

        bar = None
        if interactive():
            from tqdm.auto import tqdm

            bar = tqdm(total=4 * inh.size, unit="rows", delay=2.0, leave=False, desc="LSM connectivity")
        try:
            for k, pair in enumerate(PAIRS):
                pre, post = groups[pair[0]], groups[pair[1]]
                if pre.size == 0 or post.size == 0:
                    conns[pair] = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
                    if bar is not None:
                        bar.update(2 * pre.size)
                    continue
                ptr, tgt = self._distance_rows(float(self.C[k]), pre, post, positions, seed,
                                               named_stream("lsm", pair, "connectivity"), pair[0] == pair[1], bar)
                src = np.repeat(np.arange(pre.size, dtype=np.int64), np.diff(ptr))
                conns[pair] = (src, tgt.astype(np.int64), weights(pair, float(self.A_[k]), tgt.size))
        finally:
            if bar is not None:
                bar.close()
        for k, t in enumerate("EI"):
            post = groups[t]
            name = f"in_{t}"
            if post.size == 0:
                conns[name] = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
                continue
            ptr, tgt = build_connectivity(FixedProbability(float(self.input_p)), n_in, post.size, seed=seed,
                                          stream=named_stream("lsm", name, "connectivity"), allow_multapses=False)
            src = np.repeat(np.arange(n_in, dtype=np.int64), np.diff(ptr))
            conns[name] = (src, tgt.astype(np.int64), weights(name, float(self.input_A_[k]), tgt.size))
        return conns

    def _distance_rows(self, C: float, pre: np.ndarray, post: np.ndarray, positions: np.ndarray, seed: int,
                       stream: int, same: bool, bar) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, int32 targets) of ``DistanceDependent(C, lam)`` from grid points ``pre`` to ``post`` (local
        indices), equal to :func:`engine.network.connectivity.build_connectivity`'s, in chunks of rows with a
        Ctrl-C checkpoint and a progress update after each (:mod:`reservoirs.kernels.distance`)."""
        nx, ny, nz = (int(g) for g in self.grid)
        lam, sp = float(self.lam), float(self.spacing)
        post_local = np.full(nx * ny * nz, -1, dtype=np.int64)
        post_local[post] = np.arange(post.size, dtype=np.int64)
        r2 = lam * lam * (math.log(C) + 53.0 * math.log(2.0) + 1.0) if C > 0 else -1.0
        reach = int(math.sqrt(r2) / sp) + 1 if r2 >= 0 else -1
        args = (pre.astype(np.int64), post_local, post.astype(np.int64), positions[pre], positions[post], nx, ny, nz,
                sp * sp, r2, reach, C, 1.0 / (lam * lam), same, seed, stream, _dist.zero_words())
        per_row = min(post.size, (2 * reach + 1) ** 3 if reach >= 0 else 0) + _dist.ZERO_DRAWS
        chunk = max(1, PAIRS_PER_CHUNK // per_row)
        n = pre.size
        sizes = np.zeros(n, dtype=np.int64)
        for r0 in range(0, n, chunk):
            _dist.row_sizes(r0, min(r0 + chunk, n), *args, sizes)
            checkpoint()
            if bar is not None:
                bar.update(min(chunk, n - r0))
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=indptr[1:])
        targets = np.empty(int(indptr[-1]), dtype=np.int32)
        for r0 in range(0, n, chunk):
            _dist.fill_rows(r0, min(r0 + chunk, n), *args, indptr, targets)
            checkpoint()
            if bar is not None:
                bar.update(min(chunk, n - r0))
        return indptr, targets

    @property
    def W_current_(self) -> np.ndarray:
        """Analog input weights (pA per input unit), shape (N, n_inputs): drawn from ``seed_`` on first use (and at
        :meth:`fit` for analog input), never for spike input."""
        check_fitted(self, "connections_")
        if self._W_current is None:
            self._W_current = _draw_W_current(self.seed_, self.n_neurons_, self.n_inputs_, *self._current_draw)
        return self._W_current

    def _set_liquid(self, seed, n_in, inh, positions, ib, conns, W_current, family, draw) -> None:
        self.seed_ = int(seed)
        self.input_kind_ = family
        self._current_draw = draw
        self.n_inputs_ = int(n_in)
        self.n_neurons_ = int(inh.size)
        self.inhibitory_ = inh
        self.positions_ = positions
        self.I_background_ = ib
        self.connections_ = conns
        self._W_current = W_current
        self.n_features_in_ = int(n_in)

    # ------------------------------------------------------------------ network
    def _synapse(self, k: int):
        if self.synapse == "static":
            return StaticSynapse()
        return self._tm(k)

    def _tm(self, k: int):
        cv = float(self.stp_cv)

        def spec(mean):
            return Normal(float(mean), cv * float(mean)) if cv > 0 and mean > 0 else float(mean)

        return TsodyksMarkram(U=spec(self.U[k]), tau_rec=spec(self.tau_rec[k]), tau_fac=spec(self.tau_fac[k]))

    def network(self, input_kind: str = "spikes", record_V_every: int | None = None,
                record_spikes: bool = True, current_rows: int = 1) -> Network:
        """The fitted liquid as an engine :class:`~engine.network.description.Network` (populations ``exc``, ``inh``; input
        ``input`` (a SpikeSource) or ``input_exc``/``input_inh`` (CurrentSources)), e.g. to run or save it.

        Parameters
        ----------
        input_kind : {'spikes', 'counts', 'current'}, default='spikes'
        record_V_every : int, optional
            Add StateMonitors of V every this many steps.
        record_spikes : bool, default=True
            Add SpikeMonitors on both populations.
        current_rows : int, default=1
            Analog input: rows T of the input; the CurrentSources change every ``input_dt`` (zero from T · input_dt
            on); their per-trial amplitudes are set with ``Simulator.set_currents``.
        """
        check_fitted(self, "connections_")
        _check_choice("input_kind", input_kind, ("spikes", "counts", "current"))
        inh = self.inhibitory_
        groups = {"E": np.flatnonzero(~inh), "I": np.flatnonzero(inh)}
        names = {"E": "exc", "I": "inh"}
        dt = float(self.dt)
        net = Network(dt=dt, seed=self.seed_)
        C_m = float(self.tau_m) / float(self.R) * 1000.0  # pF: ms / MOhm = nF
        for k, t in enumerate("EI"):
            idx = groups[t]
            if idx.size == 0:
                continue
            net.add(Population(names[t], int(idx.size), model="iaf_psc_exp", tau_m=float(self.tau_m), C_m=C_m,
                               E_L=0.0, V_th=float(self.V_th), V_reset=float(self.V_reset),
                               t_ref=float(self.t_ref[k]), I_e=self.I_background_[idx],
                               tau_syn_ex=float(self.tau_syn[0]), tau_syn_in=float(self.tau_syn[1]),
                               V_init=(float(self.V_init[0]), float(self.V_init[1])), positions=self.positions_[idx]))
            if record_spikes:
                net.add(SpikeMonitor(names[t]))
            if record_V_every:
                net.add(StateMonitor(names[t], ("V",), every=int(record_V_every)))
        for k, pair in enumerate(PAIRS):
            src, tgt, w = self.connections_[pair]
            if groups[pair[0]].size == 0 or groups[pair[1]].size == 0:
                continue
            syn = self._synapse(k)
            weight = w * float(self.U[k]) if self.synapse == "static" else w
            net.add(Projection(names[pair[0]], names[pair[1]], Explicit(src, tgt), weight=weight,
                               delay=float(self.delays[k]), name=pair, synapse=syn))
        if input_kind in ("spikes", "counts"):
            net.add(SpikeSource("input", self.n_inputs_))
            for k, t in enumerate("EI"):
                if groups[t].size == 0:
                    continue
                src, tgt, w = self.connections_[f"in_{t}"]
                k_tm = 0 if t == "E" else 1  # input from excitatory afferents: EE / EI parameters
                syn = self._tm(k_tm) if self.input_synapse == "dynamic" else StaticSynapse()
                net.add(Projection("input", names[t], Explicit(src, tgt), weight=w,
                                   delay=float(self.input_delay), name=f"input_to_{names[t]}", synapse=syn))
        else:
            every = int(round(float(self.input_dt) / dt))
            times = step_times(np.arange(int(current_rows) + 1) * every, dt)
            for t in "EI":
                if groups[t].size:
                    net.add(CurrentSource(f"input_{names[t]}", names[t], times=times,
                                          amplitude=np.zeros((times.size, groups[t].size))))
        return net

    # ------------------------------------------------------------------ transform
    def transform(self, X, sample_times=None, trial_ids: Sequence[int] | None = None, *, client=None,
                  block_size: int | None = None) -> np.ndarray:
        """Run every trial of ``X`` through the liquid and return its liquid-state features.

        Parameters
        ----------
        X : list of (times_ms, channels), int array (trials, steps, channels) or float array (trials, T, channels)
            Spike trains per trial, spike counts per step of ``dt``, or analog input (one row per ``input_dt``)
            injected as current.
        sample_times : array of shape (S,) or (trials, S), optional
            Sample times (ms) for this call (default: the ``sample_times`` parameter).
        trial_ids : sequence of int, optional
            Trial ids (distinct, >= 0) seeding each trial's initial state; default ``0 .. trials - 1``.
        client : distributed.Client, optional
            Run the trials over this Dask cluster (:func:`engine.parallel.distributed.map_trial_blocks`: blocks of trials,
            each worker building the liquid once) instead of in this process. The features are the same bits, in
            the same order. Default: in this process.
        block_size : int, optional
            Trials per block with a ``client`` (default: about four blocks per worker thread); results never depend
            on it.

        Returns
        -------
        features : ndarray of float64, shape (trials, S, N · k) or (trials, S · N · k)

        Raises
        ------
        ValueError
            Bad input (channel count, NaN, sample times outside the run, ...), before any simulation.
        MemoryError
            The features (and V records) would not fit in the memory available (checked before any simulation).
        """
        check_fitted(self, "connections_")
        self._check_params()
        self._check_input_kind(X)
        kind, data, duration, _ = self._read_input(X, self.n_inputs_)
        B = len(data)
        dt = float(self.dt)
        grid_steps("LSM", "duration", duration, dt)
        if trial_ids is None:
            ids = np.arange(B, dtype=np.int64)
        else:
            ids = np.asarray(trial_ids, dtype=np.int64).ravel()
            if ids.size != B or (ids.size and ids.min() < 0) or np.unique(ids).size != ids.size:
                raise ValueError(f"LSM: trial_ids = {list(trial_ids)!r} is invalid; give {B} distinct ids >= 0.")
        if sample_times is None:
            sample_times = self.sample_times if self.sample_times is not None else [duration]
        steps = _sample_steps("LSM", sample_times, dt, B, duration)
        S = steps.shape[1]
        bin_ms = float(self.bin_ms) if self.bin_ms is not None else "samples"
        k = len(self.features)
        rows_V = int(duration / dt) // int(np.gcd.reduce(steps.ravel())) if "V" in self.features else 0
        check_fits(8 * (2 * B * S * self.n_neurons_ * k + min(B, int(self.batch_size)) * rows_V * self.n_neurons_),
                   f"LSM.transform: the features of {B} trials ({S} samples x {self.n_neurons_} neurons x {k})",
                   "transform fewer trials per call, ask for fewer sample times or features, or a smaller batch_size "
                   "when V is recorded")
        if kind == "current":
            self.W_current_  # drawn (after its memory check) before any simulation
        if client is None:
            if block_size is not None:
                raise ValueError(f"LSM.transform: block_size = {block_size!r} is only used with a Dask client; "
                                 f"pass client= or leave block_size out")
            res = self._run(kind, data, duration, ids, steps, bin_ms)
        else:
            from engine.parallel.distributed import map_trial_blocks

            parts = map_trial_blocks(_feature_block, (self, kind, duration, bin_ms), ids,
                                     {"data": data, "steps": steps}, client=client, block_size=block_size,
                                     desc="LSM trials")
            res = np.concatenate(parts, axis=0)
        return res.reshape(B, -1) if self.output == "flat" else res

    def _check_input_kind(self, X) -> None:
        """ValueError when ``X`` is of the other input family than the one :meth:`fit` saw."""
        fitted = getattr(self, "input_kind_", None)
        family = INPUT_FAMILY[self._input_kind(X)]
        if fitted is not None and family != fitted:
            hint = (" A numeric array of spike trains (np.asarray of a list of (times_ms, channels) pairs) is read as "
                    "current: pass the list itself, or counts per step as an int array." if family == "current"
                    else "")
            raise ValueError(f"LSM.transform: X is read as {_FAMILY_TEXT[family]}, but fit saw "
                             f"{_FAMILY_TEXT[fitted]}; give the same kind of input as in fit (or fit again).{hint}")

    def _run(self, kind, data, duration, ids, steps, bin_ms, simulator=None) -> np.ndarray:
        """Features ``(trials, S, N · k)`` of the trials ``ids``, in batches of ``batch_size`` Simulators made by
        ``simulator(network, trial_ids)`` (default: :class:`~engine.run.simulator.Simulator` on ``n_jobs`` threads)."""
        B, S = steps.shape
        N = self.n_neurons_
        dt = float(self.dt)
        feats = tuple(self.features)
        want_V = "V" in feats
        every = int(np.gcd.reduce(steps.ravel())) if want_V else None
        net = self.network("current" if kind == "current" else "spikes", record_V_every=every,
                           current_rows=data[0].shape[0] if kind == "current" else 1)
        inh = self.inhibitory_
        cols = {"exc": np.flatnonzero(~inh), "inh": np.flatnonzero(inh)}
        cols = {k: v for k, v in cols.items() if v.size}
        out = {f: np.zeros((B, S, N)) for f in feats}
        bs = int(self.batch_size)
        if simulator is None:
            from engine.run.simulator import Simulator

            def simulator(network, trials):
                return Simulator(network, trials=trials, n_jobs=self.n_jobs, chunk_ms=float(self.chunk_ms))

        for lo in range(0, B, bs):
            hi = min(lo + bs, B)
            sim = simulator(net, ids[lo:hi])
            if kind == "current":
                for name, c in cols.items():
                    sim.set_currents(f"input_{name}", [np.vstack([u @ self.W_current_[c].T, np.zeros((1, c.size))])
                                                       for u in data[lo:hi]])
            else:
                sim.set_spikes("input", data[lo:hi])
            sink = LiquidStateSink(cols, N, ids[lo:hi], step_times(steps[lo:hi], dt), dt, float(self.tau),
                                   bin_ms if "counts" in feats else None)
            sim.run(duration, sinks=[sink], keep=False, progress=False)
            if "trace" in feats:
                out["trace"][lo:hi] = sink.traces
            if "counts" in feats:
                out["counts"][lo:hi] = sink.counts
            if want_V:
                for name, c in cols.items():
                    _, V = sim.state(name, "V")
                    rows = steps[lo:hi] // every - 1
                    out["V"][lo:hi, :, c] = np.take_along_axis(V, rows[:, :, None], axis=1)
        return np.concatenate([out[f] for f in feats], axis=2)

    def fit_transform(self, X, y=None, **kw):
        """``fit(X)`` then ``transform(X, **kw)``."""
        return self.fit(X).transform(X, **kw)

    # ------------------------------------------------------------------ weight scaling and regime
    def _weight_scales(self, X, n_in: int) -> tuple[tuple, tuple]:
        """``(A_, input_A_)``: the parameters, or the rules of :func:`recurrent_weights` and :func:`input_weights`."""
        A = (recurrent_weights(self.grid, self.spacing, self.lam, self.C, self.inh_fraction) if self.A is None
             else tuple(float(a) for a in self.A))
        if not (isinstance(self.input_A, str) and self.input_A == "auto"):
            return A, tuple(float(a) for a in self.input_A)
        kind = self._input_kind(X) if X is not None else None
        if kind not in ("spikes", "counts"):
            raise ValueError("LSM: input_A='auto' scales the input weights to the rate of the input, so fit needs "
                             "the spike trains (or counts) in X; give X to fit, or input_A as two numbers (pA).")
        _, data, duration, _ = self._read_input(X, self.n_inputs)
        n_spikes = sum(int(c.size) for _, c in data)
        rate = n_spikes / (len(data) * n_in * duration * 1e-3)
        if rate <= 0 or float(self.input_p) <= 0:
            raise ValueError(f"LSM: input_A='auto' needs input spikes that reach the liquid; X holds {n_spikes} "
                             f"spikes and input_p={self.input_p!r}.")
        return A, input_weights(rate, n_in, float(self.input_p))

    def regime(self, X, trial_ids: Sequence[int] | None = None) -> dict:
        r"""The liquid's activity driven by ``X``: mean rate, ISI CV and spike-contrast synchrony.

        Runs the trials of ``X`` (any input :meth:`transform` takes) and computes, with
        :func:`engine.io.neo_export.spike_statistics` (Elephant's definitions), for the whole liquid and for each
        population: ``rate_hz`` (mean firing rate over neurons and trials), ``cv`` (coefficient of variation of the
        inter-spike intervals of trains with at least three spikes; 1 for Poisson firing, near 0 for regular firing)
        and ``spike_contrast`` (Ciba et al. 2018; 0 asynchronous to 1 synchronous, averaged over trials). A liquid in
        the asynchronous irregular regime fires at a few to a few tens of Hz with CV near 1 and low synchrony; one in
        synchronous volleys near its refractory limit shows CV near 0.

        Parameters
        ----------
        X : input
            As in :meth:`transform` (its duration the run length).
        trial_ids : sequence of int, optional
            Trial ids seeding the initial states (default ``0 .. trials - 1``).

        Returns
        -------
        dict
            ``{"rate_hz", "cv", "spike_contrast", "n_spikes", "duration_ms", "n_trials", "populations"}``, the first
            three for the whole liquid (None where the data do not define them), ``populations`` the full
            :func:`~engine.io.neo_export.spike_statistics` of ``exc`` and ``inh``.

        Raises
        ------
        ImportError
            Neo is not installed (``pip install 'pond[neo]'``).
        ValueError
            Bad input, as :meth:`transform`.

        Examples
        --------
        >>> import numpy as np
        >>> X = [(np.arange(5.0, 200.0, 10.0), np.zeros(20, np.int64))]
        >>> r = LSM(grid=(3, 3, 3), duration=200.0, seed=1).fit(X).regime(X)
        >>> sorted(r)
        ['cv', 'duration_ms', 'n_spikes', 'n_trials', 'populations', 'rate_hz', 'spike_contrast']
        """
        from engine.io.neo_export import spike_statistics, to_neo
        from engine.run.simulator import Simulator

        check_fitted(self, "connections_")
        self._check_params()
        self._check_input_kind(X)
        kind, data, duration, _ = self._read_input(X, self.n_inputs_)
        grid_steps("LSM", "duration", duration, float(self.dt))
        ids = np.arange(len(data), dtype=np.int64) if trial_ids is None else np.asarray(trial_ids, np.int64).ravel()
        if ids.size != len(data) or (ids.size and ids.min() < 0) or np.unique(ids).size != ids.size:
            raise ValueError(f"LSM.regime: trial_ids = {trial_ids!r} is invalid; give {len(data)} distinct ids >= 0.")
        net = self.network("current" if kind == "current" else "spikes",
                           current_rows=data[0].shape[0] if kind == "current" else 1)
        sim = Simulator(net, trials=ids, n_jobs=self.n_jobs, chunk_ms=float(self.chunk_ms))
        if kind == "current":
            inh = self.inhibitory_
            for name, c in (("exc", np.flatnonzero(~inh)), ("inh", np.flatnonzero(inh))):
                if c.size:
                    sim.set_currents(f"input_{name}", [np.vstack([u @ self.W_current_[c].T, np.zeros((1, c.size))])
                                                       for u in data])
        else:
            sim.set_spikes("input", data)
        sim.run(duration, progress=False)
        block = to_neo(sim, t_stop=duration, progress=False)
        pops = spike_statistics(block, progress=False)
        for seg in block.segments:
            for st in seg.spiketrains:
                st.annotations["population"] = "liquid"
        whole = spike_statistics(block, progress=False)["liquid"]
        return {"rate_hz": whole["mean_firing_rate"], "cv": whole["cv"], "spike_contrast": whole["spike_contrast"],
                "n_spikes": int(whole["n_spikes"]), "duration_ms": float(duration), "n_trials": int(ids.size),
                "populations": pops}

    # ------------------------------------------------------------------ save/load
    def _get_state(self):
        params = self.get_params()
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
        if isinstance(params.get("sample_times"), np.ndarray):
            params["sample_times"] = params["sample_times"].tolist()
        arrays = {}
        if hasattr(self, "connections_"):
            arrays = {"seed_": np.array(self.seed_, dtype=np.int64), "inhibitory_": self.inhibitory_,
                      "positions_": self.positions_, "I_background_": self.I_background_,
                      "n_inputs_": np.array(self.n_inputs_, dtype=np.int64),
                      "input_kind_": np.array(_FAMILY_CODE[self.input_kind_], dtype=np.int64)}
            for name, (s, t, w) in self.connections_.items():
                arrays[f"{name}_sources"], arrays[f"{name}_targets"], arrays[f"{name}_weights"] = s, t, w
        return params, arrays

    @classmethod
    def _from_state(cls, params, arrays):
        params = {k: (tuple(v) if isinstance(v, list) and k not in ("sample_times",) else v)
                  for k, v in params.items()}
        est = restore_params(cls, params)
        est._check_params()
        if arrays:
            name = cls.__name__
            conn_names = PAIRS + ("in_E", "in_I")
            required = ["seed_", "inhibitory_", "positions_", "I_background_"] + [
                f"{c}_{p}" for c in conn_names for p in ("sources", "targets", "weights")]
            # files before issue 25 hold W_current_ (whose width was the channel count) instead of n_inputs_ and
            # input_kind_
            check_fields(name, arrays, required, optional=("input_kind_", "n_inputs_", "W_current_"))
            if ("n_inputs_" in arrays) == ("W_current_" in arrays):
                raise ValueError(f"{name}: a file holds n_inputs_ (this version) or W_current_ (before issue 25), "
                                 f"not {'both' if 'n_inputs_' in arrays else 'neither'}.")
            seed = int(check_array(name, "seed_", arrays["seed_"], kind="i", shape=()))
            if not 0 <= seed < 2**63:
                raise ValueError(f"{name}: seed_ = {seed} is invalid; it must be an int in [0, 2**63), as fit draws "
                                 f"or takes it.")
            family = None
            if "input_kind_" in arrays:
                code = int(check_array(name, "input_kind_", arrays["input_kind_"], kind="i", shape=()))
                families = {v: k for k, v in _FAMILY_CODE.items()}
                if code not in families:
                    raise ValueError(f"{name}: input_kind_ = {code} is invalid; it must be 0 (any), 1 (spike "
                                     f"trains) or 2 (current).")
                family = families[code]
            N = int(np.prod(est.grid))
            inh = check_array(name, "inhibitory_", arrays["inhibitory_"], kind="b", shape=(N,))
            pos = check_array(name, "positions_", arrays["positions_"], shape=(N, 3))
            ib = check_array(name, "I_background_", arrays["I_background_"], shape=(N,))
            Wc = None
            if "n_inputs_" in arrays:
                n_in = int(check_array(name, "n_inputs_", arrays["n_inputs_"], kind="i", shape=()))
                if n_in < 1:
                    raise ValueError(f"{name}: n_inputs_ = {n_in} is invalid; it must be >= 1.")
            else:
                Wc = check_array(name, "W_current_", arrays["W_current_"], shape=(N, None))
                n_in = Wc.shape[1]
                if n_in < 1 or not np.array_equal(Wc, _draw_W_current(seed, N, n_in, float(est.input_p),
                                                                      float(est.current_scale))):
                    raise ValueError(f"{name}: W_current_ is not the analog-input matrix that seed_ = {seed} draws "
                                     f"(shape {Wc.shape}); the file was changed.")
            sizes = {"E": int((~inh).sum()), "I": int(inh.sum()), "in": n_in}
            conns = {}
            for c in conn_names:
                pre, post = (("in", c[-1]) if c.startswith("in_") else (c[0], c[1]))
                s = check_array(name, f"{c}_sources", arrays[f"{c}_sources"], kind="i", shape=(None,))
                t = check_array(name, f"{c}_targets", arrays[f"{c}_targets"], kind="i", shape=(s.size,))
                w = check_array(name, f"{c}_weights", arrays[f"{c}_weights"], shape=(s.size,))
                for field, a, n in ((f"{c}_sources", s, sizes[pre]), (f"{c}_targets", t, sizes[post])):
                    if a.size and (a.min() < 0 or a.max() >= n):
                        raise ValueError(f"{name}: {field} holds indices outside [0, {n}).")
                conns[c] = (s, t, w)
            est._set_liquid(seed, n_in, inh, pos, ib, conns, Wc, family,
                            (float(est.input_p), float(est.current_scale)))
        return est

    def save(self, path, readout=None) -> None:
        """Save this LSM (and optionally its trained readout) to ``.h5``/``.hdf5`` or ``.npz`` (no pickle);
        ``lsm, readout = readouts.io.load(path)`` reads them back.

        Parameters
        ----------
        path : str or os.PathLike
        readout : estimator, optional
            A fitted pond readout saved alongside.
        """
        save(path, self, readout)


def _draw_W_current(seed: int, N: int, n_in: int, input_p: float, current_scale: float) -> np.ndarray:
    """The dense analog-input matrix of a liquid seeded ``seed``: each (neuron, channel) link present with
    probability ``input_p``, ``current_scale`` pA per input unit; from the third child of ``seed``'s generator, so the
    same bits whenever it is drawn. MemoryError before drawing when it cannot fit."""
    check_fits(CURRENT_BYTES_PER_ENTRY * float(N) * n_in, f"LSM: the dense ({N}, {n_in}) analog-input matrix "
               f"W_current_", "use fewer input channels or neurons, or spike input (which needs no such matrix).")
    r_cur = np.random.default_rng(seed).spawn(3)[2]
    return r_cur.binomial(1, input_p, (N, n_in)) * current_scale


def _feature_block(shared: tuple, ids: np.ndarray, inputs: dict) -> np.ndarray:
    """Dask worker side of :meth:`LSM.transform`: the features of one block of trials, on one thread, with the
    liquid built once per worker process (:func:`engine.parallel.distributed.block_simulator`)."""
    from engine.parallel.distributed import block_simulator

    lsm, kind, duration, bin_ms = shared

    def simulator(network, trials):
        return block_simulator(network, trials, n_jobs=1, chunk_ms=float(lsm.chunk_ms))

    return lsm._run(kind, inputs["data"], duration, ids, np.asarray(inputs["steps"]), bin_ms, simulator)


# ---------------------------------------------------------------------------------------------------- analysis
def _as_trains(u) -> list:
    """A spike train as a list of per-channel time arrays (ms): an array of times, or (times, channels)."""
    if isinstance(u, tuple) and len(u) == 2:
        t = np.asarray(u[0], dtype=np.float64).ravel()
        c = np.asarray(u[1], dtype=np.int64).ravel()
        n = int(c.max()) + 1 if c.size else 1
        return [t[c == k] for k in range(n)]
    return [np.asarray(u, dtype=np.float64).ravel()]


def spike_train_distance(u, v, duration: float, tau: float = 5.0) -> float:
    r"""Distance of two input spike trains, as Maass et al. (2002) define it for Fig. 2.

    .. math::

        d(u, v) = \frac{\lVert (u - v) * g \rVert_2}{T}, \qquad g(t) = e^{-(t/\tau)^2}

    with :math:`u, v` sums of Dirac pulses at the spike times, time measured in seconds (:math:`T` the duration,
    :math:`\tau` = 5 ms), the L2 norm over the whole time axis (closed form: each pair of spikes contributes
    :math:`\tau\sqrt{\pi/2}\,e^{-(t_i - t_k)^2 / (2\tau^2)}`), summed over channels.

    Parameters
    ----------
    u, v : array of float, or (times_ms, channels)
        Spike times (ms) of one channel, or of several.
    duration : float
        T (ms), > 0.
    tau : float, default=5.0
        Kernel width (ms), > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> spike_train_distance([100.0], [100.0], 500.0)
    0.0
    >>> round(spike_train_distance([100.0], [], 500.0), 4)
    0.1583
    """
    if not (_is_real(duration) and duration > 0 and _is_real(tau) and tau > 0):
        raise ValueError(f"spike_train_distance: duration = {duration!r} and tau = {tau!r} must be > 0 (ms)")
    U, V = _as_trains(u), _as_trains(v)
    n = max(len(U), len(V))
    U += [np.zeros(0)] * (n - len(U))
    V += [np.zeros(0)] * (n - len(V))
    ts = tau * 1e-3
    q = 0.0
    for a, b in zip(U, V):
        t = np.concatenate([a, b]) * 1e-3
        s = np.concatenate([np.ones(a.size), -np.ones(b.size)])
        if t.size:
            q += float(s @ np.exp(-(t[:, None] - t[None, :]) ** 2 / (2 * ts * ts)) @ s) * ts * math.sqrt(math.pi / 2)
    return math.sqrt(max(q, 0.0)) / (duration * 1e-3)


def spike_train_pair(distance: float, rate: float = 20.0, duration: float = 500.0, tau: float = 5.0,
                     dt: float = 0.1, tol: float = 0.01, seed: int | None = None, max_tries: int = 200):
    """Two Poisson spike trains (one channel) at :func:`spike_train_distance` ``distance`` (within ``tol``).

    ``u`` is Poisson at ``rate`` (Hz) on ``[0, duration)``; ``v`` is ``u`` with every spike moved by
    ``sigma · z`` (``z`` standard normal, fixed per spike) and ``sigma`` found by bisection; times are rounded to
    the grid of ``dt`` and kept in ``[0, duration)``. ``distance = 0`` gives ``v = u``. A ``u`` that cannot reach the
    distance (too few spikes) is redrawn.

    Returns
    -------
    u, v : ndarray of float (ms)
    """
    if not (_is_real(distance) and distance >= 0):
        raise ValueError(f"spike_train_pair: distance = {distance!r} must be >= 0")
    rng = np.random.default_rng(seed)
    for _ in range(max_tries):
        n = rng.poisson(rate * duration * 1e-3)
        u = np.sort(np.rint(rng.uniform(0, duration, n) / dt)) * dt
        u = step_times(np.rint(u / dt).astype(np.int64), dt)
        if distance == 0:
            return u, u.copy()
        z = rng.standard_normal(n)

        def moved(sig):
            w = np.clip(np.rint((u + sig * z) / dt), 0, round(duration / dt) - 1).astype(np.int64)
            return step_times(np.sort(w), dt)

        lo, hi = 0.0, 10 * tau
        if spike_train_distance(u, moved(hi), duration, tau) < distance:
            continue
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if spike_train_distance(u, moved(mid), duration, tau) < distance:
                lo = mid
            else:
                hi = mid
        v = moved(hi)
        if abs(spike_train_distance(u, v, duration, tau) - distance) <= tol:
            return u, v
    raise RuntimeError(f"spike_train_pair: no pair at distance {distance} within {tol} after {max_tries} tries")


def state_distance(states_u: np.ndarray, states_v: np.ndarray) -> np.ndarray:
    r"""Euclidean distance :math:`\lVert x_u(t) - x_v(t) \rVert` of two liquid-state arrays over the last axis.

    Parameters
    ----------
    states_u, states_v : ndarray of shape (..., N)
        Liquid states (e.g. :meth:`LSM.transform` output of shape (trials, S, N)).

    Returns
    -------
    ndarray of shape (...)
    """
    a, b = np.asarray(states_u, dtype=np.float64), np.asarray(states_v, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"state_distance: shapes {a.shape} and {b.shape} differ; they must match")
    return np.sqrt(((a - b) ** 2).sum(axis=-1))


def state_rank(states: np.ndarray, rtol: float = 0.05) -> int:
    r"""Effective rank of a matrix of liquid states (one row per input): the number of singular values
    :math:`\sigma_i > \mathrm{rtol}\cdot\sigma_1`.

    Spiking liquids never give exactly dependent states, so the rank of Legenstein & Maass (2007) is counted with a
    threshold relative to the largest singular value; ``rtol`` in (0, 1).
    """
    M = np.asarray(states, dtype=np.float64)
    if M.ndim != 2:
        raise ValueError(f"state_rank: states must be 2-D (inputs, neurons); got shape {M.shape}")
    if not (_is_real(rtol) and 0 < rtol < 1):
        raise ValueError(f"state_rank: rtol = {rtol!r} is not allowed; it must lie in (0, 1)")
    s = np.linalg.svd(M, compute_uv=False)
    return int(np.count_nonzero(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def kernel_quality(lsm: LSM, X, rtol: float = 0.05, **transform_kw) -> int:
    """Kernel quality (Legenstein & Maass 2007): the :func:`state_rank` of the liquid states, at the last sample
    time, of ``m`` *different* inputs ``X`` (higher: the liquid separates more inputs)."""
    F = lsm.transform(X, **transform_kw)
    F = F.reshape(F.shape[0], -1, lsm.n_neurons_ * len(lsm.features))[:, -1, :]
    return state_rank(F, rtol)


def generalization_rank(lsm: LSM, X, rtol: float = 0.05, **transform_kw) -> int:
    """Generalisation rank (Legenstein & Maass 2007): the :func:`state_rank` of the states of ``m`` *noisy
    variants* of one input (lower: the liquid generalises better); a good liquid has a high kernel quality and a low
    generalisation rank, which Legenstein & Maass find near the edge of chaos."""
    return kernel_quality(lsm, X, rtol, **transform_kw)


def plot_raster(lsm: LSM, x, duration: float | None = None, ax=None):
    """Raster of one trial of input ``x`` (one trial in :meth:`LSM.transform`'s forms); E black, I red.
    Returns the matplotlib axes (matplotlib is imported here only)."""
    import matplotlib.pyplot as plt
    from engine.run.simulator import Simulator

    check_fitted(lsm, "connections_")
    X = [x] if isinstance(x, tuple) else np.asarray(x)[None]
    kind, data, dur, _ = lsm._read_input(X, lsm.n_inputs_)
    if kind == "current":
        raise ValueError("plot_raster: give spike-train input (analog input: run lsm.network('current') yourself)")
    dur = float(duration) if duration is not None else dur
    sim = Simulator(lsm.network("spikes"), trials=1)
    sim.set_spikes("input", data)
    sim.run(dur, progress=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    inh = lsm.inhibitory_
    for name, color in (("exc", "k"), ("inh", "r")):
        idx = np.flatnonzero(inh if name == "inh" else ~inh)
        if idx.size:
            t, i = sim.spikes(name)
            ax.plot(t, idx[i], "|", color=color, ms=3)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron (grid index)")
    return ax


def plot_state_distance(times, curves: dict, ax=None):
    """State distance over time, one line per label (``curves[label]`` of shape (S,) or (pairs, S), averaged over
    pairs). Returns the matplotlib axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for label, c in curves.items():
        c = np.asarray(c, dtype=np.float64)
        ax.plot(times, c.mean(axis=0) if c.ndim == 2 else c, label=str(label))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("state distance")
    ax.legend()
    return ax
