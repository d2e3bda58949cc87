"""Synapse models: what a spike does when it crosses a synapse; the model belongs to the
:class:`~engine.network.description.Projection`.

One module each: :mod:`~engine.models.synapses.static` (the default) and
:mod:`~engine.models.synapses.tsodyks_markram` (short-term plasticity, NEST's ``tsodyks2_synapse``), each a frozen
dataclass of the model's parameters whose class attributes (:class:`~engine.models.spec.SynapseModel`) tell the
builder, the estimate and model files what they need. A dynamic model's per-spike update is a compiled function in
its module, called from the delivery kernel's loops (:mod:`engine.kernels.synapses`).
"""
from __future__ import annotations

from engine.models.spec import SynapseModel
from engine.models.synapses.static import StaticSynapse
from engine.models.synapses.tsodyks_markram import TsodyksMarkram

__all__ = ["SYNAPSE_MODELS", "StaticSynapse", "SynapseModel", "TsodyksMarkram"]

#: The synapse models by the name model files give them.
SYNAPSE_MODELS: dict[str, type] = {cls.name: cls for cls in (StaticSynapse, TsodyksMarkram)}
