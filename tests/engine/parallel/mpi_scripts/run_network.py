"""Run one small network over the ranks of MPI.COMM_WORLD and save what rank 0 (and every rank) sees.

Usage (from tests/test_mpi.py)::

    mpiexec -n 2 python tests/mpi_scripts/run_network.py NAME DURATION_MS OUT.npz [--threads T] [--spikefile PATH]
        [--record CAPACITY]

Rank 0 writes ``OUT.npz``: the spike steps and ids of every recorded population, the rate counts, the state samples,
the final V and the run's synaptic events; every rank checks that its own spikes equal rank 0's. The networks
(:func:`make`) are shared with the test, which runs them in one process for the reference.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from engine import (Network, PoissonSource, Population, Projection, RateMonitor, Simulator, SpikeMonitor,
                    SpikeSource, StateMonitor)
from engine.network.connectivity import FixedInDegree, FixedProbability, OneToOne
from engine.network.distributions import Normal, Uniform
from engine.network.library import cuba
from engine.models.synapses import TsodyksMarkram


def brunel(seed: int = 4, n: int = 1000) -> Network:
    """Brunel's network A-like regime, small: delta synapses, 1.5 ms delay, a fused Poisson drive per neuron."""
    ne, ni = int(0.8 * n), n - int(0.8 * n)
    kw = dict(model="iaf_psc_delta", tau_m=20.0, E_L=0.0, V_reset=10.0, V_th=20.0, t_ref=2.0, V_init=(0.0, 20.0))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", ne, **kw), Population("inh", ni, **kw),
            PoissonSource("drive_e", ne, rate=18_000.0), PoissonSource("drive_i", ni, rate=18_000.0),
            Projection("drive_e", "exc", OneToOne(), weight=0.1, delay=1.5),
            Projection("drive_i", "inh", OneToOne(), weight=0.1, delay=1.5),
            Projection("exc", "exc", FixedInDegree(ne // 10), weight=0.1, delay=1.5),
            Projection("exc", "inh", FixedInDegree(ne // 10), weight=0.1, delay=1.5),
            Projection("inh", "exc", FixedInDegree(ni // 10), weight=-0.5, delay=1.5),
            Projection("inh", "inh", FixedInDegree(ni // 10), weight=-0.5, delay=1.5),
            SpikeMonitor("exc"), SpikeMonitor("inh"), RateMonitor("exc"))
    return net


def dynamic(seed: int = 6) -> Network:
    """Per-synapse delays, Tsodyks–Markram synapses with drawn parameters, a recorded Poisson source, state samples
    of neurons on both ranks."""
    net = Network(dt=0.1, seed=seed)
    kw = dict(tau_m=20.0, V_th=-50.0, V_reset=-65.0, E_L=-65.0, t_ref=2.0, V_init=(-65.0, -50.0))
    net.add(Population("exc", 800, **kw), Population("inh", 200, **kw), PoissonSource("noise", 200, rate=40.0),
            Projection("noise", "exc", FixedProbability(0.1), weight=Normal(250.0, 50.0), delay=Uniform(0.5, 3.0)),
            Projection("noise", "inh", FixedProbability(0.1), weight=250.0, delay=1.0),
            Projection("exc", "exc", FixedProbability(0.05), weight=300.0, delay=Uniform(0.5, 3.0),
                       synapse=TsodyksMarkram(U=Normal(0.5, 0.25), tau_rec=Normal(800.0, 400.0))),
            Projection("exc", "inh", FixedProbability(0.05), weight=300.0, delay=Uniform(0.5, 3.0),
                       synapse=TsodyksMarkram(U=0.05, tau_rec=125.0, tau_fac=1200.0)),
            Projection("inh", "exc", FixedProbability(0.1), weight=-600.0, delay=Uniform(0.5, 3.0)),
            SpikeMonitor("exc"), SpikeMonitor("inh"), SpikeMonitor("noise"), RateMonitor("inh"),
            StateMonitor("exc", ["V", "I_ex"], indices=[0, 300, 799]))
    return net


def static_delays(seed: int = 7) -> Network:
    """Per-synapse delays with static synapses only (the run queue)."""
    net = Network(dt=0.1, seed=seed)
    kw = dict(tau_m=20.0, V_th=-50.0, V_reset=-65.0, E_L=-65.0, t_ref=2.0, V_init=(-65.0, -50.0))
    net.add(Population("exc", 800, **kw), Population("inh", 200, **kw), PoissonSource("noise", 200, rate=40.0),
            Projection("noise", "exc", FixedProbability(0.1), weight=Normal(250.0, 50.0), delay=Uniform(0.5, 3.0)),
            Projection("noise", "inh", FixedProbability(0.1), weight=250.0, delay=1.0),
            Projection("exc", "exc", FixedProbability(0.05), weight=Uniform(100.0, 250.0), delay=Uniform(0.5, 3.0)),
            Projection("exc", "inh", FixedProbability(0.05), weight=200.0, delay=Uniform(0.5, 3.0)),
            Projection("inh", "exc", FixedProbability(0.1), weight=-600.0, delay=Uniform(0.5, 3.0)),
            SpikeMonitor("exc"), SpikeMonitor("inh"))
    return net


def generators(seed: int = 8) -> Network:
    """A recorded spike generator whose channels (spread over both ranks' blocks) fire up to three times in one
    step, beside recorded Poisson sources, one at 3 kHz whose channels often spike several times in one step (one
    buffer entry of multiplicity m; a generator's same-step spikes are separate entries): the exchange's generator
    section and spike multiplicities."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(1, 600, 3000)
    channels = rng.integers(0, 300, 3000)
    times = np.concatenate([steps, steps[:400], steps[:100]]) / 10.0  # the same channel and step two or three times
    channels = np.concatenate([channels, channels[:400], channels[:100]])
    net = Network(dt=0.1, seed=seed)
    kw = dict(tau_m=20.0, V_th=-50.0, V_reset=-65.0, E_L=-65.0, t_ref=2.0, V_init=(-65.0, -55.0))
    net.add(Population("exc", 800, **kw), Population("inh", 200, **kw), PoissonSource("noise", 200, rate=40.0),
            SpikeSource("gen", 300, times=times, indices=channels), PoissonSource("burst", 100, rate=3000.0),
            Projection("gen", "exc", FixedProbability(0.05), weight=300.0, delay=1.0),
            Projection("noise", "inh", FixedProbability(0.1), weight=250.0, delay=1.0),
            Projection("exc", "inh", FixedProbability(0.05), weight=200.0, delay=1.5),
            Projection("inh", "exc", FixedProbability(0.1), weight=-400.0, delay=1.5),
            SpikeMonitor("exc"), SpikeMonitor("inh"), SpikeMonitor("gen"), SpikeMonitor("noise"), SpikeMonitor("burst"),
            RateMonitor("gen"))
    return net


NETWORKS = {"cuba": lambda: cuba(seed=3, scale=0.25), "brunel": brunel, "dynamic": dynamic,
            "static_delays": static_delays, "generators": generators}


def results(sim: Simulator) -> dict:
    """Everything the comparison looks at, as arrays."""
    net = sim.network
    out = {}
    for name in sorted({m.source for m in net.monitors if isinstance(m, SpikeMonitor)}):
        out[f"steps_{name}"], out[f"ids_{name}"] = sim.spike_steps(name)
    for name in sorted({m.target for m in net.monitors if isinstance(m, RateMonitor)}):
        out[f"rate_{name}"] = sim.spike_counts(name)
    for m in net.monitors:
        if isinstance(m, StateMonitor):
            for v in m.variables:
                out[f"state_{m.target}_{v}"] = sim.state(m.target, v)[1]
    out["V"] = sim.V
    out["events"] = np.array(sim.last_run.synaptic_events)
    return out


def main(argv: list[str]) -> None:
    from mpi4py import MPI

    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(NETWORKS))
    ap.add_argument("duration", type=float)
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--spikefile", default=None)
    ap.add_argument("--record", type=int, default=None, help="spike record capacity: small, it fills and drains")
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    if args.record is not None:
        from engine.run.clock import ClockSimulator

        ClockSimulator._MIN_RECORD_CAPACITY = args.record
    sim = Simulator(NETWORKS[args.name](), comm=comm, n_jobs=args.threads)
    sinks = []
    if args.spikefile and comm.rank == 0:
        from engine.io.spikefile import SpikeFileWriter

        net = sim.network
        sizes = {m.source: net.get(m.source).size for m in net.monitors if isinstance(m, SpikeMonitor)}
        sinks = [SpikeFileWriter(args.spikefile, sizes, dt_ms=net.dt, duration_ms=args.duration, seed=net.seed,
                                 flush_interval_s=0.0)]
    try:
        sim.run(args.duration / 2, sinks=sinks)
        sim.run(args.duration / 2, sinks=sinks)  # two runs: the second continues where the first ended
    finally:
        for sink in sinks:
            sink.close()
    res = results(sim)
    mine = np.concatenate([res[k] for k in sorted(res) if k.startswith(("steps_", "ids_"))])
    first = comm.bcast(mine if comm.rank == 0 else None)
    assert np.array_equal(mine, first), f"rank {comm.rank} recorded other spikes than rank 0"
    reports = comm.gather(sim.memory_report())
    if comm.rank == 0:
        np.savez(args.out, memory=json.dumps(reports), **res)


if __name__ == "__main__":
    main(sys.argv[1:])
