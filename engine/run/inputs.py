"""Per-trial inputs, checked the same way for both simulators: spike trains of a
:class:`~engine.network.description.SpikeSource`, rates of a :class:`~engine.network.description.PoissonSource`,
amplitudes of a :class:`~engine.network.description.CurrentSource`.

Each function checks one call of :meth:`Simulator.set_spikes <engine.run.simulator.Simulator.set_spikes>` (or
``set_rates``, ``set_currents``) against the network and the simulator's trials and returns the values per trial;
a ValueError names the call, the source, the trial and what is allowed. How a simulator then uses them is its own
business (the clock-driven mode turns them into step tables, the event-driven mode into event times).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.network.description import (CurrentSource, Network, PoissonSource, SpikeSource, check_spike_arrays)
from engine.network.grid import grid_steps


def source_of(network: Network, owner: str, name: str, kind: type):
    """The object called ``name``, which must be a ``kind``; a ValueError names what it is, or the ``kind`` objects
    of the network when there is none of that name."""
    try:
        src = network.get(name)
    except KeyError:
        choices = [o.name for o in (*network.sources, *network.currents) if isinstance(o, kind)]
        raise ValueError(f"{owner}: {name!r} is not a {kind.__name__} of this network; choose from "
                         f"{choices}") from None
    if not isinstance(src, kind):
        raise ValueError(f"{owner}: {name!r} is a {type(src).__name__}, not a {kind.__name__}")
    return src


def _check_count(owner: str, what: str, given: int, trials: int) -> None:
    if given != trials:
        raise ValueError(f"{owner}: got {what} for {given} trials; this simulator runs {trials}")


def spike_trains(network: Network, trial_ids: np.ndarray, source: str, spikes: Sequence[tuple], *,
                 on_grid: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``spikes[b] = (times_ms, indices)`` of each trial, checked (finite times >= 0, indices in range, and on the
    grid of ``dt`` when ``on_grid``): float64 times and int64 indices per trial."""
    src = source_of(network, "set_spikes", source, SpikeSource)
    _check_count("set_spikes", "spike trains", len(spikes), trial_ids.size)
    out = []
    for b, (times, indices) in enumerate(spikes):
        owner = f"set_spikes({source!r}) trial {b}"
        t, i = check_spike_arrays(owner, times, indices, src.size)
        if on_grid:
            grid_steps(owner, "times", t, network.dt)
        out.append((t, i))
    return out


def rates(network: Network, trial_ids: np.ndarray, source: str, values) -> np.ndarray:
    """Per-trial rates (Hz, float64) of a PoissonSource: ``values[b]`` has the shape of the source's ``rate`` (a
    number or one per channel; with ``rate_times``, one row per change time), finite and >= 0."""
    src = source_of(network, "set_rates", source, PoissonSource)
    B = trial_ids.size
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"set_rates({source!r}): rates must be numbers (Hz)") from None
    n_t = None if src.rate_times is None else src.rate_times.size
    allowed = [(B,), (B, src.size)] if n_t is None else [(B, n_t), (B, n_t, src.size)]
    if arr.shape not in allowed:
        raise ValueError(f"set_rates({source!r}): rates has shape {arr.shape}; with {B} trials it must be one of "
                         f"{allowed}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"set_rates({source!r}): rates must be finite and >= 0 Hz")
    return arr


def amplitudes(network: Network, trial_ids: np.ndarray, source: str, values: Sequence) -> list[np.ndarray]:
    """Per-trial amplitudes (pA, float64) of a CurrentSource, each of the shape of the source's ``amplitude`` and
    passing the source's own checks (finite values)."""
    src = source_of(network, "set_currents", source, CurrentSource)
    _check_count("set_currents", "amplitudes", len(values), trial_ids.size)
    out = []
    for b, amp in enumerate(values):
        arr = np.asarray(amp, dtype=np.float64)
        if arr.shape != src.amplitude.shape:
            raise ValueError(f"set_currents({source!r}) trial {b}: amplitude has shape {arr.shape}; it must have "
                             f"the source's shape {src.amplitude.shape}")
        src.replace(amplitude=arr)  # the source's own checks (finite values)
        out.append(arr)
    return out
