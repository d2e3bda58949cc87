"""Exact event-driven simulation of LIF neurons with delta synapses: continuous time, cost per event.

Every time here (event times, delays, ``tau_m``, ``t_ref``, sample times) is a float64 count of steps of ``dt``:
the driver (:mod:`engine.run.event_driven`) turns times on the grid into exact integers, so a spike time plus a
delay is exact and inputs due at one grid time compare equal (NEST's step plus offset); Poisson rates are in
spikes per step.

Between two events a neuron relaxes in closed form towards :math:`V_\\infty = E_L + R I_e` (:math:`R = \\tau_m /
C_m`), :math:`V(t) = V_\\infty + (V(t_0) - V_\\infty)\\,e^{-(t - t_0)/\\tau_m}`, computed as ``V + (V - V_inf) *
expm1(-(t - t0) / tau)`` (NEST's form, exact near :math:`V_\\infty`). An input of weight ``w`` (mV) at time ``t``
makes ``V`` jump by ``w``, unless the neuron is refractory (``t`` before the end of its refractory period): then the
input is dropped, as NEST's ``iaf_psc_delta_ps`` does by default. Inputs arriving at the same instant (one spike's
synapses of equal delay onto several targets often make several of them fire together) are summed into one jump
before the threshold is checked, as NEST does; ``V >= V_th`` after the jump is a spike at ``t``.
With :math:`V_\\infty > V_{th}` the threshold is also reached without input, at
:math:`t_0 + \\tau_m \\ln\\frac{V_\\infty - V(t_0)}{V_\\infty - V_{th}}`: that crossing is an event of its own,
pushed again (with a new version number) whenever an input moves ``V``; older versions are skipped when they come up.
A spike sets ``V`` to ``V_reset`` and holds it there for ``t_ref``.

Each trial has one binary heap of pending events ordered by time; it moves only ``(time, slot)`` pairs, the payload
(origin, ``kind + 4 * id``, cursor) stays in a slot from a free list. Events of equal time come out in the order the
heap's operations give, which depends on nothing but the sequence of events, so the result is the same for any
chunking, thread count or heap capacity. Kinds:

- ``ROW``: the synapses ``[cursor, end)`` of presynaptic row ``id`` that share one delay (rows are sorted by delay
  at build), from a spike at ``origin``; the next run of the row is pushed when this one is delivered, so the heap
  holds one entry per spike in flight, not one per synapse;
- ``POISSON``: the ``cursor``-th spike of Poisson channel ``id`` (inter-spike intervals :math:`-\\ln(u)/r` steps, with
  ``u`` the counter-based uniform of the channel's stream, so each channel's train is a pure function of seed, trial
  and channel);
- ``GENERATOR``: the spike at ``times[cursor]`` of a spike-generator channel ``id``;
- ``CROSS``: neuron ``id`` reaches threshold by its constant current (valid when ``cursor`` is its version).

State samples are not queued: the sample due at ``T`` is taken before any event at ``T`` (so it excludes the inputs
arriving at ``T``, as the clock mode's stamping does), by evaluating the closed form, never writing it back, so
sampling does not change a bit of the dynamics.

The kernel returns when every trial has reached ``t_end`` (events at ``t_end`` are the next call's), or early with
``HEAP_FULL`` / ``RECORD_FULL`` before an event that might not fit; the driver grows the heap or drains the record
and calls again, which resumes exactly there. Imports only numpy, numba and other kernels.
"""
import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from engine.kernels.rng import uniform_open

ENeurons = namedtuple("ENeurons", "par")
ECsr = namedtuple("ECsr", "indptr tgt w d")
EInputs = namedtuple("EInputs", "pois_lo pois_key pois_rate gen_lo gen_ptr gen_end gen_t")
EHeap = namedtuple("EHeap", "t slot origin a cursor free n")
EState = namedtuple("EState", "x pend n_pend t_pend")
ERecord = namedtuple("ERecord", "mask t ids n events st_idx st_every st_base st_next st_out")

ROW, POISSON, GENERATOR, CROSS = 0, 1, 2, 3
_KINDS = 4  # kind = a % 4, id = a // 4

DONE, HEAP_FULL, RECORD_FULL = 0, 1, 2
# a neuron's row x[trial, neuron, :] is one 64-byte cache line holding all an input touches (a structure of arrays
# would cost a cache miss per array): V at t_last, the end of its refractory period, the pending input and whether
# there is one, the version of its queued crossing, V_inf (per neuron: I_e may be), and its population, whose
# parameters par[population, :] stay in cache
_V, _T_LAST, _REF_END, _PEND_W, _VER, _PEND_ON, _V_INF, _POP = 0, 1, 2, 3, 4, 5, 6, 7
_TAU, _V_TH, _V_RESET, _T_REF = 0, 1, 2, 3


