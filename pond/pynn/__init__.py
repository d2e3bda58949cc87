"""pond.pynn: a PyNN backend running on pond's engine. ``import pond.pynn as sim`` instead of ``import pyNN.nest
as sim`` runs a PyNN script on pond.

Supported: ``setup``/``run``/``run_until``/``reset``/``end``; ``Population``, ``PopulationView``, ``Assembly``,
``Projection`` with PyNN's connectors; the cell types ``IF_curr_exp``, ``IF_curr_delta``, ``SpikeSourcePoisson``,
``SpikeSourceArray``; ``StaticSynapse`` and ``TsodyksMarkramSynapse``; ``DCSource`` and ``StepCurrentSource``;
``RandomDistribution`` parameters; recording of spikes, ``v`` (and ``isyn_exc``/``isyn_inh``) to Neo. Everything
else of PyNN's standard library raises :class:`PondNotSupportedError` (a ``NotImplementedError`` and a
``pyNN.errors.NoModelAvailableError``). See :mod:`pond.pynn.simulator` (runs and resets),
:mod:`pond.pynn.projections` (which connectors draw PyNN's connection sets and which pond's) and
:mod:`pond.pynn.standardmodels` (units and model conventions).

Examples
--------
>>> import pond.pynn as sim
>>> _ = sim.setup(timestep=0.1)
>>> cells = sim.Population(2, sim.IF_curr_exp(i_offset=[0.0, 1.0]))
>>> cells.record("spikes")
>>> sim.run(100.0)
100.0
>>> [len(st) for st in cells.get_data().segments[0].spiketrains]
[0, 3]
>>> sim.end()
"""
from pyNN import errors, random, space  # noqa: F401
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.connectors import CSAConnector as DefaultCSAConnector  # noqa: F401
from pyNN.network import Network  # noqa: F401
from pyNN.parameters import ArrayParameter, ParameterSpace, Sequence  # noqa: F401
from pyNN.random import GSLRNG, NativeRNG, NumpyRNG, RandomDistribution  # noqa: F401
from pyNN.recording import *  # noqa: F401,F403
from pyNN.space import Space  # noqa: F401
from pyNN.standardmodels import StandardCellType, StandardCurrentSource, build_translations  # noqa: F401

from pond.pynn.control import (end, get_current_time, get_max_delay, get_min_delay, get_time_step,  # noqa: F401
                               initialize, num_processes, rank, reset, run, run_for, run_until, setup)
from pond.pynn.populations import Assembly, Population, PopulationView  # noqa: F401
from pond.pynn.procedural_api import connect, create, record, record_gsyn, record_v, set  # noqa: F401
from pond.pynn.projections import (AllToAllConnector, FixedNumberPostConnector,  # noqa: F401
                                   FixedNumberPreConnector, FixedProbabilityConnector, FixedTotalNumberConnector,
                                   OneToOneConnector, Projection)
from pond.pynn.simulator import NestOnlyError, PondNotSupportedError  # noqa: F401
from pond.pynn.standardmodels import *  # noqa: F401,F403

#: Names ``pyNN.nest`` exports that belong to NEST itself, with what they are; pond.pynn refuses them with a
#: :class:`NestOnlyError` (a PondNotSupportedError that is also an AttributeError, so ``hasattr`` says False).
NEST_ONLY = {
    **dict.fromkeys(("nest", "nestml", "state", "cells", "connectors", "conversion", "electrodes", "receptors",
                     "synapses"), "a module or object of PyNN's NEST backend"),
    **dict.fromkeys(("native_cell_type", "native_synapse_type", "native_electrode_type", "NativeCellType",
                     "NativeSynapseType", "NativeElectrodeType", "NestCurrentSource", "NestStandardCurrentSource",
                     "NESTConnectorMixin", "NESTSynapseMixin", "unsupported"),
                    "NEST's own models (pond runs PyNN's standard types only, see pond.pynn.standardmodels)"),
    **dict.fromkeys(("Multimeter", "RecordingDevice", "SpikeDetector"),
                    "a NEST recording device (pond.pynn records with Population.record)"),
    **dict.fromkeys(("make_sli_compatible", "adjust_spike_times_forward", "adjust_spike_times_backward"),
                    "a conversion to NEST's conventions"),
}


def __getattr__(name: str):
    if name in NEST_ONLY:
        raise NestOnlyError(f"pond.pynn has no {name}: it is {NEST_ONLY[name]}, specific to pyNN.nest")
    raise AttributeError(f"module 'pond.pynn' has no attribute {name!r}", name=name)


def list_standard_models() -> list[str]:
    """Names of the standard cell types pond.pynn runs."""
    from pond.pynn.standardmodels import CELL_TYPES

    return [c.__name__ for c in CELL_TYPES if issubclass(c, StandardCellType)]
