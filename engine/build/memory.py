"""Memory available to this process, and the refusal of allocations that cannot fit, before they are attempted.

A model too large for the machine should fail at once with the figure, not after minutes of work or by the
operating system's out-of-memory killer. These are coarse checks against what the system reports as available;
the engine's precise memory estimate builds on them.
"""
from __future__ import annotations

import os

GiB = float(1 << 30)


def available_bytes() -> int:
    """Bytes of memory the system can give this process now: ``MemAvailable`` from ``/proc/meminfo`` (Linux), else
    free physical pages (``os.sysconf``), else total physical memory; the smaller of that, an address-space limit
    (``RLIMIT_AS``) when one is set, and ``POND_MEMORY_LIMIT`` (bytes, or with a K, M, G or T suffix) when set, for a
    share of a machine other work also needs."""
    avail = _system_available()
    limit = _env_limit()
    return avail if limit is None else min(avail, limit)


def _env_limit() -> int | None:
    """``POND_MEMORY_LIMIT`` in bytes, or None when unset; a bad value is refused with what is allowed."""
    raw = os.environ.get("POND_MEMORY_LIMIT", "").strip()
    if not raw:
        return None
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(raw[-1].upper(), 1)
    number = raw[:-1] if scale > 1 else raw
    try:
        value = float(number) * scale
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"POND_MEMORY_LIMIT = {raw!r} is not allowed; give a positive number of bytes, optionally "
                         f"with a K, M, G or T suffix (e.g. 2G)")
    return int(value)


def _system_available() -> int:
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            pages = os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            pages = os.sysconf("SC_PHYS_PAGES")
        avail = int(pages) * int(os.sysconf("SC_PAGE_SIZE"))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            avail = min(avail, int(soft))
    except (ImportError, ValueError, OSError):
        pass
    return int(avail)


def check_fits(need_bytes: int, what: str, advice: str) -> None:
    """Raise MemoryError naming ``what``, the bytes it needs and the bytes available, when ``need_bytes`` exceeds
    the memory available now; ``advice`` says how to make it smaller."""
    avail = available_bytes()
    if need_bytes > avail:
        raise MemoryError(f"{what} needs about {need_bytes / GiB:.3g} GiB but only {avail / GiB:.3g} GiB of memory "
                          f"is available; {advice}")
