"""Optional NWB export of spikes (extra ``nwb``: ``pip install pond[nwb]``, needs pynwb).

Each neuron becomes one row of the NWB ``Units`` table; its spike times (seconds, as NWB requires) are stored in the
ragged column ``spike_times`` with its index ``spike_times_index``. Two more columns say where a unit came from:
``population`` (name) and ``node_id`` (0-based id local to the population). pond's times are in ms and divided by 1000.

The whole exported selection (one trial, one or all populations) is held in memory while the NWB file is written.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import numpy as np

from engine.io.spikefile import SpikeFileReader
from engine.io.spikefile._format import _check_positive_int

__all__ = ["export_nwb", "write_nwb_units"]


def _require_pynwb():
    try:
        import pynwb  # noqa: F401
    except ImportError:
        raise ImportError("NWB export needs pynwb: pip install 'pond[nwb]'") from None
    return pynwb


def write_nwb_units(nwb_path, times_ms, node_ids, n_units: int, *, population: str = "all",
                    session_description: str = "pond simulation", identifier: str | None = None,
                    session_start_time: datetime | None = None, overwrite: bool = False,
                    metadata: dict | None = None) -> str:
    """Write spikes of one population to an NWB file as a Units table.

    Parameters
    ----------
    nwb_path : str or os.PathLike
        Output file; an existing path raises ``FileExistsError`` unless ``overwrite=True``.
    times_ms : ndarray of float, shape (n,)
        Spike times (ms).
    node_ids : ndarray of int, shape (n,)
        Unit of each spike, 0 <= id < n_units.
    n_units : int
        Number of units (rows), >= 1; units without spikes get an empty spike train.
    population : str, default="all"
        Written to the ``population`` column.
    session_description, identifier, session_start_time
        NWB file fields (identifier defaults to a fresh UUID, the start time to now, UTC).
    overwrite : bool, default=False
    metadata : dict or None
        Stored as JSON in the NWB file's ``notes``.

    Returns
    -------
    path : str
    """
    t = np.asarray(times_ms, dtype=np.float64)
    ids = np.asarray(node_ids)
    if t.ndim != 1 or t.shape != ids.shape:
        raise ValueError(f"times_ms and node_ids must be 1-D of equal length, got {t.shape} and {ids.shape}")
    n_units = _check_positive_int("n_units", n_units)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"node_ids must hold integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_units):
        raise ValueError(f"node ids must lie in 0..{n_units - 1}, got {int(ids.min())}..{int(ids.max())}")
    return _write_units(nwb_path, [(population, t, ids, n_units)], session_description, identifier,
                        session_start_time, overwrite, metadata)


def export_nwb(spike_path, nwb_path, *, population: str | None = None, trial: int = 0,
               overwrite: bool = False, session_description: str | None = None) -> str:
    """Convert one trial of a pond/SONATA spike file to an NWB file with a Units table.

    Parameters
    ----------
    spike_path : str or os.PathLike
        SONATA spike file (see :mod:`engine.io.spikefile`).
    nwb_path : str or os.PathLike
        Output NWB file.
    population : str or None, default=None
        Export one population; None exports all, one unit per neuron, populations in file order.
    trial : int, default=0
    overwrite : bool, default=False
    session_description : str or None
        Defaults to a line naming the source file.

    Returns
    -------
    path : str
    """
    with SpikeFileReader(spike_path) as r:
        pops = r.populations if population is None else [population]
        parts = []
        for name in pops:
            t, ids = r.read(name, trial)
            parts.append((name, t, ids, r.size(name)))
        attrs = r.attrs
    created = attrs.get("created")
    start = None
    if isinstance(created, str):
        try:
            start = datetime.fromisoformat(created)
        except ValueError:
            start = None
    meta = {k: v for k, v in attrs.items() if k not in ("magic", "version")}
    meta["source"] = os.path.basename(os.fspath(spike_path))
    meta["trial"] = trial
    desc = session_description or f"pond spikes from {os.path.basename(os.fspath(spike_path))}, trial {trial}"
    return _write_units(nwb_path, parts, desc, None, start, overwrite, meta)


def _write_units(nwb_path, parts, session_description, identifier, session_start_time, overwrite, metadata) -> str:
    pynwb = _require_pynwb()
    from hdmf.common import VectorData, VectorIndex
    from pynwb.misc import Units

    path = os.fspath(nwb_path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite = {overwrite!r} must be True or False")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"NWB file {path!r} already exists; pass overwrite=True to replace it")
    times, ends, pop_col, id_col = [], [], [], []
    offset = 0
    for name, t, ids, n in parts:
        order = np.lexsort((t, ids))
        t_sorted = t[order] / 1000.0  # ms -> s
        counts = np.bincount(ids, minlength=n)[:n]
        times.append(t_sorted)
        ends.append(offset + np.cumsum(counts))
        offset += t_sorted.size
        pop_col.extend([name] * n)
        id_col.append(np.arange(n, dtype=np.int64))
    spike_times = VectorData(name="spike_times", description="spike times (s)",
                             data=np.concatenate(times) if times else np.empty(0))
    index = VectorIndex(name="spike_times_index", data=np.concatenate(ends).astype(np.int64), target=spike_times)
    n_rows = sum(p[3] for p in parts)
    units = Units(name="units", description="neurons simulated by pond", id=list(range(n_rows)),
                  columns=[spike_times, index,
                           VectorData(name="population", description="pond population", data=pop_col),
                           VectorData(name="node_id", description="node id within the population",
                                      data=np.concatenate(id_col))])
    nwbfile = pynwb.NWBFile(
        session_description=session_description,
        identifier=identifier or __import__("uuid").uuid4().hex,
        session_start_time=session_start_time or datetime.now(timezone.utc),
        notes=json.dumps(metadata, default=str) if metadata else None,
        source_script="pond",
        source_script_file_name="engine/nwb.py",
    )
    nwbfile.units = units
    try:
        with pynwb.NWBHDF5IO(path, "w") as io:
            io.write(nwbfile)
    except OSError as e:
        raise OSError(f"cannot write NWB file {path!r}: {e}") from e
    return path
