"""Projection of pond.pynn: PyNN's connectors, two ways.

**Exact path** (PyNN's own algorithm). A connector given a PyNN random generator (``NumpyRNG``, ``GSLRNG``), the
deterministic list connectors (``FromListConnector``, ``FromFileConnector``, ``ArrayConnector``), distance- and
index-dependent connectors, and any connector between views or assemblies or with per-connection parameter
expressions (``RandomDistribution``, functions of distance, arrays) run PyNN's connector code, which calls
:meth:`Projection._convergent_connect` once per target cell. The connections, weights and delays are then exactly
those PyNN defines for that seed (the set ``pyNN.nest`` makes from the same script).

**Fast path** (pond's compiled rules). ``AllToAllConnector``, ``OneToOneConnector``, ``FixedProbabilityConnector``,
``FixedNumberPreConnector``, ``FixedNumberPostConnector`` and ``FixedTotalNumberConnector`` from ``pond.pynn``
given *no* ``rng`` (or a ``NativeRNG``: "the simulator's own generator", as in PyNN's NEST backend), between whole
populations with one weight and one delay, become :mod:`engine.network.connectivity` rules drawn in compiled code from the
network's seed (``setup(rng_seed=...)``) and the projection's position among the projections. The connection set is
then pond's, not the one PyNN's default ``NumpyRNG(seed=151985012)`` would draw. The connections exist as arrays only
when asked for (``len``, ``get``, ``set``, ``connections``, ``save``); they are then drawn by the same rule and
stream, and the simulation uses exactly those arrays.

Weights are kept in PyNN's units (nA, or mV onto ``IF_curr_delta``) and delays in ms rounded to the time step;
``set(...)`` before the first run changes what is simulated; after a run, it is refused at the next ``run()`` unless
``reset()`` comes first.
"""
from __future__ import annotations

import copy

import numpy as np
from pyNN import common, connectors, errors
from pyNN.random import NativeRNG, NumpyRNG
from pyNN.space import Space

from engine.network import connectivity as rules
from engine.random import named_stream
from pond.pynn import simulator
from pond.pynn.populations import Population
from pond.pynn.simulator import PondNotSupportedError
from pond.pynn.standardmodels import StaticSynapse, TsodyksMarkramSynapse


