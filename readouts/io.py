"""Save and load pond estimators to one HDF5 (``.h5``/``.hdf5``) or ``.npz`` file.

Public and shared: the readouts and the reservoirs (:class:`reservoirs.ESN`, :class:`reservoirs.LSM`) register
their classes here, so a reservoir and its trained readout go into one file (``save(path, lsm, readout)``) and
come back with :func:`load`. Parameter and array checks on loading are :mod:`readouts.validation`'s.

Layout (both formats): a format version, a JSON header listing the objects
(class, module, constructor parameters) and, for each object ``i``, its
learned arrays under ``obj<i>/<name>``. Nothing is pickled: loading never
executes code from the file, and only classes registered with :func:`register`
from pond's own packages can be rebuilt.
"""
import errno
import importlib
import json
import os
import zipfile

import numpy as np

#: Version of the file layout written by :func:`save`.
FORMAT_VERSION = 1
_MAGIC = "pond-estimator"
_REGISTRY = {}
_ALLOWED_MODULES = ("readouts", "reservoirs")


def register(cls):
    """Class decorator: make ``cls`` savable.

    ``cls`` provides ``_get_state() -> (params, arrays)`` and a classmethod
    ``_from_state(params, arrays)`` that rebuilds the estimator and checks
    what it is given as strictly as ``fit`` checks its arguments (see
    :mod:`readouts.validation`), raising ``ValueError`` naming the field.
    """
    _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return cls


def _key(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return [_jsonable(x) for x in v]
    return v


def save(path, *objects):
    """Write ``objects`` (estimators; ``None`` entries are skipped) to ``path``.

    The format follows the extension: ``.npz`` or ``.h5``/``.hdf5``.
    """
    objects = [o for o in objects if o is not None]
    header = {"magic": _MAGIC, "format_version": FORMAT_VERSION, "objects": []}
    arrays = {}
    for i, obj in enumerate(objects):
        if _key(obj) not in _REGISTRY:
            raise TypeError(f"save: {type(obj).__name__} is not a savable pond estimator.")
        params, arrs = obj._get_state()
        header["objects"].append({"class": _key(obj), "params": {k: _jsonable(v) for k, v in params.items()},
                                  "arrays": sorted(arrs)})
        for k, v in arrs.items():
            arrays[f"obj{i}/{k}"] = np.asarray(v)
    text = json.dumps(header)
    path = os.fspath(path)
    if path.endswith(".npz"):
        with open(path, "wb") as f:
            np.savez(f, __header__=np.array(text), **arrays)
    elif path.endswith((".h5", ".hdf5")):
        import h5py

        with h5py.File(path, "w") as f:
            f.attrs["header"] = text
            f.attrs["format_version"] = FORMAT_VERSION
            for k, v in arrays.items():
                f.create_dataset(k, data=v)
    else:
        raise ValueError(f"save: unknown file extension in {path!r}; use .npz, .h5 or .hdf5.")


def _read(path):
    path = os.fspath(path)
    if not path.endswith((".npz", ".h5", ".hdf5")):
        raise ValueError(f"load: unknown file extension in {path!r}; use .npz, .h5 or .hdf5.")
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, f"load: no such file {path!r}", path)
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if "__header__" not in z.files:
                    raise ValueError(f"load: {path!r} is not a pond estimator file (no header).")
                text = str(z["__header__"])
                data = {k: z[k] for k in z.files if k != "__header__"}
        else:
            import h5py

            with h5py.File(path, "r") as f:
                if "header" not in f.attrs:
                    raise ValueError(f"load: {path!r} is not a pond estimator file (no header).")
                text = f.attrs["header"]
                text = text.decode() if isinstance(text, bytes) else str(text)
                data = {}
                f.visititems(lambda k, d: data.__setitem__(k, d[()]) if hasattr(d, "shape") else None)
    except (OSError, KeyError, EOFError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, ValueError) and str(e).startswith("load:"):
            raise
        raise ValueError(f"load: {path!r} is not a readable pond file (truncated or corrupt?): {e}") from e
    try:
        header = json.loads(text)
    except ValueError as e:
        raise ValueError(f"load: {path!r} has a corrupt header: {e}") from e
    if not isinstance(header, dict) or header.get("magic") != _MAGIC:
        raise ValueError(f"load: {path!r} is not a pond estimator file.")
    if header.get("format_version") != FORMAT_VERSION or isinstance(header.get("format_version"), bool):
        raise ValueError(f"load: {path!r} has format version {header.get('format_version')!r}; this pond "
                         f"reads version {FORMAT_VERSION} only.")
    _check_header(path, header, data)
    return header, data


def _check_header(path, header, data):
    """Header keys, object entries and the stored arrays must be exactly those :func:`save` writes."""
    if set(header) != {"magic", "format_version", "objects"}:
        raise ValueError(f"load: {path!r} header has keys {sorted(header)}; expected "
                         f"['format_version', 'magic', 'objects'].")
    objects = header["objects"]
    if not isinstance(objects, list) or not objects:
        raise ValueError(f"load: {path!r} header field 'objects' must be a non-empty list; got {objects!r}.")
    listed = set()
    for i, entry in enumerate(objects):
        if not isinstance(entry, dict) or set(entry) != {"class", "params", "arrays"}:
            raise ValueError(f"load: {path!r} header object {i} must have exactly the keys 'class', 'params' and "
                             f"'arrays'; got {entry!r:.200}.")
        if not isinstance(entry["class"], str) or not isinstance(entry["params"], dict) or \
                not isinstance(entry["arrays"], list) or not all(isinstance(a, str) for a in entry["arrays"]):
            raise ValueError(f"load: {path!r} header object {i}: 'class' must be a string, 'params' an object and "
                             f"'arrays' a list of names.")
        listed.update(f"obj{i}/{k}" for k in entry["arrays"])
    missing, unknown = sorted(listed - set(data)), sorted(set(data) - listed)
    if missing:
        raise ValueError(f"load: {path!r} is missing array(s) {missing}; truncated file?")
    if unknown:
        raise ValueError(f"load: {path!r} holds array(s) {unknown} that its header does not list.")


def load(path):
    """Load the estimators saved by :func:`save`, checking everything read.

    The stored parameters go through the same checks as the estimators' ``fit``,
    and every stored array is checked for dtype, shape, finiteness and (for
    sparse matrices) index ranges before anything is built from it.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz``, ``.h5`` or ``.hdf5`` file written by :func:`save`.

    Returns
    -------
    object or tuple
        The single object, or a tuple when the file holds several
        (e.g. ``esn, readout = load("model.h5")``).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not a pond file, is truncated, or holds a value the
        estimator would not accept; the message names the field.
    """
    header, data = _read(path)
    objs = []
    for i, entry in enumerate(header["objects"]):
        key = entry["class"]
        if key not in _REGISTRY:
            mod = key.rsplit(".", 1)[0]
            if mod.split(".")[0] not in _ALLOWED_MODULES:
                raise ValueError(f"load: refusing to import {mod!r} from a file.")
            try:
                importlib.import_module(mod)
            except ImportError as e:
                raise ValueError(f"load: unknown class {key!r}.") from e
        cls = _REGISTRY.get(key)
        if cls is None:
            raise ValueError(f"load: unknown class {key!r}.")
        arrays = {k: data[f"obj{i}/{k}"] for k in entry["arrays"]}
        try:
            objs.append(cls._from_state(entry["params"], arrays))
        except (ValueError, TypeError) as e:
            raise ValueError(f"load: {os.fspath(path)!r}, object {i} ({cls.__name__}): {e}") from e
    return objs[0] if len(objs) == 1 else tuple(objs)
