"""Model files: a TOML description of a network and its run, mapped one to one onto :mod:`engine.network.description`.

Every table maps onto one dataclass and every key onto one of its fields (same names, same units: ms, mV, pA, pF,
Hz). :func:`load_model` checks the whole file (unknown keys, types, units, cross references, the time grid) before it
creates any object, and reports every problem as a :class:`ModelFileError` naming the file, the line (or the key
path) and, for a misspelt key, the closest valid one.

Schema
------
::

    description = "free text"                    # optional

    [network]                                    # Network
    dt = 0.1                                     # ms, > 0 (default 0.1)
    seed = 1                                     # integer >= 0 (default 0)

    [[population]]                               # Population: name, size, model, tau_m, C_m, E_L, V_th, V_reset,
    name = "exc"                                 # t_ref, I_e, tau_syn_ex, tau_syn_in, V_init, positions
    size = 3200
    model = "iaf_psc_exp"                        # or "iaf_psc_delta"
    tau_m = 20.0
    V_init = {dist = "uniform", low = -60.0, high = -50.0}   # or a number, or one value per neuron
    positions = {grid = [15, 3, 3], spacing = 1.0, indices = [0, 5, ...]}  # or [[x, y, z], ...]

    [[poisson]]                                  # PoissonSource: name, size, rate, rate_times
    [[spike_source]]                             # SpikeSource: name, size, times, indices
    [[current]]                                  # CurrentSource: name, target, amplitude, times, indices

    [[projection]]                               # Projection: source, target, rule, weight, delay,
    source = "exc"                               # allow_autapses, allow_multapses, name, synapse
    target = "inh"
    rule = {type = "fixed_probability", p = 0.02}
    weight = 20.25                               # pA (iaf_psc_exp target) or mV (iaf_psc_delta target)
    delay = {dist = "uniform", low = 0.5, high = 2.0}
    synapse = {type = "tsodyks_markram", U = {dist = "normal", mean = 0.5, std = 0.25}, tau_rec = "1.1 s",
               tau_fac = "50 ms"}                # or "static" (the default); also u0, x0

    [[monitor]]                                  # SpikeMonitor, StateMonitor or RateMonitor
    type = "spikes"                              # "spikes" (source), "state" (target, variables, indices,
    source = "exc"                               # every), "rate" (target)

    [run]                                        # RunConfig
    duration = 1000.0                            # ms (default 1000)
    trials = 1
    chunk_ms = 100.0
    threads = 4                                  # optional: n_jobs of the Simulator
    output = "spikes.h5"                         # optional; relative to the current directory

Synapse models (``synapse.type``, :mod:`engine.models.synapses`): ``static`` and ``tsodyks_markram`` (``U``,
``tau_rec``, ``tau_fac``, ``u0``, ``x0``: numbers, quantity strings or distribution tables).
Rules (``rule.type``): ``all_to_all``, ``one_to_one``, ``fixed_probability`` (``p``), ``fixed_in_degree`` (``k``),
``fixed_out_degree`` (``k``), ``fixed_total_number`` (``n``), ``distance_dependent`` (``C``, ``lam``), ``explicit``
(``sources``, ``targets``); a rule without parameters may be written as a string (``rule = "all_to_all"``).
Distributions (``dist``): ``uniform`` (``low``, ``high``), ``normal`` (``mean``, ``std``, optional redraw bounds
``low``, ``high``), ``gamma`` (``shape``, ``scale``), ``lognormal`` (``mu``, ``sigma``). ``V_init`` takes any of them
(drawn per neuron and trial).

Units: a bare number is in pond's base unit of the quantity (ms, mV, pA, pF, Hz). A string with a unit is converted
and its dimension checked: ``delay = "1.5 ms"``, ``tau_m = "0.02 s"``, ``I_e = "13.5 nA"``, ``C_m = "30 nF"``,
``rate = "20 kHz"``; ``delay = "1.5 mV"`` is an error.
"""
from __future__ import annotations

import difflib
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from engine.network import connectivity as C
from engine.network import distributions as D
from engine.network.description import (CurrentSource, Network, PoissonSource, Population, Projection,
                          RateMonitor, SpikeMonitor, SpikeSource, StateMonitor, state_variables)
from engine.models.neurons import NEURON_MODELS, neuron_model
from engine.models.synapses import StaticSynapse, TsodyksMarkram
from engine.network.grid import grid_offset

__all__ = ["ModelFileError", "RunConfig", "load_model", "loads_model", "SCHEMA"]