class Connection(common.Connection):
    """One connection of a projection: ``weight``, ``delay`` (and ``U``, ``tau_rec``, ``tau_facil`` for
    Tsodyks–Markram synapses) read and written in PyNN's units."""

    def __init__(self, projection: "Projection", index: int):
        self.projection = projection
        self.index = index

    @property
    def presynaptic_index(self) -> int:
        return int(self.projection._arrays()[0][self.index])

    @property
    def postsynaptic_index(self) -> int:
        return int(self.projection._arrays()[1][self.index])

    def _get(self, native: str) -> float:
        return float(self.projection._arrays()[2][native][self.index])

    def _set(self, native: str, value: float) -> None:
        if native == "delay":
            value = float(simulator.state.round_delays(np.array([value]))[0])
        self.projection._arrays()[2][native][self.index] = value
        simulator.state.changed(f"{native} of a connection of projection {self.projection.label!r} set after run()")

    weight = property(lambda self: self._get("weight"), lambda self, v: self._set("weight", v))
    delay = property(lambda self: self._get("delay"), lambda self, v: self._set("delay", v))
    U = property(lambda self: self._get("U"), lambda self, v: self._set("U", v))
    tau_rec = property(lambda self: self._get("tau_rec"), lambda self, v: self._set("tau_rec", v))
    tau_facil = property(lambda self: self._get("tau_fac"), lambda self, v: self._set("tau_fac", v))

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, {"tau_fac": "tau_facil"}.get(n, n)) for n in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None,
                 source=None, receptor_type=None, space=Space(), label=None):
        if synapse_type is not None and not isinstance(synapse_type, (StaticSynapse, TsodyksMarkramSynapse)):
            raise PondNotSupportedError(f"pond.pynn cannot run synapse type {type(synapse_type).__name__}; it runs "
                                        "pond.pynn.StaticSynapse and pond.pynn.TsodyksMarkramSynapse")
        if synapse_type is not None:  # before PyNN guesses the receptor type from the weight's sign
            weight = synapse_type.parameter_space["weight"].base_value
            if isinstance(weight, (int, float, np.number, np.ndarray, list)):
                check_finite_weights(weight)
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type,
                                   source, receptor_type, space, label)
        state = simulator.state
        state.changed("a Projection created after run()")
        self._index = len(state.projections)
        self.engine_name = f"projection{self._index}"
        self._chunks: list = []  # (pre, post, {native: values}) as PyNN's connector hands them over
        self._data = None  # (pre, post, {native: array}) once joined
        self.rule = native_rule(connector, self)
        if self.rule is None:
            if isinstance(getattr(connector, "rng", None), NativeRNG):
                raise PondNotSupportedError(
                    f"pond.pynn: {type(connector).__name__} with a NativeRNG runs on pond's compiled rules, which "
                    "connect whole populations with one weight and one delay; give a NumpyRNG for PyNN's algorithm")
            if not _fixed_probability_at_once(connector, self):
                connector.connect(self)
        state.projections.append(self)

    # ------------------------------------------------------------------ building
    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None,
                            **connection_parameters):
        if location_selector is not None:
            raise PondNotSupportedError("pond.pynn has point neurons only: location_selector is not supported")
        connection_parameters.pop("dendritic_delay_fraction", None)
        pre = np.asarray(presynaptic_indices, dtype=np.int64).ravel()
        values = {}
        for name, value in connection_parameters.items():
            arr = np.broadcast_to(np.asarray(value, dtype=np.float64), pre.shape)
            if name == "weight":
                check_finite_weights(arr)
            values[name] = simulator.state.round_delays(arr) if name == "delay" else arr
        self._chunks.append((pre, np.full(pre.size, int(postsynaptic_index), dtype=np.int64), values))
        self._data = None

    def _arrays(self):
        """``(pre, post, {native name: values})`` of every connection, in creation order (drawn now on the fast
        path, which then becomes the explicit list the simulation uses)."""
        if self.rule is not None:
            self._materialize()
        if self._data is None:
            names = self.synapse_type.get_native_names()
            if self._chunks:
                pre = np.concatenate([c[0] for c in self._chunks])
                post = np.concatenate([c[1] for c in self._chunks])
                values = {n: np.concatenate([np.broadcast_to(c[2][n], c[0].shape) for c in self._chunks]).copy()
                          for n in names}
            else:
                pre = post = np.zeros(0, np.int64)
                values = {n: np.zeros(0) for n in names}
            self._data = (pre, post, values)
            self._chunks = []
        return self._data

    def _materialize(self) -> None:
        """Draw the fast-path rule as explicit arrays (the same draws the engine would make)."""
        rule, autapses, multapses = self.rule
        n_pre, n_post = self.pre.size, self.post.size
        indptr, targets = rules.build_connectivity(
            rule, n_pre, n_post, seed=simulator.state.rng_seed,
            stream=named_stream("projection", self.engine_name, "connectivity"), allow_autapses=autapses,
            allow_multapses=multapses, same_population=self.pre is self.post)
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(indptr))
        values = {n: np.full(pre.size, v) for n, v in self.homogeneous_values().items()}
        self.rule = None
        self._chunks = [(pre, targets.astype(np.int64), values)]
        self._data = None

    def homogeneous_values(self) -> dict:
        """The synapse type's native parameters as numbers (fast path only)."""
        return _constant_values(self)

    # ------------------------------------------------------------------ PyNN access
    def __len__(self) -> int:
        if self.rule is None and self._data is None:
            return int(sum(c[0].size for c in self._chunks))
        return int(self._arrays()[0].size)

    @property
    def connections(self):
        """The connections of this projection as :class:`Connection` objects."""
        return (Connection(self, i) for i in range(len(self)))

    def __getitem__(self, i):
        return Connection(self, i)

    def _get_attributes_as_list(self, names):
        pre, post, values = self._arrays()
        columns = []
        for n in names:
            if n == "presynaptic_index":
                columns.append(pre.astype(float))
            elif n == "postsynaptic_index":
                columns.append(post.astype(float))
            else:
                columns.append(values[n])
        return [tuple(float(c[k]) for c in columns) for k in range(pre.size)]

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        pre, post, values = self._arrays()
        ops = {"sum": (np.add.at, 0.0), "min": (np.minimum.at, np.inf), "max": (np.maximum.at, -np.inf)}
        out = []
        for n in names:
            v = values[n]
            if multiple_synapses in ops:
                op, fill = ops[multiple_synapses]
                arr = np.full(self.shape, fill)
                op(arr, (pre, post), v)
            else:  # 'first' or 'last'
                arr = np.full(self.shape, np.nan)
                order = np.arange(pre.size)[::-1] if multiple_synapses == "first" else np.arange(pre.size)
                arr[pre[order], post[order]] = v[order]
            missing = np.ones(self.shape, dtype=bool)
            missing[pre, post] = False
            arr[missing] = np.nan
            out.append(arr)
        return out

    def _set_attributes(self, parameter_space):
        pre, post, values = self._arrays()
        parameter_space.evaluate(simplify=True)
        for name, value in parameter_space.items():
            v = np.asarray(value, dtype=np.float64)
            v = np.full(pre.size, float(v)) if v.ndim == 0 else v[pre, post]
            if name == "weight":
                check_finite_weights(v)
            values[name][:] = simulator.state.round_delays(v) if name == "delay" else v
        simulator.state.changed(f"{', '.join(parameter_space.keys())} of projection {self.label!r} set after run()")


