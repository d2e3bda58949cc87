"""Under ``mpiexec -n 2``: ranks given different networks or settings refuse together, as JSON on rank 0's stdout.

Each case builds, on rank ``r``, a network or Simulator that differs between the ranks in one thing (issue 25,
critical 1: a population of ``1000 + 100 * rank`` neurons crashed the exchange; a per-rank seed or connection
probability ran silently on a mixture of the descriptions). Every rank must raise the same ValueError, naming what
differs, before building; rank 0 prints ``{case: [error class, message]}`` of every rank.
"""
from __future__ import annotations

import json

from engine import Network, Population, Projection, Simulator, SpikeMonitor
from engine.network.connectivity import FixedProbability


def network(size: int = 1000, seed: int = 1, p: float = 0.1) -> Network:
    net = Network(dt=0.1, seed=seed)
    net.add(Population("n", size, I_e=400.0, V_init=(-65.0, -50.0)),
            Projection("n", "n", FixedProbability(p), weight=50.0, delay=1.0), SpikeMonitor("n"))
    return net


def main() -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    r = comm.rank
    out = {}

    def attempt(case, fn):
        try:
            fn().run(5.0)
            out[case] = [None, ""]
        except Exception as e:  # the class and message are what the test checks
            out[case] = [type(e).__name__, str(e)]

    attempt("size", lambda: Simulator(network(size=1000 + 100 * r), comm=comm))
    attempt("seed", lambda: Simulator(network(seed=1 + r), comm=comm))
    attempt("probability", lambda: Simulator(network(p=0.1 + 0.05 * r), comm=comm))
    attempt("chunk_ms", lambda: Simulator(network(), comm=comm, chunk_ms=10.0 * (r + 1)))
    attempt("same", lambda: Simulator(network(), comm=comm))
    per_rank = comm.gather(out)
    if r == 0:
        print(json.dumps(per_rank))


if __name__ == "__main__":
    main()