class ModelFileError(ValueError):
    """A model file could not be read: syntax, unknown key, wrong type or unit, bad value, bad reference.

    Attributes
    ----------
    source : str
        File name (or ``"<string>"``).
    line : int or None
        1-based line of the offending key, when it can be found in the text.
    key : str or None
        Key path, e.g. ``"population[0].tau_m"`` or ``"projection[2].rule.p"``.
    suggestion : str or None
        Closest valid key or name, for misspellings.
    """

    def __init__(self, message: str, *, source: str, line: int | None = None, key: str | None = None,
                 suggestion: str | None = None):
        self.source, self.line, self.key, self.suggestion = source, line, key, suggestion
        self.reason = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass
class RunConfig:
    """The ``[run]`` table: how to run the model.

    Parameters
    ----------
    duration : float, default=1000.0
        Simulated time (ms), > 0, a multiple of the network's dt.
    trials : int, default=1
        Independent batch trials, >= 1.
    chunk_ms : float, default=100.0
        Biological time per kernel call (ms), > 0.
    threads : int or None, default=None
        ``n_jobs`` of the :class:`~engine.run.simulator.Simulator` (None: Numba's default).
    method : {"clock", "event"}, default="clock"
        The simulator: clock-driven, or exact event-driven (:mod:`engine.run.event_driven`; ``iaf_psc_delta``
        networks with constant currents and static synapses).
    output : str or None, default=None
        Spike file (relative paths are relative to the current directory, not to the model file).
    description : str, default=""
        The file's top-level ``description``.
    source : str, default="<string>"
        Where the model was read from.
    text : str, default=""
        The model file's text (stored with the spike file).
    """

    duration: float = 1000.0
    trials: int = 1
    chunk_ms: float = 100.0
    threads: int | None = None
    method: str = "clock"
    output: str | None = None
    description: str = ""
    source: str = "<string>"
    text: str = field(default="", repr=False)

    def to_dict(self) -> dict:
        return {"duration": self.duration, "trials": self.trials, "chunk_ms": self.chunk_ms,
                "threads": self.threads, "method": self.method, "output": self.output}


# ---------------------------------------------------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------------------------------------------------
_UNITS = {
    "time": ("ms", {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3}),
    "voltage": ("mV", {"mV": 1.0, "V": 1e3, "uV": 1e-3, "µV": 1e-3}),
    "current": ("pA", {"pA": 1.0, "fA": 1e-3, "nA": 1e3, "uA": 1e6, "µA": 1e6, "mA": 1e9, "A": 1e12}),
    "capacitance": ("pF", {"pF": 1.0, "nF": 1e3, "uF": 1e6, "µF": 1e6, "F": 1e12}),
    "rate": ("Hz", {"Hz": 1.0, "kHz": 1e3}),
    "conductance": ("nS", {"nS": 1.0, "pS": 1e-3, "uS": 1e3, "µS": 1e3, "mS": 1e6, "S": 1e9}),
    "number": ("", {}),
}
_UNIT_KIND = {u: kind for kind, (_, table) in _UNITS.items() for u in table}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ]+)\s*$")


class _Bad(Exception):
    """A value error at a key path (relative to the value being converted)."""

    def __init__(self, message: str, path: tuple = (), suggestion: str | None = None):
        super().__init__(message)
        self.path, self.suggestion = path, suggestion


def _type_name(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(v), type(v).__name__)


def _number(v: Any, kind: str) -> float:
    """A number in the base unit of ``kind`` from a TOML number or a ``"<number> <unit>"`` string."""
    base, table = _UNITS[kind]
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        want = f"a number (in {base}) or a string with a unit such as \"1.5 {base}\"" if base else "a number"
        raise _Bad(f"{v!r} is {_type_name(v)}; expected {want}")
    if isinstance(v, str):
        m = _QUANTITY.match(v)
        if not m:
            hint = f", e.g. \"1.5 {base}\"" if base else ""
            raise _Bad(f"{v!r} is not a number{' with a unit' if base else ''}{hint}")
        unit = m.group(2)
        if unit not in table:
            other = _UNIT_KIND.get(unit)
            if not base:
                raise _Bad(f"{v!r} has a unit ({unit}); this value is a plain number")
            if other is not None:
                raise _Bad(f"{v!r} is a {other} ({unit}); a {kind} is needed (units: {', '.join(table)})")
            raise _Bad(f"{v!r}: unknown unit {unit!r}; a {kind} takes {', '.join(table)}")
        x = float(m.group(1)) * table[unit]
    else:
        x = float(v)
    if not math.isfinite(x):
        raise _Bad(f"{v!r} is not finite")
    return x


