"""pond's simulation engine: model description, network build, Numba simulation kernels, monitors and spike export.

Knows nothing of reservoirs, readouts or adapters. Units: ms, mV, pA, pF, Hz (see :mod:`engine.model`).
"""
from engine.model import (CurrentSource, Network, PoissonSource, Population, Projection, RateMonitor, SpikeMonitor,
                          SpikeSource, StateMonitor)
from engine.simulator import RunStats, Simulator

__all__ = ["CurrentSource", "Network", "PoissonSource", "Population", "Projection", "RateMonitor", "RunStats",
           "Simulator", "SpikeMonitor", "SpikeSource", "StateMonitor"]
