"""Memory estimate of a model before anything is built: bytes per part, for a number of trials.

The figures follow the layout :mod:`engine.build.builder` and :class:`~engine.run.simulator.Simulator` allocate: per synapse
4 bytes of target, 4 of weight and 1–2 of delay unless a row shares one value; 24 bytes of parameters and 16 bytes
of ``u``, ``x`` per trial for Tsodyks–Markram synapses; per presynaptic row its pointers, one per target block and
one more; per neuron and trial 37 bytes of state; the delivery queues at their starting size (they grow with the
number of events in flight); the spike record; with a run length, the rate and state monitors' records (4 bytes
per step and rate target, 8 per sample and recorded column). Synapse counts are the rules' expected numbers, those
of distance-dependent rules summed from the positions
(:func:`engine.network.connectivity.expected_distance_synapses`). The build streams synapses into their final arrays
(:mod:`engine.kernels.csr`); ``build_peak`` is what it holds besides them: per-segment counts and fill pointers,
each projection's row pointers, and the targets of the rules that are generated whole (in-degree, explicit, total
number without multapses).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.network.connectivity import DistanceDependent, Explicit, FixedInDegree, FixedTotalNumber, expected_synapses
from engine.network.distributions import Gamma, LogNormal, Normal, Uniform
from engine.build.blocks import default_blocks
from engine.build.memory import GiB, available_bytes
from engine.network.description import Network, PoissonSource, RateMonitor, StateMonitor


@dataclass
class MemoryEstimate:
    """Bytes each part of a model will take, for ``trials`` trials; ``total`` is their sum, ``peak`` what the
    process will hold at most (total plus the build's transient excess)."""

    trials: int
    synapses: float
    parts: dict = field(default_factory=dict)
    build_peak: int = 0
    available: int = 0

    @property
    def total(self) -> int:
        return int(sum(self.parts.values()))

    @property
    def peak(self) -> int:
        return self.total + self.build_peak

    @property
    def fits(self) -> bool:
        return self.peak <= self.available

    def to_dict(self) -> dict:
        return {"trials": self.trials, "synapses": self.synapses, "parts": dict(self.parts), "total": self.total,
                "build_peak": self.build_peak, "peak": self.peak, "available": self.available, "fits": self.fits}

    def __str__(self) -> str:
        width = max(len(k) for k in (*self.parts, "build (transient)"))
        lines = [f"memory estimate for {self.trials} trial(s), about {self.synapses:.3g} synapses:"]
        lines += [f"  {k:<{width}}  {_fmt(v)}" for k, v in self.parts.items()]
        lines += [f"  {'build (transient)':<{width}}  {_fmt(self.build_peak)}",
                  f"  {'peak':<{width}}  {_fmt(self.peak)} of {_fmt(self.available)} available"
                  + ("" if self.fits else "  -- DOES NOT FIT")]
        return "\n".join(lines)


def _fmt(n: float) -> str:
    return f"{n / GiB:.3f} GiB" if n >= 0.1 * GiB else f"{n / (1 << 20):.1f} MiB"


def _expected(net: Network, proj, sizes: dict) -> float:
    """The projection's expected synapses; a distance-dependent rule without positions at its largest, ``C`` to
    every target (the build refuses it anyway)."""
    n_pre, n_post = sizes.get(proj.source, 0), sizes.get(proj.target, 0)
    if isinstance(proj.rule, DistanceDependent):
        same = proj.source == proj.target
        pre, post = (getattr(_find(net, name), "positions", None) for name in (proj.source, proj.target))
        if same:
            pre = post = pre if pre is not None else post
        n = expected_synapses(proj.rule, n_pre, n_post, pre, post, skip_diagonal=same and not proj.allow_autapses)
        return float(proj.rule.C) * n_pre * n_post if n is None else float(n)
    return float(expected_synapses(proj.rule, n_pre, n_post) or 0.0)


def _find(net: Network, name: str):
    for obj in (*net.populations, *net.sources):
        if obj.name == name:
            return obj
    return None


def _monitor_records(net: Network, duration_ms: float) -> int:
    """Bytes of one trial's rate and state records over ``duration_ms`` (as the simulators allocate them)."""
    steps = int(np.ceil(duration_ms / net.dt - 1e-9))
    sizes = {p.name: p.size for p in (*net.populations, *net.sources)}
    rate_targets = {m.target for m in net.monitors if isinstance(m, RateMonitor)}
    total = 4 * steps * len(rate_targets)
    for m in net.monitors:
        if isinstance(m, StateMonitor):
            columns = (sizes.get(m.target, 0) if m.indices is None else len(m.indices)) * len(m.variables)
            total += 8 * (steps // m.every) * columns
    return total


def _const(v) -> bool:
    return np.ndim(v) == 0 and isinstance(v, (int, float, np.number))


def _delay_bound(delay) -> float:
    """A delay's largest value: a constant, a distribution's upper bound (its mean plus 4 SD when unbounded), or
    an array's maximum."""
    if _const(delay):
        return float(delay)
    if isinstance(delay, Uniform):
        return float(delay.high)
    if isinstance(delay, Normal):
        hi = delay.bounds()[1]
        return hi if np.isfinite(hi) else float(delay.mean) + 4.0 * float(delay.std)
    if isinstance(delay, (Gamma, LogNormal)):
        mean = float(delay.shape * delay.scale) if isinstance(delay, Gamma) else float(np.exp(delay.mu))
        return 4.0 * mean
    arr = np.asarray(delay, dtype=np.float64)
    return float(arr.max()) if arr.size else 1.0


def estimate_memory(net: Network, trials: int = 1, n_blocks: int | None = None, share: float = 1.0,
                    duration_ms: float | None = None) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of ``net`` run with ``trials`` trials (see the module docstring).

    ``duration_ms``, the length of the run, adds the records of its rate and state monitors ("monitor records"),
    which grow with it: 20,000 neurons sampled every 0.1 ms step for 10 s are 16 GB per trial.

    ``share`` is the fraction of the target blocks one process holds: an MPI rank of ``P`` holds ``1 / P`` of the
    synapses, their parameters and state, the row pointers' block columns and the delivery queues; the per-row and
    per-neuron tables, spike buffers and the spike record stay whole on every rank (:mod:`engine.parallel.mpi`)."""

    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"estimate_memory: trials = {trials!r} is not allowed; it must be an integer >= 1")
    if not 0.0 < share <= 1.0:
        raise ValueError(f"estimate_memory: share = {share!r} is not allowed; it must lie in (0, 1]")
    if duration_ms is not None and not (isinstance(duration_ms, (int, float, np.number))
                                        and not isinstance(duration_ms, bool) and 0 <= duration_ms < np.inf):
        raise ValueError(f"estimate_memory: duration_ms = {duration_ms!r} is not allowed; it must be None or a "
                         f"finite number of ms >= 0")
    B = int(trials)
    NB = default_blocks() if n_blocks is None else int(n_blocks)
    sizes = {p.name: p.size for p in (*net.populations, *net.sources)}
    N = sum(p.size for p in net.populations)
    n_pre = N + sum(s.size for s in net.sources)
    counts = {"static": 0.0, "dynamic": 0.0}
    drawn_w = {"static": False, "dynamic": True}  # dynamic synapses always hold one weight each
    drawn_d = {"static": False, "dynamic": False}
    max_delay = 1.0
    expected = [_expected(net, proj, sizes) for proj in net.projections]
    for proj, n in zip(net.projections, expected):
        group = "dynamic" if proj.synapse.dynamic else "static"
        counts[group] += n
        drawn_w[group] |= not _const(proj.weight)
        drawn_d[group] |= not _const(proj.delay)
        max_delay = max(max_delay, _delay_bound(proj.delay))
    D = int(round(max_delay / net.dt)) + 1
    d_size = 1 if D <= 256 else 2
    static, dynamic = counts["static"], counts["dynamic"]
    # the synapse and neuron models say what they keep: parameters once, state per trial
    syn_par = syn_state = 0.0
    for proj, n in zip(net.projections, expected):
        syn_par += n * proj.synapse.parameter_bytes
        syn_state += n * proj.synapse.state_bytes
    neuron_bytes = max((p.spec.bytes_per_neuron for p in net.populations), default=0)
    dynamic_rows = dynamic > 0
    connectivity = 0.0
    for group, n in counts.items():
        if group == "dynamic" and not n:
            continue
        per_row = 8 + 8 * (max(1, round(share * NB)) + 1) + 4 + (4 if group == "static" else 0)  # own blocks
        connectivity += share * n * (4 + 4 * drawn_w[group] + d_size * drawn_d[group]) + per_row * n_pre
    n_ch = sum(s.size for s in net.sources if isinstance(s, PoissonSource))
    n_pad = -(-N // 16) * 16
    parts = {
        "connectivity": int(connectivity),
        "synapse parameters": int(share * syn_par),
        "synapse state": int(B * share * (syn_state + (8 * NB * n_pre if dynamic_rows else 0))),
        "neuron state": int(B * (n_pad * neuron_bytes + -(-N // 64) * 64)),
        "delivery queues": int(B * share * NB * D * (64 * 20 + 16)),  # run-queue entries are the largest: 20 B
        "spike buffers": int(B * 2 * NB * 8 * (-(-N // NB) + -(-n_ch // NB))),
        "spike record": int(B * 12 * (1 << 18)),
    }
    if duration_ms is not None:
        parts["monitor records"] = int(B * _monitor_records(net, float(duration_ms)))
    # the streaming build holds, besides the result, its per-segment counts and fill pointers, each projection's
    # row pointers, and the 4-byte targets of rules that are not generated row by row
    whole = sum(n for p, n in zip(net.projections, expected)
                if isinstance(p.rule, (FixedInDegree, Explicit)) or (isinstance(p.rule, FixedTotalNumber)
                                                                     and not p.allow_multapses))
    build_peak = int(4 * whole + 16 * NB * n_pre + 8 * sum(sizes.get(p.source, 0) + 1 for p in net.projections))
    return MemoryEstimate(trials=B, synapses=static + dynamic, parts=parts, build_peak=build_peak,
                          available=available_bytes())
