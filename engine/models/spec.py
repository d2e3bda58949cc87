"""What a model tells the rest of the engine: its parameters, its state, its units and which compiled update runs it.

A neuron model is one module of :mod:`engine.models.neurons` holding a :class:`NeuronModel`; a synapse model is one
class of :mod:`engine.models.synapses` carrying the attributes of :class:`SynapseModel`. The description
(:class:`~engine.network.description.Population`) is validated by the spec, and the builder, the simulators, the
memory estimate, model files and the Brian2 bridge read the spec instead of comparing model names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: units of the numbers a model takes (pond's base units); the key is what model files call the quantity
UNITS = {"ms": "time", "mV": "voltage", "pA": "current", "pF": "capacitance", "nS": "conductance", "Hz": "rate",
         "1": "number"}
#: rules a parameter value must satisfy, with the words an error message uses
RULES = {"finite": (lambda v: True, "finite"), "positive": (lambda v: v > 0, "> 0"),
         "nonnegative": (lambda v: v >= 0, ">= 0")}


@dataclass(frozen=True)
class Parameter:
    """One parameter of a model: its name, default, unit, rule and meaning (the model's parameter table)."""

    name: str
    default: float
    unit: str
    meaning: str
    rule: str = "finite"
    per_neuron: bool = False  # may be an array of one value per neuron
    time_constant: bool = False  # the step must not exceed it
    on_grid: bool = False  # a duration that must be a multiple of dt

    def check(self, owner: str, value: Any, size: int) -> float | np.ndarray:
        """The value as a float (or a float64 array of ``size`` values when ``per_neuron``), or a ValueError /
        TypeError naming the parameter, the value and what is allowed."""
        ok, words = RULES[self.rule]
        if self.per_neuron and np.ndim(value) > 0:
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != (size,):
                raise ValueError(f"{owner}: {self.name} has shape {arr.shape}; expected ({size},) or one number")
            bad = arr[~np.isfinite(arr) | ~np.vectorize(ok, otypes=[bool])(arr)] if arr.size else arr
            if bad.size:
                raise ValueError(f"{owner}: {self.name} contains {bad[0]}; every value must be finite and "
                                 f"{words} ({self.unit})")
            return arr
        if isinstance(value, bool) or np.ndim(value) != 0:
            raise TypeError(f"{owner}: {self.name} = {value!r} must be a number (in {self.unit})")
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: {self.name} = {value!r} must be a number (in {self.unit})") from None
        if not math.isfinite(v):
            raise ValueError(f"{owner}: {self.name} = {v} {self.unit} is not allowed; it must be finite")
        if not ok(v):
            raise ValueError(f"{owner}: {self.name} = {v} {self.unit} is not allowed; the {self.meaning} must be "
                             f"{words}")
        return v


@dataclass(frozen=True)
class StateVariable:
    """A recordable state variable: its name, unit, meaning and the kernel state array that holds it (``slot``: 0 the
    membrane potential array, 1 and 2 the excitatory and inhibitory input arrays)."""

    name: str
    unit: str
    meaning: str
    slot: int


@dataclass(frozen=True)
class Brian2Form:
    """The same model in Brian2's language, for :mod:`engine.io.brian2_bridge`: the equations (names of the
    parameters as in the spec), how a synapse's weight ``w`` (``"amp"`` or ``"volt"``) is added for channel
    ``{channel}`` (``I_ex`` or ``I_in``), and whether the synapses act before the threshold (input inside the
    update)."""

    equations: str
    weight_unit: str
    on_pre: str
    before_thresholds: bool = False


@dataclass(frozen=True)
class NeuronModel:
    """Everything the engine needs of a neuron model; one per module of :mod:`engine.models.neurons`.

    ``kernel`` is the model's code in the compiled dispatch list (:mod:`engine.kernels.neurons`), the one other
    place a model with a new update appears; ``parameter_row(params, dt, constant_input)`` turns a population's
    parameters (a mapping) into its row of the kernel's parameter table (propagators computed once, never per step);
    ``check(owner, params)`` raises on a broken rule between parameters (``V_reset < V_th``)."""

    name: str
    summary: str
    parameters: tuple[Parameter, ...]
    state: tuple[StateVariable, ...]
    weight_unit: str  # unit of a synaptic weight onto this model: "pA" (current jump) or "mV" (voltage jump)
    input_in_update: bool  # synaptic input is added inside the neuron update (delta synapses: delays one step short)
    kernel: int
    parameter_row: Callable[[Any, float, bool], np.ndarray]
    check: Callable[[str, Any], None] | None = None
    # state per neuron and trial: V, the two input arrays and the external current (8 B each), the refractory
    # counter (4 B); the spike flag's byte is counted apart
    bytes_per_neuron: int = 36
    exact_event: bool = False  # the exact event-driven mode (engine.run.event_driven) can run it
    brian2: Brian2Form | None = None
    references: tuple[str, ...] = field(default=())

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the recordable state variables."""
        return tuple(s.name for s in self.state)

    @property
    def time_constants(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters if p.time_constant)

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def slot(self, variable: str) -> int:
        """The kernel state array holding ``variable``, or a ValueError naming the recordable ones."""
        for s in self.state:
            if s.name == variable:
                return s.slot
        raise ValueError(f"variable = {variable!r} is not a state variable of {self.name}; choose from "
                         f"{self.state_names}")

    def validate(self, owner: str, params: dict, size: int) -> dict:
        """The checked parameters: defaults for what is missing, every value by its rule, then the cross rules; a
        ValueError names an unknown parameter and lists the model's."""
        known = {p.name for p in self.parameters}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"{owner}: {unknown[0]!r} is not a parameter of model {self.name!r}; its parameters are "
                             f"{', '.join(p.name for p in self.parameters)}")
        out = {p.name: p.check(owner, params.get(p.name, p.default), size) for p in self.parameters}
        if self.check is not None:
            self.check(owner, out)
        return out

    def check_time_constants(self, pop: Any, dt: float) -> None:
        """Reject steps longer than a time constant: spike times and Poisson input would be meaningless there."""
        for name in self.time_constants:
            tau = getattr(pop, name)
            if dt > tau:
                raise ValueError(f"Population {pop.name!r}: {name} = {tau} ms is shorter than dt = {dt} ms; "
                                 "the step must not exceed any time constant (use a smaller dt)")


class SynapseModel:
    """What the engine needs of a synapse model: the class attributes of each model in
    :mod:`engine.models.synapses` (a frozen dataclass of the model's parameters that subclasses this).

    ``name`` is the model's name in model files; ``parameters`` may each be a number or a distribution drawn per
    synapse, ``clipped`` ones are set to 1 when drawn above it; ``state`` is kept per (trial, synapse), and a model
    with state is *dynamic*: its synapses are walked when a spike leaves, in the delivery kernel's dynamic group.
    ``parameter_bytes`` (stored once) and ``state_bytes`` (per trial) are its cost per synapse in the memory
    estimate, beside the 9 bytes of target, weight and delay every synapse has."""

    name: str = ""
    parameters: tuple[str, ...] = ()
    clipped: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    parameter_bytes: int = 0
    state_bytes: int = 0

    @property
    def dynamic(self) -> bool:
        """Whether the synapse keeps state of its own (updated at each presynaptic spike)."""
        return bool(self.state)
