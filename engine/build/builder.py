"""Build: turn a validated :class:`~engine.network.description.Network` into the flat arrays the simulation kernel runs on.

Index spaces. Neurons of all populations are numbered ``0 .. N-1`` in the order the populations were added; the
presynaptic space continues with the channels of every source (Poisson and spike generators) at ``N .. N+S-1``. The
projections of each synapse model form one CSR matrix over the presynaptic space (a synapse group), its rows cut
into target blocks: ``row_ptr[int64]``, ``targets[int32]`` and, only when they differ inside a row, per-synapse
``weights[float32]`` and ``delays[uint8|uint16 steps]``; otherwise one value per row. Inside a segment synapses come
projection by projection, in the order the projections were added (sorted by delay, stably, when static synapses
have their own delays). The synapses are generated straight into these arrays (:mod:`engine.kernels.csr`), so the
build's peak memory is the result's. A Poisson drive (one one-to-one static projection with one weight and delay,
no monitor) is not a synapse group: it is drawn at its targets (``fused``).

Per-population propagators are computed here, once, by the population's neuron model (:mod:`engine.models.neurons`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.network.connectivity import OneToOne, RowSource, expected_synapses, row_source
from engine.network.distributions import DISTRIBUTIONS, Uniform, resolve_values
from engine.network.grid import grid_steps
from engine.interrupt import checkpoint
from engine.progress import interactive
from engine.build.blocks import MAX_BLOCKS, MAX_RANK_BLOCKS, block_bounds, block_size, default_blocks
from engine.build.memory import GiB
from engine.kernels.neurons import N_PAR
from engine.network.description import Network, PoissonSource, SpikeSource
from engine.models.neurons import propagators  # noqa: F401  (propagators: public here since issue 1)
from engine.random import named_stream
from engine.models.synapses import TsodyksMarkram  # the delivery kernel's dynamic group

_MAX_POISSON_MEAN = 100.0  # rate·dt per step above which the inverse-CDF sampler would lose accuracy
_MAX_POISSON_TABLE = 1 << 20  # entries (8 MiB) of tabulated Poisson CDFs; beyond, the kernel sums as it goes
_GUIDE = 256  # guide-table cells per tabulated CDF: the kernel starts its count at the cell of floor(256 u)


_MAX_DELAY_STEPS = int(np.iinfo(np.uint16).max)  # delays are stored as uint8/uint16 steps; the queues have this depth
@dataclass
class Built:
    """Flat arrays of a built network (connectivity shared by every trial)."""

    dt: float
    n_neurons: int
    n_pre: int
    pop_names: list
    pop_lo: np.ndarray
    pop_hi: np.ndarray
    pop_arrays: dict
    I_e: np.ndarray
    src_names: list
    src_lo: np.ndarray  # first presynaptic index of each source
    src_hi: np.ndarray
    blk_lo: np.ndarray  # target blocks: neurons blk_lo[k] .. blk_hi[k] (multiples of 64 apart)
    blk_hi: np.ndarray
    indptr: np.ndarray  # static synapses
    row_ptr: np.ndarray
    targets: np.ndarray
    w_syn: np.ndarray
    w_row: np.ndarray
    d_syn: np.ndarray
    d_row: np.ndarray
    stp: dict  # Tsodyks–Markram synapses: the same CSR fields plus per-synapse U, tau_rec, tau_fac, u0, x0
    max_delay: int
    min_delay: int  # smallest stored delay (steps): spikes of an interval this long are never due inside it
    row_delays: bool  # one delay per presynaptic row across both groups: the spike queue can be used
    pois: dict
    fused: dict  # Poisson drives drawn at their targets: by target, channel, weight (float32), delay (steps as stored)
    currents: dict
    proj_slices: dict  # projection name -> (pre_lo, pre_hi, post_lo, n_synapses) for reporting

    @property
    def n_synapses(self) -> int:
        return int(self.targets.size + self.stp["targets"].size + self.fused["tgt"].size)

    def connectivity_bytes(self) -> int:
        """Bytes held by the synapse groups (row pointers, targets, weights, delays, synapse parameters) and the
        fused Poisson drives."""
        static = sum(a.nbytes for a in (self.indptr, self.row_ptr, self.targets, self.w_syn, self.w_row, self.d_syn,
                                        self.d_row))
        return static + sum(a.nbytes for a in self.stp.values()) + sum(a.nbytes for a in self.fused.values())

    def bytes_per_synapse(self) -> float:
        return self.connectivity_bytes() / max(self.n_synapses, 1)

    def names_pre(self) -> list:
        """Names of every presynaptic group: populations then sources."""
        return self.pop_names + self.src_names

    def pre_bounds(self) -> np.ndarray:
        """Boundaries ``[lo_0, lo_1, ..., n_pre]`` of the presynaptic groups, in :meth:`names_pre` order."""
        return np.concatenate([self.pop_lo, self.src_lo, [self.n_pre]]).astype(np.int64)


def build(net: Network, n_blocks: int | None = None, own_blocks: tuple[int, int] | None = None) -> Built:
    """Validate cross-references and build every array; raises before heavy allocation on any bad input.

    ``n_blocks`` target blocks (default :func:`default_blocks`) let that many workers share one trial; the results
    do not depend on it. ``own_blocks = (lo, hi)`` keeps only the synapses onto blocks ``lo .. hi - 1`` (the share
    of one MPI rank, :mod:`engine.parallel.mpi`): the row pointers have a column per own block and one more (block
    ``lo + j`` is column ``j``), every per-row and per-neuron table stays whole, and up to
    :data:`MAX_RANK_BLOCKS` blocks are allowed."""
    if not net.populations:
        raise ValueError("Network: it has no Population; add at least one before building")
    dt = net.dt
    pops = net.populations
    sizes = np.array([p.size for p in pops], dtype=np.int64)
    pop_lo = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    pop_hi = (pop_lo + sizes).astype(np.int64)
    N = int(sizes.sum())
    # presynaptic layout: neurons, then every Poisson source, then every spike generator (whatever the add order)
    sources = [s for s in net.sources if isinstance(s, PoissonSource)] + \
        [s for s in net.sources if not isinstance(s, PoissonSource)]
    src_sizes = np.array([s.size for s in sources], dtype=np.int64)
    src_lo = (N + np.concatenate([[0], np.cumsum(src_sizes)[:-1]])).astype(np.int64) if sources else \
        np.zeros(0, np.int64)
    src_hi = (src_lo + src_sizes).astype(np.int64)
    n_pre = N + int(src_sizes.sum())
    if n_pre >= 2**31:
        raise ValueError(f"Network: {n_pre} neurons and source channels exceed the int32 index range")
    pre_index = {p.name: (int(pop_lo[k]), p) for k, p in enumerate(pops)}
    pre_index.update({s.name: (int(src_lo[k]), s) for k, s in enumerate(sources)})
    post_index = {p.name: (int(pop_lo[k]), p) for k, p in enumerate(pops)}

    pop_arrays = _population_arrays(pops, dt, {c.target for c in net.currents})
    for proj in net.projections:
        _check_projection_refs(proj, pre_index, post_index)
        proj.rule.validate(pre_index[proj.source][1].size, post_index[proj.target][1].size,
                           proj.source == proj.target, allow_autapses=proj.allow_autapses,
                           allow_multapses=proj.allow_multapses)
        if np.ndim(proj.delay) == 0 and isinstance(proj.delay, (int, float, np.number)):
            _delay_steps(proj, 0, dt, 0, 0)  # constant delays and weights are checked before any synapse exists
        if np.ndim(proj.weight) == 0 and isinstance(proj.weight, (int, float, np.number)):
            resolve_values(proj.weight, 0, seed=0, stream=0, name=f"Projection {proj.name!r} weight")
    for src in sources:
        if isinstance(src, SpikeSource):
            grid_steps(f"SpikeSource {src.name!r}", "times", src.times, dt)
    share = 1.0 if own_blocks is None or not n_blocks else (own_blocks[1] - own_blocks[0]) / n_blocks
    _check_build_memory(net, share)
    for mon in net.monitors:
        name = getattr(mon, "source", None) or getattr(mon, "target")
        if name not in pre_index:
            raise ValueError(f"{type(mon).__name__}: {name!r} is not a population or source of this network; "
                             f"choose from {sorted(pre_index)}")
    I_e = np.zeros(N, dtype=np.float64)
    for k, p in enumerate(pops):
        I_e[pop_lo[k]:pop_hi[k]] = p.I_e
    currents = _current_events(net, post_index, I_e)
    pois = _poisson_tables([s for s in sources if isinstance(s, PoissonSource)], N, dt)

    NB = default_blocks() if n_blocks is None else int(n_blocks)
    most = MAX_BLOCKS if own_blocks is None else MAX_RANK_BLOCKS
    if not 1 <= NB <= most:
        raise ValueError(f"build: n_blocks = {n_blocks!r} is not allowed; it must lie in [1, {most}]")
    own = (0, NB) if own_blocks is None else (int(own_blocks[0]), int(own_blocks[1]))
    if not 0 <= own[0] < own[1] <= NB:
        raise ValueError(f"build: own_blocks = {own_blocks!r} is not allowed; it must be (lo, hi) with "
                         f"0 <= lo < hi <= n_blocks = {NB}")
    blk_lo, blk_hi = block_bounds(N, NB)
    blk_size = block_size(N, NB)
    drives = _fusable_drives(net, sources)
    fused, drive_slices = _fused_drives(drives, pre_index, post_index, N, dt)
    groups, proj_slices = _merge_projections(net, pre_index, post_index, n_pre, blk_size, NB, set(drive_slices),
                                             own)
    proj_slices.update(drive_slices)
    static, stp = groups
    return Built(dt=dt, n_neurons=N, n_pre=n_pre, pop_names=[p.name for p in pops], pop_lo=pop_lo, pop_hi=pop_hi,
                 pop_arrays=pop_arrays, I_e=I_e, src_names=[s.name for s in sources], src_lo=src_lo,
                 src_hi=src_hi, blk_lo=blk_lo, blk_hi=blk_hi, indptr=static["indptr"], row_ptr=static["row_ptr"],
                 targets=static["targets"], w_syn=static["w_syn"], w_row=static["w_row"], d_syn=static["d_syn"],
                 d_row=static["d_row"], stp=stp, max_delay=static["max_delay"], min_delay=static["min_delay"],
                 row_delays=static["row_delays"], pois=pois, fused=fused, currents=currents,
                 proj_slices=proj_slices)


def _check_build_memory(net: Network, share: float = 1.0) -> None:
    """Refuse, before any synapse is generated, a network whose build cannot fit in the memory available now, with
    the estimate of :func:`engine.build.estimate.estimate_memory` (what the built network and one trial hold, plus the
    build's transient excess); ``share`` is the fraction of the target blocks this process builds (an MPI rank's)."""
    from engine.build.estimate import estimate_memory

    est = estimate_memory(net, trials=1, share=share)
    if not est.fits:
        raise MemoryError(f"Network: building {net.size} neurons and about {est.synapses:.3g} synapses needs about "
                          f"{est.peak / GiB:.3g} GiB but only {est.available / GiB:.3g} GiB of memory is available; "
                          f"use fewer neurons or sparser connectivity.\n{est}")


def _population_arrays(pops: list, dt: float, current_targets: set) -> dict:
    """Per-population kernel tables: model code, parameter row (:mod:`engine.models.neurons`), whether the external
    current varies (per neuron or in time), and the refractory steps."""
    par = np.empty((len(pops), N_PAR), dtype=np.float64)
    model = np.empty(len(pops), dtype=np.int8)
    use_iext = np.empty(len(pops), dtype=np.bool_)
    ref_steps = np.empty(len(pops), dtype=np.int32)
    for k, p in enumerate(pops):
        spec = p.spec
        spec.check_time_constants(p, dt)
        use_iext[k] = np.ndim(p.I_e) > 0 or p.name in current_targets
        par[k] = spec.parameter_row(p, dt, not use_iext[k])
        model[k] = spec.kernel
        # V is held for the R - 1 steps after the spike step, so integration resumes at t_spike + t_ref (Brian2).
        owner = f"Population {p.name!r}"
        t_ref = int(grid_steps(owner, "t_ref", p.t_ref, dt))
        if t_ref >= 2**31:
            raise ValueError(f"{owner}: t_ref = {p.t_ref} ms is {t_ref} steps of dt = {dt} ms; at most 2**31 - 1 "
                             f"steps are allowed (use a larger dt)")
        ref_steps[k] = max(t_ref - 1, 0)
    return {"model": model, "use_iext": use_iext, "ref_steps": ref_steps, "par": par}


def _check_projection_refs(proj, pre_index: dict, post_index: dict) -> None:
    if proj.source not in pre_index:
        raise ValueError(f"Projection {proj.name!r}: source = {proj.source!r} is not a population or source of this "
                         f"network; choose from {sorted(pre_index)}")
    if proj.target not in post_index:
        raise ValueError(f"Projection {proj.name!r}: target = {proj.target!r} is not a population of this network; "
                         f"choose from {sorted(post_index)}")


def _delay_steps(proj, n: int, dt: float, seed: int, stream: int) -> tuple[int | None, np.ndarray | None]:
    """Delays of ``proj`` in steps: one constant, or ``n`` values (given ones must lie on the grid of ``dt``; drawn
    ones are rounded to it, as NEST does); all in ``[1, 65535]`` steps."""
    owner = f"Projection {proj.name!r}"
    const, arr = resolve_values(proj.delay, n, seed=seed, stream=stream, name=f"{owner} delay")
    values = np.asarray(const if const is not None else arr, dtype=np.float64)
    if values.size and values.min() < dt * (1 - 1e-9):
        raise ValueError(f"{owner}: delay = {float(values.min())} ms is not allowed; delays must be >= dt = {dt} ms")
    if values.size and values.max() > _MAX_DELAY_STEPS * dt * (1 + 1e-9):
        raise ValueError(f"{owner}: delay = {float(values.max())} ms is not allowed; delays must be at most "
                         f"{_MAX_DELAY_STEPS} steps of dt = {dt} ms ({_MAX_DELAY_STEPS * dt:g} ms)")
    if const is not None:
        return int(grid_steps(owner, "delay", const, dt)), None
    if isinstance(proj.delay, (list, tuple, np.ndarray)):
        return None, grid_steps(owner, "delay", arr, dt)
    return None, np.clip(np.rint(arr / dt), 1, _MAX_DELAY_STEPS).astype(np.int64)  # drawn: rounded, as NEST does


_ROW_CHUNK = 1 << 16  # rows per kernel call of the streaming passes: progress and Ctrl-C between two calls


@dataclass
class _Part:
    """One projection's plan in the streaming build: where its rows go, how they are regenerated, its constant
    weight and delay (None when they vary), and, after the counting pass, its own row pointers."""

    proj: object
    dynamic: bool
    pre_lo: int
    n_src: int
    post_lo: int
    rows: RowSource | None
    d_off: int  # delta targets take input one step earlier (see kernels.network): delays stored one step shorter
    w_const: float | None
    d_const: int | None  # steps
    p_indptr: np.ndarray | None = None

    @property
    def nnz(self) -> int:
        return int(self.p_indptr[-1])


def _fusable_drives(net: Network, sources: list) -> list:
    """Projections that carry a Poisson drive straight to its targets: the only projection of a Poisson source with
    constant rates that no monitor records, one-to-one, static, with one weight and one delay. Their channels are
    drawn where the targets are updated (by the counter-based stream of the emission step, so the same counts) and
    never queued: NEST's ``poisson_generator`` and Brian2's ``PoissonInput`` drive neurons this way."""
    monitored = {getattr(m, "source", None) or getattr(m, "target", None) for m in net.monitors}
    out = []
    for src in sources:
        if not isinstance(src, PoissonSource) or src.rate_times is not None or src.name in monitored:
            continue
        projs = [p for p in net.projections if p.source == src.name]
        if len(projs) != 1:
            continue
        p = projs[0]
        if isinstance(p.rule, OneToOne) and not p.synapse.dynamic and _is_const(p.weight) \
                and _is_const(p.delay):
            out.append(p)
    return out


def _fused_drives(drives: list, pre_index: dict, post_index: dict, n_neurons: int, dt: float) -> tuple[dict, dict]:
    """The fused drives sorted by target (stable: in projection order): ``ptr`` (per neuron), ``tgt``, ``ch`` (the
    channel's index among all Poisson channels), ``w`` (float32, as a synapse stores it) and ``d`` (delay steps as
    stored: one less onto delta-synapse targets); and each drive's report slice, as for a projection."""
    tgt, ch, w, d = [], [], [], []
    slices = {}
    for proj in drives:
        pre_lo, src = pre_index[proj.source]
        post_lo, post = post_index[proj.target]
        steps = _delay_steps(proj, 0, dt, 0, 0)[0] - int(post.spec.input_in_update)
        slices[proj.name] = (pre_lo, pre_lo + src.size, post_lo, src.size)
        tgt.append(np.arange(post_lo, post_lo + src.size, dtype=np.int32))
        ch.append(np.arange(pre_lo - n_neurons, pre_lo - n_neurons + src.size, dtype=np.int32))  # Poisson first
        w.append(np.full(src.size, proj.weight, dtype=np.float32))
        d.append(np.full(src.size, steps, dtype=np.int32))
    tgt = np.concatenate(tgt) if tgt else np.zeros(0, np.int32)
    order = np.argsort(tgt, kind="stable")
    ptr = np.zeros(n_neurons + 1 if drives else 1, dtype=np.int64)
    if drives:
        np.cumsum(np.bincount(tgt, minlength=n_neurons), out=ptr[1:])

    def cat(parts: list, dtype) -> np.ndarray:
        return np.concatenate(parts)[order] if parts else np.zeros(0, dtype)
    return ({"ptr": ptr, "tgt": tgt[order], "ch": cat(ch, np.int32), "w": cat(w, np.float32),
             "d": cat(d, np.int32)}, slices)


