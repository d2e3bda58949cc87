"""Brian2 bridge: build the same model in Brian2, from the same arrays, for validation and side-by-side benchmarks.

The bridge takes pond's built connectivity (so both simulators have the very same synapses, weights and delays),
pond's initial membrane potentials and the input spikes pond's sources produced (so both see the same Poisson
trains), and writes the neuron model out as Brian2 equations integrated with ``method="exact"``:

.. math::

    \\frac{dv}{dt} = -\\frac{v - E_L}{\\tau_m} + \\frac{I_{ex} + I_{in} + I_{ext}}{C_m},\\quad
    \\frac{dI_{ex}}{dt} = -\\frac{I_{ex}}{\\tau_{syn,ex}},\\quad \\frac{dI_{in}}{dt} = -\\frac{I_{in}}{\\tau_{syn,in}}

with threshold ``v >= V_th``, reset ``v = V_reset`` and ``refractory = t_ref``; a synapse adds its weight to
``I_ex_post`` (w >= 0) or ``I_in_post`` (w < 0) after ``delay``. Brian2 and pond then take the same steps in the same
order, so they produce the same spikes, step for step (``tests/test_brian2_equivalence.py``).

iaf_psc_delta targets get ``v_post += w`` in the ``before_thresholds`` slot with the delay shortened by one step,
which is NEST's timing (input arriving in a step can make the neuron fire in that step; input is dropped while the
neuron is refractory). Time-varying current sources are not bridged (a DC ``I_e`` is).

Tsodyks–Markram synapses carry ``u``, ``x``, their parameters and the step of their last spike (``klast``, -1 before
the first) as synaptic variables; ``on_pre`` applies the recurrence of :mod:`engine.models.synapses` one binary
operation per statement, with the elapsed time from integer steps, so that Brian2 rounds exactly as pond does.

Brian2 is imported only when these functions are called; it is a development dependency, not a runtime one.
"""
from __future__ import annotations

import numpy as np

from engine.build.builder import Built, build
from engine.models.neurons import NEURON_MODELS
from engine.network.description import Network


def _groups(built: Built) -> list[tuple[str, int, int]]:
    bounds = built.pre_bounds()
    return [(name, int(bounds[k]), int(bounds[k + 1])) for k, name in enumerate(built.names_pre())]


