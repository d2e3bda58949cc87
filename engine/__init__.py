"""pond's simulation engine: model description, network build, Numba simulation kernels, monitors and spike export.

Knows nothing of reservoirs, readouts or adapters. Units: ms, mV, pA, pF, Hz (see :mod:`engine.model`).
Public names are loaded on first use, so importing a light submodule (``engine.spikefile``) does not load Numba
kernels.
"""
import importlib

_PUBLIC = {
    "CurrentSource": "engine.model", "Network": "engine.model", "PoissonSource": "engine.model",
    "Population": "engine.model", "Projection": "engine.model", "RateMonitor": "engine.model",
    "SpikeMonitor": "engine.model", "SpikeSource": "engine.model", "StateMonitor": "engine.model",
    "RunStats": "engine.simulator", "Simulator": "engine.simulator", "Interrupted": "engine.interrupt",
    "EventSimulator": "engine.event_driven",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