@njit(cache=True, inline="always")
def heap_push(ht, hs, po, pa, pc, free, n, t, origin, a, cursor):
    """Add an event to a heap of ``n`` entries (room checked by the caller); returns the new size. The heap orders
    ``(time ht, payload slot hs)`` pairs, moving a hole up instead of swapping; the payload (origin, kind and id,
    cursor) stays in its slot, taken from the stack of free slots ``free[:cap - n]``."""
    cap = ht.size
    slot = free[cap - n - 1]
    po[slot] = origin
    pa[slot] = a
    pc[slot] = cursor
    i = n
    while i > 0:
        p = (i - 1) >> 1
        if ht[p] <= t:
            break
        ht[i] = ht[p]
        hs[i] = hs[p]
        i = p
    ht[i] = t
    hs[i] = slot
    return n + 1


@njit(cache=True, inline="always")
def heap_pop(ht, hs, free, n):
    """Remove the first event of a heap of ``n`` entries (its slot goes back on the free stack); returns the new
    size."""
    cap = ht.size
    n -= 1
    free[cap - n - 1] = hs[0]
    if n > 0:
        t = ht[n]
        slot = hs[n]
        i = 0
        while True:
            c = 2 * i + 1
            if c >= n:
                break
            if c + 1 < n and ht[c + 1] < ht[c]:
                c += 1
            if ht[c] >= t:
                break
            ht[i] = ht[c]
            hs[i] = hs[c]
            i = c
        ht[i] = t
        hs[i] = slot
    return n


@njit(cache=True, inline="always")
def _cross_time(t0, v, v_inf, v_th, tau):
    """When a neuron at ``v`` at ``t0``, relaxing towards ``v_inf > v_th``, reaches ``v_th``."""
    return t0 + tau * math.log((v_inf - v) / (v_inf - v_th))


@njit(cache=True, inline="always")
def _now(v, t_last, ref_end, t, v_inf, tau):
    """``V`` at ``t`` of a neuron that was ``v`` at ``max(t_last, ref_end)`` (not refractory at ``t``)."""
    t0 = t_last if t_last > ref_end else ref_end
    if t > t0:
        v = v + (v - v_inf) * math.expm1(-(t - t0) / tau)
    return v


@njit(cache=True, inline="always")
def _reset(x, par, k, t):
    """Neuron ``k`` spikes at ``t``: ``V_reset`` held for ``t_ref``, any queued crossing made stale; returns the time
    its current alone would next bring it to threshold (-1 when ``V_inf <= V_th``)."""
    q = int(x[k, _POP])
    x[k, _V] = par[q, _V_RESET]
    x[k, _T_LAST] = t
    x[k, _REF_END] = t + par[q, _T_REF]
    x[k, _VER] += 1.0
    if x[k, _V_INF] > par[q, _V_TH]:
        return _cross_time(x[k, _REF_END], par[q, _V_RESET], x[k, _V_INF], par[q, _V_TH], par[q, _TAU])
    return -1.0