def _merge_projections(net: Network, pre_index: dict, post_index: dict, n_pre: int, block_size: int, n_blocks: int,
                       fused: set, own: tuple[int, int]):
    """Generate every projection's synapses straight into one synapse group per synapse model, each a CSR over the
    presynaptic space with rows cut into target blocks (:mod:`engine.kernels.csr`: a counting pass, then a filling
    pass; random draws keyed by the projection's name). Peak memory is the final arrays' (rules that are not row
    by row hold their own 4-byte targets until their rows are written)."""
    dt, seed = net.dt, net.seed
    parts = []
    for proj in net.projections:
        if proj.name in fused:
            continue
        pre_lo, pre = pre_index[proj.source]
        post_lo, post = post_index[proj.target]
        checkpoint()  # Ctrl-C or SIGTERM: stop between two compiled calls, never inside one
        rows = row_source(proj.rule, pre.size, post.size, seed=seed,
                          stream=named_stream("projection", proj.name, "connectivity"),
                          allow_autapses=proj.allow_autapses, allow_multapses=proj.allow_multapses,
                          same_population=proj.source == proj.target, pre_positions=getattr(pre, "positions", None),
                          post_positions=post.positions)
        d_const = _delay_steps(proj, 0, dt, 0, 0)[0] if _is_const(proj.delay) else None
        if isinstance(proj.delay, DISTRIBUTIONS):
            _check_delay_support(proj, dt)
        parts.append(_Part(proj, proj.synapse.dynamic, pre_lo, pre.size, post_lo, rows,
                           int(post.spec.input_in_update), float(proj.weight) if _is_const(proj.weight) else None,
                           d_const))
    row_d = _row_homogeneous(parts, "d_const")  # one delay per source across every group: spikes are queued whole
    d_dtype = np.uint8 if _delay_bound(parts, dt) <= np.iinfo(np.uint8).max else np.uint16
    total_rows = 2 * sum(p.n_src for p in parts)
    bar = _build_bar(total_rows, sum(_expected(p) for p in parts))
    try:
        static = _stream_group([p for p in parts if not p.dynamic], False, n_pre, d_dtype, row_d, block_size,
                               n_blocks, own, seed, dt, bar)
        dynamic = _stream_group([p for p in parts if p.dynamic], True, n_pre, d_dtype, row_d, block_size,
                                n_blocks, own, seed, dt, bar)
    finally:
        bar.close()
    stored = [(p.d_const - p.d_off, p.d_const - p.d_off) for p in parts if p.d_const is not None]
    stored += static.pop("delay_range") + dynamic.pop("delay_range")
    static.update(max_delay=max([hi for _, hi in stored] + [1]), min_delay=min([lo for lo, _ in stored] or [1]),
                  row_delays=row_d is not None)
    proj_slices = {p.proj.name: (p.pre_lo, p.pre_lo + p.n_src, p.post_lo, p.nnz) for p in parts}
    return (static, dynamic), proj_slices


