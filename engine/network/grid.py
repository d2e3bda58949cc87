"""The time grid: times (ms) to whole steps of ``dt`` and back.

One rule holds for every time a model gives (delays, refractory periods, spike-generator times, rate and current
change times): a value off the grid of ``dt`` is refused with the nearest grid values, never rounded silently. The
one exception is a delay drawn from a distribution, which is rounded to the nearest step as NEST does (a continuous
distribution has no values on the grid).
"""
from __future__ import annotations

import numpy as np

_TOL = 1e-6  # relative: a value within a millionth of a step of the grid is on it (float noise of decimal dt)


def grid_steps(owner: str, name: str, values_ms, dt: float) -> np.ndarray:
    """``values_ms / dt`` as int64 steps; ValueError naming ``owner``, ``name`` and the first value off the grid,
    with the two nearest grid values, when ``dt`` does not divide a value."""
    q = np.asarray(values_ms, dtype=np.float64) / dt
    k = np.rint(q)
    off = np.abs(q - k) > _TOL * np.maximum(1.0, np.abs(q))
    if np.any(off):
        v = float(np.asarray(values_ms, dtype=np.float64)[off].flat[0])
        below, above = (float(x) for x in step_times(np.floor(v / dt) + np.array([0, 1]), dt))
        raise ValueError(f"{owner}: {name} = {v} ms is not a multiple of dt = {dt} ms; every time must lie on "
                         f"the time grid, e.g. {below} or {above} ms (round with numpy.round(t / dt) * dt)")
    if np.any(np.abs(k) >= 2.0**62):
        raise ValueError(f"{owner}: {name} = {float(np.max(np.abs(values_ms))):g} ms is too many steps of dt = {dt} "
                         f"ms")
    return k.astype(np.int64)


def step_times(steps, dt: float) -> np.ndarray:
    """Times (ms, float64) of integer ``steps``: ``k · dt``, computed as ``k / (1/dt)`` when ``1/dt`` is an
    integer, which gives the float nearest the decimal value (``9998 · 0.1`` is 999.8000000000001, ``9998 / 10``
    is 999.8)."""
    steps = np.asarray(steps)
    per_ms = round(1.0 / dt)
    if per_ms >= 1 and abs(per_ms * dt - 1.0) < 1e-12:
        return steps / float(per_ms)
    return steps * dt
