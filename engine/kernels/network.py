"""The simulation loop: clock-driven neuron updates with event-driven spike delivery, many steps per call.

Work is split by *workers*: each worker owns a contiguous range of target blocks (neurons, Poisson channels and the
row segments onto those neurons, see :mod:`engine.kernels.synapses`). Trial-parallel runs give each trial one worker
that owns every block (``prange`` over trials); block-parallel runs give one trial ``T`` workers (``prange`` over
workers) that meet at a barrier once per *interval* of ``L`` steps, ``L`` at most the smallest delay: a spike emitted
in an interval is never due inside it, so workers exchange spikes once per interval, as NEST's MPI ranks do once per
minimum delay. Per interval ``[k0, k0 + L)`` and trial:

Phase 1 (each worker on its own blocks), for every step ``k``:
  A. current-injection events due now; exact update of every owned neuron (:mod:`engine.kernels.neurons`);
     collect the spiking neurons (skipping 64 clear flags at a time), draw the owned Poisson channels
     (counter-based: keyed by trial, channel and step) and replay spike-generator events into this block's buffer;
  E. (steps before the last) apply the events due at ``k`` to owned targets, in the order they were queued;
  F. sample owned monitored neurons.
Barrier. Phase 2 (every worker reads every block's buffer, in step, then block order):
  B. every worker takes the same decision from published counts: stop (QUEUE_FULL, RECORD_FULL) if the interval's
     events might not fit the queue or its spikes the record; the driver then grows or drains and resumes here;
  D. queue each spike for delivery to owned targets: with one delay per row the spike itself goes into slot
     ``(k + delay) mod D`` (its row segment is walked when it arrives); with per-synapse delays and static synapses
     each row segment (sorted by delay at build time) is cut into runs of one delay, and one ``(first synapse,
     length, weight factor)`` entry per run goes into the run queue (the run is walked when it arrives); with
     Tsodyks–Markram synapses the segments are walked now, ``u``, ``x`` updated, and one ``(target, weight)`` event
     per synapse goes into the event queue;
  C. the first worker records the spikes and rate counts;
  E, F for the interval's last step.

MPI ranks (:mod:`engine.parallel.mpi`) are workers of one trial in different processes: each process runs the workers of
its own blocks (``Control.own_lo .. own_hi``; its queues and row-pointer columns are indexed from ``own_lo``) and,
with ``Control.exchange``
set, returns with status EXCHANGE after phase 1 of each interval; the driver joins every rank's block buffers
(:mod:`engine.kernels.exchange`) and resumes the kernel at phase 2. Queue decisions are then taken per rank from its
own counts, record decisions from counts every rank shares.

Every target is owned by one worker, and receives its additions in the global order of the spikes (step, then
neurons, Poisson channels and generators in index order) and of its row's synapses: results are the same for any
number of workers, trials or chunks, and equal to the order Brian2 applies ``on_pre`` statements in. Delta-synapse
neurons (iaf_psc_delta) take their input inside A (as NEST does), so their events are queued one step earlier (the
builder stores their delays minus one).

Arguments are named tuples of arrays (one per group: neurons, state, static synapses, Tsodyks–Markram synapses,
inputs, queues, spike buffers, records, control). Imports only numpy, numba and other kernels.
"""
import types
from collections import namedtuple

import numpy as np
from numba import njit, prange

from engine.kernels.hints import prefetch
from engine.kernels.neurons import update_range
from engine.kernels.rng import uniform
from engine.kernels.synapses import elapsed_ms, tm_update
from engine.kernels.sync import barrier

Neurons = namedtuple("Neurons", "pop_lo pop_hi model use_iext par ref_steps blk_lo blk_hi")
State = namedtuple("State", "V Iex Iin ref Iext flags")
Conn = namedtuple("Conn", "row_ptr targets w_syn w_row d_syn d_row")
Stp = namedtuple("Stp", "row_ptr targets w d_syn d_row U tau_rec tau_fac u x last")
Inputs = namedtuple("Inputs", "pois_pre0 pois_key seg_step p0 lam kmax cdf tab_idx sg_pre sg_step sg_ptr sg_cur "
                              "cur_step cur_idx cur_val cur_cur cur_end pois_skip fz_ptr fz_tgt fz_ch fz_w fz_d guide")