def _is_const(v) -> bool:
    return np.ndim(v) == 0 and isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_))


def _expected(part: _Part) -> float:
    n = expected_synapses(part.proj.rule, part.n_src, part.rows.ip[0])
    return float(n) if n is not None else 0.0


class _NoBar:
    """What the build reports progress to when nobody watches."""

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _build_bar(total_rows: int, synapses: float):
    """A tqdm bar over the rows of both passes, for a person watching a build of at least 1e7 synapses."""
    if not interactive() or synapses < 1e7:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total_rows, unit="rows", unit_scale=True, delay=2.0, leave=False, desc="building synapses")


def _check_delay_support(proj, dt: float) -> None:
    """A uniform delay whose range reaches below dt or beyond the queue is refused before anything is drawn (other
    distributions are checked draw by draw: their tails are rarely reached)."""
    if not isinstance(proj.delay, Uniform):
        return
    lo, hi = proj.delay.support()
    owner = f"Projection {proj.name!r}"
    if lo < dt * (1 - 1e-9):
        raise ValueError(f"{owner}: delay = {proj.delay!r} draws down to {lo} ms, which is not allowed; delays must "
                         f"be >= dt = {dt} ms")
    if hi > _MAX_DELAY_STEPS * dt * (1 + 1e-9):
        raise ValueError(f"{owner}: delay = {proj.delay!r} draws up to {hi} ms, which is not allowed; delays must "
                         f"be at most {_MAX_DELAY_STEPS} steps of dt = {dt} ms ({_MAX_DELAY_STEPS * dt:g} ms)")


