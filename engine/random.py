"""Counter-based random numbers: the engine's public interface to its random streams.

Every draw is a pure function of ``(seed, a, b, counter)``: :func:`stream_key` hashes a seed and two stream indices
(for example a trial and a channel) into a 64-bit key, and :func:`uniform` returns the ``counter``-th number of that
stream (SplitMix64's output function on a Weyl sequence). No draw depends on which thread makes it, how many draws
other streams made or how a batch is split, which is what makes batch runs bit-reproducible for any thread count.

The three functions are Numba ``njit`` functions: compiled code in the packages above the engine calls them inside its
own kernels, and plain Python can call them too. :func:`named_seed` derives an independent
seed for a named use from a user's seed, so two parts of a model seeded with the same number draw from unrelated
streams.

Named streams: every random quantity of a model is keyed by the name of what it belongs to. A stream id
(:func:`named_stream`) is a 62-bit hash of ``(kind, name, quantity)``, e.g. ``("projection", "E_to_I", "weight")``,
so adding, removing or reordering one projection or population leaves every other one's draws unchanged
(positional ids would shift them all).

Examples
--------
>>> from engine.random import stream_key, uniform
>>> key = stream_key(1, 2, 3)
>>> u = uniform(key, 0)
>>> 0.0 <= u < 1.0 and u == uniform(stream_key(1, 2, 3), 0)
True
"""
from __future__ import annotations

import hashlib

import numpy as np

from engine.kernels.rng import mix64, stream_key, uniform, uniform_open

__all__ = ["mix64", "stream_key", "uniform", "uniform_open", "named_seed", "named_stream", "name_hash"]

_MASK63 = (1 << 63) - 1


def name_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same on every machine and Python version (BLAKE2b of its UTF-8 bytes,
    little-endian; not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def named_stream(kind: str, name: str, quantity: str) -> int:
    """The stream id of ``quantity`` of the ``kind`` object called ``name`` (an int in [0, 2**62))."""
    return name_hash(f"{kind}\x00{name}\x00{quantity}") >> 2


def named_seed(seed: int, name: str) -> int:
    """An independent seed in ``[0, 2**63)`` for the use called ``name``, derived from ``seed``.

    Parameters
    ----------
    seed : int
        The user's seed, >= 0.
    name : str
        What the streams are for (e.g. ``"reservoirs.adapters.RateEncoder"``); the same ``(seed, name)`` always gives
        the same result, on every machine and Python version (BLAKE2b of the UTF-8 name, not Python's ``hash``).

    Returns
    -------
    int
        Pass it as the ``seed`` of :func:`stream_key`.
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"named_seed: seed={seed!r} must be an int in [0, 2**63)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"named_seed: name={name!r} must be a non-empty string")
    tag = name_hash(name)
    return int(stream_key(int(seed), tag & _MASK63, tag >> 63)) & _MASK63
