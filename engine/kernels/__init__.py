"""Numba kernels of the engine. Each module imports only numpy and numba; kernels take arrays and scalars only."""
