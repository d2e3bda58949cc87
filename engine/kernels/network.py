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
     ``(k + delay) mod D`` (its row segment is walked when it arrives); with per-synapse delays its row segment is
     walked now and ``(target, weight)`` events go into the event queue; Tsodyks–Markram synapses update ``u``, ``x``
     as their spikes are walked;
  C. the first worker records the spikes and rate counts;
  E, F for the interval's last step.

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

from engine.kernels.neurons import update_range
from engine.kernels.rng import uniform
from engine.kernels.synapses import add_static, add_tm, push_static, push_tm
from engine.kernels.sync import barrier

Neurons = namedtuple("Neurons", "pop_lo pop_hi model use_iext par ref_steps blk_lo blk_hi")
State = namedtuple("State", "V Iex Iin ref Iext flags")
Conn = namedtuple("Conn", "row_ptr targets w_syn w_row d_syn d_row")
Stp = namedtuple("Stp", "row_ptr targets w d_syn d_row U tau_rec tau_fac u x last")
Inputs = namedtuple("Inputs", "pois_pre0 pois_key seg_step p0 lam kmax cdf tab_idx sg_pre sg_step sg_ptr sg_cur "
                              "cur_step cur_idx cur_val cur_cur cur_end")
Queues = namedtuple("Queues", "q_tgt q_w q_n sq_pre sq_mult sq_n")
Buffers = namedtuple("Buffers", "ids mult ends need nrec nsp headroom")
Records = namedtuple("Records", "rec_mask spk_step spk_id spk_n n_events rate_col rate_base rate_counts "
                                "st_idx st_var st_every st_base st_out")
Control = namedtuple("Control", "t_start status resume parity ilen bar dt")

# values of the per-trial status word returned to the driver
DONE = 0
RECORD_FULL = 1
QUEUE_FULL = 2
STALLED = 3  # a worker of a block-parallel run never reached the barrier (too few threads)

_NEURONS, _POISSON, _GENERATORS = 0, 1, 2  # sections of a block's spike buffer, in delivery order


@njit(cache=True, inline="always")
def _fullest(q, b, blk, c, per_syn):
    """Entries in the fullest slot of the queue in use: block ``blk``'s event queue, or spike-queue copy ``c``."""
    best = 0
    if per_syn:
        for s in range(q.q_n.shape[2]):
            best = max(best, q.q_n[b, blk, s])
    else:
        for s in range(q.sq_n.shape[2]):
            best = max(best, q.sq_n[b, c, s])
    return best


@njit(cache=True, inline="always")
def _deliver(b, b_lo, b_hi, c, k, D, dt, conn, stp, q, st, per_syn):
    """E: apply the events due at step ``k`` to the targets of blocks ``b_lo .. b_hi - 1``, in the order they were
    queued: from each block's event queue, or by walking the block segments of the spikes in spike-queue copy
    ``c`` (one copy per worker: the spikes are few, and no worker reads a slot another one is filling)."""
    slot = k % D
    Iex = st.Iex[b]
    Iin = st.Iin[b]
    if per_syn:
        for blk in range(b_lo, b_hi):
            for e in range(q.q_n[b, blk, slot]):
                j = q.q_tgt[b, blk, slot, e]
                w = q.q_w[b, blk, slot, e]
                if w >= 0:
                    Iex[j] += w
                else:
                    Iin[j] += w
            q.q_n[b, blk, slot] = 0
    else:
        for e in range(q.sq_n[b, c, slot]):
            pre = q.sq_pre[b, c, slot, e]
            mult = q.sq_mult[b, c, slot, e]
            for blk in range(b_lo, b_hi):
                add_static(conn, Iex, Iin, pre, blk, mult)
                if stp.targets.size > 0:
                    add_tm(stp, Iex, Iin, b, pre, blk, mult, k - np.int64(stp.d_row[pre]), dt)
        q.sq_n[b, c, slot] = 0


