"""pond's version string for file metadata, read without importing the ``pond`` package (engine stays independent)."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def pond_version() -> str:
    """Installed version of the ``pond`` distribution, or ``"0+unknown"`` when it is not installed.

    Returns
    -------
    version : str
        For example ``"0.1.0"``.
    """
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "0+unknown"
    try:
        return version("pond")
    except PackageNotFoundError:
        return "0+unknown"
