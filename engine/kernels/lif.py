"""The simulation loop: clock-driven LIF integration with event-driven spike delivery, many steps per call.

One call advances every trial of a batch from its own start step towards ``t_end``. Per step ``k`` and trial:

A. advance every neuron with its exact propagator; threshold, reset and refractoriness are computed branch-free so
   that LLVM vectorises the loop; then collect the spiking neurons (skipping 64 clear spike flags at a time), draw
   Poisson source spikes (counter-based, keyed by trial, channel and step) and replay spike-generator events;
B. make sure the event queue can take this step's synaptic events (otherwise return, so the driver can grow it, and
   resume at phase C of the same step: nothing is lost or redone);
C. record the spikes;
D. queue each spike for delivery: when every row has one delay, the spike itself goes into slot
   ``(k + delay) mod D`` of the spike queue (its row is walked when it arrives, no per-synapse copy); with
   per-synapse delays, its CSR row is walked now and ``(target, weight)`` events go into the event queue;
E. apply what is due at step ``k`` synapse by synapse: ``I_ex[j] += w`` (``w >= 0``) or ``I_in[j] += w``, in the
   order the spikes were emitted and the synapses stored. This is the order Brian2 applies ``on_pre`` statements
   in, so sums round the same way;
F. sample monitored state variables.

Monitors write straight into the run's record arrays at absolute positions (rate row ``step - rate_base``, state row
``(step + 1) // st_every - 1 - st_base``), so a trial that stops early and resumes later (queue growth, a full spike
record) fills exactly its own rows, whatever the other trials of the batch did meanwhile.

Delta-synapse neurons (iaf_psc_delta) take their input inside step A (as NEST does), so their events are queued one
step earlier (the builder stores their delays minus one) and accumulate in ``I_ex``/``I_in``, which such neurons use
as input buffers. A trial stops early, before a step, when its spike record buffer might overflow.

Trials run in parallel (``prange``); each writes only its own rows, so results do not depend on the thread count.
Imports only numpy, numba and the RNG kernels.
"""
import types

import numpy as np
from numba import njit, prange

from engine.kernels.rng import uniform

EXP = 0  # iaf_psc_exp
DELTA = 1  # iaf_psc_delta

# values of the per-trial status word returned to the driver
DONE = 0
RECORD_FULL = 1
QUEUE_FULL = 2


@njit(cache=True, inline="always")
def _update_exp(V, Iex, Iin, ref, Iext, flags, lo, n, c0, p22, p20, p21e, p21i, p11e, p11i, vth, vr, rs, use_iext):
    """One exact step of iaf_psc_exp neurons ``lo .. lo+n-1``; sets ``flags`` where the threshold is crossed.

    The index is unsigned, so numba emits no negative-index wrap-around and LLVM vectorises the loop (a signed
    offset index defeats vectorisation; slicing the arrays per population instead costs ~10 % of CUBA's step).
    """
    for k in range(n):
        i = lo + np.uint64(k)  # unsigned: numba adds no negative-index wrap-around, so LLVM vectorises
        v = V[i]
        ie = Iex[i]
        ii = Iin[i]
        r = ref[i]
        vn = c0 + v * p22 + ie * p21e + ii * p21i
        if use_iext:  # loop-invariant: LLVM compiles one loop per case
            vn += Iext[i] * p20
        vn = v if r > 0 else vn
        r = r - 1 if r > 0 else r
        Iex[i] = ie * p11e
        Iin[i] = ii * p11i
        s = vn >= vth
        V[i] = vr if s else vn
        ref[i] = rs if s else r
        flags[i] = s


@njit(cache=True, inline="always")
def _update_delta(V, Iex, Iin, ref, Iext, flags, lo, n, c0, p22, p20, vth, vr, rs, use_iext):
    """One exact step of iaf_psc_delta neurons; input queued in ``Iex + Iin`` is added, or dropped if refractory."""
    for k in range(n):
        i = lo + np.uint64(k)
        v = V[i]
        r = ref[i]
        vn = c0 + v * p22 + (Iex[i] + Iin[i])
        if use_iext:
            vn += Iext[i] * p20
        vn = v if r > 0 else vn
        r = r - 1 if r > 0 else r
        Iex[i] = 0.0
        Iin[i] = 0.0
        s = vn >= vth
        V[i] = vr if s else vn
        ref[i] = rs if s else r
        flags[i] = s