@njit(cache=True, inline="always")
def _sample(b, k, lo, hi, st, rec):
    """F: state samples of neurons in ``[lo, hi)`` after step ``k``, when ``k + 1`` is a multiple of ``st_every``."""
    if rec.st_idx.size > 0 and (k + 1) % rec.st_every == 0:
        row = (k + 1) // rec.st_every - 1 - rec.st_base
        for c in range(rec.st_idx.size):
            j = rec.st_idx[c]
            if lo <= j < hi:
                var = rec.st_var[c]
                rec.st_out[b, row, c] = st.V[b, j] if var == 0 else (st.Iex[b, j] if var == 1 else st.Iin[b, j])


@njit(cache=True, inline="always")
def _collect(b, blk, lo, hi, k, st, inp, buf, par, n, seg, ch_lo, ch_hi, rates_per_trial, gen, sg):
    """A3–A5: the spikes of block ``blk`` in step ``k`` appended to its buffer from position ``n``: neurons in index
    order, then its Poisson channels, then (``gen``: the last block) the spike generators' events. Returns the new
    end, the generator cursor and the buffer position after each section (through ``buf.ends``)."""
    flags = st.flags[b]
    words = flags.view(np.uint64)
    ids = buf.ids[b, par, blk]
    mult = buf.mult[b, par, blk]
    for blk64 in range(lo // 64, (hi + 63) // 64 if hi > lo else 0):  # 64 flags (8 words) at a time
        w0 = blk64 * 8
        if (words[w0] | words[w0 + 1] | words[w0 + 2] | words[w0 + 3] | words[w0 + 4] | words[w0 + 5]
                | words[w0 + 6] | words[w0 + 7]) == 0:
            continue
        for w in range(w0, w0 + 8):
            if words[w] != 0:
                for i in range(w * 8, w * 8 + 8):
                    if flags[i]:
                        ids[n] = i
                        mult[n] = 1
                        n += 1
    e_neurons = n
    if ch_hi > ch_lo:
        bt = b * rates_per_trial  # this trial's rates, or row 0 when all trials share them
        use_tab = inp.cdf.shape[0] > 0
        for ch in range(ch_lo, ch_hi):
            u = uniform(inp.pois_key[b, ch], k)
            p0 = inp.p0[bt, seg, ch]
            if u < p0:
                continue
            if use_tab:  # k = #{j : P(K <= j) <= u}, branch-free over the tabulated CDF
                row = inp.cdf[inp.tab_idx[bt, seg, ch]]
                kk = 0
                for j in range(row.size):
                    kk += u >= row[j]
            else:  # sum the probabilities until they pass u
                lam = inp.lam[bt, seg, ch]
                kk = 1
                term = p0 * lam
                cdf = p0 + term
                while u >= cdf and kk < inp.kmax:
                    kk += 1
                    term *= lam / kk
                    cdf += term
            ids[n] = inp.pois_pre0 + ch
            mult[n] = kk
            n += 1
    e_poisson = n
    if gen:
        g_end = inp.sg_ptr[b + 1]
        while sg < g_end and inp.sg_step[sg] <= k:
            if inp.sg_step[sg] == k:
                ids[n] = inp.sg_pre[sg]
                mult[n] = 1
                n += 1
            sg += 1
    return e_neurons, e_poisson, n, sg


def _work(b, w, T, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec):
    """Advance trial ``b`` towards ``t_end`` as worker ``w`` of ``T`` (see the module docstring)."""
    b = np.int64(b)  # prange indices may be unsigned; mixed with signed ints they would become floats
    w = np.int64(w)
    T = np.int64(T)
    NB = nrn.blk_lo.size
    b_lo = w * NB // T
    b_hi = (w + 1) * NB // T
    per_syn = q.q_tgt.shape[3] > 0
    D = q.q_n.shape[2] if per_syn else q.sq_n.shape[2]
    cap = q.q_tgt.shape[3] if per_syn else q.sq_pre.shape[3]
    rec_cap = rec.spk_step.shape[1]
    n_pois = inp.pois_key.shape[1]
    n_seg = inp.seg_step.size
    rates_per_trial = np.int64(inp.p0.shape[0] > 1)
    has_tm = stp.targets.size > 0
    dt = ctl.dt
    bar = ctl.bar[b]
    step = ctl.t_start[b]
    resuming = ctl.resume[b] != 0
    parity = ctl.parity[b] if resuming else 0
    Lk = ctl.ilen[b] if resuming else 0
    cur = inp.cur_cur[b]
    sg = inp.sg_cur[b]
    spk_n = rec.spk_n[b]
    # entry: publish every owned block's exact room in its queue, for the first decision
    c = w if q.sq_n.shape[1] > 1 else 0  # this worker's spike-queue copy
    for blk in range(b_lo, b_hi):
        buf.headroom[b, parity, blk] = cap - _fullest(q, b, blk, c, per_syn)
    status = DONE
    if not barrier(bar, T):
        status = STALLED
    seg = 0
    while status == DONE:
        if not resuming:
            if step >= t_end:
                break
            Lk = min(L, t_end - step)
            # ---------------------------------------------------------------- phase 1: own blocks
            for blk in range(b_lo, b_hi):
                buf.need[b, parity, blk] = 0
                buf.nrec[b, parity, blk] = 0
                buf.nsp[b, parity, blk] = 0
            for i in range(Lk):
                k = step + i
                # A1. current-injection events due now (every worker scans them all, applies its own)
                while cur < inp.cur_end[b] and inp.cur_step[cur] <= k:
                    j = inp.cur_idx[cur]
                    if nrn.blk_lo[b_lo] <= j < nrn.blk_hi[b_hi - 1]:
                        st.Iext[b, j] = inp.cur_val[cur]
                    cur += 1
                # A2. neuron update
                update_range(nrn, st.V[b], st.Iex[b], st.Iin[b], st.ref[b], st.Iext[b], st.flags[b],
                             nrn.blk_lo[b_lo], nrn.blk_hi[b_hi - 1])
                while seg + 1 < n_seg and inp.seg_step[seg + 1] <= k:
                    seg += 1
                # A3-A5. spikes of each owned block
                for blk in range(b_lo, b_hi):
                    n0 = 0 if i == 0 else buf.ends[b, parity, blk, i - 1, _GENERATORS]
                    e1, e2, e3, sg = _collect(b, blk, nrn.blk_lo[blk], nrn.blk_hi[blk], k, st, inp, buf, parity, n0,
                                              seg, n_pois * blk // NB, n_pois * (blk + 1) // NB, rates_per_trial,
                                              blk == NB - 1, sg)
                    buf.ends[b, parity, blk, i, _NEURONS] = e1
                    buf.ends[b, parity, blk, i, _POISSON] = e2
                    buf.ends[b, parity, blk, i, _GENERATORS] = e3
                    need = 0
                    nrec = 0
                    for e in range(n0, e3):
                        pre = buf.ids[b, parity, blk, e]
                        need += conn.row_ptr[pre, NB] - conn.row_ptr[pre, 0]
                        if has_tm:
                            need += stp.row_ptr[pre, NB] - stp.row_ptr[pre, 0]
                        if rec.rec_mask[pre]:
                            nrec += buf.mult[b, parity, blk, e]
                    buf.need[b, parity, blk] += need
                    buf.nrec[b, parity, blk] += nrec
                    buf.nsp[b, parity, blk] += e3 - n0
                if i < Lk - 1:  # events due at k were all queued in earlier intervals
                    _deliver(b, b_lo, b_hi, c, k, D, dt, conn, stp, q, st, per_syn)
                    _sample(b, k, nrn.blk_lo[b_lo], nrn.blk_hi[b_hi - 1], st, rec)
            if not barrier(bar, T):
                status = STALLED
                break
        resuming = False
        # -------------------------------------------------------------------- phase 2: decision (same everywhere)
        need = 0
        nsp = 0
        nrec = 0
        room = cap
        for blk in range(NB):
            need += buf.need[b, parity, blk]
            nsp += buf.nsp[b, parity, blk]
            nrec += buf.nrec[b, parity, blk]
            room = min(room, buf.headroom[b, parity, blk])
        if (need if per_syn else nsp) > room:
            status = QUEUE_FULL
            break
        if spk_n + nrec > rec_cap:
            status = RECORD_FULL
            break
        # D. queue every spike of the interval for the owned blocks, in global order
        for i in range(Lk):
            k = step + i
            slot = k % D
            for sec in range(3):
                for src in range(NB):
                    lo = 0 if sec == 0 and i == 0 else (buf.ends[b, parity, src, i, sec - 1] if sec > 0
                                                        else buf.ends[b, parity, src, i - 1, _GENERATORS])
                    hi = buf.ends[b, parity, src, i, sec]
                    for e in range(lo, hi):
                        pre = buf.ids[b, parity, src, e]
                        m = buf.mult[b, parity, src, e]
                        if per_syn:
                            for blk in range(b_lo, b_hi):
                                push_static(conn, q, b, blk, pre, m, slot, D)
                                if has_tm:
                                    push_tm(stp, q, b, blk, pre, m, slot, D, k, dt)
                        else:
                            d_slot = slot + np.int64(conn.d_row[pre])
                            if d_slot >= D:
                                d_slot -= D
                            ee = q.sq_n[b, c, d_slot]
                            q.sq_pre[b, c, d_slot, ee] = pre
                            q.sq_mult[b, c, d_slot, ee] = m
                            q.sq_n[b, c, d_slot] = ee + 1
                        if w == 0:  # C. record (one worker)
                            if rec.rec_mask[pre]:
                                for _ in range(m):
                                    rec.spk_step[b, spk_n] = k
                                    rec.spk_id[b, spk_n] = pre
                                    spk_n += 1
                            col = rec.rate_col[pre]
                            if col >= 0:
                                rec.rate_counts[b, k - rec.rate_base, col] += m
        if w != 0:
            spk_n += nrec
        else:
            rec.n_events[b] += need
        k_last = step + Lk - 1
        _deliver(b, b_lo, b_hi, c, k_last, D, dt, conn, stp, q, st, per_syn)
        for blk in range(b_lo, b_hi):
            buf.headroom[b, 1 - parity, blk] = cap - _fullest(q, b, blk, c, per_syn)
        _sample(b, k_last, nrn.blk_lo[b_lo], nrn.blk_hi[b_hi - 1], st, rec)
        step += Lk
        parity = 1 - parity
    # exit: every worker took the same decisions, so each may report them; the first writes the shared words
    if w == 0:
        ctl.t_start[b] = step
        ctl.status[b] = status
        ctl.resume[b] = 1 if status == QUEUE_FULL or status == RECORD_FULL else 0
        ctl.parity[b] = parity
        ctl.ilen[b] = Lk
        rec.spk_n[b] = spk_n
        inp.cur_cur[b] = cur
    if w == T - 1:
        inp.sg_cur[b] = sg


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
    for b in prange(ctl.t_start.size):
        work(b, 0, 1, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec)


def _blocks(T, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec):
    """Trial after trial, each by ``T`` workers side by side (one per thread: ``T`` must not exceed the threads)."""
    for b in range(ctl.t_start.size):
        for w in prange(T):
            work(b, w, T, t_end, L, ctl, nrn, st, conn, stp, inp, q, buf, rec)


run_trials_serial = njit(cache=True, nogil=True)(_variant(_trials, "run_trials_serial"))
run_trials_parallel = njit(cache=True, nogil=True, parallel=True)(_variant(_trials, "run_trials_parallel"))
run_blocks_parallel = njit(cache=True, nogil=True, parallel=True)(_blocks)