def build_brian2(net: Network, V_init: np.ndarray, source_spikes: dict, built: Built | None = None):
    """Brian2 objects equivalent to ``net``.

    Parameters
    ----------
    net : Network
        The pond model.
    V_init : array of shape (n_neurons,)
        Initial membrane potentials (mV), e.g. ``Simulator.V0[trial]``.
    source_spikes : dict
        ``{source name: (times_ms, indices)}`` for every source with outgoing projections (the spikes pond's
        sources emitted, e.g. from a SpikeMonitor on the source). Repeated (time, index) pairs are allowed.
    built : Built, optional
        ``net`` already built (saves rebuilding the connectivity).

    Returns
    -------
    dict
        ``"network"`` (a ``brian2.Network``), ``"groups"`` (name → NeuronGroup) and ``"monitors"`` (name →
        SpikeMonitor).
    """
    import brian2 as b2

    if net.currents:
        raise ValueError("build_brian2: CurrentSource objects are not supported by the Brian2 bridge; use I_e")
    built = build(net) if built is None else built
    V_init = np.asarray(V_init, dtype=np.float64)
    if V_init.shape != (built.n_neurons,):
        raise ValueError(f"build_brian2: V_init has shape {V_init.shape}; expected ({built.n_neurons},)")
    dt = net.dt * b2.ms
    objects, groups, monitors, pre_groups = [], {}, {}, {}
    for k, pop in enumerate(net.populations):
        lo, hi = int(built.pop_lo[k]), int(built.pop_hi[k])
        form = pop.spec.brian2
        if form is None:
            raise ValueError(f"build_brian2: Population {pop.name!r} has model = {pop.model!r}, which has no Brian2 "
                             "form; models with one: " + ", ".join(m.name for m in NEURON_MODELS.values() if m.brian2))
        units = {"ms": b2.ms, "mV": b2.mV, "pA": b2.pA, "pF": b2.pF, "nS": b2.nS, "Hz": b2.Hz, "1": 1}
        ns = {p.name: getattr(pop, p.name) * units[p.unit] for p in pop.spec.parameters
              if not p.per_neuron and p.name != "t_ref"}
        g = b2.NeuronGroup(hi - lo, form.equations, threshold="v >= V_th", reset="v = V_reset", refractory=pop.t_ref * b2.ms,
                           method="exact", namespace=ns, dt=dt, name=f"pop_{pop.name}")
        g.v = V_init[lo:hi] * b2.mV
        g.I_ext = built.I_e[lo:hi] * b2.pA
        groups[pop.name] = g
        pre_groups[pop.name] = (g, None)
        monitors[pop.name] = b2.SpikeMonitor(g, name=f"spikes_{pop.name}")
        objects += [g, monitors[pop.name]]
    for k, src in enumerate(net.sources):
        if src.name not in source_spikes:
            continue
        times, idx = source_spikes[src.name]
        steps = np.rint(np.asarray(times, dtype=np.float64) / net.dt).astype(np.int64)
        idx = np.asarray(idx, dtype=np.int64)
        # Brian2 allows one spike per (index, step): repeated spikes go to copies of the channel (rank r → block r)
        order = np.lexsort((idx, steps))
        steps, idx = steps[order], idx[order]
        key = steps * src.size + idx
        first = np.r_[0, np.flatnonzero(np.diff(key)) + 1] if key.size else np.zeros(0, np.int64)
        rank = np.arange(key.size) - np.repeat(first, np.diff(np.r_[first, key.size])) if key.size else key
        n_copies = int(rank.max()) + 1 if rank.size else 1
        g = b2.SpikeGeneratorGroup(src.size * n_copies, idx + rank * src.size, steps * dt, dt=dt,
                                   name=f"src_{src.name}")
        pre_groups[src.name] = (g, n_copies)
        objects.append(g)
    objects += _synapses(b2, net, built, pre_groups, groups, dt)
    return {"network": b2.Network(objects), "groups": groups, "monitors": monitors}


_TM_MODEL = """w : 1
               U : 1
               tau_rec : 1
               tau_fac : 1
               u : 1
               x : 1
               klast : integer"""
# one binary operation per statement: Brian2 rounds as pond's kernel does (engine.kernels.synapses.tm_efficacy)
_TM_ON_PRE = """first = int(klast < 0)
                hms = (t_in_timesteps - klast) * dt_ms
                xd = exp(-hms / tau_rec)
                fac = int(tau_fac > 0)
                ud = fac * exp(-hms / (tau_fac + (1 - fac)))
                a = x * u
                bq = x - a
                c = bq - 1
                dd = c * xd
                xn = 1 + dd
                e = 1 - U
                f = u * e
                g = f * ud
                un = U + g
                x = first * x + (1 - first) * xn
                u = first * u + (1 - first) * un
                klast = t_in_timesteps
                eff = x * u
                we = w * eff"""


def _group_arrays(built: Built, group: str) -> tuple:
    """Rows, targets, weights, delays (steps) and per-synapse parameters of the static or the dynamic group."""
    if group == "static":
        rows = np.repeat(np.arange(built.n_pre, dtype=np.int64), np.diff(built.indptr))
        w = built.w_syn if built.w_syn.size else built.w_row[rows]
        d = (built.d_syn if built.d_syn.size else built.d_row[rows]).astype(np.int64)
        return built.indptr, rows, built.targets, w, d, {}
    st = built.stp
    rows = np.repeat(np.arange(st["indptr"].size - 1, dtype=np.int64), np.diff(st["indptr"]))
    d = (st["d_syn"] if st["d_syn"].size else st["d_row"][rows]).astype(np.int64)
    return st["indptr"], rows, st["targets"], st["w"], d, {k: st[k] for k in ("U", "tau_rec", "tau_fac", "u0", "x0")}


