"""Exact event-driven simulation of LIF neurons with delta synapses: continuous time, cost per event.

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

Each trial has one binary heap of pending events, ordered by time, then by the order they were pushed, so
simultaneous events are handled in a fixed order for any chunking or thread count (state samples come first among
events of the same time, so a sample at ``t`` excludes the inputs arriving at ``t``, as the clock mode's stamping
does). An entry is ``(time, origin)`` in ``hf`` and ``(kind + 8 * id, cursor, order)`` in ``hi``; kinds:

- ``ROW``: the synapses ``[cursor, end)`` of presynaptic row ``id`` that share one delay (rows are sorted by delay
  at build), from a spike at ``origin``; the next run of the row is pushed when this one is delivered, so the heap
  holds one entry per spike in flight, not one per synapse;
- ``POISSON``: the ``cursor``-th spike of Poisson channel ``id`` (inter-spike intervals :math:`-\\ln(u)/r`, with
  ``u`` the counter-based uniform of the channel's stream, so each channel's train is a pure function of seed, trial
  and channel);
- ``GENERATOR``: the spike at ``times[cursor]`` of a spike-generator channel ``id``;
- ``CROSS``: neuron ``id`` reaches threshold by its constant current (valid when ``cursor`` is its version);
- ``SAMPLE``: the ``cursor``-th sample of the monitored neurons' ``V`` (evaluated, never written back: sampling
  does not change a bit of the dynamics).

The kernel returns when every trial has reached ``t_end`` (events at ``t_end`` are the next call's), or early with
``HEAP_FULL`` / ``RECORD_FULL`` before an event that might not fit; the driver grows the heap or drains the record
and calls again, which resumes exactly there. Imports only numpy, numba and other kernels.
"""
import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from engine.kernels.rng import uniform_open

ENeurons = namedtuple("ENeurons", "tau v_inf v_th v_reset t_ref")
ECsr = namedtuple("ECsr", "indptr tgt w d")
EInputs = namedtuple("EInputs", "pois_lo pois_key pois_rate gen_lo gen_ptr gen_end gen_t")
EHeap = namedtuple("EHeap", "hf hi n seq")
EState = namedtuple("EState", "V t_last ref_end ver pend pend_w pend_on n_pend t_pend")
ERecord = namedtuple("ERecord", "mask t ids n events st_idx st_every st_base st_out")

ROW, POISSON, GENERATOR, CROSS, SAMPLE = 0, 1, 2, 3, 4
_KINDS = 8  # kind = a % 8, id = a // 8

DONE, HEAP_FULL, RECORD_FULL = 0, 1, 2


@njit(cache=True, inline="always")
def _less(hf, hi, i, j):
    """Entry ``i`` comes before entry ``j``: earlier time, then lower push order."""
    return hf[i, 0] < hf[j, 0] or (hf[i, 0] == hf[j, 0] and hi[i, 2] < hi[j, 2])


@njit(cache=True, inline="always")
def _swap(hf, hi, i, j):
    for k in range(2):
        hf[i, k], hf[j, k] = hf[j, k], hf[i, k]
    for k in range(3):
        hi[i, k], hi[j, k] = hi[j, k], hi[i, k]


@njit(cache=True)
def heap_push(hf, hi, n, t, origin, a, cursor, order):
    """Add an entry to the heap of ``n`` entries (capacity checked by the caller); returns the new size."""
    i = n
    hf[i, 0] = t
    hf[i, 1] = origin
    hi[i, 0] = a
    hi[i, 1] = cursor
    hi[i, 2] = order
    while i > 0:
        p = (i - 1) >> 1
        if not _less(hf, hi, i, p):
            break
        _swap(hf, hi, i, p)
        i = p
    return n + 1


@njit(cache=True)
def heap_pop(hf, hi, n):
    """Remove the first entry of the heap of ``n`` entries; returns the new size."""
    n -= 1
    if n > 0:
        for k in range(2):
            hf[0, k] = hf[n, k]
        for k in range(3):
            hi[0, k] = hi[n, k]
        i = 0
        while True:
            left = 2 * i + 1
            if left >= n:
                break
            c = left
            if left + 1 < n and _less(hf, hi, left + 1, left):
                c = left + 1
            if not _less(hf, hi, c, i):
                break
            _swap(hf, hi, i, c)
            i = c
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