def _delay_bound(parts: list, dt: float) -> int:
    """The largest delay (steps, as stored) any synapse can get, known before any synapse exists: it chooses the
    delay dtype."""
    bound = 1
    for p in parts:
        if p.d_const is not None:
            hi = p.d_const
        elif isinstance(p.proj.delay, DISTRIBUTIONS):
            hi = min(max(int(np.rint(p.proj.delay.support()[1] / dt)), 1), _MAX_DELAY_STEPS)
        else:  # given delays (checked against the grid once their count is known)
            try:
                arr = np.asarray(p.proj.delay, dtype=np.float64)
            except (TypeError, ValueError):
                arr = np.ones(0)
            finite = arr[np.isfinite(arr)]
            hi = min(max(int(np.rint(finite.max() / dt)), 1), _MAX_DELAY_STEPS) if finite.size else 1
        bound = max(bound, hi - p.d_off)
    return bound


def _stream_group(parts: list, dynamic: bool, n_pre: int, d_dtype, row_d: dict | None, block_size: int,
                  n_blocks: int, own: tuple[int, int], seed: int, dt: float, bar) -> dict:
    """One synapse group from its projections (in the order they were added): count every (row, block) segment,
    allocate the final arrays once, then write every synapse at its place. Only the segments onto blocks ``own``
    (lo, hi) are kept: ``row_ptr`` has a column per own block and one more (block ``lo + j`` is column ``j``)."""
    from engine.kernels import csr as K

    names = TsodyksMarkram.parameters if dynamic else ()
    if dynamic and not parts:  # no dynamic synapses: an empty group costs nothing
        return {"indptr": np.zeros(1, np.int64), "row_ptr": np.zeros((0, own[1] - own[0] + 1), np.int64),
                "targets": np.zeros(0, np.int32), "w": np.zeros(0, np.float32), "d_syn": np.zeros(0, d_dtype),
                "d_row": np.zeros(0, np.int32), **{name: np.zeros(0) for name in names}, "delay_range": []}
    row_w = None if dynamic else _row_homogeneous(parts, "w_const")
    row_d = row_d if row_d is not None else _row_homogeneous(parts, "d_const")
    counts = np.zeros((n_pre, own[1] - own[0]), dtype=np.int64)  # this process's blocks only
    for p in parts:
        r = p.rows
        sizes = np.empty(p.n_src, dtype=np.int64)
        for r0 in range(0, p.n_src, _ROW_CHUNK):
            checkpoint()
            r1 = min(r0 + _ROW_CHUNK, p.n_src)
            K.count_row_blocks(r.kind, r.ip, r.fp, r.indptr, r.targets, r.pre_pos, r.post_pos, r0, r1,
                               max(r.longest, 1), p.pre_lo, p.post_lo, block_size, n_blocks, counts, sizes,
                               own[0], own[1])
            bar.update(r1 - r0)
        p.p_indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes)])
    row_ptr, indptr = K.segment_pointers(counts)
    del counts
    nnz = int(indptr[-1])
    targets = np.empty(nnz, dtype=np.int32)
    w_syn = np.empty(0 if row_w is not None else nnz, dtype=np.float32)
    d_syn = np.empty(0 if row_d is not None else nnz, dtype=d_dtype)
    params = np.empty((len(names), nnz), dtype=np.float64)
    fill = np.ascontiguousarray(row_ptr[:, :-1])
    delay_range = []
    for p in parts:
        r = p.rows
        vmode, vconst, vdist, vstream, varr = _value_specs(p, names, seed, dt)
        clip = np.array([name in TsodyksMarkram.clipped for name in names], dtype=np.bool_)
        stats = []
        for r0 in range(0, p.n_src, _ROW_CHUNK):
            checkpoint()
            r1 = min(r0 + _ROW_CHUNK, p.n_src)
            stats.append(K.fill_rows(r.kind, r.ip, r.fp, r.indptr, r.targets, r.pre_pos, r.post_pos, r0, r1,
                                     max(r.longest, 1), p.p_indptr, p.pre_lo, p.post_lo, block_size, n_blocks, fill,
                                     seed, vmode, vconst, vdist, vstream, varr, clip, dt, p.d_off, targets, w_syn,
                                     d_syn, params, own[0], own[1]))
            bar.update(r1 - r0)
        p.rows = None  # a generated matrix is no longer needed
        st = np.concatenate(stats) if stats else np.zeros((0, 4), np.int64)
        _check_drawn(p, st, dt)
        if p.d_const is None and p.nnz and d_syn.size:
            delay_range.append((int(st[:, 0].min()), int(st[:, 1].max())))
    if not dynamic and d_syn.size:  # a spike's synapses of one delay side by side: one queue entry per delay
        K.sort_segments_by_delay(row_ptr, targets, w_syn, d_syn)
    w_row = np.zeros(n_pre, dtype=np.float32)
    d_row = np.ones(n_pre, dtype=np.int32)
    for pre_lo, (n_src, w_const) in (row_w or {}).items():
        w_row[pre_lo:pre_lo + n_src] = w_const
    for pre_lo, (n_src, d_const) in (row_d or {}).items():
        d_row[pre_lo:pre_lo + n_src] = d_const
    if dynamic:  # weights always per synapse, parameters per synapse
        return {"indptr": indptr, "row_ptr": row_ptr, "targets": targets, "w": w_syn, "d_syn": d_syn, "d_row": d_row,
                **{name: params[q] for q, name in enumerate(names)}, "delay_range": delay_range}
    return {"indptr": indptr, "row_ptr": row_ptr, "targets": targets, "w_syn": w_syn, "w_row": w_row, "d_syn": d_syn,
            "d_row": d_row, "delay_range": delay_range}


