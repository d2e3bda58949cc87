"""The time grid: times (ms) to whole steps of ``dt`` and back.

One rule holds for every time a model gives (delays, refractory periods, spike-generator times, rate and current
change times): a value off the grid of ``dt`` is refused with the nearest grid values, never rounded silently. The
one exception is a delay drawn from a distribution, which is rounded to the nearest step as NEST does (a continuous
distribution has no values on the grid).
"""
from __future__ import annotations

import numpy as np

_TOL = 1e-6  # steps: a value within a millionth of a step of a grid point is on it (float noise of decimal dt)
_ULPS = 8.0  # plus this many float spacings of v / dt, the rounding of the division itself at large step counts


def grid_offset(q) -> np.ndarray:
    """``|q - rint(q)| - tolerance`` of step counts ``q = v / dt``: <= 0 where ``v`` lies on the grid.

    The tolerance is absolute in steps (a millionth of a step) plus a few float spacings of ``q``, never relative
    to the time itself: at 5e5 steps a relative millionth would be half a step, and 50000.05 ms at dt 0.1 ms would
    pass for 50000.0."""
    q = np.asarray(q, dtype=np.float64)
    return np.abs(q - np.rint(q)) - (_TOL + _ULPS * np.finfo(np.float64).eps * np.abs(q))


def grid_steps(owner: str, name: str, values_ms, dt: float) -> np.ndarray:
    """``values_ms / dt`` as int64 steps; ValueError naming ``owner``, ``name`` and the first value off the grid,
    with the two nearest grid values, when ``dt`` does not divide a value (see :func:`grid_offset` for the
    tolerance)."""
    values = np.asarray(values_ms, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner}: {name} = {float(values[~np.isfinite(values)].flat[0])} ms is not allowed; "
                         f"times must be finite")
    q = values / dt
    k = np.rint(q)
    off = grid_offset(q) > 0
    if np.any(off):
        v = float(np.asarray(values_ms, dtype=np.float64)[off].flat[0])
        below, above = (float(x) for x in step_times(np.floor(v / dt) + np.array([0, 1]), dt))
        raise ValueError(f"{owner}: {name} = {v} ms is not a multiple of dt = {dt} ms; every time must lie on "
                         f"the time grid, e.g. {below} or {above} ms (round with numpy.round(t / dt) * dt)")
    if np.any(np.abs(k) >= 2.0**62):
        raise ValueError(f"{owner}: {name} = {float(np.max(np.abs(values_ms))):g} ms is too many steps of dt = {dt} "
                         f"ms")
    return k.astype(np.int64)


def to_steps(values_ms, dt: float) -> np.ndarray:
    """Times (ms) as float64 counts of steps of ``dt``, as the exact event-driven mode keeps them: a value on the
    grid (:func:`grid_offset`) becomes the exact integer of its grid point, any other ``v / dt``.

    This is NEST's rule of a grid step plus an offset in one float: the integer part is the step, the fraction the
    offset. Sums of grid times stay exact integers (below 2**53 steps), so inputs NEST treats as simultaneous
    arrive at equal times: a spike at 0.7 ms through a 0.1 ms delay and one at 0.5 ms through 0.3 ms both arrive at
    step 8.0, where ``0.7 + 0.1`` is 0.7999999999999999 ms and ``0.5 + 0.3`` is 0.8 ms."""
    q = np.asarray(values_ms, dtype=np.float64) / dt
    with np.errstate(invalid="ignore"):
        return np.where(grid_offset(q) <= 0, np.rint(q), q)


def from_steps(steps, dt: float) -> np.ndarray:
    """Times (ms, float64) of float counts of steps (:func:`to_steps`): :func:`step_times` of the whole steps plus
    the fraction times ``dt``, so a time on the grid is the float nearest its decimal value (8.0 steps of 0.1 ms
    is 0.8 ms, not 0.8000000000000002)."""
    steps = np.asarray(steps, dtype=np.float64)
    whole = np.floor(steps)
    return step_times(whole, dt) + (steps - whole) * dt


def step_times(steps, dt: float) -> np.ndarray:
    """Times (ms, float64) of integer ``steps``: ``k · dt``, computed as ``k / (1/dt)`` when ``1/dt`` is an
    integer, which gives the float nearest the decimal value (``9998 · 0.1`` is 999.8000000000001, ``9998 / 10``
    is 999.8)."""
    steps = np.asarray(steps)
    per_ms = round(1.0 / dt)
    if per_ms >= 1 and abs(per_ms * dt - 1.0) < 1e-12:
        return steps / float(per_ms)
    return steps * dt
