"""The declared PyNN model as one engine :class:`~engine.Network`, and the Simulator built from it.

=========================  =====================================================================================
PyNN                       engine
=========================  =====================================================================================
population ``k``           ``Population`` / ``PoissonSource`` / ``SpikeSource`` named ``population{k}``
neuron parameters          one value per population (``I_e`` and the initial ``V`` per cell); ``tau_refrac``
                           rounded to whole steps and counted from the end of the spike's step, as NEST's
                           ``t_ref`` (engine ``t_ref = tau_refrac + dt``: the engine counts from the step's start)
projection ``m``           ``projection{m}`` (fast path: the engine rule) or ``projection{m}_{j}``: explicit
                           lists, one per (pre population, post population, Tsodyks–Markram parameters)
weights                    nA -> pA onto ``IF_curr_exp``, mV onto ``IF_curr_delta``
current source ``c``       ``current{c}_{j}``, one per target population
recording                  ``SpikeMonitor`` and ``StateMonitor`` (see :mod:`pond.pynn.recording`)
=========================  =====================================================================================

Every random draw the engine makes (Poisson spikes, fast-path connectivity) is keyed by ``setup(rng_seed=...)``
and these names, so the same script gives the same spikes, run after run, on any number of threads.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from engine import (CurrentSource, Network, PoissonSource, Population, Projection, Simulator, SpikeMonitor,
                    SpikeSource, StateMonitor)
from engine.network.connectivity import Explicit
from engine.models.synapses import TsodyksMarkram
from pond.pynn import simulator
from pond.pynn.cells import cells_by_population
from pond.pynn.simulator import PondNotSupportedError
from pond.pynn.standardmodels import IF_curr_delta, SpikeSourceArray, SpikeSourcePoisson, TsodyksMarkramSynapse

_NEVER = 1e9  # ms: a start or stop this late is "never" (PyNN's default duration is 1e10 ms)
_NEURON_PARAMETERS = ("tau_m", "C_m", "E_L", "V_th", "V_reset", "t_ref")


@dataclass
class Translation:
    """How the PyNN objects map onto the built engine network."""

    names: dict = field(default_factory=dict)  # pond.pynn Population -> engine name
    state_indices: dict = field(default_factory=dict)  # Population -> sorted cell indices with state recorded
    initial_state: dict = field(default_factory=dict)  # Population -> {engine variable: initial values}
    every: int = 1  # steps between state samples
    spiking: set = field(default_factory=set)  # populations whose spikes are monitored


def build_simulator(state) -> tuple[Simulator, Translation]:
    """Translate the declared model and build the engine Simulator (t = 0)."""
    tr = Translation()
    net = Network(dt=state.dt, seed=state.rng_seed)
    for k, pop in enumerate(state.populations):
        tr.names[pop] = f"population{k}"
        net.add(_population(pop, tr.names[pop], state, tr))
    for prj in state.projections:
        net.add(*_projections(prj, tr.names))
    for cs in state.current_sources:
        times, amps = cs.schedule(cs._native)
        for j, (pop, idx) in enumerate(cs._targets):
            net.add(CurrentSource(f"current{cs._index}_{j}", tr.names[pop], amplitude=amps, times=times,
                                  indices=np.asarray(idx, dtype=np.int64)))
    if not net.populations:  # the engine needs a neuron population; spike sources alone get a silent one
        net.add(Population("placeholder", 1))
    _monitors(state, net, tr)
    previous = numba.get_num_threads()
    if state.threads is not None:  # setup(threads=...) bounds the build's parallel kernels too
        numba.set_num_threads(max(1, min(state.threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        sim = Simulator(net, n_jobs=state.threads)
    finally:
        numba.set_num_threads(previous)
    for pop in state.populations:
        for var, init in tr.initial_state.get(pop, {}).items():
            if var != "V" and np.any(init):
                lo, hi = population_slice(pop, sim, tr)
                getattr(sim, var)[:, lo:hi] = init
    return sim, tr


def population_slice(pop, sim=None, tr=None) -> tuple[int, int]:
    """The engine neuron indices ``[lo, hi)`` of a neuron population in the running Simulator."""
    sim = sim or simulator.state.sim
    tr = tr or simulator.state.translation
    k = sim.built.pop_names.index(tr.names[pop])
    return int(sim.built.pop_lo[k]), int(sim.built.pop_hi[k])


# ------------------------------------------------------------------------------------------------ populations
def _population(pop, name: str, state, tr: Translation):
    celltype = pop.celltype
    par = pop._parameters
    if isinstance(celltype, SpikeSourcePoisson):
        times, rate = poisson_schedule(pop, state.dt)
        return PoissonSource(name, pop.size, rate=rate, rate_times=times)
    if isinstance(celltype, SpikeSourceArray):
        times, idx = spike_trains(pop, state.dt)
        return SpikeSource(name, pop.size, times=times, indices=idx)
    values = {}
    names = _NEURON_PARAMETERS + (() if isinstance(celltype, IF_curr_delta) else ("tau_syn_ex", "tau_syn_in"))
    for pname in names:
        arr = np.asarray(par[pname], dtype=np.float64)
        if arr.size and np.any(arr != arr.flat[0]):
            raise PondNotSupportedError(
                f"pond.pynn: population {pop.label!r} has different values of {_pynn_name(celltype, pname)} across "
                "its cells; pond takes one value per population (only i_offset and initial values may differ per "
                "cell). Split it into populations with one value each")
        values[pname] = float(arr.flat[0])
    # NEST clamps V for t_ref after the end of the step in which it crossed threshold; the engine (like Brian 2)
    # counts t_ref from that step's start, so it gets one step more
    values["t_ref"] = (round(values["t_ref"] / state.dt) + 1) * state.dt
    i_e = np.asarray(par["I_e"], dtype=np.float64)
    v0 = pop.initial_array("v")
    init = {"V": v0}
    for var in ("isyn_exc", "isyn_inh"):
        if var in celltype.state_variables:
            engine_var, factor = celltype.state_variables[var]
            init[engine_var] = pop.initial_array(var) / factor if var in pop.initial_values else np.zeros(pop.size)
    tr.initial_state[pop] = init
    return Population(name, pop.size, model=celltype.engine_model, I_e=i_e if np.any(i_e != i_e[0]) else
                      float(i_e[0]), V_init=v0, **values)


def _pynn_name(celltype, native: str) -> str:
    for k, v in celltype.translations.items():
        if v["translated_name"] == native:
            return k
    return native


def poisson_schedule(pop, dt: float) -> tuple[np.ndarray | None, np.ndarray]:
    """Rates of a SpikeSourcePoisson as the engine takes them: ``(None, rate per channel)`` when every channel runs
    from 0 for ever, else piecewise-constant ``(change times, rate table)`` with each channel's rate between its
    ``start`` and ``start + duration`` (rounded to the grid) and 0 elsewhere."""
    par = pop._parameters
    rate = np.asarray(par["rate"], dtype=np.float64)
    start = np.rint(np.asarray(par["start"], dtype=np.float64) / dt) * dt
    stop = np.asarray(par["start"], dtype=np.float64) + np.asarray(par["duration"], dtype=np.float64)
    stop = np.where(stop >= _NEVER, np.inf, np.rint(stop / dt) * dt)
    if np.all(start == 0) and np.all(np.isinf(stop)):
        return None, rate
    times = np.unique(np.concatenate([[0.0], start[start < _NEVER], stop[np.isfinite(stop)]]))
    on = (start[None, :] <= times[:, None] + dt / 2) & (times[:, None] + dt / 2 < stop[None, :])
    return times, np.where(on, rate[None, :], 0.0)


def spike_trains(pop, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Spike times of a SpikeSourceArray on the time grid: each time rounded up to the next step unless it lies
    within rounding error of one (NEST's ``allow_offgrid_times``), as ``(times, channel indices)``."""
    times, idx = [], []
    for i, seq in enumerate(np.atleast_1d(pop._parameters["spike_times"])):
        t = np.asarray(seq.value if hasattr(seq, "value") else seq, dtype=np.float64).ravel()
        t = t[t >= 0]
        steps = np.ceil(t / dt - 1e-6)
        times.append(steps * dt)
        idx.append(np.full(t.size, i, dtype=np.int64))
    return (np.concatenate(times) if times else np.zeros(0)), (np.concatenate(idx) if idx else np.zeros(0, np.int64))