def _value_specs(p: _Part, names: tuple, seed: int, dt: float):
    """The kernel's value table of one projection (see :mod:`engine.kernels.csr`): weight, delay, then the synapse
    model's parameters ``names``."""
    proj = p.proj
    owner = f"Projection {proj.name!r}"
    n = 2 + len(names)
    vmode = np.zeros(n, dtype=np.int64)
    vconst = np.zeros(n, dtype=np.float64)
    vdist = np.zeros((n, 5), dtype=np.float64)
    vstream = np.zeros(n, dtype=np.int64)
    arrays = []
    specs = [(proj.weight, "weight"), (proj.delay, "delay")] + [(getattr(proj.synapse, name), name) for name in names]
    for v, (spec, name) in enumerate(specs):
        stream = named_stream("projection", proj.name, name)
        if spec is None:  # a Tsodyks–Markram u0 that follows U
            vmode[v] = 3
        elif isinstance(spec, DISTRIBUTIONS):
            vmode[v], vdist[v], vstream[v] = 1, spec._kernel_args(), stream
        elif v == 1 and p.d_const is not None:
            vconst[v] = p.d_const
        elif v == 1:  # given delays: checked on the grid, stored as steps
            vmode[v], vconst[v] = 2, len(arrays)
            arrays.append(_delay_steps(proj, p.nnz, dt, seed, stream)[1].astype(np.float64))
        else:
            const, arr = resolve_values(spec, p.nnz, seed=seed, stream=stream,
                                        name=f"{owner} {'weight' if v == 0 else 'synapse ' + name}")
            if arr is None:
                vconst[v] = const
            else:
                vmode[v], vconst[v] = 2, len(arrays)
                arrays.append(arr)
    varr = np.stack(arrays) if arrays else np.zeros((0, 0), dtype=np.float64)
    return vmode, vconst, vdist, vstream, varr


