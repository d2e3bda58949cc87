"""PyNN's procedural API (``create``, ``connect``, ``record``, ``set``) on pond.pynn's classes."""
from pyNN import common

from pond.pynn import simulator
from pond.pynn.populations import Population
from pond.pynn.projections import FixedProbabilityConnector, Projection
from pond.pynn.standardmodels import StaticSynapse

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
set = common.set
record = common.build_record(simulator)


def record_v(source, filename):
    """Record the membrane potential of ``source`` to ``filename`` (written by ``end()``)."""
    return record(["v"], source, filename)


def record_gsyn(source, filename):
    """Conductances do not exist in pond's current-based neurons: refused by the recorder."""
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