_FAST = {  # pond.pynn connector class name -> builder of (rule, allow_autapses, allow_multapses)
    "AllToAllConnector": lambda c: (rules.AllToAll(), c.allow_self_connections, True),
    "OneToOneConnector": lambda c: (rules.OneToOne(), True, True),
    "FixedProbabilityConnector": lambda c: (rules.FixedProbability(float(c.p_connect)), c.allow_self_connections,
                                            False),
    "FixedNumberPreConnector": lambda c: (rules.FixedInDegree(int(c.n)), c.allow_self_connections,
                                          bool(c.with_replacement)),
    "FixedNumberPostConnector": lambda c: (rules.FixedOutDegree(int(c.n)), c.allow_self_connections,
                                           bool(c.with_replacement)),
    "FixedTotalNumberConnector": lambda c: (rules.FixedTotalNumber(int(c.n)), c.allow_self_connections,
                                            bool(c.with_replacement)),
}


def native_rule(connector, projection: Projection):
    """The engine rule for a fast-path connector (see the module docstring), or None for PyNN's algorithm."""
    if not getattr(connector, "native_draws", False) or type(connector).__name__ not in _FAST:
        return None
    if not (isinstance(projection.pre, Population) and isinstance(projection.post, Population)):
        return None
    if getattr(connector, "allow_self_connections", True) not in (True, False):
        return None  # 'NoMutual'
    if not isinstance(getattr(connector, "n", 0), (int, np.integer)):
        return None  # a RandomDistribution number of connections: PyNN's algorithm
    values = _constant_values(projection)
    if values is None:
        return None
    weight = values["weight"]
    if not check_weight_sign(weight, projection):
        raise errors.ConnectionError(f"pond.pynn: weight = {weight} does not fit receptor_type "
                                     f"{projection.receptor_type!r} (excitatory >= 0, inhibitory <= 0)")
    return _FAST[type(connector).__name__](connector)


