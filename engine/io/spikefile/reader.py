"""SpikeFileReader: spikes of a pond or SONATA spike file by population, trial and time window."""
from __future__ import annotations

import json
import math
import os
from typing import Iterator

import h5py
import numpy as np

from engine.io.spikefile._format import (SpikeFileError, _attr_scalar, _attr_str, _check_float, _check_positive_int,
                                      _is_int, _read_sorting, _trial_spikes_path)


def _search_sorted(ds: h5py.Dataset, n: int, value: float, side: str) -> int:
    """``np.searchsorted(ds[:n], value, side)`` for a sorted dataset, reading O(log(n / chunk)) + 1 chunks."""
    if n == 0:
        return 0
    block = ds.chunks[0] if ds.chunks else 65536
    n_blocks = (n + block - 1) // block

    def before(x: float) -> bool:  # True when the answer lies after x's position
        return x < value if side == "left" else x <= value

    # largest b whose first element is "before" value; -1 when none
    lo, hi = 0, n_blocks - 1
    best = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        if before(float(ds[mid * block])):
            best = mid
            lo = mid + 1
        else:
            hi = mid - 1
    if best < 0:
        return 0
    start = best * block
    stop = min(start + block, n)
    return start + int(np.searchsorted(ds[start:stop], value, side=side))