Queues = namedtuple("Queues", "q_tgt q_w q_n sq_pre sq_mult sq_n r_lo r_len r_w")
Buffers = namedtuple("Buffers", "ids mult ends need nrec nsp headroom")
Records = namedtuple("Records", "rec_mask spk_step spk_id spk_n n_events rate_col rate_base rate_counts "
                                "st_idx st_var st_every st_base st_out")
Control = namedtuple("Control", "t_start status resume parity ilen bar dt own_lo own_hi exchange")

# values of the per-trial status word returned to the driver
DONE = 0
RECORD_FULL = 1
QUEUE_FULL = 2
STALLED = 3  # a worker of a block-parallel run never reached the barrier (too few threads)
EXCHANGE = 4  # phase 1 of an interval is done: the driver exchanges the spike buffers with the other ranks

_NEURONS, _POISSON, _GENERATORS = 0, 1, 2  # sections of a block's spike buffer, in delivery order
_AHEAD = 8  # runs of the run queue whose synapses are prefetched ahead of their delivery


@njit(cache=True, inline="always")
def _fullest(q_n, sq_n, b, blk, c, per_syn):
    """Entries in the fullest slot of the queue in use: the event or run queue of this process's ``blk``-th block
    (``per_syn``), or spike-queue copy ``c``."""
    best = 0
    if per_syn:
        for s in range(q_n.shape[2]):
            best = max(best, q_n[b, blk, s])
    else:
        for s in range(sq_n.shape[2]):
            best = max(best, sq_n[b, c, s])
    return best


