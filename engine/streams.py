"""Named random streams: every random quantity of a model is keyed by the name of what it belongs to.

A stream id is a 62-bit hash of ``(kind, name, quantity)``, e.g. ``("projection", "E_to_I", "weight")``. Adding,
removing or reordering one projection or population therefore leaves every other one's draws unchanged (positional
ids would shift them all). Stream ids feed the counter-based generator of :mod:`engine.kernels.rng` together with
the network's seed, the trial id and an element index.
"""
from __future__ import annotations

import hashlib


def name_hash(text: str) -> int:
    """A 64-bit hash of ``text`` that is the same on every machine and Python version (BLAKE2b of its UTF-8 bytes,
    little-endian; not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def named_stream(kind: str, name: str, quantity: str) -> int:
    """The stream id of ``quantity`` of the ``kind`` object called ``name`` (an int in [0, 2**62))."""
    return name_hash(f"{kind}\x00{name}\x00{quantity}") >> 2