@njit(cache=True)
def _trial(b, t_end, nrn, csr, inp, heap, st, rec, status):
    """Handle trial ``b``'s events before ``t_end`` in order; sets ``status[b]``."""
    ht, hs, po, pa, pc, free = heap.t[b], heap.slot[b], heap.origin[b], heap.a[b], heap.cursor[b], heap.free[b]
    n = heap.n[b]
    cap = ht.size
    x = st.x[b]
    par = nrn.par
    pend = st.pend[b]
    n_pend = st.n_pend[b]
    t_pend = st.t_pend[b]
    rec_t = rec.t[b]
    rec_id = rec.ids[b]
    n_rec = rec.n[b]
    cap_rec = rec_t.shape[0]
    indptr, tgt, w, d = csr.indptr, csr.tgt, csr.w, csr.d
    n_neurons = x.shape[0]
    n_st = rec.st_idx.size
    events = 0
    status[b] = DONE
    while True:
        t_top = ht[0] if n > 0 else np.inf
        if n_pend > 0 and t_top > t_pend:
            # every input due at t_pend has arrived: apply each target's sum (NEST sums simultaneous inputs)
            if n + 2 * n_pend > cap:
                status[b] = HEAP_FULL
                break
            if n_rec + n_pend > cap_rec:
                status[b] = RECORD_FULL
                break
            t = t_pend
            for i in range(n_pend):
                k = pend[i]
                x[k, _PEND_ON] = 0.0
                if t < x[k, _REF_END]:
                    continue  # made refractory at t by its own threshold crossing: the input is dropped
                q = int(x[k, _POP])
                v_inf, v_th = x[k, _V_INF], par[q, _V_TH]
                v = _now(x[k, _V], x[k, _T_LAST], x[k, _REF_END], t, v_inf, par[q, _TAU])
                if v < v_th:  # (>= only by rounding, when a crossing due now is still queued)
                    v += x[k, _PEND_W]
                x[k, _V] = v
                x[k, _T_LAST] = t
                if v >= v_th:
                    if rec.mask[k]:
                        rec_t[n_rec] = t
                        rec_id[n_rec] = k
                        n_rec += 1
                    tc = _reset(x, par, k, t)
                    if indptr[k + 1] > indptr[k]:
                        n = heap_push(ht, hs, po, pa, pc, free, n, t + d[indptr[k]], t, k * _KINDS + ROW, indptr[k])
                    if tc >= 0.0:
                        n = heap_push(ht, hs, po, pa, pc, free, n, tc, tc, k * _KINDS + CROSS, int(x[k, _VER]))
                elif v_inf > v_th:
                    x[k, _VER] += 1.0
                    tc = _cross_time(t, v, v_inf, v_th, par[q, _TAU])
                    n = heap_push(ht, hs, po, pa, pc, free, n, tc, tc, k * _KINDS + CROSS, int(x[k, _VER]))
            n_pend = 0
            continue
        if n_st > 0:
            s = rec.st_next[b]
            ts = (s + 1) * rec.st_every
            if ts <= t_top and ts < t_end:  # a sample at t comes before the events at t
                row = s - rec.st_base[b]
                for j in range(n_st):
                    k = rec.st_idx[j]
                    q = int(x[k, _POP])
                    if ts < x[k, _REF_END]:
                        rec.st_out[b, row, j] = par[q, _V_RESET]
                    else:
                        rec.st_out[b, row, j] = _now(x[k, _V], x[k, _T_LAST], x[k, _REF_END], ts, x[k, _V_INF],
                                                     par[q, _TAU])
                rec.st_next[b] = s + 1
                continue
        if n == 0 or t_top >= t_end:
            break
        t = t_top
        if n + 2 > cap:
            status[b] = HEAP_FULL
            break
        if n_rec + 1 > cap_rec:
            status[b] = RECORD_FULL
            break
        slot = hs[0]
        a = pa[slot]
        kind = a % _KINDS
        p = a // _KINDS
        c = pc[slot]
        origin = po[slot]
        n = heap_pop(ht, hs, free, n)
        spiker = -1  # the presynaptic index that spikes now (POISSON, GENERATOR, CROSS)
        if kind == ROW:
            # the run of synapses with this delay; the targets' inputs wait until every input due now has come
            last = indptr[p + 1]
            j = c
            while j < last and d[j] == d[c]:
                k = tgt[j]
                if t >= x[k, _REF_END]:  # refractory: the input is dropped
                    if x[k, _PEND_ON] != 0.0:
                        x[k, _PEND_W] += w[j]
                    else:
                        x[k, _PEND_ON] = 1.0
                        x[k, _PEND_W] = w[j]
                        pend[n_pend] = k
                        n_pend += 1
                j += 1
            t_pend = t
            events += j - c
            if j < last:
                n = heap_push(ht, hs, po, pa, pc, free, n, origin + d[j], origin, a, j)
        elif kind == POISSON:
            ch = p - inp.pois_lo
            nt = t - math.log(uniform_open(inp.pois_key[b, ch], c + 1)) / inp.pois_rate[b, ch]
            n = heap_push(ht, hs, po, pa, pc, free, n, nt, nt, a, c + 1)
            spiker = p
        elif kind == GENERATOR:
            ch = p - inp.gen_lo
            if c + 1 < inp.gen_end[b, ch]:
                nt = inp.gen_t[c + 1]
                n = heap_push(ht, hs, po, pa, pc, free, n, nt, nt, a, c + 1)
            spiker = p
        elif kind == CROSS:
            if c == int(x[p, _VER]):
                spiker = p
        if spiker >= 0:
            if rec.mask[spiker]:
                rec_t[n_rec] = t
                rec_id[n_rec] = spiker
                n_rec += 1
            if spiker < n_neurons:
                tc = _reset(x, par, spiker, t)
                if tc >= 0.0:
                    n = heap_push(ht, hs, po, pa, pc, free, n, tc, tc, spiker * _KINDS + CROSS, int(x[spiker, _VER]))
            first = indptr[spiker]
            if indptr[spiker + 1] > first:
                n = heap_push(ht, hs, po, pa, pc, free, n, t + d[first], t, spiker * _KINDS + ROW, first)
    heap.n[b] = n
    st.n_pend[b] = n_pend
    st.t_pend[b] = t_pend
    rec.n[b] = n_rec
    rec.events[b] += events


