"""PyNN's standard cell, synapse and current-source types as pond runs them, and the ones it refuses.

Native parameter names are the engine's (NEST's) and native units pond's: mV, ms, pF, pA, Hz. So ``cm`` (nF) becomes
``C_m`` (pF) and ``i_offset`` (nA) becomes ``I_e`` (pA), as PyNN's NEST backend translates them. Synaptic weights
stay in PyNN's units inside a projection (nA for current synapses, mV for ``IF_curr_delta`` targets) and are
scaled when the engine network is built, because the unit depends on the target.

=======================  ==================================================================================
PyNN type                pond
=======================  ==================================================================================
``IF_curr_exp``          engine ``iaf_psc_exp`` (exact integration, as NEST's ``iaf_psc_exp``)
``IF_curr_delta``        engine ``iaf_psc_delta`` (spikes arriving while refractory are dropped, as NEST)
``SpikeSourcePoisson``   engine ``PoissonSource`` (piecewise-constant rates for ``start``/``duration``)
``SpikeSourceArray``     engine ``SpikeSource`` (times rounded up to the time grid, as NEST's
                         ``allow_offgrid_times``)
``StaticSynapse``        engine ``StaticSynapse``
``TsodyksMarkramSynapse``  engine ``TsodyksMarkram`` (NEST's ``tsodyks2_synapse``: ``u``, ``x`` updated at
                         spikes). PyNN's NEST and Brian 2 backends use the three-state model of Tsodyks, Uziel &
                         Markram (2000), whose used resources pass through a state decaying with the
                         postsynaptic time constant before recovering; the two agree to O(tau_syn / tau_rec).
``DCSource``             engine ``CurrentSource`` with change times ``start`` and ``stop``
``StepCurrentSource``    engine ``CurrentSource`` (times rounded to the grid, duplicates keep the last value)
=======================  ==================================================================================

Every other standard type of PyNN (conductance-based, alpha-current, adaptive, Hodgkin–Huxley, Izhikevich, GIF,
composed and multi-compartment cells; gamma and refractory Poisson sources; STDP, stochastic, multi-quantal and
electrical synapses; AC and noisy current sources) is exported under its PyNN name and raises
:class:`~pond.pynn.simulator.PondNotSupportedError` when it is created: pond never substitutes another model.
"""
from __future__ import annotations

import numpy as np
from pyNN.parameters import Sequence
from pyNN.standardmodels import build_translations, cells, electrodes, receptors, synapses

from pond.pynn.cells import cells_by_population
from pond.pynn.simulator import PondNotSupportedError, state

# ---------------------------------------------------------------------------------------------------- cells


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = build_translations(
        ("v_rest", "E_L"), ("v_reset", "V_reset"), ("cm", "C_m", 1000.0), ("tau_m", "tau_m"),
        ("tau_refrac", "t_ref"), ("tau_syn_E", "tau_syn_ex"), ("tau_syn_I", "tau_syn_in"), ("v_thresh", "V_th"),
        ("i_offset", "I_e", 1000.0))
    recordable = ["spikes", "v", "isyn_exc", "isyn_inh"]
    engine_model = "iaf_psc_exp"
    # PyNN state variable -> (engine state variable, factor from engine units to PyNN units)
    state_variables = {"v": ("V", 1.0), "isyn_exc": ("I_ex", 1e-3), "isyn_inh": ("I_in", 1e-3)}


class IF_curr_delta(cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__
    translations = build_translations(
        ("v_rest", "E_L"), ("v_reset", "V_reset"), ("cm", "C_m", 1000.0), ("tau_m", "tau_m"),
        ("tau_refrac", "t_ref"), ("v_thresh", "V_th"), ("i_offset", "I_e", 1000.0))
    engine_model = "iaf_psc_delta"
    state_variables = {"v": ("V", 1.0)}


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = build_translations(("rate", "rate"), ("start", "start"), ("duration", "duration"))
    state_variables = {}


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = build_translations(("spike_times", "spike_times"))
    state_variables = {}


# ---------------------------------------------------------------------------------------------------- synapses


class _MinDelay:
    def _get_minimum_delay(self):
        return state.resolved_min_delay()


class StaticSynapse(_MinDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))