def _work(b, w, T, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec):
    """Advance trial ``b`` towards ``t_end`` as worker ``w`` of ``T`` (see the module docstring).

    Every named tuple is unpacked once here: an attribute read inside a hot loop would cost two atomic
    reference-count operations each time."""
    b = np.int64(b)  # prange indices may be unsigned; mixed with signed ints they would become floats
    w = np.int64(w)
    T = np.int64(T)
    pop_lo, pop_hi, model, use_iext, par, ref_steps, blk_lo, blk_hi = nrn
    V2, Iex2, Iin2, ref2, Iext2, flags2 = st
    row_ptr, targets, w_syn, w_row, d_syn, d_row = conn
    t_ptr, t_tg, t_w, t_dsyn, t_drow, t_U, t_rec, t_fac, t_u, t_x, t_last = stp
    (pois_pre0, pois_key, seg_step, p0a, lam_a, kmax, cdf, tab_idx, sg_pre, sg_step, sg_ptr, sg_cur, cur_step,
     cur_idx, cur_val, cur_cur, cur_end, pois_skip, fz_ptr, fz_tgt, fz_ch, fz_w, fz_d, guide) = inp
    q_tgt, q_w, q_n, sq_pre, sq_mult, sq_n, r_lo, r_len, r_w = q
    ids_all, mult_all, ends, bneed, bnrec, bnsp, headroom = buf
    (rec_mask, spk_step, spk_id, spk_n_all, n_events, rate_col, rate_base, rate_counts, st_idx, st_var, st_every,
     st_base, st_out) = rec
    t_start, status_all, resume_all, parity_all, ilen_all, bar_all, dt, o_lo, o_hi, exchange = ctl
    V = V2[b]
    Iex = Iex2[b]
    Iin = Iin2[b]
    ref = ref2[b]
    Iext = Iext2[b]
    flags = flags2[b]
    words = flags.view(np.uint64)
    bar = bar_all[b]
    NB = blk_lo.size
    o_lo = np.int64(o_lo)  # this process's blocks (an MPI rank's share, else all); queues are indexed from o_lo
    n_own = np.int64(o_hi) - o_lo
    b_lo = o_lo + w * n_own // T
    b_hi = o_lo + (w + 1) * n_own // T
    lb_lo = b_lo - o_lo  # the same blocks among this process's: row pointers hold its blocks' columns only
    lb_hi = b_hi - o_lo
    nbk = row_ptr.shape[1] - 1  # a row's end (its synapses onto this process's blocks)
    tbk = t_ptr.shape[1] - 1
    n_lo = blk_lo[b_lo]  # the neurons this worker owns
    n_hi = blk_hi[b_hi - 1]
    runs = r_lo.shape[3] > 0  # per-synapse delays, segments sorted by delay: one (start, length, weight) per delay
    events = q_tgt.shape[3] > 0  # per-synapse delays with dynamic synapses: one (target, weight) per synapse
    per_syn = events or runs  # the queue in use is per target block (q_n), else the spike queue (sq_n)
    D = q_n.shape[2] if per_syn else sq_n.shape[2]
    cap = q_tgt.shape[3] if events else (r_lo.shape[3] if runs else sq_pre.shape[3])
    c = w if sq_n.shape[1] > 1 else 0  # this worker's spike-queue copy
    rec_cap = spk_step.shape[1]
    n_pois = pois_key.shape[1]
    n_seg = seg_step.size
    bt = b if p0a.shape[0] > 1 else 0  # this trial's Poisson rates, or row 0 when all trials share them
    use_tab = cdf.shape[0] > 0
    n_tab = cdf.shape[1]
    has_tm = t_tg.size > 0
    syn_w = w_syn.size > 0  # static weights per synapse (else per row)
    syn_d = d_syn.size > 0  # static delays per synapse (else per row)
    tm_d = t_dsyn.size > 0
    n_st = st_idx.size
    fz_lo = fz_ptr[n_lo] if fz_ptr.size > 1 else 0  # the fused drives onto this worker's neurons
    fz_hi = fz_ptr[n_hi] if fz_ptr.size > 1 else 0
    p0_sum = 0.0  # mostly silent drives (P(0) >= 1/2 on average) skip zero counts early: that branch is predictable
    for q in range(fz_lo, fz_hi):
        p0_sum += p0a[bt, 0, fz_ch[q]]
    fz_sparse = p0_sum >= 0.5 * (fz_hi - fz_lo)
    skip_ch = pois_skip.size > 0
    ch_lo = np.empty(NB + 1, dtype=np.int64)  # the Poisson channels of each block
    for blk in range(NB + 1):
        ch_lo[blk] = n_pois * blk // NB
    step = t_start[b]
    resuming = resume_all[b] != 0
    parity = parity_all[b] if resuming else 0
    Lk = ilen_all[b] if resuming else 0
    cur = cur_cur[b]
    sg = sg_cur[b]
    g_end = sg_ptr[b + 1]
    spk_n = spk_n_all[b]
    # entry: publish every owned block's exact room in its queue, for the first decision
    for blk in range(b_lo, b_hi):
        headroom[b, parity, blk] = cap - _fullest(q_n, sq_n, b, blk - o_lo, c, per_syn)
    status = DONE
    if not barrier(bar, T):
        status = STALLED
    seg = 0
    while status == DONE:
        if not resuming:
            if step >= t_end:
                break
            Lk = min(L, t_end - step)
            for blk in range(b_lo, b_hi):
                bneed[b, parity, blk] = 0
                bnrec[b, parity, blk] = 0
                bnsp[b, parity, blk] = 0
        for i in range(Lk):
            k = step + i
            if resuming and i < Lk - 1:  # phase 1 of this interval ran before the driver grew a queue or a record
                continue
            if not resuming:
                # ------------------------------------------------------------ phase 1 (A): own blocks
                # A1. current-injection events due now (every worker scans them all, applies its own)
                while cur < cur_end[b] and cur_step[cur] <= k:
                    j = cur_idx[cur]
                    if n_lo <= j < n_hi:
                        Iext[j] = cur_val[cur]
                    cur += 1
                # A2. neuron update
                update_range(pop_lo, pop_hi, model, use_iext, par, ref_steps, V, Iex, Iin, ref, Iext, flags,
                             n_lo, n_hi)
                while seg + 1 < n_seg and seg_step[seg + 1] <= k:
                    seg += 1
                # A3-A5. spikes of each owned block: neurons in index order, its Poisson channels, generators
                for blk in range(b_lo, b_hi):
                    n0 = 0 if i == 0 else ends[b, parity, blk, i - 1, _GENERATORS]
                    n = n0
                    lo = blk_lo[blk]
                    hi = blk_hi[blk]
                    for blk64 in range(lo // 64, (hi + 63) // 64 if hi > lo else 0):  # 64 flags at a time
                        w0 = blk64 * 8
                        if (words[w0] | words[w0 + 1] | words[w0 + 2] | words[w0 + 3] | words[w0 + 4]
                                | words[w0 + 5] | words[w0 + 6] | words[w0 + 7]) == 0:
                            continue
                        for wd in range(w0, w0 + 8):
                            if words[wd] != 0:
                                for nn in range(wd * 8, wd * 8 + 8):
                                    if flags[nn]:
                                        ids_all[b, parity, blk, n] = nn
                                        mult_all[b, parity, blk, n] = 1
                                        n += 1
                    ends[b, parity, blk, i, _NEURONS] = n
                    # Poisson channels: k ~ Poisson(lam) by inverse CDF of one uniform per (trial, channel, step)
                    for ch in range(ch_lo[blk], ch_lo[blk + 1]):
                        if skip_ch and pois_skip[ch]:  # a fused drive: drawn at its target (E)
                            continue
                        u = uniform(pois_key[b, ch], k)
                        pz = p0a[bt, seg, ch]
                        if u < pz:
                            continue
                        if use_tab:  # kk = #{j : P(K <= j) <= u}: from the guide cell of u, a step or two on
                            t = tab_idx[bt, seg, ch]
                            kk = guide[t, np.int64(u * 256.0)]
                            while kk < n_tab and u >= cdf[t, kk]:
                                kk += 1
                        else:  # sum the probabilities until they pass u
                            lam = lam_a[bt, seg, ch]
                            kk = 1
                            term = pz * lam
                            cdf_sum = pz + term
                            while u >= cdf_sum and kk < kmax:
                                kk += 1
                                term *= lam / kk
                                cdf_sum += term
                        ids_all[b, parity, blk, n] = pois_pre0 + ch
                        mult_all[b, parity, blk, n] = kk
                        n += 1
                    ends[b, parity, blk, i, _POISSON] = n
                    if blk == NB - 1:  # spike generators (sorted by step; repeated events deliver repeatedly)
                        while sg < g_end and sg_step[sg] <= k:
                            if sg_step[sg] == k:
                                ids_all[b, parity, blk, n] = sg_pre[sg]
                                mult_all[b, parity, blk, n] = 1
                                n += 1
                            sg += 1
                    ends[b, parity, blk, i, _GENERATORS] = n
                    need = 0
                    nrec = 0
                    nrun = 0  # a bound on the runs a block's queue gets: at most one per delay value
                    for e in range(n0, n):
                        pre = ids_all[b, parity, blk, e]
                        need += row_ptr[pre, nbk] - row_ptr[pre, 0]
                        nrun += min(row_ptr[pre, nbk] - row_ptr[pre, 0], D)
                        if has_tm:
                            need += t_ptr[pre, tbk] - t_ptr[pre, 0]
                        if rec_mask[pre]:
                            nrec += mult_all[b, parity, blk, e]
                    bneed[b, parity, blk] += need
                    bnrec[b, parity, blk] += nrec
                    bnsp[b, parity, blk] += nrun if runs else n - n0
            if i == Lk - 1:
                if not resuming and not barrier(bar, T):
                    status = STALLED
                    break
                if exchange and not resuming:  # the other ranks' blocks arrive from the driver; resume below
                    status = EXCHANGE
                    break
                resuming = False
                # ------------------------------------------------------------ phase 2: decision (same everywhere)
                need = 0
                nsp = 0
                nrec = 0
                room = cap
                for blk in range(NB):
                    need += bneed[b, parity, blk]
                    nsp += bnsp[b, parity, blk]
                    nrec += bnrec[b, parity, blk]
                    room = min(room, headroom[b, parity, blk])
                if (need if events else nsp) > room:
                    status = QUEUE_FULL
                    break
                if spk_n + nrec > rec_cap:
                    status = RECORD_FULL
                    break
                # D. queue every spike of the interval for the owned blocks, in global order; C. worker 0 records
                slot = (step % D) - 1
                for i2 in range(Lk):
                    k2 = step + i2
                    slot = slot + 1 if slot + 1 < D else 0
                    for sec in range(3):
                        for src in range(NB):
                            lo = 0 if sec == 0 and i2 == 0 else (ends[b, parity, src, i2, sec - 1] if sec > 0
                                                                else ends[b, parity, src, i2 - 1, _GENERATORS])
                            hi = ends[b, parity, src, i2, sec]
                            for e in range(lo, hi):
                                pre = ids_all[b, parity, src, e]
                                m = mult_all[b, parity, src, e]
                                if runs and e + 2 < hi:  # the delays of a spike two ahead, fetched meanwhile
                                    prefetch(d_syn, row_ptr[ids_all[b, parity, src, e + 2], lb_lo])
                                if runs:  # walk the row segments now: one (start, length, weight) run per delay
                                    for blk in range(b_lo, b_hi):
                                        wr = np.float64(m) if syn_w else np.float64(w_row[pre]) * np.float64(m)
                                        sy = row_ptr[pre, blk - o_lo]
                                        s_end = row_ptr[pre, blk - o_lo + 1]
                                        while sy < s_end:
                                            dd = d_syn[sy]
                                            r0 = sy
                                            sy += 1
                                            while sy < s_end and d_syn[sy] == dd:
                                                sy += 1
                                            e_slot = slot + np.int64(dd)
                                            if e_slot >= D:
                                                e_slot -= D
                                            ee = q_n[b, blk - o_lo, e_slot]
                                            r_lo[b, blk - o_lo, e_slot, ee] = r0
                                            r_len[b, blk - o_lo, e_slot, ee] = sy - r0
                                            r_w[b, blk - o_lo, e_slot, ee] = wr
                                            q_n[b, blk - o_lo, e_slot] = ee + 1
                                elif events:  # walk the row segments now: one (target, weight) event per synapse
                                    fm = np.float64(m)
                                    for blk in range(b_lo, b_hi):
                                        wr = np.float64(w_row[pre]) * fm
                                        dr = np.int64(d_row[pre])
                                        for sy in range(row_ptr[pre, blk - o_lo], row_ptr[pre, blk - o_lo + 1]):
                                            e_slot = slot + (np.int64(d_syn[sy]) if syn_d else dr)
                                            if e_slot >= D:
                                                e_slot -= D
                                            ee = q_n[b, blk - o_lo, e_slot]
                                            q_tgt[b, blk - o_lo, e_slot, ee] = targets[sy]
                                            q_w[b, blk - o_lo, e_slot, ee] = np.float64(w_syn[sy]) * fm if syn_w else wr
                                            q_n[b, blk - o_lo, e_slot] = ee + 1
                                        if has_tm:  # Tsodyks–Markram: the efficacy as this spike leaves
                                            h_ms = elapsed_ms(t_last[b, blk - o_lo, pre], k2, dt)
                                            t_last[b, blk - o_lo, pre] = k2
                                            dr = np.int64(t_drow[pre])
                                            for sy in range(t_ptr[pre, blk - o_lo], t_ptr[pre, blk - o_lo + 1]):
                                                uu, xx, eff = tm_update(t_u[b, sy], t_x[b, sy], t_U[sy], t_rec[sy],
                                                                        t_fac[sy], h_ms, m)
                                                t_u[b, sy] = uu
                                                t_x[b, sy] = xx
                                                e_slot = slot + (np.int64(t_dsyn[sy]) if tm_d else dr)
                                                if e_slot >= D:
                                                    e_slot -= D
                                                ee = q_n[b, blk - o_lo, e_slot]
                                                q_tgt[b, blk - o_lo, e_slot, ee] = t_tg[sy]
                                                q_w[b, blk - o_lo, e_slot, ee] = np.float64(t_w[sy]) * eff
                                                q_n[b, blk - o_lo, e_slot] = ee + 1
                                elif row_ptr[pre, lb_hi] > row_ptr[pre, lb_lo] or (
                                        has_tm and t_ptr[pre, lb_hi] > t_ptr[pre, lb_lo]):
                                    # the spike itself, when it has synapses onto this worker's blocks (a one-to-one
                                    # drive reaches one block: each worker queues only its own share)
                                    d_slot = slot + np.int64(d_row[pre])
                                    if d_slot >= D:
                                        d_slot -= D
                                    ee = sq_n[b, c, d_slot]
                                    sq_pre[b, c, d_slot, ee] = pre
                                    sq_mult[b, c, d_slot, ee] = m
                                    sq_n[b, c, d_slot] = ee + 1
                                if w == 0:
                                    if rec_mask[pre]:
                                        for _ in range(m):
                                            spk_step[b, spk_n] = k2
                                            spk_id[b, spk_n] = pre
                                            spk_n += 1
                                    col = rate_col[pre]
                                    if col >= 0:
                                        rate_counts[b, k2 - rate_base, col] += m
                if w != 0:
                    spk_n += nrec
                else:
                    n_events[b, 0] += need
            # E. the events due at k, to own targets, in the order they were queued (those of the interval's last
            # step include what D just queued with the shortest delays); F. samples
            slot = (step % D) + i
            if slot >= D:
                slot -= D
            # fused Poisson drives first: the count their channel drew at the emission step k - delay (the same
            # counter-based draw as a queued channel's, written out again: a helper taking the tables would cost
            # two atomic reference counts per array per call), times the weight
            n_fz = 0
            for q in range(fz_lo, fz_hi):
                ke = k - fz_d[q]
                if ke < 0:
                    continue
                ch = fz_ch[q]
                u = uniform(pois_key[b, ch], ke)
                if use_tab:  # else no branch on the count: a zero count adds zero (the table gives 0 below p0)
                    if fz_sparse and u < p0a[bt, seg, ch]:
                        continue
                    t = tab_idx[bt, seg, ch]
                    kk = guide[t, np.int64(u * 256.0)]
                    while kk < n_tab and u >= cdf[t, kk]:
                        kk += 1
                else:
                    pz = p0a[bt, seg, ch]
                    if u < pz:
                        continue
                    lam = lam_a[bt, seg, ch]
                    kk = 1
                    term = pz * lam
                    cdf_sum = pz + term
                    while u >= cdf_sum and kk < kmax:
                        kk += 1
                        term *= lam / kk
                        cdf_sum += term
                wq = np.float64(fz_w[q])
                if wq >= 0:  # the weight's sign, as the product's for any count >= 1
                    Iex[fz_tgt[q]] += wq * np.float64(kk)
                else:
                    Iin[fz_tgt[q]] += wq * np.float64(kk)
                n_fz += kk > 0
            if n_fz:
                n_events[b, 1 + b_lo] += n_fz
            if runs:
                for blk in range(b_lo, b_hi):
                    n_q = q_n[b, blk - o_lo, slot]
                    for e in range(n_q):
                        if e + _AHEAD < n_q:  # a run starts anywhere in the synapse arrays: fetch a few ahead
                            lo = r_lo[b, blk - o_lo, slot, e + _AHEAD]
                            prefetch(targets, lo)
                            if syn_w:
                                prefetch(w_syn, lo)
                        lo = r_lo[b, blk - o_lo, slot, e]
                        hi = lo + r_len[b, blk - o_lo, slot, e]
                        wr = r_w[b, blk - o_lo, slot, e]  # the count of the spike, or the row's weight times it
                        if syn_w:
                            for sy in range(lo, hi):
                                wt = np.float64(w_syn[sy]) * wr
                                if wt >= 0:
                                    Iex[targets[sy]] += wt
                                else:
                                    Iin[targets[sy]] += wt
                        elif wr >= 0:
                            for sy in range(lo, hi):
                                Iex[targets[sy]] += wr
                        else:
                            for sy in range(lo, hi):
                                Iin[targets[sy]] += wr
                    q_n[b, blk - o_lo, slot] = 0
            elif events:
                for blk in range(b_lo, b_hi):
                    for e in range(q_n[b, blk - o_lo, slot]):
                        j = q_tgt[b, blk - o_lo, slot, e]
                        wt = q_w[b, blk - o_lo, slot, e]
                        if wt >= 0:
                            Iex[j] += wt
                        else:
                            Iin[j] += wt
                    q_n[b, blk - o_lo, slot] = 0
            else:  # walk the row segments of the spikes that arrive now (this worker's spike-queue copy)
                for e in range(sq_n[b, c, slot]):
                    pre = sq_pre[b, c, slot, e]
                    m = sq_mult[b, c, slot, e]
                    fm = np.float64(m)
                    lo = row_ptr[pre, lb_lo]  # the owned blocks' segments lie side by side: one walk
                    hi = row_ptr[pre, lb_hi]
                    if syn_w:
                        for sy in range(lo, hi):
                            wt = np.float64(w_syn[sy]) * fm
                            if wt >= 0:
                                Iex[targets[sy]] += wt
                            else:
                                Iin[targets[sy]] += wt
                    else:
                        wt = np.float64(w_row[pre]) * fm
                        if wt >= 0:
                            for sy in range(lo, hi):
                                Iex[targets[sy]] += wt
                        else:
                            for sy in range(lo, hi):
                                Iin[targets[sy]] += wt
                    if has_tm:  # Tsodyks–Markram: the spike left one row delay ago
                        k_sent = k - np.int64(t_drow[pre])
                        h_ms = elapsed_ms(t_last[b, b_lo - o_lo, pre], k_sent, dt)
                        for blk in range(b_lo, b_hi):
                            t_last[b, blk - o_lo, pre] = k_sent
                        for sy in range(t_ptr[pre, lb_lo], t_ptr[pre, lb_hi]):
                            uu, xx, eff = tm_update(t_u[b, sy], t_x[b, sy], t_U[sy], t_rec[sy], t_fac[sy], h_ms, m)
                            t_u[b, sy] = uu
                            t_x[b, sy] = xx
                            wt = np.float64(t_w[sy]) * eff
                            if t_w[sy] >= 0:
                                Iex[t_tg[sy]] += wt
                            else:
                                Iin[t_tg[sy]] += wt
                sq_n[b, c, slot] = 0
            if n_st > 0:
                _sample(b, k, n_lo, n_hi, st_idx, st_var, st_every, st_base, st_out, V, Iex, Iin)
        if status != DONE:
            break
        added = need if events else nsp  # at most this many entries went into any one slot
        for blk in range(b_lo, b_hi):  # the room left in each owned queue, published for the next decision
            room_left = headroom[b, parity, blk] - added  # a lower bound: slots also empty as they are delivered
            if room_left < cap // 2:  # look at the real fill only when the bound says the queue may be filling up
                room_left = cap - _fullest(q_n, sq_n, b, blk - o_lo, c, per_syn)
            headroom[b, 1 - parity, blk] = room_left
        step += Lk
        parity = 1 - parity
    # exit: every worker took the same decisions, so each may report them; the first writes the shared words
    if w == 0:
        t_start[b] = step
        status_all[b] = status
        resume_all[b] = 1 if status == QUEUE_FULL or status == RECORD_FULL or status == EXCHANGE else 0
        parity_all[b] = parity
        ilen_all[b] = Lk
        spk_n_all[b] = spk_n
        cur_cur[b] = cur
    if w == T - 1:
        sg_cur[b] = sg


@njit(cache=True, inline="always")
def _sample(b, k, lo, hi, st_idx, st_var, st_every, st_base, st_out, V, Iex, Iin):
    """F: state samples of neurons in ``[lo, hi)`` after step ``k``, when ``k + 1`` is a multiple of ``st_every``."""
    if (k + 1) % st_every == 0:
        row = (k + 1) // st_every - 1 - st_base
        for q in range(st_idx.size):
            j = st_idx[q]
            if lo <= j < hi:
                var = st_var[q]
                st_out[b, row, q] = V[j] if var == 0 else (Iex[j] if var == 1 else Iin[j])


def _variant(fn, name: str):
    """A copy of ``fn`` under another name. Numba's disk cache keys a kernel by its function's qualified name, not by
    its compile options, so two variants of one function would share an entry."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = name
    copy.__doc__ = fn.__doc__
    return copy


work = njit(cache=True, nogil=True)(_work)


def _trials(t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec):
    """Every trial by one worker that owns every block; trials side by side."""
    for b in prange(ctl.t_start.size):  # plain int64 indices: one compiled _work serves every variant
        work(np.int64(b), np.int64(0), np.int64(1), t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec)


def _blocks(T, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec):
    """Trial after trial, each by ``T`` workers side by side (one per thread: ``T`` must not exceed the threads)."""
    for b in range(ctl.t_start.size):
        for w in prange(T):
            work(np.int64(b), np.int64(w), np.int64(T), t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec)


run_trials_serial = njit(cache=True, nogil=True)(_variant(_trials, "run_trials_serial"))
run_trials_parallel = njit(cache=True, nogil=True, parallel=True)(_variant(_trials, "run_trials_parallel"))
run_blocks_parallel = njit(cache=True, nogil=True, parallel=True)(_blocks)