@njit(cache=True, parallel=True)
def run_events(t_end, nrn, csr, inp, heap, st, rec, status):
    """Advance every trial (in parallel) to ``t_end`` (ms) or until its heap or record is full."""
    for b in prange(status.size):
        _trial(b, t_end, nrn, csr, inp, heap, st, rec, status)


@njit(cache=True)
def start_trials(t0, nrn, csr, inp, heap, st):
    """Push every trial's first events at time ``t0``: each Poisson channel's first spike, each generator's first
    spike, the threshold crossing of every neuron driven above threshold by its current, and a spike now of every
    neuron that starts at or above threshold. The heap must have room for them all."""
    n_neurons = st.x.shape[1]
    par = nrn.par
    for b in range(heap.n.size):
        ht, hs, po, pa, pc, free = heap.t[b], heap.slot[b], heap.origin[b], heap.a[b], heap.cursor[b], heap.free[b]
        x = st.x[b]
        n = heap.n[b]
        for ch in range(inp.pois_rate.shape[1]):
            if inp.pois_rate[b, ch] > 0:
                t = t0 - math.log(uniform_open(inp.pois_key[b, ch], 0)) / inp.pois_rate[b, ch]
                n = heap_push(ht, hs, po, pa, pc, free, n, t, t, (inp.pois_lo + ch) * _KINDS + POISSON, 0)
        for ch in range(inp.gen_ptr.shape[1]):
            first = inp.gen_ptr[b, ch]
            if first < inp.gen_end[b, ch]:
                t = inp.gen_t[first]
                n = heap_push(ht, hs, po, pa, pc, free, n, t, t, (inp.gen_lo + ch) * _KINDS + GENERATOR, first)
        for k in range(n_neurons):
            q = int(x[k, _POP])
            v, v_th = x[k, _V], par[q, _V_TH]
            if v >= v_th:  # at threshold from the start: a spike at t0 (NEST: at the first instant)
                n = heap_push(ht, hs, po, pa, pc, free, n, t0, t0, k * _KINDS + CROSS, int(x[k, _VER]))
            elif x[k, _V_INF] > v_th:
                tc = _cross_time(t0, v, x[k, _V_INF], v_th, par[q, _TAU])
                n = heap_push(ht, hs, po, pa, pc, free, n, tc, tc, k * _KINDS + CROSS, int(x[k, _VER]))
        heap.n[b] = n


@njit(cache=True)
def fill_rows(indptr, fill, tgt, w, d, pre_lo, p_indptr, p_tgt, p_w, p_d, post_lo):
    """Copy one projection's CSR (rows ``pre_lo + r``, targets ``post_lo + t``) into the merged rows, after the
    synapses already there (``fill`` is each row's next free place)."""
    for r in range(p_indptr.size - 1):
        row = pre_lo + r
        for s in range(p_indptr[r], p_indptr[r + 1]):
            j = fill[row]
            tgt[j] = post_lo + p_tgt[s]
            w[j] = p_w[s]
            d[j] = p_d[s]
            fill[row] = j + 1


@njit(cache=True)
def sort_rows(indptr, tgt, w, d):
    """Sort every row's synapses by delay, keeping their order among equal delays (stable)."""
    for r in range(indptr.size - 1):
        lo, hi = indptr[r], indptr[r + 1]
        if hi - lo < 2:
            continue
        seg = d[lo:hi]
        ordered = True
        for j in range(1, hi - lo):
            if seg[j] < seg[j - 1]:
                ordered = False
                break
        if ordered:
            continue
        order = np.argsort(seg, kind="mergesort")
        tgt[lo:hi] = tgt[lo:hi][order]
        w[lo:hi] = w[lo:hi][order]
        d[lo:hi] = seg[order]