def update_in_flight(pop, changed: set) -> bool:
    """Hand a parameter change to the running Simulator if the engine takes it in flight; False when it cannot."""
    state = simulator.state
    name = state.translation.names[pop]
    if isinstance(pop.celltype, SpikeSourceArray) and changed <= {"spike_times"}:
        state.sim.set_spikes(name, [spike_trains(pop, state.dt)])
        return True
    if isinstance(pop.celltype, SpikeSourcePoisson) and changed <= {"rate", "start", "duration"}:
        times, rate = poisson_schedule(pop, state.dt)
        old = state.sim.network.get(name).rate_times
        if (times is None) != (old is None) or (times is not None and not np.array_equal(times, old)):
            return False
        state.sim.set_rates(name, [rate])
        return True
    return False


# ------------------------------------------------------------------------------------------------ projections
def _projections(prj, names: dict) -> list:
    """The engine projections of one PyNN projection (see the module docstring)."""
    post_kind = _post_kind(prj.post)
    if prj.rule is not None:
        rule, autapses, multapses = prj.rule
        v = prj.homogeneous_values()
        scale = 1.0 if post_kind == "delta" else 1000.0
        return [Projection(names[prj.pre], names[prj.post], rule, weight=v["weight"] * scale, delay=v["delay"],
                           allow_autapses=autapses, allow_multapses=multapses, name=prj.engine_name,
                           synapse=_synapse(prj, v))]
    pre, post, values = prj._arrays()
    pre_pop, pre_idx = _owners(cells_by_population(prj.pre), pre)
    post_pop, post_idx = _owners(cells_by_population(prj.post), post)
    tm = isinstance(prj.synapse_type, TsodyksMarkramSynapse)
    pre_pops = [p for p, _ in cells_by_population(prj.pre)]
    post_pops = [p for p, _ in cells_by_population(prj.post)]
    groups = pre_pop * len(post_pops) + post_pop
    if tm:  # one engine projection per set of Tsodyks-Markram parameters too
        params = np.unique(np.stack([values["U"], values["tau_rec"], values["tau_fac"]], axis=1), axis=0,
                           return_inverse=True)[1].ravel()
        groups = groups * (int(params.max()) + 1 if params.size else 1) + params
    out = []
    for j, code in enumerate(np.unique(groups)):
        sel = np.flatnonzero(groups == code) if len(pre_pops) * len(post_pops) > 1 or tm else np.arange(pre.size)
        src, tgt = pre_pops[int(pre_pop[sel[0]])], post_pops[int(post_pop[sel[0]])]
        scale = 1.0 if isinstance(tgt.celltype, IF_curr_delta) else 1000.0
        s, t = pre_idx[sel], post_idx[sel]
        order = np.lexsort((t, s))  # CSR order of engine.network.connectivity.Explicit
        sel, s, t = sel[order], s[order], t[order]
        v = {n: values[n][sel] for n in values}
        out.append(Projection(names[src], names[tgt], Explicit(s, t), weight=v["weight"] * scale,
                              delay=v["delay"], name=f"{prj.engine_name}_{j}",
                              synapse=_synapse(prj, {n: float(a[0]) for n, a in v.items()})))
    return out