def _check_drawn(p: _Part, stats: np.ndarray, dt: float) -> None:
    """Drawn delays off the queue's range, or drawn time constants off theirs, are refused once counted."""
    owner = f"Projection {p.proj.name!r}"
    bad_d, bad_p = int(stats[:, 2].sum()), int(stats[:, 3].sum())
    if bad_d:
        raise ValueError(f"{owner}: delay = {p.proj.delay!r} drew {bad_d} values outside [dt, {_MAX_DELAY_STEPS} dt] "
                         f"= [{dt}, {_MAX_DELAY_STEPS * dt:g}] ms, which is not allowed; delays must be >= dt = {dt} "
                         f"ms and at most {_MAX_DELAY_STEPS} steps (bound the distribution, e.g. "
                         f"Normal(mean, std, low={dt}))")
    if bad_p:
        raise ValueError(f"{owner}: the synapse's tau_rec or tau_fac drew {bad_p} values out of range, which is not "
                         f"allowed; tau_rec must be > 0 ms and tau_fac >= 0 ms (bound the distribution)")


def _row_homogeneous(parts: list, attr: str) -> dict | None:
    """Per-row storage is possible when each projection is constant and projections sharing a source agree:
    ``{first presynaptic index: (source size, value as stored)}``, or None."""
    seen: dict[int, tuple] = {}
    for part in parts:
        const = getattr(part, attr)
        if const is None:
            return None
        if attr == "d_const":
            const -= part.d_off
        if part.pre_lo in seen and seen[part.pre_lo][1] != const:
            return None
        seen[part.pre_lo] = (part.n_src, const)
    return seen


