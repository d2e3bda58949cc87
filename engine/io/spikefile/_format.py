"""Spike-file format constants and the small checks and attribute readers that the writer and reader share."""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, is_dataclass
from typing import Any

import h5py
import numpy as np

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
    "trial_ids",
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