def _synapses(b2, net: Network, built: Built, pre_groups: dict, groups: dict, dt) -> list:
    """One Brian2 ``Synapses`` per (presynaptic group, target population, channel, synapse model), in pond's CSR
    order."""
    out = []
    for group in ("static", "tsodyks_markram"):
        if group == "tsodyks_markram" and built.stp["targets"].size == 0:
            continue
        out += _group_synapses(b2, net, built, pre_groups, groups, dt, group)
    return out


def _group_synapses(b2, net: Network, built: Built, pre_groups: dict, groups: dict, dt, group: str) -> list:
    out = []
    indptr, rows, targets, w, d, params = _group_arrays(built, group)
    dynamic = group != "static"
    post_groups = _groups(built)[:len(net.populations)]
    for name, lo, hi in _groups(built):
        if name not in pre_groups:
            continue
        sel_pre = slice(int(indptr[lo]), int(indptr[hi]))
        tg = targets[sel_pre].astype(np.int64)
        for pname, plo, phi in post_groups:
            pop = net.get(pname)
            for channel, sign in (("I_ex", 1), ("I_in", -1)):
                m = (tg >= plo) & (tg < phi) & ((w[sel_pre] >= 0) if sign > 0 else (w[sel_pre] < 0))
                if not m.any():
                    continue
                i = rows[sel_pre][m] - lo
                j = tg[m] - plo
                weights = w[sel_pre][m].astype(np.float64)
                delays = d[sel_pre][m]
                extra = {k: v[sel_pre][m] for k, v in params.items()}
                src_group, n_copies = pre_groups[name]
                if n_copies:  # copies of a generator channel carry the same synapses
                    i = np.concatenate([i + r * (hi - lo) for r in range(n_copies)])
                    j, weights, delays = (np.tile(a, n_copies) for a in (j, weights, delays))
                    extra = {k: np.tile(v, n_copies) for k, v in extra.items()}
                # stored delays of targets that take input inside the update are one step short already
                # (see engine.build.builder)
                form = pop.spec.brian2
                unit = b2.pA if form.weight_unit == "amp" else b2.mV
                model = f"w : {form.weight_unit}"
                on_pre = form.on_pre.format(channel=channel, w="w")
                if dynamic:  # the efficacy is dimensionless; the unit goes on where it is added
                    model = _TM_MODEL
                    on_pre = _TM_ON_PRE + "\n" + form.on_pre.format(
                        channel=channel, w="we * pA" if form.weight_unit == "amp" else "we * mV")
                syn = b2.Synapses(src_group, groups[pname], model, on_pre=on_pre, dt=dt,
                                  namespace={"dt_ms": float(net.dt), "pA": b2.pA, "mV": b2.mV},
                                  name=f"syn_{group}_{name}_{pname}_{channel}")
                syn.connect(i=i, j=j)
                syn.delay = delays * dt
                if dynamic:
                    syn.w = weights
                    syn.U, syn.tau_rec, syn.tau_fac = extra["U"], extra["tau_rec"], extra["tau_fac"]
                    syn.u, syn.x = extra["u0"], extra["x0"]
                    syn.klast = -1
                else:
                    syn.w = weights * unit
                if form.before_thresholds:
                    syn.pre.when = "before_thresholds"
                out.append(syn)
    return out


def run_brian2(net: Network, duration_ms: float, V_init: np.ndarray, source_spikes: dict, *,
               target: str = "cython", built: Built | None = None) -> dict:
    """Run ``net`` in Brian2 for ``duration_ms`` and return ``{population: (steps, indices)}``.

    ``target`` is Brian2's code generation target for runtime mode (``"cython"`` or ``"numpy"``).
    """
    import brian2 as b2

    b2.prefs.codegen.target = target
    objs = build_brian2(net, V_init, source_spikes, built)
    objs["network"].run(duration_ms * b2.ms)
    out = {}
    for name, mon in objs["monitors"].items():
        steps = np.rint(np.asarray(mon.t / b2.ms) / net.dt).astype(np.int64)
        out[name] = (steps, np.asarray(mon.i, dtype=np.int64))
    return out

