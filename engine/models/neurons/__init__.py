"""Neuron models, one module each (as NEST's ``models/`` folder), and the registry the rest of the engine reads.

Each module holds the model's equations and parameter table (its docstring), its
:class:`~engine.models.spec.NeuronModel` spec ``MODEL`` and its compiled ``update``. Adding a model is a module here, its entry in :data:`NEURON_MODELS` below
(or a call of :func:`register_neuron_model`), and, when it brings a new update, its branch in the compiled dispatch
list :mod:`engine.kernels.neurons`: nothing else in the engine names a model.
"""
from __future__ import annotations

from engine.models.neurons import iaf_psc_delta, iaf_psc_exp
from engine.models.neurons.lif import propagators
from engine.models.spec import NeuronModel

__all__ = ["NEURON_MODELS", "NeuronModel", "neuron_model", "propagators", "register_neuron_model"]

#: The registered neuron models by name.
NEURON_MODELS: dict[str, NeuronModel] = {m.name: m for m in (iaf_psc_exp.MODEL, iaf_psc_delta.MODEL)}


def neuron_model(name: str, owner: str = "Population") -> NeuronModel:
    """The spec of the model called ``name``, or a ValueError that lists the registered models."""
    try:
        return NEURON_MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"{owner}: model = {name!r} is not allowed; choose one of {tuple(NEURON_MODELS)}") from None


def register_neuron_model(model: NeuronModel) -> NeuronModel:
    """Make ``model`` available by its name to populations, model files, the estimate and the simulators.

    Its ``kernel`` must be one of the compiled dispatch list's updates (a model that needs a new update adds it
    there); registering another model under a taken name is refused."""
    if not isinstance(model, NeuronModel):
        raise TypeError(f"register_neuron_model: model = {model!r} must be a NeuronModel")
    if model.name in NEURON_MODELS and NEURON_MODELS[model.name] is not model:
        raise ValueError(f"register_neuron_model: a model called {model.name!r} is registered already")
    codes = {m.kernel for m in NEURON_MODELS.values()}  # the dispatch list's codes (tests/engine/models checks)
    if model.kernel not in codes:
        raise ValueError(f"register_neuron_model: {model.name!r} has kernel = {model.kernel!r}; the compiled dispatch "
                         f"list (engine.kernels.neurons) has {sorted(codes)}")
    NEURON_MODELS[model.name] = model
    return model