def _number_array(v: Any, kind: str, ndim: tuple[int, ...] = (1,)) -> np.ndarray:
    if not isinstance(v, list):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected an array")

    def conv(x, depth):
        if isinstance(x, list):
            return [conv(y, depth + 1) for y in x]
        return _number(x, kind)

    try:
        out = conv(v, 0)
    except _Bad as e:
        raise _Bad(f"array element {e}") from None
    try:
        arr = np.array(out, dtype=np.float64)
    except ValueError:
        raise _Bad("is a ragged array; every row must have the same length") from None
    if arr.ndim not in ndim:
        raise _Bad(f"is a {arr.ndim}-D array; expected {' or '.join(f'{d}-D' for d in ndim)}")
    return arr


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _int(v: Any, minimum: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected an integer")
    if minimum is not None and v < minimum:
        raise _Bad(f"{v} is not allowed; it must be >= {minimum}")
    return v


def _int_array(v: Any) -> np.ndarray:
    if not isinstance(v, list):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected an array of integers")
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int):
            raise _Bad(f"element {i} = {_short(x)} is {_type_name(x)}; expected an integer")
    return np.array(v, dtype=np.int64)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected a string")
    return v


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected true or false")
    return v


def _choice(options: tuple) -> Callable:
    def conv(v):
        v = _str(v)
        if v not in options:
            close = difflib.get_close_matches(v, options, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _Bad(f"{v!r} is not allowed; choose one of {', '.join(options)}{hint}",
                       suggestion=close[0] if close else None)
        return v
    return conv


def _scalar_or_array(kind: str) -> Callable:
    return lambda v: _number_array(v, kind) if isinstance(v, list) else _number(v, kind)


def _table_keys(v: dict, allowed: tuple, required: tuple, what: str) -> None:
    missing = [k for k in required if k not in v]
    for k in v:
        if k not in allowed:
            raise _unknown(k, allowed, what, missing)
    for k in missing:
        raise _Bad(f"{what} needs {k!r} (keys: {', '.join(allowed)})")


def _unknown(key: str, allowed, what: str, missing=()) -> _Bad:
    """An unknown key with the closest valid one; failing a close spelling, the one required key that is missing
    (``prob`` for ``p``: too short a key for a spelling match, but the only thing it can mean)."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    if not close and len(missing) == 1:
        close = list(missing)
    if close:
        return _Bad(f"unknown key {key!r} in {what}; did you mean {close[0]!r}?", (key,), close[0])
    return _Bad(f"unknown key {key!r} in {what}; valid keys are {', '.join(allowed)}", (key,))


def _kind(v: dict, key: str, options: tuple, what: str) -> str:
    """The ``type`` of a rule or the ``dist`` of a distribution; a misspelt ``key`` is reported as such."""
    if key not in v:
        for k in v:
            if difflib.get_close_matches(k, [key], n=1, cutoff=0.6):
                raise _unknown(k, (key,), what)
        raise _Bad(f"{what} needs {key!r} (one of {', '.join(options)})")
    return _wrap((key,), _choice(options), v[key])


# distributions: name -> (class, required parameters, optional parameters, which parameters carry the quantity's unit)
_DISTS = {
    "uniform": (D.Uniform, ("low", "high"), (), ("low", "high")),
    "normal": (D.Normal, ("mean", "std"), ("low", "high"), ("mean", "std", "low", "high")),
    "gamma": (D.Gamma, ("shape", "scale"), (), ("scale",)),
    "lognormal": (D.LogNormal, ("mu", "sigma"), (), ()),
}


def _distribution(v: dict, kind: str):
    name = _kind(v, "dist", tuple(_DISTS), "a distribution table")
    cls, params, optional, with_unit = _DISTS[name]
    _table_keys(v, ("dist",) + params + optional, params, f"a {name} distribution")
    args = {p: _wrap((p,), lambda x, p=p: _number(x, kind if p in with_unit else "number"), v[p])
            for p in params + optional if p in v}
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        raise _Bad(_strip_owner(str(e))) from None


def _value_spec(kind: str) -> Callable:
    """Weight or delay: a number, a quantity string, a distribution table or an array (one value per synapse)."""
    def conv(v):
        if isinstance(v, dict):
            return _distribution(v, kind)
        if isinstance(v, list):
            return _number_array(v, kind)
        return _number(v, kind)
    return conv


def _v_init(v):
    if isinstance(v, dict):
        d = _distribution(v, "voltage")
        return (d.low, d.high) if isinstance(d, D.Uniform) else d
    if isinstance(v, list):
        return _number_array(v, "voltage")
    return _number(v, "voltage")


def _positions(v):
    if isinstance(v, dict):
        _table_keys(v, ("grid", "spacing", "indices"), ("grid",), "positions")
        grid = _wrap(("grid",), _int_array, v["grid"])
        if grid.shape != (3,) or grid.min() < 1:
            raise _Bad("must be 3 integers >= 1 (nx, ny, nz)", ("grid",))
        spacing = _wrap(("spacing",), lambda x: _number(x, "number"), v.get("spacing", 1.0))
        if spacing <= 0:
            raise _Bad(f"{spacing} is not allowed; it must be > 0", ("spacing",))
        pos = C.grid_positions(tuple(int(g) for g in grid), spacing)
        if "indices" in v:
            idx = _wrap(("indices",), _int_array, v["indices"])
            if idx.size and (idx.min() < 0 or idx.max() >= len(pos)):
                raise _Bad(f"contains {idx.max() if idx.max() >= len(pos) else idx.min()}; grid point indices must "
                           f"lie in [0, {len(pos)})", ("indices",))
            pos = pos[idx]
        return pos
    arr = _number_array(v, "number", ndim=(2,))
    if arr.shape[1] != 3:
        raise _Bad(f"has rows of length {arr.shape[1]}; each position is [x, y, z]")
    return arr


def _wrap(path: tuple, conv: Callable, v: Any):
    try:
        return conv(v)
    except _Bad as e:
        raise _Bad(str(e), path + e.path, e.suggestion) from None


# rules: type -> (class, parameters and their converters)
_RULES = {
    "all_to_all": (C.AllToAll, {}),
    "one_to_one": (C.OneToOne, {}),
    "fixed_probability": (C.FixedProbability, {"p": lambda v: _number(v, "number")}),
    "fixed_in_degree": (C.FixedInDegree, {"k": lambda v: _int(v, 0)}),
    "fixed_out_degree": (C.FixedOutDegree, {"k": lambda v: _int(v, 0)}),
    "fixed_total_number": (C.FixedTotalNumber, {"n": lambda v: _int(v, 0)}),
    "distance_dependent": (C.DistanceDependent, {"C": lambda v: _number(v, "number"),
                                                 "lam": lambda v: _number(v, "number")}),
    "explicit": (C.Explicit, {"sources": _int_array, "targets": _int_array}),
}


def _typed_table(v, registry: dict, what: str, example: str, all_required: bool, strip_owner: bool):
    """A ``{type = "...", key = value, ...}`` table (or just the type's name) made into the class ``registry`` maps
    the type to, each value through its converter; errors name the key they are about."""
    if isinstance(v, str):
        v = {"type": v}
    if not isinstance(v, dict):
        raise _Bad(f"{_short(v)} is {_type_name(v)}; expected {example}")
    kind = _kind(v, "type", tuple(registry), f"a {what}")
    cls, params = registry[kind]
    _table_keys(v, ("type",) + tuple(params), tuple(params) if all_required else (), f"{what} {kind!r}")
    args = {p: _wrap((p,), conv, v[p]) for p, conv in params.items() if p in v}
    try:
        return cls(**args)
    except (TypeError, ValueError) as e:
        msg = str(e)
        bad = next((p for p in params if re.search(rf"\b{p}\b", msg)), None)
        raise _Bad(_strip_owner(msg) if strip_owner else msg, (bad,) if bad else ()) from None


def _rule(v):
    return _typed_table(v, _RULES, "rule", "a table such as {type = \"fixed_probability\", p = 0.02}", True, False)


# synapse models: type -> (class, parameters and their converters)
_SYNAPSES = {
    "static": (StaticSynapse, {}),
    "tsodyks_markram": (TsodyksMarkram, {"U": _value_spec("number"), "tau_rec": _value_spec("time"),
                                         "tau_fac": _value_spec("time"), "u0": _value_spec("number"),
                                         "x0": _value_spec("number")}),
}


def _synapse(v):
    return _typed_table(v, _SYNAPSES, "synapse", "\"static\" or a table such as {type = \"tsodyks_markram\", U = 0.5, "
                        "tau_rec = 800.0}", False, True)


def _strip_owner(msg: str) -> str:
    return msg.split(": ", 1)[1] if re.match(r"^[A-Z]\w*( '[^']*')?( on '[^']*')?: ", msg) else msg


# ---------------------------------------------------------------------------------------------------------------------
# schema: section -> key -> converter (weight's unit depends on the target; filled in by the loader)
# ---------------------------------------------------------------------------------------------------------------------
_WEIGHT = object()  # marker: weight converter chosen per projection

SCHEMA: dict[str, dict[str, Any]] = {
    "network": {"dt": lambda v: _number(v, "time"), "seed": lambda v: _int(v, 0)},
    "population": {
        "name": _str, "size": lambda v: _int(v, 1), "model": lambda v: _choice(tuple(NEURON_MODELS))(v),
        "V_init": _v_init, "positions": _positions,
    },  # plus the parameters of the population's model (_population_schema)
    "poisson": {"name": _str, "size": lambda v: _int(v, 1),
                "rate": lambda v: _number_array(v, "rate", (1, 2)) if isinstance(v, list) else _number(v, "rate"),
                "rate_times": lambda v: _number_array(v, "time")},
    "spike_source": {"name": _str, "size": lambda v: _int(v, 1), "times": lambda v: _number_array(v, "time"),
                     "indices": _int_array},
    "current": {"name": _str, "target": _str,
                "amplitude": lambda v: _number_array(v, "current", (1, 2)) if isinstance(v, list)
                else _number(v, "current"),
                "times": lambda v: _number_array(v, "time"), "indices": _int_array},
    "projection": {"source": _str, "target": _str, "rule": _rule, "weight": _WEIGHT,
                   "delay": _value_spec("time"), "allow_autapses": _bool, "allow_multapses": _bool, "name": _str,
                   "synapse": _synapse},
    "monitor": {"type": _choice(("spikes", "state", "rate")), "source": _str, "target": _str,
                "variables": lambda v: tuple(_choice(state_variables())(x) for x in
                                             (v if isinstance(v, list) else [_str(v)])),
                "indices": _int_array, "every": lambda v: _int(v, 1)},
    "run": {"duration": lambda v: _number(v, "time"), "trials": lambda v: _int(v, 1),
            "chunk_ms": lambda v: _number(v, "time"), "threads": lambda v: _int(v, 1),
            "method": _choice(("clock", "event")), "output": _str},
}
def _population_schema(model) -> dict:
    """The converters of a population table of neuron model ``model`` (a spec): the common keys and the model's
    parameters, each in its unit (per-neuron parameters also take an array)."""
    out = dict(SCHEMA["population"])
    for p in model.parameters:
        kind = _UNIT_KIND.get(p.unit, "number")
        out[p.name] = _scalar_or_array(kind) if p.per_neuron else (lambda v, kind=kind: _number(v, kind))
    return out


_REQUIRED = {"population": ("name", "size"), "poisson": ("name", "size"), "spike_source": ("name", "size"),
             "current": ("name", "target"), "projection": ("source", "target", "rule"), "monitor": ("type",)}
_MONITOR_KEYS = {"spikes": ("type", "source"), "state": ("type", "target", "variables", "indices", "every"),
                 "rate": ("type", "target")}
_ARRAYS = ("population", "poisson", "spike_source", "current", "projection", "monitor")
_TOP = ("description", "network") + _ARRAYS + ("run",)
_CLASSES = {"population": Population, "poisson": PoissonSource, "spike_source": SpikeSource,
            "current": CurrentSource, "projection": Projection}


# ---------------------------------------------------------------------------------------------------------------------
# locating keys in the text
# ---------------------------------------------------------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_\-\.\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEYLINE = re.compile(r"^\s*((?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|\"[^\"]*\"))*)\s*=")


class _Locator:
    """Line numbers of tables and keys, found by scanning the text (TOML parsers do not report them)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers: dict[tuple, int] = {}
        self.keys: dict[tuple, int] = {}
        counts: dict[str, int] = {}
        table: tuple = ()
        depth = 0  # open brackets of a multi-line array
        for no, line in enumerate(self.lines, 1):
            code = _strip_comment(line)
            if depth == 0:
                m = _HEADER.match(code)
                if m:
                    name = tuple(p.strip().strip('"') for p in m.group(2).split("."))
                    if m.group(1) == "[[":
                        i = counts.get(name, 0)
                        counts[name] = i + 1
                        table = name + (i,)
                    else:
                        table = name
                    self.headers.setdefault(table, no)
                    continue
                k = _KEYLINE.match(code)
                if k:
                    key = tuple(p.strip().strip('"\'') for p in k.group(1).split("."))
                    self.keys.setdefault(table + key, no)
            depth = max(0, depth + _bracket_balance(code))

    def line(self, path: tuple) -> int | None:
        """Line of ``path`` (a key, a key inside an inline table, or a table), or of its closest ancestor."""
        if path in self.keys:
            return self.keys[path]
        if path in self.headers:
            return self.headers[path]
        if path + (0,) in self.headers:  # an array of tables as a whole: its first header
            return self.headers[path + (0,)]
        for cut in range(len(path) - 1, 0, -1):
            head = path[:cut]
            if head in self.keys:  # a key inside an inline table: search that line and the following ones
                start = self.keys[head]
                rest = [p for p in path[cut:] if isinstance(p, str)]
                if rest:
                    pat = re.compile(rf"(?<![\w\"']){re.escape(rest[-1])}\s*=")
                    for no in range(start, min(start + 50, len(self.lines)) + 1):
                        if no > start and _KEYLINE.match(_strip_comment(self.lines[no - 1])):
                            break
                        if pat.search(_strip_comment(self.lines[no - 1])):
                            return no
                return start
            if head in self.headers:
                return self.headers[head]
        return None


def _strip_comment(line: str) -> str:
    out, quote = [], None
    for ch in line:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        out.append(ch)
    return "".join(out)


def _bracket_balance(code: str) -> int:
    bal, quote = 0, None
    for ch in code:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            bal += 1
        elif ch == "]":
            bal -= 1
    # a key line "x = [1," opens an array; a header "[a]" balances to 0
    return bal


# ---------------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------------
def load_model(path) -> tuple[Network, RunConfig]:
    """Read a TOML model file and return the network and its run configuration.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    network : Network
    run : RunConfig

    Raises
    ------
    ModelFileError
        Syntax errors, unknown keys (with the closest valid key), wrong types or units, invalid values, unknown
        names; the message starts with ``file:line:``.
    FileNotFoundError
        The file does not exist.

    Examples
    --------
    >>> from importlib.resources import files
    >>> net, run = load_model(files("pond") / "examples" / "cuba.toml")
    >>> net.size, run.duration
    (4000, 1000.0)
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {path!r} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"model file {path!r} is a directory") from None
    try:
        text = data.decode("utf-8-sig")  # the BOM some Windows editors put first is not TOML
    except UnicodeDecodeError as e:
        raise ModelFileError(f"is not UTF-8 text ({e})", source=path) from None
    return loads_model(text, source=path)


def loads_model(text: str, source: str = "<string>") -> tuple[Network, RunConfig]:
    """Like :func:`load_model`, from the text of a model file (``source`` names it in error messages).

    Examples
    --------
    >>> net, run = loads_model('''
    ... [network]
    ... dt = 0.1
    ... [[population]]
    ... name = "exc"
    ... size = 10
    ... tau_m = "20 ms"
    ... [run]
    ... duration = "0.5 s"
    ... ''')
    >>> net.populations[0].tau_m, run.duration
    (20.0, 500.0)
    """
    text = text.removeprefix("\ufeff")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"at line (\d+)", msg)
        raise ModelFileError(f"invalid TOML: {msg}", source=source, line=int(m.group(1)) if m else None) from None
    return _Loader(doc, text, source).load()


class _Loader:
    def __init__(self, doc: dict, text: str, source: str):
        self.doc, self.text, self.source = doc, text, source
        self.loc = _Locator(text)

    # -- errors
    def fail(self, path: tuple, message: str, suggestion: str | None = None) -> ModelFileError:
        return ModelFileError(message, source=self.source, line=self.loc.line(path), key=_path_text(path),
                              suggestion=suggestion)

    def convert(self, path: tuple, conv: Callable, v: Any):
        try:
            return conv(v)
        except _Bad as e:
            p = path + e.path
            return self._raise(p, str(e), e.suggestion)

    def _raise(self, path, message, suggestion=None):
        raise self.fail(path, message, suggestion)

    # -- sections
    def load(self) -> tuple[Network, RunConfig]:
        doc = self.doc
        for k in doc:
            if k not in _TOP:
                close = difflib.get_close_matches(k, _TOP, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid tables are {', '.join(_TOP)}"
                raise self.fail((k,), f"unknown table or key {k!r}{hint}", close[0] if close else None)
        description = self.convert(("description",), _str, doc.get("description", ""))
        for k in ("network", "run"):
            if k in doc and not isinstance(doc[k], dict):
                raise self.fail((k,), f"must be a table: write [{k}]")
        for k in _ARRAYS:
            if k in doc and not (isinstance(doc[k], list) and all(isinstance(x, dict) for x in doc[k])):
                raise self.fail((k,), f"must be an array of tables: write [[{k}]] (one per {k})")
        net_t = self.section(("network",), doc.get("network", {}), SCHEMA["network"])
        try:
            net = Network(**net_t)
        except (TypeError, ValueError) as e:
            raise self.model_error(("network",), e, net_t) from None

        tables = {k: doc.get(k, []) for k in _ARRAYS}
        values: dict[str, list[dict]] = {}
        for k in ("population", "poisson", "spike_source", "current"):
            values[k] = [self.section((k, i), t, self.schema(k, i, t), _REQUIRED[k]) for i, t in enumerate(tables[k])]
        self.check_names(values)
        pops = {v["name"]: v for v in values["population"]}
        pre = {**pops, **{v["name"]: v for k in ("poisson", "spike_source") for v in values[k]}}

        run_t = self.section(("run",), doc.get("run", {}), SCHEMA["run"])
        run = RunConfig(**run_t, description=description, source=self.source, text=self.text)
        exact = run.method == "event"  # the exact event-driven mode takes delays and t_ref off the grid

        values["projection"] = []
        for i, t in enumerate(tables["projection"]):
            path = ("projection", i)
            self.keys_known(path, t, SCHEMA["projection"], _REQUIRED["projection"])
            src = self.ref(path + ("source",), t["source"], pre, "a population or source (poisson, spike_source)")
            tgt = self.ref(path + ("target",), t["target"], pops, "a population")
            kind = _UNIT_KIND[neuron_model(pops[tgt].get("model", "iaf_psc_exp")).weight_unit]
            schema = dict(SCHEMA["projection"], weight=_value_spec(kind))
            v = self.section(path, t, schema, _REQUIRED["projection"])
            v["source"], v["target"] = src, tgt
            self.check_projection(path, v, pre, pops, net.dt, exact)
            values["projection"].append(v)
        for i, v in enumerate(values["current"]):
            self.ref(("current", i, "target"), v["target"], pops, "a population")

        monitors = []
        for i, t in enumerate(tables["monitor"]):
            monitors.append(self.monitor(("monitor", i), t, pops, pre))

        for i, v in enumerate(values["population"]):
            self.check_population(("population", i), v, net.dt, exact)
        self.check_run(run, net.dt)

        objects = []
        for k in ("population", "poisson", "spike_source", "current", "projection"):
            for i, v in enumerate(values[k]):
                try:
                    objects.append(_CLASSES[k](**v))
                except (TypeError, ValueError) as e:
                    raise self.model_error((k, i), e, v) from None
        try:
            net.add(*objects, *monitors)
        except (TypeError, ValueError) as e:  # pragma: no cover - names were checked above
            raise self.fail((), str(e)) from None
        return net, run

    def keys_known(self, path: tuple, table: dict, schema: dict, required: tuple = (), allowed=None) -> None:
        allowed = tuple(schema) if allowed is None else allowed
        what = _section_text(path)
        for k in table:
            if k not in allowed:
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys are {', '.join(allowed)}"
                raise self.fail(path + (k,), f"unknown key {k!r} in {what}{hint}", close[0] if close else None)
        for k in required:
            if k not in table:
                raise self.fail(path, f"{what} needs {k!r} (keys: {', '.join(allowed)})")

    def section(self, path: tuple, table: dict, schema: dict, required: tuple = (), allowed=None) -> dict:
        self.keys_known(path, table, schema, required, allowed)
        return {k: self.convert(path + (k,), schema[k], v) for k, v in table.items()}

    def model_error(self, path: tuple, err: Exception, values: dict) -> ModelFileError:
        msg = _strip_owner(str(err))
        hits = [(m.start(), k) for k in values
                for m in [re.search(rf"(?<![\w']){re.escape(k)}(?![\w'])", msg)] if m]
        key = min(hits)[1] if hits else None
        return self.fail(path + ((key,) if key else ()), msg)

    def check_names(self, values: dict) -> dict:
        seen: dict[str, tuple] = {}
        for k in ("population", "poisson", "spike_source", "current"):
            for i, v in enumerate(values[k]):
                name = v["name"]
                if not name.isidentifier():
                    raise self.fail((k, i, "name"), f"{name!r} is not allowed; use an identifier such as 'exc'")
                if name in seen:
                    raise self.fail((k, i, "name"), f"{name!r} is already the name of {_path_text(seen[name])}; "
                                                    "names must be unique")
                seen[name] = (k, i)
        return seen

    def ref(self, path: tuple, name: Any, options: dict, what: str) -> str:
        name = self.convert(path, _str, name)
        if name not in options:
            close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(options) or '(none defined)'}"
            raise self.fail(path, f"{name!r} is not {what}; {hint}", close[0] if close else None)
        return name

    def monitor(self, path: tuple, t: dict, pops: dict, pre: dict):
        if "type" not in t:
            raise self.fail(path, "[[monitor]] needs 'type' (spikes, state or rate)")
        kind = self.convert(path + ("type",), SCHEMA["monitor"]["type"], t["type"])
        allowed = _MONITOR_KEYS[kind]
        v = self.section(path, t, SCHEMA["monitor"], allowed[:2], allowed)
        del v["type"]
        if kind == "spikes":
            self.ref(path + ("source",), v["source"], pre, "a population or source")
            cls = SpikeMonitor
        else:
            self.ref(path + ("target",), v["target"], pops if kind == "state" else pre,
                     "a population" if kind == "state" else "a population or source")
            cls = StateMonitor if kind == "state" else RateMonitor
            if kind == "state" and "indices" in v:
                size = pops[v["target"]]["size"]
                idx = v["indices"]
                if idx.size and (idx.min() < 0 or idx.max() >= size):
                    bad = int(idx.max() if idx.max() >= size else idx.min())
                    raise self.fail(path + ("indices",),
                                    f"contains {bad}; neuron indices of {v['target']!r} lie in [0, {size})")
        try:
            return cls(**v)
        except (TypeError, ValueError) as e:
            raise self.model_error(path, e, v) from None

    def schema(self, section: str, i: int, table: dict) -> dict:
        """The keys a table may have: a population's are its model's parameters besides the common ones."""
        if section != "population":
            return SCHEMA[section]
        model = self.convert((section, i, "model"), SCHEMA[section]["model"], table.get("model", "iaf_psc_exp"))
        return _population_schema(neuron_model(model))

    def check_population(self, path: tuple, v: dict, dt: float, exact: bool = False) -> None:
        """The model's time constants not shorter than dt and its durations on the grid (unless ``exact``), with the
        TOML line of the offending key."""
        spec = neuron_model(v.get("model", "iaf_psc_exp"))
        for k in spec.time_constants:
            if k in v and v[k] < dt:
                raise self.fail(path + (k,), f"{v[k]} ms is shorter than dt = {dt} ms; the step must not exceed "
                                             "any time constant")
        for p in spec.parameters:
            if p.on_grid and p.name in v and not exact:
                self.on_grid(path + (p.name,), v[p.name], dt)

    def check_projection(self, path: tuple, v: dict, pre: dict, pops: dict, dt: float, exact: bool = False
                         ) -> None:
        """Delays on the grid and >= dt; with ``exact`` (``[run] method = "event"``) any delay > 0, as the exact
        event-driven mode takes them."""
        d = v.get("delay", 1.0)
        rule = "> 0 ms (method = 'event')" if exact else f">= dt = {dt} ms"

        def too_short(x: float) -> bool:
            return x <= 0.0 if exact else x < dt * (1 - 1e-9)
        if isinstance(d, float):
            if not exact:
                self.on_grid(path + ("delay",), d, dt)
            if too_short(d):
                raise self.fail(path + ("delay",), f"{d} ms is not allowed; delays must be {rule}")
        elif isinstance(d, np.ndarray):
            if not exact:
                for x in d.ravel():
                    self.on_grid(path + ("delay",), float(x), dt)
            if d.size and too_short(float(d.min())):
                raise self.fail(path + ("delay",), f"contains {d.min()} ms; delays must be {rule}")
        if isinstance(v["rule"], C.DistanceDependent):
            for end in ("source", "target"):
                if pre.get(v[end], {}).get("positions") is None:
                    raise self.fail(path + ("rule",), f"distance_dependent needs positions; {end} {v[end]!r} has "
                                                      "none (give the population a positions key)")
        same = v["source"] == v["target"]
        try:
            v["rule"].validate(pre[v["source"]]["size"], pops[v["target"]]["size"], same,
                               allow_autapses=v.get("allow_autapses", True),
                               allow_multapses=v.get("allow_multapses", True))
        except ValueError as e:
            raise self.fail(path + ("rule",), str(e)) from None

    def check_run(self, run: RunConfig, dt: float) -> None:
        if run.duration <= 0:
            raise self.fail(("run", "duration"), f"{run.duration} ms is not allowed; it must be > 0")
        self.on_grid(("run", "duration"), run.duration, dt)
        if run.chunk_ms <= 0:
            raise self.fail(("run", "chunk_ms"), f"{run.chunk_ms} ms is not allowed; it must be > 0")

    def on_grid(self, path: tuple, value: float, dt: float) -> None:
        q = value / dt
        k = round(q)
        if grid_offset(q) > 0:  # a millionth of a step, however long the time (engine.network.grid)
            raise self.fail(path, f"{value} ms is not a multiple of dt = {dt} ms (e.g. {k * dt:g} ms)")


def _path_text(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + p
    return out


def _section_text(path: tuple) -> str:
    if len(path) >= 2 and isinstance(path[1], int):
        return f"[[{path[0]}]] #{path[1] + 1}"
    return f"[{'.'.join(str(p) for p in path)}]"
