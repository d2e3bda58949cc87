"""The description of a network: what to simulate, never how.

Frozen, validated dataclasses (:mod:`engine.network.description`: ``Network``, ``Population``, ``Projection``,
sources, monitors), connection rules (:mod:`engine.network.connectivity`), value distributions
(:mod:`engine.network.distributions`), the time grid (:mod:`engine.network.grid`) and a library of standard
networks (:mod:`engine.network.library`). Nothing here allocates a synapse or compiles a kernel.
"""