class SpikeFileReader:
    """Read a SONATA spike file (pond's or another tool's) by population, trial and time window.

    Parameters
    ----------
    path : str or os.PathLike
        An HDF5 file with a ``/spikes/<population>/{timestamps,node_ids}`` layout.

    Attributes
    ----------
    path : str
    populations : list of str
        Population names of trial 0.
    n_trials : int
    trial_ids : list of int
        The simulator's trial id of each file trial (``trial_ids`` of the writer; default ``0 .. n_trials - 1``).
    attrs : dict
        Root attributes (metadata), with ``model_json`` decoded under the key ``model``.

    Notes
    -----
    A pond file not marked complete (interrupted, killed or still being written) is read up to the time it states,
    ``t_recorded_ms``, exclusive: every population and trial then covers the same simulated time, whatever was on
    disk past it. A file that a run is still writing (HDF5 lock held) is opened without locking: what the reader
    sees is the state of the last flush. On a ``by_time`` sorted population a time window costs two binary searches
    over chunk starts plus one contiguous read; other sortings are scanned block by block, so memory stays bounded
    by the window, never the whole file.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"spike file {self.path!r} does not exist")
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"spike file {self.path!r} is a directory")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as e:
            if "unable to lock file" not in str(e).lower():  # truncated, not HDF5, ...: h5py says which
                raise SpikeFileError(f"cannot open {self.path!r} as an HDF5 spike file: {e}") from e
            # a run is still writing it: read what has been flushed so far, without the HDF5 file lock
            try:
                self._file = h5py.File(self.path, "r", locking=False)
            except (OSError, TypeError) as e2:
                raise SpikeFileError(f"cannot open {self.path!r}: it is locked by a running writer ({e2})") from e2
        if "spikes" not in self._file or not isinstance(self._file["spikes"], h5py.Group):
            self._file.close()
            raise SpikeFileError(f"{self.path!r} is not a SONATA spike file: it has no /spikes group")
        self.populations = [name for name, g in self._file["spikes"].items() if isinstance(g, h5py.Group)]
        self.n_trials = int(_attr_scalar(self._file.attrs, "n_trials", 1))
        ids = self._file.attrs.get("trial_ids")
        self.trial_ids = [int(k) for k in ids] if ids is not None else list(range(self.n_trials))
        # an incomplete pond file may hold spikes past the time it states (a flush that a kill cut short, or spikes
        # flushed for memory before their time slice ended): every population and trial is shown up to that time
        recorded = _attr_scalar(self._file.attrs, "t_recorded_ms")
        self._t_limit = math.inf if self.complete or recorded is None else float(recorded)

    # ---------------------------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SpikeFileReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def attrs(self) -> dict:
        out = {}
        for k in self._file.attrs:
            if k == "model_json":
                s = _attr_str(self._file.attrs, k)
                try:
                    out["model"] = json.loads(s) if s else None
                except ValueError:
                    out["model"] = s
                continue
            v = self._file.attrs[k]
            if isinstance(v, np.ndarray):
                v = [x.decode() if isinstance(x, bytes) else (x.item() if isinstance(x, np.generic) else x)
                     for x in v.tolist()] if v.dtype.kind in "OSU" else v.tolist()
            elif isinstance(v, np.generic):
                v = v.item()
            elif isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            out[k] = v
        return out

    @property
    def complete(self) -> bool:
        return bool(_attr_scalar(self._file.attrs, "complete", True if "format" not in self._file.attrs else False))

    def _group(self, population: str | None, trial: int) -> tuple[str, h5py.Group]:
        if population is None:
            if len(self.populations) != 1:
                raise ValueError(f"{self.path!r} has populations {self.populations}; choose one with population=")
            population = self.populations[0]
        if not isinstance(population, str):
            raise TypeError(f"population = {population!r} must be a str")
        if not _is_int(trial):
            raise TypeError(f"trial = {trial!r} must be an integer")
        if not 0 <= trial < self.n_trials:
            raise ValueError(f"trial = {trial} is out of range; {self.path!r} has trials 0..{self.n_trials - 1}")
        root = self._file.get(_trial_spikes_path(int(trial)))
        if root is None or population not in root:
            raise ValueError(f"population {population!r} is not in {self.path!r}; it has {self.populations}")
        g = root[population]
        if "timestamps" not in g:
            raise SpikeFileError(f"{self.path!r}: population {population!r} has no timestamps dataset")
        if "node_ids" not in g and "gids" not in g:
            raise SpikeFileError(f"{self.path!r}: population {population!r} has no node_ids dataset")
        return population, g

    def _datasets(self, g: h5py.Group) -> tuple[h5py.Dataset, h5py.Dataset, int]:
        """Timestamps, node ids and the number of rows to read: the shorter dataset's length (a kill may have cut a
        flush between the two), and for a by_time population only the rows before the stated time."""
        ts = g["timestamps"]
        ids = g["node_ids"] if "node_ids" in g else g["gids"]
        if ts.shape[0] != ids.shape[0] and self.complete:
            raise SpikeFileError(f"{self.path!r}: {g.name} has {ts.shape[0]} timestamps but {ids.shape[0]} node ids; "
                                 f"a complete file holds one node id per timestamp (the file is damaged)")
        n = min(ts.shape[0], ids.shape[0])
        limit = self._limit(g)
        if limit < math.inf and _read_sorting(g) == "by_time":
            n = _search_sorted(ts, n, limit, "left")
        return ts, ids, n

    def _checked(self, g: h5py.Group, row: int, t: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(t, ids)``, rows ``row ..`` of group ``g``, once every time is finite and every node id lies in
        ``[0, size)`` (``size`` attribute, when the group has one); else a SpikeFileError naming the first bad row.
        Every read goes through here, so a damaged spike is refused, never dropped or binned silently."""
        bad = ~np.isfinite(t)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise SpikeFileError(f"{self.path!r}: {g.name} row {row + k} has timestamp {t[k]}; the file is damaged")
        size = _attr_scalar(g.attrs, "size")
        bad = (ids < 0) | (ids >= int(size)) if size is not None else ids < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            nodes = "" if size is None else f" (the population has {int(size)} nodes)"
            raise SpikeFileError(f"{self.path!r}: {g.name} row {row + k} has node id {ids[k]}{nodes}; the file is "
                                 f"damaged")
        return t, ids

    def _limit(self, g: h5py.Group) -> float:
        """The time up to which a population group of an incomplete file is shown: the file's stated time, or all
        of it when its trial is marked finished (``complete`` on the trial's spikes group, see
        :meth:`SpikeFileWriter.end_trial`)."""
        if self._t_limit == math.inf or bool(_attr_scalar(g.parent.attrs, "complete", False)):
            return math.inf
        return self._t_limit

    def recorded_trials(self) -> tuple[list[int], float | None]:
        """The trials that rates and statistics are computed over, and the time (ms) every one of them covers.

        - A complete file: every trial, over ``duration_ms``.
        - An incomplete file with trials marked finished (a driver of whole trials such as
          :func:`engine.parallel.distributed.run_trials`, interrupted; see :meth:`SpikeFileWriter.end_trial`): only
          those trials, over ``duration_ms``. The others did not finish (they are empty or cut short) and are left out.
        - An incomplete file without finished trials (every trial run together and interrupted): every trial, up to
          the stated time ``t_recorded_ms``.

        The time is None when the file states none (another tool's file without ``duration_ms``).

        Returns
        -------
        trials : list of int
        recorded_ms : float or None
        """
        attrs = self._file.attrs
        duration = _attr_scalar(attrs, "duration_ms")
        duration = None if duration is None else float(duration)
        finished = self.finished_trials
        if finished:
            return finished, duration
        recorded = _attr_scalar(attrs, "t_recorded_ms", duration)
        return list(range(self.n_trials)), None if recorded is None else float(recorded)

    @property
    def finished_trials(self) -> list[int]:
        """Trials whose whole duration is in the file: every trial of a complete file; of an incomplete one, those
        marked finished (:meth:`SpikeFileWriter.end_trial`)."""
        if self.complete:
            return list(range(self.n_trials))
        roots = [self._file.get(_trial_spikes_path(k)) for k in range(self.n_trials)]
        return [k for k, g in enumerate(roots) if g is not None and bool(_attr_scalar(g.attrs, "complete", False))]

    def size(self, population: str | None = None) -> int:
        """Number of neurons of a population: the ``size`` attribute, else the largest node id + 1."""
        population, g = self._group(population, 0)
        if "size" in g.attrs:
            return int(_attr_scalar(g.attrs, "size"))
        n = 0
        for trial in range(self.n_trials):
            _, gt = self._group(population, trial)
            _, ids, m = self._datasets(gt)
            for s in range(0, m, 1 << 20):
                n = max(n, int(ids[s:min(s + (1 << 20), m)].max()) + 1)
        return n

    def sorting(self, population: str | None = None, trial: int = 0) -> str:
        """``"none"``, ``"by_id"`` or ``"by_time"``, from the enum or a plain string attribute."""
        return _read_sorting(self._group(population, trial)[1])

    @staticmethod
    def _check_window(t_start, t_stop) -> tuple[float, float]:
        a = -math.inf if t_start is None else _check_float("t_start", t_start, positive=False)
        b = math.inf if t_stop is None else _check_float("t_stop", t_stop, positive=False)
        if b < a:
            raise ValueError(f"t_stop = {b} ms is before t_start = {a} ms")
        return a, b

    def iter_blocks(self, population: str | None = None, trial: int = 0, t_start: float | None = None,
                    t_stop: float | None = None, block_rows: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(times_ms, node_ids)`` blocks of at most ``block_rows`` spikes in ``t_start <= t < t_stop``."""
        a, b = self._check_window(t_start, t_stop)
        block_rows = _check_positive_int("block_rows", block_rows)
        _, g = self._group(population, trial)
        ts, ids, n = self._datasets(g)
        if _read_sorting(g) == "by_time":
            i0 = 0 if a == -math.inf else _search_sorted(ts, n, a, "left")
            i1 = n if b == math.inf else _search_sorted(ts, n, b, "left")
            for s in range(i0, i1, block_rows):
                e = min(s + block_rows, i1)
                yield self._checked(g, s, ts[s:e].astype(np.float64, copy=False), ids[s:e].astype(np.int64))
        else:
            b = min(b, self._limit(g))
            for s in range(0, n, block_rows):
                e = min(s + block_rows, n)
                t, i = self._checked(g, s, ts[s:e].astype(np.float64, copy=False), ids[s:e].astype(np.int64))
                if a != -math.inf or b != math.inf:
                    m = (t >= a) & (t < b)
                    t, i = t[m], i[m]
                if t.size:
                    yield t, i

    def count(self, population: str | None = None, trial: int = 0, t_start: float | None = None,
              t_stop: float | None = None) -> int:
        """Number of spikes with ``t_start <= t < t_stop``; two binary searches for a by_time population."""
        a, b = self._check_window(t_start, t_stop)
        _, g = self._group(population, trial)
        ts, _, n = self._datasets(g)
        if _read_sorting(g) == "by_time":
            i0 = 0 if a == -math.inf else _search_sorted(ts, n, a, "left")
            i1 = n if b == math.inf else _search_sorted(ts, n, b, "left")
            return max(i1 - i0, 0)
        return sum(x[0].size for x in self.iter_blocks(population, trial, t_start, t_stop))

    def read(self, population: str | None = None, trial: int = 0, t_start: float | None = None,
             t_stop: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(times_ms, node_ids)`` of the spikes with ``t_start <= t < t_stop`` (float64 ms, int64 local ids)."""
        blocks = list(self.iter_blocks(population, trial, t_start, t_stop))
        if not blocks:
            return np.empty(0, np.float64), np.empty(0, np.int64)
        if len(blocks) == 1:
            return blocks[0]
        return np.concatenate([x[0] for x in blocks]), np.concatenate([x[1] for x in blocks])

    def spike_trains(self, population: str | None = None, trial: int = 0, t_start: float | None = None,
                     t_stop: float | None = None) -> list[np.ndarray]:
        """One sorted array of spike times (ms) per neuron of the population, for the window."""
        population, _ = self._group(population, trial)
        n = self.size(population)
        t, ids = self.read(population, trial, t_start, t_stop)
        if ids.size and int(ids.max()) >= n:
            n = int(ids.max()) + 1
        order = np.lexsort((t, ids))
        t, ids = t[order], ids[order]
        bounds = np.searchsorted(ids, np.arange(n + 1), side="left")
        return [t[bounds[k]:bounds[k + 1]] for k in range(n)]

    def info(self) -> dict:
        """Populations, spike counts, time ranges, mean rates and metadata, from one checked scan of every dataset
        (a non-finite time, a node id outside the population or a complete file's unequal datasets raise a
        SpikeFileError naming the row). Mean rates cover the trials of :meth:`recorded_trials` only:
        the unfinished trials of an interrupted batch would count as silent."""
        attrs = self.attrs
        complete = self.complete
        used, recorded = self.recorded_trials()
        pops = {}
        for name in self.populations:
            size = self.size(name)
            counts, first, last, sorting = [], math.inf, -math.inf, None
            for trial in range(self.n_trials):
                _, g = self._group(name, trial)
                ts, _, n = self._datasets(g)
                sorting = sorting or _read_sorting(g)
                if _read_sorting(g) == "by_time":  # the node ids and every time are checked once, in blocks
                    counts.append(int(n))
                    for blk, _ in self.iter_blocks(name, trial):
                        first, last = min(first, float(blk[0])), max(last, float(blk[-1]))
                else:
                    counts.append(0)
                    for blk, _ in self.iter_blocks(name, trial):
                        counts[-1] += blk.size
                        first, last = min(first, float(blk.min())), max(last, float(blk.max()))
            span = recorded if recorded else (last if last > -math.inf else None)
            total = int(sum(counts))
            n_used = sum(counts[k] for k in used)
            rate = n_used / (len(used) * size * span * 1e-3) if span and size else None
            pops[name] = {
                "size": size,
                "n_spikes": total,
                "n_spikes_per_trial": counts,
                "t_first_ms": None if first == math.inf else first,
                "t_last_ms": None if last == -math.inf else last,
                "mean_rate_hz": rate,
                "sorting": sorting,
            }
        meta = {k: v for k, v in attrs.items() if k not in ("magic", "version")}
        return {
            "path": self.path,
            "complete": complete,
            "n_trials": self.n_trials,
            "n_trials_finished": len(self.finished_trials),
            "trials_used": used,
            "recorded_ms": recorded,
            "populations": pops,
            "n_spikes": sum(p["n_spikes"] for p in pops.values()),
            "metadata": meta,
        }


def read_spikes(path, population: str | None = None, trial: int = 0, t_start: float | None = None,
                t_stop: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spikes of one population and trial with ``t_start <= t < t_stop``, without loading the rest of the file.

    Parameters
    ----------
    path : str or os.PathLike
        SONATA spike file.
    population : str or None, default=None
        Population name; may be omitted when the file holds exactly one.
    trial : int, default=0
        Batch trial, 0 <= trial < n_trials.
    t_start, t_stop : float or None, default=None
        Time window (ms), half-open; None means unbounded.

    Returns
    -------
    times_ms : ndarray of float64, shape (n,)
    node_ids : ndarray of int64, shape (n,)
        Local, 0-based node ids, in file order (time order for files written by pond).
    """
    with SpikeFileReader(path) as r:
        return r.read(population, trial, t_start, t_stop)


def spike_trains(path, population: str | None = None, trial: int = 0, t_start: float | None = None,
                 t_stop: float | None = None) -> list[np.ndarray]:
    """Spike times (ms) per neuron: a list with one sorted float64 array per node id 0..size-1.

    Parameters are those of :func:`read_spikes`.
    """
    with SpikeFileReader(path) as r:
        return r.spike_trains(population, trial, t_start, t_stop)


def file_info(path) -> dict:
    """Summary of a spike file: populations (size, counts per trial, first/last spike, mean rate in Hz, sorting),
    ``complete`` flag, number of trials, ``n_trials_finished``, the trials the rates cover (``trials_used``) and the
    time they cover (``recorded_ms``; see :meth:`SpikeFileReader.recorded_trials`), and metadata (dt_ms,
    duration_ms, seed, pond_version, model, created, ...).
    """
    with SpikeFileReader(path) as r:
        return r.info()
