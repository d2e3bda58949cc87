"""Recording for pond.pynn: spikes and state variables from the engine's monitors, as PyNN's Neo blocks.

What is recorded is declared on the populations (``record``); when the network is built, every population with a
recorded variable gets an engine ``SpikeMonitor`` and/or one ``StateMonitor`` over the cells recorded for any state
variable, sampling every ``g`` steps where ``g`` is the greatest common divisor of the populations' sampling
intervals (the engine's state monitors share one interval; each population's signals are read at its own).

Conventions (PyNN's, as its Brian 2 backend has them): a signal starts with the initial value at the recording start
and has one sample per sampling interval up to the current time, the sample at ``t`` being the state at the end of
the step that ends at ``t``; a spike has the time of the step in which the membrane crossed threshold (pond's and
Brian 2's stamp: NEST's is one step later).
"""
from __future__ import annotations

import numpy as np
from pyNN import recording

from engine.network.grid import step_times

from pond.pynn import simulator


class Recorder(recording.Recorder):
    """Reads one population's recorded spikes and signals from the running engine Simulator."""

    _simulator = simulator

    def __init__(self, population=None, file=None):
        super().__init__(population, file)
        self._clear_step = 0

    def _record(self, variable, new_ids, sampling_interval=None):
        state = simulator.state
        if sampling_interval is not None and variable.name != "spikes":
            state.steps(float(sampling_interval), "sampling_interval")
            self.sampling_interval = float(sampling_interval)
        state.changed(f"recording of {variable.name!r} from {self.population.label!r} set after run()")

    def _reset(self):
        simulator.state.changed(f"recording of {self.population.label!r} reset after run()")

    def _clear_simulator(self):
        self._clear_step = simulator.state.step

    def store_to_cache(self, annotations=None):
        super().store_to_cache(annotations)
        self._clear_step = 0

    # ------------------------------------------------------------------ spikes
    def _spike_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps and population indices of the spikes recorded since the last clear."""
        state = simulator.state
        if state.sim is None or self.population not in state.translation.spiking:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        steps, idx = state.sim.spike_steps(state.translation.names[self.population])
        keep = steps >= self._clear_step
        return steps[keep], idx[keep]

    def _get_spiketimes(self, ids, clear=False):
        steps, idx = self._spike_steps()
        wanted = np.asarray(self.population.id_to_index(np.asarray(ids, dtype=int)), dtype=np.int64) \
            if len(ids) else np.zeros(0, np.int64)
        mask = np.isin(idx, wanted)
        id_array = idx[mask] + int(self.population.first_id)
        times = step_times(steps[mask], simulator.state.dt)
        order = np.lexsort((times, id_array))
        return id_array[order], times[order]

    def _local_count(self, variable, filter_ids=None):
        ids = sorted(self.filter_recorded(variable, filter_ids))
        _, idx = self._spike_steps()
        counts = np.bincount(idx, minlength=self.population.size)
        return {int(i): int(counts[int(i) - int(self.population.first_id)]) for i in ids}

    # ------------------------------------------------------------------ signals
    def _get_all_signals(self, variable, ids, clear=False):
        state = simulator.state
        if state.sim is None or not len(ids):  # not run yet, or no cell of a view records the variable
            return np.zeros((0, len(ids))), None
        celltype = self.population.celltype
        engine_var, factor = celltype.state_variables[variable.name]
        pop_idx = np.asarray(self.population.id_to_index(np.asarray(ids, dtype=int)), dtype=np.int64)
        interval_steps = state.steps(self.sampling_interval, "sampling_interval")
        tr = state.translation
        name = tr.names[self.population]
        _, values = state.sim.state(name, engine_var)
        columns = np.searchsorted(tr.state_indices[self.population], pop_idx)
        every = tr.every
        initial = tr.initial_state[self.population][engine_var][pop_idx]
        series = np.concatenate([initial[None, :], values[0][:, columns]], axis=0) * factor
        step_of = np.arange(series.shape[0], dtype=np.int64) * every  # the step each row ends
        keep = (step_of % interval_steps == 0) & (step_of >= self._clear_step)
        return series[keep], None
