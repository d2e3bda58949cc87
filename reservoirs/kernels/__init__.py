"""Numba kernels for :mod:`reservoirs` (numpy, numba and the engine's public counter-based RNG, :mod:`engine.random`)."""
