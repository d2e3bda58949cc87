"""SpikeFileWriter: streams spikes into the SONATA layout while a simulation runs (see :mod:`engine.io.spikefile`)."""
from __future__ import annotations

import json
import math
import os
import time
import warnings
from datetime import datetime, timezone
from typing import Sequence

import h5py
import numpy as np

from engine._version import pond_version
from engine.io.spikefile._format import (FORMAT, FORMAT_VERSION, SONATA_MAGIC, SORTING_DTYPE, SpikeFileError,
                                      _CHUNK_CACHE_BYTES, _CHUNK_ROWS_BUDGET, _COMPRESSIONS, _FAILED_FILES,
                                      _MAX_BUFFER_ROWS, _METADATA_MARGIN_BYTES, _MIN_SHARED_CHUNK_ROWS,
                                      _RESERVED_ATTRS, _SORTING_CODES, _check_float, _check_positive_int, _is_int,
                                      _json_default, _trial_spikes_path)


def _check_trials(n_trials, trial_ids) -> tuple[int, tuple[int, ...]]:
    """``n_trials`` and the trial ids in file order, checked (``trial_ids`` distinct integers >= 0, as many as
    ``n_trials`` when both are given)."""
    if trial_ids is None:
        n = _check_positive_int("n_trials", 1 if n_trials is None else n_trials)
        return n, tuple(range(n))
    ids = list(trial_ids) if not isinstance(trial_ids, (str, bytes)) else None
    if ids is None or not ids or not all(_is_int(k) and int(k) >= 0 for k in ids) or \
            len({int(k) for k in ids}) != len(ids):
        raise ValueError(f"trial_ids = {trial_ids!r} is not allowed; give distinct trial ids >= 0")
    if n_trials is not None and _check_positive_int("n_trials", n_trials) != len(ids):
        raise ValueError(f"n_trials = {n_trials} but trial_ids has {len(ids)} ids; give one of them (or both "
                         f"equal)")
    return len(ids), tuple(int(k) for k in ids)


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
        With ``trial_ids``, their number (it may be left out).
    trial_ids : sequence of int, optional
        The trial ids the file holds, in file order (distinct, >= 0): :meth:`write` and :meth:`end_trial` then take
        a trial id and put it in its place, so ``Simulator(net, trials=[3])`` writes into a one-trial file. Stored as
        the root attribute ``trial_ids``. Default: file trial ``k`` is trial id ``k``.
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
    compression : {None, "gzip", "lzf"}, default=None
        Dataset compression filter. The default, ``None`` (uncompressed, chunked), is the file every SONATA reader
        opens. ``"gzip"`` (with byte shuffling; typically 2-4x smaller) and ``"lzf"`` trade readability for size:
        a reader whose HDF5 library lacks the filter cannot read the spikes. libsonata's PyPI wheels, the
        reference SONATA reader, have neither deflate (gzip) nor lzf, and lzf is h5py's own filter that only h5py
        reads. Compress files that only pond, h5py or an HDF5 build with zlib will read.
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
    n_trials : int
        Trials in the file.
    trial_ids : tuple of int
        The trial id of each file trial.
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
    >>> from engine.io.spikefile import read_spikes
    >>> path = os.path.join(tempfile.mkdtemp(), "spikes.h5")
    >>> with SpikeFileWriter(path, {"exc": 4}, dt_ms=0.1, duration_ms=10.0, seed=1) as w:
    ...     w.write("exc", 0, np.array([1.0, 2.5]), np.array([3, 0]))
    >>> read_spikes(path)
    (array([1. , 2.5]), array([3, 0]))
    """

    def __init__(self, path, populations: dict[str, int], *, n_trials: int | None = None,
                 trial_ids: Sequence[int] | None = None, dt_ms: float, duration_ms: float,
                 seed: int | None, model: dict | None = None, overwrite: bool = False, flush_interval_s: float = 1.0,
                 compression: str | None = None, chunk_rows: int = 65536, extra_attrs: dict | None = None):
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
        self.n_trials, self.trial_ids = _check_trials(n_trials, trial_ids)
        self._rows = {k: row for row, k in enumerate(self.trial_ids)}  # trial id -> file trial
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
        self._stated_ms = 0.0  # the t_recorded_ms attribute as last written
        self._advanced = False
        self._ended: list[int] = []  # trials declared finished (end_trial), marked at the next flush
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
        if self.trial_ids != tuple(range(self.n_trials)):
            a["trial_ids"] = np.array(self.trial_ids, dtype=np.int64)
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
                raise TypeError(f"extra_attrs[{key!r}] = {value!r} cannot be stored as an HDF5 attribute: "
                                f"{e}") from None
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
            Trial id: 0 <= trial < n_trials, or one of ``trial_ids``.
        times_ms : ndarray of float64, shape (n,)
            Spike times (ms), finite, >= 0, non-decreasing, and not before the last spike written for this
            population and trial.
        node_ids : ndarray of int, shape (n,)
            Node ids local to the population, 0 <= id < size.
        """
        self._check_open()
        if population not in self.populations:
            raise ValueError(f"population {population!r} is unknown; this file has {list(self.populations)}")
        trial = self._row(trial)
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
                                 f"{population!r} trial {trial} ({self._last_time[key]} ms); write chunks in time "
                                 f"order")
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
        # a driver that calls advance is flushed on the interval only there, between its time slices, never between
        # the populations of one slice; the buffer limit bounds memory (readers hide what lies past the stated time)
        if self._n_buffered >= _MAX_BUFFER_ROWS or (
                not self._advanced and time.monotonic() - self._last_flush >= self.flush_interval_s):
            self.flush()

    def _row(self, trial) -> int:
        """The file trial of trial id ``trial``."""
        if not _is_int(trial):
            raise TypeError(f"trial = {trial!r} must be an integer")
        if int(trial) not in self._rows:
            raise ValueError(self._not_held([int(trial)]))
        return self._rows[int(trial)]

    def _not_held(self, missing: list) -> str:
        if self.trial_ids == tuple(range(self.n_trials)):
            return f"trial = {missing[0]} is out of range; this file has trials 0..{self.n_trials - 1}"
        return f"trial = {missing[0]} is not in this file; it holds trial ids {list(self.trial_ids)}"

    def check_trials(self, trial_ids) -> None:
        """Raise a ValueError, before a simulator runs, when one of ``trial_ids`` has no place in this file (the
        simulator's sinks are checked so before anything runs: a batch's spikes never half-written)."""
        ids = [int(k) for k in trial_ids]
        missing = [k for k in ids if k not in self._rows]
        if missing:
            raise ValueError(f"SpikeFileWriter {self.path!r}: the simulator runs trial ids {ids}; "
                             f"{self._not_held(missing)}; create the writer with trial_ids={ids}")

    def advance(self, t_ms: float) -> None:
        """Declare that every spike before simulated time ``t_ms`` (ms), of every population and trial, has been
        passed to :meth:`write`.

        This is the time the file states (root attribute ``t_recorded_ms``, written at the next flush once the spikes
        before it are on disk): readers of an incomplete file show every population and trial up to that time and
        none past it, and compute rates over it. From the first call on, the stated time moves only here, and the
        flushes on the ``flush_interval_s`` schedule happen only here, so a driver that calls ``advance(t0)`` before
        its first write and ``advance(t)`` after each time slice never leaves populations at different times, even
        when the process is killed. (A writer never advanced states the end of the dt step of its last spike.)
        """
        self._check_open()
        self._t_recorded_ms = max(self._t_recorded_ms, _check_float("t_ms", t_ms, positive=True, allow_zero=True))
        self._advanced = True
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def end_trial(self, trial: int) -> None:
        """Declare that every spike of trial ``trial``, of every population, up to ``duration_ms`` has been passed to
        :meth:`write`: the trial is finished.

        A driver that runs whole trials one after another, or in blocks on several machines
        (:func:`engine.parallel.distributed.run_trials`), calls it after each trial. The next flush writes ``complete =
        True`` on the trial's spikes group (``/spikes`` or ``/trials/<k>/spikes``) once the trial's spikes are on
        disk, and readers of an incomplete file then show that trial in full, whatever the file's stated time.
        """
        self._check_open()
        self._ended.append(self._row(trial))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _stated_time(self) -> float:
        """The time up to which every population and trial is recorded (see :meth:`advance`)."""
        if self._advanced:
            return self._t_recorded_ms
        last = max(self._last_time.values(), default=-math.inf)
        return last + self.dt_ms if last >= 0 else 0.0

    def flush(self) -> None:
        """Append every buffered spike to the datasets, flush the file to disk, then advance the stated time.

        The stated time (``t_recorded_ms``) is written only after the spikes before it are on disk, in a second
        flush: a kill at any moment leaves a file whose stated time every population and trial reaches.
        """
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
            self._file.flush()
            stated = self._stated_time()
            if stated != self._stated_ms or self._ended:
                self._file.attrs["t_recorded_ms"] = np.float64(stated)
                for trial in self._ended:
                    self._file[_trial_spikes_path(trial)].attrs["complete"] = True
                self._file.flush()
                self._stated_ms = stated
                self._ended.clear()
        except (OSError, RuntimeError) as e:  # h5py reports some I/O failures (ENOSPC, EFBIG) as RuntimeError
            self._fail(e)
        self._last_flush = time.monotonic()

    def write_monitor(self, path: str, data: np.ndarray, attrs: dict | None = None) -> None:
        """Store the samples of a rate or state monitor as the dataset ``/monitors/<path>``, written at once.

        Parameters
        ----------
        path : str
            Dataset path under ``/monitors``, e.g. ``"rate/exc"`` or ``"state/exc/V"``; written once.
        data : ndarray
            The samples, first axis the trials (e.g. ``(trials, steps)`` spike counts, ``(trials, samples,
            neurons)`` values).
        attrs : dict or None
            Dataset attributes (units, sampling interval, neuron indices).
        """
        self._check_open()
        full = f"/monitors/{path}"
        if full in self._file:
            raise ValueError(f"monitor dataset {full!r} is already in {self.path!r}")
        try:
            ds = self._file.create_dataset(full, data=np.asarray(data), compression=self.compression)
            for key, value in (attrs or {}).items():
                ds.attrs[key] = value
        except (OSError, RuntimeError) as e:
            self._fail(e)

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
