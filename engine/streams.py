"""Named random streams: every random quantity of a model is keyed by the name of what it belongs to.

A stream id is a 62-bit hash of ``(kind, name, quantity)``, e.g. ``("projection", "E_to_I", "weight")``. Adding,
removing or reordering one projection or population therefore leaves every other one's draws unchanged (positional
ids would shift them all). Stream ids feed the counter-based generator of :mod:`engine.kernels.rng` together with
the network's seed, the trial id and an element index.
"""
from __future__ import annotations

import hashlib


def named_stream(kind: str, name: str, quantity: str) -> int:
    """The stream id of ``quantity`` of the ``kind`` object called ``name`` (an int in [0, 2**62))."""
    digest = hashlib.blake2b(f"{kind}\x00{name}\x00{quantity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 2
