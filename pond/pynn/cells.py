"""The cells of a population, view or assembly as (population, indices) pairs: what projections, current sources and
the translation into an engine network need from pond.pynn's population classes (PyNN's base classes suffice)."""
from __future__ import annotations

import numpy as np
from pyNN import common


def cells_by_population(cells) -> list[tuple[common.Population, np.ndarray]]:
    """``cells`` (Population, PopulationView, Assembly or iterable of IDs) as ``(population, indices)`` pairs."""
    if isinstance(cells, common.Population):
        return [(cells, np.arange(cells.size))]
    if isinstance(cells, common.PopulationView):
        return [(cells.grandparent, np.asarray(cells.index_in_grandparent(np.arange(cells.size))))]
    if isinstance(cells, common.Assembly):
        return [pair for p in cells.populations for pair in cells_by_population(p)]
    groups: dict = {}
    for cell in cells:
        groups.setdefault(cell.parent, []).append(cell)
    return [(pop, np.asarray(pop.id_to_index(np.array(ids)), dtype=np.int64)) for pop, ids in groups.items()]