class TsodyksMarkramSynapse(_MinDelay, synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__ + """
    pond runs it as NEST's ``tsodyks2_synapse`` (see :mod:`engine.models.synapses`); PyNN's NEST and Brian 2
    backends use the three-state model, which differs by O(tau_syn / tau_rec).
    """
    translations = build_translations(("weight", "weight"), ("delay", "delay"), ("U", "U"), ("tau_rec", "tau_rec"),
                                      ("tau_facil", "tau_fac"))


# ---------------------------------------------------------------------------------------------------- electrodes


class _PondCurrentSource:
    """Shared by the current sources: where they are injected, their parameters in native units, and the
    change-in-flight path (a running Simulator takes new amplitudes with the same change times)."""

    def __init__(self, **parameters):
        object.__setattr__(self, "_targets", [])  # (population, indices in it)
        object.__setattr__(self, "_native", {})
        object.__setattr__(self, "_index", len(state.current_sources))
        super().__init__(**parameters)
        self.set_native_parameters(self.translate(self.parameter_space))
        state.current_sources.append(self)

    def inject_into(self, cells) -> None:
        """Inject this current into ``cells`` (a Population, PopulationView, Assembly or list of IDs)."""
        for pop, idx in cells_by_population(cells):
            if not pop.celltype.injectable:
                raise TypeError("Can't inject current into a spike source.")
            self._targets.append((pop, idx))
        state.changed(f"a current source injected into {getattr(cells, 'label', None) or 'cells'} after run()")

    def get_native_parameters(self):
        from pyNN.parameters import ParameterSpace

        return ParameterSpace(dict(self._native))

    def set_native_parameters(self, parameters) -> None:
        if parameters.shape is None:
            parameters.shape = (1,)
        parameters.evaluate(simplify=True)
        new = {k: (v.value if isinstance(v, Sequence) else v) for k, v in parameters.items()}
        new = self._normalise({**self._native, **new})
        old_times = self.schedule(self._native)[0] if self._native else None
        self._native.clear()
        self._native.update(new)
        if state.sim is not None and self._targets:
            times, amps = self.schedule(new)
            if old_times is None or times.shape != old_times.shape or not np.array_equal(times, old_times):
                state.changed(f"the change times of {type(self).__name__} {self._index}")
                return
            for k in range(len(self._targets)):
                state.sim.set_currents(f"current{self._index}_{k}", [amps])

    def _normalise(self, native: dict) -> dict:
        return native

    def record(self):
        raise PondNotSupportedError("pond.pynn does not record the current of a current source; its schedule is "
                                    "known: see the source's parameters")


class DCSource(_PondCurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = build_translations(("amplitude", "amplitude", 1000.0), ("start", "start"), ("stop", "stop"))

    def schedule(self, native: dict) -> tuple[np.ndarray, np.ndarray]:
        """Change times (ms, on the grid) and amplitudes (pA) from ``start`` to ``stop``."""
        start = float(native["start"])
        stop = float(native["stop"])
        k0 = int(np.rint(start / state.dt))
        k1 = int(np.rint(stop / state.dt)) if np.isfinite(stop) else None
        if k1 is not None and k1 <= k0:
            return np.array([k0 * state.dt]), np.zeros(1)
        if k1 is None or k1 * state.dt > 1e11:
            return np.array([k0 * state.dt]), np.array([float(native["amplitude"])])
        return np.array([k0, k1]) * state.dt, np.array([float(native["amplitude"]), 0.0])


class StepCurrentSource(_PondCurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    translations = build_translations(("amplitudes", "amplitudes", 1000.0), ("times", "times"))

    def _normalise(self, native: dict) -> dict:
        times = np.asarray(native["times"], dtype=np.float64).ravel()
        amps = np.asarray(native["amplitudes"], dtype=np.float64).ravel()
        if times.shape != amps.shape:
            raise ValueError(f"StepCurrentSource: {times.size} times but {amps.size} amplitudes; they must match")
        if times.size and times.min() < 0:
            raise ValueError("Step current cannot accept negative timestamps.")
        if times.size > 1 and np.min(np.diff(times)) <= 0:
            raise ValueError("Step current timestamps should be monotonically increasing.")
        grid = np.rint(times / state.dt) * state.dt
        # duplicates after rounding: the last amplitude given for a step wins (as PyNN's other backends)
        keep = np.r_[grid[1:] != grid[:-1], True] if grid.size else np.zeros(0, bool)
        return {"times": grid[keep], "amplitudes": amps[keep]}

    def schedule(self, native: dict) -> tuple[np.ndarray, np.ndarray]:
        times, amps = native["times"], native["amplitudes"]
        if times.size == 0:
            return np.zeros(1), np.zeros(1)
        return times, amps


# ---------------------------------------------------------------------------------------------------- refused

_REASONS = {
    "conductance": "conductance-based synapses; pond's neurons are current-based (IF_curr_exp, IF_curr_delta)",
    "alpha": "alpha-shaped synaptic currents; pond's synaptic currents are exponential (IF_curr_exp) or delta "
             "(IF_curr_delta)",
    "adaptive": "spike-frequency adaptation; pond's neurons are leaky integrate-and-fire without adaptation",
    "other": "a neuron model pond does not simulate; pond runs IF_curr_exp and IF_curr_delta",
    "source": "a spike source pond does not generate; pond has SpikeSourcePoisson and SpikeSourceArray",
    "plastic": "synaptic plasticity pond does not simulate; pond has StaticSynapse and TsodyksMarkramSynapse",
    "current": "a current waveform pond does not inject; pond has DCSource and StepCurrentSource",
}


def _refused(base: type, reason: str) -> type:
    """A class named like PyNN's ``base`` that refuses to be created, saying why and what pond offers."""
    def __init__(self, *args, **kwargs):
        raise PondNotSupportedError(f"pond.pynn cannot run {base.__name__}: it has {_REASONS[reason]}.")

    return type(base.__name__, (base,), {"__init__": __init__, "__doc__": f"Not available in pond: "
                                         f"{_REASONS[reason]}.", "__module__": __name__})


IF_curr_alpha = _refused(cells.IF_curr_alpha, "alpha")
IF_cond_alpha = _refused(cells.IF_cond_alpha, "conductance")
IF_cond_exp = _refused(cells.IF_cond_exp, "conductance")
IF_cond_exp_gsfa_grr = _refused(cells.IF_cond_exp_gsfa_grr, "adaptive")
IF_facets_hardware1 = _refused(cells.IF_facets_hardware1, "conductance")
HH_cond_exp = _refused(cells.HH_cond_exp, "conductance")
EIF_cond_alpha_isfa_ista = _refused(cells.EIF_cond_alpha_isfa_ista, "adaptive")
EIF_cond_exp_isfa_ista = _refused(cells.EIF_cond_exp_isfa_ista, "adaptive")
Izhikevich = _refused(cells.Izhikevich, "other")
GIF_cond_exp = _refused(cells.GIF_cond_exp, "adaptive")
PointNeuron = _refused(cells.PointNeuron, "other")
LIF = _refused(cells.LIF, "other")
AdExp = _refused(cells.AdExp, "adaptive")
SpikeSourcePoissonRefractory = _refused(cells.SpikeSourcePoissonRefractory, "source")
SpikeSourceGamma = _refused(cells.SpikeSourceGamma, "source")
SpikeSourceInhGamma = _refused(cells.SpikeSourceInhGamma, "source")
CurrExpPostSynapticResponse = _refused(receptors.CurrExpPostSynapticResponse, "other")
CondExpPostSynapticResponse = _refused(receptors.CondExpPostSynapticResponse, "conductance")
CondAlphaPostSynapticResponse = _refused(receptors.CondAlphaPostSynapticResponse, "conductance")
CondBetaPostSynapticResponse = _refused(receptors.CondBetaPostSynapticResponse, "conductance")
ExpPSR, AlphaPSR, BetaPSR = CondExpPostSynapticResponse, CondAlphaPostSynapticResponse, CondBetaPostSynapticResponse
STDPMechanism = _refused(synapses.STDPMechanism, "plastic")
AdditiveWeightDependence = _refused(synapses.AdditiveWeightDependence, "plastic")
MultiplicativeWeightDependence = _refused(synapses.MultiplicativeWeightDependence, "plastic")
AdditivePotentiationMultiplicativeDepression = _refused(synapses.AdditivePotentiationMultiplicativeDepression,
                                                        "plastic")
GutigWeightDependence = _refused(synapses.GutigWeightDependence, "plastic")
SpikePairRule = _refused(synapses.SpikePairRule, "plastic")
Vogels2011Rule = _refused(synapses.Vogels2011Rule, "plastic")
ElectricalSynapse = _refused(synapses.ElectricalSynapse, "plastic")
SimpleStochasticSynapse = _refused(synapses.SimpleStochasticSynapse, "plastic")
StochasticTsodyksMarkramSynapse = _refused(synapses.StochasticTsodyksMarkramSynapse, "plastic")
MultiQuantalSynapse = _refused(synapses.MultiQuantalSynapse, "plastic")
ACSource = _refused(electrodes.ACSource, "current")
NoisyCurrentSource = _refused(electrodes.NoisyCurrentSource, "current")

CELL_TYPES = (IF_curr_exp, IF_curr_delta, SpikeSourcePoisson, SpikeSourceArray)

#: What ``from pond.pynn.standardmodels import *`` (and so ``pond.pynn``) exports: every PyNN standard type name.
__all__ = [name for name, obj in list(globals().items()) if isinstance(obj, type) and not name.startswith("_")
           and obj.__module__ == __name__]
