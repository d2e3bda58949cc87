"""One network over MPI ranks: how the neurons are split, and the spike exchange once per minimum delay.

``Simulator(net, comm=MPI.COMM_WORLD)`` runs one network on every rank of ``comm`` (mpi4py; imported only then).
The network is cut into ``P · T`` target blocks of contiguous neurons (:func:`engine.build.blocks.block_bounds`; ``P``
ranks, ``T`` threads per rank): rank ``r`` owns blocks ``r·T .. (r+1)·T - 1``, i.e. one contiguous run of neurons,
with their Poisson channels and the row segments onto them. Each rank generates every row of every projection
(counter-based streams keyed by projection and synapse index, :mod:`engine.kernels.csr`) but stores only the
synapses onto its own blocks, as NEST's ranks store the synapses onto their own neurons; row pointers and
per-neuron tables stay whole. Initial states and Poisson inputs are keyed by neuron and channel, so a neuron gets
the same numbers whatever rank owns it.

The kernel runs phase 1 of each interval of ``L`` steps (``L`` at most the smallest delay) on the rank's own
blocks, then returns (status ``EXCHANGE``); :class:`SpikeExchange` joins every rank's spike buffers with one
``Allgatherv`` (after an ``Allgather`` of the message sizes) and fills in the other ranks' blocks
(:mod:`engine.kernels.exchange`); the kernel resumes at phase 2. After the exchange every rank holds every spike of
the interval, so every rank records every spike and rate count (the same everywhere); state samples of neurons
another rank owns, the neuron state and the event counts are gathered at the end of each ``run``. Spike files are
written by rank 0 alone, from the spikes it records: the same writer, flushes and crash safety as one process.
Ctrl-C or SIGTERM at any rank stops every rank at the same chunk boundary (the ranks agree on it at each boundary).

Limits: one trial per Simulator (no batch of trials over ranks); at most
:data:`engine.build.blocks.MAX_RANK_BLOCKS` blocks; every rank needs at least one neuron per block.
"""
from __future__ import annotations

import time

import numpy as np

from engine.build.blocks import MAX_RANK_BLOCKS, block_bounds
from engine.kernels.exchange import pack, packed_size, unpack


def check_comm(comm, n_neurons: int, threads: int, trials: int) -> tuple[int, int, int]:
    """The ranks' split of ``n_neurons`` neurons with ``threads`` threads per rank: ``(n_blocks, own_lo, own_hi)``
    of this rank; refuses a ``comm`` that is not an mpi4py communicator, ``trials > 1``, or more blocks than the
    neurons fill (each block needs neurons on every rank)."""
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("Simulator: comm needs mpi4py; install the MPI extra (pip install 'pond[mpi]')") from None
    if not isinstance(comm, MPI.Comm) or comm == MPI.COMM_NULL:
        raise TypeError(f"Simulator: comm = {comm!r} is not allowed; pass an mpi4py communicator such as "
                        f"mpi4py.MPI.COMM_WORLD")
    if isinstance(comm, MPI.Intercomm):
        raise TypeError("Simulator: comm is an mpi4py intercommunicator; pass an intracommunicator such as "
                        "mpi4py.MPI.COMM_WORLD")
    if trials != 1:
        raise ValueError(f"Simulator: trials = {trials} is not allowed with comm; a network split over MPI ranks runs "
                         f"one trial per Simulator (run trials one after another, or over Dask)")
    P = comm.Get_size()
    n_blocks = P * threads
    if n_blocks > MAX_RANK_BLOCKS:
        raise ValueError(f"Simulator: comm has {P} ranks of {threads} thread(s), {n_blocks} target blocks in all; at "
                         f"most {MAX_RANK_BLOCKS} are allowed (use fewer threads per rank or fewer ranks)")
    if not _all_filled(n_neurons, n_blocks):
        fit = max([p for p in range(1, P) if _all_filled(n_neurons, p * threads)] or [0])
        raise ValueError(f"Simulator: comm has {P} ranks of {threads} thread(s) but the network has only "
                         f"{n_neurons} neurons; each rank's {threads} block(s) of 64 neurons or more must hold "
                         f"neurons, so at most {fit} ranks fit (use fewer ranks, or fewer threads per rank: n_jobs)")
    r = comm.Get_rank()
    return n_blocks, r * threads, (r + 1) * threads


