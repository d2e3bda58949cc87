"""Model description: validated, plain dataclasses that say *what* to simulate, never *how*.

Units (one convention everywhere in pond, as in NEST): time in ms, voltage in mV, current in pA, capacitance in pF,
rates in Hz, positions in arbitrary length units. Weights are pA for exponential-current synapses (the jump of the
synaptic current) and mV for delta synapses (the jump of the membrane potential); a negative weight is inhibitory.

Every class checks its own rules in ``__post_init__`` and :meth:`replace` copies, applies the change and re-checks
before anything is committed, so an object never holds an invalid combination (NEST's ``set_status`` habit).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Sequence

import numpy as np

from engine.models.neurons import NEURON_MODELS, neuron_model
from engine.models.spec import NeuronModel, SynapseModel
from engine.models.synapses import SYNAPSE_MODELS, StaticSynapse
from engine.network.distributions import DISTRIBUTIONS


def state_variables() -> tuple[str, ...]:
    """The state variables some registered neuron model can record (a monitor's population says which of them its
    model has; :class:`Network` checks when both are added)."""
    return tuple(dict.fromkeys(v for m in NEURON_MODELS.values() for v in m.state_names))


def _finite_number(owner: str, name: str, value: Any, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} = {value!r} must be a number (in {unit})") from None
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} = {v} {unit} is not allowed; it must be finite")
    return v


def _positive(owner: str, name: str, value: Any, unit: str, meaning: str) -> float:
    v = _finite_number(owner, name, value, unit)
    if v <= 0:
        raise ValueError(f"{owner}: {name} = {v} {unit} is not allowed; the {meaning} must be > 0")
    return v


def _finite_array(owner: str, name: str, value: Any, shape: tuple | None, unit: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{owner}: {name} has shape {arr.shape}; expected {shape}")
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{owner}: {name} contains {bad}; every value must be finite ({unit})")
    return arr


def _check_indices(owner: str, indices: Any) -> np.ndarray:
    """A 1-D array of neuron indices >= 0 (the upper bound is checked at build, where sizes are known)."""
    idx = np.asarray(indices)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"{owner}: indices must be a 1-D integer array, got {idx.dtype} of shape {idx.shape}")
    if idx.size and idx.min() < 0:
        raise ValueError(f"{owner}: indices contains {idx.min()}; neuron indices must be >= 0")
    return idx.astype(np.int64)


def _check_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{kind}: name = {name!r} is not allowed; use a non-empty identifier such as 'exc'")
    return name


def _check_size(owner: str, size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{owner}: size = {size!r} is not allowed; it must be an integer >= 1")
    return int(size)


class _Validated:
    """Mixin: ``replace`` builds a checked copy, so updates are all-or-nothing."""

    def replace(self, **changes: Any):
        """Return a copy with ``changes`` applied; raises (leaving ``self`` untouched) if any rule breaks."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-friendly description (arrays become lists)."""
        out = {"type": type(self).__name__}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        return out


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {"type": type(v).__name__, **{f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


class Population(_Validated):
    r"""A population of ``size`` neurons of one model, with the model's parameters.

    ``Population(name, size, model="iaf_psc_exp", **params)``: the model (one of
    :data:`engine.models.neurons.NEURON_MODELS`) says which parameters it takes, their units, defaults and rules, and
    checks them; its module's docstring writes out its equations and parameter table
    (:mod:`engine.models.neurons.iaf_psc_exp`, :mod:`engine.models.neurons.iaf_psc_delta`). Parameters are read as
    attributes (``pop.tau_m``); a parameter the model does not have is refused with the list of those it has.
    Parameters marked per-neuron in the model's table (``I_e``) take one number or an array of ``size`` values.

    Parameters
    ----------
    name : str
        Identifier of the population, unique in a :class:`Network`.
    size : int
        Number of neurons, >= 1.
    model : str, default="iaf_psc_exp"
        The neuron model's name.
    V_init : float, (low, high), distribution or array of shape (size,), optional
        Initial membrane potential (mV): a number, ``(low, high)`` for uniform random values drawn per trial, a
        distribution (e.g. ``Normal(-58, 10)``) drawn per neuron and trial, or one value per neuron. Default
        ``E_L``.
    positions : array of shape (size, 3), optional
        Neuron positions, used by distance-dependent connectivity.
    **params
        The model's parameters (ms, mV, pA, pF).

    Attributes
    ----------
    params : dict
        Every parameter of the model, the defaults filled in (read-only).
    spec : NeuronModel
        The model's spec (:mod:`engine.models.spec`).

    See Also
    --------
    Projection, Network, engine.models.neurons
    """

    __slots__ = ("name", "size", "model", "V_init", "positions", "params")

    def __init__(self, name: str, size: int, model: str = "iaf_psc_exp", *, V_init: Any = None,
                 positions: Any = None, **params: Any):
        _check_name("Population", name)
        owner = f"Population {name!r}"
        n = _check_size(owner, size)
        spec = neuron_model(model, owner)
        checked = spec.validate(owner, params, n)
        for key, value in (("name", name), ("size", n), ("model", model), ("params", MappingProxyType(checked))):
            object.__setattr__(self, key, value)
        object.__setattr__(self, "V_init", self._check_v_init(owner, V_init, n))
        if positions is not None:
            positions = _finite_array(owner, "positions", positions, (n, 3), "length")
        object.__setattr__(self, "positions", positions)

    def __getattr__(self, key: str) -> Any:
        try:
            params = object.__getattribute__(self, "params")
        except AttributeError:  # not initialised yet (unpickling)
            params = None
        if params is not None and not key.startswith("__") and key in params:
            return params[key]
        known = f"; model {self.model!r} has the parameters {', '.join(params)}" if params is not None else ""
        raise AttributeError(f"Population has no attribute {key!r}{known}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"Population is immutable: use pop.replace({key}=...) for a checked copy")

    def __getstate__(self) -> dict:
        return {**self._fields(), "params": dict(self.params)}

    def __setstate__(self, state: dict) -> None:
        params = state.pop("params")
        self.__init__(**state, **params)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Population(name={self.name!r}, size={self.size}, model={self.model!r}, {params})"

    def _fields(self) -> dict:
        return {"name": self.name, "size": self.size, "model": self.model, "V_init": self.V_init,
                "positions": self.positions}

    @property
    def spec(self) -> NeuronModel:
        """The spec of this population's model."""
        return neuron_model(self.model)

    def replace(self, **changes: Any) -> "Population":
        """A checked copy with ``changes`` applied (parameters by name, or ``name``, ``size``, ``V_init``,
        ``positions``); raises, leaving ``self`` untouched, if any rule breaks. Changing ``model`` keeps only the
        parameters the new model has."""
        fields = self._fields()
        params = dict(self.params)
        if "model" in changes and changes["model"] != self.model:
            keep = {p.name for p in neuron_model(changes["model"], f"Population {self.name!r}").parameters}
            params = {k: v for k, v in params.items() if k in keep}
        for k, v in changes.items():
            (fields if k in fields else params)[k] = v
        return Population(**fields, **params)

    def to_dict(self) -> dict:
        """JSON-friendly description (arrays become lists): the type, name, size, model, every parameter, V_init
        and positions."""
        return {"type": "Population", "name": self.name, "size": self.size, "model": self.model,
                **{k: _jsonable(v) for k, v in self.params.items()}, "V_init": _jsonable(self.V_init),
                "positions": _jsonable(self.positions)}

    def _check_v_init(self, owner: str, v: Any, n: int):
        if v is None:
            return self.params.get("E_L", 0.0)
        if isinstance(v, DISTRIBUTIONS):
            return v
        if np.ndim(v) == 0:
            return _finite_number(owner, "V_init", v, "mV")
        if isinstance(v, tuple) and len(v) == 2:
            lo = _finite_number(owner, "V_init[0]", v[0], "mV")
            hi = _finite_number(owner, "V_init[1]", v[1], "mV")
            if lo > hi:
                raise ValueError(f"{owner}: V_init = ({lo}, {hi}) is not allowed; a uniform range needs low <= high")
            return (lo, hi)
        return _finite_array(owner, "V_init", v, (n,), "mV")


@dataclass(frozen=True, eq=False)
class PoissonSource(_Validated):
    """Independent Poisson spike trains, one per channel, drawn per trial from a counter-based generator.

    In each step of length ``dt`` channel ``i`` emits :math:`k \\sim \\mathrm{Poisson}(r_i\\,dt)` spikes (so rates
    above ``1/dt`` are fine: several spikes in one step are delivered with multiplicity, as NEST's
    ``poisson_generator`` does).

    A *drive* (constant rates, one one-to-one static projection with one weight and one delay, no monitor on the
    source) is not queued: each channel's count for the emission step ``k - delay`` is drawn at step ``k`` where its
    target is updated, by the same counter-based draw, and added first among the step's inputs. Spikes are those of
    the queued path; a target that also gets recurrent input in the step may differ in the last bit of its current
    (another order of additions), and :meth:`Simulator.set_rates` between runs reaches the drive's spikes in flight.

    Parameters
    ----------
    name : str
        Identifier, unique in the network.
    size : int
        Number of channels, >= 1.
    rate : float or array
        Rate in Hz, >= 0: a number (all channels), an array of ``size`` rates, or, with ``rate_times``, an array of
        shape ``(len(rate_times), size)`` or ``(len(rate_times),)`` giving piecewise-constant rates.
    rate_times : array of float, optional
        Start times (ms, increasing, first one 0) of the piecewise-constant rate segments.
    """

    name: str
    size: int
    rate: Any = 0.0
    rate_times: Any = None

    def __post_init__(self):
        _check_name("PoissonSource", self.name)
        owner = f"PoissonSource {self.name!r}"
        n = _check_size(owner, self.size)
        object.__setattr__(self, "size", n)
        if self.rate_times is None:
            rate = np.asarray(self.rate, dtype=np.float64)
            if rate.ndim == 0:
                rate = _finite_array(owner, "rate", rate, (), "Hz")
            else:
                rate = _finite_array(owner, "rate", rate, (n,), "Hz")
        else:
            times = _finite_array(owner, "rate_times", self.rate_times, None, "ms")
            if times.ndim != 1 or times.size == 0 or times[0] != 0.0 or np.any(np.diff(times) <= 0):
                raise ValueError(f"{owner}: rate_times = {times.tolist()[:5]}... is not allowed; it must be a 1-D, "
                                 "strictly increasing array starting at 0 ms")
            object.__setattr__(self, "rate_times", times)
            rate = np.asarray(self.rate, dtype=np.float64)
            shape = (times.size,) if rate.ndim == 1 else (times.size, n)
            rate = _finite_array(owner, "rate", rate, shape, "Hz")
        if np.any(rate < 0):
            raise ValueError(f"{owner}: rate contains {rate[rate < 0].ravel()[0]} Hz; rates must be >= 0")
        object.__setattr__(self, "rate", rate if rate.ndim else float(rate))


@dataclass(frozen=True, eq=False)
class SpikeSource(_Validated):
    """Spikes at given times on given channels (Brian2's ``SpikeGeneratorGroup``, NEST's ``spike_generator``).

    Times must lie on the time grid of the network's ``dt`` (the one rule for every time in a model, see
    :mod:`engine.network.grid`); an off-grid time is refused when the network is built. Different trials of a batch
    run can get different spike trains through ``Simulator.set_spikes``; these here are the default for every trial.

    Parameters
    ----------
    name : str
        Identifier, unique in the network.
    size : int
        Number of channels, >= 1.
    times : array of float
        Spike times (ms, >= 0).
    indices : array of int
        Channel of each spike, in ``[0, size)``; same length as ``times``.
    """

    name: str
    size: int
    times: Any = ()
    indices: Any = ()

    def __post_init__(self):
        _check_name("SpikeSource", self.name)
        owner = f"SpikeSource {self.name!r}"
        object.__setattr__(self, "size", _check_size(owner, self.size))
        times, indices = check_spike_arrays(owner, self.times, self.indices, self.size)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "indices", indices)


def check_spike_arrays(owner: str, times: Any, indices: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate one spike train set: finite times >= 0 and integer channel indices in range, same length."""
    t = _finite_array(owner, "times", times, None, "ms").ravel()
    idx = np.asarray(indices)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{owner}: indices have dtype {idx.dtype}; they must be integers")
    idx = idx.astype(np.int64).ravel()
    if t.shape != idx.shape:
        raise ValueError(f"{owner}: times has {t.size} entries but indices has {idx.size}; they must match")
    if t.size and t.min() < 0:
        raise ValueError(f"{owner}: times contains {t.min()} ms; spike times must be >= 0")
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx[(idx < 0) | (idx >= size)][0]
        raise ValueError(f"{owner}: indices contains {bad}; channel indices must lie in [0, {size})")
    return t, idx


@dataclass(frozen=True, eq=False)
class CurrentSource(_Validated):
    """Injected current (pA) into neurons of one population: DC, or piecewise constant in time.

    Parameters
    ----------
    name : str
        Identifier, unique in the network.
    target : str
        Name of the target :class:`Population`.
    amplitude : float or array
        pA. Without ``times``: a number or one value per neuron in ``indices``. With ``times``: shape ``(len(times),)``
        or ``(len(times), n_indices)``, the value holding from each time on.
    times : array of float, optional
        Change times (ms, strictly increasing, >= 0). Before the first time the current is 0.
    indices : array of int, optional
        Target neurons (default: all).
    """

    name: str
    target: str
    amplitude: Any = 0.0
    times: Any = None
    indices: Any = None

    def __post_init__(self):
        _check_name("CurrentSource", self.name)
        owner = f"CurrentSource {self.name!r}"
        if self.indices is not None:
            object.__setattr__(self, "indices", _check_indices(owner, self.indices))
        amp = np.asarray(self.amplitude, dtype=np.float64)
        if self.times is not None:
            times = _finite_array(owner, "times", self.times, None, "ms")
            if times.ndim != 1 or times.size == 0 or np.any(np.diff(times) <= 0) or times[0] < 0:
                raise ValueError(f"{owner}: times must be a non-empty, strictly increasing 1-D array of times >= 0 ms")
            object.__setattr__(self, "times", times)
            if amp.ndim == 0 or amp.shape[0] != times.size or amp.ndim > 2:
                raise ValueError(f"{owner}: amplitude has shape {amp.shape}; with {times.size} change times it "
                                 f"must be ({times.size},) or ({times.size}, n_indices)")
        elif amp.ndim > 1:
            raise ValueError(f"{owner}: amplitude has shape {amp.shape}; a DC current takes a number or a 1-D array")
        object.__setattr__(self, "amplitude", _finite_array(owner, "amplitude", amp, None, "pA"))


@dataclass(frozen=True, eq=False)
class Projection(_Validated):
    """Synapses from a population or source to a population.

    Parameters
    ----------
    source : str
        Name of the presynaptic :class:`Population`, :class:`PoissonSource` or :class:`SpikeSource`.
    target : str
        Name of the postsynaptic :class:`Population`.
    rule : connectivity rule
        One of :mod:`engine.network.connectivity` (``FixedProbability(0.02)``, ``FixedInDegree(100)``, ...).
    weight : float, distribution or array
        pA (iaf_psc_exp targets) or mV (iaf_psc_delta targets). Sign selects the channel: > 0 excitatory, < 0
        inhibitory. An array gives one value per synapse in the order the rule generates them (CSR by source).
    delay : float, distribution or array
        Transmission delay in ms, >= dt. Numbers and arrays must be multiples of dt; values drawn from a
        distribution are rounded to the nearest step (as NEST does).
    allow_autapses, allow_multapses : bool
        Whether i -> i synapses (same population only) and repeated (i, j) pairs are allowed.
    name : str, optional
        Identifier; defaults to ``"<source>_to_<target>"``. The projection's random draws (connectivity, weights,
        delays, synapse parameters) are keyed by it, so other projections never change them.
    synapse : StaticSynapse or TsodyksMarkram, default=StaticSynapse()
        What a spike does at the synapse (:mod:`engine.models.synapses`): deliver ``weight``, or ``weight·u·x``
        with Tsodyks–Markram short-term plasticity. Whether the input is a current jump (pA) or a voltage jump (mV)
        is the target population's model.
    """

    source: str
    target: str
    rule: Any
    weight: Any = 1.0
    delay: Any = 1.0
    allow_autapses: bool = True
    allow_multapses: bool = True
    name: str | None = None
    synapse: Any = None

    def __post_init__(self):
        if self.synapse is None:
            object.__setattr__(self, "synapse", StaticSynapse())
        if not isinstance(self.synapse, SynapseModel):
            raise TypeError(f"Projection: synapse = {self.synapse!r} is not allowed; give one of "
                            f"{[c.__name__ + '()' for c in SYNAPSE_MODELS.values()]} (engine.models.synapses)")
        if self.name is None:
            object.__setattr__(self, "name", f"{self.source}_to_{self.target}")
        _check_name("Projection", self.name)
        owner = f"Projection {self.name!r}"
        if not hasattr(self.rule, "validate"):
            raise TypeError(f"{owner}: rule = {self.rule!r} is not a connectivity rule from "
                            "engine.network.connectivity")
        for flag in ("allow_autapses", "allow_multapses"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{owner}: {flag} = {getattr(self, flag)!r} must be True or False")


@dataclass(frozen=True, eq=False)
class SpikeMonitor(_Validated):
    """Record every spike (step and neuron) of a population or source."""

    source: str


@dataclass(frozen=True, eq=False)
class StateMonitor(_Validated):
    """Sample state variables (``"V"``, ``"I_ex"``, ``"I_in"``) of chosen neurons every ``every`` steps.

    The sample at step ``k`` is the state after step ``k`` (the value at time ``(k + 1) · dt``), as NEST's
    multimeter with ``interval = every · dt`` reports it.
    """

    target: str
    variables: Sequence[str] = ("V",)
    indices: Any = None
    every: int = 1

    def __post_init__(self):
        owner = f"StateMonitor on {self.target!r}"
        variables = tuple(self.variables)
        known = state_variables()
        for v in variables:
            if v not in known:
                raise ValueError(f"{owner}: variable {v!r} is not allowed; choose from {known}")
        if not variables:
            raise ValueError(f"{owner}: variables is empty; name at least one of {known}")
        object.__setattr__(self, "variables", variables)
        if isinstance(self.every, bool) or not isinstance(self.every, (int, np.integer)) or self.every < 1:
            raise ValueError(f"{owner}: every = {self.every!r} is not allowed; it must be an integer >= 1 (steps)")
        if self.indices is not None:
            object.__setattr__(self, "indices", _check_indices(owner, self.indices))


@dataclass(frozen=True, eq=False)
class RateMonitor(_Validated):
    """Population rate of a population or source in every step: :meth:`Simulator.rate` gives Hz (spikes in the step
    divided by ``size · dt``, like Brian2's ``PopulationRateMonitor``), :meth:`Simulator.spike_counts` the integer
    counts. The value of step ``k`` is stamped ``k · dt``, like the spikes it counts."""

    target: str


@dataclass(eq=False)
class Network:
    """A container of populations, sources, projections and monitors with a step size and a seed.

    Parameters
    ----------
    dt : float, default=0.1
        Integration step (ms), > 0.
    seed : int, default=0
        Seed of connectivity, weight/delay sampling, random initial states and stimuli (>= 0).

    Examples
    --------
    >>> from engine import Network, Population, PoissonSource, Projection, SpikeMonitor
    >>> from engine.network.connectivity import FixedProbability
    >>> net = Network(dt=0.1, seed=1)
    >>> _ = net.add(Population("exc", 100, tau_m=20.0, V_init=(-65.0, -50.0)),
    ...             PoissonSource("noise", 20, rate=50.0),
    ...             Projection("noise", "exc", FixedProbability(0.5), weight=80.0, delay=1.0),
    ...             SpikeMonitor("exc"))
    >>> net.size
    100
    """

    dt: float = 0.1
    seed: int = 0
    populations: list = field(default_factory=list)
    sources: list = field(default_factory=list)
    currents: list = field(default_factory=list)
    projections: list = field(default_factory=list)
    monitors: list = field(default_factory=list)

    def __post_init__(self):
        self.dt = _positive("Network", "dt", self.dt, "ms", "time step")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or not 0 <= self.seed < 2**63:
            raise ValueError(f"Network: seed = {self.seed!r} is not allowed; it must be an integer in [0, 2**63)")
        self.seed = int(self.seed)

    def add(self, *objects) -> "Network":
        """Add populations, sources, current sources, projections and monitors; returns the network."""
        for obj in objects:
            if isinstance(obj, Population):
                self._unique(obj.name)
                self.populations.append(obj)
            elif isinstance(obj, (PoissonSource, SpikeSource)):
                self._unique(obj.name)
                self.sources.append(obj)
            elif isinstance(obj, CurrentSource):
                self._unique(obj.name)
                self.currents.append(obj)
            elif isinstance(obj, Projection):
                self._unique(obj.name)
                self.projections.append(obj)
            elif isinstance(obj, (SpikeMonitor, StateMonitor, RateMonitor)):
                self.monitors.append(obj)
            else:
                raise TypeError(f"Network.add: cannot add {obj!r}; expected a Population, PoissonSource, SpikeSource, "
                                "CurrentSource, Projection or monitor")
        return self

    def _unique(self, name: str) -> None:
        if name in self.names():
            raise ValueError(f"Network: the name {name!r} is used twice; names of populations, sources, currents and "
                             "projections must be unique")

    def names(self) -> list[str]:
        """Names of every named object in the network."""
        return [o.name for o in (*self.populations, *self.sources, *self.currents, *self.projections)]

    def get(self, name: str):
        """The population, source, current source or projection called ``name``."""
        for o in (*self.populations, *self.sources, *self.currents, *self.projections):
            if o.name == name:
                return o
        raise KeyError(f"no object named {name!r} in the network; names are {self.names()}")

    @property
    def size(self) -> int:
        """Total number of neurons."""
        return sum(p.size for p in self.populations)

    def to_dict(self) -> dict:
        """JSON-friendly description of the whole model (stored with spike files for reproducibility)."""
        return {
            "dt": self.dt,
            "seed": self.seed,
            "populations": [p.to_dict() for p in self.populations],
            "sources": [s.to_dict() for s in self.sources],
            "currents": [c.to_dict() for c in self.currents],
            "projections": [p.to_dict() for p in self.projections],
            "monitors": [m.to_dict() for m in self.monitors],
        }

    def __repr__(self) -> str:
        """One line: step, seed, neurons per population, sources, projections and monitors (synapses exist only
        once a :class:`~engine.run.simulator.Simulator` has built the network)."""
        def listed(objs) -> str:
            kinds = {PoissonSource: "poisson", SpikeSource: "spikes"}
            shown = ", ".join(f"{o.name} {o.size:,} {getattr(o, 'model', None) or kinds.get(type(o), '')}".rstrip()
                              for o in objs[:4])
            return shown + (f", ... ({len(objs)} in all)" if len(objs) > 4 else "")

        parts = [f"dt={self.dt:g} ms", f"seed={self.seed}",
                 f"{self.size:,} neurons" + (f" ({listed(self.populations)})" if self.populations else "")]
        if self.sources:
            parts.append(f"sources ({listed(self.sources)})")
        if self.currents:
            parts.append(f"{len(self.currents)} current source{'s' * (len(self.currents) != 1)}")
        parts.append(f"{len(self.projections)} projection{'s' * (len(self.projections) != 1)}")
        parts.append(f"{len(self.monitors)} monitor{'s' * (len(self.monitors) != 1)}")
        return f"Network({', '.join(parts)})"