def _fixed_probability_at_once(connector, projection: Projection) -> bool:
    """PyNN's FixedProbabilityConnector with a ``NumpyRNG``, drawn in one call instead of one per target cell.

    PyNN draws, for every target column in turn, ``n_pre`` uniform numbers from a copy of the connector's generator
    (the generator itself does not advance) and connects where they are below ``p_connect``; numpy's generator gives
    the same numbers in one draw of ``n_post * n_pre``. Used only where nothing else draws in between: whole
    populations, one weight and one delay (and Tsodyks–Markram parameters), no callback. Returns False when PyNN's
    own loop must run.
    """
    if not isinstance(connector, connectors.FixedProbabilityConnector) or type(connector.rng) is not NumpyRNG:
        return False
    if connector.callback is not None or connector.allow_self_connections not in (True, False):
        return False
    if not (isinstance(projection.pre, Population) and isinstance(projection.post, Population)):
        return False
    values = _constant_values(projection)
    if values is None:
        return False
    n_pre, n_post = projection.pre.size, projection.post.size
    # PyNN draws from a copy of the generator (its lazy arrays deep-copy their random base): so do we
    rng = copy.deepcopy(connector.rng)
    u = rng.next(n_pre * n_post, "uniform", {"low": 0.0, "high": 1.0}).reshape(n_post, n_pre)
    connected = u < connector.p_connect
    if not connector.allow_self_connections and projection.pre is projection.post:
        np.fill_diagonal(connected, False)
    post, pre = np.nonzero(connected)  # target by target, sources ascending: PyNN's order
    if "weight" in values and not check_weight_sign(values["weight"], projection):
        raise errors.ConnectionError(f"pond.pynn: weight = {values['weight']} does not fit receptor_type "
                                     f"{projection.receptor_type!r} (excitatory >= 0, inhibitory <= 0)")
    projection._chunks.append((pre.astype(np.int64), post.astype(np.int64),
                               {n: np.full(pre.size, v) for n, v in values.items()}))
    return True


def _constant_values(projection: Projection) -> dict | None:
    """The synapse type's native parameters when every one is a plain number (delays rounded), else None."""
    ps = projection.synapse_type.native_parameters
    names = projection.synapse_type.get_native_names()
    if not all(ps[n].is_homogeneous and isinstance(ps[n].base_value, (int, float, np.number)) for n in names):
        return None
    values = {n: float(ps[n].base_value) for n in names}
    values["delay"] = float(simulator.state.round_delays(np.array([values["delay"]]))[0])
    return values


def check_finite_weights(weights) -> None:
    """Refuse a NaN or infinite weight (PyNN's ``InvalidParameterValueError``, a ValueError)."""
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        bad = w[~np.isfinite(w)].ravel()[0]
        raise errors.InvalidParameterValueError(f"pond.pynn: weight = {bad} is not allowed; weights must be finite "
                                                "numbers (nA, or mV onto IF_curr_delta)")


def check_weight_sign(weight: float, projection: Projection) -> bool:
    """Whether ``weight`` fits the projection's receptor type (PyNN's rule for current-based synapses)."""
    return weight == 0 or _sign_ok(weight, projection)


def _sign_ok(weight: float, projection: Projection) -> bool:
    return (weight >= 0) if projection.receptor_type == "excitatory" else (weight <= 0)


def _native(base: type) -> type:
    """``base`` (a PyNN connector) that notes whether its random draws are left to the simulator: ``rng`` not given
    or a ``NativeRNG`` (see the module docstring)."""
    def __init__(self, *args, **kwargs):
        rng = kwargs.get("rng")
        base.__init__(self, *args, **kwargs)
        self.native_draws = rng is None or isinstance(rng, NativeRNG)

    return type(base.__name__, (base,), {"__init__": __init__, "__doc__": base.__doc__, "__module__": __name__})


AllToAllConnector = _native(connectors.AllToAllConnector)
OneToOneConnector = _native(connectors.OneToOneConnector)
FixedProbabilityConnector = _native(connectors.FixedProbabilityConnector)
FixedNumberPreConnector = _native(connectors.FixedNumberPreConnector)
FixedNumberPostConnector = _native(connectors.FixedNumberPostConnector)
FixedTotalNumberConnector = _native(connectors.FixedTotalNumberConnector)