def _all_filled(n_neurons: int, n_blocks: int) -> bool:
    lo, hi = block_bounds(n_neurons, n_blocks)
    return bool(np.all(hi > lo))


class SpikeExchange:
    """The exchange of one interval's spike buffers between every rank of ``comm``, for this rank's blocks
    ``own_lo`` to ``own_hi - 1`` (see the module docstring). ``bytes_sent`` counts this rank's message bytes,
    ``bytes_received`` the joined messages' bytes, ``calls`` the exchanges, ``seconds`` their wall time and
    ``collective_seconds`` the part spent in the two collectives (transfer, and waiting for the slowest rank)."""

    def __init__(self, comm, own_lo: int, own_hi: int):
        from mpi4py import MPI

        self.comm = comm
        self._int32 = MPI.INT32_T
        self.own_lo, self.own_hi = int(own_lo), int(own_hi)
        self._sizes = np.zeros(comm.Get_size(), dtype=np.int64)
        self._send = np.zeros(1024, dtype=np.int32)
        self._recv = np.zeros(1024, dtype=np.int32)
        self.bytes_sent = 0
        self.bytes_received = 0
        self.calls = 0
        self.seconds = 0.0
        self.collective_seconds = 0.0

    def __call__(self, parity: int, Lk: int, buf, row_ptr, t_ptr, rec_mask, D: int, runs: bool) -> None:
        """Exchange trial 0's buffers of parity ``parity`` (``Lk`` steps filled) and count the other ranks'
        blocks with this rank's row segments ``row_ptr`` (static) and ``t_ptr`` (dynamic)."""
        t0 = time.perf_counter()
        n = int(packed_size(0, parity, self.own_lo, self.own_hi, Lk, buf.ends))
        if self._send.size < n:
            self._send = np.zeros(2 * n, dtype=np.int32)
        pack(0, parity, self.own_lo, self.own_hi, Lk, buf.ids, buf.mult, buf.ends, self._send)
        t1 = time.perf_counter()
        self.comm.Allgather(np.array([n], dtype=np.int64), self._sizes)
        total = int(self._sizes.sum())
        if self._recv.size < total:
            self._recv = np.zeros(2 * total, dtype=np.int32)
        displs = np.concatenate([[0], np.cumsum(self._sizes)[:-1]])
        self.comm.Allgatherv([self._send[:n], self._int32], [self._recv, (self._sizes, displs), self._int32])
        self.collective_seconds += time.perf_counter() - t1
        unpack(0, parity, self.own_lo, self.own_hi, Lk, self._recv, buf.ids, buf.mult, buf.ends, row_ptr, t_ptr,
               rec_mask, D, runs, buf.need, buf.nrec, buf.nsp, buf.headroom)
        self.bytes_sent += 4 * n
        self.bytes_received += 4 * total
        self.calls += 1
        self.seconds += time.perf_counter() - t0

    def allreduce_sum(self, value: int) -> int:
        return int(self.comm.allreduce(int(value)))

    def gather_columns(self, record: np.ndarray, owned: np.ndarray) -> np.ndarray:
        """``record[..., q]`` from the rank that owns column ``q`` (``owned[q]`` true on that rank alone), on every
        rank."""
        parts = self.comm.allgather((record[..., owned], owned))
        out = record.copy()
        for values, cols in parts:
            out[..., cols] = values
        return out

    def gather_neurons(self, arrays: list, n_lo: int, n_hi: int) -> None:
        """Fill every array's neurons outside ``n_lo .. n_hi - 1`` (last axis) from the ranks that own them."""
        for arr in arrays:
            for lo, hi, values in self.comm.allgather((n_lo, n_hi, arr[..., n_lo:n_hi])):
                arr[..., lo:hi] = values