def current_events(net: Network, built: "Built", amplitudes: dict | None = None) -> dict:
    """:func:`_current_events` of a built network, with some sources' amplitudes replaced (one trial's inputs)."""
    post_index = {name: (int(built.pop_lo[k]), net.get(name)) for k, name in enumerate(built.pop_names)}
    return _current_events(net, post_index, built.I_e, amplitudes or {})


def _current_events(net: Network, post_index: dict, I_e: np.ndarray, amplitudes: dict | None = None) -> dict:
    """Current sources as a step-sorted list of (step, neuron, new external current) events, where the external
    current is ``I_e`` plus every current source on that neuron; ``amplitudes`` replaces sources' amplitudes."""
    steps, idxs, deltas = [], [], []
    for cs in net.currents:
        if amplitudes and cs.name in amplitudes:
            cs = cs.replace(amplitude=amplitudes[cs.name])
        owner = f"CurrentSource {cs.name!r}"
        if cs.target not in post_index:
            raise ValueError(f"{owner}: target = {cs.target!r} is not a population; choose from {sorted(post_index)}")
        lo, pop = post_index[cs.target]
        idx = np.arange(pop.size, dtype=np.int64) if cs.indices is None else cs.indices
        if idx.size and idx.max() >= pop.size:
            raise ValueError(f"{owner}: indices contains {idx.max()}; neuron indices must lie in [0, {pop.size})")
        if cs.times is None:
            amp = np.broadcast_to(cs.amplitude, (1, idx.size)) if cs.amplitude.ndim == 0 else \
                cs.amplitude.reshape(1, -1)
            times = np.zeros(1)
        else:
            times = cs.times
            amp = cs.amplitude.reshape(times.size, -1)
        if amp.shape[1] not in (1, idx.size):
            raise ValueError(f"{owner}: amplitude gives {amp.shape[1]} values per time but indices has {idx.size}")
        amp = np.broadcast_to(amp, (times.size, idx.size))
        delta = np.diff(amp, axis=0, prepend=0.0)
        st = grid_steps(owner, "times", times, net.dt)
        steps.append(np.repeat(st, idx.size))
        idxs.append(np.tile(idx + lo, times.size))
        deltas.append(delta.ravel())
    if not steps:
        return {"step": np.zeros(0, np.int64), "idx": np.zeros(0, np.int64), "val": np.zeros(0, np.float64)}
    step = np.concatenate(steps)
    idx = np.concatenate(idxs)
    delta = np.concatenate(deltas)
    order = np.lexsort((step, idx))  # by neuron, then time: cumulative sums give each neuron's total current
    step, idx, delta = step[order], idx[order], delta[order]
    total = np.cumsum(delta)
    first = np.r_[True, idx[1:] != idx[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(idx.size), 0))
    offset = np.where(group_start > 0, total[group_start - 1], 0.0)
    total = total - offset
    order = np.argsort(step, kind="stable")
    return {"step": step[order], "idx": idx[order], "val": I_e[idx[order]] + total[order]}


def _poisson_tables(pois: list, pre0: int, dt: float) -> dict:
    """Per-step Poisson means ``lam[segment, channel]`` of the piecewise-constant rates of every Poisson source
    (their channels start at presynaptic index ``pre0``), with the sampler's tables for one set of rates shared by
    every trial (see :func:`poisson_sampler`)."""
    own_steps = [grid_steps(f"PoissonSource {s.name!r}", "rate_times", s.rate_times, dt) for s in pois
                 if s.rate_times is not None]
    seg_step = np.unique(np.concatenate([np.zeros(1, np.int64)] + own_steps))
    channels, lo = {}, 0
    chans = []
    for s in pois:
        chans.append(segment_rates(s, s.rate, seg_step, dt))
        channels[s.name] = (lo, lo + s.size)
        lo += s.size
    lam = (np.concatenate(chans, axis=1) if chans else np.zeros((seg_step.size, 0))) * dt * 1e-3
    out = {"pre0": pre0, "seg_step": seg_step, "n": lam.shape[1], "channels": channels, "lam": lam}
    out.update(poisson_sampler(lam[None], dt))
    return out


