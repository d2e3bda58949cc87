"""Streaming spike files: SONATA spike-report layout in HDF5, written while a simulation runs, read by time window.

Layout
------
::

    /                                    attrs: magic=0x0A7A, version=[0, 1]      (SONATA file markers)
                                                format="pond-spikes", format_version=1, pond_version,
                                                dt_ms, duration_ms, seed (absent when None), n_trials,
                                                model_json, population_names, population_sizes,
                                                created (ISO 8601, UTC), t_recorded_ms, complete, **extra_attrs
    /spikes/<population>/                attrs: sorting (HDF5 enum none=0/by_id=1/by_time=2), size,
                                                n_spikes (written at close; readers use the dataset length)
    /spikes/<population>/timestamps      float64 [n], attrs: units="ms"    (chunked, resizable, compressed)
    /spikes/<population>/node_ids        uint64  [n], node ids local to the population, 0-based
    /trials/<k>/spikes/<population>/...  the same layout for batch trial k >= 1

**Trials.** Trial 0 is stored at the standard SONATA place ``/spikes/<population>``, so any SONATA reader
(libsonata, bmtk) opens a single-trial file, and trial 0 of a batch file, as an ordinary spike report. Trial ``k >= 1``
of a batch run gets its own group ``/trials/<k>/spikes/<population>`` with exactly the same datasets and attributes.
One group per trial (rather than a trial-index dataset) keeps every trial sorted by time on its own, so a time window
of one trial is two binary searches and one contiguous read, and the trials never interleave in the standard datasets.

**Streaming and durability.** :class:`SpikeFileWriter` keeps the spikes handed to :meth:`SpikeFileWriter.write` in
memory and touches the HDF5 file only in :meth:`SpikeFileWriter.flush`, which appends every buffer to the datasets and
then flushes the file to disk. A flush happens at most ``flush_interval_s`` of wall time after the previous one (checked
on every ``write`` and ``advance``), or earlier when the buffers hold more than about a million spikes; the HDF5
chunk caches of all datasets share a fixed budget, so memory stays bounded however long the run or many the trials. Since
the file is only modified inside a flush, a process killed outright (SIGKILL) leaves a file h5py opens, holding every
spike up to the last flush. The root attribute ``complete`` is written ``False`` when the file is created and set to
``True`` only by ``close(complete=True)``; an interrupted run (``close(complete=False)``, Ctrl-C inside a ``with``
block) still writes all buffered spikes. Readers trust the dataset lengths and use the shorter of ``timestamps`` and
``node_ids`` if a kill hit the middle of a flush.

Units: times in ms, rates in Hz.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import time
import warnings
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from typing import Any, Iterator

import h5py
import numpy as np

from engine._version import pond_version

__all__ = [
    "SORTING_DTYPE",
    "SpikeFileError",
    "SpikeFileWriter",
    "SpikeFileReader",
    "read_spikes",
    "spike_trains",
    "file_info",
]

#: HDF5 enum type of the ``sorting`` attribute, as libsonata writes and reads it (``enum class Sorting : char``).
SORTING_DTYPE = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="i1")
_SORTING_CODES = {"none": 0, "by_id": 1, "by_time": 2}
_SORTING_ALIASES = {
    "none": "none", "": "none", "unsorted": "none",
    "by_id": "by_id", "id": "by_id", "by_gid": "by_id", "gid": "by_id", "by_node_id": "by_id",
    "by_time": "by_time", "time": "by_time",
}
FORMAT = "pond-spikes"
FORMAT_VERSION = 1
SONATA_MAGIC = 0x0A7A
_RESERVED_ATTRS = frozenset({
    "magic", "version", "format", "format_version", "pond_version", "dt_ms", "duration_ms", "seed", "n_trials",
    "model_json", "population_names", "population_sizes", "created", "t_recorded_ms", "complete", "closed",
})
_COMPRESSIONS = (None, "gzip", "lzf")
#: Buffered spikes (all populations and trials together) above which a flush is forced before the interval ends.
_MAX_BUFFER_ROWS = 1 << 20
#: Files whose HDF5 write failed. HDF5 can crash when such a file's objects are released, so they are kept alive.
_FAILED_FILES: list = []
#: Sum of the chunk lengths of all (population, trial) datasets of a file; chunk_rows is lowered to fit, down to
#: _MIN_SHARED_CHUNK_ROWS, so a flush of a 1000-trial batch does not compress 1000 mostly empty 64k-row chunks.
_CHUNK_ROWS_BUDGET = 1 << 22
_MIN_SHARED_CHUNK_ROWS = 1024
#: HDF5 chunk-cache budget of a writer, shared by all its datasets (many batch trials must not multiply memory).
_CHUNK_CACHE_BYTES = 256 * 1024 * 1024
#: Room kept free for HDF5 metadata (chunk index, attributes) on top of the raw bytes of a flush.
_METADATA_MARGIN_BYTES = 256 * 1024


class SpikeFileError(OSError):
    """A spike file could not be created, written or read (unwritable path, full disk, not a spike file)."""


# ---------------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------------
def _trial_spikes_path(trial: int) -> str:
    return "/spikes" if trial == 0 else f"/trials/{trial}/spikes"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _is_int(x: Any) -> bool:
    return isinstance(x, (numbers.Integral, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} = {value!r} must be an integer")
    if value < minimum:
        raise ValueError(f"{name} = {value!r} is not allowed; it must be >= {minimum}")
    return int(value)


def _check_float(name: str, value: Any, *, positive: bool, allow_zero: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} = {value!r} must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} = {v} is not allowed; it must be finite")
    if positive and (v < 0 or (v == 0 and not allow_zero)):
        raise ValueError(f"{name} = {v} is not allowed; it must be {'>= 0' if allow_zero else '> 0'}")
    return v


def _normalise_sorting(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.size == 1 else value.tolist()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return _SORTING_ALIASES.get(value.strip().lower(), "none")
    if _is_int(value):
        inv = {v: k for k, v in _SORTING_CODES.items()}
        return inv.get(int(value), "none")
    return "none"


def _read_sorting(group: h5py.Group) -> str:
    """``sorting`` attribute of a population group, from the libsonata enum, a plain string or an integer."""
    if "sorting" not in group.attrs:
        return "none"
    value = group.attrs["sorting"]
    mapping = h5py.check_enum_dtype(group.attrs.get_id("sorting").dtype)
    if mapping:
        inv = {int(v): k for k, v in mapping.items()}
        name = inv.get(int(np.asarray(value).ravel()[0]), "none")
        return _SORTING_ALIASES.get(name.lower(), "none")
    return _normalise_sorting(value)


def _attr_str(attrs: h5py.AttributeManager, name: str, default: str | None = None) -> str | None:
    if name not in attrs:
        return default
    v = attrs[name]
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _attr_scalar(attrs: h5py.AttributeManager, name: str, default: Any = None) -> Any:
    if name not in attrs:
        return default
    v = attrs[name]
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.ravel()[0]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return v


# ---------------------------------------------------------------------------------------------------------------------
# writer
# ---------------------------------------------------------------------------------------------------------------------
class SpikeFileWriter:
    """Stream spikes to an HDF5 file in SONATA spike-report layout while a simulation runs.

    Parameters
    ----------
    path : str or os.PathLike
        File to create. An existing path raises :class:`FileExistsError` unless ``overwrite=True``.
    populations : dict of str to int
        Population name -> number of neurons (>= 1). Names are non-empty and contain no ``/``.
    n_trials : int, default=1
        Number of independent batch trials (>= 1). Trial 0 goes to ``/spikes``, trial k to ``/trials/<k>/spikes``.
    dt_ms : float
        Integration time step (ms), > 0. Stored as an attribute.
    duration_ms : float
        Simulated duration (ms), > 0. Stored as an attribute.
    seed : int or None
        Seed of the run, stored unchanged (the attribute is absent when ``None``).
    model : dict or None, default=None
        Model description, stored as JSON (numpy scalars and arrays, dataclasses and paths are converted).
    overwrite : bool, default=False
        Replace an existing file.
    flush_interval_s : float, default=1.0
        Longest wall time (s), >= 0, between two flushes to disk while ``write`` is being called. 0 flushes on
        every write. A SIGKILLed run loses at most the spikes written since the last flush.
    compression : {"gzip", "lzf", None}, default="gzip"
        Dataset compression filter.
    chunk_rows : int, default=65536
        HDF5 chunk length (spikes), >= 1. An upper bound: with many populations x trials it is lowered so that the
        chunks of all datasets together hold at most 4 194 304 spikes (but not below 1024); see ``chunk_rows``
        attribute for the value used.
    extra_attrs : dict or None, default=None
        More root attributes (str keys; values h5py can store). Reserved names raise ``ValueError``.

    Attributes
    ----------
    path : str
        The file path.
    chunk_rows : int
        Chunk length actually used.
    n_spikes : dict of (str, int) to int
        Spikes accepted so far per (population, trial), flushed or not.
    closed : bool
        Whether :meth:`close` ran.

    Notes
    -----
    ``write`` copies its inputs (the caller may reuse its buffers). Spikes of one (population, trial) must come in
    non-decreasing time order across calls, which makes the file ``by_time`` sorted. Used as a context manager, the
    writer calls ``close(complete=True)`` when the block ends normally and ``close(complete=False)`` when it ends by
    an exception (including ``KeyboardInterrupt``); in both cases every spike written so far reaches the file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "spikes.h5")
    >>> with SpikeFileWriter(path, {"exc": 4}, dt_ms=0.1, duration_ms=10.0, seed=1) as w:
    ...     w.write("exc", 0, np.array([1.0, 2.5]), np.array([3, 0]))
    >>> read_spikes(path)
    (array([1. , 2.5]), array([3, 0]))
    """

    def __init__(self, path, populations: dict[str, int], *, n_trials: int = 1, dt_ms: float, duration_ms: float,
                 seed: int | None, model: dict | None = None, overwrite: bool = False, flush_interval_s: float = 1.0,
                 compression: str | None = "gzip", chunk_rows: int = 65536, extra_attrs: dict | None = None):
        self.closed = True  # until the file exists
        self._file = None
        # ---- check everything before touching the file system
        try:
            self.path = os.fspath(path)
        except TypeError:
            raise TypeError(f"path = {path!r} must be a str or os.PathLike") from None
        if not isinstance(self.path, str):
            self.path = os.fsdecode(self.path)
        if not isinstance(populations, dict):
            raise TypeError(f"populations must be a dict of name -> size, got {type(populations).__name__}")
        if not populations:
            raise ValueError("populations is empty; give at least one population, e.g. {'exc': 800}")
        pops: dict[str, int] = {}
        for name, size in populations.items():
            if not isinstance(name, str):
                raise TypeError(f"population name {name!r} must be a str")
            if not name or "/" in name or name in (".", ".."):
                raise ValueError(f"population name {name!r} is not allowed; use a non-empty name without '/'")
            pops[name] = _check_positive_int(f"populations[{name!r}]", size)
        self.populations = pops
        self.n_trials = _check_positive_int("n_trials", n_trials)
        self.dt_ms = _check_float("dt_ms", dt_ms, positive=True)
        self.duration_ms = _check_float("duration_ms", duration_ms, positive=True)
        if seed is not None:
            if not _is_int(seed):
                raise TypeError(f"seed = {seed!r} must be an integer or None")
            if not (-(2 ** 63) <= int(seed) < 2 ** 64):
                raise ValueError(f"seed = {seed!r} is not allowed; it must fit in 64 bits")
        self.seed = None if seed is None else int(seed)
        if model is not None and not isinstance(model, dict):
            raise TypeError(f"model must be a dict or None, got {type(model).__name__}")
        try:
            model_json = json.dumps(model, default=_json_default, sort_keys=True, allow_nan=True)
        except (TypeError, ValueError) as e:
            raise TypeError(f"model cannot be stored as JSON: {e}") from None
        if not isinstance(overwrite, (bool, np.bool_)):
            raise TypeError(f"overwrite = {overwrite!r} must be True or False")
        self.flush_interval_s = _check_float("flush_interval_s", flush_interval_s, positive=True, allow_zero=True)
        if compression not in _COMPRESSIONS:
            raise ValueError(f"compression = {compression!r} is not allowed; choose one of {_COMPRESSIONS}")
        self.compression = compression
        self.chunk_rows = _check_positive_int("chunk_rows", chunk_rows)
        n_keys = self.n_trials * len(self.populations)
        # every flush (re)compresses the partial last chunk of each dataset: many trials get shorter chunks
        self.chunk_rows = min(self.chunk_rows, max(_MIN_SHARED_CHUNK_ROWS, _CHUNK_ROWS_BUDGET // n_keys))
        if extra_attrs is None:
            extra_attrs = {}
        if not isinstance(extra_attrs, dict):
            raise TypeError(f"extra_attrs must be a dict or None, got {type(extra_attrs).__name__}")
        for key in extra_attrs:
            if not isinstance(key, str) or not key:
                raise TypeError(f"extra_attrs key {key!r} must be a non-empty str")
            if key in _RESERVED_ATTRS:
                raise ValueError(f"extra_attrs key {key!r} is reserved; reserved names are {sorted(_RESERVED_ATTRS)}")
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"cannot create spike file {self.path!r}: it is a directory")
        if os.path.lexists(self.path) and not overwrite:
            raise FileExistsError(f"spike file {self.path!r} already exists; pass overwrite=True to replace it")

        # ---- create the file
        try:
            n_datasets = 2 * self.n_trials * len(self.populations)
            self._file = h5py.File(self.path, "w" if overwrite else "x", libver="earliest",
                                   rdcc_nbytes=int(min(_CHUNK_CACHE_BYTES / n_datasets, 1 << 22)))
        except (OSError, ValueError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise SpikeFileError(f"cannot create spike file {self.path!r}: {reason}") from e
        self.closed = False
        try:
            self._create_layout(model_json, extra_attrs)
            self._file.flush()
        except BaseException as e:
            self._abandon(remove=True)
            if isinstance(e, (OSError, RuntimeError)) and not isinstance(e, SpikeFileError):
                raise SpikeFileError(f"cannot create spike file {self.path!r}: {e}") from e
            raise
        keys = [(p, k) for k in range(self.n_trials) for p in self.populations]
        self._buffers: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {key: [] for key in keys}
        self._n_buffered = 0
        self._n_written = {key: 0 for key in keys}
        self.n_spikes = {key: 0 for key in keys}
        self._last_time = {key: -math.inf for key in keys}
        self._t_recorded_ms = 0.0
        self._last_flush = time.monotonic()
        self._failed: BaseException | None = None

    # ---------------------------------------------------------------------------------------------------------------
    def _create_layout(self, model_json: str, extra_attrs: dict) -> None:
        f = self._file
        a = f.attrs
        a["magic"] = np.uint32(SONATA_MAGIC)
        a["version"] = np.array([0, 1], dtype=np.uint32)
        a["format"] = FORMAT
        a["format_version"] = np.int64(FORMAT_VERSION)
        a["pond_version"] = pond_version()
        a["dt_ms"] = np.float64(self.dt_ms)
        a["duration_ms"] = np.float64(self.duration_ms)
        if self.seed is not None:
            a["seed"] = np.int64(self.seed) if self.seed < 2 ** 63 else np.uint64(self.seed)
        a["n_trials"] = np.int64(self.n_trials)
        a["model_json"] = model_json
        a["population_names"] = np.array(list(self.populations), dtype=h5py.string_dtype())
        a["population_sizes"] = np.array(list(self.populations.values()), dtype=np.int64)
        a["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        a["t_recorded_ms"] = np.float64(0.0)
        a["complete"] = False
        for key, value in extra_attrs.items():
            try:
                a[key] = value
            except (TypeError, ValueError) as e:
                raise TypeError(f"extra_attrs[{key!r}] = {value!r} cannot be stored as an HDF5 attribute: {e}") from None
        self._datasets: dict[tuple[str, int], tuple[h5py.Dataset, h5py.Dataset]] = {}
        kw = dict(chunks=(self.chunk_rows,), maxshape=(None,), compression=self.compression)
        if self.compression is not None:
            kw["shuffle"] = True
        for trial in range(self.n_trials):
            root = f.require_group(_trial_spikes_path(trial))
            for name, size in self.populations.items():
                g = root.create_group(name)
                g.attrs.create("sorting", _SORTING_CODES["by_time"], dtype=SORTING_DTYPE)
                g.attrs["size"] = np.int64(size)
                g.attrs["n_spikes"] = np.int64(0)
                ts = g.create_dataset("timestamps", shape=(0,), dtype=np.float64, **kw)
                ts.attrs["units"] = "ms"
                ids = g.create_dataset("node_ids", shape=(0,), dtype=np.uint64, **kw)
                self._datasets[(name, trial)] = (ts, ids)

    # ---------------------------------------------------------------------------------------------------------------
    def write(self, population: str, trial: int, times_ms: np.ndarray, node_ids: np.ndarray) -> None:
        """Accept the spikes of one simulated chunk for one population and trial.

        Parameters
        ----------
        population : str
            One of the populations given at creation.
        trial : int
            Trial index, 0 <= trial < n_trials.
        times_ms : ndarray of float64, shape (n,)
            Spike times (ms), finite, >= 0, non-decreasing, and not before the last spike written for this
            population and trial.
        node_ids : ndarray of int, shape (n,)
            Node ids local to the population, 0 <= id < size.
        """
        self._check_open()
        if population not in self.populations:
            raise ValueError(f"population {population!r} is unknown; this file has {list(self.populations)}")
        if not _is_int(trial):
            raise TypeError(f"trial = {trial!r} must be an integer")
        if not 0 <= trial < self.n_trials:
            raise ValueError(f"trial = {trial} is out of range; this file has trials 0..{self.n_trials - 1}")
        trial = int(trial)
        t = np.asarray(times_ms)
        ids = np.asarray(node_ids)
        if t.ndim != 1 or ids.ndim != 1:
            raise ValueError(f"times_ms and node_ids must be 1-D, got shapes {t.shape} and {ids.shape}")
        if t.shape != ids.shape:
            raise ValueError(f"times_ms ({t.shape[0]} values) and node_ids ({ids.shape[0]} values) differ in length")
        if t.size and not (np.issubdtype(t.dtype, np.floating) or np.issubdtype(t.dtype, np.integer)):
            raise TypeError(f"times_ms must hold real numbers, got dtype {t.dtype}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"node_ids must hold integers, got dtype {ids.dtype}")
        key = (population, trial)
        if t.size:
            t = np.array(t, dtype=np.float64, copy=True)
            ids = np.array(ids, dtype=np.int64, copy=True)
            if not np.all(np.isfinite(t)):
                raise ValueError("times_ms contains a non-finite value")
            if t[0] < 0:
                raise ValueError(f"times_ms contains {t[0]} ms; spike times must be >= 0")
            if t.size > 1 and np.any(t[1:] < t[:-1]):
                raise ValueError("times_ms must be non-decreasing (spikes of a chunk in time order)")
            if t[0] < self._last_time[key]:
                raise ValueError(f"times_ms starts at {t[0]} ms, before the last spike already written for "
                                 f"{population!r} trial {trial} ({self._last_time[key]} ms); write chunks in time order")
            lo, hi = int(ids.min()), int(ids.max())
            size = self.populations[population]
            if lo < 0 or hi >= size:
                bad = lo if lo < 0 else hi
                raise ValueError(f"node id {bad} is out of range for population {population!r} of size {size} "
                                 f"(ids are local and 0-based)")
            self._buffers[key].append((t, ids))
            self._n_buffered += t.size
            self.n_spikes[key] += t.size
            self._last_time[key] = float(t[-1])
        if self._n_buffered >= _MAX_BUFFER_ROWS or time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def advance(self, t_ms: float) -> None:
        """Declare that every spike up to simulated time ``t_ms`` (ms) has been passed to :meth:`write`.

        Stored as the root attribute ``t_recorded_ms`` at the next flush, so rates of an interrupted file are computed
        over the time actually simulated. Like :meth:`write`, it flushes when ``flush_interval_s`` has passed, so a
        driver that calls it after every chunk keeps the flush interval even through chunks without spikes.
        """
        self._check_open()
        self._t_recorded_ms = max(self._t_recorded_ms, _check_float("t_ms", t_ms, positive=True, allow_zero=True))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        """Append every buffered spike to the datasets and flush the file to disk."""
        self._check_open()
        self._check_room()
        try:
            for key, chunks in self._buffers.items():
                if not chunks:
                    continue
                t = chunks[0][0] if len(chunks) == 1 else np.concatenate([c[0] for c in chunks])
                ids = chunks[0][1] if len(chunks) == 1 else np.concatenate([c[1] for c in chunks])
                ts_ds, id_ds = self._datasets[key]
                start = self._n_written[key]
                stop = start + t.size
                ts_ds.resize((stop,))
                ts_ds[start:stop] = t
                id_ds.resize((stop,))
                id_ds[start:stop] = ids.astype(np.uint64)
                self._n_written[key] = stop
                self._n_buffered -= t.size
                chunks.clear()
            last = max((v for v in self._last_time.values()), default=0.0)
            self._file.attrs["t_recorded_ms"] = np.float64(max(self._t_recorded_ms, last if last > 0 else 0.0))
            self._file.flush()
        except (OSError, RuntimeError) as e:  # h5py reports some I/O failures (ENOSPC, EFBIG) as RuntimeError
            self._fail(e)
        self._last_flush = time.monotonic()

    def close(self, complete: bool = True) -> None:
        """Write every buffered spike, mark the file complete (or not) and close it. Calling it again does nothing.

        Parameters
        ----------
        complete : bool, default=True
            True when the run finished: sets the root attribute ``complete`` (and ``t_recorded_ms = duration_ms``).
            False for an interrupted run: the spikes so far are kept and ``complete`` stays False.
        """
        if self.closed:
            return
        try:
            self.flush()
            for (name, trial), (ts_ds, _) in self._datasets.items():
                ts_ds.parent.attrs["n_spikes"] = np.int64(self._n_written[(name, trial)])
            if complete:
                self._t_recorded_ms = self.duration_ms
                self._file.attrs["t_recorded_ms"] = np.float64(self.duration_ms)
                self._file.attrs["complete"] = True
            self._file.attrs["closed"] = True
            self._file.flush()
            self._file.close()
        except SpikeFileError:
            raise
        except (OSError, RuntimeError) as e:
            self._fail(e)
        finally:
            self.closed = True
            self._file = None

    def __enter__(self) -> "SpikeFileWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close(complete=True)
            return
        try:
            self.close(complete=False)
        except Exception as e:  # do not mask the exception that ended the run
            warnings.warn(f"closing spike file {self.path!r} after an error failed too: {e}", RuntimeWarning,
                          stacklevel=2)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"SpikeFileWriter({self.path!r}, populations={self.populations}, n_trials={self.n_trials}, {state})"

    # ---------------------------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._failed is not None:
            raise SpikeFileError(f"spike file {self.path!r} is unusable after an earlier write error: {self._failed}")
        if self.closed:
            raise ValueError(f"spike file {self.path!r} is closed")

    def _bytes_needed(self) -> int:
        """Upper bound of the bytes the next flush adds to the file."""
        c = self.chunk_rows
        total = _METADATA_MARGIN_BYTES
        for key, chunks in self._buffers.items():
            r = sum(x[0].size for x in chunks)
            if not r:
                continue
            o = self._n_written[key] % c
            if self.compression is None:  # whole chunks are allocated when first touched
                rows = c * (-(-(o + r) // c) - (1 if o else 0))
            else:  # the partial last chunk is rewritten; compressed chunks may exceed their raw size slightly
                rows = int((o + r) * 1.01) + 128
            total += 2 * 8 * rows
        return total

    def _check_room(self) -> None:
        """Refuse to flush when the disk or the process file-size limit cannot take it.

        A failed HDF5 write leaves h5py in a state where releasing the file can crash the process, so the common
        "disk full" case is detected before HDF5 is asked to write; the file then stays readable with every spike up
        to the previous flush.
        """
        if not self._n_buffered:
            return
        need = self._bytes_needed()
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            st = os.statvfs(directory)
            free = st.f_bavail * st.f_frsize
        except (AttributeError, OSError):  # pragma: no cover - no statvfs (Windows)
            free = None
        limit = None
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            if soft != resource.RLIM_INFINITY:
                limit = soft - os.path.getsize(self.path)
        except (ImportError, OSError, ValueError):  # pragma: no cover - no resource module
            pass
        for room, what in ((free, "free on the disk"), (limit, "left under the file-size limit")):
            if room is not None and need > room:
                self._stop_cleanly()
                raise SpikeFileError(
                    f"no room to write spike file {self.path!r}: the next flush needs up to {need / 1e6:.1f} MB but "
                    f"{max(room, 0) / 1e6:.1f} MB are {what}; the file is incomplete (attribute complete=False) and "
                    f"holds every spike up to the last flush")

    def _stop_cleanly(self) -> None:
        """Close the (flushed, consistent) file without writing the buffers; the writer becomes unusable."""
        self._failed = SpikeFileError("no room left to write")
        for chunks in self._buffers.values():
            chunks.clear()
        self._n_buffered = 0
        self._abandon(remove=False)

    def _abandon(self, remove: bool) -> None:
        f, self._file = self._file, None
        self.closed = True
        self._datasets = {}  # release dataset ids before the file id
        if f is not None:
            try:
                f.close()
            except Exception:
                pass
        if remove:
            try:
                os.remove(self.path)
            except OSError:
                pass

    def _fail(self, e: BaseException):
        self._failed = e
        _FAILED_FILES.append(self._file)
        self._file = None
        self._datasets = {}
        self.closed = True
        reason = getattr(e, "strerror", None) or str(e)
        raise SpikeFileError(f"writing spike file {self.path!r} failed ({reason}); the file is incomplete "
                             f"(attribute complete=False) and holds the spikes up to the last successful flush") from e


# ---------------------------------------------------------------------------------------------------------------------
# reader
# ---------------------------------------------------------------------------------------------------------------------
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
    attrs : dict
        Root attributes (metadata), with ``model_json`` decoded under the key ``model``.

    Notes
    -----
    A file that a run is still writing (HDF5 lock held) is opened without locking: what the reader sees is the state
    of the last flush. On a ``by_time`` sorted population a time window costs two binary searches over chunk starts plus one contiguous
    read; other sortings are scanned block by block, so memory stays bounded by the window, never the whole file.
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
            if "lock" not in str(e):
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

    @staticmethod
    def _datasets(g: h5py.Group) -> tuple[h5py.Dataset, h5py.Dataset, int]:
        ts = g["timestamps"]
        ids = g["node_ids"] if "node_ids" in g else g["gids"]
        return ts, ids, min(ts.shape[0], ids.shape[0])

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
                yield ts[s:e].astype(np.float64, copy=False), ids[s:e].astype(np.int64)
        else:
            for s in range(0, n, block_rows):
                e = min(s + block_rows, n)
                t = ts[s:e].astype(np.float64, copy=False)
                i = ids[s:e].astype(np.int64)
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
        """Populations, spike counts, time ranges, mean rates and metadata. Reads at most two chunks per dataset
        for by_time populations (one scan otherwise)."""
        attrs = self.attrs
        complete = self.complete
        duration = attrs.get("duration_ms")
        recorded = duration if complete else attrs.get("t_recorded_ms", duration)
        pops = {}
        for name in self.populations:
            size = self.size(name)
            counts, first, last, sorting = [], math.inf, -math.inf, None
            for trial in range(self.n_trials):
                _, g = self._group(name, trial)
                ts, _, n = self._datasets(g)
                counts.append(int(n))
                sorting = sorting or _read_sorting(g)
                if n == 0:
                    continue
                if _read_sorting(g) == "by_time":
                    first = min(first, float(ts[0]))
                    last = max(last, float(ts[n - 1]))
                else:
                    for s in range(0, n, 1 << 20):
                        blk = ts[s:min(s + (1 << 20), n)]
                        first, last = min(first, float(blk.min())), max(last, float(blk.max()))
            span = recorded if recorded else (last if last > -math.inf else None)
            total = int(sum(counts))
            rate = total / (self.n_trials * size * span * 1e-3) if span and size else None
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
    ``complete`` flag, number of trials and metadata (dt_ms, duration_ms, seed, pond_version, model, created, ...).
    """
    with SpikeFileReader(path) as r:
        return r.info()
