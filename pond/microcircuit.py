r"""The Potjans & Diesmann (2014) cortical microcircuit, at full scale or down-scaled, as an :class:`engine.Network`.

The model of 1 mm² of early sensory cortex: 77,169 ``iaf_psc_exp`` neurons in eight populations (an excitatory and
an inhibitory one in each of layers 2/3, 4, 5 and 6), about 0.3 billion synapses, and Poisson background input. The
parameters and conventions are those of NEST's PyNEST example ``Potjans_2014`` (``network_params.py``,
``network.py``, ``helpers.py``; NEST 3), whose full-scale rates are the reference (:data:`REFERENCE_RATES`).

Neurons (every population): ``iaf_psc_exp`` with :math:`C_m` = 250 pF, :math:`\tau_m` = 10 ms,
:math:`\tau_{syn}` = 0.5 ms (excitatory and inhibitory), :math:`E_L` = -65 mV, :math:`V_{th}` = -50 mV,
:math:`V_{reset}` = -65 mV, :math:`t_{ref}` = 2 ms, step :math:`dt` = 0.1 ms.

Connectivity: projection :math:`j \to i` (source population :math:`j`, target :math:`i`) holds a fixed total number
of synapses, source and target of each drawn uniformly with replacement (multapses and autapses allowed, NEST's
``fixed_total_number``). The full-scale number follows from the connection probability :math:`p_{ij}`
(:data:`CONN_PROBS`) of the original model, in which each of the :math:`N_i N_j` pairs is drawn with replacement:

.. math::

    K_{ij} = \frac{\ln(1 - p_{ij})}{\ln\left(\frac{N_i N_j - 1}{N_i N_j}\right)}

Weights (pA) are normal with mean :math:`J_{ij}` and standard deviation :math:`0.1\,|J_{ij}|`, redrawn when their
sign differs from the mean's (NEST's ``redraw`` with bound 0). :math:`J_{ij} = J` for excitatory sources,
:math:`g J` with :math:`g = -4` for inhibitory ones, and :math:`2J` for L4E → L2/3E. :math:`J` is the current whose
postsynaptic potential peaks at 0.15 mV (:func:`psc_over_psp`): 87.81 pA. Delays (ms) are normal, mean 1.5 (excitatory
sources) or 0.75 (inhibitory), standard deviation half the mean, redrawn below :math:`dt` and rounded to the grid.

Background: every neuron of population :math:`i` receives an independent Poisson train of rate
:math:`\nu_{bg} K_{ext,i}` (:math:`\nu_{bg}` = 8 Hz, :math:`K_{ext}` = :data:`K_EXT`), weight :math:`J`, delay 1.5 ms
(NEST: one ``poisson_generator`` per population, connected all-to-all).

Initial membrane potentials: ``v0="optimized"`` (NEST's default) draws them per population from a normal with the
population's mean and standard deviation (:data:`V0_OPTIMIZED`, chosen to reduce the initial burst);
``v0="original"`` from :math:`N(-58, 10)` mV for every population.

Down-scaling (NEST's ``N_scaling`` and ``K_scaling``, as in ``helpers.adjust_weights_and_input_to_synapse_scaling``):
with neuron scale :math:`s` and in-degree scale :math:`k`,

.. math::

    N_i' = \mathrm{round}(s N_i), \quad K_{ij}' = \mathrm{round}(s k K_{ij}), \quad
    K_{ext,i}' = \mathrm{round}(k K_{ext,i}), \quad J' = J / \sqrt{k}

so in-degrees scale by :math:`k`, and the mean input lost with them is given back as a DC current (pA) per
population, computed with the full-scale in-degrees and the reference rates :math:`\nu_j` (Hz):

.. math::

    I_{DC,i} = 10^{-3}\,\tau_{syn}\,(1 - \sqrt{k})
    \left(\sum_j J_{ij} \frac{K_{ij}}{N_i} \nu_j + J K_{ext,i} \nu_{bg}\right)

(the factor :math:`10^{-3}` turns ms·Hz into a number). Scaling weights by :math:`1/\sqrt{k}` keeps the variance of
the input; the DC current keeps its mean. Rates of a down-scaled network therefore stay close to the full-scale ones
while :math:`k` is not too small (van Albada et al. 2015). With ``poisson_input=False`` the background is replaced by
its mean, a DC current :math:`10^{-3} \tau_{syn} J K_{ext,i} \nu_{bg}` (NEST's ``dc_input_compensating_poisson``).

Units: ms, mV, pA, pF, Hz, as everywhere in pond.

References
----------
Potjans TC, Diesmann M (2014) The cell-type specific cortical microcircuit: relating structure and activity in a
full-scale spiking network model. Cereb Cortex 24:785-806.

van Albada SJ, Helias M, Diesmann M (2015) Scalability of asynchronous networks is limited by one-to-one mapping
between effective connectivity and correlations. PLoS Comput Biol 11:e1004490.

Examples
--------
>>> from pond.microcircuit import microcircuit
>>> net = microcircuit(scale=0.01, k_scale=0.1, seed=1)
>>> [p.size for p in net.populations]
[207, 58, 219, 55, 48, 11, 144, 29]
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["POPULATIONS", "FULL_SIZES", "CONN_PROBS", "K_EXT", "REFERENCE_RATES", "V0_OPTIMIZED", "psc_over_psp",
           "MicrocircuitParameters", "microcircuit_parameters", "microcircuit", "microcircuit_toml"]

#: Population names, in NEST's order (layer 2/3, 4, 5, 6; excitatory then inhibitory).
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: Neurons per population at full scale (77,169 in all).
FULL_SIZES = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)
#: Connection probabilities ``CONN_PROBS[target][source]`` (Potjans & Diesmann 2014, Table 5).
CONN_PROBS = (
    (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    (0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0),
    (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    (0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0),
    (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    (0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443),
)
#: External (background) in-degree of each population at full scale.
K_EXT = (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100)
#: Mean rates (Hz) of the full-scale model in NEST 3 (``full_mean_rates`` of NEST's example: one run, 4 threads);
#: the down-scaled models' DC compensation uses them, and they are the benchmark's reference.
REFERENCE_RATES = {"L23E": 0.903, "L23I": 2.965, "L4E": 4.414, "L4I": 5.876, "L5E": 7.569, "L5I": 8.633,
                   "L6E": 1.105, "L6I": 7.829}
#: Initial membrane potential per population, ``(mean, std)`` in mV, of NEST's ``V0_type = "optimized"``.
V0_OPTIMIZED = ((-68.28, 5.36), (-63.16, 4.57), (-63.33, 4.74), (-63.45, 4.94), (-63.11, 4.94), (-61.66, 4.55),
                (-66.72, 5.46), (-61.43, 4.48))
_V0_ORIGINAL = (-58.0, 10.0)

_NEURON = {"C_m": 250.0, "tau_m": 10.0, "E_L": -65.0, "V_th": -50.0, "V_reset": -65.0, "t_ref": 2.0}
_TAU_SYN = 0.5  # ms, excitatory and inhibitory
_DT = 0.1  # ms
_PSP_EXC = 0.15  # mV, peak of the mean excitatory PSP
_G = -4.0  # relative inhibitory weight
_WEIGHT_REL_STD = 0.1
_DELAY_MEAN = (1.5, 0.75)  # ms, excitatory and inhibitory sources
_DELAY_REL_STD = 0.5
_BG_RATE = 8.0  # Hz
_DELAY_POISSON = 1.5  # ms
_V0_TYPES = ("optimized", "original")
_RECORD = ("spikes", "rates", None)


def psc_over_psp(C_m: float = 250.0, tau_m: float = 10.0, tau_syn: float = 0.5) -> float:
    r"""The current amplitude (pA) per mV of peak postsynaptic potential of an ``iaf_psc_exp`` neuron.

    A current jump :math:`J` decaying with :math:`\tau_{syn}` gives the potential

    .. math::

        v(t) = \frac{J \tau_m \tau_{syn}}{C_m (\tau_m - \tau_{syn})}
               \left(e^{-t/\tau_m} - e^{-t/\tau_{syn}}\right)

    whose maximum is reached at :math:`t^* = \frac{\tau_m \tau_{syn}}{\tau_m - \tau_{syn}}
    \ln\frac{\tau_m}{\tau_{syn}}`; the function returns :math:`J / v(t^*)` (NEST's
    ``helpers.postsynaptic_potential_to_current``). With the microcircuit's values, 585.4 pA/mV.

    Parameters
    ----------
    C_m : float, default=250.0
        Membrane capacitance (pF), > 0.
    tau_m : float, default=10.0
        Membrane time constant (ms), > 0.
    tau_syn : float, default=0.5
        Synaptic time constant (ms), > 0 and != ``tau_m``.

    Returns
    -------
    float
        pA per mV.

    Examples
    --------
    >>> round(0.15 * psc_over_psp(), 2)
    87.81
    """
    for name, v in (("C_m", C_m), ("tau_m", tau_m), ("tau_syn", tau_syn)):
        if not isinstance(v, numbers.Real) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"psc_over_psp: {name} = {v!r} is not allowed; it must be a finite number > 0")
    if tau_syn == tau_m:
        raise ValueError(f"psc_over_psp: tau_syn = tau_m = {tau_m} ms is not allowed; the two must differ")
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / C_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


@dataclass(frozen=True)
class MicrocircuitParameters:
    """The derived numbers of one (possibly down-scaled) microcircuit; arrays index ``[target, source]`` in the
    order of :data:`POPULATIONS`. Built by :func:`microcircuit_parameters`; :func:`microcircuit` turns them into a
    network, and the benchmark hands them to NEST so both simulate the same model.

    Attributes
    ----------
    scale, k_scale : float
        Neuron and in-degree scale factors.
    sizes : ndarray of int64, shape (8,)
        Neurons per population.
    synapses : ndarray of int64, shape (8, 8)
        Synapses of each projection ``source -> target`` (0: no projection).
    weight_mean : ndarray of float64, shape (8, 8)
        Mean weight (pA) of each projection, scaled by :math:`1/\\sqrt{k}`; its standard deviation is 0.1 of its
        magnitude.
    weight_std : ndarray of float64, shape (8, 8)
        Standard deviation of the weights (pA).
    delay_mean, delay_std : ndarray of float64, shape (8, 8)
        Mean and standard deviation of the delays (ms).
    k_ext : ndarray of int64, shape (8,)
        Background in-degree; the Poisson rate into each neuron is ``bg_rate · k_ext`` (Hz), 0 without Poisson input.
    weight_ext : float
        Weight of the background input (pA).
    bg_rate : float
        Background rate per external synapse (Hz): 8.
    delay_ext : float
        Delay of the background input (ms): 1.5.
    dc : ndarray of float64, shape (8,)
        DC input current per population (pA): the down-scaling compensation, plus the background's mean without
        Poisson input.
    v0_mean, v0_std : ndarray of float64, shape (8,)
        Mean and standard deviation of the initial membrane potentials (mV).
    poisson_input : bool
        Whether the background is Poisson input (else its mean is part of ``dc``).
    """

    scale: float
    k_scale: float
    sizes: np.ndarray
    synapses: np.ndarray
    weight_mean: np.ndarray
    weight_std: np.ndarray
    delay_mean: np.ndarray
    delay_std: np.ndarray
    k_ext: np.ndarray
    weight_ext: float
    bg_rate: float
    delay_ext: float
    dc: np.ndarray
    v0_mean: np.ndarray
    v0_std: np.ndarray
    poisson_input: bool

    @property
    def n_neurons(self) -> int:
        """Neurons in all."""
        return int(self.sizes.sum())

    @property
    def n_synapses(self) -> int:
        """Recurrent synapses in all (the background's one-to-one connections not counted)."""
        return int(self.synapses.sum())

    def to_dict(self) -> dict:
        """JSON-friendly form (lists), e.g. to hand the model to another simulator."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}


def _check_scale(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not 0.0 < float(value) <= 1.0:
        raise ValueError(f"microcircuit: {name} = {value!r} is not allowed; it must be a number in (0, 1]")
    return float(value)


def _check_options(scale, k_scale, v0, poisson_input) -> tuple[float, float]:
    scale, k_scale = _check_scale("scale", scale), _check_scale("k_scale", k_scale)
    smallest = min(FULL_SIZES)
    if round(smallest * scale) < 1:
        raise ValueError(f"microcircuit: scale = {scale!r} is not allowed; it leaves population "
                         f"{POPULATIONS[FULL_SIZES.index(smallest)]} ({smallest} neurons at full scale) empty; "
                         f"scale must be in ({0.5 / smallest:.6g}, 1]")
    if v0 not in _V0_TYPES:
        raise ValueError(f"microcircuit: v0 = {v0!r} is not allowed; choose one of {_V0_TYPES}")
    if not isinstance(poisson_input, (bool, np.bool_)):
        raise ValueError(f"microcircuit: poisson_input = {poisson_input!r} is not allowed; it must be True or False")
    return scale, k_scale


def microcircuit_parameters(scale: float = 1.0, k_scale: float = 1.0, *, v0: str = "optimized",
                            poisson_input: bool = True) -> MicrocircuitParameters:
    r"""Sizes, synapse numbers, weights, delays, background and DC input of the microcircuit at the given scales.

    Follows NEST's example to the number: :math:`K_{ij}` uses its floating-point expression
    ``log(1 - p) / log((N_i N_j - 1) / (N_i N_j))`` and NumPy's rounding (half to even), so at any scale the synapse
    numbers equal NEST's. See the module docstring for the equations.

    Parameters
    ----------
    scale : float, default=1.0
        Neuron scale :math:`s`, in (0, 1] (small enough values that would leave a population empty are refused).
    k_scale : float, default=1.0
        In-degree scale :math:`k`, in (0, 1]; weights scale by :math:`1/\sqrt{k}` and a DC current makes up for the
        lost mean input.
    v0 : {"optimized", "original"}, default="optimized"
        Initial membrane potentials: per-population normals (NEST's default) or :math:`N(-58, 10)` mV for all.
    poisson_input : bool, default=True
        Poisson background; ``False`` replaces it by its mean as a DC current.

    Returns
    -------
    MicrocircuitParameters

    Examples
    --------
    >>> p = microcircuit_parameters()
    >>> p.n_neurons, p.n_synapses
    (77169, 298880968)
    """
    scale, k_scale = _check_options(scale, k_scale, v0, poisson_input)
    full_n = np.array(FULL_SIZES, dtype=np.float64)
    probs = np.array(CONN_PROBS, dtype=np.float64)
    prod = np.outer(full_n, full_n)
    full_k = np.log(1.0 - probs) / np.log((prod - 1.0) / prod)  # NEST's expression, bit for bit
    sizes = np.round(full_n * scale).astype(np.int64)
    synapses = np.round(full_k * scale * k_scale).astype(np.int64)
    k_ext_full = np.array(K_EXT, dtype=np.float64)
    k_ext = np.round(k_ext_full * k_scale).astype(np.int64)

    j = _PSP_EXC * psc_over_psp(_NEURON["C_m"], _NEURON["tau_m"], _TAU_SYN)
    full_mean = np.zeros((8, 8))
    full_mean[:, 0::2] = j
    full_mean[:, 1::2] = _G * j
    full_mean[0, 2] = 2.0 * j  # L4E -> L23E doubled
    dc = np.zeros(8) if poisson_input else 1e-3 * _TAU_SYN * _BG_RATE * k_ext_full * j
    if k_scale != 1.0:
        rates = np.array([REFERENCE_RATES[p] for p in POPULATIONS])
        input_rec = np.sum(full_mean * (full_k / full_n[:, None]) * rates, axis=1)
        dc = dc + 1e-3 * _TAU_SYN * (1.0 - np.sqrt(k_scale)) * input_rec
        if poisson_input:
            dc = dc + 1e-3 * _TAU_SYN * (1.0 - np.sqrt(k_scale)) * j * k_ext_full * _BG_RATE
    weight_mean = full_mean / np.sqrt(k_scale)
    delay_mean = np.zeros((8, 8))
    delay_mean[:, 0::2], delay_mean[:, 1::2] = _DELAY_MEAN
    if v0 == "optimized":
        v0_mean, v0_std = (np.array(c, dtype=np.float64) for c in zip(*V0_OPTIMIZED))
    else:
        v0_mean, v0_std = np.full(8, _V0_ORIGINAL[0]), np.full(8, _V0_ORIGINAL[1])
    return MicrocircuitParameters(
        scale=scale, k_scale=k_scale, sizes=sizes, synapses=synapses, weight_mean=weight_mean,
        weight_std=np.abs(weight_mean) * _WEIGHT_REL_STD, delay_mean=delay_mean,
        delay_std=delay_mean * _DELAY_REL_STD, k_ext=k_ext if poisson_input else np.zeros(8, np.int64),
        weight_ext=float(j / np.sqrt(k_scale)), bg_rate=_BG_RATE, delay_ext=_DELAY_POISSON, dc=dc,
        v0_mean=v0_mean, v0_std=v0_std, poisson_input=bool(poisson_input))


def microcircuit(scale: float = 1.0, k_scale: float = 1.0, seed: int = 55, *, v0: str = "optimized",
                 poisson_input: bool = True, record: str | None = "spikes"):
    r"""The Potjans & Diesmann (2014) microcircuit as an :class:`engine.Network` (see the module docstring).

    Populations are named as in :data:`POPULATIONS`; projection ``"L4E_to_L23E"`` holds the synapses from L4E onto
    L2/3E; Poisson source ``"bg_L23E"`` (one channel per neuron, ``bg_rate · K_ext`` Hz each) drives L2/3E one to one
    through projection ``"bg_L23E_to_L23E"``. Projections with no synapse are left out. Delays are
    ``Normal(mean, mean / 2, low=dt)``: NEST redraws below ``dt / 2`` and rounds, pond refuses a drawn delay below
    ``dt``, so the few draws in ``[dt / 2, dt)`` (1 % of inhibitory delays) are redrawn here instead of rounded up
    to one step.

    Parameters
    ----------
    scale : float, default=1.0
        Neuron scale, in (0, 1]: population sizes ``round(scale · N)``.
    k_scale : float, default=1.0
        In-degree scale, in (0, 1], with weights scaled by ``1/sqrt(k_scale)`` and DC compensation.
    seed : int, default=55
        The network's seed (connectivity, weights, delays, initial potentials, Poisson input), >= 0. 55 is the seed
        of NEST's example (the two simulators' random streams differ regardless).
    v0 : {"optimized", "original"}, default="optimized"
        Initial membrane potentials (see :func:`microcircuit_parameters`).
    poisson_input : bool, default=True
        Poisson background, or its mean as DC current.
    record : {"spikes", "rates", None}, default="spikes"
        A :class:`~engine.network.description.SpikeMonitor` on every population, a :class:`~engine.network.description.RateMonitor` (spike
        counts per step, the cheapest record for population rates) on every population, or no monitor.

    Returns
    -------
    engine.Network
        dt = 0.1 ms.

    See Also
    --------
    microcircuit_parameters, microcircuit_toml

    Examples
    --------
    >>> net = microcircuit(scale=0.05, k_scale=0.05, record="rates")
    >>> net.size, len(net.projections)
    (3858, 63)
    """
    from engine import Network, PoissonSource, Population, Projection, RateMonitor, SpikeMonitor
    from engine.network.connectivity import FixedTotalNumber, OneToOne
    from engine.network.distributions import Normal

    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"microcircuit: seed = {seed!r} is not allowed; it must be an integer in [0, 2**63)")
    if record not in _RECORD:
        raise ValueError(f"microcircuit: record = {record!r} is not allowed; choose one of {_RECORD}")
    p = microcircuit_parameters(scale, k_scale, v0=v0, poisson_input=poisson_input)
    net = Network(dt=_DT, seed=int(seed))
    for i, name in enumerate(POPULATIONS):
        net.add(Population(name, int(p.sizes[i]), model="iaf_psc_exp", **_NEURON, tau_syn_ex=_TAU_SYN,
                           tau_syn_in=_TAU_SYN, I_e=float(p.dc[i]),
                           V_init=Normal(float(p.v0_mean[i]), float(p.v0_std[i]))))
    if p.poisson_input:
        for i, name in enumerate(POPULATIONS):
            net.add(PoissonSource(f"bg_{name}", int(p.sizes[i]), rate=float(p.bg_rate * p.k_ext[i])))
    for i, target in enumerate(POPULATIONS):
        for j, source in enumerate(POPULATIONS):
            n = int(p.synapses[i, j])
            if n == 0:
                continue
            net.add(Projection(source, target, FixedTotalNumber(n), allow_autapses=True, allow_multapses=True,
                               weight=Normal(float(p.weight_mean[i, j]), float(p.weight_std[i, j])),
                               delay=Normal(float(p.delay_mean[i, j]), float(p.delay_std[i, j]), low=_DT)))
    if p.poisson_input:
        for i, name in enumerate(POPULATIONS):
            net.add(Projection(f"bg_{name}", name, OneToOne(), weight=p.weight_ext, delay=p.delay_ext))
    monitor = {"spikes": SpikeMonitor, "rates": RateMonitor, None: None}[record]
    if monitor is not None:
        net.add(*(monitor(name) for name in POPULATIONS))
    return net


def _toml_value(v) -> str:
    """A TOML literal of a number, a bool, a string or a distribution of :mod:`engine.network.distributions`."""
    from engine.network.distributions import Normal

    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        return repr(float(v))
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, Normal):
        bounds = "".join(f", {k} = {_toml_value(getattr(v, k))}" for k in ("low", "high") if getattr(v, k) is not None)
        return f'{{dist = "normal", mean = {_toml_value(v.mean)}, std = {_toml_value(v.std)}{bounds}}}'
    raise TypeError(f"no TOML form for {v!r}")


def microcircuit_toml(scale: float = 1.0, k_scale: float = 1.0, seed: int = 55, *, v0: str = "optimized",
                      poisson_input: bool = True, record: str | None = "spikes", duration: float = 1500.0) -> str:
    """The network of :func:`microcircuit` as the text of a model file (:mod:`engine.io.modelfile`).

    ``pond/examples/microcircuit.toml`` is ``microcircuit_toml()``: the full-scale model, a spike monitor on every
    population and a 1.5 s run (NEST's example: 0.5 s of transient, then 1 s). Every number is written so that
    reading it back gives the same float.

    Parameters
    ----------
    scale, k_scale, seed, v0, poisson_input, record
        As for :func:`microcircuit`.
    duration : float, default=1500.0
        The ``[run]`` duration (ms), > 0, a multiple of 0.1 ms.

    Returns
    -------
    str
        TOML text; :func:`engine.io.modelfile.loads_model` reads it back into the same network.
    """
    from engine.network.connectivity import FixedTotalNumber, OneToOne
    from engine.network.description import RateMonitor, SpikeMonitor

    if isinstance(duration, (bool, np.bool_)) or not isinstance(duration, numbers.Real) or not duration > 0 \
            or not math.isfinite(duration) or abs(round(duration / _DT) * _DT - duration) > 1e-9 * duration:
        raise ValueError(f"microcircuit_toml: duration = {duration!r} is not allowed; it must be a finite number of "
                         f"ms > 0, a multiple of dt = {_DT} ms")
    net = microcircuit(scale, k_scale, seed, v0=v0, poisson_input=poisson_input, record=record)
    p = microcircuit_parameters(scale, k_scale, v0=v0, poisson_input=poisson_input)
    lines = [
        "# Potjans & Diesmann (2014) cortical microcircuit, with the parameters and conventions of NEST 3's PyNEST",
        "# example Potjans_2014: 8 populations of iaf_psc_exp neurons (tau_syn 0.5 ms), fixed-total-number",
        "# connectivity with multapses, normal weights (J = 87.81 pA, i.e. a 0.15 mV PSP; relative SD 0.1; g = -4;",
        "# L4E -> L23E doubled) and delays (1.5 / 0.75 ms, relative SD 0.5, redrawn below dt), independent Poisson",
        "# background of 8 Hz times K_ext per neuron, initial V from per-population normals ('optimized').",
        f"# scale = {p.scale:g}, k_scale = {p.k_scale:g}: {p.n_neurons:,} neurons, {p.n_synapses:,} synapses.",
        "# Generated by pond.microcircuit.microcircuit_toml(); do not edit (tests/test_microcircuit.py checks it).",
        "# Units: ms, mV, pA, pF, Hz.  Run it:  pond run microcircuit.toml -o microcircuit_spikes.h5",
        f'description = "Potjans & Diesmann 2014 microcircuit (scale {p.scale:g}, k_scale {p.k_scale:g}), '
        'as NEST\'s Potjans_2014 example"',
        "",
        "[network]",
        f"dt = {_toml_value(net.dt)}",
        f"seed = {net.seed}",
    ]
    for pop in net.populations:
        lines += ["", "[[population]]", f'name = "{pop.name}"', f"size = {pop.size}", f'model = "{pop.model}"']
        for key in ("tau_m", "C_m", "E_L", "V_th", "V_reset", "t_ref", "I_e", "tau_syn_ex", "tau_syn_in",
                    "V_init"):
            lines.append(f"{key} = {_toml_value(getattr(pop, key))}")
    for src in net.sources:
        lines += ["", "[[poisson]]", f'name = "{src.name}"', f"size = {src.size}", f"rate = {_toml_value(src.rate)}"]
    for proj in net.projections:
        lines += ["", "[[projection]]", f'source = "{proj.source}"', f'target = "{proj.target}"']
        if isinstance(proj.rule, FixedTotalNumber):
            lines.append(f'rule = {{type = "fixed_total_number", n = {proj.rule.n}}}')
        elif isinstance(proj.rule, OneToOne):
            lines.append('rule = "one_to_one"')
        else:  # pragma: no cover - the builder makes only these two
            raise TypeError(f"no TOML form for {proj.rule!r}")
        lines += [f"weight = {_toml_value(proj.weight)}", f"delay = {_toml_value(proj.delay)}"]
        if isinstance(proj.rule, FixedTotalNumber):
            lines += ["allow_autapses = true", "allow_multapses = true"]
    for mon in net.monitors:
        if isinstance(mon, SpikeMonitor):
            lines += ["", "[[monitor]]", 'type = "spikes"', f'source = "{mon.source}"']
        elif isinstance(mon, RateMonitor):
            lines += ["", "[[monitor]]", 'type = "rate"', f'target = "{mon.target}"']
    lines += ["", "[run]", f"duration = {_toml_value(float(duration))}", ""]
    return "\n".join(lines)