@njit(cache=True)
def _trial(b, t_end, nrn, csr, inp, heap, st, rec, status):
    """Handle trial ``b``'s events before ``t_end`` in order; sets ``status[b]``."""
    hf = heap.hf[b]
    hi = heap.hi[b]
    n = heap.n[b]
    seq = heap.seq[b]
    cap = hf.shape[0]
    V = st.V[b]
    t_last = st.t_last[b]
    ref_end = st.ref_end[b]
    ver = st.ver[b]
    pend = st.pend[b]
    pend_w = st.pend_w[b]
    pend_on = st.pend_on[b]
    n_pend = st.n_pend[b]
    t_pend = st.t_pend[b]
    rec_t = rec.t[b]
    rec_id = rec.ids[b]
    n_rec = rec.n[b]
    cap_rec = rec_t.shape[0]
    indptr, tgt, w, d = csr.indptr, csr.tgt, csr.w, csr.d
    n_neurons = V.shape[0]
    events = 0
    status[b] = DONE
    while True:
        if n_pend > 0 and (n == 0 or hf[0, 0] > t_pend):
            # every input due at t_pend has arrived: apply each target's sum (NEST sums simultaneous inputs)
            if n + 2 * n_pend > cap:
                status[b] = HEAP_FULL
                break
            if n_rec + n_pend > cap_rec:
                status[b] = RECORD_FULL
                break
            t = t_pend
            for q in range(n_pend):
                k = pend[q]
                pend_on[k] = 0
                if t < ref_end[k]:
                    continue  # made refractory at t by its own threshold crossing: the input is dropped
                v = _now(V[k], t_last[k], ref_end[k], t, nrn.v_inf[k], nrn.tau[k])
                if v < nrn.v_th[k]:  # (>= only by rounding, when a crossing due now is still queued)
                    v += pend_w[k]
                V[k] = v
                t_last[k] = t
                if v >= nrn.v_th[k]:
                    if rec.mask[k]:
                        rec_t[n_rec] = t
                        rec_id[n_rec] = k
                        n_rec += 1
                    V[k] = nrn.v_reset[k]
                    ref_end[k] = t + nrn.t_ref[k]
                    ver[k] += 1
                    if indptr[k + 1] > indptr[k]:
                        n = heap_push(hf, hi, n, t + d[indptr[k]], t, k * _KINDS + ROW, indptr[k], seq)
                        seq += 1
                    if nrn.v_inf[k] > nrn.v_th[k]:
                        tc = _cross_time(ref_end[k], nrn.v_reset[k], nrn.v_inf[k], nrn.v_th[k], nrn.tau[k])
                        n = heap_push(hf, hi, n, tc, tc, k * _KINDS + CROSS, ver[k], seq)
                        seq += 1
                elif nrn.v_inf[k] > nrn.v_th[k]:
                    ver[k] += 1
                    tc = _cross_time(t, v, nrn.v_inf[k], nrn.v_th[k], nrn.tau[k])
                    n = heap_push(hf, hi, n, tc, tc, k * _KINDS + CROSS, ver[k], seq)
                    seq += 1
            n_pend = 0
            continue
        if n == 0:
            break
        t = hf[0, 0]
        if t >= t_end:
            break
        if n + 2 > cap:
            status[b] = HEAP_FULL
            break
        if n_rec + 1 > cap_rec:
            status[b] = RECORD_FULL
            break
        a = hi[0, 0]
        kind = a % _KINDS
        p = a // _KINDS
        c = hi[0, 1]
        origin = hf[0, 1]
        n = heap_pop(hf, hi, n)
        spiker = -1  # the presynaptic index that spikes now (POISSON, GENERATOR, CROSS)
        if kind == ROW:
            # the run of synapses with this delay; the targets' inputs wait until every input due now has come
            last = indptr[p + 1]
            j = c
            while j < last and d[j] == d[c]:
                k = tgt[j]
                if t >= ref_end[k]:  # refractory: the input is dropped
                    if pend_on[k]:
                        pend_w[k] += w[j]
                    else:
                        pend_on[k] = 1
                        pend_w[k] = w[j]
                        pend[n_pend] = k
                        n_pend += 1
                j += 1
            t_pend = t
            events += j - c
            if j < last:
                n = heap_push(hf, hi, n, origin + d[j], origin, a, j, seq)
                seq += 1
        elif kind == POISSON:
            ch = p - inp.pois_lo
            nt = t - math.log(uniform_open(inp.pois_key[b, ch], c + 1)) * 1000.0 / inp.pois_rate[b, ch]
            n = heap_push(hf, hi, n, nt, nt, a, c + 1, seq)
            seq += 1
            spiker = p
        elif kind == GENERATOR:
            ch = p - inp.gen_lo
            if c + 1 < inp.gen_end[b, ch]:
                nt = inp.gen_t[c + 1]
                n = heap_push(hf, hi, n, nt, nt, a, c + 1, seq)
                seq += 1
            spiker = p
        elif kind == CROSS:
            if c == ver[p]:
                spiker = p
        else:  # SAMPLE
            s = c - rec.st_base[b]
            if s < rec.st_out.shape[1]:
                for j in range(rec.st_idx.size):
                    k = rec.st_idx[j]
                    if t < ref_end[k]:
                        rec.st_out[b, s, j] = nrn.v_reset[k]
                    else:
                        rec.st_out[b, s, j] = _now(V[k], t_last[k], ref_end[k], t, nrn.v_inf[k], nrn.tau[k])
            nt = (c + 2) * rec.st_every
            n = heap_push(hf, hi, n, nt, nt, a, c + 1, -1)  # samples come first among events of their time
        if spiker >= 0:
            if rec.mask[spiker]:
                rec_t[n_rec] = t
                rec_id[n_rec] = spiker
                n_rec += 1
            if spiker < n_neurons:
                V[spiker] = nrn.v_reset[spiker]
                t_last[spiker] = t
                ref_end[spiker] = t + nrn.t_ref[spiker]
                ver[spiker] += 1
                if nrn.v_inf[spiker] > nrn.v_th[spiker]:
                    tc = _cross_time(ref_end[spiker], nrn.v_reset[spiker], nrn.v_inf[spiker], nrn.v_th[spiker],
                                     nrn.tau[spiker])
                    n = heap_push(hf, hi, n, tc, tc, spiker * _KINDS + CROSS, ver[spiker], seq)
                    seq += 1
            if indptr[spiker + 1] > indptr[spiker]:
                n = heap_push(hf, hi, n, t + d[indptr[spiker]], t, spiker * _KINDS + ROW, indptr[spiker], seq)
                seq += 1
    heap.n[b] = n
    heap.seq[b] = seq
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
def start_trials(t0, nrn, csr, inp, heap, st, rec):
    """Push every trial's first events at time ``t0``: each Poisson channel's first spike, each generator's first
    spike, the threshold crossing of every neuron driven above threshold by its current, a spike now of every
    neuron that starts at or above threshold, and the first state sample. The heap must have room for them all."""
    n_neurons = st.V.shape[1]
    for b in range(heap.n.size):
        hf, hi = heap.hf[b], heap.hi[b]
        n, seq = heap.n[b], heap.seq[b]
        for ch in range(inp.pois_rate.shape[1]):
            if inp.pois_rate[b, ch] > 0:
                t = t0 - math.log(uniform_open(inp.pois_key[b, ch], 0)) * 1000.0 / inp.pois_rate[b, ch]
                n = heap_push(hf, hi, n, t, t, (inp.pois_lo + ch) * _KINDS + POISSON, 0, seq)
                seq += 1
        for ch in range(inp.gen_ptr.shape[1]):
            first = inp.gen_ptr[b, ch]
            if first < inp.gen_end[b, ch]:
                t = inp.gen_t[first]
                n = heap_push(hf, hi, n, t, t, (inp.gen_lo + ch) * _KINDS + GENERATOR, first, seq)
                seq += 1
        for k in range(n_neurons):
            v = st.V[b, k]
            if v >= nrn.v_th[k]:  # at threshold from the start: a spike at t0 (NEST: at the first instant)
                n = heap_push(hf, hi, n, t0, t0, k * _KINDS + CROSS, st.ver[b, k], seq)
                seq += 1
            elif nrn.v_inf[k] > nrn.v_th[k]:
                tc = _cross_time(t0, v, nrn.v_inf[k], nrn.v_th[k], nrn.tau[k])
                n = heap_push(hf, hi, n, tc, tc, k * _KINDS + CROSS, st.ver[b, k], seq)
                seq += 1
        if rec.st_idx.size:
            t = (rec.st_base[b] + 1) * rec.st_every
            n = heap_push(hf, hi, n, t, t, SAMPLE, rec.st_base[b], -1)
        heap.n[b] = n
        heap.seq[b] = seq


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
