"""Numba kernels of the engine. Each module imports only numpy, numba, other kernels and (the dispatch lists) the
models' compiled updates; kernels take arrays and scalars only.

Their disk cache is keyed by the sources of every module here and in :mod:`engine.models`
(:mod:`engine.kernels.cache`): kernels inline each other's functions and the models' updates, and an edit of one
module must not leave machine code compiled from its old version.
"""
import os

from engine.kernels.cache import cover

_HERE = os.path.dirname(os.path.abspath(__file__))
cover(_HERE, os.path.join(os.path.dirname(_HERE), "models"))
