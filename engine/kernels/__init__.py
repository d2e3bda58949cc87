"""Numba kernels of the engine. Each module imports only numpy and numba; kernels take arrays and scalars only.

Their disk cache is keyed by the sources of every module here (:mod:`engine.kernels.cache`): kernels inline each
other's functions, and an edit of one module must not leave machine code compiled from its old version.
"""
import os

from engine.kernels.cache import cover

cover(os.path.dirname(os.path.abspath(__file__)))
