"""Population, PopulationView and Assembly of pond.pynn.

A population keeps its parameters as native arrays (one value per cell, engine names and units, see
:mod:`pond.pynn.standardmodels`) and its initial values as PyNN's lazy arrays; both become the engine
``Population`` (or source) when the first ``run()`` builds the network. Setting a parameter after a run reaches the
running Simulator where the engine takes it in flight (spike times of a ``SpikeSourceArray``, rates of a
``SpikeSourcePoisson``) and is otherwise refused at the next ``run()`` unless ``reset()`` comes first;
``initialize(v=...)`` after a run sets the membrane potential now, as PyNN's NEST backend does, and is the initial
value after the next ``reset()``.
"""
from __future__ import annotations

import numpy as np
from pyNN import common, errors
from pyNN.parameters import LazyArray, ParameterSpace, simplify
from pyNN.standardmodels import StandardCellType

from pond.pynn import simulator
from pond.pynn.cells import cells_by_population
from pond.pynn.recording import Recorder
from pond.pynn.simulator import PondNotSupportedError
from pond.pynn.standardmodels import CELL_TYPES, SpikeSourceArray


class Assembly(common.Assembly):
    __doc__ = common.Assembly.__doc__
    _simulator = simulator


class PopulationView(common.PopulationView):
    __doc__ = common.PopulationView.__doc__
    _assembly_class = Assembly
    _simulator = simulator

    def _get_parameters(self, *names):
        return _reverse(self, self._get_native_parameters, names)

    def _get_native_parameters(self, *names):
        values = {}
        for pname in names:
            value = self.parent._get_native_parameters(pname)[pname]
            if isinstance(value, LazyArray):
                value.shape = (self.parent.size,)
                value = value.evaluate(simplify=False)
            values[pname] = simplify(value[self.mask]) if isinstance(value, np.ndarray) else value
        return ParameterSpace(values, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        grand = self.grandparent
        idx = self.index_in_grandparent(np.arange(self.size))
        grand._assign({name: (idx, value) for name, value in parameter_space.items()})

    def initialize(self, **initial_values):
        """Set initial values of these cells (PyNN's ``initialize``), in the parent population."""
        grand = self.grandparent
        idx = self.index_in_grandparent(np.arange(self.size))
        for variable, value in initial_values.items():
            values = LazyArray(value, shape=(self.size,), dtype=float).evaluate(simplify=False)
            grand._set_initial_values(variable, idx, values)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def __init__(self, size, cellclass, cellparams=None, structure=None, initial_values={}, label=None):
        if simulator.state.sim is not None:
            simulator.state.changed("a Population created after run()")
        super().__init__(size, cellclass, cellparams, structure, initial_values, label)
        self._index = len(simulator.state.populations)
        simulator.state.populations.append(self)

    def _create_cells(self):
        if not isinstance(self.celltype, CELL_TYPES):
            raise PondNotSupportedError(f"pond.pynn cannot run cell type {type(self.celltype).__name__}; it runs "
                                        f"{', '.join(c.__name__ for c in CELL_TYPES)} (see pond.pynn.standardmodels)")
        first = simulator.state.id_counter
        self.all_cells = np.array([simulator.ID(i) for i in range(first, first + self.size)], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        ps = self.celltype.native_parameters
        ps.shape = (self.size,)
        ps.evaluate(simplify=False)
        self._parameters = ps.as_dict()
        if isinstance(self.celltype, SpikeSourceArray):
            _check_spike_times(self._parameters["spike_times"])
        for cell in self.all_cells:
            cell.parent = self
        simulator.state.id_counter += self.size

    def _set_initial_value_array(self, variable, initial_values):
        # evaluated now, as PyNN's NEST backend does, so a generator shared with connectors is drawn in script order
        initial_values.shape = (self.size,)
        values = np.broadcast_to(np.asarray(initial_values.evaluate(simplify=False), dtype=np.float64),
                                 (self.size,)).copy()
        initial_values.base_value, initial_values.operations = values, []
        if simulator.state.sim is not None and variable in self.celltype.state_variables:
            _set_state_now(self, variable, np.arange(self.size), values)

    def _set_initial_values(self, variable: str, idx: np.ndarray, values: np.ndarray) -> None:
        """Initial values of ``variable`` for the cells ``idx`` (used by views)."""
        full = self.initial_array(variable) if variable in self.initial_values else np.zeros(self.size)
        full[idx] = values
        self.initial_values[variable] = LazyArray(full, shape=(self.size,), dtype=float)
        if simulator.state.sim is not None and variable in self.celltype.state_variables:
            _set_state_now(self, variable, idx, values)

    def initial_array(self, variable: str) -> np.ndarray:
        """The initial values of ``variable`` (PyNN units), one per cell, evaluated (random draws happen once)."""
        value = self.initial_values[variable]
        value.shape = (self.size,)
        arr = np.broadcast_to(np.asarray(value.evaluate(simplify=False), dtype=np.float64), (self.size,)).copy()
        self.initial_values[variable] = LazyArray(arr, shape=(self.size,), dtype=float)  # the same after reset
        return arr

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _get_parameters(self, *names):
        return _reverse(self, self._get_native_parameters, names)

    def _get_native_parameters(self, *names):
        return ParameterSpace({n: simplify(self._parameters[n]) for n in names}, shape=(self.size,))

    def _set_parameters(self, parameter_space):
        parameter_space.evaluate(simplify=False)
        self._assign({name: (slice(None), value) for name, value in parameter_space.items()})

    def _assign(self, changes: dict) -> None:
        """Write native parameter values ``{name: (cells, values)}``, then tell the running Simulator or note the
        change (see the module docstring)."""
        old = {name: self._parameters[name].copy() for name in changes}
        for name, (idx, value) in changes.items():
            self._parameters[name][idx] = value
        if isinstance(self.celltype, SpikeSourceArray):
            try:
                _check_spike_times(self._parameters["spike_times"])
            except errors.InvalidParameterValueError:
                self._parameters.update(old)
                raise
        if simulator.state.sim is None:
            return
        from pond.pynn.translate import update_in_flight

        if not update_in_flight(self, set(changes)):
            simulator.state.changed(f"{', '.join(changes)} of {self.label!r} set after run()")


def _reverse(pop, native_getter, names) -> ParameterSpace:
    """PyNN parameters from native ones (all of them when some are computed from others)."""
    celltype = pop.celltype
    if isinstance(celltype, StandardCellType) and any(n in celltype.computed_parameters() for n in names):
        native_names = celltype.get_native_names()
    else:
        native_names = celltype.get_native_names(*names)
    return celltype.reverse_translate(native_getter(*native_names))


def _check_spike_times(values) -> None:
    """Spike times of a SpikeSourceArray must be sorted (PyNN raises InvalidParameterValueError otherwise)."""
    for seq in np.atleast_1d(values):
        t = np.asarray(seq.value if hasattr(seq, "value") else seq, dtype=np.float64)
        if t.size > 1 and np.any(np.diff(t) < 0):
            raise errors.InvalidParameterValueError(f"SpikeSourceArray: spike times {t.tolist()} are not sorted; "
                                                    "give them in increasing order")


def _set_state_now(pop: Population, variable: str, idx: np.ndarray, values: np.ndarray) -> None:
    """Write a state variable of the running Simulator (PyNN units in, engine units stored)."""
    from pond.pynn.translate import population_slice

    engine_var, factor = pop.celltype.state_variables[variable]
    lo, _ = population_slice(pop)
    arr = {"V": simulator.state.sim.V, "I_ex": simulator.state.sim.I_ex, "I_in": simulator.state.sim.I_in}[engine_var]
    arr[:, lo + np.asarray(idx)] = np.asarray(values, dtype=np.float64) / factor


__all__ = ["Assembly", "Population", "PopulationView", "cells_by_population"]
