"""``StaticSynapse``: a synapse that delivers its weight :math:`w` unchanged at every presynaptic spike, after its
delay (NEST's ``static_synapse``). It has no parameters and no state; the weight's unit is the target model's
(pA for a current jump, mV for a voltage jump)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.models.spec import SynapseModel


@dataclass(frozen=True)
class StaticSynapse(SynapseModel):
    """A synapse that delivers its weight unchanged at every spike (NEST's ``static_synapse``)."""

    name = "static"
