"""pond's simulation engine: model description, network build, Numba simulation kernels, monitors and spike export.

Knows nothing of reservoirs, readouts or adapters. Units: ms, mV, pA, pF, Hz (see :mod:`engine.network.description`).
The layers, lowest first: :mod:`engine.kernels` (compiled code), :mod:`engine.models` (one module per neuron and
synapse model), :mod:`engine.network` (the description), :mod:`engine.build`, :mod:`engine.run`,
:mod:`engine.parallel` and :mod:`engine.io`; ``ARCHITECTURE.md`` at the repository's root describes them.

Public names are loaded on first use, so importing a light submodule (``engine.io.spikefile``) does not load Numba
kernels. The modules that moved into the layers in pond 0.9 (``engine.model``, ``engine.connectivity``,
``engine.simulator``, ...) still import under their old names, with a ``DeprecationWarning`` naming the new one.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

_DESCRIPTION = "engine.network.description"
_PUBLIC = {
    **{name: _DESCRIPTION for name in ("CurrentSource", "Network", "PoissonSource", "Population", "Projection",
                                       "RateMonitor", "SpikeMonitor", "SpikeSource", "StateMonitor")},
    **{name: "engine.network.connectivity" for name in (
        "AllToAll", "OneToOne", "FixedProbability", "FixedInDegree", "FixedOutDegree", "FixedTotalNumber",
        "DistanceDependent", "Explicit")},
    **{name: "engine.network.distributions" for name in ("Uniform", "Normal", "LogNormal", "Gamma")},
    "TsodyksMarkram": "engine.models.synapses", "StaticSynapse": "engine.models.synapses",
    "estimate_memory": "engine.build.estimate",
    "RunStats": "engine.run.simulator", "Simulator": "engine.run.simulator", "Interrupted": "engine.interrupt",
    "EventSimulator": "engine.run.event_driven",
}
__all__ = sorted(_PUBLIC)

#: Modules that moved into the layers (old name -> new name).
MOVED = {
    "engine.model": _DESCRIPTION,
    "engine.connectivity": "engine.network.connectivity",
    "engine.distributions": "engine.network.distributions",
    "engine.grid": "engine.network.grid",
    "engine.standard_models": "engine.network.library",
    "engine.neuron_models": "engine.models.neurons",
    "engine.synapse_models": "engine.models.synapses",
    "engine.estimate": "engine.build.estimate",
    "engine.memory": "engine.build.memory",
    "engine.simulator": "engine.run.simulator",
    "engine.event_driven": "engine.run.event_driven",
    "engine.initial_state": "engine.run.initial_state",
    "engine.mpi": "engine.parallel.mpi",
    "engine.distributed": "engine.parallel.distributed",
    "engine.spikefile": "engine.io.spikefile",
    "engine.nwb": "engine.io.nwb",
    "engine.neo_export": "engine.io.neo_export",
    "engine.modelfile": "engine.io.modelfile",
    "engine.brian2_bridge": "engine.io.brian2_bridge",
    "engine.streams": "engine.random",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a moved module's old name as a view of the new module (its names, not a second copy), with a
    ``DeprecationWarning`` that names where it lives now."""

    def find_spec(self, fullname, path=None, target=None):
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        new = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}; import it from there (or the names from 'engine')",
                      DeprecationWarning, stacklevel=2)
        target = importlib.import_module(new)
        module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})
        module.__doc__ = f"Moved to :mod:`{new}`."


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
