"""Numba kernels for :mod:`reservoirs` (numpy and numba imports only)."""