def _owners(parts: list, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For indices into a population, view or assembly: the part each falls in and its index in that part's
    population."""
    bounds = np.cumsum([0] + [idx.size for _, idx in parts])
    part = np.searchsorted(bounds, indices, side="right") - 1
    local = np.concatenate([idx for _, idx in parts])[indices] if indices.size else indices
    return part, local


def _post_kind(post) -> str:
    kinds = {"delta" if isinstance(p.celltype, IF_curr_delta) else "exp" for p, _ in cells_by_population(post)}
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _synapse(prj, values: dict):
    if not isinstance(prj.synapse_type, TsodyksMarkramSynapse):
        return None
    return TsodyksMarkram(U=values["U"], tau_rec=values["tau_rec"], tau_fac=values["tau_fac"])


# ------------------------------------------------------------------------------------------------ monitors
def _monitors(state, net: Network, tr: Translation) -> None:
    intervals = [state.steps(pop.recorder.sampling_interval, "sampling_interval") for pop in state.populations
                 if any(ids and v.name != "spikes" for v, ids in pop.recorder.recorded.items())]
    tr.every = math.gcd(*intervals) if intervals else 1
    for pop in state.populations:
        name = tr.names[pop]
        recorded = {v.name: ids for v, ids in pop.recorder.recorded.items() if ids}
        if "spikes" in recorded:
            net.add(SpikeMonitor(name))
            tr.spiking.add(pop)
        variables = [v for v in recorded if v != "spikes"]
        if variables:
            ids = set().union(*(recorded[v] for v in variables))
            idx = np.sort(np.asarray(pop.id_to_index(np.array(sorted(ids), dtype=int)), dtype=np.int64))
            engine_vars = tuple(dict.fromkeys(pop.celltype.state_variables[v][0] for v in variables))
            net.add(StateMonitor(name, variables=engine_vars, indices=idx, every=tr.every))
            tr.state_indices[pop] = idx