def segment_rates(source: PoissonSource, rate, seg_step: np.ndarray, dt: float) -> np.ndarray:
    """``source``'s rates (Hz; a number, one per channel, or one row per ``rate_times`` entry) on the merged
    segments starting at ``seg_step``: shape ``(len(seg_step), source.size)``."""
    rate = np.asarray(rate, dtype=np.float64)
    if source.rate_times is None:
        return np.broadcast_to(np.broadcast_to(rate, (source.size,))[None, :], (seg_step.size, source.size))
    own = grid_steps(f"PoissonSource {source.name!r}", "rate_times", source.rate_times, dt)
    pos = np.searchsorted(own, seg_step, side="right") - 1
    rate = rate if rate.ndim == 2 else np.broadcast_to(rate[:, None], (own.size, source.size))
    return rate[pos]


def poisson_sampler(lam: np.ndarray, dt: float) -> dict:
    """Tables the kernel samples ``k ~ Poisson(lam)`` with, for means ``lam[trial or 0, segment, channel]``.

    The kernel draws ``k`` from one uniform ``u`` by inversion: ``k`` is the number of cumulative probabilities
    ``cdf[j] = P(K <= j)`` that are ``<= u``. When there are few distinct means, their ``cdf`` rows are tabulated
    (``cdf[tab_idx[b, seg, ch]]``), up to where they round to 1, with a guide table (Chen & Asau 1974):
    ``guide[t, g]`` counts the entries ``<= g / 256``, so the count starts at ``guide[t, floor(256 u)]`` and a
    comparison or two finish it, without a division. With too many distinct means the tables are left empty and the
    kernel sums the probabilities as it goes.
    """
    if lam.size and lam.max() > _MAX_POISSON_MEAN:
        raise ValueError(f"PoissonSource: a rate of {lam.max() / dt / 1e-3:g} Hz gives {lam.max():g} spikes per step "
                         f"of dt = {dt} ms; at most {_MAX_POISSON_MEAN:g} per step are allowed (split the source)")
    lam_max = float(lam.max()) if lam.size else 0.0
    kmax = int(math.ceil(lam_max + 12.0 * math.sqrt(lam_max) + 12.0))
    uniq, inverse = np.unique(lam, return_inverse=True)
    cdf = _poisson_cdf(uniq, kmax)
    if cdf.size > _MAX_POISSON_TABLE:
        cdf, tab_idx = np.zeros((0, 0)), np.zeros((0, 0, 0), dtype=np.int32)
        guide = np.zeros((0, _GUIDE), dtype=np.int32)
    else:
        tab_idx = inverse.reshape(lam.shape).astype(np.int32)
        edges = np.arange(_GUIDE, dtype=np.float64) / _GUIDE
        guide = np.stack([np.searchsorted(row, edges, side="right") for row in cdf]).astype(np.int32) if len(cdf) \
            else np.zeros((0, _GUIDE), dtype=np.int32)
    return {"p0": np.ascontiguousarray(np.exp(-lam)), "lam3": np.ascontiguousarray(lam), "kmax": kmax,
            "cdf": np.ascontiguousarray(cdf), "tab_idx": np.ascontiguousarray(tab_idx),
            "guide": np.ascontiguousarray(guide)}


def _poisson_cdf(lams: np.ndarray, kmax: int) -> np.ndarray:
    """``P(K <= j)`` for ``K ~ Poisson(lam)``, one row per mean, cut where every row has reached 1 (in float64) or
    at ``kmax``; entries past a row's end are 2 (never <= a uniform)."""
    if lams.size == 0:
        return np.zeros((0, 1))
    j = np.arange(kmax + 1, dtype=np.float64)
    pmf = np.exp(-lams[:, None]) * np.cumprod(np.where(j == 0, 1.0, lams[:, None] / np.maximum(j, 1.0)), axis=1)
    cdf = np.cumsum(pmf, axis=1)
    cdf[cdf >= 1.0] = 2.0
    length = int(np.max(np.argmax(cdf == 2.0, axis=1) + 1)) if np.any(cdf == 2.0) else kmax + 1
    return cdf[:, :length]


def spike_generator_events(net: Network, built: Built, per_trial: list[dict], t_now_step: int):
    """Per-trial spike-generator events as flat arrays (``sg_pre``, ``sg_step``, ``sg_ptr``) sorted by step."""
    pres, steps, ptr = [], [], [0]
    for overrides in per_trial:
        tp, ts = [], []
        for s in net.sources:
            if not isinstance(s, SpikeSource):
                continue
            times, idx = overrides.get(s.name, (s.times, s.indices))
            st = grid_steps(f"SpikeSource {s.name!r}", "times", times, net.dt)
            tp.append(idx.astype(np.int64) + built.src_lo[built.src_names.index(s.name)])
            ts.append(st)
        p = np.concatenate(tp) if tp else np.zeros(0, np.int64)
        s = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        keep = s >= t_now_step
        p, s = p[keep], s[keep]
        order = np.lexsort((p, s))
        pres.append(p[order])
        steps.append(s[order])
        ptr.append(ptr[-1] + p.size)
    return (np.concatenate(pres).astype(np.int64), np.concatenate(steps).astype(np.int64),
            np.asarray(ptr, dtype=np.int64))
