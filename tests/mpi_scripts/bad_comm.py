"""Under ``mpiexec -n 2``: the errors of communicators that do not fit the model, as JSON on rank 0's stdout.

Each case must raise the same error class on every rank (no rank may hang in a collective the other skipped); rank
0 prints ``{case: [error class, message]}``.
"""
from __future__ import annotations

import json
import tempfile

from engine import Network, Population, Simulator, SpikeMonitor


def tiny(n: int) -> Network:
    net = Network(dt=0.1, seed=1)
    net.add(Population("n", n, I_e=400.0), SpikeMonitor("n"))
    return net


def main() -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    out = {}

    def attempt(case, fn):
        try:
            fn()
            out[case] = [None, ""]
        except Exception as e:  # the class and message are what the test checks
            out[case] = [type(e).__name__, str(e)]

    attempt("too_many_ranks", lambda: Simulator(tiny(50), comm=comm))
    attempt("too_many_threads", lambda: Simulator(tiny(100), comm=comm, n_jobs=2))
    attempt("trials", lambda: Simulator(tiny(200), comm=comm, trials=2))
    attempt("not_a_comm", lambda: Simulator(tiny(200), comm="world"))

    def sinks_off_rank0():
        from engine.spikefile import SpikeFileWriter

        sim = Simulator(tiny(200), comm=comm)
        path = f"{tempfile.mkdtemp()}/rank{comm.rank}.h5"
        with SpikeFileWriter(path, {"n": 200}, dt_ms=0.1, duration_ms=1.0, seed=1) as w:
            sim.run(1.0, sinks=[w] if comm.rank == 1 else [])
    attempt("sinks_on_rank1", sinks_off_rank0)
    results = comm.gather(out)
    if comm.rank == 0:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