def _run_chunk(t_start, t_end, reserve, status, resume,
               pop_lo, pop_hi, pop_model, pop_iext, C0, Vth, Vreset, P22, P21ex, P21in, P20, P11ex, P11in, ref_steps,
               V, Iex, Iin, ref, Iext, flags, spiked, spiked_mult, n_spiked,
               q_tgt, q_w, q_n, sq_pre, sq_mult, sq_n,
               indptr, targets, w_syn, w_row, d_syn, d_row,
               pois_pre0, pois_key, pois_seg_step, pois_p0, pois_lam, pois_kmax, pois_cdf, pois_tab_idx,
               sg_pre, sg_step, sg_ptr, sg_cur,
               cur_step, cur_idx, cur_val, cur_cur, cur_end,
               rec_mask, spk_step, spk_id, spk_n, n_events,
               rate_col, rate_base, rate_counts,
               st_idx, st_var, st_every, st_base, st_out, q_bound):
    """Advance every trial ``b`` from ``t_start[b]`` towards ``t_end``; ``t_start`` is updated in place.

    ``status[b]`` tells why trial ``b`` stopped (DONE, RECORD_FULL, QUEUE_FULL). After QUEUE_FULL the driver grows
    the queue that is full and calls again with ``resume[b] = 1``: phase A of step ``t_start[b]`` already ran and
    its spikes wait in ``spiked[b, :n_spiked[b]]``. ``q_bound[b]`` is an upper bound of the fullest slot of the
    queue in use (recomputed exactly only when the bound says the queue may overflow, so a deep queue is not
    scanned every step). ``rate_col[pre]`` is the rate-record column of presynaptic index ``pre`` (-1: none);
    ``st_var[q]`` picks the state variable (0 V, 1 I_ex, 2 I_in) of sample column ``q``.
    """
    B = V.shape[0]
    D = sq_n.shape[1]
    P = pop_lo.size
    cap = spk_step.shape[1]
    q_cap = q_tgt.shape[2]
    n_pois = pois_key.shape[1]
    n_seg = pois_seg_step.size
    n_st = st_idx.size
    sq_cap = sq_pre.shape[2]
    n_blocks = flags.shape[1] // 64  # flags are padded to a multiple of 64 bytes
    per_syn_delay = d_syn.size > 0
    per_syn_weight = w_syn.size > 0
    use_cdf_tab = pois_cdf.shape[0] > 0
    rates_per_trial = np.int64(pois_p0.shape[0] > 1)
    for b in prange(B):
        step = t_start[b]
        seg = 0
        status[b] = DONE
        Vb = V[b]
        Iexb = Iex[b]
        Iinb = Iin[b]
        refb = ref[b]
        Iextb = Iext[b]
        flagb = flags[b]
        words = flagb.view(np.uint64)
        while step < t_end:
            slot = step % D
            if resume[b]:
                resume[b] = 0
                n_sp = n_spiked[b]
            else:
                if spk_n[b] + reserve > cap:
                    status[b] = RECORD_FULL
                    break
                # A1. current-injection events due now
                c = cur_cur[b]
                while c < cur_end[b] and cur_step[c] <= step:
                    Iextb[cur_idx[c]] = cur_val[c]
                    c += 1
                cur_cur[b] = c
                # A2. neuron update
                for p in range(P):
                    lo = pop_lo[p]
                    hi = pop_hi[p]
                    if pop_model[p] == EXP:
                        _update_exp(Vb, Iexb, Iinb, refb, Iextb, flagb, np.uint64(lo), hi - lo,
                                    C0[p], P22[p], P20[p], P21ex[p], P21in[p], P11ex[p], P11in[p], Vth[p],
                                    Vreset[p], np.int64(ref_steps[p]), pop_iext[p])
                    else:
                        _update_delta(Vb, Iexb, Iinb, refb, Iextb, flagb, np.uint64(lo), hi - lo,
                                      C0[p], P22[p], P20[p], Vth[p], Vreset[p], np.int64(ref_steps[p]), pop_iext[p])
                # A3. spiking neurons, in index order: skip 64 flags at a time when none is set
                n_sp = 0
                for blk in range(n_blocks):
                    w0 = blk * 8
                    if (words[w0] | words[w0 + 1] | words[w0 + 2] | words[w0 + 3] | words[w0 + 4]
                            | words[w0 + 5] | words[w0 + 6] | words[w0 + 7]) == 0:
                        continue
                    for w in range(w0, w0 + 8):
                        if words[w] != 0:
                            for i in range(w * 8, w * 8 + 8):
                                if flagb[i]:
                                    spiked[b, n_sp] = i
                                    spiked_mult[b, n_sp] = 1
                                    n_sp += 1
                # A4. Poisson sources: k ~ Poisson(lam) by inverse CDF of one uniform per (trial, channel, step)
                if n_pois > 0:
                    while seg + 1 < n_seg and pois_seg_step[seg + 1] <= step:
                        seg += 1
                    bt = b * rates_per_trial  # this trial's rates, or row 0 when all trials share them
                    for ch in range(n_pois):
                        u = uniform(pois_key[b, ch], step)
                        p0 = pois_p0[bt, seg, ch]
                        if u < p0:
                            continue
                        if use_cdf_tab:  # k = #{j : P(K <= j) <= u}, branch-free over the tabulated CDF
                            row = pois_cdf[pois_tab_idx[bt, seg, ch]]
                            k = 0
                            for j in range(row.size):
                                k += u >= row[j]
                        else:  # sum the probabilities until they pass u
                            lam = pois_lam[bt, seg, ch]
                            k = 1
                            term = p0 * lam
                            cdf = p0 + term
                            while u >= cdf and k < pois_kmax:
                                k += 1
                                term *= lam / k
                                cdf += term
                        spiked[b, n_sp] = pois_pre0 + ch
                        spiked_mult[b, n_sp] = k
                        n_sp += 1
                # A5. spike generators (sorted by step; repeated events deliver repeatedly)
                g = sg_cur[b]
                g_end = sg_ptr[b + 1]
                while g < g_end and sg_step[g] <= step:
                    if sg_step[g] == step:
                        spiked[b, n_sp] = sg_pre[g]
                        spiked_mult[b, n_sp] = 1
                        n_sp += 1
                    g += 1
                sg_cur[b] = g
            # B. room in the queue for this step's events (per-synapse delays) or spikes (per-row delays)?
            need = 0
            for k in range(n_sp):
                pre = spiked[b, k]
                need += indptr[pre + 1] - indptr[pre]
            add, cap_now = (need, q_cap) if per_syn_delay else (n_sp, sq_cap)
            if q_bound[b] + add > cap_now:  # the bound says it may overflow: look at the real fill
                fullest = 0
                for s in range(D):
                    fullest = max(fullest, q_n[b, s] if per_syn_delay else sq_n[b, s])
                q_bound[b] = fullest
                if fullest + add > cap_now:
                    n_spiked[b] = n_sp
                    resume[b] = 1
                    status[b] = QUEUE_FULL
                    break
            q_bound[b] += add
            # C. record; D. deliver
            n = spk_n[b]
            for k in range(n_sp):
                pre = spiked[b, k]
                mult = spiked_mult[b, k]
                if rec_mask[pre]:
                    for _ in range(mult):
                        spk_step[b, n] = step
                        spk_id[b, n] = pre
                        n += 1
                col = rate_col[pre]
                if col >= 0:
                    rate_counts[b, step - rate_base, col] += mult
                if per_syn_delay:  # walk the row now, one event per synapse
                    fmult = np.float64(mult)
                    for s in range(indptr[pre], indptr[pre + 1]):
                        e_slot = slot + np.int64(d_syn[s])
                        if e_slot >= D:
                            e_slot -= D
                        e = q_n[b, e_slot]
                        q_tgt[b, e_slot, e] = targets[s]
                        q_w[b, e_slot, e] = (np.float64(w_syn[s]) if per_syn_weight else np.float64(w_row[pre])) * fmult
                        q_n[b, e_slot] = e + 1
                else:  # one delay per row: queue the spike itself, walk its row when it arrives
                    s_slot = slot + d_row[pre]
                    if s_slot >= D:
                        s_slot -= D
                    e = sq_n[b, s_slot]
                    sq_pre[b, s_slot, e] = pre
                    sq_mult[b, s_slot, e] = mult
                    sq_n[b, s_slot] = e + 1
            spk_n[b] = n
            n_events[b] += need
            # E. events due now, in the order they were queued
            # (written out here: a helper taking the arrays costs ~45 ns of reference counting per call)
            for e in range(sq_n[b, slot]):
                pre = sq_pre[b, slot, e]
                lo = indptr[pre]
                hi = indptr[pre + 1]
                mult = np.float64(sq_mult[b, slot, e])
                if per_syn_weight:
                    for s in range(lo, hi):
                        w = np.float64(w_syn[s]) * mult
                        if w >= 0:
                            Iexb[targets[s]] += w
                        else:
                            Iinb[targets[s]] += w
                else:
                    w = np.float64(w_row[pre]) * mult
                    if w >= 0:
                        for s in range(lo, hi):
                            Iexb[targets[s]] += w
                    else:
                        for s in range(lo, hi):
                            Iinb[targets[s]] += w
            sq_n[b, slot] = 0
            for e in range(q_n[b, slot]):
                j = q_tgt[b, slot, e]
                w = q_w[b, slot, e]
                if w >= 0:
                    Iexb[j] += w
                else:
                    Iinb[j] += w
            q_n[b, slot] = 0
            # F. state samples after step k, when (k + 1) is a multiple of st_every
            if n_st > 0 and (step + 1) % st_every == 0:
                row = (step + 1) // st_every - 1 - st_base
                for q in range(n_st):
                    j = st_idx[q]
                    var = st_var[q]
                    st_out[b, row, q] = Vb[j] if var == 0 else (Iexb[j] if var == 1 else Iinb[j])
            step += 1
        t_start[b] = step


def _variant(fn, name: str):
    """A copy of ``fn`` under another name. Numba's disk cache keys a kernel by its function's qualified name, not by
    its compile options, so two variants of one function would share an entry: whichever compiled first (serial or
    parallel) would then serve both."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = fn.__doc__
    return copy


run_chunk_serial = njit(cache=True, nogil=True)(_variant(_run_chunk, "run_chunk_serial"))
run_chunk_parallel = njit(cache=True, nogil=True, parallel=True)(_variant(_run_chunk, "run_chunk_parallel"))
