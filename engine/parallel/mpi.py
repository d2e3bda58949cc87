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

Every rank must describe the same network: before building, the ranks compare a digest of every part of it (dt,
seed, each population, source, current, projection and monitor, field by field) and of the Simulator's settings
(trials, threads, chunk_ms), and all refuse together with a ValueError that names the first part that differs and
each rank's value (:func:`check_same_network`); ranks that built different networks would otherwise crash in the
exchange or simulate a mixture of the descriptions.

Limits: one trial per Simulator (no batch of trials over ranks); at most
:data:`engine.build.blocks.MAX_RANK_BLOCKS` blocks; every rank needs at least one neuron per block.
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

import numpy as np

from engine.build.blocks import MAX_RANK_BLOCKS, block_bounds
from engine.kernels.exchange import pack, packed_size, unpack


def check_comm(comm, n_neurons: int, threads: int, trials: int, *, network=None,
               settings: dict | None = None) -> tuple[int, int, int]:
    """The ranks' split of ``n_neurons`` neurons with ``threads`` threads per rank: ``(n_blocks, own_lo, own_hi)``
    of this rank; refuses a ``comm`` that is not an mpi4py communicator, ranks given different networks or
    settings (``network`` and ``settings``, compared by :func:`check_same_network` before anything else may differ
    between ranks), ``trials > 1``, or more blocks than the neurons fill (each block needs neurons on every
    rank)."""
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
    if network is not None:
        check_same_network(comm, network, {"trials": trials, "threads per rank (n_jobs)": threads,
                                           **(settings or {})})
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
        if fit:
            hint = f"at most {fit} ranks fit (use fewer ranks, or fewer threads per rank: n_jobs)"
        else:
            per_rank = max([t for t in range(1, threads) if _all_filled(n_neurons, P * t)] or [0])
            hint = (f"not even one rank of {threads} thread(s) fits; with {P} ranks at most {per_rank} thread(s) per "
                    f"rank fit (n_jobs = {per_rank})" if per_rank else
                    f"not even one thread per rank fits with {P} ranks (use fewer ranks)")
        raise ValueError(f"Simulator: comm has {P} ranks of {threads} thread(s) but the network has only "
                         f"{n_neurons} neurons; each rank's {threads} block(s) of 64 neurons or more must hold "
                         f"neurons, so {hint}")
    r = comm.Get_rank()
    return n_blocks, r * threads, (r + 1) * threads


def check_same_network(comm, network, settings: dict) -> None:
    """Refuse, on every rank of ``comm`` alike, ranks that describe different networks or settings.

    Each rank lists the parts of ``network`` (dt, seed, the names of its populations, sources, currents,
    projections and monitors, then each of those objects field by field) and the ``settings`` (name -> value), each
    with a SHA-256 digest of its value (arrays by dtype, shape and bytes), and the lists are gathered on every rank
    (one ``allgather`` of a few kilobytes). Where they differ, the ValueError names the first part that differs and
    the value on each rank, e.g. ``population 'n' size: rank 0 has 1000, rank 1 has 1100``."""
    mine = _network_parts(network) + [(f"Simulator {k}", _digest(v), _short(v)) for k, v in settings.items()]
    ranks = comm.allgather(mine)
    if all(r == ranks[0] for r in ranks[1:]):
        return
    for i in range(max(len(r) for r in ranks)):
        entries = [r[i] if i < len(r) else ("(nothing)", "", "(nothing)") for r in ranks]
        if len({e[:2] for e in entries}) > 1:
            break
    what = entries[0][0] if len({e[0] for e in entries}) == 1 else " / ".join(dict.fromkeys(e[0] for e in entries))
    groups: dict[tuple, list[int]] = {}
    for rank, e in enumerate(entries):
        groups.setdefault(e[1:], []).append(rank)
    values = ", ".join(f"{_ranks_text(rs)} {'has' if len(rs) == 1 else 'have'} {value}"
                       for (_, value), rs in list(groups.items())[:4])
    raise ValueError(f"Simulator: the ranks of comm were given different networks or settings ({what}: {values}); "
                     f"every rank must create the Simulator with the same network (populations, connections, seed, "
                     f"dt) and the same trials, n_jobs and chunk_ms: build it from the same code and parameters, "
                     f"with nothing that depends on the rank")


def _ranks_text(ranks: list[int]) -> str:
    if len(ranks) == 1:
        return f"rank {ranks[0]}"
    return f"ranks {ranks[:6]}"[:-1] + (", ...]" if len(ranks) > 6 else "]")


def _network_parts(net) -> list[tuple[str, str, str]]:
    """``(part, digest, short text)`` of every part of ``net`` that the ranks must agree on, in a fixed order."""
    parts = [("network dt", _digest(net.dt), _short(net.dt)), ("network seed", _digest(net.seed), _short(net.seed))]
    for kind in ("populations", "sources", "currents", "projections", "monitors"):
        objects = list(getattr(net, kind))
        labels = [_label(obj, k) for k, obj in enumerate(objects)]
        parts.append((f"network {kind}", _digest(labels), _short(labels)))
        for label, obj in zip(labels, objects):
            fields = _fields(obj)
            if fields is None:
                parts.append((label, _digest(obj), _short(obj)))
                continue
            for name, value in fields.items():
                parts.append((f"{label} {name}", _digest(value), _short(value)))
    return parts


def _label(obj: Any, k: int) -> str:
    kind = type(obj).__name__
    name = getattr(obj, "name", None) or getattr(obj, "source", None) or getattr(obj, "target", None)
    if kind == "Projection" and not getattr(obj, "name", None):
        name = f"{obj.source} -> {obj.target}"
    return f"{kind} #{k} {name!r}" if name is not None else f"{kind} #{k}"


def _fields(obj: Any) -> dict | None:
    """The named values that make up a description object, or None for a leaf value."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    getstate = getattr(type(obj), "__getstate__", None)
    if getstate is not None and getstate is not getattr(object, "__getstate__", None):
        state = obj.__getstate__()
        if isinstance(state, dict):
            return state
    if hasattr(obj, "__dict__") and not isinstance(obj, (type, np.ndarray)):
        return dict(vars(obj))
    return None


def _encode(value: Any, h, depth: int = 0) -> None:
    """Feed a canonical encoding of ``value`` to the hash ``h``: type names, lengths, array bytes."""
    if depth > 20:
        raise ValueError("Simulator: the network holds values nested too deeply to compare between ranks")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        arr = np.ascontiguousarray(value)
        h.update(f"ndarray:{arr.dtype.str}:{arr.shape};".encode())
        h.update(arr.tobytes() if arr.dtype != object else repr(arr.tolist()).encode())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}[{len(value)}];".encode())
        for v in value:
            _encode(v, h, depth + 1)
    elif isinstance(value, dict):
        h.update(f"dict[{len(value)}];".encode())
        for k in sorted(value, key=repr):
            _encode(k, h, depth + 1)
            _encode(value[k], h, depth + 1)
    else:
        fields = _fields(value)
        h.update(f"{type(value).__module__}.{type(value).__qualname__};".encode())
        if fields is None:
            h.update(repr(value).encode())
        else:
            _encode(fields, h, depth + 1)


def _digest(value: Any) -> str:
    h = hashlib.sha256()
    _encode(value, h)
    return h.hexdigest()


def _short(value: Any) -> str:
    """A short text of ``value`` for the error message (arrays by shape and digest unless tiny)."""
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"an array of shape {value.shape} ({value.dtype}, digest {_digest(value)[:12]})"
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 120 else f"{text[:100]}... (digest {_digest(value)[:12]})"


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
