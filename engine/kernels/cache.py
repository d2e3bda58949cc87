"""Numba's disk cache of the kernels, keyed by the sources of every module compiled code may inline.

Numba keys a cached function by its own source file (a hash of its content, or its modification time and size in
older versions) and its own bytecode. The kernels inline functions of other modules (the network kernel inlines
:mod:`engine.kernels.neurons`, :mod:`engine.kernels.synapses`, :mod:`engine.kernels.rng` and the models' updates in
:mod:`engine.models`), so after an edit of such a module numba would load the machine code compiled from its old
version. :class:`PackageCacheLocator` goes before numba's own locators: for a function defined under a covered
directory it keeps the directory numba would choose and adds to numba's source stamp a digest of every module under
every covered directory (one fixed set, so the stamp does not depend on what a process imported first). An edit of
any of them thus invalidates every cached kernel (they compile again on first use), and nothing else changes.
"""
from __future__ import annotations

import functools
import hashlib
import os

from numba.core import caching

# numba >= 0.60 calls the base of its cache implementations CacheImpl, older versions _CacheImpl
_CACHE_IMPL = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")

_covered: set[str] = set()  # directories whose functions are keyed by the digest of all their .py files


@functools.lru_cache(maxsize=None)
def _digest(stamps: tuple) -> str:
    """SHA-256 of the files named in ``stamps`` (path, mtime, size), in that order; the stamps key the memo, so a
    file changed while the process runs is read again."""
    h = hashlib.sha256()
    for path, _, _ in stamps:
        h.update(os.path.relpath(path, os.path.dirname(os.path.dirname(path))).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def sources_digest(*directories: str) -> str:
    """Digest of the Python sources (``*.py``) under ``directories`` (sub-folders included), in path order."""
    paths = sorted(os.path.join(root, name) for directory in directories for root, _, names in os.walk(directory)
                   for name in names if name.endswith(".py"))
    stamps = []
    for path in paths:
        st = os.stat(path)
        stamps.append((path, st.st_mtime_ns, st.st_size))
    return _digest(tuple(stamps))


class PackageCacheLocator(caching._CacheLocator):
    """Numba's cache locator for a function in a covered package (see the module docstring): numba's own choice of
    directory and disambiguator, and its source stamp joined with the digest of the package's sources."""

    def __init__(self, inner, directory: str):
        self._inner = inner
        self._directory = directory

    @classmethod
    def from_function(cls, py_func, py_file):
        directory = os.path.dirname(os.path.abspath(py_file))
        if not any(directory == c or directory.startswith(c + os.sep) for c in _covered):
            return None
        for other in _CACHE_IMPL._locator_classes:
            if other is not cls:
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner, directory)
        return None

    def ensure_cache_path(self):
        self._inner.ensure_cache_path()

    def get_cache_path(self):
        return self._inner.get_cache_path()

    def get_source_stamp(self):
        return self._inner.get_source_stamp(), sources_digest(*sorted(_covered))

    def get_disambiguator(self):
        return self._inner.get_disambiguator()


def cover(*directories: str) -> None:
    """Key the cached functions defined under ``directories`` by the digest of all their modules. Call it before
    those modules define their functions (a package's ``__init__``), with every directory at once."""
    _covered.update(os.path.abspath(d) for d in directories)
    if PackageCacheLocator not in _CACHE_IMPL._locator_classes:
        _CACHE_IMPL._locator_classes.insert(0, PackageCacheLocator)
